//! What `warden plan` prints for one event: the replay fields plus the plan (the exact document
//! Warden would write, where, the undo steps and any fallback), as text for people or JSON.

use crate::cli::report::event_value;
use policy_rules::catalog::Catalog;
use policy_rules::decision::{decide, CallerFacts, Decision};
use policy_rules::event::{parse_document, Event, EventError, RecordIndex};
use policy_rules::mapping::{analyse, Analysis};
use policy_rules::memberships::Memberships;
use policy_rules::planner::{plan, Input, Outcome, Step};
use policy_rules::rules::RuleSet;
use policy_rules::snapshot::Snapshot;
use serde_json::{json, Value};
use std::fmt::Write as _;

/// What planning reads besides the event.
pub struct PlanContext<'a> {
    pub catalog: &'a Catalog,
    pub rules: &'a RuleSet,
    pub memberships: &'a Memberships,
    pub snapshot: Option<&'a Snapshot>,
}

/// Plans every event of one document (a record, an envelope or a log file) and renders each: a JSON
/// line, or a text block (blocks separated by a blank line). Records that do not read go to `on_error`.
pub fn plan_document(
    bytes: &[u8],
    ctx: &PlanContext<'_>,
    json: bool,
    mut on_error: impl FnMut(RecordIndex, EventError),
) -> String {
    let mut out = String::new();
    parse_document(bytes, |index, parsed| match parsed {
        Ok(e) => {
            let analysis = analyse(&e, ctx.catalog);
            let decision = decide(
                &e,
                &analysis,
                ctx.rules,
                CallerFacts {
                    groups: ctx.memberships.groups_of(&analysis.caller),
                },
            );
            let input = Input {
                event: &e,
                analysis: &analysis,
                decision: &decision,
                rules: ctx.rules,
                catalog: ctx.catalog,
                snapshot: ctx.snapshot,
                held: None,
            };
            let outcome = plan(&input);
            if json {
                let _ = writeln!(out, "{}", plan_value(&e, &analysis, &decision, &outcome));
            } else {
                if !out.is_empty() {
                    out.push('\n');
                }
                out.push_str(&render_plan(&e, &analysis, &decision, &outcome));
            }
        }
        Err(err) => on_error(index, err),
    });
    out
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
