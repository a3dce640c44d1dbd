//! Policy checks for CI, after IAM Access Analyzer's custom policy checks: *no new access* (does a
//! new policy set allow any request a reference set does not?) and *access not granted* (does a
//! policy set allow any of some actions, on some resources?). Each answers `Pass`, `Fail` with an
//! example request, or `CannotProve` with why.
//!
//! The answers are sound in the direction that matters (the choice, made here once): `Pass` is
//! said only when it is proven for every request, by reasoning on the statements as sets of
//! requests (`glob` decides wildcard inclusion exactly); `Fail` only with an example request that
//! the evaluator (`evaluate`, identity policies) confirms: the new set allows it and the reference
//! does not (or the policy allows it). Everything else is `CannotProve`, never a guess.
//!
//! No new access is proven when
//! - every Allow of the new set is the same statement as an Allow of the reference, or is covered
//!   by the reference's Allows: for each of its (action pattern, resource pattern) pairs, Allows
//!   whose patterns include it and whose conditions are among its own (the same operator, key and
//!   values), so the new statement is at least as strict; and
//! - every Deny of the reference is in the new set the same way (the same statement, or covered by
//!   Denies whose conditions are among its own).
//!
//! `NotAction`, `NotResource`, `Principal` and `NotPrincipal` in a new Allow (or a reference Deny)
//! are covered only by the same statement. Actions are proven as patterns, so a proof holds for
//! actions the catalog does not list yet; the catalog gives examples. An uncertain statement
//! (`sets`: a template value not known before deployment) is used in its broadest reading where
//! that is safe (an Allow of the set under test, a Deny of the reference) and not at all where it
//! is not (an Allow of the reference, a Deny of the set under test), unless the same statement,
//! as written, is on both sides.

mod glob;
pub mod sets;

use crate::catalog::Catalog;
use crate::evaluate::{evaluate, Answer, Evaluation, Policies, Request, RequestContext};
use crate::policy::{Effect, PolicyDocument, Scope, Statement};
use crate::wildcard;
use glob::Pattern;
pub use sets::{Atoms, PolicySet, SetError, SetStatement};
use std::collections::{BTreeMap, BTreeSet};

/// The principal examples are evaluated for (identity policies only: who it is does not matter).
const PRINCIPAL: &str = "arn:aws:iam::123456789012:user/warden-check";
const ACCOUNT: &str = "123456789012";

/// Requests the example search evaluates at most, per check.
const MAX_CANDIDATES: usize = 4_000;

/// Catalog actions tried per action pattern when looking for an example.
const ACTIONS_PER_PATTERN: usize = 40;

/// A request that shows a failure, confirmed by the evaluator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    pub action: String,
    pub resource: String,
    /// Condition keys the request carries (every other key is absent).
    pub context: BTreeMap<String, String>,
    /// The statement that allows it (in the set under test).
    pub policy: String,
    pub index: usize,
    pub sid: Option<String>,
    /// The statement as JSON, atoms written as `${Name}`.
    pub statement: String,
    /// Template values the example was evaluated with (atom, value).
    pub assumed: Vec<(String, String)>,
}

/// A check's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    /// With why the check could not pass, and the example request.
    Fail {
        why: String,
        example: Box<Example>,
    },
    CannotProve {
        why: String,
    },
}

fn actions(st: &Statement) -> Option<&[String]> {
    match &st.action {
        Scope::Only(a) => Some(a),
        Scope::Not(_) => None,
    }
}

/// The resource patterns of a statement that names them (`None`: `NotResource`).
fn resources(st: &Statement) -> Option<Vec<String>> {
    match &st.resource {
        None => Some(vec!["*".to_owned()]),
        Some(Scope::Only(r)) => Some(r.clone()),
        Some(Scope::Not(_)) => None,
    }
}

