//! `warden access --plan`: findings turned into Warden plans, two ways, for a person to choose.
//!
//! - **Deny the unused**: Warden's own primitive. The `UnusedPermission` findings of the longest
//!   covered window become `(action, resource)` pairs (each unused action on the resource patterns
//!   its allowing statements name; an unused resource pattern of a used action on that pattern),
//!   merged into the principal's `WardenDeny` with the statements that keep the principal from
//!   lifting it (`planner::merge_deny`, `planner::protect`), inline when it fits IAM's inline limit,
//!   else Warden's managed fallback. No shared or AWS-managed policy is touched. A Deny never
//!   takes away anything the principal used: a pattern the grant names with `*` is denied with
//!   that `*` for that action only, and a service none of whose actions it used (none of its
//!   grants exempt) is denied as `service:*` on the resources its grants name, which denies
//!   nothing it could do and used.
//! - **Replace the principal's own inline policies** with the generated policy: each own inline
//!   the generated document put as `WardenLeastPrivilege` first (precondition: no policy of that
//!   name), then each own inline policy deleted (precondition: its live document is still the one
//!   in the account file), so the principal never lacks what it used between two steps; the undo
//!   deletes the generated one and puts every earlier document back. Group and managed policies are left as they are (they are
//!   shared), and the plan says so.
//!
//! Both are `monitor` plans: printed with their steps and undo, applied only when a person asks
//! (`warden access --plan --apply deny-unused|replace-inline`, through the same connectors,
//! evidence and held record as the live path: the handler's `enforce::apply_plan`). They use the
//! live path's step shape, `planner::Step`.

use super::findings::{Finding, UNUSED_PERMISSION};
use crate::planner::{
    managed_policy_arn, managed_policy_name, merge_deny, protect, Placement, Step,
    MANAGED_POLICY_LIMIT, ROLE_INLINE_LIMIT, USER_INLINE_LIMIT,
};
use crate::policy::PolicyDocument;
use crate::rules::DENY_POLICY_NAME;
use crate::snapshot::PrincipalRecord;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The name of the generated policy when it replaces a principal's own inline policies.
pub const LEAST_PRIVILEGE_POLICY_NAME: &str = "WardenLeastPrivilege";

/// The Deny of the unused permissions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnusedDeny {
    pub window_days: u32,
    pub policy_name: String,
    pub placement: Placement,
    pub policy_document: Value,
    /// The `(action, resource)` pairs it denies.
    pub denied: Vec<(String, String)>,
    pub steps: Vec<Step>,
    /// Undo: the Deny policy deleted (or detached), as `warden rollback` would.
    pub undo: Vec<Step>,
    pub notes: Vec<String>,
}

/// The replacement of the principal's own inline policies.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InlineReplacement {
    pub steps: Vec<Step>,
    pub undo: Vec<Step>,
    pub notes: Vec<String>,
}

/// The plans for one principal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plans {
    pub mode: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deny_unused: Option<UnusedDeny>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replace_inline: Option<InlineReplacement>,
}

fn step(call: &str, params: Vec<(&str, Value)>, precondition: &str, expect: Option<Value>) -> Step {
    Step {
        call: call.to_owned(),
        params: params
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect::<BTreeMap<_, _>>(),
        precondition: precondition.to_owned(),
        expect,
    }
}

fn doc_value(d: &PolicyDocument) -> Value {
    serde_json::from_str(&d.to_json()).unwrap_or(Value::Null)
}

/// The plans for `p`, from its findings, what its policies allow, and its generated documents.
pub fn plans(
    p: &PrincipalRecord,
    findings: &[Finding],
    allowed: &BTreeMap<String, super::findings::Allowed>,
    generated: &[PolicyDocument],
) -> Plans {
    Plans {
        mode: "monitor",
        deny_unused: deny_unused(p, findings, allowed),
        replace_inline: replace_inline(p, generated),
    }
}

