//! Whether Warden still sees events: the checkpoint (per region and event source, the time up to
//! which Warden has seen its events) and the heartbeat (a harmless tag Warden puts on a canary managed
//! policy of its own, whose CloudTrail event must come back through EventBridge). Here: the state
//! as the state table keeps it ([`WatchState`], behind the [`WatchStore`] port; the DynamoDB
//! adapter is `stores/watch.rs`), how the flow recognises the canary's event ([`heartbeat_of`]),
//! and what the scheduled tick must do ([`plan_tick`], pure). The tick itself (tagging the canary,
//! alerting, running the catch-up) is `heartbeat.rs`; the catch-up is `catch_up.rs`.
//!
//! Not here: deciding anything about the canary's event. It is Warden's own change to Warden's
//! own policy; the flow records it as a heartbeat and judges nothing.

use crate::enforce::ports::StoreError;
use async_trait::async_trait;
use policy_rules::caller::classify;
use policy_rules::decision::is_warden_principal;
use policy_rules::event::Event;
use policy_rules::rules::RuleSet;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The tag key of a heartbeat; its value is the beat (epoch seconds when it was sent).
pub const HEARTBEAT_TAG: &str = "warden-heartbeat";

/// What the state table holds about the pipeline (one item, read once a tick).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WatchState {
    /// Per region, then per event source, the time (ISO-8601 UTC) up to which Warden has seen its
    /// events in that region: the newest event the work queue delivered (its `awsRegion`), or the
    /// end of a window the catch-up looked up in that region's history.
    pub checkpoint: BTreeMap<String, BTreeMap<String, String>>,
    /// When the checkpoint was last written (epoch seconds).
    pub written_at: Option<i64>,
    /// The last heartbeat sent (epoch seconds; also the tag's value).
    pub beat_sent: Option<i64>,
    /// The newest heartbeat whose event came back through the flow, and when it came.
    pub beat_seen: Option<i64>,
    pub beat_seen_at: Option<i64>,
    /// When Warden last alerted that it is blind.
    pub blind_alerted_at: Option<i64>,
    /// When the tick last ran a catch-up.
    pub caught_up_at: Option<i64>,
}

impl WatchState {
    /// The newest checkpoint of any region and source, as epoch seconds.
    pub fn latest(&self) -> Option<i64> {
        self.times().max()
    }

    /// The checkpoint of `source` in `region`.
    pub fn of(&self, region: &str, source: &str) -> Option<&str> {
        self.checkpoint.get(region)?.get(source).map(String::as_str)
    }

    /// Every checkpoint's time, as epoch seconds.
    pub fn times(&self) -> impl Iterator<Item = i64> + '_ {
        self.checkpoint
            .values()
            .flat_map(BTreeMap::values)
            .filter_map(|t| epoch(t))
    }
}

/// Epoch seconds of an ISO-8601 time (`2026-12-02T01:02:03Z`, with or without fractions).
pub fn epoch(time: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(time)
        .ok()
        .map(|t| t.timestamp())
}

