//! Bucket-policy surgery: take exactly one principal's grants (or just some of its actions) out of a
//! bucket policy, or exactly the grants to principals outside the account, and nothing else. A
//! statement that also grants to others is split: the others keep it as it was; the offending
//! principal keeps only what it may still do. Where an action was granted through a wildcard that
//! cannot be narrowed by removal (`s3:*`), a `Deny` for that principal and those actions is added
//! instead. The result must fit the bucket-policy limit of 20 KB ("Amazon S3 quotas"), or surgery
//! refuses and a person must act. Statements with `NotPrincipal` are never edited.

use crate::policy::{Conditions, Effect, PolicyDocument, Principals, Scope, Statement};
use crate::wildcard;
use std::collections::BTreeMap;

/// The bucket-policy size limit in bytes.
pub const BUCKET_POLICY_LIMIT: usize = 20 * 1024;

/// What surgery did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Surgery {
    pub policy: PolicyDocument,
    /// One line per edited statement.
    pub changes: Vec<String>,
}

/// Why surgery refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SurgeryError {
    #[error(
        "the edited bucket policy would be {0} bytes, over the {BUCKET_POLICY_LIMIT}-byte limit"
    )]
    TooLarge(usize),
    #[error("nothing to remove: no `Allow` statement grants to `{0}`")]
    NothingToRemove(String),
}

fn aws_principals(st: &Statement) -> Option<&Vec<String>> {
    match &st.principal {
        Some(Scope::Only(Principals::Kinds(k))) => k.get("AWS"),
        _ => None,
    }
}

fn label(i: usize, st: &Statement) -> String {
    st.sid
        .as_deref()
        .map_or_else(|| format!("statement {i}"), |s| format!("statement `{s}`"))
}

fn with_principals(st: &Statement, aws: Vec<String>) -> Statement {
    let mut s = st.clone();
    if let Some(Scope::Only(Principals::Kinds(k))) = &mut s.principal {
        if aws.is_empty() {
            k.remove("AWS");
        } else {
            k.insert("AWS".to_owned(), aws);
        }
    }
    s
}

fn has_principals(st: &Statement) -> bool {
    match &st.principal {
        Some(Scope::Only(Principals::Kinds(k))) => k.values().any(|v| !v.is_empty()),
        Some(_) => true,
        None => false,
    }
}

/// Removes `principal`'s grants (all of them, or only `actions`) from `policy`.
pub fn remove_principal(
    policy: &PolicyDocument,
    principal: &str,
    actions: Option<&[String]>,
) -> Result<Surgery, SurgeryError> {
    let mut out = Vec::new();
    let mut changes = Vec::new();
    let mut extra_denies: Vec<Statement> = Vec::new();
    for (i, st) in policy.statements.iter().enumerate() {
        let named = st.effect == Effect::Allow
            && aws_principals(st).is_some_and(|l| l.iter().any(|p| p == principal));
        if !named {
            out.push(st.clone());
            continue;
        }
        let others: Vec<String> = aws_principals(st)
            .into_iter()
            .flatten()
            .filter(|p| *p != principal)
            .cloned()
            .collect();
        let rest = with_principals(st, others);
        if has_principals(&rest) {
            out.push(rest);
        }
        let Some(offending) = actions else {
            changes.push(format!("{}: removed `{principal}`", label(i, st)));
            continue;
        };
        // Keep what the principal may still do.
        let mut mine = with_principals(st, vec![principal.to_owned()]);
        if let Some(Scope::Only(Principals::Kinds(k))) = &mut mine.principal {
            k.retain(|kind, _| kind == "AWS");
        }
        match &st.action {
            Scope::Only(granted) => {
                let exact_removed: Vec<&String> = granted
                    .iter()
                    .filter(|g| offending.iter().any(|o| o.eq_ignore_ascii_case(g)))
                    .collect();
                let kept: Vec<String> = granted
                    .iter()
                    .filter(|g| !offending.iter().any(|o| o.eq_ignore_ascii_case(g)))
                    .cloned()
                    .collect();
                let still_wild: Vec<&String> = offending
                    .iter()
                    .filter(|o| {
                        kept.iter()
                            .any(|g| wildcard::matches_ignore_ascii_case(g, o))
                    })
                    .collect();
                if !kept.is_empty() {
                    mine.action = Scope::Only(kept);
                    out.push(mine.clone());
                }
                if !exact_removed.is_empty() {
                    changes.push(format!(
                        "{}: `{principal}` no longer granted {}",
                        label(i, st),
                        list(&exact_removed)
                    ));
                }
                if !still_wild.is_empty() {
                    changes.push(format!(
                        "{}: {} granted to `{principal}` through a wildcard: denied instead",
                        label(i, st),
                        list(&still_wild)
                    ));
                    extra_denies.push(deny_for(
                        principal,
                        still_wild.into_iter().cloned().collect(),
                        &st.resource,
                    ));
                }
            }
            Scope::Not(_) => {
                out.push(mine);
                changes.push(format!(
                    "{}: `{principal}` granted through `NotAction`: denied {} instead",
                    label(i, st),
                    list(&offending.iter().collect::<Vec<_>>())
                ));
                extra_denies.push(deny_for(principal, offending.to_vec(), &st.resource));
            }
        }
    }
    if changes.is_empty() {
        return Err(SurgeryError::NothingToRemove(principal.to_owned()));
    }
    out.extend(extra_denies);
    finish(policy, out, changes)
}

