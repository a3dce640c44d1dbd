//! What Warden knows of an account: its users, roles and groups with their inline and attached
//! policies, memberships, paths and boundaries, and the managed policies' current documents — read
//! from the output of `aws iam get-account-authorization-details` (documents as JSON or URL-encoded).
//! The planner uses it to see a principal's current policies, its inline-policy budget and its
//! attachment count; nothing here calls AWS.

use crate::policy::{PolicyDocument, PolicyError};
use serde_json::Value;
use std::collections::BTreeMap;

/// A user or role.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrincipalRecord {
    pub arn: String,
    pub name: String,
    pub inline: BTreeMap<String, PolicyDocument>,
    /// ARNs of attached managed policies.
    pub attached: Vec<String>,
    /// Group names (users only).
    pub groups: Vec<String>,
    pub boundary: Option<String>,
    /// The trust policy (roles only).
    pub trust: Option<PolicyDocument>,
    /// `CreateDate` as IAM wrote it (ISO 8601), when read.
    pub created: Option<String>,
    /// Roles: `RoleLastUsed.LastUsedDate` (ISO 8601); `None` when IAM has no record of a use in
    /// its tracking period (or it was not read).
    pub last_used: Option<String>,
    /// Tags, key → value.
    pub tags: BTreeMap<String, String>,
}

/// A group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupRecord {
    pub arn: String,
    pub name: String,
    pub inline: BTreeMap<String, PolicyDocument>,
    pub attached: Vec<String>,
    /// `CreateDate` as IAM wrote it, when read.
    pub created: Option<String>,
}

/// One version of a managed policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVersion {
    pub id: String,
    pub is_default: bool,
    /// `CreateDate` as IAM wrote it, when read.
    pub created: Option<String>,
    pub document: PolicyDocument,
}

/// An instance profile and the roles it holds (IAM allows one), as GAAD lists it under each role
/// it holds (`RoleDetailList[].InstanceProfileList`): a profile that holds no role is in no
/// role's list, so the snapshot does not have it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceProfileRecord {
    pub arn: String,
    pub name: String,
    /// The roles it holds, name → ARN.
    pub roles: BTreeMap<String, String>,
}

/// An account's IAM state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub users: BTreeMap<String, PrincipalRecord>,
    pub roles: BTreeMap<String, PrincipalRecord>,
    pub groups: BTreeMap<String, GroupRecord>,
    /// Managed policy ARN → its default version's document.
    pub managed: BTreeMap<String, PolicyDocument>,
    /// Managed policy ARN → its versions as `(version id, is default)`, when read.
    pub policy_versions: BTreeMap<String, Vec<(String, bool)>>,
    /// Managed policy ARN → every version read with its document (the default's document is
    /// also in `managed`); what a `SetDefaultPolicyVersion` could switch to.
    pub version_documents: BTreeMap<String, Vec<PolicyVersion>>,
    /// Managed policy ARN → its `CreateDate`, when read.
    pub policy_created: BTreeMap<String, String>,
    /// Instance profile name → the profile, for the profiles that hold a role.
    pub instance_profiles: BTreeMap<String, InstanceProfileRecord>,
}

/// Why a snapshot does not read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("not the output of `aws iam get-account-authorization-details`: {0}")]
    Shape(String),
    #[error("{what}: {source}")]
    Policy { what: String, source: PolicyError },
}

fn s(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_str).unwrap_or("").to_owned()
}

fn list<'v>(v: &'v Value, k: &str) -> impl Iterator<Item = &'v Value> {
    v.get(k).and_then(Value::as_array).into_iter().flatten()
}

fn inline(
    v: &Value,
    key: &str,
    owner: &str,
) -> Result<BTreeMap<String, PolicyDocument>, SnapshotError> {
    list(v, key)
        .map(|p| {
            let name = s(p, "PolicyName");
            let doc = PolicyDocument::from_value(p.get("PolicyDocument").unwrap_or(&Value::Null))
                .map_err(|source| SnapshotError::Policy {
                what: format!("inline policy `{name}` of `{owner}`"),
                source,
            })?;
            Ok((name, doc))
        })
        .collect()
}

fn opt(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_owned)
}

fn tags(v: &Value) -> BTreeMap<String, String> {
    list(v, "Tags")
        .map(|t| (s(t, "Key"), s(t, "Value")))
        .collect()
}

fn attached(v: &Value) -> Vec<String> {
    list(v, "AttachedManagedPolicies")
        .map(|p| s(p, "PolicyArn"))
        .collect()
}

/// Records one entry of a role's `InstanceProfileList`: its own `Roles` when it lists them, else
/// the role it is listed under.
fn instance_profile(snap: &mut Snapshot, p: &Value, role: &PrincipalRecord) {
    let name = s(p, "InstanceProfileName");
    let arn = s(p, "Arn");
    if name.is_empty() || arn.is_empty() {
        return;
    }
    let record = snap
        .instance_profiles
        .entry(name.clone())
        .or_insert_with(|| InstanceProfileRecord {
            arn,
            name,
            roles: BTreeMap::new(),
        });
    let mut listed = list(p, "Roles")
        .map(|r| (s(r, "RoleName"), s(r, "Arn")))
        .filter(|(n, a)| !n.is_empty() && !a.is_empty())
        .peekable();
    if listed.peek().is_none() {
        record.roles.insert(role.name.clone(), role.arn.clone());
    }
    record.roles.extend(listed);
}

