//! Who really made a call: `userIdentity` classified into the principal an identity-policy Deny would
//! target (the IAM user, or the role behind an assumed-role session, with its path), and whether such
//! a Deny can restrict it at all. ("CloudTrail userIdentity element", CloudTrail user guide; "Policy
//! evaluation logic" and "Service-linked roles", IAM user guide; "IAM Identity Center roles".)
//!
//! This file owns classification only; whether the caller is *allowed* is `decision`'s business.

use crate::arn::{partition_for_region, Arn};
use crate::event::Event;
use serde::Serialize;

/// The kind of caller, as Warden sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallerKind {
    IamUser,
    /// An assumed-role session of an ordinary role: the Deny goes on the role.
    AssumedRole,
    /// A session of an IAM Identity Center role (`/aws-reserved/sso.amazonaws.com/AWSReservedSSO_*`).
    IdentityCenterRole,
    /// A session of a service-linked role (`/aws-service-role/`).
    ServiceLinkedRole,
    Root,
    /// A federation-token session (`GetFederationToken`) of an IAM user.
    FederatedUser,
    SamlUser,
    WebIdentityUser,
    IdentityCenterUser,
    /// A principal of another account.
    OtherAccount,
    /// An AWS service acting for itself.
    AwsService,
    Unknown,
}

impl CallerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CallerKind::IamUser => "iam-user",
            CallerKind::AssumedRole => "assumed-role",
            CallerKind::IdentityCenterRole => "identity-center-role",
            CallerKind::ServiceLinkedRole => "service-linked-role",
            CallerKind::Root => "root",
            CallerKind::FederatedUser => "federated-user",
            CallerKind::SamlUser => "saml-user",
            CallerKind::WebIdentityUser => "web-identity-user",
            CallerKind::IdentityCenterUser => "identity-center-user",
            CallerKind::OtherAccount => "other-account",
            CallerKind::AwsService => "aws-service",
            CallerKind::Unknown => "unknown",
        }
    }
}

/// Whether an identity-policy Deny on this caller's principal can restrict it, and if not, why and
/// what a person should do instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restrictable {
    Yes,
    No {
        why: &'static str,
        what_to_do: &'static str,
    },
}

/// The classified caller of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub kind: CallerKind,
    /// `userIdentity.type` as CloudTrail gave it.
    pub identity_type: String,
    /// `userIdentity.arn` as CloudTrail gave it (for a session, the session ARN).
    pub arn: Option<String>,
    /// The principal a Deny would target: the IAM user or role ARN, with its path when known.
    pub principal_arn: Option<String>,
    /// The user or role name (for root, the account id; for a service, its name).
    pub name: Option<String>,
    /// Whether `principal_arn` carries the principal's real path.
    pub path_known: bool,
    pub session_name: Option<String>,
    pub account: Option<String>,
    /// The AWS service that made the call on the principal's behalf (`invokedBy`).
    pub invoked_by: Option<String>,
    /// For an Identity Center role: the permission set's name.
    pub permission_set: Option<String>,
    pub restrictable: Restrictable,
}

const ROOT: Restrictable = Restrictable::No {
    why: "the root user cannot be restricted by an identity policy (only by an SCP)",
    what_to_do: "review the call; lock root down with MFA and an organization SCP, and rotate its credentials if the call was not expected",
};
const SSO: Restrictable = Restrictable::No {
    why: "IAM Identity Center roles cannot be changed through IAM",
    what_to_do: "remove the user's assignment or change the permission set in IAM Identity Center",
};
const SLR: Restrictable = Restrictable::No {
    why: "service-linked roles cannot be changed through IAM",
    what_to_do:
        "review the service that owns the role; the change must be made through that service",
};
const EXTERNAL: Restrictable = Restrictable::No {
    why: "an external identity has no IAM principal in this account to restrict",
    what_to_do: "tighten the trust policy of the role it assumes, or its identity provider",
};
const OTHER_ACCOUNT: Restrictable = Restrictable::No {
    why: "a principal of another account cannot be restricted by this account's identity policies",
    what_to_do: "remove the cross-account grant that let it in (the trust policy of the role it used, or the resource policy naming it), and ask that account's owner to restrict the principal",
};
const SERVICE: Restrictable = Restrictable::No {
    why: "an AWS service acting for itself has no principal to restrict",
    what_to_do: "review which configuration made the service act, and change that",
};
const UNKNOWN: Restrictable = Restrictable::No {
    why: "the caller could not be identified",
    what_to_do: "investigate the event by hand",
};

