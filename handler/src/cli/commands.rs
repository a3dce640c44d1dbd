//! The `warden` subcommands that talk to AWS: `init`, `worker`, `evidence list|verify` on the
//! configured store, `rollback`. Each reads the configuration from the environment, builds the
//! clients once, and writes data to the given output (stdout in the binary); logs go to stderr.

use crate::assembly::{build_flow, evidence_store, guarded_account};
use crate::aws::{Clients, RateLimits, RetryPolicy};
use crate::enforce::config::Config;
use crate::enforce::ports::EvidenceStore;
use crate::enforce::queue::{run_worker, Queues, SqsDeadLetters};
use anyhow::{Context, Result};
use policy_rules::evidence::Record;
use std::io::Write;

/// `warden init`: prints the configuration as `export` lines. The EventBridge rules route what the
/// configured rules (`WARDEN_RULES`, else the default pack) can match.
pub async fn init(prefix: &str, evidence_bucket: bool, out: &mut dyn Write) -> Result<()> {
    let config = Config::from_env()?;
    let clients = Clients::from_env(&RateLimits::default(), RetryPolicy::default()).await;
    let made =
        crate::stores::init::init_for(&clients, prefix, evidence_bucket, &config.rules).await?;
    write!(out, "{}", made.to_exports())?;
    Ok(())
}

/// `warden worker`: long-polls the configured queues (the intake, forwarded in lanes, and the
/// work queue).
pub async fn worker(once: bool, out: &mut dyn Write) -> Result<()> {
    let config = Config::from_env()?;
    let clients = Clients::from_env(&config.rate_limits, config.retry).await;
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
    let stats = run_worker(
        &flow,
        &clients,
        queues,
        &dlq,
        once,
        config.alert_window_seconds,
    )
    .await?;
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
            let config = Config::from_env()?;
            let clients = Clients::from_env(&config.rate_limits, config.retry).await;
            let store = evidence_store(&config, &clients);
            let records = store.list().await?;
            let head = store.head().await?;
            Ok((records, head, format!("table `{}`", config.evidence_table)))
        }
    }
}

/// `warden evidence list`: one record a line.
pub fn list(records: &[Record], json: bool, out: &mut dyn Write) -> Result<()> {
    for r in records {
        let kind = serde_json::to_value(r.kind)?;
        if json {
            let line = serde_json::json!({
                "id": r.id, "seq": r.seq, "kind": kind, "principal": r.principal,
                "target": r.target, "actions": r.actions, "rule": r.rule, "time": r.time,
                "event_id": r.event_id,
            });
            writeln!(out, "{line}")?;
        } else {
            writeln!(
                out,
                "{:>5}  {}  {:<8}  {}  {}  {}  {}",
                r.seq,
                r.id,
                kind.as_str().unwrap_or(""),
                r.time,
                r.principal.as_deref().unwrap_or("-"),
                r.target.as_deref().unwrap_or("-"),
                r.actions.join(",")
            )?;
        }
    }
    Ok(())
}

/// `warden rollback ID`.
pub async fn rollback(id: &str, force: bool, out: &mut dyn Write) -> Result<()> {
    let config = Config::from_env()?;
    let clients = Clients::from_env(&config.rate_limits, config.retry).await;
    let account = guarded_account(&config, &clients).await?;
    let flow = build_flow(&config, &clients, account)?;
    let (record, done) = flow
        .rollback(id, force)
        .await
        .with_context(|| format!("rollback of `{id}`"))?;
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
    let config = Config::from_env()?;
    let clients = Clients::from_env(&config.rate_limits, config.retry).await;
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