fn list(items: &[&String]) -> String {
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn deny_for(
    principal: &str,
    actions: Vec<String>,
    resource: &Option<Scope<Vec<String>>>,
) -> Statement {
    Statement {
        sid: Some(format!(
            "WardenDeny{}",
            crate::evidence::deterministic_id(&[principal, &actions.join(",")])
                .get(..8)
                .unwrap_or("")
        )),
        effect: Effect::Deny,
        principal: Some(Scope::Only(Principals::Kinds(BTreeMap::from([(
            "AWS".to_owned(),
            vec![principal.to_owned()],
        )])))),
        action: Scope::Only(actions),
        resource: resource.clone(),
        condition: Conditions::new(),
    }
}

/// Removes every grant to a principal outside `account` (and the `trusted` accounts): `*`, other
/// accounts and their principals. Service principals and the account's own principals stay.
pub fn remove_outside_grants(
    policy: &PolicyDocument,
    account: &str,
    trusted: &[String],
) -> Result<Surgery, SurgeryError> {
    let inside = |p: &str| crate::grants::principal_is_inside(p, account, trusted);
    let mut out = Vec::new();
    let mut changes = Vec::new();
    for (i, st) in policy.statements.iter().enumerate() {
        if st.effect != Effect::Allow {
            out.push(st.clone());
            continue;
        }
        match &st.principal {
            Some(Scope::Only(Principals::Any)) => changes.push(format!(
                "{}: removed (it granted to everyone, `*`)",
                label(i, st)
            )),
            Some(Scope::Not(_)) => changes.push(format!(
                "{}: removed (`NotPrincipal` granted to everyone but those it names)",
                label(i, st)
            )),
            Some(Scope::Only(Principals::Kinds(kinds))) => {
                let aws = aws_principals(st).cloned().unwrap_or_default();
                let (keep, mut drop): (Vec<String>, Vec<String>) =
                    aws.into_iter().partition(|p| p != "*" && inside(p));
                let mut rest = with_principals(st, keep);
                for kind in crate::grants::OUTSIDE_KINDS {
                    if let Some(named) = kinds.get(kind) {
                        drop.extend(named.iter().cloned());
                        if let Some(Scope::Only(Principals::Kinds(k))) = &mut rest.principal {
                            k.remove(kind);
                        }
                    }
                }
                if drop.is_empty() {
                    out.push(st.clone());
                    continue;
                }
                changes.push(format!(
                    "{}: removed {}",
                    label(i, st),
                    list(&drop.iter().collect::<Vec<_>>())
                ));
                if has_principals(&rest) {
                    out.push(rest);
                }
            }
            _ => out.push(st.clone()),
        }
    }
    if changes.is_empty() {
        return Err(SurgeryError::NothingToRemove(
            "anyone outside the account".to_owned(),
        ));
    }
    finish(policy, out, changes)
}

fn finish(
    policy: &PolicyDocument,
    statements: Vec<Statement>,
    changes: Vec<String>,
) -> Result<Surgery, SurgeryError> {
    let doc = PolicyDocument {
        version: policy.version.clone(),
        id: policy.id.clone(),
        statements,
    };
    let size = doc.to_json().len();
    if size > BUCKET_POLICY_LIMIT {
        return Err(SurgeryError::TooLarge(size));
    }
    Ok(Surgery {
        policy: doc,
        changes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arn::Arn;
    use crate::evaluate::{evaluate, Answer, Policies, Request, RequestContext};
    use proptest::prelude::*;

    const BUCKET: &str = r#"{"Version":"2012-10-17","Statement":[
        {"Sid":"Shared","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:user/alice","arn:aws:iam::111122223333:role/app"],"Service":"logging.s3.amazonaws.com"},"Action":["s3:GetObject","s3:PutObject","s3:PutBucketPolicy"],"Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"]},
        {"Sid":"Wild","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/app"},"Action":"s3:*","Resource":"arn:aws:s3:::b/*"},
        {"Sid":"Public","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/public/*"},
        {"Sid":"Partner","Effect":"Allow","Principal":{"AWS":["444455556666","arn:aws:iam::111122223333:root"]},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::b"},
        {"Sid":"Guard","Effect":"Deny","Principal":"*","Action":"s3:DeleteBucket","Resource":"arn:aws:s3:::b"}
    ]}"#;

    fn answer(doc: &PolicyDocument, principal: &str, action: &str, resource: &str) -> Answer {
        let ctx = RequestContext::complete();
        let account = Arn::parse(principal).map_or(principal, |a| a.account);
        let req = Request {
            principal_arn: principal,
            principal_account: account,
            action,
            resource,
            context: &ctx,
            ..Default::default()
        };
        evaluate(
            &req,
            &Policies {
                identity: &[],
                boundary: None,
                resource: Some(("bucket", doc)),
                ..Default::default()
            },
        )
        .answer
    }

    #[test]
    fn removing_some_actions_splits_the_shared_statement() {
        let doc = PolicyDocument::parse(BUCKET).unwrap();
        let app = "arn:aws:iam::111122223333:role/app";
        let s = remove_principal(
            &doc,
            app,
            Some(&["s3:PutBucketPolicy".to_owned(), "s3:PutObject".to_owned()]),
        )
        .unwrap();
        assert_eq!(
            answer(&s.policy, app, "s3:PutBucketPolicy", "arn:aws:s3:::b"),
            Answer::ImplicitDeny
        );
        assert_eq!(
            answer(&s.policy, app, "s3:PutObject", "arn:aws:s3:::b/k"),
            Answer::ExplicitDeny,
            "granted via s3:* as well: denied"
        );
        assert_eq!(
            answer(&s.policy, app, "s3:GetObject", "arn:aws:s3:::b/k"),
            Answer::Allow
        );
        assert_eq!(
            answer(
                &s.policy,
                "arn:aws:iam::111122223333:user/alice",
                "s3:PutBucketPolicy",
                "arn:aws:s3:::b"
            ),
            Answer::Allow
        );
        assert!(
            s.changes.iter().any(|c| c.contains("wildcard")),
            "{:?}",
            s.changes
        );
        let out = remove_outside_grants(&doc, "111122223333", &[]).unwrap();
        assert_eq!(
            answer(
                &out.policy,
                "arn:aws:iam::999999999999:user/x",
                "s3:GetObject",
                "arn:aws:s3:::b/public/k"
            ),
            Answer::ImplicitDeny
        );
        assert_eq!(
            answer(
                &out.policy,
                "arn:aws:iam::444455556666:user/x",
                "s3:ListBucket",
                "arn:aws:s3:::b"
            ),
            Answer::ImplicitDeny
        );
        // The grant to the bucket's own account stays. Naming the account delegates to its
        // identity policies ("Policy evaluation for requests within a single account"): by itself
        // it allows nobody, so bob, with no identity policy here, is not allowed.
        assert!(
            out.policy
                .to_json()
                .contains(r#""AWS":"arn:aws:iam::111122223333:root""#),
            "{}",
            out.policy.to_json()
        );
        assert_eq!(
            answer(
                &out.policy,
                "arn:aws:iam::111122223333:user/bob",
                "s3:ListBucket",
                "arn:aws:s3:::b"
            ),
            Answer::ImplicitDeny
        );
        assert_eq!(out.policy.statements.len(), 4, "{}", out.policy.to_json());
    }

    proptest! {
        // INVARIANT (surgery-touches-only-the-target): every other principal's answers are unchanged,
        // and the target loses exactly the removed actions.
        #[test]
        fn other_principals_are_untouched(
            target in prop::sample::select(vec!["arn:aws:iam::111122223333:user/alice", "arn:aws:iam::111122223333:role/app"]),
            removed in proptest::collection::vec(prop::sample::select(vec!["s3:GetObject", "s3:PutObject", "s3:PutBucketPolicy", "s3:ListBucket"]), 0..3),
            who in prop::sample::select(vec!["arn:aws:iam::111122223333:user/alice", "arn:aws:iam::111122223333:role/app", "arn:aws:iam::111122223333:user/bob", "arn:aws:iam::444455556666:user/p"]),
            action in prop::sample::select(vec!["s3:GetObject", "s3:PutObject", "s3:PutBucketPolicy", "s3:ListBucket", "s3:DeleteBucket", "s3:DeleteObject"]),
            resource in prop::sample::select(vec!["arn:aws:s3:::b", "arn:aws:s3:::b/k", "arn:aws:s3:::b/public/k"]),
        ) {
            let doc = PolicyDocument::parse(BUCKET).unwrap();
            let removed: Vec<String> = removed.into_iter().map(str::to_owned).collect();
            let actions = if removed.is_empty() { None } else { Some(removed.as_slice()) };
            let Ok(s) = remove_principal(&doc, target, actions) else { return Ok(()) };
            let before = answer(&doc, who, action, resource);
            let after = answer(&s.policy, who, action, resource);
            let targeted = who == target && actions.is_none_or(|a| a.iter().any(|x| x == action));
            // A grant to everyone (`Principal: "*"`) does not name the target; it is the outside-grants
            // surgery's business, so the target may keep what anyone may do.
            let anyone = answer(&doc, "arn:aws:iam::111122223333:user/nobody", action, resource);
            if targeted {
                prop_assert!(after != Answer::Allow || anyone == Answer::Allow, "{who} still allowed {action} on {resource}");
            } else {
                prop_assert_eq!(before, after, "{} {} {}", who, action, resource);
            }
        }
    }
}

#[cfg(test)]
mod outside_kinds {
    use super::*;
    use serde_json::json;

    // Regression (issue 9, class 4): `NotPrincipal`, identity-pool and canonical-user grants are
    // outside grants, and the surgery takes them out (service and own-account grants stay).
    #[test]
    fn not_principal_federated_and_canonical_user_grants_are_removed() {
        let doc = PolicyDocument::from_value(&json!({"Statement":[
            {"Sid":"Not","Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"},
            {"Sid":"Mixed","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/app","Federated":"cognito-identity.amazonaws.com","CanonicalUser":"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be","Service":"logging.s3.amazonaws.com"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}
        ]}))
        .unwrap();
        let s = remove_outside_grants(&doc, "111122223333", &[]).unwrap();
        let text = s.policy.to_json();
        assert!(!text.contains("NotPrincipal"), "{text}");
        assert!(
            !text.contains("cognito") && !text.contains("79a59df9"),
            "{text}"
        );
        assert!(
            text.contains("role/app") && text.contains("logging.s3"),
            "{text}"
        );
        assert_eq!(
            crate::grants::outside_grants(&s.policy, "111122223333", &[]),
            Vec::new()
        );
    }
}
