//! The DynamoDB adapters of the store ports: the event ledger and the alert outbox in one *state*
//! table, the evidence chain in one *evidence* table (with an optional S3 Object Lock mirror).
//! [`table_definitions`] is the one place the schema lives; `warden init` creates the tables from it.
//! The ports and their meaning are in `store.rs`; the alert text in `alerts.rs`.
//!
//! Layout (every attribute name is a constant below):
//!
//! | table      | `pk` (S)            | `sk` (N) | what                                                        |
//! |------------|---------------------|----------|-------------------------------------------------------------|
//! | state      | `event#<eventID>`   | –        | ledger: `owner`, `lease_until`, `status` (`working`/`done`), `progress`, `summary` (canonical JSON), `expires_at` (TTL) |
//! | state      | `held#<key>`        | –        | what Warden holds in force on a principal: `held` (canonical JSON), `version` (N); no TTL |
//! | state      | `model#<account>#<entry>` | –  | the account model's entry (`policy_rules::model::Entry`): `entry` (canonical JSON), `version` (N); no TTL |
//! | state      | `sweep#current`     | –        | the running (or last) sweep's checkpoint: `checkpoint` (canonical JSON), `version` (N) |
//! | state      | `open#<principal>`  | –        | outbox pointer: `incident` (the principal's open incident id)                          |
//! | state      | `incident#<id>`     | –        | outbox incident: `principal`, `opened`, `status` (`open`/`sent`), `notices` (list of JSON), `event_ids` (string set), `open_gsi` while open, `expires_at` |
//! | state      | `watch#pipeline`    | –        | the pipeline's checkpoint per region and event source and heartbeat (`stores/watch.rs`); no TTL |
//! | evidence   | `chain`             | seq      | one record per item: `id`, `record` (its canonical JSON line)                          |
//! | evidence   | `id#<record id>`    | 0        | id uniqueness: `seq` of the record with that id                                        |
//! | evidence   | `head`              | 0        | the head: `head_seq`, `head_hash`, `record` (the head record's line, so an append reads once) |
//!
//! The state table has one global secondary index, `open_incidents` (`open_gsi` = `open`, sort key
//! `opened`), sparse: only open incidents carry `open_gsi`, so `due` is one Query, not a Scan. GSIs
//! are eventually consistent: an incident opened a moment ago can be missing from `due` until the
//! next run, which the batching window already tolerates. The chain lives in one partition: evidence
//! is written at the pace of enforcement (a few records per event), far below a partition's 1,000
//! writes per second.
//!
//! Not here: what the flow does with a claim, and what an alert says.

use crate::aws::{AwsError, Clients};
use crate::enforce::alerts::Incident;
use crate::enforce::alerts::Notice;
use crate::enforce::ports::{
    AccountModel, Claim, EvidenceStore, Holdings, Ledger, Outbox, StoreError,
};
use crate::sweep::run::{Checkpoint, Checkpoints};
use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, Put, ReturnValue, TransactWriteItem, Update,
};
use policy_rules::evidence::{append, canonical_json, Draft, Record};
use policy_rules::held::Held;
use policy_rules::model::{Entry, EntryKey};
use serde_json::Value;
use std::collections::HashMap;
use std::time::{Duration, SystemTime};

/// The partition key of both tables.
pub const PK: &str = "pk";
/// The sort key of the evidence table.
pub const SK: &str = "sk";
/// The state table's TTL attribute (epoch seconds).
pub const TTL_ATTRIBUTE: &str = "expires_at";
/// The state table's index of open incidents.
pub const OPEN_INDEX: &str = "open_incidents";
const OPEN_GSI: &str = "open_gsi";
const OPENED: &str = "opened";

/// How long ledger and outbox items live: 30 days, far past SQS's 5-minute deduplication window
/// (Amazon SQS Developer Guide, "Exactly-once processing in Amazon SQS").
pub const DEFAULT_TTL_SECONDS: i64 = 30 * 24 * 3600;

/// A key attribute's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    String,
    Number,
}

