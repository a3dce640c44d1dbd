//! The `warden` command line (defined in `cli::args`): offline replay of CloudTrail logs through
//! the rules, rule checks and plans; on an account, `init`, `config --stack`, `worker`, `status`,
//! `evidence`, `rollback`, `release`; the local `demo`; completions and the man page.
//! The binary is the one place that prints: data to stdout, the summary (with `--format json`),
//! progress, warnings and errors to stderr. Data goes through `cli::output`, so a closed stdout
//! (`warden … | head -1`) ends any command at once with exit 0 and no message.
#![allow(clippy::print_stderr)]

use anyhow::{Context, Result};
use clap::{CommandFactory, Parser};
use policy_rules::catalog::Catalog;
use policy_rules::rules::{RuleSet, DEFAULT_RULES};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use warden_handler::assembly::{init_logging_with, LogSetup};
use warden_handler::cli::account_scope::{AccountFile, GroupsFile, ScopedMemberships};
use warden_handler::cli::args::{
    ApplyPlan, CheckCommand, Cli, Command, EvidenceCommand, Format, RulesCommand,
};
use warden_handler::cli::commands;
use warden_handler::cli::output::{is_closed_output, DataOutput, SharedOutput};
use warden_handler::cli::plan_report::{plan_file, Note, PlanContext};
use warden_handler::cli::replay::{replay, ReplayContext, Sink};
use warden_handler::cli::report::{render_summary, JsonLinesSink, NullSink};
use warden_handler::cli::{check, evidence_view, status, sweep};

