//! The planning corpus: every file in `fixtures/plans/` is one case (an event, an optional account
//! snapshot in `get-account-authorization-details` form, optional rules) with the plan it must give.
//! A new case is a new file. Expectation keys: `outcome` (`deny`, `alert`, `nothing`), and for a deny
//! any of `target`, `policy_name`, `placement`, `denied` (exact list of pairs), `undo_calls`,
//! `undo_params` (of the first step), `undo_policy_principals` (the AWS principals left in an undo's bucket policy), `fallback` (null) or `fallback_contains`,
//! `revoke_sessions_before`, `document_denies` (pairs the written document must deny),
//! `document_allows` (pairs it must not deny: the neighbours of what the event touched),
//! `undo_expect` (the first step's `expect`), `no_undo_contains` (why there is no undo, and what a person does); for an alert,
//! `alert_contains`. A case may give `model_before` (the entries of what the account model vouches
//! for just before the event, as `BeforeEvent` serialises them) for before-states the account file
//! does not hold (buckets, the account's public access block).
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
use policy_rules::memberships::Memberships;
use policy_rules::planner::{plan, Input, Outcome};
use policy_rules::policy::PolicyDocument;
use policy_rules::rules::RuleSet;
use policy_rules::snapshot::Snapshot;
use serde_json::Value;
use std::path::PathBuf;

