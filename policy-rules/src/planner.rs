//! The planner: the narrowest Deny that brings a principal back inside a rule, where to put it, and
//! how to undo the caller's change. Pure: it reads the event, the decision, the rules and (when given)
//! an account snapshot, and returns a plan for `handler` to apply.
//!
//! - Scope: `observed` denies the exact action(s) on the exact resource(s) of the event; `rule` denies
//!   those of the rule's actions that the principal's current policies allow (per the evaluator), on
//!   the resources they allow them — never more than the rule names.
//! - Placement: one Warden-owned inline policy per principal (`WardenDeny`), merged with Warden's
//!   earlier statements (same resources → one statement; duplicates dropped; sorted), never touching
//!   any other policy. Over the inline budget ("IAM and AWS STS quotas": a user's inline policies
//!   together ≤ 2,048 characters, a role's ≤ 10,240, a group's ≤ 5,120, whitespace not counted) it
//!   falls back to a Warden-owned managed policy (≤ 6,144 characters, mind the 10 attached policies);
//!   when that is impossible too the outcome is an alert — never a silently broader Deny.
//! - Sessions: AWS's own "revoke active sessions" statement (Deny `*` when `aws:TokenIssueTime` is
//!   before the event), for roles, when the rule asks.
//! - Undo: the inverse of the caller's change, as steps with the precondition each needs.

use crate::arn::Arn;
use crate::caller::{CallerKind, Restrictable};
use crate::catalog::Catalog;
use crate::decision::{Decision, Verdict};
use crate::evaluate::{evaluate, Answer, Policies, Request, RequestContext};
use crate::event::Event;
use crate::mapping::Analysis;
use crate::policy::{Conditions, Effect, PolicyDocument, Scope, Statement};
use crate::rules::{DenyScope, RuleSet};
use crate::snapshot::Snapshot;
use crate::wildcard;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

pub use crate::rules::DENY_POLICY_NAME;
/// The Warden-owned inline policy that quarantines a principal created in violation.
pub const QUARANTINE_POLICY_NAME: &str = "WardenQuarantine";
/// The `Sid` of the revoke-older-sessions statement.
pub const REVOKE_SID: &str = "WardenRevokeOlderSessions";
/// The `Sid` (prefix) of the statements that protect Warden's Deny from the principal it restricts.
pub const PROTECT_SID: &str = "WardenProtectsItsDeny";

/// IAM size limits ("IAM and AWS STS quotas").
pub const USER_INLINE_LIMIT: usize = 2_048;
pub const ROLE_INLINE_LIMIT: usize = 10_240;
pub const GROUP_INLINE_LIMIT: usize = 5_120;
pub const MANAGED_POLICY_LIMIT: usize = 6_144;
pub const ATTACHED_POLICY_LIMIT: usize = 10;

/// One change to make (placing the Deny, or one step of an undo), with the precondition it needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// The IAM or S3 API call, as `service:Operation` (`warden:PutManagedDeny` for the managed
    /// fallback, which creates or updates a Warden-owned policy and attaches it).
    pub call: String,
    pub params: BTreeMap<String, Value>,
    /// What must still be true of the live state for the step to be safe.
    pub precondition: String,
    /// The document the event wrote, when the precondition is "the live document is still the one
    /// the event wrote": the connector compares the live document with it before acting.
    /// [`expect_absent`] asks that the thing does not exist (a deleted policy put back only while
    /// none of its name exists again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Value>,
}

/// The `expect` of a step that acts only while the thing it would create does not exist.
pub fn expect_absent() -> Value {
    serde_json::json!({"absent": true})
}

/// Where the Deny goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Placement {
    Inline,
    Managed,
}

/// A plan to apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The principal's ARN.
    pub target: String,
    pub target_name: String,
    pub policy_name: String,
    pub placement: Placement,
    /// The whole document to write (Warden's earlier statements merged in).
    pub policy_document: Value,
    /// The `(action, resource)` pairs this plan adds.
    pub denied: Vec<(String, String)>,
    /// Sessions issued before this time stop working (roles only).
    pub revoke_sessions_before: Option<String>,
    pub undo: Vec<Step>,
    /// Why the change has no safe inverse, when it has none.
    pub no_undo: Option<String>,
    /// Why the placement is not the default inline policy, or the scope not the rule's.
    pub fallback: Option<String>,
    pub reasons: Vec<String>,
}

/// What the planner makes of a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Deny(Box<Plan>),
    /// A person must act; undo steps may still be proposed.
    Alert {
        reasons: Vec<String>,
        undo: Vec<Step>,
    },
    /// Nothing to do (the verdict is not a violation).
    Nothing,
}

/// Everything the planner reads.
pub struct Input<'a> {
    pub event: &'a Event<'a>,
    pub analysis: &'a Analysis,
    pub decision: &'a Decision,
    pub rules: &'a RuleSet,
    pub catalog: &'a Catalog,
    pub snapshot: Option<&'a Snapshot>,
    /// Warden's Deny on the principal as Warden holds it (rendered from its own record,
    /// `held::Held::document`), merged into the new document. Never the live policy: a Deny
    /// someone deleted or rewrote by hand is still in Warden's record, and comes back.
    pub held: Option<&'a PolicyDocument>,
    /// The account just before the event, as the account model vouches for it (the undo's
    /// before-states: an overwritten inline policy, a trust policy, a default policy version, a
    /// bucket policy). `None`: no model, so every before-state the event does not carry is
    /// unknown and a person is told what to do. Offline, an account file taken before the events
    /// serves (`BeforeEvent::from_snapshot`).
    pub before: Option<&'a crate::model::BeforeEvent>,
}

/// Plans the response to one decision.
pub fn plan(input: &Input<'_>) -> Outcome {
    let d = input.decision;
    let rule = d
        .rule
        .as_deref()
        .and_then(|id| input.rules.rules.iter().find(|r| r.id == id));
    let undo_wanted = rule.is_some_and(|r| r.response.undo);
    let (mut undo, mut no_undo) =
        if undo_wanted && matches!(d.verdict, Verdict::Deny | Verdict::Alert) {
            plan_undo(input)
        } else {
            (Vec::new(), None)
        };
    // INVARIANT (undo-never-weakens-warden): an undo never deletes or rewrites a Warden-owned
    // policy; what Warden holds is put back from its own record instead (`held`).
    if event_touches_warden_policy(input.event) && !undo.is_empty() {
        undo.clear();
        no_undo = Some("the event changed a Warden-owned policy: Warden puts back what it holds from its own record, never by undoing the event".to_owned());
    }
    match d.verdict {
        Verdict::Deny => {}
        Verdict::Alert => {
            let mut reasons = d.reasons.clone();
            reasons.extend(no_undo);
            return Outcome::Alert { reasons, undo };
        }
        _ => return Outcome::Nothing,
    }
    let Some(rule) = rule else {
        return Outcome::Alert {
            reasons: vec!["a deny verdict without its rule (a bug): not acting".to_owned()],
            undo: Vec::new(),
        };
    };
    let c = &input.analysis.caller;
    // INVARIANT (never-deny-the-exempt): re-checked here, whatever the decision said.
    let refuse = |why: String| Outcome::Alert {
        reasons: vec![why],
        undo: Vec::new(),
    };
    let Some(arn) = c.principal_arn.clone() else {
        return refuse("the caller has no principal to restrict".to_owned());
    };
    if c.restrictable != Restrictable::Yes
        || !matches!(
            c.kind,
            CallerKind::IamUser | CallerKind::AssumedRole | CallerKind::FederatedUser
        )
    {
        return refuse(format!(
            "`{arn}` cannot be restricted by an identity policy"
        ));
    }
    let rs = input.rules;
    if rs.break_glass.iter().chain(&rs.warden_principals).any(|p| {
        crate::principal_pattern::matches_caller(p, &arn, c.path_known)
            != crate::principal_pattern::PrincipalMatch::No
    }) {
        return refuse(format!(
            "`{arn}` is a break-glass or Warden principal: Warden never denies it"
        ));
    }
    let is_role = c.kind == CallerKind::AssumedRole;
    let name = c.name.clone().unwrap_or_default();
    let record = input.snapshot.and_then(|s| s.principal(&arn));
    let target = record.map_or(arn.clone(), |r| r.arn.clone());

    let mut reasons = vec![format!(
        "rule `{}`: {}",
        rule.id,
        describe_scope(rule.response.deny_scope)
    )];
    let mut fallback = None;
    // The observed pairs, from the mapped resources of the violated actions; a name the event gave
    // without its path is narrowed to its exact ARN when the snapshot knows it.
    // A mapped action is violated when the decision names it with its resources: of two
    // `iam:PassRole`s in one call (a task role and an execution role) only the one the rule matched.
    let violated = |a: &crate::mapping::MappedAction| {
        d.violations.iter().any(|(n, rs)| {
            *n == a.action
                && a.resources
                    .iter()
                    .flat_map(|r| r.patterns())
                    .all(|p| rs.contains(&p))
        })
    };
    let mut pairs: Vec<(String, Vec<String>)> = input
        .analysis
        .mapping
        .actions()
        .iter()
        .filter(|a| violated(a) && a.unresolved.is_none() && !a.resources.is_empty())
        .map(|a| {
            let rs = a
                .resources
                .iter()
                .flat_map(|r| match input.snapshot.and_then(|s| s.exact_arn(r)) {
                    Some(exact) => vec![wildcard::escape_literal(&exact)],
                    None => r.patterns(),
                })
                .collect();
            (a.action.clone(), rs)
        })
        .collect();
    if rule.response.deny_scope == DenyScope::Rule {
        match (input.snapshot, record) {
            (Some(snap), Some(rec)) => {
                let (rule_pairs, notes) = rule_scope_pairs(
                    input.catalog,
                    snap,
                    rec,
                    &rule.matches.actions,
                    rule.matches.access,
                );
                reasons.extend(notes);
                pairs.extend(rule_pairs);
            }
            _ => fallback = Some(
                "no account snapshot of the principal, so the scope is the observed action(s) only"
                    .to_owned(),
            ),
        }
    }
    let starred = drop_star_resources(&mut pairs);
    if pairs.is_empty() {
        let mut why = vec!["no resource to deny: a narrow Deny is impossible".to_owned()];
        why.extend(starred);
        // What a person does about the change itself (the undo Warden cannot make) goes with it.
        why.extend(no_undo);
        return Outcome::Alert {
            reasons: why,
            undo: Vec::new(),
        };
    }
    reasons.extend(starred);
    let existing = input.held;
    let revoke_before = (rule.response.revoke_sessions && is_role).then(|| {
        input
            .event
            .record
            .event_time
            .as_deref()
            .unwrap_or("")
            .to_owned()
    });
    if rule.response.revoke_sessions && !is_role {
        reasons.push("sessions are revoked for roles only; this caller is a user".to_owned());
    }
    let mut doc = merge_deny(
        existing,
        &pairs,
        revoke_before.as_deref().filter(|t| !t.is_empty()),
    );
    protect(&mut doc, &target, Placement::Inline, None);
    let size = doc.size();

    // Budget: the principal's other inline policies count against the same limit.
    let others: usize = record.map_or(0, |r| {
        r.inline
            .iter()
            .filter(|(n, _)| n.as_str() != DENY_POLICY_NAME)
            .map(|(_, d)| d.size())
            .sum()
    });
    let limit = if is_role {
        ROLE_INLINE_LIMIT
    } else {
        USER_INLINE_LIMIT
    };
    let (placement, policy_name) = if others + size <= limit {
        (Placement::Inline, DENY_POLICY_NAME.to_owned())
    } else {
        let attached = record.map_or(0, |r| r.attached.len());
        let managed_name = managed_policy_name(&target);
        let already = record.is_some_and(|r| {
            r.attached
                .iter()
                .any(|a| a.ends_with(&format!("/{managed_name}")))
        });
        let managed_arn =
            Arn::parse(&target).map(|a| managed_policy_arn(a.partition, a.account, &managed_name));
        protect(
            &mut doc,
            &target,
            Placement::Managed,
            managed_arn.as_deref(),
        );
        let size = doc.size();
        if size > MANAGED_POLICY_LIMIT || (!already && attached >= ATTACHED_POLICY_LIMIT) {
            return refuse(format!(
                "the Deny ({size} characters) fits neither the inline budget ({others} of {limit} characters used) nor a managed policy ({MANAGED_POLICY_LIMIT} characters, {attached} of {ATTACHED_POLICY_LIMIT} attached): a person must act"
            ));
        }
        fallback = Some(format!(
            "inline budget exceeded ({} of {limit} characters with the Deny): a Warden-owned managed policy `{managed_name}` instead",
            others + size
        ));
        (Placement::Managed, managed_name)
    };
    let mut denied: Vec<(String, String)> = pairs
        .iter()
        .flat_map(|(a, rs)| rs.iter().map(move |r| (a.clone(), r.clone())))
        .collect();
    denied.sort();
    denied.dedup();
    Outcome::Deny(Box::new(Plan {
        target,
        target_name: name,
        policy_name,
        placement,
        policy_document: serde_json::to_value(&doc).unwrap_or(Value::Null),
        denied,
        revoke_sessions_before: revoke_before,
        undo,
        no_undo,
        fallback,
        reasons,
    }))
}

