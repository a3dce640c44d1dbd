//! The policies of an IAM policy holder (a user, a role or a group), one generic implementation
//! behind the `iam_user`, `iam_role` and `iam_group` connectors and the live account reader: listing
//! (every page) and reading inline policies, listing attached managed policies, a role's trust
//! policy, putting and deleting inline policies, attaching and detaching, Warden's managed Deny
//! (`warden:PutManagedDeny`), and the snapshot / apply / verify / restore logic that is the same for
//! the three kinds. What differs between them (the SDK operation per kind) is one `match` per call
//! here; the connector files only name their kind and calls. Nothing here decides what to change.
//!
//! State shape: `{"inline": {name: compact document}, "attached": [sorted ARNs]}`, plus `"trust"`
//! (the compact trust policy) for a role.
//!
//! API calls, for a holder with N inline and M attached policies (one page each): `snapshot` 2 + N
//! (3 + N for a role: GetRole for the trust policy); `apply` 1 (0 when skipped);
//! `warden:PutManagedDeny` (users and roles) 2–6 (GetUser or GetRole, GetPolicy, then
//! CreatePolicy, or GetPolicyVersion and, when the document differs, CreatePolicyVersion after
//! ListPolicyVersions and possibly DeletePolicyVersion; Attach*Policy when not attached); `verify`
//! as `snapshot` (+3 for the managed fallback).

use super::{
    compact, document_param, param, Applied, Connector, ConnectorError, State, Step, Target,
    Verification,
};
use crate::aws::{AwsError, Clients};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The path of Warden-owned managed policies.
pub(crate) const WARDEN_POLICY_PATH: &str = "/warden/";

/// IAM keeps at most five versions of a managed policy ("IAM and AWS STS quotas").
const MAX_POLICY_VERSIONS: usize = 5;

/// A kind of IAM policy holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Holder {
    User,
    Role,
    Group,
}

impl Holder {
    /// The connector's kind.
    pub(crate) fn kind(self) -> &'static str {
        match self {
            Holder::User => "iam_user",
            Holder::Role => "iam_role",
            Holder::Group => "iam_group",
        }
    }

    /// The calls the holder's connector applies.
    fn calls(self) -> &'static [&'static str] {
        match self {
            Holder::User => &[
                "iam:PutUserPolicy",
                "iam:DeleteUserPolicy",
                "iam:DetachUserPolicy",
                "iam:AttachUserPolicy",
                "warden:PutManagedDeny",
            ],
            Holder::Role => &[
                "iam:PutRolePolicy",
                "iam:DeleteRolePolicy",
                "iam:DetachRolePolicy",
                "iam:AttachRolePolicy",
                "iam:UpdateAssumeRolePolicy",
                "warden:PutManagedDeny",
            ],
            // A group takes no managed Deny: who is in it is the `group_membership` connector.
            Holder::Group => &[
                "iam:PutGroupPolicy",
                "iam:DeleteGroupPolicy",
                "iam:DetachGroupPolicy",
                "iam:AttachGroupPolicy",
            ],
        }
    }

    /// The step parameter naming the holder.
    pub(crate) fn key(self) -> &'static str {
        match self {
            Holder::User => "UserName",
            Holder::Role => "RoleName",
            Holder::Group => "GroupName",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Holder::User => "user",
            Holder::Role => "role",
            Holder::Group => "group",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Holder::User => "User",
            Holder::Role => "Role",
            Holder::Group => "Group",
        }
    }
}

/// A permanent error for a document IAM returned that does not read as a policy.
pub(crate) fn unreadable(operation: &'static str, what: &str, why: &str) -> AwsError {
    AwsError::unreadable(
        "iam",
        operation,
        format!("{what} does not read as a policy document: {why}"),
    )
}

/// One page of a listing: items, and the marker of the next page when there is one.
fn next_marker(truncated: bool, marker: Option<&str>) -> Option<String> {
    marker.filter(|_| truncated).map(str::to_owned)
}

