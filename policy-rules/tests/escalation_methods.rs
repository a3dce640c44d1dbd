//! Every method of the public IAM privilege-escalation catalogues (Rhino Security Labs' 21 methods
//! and the later additions; `shared/guide/escalation.md`) run through the decision and the planner
//! with the default rule pack, by a non-admin (`mallory`, in `Developers` only) passing a privileged
//! role (a break-glass role) where the method passes one.
//!
//! The table records exactly what Warden does for each: the outcome (`deny` or `alert`; never
//! nothing, which is `ignore` or `unmapped`), the rule that decided, and the undo calls it plans (an
//! empty list is "no undo": the test prints why). A change in any row is a deliberate change to this
//! table. Run with `--nocapture` to see the table.
#![allow(
    clippy::print_stderr,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use policy_rules::catalog::Catalog;
use policy_rules::decision::{decide, triage, CallerFacts, Verdict};
use policy_rules::event::parse_document;
use policy_rules::mapping::analyse;
use policy_rules::planner::{plan, Input, Outcome};
use policy_rules::rules::RuleSet;
use policy_rules::snapshot::Snapshot;
use serde_json::{json, Value};

/// A break-glass role: always in the privileged set.
const PRIVILEGED: &str = "arn:aws:iam::111122223333:role/break-glass-admin";
const PROFILE: &str = "arn:aws:iam::111122223333:instance-profile/admin-profile";
/// The boundary mallory and role `app` had before each method (the undo puts it back).
const BOUNDARY: &str = "arn:aws:iam::111122223333:policy/DevBoundary";
/// Role `app`'s inline guard (a Deny) before each method.
const GUARD: &str = "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Deny\",\"Action\":\"s3:*\",\"Resource\":\"arn:aws:s3:::payments-data/*\"}}";
const POLICY: &str = "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}}";

struct Method {
    /// The method, as the catalogues name it.
    name: &'static str,
    source: &'static str,
    event: &'static str,
    params: Value,
    response: Value,
    /// What Warden does today.
    outcome: &'static str,
    rule: &'static str,
    undo: &'static [&'static str],
}

