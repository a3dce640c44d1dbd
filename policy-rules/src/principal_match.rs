//! How a resource policy's `Principal` or `NotPrincipal` names the caller, and what that naming is
//! worth ("AWS JSON policy elements: Principal", "AWS JSON policy elements: NotPrincipal" and
//! "Policy evaluation for requests within a single account", IAM user guide):
//!
//! - naming the principal's own ARN (a user, an assumed-role session, a federated user, a service)
//!   or `*` grants to it **directly**: no permissions boundary or session policy caps the grant;
//! - naming the *role* ARN of a role or of a role's session grants **capped**: an implicit deny in the
//!   permissions boundary or the session policy limits it;
//! - naming the account (`123456789012` or `arn:aws:iam::123456789012:root`) **delegates** to the
//!   account's identity policies: it allows nobody by itself.
//!
//! This file owns the caller's shape (user, role, session, root) read from its ARN, and the matching
//! of principal lists against it; which policies apply and how their answers combine is `evaluate`'s
//! business. Principal ARNs match exactly: IAM does not accept wildcards in a principal ARN.

use crate::arn::Arn;
use crate::policy::Principals;

/// What kind of principal the caller is, read from its ARN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape<'r> {
    /// `arn:…:iam::ACCOUNT:user/…`
    User,
    /// `arn:…:iam::ACCOUNT:role/…`: the role itself (offline questions about what a role may do).
    Role,
    /// `arn:…:sts::ACCOUNT:assumed-role/ROLE/SESSION`; `role` is the role's name.
    Session { role: &'r str },
    /// `arn:…:iam::ACCOUNT:root`
    Root,
    /// Anything else (a federated user, a service principal): matched only by its exact ARN or name.
    Other,
}

/// How a statement's principal list names the caller; the order is the strength of the grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Grant {
    /// The account: delegates to the account's identity policies.
    Delegated,
    /// The role ARN of a role or of its session: capped by the boundary and the session policy.
    Capped,
    /// The principal itself, or everyone (`*`): not capped.
    Direct,
}

/// The caller as resource policies see it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Caller<'r> {
    pub(crate) arn: &'r str,
    pub(crate) account: &'r str,
    pub(crate) shape: Shape<'r>,
    /// The role ARN (with its path) behind a session, when the request says it.
    pub(crate) issuer: Option<&'r str>,
}

impl<'r> Caller<'r> {
    pub(crate) fn new(arn: &'r str, account: &'r str, issuer: Option<&'r str>) -> Self {
        let shape = match Arn::parse(arn) {
            Some(a) if a.service == "iam" && a.resource == "root" => Shape::Root,
            Some(a) if a.service == "iam" && a.resource.starts_with("user/") => Shape::User,
            Some(a) if a.service == "iam" && a.resource.starts_with("role/") => Shape::Role,
            Some(a) if a.service == "sts" => match a.resource.strip_prefix("assumed-role/") {
                Some(rest) => Shape::Session {
                    role: rest.split('/').next().unwrap_or(""),
                },
                None => Shape::Other,
            },
            _ => Shape::Other,
        };
        Caller {
            arn,
            account,
            shape,
            issuer,
        }
    }

    /// The caller without reading its ARN (shape `Other`), for evaluations no resource policy,
    /// organization policy or root user takes part in.
    pub(crate) fn opaque(arn: &'r str, account: &'r str, issuer: Option<&'r str>) -> Self {
        Caller {
            arn,
            account,
            shape: Shape::Other,
            issuer,
        }
    }