/// A statement's conditions as (operator, key ignoring case, values) triples.
fn condition_set(st: &Statement) -> BTreeSet<(String, String, Vec<String>)> {
    st.condition
        .iter()
        .flat_map(|(op, keys)| {
            keys.iter()
                .map(move |(k, v)| (op.clone(), k.to_ascii_lowercase(), v.clone()))
        })
        .collect()
}

/// Whether `st`'s conditions are all among `of`'s: whenever `of`'s hold, `st`'s do.
fn conditions_among(st: &Statement, of: &BTreeSet<(String, String, Vec<String>)>) -> bool {
    condition_set(st).is_subset(of)
}

fn action_patterns(list: &[String]) -> Vec<Pattern> {
    list.iter().map(|a| Pattern::new(a, true)).collect()
}

fn resource_patterns(list: &[String]) -> Vec<Pattern> {
    list.iter().map(|r| Pattern::new(r, false)).collect()
}

/// Whether `new` is included in the union of `olds`: `Some(true)` proven, `Some(false)` not,
/// `None` too large to tell.
fn included(new: &Pattern, olds: &[&Pattern]) -> Option<bool> {
    glob::uncovered(new, olds, &|a| a.to_owned()).map(|w| w.is_none())
}

/// Whether every request `st` matches (as actions × resources, under its conditions) is matched by
/// one of `by`, all of which name their actions and resources and whose conditions are among
/// `st`'s. `Err` says why not (proven or not).
fn covered(st: &Statement, by: &[&Statement]) -> Result<(), String> {
    let (Some(acts), Some(ress)) = (actions(st), resources(st)) else {
        return Err("it uses `NotAction` or `NotResource`".to_owned());
    };
    let by: Vec<(Vec<Pattern>, Vec<Pattern>)> = by
        .iter()
        .filter_map(|o| {
            Some((
                action_patterns(actions(o)?),
                resource_patterns(&resources(o)?),
            ))
        })
        .collect();
    for a in acts {
        let pa = Pattern::new(a, true);
        for r in &ress {
            let pr = Pattern::new(r, false);
            // Statements that include the whole action pattern, together covering the resource;
            // or that include the whole resource pattern, together covering the action.
            let mut too_large = false;
            let mut by_action = Vec::new();
            let mut by_resource = Vec::new();
            for (oa, or) in &by {
                match included(&pa, &oa.iter().collect::<Vec<_>>()) {
                    Some(true) => by_action.extend(or.iter()),
                    Some(false) => {}
                    None => too_large = true,
                }
                match included(&pr, &or.iter().collect::<Vec<_>>()) {
                    Some(true) => by_resource.extend(oa.iter()),
                    Some(false) => {}
                    None => too_large = true,
                }
            }
            if included(&pr, &by_action) == Some(true) || included(&pa, &by_resource) == Some(true)
            {
                continue;
            }
            return Err(if too_large {
                format!("`{a}` on `{r}` is too large a question to decide")
            } else {
                format!("`{a}` on `{r}` is not covered")
            });
        }
    }
    Ok(())
}

/// "`policy` statement `Sid`" (or its index).
fn label(s: &SetStatement, atoms: &Atoms) -> String {
    let at = match &s.statement.sid {
        Some(sid) => format!("`{sid}`"),
        None => s.index.to_string(),
    };
    atoms.render(&format!("`{}` statement {at}", s.policy))
}

fn with_uncertain(text: String, s: &SetStatement) -> String {
    match &s.uncertain {
        Some(why) => format!("{text} ({why})"),
        None => text,
    }
}

fn same_statement(s: &SetStatement, in_set: &PolicySet) -> bool {
    s.identity.as_ref().is_some_and(|id| {
        in_set
            .statements
            .iter()
            .any(|o| o.identity.as_ref() == Some(id))
    })
}

/// Statements usable to cover others: certain, of `effect`, naming their actions and resources,
/// no principal, conditions among `of`'s.
fn usable<'s>(
    set: &'s PolicySet,
    effect: Effect,
    of: &BTreeSet<(String, String, Vec<String>)>,
) -> Vec<&'s Statement> {
    set.statements
        .iter()
        .filter(|o| o.uncertain.is_none() && o.statement.effect == effect)
        .map(|o| &o.statement)
        .filter(|o| o.principal.is_none() && conditions_among(o, of))
        .collect()
}