fn check(name: &str, case: &Value, catalog: &Catalog) {
    let rules = match case["rules"].as_str() {
        Some(text) => RuleSet::parse(name, text).unwrap(),
        None => RuleSet::default_pack().unwrap(),
    };
    let account_text = (!case["account"].is_null()).then(|| case["account"].to_string());
    let snapshot = account_text.as_deref().map(|t| Snapshot::parse(t).unwrap());
    let memberships = account_text
        .as_deref()
        .map(|t| Memberships::parse(t).unwrap())
        .unwrap_or_default();
    // What Warden holds in force on the principal (its own record), when the case gives one.
    let held: Option<policy_rules::held::Held> =
        (!case["held"].is_null()).then(|| serde_json::from_value(case["held"].clone()).unwrap());
    let held_doc = held.as_ref().and_then(|h| h.document());
    let event_text = case["event"].to_string();
    let expect = &case["expect"];
    let mut seen = false;
    parse_document(event_text.as_bytes(), |_, e| {
        seen = true;
        let e = e.unwrap();
        let mut analysis = analyse(&e, catalog);
        // The account file's before-state, with the instance profiles the event passes.
        let needed = policy_rules::passed_roles::entries_needed(&analysis.mapping);
        let mut before = snapshot
            .as_ref()
            .map(|s| policy_rules::model::BeforeEvent::from_snapshot_consulting(&e, s, &needed));
        // What the account model vouches for before the event, beyond the account file (buckets,
        // the account's public access block): `model_before` is a `BeforeEvent`'s entries.
        if !case["model_before"].is_null() {
            let more: policy_rules::model::BeforeEvent =
                serde_json::from_value(case["model_before"].clone()).unwrap();
            before
                .get_or_insert_with(Default::default)
                .entries
                .extend(more.entries);
        }
        // The role an instance profile held, as the flow resolves it before deciding.
        if let Some(b) = &before {
            policy_rules::passed_roles::resolve(&mut analysis, b);
        }
        let decision = decide(
            &e,
            &analysis,
            &rules,
            CallerFacts {
                groups: memberships.groups_of(&analysis.caller),
            },
        );
        let outcome = plan(&Input {
            event: &e,
            analysis: &analysis,
            decision: &decision,
            rules: &rules,
            catalog,
            snapshot: snapshot.as_ref(),
            held: held_doc.as_ref(),
            before: before.as_ref(),
        });
        let kind = match &outcome {
            Outcome::Deny(_) => "deny",
            Outcome::Alert { .. } => "alert",
            Outcome::Nothing => "nothing",
        };
        assert_eq!(
            kind, expect["outcome"],
            "{name}: outcome; decision {decision:?}; outcome {outcome:?}"
        );
        match outcome {
            Outcome::Deny(p) => {
                let v = serde_json::to_value(&*p).unwrap();
                for key in [
                    "target",
                    "policy_name",
                    "placement",
                    "revoke_sessions_before",
                ] {
                    if let Some(want) = expect.get(key) {
                        assert_eq!(&v[key], want, "{name}: {key}");
                    }
                }
                if let Some(want) = expect.get("denied") {
                    assert_eq!(&v["denied"], want, "{name}: denied");
                }
                if let Some(want) = expect.get("undo_calls") {
                    let got: Vec<String> = p.undo.iter().map(|s| s.call.clone()).collect();
                    assert_eq!(
                        serde_json::to_value(&got).unwrap(),
                        *want,
                        "{name}: undo calls"
                    );
                }
                if let Some(want) = expect.get("undo_params").and_then(Value::as_object) {
                    for (k, w) in want {
                        assert_eq!(&p.undo[0].params[k], w, "{name}: undo param {k}");
                    }
                }
                if let Some(want) = expect.get("undo_expect") {
                    assert_eq!(
                        &serde_json::to_value(&p.undo[0].expect).unwrap(),
                        want,
                        "{name}: undo expect"
                    );
                }
                if let Some(want) = expect.get("undo_policy_principals") {
                    let policy = &p.undo[0].params["Policy"];
                    let principals: Vec<&Value> = policy["Statement"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|st| &st["Principal"]["AWS"])
                        .collect();
                    assert_eq!(
                        serde_json::to_value(&principals).unwrap(),
                        *want,
                        "{name}: principals left in the undo policy"
                    );
                }
                if let Some(want) = expect.get("no_undo_contains").and_then(Value::as_str) {
                    assert!(
                        p.no_undo.as_deref().unwrap_or("").contains(want),
                        "{name}: no_undo {:?}",
                        p.no_undo
                    );
                }
                if let Some(want) = expect.get("fallback") {
                    assert_eq!(&v["fallback"], want, "{name}: fallback");
                }
                if let Some(want) = expect.get("fallback_contains").and_then(Value::as_str) {
                    assert!(
                        p.fallback.as_deref().unwrap_or("").contains(want),
                        "{name}: fallback {:?}",
                        p.fallback
                    );
                }
                let doc = PolicyDocument::from_value(&p.policy_document).unwrap();
                let allow_all = PolicyDocument::parse(
                    r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
                )
                .unwrap();
                let ctx = RequestContext::complete();
                let denies = |a: &str, r: &str| {
                    let req = Request {
                        principal_arn: &p.target,
                        principal_account: "111122223333",
                        action: a,
                        resource: r,
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
                };
                for (a, r) in &p.denied {
                    assert!(
                        denies(a, r.trim_end_matches('*')) || r.contains('*'),
                        "{name}: the document does not deny {a} on {r}"
                    );
                }
                for pair in expect
                    .get("document_denies")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    assert!(
                        denies(pair[0].as_str().unwrap(), pair[1].as_str().unwrap()),
                        "{name}: the document does not deny {pair}"
                    );
                }
                for pair in expect
                    .get("document_allows")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    assert!(
                        !denies(pair[0].as_str().unwrap(), pair[1].as_str().unwrap()),
                        "{name}: the document denies {pair}, which the event did not touch"
                    );
                }
                assert!(doc.size() <= 10_240, "{name}: document too large");
            }
            Outcome::Alert { reasons, undo } => {
                if let Some(want) = expect.get("undo_calls") {
                    let got: Vec<String> = undo.iter().map(|s| s.call.clone()).collect();
                    assert_eq!(
                        serde_json::to_value(&got).unwrap(),
                        *want,
                        "{name}: undo calls"
                    );
                }
                if let Some(want) = expect.get("undo_params").and_then(Value::as_object) {
                    for (k, w) in want {
                        assert_eq!(&undo[0].params[k], w, "{name}: undo param {k}");
                    }
                }
                if let Some(want) = expect.get("alert_contains").and_then(Value::as_str) {
                    assert!(
                        reasons.iter().any(|r| r.contains(want)),
                        "{name}: alert reasons {reasons:?}"
                    );
                }
            }
            Outcome::Nothing => {}
        }
    });
    assert!(seen, "{name}: no event");
}

#[test]
fn every_planning_case_gives_its_plan() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/plans");
    let catalog = Catalog::builtin().unwrap();
    let mut n = 0;
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let case: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        check(&name, &case, &catalog);
        n += 1;
    }
    assert!(n >= 11, "only {n} planning cases");
}
