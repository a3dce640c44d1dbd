//! How a verified trail reads to a person: one line, `NAME: intact: N records; head SEQ:HASH`,
//! `NAME: intact: empty, no records` or `NAME: broken at …` naming the first record that does not
//! chain. The check itself is `policy_rules::evidence::verify`; reading the trail is the stores' and
//! the CLI's.

use anyhow::Result;
use policy_rules::evidence::{verify, Record};
use std::io::Write;

/// `warden evidence verify`: `Ok(true)` when intact.
pub fn verify_chain(
    records: &[Record],
    head: Option<(u64, &str)>,
    name: &str,
    out: &mut dyn Write,
) -> Result<bool> {
    match verify(records, head) {
        Ok(()) => {
            match records.last() {
                Some(last) => writeln!(
                    out,
                    "{name}: intact: {} records; head {}:{}",
                    records.len(),
                    last.seq,
                    last.hash
                )?,
                None => writeln!(out, "{name}: intact: empty, no records")?,
            }
            Ok(true)
        }
        Err(e) => {
            writeln!(out, "{name}: broken at {e}")?;
            Ok(false)
        }
    }
}
