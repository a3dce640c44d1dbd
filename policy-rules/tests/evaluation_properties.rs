//! Properties of the evaluator over random small policies and requests: guardrails only take away.
//! - Adding an SCP `Deny` (at any level) never turns a non-Allow into an `Allow`.
//! - Removing the permissions boundary never turns an `Allow` into anything else.
//! - Adding an identity policy never turns an `Allow` into a non-Allow unless it denies (an
//!   `Allow`-only policy keeps every `Allow`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use policy_rules::evaluate::{
    evaluate, Answer, NamedPolicy, OrgPolicies, Policies, Request, RequestContext,
    ResourcePolicyRule,
};
use policy_rules::policy::PolicyDocument;
use proptest::prelude::*;
use serde_json::{json, Value};

const A: &str = "111122223333";
const B: &str = "444455556666";
const ACTIONS: [&str; 5] = [
    "s3:GetObject",
    "s3:PutObject",
    "kms:Decrypt",
    "sts:AssumeRole",
    "iam:CreateUser",
];
const RESOURCES: [&str; 4] = [
    "arn:aws:s3:::b/k",
    "arn:aws:kms:us-east-1:111122223333:key/k1",
    "arn:aws:iam::111122223333:role/target",
    "*",
];
const PRINCIPALS: [&str; 4] = [
    "arn:aws:iam::111122223333:user/bob",
    "arn:aws:iam::111122223333:role/app",
    "arn:aws:sts::111122223333:assumed-role/app/s",
    "arn:aws:iam::111122223333:root",
];

fn action_pattern() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!("*")),
        Just(json!("s3:*")),
        Just(json!("s3:GetObject")),
        Just(json!(["kms:*", "sts:AssumeRole"])),
        Just(json!("iam:*")),
    ]
}

fn resource_pattern() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!("*")),
        Just(json!("arn:aws:s3:::b/*")),
        Just(json!("arn:aws:kms:*:111122223333:key/*")),
        Just(json!("arn:aws:iam::111122223333:role/*")),
    ]
}

fn condition() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        3 => Just(None),
        1 => Just(Some(json!({"Bool": {"aws:SecureTransport": "true"}}))),
        1 => Just(Some(json!({"StringEquals": {"aws:PrincipalOrgID": "o-1"}}))),
    ]
}

fn effect() -> impl Strategy<Value = &'static str> {
    prop_oneof![6 => Just("Allow"), 1 => Just("Deny")]
}

fn statement(with_principal: bool) -> impl Strategy<Value = Value> {
    let principal = prop_oneof![
        Just(json!({"Principal": "*"})),
        Just(json!({"Principal": {"AWS": PRINCIPALS[0]}})),
        Just(json!({"Principal": {"AWS": PRINCIPALS[1]}})),
        Just(json!({"Principal": {"AWS": PRINCIPALS[2]}})),
        Just(json!({"Principal": {"AWS": format!("arn:aws:iam::{A}:root")}})),
        Just(json!({"Principal": {"AWS": B}})),
        Just(json!({"NotPrincipal": {"AWS": [PRINCIPALS[0], format!("arn:aws:iam::{A}:root")]}})),
    ];
    (
        effect(),
        action_pattern(),
        resource_pattern(),
        condition(),
        principal,
    )
        .prop_map(move |(e, a, r, c, p)| {
            let mut s = json!({"Effect": e, "Action": a, "Resource": r});
            if let Some(c) = c {
                s["Condition"] = c;
            }
            if with_principal {
                for (k, v) in p.as_object().unwrap() {
                    s[k] = v.clone();
                }
            }
            s
        })
}

fn document(with_principal: bool) -> impl Strategy<Value = PolicyDocument> {
    prop::collection::vec(statement(with_principal), 1..4).prop_map(|st| {
        PolicyDocument::from_value(&json!({"Version": "2012-10-17", "Statement": st})).unwrap()
    })
}

#[derive(Debug, Clone)]
struct World {
    identity: Vec<PolicyDocument>,
    boundary: Option<PolicyDocument>,
    session: Option<PolicyDocument>,
    resource: Option<PolicyDocument>,
    scp_levels: Vec<Vec<PolicyDocument>>,
    principal: usize,
    action: usize,
    resource_arn: usize,
    cross: bool,
    context: u8,
}