/// Removes `*` from the planned resources (and the pairs left with none), saying what was removed.
// INVARIANT (no-star-deny): no statement Warden plans has `Resource: "*"`, the revoke-older-sessions
// statement (AWS's own, bounded by `aws:TokenIssueTime`) aside: a Deny is never broader than the
// resource it names. Property-tested in `tests/plan_hostile_names.rs`.
fn drop_star_resources(pairs: &mut Vec<(String, Vec<String>)>) -> Vec<String> {
    let mut notes = Vec::new();
    for (action, resources) in pairs.iter_mut() {
        if resources.iter().any(|r| r == "*") {
            resources.retain(|r| r != "*");
            notes.push(format!("`{action}` on `*` left out: Warden never writes a Deny with `Resource: \"*\"`; a person must judge it"));
        }
    }
    pairs.retain(|(_, resources)| !resources.is_empty());
    notes
}

/// The steps that place a plan's Deny, before its undo steps: the Warden-owned inline policy
/// (`iam:PutUserPolicy`/`iam:PutRolePolicy`), or the managed fallback (`warden:PutManagedDeny`).
/// Writing Warden's own policy needs no precondition: its document already merges what was there.
pub fn deny_steps(plan: &Plan) -> Vec<Step> {
    let is_role =
        crate::arn::Arn::parse(&plan.target).is_some_and(|a| a.resource.starts_with("role/"));
    let key = if is_role { "RoleName" } else { "UserName" };
    let call = match (plan.placement, is_role) {
        (Placement::Inline, true) => "iam:PutRolePolicy",
        (Placement::Inline, false) => "iam:PutUserPolicy",
        (Placement::Managed, _) => "warden:PutManagedDeny",
    };
    let params = BTreeMap::from([
        (key.to_owned(), Value::String(plan.target_name.clone())),
        (
            "PolicyName".to_owned(),
            Value::String(plan.policy_name.clone()),
        ),
        ("PolicyDocument".to_owned(), plan.policy_document.clone()),
    ]);
    vec![Step {
        call: call.to_owned(),
        params,
        precondition: "none: the document is Warden's own, merged with what it held".to_owned(),
        expect: None,
    }]
}

fn describe_scope(s: DenyScope) -> &'static str {
    match s {
        DenyScope::Observed => "deny the observed action(s) on the observed resource(s)",
        DenyScope::Rule => "deny the rule's actions that the principal's policies allow",
        DenyScope::Event => "deny every action of the event on its resource(s)",
        DenyScope::None => "no Deny",
    }
}

/// The rule's actions (catalog actions matching its patterns and access levels) that the principal's
/// policies allow, with the resources they allow them on.
fn rule_scope_pairs(
    catalog: &Catalog,
    snap: &Snapshot,
    rec: &crate::snapshot::PrincipalRecord,
    patterns: &[String],
    access: crate::catalog::AccessLevels,
) -> (Vec<(String, Vec<String>)>, Vec<String>) {
    let (named, missing) = snap.identity_policies(rec);
    let policies: Vec<(&str, &PolicyDocument)> =
        named.iter().map(|(n, d)| (n.as_str(), *d)).collect();
    let boundary = rec.boundary.as_ref().and_then(|b| snap.managed.get(b));
    let mut notes: Vec<String> = missing
        .iter()
        .map(|m| format!("managed policy `{m}` is not in the snapshot; its grants are not counted"))
        .collect();
    let ctx = RequestContext::partial();
    let account = crate::arn::Arn::parse(&rec.arn)
        .map(|a| a.account.to_owned())
        .unwrap_or_default();
    let mut actions: Vec<&str> = catalog
        .all_actions()
        .filter(|a| {
            patterns
                .iter()
                .any(|p| wildcard::matches_ignore_ascii_case(p, &a.name))
        })
        .filter(|a| access.is_empty() || a.access.intersects(access))
        .map(|a| a.name.as_str())
        .collect();
    actions.sort_unstable();
    let mut out = Vec::new();
    for action in actions {
        let mut resources = BTreeSet::new();
        for (_, doc) in &policies {
            for st in doc.statements.iter().filter(|s| s.effect == Effect::Allow) {
                let acts = match &st.action {
                    Scope::Only(a) => a
                        .iter()
                        .any(|p| wildcard::matches_ignore_ascii_case(p, action)),
                    Scope::Not(a) => !a
                        .iter()
                        .any(|p| wildcard::matches_ignore_ascii_case(p, action)),
                };
                let Some(Scope::Only(rs)) = &st.resource else {
                    continue;
                };
                if !acts {
                    continue;
                }
                for r in rs {
                    let req = Request {
                        principal_arn: &rec.arn,
                        principal_account: &account,
                        action,
                        resource: r,
                        context: &ctx,
                        ..Default::default()
                    };
                    let e = evaluate(
                        &req,
                        &Policies {
                            identity: &policies,
                            boundary,
                            resource: None,
                            ..Default::default()
                        },
                    );
                    match e.answer {
                        Answer::Allow => {
                            resources.insert(r.clone());
                        }
                        Answer::Unknown => {
                            notes.push(format!(
                                "`{action}` on `{r}` may be allowed ({}); denied to be safe",
                                e.reasons.join("; ")
                            ));
                            resources.insert(r.clone());
                        }
                        Answer::ExplicitDeny | Answer::ImplicitDeny => {}
                    }
                }
            }
        }
        if !resources.is_empty() {
            out.push((action.to_owned(), resources.into_iter().collect()));
        }
    }
    (out, notes)
}

/// Warden's Deny document for a principal: `existing` (Warden's earlier statements) merged with the
/// new `(action, resources)` pairs and, when given, the revoke-older-sessions statement. Statements
/// with the same resources share one statement; duplicates are dropped; the output is sorted, so the
/// same content always gives the same bytes.
pub fn merge_deny(
    existing: Option<&PolicyDocument>,
    pairs: &[(String, Vec<String>)],
    revoke_before: Option<&str>,
) -> PolicyDocument {
    // The content is a set of (action, resource) pairs; the document is built from that set alone,
    // so it does not depend on the order anything was added in.
    let mut by_action: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut spelling: BTreeMap<String, String> = BTreeMap::new();
    let mut add = |action: &String, resource: &String| {
        let key = action.to_ascii_lowercase();
        let spelt = spelling
            .entry(key.clone())
            .or_insert_with(|| action.clone());
        if action < spelt {
            *spelt = action.clone();
        }
        by_action.entry(key).or_default().insert(resource.clone());
    };
    let mut kept: Vec<Statement> = Vec::new();
    let mut revoke = revoke_before.map(str::to_owned);
    for st in existing.map(|d| d.statements.as_slice()).unwrap_or(&[]) {
        match (&st.action, &st.resource, st.effect, st.condition.is_empty()) {
            (Scope::Only(actions), Some(Scope::Only(resources)), Effect::Deny, true) => {
                for a in actions {
                    for r in resources {
                        add(a, r);
                    }
                }
            }
            _ if st.sid.as_deref() == Some(REVOKE_SID) => {
                let old = st
                    .condition
                    .get("DateLessThan")
                    .and_then(|m| m.get("aws:TokenIssueTime"))
                    .and_then(|v| v.first())
                    .cloned();
                revoke = match (revoke, old) {
                    (Some(new), Some(old)) => Some(new.max(old)),
                    (new, old) => new.or(old),
                };
            }
            _ => kept.push(st.clone()),
        }
    }
    for (action, resources) in pairs {
        for r in resources {
            add(action, r);
        }
    }
    // Actions denied on the same resources share one statement.
    let mut by_resources: BTreeMap<Vec<String>, BTreeSet<String>> = BTreeMap::new();
    for (key, resources) in by_action {
        let action = spelling.get(&key).cloned().unwrap_or(key);
        by_resources
            .entry(resources.into_iter().collect())
            .or_default()
            .insert(action);
    }
    let mut statements: Vec<Statement> = by_resources
        .into_iter()
        .map(|(resources, actions)| {
            let actions: Vec<String> = actions.into_iter().collect();
            let id = crate::evidence::deterministic_id(&[&actions.join(","), &resources.join(",")]);
            Statement {
                sid: Some(format!("WardenDeny{}", id.get(..8).unwrap_or(&id))),
                effect: Effect::Deny,
                principal: None,
                action: Scope::Only(actions),
                resource: Some(Scope::Only(resources)),
                condition: Conditions::new(),
            }
        })
        .collect();
    statements.sort();
    kept.sort();
    statements.extend(kept);
    if let Some(t) = revoke {
        let mut condition = Conditions::new();
        condition.insert(
            "DateLessThan".to_owned(),
            BTreeMap::from([("aws:TokenIssueTime".to_owned(), vec![t])]),
        );
        statements.push(Statement {
            sid: Some(REVOKE_SID.to_owned()),
            effect: Effect::Deny,
            principal: None,
            action: Scope::Only(vec!["*".to_owned()]),
            resource: Some(Scope::Only(vec!["*".to_owned()])),
            condition,
        });
    }
    PolicyDocument {
        version: Some("2012-10-17".to_owned()),
        id: None,
        statements,
    }
}

