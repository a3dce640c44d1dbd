//! What each principal actually did, from CloudTrail history: per principal (the IAM user; the role
//! behind an assumed-role, Identity Center or web-identity session; root), the actions it used on
//! which resources, how often, first and last seen; its denied attempts apart; the events no catalog
//! entry explains (unmapped, never guessed); and the grants the history shows made *to* it (for
//! "granted within the last N days is never unused"). Events arrive in any order and from any number
//! of threads: indexes merge.
//!
//! Memory is bounded by what is distinct, not by how many records were read: one entry per
//! (principal, action, resource), and per (principal, action) at most `RESOURCES_PER_ACTION`
//! resources word for word. Past that, the rest are folded into one `Overflow` that keeps their
//! longest common prefix, so a generated policy still covers every one of them (with a pattern, and
//! a finding that says so).

use super::coverage::Coverage;
use crate::caller::{Caller, CallerKind};
use crate::event::Event;
use crate::mapping::{Analysis, Mapping, Resource};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// Resources kept word for word per principal and action.
pub const RESOURCES_PER_ACTION: usize = 1_000;

/// How often and when something was seen (Unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Seen {
    pub count: u64,
    pub first_seen: i64,
    pub last_seen: i64,
}

impl Seen {
    pub fn at(t: i64) -> Self {
        Seen {
            count: 1,
            first_seen: t,
            last_seen: t,
        }
    }

    pub fn add(&mut self, t: i64) {
        self.count += 1;
        self.first_seen = self.first_seen.min(t);
        self.last_seen = self.last_seen.max(t);
    }

    pub fn merge(&mut self, o: &Seen) {
        self.count += o.count;
        self.first_seen = self.first_seen.min(o.first_seen);
        self.last_seen = self.last_seen.max(o.last_seen);
    }
}

fn bump<K: Ord>(map: &mut BTreeMap<K, Seen>, key: K, t: i64) {
    match map.get_mut(&key) {
        Some(s) => s.add(t),
        None => {
            map.insert(key, Seen::at(t));
        }
    }
}

/// The resources of one action past `RESOURCES_PER_ACTION`: their longest common prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overflow {
    pub prefix: String,
    pub seen: Seen,
}

impl Overflow {
    fn add(&mut self, arn: &str, t: i64) {
        let common = self
            .prefix
            .char_indices()
            .zip(arn.chars())
            .find(|((_, a), b)| a != b)
            .map(|((i, _), _)| i);
        if let Some(i) = common {
            self.prefix.truncate(i);
        } else if arn.len() < self.prefix.len() {
            self.prefix.truncate(arn.len());
        }
        self.seen.add(t);
    }
}

/// A grant the history shows made to a principal: the policy (or group) it concerns, as
/// `findings` names a statement's source.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Grant {
    /// `Put{User,Role}Policy`: the holder (`user/NAME`, `role/NAME`) and the policy name.
    Inline { holder: String, policy: String },
    /// `Attach{User,Role}Policy`: the holder and the policy ARN.
    Attached { holder: String, policy_arn: String },
    /// `AddUserToGroup`: the user and the group name.
    Member { user: String, group: String },
    /// `PutGroupPolicy`, `AttachGroupPolicy`: everything the group grants.
    Group { group: String },
    /// `CreatePolicyVersion`, `SetDefaultPolicyVersion`: a managed policy's new document.
    Version { policy_arn: String },
}

/// One principal's use.
#[derive(Debug, Clone, Default)]
pub struct PrincipalUsage {
    pub kind: Option<CallerKind>,
    /// Successful calls: per action, per resource (nested, so a call already seen is counted
    /// without building a key).
    pub used: BTreeMap<String, BTreeMap<Resource, Seen>>,
    /// Per action: resources past `RESOURCES_PER_ACTION`.
    pub overflow: BTreeMap<String, Overflow>,
    /// Successful calls whose resource the catalog could not derive: per action, and why.
    pub unresolved: BTreeMap<String, (Seen, String)>,
    /// Attempts refused for want of permission: per (action, resource or `*`).
    pub denied: BTreeMap<(String, String), Seen>,
    /// Calls that failed for another reason (not counted as use, nor as denied).
    pub failed: u64,
    /// Calls no catalog entry explains: per `source eventName`, and why.
    pub unmapped: BTreeMap<String, (Seen, String)>,
    /// Every call of this principal, whatever its outcome.
    pub calls: Option<Seen>,
}

impl PrincipalUsage {
    /// Adds another index's use of the same principal.
    pub fn merge_from(&mut self, o: &PrincipalUsage) {
        self.merge(o.clone());
    }

