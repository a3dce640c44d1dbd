//! AWS's fixed rules: answers IAM gives whatever the policies say. The evaluator applies them before
//! any policy; this file owns the list and the AWS documentation each one follows. What the policies
//! allow is `evaluate`'s business.
//!
//! - `sts:GetCallerIdentity` is always allowed ("GetCallerIdentity", AWS STS API reference: "No
//!   permissions are required to perform this operation. If an administrator attaches a policy to
//!   your identity that explicitly denies access to the `sts:GetCallerIdentity` action, you can still
//!   perform this operation").
//! - Service-linked roles (path `/aws-service-role/`) are protected: only their service may change
//!   or delete them; through IAM only their description can be edited ("Update a service-linked
//!   role", IAM user guide; IAM's `UnmodifiableEntity` error), and they are created and deleted with
//!   `iam:CreateServiceLinkedRole` / `iam:DeleteServiceLinkedRole`, not with the role actions below.
//! - Roles under `/aws-reserved/` (IAM Identity Center's `/aws-reserved/sso.amazonaws.com/`) are
//!   managed by their service through its own service-linked role (the AWS managed policy
//!   `AWSSSOServiceRolePolicy` grants those role writes to it alone); IAM refuses them to anyone else.
//!   So the role rules do not apply when the caller is itself a service-linked role.
//! - AWS managed policies (`arn:aws:iam::aws:policy/…`) cannot be changed or deleted ("AWS managed
//!   policies", IAM user guide: "You cannot change the permissions defined in AWS managed policies").

use crate::arn::Arn;

/// A fixed rule that decided a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AwsRule {
    /// `sts:GetCallerIdentity` needs no permission and cannot be denied.
    GetCallerIdentityAlwaysAllowed,
    /// A write to a service-linked role or a role under `/aws-reserved/` through IAM.
    ProtectedRole,
    /// A change to an AWS managed policy.
    AwsManagedPolicy,
}

impl AwsRule {
    /// Whether the rule allows (`true`) or denies (`false`) the request.
    pub fn allows(self) -> bool {
        matches!(self, AwsRule::GetCallerIdentityAlwaysAllowed)
    }

    /// The human reason, with the AWS documentation it follows.
    pub fn reason(self) -> &'static str {
        match self {
            AwsRule::GetCallerIdentityAlwaysAllowed => {
                "`sts:GetCallerIdentity` needs no permission and cannot be denied (AWS STS API reference, GetCallerIdentity)"
            }
            AwsRule::ProtectedRole => {
                "the role is managed by an AWS service (`/aws-service-role/` or `/aws-reserved/`): IAM refuses to change it whatever the policies say (\"Update a service-linked role\", IAM user guide)"
            }
            AwsRule::AwsManagedPolicy => {
                "AWS managed policies cannot be changed or deleted (\"AWS managed policies\", IAM user guide)"
            }
        }
    }
}

/// IAM actions that change or delete a role (the `role` resource type's write and permissions
/// management actions in "Actions, resources, and condition keys for AWS Identity and Access
/// Management"), without the `iam:` prefix.
const ROLE_WRITES: [&str; 13] = [
    "AttachRolePolicy",
    "DetachRolePolicy",
    "PutRolePolicy",
    "DeleteRolePolicy",
    "UpdateAssumeRolePolicy",
    "UpdateRole",
    "UpdateRoleDescription",
    "DeleteRole",
    "PutRolePermissionsBoundary",
    "DeleteRolePermissionsBoundary",
    "TagRole",
    "UntagRole",
    "CreateRole",
];

/// What a service-linked role still allows through IAM: its description ("Update a service-linked
/// role": "You can edit the description of any role from the IAM console, API, or CLI").
const SERVICE_LINKED_EDITABLE: [&str; 2] = ["UpdateRole", "UpdateRoleDescription"];

/// Changes to a managed policy that AWS refuses for its own.
const MANAGED_POLICY_WRITES: [&str; 4] = [
    "CreatePolicyVersion",
    "DeletePolicy",
    "SetDefaultPolicyVersion",
    "DeletePolicyVersion",
];

fn iam_action(action: &str) -> Option<&str> {
    let (service, name) = action.split_once(':')?;
    service.eq_ignore_ascii_case("iam").then_some(name)
}

fn one_of(name: &str, list: &[&str]) -> bool {
    list.iter().any(|a| a.eq_ignore_ascii_case(name))
}

/// The fixed rule that decides `action` on `resource`, if any. `caller_is_service_linked`: the
/// caller is a service-linked role (or its session), the way AWS services change their own roles.
pub fn fixed_rule(
    action: &str,
    resource: &str,
    caller_is_service_linked: impl FnOnce() -> bool,
) -> Option<AwsRule> {
    if action.eq_ignore_ascii_case("sts:GetCallerIdentity") {
        return Some(AwsRule::GetCallerIdentityAlwaysAllowed);
    }
    let name = iam_action(action)?;
    let arn = Arn::parse(resource)?;
    if arn.service != "iam" {
        return None;
    }
    if let Some(path) = arn.resource.strip_prefix("role/") {
        if caller_is_service_linked() {
            return None;
        }
        if path.starts_with("aws-reserved/") && one_of(name, &ROLE_WRITES) {
            return Some(AwsRule::ProtectedRole);
        }
        if path.starts_with("aws-service-role/")
            && one_of(name, &ROLE_WRITES)
            && !one_of(name, &SERVICE_LINKED_EDITABLE)
        {
            return Some(AwsRule::ProtectedRole);
        }
        return None;
    }
    if arn.account == "aws"
        && arn.resource.starts_with("policy/")
        && one_of(name, &MANAGED_POLICY_WRITES)
    {
        return Some(AwsRule::AwsManagedPolicy);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixed_rules() {
        assert_eq!(
            fixed_rule("STS:getcalleridentity", "*", || false),
            Some(AwsRule::GetCallerIdentityAlwaysAllowed)
        );
        let slr = "arn:aws:iam::1:role/aws-service-role/elasticbeanstalk.amazonaws.com/AWSServiceRoleForElasticBeanstalk";
        assert_eq!(
            fixed_rule("iam:AttachRolePolicy", slr, || false),
            Some(AwsRule::ProtectedRole)
        );
        assert_eq!(fixed_rule("iam:UpdateRoleDescription", slr, || false), None);
        assert_eq!(
            fixed_rule("iam:DeleteServiceLinkedRole", slr, || false),
            None
        );
        assert_eq!(fixed_rule("iam:GetRole", slr, || false), None);
        let sso = "arn:aws:iam::1:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123";
        assert_eq!(
            fixed_rule("iam:updaterole", sso, || false),
            Some(AwsRule::ProtectedRole)
        );
        // IAM Identity Center changes its roles through its own service-linked role.
        assert_eq!(fixed_rule("iam:PutRolePolicy", sso, || true), None);
        assert_eq!(
            fixed_rule("iam:AttachRolePolicy", "arn:aws:iam::1:role/app", || false),
            None
        );
        assert_eq!(
            fixed_rule(
                "iam:CreatePolicyVersion",
                "arn:aws-us-gov:iam::aws:policy/AdministratorAccess",
                || false
            ),
            Some(AwsRule::AwsManagedPolicy)
        );
        assert_eq!(
            fixed_rule(
                "iam:AttachUserPolicy",
                "arn:aws:iam::aws:policy/AdministratorAccess",
                || false
            ),
            None
        );
        assert_eq!(
            fixed_rule("iam:DeletePolicy", "arn:aws:iam::1:policy/mine", || false),
            None
        );
    }
}
