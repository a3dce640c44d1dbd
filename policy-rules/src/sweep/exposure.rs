//! Exposure: buckets open outside the account — a policy `Allow` to a principal of another account
//! or to everyone (`grants::outside_grants`, the judgement `bucket` surgery removes by), an ACL grant
//! to `AllUsers` or `AuthenticatedUsers` — and public access blocks off, per bucket and for the
//! account. What S3 itself neutralises is not reported as open: a public policy while
//! `RestrictPublicBuckets` is in force (bucket or account), public ACL grants while
//! `IgnorePublicAcls` is or the bucket's object ownership is `BucketOwnerEnforced` (ACLs disabled)
//! ("Blocking public access to your Amazon S3 storage", "Controlling ownership of objects").
//!
//! Resource control policies (given or read from AWS Organizations) cap every request to the
//! account's buckets, from outside and anonymous ones too. A grant that an RCP's `Deny` certainly
//! takes away — no condition, `Principal` `*`, every action and resource of the grant inside the
//! Deny's — is not reported as open (the report's notes say which RCP closed it); a grant an RCP
//! may take away (a condition, a partial overlap, `NotAction`) is reported with the RCP named:
//! Warden does not assume a condition closes a grant.

use super::input::{PublicAccessBlock, ALL_USERS, AUTHENTICATED_USERS};
use super::{Action, Change, Ctx, Finding, Kind, Response};
use crate::grants::{outside_grants, OutsideGrant, NOT_PRINCIPAL};
use crate::policy::{Effect, PolicyDocument, Principals, Scope, Statement};
use crate::rules::Rule;

/// What the RCPs say of one grant.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RcpVerdict {
    /// No RCP statement touches it.
    Open,
    /// This Deny takes away every request the grant allows.
    Closed(String),
    /// These Denies may take away some or all of it (a condition, a partial overlap).
    Maybe(Vec<String>),
}

/// Whether pattern `outer` matches every string pattern `inner` matches: `*`, the same pattern,
/// or `prefix*` (no other wildcard) over an `inner` that starts with that prefix. Anything else
/// is not known to cover (the answer may be "no" where it is "yes": never the other way).
fn covers(outer: &str, inner: &str, fold: bool) -> bool {
    let eq = |a: &str, b: &str| {
        if fold {
            a.eq_ignore_ascii_case(b)
        } else {
            a == b
        }
    };
    if outer == "*" || eq(outer, inner) {
        return true;
    }
    match outer.strip_suffix('*') {
        Some(prefix) if !crate::wildcard::has_wildcard(prefix) && !prefix.contains("${") => inner
            .get(..prefix.len())
            .is_some_and(|head| eq(head, prefix)),
        _ => false,
    }
}

/// Whether two patterns (`*`, `?`) match some string in common: the product of the two
/// patterns, worked backwards (`common[i][j]`: the rests from `a[i..]` and `b[j..]` share a
/// match). A `${…}` escape is read as literal characters, which can only add overlaps: "may".
fn overlaps(a: &str, b: &str, fold: bool) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let same = |x: char, y: char| {
        x == '?'
            || y == '?'
            || if fold {
                x.eq_ignore_ascii_case(&y)
            } else {
                x == y
            }
    };
    let width = b.len() + 1;
    let mut common = vec![false; (a.len() + 1) * width];
    let at = |t: &[bool], i: usize, j: usize| t.get(i * width + j).copied().unwrap_or(false);
    for i in (0..=a.len()).rev() {
        for j in (0..=b.len()).rev() {
            let v = match (a.get(i), b.get(j)) {
                (None, None) => true,
                (Some('*'), _) => at(&common, i + 1, j) || (j < b.len() && at(&common, i, j + 1)),
                (_, Some('*')) => at(&common, i, j + 1) || (i < a.len() && at(&common, i + 1, j)),
                (Some(&x), Some(&y)) => same(x, y) && at(&common, i + 1, j + 1),
                _ => false,
            };
            if let Some(cell) = common.get_mut(i * width + j) {
                *cell = v;
            }
        }
    }
    at(&common, 0, 0)
}