/// Sends the holder kind's variant of an IAM operation through the client layer. The three
/// `"Operation" builder_method` pairs name it for users, roles and groups; `|req| …` finishes the
/// builder (the holder already named on it); `|out| …` reads the [`Called`](crate::aws::Called)
/// output. The SDK types differ per kind, so both are expanded in each arm.
macro_rules! per_holder {
    ($c:expr, $h:expr, $name:expr,
     [$user_op:literal $user:ident, $role_op:literal $role:ident, $group_op:literal $group:ident],
     |$req:ident| $build:expr, |$out:ident| $then:expr) => {
        match $h {
            Holder::User => {
                let $out = $c
                    .caller
                    .call("iam", $user_op, || {
                        let $req = $c.iam.$user().user_name($name);
                        $build.send()
                    })
                    .await?;
                $then
            }
            Holder::Role => {
                let $out = $c
                    .caller
                    .call("iam", $role_op, || {
                        let $req = $c.iam.$role().role_name($name);
                        $build.send()
                    })
                    .await?;
                $then
            }
            Holder::Group => {
                let $out = $c
                    .caller
                    .call("iam", $group_op, || {
                        let $req = $c.iam.$group().group_name($name);
                        $build.send()
                    })
                    .await?;
                $then
            }
        }
    };
}

/// The names of the holder's inline policies, every page, sorted.
pub(crate) async fn inline_names(
    c: &Clients,
    h: Holder,
    name: &str,
) -> Result<Vec<String>, AwsError> {
    let mut names = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let m = marker.clone();
        let next = per_holder!(
            c,
            h,
            name,
            [
                "ListUserPolicies" list_user_policies,
                "ListRolePolicies" list_role_policies,
                "ListGroupPolicies" list_group_policies
            ],
            |req| req.set_marker(m.clone()),
            |out| {
                names.extend(out.value.policy_names().iter().cloned());
                next_marker(out.value.is_truncated(), out.value.marker())
            }
        );
        match next {
            Some(n) => marker = Some(n),
            None => break,
        }
    }
    names.sort();
    Ok(names)
}

/// One inline policy's document as IAM returns it (URL-encoded JSON).
pub(crate) async fn inline_document(
    c: &Clients,
    h: Holder,
    name: &str,
    policy: &str,
) -> Result<String, AwsError> {
    Ok(per_holder!(
        c,
        h,
        name,
        [
            "GetUserPolicy" get_user_policy,
            "GetRolePolicy" get_role_policy,
            "GetGroupPolicy" get_group_policy
        ],
        |req| req.policy_name(policy),
        |out| out.value.policy_document
    ))
}

/// Every inline policy of the holder, name → document as IAM returns it: one listing (per page)
/// and one read per policy.
pub(crate) async fn inline_documents(
    c: &Clients,
    h: Holder,
    name: &str,
) -> Result<BTreeMap<String, String>, AwsError> {
    let mut out = BTreeMap::new();
    for policy in inline_names(c, h, name).await? {
        let doc = inline_document(c, h, name, &policy).await?;
        out.insert(policy, doc);
    }
    Ok(out)
}

/// The ARNs of the holder's attached managed policies, every page, sorted.
pub(crate) async fn attached_arns(
    c: &Clients,
    h: Holder,
    name: &str,
) -> Result<Vec<String>, AwsError> {
    let mut arns = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let m = marker.clone();
        let next = per_holder!(
            c,
            h,
            name,
            [
                "ListAttachedUserPolicies" list_attached_user_policies,
                "ListAttachedRolePolicies" list_attached_role_policies,
                "ListAttachedGroupPolicies" list_attached_group_policies
            ],
            |req| req.set_marker(m.clone()),
            |out| {
                arns.extend(
                    out.value
                        .attached_policies()
                        .iter()
                        .filter_map(|p| p.policy_arn().map(str::to_owned)),
                );
                next_marker(out.value.is_truncated(), out.value.marker())
            }
        );
        match next {
            Some(n) => marker = Some(n),
            None => break,
        }
    }
    arns.sort();
    arns.dedup();
    Ok(arns)
}

