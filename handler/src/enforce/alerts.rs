//! Alerts a person can act on: one [`Notice`] per event the flow alerts on (who, what, when, where,
//! the rule and why, exactly what Warden changed and how to roll it back, and for `alert` verdicts
//! what a person should do), and the [`Alert`] rendered from one principal's incident (one or more
//! notices): an SNS subject, a plain-text body, structured JSON, and message attributes for
//! subscription filters (`severity`, `rule`, `verdict`, `account`).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The notices of one principal's incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub id: String,
    /// The principal whose events these are.
    pub principal: String,
    /// When the incident opened (epoch seconds).
    pub opened: i64,
    /// In the order they were added, one per event.
    pub notices: Vec<Notice>,
}

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
    /// The event changed something Warden holds in force (its Deny, a key it deactivated, …):
    /// the incident is at the highest severity.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tamper: bool,
}

/// A rendered alert for one incident.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// Deterministic (the incident id): receivers can drop a duplicate.
    pub id: String,
    /// At most [`MAX_SUBJECT`] ASCII characters, no line breaks (SNS's limit).
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

/// SNS subjects "must be less than 100 characters long" (Amazon SNS API Reference, "Publish").
pub const MAX_SUBJECT: usize = 99;

/// Renders one incident: a subject that fits SNS (verdict, principal, action), a body a person can
/// act on without opening anything else, the JSON, and the filter attributes.
pub fn render(incident: &Incident) -> Alert {
    let notices = &incident.notices;
    let first = notices.first();
    let verdict = strongest_verdict(notices);
    // An incident is in monitor mode only when every event was: one enforced event changed things.
    let monitor = !notices.is_empty() && notices.iter().all(|n| n.mode == "monitor");
    let mode = if monitor { "monitor" } else { "enforce" };
    let sev = if notices.iter().any(|n| n.tamper) {
        "critical"
    } else {
        severity(verdict, mode)
    };
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
    let subject = subject(verdict, monitor, principal, &actions, notices.len());

    let mut body = String::new();
    let events = match notices.len() {
        1 => "1 event".to_owned(),
        n => format!("{n} events"),
    };
    let _ = writeln!(
        body,
        "{}",
        match (verdict, monitor) {
            ("deny", true) => format!(
                "Warden would have revoked access of {principal} after {events} (monitor mode: nothing was changed)."
            ),
            ("deny", false) => format!(
                "Warden restricted {principal} narrowly, after {events}. Below: each change, its status, and how to roll it back."
            ),
            ("alert", _) => format!(
                "Warden needs a person: {principal} broke a rule in {events}, and Warden could not or may not restrict it. See \"to do\"."
            ),
            ("exempt", _) => format!(
                "A break-glass principal, {principal}, broke a rule in {events}. Warden changed nothing; check that it was planned."
            ),
            _ => format!(
                "Warden could not finish processing {events} of {principal}. See \"to do\"."
            ),
        }
    );
    for (i, n) in notices.iter().enumerate() {
        let _ = writeln!(
            body,
            "\n#{} {} {} ({}{})",
            i + 1,
            n.event_source,
            n.event_name,
            n.verdict,
            if n.mode == "monitor" {
                ", monitor mode"
            } else {
                ""
            }
        );
        let _ = writeln!(
            body,
            "  who:      {} ({})",
            n.caller_arn.as_deref().unwrap_or(&n.principal),
            n.caller_kind
        );
        if n.caller_arn.as_deref().is_some_and(|c| c != n.principal) {
            let _ = writeln!(body, "  acting as {}", n.principal);
        }
        let _ = writeln!(
            body,
            "  what:     {} on {}",
            if n.actions.is_empty() {
                n.event_name.clone()
            } else {
                n.actions.join(", ")
            },
            if n.resources.is_empty() {
                "(no resource)".to_owned()
            } else {
                n.resources.join(", ")
            }
        );
        let _ = writeln!(
            body,
            "  when:     {}",
            n.event_time.as_deref().unwrap_or("unknown")
        );
        let _ = writeln!(
            body,
            "  where:    account {}, region {}",
            n.account.as_deref().unwrap_or("unknown"),
            n.region.as_deref().unwrap_or("unknown")
        );
        let _ = writeln!(
            body,
            "  rule:     {} (mode {})",
            n.rule.as_deref().unwrap_or("none"),
            n.mode
        );
        for r in &n.reasons {
            let _ = writeln!(body, "  why:      {r}");
        }
        let _ = writeln!(body, "  event:    {} (CloudTrail eventID)", n.event_id);
        if n.changes.is_empty() {
            let _ = writeln!(body, "  changed:  nothing");
        }
        for c in &n.changes {
            let _ = writeln!(body, "  change:   {} on {}: {}", c.call, c.target, c.status);
            let _ = writeln!(
                body,
                "            {}",
                policy_rules::evidence::canonical_json(&c.what)
            );
            match &c.evidence_id {
                Some(id) => {
                    let _ = writeln!(body, "            roll back: warden rollback {id}");
                }
                None if c.status.starts_with("applied") => {
                    let _ = writeln!(
                        body,
                        "            roll back: by hand (no evidence record of the before-state)"
                    );
                }
                None => {}
            }
        }
        for t in &n.todo {
            let _ = writeln!(body, "  to do:    {t}");
        }
        if n.todo.is_empty() && matches!(n.verdict.as_str(), "alert" | "error") {
            let _ = writeln!(
                body,
                "  to do:    review the call; if it was not wanted, undo it and restrict {} by hand",
                n.principal
            );
        }
    }
    let _ = writeln!(
        body,
        "\nSeverity {sev}. Alert {}. `warden evidence list` shows the records.",
        incident.id
    );
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

/// `[Warden] DENY user/bob: iam:CreateUser`, `[Warden] ALERT (monitor mode) role/x: 3 events,
/// iam:PutRolePolicy +1 more`; the principal is shortened (its middle elided) to fit.
fn subject(
    verdict: &str,
    monitor: bool,
    principal: &str,
    actions: &[&str],
    events: usize,
) -> String {
    let head = format!(
        "[Warden] {}{} ",
        verdict.to_uppercase(),
        if monitor { " (monitor mode)" } else { "" }
    );
    let what = match actions {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [one, rest @ ..] => format!("{one} +{} more", rest.len()),
    };
    let tail = match (events, what.is_empty()) {
        (1, true) => String::new(),
        (1, false) => format!(": {what}"),
        (n, true) => format!(": {n} events"),
        (n, false) => format!(": {n} events, {what}"),
    };
    let head = sanitize_subject(&head);
    let tail = sanitize_subject(&tail);
    let who = sanitize_subject(principal.rsplit(':').next().unwrap_or(principal));
    let room = MAX_SUBJECT.saturating_sub(head.len() + tail.len());
    let who = if who.len() <= room {
        who
    } else if room > 10 {
        // Keep the end (the name) and the start (the kind).
        let keep_end = (room - 3) * 2 / 3;
        let keep_start = room - 3 - keep_end;
        format!(
            "{}...{}",
            who.get(..keep_start).unwrap_or(""),
            who.get(who.len() - keep_end..).unwrap_or("")
        )
    } else {
        String::new()
    };
    let mut out = format!("{head}{who}{tail}");
    if out.len() > MAX_SUBJECT {
        out.truncate(MAX_SUBJECT - 3);
        out.push_str("...");
    }
    out
}

fn strongest_verdict(notices: &[Notice]) -> &str {
    const ORDER: [&str; 4] = ["alert", "error", "deny", "exempt"];
    ORDER
        .iter()
        .find(|v| notices.iter().any(|n| n.verdict == **v))
        .copied()
        .unwrap_or("alert")
}

/// ASCII without control characters (subjects are ASCII text with no line breaks).
fn sanitize_subject(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                ' '
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const BOB: &str = "arn:aws:iam::123456789012:user/bob";

    fn notice(event_id: &str, action: &str, verdict: &str, mode: &str) -> Notice {
        let name = action.rsplit(':').next().unwrap_or(action);
        Notice {
            event_id: event_id.into(),
            event_time: Some("2026-11-22T10:00:00Z".into()),
            event_source: "iam.amazonaws.com".into(),
            event_name: name.into(),
            account: Some("123456789012".into()),
            region: Some("us-east-1".into()),
            principal: BOB.into(),
            caller_arn: Some(BOB.into()),
            caller_kind: "iam_user".into(),
            verdict: verdict.into(),
            mode: mode.into(),
            rule: Some("iam-writes".into()),
            actions: vec![action.into()],
            resources: vec!["arn:aws:iam::123456789012:user/eve".into()],
            reasons: vec![format!("rule `iam-writes` forbids {action} to non-admins")],
            changes: vec![NoticeChange {
                call: "iam:PutUserPolicy".into(),
                target: "iam_user `bob`".into(),
                what: json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": action, "Resource": "*"}]}),
                status: if mode == "monitor" {
                    "not applied (monitor mode)".into()
                } else {
                    "applied and verified".into()
                },
                evidence_id: (mode != "monitor").then(|| format!("ev-{event_id}")),
            }],
            todo: vec![],
            tamper: false,
        }
    }

    fn incident(notices: Vec<Notice>) -> Incident {
        Incident {
            id: "inc-1".into(),
            principal: BOB.into(),
            opened: 1000,
            notices,
        }
    }

    fn has_line(body: &str, line: &str) {
        assert!(
            body.lines().any(|l| l == line),
            "no line `{line}` in:\n{body}"
        );
    }

    #[test]
    fn a_one_event_deny_says_who_what_when_where_why_the_change_and_the_undo() {
        let a = render(&incident(vec![notice(
            "e1",
            "iam:CreateUser",
            "deny",
            "enforce",
        )]));
        assert_eq!(a.subject, "[Warden] DENY user/bob: iam:CreateUser");
        let b = &a.body;
        has_line(b, "Warden restricted arn:aws:iam::123456789012:user/bob narrowly, after 1 event. Below: each change, its status, and how to roll it back.");
        has_line(b, "#1 iam.amazonaws.com CreateUser (deny)");
        has_line(
            b,
            "  who:      arn:aws:iam::123456789012:user/bob (iam_user)",
        );
        has_line(
            b,
            "  what:     iam:CreateUser on arn:aws:iam::123456789012:user/eve",
        );
        has_line(b, "  when:     2026-11-22T10:00:00Z");
        has_line(b, "  where:    account 123456789012, region us-east-1");
        has_line(b, "  rule:     iam-writes (mode enforce)");
        has_line(
            b,
            "  why:      rule `iam-writes` forbids iam:CreateUser to non-admins",
        );
        has_line(
            b,
            "  change:   iam:PutUserPolicy on iam_user `bob`: applied and verified",
        );
        has_line(
            b,
            r#"            {"Statement":[{"Action":"iam:CreateUser","Effect":"Deny","Resource":"*"}],"Version":"2012-10-17"}"#,
        );
        has_line(b, "            roll back: warden rollback ev-e1");
        assert!(!b.contains("to do:"));
        assert_eq!(a.attributes["severity"], "high");
        assert_eq!(a.attributes["verdict"], "deny");
        assert_eq!(a.attributes["mode"], "enforce");
        assert_eq!(a.json["events"][0]["event_id"], "e1");
    }

    #[test]
    fn a_three_event_incident_lists_each_and_the_strongest_verdict_leads() {
        let mut alert = notice("e3", "iam:AttachUserPolicy", "alert", "enforce");
        alert.changes.clear();
        let a = render(&incident(vec![
            notice("e1", "iam:CreateUser", "deny", "enforce"),
            notice("e2", "iam:CreateAccessKey", "deny", "enforce"),
            alert,
        ]));
        assert_eq!(
            a.subject,
            "[Warden] ALERT user/bob: 3 events, iam:AttachUserPolicy +2 more"
        );
        let b = &a.body;
        assert!(b.starts_with(
            "Warden needs a person: arn:aws:iam::123456789012:user/bob broke a rule in 3 events"
        ));
        has_line(b, "#1 iam.amazonaws.com CreateUser (deny)");
        has_line(b, "#2 iam.amazonaws.com CreateAccessKey (deny)");
        has_line(b, "#3 iam.amazonaws.com AttachUserPolicy (alert)");
        has_line(b, "            roll back: warden rollback ev-e2");
        has_line(b, "  changed:  nothing");
        has_line(b, "  to do:    review the call; if it was not wanted, undo it and restrict arn:aws:iam::123456789012:user/bob by hand");
        assert_eq!(a.attributes["severity"], "critical");
    }

    #[test]
    fn monitor_mode_says_nothing_was_changed() {
        let a = render(&incident(vec![notice(
            "e1",
            "iam:CreateUser",
            "deny",
            "monitor",
        )]));
        assert_eq!(
            a.subject,
            "[Warden] DENY (monitor mode) user/bob: iam:CreateUser"
        );
        has_line(&a.body, "Warden would have revoked access of arn:aws:iam::123456789012:user/bob after 1 event (monitor mode: nothing was changed).");
        has_line(
            &a.body,
            "  change:   iam:PutUserPolicy on iam_user `bob`: not applied (monitor mode)",
        );
        assert!(!a.body.contains("roll back"));
    }

    #[test]
    fn subjects_fit_sns_and_keep_the_name() {
        let long = format!(
            "arn:aws:iam::123456789012:role/{}/deployer-ü",
            "team".repeat(30)
        );
        let mut n = notice("e1", "iam:PutRolePolicy", "deny", "monitor");
        n.principal = long.clone();
        let mut i = incident(vec![n]);
        i.principal = long;
        let a = render(&i);
        assert!(a.subject.len() <= MAX_SUBJECT, "{}", a.subject.len());
        assert!(a.subject.is_ascii() && !a.subject.contains('\n'));
        assert!(a
            .subject
            .starts_with("[Warden] DENY (monitor mode) role/team"));
        assert!(
            a.subject.ends_with("deployer- : iam:PutRolePolicy"),
            "{}",
            a.subject
        );
        assert!(a.subject.contains("..."));
    }
}
