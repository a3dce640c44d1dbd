//! The catch-up: after an outage (the function throttled, the trail stopped, a rule disabled, the
//! queue stuck), Warden fills the gap from the CloudTrail event history ([`EventHistory`]): per
//! region and event source (every covered region's history, a global source's only in the main
//! region: [`lookups`]), from that region's checkpoint of the source less an overlap (or from a
//! time given by hand), it looks up the events, keeps those the EventBridge rules would have delivered ([`Routes`], read from the
//! same patterns `warden init` and the template use), wraps each exactly as EventBridge wraps a
//! CloudTrail event, and sends it to the intake queue the rules deliver to, in the rules' one
//! message group and with the deduplication id the forwarder gives it (the CloudTrail `eventID`).
//! From there it goes the way every event goes (forwarder, lane, flow), and the ledger's claim of
//! the `eventID` makes the overlap, and any event the live path did deliver, free.
//!
//! Windows are looked up an hour at a time, oldest first and every region and source in step, and
//! the checkpoint of a source in a region is moved to the end of each hour once its events are on
//! the queue, so a catch-up stopped by its deadline (the Lambda's) goes on from there next time,
//! and a gap in one region is filled whatever another region's checkpoint says.
//!
//! Not here: deciding when to catch up (`watch.rs`), the SDK adapter of the history
//! (`stores/event_history.rs`).

use crate::aws::{AwsError, Clients};
use crate::enforce::flow::iso;
use crate::enforce::history::{EventHistory, HistoryEvent, RegionSource, Regions, HISTORY_DAYS};
use crate::enforce::ports::StoreError;
use crate::enforce::watch::{epoch, WatchState, WatchStore};
use policy_rules::lane::lane_of;
use policy_rules::routing::{eventbridge_source, DETAIL_TYPE};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// How far before the checkpoint a catch-up starts: 20 minutes, for events EventBridge delivers
/// late or out of order (best effort, "usually seconds, sometimes minutes").
pub const OVERLAP_SECONDS: i64 = 20 * 60;

/// The window looked up at a time, per source.
pub const CHUNK_SECONDS: i64 = 3600;

/// The event sources always looked up, besides those the rules route (in which regions:
/// [`lookups`]).
pub const BASE_SOURCES: [&str; 4] = [
    "iam.amazonaws.com",
    "s3.amazonaws.com",
    "sts.amazonaws.com",
    "cloudtrail.amazonaws.com",
];

/// Why a catch-up stopped.
#[derive(Debug, thiserror::Error)]
pub enum CatchUpError {
    #[error(
        "while looking up `{source_name}` events in `{region}` from {start} to {end}: {error}"
    )]
    Lookup {
        region: String,
        source_name: String,
        start: String,
        end: String,
        error: AwsError,
    },
    #[error("while sending events to the intake queue: {0}")]
    Send(AwsError),
    #[error("while moving the checkpoint: {0}")]
    Store(#[from] StoreError),
    #[error("`--since` {since} is not before `--until` {until}")]
    EmptyWindow { since: String, until: String },
}

impl CatchUpError {
    pub fn is_retryable(&self) -> bool {
        match self {
            CatchUpError::Lookup { error, .. } | CatchUpError::Send(error) => error.is_retryable(),
            CatchUpError::Store(e) => e.is_retryable(),
            CatchUpError::EmptyWindow { .. } => false,
        }
    }
}

/// The event names the EventBridge rules deliver, per event source, read from the rules'
/// patterns (`stores::init::rule_patterns`: `detail.eventSource` and `detail.eventName`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routes(pub BTreeMap<String, BTreeSet<String>>);

