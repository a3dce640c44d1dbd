//! The least-privilege policy a principal's history needs: its used actions on its used resources,
//! grouped (actions with the same resources share a statement), compacted only where it is certain
//! (no action wildcards are invented; a resource pattern only for an IAM name seen without its path,
//! which covers that name at any path, and for resources past `RESOURCES_PER_ACTION`, which are
//! covered by their common prefix), and split across documents within IAM's size limit.
//!
//! Before a policy is shown it is checked (`verify`): every successful call of the history, asked of
//! the evaluator with the generated documents as the principal's only policies, is allowed.
//!
//! The dependent actions the Service Authorization Reference lists would be added here; the vendored
//! copy lists none for any action (its `dependentActions` are all empty), so the actions a call also
//! authorises come from the event map's `extra` entries (`iam:PassRole` from the request
//! parameters of the calls that pass a role), which the mapping already reports as used.

use super::usage::PrincipalUsage;
use crate::evaluate::{evaluate, Answer, Policies, Request};
use crate::mapping::Resource;
use crate::policy::{Effect, PolicyDocument, Scope, Statement};
use crate::wildcard;
use std::collections::{BTreeMap, BTreeSet};

/// The size limit of a customer managed policy, in characters without whitespace ("IAM and AWS
/// STS quotas", IAM user guide): the generated documents are meant to be managed policies.
pub const MANAGED_POLICY_LIMIT: usize = 6_144;

/// A generated policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    pub documents: Vec<PolicyDocument>,
    /// What the reader should know: resources widened to a pattern, resources the history could not
    /// name (`*`), documents split.
    pub notes: Vec<String>,
}

/// Generates the least-privilege documents for one principal's use.
pub fn generate(usage: &PrincipalUsage, limit: usize) -> Generated {
    let mut notes = Vec::new();
    // Per action (as the catalog spells it): its resource patterns.
    let mut per_action: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (action, resource, _) in usage.uses() {
        per_action
            .entry(action)
            .or_default()
            .extend(resource.patterns());
    }
    for (action, ov) in &usage.overflow {
        let pattern = format!("{}*", wildcard::escape_literal(&ov.prefix));
        notes.push(format!(
            "`{action}`: {} more resources than the {} kept one by one are covered by `{pattern}`",
            ov.seen.count,
            super::usage::RESOURCES_PER_ACTION
        ));
        per_action.entry(action).or_default().insert(pattern);
    }
    for (action, (seen, why)) in &usage.unresolved {
        notes.push(format!(
            "`{action}` on `*`: the history does not name its resource ({} calls: {why})",
            seen.count
        ));
        per_action.entry(action).or_default().insert("*".to_owned());
    }
    for set in per_action.values_mut() {
        if set.contains("*") {
            set.retain(|r| r == "*");
        }
    }
    // Actions with the same resources share a statement.
    let mut by_resources: BTreeMap<BTreeSet<String>, BTreeSet<&str>> = BTreeMap::new();
    for (action, resources) in per_action {
        by_resources.entry(resources).or_default().insert(action);
    }
    let mut statements = Vec::new();
    for (resources, actions) in by_resources {
        let actions: Vec<String> = actions.into_iter().map(str::to_owned).collect();
        let resources: Vec<String> = resources.into_iter().collect();
        statements.extend(split_to_fit(actions, resources, limit));
    }
    let documents = pack(statements, limit);
    if documents.len() > 1 {
        notes.push(format!(
            "split into {} policies of at most {limit} characters each",
            documents.len()
        ));
    }
    Generated { documents, notes }
}

fn statement(actions: Vec<String>, resources: Vec<String>) -> Statement {
    Statement {
        sid: None,
        effect: Effect::Allow,
        principal: None,
        action: Scope::Only(actions),
        resource: Some(Scope::Only(resources)),
        condition: BTreeMap::new(),
    }
}

fn document(statements: Vec<Statement>) -> PolicyDocument {
    PolicyDocument {
        version: Some("2012-10-17".to_owned()),
        id: None,
        statements,
    }
}

/// Room a document's own envelope takes (`{"Version":"2012-10-17","Statement":[]}`), and a
/// margin for the `Sid`s added when packing.
const ENVELOPE: usize = 64;

/// One statement, or several when it alone would not fit in a document: its resources, then (for a
/// single resource) its actions, in halves.
fn split_to_fit(actions: Vec<String>, resources: Vec<String>, limit: usize) -> Vec<Statement> {
    let st = statement(actions.clone(), resources.clone());
    if document(vec![st.clone()]).size() + ENVELOPE <= limit {
        return vec![st];
    }
    if resources.len() > 1 {
        let (a, b) = resources.split_at(resources.len() / 2);
        let mut out = split_to_fit(actions.clone(), a.to_vec(), limit);
        out.extend(split_to_fit(actions, b.to_vec(), limit));
        return out;
    }
    if actions.len() > 1 {
        let (a, b) = actions.split_at(actions.len() / 2);
        let mut out = split_to_fit(a.to_vec(), resources.clone(), limit);
        out.extend(split_to_fit(b.to_vec(), resources, limit));
        return out;
    }
    // One action on one resource that does not fit: an ARN of thousands of characters. It goes out
    // as it is, and IAM will refuse it; `verify` still checks what it allows.
    vec![st]
}

