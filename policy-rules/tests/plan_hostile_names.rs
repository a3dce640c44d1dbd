//! Never a Deny broader than the event (issue 9, class D), property-tested end to end: generated
//! events whose S3 keys and IAM names hold `*`, `?`, `$`, `{`, `}` and `/` go through `analyse`,
//! `decide` and `plan`, and the evaluator checks the written document: it denies each action on
//! each exact resource the event touched, and none of the generated neighbours (the key with a
//! suffix or prefix, without its special characters, a sibling under the same prefix, another
//! bucket). INVARIANT (no-star-deny): no statement but the revoke-older-sessions one has `*` as a
//! resource.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use policy_rules::catalog::Catalog;
use policy_rules::decision::{decide, CallerFacts};
use policy_rules::evaluate::{evaluate, Answer, Policies, Request, RequestContext};
use policy_rules::event::parse_document;
use policy_rules::mapping::analyse;
use policy_rules::planner::{plan, Input, Outcome, Plan, REVOKE_SID};
use policy_rules::policy::{PolicyDocument, Scope};
use policy_rules::rules::RuleSet;
use proptest::prelude::*;
use std::sync::OnceLock;

const OBJECT_RULES: &str = r#"version = 1
[allow_sets.admins]
groups = ["Administrators"]
[[rule]]
id = "objects"
allow = ["admins"]
[rule.match]
sources = ["s3.amazonaws.com"]
actions = ["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectAcl"]
"#;

fn catalog() -> &'static Catalog {
    static C: OnceLock<Catalog> = OnceLock::new();
    C.get_or_init(|| Catalog::builtin().unwrap())
}

const USER: &str = r#""userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/mallory","accountId":"111122223333","userName":"mallory"}"#;

fn plan_of(event: &str, rules: &RuleSet) -> Outcome {
    let developers = ["Developers".to_owned()];
    let mut out = None;
    parse_document(event.as_bytes(), |_, e| {
        let e = e.unwrap();
        let analysis = analyse(&e, catalog());
        let decision = decide(
            &e,
            &analysis,
            rules,
            CallerFacts {
                groups: Some(&developers),
            },
        );
        out = Some(plan(&Input {
            event: &e,
            analysis: &analysis,
            decision: &decision,
            rules,
            catalog: catalog(),
            snapshot: None,
            held: None,
            before: None,
        }));
    });
    out.unwrap()
}

