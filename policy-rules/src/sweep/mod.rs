//! Sweeps (issue 11 §2): one pure pass over what a sweep reads of an account — the IAM snapshot,
//! the credential report, the buckets, the trails, and Warden's own record of what it holds —
//! finding what no event reported: standing violations of the rules, effective admins outside the
//! admin allow-set, exposed buckets, unused credentials, and drift of what Warden holds in force.
//! Each finding says what Warden would do about it (from the rule's response), in the sweep's
//! mode (`monitor` by default), up to a limit of changes: past it, nothing more is planned and
//! the finding says so.
//!
//! `now` is an argument: nothing here reads a clock. Reading the account (GAAD pages, the report,
//! the per-bucket calls) and resuming a sweep are the handler's.
//!
//! One file per kind of finding: `standing`, `admin`, `exposure`, `unused`, `drift` (and for
//! drift of Warden's own event path, `own_rules` and `own_pipeline`); `access` is
//! the fast "what may this principal do" the first two share; `input` parses the inputs;
//! `org_policies` the SCPs and RCPs every evaluation of the sweep passes, when given; `steps` what
//! applying a planned change takes, for an enforcing live sweep.

pub mod access;
mod admin;
mod credentials;
mod drift;
mod exposure;
pub mod input;
pub mod org_policies;
pub mod own_pipeline;
pub mod own_rules;
mod standing;
pub mod steps;
mod unused;

use crate::catalog::Catalog;
use crate::held::Held;
use crate::rules::{Mode, Rule, RuleSet};
use crate::snapshot::Snapshot;
use chrono::{DateTime, Utc};
use input::{AccessKey, Buckets, CredentialReport, Trail};
use org_policies::{OrgGates, OrgPolicySet};
use serde::Serialize;

pub use admin::{ESCALATION_ACTIONS, FULL_ACCESS_PROBES};
pub use credentials::credentials_in_model;

/// What a sweep reads. Everything but the snapshot is optional: what is missing is said in the
/// findings (`INSUFFICIENT_DATA`) or the report's notes, never guessed.
#[derive(Debug, Clone, Copy)]
pub struct SweepInput<'a> {
    pub snapshot: &'a Snapshot,
    /// When the snapshot was read (for `data_age_seconds`).
    pub snapshot_read_at: Option<DateTime<Utc>>,
    pub credential_report: Option<&'a CredentialReport>,
    pub buckets: Option<&'a Buckets>,
    pub trails: Option<&'a [Trail]>,
    /// `ListAccessKeys` of the users Warden holds keys of (to tell a re-activated key).
    pub access_keys: Option<&'a [AccessKey]>,
    /// Warden's record of what it holds in force.
    pub held: &'a [Held],
    pub rules: &'a RuleSet,
    pub catalog: &'a Catalog,
    /// Warden's own EventBridge rules as read, against those it expects (`None`: not read).
    pub own_rules: Option<own_rules::OwnRulesRead<'a>>,
    /// Warden's own queues and function as read (`None`: not read).
    pub own_pipeline: Option<&'a own_pipeline::OwnPipeline>,
    /// The SCPs and RCPs on the path to the swept account (`None`: not given; every evaluation is
    /// then as if the account were in no organization). Given, every evaluation passes them: the
    /// SCPs cap the account's principals, the RCPs requests to its resources.
    pub org_policies: Option<&'a OrgPolicySet>,
}

/// How to sweep.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    pub now: DateTime<Utc>,
    /// Credentials and roles unused for longer than this are `unused` (Access Analyzer's default
    /// tracking period is 90 days).
    pub unused_days: u32,
    /// `monitor` (the default): Warden would do what each response says, and changes nothing.
    pub mode: Mode,
    /// At most this many changes are planned, worst findings first; past it a finding's
    /// response is not planned, and says so.
    pub max_changes: usize,
    /// The allow-set whose members may be admins (`admins` in the default pack).
    pub admin_allow_set: String,
}

impl SweepOptions {
    pub fn new(now: DateTime<Utc>) -> Self {
        SweepOptions {
            now,
            unused_days: 90,
            mode: Mode::Monitor,
            max_changes: 20,
            admin_allow_set: "admins".to_owned(),
        }
    }
}

/// The kinds of finding, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Something Warden holds in force is no longer in force (or a trail stopped logging).
    Drift,
    /// A principal outside the admin allow-set can give itself anything.
    EffectiveAdmin,
    /// A bucket open outside the account, or a public access block off.
    Exposure,
    /// A principal outside a rule's allow-set whose policies allow what the rule guards.
    StandingViolation,
    /// An access key, password or role unused for the window (or the data cannot tell).
    Unused,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Drift,
        Kind::EffectiveAdmin,
        Kind::Exposure,
        Kind::StandingViolation,
        Kind::Unused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Drift => "drift",
            Kind::EffectiveAdmin => "effective-admin",
            Kind::Exposure => "exposure",
            Kind::StandingViolation => "standing-violation",
            Kind::Unused => "unused",
        }
    }
}

