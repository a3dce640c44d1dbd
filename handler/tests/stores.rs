//! The DynamoDB, S3 and SNS adapters of the store ports, and `warden init`, against the local AWS
//! (moto over real HTTP). Each test starts its own emulator.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use policy_rules::evidence::{verify, Draft, RecordKind};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use warden_handler::aws::{Clients, RateLimits, RetryPolicy};
use warden_handler::enforce::alerts::Incident;
use warden_handler::enforce::alerts::{render, Alert, Notice};
use warden_handler::enforce::ports::{Claim, EvidenceStore, Ledger, Notifier, Outbox, StoreError};
use warden_handler::local::emulator::LocalAws;
use warden_handler::stores::dynamo::{DynamoEvidence, DynamoLedger, DynamoOutbox, EvidenceMirror};
use warden_handler::stores::init::{init, InitOutput};
use warden_handler::stores::sns::SnsNotifier;

async fn setup() -> (LocalAws, Clients, InitOutput) {
    let aws = LocalAws::start().unwrap();
    let conf = aws.sdk_config().await;
    let clients = Clients::from_conf(&conf, &RateLimits::default(), RetryPolicy::default());
    let out = init(&clients, "wt", true).await.unwrap();
    (aws, clients, out)
}

fn var<'a>(out: &'a InitOutput, name: &str) -> &'a str {
    out.get(name).unwrap()
}

fn draft(id: &str) -> Draft {
    Draft {
        id: id.into(),
        time: "2026-11-22T10:00:00Z".into(),
        kind: Some(RecordKind::Change),
        principal: Some("arn:aws:iam::123456789012:user/bob".into()),
        target: Some("arn:aws:iam::123456789012:user/bob".into()),
        actions: vec!["iam:CreateUser".into()],
        rule: Some("iam-writes".into()),
        event_id: Some(format!("evt-{id}")),
        body: json!({"before": null, "after": {"z": 1, "a": [id]}}),
    }
}

fn notice(event_id: &str, principal: &str) -> Notice {
    Notice {
        event_id: event_id.into(),
        event_time: Some("2026-11-22T10:00:00Z".into()),
        event_source: "iam.amazonaws.com".into(),
        event_name: "CreateUser".into(),
        account: Some("123456789012".into()),
        region: Some("us-east-1".into()),
        principal: principal.into(),
        caller_arn: Some(principal.into()),
        caller_kind: "iam_user".into(),
        verdict: "deny".into(),
        mode: "enforce".into(),
        rule: Some("iam-writes".into()),
        actions: vec!["iam:CreateUser".into()],
        resources: vec!["arn:aws:iam::123456789012:user/eve".into()],
        reasons: vec!["rule `iam-writes` forbids iam:CreateUser".into()],
        changes: vec![],
        todo: vec![],
        tamper: false,
    }
}

// --- Ledger ---------------------------------------------------------------------------------

#[tokio::test]
async fn ledger_claims_fresh_busy_done_and_resumes_after_the_lease() {
    let (_aws, clients, out) = setup().await;
    let ledger = DynamoLedger::new(clients, var(&out, "WARDEN_STATE_TABLE"));

    assert_eq!(
        ledger.claim("e1", "w1", 100, 160).await.unwrap(),
        Claim::Fresh
    );
    assert_eq!(
        ledger.claim("e1", "w2", 110, 170).await.unwrap(),
        Claim::Busy { until: 160 }
    );
    ledger
        .save("e1", "w1", &json!({"stage": "applied"}))
        .await
        .unwrap();
    // w1's lease runs out: w2 takes over and sees the saved progress.
    assert_eq!(
        ledger.claim("e1", "w2", 161, 221).await.unwrap(),
        Claim::Resume(json!({"stage": "applied"}))
    );
    // w1 lost it.
    assert!(matches!(
        ledger.save("e1", "w1", &json!({"stage": "late"})).await,
        Err(StoreError::Lost(id)) if id == "e1"
    ));
    assert!(matches!(
        ledger.finish("e1", "w1", &json!({})).await,
        Err(StoreError::Lost(_))
    ));
    ledger
        .finish("e1", "w2", &json!({"alerts": 1}))
        .await
        .unwrap();
    assert_eq!(
        ledger.claim("e1", "w3", 10_000, 10_060).await.unwrap(),
        Claim::Done(json!({"alerts": 1}))
    );
    // A different event is independent.
    assert_eq!(
        ledger.claim("e2", "w3", 100, 160).await.unwrap(),
        Claim::Fresh
    );
}

