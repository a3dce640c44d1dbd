//! Queue semantics shared by the Lambda and `warden worker`: a batch from the SQS FIFO queue is
//! handled in order; a message that must be retried stops the batch, and it and every later message
//! are reported as failed (FIFO order, "Using Lambda with Amazon SQS": partial batch responses); a
//! permanent error moves the message to the dead-letter queue with its reason, so nothing is retried
//! forever and nothing is dropped silently. Also the worker's long-poll loop.

use crate::aws::{AwsError, Clients};
use crate::enforce::flow::{Flow, Handled};
use async_trait::async_trait;
use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeName};

/// A message as the queue delivered it.
#[derive(Debug, Clone)]
pub struct QueueMessage {
    pub id: String,
    pub body: String,
    /// SQS's `ApproximateReceiveCount`.
    pub receive_count: u32,
    /// The worker's handle for deleting it (the Lambda's event source mapping deletes for it).
    pub receipt_handle: Option<String>,
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
    /// The first message that must be retried and every later one, in order.
    pub failed: Vec<String>,
    /// Messages moved to the dead-letter queue, with the reason.
    pub dead_lettered: Vec<(String, String)>,
    /// Changes made (evidence ids), for the caller's summary.
    pub changes: Vec<String>,
}

/// Handles a batch in order with FIFO semantics.
pub async fn process_batch(
    flow: &Flow,
    dead_letters: &dyn DeadLetters,
    messages: &[QueueMessage],
) -> BatchOutcome {
    let mut out = BatchOutcome::default();
    for (i, m) in messages.iter().enumerate() {
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
            tracing::warn!(message_id = %m.id, reason = %why, "message left for retry with every later one in the batch");
            out.failed
                .extend(messages.iter().skip(i).map(|m| m.id.clone()));
            break;
        }
    }
    out
}

/// What `warden worker` did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WorkerStats {
    pub messages: usize,
    pub dead_lettered: usize,
    pub left_for_retry: usize,
    pub changes: usize,
    pub alerts: usize,
}

/// Long-polls the queue and runs the flow on every batch; with `once`, stops when the queue is
/// empty, sending every pending alert first.
pub async fn run_worker(
    flow: &Flow,
    clients: &Clients,
    queue_url: &str,
    dead_letters: &dyn DeadLetters,
    once: bool,
    alert_window: i64,
) -> Result<WorkerStats, anyhow::Error> {
    let mut stats = WorkerStats::default();
    loop {
        let received = clients
            .caller
            .call("sqs", "ReceiveMessage", || {
                clients
                    .sqs
                    .receive_message()
                    .queue_url(queue_url)
                    .max_number_of_messages(10)
                    .wait_time_seconds(if once { 1 } else { 20 })
                    .message_system_attribute_names(
                        MessageSystemAttributeName::ApproximateReceiveCount,
                    )
                    .send()
            })
            .await?
            .value;
        let messages: Vec<QueueMessage> = received
            .messages()
            .iter()
            .map(|m| QueueMessage {
                id: m.message_id().unwrap_or_default().to_owned(),
                body: m.body().unwrap_or_default().to_owned(),
                receive_count: m
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(1),
                receipt_handle: m.receipt_handle().map(str::to_owned),
            })
            .collect();
        if messages.is_empty() {
            stats.alerts += flow
                .flush_alerts(if once { 0 } else { alert_window })
                .await?
                .len();
            if once {
                return Ok(stats);
            }
            continue;
        }
        let outcome = process_batch(flow, dead_letters, &messages).await;
        stats.messages += messages.len();
        stats.dead_lettered += outcome.dead_lettered.len();
        stats.left_for_retry += outcome.failed.len();
        stats.changes += outcome.changes.len();
        for m in &messages {
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
            } else {
                // Back off before the retry, longer each receive (the group waits, in order).
                let delay = (2i32).saturating_pow(m.receive_count.min(6)).min(60);
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
        }
        stats.alerts += flow.flush_alerts(alert_window).await?.len();
        if once && !outcome.failed.is_empty() {
            // What failed waits for its retry; `--once` does not wait with it.
            stats.alerts += flow.flush_alerts(0).await?.len();
            return Ok(stats);
        }
    }
}
