//! Rule sets: the hand-written TOML file people keep under review, and its validated model. A rule
//! set names allow-sets (who may), break-glass principals (exempt: alert only), Warden's own
//! principals (never acted on), and rules (what is protected, who may do it, and what Warden does
//! about a violation). Every error names the file, the line and the field.
//!
//! This file owns the format and validation; matching an event against a rule is `decision`'s.

use crate::catalog::{AccessLevels, Catalog};
use crate::principal_pattern::{self, Names};
use crate::wildcard;
use serde::Deserialize;
use serde_spanned::Spanned;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

/// The Warden-owned inline policy on each principal it restricts (the rule set's self-protection
/// rules name it).
pub const DENY_POLICY_NAME: &str = "WardenDeny";

/// The default rule pack, shipped with Warden.
pub const DEFAULT_RULES: &str = include_str!("../rules/default.toml");

/// What Warden does when a rule is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Revoke, undo and alert.
    Enforce,
    /// Decide and alert, change nothing.
    Monitor,
}

/// How wide the Deny for a violation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DenyScope {
    /// The exact action(s) on the exact resource(s) of the event.
    Observed,
    /// The rule's whole action set (`match.actions`).
    Rule,
    /// Every action the event exercised on the resources it touched, once the rule matched one of
    /// them: for a service call that passes a role, `iam:PassRole` on that role and the call itself
    /// on its resource. Actions whose resource is unknown are left out (and said so).
    Event,
    /// No Deny: the violation is alerted (and undone, if `undo`).
    None,
}

/// Who is allowed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowSet {
    pub name: String,
    /// IAM group names (membership as it was before the event).
    pub groups: Vec<String>,
    /// IAM user ARN patterns.
    pub users: Vec<String>,
    /// IAM role ARN patterns (the role behind a session, with its path).
    pub roles: Vec<String>,
    /// IAM Identity Center permission-set names (patterns).
    pub permission_sets: Vec<String>,
    /// Account ids whose principals are allowed.
    pub accounts: Vec<String>,
    /// AWS service principals (`cloudformation.amazonaws.com`) acting for themselves or invoking for the caller.
    pub services: Vec<String>,
}

/// What a rule matches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleMatch {
    /// Event source patterns (`iam.amazonaws.com`).
    pub sources: Vec<String>,
    /// Event name patterns (exact, `Put*`, `*Policy`).
    pub events: Vec<String>,
    /// IAM action patterns (`s3:PutBucketPolicy`, `iam:*`), matched against the mapped actions.
    pub actions: Vec<String>,
    /// Access levels of the mapped actions (empty: any).
    pub access: AccessLevels,
    /// Resource ARN patterns (empty: any).
    pub resources: Vec<String>,
    /// Request parameter patterns (`policyName = "Warden*"`), top-level keys.
    pub request: BTreeMap<String, String>,
    /// Only bucket-policy events whose new policy grants access outside the account (or `trusted_accounts`).
    pub grants_outside_account: bool,
    /// Whether failed calls (with an `errorCode`) count.
    pub failed_calls: bool,
}

/// What Warden does about a violation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub deny_scope: DenyScope,
    pub undo: bool,
    pub revoke_sessions: bool,
    pub alert: bool,
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub id: String,
    pub description: String,
    pub matches: RuleMatch,
    /// Names of the allow-sets whose members may do what the rule matches.
    pub allow: Vec<String>,
    pub response: Response,
    pub mode: Mode,
    /// Line of the rule in its file, for messages.
    pub line: usize,
}

/// A validated rule set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSet {
    pub mode: Mode,
    pub allow_sets: BTreeMap<String, AllowSet>,
    /// Principal ARN patterns exempt from every rule: violations are alerted, never revoked.
    pub break_glass: Vec<String>,
    /// Warden's own principals: never denied, never exempt from scrutiny of others.
    pub warden_principals: Vec<String>,
    /// Accounts a bucket policy may grant to without counting as "outside".
    pub trusted_accounts: Vec<String>,
    /// Role ARN patterns no one outside the admin allow-set may pass to a service: the file's
    /// `privileged_roles`, plus the role patterns of `warden_principals` and `break_glass`. A rule
    /// names this set as `"@privileged_roles"` in `match.resources`.
    pub privileged_roles: Vec<String>,
    pub rules: Vec<Rule>,
    /// What deserves a look without making the file invalid (a name the catalog cannot vouch for,
    /// because its service is not in the catalog): `warden rules check` prints them.
    pub warnings: Vec<RuleWarning>,
}

/// A warning about a rule file, located like an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleWarning {
    pub file: String,
    pub line: usize,
    pub field: String,
    pub message: String,
}