impl Routes {
    /// From `(rule name, pattern)` pairs. A pattern's further conditions (the watchdog's rule
    /// names) are not applied: the flow judges what it receives.
    pub fn from_patterns(patterns: &[(String, Value)]) -> Self {
        let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let strings = |v: Option<&Value>| -> Vec<String> {
            v.and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        for (_, p) in patterns {
            let names = strings(p.pointer("/detail/eventName"));
            for source in strings(p.pointer("/detail/eventSource")) {
                out.entry(source).or_default().extend(names.iter().cloned());
            }
        }
        Self(out)
    }

    /// Whether the rules deliver `name` of `source`.
    pub fn delivers(&self, source: &str, name: &str) -> bool {
        self.0.get(source).is_some_and(|n| n.contains(name))
    }

    /// The sources to look up: [`BASE_SOURCES`] and every routed one.
    pub fn sources(&self) -> Vec<String> {
        let mut s: BTreeSet<String> = BASE_SOURCES.iter().map(|s| (*s).to_owned()).collect();
        s.extend(self.0.keys().cloned());
        s.into_iter().collect()
    }
}

/// One source's window in one region's history, epoch seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub region: String,
    pub source: String,
    pub start: i64,
    pub end: i64,
}

/// The windows from the checkpoint to `now`, per region and source of `lookups`: from that
/// region's checkpoint of the source (none: the oldest checkpoint of the region's other sources,
/// else the oldest of every region, for a region newly covered) less [`OVERLAP_SECONDS`], never
/// before the history's 90 days. Empty when there is no checkpoint at all.
pub fn windows_from_checkpoint(
    state: &WatchState,
    lookups: &[RegionSource],
    now: i64,
) -> Vec<Window> {
    let oldest = state.times().min();
    let oldest_in = |region: &str| {
        state
            .checkpoint
            .get(region)?
            .values()
            .filter_map(|t| epoch(t))
            .min()
    };
    let floor = now - HISTORY_DAYS * 86_400 + 60;
    lookups
        .iter()
        .filter_map(|l| {
            let from = state
                .of(&l.region, &l.source)
                .and_then(epoch)
                .or_else(|| oldest_in(&l.region))
                .or(oldest)?;
            Some(Window {
                region: l.region.clone(),
                source: l.source.clone(),
                start: (from - OVERLAP_SECONDS).max(floor),
                end: now,
            })
        })
        .filter(|w| w.start < w.end)
        .collect()
}

/// The windows of a catch-up by hand: every region and source of `lookups` from `since` to
/// `until`.
pub fn windows_between(lookups: &[RegionSource], since: i64, until: i64) -> Vec<Window> {
    lookups
        .iter()
        .map(|l| Window {
            region: l.region.clone(),
            source: l.source.clone(),
            start: since,
            end: until,
        })
        .collect()
}

/// What to look up: the routes' sources in the regions' histories ([`history::lookups`]).
///
/// [`history::lookups`]: crate::enforce::history::lookups
pub fn lookups(routes: &Routes, regions: &Regions) -> Vec<RegionSource> {
    crate::enforce::history::lookups(&routes.sources(), regions)
}

/// The EventBridge event for a CloudTrail record, as EventBridge delivers it ("AWS service event
/// metadata", Amazon EventBridge User Guide): `detail-type` "AWS API Call via CloudTrail",
/// `source` `aws.<service>`, the record under `detail`, its account, region and time; the `id`
/// is derived from the `eventID`, so the same event is the same body each time.
pub fn envelope(event: &HistoryEvent) -> Result<String, String> {
    let detail: Value = serde_json::from_str(&event.raw).map_err(|e| {
        format!(
            "event `{}`: its CloudTrail record is not JSON: {e}",
            event.event_id
        )
    })?;
    if !detail.is_object() {
        return Err(format!(
            "event `{}`: its CloudTrail record is not an object",
            event.event_id
        ));
    }
    let account = detail
        .pointer("/recipientAccountId")
        .and_then(Value::as_str)
        .or_else(|| {
            detail
                .pointer("/userIdentity/accountId")
                .and_then(Value::as_str)
        })
        .unwrap_or_default()
        .to_owned();
    let region = detail
        .pointer("/awsRegion")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let time = detail
        .pointer("/eventTime")
        .and_then(Value::as_str)
        .unwrap_or(&event.time)
        .to_owned();
    Ok(json!({
        "version": "0",
        "id": uuid_of(&event.event_id),
        "detail-type": DETAIL_TYPE,
        "source": eventbridge_source(&event.source),
        "account": account,
        "time": time,
        "region": region,
        "resources": [],
        "detail": detail,
    })
    .to_string())
}