const RESERVED_NAME_PATH_UNKNOWN: Restrictable = Restrictable::No {
    why: "the role's name is that of an Identity Center or service-linked role, and its path, which would tell, is not in the event (no `sessionIssuer`)",
    what_to_do: "look the role up (`aws iam get-role`): under `/aws-reserved/sso.amazonaws.com/` change the permission set or assignment in IAM Identity Center; under `/aws-service-role/` review the owning service; elsewhere it is an ordinary role that borrowed the name, and can be restricted",
};

/// Whether a role name is one AWS gives Identity Center (`AWSReservedSSO_…`) or service-linked
/// (`AWSServiceRoleFor…`) roles: a hint only, which the path must confirm.
fn looks_reserved(role_name: &str) -> bool {
    role_name.starts_with("AWSReservedSSO_") || role_name.starts_with("AWSServiceRoleFor")
}

/// The path prefix of IAM Identity Center roles (aws-facts.md).
const SSO_PATH: &str = "/aws-reserved/sso.amazonaws.com/";
const SLR_PATH: &str = "/aws-service-role/";

/// Classifies the caller of `event`.
pub fn classify(event: &Event<'_>) -> Caller {
    let ui = event.record.user_identity.as_ref();
    let identity_type = ui.and_then(|u| u.kind.as_deref()).unwrap_or("").to_owned();
    let arn = ui.and_then(|u| u.arn.as_deref()).map(str::to_owned);
    let account = ui
        .and_then(|u| u.account_id.as_deref())
        .or_else(|| arn.as_deref().and_then(Arn::parse).map(|a| a.account))
        .filter(|a| !a.is_empty())
        .map(str::to_owned);
    let invoked_by = ui.and_then(|u| u.invoked_by.as_deref()).map(str::to_owned);
    let issuer = ui
        .and_then(|u| u.session_context.as_ref())
        .and_then(|s| s.session_issuer.as_ref());
    let partition = arn
        .as_deref()
        .and_then(Arn::parse)
        .map(|a| a.partition.to_owned())
        .unwrap_or_else(|| {
            partition_for_region(event.record.aws_region.as_deref().unwrap_or("")).to_owned()
        });

    let mut caller = Caller {
        kind: CallerKind::Unknown,
        identity_type: identity_type.clone(),
        arn: arn.clone(),
        principal_arn: None,
        name: None,
        path_known: false,
        session_name: None,
        account: account.clone(),
        invoked_by: invoked_by.clone(),
        permission_set: None,
        restrictable: UNKNOWN,
    };

    match identity_type.as_str() {
        "IAMUser" => {
            caller.kind = CallerKind::IamUser;
            caller.restrictable = Restrictable::Yes;
            let user_name = ui.and_then(|u| u.user_name.as_deref());
            match arn.as_deref().and_then(Arn::parse) {
                Some(a) if a.resource.starts_with("user/") => {
                    caller.principal_arn = arn.clone();
                    caller.name = a.resource.rsplit('/').next().map(str::to_owned);
                    caller.path_known = true;
                }
                _ => {
                    // No ARN (some documentation examples): rebuild it from the name; the path is unknown.
                    caller.name = user_name.map(str::to_owned);
                    if let (Some(acct), Some(n)) = (account.as_deref(), user_name) {
                        caller.principal_arn =
                            Some(format!("arn:{partition}:iam::{acct}:user/{n}"));
                    }
                    if caller.principal_arn.is_none() {
                        caller.restrictable = UNKNOWN;
                    }
                }
            }
        }
        "AssumedRole" => {
            let issuer_arn = issuer.and_then(|i| i.arn.as_deref());
            let session_arn = arn.as_deref().and_then(Arn::parse);
            // arn:aws:sts::ACCT:assumed-role/NAME/SESSION
            let mut session_parts = session_arn
                .filter(|a| a.resource.starts_with("assumed-role/"))
                .map(|a| a.resource.splitn(3, '/').skip(1))
                .into_iter()
                .flatten();
            let role_from_session = session_parts.next().map(str::to_owned);
            caller.session_name = session_parts.next().map(str::to_owned);
            match issuer_arn.and_then(|s| Arn::parse(s).map(|a| (s, a))) {
                Some((s, a)) if a.resource.starts_with("role/") => {
                    caller.principal_arn = Some(s.to_owned());
                    caller.name = a.resource.rsplit('/').next().map(str::to_owned);
                    caller.path_known = true;
                }
                _ => {
                    caller.name = role_from_session;
                    if let (Some(acct), Some(n)) = (account.as_deref(), caller.name.as_deref()) {
                        caller.principal_arn =
                            Some(format!("arn:{partition}:iam::{acct}:role/{n}"));
                    }
                }
            }
            let role_resource = caller
                .principal_arn
                .as_deref()
                .and_then(Arn::parse)
                .map(|a| a.resource.trim_start_matches("role").to_owned())
                .unwrap_or_default();
            let name = caller.name.clone().unwrap_or_default();
            // By the path, never by the name: anyone may name a role `AWSReservedSSO_…` at another
            // path, and only AWS creates roles under these reserved paths.
            if caller.path_known && role_resource.starts_with(SSO_PATH) {
                caller.kind = CallerKind::IdentityCenterRole;
                caller.permission_set = permission_set_of(&name).map(str::to_owned);
                caller.restrictable = SSO;
            } else if caller.path_known && role_resource.starts_with(SLR_PATH) {
                caller.kind = CallerKind::ServiceLinkedRole;
                caller.restrictable = SLR;
            } else if !caller.path_known && looks_reserved(&name) {
                // No `sessionIssuer`: the name says Identity Center or service-linked, the path that
                // would prove it is not in the event. Neither restrict nor trust it: alert.
                caller.kind = CallerKind::AssumedRole;
                caller.restrictable = RESERVED_NAME_PATH_UNKNOWN;
            } else if caller.principal_arn.is_some() {
                caller.kind = CallerKind::AssumedRole;
                caller.restrictable = Restrictable::Yes;
            } else {
                caller.kind = CallerKind::AssumedRole;
                caller.restrictable = UNKNOWN;
            }
        }
        "Root" => {
            caller.kind = CallerKind::Root;
            caller.principal_arn = account
                .as_deref()
                .map(|a| format!("arn:{partition}:iam::{a}:root"));
            caller.name = account.clone();
            caller.path_known = true;
            caller.restrictable = ROOT;
        }
        "FederatedUser" => {
            caller.kind = CallerKind::FederatedUser;
            // arn:aws:sts::ACCT:federated-user/NAME; the issuer is the IAM user (or root) that asked
            // for the token, and a Deny on that user also binds its federation sessions.
            caller.session_name = arn
                .as_deref()
                .and_then(Arn::parse)
                .and_then(|a| a.resource.strip_prefix("federated-user/"))
                .map(str::to_owned);
            match issuer
                .and_then(|i| i.arn.as_deref())
                .and_then(|s| Arn::parse(s).map(|a| (s, a)))
            {
                Some((s, a)) if a.resource.starts_with("user/") => {
                    caller.principal_arn = Some(s.to_owned());
                    caller.name = a.resource.rsplit('/').next().map(str::to_owned);
                    caller.path_known = true;
                    caller.restrictable = Restrictable::Yes;
                }
                Some((s, a)) if a.resource == "root" => {
                    caller.principal_arn = Some(s.to_owned());
                    caller.restrictable = ROOT;
                }
                _ => caller.restrictable = UNKNOWN,
            }
        }
        "SAMLUser" | "WebIdentityUser" => {
            caller.kind = if identity_type == "SAMLUser" {
                CallerKind::SamlUser
            } else {
                CallerKind::WebIdentityUser
            };
            caller.name = ui.and_then(|u| u.user_name.as_deref()).map(str::to_owned);
            caller.restrictable = EXTERNAL;
        }
        "IdentityCenterUser" => {
            caller.kind = CallerKind::IdentityCenterUser;
            caller.restrictable = SSO;
        }
        "AWSAccount" => {
            caller.kind = CallerKind::OtherAccount;
            caller.principal_arn = account
                .as_deref()
                .map(|a| format!("arn:{partition}:iam::{a}:root"));
            caller.name = account.clone();
            caller.restrictable = OTHER_ACCOUNT;
        }
        // Some service events (S3 Batch Operations) carry only `accountId` and `invokedBy`.
        "" if invoked_by.is_some() && arn.is_none() => {
            caller.kind = CallerKind::AwsService;
            caller.name = invoked_by.clone();
            caller.restrictable = SERVICE;
        }
        "AWSService" => {
            caller.kind = CallerKind::AwsService;
            caller.name = invoked_by.clone();
            caller.restrictable = SERVICE;
        }
        _ => {}
    }
    // INVARIANT (foreign-caller): a caller whose account is not the one the call acted in — any
    // identity type, not only `AWSAccount` — is another account's principal. This account's
    // identity policies cannot restrict it, and a principal of ours that happens to share its name
    // is someone else: the caller keeps its full ARN, and nothing keyed on a user or role of this
    // account (groups, snapshots, Denies) applies to it.
    let recipient = event.record.recipient_account_id.as_deref();
    if let (Some(own), Some(recipient)) = (caller.account.as_deref(), recipient) {
        if own != recipient && caller.kind != CallerKind::AwsService {
            caller.kind = CallerKind::OtherAccount;
            caller.permission_set = None;
            caller.restrictable = OTHER_ACCOUNT;
        }
    }
    caller
}

