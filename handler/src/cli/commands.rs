//! The `warden` subcommands that talk to AWS: `init`, `config --stack`, `worker`, `status`,
//! `evidence list|show|verify|export` on the configured store, `rollback`, `release`. Each checks
//! the AWS configuration first (`aws_setup`: one line when there is no region or no credentials),
//! reads Warden's configuration from the environment, builds the clients once, and writes data to
//! the given output (stdout in the binary); logs go to stderr.

use crate::assembly::{build_flow, evidence_store, guarded_account};
use crate::aws::{Clients, RateLimits, RetryPolicy};
use crate::cli::aws_setup::sdk_config;
use crate::enforce::config::Config;
use crate::enforce::flow::FlowError;
use crate::enforce::ports::{EvidenceStore, Holdings};
use crate::enforce::queue::{run_worker, Queues, SqsDeadLetters};
use crate::stores::dynamo::DynamoHoldings;
use anyhow::{Context, Result};
use policy_rules::evidence::Record;
use policy_rules::held::Held;
use std::io::Write;

/// The clients, once the AWS configuration is known to have a region and credentials.
async fn clients(limits: &RateLimits, retry: RetryPolicy) -> Result<Clients> {
    let conf = sdk_config().await?;
    Ok(Clients::from_conf(&conf, limits, retry))
}

/// Warden's configuration and the clients it asks for.
async fn configured() -> Result<(Config, Clients)> {
    let config = Config::from_env()?;
    let clients = clients(&config.rate_limits, config.retry).await?;
    Ok((config, clients))
}

/// The account as the configured Warden's model holds it (its state table: the last sweep and
/// every event since), as a snapshot for `warden access --from-model`; with how many entries, and
/// when the newest of them was last read or changed.
pub async fn model_snapshot() -> Result<(policy_rules::snapshot::Snapshot, usize, Option<i64>)> {
    use crate::enforce::ports::AccountModel;
    let (config, clients) = configured().await?;
    let account = guarded_account(&config, &clients).await?;
    let model = crate::stores::dynamo::DynamoModel::new(
        clients.clone(),
        config.state_table.clone(),
        account.clone(),
    );
    let (entries, _) = model.all().await.with_context(|| {
        format!(
            "reading the account model of {account} from `{}`",
            config.state_table
        )
    })?;
    let newest = entries
        .iter()
        .filter_map(|e| e.latest().map(|v| v.since))
        .max();
    let (snapshot, _) = crate::sweep::findings::input_of(&entries);
    Ok((snapshot, entries.len(), newest))
}

/// `warden init`: prints the configuration as `export` lines. The EventBridge rules route what the
/// configured rules (`WARDEN_RULES`, else the default pack) can match.
pub async fn init(prefix: &str, evidence_bucket: bool, out: &mut dyn Write) -> Result<()> {
    let config = Config::from_env()?;
    let clients = clients(&RateLimits::default(), RetryPolicy::default()).await?;
    let made =
        crate::stores::init::init_for(&clients, prefix, evidence_bucket, &config.rules).await?;
    // A shell comment, so that `eval "$(warden init)"` still works.
    writeln!(
        out,
        "# The intake and work queues admit only these principals; run Warden as one of them: {}",
        made.admitted.join(", ")
    )?;
    write!(out, "{}", made.to_exports())?;
    Ok(())
}