/// ISO-8601 UTC of epoch seconds, as CloudTrail writes `eventTime` (`flow::iso`; the flow imports
/// this file, so not from there).
fn iso(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// The state table's record of the pipeline.
#[async_trait]
pub trait WatchStore: Send + Sync {
    /// The whole state (one read).
    async fn state(&self) -> Result<WatchState, StoreError>;
    /// Moves the checkpoint of `source` in `region` to `time` (ISO-8601 UTC) unless it is there
    /// or later already, stamping `written_at` with `now`.
    async fn advance(
        &self,
        region: &str,
        source: &str,
        time: &str,
        now: i64,
    ) -> Result<(), StoreError>;
    /// A heartbeat `beat` was sent.
    async fn beat_sent(&self, beat: i64) -> Result<(), StoreError>;
    /// The event of heartbeat `beat` came back at `now` (an older beat than the newest seen
    /// changes nothing).
    async fn beat_seen(&self, beat: i64, now: i64) -> Result<(), StoreError>;
    /// Warden alerted that it is blind.
    async fn blind_alerted(&self, now: i64) -> Result<(), StoreError>;
    /// The tick ran a catch-up.
    async fn caught_up(&self, now: i64) -> Result<(), StoreError>;
}

/// What the flow needs to keep the checkpoint and recognise heartbeats.
#[derive(Clone)]
pub struct Watch {
    pub store: Arc<dyn WatchStore>,
    /// The canary managed policy's ARN (`WARDEN_CANARY_POLICY_ARN`), when there is one.
    pub canary_arn: Option<String>,
}

/// The beat an event carries when it is Warden's own heartbeat: a successful `iam:TagPolicy` on
/// the canary policy, by one of Warden's own principals, tagging [`HEARTBEAT_TAG`] with a
/// number. Anyone else's change to the canary is judged by the rules like any other (the
/// self-protection rules cover Warden's policies); so is a heartbeat-looking event that does not
/// read.
pub fn heartbeat_of(event: &Event<'_>, canary_arn: &str, rules: &RuleSet) -> Option<i64> {
    let r = &event.record;
    if event.source() != "iam.amazonaws.com"
        || event.name() != "TagPolicy"
        || r.error_code.is_some()
    {
        return None;
    }
    let params: serde_json::Value =
        serde_json::from_str(r.request_parameters.as_ref()?.get()).ok()?;
    if params.get("policyArn").and_then(|v| v.as_str()) != Some(canary_arn) {
        return None;
    }
    if !is_warden_principal(rules, &classify(event), event) {
        return None;
    }
    params
        .get("tags")?
        .as_array()?
        .iter()
        .find(|t| t.get("key").and_then(|k| k.as_str()) == Some(HEARTBEAT_TAG))?
        .get("value")?
        .as_str()?
        .parse()
        .ok()
}

/// The newest event time (normalised ISO-8601 UTC) per region (the record's `awsRegion`) and
/// event source among queue message bodies. A record without a region or a source moves nothing.
pub fn newest_per_source<'a>(
    bodies: impl IntoIterator<Item = &'a str>,
) -> BTreeMap<(String, String), String> {
    let mut out: BTreeMap<(String, String), i64> = BTreeMap::new();
    for body in bodies {
        policy_rules::event::parse_document(body.as_bytes(), |_, parsed| {
            let Ok(e) = parsed else { return };
            let Some(t) = e.record.event_time.as_deref().and_then(epoch) else {
                return;
            };
            let region = e.record.aws_region.as_deref().unwrap_or_default();
            if region.is_empty() || e.source().is_empty() {
                return;
            }
            let newest = out
                .entry((region.to_owned(), e.source().to_owned()))
                .or_insert(t);
            *newest = (*newest).max(t);
        });
    }
    out.into_iter().map(|(k, t)| (k, iso(t))).collect()
}

/// Moves the checkpoint to the newest event of each region and source among `bodies` (a
/// work-queue batch): one conditional write per region and source in the batch. A failure is
/// logged, not raised: the batch's events are handled whatever becomes of the checkpoint, and a
/// later batch moves it.
pub async fn note_seen<'a>(watch: &Watch, bodies: impl IntoIterator<Item = &'a str>, now: i64) {
    for ((region, source), time) in newest_per_source(bodies) {
        if let Err(e) = watch.store.advance(&region, &source, &time, now).await {
            tracing::warn!(error = %e, region, source, "the checkpoint could not be moved");
        }
    }
}

/// The tick's limits (seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchLimits {
    /// A heartbeat is sent this often.
    pub beat_every: i64,
    /// Its event must be back within this long, or Warden is blind. EventBridge delivers
    /// CloudTrail events best effort, usually within seconds, sometimes minutes.
    pub beat_within: i64,
    /// Without a canary: nothing seen for this long starts a catch-up.
    pub quiet_after: i64,
    /// While blind, a catch-up runs at most this often.
    pub catch_up_every: i64,
}

impl Default for WatchLimits {
    fn default() -> Self {
        Self {
            beat_every: 600,
            beat_within: 300,
            quiet_after: 3600,
            catch_up_every: 600,
        }
    }
}

/// What one tick must do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickPlan {
    /// Tag the canary with a new beat.
    pub send_beat: bool,
    /// Alert that Warden is blind, saying why.
    pub blind: Option<String>,
    /// Run the catch-up from the checkpoint.
    pub catch_up: bool,
}

