//! What a principal's policies allow, asked fast enough for an account at IAM's quotas: each
//! principal's policy set is gathered once; each distinct policy document is indexed once by the
//! actions of interest (the rules' and the escalation methods') its `Allow` statements cover, so
//! a principal whose policies cannot allow an action is never evaluated for it; and "allowed on
//! some resource" is asked of `evaluate` with witness resources: the `Allow` statements' own
//! resource patterns, intersected with the rule's resource patterns, so Denies and boundaries are
//! judged by the evaluator exactly as they are for one event.
//!
//! A witness keeps a pattern's wildcards as literal characters: `arn:aws:s3:::logs-*` stands for
//! "some bucket named `logs-…`", which a Deny matches only when it covers every such bucket (a
//! Deny of `arn:aws:s3:::logs-*` or `*` does; a Deny of `arn:aws:s3:::logs-prod` does not: the
//! principal may still act on `logs-dev`).
//!
//! The swept account's organization policies (`org_policies`), when given, are passed to every
//! evaluation here: they only take away (an SCP or RCP never grants), so the index's "no `Allow`
//! covers it" shortcut stays exact.

use super::org_policies::OrgGates;
use crate::evaluate::{evaluate, Answer, Evaluation, Policies, Request, RequestContext};
use crate::policy::{Effect, PolicyDocument, Scope, Statement};
use crate::snapshot::{PrincipalRecord, Snapshot};
use crate::wildcard;
use std::collections::HashMap;

/// A set of actions of interest, as bits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Bits(Vec<u64>);

impl Bits {
    fn with_len(n: usize) -> Self {
        Bits(vec![0; n.div_ceil(64)])
    }
    fn set(&mut self, i: usize) {
        if let Some(w) = self.0.get_mut(i / 64) {
            *w |= 1 << (i % 64);
        }
    }
    pub(crate) fn get(&self, i: usize) -> bool {
        self.0.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }
    /// Whether the two sets share an action.
    pub(crate) fn intersects(&self, other: &Bits) -> bool {
        self.0.iter().zip(&other.0).any(|(a, b)| a & b != 0)
    }
    /// The set of the given actions of interest.
    pub(crate) fn of(n: usize, ids: impl IntoIterator<Item = usize>) -> Self {
        let mut b = Bits::with_len(n);
        for i in ids {
            b.set(i);
        }
        b
    }
    fn union(&mut self, other: &Bits) {
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a |= b;
        }
    }
    fn all(n: usize) -> Self {
        let mut b = Bits::with_len(n);
        for i in 0..n {
            b.set(i);
        }
        b
    }
}

/// The actions a sweep asks about, with a lookup by name and by service.
#[derive(Debug, Default)]
pub(crate) struct Interest {
    pub(crate) actions: Vec<String>,
    by_lower: HashMap<String, usize>,
    /// As spelt (the common case: no lowercase copy to look up).
    exact: HashMap<String, usize>,
    by_service: HashMap<String, Vec<usize>>,
}

impl Interest {
    pub(crate) fn new(actions: impl IntoIterator<Item = String>) -> Self {
        let mut i = Interest::default();
        for a in actions {
            let lower = a.to_ascii_lowercase();
            if i.by_lower.contains_key(&lower) {
                continue;
            }
            let idx = i.actions.len();
            let service = lower.split(':').next().unwrap_or("").to_owned();
            i.by_service.entry(service).or_default().push(idx);
            i.by_lower.insert(lower, idx);
            i.exact.insert(a.clone(), idx);
            i.actions.push(a);
        }
        i
    }

    pub(crate) fn index(&self, action: &str) -> Option<usize> {
        self.exact
            .get(action)
            .or_else(|| self.by_lower.get(&action.to_ascii_lowercase()))
            .copied()
    }

    /// The actions of interest `pattern` matches.
    fn covered(&self, pattern: &str) -> Bits {
        let mut b = Bits::with_len(self.actions.len());
        let lower = pattern.to_ascii_lowercase();
        if !wildcard::has_wildcard(&lower) {
            if let Some(i) = self.by_lower.get(&lower) {
                b.set(*i);
            }
            return b;
        }
        let service = lower.split(':').next().unwrap_or("");
        let candidates: Box<dyn Iterator<Item = usize>> = if wildcard::has_wildcard(service) {
            Box::new(0..self.actions.len())
        } else {
            Box::new(self.by_service.get(service).into_iter().flatten().copied())
        };
        for i in candidates {
            if self
                .actions
                .get(i)
                .is_some_and(|a| wildcard::matches_ignore_ascii_case(&lower, a))
            {
                b.set(i);
            }
        }
        b
    }

