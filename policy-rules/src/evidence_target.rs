//! What an evidence record of a change names and says: the ARN of the resource the change was made
//! on ([`resource_arn`], from the name a connector gives it), and one sentence saying what the
//! change did for Warden — what it denied, what event it undid and how, what it put back or
//! released ([`describe_change`]) — not only the API call it made.
//!
//! Pure: the flow gives the connector's name for the thing, the account, partition and region, the
//! full ARNs it read live, and the step. Not here: the record's chaining (`evidence`), what a
//! connector reads or writes.

use crate::arn::Arn;
use serde_json::Value;
use std::collections::BTreeMap;

/// Where the changed resource lives.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    pub partition: &'a str,
    pub account: &'a str,
    /// For regional resources (trails): the event's region.
    pub region: &'a str,
}

/// The ARN of the thing connector `connector` names `name` (a user, role or group name, a bucket,
/// a policy ARN, a trail name or ARN), or `None` for a connector this function does not know.
///
/// IAM events name users and roles without their path, and an ARN includes it: a user or role whose
/// full ARN is among `known` (the ARNs Warden read live, such as the denied principal's) is named
/// by that ARN; any other is named `…:user/NAME` (IAM names are unique in an account whatever the
/// path, so the name identifies it even where the path is left out). Access keys, login profiles
/// and group memberships are named by their user's ARN; a bucket's policy, ACL, public access
/// block and ownership controls by the bucket's; an object's ACL by the object's.
pub fn resource_arn(
    connector: &str,
    name: &str,
    place: &Place<'_>,
    known: &[&str],
) -> Option<String> {
    let Place {
        partition,
        account,
        region,
    } = *place;
    let iam = |kind: &str| {
        known
            .iter()
            .copied()
            .find(|k| {
                Arn::parse(k).is_some_and(|a| {
                    a.service == "iam"
                        && a.account == account
                        && a.resource.split('/').next() == Some(kind)
                        && a.resource.rsplit('/').next() == Some(name)
                })
            })
            .map_or_else(
                || format!("arn:{partition}:iam::{account}:{kind}/{name}"),
                str::to_owned,
            )
    };
    Some(match connector {
        "iam_user" | "access_keys" | "login_profile" | "group_membership" => iam("user"),
        "iam_role" => iam("role"),
        "iam_group" => iam("group"),
        "bucket_policy" | "bucket_acl" | "public_access_block" | "ownership_controls" => {
            format!("arn:{partition}:s3:::{name}")
        }
        // `BUCKET/KEY`: the object's ARN.
        "object_acl" => format!("arn:{partition}:s3:::{name}"),
        "policy_version" => name.to_owned(),
        "trail_logging" if name.starts_with("arn:") => name.to_owned(),
        "trail_logging" => format!("arn:{partition}:cloudtrail:{region}:{account}:trail/{name}"),
        _ => return None,
    })
}

/// Why a change was made: what [`describe_change`] is told about it.
#[derive(Debug, Clone, Copy)]
pub enum Purpose<'a> {
    /// Placing Warden's Deny on the principal: the `(action, resource)` pairs it adds, and the
    /// revoke-older-sessions time it sets (roles).
    Deny {
        denied: &'a [(String, String)],
        revoke_before: Option<&'a str>,
    },
    /// Undoing the change an event made: its name (`PutRolePolicy`) and id.
    Undo {
        event_name: &'a str,
        event_id: &'a str,
    },
    /// Putting back what Warden holds in force after someone changed it (tampering).
    Restore,
    /// `warden release`: lifting what Warden held in force.
    Release,
    /// An enforcing sweep's response to one of its findings (`type`, as the finding says).
    Sweep {
        sweep: &'a str,
        finding_type: &'a str,
    },
}

