//! What Warden has put in force on one principal, as Warden itself records it: the Deny pairs,
//! the revoke-older-sessions time, where the Deny lives (inline or a Warden-owned managed policy),
//! quarantine, keys it set `Inactive`, login profiles it removed. Every write of Warden's Deny is
//! rendered from this record, never from the live policy: deleting or rewriting `WardenDeny` by
//! hand cannot erase an earlier Deny, and an event that writes Warden's own document back cannot
//! make Warden's undo delete it.
//!
//! Also here: the statements that keep the denied principal from removing its own Deny, and
//! [`tamper`], which tells whether an event changed something Warden holds. Storing the record is
//! the handler's (the state table, or a file for the CLI).

use crate::arn::Arn;
use crate::event::Event;
use crate::planner::{
    managed_policy_arn, merge_deny, protect, Placement, DENY_POLICY_NAME, PROTECT_SID,
    QUARANTINE_POLICY_NAME, REVOKE_SID,
};
use crate::policy::{Effect, PolicyDocument, Scope};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// What Warden holds in force on one principal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Held {
    /// The principal's full ARN (account and path included).
    pub principal: String,
    /// The `(action, resource)` pairs Warden denies it.
    #[serde(default)]
    pub denies: BTreeSet<(String, String)>,
    /// Sessions issued before this time are revoked (roles).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoke_before: Option<String>,
    /// Where the Deny is: `None` until one is placed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
    /// The Deny's policy: `WardenDeny` inline, or the managed policy's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_name: Option<String>,
    /// The principal was created in violation and is quarantined (`WardenQuarantine`).
    #[serde(default)]
    pub quarantined: bool,
    /// Access keys of this user that Warden set `Inactive`.
    #[serde(default)]
    pub keys_inactive: BTreeSet<String>,
    /// Warden deleted this user's login profile.
    #[serde(default)]
    pub login_profile_removed: bool,
    /// Bumped on every write, for conditional updates.
    #[serde(default)]
    pub version: u64,
}

impl Held {
    pub fn new(principal: &str) -> Self {
        Held {
            principal: principal.to_owned(),
            ..Held::default()
        }
    }

    /// Whether Warden holds anything in force on the principal.
    pub fn is_empty(&self) -> bool {
        self.denies.is_empty()
            && self.revoke_before.is_none()
            && !self.quarantined
            && self.keys_inactive.is_empty()
            && !self.login_profile_removed
    }

    /// Whether the principal is a role (else a user).
    pub fn is_role(&self) -> bool {
        Arn::parse(&self.principal).is_some_and(|a| a.resource.starts_with("role/"))
    }

    /// The principal's name (the last part of its ARN).
    pub fn name(&self) -> &str {
        self.principal.rsplit('/').next().unwrap_or("")
    }

    /// The ARN of the Warden-owned managed policy, when the Deny is there.
    pub fn managed_policy_arn(&self) -> Option<String> {
        if self.placement != Some(Placement::Managed) {
            return None;
        }
        let a = Arn::parse(&self.principal)?;
        Some(managed_policy_arn(
            a.partition,
            a.account,
            self.policy_name.as_deref()?,
        ))
    }

    /// The Deny pairs a Warden document holds (its protecting and revoke-sessions statements
    /// aside): how Warden's record is set back when a change of its own is rolled back to the
    /// document Warden itself wrote before.
    pub fn denies_in(doc: &PolicyDocument) -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::new();
        for st in &doc.statements {
            let ours = st
                .sid
                .as_deref()
                .is_some_and(|x| x.starts_with(PROTECT_SID) || x == REVOKE_SID);
            if ours || st.effect != Effect::Deny || !st.condition.is_empty() {
                continue;
            }
            if let (Scope::Only(actions), Some(Scope::Only(resources))) = (&st.action, &st.resource)
            {
                for a in actions {
                    for r in resources {
                        out.insert((a.clone(), r.clone()));
                    }
                }
            }
        }
        out
    }

    /// The pairs as the planner takes them.
    pub fn pairs(&self) -> Vec<(String, Vec<String>)> {
        let mut by_action: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (a, r) in &self.denies {
            by_action.entry(a).or_default().push(r.clone());
        }
        by_action
            .into_iter()
            .map(|(a, r)| (a.to_owned(), r))
            .collect()
    }

    /// The Deny document as Warden holds it, protection included, or `None` when it holds no Deny.
    pub fn document(&self) -> Option<PolicyDocument> {
        if self.denies.is_empty() && self.revoke_before.is_none() {
            return None;
        }
        let mut doc = merge_deny(None, &self.pairs(), self.revoke_before.as_deref());
        let placement = self.placement.unwrap_or(Placement::Inline);
        protect(
            &mut doc,
            &self.principal,
            placement,
            self.managed_policy_arn().as_deref(),
        );
        Some(doc)
    }
}

