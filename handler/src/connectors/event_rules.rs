//! Warden's own EventBridge rules on the default bus, read for the sweep's drift check (the pure
//! comparison is `policy_rules::sweep::own_rules`). Warden only reads them: its role is denied
//! every call that changes them.
//!
//! API calls: `ListRules` per page of rules under the prefix, then `ListTargetsByRule` per rule
//! (every page).

use crate::aws::{AwsError, Clients};
use policy_rules::sweep::own_rules::LiveRule;

/// The rules whose names start with `prefix-`, with their targets, and the requests it took.
pub async fn read(c: &Clients, prefix: &str) -> Result<(Vec<LiveRule>, usize), AwsError> {
    let name_prefix = format!("{prefix}-");
    let mut requests = 0;
    let mut rules = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let token = next.clone();
        let out = c
            .caller
            .call("events", "ListRules", || {
                c.events
                    .list_rules()
                    .name_prefix(&name_prefix)
                    .set_next_token(token.clone())
                    .send()
            })
            .await?
            .value;
        requests += 1;
        for r in out.rules() {
            let Some(name) = r.name() else { continue };
            rules.push(LiveRule {
                name: name.to_owned(),
                arn: r.arn().map(str::to_owned),
                enabled: r.state().map(|s| s.as_str()) == Some("ENABLED"),
                pattern: r.event_pattern().and_then(|p| serde_json::from_str(p).ok()),
                targets: Vec::new(),
            });
        }
        match out.next_token {
            Some(t) if !t.is_empty() => next = Some(t),
            _ => break,
        }
    }
    for rule in &mut rules {
        let mut next: Option<String> = None;
        loop {
            let token = next.clone();
            let out = c
                .caller
                .call("events", "ListTargetsByRule", || {
                    c.events
                        .list_targets_by_rule()
                        .rule(&rule.name)
                        .set_next_token(token.clone())
                        .send()
                })
                .await?
                .value;
            requests += 1;
            rule.targets
                .extend(out.targets().iter().map(|t| t.arn().to_owned()));
            match out.next_token {
                Some(t) if !t.is_empty() => next = Some(t),
                _ => break,
            }
        }
        rule.targets.sort();
    }
    Ok((rules, requests))
}