/// The ARN of a Warden-owned managed policy (under the `/warden/` path).
pub fn managed_policy_arn(partition: &str, account: &str, name: &str) -> String {
    format!("arn:{partition}:iam::{account}:policy/warden/{name}")
}

/// The name of the Warden-owned managed policy for a principal (a user and a role may share a
/// name, so the kind is part of it).
pub fn managed_policy_name(principal_arn: &str) -> String {
    let kind = if Arn::parse(principal_arn).is_some_and(|a| a.resource.starts_with("role/")) {
        "role"
    } else {
        "user"
    };
    format!(
        "{DENY_POLICY_NAME}-{kind}-{}",
        principal_arn.rsplit('/').next().unwrap_or("")
    )
}

/// Adds the statements that keep `principal` from removing or changing its own Deny, and that
/// deny it nothing else (proved with the evaluator in the tests):
///
/// - Inline (`WardenDeny`): IAM has no condition key naming an inline policy
///   (`Put/Delete{User,Role}Policy` support only `iam:PermissionsBoundary`), so the principal is
///   denied inline-policy writes on itself: `iam:Put{User,Role}Policy` and
///   `iam:Delete{User,Role}Policy` on its own ARN.
/// - Managed (`/warden/WardenDeny-…`): detaching exactly that policy from itself
///   (`iam:Detach{User,Role}Policy` with `iam:PolicyARN`), and `iam:CreatePolicyVersion`,
///   `iam:SetDefaultPolicyVersion`, `iam:DeletePolicyVersion`, `iam:DeletePolicy` on the
///   policy's ARN.
///
/// ("Actions, resources, and condition keys for AWS Identity and Access Management".)
pub fn protect(
    doc: &mut PolicyDocument,
    principal: &str,
    placement: Placement,
    managed_arn: Option<&str>,
) {
    doc.statements
        .retain(|s| !s.sid.as_deref().is_some_and(|x| x.starts_with(PROTECT_SID)));
    let kind = if Arn::parse(principal).is_some_and(|a| a.resource.starts_with("role/")) {
        "Role"
    } else {
        "User"
    };
    let deny =
        |sid: &str, actions: Vec<String>, resource: String, condition: Conditions| Statement {
            sid: Some(format!("{PROTECT_SID}{sid}")),
            effect: Effect::Deny,
            principal: None,
            action: Scope::Only(actions),
            resource: Some(Scope::Only(vec![resource])),
            condition,
        };
    match (placement, managed_arn) {
        (Placement::Managed, Some(arn)) => {
            let mut on_this_policy = Conditions::new();
            on_this_policy.insert(
                "ArnEquals".to_owned(),
                BTreeMap::from([("iam:PolicyARN".to_owned(), vec![arn.to_owned()])]),
            );
            doc.statements.push(deny(
                "Detach",
                vec![format!("iam:Detach{kind}Policy")],
                principal.to_owned(),
                on_this_policy,
            ));
            doc.statements.push(deny(
                "Versions",
                [
                    "iam:CreatePolicyVersion",
                    "iam:DeletePolicy",
                    "iam:DeletePolicyVersion",
                    "iam:SetDefaultPolicyVersion",
                ]
                .map(str::to_owned)
                .to_vec(),
                arn.to_owned(),
                Conditions::new(),
            ));
        }
        _ => doc.statements.push(deny(
            "Inline",
            vec![
                format!("iam:Delete{kind}Policy"),
                format!("iam:Put{kind}Policy"),
            ],
            principal.to_owned(),
            Conditions::new(),
        )),
    }
}

/// Whether an event names a Warden-owned policy (`WardenDeny`, `WardenQuarantine`, or a managed
/// policy under `/warden/`).
pub fn event_touches_warden_policy(event: &Event<'_>) -> bool {
    let named = param(event, "policyName")
        .is_some_and(|n| n == DENY_POLICY_NAME || n == QUARANTINE_POLICY_NAME);
    let arn = param(event, "policyArn").is_some_and(|a| a.contains(":policy/warden/"));
    named || arn
}