/// Access Analyzer's name for "the data cannot tell".
pub const INSUFFICIENT_DATA: &str = "INSUFFICIENT_DATA";

/// What Warden would do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// The narrowest Deny of the finding's actions on its resources.
    Deny,
    /// Undo the change (the bucket's outside grants, its public ACL grants, its block).
    Undo,
    /// Put back what Warden holds (the live path's restore).
    PutBack,
    /// Tell a person: no change.
    Alert,
}

/// One change Warden would make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// `deny`, `remove-outside-grants`, `remove-public-acl-grants`, `put-public-access-block`,
    /// `put-back-deny`, `put-back-quarantine`, `set-key-inactive`, `delete-login-profile`,
    /// `start-logging`.
    pub step: &'static str,
    /// The ARN changed.
    pub target: String,
    /// What exactly, for people: for `deny`, the Deny by resource; for a block, the settings.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub detail: Vec<String>,
    /// For `deny`: the exact `(action, resource)` pairs (what `detail` words), for applying.
    #[serde(skip)]
    pub pairs: Vec<(String, String)>,
}

/// A finding's response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Response {
    pub mode: Mode,
    pub action: Action,
    pub changes: Vec<Change>,
    /// False when the changes are over the sweep's change limit (or there are none to plan).
    pub planned: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Response {
    fn alert(mode: Mode, note: impl Into<String>) -> Self {
        Response {
            mode,
            action: Action::Alert,
            changes: Vec::new(),
            planned: false,
            note: Some(note.into()),
        }
    }

    fn change(mode: Mode, action: Action, changes: Vec<Change>) -> Self {
        Response {
            mode,
            action,
            changes,
            planned: true,
            note: None,
        }
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub kind: Kind,
    /// For `unused`, Access Analyzer's names (`UnusedIAMUserAccessKey`, `UnusedIAMUserPassword`,
    /// `UnusedIAMRole`) or `INSUFFICIENT_DATA`; for the other kinds Warden's own (see the README).
    #[serde(rename = "type")]
    pub finding_type: String,
    pub rule: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    pub actions: Vec<String>,
    /// Why: which statement of which policy grants it, what the data shows.
    pub evidence: Vec<String>,
    /// How old the data the finding rests on is, when known.
    pub data_age_seconds: Option<i64>,
    pub response: Response,
}

impl Finding {
    fn subject(&self) -> &str {
        self.principal
            .as_deref()
            .or(self.resource.as_deref())
            .unwrap_or("")
    }
}

/// A sweep's result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    /// Worst first: by kind (drift, effective-admin, exposure, standing-violation, unused),
    /// `INSUFFICIENT_DATA` last within a kind, then by principal or resource.
    pub findings: Vec<Finding>,
    /// Changes planned (within the limit).
    pub planned_changes: usize,
    /// Findings whose changes were not planned because of the limit.
    pub over_limit: usize,
    /// What the sweep could not judge and why (a managed policy missing from the snapshot, …).
    pub notes: Vec<String>,
}

/// What the finding modules share.
pub(crate) struct Ctx<'a> {
    pub(crate) input: &'a SweepInput<'a>,
    pub(crate) options: &'a SweepOptions,
    pub(crate) account: String,
    pub(crate) partition: String,
    /// The organization policies every evaluation passes (none: `OrgGates::default()`).
    pub(crate) org: OrgGates<'a>,
}

impl Ctx<'_> {
    pub(crate) fn age(&self, at: Option<DateTime<Utc>>) -> Option<i64> {
        at.map(|t| (self.options.now - t).num_seconds().max(0))
    }

    /// The sweep's mode for a rule: `monitor` when either is.
    pub(crate) fn mode(&self, rule: Option<&Rule>) -> Mode {
        match (self.options.mode, rule.map(|r| r.mode)) {
            (Mode::Enforce, Some(Mode::Enforce) | None) => Mode::Enforce,
            _ => Mode::Monitor,
        }
    }

    pub(crate) fn rule(&self, id: &str) -> Option<&Rule> {
        self.input.rules.rules.iter().find(|r| r.id == id)
    }

    /// An ARN pattern of a rule with its partition and account wildcards made this account's
    /// (`arn:*:iam::*:role/warden-*` → `arn:aws:iam::111122223333:role/warden-*`): a sweep asks
    /// about this account's resources only.
    pub(crate) fn instantiate(&self, pattern: &str) -> String {
        let parts: Vec<&str> = pattern.splitn(6, ':').collect();
        let [arn, partition, service, region, account, resource] = parts.as_slice() else {
            return pattern.to_owned();
        };
        let partition = if *partition == "*" {
            self.partition.as_str()
        } else {
            partition
        };
        let account = if *account == "*" {
            self.account.as_str()
        } else {
            account
        };
        format!("{arn}:{partition}:{service}:{region}:{account}:{resource}")
    }
}

