//! Effective admins outside the admin allow-set: principals that hold full access, or can give it
//! to themselves by one of the methods of the privilege-escalation catalogues (Rhino Security
//! Labs' and later; the team's `escalation.md`): put or attach a policy on themselves or on a group
//! they are in, create a version of a customer-managed policy attached to them or set an old
//! permissive one default, remove their permissions boundary, join a group with full access,
//! create keys or a password for (or reset the password of) a user that is an effective admin,
//! rewrite the trust policy of or assume such a role, or pass such a role to a service they can
//! create compute in. Computed to a fixpoint, as PMapper's graph does: a principal that can become
//! an effective admin is one.
//!
//! "Full access" is tested with probe actions across services on `*` (`FULL_ACCESS_PROBES`), so a
//! Deny of a service or a boundary that caps it makes a principal not full. A permissions boundary
//! caps what a policy written on oneself gives: such methods count only when the boundary allows
//! full access or the principal can also remove it. Also here: the principals a sweep judges, once
//! (`Principals`): their views, what is skipped and why, and allow-set membership.
//!
//! The account's SCPs and RCPs, when the sweep has them, cap everything the same way
//! (`org_policies`; every evaluation passes them): a principal whose policies allow everything is
//! `FullAccess` only where the organization policies allow (or may allow: then the evidence says
//! "maybe") every probe on `*`; and where they deny a probe, no method that writes policies on
//! oneself (put, attach, a version, a boundary removed) can give full access, so none counts.
//! Assuming or taking over an effective admin counts only where the organization policies do not
//! deny the step itself. The management account's principals are not capped (the evaluator's
//! rule, "Service control policies", AWS Organizations user guide).

use super::access::{labels, DocIndex, Interest, View};
use super::org_policies::OrgGates;
use super::{Action, Change, Ctx, Finding, Kind, Response};
use crate::evaluate::{evaluate, Answer, Policies, Request, RequestContext};
use crate::policy::{Effect, PolicyDocument, Scope, Statement};
use crate::principal_pattern;
use crate::rules::{AllowSet, DenyScope, Rule};
use crate::snapshot::PrincipalRecord;
use crate::wildcard;
use std::collections::BTreeSet;

/// Actions that together stand for "everything": allowed on `*`, each, is full access.
pub const FULL_ACCESS_PROBES: [&str; 10] = [
    "iam:CreateUser",
    "iam:PutRolePolicy",
    "iam:PassRole",
    "sts:AssumeRole",
    "s3:GetObject",
    "s3:PutBucketPolicy",
    "ec2:RunInstances",
    "lambda:CreateFunction",
    "kms:Decrypt",
    "secretsmanager:GetSecretValue",
];

/// A service a role can be passed to, the call that creates compute running as it, and its
/// service principal ("Passing a privileged role", `escalation.md`).
const COMPUTE: [(&str, &str); 8] = [
    ("lambda.amazonaws.com", "lambda:CreateFunction"),
    ("ec2.amazonaws.com", "ec2:RunInstances"),
    ("cloudformation.amazonaws.com", "cloudformation:CreateStack"),
    ("glue.amazonaws.com", "glue:CreateDevEndpoint"),
    (
        "sagemaker.amazonaws.com",
        "sagemaker:CreateNotebookInstance",
    ),
    ("codebuild.amazonaws.com", "codebuild:CreateProject"),
    ("ecs-tasks.amazonaws.com", "ecs:RunTask"),
    ("datapipeline.amazonaws.com", "datapipeline:CreatePipeline"),
];

/// The IAM and STS actions the methods use.
pub const ESCALATION_ACTIONS: [&str; 17] = [
    "iam:PutUserPolicy",
    "iam:AttachUserPolicy",
    "iam:PutRolePolicy",
    "iam:AttachRolePolicy",
    "iam:PutGroupPolicy",
    "iam:AttachGroupPolicy",
    "iam:CreatePolicyVersion",
    "iam:SetDefaultPolicyVersion",
    "iam:DeleteUserPermissionsBoundary",
    "iam:DeleteRolePermissionsBoundary",
    "iam:AddUserToGroup",
    "iam:CreateAccessKey",
    "iam:CreateLoginProfile",
    "iam:UpdateLoginProfile",
    "iam:UpdateAssumeRolePolicy",
    "sts:AssumeRole",
    "iam:PassRole",
];

