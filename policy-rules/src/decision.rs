//! The decision: a pure function from (event, its analysis, the rules, what is known of the caller)
//! to a verdict with its reasons — which rule, which allow-set was checked, and why it did or did not
//! hold — so alerts and evidence can say *why*.
//!
//! Fail-safe choice, made here once: when Warden cannot tell (the caller's groups are unknown, the
//! resource's path decides whether a rule applies, the resource cannot be derived, the caller cannot
//! be restricted by an identity policy), the verdict is `alert` — never a wider Deny, never silence.
//!
//! Precedence across rules: `deny` > `alert` > `exempt` > `allow` > `ignore`; `unmapped` only when
//! no rule could be judged because the catalog cannot map the event.

use crate::caller::{is_of_account, Caller, CallerKind, Restrictable};
use crate::catalog::Catalog;
use crate::event::Event;
use crate::grants::outside_grants;
use crate::mapping::{unmapped_reason, Analysis, Mapping, Match};
use crate::policy::PolicyDocument;
use crate::principal_pattern::{self, PrincipalMatch};
use crate::rules::{AllowSet, DenyScope, Mode, Rule, RuleSet};
use crate::wildcard;
use serde::{Deserialize, Serialize};

/// The outcome for one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The caller broke a rule and Warden would revoke narrowly.
    Deny,
    /// A violation (or a possible one) that cannot be revoked narrowly: a person must act.
    Alert,
    /// A break-glass principal broke a rule: alert only.
    Exempt,
    /// A rule matched and the caller is allowed.
    Allow,
    /// No rule matched.
    Ignore,
    /// The catalog cannot map the event to IAM actions.
    Unmapped,
    /// The event could not be read or used.
    Error,
}

impl Verdict {
    pub const ALL: [Verdict; 7] = [
        Verdict::Deny,
        Verdict::Alert,
        Verdict::Exempt,
        Verdict::Allow,
        Verdict::Ignore,
        Verdict::Unmapped,
        Verdict::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Deny => "deny",
            Verdict::Alert => "alert",
            Verdict::Exempt => "exempt",
            Verdict::Allow => "allow",
            Verdict::Ignore => "ignore",
            Verdict::Unmapped => "unmapped",
            Verdict::Error => "error",
        }
    }

    /// Higher wins when several rules match.
    fn rank(self) -> u8 {
        match self {
            Verdict::Error => 7,
            Verdict::Deny => 6,
            Verdict::Alert => 5,
            Verdict::Exempt => 4,
            Verdict::Allow => 3,
            Verdict::Ignore => 2,
            Verdict::Unmapped => 1,
        }
    }
}

/// A verdict with its reasons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub verdict: Verdict,
    /// The rule that decided, if any.
    pub rule: Option<String>,
    /// The deciding rule's mode (`monitor`: Warden would only alert).
    pub mode: Option<Mode>,
    pub reasons: Vec<String>,
    /// For `deny`: the actions (with their resources) the violation concerns, as `action resource`.
    pub violations: Vec<(String, Vec<String>)>,
    /// The rule surely applies and the caller is surely outside its allow-sets: no guess is
    /// involved. Only then may an `alert` still undo the change (a rule with `deny_scope = "none"`).
    pub certain: bool,
    /// The other rules the event broke (ids): the response is the union of what every broken rule
    /// asks (the deciding rule's Deny on the caller *and*, say, another rule's removal of the
    /// outside grants the event wrote).
    pub also_broken: Vec<String>,
}

/// How the reason ends that says an allow-set could not be checked because the caller's groups
/// are unknown (a replay counts those alerts, and tells how to give the groups).
pub const GROUPS_UNKNOWN: &str = "are unknown (give them with --groups)";

/// What is known about the caller beyond the event.
#[derive(Debug, Clone, Copy, Default)]
pub struct CallerFacts<'a> {
    /// The caller's IAM groups as they were before the event; `None`: unknown.
    pub groups: Option<&'a [String]>,
}

enum Applies {
    No,
    /// The matched actions with their resources, and notes for the reasons.
    Yes(Vec<(String, Vec<String>)>, Vec<String>),
    /// The rule may apply; Warden cannot tell.
    Unknown(String),
    Unmapped(String),
}

