//! Least privilege from CloudTrail history (`warden access`): what each principal actually did
//! (`usage`), which time the history covers (`coverage`), what its policies allow that it never
//! used (`findings`), and the least-privilege policy its use needs, checked against the whole
//! history before it is shown (`generate`). `report` puts them together per principal. Pure: the
//! caller reads the logs and hands in events, in any order, from any number of threads.

pub mod coverage;
pub mod findings;
pub mod generate;
pub mod plan;
pub mod usage;

use crate::catalog::Catalog;
use crate::snapshot::Snapshot;
use crate::sweep::input::CredentialReport;
use coverage::{iso, Gap, Span};
use findings::{Expansions, Finding, Options};
use serde::Serialize;
use serde_json::Value;
use usage::{same_principal, Seen, UsageIndex};

/// One use, as the report shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UseLine {
    pub action: String,
    pub resource: String,
    pub count: u64,
    pub first_seen: String,
    pub last_seen: String,
    /// Why the resource is a pattern or `*` (the history did not name it exactly).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

fn line(action: &str, resource: &str, s: &Seen, note: Option<String>) -> UseLine {
    UseLine {
        action: action.to_owned(),
        resource: resource.to_owned(),
        count: s.count,
        first_seen: iso(s.first_seen),
        last_seen: iso(s.last_seen),
        note,
    }
}

/// A time range of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Range {
    pub from: String,
    pub to: String,
}

/// A gap of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GapLine {
    pub from: String,
    pub to: String,
    pub why: String,
}

/// What the input covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CoverageReport {
    pub ranges: Vec<Range>,
    pub gaps: Vec<GapLine>,
}

impl CoverageReport {
    fn of(spans: &[Span], gaps: &[Gap]) -> Self {
        CoverageReport {
            ranges: spans
                .iter()
                .map(|s| Range {
                    from: iso(s.from),
                    to: iso(s.to),
                })
                .collect(),
            gaps: gaps
                .iter()
                .map(|g| GapLine {
                    from: iso(g.from),
                    to: iso(g.to),
                    why: g.why.clone(),
                })
                .collect(),
        }
    }
}

/// One principal's report: the JSON object `warden access --format json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct PrincipalReport {
    pub principal: String,
    /// The caller kind the history shows (`iam-user`, `assumed-role`, …), or `not-seen`.
    pub kind: String,
    pub used: Vec<UseLine>,
    pub denied: Vec<UseLine>,
    /// Calls no catalog entry explains (`source eventName`), never guessed.
    pub unmapped: Vec<UseLine>,
    /// Calls that failed for a reason other than a denial.
    pub failed: u64,
    pub findings: Vec<Finding>,
    /// The generated least-privilege documents (several when one would pass IAM's size limit);
    /// empty when the principal used nothing.
    pub policy: Vec<Value>,
    /// What the reader should know about the generated documents.
    pub policy_notes: Vec<String>,
    pub coverage: CoverageReport,
    /// With `--plan`: the findings as Warden plans (`monitor`: printed, not applied).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plans: Option<plan::Plans>,
    /// With `--apply`: what applying the chosen plan did (the handler fills it in): `strategy`,
    /// `result` (`changed`, `unchanged` or `failed`), the `record` id `warden rollback` takes, or
    /// why nothing changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applied: Option<Value>,
}

/// An error of the report: a generated policy that does not allow the history (a bug, never
/// shown as a policy).
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("the policy generated for `{principal}` does not allow {} of its successful calls: {}", missing.len(), missing.join(", "))]
    PolicyCheck {
        principal: String,
        missing: Vec<String>,
    },
}

/// What `report` reads besides the index.
pub struct ReportInput<'a> {
    pub catalog: &'a Catalog,
    /// The account file (`get-account-authorization-details`), for findings; without it there are
    /// no findings (the policies are unknown).
    pub snapshot: Option<&'a Snapshot>,
    pub credential_report: Option<&'a CredentialReport>,
    /// `--principal`: only these; empty: every principal of the history and the account file.
    pub principals: &'a [String],
    pub options: Options,
    /// Whether to turn findings into plans (`--plan`).
    pub plan: bool,
}

