//! `warden sweep`: the offline sweep of one account from files — the GAAD dump (`--account`), the
//! buckets file, the credential report, the trails, Warden's record, the organization policies
//! (`--scps`) — through
//! `policy_rules::sweep`, printed as one finding a line (`--format json`) or for people, with a
//! summary for people. Reading and checking the files is here, every error naming the file;
//! judging is the pure core's.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use policy_rules::held::Held;
use policy_rules::snapshot::Snapshot;
use policy_rules::sweep::input::{
    parse_access_keys, parse_time, parse_trails, AccessKey, Buckets, CredentialReport, Trail,
};
use policy_rules::sweep::org_policies::OrgPolicySet;
use policy_rules::sweep::{Kind, SweepReport};
use serde_json::Value;
use std::io::Write;
use std::path::Path;

/// What the sweep's files hold.
#[derive(Debug, Default)]
pub struct SweepFiles {
    pub snapshot: Snapshot,
    /// The account file's modification time: GAAD output carries no time of its own.
    pub snapshot_read_at: Option<DateTime<Utc>>,
    pub credential_report: Option<CredentialReport>,
    pub buckets: Option<Buckets>,
    pub trails: Option<Vec<Trail>>,
    pub held: Vec<Held>,
    pub access_keys: Option<Vec<AccessKey>>,
    /// The SCPs and RCPs on the path to the account (`--scps`).
    pub org_policies: Option<OrgPolicySet>,
}

fn read(path: &Path, what: &str) -> Result<String> {
    std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {what} `{}`", path.display()))
}

fn modified(path: &Path) -> Option<DateTime<Utc>> {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .map(DateTime::<Utc>::from)
}

/// Standard base64 (RFC 4648, with padding), as `GetCredentialReport` returns `Content`.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let clean: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let body = clean
        .strip_suffix(b"==")
        .or_else(|| clean.strip_suffix(b"="))
        .unwrap_or(&clean);
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in body {
        acc = (acc << 6) | value(*c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// The credential report: the CSV itself, or the JSON `aws iam get-credential-report` prints
/// (`Content` base64, `GeneratedTime`). A CSV's time is the file's modification time.
pub fn credential_report(path: &Path) -> Result<CredentialReport> {
    let text = read(path, "credential report")?;
    let name = path.display();
    let (csv, generated) = if text.trim_start().starts_with('{') {
        let v: Value = serde_json::from_str(&text)
            .with_context(|| format!("credential report `{name}`: invalid JSON"))?;
        let content = v
            .get("Content")
            .and_then(Value::as_str)
            .with_context(|| format!("credential report `{name}`: no `Content` (the output of `aws iam get-credential-report`)"))?;
        let bytes = base64_decode(content)
            .with_context(|| format!("credential report `{name}`: `Content` is not base64"))?;
        let csv = String::from_utf8(bytes)
            .with_context(|| format!("credential report `{name}`: `Content` is not UTF-8"))?;
        let generated = v
            .get("GeneratedTime")
            .and_then(Value::as_str)
            .and_then(parse_time);
        (csv, generated)
    } else {
        (text, modified(path))
    };
    CredentialReport::parse_csv(&csv, generated)
        .with_context(|| format!("credential report `{name}`"))
}

/// Warden's record: a JSON array of its `held` records, or JSON Lines of them.
fn held(path: &Path) -> Result<Vec<Held>> {
    let text = read(path, "Warden's record")?;
    let name = path.display();
    if text.trim_start().starts_with('[') {
        return serde_json::from_str(&text).with_context(|| {
            format!("Warden's record `{name}`: not a JSON array of held records")
        });
    }
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).with_context(|| {
                format!(
                    "Warden's record `{name}`, line {}: not a held record",
                    i + 1
                )
            })
        })
        .collect()
}

