//! Warden drift in its own pipeline: the queues events wait in and the function that takes them,
//! as a sweep reads them. A queue gone, a queue that no longer hands failed events to the
//! dead-letter queue, events waiting in the dead-letter queue, a function throttled to nothing or
//! a queue no longer feeding the function each leave events undecided, and none of them is
//! reported by an event Warden would act on in time (a throttled function decides nothing, the
//! sweep run from the CLI or the next unthrottled invocation is what notices). Warden's role may
//! not change its own queues or function, so each finding is an alert with what a person runs.

use super::own_rules::own_drift;
use super::{Ctx, Finding};

/// What a queue is for, in Warden's pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueRole {
    /// EventBridge delivers here.
    Intake,
    /// The per-principal lanes the flow reads.
    Work,
    /// Where an event that failed `maxReceiveCount` times waits for a person.
    DeadLetter,
}

impl QueueRole {
    fn describe(self) -> &'static str {
        match self {
            QueueRole::Intake => "intake queue (EventBridge delivers here)",
            QueueRole::Work => "work queue (the per-principal lanes)",
            QueueRole::DeadLetter => "dead-letter queue",
        }
    }
}

/// One of Warden's queues as SQS shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRead {
    pub role: QueueRole,
    pub url: String,
    /// `None`: the queue does not exist.
    pub state: Option<QueueState>,
}

/// The attributes of a queue the check reads (`GetQueueAttributes`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueueState {
    pub arn: String,
    /// The redrive policy's dead-letter target (`None`: no redrive policy).
    pub dead_letter_target: Option<String>,
    /// `ApproximateNumberOfMessages` + `ApproximateNumberOfMessagesNotVisible`.
    pub messages: u64,
}

/// Warden's function as Lambda shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionRead {
    pub name: String,
    /// `None`: the function does not exist.
    pub state: Option<FunctionState>,
}

/// What the check reads of the function (`GetFunctionConcurrency`, `ListEventSourceMappings`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FunctionState {
    /// The reserved concurrency (`None`: none reserved, the account's unreserved pool).
    pub reserved_concurrency: Option<i32>,
    /// Each event source mapping: the source's ARN, its UUID and its state (`Enabled`,
    /// `Disabled`, …).
    pub mappings: Vec<Mapping>,
}

/// One event source mapping of the function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub source_arn: String,
    pub uuid: String,
    pub state: String,
}

/// What the sweep read of Warden's pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnPipeline {
    pub queues: Vec<QueueRead>,
    /// `None`: no function configured (a `warden init` deployment has none).
    pub function: Option<FunctionRead>,
    /// Whether the function is meant to read the queues (the template's `LambdaConsumesQueues`;
    /// `false` for a `warden worker` that polls them itself).
    pub function_consumes_queues: bool,
}

/// The receive count the template's and `warden init`'s redrive policies give.
const MAX_RECEIVE_COUNT: u32 = 5;

pub(crate) fn findings(ctx: &Ctx<'_>) -> Vec<Finding> {
    let Some(pipeline) = ctx.input.own_pipeline else {
        return Vec::new();
    };
    let rule = ctx.rule("warden-infrastructure");
    let mode = ctx.mode(rule);
    let redeploy = "redeploy the stack (`aws cloudformation deploy` with the same template) or run `warden init` with the same prefix: either puts it back. Warden's role may not change its own queues or function";
    let mut out = Vec::new();
    let mut finding = |t: &str, resource: &str, evidence: String, note: String| {
        out.push(own_drift(rule, mode, t, resource, evidence, note));
    };
    let dead_letter = pipeline
        .queues
        .iter()
        .find(|q| q.role == QueueRole::DeadLetter)
        .and_then(|q| q.state.as_ref())
        .map(|s| s.arn.as_str());
    for queue in &pipeline.queues {
        let what = queue.role.describe();
        let Some(state) = &queue.state else {
            finding(
                "WardenQueueMissing",
                &queue.url,
                format!(
                    "Warden's {what} `{}` is gone: events meant for it are lost",
                    queue.url
                ),
                redeploy.to_owned(),
            );
            continue;
        };
        match queue.role {
            QueueRole::Intake | QueueRole::Work => {
                let Some(dlq) = dead_letter else { continue };
                if state.dead_letter_target.as_deref() != Some(dlq) {
                    finding(
                        "WardenQueueRedriveChanged",
                        &state.arn,
                        format!(
                            "Warden's {what} `{}` no longer hands an event that keeps failing to the dead-letter queue `{dlq}` (its redrive target: {}): such an event blocks its lane until the queue's retention ends, then is lost, with no dead-letter alarm",
                            queue.url,
                            state.dead_letter_target.as_deref().unwrap_or("none")
                        ),
                        format!(
                            "{redeploy}, or set it back: `aws sqs set-queue-attributes --queue-url {} --attributes '{{\"RedrivePolicy\":\"{{\\\"deadLetterTargetArn\\\":\\\"{dlq}\\\",\\\"maxReceiveCount\\\":\\\"{MAX_RECEIVE_COUNT}\\\"}}\"}}'` (as a break-glass principal)",
                            queue.url
                        ),
                    );
                }
            }
            QueueRole::DeadLetter if state.messages > 0 => finding(
                "WardenDeadLetters",
                &state.arn,
                format!(
                    "Warden's dead-letter queue `{}` holds {} event{} Warden could not decide",
                    queue.url,
                    state.messages,
                    if state.messages == 1 { "" } else { "s" }
                ),
                format!(
                    "read them (`aws sqs receive-message --queue-url {} --attribute-names All`): each says why it failed; decide each by hand or, once the cause is fixed, redrive them to the intake queue as a break-glass principal",
                    queue.url
                ),
            ),
            QueueRole::DeadLetter => {}
        }
    }
    let Some(function) = &pipeline.function else {
        return out;
    };
    let name = &function.name;
    let Some(state) = &function.state else {
        finding(
            "WardenFunctionMissing",
            name,
            format!("Warden's function `{name}` is gone: no event is decided, no sweep or heartbeat runs"),
            redeploy.to_owned(),
        );
        return out;
    };
    if state.reserved_concurrency == Some(0) {
        finding(
            "WardenFunctionThrottled",
            name,
            format!("Warden's function `{name}` has a reserved concurrency of 0: it is throttled, no event is decided and no scheduled sweep or heartbeat runs"),
            format!("{redeploy}, or give it back its concurrency: `aws lambda put-function-concurrency --function-name {name} --reserved-concurrent-executions 5`"),
        );
    }
    if !pipeline.function_consumes_queues {
        return out;
    }
    for queue in &pipeline.queues {
        if queue.role == QueueRole::DeadLetter {
            continue;
        }
        let Some(queue_state) = &queue.state else {
            continue;
        };
        let what = queue.role.describe();
        let mapping = state
            .mappings
            .iter()
            .find(|m| m.source_arn == queue_state.arn);
        match mapping {
            None => finding(
                "WardenQueueMappingMissing",
                &queue_state.arn,
                format!("Warden's {what} `{}` no longer feeds the function `{name}` (no event source mapping): its events wait undecided", queue.url),
                redeploy.to_owned(),
            ),
            Some(m) if m.state == "Disabled" || m.state == "Disabling" => finding(
                "WardenQueueMappingDisabled",
                &queue_state.arn,
                format!("the event source mapping `{}` from Warden's {what} `{}` to the function `{name}` is {}: its events wait undecided", m.uuid, queue.url, m.state),
                format!("enable it: `aws lambda update-event-source-mapping --uuid {} --enabled` (as a break-glass principal)", m.uuid),
            ),
            Some(_) => {}
        }
    }
    out
}
