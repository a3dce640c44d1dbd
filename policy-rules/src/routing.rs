//! Which CloudTrail events must reach Warden's queue, as EventBridge event patterns, derived from the
//! rule set and the catalog: one source of truth, so a rule can never match an event that is not
//! routed to it. For every rule, the event names it can match (its `events`, or every event name
//! the catalog maps to one of its `actions` at its access levels, extra actions included), grouped
//! by event source; each group becomes patterns that pin `source` (`aws.iam`), `detail-type` and
//! `detail.eventSource`, and list the names, split so that no pattern exceeds EventBridge's 2,048
//! characters. Customer events may not use a `source` beginning with `aws.`, so a pinned pattern
//! cannot be fed a forged record (aws-facts.md, "Forged events").
//!
//! Also here: the watchdog pattern that reports changes to Warden's own EventBridge rules, because
//! a disabled rule cannot report its own disabling.
//!
//! What this does not do: narrow by resource or request parameters (the rules do that), or route
//! events of sources a rule names by a pattern the catalog cannot expand (listed in `unrouted`).
//! S3 object-level calls (data events) are routed by name, and reach EventBridge only when the trail
//! logs data events.

use crate::catalog::{AccessLevels, Catalog};
use crate::rules::{Rule, RuleSet};
use crate::wildcard;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The `detail-type` of CloudTrail management and data API calls on EventBridge.
pub const DETAIL_TYPE: &str = "AWS API Call via CloudTrail";

/// EventBridge's limit on an event pattern ("Amazon EventBridge quotas": event pattern size,
/// 2,048 characters).
pub const PATTERN_LIMIT: usize = 2_048;

/// The EventBridge calls that change a rule's delivery.
pub const RULE_CHANGES: [&str; 5] = [
    "DeleteRule",
    "DisableRule",
    "PutRule",
    "PutTargets",
    "RemoveTargets",
];

/// One EventBridge pattern with a stable name (`iam-1`, `s3-2`): the service and the chunk number.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub name: String,
    pub pattern: Value,
}

/// The routes, and what could not be routed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Routing {
    pub routes: Vec<Route>,
    /// `event source: why`, for rule parts no pattern can carry.
    pub unrouted: Vec<String>,
}

/// EventBridge's `source` for a CloudTrail event source: `iam.amazonaws.com` → `aws.iam`
/// ("Events from AWS services", EventBridge user guide).
pub fn eventbridge_source(event_source: &str) -> String {
    let service = event_source
        .strip_suffix(".amazonaws.com")
        .unwrap_or(event_source);
    format!("aws.{service}")
}

/// Whether the event `name` of service `prefix` maps (by its action or an extra action) to an action
/// the rule's `actions` and `access` filters accept.
fn maps_to_rule_actions(catalog: &Catalog, prefix: &str, name: &str, rule: &Rule) -> bool {
    let m = &rule.matches;
    if m.actions.is_empty() && m.access.is_empty() {
        return true;
    }
    let accepts = |action: &str, access: AccessLevels| {
        (m.actions.is_empty()
            || m.actions
                .iter()
                .any(|p| wildcard::matches_ignore_ascii_case(p, action)))
            && (m.access.is_empty() || access.intersects(m.access))
    };
    catalog
        .actions_for_event(prefix, name)
        .iter()
        .any(|a| accepts(&a.name, a.access))
        || catalog
            .extras_for_event(prefix, name)
            .iter()
            .filter_map(|e| catalog.action(&e.action))
            .any(|a| accepts(&a.name, a.access))
}

