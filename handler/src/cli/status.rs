//! `warden status`: what Warden has in force now, per principal, as its own record holds it (the
//! state table's `held#…` items, the record every Deny is rendered from), each with the command
//! that lifts it. Pure over the records; reading them is `commands`'.

use crate::stores::init::shell_quote;
use anyhow::Result;
use policy_rules::held::Held;
use policy_rules::planner::Placement;
use serde_json::{json, Value};
use std::io::Write;

/// The commands that lift what Warden holds on `h`, in the order to run them. `warden release`
/// lifts the Deny and the quarantine and clears Warden's record; a key stays `Inactive` and a
/// deleted login profile stays deleted until a person puts them back (after the release, that is
/// no longer tampering).
pub fn how_to_lift(h: &Held) -> Vec<String> {
    let arn = shell_quote(&h.principal);
    let user = shell_quote(h.name());
    let mut out = vec![format!("warden release {arn}")];
    for key in &h.keys_inactive {
        out.push(format!(
            "aws iam update-access-key --user-name {user} --access-key-id {} --status Active",
            shell_quote(key)
        ));
    }
    if h.login_profile_removed {
        out.push(format!(
            "aws iam create-login-profile --user-name {user} --password-reset-required --password …"
        ));
    }
    out
}

/// The principals Warden holds something on, by ARN (records emptied by a release are left out).
pub fn in_force(mut held: Vec<Held>) -> Vec<Held> {
    held.retain(|h| !h.is_empty());
    held.sort_by(|a, b| a.principal.cmp(&b.principal));
    held
}

fn placement(h: &Held) -> String {
    let name = h.policy_name.as_deref().unwrap_or("WardenDeny");
    match h.placement {
        Some(Placement::Managed) => format!(
            "Warden-owned managed policy `{}`",
            h.managed_policy_arn().unwrap_or_else(|| name.to_owned())
        ),
        _ => format!("inline policy `{name}`"),
    }
}

/// One principal's record as JSON.
pub fn to_json(h: &Held) -> Value {
    let has_deny = !h.denies.is_empty() || h.revoke_before.is_some();
    json!({
        "principal": h.principal,
        "deny": has_deny.then(|| json!({
            "policy": h.policy_name.as_deref().unwrap_or("WardenDeny"),
            "placement": h.placement.unwrap_or(Placement::Inline),
            "policy_arn": h.managed_policy_arn(),
            "denies": h.denies.iter().map(|(a, r)| json!({"action": a, "resource": r})).collect::<Vec<_>>(),
            "revoke_sessions_before": h.revoke_before,
        })),
        "quarantined": h.quarantined,
        "keys_inactive": h.keys_inactive,
        "login_profile_removed": h.login_profile_removed,
        "lift": how_to_lift(h),
    })
}

/// `warden status`: text for people, or one JSON object per principal.
pub fn render(held: &[Held], json: bool, out: &mut dyn Write) -> Result<()> {
    if json {
        for h in held {
            writeln!(out, "{}", to_json(h))?;
        }
        return Ok(());
    }
    if held.is_empty() {
        writeln!(out, "Warden holds nothing in force")?;
        return Ok(());
    }
    for h in held {
        writeln!(out, "{}", h.principal)?;
        if !h.denies.is_empty() {
            writeln!(out, "  Deny ({}):", placement(h))?;
            for (a, r) in &h.denies {
                writeln!(out, "    {a} on {r}")?;
            }
        }
        if let Some(t) = &h.revoke_before {
            writeln!(
                out,
                "  sessions issued before {t} revoked ({})",
                placement(h)
            )?;
        }
        if h.quarantined {
            writeln!(
                out,
                "  quarantined (inline policy `WardenQuarantine` denies everything)"
            )?;
        }
        for k in &h.keys_inactive {
            writeln!(out, "  access key {k} set Inactive")?;
        }
        if h.login_profile_removed {
            writeln!(out, "  console login profile deleted")?;
        }
        let lift = how_to_lift(h);
        writeln!(out, "  to lift:")?;
        for cmd in lift {
            writeln!(out, "    {cmd}")?;
        }
    }
    let n = held.len();
    writeln!(
        out,
        "Warden holds something in force on {n} principal{}",
        if n == 1 { "" } else { "s" }
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_holding_says_how_to_lift_it() {
        let mut h = Held::new("arn:aws:iam::123456789012:user/dev/mallory");
        h.denies.insert((
            "iam:PutRolePolicy".into(),
            "arn:aws:iam::123456789012:role/app-deploy".into(),
        ));
        h.placement = Some(Placement::Inline);
        h.policy_name = Some("WardenDeny".into());
        h.keys_inactive.insert("AKIAEXAMPLE".into());
        let empty = Held::new("arn:aws:iam::123456789012:role/released");
        let held = in_force(vec![empty, h]);
        assert_eq!(held.len(), 1);
        let mut out = Vec::new();
        render(&held, false, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "arn:aws:iam::123456789012:user/dev/mallory
  Deny (inline policy `WardenDeny`):
    iam:PutRolePolicy on arn:aws:iam::123456789012:role/app-deploy
  access key AKIAEXAMPLE set Inactive
  to lift:
    warden release arn:aws:iam::123456789012:user/dev/mallory
    aws iam update-access-key --user-name mallory --access-key-id AKIAEXAMPLE --status Active
Warden holds something in force on 1 principal
"
        );
        let j = to_json(&held[0]);
        assert_eq!(j["deny"]["denies"][0]["action"], "iam:PutRolePolicy");
        assert_eq!(
            j["lift"][0],
            "warden release arn:aws:iam::123456789012:user/dev/mallory"
        );
        let mut out = Vec::new();
        render(&[], false, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "Warden holds nothing in force\n"
        );
    }
}