/// The decision for an event that no rule can apply to, judged by its source, name, and the
/// actions and access levels the catalog gives that name — without classifying the caller or
/// reading the request — or `None` when a rule may apply and
/// the full `decide` is needed. When it answers, it answers exactly what `decide` would (tested over
/// every fixture), so a replay may skip the analysis of the events no rule is about.
pub fn triage(event: &Event<'_>, catalog: &Catalog, rules: &RuleSet) -> Option<Decision> {
    if event.is_insight() {
        return Some(insight());
    }
    let service = catalog.service_for_source(event.source());
    // Every action the mapping could give the event: the catalog's for its name, and each extra
    // action it may authorise (`lambda:CreateFunction` also authorises `iam:PassRole`), whether or
    // not the request carries what the extra needs. S3's `DeleteObjects` may also gain actions from
    // its body (`mapping::delete_objects`): it always gets the full analysis.
    let candidates: Option<Vec<&crate::catalog::ActionInfo>> = service.map(|s| {
        let mut all = catalog.actions_for_event(s, event.name());
        all.extend(
            catalog
                .extras_for_event(s, event.name())
                .iter()
                .filter_map(|x| catalog.action(&x.action)),
        );
        all
    });
    let body_actions = service == Some("s3") && event.name().eq_ignore_ascii_case("DeleteObjects");
    let may_apply = rules.rules.iter().any(|rule| {
        let m = &rule.matches;
        if !m.sources.is_empty() && !any_match(&m.sources, event.source()) {
            return false;
        }
        if !m.events.is_empty() && !any_match(&m.events, event.name()) {
            return false;
        }
        let needs_mapping =
            !m.actions.is_empty() || !m.access.is_empty() || !m.resources.is_empty();
        if !needs_mapping {
            return true;
        }
        let Some(candidates) = &candidates else {
            return false;
        };
        // `applies` keeps only mapped actions that match the rule's actions and access levels.
        body_actions
            || candidates.iter().any(|info| {
                (m.actions.is_empty()
                    || m.actions
                        .iter()
                        .any(|p| wildcard::matches_ignore_ascii_case(p, &info.name)))
                    && (m.access.is_empty() || info.access.intersects(m.access))
            })
    });
    if may_apply {
        return None;
    }
    Some(match unmapped_reason(event, catalog) {
        Some(why) => plain(Verdict::Unmapped, why),
        None => plain(Verdict::Ignore, NO_RULE.to_owned()),
    })
}

const NO_RULE: &str = "no rule matched";

fn insight() -> Decision {
    plain(
        Verdict::Ignore,
        "a CloudTrail Insights record (an API-rate anomaly), not an API call".to_owned(),
    )
}

/// Decides one event.
pub fn decide(
    event: &Event<'_>,
    analysis: &Analysis,
    rules: &RuleSet,
    facts: CallerFacts<'_>,
) -> Decision {
    if event.is_insight() {
        return plain(
            Verdict::Ignore,
            "a CloudTrail Insights record (an API-rate anomaly), not an API call".to_owned(),
        );
    }
    let mut best: Option<(Decision, u8)> = None;
    let mut others: Vec<String> = Vec::new();
    let mut unmapped: Option<String> = None;
    let mut broken: Vec<String> = Vec::new();
    for rule in &rules.rules {
        let outcome = match applies(rule, event, analysis, rules) {
            Applies::No => continue,
            Applies::Unmapped(why) => {
                unmapped.get_or_insert(why);
                continue;
            }
            Applies::Unknown(why) => {
                judge(rule, event, analysis, rules, facts, Vec::new(), Some(why))
            }
            Applies::Yes(matched, notes) => {
                let mut d = judge(rule, event, analysis, rules, facts, matched, None);
                d.reasons.extend(notes);
                d
            }
        };
        let rank = outcome.verdict.rank();
        let broke = outcome.certain && matches!(outcome.verdict, Verdict::Deny | Verdict::Alert);
        if broke {
            broken.push(rule.id.clone());
        }
        match &best {
            Some((b, r)) if *r >= rank => others.push(format!(
                "rule `{}` also matched: {}",
                rule.id,
                outcome.verdict.as_str()
            )),
            _ => {
                if let Some((b, _)) = best.take() {
                    others.push(format!(
                        "rule `{}` also matched: {}",
                        b.rule.as_deref().unwrap_or("?"),
                        b.verdict.as_str()
                    ));
                }
                best = Some((outcome, rank));
            }
        }
    }
    match best {
        Some((mut d, _)) => {
            d.reasons.extend(others);
            d.also_broken = broken
                .into_iter()
                .filter(|id| d.rule.as_deref() != Some(id.as_str()))
                .collect();
            d
        }
        None => match (&analysis.mapping, unmapped) {
            (Mapping::Unmapped(why), _) => plain(Verdict::Unmapped, why.clone()),
            (_, Some(why)) => plain(Verdict::Unmapped, why),
            _ => plain(Verdict::Ignore, NO_RULE.to_owned()),
        },
    }
}

