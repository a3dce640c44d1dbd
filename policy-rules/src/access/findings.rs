//! What a principal's policies allow that its history never used, with IAM Access Analyzer's
//! finding names: `UnusedPermission` (a service none of whose allowed actions was used, an allowed
//! action of a used service not used, or a resource pattern of a used action none of whose
//! resources was used), `UnusedIAMRole`, `UnusedIAMUserAccessKey`, `UnusedIAMUserPassword`; and
//! `INSUFFICIENT_DATA` wherever the history cannot tell (its window is not covered, or has a gap).
//!
//! "Allowed" is the evaluator's answer over the principal's identity policies and boundary in the
//! account file, asked per action of the catalog a statement's `Action` covers, on the statement's
//! own resource patterns as witnesses (a wildcard kept literal: see `sweep::access`). An action
//! allowed only under conditions Warden cannot judge offline counts as allowed: it is granted.
//!
//! Never called unused (INVARIANT (never-unused)): a permission of a policy granted within the last
//! `recent_days` (the history shows the `Put*Policy`, `Attach*Policy`, `AddUserToGroup`,
//! `CreatePolicyVersion`; the account file shows the default version or the principal created
//! then); a statement whose `Sid` starts with `WardenKeep`; any permission of a principal tagged
//! `warden:keep`.

use super::coverage::{iso, Coverage};
use super::usage::{Grant, PrincipalUsage};
use crate::catalog::Catalog;
use crate::evaluate::{evaluate, Answer, Policies, Request};
use crate::policy::{Effect, PolicyDocument, Scope};
use crate::snapshot::{PrincipalRecord, Snapshot};
use crate::sweep::input::{parse_time, CredentialReport};
use crate::wildcard;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

pub const UNUSED_PERMISSION: &str = "UnusedPermission";
pub const UNUSED_ROLE: &str = "UnusedIAMRole";
pub const UNUSED_KEY: &str = "UnusedIAMUserAccessKey";
pub const UNUSED_PASSWORD: &str = "UnusedIAMUserPassword";
pub use crate::sweep::INSUFFICIENT_DATA;

/// The tag that opts a principal out of unused findings.
pub const KEEP_TAG: &str = "warden:keep";
/// The `Sid` prefix that opts a statement out.
pub const KEEP_SID: &str = "WardenKeep";

const DAY: i64 = 86_400;

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    #[serde(rename = "type")]
    pub finding_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// The window, in days, the finding is about.
    pub window_days: u32,
    pub detail: String,
}

/// How findings are judged.
#[derive(Debug, Clone)]
pub struct Options {
    /// The windows asked for, in days (`--window 30d,90d`).
    pub windows_days: Vec<u32>,
    /// The end of every window (Unix seconds): `--until`, else the history's last hour.
    pub until: i64,
    /// Permissions granted within this many days are never unused.
    pub recent_days: u32,
    /// See `coverage`.
    pub max_quiet: i64,
}

/// One action the principal's policies allow, with where.
#[derive(Debug, Clone, Default)]
pub struct Allowed {
    /// Resource patterns it is allowed on (the allowing statements' own).
    pub resources: BTreeSet<String>,
    /// Whether some allowing statement is exempt (recent, `WardenKeep`).
    pub exempt: bool,
}

/// A principal's policies as the evaluator takes them, each with the key its grants go by.
struct Sources<'s> {
    docs: Vec<(String, &'s PolicyDocument, bool)>,
    boundary: Option<&'s PolicyDocument>,
}

