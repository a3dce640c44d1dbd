//! The CloudTrail event history as a port: what `LookupEvents` returns, in Warden's own type, for
//! one event source over one time window. The catch-up (`catch_up.rs`) reads it to fill a gap the
//! live path missed; the SDK adapter is `stores/event_history.rs` (CloudTrail `LookupEvents`,
//! paced under its limit, paginated by `NextToken`). The local AWS does not implement
//! `LookupEvents`, so the catch-up's tests give an in-memory history here and real queues, ledger
//! and state table everywhere else.
//!
//! What the history holds ("Viewing events with CloudTrail Event history", AWS CloudTrail User
//! Guide): management events only, the last 90 days, in the region asked. Data events (S3
//! object-level calls, read-only or not) are never in it.

use crate::aws::AwsError;
use async_trait::async_trait;

/// How far back the event history reaches: 90 days.
pub const HISTORY_DAYS: i64 = 90;

/// One event of the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEvent {
    /// The CloudTrail `eventID`.
    pub event_id: String,
    /// `eventTime`, ISO-8601 UTC (`2026-12-02T01:02:03Z`).
    pub time: String,
    /// `eventSource` (`iam.amazonaws.com`).
    pub source: String,
    /// `eventName` (`PutRolePolicy`).
    pub name: String,
    /// The CloudTrail record itself, as `LookupEvents` returns it in `CloudTrailEvent` (a JSON
    /// string): what EventBridge would have put under `detail`.
    pub raw: String,
}

/// What one lookup returned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lookup {
    /// Every event of the window, in the order the history gave them (newest first, for
    /// CloudTrail).
    pub events: Vec<HistoryEvent>,
    /// The requests it took (pages, retries included).
    pub requests: u32,
}

/// The event history of the account and region Warden runs in.
#[async_trait]
pub trait EventHistory: Send + Sync {
    /// Every event of `source` whose time is in `[start, end]` (epoch seconds, both inclusive as
    /// `LookupEvents`'s `StartTime` and `EndTime`), all pages.
    async fn lookup(&self, source: &str, start: i64, end: i64) -> Result<Lookup, AwsError>;
    /// How the lookups are paced, for the report (`2 requests/s`).
    fn pacing(&self) -> String;
}