fn param(event: &Event<'_>, key: &str) -> Option<String> {
    let v: Value = serde_json::from_str(event.record.request_parameters?.get()).ok()?;
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn response(event: &Event<'_>, pointer: &str) -> Option<String> {
    let v: Value = serde_json::from_str(event.record.response_elements?.get()).ok()?;
    v.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// The policy document a call wrote (`requestParameters.<key>`: JSON text, possibly URL-encoded, or
/// an object), in Warden's compact form.
fn written_document(event: &Event<'_>, key: &str) -> Option<Value> {
    let v: Value = serde_json::from_str(event.record.request_parameters?.get()).ok()?;
    let doc = PolicyDocument::from_value(v.get(key)?).ok()?;
    serde_json::to_value(&doc).ok()
}

fn step(call: &str, params: &[(&str, Option<String>)], precondition: String) -> Option<Step> {
    let mut p = BTreeMap::new();
    for (k, v) in params {
        p.insert((*k).to_owned(), Value::String(v.clone()?));
    }
    Some(Step {
        call: call.to_owned(),
        params: p,
        precondition,
        expect: None,
    })
}

/// The `WardenQuarantine` document: deny everything.
pub fn deny_all() -> Value {
    serde_json::json!({"Version": "2012-10-17", "Statement": [{"Sid": "WardenQuarantine", "Effect": "Deny", "Action": "*", "Resource": "*"}]})
}

/// The inverse of the caller's change, or why there is none.
fn plan_undo(input: &Input<'_>) -> (Vec<Step>, Option<String>) {
    let e = input.event;
    if e.record.error_code.is_some() {
        return (
            Vec::new(),
            Some("the call failed, so there is nothing to undo".to_owned()),
        );
    }
    let p = |k: &str| param(e, k);
    let source = e.source();
    let name = e.name();
    let one = |s: Option<Step>, what: &str| match s {
        Some(s) => (vec![s], None),
        None => (
            Vec::new(),
            Some(format!("the event lacks what undoing `{what}` needs")),
        ),
    };
    match (source, name) {
        ("iam.amazonaws.com", "AttachUserPolicy" | "AttachRolePolicy" | "AttachGroupPolicy") => {
            let (who, call) = match name {
                "AttachUserPolicy" => ("userName", "iam:DetachUserPolicy"),
                "AttachRolePolicy" => ("roleName", "iam:DetachRolePolicy"),
                _ => ("groupName", "iam:DetachGroupPolicy"),
            };
            let key = match who {
                "userName" => "UserName",
                "roleName" => "RoleName",
                _ => "GroupName",
            };
            one(
                step(
                    call,
                    &[(key, p(who)), ("PolicyArn", p("policyArn"))],
                    "the policy is still attached".to_owned(),
                ),
                name,
            )
        }
        ("iam.amazonaws.com", "PutUserPolicy" | "PutRolePolicy" | "PutGroupPolicy") => {
            let (kind, who, key_name) = match name {
                "PutUserPolicy" => ("user", "userName", "UserName"),
                "PutRolePolicy" => ("role", "roleName", "RoleName"),
                _ => ("group", "groupName", "GroupName"),
            };
            let pre = "the inline policy still holds the document the event wrote".to_owned();
            let written = written_document(e, "policyDocument");
            let earlier = match (p(who), p("policyName")) {
                (Some(owner), Some(policy)) => before_state(input, |b| b.inline(kind, &owner, &policy))
                    .map(|d| (d, crate::model::EntryKey(format!("{kind}/{owner}")))),
                _ => Err("the event names no principal or policy".to_owned()),
            };
            match earlier {
                Ok((Some(previous), key)) => {
                    let mut s = step(
                        &format!("iam:Put{}Policy", cap(kind)),
                        &[(key_name, p(who)), ("PolicyName", p("policyName"))],
                        format!("{pre}; the earlier document is {}", provenance(input, &key)),
                    );
                    if let Some(s) = s.as_mut() {
                        s.params.insert("PolicyDocument".to_owned(), previous);
                        s.expect = written;
                    }
                    one(s, name)
                }
                Ok((None, key)) => {
                    let mut s = step(&format!("iam:Delete{}Policy", cap(kind)), &[(key_name, p(who)), ("PolicyName", p("policyName"))], format!("{pre}; {} shows no earlier policy of that name, so the inverse is deletion", provenance(input, &key)));
                    if let Some(s) = s.as_mut() {
                        s.expect = written;
                    }
                    one(s, name)
                }
                // INVARIANT (undo-never-guesses): without a before-state the model vouches for,
                // an inline policy the event may have overwritten is neither deleted nor rewritten.
                Err(why) => (Vec::new(), Some(format!("{why}; {}", by_hand(e, &p)))),
            }
        }
        ("iam.amazonaws.com", "DeleteUserPolicy" | "DeleteRolePolicy" | "DeleteGroupPolicy") => {
            deleted_inline_undo(input, name)
        }
        ("iam.amazonaws.com", "AddUserToGroup") => one(
            step(
                "iam:RemoveUserFromGroup",
                &[("GroupName", p("groupName")), ("UserName", p("userName"))],
                "the user is still in the group".to_owned(),
            ),
            name,
        ),
        ("iam.amazonaws.com", "CreateAccessKey") => {
            let user = response(e, "/accessKey/userName").or_else(|| p("userName"));
            let mut s = step(
                "iam:UpdateAccessKey",
                &[
                    ("UserName", user),
                    ("AccessKeyId", response(e, "/accessKey/accessKeyId")),
                ],
                "the key still exists".to_owned(),
            );
            if let Some(s) = s.as_mut() {
                s.params
                    .insert("Status".to_owned(), Value::String("Inactive".to_owned()));
            }
            one(s, name)
        }
        ("iam.amazonaws.com", "CreateLoginProfile") => one(
            step(
                "iam:DeleteLoginProfile",
                &[("UserName", p("userName"))],
                "the login profile still exists".to_owned(),
            ),
            name,
        ),
        ("iam.amazonaws.com", "UpdateAssumeRolePolicy") => {
            let role = p("roleName").unwrap_or_default();
            match before_state(input, |b| b.trust(&role)) {
                Ok(doc) => {
                    let mut s = step("iam:UpdateAssumeRolePolicy", &[("RoleName", p("roleName"))], format!("the trust policy is still the one the event wrote; the earlier one is {}", provenance(input, &crate::model::EntryKey::role(&role))));
                    if let Some(s) = s.as_mut() {
                        s.params.insert("PolicyDocument".to_owned(), doc);
                        s.expect = written_document(e, "policyDocument");
                    }
                    one(s, name)
                }
                Err(why) => (Vec::new(), Some(format!("{why}; {}", by_hand(e, &p)))),
            }
        }
        ("iam.amazonaws.com", "CreateUser" | "CreateRole") => {
            let (call, key, who) = if name == "CreateUser" {
                ("iam:PutUserPolicy", "UserName", "userName")
            } else {
                ("iam:PutRolePolicy", "RoleName", "roleName")
            };
            let mut s = step(
                call,
                &[
                    (key, p(who)),
                    ("PolicyName", Some(QUARANTINE_POLICY_NAME.to_owned())),
                ],
                "the principal still exists (it is quarantined, never deleted)".to_owned(),
            );
            if let Some(s) = s.as_mut() {
                s.params.insert("PolicyDocument".to_owned(), deny_all());
            }
            one(s, name)
        }
        ("s3.amazonaws.com", "DeleteBucketPublicAccessBlock" | "PutBucketPublicAccessBlock") => {
            bucket_block_undo(input, &p)
        }
        ("s3.amazonaws.com", "PutBucketOwnershipControls" | "DeleteBucketOwnershipControls") => {
            ownership_undo(input, &p)
        }
        ("s3.amazonaws.com", "PutAccountPublicAccessBlock" | "DeleteAccountPublicAccessBlock") => {
            account_block_undo(input)
        }
        ("s3.amazonaws.com", "PutBucketPolicy") => {
            // Every broken rule counts: a non-admin's policy that grants outside the account gets
            // the Deny of the caller's rule and the outside-grant rule's removal of those grants.
            let outside_rule = input
                .decision
                .rule
                .iter()
                .chain(&input.decision.also_broken)
                .filter_map(|id| input.rules.rules.iter().find(|r| &r.id == id))
                .any(|r| r.matches.grants_outside_account && r.response.undo);
            let written = serde_json::from_str::<Value>(
                e.record.request_parameters.map_or("null", |r| r.get()),
            )
            .ok()
            .and_then(|v| v.get("bucketPolicy").cloned())
            .and_then(|p| PolicyDocument::from_value(&p).ok());
            let bucket = p("bucketName").unwrap_or_default();
            let callers_rule_broken = input.decision.verdict == Verdict::Deny;
            match (callers_rule_broken, before_state(input, |b| b.bucket_policy(&bucket)), &written) {
                (true, Ok(Some(earlier)), Some(doc)) => {
                    let mut s = step("s3:PutBucketPolicy", &[("Bucket", p("bucketName"))], format!("the live policy is still the one the event wrote; the earlier one is {}", provenance(input, &crate::model::EntryKey::bucket(&bucket))));
                    if let Some(s) = s.as_mut() {
                        s.params.insert("Policy".to_owned(), earlier);
                        s.expect = serde_json::to_value(doc).ok();
                    }
                    return one(s, name);
                }
                (true, Ok(None), Some(doc)) => {
                    let mut s = step("s3:DeleteBucketPolicy", &[("Bucket", p("bucketName"))], format!("the live policy is still the one the event wrote; {} shows the bucket had no policy before", provenance(input, &crate::model::EntryKey::bucket(&bucket))));
                    if let Some(s) = s.as_mut() {
                        s.expect = serde_json::to_value(doc).ok();
                    }
                    return one(s, name);
                }
                _ => {}
            }
            match (outside_rule, written, e.account()) {
                (true, Some(doc), Some(account)) => match crate::bucket::remove_outside_grants(&doc, account, &input.rules.trusted_accounts) {
                    Ok(mut surgery) => {
                        // The caller's own grants go too when the caller broke a rule by writing
                        // the policy at all (not only by granting outside).
                        let caller = input.analysis.caller.principal_arn.clone().unwrap_or_default();
                        if callers_rule_broken {
                            if let Ok(more) = crate::bucket::remove_principal(&surgery.policy, &caller, None) {
                                surgery.changes.extend(more.changes);
                                surgery.policy = more.policy;
                            }
                        }
                        let mut s = step("s3:PutBucketPolicy", &[("Bucket", p("bucketName"))], format!("the live policy is still the one the event wrote; {}", surgery.changes.join("; ")));
                        if let Some(s) = s.as_mut() {
                            s.params.insert("Policy".to_owned(), serde_json::to_value(&surgery.policy).unwrap_or(Value::Null));
                            s.expect = serde_json::to_value(&doc).ok();
                        }
                        one(s, name)
                    }
                    Err(err) => (Vec::new(), Some(format!("bucket-policy surgery refused: {err}"))),
                },
                (false, Some(doc), _) => {
                    // Without the before-state, the caller's own grants in the policy it wrote are
                    // what can safely go: every other principal and statement stays.
                    let caller = input.analysis.caller.principal_arn.clone().unwrap_or_default();
                    match crate::bucket::remove_principal(&doc, &caller, None) {
                        Ok(surgery) => {
                            let mut s = step(
                                "s3:PutBucketPolicy",
                                &[("Bucket", p("bucketName"))],
                                format!("the live policy is still the one the event wrote (restoring the before-state needs a snapshot); {}", surgery.changes.join("; ")),
                            );
                            if let Some(s) = s.as_mut() {
                                s.params.insert("Policy".to_owned(), serde_json::to_value(&surgery.policy).unwrap_or(Value::Null));
                                s.expect = serde_json::to_value(&doc).ok();
                            }
                            one(s, name)
                        }
                        Err(_) => (
                            Vec::new(),
                            Some("restoring a bucket policy needs its live before-state (the enforcement path snapshots it), and the written policy grants nothing to the caller itself: no safe inverse offline".to_owned()),
                        ),
                    }
                }
                _ => (
                    Vec::new(),
                    Some("restoring a bucket policy needs its live before-state (the enforcement path snapshots it); offline there is no safe inverse".to_owned()),
                ),
            }
        }
        ("iam.amazonaws.com", "CreatePolicyVersion" | "SetDefaultPolicyVersion") => {
            match earlier_default(e, input.snapshot, input.before) {
                Ok((arn, made, earlier)) => {
                    let mut s = step(
                        "iam:SetDefaultPolicyVersion",
                        &[("PolicyArn", Some(arn)), ("VersionId", Some(earlier.clone()))],
                        format!("the policy's default version is still `{made}`, the one the event made default; `{earlier}` is the only other version, so it was the default before (a default version cannot be deleted)"),
                    );
                    if let Some(s) = s.as_mut() {
                        s.expect = Some(serde_json::json!({"default": made}));
                    }
                    one(s, name)
                }
                Err(why) => (Vec::new(), Some(format!("{why}; {}", by_hand(e, &p)))),
            }
        }
        ("cloudtrail.amazonaws.com", "StopLogging") => one(
            step(
                "cloudtrail:StartLogging",
                &[("Name", p("name"))],
                "the trail is still stopped".to_owned(),
            ),
            name,
        ),
        (
            "cloudtrail.amazonaws.com",
            "DeleteTrail" | "UpdateTrail" | "PutEventSelectors",
        ) => (Vec::new(), Some(trail_by_hand(input))),
        ("s3.amazonaws.com", "PutObjectAcl") if makes_public(e) => {
            if p("versionId").is_some() {
                // The connector acts on an object's current version only.
                return (Vec::new(), Some(by_hand(e, &p)));
            }
            one(
                step(
                    "s3:PutObjectAcl",
                    &[("Bucket", p("bucketName")), ("Key", p("key"))],
                    "the object's ACL still grants to everyone or to every AWS account; only those grants are taken out, every other grant stays (an object made public from private is private again)".to_owned(),
                ),
                name,
            )
        }
        ("s3.amazonaws.com", "PutBucketAcl") if makes_public(e) => one(
            step(
                "s3:PutBucketAcl",
                &[("Bucket", p("bucketName"))],
                "the bucket's ACL still grants to everyone or to every AWS account; only those grants are taken out, every other grant stays".to_owned(),
            ),
            name,
        ),
        ("iam.amazonaws.com", "UpdateAccessKey") if p("status").as_deref() == Some("Active") => {
            let mut s = step(
                "iam:UpdateAccessKey",
                &[
                    ("UserName", p("userName")),
                    ("AccessKeyId", p("accessKeyId")),
                ],
                "the key still exists".to_owned(),
            );
            if let Some(s) = s.as_mut() {
                s.params
                    .insert("Status".to_owned(), Value::String("Inactive".to_owned()));
            }
            one(s, name)
        }
        (
            "iam.amazonaws.com",
            "PutUserPermissionsBoundary"
            | "DeleteUserPermissionsBoundary"
            | "PutRolePermissionsBoundary"
            | "DeleteRolePermissionsBoundary",
        ) => {
            boundary_undo(input, name)
        }
        (source, _) if crate::review::covers(source) => (
            Vec::new(),
            Some(crate::review::by_hand(e, &input.analysis.mapping)),
        ),
        _ => (Vec::new(), Some(by_hand(e, &p))),
    }
}

/// The all-on public access block (`block_flags` form).
fn all_on_block() -> Value {
    serde_json::json!({"BlockPublicAcls": true, "IgnorePublicAcls": true, "BlockPublicPolicy": true, "RestrictPublicBuckets": true})
}

/// The flags a block has on, for messages.
fn flags_on(block: Option<&Value>) -> Vec<&'static str> {
    crate::model::PUBLIC_ACCESS_BLOCK_FLAGS
        .into_iter()
        .filter(|f| block.and_then(|b| b.get(*f)).and_then(Value::as_bool) == Some(true))
        .collect()
}

/// The public access block a `Put…PublicAccessBlock` event wrote (`block_flags` form), or `None`
/// when its request does not show one.
fn written_block(e: &Event<'_>) -> Option<Value> {
    serde_json::from_str::<Value>(e.record.request_parameters.map_or("null", |r| r.get()))
        .ok()
        .and_then(|v| v.get("PublicAccessBlockConfiguration").cloned())
        .and_then(|c| crate::model::block_flags(&c))
}

/// The flags on in `earlier` that the block the event left (`None`: no block) has off.
fn turned_off(earlier: &Value, left: Option<&Value>) -> Vec<&'static str> {
    let still = flags_on(left);
    flags_on(Some(earlier))
        .into_iter()
        .filter(|f| !still.contains(f))
        .collect()
}

