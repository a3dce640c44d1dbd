//! Alerts a person can act on: one [`Notice`] per event the flow alerts on (who, what, when, where,
//! the rule and why, exactly what Warden changed and how to roll it back, and for `alert` verdicts
//! what a person should do), and the [`Alert`] rendered from one principal's incident (one or more
//! notices): an SNS subject, a plain-text body, structured JSON, and message attributes for
//! subscription filters (`severity`, `rule`, `verdict`, `account`).

use crate::store::Incident;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// One change Warden made (or, in monitor mode, would have made) for an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoticeChange {
    /// The call, as `service:Operation`.
    pub call: String,
    /// What it changed (`iam_user `bob``).
    pub target: String,
    /// The policy statement or parameters written.
    pub what: Value,
    /// `applied`, `skipped: …`, `not applied (monitor mode)`, `failed: …`.
    pub status: String,
    /// The evidence record of the change (`warden rollback ID` restores its before-state).
    pub evidence_id: Option<String>,
}

/// What one event's alert says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    pub event_id: String,
    pub event_time: Option<String>,
    pub event_source: String,
    pub event_name: String,
    pub account: Option<String>,
    pub region: Option<String>,
    /// The principal a Deny targets (the role behind a session), or the caller's ARN.
    pub principal: String,
    /// The caller as the event named it (a session ARN for a role).
    pub caller_arn: Option<String>,
    /// `iam_user`, `assumed_role`, `root`, …
    pub caller_kind: String,
    /// `deny`, `alert`, `exempt` or `error`.
    pub verdict: String,
    /// `enforce` or `monitor`.
    pub mode: String,
    pub rule: Option<String>,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
    /// Why: the decision's and the plan's reasons.
    pub reasons: Vec<String>,
    /// What Warden changed, or would have.
    pub changes: Vec<NoticeChange>,
    /// What a person should do (alert verdicts, refused or failed steps).
    pub todo: Vec<String>,
}

/// A rendered alert for one incident.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// Deterministic (the incident id): receivers can drop a duplicate.
    pub id: String,
    /// At most 100 ASCII characters, no line breaks (SNS's limit for e-mail subjects).
    pub subject: String,
    pub body: String,
    pub json: Value,
    /// SNS message attributes (strings).
    pub attributes: BTreeMap<String, String>,
}

/// How urgent a verdict is.
pub fn severity(verdict: &str, mode: &str) -> &'static str {
    match (verdict, mode) {
        // Warden could not act: a person must.
        ("alert", _) | ("error", _) => "critical",
        ("deny", "monitor") => "high",
        ("deny", _) => "high",
        _ => "medium",
    }
}

/// Renders one incident.
pub fn render(incident: &Incident) -> Alert {
    let notices = &incident.notices;
    let first = notices.first();
    let verdict = strongest_verdict(notices);
    let mode = first.map_or("enforce", |n| n.mode.as_str());
    let sev = severity(verdict, mode);
    let principal = &incident.principal;
    let actions: Vec<&str> = {
        let mut a: Vec<&str> = notices
            .iter()
            .flat_map(|n| n.actions.iter().map(String::as_str))
            .collect();
        a.sort_unstable();
        a.dedup();
        a
    };
    let short = principal.rsplit(':').next().unwrap_or(principal);
    let mut subject = if notices.len() == 1 {
        format!(
            "[Warden] {} {} {}",
            verdict.to_uppercase(),
            short,
            actions.first().copied().unwrap_or("")
        )
    } else {
        format!(
            "[Warden] {} {}: {} events ({})",
            verdict.to_uppercase(),
            short,
            notices.len(),
            actions.join(", ")
        )
    };
    if mode == "monitor" {
        subject.push_str(" (monitor mode)");
    }
    let subject = sanitize_subject(&subject);

    let mut body = String::new();
    body.push_str(&format!(
        "Warden {} {} event(s) by {principal}.\n",
        match (verdict, mode) {
            ("deny", "monitor") =>
                "would have revoked access for (monitor mode: nothing was changed)",
            ("deny", _) => "revoked access narrowly for",
            ("alert", _) => "needs a person to act on",
            ("exempt", _) => "saw a break-glass principal break a rule in",
            _ => "could not process",
        },
        notices.len()
    ));
    for (i, n) in notices.iter().enumerate() {
        body.push_str(&format!(
            "\n#{} {}:{} ({})\n",
            i + 1,
            n.event_source,
            n.event_name,
            n.verdict
        ));
        body.push_str(&format!(
            "  who:    {} ({})",
            n.caller_arn.as_deref().unwrap_or(&n.principal),
            n.caller_kind
        ));
        body.push('\n');
        body.push_str(&format!(
            "  when:   {}\n",
            n.event_time.as_deref().unwrap_or("unknown")
        ));
        body.push_str(&format!(
            "  where:  account {} region {}\n",
            n.account.as_deref().unwrap_or("unknown"),
            n.region.as_deref().unwrap_or("unknown")
        ));
        body.push_str(&format!(
            "  what:   {} on {}\n",
            n.actions.join(", "),
            if n.resources.is_empty() {
                "(no resource)".to_owned()
            } else {
                n.resources.join(", ")
            }
        ));
        body.push_str(&format!(
            "  rule:   {} (mode {})\n",
            n.rule.as_deref().unwrap_or("none"),
            n.mode
        ));
        body.push_str(&format!("  event:  {}\n", n.event_id));
        for r in &n.reasons {
            body.push_str(&format!("  why:    {r}\n"));
        }
        for c in &n.changes {
            body.push_str(&format!(
                "  change: {} on {}: {}\n",
                c.call, c.target, c.status
            ));
            body.push_str(&format!(
                "          {}\n",
                policy_rules::evidence::canonical_json(&c.what)
            ));
            if let Some(id) = &c.evidence_id {
                body.push_str(&format!("          roll back: warden rollback {id}\n"));
            }
        }
        for t in &n.todo {
            body.push_str(&format!("  to do:  {t}\n"));
        }
    }
    let account = first.and_then(|n| n.account.clone()).unwrap_or_default();
    let rule = first.and_then(|n| n.rule.clone()).unwrap_or_default();
    let mut attributes = BTreeMap::new();
    attributes.insert("severity".to_owned(), sev.to_owned());
    attributes.insert("verdict".to_owned(), verdict.to_owned());
    attributes.insert("mode".to_owned(), mode.to_owned());
    if !rule.is_empty() {
        attributes.insert("rule".to_owned(), rule);
    }
    if !account.is_empty() {
        attributes.insert("account".to_owned(), account);
    }
    attributes.insert("principal".to_owned(), principal.clone());
    attributes.insert("alert_id".to_owned(), incident.id.clone());
    let json = serde_json::json!({
        "alert_id": incident.id,
        "principal": principal,
        "severity": sev,
        "verdict": verdict,
        "mode": mode,
        "events": notices,
    });
    Alert {
        id: incident.id.clone(),
        subject,
        body,
        json,
        attributes,
    }
}

fn strongest_verdict(notices: &[Notice]) -> &str {
    const ORDER: [&str; 4] = ["alert", "error", "deny", "exempt"];
    ORDER
        .iter()
        .find(|v| notices.iter().any(|n| n.verdict == **v))
        .copied()
        .unwrap_or("alert")
}

fn sanitize_subject(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                ' '
            }
        })
        .collect();
    if out.len() > 100 {
        out.truncate(97);
        out.push_str("...");
    }
    out
}
