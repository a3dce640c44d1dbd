//! Queue semantics shared by the Lambda and `warden worker`.
//!
//! Lanes: EventBridge rules deliver to the intake FIFO queue, in one message group (a rule's SQS
//! FIFO target takes a fixed one). The forwarder ([`forward_batch`]) re-sends each intake message
//! to the work queue in its principal's lane (`policy_rules::lane`: message group per principal,
//! deduplication id the CloudTrail `eventID`), in order, then it is deleted from the intake. No
//! rule, no decision: nothing the flow can fail on holds up the intake. Without an intake queue
//! (`WARDEN_INTAKE_QUEUE_URL` unset) the rules deliver to the work queue directly, in one lane.
//!
//! A work-queue batch is handled in order; a message that must be retried stops its lane: it and
//! every later message of its message group are reported as failed (FIFO order, "Using Lambda with
//! Amazon SQS": partial batch responses; the messages of other groups go on, as Powertools for AWS
//! Lambda's `SqsFifoPartialProcessor` does with `skip_group_on_error`). A permanent error moves the
//! message to the dead-letter queue with its reason, so nothing is retried forever and nothing is
//! dropped silently. Also the worker's long-poll loop over both queues.

use crate::aws::{AwsError, Clients};
use crate::enforce::flow::{Flow, Handled};
use async_trait::async_trait;
use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeName};
use policy_rules::lane::lane_of;
use std::convert::Infallible;

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
            return Err(AwsError {
                service: "sqs",
                operation: "SendMessage",
                class: crate::aws::ErrorClass::Permanent,
                code: None,
                message: "message attributes do not build".to_owned(),
                status: None,
                request_id: None,
                attempts: 0,
            });
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
    /// Messages moved to the dead-letter queue, with the reason.
    pub dead_lettered: Vec<(String, String)>,
    /// Changes made (evidence ids), for the caller's summary.
    pub changes: Vec<String>,
}

/// The lanes of a batch that stopped at a failed message.
#[derive(Debug, Default)]
struct StoppedLanes(Vec<Option<String>>);

impl StoppedLanes {
    fn stop(&mut self, m: &QueueMessage) {
        self.0.push(m.group_id.clone());
    }

    /// Whether `m` must wait: its lane stopped earlier in the batch. A message of an unknown
    /// group, or a stop of one, is taken to share every lane.
    // INVARIANT (lane-order): no message runs after an earlier message of its group failed.
    fn holds(&self, m: &QueueMessage) -> bool {
        self.0
            .iter()
            .any(|g| g.is_none() || m.group_id.is_none() || *g == m.group_id)
    }
}

/// Handles a work-queue batch in order with FIFO semantics, per lane.
pub async fn process_batch(
    flow: &Flow,
    dead_letters: &dyn DeadLetters,
    messages: &[QueueMessage],
) -> BatchOutcome {
    let mut out = BatchOutcome::default();
    let mut stopped = StoppedLanes::default();
    for m in messages {
        if stopped.holds(m) {
            out.failed.push(m.id.clone());
            continue;
        }
        let retry = match flow.handle_message(&m.id, &m.body, m.receive_count).await {
            Handled::Done(summaries) => {
                out.changes
                    .extend(summaries.into_iter().flat_map(|s| s.changes));
                out.succeeded.push(m.id.clone());
                None
            }
            Handled::DeadLetter(reason) => match dead_letters.send(m, &reason).await {
                Ok(()) => {
                    out.succeeded.push(m.id.clone());
                    out.dead_lettered.push((m.id.clone(), reason));
                    None
                }
                Err(e) => Some(format!(
                    "{reason}; and moving it to the dead-letter queue failed: {e}"
                )),
            },
            Handled::Retry(why) => Some(why),
        };
        if let Some(why) = retry {
            tracing::warn!(message_id = %m.id, lane = m.group_id.as_deref().unwrap_or("?"), reason = %why, "message left for retry with every later one of its lane");
            out.failed.push(m.id.clone());
            stopped.stop(m);
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

/// Deletes what succeeded. Of what failed, the message that failed in each lane is hidden for a
/// back-off, longer each receive, when `back_off` (else it is left to the queue's visibility
/// timeout, as Lambda's event source mapping leaves it); the later messages its failure held back
/// were not tried, and are made visible at once: the group stays locked while the failed message
/// is in flight, so they come back behind it, in order (SQS developer guide, "FIFO queue message
/// grouping"; the emulator, too, delivers a group in order only this way).
pub async fn settle(
    clients: &Clients,
    queue_url: &str,
    messages: &[QueueMessage],
    outcome: &BatchOutcome,
    back_off: bool,
) -> Result<(), AwsError> {
    let mut failed_lanes: Vec<Option<&str>> = Vec::new();
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
        if !outcome.failed.contains(&m.id) {
            continue;
        }
        let lane = m.group_id.as_deref();
        let held = failed_lanes.contains(&lane);
        if !held {
            failed_lanes.push(lane);
        }
        let delay = match (held, back_off) {
            (true, _) => 0,
            (false, true) => (2i32).saturating_pow(m.receive_count.min(6)).min(60),
            (false, false) => continue,
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
    let outcome = process_batch(flow, dead_letters, &messages).await;
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
    fn a_stopped_lane_holds_only_its_own_later_messages() {
        let mut stopped = StoppedLanes::default();
        assert!(!stopped.holds(&m("a2", Some("a"))));
        stopped.stop(&m("a1", Some("a")));
        assert!(stopped.holds(&m("a2", Some("a"))));
        assert!(!stopped.holds(&m("b1", Some("b"))));
        // Unknown groups share every lane, both ways.
        assert!(stopped.holds(&m("x", None)));
        stopped.stop(&m("y", None));
        assert!(stopped.holds(&m("b1", Some("b"))));
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