/// Whether `caller` belongs to `account` (the account a decision is about).
pub fn is_of_account(caller: &Caller, account: &str) -> bool {
    caller.account.as_deref() == Some(account) && caller.kind != CallerKind::OtherAccount
}

/// The permission set name in an Identity Center role name `AWSReservedSSO_<set>_<16 hex>`.
pub fn permission_set_of(role_name: &str) -> Option<&str> {
    let rest = role_name.strip_prefix("AWSReservedSSO_")?;
    let (set, suffix) = rest.rsplit_once('_')?;
    (!set.is_empty() && !suffix.is_empty()).then_some(set)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::parse_document;

    fn caller_of(json: &str) -> Caller {
        let mut out = None;
        parse_document(json.as_bytes(), |_, e| out = Some(classify(&e.unwrap())));
        out.unwrap()
    }

    #[test]
    fn iam_user_with_path() {
        let c = caller_of(
            r#"{"eventSource":"iam.amazonaws.com","eventName":"X","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::123456789012:user/division/bob","accountId":"123456789012","userName":"bob"}}"#,
        );
        assert_eq!(c.kind, CallerKind::IamUser);
        assert_eq!(
            c.principal_arn.as_deref(),
            Some("arn:aws:iam::123456789012:user/division/bob")
        );
        assert_eq!(c.name.as_deref(), Some("bob"));
        assert!(c.path_known);
        assert_eq!(c.restrictable, Restrictable::Yes);
    }

    #[test]
    fn assumed_role_takes_issuer_with_path() {
        let c = caller_of(
            r#"{"eventSource":"iam.amazonaws.com","eventName":"X","userIdentity":{"type":"AssumedRole","arn":"arn:aws-cn:sts::1:assumed-role/deploy/ci-run","accountId":"1","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws-cn:iam::1:role/teams/deploy","userName":"deploy"}}}}"#,
        );
        assert_eq!(c.kind, CallerKind::AssumedRole);
        assert_eq!(
            c.principal_arn.as_deref(),
            Some("arn:aws-cn:iam::1:role/teams/deploy")
        );
        assert_eq!(c.session_name.as_deref(), Some("ci-run"));
        assert!(c.path_known);
    }

    #[test]
    fn identity_center_and_service_linked_roles_are_not_restrictable() {
        let c = caller_of(
            r#"{"eventSource":"iam.amazonaws.com","eventName":"X","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/AWSReservedSSO_PowerUser_0123456789abcdef/alice","sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::1:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_PowerUser_0123456789abcdef"}}}}"#,
        );
        assert_eq!(c.kind, CallerKind::IdentityCenterRole);
        assert_eq!(c.permission_set.as_deref(), Some("PowerUser"));
        assert!(matches!(c.restrictable, Restrictable::No { .. }));
        let c = caller_of(
            r#"{"eventSource":"iam.amazonaws.com","eventName":"X","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/AWSServiceRoleForConfig/x","sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::1:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig"}}}}"#,
        );
        assert_eq!(c.kind, CallerKind::ServiceLinkedRole);
    }

    // Regression (issue 9, class A): Identity Center and service-linked roles are known by their
    // path, never by their name; without `sessionIssuer` the path is unknown, and a reserved-looking
    // name is neither trusted nor restricted.
    #[test]
    fn reserved_roles_are_recognised_by_path_not_name() {
        let with_issuer = |issuer: &str| {
            caller_of(&format!(
                r#"{{"eventSource":"iam.amazonaws.com","eventName":"X","userIdentity":{{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/eve","accountId":"1","sessionContext":{{"sessionIssuer":{{"type":"Role","arn":"{issuer}"}}}}}}}}"#
            ))
        };
        for look_alike in [
            "arn:aws:iam::1:role/AWSReservedSSO_Admin_0123456789abcdef",
            "arn:aws:iam::1:role/x/AWSReservedSSO_Admin_0123456789abcdef",
            "arn:aws:iam::1:role/x/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123456789abcdef",
        ] {
            let c = with_issuer(look_alike);
            assert_eq!(c.kind, CallerKind::AssumedRole, "{look_alike}");
            assert_eq!(c.restrictable, Restrictable::Yes, "{look_alike}");
            assert_eq!(c.permission_set, None, "{look_alike}");
            assert!(c.path_known);
        }
        let c = with_issuer("arn:aws:iam::1:role/aws-reserved/sso.amazonaws.com/us-west-2/AWSReservedSSO_Admin_0123456789abcdef");
        assert_eq!(c.kind, CallerKind::IdentityCenterRole);
        assert_eq!(c.permission_set.as_deref(), Some("Admin"));

        let without_issuer = |session: &str| {
            caller_of(&format!(
                r#"{{"eventSource":"iam.amazonaws.com","eventName":"X","userIdentity":{{"type":"AssumedRole","arn":"{session}","accountId":"1"}}}}"#
            ))
        };
        for reserved in [
            "arn:aws:sts::1:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/eve",
            "arn:aws:sts::1:assumed-role/AWSServiceRoleForConfig/x",
        ] {
            let c = without_issuer(reserved);
            assert_eq!(c.kind, CallerKind::AssumedRole, "{reserved}");
            assert!(!c.path_known);
            assert_eq!(c.permission_set, None);
            assert!(
                matches!(c.restrictable, Restrictable::No { why, .. } if why.contains("path")),
                "{reserved}: {:?}",
                c.restrictable
            );
        }
        let c = without_issuer("arn:aws-us-gov:sts::1:assumed-role/deploy/ci");
        assert_eq!(c.kind, CallerKind::AssumedRole);
        assert_eq!(c.restrictable, Restrictable::Yes);
        assert!(!c.path_known);
        assert_eq!(
            c.principal_arn.as_deref(),
            Some("arn:aws-us-gov:iam::1:role/deploy")
        );
        assert_eq!(c.session_name.as_deref(), Some("ci"));
    }

    #[test]
    fn root_service_and_federated() {
        let c = caller_of(
            r#"{"eventSource":"s3.amazonaws.com","eventName":"X","userIdentity":{"type":"Root","arn":"arn:aws:iam::1:root","accountId":"1"}}"#,
        );
        assert_eq!(c.kind, CallerKind::Root);
        assert_eq!(c.principal_arn.as_deref(), Some("arn:aws:iam::1:root"));
        let c = caller_of(
            r#"{"eventSource":"s3.amazonaws.com","eventName":"X","userIdentity":{"type":"AWSService","invokedBy":"cloudtrail.amazonaws.com"}}"#,
        );
        assert_eq!(c.kind, CallerKind::AwsService);
        assert_eq!(c.name.as_deref(), Some("cloudtrail.amazonaws.com"));
        let c = caller_of(
            r#"{"eventSource":"s3.amazonaws.com","eventName":"X","userIdentity":{"type":"FederatedUser","arn":"arn:aws:sts::1:federated-user/temp","sessionContext":{"sessionIssuer":{"type":"IAMUser","arn":"arn:aws:iam::1:user/bob"}}}}"#,
        );
        assert_eq!(c.kind, CallerKind::FederatedUser);
        assert_eq!(c.principal_arn.as_deref(), Some("arn:aws:iam::1:user/bob"));
        assert_eq!(c.restrictable, Restrictable::Yes);
    }

    #[test]
    fn user_without_arn_gets_pathless_principal() {
        let c = caller_of(
            r#"{"eventSource":"s3.amazonaws.com","eventName":"X","awsRegion":"us-gov-west-1","userIdentity":{"type":"IAMUser","accountId":"1","userName":"alice"}}"#,
        );
        assert_eq!(
            c.principal_arn.as_deref(),
            Some("arn:aws-us-gov:iam::1:user/alice")
        );
        assert!(!c.path_known);
    }

    #[test]
    fn a_principal_of_another_account_is_foreign_whatever_its_type() {
        for ui in [
            r#"{"type":"IAMUser","arn":"arn:aws:iam::222233334444:user/admin","accountId":"222233334444","userName":"admin"}"#,
            r#"{"type":"AssumedRole","arn":"arn:aws:sts::222233334444:assumed-role/deploy/s","accountId":"222233334444","sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::222233334444:role/deploy"}}}"#,
            r#"{"type":"AssumedRole","arn":"arn:aws:sts::222233334444:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/a","accountId":"222233334444","sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::222233334444:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123456789abcdef"}}}"#,
            r#"{"type":"AWSAccount","accountId":"222233334444"}"#,
        ] {
            let c = caller_of(&format!(
                r#"{{"eventSource":"iam.amazonaws.com","eventName":"X","recipientAccountId":"111122223333","userIdentity":{ui}}}"#
            ));
            assert_eq!(c.kind, CallerKind::OtherAccount, "{ui}");
            assert_eq!(c.account.as_deref(), Some("222233334444"));
            assert!(matches!(c.restrictable, Restrictable::No { .. }));
            assert_eq!(c.permission_set, None);
            assert!(!is_of_account(&c, "111122223333"));
            assert!(c
                .principal_arn
                .as_deref()
                .is_some_and(|a| a.contains(":222233334444:")));
        }
        // The same user in its own account is an IAM user.
        let c = caller_of(
            r#"{"eventSource":"iam.amazonaws.com","eventName":"X","recipientAccountId":"222233334444","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::222233334444:user/admin","accountId":"222233334444"}}"#,
        );
        assert_eq!(c.kind, CallerKind::IamUser);
        assert!(is_of_account(&c, "222233334444"));
    }

    #[test]
    fn permission_set_names() {
        assert_eq!(
            permission_set_of("AWSReservedSSO_Admin_Access_abc123"),
            Some("Admin_Access")
        );
        assert_eq!(permission_set_of("AWSReservedSSO_"), None);
        assert_eq!(permission_set_of("other"), None);
    }
}
