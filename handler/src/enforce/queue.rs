//! Queue semantics shared by the Lambda and `warden worker`.
//!
//! Lanes: EventBridge rules deliver to the intake FIFO queue, in one message group (a rule's SQS
//! FIFO target takes a fixed one). The forwarder ([`forward_batch`]) re-sends each intake message
//! to the work queue in its principal's lane (`policy_rules::lane`: message group per principal,
//! deduplication id the CloudTrail `eventID`), in order, then it is deleted from the intake. No
//! rule, no decision: nothing the flow can fail on holds up the intake. Without an intake queue
//! (`WARDEN_INTAKE_QUEUE_URL` unset) the rules deliver to the work queue directly, in one lane.
//!
//! A work-queue batch is handled lane by lane, the lanes at once, each in order; a message that
//! must be retried stops its lane: it and every later message of its message group are reported as
//! failed (FIFO order, "Using Lambda with Amazon SQS": partial batch responses; the messages of
//! other groups go on, as Powertools for AWS Lambda's `SqsFifoPartialProcessor` does with
//! `skip_group_on_error`). What still runs at the batch's deadline is cut off, so a hang holds up
//! no other lane either. A permanent error moves the message to the dead-letter queue with its
//! reason, so nothing is retried forever and nothing is dropped silently. Also the worker's
//! long-poll loop over both queues.
//!
//! Lanes of different principals running at once is new with lanes (one message group was one
//! batch in flight at a time); the stores are safe under it (conditional writes, the evidence
//! chain's head check), and a connector acts only while its step's precondition holds on the live
//! state it just read.

use crate::aws::{AwsError, Clients};
use crate::enforce::flow::{Flow, Handled};
use async_trait::async_trait;
use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeName};
use policy_rules::lane::lane_of;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::task::Poll;

/// A message as the queue delivered it.
#[derive(Debug, Clone)]
pub struct QueueMessage {
    pub id: String,
    pub body: String,
    /// SQS's `ApproximateReceiveCount`.
    pub receive_count: u32,
    /// The worker's handle for deleting it (the Lambda's event source mapping deletes for it).
    pub receipt_handle: Option<String>,
    /// Its FIFO message group (`MessageGroupId`), its lane; `None` when unknown, which is taken to
    /// be every lane (a failure stops the whole batch).
    pub group_id: Option<String>,
}

/// Where messages with a permanent error go.
#[async_trait]
pub trait DeadLetters: Send + Sync {
    async fn send(&self, message: &QueueMessage, reason: &str) -> Result<(), AwsError>;
}

/// The dead-letter queue: the message body as it came, with `warden_reason` and
/// `warden_message_id` attributes.
pub struct SqsDeadLetters {
    pub clients: Clients,
    pub url: String,
}

#[async_trait]
impl DeadLetters for SqsDeadLetters {
    async fn send(&self, m: &QueueMessage, reason: &str) -> Result<(), AwsError> {
        let attr = |v: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(v)
                .build()
        };
        // SQS message attributes hold at most 256 KB with the body; a reason is short.
        let reason: String = reason.chars().take(4000).collect();
        let (Ok(reason_attr), Ok(id_attr)) = (attr(&reason), attr(&m.id)) else {
            return Err(AwsError::unsent(
                "sqs",
                "SendMessage",
                "message attributes do not build",
            ));
        };
        let fifo = self.url.ends_with(".fifo");
        self.clients
            .caller
            .call("sqs", "SendMessage", || {
                let mut req = self
                    .clients
                    .sqs
                    .send_message()
                    .queue_url(&self.url)
                    .message_body(&m.body)
                    .message_attributes("warden_reason", reason_attr.clone())
                    .message_attributes("warden_message_id", id_attr.clone());
                if fifo {
                    req = req
                        .message_group_id("warden-dead-letters")
                        .message_deduplication_id(&m.id);
                }
                req.send()
            })
            .await
            .map(drop)
    }
}

