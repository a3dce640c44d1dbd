//! The real `bootstrap` binary (the Lambda) against the local AWS, driven through a stand-in for the
//! Lambda Runtime API (the emulator cannot run functions): an SQS FIFO batch as Lambda's event source
//! mapping delivers it, holding an event to enforce and a message Warden cannot read, then a
//! scheduled tick, then a batch of the intake queue's, which the function forwards to the work
//! queue in the event's lane.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use serde_json::{json, Value};
use std::time::Duration;
use support::runtime_api::{RuntimeApi, NEXT};
use warden_handler::local::demo::{escalation_event, mallory_puts_role_policy, Scenario};
use warden_handler::local::emulator::LocalAws;

const WORK_QUEUE_ARN: &str = "arn:aws:sqs:us-east-1:123456789012:warden-events.fifo";
const INTAKE_QUEUE_ARN: &str = "arn:aws:sqs:us-east-1:123456789012:warden-intake.fifo";

/// An SQS record of the work queue as the event source mapping hands it to the function.
fn sqs_record(id: &str, body: &str, receive_count: u32) -> Value {
    queue_record(WORK_QUEUE_ARN, id, body, receive_count)
}

/// An SQS record of the queue `arn` as the event source mapping hands it to the function.
fn queue_record(arn: &str, id: &str, body: &str, receive_count: u32) -> Value {
    json!({
        "messageId": id,
        "receiptHandle": format!("handle-{id}"),
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": receive_count.to_string(),
            "SentTimestamp": "1795510800000",
            "SequenceNumber": "18849496460467696128",
            "MessageGroupId": "123456789012",
            "SenderId": "AIDAEVENTS",
            "MessageDeduplicationId": id,
            "ApproximateFirstReceiveTimestamp": "1795510800000"
        },
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": arn,
        "awsRegion": "us-east-1"
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lambda_binary_enforces_a_batch_dead_letters_what_it_cannot_read_and_ticks() {
    let aws = LocalAws::start().expect("the local AWS starts");
    let s = Scenario::setup(&aws).await.expect("the demo account");
    // Policy enforcement stays on throughout: the function's calls are checked like everyone's.
    assert!(mallory_puts_role_policy(&s, "app-deploy", "escalate")
        .await
        .unwrap());
    s.emit(&escalation_event("lambda-1", "app-deploy"))
        .await
        .unwrap();
    // Take the message EventBridge routed to the queue, as the event source mapping would.
    let (message_id, body, handle) = s.take_message().await.unwrap();

    let mut api = RuntimeApi::start().await.unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_bootstrap"))
        .envs(s.function_env(&aws))
        .envs([("WARDEN_ALERT_WINDOW_SECONDS", "0"), ("RUST_LOG", "info")])
        .envs(api.lambda_env())
        .kill_on_drop(true)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();

    let wait = Duration::from_secs(120);
    let poll = api.next(wait).await.expect("the function polls");
    assert_eq!((poll.method.as_str(), poll.path.as_str()), ("GET", NEXT));
    poll.invoke(
        "batch-1",
        &json!({"Records": [
            sqs_record(&message_id, &body, 1),
            sqs_record("unreadable-1", "this is not an event", 1),
        ]}),
    );
    let answer = api.next(wait).await.expect("the function answers");
    assert_eq!(
        answer.path,
        "/2018-06-01/runtime/invocation/batch-1/response",
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    // Both messages are settled: one enforced, one moved to the dead-letter queue by Warden.
    assert_eq!(answer.json().unwrap(), json!({"batchItemFailures": []}));
    answer.accept();
    // The event source mapping deletes what the function did not report failed.
    s.admin
        .clients
        .sqs
        .delete_message()
        .queue_url(s.init.get("WARDEN_QUEUE_URL").unwrap())
        .receipt_handle(&handle)
        .send()
        .await
        .unwrap();

    // The undo happened and the Deny is on mallory.
    assert!(!s
        .role_policies("app-deploy")
        .await
        .unwrap()
        .contains(&"escalate".to_owned()));
    assert!(!mallory_puts_role_policy(&s, "app-deploy", "again")
        .await
        .unwrap());
    assert!(mallory_puts_role_policy(&s, "billing-reports", "fine")
        .await
        .unwrap());

    // The unreadable message is in the dead-letter queue with its reason.
    let dlq = s.init.get("WARDEN_DLQ_URL").unwrap().to_owned();
    let dead = s
        .admin
        .clients
        .sqs
        .receive_message()
        .queue_url(&dlq)
        .message_attribute_names("All")
        .wait_time_seconds(2)
        .send()
        .await
        .unwrap();
    let dead = dead.messages().first().expect("a dead letter");
    assert_eq!(dead.body(), Some("this is not an event"));
    let reason = dead.message_attributes().unwrap()["warden_reason"]
        .string_value()
        .unwrap()
        .to_owned();
    assert!(reason.contains("unreadable-1"), "{reason}");

    // A scheduled tick is answered with the alerts it sent (none left: the window is 0) and what
    // its watch did: the first heartbeat, a tag on the stack's canary policy (no checkpoint is
    // old and no beat is missing, so no alert and no catch-up).
    let poll = api.next(wait).await.expect("the function polls again");
    assert_eq!(poll.path, NEXT);
    poll.invoke(
        "tick-1",
        &json!({"version": "0", "id": "tick", "detail-type": "Scheduled Event", "source": "aws.events",
                "account": "123456789012", "time": "2026-11-24T10:00:00Z", "region": "us-east-1",
                "resources": ["arn:aws:events:us-east-1:123456789012:rule/warden-alerts"], "detail": {}}),
    );
    let answer = api.next(wait).await.expect("the function answers the tick");
    assert_eq!(
        answer.path,
        "/2018-06-01/runtime/invocation/tick-1/response"
    );
    let tick = answer.json().unwrap();
    assert_eq!(tick["alerts_sent"], 0, "{tick}");
    assert!(tick["watch"]["beat_sent"].is_i64(), "{tick}");
    assert_eq!(
        (&tick["watch"]["blind"], &tick["watch"]["caught_up"]),
        (&Value::Null, &Value::Null),
        "{tick}"
    );
    // No sweep is running: the tick advanced nothing.
    assert_eq!(tick["sweep"], Value::Null, "{tick}");
    answer.accept();

    // One alert for mallory's event, and one for the unreadable message.
    let alerts = s.alerts().await.unwrap();
    assert_eq!(alerts.len(), 2, "{alerts:#?}");
    assert!(alerts.iter().any(|a| a.contains("lambda-1")), "{alerts:#?}");
    assert!(
        alerts.iter().any(|a| a.contains("unreadable-1")),
        "{alerts:#?}"
    );

    // A batch of the intake queue's (the other event source mapping): forwarded, not enforced.
    s.emit(&escalation_event("lambda-2", "billing-reports"))
        .await
        .unwrap();
    let intake = s.init.get("WARDEN_INTAKE_QUEUE_URL").unwrap().to_owned();
    let taken = s
        .admin
        .clients
        .sqs
        .receive_message()
        .queue_url(&intake)
        .wait_time_seconds(2)
        .send()
        .await
        .unwrap();
    let m = taken
        .messages()
        .first()
        .expect("the event on the intake queue");
    let poll = api.next(wait).await.expect("the function polls again");
    poll.invoke(
        "intake-1",
        &json!({"Records": [queue_record(INTAKE_QUEUE_ARN, m.message_id().unwrap(), m.body().unwrap(), 1)]}),
    );
    let answer = api
        .next(wait)
        .await
        .expect("the function answers the intake batch");
    assert_eq!(answer.json().unwrap(), json!({"batchItemFailures": []}));
    answer.accept();
    let work = s.init.get("WARDEN_QUEUE_URL").unwrap().to_owned();
    let forwarded = s
        .admin
        .clients
        .sqs
        .receive_message()
        .queue_url(&work)
        .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
        .wait_time_seconds(2)
        .send()
        .await
        .unwrap();
    let f = forwarded
        .messages()
        .first()
        .expect("forwarded to the work queue");
    assert_eq!(f.body(), m.body());
    let attrs = f.attributes().unwrap();
    let lane = policy_rules::lane::lane_of(m.body().unwrap());
    assert_eq!(
        lane.principal.as_deref(),
        Some("arn:aws:iam::123456789012:user/mallory")
    );
    assert_eq!(
        attrs[&aws_sdk_sqs::types::MessageSystemAttributeName::MessageGroupId],
        lane.group_id
    );
    assert_eq!(
        attrs[&aws_sdk_sqs::types::MessageSystemAttributeName::MessageDeduplicationId],
        "lambda-2"
    );

    // The sweep schedule's invocation: the function starts a sweep and runs it until a little
    // before its deadline (here the whole demo account fits in one invocation), ending with the
    // findings: mallory's Deny (from the first batch) is in force, so no drift; the escalation
    // the admin allowed leaves standing findings.
    let poll = api.next(wait).await.expect("the function polls again");
    poll.invoke("sweep-1", &json!({"warden": "sweep"}));
    let answer = api
        .next(wait)
        .await
        .expect("the function answers the sweep");
    assert_eq!(
        answer.path,
        "/2018-06-01/runtime/invocation/sweep-1/response"
    );
    let swept = answer.json().unwrap();
    answer.accept();
    let sweep = &swept["sweep"];
    assert_eq!(sweep["phase"]["phase"], "done", "{swept}");
    assert!(sweep["gaad_pages"].as_u64().unwrap() >= 1, "{swept}");
    assert!(sweep["buckets_read"].as_u64().unwrap() >= 2, "{swept}");
    assert_eq!(sweep["put_back"], json!([]), "{swept}");
    assert!(
        sweep["findings"].as_array().is_some_and(|f| !f.is_empty()),
        "{swept}"
    );
    // The next tick finds the sweep done and advances nothing.
    let poll = api.next(wait).await.expect("the function polls again");
    poll.invoke("tick-2", &json!({"warden": "tick"}));
    let answer = api.next(wait).await.expect("the function answers the tick");
    let tick = answer.json().unwrap();
    answer.accept();
    assert_eq!(tick["sweep"]["id"], sweep["id"], "{tick}");
    assert_eq!(tick["sweep"]["invocations"], sweep["invocations"], "{tick}");

    child.start_kill().unwrap();
    let out = child.wait_with_output().await.unwrap();
    let logs = String::from_utf8_lossy(&out.stderr);
    // JSON log lines, one span per event with its fields.
    let processed = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["fields"]["message"] == "processed")
        .unwrap_or_else(|| panic!("a `processed` log line in:\n{logs}"));
    assert_eq!(processed["fields"]["verdict"], "deny", "{processed}");
    assert_eq!(processed["span"]["event_id"], "lambda-1", "{processed}");
    assert!(processed["fields"]["aws_requests"].as_u64().unwrap() > 0);
}