fn plain(verdict: Verdict, reason: String) -> Decision {
    Decision {
        verdict,
        rule: None,
        mode: None,
        reasons: vec![reason],
        violations: Vec::new(),
        certain: false,
        also_broken: Vec::new(),
    }
}

fn any_match(patterns: &[String], text: &str) -> bool {
    patterns.iter().any(|p| wildcard::matches(p, text))
}

/// Whether the caller may lift what Warden holds in force by hand (a release, not tampering): it is
/// in an allow-set of Warden's self-protection, the rules that guard Warden's Deny (those matching
/// requests whose `policyName` is `WardenDeny`). No such rule: nobody may.
pub fn may_release(
    rules: &RuleSet,
    event: &Event<'_>,
    analysis: &Analysis,
    facts: CallerFacts<'_>,
) -> bool {
    let sets: Vec<&AllowSet> = rules
        .rules
        .iter()
        .filter(|r| {
            r.matches
                .request
                .get("policyName")
                .is_some_and(|p| wildcard::matches(p, crate::rules::DENY_POLICY_NAME))
        })
        .flat_map(|r| &r.allow)
        .filter_map(|n| rules.allow_sets.get(n))
        .collect();
    !sets.is_empty() && matches!(check_allow(&sets, event, analysis, facts), Allowed::Yes(_))
}

/// Whether the caller is one of Warden's own principals (`warden_principals`).
pub fn is_warden_principal(rules: &RuleSet, caller: &Caller, event: &Event<'_>) -> bool {
    principal_match(&rules.warden_principals, caller, event).is_some()
}

/// The first principal pattern (allow-set users or roles, `break_glass`, `warden_principals`) that
/// matches the caller. A pattern whose account is a wildcard (`arn:*:iam::*:role/x`) means "in the
/// account the call acted in": it never admits a principal of another account, which only a
/// pattern naming that account literally does.
fn principal_match<'p>(
    patterns: &'p [String],
    caller: &Caller,
    event: &Event<'_>,
) -> Option<&'p String> {
    principal_in(patterns, caller, event).0
}

/// Each of `patterns` that may admit the caller at all, with how it matches the caller's
/// principal ARN (none when the caller has none). A pattern with a wildcard account admits only
/// principals of the account the call acted in. The caller's ARN is parsed once, each pattern once.
fn principal_matches<'p, 'c>(
    patterns: &'p [String],
    c: &'c Caller,
    event: &Event<'_>,
) -> impl Iterator<Item = (&'p String, PrincipalMatch)> + use<'p, 'c> {
    let caller = c.principal_arn.as_deref().and_then(crate::arn::Arn::parse);
    let local = event.account().is_some_and(|a| is_of_account(c, a));
    let path_known = c.path_known;
    patterns.iter().filter_map(move |p| {
        let a = caller.as_ref()?;
        let pattern = crate::arn::Arn::parse(p)?;
        let admits =
            local || (!pattern.account.is_empty() && !pattern.account.contains(['*', '?']));
        admits.then(|| {
            (
                p,
                principal_pattern::matches_parsed(&pattern, a, path_known),
            )
        })
    })
}