/// What became of a batch.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Handled (or moved to the dead-letter queue): delete them.
    pub succeeded: Vec<String>,
    /// For each lane that failed, its first message that must be retried and every later one of
    /// that lane, in batch order.
    pub failed: Vec<String>,
    /// Those of `failed` that were not tried (held back by an earlier failure of their lane, or
    /// out of time): nothing to back off from.
    pub untried: Vec<String>,
    /// Messages moved to the dead-letter queue, with the reason.
    pub dead_lettered: Vec<(String, String)>,
    /// Changes made (evidence ids), for the caller's summary.
    pub changes: Vec<String>,
}

/// The lanes of a batch: the positions of its messages, grouped by message group in the order
/// they came. Were a group unknown, the batch is one lane (in order, as a FIFO batch).
fn lanes_of(messages: &[QueueMessage]) -> Vec<Vec<usize>> {
    if messages.iter().any(|m| m.group_id.is_none()) {
        return vec![(0..messages.len()).collect()];
    }
    let mut lanes: Vec<(&str, Vec<usize>)> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let group = m.group_id.as_deref().unwrap_or("");
        match lanes.iter_mut().find(|(g, _)| *g == group) {
            Some((_, lane)) => lane.push(i),
            None => lanes.push((group, vec![i])),
        }
    }
    lanes.into_iter().map(|(_, lane)| lane).collect()
}

/// What became of one message of a batch.
#[derive(Debug)]
enum Slot {
    /// Not started: an earlier message of its lane failed, or the time ran out first.
    NotTried,
    /// Started, not finished.
    Running,
    /// Done, with the changes it made.
    Done(Vec<String>),
    /// Moved to the dead-letter queue, with the reason.
    DeadLettered(String),
    /// To be retried, with why.
    Retry(String),
}

async fn to_dead_letters(dead_letters: &dyn DeadLetters, m: &QueueMessage, reason: String) -> Slot {
    match dead_letters.send(m, &reason).await {
        Ok(()) => Slot::DeadLettered(reason),
        Err(e) => Slot::Retry(format!(
            "{reason}; and moving it to the dead-letter queue failed: {e}"
        )),
    }
}

async fn handle_one(flow: &Flow, dead_letters: &dyn DeadLetters, m: &QueueMessage) -> Slot {
    match flow.handle_message(&m.id, &m.body, m.receive_count).await {
        Handled::Done(summaries) => {
            Slot::Done(summaries.into_iter().flat_map(|s| s.changes).collect())
        }
        Handled::DeadLetter(reason) => to_dead_letters(dead_letters, m, reason).await,
        Handled::Retry(why) => Slot::Retry(why),
    }
}