fn deny_unused(
    p: &PrincipalRecord,
    findings: &[Finding],
    allowed: &BTreeMap<String, super::findings::Allowed>,
) -> Option<UnusedDeny> {
    // The longest window with findings (an uncovered one has none but INSUFFICIENT_DATA).
    let window = findings
        .iter()
        .filter(|f| f.finding_type == UNUSED_PERMISSION)
        .map(|f| f.window_days)
        .max()?;
    let mut pairs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    // Services none of whose actions were used: one `service:*` per service, not every action.
    let mut whole: BTreeSet<String> = BTreeSet::new();
    for f in findings
        .iter()
        .filter(|f| f.finding_type == UNUSED_PERMISSION && f.window_days == window)
    {
        match (&f.service, &f.action, &f.resource) {
            (Some(service), _, _) => {
                let prefix = format!("{}:", service.to_ascii_lowercase());
                // Only where no grant of the service is exempt (recent, `WardenKeep`).
                if !allowed
                    .iter()
                    .any(|(a, al)| a.to_ascii_lowercase().starts_with(&prefix) && al.exempt)
                {
                    whole.insert(prefix.clone());
                }
                for (a, al) in allowed
                    .iter()
                    .filter(|(a, al)| a.to_ascii_lowercase().starts_with(&prefix) && !al.exempt)
                {
                    pairs
                        .entry(a.clone())
                        .or_default()
                        .extend(al.resources.iter().cloned());
                }
            }
            (None, Some(action), Some(resource)) => {
                pairs
                    .entry(action.clone())
                    .or_default()
                    .insert(resource.clone());
            }
            (None, Some(action), None) => {
                if let Some(al) = allowed.get(action) {
                    pairs
                        .entry(action.clone())
                        .or_default()
                        .extend(al.resources.iter().cloned());
                }
            }
            _ => {}
        }
    }
    let mut services = 0;
    for prefix in &whole {
        let (of, rest): (BTreeMap<_, _>, BTreeMap<_, _>) = std::mem::take(&mut pairs)
            .into_iter()
            .partition(|(a, _)| a.to_ascii_lowercase().starts_with(prefix.as_str()));
        pairs = rest;
        if of.is_empty() {
            continue;
        }
        let resources: BTreeSet<String> = of.into_values().flatten().collect();
        pairs.insert(format!("{prefix}*"), resources);
        services += 1;
    }
    let pairs: Vec<(String, Vec<String>)> = pairs
        .into_iter()
        .map(|(a, r)| (a, r.into_iter().collect()))
        .collect();
    if pairs.is_empty() {
        return None;
    }
    let is_role = p.arn.contains(":role/");
    let kind = if is_role { "Role" } else { "User" };
    let inline_limit = if is_role {
        ROLE_INLINE_LIMIT
    } else {
        USER_INLINE_LIMIT
    };
    let mut notes = Vec::new();
    if services > 0 {
        notes.push(format!(
            "{services} service(s) had no action used: each is denied as `service:*` on the resources its grants name (what the principal could do there is all unused; denying what it could not do changes nothing it can do)"
        ));
    }
    let mut doc = merge_deny(None, &pairs, None);
    protect(&mut doc, &p.arn, Placement::Inline, None);
    let (placement, policy_name, arn) = if doc.size() <= inline_limit {
        (Placement::Inline, DENY_POLICY_NAME.to_owned(), None)
    } else {
        let name = managed_policy_name(&p.arn);
        let a = crate::arn::Arn::parse(&p.arn);
        let arn = managed_policy_arn(
            a.as_ref().map_or("aws", |a| a.partition),
            a.as_ref().map_or("", |a| a.account),
            &name,
        );
        doc = merge_deny(None, &pairs, None);
        protect(&mut doc, &p.arn, Placement::Managed, Some(&arn));
        notes.push(format!(
            "the Deny does not fit the {inline_limit}-character inline limit: Warden's managed fallback `{arn}`"
        ));
        (Placement::Managed, name, Some(arn))
    };
    if doc.size() > MANAGED_POLICY_LIMIT {
        notes.push(format!(
            "the Deny is {} characters, over IAM's {MANAGED_POLICY_LIMIT} for a managed policy: prefer replacing the inline policies, or narrow it by hand",
            doc.size()
        ));
    }
    if pairs.iter().any(|(_, r)| r.iter().any(|r| r == "*")) {
        notes.push("some unused actions are granted on `*`: they are denied on `*`, for those actions only".to_owned());
    }
    let key = if is_role { "RoleName" } else { "UserName" };
    let name = Value::String(p.name.clone());
    let value = doc_value(&doc);
    let (steps, undo) = match &arn {
        None => (
            vec![step(
                &format!("iam:Put{kind}Policy"),
                vec![
                    (key, name.clone()),
                    ("PolicyName", Value::String(policy_name.clone())),
                    ("PolicyDocument", value.clone()),
                ],
                "none: the document is Warden's own",
                None,
            )],
            vec![step(
                &format!("iam:Delete{kind}Policy"),
                vec![
                    (key, name),
                    ("PolicyName", Value::String(policy_name.clone())),
                ],
                "the live document is still Warden's",
                Some(value.clone()),
            )],
        ),
        Some(arn) => (
            vec![step(
                "warden:PutManagedDeny",
                vec![
                    (key, name.clone()),
                    ("PolicyName", Value::String(policy_name.clone())),
                    ("PolicyDocument", value.clone()),
                ],
                "none: the document is Warden's own",
                None,
            )],
            vec![step(
                &format!("iam:Detach{kind}Policy"),
                vec![(key, name), ("PolicyArn", Value::String(arn.clone()))],
                "the policy is still attached",
                None,
            )],
        ),
    };
    Some(UnusedDeny {
        window_days: window,
        policy_name,
        placement,
        policy_document: value,
        denied: pairs
            .iter()
            .flat_map(|(a, rs)| rs.iter().map(move |r| (a.clone(), r.clone())))
            .collect(),
        steps,
        undo,
        notes,
    })
}

