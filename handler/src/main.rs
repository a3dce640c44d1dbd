//! The `warden` command line: offline replay of CloudTrail logs through the rules, rule checks and
//! plans; and, on an account, `init`, `worker`, `evidence`, `rollback`, and the local `demo`.
//! The binary is the one place that prints: data to stdout, the summary (with `--format json`),
//! progress, warnings and errors to stderr. Data goes through `cli::output`, so a closed stdout
//! (`warden … | head -1`) ends any command at once with exit 0 and no message.
#![allow(clippy::print_stderr)]

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use policy_rules::catalog::Catalog;
use policy_rules::rules::{RuleSet, DEFAULT_RULES};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use warden_handler::cli::account_scope::{AccountFile, GroupsFile, ScopedMemberships};
use warden_handler::cli::commands;
use warden_handler::cli::output::{is_closed_output, DataOutput, SharedOutput};
use warden_handler::cli::plan_report::{plan_file, Note, PlanContext};
use warden_handler::cli::replay::{replay, ReplayContext, Sink};
use warden_handler::cli::report::{render_summary, JsonLinesSink, NullSink};

/// The line every command's help ends with.
macro_rules! closed_output {
    () => {
        "A closed output (`warden … | head`) ends every command at once, with 0 and no message."
    };
}

const CLOSED_OUTPUT: &str = closed_output!();

const EXIT_CODES: &str = concat!(
    "Exit codes:
  0  done; every input record was read
  1  done, but some input (a file, line or record) could not be read: see the errors
  2  usage error, or the rules, groups or input paths could not be used

",
    closed_output!()
);

const PLAN_EXIT_CODES: &str = concat!(
    "Exit codes:
  0  every event was planned
  1  some record of the event file could not be read: see the errors (the others were planned)
  2  usage error, or the rules, groups, account or event file could not be used

",
    closed_output!()
);

const VERIFY_EXIT_CODES: &str = concat!(
    "Exit codes:
  0  the trail is intact (an existing empty file is intact: it says `empty, no records`)
  1  the trail is broken: the first bad record is named
  2  the trail cannot be read (a missing or unreadable file, a line that is not a record), or a
     usage error

",
    closed_output!()
);

const LIST_EXIT_CODES: &str = concat!(
    "Exit codes:
  0  every record was listed (none, for an existing empty file)
  2  the trail cannot be read (a missing or unreadable file, a line that is not a record), or a
     usage error

",
    closed_output!()
);

