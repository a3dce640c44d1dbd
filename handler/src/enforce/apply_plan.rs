//! `warden access --plan --apply`: a least-privilege plan a person chose, applied through the same
//! connectors, held record and evidence trail as the live path, and undone by `warden rollback`.
//!
//! - **Deny the unused** (`deny-unused`): the pairs are added to what Warden holds in force on the
//!   principal, and its Deny is rendered from that record (never from the live `WardenDeny`), so
//!   it keeps every earlier Deny and is put back by a sweep when someone removes it. Inline while
//!   it fits the principal's inline budget, else (or where it already is) Warden's managed
//!   fallback; an inline Deny the new pairs push over the budget moves whole to the managed one
//!   (managed on first, then the inline one off, in one change record).
//! - **Replace the inline policies** (`replace-inline`): the plan's steps, on the principal's
//!   policies, all or nothing: each step's precondition is checked on one live read before the
//!   first change, so a stale account file changes nothing.
//!
//! Either way the change is one `change` record with the principal's policies before and after
//! (request ids, the steps, the findings' window), so one `warden rollback ID` puts every policy
//! back as it was; rolling back a Deny also sets Warden's record back to what it held before.
//!
//! Not here: choosing what to deny or generate (`policy_rules::access`), or the command line.

use crate::connectors::{compact, Applied, Target};
use crate::enforce::flow::{iso, Flow, FlowError};
use policy_rules::evidence::{deterministic_id, Draft, Record, RecordKind};
use policy_rules::evidence_target::{describe_change, resource_arn, Place, Purpose};
use policy_rules::held::Held;
use policy_rules::planner::{
    deny_steps, expect_absent, managed_policy_name, Placement, Plan, Step, DENY_POLICY_NAME,
    MANAGED_POLICY_LIMIT, ROLE_INLINE_LIMIT, USER_INLINE_LIMIT,
};
use policy_rules::snapshot::PrincipalRecord;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// What applying one principal's plan did.
#[derive(Debug, Clone, PartialEq)]
pub enum PlanApplied {
    /// Changed, and recorded as this `change` record (`warden rollback` takes its id).
    Changed { record: Box<Record>, holds: bool },
    /// Nothing to change: why (already in force, nothing planned).
    Unchanged(String),
}

impl Flow {
    /// Adds `denied` to Warden's Deny on `principal` (its full ARN, as the plan named it), for a
    /// least-privilege plan of unused access over `window_days`.
    pub async fn apply_unused_deny(
        &self,
        principal: &str,
        denied: &[(String, String)],
        window_days: u32,
    ) -> Result<PlanApplied, FlowError> {
        self.add_to_deny(
            principal,
            denied,
            json!({"plan": "deny-unused", "window_days": window_days}),
            None,
        )
        .await
    }