// --- Evidence -------------------------------------------------------------------------------

#[tokio::test]
async fn evidence_appends_lists_and_verifies_against_its_head() {
    let (_aws, clients, out) = setup().await;
    let store = DynamoEvidence::new(clients, var(&out, "WARDEN_EVIDENCE_TABLE"));
    assert_eq!(store.head().await.unwrap(), None);
    assert!(store.list().await.unwrap().is_empty());
    let a = store.append(draft("a")).await.unwrap();
    let b = store.append(draft("b")).await.unwrap();
    let c = store.append(draft("c")).await.unwrap();
    assert_eq!((a.seq, b.seq, c.seq), (0, 1, 2));
    assert_eq!(b.prev_hash, a.hash);
    let all = store.list().await.unwrap();
    assert_eq!(all, vec![a.clone(), b.clone(), c.clone()]);
    let head = store.head().await.unwrap().unwrap();
    assert_eq!(head, (2, c.hash.clone()));
    assert_eq!(verify(&all, Some((head.0, &head.1))), Ok(()));
    assert_eq!(store.get("b").await.unwrap(), Some(b));
    assert_eq!(store.get("nope").await.unwrap(), None);
}

#[tokio::test]
async fn evidence_appends_the_same_id_once() {
    let (_aws, clients, out) = setup().await;
    let store = DynamoEvidence::new(clients, var(&out, "WARDEN_EVIDENCE_TABLE"));
    let first = store.append(draft("x")).await.unwrap();
    store.append(draft("y")).await.unwrap();
    let mut again = draft("x");
    again.time = "2026-11-22T11:00:00Z".into();
    assert_eq!(store.append(again).await.unwrap(), first);
    assert_eq!(store.list().await.unwrap().len(), 2);
    assert_eq!(store.head().await.unwrap().unwrap().0, 1);
}

#[tokio::test]
async fn evidence_appends_an_events_records_in_one_transaction_and_once() {
    let (_aws, clients, out) = setup().await;
    let caller = clients.caller.clone();
    let store = DynamoEvidence::new(clients, var(&out, "WARDEN_EVIDENCE_TABLE"));
    store.append(draft("first")).await.unwrap();
    let before = caller.sent();
    let drafts: Vec<Draft> = ["d", "c1", "v1", "c2", "v2"].map(draft).to_vec();
    let records = store.append_all(drafts.clone()).await.unwrap();
    let sent = caller.sent().since(&before);
    assert_eq!(
        sent.to_string(),
        "dynamodb:GetItem×1, dynamodb:TransactWriteItems×1",
        "one head read and one transaction"
    );
    assert_eq!(
        records.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
    let all = store.list().await.unwrap();
    assert_eq!(all.get(1..), Some(&records[..]));
    let head = store.head().await.unwrap().unwrap();
    assert_eq!(head, (5, records[4].hash.clone()));
    assert_eq!(verify(&all, Some((head.0, &head.1))), Ok(()));

    // Again (a retry after a lost answer, later): the stored records, nothing written.
    let later: Vec<Draft> = drafts
        .into_iter()
        .map(|mut d| {
            d.time = "2026-11-22T11:00:00Z".into();
            d
        })
        .collect();
    assert_eq!(store.append_all(later).await.unwrap(), records);
    // Some stored and some new: the stored ones are returned, the new one appended after the head.
    let mixed = store
        .append_all(vec![draft("v2"), draft("new")])
        .await
        .unwrap();
    assert_eq!(mixed[0], records[4]);
    assert_eq!(mixed[1].seq, 6);
    let all = store.list().await.unwrap();
    assert_eq!(all.len(), 7);
    let head = store.head().await.unwrap().unwrap();
    assert_eq!(verify(&all, Some((head.0, &head.1))), Ok(()));
}

#[tokio::test]
async fn evidence_refuses_a_record_larger_than_an_item_by_name() {
    let (_aws, clients, out) = setup().await;
    let store = DynamoEvidence::new(clients, var(&out, "WARDEN_EVIDENCE_TABLE"));
    let mut big = draft("big");
    big.body = json!({"before": "x".repeat(500_000)});
    let err = store.append(big).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::TooLarge { id, .. } if id == "big"),
        "{err}"
    );
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("`big`"), "{err}");
    assert!(store.list().await.unwrap().is_empty(), "nothing written");
    assert_eq!(store.head().await.unwrap(), None);
}