/// How an RCP statement's list (`Action` or `Resource`) relates to the grant's: `Some(true)` it
/// covers every value, `Some(false)` it may overlap, `None` it cannot touch it.
fn relation(
    rcp: Option<&Scope<Vec<String>>>,
    grant: Option<&Scope<Vec<String>>>,
    fold: bool,
) -> Option<bool> {
    let (Some(Scope::Only(rcp)), Some(Scope::Only(grant))) = (rcp, grant) else {
        // `NotAction`, `NotResource` on either side: Warden does not work out the complement.
        return Some(false);
    };
    if grant.iter().all(|g| rcp.iter().any(|r| covers(r, g, fold))) {
        Some(true)
    } else if grant
        .iter()
        .any(|g| rcp.iter().any(|r| overlaps(r, g, fold)))
    {
        Some(false)
    } else {
        None
    }
}

/// What the RCPs on the path to the account say of the grant statement `st`.
fn rcp_verdict(ctx: &Ctx<'_>, st: &Statement) -> RcpVerdict {
    let Some(org) = ctx.input.org_policies else {
        return RcpVerdict::Open;
    };
    if org.management_account.as_deref() == Some(ctx.account.as_str()) {
        return RcpVerdict::Open;
    }
    let mut maybe = Vec::new();
    for (name, document) in org.rcps.iter().flatten().map(|p| (&p.name, &p.document)) {
        for (i, d) in document.statements.iter().enumerate() {
            if d.effect != Effect::Deny {
                continue;
            }
            let cite = format!(
                "RCP `{name}` statement `{}`",
                d.sid.clone().unwrap_or_else(|| format!("#{i}"))
            );
            let Some(actions) = relation(Some(&d.action), Some(&st.action), true) else {
                continue;
            };
            let Some(resources) = relation(d.resource.as_ref(), st.resource.as_ref(), false) else {
                continue;
            };
            let everyone = matches!(d.principal, None | Some(Scope::Only(Principals::Any)));
            if actions && resources && everyone && d.condition.is_empty() {
                return RcpVerdict::Closed(cite);
            }
            maybe.push(cite);
        }
    }
    if maybe.is_empty() {
        RcpVerdict::Open
    } else {
        RcpVerdict::Maybe(maybe)
    }
}

/// The statement a grant names (its `Sid`, or `#index`); `None` when the name is not one
/// statement's (two statements with one `Sid`): the grant is then judged open.
fn statement_of<'p>(policy: &'p PolicyDocument, g: &OutsideGrant) -> Option<&'p Statement> {
    match g
        .statement
        .strip_prefix('#')
        .and_then(|i| i.parse::<usize>().ok())
    {
        Some(i) if policy.statements.get(i).is_some_and(|s| s.sid.is_none()) => {
            policy.statements.get(i)
        }
        _ => {
            let mut named = policy
                .statements
                .iter()
                .filter(|s| s.sid.as_deref() == Some(g.statement.as_str()));
            match (named.next(), named.next()) {
                (Some(st), None) => Some(st),
                _ => None,
            }
        }
    }
}

/// The rule that guards a bucket action (the first whose actions name it), for the response.
fn guarding<'c>(ctx: &'c Ctx<'_>, action: &str) -> Option<&'c Rule> {
    ctx.input.rules.rules.iter().find(|r| {
        r.matches
            .actions
            .iter()
            .any(|p| crate::wildcard::matches_ignore_ascii_case(p, action))
    })
}

fn undo(ctx: &Ctx<'_>, rule: Option<&Rule>, change: Change, why_not: &str) -> Response {
    let mode = ctx.mode(rule);
    match rule {
        Some(r) if r.response.undo => Response::change(mode, Action::Undo, vec![change]),
        Some(r) => Response::alert(mode, format!("rule `{}` asks for no undo", r.id)),
        None => Response::alert(mode, why_not),
    }
}