    /// Adds `denied` to Warden's Deny on `principal`, held in Warden's record like every Deny it
    /// places; `why` (`plan` and what made it) goes into the change record's body, `sweep` names
    /// the sweep and finding type when a sweep asked.
    pub async fn add_to_deny(
        &self,
        principal: &str,
        denied: &[(String, String)],
        why: Value,
        sweep: Option<(&str, &str)>,
    ) -> Result<PlanApplied, FlowError> {
        let (key, live) = self.plan_principal(principal).await?;
        let is_role = live.arn.contains(":role/");
        let held = self
            .holdings
            .get(&key)
            .await?
            .unwrap_or_else(|| Held::new(&live.arn));
        let adds: BTreeSet<(String, String)> = denied
            .iter()
            .filter(|p| !held.denies.contains(*p))
            .cloned()
            .collect();
        if adds.is_empty() {
            return Ok(PlanApplied::Unchanged(
                "Warden's Deny already holds every pair of the plan".to_owned(),
            ));
        }
        let mut next = held.clone();
        next.principal.clone_from(&live.arn);
        next.denies.extend(adds.iter().cloned());
        let limit = if is_role {
            ROLE_INLINE_LIMIT
        } else {
            USER_INLINE_LIMIT
        };
        // The principal's other inline policies count against the same budget.
        let others: usize = live
            .inline
            .iter()
            .filter(|(n, _)| n.as_str() != DENY_POLICY_NAME)
            .map(|(_, d)| d.size())
            .sum();
        let inline_size = |h: &Held| {
            let mut h = h.clone();
            h.placement = Some(Placement::Inline);
            h.policy_name = Some(DENY_POLICY_NAME.to_owned());
            h.document().map_or(0, |d| d.size())
        };
        // Warden's inline Deny that no longer fits with the new pairs moves whole to its managed
        // policy: the managed Deny (every pair) goes on first, then the inline one comes off, so
        // no moment holds less than before.
        let mut lift_inline = false;
        let placement = match held.placement {
            Some(Placement::Inline) if others + inline_size(&next) > limit => {
                lift_inline = true;
                Placement::Managed
            }
            Some(p) => p,
            None if others + inline_size(&next) <= limit => Placement::Inline,
            None => Placement::Managed,
        };
        next.placement = Some(placement);
        next.policy_name = Some(match placement {
            Placement::Inline => DENY_POLICY_NAME.to_owned(),
            Placement::Managed if lift_inline => managed_policy_name(&live.arn),
            Placement::Managed => held
                .policy_name
                .clone()
                .unwrap_or_else(|| managed_policy_name(&live.arn)),
        });
        let doc = next
            .document()
            .ok_or_else(|| FlowError::Corrupt("a Deny with pairs renders no document".into()))?;
        if doc.size() > MANAGED_POLICY_LIMIT {
            return Err(FlowError::Unreadable(format!(
                "the Deny would be {} characters, over IAM's {MANAGED_POLICY_LIMIT} for a managed policy: deny fewer pairs (`--principal`, `--window`), or replace the inline policies instead",
                doc.size()
            )));
        }
        let denied_now: Vec<(String, String)> = adds.into_iter().collect();
        let plan = Plan {
            target: live.arn.clone(),
            target_name: live.name.clone(),
            policy_name: next.policy_name.clone().unwrap_or_default(),
            placement,
            policy_document: serde_json::from_str(&doc.to_json()).unwrap_or(Value::Null),
            denied: denied_now.clone(),
            revoke_sessions_before: None,
            undo: Vec::new(),
            no_undo: None,
            fallback: None,
            reasons: Vec::new(),
        };
        // Warden's record first: a Deny in force is always one Warden knows it holds (a sweep
        // puts it back if this run stops half way); set back when the change does not happen.
        let (adds_again, placed, name) =
            (denied_now.clone(), next.placement, next.policy_name.clone());
        self.update_held(&key, &live.arn, move |h| {
            h.denies.extend(adds_again.iter().cloned());
            h.placement = placed;
            h.policy_name.clone_from(&name);
        })
        .await?;
        let mut steps = deny_steps(&plan);
        let mut body = json!({
            "role": "deny",
            "denied": denied_now,
            "held_before": held,
        });
        if lift_inline {
            // The rollback sets Warden's record back from the first step (the managed Deny's).
            if let (Value::Object(b), Some(first)) = (&mut body, steps.first()) {
                b.insert("step".into(), json!(first));
                b.insert(
                    "moved".into(),
                    json!(format!(
                        "Warden's inline Deny with the new pairs would be {} characters, over the inline budget ({others} of {limit} used by the other inline policies): the whole Deny moved to Warden's managed policy `{}`",
                        inline_size(&next),
                        plan.policy_name
                    )),
                );
            }
            steps.push(crate::enforce::flow::delete_own_inline(
                is_role,
                &live.name,
                DENY_POLICY_NAME,
                "none: the policy is Warden's own, and its pairs are in the managed Deny put on before",
            ));
        }
        if let (Value::Object(b), Value::Object(w)) = (&mut body, why) {
            b.extend(w);
        }
        match self
            .apply_plan_steps(
                &live.arn,
                Some(&live.arn),
                &steps,
                Purpose::Deny {
                    denied: &denied_now,
                    revoke_before: None,
                },
                body,
                &[],
                sweep,
            )
            .await
        {
            Ok(done) => Ok(done),
            Err(e) => {
                let back = held.clone();
                self.update_held(&key, &live.arn, move |h| {
                    h.denies.clone_from(&back.denies);
                    h.placement = back.placement;
                    h.policy_name.clone_from(&back.policy_name);
                })
                .await?;
                Err(e)
            }
        }
    }