/// A loopback proxy that lets one request at a time reach the emulator; returns its port. moto's
/// DynamoDB runs each request on its own thread without a lock: a transaction checks its conditions
/// and writes in separate steps, and a cancelled one rolls its tables back to a copy taken when it
/// started, erasing what another request committed meanwhile. DynamoDB makes each request atomic;
/// serializing requests gives the emulator that property back, while the writers' read-then-append
/// sequences still interleave (the race the conditions must win). One request per connection.
async fn one_request_at_a_time(upstream: u16) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let lock = Arc::new(tokio::sync::Mutex::new(()));
    tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                return;
            };
            let lock = Arc::clone(&lock);
            tokio::spawn(async move {
                let mut req = Vec::new();
                let mut chunk = [0u8; 8192];
                let head_end = loop {
                    let n = client.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    req.extend_from_slice(&chunk[..n]);
                    if let Some(i) = req.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                };
                let head = String::from_utf8_lossy(&req[..head_end]).to_string();
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                while req.len() < head_end + length {
                    let n = client.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    req.extend_from_slice(&chunk[..n]);
                }
                let head: String = head
                    .trim_end()
                    .lines()
                    .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
                    .map(|l| format!("{l}\r\n"))
                    .collect();
                let mut forward = format!("{head}Connection: close\r\n\r\n").into_bytes();
                forward.extend_from_slice(&req[head_end..]);
                let response = {
                    let _one = lock.lock().await;
                    let mut up = tokio::net::TcpStream::connect(("127.0.0.1", upstream))
                        .await
                        .unwrap();
                    up.write_all(&forward).await.unwrap();
                    let mut response = Vec::new();
                    up.read_to_end(&mut response).await.unwrap();
                    response
                };
                let _ = client.write_all(&response).await;
                let _ = client.shutdown().await;
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_make_one_chain_without_fork_or_gap() {
    let aws = LocalAws::start().unwrap();
    let conf = aws.sdk_config().await;
    let proxy = one_request_at_a_time(aws.port).await;
    let conf = conf
        .to_builder()
        .endpoint_url(format!("http://127.0.0.1:{proxy}"))
        .build();
    let clients = Clients::from_conf(&conf, &RateLimits::default(), RetryPolicy::default());
    let out = init(&clients, "wt", false).await.unwrap();
    let store = Arc::new(
        DynamoEvidence::new(clients, var(&out, "WARDEN_EVIDENCE_TABLE")).with_max_attempts(200),
    );
    let mut tasks = Vec::new();
    for w in 0..2 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            for i in 0..20 {
                store.append(draft(&format!("w{w}-{i}"))).await.unwrap();
            }
        }));
    }
    // A third writer appends whole events (five records in one transaction).
    let batches = Arc::clone(&store);
    tasks.push(tokio::spawn(async move {
        for e in 0..4 {
            let drafts = (0..5).map(|i| draft(&format!("e{e}-{i}"))).collect();
            batches.append_all(drafts).await.unwrap();
        }
    }));
    for t in tasks {
        t.await.unwrap();
    }
    let all = store.list().await.unwrap();
    assert_eq!(all.len(), 60);
    let head = store.head().await.unwrap().unwrap();
    assert_eq!(head.0, 59);
    assert_eq!(verify(&all, Some((head.0, &head.1))), Ok(()));
    let mut ids: Vec<&str> = all.iter().map(|r| r.id.as_str()).collect();
    // Each event's records are consecutive.
    for e in 0..4 {
        let at = ids.iter().position(|i| *i == format!("e{e}-0")).unwrap();
        let run: Vec<String> = (0..5).map(|i| format!("e{e}-{i}")).collect();
        assert_eq!(ids.get(at..at + 5).unwrap(), run.as_slice());
    }
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 60);
}