fn applies(rule: &Rule, event: &Event<'_>, analysis: &Analysis, rules: &RuleSet) -> Applies {
    let m = &rule.matches;
    if !m.sources.is_empty() && !any_match(&m.sources, event.source()) {
        return Applies::No;
    }
    if !m.events.is_empty() && !any_match(&m.events, event.name()) {
        return Applies::No;
    }
    let needs_mapping = !m.actions.is_empty() || !m.access.is_empty() || !m.resources.is_empty();
    let actions = match &analysis.mapping {
        Mapping::Mapped(a) => a.as_slice(),
        Mapping::Unmapped(why) if needs_mapping => return Applies::Unmapped(why.clone()),
        Mapping::Unmapped(_) => &[],
    };
    // The request parameters, parsed once, only for rules that look into them. A request that
    // does not match decides before the actions are matched and their resources written out.
    let params: Option<serde_json::Value> = (!m.request.is_empty() || m.grants_outside_account)
        .then(|| {
            event
                .record
                .request_parameters
                .and_then(|r| serde_json::from_str(r.get()).ok())
        })
        .flatten();
    for (key, pattern) in &m.request {
        let value = params
            .as_ref()
            .and_then(|p| p.get(key))
            .and_then(|v| v.as_str());
        if !value.is_some_and(|v| wildcard::matches(pattern, v)) {
            return Applies::No;
        }
    }
    let mut matched = Vec::new();
    let mut unknown: Option<String> = None;
    for a in actions {
        if !m.actions.is_empty()
            && !m
                .actions
                .iter()
                .any(|p| wildcard::matches_ignore_ascii_case(p, &a.action))
        {
            continue;
        }
        if !m.access.is_empty() && !a.access.intersects(m.access) {
            continue;
        }
        if !m.resources.is_empty() {
            if let Some(why) = &a.unresolved {
                unknown.get_or_insert_with(|| {
                    format!(
                        "{why}, so Warden cannot tell whether rule `{}`'s resources cover it",
                        rule.id
                    )
                });
                continue;
            }
            let mut hit = false;
            for r in &a.resources {
                for p in &m.resources {
                    match r.matched_by(p) {
                        Match::Yes => hit = true,
                        Match::Unknown => {
                            unknown.get_or_insert_with(|| {
                                format!("the path of `{}` is not in the event, and rule `{}`'s resource `{p}` depends on it", r.arn, rule.id)
                            });
                        }
                        Match::No => {}
                    }
                }
            }
            if !hit {
                continue;
            }
        }
        matched.push((
            a.action.clone(),
            a.resources.iter().flat_map(|r| r.patterns()).collect(),
        ));
    }
    if actions.is_empty() && !needs_mapping {
        // Matched on source and name alone (an event the catalog cannot map).
        matched.push((
            format!(
                "{}:{}",
                event.source().split('.').next().unwrap_or(""),
                event.name()
            ),
            Vec::new(),
        ));
    }
    let mut notes = Vec::new();
    if m.grants_outside_account {
        let Some(policy) = params.as_ref().and_then(|p| p.get("bucketPolicy")) else {
            return Applies::Unknown("the event carries no `bucketPolicy` to check".to_owned());
        };
        let policy = match PolicyDocument::from_value(policy) {
            Ok(p) => p,
            Err(e) => return Applies::Unknown(format!("the bucket policy does not read: {e}")),
        };
        let grants = outside_grants(
            &policy,
            event.account().unwrap_or(""),
            &rules.trusted_accounts,
        );
        if grants.is_empty() || matched.is_empty() {
            return Applies::No;
        }
        notes = grants
            .iter()
            .map(|x| {
                let cond = if x.conditional {
                    " (with a condition Warden did not evaluate)"
                } else {
                    ""
                };
                format!(
                    "outside the account: statement `{}` grants to `{}`{cond}",
                    x.statement, x.principal
                )
            })
            .collect();
    }
    if matched.is_empty() {
        return match unknown {
            Some(why) => Applies::Unknown(why),
            None => Applies::No,
        };
    }
    Applies::Yes(matched, notes)
}