pub(crate) fn findings(ctx: &Ctx<'_>, notes: &mut Vec<String>) -> Vec<Finding> {
    let Some(b) = ctx.input.buckets else {
        return Vec::new();
    };
    let age = ctx.age(b.read_at);
    let account_block = b.account_public_access_block.as_ref();
    let trusted = &ctx.input.rules.trusted_accounts;
    let policy_rule = ctx
        .input
        .rules
        .rules
        .iter()
        .find(|r| r.matches.grants_outside_account);
    let acl_rule = guarding(ctx, "s3:PutBucketAcl");
    let block_rule = guarding(ctx, "s3:PutBucketPublicAccessBlock");
    let account_rule = guarding(ctx, "s3:PutAccountPublicAccessBlock");
    let mut out = Vec::new();
    let account_arn = format!("arn:{}:iam::{}:root", ctx.partition, ctx.account);
    let account_off = PublicAccessBlock::combined(None, account_block).off();
    if !account_off.is_empty() {
        out.push(Finding {
            kind: Kind::Exposure,
            finding_type: "AccountPublicAccessBlockOff".to_owned(),
            rule: account_rule.map(|r| r.id.clone()),
            principal: None,
            resource: Some(account_arn.clone()),
            actions: vec!["s3:PutAccountPublicAccessBlock".to_owned()],
            evidence: vec![format!(
                "the account's public access block is off for {}",
                account_off.join(", ")
            )],
            data_age_seconds: age,
            response: Response::alert(
                ctx.mode(account_rule),
                "no connector puts the account's block back yet: `aws s3control put-public-access-block --account-id … --public-access-block-configuration BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true`",
            ),
        });
    }
    for bucket in &b.buckets {
        let arn = format!("arn:{}:s3:::{}", ctx.partition, bucket.name);
        let effective =
            PublicAccessBlock::combined(bucket.public_access_block.as_ref(), account_block);
        if let Some(policy) = &bucket.policy {
            // What the RCPs say of each grant: a grant one certainly closes is not open; one an
            // RCP may close carries the RCP's name into its evidence.
            let grants: Vec<(OutsideGrant, Option<String>)> =
                outside_grants(policy, &ctx.account, trusted)
                    .into_iter()
                    .filter_map(|g| {
                        let verdict = statement_of(policy, &g)
                            .map_or(RcpVerdict::Open, |st| rcp_verdict(ctx, st));
                        match verdict {
                            RcpVerdict::Closed(cite) => {
                                notes.push(format!(
                                    "bucket `{}`: policy statement `{}` grants to `{}`, but {cite} denies every request it allows: not reported as open",
                                    bucket.name, g.statement, g.principal
                                ));
                                None
                            }
                            RcpVerdict::Maybe(cites) => Some((
                                g,
                                Some(format!(
                                    " ({} may deny it: a condition or a partial overlap Warden did not work out)",
                                    cites.join(", ")
                                )),
                            )),
                            RcpVerdict::Open => Some((g, None)),
                        }
                    })
                    .collect();
            let describe = |g: &OutsideGrant, rcp: &Option<String>, to: String| {
                format!(
                    "bucket policy statement `{}` grants to {to}{}{}",
                    g.statement,
                    if g.conditional {
                        " (with a condition Warden did not evaluate)"
                    } else {
                        ""
                    },
                    rcp.as_deref().unwrap_or("")
                )
            };
            let (public, other): (Vec<_>, Vec<_>) = grants
                .iter()
                .partition(|(g, _)| g.principal == "*" || g.principal == NOT_PRINCIPAL);
            let mut shown: Vec<String> = other
                .iter()
                .map(|(g, rcp)| describe(g, rcp, format!("`{}`", g.principal)))
                .collect();
            let public_live = !effective.restrict_public_buckets;
            if public_live {
                shown.extend(
                    public
                        .iter()
                        .map(|(g, rcp)| describe(g, rcp, format!("everyone (`{}`)", g.principal))),
                );
            }
            if !shown.is_empty() {
                let t = if public_live && !public.is_empty() {
                    "PublicBucketPolicy"
                } else {
                    "CrossAccountBucketPolicy"
                };
                out.push(Finding {
                    kind: Kind::Exposure,
                    finding_type: t.to_owned(),
                    rule: policy_rule.map(|r| r.id.clone()),
                    principal: None,
                    resource: Some(arn.clone()),
                    actions: vec!["s3:PutBucketPolicy".to_owned()],
                    evidence: shown,
                    data_age_seconds: age,
                    response: undo(
                        ctx,
                        policy_rule,
                        Change {
                            step: "remove-outside-grants",
                            target: arn.clone(),
                            detail: Vec::new(),
                            pairs: Vec::new(),
                        },
                        "no rule guards bucket policies: a person must look",
                    ),
                });
            }
        }
        let acls_live = !effective.ignore_public_acls
            && bucket.object_ownership.as_deref() != Some("BucketOwnerEnforced");
        let public_acl: Vec<String> = bucket
            .acl
            .iter()
            .filter(|g| {
                g.uri
                    .as_deref()
                    .is_some_and(|u| u == ALL_USERS || u == AUTHENTICATED_USERS)
            })
            .map(|g| {
                format!(
                    "ACL grants `{}` to `{}`",
                    g.permission,
                    g.uri.as_deref().unwrap_or("")
                )
            })
            .collect();
        if acls_live && !public_acl.is_empty() {
            out.push(Finding {
                kind: Kind::Exposure,
                finding_type: "PublicBucketAcl".to_owned(),
                rule: acl_rule.map(|r| r.id.clone()),
                principal: None,
                resource: Some(arn.clone()),
                actions: vec!["s3:PutBucketAcl".to_owned()],
                evidence: public_acl,
                data_age_seconds: age,
                response: undo(
                    ctx,
                    acl_rule,
                    Change {
                        step: "remove-public-acl-grants",
                        target: arn.clone(),
                        detail: Vec::new(),
                        pairs: Vec::new(),
                    },
                    "no rule guards bucket ACLs: a person must look",
                ),
            });
        }
        let off = effective.off();
        if !off.is_empty() && !account_off.is_empty() {
            out.push(Finding {
                kind: Kind::Exposure,
                finding_type: "BucketPublicAccessBlockOff".to_owned(),
                rule: block_rule.map(|r| r.id.clone()),
                principal: None,
                resource: Some(arn.clone()),
                actions: vec!["s3:PutBucketPublicAccessBlock".to_owned()],
                evidence: vec![format!(
                    "neither the bucket's nor the account's public access block sets {}",
                    off.join(", ")
                )],
                data_age_seconds: age,
                response: undo(
                    ctx,
                    block_rule,
                    Change {
                        step: "put-public-access-block",
                        target: arn.clone(),
                        detail: off.iter().map(|s| format!("{s}=true")).collect(),
                        pairs: Vec::new(),
                    },
                    "no rule guards public access blocks: a person must look",
                ),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn covers_is_sure_and_overlaps_is_generous() {
        assert!(covers("s3:*", "s3:GetObject", true));
        assert!(covers("S3:GET*", "s3:GetObject*", true));
        assert!(covers(
            "arn:aws:s3:::site/*",
            "arn:aws:s3:::site/a/*",
            false
        ));
        assert!(!covers(
            "arn:aws:s3:::site/a/*",
            "arn:aws:s3:::site/*",
            false
        ));
        assert!(!covers("arn:aws:s3:::site/?", "arn:aws:s3:::site/*", false));
        assert!(!covers("s3:*", "*", true));
        assert!(overlaps(
            "arn:aws:s3:::site/a/*",
            "arn:aws:s3:::site/*",
            false
        ));
        assert!(!overlaps(
            "arn:aws:s3:::other/*",
            "arn:aws:s3:::site/*",
            false
        ));
        assert!(overlaps("a*b", "*ab", false), "both match `ab`");
        assert!(!overlaps("a*", "b*", false));
        assert!(overlaps("S3:Get*", "s3:?etObject", true));
    }

    #[test]
    fn a_sid_two_statements_share_names_neither() {
        let doc = PolicyDocument::from_value(&serde_json::json!({"Statement":[
            {"Sid":"S","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"},
            {"Sid":"S","Effect":"Allow","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*"},
            {"Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b"}
        ]}))
        .unwrap();
        let grant = |statement: &str| OutsideGrant {
            statement: statement.to_owned(),
            principal: "*".to_owned(),
            conditional: false,
        };
        assert!(statement_of(&doc, &grant("S")).is_none());
        assert_eq!(
            statement_of(&doc, &grant("#2")).map(|s| s.action.clone()),
            Some(Scope::Only(vec!["s3:ListBucket".to_owned()]))
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        /// Whatever `inner` matches, an `outer` said to cover it matches too; and a text both
        /// match means they overlap.
        #[test]
        fn covering_never_claims_too_much(
            outer in "[ab*?]{0,5}",
            inner in "[ab*?]{0,5}",
            text in "[ab]{0,5}",
        ) {
            let both = crate::wildcard::matches(&inner, &text) && crate::wildcard::matches(&outer, &text);
            if covers(&outer, &inner, false) && crate::wildcard::matches(&inner, &text) {
                prop_assert!(crate::wildcard::matches(&outer, &text));
            }
            if both {
                prop_assert!(overlaps(&outer, &inner, false));
            }
        }
    }
}
