//! Whether a bucket policy in a `PutBucketPolicy` event grants access outside the bucket's account
//! (or the trusted accounts): `Allow` statements whose `Principal` is `*`, `{"AWS": "*"}`, an account
//! or ARN of another account, a `Federated` identity or a `CanonicalUser`, and `Allow` with
//! `NotPrincipal` (everyone else). Service principals are not "outside". Conditions are not
//! evaluated here: a statement with a condition is still reported, with a note, because a guard must
//! not assume a condition narrows the grant ("Policy evaluation logic", "AWS JSON policy elements:
//! Principal", IAM user guide). `bucket` removes exactly these grants, judging "inside" the same way.

use crate::policy::{Effect, PolicyDocument, Principals, Scope};

/// How an `Allow` with `NotPrincipal` is reported: it grants to everyone it does not name.
pub const NOT_PRINCIPAL: &str = "everyone but those named (`NotPrincipal`)";

/// Principal kinds that are outside the account whatever they name: identities of an identity
/// provider (`Federated`: Cognito identity pools, OIDC, SAML) and S3 canonical users (a bucket
/// policy grants the owner nothing it lacks, so a canonical user named there is taken as another
/// account's).
pub const OUTSIDE_KINDS: [&str; 2] = ["Federated", "CanonicalUser"];

/// One grant to a principal outside the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutsideGrant {
    pub statement: String,
    pub principal: String,
    pub conditional: bool,
}

/// Whether an `AWS` principal (`*`, an account id, or an ARN) is inside `account` or a trusted account.
pub fn principal_is_inside(principal: &str, account: &str, trusted: &[String]) -> bool {
    let acct = if principal == "*" {
        None
    } else if principal.starts_with("arn:") {
        crate::arn::Arn::parse(principal).map(|a| a.account)
    } else {
        Some(principal)
    };
    acct.is_some_and(|a| a == account || trusted.iter().any(|t| t == a))
}

/// The outside grants of a policy: its `Allow` statements' principals outside the account.
pub fn outside_grants(
    policy: &PolicyDocument,
    account: &str,
    trusted: &[String],
) -> Vec<OutsideGrant> {
    let mut out = Vec::new();
    for (i, st) in policy.statements.iter().enumerate() {
        if st.effect != Effect::Allow {
            continue;
        }
        let principals: Vec<&str> = match &st.principal {
            Some(Scope::Only(Principals::Any)) => vec!["*"],
            // `NotPrincipal` with `Allow` grants to everyone but those it names.
            Some(Scope::Not(_)) => vec![NOT_PRINCIPAL],
            Some(Scope::Only(Principals::Kinds(k))) => k
                .get("AWS")
                .into_iter()
                .flatten()
                .map(String::as_str)
                .filter(|p| !principal_is_inside(p, account, trusted))
                .chain(
                    OUTSIDE_KINDS
                        .iter()
                        .filter_map(|kind| k.get(*kind))
                        .flatten()
                        .map(String::as_str),
                )
                .collect(),
            None => Vec::new(),
        };
        let sid = st.sid.clone().unwrap_or_else(|| format!("#{i}"));
        for p in principals {
            out.push(OutsideGrant {
                statement: sid.clone(),
                principal: p.to_owned(),
                conditional: !st.condition.is_empty(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn public_and_cross_account_grants_are_found() {
        let doc = |v: Value| PolicyDocument::from_value(&v).unwrap();
        let p = doc(json!({"Statement":[
            {"Sid":"Public","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"},
            {"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:root","444455556666"]},"Action":"s3:*","Resource":"*"},
            {"Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},"Action":"s3:PutObject","Resource":"*"},
            {"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*"}
        ]}));
        let g = outside_grants(&p, "111122223333", &["444455556666".to_owned()]);
        assert_eq!(
            g,
            vec![OutsideGrant {
                statement: "Public".into(),
                principal: "*".into(),
                conditional: false
            }]
        );
        let kinds = doc(json!({"Statement":[
            {"Sid":"Not","Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"s3:GetObject","Resource":"*"},
            {"Sid":"Pool","Effect":"Allow","Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"s3:GetObject","Resource":"*"},
            {"Sid":"Canon","Effect":"Allow","Principal":{"CanonicalUser":"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"},"Action":"s3:GetObject","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}
        ]}));
        let g = outside_grants(&kinds, "111122223333", &[]);
        assert_eq!(
            g.iter()
                .map(|x| (x.statement.as_str(), x.conditional))
                .collect::<Vec<_>>(),
            vec![("Not", false), ("Pool", false), ("Canon", true)]
        );
        let from_string = doc(json!("{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"999999999999\"},\"Action\":\"s3:*\"}}"));
        assert_eq!(outside_grants(&from_string, "1", &[]).len(), 1);
        assert!(PolicyDocument::from_value(&json!({})).is_err());
    }

    #[test]
    fn the_stratus_backdoor_bucket_policy_is_outside() {
        let text = include_str!("../../fixtures/policies/stratus_red_team_malicious_policies.json");
        let all: Value = serde_json::from_str(text).unwrap();
        let policy = all["policies"]
            .as_object()
            .unwrap()
            .iter()
            .find(|(k, _)| k.contains("s3-backdoor"))
            .unwrap()
            .1;
        let g = outside_grants(
            &PolicyDocument::from_value(policy).unwrap(),
            "111122223333",
            &[],
        );
        assert!(!g.is_empty());
    }
}