/// Every event name each event source must route for the rules: `event source → names`.
pub fn event_names(
    rules: &RuleSet,
    catalog: &Catalog,
) -> (BTreeMap<String, BTreeSet<String>>, Vec<String>) {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut unrouted = Vec::new();
    for rule in &rules.rules {
        let m = &rule.matches;
        // The sources the rule can match: its own, else every service of the catalog (the actions
        // filter below keeps the events that can match: `iam:*` also matches the `iam:PassRole` of
        // `lambda:CreateFunction`).
        let mut sources: Vec<String> = catalog
            .services()
            .into_iter()
            .filter_map(|s| catalog.source_for_service(s))
            .filter(|source| {
                m.sources.is_empty() || m.sources.iter().any(|p| wildcard::matches(p, source))
            })
            .map(str::to_owned)
            .collect();
        for s in &m.sources {
            if !wildcard::has_wildcard(s) && catalog.service_for_source(s).is_none() {
                sources.push(s.clone());
            }
        }
        for source in sources {
            let prefix = catalog.service_for_source(&source);
            let known: Vec<&str> = prefix.map(|p| catalog.event_names(p)).unwrap_or_default();
            let mut names: BTreeSet<String> = BTreeSet::new();
            if m.events.is_empty() {
                names.extend(known.iter().map(|n| (*n).to_owned()));
            } else {
                for e in &m.events {
                    if !wildcard::has_wildcard(e) {
                        names.insert(e.clone());
                    } else if prefix.is_some() {
                        names.extend(
                            known
                                .iter()
                                .filter(|n| wildcard::matches(e, n))
                                .map(|n| (*n).to_owned()),
                        );
                    } else {
                        unrouted.push(format!(
                            "{source}: rule `{}`'s event pattern `{e}` names no event the catalog knows",
                            rule.id
                        ));
                    }
                }
            }
            let names: BTreeSet<String> = match prefix {
                Some(p) => names
                    .into_iter()
                    .filter(|n| maps_to_rule_actions(catalog, p, n, rule))
                    .collect(),
                // Unknown to the catalog: a rule with actions cannot match it (it is unmapped).
                None if m.actions.is_empty() && m.access.is_empty() && m.resources.is_empty() => {
                    names
                }
                None => BTreeSet::new(),
            };
            if !names.is_empty() {
                out.entry(source).or_default().extend(names);
            }
        }
    }
    (out, unrouted)
}

fn pattern(source: &str, names: &[&str]) -> Value {
    json!({
        "source": [eventbridge_source(source)],
        "detail-type": [DETAIL_TYPE],
        "detail": {"eventSource": [source], "eventName": names},
    })
}

/// The EventBridge patterns for the rules, each within `PATTERN_LIMIT` characters.
pub fn routing(rules: &RuleSet, catalog: &Catalog) -> Routing {
    let (by_source, unrouted) = event_names(rules, catalog);
    let mut routes = Vec::new();
    for (source, names) in &by_source {
        let service = source.strip_suffix(".amazonaws.com").unwrap_or(source);
        let mut chunk: Vec<&str> = Vec::new();
        let mut n = 0;
        let mut flush = |chunk: &mut Vec<&str>, routes: &mut Vec<Route>| {
            if chunk.is_empty() {
                return;
            }
            n += 1;
            routes.push(Route {
                name: format!("{service}-{n}"),
                pattern: pattern(source, chunk),
            });
            chunk.clear();
        };
        for name in names {
            chunk.push(name);
            if pattern(source, &chunk).to_string().len() > PATTERN_LIMIT && chunk.len() > 1 {
                chunk.pop();
                flush(&mut chunk, &mut routes);
                chunk.push(name);
            }
        }
        flush(&mut chunk, &mut routes);
    }
    Routing { routes, unrouted }
}

/// The patterns alone.
pub fn patterns(rules: &RuleSet, catalog: &Catalog) -> Vec<Value> {
    routing(rules, catalog)
        .routes
        .into_iter()
        .map(|r| r.pattern)
        .collect()
}