/// A secondary index, as `init` creates it (projection: all attributes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexDefinition {
    pub name: &'static str,
    pub hash_key: (&'static str, KeyType),
    pub range_key: Option<(&'static str, KeyType)>,
}

/// A table Warden needs, as `init` creates it (on-demand billing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDefinition {
    /// The configuration variable that names it.
    pub env: &'static str,
    pub name: String,
    pub hash_key: (&'static str, KeyType),
    pub range_key: Option<(&'static str, KeyType)>,
    pub indexes: Vec<IndexDefinition>,
    /// The TTL attribute, when items expire.
    pub ttl_attribute: Option<&'static str>,
}

/// The state table (`<prefix>-state`) and the evidence table (`<prefix>-evidence`).
pub fn table_definitions(prefix: &str) -> Vec<TableDefinition> {
    vec![
        TableDefinition {
            env: "WARDEN_STATE_TABLE",
            name: format!("{prefix}-state"),
            hash_key: (PK, KeyType::String),
            range_key: None,
            indexes: vec![IndexDefinition {
                name: OPEN_INDEX,
                hash_key: (OPEN_GSI, KeyType::String),
                range_key: Some((OPENED, KeyType::Number)),
            }],
            ttl_attribute: Some(TTL_ATTRIBUTE),
        },
        TableDefinition {
            env: "WARDEN_EVIDENCE_TABLE",
            name: format!("{prefix}-evidence"),
            hash_key: (PK, KeyType::String),
            range_key: Some((SK, KeyType::Number)),
            indexes: Vec::new(),
            // Evidence is kept: no TTL.
            ttl_attribute: None,
        },
    ]
}

pub(crate) type Item = HashMap<String, AttributeValue>;

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(crate) fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub(crate) fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

pub(crate) fn get_n(item: &Item, name: &str) -> Option<i64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

/// A request the SDK refused to build (a required field missing: a bug here, not in the store).
fn built<T>(r: Result<T, aws_sdk_dynamodb::error::BuildError>) -> Result<T, StoreError> {
    r.map_err(|e| corrupt(format!("building a DynamoDB request: {e}")))
}

fn json_attr(item: &Item, name: &str) -> Result<Value, StoreError> {
    match get_s(item, name) {
        None => Ok(Value::Null),
        Some(text) => serde_json::from_str(text)
            .map_err(|e| corrupt(format!("attribute `{name}` is not JSON: {e}"))),
    }
}

pub(crate) async fn get_item(
    clients: &Clients,
    table: &str,
    key: Item,
) -> Result<Option<Item>, StoreError> {
    let req = clients
        .dynamodb
        .get_item()
        .table_name(table)
        .set_key(Some(key))
        .consistent_read(true);
    let out = clients
        .caller
        .call("dynamodb", "GetItem", || req.clone().send())
        .await?;
    Ok(out.value.item)
}

/// Writes `item` (which carries `version = prev + 1`) if the stored item's `version` is still
/// `prev`, or there is none: one conditional `PutItem`; `Contention` when another writer moved
/// first. The optimistic write of every versioned item (held records, model entries, the sweep's
/// checkpoint).
async fn put_if_version(
    clients: &Clients,
    table: &str,
    item: Item,
    prev: u64,
) -> Result<(), StoreError> {
    let req = clients
        .dynamodb
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(#pk) OR #version = :prev")
        .expression_attribute_names("#pk", PK)
        .expression_attribute_names("#version", VERSION)
        .expression_attribute_values(":prev", n(prev));
    let written = conditional(
        clients
            .caller
            .call("dynamodb", "PutItem", || req.clone().send())
            .await,
    )?;
    written.map(|_| ()).ok_or(StoreError::Contention)
}

/// Every item of `table` whose key begins with `prefix` (a consistent `Scan`, every page), with the
/// requests it took.
async fn scan_prefix(
    clients: &Clients,
    table: &str,
    prefix: &str,
) -> Result<(Vec<Item>, usize), StoreError> {
    let mut out = Vec::new();
    let mut requests = 0;
    let mut start: Option<Item> = None;
    loop {
        let req = clients
            .dynamodb
            .scan()
            .table_name(table)
            .consistent_read(true)
            .filter_expression("begins_with(#pk, :prefix)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":prefix", s(prefix))
            .set_exclusive_start_key(start.take());
        let page = clients
            .caller
            .call("dynamodb", "Scan", || req.clone().send())
            .await?
            .value;
        requests += 1;
        out.extend(page.items.unwrap_or_default());
        match page.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => break,
        }
    }
    Ok((out, requests))
}

/// Splits the result of a conditional write into written (`Some`), condition failed (`None`) and
/// any other failure.
pub(crate) fn conditional<T>(r: Result<T, AwsError>) -> Result<Option<T>, StoreError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_condition_failed() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// Holdings

const HELD: &str = "held";
const VERSION: &str = "version";

/// What Warden holds in force, one item per principal in the state table (kept: no TTL).
///
/// API calls: `get` is one consistent `GetItem`; `put` one conditional `PutItem`.
#[derive(Clone)]
pub struct DynamoHoldings {
    clients: Clients,
    table: String,
}

impl DynamoHoldings {
    pub fn new(clients: Clients, table: impl Into<String>) -> Self {
        Self {
            clients,
            table: table.into(),
        }
    }

    fn key(key: &str) -> Item {
        HashMap::from([(PK.to_owned(), s(format!("held#{key}")))])
    }
}

/// A `held#…` item's record, with the version it is stored at.
fn held_of(item: &Item, key: &str) -> Result<Held, StoreError> {
    let mut held: Held = serde_json::from_value(json_attr(item, HELD)?)
        .map_err(|e| corrupt(format!("held record `{key}` does not read: {e}")))?;
    held.version = get_n(item, VERSION)
        .and_then(|v| u64::try_from(v).ok())
        .unwrap_or(0);
    Ok(held)
}

#[async_trait]
impl Holdings for DynamoHoldings {
    async fn get(&self, key: &str) -> Result<Option<Held>, StoreError> {
        let Some(item) = get_item(&self.clients, &self.table, Self::key(key)).await? else {
            return Ok(None);
        };
        held_of(&item, key).map(Some)
    }

    async fn put(&self, key: &str, held: &Held) -> Result<(), StoreError> {
        let body = serde_json::to_value(held).map_err(|e| corrupt(e.to_string()))?;
        let mut item = Self::key(key);
        item.insert(HELD.to_owned(), s(canonical_json(&body)));
        item.insert(VERSION.to_owned(), n(held.version + 1));
        put_if_version(&self.clients, &self.table, item, held.version).await
    }

    async fn list(&self) -> Result<Vec<(String, Held)>, StoreError> {
        let (items, _) = scan_prefix(&self.clients, &self.table, "held#").await?;
        let mut out = Vec::new();
        for item in &items {
            let Some(key) = get_s(item, PK).and_then(|k| k.strip_prefix("held#")) else {
                continue;
            };
            out.push((key.to_owned(), held_of(item, key)?));
        }
        Ok(out)
    }
}

// ---------------------------------------------------------------------------------------------
// The account model

const ENTRY: &str = "entry";
/// The largest entry written as it is; a bigger one keeps fewer earlier states (DynamoDB's 400 KB
/// item limit, less room for the key: Amazon DynamoDB Developer Guide, "Quotas": item size).
const ENTRY_LIMIT: usize = 380 * 1024;
/// BatchGetItem reads at most 100 keys, BatchWriteItem writes at most 25 items, a transaction
/// holds at most 100 (Amazon DynamoDB Developer Guide, "Quotas": API-specific limits).
const BATCH_GET: usize = 100;
const BATCH_WRITE: usize = 25;

/// The account model in the state table, one item per entry.
///
/// API calls: `get` is one consistent `BatchGetItem` per 100 keys (plus one per unprocessed
/// remainder); `put` one conditional `PutItem` for one entry, one `TransactWriteItems` for more;
/// `put_many` one `BatchWriteItem` per 25 entries; `all` one `Scan` page per MB of the state table
/// (the filter keeps the model's items).
#[derive(Clone)]
pub struct DynamoModel {
    clients: Clients,
    table: String,
    account: String,
}

impl DynamoModel {
    pub fn new(clients: Clients, table: impl Into<String>, account: impl Into<String>) -> Self {
        Self {
            clients,
            table: table.into(),
            account: account.into(),
        }
    }

    fn key(&self, key: &EntryKey) -> Item {
        HashMap::from([(
            PK.to_owned(),
            s(format!("model#{}#{}", self.account, key.as_str())),
        )])
    }

    /// The entry's item: its JSON, trimmed of its oldest states until it fits in an item.
    fn item(&self, entry: &Entry, version: u64) -> Result<Item, StoreError> {
        let mut entry = entry.clone();
        let mut text = entry_json(&entry)?;
        while text.len() > ENTRY_LIMIT && entry.versions.len() > 1 {
            entry.versions.remove(0);
            text = entry_json(&entry)?;
        }
        if text.len() > ENTRY_LIMIT {
            return Err(StoreError::TooLarge {
                id: entry.key.to_string(),
                bytes: text.len(),
                limit: ENTRY_LIMIT,
            });
        }
        let mut item = self.key(&entry.key);
        item.insert(ENTRY.to_owned(), s(text));
        item.insert(VERSION.to_owned(), n(version));
        Ok(item)
    }
}

fn entry_json(entry: &Entry) -> Result<String, StoreError> {
    let body = serde_json::to_value(entry).map_err(|e| corrupt(e.to_string()))?;
    Ok(canonical_json(&body))
}

fn entry_of(item: &Item) -> Result<(Entry, u64), StoreError> {
    let key = get_s(item, PK).unwrap_or("?").to_owned();
    let entry: Entry = serde_json::from_value(json_attr(item, ENTRY)?)
        .map_err(|e| corrupt(format!("model entry `{key}` does not read: {e}")))?;
    let version = get_n(item, VERSION)
        .and_then(|v| u64::try_from(v).ok())
        .unwrap_or(0);
    Ok((entry, version))
}

#[async_trait]
impl AccountModel for DynamoModel {
    async fn get(&self, keys: &[EntryKey]) -> Result<Vec<(Entry, u64)>, StoreError> {
        let mut out = Vec::new();
        let mut unique: Vec<&EntryKey> = keys.iter().collect();
        unique.sort();
        unique.dedup();
        for chunk in unique.chunks(BATCH_GET) {
            let mut pending: Vec<Item> = chunk.iter().map(|k| self.key(k)).collect();
            while !pending.is_empty() {
                let ask = built(
                    aws_sdk_dynamodb::types::KeysAndAttributes::builder()
                        .set_keys(Some(std::mem::take(&mut pending)))
                        .consistent_read(true)
                        .build(),
                )?;
                let req = self
                    .clients
                    .dynamodb
                    .batch_get_item()
                    .request_items(&self.table, ask);
                let page = self
                    .clients
                    .caller
                    .call("dynamodb", "BatchGetItem", || req.clone().send())
                    .await?
                    .value;
                if let Some(items) = page.responses.as_ref().and_then(|r| r.get(&self.table)) {
                    for item in items {
                        out.push(entry_of(item)?);
                    }
                }
                pending = page
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                    .map(|k| k.keys)
                    .unwrap_or_default();
            }
        }
        Ok(out)
    }

    async fn put(&self, entries: &[(Entry, u64)]) -> Result<(), StoreError> {
        match entries {
            [] => Ok(()),
            [(entry, version)] => {
                let item = self.item(entry, version + 1)?;
                put_if_version(&self.clients, &self.table, item, *version).await
            }
            many => {
                let mut items = Vec::new();
                for (entry, version) in many {
                    let put = built(
                        Put::builder()
                            .table_name(&self.table)
                            .set_item(Some(self.item(entry, version + 1)?))
                            .condition_expression("attribute_not_exists(#pk) OR #version = :prev")
                            .expression_attribute_names("#pk", PK)
                            .expression_attribute_names("#version", VERSION)
                            .expression_attribute_values(":prev", n(*version))
                            .build(),
                    )?;
                    items.push(TransactWriteItem::builder().put(put).build());
                }
                let req = self
                    .clients
                    .dynamodb
                    .transact_write_items()
                    .set_transact_items(Some(items));
                match self
                    .clients
                    .caller
                    .call("dynamodb", "TransactWriteItems", || req.clone().send())
                    .await
                {
                    Ok(_) => Ok(()),
                    Err(e) if e.code.as_deref() == Some("TransactionCanceledException") => {
                        Err(StoreError::Contention)
                    }
                    Err(e) => Err(e.into()),
                }
            }
        }
    }

    async fn all(&self) -> Result<(Vec<Entry>, usize), StoreError> {
        let prefix = format!("model#{}#", self.account);
        let (items, requests) = scan_prefix(&self.clients, &self.table, &prefix).await?;
        let entries = items
            .iter()
            .map(|i| entry_of(i).map(|(e, _)| e))
            .collect::<Result<_, _>>()?;
        Ok((entries, requests))
    }

    async fn put_many(&self, entries: &[Entry]) -> Result<usize, StoreError> {
        let mut requests = 0;
        for chunk in entries.chunks(BATCH_WRITE) {
            let mut pending = Vec::new();
            for entry in chunk {
                let put = built(
                    aws_sdk_dynamodb::types::PutRequest::builder()
                        .set_item(Some(self.item(entry, 1)?))
                        .build(),
                )?;
                pending.push(
                    aws_sdk_dynamodb::types::WriteRequest::builder()
                        .put_request(put)
                        .build(),
                );
            }
            while !pending.is_empty() {
                let req = self
                    .clients
                    .dynamodb
                    .batch_write_item()
                    .request_items(&self.table, std::mem::take(&mut pending));
                let out = self
                    .clients
                    .caller
                    .call("dynamodb", "BatchWriteItem", || req.clone().send())
                    .await?
                    .value;
                requests += 1;
                pending = out
                    .unprocessed_items
                    .and_then(|mut u| u.remove(&self.table))
                    .unwrap_or_default();
            }
        }
        Ok(requests)
    }
}

// ---------------------------------------------------------------------------------------------
// The sweep's checkpoint

const CHECKPOINT: &str = "checkpoint";

/// The current sweep's checkpoint in the state table (`sweep#current`).
///
/// API calls: `get` one consistent `GetItem`; `put` one conditional `PutItem`.
#[derive(Clone)]
pub struct DynamoCheckpoints {
    clients: Clients,
    table: String,
}

impl DynamoCheckpoints {
    pub fn new(clients: Clients, table: impl Into<String>) -> Self {
        Self {
            clients,
            table: table.into(),
        }
    }

    fn key() -> Item {
        HashMap::from([(PK.to_owned(), s("sweep#current"))])
    }
}

#[async_trait]
impl Checkpoints for DynamoCheckpoints {
    async fn get(&self) -> Result<Option<Checkpoint>, StoreError> {
        let Some(item) = get_item(&self.clients, &self.table, Self::key()).await? else {
            return Ok(None);
        };
        let mut c: Checkpoint = serde_json::from_value(json_attr(&item, CHECKPOINT)?)
            .map_err(|e| corrupt(format!("the sweep checkpoint does not read: {e}")))?;
        c.version = get_n(&item, VERSION)
            .and_then(|v| u64::try_from(v).ok())
            .unwrap_or(0);
        Ok(Some(c))
    }

    async fn put(&self, checkpoint: &Checkpoint) -> Result<(), StoreError> {
        let body = serde_json::to_value(checkpoint).map_err(|e| corrupt(e.to_string()))?;
        let mut item = Self::key();
        item.insert(CHECKPOINT.to_owned(), s(canonical_json(&body)));
        item.insert(VERSION.to_owned(), n(checkpoint.version + 1));
        put_if_version(&self.clients, &self.table, item, checkpoint.version).await
    }
}

// ---------------------------------------------------------------------------------------------
// Ledger

const STATUS: &str = "status";
const OWNER: &str = "owner";
const LEASE_UNTIL: &str = "lease_until";
const PROGRESS: &str = "progress";
const SUMMARY: &str = "summary";
const WORKING: &str = "working";
const DONE: &str = "done";

/// The event ledger in the state table: one item per CloudTrail `eventID`.
///
/// API calls: `claim` is one conditional `UpdateItem` when the event is fresh or resumable, and one
/// more `GetItem` when it is done or busy; `save` and `finish` are one conditional `UpdateItem` each.
#[derive(Clone)]
pub struct DynamoLedger {
    clients: Clients,
    table: String,
    ttl_seconds: i64,
}

impl DynamoLedger {
    pub fn new(clients: Clients, table: impl Into<String>) -> Self {
        Self {
            clients,
            table: table.into(),
            ttl_seconds: DEFAULT_TTL_SECONDS,
        }
    }

    /// How long an event is remembered after its claim (default 30 days).
    pub fn with_ttl_seconds(mut self, seconds: i64) -> Self {
        self.ttl_seconds = seconds;
        self
    }

    fn key(event_id: &str) -> Item {
        HashMap::from([(PK.to_owned(), s(format!("event#{event_id}")))])
    }

    /// An `UpdateItem` on the event's item.
    fn update(&self, event_id: &str) -> UpdateItemFluentBuilder {
        self.clients
            .dynamodb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(event_id)))
    }

    /// Sends an update conditional on the event being this owner's: when the condition fails, the
    /// event is no longer held.
    async fn update_held(
        &self,
        event_id: &str,
        req: UpdateItemFluentBuilder,
    ) -> Result<(), StoreError> {
        conditional(
            self.clients
                .caller
                .call("dynamodb", "UpdateItem", || req.clone().send())
                .await,
        )?
        .map(drop)
        .ok_or_else(|| StoreError::Lost(event_id.to_owned()))
    }
}

#[async_trait]
impl Ledger for DynamoLedger {
    async fn claim(
        &self,
        event_id: &str,
        owner: &str,
        now: i64,
        lease_until: i64,
    ) -> Result<Claim, StoreError> {
        // Fresh, or not done and (the lease ran out, or it is this owner's already).
        let req = self
            .update(event_id)
            .condition_expression(
                "attribute_not_exists(#pk) OR (#status <> :done AND (#lease <= :now OR #owner = :owner))",
            )
            .update_expression(
                "SET #owner = :owner, #lease = :lease, #status = :working, #ttl = :ttl",
            )
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_names("#lease", LEASE_UNTIL)
            .expression_attribute_names("#owner", OWNER)
            .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
            .expression_attribute_values(":done", s(DONE))
            .expression_attribute_values(":working", s(WORKING))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":owner", s(owner))
            .expression_attribute_values(":lease", n(lease_until))
            .expression_attribute_values(":ttl", n(now.saturating_add(self.ttl_seconds)))
            .return_values(ReturnValue::AllOld);
        let written = conditional(
            self.clients
                .caller
                .call("dynamodb", "UpdateItem", || req.clone().send())
                .await,
        )?;
        if let Some(out) = written {
            return match out.value.attributes {
                Some(old) if !old.is_empty() => Ok(Claim::Resume(json_attr(&old, PROGRESS)?)),
                _ => Ok(Claim::Fresh),
            };
        }
        // The condition failed: done, or someone else's live lease.
        let Some(item) = get_item(&self.clients, &self.table, Self::key(event_id)).await? else {
            // Gone between the two calls (TTL): the caller retries the claim.
            return Err(StoreError::Lost(event_id.to_owned()));
        };
        if get_s(&item, STATUS) == Some(DONE) {
            Ok(Claim::Done(json_attr(&item, SUMMARY)?))
        } else {
            Ok(Claim::Busy {
                until: get_n(&item, LEASE_UNTIL).unwrap_or(now),
            })
        }
    }

    async fn save(&self, event_id: &str, owner: &str, progress: &Value) -> Result<(), StoreError> {
        let req = self
            .update(event_id)
            .condition_expression("#owner = :owner AND #status = :working")
            .update_expression("SET #progress = :progress")
            .expression_attribute_names("#owner", OWNER)
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_names("#progress", PROGRESS)
            .expression_attribute_values(":owner", s(owner))
            .expression_attribute_values(":working", s(WORKING))
            .expression_attribute_values(":progress", s(canonical_json(progress)));
        self.update_held(event_id, req).await
    }

    async fn finish(&self, event_id: &str, owner: &str, summary: &Value) -> Result<(), StoreError> {
        // Finishing twice (a retried call) is allowed: the condition is on the owner only.
        let req = self
            .update(event_id)
            .condition_expression("#owner = :owner")
            .update_expression("SET #status = :done, #summary = :summary REMOVE #progress")
            .expression_attribute_names("#owner", OWNER)
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_names("#summary", SUMMARY)
            .expression_attribute_names("#progress", PROGRESS)
            .expression_attribute_values(":owner", s(owner))
            .expression_attribute_values(":done", s(DONE))
            .expression_attribute_values(":summary", s(canonical_json(summary)));
        self.update_held(event_id, req).await
    }
}

