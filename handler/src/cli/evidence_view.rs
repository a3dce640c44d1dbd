//! How the evidence trail reads on the command line: `evidence list` (one line a record), `evidence
//! show` (one record in full) and `evidence export` (the trail as JSON Lines, canonical, the form
//! `evidence verify FILE` reads). Pure over the records; reading them from a file or the store is
//! `commands`'.

use anyhow::Result;
use policy_rules::evidence::Record;
use serde_json::{json, Value};
use std::io::Write;

/// A record kind's name (`change`, `rollback`, …).
fn kind_name(r: &Record) -> String {
    serde_json::to_value(r.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// What a record says it did, in one sentence: a change's or rollback's `what`, a tamper record's
/// `what`, a decision's verdict and outcome, an error's message.
pub fn what(r: &Record) -> Option<String> {
    let b = &r.body;
    let text = |k: &str| b.get(k).and_then(Value::as_str).map(str::to_owned);
    text("what").or_else(|| match kind_name(r).as_str() {
        "decision" => Some(format!(
            "`{}`: verdict `{}`, outcome `{}`{}",
            text("event_name").unwrap_or_default(),
            text("verdict").unwrap_or_default(),
            text("outcome").unwrap_or_default(),
            text("monitor")
                .map(|m| format!(" ({m})"))
                .unwrap_or_default()
        )),
        "verify" => Some(if b.get("holds").and_then(Value::as_bool) == Some(true) {
            format!("`{}` holds", text("of").unwrap_or_default())
        } else {
            format!(
                "`{}` does not hold: {}",
                text("of").unwrap_or_default(),
                text("detail").unwrap_or_default()
            )
        }),
        "error" => text("reason"),
        _ => None,
    })
}

/// `warden evidence list`: one record a line.
pub fn list(records: &[Record], json: bool, out: &mut dyn Write) -> Result<()> {
    for r in records {
        let kind = kind_name(r);
        if json {
            let line = json!({
                "id": r.id, "seq": r.seq, "kind": kind, "principal": r.principal,
                "target": r.target, "actions": r.actions, "what": what(r), "rule": r.rule,
                "time": r.time, "event_id": r.event_id,
            });
            writeln!(out, "{line}")?;
        } else {
            writeln!(
                out,
                "{:>5}  {}  {:<8}  {}  {}  {}  {}",
                r.seq,
                r.id,
                kind,
                r.time,
                r.principal.as_deref().unwrap_or("-"),
                r.target.as_deref().unwrap_or("-"),
                what(r).unwrap_or_else(|| r.actions.join(","))
            )?;
        }
    }
    Ok(())
}

/// The AWS request ids a record holds (of the calls a change or rollback made), in order.
pub fn request_ids(r: &Record) -> Vec<String> {
    let mut out = Vec::new();
    for pointer in ["/applied/request_ids", "/request_ids"] {
        if let Some(ids) = r.body.pointer(pointer).and_then(Value::as_array) {
            out.extend(ids.iter().filter_map(Value::as_str).map(str::to_owned));
        }
    }
    out
}

/// `warden evidence show ID`: the record in full. JSON is the record as stored (its canonical
/// line); text names each part, then the body's other fields as indented JSON.
pub fn show(r: &Record, json: bool, out: &mut dyn Write) -> Result<()> {
    if json {
        writeln!(out, "{}", r.to_line())?;
        return Ok(());
    }
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_owned());
    writeln!(out, "record     {}", r.id)?;
    writeln!(out, "seq        {}", r.seq)?;
    writeln!(out, "kind       {}", kind_name(r))?;
    writeln!(out, "time       {}", r.time)?;
    writeln!(out, "principal  {}", opt(&r.principal))?;
    writeln!(out, "target     {}", opt(&r.target))?;
    writeln!(out, "actions    {}", r.actions.join(", "))?;
    writeln!(out, "rule       {}", opt(&r.rule))?;
    writeln!(out, "event      {}", opt(&r.event_id))?;
    if let Some(w) = what(r) {
        writeln!(out, "what       {w}")?;
    }
    let ids = request_ids(r);
    writeln!(
        out,
        "requests   {}",
        if ids.is_empty() {
            "-".to_owned()
        } else {
            ids.join(", ")
        }
    )?;
    writeln!(out, "hash       {}", r.hash)?;
    writeln!(out, "prev_hash  {}", r.prev_hash)?;
    let mut body = r.body.clone();
    // The states a rollback compares, each under its own heading.
    let states: &[(&str, &str)] = &[
        ("before", "before-state"),
        ("after", "after-state"),
        ("restored", "restored (the before-state)"),
        ("live_before", "live state before the rollback"),
    ];
    for (key, title) in states {
        if let Some(v) = body.as_object_mut().and_then(|m| m.remove(*key)) {
            writeln!(out, "{title}:")?;
            write_indented(&v, out)?;
        }
    }
    if let Some(m) = body.as_object_mut() {
        m.remove("what");
    }
    if body.as_object().is_some_and(|m| !m.is_empty()) {
        writeln!(out, "body:")?;
        write_indented(&body, out)?;
    }
    Ok(())
}

fn write_indented(v: &Value, out: &mut dyn Write) -> Result<()> {
    let text = serde_json::to_string_pretty(v)?;
    for line in text.lines() {
        writeln!(out, "  {line}")?;
    }
    Ok(())
}

/// `warden evidence export`: every record as its canonical line, in sequence order.
pub fn export(records: &[Record], out: &mut dyn Write) -> Result<()> {
    for r in records {
        writeln!(out, "{}", r.to_line())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use policy_rules::evidence::{append, verify, Draft, RecordKind};

    fn change() -> Record {
        append(
            None,
            Draft {
                id: "c1".into(),
                time: "2026-11-22T10:00:00Z".into(),
                kind: Some(RecordKind::Change),
                principal: Some("arn:aws:iam::123456789012:user/mallory".into()),
                target: Some("arn:aws:iam::123456789012:role/app-deploy".into()),
                actions: vec!["iam:DeleteRolePolicy".into()],
                rule: Some("iam-writes".into()),
                event_id: Some("e1".into()),
                body: json!({
                    "what": "undid `PutRolePolicy` (event `e1`): deleted inline policy `escalate`",
                    "before": {"inline": {"escalate": {"Statement": []}}},
                    "after": {"inline": {}},
                    "applied": {"outcome": "changed", "request_ids": ["req-1"]},
                }),
            },
        )
    }

    #[test]
    fn show_names_every_part_of_a_change() {
        let mut out = Vec::new();
        show(&change(), false, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        for part in [
            "record     c1",
            "target     arn:aws:iam::123456789012:role/app-deploy",
            "what       undid `PutRolePolicy`",
            "requests   req-1",
            "before-state:\n  {\n    \"inline\": {\n      \"escalate\"",
            "after-state:\n  {\n    \"inline\": {}",
            "prev_hash  0000",
        ] {
            assert!(text.contains(part), "`{part}` not in\n{text}");
        }
    }

    #[test]
    fn an_export_reads_back_as_an_intact_chain() {
        let a = change();
        let b = append(
            Some(&a),
            Draft {
                id: "d2".into(),
                time: "2026-11-22T10:00:01Z".into(),
                ..Draft::default()
            },
        );
        let mut out = Vec::new();
        export(&[a.clone(), b.clone()], &mut out).unwrap();
        let back: Vec<Record> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(back, vec![a, b.clone()]);
        assert_eq!(verify(&back, Some((b.seq, &b.hash))), Ok(()));
    }
}
