//! End to end on the local AWS: the catch-up from CloudTrail event history and the heartbeat. The
//! emulator does not implement `LookupEvents`, so the event history is the one thing given in
//! memory here ([`MemoryHistory`]); everything else is the real thing: the stack deployed by the
//! emulator's CloudFormation, Warden signing as its function role with policy enforcement on, the
//! intake and work queues, the forwarder, the ledger, the state table, IAM and the alert topic.
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
use warden_handler::enforce::catch_up::{windows_between, CatchUp};
use warden_handler::enforce::flow::{iso, system_clock};
use warden_handler::enforce::heartbeat::Heartbeat;
use warden_handler::enforce::history::{EventHistory, HistoryEvent, Lookup};
use warden_handler::enforce::watch::{epoch, WatchLimits, HEARTBEAT_TAG};
use warden_handler::local::demo::{
    self, escalation_event, mallory_puts_role_policy, user_call, Scenario, ACCOUNT,
};
use warden_handler::local::emulator::LocalAws;
use warden_handler::stores::init::MESSAGE_GROUP_ID;

/// The event history, in memory: the one fake of these tests (the emulator has no `LookupEvents`).
struct MemoryHistory(Mutex<Vec<HistoryEvent>>);

impl MemoryHistory {
    fn of(events: Vec<HistoryEvent>) -> Self {
        Self(Mutex::new(events))
    }
}

#[async_trait]
impl EventHistory for MemoryHistory {
    async fn lookup(&self, source: &str, start: i64, end: i64) -> Result<Lookup, AwsError> {
        let mut events: Vec<HistoryEvent> = self
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.source == source)
            .filter(|e| epoch(&e.time).is_some_and(|t| start <= t && t <= end))
            .cloned()
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
    let catch_up = CatchUp {
        history: &history,
        clients: &s.warden.clients,
        intake_url: intake,
        group_id: MESSAGE_GROUP_ID,
        routes: &routes,
        watch: Some(watch.store.as_ref()),
        now: t,
        deadline: None,
    };
    let windows = windows_between(&routes.sources(), t - 3600, t + 60);
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
        state
            .checkpoint
            .get("iam.amazonaws.com")
            .map(String::as_str),
        Some(iso(t + 60).as_str()),
        "{state:?}"
    );
    assert!(state.checkpoint.contains_key("s3.amazonaws.com"));
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
    let tick = |at: i64| {
        let catch_up = CatchUp {
            history: &history,
            clients: &s.warden.clients,
            intake_url: intake,
            group_id: MESSAGE_GROUP_ID,
            routes: &routes,
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
        state.checkpoint.contains_key("iam.amazonaws.com"),
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
    history
        .0
        .lock()
        .unwrap()
        .push(recorded(&heartbeat_event(&s, &canary, t1, "beat-2")));
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
