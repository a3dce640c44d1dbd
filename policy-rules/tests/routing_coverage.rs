//! One source of truth for routing: every event any default rule can match is carried by one of the
//! EventBridge patterns `routing` derives. Checked over every event name of every catalog service
//! (with ordinary request parameters, and with parameters naming Warden's own resources and a
//! privileged role), and over every fixture record.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use policy_rules::catalog::Catalog;
use policy_rules::decision::{decide, CallerFacts, Verdict};
use policy_rules::event::{parse_document, Event};
use policy_rules::mapping::analyse;
use policy_rules::routing::{eventbridge_source, patterns, DETAIL_TYPE};
use policy_rules::rules::RuleSet;
use serde_json::{json, Value};
use std::path::PathBuf;

/// Whether one of our patterns (arrays of strings only) matches the event as EventBridge delivers it.
fn routed(patterns: &[Value], source: &str, name: &str) -> bool {
    patterns.iter().any(|p| {
        let has = |v: &Value, s: &str| v.as_array().is_some_and(|a| a.iter().any(|x| x == s));
        has(&p["source"], &eventbridge_source(source))
            && has(&p["detail-type"], DETAIL_TYPE)
            && has(&p["detail"]["eventSource"], source)
            && has(&p["detail"]["eventName"], name)
    })
}

const ORDINARY: &str = r#"{"userName":"bob","roleName":"app","groupName":"devs","policyArn":"arn:aws:iam::111122223333:policy/p",
 "policyName":"p","instanceProfileName":"ip","bucketName":"b","key":"k","name":"main","functionName":"f",
 "queueUrl":"https://sqs.us-east-1.amazonaws.com/111122223333/q","tableName":"t","topicArn":"arn:aws:sns:us-east-1:111122223333:t",
 "instanceId":"i-1","documentName":"d","target":"i-1"}"#;

const WARDENS: &str = r#"{"userName":"warden-x","roleName":"warden-handler","groupName":"devs","policyArn":"arn:aws:iam::111122223333:policy/warden-p",
 "policyName":"WardenDeny","instanceProfileName":"ip","bucketName":"warden-evidence-1","key":"k","name":"warden-iam-1","rule":"warden-iam-1",
 "functionName":"warden-handler","queueUrl":"https://sqs.us-east-1.amazonaws.com/111122223333/warden-events.fifo","tableName":"warden-state",
 "topicArn":"arn:aws:sns:us-east-1:111122223333:warden-alerts","subscriptionArn":"arn:aws:sns:us-east-1:111122223333:warden-alerts:1",
 "role":"arn:aws:iam::111122223333:role/warden-handler","roleArn":"arn:aws:iam::111122223333:role/warden-handler",
 "roleARN":"arn:aws:iam::111122223333:role/warden-handler","serviceRole":"arn:aws:iam::111122223333:role/warden-handler",
 "taskRoleArn":"arn:aws:iam::111122223333:role/warden-handler","iamInstanceProfile":{"arn":"arn:aws:iam::111122223333:instance-profile/p"}}"#;

fn decided_by_a_rule(e: &Event<'_>, catalog: &Catalog, rules: &RuleSet) -> Option<String> {
    let groups = ["Developers".to_owned()];
    let d = decide(
        e,
        &analyse(e, catalog),
        rules,
        CallerFacts {
            groups: Some(&groups),
        },
    );
    (!matches!(d.verdict, Verdict::Ignore | Verdict::Unmapped)).then(|| d.rule.unwrap_or_default())
}

#[test]
fn every_event_a_default_rule_can_match_is_routed() {
    let catalog = Catalog::builtin().unwrap();
    let rules = RuleSet::default_pack().unwrap();
    let patterns = patterns(&rules, &catalog);
    let mut checked = 0;
    let mut missing = Vec::new();
    for service in catalog.services() {
        let source = catalog.source_for_service(service).unwrap();
        for name in catalog.event_names(service) {
            for params in [ORDINARY, WARDENS] {
                let ev = format!(
                    r#"{{"eventSource":"{source}","eventName":"{name}","awsRegion":"us-east-1","recipientAccountId":"111122223333",
                    "userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/mallory","accountId":"111122223333","userName":"mallory"}},
                    "requestParameters":{params}}}"#
                );
                parse_document(ev.as_bytes(), |_, e| {
                    let e = e.unwrap();
                    if let Some(rule) = decided_by_a_rule(&e, &catalog, &rules) {
                        checked += 1;
                        if !routed(&patterns, source, name) {
                            missing.push(format!("{source} {name} (rule `{rule}`)"));
                        }
                    }
                });
            }
        }
    }
    assert!(missing.is_empty(), "not routed: {missing:?}");
    assert!(checked > 400, "only {checked} events matched a rule");
}

#[test]
fn every_fixture_record_a_rule_decides_is_routed() {
    let catalog = Catalog::builtin().unwrap();
    let rules = RuleSet::default_pack().unwrap();
    let patterns = patterns(&rules, &catalog);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/cloudtrail");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in text.lines() {
            parse_document(line.as_bytes(), |_, e| {
                let Ok(e) = e else { return };
                if decided_by_a_rule(&e, &catalog, &rules).is_some() {
                    checked += 1;
                    assert!(
                        routed(&patterns, e.source(), e.name()),
                        "{} {}",
                        e.source(),
                        e.name()
                    );
                }
            });
        }
    }
    assert!(checked > 20, "only {checked} records");
}

#[test]
fn a_made_up_source_matches_no_pattern() {
    let catalog = Catalog::builtin().unwrap();
    let patterns = patterns(&RuleSet::default_pack().unwrap(), &catalog);
    for p in &patterns {
        let sources = p["source"].as_array().unwrap();
        assert!(
            sources
                .iter()
                .all(|s| s.as_str().unwrap().starts_with("aws.")),
            "{p}"
        );
        assert_eq!(p["detail-type"], json!([DETAIL_TYPE]));
    }
}