#[tokio::test]
async fn the_mirror_holds_locked_copies() {
    let (_aws, clients, out) = setup().await;
    let bucket = var(&out, "WARDEN_EVIDENCE_BUCKET").to_owned();
    let store = DynamoEvidence::new(clients.clone(), var(&out, "WARDEN_EVIDENCE_TABLE"))
        .with_mirror(EvidenceMirror::new(&bucket));
    let a = store.append(draft("a")).await.unwrap();
    let b = store.append(draft("b")).await.unwrap();
    for r in [&a, &b] {
        let key = EvidenceMirror::key(r);
        let got = clients
            .s3
            .get_object()
            .bucket(&bucket)
            .key(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(
            got.object_lock_mode().map(|m| m.as_str()),
            Some("GOVERNANCE"),
            "{key}"
        );
        assert!(got.object_lock_retain_until_date().is_some());
        let version = got.version_id().unwrap().to_owned();
        let body = got.body.collect().await.unwrap().into_bytes();
        assert_eq!(String::from_utf8(body.to_vec()).unwrap(), r.to_line());
        let del = clients
            .s3
            .delete_object()
            .bucket(&bucket)
            .key(&key)
            .version_id(&version)
            .send()
            .await;
        assert!(del.is_err(), "a locked version was deleted");
    }
    let keys: Vec<String> = clients
        .s3
        .list_objects_v2()
        .bucket(&bucket)
        .send()
        .await
        .unwrap()
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect();
    assert_eq!(keys, vec![EvidenceMirror::key(&a), EvidenceMirror::key(&b)]);
}

// --- Outbox ---------------------------------------------------------------------------------

const BOB: &str = "arn:aws:iam::123456789012:user/bob";
const ANN: &str = "arn:aws:iam::123456789012:user/ann";

#[tokio::test]
async fn outbox_groups_a_principal_and_ignores_duplicates() {
    let (_aws, clients, out) = setup().await;
    let outbox = DynamoOutbox::new(clients, var(&out, "WARDEN_STATE_TABLE"));
    outbox.add(&notice("e1", BOB), 1000).await.unwrap();
    outbox.add(&notice("e2", BOB), 1005).await.unwrap();
    outbox.add(&notice("e2", BOB), 1006).await.unwrap();
    outbox.add(&notice("e3", BOB), 1010).await.unwrap();
    // Not due before the window has passed.
    assert!(outbox.due(1020, 60).await.unwrap().is_empty());
    let due = outbox.due(1060, 60).await.unwrap();
    assert_eq!(due.len(), 1);
    let inc = &due[0];
    assert_eq!(inc.principal, BOB);
    assert_eq!(inc.opened, 1000);
    let ids: Vec<&str> = inc.notices.iter().map(|n| n.event_id.as_str()).collect();
    assert_eq!(ids, ["e1", "e2", "e3"]);
    assert_eq!(inc.notices[0], notice("e1", BOB));
    assert_eq!(outbox.due(1060, 0).await.unwrap(), due);

    outbox.sent(inc, "m-1", 1061).await.unwrap();
    // A retried `sent` is harmless.
    outbox.sent(inc, "m-1", 1062).await.unwrap();
    assert!(outbox.due(5000, 0).await.unwrap().is_empty());
    outbox.add(&notice("e4", BOB), 2000).await.unwrap();
    let due = outbox.due(5000, 0).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_ne!(due[0].id, inc.id);
    assert_eq!(due[0].notices.len(), 1);
    assert_eq!(due[0].notices[0].event_id, "e4");
}

#[tokio::test]
async fn outbox_keeps_principals_apart() {
    let (_aws, clients, out) = setup().await;
    let outbox = DynamoOutbox::new(clients, var(&out, "WARDEN_STATE_TABLE"));
    outbox.add(&notice("e1", BOB), 1000).await.unwrap();
    outbox.add(&notice("e2", ANN), 1001).await.unwrap();
    outbox.add(&notice("e3", BOB), 1002).await.unwrap();
    let due = outbox.due(2000, 0).await.unwrap();
    let got: BTreeMap<&str, usize> = due
        .iter()
        .map(|i| (i.principal.as_str(), i.notices.len()))
        .collect();
    assert_eq!(got, BTreeMap::from([(ANN, 1), (BOB, 2)]));
}

// --- SNS ------------------------------------------------------------------------------------

async fn receive(clients: &Clients, queue_url: &str, wait: i32) -> Vec<String> {
    let out = clients
        .sqs
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(wait)
        .send()
        .await
        .unwrap();
    out.messages()
        .iter()
        .filter_map(|m| m.body().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn sns_delivers_subject_body_and_attributes() {
    let (_aws, clients, out) = setup().await;
    let topic = var(&out, "WARDEN_ALERT_TOPIC_ARN");
    let inbox = clients
        .sqs
        .create_queue()
        .queue_name("inbox")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let inbox_arn = clients
        .sqs
        .get_queue_attributes()
        .queue_url(&inbox)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    clients
        .sns
        .subscribe()
        .topic_arn(topic)
        .protocol("sqs")
        .endpoint(&inbox_arn)
        .send()
        .await
        .unwrap();
    let incident = Incident {
        id: "inc-1".into(),
        principal: BOB.into(),
        opened: 1000,
        notices: vec![notice("e1", BOB)],
    };
    let alert: Alert = render(&incident);
    let notifier = SnsNotifier::new(clients.clone(), topic);
    let id = notifier.publish(&alert).await.unwrap();
    assert!(!id.is_empty());

    let bodies = receive(&clients, &inbox, 2).await;
    assert_eq!(bodies.len(), 1);
    let envelope: Value = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(envelope["MessageId"], id.as_str());
    assert_eq!(envelope["Subject"], alert.subject.as_str());
    assert_eq!(envelope["Message"], alert.body.as_str());
    let attrs = &envelope["MessageAttributes"];
    assert_eq!(attrs["severity"]["Value"], "high");
    assert_eq!(attrs["verdict"]["Value"], "deny");
    assert_eq!(attrs["principal"]["Value"], BOB);
    assert_eq!(attrs["alert_id"]["Value"], "inc-1");
    let json: Value =
        serde_json::from_str(attrs["warden_json"]["Value"].as_str().unwrap()).unwrap();
    assert_eq!(json["events"][0]["event_id"], "e1");
}

// --- init -----------------------------------------------------------------------------------

fn cloudtrail_event(event_source: &str, name: &str, id: &str) -> String {
    json!({
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "arn": BOB, "accountId": "123456789012", "userName": "bob"},
        "eventTime": "2026-11-22T10:00:00Z",
        "eventSource": event_source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.9",
        "requestParameters": {"userName": "eve"},
        "responseElements": null,
        "eventID": id,
        "eventType": "AwsApiCall",
        "recipientAccountId": "123456789012",
    })
    .to_string()
}

async fn put_event(clients: &Clients, source: &str, detail_type: &str, detail: String) {
    let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
        .source(source)
        .detail_type(detail_type)
        .detail(detail)
        .build();
    let out = clients
        .events
        .put_events()
        .entries(entry)
        .send()
        .await
        .unwrap();
    assert_eq!(out.failed_entry_count(), 0);
}

#[tokio::test]
async fn init_is_idempotent_and_routes_cloudtrail_events_to_the_queue() {
    let aws = LocalAws::start().unwrap();
    let conf = aws.sdk_config().await;
    let clients = Clients::from_conf(&conf, &RateLimits::default(), RetryPolicy::default());
    let first = init(&clients, "wt", true).await.unwrap();
    // An earlier init let EventBridge send to the work queue: a re-run takes that grant away.
    clients
        .sqs
        .set_queue_attributes()
        .queue_url(var(&first, "WARDEN_QUEUE_URL"))
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::Policy,
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"}, "Action": "sqs:SendMessage",
                "Resource": "*"}]})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    let second = init(&clients, "wt", true).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(first.to_exports(), second.to_exports());
    let names: Vec<&str> = first.vars.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        [
            "WARDEN_QUEUE_URL",
            "WARDEN_INTAKE_QUEUE_URL",
            "WARDEN_DLQ_URL",
            "WARDEN_ALERT_TOPIC_ARN",
            "WARDEN_STATE_TABLE",
            "WARDEN_EVIDENCE_TABLE",
            "WARDEN_EVIDENCE_BUCKET",
            "WARDEN_RULE_PREFIX"
        ]
    );
    assert!(var(&first, "WARDEN_QUEUE_URL").ends_with("/wt-events.fifo"));
    assert!(var(&first, "WARDEN_INTAKE_QUEUE_URL").ends_with("/wt-intake.fifo"));
    assert!(var(&first, "WARDEN_DLQ_URL").ends_with("/wt-events-dlq.fifo"));

    // The queues' attributes are what the brief asks for: the intake and the work queue alike,
    // both redriving to the dead-letter queue; only the intake admits EventBridge.
    let attributes = |url: String| {
        let clients = clients.clone();
        async move {
            clients
                .sqs
                .get_queue_attributes()
                .queue_url(url)
                .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
                .send()
                .await
                .unwrap()
                .attributes
                .unwrap()
        }
    };
    for name in ["WARDEN_QUEUE_URL", "WARDEN_INTAKE_QUEUE_URL"] {
        let attrs = attributes(var(&first, name).to_owned()).await;
        let get = |n: &str| attrs[&aws_sdk_sqs::types::QueueAttributeName::from(n)].clone();
        assert_eq!(get("ContentBasedDeduplication"), "true", "{name}");
        assert_eq!(get("FifoQueue"), "true", "{name}");
        assert_eq!(get("VisibilityTimeout"), "180", "{name}");
        assert_eq!(get("MessageRetentionPeriod"), "1209600", "{name}");
        assert_eq!(get("SqsManagedSseEnabled"), "true", "{name}");
        let redrive: Value = serde_json::from_str(&get("RedrivePolicy")).unwrap();
        assert_eq!(
            redrive["maxReceiveCount"].to_string().trim_matches('"'),
            "5"
        );
        assert!(redrive["deadLetterTargetArn"]
            .as_str()
            .unwrap()
            .ends_with(":wt-events-dlq.fifo"));
        let policy = attrs
            .get(&aws_sdk_sqs::types::QueueAttributeName::Policy)
            .filter(|p| !p.is_empty());
        let policy: Value = serde_json::from_str(policy.unwrap()).unwrap();
        let statements = policy["Statement"].as_array().unwrap();
        let deny = statements.last().unwrap();
        assert_eq!(deny["Effect"], "Deny", "{name}");
        assert_eq!(deny["Principal"], "*", "{name}");
        assert_eq!(
            deny["Condition"]["ArnNotLike"]["aws:PrincipalArn"],
            json!(first.admitted),
            "{name}: only init's caller (Warden) sends and takes"
        );
        assert!(!first.admitted.is_empty());
        if name == "WARDEN_INTAKE_QUEUE_URL" {
            let statement = &statements[0];
            assert_eq!(statement["Principal"]["Service"], "events.amazonaws.com");
            assert!(statement["Resource"]
                .as_str()
                .unwrap()
                .ends_with(":wt-intake.fifo"));
            let sources = statement["Condition"]["ArnEquals"]["aws:SourceArn"]
                .as_array()
                .unwrap();
            assert!(sources
                .iter()
                .any(|a| a.as_str().unwrap().ends_with(":rule/wt-watchdog")));
            assert_eq!(
                deny["Condition"]["ArnNotEquals"]["aws:SourceArn"],
                statement["Condition"]["ArnEquals"]["aws:SourceArn"],
                "the intake admits exactly the rules it allows"
            );
        } else {
            assert_eq!(
                statements.len(),
                1,
                "the work queue admits no one but Warden (an earlier grant to EventBridge is gone)"
            );
        }
    }
    let dlq_attrs = attributes(var(&first, "WARDEN_DLQ_URL").to_owned()).await;
    assert_eq!(
        dlq_attrs[&aws_sdk_sqs::types::QueueAttributeName::MessageRetentionPeriod],
        "1209600",
        "the dead-letter queue keeps messages as long as SQS allows"
    );
    let ttl = clients
        .dynamodb
        .describe_time_to_live()
        .table_name(var(&first, "WARDEN_STATE_TABLE"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        ttl.time_to_live_description()
            .and_then(|d| d.attribute_name()),
        Some("expires_at")
    );

    let dt = "AWS API Call via CloudTrail";
    put_event(
        &clients,
        "aws.iam",
        dt,
        cloudtrail_event("iam.amazonaws.com", "CreateUser", "ct-1"),
    )
    .await;
    put_event(
        &clients,
        "aws.s3",
        dt,
        cloudtrail_event("s3.amazonaws.com", "PutBucketPolicy", "ct-2"),
    )
    .await;
    put_event(
        &clients,
        "aws.cloudtrail",
        dt,
        cloudtrail_event("cloudtrail.amazonaws.com", "StopLogging", "ct-3"),
    )
    .await;
    // Unrelated: another source, an S3 call outside the list, a CloudTrail read.
    put_event(
        &clients,
        "my.app",
        dt,
        cloudtrail_event("iam.amazonaws.com", "CreateUser", "ct-4"),
    )
    .await;
    put_event(
        &clients,
        "aws.s3",
        dt,
        cloudtrail_event("s3.amazonaws.com", "GetBucketAcl", "ct-5"),
    )
    .await;
    put_event(
        &clients,
        "aws.cloudtrail",
        dt,
        cloudtrail_event("cloudtrail.amazonaws.com", "CreateTrail", "ct-6"),
    )
    .await;
    put_event(
        &clients,
        "aws.iam",
        "Some Other Detail",
        cloudtrail_event("iam.amazonaws.com", "CreateUser", "ct-7"),
    )
    .await;
    // Routed now that the patterns come from the rules: an S3 call the old hard-coded list missed.
    put_event(
        &clients,
        "aws.s3",
        dt,
        cloudtrail_event("s3.amazonaws.com", "PutObjectAcl", "ct-8"),
    )
    .await;
    // Forged: a made-up source carrying a real-looking record.
    put_event(
        &clients,
        "warden.fake",
        dt,
        cloudtrail_event("iam.amazonaws.com", "CreateUser", "ct-9"),
    )
    .await;
    // The rules deliver to the intake queue (the forwarder puts them in lanes).
    let queue = var(&first, "WARDEN_INTAKE_QUEUE_URL");
    assert_eq!(
        received_ids(&clients, queue, 4).await,
        ["ct-1", "ct-2", "ct-3", "ct-8"]
    );

    // The watchdog: with Warden's EventBridge route gone (moto still delivers for a DISABLED rule,
    // so the rule is deleted), the record of that change still reaches the queue.
    let rules = clients
        .events
        .list_rules()
        .name_prefix("wt-")
        .send()
        .await
        .unwrap();
    let names: Vec<&str> = rules.rules().iter().filter_map(|r| r.name()).collect();
    assert!(names.contains(&"wt-watchdog"), "{names:?}");
    assert!(
        names.contains(&"wt-iam-1") && names.contains(&"wt-iam-2"),
        "{names:?}"
    );
    for r in rules.rules() {
        let pattern: Value = serde_json::from_str(r.event_pattern().unwrap()).unwrap();
        assert!(r.event_pattern().unwrap().len() <= 2_048, "{:?}", r.name());
        assert!(pattern["source"][0].as_str().unwrap().starts_with("aws."));
    }
    clients
        .events
        .remove_targets()
        .rule("wt-events-1")
        .ids("warden-queue")
        .send()
        .await
        .unwrap();
    clients
        .events
        .delete_rule()
        .name("wt-events-1")
        .send()
        .await
        .unwrap();
    let mut record: Value = serde_json::from_str(&cloudtrail_event(
        "events.amazonaws.com",
        "DeleteRule",
        "ct-10",
    ))
    .unwrap();
    record["requestParameters"] = json!({"name": "wt-events-1"});
    put_event(&clients, "aws.events", dt, record.to_string()).await;
    // Another account's rule is none of the watchdog's business (and its route is gone).
    record["eventID"] = json!("ct-11");
    record["requestParameters"] = json!({"name": "someone-elses-rule"});
    put_event(&clients, "aws.events", dt, record.to_string()).await;
    assert_eq!(received_ids(&clients, queue, 1).await, ["ct-10"]);
}