/// What the tick must do now, from the state alone (so a tick where nothing is wrong costs the
/// one read of the state). Blind: the last beat was sent more than `beat_within` ago and has not
/// come back; alerted once per outage (again only after a beat came back since the last alert).
/// A catch-up runs while blind (at most every `catch_up_every`), and, without a canary, when
/// nothing was seen for `quiet_after`; never without a checkpoint (nothing to start from: a fresh
/// install has missed nothing it can name, and `warden catch-up --since` fills any gap by hand).
pub fn plan_tick(state: &WatchState, now: i64, limits: &WatchLimits, canary: bool) -> TickPlan {
    let missing = match (canary, state.beat_sent) {
        (true, Some(sent)) => {
            state.beat_seen.is_none_or(|seen| seen < sent) && now - sent > limits.beat_within
        }
        _ => false,
    };
    let send_beat = canary
        && state
            .beat_sent
            .is_none_or(|sent| now - sent >= limits.beat_every);
    let blind = match (missing, state.beat_sent) {
        (true, Some(sent))
            if state.blind_alerted_at.is_none_or(|alerted| {
                state.beat_seen_at.is_some_and(|seen_at| seen_at > alerted)
            }) =>
        {
            Some(format!(
                "Warden's heartbeat of {} (a tag on its canary policy) has not come back through CloudTrail and EventBridge after {} s{}: Warden may be blind (trail stopped, rule disabled, queue stuck, function throttled)",
                iso(sent),
                now - sent,
                match state.beat_seen_at {
                    Some(at) => format!("; the last heartbeat seen came at {}", iso(at)),
                    None => "; no heartbeat was ever seen".to_owned(),
                }
            ))
        }
        _ => None,
    };
    let quiet = !canary && state.latest().is_some_and(|t| now - t > limits.quiet_after);
    let catch_up = state.checkpoint.values().any(|sources| !sources.is_empty())
        && (missing || quiet)
        && state
            .caught_up_at
            .is_none_or(|t| now - t >= limits.catch_up_every);
    TickPlan {
        send_beat,
        blind,
        catch_up,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use policy_rules::event::parse_document;

    const NOW: i64 = 1_800_000_000;

    fn state(sent: Option<i64>, seen: Option<i64>) -> WatchState {
        WatchState {
            checkpoint: BTreeMap::from([(
                "us-east-1".to_owned(),
                BTreeMap::from([("iam.amazonaws.com".to_owned(), iso(NOW - 60))]),
            )]),
            written_at: Some(NOW - 60),
            beat_sent: sent,
            beat_seen: seen,
            beat_seen_at: seen.map(|s| s + 5),
            ..WatchState::default()
        }
    }

    #[test]
    fn a_tick_where_nothing_is_wrong_does_nothing() {
        let l = WatchLimits::default();
        let s = state(Some(NOW - 100), Some(NOW - 100));
        assert_eq!(plan_tick(&s, NOW, &l, true), TickPlan::default());
        // A beat on its way, within its limit, is not missing.
        let s = state(Some(NOW - 100), Some(NOW - 700));
        assert_eq!(plan_tick(&s, NOW, &l, true), TickPlan::default());
    }

    #[test]
    fn beats_are_sent_on_schedule_and_a_missing_one_alerts_once_and_catches_up() {
        let l = WatchLimits::default();
        assert!(plan_tick(&state(None, None), NOW, &l, true).send_beat);
        assert!(plan_tick(&state(Some(NOW - 600), Some(NOW - 600)), NOW, &l, true).send_beat);
        assert!(!plan_tick(&state(Some(NOW - 600), None), NOW, &l, false).send_beat);

        let mut s = state(Some(NOW - 400), Some(NOW - 1000));
        let p = plan_tick(&s, NOW, &l, true);
        assert!(p.blind.as_deref().unwrap().contains("after 400 s"), "{p:?}");
        assert!(p.catch_up);
        // Alerted: not again in the same outage; caught up: not again for 10 minutes.
        s.blind_alerted_at = Some(NOW);
        s.caught_up_at = Some(NOW);
        let p = plan_tick(&s, NOW + 60, &l, true);
        assert_eq!((p.blind, p.catch_up), (None, false));
        assert!(plan_tick(&s, NOW + 600, &l, true).catch_up);
        // A beat came back after the alert, then the next one goes missing: a new outage.
        s.beat_seen = Some(NOW + 100);
        s.beat_seen_at = Some(NOW + 105);
        s.beat_sent = Some(NOW + 700);
        assert!(plan_tick(&s, NOW + 1100, &l, true).blind.is_some());
    }

    #[test]
    fn without_a_canary_only_a_quiet_checkpoint_catches_up_and_never_without_one() {
        let l = WatchLimits::default();
        let mut s = state(None, None);
        assert!(!plan_tick(&s, NOW, &l, false).catch_up);
        assert!(plan_tick(&s, NOW + 3600, &l, false).catch_up);
        s.checkpoint.clear();
        assert!(!plan_tick(&s, NOW + 3600, &l, false).catch_up);
        assert!(plan_tick(&s, NOW + 3600, &l, false).blind.is_none());
    }

    #[test]
    fn the_live_path_moves_the_checkpoint_of_each_events_own_region() {
        let body = |id: &str, source: &str, region: Option<&str>, time: &str| {
            serde_json::json!({
                "detail-type": "AWS API Call via CloudTrail",
                "detail": {"eventID": id, "eventSource": source, "eventName": "PutBucketPolicy",
                           "eventTime": time, "awsRegion": region},
            })
            .to_string()
        };
        let bodies = [
            body(
                "a",
                "s3.amazonaws.com",
                Some("eu-west-1"),
                "2026-12-02T01:00:00Z",
            ),
            body(
                "b",
                "s3.amazonaws.com",
                Some("eu-west-1"),
                "2026-12-02T01:05:00Z",
            ),
            body(
                "c",
                "s3.amazonaws.com",
                Some("us-east-1"),
                "2026-12-02T00:10:00Z",
            ),
            body("d", "iam.amazonaws.com", None, "2026-12-02T02:00:00Z"),
        ];
        let got = newest_per_source(bodies.iter().map(String::as_str));
        let key = |r: &str, s: &str| (r.to_owned(), s.to_owned());
        assert_eq!(
            got,
            BTreeMap::from([
                (
                    key("eu-west-1", "s3.amazonaws.com"),
                    "2026-12-02T01:05:00Z".to_owned()
                ),
                (
                    key("us-east-1", "s3.amazonaws.com"),
                    "2026-12-02T00:10:00Z".to_owned()
                ),
            ]),
            "a record without a region moves no checkpoint"
        );
    }

    fn tag_event(caller_arn: &str, policy: &str, value: &str, error: Option<&str>) -> String {
        serde_json::json!({
            "eventVersion": "1.09",
            "userIdentity": {
                "type": "AssumedRole",
                "arn": format!("arn:aws:sts::123456789012:assumed-role/{}/s", caller_arn.rsplit('/').next().unwrap()),
                "accountId": "123456789012",
                "sessionContext": {"sessionIssuer": {"type": "Role", "arn": caller_arn, "accountId": "123456789012", "userName": "x"}},
            },
            "eventTime": "2026-12-02T01:00:00Z", "eventSource": "iam.amazonaws.com", "eventName": "TagPolicy",
            "awsRegion": "us-east-1", "eventID": "e1", "recipientAccountId": "123456789012",
            "errorCode": error,
            "requestParameters": {"policyArn": policy, "tags": [{"key": HEARTBEAT_TAG, "value": value}]},
        })
        .to_string()
    }

    #[test]
    fn only_wardens_own_tag_on_the_canary_is_a_heartbeat() {
        let canary = "arn:aws:iam::123456789012:policy/warden/warden-warden-canary";
        let warden = "arn:aws:iam::123456789012:role/warden-warden-function";
        let mut rules = RuleSet::default_pack().unwrap();
        rules.warden_principals.push(warden.to_owned());
        let beat = |body: String| {
            let mut out = None;
            parse_document(body.as_bytes(), |_, e| {
                out = heartbeat_of(&e.unwrap(), canary, &rules)
            });
            out
        };
        assert_eq!(
            beat(tag_event(warden, canary, "1800000000", None)),
            Some(1_800_000_000)
        );
        assert_eq!(
            beat(tag_event(
                "arn:aws:iam::123456789012:role/mallory",
                canary,
                "1",
                None
            )),
            None
        );
        assert_eq!(
            beat(tag_event(
                warden,
                "arn:aws:iam::123456789012:policy/other",
                "1",
                None
            )),
            None
        );
        assert_eq!(beat(tag_event(warden, canary, "soon", None)), None);
        assert_eq!(
            beat(tag_event(warden, canary, "1", Some("AccessDenied"))),
            None
        );
    }
}