/// The undo of `DeleteBucketPublicAccessBlock` or `PutBucketPublicAccessBlock` on a bucket.
///
/// - The model vouches for the earlier block: when the event turned any of its flags off, the
///   earlier block comes back, while the live block is still the one the event left (`expect`);
///   when the event turned nothing off, there is nothing to undo.
/// - The before-state is unknown: the all-on block is put, but only while the bucket's live
///   policy grants nothing outside the account and its ACL nothing to `AllUsers` or
///   `AuthenticatedUsers` (`OnlyIfNothingPublic`, checked by the connector). Then the block takes
///   no access anyone has now (it only refuses new public grants, and ignores public grants that
///   do not exist), so it cannot break what depends on the bucket. A bucket with a public grant
///   may be meant to be public (a website): the connector skips, and the alert gives the command.
fn bucket_block_undo(
    input: &Input<'_>,
    p: &dyn Fn(&str) -> Option<String>,
) -> (Vec<Step>, Option<String>) {
    let e = input.event;
    let Some(bucket) = p("bucketName") else {
        return (
            Vec::new(),
            Some(format!("the event lacks what undoing `{}` needs", e.name())),
        );
    };
    // What the event left: `None` for a deletion; the flags it wrote for a put.
    let left: Option<Value> = if e.name() == "PutBucketPublicAccessBlock" {
        match written_block(e) {
            Some(w) => Some(w),
            None => {
                return (
                    Vec::new(),
                    Some(format!(
                        "the event does not show the public access block it wrote; {}",
                        block_by_hand(&bucket)
                    )),
                )
            }
        }
    } else {
        None
    };
    let key = crate::model::EntryKey::bucket(&bucket);
    let put = |config: Value, precondition: String| {
        let mut s = step(
            "s3:PutPublicAccessBlock",
            &[("Bucket", Some(bucket.clone()))],
            precondition,
        );
        if let Some(s) = s.as_mut() {
            s.params
                .insert("PublicAccessBlockConfiguration".to_owned(), config);
            s.expect = left.clone();
        }
        s
    };
    match before_state(input, |b| b.bucket_public_access_block(&bucket)) {
        Ok(Some(earlier)) => {
            let turned_off = turned_off(&earlier, left.as_ref());
            if turned_off.is_empty() {
                return (Vec::new(), Some(format!("the event turned no setting of the public access block of `{bucket}` off ({}): nothing to undo", provenance(input, &key))));
            }
            let s = put(earlier, format!(
                "the bucket's public access block is still the one the event left; the earlier block is {} (the event turned off {})",
                provenance(input, &key),
                turned_off.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", ")
            ));
            (s.into_iter().collect(), None)
        }
        Ok(None) => (Vec::new(), Some(format!("bucket `{bucket}` had no public access block before the event ({}): the event turned nothing off", provenance(input, &key)))),
        Err(why) => {
            if left.as_ref().is_some_and(|l| flags_on(Some(l)).len() == 4) {
                return (Vec::new(), Some(format!("the event put the all-on public access block on `{bucket}`: nothing turned off")));
            }
            let mut s = put(all_on_block(), format!(
                "{why}, so the earlier block is unknown: the all-on block goes on, only while the bucket's block is still the one the event left and its live policy and ACL grant nothing public (then the block takes no access anyone has now); otherwise a person decides: {}",
                block_by_hand(&bucket)
            ));
            if let Some(s) = s.as_mut() {
                s.params.insert("OnlyIfNothingPublic".to_owned(), Value::Bool(true));
                s.params.insert("Account".to_owned(), Value::String(e.account().unwrap_or_default().to_owned()));
            }
            (s.into_iter().collect(), None)
        }
    }
}

fn block_by_hand(bucket: &str) -> String {
    format!(
        "check what depends on public access with `aws s3api get-bucket-policy-status --bucket {bucket}` and `aws s3api get-bucket-acl --bucket {bucket}`, then put the block back with `aws s3api put-public-access-block --bucket {bucket} --public-access-block-configuration BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true`"
    )
}

/// The undo of an ownership-controls change that re-enables ACLs: `PutBucketOwnershipControls`
/// to `ObjectWriter` or `BucketOwnerPreferred`, or `DeleteBucketOwnershipControls` (no controls:
/// S3 treats the bucket as `ObjectWriter`), from `BucketOwnerEnforced` ("Controlling ownership of
/// objects and disabling ACLs for your bucket", S3 user guide). The earlier setting comes back
/// when the model vouches for it; unknown, a person is told the command.
fn ownership_undo(
    input: &Input<'_>,
    p: &dyn Fn(&str) -> Option<String>,
) -> (Vec<Step>, Option<String>) {
    let e = input.event;
    let Some(bucket) = p("bucketName") else {
        return (
            Vec::new(),
            Some(format!("the event lacks what undoing `{}` needs", e.name())),
        );
    };
    let left: Option<String> = if e.name() == "PutBucketOwnershipControls" {
        let written =
            serde_json::from_str::<Value>(e.record.request_parameters.map_or("null", |r| r.get()))
                .ok()
                .and_then(|v| {
                    v.get("OwnershipControls")
                        .and_then(crate::model::object_ownership)
                });
        match written {
            Some(w) => Some(w),
            None => {
                return (
                    Vec::new(),
                    Some(format!(
                        "the event does not show the ownership setting it wrote; {}",
                        ownership_by_hand(&bucket, "BucketOwnerEnforced")
                    )),
                )
            }
        }
    } else {
        None
    };
    if left.as_deref() == Some(ENFORCED) {
        return (
            Vec::new(),
            Some(format!(
                "the event disabled ACLs on `{bucket}` (`{ENFORCED}`): nothing to undo"
            )),
        );
    }
    let key = crate::model::EntryKey::bucket(&bucket);
    match before_state(input, |b| b.bucket_ownership(&bucket)) {
        Ok(Some(earlier)) if earlier == ENFORCED => {
            let mut s = step(
                "s3:PutBucketOwnershipControls",
                &[("Bucket", Some(bucket.clone())), ("ObjectOwnership", Some(earlier))],
                format!("the bucket's object ownership is still what the event left (`{}`); the earlier setting is {} (ACLs disabled)", left.as_deref().unwrap_or("no ownership controls"), provenance(input, &key)),
            );
            if let Some(s) = s.as_mut() {
                s.expect = Some(serde_json::json!({"ownership": left}));
            }
            (s.into_iter().collect(), None)
        }
        Ok(earlier) => (Vec::new(), Some(format!(
            "ACLs were already enabled on `{bucket}` before the event (`{}`, {}): the event re-enabled nothing",
            earlier.as_deref().unwrap_or("no ownership controls"),
            provenance(input, &key)
        ))),
        Err(why) => (Vec::new(), Some(format!("{why}; {}", ownership_by_hand(&bucket, ENFORCED)))),
    }
}

/// The object ownership setting that disables ACLs.
const ENFORCED: &str = "BucketOwnerEnforced";

fn ownership_by_hand(bucket: &str, setting: &str) -> String {
    format!(
        "whether ACLs were disabled on `{bucket}` before the event is not known: check what relies on ACLs with `aws s3api get-bucket-acl --bucket {bucket}`, then disable them again with `aws s3api put-bucket-ownership-controls --bucket {bucket} --ownership-controls 'Rules=[{{ObjectOwnership={setting}}}]'`"
    )
}

/// The undo of `DeleteAccountPublicAccessBlock` or `PutAccountPublicAccessBlock` (S3 Control).
///
/// - The model vouches for the earlier block: when the event turned any of its flags off, the
///   earlier block comes back, while the live block is still the one the event left (`expect`);
///   when the event turned nothing off, there is nothing to undo.
/// - The before-state is unknown: no step. Unlike a bucket's, the account's block covers every
///   bucket, and which of them must stay public (a website) cannot be read from one bucket: a
///   person decides, told the exact commands.
fn account_block_undo(input: &Input<'_>) -> (Vec<Step>, Option<String>) {
    let e = input.event;
    let account = e.account().unwrap_or("<account-id>");
    let key = crate::model::EntryKey::account_public_access_block();
    let left: Option<Value> = if e.name() == "PutAccountPublicAccessBlock" {
        match written_block(e) {
            Some(w) => Some(w),
            None => {
                return (
                    Vec::new(),
                    Some(format!(
                        "the event does not show the account's public access block it wrote; {}",
                        account_block_by_hand(input)
                    )),
                )
            }
        }
    } else {
        None
    };
    match before_state(input, |b| b.account_public_access_block()) {
        Ok(Some(earlier)) => {
            let turned_off = turned_off(&earlier, left.as_ref());
            if turned_off.is_empty() {
                return (Vec::new(), Some(format!("the event turned no setting of the account's public access block off ({}): nothing to undo", provenance(input, &key))));
            }
            let mut s = step(
                "s3:PutAccountPublicAccessBlock",
                &[("AccountId", Some(account.to_owned()))],
                format!(
                    "the account's public access block is still the one the event left; the earlier block is {} (the event turned off {})",
                    provenance(input, &key),
                    turned_off.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", ")
                ),
            );
            if let Some(s) = s.as_mut() {
                s.params
                    .insert("PublicAccessBlockConfiguration".to_owned(), earlier);
                s.expect = left;
            }
            (s.into_iter().collect(), None)
        }
        Ok(None) => (Vec::new(), Some(format!("the account had no public access block before the event ({}): the event turned nothing off", provenance(input, &key)))),
        Err(_) => (Vec::new(), Some(account_block_by_hand(input))),
    }
}

/// The IAM principal kind an operation's name acts on (`DeleteRolePolicy` → role): its word, its
/// request parameter and its step parameter (`("role", "roleName", "RoleName")`).
fn holder_of(name: &str) -> (&'static str, &'static str, &'static str) {
    if name.contains("Role") {
        ("role", "roleName", "RoleName")
    } else if name.contains("Group") {
        ("group", "groupName", "GroupName")
    } else {
        ("user", "userName", "UserName")
    }
}