async fn put_inline(
    c: &Clients,
    h: Holder,
    name: &str,
    policy: &str,
    document: &str,
) -> Result<Option<String>, AwsError> {
    Ok(per_holder!(
        c,
        h,
        name,
        [
            "PutUserPolicy" put_user_policy,
            "PutRolePolicy" put_role_policy,
            "PutGroupPolicy" put_group_policy
        ],
        |req| req.policy_name(policy).policy_document(document),
        |out| out.request_id
    ))
}

async fn delete_inline(
    c: &Clients,
    h: Holder,
    name: &str,
    policy: &str,
) -> Result<Option<String>, AwsError> {
    Ok(per_holder!(
        c,
        h,
        name,
        [
            "DeleteUserPolicy" delete_user_policy,
            "DeleteRolePolicy" delete_role_policy,
            "DeleteGroupPolicy" delete_group_policy
        ],
        |req| req.policy_name(policy),
        |out| out.request_id
    ))
}

async fn attach(c: &Clients, h: Holder, name: &str, arn: &str) -> Result<Option<String>, AwsError> {
    Ok(per_holder!(
        c,
        h,
        name,
        [
            "AttachUserPolicy" attach_user_policy,
            "AttachRolePolicy" attach_role_policy,
            "AttachGroupPolicy" attach_group_policy
        ],
        |req| req.policy_arn(arn),
        |out| out.request_id
    ))
}

async fn detach(c: &Clients, h: Holder, name: &str, arn: &str) -> Result<Option<String>, AwsError> {
    Ok(per_holder!(
        c,
        h,
        name,
        [
            "DetachUserPolicy" detach_user_policy,
            "DetachRolePolicy" detach_role_policy,
            "DetachGroupPolicy" detach_group_policy
        ],
        |req| req.policy_arn(arn),
        |out| out.request_id
    ))
}

/// A role's trust policy as IAM returns it, with the role's ARN.
pub(crate) async fn get_role(
    c: &Clients,
    name: &str,
) -> Result<aws_sdk_iam::types::Role, AwsError> {
    c.caller
        .call("iam", "GetRole", || c.iam.get_role().role_name(name).send())
        .await?
        .value
        .role
        .ok_or_else(|| {
            unreadable(
                "GetRole",
                &format!("role `{name}`"),
                "no role in the answer",
            )
        })
}

/// A user, with its ARN (path included) and permissions boundary.
pub(crate) async fn get_user(
    c: &Clients,
    name: &str,
) -> Result<aws_sdk_iam::types::User, AwsError> {
    c.caller
        .call("iam", "GetUser", || c.iam.get_user().user_name(name).send())
        .await?
        .value
        .user
        .ok_or_else(|| {
            unreadable(
                "GetUser",
                &format!("user `{name}`"),
                "no user in the answer",
            )
        })
}

/// A holder's state, as its connector stores it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct HolderState {
    /// Policy name → compact document.
    pub(crate) inline: BTreeMap<String, Value>,
    /// Attached managed policy ARNs, sorted.
    pub(crate) attached: Vec<String>,
    /// A role's trust policy, compact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) trust: Option<Value>,
}

impl HolderState {
    fn from_state(target: &Target, state: &State) -> Result<Self, ConnectorError> {
        serde_json::from_value(state.clone()).map_err(|e| ConnectorError::State {
            target: target.to_string(),
            why: format!("not a policy holder's state: {e}"),
        })
    }

