//! Configuration of the Lambda and the worker, from environment variables (the README lists them
//! all), on top of the standard AWS configuration (`AWS_REGION`, credentials, `AWS_ENDPOINT_URL`).
//! Every problem is reported with the variable's name and what was wrong; nothing falls back
//! silently to a less safe value.

use crate::aws::{RateLimits, RetryPolicy};
use policy_rules::rules::{Mode, PrincipalList, RuleSet};
use std::collections::BTreeMap;

/// One configuration problem.
#[derive(Debug, thiserror::Error)]
#[error("`{name}`: {why}")]
pub struct ConfigError {
    pub name: &'static str,
    pub why: String,
}

/// Everything the enforcement flow is configured with.
#[derive(Debug, Clone)]
pub struct Config {
    /// `WARDEN_RULES`: a rule file (TOML); the default pack when unset.
    pub rules: RuleSet,
    /// Where the rules came from, for logs and evidence.
    pub rules_source: String,
    /// `WARDEN_QUEUE_URL`: the work queue, whose message groups are the lanes.
    pub queue_url: Option<String>,
    /// `WARDEN_INTAKE_QUEUE_URL`: the queue the EventBridge rules deliver to, forwarded to the work
    /// queue in lanes; when unset, the rules deliver to the work queue in one lane.
    pub intake_queue_url: Option<String>,
    pub dlq_url: Option<String>,
    pub alert_topic_arn: Option<String>,
    pub state_table: String,
    pub evidence_table: String,
    pub evidence_bucket: Option<String>,
    pub rate_limits: RateLimits,
    pub retry: RetryPolicy,
    /// `WARDEN_ALERT_WINDOW_SECONDS`: an incident's alert goes out this long after its first event,
    /// listing every event of the principal until then.
    pub alert_window_seconds: i64,
    /// `WARDEN_SWEEP_MAX_CHANGES`: the most changes one sweep may call for (over it: its findings
    /// say their changes were not planned, and the summary says so). Default 20.
    pub sweep_max_changes: usize,
    /// `WARDEN_SWEEP_MODE`: `monitor` (the default: a sweep puts Warden's own drift back and
    /// reports the rest) or `enforce` (it also makes the findings' changes where the rule
    /// enforces, within `WARDEN_SWEEP_MAX_CHANGES`).
    pub sweep_mode: Mode,
    /// `WARDEN_LEASE_SECONDS`: how long a worker holds an event before another may take it over.
    pub lease_seconds: i64,
    /// `WARDEN_MAX_RECEIVES`: after this many failed receives a message goes to the dead-letter
    /// queue with its reason (the queue's redrive count should be higher, as a backstop).
    pub max_receives: u32,
    /// `WARDEN_ACCOUNT_ID`: the account Warden guards; when unset, the account of Warden's own
    /// credentials (STS `GetCallerIdentity`, once at start).
    pub account_id: Option<String>,
    /// `WARDEN_CANARY_POLICY_ARN`: the managed policy Warden tags as its heartbeat (the stack's
    /// `CanaryPolicy`); without it no heartbeat is sent.
    pub canary_policy_arn: Option<String>,
    /// `WARDEN_RULE_PREFIX`: the name prefix of Warden's EventBridge rules (the stack's name, or
    /// `warden init`'s prefix); the sweep checks the rules under it. Unset: not checked.
    pub rule_prefix: Option<String>,
    /// `WARDEN_REGIONS`: the regions whose CloudTrail event history the catch-up reads besides
    /// the main one (the clients' region, always read): the regional stacks' regions. Empty: the
    /// main region only.
    pub regions: Vec<String>,
    /// `WARDEN_FUNCTION_NAME` (in the Lambda, its own name, `AWS_LAMBDA_FUNCTION_NAME`): Warden's
    /// function, whose concurrency and queue mappings the sweep checks. Unset: not checked.
    pub function_name: Option<String>,
    /// `WARDEN_FUNCTION_CONSUMES_QUEUES`: whether the function is meant to read the queues (the
    /// template's `LambdaConsumesQueues`; default `true`). `false`: a `warden worker` polls them,
    /// and the mappings are disabled on purpose.
    pub function_consumes_queues: bool,
}