// ---------------------------------------------------------------------------------------------
// Evidence

const CHAIN: &str = "chain";
const HEAD: &str = "head";
const RECORD: &str = "record";
const HEAD_SEQ: &str = "head_seq";
const HEAD_HASH: &str = "head_hash";
const RECORD_ID: &str = "id";
const RECORD_SEQ: &str = "seq";
/// The longest record line an evidence item takes: DynamoDB's 400 KB item limit, less room for the
/// key and attribute names (Amazon DynamoDB Developer Guide, "Quotas": item size).
pub const MAX_RECORD_BYTES: usize = 390_000;
/// Records per evidence transaction: 2 items each and the head, within DynamoDB's 100 items.
pub const MAX_RECORDS_PER_TRANSACTION: usize = 32;
/// Record bodies per evidence transaction, well within DynamoDB's 4 MB (each line is written
/// twice when it is the last: in the chain and in the head).
const MAX_TRANSACTION_BYTES: usize = 1_500_000;

/// Object Lock retention mode of the mirror (Amazon S3 User Guide, "Object Lock retention modes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// Users with `s3:BypassGovernanceRetention` can still delete: the default.
    Governance,
    /// Nobody, the root user included, can delete before the date.
    Compliance,
}

/// Where appended records are also written, one locked object each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceMirror {
    pub bucket: String,
    pub mode: LockMode,
    pub retain_days: u32,
}