/// Warden: detect-and-revoke guard for AWS access.
#[derive(Parser)]
#[command(name = "warden", version, after_help = CLOSED_OUTPUT)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Format {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Replay CloudTrail logs through the rules and show what Warden would have done.
    ///
    /// PATH may be a CloudTrail log file ({"Records":[…]}, plain or .gz), a JSON Lines file (one
    /// record or EventBridge envelope per line, plain or .gz), a single record or envelope, or a
    /// directory of these (read recursively).
    #[command(after_help = EXIT_CODES)]
    Replay {
        /// Rule file (TOML); the default rule pack when absent.
        #[arg(long)]
        rules: Option<PathBuf>,
        /// Replace the groups of the `admins` allow-set (repeatable).
        #[arg(long = "allow-group", value_name = "NAME")]
        allow_groups: Vec<String>,
        /// Group memberships before the replayed events: a JSON map from user name or ARN to group
        /// names, or the output of `aws iam get-account-authorization-details`. Entries of another
        /// account (by their ARNs) than an event's do not apply to it.
        #[arg(long)]
        groups: Option<PathBuf>,
        /// Threads to spread files over (default: all cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// `text`: a summary for people; `json`: one JSON object per event (JSON Lines).
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Never show a progress bar.
        #[arg(long)]
        no_progress: bool,
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Show what Warden would do about one event: the caller, action(s), resource(s), verdict,
    /// reasons, and the exact policy document it would write (or why a person must act).
    #[command(after_help = PLAN_EXIT_CODES)]
    Plan {
        /// Rule file (TOML); the default rule pack when absent.
        #[arg(long)]
        rules: Option<PathBuf>,
        /// Replace the groups of the `admins` allow-set (repeatable).
        #[arg(long = "allow-group", value_name = "NAME")]
        allow_groups: Vec<String>,
        /// The event(s), read as `replay` reads a file: a CloudTrail record, an EventBridge
        /// envelope, a log file, or JSON Lines of these, plain or .gz (every record is planned).
        #[arg(long)]
        event: PathBuf,
        /// The account as `aws iam get-account-authorization-details` prints it: current policies,
        /// groups (memberships before the event), paths. Without it the plan uses what the event
        /// tells. Not used for an event of another account (with a warning).
        #[arg(long)]
        account: Option<PathBuf>,
        /// Group memberships before the event, as for `replay` (asked before the account file's);
        /// entries of another account than the event's do not apply (with a warning).
        #[arg(long)]
        groups: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Create, idempotently, what the CloudFormation stack creates (intake, work and dead-letter
    /// queues, alert topic, tables, EventBridge rules) in the configured account, and print the
    /// configuration as `export NAME=value` lines.
    Init {
        /// Prefix of every resource name.
        #[arg(long, default_value = "warden")]
        prefix: String,
        /// Also create an S3 bucket with Object Lock mirroring the evidence.
        #[arg(long)]
        evidence_bucket: bool,
    },
    /// Poll the queues and enforce: the Lambda's forwarder (intake to work queue, in lanes) and
    /// flow, run here. Configuration from WARDEN_*
    /// variables (see the README) and the standard AWS ones (AWS_ENDPOINT_URL, …).
    Worker {
        /// Process what is on the queues, send pending alerts, and exit.
        #[arg(long)]
        once: bool,
    },
    /// Restore the before-state of a change Warden made (an evidence record id of kind `change`),
    /// through its connector; refused when the live state changed since, unless --force.
    Rollback {
        id: String,
        #[arg(long)]
        force: bool,
    },
    /// Lift what Warden holds in force on a principal (its Deny, its quarantine) and clear
    /// Warden's record of it, each change recorded as evidence; keys Warden deactivated stay
    /// Inactive. The documented way to lift a Deny: lifting it by hand is tampering, put back.
    Release {
        /// The principal's full ARN (`arn:aws:iam::123456789012:user/ops/bob`).
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        principal: Option<String>,
        /// Every principal Warden holds something in force on.
        #[arg(long)]
        all: bool,
    },
    /// Run the whole thing on the local AWS (installed and started as needed), step by step.
    Demo,
    /// Check or list the evidence trail (a local file, or the configured DynamoDB store).
    Evidence {
        #[command(subcommand)]
        command: EvidenceCommand,
    },
    /// Check or print rule files.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
}

#[derive(Subcommand)]
enum EvidenceCommand {
    /// Verify the hash chain: names the first modified, deleted, inserted or moved record. Exit 0
    /// when intact, 1 when not, 2 when the trail cannot be read.
    #[command(after_help = VERIFY_EXIT_CODES)]
    Verify {
        /// A local JSON Lines trail, which must exist; the configured store (WARDEN_EVIDENCE_TABLE)
        /// when absent, whose head is checked too.
        file: Option<PathBuf>,
        /// The newest record's `SEQ:HASH` as kept outside the file, to catch truncation.
        #[arg(long, value_name = "SEQ:HASH")]
        head: Option<String>,
    },
    /// List the records, one a line (`--format json`: id, seq, kind, principal, target, actions,
    /// rule, time, event_id).
    #[command(after_help = LIST_EXIT_CODES)]
    List {
        /// A local JSON Lines trail, which must exist; the configured store when absent.
        #[arg(long)]
        file: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Validate a rule file: errors and warnings name the file, line and field, on stderr.
    /// Exit 0 when valid (warnings only, if any), 1 when it has errors, 2 when it cannot be read.
    Check { file: PathBuf },
    /// Print the default rule pack (a starting point for your own).
    Default,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    warden_handler::assembly::init_logging(
        std::env::var("WARDEN_LOG_FORMAT").is_ok_and(|f| f == "json"),
    );
    let mut out = DataOutput::new(std::io::stdout());
    match run(cli, &mut out) {
        Ok(code) => code,
        // The reader has all it wanted (`| head`): nothing is wrong.
        Err(e) if is_closed_output(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", error_chain(&e));
            ExitCode::from(2)
        }
    }
}

/// `e` and its causes, joined by `: ` as `{:#}` does, without a cause the message before already
/// ends with (an error that both shows its source and returns it would otherwise say it twice).
fn error_chain(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = cause.to_string();
        if text.is_empty() {
            text = part;
        } else if !text.ends_with(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
    }
    text
}

fn block_on<T>(f: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(f)
}

fn load_rules(path: Option<&PathBuf>, allow_groups: Vec<String>) -> Result<RuleSet> {
    let mut rules = match path {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read rules `{}`", p.display()))?;
            let rules = RuleSet::parse(&p.display().to_string(), &text)
                .map_err(|e| anyhow::anyhow!("invalid rules:\n{e}"))?;
            for w in &rules.warnings {
                eprintln!("warning: {w}");
            }
            rules
        }
        None => RuleSet::default_pack()
            .map_err(|e| anyhow::anyhow!("the default rules are invalid (a bug):\n{e}"))?,
    };
    if !allow_groups.is_empty() {
        rules
            .replace_admin_groups(allow_groups)
            .map_err(anyhow::Error::msg)?;
    }
    Ok(rules)
}

/// The `--groups` file, its entries by account.
fn load_groups(path: &Path) -> Result<GroupsFile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read groups `{}`", path.display()))?;
    let memberships =
        ScopedMemberships::parse(&text).with_context(|| format!("groups `{}`", path.display()))?;
    Ok(GroupsFile {
        name: path.display().to_string(),
        memberships,
    })
}

/// The `--account` file: its policies, paths and groups, and the accounts it describes.
fn load_account(path: &Path) -> Result<AccountFile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read account `{}`", path.display()))?;
    let snapshot = policy_rules::snapshot::Snapshot::parse(&text)
        .with_context(|| format!("account `{}`", path.display()))?;
    let memberships =
        ScopedMemberships::parse(&text).with_context(|| format!("account `{}`", path.display()))?;
    Ok(AccountFile::new(
        path.display().to_string(),
        snapshot,
        memberships,
    ))
}