/// The variables, with what each one means (for `--help` and the README).
pub const VARIABLES: &[(&str, &str)] = &[
    (
        "WARDEN_RULES",
        "rule file (TOML); the default rule pack when unset",
    ),
    (
        "WARDEN_MODE",
        "`enforce` or `monitor`: overrides the mode of the rule file and every rule",
    ),
    (
        "WARDEN_ALLOW_GROUPS",
        "comma-separated IAM groups replacing the `admins` allow-set's groups",
    ),
    (
        "WARDEN_BREAK_GLASS",
        "comma-separated principal ARNs added to the rules' `break_glass` (alerted, never revoked)",
    ),
    (
        "WARDEN_PRINCIPALS",
        "comma-separated principal ARNs of Warden itself (the stack's function role), added to `warden_principals`",
    ),
    (
        "WARDEN_QUEUE_URL",
        "the SQS FIFO work queue the flow reads, one message group (lane) per principal",
    ),
    (
        "WARDEN_INTAKE_QUEUE_URL",
        "the SQS FIFO queue the EventBridge rules deliver to, forwarded to the work queue in lanes (optional: without it the rules deliver to the work queue, in one lane)",
    ),
    (
        "WARDEN_DLQ_URL",
        "its dead-letter queue (permanent errors go there with their reason)",
    ),
    ("WARDEN_ALERT_TOPIC_ARN", "the SNS topic for alerts"),
    (
        "WARDEN_STATE_TABLE",
        "DynamoDB table for idempotency and alert incidents (default `warden-state`)",
    ),
    (
        "WARDEN_EVIDENCE_TABLE",
        "DynamoDB table for the evidence chain (default `warden-evidence`)",
    ),
    (
        "WARDEN_EVIDENCE_BUCKET",
        "optional S3 bucket with Object Lock mirroring every evidence record",
    ),
    (
        "WARDEN_RATE_LIMITS",
        "client-side limits per service, `iam=10,s3=50/100` (rate per second / burst)",
    ),
    (
        "WARDEN_MAX_ATTEMPTS",
        "attempts per AWS call on throttling and 5xx (default 5)",
    ),
    (
        "WARDEN_ALERT_WINDOW_SECONDS",
        "how long an incident collects a principal's events before its one alert (default 60)",
    ),
    (
        "WARDEN_LEASE_SECONDS",
        "how long a worker holds an event before another may resume it (default 120)",
    ),
    (
        "WARDEN_MAX_RECEIVES",
        "failed receives before a message goes to the dead-letter queue (default 4)",
    ),
    (
        "WARDEN_ACCOUNT_ID",
        "the account Warden guards (default: its credentials' account, from STS); events of any other account are recorded and alerted, never acted on",
    ),
    (
        "WARDEN_CANARY_POLICY_ARN",
        "the managed policy Warden tags every 10 minutes as its heartbeat (the stack's canary); unset: no heartbeat",
    ),
    (
        "WARDEN_RULE_PREFIX",
        "the name prefix of Warden's EventBridge rules (the stack's name); the sweep reports each one gone, disabled, changed or no longer sending to Warden's queue. Unset: not checked",
    ),
    (
        "WARDEN_REGIONS",
        "comma-separated regions whose CloudTrail event history the catch-up reads (the regional stacks'); the main region (`AWS_REGION`) is always read. Unset: the main region only",
    ),
    (
        "WARDEN_FUNCTION_NAME",
        "Warden's function (in the Lambda, its own name); the sweep reports it gone or throttled to 0, and a queue no longer feeding it. Unset: not checked",
    ),
    (
        "WARDEN_FUNCTION_CONSUMES_QUEUES",
        "`true` (default) or `false`: whether the function reads the queues (the stack's `LambdaConsumesQueues`); `false` for a `warden worker`, whose disabled mappings are then no finding",
    ),
];