impl EvidenceMirror {
    /// Governance mode, 365 days.
    pub fn new(bucket: impl Into<String>) -> Self {
        Self {
            bucket: bucket.into(),
            mode: LockMode::Governance,
            retain_days: 365,
        }
    }

    /// The object key of a record: `evidence/<seq, 20 digits>-<id>.json`, so keys sort as the chain.
    pub fn key(record: &Record) -> String {
        format!("evidence/{:020}-{}.json", record.seq, record.id)
    }
}

/// The evidence chain in the evidence table.
///
/// API calls per `append`: one `GetItem` (the head, which carries the head record) and one
/// `TransactWriteItems` (record, id, head), plus one `PutObject` with a mirror; each lost race
/// repeats the pair after one more `GetItem` (the id check). An append of an id already stored is a
/// `GetItem` of the head, the cancelled transaction, and two `GetItem`s (id, record).
#[derive(Clone)]
pub struct DynamoEvidence {
    clients: Clients,
    table: String,
    mirror: Option<EvidenceMirror>,
    max_attempts: u32,
}

impl DynamoEvidence {
    pub fn new(clients: Clients, table: impl Into<String>) -> Self {
        Self {
            clients,
            table: table.into(),
            mirror: None,
            max_attempts: 32,
        }
    }

    /// Also writes each appended record to S3 with Object Lock retention.
    pub fn with_mirror(mut self, mirror: EvidenceMirror) -> Self {
        self.mirror = Some(mirror);
        self
    }