impl Snapshot {
    /// Reads `get-account-authorization-details` output.
    pub fn parse(text: &str) -> Result<Self, SnapshotError> {
        let v: Value = serde_json::from_str(text)?;
        if v.get("UserDetailList").is_none() && v.get("RoleDetailList").is_none() {
            return Err(SnapshotError::Shape(
                "no `UserDetailList` or `RoleDetailList`".to_owned(),
            ));
        }
        let mut snap = Snapshot::default();
        for u in list(&v, "UserDetailList") {
            let name = s(u, "UserName");
            let rec = PrincipalRecord {
                arn: s(u, "Arn"),
                inline: inline(u, "UserPolicyList", &name)?,
                attached: attached(u),
                groups: list(u, "GroupList")
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
                boundary: u
                    .pointer("/PermissionsBoundary/PermissionsBoundaryArn")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                trust: None,
                created: opt(u, "CreateDate"),
                last_used: None,
                tags: tags(u),
                name: name.clone(),
            };
            snap.users.insert(name, rec);
        }
        for r in list(&v, "RoleDetailList") {
            let name = s(r, "RoleName");
            let trust =
                match r.get("AssumeRolePolicyDocument") {
                    Some(d) => Some(PolicyDocument::from_value(d).map_err(|source| {
                        SnapshotError::Policy {
                            what: format!("trust policy of role `{name}`"),
                            source,
                        }
                    })?),
                    None => None,
                };
            let rec = PrincipalRecord {
                arn: s(r, "Arn"),
                inline: inline(r, "RolePolicyList", &name)?,
                attached: attached(r),
                groups: Vec::new(),
                boundary: r
                    .pointer("/PermissionsBoundary/PermissionsBoundaryArn")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                trust,
                created: opt(r, "CreateDate"),
                last_used: r
                    .pointer("/RoleLastUsed/LastUsedDate")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                tags: tags(r),
                name: name.clone(),
            };
            for p in list(r, "InstanceProfileList") {
                instance_profile(&mut snap, p, &rec);
            }
            snap.roles.insert(name, rec);
        }
        for g in list(&v, "GroupDetailList") {
            let name = s(g, "GroupName");
            let rec = GroupRecord {
                arn: s(g, "Arn"),
                inline: inline(g, "GroupPolicyList", &name)?,
                attached: attached(g),
                created: opt(g, "CreateDate"),
                name: name.clone(),
            };
            snap.groups.insert(name, rec);
        }
        for p in list(&v, "Policies") {
            let arn = s(p, "Arn");
            let versions: Vec<(String, bool)> = list(p, "PolicyVersionList")
                .map(|x| {
                    (
                        s(x, "VersionId"),
                        x.get("IsDefaultVersion").and_then(Value::as_bool) == Some(true),
                    )
                })
                .filter(|(id, _)| !id.is_empty())
                .collect();
            if !versions.is_empty() {
                snap.policy_versions.insert(arn.clone(), versions);
            }
            if let Some(created) = opt(p, "CreateDate") {
                snap.policy_created.insert(arn.clone(), created);
            }
            let mut all = Vec::new();
            for x in list(p, "PolicyVersionList") {
                let id = s(x, "VersionId");
                let Some(d) = x.get("Document") else { continue };
                let document =
                    PolicyDocument::from_value(d).map_err(|source| SnapshotError::Policy {
                        what: format!("version `{id}` of managed policy `{arn}`"),
                        source,
                    })?;
                all.push(PolicyVersion {
                    is_default: x.get("IsDefaultVersion").and_then(Value::as_bool) == Some(true),
                    created: opt(x, "CreateDate"),
                    id,
                    document,
                });
            }
            if !all.is_empty() {
                snap.version_documents.insert(arn.clone(), all);
            }
            let default = list(p, "PolicyVersionList")
                .find(|x| x.get("IsDefaultVersion").and_then(Value::as_bool) == Some(true));
            if let Some(d) = default.and_then(|x| x.get("Document")) {
                let doc =
                    PolicyDocument::from_value(d).map_err(|source| SnapshotError::Policy {
                        what: format!("managed policy `{arn}`"),
                        source,
                    })?;
                snap.managed.insert(arn, doc);
            }
        }
        Ok(snap)
    }

    /// A user or role by ARN (by name when the ARN's path is unknown), only when the snapshot's
    /// record is of the same partition and account: a principal of another account that shares a
    /// name with one of ours is not ours.
    pub fn principal(&self, arn: &str) -> Option<&PrincipalRecord> {
        let asked = crate::arn::Arn::parse(arn)?;
        let name = asked.resource.rsplit('/').next()?;
        let found = if asked.resource.starts_with("user/") {
            self.users.get(name)?
        } else if asked.resource.starts_with("role/") {
            self.roles.get(name)?
        } else {
            return None;
        };
        let held = crate::arn::Arn::parse(&found.arn)?;
        (held.account == asked.account && held.partition == asked.partition).then_some(found)
    }