/// Sweeps the account: every finding, worst first, with the change limit applied.
pub fn sweep(input: &SweepInput<'_>, options: &SweepOptions) -> SweepReport {
    let arn = input
        .snapshot
        .users
        .values()
        .chain(input.snapshot.roles.values())
        .find_map(|p| {
            crate::arn::Arn::parse(&p.arn).map(|a| (a.partition.to_owned(), a.account.to_owned()))
        });
    let (partition, account) = arn.unwrap_or_else(|| ("aws".to_owned(), String::new()));
    let scps = input
        .org_policies
        .map(|o| org_policies::named(&o.scps))
        .unwrap_or_default();
    let rcps = input
        .org_policies
        .map(|o| org_policies::named(&o.rcps))
        .unwrap_or_default();
    let scp_levels: Vec<&[crate::evaluate::NamedPolicy<'_>]> =
        scps.iter().map(Vec::as_slice).collect();
    let rcp_levels: Vec<&[crate::evaluate::NamedPolicy<'_>]> =
        rcps.iter().map(Vec::as_slice).collect();
    let ctx = Ctx {
        input,
        options,
        account,
        partition,
        org: OrgGates::new(input.org_policies, &scp_levels, &rcp_levels),
    };
    let mut report = SweepReport::default();
    let mut findings = Vec::new();
    let actions: Vec<Vec<String>> = input
        .rules
        .rules
        .iter()
        .map(|r| admin::rule_actions(r, input.catalog))
        .collect();
    let prepared = admin::Prepared::new(&ctx, &actions);
    let principals = admin::Principals::new(&ctx, &prepared, &actions, &mut report.notes);
    findings.extend(standing::findings(&ctx, &principals));
    findings.extend(admin::findings(&ctx, &principals));
    findings.extend(exposure::findings(&ctx, &mut report.notes));
    findings.extend(unused::findings(&ctx));
    findings.extend(drift::findings(&ctx));
    findings.extend(own_rules::findings(&ctx));
    findings.extend(own_pipeline::findings(&ctx));
    findings.sort_by(|a, b| {
        (
            a.kind,
            a.finding_type == INSUFFICIENT_DATA,
            a.subject(),
            &a.rule,
            &a.finding_type,
        )
            .cmp(&(
                b.kind,
                b.finding_type == INSUFFICIENT_DATA,
                b.subject(),
                &b.rule,
                &b.finding_type,
            ))
    });
    for f in &mut findings {
        let n = f.response.changes.len();
        if n == 0 || !f.response.planned {
            continue;
        }
        if report.planned_changes + n > options.max_changes {
            f.response.planned = false;
            f.response.note = Some(format!(
                "over the sweep's change limit ({} changes): not planned; a person must look, or sweep again with a higher limit",
                options.max_changes
            ));
            report.over_limit += 1;
        } else {
            report.planned_changes += n;
        }
    }
    report.findings = findings;
    report
}

/// The requests a live sweep of an account of this size needs: the GAAD pages (`MaxItems` 1,000;
/// every user, group, role and policy counts as an item), the credential report (generate, get),
/// four per bucket (policy, ACL, public access block, ownership controls), two per trail (status,
/// selectors), and the constant ones: `ListBuckets`, the account's public access block,
/// `DescribeTrails`, Warden's own rules (`ListRules`, one `ListTargetsByRule` per rule), the
/// organization (`DescribeOrganization`, outside an organization), Warden's three queues and its
/// function (concurrency, mappings). A computed figure, not a measured one.
pub fn live_request_count(
    users: usize,
    roles: usize,
    groups: usize,
    policies: usize,
    buckets: usize,
    trails: usize,
    warden_rules: usize,
) -> usize {
    let items = users + roles + groups + policies;
    items.div_ceil(1000).max(1) + 2 + 4 * buckets + 2 * trails + live_request_constant(warden_rules)
}

/// The constant part of [`live_request_count`]: `ListBuckets`, the account's block,
/// `DescribeTrails`, 1 + `warden_rules` for Warden's rules, 1 for the organization, 3 queues and 2
/// for the function.
pub fn live_request_constant(warden_rules: usize) -> usize {
    3 + 1 + warden_rules + 1 + 3 + 2
}

#[cfg(test)]
mod tests;