/// The undo of an inline policy's deletion. A guard (a document that denies) the model vouches for
/// is put back, only while no policy of that name exists again. A document that only allows is
/// told to a person with the command: putting back an Allow someone may have meant to remove is
/// not Warden's call.
fn deleted_inline_undo(input: &Input<'_>, name: &str) -> (Vec<Step>, Option<String>) {
    let e = input.event;
    let p = |k: &str| param(e, k);
    let (kind, who, key_name) = holder_of(name);
    let (Some(owner), Some(policy)) = (p(who), p("policyName")) else {
        return (Vec::new(), Some(by_hand(e, &p)));
    };
    let key = crate::model::EntryKey(format!("{kind}/{owner}"));
    let command = format!(
        "`aws iam put-{kind}-policy --{kind}-name {owner} --policy-name {policy} --policy-document file://earlier.json`"
    );
    match before_state(input, |b| b.inline(kind, &owner, &policy)) {
        Ok(Some(doc)) if denies(&doc) => {
            let mut s = step(
                &format!("iam:Put{}Policy", cap(kind)),
                &[(key_name, Some(owner.clone())), ("PolicyName", Some(policy.clone()))],
                format!(
                    "no inline policy `{policy}` exists again; the deleted document (a guard: it denies) is {}",
                    provenance(input, &key)
                ),
            );
            if let Some(s) = s.as_mut() {
                s.params.insert("PolicyDocument".to_owned(), doc);
                s.expect = Some(expect_absent());
            }
            (s.into_iter().collect(), None)
        }
        Ok(Some(doc)) => (
            Vec::new(),
            Some(format!(
                "inline policy `{policy}` of {kind} `{owner}` only allowed ({}): Warden does not put back an Allow a person may have meant to remove; if it must come back, its document was `{}`: {command}",
                provenance(input, &key),
                crate::evidence::canonical_json(&doc)
            )),
        ),
        Ok(None) => (
            Vec::new(),
            Some(format!(
                "{kind} `{owner}` had no inline policy `{policy}` before the event ({}): nothing to undo",
                provenance(input, &key)
            )),
        ),
        Err(why) => (
            Vec::new(),
            Some(format!(
                "{why}; if `{policy}` was a guard (a Deny someone relies on), put it back from its last known document with {command}"
            )),
        ),
    }
}

/// Whether a policy document has a `Deny` statement.
fn denies(doc: &Value) -> bool {
    match doc.get("Statement") {
        Some(Value::Array(all)) => all
            .iter()
            .any(|s| s.get("Effect") == Some(&Value::from("Deny"))),
        Some(one) => one.get("Effect") == Some(&Value::from("Deny")),
        None => false,
    }
}

/// The undo of a permissions-boundary change: the boundary the model vouches for before the event
/// put back (or the one the event set removed, when there was none), only while the live boundary
/// is still the one the event left. Without the model's word, a person gets how to find it.
fn boundary_undo(input: &Input<'_>, name: &str) -> (Vec<Step>, Option<String>) {
    let e = input.event;
    let (kind, who, _) = holder_of(name);
    let title = cap(kind);
    let Some(owner) = param(e, who) else {
        return (
            Vec::new(),
            Some(format!(
                "the event names no `{who}`, so there is nothing to undo by name"
            )),
        );
    };
    let left = if name.starts_with("Put") {
        match param(e, "permissionsBoundary") {
            Some(arn) => Some(arn),
            None => {
                return (
                    Vec::new(),
                    Some(format!(
                        "the event does not show the boundary it set; {}",
                        by_hand(e, &|k| param(e, k))
                    )),
                )
            }
        }
    } else {
        None
    };
    let key = crate::model::EntryKey(format!("{kind}/{owner}"));
    let earlier = match before_state(input, |b| b.boundary(kind, &owner)) {
        Ok(earlier) => earlier,
        Err(why) => {
            return (
                Vec::new(),
                Some(format!("{why}; {}", by_hand(e, &|k| param(e, k)))),
            )
        }
    };
    if earlier == left {
        return (
            Vec::new(),
            Some(format!(
                "the {kind} `{owner}` had this boundary before the event already ({}): nothing to undo",
                provenance(input, &key)
            )),
        );
    }
    let name_key = format!("{title}Name");
    let mut s = match &earlier {
        Some(arn) => step(
            &format!("iam:Put{title}PermissionsBoundary"),
            &[
                (name_key.as_str(), Some(owner.clone())),
                ("PermissionsBoundary", Some(arn.clone())),
            ],
            format!(
                "the {kind}'s boundary is still the one the event left; the earlier boundary `{arn}` is {}",
                provenance(input, &key)
            ),
        ),
        None => step(
            &format!("iam:Delete{title}PermissionsBoundary"),
            &[(name_key.as_str(), Some(owner.clone()))],
            format!(
                "the {kind}'s boundary is still the one the event set; the {kind} had none before ({})",
                provenance(input, &key)
            ),
        ),
    };
    if let Some(s) = s.as_mut() {
        s.expect = Some(serde_json::json!({ "boundary": left }));
    }
    (s.into_iter().collect(), None)
}

/// What a person runs after `DeleteTrail`, `UpdateTrail` or `PutEventSelectors`: Warden's role
/// may not change trails (only start one), so the earlier trail comes back by hand. With the
/// settings and selectors the model vouches for, the exact commands; without them, how to find
/// them.
fn trail_by_hand(input: &Input<'_>) -> String {
    let e = input.event;
    let p = |k: &str| param(e, k);
    let given = if e.name() == "PutEventSelectors" {
        p("trailName")
    } else {
        p("name")
    };
    let Some(given) = given else {
        return by_hand(e, &p);
    };
    let name = crate::model::trail_name(&given).to_owned();
    let key = crate::model::EntryKey::trail(&name);
    let (settings, selectors) = match before_state(input, |b| b.trail(&name)) {
        Ok(known) => known,
        Err(why) => return format!("{why}; {}", by_hand(e, &p)),
    };
    let from = provenance(input, &key);
    let selectors_command = selectors.as_ref().map(|sel| {
        let (flag, list) = match sel.get("advancedEventSelectors") {
            Some(a) => ("--advanced-event-selectors", a),
            None => (
                "--event-selectors",
                sel.get("eventSelectors").unwrap_or(&Value::Null),
            ),
        };
        format!(
            "`aws cloudtrail put-event-selectors --trail-name {name} {flag} {}`",
            // Canonical (sorted keys): the same text whatever serde_json's map order.
            shell_quote(&crate::evidence::canonical_json(&pascal_keys(list)))
        )
    });
    match e.name() {
        "PutEventSelectors" => match selectors_command {
            Some(c) => format!(
                "trail `{name}`'s event selectors were changed and may no longer record what Warden needs: put the earlier ones back ({from}) with {c}"
            ),
            None => format!("the model does not know trail `{name}`'s earlier event selectors ({from}); {}", by_hand(e, &p)),
        },
        "UpdateTrail" => match &settings {
            Some(earlier) => format!(
                "trail `{name}` was changed and may no longer record what Warden needs: put its earlier settings back ({from}) with `aws cloudtrail update-trail --name {name}{}`",
                trail_flags(earlier, Some(&params_of(e)))
            ),
            None => format!("the model does not know trail `{name}`'s earlier settings ({from}); {}", by_hand(e, &p)),
        },
        _ => match &settings {
            Some(earlier) => {
                let mut steps = vec![format!(
                    "`aws cloudtrail create-trail --name {name}{}`",
                    trail_flags(earlier, None)
                )];
                steps.extend(selectors_command);
                steps.push(format!("`aws cloudtrail start-logging --name {name}`"));
                format!(
                    "trail `{name}` was deleted, which blinds Warden: re-create it as it was ({from}) with {}",
                    steps.join(", then ")
                )
            }
            None => format!("the model does not know trail `{name}`'s settings ({from}); {}", by_hand(e, &p)),
        },
    }
}

/// A trail's settings as `create-trail`/`update-trail` flags. With `changed` (an `UpdateTrail`'s
/// request), a text setting the event set that the earlier trail did not have is cleared (`""`).
fn trail_flags(earlier: &Value, changed: Option<&Value>) -> String {
    let flag = |k: &str| {
        let mut out = String::new();
        for c in k.chars() {
            if c.is_ascii_uppercase() {
                out.push('-');
                out.push(c.to_ascii_lowercase());
            } else {
                out.push(c);
            }
        }
        out
    };
    let mut out = String::new();
    for key in crate::model::TRAIL_SETTINGS {
        let f = flag(key);
        match earlier.get(key) {
            Some(Value::Bool(true)) => out.push_str(&format!(" --{f}")),
            Some(Value::Bool(false)) => out.push_str(&format!(" --no-{f}")),
            Some(Value::String(v)) => out.push_str(&format!(" --{f} {}", shell_quote(v))),
            _ if changed.is_some_and(|c| c.get(key).is_some_and(Value::is_string)) => {
                out.push_str(&format!(" --{f} \"\""));
            }
            _ => {}
        }
    }
    out
}

fn params_of(e: &Event<'_>) -> Value {
    e.record
        .request_parameters
        .and_then(|r| serde_json::from_str(r.get()).ok())
        .unwrap_or(Value::Null)
}

/// JSON in the event's names (`readWriteType`) as the CLI's input takes it (`ReadWriteType`).
fn pascal_keys(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, v)| (cap(k), pascal_keys(v))).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(pascal_keys).collect()),
        other => other.clone(),
    }
}

/// A word for a POSIX shell: as it is when it is plain, else in single quotes.
fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The account's public access block when the model cannot vouch for the earlier one: how to find
/// it, and the exact command.
fn account_block_by_hand(input: &Input<'_>) -> String {
    let account = input.event.account().unwrap_or("<account-id>");
    let command = |flags: &Value| {
        let on = |f: &str| flags.get(f).and_then(Value::as_bool).unwrap_or(false);
        format!(
            "`aws s3control put-public-access-block --account-id {account} --public-access-block-configuration BlockPublicAcls={},IgnorePublicAcls={},BlockPublicPolicy={},RestrictPublicBuckets={}`",
            on("BlockPublicAcls"), on("IgnorePublicAcls"), on("BlockPublicPolicy"), on("RestrictPublicBuckets")
        )
    };
    let why = match before_state(input, |b| b.account_public_access_block()) {
        Err(why) => why,
        Ok(_) => "the event does not show what it wrote".to_owned(),
    };
    format!(
        "{why}: the account's earlier public access block is not known; check it with `aws s3control get-public-access-block --account-id {account}` and which buckets must stay public, then put it back with {} (every flag on is the safe default)",
        command(&all_on_block())
    )
}

/// What the model vouches for before the event, through `get`; why not, when it cannot.
fn before_state<T>(
    input: &Input<'_>,
    get: impl FnOnce(&crate::model::BeforeEvent) -> Result<T, String>,
) -> Result<T, String> {
    match input.before {
        Some(b) => get(b),
        None => Err("no model of the account before the event".to_owned()),
    }
}

fn provenance(input: &Input<'_>, key: &crate::model::EntryKey) -> String {
    input
        .before
        .map_or_else(|| format!("`{key}`"), |b| b.provenance(key))
}