    /// The account the snapshot describes (from its principals' ARNs), if it names any.
    pub fn account(&self) -> Option<String> {
        self.users
            .values()
            .chain(self.roles.values())
            .map(|p| p.arn.as_str())
            .chain(self.groups.values().map(|g| g.arn.as_str()))
            .find_map(crate::arn::Arn::parse)
            .map(|a| a.account.to_owned())
    }

    /// The account as it was before `event`, as far as the live state read after it can tell: what
    /// the event itself wrote is taken out (the inline policy a `Put*Policy` wrote, the trust policy
    /// `UpdateAssumeRolePolicy` wrote), since CloudTrail does not record what it replaced. The
    /// planner then proposes deletion, or no inverse, instead of "restoring" the caller's own document.
    pub fn before_event(&self, event: &crate::event::Event<'_>) -> Snapshot {
        let mut s = self.clone();
        if event.source() != "iam.amazonaws.com" || event.record.error_code.is_some() {
            return s;
        }
        let params: Option<Value> = event
            .record
            .request_parameters
            .and_then(|r| serde_json::from_str(r.get()).ok());
        let field = |k: &str| {
            params
                .as_ref()
                .and_then(|p| p.get(k))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let policy = field("policyName").unwrap_or_default();
        match event.name() {
            "PutUserPolicy" => {
                if let Some(u) = field("userName").and_then(|n| s.users.get_mut(&n)) {
                    u.inline.remove(&policy);
                }
            }
            "PutRolePolicy" => {
                if let Some(r) = field("roleName").and_then(|n| s.roles.get_mut(&n)) {
                    r.inline.remove(&policy);
                }
            }
            "PutGroupPolicy" => {
                if let Some(g) = field("groupName").and_then(|n| s.groups.get_mut(&n)) {
                    g.inline.remove(&policy);
                }
            }
            "UpdateAssumeRolePolicy" => {
                if let Some(r) = field("roleName").and_then(|n| s.roles.get_mut(&n)) {
                    r.trust = None;
                }
            }
            _ => {}
        }
        s
    }

    /// The exact ARN (with its real path) of a user, role or group the event named without a path.
    pub fn exact_arn(&self, resource: &crate::mapping::Resource) -> Option<String> {
        resource.any_path_at?;
        let parsed = crate::arn::Arn::parse(&resource.arn)?;
        let (kind, name) = parsed.resource.split_once('/')?;
        let arn = match kind {
            "user" => &self.users.get(name)?.arn,
            "role" => &self.roles.get(name)?.arn,
            "group" => &self.groups.get(name)?.arn,
            _ => return None,
        };
        // The snapshot must be of the same account and partition as the event.
        let found = crate::arn::Arn::parse(arn)?;
        (found.account == parsed.account && found.partition == parsed.partition)
            .then(|| arn.clone())
    }

    /// Every identity policy of a principal, named for reasons: its inline and attached policies and,
    /// for a user, its groups' inline and attached policies. Attached policies whose document the
    /// snapshot lacks are listed in the second value.
    pub fn identity_policies<'s>(
        &'s self,
        p: &'s PrincipalRecord,
    ) -> (Vec<(String, &'s PolicyDocument)>, Vec<String>) {
        let mut out = Vec::new();
        let mut missing = Vec::new();
        let mut managed =
            |arn: &String, out: &mut Vec<(String, &'s PolicyDocument)>| match self.managed.get(arn)
            {
                Some(d) => out.push((arn.clone(), d)),
                None => missing.push(arn.clone()),
            };
        for (n, d) in &p.inline {
            out.push((format!("inline `{n}`"), d));
        }
        for a in &p.attached {
            managed(a, &mut out);
        }
        for g in p.groups.iter().filter_map(|g| self.groups.get(g)) {
            for (n, d) in &g.inline {
                out.push((format!("group `{}` inline `{n}`", g.name), d));
            }
            for a in &g.attached {
                managed(a, &mut out);
            }
        }
        (out, missing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_cloudsplaining_account() {
        let snap = Snapshot::parse(include_str!(
            "../../fixtures/policies/cloudsplaining_test_example-authz-details.json"
        ))
        .unwrap();
        assert_eq!(snap.users.len(), 3);
        assert_eq!(snap.users["obama"].groups, vec!["admin"]);
        assert!(!snap.managed.is_empty());
        let u = snap.principal(&snap.users["obama"].arn).unwrap();
        let (policies, _missing) = snap.identity_policies(u);
        assert!(!policies.is_empty());
        let p = &snap.instance_profiles["OverprivilegedEC2"];
        assert_eq!(
            p.arn,
            "arn:aws:iam::012345678901:instance-profile/OverprivilegedEC2"
        );
        assert_eq!(
            p.roles["OverprivilegedEC2"],
            "arn:aws:iam::012345678901:role/OverprivilegedEC2"
        );
    }
}
