//! The policy checks are sound against the evaluator, over random small policy sets and every
//! request of a small universe:
//! - when no-new-access says `Pass`, every request the new set allows the reference allows;
//! - when it says `Fail`, its example is allowed by the new set and not by the reference;
//! - when access-not-granted says `Pass`, no asked action on an asked resource is allowed;
//! - when it says `Fail`, its example is one asked for, and allowed.
//!
//! The same over templates, whose `${AWS::AccountId}` atom the evaluator sees in several values.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use policy_rules::evaluate::{evaluate, Answer, Policies, Request, RequestContext};
use policy_rules::policy::PolicyDocument;
use policy_rules::policy_check::{access_not_granted, no_new_access, Atoms, Outcome, PolicySet};
use policy_rules::wildcard;
use proptest::prelude::*;
use serde_json::{json, Value};

const PATTERN_ACTIONS: [&str; 9] = [
    "s3:GetObject",
    "s3:PutObject",
    "s3:Get*",
    "s3:*",
    "s3:?etObject",
    "iam:PassRole",
    "iam:*",
    "*",
    "S3:getobj*",
];
const PATTERN_RESOURCES: [&str; 9] = [
    "*",
    "arn:aws:s3:::b/*",
    "arn:aws:s3:::b/k",
    "arn:aws:s3:::*",
    "arn:aws:s3:::b/${aws:username}",
    "arn:aws:s3:::b?k",
    "arn:aws:s3:::c/*",
    "arn:aws:s3:::b/${*}",
    "arn:aws:s3:::123456789012/*",
];
const REQUEST_ACTIONS: [&str; 8] = [
    "s3:GetObject",
    "s3:PutObject",
    "s3:GetBucketPolicy",
    "iam:PassRole",
    "iam:CreateUser",
    "ec2:RunInstances",
    "s3:ListBucket",
    "s3:xetObject",
];
const REQUEST_RESOURCES: [&str; 9] = [
    "arn:aws:s3:::b/k",
    "arn:aws:s3:::b/alice",
    "arn:aws:s3:::b/*",
    "arn:aws:s3:::c/x",
    "arn:aws:s3:::b",
    "*",
    "arn:aws:s3:::bxk",
    "arn:aws:s3:::123456789012/x",
    "arn:aws:s3:::999999999999/x",
];

fn condition() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        4 => Just(None),
        1 => Just(Some(json!({"StringEquals": {"aws:username": "alice"}}))),
        1 => Just(Some(json!({"Bool": {"aws:SecureTransport": "true"}}))),
        1 => Just(Some(json!({"StringLike": {"aws:username": "a*"}}))),
        1 => Just(Some(json!({"StringNotEquals": {"aws:username": "bob"}}))),
    ]
}

fn list(from: &'static [&'static str]) -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(prop::sample::select(from), 1..3)
        .prop_map(|v| v.into_iter().map(str::to_owned).collect())
}

fn statement() -> impl Strategy<Value = Value> {
    (
        prop::bool::weighted(0.7),
        prop::bool::weighted(0.12),
        list(&PATTERN_ACTIONS),
        prop::bool::weighted(0.12),
        list(&PATTERN_RESOURCES),
        condition(),
    )
        .prop_map(|(allow, not_a, a, not_r, r, c)| {
            let mut s = json!({"Effect": if allow { "Allow" } else { "Deny" }});
            s[if not_a { "NotAction" } else { "Action" }] = json!(a);
            s[if not_r { "NotResource" } else { "Resource" }] = json!(r);
            if let Some(c) = c {
                s["Condition"] = c;
            }
            s
        })
}

fn policy_set() -> impl Strategy<Value = Vec<PolicyDocument>> {
    prop::collection::vec(prop::collection::vec(statement(), 1..4), 1..3).prop_map(|docs| {
        docs.into_iter()
            .map(|st| PolicyDocument::from_value(&json!({"Statement": st})).unwrap())
            .collect()
    })
}