fn sources<'s>(
    snap: &'s Snapshot,
    p: &'s PrincipalRecord,
    grants: &BTreeMap<Grant, i64>,
    since: i64,
) -> Sources<'s> {
    let holder = if p.arn.contains(":role/") {
        format!("role/{}", p.name)
    } else {
        format!("user/{}", p.name)
    };
    let recent_grant = |g: &Grant| grants.get(g).is_some_and(|t| *t >= since);
    let recent_time = |t: Option<&String>| {
        t.and_then(|t| parse_time(t))
            .is_some_and(|t| t.timestamp() >= since)
    };
    let created_recently = recent_time(p.created.as_ref());
    let managed_recent = |arn: &String| {
        recent_grant(&Grant::Version {
            policy_arn: arn.clone(),
        }) || snap
            .version_documents
            .get(arn)
            .into_iter()
            .flatten()
            .any(|v| v.is_default && recent_time(v.created.as_ref()))
            || recent_time(snap.policy_created.get(arn))
    };
    let mut docs = Vec::new();
    for (name, d) in &p.inline {
        let recent = created_recently
            || recent_grant(&Grant::Inline {
                holder: holder.clone(),
                policy: name.clone(),
            });
        docs.push((format!("inline `{name}`"), d, recent));
    }
    for arn in &p.attached {
        if let Some(d) = snap.managed.get(arn) {
            let recent = created_recently
                || managed_recent(arn)
                || recent_grant(&Grant::Attached {
                    holder: holder.clone(),
                    policy_arn: arn.clone(),
                });
            docs.push((arn.clone(), d, recent));
        }
    }
    for g in p.groups.iter().filter_map(|g| snap.groups.get(g)) {
        let group_recent = created_recently
            || recent_grant(&Grant::Member {
                user: p.name.clone(),
                group: g.name.clone(),
            })
            || recent_grant(&Grant::Group {
                group: g.name.clone(),
            });
        for (name, d) in &g.inline {
            docs.push((
                format!("group `{}` inline `{name}`", g.name),
                d,
                group_recent,
            ));
        }
        for arn in &g.attached {
            if let Some(d) = snap.managed.get(arn) {
                docs.push((arn.clone(), d, group_recent || managed_recent(arn)));
            }
        }
    }
    let boundary = p.boundary.as_ref().and_then(|b| snap.managed.get(b));
    Sources { docs, boundary }
}

/// Per action pattern, the catalog's actions it covers (memoised: `s3:*` is asked once).
#[derive(Default)]
pub struct Expansions(HashMap<String, Vec<String>>);

impl Expansions {
    fn of(&mut self, catalog: &Catalog, pattern: &str) -> &[String] {
        self.0
            .entry(pattern.to_ascii_lowercase())
            .or_insert_with(|| {
                if !wildcard::has_wildcard(pattern) {
                    return catalog
                        .action(pattern)
                        .map(|a| vec![a.name.clone()])
                        .unwrap_or_else(|| vec![pattern.to_owned()]);
                }
                let mut v: Vec<String> = catalog
                    .all_actions()
                    .filter(|a| wildcard::matches_ignore_ascii_case(pattern, &a.name))
                    .map(|a| a.name.clone())
                    .collect();
                v.sort();
                v
            })
    }
}

/// What the principal's policies allow, per action (as the catalog spells it).
pub fn allowed(
    snap: &Snapshot,
    p: &PrincipalRecord,
    catalog: &Catalog,
    grants: &BTreeMap<Grant, i64>,
    recent_since: i64,
    expansions: &mut Expansions,
) -> BTreeMap<String, Allowed> {
    let src = sources(snap, p, grants, recent_since);
    let named: Vec<(&str, &PolicyDocument)> =
        src.docs.iter().map(|(n, d, _)| (n.as_str(), *d)).collect();
    let policies = Policies {
        identity: &named,
        boundary: src.boundary,
        ..Default::default()
    };
    let account = crate::arn::Arn::parse(&p.arn)
        .map(|a| a.account.to_owned())
        .unwrap_or_default();
    let mut candidates: BTreeMap<String, Allowed> = BTreeMap::new();
    for (_, doc, recent) in &src.docs {
        for st in doc.statements.iter().filter(|s| s.effect == Effect::Allow) {
            let keep = st
                .sid
                .as_deref()
                .and_then(|s| s.get(..KEEP_SID.len()))
                .is_some_and(|s| s.eq_ignore_ascii_case(KEEP_SID));
            let resources: Vec<String> = match &st.resource {
                Some(Scope::Only(rs)) => rs.clone(),
                _ => vec!["*".to_owned()],
            };
            let actions: Vec<String> = match &st.action {
                Scope::Only(patterns) => patterns
                    .iter()
                    .flat_map(|pat| expansions.of(catalog, pat).to_vec())
                    .collect(),
                Scope::Not(patterns) => catalog
                    .all_actions()
                    .filter(|a| {
                        !patterns
                            .iter()
                            .any(|pat| wildcard::matches_ignore_ascii_case(pat, &a.name))
                    })
                    .map(|a| a.name.clone())
                    .collect(),
            };
            for a in actions {
                let e = candidates.entry(a).or_default();
                e.resources.extend(resources.iter().cloned());
                e.exempt |= keep || *recent;
            }
        }
    }
    // The evaluator has the last word: Denies and the boundary take actions out.
    candidates.retain(|action, allowed| {
        allowed.resources.retain(|r| {
            let req = Request {
                principal_arn: &p.arn,
                principal_account: &account,
                action,
                resource: r,
                ..Default::default()
            };
            matches!(
                evaluate(&req, &policies).answer,
                Answer::Allow | Answer::Unknown
            )
        });
        !allowed.resources.is_empty()
    });
    candidates
}