/// A UUID-shaped id from the event id (EventBridge's ids are UUIDs).
fn uuid_of(event_id: &str) -> String {
    let h = policy_rules::evidence::deterministic_id(&["catch-up", event_id]);
    let h: String = h
        .chars()
        .filter(char::is_ascii_hexdigit)
        .chain(std::iter::repeat('0'))
        .take(32)
        .collect();
    format!(
        "{}-{}-{}-{}-{}",
        h.get(0..8).unwrap_or_default(),
        h.get(8..12).unwrap_or_default(),
        h.get(12..16).unwrap_or_default(),
        h.get(16..20).unwrap_or_default(),
        h.get(20..32).unwrap_or_default()
    )
}

/// What the catch-up did for one source in one region.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SourceReport {
    /// The region whose history was read.
    pub region: String,
    pub source: String,
    /// Events the history returned.
    pub looked_up: usize,
    /// Events sent to the intake queue.
    pub sent: usize,
    /// Events no rule routes (read-only calls, …): not sent, as EventBridge would not have.
    pub not_routed: usize,
    /// Events that could not be wrapped (a record that is not JSON), with why.
    pub unreadable: Vec<String>,
    /// The oldest and newest event time sent.
    pub first: Option<String>,
    pub last: Option<String>,
    /// `LookupEvents` requests, retries included.
    pub requests: u32,
    /// The time up to which this source was looked up in this region.
    pub covered_until: Option<String>,
}

/// What one catch-up did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CatchUpReport {
    pub sources: Vec<SourceReport>,
    /// Every `LookupEvents` request.
    pub requests: u32,
    pub seconds: f64,
    /// How the lookups were paced.
    pub pacing: String,
    /// False when the deadline stopped it before the end of every window.
    pub complete: bool,
}

impl CatchUpReport {
    pub fn sent(&self) -> usize {
        self.sources.iter().map(|s| s.sent).sum()
    }
}

/// Everything a catch-up uses.
pub struct CatchUp<'a> {
    pub history: &'a dyn EventHistory,
    pub clients: &'a Clients,
    /// The intake queue the EventBridge rules deliver to (`WARDEN_INTAKE_QUEUE_URL`).
    pub intake_url: &'a str,
    /// The message group the rules' FIFO target uses (`stores::init::MESSAGE_GROUP_ID`).
    pub group_id: &'a str,
    pub routes: &'a Routes,
    /// The regions whose history is read (the tick's windows come from them; a catch-up by hand
    /// gives its own windows).
    pub regions: &'a Regions,
    /// Where the checkpoint is kept; `None` leaves it alone.
    pub watch: Option<&'a dyn WatchStore>,
    /// Epoch seconds.
    pub now: i64,
    /// Stop between windows once this has passed.
    pub deadline: Option<tokio::time::Instant>,
}

