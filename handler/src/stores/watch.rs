//! The DynamoDB adapter of the [`WatchStore`] port: the pipeline's checkpoint and heartbeat in one
//! item of the state table, `pk` = `watch#pipeline` (no TTL), so the tick reads it with one
//! consistent `GetItem`:
//!
//! | attribute                 | what                                                            |
//! |---------------------------|-----------------------------------------------------------------|
//! | `checkpoint#<source>` (S) | the time up to which Warden has seen the source's events in the main region (ISO) |
//! | `checkpoint#<region>#<source>` (S) | the same in another region                             |
//! | `written_at` (N)          | when a checkpoint was last moved                                |
//! | `beat_sent` (N)           | the last heartbeat sent (its tag value)                         |
//! | `beat_seen`, `beat_seen_at` (N) | the newest heartbeat that came back, and when             |
//! | `blind_alerted_at` (N)    | the last "Warden is blind" alert                                |
//! | `caught_up_at` (N)        | the tick's last catch-up                                        |
//!
//! The main region (the state table's own: the region of the clients, where the main stack runs)
//! keeps its checkpoints under the names they had before Warden read other regions, so a
//! checkpoint written then is the main region's now, and the other way round. Event sources and
//! region names hold no `#`.
//!
//! Each write is one `UpdateItem`; the checkpoint's and the seen beat's are conditional on moving
//! forward (a late or replayed event never moves them back), and a condition that fails is no error.

use crate::aws::Clients;
use crate::enforce::ports::StoreError;
use crate::enforce::watch::{WatchState, WatchStore};
use crate::stores::dynamo::{conditional, get_item, get_n, get_s, n, s, Item, PK};
use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap};

/// The item's key.
pub const WATCH_KEY: &str = "watch#pipeline";
const CHECKPOINT: &str = "checkpoint#";

/// The pipeline's state in the state table.
#[derive(Clone)]
pub struct DynamoWatch {
    clients: Clients,
    table: String,
    /// The main region ([`Clients::main_region`]).
    main_region: String,
}

impl DynamoWatch {
    pub fn new(clients: Clients, table: impl Into<String>) -> Self {
        let main_region = clients.main_region();
        Self {
            clients,
            table: table.into(),
            main_region,
        }
    }

    /// The attribute of the checkpoint of `source` in `region`.
    fn checkpoint_attribute(&self, region: &str, source: &str) -> String {
        if region == self.main_region {
            format!("{CHECKPOINT}{source}")
        } else {
            format!("{CHECKPOINT}{region}#{source}")
        }
    }

    /// The region and source of a checkpoint attribute (`None`: not a checkpoint).
    fn checkpoint_of(&self, attribute: &str) -> Option<(String, String)> {
        let rest = attribute.strip_prefix(CHECKPOINT)?;
        Some(match rest.split_once('#') {
            Some((region, source)) => (region.to_owned(), source.to_owned()),
            None => (self.main_region.clone(), rest.to_owned()),
        })
    }

    fn key() -> Item {
        HashMap::from([(PK.to_owned(), s(WATCH_KEY))])
    }

    /// `SET #a = :v` (and `written_at` for a checkpoint), when `condition` holds (if any).
    async fn set(
        &self,
        attribute: &str,
        value: aws_sdk_dynamodb::types::AttributeValue,
        condition: Option<&str>,
        written_at: Option<i64>,
    ) -> Result<(), StoreError> {
        let mut req = self
            .clients
            .dynamodb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key()))
            .expression_attribute_names("#a", attribute)
            .expression_attribute_values(":v", value);
        req = match written_at {
            Some(t) => req
                .update_expression("SET #a = :v, #w = :w")
                .expression_attribute_names("#w", "written_at")
                .expression_attribute_values(":w", n(t)),
            None => req.update_expression("SET #a = :v"),
        };
        if let Some(c) = condition {
            req = req.condition_expression(c);
        }
        conditional(
            self.clients
                .caller
                .call("dynamodb", "UpdateItem", || req.clone().send())
                .await,
        )?;
        Ok(())
    }
}

#[async_trait]
impl WatchStore for DynamoWatch {
    async fn state(&self) -> Result<WatchState, StoreError> {
        let Some(item) = get_item(&self.clients, &self.table, Self::key()).await? else {
            return Ok(WatchState::default());
        };
        let mut checkpoint: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for k in item.keys() {
            let (Some((region, source)), Some(time)) = (self.checkpoint_of(k), get_s(&item, k))
            else {
                continue;
            };
            checkpoint
                .entry(region)
                .or_default()
                .insert(source, time.to_owned());
        }
        Ok(WatchState {
            checkpoint,
            written_at: get_n(&item, "written_at"),
            beat_sent: get_n(&item, "beat_sent"),
            beat_seen: get_n(&item, "beat_seen"),
            beat_seen_at: get_n(&item, "beat_seen_at"),
            blind_alerted_at: get_n(&item, "blind_alerted_at"),
            caught_up_at: get_n(&item, "caught_up_at"),
        })
    }

    async fn advance(
        &self,
        region: &str,
        source: &str,
        time: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        // ISO-8601 UTC times of one format order as strings do.
        self.set(
            &self.checkpoint_attribute(region, source),
            s(time),
            Some("attribute_not_exists(#a) OR #a < :v"),
            Some(now),
        )
        .await
    }

    async fn beat_sent(&self, beat: i64) -> Result<(), StoreError> {
        self.set("beat_sent", n(beat), None, None).await
    }

    async fn beat_seen(&self, beat: i64, now: i64) -> Result<(), StoreError> {
        let req = self
            .clients
            .dynamodb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key()))
            .update_expression("SET #b = :b, #at = :at")
            .condition_expression("attribute_not_exists(#b) OR #b < :b")
            .expression_attribute_names("#b", "beat_seen")
            .expression_attribute_names("#at", "beat_seen_at")
            .expression_attribute_values(":b", n(beat))
            .expression_attribute_values(":at", n(now));
        conditional(
            self.clients
                .caller
                .call("dynamodb", "UpdateItem", || req.clone().send())
                .await,
        )?;
        Ok(())
    }

    async fn blind_alerted(&self, now: i64) -> Result<(), StoreError> {
        self.set("blind_alerted_at", n(now), None, None).await
    }

    async fn caught_up(&self, now: i64) -> Result<(), StoreError> {
        self.set("caught_up_at", n(now), None, None).await
    }
}
