//! Standing violations: for every rule, the principals outside its allow-sets whose policies (a
//! user's groups' included, capped by its permissions boundary, with every Deny) allow one of the
//! rule's actions on one of the rule's resources — what the rule would deny the moment they used
//! it. Rules about a bucket policy's content (`grants_outside_account`) are judged on the buckets
//! (`exposure`). A rule that also matches request parameters (`policyName = "Warden*"`) is judged
//! on its actions: a policy cannot be read for the parameters a call will carry, so a principal
//! allowed the action may make such a call (the evidence says so).
//!
//! Principals with the same policy documents (and boundary, and no policy variables) are allowed
//! the same: each distinct set is evaluated once per rule.

use super::access::{Bits, View, Witnesses};
use super::admin::{Principals, Standing};
use super::{Action, Change, Ctx, Finding, Kind, Response};
use crate::evaluate::Answer;
use crate::rules::DenyScope;
use std::collections::HashMap;

/// What one policy set is allowed of one rule: `(action, witness, answer, reason)`.
type Hits = Vec<(String, String, Answer, String)>;

pub(crate) fn findings(ctx: &Ctx<'_>, p: &Principals<'_>) -> Vec<Finding> {
    let index = &p.prepared.index;
    let mut out = Vec::new();
    for (rule, actions) in ctx.input.rules.rules.iter().zip(p.rule_actions) {
        if rule.matches.grants_outside_account {
            continue;
        }
        let scopes: Vec<String> = rule
            .matches
            .resources
            .iter()
            .map(|r| ctx.instantiate(r))
            .collect();
        let mut cache: HashMap<Vec<usize>, Hits> = HashMap::new();
        let ids: Vec<(usize, &String)> = actions
            .iter()
            .filter_map(|a| index.interest.index(a).map(|i| (i, a)))
            .collect();
        let mask = Bits::of(index.interest.actions.len(), ids.iter().map(|(i, _)| *i));
        for (i, v) in p.views.iter().enumerate() {
            let standing = p.standing.get(i).copied().unwrap_or(Standing::Judged);
            if matches!(standing, Standing::Warden | Standing::ServiceLinked) {
                continue;
            }
            if !v.allow_bits.intersects(&mask) || p.allowed_by(ctx, &rule.allow, v).is_some() {
                continue;
            }
            let compute = |v: &View<'_>| -> Hits {
                let mut hits = Vec::new();
                let mut witnesses = Witnesses::default();
                for (ai, a) in &ids {
                    if !v.allow_bits.get(*ai) {
                        continue;
                    }
                    for (w, answer, why) in
                        v.allowed_on_id(index, *ai, a, &scopes, false, &mut witnesses)
                    {
                        hits.push(((*a).clone(), w, answer, why));
                    }
                }
                hits
            };
            let hits = if v.personal {
                compute(v)
            } else {
                cache
                    .entry(v.signature.clone())
                    .or_insert_with(|| compute(v))
                    .clone()
            };
            if hits.is_empty() {
                continue;
            }
            out.push(finding(ctx, rule, v, standing, &hits));
        }
    }
    out
}

fn finding(
    ctx: &Ctx<'_>,
    rule: &crate::rules::Rule,
    v: &View<'_>,
    standing: Standing,
    hits: &Hits,
) -> Finding {
    let mut actions: Vec<String> = hits.iter().map(|h| h.0.clone()).collect();
    actions.dedup();
    let mut evidence: Vec<String> = Vec::new();
    let mut last = "";
    for (a, w, answer, why) in hits {
        if a == last {
            continue;
        }
        last = a;
        let may = if *answer == Answer::Unknown {
            "may be allowed"
        } else {
            "allowed"
        };
        evidence.push(format!("`{a}` on `{w}` {may}: {why}"));
    }
    if !rule.matches.request.is_empty() {
        evidence.push(format!(
            "rule `{}` also matches request parameters ({}), which a policy cannot be checked against: the principal may make such a call",
            rule.id,
            rule.matches
                .request
                .iter()
                .map(|(k, p)| format!("`{k} = {p}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let mode = ctx.mode(Some(rule));
    // The Deny, by resource: `RESOURCE: action, action`.
    let mut by_resource: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for (a, w, _, _) in hits.iter().filter(|(_, w, _, _)| w != "*") {
        by_resource.entry(w).or_default().push(a);
    }
    let exact: Vec<(String, String)> = by_resource
        .iter()
        .flat_map(|(w, a)| a.iter().map(|a| ((*a).to_owned(), (*w).to_owned())))
        .collect();
    let pairs: Vec<String> = by_resource
        .into_iter()
        .map(|(w, a)| format!("{w}: {}", a.join(", ")))
        .collect();
    let response = match standing {
        Standing::BreakGlass => {
            Response::alert(mode, "a break-glass principal: exempt, alert only")
        }
        Standing::IdentityCenter => Response::alert(
            mode,
            "an Identity Center role cannot be given a Deny: a person changes its permission set",
        ),
        _ if rule.response.deny_scope == DenyScope::None => {
            Response::alert(mode, format!("rule `{}` asks for no Deny", rule.id))
        }
        _ if pairs.is_empty() => Response::alert(
            mode,
            "allowed on `*` only: no resource to deny narrowly, a person must look",
        ),
        _ => Response::change(
            mode,
            Action::Deny,
            vec![Change {
                step: "deny",
                target: v.rec.arn.clone(),
                detail: pairs,
                pairs: exact,
            }],
        ),
    };
    Finding {
        kind: Kind::StandingViolation,
        finding_type: "RuleViolation".to_owned(),
        rule: Some(rule.id.clone()),
        principal: Some(v.rec.arn.clone()),
        resource: None,
        actions,
        evidence,
        data_age_seconds: ctx.age(ctx.input.snapshot_read_at),
        response,
    }
}