/// No new access: whether `policy` allows only requests `reference` allows.
pub fn no_new_access(
    reference: &PolicySet,
    policy: &PolicySet,
    atoms: &Atoms,
    catalog: Option<&Catalog>,
) -> Outcome {
    let mut gaps: Vec<(String, &SetStatement)> = Vec::new();
    for s in &policy.statements {
        if s.statement.effect != Effect::Allow || same_statement(s, reference) {
            continue;
        }
        let st = &s.statement;
        let result = if st.principal.is_some() {
            Err("it names a principal".to_owned())
        } else {
            covered(st, &usable(reference, Effect::Allow, &condition_set(st)))
        };
        if let Err(why) = result {
            let text = format!(
                "{} allows what the reference may not: {}",
                label(s, atoms),
                atoms.render(&why)
            );
            gaps.push((with_uncertain(text, s), s));
        }
    }
    for d in &reference.statements {
        if d.statement.effect != Effect::Deny || same_statement(d, policy) {
            continue;
        }
        let st = &d.statement;
        let result = if st.principal.is_some() {
            Err("it names a principal".to_owned())
        } else {
            covered(st, &usable(policy, Effect::Deny, &condition_set(st)))
        };
        if let Err(why) = result {
            let text = format!(
                "the reference's Deny {} is not in the policy: {}",
                label(d, atoms),
                atoms.render(&why)
            );
            gaps.push((with_uncertain(text, d), d));
        }
    }
    if gaps.is_empty() {
        return Outcome::Pass;
    }
    // Look for a request the policy allows and the reference does not.
    let lower = Side::new(policy, Reading::Narrowest, atoms);
    let upper = Side::new(reference, Reading::Broadest, atoms);
    let names = catalog_names(catalog);
    let mut budget = MAX_CANDIDATES;
    for (why, s) in &gaps {
        let other: Vec<String> = reference
            .statements
            .iter()
            .filter(|o| o.statement.effect == Effect::Allow)
            .filter_map(|o| resources(&o.statement))
            .flatten()
            .collect();
        for (action, resource, ctx) in candidates(&s.statement, None, &other, &names, atoms) {
            if budget == 0 {
                break;
            }
            budget -= 1;
            let new = lower.evaluate(&action, &resource, &ctx.1);
            if new.answer != Answer::Allow {
                continue;
            }
            let old = upper.evaluate(&action, &resource, &ctx.1);
            if matches!(old.answer, Answer::ImplicitDeny | Answer::ExplicitDeny) {
                if let Some(example) = lower.example(&new, &action, &resource, ctx.0, atoms) {
                    return Outcome::Fail {
                        why: why.clone(),
                        example: Box::new(example),
                    };
                }
            }
        }
    }
    Outcome::CannotProve {
        why: summarise(&gaps, "no example request was confirmed"),
    }
}