/// The report, one entry per principal, sorted by ARN.
pub fn report(
    index: &UsageIndex,
    input: &ReportInput<'_>,
) -> Result<Vec<PrincipalReport>, AccessError> {
    let (spans, gaps) = index.coverage.describe(input.options.max_quiet);
    let coverage = CoverageReport::of(&spans, &gaps);
    let wanted = |arn: &str| {
        input.principals.is_empty() || input.principals.iter().any(|p| same_principal(p, arn))
    };
    // The account file's principals, and the history's that it does not hold.
    let mut keys: Vec<(String, Option<&crate::snapshot::PrincipalRecord>)> = Vec::new();
    let mut listed: std::collections::HashSet<String> = std::collections::HashSet::new();
    if let Some(snap) = input.snapshot {
        for p in snap.users.values().chain(snap.roles.values()) {
            if wanted(&p.arn) {
                keys.push((p.arn.clone(), Some(p)));
                listed.insert(p.arn.clone());
            }
        }
    }
    for arn in index.principals.keys() {
        let known = input.snapshot.and_then(|s| s.principal(arn));
        let already = listed.contains(arn) || known.is_some_and(|p| listed.contains(&p.arn));
        if !already && wanted(arn) {
            keys.push((arn.clone(), known));
            listed.insert(arn.clone());
        }
    }
    keys.sort_by(|a, b| a.0.cmp(&b.0));
    // The history's principals by who they are (partition, account, kind, name: the path left
    // out), so each report finds its entries without comparing every pair.
    let mut by_identity: std::collections::HashMap<usage::Identity<'_>, Vec<&String>> =
        std::collections::HashMap::new();
    for k in index.principals.keys() {
        if let Some(id) = usage::identity(k) {
            by_identity.entry(id).or_default().push(k);
        }
    }
    let window_coverage = findings::window_coverage(&index.coverage, &input.options);
    let mut expansions = Expansions::default();
    let mut out = Vec::new();
    for (arn, record) in keys {
        // The history's entries for this principal: by its full ARN, or by name where the events
        // named it without its path.
        let mut usage = usage::PrincipalUsage::default();
        let mut seen = false;
        let candidates: Vec<&String> = match usage::identity(&arn) {
            Some(id) => by_identity.get(&id).cloned().unwrap_or_default(),
            None => index
                .principals
                .get_key_value(&arn)
                .map(|(k, _)| k)
                .into_iter()
                .collect(),
        };
        for k in candidates {
            if k == &arn || (record.is_some() && same_principal(k, &arn)) {
                if let Some(u) = index.principals.get(k) {
                    usage.merge_from(u);
                    seen = true;
                }
            }
        }
        let usage_ref = seen.then_some(&usage);
        let generated = generate::generate(&usage, generate::MANAGED_POLICY_LIMIT);
        if let Err(missing) = generate::verify(&usage, &arn, &generated.documents) {
            return Err(AccessError::PolicyCheck {
                principal: arn,
                missing,
            });
        }
        let findings = match (record, input.snapshot) {
            (Some(p), Some(snap)) => findings::findings(
                &findings::Context {
                    snapshot: snap,
                    catalog: input.catalog,
                    window_coverage: &window_coverage,
                    grants: &index.grants,
                    credential_report: input.credential_report,
                    options: &input.options,
                },
                p,
                usage_ref,
                &mut expansions,
            ),
            _ => Vec::new(),
        };
        let plans = match (record, input.snapshot) {
            (Some(p), Some(snap)) if input.plan => {
                let recent_since =
                    input.options.until - i64::from(input.options.recent_days) * 86_400;
                let allowed = findings::allowed(
                    snap,
                    p,
                    input.catalog,
                    &index.grants,
                    recent_since,
                    &mut expansions,
                );
                Some(plan::plans(p, &findings, &allowed, &generated.documents))
            }
            _ => None,
        };
        let mut used: Vec<UseLine> = usage
            .uses()
            .map(|(a, r, s)| {
                let note = r
                    .any_path_at
                    .map(|_| "the events name it without its path".to_owned());
                line(a, &r.patterns().join(" "), s, note)
            })
            .collect();
        for (a, ov) in &usage.overflow {
            used.push(line(
                a,
                &format!("{}*", ov.prefix),
                &ov.seen,
                Some(format!(
                    "more than {} resources: the rest by their common prefix",
                    usage::RESOURCES_PER_ACTION
                )),
            ));
        }
        for (a, (s, why)) in &usage.unresolved {
            used.push(line(a, "*", s, Some(why.clone())));
        }
        let denied = usage
            .denied
            .iter()
            .map(|((a, r), s)| line(a, r, s, None))
            .collect();
        let unmapped = usage
            .unmapped
            .iter()
            .map(|(k, (s, why))| line(k, "", s, Some(why.clone())))
            .collect();
        out.push(PrincipalReport {
            principal: arn,
            kind: usage
                .kind
                .map(|k| k.as_str().to_owned())
                .unwrap_or_else(|| "not-seen".to_owned()),
            used,
            denied,
            unmapped,
            failed: usage.failed,
            findings,
            policy: generated
                .documents
                .iter()
                .filter_map(|d| serde_json::from_str(&d.to_json()).ok())
                .collect(),
            policy_notes: generated.notes,
            coverage: coverage.clone(),
            plans,
            applied: None,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
