//! `Memberships::parse` on arbitrary UTF-8 (the longest valid prefix of the input). Memberships that
//! read are then looked up for the callers of a few fixture events and used in `decide` against the
//! default pack. None of it may panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use policy_rules::decision::{decide, CallerFacts};
use policy_rules::mapping::analyse;
use policy_rules::memberships::Memberships;

mod common;

fuzz_target!(|data: &[u8]| {
    let text = common::utf8_prefix(data);
    let Ok(memberships) = Memberships::parse(text) else {
        return;
    };
    let _ = (memberships.len(), memberships.is_empty());
    let catalog = common::catalog();
    let rules = common::default_rules();
    for event in common::fixture_events() {
        let analysis = analyse(event, catalog);
        let facts = CallerFacts {
            groups: memberships.groups_of(&analysis.caller),
        };
        let _ = decide(event, &analysis, rules, facts);
    }
});
