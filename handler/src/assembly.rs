//! Builds the enforcement flow once per process (a Lambda cold start, a `warden worker` run) from the
//! configuration: the SDK clients, the live IAM reader, the connectors, the DynamoDB stores (with the
//! optional S3 Object Lock mirror), the SNS notifier and the pipeline's watch (checkpoint and
//! heartbeat); and the routes a catch-up sends on. Also the logging set-up: JSON lines for the
//! Lambda (and `WARDEN_LOG_FORMAT=json`), readable lines otherwise (coloured only on a terminal),
//! to stderr or a file.

use crate::aws::{AwsError, Clients};
use crate::connectors::account::{IamAccount, PrincipalKind};
use crate::connectors::Connectors;
use crate::enforce::catch_up::Routes;
use crate::enforce::config::Config;
use crate::enforce::flow::{system_clock, AccountReader, Faults, Flow};
use crate::enforce::history::Regions;
use crate::enforce::watch::Watch;
use crate::stores::dynamo::{
    DynamoEvidence, DynamoHoldings, DynamoLedger, DynamoModel, DynamoOutbox, EvidenceMirror,
};
use crate::stores::init::rule_patterns;
use crate::stores::sns::SnsNotifier;
use crate::stores::watch::DynamoWatch;
use async_trait::async_trait;
use policy_rules::catalog::Catalog;
use policy_rules::snapshot::Snapshot;
use std::sync::Arc;

#[async_trait]
impl AccountReader for IamAccount {
    async fn groups_of_user(&self, user_name: &str) -> Result<Vec<String>, AwsError> {
        IamAccount::groups_of_user(self, user_name).await
    }

    async fn principal(
        &self,
        is_role: bool,
        name: &str,
        with_managed_documents: bool,
    ) -> Result<Option<Snapshot>, AwsError> {
        let kind = if is_role {
            PrincipalKind::Role
        } else {
            PrincipalKind::User
        };
        IamAccount::principal(self, kind, name, with_managed_documents).await
    }

    async fn policy_versions(&self, arn: &str) -> Result<Vec<(String, bool)>, AwsError> {
        crate::connectors::policy_version::PolicyVersion::new(self.clients())
            .versions(arn)
            .await
    }
}

/// The evidence store the configuration names (the DynamoDB table, mirrored when a bucket is set).
pub fn evidence_store(config: &Config, clients: &Clients) -> DynamoEvidence {
    let store = DynamoEvidence::new(clients.clone(), config.evidence_table.clone());
    match &config.evidence_bucket {
        Some(bucket) => store.with_mirror(EvidenceMirror::new(bucket.clone())),
        None => store,
    }
}

/// The account Warden guards: `WARDEN_ACCOUNT_ID`, else the account of its own credentials (STS
/// `GetCallerIdentity`, which needs no permission), read once per process.
pub async fn guarded_account(config: &Config, clients: &Clients) -> Result<String, anyhow::Error> {
    if let Some(id) = &config.account_id {
        return Ok(id.clone());
    }
    let sts = clients.sts.clone();
    let called = clients
        .caller
        .call("sts", "GetCallerIdentity", || {
            sts.get_caller_identity().send()
        })
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "while finding the account Warden guards (set `WARDEN_ACCOUNT_ID` to skip): {e}"
            )
        })?;
    called.value.account().map(str::to_owned).ok_or_else(|| {
        anyhow::anyhow!("STS `GetCallerIdentity` returned no account; set `WARDEN_ACCOUNT_ID`")
    })
}