    /// How many times an append re-reads the head after losing a race (default 32).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    fn key(pk: &str, sk: u64) -> Item {
        HashMap::from([(PK.to_owned(), s(pk)), (SK.to_owned(), n(sk))])
    }

    fn parse_record(item: &Item) -> Result<Record, StoreError> {
        let line =
            get_s(item, RECORD).ok_or_else(|| corrupt("an evidence item has no `record`"))?;
        serde_json::from_str(line)
            .map_err(|e| corrupt(format!("an evidence record does not read: {e}")))
    }

    async fn head_record(&self) -> Result<Option<Record>, StoreError> {
        get_item(&self.clients, &self.table, Self::key(HEAD, 0))
            .await?
            .map(|item| Self::parse_record(&item))
            .transpose()
    }

    /// Writes `records` (consecutive, the first after `prev`) and moves the head to the last, all
    /// or nothing, in one transaction. `Ok(false)`: a condition failed.
    async fn try_write(
        &self,
        prev: Option<&Record>,
        records: &[Record],
    ) -> Result<bool, StoreError> {
        let Some(last) = records.last() else {
            return Ok(true);
        };
        let mut req = self.clients.dynamodb.transact_write_items();
        for record in records {
            let line = record.to_line();
            if line.len() > MAX_RECORD_BYTES {
                return Err(StoreError::TooLarge {
                    id: record.id.clone(),
                    bytes: line.len(),
                    limit: MAX_RECORD_BYTES,
                });
            }
            let put_record = built(
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(Self::key(CHAIN, record.seq)))
                    .item(RECORD_ID, s(&record.id))
                    .item(RECORD, s(line))
                    .condition_expression("attribute_not_exists(#pk)")
                    .expression_attribute_names("#pk", PK)
                    .build(),
            )?;
            let put_id = built(
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(Self::key(&format!("id#{}", record.id), 0)))
                    .item(RECORD_SEQ, n(record.seq))
                    .condition_expression("attribute_not_exists(#pk)")
                    .expression_attribute_names("#pk", PK)
                    .build(),
            )?;
            req = req
                .transact_items(TransactWriteItem::builder().put(put_record).build())
                .transact_items(TransactWriteItem::builder().put(put_id).build());
        }
        let head = Put::builder()
            .table_name(&self.table)
            .set_item(Some(Self::key(HEAD, 0)))
            .item(HEAD_SEQ, n(last.seq))
            .item(HEAD_HASH, s(&last.hash))
            .item(RECORD, s(last.to_line()));
        // INVARIANT (evidence-no-fork): the head moves only from the seq this append read.
        let head = built(
            match prev {
                None => head
                    .condition_expression("attribute_not_exists(#pk)")
                    .expression_attribute_names("#pk", PK),
                Some(p) => head
                    .condition_expression("#seq = :seq")
                    .expression_attribute_names("#seq", HEAD_SEQ)
                    .expression_attribute_values(":seq", n(p.seq)),
            }
            .build(),
        )?;
        let req = req.transact_items(TransactWriteItem::builder().put(head).build());
        Ok(conditional(
            self.clients
                .caller
                .call("dynamodb", "TransactWriteItems", || req.clone().send())
                .await,
        )?
        .is_some())
    }

    /// Backs off after a lost race: full jitter, capped at 160 ms (the head moves in milliseconds).
    async fn back_off(attempt: u32) {
        let cap = Duration::from_millis(5u64.saturating_mul(1 << attempt.min(5)));
        tokio::time::sleep(cap.mul_f64(fastrand::f64())).await;
    }

    async fn mirror(&self, record: &Record, only_if_missing: bool) -> Result<(), StoreError> {
        let Some(m) = &self.mirror else {
            return Ok(());
        };
        let key = EvidenceMirror::key(record);
        if only_if_missing {
            let head = self.clients.s3.head_object().bucket(&m.bucket).key(&key);
            match self
                .clients
                .caller
                .call("s3", "HeadObject", || head.clone().send())
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        let until = SystemTime::now() + Duration::from_secs(u64::from(m.retain_days) * 86_400);
        let mode = match m.mode {
            LockMode::Governance => aws_sdk_s3::types::ObjectLockMode::Governance,
            LockMode::Compliance => aws_sdk_s3::types::ObjectLockMode::Compliance,
        };
        let body = record.to_line().into_bytes();
        let retain_until = aws_smithy_types::DateTime::from(until);
        self.clients
            .caller
            .call("s3", "PutObject", || {
                self.clients
                    .s3
                    .put_object()
                    .bucket(&m.bucket)
                    .key(&key)
                    .content_type("application/json")
                    .object_lock_mode(mode.clone())
                    .object_lock_retain_until_date(retain_until)
                    .body(aws_sdk_s3::primitives::ByteStream::from(body.clone()))
                    .send()
            })
            .await?;
        Ok(())
    }
}