/// The watchdog: EventBridge calls that change the delivery of any rule whose name starts with
/// `rule_prefix` (Warden's rules). It is a second rule so that disabling one of Warden's rules is
/// reported by the other: the routed `events.amazonaws.com` pattern reports changes to the watchdog.
pub fn watchdog(rule_prefix: &str) -> Value {
    let names = json!([{"prefix": rule_prefix}]);
    json!({
        "source": ["aws.events"],
        "detail-type": [DETAIL_TYPE],
        "detail": {
            "eventSource": ["events.amazonaws.com"],
            "eventName": RULE_CHANGES,
            "$or": [
                {"requestParameters": {"name": names}},
                {"requestParameters": {"rule": names}},
            ],
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_routing() -> (Routing, Catalog, RuleSet) {
        let catalog = Catalog::builtin().unwrap();
        let rules = RuleSet::default_pack().unwrap();
        (routing(&rules, &catalog), catalog, rules)
    }

    fn routed(r: &Routing, source: &str, name: &str) -> bool {
        r.routes.iter().any(|route| {
            route.pattern["detail"]["eventSource"][0] == source
                && route.pattern["detail"]["eventName"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|n| n == name))
        })
    }

    #[test]
    fn every_pattern_pins_source_and_detail_type_and_fits() {
        let (r, _, _) = default_routing();
        assert!(r.unrouted.is_empty(), "{:?}", r.unrouted);
        assert!(r.routes.len() > 5, "{}", r.routes.len());
        let mut names = BTreeSet::new();
        for route in &r.routes {
            let p = &route.pattern;
            let source = p["detail"]["eventSource"][0].as_str().unwrap();
            assert_eq!(
                p["source"],
                json!([eventbridge_source(source)]),
                "{}",
                route.name
            );
            assert!(p["source"][0].as_str().unwrap().starts_with("aws."));
            assert_eq!(p["detail-type"], json!([DETAIL_TYPE]), "{}", route.name);
            let len = p.to_string().len();
            assert!(len <= PATTERN_LIMIT, "{}: {len} characters", route.name);
            assert!(names.insert(route.name.clone()), "{} twice", route.name);
        }
        // IAM alone needs more than one pattern: the split happened.
        assert!(names.contains("iam-2"), "{names:?}");
    }

    #[test]
    fn what_the_hard_coded_rules_missed_is_routed() {
        let (r, _, _) = default_routing();
        for (source, name) in [
            ("s3.amazonaws.com", "PutObjectAcl"),
            ("s3.amazonaws.com", "PutBucketOwnershipControls"),
            ("s3.amazonaws.com", "DeleteBucketPublicAccessBlock"),
            ("s3.amazonaws.com", "DeleteBucket"),
            ("iam.amazonaws.com", "DeleteRolePolicy"),
            ("cloudtrail.amazonaws.com", "StopLogging"),
            ("lambda.amazonaws.com", "CreateFunction20150331"),
            ("ec2.amazonaws.com", "RunInstances"),
            ("ssm.amazonaws.com", "SendCommand"),
            ("events.amazonaws.com", "DisableRule"),
            ("sqs.amazonaws.com", "PurgeQueue"),
            ("dynamodb.amazonaws.com", "DeleteTable"),
            ("sns.amazonaws.com", "Unsubscribe"),
        ] {
            assert!(routed(&r, source, name), "{source} {name}");
        }
        // Reads no rule matches are not routed.
        assert!(!routed(&r, "iam.amazonaws.com", "GetUser"));
        assert!(!routed(&r, "s3.amazonaws.com", "GetObject"));
        assert!(!routed(&r, "sts.amazonaws.com", "GetCallerIdentity"));
    }

    #[test]
    fn a_rule_on_an_unknown_source_routes_its_literal_names() {
        let catalog = Catalog::builtin().unwrap();
        let rules = RuleSet::parse(
            "r.toml",
            "version = 1\n[[rule]]\nid = \"x\"\n[rule.match]\nsources = [\"signin.amazonaws.com\"]\nevents = [\"ConsoleLogin\", \"Check*\"]\n",
        )
        .unwrap();
        let r = routing(&rules, &catalog);
        assert!(routed(&r, "signin.amazonaws.com", "ConsoleLogin"));
        assert_eq!(r.routes[0].pattern["source"], json!(["aws.signin"]));
        assert!(r.unrouted[0].contains("`Check*`"), "{:?}", r.unrouted);
    }

    #[test]
    fn the_watchdog_watches_rule_changes_by_name_prefix() {
        let w = watchdog("warden-");
        assert_eq!(w["source"], json!(["aws.events"]));
        assert_eq!(w["detail"]["eventName"].as_array().unwrap().len(), 5);
        assert_eq!(
            w["detail"]["$or"][1]["requestParameters"]["rule"][0]["prefix"],
            "warden-"
        );
    }
}