/// Why a principal is not judged, or how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Standing {
    Judged,
    /// Warden's own principals: never acted on.
    Warden,
    /// Break-glass principals: exempt, alert only.
    BreakGlass,
    /// Service-linked roles: AWS owns their policies and trust; nothing to change or deny.
    ServiceLinked,
    /// Identity Center roles: no identity policy can be added; alert only.
    IdentityCenter,
}

/// Every principal a sweep judges, prepared once.
pub(crate) struct Prepared<'s> {
    pub(crate) index: DocIndex,
    labels: Vec<Vec<String>>,
    records: Vec<(&'s PrincipalRecord, bool)>,
    /// One synthetic member per group, to ask what a group's policies give.
    group_members: Vec<PrincipalRecord>,
    group_labels: Vec<Vec<String>>,
}

pub(crate) struct Principals<'p> {
    pub(crate) prepared: &'p Prepared<'p>,
    pub(crate) views: Vec<View<'p>>,
    pub(crate) standing: Vec<Standing>,
    groups: Vec<View<'p>>,
    /// Per principal: a role whose trust policy names the account (or `*`), so any principal of
    /// the account its identity policies allow may assume it.
    trust_admits: Vec<bool>,
    /// Per rule (in the rule set's order): the actions it guards.
    pub(crate) rule_actions: &'p [Vec<String>],
    /// An identity policy allowing everything: asked with the organization policies alone, it
    /// tells what they deny.
    everything: PolicyDocument,
}

