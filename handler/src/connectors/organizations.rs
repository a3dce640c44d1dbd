//! The organization policies on the path to an account, read live from AWS Organizations for the
//! sweep: the same set the offline sweep takes as a file (`--scps`), built as that file and parsed by
//! the same parser (`policy_rules::sweep::org_policies`), so a live read and a file are judged
//! alike. Warden only reads: its role may not change the organization.
//!
//! Only the organization's management account and a delegated administrator may list an
//! organization's policies; any other member gets `AccessDenied` (the caller says so and sweeps
//! without them: more findings, never fewer).
//!
//! API calls: `DescribeOrganization`; in an organization with all features, for a member account:
//! `ListRoots`, `ListParents` per level from the account up to the root, `ListPoliciesForTarget` per
//! level and enabled policy type (every page), `DescribePolicy` per distinct policy.

use crate::aws::{AwsError, Clients};
use aws_sdk_organizations::types::{ParentType, PolicyType, PolicyTypeStatus};
use policy_rules::sweep::org_policies::OrgPolicySet;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// AWS allows five levels of OUs under the root; more parents than this is a loop, not an org.
const MAX_DEPTH: usize = 8;

/// What the read found.
#[derive(Debug, Clone)]
pub enum OrgRead {
    /// The account is in no organization: no SCPs or RCPs apply.
    NotInOrganization,
    /// The organization's policies on the path to the account (empty lists where a policy type is
    /// not enabled, or where the account is the management account, to which none apply).
    Policies(OrgPolicySet),
}

/// Reads the organization policies that apply to `account`, counting its requests in `requests`
/// (those made before a failure too).
pub async fn read(c: &Clients, account: &str, requests: &mut usize) -> Result<OrgRead, AwsError> {
    let described = c
        .caller
        .call("organizations", "DescribeOrganization", || {
            c.organizations.describe_organization().send()
        })
        .await;
    *requests += 1;
    let org = match described {
        Ok(out) => out.value.organization,
        Err(e) if e.code.as_deref() == Some("AWSOrganizationsNotInUseException") => {
            return Ok(OrgRead::NotInOrganization)
        }
        Err(e) => return Err(e),
    };
    let Some(org) = org else {
        return Err(AwsError::unreadable(
            "organizations",
            "DescribeOrganization",
            "no `Organization` in the response",
        ));
    };
    let management = org.master_account_id().map(str::to_owned);
    let none = |management| OrgPolicySet {
        management_account: management,
        account: Some(account.to_owned()),
        scps: Vec::new(),
        rcps: Vec::new(),
    };
    // Consolidated billing only: no policy types at all. The management account: none apply.
    let all_features = org.feature_set().map(|f| f.as_str()) == Some("ALL");
    if !all_features || management.as_deref() == Some(account) {
        return Ok(OrgRead::Policies(none(management)));
    }
    let roots = c
        .caller
        .call("organizations", "ListRoots", || {
            c.organizations.list_roots().send()
        })
        .await?
        .value;
    *requests += 1;
    let Some(root) = roots.roots().first() else {
        return Err(AwsError::unreadable(
            "organizations",
            "ListRoots",
            "the organization has no root",
        ));
    };
    let enabled: Vec<PolicyType> = [
        PolicyType::ServiceControlPolicy,
        PolicyType::ResourceControlPolicy,
    ]
    .into_iter()
    .filter(|t| {
        root.policy_types()
            .iter()
            .any(|p| p.r#type() == Some(t) && p.status() == Some(&PolicyTypeStatus::Enabled))
    })
    .collect();
    if enabled.is_empty() {
        return Ok(OrgRead::Policies(none(management)));
    }
    // The path, account first, then up to the root.
    let mut path = vec![account.to_owned()];
    loop {
        if path.len() > MAX_DEPTH {
            return Err(AwsError::unreadable(
                "organizations",
                "ListParents",
                format!("more than {MAX_DEPTH} levels above `{account}`"),
            ));
        }
        let child = path.last().cloned().unwrap_or_default();
        let out = c
            .caller
            .call("organizations", "ListParents", || {
                c.organizations.list_parents().child_id(&child).send()
            })
            .await?
            .value;
        *requests += 1;
        let Some(parent) = out.parents().first() else {
            return Err(AwsError::unreadable(
                "organizations",
                "ListParents",
                format!("`{child}` has no parent"),
            ));
        };
        let Some(id) = parent.id() else {
            return Err(AwsError::unreadable(
                "organizations",
                "ListParents",
                format!("`{child}`'s parent has no id"),
            ));
        };
        path.push(id.to_owned());
        if parent.r#type() == Some(&ParentType::Root) {
            break;
        }
    }
    path.reverse();
    let mut contents: BTreeMap<String, String> = BTreeMap::new();
    let mut lists = serde_json::Map::new();
    lists.insert("account".to_owned(), json!(account));
    lists.insert("management_account".to_owned(), json!(management));
    for policy_type in &enabled {
        let mut levels = Vec::with_capacity(path.len());
        for target in &path {
            let mut level = Vec::new();
            let mut next: Option<String> = None;
            loop {
                let token = next.clone();
                let out = c
                    .caller
                    .call("organizations", "ListPoliciesForTarget", || {
                        c.organizations
                            .list_policies_for_target()
                            .target_id(target)
                            .filter(policy_type.clone())
                            .set_next_token(token.clone())
                            .send()
                    })
                    .await?
                    .value;
                *requests += 1;
                for summary in out.policies() {
                    let Some(id) = summary.id() else { continue };
                    if !contents.contains_key(id) {
                        contents.insert(id.to_owned(), describe(c, id).await?);
                        *requests += 1;
                    }
                    level.push(json!({
                        "name": summary.name().unwrap_or(id),
                        "policy": contents.get(id),
                    }));
                }
                match out.next_token {
                    Some(t) if !t.is_empty() => next = Some(t),
                    _ => break,
                }
            }
            levels.push(Value::Array(level));
        }
        let list = match policy_type {
            PolicyType::ResourceControlPolicy => "rcps",
            _ => "scps",
        };
        lists.insert(list.to_owned(), Value::Array(levels));
    }
    let set = OrgPolicySet::parse(&Value::Object(lists).to_string()).map_err(|e| {
        AwsError::unreadable(
            "organizations",
            "DescribePolicy",
            format!("the organization's policies for `{account}` do not read: {e}"),
        )
    })?;
    Ok(OrgRead::Policies(set))
}

/// One policy's document, as `DescribePolicy` gives its `Content`.
async fn describe(c: &Clients, id: &str) -> Result<String, AwsError> {
    let out = c
        .caller
        .call("organizations", "DescribePolicy", || {
            c.organizations.describe_policy().policy_id(id).send()
        })
        .await?
        .value;
    out.policy()
        .and_then(|p| p.content())
        .map(str::to_owned)
        .ok_or_else(|| {
            AwsError::unreadable(
                "organizations",
                "DescribePolicy",
                format!("policy `{id}` has no content"),
            )
        })
}