fn to_set(docs: &[PolicyDocument]) -> PolicySet {
    let mut set = PolicySet::default();
    for (i, d) in docs.iter().enumerate() {
        set.add_document(&format!("p{i}"), d).unwrap();
    }
    set
}

fn contexts() -> Vec<(Vec<(&'static str, &'static str)>, RequestContext)> {
    let mut out = Vec::new();
    for user in [None, Some("alice"), Some("bob"), Some("anna")] {
        for tls in [None, Some("true"), Some("false")] {
            let mut keys = Vec::new();
            let mut ctx = RequestContext::complete();
            if let Some(u) = user {
                keys.push(("aws:username", u));
                ctx = ctx.with("aws:username", &[u]);
            }
            if let Some(t) = tls {
                keys.push(("aws:SecureTransport", t));
                ctx = ctx.with("aws:SecureTransport", &[t]);
            }
            out.push((keys, ctx));
        }
    }
    out
}

fn allows(docs: &[PolicyDocument], action: &str, resource: &str, ctx: &RequestContext) -> Answer {
    let named: Vec<(String, &PolicyDocument)> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| (format!("p{i}"), d))
        .collect();
    let named: Vec<(&str, &PolicyDocument)> = named.iter().map(|(n, d)| (n.as_str(), *d)).collect();
    evaluate(
        &Request {
            principal_arn: "arn:aws:iam::123456789012:user/warden-check",
            principal_account: "123456789012",
            action,
            resource,
            context: ctx,
            ..Default::default()
        },
        &Policies {
            identity: &named,
            ..Default::default()
        },
    )
    .answer
}

fn example_context(example: &policy_rules::policy_check::Example) -> RequestContext {
    let mut ctx = RequestContext::complete();
    for (k, v) in &example.context {
        ctx = ctx.with(k, &[v.as_str()]);
    }
    ctx
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    #[test]
    fn no_new_access_is_sound(old in policy_set(), new in policy_set()) {
        let outcome = no_new_access(&to_set(&old), &to_set(&new), &Atoms::new(), None);
        match outcome {
            Outcome::Pass => {
                for a in REQUEST_ACTIONS {
                    for r in REQUEST_RESOURCES {
                        for (keys, ctx) in contexts() {
                            if allows(&new, a, r, &ctx) == Answer::Allow {
                                prop_assert_eq!(
                                    allows(&old, a, r, &ctx), Answer::Allow,
                                    "pass, but {} on {} with {:?} is new access", a, r, keys
                                );
                            }
                        }
                    }
                }
            }
            Outcome::Fail { example, .. } => {
                let ctx = example_context(&example);
                prop_assert_eq!(allows(&new, &example.action, &example.resource, &ctx), Answer::Allow);
                let old_answer = allows(&old, &example.action, &example.resource, &ctx);
                prop_assert!(matches!(old_answer, Answer::ImplicitDeny | Answer::ExplicitDeny), "{:?}", old_answer);
            }
            Outcome::CannotProve { .. } => {}
        }
    }

    #[test]
    fn a_set_never_has_new_access_over_itself(set in policy_set()) {
        prop_assert_eq!(no_new_access(&to_set(&set), &to_set(&set), &Atoms::new(), None), Outcome::Pass);
    }

    #[test]
    fn access_not_granted_is_sound(
        set in policy_set(),
        asked in list(&PATTERN_ACTIONS),
        on in prop::collection::vec(prop::sample::select(&PATTERN_RESOURCES[..]), 0..2),
    ) {
        let on: Vec<String> = on.into_iter().map(str::to_owned).collect();
        match access_not_granted(&to_set(&set), &asked, &on, &Atoms::new(), None) {
            Outcome::Pass => {
                for a in REQUEST_ACTIONS.iter().filter(|a| asked.iter().any(|q| wildcard::matches_ignore_ascii_case(q, a))) {
                    for r in REQUEST_RESOURCES.iter().filter(|r| on.is_empty() || on.iter().any(|p| wildcard::matches_policy(p, r))) {
                        for (keys, ctx) in contexts() {
                            prop_assert!(
                                allows(&set, a, r, &ctx) != Answer::Allow,
                                "pass, but {} on {} with {:?} is allowed", a, r, keys
                            );
                        }
                    }
                }
            }
            Outcome::Fail { example, .. } => {
                prop_assert!(asked.iter().any(|q| wildcard::matches_ignore_ascii_case(q, &example.action)));
                prop_assert!(on.is_empty() || on.iter().any(|p| wildcard::matches_policy(p, &example.resource)));
                prop_assert_eq!(allows(&set, &example.action, &example.resource, &example_context(&example)), Answer::Allow);
            }
            Outcome::CannotProve { .. } => {}
        }
    }
}