/// `warden worker`: long-polls the configured queues (the intake, forwarded in lanes, and the
/// work queue).
pub async fn worker(once: bool, out: &mut dyn Write) -> Result<()> {
    let (config, clients) = configured().await?;
    let account = guarded_account(&config, &clients).await?;
    let flow = build_flow(&config, &clients, account)?;
    let queues = Queues {
        work: Config::required(&config.queue_url, "WARDEN_QUEUE_URL")?,
        intake: config.intake_queue_url.as_deref(),
    };
    let dlq = SqsDeadLetters {
        clients: clients.clone(),
        url: Config::required(&config.dlq_url, "WARDEN_DLQ_URL")?.to_owned(),
    };
    tracing::info!(rules = %config.rules_source, queue = queues.work, intake = queues.intake.unwrap_or(""), once, "worker started");
    let work = run_worker(
        &flow,
        &clients,
        queues,
        &dlq,
        once,
        config.alert_window_seconds,
    );
    let stats = if once {
        work.await?
    } else {
        // Besides the queues, what the Lambda's minute schedule does: the watch over the pipeline
        // (heartbeat, blind alert, catch-up) and the alerts whose window has passed.
        tokio::select! {
            stats = work => stats?,
            never = ticks(&flow, &clients, &config) => match never {},
        }
    };
    writeln!(
        out,
        "forwarded {}, messages {}, changes {}, alerts {}, dead-lettered {}, left for retry {}",
        stats.forwarded,
        stats.messages,
        stats.changes,
        stats.alerts,
        stats.dead_lettered,
        stats.left_for_retry
    )?;
    Ok(())
}

/// The long-running worker's minute tick, forever: the watch over the pipeline, then the alerts
/// whose window has passed. Failures are logged; the next tick tries again.
async fn ticks(
    flow: &crate::enforce::flow::Flow,
    clients: &Clients,
    config: &Config,
) -> std::convert::Infallible {
    let history = crate::stores::event_history::CloudTrailHistory::new(clients.clone());
    let regions = crate::assembly::covered_regions(config, clients);
    let routes = match crate::assembly::routes(config) {
        Ok(r) => Some(r),
        Err(e) => {
            tracing::error!(error = %e, "no catch-up: the routes do not derive");
            None
        }
    };
    let queue = config
        .intake_queue_url
        .clone()
        .or_else(|| config.queue_url.clone());
    let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        every.tick().await;
        let watch = crate::assembly::WatchTick {
            flow,
            clients,
            history: &history,
            regions: &regions,
            catch_up_queue: queue.as_deref(),
            routes: routes.as_ref(),
        }
        .run(Some(
            tokio::time::Instant::now() + std::time::Duration::from_secs(50),
        ))
        .await;
        tracing::info!(watch = %watch, "tick");
        if let Err(e) = flow.flush_alerts(config.alert_window_seconds).await {
            tracing::warn!(error = %e, "sending alerts failed; the next tick retries");
        }
    }
}

/// Every record of the local file (which must exist), or of the configured store, and the store's
/// head.
pub async fn read_evidence(
    file: Option<&std::path::Path>,
) -> Result<(Vec<Record>, Option<(u64, String)>, String)> {
    match file {
        Some(f) => Ok((
            crate::stores::evidence_file::read_existing(f)?,
            None,
            f.display().to_string(),
        )),
        None => {
            let (config, clients) = configured().await?;
            let store = evidence_store(&config, &clients);
            let records = store.list().await?;
            let head = store.head().await?;
            Ok((records, head, format!("table `{}`", config.evidence_table)))
        }
    }
}

/// `warden rollback ID`.
pub async fn rollback(id: &str, force: bool, out: &mut dyn Write) -> Result<()> {
    let (config, clients) = configured().await?;
    let account = guarded_account(&config, &clients).await?;
    let flow = build_flow(&config, &clients, account)?;
    let (record, done) = match flow.rollback(id, force).await {
        Ok(done) => done,
        // Said, and not an error: what was asked for is already so.
        Err(e @ FlowError::AlreadyRolledBack { .. }) => {
            writeln!(out, "{e}")?;
            return Ok(());
        }
        Err(e) => return Err(anyhow::Error::new(e).context(format!("rollback of `{id}`"))),
    };
    writeln!(
        out,
        "rolled back `{id}`: restored {}{}; recorded as `{}` (seq {})",
        record.target.as_deref().unwrap_or("?"),
        if done.forced { " (forced)" } else { "" },
        record.id,
        record.seq
    )?;
    Ok(())
}