    /// The actions of interest a statement's `Action`/`NotAction` covers.
    fn statement(&self, st: &Statement, cache: &mut HashMap<String, Bits>) -> Bits {
        let n = self.actions.len();
        let mut b = Bits::with_len(n);
        let patterns = match &st.action {
            Scope::Only(p) | Scope::Not(p) => p,
        };
        for p in patterns {
            let bits = cache.entry(p.clone()).or_insert_with(|| self.covered(p));
            b.union(bits);
        }
        if let Scope::Not(_) = st.action {
            let mut all = Bits::all(n);
            for (a, x) in all.0.iter_mut().zip(&b.0) {
                *a &= !x;
            }
            b = all;
        }
        b
    }
}

fn doc_key(d: &PolicyDocument) -> usize {
    d as *const PolicyDocument as usize
}

/// Per distinct document: the actions of interest its `Allow` statements cover, and per
/// statement the same (to find witnesses without re-matching every pattern).
#[derive(Debug, Default)]
pub(crate) struct DocIndex {
    pub(crate) interest: Interest,
    docs: HashMap<usize, (Bits, Vec<Bits>, bool)>,
    /// Per document: the actions of interest its `Deny` statements cover.
    denies: HashMap<usize, Bits>,
}

impl DocIndex {
    pub(crate) fn new<'s>(
        interest: Interest,
        docs: impl IntoIterator<Item = &'s PolicyDocument>,
    ) -> Self {
        let mut cache = HashMap::new();
        let mut out = HashMap::new();
        let mut denies = HashMap::new();
        let n = interest.actions.len();
        for d in docs {
            let key = doc_key(d);
            if out.contains_key(&key) {
                continue;
            }
            let mut all = Bits::with_len(n);
            let mut deny = Bits::with_len(n);
            let mut per = Vec::with_capacity(d.statements.len());
            let mut vars = false;
            for st in &d.statements {
                let b = if st.effect == Effect::Allow {
                    interest.statement(st, &mut cache)
                } else {
                    deny.union(&interest.statement(st, &mut cache));
                    Bits::with_len(n)
                };
                if let Some(Scope::Only(rs) | Scope::Not(rs)) = &st.resource {
                    vars |= rs.iter().any(|r| r.contains("${"));
                }
                all.union(&b);
                per.push(b);
            }
            out.insert(key, (all, per, vars));
            denies.insert(key, deny);
        }
        DocIndex {
            interest,
            docs: out,
            denies,
        }
    }
}

/// The witnesses of each statement `(document, index)` for one principal and one set of scopes:
/// the same for every action the statement covers.
#[derive(Debug, Default)]
pub(crate) struct Witnesses(HashMap<(usize, usize), Vec<String>>);

/// A user or role with everything asked of its policies gathered once.
#[derive(Debug)]
pub(crate) struct View<'s> {
    pub(crate) rec: &'s PrincipalRecord,
    pub(crate) is_role: bool,
    pub(crate) account: &'s str,
    pub(crate) policies: Vec<(&'s str, &'s PolicyDocument)>,
    pub(crate) boundary: Option<&'s PolicyDocument>,
    /// Attached policies the snapshot has no document of.
    pub(crate) missing: Vec<String>,
    /// Actions of interest some `Allow` statement of its policies covers.
    pub(crate) allow_bits: Bits,
    /// The documents (and boundary) that decide what it may: principals with the same signature
    /// are allowed the same (unless a document uses policy variables, or an organization policy
    /// may answer by principal: `personal`).
    pub(crate) signature: Vec<usize>,
    pub(crate) personal: bool,
    pub(crate) context: RequestContext,
    /// The account's SCPs and RCPs, passed to every evaluation.
    pub(crate) org: OrgGates<'s>,
    /// Whether the organization policies leave this principal room for full access (a policy
    /// it wrote on itself allowing everything would give it everything). True without them.
    pub(crate) ceiling_full: bool,
}