/// The CloudTrail event ids delivered to the queue, sorted, once `want` arrived (or after a few
/// seconds), with a moment more for stray deliveries. Each message is deleted once read: a FIFO
/// queue holds back the rest of the message group while one is in flight.
async fn received_ids(clients: &Clients, queue: &str, want: usize) -> Vec<String> {
    let mut ids = Vec::new();
    let take = |wait: i32| {
        let clients = clients.clone();
        let queue = queue.to_owned();
        async move {
            let out = clients
                .sqs
                .receive_message()
                .queue_url(&queue)
                .max_number_of_messages(10)
                .wait_time_seconds(wait)
                .send()
                .await
                .unwrap();
            let mut got = Vec::new();
            for m in out.messages() {
                let v: Value = serde_json::from_str(m.body().unwrap()).unwrap();
                assert_eq!(v["detail-type"], "AWS API Call via CloudTrail");
                got.push(v["detail"]["eventID"].as_str().unwrap().to_owned());
                clients
                    .sqs
                    .delete_message()
                    .queue_url(&queue)
                    .receipt_handle(m.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
            got
        }
    };
    for _ in 0..5 {
        ids.extend(take(1).await);
        if ids.len() >= want {
            break;
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    ids.extend(take(0).await);
    ids.sort();
    ids
}

/// The cause of the emulator's signature failures, and its fix: with policy enforcement on, an SNS
/// message with a space fails the check when the SDK writes the space as `%20` (a plain SDK client),
/// and passes with Warden's clients, which write it as `+` (`aws::form`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_bodies_pass_the_emulators_signature_check_with_enforcement_on() {
    let (aws, clients, out) = setup().await;
    let topic = var(&out, "WARDEN_ALERT_TOPIC_ARN").to_owned();
    clients
        .iam
        .create_user()
        .user_name("pub")
        .send()
        .await
        .unwrap();
    clients
        .iam
        .put_user_policy()
        .user_name("pub")
        .policy_name("all")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    let key = clients
        .iam
        .create_access_key()
        .user_name("pub")
        .send()
        .await
        .unwrap();
    let key = key.access_key().unwrap();
    aws.enforce_policies(true).unwrap();
    let conf = aws
        .sdk_config_as(key.access_key_id(), key.secret_access_key())
        .await;
    let message = "Warden denied (iam:PutRolePolicy) on role #1 <app> é";
    let plain = aws_sdk_sns::Client::new(&conf);
    let refused = plain
        .publish()
        .topic_arn(&topic)
        .message(message)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        refused.raw_response().map(|r| r.status().as_u16()),
        Some(403),
        "the SDK's own spelling fails the emulator's check"
    );
    let ours = Clients::from_conf(&conf, &RateLimits::default(), RetryPolicy::default());
    ours.sns
        .publish()
        .topic_arn(&topic)
        .message(message)
        .send()
        .await
        .unwrap();
    // The same holds for IAM documents with spaces.
    ours.iam
        .put_user_policy()
        .user_name("pub")
        .policy_name("spaced")
        .policy_document(r#"{ "Version": "2012-10-17", "Statement": [ { "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*" } ] }"#)
        .send()
        .await
        .unwrap();
    let sent = aws.data().unwrap().to_string();
    assert!(sent.contains("on role #1"), "the message was published");
}
