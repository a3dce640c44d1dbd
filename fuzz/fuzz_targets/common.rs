//! Shared by the fuzz targets: the built-in catalog and the default pack, built once per process,
//! and a few fixture events to decide against a fuzzed rule set or memberships.

#![allow(dead_code)]

use policy_rules::catalog::Catalog;
use policy_rules::event::{parse_document, Event};
use policy_rules::rules::RuleSet;
use std::sync::OnceLock;

pub fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| Catalog::builtin().expect("the built-in catalog builds"))
}

pub fn default_rules() -> &'static RuleSet {
    static RULES: OnceLock<RuleSet> = OnceLock::new();
    RULES.get_or_init(|| RuleSet::default_pack().expect("the default pack parses"))
}

/// The longest valid UTF-8 prefix of `data` (how the text targets read raw fuzzer bytes, so a
/// mutation that breaks UTF-8 near the end still tests everything before it).
pub fn utf8_prefix(data: &[u8]) -> &str {
    match std::str::from_utf8(data) {
        Ok(s) => s,
        Err(e) => {
            std::str::from_utf8(data.get(..e.valid_up_to()).unwrap_or_default()).unwrap_or_default()
        }
    }
}

/// Fixture events of several shapes and callers (IAM user, assumed role, root, service, S3, STS,
/// an EventBridge envelope), parsed once.
pub fn fixture_events() -> &'static [Event<'static>] {
    static EVENTS: OnceLock<Vec<Event<'static>>> = OnceLock::new();
    EVENTS.get_or_init(|| {
        const DOCS: &[&str] = &[
            include_str!("../seeds/event_parse/awsdocs_iam_createuser.json"),
            include_str!("../seeds/event_parse/stratus_iam_attachuserpolicy.json"),
            include_str!("../seeds/event_parse/awsdocs_s3_putbucketacl.json"),
            include_str!("../seeds/event_parse/stratus_cloudtrail_stoplogging.json"),
            include_str!("../seeds/event_parse/awsdocs_root_enablemfadevice.json"),
            include_str!("../seeds/event_parse/awsdocs_s3_deletebucket_assumedrole.json"),
            include_str!("../seeds/event_parse/custodian_envelope.json"),
            include_str!("../seeds/event_parse/iambic_envelope.json"),
        ];
        let mut events = Vec::new();
        for doc in DOCS {
            parse_document(doc.as_bytes(), |_, e| {
                events.push(e.expect("a seed fixture parses"));
            });
        }
        events
    })
}