impl CatchUp<'_> {
    /// Looks up every window, an hour at a time, oldest first, every region and source in step,
    /// and sends what the rules route to the intake queue.
    pub async fn run(&self, windows: &[Window]) -> Result<CatchUpReport, CatchUpError> {
        let started = std::time::Instant::now();
        let mut report = CatchUpReport {
            sources: windows
                .iter()
                .map(|w| SourceReport {
                    region: w.region.clone(),
                    source: w.source.clone(),
                    ..SourceReport::default()
                })
                .collect(),
            pacing: self.history.pacing(),
            complete: true,
            ..CatchUpReport::default()
        };
        let mut k: i64 = 0;
        'chunks: loop {
            let mut any = false;
            for (w, r) in windows.iter().zip(report.sources.iter_mut()) {
                let start = w.start + k * CHUNK_SECONDS;
                if start >= w.end {
                    continue;
                }
                if self
                    .deadline
                    .is_some_and(|d| tokio::time::Instant::now() >= d)
                {
                    report.complete = false;
                    break 'chunks;
                }
                any = true;
                // Both ends of a lookup are inclusive, and times are whole seconds: a chunk ends
                // a second before the next one starts.
                let end = (start + CHUNK_SECONDS - 1).min(w.end);
                self.chunk(w, start, end, r).await?;
            }
            if !any {
                break;
            }
            k += 1;
        }
        report.requests = report.sources.iter().map(|s| s.requests).sum();
        report.seconds = started.elapsed().as_secs_f64();
        Ok(report)
    }

    async fn chunk(
        &self,
        w: &Window,
        start: i64,
        end: i64,
        r: &mut SourceReport,
    ) -> Result<(), CatchUpError> {
        let lookup = self
            .history
            .lookup(&w.region, &w.source, start, end)
            .await
            .map_err(|error| CatchUpError::Lookup {
                region: w.region.clone(),
                source_name: w.source.clone(),
                start: iso(start),
                end: iso(end),
                error,
            })?;
        r.requests += lookup.requests;
        r.looked_up += lookup.events.len();
        let mut events = lookup.events;
        // Oldest first, as EventBridge would have delivered them (the history gives newest first).
        events.sort_by(|a, b| (epoch(&a.time), &a.event_id).cmp(&(epoch(&b.time), &b.event_id)));
        let mut bodies = Vec::new();
        for e in &events {
            if !self.routes.delivers(&e.source, &e.name) {
                r.not_routed += 1;
                continue;
            }
            match envelope(e) {
                Ok(body) => bodies.push((e, body)),
                Err(why) => r.unreadable.push(why),
            }
        }
        for (e, body) in &bodies {
            self.send(body).await?;
            r.sent += 1;
            if r.first.is_none() {
                r.first = Some(e.time.clone());
            }
            r.last = Some(e.time.clone());
        }
        r.covered_until = Some(iso(end));
        if let Some(watch) = self.watch {
            watch
                .advance(&w.region, &w.source, &iso(end), self.now)
                .await?;
        }
        Ok(())
    }

    /// One `SendMessage` per event, in order. (`SendMessageBatch` is authorised as
    /// `sqs:SendMessage` on AWS, but the local AWS asks for an `sqs:SendMessageBatch` no policy
    /// can grant; one at a time is right on both, at the client layer's SQS pace.)
    async fn send(&self, body: &str) -> Result<(), CatchUpError> {
        let dedup = lane_of(body).deduplication_id;
        self.clients
            .caller
            .call("sqs", "SendMessage", || {
                self.clients
                    .sqs
                    .send_message()
                    .queue_url(self.intake_url)
                    .message_body(body)
                    .message_group_id(self.group_id)
                    .message_deduplication_id(&dedup)
                    .send()
            })
            .await
            .map_err(CatchUpError::Send)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, name: &str) -> HistoryEvent {
        HistoryEvent {
            event_id: id.to_owned(),
            time: "2026-12-02T01:00:00Z".to_owned(),
            source: "iam.amazonaws.com".to_owned(),
            name: name.to_owned(),
            raw: json!({"eventID": id, "eventName": name, "eventSource": "iam.amazonaws.com", "eventTime": "2026-12-02T01:00:00Z", "awsRegion": "us-east-1", "recipientAccountId": "123456789012"}).to_string(),
        }
    }

    #[test]
    fn the_envelope_is_eventbridges_and_the_same_each_time() {
        let e = event("e-1", "PutRolePolicy");
        let body = envelope(&e).unwrap();
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["detail-type"], "AWS API Call via CloudTrail");
        assert_eq!(v["source"], "aws.iam");
        assert_eq!(v["account"], "123456789012");
        assert_eq!(v["region"], "us-east-1");
        assert_eq!(v["detail"]["eventID"], "e-1");
        assert_eq!(v["id"].as_str().unwrap().len(), 36);
        assert_eq!(body, envelope(&e).unwrap());
        assert_eq!(lane_of(&body).deduplication_id, "e-1");
        let mut bad = e.clone();
        bad.raw = "not json".to_owned();
        assert!(envelope(&bad).unwrap_err().contains("`e-1`"));
    }

    #[test]
    fn routes_come_from_the_patterns_and_windows_from_the_checkpoint() {
        let patterns = vec![
            (
                "warden-iam-1".to_owned(),
                json!({"source": ["aws.iam"], "detail": {"eventSource": ["iam.amazonaws.com"], "eventName": ["PutRolePolicy", "TagPolicy"]}}),
            ),
            (
                "warden-watchdog".to_owned(),
                json!({"source": ["aws.events"], "detail": {"eventSource": ["events.amazonaws.com"], "eventName": ["PutRule"], "$or": []}}),
            ),
        ];
        let routes = Routes::from_patterns(&patterns);
        assert!(routes.delivers("iam.amazonaws.com", "TagPolicy"));
        assert!(!routes.delivers("iam.amazonaws.com", "GetRole"));
        assert!(routes.delivers("events.amazonaws.com", "PutRule"));
        let sources = routes.sources();
        assert_eq!(
            sources,
            [
                "cloudtrail.amazonaws.com",
                "events.amazonaws.com",
                "iam.amazonaws.com",
                "s3.amazonaws.com",
                "sts.amazonaws.com"
            ]
        );

        let now = 1_800_000_000;
        let regions = Regions::main_only("us-east-1");
        let looked = lookups(&routes, &regions);
        let mut state = WatchState::default();
        assert!(windows_from_checkpoint(&state, &looked, now).is_empty());
        let main = state.checkpoint.entry("us-east-1".into()).or_default();
        main.insert("iam.amazonaws.com".into(), iso(now - 7200));
        main.insert("s3.amazonaws.com".into(), iso(now - 600));
        let w = windows_from_checkpoint(&state, &looked, now);
        let of = |s: &str| w.iter().find(|w| w.source == s).unwrap().start;
        assert_eq!(of("iam.amazonaws.com"), now - 7200 - OVERLAP_SECONDS);
        assert_eq!(of("s3.amazonaws.com"), now - 600 - OVERLAP_SECONDS);
        assert_eq!(
            of("sts.amazonaws.com"),
            now - 7200 - OVERLAP_SECONDS,
            "a source without a checkpoint starts at the oldest"
        );
        state
            .checkpoint
            .entry("us-east-1".into())
            .or_default()
            .insert("iam.amazonaws.com".into(), iso(now - 200 * 86_400));
        assert!(of_start(&windows_from_checkpoint(&state, &looked, now)) >= now - 90 * 86_400);
    }

    #[test]
    fn each_regions_window_starts_at_its_own_checkpoint() {
        let routes = Routes::default();
        let regions = Regions::new(
            "us-east-1",
            &["eu-west-1".to_owned(), "ap-south-2".to_owned()],
        );
        let looked = lookups(&routes, &regions);
        let now = 1_800_000_000;
        let mut state = WatchState::default();
        // The main region saw S3 and IAM a minute ago; eu-west-1's S3 stopped three hours ago;
        // ap-south-2 has no checkpoint yet.
        let main = state.checkpoint.entry("us-east-1".into()).or_default();
        main.insert("s3.amazonaws.com".into(), iso(now - 60));
        main.insert("iam.amazonaws.com".into(), iso(now - 60));
        state
            .checkpoint
            .entry("eu-west-1".into())
            .or_default()
            .insert("s3.amazonaws.com".into(), iso(now - 3 * 3600));
        let w = windows_from_checkpoint(&state, &looked, now);
        let start = |r: &str, s: &str| {
            w.iter()
                .find(|w| w.region == r && w.source == s)
                .map(|w| w.start)
        };
        assert_eq!(
            start("us-east-1", "s3.amazonaws.com"),
            Some(now - 60 - OVERLAP_SECONDS)
        );
        assert_eq!(
            start("eu-west-1", "s3.amazonaws.com"),
            Some(now - 3 * 3600 - OVERLAP_SECONDS),
            "eu-west-1's gap is not skipped for us-east-1's recent checkpoint"
        );
        assert_eq!(
            start("eu-west-1", "cloudtrail.amazonaws.com"),
            Some(now - 3 * 3600 - OVERLAP_SECONDS),
            "a source without a checkpoint starts at its region's oldest"
        );
        assert_eq!(
            start("ap-south-2", "s3.amazonaws.com"),
            Some(now - 3 * 3600 - OVERLAP_SECONDS),
            "a region without a checkpoint starts at the oldest of all"
        );
        assert_eq!(
            w.iter().filter(|w| w.source == "iam.amazonaws.com").count(),
            1,
            "IAM in the main region only: {w:?}"
        );
        assert_eq!(
            start("us-east-1", "iam.amazonaws.com"),
            Some(now - 60 - OVERLAP_SECONDS)
        );
    }

    fn of_start(w: &[Window]) -> i64 {
        w.iter().map(|w| w.start).min().unwrap()
    }
}
