//! Rule sets: the hand-written TOML file people keep under review, and its validated model. A rule
//! set names allow-sets (who may), break-glass principals (exempt: alert only), Warden's own
//! principals (never acted on), and rules (what is protected, who may do it, and what Warden does
//! about a violation). Every error names the file, the line and the field.
//!
//! This file owns the format and validation; matching an event against a rule is `decision`'s.

use crate::catalog::AccessLevels;
use serde::Deserialize;
use serde_spanned::Spanned;
use std::collections::BTreeMap;
use std::fmt;

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

impl RuleSet {
    /// The default rule pack.
    pub fn default_pack() -> Result<Self, RuleErrors> {
        Self::parse("<default rules>", DEFAULT_RULES)
    }

    /// Parses and validates a rule file; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Self, RuleErrors> {
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
                users: c.arn_patterns(&s.users, &format!("{field}.users")),
                roles: c.arn_patterns(&s.roles, &format!("{field}.roles")),
                permission_sets: Checker::plain(&s.permission_sets),
                accounts: c.accounts(&s.accounts, &format!("{field}.accounts")),
                services: Checker::plain(&s.services),
            };
            allow_sets.insert(name.clone(), built);
        }
        let break_glass = c.arn_patterns(&raw.break_glass, "break_glass");
        let warden_principals = c.arn_patterns(&raw.warden_principals, "warden_principals");
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
            for s in &m.sources {
                if !s.get_ref().contains('.') && s.get_ref() != "*" {
                    c.error(
                        s,
                        format!("{field}.match.sources"),
                        format!(
                            "`{}` is not an event source such as `iam.amazonaws.com`",
                            s.get_ref()
                        ),
                    );
                }
            }
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