    fn merge(&mut self, o: PrincipalUsage) {
        self.kind = self.kind.or(o.kind);
        for (a, per) in o.used {
            for (r, s) in per {
                self.add_use(&a, &r, s);
            }
        }
        for (a, ov) in o.overflow {
            match self.overflow.get_mut(&a) {
                Some(mine) => {
                    mine.add(&ov.prefix, ov.seen.first_seen);
                    mine.seen.count += ov.seen.count.saturating_sub(1);
                    mine.seen.last_seen = mine.seen.last_seen.max(ov.seen.last_seen);
                }
                None => {
                    self.overflow.insert(a, ov);
                }
            }
        }
        for (a, (s, why)) in o.unresolved {
            match self.unresolved.get_mut(&a) {
                Some((mine, _)) => mine.merge(&s),
                None => {
                    self.unresolved.insert(a, (s, why));
                }
            }
        }
        for (k, s) in o.denied {
            match self.denied.get_mut(&k) {
                Some(mine) => mine.merge(&s),
                None => {
                    self.denied.insert(k, s);
                }
            }
        }
        self.failed += o.failed;
        for (k, (s, why)) in o.unmapped {
            match self.unmapped.get_mut(&k) {
                Some((mine, _)) => mine.merge(&s),
                None => {
                    self.unmapped.insert(k, (s, why));
                }
            }
        }
        self.calls = match (self.calls, o.calls) {
            (Some(mut a), Some(b)) => {
                a.merge(&b);
                Some(a)
            }
            (a, b) => a.or(b),
        };
    }

    /// Every successful use: action, resource, how often and when.
    pub fn uses(&self) -> impl Iterator<Item = (&str, &Resource, &Seen)> {
        self.used
            .iter()
            .flat_map(|(a, per)| per.iter().map(move |(r, s)| (a.as_str(), r, s)))
    }

    /// Adds a use, keeping at most `RESOURCES_PER_ACTION` resources per action word for word.
    fn add_use(&mut self, action: &str, resource: &Resource, s: Seen) {
        let Some(per) = self.used.get_mut(action) else {
            self.used
                .insert(action.to_owned(), BTreeMap::from([(resource.clone(), s)]));
            return;
        };
        if let Some(mine) = per.get_mut(resource) {
            mine.merge(&s);
            return;
        }
        if let Some(ov) = self.overflow.get_mut(action) {
            ov.add(&resource.arn, s.first_seen);
            ov.seen.count += s.count.saturating_sub(1);
            ov.seen.last_seen = ov.seen.last_seen.max(s.last_seen);
            return;
        }
        if per.len() >= RESOURCES_PER_ACTION {
            self.overflow.insert(
                action.to_owned(),
                Overflow {
                    prefix: resource.arn.clone(),
                    seen: s,
                },
            );
        } else {
            per.insert(resource.clone(), s);
        }
    }

    /// The distinct actions used successfully (lowercase), with when each was last used.
    pub fn actions_last_used(&self) -> BTreeMap<String, i64> {
        let mut out: BTreeMap<String, i64> = BTreeMap::new();
        let mut note = |a: &str, t: i64| {
            let e = out.entry(a.to_ascii_lowercase()).or_insert(t);
            *e = (*e).max(t);
        };
        for (a, _, s) in self.uses() {
            note(a, s.last_seen);
        }
        for (a, o) in &self.overflow {
            note(a, o.seen.last_seen);
        }
        for (a, (s, _)) in &self.unresolved {
            note(a, s.last_seen);
        }
        out
    }
}

/// Which events an index takes.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only these principals (full ARNs; one given without a path matches that name at any path);
    /// empty: every principal.
    pub principals: Vec<String>,
    /// Unix seconds, inclusive.
    pub since: Option<i64>,
    /// Unix seconds, exclusive.
    pub until: Option<i64>,
}

impl Filter {
    /// Whether the principal key `arn` is one of those asked for.
    pub fn wants(&self, arn: &str) -> bool {
        self.principals.is_empty() || self.principals.iter().any(|p| same_principal(p, arn))
    }

    fn in_time(&self, t: i64) -> bool {
        self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t < u)
    }
}

/// Who a user or role ARN names, its path left out: partition, account, kind (`user`, `role`) and
/// name. Two ARNs [`same_principal`] calls the same have the same identity (not the other way:
/// two paths, both given, differ).
pub type Identity<'a> = (&'a str, &'a str, &'a str, &'a str);

