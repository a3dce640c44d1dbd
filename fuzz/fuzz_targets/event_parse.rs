//! `parse_document` on arbitrary bytes (a record, an EventBridge envelope or a log file), then, for
//! every event it yields, the whole offline pipeline: `analyse` against the built-in catalog and
//! `decide` against the default pack with unknown group memberships. None of it may panic.
//! Also checks the documented invariant (triage-agrees): whenever `triage` answers, it answers what
//! `decide` does.

#![no_main]

use libfuzzer_sys::fuzz_target;
use policy_rules::decision::{decide, triage, CallerFacts};
use policy_rules::event::parse_document;
use policy_rules::mapping::analyse;

mod common;

fuzz_target!(|data: &[u8]| {
    let catalog = common::catalog();
    let rules = common::default_rules();
    parse_document(data, |_, parsed| {
        let Ok(event) = parsed else { return };
        let analysis = analyse(&event, catalog);
        let decision = decide(&event, &analysis, rules, CallerFacts::default());
        if let Some(quick) = triage(&event, catalog, rules) {
            assert_eq!(quick, decision, "triage disagrees with decide");
        }
    });
});