fn finding(t: &str, window: u32, detail: String) -> Finding {
    Finding {
        finding_type: t.to_owned(),
        service: None,
        action: None,
        resource: None,
        window_days: window,
        detail,
    }
}

/// Everything `findings` reads besides the principal.
pub struct Context<'a> {
    pub snapshot: &'a Snapshot,
    pub catalog: &'a Catalog,
    /// Per window (days): whether the history covers it (`window_coverage`), judged once for
    /// every principal.
    pub window_coverage: &'a BTreeMap<u32, Result<(), String>>,
    pub grants: &'a BTreeMap<Grant, i64>,
    pub credential_report: Option<&'a CredentialReport>,
    pub options: &'a Options,
}

/// The findings for one principal of the account file.
pub fn findings(
    ctx: &Context<'_>,
    p: &PrincipalRecord,
    usage: Option<&PrincipalUsage>,
    expansions: &mut Expansions,
) -> Vec<Finding> {
    let opts = ctx.options;
    let mut out = Vec::new();
    if p.tags.contains_key(KEEP_TAG) {
        return out;
    }
    let recent_since = opts.until - i64::from(opts.recent_days) * DAY;
    let allowed = allowed(
        ctx.snapshot,
        p,
        ctx.catalog,
        ctx.grants,
        recent_since,
        expansions,
    );
    let used = usage
        .map(PrincipalUsage::actions_last_used)
        .unwrap_or_default();
    let is_role = p.arn.contains(":role/");
    let created = p
        .created
        .as_deref()
        .and_then(parse_time)
        .map(|t| t.timestamp());
    for &w in &opts.windows_days {
        let start = opts.until - i64::from(w) * DAY;
        match ctx.window_coverage.get(&w) {
            Some(Ok(())) => {}
            Some(Err(why)) => {
                out.push(finding(INSUFFICIENT_DATA, w, why.clone()));
                continue;
            }
            None => {
                out.push(finding(
                    INSUFFICIENT_DATA,
                    w,
                    "the window's coverage was not judged".to_owned(),
                ));
                continue;
            }
        }
        let used_in: BTreeSet<&str> = used
            .iter()
            .filter(|(_, t)| **t >= start)
            .map(|(a, _)| a.as_str())
            .collect();
        let last_call = usage.and_then(|u| u.calls).map(|s| s.last_seen);
        let role_last_used = p
            .last_used
            .as_deref()
            .and_then(parse_time)
            .map(|t| t.timestamp());
        if is_role
            && last_call.is_none_or(|t| t < start)
            && role_last_used.is_none_or(|t| t < start)
        {
            if created.is_some_and(|c| c >= start) {
                out.push(finding(
                    INSUFFICIENT_DATA,
                    w,
                    format!(
                        "the role was created within the window ({}) and has not been used",
                        iso(created.unwrap_or(start))
                    ),
                ));
            } else {
                out.push(finding(
                    UNUSED_ROLE,
                    w,
                    format!(
                        "no call in the {w} days to {}{}",
                        iso(opts.until),
                        role_last_used
                            .map(|t| format!(" (IAM's last use: {})", iso(t)))
                            .unwrap_or_default()
                    ),
                ));
            }
        }
        let used_services: BTreeSet<&str> = used_in
            .iter()
            .filter_map(|a| a.split_once(':').map(|(s, _)| s))
            .collect();
        let mut unused_by_service: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (action, a) in &allowed {
            if a.exempt || used_in.contains(action.to_ascii_lowercase().as_str()) {
                continue;
            }
            let service = action.split_once(':').map_or(action.as_str(), |(s, _)| s);
            unused_by_service.entry(service).or_default().push(action);
        }
        for (service, actions) in unused_by_service {
            if used_services.contains(service.to_ascii_lowercase().as_str()) {
                for a in actions {
                    let mut f = finding(
                        UNUSED_PERMISSION,
                        w,
                        format!("allowed, not used in the {w} days to {}", iso(opts.until)),
                    );
                    f.action = Some(a.to_owned());
                    out.push(f);
                }
            } else {
                let mut f = finding(
                    UNUSED_PERMISSION,
                    w,
                    format!(
                        "{} allowed actions, none used in the {w} days to {}",
                        actions.len(),
                        iso(opts.until)
                    ),
                );
                f.service = Some(service.to_owned());
                out.push(f);
            }
        }
        // Unused resources of used actions.
        if let Some(u) = usage {
            for (action, a) in &allowed {
                let lower = action.to_ascii_lowercase();
                if a.exempt || !used_in.contains(lower.as_str()) {
                    continue;
                }
                let resources: Vec<&crate::mapping::Resource> = u
                    .uses()
                    .filter(|(act, _, s)| act.eq_ignore_ascii_case(action) && s.last_seen >= start)
                    .map(|(_, r, _)| r)
                    .collect();
                let open = u.overflow.keys().any(|k| k.eq_ignore_ascii_case(action))
                    || u.unresolved.keys().any(|k| k.eq_ignore_ascii_case(action));
                if open {
                    continue;
                }
                for pattern in a.resources.iter().filter(|r| r.as_str() != "*") {
                    let touched = resources
                        .iter()
                        .any(|r| !matches!(r.matched_by(pattern), crate::mapping::Match::No));
                    if !touched {
                        let mut f = finding(
                            UNUSED_PERMISSION,
                            w,
                            format!("`{action}` is used, but on none of these resources in the {w} days to {}", iso(opts.until)),
                        );
                        f.action = Some(action.clone());
                        f.resource = Some(pattern.clone());
                        out.push(f);
                    }
                }
            }
        }
        if !is_role {
            credential_findings(ctx, p, w, start, &mut out);
        }
    }
    out
}

