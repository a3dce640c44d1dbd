//! The evidence chain: a tamper-evident, append-only trail of Warden's decisions, changes (with their
//! before- and after-state), verifications, rollbacks and errors. Each record carries its sequence
//! number, an id, the SHA-256 of the previous record, and its own SHA-256 over a canonical encoding
//! (JSON with object keys sorted, no whitespace), so `verify` detects any modified, deleted, inserted
//! or reordered record and names the first bad one. Truncation of the newest records is invisible to
//! any chain on its own: `verify` takes the head a store keeps elsewhere (a DynamoDB head item, an
//! S3 Object Lock copy) to catch it.
//!
//! Pure: the caller gives the time and the previous record; stores (a local JSON Lines file now,
//! DynamoDB with conditional appends next) live in `handler`. A store appends with the condition
//! "the head is still `prev`", so two writers cannot fork the chain.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What a record is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordKind {
    Decision,
    Change,
    Verify,
    Rollback,
    Error,
    /// Someone changed what Warden holds in force: what Warden held and what was found.
    Tamper,
}

/// A record before it is chained.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Draft {
    /// A deterministic id (see `deterministic_id`), so a retried step writes the same id.
    pub id: String,
    /// ISO-8601 UTC, given by the caller.
    pub time: String,
    pub kind: Option<RecordKind>,
    /// Whose event it was.
    pub principal: Option<String>,
    /// What was changed.
    pub target: Option<String>,
    pub actions: Vec<String>,
    pub rule: Option<String>,
    pub event_id: Option<String>,
    /// Kind-specific content: reasons, before- and after-state, the plan, the error.
    pub body: Value,
}

/// A chained record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub seq: u64,
    pub id: String,
    pub time: String,
    pub kind: RecordKind,
    pub principal: Option<String>,
    pub target: Option<String>,
    pub actions: Vec<String>,
    pub rule: Option<String>,
    pub event_id: Option<String>,
    pub body: Value,
    pub prev_hash: String,
    pub hash: String,
}

/// Where and why a chain does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("record {index} (seq {seq}, id `{id}`): {what}")]
pub struct ChainError {
    /// Position in the list given to `verify`.
    pub index: usize,
    pub seq: u64,
    pub id: String,
    pub what: String,
}