/// The [`Identity`] of an ARN with a `kind/…/name` resource; `None` for any other string.
pub fn identity(arn: &str) -> Option<Identity<'_>> {
    let a = crate::arn::Arn::parse(arn)?;
    let (kind, rest) = a.resource.split_once('/')?;
    let name = rest.rsplit_once('/').map_or(rest, |(_, n)| n);
    Some((a.partition, a.account, kind, name))
}

/// Whether two principal ARNs name the same user or role: equal, or equal but for a path that one
/// of them does not carry (events often name a user or role without its path).
pub fn same_principal(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let (Some(x), Some(y)) = (crate::arn::Arn::parse(a), crate::arn::Arn::parse(b)) else {
        return false;
    };
    let split = |r: &str| -> Option<(String, String, String)> {
        let (kind, rest) = r.split_once('/')?;
        let (path, name) = rest.rsplit_once('/').unwrap_or(("", rest));
        Some((kind.to_owned(), path.to_owned(), name.to_owned()))
    };
    let (Some((kx, px, nx)), Some((ky, py, ny))) = (split(x.resource), split(y.resource)) else {
        return false;
    };
    x.partition == y.partition
        && x.account == y.account
        && kx == ky
        && nx == ny
        && (px.is_empty() || py.is_empty() || px == py)
}

/// The index of a whole history.
#[derive(Debug, Clone, Default)]
pub struct UsageIndex {
    pub principals: BTreeMap<String, PrincipalUsage>,
    /// Per grant, the last time the history shows it made.
    pub grants: BTreeMap<Grant, i64>,
    pub coverage: Coverage,
    /// Events with no principal of an account to attribute (an AWS service acting for itself, an
    /// unidentified caller), by `userIdentity.type`.
    pub without_principal: BTreeMap<String, u64>,
    /// Events with no readable `eventTime` (counted, not used: their time is unknown).
    pub undated: u64,
    /// Events read in all, inside and outside the filter.
    pub events: u64,
}

/// Error codes that mean the caller lacked permission ("Troubleshoot access denied error
/// messages", IAM user guide; EC2 spells it `UnauthorizedOperation`).
fn is_denial(code: &str) -> bool {
    matches!(
        code,
        "AccessDenied"
            | "AccessDeniedException"
            | "UnauthorizedOperation"
            | "Client.UnauthorizedOperation"
            | "UnauthorizedAccess"
            | "AuthorizationError"
            | "Forbidden"
    )
}

/// The principal a caller's use belongs to: the user or role (not the session), or root.
fn principal_key(caller: &Caller) -> Option<&str> {
    match caller.kind {
        CallerKind::AwsService | CallerKind::Unknown => None,
        _ => caller.principal_arn.as_deref().or(caller.arn.as_deref()),
    }
}

impl UsageIndex {
    /// Takes one event, classified and mapped (`mapping::analyse` with the reference catalog).
    pub fn record(&mut self, event: &Event<'_>, analysis: &Analysis, filter: &Filter) {
        self.events += 1;
        let Some(t) = crate::model::event_time(event) else {
            self.undated += 1;
            return;
        };
        if !filter.in_time(t) {
            return;
        }
        self.coverage.record(event, t);
        let error = event.record.error_code.as_deref().filter(|c| !c.is_empty());
        if error.is_none() {
            if let Some(g) = grant_of(event) {
                let e = self.grants.entry(g).or_insert(t);
                *e = (*e).max(t);
            }
        }
        let Some(who) = principal_key(&analysis.caller) else {
            *self
                .without_principal
                .entry(analysis.caller.identity_type.clone())
                .or_default() += 1;
            return;
        };
        if !filter.wants(who) {
            return;
        }
        if !self.principals.contains_key(who) {
            self.principals
                .insert(who.to_owned(), PrincipalUsage::default());
        }
        let Some(p) = self.principals.get_mut(who) else {
            return;
        };
        p.kind = Some(analysis.caller.kind);
        match &mut p.calls {
            Some(s) => s.add(t),
            None => p.calls = Some(Seen::at(t)),
        }
        let actions = match &analysis.mapping {
            Mapping::Unmapped(why) => {
                let key = format!("{} {}", event.source(), event.name());
                match p.unmapped.get_mut(&key) {
                    Some((s, _)) => s.add(t),
                    None => {
                        p.unmapped.insert(key, (Seen::at(t), why.clone()));
                    }
                }
                return;
            }
            Mapping::Mapped(a) => a,
        };
        match error {
            None => {
                for a in actions {
                    if let Some(why) = &a.unresolved {
                        match p.unresolved.get_mut(&a.action) {
                            Some((s, _)) => s.add(t),
                            None => {
                                p.unresolved
                                    .insert(a.action.clone(), (Seen::at(t), why.clone()));
                            }
                        }
                        continue;
                    }
                    for r in &a.resources {
                        p.add_use(&a.action, r, Seen::at(t));
                    }
                }
            }
            Some(code) if is_denial(code) => {
                for a in actions {
                    if a.resources.is_empty() {
                        bump(&mut p.denied, (a.action.clone(), "*".to_owned()), t);
                    }
                    for r in &a.resources {
                        bump(&mut p.denied, (a.action.clone(), r.arn.clone()), t);
                    }
                }
            }
            Some(_) => p.failed += 1,
        }
    }