/// Reads every file given, each error naming its file.
pub fn load(
    account: &Path,
    buckets: Option<&Path>,
    report: Option<&Path>,
    trails: Option<&Path>,
    held_file: Option<&Path>,
    access_keys: Option<&Path>,
    org_policies: Option<&Path>,
) -> Result<SweepFiles> {
    let text = read(account, "account")?;
    let snapshot =
        Snapshot::parse(&text).with_context(|| format!("account `{}`", account.display()))?;
    let buckets = buckets
        .map(|p| -> Result<Buckets> {
            let mut b = Buckets::parse(&read(p, "buckets")?)
                .with_context(|| format!("buckets `{}`", p.display()))?;
            if b.read_at.is_none() {
                b.read_at = modified(p);
            }
            Ok(b)
        })
        .transpose()?;
    let trails = trails
        .map(|p| {
            parse_trails(&read(p, "trails")?).with_context(|| format!("trails `{}`", p.display()))
        })
        .transpose()?;
    Ok(SweepFiles {
        snapshot_read_at: modified(account),
        credential_report: report.map(credential_report).transpose()?,
        buckets,
        trails,
        held: held_file.map(held).transpose()?.unwrap_or_default(),
        access_keys: access_keys
            .map(|p| {
                parse_access_keys(&read(p, "access keys")?)
                    .with_context(|| format!("access keys `{}`", p.display()))
            })
            .transpose()?,
        org_policies: org_policies
            .map(|p| -> Result<OrgPolicySet> {
                let set = OrgPolicySet::parse(&read(p, "organization policies")?)
                    .with_context(|| format!("organization policies `{}`", p.display()))?;
                if let Some(swept) = snapshot.account() {
                    set.check_account(&swept)
                        .with_context(|| format!("organization policies `{}`", p.display()))?;
                }
                Ok(set)
            })
            .transpose()?,
        snapshot,
    })
}

/// One JSON object a finding.
pub fn render_json(report: &SweepReport, out: &mut dyn Write) -> Result<()> {
    for f in &report.findings {
        writeln!(out, "{}", serde_json::to_string(f)?)?;
    }
    Ok(())
}

/// One line a finding, for people.
pub fn render_text(report: &SweepReport, out: &mut dyn Write) -> Result<()> {
    for f in &report.findings {
        let subject = f
            .principal
            .as_deref()
            .or(f.resource.as_deref())
            .unwrap_or("");
        let planned = match (f.response.changes.is_empty(), f.response.planned) {
            (true, _) => "",
            (false, true) => " (planned)",
            (false, false) => " (not planned)",
        };
        let action = serde_json::to_value(f.response.action)?;
        writeln!(
            out,
            "{:<18} {:<26} {subject}{}  → {}{planned}",
            f.kind.as_str(),
            f.finding_type,
            f.rule
                .as_deref()
                .map(|r| format!("  [{r}]"))
                .unwrap_or_default(),
            action.as_str().unwrap_or("")
        )?;
        if let Some(e) = f.evidence.first() {
            let more = match f.evidence.len() {
                1 => String::new(),
                n => format!(" (+{} more)", n - 1),
            };
            writeln!(out, "    {e}{more}")?;
        }
        if let Some(n) = &f.response.note {
            writeln!(out, "    {n}")?;
        }
    }
    Ok(())
}

/// The summary for people: counts by kind, the worst first, then the changes and the limit.
pub fn summary(report: &SweepReport, account: &str, max_changes: usize) -> String {
    let mut s = format!(
        "Swept account {}: {} findings\n",
        if account.is_empty() { "?" } else { account },
        report.findings.len()
    );
    for k in Kind::ALL {
        let of: Vec<_> = report.findings.iter().filter(|f| f.kind == k).collect();
        let mut types: std::collections::BTreeMap<&str, usize> = Default::default();
        for f in &of {
            *types.entry(f.finding_type.as_str()).or_default() += 1;
        }
        let detail: Vec<String> = types.iter().map(|(t, n)| format!("{t} {n}")).collect();
        s.push_str(&format!(
            "  {:<20}{:>6}{}\n",
            k.as_str(),
            of.len(),
            if detail.is_empty() {
                String::new()
            } else {
                format!("  ({})", detail.join(", "))
            }
        ));
    }
    s.push_str(&format!(
        "changes planned: {} (limit {max_changes})",
        report.planned_changes
    ));
    if report.over_limit > 0 {
        s.push_str(&format!(
            "; {} findings over the limit, not planned (--max-changes)",
            report.over_limit
        ));
    }
    for n in &report.notes {
        s.push_str(&format!("\nnote: {n}"));
    }
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn base64_as_the_credential_report_comes() {
        assert_eq!(base64_decode("dXNlcixhcm4K").unwrap(), b"user,arn\n");
        assert_eq!(base64_decode("YQ==").unwrap(), b"a");
        assert!(base64_decode("a*b").is_none());
    }
}
