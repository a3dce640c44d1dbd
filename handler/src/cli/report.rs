//! What `warden replay` prints: one JSON object per event (JSON Lines) for machines, and a summary
//! for people. Data goes to stdout; progress and logs to stderr.

use crate::cli::account_scope::list_accounts;
use crate::cli::output::SharedOutput;
use crate::cli::replay::{Item, Sink, Summary};
use policy_rules::decision::{Decision, Verdict};
use policy_rules::event::Event;
use policy_rules::mapping::Analysis;
use serde::Serialize;
use std::sync::Arc;

#[derive(Serialize)]
struct CallerLine<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    identity_type: &'a str,
    arn: Option<&'a str>,
    principal_arn: Option<&'a str>,
    path_known: bool,
    /// Whether an identity-policy Deny can restrict this caller at all.
    restrictable: bool,
    session_name: Option<&'a str>,
    invoked_by: Option<&'a str>,
}

#[derive(Serialize)]
struct EventLine<'a> {
    event_id: Option<&'a str>,
    event_source: &'a str,
    event_name: &'a str,
    event_time: Option<&'a str>,
    account: Option<&'a str>,
    error_code: Option<&'a str>,
    caller: CallerLine<'a>,
    actions: Vec<&'a str>,
    resources: Vec<String>,
    verdict: Verdict,
    rule: Option<&'a str>,
    mode: Option<policy_rules::rules::Mode>,
    reasons: &'a [String],
}

#[derive(Serialize)]
struct ProblemLine<'a> {
    verdict: Verdict,
    location: &'a str,
    reasons: [&'a str; 1],
}

fn event_line<'a>(
    event: &'a Event<'a>,
    analysis: &'a Analysis,
    decision: &'a Decision,
) -> EventLine<'a> {
    let c = &analysis.caller;
    let resources = analysis.mapping.resource_patterns();
    EventLine {
        event_id: event.record.event_id.as_deref(),
        event_source: event.source(),
        event_name: event.name(),
        event_time: event.record.event_time.as_deref(),
        account: event.account(),
        error_code: event.record.error_code.as_deref(),
        caller: CallerLine {
            kind: c.kind.as_str(),
            identity_type: &c.identity_type,
            arn: c.arn.as_deref(),
            principal_arn: c.principal_arn.as_deref(),
            path_known: c.path_known,
            restrictable: c.restrictable == policy_rules::caller::Restrictable::Yes,
            session_name: c.session_name.as_deref(),
            invoked_by: c.invoked_by.as_deref(),
        },
        actions: analysis
            .mapping
            .actions()
            .iter()
            .map(|a| a.action.as_str())
            .collect(),
        resources,
        verdict: decision.verdict,
        rule: decision.rule.as_deref(),
        mode: decision.mode,
        reasons: &decision.reasons,
    }
}

/// One event's replay fields as a JSON object (what `replay --format json` prints per line).
pub fn event_value(
    event: &Event<'_>,
    analysis: &Analysis,
    decision: &Decision,
) -> serde_json::Value {
    serde_json::to_value(event_line(event, analysis, decision)).unwrap_or(serde_json::Value::Null)
}

/// Writes one JSON line per item to a shared output, buffering per thread so lines never interleave.
/// When a write fails (the reader closed the pipe), every thread's sink says it stopped.
pub struct JsonLinesSink {
    buf: Vec<u8>,
    out: Arc<SharedOutput>,
}

impl JsonLinesSink {
    pub fn new(out: Arc<SharedOutput>) -> Self {
        JsonLinesSink {
            buf: Vec::with_capacity(1 << 18),
            out,
        }
    }

    fn write_out(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        self.out.write_all(&self.buf);
        self.buf.clear();
    }
}