    /// Applies the plan's replacement of `principal`'s own inline policies (`steps`, as
    /// `policy_rules::access::plan` made them), all or nothing.
    pub async fn apply_inline_replacement(
        &self,
        principal: &str,
        steps: &[Step],
    ) -> Result<PlanApplied, FlowError> {
        if steps.is_empty() {
            return Ok(PlanApplied::Unchanged(
                "the plan has no steps (its notes say why)".to_owned(),
            ));
        }
        let (_, live) = self.plan_principal(principal).await?;
        let kind = if live.arn.contains(":role/") {
            ("RoleName", "Role")
        } else {
            ("UserName", "User")
        };
        for s in steps {
            let ours = s.params.get(kind.0).and_then(Value::as_str) == Some(live.name.as_str())
                && [
                    format!("iam:Put{}Policy", kind.1),
                    format!("iam:Delete{}Policy", kind.1),
                ]
                .contains(&s.call);
            if !ours {
                return Err(FlowError::Unreadable(format!(
                    "step `{}` is not a change of `{}`'s own inline policies: not applied",
                    s.call, live.arn
                )));
            }
        }
        let body = json!({"role": "least-privilege", "plan": "replace-inline"});
        self.apply_plan_steps(
            &live.arn,
            Some(&live.arn),
            steps,
            Purpose::Restore,
            body,
            steps,
            None,
        )
        .await
    }

    /// The key and live record of a principal a plan names; refused outside the guarded account,
    /// and when the live principal is not the one the plan was made for (another path: deleted
    /// and created again elsewhere).
    async fn plan_principal(
        &self,
        principal: &str,
    ) -> Result<(String, PrincipalRecord), FlowError> {
        let key = self.guarded_key(principal)?;
        let is_role = key.contains(":role/");
        let name = principal.rsplit('/').next().unwrap_or_default();
        let snap = self.account.principal(is_role, name, false).await?;
        let live = snap
            .and_then(|s| {
                let m = if is_role { s.roles } else { s.users };
                m.into_values().find(|r| r.name == name)
            })
            .ok_or_else(|| {
                FlowError::Unreadable(format!("`{principal}` does not exist in the account"))
            })?;
        if live.arn != principal {
            return Err(FlowError::Unreadable(format!(
                "the plan is for `{principal}`, the account's principal of that name is `{}`: not applied (make the plan again)",
                live.arn
            )));
        }
        Ok((key, live))
    }

    /// An enforcing sweep's `undo` of one finding: `step` (made by
    /// `policy_rules::sweep::steps::undo_step` from the live state just read) applied through
    /// its connector, and one `change` record, which `warden rollback` undoes.
    pub async fn apply_sweep_step(
        &self,
        subject: &str,
        step: &Step,
        sweep: &str,
        finding_type: &str,
    ) -> Result<PlanApplied, FlowError> {
        let body =
            json!({"role": "undo", "plan": "sweep", "sweep": sweep, "finding": finding_type});
        self.apply_plan_steps(
            subject,
            None,
            std::slice::from_ref(step),
            Purpose::Sweep {
                sweep,
                finding_type,
            },
            body,
            &[],
            Some((sweep, finding_type)),
        )
        .await
    }

