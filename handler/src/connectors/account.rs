//! The live IAM account reader the enforcement flow uses before planning: one principal (a user or
//! a role) read from IAM as a [`Snapshot`] that holds just that principal — its ARN with its real
//! path, inline documents, attached policy ARNs, a user's groups, a role's trust policy and
//! permissions boundary — and, when asked, the attached managed policies' default documents and a
//! user's groups' policies. Every listing follows its pages. The sweep of a whole account
//! (`GetAccountAuthorizationDetails`) is not this file's; neither is any decision.
//!
//! API calls, for a user with N inline and M attached policies in G groups (one page per listing):
//! `principal` makes N + 4 calls (GetUser, ListUserPolicies, N × GetUserPolicy,
//! ListAttachedUserPolicies, ListGroupsForUser); with managed documents it adds 2 per distinct
//! attached policy (GetPolicy, GetPolicyVersion), so 2M for the user's own, and per group 2 + its
//! inline count (ListGroupPolicies, GetGroupPolicy each, ListAttachedGroupPolicies) plus 2 per
//! distinct group-attached policy not already read. A role with N inline and M attached policies
//! costs N + 3 (GetRole, ListRolePolicies, N × GetRolePolicy, ListAttachedRolePolicies), + 2M with
//! managed documents. A principal that does not exist costs one call (`None`).

use crate::aws::{AwsError, Clients};
use crate::connectors::iam_policies::{self, unreadable, Holder};
use policy_rules::policy::PolicyDocument;
use policy_rules::snapshot::{GroupRecord, PrincipalRecord, Snapshot};
use serde_json::Value;
use std::collections::BTreeMap;

/// A kind of IAM principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    User,
    Role,
}

/// The live IAM account, read one principal at a time.
#[derive(Clone)]
pub struct IamAccount {
    clients: Clients,
}

/// A group a user is in, as `ListGroupsForUser` names it.
struct GroupRef {
    name: String,
    arn: String,
}

impl IamAccount {
    pub fn new(clients: Clients) -> Self {
        Self { clients }
    }

    /// The clients it reads through.
    pub fn clients(&self) -> Clients {
        self.clients.clone()
    }

    /// The names of the groups the user is in, every page, sorted.
    pub async fn groups_of_user(&self, user_name: &str) -> Result<Vec<String>, AwsError> {
        Ok(self
            .group_refs(user_name)
            .await?
            .into_iter()
            .map(|g| g.name)
            .collect())
    }

    async fn group_refs(&self, user_name: &str) -> Result<Vec<GroupRef>, AwsError> {
        let c = &self.clients;
        let mut groups = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let m = marker.clone();
            let o = c
                .caller
                .call("iam", "ListGroupsForUser", || {
                    c.iam
                        .list_groups_for_user()
                        .user_name(user_name)
                        .set_marker(m.clone())
                        .send()
                })
                .await?
                .value;
            groups.extend(o.groups().iter().map(|g| GroupRef {
                name: g.group_name().to_owned(),
                arn: g.arn().to_owned(),
            }));
            match o.marker().filter(|_| o.is_truncated()) {
                Some(n) => marker = Some(n.to_owned()),
                None => break,
            }
        }
        groups.sort_by(|a, b| a.name.cmp(&b.name));
        groups.dedup_by(|a, b| a.name == b.name);
        Ok(groups)
    }

    /// One principal as a [`Snapshot`] holding just it (and, with `with_managed_documents`, the
    /// documents of the managed policies attached to it or to its groups, and its groups as
    /// [`GroupRecord`]s). `None` when the principal does not exist.
    pub async fn principal(
        &self,
        kind: PrincipalKind,
        name: &str,
        with_managed_documents: bool,
    ) -> Result<Option<Snapshot>, AwsError> {
        let c = &self.clients;
        let (arn, boundary, trust) = match kind {
            PrincipalKind::User => match iam_policies::get_user(c, name).await {
                Ok(u) => (
                    u.arn().to_owned(),
                    u.permissions_boundary()
                        .and_then(|b| b.permissions_boundary_arn())
                        .map(str::to_owned),
                    None,
                ),
                Err(e) if e.is_not_found() => return Ok(None),
                Err(e) => return Err(e),
            },
            PrincipalKind::Role => match iam_policies::get_role(c, name).await {
                Ok(r) => {
                    let trust = match r.assume_role_policy_document() {
                        Some(raw) => Some(document(
                            "GetRole",
                            &format!("trust policy of role `{name}`"),
                            raw,
                        )?),
                        None => None,
                    };
                    (
                        r.arn().to_owned(),
                        r.permissions_boundary()
                            .and_then(|b| b.permissions_boundary_arn())
                            .map(str::to_owned),
                        trust,
                    )
                }
                Err(e) if e.is_not_found() => return Ok(None),
                Err(e) => return Err(e),
            },
        };
        let holder = match kind {
            PrincipalKind::User => Holder::User,
            PrincipalKind::Role => Holder::Role,
        };
        let inline = inline_policies(c, holder, name).await?;
        let attached = iam_policies::attached_arns(c, holder, name).await?;
        let group_refs = match kind {
            PrincipalKind::User => self.group_refs(name).await?,
            PrincipalKind::Role => Vec::new(),
        };
        let mut snap = Snapshot::default();
        if with_managed_documents {
            let mut wanted: Vec<String> = attached.clone();
            for g in &group_refs {
                let record = GroupRecord {
                    arn: g.arn.clone(),
                    name: g.name.clone(),
                    inline: inline_policies(c, Holder::Group, &g.name).await?,
                    attached: iam_policies::attached_arns(c, Holder::Group, &g.name).await?,
                    ..GroupRecord::default()
                };
                wanted.extend(record.attached.iter().cloned());
                snap.groups.insert(g.name.clone(), record);
            }
            wanted.sort();
            wanted.dedup();
            for policy_arn in wanted {
                if let Some((_, doc)) = iam_policies::managed_document(c, &policy_arn).await? {
                    let doc = PolicyDocument::from_value(&doc).map_err(|e| {
                        unreadable(
                            "GetPolicyVersion",
                            &format!("`{policy_arn}`"),
                            &e.to_string(),
                        )
                    })?;
                    snap.managed.insert(policy_arn, doc);
                }
            }
        }
        let record = PrincipalRecord {
            arn,
            name: name.to_owned(),
            inline,
            attached,
            groups: group_refs.into_iter().map(|g| g.name).collect(),
            boundary,
            trust,
            ..PrincipalRecord::default()
        };
        match kind {
            PrincipalKind::User => snap.users.insert(name.to_owned(), record),
            PrincipalKind::Role => snap.roles.insert(name.to_owned(), record),
        };
        Ok(Some(snap))
    }
}

fn document(operation: &'static str, what: &str, raw: &str) -> Result<PolicyDocument, AwsError> {
    PolicyDocument::from_value(&Value::String(raw.to_owned()))
        .map_err(|e| unreadable(operation, what, &e.to_string()))
}

async fn inline_policies(
    c: &Clients,
    holder: Holder,
    name: &str,
) -> Result<BTreeMap<String, PolicyDocument>, AwsError> {
    let mut out = BTreeMap::new();
    for (policy, raw) in iam_policies::inline_documents(c, holder, name).await? {
        let operation = match holder {
            Holder::User => "GetUserPolicy",
            Holder::Role => "GetRolePolicy",
            Holder::Group => "GetGroupPolicy",
        };
        let doc = document(
            operation,
            &format!("inline policy `{policy}` of `{name}`"),
            &raw,
        )?;
        out.insert(policy, doc);
    }
    Ok(out)
}