    fn to_state(&self) -> State {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

fn state_error(target: &Target, why: String) -> ConnectorError {
    ConnectorError::State {
        target: target.to_string(),
        why,
    }
}

/// Reads a holder's state: for N inline and M attached policies, 1 + N + 1 calls (one page each),
/// plus `GetRole` for a role's trust policy.
pub(crate) async fn read(
    c: &Clients,
    h: Holder,
    target: &Target,
) -> Result<HolderState, ConnectorError> {
    let name = target.name.as_str();
    let mut inline = BTreeMap::new();
    for (policy, raw) in inline_documents(c, h, name).await? {
        let doc = compact(&Value::String(raw))
            .map_err(|why| state_error(target, format!("inline policy `{policy}`: {why}")))?;
        inline.insert(policy, doc);
    }
    let attached = attached_arns(c, h, name).await?;
    let trust = match h {
        Holder::Role => {
            let role = get_role(c, name).await?;
            let raw = role.assume_role_policy_document().unwrap_or_default();
            Some(
                compact(&Value::String(raw.to_owned()))
                    .map_err(|why| state_error(target, format!("trust policy: {why}")))?,
            )
        }
        _ => None,
    };
    Ok(HolderState {
        inline,
        attached,
        trust,
    })
}

pub(crate) async fn snapshot(
    c: &Clients,
    h: Holder,
    target: &Target,
) -> Result<State, ConnectorError> {
    Ok(read(c, h, target).await?.to_state())
}

/// The change a step asks of a holder.
enum Change {
    PutInline { policy: String, document: Value },
    DeleteInline { policy: String },
    Attach { arn: String },
    Detach { arn: String },
    Trust { document: Value },
    ManagedDeny { policy: String, document: Value },
}

fn change(h: Holder, step: &Step) -> Result<Change, ConnectorError> {
    let t = h.title();
    let call = step.call.as_str();
    if call == "warden:PutManagedDeny" && h != Holder::Group {
        return Ok(Change::ManagedDeny {
            policy: param(step, "PolicyName")?.to_owned(),
            document: document_param(step, "PolicyDocument")?,
        });
    }
    if call == format!("iam:Put{t}Policy") {
        Ok(Change::PutInline {
            policy: param(step, "PolicyName")?.to_owned(),
            document: document_param(step, "PolicyDocument")?,
        })
    } else if call == format!("iam:Delete{t}Policy") {
        Ok(Change::DeleteInline {
            policy: param(step, "PolicyName")?.to_owned(),
        })
    } else if call == format!("iam:Attach{t}Policy") {
        Ok(Change::Attach {
            arn: param(step, "PolicyArn")?.to_owned(),
        })
    } else if call == format!("iam:Detach{t}Policy") {
        Ok(Change::Detach {
            arn: param(step, "PolicyArn")?.to_owned(),
        })
    } else if call == "iam:UpdateAssumeRolePolicy" && h == Holder::Role {
        Ok(Change::Trust {
            document: document_param(step, "PolicyDocument")?,
        })
    } else {
        Err(ConnectorError::step(
            step,
            format!("not a call on a {}'s policies", h.noun()),
        ))
    }
}

/// The step's target: the holder its `UserName`/`RoleName`/`GroupName` names.
pub(crate) fn target(kind: &'static str, h: Holder, step: &Step) -> Result<Target, ConnectorError> {
    change(h, step)?;
    Ok(Target {
        connector: kind.to_owned(),
        name: param(step, h.key())?.to_owned(),
    })
}

/// Whether the live document differs from the one the step expects to find (`step.expect`).
fn expect_mismatch(step: &Step, live: Option<&Value>) -> Result<Option<String>, ConnectorError> {
    let Some(expect) = step.expect.as_ref() else {
        return Ok(None);
    };
    if *expect == policy_rules::planner::expect_absent() {
        return Ok(live.map(|_| "a policy of that name exists again".to_owned()));
    }
    let expect =
        compact(expect).map_err(|why| ConnectorError::step(step, format!("`expect`: {why}")))?;
    Ok(match live {
        Some(l) if *l == expect => None,
        Some(_) => Some("the live document is no longer the one the event wrote".to_owned()),
        None => Some("the document the event wrote is gone".to_owned()),
    })
}

fn skipped(why: impl Into<String>) -> Applied {
    Applied::Skipped { why: why.into() }
}

fn changed(ids: Vec<Option<String>>) -> Applied {
    Applied::Changed {
        request_ids: ids.into_iter().flatten().collect(),
    }
}

pub(crate) async fn apply(
    c: &Clients,
    h: Holder,
    target: &Target,
    step: &Step,
    before: &State,
) -> Result<Applied, ConnectorError> {
    let live = HolderState::from_state(target, before)?;
    let name = target.name.as_str();
    Ok(match change(h, step)? {
        Change::PutInline { policy, document } => {
            let current = live.inline.get(&policy);
            if current == Some(&document) {
                skipped(format!(
                    "inline policy `{policy}` already holds the document"
                ))
            } else if let Some(why) = (!super::WARDEN_POLICY_NAMES.contains(&policy.as_str()))
                .then(|| expect_mismatch(step, current))
                .transpose()?
                .flatten()
            {
                skipped(format!("inline policy `{policy}`: {why}"))
            } else {
                changed(vec![
                    put_inline(c, h, name, &policy, &document.to_string()).await?,
                ])
            }
        }
        Change::DeleteInline { policy } => match live.inline.get(&policy) {
            None => skipped(format!("inline policy `{policy}` is already gone")),
            Some(current) => match expect_mismatch(step, Some(current))? {
                Some(why) => skipped(format!("inline policy `{policy}`: {why}")),
                None => changed(vec![delete_inline(c, h, name, &policy).await?]),
            },
        },
        Change::Attach { arn } => {
            if live.attached.contains(&arn) {
                skipped(format!("`{arn}` is already attached"))
            } else {
                changed(vec![attach(c, h, name, &arn).await?])
            }
        }
        Change::Detach { arn } => {
            if live.attached.contains(&arn) {
                changed(vec![detach(c, h, name, &arn).await?])
            } else {
                skipped(format!("`{arn}` is no longer attached"))
            }
        }
        Change::Trust { document } => {
            let current = live.trust.as_ref();
            if current == Some(&document) {
                skipped("the trust policy already holds the document")
            } else if let Some(why) = expect_mismatch(step, current)? {
                skipped(format!("trust policy: {why}"))
            } else {
                let text = document.to_string();
                let id = c
                    .caller
                    .call("iam", "UpdateAssumeRolePolicy", || {
                        c.iam
                            .update_assume_role_policy()
                            .role_name(name)
                            .policy_document(&text)
                            .send()
                    })
                    .await?
                    .request_id;
                changed(vec![id])
            }
        }
        Change::ManagedDeny { policy, document } => {
            let arn = managed_arn(c, h, name, &policy).await?;
            let mut ids = put_managed(c, &arn, &policy, &document).await?;
            if !live.attached.contains(&arn) {
                ids.push(attach(c, h, name, &arn).await?);
            }
            if ids.is_empty() {
                skipped(format!(
                    "`{arn}` already holds the document and is attached"
                ))
            } else {
                changed(ids)
            }
        }
    })
}

/// The ARN of the Warden-owned managed policy `policy`, in the holder's account and partition.
async fn managed_arn(c: &Clients, h: Holder, name: &str, policy: &str) -> Result<String, AwsError> {
    let holder_arn = match h {
        Holder::Role => get_role(c, name).await?.arn().to_owned(),
        _ => get_user(c, name).await?.arn().to_owned(),
    };
    let parsed = policy_rules::arn::Arn::parse(&holder_arn)
        .ok_or_else(|| unreadable("GetUser", &format!("ARN `{holder_arn}`"), "not an ARN"))?;
    Ok(format!(
        "arn:{}:iam::{}:policy{WARDEN_POLICY_PATH}{policy}",
        parsed.partition, parsed.account
    ))
}

/// The default version's compact document of a managed policy; `None` when it does not exist.
pub(crate) async fn managed_document(
    c: &Clients,
    arn: &str,
) -> Result<Option<(String, Value)>, AwsError> {
    let policy = match c
        .caller
        .call("iam", "GetPolicy", || {
            c.iam.get_policy().policy_arn(arn).send()
        })
        .await
    {
        Ok(o) => o.value.policy,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e),
    };
    let Some(version) = policy.and_then(|p| p.default_version_id) else {
        return Ok(None);
    };
    let raw = c
        .caller
        .call("iam", "GetPolicyVersion", || {
            c.iam
                .get_policy_version()
                .policy_arn(arn)
                .version_id(&version)
                .send()
        })
        .await?
        .value
        .policy_version
        .and_then(|v| v.document)
        .unwrap_or_default();
    let doc = compact(&Value::String(raw))
        .map_err(|why| unreadable("GetPolicyVersion", &format!("`{arn}`"), &why))?;
    Ok(Some((version, doc)))
}

/// Makes `document` the default version of the Warden-owned policy at `arn`, creating the policy
/// when absent. Returns the request ids of the calls that changed something (none when it already
/// held the document).
async fn put_managed(
    c: &Clients,
    arn: &str,
    policy: &str,
    document: &Value,
) -> Result<Vec<Option<String>>, AwsError> {
    let text = document.to_string();
    let current = managed_document(c, arn).await?;
    let mut ids = Vec::new();
    match current {
        None => {
            let id = c
                .caller
                .call("iam", "CreatePolicy", || {
                    c.iam
                        .create_policy()
                        .policy_name(policy)
                        .path(WARDEN_POLICY_PATH)
                        .policy_document(&text)
                        .description("Warden's Deny (managed fallback); managed by Warden")
                        .send()
                })
                .await?
                .request_id;
            ids.push(id);
        }
        Some((_, live)) if &live == document => {}
        Some(_) => {
            let versions = policy_versions(c, arn).await?;
            if versions.len() >= MAX_POLICY_VERSIONS {
                // The oldest version that is not the default makes room for the new one.
                let oldest = versions
                    .iter()
                    .filter(|v| !v.is_default_version())
                    .min_by_key(|v| {
                        (
                            v.create_date().map(|d| (d.secs(), d.subsec_nanos())),
                            v.version_id().map(str::to_owned),
                        )
                    })
                    .and_then(|v| v.version_id().map(str::to_owned));
                if let Some(old) = oldest {
                    let id = c
                        .caller
                        .call("iam", "DeletePolicyVersion", || {
                            c.iam
                                .delete_policy_version()
                                .policy_arn(arn)
                                .version_id(&old)
                                .send()
                        })
                        .await?
                        .request_id;
                    ids.push(id);
                }
            }
            let id = c
                .caller
                .call("iam", "CreatePolicyVersion", || {
                    c.iam
                        .create_policy_version()
                        .policy_arn(arn)
                        .policy_document(&text)
                        .set_as_default(true)
                        .send()
                })
                .await?
                .request_id;
            ids.push(id);
        }
    }
    Ok(ids)
}

async fn policy_versions(
    c: &Clients,
    arn: &str,
) -> Result<Vec<aws_sdk_iam::types::PolicyVersion>, AwsError> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let m = marker.clone();
        let o = c
            .caller
            .call("iam", "ListPolicyVersions", || {
                c.iam
                    .list_policy_versions()
                    .policy_arn(arn)
                    .set_marker(m.clone())
                    .send()
            })
            .await?
            .value;
        out.extend(o.versions().iter().cloned());
        match next_marker(o.is_truncated(), o.marker()) {
            Some(n) => marker = Some(n),
            None => break,
        }
    }
    Ok(out)
}