impl fmt::Display for RuleWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.file, self.line, self.field, self.message
        )
    }
}

/// The name by which `match.resources` refers to the rule set's privileged roles.
pub const PRIVILEGED_ROLES_REF: &str = "@privileged_roles";

/// Whether an ARN pattern names IAM roles (`arn:<partition>:iam::<account>:role/<path and name>`).
fn is_role_pattern(p: &str) -> bool {
    let mut parts = p.splitn(6, ':');
    let (Some("arn"), Some(_), Some(service), Some(region), Some(_), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    matches!(service, "iam" | "*") && region.is_empty() && resource.starts_with("role/")
}

/// An error in a rule file, located.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {field}: {message}")]
pub struct RuleError {
    pub file: String,
    pub line: usize,
    /// The field, as a dotted path (`rule[2].match.access`).
    pub field: String,
    pub message: String,
}

/// All the errors found in one rule file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleErrors(pub Vec<RuleError>);

impl fmt::Display for RuleErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for RuleErrors {}

type S<T> = Spanned<T>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    version: S<i64>,
    #[serde(default)]
    mode: Option<S<Mode>>,
    #[serde(default)]
    allow_sets: BTreeMap<String, S<RawAllowSet>>,
    #[serde(default)]
    break_glass: Vec<S<String>>,
    #[serde(default)]
    warden_principals: Vec<S<String>>,
    #[serde(default)]
    trusted_accounts: Vec<S<String>>,
    #[serde(default)]
    privileged_roles: Vec<S<String>>,
    #[serde(default, rename = "rule")]
    rules: Vec<S<RawRule>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAllowSet {
    #[serde(default)]
    groups: Vec<S<String>>,
    #[serde(default)]
    users: Vec<S<String>>,
    #[serde(default)]
    roles: Vec<S<String>>,
    #[serde(default)]
    permission_sets: Vec<S<String>>,
    #[serde(default)]
    accounts: Vec<S<String>>,
    #[serde(default)]
    services: Vec<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: S<String>,
    #[serde(default)]
    description: String,
    #[serde(rename = "match")]
    matches: S<RawMatch>,
    #[serde(default)]
    allow: Vec<S<String>>,
    #[serde(default)]
    response: Option<S<RawResponse>>,
    #[serde(default)]
    mode: Option<S<Mode>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMatch {
    #[serde(default)]
    sources: Vec<S<String>>,
    #[serde(default)]
    events: Vec<S<String>>,
    #[serde(default)]
    actions: Vec<S<String>>,
    #[serde(default)]
    access: Vec<S<String>>,
    #[serde(default)]
    resources: Vec<S<String>>,
    #[serde(default)]
    request: BTreeMap<String, S<String>>,
    #[serde(default)]
    grants_outside_account: bool,
    #[serde(default)]
    failed_calls: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResponse {
    #[serde(default = "default_scope")]
    deny_scope: DenyScope,
    #[serde(default)]
    undo: bool,
    #[serde(default)]
    revoke_sessions: bool,
    #[serde(default = "yes")]
    alert: bool,
}

fn default_scope() -> DenyScope {
    DenyScope::Observed
}

fn yes() -> bool {
    true
}

struct Checker<'a> {
    file: &'a str,
    text: &'a str,
    errors: Vec<RuleError>,
    warnings: Vec<RuleWarning>,
}

impl Checker<'_> {
    fn line_of(&self, offset: usize) -> usize {
        self.text
            .get(..offset)
            .map_or(1, |t| t.bytes().filter(|b| *b == b'\n').count() + 1)
    }

    fn error<T>(&mut self, at: &Spanned<T>, field: impl Into<String>, message: impl Into<String>) {
        let line = self.line_of(at.span().start);
        self.errors.push(RuleError {
            file: self.file.to_owned(),
            line,
            field: field.into(),
            message: message.into(),
        });
    }

    fn warn<T>(&mut self, at: &Spanned<T>, field: impl Into<String>, message: impl Into<String>) {
        let line = self.line_of(at.span().start);
        self.warnings.push(RuleWarning {
            file: self.file.to_owned(),
            line,
            field: field.into(),
            message: message.into(),
        });
    }

    fn arn_patterns(&mut self, items: &[S<String>], field: &str) -> Vec<String> {
        items
            .iter()
            .map(|p| {
                if !(p.get_ref() == "*" || p.get_ref().starts_with("arn:")) {
                    self.error(
                        p,
                        field,
                        format!(
                            "`{}` is not an ARN pattern (it must start with `arn:`)",
                            p.get_ref()
                        ),
                    );
                }
                p.get_ref().clone()
            })
            .collect()
    }

    /// Principal patterns (see `principal_pattern` for what they mean and what is refused).
    fn principals(&mut self, items: &[S<String>], field: &str, names: Names) -> Vec<String> {
        items
            .iter()
            .map(|p| {
                if let Err(message) = principal_pattern::check(p.get_ref(), names) {
                    self.error(p, field, message);
                }
                p.get_ref().clone()
            })
            .collect()
    }

    fn accounts(&mut self, items: &[S<String>], field: &str) -> Vec<String> {
        items
            .iter()
            .map(|a| {
                let s = a.get_ref();
                if s.len() != 12 || !s.bytes().all(|b| b.is_ascii_digit()) {
                    self.error(a, field, format!("`{s}` is not a 12-digit account id"));
                }
                s.clone()
            })
            .collect()
    }

    fn plain(items: &[S<String>]) -> Vec<String> {
        items.iter().map(|s| s.get_ref().clone()).collect()
    }
}

/// The built-in catalog, loaded once: it is constant data, and rule files are parsed often (every
/// test case, every configuration load).
fn builtin_catalog() -> Result<&'static Catalog, String> {
    static BUILTIN: OnceLock<Result<Catalog, String>> = OnceLock::new();
    BUILTIN
        .get_or_init(|| Catalog::builtin().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(Clone::clone)
}

/// Event sources look like this: `<service>.amazonaws.com` ("CloudTrail record contents",
/// `eventSource`).
const SOURCE_SUFFIX: &str = ".amazonaws.com";

/// Checks a rule's `sources`, `events` and `actions` against the catalog, so that a typo cannot
/// pass by accident: a literal that the catalog does not know, in a service it has, is an error
/// (with the right spelling when only the case differs, or a near name); a wildcard must match at
/// least one catalog entry. Where the catalog cannot know (a service it lacks), a warning says so.
fn check_against_catalog(c: &mut Checker<'_>, field: &str, m: &RawMatch, catalog: &Catalog) {
    let known_sources = catalog.event_sources();
    // The catalog services this rule's events may come from, and whether they may also come from a
    // service the catalog lacks.
    let mut services: Vec<&str> = Vec::new();
    let mut beyond_catalog = m.sources.is_empty();
    for s in &m.sources {
        let src = s.get_ref().as_str();
        let f = format!("{field}.match.sources");
        let hits: Vec<&str> = known_sources
            .iter()
            .copied()
            .filter(|k| wildcard::matches(src, k))
            .collect();
        for k in &hits {
            services.extend(catalog.service_for_source(k));
        }
        if wildcard::has_wildcard(src) {
            // `*`, `*.amazonaws.com`: may match sources the catalog lacks.
            beyond_catalog = true;
            if hits.is_empty() {
                c.warn(s, f, format!("`{src}` matches no event source of the catalog ({}): Warden cannot check this rule's event names or actions for it", quoted(&known_sources)));
            }
            continue;
        }
        if !hits.is_empty() {
            continue;
        }
        if let Some(k) = known_sources.iter().find(|k| k.eq_ignore_ascii_case(src)) {
            c.error(s, f, format!("`{src}` is not an event source: CloudTrail spells it `{k}` (sources match case-sensitively)"));
        } else if !is_event_source(src) {
            let near = nearest(src, known_sources.iter().copied())
                .map(|n| format!(" (did you mean `{n}`?)"))
                .unwrap_or_default();
            c.error(
                s,
                f,
                format!("`{src}` is not an event source: they look like `iam.amazonaws.com`{near}"),
            );
        } else {
            beyond_catalog = true;
            c.warn(s, f, format!("the catalog has no service for event source `{src}`: Warden cannot check this rule's event names for it, and cannot map its events to actions or resources"));
        }
    }
    if m.sources.is_empty() {
        services = catalog.services();
    }
    services.sort_unstable();
    services.dedup();
    let names: Vec<&str> = services
        .iter()
        .flat_map(|p| catalog.event_names(p))
        .collect();
    let in_services = if m.sources.is_empty() {
        "any service of the catalog".to_owned()
    } else {
        format!("`{}` in the catalog", services.join("`, `"))
    };
    // With no catalog service among the sources, the sources' own error or warning says it all.
    let events = if services.is_empty() {
        &[][..]
    } else {
        &m.events[..]
    };
    for e in events {
        let name = e.get_ref().as_str();
        let f = format!("{field}.match.events");
        if names.iter().any(|n| wildcard::matches(name, n)) {
            continue;
        }
        if let Some(right) = names
            .iter()
            .find(|n| wildcard::matches_ignore_ascii_case(name, n))
        {
            c.error(e, f, format!("`{name}` matches no event name (names match case-sensitively): CloudTrail spells it `{right}`"));
            continue;
        }
        if beyond_catalog {
            c.warn(e, f, format!("`{name}` is no event name of {in_services}; the catalog may lack it (this rule's events may come from services it does not have), so it is not checked"));
            continue;
        }
        let near = (!wildcard::has_wildcard(name))
            .then(|| nearest(name, names.iter().copied()))
            .flatten()
            .map(|n| format!(" (did you mean `{n}`?)"))
            .unwrap_or_default();
        let what = if wildcard::has_wildcard(name) {
            "matches no event name"
        } else {
            "is no event name"
        };
        c.error(e, f, format!("`{name}` {what} of {in_services}{near}"));
    }
    let services_all = catalog.services();
    for a in &m.actions {
        let action = a.get_ref().as_str();
        let f = format!("{field}.match.actions");
        let Some((service, _)) = action.split_once(':') else {
            continue; // refused by the caller: not `service:Action`
        };
        if catalog
            .all_actions()
            .any(|x| wildcard::matches_ignore_ascii_case(action, &x.name))
        {
            continue;
        }
        let service_known = services_all
            .iter()
            .any(|s| wildcard::matches_ignore_ascii_case(service, s));
        if !service_known {
            c.warn(a, f, format!("the catalog has no service `{service}`: `{action}` cannot be checked, and events of that service are `unmapped`, so this pattern never matches them"));
            continue;
        }
        let near = (!wildcard::has_wildcard(action))
            .then(|| nearest(action, catalog.all_actions().map(|x| x.name.as_str())))
            .flatten()
            .map(|n| format!(" (did you mean `{n}`?)"))
            .unwrap_or_default();
        let what = if wildcard::has_wildcard(action) {
            "matches no action of the catalog"
        } else {
            "is not an action of the catalog"
        };
        c.error(a, f, format!("`{action}` {what}{near}"));
    }
}

fn quoted(items: &[&str]) -> String {
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `<service>.amazonaws.com`, the service a dotted run of lowercase letters, digits and `-`.
fn is_event_source(s: &str) -> bool {
    s.strip_suffix(SOURCE_SUFFIX).is_some_and(|service| {
        !service.is_empty()
            && service.split('.').all(|part| {
                !part.is_empty()
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            })
    })
}

/// The candidate nearest to `s` (ignoring ASCII case) within a small edit distance, for "did you
/// mean" hints.
fn nearest<'c>(s: &str, candidates: impl Iterator<Item = &'c str>) -> Option<&'c str> {
    let s = s.to_ascii_lowercase();
    let limit = (s.len() / 5).clamp(1, 3);
    candidates
        .map(|c| (edit_distance(&s, &c.to_ascii_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c)
}

/// Levenshtein distance over bytes (names here are ASCII).
fn edit_distance(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.bytes().enumerate() {
        let mut diagonal = i;
        if let Some(first) = row.first_mut() {
            *first = i + 1;
        }
        for (j, cb) in b.iter().enumerate() {
            let above = row.get(j + 1).copied().unwrap_or(usize::MAX);
            let left = row.get(j).copied().unwrap_or(usize::MAX);
            let best = (diagonal + usize::from(ca != *cb))
                .min(above.saturating_add(1))
                .min(left.saturating_add(1));
            diagonal = above;
            if let Some(cell) = row.get_mut(j + 1) {
                *cell = best;
            }
        }
    }
    row.last().copied().unwrap_or(0)
}

/// Which list [`RuleSet::add_principals`] extends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalList {
    BreakGlass,
    Warden,
}

impl RuleSet {
    /// Adds principal patterns (from the deployment: the stack's break-glass ARNs, Warden's own
    /// role) to `break_glass` or `warden_principals`, checked as a rule file's are; role patterns
    /// join `privileged_roles` as they do from a file. `Err` names the first bad pattern.
    pub fn add_principals(&mut self, list: PrincipalList, patterns: &[&str]) -> Result<(), String> {
        for p in patterns {
            principal_pattern::check(p, principal_pattern::Names::UsersOrRoles)
                .map_err(|e| format!("`{p}`: {e}"))?;
        }
        for p in patterns {
            let target = match list {
                PrincipalList::BreakGlass => &mut self.break_glass,
                PrincipalList::Warden => &mut self.warden_principals,
            };
            if !target.iter().any(|t| t == p) {
                target.push((*p).to_owned());
            }
            if is_role_pattern(p) && !self.privileged_roles.iter().any(|t| t == p) {
                self.privileged_roles.push((*p).to_owned());
            }
        }
        Ok(())
    }

    /// The default rule pack.
    pub fn default_pack() -> Result<Self, RuleErrors> {
        Self::parse("<default rules>", DEFAULT_RULES)
    }

    /// Parses and validates a rule file against the built-in catalog; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Self, RuleErrors> {
        match builtin_catalog() {
            Ok(catalog) => Self::parse_with(file, text, catalog),
            Err(message) => Err(RuleErrors(vec![RuleError {
                file: file.to_owned(),
                line: 1,
                field: "catalog".to_owned(),
                message: format!("the built-in catalog does not load (a bug): {message}"),
            }])),
        }
    }

    /// Parses and validates a rule file; event sources, event names and actions are checked
    /// against `catalog`.
    pub fn parse_with(file: &str, text: &str, catalog: &Catalog) -> Result<Self, RuleErrors> {
        let raw: RawFile = match toml::from_str(text) {
            Ok(r) => r,
            Err(e) => {
                let line = e.span().map_or(1, |s| {
                    text.get(..s.start)
                        .map_or(1, |t| t.matches('\n').count() + 1)
                });
                let message = e.message().trim_end_matches('\n').to_owned();
                let field = if message.contains("unknown field") {
                    "field"
                } else {
                    "syntax"
                };
                return Err(RuleErrors(vec![RuleError {
                    file: file.to_owned(),
                    line,
                    field: field.to_owned(),
                    message,
                }]));
            }
        };
        let mut c = Checker {
            file,
            text,
            errors: Vec::new(),
            warnings: Vec::new(),
        };
        if *raw.version.get_ref() != 1 {
            c.error(
                &raw.version,
                "version",
                format!(
                    "unsupported version {} (this Warden reads version 1)",
                    raw.version.get_ref()
                ),
            );
        }
        let mut allow_sets = BTreeMap::new();
        for (name, set) in &raw.allow_sets {
            let field = format!("allow_sets.{name}");
            let s = set.get_ref();
            let built = AllowSet {
                name: name.clone(),
                groups: Checker::plain(&s.groups),
                users: c.principals(&s.users, &format!("{field}.users"), Names::Users),
                roles: c.principals(&s.roles, &format!("{field}.roles"), Names::Roles),
                permission_sets: Checker::plain(&s.permission_sets),
                accounts: c.accounts(&s.accounts, &format!("{field}.accounts")),
                services: Checker::plain(&s.services),
            };
            allow_sets.insert(name.clone(), built);
        }
        let break_glass = c.principals(&raw.break_glass, "break_glass", Names::UsersOrRoles);
        let warden_principals = c.principals(
            &raw.warden_principals,
            "warden_principals",
            Names::UsersOrRoles,
        );
        let trusted_accounts = c.accounts(&raw.trusted_accounts, "trusted_accounts");
        let mut privileged_roles = Vec::new();
        for p in &raw.privileged_roles {
            if is_role_pattern(p.get_ref()) {
                privileged_roles.push(p.get_ref().clone());
            } else {
                c.error(
                    p,
                    "privileged_roles",
                    format!(
                        "`{}` is not a role ARN pattern (such as `arn:*:iam::*:role/Admin*`)",
                        p.get_ref()
                    ),
                );
            }
        }
        for p in warden_principals.iter().chain(&break_glass) {
            if is_role_pattern(p) && !privileged_roles.contains(p) {
                privileged_roles.push(p.clone());
            }
        }
        let mut rules: Vec<Rule> = Vec::new();
        for (i, spanned) in raw.rules.iter().enumerate() {
            let r = spanned.get_ref();
            let id = r.id.get_ref().clone();
            let field = format!("rule[{i}]");
            if id.is_empty()
                || !id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                c.error(
                    &r.id,
                    format!("{field}.id"),
                    format!("`{id}` must be non-empty letters, digits, `-` or `_`"),
                );
            } else if rules.iter().any(|x| x.id == id) {
                c.error(
                    &r.id,
                    format!("{field}.id"),
                    format!("`{id}` is used by an earlier rule"),
                );
            }
            let m = r.matches.get_ref();
            for a in &m.actions {
                if !a.get_ref().contains(':') {
                    c.error(
                        a,
                        format!("{field}.match.actions"),
                        format!(
                            "`{}` is not an IAM action pattern such as `iam:Put*`",
                            a.get_ref()
                        ),
                    );
                }
            }
            check_against_catalog(&mut c, &field, m, catalog);
            let mut access = AccessLevels::default();
            for a in &m.access {
                match AccessLevels::parse_one(a.get_ref()) {
                    Some(l) => access = access.union(l),
                    None => c.error(
                        a,
                        format!("{field}.match.access"),
                        format!("unknown access level `{}` (one of: list, read, write, permissions, tagging)", a.get_ref()),
                    ),
                }
            }
            if m.events.is_empty() && m.actions.is_empty() {
                c.error(&r.matches, format!("{field}.match"), "needs `events` or `actions`: a rule that matches everything is surely a mistake");
            }
            let (refs, patterns): (Vec<&S<String>>, Vec<&S<String>>) = m
                .resources
                .iter()
                .partition(|r| r.get_ref().starts_with('@'));
            let patterns: Vec<S<String>> = patterns.into_iter().cloned().collect();
            let mut resources = c.arn_patterns(&patterns, &format!("{field}.match.resources"));
            for r in refs {
                if r.get_ref() == PRIVILEGED_ROLES_REF {
                    resources.extend(privileged_roles.iter().cloned());
                } else {
                    c.error(
                        r,
                        format!("{field}.match.resources"),
                        format!(
                            "unknown set `{}` (the one set a rule can name is `{PRIVILEGED_ROLES_REF}`)",
                            r.get_ref()
                        ),
                    );
                }
            }
            for a in &r.allow {
                if !raw.allow_sets.contains_key(a.get_ref()) {
                    c.error(
                        a,
                        format!("{field}.allow"),
                        format!("no allow-set named `{}`", a.get_ref()),
                    );
                }
            }
            let response = match &r.response {
                Some(resp) => {
                    let x = resp.get_ref();
                    if x.deny_scope == DenyScope::Rule && m.actions.is_empty() {
                        c.error(
                            resp,
                            format!("{field}.response.deny_scope"),
                            "`rule` denies the rule's `match.actions`, and this rule has none",
                        );
                    }
                    Response {
                        deny_scope: x.deny_scope,
                        undo: x.undo,
                        revoke_sessions: x.revoke_sessions,
                        alert: x.alert,
                    }
                }
                None => Response {
                    deny_scope: DenyScope::Observed,
                    undo: false,
                    revoke_sessions: false,
                    alert: true,
                },
            };
            rules.push(Rule {
                id,
                description: r.description.clone(),
                matches: RuleMatch {
                    sources: Checker::plain(&m.sources),
                    events: Checker::plain(&m.events),
                    actions: Checker::plain(&m.actions),
                    access,
                    resources,
                    request: m
                        .request
                        .iter()
                        .map(|(k, v)| (k.clone(), v.get_ref().clone()))
                        .collect(),
                    grants_outside_account: m.grants_outside_account,
                    failed_calls: m.failed_calls,
                },
                allow: Checker::plain(&r.allow),
                response,
                mode: r
                    .mode
                    .as_ref()
                    .map(|m| *m.get_ref())
                    .or(raw.mode.as_ref().map(|m| *m.get_ref()))
                    .unwrap_or(Mode::Enforce),
                line: c.line_of(spanned.span().start),
            });
        }
        if !c.errors.is_empty() {
            return Err(RuleErrors(c.errors));
        }
        Ok(RuleSet {
            mode: raw.mode.map(|m| *m.get_ref()).unwrap_or(Mode::Enforce),
            allow_sets,
            break_glass,
            warden_principals,
            trusted_accounts,
            privileged_roles,
            rules,
            warnings: c.warnings,
        })
    }

    /// Replaces the groups of the allow-set `admins` (the command line's `--allow-group`).
    pub fn replace_admin_groups(&mut self, groups: Vec<String>) -> Result<(), String> {
        match self.allow_sets.get_mut("admins") {
            Some(set) => {
                set.groups = groups;
                Ok(())
            }
            None => Err("--allow-group replaces the groups of the allow-set `admins`, and these rules have none".to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_pack_is_valid() {
        let rules = RuleSet::default_pack().unwrap();
        assert_eq!(
            rules.warnings,
            Vec::new(),
            "the default pack needs no warning"
        );
        assert_eq!(rules.allow_sets["admins"].groups, vec!["Administrators"]);
        assert!(rules.rules.iter().any(|r| r.id == "iam-writes"));
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let text = "version = 1\n[allow_sets.admins]\ngroups = [\"A\"]\n\n[[rule]]\nid = \"x\"\nallow = [\"nobody\"]\n[rule.match]\nactions = [\"iam:*\"]\naccess = [\"writes\"]\nresources = [\"bucket\"]\n";
        let err = RuleSet::parse("r.toml", text).unwrap_err();
        let msgs: Vec<String> = err.0.iter().map(ToString::to_string).collect();
        assert!(
            msgs.contains(&"r.toml:7: rule[0].allow: no allow-set named `nobody`".to_owned()),
            "{msgs:?}"
        );
        assert!(
            msgs.iter()
                .any(|m| m
                    .starts_with("r.toml:10: rule[0].match.access: unknown access level `writes`")),
            "{msgs:?}"
        );
        assert!(
            msgs.iter().any(|m| m
                .starts_with("r.toml:11: rule[0].match.resources: `bucket` is not an ARN pattern")),
            "{msgs:?}"
        );
    }

    #[test]
    fn typos_and_syntax_errors_are_located() {
        let err =
            RuleSet::parse("r.toml", "version = 1\n[[rule]]\nid = \"x\"\nalow = []\n").unwrap_err();
        assert_eq!(err.0[0].line, 4, "{err}");
        assert!(err.0[0].message.contains("unknown field `alow`"), "{err}");
        let err = RuleSet::parse("r.toml", "version = 1\nmode = \"loud\"\n").unwrap_err();
        assert_eq!(err.0[0].line, 2, "{err}");
        let err = RuleSet::parse("r.toml", "version = 1\n[[rule]\n").unwrap_err();
        assert_eq!(err.0[0].field, "syntax");
    }

    fn messages(text: &str) -> (Vec<String>, Vec<String>) {
        match RuleSet::parse("r.toml", text) {
            Ok(r) => (
                Vec::new(),
                r.warnings.iter().map(ToString::to_string).collect(),
            ),
            Err(e) => (e.0.iter().map(ToString::to_string).collect(), Vec::new()),
        }
    }

    fn one_rule(matches: &str) -> String {
        format!("version = 1\n[[rule]]\nid = \"x\"\n[rule.match]\n{matches}\n")
    }

    // Regression (issue 9, class B): names the catalog does not know never pass by accident.
    #[test]
    fn actions_sources_and_event_names_are_checked_against_the_catalog() {
        for (matches, want) in [
            (
                "actions = [\"iam:AttachUserPolicies\"]",
                "r.toml:5: rule[0].match.actions: `iam:AttachUserPolicies` is not an action of the catalog (did you mean `iam:AttachUserPolicy`?)",
            ),
            (
                "actions = [\"iam:PutRolePolicyy\"]",
                "r.toml:5: rule[0].match.actions: `iam:PutRolePolicyy` is not an action of the catalog (did you mean `iam:PutRolePolicy`?)",
            ),
            (
                "actions = [\"iam:Nothing*\"]",
                "`iam:Nothing*` matches no action of the catalog",
            ),
            (
                "sources = [\"iam.amazonaws.co\"]\nevents = [\"PutRolePolicy\"]",
                "r.toml:5: rule[0].match.sources: `iam.amazonaws.co` is not an event source: they look like `iam.amazonaws.com` (did you mean `iam.amazonaws.com`?)",
            ),
            (
                "sources = [\"IAM.amazonaws.com\"]\nevents = [\"PutRolePolicy\"]",
                "CloudTrail spells it `iam.amazonaws.com`",
            ),
            (
                "sources = [\"iam.amazonaws.com\"]\nevents = [\"putrolepolicy\"]",
                "r.toml:6: rule[0].match.events: `putrolepolicy` matches no event name (names match case-sensitively): CloudTrail spells it `PutRolePolicy`",
            ),
            (
                "sources = [\"iam.amazonaws.com\"]\nevents = [\"PutRolePolicyy\"]",
                "`PutRolePolicyy` is no event name of `iam` in the catalog (did you mean `PutRolePolicy`?)",
            ),
            (
                "sources = [\"s3.amazonaws.com\"]\nevents = [\"Nothing*\"]",
                "`Nothing*` matches no event name of `s3` in the catalog",
            ),
            (
                "events = [\"stoplogging\"]",
                "CloudTrail spells it `StopLogging`",
            ),
        ] {
            let (errors, _) = messages(&one_rule(matches));
            assert!(
                errors.iter().any(|e| e.contains(want)),
                "{matches}: {errors:?}"
            );
        }
        // Aliased event names and wildcards that match something are fine, with no warning.
        for matches in [
            "sources = [\"s3.amazonaws.com\"]\nevents = [\"DeleteBucketPublicAccessBlock\", \"Put*\"]",
            "actions = [\"iam:*\", \"s3:Put*Policy\", \"*:GetObject\"]",
            "sources = [\"*\"]\nevents = [\"StopLogging\"]",
        ] {
            assert_eq!(
                messages(&one_rule(matches)),
                (Vec::new(), Vec::new()),
                "{matches}"
            );
        }
    }

    #[test]
    fn names_of_services_the_catalog_lacks_are_warnings() {
        let (errors, warnings) = messages(&one_rule(
            "sources = [\"rds.amazonaws.com\", \"iam.amazonaws.com\"]\nevents = [\"CreateDBInstance\", \"CreateUser\"]",
        ));
        assert_eq!(errors, Vec::<String>::new());
        assert!(
            warnings.iter().any(|w| w.starts_with("r.toml:5: rule[0].match.sources: the catalog has no service for event source `rds.amazonaws.com`")),
            "{warnings:?}"
        );
        assert!(
            warnings.iter().any(|w| w.starts_with("r.toml:6: rule[0].match.events: `CreateDBInstance` is no event name of `iam` in the catalog; the catalog may lack it")),
            "{warnings:?}"
        );
        let (errors, warnings) = messages(&one_rule("actions = [\"rds:CreateDBInstance\"]"));
        assert_eq!(errors, Vec::<String>::new());
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("the catalog has no service `rds`")),
            "{warnings:?}"
        );
    }

    // Regression (issue 9, class A): patterns that let everyone (or nobody) in are refused.
    #[test]
    fn dangerous_principal_patterns_are_errors() {
        for (line, want) in [
            (
                "break_glass = [\"*\"]",
                "r.toml:2: break_glass: `*` matches every principal",
            ),
            (
                "break_glass = [\"arn:aws:iam::*:role/*\"]",
                "r.toml:2: break_glass: `arn:aws:iam::*:role/*` matches every role",
            ),
            (
                "warden_principals = [\"arn:*:iam::*:*\"]",
                "r.toml:2: warden_principals: `arn:*:iam::*:*` matches every principal",
            ),
            (
                "[allow_sets.a]\nroles = [\"arn:*:iam::*:role/**\"]",
                "r.toml:3: allow_sets.a.roles: `arn:*:iam::*:role/**` matches every role",
            ),
            (
                "[allow_sets.a]\nusers = [\"arn:aws:iam::1:role/x\"]",
                "r.toml:3: allow_sets.a.users: `arn:aws:iam::1:role/x` names no user",
            ),
            (
                "[allow_sets.a]\nroles = [\"arn:aws:iam::1:role/ops team\"]",
                "holds ` `, which IAM names and paths cannot",
            ),
        ] {
            let text = format!("version = 1\n{line}\n");
            let (errors, _) = messages(&text);
            assert!(
                errors.iter().any(|e| e.contains(want)),
                "{line}: {errors:?}"
            );
        }
    }

    #[test]
    fn edit_distance_and_nearest() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("abc", "abc"), 0);
        assert_eq!(
            nearest(
                "iam:putrolepolicyy",
                ["iam:PutRolePolicy", "iam:PutUserPolicy"].into_iter()
            ),
            Some("iam:PutRolePolicy")
        );
        assert_eq!(nearest("zzz", ["iam:PutRolePolicy"].into_iter()), None);
    }

    #[test]
    fn privileged_roles_extend_wardens_and_break_glass_roles_and_are_checked() {
        let text = "version = 1\nbreak_glass = [\"arn:*:iam::*:role/bg\", \"arn:*:iam::*:user/root-ish\"]\nwarden_principals = [\"arn:*:iam::*:role/warden-*\"]\nprivileged_roles = [\"arn:aws:iam::111122223333:role/Admin*\"]\n[[rule]]\nid = \"p\"\n[rule.match]\nactions = [\"iam:PassRole\"]\nresources = [\"@privileged_roles\"]\n";
        let rules = RuleSet::parse("r.toml", text).unwrap();
        let want = [
            "arn:aws:iam::111122223333:role/Admin*",
            "arn:*:iam::*:role/warden-*",
            "arn:*:iam::*:role/bg",
        ];
        assert_eq!(rules.privileged_roles, want);
        assert_eq!(rules.rules[0].matches.resources, want);
        let bad = text
            .replace("role/Admin*", "user/Admin*")
            .replace("@privileged_roles", "@admins");
        let err = RuleSet::parse("r.toml", &bad).unwrap_err().to_string();
        assert!(
            err.contains("r.toml:4: privileged_roles: `arn:aws:iam::111122223333:user/Admin*` is not a role ARN pattern"),
            "{err}"
        );
        assert!(err.contains("unknown set `@admins`"), "{err}");
        let rules = RuleSet::default_pack().unwrap();
        assert!(rules
            .privileged_roles
            .contains(&"arn:*:iam::*:role/break-glass*".to_owned()));
    }

    #[test]
    fn allow_group_replaces_admin_groups() {
        let mut rules = RuleSet::default_pack().unwrap();
        rules
            .replace_admin_groups(vec!["Ops".into(), "Sec".into()])
            .unwrap();
        assert_eq!(rules.allow_sets["admins"].groups, vec!["Ops", "Sec"]);
    }
}