enum Allowed {
    Yes(String),
    No(Vec<String>),
    CannotTell(String),
}

fn check_allow(
    sets: &[&AllowSet],
    event: &Event<'_>,
    analysis: &Analysis,
    facts: CallerFacts<'_>,
) -> Allowed {
    let c = &analysis.caller;
    let mut why_not = Vec::new();
    let mut cannot_tell = None;
    for set in sets {
        let n = &set.name;
        if !set.groups.is_empty() {
            let user_like = matches!(c.kind, CallerKind::IamUser | CallerKind::FederatedUser);
            match (user_like, facts.groups) {
                (true, Some(groups)) => {
                    if let Some(g) = set.groups.iter().find(|g| groups.contains(g)) {
                        return Allowed::Yes(format!("allow-set `{n}` holds: `{}` was in group `{g}` before the event", c.name.as_deref().unwrap_or("?")));
                    }
                    let had = if groups.is_empty() { "none".to_owned() } else { groups.iter().map(|g| format!("`{g}`")).collect::<Vec<_>>().join(", ") };
                    why_not.push(format!(
                        "allow-set `{n}` does not hold: `{}` was in none of its groups ({}) before the event (its groups: {had})",
                        c.name.as_deref().unwrap_or("?"),
                        set.groups.iter().map(|g| format!("`{g}`")).collect::<Vec<_>>().join(", ")
                    ));
                }
                (true, None) => {
                    cannot_tell.get_or_insert_with(|| {
                        format!(
                            "cannot tell whether allow-set `{n}` holds: the groups of `{}` {GROUPS_UNKNOWN}",
                            c.name.as_deref().unwrap_or("?")
                        )
                    });
                }
                (false, _) => why_not.push(format!("allow-set `{n}` does not hold: its groups apply to IAM users, and the caller is `{}`", c.kind.as_str())),
            }
        }
        if let Some(arn) = c.principal_arn.as_deref() {
            let patterns = match c.kind {
                CallerKind::IamUser | CallerKind::FederatedUser => &set.users,
                CallerKind::AssumedRole
                | CallerKind::IdentityCenterRole
                | CallerKind::ServiceLinkedRole => &set.roles,
                _ => &set.users,
            };
            for (p, matched) in principal_matches(patterns, c, event) {
                match matched {
                    PrincipalMatch::Yes => {
                        return Allowed::Yes(format!(
                            "allow-set `{n}` holds: `{arn}` matches `{p}`"
                        ))
                    }
                    PrincipalMatch::Unknown => {
                        cannot_tell.get_or_insert_with(|| format!("cannot tell whether allow-set `{n}` holds: the path of `{arn}` is not in the event, and `{p}` depends on it"));
                    }
                    PrincipalMatch::No => {}
                }
            }
        }
        // A role named like an Identity Center role whose path is unknown may be one: its
        // permission set may be allowed, or the name borrowed. Warden cannot tell.
        if c.kind == CallerKind::AssumedRole && !c.path_known {
            let set_name = c.name.as_deref().and_then(crate::caller::permission_set_of);
            if let Some(p) = set_name.and_then(|ps| {
                set.permission_sets
                    .iter()
                    .find(|p| wildcard::matches(p, ps))
            }) {
                cannot_tell.get_or_insert_with(|| format!("cannot tell whether allow-set `{n}` holds: `{}` is named like an Identity Center role of permission set `{p}`, and its path, which would tell, is not in the event", c.name.as_deref().unwrap_or("?")));
            }
        }
        if let Some(ps) = c.permission_set.as_deref() {
            if let Some(p) = set
                .permission_sets
                .iter()
                .find(|p| wildcard::matches(p, ps))
            {
                return Allowed::Yes(format!(
                    "allow-set `{n}` holds: permission set `{ps}` matches `{p}`"
                ));
            }
        }
        if let Some(acct) = c.account.as_deref() {
            if set.accounts.iter().any(|a| a == acct) {
                return Allowed::Yes(format!(
                    "allow-set `{n}` holds: account `{acct}` is allowed"
                ));
            }
        }
        // `services` covers calls an AWS service makes for itself (`userIdentity.type` =
        // `AWSService`), never a user's or role's own call a service forwarded (`invokedBy` on an
        // IAMUser or AssumedRole caller): that call is the principal's, judged as such.
        let service = match c.kind {
            CallerKind::AwsService => c.name.as_deref().or(c.invoked_by.as_deref()),
            _ => None,
        };
        if let Some(svc) = service {
            if set.services.iter().any(|s| wildcard::matches(s, svc)) {
                return Allowed::Yes(format!("allow-set `{n}` holds: service `{svc}` is allowed"));
            }
        } else if let Some(svc) = c
            .invoked_by
            .as_deref()
            .filter(|svc| set.services.iter().any(|s| wildcard::matches(s, svc)))
        {
            why_not.push(format!("allow-set `{n}` names service `{svc}`, which made this call for `{}`: a service in an allow-set covers only the calls it makes for itself, so the call is judged as the caller's", c.principal_arn.as_deref().or(c.arn.as_deref()).unwrap_or("the caller")));
        }
        if set.groups.is_empty() {
            why_not.push(format!(
                "allow-set `{n}` does not hold for `{}`",
                c.principal_arn
                    .as_deref()
                    .or(c.arn.as_deref())
                    .unwrap_or("the caller")
            ));
        }
    }
    if let Some(why) = cannot_tell {
        return Allowed::CannotTell(why);
    }
    Allowed::No(why_not)
}