/// One sentence saying what a change did: for a Deny, what it denies; for an undo, which event it
/// undid and how; for a restore or release, what it put back or lifted. `target` is the changed
/// resource's ARN, `call` and `params` the step's.
pub fn describe_change(
    purpose: Purpose<'_>,
    call: &str,
    params: &BTreeMap<String, Value>,
    target: &str,
) -> String {
    match purpose {
        Purpose::Deny {
            denied,
            revoke_before,
        } => {
            let mut parts = Vec::new();
            if !denied.is_empty() {
                // By action, in the order given: `a` on `r1`, `r2`; `b` on `r3`.
                let mut by_action: Vec<(&str, Vec<String>)> = Vec::new();
                for (a, r) in denied {
                    match by_action.iter_mut().find(|(x, _)| x == a) {
                        Some((_, rs)) => rs.push(format!("`{r}`")),
                        None => by_action.push((a, vec![format!("`{r}`")])),
                    }
                }
                let pairs: Vec<String> = by_action
                    .iter()
                    .map(|(a, rs)| format!("`{a}` on {}", rs.join(", ")))
                    .collect();
                parts.push(format!("denied `{target}` {}", pairs.join("; ")));
            }
            if let Some(t) = revoke_before {
                parts.push(format!(
                    "revoked the sessions of `{target}` issued before {t}"
                ));
            }
            if parts.is_empty() {
                parts.push(format!("rewrote Warden's Deny on `{target}`"));
            }
            format!("{} ({})", parts.join("; "), deny_place(call, params))
        }
        Purpose::Undo {
            event_name,
            event_id,
        } => format!(
            "undid `{event_name}` (event `{event_id}`): {}",
            action(call, params, target)
        ),
        Purpose::Restore => format!(
            "put back what Warden holds in force, from its own record: {}",
            action(call, params, target)
        ),
        Purpose::Release => format!("released: {}", action(call, params, target)),
        Purpose::Sweep {
            sweep,
            finding_type,
        } => format!(
            "sweep `{sweep}`, finding `{finding_type}`: {}",
            action(call, params, target)
        ),
    }
}

/// Where a Deny step writes the Deny.
fn deny_place(call: &str, params: &BTreeMap<String, Value>) -> String {
    let policy = text(params, "PolicyName");
    if call == "warden:PutManagedDeny" {
        format!("Warden-owned managed policy `{policy}`")
    } else {
        format!("inline policy `{policy}`")
    }
}

fn text<'p>(params: &'p BTreeMap<String, Value>, key: &str) -> &'p str {
    params.get(key).and_then(Value::as_str).unwrap_or("?")
}

