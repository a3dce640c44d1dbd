//! Warden drift: what Warden holds in force (its own record, `held`) that the account no longer
//! shows in force — its Deny policy gone or changed, its managed Deny detached, its quarantine
//! gone, a key it set `Inactive` active again, a login profile it deleted back — and trails not
//! logging. The response is "put back": the live path's restore, from Warden's record.

use super::{Action, Change, Ctx, Finding, Kind, Response};
use crate::planner::{Placement, DENY_POLICY_NAME, QUARANTINE_POLICY_NAME};

pub(crate) fn findings(ctx: &Ctx<'_>) -> Vec<Finding> {
    let snap = ctx.input.snapshot;
    let age = ctx.age(ctx.input.snapshot_read_at);
    let mode = ctx.mode(None);
    let mut out = Vec::new();
    let put_back = |t: &str,
                    principal: &str,
                    actions: Vec<String>,
                    evidence: String,
                    step: &'static str,
                    target: &str,
                    rule: Option<&str>| Finding {
        kind: Kind::Drift,
        finding_type: t.to_owned(),
        rule: rule.map(str::to_owned),
        principal: Some(principal.to_owned()),
        resource: None,
        actions,
        evidence: vec![evidence],
        data_age_seconds: age,
        response: Response::change(
            mode,
            Action::PutBack,
            vec![Change {
                step,
                target: target.to_owned(),
                detail: Vec::new(),
                pairs: Vec::new(),
            }],
        ),
    };
    for h in ctx.input.held.iter().filter(|h| !h.is_empty()) {
        let Some(rec) = snap.principal(&h.principal) else {
            out.push(Finding {
                kind: Kind::Drift,
                finding_type: "PrincipalGone".to_owned(),
                rule: None,
                principal: Some(h.principal.clone()),
                resource: None,
                actions: Vec::new(),
                evidence: vec!["Warden holds something in force on this principal, and the snapshot does not have it: deleted?".to_owned()],
                data_age_seconds: age,
                response: Response::alert(mode, "nothing to put back on a principal that is gone: a person clears Warden's record (`warden release ARN`)"),
            });
            continue;
        };
        if let Some(expected) = h.document() {
            let actions: Vec<String> = h.denies.iter().map(|(a, _)| a.clone()).collect();
            match h.placement.unwrap_or(Placement::Inline) {
                Placement::Inline => {
                    let name = h.policy_name.as_deref().unwrap_or(DENY_POLICY_NAME);
                    match rec.inline.get(name) {
                        None => out.push(put_back("DenyMissing", &h.principal, actions, format!("Warden's inline policy `{name}` ({} Deny pairs) is gone", h.denies.len()), "put-back-deny", &h.principal, Some("warden-deny-removal"))),
                        Some(live) if live.to_json() != expected.to_json() => out.push(put_back("DenyChanged", &h.principal, actions, format!("Warden's inline policy `{name}` is not the document Warden's record renders"), "put-back-deny", &h.principal, Some("warden-deny-removal"))),
                        Some(_) => {}
                    }
                }
                Placement::Managed => {
                    let arn = h.managed_policy_arn().unwrap_or_default();
                    if !rec.attached.contains(&arn) {
                        out.push(put_back(
                            "DenyMissing",
                            &h.principal,
                            actions,
                            format!("Warden's managed policy `{arn}` is not attached"),
                            "put-back-deny",
                            &h.principal,
                            Some("warden-self-protection"),
                        ));
                    } else if snap
                        .managed
                        .get(&arn)
                        .is_some_and(|live| live.to_json() != expected.to_json())
                    {
                        out.push(put_back("DenyChanged", &h.principal, actions, format!("Warden's managed policy `{arn}` is not the document Warden's record renders"), "put-back-deny", &arn, Some("warden-self-protection")));
                    }
                }
            }
        }
        if h.quarantined && !rec.inline.contains_key(QUARANTINE_POLICY_NAME) {
            out.push(put_back(
                "QuarantineMissing",
                &h.principal,
                vec!["*".to_owned()],
                format!("Warden's quarantine `{QUARANTINE_POLICY_NAME}` is gone"),
                "put-back-quarantine",
                &h.principal,
                Some("warden-deny-removal"),
            ));
        }
        if let Some(keys) = ctx.input.access_keys {
            for id in &h.keys_inactive {
                if keys.iter().any(|k| &k.id == id && k.status == "Active") {
                    out.push(put_back(
                        "KeyReactivated",
                        &h.principal,
                        vec!["iam:UpdateAccessKey".to_owned()],
                        format!("access key `{id}`, which Warden set `Inactive`, is `Active`"),
                        "set-key-inactive",
                        &h.principal,
                        None,
                    ));
                }
            }
        }
        if h.login_profile_removed {
            let row = ctx.input.credential_report.and_then(|r| r.row(h.name()));
            if row.is_some_and(|r| r.password_enabled == Some(true)) {
                out.push(put_back("LoginProfileRecreated", &h.principal, vec!["iam:CreateLoginProfile".to_owned()], "Warden deleted this user's login profile, and the credential report shows a password again".to_owned(), "delete-login-profile", &h.principal, None));
            }
        }
    }
    for t in ctx
        .input
        .trails
        .into_iter()
        .flatten()
        .filter(|t| !t.is_logging)
    {
        let arn = t.arn.clone().unwrap_or_else(|| t.name.clone());
        out.push(Finding {
            kind: Kind::Drift,
            finding_type: "TrailNotLogging".to_owned(),
            rule: ctx.rule("cloudtrail-tampering").map(|r| r.id.clone()),
            principal: None,
            resource: Some(arn.clone()),
            actions: vec!["cloudtrail:StopLogging".to_owned()],
            evidence: vec![format!(
                "trail `{}` is not logging: events stop reaching Warden",
                t.name
            )],
            data_age_seconds: age,
            response: Response::change(
                mode,
                Action::PutBack,
                vec![Change {
                    step: "start-logging",
                    target: arn,
                    detail: Vec::new(),
                    pairs: Vec::new(),
                }],
            ),
        });
    }
    out
}
