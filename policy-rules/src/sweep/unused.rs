//! Unused credentials and roles, named as IAM Access Analyzer names its unused-access findings
//! (`UnusedIAMUserAccessKey`, `UnusedIAMUserPassword`, `UnusedIAMRole`): an active access key or an
//! enabled password not used for the window (never used: older than the window), from the
//! credential report; a role not used for the window, from `RoleLastUsed`. Where the data cannot
//! tell, the finding is `INSUFFICIENT_DATA`: no credential report, a user the report does not
//! list (created after it), a key, password or role created within the window and not used yet,
//! or a window longer than IAM's role tracking period (400 days: "Role last used" in "View role
//! access", IAM user guide). Service-linked roles are left out, as Access Analyzer does; so is the
//! root user (Warden's `root` rules are about its calls, and it has no role to revoke).
//!
//! The response is an alert with the command a person runs: Warden does not deactivate or delete
//! on age alone.

use super::input::{Stamp, ROOT_ROW};
use super::{Ctx, Finding, Kind, Response, INSUFFICIENT_DATA};
use chrono::{DateTime, Duration, Utc};

/// IAM's tracking period for a role's last use.
pub(crate) const ROLE_TRACKING_DAYS: i64 = 400;

pub(crate) fn findings(ctx: &Ctx<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    let now = ctx.options.now;
    let days = i64::from(ctx.options.unused_days);
    let window = Duration::days(days);
    let snap = ctx.input.snapshot;
    let mode = ctx.mode(None);
    let finding = |t: &str,
                   principal: &str,
                   actions: Vec<String>,
                   evidence: String,
                   age: Option<i64>,
                   advice: String| Finding {
        kind: Kind::Unused,
        finding_type: t.to_owned(),
        rule: None,
        principal: Some(principal.to_owned()),
        resource: None,
        actions,
        evidence: vec![evidence],
        data_age_seconds: age,
        response: Response::alert(mode, advice),
    };
    let ago = |t: DateTime<Utc>| (now - t).num_days();
    // Users: from the credential report.
    match ctx.input.credential_report {
        None => {
            if !snap.users.is_empty() {
                out.push(finding(
                    INSUFFICIENT_DATA,
                    &format!("arn:{}:iam::{}:root", ctx.partition, ctx.account),
                    Vec::new(),
                    format!("no credential report: the access keys and passwords of {} users are not judged", snap.users.len()),
                    None,
                    "give a credential report (`aws iam generate-credential-report`, then `get-credential-report`)".to_owned(),
                ));
            }
        }
        Some(report) => {
            let age = ctx.age(report.generated);
            let rows: std::collections::HashMap<&str, &super::input::CredentialRow> =
                report.rows.iter().map(|r| (r.user.as_str(), r)).collect();
            for u in snap.users.values() {
                let Some(row) = rows.get(u.name.as_str()).copied() else {
                    out.push(finding(
                        INSUFFICIENT_DATA,
                        &u.arn,
                        Vec::new(),
                        "the credential report does not list this user (created after the report?)"
                            .to_owned(),
                        age,
                        "sweep again with a newer credential report".to_owned(),
                    ));
                    continue;
                };
                if row.user == ROOT_ROW {
                    continue;
                }
                for (n, key) in row.keys.iter().enumerate() {
                    if !key.active {
                        continue;
                    }
                    let slot = n + 1;
                    let advice = format!("deactivate it: `aws iam list-access-keys --user-name {}` names key {slot}; `aws iam update-access-key --user-name {} --access-key-id ID --status Inactive`", u.name, u.name);
                    match (key.last_used, key.last_rotated.time()) {
                        (Stamp::At(t), _) if now - t > window => out.push(finding("UnusedIAMUserAccessKey", &u.arn, vec![format!("access_key_{slot}")], format!("access key {slot} is active and was last used {t} ({} days ago; the window is {days})", ago(t)), age, advice)),
                        (Stamp::At(_), _) => {}
                        (_, Some(created)) if now - created > window => out.push(finding("UnusedIAMUserAccessKey", &u.arn, vec![format!("access_key_{slot}")], format!("access key {slot} is active, was created {created} ({} days ago) and never used", ago(created)), age, advice)),
                        (_, Some(created)) => out.push(finding(INSUFFICIENT_DATA, &u.arn, vec![format!("access_key_{slot}")], format!("access key {slot} was created {created}, within the {days}-day window, and not used yet"), age, "nothing to do yet".to_owned())),
                        (_, None) => out.push(finding(INSUFFICIENT_DATA, &u.arn, vec![format!("access_key_{slot}")], format!("access key {slot} is active; the report tells neither its last use nor its creation"), age, "a person must look".to_owned())),
                    }
                }
                if row.password_enabled == Some(true) {
                    let advice = format!("delete it if the user needs no console: `aws iam delete-login-profile --user-name {}`", u.name);
                    let set = row.password_last_changed.time().or(row.created.time());
                    match (row.password_last_used, set) {
                        (Stamp::At(t), _) if now - t > window => out.push(finding("UnusedIAMUserPassword", &u.arn, vec!["password".to_owned()], format!("the password was last used {t} ({} days ago; the window is {days})", ago(t)), age, advice)),
                        (Stamp::At(_), _) => {}
                        (Stamp::NotSupported | Stamp::Unknown, _) => out.push(finding(INSUFFICIENT_DATA, &u.arn, vec!["password".to_owned()], "the report does not tell the password's last use".to_owned(), age, "a person must look".to_owned())),
                        (_, Some(s)) if now - s > window => out.push(finding("UnusedIAMUserPassword", &u.arn, vec!["password".to_owned()], format!("the password was set {s} ({} days ago) and never used (`no_information`: not since IAM began tracking, October 2014)", ago(s)), age, advice)),
                        (_, Some(s)) => out.push(finding(INSUFFICIENT_DATA, &u.arn, vec!["password".to_owned()], format!("the password was set {s}, within the {days}-day window, and not used yet"), age, "nothing to do yet".to_owned())),
                        (_, None) => out.push(finding(INSUFFICIENT_DATA, &u.arn, vec!["password".to_owned()], "the password was never used, and the report does not tell when it was set".to_owned(), age, "a person must look".to_owned())),
                    }
                }
            }
        }
    }
    // Roles: from `RoleLastUsed`.
    let age = ctx.age(ctx.input.snapshot_read_at);
    for r in snap.roles.values() {
        if r.arn.contains(":role/aws-service-role/") {
            continue;
        }
        let advice = format!("review it, and delete it if nothing needs it: `aws iam delete-role --role-name {}` (after its policies and instance profiles)", r.name);
        let last = r.last_used.as_deref().and_then(super::input::parse_time);
        let created = r.created.as_deref().and_then(super::input::parse_time);
        match (last, created) {
            (Some(t), _) if now - t > window => out.push(finding("UnusedIAMRole", &r.arn, vec!["sts:AssumeRole".to_owned()], format!("last used {t} ({} days ago; the window is {days})", ago(t)), age, advice)),
            (Some(_), _) => {}
            (None, Some(c)) if now - c <= window => out.push(finding(INSUFFICIENT_DATA, &r.arn, Vec::new(), format!("created {c}, within the {days}-day window, and not used yet"), age, "nothing to do yet".to_owned())),
            (None, Some(_)) if days > ROLE_TRACKING_DAYS => out.push(finding(INSUFFICIENT_DATA, &r.arn, Vec::new(), format!("no use recorded, but IAM tracks a role's last use for {ROLE_TRACKING_DAYS} days only, less than the {days}-day window"), age, "a person must look".to_owned())),
            (None, Some(c)) => out.push(finding("UnusedIAMRole", &r.arn, vec!["sts:AssumeRole".to_owned()], format!("created {c} ({} days ago) and no use recorded in IAM's tracking period", ago(c)), age, advice)),
            (None, None) => out.push(finding(INSUFFICIENT_DATA, &r.arn, Vec::new(), "the snapshot tells neither the role's last use nor its creation".to_owned(), age, "sweep with `RoleLastUsed` and `CreateDate` (GAAD has both)".to_owned())),
        }
    }
    out
}