/// The names identity policies are given in reasons, kept for the sweep's length.
/// In the order `Snapshot::identity_policies` gives them: `NAME (inline)`, the managed policy's
/// ARN, `GROUP/NAME (group inline)`.
pub(crate) fn labels(snap: &Snapshot, rec: &PrincipalRecord) -> Vec<String> {
    let mut out: Vec<String> = rec.inline.keys().map(|n| format!("{n} (inline)")).collect();
    out.extend(
        rec.attached
            .iter()
            .filter(|a| snap.managed.contains_key(*a))
            .cloned(),
    );
    for g in rec.groups.iter().filter_map(|g| snap.groups.get(g)) {
        out.extend(
            g.inline
                .keys()
                .map(|n| format!("{}/{n} (group inline)", g.name)),
        );
        out.extend(
            g.attached
                .iter()
                .filter(|a| snap.managed.contains_key(*a))
                .cloned(),
        );
    }
    out
}

impl<'s> View<'s> {
    pub(crate) fn new(
        snap: &'s Snapshot,
        rec: &'s PrincipalRecord,
        is_role: bool,
        account: &'s str,
        labels: &'s [String],
        index: &DocIndex,
        org: OrgGates<'s>,
    ) -> Self {
        let (named, missing) = snap.identity_policies(rec);
        let policies: Vec<(&'s str, &'s PolicyDocument)> = labels
            .iter()
            .map(String::as_str)
            .zip(named.into_iter().map(|(_, d)| d))
            .collect();
        let boundary = rec.boundary.as_ref().and_then(|b| snap.managed.get(b));
        let mut allow_bits = Bits::with_len(index.interest.actions.len());
        let mut signature: Vec<usize> = Vec::with_capacity(policies.len() + 1);
        let mut personal = org.principal_specific;
        for (_, d) in &policies {
            if let Some((bits, _, vars)) = index.docs.get(&doc_key(d)) {
                allow_bits.union(bits);
                personal |= *vars;
            }
            signature.push(doc_key(d));
        }
        signature.sort_unstable();
        signature.push(boundary.map_or(0, doc_key));
        let mut context = RequestContext::partial()
            .with("aws:PrincipalArn", &[&rec.arn])
            .with("aws:PrincipalAccount", &[account]);
        if !is_role {
            context = context.with("aws:username", &[&rec.name]);
        }
        View {
            rec,
            is_role,
            account,
            policies,
            boundary,
            missing,
            allow_bits,
            signature,
            personal,
            context,
            org,
            ceiling_full: true,
        }
    }

    /// Whether some `Allow` statement of its policies covers the action at all.
    pub(crate) fn may(&self, index: &DocIndex, action: &str) -> bool {
        index
            .interest
            .index(action)
            .is_none_or(|i| self.allow_bits.get(i))
    }

    /// The principal's documents with a statement about the action of interest `ai`: the only
    /// ones that can decide it.
    // INVARIANT (relevant-decide): `evaluate` over these answers as over all the principal's
    // documents, for every action of interest and resource, with the organization policies or
    // without (they are passed whole; tested over the fixture accounts).
    pub(crate) fn relevant(
        &self,
        index: &DocIndex,
        ai: usize,
    ) -> Vec<(&'s str, &'s PolicyDocument)> {
        self.policies
            .iter()
            .filter(|(_, d)| {
                let k = doc_key(d);
                index.docs.get(&k).is_none_or(|(b, _, _)| b.get(ai))
                    || index.denies.get(&k).is_some_and(|b| b.get(ai))
            })
            .copied()
            .collect()
    }

    /// The evaluator's answer for one request, with the principal's policies (and a resource
    /// policy, such as a trust policy).
    pub(crate) fn ask(
        &self,
        action: &str,
        resource: &str,
        resource_policy: Option<(&str, &PolicyDocument)>,
    ) -> Evaluation {
        self.ask_with(action, resource, resource_policy, self.org)
    }

    /// `ask` with other organization policies (`OrgGates::default()`: none).
    pub(crate) fn ask_with(
        &self,
        action: &str,
        resource: &str,
        resource_policy: Option<(&str, &PolicyDocument)>,
        org: OrgGates<'_>,
    ) -> Evaluation {
        evaluate(
            &Request {
                principal_arn: &self.rec.arn,
                principal_account: self.account,
                action,
                resource,
                context: &self.context,
                ..Default::default()
            },
            &Policies {
                identity: &self.policies,
                boundary: self.boundary,
                resource: resource_policy,
                scps: org.scps,
                rcps: org.rcps,
                ..Default::default()
            },
        )
    }