    /// The caller's role ARN, when it is a role or a session with a known issuer.
    pub(crate) fn role_arn(&self) -> Option<&'r str> {
        match self.shape {
            Shape::Role => Some(self.arn),
            Shape::Session { .. } => self.issuer,
            _ => None,
        }
    }

    /// A service-linked role, or a session of one: its role is under `/aws-service-role/`
    /// ("Using service-linked roles", IAM user guide).
    pub(crate) fn is_service_linked(&self) -> bool {
        self.role_arn()
            .and_then(Arn::parse)
            .is_some_and(|a| a.resource.starts_with("role/aws-service-role/"))
    }

    fn names_account(&self, value: &str) -> bool {
        value == self.account
            || value
                .strip_suffix(":root")
                .and_then(|x| x.rsplit(':').next())
                .is_some_and(|a| a == self.account && value.starts_with("arn:"))
    }

    /// Whether `value` is this caller's role: a role ARN of the same account and name, whatever
    /// its path (role names are unique in an account regardless of path, "IAM identifiers", IAM
    /// user guide; a session's ARN carries no path).
    fn names_role(&self, value: &str) -> bool {
        let name = match self.shape {
            Shape::Role => Arn::parse(self.arn).and_then(|a| a.resource.rsplit('/').next()),
            Shape::Session { role } => Some(role),
            _ => None,
        };
        name.is_some_and(|name| {
            Arn::parse(value).is_some_and(|a| {
                a.service == "iam"
                    && a.account == self.account
                    && a.resource.starts_with("role/")
                    && a.resource.rsplit('/').next() == Some(name)
            })
        })
    }

    /// How strongly one principal value names the caller.
    fn grant_of(&self, kind: &str, value: &str) -> Option<Grant> {
        if kind != "AWS" {
            // `Service`, `Federated`, `CanonicalUser`: only the exact name.
            return (value == self.arn).then_some(Grant::Direct);
        }
        if value == "*" {
            return Some(Grant::Direct);
        }
        if self.shape == Shape::Role && value == self.arn {
            return Some(Grant::Capped);
        }
        if value == self.arn {
            return Some(Grant::Direct);
        }
        if self.names_role(value) {
            return Some(Grant::Capped);
        }
        self.names_account(value).then_some(Grant::Delegated)
    }

    /// The strongest way a `Principal` element names the caller; `None`: it does not.
    pub(crate) fn named_by(&self, p: &Principals) -> Option<Grant> {
        match p {
            Principals::Any => Some(Grant::Direct),
            Principals::Kinds(kinds) => kinds
                .iter()
                .flat_map(|(k, vs)| vs.iter().map(move |v| (k.as_str(), v.as_str())))
                .filter_map(|(k, v)| self.grant_of(k, v))
                .max(),
        }
    }

    /// Whether a `NotPrincipal` element exempts the caller. "AWS JSON policy elements:
    /// NotPrincipal", Key points: AWS may check the account first, then the role, then the
    /// assumed-role session, so the exemption holds only when each of them is listed; otherwise "the
    /// policy might deny access to the entire account". `Some(true)`: exempt; `Some(false)`: not
    /// exempt; `None`: the caller itself is listed but not all of its chain (AWS may or may not
    /// exempt it).
    pub(crate) fn exempted_by(&self, p: &Principals) -> Option<bool> {
        let Principals::Kinds(kinds) = p else {
            return Some(true); // `NotPrincipal: "*"` exempts everyone.
        };
        let listed = |test: &dyn Fn(&str, &str) -> bool| {
            kinds
                .iter()
                .any(|(k, vs)| vs.iter().any(|v| test(k.as_str(), v.as_str())))
        };
        let me = listed(&|k, v| v == self.arn && (k == "AWS" || self.shape == Shape::Other));
        let account = listed(&|k, v| k == "AWS" && self.names_account(v));
        let role = listed(&|k, v| k == "AWS" && self.names_role(v));
        let all = match self.shape {
            Shape::Root => me || account,
            Shape::Other => me,
            Shape::User | Shape::Role => me && account,
            Shape::Session { .. } => me && account && role,
        };
        if all {
            Some(true)
        } else if me {
            None
        } else {
            Some(false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn aws(values: &[&str]) -> Principals {
        let mut m = BTreeMap::new();
        m.insert(
            "AWS".to_owned(),
            values.iter().map(|v| (*v).to_owned()).collect(),
        );
        Principals::Kinds(m)
    }

    #[test]
    fn shapes_from_arns() {
        let c = |a| Caller::new(a, "1", None).shape;
        assert_eq!(c("arn:aws:iam::1:user/x/bob"), Shape::User);
        assert_eq!(c("arn:aws:iam::1:role/app"), Shape::Role);
        assert_eq!(
            c("arn:aws:sts::1:assumed-role/app/s"),
            Shape::Session { role: "app" }
        );
        assert_eq!(c("arn:aws:iam::1:root"), Shape::Root);
        assert_eq!(c("ec2.amazonaws.com"), Shape::Other);
    }

    #[test]
    fn grants_by_how_the_caller_is_named() {
        let session = Caller::new("arn:aws:sts::1:assumed-role/app/s", "1", None);
        assert_eq!(
            session.named_by(&aws(&["arn:aws:sts::1:assumed-role/app/s"])),
            Some(Grant::Direct)
        );
        // Role names are unique regardless of path: the role ARN with a path is this session's role.
        assert_eq!(
            session.named_by(&aws(&["arn:aws:iam::1:role/team/app"])),
            Some(Grant::Capped)
        );
        assert_eq!(
            session.named_by(&aws(&["arn:aws:iam::1:root"])),
            Some(Grant::Delegated)
        );
        assert_eq!(session.named_by(&aws(&["1"])), Some(Grant::Delegated));
        assert_eq!(session.named_by(&aws(&["arn:aws:iam::2:root"])), None);
        assert_eq!(
            session.named_by(&aws(&["arn:aws:iam::1:root", "*"])),
            Some(Grant::Direct)
        );
        let role = Caller::new("arn:aws:iam::1:role/app", "1", None);
        assert_eq!(
            role.named_by(&aws(&["arn:aws:iam::1:role/app"])),
            Some(Grant::Capped)
        );
        let user = Caller::new("arn:aws:iam::1:user/bob", "1", None);
        assert_eq!(
            user.named_by(&aws(&["arn:aws:iam::1:user/bob"])),
            Some(Grant::Direct)
        );
        assert_eq!(user.named_by(&aws(&["arn:aws:iam::1:role/bob"])), None);
    }

    #[test]
    fn not_principal_exempts_only_the_whole_chain() {
        let session = Caller::new(
            "arn:aws:sts::1:assumed-role/app/s",
            "1",
            Some("arn:aws:iam::1:role/app"),
        );
        let all = aws(&[
            "arn:aws:sts::1:assumed-role/app/s",
            "arn:aws:iam::1:role/app",
            "arn:aws:iam::1:root",
        ]);
        assert_eq!(session.exempted_by(&all), Some(true));
        assert_eq!(
            session.exempted_by(&aws(&["arn:aws:sts::1:assumed-role/app/s"])),
            None
        );
        assert_eq!(
            session.exempted_by(&aws(&["arn:aws:iam::1:root"])),
            Some(false)
        );
        assert!(Caller::new(
            "arn:aws:iam::1:role/aws-service-role/x.amazonaws.com/AWSServiceRoleForX",
            "1",
            None
        )
        .is_service_linked());
    }
}
