//! `warden access`: least privilege from CloudTrail history. Reads every input `replay` reads
//! (files, directories, gzip, JSON Lines, EventBridge envelopes) on `jobs` threads into one
//! `policy_rules::access` usage index, maps each event with the whole Service Authorization
//! Reference (`Catalog::reference`), and prints per principal what it used, what it was denied,
//! what it did that no catalog entry explains, the unused-access findings (with the account file)
//! and the generated, checked least-privilege policy. Reading and locating input problems is here;
//! judging is the pure core's.

use crate::cli::input::DocumentReader;
use crate::cli::replay::{location, InputProblem, KEPT_PROBLEMS};
use anyhow::{bail, Context, Result};
use policy_rules::access::findings::Options;
use policy_rules::access::usage::{Filter, UsageIndex};
use policy_rules::access::{report, PrincipalReport, ReportInput};
use policy_rules::catalog::Catalog;
use policy_rules::event::parse_document;
use policy_rules::mapping::analyse;
use policy_rules::snapshot::Snapshot;
use policy_rules::sweep::input::CredentialReport;
use std::io::Write;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// What one indexing run read.
#[derive(Debug, Default)]
pub struct Indexed {
    pub index: UsageIndex,
    pub files: u64,
    pub bytes: u64,
    pub problems: u64,
    pub kept_problems: Vec<InputProblem>,
}

impl Indexed {
    fn merge(&mut self, o: Indexed) {
        self.index.merge(o.index);
        self.files += o.files;
        self.bytes += o.bytes;
        self.problems += o.problems;
        self.kept_problems.extend(o.kept_problems);
        self.kept_problems.sort();
        self.kept_problems.truncate(KEPT_PROBLEMS);
    }

    fn problem(&mut self, p: InputProblem) {
        self.problems += 1;
        if self.kept_problems.len() < KEPT_PROBLEMS {
            self.kept_problems.push(p);
        }
    }
}

/// Reads `files` on `jobs` threads into one usage index.
pub fn index_files(
    files: &[(PathBuf, u64)],
    jobs: usize,
    catalog: &Catalog,
    filter: &Filter,
) -> Indexed {
    let next = AtomicUsize::new(0);
    let work = || {
        let mut out = Indexed::default();
        let mut reader = DocumentReader::default();
        loop {
            let file_index = next.fetch_add(1, Ordering::Relaxed);
            let Some((path, _)) = files.get(file_index) else {
                break;
            };
            out.files += 1;
            let mut problems = Vec::new();
            let index = &mut out.index;
            let read = reader.for_each_document(path, |loc, bytes| {
                parse_document(bytes, |record, parsed| match parsed {
                    Ok(event) => {
                        let analysis = analyse(&event, catalog);
                        index.record(&event, &analysis, filter);
                    }
                    Err(e) => problems.push(InputProblem {
                        file_index,
                        location: location(loc, record),
                        message: e.to_string(),
                    }),
                });
                ControlFlow::Continue(())
            });
            match read {
                Ok(n) => out.bytes += n,
                Err(e) => problems.push(InputProblem {
                    file_index,
                    location: path.display().to_string(),
                    message: format!("cannot read: {e}"),
                }),
            }
            for p in problems {
                out.problem(p);
            }
        }
        out
    };
    let jobs = jobs.clamp(1, files.len().max(1));
    if jobs == 1 {
        return work();
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..jobs).map(|_| s.spawn(work)).collect();
        let mut total = Indexed::default();
        for h in handles {
            match h.join() {
                Ok(part) => total.merge(part),
                Err(e) => std::panic::resume_unwind(e),
            }
        }
        total
    })
}

