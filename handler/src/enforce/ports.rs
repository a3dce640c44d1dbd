//! The ports the enforcement flow keeps its state behind: the event ledger (idempotency on the
//! CloudTrail `eventID`, with the flow's saved progress), the evidence store (the hash chain), the
//! alert outbox (one incident per principal, so a burst of events gives one message) and the
//! notifier (SNS). They take and return Warden's types, never SDK types; the DynamoDB, S3 and SNS
//! adapters live in `stores/` (`dynamo.rs`, `sns.rs`, and the local file store for the CLI in
//! `evidence_file.rs`).

use crate::aws::AwsError;
use crate::enforce::alerts::{Alert, Incident, Notice};
use async_trait::async_trait;
use policy_rules::evidence::{Draft, Record};
use policy_rules::held::Held;
use policy_rules::model::{Entry, EntryKey};
use serde_json::Value;

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// Another writer moved the evidence head between the read and the conditional append, more
    /// times than the store retries.
    #[error("the evidence chain head kept moving during the append (contention); retry")]
    Contention,
    /// A claim or incident is no longer the writer's (its lease expired and another took it).
    #[error("`{0}` is no longer held by this worker")]
    Lost(String),
    /// What the store holds does not read.
    #[error("{0}")]
    Corrupt(String),
    /// A record is larger than the store can hold in one item.
    #[error("evidence record `{id}` is {bytes} bytes; a DynamoDB item holds at most {limit}")]
    TooLarge {
        id: String,
        bytes: usize,
        limit: usize,
    },
    #[error("{0}")]
    Io(String),
}

impl StoreError {
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Aws(e) => e.is_retryable(),
            StoreError::Contention | StoreError::Lost(_) => true,
            StoreError::Corrupt(_) | StoreError::Io(_) | StoreError::TooLarge { .. } => false,
        }
    }
}

/// The ledger's answer to a claim.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// First time: the event is now this worker's.
    Fresh,
    /// An earlier attempt stopped part-way (its lease ran out); its saved progress.
    Resume(Value),
    /// Already fully processed; the summary saved by `finish`.
    Done(Value),
    /// Another worker holds it until this time (epoch seconds).
    Busy { until: i64 },
}

/// Idempotency on the CloudTrail `eventID`, kept far longer than SQS's 5-minute dedup window.
#[async_trait]
pub trait Ledger: Send + Sync {
    /// Takes `event_id` for `owner` until `lease_until` (epoch seconds), with a conditional write.
    async fn claim(
        &self,
        event_id: &str,
        owner: &str,
        now: i64,
        lease_until: i64,
    ) -> Result<Claim, StoreError>;
    /// Saves the flow's progress; fails with `Lost` when the claim is no longer `owner`'s.
    async fn save(&self, event_id: &str, owner: &str, progress: &Value) -> Result<(), StoreError>;
    /// Marks the event done for good, with a summary.
    async fn finish(&self, event_id: &str, owner: &str, summary: &Value) -> Result<(), StoreError>;
}

/// The hash-chained evidence trail.
#[async_trait]
pub trait EvidenceStore: Send + Sync {
    /// Appends a record after the current head, conditional on the head not having moved (two
    /// writers cannot fork the chain), unless a record with the draft's id exists already: then that
    /// record is returned and nothing is written (a retried step writes its record once).
    async fn append(&self, draft: Draft) -> Result<Record, StoreError>;
    /// Appends drafts in order, as [`append`](Self::append) does each; a store that can writes them
    /// all in one conditional write (the DynamoDB store: one transaction for an event's records).
    async fn append_all(&self, drafts: Vec<Draft>) -> Result<Vec<Record>, StoreError> {
        let mut out = Vec::with_capacity(drafts.len());
        for draft in drafts {
            out.push(self.append(draft).await?);
        }
        Ok(out)
    }
    /// Every record, in sequence order.
    async fn list(&self) -> Result<Vec<Record>, StoreError>;
    async fn get(&self, id: &str) -> Result<Option<Record>, StoreError>;
    /// The newest record's `(seq, hash)` as the store keeps it apart from the records.
    async fn head(&self) -> Result<Option<(u64, String)>, StoreError>;
}

/// What Warden holds in force on each principal of the guarded account (its Denies, quarantines,
/// keys it deactivated, login profiles it removed): Warden's own record, from which every write of
/// its Deny is rendered and against which tampering is judged. Keyed by [`policy_rules::held::key`]
/// (account, kind and name: a name is unique in an account whatever its path); the record holds
/// the full ARN.
#[async_trait]
pub trait Holdings: Send + Sync {
    async fn get(&self, key: &str) -> Result<Option<Held>, StoreError>;
    /// Writes `held` if the stored version is still `held.version` (or there is none when it is
    /// 0), storing it as `held.version + 1`; `Contention` when another writer moved first.
    async fn put(&self, key: &str, held: &Held) -> Result<(), StoreError>;
    /// Every record, with its key.
    async fn list(&self) -> Result<Vec<(String, Held)>, StoreError>;
}

/// Warden's model of the guarded account ([`policy_rules::model`]): one entry per user, role,
/// group, managed policy, bucket or trail, each with its short history. The live path reads the
/// entries one event touches before deciding it and writes them back with the event applied, so
/// an event costs one read and one write; a sweep writes many at once.
#[async_trait]
pub trait AccountModel: Send + Sync {
    /// The entries among `keys` the model holds, each with the revision it is stored at.
    async fn get(&self, keys: &[EntryKey]) -> Result<Vec<(Entry, u64)>, StoreError>;
    /// Writes each entry if its stored revision is still the one given (0: none yet), all or
    /// none; `Contention` when another writer moved first.
    async fn put(&self, entries: &[(Entry, u64)]) -> Result<(), StoreError>;
    /// Writes the entries a sweep read, without conditions; returns the requests it took.
    async fn put_many(&self, entries: &[Entry]) -> Result<usize, StoreError>;
}

/// Alerts waiting to be sent, grouped into incidents.
#[async_trait]
pub trait Outbox: Send + Sync {
    /// Adds an event's notice to its principal's open incident, opening one when there is none.
    /// Idempotent on the notice's event id.
    async fn add(&self, notice: &Notice, now: i64) -> Result<(), StoreError>;
    /// The open incidents opened at least `window` seconds before `now`.
    async fn due(&self, now: i64, window: i64) -> Result<Vec<Incident>, StoreError>;
    /// Closes an incident as sent; the principal's next notice opens a new one.
    async fn sent(&self, incident: &Incident, message_id: &str, now: i64)
        -> Result<(), StoreError>;
}

/// Where alerts go.
#[async_trait]
pub trait Notifier: Send + Sync {
    /// Publishes one alert; returns the message id.
    async fn publish(&self, alert: &Alert) -> Result<String, StoreError>;
}