/// The actions a rule guards: its `match.actions` expanded over the catalog at its access
/// levels, or the actions its `events` map to.
pub(crate) fn rule_actions(rule: &Rule, catalog: &crate::catalog::Catalog) -> Vec<String> {
    let m = &rule.matches;
    let access_ok =
        |a: &crate::catalog::ActionInfo| m.access.is_empty() || a.access.intersects(m.access);
    let mut out: Vec<String> = Vec::new();
    if !m.actions.is_empty() {
        out.extend(
            catalog
                .all_actions()
                .filter(|a| {
                    m.actions
                        .iter()
                        .any(|p| wildcard::matches_ignore_ascii_case(p, &a.name))
                })
                .filter(|a| access_ok(a))
                .map(|a| a.name.clone()),
        );
        out.extend(
            m.actions
                .iter()
                .filter(|p| !wildcard::has_wildcard(p) && catalog.action(p).is_none())
                .cloned(),
        );
    } else {
        let sources: Vec<&str> = if m.sources.is_empty() {
            catalog.event_sources()
        } else {
            m.sources.iter().map(String::as_str).collect()
        };
        for source in sources {
            let prefix = catalog
                .service_for_source(source)
                .map(str::to_owned)
                .unwrap_or_else(|| source.split('.').next().unwrap_or("").to_owned());
            let names = catalog.event_names(&prefix);
            for pattern in &m.events {
                let mut hit = false;
                for name in names.iter().filter(|n| wildcard::matches(pattern, n)) {
                    hit = true;
                    let mapped = catalog.actions_for_event(&prefix, name);
                    if mapped.is_empty() {
                        out.push(format!("{prefix}:{name}"));
                    }
                    out.extend(
                        mapped
                            .into_iter()
                            .filter(|a| access_ok(a))
                            .map(|a| a.name.clone()),
                    );
                }
                if !hit && m.sources.len() == 1 && !wildcard::has_wildcard(pattern) {
                    // An event the catalog lacks, of the rule's one service.
                    out.push(format!("{prefix}:{pattern}"));
                }
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

impl<'s> Prepared<'s> {
    pub(crate) fn new(ctx: &Ctx<'s>, rule_actions: &[Vec<String>]) -> Self {
        let snap = ctx.input.snapshot;
        let mut wanted: Vec<String> = rule_actions.iter().flatten().cloned().collect();
        wanted.extend(FULL_ACCESS_PROBES.iter().map(|s| (*s).to_owned()));
        wanted.extend(ESCALATION_ACTIONS.iter().map(|s| (*s).to_owned()));
        wanted.extend(COMPUTE.iter().map(|(_, a)| (*a).to_owned()));
        let interest = Interest::new(wanted);
        let docs = snap
            .users
            .values()
            .chain(snap.roles.values())
            .flat_map(|p| p.inline.values())
            .chain(snap.groups.values().flat_map(|g| g.inline.values()))
            .chain(snap.managed.values());
        let index = DocIndex::new(interest, docs);
        let records: Vec<(&PrincipalRecord, bool)> = snap
            .users
            .values()
            .map(|u| (u, false))
            .chain(snap.roles.values().map(|r| (r, true)))
            .collect();
        let names: Vec<Vec<String>> = records.iter().map(|(r, _)| labels(snap, r)).collect();
        let group_members: Vec<PrincipalRecord> = snap
            .groups
            .values()
            .map(|g| PrincipalRecord {
                arn: g.arn.clone(),
                name: g.name.clone(),
                groups: vec![g.name.clone()],
                ..PrincipalRecord::default()
            })
            .collect();
        let group_labels: Vec<Vec<String>> =
            group_members.iter().map(|m| labels(snap, m)).collect();
        Prepared {
            index,
            labels: names,
            records,
            group_members,
            group_labels,
        }
    }
}

impl<'p> Principals<'p> {
    pub(crate) fn new(
        ctx: &'p Ctx<'p>,
        prepared: &'p Prepared<'p>,
        rule_actions: &'p [Vec<String>],
        notes: &mut Vec<String>,
    ) -> Self {
        let snap = ctx.input.snapshot;
        let rules = ctx.input.rules;
        let mut views = Vec::with_capacity(prepared.records.len());
        let mut standing = Vec::with_capacity(prepared.records.len());
        let mut missing = BTreeSet::new();
        for ((rec, is_role), labels) in prepared.records.iter().zip(&prepared.labels) {
            let v = View::new(
                snap,
                rec,
                *is_role,
                &ctx.account,
                labels,
                &prepared.index,
                ctx.org,
            );
            missing.extend(v.missing.iter().cloned());
            let matches =
                |ps: &[String]| ps.iter().any(|p| principal_pattern::matches(p, &rec.arn));
            standing.push(if matches(&rules.warden_principals) {
                Standing::Warden
            } else if matches(&rules.break_glass) {
                Standing::BreakGlass
            } else if rec.arn.contains(":role/aws-service-role/") {
                Standing::ServiceLinked
            } else if rec.arn.contains(":role/aws-reserved/sso.amazonaws.com/") {
                Standing::IdentityCenter
            } else {
                Standing::Judged
            });
            views.push(v);
        }
        for m in missing {
            notes.push(format!(
                "managed policy `{m}` is attached but not in the snapshot: its grants are not counted"
            ));
        }
        let groups = prepared
            .group_members
            .iter()
            .zip(&prepared.group_labels)
            .map(|(m, l)| View::new(snap, m, false, &ctx.account, l, &prepared.index, ctx.org))
            .collect();
        let everything = PolicyDocument {
            version: None,
            id: None,
            statements: vec![Statement {
                sid: None,
                effect: Effect::Allow,
                principal: None,
                action: Scope::Only(vec!["*".to_owned()]),
                resource: Some(Scope::Only(vec!["*".to_owned()])),
                condition: Default::default(),
            }],
        };
        if ctx.org.is_some() {
            // INVARIANT (org-ceiling-shared): unless an organization policy answers by principal,
            // the ceiling is the same for every judged principal of the account, so it is asked
            // once. Service-linked roles are not judged (and SCPs do not apply to them): not
            // asked, so their exemption is never taken for the others' (tested: roles only, the
            // service-linked role first).
            let mut same: Option<bool> = None;
            for (v, _) in views
                .iter_mut()
                .zip(&standing)
                .filter(|(_, s)| **s != Standing::ServiceLinked)
            {
                let full = match same {
                    Some(f) if !ctx.org.principal_specific => f,
                    _ => !FULL_ACCESS_PROBES
                        .iter()
                        .any(|a| org_denies(v, &everything, a, "*")),
                };
                same = Some(full);
                v.ceiling_full = full;
            }
        }
        let root = format!("arn:{}:iam::{}:root", ctx.partition, ctx.account);
        let trust_admits = views
            .iter()
            .map(|v| {
                v.rec.trust.as_ref().is_some_and(|t| {
                    use crate::policy::{Principals as P, Scope};
                    t.statements.iter().any(|st| match &st.principal {
                        Some(Scope::Only(P::Any)) | Some(Scope::Not(_)) => true,
                        Some(Scope::Only(P::Kinds(k))) => k.get("AWS").is_some_and(|l| {
                            l.iter()
                                .any(|x| x == "*" || *x == root || *x == ctx.account)
                        }),
                        None => false,
                    })
                })
            })
            .collect();
        Principals {
            prepared,
            views,
            standing,
            groups,
            trust_admits,
            rule_actions,
            everything,
        }
    }

    /// The allow-set (of `names`) the principal is in, with why, if any.
    pub(crate) fn allowed_by(
        &self,
        ctx: &Ctx<'_>,
        names: &[String],
        v: &View<'_>,
    ) -> Option<String> {
        names
            .iter()
            .filter_map(|n| ctx.input.rules.allow_sets.get(n))
            .find_map(|set| member(ctx, set, v))
    }
}

fn member(ctx: &Ctx<'_>, set: &AllowSet, v: &View<'_>) -> Option<String> {
    let n = &set.name;
    let arn = &v.rec.arn;
    if !v.is_role {
        if let Some(g) = set.groups.iter().find(|g| v.rec.groups.contains(g)) {
            return Some(format!("allow-set `{n}`: in group `{g}`"));
        }
    }
    let patterns = if v.is_role { &set.roles } else { &set.users };
    if let Some(p) = patterns.iter().find(|p| principal_pattern::matches(p, arn)) {
        return Some(format!("allow-set `{n}`: `{arn}` matches `{p}`"));
    }
    if v.is_role && arn.contains(":role/aws-reserved/sso.amazonaws.com/") {
        if let Some(ps) = crate::caller::permission_set_of(&v.rec.name) {
            if set.permission_sets.iter().any(|p| wildcard::matches(p, ps)) {
                return Some(format!("allow-set `{n}`: permission set `{ps}`"));
            }
        }
    }
    set.accounts
        .contains(&ctx.account)
        .then(|| format!("allow-set `{n}`: account `{}`", ctx.account))
}

/// Whether the documents alone allow every probe on `*`. Without the organization policies, on
/// purpose: it asks what a document would give, and the methods it serves count only where the
/// organization policies leave room for full access (`View::ceiling_full`).
fn docs_full(
    docs: &[(&str, &PolicyDocument)],
    boundary: Option<&PolicyDocument>,
    account: &str,
) -> bool {
    let ctx = RequestContext::partial();
    FULL_ACCESS_PROBES.iter().all(|a| {
        evaluate(
            &Request {
                principal_arn: "",
                principal_account: account,
                action: a,
                resource: "*",
                context: &ctx,
                ..Default::default()
            },
            &Policies {
                identity: docs,
                boundary,
                resource: None,
                ..Default::default()
            },
        )
        .answer
            == Answer::Allow
    })
}

/// Whether the organization policies alone deny `action` on `resource` to the principal: asked
/// with an identity policy allowing everything, so only the SCPs and RCPs can say no. False
/// without organization policies.
fn org_denies(v: &View<'_>, everything: &PolicyDocument, action: &str, resource: &str) -> bool {
    if !v.org.is_some() {
        return false;
    }
    let answer = evaluate(
        &Request {
            principal_arn: &v.rec.arn,
            principal_account: v.account,
            action,
            resource,
            context: &v.context,
            ..Default::default()
        },
        &Policies {
            identity: &[("an identity policy allowing everything", everything)],
            scps: v.org.scps,
            rcps: v.org.rcps,
            ..Default::default()
        },
    )
    .answer;
    matches!(answer, Answer::ExplicitDeny | Answer::ImplicitDeny)
}

/// The principal's policies allow every probe on `*`: the first probe's reason. Where only the
/// organization policies leave a probe uncertain (a condition the sweep cannot tell, such as the
/// requested region) while the principal's own policies allow it, it counts, and the reason says
/// "maybe".
fn full(v: &View<'_>, index: &DocIndex) -> Option<String> {
    let mut reason = None;
    let mut maybe = None;
    for a in FULL_ACCESS_PROBES {
        if !v.may(index, a) {
            return None;
        }
        let e = v.ask(a, "*", None);
        match e.answer {
            Answer::Allow => {}
            Answer::Unknown
                if v.org.is_some()
                    && v.ask_with(a, "*", None, OrgGates::default()).answer == Answer::Allow =>
            {
                maybe.get_or_insert_with(|| e.reasons.first().cloned().unwrap_or_default());
            }
            _ => return None,
        }
        reason.get_or_insert_with(|| e.reasons.into_iter().next().unwrap_or_default());
    }
    match maybe {
        Some(why) => Some(format!("maybe: {why}")),
        None => reason,
    }
}

/// One way to full access.
#[derive(Debug, Clone)]
struct Method {
    finding_type: &'static str,
    /// `(action, resource)` the method needs.
    pairs: Vec<(String, String)>,
    evidence: String,
}

/// Asks one (action, resource): `Some(reason)` when allowed (or maybe: said in the reason).
fn can(v: &View<'_>, index: &DocIndex, action: &str, resource: &str) -> Option<String> {
    if !v.may(index, action) {
        return None;
    }
    let e = v.ask(action, resource, None);
    let why = e.reasons.into_iter().next().unwrap_or_default();
    match e.answer {
        Answer::Allow => Some(why),
        Answer::Unknown => Some(format!("maybe: {why}")),
        _ => None,
    }
}

/// The methods that need no other principal.
fn own_methods(ctx: &Ctx<'_>, p: &Principals<'_>, i: usize) -> Vec<Method> {
    let (Some(v), index) = (p.views.get(i), &p.prepared.index) else {
        return Vec::new();
    };
    if !v.ceiling_full {
        // The organization policies deny a probe: what it writes on itself cannot give it all.
        return Vec::new();
    }
    let snap = ctx.input.snapshot;
    let me = v.rec.arn.as_str();
    let mut out = Vec::new();
    let (kind, title) = if v.is_role {
        ("role", "Role")
    } else {
        ("user", "User")
    };
    let cite = |m: &str| format!("escalation.md, \"Changing one's own permissions directly\": {m}");
    let mut self_policy: Vec<Method> = Vec::new();
    for verb in ["Put", "Attach"] {
        let action = format!("iam:{verb}{title}Policy");
        if let Some(why) = can(v, index, &action, me) {
            self_policy.push(Method {
                finding_type: "PutOrAttachOwnPolicy",
                pairs: vec![(action.clone(), me.to_owned())],
                evidence: format!(
                    "{} on itself: `{action}` on `{me}` ({why})",
                    cite(if verb == "Put" {
                        "write an inline policy"
                    } else {
                        "attach a managed policy"
                    })
                ),
            });
        }
    }
    if !v.is_role {
        for g in v.rec.groups.iter().filter_map(|g| snap.groups.get(g)) {
            for verb in ["Put", "Attach"] {
                let action = format!("iam:{verb}GroupPolicy");
                if let Some(why) = can(v, index, &action, &g.arn) {
                    self_policy.push(Method {
                        finding_type: "GroupPolicy",
                        pairs: vec![(action.clone(), g.arn.clone())],
                        evidence: format!(
                            "{} on its group `{}`: `{action}` on `{}` ({why})",
                            cite("write or attach a policy"),
                            g.name,
                            g.arn
                        ),
                    });
                }
            }
        }
    }
    let mut attached: Vec<&String> = v.rec.attached.iter().collect();
    if !v.is_role {
        for g in v.rec.groups.iter().filter_map(|g| snap.groups.get(g)) {
            attached.extend(&g.attached);
        }
    }
    attached.sort();
    attached.dedup();
    for m in attached
        .into_iter()
        .filter(|m| !m.contains(":iam::aws:policy/"))
    {
        if let Some(why) = can(v, index, "iam:CreatePolicyVersion", m) {
            self_policy.push(Method {
                finding_type: "CreatePolicyVersion",
                pairs: vec![("iam:CreatePolicyVersion".to_owned(), m.clone())],
                evidence: format!(
                    "{}: `iam:CreatePolicyVersion` on `{m}`, attached to it ({why})",
                    cite("new version of an attached managed policy")
                ),
            });
        }
        let permissive = snap
            .version_documents
            .get(m)
            .into_iter()
            .flatten()
            .find(|x| !x.is_default && docs_full(&[("version", &x.document)], None, &ctx.account));
        if let Some(old) = permissive {
            if let Some(why) = can(v, index, "iam:SetDefaultPolicyVersion", m) {
                self_policy.push(Method {
                    finding_type: "SetDefaultPolicyVersion",
                    pairs: vec![("iam:SetDefaultPolicyVersion".to_owned(), m.clone())],
                    evidence: format!("{}: `iam:SetDefaultPolicyVersion` on `{m}`, whose version `{}` allows everything ({why})", cite("switch to an older permissive version"), old.id),
                });
            }
        }
    }
    let delete_boundary = format!("iam:Delete{title}PermissionsBoundary");
    match v.boundary {
        None => out.extend(self_policy),
        Some(b) => {
            let removable = can(v, index, &delete_boundary, me);
            if docs_full(&[("boundary", b)], None, &ctx.account) {
                out.extend(self_policy);
            } else if let Some(why) = removable {
                let unbounded_full = docs_full(&v.policies, None, &ctx.account);
                if unbounded_full || !self_policy.is_empty() {
                    let pairs: Vec<(String, String)> =
                        std::iter::once((delete_boundary.clone(), me.to_owned()))
                            .chain(self_policy.iter().flat_map(|m| m.pairs.clone()))
                            .collect();
                    out.push(Method {
                        finding_type: "PermissionsBoundaryRemoval",
                        pairs,
                        evidence: format!(
                            "{}: `{delete_boundary}` on itself ({why}), {}",
                            cite("remove or loosen a permissions boundary"),
                            if unbounded_full {
                                "and its policies without the boundary allow everything".to_owned()
                            } else {
                                format!(
                                    "then {}",
                                    self_policy
                                        .iter()
                                        .map(|m| m.evidence.clone())
                                        .collect::<Vec<_>>()
                                        .join("; ")
                                )
                            }
                        ),
                    });
                }
            }
        }
    }
    let _ = kind;
    out
}

/// Whether a role's trust policy lets `service` assume it.
fn trusts_service(trust: &PolicyDocument, service: &str) -> bool {
    use crate::policy::{Effect, Principals as P, Scope};
    trust.statements.iter().any(|st| {
        st.effect == Effect::Allow
            && matches!(&st.action, Scope::Only(a) if a.iter().any(|x| wildcard::matches_ignore_ascii_case(x, "sts:AssumeRole")))
            && matches!(&st.principal, Some(Scope::Only(P::Kinds(k))) if k.get("Service").is_some_and(|s| s.iter().any(|x| x == service)))
    })
}

/// The methods through another principal already known to be an effective admin.
fn target_methods(
    ctx: &Ctx<'_>,
    p: &Principals<'_>,
    i: usize,
    admins: &[usize],
    full_groups: &[usize],
) -> Vec<Method> {
    let (Some(v), index) = (p.views.get(i), &p.prepared.index) else {
        return Vec::new();
    };
    let snap = ctx.input.snapshot;
    let cite =
        |m: &str| format!("escalation.md, \"Taking over another principal's credentials\": {m}");
    let mut out = Vec::new();
    let targets = admins
        .iter()
        .filter(|j| **j != i)
        .filter_map(|j| p.views.get(*j).map(|t| (*j, t)));
    let compute: Vec<(&str, &str, String)> = COMPUTE
        .iter()
        .filter_map(|(svc, act)| {
            v.may(index, act)
                .then(|| v.allowed_on(index, act, &[], true))
                .and_then(|w| w.into_iter().next())
                .map(|(_, _, why)| (*svc, *act, why))
        })
        .collect();
    for (j, t) in targets {
        let ta = t.rec.arn.as_str();
        if !t.is_role {
            for (action, method) in [
                ("iam:CreateAccessKey", "access key for another user"),
                (
                    "iam:CreateLoginProfile",
                    "console password for a user without one",
                ),
                ("iam:UpdateLoginProfile", "reset another user's password"),
            ] {
                if let Some(why) = can(v, index, action, ta) {
                    out.push(Method {
                        finding_type: "OtherUsersCredentials",
                        pairs: vec![(action.to_owned(), ta.to_owned())],
                        evidence: format!(
                            "{}: `{action}` on `{ta}`, an effective admin ({why})",
                            cite(method)
                        ),
                    });
                }
            }
            continue;
        }
        if let Some(why) = can(v, index, "iam:UpdateAssumeRolePolicy", ta) {
            out.push(Method {
                finding_type: "RoleTrust",
                pairs: vec![("iam:UpdateAssumeRolePolicy".to_owned(), ta.to_owned())],
                evidence: format!("escalation.md, \"make a role assumable by oneself\": `iam:UpdateAssumeRolePolicy` on `{ta}`, an effective admin ({why})"),
            });
        }
        let Some(trust) = &t.rec.trust else { continue };
        let admits = p.trust_admits.get(j).copied().unwrap_or(false);
        let names_it = trust_names(trust, &v.rec.arn);
        if (names_it || (admits && v.may(index, "sts:AssumeRole")))
            && !org_denies(v, &p.everything, "sts:AssumeRole", ta)
        {
            let trusted = v.ask("sts:AssumeRole", ta, Some(("trust policy", trust)));
            // Whether the trust policy itself admits it: without the organization policies, which
            // `org_denies` above has asked about the step.
            let by_trust_alone = evaluate(
                &Request {
                    principal_arn: &v.rec.arn,
                    principal_account: &ctx.account,
                    action: "sts:AssumeRole",
                    resource: ta,
                    context: &RequestContext::partial(),
                    ..Default::default()
                },
                &Policies {
                    identity: &[],
                    boundary: None,
                    resource: Some(("trust policy", trust)),
                    ..Default::default()
                },
            );
            let identity = can(v, index, "sts:AssumeRole", ta);
            if by_trust_alone.answer == Answer::Allow
                && (names_it || identity.is_some())
                && trusted.answer != Answer::ExplicitDeny
            {
                out.push(Method {
                    finding_type: "AssumeRole",
                    pairs: vec![("sts:AssumeRole".to_owned(), ta.to_owned())],
                    evidence: format!(
                        "may assume `{ta}`, an effective admin: its trust policy admits it{}",
                        identity.map(|w| format!(" and {w}")).unwrap_or_default()
                    ),
                });
            }
        }
        {
            for (svc, act, why_compute) in &compute {
                if !trusts_service(trust, svc) {
                    continue;
                }
                if let Some(why) = can(v, index, "iam:PassRole", ta) {
                    out.push(Method {
                        finding_type: "PassRole",
                        pairs: vec![("iam:PassRole".to_owned(), ta.to_owned()), ((*act).to_owned(), "*".to_owned())],
                        evidence: format!("escalation.md, \"Passing a privileged role to something one controls\": `iam:PassRole` on `{ta}`, an effective admin that `{svc}` may assume ({why}), and `{act}` ({why_compute})"),
                    });
                    break;
                }
            }
        }
    }
    if !v.is_role {
        for g in full_groups.iter().filter_map(|g| p.groups.get(*g)) {
            if v.rec.groups.contains(&g.rec.name) {
                continue;
            }
            let Some(group) = snap.groups.get(&g.rec.name) else {
                continue;
            };
            if let Some(why) = can(v, index, "iam:AddUserToGroup", &group.arn) {
                out.push(Method {
                    finding_type: "JoinGroup",
                    pairs: vec![("iam:AddUserToGroup".to_owned(), group.arn.clone())],
                    evidence: format!("escalation.md, \"join a more privileged group\": `iam:AddUserToGroup` on `{}`, whose policies allow everything ({why})", group.arn),
                });
            }
        }
    }
    out
}

fn trust_names(trust: &PolicyDocument, arn: &str) -> bool {
    use crate::policy::{Principals as P, Scope};
    trust.statements.iter().any(|st| {
        matches!(&st.principal, Some(Scope::Only(P::Kinds(k))) if k.get("AWS").is_some_and(|l| l.iter().any(|x| x == arn)))
    })
}

/// What the fixpoint knows of one principal.
#[derive(Debug, Default)]
struct State {
    admin: bool,
    methods: Vec<Method>,
    /// Holds full access: the reason.
    full: Option<String>,
}

/// The effective-admin findings.
pub(crate) fn findings(ctx: &Ctx<'_>, p: &Principals<'_>) -> Vec<Finding> {
    let index = &p.prepared.index;
    let n = p.views.len();
    let linked = |i: usize| p.standing.get(i) == Some(&Standing::ServiceLinked);
    let mut state: Vec<State> = p
        .views
        .iter()
        .enumerate()
        .map(|(i, v)| {
            if linked(i) {
                return State::default();
            }
            if let Some(why) = full(v, index) {
                return State {
                    admin: true,
                    methods: Vec::new(),
                    full: Some(why),
                };
            }
            let own = own_methods(ctx, p, i);
            State {
                admin: !own.is_empty(),
                methods: own,
                full: None,
            }
        })
        .collect();
    let full_groups: Vec<usize> = p
        .groups
        .iter()
        .enumerate()
        .filter(|(_, g)| full(g, index).is_some())
        .map(|(i, _)| i)
        .collect();
    // INVARIANT (admin-fixpoint): a principal that can become an effective admin is one; each
    // round adds at least one principal or ends, so at most `n` rounds.
    for _ in 0..n.max(1) {
        let targets: Vec<usize> = state
            .iter()
            .enumerate()
            .filter(|(_, s)| s.admin)
            .map(|(j, _)| j)
            .collect();
        let mut changed = false;
        for (i, s) in state.iter_mut().enumerate() {
            if s.admin || linked(i) {
                continue;
            }
            let via = target_methods(ctx, p, i, &targets, &full_groups);
            if !via.is_empty() {
                s.methods = via;
                changed = true;
            }
        }
        for s in &mut state {
            s.admin |= !s.methods.is_empty();
        }
        if !changed {
            break;
        }
    }
    let admin_set = std::slice::from_ref(&ctx.options.admin_allow_set);
    let mut out = Vec::new();
    for ((i, v), s) in p.views.iter().enumerate().zip(&state) {
        if !s.admin {
            continue;
        }
        let standing = p.standing.get(i).copied().unwrap_or(Standing::Judged);
        if matches!(
            standing,
            Standing::Warden | Standing::BreakGlass | Standing::ServiceLinked
        ) {
            continue;
        }
        if p.allowed_by(ctx, admin_set, v).is_some() {
            continue;
        }
        let age = ctx.age(ctx.input.snapshot_read_at);
        let finding = match &s.full {
            Some(why) => Finding {
                kind: Kind::EffectiveAdmin,
                finding_type: "FullAccess".to_owned(),
                rule: None,
                principal: Some(v.rec.arn.clone()),
                resource: None,
                actions: vec!["*".to_owned()],
                evidence: vec![format!("its policies allow everything ({} on `*`): {why}", FULL_ACCESS_PROBES.join(", "))],
                data_age_seconds: age,
                response: Response::alert(ctx.mode(None), "holds full access outside the admin allow-set: a person decides (Warden does not take a policy away)"),
            },
            None => {
                let ms = &s.methods;
                let pairs: BTreeSet<(String, String)> = ms.iter().flat_map(|m| m.pairs.clone()).collect();
                let actions: BTreeSet<String> = pairs.iter().map(|(a, _)| a.clone()).collect();
                let rule = deny_rule(ctx, p, v, &pairs);
                let mode = ctx.mode(rule);
                let response = match (rule, standing) {
                    (_, Standing::IdentityCenter) => Response::alert(mode, "an Identity Center role cannot be given a Deny: a person changes its permission set"),
                    (Some(r), _) if r.response.deny_scope != DenyScope::None => Response::change(mode, Action::Deny, vec![Change {
                        step: "deny",
                        target: v.rec.arn.clone(),
                        detail: pairs.iter().filter(|(_, r)| r != "*").map(|(a, r)| format!("{a} {r}")).collect(),
                        pairs: pairs.iter().filter(|(_, r)| r != "*").cloned().collect(),
                    }]),
                    _ => Response::alert(mode, "no rule denies these methods: a person decides"),
                };
                Finding {
                    kind: Kind::EffectiveAdmin,
                    finding_type: ms.first().map_or("Escalation", |m| m.finding_type).to_owned(),
                    rule: rule.map(|r| r.id.clone()),
                    principal: Some(v.rec.arn.clone()),
                    resource: None,
                    actions: actions.into_iter().collect(),
                    evidence: ms.iter().map(|m| m.evidence.clone()).collect(),
                    data_age_seconds: age,
                    response,
                }
            }
        };
        out.push(finding);
    }
    out
}

/// The first rule that guards one of the actions and whose allow-sets the principal is outside.
fn deny_rule<'c>(
    ctx: &'c Ctx<'_>,
    p: &Principals<'_>,
    v: &View<'_>,
    pairs: &BTreeSet<(String, String)>,
) -> Option<&'c Rule> {
    ctx.input
        .rules
        .rules
        .iter()
        .zip(p.rule_actions)
        .find(|(r, guarded)| {
            !r.matches.actions.is_empty()
                && r.matches.request.is_empty()
                && !r.allow.is_empty()
                && p.allowed_by(ctx, &r.allow, v).is_none()
                && {
                    let resources: Vec<String> = r
                        .matches
                        .resources
                        .iter()
                        .map(|x| ctx.instantiate(x))
                        .collect();
                    pairs.iter().any(|(a, res)| {
                        guarded.iter().any(|g| g.eq_ignore_ascii_case(a))
                            && (resources.is_empty()
                                || resources.iter().any(|q| wildcard::matches(q, res)))
                    })
                }
        })
        .map(|(r, _)| r)
}