fn world() -> impl Strategy<Value = World> {
    (
        prop::collection::vec(document(false), 0..3),
        prop::option::of(document(false)),
        prop::option::of(document(false)),
        prop::option::of(document(true)),
        // Each level: FullAWSAccess (as AWS attaches it) and at most one more policy, or one
        // policy of its own.
        prop::collection::vec(
            (any::<bool>(), prop::option::of(document(false))).prop_map(|(full, extra)| {
                let mut level: Vec<PolicyDocument> = extra.into_iter().collect();
                if full || level.is_empty() {
                    level.push(full_access());
                }
                level
            }),
            0..3,
        ),
        0..PRINCIPALS.len(),
        0..ACTIONS.len(),
        0..RESOURCES.len(),
        prop::bool::weighted(0.25),
        0u8..3,
    )
        .prop_map(
            |(
                identity,
                boundary,
                session,
                resource,
                scp_levels,
                principal,
                action,
                r,
                cross,
                context,
            )| {
                World {
                    identity,
                    boundary,
                    session,
                    resource,
                    scp_levels,
                    principal,
                    action,
                    resource_arn: r,
                    cross,
                    context,
                }
            },
        )
}

fn ask(w: &World) -> Answer {
    let ctx = match w.context {
        0 => RequestContext::complete(),
        1 => RequestContext::complete()
            .with("aws:SecureTransport", &["true"])
            .with("aws:PrincipalOrgID", &["o-1"]),
        _ => RequestContext::partial(),
    };
    let action = ACTIONS[w.action];
    let resource = RESOURCES[w.resource_arn];
    let principal = PRINCIPALS[w.principal];
    let req = Request {
        principal_arn: principal,
        principal_account: A,
        action,
        resource,
        context: &ctx,
        resource_account: w.cross.then_some(B),
        session_issuer: principal
            .contains("assumed-role")
            .then_some("arn:aws:iam::111122223333:role/app"),
        resource_policy_rule: ResourcePolicyRule::for_request(action, resource),
    };
    let identity: Vec<NamedPolicy<'_>> = w.identity.iter().map(|d| ("id", d)).collect();
    let session: Option<Vec<NamedPolicy<'_>>> = w.session.as_ref().map(|d| vec![("s", d)]);
    let levels: Vec<Vec<NamedPolicy<'_>>> = w
        .scp_levels
        .iter()
        .map(|l| l.iter().map(|d| ("scp", d)).collect())
        .collect();
    let level_refs: Vec<&[NamedPolicy<'_>]> = levels.iter().map(Vec::as_slice).collect();
    evaluate(
        &req,
        &Policies {
            identity: &identity,
            boundary: w.boundary.as_ref(),
            resource: w.resource.as_ref().map(|d| ("res", d)),
            session: session.as_deref(),
            scps: (!w.scp_levels.is_empty()).then_some(OrgPolicies {
                levels: &level_refs,
                management_account: None,
            }),
            ..Default::default()
        },
    )
    .answer
}

fn full_access() -> PolicyDocument {
    PolicyDocument::parse(r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#)
        .unwrap()
}

fn deny_document() -> impl Strategy<Value = PolicyDocument> {
    (action_pattern(), resource_pattern(), condition()).prop_map(|(a, r, c)| {
        let mut s = json!({"Effect": "Deny", "Action": a, "Resource": r});
        if let Some(c) = c {
            s["Condition"] = c;
        }
        PolicyDocument::from_value(&json!({"Statement": s})).unwrap()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn an_scp_deny_never_turns_a_deny_into_an_allow(w in world(), deny in deny_document(), at in 0usize..3) {
        let before = ask(&w);
        let mut more = w.clone();
        if more.scp_levels.is_empty() {
            more.scp_levels.push(vec![full_access()]);
        }
        let n = more.scp_levels.len();
        more.scp_levels[at % n].push(deny);
        let after = ask(&more);
        if before != Answer::Allow {
            prop_assert_ne!(after, Answer::Allow, "before {:?}", before);
        }
    }

    #[test]
    fn removing_the_boundary_never_turns_an_allow_into_a_deny(w in world()) {
        let before = ask(&w);
        let mut fewer = w.clone();
        fewer.boundary = None;
        if before == Answer::Allow {
            prop_assert_eq!(ask(&fewer), Answer::Allow);
        }
    }

    #[test]
    fn removing_the_session_policy_never_turns_an_allow_into_a_deny(w in world()) {
        let before = ask(&w);
        let mut fewer = w.clone();
        fewer.session = None;
        if before == Answer::Allow {
            prop_assert_eq!(ask(&fewer), Answer::Allow);
        }
    }

    #[test]
    fn an_allow_only_identity_policy_never_takes_an_allow_away(w in world(), extra in document(false)) {
        let allows_only = extra.statements.iter().all(|s| s.effect == policy_rules::policy::Effect::Allow);
        let before = ask(&w);
        let mut more = w.clone();
        more.identity.push(extra);
        if allows_only && before == Answer::Allow {
            prop_assert_eq!(ask(&more), Answer::Allow);
        }
    }
}
