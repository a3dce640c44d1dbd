use super::findings::{Options, INSUFFICIENT_DATA, UNUSED_PERMISSION, UNUSED_ROLE};
use super::usage::{Filter, UsageIndex};
use super::*;
use crate::catalog::Catalog;
use crate::event::parse_document;
use crate::mapping::analyse;
use proptest::prelude::*;
use std::sync::OnceLock;

fn catalog() -> &'static Catalog {
    static C: OnceLock<Catalog> = OnceLock::new();
    C.get_or_init(|| Catalog::reference().unwrap())
}

const ACCOUNT: &str = "111122223333";
const DAY: i64 = 86_400;
/// 2026-11-01T00:00:00Z.
const T0: i64 = 1_793_491_200;

fn event(t: i64, who: &str, source: &str, name: &str, params: &str, error: Option<&str>) -> String {
    let time = coverage::iso(t);
    let (kind, identity) = if let Some(role) = who.strip_prefix("role/") {
        (
            "AssumedRole",
            format!(
                r#""arn":"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/s","accountId":"{ACCOUNT}","sessionContext":{{"sessionIssuer":{{"type":"Role","arn":"arn:aws:iam::{ACCOUNT}:role/{role}","accountId":"{ACCOUNT}","userName":"{role}"}}}}"#
            ),
        )
    } else {
        let user = who.strip_prefix("user/").unwrap_or(who);
        (
            "IAMUser",
            format!(
                r#""arn":"arn:aws:iam::{ACCOUNT}:user/{user}","accountId":"{ACCOUNT}","userName":"{user}""#
            ),
        )
    };
    let error = error
        .map(|e| format!(r#","errorCode":"{e}","errorMessage":"no""#))
        .unwrap_or_default();
    format!(
        r#"{{"eventVersion":"1.08","eventTime":"{time}","eventSource":"{source}","eventName":"{name}","awsRegion":"us-east-1","recipientAccountId":"{ACCOUNT}","userIdentity":{{"type":"{kind}",{identity}}},"requestParameters":{params}{error}}}"#
    )
}

fn index(events: &[String]) -> UsageIndex {
    let mut idx = UsageIndex::default();
    for e in events {
        parse_document(e.as_bytes(), |_, parsed| {
            let ev = parsed.unwrap();
            let a = analyse(&ev, catalog());
            idx.record(&ev, &a, &Filter::default());
        });
    }
    idx
}

/// Events every hour for `days` days, so the history covers them with no gap.
fn heartbeat(days: i64) -> Vec<String> {
    (0..days * 24)
        .map(|h| {
            event(
                T0 + h * 3600,
                "user/monitor",
                "sts.amazonaws.com",
                "GetCallerIdentity",
                "null",
                None,
            )
        })
        .collect()
}

const ACCOUNT_FILE: &str = r#"{
 "UserDetailList": [
  {"UserName":"alice","UserId":"A1","Arn":"arn:aws:iam::111122223333:user/alice","Path":"/","CreateDate":"2020-01-01T00:00:00Z",
   "UserPolicyList":[{"PolicyName":"work","PolicyDocument":{"Version":"2012-10-17","Statement":[
     {"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":["arn:aws:s3:::data/*","arn:aws:s3:::old/*"]},
     {"Effect":"Allow","Action":"ec2:*","Resource":"*"},
     {"Sid":"WardenKeepBreakGlass","Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}]}}],
   "GroupList":[],"AttachedManagedPolicies":[],"Tags":[]},
  {"UserName":"monitor","UserId":"A2","Arn":"arn:aws:iam::111122223333:user/monitor","Path":"/","CreateDate":"2020-01-01T00:00:00Z",
   "UserPolicyList":[],"GroupList":[],"AttachedManagedPolicies":[],"Tags":[]}
 ],
 "GroupDetailList": [],
 "RoleDetailList": [
  {"RoleName":"idle","RoleId":"R1","Arn":"arn:aws:iam::111122223333:role/idle","Path":"/","CreateDate":"2020-01-01T00:00:00Z",
   "AssumeRolePolicyDocument":{"Version":"2012-10-17","Statement":[]},"RolePolicyList":[],"AttachedManagedPolicies":[],"Tags":[],"RoleLastUsed":{}},
  {"RoleName":"app","RoleId":"R2","Arn":"arn:aws:iam::111122223333:role/team/app","Path":"/team/","CreateDate":"2020-01-01T00:00:00Z",
   "AssumeRolePolicyDocument":{"Version":"2012-10-17","Statement":[]},
   "RolePolicyList":[{"PolicyName":"p","PolicyDocument":{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:SendMessage","Resource":"*"}]}}],
   "AttachedManagedPolicies":[],"Tags":[],"RoleLastUsed":{}}
 ],
 "Policies": []
}"#;

fn options(until: i64) -> Options {
    Options {
        windows_days: vec![30],
        until,
        recent_days: 14,
        max_quiet: coverage::DEFAULT_MAX_QUIET_SECONDS,
    }
}

#[test]
fn a_covered_history_gives_used_denied_unused_and_a_checked_policy() {
    let mut events = heartbeat(40);
    let t = T0 + 35 * DAY;
    events.push(event(
        t,
        "user/alice",
        "s3.amazonaws.com",
        "GetObject",
        r#"{"bucketName":"data","key":"a.csv"}"#,
        None,
    ));
    events.push(event(
        t + 5,
        "user/alice",
        "s3.amazonaws.com",
        "GetObject",
        r#"{"bucketName":"data","key":"a.csv"}"#,
        None,
    ));
    events.push(event(
        t + 9,
        "user/alice",
        "ec2.amazonaws.com",
        "DescribeInstances",
        "{}",
        None,
    ));
    events.push(event(
        t + 10,
        "user/alice",
        "iam.amazonaws.com",
        "CreateUser",
        r#"{"userName":"x"}"#,
        Some("AccessDenied"),
    ));
    events.push(event(
        t + 11,
        "user/alice",
        "nosuch.amazonaws.com",
        "DoThing",
        "{}",
        None,
    ));
    // The role is used under its path-less session name: the account file knows its path.
    events.push(event(
        t + 12,
        "role/app",
        "sqs.amazonaws.com",
        "SendMessage",
        r#"{"queueUrl":"https://sqs.us-east-1.amazonaws.com/111122223333/q"}"#,
        None,
    ));
    let idx = index(&events);
    let snap = Snapshot::parse(ACCOUNT_FILE).unwrap();
    let until = T0 + 40 * DAY;
    let input = ReportInput {
        catalog: catalog(),
        snapshot: Some(&snap),
        credential_report: None,
        principals: &[],
        options: options(until),
        plan: true,
    };
    let reports = report(&idx, &input).unwrap();
    let alice = reports
        .iter()
        .find(|r| r.principal.ends_with("user/alice"))
        .unwrap();
    let get = alice
        .used
        .iter()
        .find(|u| u.action == "s3:GetObject")
        .unwrap();
    assert_eq!(
        (get.resource.as_str(), get.count),
        ("arn:aws:s3:::data/a.csv", 2)
    );
    assert_eq!(alice.denied.len(), 1);
    assert_eq!(alice.denied[0].action, "iam:CreateUser");
    assert_eq!(alice.unmapped.len(), 1, "{:?}", alice.unmapped);
    let kinds: Vec<(&str, Option<&str>, Option<&str>)> = alice
        .findings
        .iter()
        .filter(|f| f.finding_type == UNUSED_PERMISSION)
        .map(|f| {
            (
                f.finding_type.as_str(),
                f.action.as_deref(),
                f.resource.as_deref(),
            )
        })
        .collect();
    // PutObject unused; the `old/*` resource of GetObject unused; ec2 is used (DescribeInstances),
    // so its other actions are unused one by one; kms:Decrypt is kept by its Sid.
    assert!(
        kinds.contains(&(UNUSED_PERMISSION, Some("s3:PutObject"), None)),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&(
            UNUSED_PERMISSION,
            Some("s3:GetObject"),
            Some("arn:aws:s3:::old/*")
        )),
        "{kinds:?}"
    );
    assert!(kinds.contains(&(UNUSED_PERMISSION, Some("ec2:RunInstances"), None)));
    assert!(!kinds.iter().any(|k| k.1 == Some("ec2:DescribeInstances")));
    assert!(!kinds
        .iter()
        .any(|k| k.1.is_some_and(|a| a.starts_with("kms:"))));
    assert!(!kinds
        .iter()
        .any(|k| k.1 == Some("s3:GetObject") && k.2.is_none()));
    // The policy: exactly what was used, and checked.
    let doc = serde_json::to_string(&alice.policy).unwrap();
    assert!(
        doc.contains("arn:aws:s3:::data/a.csv") && doc.contains("ec2:DescribeInstances"),
        "{doc}"
    );
    assert!(
        !doc.contains("PutObject") && !doc.contains("CreateUser"),
        "{doc}"
    );
    // --plan: the Deny of the unused (inline, protected) and the replacement of alice's own
    // inline policy, each with its undo.
    let plans = alice.plans.as_ref().unwrap();
    assert_eq!(plans.mode, "monitor");
    let deny = plans.deny_unused.as_ref().unwrap();
    assert!(deny
        .denied
        .contains(&("s3:PutObject".to_owned(), "arn:aws:s3:::data/*".to_owned())));
    assert!(deny
        .denied
        .contains(&("s3:GetObject".to_owned(), "arn:aws:s3:::old/*".to_owned())));
    assert!(!deny
        .denied
        .iter()
        .any(|(a, r)| a == "s3:GetObject" && r == "arn:aws:s3:::data/*"));
    assert!(!deny
        .denied
        .iter()
        .any(|(a, _)| a == "ec2:DescribeInstances" || a.starts_with("kms:")));
    assert!(!deny.undo.is_empty());
    let replace = plans.replace_inline.as_ref().unwrap();
    assert_eq!(replace.steps.len(), 2, "{:?}", replace.steps);
    // The generated policy first (only where none of its name is), then the old one goes.
    assert_eq!(replace.steps[0].call, "iam:PutUserPolicy");
    assert_eq!(
        replace.steps[0].expect,
        Some(crate::planner::expect_absent())
    );
    assert_eq!(replace.steps[1].call, "iam:DeleteUserPolicy");
    assert!(replace.steps[1].expect.is_some());
    assert_eq!(replace.undo.len(), 2);
    // Roles: `idle` never used; `app` used by its path-less session name.
    let idle = reports
        .iter()
        .find(|r| r.principal.ends_with("role/idle"))
        .unwrap();
    assert!(idle.findings.iter().any(|f| f.finding_type == UNUSED_ROLE));
    let app = reports
        .iter()
        .find(|r| r.principal.ends_with("role/team/app"))
        .unwrap();
    assert!(
        !app.findings.iter().any(|f| f.finding_type == UNUSED_ROLE),
        "{:?}",
        app.findings
    );
    assert!(app.used.iter().any(|u| u.action == "sqs:SendMessage"));
    // Users without a credential report: keys and passwords not judged.
    assert!(alice
        .findings
        .iter()
        .any(|f| f.finding_type == INSUFFICIENT_DATA));
}

#[test]
fn an_uncovered_window_is_insufficient_data_never_unused() {
    let mut events = heartbeat(5);
    events.push(event(
        T0 + 3600,
        "user/alice",
        "ec2.amazonaws.com",
        "DescribeInstances",
        "{}",
        None,
    ));
    let idx = index(&events);
    let snap = Snapshot::parse(ACCOUNT_FILE).unwrap();
    let input = ReportInput {
        catalog: catalog(),
        snapshot: Some(&snap),
        credential_report: None,
        principals: &["arn:aws:iam::111122223333:role/idle".to_owned()],
        options: options(T0 + 5 * DAY),
        plan: false,
    };
    let reports = report(&idx, &input).unwrap();
    assert_eq!(reports.len(), 1);
    let f = &reports[0].findings;
    assert!(
        !f.is_empty() && f.iter().all(|f| f.finding_type == INSUFFICIENT_DATA),
        "{f:?}"
    );
    assert!(f[0].detail.contains("is not covered"), "{}", f[0].detail);
}

#[test]
fn grants_within_the_recent_days_are_never_unused() {
    let mut events = heartbeat(40);
    // alice's inline policy `work` was (re)written 3 days before the end.
    events.push(event(
        T0 + 37 * DAY,
        "user/admin",
        "iam.amazonaws.com",
        "PutUserPolicy",
        r#"{"userName":"alice","policyName":"work","policyDocument":"{}"}"#,
        None,
    ));
    let idx = index(&events);
    let snap = Snapshot::parse(ACCOUNT_FILE).unwrap();
    let input = ReportInput {
        catalog: catalog(),
        snapshot: Some(&snap),
        credential_report: None,
        principals: &["arn:aws:iam::111122223333:user/alice".to_owned()],
        options: options(T0 + 40 * DAY),
        plan: false,
    };
    let reports = report(&idx, &input).unwrap();
    assert!(
        !reports[0]
            .findings
            .iter()
            .any(|f| f.finding_type == UNUSED_PERMISSION),
        "{:?}",
        reports[0].findings
    );
}

/// One generated call: who, which of a few real calls, on which (possibly hostile) name.
fn call() -> impl Strategy<Value = (usize, usize, String, bool, i64)> {
    (
        0..3usize,
        0..6usize,
        "[a-z0-9*?$/._-]{1,12}",
        prop::bool::weighted(0.15),
        0..(30 * DAY),
    )
}

fn render(who: usize, which: usize, name: &str, failed: bool, t: i64) -> String {
    let who = ["user/u1", "role/r1", "user/u2"][who];
    let n = serde_json::to_string(name).unwrap();
    let bucket = serde_json::to_string(&name.replace(['*', '?', '$', '/'], "b")).unwrap();
    let (source, event_name, params) = match which {
        0 => (
            "s3.amazonaws.com",
            "GetObject",
            format!(r#"{{"bucketName":{bucket},"key":{n}}}"#),
        ),
        1 => (
            "s3.amazonaws.com",
            "PutObject",
            format!(r#"{{"bucketName":{bucket},"key":{n}}}"#),
        ),
        2 => (
            "s3.amazonaws.com",
            "ListBucket",
            format!(r#"{{"bucketName":{bucket}}}"#),
        ),
        3 => (
            "iam.amazonaws.com",
            "GetUser",
            format!(r#"{{"userName":{bucket}}}"#),
        ),
        4 => ("sts.amazonaws.com", "GetCallerIdentity", "null".to_owned()),
        _ => ("kms.amazonaws.com", "Decrypt", "{}".to_owned()),
    };
    event(
        T0 + t,
        who,
        source,
        event_name,
        &params,
        failed.then_some("AccessDenied"),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    // The generated-policy property: replaying the whole history through the evaluator with only
    // the generated policy allows every call that succeeded, and nothing the history was refused
    // that it never did.
    #[test]
    fn the_generated_policy_allows_every_successful_call(calls in prop::collection::vec(call(), 1..40)) {
        let events: Vec<String> = calls.iter().map(|(w, c, n, f, t)| render(*w, *c, n, *f, *t)).collect();
        let idx = index(&events);
        let input = ReportInput {
            catalog: catalog(),
            snapshot: None,
            credential_report: None,
            principals: &[],
            options: options(T0 + 30 * DAY),
            plan: false,
        };
        let reports = report(&idx, &input).unwrap();
        for e in &events {
            parse_document(e.as_bytes(), |_, parsed| {
                let ev = parsed.unwrap();
                let a = analyse(&ev, catalog());
                let who = a.caller.principal_arn.clone().unwrap();
                let r = reports.iter().find(|r| r.principal == who).unwrap();
                let docs: Vec<crate::policy::PolicyDocument> = r
                    .policy
                    .iter()
                    .map(|d| crate::policy::PolicyDocument::from_value(d).unwrap())
                    .collect();
                let named: Vec<(&str, &crate::policy::PolicyDocument)> = docs.iter().map(|d| ("g", d)).collect();
                let policies = crate::evaluate::Policies { identity: &named, ..Default::default() };
                let nothing = crate::evaluate::Policies::default();
                let succeeded = ev.record.error_code.is_none();
                for m in a.mapping.actions() {
                    for res in &m.resources {
                        let req = crate::evaluate::Request {
                            principal_arn: &who,
                            principal_account: ACCOUNT,
                            action: &m.action,
                            resource: &res.arn,
                            ..Default::default()
                        };
                        let answer = crate::evaluate::evaluate(&req, &policies).answer;
                        if succeeded {
                            assert_eq!(answer, crate::evaluate::Answer::Allow, "{} on {}", m.action, res.arn);
                        } else {
                            let used = r.used.iter().any(|u| u.action == m.action && u.resource.split(' ').any(|p| crate::wildcard::matches_policy(p, &res.arn)));
                            // Some calls need no permission (`sts:GetCallerIdentity`).
                            let free = crate::evaluate::evaluate(&req, &nothing).answer == crate::evaluate::Answer::Allow;
                            if !used && !free {
                                assert_ne!(answer, crate::evaluate::Answer::Allow, "denied {} on {} is allowed", m.action, res.arn);
                            }
                        }
                    }
                }
            });
        }
    }
}
