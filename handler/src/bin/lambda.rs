//! The Lambda entry point (`bootstrap`, runtime `provided.al2023`): builds the configuration, the
//! SDK clients and the flow once per cold start, then handles SQS FIFO batches with partial batch
//! responses (`ReportBatchItemFailures`: for each lane, the first failed message and every later
//! one of it; never an empty id) and scheduled events: `{"warden": "tick"}` every minute (sends due
//! alerts, and advances a running sweep), `{"warden": "sweep"}` on the sweep schedule (starts a
//! sweep and advances it until a little before the deadline; the ticks continue it, so a sweep of
//! any size finishes over several invocations). Each schedule event also watches the pipeline
//! (`enforce::heartbeat`): a heartbeat on the canary policy every 10 minutes, an alert and a
//! catch-up from CloudTrail event history when one does not come back. Logs are JSON lines, one
//! span per event.
//!
//! Two event source mappings feed it: records of the intake queue (`WARDEN_INTAKE_QUEUE_URL`, told
//! by their `eventSourceARN`) are forwarded to the work queue in their lanes; every other record is
//! the work queue's, and goes through the flow, its lanes at once; what still runs a little before
//! the invocation's deadline is cut off (`queue::process_batch`), so a hang ends as a failure of
//! its own lane, never as a timeout of the whole batch.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use std::time::Duration;
use warden_handler::assembly::{
    build_flow, covered_regions, guarded_account, init_logging, routes, WatchTick,
};
use warden_handler::aws::Clients;
use warden_handler::enforce::catch_up::Routes;
use warden_handler::enforce::config::Config;
use warden_handler::enforce::flow::Flow;
use warden_handler::enforce::history::Regions;
use warden_handler::enforce::queue::{
    forward_batch, is_queue, process_batch, BatchOutcome, QueueMessage, SqsDeadLetters,
};
use warden_handler::stores::dynamo::DynamoCheckpoints;
use warden_handler::stores::event_history::CloudTrailHistory;
use warden_handler::sweep::run::Sweeper;

struct App {
    flow: Flow,
    clients: Clients,
    dead_letters: SqsDeadLetters,
    alert_window: i64,
    /// `(intake, work)` queue URLs, when the rules deliver to an intake queue.
    lanes: Option<(String, String)>,
    /// CloudTrail event history and the routed events, for the tick's catch-up, and the queue it
    /// sends to: the intake, else the work queue (where the rules deliver without one).
    history: CloudTrailHistory,
    /// The regions whose history the catch-up reads (the main one and `WARDEN_REGIONS`).
    regions: Regions,
    catch_up_queue: Option<String>,
    routes: Option<Routes>,
    checkpoints: DynamoCheckpoints,
    sweep_max_changes: usize,
    sweep_mode: policy_rules::rules::Mode,
}

/// When a batch must stop: before the invocation's deadline (epoch milliseconds), with a margin of
/// a fifth of the time left (1 to 5 s) to cut off, record and answer; and within the lease.
fn batch_deadline(deadline_ms: u64, lease_seconds: i64) -> tokio::time::Instant {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms));
    let margin = (left / 5).clamp(Duration::from_secs(1), Duration::from_secs(5));
    let lease = Duration::from_secs(u64::try_from(lease_seconds).unwrap_or(1));
    tokio::time::Instant::now() + left.saturating_sub(margin).min(lease)
}

/// The tick's watch: one read of the pipeline's state when nothing is wrong. A failure is logged
/// and said in the answer; the alerts are sent all the same.
async fn watch_tick(app: &App, deadline_ms: u64) -> Value {
    WatchTick {
        flow: &app.flow,
        clients: &app.clients,
        history: &app.history,
        regions: &app.regions,
        catch_up_queue: app.catch_up_queue.as_deref(),
        routes: app.routes.as_ref(),
    }
    .run(Some(batch_deadline(deadline_ms, app.flow.lease_seconds)))
    .await
}

