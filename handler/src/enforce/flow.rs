//! The enforcement flow for one event, shared by the Lambda and `warden worker`: claim the CloudTrail
//! `eventID` in the ledger → decide (the caller's groups read live and judged as before the event) →
//! plan against the principal's current policies → per step: snapshot → apply → verify → record
//! evidence → add the alert to the principal's incident → done. Each stage saves its result in the
//! ledger before the next begins, so a crash anywhere followed by redelivery resumes where it
//! stopped and converges to one applied change, one set of evidence records (deterministic ids) and
//! one alert (the outbox is idempotent on the event id). `monitor` mode does everything but apply,
//! and says so in the evidence and the alert.
//!
//! Messages: [`Flow::handle_message`] turns a queue message into `Done`, `Retry` (a retryable error:
//! SQS redelivers) or `DeadLetter` (a permanent error, or retries exhausted: recorded in evidence,
//! alerted once, and sent to the dead-letter queue with its reason by the caller).

use crate::aws::AwsError;
use crate::connectors::{
    Applied, ConnectorError, Connectors, RolledBack, State, Step, Target, Verification,
};
use crate::enforce::alerts::{render, Notice, NoticeChange};
use crate::enforce::ports::{
    AccountModel, Claim, EvidenceStore, Holdings, Ledger, Notifier, Outbox, StoreError,
};
use async_trait::async_trait;
use policy_rules::caller::{CallerKind, Restrictable};
use policy_rules::catalog::Catalog;
use policy_rules::decision::{decide, CallerFacts, Decision, Verdict};
use policy_rules::event::{parse_document, Event};
use policy_rules::evidence::{deterministic_id, Draft, Record, RecordKind};
use policy_rules::evidence_target::{describe_change, resource_arn, Place, Purpose};
use policy_rules::held::{self, Held, Tampering};
use policy_rules::mapping::{analyse, Analysis};
use policy_rules::memberships::groups_before;
use policy_rules::model::{self, BeforeEvent, Entry, EntryKey, Trust};
use policy_rules::planner::{deny_steps, plan, Input, Outcome};
use policy_rules::planner::{Placement, DENY_POLICY_NAME, QUARANTINE_POLICY_NAME};
use policy_rules::rules::{DenyScope, Mode, RuleSet};
use policy_rules::snapshot::Snapshot;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tracing::Instrument;

/// Undo calls applied for a rule that asks for an undo even when no Deny can be written: the
/// change is account-wide, so the undo is the whole response.
const UNDO_WITHOUT_DENY: [&str; 1] = ["s3:PutAccountPublicAccessBlock"];

/// Reads what the flow needs to know of the live account.
#[async_trait]
pub trait AccountReader: Send + Sync {
    /// A user's groups now.
    async fn groups_of_user(&self, user_name: &str) -> Result<Vec<String>, AwsError>;
    /// A snapshot holding one user or role with its policies (and, when asked, its managed
    /// policies' documents); `None` when it does not exist.
    async fn principal(
        &self,
        is_role: bool,
        name: &str,
        with_managed_documents: bool,
    ) -> Result<Option<Snapshot>, AwsError>;
    /// A managed policy's versions as `(id, is default)`.
    async fn policy_versions(&self, arn: &str) -> Result<Vec<(String, bool)>, AwsError>;
}

/// The points between stages where a test can make the flow stop as if it crashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stage {
    Claimed,
    Decided,
    Planned,
    Snapshotted,
    Applied,
    Verified,
    Recorded,
    Alerted,
}

impl Stage {
    pub const ALL: [Stage; 8] = [
        Stage::Claimed,
        Stage::Decided,
        Stage::Planned,
        Stage::Snapshotted,
        Stage::Applied,
        Stage::Verified,
        Stage::Recorded,
        Stage::Alerted,
    ];
}

/// Failure injection: the next time the flow passes `stage`, it stops with an error.
#[derive(Debug, Default)]
pub struct Faults(Mutex<Option<Stage>>);

impl Faults {
    pub fn fail_once_at(&self, stage: Stage) {
        if let Ok(mut g) = self.0.lock() {
            *g = Some(stage);
        }
    }

    fn check(&self, stage: Stage) -> Result<(), FlowError> {
        let mut g = self.0.lock().map_err(|_| FlowError::Injected(stage))?;
        if *g == Some(stage) {
            *g = None;
            return Err(FlowError::Injected(stage));
        }
        Ok(())
    }
}

/// Why an event or message could not be processed.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error(transparent)]
    Connector(#[from] ConnectorError),
    #[error("event `{event_id}` is being processed by another worker until {until}")]
    Busy { event_id: String, until: i64 },
    #[error("failure injected after stage {0:?}")]
    Injected(Stage),
    #[error("{0}")]
    Unreadable(String),
    #[error("{0}")]
    Corrupt(String),
    /// `warden rollback` of a change that is rolled back already: by the rollback `by` names
    /// (its id and time), or (`None`) the live state is the change's before-state again.
    #[error("{}", already_rolled_back(id, by.as_ref()))]
    AlreadyRolledBack {
        id: String,
        by: Option<(String, String)>,
    },
}

fn already_rolled_back(id: &str, by: Option<&(String, String)>) -> String {
    match by {
        Some((rec, time)) => format!(
            "`{id}` is already rolled back (recorded as `{rec}` at {time}); nothing changed"
        ),
        None => format!(
            "`{id}` is already rolled back: the live state is the before-state of that change; nothing changed"
        ),
    }
}

impl FlowError {
    pub fn is_retryable(&self) -> bool {
        match self {
            FlowError::Store(e) => e.is_retryable(),
            FlowError::Aws(e) => e.is_retryable(),
            FlowError::Connector(e) => e.is_retryable(),
            FlowError::Busy { .. } | FlowError::Injected(_) => true,
            FlowError::Unreadable(_)
            | FlowError::Corrupt(_)
            | FlowError::AlreadyRolledBack { .. } => false,
        }
    }
}

/// The verdict and what it rested on, saved once so a resumed attempt judges the same way.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Decided {
    verdict: Verdict,
    rule: Option<String>,
    mode: Option<Mode>,
    reasons: Vec<String>,
    violations: Vec<(String, Vec<String>)>,
    certain: bool,
    #[serde(default)]
    also_broken: Vec<String>,
    /// The caller's groups before the event (IAM users): from the account model, or read live
    /// and adjusted where the model has no entry (`groups_from` says which).
    groups_before: Option<Vec<String>>,
    #[serde(default)]
    groups_from: Option<String>,
    /// What the account model vouched for just before the event (the undo's before-states).
    #[serde(default)]
    before: Option<BeforeEvent>,
}

impl Decided {
    fn decision(&self) -> Decision {
        Decision {
            verdict: self.verdict,
            rule: self.rule.clone(),
            mode: self.mode,
            reasons: self.reasons.clone(),
            violations: self.violations.clone(),
            certain: self.certain,
            also_broken: self.also_broken.clone(),
        }
    }
}

/// One planned step and what became of it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StepRun {
    step: Step,
    /// `deny` (placing Warden's Deny) or `undo`.
    role: String,
    target: Option<Target>,
    before: Option<State>,
    applied: Option<Applied>,
    /// The attempt that applied it was an earlier one (the change was already live on resume).
    applied_earlier: bool,
    verification: Option<Verification>,
    error: Option<String>,
}

/// The plan as saved.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Planned {
    /// `deny`, `alert` or `nothing`.
    outcome: String,
    reasons: Vec<String>,
    /// What a person should do.
    todo: Vec<String>,
    /// The plan's JSON (document, placement, undo), for evidence.
    plan: Value,
    steps: Vec<StepRun>,
    /// Whether the steps are applied (false in monitor mode, or for an alert whose undo is only proposed).
    apply: bool,
    /// The event changed what Warden holds in force: what it did, what Warden held (for evidence).
    #[serde(default)]
    tamper: Option<Value>,
    /// The key of a record an allowed principal released by hand (cleared once recorded).
    #[serde(default)]
    release: Option<String>,
}

/// What the ledger holds for an event in progress.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Progress {
    decided: Option<Decided>,
    planned: Option<Planned>,
    recorded: bool,
    alerted: bool,
    /// Warden's record of what it holds in force is updated with what this event's steps did.
    #[serde(default)]
    held: bool,
}

/// What happened to one event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventSummary {
    pub event_id: String,
    pub principal: Option<String>,
    pub verdict: Verdict,
    pub rule: Option<String>,
    /// The evidence ids of the changes made.
    pub changes: Vec<String>,
    /// True when the ledger said the event was done already (a redelivery).
    pub duplicate: bool,
}