/// The earlier default version of the managed policy a `CreatePolicyVersion` (with
/// `setAsDefault`) or `SetDefaultPolicyVersion` event changed: `(policy ARN, the version the event
/// made default, the earlier default)`. Known only when the policy's versions as read now hold the
/// event's version and exactly one other: a default version cannot be deleted, so that one was the
/// default before. Anything else is unknown, and a person is told how to find it.
fn earlier_default(
    e: &Event<'_>,
    snapshot: Option<&Snapshot>,
    before: Option<&crate::model::BeforeEvent>,
) -> Result<(String, String, String), String> {
    let arn = param(e, "policyArn").ok_or("the event names no `policyArn`")?;
    let made = match e.name() {
        "CreatePolicyVersion" => {
            let v: Value =
                serde_json::from_str(e.record.request_parameters.map_or("null", |r| r.get()))
                    .unwrap_or(Value::Null);
            let as_default = v
                .get("setAsDefault")
                .is_some_and(|d| d.as_bool() == Some(true) || d.as_str() == Some("true"));
            if !as_default {
                return Err(
                    "the new version was not made the default, so what is in force did not change"
                        .to_owned(),
                );
            }
            response(e, "/policyVersion/versionId")
                .ok_or("the event does not say which version it made")?
        }
        _ => param(e, "versionId").ok_or("the event names no `versionId`")?,
    };
    // The model's default before the event, when it vouches for it and saw every version made
    // since (version ids only grow: a gap is a change the model missed).
    let modelled = before.map(|b| b.default_version(&arn));
    if let Some(Ok((earlier, known))) = &modelled {
        let number = |v: &str| v.strip_prefix('v').and_then(|n| n.parse::<u64>().ok());
        let newest = known.iter().filter_map(|v| number(v)).max();
        let missed = e.name() == "CreatePolicyVersion"
            && matches!((newest, number(&made)), (Some(n), Some(m)) if m != n + 1);
        if *earlier != made && !missed {
            return Ok((arn, made, earlier.clone()));
        }
        if missed {
            return Err(format!(
                "the model's versions of `{arn}` end at `v{}`, but the event made `{made}`: a change was missed",
                newest.unwrap_or_default()
            ));
        }
    }
    let versions = snapshot
        .and_then(|s| s.policy_versions.get(&arn))
        .ok_or_else(|| match &modelled {
            Some(Err(why)) => format!("{why}, and the versions of `{arn}` were not read"),
            _ => format!("the versions of `{arn}` were not read"),
        })?;
    if !versions.iter().any(|(id, _)| *id == made) {
        return Err(format!("`{arn}` has no version `{made}` now"));
    }
    let others: Vec<&String> = versions
        .iter()
        .map(|(id, _)| id)
        .filter(|id| **id != made)
        .collect();
    match others.as_slice() {
        [only] => Ok((arn, made, (*only).clone())),
        [] => Err(format!("`{arn}` has no other version to go back to")),
        _ => Err(format!(
            "`{arn}` has {} other versions, and which was the default before is not known",
            others.len()
        )),
    }
}

/// Whether an ACL call grants to everyone or to every AWS account: a public canned ACL
/// (`public-read`, `public-read-write`, `authenticated-read`) or a grant to the `AllUsers` or
/// `AuthenticatedUsers` group ("Canned ACL", S3 user guide).
fn makes_public(e: &Event<'_>) -> bool {
    let text = e.record.request_parameters.map_or("", |r| r.get());
    [
        "public-read",
        "authenticated-read",
        "/groups/global/AllUsers",
        "/groups/global/AuthenticatedUsers",
    ]
    .iter()
    .any(|m| text.contains(m))
}

/// What a person must do for a change Warden cannot undo safely by itself (the before-state is
/// not in the event, or the inverse could break what depends on it): the exact command, with what
/// to look up first. Never a guess at the before-state.
fn by_hand(e: &Event<'_>, p: &dyn Fn(&str) -> Option<String>) -> String {
    let v = |k: &str| p(k).unwrap_or_else(|| format!("<{k}>"));
    let name = e.name();
    match (e.source(), name) {
        ("iam.amazonaws.com", "CreatePolicyVersion" | "SetDefaultPolicyVersion") => format!(
            "the earlier default version of `{0}` is not in the event: find it with `aws iam list-policy-versions --policy-arn {0}` and put it back with `aws iam set-default-policy-version --policy-arn {0} --version-id <earlier>`, then `aws iam delete-policy-version --policy-arn {0} --version-id <the caller's>`",
            v("policyArn")
        ),
        ("iam.amazonaws.com", "PutUserPolicy" | "PutRolePolicy" | "PutGroupPolicy") => {
            let (kind, who) = match name {
                "PutUserPolicy" => ("user", "userName"),
                "PutRolePolicy" => ("role", "roleName"),
                _ => ("group", "groupName"),
            };
            format!(
                "whether inline policy `{1}` of {kind} `{0}` existed before, and with what document, is not known: if it is new, delete it with `aws iam delete-{kind}-policy --{kind}-name {0} --policy-name {1}`; if it replaced one, put the earlier document back with `aws iam put-{kind}-policy --{kind}-name {0} --policy-name {1} --policy-document file://earlier.json`",
                v(who),
                v("policyName")
            )
        }
        ("iam.amazonaws.com", "UpdateAssumeRolePolicy") => format!(
            "the earlier trust policy of role `{0}` is not in the event: put it back with `aws iam update-assume-role-policy --role-name {0} --policy-document file://earlier.json` (the last sweep's evidence or your infrastructure code has it)",
            v("roleName")
        ),
        ("iam.amazonaws.com", "PutUserPermissionsBoundary" | "DeleteUserPermissionsBoundary") => format!(
            "the earlier permissions boundary of user `{0}` is not in the event: put it back with `aws iam put-user-permissions-boundary --user-name {0} --permissions-boundary <earlier boundary ARN>`",
            v("userName")
        ),
        ("iam.amazonaws.com", "PutRolePermissionsBoundary" | "DeleteRolePermissionsBoundary") => format!(
            "the earlier permissions boundary of role `{0}` is not in the event: put it back with `aws iam put-role-permissions-boundary --role-name {0} --permissions-boundary <earlier boundary ARN>`",
            v("roleName")
        ),
        ("iam.amazonaws.com", "UpdateLoginProfile") => format!(
            "the old password of `{0}` is unknown, so there is no safe inverse: delete the console password with `aws iam delete-login-profile --user-name {0}`, or force a new one with `aws iam update-login-profile --user-name {0} --password-reset-required`",
            v("userName")
        ),
        ("iam.amazonaws.com", "AddRoleToInstanceProfile") => format!(
            "instances using profile `{0}` now run as role `{1}`: remove it with `aws iam remove-role-from-instance-profile --instance-profile-name {0} --role-name {1}` once nothing depends on it",
            v("instanceProfileName"),
            v("roleName")
        ),
        ("iam.amazonaws.com", "UpdateRole") => format!(
            "the earlier settings of role `{0}` are not in the event: check them with `aws iam get-role --role-name {0}` and set them back with `aws iam update-role --role-name {0} --max-session-duration <earlier seconds>`",
            v("roleName")
        ),
        ("iam.amazonaws.com", "DetachRolePolicy" | "DetachUserPolicy" | "DetachGroupPolicy") => {
            let (kind, who, _) = holder_of(name);
            format!(
                "`{1}` was detached from {kind} `{0}`: if it was a guard (a Deny someone relies on), attach it again with `aws iam attach-{kind}-policy --{kind}-name {0} --policy-arn {1}` (Warden attaches only its own policies)",
                v(who),
                v("policyArn")
            )
        }
        ("iam.amazonaws.com", "DeleteRolePolicy" | "DeleteUserPolicy" | "DeleteGroupPolicy") => {
            let (kind, who, _) = holder_of(name);
            format!(
                "inline policy `{0}` was deleted: if it was a guard (a Deny someone relies on), put it back from its last known document with `aws iam put-{kind}-policy --{kind}-name {1} --policy-name {0} --policy-document file://earlier.json`",
                v("policyName"),
                v(who)
            )
        }
        ("s3.amazonaws.com", "PutObjectAcl") => format!(
            "the ACL of version `{2}` of object `{1}` in bucket `{0}` grants to everyone or to every AWS account: put the private ACL back with `aws s3api put-object-acl --bucket {0} --key {1} --version-id {2} --acl private` (or the grants it had, from `aws s3api get-object-acl`)",
            v("bucketName"),
            v("key"),
            v("versionId")
        ),
        ("cloudtrail.amazonaws.com", "StopLogging") => format!(
            "trail `{0}` stopped logging, which blinds Warden: restart it with `aws cloudtrail start-logging --name {0}`",
            v("name")
        ),
        ("cloudtrail.amazonaws.com", "DeleteTrail") => format!(
            "trail `{0}` was deleted, which blinds Warden: re-create it (`aws cloudtrail create-trail --name {0} --s3-bucket-name <bucket>`, then `aws cloudtrail start-logging --name {0}`)",
            v("name")
        ),
        ("cloudtrail.amazonaws.com", "UpdateTrail" | "PutEventSelectors") => format!(
            "trail `{0}` was changed and may no longer record what Warden needs: compare `aws cloudtrail get-trail --name {0}` and `aws cloudtrail get-event-selectors --trail-name {0}` with your baseline",
            v("name")
        ),
        _ => format!(
            "`{name}` has no safe inverse Warden knows: a person must review the change"
        ),
    }
}