fn run(cli: Cli, out: &mut DataOutput<std::io::Stdout>) -> Result<ExitCode> {
    match cli.command {
        Command::Plan {
            rules,
            allow_groups,
            event,
            account,
            groups,
            format,
        } => {
            let rules = load_rules(rules.as_ref(), allow_groups)?;
            let groups = groups.as_deref().map(load_groups).transpose()?;
            let account = account.as_deref().map(load_account).transpose()?;
            let catalog =
                Catalog::builtin().context("the built-in action catalog does not load (a bug)")?;
            let ctx = PlanContext {
                catalog: &catalog,
                rules: &rules,
                groups: groups.as_ref(),
                account: account.as_ref(),
            };
            let mut problems = 0;
            plan_file(
                &event,
                &ctx,
                format == Format::Json,
                out,
                |note| match note {
                    Note::Error(e) => {
                        problems += 1;
                        eprintln!("{e}");
                    }
                    Note::Warning(w) => eprintln!("warning: {w}"),
                },
            )?;
            out.flush()?;
            Ok(if problems > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Init {
            prefix,
            evidence_bucket,
        } => {
            block_on(commands::init(&prefix, evidence_bucket, out))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Worker { once } => {
            block_on(commands::worker(once, out))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Rollback { id, force } => {
            block_on(commands::rollback(&id, force, out))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Release { principal, all } => {
            block_on(commands::release(principal.as_deref(), all, out))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo => {
            block_on(warden_handler::local::demo::run(out))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Evidence {
            command: EvidenceCommand::List { file, format },
        } => {
            let (records, _, name) = block_on(commands::read_evidence(file.as_deref()))?;
            if records.is_empty() {
                eprintln!("{name}: empty, no records");
            }
            commands::list(&records, format == Format::Json, out)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Evidence {
            command: EvidenceCommand::Verify { file: None, head },
        } => {
            if head.is_some() {
                anyhow::bail!("--head is for a local file; the store keeps its own head");
            }
            let (records, head, name) = block_on(commands::read_evidence(None))?;
            let ok = warden_handler::stores::verify::verify_chain(
                &records,
                head.as_ref().map(|(s, h)| (*s, h.as_str())),
                &name,
                out,
            )?;
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Evidence {
            command:
                EvidenceCommand::Verify {
                    file: Some(file),
                    head,
                },
        } => {
            let head = match head.as_deref().map(|h| h.split_once(':')) {
                None => None,
                Some(Some((seq, hash))) => Some((
                    seq.parse::<u64>()
                        .with_context(|| format!("--head: `{seq}` is not a sequence number"))?,
                    hash.to_owned(),
                )),
                Some(None) => anyhow::bail!("--head takes SEQ:HASH"),
            };
            let records = warden_handler::stores::evidence_file::read_existing(&file)?;
            match policy_rules::evidence::verify(
                &records,
                head.as_ref().map(|(s, h)| (*s, h.as_str())),
            ) {
                Ok(()) => {
                    match records.last() {
                        Some(last) => writeln!(
                            out,
                            "{}: intact: {} records; head {}:{}",
                            file.display(),
                            records.len(),
                            last.seq,
                            last.hash
                        )?,
                        // Said plainly: an empty trail is intact, but holds nothing.
                        None => writeln!(out, "{}: intact: empty, no records", file.display())?,
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("{}: broken at {e}", file.display());
                    Ok(ExitCode::from(1))
                }
            }
        }
        Command::Rules {
            command: RulesCommand::Default,
        } => {
            write!(out, "{DEFAULT_RULES}")?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Rules {
            command: RulesCommand::Check { file },
        } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read `{}`", file.display()))?;
            match RuleSet::parse(&file.display().to_string(), &text) {
                Ok(r) => {
                    for w in &r.warnings {
                        eprintln!("warning: {w}");
                    }
                    let warned = match r.warnings.len() {
                        0 => String::new(),
                        1 => " (1 warning)".to_owned(),
                        n => format!(" ({n} warnings)"),
                    };
                    writeln!(
                        out,
                        "{}: valid: {} rules, {} allow-sets, mode {:?}{warned}",
                        file.display(),
                        r.rules.len(),
                        r.allow_sets.len(),
                        r.mode
                    )?;
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("{e}");
                    Ok(ExitCode::from(1))
                }
            }
        }
        Command::Replay {
            rules,
            allow_groups,
            groups,
            jobs,
            format,
            no_progress,
            paths,
        } => {
            let rules = load_rules(rules.as_ref(), allow_groups)?;
            let memberships = match groups.as_deref().map(load_groups).transpose()? {
                Some(g) => g.memberships,
                None => ScopedMemberships::default(),
            };
            let catalog =
                Catalog::builtin().context("the built-in action catalog does not load (a bug)")?;
            let files = warden_handler::cli::input::collect_files(&paths)?;
            let jobs = jobs
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
                .max(1);
            let total: u64 = files.iter().map(|f| f.1).sum();
            let bar = if !no_progress && std::io::stderr().is_terminal() {
                indicatif::ProgressBar::new(total).with_style(
                    indicatif::ProgressStyle::with_template(
                        "{spinner} {bytes}/{total_bytes} {wide_bar} {eta}",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                )
            } else {
                indicatif::ProgressBar::hidden()
            };
            let shared = Arc::new(SharedOutput::new(DataOutput::new(std::io::stdout())));
            let make_sink = || -> Box<dyn Sink> {
                match format {
                    Format::Json => Box::new(JsonLinesSink::new(shared.clone())),
                    Format::Text => Box::new(NullSink),
                }
            };
            let ctx = ReplayContext {
                catalog: &catalog,
                rules: &rules,
                memberships: &memberships,
            };
            let started = std::time::Instant::now();
            let summary = replay(&files, jobs, &ctx, &make_sink, &|n| bar.inc(n));
            bar.finish_and_clear();
            // A closed output stopped the replay: no summary of a part of it.
            shared.finish().context("cannot write the events")?;
            let text = render_summary(&summary, started.elapsed().as_secs_f64());
            match format {
                Format::Text => {
                    write!(out, "{text}")?;
                    out.flush()?;
                }
                Format::Json => eprint!("{text}"),
            }
            Ok(if summary.problems > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}