/// `--window 30d,90d,365d` (a bare number is days too).
pub fn parse_windows(s: &str) -> Result<Vec<u32>> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let days = part.strip_suffix('d').unwrap_or(part);
        match days.parse::<u32>() {
            Ok(d) if d > 0 => out.push(d),
            _ => bail!("--window: `{part}` is not a number of days (such as `90d`)"),
        }
    }
    if out.is_empty() {
        bail!("--window: give at least one window (such as `90d`)");
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// `--since`/`--until`: an ISO 8601 time, as Unix seconds.
pub fn parse_instant(flag: &str, s: &str) -> Result<i64> {
    policy_rules::sweep::input::parse_time(s)
        .map(|t| t.timestamp())
        .with_context(|| {
            format!("{flag}: `{s}` is not an ISO 8601 time (such as `2026-11-01T00:00:00Z`)")
        })
}

/// Everything `run` needs.
pub struct AccessRequest {
    pub files: Vec<(PathBuf, u64)>,
    pub jobs: usize,
    pub snapshot: Option<Snapshot>,
    pub credential_report: Option<CredentialReport>,
    pub principals: Vec<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub windows: Vec<u32>,
    pub recent_days: u32,
    pub max_quiet_hours: u32,
    /// `--plan`: findings as Warden plans (printed, `monitor`).
    pub plan: bool,
}

/// Indexes the input and builds the report.
pub fn run(req: &AccessRequest) -> Result<(Indexed, Vec<PrincipalReport>)> {
    let catalog = Catalog::reference()
        .context("the Service Authorization Reference does not load (a bug)")?;
    let filter = Filter {
        principals: req.principals.clone(),
        since: req.since,
        until: req.until,
    };
    let indexed = index_files(&req.files, req.jobs, &catalog, &filter);
    let until = req
        .until
        .or_else(|| indexed.index.coverage.extent().map(|e| e.to))
        .unwrap_or(0);
    let input = ReportInput {
        catalog: &catalog,
        snapshot: req.snapshot.as_ref(),
        credential_report: req.credential_report.as_ref(),
        principals: &req.principals,
        options: Options {
            windows_days: req.windows.clone(),
            until,
            recent_days: req.recent_days,
            max_quiet: i64::from(req.max_quiet_hours) * 3600,
        },
        plan: req.plan,
    };
    let reports = report(&indexed.index, &input)?;
    Ok((indexed, reports))
}

/// One JSON object a line per principal.
pub fn render_json(reports: &[PrincipalReport], out: &mut dyn Write) -> Result<()> {
    // Each line is serialized whole, then written at once: serde_json's many small writes would
    // each go through stdout's lock and line buffer.
    let mut line = Vec::new();
    for r in reports {
        line.clear();
        serde_json::to_writer(&mut line, r)?;
        line.push(b'\n');
        out.write_all(&line)?;
    }
    Ok(())
}

/// For people: per principal its use, findings and policy.
pub fn render_text(reports: &[PrincipalReport], out: &mut dyn Write) -> Result<()> {
    for r in reports {
        let calls: u64 = r.used.iter().map(|u| u.count).sum();
        writeln!(out, "{} ({})", r.principal, r.kind)?;
        writeln!(
            out,
            "  used: {} action-resource pairs, {calls} calls; denied: {}; unmapped: {}; failed otherwise: {}",
            r.used.len(),
            r.denied.len(),
            r.unmapped.len(),
            r.failed
        )?;
        for u in &r.used {
            writeln!(
                out,
                "    {} {} ×{} ({} – {}){}",
                u.action,
                u.resource,
                u.count,
                u.first_seen,
                u.last_seen,
                u.note
                    .as_deref()
                    .map(|n| format!(" [{n}]"))
                    .unwrap_or_default()
            )?;
        }
        for d in &r.denied {
            writeln!(out, "    denied: {} {} ×{}", d.action, d.resource, d.count)?;
        }
        for m in &r.unmapped {
            writeln!(
                out,
                "    unmapped: {} ×{} ({})",
                m.action,
                m.count,
                m.note.as_deref().unwrap_or("")
            )?;
        }
        for f in &r.findings {
            let about = [
                f.service.as_deref(),
                f.action.as_deref(),
                f.resource.as_deref(),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
            writeln!(
                out,
                "  finding ({}d): {} {about}: {}",
                f.window_days, f.finding_type, f.detail
            )?;
        }
        match r.policy.len() {
            0 => writeln!(out, "  policy: none (no successful call)")?,
            n => {
                writeln!(
                    out,
                    "  policy ({n} document{}, checked against every successful call):",
                    if n == 1 { "" } else { "s" }
                )?;
                for d in &r.policy {
                    writeln!(out, "    {}", serde_json::to_string(d)?)?;
                }
            }
        }
        for n in &r.policy_notes {
            writeln!(out, "    note: {n}")?;
        }
        if let Some(p) = &r.plans {
            render_plans(p, out)?;
        }
        if let Some(a) = &r.applied {
            let field = |k: &str| a.get(k).and_then(serde_json::Value::as_str).unwrap_or("");
            match field("result") {
                "changed" => writeln!(
                    out,
                    "  applied ({}): {}; recorded as `{}` (undo: `warden rollback {}`){}",
                    field("strategy"),
                    field("what"),
                    field("record"),
                    field("record"),
                    if a.get("holds") == Some(&serde_json::Value::Bool(false)) {
                        "; BUT it does not hold when read back"
                    } else {
                        ""
                    }
                )?,
                result => writeln!(
                    out,
                    "  applied ({}): {result}: {}",
                    field("strategy"),
                    field("why")
                )?,
            }
        }
    }
    Ok(())
}

fn render_plans(p: &policy_rules::access::plan::Plans, out: &mut dyn Write) -> Result<()> {
    match &p.deny_unused {
        Some(d) => {
            writeln!(
                out,
                "  plan ({}): deny {} unused action-resource pairs ({}d) in `{}` ({:?}):",
                p.mode,
                d.denied.len(),
                d.window_days,
                d.policy_name,
                d.placement
            )?;
            for s in &d.steps {
                writeln!(
                    out,
                    "    step: {} {}",
                    s.call,
                    serde_json::to_string(&s.params)?
                )?;
            }
            for s in &d.undo {
                writeln!(out, "    undo: {} ({})", s.call, s.precondition)?;
            }
            for n in &d.notes {
                writeln!(out, "    note: {n}")?;
            }
        }
        None => writeln!(out, "  plan ({}): nothing unused to deny", p.mode)?,
    }
    if let Some(r) = &p.replace_inline {
        writeln!(
            out,
            "  plan ({}): or replace the principal's own inline policies with the generated one:",
            p.mode
        )?;
        for s in &r.steps {
            writeln!(out, "    step: {} ({})", s.call, s.precondition)?;
        }
        for s in &r.undo {
            writeln!(out, "    undo: {} ({})", s.call, s.precondition)?;
        }
        for n in &r.notes {
            writeln!(out, "    note: {n}")?;
        }
    }
    Ok(())
}

/// The summary for stderr: what was read, what it covers, and the input problems.
pub fn summary(indexed: &Indexed, reports: &[PrincipalReport], max_quiet_hours: u32) -> String {
    let idx = &indexed.index;
    let mut s = format!(
        "read {} files ({} bytes), {} events; {} principals",
        indexed.files,
        indexed.bytes,
        idx.events,
        reports.len()
    );
    let unmapped: u64 = idx
        .principals
        .values()
        .flat_map(|p| p.unmapped.values())
        .map(|(seen, _)| seen.count)
        .sum();
    if unmapped > 0 {
        s.push_str(&format!(
            "; {unmapped} events no catalog entry explains (unmapped)"
        ));
    }
    if idx.undated > 0 {
        s.push_str(&format!(
            "; {} events without a readable eventTime (not used)",
            idx.undated
        ));
    }
    let (spans, gaps) = idx.coverage.describe(i64::from(max_quiet_hours) * 3600);
    let iso = policy_rules::access::coverage::iso;
    match (spans.first(), spans.last()) {
        (Some(a), Some(b)) => s.push_str(&format!(
            "\ncoverage: {} to {} in {} range(s), {} gap(s)",
            iso(a.from),
            iso(b.to),
            spans.len(),
            gaps.len()
        )),
        _ => s.push_str("\ncoverage: none (no dated record)"),
    }
    for g in gaps.iter().take(10) {
        s.push_str(&format!(
            "\n  gap {} to {}: {}",
            iso(g.from),
            iso(g.to),
            g.why
        ));
    }
    if indexed.problems > 0 {
        s.push_str(&format!("\n{} input problems:", indexed.problems));
        for p in &indexed.kept_problems {
            s.push_str(&format!("\n  {p}"));
        }
    }
    s.push('\n');
    s
}