    /// The witnesses on which the principal's policies allow `action`, within `scopes` (resource
    /// patterns; empty: any resource), each with the evaluator's answer (`Allow` or `Unknown`)
    /// and its first reason. `first`: stop at the first `Allow`.
    pub(crate) fn allowed_on(
        &self,
        index: &DocIndex,
        action: &str,
        scopes: &[String],
        first: bool,
    ) -> Vec<(String, Answer, String)> {
        match index.interest.index(action) {
            Some(ai) => {
                self.allowed_on_id(index, ai, action, scopes, first, &mut Witnesses::default())
            }
            None => Vec::new(),
        }
    }

    /// `allowed_on` for an action of interest by its index.
    pub(crate) fn allowed_on_id(
        &self,
        index: &DocIndex,
        ai: usize,
        action: &str,
        scopes: &[String],
        first: bool,
        cache: &mut Witnesses,
    ) -> Vec<(String, Answer, String)> {
        if !self.allow_bits.get(ai) {
            return Vec::new();
        }
        let mut witnesses: Vec<String> = Vec::new();
        for (_, d) in &self.policies {
            let Some((bits, per, _)) = index.docs.get(&doc_key(d)) else {
                continue;
            };
            if !bits.get(ai) {
                continue;
            }
            for (k, (st, b)) in d.statements.iter().zip(per).enumerate() {
                if !b.get(ai) {
                    continue;
                }
                if let Some(known) = cache.0.get(&(doc_key(d), k)) {
                    witnesses.extend(known.iter().cloned());
                    continue;
                }
                let before = witnesses.len();
                match &st.resource {
                    Some(Scope::Only(rs)) => {
                        for r in rs {
                            let r = self.substitute(r);
                            if scopes.is_empty() {
                                witnesses.push(r);
                            } else {
                                witnesses.extend(scopes.iter().filter_map(|q| intersect(&r, q)));
                            }
                        }
                    }
                    _ if scopes.is_empty() => witnesses.push("*".to_owned()),
                    _ => witnesses.extend(scopes.iter().cloned()),
                }
                let found = witnesses.get(before..).unwrap_or_default().to_vec();
                cache.0.insert((doc_key(d), k), found);
            }
        }
        witnesses.sort_unstable();
        witnesses.dedup();
        // Only the documents with a statement about the action can decide it (every other
        // statement does not apply: `evaluate` would pass over it), so the evaluator is given
        // those alone: the same answer, asked of fewer statements.
        let relevant = self.relevant(index, ai);
        let mut out = Vec::new();
        for w in witnesses {
            let e = evaluate(
                &Request {
                    principal_arn: &self.rec.arn,
                    principal_account: self.account,
                    action,
                    resource: &w,
                    context: &self.context,
                    ..Default::default()
                },
                &Policies {
                    identity: &relevant,
                    boundary: self.boundary,
                    resource: None,
                    scps: self.org.scps,
                    rcps: self.org.rcps,
                    ..Default::default()
                },
            );
            match e.answer {
                Answer::Allow | Answer::Unknown => {
                    let allow = e.answer == Answer::Allow;
                    out.push((
                        w,
                        e.answer,
                        e.reasons.into_iter().next().unwrap_or_default(),
                    ));
                    if first && allow {
                        break;
                    }
                }
                Answer::ExplicitDeny | Answer::ImplicitDeny => {}
            }
        }
        out
    }

    /// A resource pattern with the principal's own policy variables filled in (the others stay,
    /// and the evaluator answers `Unknown` for them).
    fn substitute(&self, r: &str) -> String {
        if !r.contains("${") {
            return r.to_owned();
        }
        let mut out = r.to_owned();
        for (var, value) in [
            (
                "${aws:username}",
                (!self.is_role).then_some(self.rec.name.as_str()),
            ),
            ("${aws:principalaccount}", Some(self.account)),
        ] {
            let Some(value) = value else { continue };
            while let Some(at) = out.to_ascii_lowercase().find(var) {
                out.replace_range(at..at + var.len(), value);
            }
        }
        out
    }
}