/// Whether `name` is shaped like an AWS region name (`us-east-1`, `eu-central-2`,
/// `us-gov-west-1`), as the regional template's `MainRegion` parameter checks it.
pub fn is_region_name(name: &str) -> bool {
    let parts: Vec<&str> = name.split('-').collect();
    let (Some(first), Some(last)) = (parts.first(), parts.last()) else {
        return false;
    };
    parts.len() >= 3
        && first.len() == 2
        && first.bytes().all(|b| b.is_ascii_lowercase())
        && !last.is_empty()
        && last.bytes().all(|b| b.is_ascii_digit())
        && parts
            .iter()
            .skip(1)
            .take(parts.len() - 2)
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let mut vars: BTreeMap<String, String> = std::env::vars()
            .filter(|(k, _)| k.starts_with("WARDEN_"))
            .collect();
        // The Lambda runtime names the function it runs.
        if let Ok(name) = std::env::var("AWS_LAMBDA_FUNCTION_NAME") {
            vars.entry("WARDEN_FUNCTION_NAME".to_owned())
                .or_insert(name);
        }
        Self::from_vars(&vars)
    }

    /// Reads the configuration from `vars` (tests give their own).
    pub fn from_vars(vars: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let get = |name: &str| vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        let (mut rules, rules_source) = match get("WARDEN_RULES") {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
                    name: "WARDEN_RULES",
                    why: format!("`{path}`: {e}"),
                })?;
                let rules = RuleSet::parse(path, &text).map_err(|e| ConfigError {
                    name: "WARDEN_RULES",
                    why: e.to_string(),
                })?;
                // What `warden rules check` prints as warnings (a name the catalog cannot vouch
                // for) is said where the Lambda and the worker load the file too: such a rule may
                // never match.
                for w in &rules.warnings {
                    tracing::warn!(rules = %path, warning = %w, "rule file warning: the rule may never match");
                }
                (rules, path.to_owned())
            }
            None => (
                RuleSet::default_pack().map_err(|e| ConfigError {
                    name: "WARDEN_RULES",
                    why: format!("the default pack does not read (a bug): {e}"),
                })?,
                "the default rule pack".to_owned(),
            ),
        };
        if let Some(groups) = get("WARDEN_ALLOW_GROUPS") {
            let groups: Vec<String> = groups
                .split(',')
                .map(str::trim)
                .filter(|g| !g.is_empty())
                .map(str::to_owned)
                .collect();
            let set = rules.allow_sets.get_mut("admins").ok_or(ConfigError {
                name: "WARDEN_ALLOW_GROUPS",
                why: "the rules have no `admins` allow-set to replace the groups of".to_owned(),
            })?;
            set.groups = groups;
        }
        for (name, list) in [
            ("WARDEN_BREAK_GLASS", PrincipalList::BreakGlass),
            ("WARDEN_PRINCIPALS", PrincipalList::Warden),
        ] {
            if let Some(value) = get(name) {
                let patterns: Vec<&str> = value
                    .split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .collect();
                rules
                    .add_principals(list, &patterns)
                    .map_err(|why| ConfigError { name, why })?;
            }
        }
        if let Some(mode) = get("WARDEN_MODE") {
            let mode = match mode {
                "enforce" => Mode::Enforce,
                "monitor" => Mode::Monitor,
                other => {
                    return Err(ConfigError {
                        name: "WARDEN_MODE",
                        why: format!("`{other}`: expected `enforce` or `monitor`"),
                    })
                }
            };
            rules.mode = mode;
            for r in &mut rules.rules {
                r.mode = mode;
            }
        }
        let sweep_mode = match get("WARDEN_SWEEP_MODE") {
            None | Some("monitor") => Mode::Monitor,
            Some("enforce") => Mode::Enforce,
            Some(other) => {
                return Err(ConfigError {
                    name: "WARDEN_SWEEP_MODE",
                    why: format!("`{other}`: expected `enforce` or `monitor`"),
                })
            }
        };
        let rate_limits = match get("WARDEN_RATE_LIMITS") {
            Some(spec) => RateLimits::parse(spec).map_err(|why| ConfigError {
                name: "WARDEN_RATE_LIMITS",
                why,
            })?,
            None => RateLimits::default(),
        };
        let number = |name: &'static str, default: i64, min: i64| -> Result<i64, ConfigError> {
            match get(name) {
                None => Ok(default),
                Some(v) => v
                    .parse::<i64>()
                    .ok()
                    .filter(|n| *n >= min)
                    .ok_or_else(|| ConfigError {
                        name,
                        why: format!("`{v}` is not a whole number of at least {min}"),
                    }),
            }
        };
        let retry = RetryPolicy {
            max_attempts: u32::try_from(number("WARDEN_MAX_ATTEMPTS", 5, 1)?).unwrap_or(5),
            ..RetryPolicy::default()
        };
        Ok(Self {
            rules,
            rules_source,
            queue_url: get("WARDEN_QUEUE_URL").map(str::to_owned),
            intake_queue_url: get("WARDEN_INTAKE_QUEUE_URL").map(str::to_owned),
            dlq_url: get("WARDEN_DLQ_URL").map(str::to_owned),
            alert_topic_arn: get("WARDEN_ALERT_TOPIC_ARN").map(str::to_owned),
            state_table: get("WARDEN_STATE_TABLE")
                .unwrap_or("warden-state")
                .to_owned(),
            evidence_table: get("WARDEN_EVIDENCE_TABLE")
                .unwrap_or("warden-evidence")
                .to_owned(),
            evidence_bucket: get("WARDEN_EVIDENCE_BUCKET").map(str::to_owned),
            rate_limits,
            retry,
            alert_window_seconds: number("WARDEN_ALERT_WINDOW_SECONDS", 60, 0)?,
            lease_seconds: number("WARDEN_LEASE_SECONDS", 120, 1)?,
            sweep_max_changes: usize::try_from(number("WARDEN_SWEEP_MAX_CHANGES", 20, 0)?)
                .unwrap_or(20),
            sweep_mode,
            max_receives: u32::try_from(number("WARDEN_MAX_RECEIVES", 4, 1)?).unwrap_or(4),
            account_id: match get("WARDEN_ACCOUNT_ID") {
                Some(id) if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) => {
                    Some(id.to_owned())
                }
                Some(id) => {
                    return Err(ConfigError {
                        name: "WARDEN_ACCOUNT_ID",
                        why: format!("`{id}` is not a 12-digit AWS account id"),
                    })
                }
                None => None,
            },
            canary_policy_arn: get("WARDEN_CANARY_POLICY_ARN").map(str::to_owned),
            rule_prefix: match get("WARDEN_RULE_PREFIX") {
                Some(p)
                    if (1..=64).contains(&p.len())
                        && p.chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.') =>
                {
                    Some(p.to_owned())
                }
                Some(p) => {
                    return Err(ConfigError {
                        name: "WARDEN_RULE_PREFIX",
                        why: format!("`{p}` is not an EventBridge rule name prefix (letters, digits, `-`, `_`, `.`; at most 64)"),
                    })
                }
                None => None,
            },
            regions: match get("WARDEN_REGIONS") {
                None => Vec::new(),
                Some(list) => {
                    let mut regions: Vec<String> = Vec::new();
                    for r in list.split(',').map(str::trim).filter(|r| !r.is_empty()) {
                        if !is_region_name(r) {
                            return Err(ConfigError {
                                name: "WARDEN_REGIONS",
                                why: format!("`{r}` is not an AWS region name (such as `eu-west-1`)"),
                            });
                        }
                        if !regions.iter().any(|known| known == r) {
                            regions.push(r.to_owned());
                        }
                    }
                    regions
                }
            },
            function_name: get("WARDEN_FUNCTION_NAME").map(str::to_owned),
            function_consumes_queues: match get("WARDEN_FUNCTION_CONSUMES_QUEUES") {
                None | Some("true") => true,
                Some("false") => false,
                Some(other) => {
                    return Err(ConfigError {
                        name: "WARDEN_FUNCTION_CONSUMES_QUEUES",
                        why: format!("`{other}` is neither `true` nor `false`"),
                    })
                }
            },
        })
    }

    /// The value of a setting the running command needs, or an error naming the variable.
    pub fn required<'a>(
        value: &'a Option<String>,
        name: &'static str,
    ) -> Result<&'a str, ConfigError> {
        value.as_deref().ok_or(ConfigError {
            name,
            why: "not set (run `warden init` and export what it prints)".to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_and_overrides() {
        let c = Config::from_vars(&vars(&[])).unwrap();
        assert_eq!(c.state_table, "warden-state");
        assert_eq!(c.alert_window_seconds, 60);
        let c = Config::from_vars(&vars(&[
            ("WARDEN_MODE", "monitor"),
            ("WARDEN_ALLOW_GROUPS", "Ops, Sec"),
            ("WARDEN_RATE_LIMITS", "iam=3"),
        ]))
        .unwrap();
        assert!(c.rules.rules.iter().all(|r| r.mode == Mode::Monitor));
        assert_eq!(c.rules.allow_sets["admins"].groups, ["Ops", "Sec"]);
        assert_eq!(c.rate_limits.0["iam"], (3, 3));
    }

    #[test]
    fn the_sweep_mode_is_monitor_unless_enforce_is_asked_and_nothing_else_reads() {
        assert_eq!(
            Config::from_vars(&vars(&[])).unwrap().sweep_mode,
            Mode::Monitor
        );
        let c = Config::from_vars(&vars(&[("WARDEN_SWEEP_MODE", "enforce")])).unwrap();
        assert_eq!(c.sweep_mode, Mode::Enforce);
        let e = Config::from_vars(&vars(&[("WARDEN_SWEEP_MODE", "Enforce")])).unwrap_err();
        assert_eq!(e.name, "WARDEN_SWEEP_MODE");
        assert!(
            e.why.contains("expected `enforce` or `monitor`"),
            "{}",
            e.why
        );
    }

    /// A log line's bytes, shared with the test.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::Error::other("poisoned"))?
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_rule_file_warning_is_logged_where_the_lambda_loads_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rules.toml");
        std::fs::write(
            &path,
            "version = 1\n[[rule]]\nid = \"x\"\n[rule.match]\nsources = [\"rds.amazonaws.com\"]\nevents = [\"CreateDBInstance\"]\n",
        )
        .unwrap();
        let log = Captured::default();
        let writer = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let c = tracing::subscriber::with_default(subscriber, || {
            Config::from_vars(&vars(&[("WARDEN_RULES", path.to_str().unwrap())]))
        })
        .unwrap();
        assert_eq!(c.rules.warnings.len(), 1);
        let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
        assert!(text.contains("WARN"), "{text}");
        assert!(text.contains("the rule may never match"), "{text}");
        assert!(
            text.contains("the catalog has no service for event source `rds.amazonaws.com`"),
            "{text}"
        );
    }

    #[test]
    fn errors_name_the_variable() {
        let e = Config::from_vars(&vars(&[("WARDEN_MODE", "loud")])).unwrap_err();
        assert_eq!(e.name, "WARDEN_MODE");
        assert!(e.to_string().contains("`loud`"));
        let e = Config::from_vars(&vars(&[("WARDEN_LEASE_SECONDS", "0")])).unwrap_err();
        assert_eq!(e.name, "WARDEN_LEASE_SECONDS");
        let e = Config::from_vars(&vars(&[("WARDEN_RULES", "/nonexistent.toml")])).unwrap_err();
        assert!(e.to_string().contains("/nonexistent.toml"));
        let e = Config::from_vars(&vars(&[("WARDEN_BREAK_GLASS", "arn:aws:iam::*:role/*")]))
            .unwrap_err();
        assert_eq!(e.name, "WARDEN_BREAK_GLASS");
        assert!(e.to_string().contains("matches every"), "{e}");
    }

    #[test]
    fn regions_are_a_checked_list_without_repeats() {
        assert!(Config::from_vars(&vars(&[])).unwrap().regions.is_empty());
        let c = Config::from_vars(&vars(&[(
            "WARDEN_REGIONS",
            "us-east-1, eu-west-1,,eu-west-1,us-gov-west-1",
        )]))
        .unwrap();
        assert_eq!(c.regions, ["us-east-1", "eu-west-1", "us-gov-west-1"]);
        let e = Config::from_vars(&vars(&[("WARDEN_REGIONS", "eu-west-1,Europe")])).unwrap_err();
        assert_eq!(e.name, "WARDEN_REGIONS");
        assert!(e.to_string().contains("`Europe`"), "{e}");
        for bad in ["eu-west", "eu--1", "e-west-1", "eu-west-x", "EU-WEST-1"] {
            assert!(!is_region_name(bad), "{bad}");
        }
    }

    #[test]
    fn the_deployments_principals_join_the_rules() {
        let role = "arn:aws:iam::123456789012:role/warden-prod-function";
        let glass = "arn:aws:iam::123456789012:user/oncall";
        let c = Config::from_vars(&vars(&[
            ("WARDEN_PRINCIPALS", role),
            ("WARDEN_BREAK_GLASS", &format!("{glass}, ")),
        ]))
        .unwrap();
        assert!(c.rules.warden_principals.contains(&role.to_owned()));
        assert!(c.rules.privileged_roles.contains(&role.to_owned()));
        assert!(c.rules.break_glass.contains(&glass.to_owned()));
        assert!(!c.rules.privileged_roles.contains(&glass.to_owned()));
    }
}