fn judge(
    rule: &Rule,
    event: &Event<'_>,
    analysis: &Analysis,
    rules: &RuleSet,
    facts: CallerFacts<'_>,
    matched: Vec<(String, Vec<String>)>,
    applies_unknown: Option<String>,
) -> Decision {
    let c = &analysis.caller;
    let mut d = Decision {
        verdict: Verdict::Alert,
        rule: Some(rule.id.clone()),
        mode: Some(rule.mode),
        reasons: Vec::new(),
        violations: Vec::new(),
        certain: false,
        also_broken: Vec::new(),
    };
    let who = c
        .principal_arn
        .as_deref()
        .or(c.arn.as_deref())
        .unwrap_or("the caller");
    if let Some(code) = event.record.error_code.as_deref() {
        if !rule.matches.failed_calls {
            d.verdict = Verdict::Ignore;
            d.reasons.push(format!(
                "the call failed (`{code}`) and rule `{}` does not count failed calls",
                rule.id
            ));
            return d;
        }
    }
    let (break_glass, break_glass_unknown) = principal_in(&rules.break_glass, c, event);
    if let Some(p) = break_glass {
        d.verdict = Verdict::Exempt;
        d.reasons.push(format!(
            "`{who}` is a break-glass principal (`{p}`): alert only"
        ));
        d.violations = matched;
        return d;
    }
    let (warden, warden_unknown) = principal_in(&rules.warden_principals, c, event);
    if let Some(p) = warden {
        d.verdict = Verdict::Allow;
        d.reasons
            .push(format!("`{who}` is Warden's own principal (`{p}`)"));
        return d;
    }
    // The path that would tell whether the caller is exempt is not in the event: unless an
    // allow-set holds anyway, a person must check.
    let exempt_unknown = break_glass_unknown
        .map(|p| format!("cannot tell whether `{who}` is a break-glass principal (`{p}`): its path is not in the event"))
        .or_else(|| warden_unknown.map(|p| format!("cannot tell whether `{who}` is Warden's own principal (`{p}`): its path is not in the event")));
    let sets: Vec<&AllowSet> = rule
        .allow
        .iter()
        .filter_map(|n| rules.allow_sets.get(n))
        .collect();
    match check_allow(&sets, event, analysis, facts) {
        Allowed::Yes(why) => {
            d.verdict = Verdict::Allow;
            d.reasons.push(why);
            return d;
        }
        Allowed::No(why) if exempt_unknown.is_some() => {
            d.reasons.extend(exempt_unknown);
            d.reasons.extend(why);
            d.reasons
                .push("a person must check: Warden does not revoke on a guess".to_owned());
            d.violations = matched;
            return d;
        }
        Allowed::No(why) => {
            if sets.is_empty() {
                d.reasons.push(format!("rule `{}` allows nobody", rule.id));
            }
            d.reasons.extend(why);
        }
        Allowed::CannotTell(why) => {
            d.reasons.push(why);
            d.reasons
                .push("a person must check: Warden does not revoke on a guess".to_owned());
            d.violations = matched;
            return d;
        }
    }
    if let Some(why) = applies_unknown {
        d.reasons.push(why);
        d.reasons
            .push("a person must check: Warden does not revoke on a guess".to_owned());
        return d;
    }
    d.reasons.insert(
        0,
        format!("`{who}` broke rule `{}`: {}", rule.id, describe(&matched)),
    );
    d.violations = matched;
    d.certain = true;
    if let Restrictable::No { why, what_to_do } = &c.restrictable {
        d.reasons.push(format!("{why}; what to do: {what_to_do}"));
        return d;
    }
    if rule.response.deny_scope == DenyScope::None {
        d.reasons
            .push(format!("rule `{}` asks for no Deny", rule.id));
        return d;
    }
    if rule.response.deny_scope == DenyScope::Event {
        widen_to_the_event(&mut d, analysis);
    }
    let unresolved: Vec<&str> = analysis
        .mapping
        .actions()
        .iter()
        .filter(|a| d.violations.iter().any(|(n, _)| *n == a.action))
        .filter_map(|a| a.unresolved.as_deref())
        .collect();
    if !unresolved.is_empty() || d.violations.iter().all(|(_, r)| r.is_empty()) {
        let why = unresolved
            .first()
            .map_or("the resource is unknown".to_owned(), |s| (*s).to_owned());
        d.reasons
            .push(format!("{why}: a narrow Deny is impossible"));
        return d;
    }
    // An action that applies to no specific resource could only be denied with `Resource: "*"`,
    // which Warden never writes (the planner holds the same line): a person must act.
    if let Some((action, _)) = d
        .violations
        .iter()
        .find(|(_, r)| r.iter().any(|x| x == "*"))
    {
        d.reasons.push(format!("`{action}` applies to no specific resource, so a Deny of it would be `Resource: \"*\"`, which Warden never writes: a person must act"));
        return d;
    }
    d.verdict = Verdict::Deny;
    if rule.mode == Mode::Monitor {
        d.reasons
            .push("monitor mode: Warden would revoke, and changes nothing".to_owned());
    }
    d
}