/// Access not granted: whether `policy` allows none of `actions` (patterns) on any of
/// `resources` (patterns; every resource when empty).
pub fn access_not_granted(
    policy: &PolicySet,
    actions_asked: &[String],
    resources_asked: &[String],
    atoms: &Atoms,
    catalog: Option<&Catalog>,
) -> Outcome {
    let any = ["*".to_owned()];
    let resources_asked = if resources_asked.is_empty() {
        &any[..]
    } else {
        resources_asked
    };
    let mut gaps: Vec<(String, &SetStatement, String, String)> = Vec::new();
    for s in &policy.statements {
        if s.statement.effect != Effect::Allow {
            continue;
        }
        for q in actions_asked {
            for rr in resources_asked {
                if let Err(why) = may_allow(s, q, rr, policy) {
                    gaps.push((with_uncertain(why, s), s, q.clone(), rr.clone()));
                }
            }
        }
    }
    if gaps.is_empty() {
        return Outcome::Pass;
    }
    let lower = Side::new(policy, Reading::Narrowest, atoms);
    let names = catalog_names(catalog);
    let mut budget = MAX_CANDIDATES;
    for (why, s, q, rr) in &gaps {
        for (action, resource, ctx) in candidates(&s.statement, Some((q, rr)), &[], &names, atoms) {
            if budget == 0 {
                break;
            }
            if !wildcard::matches_ignore_ascii_case(q, &action)
                || !wildcard::matches_policy(rr, &resource)
            {
                continue;
            }
            budget -= 1;
            let e = lower.evaluate(&action, &resource, &ctx.1);
            if e.answer == Answer::Allow {
                if let Some(example) = lower.example(&e, &action, &resource, ctx.0, atoms) {
                    return Outcome::Fail {
                        why: why.clone(),
                        example: Box::new(example),
                    };
                }
            }
        }
    }
    Outcome::CannotProve {
        why: summarise(
            &gaps
                .iter()
                .map(|(w, s, _, _)| (w.clone(), *s))
                .collect::<Vec<_>>(),
            "no example request was confirmed",
        ),
    }
}

/// `Ok` when Allow `s` can be shown never to allow `q` on `rr` (they do not meet, or Denies that
/// always apply with it cover the meeting); otherwise why it may.
fn may_allow(s: &SetStatement, q: &str, rr: &str, policy: &PolicySet) -> Result<(), String> {
    let st = &s.statement;
    let pq = Pattern::new(q, true);
    let prr = Pattern::new(rr, false);
    let action_meets = match &st.action {
        Scope::Only(list) => action_patterns(list)
            .iter()
            .any(|a| glob::meet(&a.widened(), &pq) != Some(false)),
        Scope::Not(list) => {
            included(&pq, &action_patterns(list).iter().collect::<Vec<_>>()) != Some(true)
        }
    };
    let meeting_resources: Option<Vec<Pattern>> = match &st.resource {
        None => Some(vec![Pattern::new("*", false)]),
        Some(Scope::Only(list)) => Some(
            resource_patterns(list)
                .into_iter()
                .filter(|r| glob::meet(&r.widened(), &prr) != Some(false))
                .collect(),
        ),
        Some(Scope::Not(_)) => None,
    };
    let resource_meets = match (&meeting_resources, &st.resource) {
        (Some(m), _) => !m.is_empty(),
        (None, Some(Scope::Not(list))) => {
            included(&prr, &resource_patterns(list).iter().collect::<Vec<_>>()) != Some(true)
        }
        (None, _) => true,
    };
    if !action_meets || !resource_meets {
        return Ok(());
    }
    // Denies that apply whenever `s` does, and deny all of `q`.
    let denies = usable(policy, Effect::Deny, &condition_set(st));
    let mut deny_resources: Vec<Pattern> = Vec::new();
    for d in &denies {
        let (Some(da), Some(dr)) = (actions(d), resources(d)) else {
            continue;
        };
        if included(&pq, &action_patterns(da).iter().collect::<Vec<_>>()) == Some(true) {
            deny_resources.extend(resource_patterns(&dr));
        }
    }
    let refs: Vec<&Pattern> = deny_resources.iter().collect();
    if included(&prr, &refs) == Some(true) {
        return Ok(());
    }
    if let Some(m) = &meeting_resources {
        if m.iter().all(|r| included(r, &refs) == Some(true)) {
            return Ok(());
        }
    }
    Err(format!(
        "`{}` statement {} may allow `{q}` on `{rr}`",
        s.policy,
        st.sid
            .as_ref()
            .map_or_else(|| s.index.to_string(), |sid| format!("`{sid}`"))
    ))
}

fn summarise(gaps: &[(String, &SetStatement)], tail: &str) -> String {
    let mut parts: Vec<&str> = gaps.iter().take(3).map(|(w, _)| w.as_str()).collect();
    let more = gaps.len().saturating_sub(3);
    let extra = format!("and {more} more");
    if more > 0 {
        parts.push(&extra);
    }
    format!("{}; {tail}", parts.join("; "))
}