/// Keys and passwords, from the credential report (the history names no key ids it could be
/// matched with: without the report they are `INSUFFICIENT_DATA`).
fn credential_findings(
    ctx: &Context<'_>,
    p: &PrincipalRecord,
    w: u32,
    start: i64,
    out: &mut Vec<Finding>,
) {
    let Some(report) = ctx.credential_report else {
        out.push(finding(
            INSUFFICIENT_DATA,
            w,
            "access keys and password not judged: give a credential report (`--credential-report`)"
                .to_owned(),
        ));
        return;
    };
    let Some(row) = report.row(&p.name) else {
        out.push(finding(
            INSUFFICIENT_DATA,
            w,
            "the credential report does not list this user".to_owned(),
        ));
        return;
    };
    let stale = |t: Option<i64>, created: Option<i64>| match t {
        Some(t) => t < start,
        None => created.is_some_and(|c| c < start),
    };
    let created = row.created.time().map(|t| t.timestamp());
    if row.password_enabled == Some(true)
        && stale(
            row.password_last_used.time().map(|t| t.timestamp()),
            created,
        )
    {
        out.push(finding(
            UNUSED_PASSWORD,
            w,
            format!("the console password was not used in the {w} days (credential report)"),
        ));
    }
    for (i, key) in row.keys.iter().enumerate() {
        let rotated = key.last_rotated.time().map(|t| t.timestamp());
        if key.active
            && stale(
                key.last_used.time().map(|t| t.timestamp()),
                rotated.or(created),
            )
        {
            out.push(finding(
                UNUSED_KEY,
                w,
                format!(
                    "access key {} was not used in the {w} days (credential report)",
                    i + 1
                ),
            ));
        }
    }
}

/// Per window asked for: whether `coverage` covers it end to end with no gap, from the window's
/// start (or the start of the recent days, when earlier: the recent-grant rule needs them covered
/// too) to `until`.
pub fn window_coverage(coverage: &Coverage, opts: &Options) -> BTreeMap<u32, Result<(), String>> {
    let recent_since = opts.until - i64::from(opts.recent_days) * DAY;
    opts.windows_days
        .iter()
        .map(|&w| {
            let start = opts.until - i64::from(w) * DAY;
            (
                w,
                coverage.covers(start.min(recent_since), opts.until, opts.max_quiet),
            )
        })
        .collect()
}