async fn handle(app: &App, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let (payload, ctx) = event.into_parts();
    if payload.get("Records").is_none() {
        // A schedule: the watch over the pipeline (heartbeat, blind alert, catch-up), then send
        // the incidents whose window has passed, then start (on the sweep schedule) or continue
        // (on a tick) a sweep until a little before the deadline.
        let watch = watch_tick(app, ctx.deadline).await;
        let sent = app.flow.flush_alerts(app.alert_window).await?;
        let deadline = batch_deadline(ctx.deadline, i64::MAX);
        let sweeper = Sweeper {
            clients: &app.clients,
            account: &app.flow.account_id,
            connectors: &app.flow.connectors,
            model: app.flow.model.as_ref(),
            checkpoints: &app.checkpoints,
            clock: app.flow.clock.as_ref(),
            flow: Some(&app.flow),
            max_changes: app.sweep_max_changes,
            mode: app.sweep_mode,
        };
        if payload.get("warden").and_then(Value::as_str) == Some("sweep") {
            sweeper.start().await?;
        }
        let keep_going = move || tokio::time::Instant::now() < deadline;
        let sweep = sweeper.advance(&keep_going).await?;
        return Ok(serde_json::json!({"alerts_sent": sent.len(), "sweep": sweep, "watch": watch}));
    }
    let sqs: SqsEvent = serde_json::from_value(payload)?;
    let mut messages = Vec::with_capacity(sqs.records.len());
    let mut intake = Vec::new();
    for r in sqs.records {
        let Some(id) = r.message_id.filter(|id| !id.is_empty()) else {
            // A message without an id cannot be reported alone: fail the whole batch (it is retried).
            return Err("an SQS record without a messageId: failing the batch".into());
        };
        let from_intake = match (&app.lanes, r.event_source_arn.as_deref()) {
            (Some((intake, _)), Some(arn)) => is_queue(arn, intake),
            _ => false,
        };
        let message = QueueMessage {
            id,
            body: r.body.unwrap_or_default(),
            receive_count: r
                .attributes
                .get("ApproximateReceiveCount")
                .and_then(|c| c.parse().ok())
                .unwrap_or(1),
            receipt_handle: None,
            group_id: r.attributes.get("MessageGroupId").cloned(),
        };
        if from_intake {
            intake.push(message);
        } else {
            messages.push(message);
        }
    }
    // One mapping's batch comes from one queue; were they mixed, each queue keeps its order.
    let mut outcome = BatchOutcome::default();
    if let (false, Some((_, work))) = (intake.is_empty(), &app.lanes) {
        outcome = forward_batch(&app.clients, work, &app.dead_letters, &intake).await;
    }
    if !messages.is_empty() {
        let deadline = batch_deadline(ctx.deadline, app.flow.lease_seconds);
        let worked = process_batch(&app.flow, &app.dead_letters, &messages, Some(deadline)).await;
        outcome.failed.extend(worked.failed);
        if let Err(e) = app.flow.flush_alerts(app.alert_window).await {
            tracing::warn!(error = %e, "sending alerts failed; the next batch or tick retries");
        }
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
        clients: clients.clone(),
        dead_letters: SqsDeadLetters {
            clients: clients.clone(),
            url: Config::required(&config.dlq_url, "WARDEN_DLQ_URL")?.to_owned(),
        },
        alert_window: config.alert_window_seconds,
        history: CloudTrailHistory::new(clients.clone()),
        regions: covered_regions(&config, &clients),
        catch_up_queue: config
            .intake_queue_url
            .clone()
            .or_else(|| config.queue_url.clone()),
        routes: match routes(&config) {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::error!(error = %e, "no catch-up: the routes do not derive");
                None
            }
        },
        lanes: match &config.intake_queue_url {
            Some(intake) => Some((
                intake.clone(),
                Config::required(&config.queue_url, "WARDEN_QUEUE_URL")?.to_owned(),
            )),
            None => None,
        },
        checkpoints: DynamoCheckpoints::new(clients.clone(), config.state_table.clone()),
        sweep_max_changes: config.sweep_max_changes,
        sweep_mode: config.sweep_mode,
    };
    tracing::info!(rules = %config.rules_source, "cold start done");
    lambda_runtime::run(service_fn(|e| handle(&app, e))).await
}