fn catalog_names(catalog: Option<&Catalog>) -> Vec<String> {
    let mut v: Vec<String> = catalog
        .map(|c| c.all_actions().map(|a| a.name.clone()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// A pattern filled into one string: `*` as `star`, `?` as `x`, IAM's escapes as their
/// characters, policy variables as `example` (the context carries the same).
fn fill(pattern: &str, star: &str) -> String {
    let mut out = String::new();
    let mut rest = pattern;
    while let Some(c) = rest.chars().next() {
        if let Some(e) = ["${*}", "${?}", "${$}"]
            .into_iter()
            .find(|e| rest.starts_with(e))
        {
            out.extend(e.chars().nth(2));
            rest = rest.get(e.len()..).unwrap_or("");
            continue;
        }
        if rest.starts_with("${") {
            if let Some(end) = rest.find('}') {
                out.push_str("example");
                rest = rest.get(end + 1..).unwrap_or("");
                continue;
            }
        }
        match c {
            '*' => out.push_str(star),
            '?' => out.push('x'),
            c => out.push(c),
        }
        rest = rest.get(c.len_utf8()..).unwrap_or("");
    }
    out
}

/// The policy variables a statement names (`${aws:username}` gives `aws:username`).
fn variables(st: &Statement) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut texts: Vec<&String> = Vec::new();
    if let Some(Scope::Only(r) | Scope::Not(r)) = &st.resource {
        texts.extend(r);
    }
    for keys in st.condition.values() {
        texts.extend(keys.values().flatten());
    }
    for t in texts {
        let mut rest = t.as_str();
        while let Some(start) = rest.find("${") {
            let after = rest.get(start + 2..).unwrap_or("");
            let Some(end) = after.find('}') else { break };
            let inner = after.get(..end).unwrap_or("");
            let name = inner.split(',').next().unwrap_or("").trim();
            if !matches!(name, "*" | "?" | "$") {
                out.insert(name.to_owned());
            }
            rest = after.get(end + 1..).unwrap_or("");
        }
    }
    out
}

/// The context keys that make a statement's conditions hold, as far as a simple reading can tell
/// (the evaluator confirms any example): positive operators get their first value, negated ones
/// and `Null: true` leave the key absent.
fn satisfying(st: &Statement) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (op, keys) in &st.condition {
        let base = op
            .trim_start_matches("ForAnyValue:")
            .trim_start_matches("ForAllValues:");
        let base = base.strip_suffix("IfExists").unwrap_or(base);
        for (key, values) in keys {
            let Some(first) = values.first() else {
                continue;
            };
            let value = match base {
                "StringEquals"
                | "StringEqualsIgnoreCase"
                | "ArnEquals"
                | "BinaryEquals"
                | "Bool"
                | "NumericEquals"
                | "DateEquals"
                | "NumericLessThanEquals"
                | "NumericGreaterThanEquals"
                | "DateLessThanEquals"
                | "DateGreaterThanEquals" => fill(first, "example"),
                "StringLike" | "ArnLike" => fill(first, "example"),
                "IpAddress" => first.split('/').next().unwrap_or(first).to_owned(),
                "NumericLessThan" => match first.parse::<f64>() {
                    Ok(n) => (n - 1.0).to_string(),
                    Err(_) => continue,
                },
                "NumericGreaterThan" => match first.parse::<f64>() {
                    Ok(n) => (n + 1.0).to_string(),
                    Err(_) => continue,
                },
                "Null" if first.eq_ignore_ascii_case("false") => "example".to_owned(),
                _ => continue,
            };
            out.insert(key.clone(), value);
        }
    }
    out
}

type Candidate = (String, String, (BTreeMap<String, String>, RequestContext));

/// Requests to try for an example from statement `st` (the asked action and resource patterns
/// for access-not-granted; resource patterns of the other side, for witnesses outside them).
fn candidates(
    st: &Statement,
    asked: Option<(&str, &str)>,
    other: &[String],
    names: &[String],
    atoms: &Atoms,
) -> Vec<Candidate> {
    let mut acts: Vec<String> = Vec::new();
    let patterns: Vec<(&str, bool)> = match (&st.action, asked) {
        (_, Some((q, _))) => vec![(q, true)],
        (Scope::Only(list), None) => list.iter().map(|a| (a.as_str(), true)).collect(),
        (Scope::Not(list), None) => list.iter().map(|a| (a.as_str(), false)).collect(),
    };
    for (p, only) in &patterns {
        if *only {
            if !wildcard::has_wildcard(p) {
                acts.push((*p).to_owned());
                continue;
            }
            acts.extend(
                names
                    .iter()
                    .filter(|n| wildcard::matches_ignore_ascii_case(p, n))
                    .filter(|n| match &st.action {
                        Scope::Only(l) => {
                            l.iter().any(|a| wildcard::matches_ignore_ascii_case(a, n))
                        }
                        Scope::Not(l) => {
                            !l.iter().any(|a| wildcard::matches_ignore_ascii_case(a, n))
                        }
                    })
                    .take(ACTIONS_PER_PATTERN)
                    .cloned(),
            );
            acts.push(fill(p, "Example"));
        } else {
            acts.extend(
                names
                    .iter()
                    .filter(|n| {
                        !patterns
                            .iter()
                            .any(|(x, _)| wildcard::matches_ignore_ascii_case(x, n))
                    })
                    .take(ACTIONS_PER_PATTERN)
                    .cloned(),
            );
        }
    }
    let mut ress: Vec<String> = Vec::new();
    let own: Vec<String> = match &st.resource {
        None | Some(Scope::Not(_)) => vec!["*".to_owned()],
        Some(Scope::Only(r)) => r.clone(),
    };
    let other_patterns = resource_patterns(other);
    let other_refs: Vec<&Pattern> = other_patterns.iter().collect();
    for r in &own {
        // `*` is also the resource of actions that name none (`iam:ListUsers`).
        if r == "*" {
            ress.push("*".to_owned());
        }
        if let Some(Some(w)) = glob::uncovered(&Pattern::new(r, false), &other_refs, &|a| {
            atoms.concrete_atom(a)
        }) {
            ress.push(fill(&w, "example"));
        }
        ress.push(fill(&atoms.concrete(r), "example"));
        ress.push(fill(&atoms.concrete(r), ""));
    }
    ress.retain(|r| !r.is_empty());
    if let Some((_, rr)) = asked {
        ress.push(fill(rr, "example"));
        ress.push(rr.to_owned());
    }
    if matches!(st.resource, Some(Scope::Not(_))) {
        ress.push("arn:aws:s3:::example".to_owned());
    }
    dedup(&mut acts);
    dedup(&mut ress);
    let vars: BTreeMap<String, String> = variables(st)
        .into_iter()
        .map(|v| (v, "example".to_owned()))
        .collect();
    let mut with_conditions = vars.clone();
    for (k, v) in satisfying(st) {
        with_conditions.insert(k, atoms.concrete(&v));
    }
    let contexts: Vec<BTreeMap<String, String>> = if with_conditions == vars {
        vec![vars]
    } else {
        vec![with_conditions, vars]
    };
    let mut out = Vec::new();
    for a in &acts {
        for r in &ress {
            for c in &contexts {
                let mut ctx = RequestContext::complete();
                for (k, v) in c {
                    ctx = ctx.with(k, &[v.as_str()]);
                }
                out.push((a.clone(), r.clone(), (c.clone(), ctx)));
            }
        }
    }
    out
}

fn dedup(v: &mut Vec<String>) {
    let mut seen = BTreeSet::new();
    v.retain(|x| seen.insert(x.clone()));
}

/// Which reading of uncertain statements a side is evaluated in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reading {
    /// Uncertain Allows in their broadest reading, uncertain Denies left out: allows at least
    /// what the set does.
    Broadest,
    /// Uncertain Allows left out, uncertain Denies in their broadest reading: allows at most what
    /// the set does.
    Narrowest,
}