#[async_trait]
impl EvidenceStore for DynamoEvidence {
    async fn append(&self, draft: Draft) -> Result<Record, StoreError> {
        for attempt in 0..self.max_attempts {
            let prev = self.head_record().await?;
            let record = append(prev.as_ref(), draft.clone());
            if self
                .try_write(prev.as_ref(), std::slice::from_ref(&record))
                .await?
            {
                self.mirror(&record, false).await?;
                return Ok(record);
            }
            // Lost a race, or the id is taken: a stored record with this id is the answer.
            if let Some(stored) = self.get(&draft.id).await? {
                // A mirror write that failed after the transaction is made up here.
                self.mirror(&stored, true).await?;
                return Ok(stored);
            }
            Self::back_off(attempt).await;
        }
        Err(StoreError::Contention)
    }

    /// One transaction for the drafts (2 items each and the head: at most
    /// [`MAX_RECORDS_PER_TRANSACTION`] records, within DynamoDB's 100 items and 4 MB), so an event's
    /// records cost one head read and one write. When a draft's id is stored already (a retry after
    /// a lost answer), each draft goes through [`append`](EvidenceStore::append) instead, which
    /// returns stored records and writes the rest.
    async fn append_all(&self, drafts: Vec<Draft>) -> Result<Vec<Record>, StoreError> {
        let lines: usize = drafts.iter().map(|d| d.body.to_string().len()).sum();
        let fits = drafts.len() <= MAX_RECORDS_PER_TRANSACTION && lines <= MAX_TRANSACTION_BYTES;
        if drafts.len() > 1 && fits {
            for attempt in 0..self.max_attempts {
                let prev = self.head_record().await?;
                let mut records: Vec<Record> = Vec::with_capacity(drafts.len());
                for draft in &drafts {
                    let after = records.last().or(prev.as_ref());
                    records.push(append(after, draft.clone()));
                }
                if self.try_write(prev.as_ref(), &records).await? {
                    for record in &records {
                        self.mirror(record, false).await?;
                    }
                    return Ok(records);
                }
                let mut stored = false;
                for draft in &drafts {
                    if self.get(&draft.id).await?.is_some() {
                        stored = true;
                        break;
                    }
                }
                if stored {
                    break;
                }
                Self::back_off(attempt).await;
            }
        }
        let mut out = Vec::with_capacity(drafts.len());
        for draft in drafts {
            out.push(self.append(draft).await?);
        }
        Ok(out)
    }