/// Runs `futures` at once on this task until every one is done.
async fn join_all<F: Future<Output = ()>>(futures: Vec<F>) {
    let mut futures: Vec<Option<Pin<Box<F>>>> =
        futures.into_iter().map(|f| Some(Box::pin(f))).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for slot in &mut futures {
            if let Some(f) = slot {
                if f.as_mut().poll(cx).is_ready() {
                    *slot = None;
                } else {
                    pending = true;
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
}

/// Handles a work-queue batch: its lanes at once, each lane in order. A message that must be
/// retried stops its lane (it and every later message of its group are failed); the other lanes
/// go on, so one that hangs holds up no other. With a `deadline` (the Lambda's, less a margin;
/// the worker's lease), what is still running then is stopped and cut off (`Flow::cut_off`:
/// retried, or given up at its last receive), and what has not started is failed.
// INVARIANT (lane-order): no message runs before the earlier messages of its group are done.
pub async fn process_batch(
    flow: &Flow,
    dead_letters: &dyn DeadLetters,
    messages: &[QueueMessage],
    deadline: Option<tokio::time::Instant>,
) -> BatchOutcome {
    let slots: Mutex<Vec<Slot>> = Mutex::new(messages.iter().map(|_| Slot::NotTried).collect());
    let set = |i: usize, slot: Slot| {
        let mut slots = slots.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(s) = slots.get_mut(i) {
            *s = slot;
        }
    };
    let lanes = lanes_of(messages);
    let runs: Vec<_> = lanes
        .iter()
        .map(|lane| async move {
            for (i, m) in lane.iter().filter_map(|&i| messages.get(i).map(|m| (i, m))) {
                set(i, Slot::Running);
                let slot = handle_one(flow, dead_letters, m).await;
                let retry = match &slot {
                    Slot::Retry(why) => Some(why.clone()),
                    _ => None,
                };
                set(i, slot);
                if let Some(why) = retry {
                    tracing::warn!(message_id = %m.id, lane = m.group_id.as_deref().unwrap_or("?"), reason = %why, "message left for retry with every later one of its lane");
                    break;
                }
            }
        })
        .collect();
    match deadline {
        Some(d) => {
            if tokio::time::timeout_at(d, join_all(runs)).await.is_err() {
                tracing::warn!("the batch's time ran out: what is running is cut off");
            }
        }
        None => join_all(runs).await,
    }
    if let Some(watch) = &flow.watch {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        crate::enforce::watch::note_seen(watch, messages.iter().map(|m| m.body.as_str()), now)
            .await;
    }
    let mut slots = slots.into_inner().unwrap_or_else(PoisonError::into_inner);
    for (slot, m) in slots.iter_mut().zip(messages) {
        if matches!(slot, Slot::Running) {
            let why = "its handling did not finish in the time its batch had";
            *slot = match flow.cut_off(&m.id, &m.body, m.receive_count, why).await {
                Handled::DeadLetter(reason) => to_dead_letters(dead_letters, m, reason).await,
                Handled::Retry(why) => Slot::Retry(why),
                Handled::Done(_) => Slot::Retry(why.to_owned()),
            };
        }
    }
    let mut out = BatchOutcome::default();
    for (slot, m) in slots.into_iter().zip(messages) {
        match slot {
            Slot::Done(changes) => {
                out.changes.extend(changes);
                out.succeeded.push(m.id.clone());
            }
            Slot::DeadLettered(reason) => {
                out.succeeded.push(m.id.clone());
                out.dead_lettered.push((m.id.clone(), reason));
            }
            Slot::Retry(_) | Slot::Running => out.failed.push(m.id.clone()),
            Slot::NotTried => {
                out.failed.push(m.id.clone());
                out.untried.push(m.id.clone());
            }
        }
    }
    out
}

/// Forwards an intake batch to the work queue, in order: each message is sent in its principal's
/// lane with its deduplication id (`policy_rules::lane::lane_of`), and is then done (the caller
/// deletes it from the intake). A send that may succeed later (throttling, 5xx, and what concerns
/// every message alike: access denied, a missing queue) stops the batch, since the intake is one
/// lane: it and every later message are failed, left on the intake for a retry (the intake's
/// redrive takes them to the dead-letter queue in the end). A send refused for this message alone
/// moves it to the dead-letter queue with the reason.
pub async fn forward_batch(
    clients: &Clients,
    work_queue_url: &str,
    dead_letters: &dyn DeadLetters,
    messages: &[QueueMessage],
) -> BatchOutcome {
    let mut out = BatchOutcome::default();
    for (i, m) in messages.iter().enumerate() {
        let lane = lane_of(&m.body);
        let sent = clients
            .caller
            .call("sqs", "SendMessage", || {
                clients
                    .sqs
                    .send_message()
                    .queue_url(work_queue_url)
                    .message_body(&m.body)
                    .message_group_id(&lane.group_id)
                    .message_deduplication_id(&lane.deduplication_id)
                    .send()
            })
            .await;
        let retry = match sent {
            Ok(_) => {
                tracing::debug!(message_id = %m.id, lane = %lane.group_id, principal = lane.principal.as_deref().unwrap_or(""), "forwarded");
                out.succeeded.push(m.id.clone());
                None
            }
            Err(e) if e.is_retryable() || e.is_access_denied() || e.is_not_found() => {
                Some(e.to_string())
            }
            Err(e) => {
                let reason = format!(
                    "message `{}` could not be forwarded to the work queue: {e}",
                    m.id
                );
                match dead_letters.send(m, &reason).await {
                    Ok(()) => {
                        out.succeeded.push(m.id.clone());
                        out.dead_lettered.push((m.id.clone(), reason));
                        None
                    }
                    Err(d) => Some(format!(
                        "{reason}; and moving it to the dead-letter queue failed: {d}"
                    )),
                }
            }
        };
        if let Some(why) = retry {
            tracing::warn!(message_id = %m.id, reason = %why, "intake message left for retry with every later one");
            out.failed
                .extend(messages.iter().skip(i).map(|m| m.id.clone()));
            out.untried
                .extend(messages.iter().skip(i + 1).map(|m| m.id.clone()));
            break;
        }
    }
    out
}

/// Whether `arn` (a record's `eventSourceARN`, `arn:PARTITION:sqs:REGION:ACCOUNT:NAME`) is the
/// queue at `url` (`https://sqs.REGION.amazonaws.com/ACCOUNT/NAME`, or an emulator's
/// `http://HOST/ACCOUNT/NAME`): the same account and name.
pub fn is_queue(arn: &str, url: &str) -> bool {
    let mut a = arn.rsplit(':');
    let (Some(name), Some(account)) = (a.next(), a.next()) else {
        return false;
    };
    let mut u = url.trim_end_matches('/').rsplit('/');
    let (Some(url_name), Some(url_account)) = (u.next(), u.next()) else {
        return false;
    };
    !name.is_empty() && name == url_name && account == url_account
}

/// Warden's queues: the work queue the flow reads, and the intake queue the EventBridge rules
/// deliver to, when there is one.
#[derive(Debug, Clone, Copy)]
pub struct Queues<'a> {
    pub work: &'a str,
    pub intake: Option<&'a str>,
}

/// Receives up to 10 messages, long-polling `wait` seconds, with their receive count and group.
pub async fn receive(
    clients: &Clients,
    queue_url: &str,
    wait: i32,
) -> Result<Vec<QueueMessage>, AwsError> {
    let received = clients
        .caller
        .call("sqs", "ReceiveMessage", || {
            clients
                .sqs
                .receive_message()
                .queue_url(queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(wait)
                .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
                .message_system_attribute_names(MessageSystemAttributeName::MessageGroupId)
                .send()
        })
        .await?
        .value;
    Ok(received
        .messages()
        .iter()
        .map(|m| {
            let attr = |name: &MessageSystemAttributeName| {
                m.attributes().and_then(|a| a.get(name)).cloned()
            };
            QueueMessage {
                id: m.message_id().unwrap_or_default().to_owned(),
                body: m.body().unwrap_or_default().to_owned(),
                receive_count: attr(&MessageSystemAttributeName::ApproximateReceiveCount)
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(1),
                receipt_handle: m.receipt_handle().map(str::to_owned),
                group_id: attr(&MessageSystemAttributeName::MessageGroupId),
            }
        })
        .collect())
}

/// Deletes what succeeded. What failed when tried is hidden for a back-off, longer each receive,
/// when `back_off` (else it is left to the queue's visibility timeout, as Lambda's event source
/// mapping leaves it). What was not tried is made visible at once: while a failed message of its
/// group is in flight the group stays locked, so it comes back behind that one, in order (SQS
/// developer guide, "FIFO queue message grouping"; the emulator, too, keeps a group in order only
/// this way).
pub async fn settle(
    clients: &Clients,
    queue_url: &str,
    messages: &[QueueMessage],
    outcome: &BatchOutcome,
    back_off: bool,
) -> Result<(), AwsError> {
    for m in messages {
        let Some(handle) = m.receipt_handle.as_deref() else {
            continue;
        };
        if outcome.succeeded.contains(&m.id) {
            clients
                .caller
                .call("sqs", "DeleteMessage", || {
                    clients
                        .sqs
                        .delete_message()
                        .queue_url(queue_url)
                        .receipt_handle(handle)
                        .send()
                })
                .await?;
            continue;
        }
        let delay = if outcome.untried.contains(&m.id) {
            0
        } else if back_off && outcome.failed.contains(&m.id) {
            (2i32).saturating_pow(m.receive_count.min(6)).min(60)
        } else {
            continue;
        };
        clients
            .caller
            .call("sqs", "ChangeMessageVisibility", || {
                clients
                    .sqs
                    .change_message_visibility()
                    .queue_url(queue_url)
                    .receipt_handle(handle)
                    .visibility_timeout(delay)
                    .send()
            })
            .await?;
    }
    Ok(())
}

/// What `warden worker` did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WorkerStats {
    /// Intake messages sent on to the work queue in their lanes.
    pub forwarded: usize,
    /// Work-queue messages received.
    pub messages: usize,
    pub dead_lettered: usize,
    pub left_for_retry: usize,
    pub changes: usize,
    pub alerts: usize,
}

/// What one receive and its handling came to.
#[derive(Debug, Clone, Copy, Default)]
struct Round {
    received: usize,
    left_for_retry: usize,
}

/// One intake batch forwarded.
async fn forward_round(
    clients: &Clients,
    queues: Queues<'_>,
    intake: &str,
    dead_letters: &dyn DeadLetters,
    wait: i32,
    stats: &mut WorkerStats,
) -> Result<Round, AwsError> {
    let messages = receive(clients, intake, wait).await?;
    if messages.is_empty() {
        return Ok(Round::default());
    }
    let outcome = forward_batch(clients, queues.work, dead_letters, &messages).await;
    stats.forwarded += outcome.succeeded.len() - outcome.dead_lettered.len();
    stats.dead_lettered += outcome.dead_lettered.len();
    stats.left_for_retry += outcome.failed.len();
    settle(clients, intake, &messages, &outcome, true).await?;
    Ok(Round {
        received: messages.len(),
        left_for_retry: outcome.failed.len(),
    })
}

/// One work-queue batch through the flow.
async fn work_round(
    flow: &Flow,
    clients: &Clients,
    queues: Queues<'_>,
    dead_letters: &dyn DeadLetters,
    wait: i32,
    alert_window: i64,
    stats: &mut WorkerStats,
) -> Result<Round, anyhow::Error> {
    let messages = receive(clients, queues.work, wait).await?;
    if messages.is_empty() {
        return Ok(Round::default());
    }
    // The lease is how long this worker may hold an event before another may resume it.
    let deadline = tokio::time::Instant::now()
        + std::time::Duration::from_secs(u64::try_from(flow.lease_seconds).unwrap_or(1));
    let outcome = process_batch(flow, dead_letters, &messages, Some(deadline)).await;
    stats.messages += messages.len();
    stats.dead_lettered += outcome.dead_lettered.len();
    stats.left_for_retry += outcome.failed.len();
    stats.changes += outcome.changes.len();
    settle(clients, queues.work, &messages, &outcome, true).await?;
    stats.alerts += flow.flush_alerts(alert_window).await?.len();
    Ok(Round {
        received: messages.len(),
        left_for_retry: outcome.failed.len(),
    })
}

/// Long-polls the queues: forwards the intake's messages to the work queue in their lanes (when
/// there is an intake) and runs the flow on every work-queue batch. With `once`: forwards the
/// whole intake, then works batches until the work queue is empty or a batch left a message for
/// retry (every lane of that batch went on; what failed waits for its back-off, and `--once` does
/// not wait with it), then sends every pending alert.
pub async fn run_worker(
    flow: &Flow,
    clients: &Clients,
    queues: Queues<'_>,
    dead_letters: &dyn DeadLetters,
    once: bool,
    alert_window: i64,
) -> Result<WorkerStats, anyhow::Error> {
    let mut stats = WorkerStats::default();
    if once {
        if let Some(intake) = queues.intake {
            loop {
                let round =
                    forward_round(clients, queues, intake, dead_letters, 1, &mut stats).await?;
                if round.received == 0 || round.left_for_retry > 0 {
                    break;
                }
            }
        }
        loop {
            let round = work_round(
                flow,
                clients,
                queues,
                dead_letters,
                1,
                alert_window,
                &mut stats,
            )
            .await?;
            if round.received == 0 || round.left_for_retry > 0 {
                stats.alerts += flow.flush_alerts(0).await?.len();
                return Ok(stats);
            }
        }
    }
    // Two loops, as the Lambda's two event source mappings: the forwarder never waits on the flow.
    let forwarding = async {
        match queues.intake {
            Some(intake) => forward_forever(clients, queues, intake, dead_letters).await,
            None => std::future::pending().await,
        }
    };
    let working = work_forever(
        flow,
        clients,
        queues,
        dead_letters,
        alert_window,
        &mut stats,
    );
    let (never, _) = tokio::try_join!(forwarding, working)?;
    match never {}
}

async fn forward_forever(
    clients: &Clients,
    queues: Queues<'_>,
    intake: &str,
    dead_letters: &dyn DeadLetters,
) -> Result<Infallible, anyhow::Error> {
    let mut stats = WorkerStats::default();
    loop {
        forward_round(clients, queues, intake, dead_letters, 20, &mut stats).await?;
    }
}

async fn work_forever(
    flow: &Flow,
    clients: &Clients,
    queues: Queues<'_>,
    dead_letters: &dyn DeadLetters,
    alert_window: i64,
    stats: &mut WorkerStats,
) -> Result<Infallible, anyhow::Error> {
    loop {
        let round =
            work_round(flow, clients, queues, dead_letters, 20, alert_window, stats).await?;
        if round.received == 0 {
            stats.alerts += flow.flush_alerts(alert_window).await?.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(id: &str, group: Option<&str>) -> QueueMessage {
        QueueMessage {
            id: id.to_owned(),
            body: String::new(),
            receive_count: 1,
            receipt_handle: None,
            group_id: group.map(str::to_owned),
        }
    }

    #[test]
    fn a_batchs_lanes_are_its_groups_in_order() {
        let batch = [
            m("a1", Some("a")),
            m("b1", Some("b")),
            m("a2", Some("a")),
            m("c1", Some("c")),
            m("b2", Some("b")),
        ];
        assert_eq!(lanes_of(&batch), [vec![0, 2], vec![1, 4], vec![3]]);
        // A message of an unknown group: the batch is one lane.
        let batch = [m("a1", Some("a")), m("x", None), m("b1", Some("b"))];
        assert_eq!(lanes_of(&batch), [vec![0, 1, 2]]);
        assert!(lanes_of(&[]).iter().all(Vec::is_empty));
    }

    #[test]
    fn an_event_source_arn_names_the_queue_by_account_and_name() {
        let arn = "arn:aws:sqs:us-east-1:123456789012:warden-intake.fifo";
        assert!(is_queue(
            arn,
            "https://sqs.us-east-1.amazonaws.com/123456789012/warden-intake.fifo"
        ));
        assert!(is_queue(
            arn,
            "http://127.0.0.1:5000/123456789012/warden-intake.fifo"
        ));
        assert!(!is_queue(
            arn,
            "https://sqs.us-east-1.amazonaws.com/123456789012/warden-events.fifo"
        ));
        assert!(!is_queue(
            arn,
            "https://sqs.us-east-1.amazonaws.com/999988887777/warden-intake.fifo"
        ));
        assert!(!is_queue("", ""));
        assert!(!is_queue("warden-intake.fifo", "warden-intake.fifo"));
    }
}