fn denies(p: &Plan, action: &str, resource: &str) -> bool {
    let doc = PolicyDocument::from_value(&p.policy_document).unwrap();
    let allow_all =
        PolicyDocument::parse(r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#)
            .unwrap();
    let ctx = RequestContext::complete();
    let req = Request {
        principal_arn: &p.target,
        principal_account: "111122223333",
        action,
        resource,
        context: &ctx,
        ..Default::default()
    };
    evaluate(
        &req,
        &Policies {
            identity: &[("allow", &allow_all), ("warden", &doc)],
            boundary: None,
            resource: None,
            ..Default::default()
        },
    )
    .answer
        == Answer::ExplicitDeny
}

fn no_star_resource(p: &Plan) -> Result<(), TestCaseError> {
    let doc = PolicyDocument::from_value(&p.policy_document).unwrap();
    for st in &doc.statements {
        if st.sid.as_deref() == Some(REVOKE_SID) {
            continue;
        }
        match &st.resource {
            Some(Scope::Only(rs)) => {
                prop_assert!(!rs.iter().any(|r| r == "*"), "{:?}", st);
            }
            other => prop_assert!(false, "a statement without a plain Resource: {:?}", other),
        }
    }
    Ok(())
}

/// Keys as hostile as S3 allows: wildcards, variables, escapes, slashes.
fn key() -> impl Strategy<Value = String> {
    "[ab*?${}/.-]{1,10}"
}

/// Keys that differ from `key` but look like it.
fn neighbours(key: &str) -> Vec<String> {
    let mut n = vec![
        format!("{key}x"),
        format!("x{key}"),
        format!("{key}/x"),
        key.replace(['*', '?', '$', '{', '}'], ""),
        key.replace(['*', '?', '$', '{', '}'], "a"),
        key.replace('*', "${*}"),
    ];
    if let Some((dir, _)) = key.rsplit_once('/') {
        n.push(format!("{dir}/other"));
    }
    let mut chars = key.chars();
    chars.next_back();
    n.push(chars.as_str().to_owned());
    n.retain(|x| x != key && !x.is_empty());
    n
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    // Single-object calls: the Deny is on that object exactly.
    #[test]
    fn an_object_deny_covers_the_object_and_no_neighbour(
        key in key(),
        event in prop::sample::select(vec![("PutObject", "s3:PutObject"), ("DeleteObject", "s3:DeleteObject"), ("PutObjectAcl", "s3:PutObjectAcl")]),
    ) {
        let rules = RuleSet::parse("objects.toml", OBJECT_RULES).unwrap();
        let ev = serde_json::json!({
            "eventSource": "s3.amazonaws.com", "eventName": event.0, "eventTime": "2026-11-22T10:00:00Z",
            "awsRegion": "us-east-1", "recipientAccountId": "111122223333",
            "requestParameters": {"bucketName": "data", "key": key},
        })
        .to_string();
        let ev = ev.replacen('{', &format!("{{{USER},"), 1);
        let Outcome::Deny(p) = plan_of(&ev, &rules) else {
            return Err(TestCaseError::fail(format!("no deny for {ev}")));
        };
        no_star_resource(&p)?;
        let arn = format!("arn:aws:s3:::data/{key}");
        prop_assert!(denies(&p, event.1, &arn), "{} on {} not denied: {}", event.1, arn, p.policy_document);
        for n in neighbours(&key) {
            let other = format!("arn:aws:s3:::data/{n}");
            prop_assert!(!denies(&p, event.1, &other), "neighbour {} denied by {}", other, p.policy_document);
        }
        prop_assert!(!denies(&p, event.1, &format!("arn:aws:s3:::data2/{key}")), "{}", ev);
        prop_assert!(!denies(&p, event.1, "arn:aws:s3:::data"));
        prop_assert!(!denies(&p, "s3:GetObject", &arn));
    }

    // DeleteObjects: each key from the request, nothing else; no keys logged: no Deny at all.
    #[test]
    fn delete_objects_denies_exactly_its_keys(
        keys in proptest::collection::vec(key(), 0..4),
        as_single_object in any::<bool>(),
    ) {
        let rules = RuleSet::parse("objects.toml", OBJECT_RULES).unwrap();
        let objects: Vec<serde_json::Value> = keys.iter().map(|k| serde_json::json!({"Key": k})).collect();
        let delete = match (as_single_object, objects.as_slice()) {
            (true, [one]) => serde_json::json!({"Object": one}),
            (_, []) => serde_json::json!(""),
            _ => serde_json::json!({"Object": objects}),
        };
        let ev = serde_json::json!({
            "eventSource": "s3.amazonaws.com", "eventName": "DeleteObjects", "eventTime": "2026-11-22T10:00:00Z",
            "awsRegion": "us-east-1", "recipientAccountId": "111122223333",
            "requestParameters": {"bucketName": "data", "delete": delete},
        })
        .to_string();
        let ev = ev.replacen('{', &format!("{{{USER},"), 1);
        match plan_of(&ev, &rules) {
            Outcome::Deny(p) => {
                prop_assert!(!keys.is_empty(), "a deny without keys: {}", p.policy_document);
                no_star_resource(&p)?;
                for k in &keys {
                    prop_assert!(denies(&p, "s3:DeleteObject", &format!("arn:aws:s3:::data/{k}")), "{}", ev);
                }
                for k in &keys {
                    for n in neighbours(k).into_iter().filter(|n| !keys.contains(n)) {
                        let other = format!("arn:aws:s3:::data/{n}");
                        prop_assert!(!denies(&p, "s3:DeleteObject", &other), "neighbour {} denied by {}", other, p.policy_document);
                    }
                }
            }
            Outcome::Alert { reasons, .. } => {
                prop_assert!(keys.is_empty(), "keys {:?} but an alert: {:?}", keys, reasons);
                prop_assert!(reasons.iter().any(|r| r.contains("no object keys")), "{:?}", reasons);
            }
            Outcome::Nothing => prop_assert!(false, "nothing planned for {}", ev),
        }
    }

    // IAM names: a name IAM could not hold never becomes a Deny (it names no principal); a real
    // name is denied at any path and no other name.
    #[test]
    fn an_iam_name_deny_covers_that_name_only(
        name in prop_oneof!["[a-zA-Z0-9+=,.@_-]{1,8}", "[a-b*?${}/]{1,6}"],
    ) {
        let rules = RuleSet::default_pack().unwrap();
        let ev = serde_json::json!({
            "eventSource": "iam.amazonaws.com", "eventName": "AttachUserPolicy", "eventTime": "2026-11-22T10:00:00Z",
            "awsRegion": "us-east-1", "recipientAccountId": "111122223333",
            "requestParameters": {"userName": name, "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
        })
        .to_string();
        let ev = ev.replacen('{', &format!("{{{USER},"), 1);
        let valid = name.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
        match plan_of(&ev, &rules) {
            Outcome::Deny(p) => {
                prop_assert!(valid, "a deny for the impossible name {}: {}", name, p.policy_document);
                no_star_resource(&p)?;
                let a = "iam:AttachUserPolicy";
                prop_assert!(denies(&p, a, &format!("arn:aws:iam::111122223333:user/{name}")), "{}", ev);
                prop_assert!(denies(&p, a, &format!("arn:aws:iam::111122223333:user/ops/{name}")), "{}", ev);
                for n in [format!("{name}x"), format!("x{name}")] {
                    prop_assert!(!denies(&p, a, &format!("arn:aws:iam::111122223333:user/{n}")), "{}", ev);
                    prop_assert!(!denies(&p, a, &format!("arn:aws:iam::111122223333:user/ops/{n}")), "{}", ev);
                }
            }
            other => prop_assert!(!valid, "no deny for the valid name {}: {:?}", name, other),
        }
    }
}