/// The first of `patterns` that surely names the caller's principal, and the first that may (its
/// path is not in the event and the pattern depends on it).
fn principal_in<'p>(
    patterns: &'p [String],
    c: &crate::caller::Caller,
    event: &Event<'_>,
) -> (Option<&'p String>, Option<&'p String>) {
    let mut unknown = None;
    for (p, matched) in principal_matches(patterns, c, event) {
        match matched {
            PrincipalMatch::Yes => return (Some(p), None),
            PrincipalMatch::Unknown => {
                unknown.get_or_insert(p);
            }
            PrincipalMatch::No => {}
        }
    }
    (None, unknown)
}

/// `deny_scope = "event"`: the event's other actions join the violation, each on the resources
/// it touched (a service call that passed a privileged role: the call on its resource). An action
/// whose resource is unknown is left out, and the reasons say so.
fn widen_to_the_event(d: &mut Decision, analysis: &Analysis) {
    let mut added = Vec::new();
    for a in analysis.mapping.actions() {
        if d.violations.iter().any(|(n, _)| *n == a.action) {
            continue;
        }
        match &a.unresolved {
            Some(why) => d
                .reasons
                .push(format!("`{}` is not denied: {why}", a.action)),
            None => {
                let resources: Vec<String> =
                    a.resources.iter().flat_map(|r| r.patterns()).collect();
                added.push((a.action.clone(), resources));
            }
        }
    }
    if !added.is_empty() {
        d.reasons.push(format!(
            "the call itself is denied too: {}",
            describe(&added)
        ));
        d.violations.extend(added);
    }
}