pub(crate) async fn verify(
    c: &Clients,
    h: Holder,
    target: &Target,
    step: &Step,
) -> Result<Verification, ConnectorError> {
    let live = read(c, h, target).await?;
    let (holds, detail) = match change(h, step)? {
        Change::PutInline { policy, document } => (
            live.inline.get(&policy) == Some(&document),
            format!("inline policy `{policy}` holds the step's document"),
        ),
        Change::DeleteInline { policy } => (
            !live.inline.contains_key(&policy),
            format!("inline policy `{policy}` is gone"),
        ),
        Change::Attach { arn } => (live.attached.contains(&arn), format!("`{arn}` is attached")),
        Change::Detach { arn } => (
            !live.attached.contains(&arn),
            format!("`{arn}` is not attached"),
        ),
        Change::Trust { document } => (
            live.trust.as_ref() == Some(&document),
            "the trust policy holds the step's document".to_owned(),
        ),
        Change::ManagedDeny { policy, document } => {
            let arn = managed_arn(c, h, &target.name, &policy).await?;
            let current = managed_document(c, &arn).await?;
            (
                live.attached.contains(&arn) && current.is_some_and(|(_, d)| d == document),
                format!("`{arn}` holds the step's document as its default version and is attached"),
            )
        }
    };
    let detail = if holds {
        detail
    } else {
        format!("not so: expected {detail}")
    };
    Ok(Verification {
        holds,
        detail,
        after: live.to_state(),
    })
}

