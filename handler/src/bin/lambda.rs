//! The Lambda entry point (`bootstrap`, runtime `provided.al2023`): builds the configuration, the
//! SDK clients and the flow once per cold start, then handles SQS FIFO batches with partial batch
//! responses (`ReportBatchItemFailures`: the first failed message and every later one; never an
//! empty id) and scheduled events (sends due alerts). Logs are JSON lines, one span per event.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use warden_handler::assembly::{build_flow, guarded_account, init_logging};
use warden_handler::aws::Clients;
use warden_handler::enforce::config::Config;
use warden_handler::enforce::flow::Flow;
use warden_handler::enforce::queue::{process_batch, QueueMessage, SqsDeadLetters};

struct App {
    flow: Flow,
    dead_letters: SqsDeadLetters,
    alert_window: i64,
}

async fn handle(app: &App, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let (payload, _ctx) = event.into_parts();
    if payload.get("Records").is_none() {
        // A scheduled tick: send the incidents whose window has passed.
        let sent = app.flow.flush_alerts(app.alert_window).await?;
        return Ok(serde_json::json!({"alerts_sent": sent.len()}));
    }
    let sqs: SqsEvent = serde_json::from_value(payload)?;
    let mut messages = Vec::with_capacity(sqs.records.len());
    for r in sqs.records {
        let Some(id) = r.message_id.filter(|id| !id.is_empty()) else {
            // A message without an id cannot be reported alone: fail the whole batch (it is retried).
            return Err("an SQS record without a messageId: failing the batch".into());
        };
        messages.push(QueueMessage {
            id,
            body: r.body.unwrap_or_default(),
            receive_count: r
                .attributes
                .get("ApproximateReceiveCount")
                .and_then(|c| c.parse().ok())
                .unwrap_or(1),
            receipt_handle: None,
        });
    }
    let outcome = process_batch(&app.flow, &app.dead_letters, &messages).await;
    if let Err(e) = app.flow.flush_alerts(app.alert_window).await {
        tracing::warn!(error = %e, "sending alerts failed; the next batch or tick retries");
    }
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = outcome
        .failed
        .into_iter()
        .map(|id| {
            let mut f = BatchItemFailure::default();
            f.item_identifier = id;
            f
        })
        .collect();
    Ok(serde_json::to_value(response)?)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logging(true);
    let config = Config::from_env()?;
    let clients = Clients::from_env(&config.rate_limits, config.retry).await;
    let app = App {
        flow: build_flow(&config, &clients, guarded_account(&config, &clients).await?)?,
        dead_letters: SqsDeadLetters {
            clients: clients.clone(),
            url: Config::required(&config.dlq_url, "WARDEN_DLQ_URL")?.to_owned(),
        },
        alert_window: config.alert_window_seconds,
    };
    tracing::info!(rules = %config.rules_source, "cold start done");
    lambda_runtime::run(service_fn(|e| handle(&app, e))).await
}
