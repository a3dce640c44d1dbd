//! Warden drift in its own event path: the EventBridge rules that bring CloudTrail events to
//! Warden, as a sweep reads them, against the rules the rule set and the catalog derive (the same
//! patterns `warden init` and the template create). A rule that is gone, disabled, matching
//! another pattern or no longer sending to Warden's queue leaves Warden blind to what it routed,
//! and an event may never have said so (a disabled rule cannot report its own disabling, and the
//! watchdog rule may be the one disabled). Warden's role may not change its own rules (a Warden
//! that could would be one call from silencing itself), so each finding is an alert with what a
//! person runs.

use super::{Ctx, Finding, Kind, Response};
use serde_json::Value;

/// The rules Warden expects, and where they must send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnRules {
    /// The name prefix of Warden's rules (the stack's name, or `warden init`'s prefix).
    pub prefix: String,
    /// Each rule's name and event pattern.
    pub expected: Vec<(String, Value)>,
    /// The ARN of the queue every rule targets.
    pub queue_arn: String,
}

/// One of Warden's rules as EventBridge shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveRule {
    pub name: String,
    pub arn: Option<String>,
    pub enabled: bool,
    /// The event pattern (`None`: the rule has none, a schedule).
    pub pattern: Option<Value>,
    /// The ARNs of its targets.
    pub targets: Vec<String>,
}

/// What the sweep read of Warden's rules.
#[derive(Debug, Clone, Copy)]
pub struct OwnRulesRead<'a> {
    pub expected: &'a OwnRules,
    pub live: &'a [LiveRule],
}

/// A drift finding of Warden's own event path (its rules, queues, function), read just now: an
/// alert with what a person runs, since Warden's role may not change them.
pub(crate) fn own_drift(
    rule: Option<&crate::rules::Rule>,
    mode: crate::rules::Mode,
    finding_type: &str,
    resource: &str,
    evidence: String,
    note: String,
) -> Finding {
    Finding {
        kind: Kind::Drift,
        finding_type: finding_type.to_owned(),
        rule: rule.map(|r| r.id.clone()),
        principal: None,
        resource: Some(resource.to_owned()),
        actions: Vec::new(),
        evidence: vec![evidence],
        data_age_seconds: Some(0),
        response: Response::alert(mode, note),
    }
}

pub(crate) fn findings(ctx: &Ctx<'_>) -> Vec<Finding> {
    let Some(read) = ctx.input.own_rules else {
        return Vec::new();
    };
    let own = read.expected;
    let rule = ctx.rule("warden-infrastructure");
    let mode = ctx.mode(rule);
    let redeploy = "redeploy the stack (`aws cloudformation deploy` with the same template) or run `warden init` with the same prefix: either puts the derived rule back. Warden's role may not change its own rules";
    let mut out = Vec::new();
    let mut finding = |t: &str, name: &str, arn: Option<&str>, evidence: String, note: String| {
        out.push(own_drift(
            rule,
            mode,
            t,
            arn.unwrap_or(name),
            evidence,
            note,
        ));
    };
    for (name, pattern) in &own.expected {
        let Some(live) = read.live.iter().find(|r| &r.name == name) else {
            finding(
                "WardenRuleMissing",
                name,
                None,
                format!("Warden's EventBridge rule `{name}` is gone: the events it routed no longer reach Warden"),
                redeploy.to_owned(),
            );
            continue;
        };
        let arn = live.arn.as_deref();
        if !live.enabled {
            finding(
                "WardenRuleDisabled",
                name,
                arn,
                format!("Warden's EventBridge rule `{name}` is disabled: the events it routes do not reach Warden"),
                format!("enable it: `aws events enable-rule --name {name}`"),
            );
        }
        if live.pattern.as_ref() != Some(pattern) {
            finding(
                "WardenRuleChanged",
                name,
                arn,
                format!(
                    "Warden's EventBridge rule `{name}` matches another pattern than the rules derive (live: {}): events it should route may not reach Warden",
                    live.pattern
                        .as_ref()
                        .map_or_else(|| "none".to_owned(), crate::evidence::canonical_json)
                ),
                redeploy.to_owned(),
            );
        }
        if !live.targets.iter().any(|t| t == &own.queue_arn) {
            finding(
                "WardenRuleTargetRemoved",
                name,
                arn,
                format!(
                    "Warden's EventBridge rule `{name}` no longer sends to Warden's queue `{}` (its targets: {})",
                    own.queue_arn,
                    if live.targets.is_empty() { "none".to_owned() } else { live.targets.join(", ") }
                ),
                format!(
                    "{redeploy}, or put the target back: `aws events put-targets --rule {name} --targets Id=warden-intake,Arn={},SqsParameters={{MessageGroupId=warden}}`",
                    own.queue_arn
                ),
            );
        }
    }
    out
}