/// `warden release PRINCIPAL` / `warden release --all`.
pub async fn release(principal: Option<&str>, all: bool, out: &mut dyn Write) -> Result<()> {
    let (config, clients) = configured().await?;
    let account = guarded_account(&config, &clients).await?;
    let flow = build_flow(&config, &clients, account)?;
    let principals = match (principal, all) {
        (Some(p), _) => vec![p.to_owned()],
        (None, _) => flow.held_principals().await?,
    };
    if principals.is_empty() {
        writeln!(out, "Warden holds nothing in force")?;
    }
    for p in principals {
        let records = flow
            .release(&p)
            .await
            .with_context(|| format!("release of `{p}`"))?;
        let ids: Vec<String> = records.iter().map(|r| format!("`{}`", r.id)).collect();
        writeln!(
            out,
            "released `{p}`: {} change(s) recorded{}{}",
            records.len(),
            if ids.is_empty() { "" } else { " as " },
            ids.join(", ")
        )?;
    }
    Ok(())
}

/// `warden evidence show ID`: the record from the local file (which must exist) or the store.
pub async fn evidence_record(file: Option<&std::path::Path>, id: &str) -> Result<Record> {
    let (found, name) = match file {
        Some(f) => (
            crate::stores::evidence_file::read_existing(f)?
                .into_iter()
                .find(|r| r.id == id),
            format!("`{}`", f.display()),
        ),
        None => {
            let (config, clients) = configured().await?;
            let store = evidence_store(&config, &clients);
            (
                store.get(id).await?,
                format!("table `{}`", config.evidence_table),
            )
        }
    };
    found.ok_or_else(|| {
        anyhow::anyhow!(
            "no evidence record `{id}` in {name} (`warden evidence list` shows the ids)"
        )
    })
}

/// `warden status`: Warden's record of what it holds in force, from the state table.
pub async fn holdings() -> Result<Vec<Held>> {
    let (config, clients) = configured().await?;
    let store = DynamoHoldings::new(clients, config.state_table.clone());
    let held = store.list().await.with_context(|| {
        format!(
            "while reading Warden's record in table `{}`",
            config.state_table
        )
    })?;
    Ok(held.into_iter().map(|(_, h)| h).collect())
}

/// `warden config --stack NAME`: the stack's Warden outputs as `export` lines.
pub async fn stack_config(stack: &str, out: &mut dyn Write) -> Result<()> {
    let conf = sdk_config().await?;
    let region = conf.region().map(ToString::to_string).unwrap_or_default();
    let clients = Clients::from_conf(&conf, &RateLimits::default(), RetryPolicy::default());
    let vars = crate::cli::stack_config::stack_variables(&clients, stack, &region).await?;
    write!(out, "{}", crate::cli::stack_config::to_exports(&vars))?;
    Ok(())
}

/// `warden sweep` without `--account`: a sweep of the configured account through the same reads,
/// model, findings, put-back of drift and summary alert as the Lambda's (continuing a sweep the
/// Lambda has running, if there is one). Returns the findings, the sweep's checkpoint and the
/// account.
pub async fn sweep_live(
    options: &policy_rules::sweep::SweepOptions,
) -> Result<(
    policy_rules::sweep::SweepReport,
    crate::sweep::run::Checkpoint,
    String,
)> {
    let (config, clients) = configured().await?;
    let account = guarded_account(&config, &clients).await?;
    let flow = build_flow(&config, &clients, account)?;
    let checkpoints =
        crate::stores::dynamo::DynamoCheckpoints::new(clients.clone(), config.state_table.clone());
    let sweeper = crate::sweep::run::Sweeper {
        clients: &clients,
        account: &flow.account_id,
        connectors: &flow.connectors,
        model: flow.model.as_ref(),
        checkpoints: &checkpoints,
        clock: flow.clock.as_ref(),
        flow: None,
        max_changes: options.max_changes,
        mode: options.mode,
    };
    sweeper.start().await?;
    let read = loop {
        let Some(c) = sweeper.advance(&|| true).await? else {
            anyhow::bail!("the sweep's checkpoint disappeared while it ran");
        };
        if c.is_done() {
            break c;
        }
    };
    let unread: Vec<String> = read.buckets_unread.iter().map(|(b, _)| b.clone()).collect();
    let found =
        crate::sweep::findings::find(&flow, &clients, &read.id, read.started_at, &unread, options)
            .await?;
    let mut checkpoint = read;
    checkpoint.account_requests += found.account_requests;
    checkpoint.store_requests += found.store_requests;
    checkpoint.findings = crate::sweep::findings::counts(&found.report);
    checkpoint.put_back = found.put_back.iter().map(|(p, _)| p.clone()).collect();
    checkpoint.made = found.made;
    Ok((found.report, checkpoint, flow.account_id.clone()))
}

