//! What `warden plan` prints for each event of a file: the replay fields plus the plan (the exact
//! document Warden would write, where, the undo steps and any fallback), as text for people or JSON.
//! The file is read as `replay` reads its input (`cli::input`: a record, an envelope, a log file,
//! JSON Lines of these, plain or gzip), and each event's plan is written as soon as it is made, so a
//! closed output stops the planning there. An `--account` dump or `--groups` entries of another
//! account than the event's are not used for it, with a warning (see `account_scope`).

use crate::cli::account_scope::{list_accounts, AccountFile, GroupsFile};
use crate::cli::input::DocumentReader;
use crate::cli::replay::location;
use crate::cli::report::event_value;
use policy_rules::catalog::Catalog;
use policy_rules::decision::{decide, CallerFacts, Decision};
use policy_rules::event::{parse_document, Event};
use policy_rules::mapping::{analyse, Analysis};
use policy_rules::planner::{plan, Input, Outcome, Step};
use policy_rules::rules::RuleSet;
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::io;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

/// What planning reads besides the event.
pub struct PlanContext<'a> {
    pub catalog: &'a Catalog,
    pub rules: &'a RuleSet,
    /// `--groups`: memberships before the event, asked before the account dump's.
    pub groups: Option<&'a GroupsFile>,
    /// `--account`: the account's policies, groups and paths.
    pub account: Option<&'a AccountFile>,
}

/// Something to tell about one event besides its plan, already located (`FILE[:LINE][: record N]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// A record that does not read: it is not planned.
    Error(String),
    /// Planned, but not with everything given (a file of another account).
    Warning(String),
}

/// Why planning a file stopped.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("cannot read event `{}`", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write the plan")]
    Write(#[source] io::Error),
}