fn replace_inline(p: &PrincipalRecord, generated: &[PolicyDocument]) -> Option<InlineReplacement> {
    if p.inline.is_empty() {
        return None;
    }
    let is_role = p.arn.contains(":role/");
    let kind = if is_role { "Role" } else { "User" };
    let key = if is_role { "RoleName" } else { "UserName" };
    let limit = if is_role {
        ROLE_INLINE_LIMIT
    } else {
        USER_INLINE_LIMIT
    };
    let mut notes = Vec::new();
    let name = Value::String(p.name.clone());
    let mut steps = Vec::new();
    let mut undo = Vec::new();
    let mut merged = PolicyDocument {
        version: Some("2012-10-17".to_owned()),
        id: None,
        statements: generated
            .iter()
            .flat_map(|d| d.statements.clone())
            .collect(),
    };
    for (i, st) in merged.statements.iter_mut().enumerate() {
        st.sid = Some(format!("Used{}", i + 1));
    }
    if merged.size() > limit {
        notes.push(format!(
            "the generated policy is {} characters, over the {limit}-character inline limit: it cannot replace the inline policies as one; attach the generated documents as managed policies instead",
            merged.size()
        ));
        return Some(InlineReplacement { steps, undo, notes });
    }
    // The generated policy goes in first, then the earlier ones go: at no point between the steps
    // does the principal lack a permission it used.
    if generated.is_empty() {
        notes.push("the principal used nothing in the history: replacing its inline policies leaves it none".to_owned());
    } else {
        let value = doc_value(&merged);
        steps.push(step(
            &format!("iam:Put{kind}Policy"),
            vec![
                (key, name.clone()),
                (
                    "PolicyName",
                    Value::String(LEAST_PRIVILEGE_POLICY_NAME.to_owned()),
                ),
                ("PolicyDocument", value.clone()),
            ],
            "the principal has no inline policy of this name",
            Some(crate::planner::expect_absent()),
        ));
        undo.push(step(
            &format!("iam:Delete{kind}Policy"),
            vec![
                (key, name.clone()),
                (
                    "PolicyName",
                    Value::String(LEAST_PRIVILEGE_POLICY_NAME.to_owned()),
                ),
            ],
            "the live document is still the generated one",
            Some(value),
        ));
    }
    for (policy, doc) in &p.inline {
        if policy == DENY_POLICY_NAME || policy == crate::planner::QUARANTINE_POLICY_NAME {
            notes.push(format!("`{policy}` is Warden's own and is kept"));
            continue;
        }
        if policy == LEAST_PRIVILEGE_POLICY_NAME {
            notes.push(format!(
                "`{policy}` is already there (an earlier replacement): roll that back or delete it first"
            ));
            return Some(InlineReplacement {
                steps: Vec::new(),
                undo: Vec::new(),
                notes,
            });
        }
        let value = doc_value(doc);
        steps.push(step(
            &format!("iam:Delete{kind}Policy"),
            vec![
                (key, name.clone()),
                ("PolicyName", Value::String(policy.clone())),
            ],
            "the live document is still the one in the account file",
            Some(value.clone()),
        ));
        undo.push(step(
            &format!("iam:Put{kind}Policy"),
            vec![
                (key, name.clone()),
                ("PolicyName", Value::String(policy.clone())),
                ("PolicyDocument", value),
            ],
            "none: the earlier document, from the account file",
            None,
        ));
    }
    if !p.attached.is_empty() || !p.groups.is_empty() {
        notes.push("managed and group policies are shared and left as they are: the principal keeps what they grant".to_owned());
    }
    Some(InlineReplacement { steps, undo, notes })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::super::findings::Allowed;
    use super::*;

    fn alice() -> PrincipalRecord {
        PrincipalRecord {
            arn: "arn:aws:iam::111122223333:user/alice".to_owned(),
            name: "alice".to_owned(),
            ..PrincipalRecord::default()
        }
    }

    fn unused_service(service: &str) -> Finding {
        Finding {
            finding_type: UNUSED_PERMISSION.to_owned(),
            service: Some(service.to_owned()),
            action: None,
            resource: None,
            window_days: 90,
            detail: String::new(),
        }
    }

    fn allowed(actions: &[(&str, &str, bool)]) -> BTreeMap<String, Allowed> {
        actions
            .iter()
            .map(|(a, r, exempt)| {
                (
                    (*a).to_owned(),
                    Allowed {
                        resources: BTreeSet::from([(*r).to_owned()]),
                        exempt: *exempt,
                    },
                )
            })
            .collect()
    }

    fn denied(allowed: &BTreeMap<String, Allowed>) -> Vec<(String, String)> {
        plans(&alice(), &[unused_service("dynamodb")], allowed, &[])
            .deny_unused
            .expect("a Deny")
            .denied
    }

    #[test]
    fn a_service_with_nothing_used_is_denied_whole_on_what_its_grants_name() {
        let a = allowed(&[
            ("dynamodb:DeleteTable", "*", false),
            (
                "dynamodb:GetItem",
                "arn:aws:dynamodb:us-east-1:111122223333:table/t",
                false,
            ),
            ("s3:GetObject", "arn:aws:s3:::data/*", false),
        ]);
        assert_eq!(
            denied(&a),
            [
                ("dynamodb:*".to_owned(), "*".to_owned()),
                (
                    "dynamodb:*".to_owned(),
                    "arn:aws:dynamodb:us-east-1:111122223333:table/t".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn a_service_with_an_exempt_grant_is_denied_action_by_action_without_it() {
        let a = allowed(&[
            ("dynamodb:DeleteTable", "*", false),
            ("dynamodb:GetItem", "*", true),
        ]);
        assert_eq!(
            denied(&a),
            [("dynamodb:DeleteTable".to_owned(), "*".to_owned())]
        );
    }
}
