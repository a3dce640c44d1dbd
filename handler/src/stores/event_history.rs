//! The SDK adapter of the [`EventHistory`] port: CloudTrail `LookupEvents` in the region asked,
//! one event source at a time (`LookupAttributes` takes one attribute: `EventSource`),
//! `StartTime` and `EndTime` the window (both inclusive), pages of 50 followed by `NextToken`.
//! Each region has its own client, built once from the configured client (credentials, endpoint,
//! HTTP client, interceptors) with that region, and kept for the process.
//!
//! Pacing: `LookupEvents` allows 2 requests per second per account and region ("Quotas in AWS
//! CloudTrail"), shared with anyone else who calls it. Every request, retries included, first waits
//! for this adapter's own `governor` limiter of its region (default one request per 600 ms per
//! region, under the limit with room for another caller's; one region's requests never wait for
//! another's), and a `ThrottlingException` is retried with backoff by the client layer
//! (`aws::Caller`, `WARDEN_MAX_ATTEMPTS`).
//!
//! Not here: what the events are used for (`enforce/catch_up.rs`), which region holds which
//! source (`enforce/history.rs`).

use crate::aws::{AwsError, Clients};
use crate::enforce::history::{EventHistory, HistoryEvent, Lookup};
use async_trait::async_trait;
use aws_sdk_cloudtrail::config::Region;
use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// The wait between two `LookupEvents` requests in one region by default: 600 ms (1.67 a second,
/// under 2).
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(600);

/// The most events a page holds ("LookupEvents", AWS CloudTrail API Reference: `MaxResults`).
pub const PAGE_SIZE: i32 = 50;

/// One region's history: its client and its pace.
#[derive(Clone)]
struct RegionHistory {
    client: aws_sdk_cloudtrail::Client,
    limiter: Arc<DefaultDirectRateLimiter>,
}

/// CloudTrail's event history, every region.
#[derive(Clone)]
pub struct CloudTrailHistory {
    clients: Clients,
    regions: Arc<Mutex<BTreeMap<String, RegionHistory>>>,
    interval: Duration,
}

impl CloudTrailHistory {
    /// Paced at one request per [`DEFAULT_INTERVAL`] in each region.
    pub fn new(clients: Clients) -> Self {
        Self::with_interval(clients, DEFAULT_INTERVAL)
    }

    /// Paced at one request per `interval` (at least 1 ms) in each region.
    pub fn with_interval(clients: Clients, interval: Duration) -> Self {
        Self {
            clients,
            regions: Arc::default(),
            interval: interval.max(Duration::from_millis(1)),
        }
    }

    /// The CloudTrail client of `region`: the configured one in its own region, else one built
    /// from it with that region (the same for the process).
    pub fn client_for(&self, region: &str) -> aws_sdk_cloudtrail::Client {
        self.region(region).client
    }

    fn region(&self, region: &str) -> RegionHistory {
        self.regions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(region.to_owned())
            .or_insert_with(|| {
                let main = &self.clients.cloudtrail;
                let client = if main.config().region().map(Region::as_ref) == Some(region) {
                    main.clone()
                } else {
                    aws_sdk_cloudtrail::Client::from_conf(
                        main.config()
                            .to_builder()
                            .region(Region::new(region.to_owned()))
                            .build(),
                    )
                };
                let quota = Quota::with_period(self.interval)
                    .unwrap_or_else(|| Quota::per_second(nonzero(2)));
                RegionHistory {
                    client,
                    limiter: Arc::new(RateLimiter::direct(quota)),
                }
            })
            .clone()
    }
}

fn nonzero(n: u32) -> std::num::NonZeroU32 {
    std::num::NonZeroU32::new(n).unwrap_or(std::num::NonZeroU32::MIN)
}

fn build_error(e: impl std::fmt::Display) -> AwsError {
    AwsError::unsent(
        "cloudtrail",
        "LookupEvents",
        format!("the request does not build: {e}"),
    )
}

/// Our event from the SDK's; the time from `EventTime`, else from the record.
fn event_of(e: &aws_sdk_cloudtrail::types::Event, source: &str) -> Option<HistoryEvent> {
    let raw = e.cloud_trail_event()?.to_owned();
    let time = e
        .event_time()
        .and_then(|t| t.fmt(Format::DateTime).ok())
        .or_else(|| {
            serde_json::from_str::<serde_json::Value>(&raw)
                .ok()?
                .get("eventTime")?
                .as_str()
                .map(str::to_owned)
        })?;
    Some(HistoryEvent {
        event_id: e.event_id()?.to_owned(),
        time,
        source: e.event_source().unwrap_or(source).to_owned(),
        name: e.event_name().unwrap_or_default().to_owned(),
        raw,
    })
}

#[async_trait]
impl EventHistory for CloudTrailHistory {
    async fn lookup(
        &self,
        region: &str,
        source: &str,
        start: i64,
        end: i64,
    ) -> Result<Lookup, AwsError> {
        let history = self.region(region);
        let attribute = LookupAttribute::builder()
            .attribute_key(LookupAttributeKey::EventSource)
            .attribute_value(source)
            .build()
            .map_err(build_error)?;
        let mut out = Lookup::default();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .clients
                .caller
                .call("cloudtrail", "LookupEvents", || {
                    out.requests += 1;
                    let req = history
                        .client
                        .lookup_events()
                        .lookup_attributes(attribute.clone())
                        .start_time(DateTime::from_secs(start))
                        .end_time(DateTime::from_secs(end))
                        .max_results(PAGE_SIZE)
                        .set_next_token(token.clone());
                    let limiter = Arc::clone(&history.limiter);
                    async move {
                        limiter.until_ready().await;
                        req.send().await
                    }
                })
                .await?
                .value;
            out.events
                .extend(page.events().iter().filter_map(|e| event_of(e, source)));
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => break,
            }
        }
        Ok(out)
    }

    fn pacing(&self) -> String {
        format!(
            "at most one LookupEvents request every {} ms in each region ({:.2}/s per region; AWS allows 2/s per account and region), throttling retried with backoff",
            self.interval.as_millis(),
            1.0 / self.interval.as_secs_f64()
        )
    }
}