/// Where the demo's log lines go unless `--verbose`: a file, so they do not break up its story.
fn demo_log_path() -> PathBuf {
    std::env::temp_dir().join("warden-demo.log")
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut out = DataOutput::new(std::io::stdout());
    let json = std::env::var("WARDEN_LOG_FORMAT").is_ok_and(|f| f == "json");
    // The SDK's own warnings while it looks for a region and credentials are left out: Warden
    // says in one line what is missing (`RUST_LOG` shows everything).
    let mut setup = LogSetup {
        json,
        default_filter: "info,aws_config=error",
        file: None,
    };
    if let Command::Demo { verbose: false } = cli.command {
        let path = demo_log_path();
        match std::fs::File::create(&path) {
            Ok(f) => {
                setup.file = Some(f);
                // The story's first line says where the rest of the output went.
                let _ = writeln!(
                    out,
                    "(Warden's log lines go to {}; `warden demo --verbose` shows them here)",
                    path.display()
                );
            }
            Err(e) => eprintln!(
                "warning: cannot write the demo's log to `{}` ({e}); logging to stderr",
                path.display()
            ),
        }
    }
    init_logging_with(&setup);
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
        Command::Sweep {
            account,
            buckets,
            credential_report,
            trails,
            held,
            access_keys,
            scps,
            rules,
            allow_groups,
            format,
            unused_days,
            max_changes,
            mode,
            now,
        } => {
            let rules = load_rules(rules.as_ref(), allow_groups)?;
            let catalog =
                Catalog::builtin().context("the built-in action catalog does not load (a bug)")?;
            let now = match now.as_deref() {
                Some(t) => policy_rules::sweep::input::parse_time(t)
                    .with_context(|| format!("--now: `{t}` is not an ISO 8601 time"))?,
                None => chrono::DateTime::<chrono::Utc>::from(std::time::SystemTime::now()),
            };
            let Some(account) = account else {
                let options = policy_rules::sweep::SweepOptions {
                    unused_days,
                    max_changes,
                    mode: mode.rules_mode(),
                    ..policy_rules::sweep::SweepOptions::new(now)
                };
                let (report, checkpoint, account) = block_on(commands::sweep_live(&options))?;
                if format == Format::Json {
                    sweep::render_json(&report, out)?;
                } else {
                    sweep::render_text(&report, out)?;
                }
                out.flush()?;
                eprintln!("{}", sweep::summary(&report, &account, max_changes));
                eprintln!(
                    "requests: {} of the account ({} GAAD page(s), {} bucket(s), {} trail(s), the credential report), {} of Warden's store; drift put back on {} principal(s)",
                    checkpoint.account_requests,
                    checkpoint.gaad_pages,
                    checkpoint.buckets_read,
                    checkpoint.trails_read,
                    checkpoint.store_requests,
                    checkpoint.put_back.len()
                );
                for m in &checkpoint.made {
                    match (&m.record, &m.not_made) {
                        (Some(id), _) => eprintln!(
                            "changed: {} {} on {} (change record {id}; `warden rollback {id}` undoes it)",
                            m.finding, m.step, m.subject
                        ),
                        (None, why) => eprintln!(
                            "NOT changed: {} {} on {}: {}",
                            m.finding,
                            m.step,
                            m.subject,
                            why.as_deref().unwrap_or("?")
                        ),
                    }
                }
                return Ok(if report.over_limit > 0 {
                    ExitCode::from(3)
                } else if !report.notes.is_empty()
                    || checkpoint.made.iter().any(|m| m.record.is_none())
                {
                    ExitCode::from(1)
                } else {
                    ExitCode::SUCCESS
                });
            };
            let files = sweep::load(
                &account,
                buckets.as_deref(),
                credential_report.as_deref(),
                trails.as_deref(),
                held.as_deref(),
                access_keys.as_deref(),
                scps.as_deref(),
            )?;
            let options = policy_rules::sweep::SweepOptions {
                unused_days,
                max_changes,
                mode: mode.rules_mode(),
                ..policy_rules::sweep::SweepOptions::new(now)
            };
            let report = policy_rules::sweep::sweep(
                &policy_rules::sweep::SweepInput {
                    snapshot: &files.snapshot,
                    snapshot_read_at: files.snapshot_read_at,
                    credential_report: files.credential_report.as_ref(),
                    buckets: files.buckets.as_ref(),
                    trails: files.trails.as_deref(),
                    access_keys: files.access_keys.as_deref(),
                    held: &files.held,
                    rules: &rules,
                    catalog: &catalog,
                    own_rules: None,
                    org_policies: files.org_policies.as_ref(),
                    own_pipeline: None,
                },
                &options,
            );
            if format == Format::Json {
                sweep::render_json(&report, out)?;
            } else {
                sweep::render_text(&report, out)?;
            }
            out.flush()?;
            let account = files.snapshot.account().unwrap_or_default();
            eprintln!("{}", sweep::summary(&report, &account, max_changes));
            Ok(if report.over_limit > 0 {
                ExitCode::from(3)
            } else if !report.notes.is_empty() {
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
        Command::CatchUp {
            since,
            until,
            regions,
            format,
        } => {
            block_on(warden_handler::cli::catch_up::run(
                &since,
                until.as_deref(),
                &regions,
                format == Format::Json,
                out,
            ))?;
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
        Command::Demo { .. } => {
            block_on(warden_handler::local::demo::run(out))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Config { stack } => {
            block_on(commands::stack_config(&stack, out))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Status { format } => {
            let held = status::in_force(block_on(commands::holdings())?);
            status::render(&held, format == Format::Json, out)?;
            if format == Format::Json {
                match held.len() {
                    0 => eprintln!("Warden holds nothing in force"),
                    1 => eprintln!("Warden holds something in force on 1 principal"),
                    n => eprintln!("Warden holds something in force on {n} principals"),
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "warden", out);
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Man { dir } => {
            match dir {
                None => clap_mangen::Man::new(Cli::command()).render(out)?,
                Some(dir) => {
                    for page in write_man_pages(&dir)? {
                        writeln!(out, "{}", page.display())?;
                    }
                }
            }
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Evidence {
            command: EvidenceCommand::List { file, format },
        } => {
            let (records, _, name) = block_on(commands::read_evidence(file.as_deref()))?;
            if records.is_empty() {
                eprintln!("{name}: empty, no records");
            }
            evidence_view::list(&records, format == Format::Json, out)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Evidence {
            command: EvidenceCommand::Show { id, file, format },
        } => {
            let record = block_on(commands::evidence_record(file.as_deref(), &id))?;
            evidence_view::show(&record, format == Format::Json, out)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Evidence {
            command: EvidenceCommand::Export { file },
        } => {
            let (records, head, name) = block_on(commands::read_evidence(None))?;
            match &file {
                None => evidence_view::export(&records, out)?,
                Some(path) => {
                    // Never over an existing file: an export is evidence, and so may be the file.
                    let f = std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .open(path)
                        .with_context(|| format!("cannot create `{}`", path.display()))?;
                    let mut w = std::io::BufWriter::new(f);
                    evidence_view::export(&records, &mut w)?;
                    w.flush()
                        .and_then(|()| w.get_ref().sync_all())
                        .with_context(|| format!("cannot write `{}`", path.display()))?;
                }
            }
            out.flush()?;
            let to = file
                .as_ref()
                .map_or_else(|| "stdout".to_owned(), |p| format!("`{}`", p.display()));
            match head {
                Some((seq, hash)) => eprintln!(
                    "exported {} records of {name} to {to}; the store's head is {seq}:{hash} \
                     (check offline: warden evidence verify FILE --head {seq}:{hash})",
                    records.len()
                ),
                None => eprintln!(
                    "exported {} records of {name} to {to}; the store has no head (empty)",
                    records.len()
                ),
            }
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
        Command::Check { command } => run_check(command, out),
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
        Command::Access {
            account,
            from_model,
            principals,
            since,
            until,
            window,
            recent_days,
            max_quiet_hours,
            credential_report,
            jobs,
            format,
            plan,
            apply,
            paths,
        } => {
            use warden_handler::cli::access;
            if apply.is_some() && principals.is_empty() {
                eprintln!("error: --apply changes the account: name each principal to change with --principal ARN");
                return Ok(ExitCode::from(2));
            }
            let windows = access::parse_windows(&window)?;
            let since = since
                .as_deref()
                .map(|s| access::parse_instant("--since", s))
                .transpose()?;
            let until = until
                .as_deref()
                .map(|s| access::parse_instant("--until", s))
                .transpose()?;
            if plan && account.is_none() && !from_model {
                eprintln!("error: --plan needs the principals' policies: give --account FILE or --from-model");
                return Ok(ExitCode::from(2));
            }
            let snapshot = if from_model {
                let (snapshot, entries, newest) = block_on(commands::model_snapshot())?;
                if entries == 0 {
                    eprintln!("error: the account model is empty: run `warden sweep` first (or give --account FILE)");
                    return Ok(ExitCode::from(2));
                }
                eprintln!(
                    "judging against the account model: {entries} entries, the newest read or changed at {}",
                    newest.map_or_else(|| "an unknown time".to_owned(), warden_handler::enforce::flow::iso)
                );
                Some(snapshot)
            } else {
                account
                    .as_deref()
                    .map(|p| load_account(p).map(|a| a.snapshot))
                    .transpose()?
            };
            let credential_report = credential_report
                .as_deref()
                .map(sweep::credential_report)
                .transpose()?;
            // `s3://` locations are downloaded first, then read like local files.
            let (s3, mut paths): (Vec<PathBuf>, Vec<PathBuf>) = paths
                .into_iter()
                .partition(|p| p.to_str().is_some_and(|s| s.starts_with("s3://")));
            let downloads = if s3.is_empty() {
                None
            } else {
                let locations = s3
                    .iter()
                    .map(|p| {
                        let s = p.to_string_lossy();
                        warden_handler::connectors::trail_logs::parse_location(&s).with_context(
                            || format!("`{s}` is not an S3 location (`s3://BUCKET/PREFIX`)"),
                        )
                    })
                    .collect::<Result<Vec<_>>>()?;
                let dir = tempfile::tempdir().context("cannot make a temporary directory")?;
                let (files, bytes, requests) =
                    block_on(commands::download_trail_logs(&locations, dir.path()))?;
                eprintln!(
                    "downloaded {files} log files ({bytes} bytes) from S3 in {requests} requests"
                );
                paths.push(dir.path().to_owned());
                Some(dir)
            };
            let files = warden_handler::cli::input::collect_files(&paths)?;
            let jobs = jobs
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
                .max(1);
            let request = access::AccessRequest {
                files,
                jobs,
                snapshot,
                credential_report,
                principals,
                since,
                until,
                windows,
                recent_days,
                max_quiet_hours,
                plan,
            };
            let (indexed, mut reports) = access::run(&request)?;
            drop(downloads);
            let applied_all = match apply {
                Some(a) => block_on(commands::apply_access_plans(
                    &mut reports,
                    a == ApplyPlan::ReplaceInline,
                ))?,
                None => true,
            };
            match format {
                Format::Json => access::render_json(&reports, out)?,
                Format::Text => access::render_text(&reports, out)?,
            }
            out.flush()?;
            eprint!("{}", access::summary(&indexed, &reports, max_quiet_hours));
            if !applied_all {
                eprintln!("some plan asked for was not applied, or does not hold: see `applied`");
            }
            Ok(if indexed.problems > 0 || !applied_all {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
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

/// `warden check …`: 0 pass, 1 fail or cannot prove; an unreadable input is an error (2).
fn run_check(command: CheckCommand, out: &mut impl Write) -> Result<ExitCode> {
    let catalog =
        Catalog::builtin().context("the built-in action catalog does not load (a bug)")?;
    let mut atoms = policy_rules::policy_check::Atoms::new();
    let (name, what, outcome, format) = match command {
        CheckCommand::NoNewAccess {
            reference,
            policy,
            principal,
            format,
        } => {
            let old = check::load(&reference, principal.as_deref(), &mut atoms)?;
            let new = check::load(&policy, principal.as_deref(), &mut atoms)?;
            let outcome =
                policy_rules::policy_check::no_new_access(&old, &new, &atoms, Some(&catalog));
            (
                "no-new-access",
                format!("`{}`", policy.display()),
                outcome,
                format,
            )
        }
        CheckCommand::AccessNotGranted {
            actions,
            resources,
            principal,
            format,
            policy,
        } => {
            if let Some(bad) = actions
                .iter()
                .find(|a| a.as_str() != "*" && !a.contains(':'))
            {
                anyhow::bail!("--actions: `{bad}` is not an action (`service:Action`, or `*`)");
            }
            let set = check::load(&policy, principal.as_deref(), &mut atoms)?;
            let outcome = policy_rules::policy_check::access_not_granted(
                &set,
                &actions,
                &resources,
                &atoms,
                Some(&catalog),
            );
            (
                "access-not-granted",
                format!("`{}`", policy.display()),
                outcome,
                format,
            )
        }
    };
    check::render(name, &what, &outcome, format == Format::Json, out)?;
    Ok(match outcome {
        policy_rules::policy_check::Outcome::Pass => ExitCode::SUCCESS,
        _ => ExitCode::from(1),
    })
}

/// `warden man --dir DIR`: `warden.1` and one page per command (`warden-evidence-list.1`); the
/// paths written.
fn write_man_pages(dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    let mut written = Vec::new();
    let mut todo = vec![(String::from("warden"), Cli::command())];
    while let Some((name, cmd)) = todo.pop() {
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            todo.push((format!("{name}-{}", sub.get_name()), sub.clone()));
        }
        let path = dir.join(format!("{name}.1"));
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd.bin_name(name.replace('-', " ")))
            .title(name.clone())
            .render(&mut page)?;
        std::fs::write(&path, page)
            .with_context(|| format!("cannot write `{}`", path.display()))?;
        written.push(path);
    }
    written.sort();
    Ok(written)
}
