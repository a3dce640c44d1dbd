//! End to end on the local AWS: the catch-up from CloudTrail event history and the heartbeat. The
//! emulator does not implement `LookupEvents`, so the event history is the one thing given in
//! memory here ([`MemoryHistory`]); everything else is the real thing: the stack deployed by the
//! emulator's CloudFormation, Warden signing as its function role with policy enforcement on, the
//! intake and work queues, the forwarder, the ledger, the state table, IAM and the alert topic.
//! The history is one per region, as CloudTrail's is: an event is in the history of the region it
//! happened in, and the catch-up reads every covered region's (IAM in the main region only).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use async_trait::async_trait;
use policy_rules::evidence::RecordKind;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use warden_handler::assembly::routes;
use warden_handler::aws::AwsError;
use warden_handler::enforce::catch_up::{
    lookups, windows_between, windows_from_checkpoint, CatchUp, OVERLAP_SECONDS,
};
use warden_handler::enforce::flow::{iso, system_clock};
use warden_handler::enforce::heartbeat::Heartbeat;
use warden_handler::enforce::history::{EventHistory, HistoryEvent, Lookup, Regions};
use warden_handler::enforce::watch::{epoch, WatchLimits, HEARTBEAT_TAG};
use warden_handler::local::demo::{
    self, escalation_event, mallory_puts_role_policy, user_call, Scenario, ACCOUNT,
};
use warden_handler::local::emulator::LocalAws;
use warden_handler::stores::init::MESSAGE_GROUP_ID;

/// The event history, in memory: the one fake of these tests (the emulator has no `LookupEvents`).
/// Each event is in one region's history; every lookup asked is kept, as `(region, source)`.
#[derive(Default)]
struct MemoryHistory {
    events: Mutex<Vec<(String, HistoryEvent)>>,
    asked: Mutex<Vec<(String, String)>>,
}

impl MemoryHistory {
    /// Every event in the main region's (`us-east-1`) history.
    fn of(events: Vec<HistoryEvent>) -> Self {
        Self::in_regions(events.into_iter().map(|e| ("us-east-1", e)).collect())
    }

    fn in_regions(events: Vec<(&str, HistoryEvent)>) -> Self {
        Self {
            events: Mutex::new(events.into_iter().map(|(r, e)| (r.to_owned(), e)).collect()),
            asked: Mutex::default(),
        }
    }

    fn push(&self, region: &str, event: HistoryEvent) {
        self.events.lock().unwrap().push((region.to_owned(), event));
    }

    /// The regions `source` was asked in, in order, once each.
    fn regions_asked(&self, source: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (r, s) in self.asked.lock().unwrap().iter() {
            if s == source && !out.contains(r) {
                out.push(r.clone());
            }
        }
        out
    }
}

#[async_trait]
impl EventHistory for MemoryHistory {
    async fn lookup(
        &self,
        region: &str,
        source: &str,
        start: i64,
        end: i64,
    ) -> Result<Lookup, AwsError> {
        self.asked
            .lock()
            .unwrap()
            .push((region.to_owned(), source.to_owned()));
        let mut events: Vec<HistoryEvent> = self
            .events
            .lock()
            .unwrap()
            .iter()
            .filter(|(r, e)| r == region && e.source == source)
            .filter(|(_, e)| epoch(&e.time).is_some_and(|t| start <= t && t <= end))
            .map(|(_, e)| e.clone())
            .collect();
        // Newest first, as CloudTrail answers.
        events.sort_by(|a, b| b.time.cmp(&a.time));
        Ok(Lookup {
            events,
            requests: 1,
        })
    }

    fn pacing(&self) -> String {
        "in memory".to_owned()
    }
}

fn recorded(record: &Value) -> HistoryEvent {
    HistoryEvent {
        event_id: record["eventID"].as_str().unwrap().to_owned(),
        time: record["eventTime"].as_str().unwrap().to_owned(),
        source: record["eventSource"].as_str().unwrap().to_owned(),
        name: record["eventName"].as_str().unwrap().to_owned(),
        raw: record.to_string(),
    }
}

async fn start() -> (LocalAws, Scenario) {
    if std::env::var_os("RUST_LOG").is_some() {
        warden_handler::assembly::init_logging(false);
    }
    let aws = LocalAws::start().expect("the local AWS starts (moto, installed by the project)");
    let scenario = Scenario::setup(&aws)
        .await
        .expect("the demo account is set up");
    (aws, scenario)
}