/// The key of a principal's record: `ACCOUNT:user/NAME` or `ACCOUNT:role/NAME` (a name is unique in
/// an account whatever its path, and an event may name a principal without its path).
pub fn key(principal_arn: &str) -> Option<String> {
    let a = Arn::parse(principal_arn)?;
    let (kind, rest) = a.resource.split_once('/')?;
    if kind != "user" && kind != "role" {
        return None;
    }
    let name = rest.rsplit('/').next()?;
    Some(key_of(a.account, kind == "role", name))
}

/// The key of the user or role `name` of `account`.
pub fn key_of(account: &str, is_role: bool, name: &str) -> String {
    let kind = if is_role { "role" } else { "user" };
    format!("{account}:{kind}/{name}")
}

/// What an event did to something Warden holds in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tampering {
    /// Deleted, rewrote, detached or re-versioned Warden's Deny (or quarantine) policy.
    Deny(String),
    /// Re-activated an access key Warden set `Inactive`.
    Key(String),
    /// Re-created a login profile Warden removed.
    LoginProfile,
}

impl Tampering {
    pub fn describe(&self) -> String {
        match self {
            Tampering::Deny(what) => what.clone(),
            Tampering::Key(id) => {
                format!("re-activated access key `{id}`, which Warden set `Inactive`")
            }
            Tampering::LoginProfile => "re-created the login profile Warden removed".to_owned(),
        }
    }
}

/// The principal an IAM event acts on, as `(is_role, name)`, from its request: the holder of an
/// inline or attached policy, the user of a key or login profile, or the principal whose
/// Warden-owned managed policy it names.
pub fn acted_on(event: &Event<'_>) -> Option<(bool, String)> {
    if event.source() != "iam.amazonaws.com" {
        return None;
    }
    let params: Value = serde_json::from_str(event.record.request_parameters?.get()).ok()?;
    let field = |k: &str| params.get(k).and_then(Value::as_str).map(str::to_owned);
    if let Some(r) = field("roleName") {
        return Some((true, r));
    }
    if let Some(u) = field("userName") {
        return Some((false, u));
    }
    // `…:policy/warden/WardenDeny-{user|role}-NAME`
    let arn = field("policyArn")?;
    let rest = Arn::parse(&arn)?
        .resource
        .strip_prefix("policy/warden/")?
        .strip_prefix(DENY_POLICY_NAME)?
        .strip_prefix('-')?
        .to_owned();
    let (kind, name) = rest.split_once('-')?;
    Some((kind == "role", name.to_owned()))
}