/// The generated cases reach every answer (a soundness test that only ever says `CannotProve`
/// would prove nothing).
#[test]
fn the_generator_reaches_every_answer() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut pass, mut fail, mut cannot) = (0, 0, 0);
    let strategy = (policy_set(), policy_set());
    for _ in 0..300 {
        let (old, new) = strategy.new_tree(&mut runner).unwrap().current();
        match no_new_access(&to_set(&old), &to_set(&new), &Atoms::new(), None) {
            Outcome::Pass => pass += 1,
            Outcome::Fail { .. } => fail += 1,
            Outcome::CannotProve { .. } => cannot += 1,
        }
    }
    assert!(
        pass > 5 && fail > 50 && cannot > 0,
        "pass {pass}, fail {fail}, cannot-prove {cannot}"
    );
}

// ------------------------------------------------------------------------------------------------
// Templates: atoms.

fn template(statements: &[Value]) -> Value {
    json!({"Resources": {"P": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {"PolicyDocument": {"Statement": statements}}}}})
}

fn template_statement() -> impl Strategy<Value = Value> {
    (
        prop::bool::weighted(0.75),
        list(&["s3:GetObject", "s3:*", "s3:Put*"]),
        prop::sample::select(&[
            "arn:aws:s3:::${AWS::AccountId}/*",
            "arn:aws:s3:::${AWS::AccountId}/k",
            "arn:aws:s3:::*",
            "arn:aws:s3:::123456789012/*",
            "arn:aws:s3:::${AWS::AccountId}?*",
        ][..]),
    )
        .prop_map(|(allow, a, r)| {
            json!({"Effect": if allow { "Allow" } else { "Deny" }, "Action": a, "Resource": {"Fn::Sub": r}})
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// With the account atom at its representative value (and at another), a `Pass` holds.
    #[test]
    fn no_new_access_over_templates_is_sound(
        old in prop::collection::vec(template_statement(), 1..4),
        new in prop::collection::vec(template_statement(), 1..4),
    ) {
        let mut atoms = Atoms::new();
        let old_set = PolicySet::from_template(&template(&old), &mut atoms).unwrap();
        let new_set = PolicySet::from_template(&template(&new), &mut atoms).unwrap();
        let outcome = no_new_access(&old_set, &new_set, &atoms, None);
        if outcome == Outcome::Pass {
            for account in ["123456789012", "999999999999"] {
                let docs = |st: &[Value]| {
                    let resolved: Vec<Value> = st.iter().map(|s| {
                        let mut s = s.clone();
                        let r = s["Resource"]["Fn::Sub"].as_str().unwrap().replace("${AWS::AccountId}", account);
                        s["Resource"] = json!(r);
                        s
                    }).collect();
                    vec![PolicyDocument::from_value(&json!({"Statement": resolved})).unwrap()]
                };
                let (o, n) = (docs(&old), docs(&new));
                for a in ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"] {
                    for r in ["arn:aws:s3:::123456789012/k", "arn:aws:s3:::999999999999/k", "arn:aws:s3:::123456789012x", "arn:aws:s3:::x"] {
                        let ctx = RequestContext::complete();
                        if allows(&n, a, r, &ctx) == Answer::Allow {
                            prop_assert_eq!(allows(&o, a, r, &ctx), Answer::Allow, "{} {} account {}", a, r, account);
                        }
                    }
                }
            }
        }
    }
}