/// The flow, wired to AWS, guarding `account_id`.
pub fn build_flow(
    config: &Config,
    clients: &Clients,
    account_id: String,
) -> Result<Flow, anyhow::Error> {
    let topic = Config::required(&config.alert_topic_arn, "WARDEN_ALERT_TOPIC_ARN")?;
    Ok(Flow {
        account_id: account_id.clone(),
        catalog: Catalog::builtin()?,
        rules: config.rules.clone(),
        connectors: Connectors::standard(clients),
        account: Arc::new(IamAccount::new(clients.clone())),
        ledger: Arc::new(DynamoLedger::new(
            clients.clone(),
            config.state_table.clone(),
        )),
        evidence: Arc::new(evidence_store(config, clients)),
        outbox: Arc::new(DynamoOutbox::new(
            clients.clone(),
            config.state_table.clone(),
        )),
        notifier: Arc::new(SnsNotifier::new(clients.clone(), topic)),
        holdings: Arc::new(DynamoHoldings::new(
            clients.clone(),
            config.state_table.clone(),
        )),
        model: Arc::new(DynamoModel::new(
            clients.clone(),
            config.state_table.clone(),
            account_id.clone(),
        )),
        model_trust: policy_rules::model::Trust::default(),
        clock: system_clock(),
        owner: format!(
            "{}-{}",
            std::env::var("AWS_LAMBDA_LOG_STREAM_NAME").unwrap_or_else(|_| "worker".to_owned()),
            std::process::id()
        ),
        lease_seconds: config.lease_seconds,
        max_receives: config.max_receives,
        faults: Faults::default(),
        caller: clients.caller.clone(),
        watch: Some(Watch {
            store: Arc::new(DynamoWatch::new(
                clients.clone(),
                config.state_table.clone(),
            )),
            canary_arn: config.canary_policy_arn.clone(),
        }),
        own_rules: own_rules(config, clients, &account_id)?,
        own_pipeline: own_pipeline(config),
    })
}

/// The regions whose event history the catch-up reads: the main one ([`Clients::main_region`])
/// and `WARDEN_REGIONS`.
pub fn covered_regions(config: &Config, clients: &Clients) -> Regions {
    Regions::new(&clients.main_region(), &config.regions)
}

/// What the scheduled watch over the pipeline needs besides the flow: the event history (of every
/// region in `regions`) and the routed events for its catch-up, and the queue it sends to (the
/// intake, else the work queue).
pub struct WatchTick<'a> {
    pub flow: &'a Flow,
    pub clients: &'a Clients,
    pub history: &'a dyn crate::enforce::history::EventHistory,
    pub regions: &'a Regions,
    pub catch_up_queue: Option<&'a str>,
    pub routes: Option<&'a Routes>,
}

impl WatchTick<'_> {
    /// One tick of the watch (the heartbeat, the blind alert, the catch-up), stopping the
    /// catch-up at `deadline`. A failure is logged and said in the answer, never raised: the
    /// alerts and the work go on.
    pub async fn run(&self, deadline: Option<tokio::time::Instant>) -> serde_json::Value {
        use crate::enforce::catch_up::CatchUp;
        use crate::enforce::heartbeat::Heartbeat;
        use crate::enforce::watch::WatchLimits;
        let Some(Watch { store, canary_arn }) = &self.flow.watch else {
            return serde_json::Value::Null;
        };
        let catch_up = match (self.catch_up_queue, self.routes) {
            (Some(queue), Some(routes)) => Some(CatchUp {
                history: self.history,
                clients: self.clients,
                intake_url: queue,
                group_id: crate::stores::init::MESSAGE_GROUP_ID,
                routes,
                regions: self.regions,
                watch: Some(store.as_ref()),
                now: (self.flow.clock)(),
                deadline,
            }),
            _ => None,
        };
        let heartbeat = Heartbeat {
            clients: self.clients,
            store: store.as_ref(),
            outbox: self.flow.outbox.as_ref(),
            canary_arn: canary_arn.as_deref(),
            account: &self.flow.account_id,
            limits: WatchLimits::default(),
            catch_up,
        };
        match heartbeat.tick((self.flow.clock)()).await {
            Ok(r) => serde_json::json!({
                "beat_sent": r.beat_sent,
                "blind": r.blind,
                "caught_up": r.catch_up.as_ref().map(|c| serde_json::json!({"sent": c.sent(), "requests": c.requests, "complete": c.complete})),
            }),
            Err(e) => {
                tracing::error!(error = %e, "the watch over the pipeline failed; the next tick retries");
                serde_json::json!({"error": e.to_string()})
            }
        }
    }
}

