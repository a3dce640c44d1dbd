//! `RuleSet::parse` on arbitrary UTF-8 (the longest valid prefix of the input). A rule set that
//! validates is then used to decide a few fixture events, so fuzzed patterns, allow-sets and scopes
//! reach the matcher. None of it may panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use policy_rules::decision::{decide, triage, CallerFacts};
use policy_rules::mapping::analyse;
use policy_rules::rules::RuleSet;

mod common;

fuzz_target!(|data: &[u8]| {
    let text = common::utf8_prefix(data);
    let Ok(rules) = RuleSet::parse("fuzz.toml", text) else {
        return;
    };
    let catalog = common::catalog();
    let admins = ["Administrators".to_owned()];
    for event in common::fixture_events() {
        let analysis = analyse(event, catalog);
        let unknown = decide(event, &analysis, &rules, CallerFacts::default());
        let _ = decide(
            event,
            &analysis,
            &rules,
            CallerFacts {
                groups: Some(&admins),
            },
        );
        let _ = decide(event, &analysis, &rules, CallerFacts { groups: Some(&[]) });
        if let Some(quick) = triage(event, catalog, &rules) {
            assert_eq!(quick, unknown, "triage disagrees with decide");
        }
    }
});