    /// Runs `steps` (all on one holder: a principal's policies, a bucket) with their
    /// preconditions checked first on one live read (`checked`: the steps whose `expect` must
    /// hold before anything changes), and records one `change` record for them all. `subject` is
    /// the ARN the change is about, `principal` the principal it restricts (none for a bucket).
    #[allow(clippy::too_many_arguments)]
    async fn apply_plan_steps(
        &self,
        subject: &str,
        principal: Option<&str>,
        steps: &[Step],
        purpose: Purpose<'_>,
        mut body: Value,
        checked: &[Step],
        sweep: Option<(&str, &str)>,
    ) -> Result<PlanApplied, FlowError> {
        let mut targets = Vec::new();
        for s in steps {
            let (_, t) = self.connectors.for_step(s)?;
            targets.push(t);
        }
        let (Some(first), Some(target)) = (steps.first(), targets.first().cloned()) else {
            return Err(FlowError::Corrupt("no step to apply".into()));
        };
        let target: Target = target;
        if targets.iter().any(|t| *t != target) {
            return Err(FlowError::Corrupt(
                "a plan's steps change more than one principal's policies".into(),
            ));
        }
        let (connector, _) = self.connectors.for_step(first)?;
        let before = connector.snapshot(&target).await?;
        for s in checked {
            if let Some(why) = precondition_fails(s, &before) {
                return Err(FlowError::Unreadable(format!(
                    "not applied, nothing changed: `{}` of `{}`: {why} (make the plan again from a fresh account file, or `--from-model`)",
                    s.call,
                    s.params.get("PolicyName").and_then(Value::as_str).unwrap_or("?")
                )));
            }
        }
        let mut request_ids = Vec::new();
        let mut skipped = Vec::new();
        let mut live = before.clone();
        let mut holds = true;
        for s in steps {
            match connector.apply(&target, s, &live).await? {
                Applied::Changed { request_ids: ids } => request_ids.extend(ids),
                Applied::Skipped { why } => skipped.push(why),
            }
            let v = connector.verify(&target, s).await?;
            holds &= v.holds;
            live = v.after;
        }
        if request_ids.is_empty() {
            return Ok(PlanApplied::Unchanged(format!(
                "every step was skipped: {}",
                skipped.join("; ")
            )));
        }
        let now = self.now();
        let partition = policy_rules::arn::Arn::parse(subject).map_or("aws", |a| a.partition);
        let place = Place {
            partition,
            account: &self.account_id,
            region: "",
        };
        let target_arn = resource_arn(&target.connector, &target.name, &place, &[subject])
            .unwrap_or_else(|| target.to_string());
        let what = match (purpose, sweep) {
            (Purpose::Deny { denied, revoke_before }, Some((sweep, finding_type))) => format!(
                "sweep `{sweep}`, finding `{finding_type}`: {}",
                describe_change(Purpose::Deny { denied, revoke_before }, &first.call, &first.params, &target_arn)
            ),
            (Purpose::Deny { .. } | Purpose::Sweep { .. }, _) => {
                describe_change(purpose, &first.call, &first.params, &target_arn)
            }
            _ => format!(
                "replaced the inline policies of `{target_arn}` with the generated least-privilege policy `{}` ({} steps)",
                policy_rules::access::plan::LEAST_PRIVILEGE_POLICY_NAME,
                steps.len()
            ),
        };
        if let Value::Object(m) = &mut body {
            m.insert("connector".into(), json!(target.connector));
            m.insert("name".into(), json!(target.name));
            m.insert("what".into(), json!(what));
            // One step: `warden rollback` sets Warden's record back from it (a Deny's pairs).
            if steps.len() == 1 {
                m.insert("step".into(), json!(first));
            }
            m.insert("steps".into(), json!(steps));
            m.insert("before".into(), before);
            m.insert("after".into(), live);
            m.insert("holds".into(), json!(holds));
            m.insert(
                "applied".into(),
                json!({"changed": {"request_ids": request_ids}, "skipped": skipped}),
            );
        }
        let record = self
            .evidence
            .append(Draft {
                id: deterministic_id(&["access-plan", subject, &now.to_string(), &what]),
                time: iso(now),
                kind: Some(RecordKind::Change),
                principal: principal.map(str::to_owned),
                target: Some(target_arn),
                actions: steps.iter().map(|s| s.call.clone()).collect(),
                rule: None,
                event_id: None,
                body,
            })
            .await?;
        Ok(PlanApplied::Changed {
            record: Box::new(record),
            holds,
        })
    }
}

/// Why a step's precondition does not hold on the holder's live state (`None`: it holds).
fn precondition_fails(step: &Step, live: &Value) -> Option<String> {
    let expect = step.expect.as_ref()?;
    let policy = step.params.get("PolicyName").and_then(Value::as_str)?;
    let current = live.pointer(&format!(
        "/inline/{}",
        policy.replace('~', "~0").replace('/', "~1")
    ));
    if *expect == expect_absent() {
        return current.map(|_| "a policy of that name is there already".to_owned());
    }
    match (current, compact(expect)) {
        (None, _) => Some("the policy is no longer there".to_owned()),
        (_, Err(why)) => Some(format!("the plan's document does not read: {why}")),
        (Some(c), Ok(e)) if *c != e => {
            Some("the live document is not the one the plan was made from".to_owned())
        }
        _ => None,
    }
}