/// What to do with a queue message.
#[derive(Debug)]
pub enum Handled {
    Done(Vec<EventSummary>),
    /// Retryable: leave it on the queue.
    Retry(String),
    /// Permanent (or retries exhausted): recorded and alerted; move it to the dead-letter queue
    /// with this reason.
    DeadLetter(String),
}

/// The flow with everything it talks to.
pub struct Flow {
    /// The account Warden guards: an event of any other account is recorded and alerted, never
    /// acted on, and no change is made to a principal outside it.
    pub account_id: String,
    pub catalog: Catalog,
    pub rules: RuleSet,
    pub connectors: Connectors,
    pub account: Arc<dyn AccountReader>,
    pub ledger: Arc<dyn Ledger>,
    pub evidence: Arc<dyn EvidenceStore>,
    pub outbox: Arc<dyn Outbox>,
    pub notifier: Arc<dyn Notifier>,
    /// What Warden holds in force per principal: every Deny it writes is rendered from this.
    pub holdings: Arc<dyn Holdings>,
    /// Warden's model of the account: the state before each event, kept by sweeps and by every
    /// event the flow processes.
    pub model: Arc<dyn AccountModel>,
    pub model_trust: Trust,
    /// Epoch seconds.
    pub clock: Arc<dyn Fn() -> i64 + Send + Sync>,
    /// This worker's id in ledger claims.
    pub owner: String,
    pub lease_seconds: i64,
    pub max_receives: u32,
    pub faults: Faults,
    /// The AWS client layer the stores and connectors call through (its request count is the
    /// process's; each event's log line counts its own requests with `aws::counting`).
    pub caller: Arc<crate::aws::Caller>,
    /// The pipeline's checkpoint and heartbeat (`watch.rs`): the canary's event is recorded as a
    /// heartbeat, never judged. `None`: neither is kept.
    pub watch: Option<crate::enforce::watch::Watch>,
    /// Warden's own EventBridge rules, as the rules derive them, for the sweep's drift check
    /// (`None`: not checked, the sweep's notes say so).
    pub own_rules: Option<policy_rules::sweep::own_rules::OwnRules>,
    /// Warden's own queues and function, for the sweep's drift check.
    pub own_pipeline: OwnPipelineConfig,
}

/// Where Warden's own queues and function are, for the sweep's drift check.
#[derive(Debug, Clone, Default)]
pub struct OwnPipelineConfig {
    /// Each configured queue's role and URL.
    pub queues: Vec<(policy_rules::sweep::own_pipeline::QueueRole, String)>,
    /// The function's name (`None`: not checked).
    pub function: Option<String>,
    pub function_consumes_queues: bool,
}

/// The current time as epoch seconds.
pub fn system_clock() -> Arc<dyn Fn() -> i64 + Send + Sync> {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    })
}

