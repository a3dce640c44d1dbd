//! The evaluation corpus: every file in `fixtures/evaluation/` is one request, the policies that
//! apply to it, and the answer AWS's documented evaluation logic gives, with the AWS documentation
//! page and section it comes from (`source`). A new case is a new file. Unknown fields are errors, so
//! a misspelt key cannot silently test nothing; failures name the file.
//!
//! Case keys: `source`, `description`, `request` (`principal`, `principal_account` (default: the
//! principal ARN's account), `action`, `resource`, `resource_account`, `session_issuer`,
//! `resource_policy` (`either`, `must_allow` or `infer`), `context`, `context_complete`),
//! `policies` (`identity`, `boundary`, `session`, `resource`, `scps`, `rcps`; a policy is
//! `{name, document}`, organization policies `{management_account, levels}`), and `expect`
//! (`answer`, `cited` (exactly, in order), `reasons_contain`, `aws_rule`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use policy_rules::arn::Arn;
use policy_rules::evaluate::{
    evaluate, Answer, NamedPolicy, OrgPolicies, Policies, Request, RequestContext,
    ResourcePolicyRule,
};
use policy_rules::policy::{Effect, PolicyDocument};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    source: String,
    #[allow(dead_code)]
    description: String,
    request: Req,
    #[serde(default)]
    policies: Pols,
    expect: Expect,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Req {
    principal: String,
    principal_account: Option<String>,
    action: String,
    resource: String,
    resource_account: Option<String>,
    session_issuer: Option<String>,
    #[serde(default)]
    resource_policy: Rule,
    #[serde(default)]
    context: BTreeMap<String, Vec<String>>,
    #[serde(default = "yes")]
    context_complete: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum Rule {
    #[default]
    Either,
    MustAllow,
    Infer,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Named {
    name: String,
    document: Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Org {
    management_account: Option<String>,
    levels: Vec<Vec<Named>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Pols {
    #[serde(default)]
    identity: Vec<Named>,
    boundary: Option<Named>,
    session: Option<Vec<Named>>,
    resource: Option<Named>,
    scps: Option<Org>,
    rcps: Option<Org>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    answer: String,
    cited: Option<Vec<CitedCase>>,
    #[serde(default)]
    reasons_contain: Vec<String>,
    aws_rule: Option<String>,
}

#[derive(Deserialize, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct CitedCase {
    kind: String,
    policy: String,
    statement: usize,
    #[serde(default)]
    sid: Option<String>,
    effect: String,
}

fn parse(name: &str, n: &Named) -> (String, PolicyDocument) {
    let doc = PolicyDocument::from_value(&n.document)
        .unwrap_or_else(|e| panic!("{name}: policy `{}`: {e}", n.name));
    (n.name.clone(), doc)
}

fn named(list: &[(String, PolicyDocument)]) -> Vec<NamedPolicy<'_>> {
    list.iter().map(|(n, d)| (n.as_str(), d)).collect()
}

fn answer_name(a: Answer) -> &'static str {
    match a {
        Answer::Allow => "allow",
        Answer::ExplicitDeny => "explicit_deny",
        Answer::ImplicitDeny => "implicit_deny",
        Answer::Unknown => "unknown",
    }
}

/// Owned organization policies, and the borrowed levels `OrgPolicies` takes.
struct OrgOwned {
    management_account: Option<String>,
    levels: Vec<Vec<(String, PolicyDocument)>>,
}

fn org(name: &str, o: &Option<Org>) -> Option<OrgOwned> {
    o.as_ref().map(|o| OrgOwned {
        management_account: o.management_account.clone(),
        levels: o
            .levels
            .iter()
            .map(|l| l.iter().map(|n| parse(name, n)).collect())
            .collect(),
    })
}

fn run(name: &str, case: &Case) -> Result<(), String> {
    let r = &case.request;
    let mut ctx = if r.context_complete {
        RequestContext::complete()
    } else {
        RequestContext::partial()
    };
    for (k, v) in &r.context {
        let v: Vec<&str> = v.iter().map(String::as_str).collect();
        ctx = ctx.with(k, &v);
    }
    let account = r
        .principal_account
        .clone()
        .or_else(|| Arn::parse(&r.principal).map(|a| a.account.to_owned()))
        .unwrap_or_default();
    let rule = match r.resource_policy {
        Rule::Either => ResourcePolicyRule::EitherMayAllow,
        Rule::MustAllow => ResourcePolicyRule::MustAllow,
        Rule::Infer => ResourcePolicyRule::for_request(&r.action, &r.resource),
    };
    let req = Request {
        principal_arn: &r.principal,
        principal_account: &account,
        action: &r.action,
        resource: &r.resource,
        context: &ctx,
        resource_account: r.resource_account.as_deref(),
        session_issuer: r.session_issuer.as_deref(),
        resource_policy_rule: rule,
    };
    let p = &case.policies;
    let identity: Vec<_> = p.identity.iter().map(|n| parse(name, n)).collect();
    let boundary = p.boundary.as_ref().map(|n| parse(name, n));
    let session: Option<Vec<_>> = p
        .session
        .as_ref()
        .map(|s| s.iter().map(|n| parse(name, n)).collect());
    let resource = p.resource.as_ref().map(|n| parse(name, n));
    let scps = org(name, &p.scps);
    let rcps = org(name, &p.rcps);
    let identity_refs = named(&identity);
    let session_refs = session.as_deref().map(named);
    let scp_levels: Vec<Vec<NamedPolicy<'_>>> = scps
        .iter()
        .flat_map(|o| o.levels.iter().map(|l| named(l)))
        .collect();
    let scp_level_refs: Vec<&[NamedPolicy<'_>]> = scp_levels.iter().map(Vec::as_slice).collect();
    let rcp_levels: Vec<Vec<NamedPolicy<'_>>> = rcps
        .iter()
        .flat_map(|o| o.levels.iter().map(|l| named(l)))
        .collect();
    let rcp_level_refs: Vec<&[NamedPolicy<'_>]> = rcp_levels.iter().map(Vec::as_slice).collect();
    let policies = Policies {
        identity: &identity_refs,
        boundary: boundary.as_ref().map(|(_, d)| d),
        boundary_name: boundary.as_ref().map(|(n, _)| n.as_str()),
        resource: resource.as_ref().map(|(n, d)| (n.as_str(), d)),
        session: session_refs.as_deref(),
        scps: scps.as_ref().map(|o| OrgPolicies {
            levels: &scp_level_refs,
            management_account: o.management_account.as_deref(),
        }),
        rcps: rcps.as_ref().map(|o| OrgPolicies {
            levels: &rcp_level_refs,
            management_account: o.management_account.as_deref(),
        }),
    };
    let e = evaluate(&req, &policies);
    let ctx = format!("{name} ({}): {e:#?}", case.source);
    let want = &case.expect;
    let mut errors = Vec::new();
    if answer_name(e.answer) != want.answer {
        errors.push(format!("answer: want `{}`", want.answer));
    }
    if let Some(cited) = &want.cited {
        let got: Vec<CitedCase> = e
            .cited
            .iter()
            .map(|c| CitedCase {
                kind: c.kind.as_str().to_owned(),
                policy: c.policy.clone(),
                statement: c.statement,
                sid: c.sid.clone(),
                effect: match c.effect {
                    Effect::Allow => "Allow".to_owned(),
                    Effect::Deny => "Deny".to_owned(),
                },
            })
            .collect();
        if &got != cited {
            errors.push(format!("cited: want {cited:?}"));
        }
    }
    for w in &want.reasons_contain {
        if !e.reasons.iter().any(|r| r.contains(w.as_str())) {
            errors.push(format!("no reason contains `{w}`"));
        }
    }
    let rule = e.aws_rule.map(|r| format!("{r:?}"));
    if rule != want.aws_rule {
        errors.push(format!("aws_rule: want {:?}", want.aws_rule));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!("{ctx}\n  {}", errors.join("\n  ")))
    }
}

#[test]
fn every_evaluation_case_gives_its_answer() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/evaluation");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 25, "only {} evaluation cases", files.len());
    let mut answers = BTreeMap::new();
    let mut failures = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(path).unwrap();
        let case: Case = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            case.source.contains("guide") || case.source.contains("reference"),
            "{name}: `source` names the AWS documentation page and section"
        );
        if let Err(e) = run(&name, &case) {
            failures.push(e);
        }
        *answers.entry(case.expect.answer.clone()).or_insert(0) += 1;
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
    for a in ["allow", "explicit_deny", "implicit_deny"] {
        assert!(
            answers.contains_key(a),
            "no case answers `{a}`: {answers:?}"
        );
    }
}
