//! Refreshes the account model from one read of the whole account: every entry the read holds is
//! recorded as read at that time (each keeps its earlier states, so an event still in the queue
//! from before the read is judged by the state before it). Reads the model's current entries
//! first (one `BatchGetItem` per 100) and writes them back in batches (one `BatchWriteItem` per
//! 25). An entry the read no longer shows keeps its state until the event that deleted it (or the
//! next release of this module, which lists the model) says otherwise.
//!
//! Not here: what a sweep finds (policy-rules' sweep), or reading the account (connectors).

use crate::enforce::ports::{AccountModel, StoreError};
use policy_rules::model::{entries_of, Entry, EntryKey, Source, State};
use policy_rules::snapshot::Snapshot;

/// What one refresh did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Refreshed {
    /// Entries the read held.
    pub entries: usize,
    /// Entries whose state differed from the model's newest (new, changed or missed by events).
    pub changed: usize,
    /// Store requests (reads and writes).
    pub store_requests: usize,
}

/// Records `snapshot`, read by the time `at` (epoch seconds), in the model.
pub async fn refresh(
    model: &dyn AccountModel,
    snapshot: &Snapshot,
    at: i64,
) -> Result<Refreshed, StoreError> {
    let states = entries_of(snapshot, at)
        .into_iter()
        .filter_map(|e| {
            let key = e.key;
            e.versions.into_iter().next().map(|v| (key, v.state))
        })
        .collect();
    refresh_states(model, states, at).await
}

/// Records states read by the time `at` in the model, each keeping its earlier states.
pub async fn refresh_states(
    model: &dyn AccountModel,
    states: Vec<(EntryKey, State)>,
    at: i64,
) -> Result<Refreshed, StoreError> {
    if states.is_empty() {
        return Ok(Refreshed::default());
    }
    let keys: Vec<EntryKey> = states.iter().map(|(k, _)| k.clone()).collect();
    let held = model.get(&keys).await?;
    let mut store_requests = keys.len().div_ceil(100);
    let mut changed = 0;
    let mut out: Vec<Entry> = Vec::with_capacity(states.len());
    for (key, mut state) in states {
        let mut entry = match held.iter().find(|(e, _)| e.key == key) {
            Some((e, _)) => e.clone(),
            None => Entry {
                key,
                versions: Vec::new(),
            },
        };
        if let Some(v) = entry.latest() {
            state.keep_credentials_of(&v.state);
        }
        if entry.latest().map(|v| &v.state) != Some(&state) {
            changed += 1;
        }
        entry.record_read(state, at, Source::Sweep);
        out.push(entry);
    }
    store_requests += model.put_many(&out).await?;
    Ok(Refreshed {
        entries: out.len(),
        changed,
        store_requests,
    })
}