    async fn list(&self) -> Result<Vec<Record>, StoreError> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let req = self
                .clients
                .dynamodb
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :chain")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_values(":chain", s(CHAIN))
                .consistent_read(true)
                .scan_index_forward(true)
                .set_exclusive_start_key(start.take());
            let page = self
                .clients
                .caller
                .call("dynamodb", "Query", || req.clone().send())
                .await?
                .value;
            for item in page.items() {
                out.push(Self::parse_record(item)?);
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        Ok(out)
    }

    async fn get(&self, id: &str) -> Result<Option<Record>, StoreError> {
        let Some(pointer) = get_item(
            &self.clients,
            &self.table,
            Self::key(&format!("id#{id}"), 0),
        )
        .await?
        else {
            return Ok(None);
        };
        let seq = get_n(&pointer, RECORD_SEQ)
            .and_then(|v| u64::try_from(v).ok())
            .ok_or_else(|| corrupt(format!("the id item of `{id}` has no `seq`")))?;
        let item = get_item(&self.clients, &self.table, Self::key(CHAIN, seq))
            .await?
            .ok_or_else(|| {
                corrupt(format!(
                    "record `{id}` (seq {seq}) is missing from the chain"
                ))
            })?;
        Self::parse_record(&item).map(Some)
    }

    async fn head(&self) -> Result<Option<(u64, String)>, StoreError> {
        let Some(item) = get_item(&self.clients, &self.table, Self::key(HEAD, 0)).await? else {
            return Ok(None);
        };
        let seq = get_n(&item, HEAD_SEQ)
            .and_then(|v| u64::try_from(v).ok())
            .ok_or_else(|| corrupt("the head item has no `head_seq`"))?;
        let hash =
            get_s(&item, HEAD_HASH).ok_or_else(|| corrupt("the head item has no `head_hash`"))?;
        Ok(Some((seq, hash.to_owned())))
    }
}

// ---------------------------------------------------------------------------------------------
// Outbox

const INCIDENT: &str = "incident";
const PRINCIPAL: &str = "principal";
const NOTICES: &str = "notices";
const EVENT_IDS: &str = "event_ids";
const MESSAGE_ID: &str = "message_id";
const SENT_AT: &str = "sent_at";
const OPEN: &str = "open";
const SENT: &str = "sent";

/// The alert outbox in the state table: per principal, a pointer to its open incident, created
/// conditionally, and the incident item that collects the notices.
///
/// API calls: `add` is one `GetItem` (the pointer) and one conditional `UpdateItem` (append to the
/// open incident), or one `TransactWriteItems` (pointer and incident) when none is open; a notice
/// already in the incident costs one more `GetItem`. `due` is one `Query` per page of the
/// open-incidents index. `sent` is one `TransactWriteItems` (close the incident, drop the pointer).
#[derive(Clone)]
pub struct DynamoOutbox {
    clients: Clients,
    table: String,
    ttl_seconds: i64,
}

impl DynamoOutbox {
    pub fn new(clients: Clients, table: impl Into<String>) -> Self {
        Self {
            clients,
            table: table.into(),
            ttl_seconds: DEFAULT_TTL_SECONDS,
        }
    }

    fn pointer_key(principal: &str) -> Item {
        HashMap::from([(PK.to_owned(), s(format!("open#{principal}")))])
    }

    fn incident_key(id: &str) -> Item {
        HashMap::from([(PK.to_owned(), s(format!("incident#{id}")))])
    }

    fn parse_incident(item: &Item) -> Result<Incident, StoreError> {
        let pk = get_s(item, PK).unwrap_or_default();
        let id = pk
            .strip_prefix("incident#")
            .ok_or_else(|| corrupt(format!("`{pk}` is not an incident item")))?;
        let notices = match item.get(NOTICES) {
            Some(AttributeValue::L(list)) => list
                .iter()
                .map(|v| {
                    v.as_s()
                        .map_err(|_| corrupt(format!("incident `{id}`: a notice is not a string")))
                        .and_then(|t| {
                            serde_json::from_str::<Notice>(t).map_err(|e| {
                                corrupt(format!("incident `{id}`: a notice does not read: {e}"))
                            })
                        })
                })
                .collect::<Result<Vec<_>, _>>()?,
            _ => Vec::new(),
        };
        Ok(Incident {
            id: id.to_owned(),
            principal: get_s(item, PRINCIPAL).unwrap_or_default().to_owned(),
            opened: get_n(item, OPENED).unwrap_or(0),
            notices,
        })
    }

    fn notice_json(notice: &Notice) -> Result<String, StoreError> {
        serde_json::to_string(notice).map_err(|e| corrupt(format!("a notice does not encode: {e}")))
    }