pub(crate) async fn restore(
    c: &Clients,
    h: Holder,
    target: &Target,
    state: &State,
) -> Result<Vec<String>, ConnectorError> {
    let want = HolderState::from_state(target, state)?;
    let live = read(c, h, target).await?;
    let name = target.name.as_str();
    let mut ids = Vec::new();
    for (policy, doc) in &want.inline {
        if live.inline.get(policy) != Some(doc) {
            ids.push(put_inline(c, h, name, policy, &doc.to_string()).await?);
        }
    }
    for policy in live.inline.keys().filter(|p| !want.inline.contains_key(*p)) {
        ids.push(delete_inline(c, h, name, policy).await?);
    }
    for arn in want.attached.iter().filter(|a| !live.attached.contains(a)) {
        ids.push(attach(c, h, name, arn).await?);
    }
    for arn in live.attached.iter().filter(|a| !want.attached.contains(a)) {
        ids.push(detach(c, h, name, arn).await?);
    }
    if let (Holder::Role, Some(trust)) = (h, want.trust.as_ref()) {
        if live.trust.as_ref() != Some(trust) {
            let text = trust.to_string();
            let id = c
                .caller
                .call("iam", "UpdateAssumeRolePolicy", || {
                    c.iam
                        .update_assume_role_policy()
                        .role_name(name)
                        .policy_document(&text)
                        .send()
                })
                .await?
                .request_id;
            ids.push(id);
        }
    }
    Ok(ids.into_iter().flatten().collect())
}