#[allow(clippy::too_many_lines)]
#[rustfmt::skip]
fn methods() -> Vec<Method> {
    let m = |name,
             source: &'static str,
             event,
             params: Value,
             response: Value,
             outcome,
             rule,
             undo: &'static [&'static str]| Method {
        name,
        source,
        event,
        params,
        response,
        outcome,
        rule,
        undo,
    };
    let iam = "iam.amazonaws.com";
    let admin = "arn:aws:iam::aws:policy/AdministratorAccess";
    let dev_policy = "arn:aws:iam::111122223333:policy/dev";
    vec![
        // Changing one's own (or a reachable principal's) permissions directly.
        m("attach a managed policy to a user", iam, "AttachUserPolicy", json!({"userName": "mallory", "policyArn": admin}), Value::Null, "deny", "iam-writes", &["iam:DetachUserPolicy"]),
        m("attach a managed policy to a group", iam, "AttachGroupPolicy", json!({"groupName": "Developers", "policyArn": admin}), Value::Null, "deny", "iam-writes", &["iam:DetachGroupPolicy"]),
        m("attach a managed policy to a role", iam, "AttachRolePolicy", json!({"roleName": "app", "policyArn": admin}), Value::Null, "deny", "iam-writes", &["iam:DetachRolePolicy"]),
        m("write a user's inline policy", iam, "PutUserPolicy", json!({"userName": "mallory", "policyName": "x", "policyDocument": POLICY}), Value::Null, "deny", "iam-writes", &["iam:DeleteUserPolicy"]),
        m("write a group's inline policy", iam, "PutGroupPolicy", json!({"groupName": "Developers", "policyName": "x", "policyDocument": POLICY}), Value::Null, "deny", "iam-writes", &["iam:DeleteGroupPolicy"]),
        m("write a role's inline policy", iam, "PutRolePolicy", json!({"roleName": "app", "policyName": "x", "policyDocument": POLICY}), Value::Null, "deny", "iam-writes", &["iam:DeleteRolePolicy"]),
        m("delete a role's inline guard", iam, "DeleteRolePolicy", json!({"roleName": "app", "policyName": "guard"}), Value::Null, "deny", "iam-writes", &["iam:PutRolePolicy"]),
        m("detach a managed guard from a role", iam, "DetachRolePolicy", json!({"roleName": "app", "policyArn": "arn:aws:iam::111122223333:policy/guard"}), Value::Null, "deny", "iam-writes", &[]),
        m("new default version of an attached policy", iam, "CreatePolicyVersion", json!({"policyArn": dev_policy, "policyDocument": POLICY, "setAsDefault": true}), json!({"policyVersion": {"versionId": "v2", "isDefaultVersion": true}}), "deny", "iam-writes", &[]),
        m("switch to an older permissive version", iam, "SetDefaultPolicyVersion", json!({"policyArn": dev_policy, "versionId": "v1"}), Value::Null, "deny", "iam-writes", &[]),
        m("join a more privileged group", iam, "AddUserToGroup", json!({"groupName": "Administrators", "userName": "mallory"}), Value::Null, "deny", "iam-writes", &["iam:RemoveUserFromGroup"]),
        m("remove a user's permissions boundary", iam, "DeleteUserPermissionsBoundary", json!({"userName": "mallory"}), Value::Null, "deny", "iam-writes", &["iam:PutUserPermissionsBoundary"]),
        m("remove a role's permissions boundary", iam, "DeleteRolePermissionsBoundary", json!({"roleName": "app"}), Value::Null, "deny", "iam-writes", &["iam:PutRolePermissionsBoundary"]),
        m("loosen a user's permissions boundary", iam, "PutUserPermissionsBoundary", json!({"userName": "mallory", "permissionsBoundary": admin}), Value::Null, "deny", "iam-writes", &["iam:PutUserPermissionsBoundary"]),
        m("loosen a role's permissions boundary", iam, "PutRolePermissionsBoundary", json!({"roleName": "app", "permissionsBoundary": admin}), Value::Null, "deny", "iam-writes", &["iam:PutRolePermissionsBoundary"]),
        m("make a role assumable by oneself", iam, "UpdateAssumeRolePolicy", json!({"roleName": "app", "policyDocument": "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::111122223333:user/mallory\"},\"Action\":\"sts:AssumeRole\"}}"}), Value::Null, "deny", "iam-writes", &["iam:UpdateAssumeRolePolicy"]),
        // Taking over another principal's credentials.
        m("access key for another user", iam, "CreateAccessKey", json!({"userName": "alice"}), json!({"accessKey": {"userName": "alice", "accessKeyId": "AKIAEXAMPLE", "status": "Active"}}), "deny", "iam-writes", &["iam:UpdateAccessKey"]),
        m("console password for a user without one", iam, "CreateLoginProfile", json!({"userName": "alice", "passwordResetRequired": false}), Value::Null, "deny", "iam-writes", &["iam:DeleteLoginProfile"]),
        m("reset another user's password", iam, "UpdateLoginProfile", json!({"userName": "alice"}), Value::Null, "deny", "iam-writes", &[]),
        m("re-enable a deactivated key", iam, "UpdateAccessKey", json!({"userName": "alice", "accessKeyId": "AKIAEXAMPLE", "status": "Active"}), Value::Null, "deny", "iam-writes", &["iam:UpdateAccessKey"]),
        // Passing a privileged role to something one controls.
        m("Lambda: new function with a role", "lambda.amazonaws.com", "CreateFunction20150331", json!({"functionName": "f", "role": PRIVILEGED, "runtime": "python3.12"}), Value::Null, "deny", "privileged-role-passed", &[]),
        m("Lambda: give an existing function a role", "lambda.amazonaws.com", "UpdateFunctionConfiguration20150331v2", json!({"functionName": "f", "role": PRIVILEGED}), Value::Null, "deny", "privileged-role-passed", &[]),
        m("Lambda: new trigger for a function (event source mapping)", "lambda.amazonaws.com", "CreateEventSourceMapping20150331", json!({"functionName": "f", "eventSourceArn": "arn:aws:dynamodb:us-east-1:111122223333:table/t/stream/x"}), Value::Null, "alert", "code-runs-as-a-role", &[]),
        m("Lambda: let someone else invoke a function", "lambda.amazonaws.com", "AddPermission20150331v2", json!({"functionName": "f", "action": "lambda:InvokeFunction", "principal": "*", "statementId": "s"}), Value::Null, "alert", "code-runs-as-a-role", &[]),
        m("Lambda: new code for a function with a role", "lambda.amazonaws.com", "UpdateFunctionCode20150331v2", json!({"functionName": "f"}), json!({"role": PRIVILEGED}), "alert", "code-runs-as-a-role", &[]),
        m("Lambda: a layer added to a function", "lambda.amazonaws.com", "UpdateFunctionConfiguration20150331v2", json!({"functionName": "f", "layers": ["arn:aws:lambda:us-east-1:999999999999:layer:x:1"]}), Value::Null, "alert", "code-runs-as-a-role", &[]),
        m("EC2: new instance with a profile", "ec2.amazonaws.com", "RunInstances", json!({"subnetId": "subnet-1", "instancesSet": {"items": [{"imageId": "ami-1"}]}, "iamInstanceProfile": {"arn": PROFILE}}), json!({"instancesSet": {"items": [{"instanceId": "i-0new"}]}}), "deny", "privileged-role-passed", &[]),
        m("EC2: give an instance a profile", "ec2.amazonaws.com", "AssociateIamInstanceProfile", json!({"instanceId": "i-0abc", "iamInstanceProfile": {"arn": PROFILE}}), Value::Null, "deny", "privileged-role-passed", &[]),
        m("EC2: replace an instance's profile", "ec2.amazonaws.com", "ReplaceIamInstanceProfileAssociation", json!({"associationId": "iip-assoc-1", "iamInstanceProfile": {"name": "admin-profile"}}), Value::Null, "deny", "privileged-role-passed", &[]),
        m("EC2: a privileged role put in a profile", iam, "AddRoleToInstanceProfile", json!({"instanceProfileName": "ip", "roleName": "break-glass-admin"}), Value::Null, "deny", "iam-writes", &[]),
        m("EC2: launch template with a profile", "ec2.amazonaws.com", "CreateLaunchTemplate", json!({"CreateLaunchTemplateRequest": {"LaunchTemplateName": "lt", "LaunchTemplateData": {"IamInstanceProfile": {"Arn": PROFILE}}}}), Value::Null, "deny", "privileged-role-passed", &[]),
        m("EC2: launch template version with a profile", "ec2.amazonaws.com", "CreateLaunchTemplateVersion", json!({"CreateLaunchTemplateVersionRequest": {"LaunchTemplateId": "lt-1", "LaunchTemplateData": {"IamInstanceProfile": {"Name": "admin-profile"}}}}), Value::Null, "deny", "privileged-role-passed", &[]),
        m("Auto Scaling: launch configuration with a profile", "autoscaling.amazonaws.com", "CreateLaunchConfiguration", json!({"launchConfigurationName": "lc", "iamInstanceProfile": "admin-profile"}), Value::Null, "deny", "privileged-role-passed", &[]),
        m("Auto Scaling: group that launches instances", "autoscaling.amazonaws.com", "CreateAutoScalingGroup", json!({"autoScalingGroupName": "g", "launchTemplate": {"launchTemplateId": "lt-1"}}), Value::Null, "alert", "code-runs-as-a-role", &[]),
        m("CloudFormation: new stack with a role", "cloudformation.amazonaws.com", "CreateStack", json!({"stackName": "s", "roleARN": PRIVILEGED, "templateURL": "https://example.com/t.json"}), json!({"stackId": "arn:aws:cloudformation:us-east-1:111122223333:stack/s/1"}), "deny", "privileged-role-passed", &[]),
        m("CloudFormation: update a stack with a role", "cloudformation.amazonaws.com", "UpdateStack", json!({"stackName": "s", "roleARN": PRIVILEGED}), json!({"stackId": "arn:aws:cloudformation:us-east-1:111122223333:stack/s/1"}), "deny", "privileged-role-passed", &[]),
        m("CloudFormation: change set with a role", "cloudformation.amazonaws.com", "CreateChangeSet", json!({"stackName": "s", "changeSetName": "c", "roleARN": PRIVILEGED}), json!({"stackId": "arn:aws:cloudformation:us-east-1:111122223333:stack/s/1", "id": "arn:aws:cloudformation:us-east-1:111122223333:changeSet/c/2"}), "deny", "privileged-role-passed", &[]),
        m("CloudFormation: execute a change set (the stack's role)", "cloudformation.amazonaws.com", "ExecuteChangeSet", json!({"stackName": "s", "changeSetName": "c"}), Value::Null, "alert", "code-runs-as-a-role", &[]),
        m("CloudFormation: loosen a stack policy", "cloudformation.amazonaws.com", "SetStackPolicy", json!({"stackName": "s"}), Value::Null, "alert", "code-runs-as-a-role", &[]),
        m("Glue: dev endpoint with a role", "glue.amazonaws.com", "CreateDevEndpoint", json!({"endpointName": "e", "roleArn": PRIVILEGED, "publicKey": "ssh-rsa AAAA"}), Value::Null, "alert", "privileged-role-passed", &[]),
        m("Glue: SSH key added to a dev endpoint", "glue.amazonaws.com", "UpdateDevEndpoint", json!({"endpointName": "e", "publicKey": "ssh-rsa AAAA"}), Value::Null, "alert", "code-runs-as-a-role", &[]),
        m("Glue: job with a role", "glue.amazonaws.com", "CreateJob", json!({"name": "j", "role": PRIVILEGED, "command": {"name": "glueetl"}}), Value::Null, "deny", "privileged-role-passed", &[]),
        m("Glue: job given a role", "glue.amazonaws.com", "UpdateJob", json!({"jobName": "j", "jobUpdate": {"role": PRIVILEGED}}), Value::Null, "deny", "privileged-role-passed", &[]),
        m("Data Pipeline: definition with roles", "datapipeline.amazonaws.com", "PutPipelineDefinition", json!({"pipelineId": "df-1", "pipelineObjects": [{"id": "Default", "fields": [{"key": "role", "stringValue": "break-glass-admin"}]}]}), Value::Null, "deny", "privileged-role-passed", &[]),
        m("Data Pipeline: activate a pipeline", "datapipeline.amazonaws.com", "ActivatePipeline", json!({"pipelineId": "df-1"}), Value::Null, "alert", "code-runs-as-a-role", &[]),
        m("SageMaker: notebook with a role", "sagemaker.amazonaws.com", "CreateNotebookInstance", json!({"notebookInstanceName": "n", "roleArn": PRIVILEGED, "instanceType": "ml.t3.medium"}), Value::Null, "deny", "privileged-role-passed", &[]),
        m("SageMaker: open an existing notebook", "sagemaker.amazonaws.com", "CreatePresignedNotebookInstanceUrl", json!({"notebookInstanceName": "n"}), Value::Null, "alert", "code-runs-as-a-role", &[]),
        m("SageMaker: training job with a role", "sagemaker.amazonaws.com", "CreateTrainingJob", json!({"trainingJobName": "t", "roleArn": PRIVILEGED}), Value::Null, "deny", "privileged-role-passed", &[]),
        m("SageMaker: processing job with a role", "sagemaker.amazonaws.com", "CreateProcessingJob", json!({"processingJobName": "p", "roleArn": PRIVILEGED}), Value::Null, "deny", "privileged-role-passed", &[]),
        m("CodeBuild: project with a role", "codebuild.amazonaws.com", "CreateProject", json!({"name": "b", "serviceRole": PRIVILEGED}), Value::Null, "deny", "privileged-role-passed", &[]),
        m("CodeBuild: project given a role", "codebuild.amazonaws.com", "UpdateProject", json!({"name": "b", "serviceRole": PRIVILEGED}), Value::Null, "deny", "privileged-role-passed", &[]),
        m("CodeBuild: build with an overridden buildspec", "codebuild.amazonaws.com", "StartBuild", json!({"projectName": "b", "buildspecOverride": "version: 0.2"}), Value::Null, "alert", "code-runs-as-a-role", &[]),
        m("ECS: task definition with a role", "ecs.amazonaws.com", "RegisterTaskDefinition", json!({"family": "web", "taskRoleArn": PRIVILEGED}), json!({"taskDefinition": {"taskDefinitionArn": "arn:aws:ecs:us-east-1:111122223333:task-definition/web:1"}}), "deny", "privileged-role-passed", &[]),
        m("ECS: task run with a role override", "ecs.amazonaws.com", "RunTask", json!({"taskDefinition": "arn:aws:ecs:us-east-1:111122223333:task-definition/web:1", "overrides": {"taskRoleArn": PRIVILEGED}}), Value::Null, "deny", "privileged-role-passed", &[]),
        m("ECS: task run (the definition's role)", "ecs.amazonaws.com", "RunTask", json!({"taskDefinition": "web:1", "cluster": "c"}), Value::Null, "alert", "code-runs-as-a-role", &[]),
        m("ECS: task started (the definition's role)", "ecs.amazonaws.com", "StartTask", json!({"taskDefinition": "web:1", "containerInstances": ["x"]}), Value::Null, "alert", "code-runs-as-a-role", &[]),
        m("SSM: command on an instance (its profile)", "ssm.amazonaws.com", "SendCommand", json!({"documentName": "AWS-RunShellScript", "instanceIds": ["i-0abc"]}), Value::Null, "alert", "code-runs-as-a-role", &[]),
        m("SSM: session on an instance (its profile)", "ssm.amazonaws.com", "StartSession", json!({"target": "i-0abc"}), Value::Null, "alert", "code-runs-as-a-role", &[]),
    ]
}