impl Sink for JsonLinesSink {
    fn item(&mut self, item: Item<'_, '_>) {
        let written = match item {
            Item::Event {
                event,
                analysis,
                decision,
            } => serde_json::to_writer(&mut self.buf, &event_line(event, analysis, decision)),
            Item::Problem(p) => {
                let line = ProblemLine {
                    verdict: Verdict::Error,
                    location: &p.location,
                    reasons: [&p.message],
                };
                serde_json::to_writer(&mut self.buf, &line)
            }
        };
        if written.is_ok() {
            self.buf.push(b'\n');
        }
        if self.buf.len() > (1 << 18) {
            self.write_out();
        }
    }

    fn flush(&mut self) {
        self.write_out();
    }

    fn stopped(&self) -> bool {
        self.out.failed()
    }
}

impl Drop for JsonLinesSink {
    fn drop(&mut self) {
        self.write_out();
    }
}

/// A sink that keeps nothing (the summary is counted by the engine).
pub struct NullSink;

impl Sink for NullSink {
    fn wants_every_event(&self) -> bool {
        false
    }
    fn item(&mut self, _: Item<'_, '_>) {}
}

/// Renders the summary for people.
pub fn render_summary(s: &Summary, seconds: f64) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let rate = if seconds > 0.0 {
        s.events as f64 / seconds
    } else {
        0.0
    };
    let _ = writeln!(
        o,
        "Replayed {} events from {} file{} ({:.1} MB) in {:.2} s ({:.0} events/s)",
        s.events,
        s.files,
        if s.files == 1 { "" } else { "s" },
        s.bytes as f64 / 1e6,
        seconds,
        rate
    );
    let _ = writeln!(o, "\nVerdicts");
    for v in Verdict::ALL {
        let n = s.verdicts.get(&v).copied().unwrap_or(0);
        let what = match v {
            Verdict::Deny => "would revoke narrowly",
            Verdict::Alert => "violation a person must handle",
            Verdict::Exempt => "break-glass: alert only",
            Verdict::Allow => "rule matched, caller allowed",
            Verdict::Ignore => "no rule matched",
            Verdict::Unmapped => "not in the action catalog",
            Verdict::Error => "could not be read",
        };
        let _ = writeln!(o, "  {:<9} {:>9}   {what}", v.as_str(), n);
    }
    if !s.rules.is_empty() {
        let _ = writeln!(o, "\nRules");
        let width = s.rules.keys().map(String::len).max().unwrap_or(4).max(4);
        for (rule, counts) in &s.rules {
            let parts: Vec<String> = counts
                .iter()
                .map(|(v, n)| format!("{} {n}", v.as_str()))
                .collect();
            let _ = writeln!(o, "  {rule:<width$}  {}", parts.join("  "));
        }
    }
    let top = s.top_principals(10);
    if !top.is_empty() {
        let _ = writeln!(o, "\nTop principals (deny, alert, exempt)");
        for (p, n) in top {
            let _ = writeln!(o, "  {n:>7}  {p}");
        }
    }
    if s.groups_unknown > 0 {
        let _ = writeln!(
            o,
            "\nNote: {} alert{} only because the caller's groups were unknown; pass --groups FILE\n(a JSON map, or the output of `aws iam get-account-authorization-details`).",
            s.groups_unknown,
            if s.groups_unknown == 1 { " was" } else { "s were" }
        );
    }
    if !s.groups_other_account.is_empty() {
        let n: u64 = s.groups_other_account.values().sum();
        let _ = writeln!(
            o,
            "\nNote: {n} event{} of account{} {}: the --groups file has entries of other accounts only,\nand those do not apply.",
            if n == 1 { "" } else { "s" },
            if s.groups_other_account.len() == 1 { "" } else { "s" },
            list_accounts(s.groups_other_account.keys())
        );
    }
    if s.problems > 0 {
        let _ = writeln!(o, "\nErrors ({}; the replay went on)", s.problems);
        for p in &s.kept_problems {
            let _ = writeln!(o, "  {p}");
        }
        if s.problems as usize > s.kept_problems.len() {
            let _ = writeln!(
                o,
                "  … and {} more (use --format json to see every one)",
                s.problems as usize - s.kept_problems.len()
            );
        }
    }
    o
}