fn cap(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ctx() -> RequestContext {
        RequestContext::complete().with("aws:TokenIssueTime", &["2026-11-22T12:00:00Z"])
    }

    fn denies(doc: &PolicyDocument, action: &str, resource: &str) -> bool {
        let allow = PolicyDocument::parse(
            r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
        )
        .unwrap();
        let c = ctx();
        let req = Request {
            principal_arn: "arn:aws:iam::1:user/u",
            principal_account: "1",
            action,
            resource,
            context: &c,
            ..Default::default()
        };
        evaluate(
            &req,
            &Policies {
                identity: &[("allow", &allow), ("warden", doc)],
                boundary: None,
                resource: None,
                ..Default::default()
            },
        )
        .answer
            == Answer::ExplicitDeny
    }

    #[test]
    fn merge_groups_compacts_and_keeps_revocation() {
        let pairs = vec![
            (
                "iam:PutRolePolicy".to_owned(),
                vec!["arn:aws:iam::1:role/a".to_owned()],
            ),
            (
                "iam:AttachRolePolicy".to_owned(),
                vec!["arn:aws:iam::1:role/a".to_owned()],
            ),
            (
                "iam:PutRolePolicy".to_owned(),
                vec!["arn:aws:iam::1:role/a".to_owned()],
            ),
        ];
        let doc = merge_deny(None, &pairs, Some("2026-11-22T10:00:00Z"));
        assert_eq!(doc.statements.len(), 2);
        assert_eq!(
            doc.statements[0].action,
            Scope::Only(vec![
                "iam:AttachRolePolicy".into(),
                "iam:PutRolePolicy".into()
            ])
        );
        let again = merge_deny(Some(&doc), &pairs, Some("2026-11-22T09:00:00Z"));
        assert_eq!(
            again.to_json(),
            doc.to_json(),
            "idempotent; the later revocation time is kept"
        );
    }

    fn arb_pairs() -> impl Strategy<Value = Vec<(String, Vec<String>)>> {
        proptest::collection::vec(
            (
                prop::sample::select(vec![
                    "iam:PutRolePolicy",
                    "iam:AttachRolePolicy",
                    "s3:PutBucketPolicy",
                    "iam:CreateUser",
                ]),
                proptest::collection::vec(
                    prop::sample::select(vec![
                        "arn:aws:iam::1:role/a",
                        "arn:aws:iam::1:role/b",
                        "arn:aws:s3:::x",
                        "arn:aws:iam::1:user/*/bob",
                    ]),
                    1..3,
                ),
            ),
            1..6,
        )
        .prop_map(|v| {
            v.into_iter()
                .map(|(a, r)| (a.to_owned(), r.into_iter().map(str::to_owned).collect()))
                .collect()
        })
    }

    proptest! {
        // INVARIANT (deny-exactly-planned): the merged policy denies exactly the planned pairs (and
        // Warden's earlier ones), and changes the evaluator's answer for nothing else.
        #[test]
        fn merged_policy_denies_exactly_the_planned_pairs(
            earlier in arb_pairs(), new in arb_pairs(),
            action in prop::sample::select(vec!["iam:PutRolePolicy", "iam:AttachRolePolicy", "s3:PutBucketPolicy", "iam:CreateUser", "iam:GetRole", "s3:GetObject"]),
            resource in prop::sample::select(vec!["arn:aws:iam::1:role/a", "arn:aws:iam::1:role/b", "arn:aws:iam::1:role/c", "arn:aws:s3:::x", "arn:aws:s3:::y", "arn:aws:iam::1:user/bob", "arn:aws:iam::1:user/ops/bob", "arn:aws:iam::1:user/alice"]),
        ) {
            let first = merge_deny(None, &earlier, None);
            let merged = merge_deny(Some(&first), &new, None);
            let planned = earlier.iter().chain(&new).any(|(a, rs)| a == action && rs.iter().any(|r| wildcard::matches(r, resource)));
            prop_assert_eq!(denies(&merged, action, resource), planned);
            // Deterministic and idempotent.
            prop_assert_eq!(merge_deny(Some(&first), &new, None).to_json(), merged.to_json());
            prop_assert_eq!(merge_deny(Some(&merged), &new, None).to_json(), merged.to_json());
            let mut reversed = new.clone();
            reversed.reverse();
            prop_assert_eq!(merge_deny(Some(&first), &reversed, None).to_json(), merged.to_json());
        }
    }

    mod flows {
        use super::super::*;
        use crate::decision::{decide, CallerFacts};
        use crate::event::parse_document;
        use crate::mapping::analyse;
        use proptest::prelude::*;

        fn run(event: &str, groups: Option<&[String]>, snapshot: Option<&Snapshot>) -> Outcome {
            let catalog = Catalog::builtin().unwrap();
            let rules = RuleSet::default_pack().unwrap();
            let mut out = None;
            parse_document(event.as_bytes(), |_, e| {
                let e = e.unwrap();
                let analysis = analyse(&e, &catalog);
                let decision = decide(&e, &analysis, &rules, CallerFacts { groups });
                let before = snapshot.map(|s| crate::model::BeforeEvent::from_snapshot(&e, s));
                out = Some(plan(&Input {
                    event: &e,
                    analysis: &analysis,
                    decision: &decision,
                    rules: &rules,
                    catalog: &catalog,
                    snapshot,
                    held: None,
                    before: before.as_ref(),
                }));
            });
            out.unwrap()
        }

        const ATTACH: &str = r#"{"eventSource":"iam.amazonaws.com","eventName":"AttachUserPolicy","eventTime":"2026-11-22T10:00:00Z","recipientAccountId":"111122223333","awsRegion":"us-east-1",
            "userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/mallory","accountId":"111122223333","userName":"mallory"},
            "requestParameters":{"userName":"mallory","policyArn":"arn:aws:iam::aws:policy/AdministratorAccess"}}"#;

        #[test]
        fn a_non_admin_attaching_admin_access_gets_a_narrow_deny_and_a_detach() {
            let dev = ["Developers".to_owned()];
            let Outcome::Deny(p) = run(ATTACH, Some(&dev), None) else {
                panic!("expected a deny plan")
            };
            assert_eq!(p.policy_name, DENY_POLICY_NAME);
            assert_eq!(p.placement, Placement::Inline);
            assert_eq!(
                p.denied,
                vec![
                    (
                        "iam:AttachUserPolicy".to_owned(),
                        "arn:aws:iam::111122223333:user/*/mallory".to_owned()
                    ),
                    (
                        "iam:AttachUserPolicy".to_owned(),
                        "arn:aws:iam::111122223333:user/mallory".to_owned()
                    ),
                ]
            );
            assert_eq!(p.undo[0].call, "iam:DetachUserPolicy");
            assert_eq!(
                p.undo[0].params["PolicyArn"],
                "arn:aws:iam::aws:policy/AdministratorAccess"
            );
            let doc = PolicyDocument::from_value(&p.policy_document).unwrap();
            // The Deny and the statement protecting it.
            assert!(doc.size() < 450, "{}", doc.to_json());
            // An admin is allowed: nothing to plan.
            assert_eq!(
                run(ATTACH, Some(&["Administrators".to_owned()]), None),
                Outcome::Nothing
            );
        }

        fn snapshot_with(inline_chars: usize, attached: usize) -> Snapshot {
            let big = format!(
                r#"{{"Statement":{{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::{}"}}}}"#,
                "x".repeat(inline_chars)
            );
            let attached: Vec<String> = (0..attached).map(|i| format!(r#"{{"PolicyName":"p{i}","PolicyArn":"arn:aws:iam::111122223333:policy/p{i}"}}"#)).collect();
            Snapshot::parse(&format!(
                r#"{{"UserDetailList":[{{"UserName":"mallory","Arn":"arn:aws:iam::111122223333:user/team/mallory","GroupList":["Developers"],
                "UserPolicyList":[{{"PolicyName":"big","PolicyDocument":{big}}}],"AttachedManagedPolicies":[{}]}}],"RoleDetailList":[],"GroupDetailList":[],"Policies":[]}}"#,
                attached.join(",")
            ))
            .unwrap()
        }

        #[test]
        fn over_the_inline_budget_falls_back_to_a_managed_policy_and_then_to_an_alert() {
            let dev = ["Developers".to_owned()];
            let snap = snapshot_with(1_900, 3);
            let Outcome::Deny(p) = run(ATTACH, Some(&dev), Some(&snap)) else {
                panic!()
            };
            assert_eq!(p.placement, Placement::Managed);
            assert_eq!(p.target, "arn:aws:iam::111122223333:user/team/mallory");
            assert!(
                p.fallback
                    .as_deref()
                    .unwrap()
                    .contains("inline budget exceeded"),
                "{:?}",
                p.fallback
            );
            let full = snapshot_with(1_900, ATTACHED_POLICY_LIMIT);
            let Outcome::Alert { reasons, .. } = run(ATTACH, Some(&dev), Some(&full)) else {
                panic!()
            };
            assert!(reasons[0].contains("a person must act"), "{reasons:?}");
        }

        #[test]
        fn trail_tampering_by_a_role_revokes_its_older_sessions() {
            let ev = r#"{"eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging","eventTime":"2026-11-22T10:00:00Z","recipientAccountId":"111122223333","awsRegion":"eu-west-1",
                "userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/ci/run","sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::111122223333:role/ci"}}},
                "requestParameters":{"name":"main"}}"#;
            let Outcome::Deny(p) = run(ev, None, None) else {
                panic!()
            };
            assert_eq!(
                p.revoke_sessions_before.as_deref(),
                Some("2026-11-22T10:00:00Z")
            );
            let doc = PolicyDocument::from_value(&p.policy_document).unwrap();
            assert!(doc
                .statements
                .iter()
                .any(|s| s.sid.as_deref() == Some(REVOKE_SID)));
            assert!(p.denied.contains(&(
                "cloudtrail:StopLogging".to_owned(),
                "arn:aws:cloudtrail:eu-west-1:111122223333:trail/main".to_owned()
            )));
        }

        #[test]
        fn a_bucket_policy_granting_outside_is_undone_by_removing_exactly_that_grant() {
            let ev = r#"{"eventSource":"s3.amazonaws.com","eventName":"PutBucketPolicy","eventTime":"2026-11-22T10:00:00Z","recipientAccountId":"111122223333","awsRegion":"us-east-1",
                "userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/admin","accountId":"111122223333","userName":"admin"},
                "requestParameters":{"bucketName":"data","bucketPolicy":{"Version":"2012-10-17","Statement":[
                    {"Sid":"Mine","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/app"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::data/*"},
                    {"Sid":"Backdoor","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::193672423079:root"},"Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::data","arn:aws:s3:::data/*"]}]}}}"#;
            let admins = ["Administrators".to_owned()];
            let Outcome::Alert { undo, .. } = run(ev, Some(&admins), None) else {
                panic!("expected an alert with an undo")
            };
            assert_eq!(undo[0].call, "s3:PutBucketPolicy");
            let policy = PolicyDocument::from_value(&undo[0].params["Policy"]).unwrap();
            assert_eq!(policy.statements.len(), 1);
            assert_eq!(policy.statements[0].sid.as_deref(), Some("Mine"));
        }

        proptest! {
            // INVARIANT (never-deny-the-exempt): no Deny is planned for an allowed principal, a
            // break-glass principal, Warden's own role, a service-linked or Identity Center role, or root.
            #[test]
            fn exempt_callers_never_get_a_deny(kind in 0usize..6, event in prop::sample::select(vec!["AttachRolePolicy", "PutRolePolicy", "CreateUser", "AddUserToGroup"])) {
                let identity = match kind {
                    0 => r#"{"type":"Root","arn":"arn:aws:iam::111122223333:root","accountId":"111122223333"}"#,
                    1 => r#"{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/break-glass/x","sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::111122223333:role/break-glass"}}}"#,
                    2 => r#"{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/warden-handler/x","sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::111122223333:role/warden-handler"}}}"#,
                    3 => r#"{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/AWSServiceRoleForX/x","sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::111122223333:role/aws-service-role/x.amazonaws.com/AWSServiceRoleForX"}}}"#,
                    4 => r#"{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Dev_0123456789abcdef/a","sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Dev_0123456789abcdef"}}}"#,
                    _ => r#"{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/admin","accountId":"111122223333","userName":"admin"}"#,
                };
                let ev = format!(r#"{{"eventSource":"iam.amazonaws.com","eventName":"{event}","eventTime":"2026-11-22T10:00:00Z","recipientAccountId":"111122223333","userIdentity":{identity},
                    "requestParameters":{{"roleName":"r","userName":"u","groupName":"Administrators","policyName":"p","policyArn":"arn:aws:iam::aws:policy/AdministratorAccess"}}}}"#);
                let admins = ["Administrators".to_owned()];
                let outcome = run(&ev, Some(&admins), None);
                prop_assert!(!matches!(outcome, Outcome::Deny(_)), "{:?}", outcome);
            }
        }
    }
}
