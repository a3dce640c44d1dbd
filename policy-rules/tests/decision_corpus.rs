//! The decision corpus: every file in `fixtures/decisions/` is one case (an event, the caller's groups
//! before it or null for unknown, optional rules in TOML, null for the default pack) with the decision
//! it must give. A new case is a new file. Expectation keys: `verdict`, `rule` (id or null), `actions`,
//! `resources` (all patterns, sorted), `caller_kind`, `principal_arn`, `reasons_contain`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use policy_rules::catalog::Catalog;
use policy_rules::decision::{decide, CallerFacts};
use policy_rules::event::parse_document;
use policy_rules::mapping::analyse;
use policy_rules::rules::RuleSet;
use serde_json::Value;
use std::path::PathBuf;

#[test]
fn every_decision_case_gives_its_decision() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/decisions");
    let catalog = Catalog::builtin().unwrap();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 20, "only {} decision cases", files.len());
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let case: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let rules = match case["rules"].as_str() {
            Some(t) => RuleSet::parse(&name, t).unwrap_or_else(|e| panic!("{name}: {e}")),
            None => RuleSet::default_pack().unwrap(),
        };
        let groups: Option<Vec<String>> = case["groups"]
            .as_array()
            .map(|g| g.iter().map(|x| x.as_str().unwrap().to_owned()).collect());
        let expect = &case["expect"];
        let text = case["event"].to_string();
        let mut seen = false;
        parse_document(text.as_bytes(), |_, e| {
            seen = true;
            let e = e.unwrap_or_else(|err| panic!("{name}: {err}"));
            let a = analyse(&e, &catalog);
            let d = decide(
                &e,
                &a,
                &rules,
                CallerFacts {
                    groups: groups.as_deref(),
                },
            );
            let ctx = format!("{name}: {d:?}");
            assert_eq!(
                d.verdict.as_str(),
                expect["verdict"].as_str().unwrap(),
                "{ctx}"
            );
            if let Some(rule) = expect.get("rule") {
                assert_eq!(d.rule.as_deref(), rule.as_str(), "{ctx}");
            }
            if let Some(want) = expect.get("actions") {
                let got: Vec<&str> = a
                    .mapping
                    .actions()
                    .iter()
                    .map(|m| m.action.as_str())
                    .collect();
                assert_eq!(serde_json::to_value(got).unwrap(), *want, "{ctx}");
            }
            if let Some(want) = expect.get("resources") {
                let got = a.mapping.resource_patterns();
                assert_eq!(serde_json::to_value(got).unwrap(), *want, "{ctx}");
            }
            if let Some(want) = expect.get("caller_kind").and_then(Value::as_str) {
                assert_eq!(a.caller.kind.as_str(), want, "{ctx}");
            }
            if let Some(want) = expect.get("principal_arn").and_then(Value::as_str) {
                assert_eq!(a.caller.principal_arn.as_deref(), Some(want), "{ctx}");
            }
            for want in expect
                .get("reasons_contain")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let want = want.as_str().unwrap();
                assert!(
                    d.reasons.iter().any(|r| r.contains(want)),
                    "{ctx}: no reason contains `{want}`"
                );
            }
        });
        assert!(seen, "{name}: no event");
    }
}