/// A string both wildcard patterns match, if any (`*` and `?` as IAM reads them), preferring the
/// narrower pattern itself: when one pattern matches the other as text, that one is the witness.
pub(crate) fn intersect(a: &str, b: &str) -> Option<String> {
    if wildcard::matches(a, b) {
        return Some(b.to_owned());
    }
    if wildcard::matches(b, a) {
        return Some(a.to_owned());
    }
    if !wildcard::has_wildcard(a) || !wildcard::has_wildcard(b) {
        return None;
    }
    // The literal heads (and tails) of both must agree as far as the shorter goes.
    let wild = |c: char| c == '*' || c == '?';
    let head = |s: &str| s.find(wild).unwrap_or(s.len());
    let (ha, hb) = (head(a), head(b));
    let n = ha.min(hb);
    if a.as_bytes().get(..n) != b.as_bytes().get(..n) {
        return None;
    }
    let tail = |s: &str| s.len() - s.rfind(wild).map_or(0, |i| i + 1);
    let m = tail(a).min(tail(b));
    if a.as_bytes().get(a.len() - m..) != b.as_bytes().get(b.len() - m..) {
        return None;
    }
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut seen = vec![false; (a.len() + 1) * (b.len() + 1)];
    let mut out = String::new();
    product(&a, &b, 0, 0, &mut seen, &mut out).then_some(out)
}

/// Depth-first search of the two patterns' product automaton, from `(i, j)`, appending the
/// characters of an accepted string to `out`.
fn product(
    a: &[char],
    b: &[char],
    i: usize,
    j: usize,
    seen: &mut [bool],
    out: &mut String,
) -> bool {
    match seen.get_mut(i * (b.len() + 1) + j) {
        Some(s) if !*s => *s = true,
        _ => return false,
    }
    let (x, y) = (a.get(i).copied(), b.get(j).copied());
    if x.is_none() && y.is_none() {
        return true;
    }
    if x == Some('*') && product(a, b, i + 1, j, seen, out) {
        return true;
    }
    if y == Some('*') && product(a, b, i, j + 1, seen, out) {
        return true;
    }
    let (Some(x), Some(y)) = (x, y) else {
        return false;
    };
    let wild = |c: char| c == '*' || c == '?';
    let c = match (wild(x), wild(y)) {
        (false, false) if x == y => x,
        (false, false) => return false,
        (false, true) => x,
        (true, false) => y,
        (true, true) => '*',
    };
    let ni = if x == '*' { i } else { i + 1 };
    let nj = if y == '*' { j } else { j + 1 };
    if (ni, nj) == (i, j) {
        // Both stars: a character would loop; the star moves above cover it.
        return false;
    }
    out.push(c);
    if product(a, b, ni, nj, seen, out) {
        return true;
    }
    out.pop();
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intersections_of_wildcard_patterns() {
        assert_eq!(
            intersect("arn:aws:s3:::*", "arn:aws:s3:::warden-evidence-*").as_deref(),
            Some("arn:aws:s3:::warden-evidence-*")
        );
        assert_eq!(
            intersect("arn:aws:iam::1:role/app-*", "arn:aws:iam::1:role/app-x").as_deref(),
            Some("arn:aws:iam::1:role/app-x")
        );
        assert_eq!(
            intersect("arn:aws:iam::1:role/a*", "arn:aws:iam::1:role/b*"),
            None
        );
        let w = intersect("arn:aws:iam::1:role/*-prod", "arn:aws:iam::1:role/warden-*").unwrap();
        assert!(wildcard::matches("arn:aws:iam::1:role/*-prod", &w), "{w}");
        assert!(wildcard::matches("arn:aws:iam::1:role/warden-*", &w), "{w}");
        assert_eq!(intersect("a?c", "ab*"), Some("abc".to_owned()));
    }

    #[test]
    fn the_index_finds_what_statements_cover() {
        let i = Interest::new(
            [
                "iam:PutUserPolicy",
                "iam:CreateAccessKey",
                "s3:PutBucketPolicy",
            ]
            .map(String::from),
        );
        let mut cache = HashMap::new();
        let doc = PolicyDocument::parse(
            r#"{"Statement":[{"Effect":"Allow","Action":"iam:Put*","Resource":"*"},{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}]}"#,
        )
        .unwrap();
        let a = i.statement(&doc.statements[0], &mut cache);
        assert!(a.get(0) && !a.get(1) && !a.get(2));
        let n = i.statement(&doc.statements[1], &mut cache);
        assert!(!n.get(0) && !n.get(1) && n.get(2));
    }
}