fn now() -> i64 {
    (system_clock())()
}

fn decisions_for(records: &[policy_rules::evidence::Record], event_id: &str) -> usize {
    records
        .iter()
        .filter(|r| r.kind == RecordKind::Decision && r.event_id.as_deref() == Some(event_id))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missed_event_is_caught_up_from_history_once_and_the_checkpoint_moves() {
    let (aws, s) = start().await;
    let (flow, config) = demo::flow(&s, &[]).unwrap();
    // The live path sees mallory's first escalation and denies it narrowly.
    assert!(mallory_puts_role_policy(&s, "billing-reports", "escalate")
        .await
        .unwrap());
    let seen = escalation_event("seen-1", "billing-reports");
    s.emit(&seen).await.unwrap();
    demo::work_once(&aws, &s, &flow, &config).await.unwrap();
    // Her second one, on another role, is never delivered (the trail, the rule or the queue was
    // down): only the event history has it, with a read-only call no rule routes.
    assert!(mallory_puts_role_policy(&s, "app-deploy", "escalate")
        .await
        .unwrap());
    let missed = escalation_event("missed-1", "app-deploy");
    let read = user_call(
        "mallory",
        "iam.amazonaws.com",
        "GetRole",
        json!({"roleName": "app-deploy"}),
        "read-1",
    );
    let history = MemoryHistory::of(vec![recorded(&seen), recorded(&missed), recorded(&read)]);

    let routes = routes(&config).unwrap();
    let watch = flow.watch.as_ref().unwrap();
    let intake = s.init.get("WARDEN_INTAKE_QUEUE_URL").unwrap();
    let t = now();
    let regions = Regions::main_only("us-east-1");
    let catch_up = CatchUp {
        history: &history,
        clients: &s.warden.clients,
        intake_url: intake,
        group_id: MESSAGE_GROUP_ID,
        routes: &routes,
        regions: &regions,
        watch: Some(watch.store.as_ref()),
        now: t,
        deadline: None,
    };
    let windows = windows_between(&lookups(&routes, &regions), t - 3600, t + 60);
    let report = catch_up.run(&windows).await.unwrap();
    let iam = report
        .sources
        .iter()
        .find(|r| r.source == "iam.amazonaws.com")
        .unwrap();
    assert_eq!(
        (iam.looked_up, iam.sent, iam.not_routed),
        (3, 2, 1),
        "{report:?}"
    );
    assert_eq!(report.sent(), 2);
    assert!(report.complete);
    assert!(report
        .sources
        .iter()
        .any(|r| r.source == "sts.amazonaws.com"));

    // Through the same queue and flow: the missed escalation is denied and undone; the one the
    // live path delivered is not enforced again.
    let stats = demo::work_once(&aws, &s, &flow, &config).await.unwrap();
    assert_eq!(stats.forwarded, 2, "{stats:?}");
    let records = flow.evidence.list().await.unwrap();
    assert_eq!(decisions_for(&records, "missed-1"), 1);
    assert_eq!(decisions_for(&records, "seen-1"), 1);
    assert_eq!(decisions_for(&records, "read-1"), 0);
    assert!(!s
        .role_policies("app-deploy")
        .await
        .unwrap()
        .contains(&"escalate".to_owned()));
    assert!(!mallory_puts_role_policy(&s, "app-deploy", "again")
        .await
        .unwrap());

    // The checkpoint: every source looked up up to the window's end, written now.
    let state = watch.store.state().await.unwrap();
    assert_eq!(
        state.of("us-east-1", "iam.amazonaws.com"),
        Some(iso(t + 60).as_str()),
        "{state:?}"
    );
    assert!(state.of("us-east-1", "s3.amazonaws.com").is_some());
    assert_eq!(state.written_at, Some(t));

    // The overlap is free: the same window again records and changes nothing more (whatever the
    // queues' 5-minute deduplication keeps out, the ledger's claim of the eventID does).
    let before = flow.evidence.list().await.unwrap().len();
    catch_up.run(&windows).await.unwrap();
    demo::work_once(&aws, &s, &flow, &config).await.unwrap();
    let records = flow.evidence.list().await.unwrap();
    assert_eq!(records.len(), before, "{records:?}");
    assert_eq!(decisions_for(&records, "missed-1"), 1);
    assert_eq!(
        s.alerts().await.unwrap().len(),
        2,
        "one alert per enforced event, none more"
    );
}

/// The CloudTrail record of Warden's heartbeat: its function role tags the canary policy.
fn heartbeat_event(s: &Scenario, canary: &str, beat: i64, event_id: &str) -> Value {
    let role = &s.warden.arn;
    let name = role.rsplit('/').next().unwrap();
    json!({
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": "AROAEXAMPLE:warden-function",
            "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/{name}/warden-function"),
            "accountId": ACCOUNT,
            "accessKeyId": "ASIAEXAMPLE",
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLE", "arn": role, "accountId": ACCOUNT, "userName": name},
                "attributes": {"creationDate": iso(beat - 60), "mfaAuthenticated": "false"},
            },
        },
        "eventTime": iso(beat),
        "eventSource": "iam.amazonaws.com",
        "eventName": "TagPolicy",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.9",
        "userAgent": "aws-sdk-rust",
        "requestParameters": {"policyArn": canary, "tags": [{"key": HEARTBEAT_TAG, "value": beat.to_string()}]},
        "responseElements": null,
        "requestID": format!("req-{event_id}"),
        "eventID": event_id,
        "readOnly": false,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heartbeat_that_does_not_come_back_alerts_that_warden_is_blind_and_catches_up() {
    let (aws, s) = start().await;
    let (mut flow, config) = demo::flow(&s, &[]).unwrap();
    // The flow's clock, moved on by hand: the tick's limits are minutes.
    let offset = Arc::new(AtomicI64::new(0));
    flow.clock = {
        let offset = offset.clone();
        Arc::new(move || now() + offset.load(Ordering::SeqCst))
    };
    let clock = flow.clock.clone();
    let later = |seconds: i64| {
        offset.fetch_add(seconds, Ordering::SeqCst);
        clock()
    };
    let canary = config
        .canary_policy_arn
        .clone()
        .expect("the stack names its canary");
    assert_eq!(
        canary,
        format!(
            "arn:aws:iam::{ACCOUNT}:policy/warden/warden-{}-canary",
            demo::STACK
        )
    );
    let routes = routes(&config).unwrap();
    let intake = s.init.get("WARDEN_INTAKE_QUEUE_URL").unwrap();
    let store = flow.watch.as_ref().unwrap().store.clone();
    let history = MemoryHistory::of(Vec::new());
    let regions = Regions::main_only("us-east-1");
    let tick = |at: i64| {
        let catch_up = CatchUp {
            history: &history,
            clients: &s.warden.clients,
            intake_url: intake,
            group_id: MESSAGE_GROUP_ID,
            routes: &routes,
            regions: &regions,
            watch: Some(store.as_ref()),
            now: at,
            deadline: None,
        };
        let h = Heartbeat {
            clients: &s.warden.clients,
            store: store.as_ref(),
            outbox: flow.outbox.as_ref(),
            canary_arn: Some(canary.as_str()),
            account: ACCOUNT,
            limits: WatchLimits::default(),
            catch_up: Some(catch_up),
        };
        async move { h.tick(at).await.unwrap() }
    };

    // The first tick tags the canary (as Warden's role, through the template's permission).
    let t0 = clock();
    let r = tick(t0).await;
    assert_eq!(
        (r.beat_sent, r.blind.is_none(), r.catch_up.is_none()),
        (Some(t0), true, true)
    );
    let tags = s
        .admin
        .clients
        .iam
        .list_policy_tags()
        .policy_arn(&canary)
        .send()
        .await
        .unwrap();
    assert!(
        tags.tags()
            .iter()
            .any(|t| t.key() == HEARTBEAT_TAG && t.value() == t0.to_string()),
        "{tags:?}"
    );
    // Its event comes back through the rules (here: put on the bus as AWS would), and the flow
    // records it as a heartbeat, judging nothing.
    s.emit(&heartbeat_event(&s, &canary, t0, "beat-1"))
        .await
        .unwrap();
    let stats = demo::work_once(&aws, &s, &flow, &config).await.unwrap();
    assert_eq!(
        (stats.messages, stats.changes, stats.alerts),
        (1, 0, 0),
        "{stats:?}"
    );
    let state = store.state().await.unwrap();
    assert_eq!(state.beat_seen, Some(t0));
    assert!(
        state.of("us-east-1", "iam.amazonaws.com").is_some(),
        "{state:?}"
    );
    let records = flow.evidence.list().await.unwrap();
    assert!(records
        .iter()
        .all(|r| r.event_id.as_deref() != Some("beat-1")));

    // Nothing wrong: the tick only reads.
    let r = tick(later(60)).await;
    assert_eq!((r.beat_sent, r.blind, r.catch_up), (None, None, None));

    // The next beat is sent, and its event is lost on the way; the event history has it.
    let t1 = later(540);
    let r = tick(t1).await;
    assert_eq!(r.beat_sent, Some(t1));
    history.push(
        "us-east-1",
        recorded(&heartbeat_event(&s, &canary, t1, "beat-2")),
    );
    // Past the limit: Warden says it is blind and catches up from the checkpoint, which brings
    // the lost heartbeat back through the queue and the flow.
    let r = tick(later(301)).await;
    assert!(
        r.blind.as_deref().unwrap().contains("may be blind"),
        "{r:?}"
    );
    let done = r.catch_up.expect("a catch-up ran");
    assert_eq!(done.sent(), 1, "{done:?}");
    demo::work_once(&aws, &s, &flow, &config).await.unwrap();
    assert_eq!(store.state().await.unwrap().beat_seen, Some(t1));
    let alerts = s.alerts().await.unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(
        alerts[0].contains("HeartbeatMissing") && alerts[0].contains("blind"),
        "{}",
        alerts[0]
    );
    // Once per outage: the next tick neither alerts again nor catches up again.
    let r = tick(later(60)).await;
    assert_eq!((r.blind, r.catch_up.is_none()), (None, true));
}

/// Mallory's `PutBucketPolicy` on the demo's `payments-data`, made in `region` at `time`, as its
/// CloudTrail record. (The local AWS answers every region at one endpoint, so the bucket itself
/// is the demo's; the record is what puts the event in that region's history.)
async fn mallory_puts_bucket_policy(
    s: &Scenario,
    event_id: &str,
    region: &str,
    time: i64,
) -> Value {
    let mut record = demo::mallory_puts_bucket_policy(s, event_id).await.unwrap();
    record["awsRegion"] = json!(region);
    record["eventTime"] = json!(iso(time));
    record
}

async fn mallory_may_put_bucket_policy(s: &Scenario) -> bool {
    s.mallory
        .clients
        .s3
        .put_bucket_policy()
        .bucket("payments-data")
        .policy(r#"{"Version":"2012-10-17","Statement":[{"Sid":"Again","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/mallory"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::payments-data/*"}]}"#)
        .send()
        .await
        .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_s3_event_only_in_another_regions_history_is_caught_up_and_iam_is_asked_once() {
    let (aws, s) = start().await;
    let (flow, config) = demo::flow(&s, &[]).unwrap();
    let t = now();
    // Mallory's bucket-policy change happened in eu-west-1, whose regional stack did not forward
    // it: only eu-west-1's event history has it.
    let missed = mallory_puts_bucket_policy(&s, "eu-bucket-1", "eu-west-1", t - 600).await;
    let history = MemoryHistory::in_regions(vec![("eu-west-1", recorded(&missed))]);
    let routes = routes(&config).unwrap();
    let watch = flow.watch.as_ref().unwrap();
    let regions = Regions::new(
        "us-east-1",
        &["eu-west-1".to_owned(), "ap-south-2".to_owned()],
    );
    let catch_up = CatchUp {
        history: &history,
        clients: &s.warden.clients,
        intake_url: s.init.get("WARDEN_INTAKE_QUEUE_URL").unwrap(),
        group_id: MESSAGE_GROUP_ID,
        routes: &routes,
        regions: &regions,
        watch: Some(watch.store.as_ref()),
        now: t,
        deadline: None,
    };
    let windows = windows_between(&lookups(&routes, &regions), t - 3600, t + 60);
    let report = catch_up.run(&windows).await.unwrap();
    let of = |region: &str, source: &str| {
        report
            .sources
            .iter()
            .find(|r| r.region == region && r.source == source)
    };
    let eu = of("eu-west-1", "s3.amazonaws.com").unwrap();
    assert_eq!((eu.looked_up, eu.sent), (1, 1), "{report:?}");
    assert_eq!(of("us-east-1", "s3.amazonaws.com").unwrap().looked_up, 0);
    assert_eq!(report.sent(), 1);
    // IAM once, in the main region, however many regions are covered; the regional sources in
    // every one of them.
    assert_eq!(history.regions_asked("iam.amazonaws.com"), ["us-east-1"]);
    assert!(of("eu-west-1", "iam.amazonaws.com").is_none());
    for source in [
        "s3.amazonaws.com",
        "cloudtrail.amazonaws.com",
        "sts.amazonaws.com",
    ] {
        assert_eq!(
            history.regions_asked(source),
            ["us-east-1", "eu-west-1", "ap-south-2"],
            "{source}"
        );
    }

    // Through the same queue and flow: the change is denied and undone like a live one.
    let stats = demo::work_once(&aws, &s, &flow, &config).await.unwrap();
    assert_eq!(stats.forwarded, 1, "{stats:?}");
    let records = flow.evidence.list().await.unwrap();
    assert_eq!(decisions_for(&records, "eu-bucket-1"), 1, "{records:?}");
    assert!(
        !mallory_may_put_bucket_policy(&s).await,
        "the Deny for the caught-up change holds"
    );

    // Each region's checkpoint moved to the end of its own window.
    let state = watch.store.state().await.unwrap();
    for region in ["us-east-1", "eu-west-1", "ap-south-2"] {
        assert_eq!(
            state.of(region, "s3.amazonaws.com"),
            Some(iso(t + 60).as_str()),
            "{region}: {state:?}"
        );
    }
    assert_eq!(state.of("eu-west-1", "iam.amazonaws.com"), None);
}

/// The state table's `watch#pipeline` item as it is stored.
async fn raw_watch_item(
    s: &Scenario,
    table: &str,
) -> std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
    s.admin
        .clients
        .dynamodb
        .get_item()
        .table_name(table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("watch#pipeline".to_owned()),
        )
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap_or_default()
}

fn s_of(
    item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
    k: &str,
) -> Option<String> {
    item.get(k).and_then(|v| v.as_s().ok()).cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_regions_gap_is_filled_while_anothers_checkpoint_is_recent_and_an_old_checkpoint_is_the_main_regions(
) {
    let (aws, s) = start().await;
    let (flow, config) = demo::flow(&s, &[]).unwrap();
    let store = flow.watch.as_ref().unwrap().store.clone();
    let table = config.state_table.clone();
    let t = now();
    // A checkpoint written before Warden read other regions: one attribute per source, no region.
    s.admin
        .clients
        .dynamodb
        .update_item()
        .table_name(&table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("watch#pipeline".to_owned()),
        )
        .update_expression("SET #s3 = :recent, #iam = :recent")
        .expression_attribute_names("#s3", "checkpoint#s3.amazonaws.com")
        .expression_attribute_names("#iam", "checkpoint#iam.amazonaws.com")
        .expression_attribute_values(
            ":recent",
            aws_sdk_dynamodb::types::AttributeValue::S(iso(t - 60)),
        )
        .send()
        .await
        .unwrap();
    let state = store.state().await.unwrap();
    assert_eq!(
        state.of("us-east-1", "s3.amazonaws.com"),
        Some(iso(t - 60).as_str()),
        "the old checkpoint reads as the main region's: {state:?}"
    );
    assert_eq!(state.checkpoint.keys().collect::<Vec<_>>(), ["us-east-1"]);
    // eu-west-1's S3 events stopped coming three hours ago.
    store
        .advance(
            "eu-west-1",
            "s3.amazonaws.com",
            &iso(t - 3 * 3600),
            t - 3 * 3600,
        )
        .await
        .unwrap();
    let item = raw_watch_item(&s, &table).await;
    assert_eq!(
        s_of(&item, "checkpoint#eu-west-1#s3.amazonaws.com"),
        Some(iso(t - 3 * 3600))
    );

    // Two hours ago: a change in eu-west-1 that was missed, and one in us-east-1 that the live
    // path delivered (before the main region's checkpoint less the overlap: not looked up again).
    let missed = mallory_puts_bucket_policy(&s, "eu-gap-1", "eu-west-1", t - 7200).await;
    let seen = mallory_puts_bucket_policy(&s, "us-seen-1", "us-east-1", t - 7200).await;
    let history = MemoryHistory::in_regions(vec![
        ("eu-west-1", recorded(&missed)),
        ("us-east-1", recorded(&seen)),
    ]);
    let routes = routes(&config).unwrap();
    let regions = Regions::new("us-east-1", &["eu-west-1".to_owned()]);
    let state = store.state().await.unwrap();
    let windows = windows_from_checkpoint(&state, &lookups(&routes, &regions), t);
    let start = |region: &str, source: &str| {
        windows
            .iter()
            .find(|w| w.region == region && w.source == source)
            .map(|w| w.start)
    };
    assert_eq!(
        start("us-east-1", "s3.amazonaws.com"),
        Some(t - 60 - OVERLAP_SECONDS)
    );
    assert_eq!(
        start("eu-west-1", "s3.amazonaws.com"),
        Some(t - 3 * 3600 - OVERLAP_SECONDS),
        "eu-west-1's gap is not skipped for us-east-1's recent checkpoint"
    );
    let catch_up = CatchUp {
        history: &history,
        clients: &s.warden.clients,
        intake_url: s.init.get("WARDEN_INTAKE_QUEUE_URL").unwrap(),
        group_id: MESSAGE_GROUP_ID,
        routes: &routes,
        regions: &regions,
        watch: Some(store.as_ref()),
        now: t,
        deadline: None,
    };
    let report = catch_up.run(&windows).await.unwrap();
    assert_eq!(report.sent(), 1, "{report:?}");
    let eu = report
        .sources
        .iter()
        .find(|r| r.region == "eu-west-1" && r.source == "s3.amazonaws.com")
        .unwrap();
    assert_eq!(
        (eu.sent, eu.first.as_deref()),
        (1, Some(iso(t - 7200).as_str()))
    );
    let stats = demo::work_once(&aws, &s, &flow, &config).await.unwrap();
    assert_eq!(stats.forwarded, 1, "{stats:?}");
    let records = flow.evidence.list().await.unwrap();
    assert_eq!(decisions_for(&records, "eu-gap-1"), 1);
    assert_eq!(decisions_for(&records, "us-seen-1"), 0);

    // Both regions' checkpoints are at the end of the catch-up; the main region's is still the
    // attribute it always was, so an older Warden reads it too.
    let state = store.state().await.unwrap();
    assert_eq!(
        state.of("eu-west-1", "s3.amazonaws.com"),
        Some(iso(t).as_str())
    );
    assert_eq!(
        state.of("us-east-1", "s3.amazonaws.com"),
        Some(iso(t).as_str())
    );
    let item = raw_watch_item(&s, &table).await;
    assert_eq!(s_of(&item, "checkpoint#s3.amazonaws.com"), Some(iso(t)));
    assert_eq!(
        s_of(&item, "checkpoint#eu-west-1#s3.amazonaws.com"),
        Some(iso(t))
    );
    assert!(!item.contains_key("checkpoint#us-east-1#s3.amazonaws.com"));
}

/// Issue 11 §4: an event of another region that arrives live (a regional stack forwarded it)
/// moves that region's checkpoint and no other, so the next catch-up of that region starts from
/// it less the overlap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_event_of_another_region_moves_that_regions_checkpoint_only() {
    let (aws, s) = start().await;
    let (flow, config) = demo::flow(&s, &[]).unwrap();
    let store = flow.watch.as_ref().unwrap().store.clone();
    let t = now();
    let event = mallory_puts_bucket_policy(&s, "eu-live-1", "eu-west-1", t - 120).await;
    s.emit(&event).await.unwrap();
    let stats = demo::work_once(&aws, &s, &flow, &config).await.unwrap();
    assert_eq!(stats.forwarded, 1, "{stats:?}");
    let records = flow.evidence.list().await.unwrap();
    assert_eq!(decisions_for(&records, "eu-live-1"), 1);
    let state = store.state().await.unwrap();
    assert_eq!(
        state.of("eu-west-1", "s3.amazonaws.com"),
        Some(iso(t - 120).as_str()),
        "{state:?}"
    );
    assert_eq!(state.of("us-east-1", "s3.amazonaws.com"), None, "{state:?}");
    // The next catch-up starts eu-west-1 at its checkpoint less the overlap.
    let routes = routes(&config).unwrap();
    let regions = Regions::new("us-east-1", &["eu-west-1".to_owned()]);
    let windows = windows_from_checkpoint(&state, &lookups(&routes, &regions), t);
    let eu = windows
        .iter()
        .find(|w| w.region == "eu-west-1" && w.source == "s3.amazonaws.com")
        .unwrap();
    assert_eq!(eu.start, t - 120 - OVERLAP_SECONDS);
    let us = windows
        .iter()
        .find(|w| w.region == "us-east-1" && w.source == "s3.amazonaws.com")
        .unwrap();
    // The main region has no checkpoint of its own yet: it starts at the oldest known, never
    // later (nothing of its own was seen, so nothing of it is skipped).
    assert_eq!(us.start, eu.start, "{windows:?}");
}