/// A short deterministic id from parts (hex of the first 16 bytes of their SHA-256).
pub fn deterministic_id(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    hex(h.finalize().get(..16).unwrap_or(&[]))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Canonical JSON: object keys sorted by their UTF-8 bytes, no whitespace, serde_json's escaping and
/// number forms. Independent of how `Value` orders its maps (it may preserve insertion order).
pub fn canonical_json(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String((*k).clone()).to_string());
                out.push(':');
                if let Some(x) = m.get(*k) {
                    write_canonical(x, out);
                }
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

impl Record {
    /// The SHA-256 (hex) of the canonical encoding of every field but `hash`.
    pub fn compute_hash(&self) -> String {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Value::Object(m) = &mut v {
            m.remove("hash");
        }
        hex(&Sha256::digest(canonical_json(&v).as_bytes()))
    }

    /// The record as one canonical JSON line (what stores write).
    pub fn to_line(&self) -> String {
        canonical_json(&serde_json::to_value(self).unwrap_or(Value::Null))
    }
}

/// Chains `draft` after `prev` (`None`: the first record).
pub fn append(prev: Option<&Record>, draft: Draft) -> Record {
    let mut r = Record {
        seq: prev.map_or(0, |p| p.seq + 1),
        id: draft.id,
        time: draft.time,
        kind: draft.kind.unwrap_or(RecordKind::Decision),
        principal: draft.principal,
        target: draft.target,
        actions: draft.actions,
        rule: draft.rule,
        event_id: draft.event_id,
        body: draft.body,
        prev_hash: prev.map_or_else(|| GENESIS.to_owned(), |p| p.hash.clone()),
        hash: String::new(),
    };
    r.hash = r.compute_hash();
    r
}

/// Verifies a whole chain from its first record. `head`, when given, is the `(seq, hash)` of the
/// newest record as kept outside the chain: a shorter chain (truncated) or another head fails.
pub fn verify(records: &[Record], head: Option<(u64, &str)>) -> Result<(), ChainError> {
    let err = |index: usize, r: &Record, what: String| ChainError {
        index,
        seq: r.seq,
        id: r.id.clone(),
        what,
    };
    let mut prev: Option<&Record> = None;
    for (i, r) in records.iter().enumerate() {
        let want_seq = prev.map_or(0, |p| p.seq + 1);
        if r.seq != want_seq {
            return Err(err(i, r, format!("sequence number {} where {want_seq} was expected (a record was deleted, inserted or moved)", r.seq)));
        }
        let want_prev = prev.map_or(GENESIS, |p| p.hash.as_str());
        if r.prev_hash != want_prev {
            return Err(err(
                i,
                r,
                "does not link to the record before it (a record was deleted, inserted or moved)"
                    .to_owned(),
            ));
        }
        if r.compute_hash() != r.hash {
            return Err(err(
                i,
                r,
                "its content does not match its hash (the record was modified)".to_owned(),
            ));
        }
        prev = Some(r);
    }
    if let Some((seq, hash)) = head {
        match records.last() {
            Some(last) if last.seq == seq && last.hash == hash => {}
            Some(last) => {
                return Err(err(records.len() - 1, last, format!("the chain ends here, but its head is seq {seq} (records were truncated or replaced)")));
            }
            None => {
                return Err(ChainError {
                    index: 0,
                    seq,
                    id: String::new(),
                    what: "the chain is empty, but its head is recorded".to_owned(),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn chain(n: usize) -> Vec<Record> {
        let mut out: Vec<Record> = Vec::new();
        for i in 0..n {
            let d = Draft {
                id: deterministic_id(&["evt", &i.to_string()]),
                time: format!("2026-11-22T10:00:{:02}Z", i % 60),
                kind: Some(if i % 2 == 0 {
                    RecordKind::Decision
                } else {
                    RecordKind::Change
                }),
                principal: Some("arn:aws:iam::111122223333:user/bob".into()),
                target: Some(format!("arn:aws:iam::111122223333:role/r{i}")),
                actions: vec!["iam:PutRolePolicy".into()],
                rule: Some("iam-writes".into()),
                event_id: Some(format!("e{i}")),
                body: json!({"before": {"z": 1, "a": [i, "x"]}, "after": null}),
            };
            let r = append(out.last(), d);
            out.push(r);
        }
        out
    }

    #[test]
    fn a_fresh_chain_verifies_and_is_canonical() {
        let c = chain(5);
        assert_eq!(verify(&c, Some((4, &c[4].hash))), Ok(()));
        assert_eq!(c[0].prev_hash, GENESIS);
        assert!(c[0].to_line().starts_with("{\"actions\":[\"iam:PutRolePolicy\"],\"body\":{\"after\":null,\"before\":{\"a\":[0,\"x\"],\"z\":1}}"));
        let back: Record = serde_json::from_str(&c[3].to_line()).unwrap();
        assert_eq!(back, c[3]);
    }

    #[test]
    fn truncation_is_caught_only_with_the_head() {
        let c = chain(4);
        assert_eq!(verify(&c[..3], None), Ok(()));
        let e = verify(&c[..3], Some((3, &c[3].hash))).unwrap_err();
        assert_eq!(e.index, 2);
    }

    #[derive(Debug, Clone)]
    enum Tamper {
        Modify(usize, u8),
        Delete(usize),
        Insert(usize),
        Swap(usize),
    }

    proptest! {
        // INVARIANT (evidence-tamper-evident): every single-record change is detected, at or before
        // the record it touched.
        #[test]
        fn every_single_record_change_is_detected(n in 2usize..12, t in prop_oneof![
            (0usize..12, 0u8..6).prop_map(|(i, f)| Tamper::Modify(i, f)),
            (0usize..12).prop_map(Tamper::Delete),
            (0usize..12).prop_map(Tamper::Insert),
            (0usize..12).prop_map(Tamper::Swap),
        ]) {
            let mut c = chain(n);
            let head = (c[n - 1].seq, c[n - 1].hash.clone());
            let at = match t {
                Tamper::Modify(i, f) => {
                    let i = i % n;
                    let r = &mut c[i];
                    match f {
                        0 => r.time.push('!'),
                        1 => r.actions.push("iam:*".into()),
                        2 => r.body = json!({"before": "forged"}),
                        3 => r.principal = None,
                        4 => r.kind = RecordKind::Rollback,
                        _ => r.target = Some("arn:aws:iam::111122223333:role/other".into()),
                    }
                    i
                }
                Tamper::Delete(i) => { let i = i % n; c.remove(i); i.min(c.len().saturating_sub(1)) }
                Tamper::Insert(i) => { let i = i % n; let copy = c[i].clone(); c.insert(i + 1, copy); i + 1 }
                Tamper::Swap(i) => { let i = i % (n - 1); c.swap(i, i + 1); i }
            };
            let e = verify(&c, Some((head.0, &head.1)));
            prop_assert!(e.is_err(), "undetected {:?}", t);
            prop_assert!(e.unwrap_err().index <= at, "detected too late");
        }
    }
}