/// Plans every event of the file at `path` and writes each as it is planned: a JSON line, or a text
/// block (blocks separated by a blank line). Records that do not read and warnings go to `on_note`.
pub fn plan_file(
    path: &Path,
    ctx: &PlanContext<'_>,
    json: bool,
    out: &mut dyn io::Write,
    mut on_note: impl FnMut(Note),
) -> Result<(), PlanError> {
    let mut first = true;
    let mut write_error = None;
    let read = DocumentReader::default().for_each_document(path, |loc, bytes| {
        parse_document(bytes, |index, parsed| {
            if write_error.is_some() {
                return;
            }
            let at = location(loc, index);
            match parsed {
                Ok(e) => {
                    let text = plan_event(&e, ctx, json, &at, &mut on_note);
                    let sep = if json || first { "" } else { "\n" };
                    first = false;
                    if let Err(err) = write!(out, "{sep}{text}") {
                        write_error = Some(err);
                    }
                }
                Err(err) => on_note(Note::Error(format!("{at}: {err}"))),
            }
        });
        if write_error.is_some() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    if let Some(e) = write_error {
        return Err(PlanError::Write(e));
    }
    read.map(|_| ()).map_err(|source| PlanError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Plans one event, with what of the account dump and the groups applies to its account.
fn plan_event(
    e: &Event<'_>,
    ctx: &PlanContext<'_>,
    json: bool,
    at: &str,
    on_note: &mut impl FnMut(Note),
) -> String {
    let account = e.account();
    let dump = match (ctx.account, account) {
        (Some(f), Some(a)) if !f.describes(a) => {
            on_note(Note::Warning(format!(
                "{at}: the account file `{}` describes account {}, not the event's account `{a}`: planned as if no account file was given",
                f.name,
                list_accounts(f.accounts())
            )));
            None
        }
        (dump, _) => dump,
    };
    if let (Some(g), Some(a)) = (ctx.groups, account) {
        if g.memberships.only_other_accounts(Some(a)) {
            on_note(Note::Warning(format!(
                "{at}: the groups file `{}` has entries of account {} only, not of the event's account `{a}`: they do not apply",
                g.name,
                list_accounts(g.memberships.accounts())
            )));
        }
    }
    let mut analysis = analyse(e, ctx.catalog);
    // The account file describes the account before the events: it is the undo's before-state,
    // and says which role an instance profile the event passes held.
    let before = dump
        .map(|d| policy_rules::passed_roles::before_from_snapshot(e, &mut analysis, &d.snapshot));
    let groups = ctx
        .groups
        .and_then(|g| g.memberships.groups_of(account, &analysis.caller))
        .or_else(|| dump.and_then(|d| d.memberships.groups_of(account, &analysis.caller)));
    let decision = decide(e, &analysis, ctx.rules, CallerFacts { groups });
    let input = Input {
        event: e,
        analysis: &analysis,
        decision: &decision,
        rules: ctx.rules,
        catalog: ctx.catalog,
        snapshot: dump.map(|d| &d.snapshot),
        held: None,
        before: before.as_ref(),
    };
    let outcome = plan(&input);
    if json {
        format!("{}\n", plan_value(e, &analysis, &decision, &outcome))
    } else {
        render_plan(e, &analysis, &decision, &outcome)
    }
}

/// The JSON object for one planned event: `replay --format json`'s fields, `plan` (null or the plan)
/// and `alert` (null, or what a person must do and the undo Warden proposes).
pub fn plan_value(
    event: &Event<'_>,
    analysis: &Analysis,
    decision: &Decision,
    outcome: &Outcome,
) -> Value {
    let mut v = event_value(event, analysis, decision);
    let (plan, alert) = match outcome {
        Outcome::Deny(p) => (serde_json::to_value(p).unwrap_or(Value::Null), Value::Null),
        Outcome::Alert { reasons, undo } => {
            (Value::Null, json!({"reasons": reasons, "undo": undo}))
        }
        Outcome::Nothing => (Value::Null, Value::Null),
    };
    if let Value::Object(m) = &mut v {
        m.insert("plan".to_owned(), plan);
        m.insert("alert".to_owned(), alert);
    }
    v
}

fn undo_lines(out: &mut String, undo: &[Step]) {
    for s in undo {
        let params: Vec<String> = s
            .params
            .iter()
            .filter(|(k, _)| {
                !k.ends_with("Document") && k.as_str() != "PublicAccessBlockConfiguration"
            })
            .map(|(k, v)| {
                format!(
                    "{k}={}",
                    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "          {} {}  (only if {})",
            s.call,
            params.join(" "),
            s.precondition
        );
    }
}

/// The plan for people.
pub fn render_plan(
    event: &Event<'_>,
    analysis: &Analysis,
    decision: &Decision,
    outcome: &Outcome,
) -> String {
    let c = &analysis.caller;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "Event     {}:{} at {} (id {})",
        event.source().split('.').next().unwrap_or(""),
        event.name(),
        event.record.event_time.as_deref().unwrap_or("?"),
        event.record.event_id.as_deref().unwrap_or("?")
    );
    let _ = writeln!(
        o,
        "Caller    {} {}",
        c.kind.as_str(),
        c.principal_arn
            .as_deref()
            .or(c.arn.as_deref())
            .unwrap_or("?")
    );
    for a in analysis.mapping.actions() {
        let rs: Vec<String> = a.resources.iter().flat_map(|r| r.patterns()).collect();
        let on = if rs.is_empty() {
            a.unresolved.clone().unwrap_or_default()
        } else {
            rs.join(", ")
        };
        let _ = writeln!(o, "Action    {} on {on}", a.action);
    }
    let rule = decision
        .rule
        .as_deref()
        .map(|r| format!(" (rule `{r}`)"))
        .unwrap_or_default();
    let _ = writeln!(o, "Verdict   {}{rule}", decision.verdict.as_str());
    for r in &decision.reasons {
        let _ = writeln!(o, "  why     {r}");
    }
    match outcome {
        Outcome::Deny(p) => {
            let place = match p.placement {
                policy_rules::planner::Placement::Inline => "inline policy",
                policy_rules::planner::Placement::Managed => "managed policy (attached)",
            };
            let _ = writeln!(o, "Plan      {place} `{}` on {}", p.policy_name, p.target);
            if let Some(f) = &p.fallback {
                let _ = writeln!(o, "  note    {f}");
            }
            // In IAM's element order (the document type's own serialisation), not sorted keys.
            let pretty = policy_rules::policy::PolicyDocument::from_value(&p.policy_document)
                .map_or_else(
                    |_| serde_json::to_string_pretty(&p.policy_document),
                    |d| serde_json::to_string_pretty(&d),
                )
                .unwrap_or_default();
            for line in pretty.lines() {
                let _ = writeln!(o, "          {line}");
            }
            if !p.undo.is_empty() {
                let _ = writeln!(o, "Undo");
                undo_lines(&mut o, &p.undo);
            }
            if let Some(n) = &p.no_undo {
                let _ = writeln!(o, "Undo      none: {n}");
            }
        }
        Outcome::Alert { reasons, undo } => {
            let _ = writeln!(o, "Plan      none: a person must act");
            for r in reasons.iter().filter(|r| !decision.reasons.contains(r)) {
                let _ = writeln!(o, "  why     {r}");
            }
            if !undo.is_empty() {
                let _ = writeln!(o, "Undo (proposed)");
                undo_lines(&mut o, undo);
            }
        }
        Outcome::Nothing => {
            let _ = writeln!(o, "Plan      none: nothing to do");
        }
    }
    o
}
