//! The whole account's IAM state in one paged read: `GetAccountAuthorizationDetails` (GAAD), page
//! by page (`MaxItems`, `Marker`), turned into Warden's [`Snapshot`] by the same parser that reads
//! the output of `aws iam get-account-authorization-details` (the SDK's page is re-spelled in that
//! output's field names, so the file and the live read can never disagree on meaning). A sweep's
//! IAM part; per-principal reads are `account.rs`'s.
//!
//! API calls: one `GetAccountAuthorizationDetails` per page of up to `MaxItems` (1,000) items.
//! (The emulator ignores `MaxItems` and answers in one page.)

use crate::aws::{AwsError, Clients};
use aws_sdk_iam::types::{AttachedPolicy, PolicyDetail};
use policy_rules::snapshot::Snapshot;
use serde_json::{json, Value};

/// The largest page IAM gives ("GetAccountAuthorizationDetails", IAM API reference: `MaxItems`
/// 1–1000).
pub const MAX_ITEMS: i32 = 1000;

/// What one read of the account gave.
#[derive(Debug)]
pub struct AuthorizationDetails {
    pub snapshot: Snapshot,
    /// The requests it took (pages).
    pub pages: usize,
}

fn inline(list: &[PolicyDetail]) -> Vec<Value> {
    list.iter()
        .map(|p| {
            json!({
                "PolicyName": p.policy_name(),
                "PolicyDocument": p.policy_document(),
            })
        })
        .collect()
}

fn attached(list: &[AttachedPolicy]) -> Vec<Value> {
    list.iter()
        .map(|p| json!({"PolicyName": p.policy_name(), "PolicyArn": p.policy_arn()}))
        .collect()
}

/// One page of the account's authorization details from `marker` (`None`: the first), as a
/// snapshot of what the page holds, with the next page's marker.
pub async fn read_page(
    clients: &Clients,
    marker: Option<String>,
) -> Result<(Snapshot, Option<String>), AwsError> {
    let mut users = Vec::new();
    let mut roles = Vec::new();
    let mut groups = Vec::new();
    let mut policies = Vec::new();
    let req = clients
        .iam
        .get_account_authorization_details()
        .max_items(MAX_ITEMS)
        .set_marker(marker);
    let page = clients
        .caller
        .call("iam", "GetAccountAuthorizationDetails", || {
            req.clone().send()
        })
        .await?
        .value;
    for u in page.user_detail_list() {
        users.push(json!({
            "UserName": u.user_name(),
            "Arn": u.arn(),
            "Path": u.path(),
            "GroupList": u.group_list(),
            "UserPolicyList": inline(u.user_policy_list()),
            "AttachedManagedPolicies": attached(u.attached_managed_policies()),
            "PermissionsBoundary": u.permissions_boundary().map(|b| json!({
                "PermissionsBoundaryArn": b.permissions_boundary_arn(),
            })),
        }));
    }
    for r in page.role_detail_list() {
        roles.push(json!({
            "RoleName": r.role_name(),
            "Arn": r.arn(),
            "Path": r.path(),
            "AssumeRolePolicyDocument": r.assume_role_policy_document(),
            "RolePolicyList": inline(r.role_policy_list()),
            "AttachedManagedPolicies": attached(r.attached_managed_policies()),
            "PermissionsBoundary": r.permissions_boundary().map(|b| json!({
                "PermissionsBoundaryArn": b.permissions_boundary_arn(),
            })),
            "RoleLastUsed": r.role_last_used().map(|l| json!({
                "LastUsedDate": l.last_used_date().map(|d| d.to_string()),
                "Region": l.region(),
            })),
            "InstanceProfileList": r.instance_profile_list().iter().map(|p| json!({
                "InstanceProfileName": p.instance_profile_name(),
                "Arn": p.arn(),
                "Path": p.path(),
                "Roles": p.roles().iter().map(|x| json!({
                    "RoleName": x.role_name(),
                    "Arn": x.arn(),
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        }));
    }
    for g in page.group_detail_list() {
        groups.push(json!({
            "GroupName": g.group_name(),
            "Arn": g.arn(),
            "Path": g.path(),
            "GroupPolicyList": inline(g.group_policy_list()),
            "AttachedManagedPolicies": attached(g.attached_managed_policies()),
        }));
    }
    for p in page.policies() {
        policies.push(json!({
            "PolicyName": p.policy_name(),
            "Arn": p.arn(),
            "Path": p.path(),
            "DefaultVersionId": p.default_version_id(),
            "PolicyVersionList": p.policy_version_list().iter().map(|v| json!({
                "VersionId": v.version_id(),
                "IsDefaultVersion": v.is_default_version(),
                "Document": v.document(),
            })).collect::<Vec<_>>(),
        }));
    }
    let next = match (page.is_truncated(), page.marker()) {
        (true, Some(m)) if !m.is_empty() => Some(m.to_owned()),
        _ => None,
    };
    let text = json!({
        "UserDetailList": users,
        "RoleDetailList": roles,
        "GroupDetailList": groups,
        "Policies": policies,
    })
    .to_string();
    let snapshot = Snapshot::parse(&text).map_err(|e| {
        AwsError::unreadable(
            "iam",
            "GetAccountAuthorizationDetails",
            format!("the account's authorization details do not read: {e}"),
        )
    })?;
    Ok((snapshot, next))
}

/// Reads every page of the account's authorization details.
pub async fn read(clients: &Clients) -> Result<AuthorizationDetails, AwsError> {
    let mut snapshot = Snapshot::default();
    let mut marker = None;
    let mut pages = 0;
    loop {
        let (page, next) = read_page(clients, marker.take()).await?;
        pages += 1;
        snapshot.users.extend(page.users);
        snapshot.roles.extend(page.roles);
        snapshot.groups.extend(page.groups);
        snapshot.managed.extend(page.managed);
        snapshot.policy_versions.extend(page.policy_versions);
        snapshot.instance_profiles.extend(page.instance_profiles);
        match next {
            Some(m) => marker = Some(m),
            None => break,
        }
    }
    Ok(AuthorizationDetails { snapshot, pages })
}