/// What one step's call does, in words.
fn action(call: &str, params: &BTreeMap<String, Value>, target: &str) -> String {
    let policy = text(params, "PolicyName");
    let warden_policy = policy.starts_with("Warden");
    let op = call.split_once(':').map_or(call, |(_, op)| op);
    match op {
        "PutUserPolicy" | "PutRolePolicy" | "PutGroupPolicy" if policy == "WardenQuarantine" => {
            format!("quarantined `{target}` (inline policy `WardenQuarantine` denies everything)")
        }
        "PutUserPolicy" | "PutRolePolicy" | "PutGroupPolicy" if warden_policy => {
            format!("wrote Warden's Deny `{policy}` on `{target}`")
        }
        "PutUserPolicy" | "PutRolePolicy" | "PutGroupPolicy" => {
            format!("put back the earlier inline policy `{policy}` of `{target}`")
        }
        "PutManagedDeny" => {
            format!("wrote and attached Warden's managed Deny `{policy}` on `{target}`")
        }
        "DeleteUserPolicy" | "DeleteRolePolicy" | "DeleteGroupPolicy" if warden_policy => {
            format!("deleted Warden's policy `{policy}` from `{target}`")
        }
        "DeleteUserPolicy" | "DeleteRolePolicy" | "DeleteGroupPolicy" => {
            format!("deleted inline policy `{policy}` of `{target}`")
        }
        "DetachUserPolicy" | "DetachRolePolicy" | "DetachGroupPolicy" => format!(
            "detached managed policy `{}` from `{target}`",
            text(params, "PolicyArn")
        ),
        "AttachUserPolicy" | "AttachRolePolicy" | "AttachGroupPolicy" => format!(
            "attached managed policy `{}` to `{target}`",
            text(params, "PolicyArn")
        ),
        "UpdateAssumeRolePolicy" => {
            format!("put back the earlier trust policy of `{target}`")
        }
        "RemoveUserFromGroup" => format!(
            "removed `{target}` from group `{}`",
            text(params, "GroupName")
        ),
        "AddUserToGroup" => format!("added `{target}` to group `{}`", text(params, "GroupName")),
        "UpdateAccessKey" => format!(
            "set access key `{}` of `{target}` `{}`",
            text(params, "AccessKeyId"),
            text(params, "Status")
        ),
        "DeleteLoginProfile" => format!("deleted the console login profile of `{target}`"),
        "PutBucketPolicy" => {
            format!("rewrote the bucket policy of `{target}` without the grants the rules forbid")
        }
        "DeleteBucketPolicy" => format!("deleted the bucket policy of `{target}`"),
        "PutBucketAcl" => format!(
            "took the grants to everyone and to every AWS account out of the ACL of `{target}`"
        ),
        "PutObjectAcl" => format!(
            "took the grants to everyone and to every AWS account out of the ACL of object `{target}`"
        ),
        "PutPublicAccessBlock" => format!(
            "set the public access block of `{target}` to {}",
            params
                .get("PublicAccessBlockConfiguration")
                .map_or_else(|| "?".to_owned(), crate::evidence::canonical_json)
        ),
        "PutBucketOwnershipControls" => format!(
            "set the object ownership of `{target}` back to `{}` (ACLs disabled)",
            text(params, "ObjectOwnership")
        ),
        "SetDefaultPolicyVersion" => format!(
            "set the default version of `{target}` back to `{}`",
            text(params, "VersionId")
        ),
        "StartLogging" => format!("started the logging of `{target}` again"),
        _ => format!("`{call}` on `{target}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PLACE: Place<'static> = Place {
        partition: "aws",
        account: "123456789012",
        region: "eu-west-1",
    };

    #[test]
    fn every_connector_names_an_arn_with_the_path_when_known() {
        let known = ["arn:aws:iam::123456789012:user/ops/mallory"];
        let arn = |c: &str, n: &str| resource_arn(c, n, &PLACE, &known);
        assert_eq!(
            arn("iam_user", "mallory").as_deref(),
            Some("arn:aws:iam::123456789012:user/ops/mallory")
        );
        assert_eq!(
            arn("access_keys", "mallory").as_deref(),
            Some("arn:aws:iam::123456789012:user/ops/mallory")
        );
        // Another name, or a role of the same name, is not the known user.
        assert_eq!(
            arn("iam_user", "bob").as_deref(),
            Some("arn:aws:iam::123456789012:user/bob")
        );
        assert_eq!(
            arn("iam_role", "mallory").as_deref(),
            Some("arn:aws:iam::123456789012:role/mallory")
        );
        assert_eq!(
            arn("iam_group", "Developers").as_deref(),
            Some("arn:aws:iam::123456789012:group/Developers")
        );
        assert_eq!(
            arn("bucket_acl", "public-site").as_deref(),
            Some("arn:aws:s3:::public-site")
        );
        assert_eq!(
            arn("ownership_controls", "public-site").as_deref(),
            Some("arn:aws:s3:::public-site")
        );
        assert_eq!(
            arn("object_acl", "public-site/reports/q3.csv").as_deref(),
            Some("arn:aws:s3:::public-site/reports/q3.csv")
        );
        assert_eq!(
            arn("trail_logging", "main").as_deref(),
            Some("arn:aws:cloudtrail:eu-west-1:123456789012:trail/main")
        );
        let trail = "arn:aws:cloudtrail:us-east-1:123456789012:trail/org";
        assert_eq!(arn("trail_logging", trail).as_deref(), Some(trail));
        let policy = "arn:aws:iam::123456789012:policy/Dev";
        assert_eq!(arn("policy_version", policy).as_deref(), Some(policy));
        assert_eq!(arn("sqs_queue_policy", "q"), None);
        // A known ARN of another account does not name a local user.
        let other = ["arn:aws:iam::999999999999:user/ops/mallory"];
        assert_eq!(
            resource_arn("iam_user", "mallory", &PLACE, &other).as_deref(),
            Some("arn:aws:iam::123456789012:user/mallory")
        );
    }

    fn params(v: Value) -> BTreeMap<String, Value> {
        serde_json::from_value(v).unwrap_or_default()
    }

    #[test]
    fn a_change_says_what_it_denied_or_undid() {
        let mallory = "arn:aws:iam::123456789012:user/mallory";
        let denied = vec![
            (
                "iam:PutRolePolicy".to_owned(),
                "arn:aws:iam::123456789012:role/*/app-deploy".to_owned(),
            ),
            (
                "iam:PutRolePolicy".to_owned(),
                "arn:aws:iam::123456789012:role/app-deploy".to_owned(),
            ),
            (
                "s3:PutBucketPolicy".to_owned(),
                "arn:aws:s3:::payments-data".to_owned(),
            ),
        ];
        let deny = describe_change(
            Purpose::Deny {
                denied: &denied,
                revoke_before: None,
            },
            "iam:PutUserPolicy",
            &params(json!({"UserName": "mallory", "PolicyName": "WardenDeny"})),
            mallory,
        );
        assert_eq!(
            deny,
            "denied `arn:aws:iam::123456789012:user/mallory` `iam:PutRolePolicy` on \
             `arn:aws:iam::123456789012:role/*/app-deploy`, \
             `arn:aws:iam::123456789012:role/app-deploy`; `s3:PutBucketPolicy` on \
             `arn:aws:s3:::payments-data` (inline policy `WardenDeny`)"
        );
        let undo = describe_change(
            Purpose::Undo {
                event_name: "PutRolePolicy",
                event_id: "e-1",
            },
            "iam:DeleteRolePolicy",
            &params(json!({"RoleName": "app-deploy", "PolicyName": "escalate"})),
            "arn:aws:iam::123456789012:role/app-deploy",
        );
        assert_eq!(
            undo,
            "undid `PutRolePolicy` (event `e-1`): deleted inline policy `escalate` of \
             `arn:aws:iam::123456789012:role/app-deploy`"
        );
        let release = describe_change(
            Purpose::Release,
            "iam:DeleteUserPolicy",
            &params(json!({"UserName": "mallory", "PolicyName": "WardenDeny"})),
            mallory,
        );
        assert_eq!(
            release,
            "released: deleted Warden's policy `WardenDeny` from `arn:aws:iam::123456789012:user/mallory`"
        );
        let quarantine = describe_change(
            Purpose::Undo {
                event_name: "CreateUser",
                event_id: "e-2",
            },
            "iam:PutUserPolicy",
            &params(json!({"UserName": "eve", "PolicyName": "WardenQuarantine"})),
            "arn:aws:iam::123456789012:user/eve",
        );
        assert!(quarantine.contains("quarantined"), "{quarantine}");
        let revoke = describe_change(
            Purpose::Deny {
                denied: &[],
                revoke_before: Some("2026-11-22T10:00:00Z"),
            },
            "warden:PutManagedDeny",
            &params(json!({"RoleName": "r", "PolicyName": "WardenDeny-role-r"})),
            "arn:aws:iam::123456789012:role/r",
        );
        assert_eq!(
            revoke,
            "revoked the sessions of `arn:aws:iam::123456789012:role/r` issued before \
             2026-11-22T10:00:00Z (Warden-owned managed policy `WardenDeny-role-r`)"
        );
    }
}