/// Packs statements into as few documents as fit (first fit, in order), with `Sid`s.
fn pack(statements: Vec<Statement>, limit: usize) -> Vec<PolicyDocument> {
    let mut docs: Vec<Vec<Statement>> = Vec::new();
    for st in statements {
        let fits = |d: &Vec<Statement>| {
            let mut probe = d.clone();
            probe.push(st.clone());
            document(probe).size() + ENVELOPE <= limit
        };
        match docs.iter_mut().find(|d| fits(d)) {
            Some(d) => d.push(st),
            None => docs.push(vec![st]),
        }
    }
    docs.into_iter()
        .map(|sts| {
            document(
                sts.into_iter()
                    .enumerate()
                    .map(|(i, mut s)| {
                        s.sid = Some(format!("Used{}", i + 1));
                        s
                    })
                    .collect(),
            )
        })
        .collect()
}

/// A concrete ARN a resource stands for (a path-unknown name: at the root path).
fn witness(r: &Resource) -> &str {
    &r.arn
}

/// Checks that the documents allow every successful call of the history, as the evaluator judges
/// it with them as the principal's only policies. `Err`: the calls they do not allow.
pub fn verify(
    usage: &PrincipalUsage,
    principal_arn: &str,
    documents: &[PolicyDocument],
) -> Result<(), Vec<String>> {
    let account = crate::arn::Arn::parse(principal_arn)
        .map(|a| a.account.to_owned())
        .unwrap_or_default();
    let named: Vec<(String, &PolicyDocument)> = documents
        .iter()
        .enumerate()
        .map(|(i, d)| (format!("generated {}", i + 1), d))
        .collect();
    let identity: Vec<(&str, &PolicyDocument)> =
        named.iter().map(|(n, d)| (n.as_str(), *d)).collect();
    let policies = Policies {
        identity: &identity,
        ..Default::default()
    };
    let mut missing = Vec::new();
    let mut ask = |action: &str, resource: &str| {
        let req = Request {
            principal_arn,
            principal_account: &account,
            action,
            resource,
            ..Default::default()
        };
        if evaluate(&req, &policies).answer != Answer::Allow {
            missing.push(format!("`{action}` on `{resource}`"));
        }
    };
    for (action, resource, _) in usage.uses() {
        ask(action, witness(resource));
    }
    for (action, ov) in &usage.overflow {
        ask(action, &ov.prefix);
    }
    for action in usage.unresolved.keys() {
        ask(action, "*");
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(missing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::usage::Seen;

    fn usage(calls: &[(&str, &str)]) -> PrincipalUsage {
        let mut u = PrincipalUsage::default();
        for (a, r) in calls {
            u.used
                .entry((*a).to_owned())
                .or_default()
                .insert(Resource::exact(*r), Seen::at(0));
        }
        u
    }

    #[test]
    fn actions_on_the_same_resources_share_a_statement() {
        let u = usage(&[
            ("s3:GetObject", "arn:aws:s3:::b/k"),
            ("s3:PutObject", "arn:aws:s3:::b/k"),
            ("s3:ListBucket", "arn:aws:s3:::b"),
            ("sts:GetCallerIdentity", "*"),
        ]);
        let g = generate(&u, MANAGED_POLICY_LIMIT);
        assert_eq!(g.documents.len(), 1);
        let json = g.documents[0].to_json();
        assert!(
            json.contains(
                r#""Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::b/k""#
            ),
            "{json}"
        );
        verify(&u, "arn:aws:iam::111122223333:user/u", &g.documents).unwrap();
        // Nothing more: another key of the bucket is not allowed.
        let other = usage(&[("s3:GetObject", "arn:aws:s3:::b/other")]);
        assert!(verify(&other, "arn:aws:iam::111122223333:user/u", &g.documents).is_err());
    }

    #[test]
    fn keys_with_wildcard_characters_are_escaped_and_large_histories_split() {
        let u = usage(&[("s3:GetObject", "arn:aws:s3:::b/reports/*")]);
        let g = generate(&u, MANAGED_POLICY_LIMIT);
        assert!(g.documents[0].to_json().contains("reports/${*}"));
        let other = usage(&[("s3:GetObject", "arn:aws:s3:::b/reports/x")]);
        assert!(verify(&other, "arn:aws:iam::111122223333:user/u", &g.documents).is_err());

        let many: Vec<(String, String)> = (0..400)
            .map(|i| {
                (
                    "s3:GetObject".to_owned(),
                    format!("arn:aws:s3:::bucket/some/long/key/{i:04}"),
                )
            })
            .collect();
        let refs: Vec<(&str, &str)> = many.iter().map(|(a, r)| (a.as_str(), r.as_str())).collect();
        let u = usage(&refs);
        let g = generate(&u, MANAGED_POLICY_LIMIT);
        assert!(g.documents.len() > 1);
        assert!(g.documents.iter().all(|d| d.size() <= MANAGED_POLICY_LIMIT));
        verify(&u, "arn:aws:iam::111122223333:user/u", &g.documents).unwrap();
    }
}
