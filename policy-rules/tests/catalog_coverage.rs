//! Resource derivation across the whole catalog: for every action of every catalog service that
//! applies to a specific resource, an event carrying the request parameters AWS's API names for it
//! must yield that resource. The few resource types whose event parameters Warden does not know are
//! listed here on purpose: they map to `unresolved` (and so to `alert`), never to a guess, and a
//! change to that list must be deliberate.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use policy_rules::arn::Arn;
use policy_rules::catalog::Catalog;
use policy_rules::event::parse_document;
use policy_rules::mapping::analyse;
use std::collections::BTreeSet;

const PARAMS: &str = r#"{"userName":"bob","roleName":"app","groupName":"devs","policyArn":"arn:aws:iam::111122223333:policy/p",
 "instanceProfileName":"ip","bucketName":"b","key":"k/o","roleArn":"arn:aws:iam::111122223333:role/app",
 "serialNumber":"arn:aws:iam::111122223333:mfa/bob","openIDConnectProviderArn":"arn:aws:iam::111122223333:oidc-provider/x",
 "sAMLProviderArn":"arn:aws:iam::111122223333:saml-provider/x","name":"main","serverCertificateName":"c",
 "jobId":"j","configId":"c","delegationRequestId":"d",
 "functionName":"f","instanceId":"i-0abc","subnetId":"subnet-1","documentName":"AWS-RunShellScript",
 "queueUrl":"https://sqs.eu-west-1.amazonaws.com/111122223333/q","tableName":"t",
 "topicArn":"arn:aws:sns:eu-west-1:111122223333:t","stackName":"arn:aws:cloudformation:eu-west-1:111122223333:stack/s/1",
 "endpointName":"e","pipelineId":"df-1","notebookInstanceName":"n","processingJobName":"p","trainingJobName":"t",
 "taskDefinition":"arn:aws:ecs:eu-west-1:111122223333:task-definition/web:1","cluster":"c","serviceName":"s"}"#;

/// Resource types whose identifying request parameter is not known to Warden (their events alert).
/// The Auto Scaling types and EC2 launch templates are named by ids AWS makes up, which no request
/// carries.
const KNOWN_UNRESOLVED: [&str; 9] = [
    "access-report",
    "accessgrant",
    "accessgrantslocation",
    "autoScalingGroup",
    "launch-template",
    "launchConfiguration",
    "multiregionaccesspoint",
    "multiregionaccesspointrequestarn",
    "role-template",
];

#[test]
fn every_resource_specific_action_resolves_its_resource() {
    let catalog = Catalog::builtin().unwrap();
    let mut unresolved_types = BTreeSet::new();
    let mut checked = 0;
    for a in catalog.all_actions() {
        if !a.resource_types.iter().any(|r| r.required) {
            continue;
        }
        let (svc, name) = a.name.split_once(':').unwrap();
        let ev = format!(
            r#"{{"eventSource":"{svc}.amazonaws.com","eventName":"{name}","awsRegion":"eu-west-1","recipientAccountId":"111122223333",
            "userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333"}},
            "requestParameters":{PARAMS}}}"#
        );
        parse_document(ev.as_bytes(), |_, e| {
            let e = e.unwrap();
            let analysis = analyse(&e, &catalog);
            // An event name that is an alias of another action (S3) is checked under that action.
            let Some(mapped) = analysis
                .mapping
                .actions()
                .iter()
                .find(|m| m.action == a.name)
            else {
                return;
            };
            checked += 1;
            match &mapped.unresolved {
                Some(_) => unresolved_types.extend(
                    a.resource_types
                        .iter()
                        .filter(|r| r.required)
                        .map(|r| r.name.clone()),
                ),
                None => {
                    for r in &mapped.resources {
                        let arn = Arn::parse(&r.arn)
                            .unwrap_or_else(|| panic!("{}: `{}` is not an ARN", a.name, r.arn));
                        assert!(arn.partition == "aws", "{}: {}", a.name, r.arn);
                        assert!(
                            !r.arn.contains("${"),
                            "{}: unfilled template {}",
                            a.name,
                            r.arn
                        );
                    }
                }
            }
        });
    }
    assert!(checked > 250, "checked only {checked} actions");
    let expected: BTreeSet<String> = KNOWN_UNRESOLVED.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(unresolved_types, expected);
}