fn describe(matched: &[(String, Vec<String>)]) -> String {
    matched
        .iter()
        .map(|(a, r)| {
            if r.is_empty() {
                format!("`{a}`")
            } else {
                format!(
                    "`{a}` on {}",
                    r.iter()
                        .map(|x| format!("`{x}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::parse_document;
    use crate::mapping::analyse;
    use std::collections::BTreeMap;

    /// The fixture event files the triage tests read.
    const FIXTURES: [&str; 4] = [
        include_str!("../../fixtures/cloudtrail/stratus_red_team_detonation_logs.jsonl"),
        include_str!("../../fixtures/cloudtrail/awsdocs_example_events.jsonl"),
        include_str!("../../fixtures/cloudtrail/custodian_eventbridge_envelopes.jsonl"),
        include_str!("../../fixtures/cloudtrail/eventbridge_fixtures_consoleme_iambic.jsonl"),
    ];

    /// Asserts that `triage` answers what `decide` does on every fixture event and on `more`
    /// (one record per line); returns the answered events by verdict and how many were deferred.
    fn triage_against_decide(rules: &RuleSet, more: &[&str]) -> (BTreeMap<Verdict, u32>, u32) {
        let catalog = Catalog::builtin().unwrap();
        let mut answered = BTreeMap::<Verdict, u32>::new();
        let mut deferred = 0;
        for line in FIXTURES.iter().chain(more).flat_map(|f| f.lines()) {
            parse_document(line.as_bytes(), |_, e| {
                let e = e.unwrap();
                let full = decide(&e, &analyse(&e, &catalog), rules, CallerFacts::default());
                match triage(&e, &catalog, rules) {
                    Some(t) => {
                        *answered.entry(t.verdict).or_default() += 1;
                        assert_eq!(t, full, "{}:{}", e.source(), e.name());
                    }
                    None => deferred += 1,
                }
            });
        }
        (answered, deferred)
    }

    // INVARIANT (triage-agrees): whenever `triage` answers, `decide` gives the same decision.
    #[test]
    fn triage_agrees_with_decide_on_every_fixture() {
        let (by_verdict, deferred) = triage_against_decide(&RuleSet::default_pack().unwrap(), &[]);
        let answered: u32 = by_verdict.values().sum();
        assert!(
            answered > 250 && deferred > 20,
            "answered {answered}, deferred {deferred}"
        );
    }

    // INVARIANT (triage-agrees), for rule shapes the default pack lacks: every action at one access
    // level, a service's actions on one resource, actions of another service than the event's, an
    // extra action's service, and actions only a `DeleteObjects` body gives.
    #[test]
    fn triage_agrees_with_decide_for_other_rule_shapes() {
        let pack = r#"
version = 1
[allow_sets.admins]
groups = ["Administrators"]
[[rule]]
id = "reads"
allow = ["admins"]
[rule.match]
actions = ["secretsmanager:*", "ec2:*", "iam:*"]
access = ["read"]
[[rule]]
id = "a-bucket"
allow = ["admins"]
[rule.match]
actions = ["s3:*"]
resources = ["arn:*:s3:::some-bucket"]
[[rule]]
id = "secrets-gets"
allow = ["admins"]
[rule.match]
actions = ["secretsmanager:Get*"]
[[rule]]
id = "passes"
allow = ["admins"]
[rule.match]
actions = ["iam:PassRole"]
[[rule]]
id = "s3-deletes"
allow = ["admins"]
[rule.match]
actions = ["s3:DeleteObjectVersion"]
"#;
        let rules = RuleSet::parse("pack.toml", pack).unwrap();
        let delete_objects = r#"{"eventSource":"s3.amazonaws.com","eventName":"DeleteObjects","awsRegion":"us-east-1","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/u","accountId":"111122223333"},"requestParameters":{"bucketName":"b","delete":{"Object":[{"Key":"k","VersionId":"v"}]}}}"#;
        let (answered, deferred) = triage_against_decide(&rules, &[delete_objects]);
        // Writes of the rules' services are answered without the analysis; their reads are not.
        assert!(
            answered.get(&Verdict::Ignore).is_some_and(|n| *n > 40) && deferred >= 5,
            "answered {answered:?}, deferred {deferred}"
        );
    }
}