fn snapshot() -> Snapshot {
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
    Snapshot::parse(
        &json!({
            "UserDetailList": [
                {"UserName": "mallory", "Arn": "arn:aws:iam::111122223333:user/mallory", "PermissionsBoundary": {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": BOUNDARY}, "GroupList": ["Developers"], "UserPolicyList": [], "AttachedManagedPolicies": []},
                {"UserName": "alice", "Arn": "arn:aws:iam::111122223333:user/alice", "GroupList": ["Administrators"], "UserPolicyList": [], "AttachedManagedPolicies": []}
            ],
            "RoleDetailList": [
                {"RoleName": "app", "Arn": "arn:aws:iam::111122223333:role/app", "PermissionsBoundary": {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": BOUNDARY}, "Path": "/", "RolePolicyList": [{"PolicyName": "guard", "PolicyDocument": GUARD}], "AttachedManagedPolicies": [], "AssumeRolePolicyDocument": trust},
                // The profile the EC2 methods pass holds the break-glass role (GAAD lists a
                // profile under the role it holds).
                {"RoleName": "break-glass-admin", "Arn": PRIVILEGED, "Path": "/", "RolePolicyList": [], "AttachedManagedPolicies": [], "AssumeRolePolicyDocument": trust,
                 "InstanceProfileList": [{"InstanceProfileName": "admin-profile", "Arn": PROFILE, "Path": "/", "Roles": [{"RoleName": "break-glass-admin", "Arn": PRIVILEGED}]}]}
            ],
            "GroupDetailList": [
                {"GroupName": "Developers", "Arn": "arn:aws:iam::111122223333:group/Developers", "GroupPolicyList": [], "AttachedManagedPolicies": []}
            ],
            "Policies": []
        })
        .to_string(),
    )
    .unwrap()
}

#[test]
fn every_escalation_method_by_a_non_admin_is_denied_or_alerted() {
    let catalog = Catalog::builtin().unwrap();
    let rules = RuleSet::default_pack().unwrap();
    let snap = snapshot();
    let groups = ["Developers".to_owned()];
    let mut mismatches = Vec::new();
    let mut table = Vec::new();
    let methods = methods();
    for m in &methods {
        let event = json!({
            "eventVersion": "1.09", "eventSource": m.source, "eventName": m.event,
            "eventTime": "2026-11-22T10:00:00Z", "eventID": format!("e-{}", m.event),
            "awsRegion": "us-east-1", "recipientAccountId": "111122223333",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/mallory", "accountId": "111122223333", "userName": "mallory"},
            "requestParameters": m.params, "responseElements": m.response,
        })
        .to_string();
        let mut seen = false;
        parse_document(event.as_bytes(), |_, e| {
            seen = true;
            let e = e.unwrap();
            let mut analysis = analyse(&e, &catalog);
            // The account as a sweep saw it before the method (the undo's before-states, and the
            // role an instance profile held).
            let before = policy_rules::passed_roles::before_from_snapshot(&e, &mut analysis, &snap);
            let decision = decide(
                &e,
                &analysis,
                &rules,
                CallerFacts {
                    groups: Some(&groups),
                },
            );
            // INVARIANT (triage-agrees): a replay that skips the analysis would decide the same.
            if let Some(t) = triage(&e, &catalog, &rules) {
                assert_eq!(t, decision, "{}: triage disagrees", m.name);
            }
            // INVARIANT (escalation-never-silent): no method by a non-admin is ignored or unmapped.
            assert!(
                !matches!(decision.verdict, Verdict::Ignore | Verdict::Unmapped),
                "{}: {:?}",
                m.name,
                decision
            );
            let outcome = plan(&Input {
                event: &e,
                analysis: &analysis,
                decision: &decision,
                rules: &rules,
                catalog: &catalog,
                snapshot: Some(&snap),
                held: None,
                before: Some(&before),
            });
            let (kind, undo, why) = match &outcome {
                Outcome::Deny(p) => (
                    "deny",
                    p.undo.iter().map(|s| s.call.clone()).collect::<Vec<_>>(),
                    p.no_undo.clone(),
                ),
                Outcome::Alert { reasons, undo } => (
                    "alert",
                    undo.iter().map(|s| s.call.clone()).collect(),
                    reasons.last().cloned(),
                ),
                Outcome::Nothing => ("nothing", Vec::new(), None),
            };
            assert!(kind == "deny" || kind == "alert", "{}: {outcome:?}", m.name);
            if kind == "alert" {
                assert!(
                    matches!(&outcome, Outcome::Alert { reasons, .. } if !reasons.is_empty()),
                    "{}: an alert gives its reason",
                    m.name
                );
            }
            let rule = decision.rule.clone().unwrap_or_default();
            if kind != m.outcome || rule != m.rule || undo != m.undo {
                mismatches.push(format!(
                    "{}: want {} by `{}` undo {:?}; got {kind} by `{rule}` undo {undo:?} ({why:?})",
                    m.name, m.outcome, m.rule, m.undo
                ));
            }
            table.push(format!(
                "| {} | `{}` | {kind} | `{rule}` | {} |",
                m.name,
                m.event,
                if undo.is_empty() {
                    format!("none: {}", why.unwrap_or_default())
                } else {
                    undo.join(", ")
                }
            ));
        });
        assert!(seen, "{}: no event", m.name);
    }
    eprintln!("| method | event | outcome | rule | undo |\n|---|---|---|---|---|");
    for row in &table {
        eprintln!("{row}");
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    assert!(methods.len() >= 50, "only {} methods", methods.len());
}