/// `warden access s3://BUCKET/PREFIX`: every log file under each location, downloaded into its own
/// folder of `dir` (`dir/N/KEY`). Returns (files, bytes, requests).
pub async fn download_trail_logs(
    locations: &[(String, String)],
    dir: &std::path::Path,
) -> Result<(usize, u64, usize)> {
    let clients = clients(&RateLimits::default(), RetryPolicy::default()).await?;
    let (mut files, mut bytes, mut requests) = (0, 0, 0);
    for (i, (bucket, prefix)) in locations.iter().enumerate() {
        let got = crate::connectors::trail_logs::download(
            &clients,
            bucket,
            prefix,
            &dir.join(i.to_string()),
        )
        .await
        .with_context(|| {
            format!("cannot read the trail's log files at `s3://{bucket}/{prefix}`")
        })?;
        files += got.files.len();
        bytes += got.bytes;
        requests += got.requests;
    }
    Ok((files, bytes, requests))
}

/// `warden access --plan --apply PLAN`: the chosen plan of each report, applied on the configured
/// account through the flow (`enforce::apply_plan`); each report's `applied` says what happened.
/// Returns whether every plan asked for was applied or found already in force.
pub async fn apply_access_plans(
    reports: &mut [policy_rules::access::PrincipalReport],
    replace_inline: bool,
) -> Result<bool> {
    use crate::enforce::apply_plan::PlanApplied;
    use serde_json::json;
    let (config, clients) = configured().await?;
    let account = guarded_account(&config, &clients).await?;
    let flow = build_flow(&config, &clients, account)?;
    let strategy = if replace_inline {
        "replace-inline"
    } else {
        "deny-unused"
    };
    let mut all = true;
    for r in reports.iter_mut() {
        let plans = r.plans.as_ref();
        let done = match (replace_inline, plans) {
            (false, Some(p)) => match &p.deny_unused {
                Some(d) => {
                    flow.apply_unused_deny(&r.principal, &d.denied, d.window_days)
                        .await
                }
                None => Ok(PlanApplied::Unchanged("nothing unused to deny".to_owned())),
            },
            (true, Some(p)) => match &p.replace_inline {
                Some(rep) => {
                    flow.apply_inline_replacement(&r.principal, &rep.steps)
                        .await
                }
                None => Ok(PlanApplied::Unchanged(
                    "the principal has no inline policies of its own".to_owned(),
                )),
            },
            (_, None) => Ok(PlanApplied::Unchanged(
                "no plan: the principal is not in the account file or model".to_owned(),
            )),
        };
        r.applied = Some(match done {
            Ok(PlanApplied::Changed { record, holds }) => {
                all &= holds;
                json!({"strategy": strategy, "result": "changed", "record": record.id, "holds": holds, "what": record.body.get("what")})
            }
            Ok(PlanApplied::Unchanged(why)) => {
                json!({"strategy": strategy, "result": "unchanged", "why": why})
            }
            Err(e) => {
                all = false;
                json!({"strategy": strategy, "result": "failed", "why": e.to_string()})
            }
        });
    }
    Ok(all)
}