/// One side of a check as documents for the evaluator, atoms replaced by their representatives.
struct Side<'s> {
    /// One document per policy (named by its position), with the set's statements it holds.
    docs: Vec<(String, PolicyDocument, Vec<&'s SetStatement>)>,
}

fn concrete_statement(st: &Statement, atoms: &Atoms) -> Statement {
    let c = |v: &Vec<String>| v.iter().map(|s| atoms.concrete(s)).collect::<Vec<_>>();
    let scope = |s: &Scope<Vec<String>>| match s {
        Scope::Only(v) => Scope::Only(c(v)),
        Scope::Not(v) => Scope::Not(c(v)),
    };
    Statement {
        sid: st.sid.clone(),
        effect: st.effect,
        principal: st.principal.clone(),
        action: scope(&st.action),
        resource: st.resource.as_ref().map(scope),
        condition: st
            .condition
            .iter()
            .map(|(op, keys)| {
                (
                    op.clone(),
                    keys.iter().map(|(k, v)| (k.clone(), c(v))).collect(),
                )
            })
            .collect(),
    }
}

impl<'s> Side<'s> {
    fn new(set: &'s PolicySet, reading: Reading, atoms: &Atoms) -> Self {
        let mut docs: Vec<(String, PolicyDocument, Vec<&'s SetStatement>)> = Vec::new();
        let mut by_policy: BTreeMap<&str, usize> = BTreeMap::new();
        for s in &set.statements {
            let keep = matches!(
                (reading, s.statement.effect, &s.uncertain),
                (_, _, None)
                    | (Reading::Broadest, Effect::Allow, Some(_))
                    | (Reading::Narrowest, Effect::Deny, Some(_))
            );
            if !keep {
                continue;
            }
            let i = *by_policy.entry(s.policy.as_str()).or_insert_with(|| {
                docs.push((
                    docs.len().to_string(),
                    PolicyDocument {
                        version: Some("2012-10-17".to_owned()),
                        id: None,
                        statements: Vec::new(),
                    },
                    Vec::new(),
                ));
                docs.len() - 1
            });
            if let Some((_, doc, from)) = docs.get_mut(i) {
                doc.statements.push(concrete_statement(&s.statement, atoms));
                from.push(s);
            }
        }
        Side { docs }
    }

    fn evaluate(&self, action: &str, resource: &str, ctx: &RequestContext) -> Evaluation {
        let named: Vec<(&str, &PolicyDocument)> =
            self.docs.iter().map(|(n, d, _)| (n.as_str(), d)).collect();
        evaluate(
            &Request {
                principal_arn: PRINCIPAL,
                principal_account: ACCOUNT,
                action,
                resource,
                context: ctx,
                ..Default::default()
            },
            &Policies {
                identity: &named,
                ..Default::default()
            },
        )
    }

    /// The example for an Allow the evaluator gave: the Allow statement it cites.
    fn example(
        &self,
        e: &Evaluation,
        action: &str,
        resource: &str,
        context: BTreeMap<String, String>,
        atoms: &Atoms,
    ) -> Option<Example> {
        let cited = e.cited.iter().find(|c| c.effect == Effect::Allow)?;
        let (_, _, from) = self.docs.iter().find(|(n, _, _)| *n == cited.policy)?;
        let s = from.get(cited.statement)?;
        let statement = atoms.render(&serde_json::to_string(&s.statement).unwrap_or_default());
        let mut assumed = atoms.used(&statement);
        assumed.extend(atoms.used(&serde_json::to_string(&s.statement).unwrap_or_default()));
        assumed.sort();
        assumed.dedup();
        Some(Example {
            action: action.to_owned(),
            resource: resource.to_owned(),
            context,
            policy: atoms.render(&s.policy),
            index: s.index,
            sid: s.statement.sid.clone(),
            statement,
            assumed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(json: &str) -> PolicySet {
        PolicySet::from_document("p", &PolicyDocument::parse(json).unwrap()).unwrap()
    }

    fn nna(old: &str, new: &str) -> Outcome {
        no_new_access(&set(old), &set(new), &Atoms::new(), None)
    }

    const OLD: &str = r#"{"Statement":[{"Effect":"Allow","Action":["s3:Get*","s3:List*"],"Resource":"arn:aws:s3:::b/*"},{"Effect":"Deny","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/secret/*"}]}"#;

    #[test]
    fn narrower_passes() {
        let new = r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/public/*","Condition":{"Bool":{"aws:SecureTransport":"true"}}},{"Effect":"Deny","Action":"s3:Get*","Resource":"arn:aws:s3:::b/secret/*"}]}"#;
        assert_eq!(nna(OLD, new), Outcome::Pass);
        assert_eq!(nna(OLD, OLD), Outcome::Pass);
    }

    #[test]
    fn broader_fails_with_a_confirmed_example() {
        let new = r#"{"Statement":[{"Sid":"More","Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/*"},{"Effect":"Deny","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/secret/*"}]}"#;
        let Outcome::Fail { example, .. } = nna(OLD, new) else {
            panic!("{:?}", nna(OLD, new))
        };
        assert_eq!(example.sid.as_deref(), Some("More"));
        assert!(example.action.starts_with("s3:"), "{example:?}");
        assert!(!example.action.to_ascii_lowercase().starts_with("s3:get"));
    }

    #[test]
    fn a_dropped_deny_fails() {
        let new = r#"{"Statement":[{"Effect":"Allow","Action":["s3:Get*","s3:List*"],"Resource":"arn:aws:s3:::b/*"}]}"#;
        let Outcome::Fail { example, .. } = nna(OLD, new) else {
            panic!("{:?}", nna(OLD, new))
        };
        assert_eq!(example.action, "s3:GetObject");
        assert!(example.resource.starts_with("arn:aws:s3:::b/secret/"));
    }

    #[test]
    fn not_action_is_cannot_prove_unless_the_same() {
        let old = r#"{"Statement":{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}}"#;
        assert_eq!(nna(old, old), Outcome::Pass);
        let new = r#"{"Statement":{"Effect":"Allow","NotAction":["iam:*","s3:*"],"Resource":"*"}}"#;
        assert!(
            matches!(nna(old, new), Outcome::CannotProve { .. }),
            "{:?}",
            nna(old, new)
        );
    }

    #[test]
    fn looser_conditions_fail() {
        let old = r#"{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"aws:username":"alice"}}}}"#;
        let new = r#"{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#;
        assert!(
            matches!(nna(old, new), Outcome::Fail { .. }),
            "{:?}",
            nna(old, new)
        );
        assert_eq!(nna(new, old), Outcome::Pass);
    }

    #[test]
    fn access_not_granted_answers() {
        let p = set(
            r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"},{"Effect":"Deny","Action":"s3:DeleteBucket","Resource":"*"}]}"#,
        );
        let ask = |a: &[&str], r: &[&str]| {
            let a: Vec<String> = a.iter().map(|s| (*s).to_owned()).collect();
            let r: Vec<String> = r.iter().map(|s| (*s).to_owned()).collect();
            access_not_granted(&p, &a, &r, &Atoms::new(), None)
        };
        assert_eq!(
            ask(&["iam:PassRole", "ec2:RunInstances"], &[]),
            Outcome::Pass
        );
        assert_eq!(ask(&["s3:DeleteBucket"], &[]), Outcome::Pass);
        let Outcome::Fail { example, .. } = ask(&["s3:PutBucketPolicy"], &["arn:aws:s3:::b"])
        else {
            panic!()
        };
        assert_eq!(example.action, "s3:PutBucketPolicy");
        assert_eq!(example.resource, "arn:aws:s3:::b");
    }
}