/// The EventBridge rules Warden expects under `WARDEN_RULE_PREFIX`: the patterns the rules and
/// the catalog derive (as `warden init` and the template create them), each sending to the intake
/// queue (or the work queue, without an intake lane).
fn own_rules(
    config: &Config,
    clients: &Clients,
    account_id: &str,
) -> Result<Option<policy_rules::sweep::own_rules::OwnRules>, anyhow::Error> {
    let Some(prefix) = config.rule_prefix.clone() else {
        return Ok(None);
    };
    let Some(url) = config
        .intake_queue_url
        .as_ref()
        .or(config.queue_url.as_ref())
    else {
        return Ok(None);
    };
    let name = url.rsplit('/').next().unwrap_or_default();
    let region = clients
        .sqs
        .config()
        .region()
        .map_or_else(|| "us-east-1".to_owned(), ToString::to_string);
    let partition = if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    };
    let expected = rule_patterns(&prefix, &config.rules, &Catalog::builtin()?)?;
    Ok(Some(policy_rules::sweep::own_rules::OwnRules {
        prefix,
        expected,
        queue_arn: format!("arn:{partition}:sqs:{region}:{account_id}:{name}"),
    }))
}

/// Warden's own queues and function as configured.
fn own_pipeline(config: &Config) -> crate::enforce::flow::OwnPipelineConfig {
    use policy_rules::sweep::own_pipeline::QueueRole;
    let queues = [
        (QueueRole::Intake, &config.intake_queue_url),
        (QueueRole::Work, &config.queue_url),
        (QueueRole::DeadLetter, &config.dlq_url),
    ]
    .into_iter()
    .filter_map(|(role, url)| url.clone().map(|u| (role, u)))
    .collect();
    crate::enforce::flow::OwnPipelineConfig {
        queues,
        function: config.function_name.clone(),
        function_consumes_queues: config.function_consumes_queues,
    }
}

/// The event names the EventBridge rules deliver for the configured rules, per source: what a
/// catch-up sends on (the same patterns `warden init` creates and the template holds).
pub fn routes(config: &Config) -> Result<Routes, anyhow::Error> {
    let catalog = Catalog::builtin()?;
    Ok(Routes::from_patterns(&rule_patterns(
        "warden",
        &config.rules,
        &catalog,
    )?))
}

/// Logs to stderr: JSON lines when `json` (one object per event span's log line, with its fields),
/// readable lines otherwise. `RUST_LOG` filters (default `info`).
pub fn init_logging(json: bool) {
    init_logging_with(&LogSetup {
        json,
        default_filter: "info",
        file: None,
    });
}

/// Where and how the logs go.
#[derive(Debug)]
pub struct LogSetup {
    /// JSON lines (else readable lines).
    pub json: bool,
    /// The filter when `RUST_LOG` is unset.
    pub default_filter: &'static str,
    /// A file to append the lines to, in place of stderr.
    pub file: Option<std::fs::File>,
}

/// Logs as `setup` says. Readable lines carry colour codes only when they go to a terminal and
/// `NO_COLOR` is unset (<https://no-color.org>): a file, a pipe or a CI log gets plain text.
pub fn init_logging_with(setup: &LogSetup) {
    use std::io::IsTerminal;
    use tracing_subscriber::fmt::writer::BoxMakeWriter;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    // `RUST_LOG` as a list of `target=level` (or a bare level), as `Targets` reads it: the
    // `EnvFilter` syntax's span and field directives are left out, and with them the regex engine
    // it links (about a tenth of the Lambda package). A value that does not read is said once,
    // and the default applies.
    let default = || {
        setup
            .default_filter
            .parse::<tracing_subscriber::filter::Targets>()
            .unwrap_or_default()
    };
    let mut unread = None;
    let filter = match std::env::var("RUST_LOG") {
        Ok(v) if !v.trim().is_empty() => match v.parse::<tracing_subscriber::filter::Targets>() {
            Ok(t) => t,
            Err(e) => {
                unread = Some(format!(
                    "RUST_LOG `{v}` does not read ({e}); logging at `{}`",
                    setup.default_filter
                ));
                default()
            }
        },
        _ => default(),
    };
    let (writer, terminal) = match setup.file.as_ref().and_then(|f| f.try_clone().ok()) {
        Some(f) => (BoxMakeWriter::new(std::sync::Mutex::new(f)), false),
        None => (
            BoxMakeWriter::new(std::io::stderr),
            std::io::stderr().is_terminal(),
        ),
    };
    let colour = terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(colour);
    let registry = tracing_subscriber::registry().with(filter);
    let _ = if setup.json {
        registry
            .with(fmt.json().with_current_span(true).with_span_list(false))
            .try_init()
    } else {
        registry.with(fmt.compact()).try_init()
    };
    if let Some(why) = unread {
        tracing::warn!("{why}");
    }
}