pub fn iso(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

impl Flow {
    pub(crate) fn now(&self) -> i64 {
        (self.clock)()
    }

    /// Handles one queue message (an EventBridge envelope, a CloudTrail record or a log file).
    /// `receive_count` is SQS's `ApproximateReceiveCount`.
    pub async fn handle_message(
        &self,
        message_id: &str,
        body: &str,
        receive_count: u32,
    ) -> Handled {
        let mut events = Vec::new();
        let mut unreadable = Vec::new();
        parse_document(body.as_bytes(), |index, parsed| match parsed {
            Ok(e) => events.push(e),
            Err(err) => unreadable.push(match index {
                Some(i) => format!("record {i}: {err}"),
                None => err.to_string(),
            }),
        });
        if events.is_empty() || !unreadable.is_empty() {
            let why = format!(
                "message `{message_id}` is not a CloudTrail event Warden can read: {}",
                if unreadable.is_empty() {
                    "no event in it".to_owned()
                } else {
                    unreadable.join("; ")
                }
            );
            return self.dead_letter(message_id, None, why).await;
        }
        let mut done = Vec::new();
        for event in &events {
            let started = Instant::now();
            let span = tracing::info_span!(
                "event",
                message_id,
                event_id = event.record.event_id.as_deref().unwrap_or(""),
                event_name = event.name(),
            );
            // The span is attached to the future (not entered across awaits) and entered for each
            // log line, so every line carries the event's fields.
            // Counted for this event alone: the lanes of a batch run at once.
            let (result, aws_requests) = crate::aws::counting(
                self.process_event(event, message_id)
                    .instrument(span.clone()),
            )
            .await;
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            match result {
                Ok(s) => {
                    span.in_scope(|| {
                        tracing::info!(
                            principal = s.principal.as_deref().unwrap_or(""),
                            rule = s.rule.as_deref().unwrap_or(""),
                            verdict = s.verdict.as_str(),
                            duplicate = s.duplicate,
                            ms,
                            aws_requests,
                            "processed"
                        );
                    });
                    done.push(s);
                }
                Err(e) if e.is_retryable() && receive_count < self.max_receives => {
                    span.in_scope(|| {
                        tracing::warn!(error = %e, receive_count, ms, aws_requests, "will retry");
                    });
                    return Handled::Retry(e.to_string());
                }
                Err(e) => {
                    let why = if e.is_retryable() {
                        format!("gave up after {receive_count} receives: {e}")
                    } else {
                        e.to_string()
                    };
                    span.in_scope(|| {
                        tracing::error!(error = %why, ms, aws_requests, "to the dead-letter queue");
                    });
                    return self
                        .dead_letter(message_id, event.record.event_id.as_deref(), why)
                        .instrument(span)
                        .await;
                }
            }
        }
        Handled::Done(done)
    }

    /// A message whose handling was stopped before it finished (its batch's time ran out): like a
    /// retryable error, it is left for a redelivery, or, at receive `max_receives`, recorded,
    /// alerted and given up, so an event that hangs every time ends as one that fails every time
    /// does, never in a silent redrive. What it did so far is saved stage by stage, as after a
    /// crash.
    pub async fn cut_off(
        &self,
        message_id: &str,
        body: &str,
        receive_count: u32,
        why: &str,
    ) -> Handled {
        if receive_count < self.max_receives {
            return Handled::Retry(why.to_owned());
        }
        let mut event_id = None;
        parse_document(body.as_bytes(), |_, parsed| {
            if let (Ok(e), None) = (parsed, &event_id) {
                event_id = e.record.event_id.as_deref().map(str::to_owned);
            }
        });
        self.dead_letter(
            message_id,
            event_id.as_deref(),
            format!("gave up after {receive_count} receives: {why}"),
        )
        .await
    }

    /// Records a permanent error and alerts once (both idempotent on the message id).
    async fn dead_letter(&self, message_id: &str, event_id: Option<&str>, why: String) -> Handled {
        let id = deterministic_id(&["error", message_id]);
        let now = self.now();
        let draft = Draft {
            id: id.clone(),
            time: iso(now),
            kind: Some(RecordKind::Error),
            principal: None,
            target: None,
            actions: Vec::new(),
            rule: None,
            event_id: event_id.map(str::to_owned),
            body: json!({"message_id": message_id, "reason": why}),
        };
        let notice = Notice {
            event_id: event_id.map_or_else(|| format!("message {message_id}"), str::to_owned),
            event_time: None,
            event_source: "warden".to_owned(),
            event_name: "UnprocessableMessage".to_owned(),
            account: None,
            region: None,
            principal: "(unprocessable message)".to_owned(),
            caller_arn: None,
            caller_kind: "unknown".to_owned(),
            verdict: "error".to_owned(),
            mode: "enforce".to_owned(),
            rule: None,
            actions: Vec::new(),
            resources: Vec::new(),
            reasons: vec![why.clone()],
            changes: Vec::new(),
            todo: vec![format!(
                "inspect the message in the dead-letter queue (evidence record `{id}`) and replay it with `warden plan --event FILE` once it reads"
            )],
            tamper: false,
        };
        if let Err(e) = self.evidence.append(draft).await {
            return Handled::Retry(format!("{why}; and recording it failed: {e}"));
        }
        if let Err(e) = self.outbox.add(&notice, now).await {
            return Handled::Retry(format!("{why}; and alerting it failed: {e}"));
        }
        Handled::DeadLetter(why)
    }

    async fn save(&self, event_id: &str, p: &Progress) -> Result<(), FlowError> {
        let v = serde_json::to_value(p).map_err(|e| FlowError::Corrupt(e.to_string()))?;
        Ok(self.ledger.save(event_id, &self.owner, &v).await?)
    }

    /// Runs the flow for one event.
    pub async fn process_event(
        &self,
        event: &Event<'_>,
        message_id: &str,
    ) -> Result<EventSummary, FlowError> {
        let event_id = event
            .record
            .event_id
            .as_deref()
            .map_or_else(|| format!("message-{message_id}"), str::to_owned);
        let now = self.now();
        if let Some(summary) = self.heartbeat(event, &event_id, now).await? {
            return Ok(summary);
        }
        let mut analysis = analyse(event, &self.catalog);
        let principal = analysis
            .caller
            .principal_arn
            .clone()
            .or_else(|| analysis.caller.arn.clone());
        let mut progress = match self
            .ledger
            .claim(&event_id, &self.owner, now, now + self.lease_seconds)
            .await?
        {
            Claim::Done(summary) => {
                return Ok(EventSummary {
                    event_id,
                    principal,
                    verdict: serde_json::from_value(
                        summary.get("verdict").cloned().unwrap_or(Value::Null),
                    )
                    .unwrap_or(Verdict::Ignore),
                    rule: summary
                        .get("rule")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    changes: serde_json::from_value(
                        summary.get("changes").cloned().unwrap_or(Value::Null),
                    )
                    .unwrap_or_default(),
                    duplicate: true,
                })
            }
            Claim::Busy { until } => return Err(FlowError::Busy { event_id, until }),
            Claim::Fresh => Progress::default(),
            // A claim that crashed before its first save has no progress yet.
            Claim::Resume(Value::Null) => Progress::default(),
            Claim::Resume(saved) => serde_json::from_value(saved).map_err(|e| {
                FlowError::Corrupt(format!(
                    "the saved progress of event `{event_id}` does not read: {e}"
                ))
            })?,
        };
        self.faults.check(Stage::Claimed)?;

        if progress.decided.is_none() {
            let (d, groups, groups_from, before) = match self.not_ours(event) {
                Some(d) => (d, None, None, None),
                None => {
                    let before = self.model_before_and_apply(event, &analysis).await?;
                    // The role an instance profile the event passes held just before it.
                    policy_rules::passed_roles::resolve(&mut analysis, &before);
                    let (groups, from) =
                        self.groups_before_event(event, &analysis, &before).await?;
                    let d = decide(
                        event,
                        &analysis,
                        &self.rules,
                        CallerFacts {
                            groups: groups.as_deref(),
                        },
                    );
                    (d, groups, from, Some(before))
                }
            };
            progress.decided = Some(Decided {
                verdict: d.verdict,
                rule: d.rule,
                mode: d.mode,
                reasons: d.reasons,
                violations: d.violations,
                certain: d.certain,
                also_broken: d.also_broken,
                groups_before: groups,
                groups_from,
                before,
            });
            self.save(&event_id, &progress).await?;
        }
        self.faults.check(Stage::Decided)?;
        let decided = progress
            .decided
            .clone()
            .ok_or_else(|| FlowError::Corrupt("no decision after deciding".to_owned()))?;
        let decision = decided.decision();
        // A resumed attempt resolves the passed instance profiles as the decision did, from the
        // before-state saved with it.
        if let Some(before) = &decided.before {
            policy_rules::passed_roles::resolve(&mut analysis, before);
        }

        if progress.planned.is_none() {
            progress.planned = Some(
                self.plan_event(
                    event,
                    &analysis,
                    &decision,
                    decided.groups_before.as_deref(),
                    decided.before.as_ref(),
                )
                .await?,
            );
            self.save(&event_id, &progress).await?;
        }
        self.faults.check(Stage::Planned)?;

        let mut planned = progress
            .planned
            .clone()
            .ok_or_else(|| FlowError::Corrupt("no plan after planning".to_owned()))?;
        if planned.apply {
            for i in 0..planned.steps.len() {
                self.run_step(&event_id, &mut progress, &mut planned, i)
                    .await?;
            }
        }

        if !progress.held && (planned.apply || planned.release.is_some()) {
            self.hold(event, &planned).await?;
            progress.held = true;
            self.save(&event_id, &progress).await?;
        }

        if !progress.recorded {
            self.record(event, &event_id, &analysis, &decided, &planned)
                .await?;
            progress.recorded = true;
            self.save(&event_id, &progress).await?;
        }
        self.faults.check(Stage::Recorded)?;

        let rule = decided
            .rule
            .as_deref()
            .and_then(|id| self.rules.rules.iter().find(|r| r.id == id));
        let wants_alert = planned.tamper.is_some()
            || match decided.verdict {
                Verdict::Alert => true,
                Verdict::Deny | Verdict::Exempt => rule.is_none_or(|r| r.response.alert),
                _ => false,
            };
        if wants_alert && !progress.alerted {
            let notice = self.notice(event, &event_id, &analysis, &decided, &planned);
            self.outbox.add(&notice, now).await?;
            progress.alerted = true;
            self.save(&event_id, &progress).await?;
        }
        self.faults.check(Stage::Alerted)?;

        let changes: Vec<String> = planned
            .steps
            .iter()
            .enumerate()
            .filter(|(_, s)| {
                matches!(s.applied, Some(Applied::Changed { .. })) || s.applied_earlier
            })
            .map(|(i, _)| change_id(&event_id, i))
            .collect();
        let summary = EventSummary {
            event_id: event_id.clone(),
            principal,
            verdict: decided.verdict,
            rule: decided.rule.clone(),
            changes,
            duplicate: false,
        };
        let v = serde_json::to_value(&summary).unwrap_or(Value::Null);
        self.ledger.finish(&event_id, &self.owner, &v).await?;
        Ok(summary)
    }

    /// Warden's own heartbeat (its tag on its canary policy, `watch::heartbeat_of`): recorded as
    /// seen, not judged, not claimed (recording it twice changes nothing).
    async fn heartbeat(
        &self,
        event: &Event<'_>,
        event_id: &str,
        now: i64,
    ) -> Result<Option<EventSummary>, FlowError> {
        let Some(watch) = &self.watch else {
            return Ok(None);
        };
        let Some(beat) = watch
            .canary_arn
            .as_deref()
            .and_then(|arn| crate::enforce::watch::heartbeat_of(event, arn, &self.rules))
        else {
            return Ok(None);
        };
        watch.store.beat_seen(beat, now).await?;
        tracing::info!(beat, "heartbeat seen");
        Ok(Some(EventSummary {
            event_id: event_id.to_owned(),
            principal: None,
            verdict: Verdict::Ignore,
            rule: None,
            changes: Vec::new(),
            duplicate: false,
        }))
    }

    /// The decision for an event of an account Warden does not guard (routed from elsewhere, or
    /// forged): recorded and alerted, never acted on — a principal named in it is another
    /// account's, and a change made here would land on a principal of ours that shares its name.
    fn not_ours(&self, event: &Event<'_>) -> Option<Decision> {
        let why = match event.account() {
            Some(a) if a == self.account_id => return None,
            Some(a) => format!(
                "event for account `{a}`, Warden guards `{}`: not acted on",
                self.account_id
            ),
            None => format!(
                "the event names no account (no `recipientAccountId`), Warden guards `{}`: not acted on",
                self.account_id
            ),
        };
        Some(Decision {
            verdict: Verdict::Alert,
            rule: None,
            mode: None,
            reasons: vec![
                why,
                "check where the event came from: another account's events reach this queue only through a rule or bus that forwards them".to_owned(),
            ],
            violations: Vec::new(),
            certain: false,
            also_broken: Vec::new(),
        })
    }

    /// The entries of the account model the event touches (and, for an IAM user caller, the
    /// caller's), as they were just before the event; then the event applied to them and written
    /// back. One read and at most one write per event; a redelivered event finds its change
    /// already recorded and writes nothing.
    async fn model_before_and_apply(
        &self,
        event: &Event<'_>,
        analysis: &Analysis,
    ) -> Result<BeforeEvent, FlowError> {
        let touched = model::touches(event);
        let mut keys = touched.clone();
        // The instance profiles the event passes: read, not changed.
        for key in policy_rules::passed_roles::entries_needed(&analysis.mapping) {
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        if let (CallerKind::IamUser, Some(name)) =
            (analysis.caller.kind, analysis.caller.name.as_deref())
        {
            keys.push(EntryKey::user(name));
        }
        if keys.is_empty() {
            return Ok(BeforeEvent::default());
        }
        let mut attempt = 0;
        loop {
            let read = self.model.get(&keys).await?;
            let entries: Vec<_> = read.iter().map(|(e, _)| e.clone()).collect();
            let before = BeforeEvent::of(event, &keys, &entries, self.model_trust);
            let mut writes = Vec::new();
            for key in &touched {
                let found = read.iter().find(|(e, _)| &e.key == key);
                let (mut entry, version) = match found {
                    Some((e, v)) => (e.clone(), *v),
                    None => (
                        Entry {
                            key: key.clone(),
                            versions: Vec::new(),
                        },
                        0,
                    ),
                };
                if entry.apply(event).is_some() {
                    writes.push((entry, version));
                }
            }
            match self.model.put(&writes).await {
                Ok(()) => return Ok(before),
                Err(StoreError::Contention) if attempt < 3 => attempt += 1,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The caller's groups before the event (IAM users only; `None` for other callers): from the
    /// account model where it vouches for them, else read live and adjusted by the event.
    async fn groups_before_event(
        &self,
        event: &Event<'_>,
        analysis: &Analysis,
        before: &BeforeEvent,
    ) -> Result<(Option<Vec<String>>, Option<String>), FlowError> {
        let c = &analysis.caller;
        if c.kind != CallerKind::IamUser {
            return Ok((None, None));
        }
        let Some(name) = c.name.as_deref() else {
            return Ok((None, None));
        };
        // No rule looks at groups for an event no rule can apply to; skip the read.
        if policy_rules::decision::triage(event, &self.catalog, &self.rules).is_some() {
            return Ok((None, None));
        }
        if let Ok(groups) = before.groups(name) {
            return Ok((Some(groups), Some(before.provenance(&EntryKey::user(name)))));
        }
        let live = self.account.groups_of_user(name).await?;
        Ok((
            Some(groups_before(event, name, &live)),
            Some("read live after the event (the model has no entry it vouches for)".to_owned()),
        ))
    }

    async fn plan_event(
        &self,
        event: &Event<'_>,
        analysis: &Analysis,
        decision: &Decision,
        groups: Option<&[String]>,
        before: Option<&BeforeEvent>,
    ) -> Result<Planned, FlowError> {
        let rule = decision
            .rule
            .as_deref()
            .and_then(|id| self.rules.rules.iter().find(|r| r.id == id));
        let c = &analysis.caller;
        let ours = event.account() == Some(self.account_id.as_str());
        let snapshot = match (decision.verdict, c.name.as_deref()) {
            (Verdict::Deny | Verdict::Alert, Some(name))
                if ours
                    && c.restrictable == Restrictable::Yes
                    && matches!(c.kind, CallerKind::IamUser | CallerKind::AssumedRole) =>
            {
                let with_managed = rule.is_some_and(|r| r.response.deny_scope == DenyScope::Rule);
                self.account
                    .principal(c.kind == CallerKind::AssumedRole, name, with_managed)
                    .await?
                    .map(|s| s.before_event(event))
            }
            _ => None,
        };
        // The versions of a managed policy whose default the event changed, for its undo.
        let mut snapshot = snapshot;
        if ours
            && matches!(
                event.name(),
                "CreatePolicyVersion" | "SetDefaultPolicyVersion"
            )
        {
            if let Some(arn) = event
                .record
                .request_parameters
                .and_then(|r| serde_json::from_str::<Value>(r.get()).ok())
                .and_then(|v| {
                    v.get("policyArn")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
            {
                let versions = self.account.policy_versions(&arn).await?;
                snapshot
                    .get_or_insert_with(Snapshot::default)
                    .policy_versions
                    .insert(arn, versions);
            }
        }
        // What Warden holds on the principal it would deny: the Deny is rendered from this record,
        // never from the live `WardenDeny` (which anyone with the permission can rewrite).
        let target_arn = snapshot
            .as_ref()
            .and_then(|snap| c.principal_arn.as_deref().and_then(|a| snap.principal(a)))
            .map(|r| r.arn.clone())
            .or_else(|| c.principal_arn.clone());
        let held_target = match target_arn.as_deref().and_then(held::key) {
            Some(key) if ours && decision.verdict == Verdict::Deny => {
                self.holdings.get(&key).await?
            }
            _ => None,
        };
        let held_doc = held_target.as_ref().and_then(Held::document);
        let outcome = plan(&Input {
            event,
            analysis,
            decision,
            rules: &self.rules,
            catalog: &self.catalog,
            snapshot: snapshot.as_ref(),
            held: held_doc.as_ref(),
            before,
        });
        let monitor = decision.mode == Some(Mode::Monitor);
        let what_to_do = match &c.restrictable {
            Restrictable::No { what_to_do, .. } => vec![(*what_to_do).to_owned()],
            Restrictable::Yes => Vec::new(),
        };
        let run = |step: Step, role: &str| StepRun {
            step,
            role: role.to_owned(),
            target: None,
            before: None,
            applied: None,
            applied_earlier: false,
            verification: None,
            error: None,
        };
        // INVARIANT (guarded-account-only): Warden changes nothing on a principal of another
        // account, whatever the planner said.
        let outcome = match outcome {
            Outcome::Deny(p)
                if policy_rules::arn::Arn::parse(&p.target)
                    .is_none_or(|a| a.account != self.account_id) =>
            {
                Outcome::Alert {
                    reasons: vec![format!(
                        "the Deny's target `{}` is not in account `{}`, which Warden guards: not acted on",
                        p.target, self.account_id
                    )],
                    undo: Vec::new(),
                }
            }
            other => other,
        };
        let mut planned = match outcome {
            Outcome::Deny(p) => {
                let mut steps: Vec<StepRun> =
                    deny_steps(&p).into_iter().map(|s| run(s, "deny")).collect();
                steps.extend(p.undo.iter().cloned().map(|s| run(s, "undo")));
                let mut reasons = p.reasons.clone();
                reasons.extend(p.fallback.clone());
                let mut todo = Vec::new();
                if let Some(why) = &p.no_undo {
                    todo.push(format!("undo the change by hand: {why}"));
                }
                Planned {
                    outcome: "deny".to_owned(),
                    reasons,
                    todo,
                    plan: serde_json::to_value(&*p).unwrap_or(Value::Null),
                    steps,
                    apply: !monitor,
                    tamper: None,
                    release: None,
                }
            }
            Outcome::Alert { reasons, undo } => {
                // An alert's undo is applied only when the violation is certain and the rule asks
                // for no Deny (alert and undo), or asks for an undo that is all Warden can do: a
                // caller of another account cannot be denied here, and an account-level action
                // (the account's public access block) names no resource a Deny could hold.
                // Otherwise it is proposed to a person.
                let apply = !monitor
                    && decision.certain
                    && ours
                    && rule.is_some_and(|r| {
                        r.response.deny_scope == DenyScope::None
                            || (r.response.undo
                                && (c.kind == CallerKind::OtherAccount
                                    || undo
                                        .iter()
                                        .all(|s| UNDO_WITHOUT_DENY.contains(&s.call.as_str()))))
                    });
                let mut todo = what_to_do;
                if !apply {
                    todo.extend(undo.iter().map(|s| {
                        format!(
                            "consider `{}` {} (precondition: {})",
                            s.call,
                            policy_rules::evidence::canonical_json(
                                &serde_json::to_value(&s.params).unwrap_or(Value::Null)
                            ),
                            s.precondition
                        )
                    }));
                    if todo.is_empty() {
                        todo.push(
                            "review the call and its caller; Warden changed nothing".to_owned(),
                        );
                    }
                }
                Planned {
                    outcome: "alert".to_owned(),
                    reasons,
                    todo,
                    plan: json!({"undo": undo}),
                    steps: undo.into_iter().map(|s| run(s, "undo")).collect(),
                    apply,
                    tamper: None,
                    release: None,
                }
            }
            Outcome::Nothing => Planned {
                outcome: "nothing".to_owned(),
                reasons: Vec::new(),
                todo: what_to_do,
                plan: Value::Null,
                steps: Vec::new(),
                apply: false,
                tamper: None,
                release: None,
            },
        };
        if ours {
            self.guard_holdings(event, analysis, groups, monitor, &mut planned)
                .await?;
        }
        Ok(planned)
    }

    /// Tampering: when the event changed what Warden holds in force on a principal (deleted,
    /// rewrote, detached or re-versioned its Deny, re-activated a key it deactivated, re-created a
    /// login profile it removed), Warden puts its state back from its own record (first, before
    /// any other step), records a `tamper` record and alerts at the highest severity; the
    /// tamperer's call is judged by the rules like any other (a violation of the self-protection
    /// rules). When every rule that matched allowed the caller (the allow-set of Warden's
    /// self-protection rules), the change is a release: Warden's record is cleared and alerted.
    async fn guard_holdings(
        &self,
        event: &Event<'_>,
        analysis: &Analysis,
        progress_groups: Option<&[String]>,
        monitor: bool,
        planned: &mut Planned,
    ) -> Result<(), FlowError> {
        if event.record.error_code.is_some()
            || policy_rules::decision::is_warden_principal(&self.rules, &analysis.caller, event)
        {
            return Ok(());
        }
        let Some((is_role, name)) = held::acted_on(event) else {
            return Ok(());
        };
        let key = held::key_of(&self.account_id, is_role, &name);
        let Some(held) = self.holdings.get(&key).await? else {
            return Ok(());
        };
        let Some(tampering) = held::tamper(event, &held) else {
            return Ok(());
        };
        let what = tampering.describe();
        planned.tamper = Some(json!({"what": what, "held": held}));
        let groups = progress_groups;
        if policy_rules::decision::may_release(&self.rules, event, analysis, CallerFacts { groups })
        {
            planned.release = Some(key);
            planned.reasons.push(format!(
                "{what}: the caller is in the allow-set of Warden's self-protection rules, so this is a release; Warden's record of `{}` is cleared",
                held.principal
            ));
            return Ok(());
        }
        planned.reasons.push(format!(
            "tampering: {what}; Warden puts back what it holds on `{}` from its own record",
            held.principal
        ));
        let restore = restore_steps(&held, &tampering);
        if !planned.apply {
            // The rest of the plan is a proposal (already in `todo`); only the restore is applied.
            planned.steps.clear();
        }
        let runs = restore.into_iter().map(|step| StepRun {
            step,
            role: "restore".to_owned(),
            target: None,
            before: None,
            applied: None,
            applied_earlier: false,
            verification: None,
            error: None,
        });
        planned.steps.splice(0..0, runs);
        planned.apply = !monitor;
        Ok(())
    }

    /// Updates Warden's record of what it holds in force with what the event's steps did (each
    /// change is a set union, so a retry changes nothing), or clears it for a release.
    async fn hold(&self, event: &Event<'_>, planned: &Planned) -> Result<(), FlowError> {
        let partition = policy_rules::arn::partition_for_region(
            event.record.aws_region.as_deref().unwrap_or(""),
        );
        let holds = |r: &StepRun| {
            r.error.is_none()
                && r.verification.as_ref().is_some_and(|v| v.holds)
                && (matches!(r.applied, Some(Applied::Changed { .. }))
                    || r.applied_earlier
                    || r.role == "restore")
        };
        let param = |r: &StepRun, k: &str| {
            r.step
                .params
                .get(k)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let user_arn = |name: &str| format!("arn:{partition}:iam::{}:user/{name}", self.account_id);
        let role_arn = |name: &str| format!("arn:{partition}:iam::{}:role/{name}", self.account_id);
        let mut changes: Vec<(String, HeldChange)> = Vec::new();
        for r in planned.steps.iter().filter(|r| holds(r)) {
            match (r.role.as_str(), r.step.call.as_str()) {
                ("deny", _) => {
                    let Ok(plan) = serde_json::from_value::<PlanHeld>(planned.plan.clone()) else {
                        continue;
                    };
                    changes.push((
                        plan.target.clone(),
                        Box::new(move |h: &mut Held| {
                            h.denies.extend(plan.denied.iter().cloned());
                            h.revoke_before =
                                match (h.revoke_before.take(), plan.revoke_sessions_before.clone())
                                {
                                    (Some(a), Some(b)) => Some(a.max(b)),
                                    (a, b) => a.or(b),
                                };
                            h.placement = Some(plan.placement);
                            h.policy_name = Some(plan.policy_name.clone());
                        }),
                    ));
                }
                ("undo", "iam:UpdateAccessKey") => {
                    if let (Some(user), Some(id), Some("Inactive")) = (
                        param(r, "UserName"),
                        param(r, "AccessKeyId"),
                        param(r, "Status").as_deref(),
                    ) {
                        changes.push((
                            user_arn(&user),
                            Box::new(move |h: &mut Held| {
                                h.keys_inactive.insert(id.clone());
                            }),
                        ));
                    }
                }
                ("undo", "iam:DeleteLoginProfile") => {
                    if let Some(user) = param(r, "UserName") {
                        changes.push((
                            user_arn(&user),
                            Box::new(|h: &mut Held| h.login_profile_removed = true),
                        ));
                    }
                }
                ("undo", "iam:PutUserPolicy" | "iam:PutRolePolicy")
                    if param(r, "PolicyName").as_deref() == Some(QUARANTINE_POLICY_NAME) =>
                {
                    let arn = match (param(r, "UserName"), param(r, "RoleName")) {
                        (Some(u), _) => user_arn(&u),
                        (_, Some(n)) => role_arn(&n),
                        _ => continue,
                    };
                    changes.push((arn, Box::new(|h: &mut Held| h.quarantined = true)));
                }
                _ => {}
            }
        }
        for (arn, change) in changes {
            let Some(key) = held::key(&arn) else { continue };
            self.update_held(&key, &arn, |h| change(h)).await?;
        }
        if let Some(key) = &planned.release {
            self.update_held(key, "", |h| {
                let principal = std::mem::take(&mut h.principal);
                let version = h.version;
                *h = Held::new(&principal);
                h.version = version;
            })
            .await?;
        }
        Ok(())
    }

    /// Read, change, conditional write; again when another writer moved first.
    pub(crate) async fn update_held(
        &self,
        key: &str,
        principal: &str,
        change: impl Fn(&mut Held),
    ) -> Result<(), FlowError> {
        for _ in 0..5 {
            let mut h = self
                .holdings
                .get(key)
                .await?
                .unwrap_or_else(|| Held::new(principal));
            let before = h.clone();
            change(&mut h);
            if h == before {
                return Ok(());
            }
            match self.holdings.put(key, &h).await {
                Ok(()) => return Ok(()),
                Err(StoreError::Contention) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Contention.into())
    }

    /// Snapshot → apply → verify for step `i`, saving after each.
    async fn run_step(
        &self,
        event_id: &str,
        progress: &mut Progress,
        planned: &mut Planned,
        i: usize,
    ) -> Result<(), FlowError> {
        let Some(run) = planned.steps.get_mut(i) else {
            return Ok(());
        };
        if run.error.is_some() || run.verification.is_some() {
            return Ok(());
        }
        let (connector, target) = match self.connectors.for_step(&run.step) {
            Ok(x) => x,
            Err(e) => {
                run.error = Some(e.to_string());
                progress.planned = Some(planned.clone());
                return self.save(event_id, progress).await;
            }
        };
        run.target = Some(target.clone());
        let permanent = |e: ConnectorError| -> Result<String, FlowError> {
            if e.is_retryable() {
                Err(FlowError::Connector(e))
            } else {
                Ok(e.to_string())
            }
        };
        let mut fresh_snapshot = false;
        if run.before.is_none() {
            match connector.snapshot(&target).await {
                Ok(s) => run.before = Some(s),
                Err(e) => run.error = Some(permanent(e)?),
            }
            fresh_snapshot = true;
            progress.planned = Some(planned.clone());
            self.save(event_id, progress).await?;
        }
        self.faults.check(Stage::Snapshotted)?;
        let Some(run) = planned.steps.get_mut(i) else {
            return Ok(());
        };
        if run.error.is_some() {
            return Ok(());
        }
        if run.applied.is_none() {
            // The precondition is checked on the live state: on a resumed attempt, the change may
            // already be live (then the connector skips it).
            let live = match (&run.before, fresh_snapshot) {
                (Some(b), true) => b.clone(),
                _ => connector
                    .snapshot(&target)
                    .await
                    .map_err(FlowError::Connector)?,
            };
            match connector.apply(&target, &run.step, &live).await {
                Ok(a) => {
                    run.applied_earlier = !fresh_snapshot
                        && matches!(a, Applied::Skipped { .. })
                        && Some(&live) != run.before.as_ref();
                    run.applied = Some(a);
                }
                Err(e) => run.error = Some(permanent(e)?),
            }
            progress.planned = Some(planned.clone());
            self.save(event_id, progress).await?;
        }
        self.faults.check(Stage::Applied)?;
        let Some(run) = planned.steps.get_mut(i) else {
            return Ok(());
        };
        if run.error.is_none() && run.verification.is_none() {
            match connector.verify(&target, &run.step).await {
                Ok(v) => run.verification = Some(v),
                Err(e) => run.error = Some(permanent(e)?),
            }
            progress.planned = Some(planned.clone());
            self.save(event_id, progress).await?;
        }
        self.faults.check(Stage::Verified)?;
        Ok(())
    }

    /// The evidence records of one event: the decision (with the plan), then a `change` and a
    /// `verify` record per step applied. Ids are deterministic, so a retry writes nothing twice.
    async fn record(
        &self,
        event: &Event<'_>,
        event_id: &str,
        analysis: &Analysis,
        d: &Decided,
        planned: &Planned,
    ) -> Result<(), FlowError> {
        let now = iso(self.now());
        let principal = analysis
            .caller
            .principal_arn
            .clone()
            .or_else(|| analysis.caller.arn.clone());
        let actions: Vec<String> = analysis
            .mapping
            .actions()
            .iter()
            .map(|a| a.action.clone())
            .collect();
        let monitor = d.mode == Some(Mode::Monitor);
        let body = json!({
            "event_source": event.source(),
            "event_name": event.name(),
            "event_time": event.record.event_time.as_deref(),
            "account": event.account(),
            "caller": {"kind": analysis.caller.kind.as_str(), "arn": analysis.caller.arn, "principal_arn": analysis.caller.principal_arn},
            "resources": analysis.mapping.resource_patterns(),
            "verdict": d.verdict.as_str(),
            "mode": d.mode,
            "reasons": d.reasons,
            "groups_before": d.groups_before,
            "groups_from": d.groups_from,
            "model_before": d.before,
            "outcome": planned.outcome,
            "plan": planned.plan,
            "plan_reasons": planned.reasons,
            "applied": planned.apply,
            "monitor": monitor.then_some("monitor mode: the plan was not applied"),
            "todo": planned.todo,
        });
        let mut drafts = vec![Draft {
            id: deterministic_id(&["decision", event_id]),
            time: now.clone(),
            kind: Some(RecordKind::Decision),
            principal: principal.clone(),
            target: None,
            actions: actions.clone(),
            rule: d.rule.clone(),
            event_id: Some(event_id.to_owned()),
            body,
        }];
        if let Some(t) = &planned.tamper {
            let found: Vec<&State> = planned
                .steps
                .iter()
                .filter(|r| r.role == "restore")
                .filter_map(|r| r.before.as_ref())
                .collect();
            drafts.push(Draft {
                id: deterministic_id(&["tamper", event_id]),
                time: now.clone(),
                kind: Some(RecordKind::Tamper),
                principal: principal.clone(),
                target: t
                    .pointer("/held/principal")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                actions: actions.clone(),
                rule: d.rule.clone(),
                event_id: Some(event_id.to_owned()),
                body: json!({
                    "what": t.get("what"),
                    "held_before": t.get("held"),
                    "found": found,
                    "release": planned.release.is_some(),
                }),
            });
        }
        // What the Deny step adds, and the full ARNs Warden read (the denied principal's, with its
        // path), which name a changed user or role better than the event's bare name.
        let plan_held = serde_json::from_value::<PlanHeld>(planned.plan.clone()).ok();
        let held_principal = planned
            .tamper
            .as_ref()
            .and_then(|t| t.pointer("/held/principal"))
            .and_then(Value::as_str);
        let known: Vec<&str> = [
            plan_held.as_ref().map(|p| p.target.as_str()),
            principal.as_deref(),
            held_principal,
        ]
        .into_iter()
        .flatten()
        .collect();
        let region = event.record.aws_region.as_deref().unwrap_or("");
        let place = Place {
            partition: policy_rules::arn::partition_for_region(region),
            account: &self.account_id,
            region,
        };
        for (i, run) in planned.steps.iter().enumerate() {
            let (Some(target), Some(before)) = (&run.target, &run.before) else {
                continue;
            };
            let Some(applied) = &run.applied else {
                continue;
            };
            let call_action = vec![run.step.call.clone()];
            let target_arn = target_arn(target, &place, &known);
            let purpose = match run.role.as_str() {
                "deny" => Purpose::Deny {
                    denied: plan_held.as_ref().map_or(&[][..], |p| p.denied.as_slice()),
                    revoke_before: plan_held
                        .as_ref()
                        .and_then(|p| p.revoke_sessions_before.as_deref()),
                },
                "restore" => Purpose::Restore,
                _ => Purpose::Undo {
                    event_name: event.name(),
                    event_id,
                },
            };
            let what = describe_change(purpose, &run.step.call, &run.step.params, &target_arn);
            let (denied, undid) = match purpose {
                Purpose::Deny { denied, .. } => (Some(denied), None),
                Purpose::Undo { .. } => (
                    None,
                    Some(
                        json!({"event_id": event_id, "event_name": event.name(), "actions": actions}),
                    ),
                ),
                Purpose::Restore | Purpose::Release | Purpose::Sweep { .. } => (None, None),
            };
            drafts.push(Draft {
                id: change_id(event_id, i),
                time: now.clone(),
                kind: Some(RecordKind::Change),
                principal: principal.clone(),
                target: Some(target_arn.clone()),
                actions: call_action.clone(),
                rule: d.rule.clone(),
                event_id: Some(event_id.to_owned()),
                body: json!({
                    "connector": target.connector,
                    "name": target.name,
                    "role": run.role,
                    "what": what,
                    "denied": denied,
                    "undid": undid,
                    "step": run.step,
                    "before": before,
                    "after": run.verification.as_ref().map(|v| &v.after),
                    "applied": applied,
                    "applied_by_earlier_attempt": run.applied_earlier,
                }),
            });
            if let Some(v) = &run.verification {
                drafts.push(Draft {
                        id: deterministic_id(&["verify", event_id, &i.to_string()]),
                        time: now.clone(),
                        kind: Some(RecordKind::Verify),
                        principal: principal.clone(),
                        target: Some(target_arn),
                        actions: call_action,
                        rule: d.rule.clone(),
                        event_id: Some(event_id.to_owned()),
                        body: json!({"of": change_id(event_id, i), "holds": v.holds, "detail": v.detail}),
                    });
            }
        }
        // One write for the event's records where the store can; ids are deterministic, so a retry
        // writes nothing twice.
        self.evidence.append_all(drafts).await?;
        Ok(())
    }

    fn notice(
        &self,
        event: &Event<'_>,
        event_id: &str,
        analysis: &Analysis,
        d: &Decided,
        planned: &Planned,
    ) -> Notice {
        let c = &analysis.caller;
        let monitor = d.mode == Some(Mode::Monitor);
        let changes = planned
            .steps
            .iter()
            .enumerate()
            .map(|(i, run)| {
                let status = if monitor {
                    "not applied (monitor mode)".to_owned()
                } else if !planned.apply {
                    "proposed, not applied".to_owned()
                } else if let Some(e) = &run.error {
                    format!("failed: {e}")
                } else {
                    match (&run.applied, &run.verification) {
                        (Some(Applied::Changed { .. }), Some(v)) if v.holds => {
                            "applied and verified".to_owned()
                        }
                        (Some(Applied::Skipped { .. }), Some(v))
                            if v.holds && run.applied_earlier =>
                        {
                            "applied and verified".to_owned()
                        }
                        (Some(Applied::Skipped { why }), _) => format!("skipped: {why}"),
                        (Some(_), Some(v)) => format!("applied but does not hold: {}", v.detail),
                        _ => "not applied".to_owned(),
                    }
                };
                let what = run
                    .step
                    .params
                    .get("PolicyDocument")
                    .or_else(|| run.step.params.get("Policy"))
                    .cloned()
                    .unwrap_or_else(|| {
                        serde_json::to_value(&run.step.params).unwrap_or(Value::Null)
                    });
                NoticeChange {
                    call: run.step.call.clone(),
                    target: run
                        .target
                        .as_ref()
                        .map_or_else(|| "(no connector)".to_owned(), ToString::to_string),
                    what,
                    status,
                    evidence_id: (run.before.is_some() && run.applied.is_some())
                        .then(|| change_id(event_id, i)),
                }
            })
            .collect();
        let mut reasons = d.reasons.clone();
        reasons.extend(planned.reasons.iter().cloned());
        let mut todo = planned.todo.clone();
        todo.extend(planned.steps.iter().filter_map(|r| {
            r.error
                .as_ref()
                .map(|e| format!("`{}` failed ({e}): make the change by hand", r.step.call))
        }));
        Notice {
            event_id: event_id.to_owned(),
            event_time: event.record.event_time.as_deref().map(str::to_owned),
            event_source: event.source().to_owned(),
            event_name: event.name().to_owned(),
            account: event.account().map(str::to_owned),
            region: event.record.aws_region.as_deref().map(str::to_owned),
            principal: c
                .principal_arn
                .clone()
                .or_else(|| c.arn.clone())
                .unwrap_or_else(|| "(unknown caller)".to_owned()),
            caller_arn: c.arn.clone(),
            caller_kind: c.kind.as_str().to_owned(),
            verdict: d.verdict.as_str().to_owned(),
            mode: if monitor { "monitor" } else { "enforce" }.to_owned(),
            rule: d.rule.clone(),
            actions: analysis
                .mapping
                .actions()
                .iter()
                .map(|a| a.action.clone())
                .collect(),
            resources: analysis.mapping.resource_patterns(),
            reasons,
            changes,
            todo,
            tamper: planned.tamper.is_some(),
        }
    }

    /// Sends the incidents opened at least `window` seconds ago (all of them with 0): one message
    /// per principal listing its events. Returns the message ids.
    pub async fn flush_alerts(&self, window: i64) -> Result<Vec<String>, FlowError> {
        let now = self.now();
        let mut sent = Vec::new();
        for incident in self.outbox.due(now, window).await? {
            let alert = render(&incident);
            let id = self.notifier.publish(&alert).await?;
            self.outbox.sent(&incident, &id, now).await?;
            tracing::info!(incident = %incident.id, principal = %incident.principal, events = incident.notices.len(), message_id = %id, "alert sent");
            sent.push(id);
        }
        Ok(sent)
    }

    /// Restores the before-state of the change recorded as `id` through its connector (refused
    /// when the live state changed since Warden's change, unless `force`), and records the rollback.
    pub async fn rollback(&self, id: &str, force: bool) -> Result<(Record, RolledBack), FlowError> {
        let record = self
            .evidence
            .get(id)
            .await?
            .ok_or_else(|| FlowError::Unreadable(format!("no evidence record `{id}`")))?;
        if record.kind != RecordKind::Change {
            return Err(FlowError::Unreadable(format!(
                "record `{id}` is a `{}` record; only `change` records can be rolled back",
                serde_json::to_value(record.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            )));
        }
        let b = &record.body;
        let target = Target {
            connector: b
                .get("connector")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            name: b
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        };
        let before = b.get("before").unwrap_or(&Value::Null);
        let left = b.get("after").unwrap_or(&Value::Null);
        if left.is_null() {
            return Err(FlowError::Unreadable(format!(
                "record `{id}` has no verified after-state, so Warden cannot tell whether the live state changed since"
            )));
        }
        // The first rollback of a change has an id of its own, so a second one finds it (a forced
        // one after it gets a fresh id: it is another change, recorded apart).
        let first = deterministic_id(&["rollback", id]);
        let earlier = self.evidence.get(&first).await?;
        if let (Some(earlier), false) = (&earlier, force) {
            return Err(FlowError::AlreadyRolledBack {
                id: id.to_owned(),
                by: Some((earlier.id.clone(), earlier.time.clone())),
            });
        }
        let done = match self.connectors.rollback(&target, before, left, force).await {
            Ok(done) => done,
            // Refused because the live state is already the before-state (rolled back by a
            // rollback of an older Warden, whose record has another id, or by hand): nothing to do.
            Err(ConnectorError::Refused { .. })
                if self.live_state(&target).await?.as_ref() == Some(before) =>
            {
                return Err(FlowError::AlreadyRolledBack {
                    id: id.to_owned(),
                    by: None,
                });
            }
            Err(e) => return Err(e.into()),
        };
        self.forget(b, before).await?;
        let now = self.now();
        let target_name = record.target.clone().unwrap_or_else(|| target.to_string());
        let rec = self
            .evidence
            .append(Draft {
                id: if earlier.is_none() {
                    first
                } else {
                    deterministic_id(&["rollback", id, &now.to_string()])
                },
                time: iso(now),
                kind: Some(RecordKind::Rollback),
                principal: record.principal.clone(),
                target: record.target.clone(),
                actions: record.actions.clone(),
                rule: record.rule.clone(),
                event_id: record.event_id.clone(),
                body: json!({
                    "of": id,
                    "what": format!(
                        "rolled back `{id}`{}: `{target_name}` is as it was before that change",
                        if force { " (forced)" } else { "" }
                    ),
                    "restored": before, "live_before": done.live_before, "after": done.after,
                    "forced": force, "request_ids": done.request_ids,
                }),
            })
            .await?;
        Ok((rec, done))
    }

    /// The live state of a connector's thing, `None` when no connector owns it.
    async fn live_state(&self, target: &Target) -> Result<Option<State>, FlowError> {
        match self.connectors.by_kind(&target.connector) {
            Some(c) => Ok(Some(c.snapshot(target).await?)),
            None => Ok(None),
        }
    }
}

/// The step that deletes one of Warden's own inline policies (`policy`) from the user or role
/// `name`: `warden release`'s, and a Deny's move from inline to Warden's managed policy.
pub(crate) fn delete_own_inline(
    is_role: bool,
    name: &str,
    policy: &str,
    precondition: &str,
) -> Step {
    let (holder, title) = if is_role {
        ("RoleName", "Role")
    } else {
        ("UserName", "User")
    };
    Step {
        call: format!("iam:Delete{title}Policy"),
        params: [
            (holder.to_owned(), Value::String(name.to_owned())),
            ("PolicyName".to_owned(), Value::String(policy.to_owned())),
        ]
        .into_iter()
        .collect(),
        precondition: precondition.to_owned(),
        expect: None,
    }
}

impl Flow {
    /// After a rollback of one of Warden's own changes, its record says what the rolled-back
    /// before-state holds: for a Deny, the pairs of the document Warden had written before (its own
    /// stored before-state, not a live read); for a key it deactivated, the key is no longer held.
    async fn forget(&self, change: &Value, before: &Value) -> Result<(), FlowError> {
        let role = change.get("role").and_then(Value::as_str).unwrap_or("");
        let step: Option<Step> = change
            .get("step")
            .and_then(|s| serde_json::from_value(s.clone()).ok());
        let Some(step) = step else { return Ok(()) };
        let param = |k: &str| {
            step.params
                .get(k)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let (is_role, name) = match (param("RoleName"), param("UserName")) {
            (Some(r), _) => (true, r),
            (_, Some(u)) => (false, u),
            _ => return Ok(()),
        };
        let key = held::key_of(&self.account_id, is_role, &name);
        match (role, step.call.as_str()) {
            // A change that says what Warden held before it (`warden access --apply`): set back
            // to exactly that, whatever the placement.
            ("deny", _) if change.get("held_before").is_some_and(Value::is_object) => {
                let was: Held = change
                    .get("held_before")
                    .cloned()
                    .and_then(|v| serde_json::from_value(v).ok())
                    .ok_or_else(|| {
                        FlowError::Corrupt("a change's `held_before` does not read".to_owned())
                    })?;
                self.update_held(&key, "", |h| {
                    h.denies.clone_from(&was.denies);
                    h.placement = was.placement;
                    h.policy_name.clone_from(&was.policy_name);
                    h.revoke_before.clone_from(&was.revoke_before);
                })
                .await
            }
            ("deny" | "restore", _) => {
                let policy = param("PolicyName").unwrap_or_default();
                let earlier = before
                    .pointer(&format!("/inline/{policy}"))
                    .and_then(|d| policy_rules::policy::PolicyDocument::from_value(d).ok());
                let denies = earlier.as_ref().map(Held::denies_in).unwrap_or_default();
                self.update_held(&key, "", |h| {
                    h.denies.clone_from(&denies);
                    if denies.is_empty() {
                        h.placement = None;
                        h.policy_name = None;
                        h.revoke_before = None;
                    }
                })
                .await
            }
            ("undo", "iam:UpdateAccessKey") => {
                let id = param("AccessKeyId").unwrap_or_default();
                self.update_held(&key, "", |h| {
                    h.keys_inactive.remove(&id);
                })
                .await
            }
            _ => Ok(()),
        }
    }

    /// The held-record key of a user or role ARN of the guarded account; refused for any other.
    pub(crate) fn guarded_key(&self, principal: &str) -> Result<String, FlowError> {
        let key = held::key(principal).ok_or_else(|| {
            FlowError::Unreadable(format!("`{principal}` is not a user or role ARN"))
        })?;
        if !key.starts_with(&format!("{}:", self.account_id)) {
            return Err(FlowError::Unreadable(format!(
                "`{principal}` is not in account `{}`, which Warden guards",
                self.account_id
            )));
        }
        Ok(key)
    }

    /// `warden release PRINCIPAL`: lifts what Warden holds in force on a principal of the guarded
    /// account — deletes its Deny (inline, or detaches the managed one) and its quarantine, each
    /// as a recorded change — and clears Warden's record. Keys Warden deactivated stay
    /// `Inactive` (re-activating a key is a person's call, with `aws iam update-access-key`).
    pub async fn release(&self, principal: &str) -> Result<Vec<Record>, FlowError> {
        let key = self.guarded_key(principal)?;
        let held = self.holdings.get(&key).await?.ok_or_else(|| {
            FlowError::Unreadable(format!("Warden holds nothing in force on `{principal}`"))
        })?;
        let (holder, title) = if held.is_role() {
            ("RoleName", "Role")
        } else {
            ("UserName", "User")
        };
        let name = Value::String(held.name().to_owned());
        let mut steps = Vec::new();
        let delete = |policy: &str| {
            delete_own_inline(
                held.is_role(),
                held.name(),
                policy,
                "none: the policy is Warden's own",
            )
        };
        match (held.placement, held.managed_policy_arn()) {
            (Some(Placement::Managed), Some(arn)) => steps.push(Step {
                call: format!("iam:Detach{title}Policy"),
                params: [
                    (holder.to_owned(), name.clone()),
                    ("PolicyArn".to_owned(), Value::String(arn)),
                ]
                .into_iter()
                .collect(),
                precondition: "the policy is still attached".to_owned(),
                expect: None,
            }),
            _ if held.document().is_some() => steps.push(delete(DENY_POLICY_NAME)),
            _ => {}
        }
        if held.quarantined {
            steps.push(delete(QUARANTINE_POLICY_NAME));
        }
        let now = self.now();
        let mut drafts = Vec::new();
        let partition =
            policy_rules::arn::Arn::parse(&held.principal).map_or("aws", |a| a.partition);
        let place = Place {
            partition,
            account: &self.account_id,
            region: "",
        };
        for (i, step) in steps.iter().enumerate() {
            let (connector, target) = self.connectors.for_step(step)?;
            let before = connector.snapshot(&target).await?;
            let applied = connector.apply(&target, step, &before).await?;
            let verification = connector.verify(&target, step).await?;
            let target_arn = target_arn(&target, &place, &[held.principal.as_str()]);
            drafts.push(Draft {
                id: deterministic_id(&["release", &key, &now.to_string(), &i.to_string()]),
                time: iso(now),
                kind: Some(RecordKind::Change),
                principal: Some(held.principal.clone()),
                target: Some(target_arn.clone()),
                actions: vec![step.call.clone()],
                rule: None,
                event_id: None,
                body: json!({
                    "connector": target.connector,
                    "name": target.name,
                    "role": "release",
                    "what": describe_change(Purpose::Release, &step.call, &step.params, &target_arn),
                    "step": step,
                    "before": before,
                    "after": verification.after,
                    "applied": applied,
                    "held_before": held,
                }),
            });
        }
        self.update_held(&key, &held.principal, |h| {
            let version = h.version;
            *h = Held::new(&held.principal);
            h.version = version;
        })
        .await?;
        Ok(self.evidence.append_all(drafts).await?)
    }

    /// Drift, found by a sweep: puts back everything Warden holds in force on the principal of
    /// `key` (its Deny and quarantine, rendered from its own record; keys it set `Inactive`; a
    /// login profile it deleted). Each piece still in force is left as it is (the connector skips
    /// it); each piece that is not is restored and gets a `tamper` record with what was found and
    /// what holds now. Returns the records written (none when nothing drifted).
    pub async fn put_back(&self, key: &str, found_by: &str) -> Result<Vec<Record>, FlowError> {
        let Some(held) = self.holdings.get(key).await? else {
            return Ok(Vec::new());
        };
        if !key.starts_with(&format!("{}:", self.account_id)) {
            return Ok(Vec::new());
        }
        let mut pieces = vec![held::Tampering::Deny(format!(
            "{found_by} found Warden's Deny no longer in force"
        ))];
        pieces.extend(
            held.keys_inactive
                .iter()
                .map(|k| held::Tampering::Key(k.clone())),
        );
        if held.login_profile_removed {
            pieces.push(held::Tampering::LoginProfile);
        }
        let now = self.now();
        let partition =
            policy_rules::arn::Arn::parse(&held.principal).map_or("aws", |a| a.partition);
        let place = Place {
            partition,
            account: &self.account_id,
            region: "",
        };
        let mut drafts = Vec::new();
        for piece in &pieces {
            for (i, step) in restore_steps(&held, piece).iter().enumerate() {
                let (connector, target) = self.connectors.for_step(step)?;
                let before = connector.snapshot(&target).await?;
                let applied = connector.apply(&target, step, &before).await?;
                if matches!(applied, Applied::Skipped { .. }) {
                    continue;
                }
                let verification = connector.verify(&target, step).await?;
                let target_arn = target_arn(&target, &place, &[held.principal.as_str()]);
                drafts.push(Draft {
                    id: deterministic_id(&[
                        "drift",
                        key,
                        &now.to_string(),
                        &piece.describe(),
                        &i.to_string(),
                    ]),
                    time: iso(now),
                    kind: Some(RecordKind::Tamper),
                    principal: Some(held.principal.clone()),
                    target: Some(target_arn.clone()),
                    actions: vec![step.call.clone()],
                    rule: None,
                    event_id: None,
                    body: json!({
                        "what": format!("drift: {}", piece.describe()),
                        "found_by": found_by,
                        "connector": target.connector,
                        "name": target.name,
                        "role": "restore",
                        "step": step,
                        "found": before,
                        "after": verification.after,
                        "applied": applied,
                        "held_before": held,
                    }),
                });
            }
        }
        if drafts.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self.evidence.append_all(drafts).await?)
    }

    /// The principals Warden holds something in force on.
    pub async fn held_principals(&self) -> Result<Vec<String>, FlowError> {
        Ok(self
            .holdings
            .list()
            .await?
            .into_iter()
            .filter(|(_, h)| !h.is_empty())
            .map(|(_, h)| h.principal)
            .collect())
    }
}

/// One change to a principal's record.
type HeldChange = Box<dyn Fn(&mut Held) + Send + Sync>;

/// The part of a saved plan that Warden's record takes.
#[derive(Deserialize)]
struct PlanHeld {
    target: String,
    policy_name: String,
    placement: Placement,
    denied: Vec<(String, String)>,
    revoke_sessions_before: Option<String>,
}

/// The steps that put back what Warden holds on `held`'s principal after `tampering`.
fn restore_steps(held: &Held, tampering: &Tampering) -> Vec<Step> {
    let (holder_key, put) = if held.is_role() {
        ("RoleName", "iam:PutRolePolicy")
    } else {
        ("UserName", "iam:PutUserPolicy")
    };
    let name = Value::String(held.name().to_owned());
    let step = |call: &str, params: Vec<(&str, Value)>, precondition: &str| Step {
        call: call.to_owned(),
        params: params.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        precondition: precondition.to_owned(),
        expect: None,
    };
    match tampering {
        Tampering::Deny(_) => {
            let mut steps = Vec::new();
            if let Some(doc) = held.document() {
                let doc = serde_json::to_value(&doc).unwrap_or(Value::Null);
                let (call, policy) = match held.placement {
                    Some(Placement::Managed) => (
                        "warden:PutManagedDeny",
                        held.policy_name.clone().unwrap_or_default(),
                    ),
                    _ => (put, DENY_POLICY_NAME.to_owned()),
                };
                steps.push(step(
                    call,
                    vec![
                        (holder_key, name.clone()),
                        ("PolicyName", Value::String(policy)),
                        ("PolicyDocument", doc),
                    ],
                    "none: the document is Warden's own record",
                ));
            }
            if held.quarantined {
                steps.push(step(
                    put,
                    vec![
                        (holder_key, name),
                        (
                            "PolicyName",
                            Value::String(QUARANTINE_POLICY_NAME.to_owned()),
                        ),
                        ("PolicyDocument", policy_rules::planner::deny_all()),
                    ],
                    "none: the quarantine is Warden's own record",
                ));
            }
            steps
        }
        Tampering::Key(id) => vec![step(
            "iam:UpdateAccessKey",
            vec![
                ("UserName", name),
                ("AccessKeyId", Value::String(id.clone())),
                ("Status", Value::String("Inactive".to_owned())),
            ],
            "the key still exists",
        )],
        Tampering::LoginProfile => vec![step(
            "iam:DeleteLoginProfile",
            vec![("UserName", name)],
            "the login profile exists again",
        )],
    }
}

/// The changed resource's ARN (the connector's display name for a connector whose resources have
/// no ARN rule yet).
fn target_arn(target: &Target, place: &Place<'_>, known: &[&str]) -> String {
    resource_arn(&target.connector, &target.name, place, known)
        .unwrap_or_else(|| target.to_string())
}

fn change_id(event_id: &str, i: usize) -> String {
    deterministic_id(&["change", event_id, &i.to_string()])
}
