//! Evaluator and planner speed, printed as figures. Run: `cargo bench -p policy-rules --bench policy`.
//! The questions: every (user, action, resource) over the real account dump in
//! `fixtures/policies/cloudsplaining_test_example-authz-details.json` (inline, attached and group
//! policies, as AWS returned them) and a spread of IAM and S3 actions and resources.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::indexing_slicing
)]

use policy_rules::catalog::Catalog;
use policy_rules::decision::{decide, CallerFacts};
use policy_rules::evaluate::{evaluate, Policies, Request, RequestContext};
use policy_rules::event::parse_document;
use policy_rules::mapping::analyse;
use policy_rules::planner::{plan, Input};
use policy_rules::rules::RuleSet;
use policy_rules::snapshot::Snapshot;
use std::time::Instant;

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("policy bench: run with `cargo bench -p policy-rules --bench policy`");
        return;
    }
    let snap = Snapshot::parse(include_str!(
        "../../fixtures/policies/cloudsplaining_test_example-authz-details.json"
    ))
    .unwrap();
    let actions = [
        "s3:GetObject",
        "s3:PutBucketPolicy",
        "iam:PassRole",
        "iam:CreateUser",
        "ec2:RunInstances",
        "kms:Decrypt",
        "sts:AssumeRole",
        "iam:AttachUserPolicy",
    ];
    let resources = [
        "arn:aws:s3:::bucket/key",
        "arn:aws:s3:::bucket",
        "arn:aws:iam::012345678901:role/admin",
        "*",
        "arn:aws:kms:us-east-1:012345678901:key/1",
    ];
    let ctx = RequestContext::partial()
        .with("aws:username", &["obama"])
        .with("aws:SecureTransport", &["true"]);
    let mut questions = 0u64;
    let mut statements = 0usize;
    let mut per_user = Vec::new();
    for u in snap.users.values().chain(snap.roles.values()) {
        let (named, _) = snap.identity_policies(u);
        statements += named.iter().map(|(_, d)| d.statements.len()).sum::<usize>();
        per_user.push((u.arn.clone(), named));
    }
    let rounds = 2_000;
    let t = Instant::now();
    for _ in 0..rounds {
        for (arn, named) in &per_user {
            let policies: Vec<(&str, &policy_rules::policy::PolicyDocument)> =
                named.iter().map(|(n, d)| (n.as_str(), *d)).collect();
            for a in actions {
                for r in resources {
                    let req = Request {
                        principal_arn: arn,
                        principal_account: "012345678901",
                        action: a,
                        resource: r,
                        context: &ctx,
                        ..Default::default()
                    };
                    std::hint::black_box(evaluate(
                        &req,
                        &Policies {
                            identity: &policies,
                            boundary: None,
                            resource: None,
                            ..Default::default()
                        },
                    ));
                    questions += 1;
                }
            }
        }
    }
    let el = t.elapsed();
    println!(
        "evaluate: {:.3} µs per (principal, action, resource) question ({} questions over {} users and roles with {} statements in all)",
        el.as_secs_f64() * 1e6 / questions as f64,
        questions,
        per_user.len(),
        statements
    );

    let catalog = Catalog::builtin().unwrap();
    let rules = RuleSet::default_pack().unwrap();
    let event = br#"{"eventSource":"iam.amazonaws.com","eventName":"AttachUserPolicy","eventTime":"2026-11-22T10:00:00Z","recipientAccountId":"012345678901","awsRegion":"us-east-1","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::012345678901:user/biden","accountId":"012345678901","userName":"biden"},"requestParameters":{"userName":"biden","policyArn":"arn:aws:iam::aws:policy/AdministratorAccess"}}"#;
    let groups = vec!["biden".to_owned()];
    let n = 20_000;
    let mut planned = 0;
    let t = Instant::now();
    parse_document(event, |_, e| {
        let e = e.unwrap();
        for _ in 0..n {
            let a = analyse(&e, &catalog);
            let d = decide(
                &e,
                &a,
                &rules,
                CallerFacts {
                    groups: Some(&groups),
                },
            );
            let o = plan(&Input {
                event: &e,
                analysis: &a,
                decision: &d,
                rules: &rules,
                catalog: &catalog,
                snapshot: Some(&snap),
                held: None,
                before: None,
            });
            std::hint::black_box(&o);
            planned += 1;
        }
    });
    println!("analyse + decide + plan (observed scope, with the account snapshot): {:.2} µs per event ({planned} plans)", t.elapsed().as_secs_f64() * 1e6 / planned as f64);
}