    /// Opens an incident holding `notice`. `Ok(false)`: another writer opened one first.
    async fn open(&self, notice: &Notice, now: i64) -> Result<bool, StoreError> {
        let id = policy_rules::evidence::deterministic_id(&[
            "incident",
            &notice.principal,
            &notice.event_id,
            &now.to_string(),
        ]);
        let ttl = n(now.saturating_add(self.ttl_seconds));
        let pointer = built(
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(Self::pointer_key(&notice.principal)))
                .item(INCIDENT, s(&id))
                .item(TTL_ATTRIBUTE, ttl.clone())
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK)
                .build(),
        )?;
        let incident = built(
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(Self::incident_key(&id)))
                .item(PRINCIPAL, s(&notice.principal))
                .item(OPENED, n(now))
                .item(STATUS, s(OPEN))
                .item(OPEN_GSI, s(OPEN))
                .item(
                    NOTICES,
                    AttributeValue::L(vec![s(Self::notice_json(notice)?)]),
                )
                .item(EVENT_IDS, AttributeValue::Ss(vec![notice.event_id.clone()]))
                .item(TTL_ATTRIBUTE, ttl)
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK)
                .build(),
        )?;
        let req = self
            .clients
            .dynamodb
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(pointer).build())
            .transact_items(TransactWriteItem::builder().put(incident).build());
        Ok(conditional(
            self.clients
                .caller
                .call("dynamodb", "TransactWriteItems", || req.clone().send())
                .await,
        )?
        .is_some())
    }

    /// Appends `notice` to open incident `id`. `Ok(false)`: the incident is no longer open or
    /// already holds the notice.
    async fn append_notice(&self, id: &str, notice: &Notice) -> Result<bool, StoreError> {
        let req = self
            .clients
            .dynamodb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::incident_key(id)))
            .condition_expression("#status = :open AND NOT contains(#ids, :id)")
            .update_expression("SET #notices = list_append(#notices, :notice) ADD #ids :ids")
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_names("#ids", EVENT_IDS)
            .expression_attribute_names("#notices", NOTICES)
            .expression_attribute_values(":open", s(OPEN))
            .expression_attribute_values(":id", s(&notice.event_id))
            .expression_attribute_values(":ids", AttributeValue::Ss(vec![notice.event_id.clone()]))
            .expression_attribute_values(
                ":notice",
                AttributeValue::L(vec![s(Self::notice_json(notice)?)]),
            );
        Ok(conditional(
            self.clients
                .caller
                .call("dynamodb", "UpdateItem", || req.clone().send())
                .await,
        )?
        .is_some())
    }
}

#[async_trait]
impl Outbox for DynamoOutbox {
    async fn add(&self, notice: &Notice, now: i64) -> Result<(), StoreError> {
        // Each pass either writes or learns that another writer moved first; a handful is plenty.
        for _ in 0..8 {
            let pointer = get_item(
                &self.clients,
                &self.table,
                Self::pointer_key(&notice.principal),
            )
            .await?;
            let Some(id) = pointer.as_ref().and_then(|p| get_s(p, INCIDENT)) else {
                if self.open(notice, now).await? {
                    return Ok(());
                }
                continue;
            };
            if self.append_notice(id, notice).await? {
                return Ok(());
            }
            // Already in it (a duplicate: done), or the incident was sent meanwhile (go again).
            let incident = get_item(&self.clients, &self.table, Self::incident_key(id)).await?;
            let holds = incident.as_ref().is_some_and(|i| match i.get(EVENT_IDS) {
                Some(AttributeValue::Ss(ids)) => ids.contains(&notice.event_id),
                _ => false,
            });
            if holds {
                return Ok(());
            }
        }
        Err(StoreError::Contention)
    }

    async fn due(&self, now: i64, window: i64) -> Result<Vec<Incident>, StoreError> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let req = self
                .clients
                .dynamodb
                .query()
                .table_name(&self.table)
                .index_name(OPEN_INDEX)
                .key_condition_expression("#gsi = :open AND #opened <= :latest")
                .expression_attribute_names("#gsi", OPEN_GSI)
                .expression_attribute_names("#opened", OPENED)
                .expression_attribute_values(":open", s(OPEN))
                .expression_attribute_values(":latest", n(now.saturating_sub(window.max(0))))
                .set_exclusive_start_key(start.take());
            let page = self
                .clients
                .caller
                .call("dynamodb", "Query", || req.clone().send())
                .await?
                .value;
            for item in page.items() {
                out.push(Self::parse_incident(item)?);
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        out.sort_by(|a, b| (a.opened, &a.id).cmp(&(b.opened, &b.id)));
        Ok(out)
    }

    async fn sent(
        &self,
        incident: &Incident,
        message_id: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let close = built(
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(Self::incident_key(&incident.id)))
                // A retried `sent` with the same message id succeeds again.
                .condition_expression("#status = :open OR #mid = :mid")
                .update_expression("SET #status = :sent, #mid = :mid, #at = :at REMOVE #gsi")
                .expression_attribute_names("#status", STATUS)
                .expression_attribute_names("#mid", MESSAGE_ID)
                .expression_attribute_names("#at", SENT_AT)
                .expression_attribute_names("#gsi", OPEN_GSI)
                .expression_attribute_values(":open", s(OPEN))
                .expression_attribute_values(":sent", s(SENT))
                .expression_attribute_values(":mid", s(message_id))
                .expression_attribute_values(":at", n(now))
                .build(),
        )?;
        let unpoint = built(
            Delete::builder()
                .table_name(&self.table)
                .set_key(Some(Self::pointer_key(&incident.principal)))
                .condition_expression("attribute_not_exists(#pk) OR #incident = :id")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#incident", INCIDENT)
                .expression_attribute_values(":id", s(&incident.id))
                .build(),
        )?;
        let req = self
            .clients
            .dynamodb
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(close).build())
            .transact_items(TransactWriteItem::builder().delete(unpoint).build());
        let written = conditional(
            self.clients
                .caller
                .call("dynamodb", "TransactWriteItems", || req.clone().send())
                .await,
        )?;
        match written {
            Some(_) => Ok(()),
            None => Err(StoreError::Lost(incident.id.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_keys_sort_as_the_chain() {
        let r = |seq| Record {
            seq,
            id: "x".into(),
            time: String::new(),
            kind: policy_rules::evidence::RecordKind::Decision,
            principal: None,
            target: None,
            actions: vec![],
            rule: None,
            event_id: None,
            body: Value::Null,
            prev_hash: String::new(),
            hash: String::new(),
        };
        assert_eq!(
            EvidenceMirror::key(&r(7)),
            "evidence/00000000000000000007-x.json"
        );
        assert!(EvidenceMirror::key(&r(10)) > EvidenceMirror::key(&r(9)));
    }

    #[test]
    fn the_schema_names_both_tables_and_only_state_expires() {
        let t = table_definitions("warden");
        assert_eq!(t[0].name, "warden-state");
        assert_eq!(t[0].ttl_attribute, Some(TTL_ATTRIBUTE));
        assert_eq!(t[1].name, "warden-evidence");
        assert_eq!(t[1].ttl_attribute, None);
    }
}