/// Whether `event` (a successful call) changed what Warden holds in force on `held`'s principal.
pub fn tamper(event: &Event<'_>, held: &Held) -> Option<Tampering> {
    if event.source() != "iam.amazonaws.com" || event.record.error_code.is_some() {
        return None;
    }
    let params: Value = event
        .record
        .request_parameters
        .and_then(|r| serde_json::from_str(r.get()).ok())?;
    let field = |k: &str| params.get(k).and_then(Value::as_str);
    let name = event.name();
    let inline_name = field("policyName");
    let ours_inline = |n: Option<&str>| match n {
        Some(n) if n == DENY_POLICY_NAME => held.document().is_some(),
        Some(n) if n == QUARANTINE_POLICY_NAME => held.quarantined,
        _ => false,
    };
    match name {
        "DeleteUserPolicy" | "DeleteRolePolicy" if ours_inline(inline_name) => {
            Some(Tampering::Deny(format!(
                "deleted Warden's inline policy `{}`",
                inline_name.unwrap_or("")
            )))
        }
        "PutUserPolicy" | "PutRolePolicy" if ours_inline(inline_name) => {
            Some(Tampering::Deny(format!(
                "rewrote Warden's inline policy `{}`",
                inline_name.unwrap_or("")
            )))
        }
        "DetachUserPolicy"
        | "DetachRolePolicy"
        | "CreatePolicyVersion"
        | "SetDefaultPolicyVersion"
        | "DeletePolicyVersion"
        | "DeletePolicy" => {
            let ours = held.managed_policy_arn()?;
            (field("policyArn") == Some(ours.as_str()))
                .then(|| Tampering::Deny(format!("`{name}` on Warden's managed policy `{ours}`")))
        }
        "UpdateAccessKey" => {
            let id = field("accessKeyId")?;
            (field("status") == Some("Active") && held.keys_inactive.contains(id))
                .then(|| Tampering::Key(id.to_owned()))
        }
        "CreateLoginProfile" => held
            .login_profile_removed
            .then_some(Tampering::LoginProfile),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluate::{evaluate, Answer, Policies, Request, RequestContext};
    use crate::planner::managed_policy_name;
    use proptest::prelude::*;

    const ACCOUNT: &str = "111122223333";

    fn denied(
        doc: &PolicyDocument,
        principal: &str,
        action: &str,
        resource: &str,
        policy_arn: Option<&str>,
    ) -> bool {
        let allow_all = PolicyDocument::parse(
            r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
        )
        .unwrap();
        let ctx = match policy_arn {
            Some(arn) => RequestContext::complete().with("iam:PolicyARN", &[arn]),
            None => RequestContext::complete(),
        };
        evaluate(
            &Request {
                principal_arn: principal,
                principal_account: ACCOUNT,
                action,
                resource,
                context: &ctx,
                ..Default::default()
            },
            &Policies {
                identity: &[("allow", &allow_all), ("warden", doc)],
                boundary: None,
                resource: None,
                ..Default::default()
            },
        )
        .answer
            == Answer::ExplicitDeny
    }

    fn name() -> impl Strategy<Value = String> {
        "[A-Za-z0-9+=,.@_-]{1,16}"
    }

    fn path() -> impl Strategy<Value = String> {
        prop_oneof![Just("/".to_owned()), "/[a-z]{1,6}/".prop_map(|p| p)]
    }

    proptest! {
        // INVARIANT (deny-self-protected): the principal Warden denies cannot remove, detach,
        // rewrite or version its Deny, and the protecting statements deny it nothing else.
        #[test]
        fn the_denied_principal_cannot_lift_its_deny_and_nothing_else_is_denied(
            n in name(),
            p in path(),
            role in any::<bool>(),
            managed in any::<bool>(),
            other in name(),
            bucket in "[a-z0-9]{3,12}",
        ) {
            let kind = if role { "role" } else { "user" };
            let title = if role { "Role" } else { "User" };
            let principal = format!("arn:aws:iam::{ACCOUNT}:{kind}{p}{n}");
            let mut held = Held::new(&principal);
            let protected_bucket = format!("arn:aws:s3:::{bucket}");
            held.denies.insert(("s3:PutBucketPolicy".to_owned(), protected_bucket.clone()));
            held.placement = Some(if managed { Placement::Managed } else { Placement::Inline });
            held.policy_name = Some(if managed { managed_policy_name(&principal) } else { DENY_POLICY_NAME.to_owned() });
            let doc = held.document().unwrap();
            let policy_arn = managed_policy_arn("aws", ACCOUNT, &managed_policy_name(&principal));
            let other_policy = format!("arn:aws:iam::{ACCOUNT}:policy/{other}");
            let other_principal = format!("arn:aws:iam::{ACCOUNT}:{kind}/{other}x");
            // The Deny itself holds.
            prop_assert!(denied(&doc, &principal, "s3:PutBucketPolicy", &protected_bucket, None));
            if managed {
                let detach = format!("iam:Detach{title}Policy");
                prop_assert!(denied(&doc, &principal, &detach, &principal, Some(&policy_arn)));
                // Detaching another policy from itself stays allowed.
                prop_assert!(!denied(&doc, &principal, &detach, &principal, Some(&other_policy)));
                for a in ["iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:DeletePolicyVersion", "iam:DeletePolicy"] {
                    prop_assert!(denied(&doc, &principal, a, &policy_arn, None));
                    prop_assert!(!denied(&doc, &principal, a, &other_policy, None));
                }
                let put = format!("iam:Put{title}Policy");
                prop_assert!(!denied(&doc, &principal, &put, &principal, None));
            } else {
                for a in [format!("iam:Delete{title}Policy"), format!("iam:Put{title}Policy")] {
                    prop_assert!(denied(&doc, &principal, &a, &principal, None));
                    // The same writes on another principal stay allowed.
                    prop_assert!(!denied(&doc, &principal, &a, &other_principal, None));
                }
            }
            // Nothing else: other actions on itself, and the protected action elsewhere.
            let get = format!("iam:Get{title}Policy");
            let neighbour = format!("{protected_bucket}x");
            prop_assert!(!denied(&doc, &principal, &get, &principal, None));
            prop_assert!(!denied(&doc, &principal, "iam:ListUsers", "*", None));
            prop_assert!(!denied(&doc, &principal, "s3:PutBucketPolicy", &neighbour, None));
        }
    }

    #[test]
    fn the_document_is_rendered_from_the_record_alone() {
        let mut held = Held::new("arn:aws:iam::111122223333:user/ops/bob");
        held.denies.insert((
            "iam:PutRolePolicy".to_owned(),
            "arn:aws:iam::111122223333:role/app".to_owned(),
        ));
        held.denies.insert((
            "s3:PutBucketPolicy".to_owned(),
            "arn:aws:s3:::data".to_owned(),
        ));
        let doc = held.document().unwrap();
        let text = serde_json::to_string(&doc).unwrap();
        assert!(
            text.contains("role/app") && text.contains(":::data"),
            "{text}"
        );
        assert!(text.contains(PROTECT_SID));
        assert_eq!(
            held.document(),
            Some(doc.clone()),
            "the same record renders the same bytes"
        );
        assert!(Held::new("arn:aws:iam::1:user/x").document().is_none());
        // What a rolled-back change's before-state holds is read back without Warden's own
        // protecting statements.
        assert_eq!(Held::denies_in(&doc), held.denies);
    }
}