/// The `iam_user`, `iam_role` and `iam_group` connectors: one holder kind's policies (and a role's
/// trust policy). Memberships, access keys and login profiles are other connectors.
pub struct PolicyHolder {
    clients: Clients,
    holder: Holder,
}

impl PolicyHolder {
    pub(crate) fn new(clients: Clients, holder: Holder) -> Self {
        Self { clients, holder }
    }
}

#[async_trait]
impl Connector for PolicyHolder {
    fn kind(&self) -> &'static str {
        self.holder.kind()
    }

    fn calls(&self) -> &'static [&'static str] {
        self.holder.calls()
    }

    fn target(&self, step: &Step) -> Result<Target, ConnectorError> {
        target(self.holder.kind(), self.holder, step)
    }

    async fn snapshot(&self, target: &Target) -> Result<State, ConnectorError> {
        snapshot(&self.clients, self.holder, target).await
    }

    async fn apply(
        &self,
        target: &Target,
        step: &Step,
        before: &State,
    ) -> Result<Applied, ConnectorError> {
        apply(&self.clients, self.holder, target, step, before).await
    }

    async fn verify(&self, target: &Target, step: &Step) -> Result<Verification, ConnectorError> {
        verify(&self.clients, self.holder, target, step).await
    }

    async fn restore(&self, target: &Target, state: &State) -> Result<Vec<String>, ConnectorError> {
        restore(&self.clients, self.holder, target, state).await
    }
}