    pub fn merge(&mut self, o: UsageIndex) {
        for (k, p) in o.principals {
            self.principals.entry(k).or_default().merge(p);
        }
        for (g, t) in o.grants {
            let e = self.grants.entry(g).or_insert(t);
            *e = (*e).max(t);
        }
        self.coverage.merge(o.coverage);
        for (k, n) in o.without_principal {
            *self.without_principal.entry(k).or_default() += n;
        }
        self.undated += o.undated;
        self.events += o.events;
    }
}

/// The grant a successful IAM event made, if it is one (IAM API reference: the request
/// parameters of each call).
fn grant_of(event: &Event<'_>) -> Option<Grant> {
    if event.source() != "iam.amazonaws.com" {
        return None;
    }
    let params: Value = serde_json::from_str(event.record.request_parameters?.get()).ok()?;
    let field = |k: &str| params.get(k).and_then(Value::as_str).map(str::to_owned);
    let holder = || {
        field("userName")
            .map(|n| format!("user/{n}"))
            .or_else(|| field("roleName").map(|n| format!("role/{n}")))
    };
    match event.name() {
        "PutUserPolicy" | "PutRolePolicy" => Some(Grant::Inline {
            holder: holder()?,
            policy: field("policyName")?,
        }),
        "AttachUserPolicy" | "AttachRolePolicy" => Some(Grant::Attached {
            holder: holder()?,
            policy_arn: field("policyArn")?,
        }),
        "AddUserToGroup" => Some(Grant::Member {
            user: field("userName")?,
            group: field("groupName")?,
        }),
        "PutGroupPolicy" | "AttachGroupPolicy" => Some(Grant::Group {
            group: field("groupName")?,
        }),
        "CreatePolicyVersion" | "SetDefaultPolicyVersion" => Some(Grant::Version {
            policy_arn: field("policyArn")?,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        // The report looks a principal's entries up by identity: every pair `same_principal`
        // joins has one identity.
        #[test]
        fn principals_the_same_have_one_identity(
            a in "arn:aws:iam::(1|2):(user|role)(/p|/q|/p/q)?/(x|y)",
            b in "arn:aws:iam::(1|2):(user|role)(/p|/q|/p/q)?/(x|y)",
        ) {
            if same_principal(&a, &b) {
                prop_assert_eq!(identity(&a), identity(&b));
                prop_assert!(identity(&a).is_some());
            }
        }
    }

    #[test]
    fn principals_without_a_path_match_the_same_name_at_any_path() {
        let a = "arn:aws:iam::111122223333:role/app";
        assert!(same_principal(a, "arn:aws:iam::111122223333:role/team/app"));
        assert!(!same_principal(a, "arn:aws:iam::444455556666:role/app"));
        assert!(!same_principal(a, "arn:aws:iam::111122223333:user/app"));
        assert!(!same_principal(a, "arn:aws:iam::111122223333:role/apps"));
        assert!(!same_principal(
            "arn:aws:iam::111122223333:role/a/app",
            "arn:aws:iam::111122223333:role/b/app"
        ));
    }

    #[test]
    fn past_the_limit_resources_fold_into_their_common_prefix() {
        let mut p = PrincipalUsage::default();
        for i in 0..RESOURCES_PER_ACTION + 3 {
            let r = Resource::exact(format!("arn:aws:s3:::logs/2026/{i:05}"));
            p.add_use("s3:GetObject", &r, Seen::at(i as i64));
        }
        assert_eq!(p.used["s3:GetObject"].len(), RESOURCES_PER_ACTION);
        let ov = &p.overflow["s3:GetObject"];
        assert_eq!(ov.prefix, "arn:aws:s3:::logs/2026/0100");
        assert_eq!(ov.seen.count, 3);
    }
}
