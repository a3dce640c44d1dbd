//! The sweep's outside inputs on arbitrary UTF-8: the credential report CSV, the buckets file, the
//! trails file and the organization policies file. What parses is swept with the seeded fixture account (`fixtures/sweep/`); no
//! input may panic the parsers or the sweep.

#![no_main]

use libfuzzer_sys::fuzz_target;
use policy_rules::snapshot::Snapshot;
use policy_rules::sweep::input::{parse_time, parse_trails, Buckets, CredentialReport};
use policy_rules::sweep::org_policies::OrgPolicySet;
use policy_rules::sweep::{sweep, SweepInput, SweepOptions};
use std::sync::OnceLock;

mod common;

fn account() -> &'static Snapshot {
    static SNAP: OnceLock<Snapshot> = OnceLock::new();
    SNAP.get_or_init(|| {
        Snapshot::parse(include_str!("../../fixtures/sweep/account.json"))
            .expect("the seeded account parses")
    })
}

fuzz_target!(|data: &[u8]| {
    let text = common::utf8_prefix(data);
    let report = CredentialReport::parse_csv(text, parse_time(text)).ok();
    let buckets = Buckets::parse(text).ok();
    let trails = parse_trails(text).ok();
    let org = OrgPolicySet::parse(text).ok();
    if report.is_none() && buckets.is_none() && trails.is_none() && org.is_none() {
        return;
    }
    let now = parse_time("2026-12-01T00:00:00Z").expect("a time");
    let _ = sweep(
        &SweepInput {
            snapshot: account(),
            snapshot_read_at: None,
            credential_report: report.as_ref(),
            buckets: buckets.as_ref(),
            trails: trails.as_deref(),
            access_keys: None,
            held: &[],
            rules: common::default_rules(),
            catalog: common::catalog(),
            own_rules: None,
            org_policies: org.as_ref(),
        },
        &SweepOptions::new(now),
    );
});
