//! Exposure: buckets open outside the account — a policy `Allow` to a principal of another account
//! or to everyone (`grants::outside_grants`, the judgement `bucket` surgery removes by), an ACL grant
//! to `AllUsers` or `AuthenticatedUsers` — and public access blocks off, per bucket and for the
//! account. What S3 itself neutralises is not reported as open: a public policy while
//! `RestrictPublicBuckets` is in force (bucket or account), public ACL grants while
//! `IgnorePublicAcls` is or the bucket's object ownership is `BucketOwnerEnforced` (ACLs disabled)
//! ("Blocking public access to your Amazon S3 storage", "Controlling ownership of objects").

use super::input::{PublicAccessBlock, ALL_USERS, AUTHENTICATED_USERS};
use super::{Action, Change, Ctx, Finding, Kind, Response};
use crate::grants::{outside_grants, NOT_PRINCIPAL};
use crate::rules::Rule;

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

pub(crate) fn findings(ctx: &Ctx<'_>, _notes: &mut Vec<String>) -> Vec<Finding> {
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
            let grants = outside_grants(policy, &ctx.account, trusted);
            let (public, other): (Vec<_>, Vec<_>) = grants
                .into_iter()
                .partition(|g| g.principal == "*" || g.principal == NOT_PRINCIPAL);
            let mut shown: Vec<String> = other
                .iter()
                .map(|g| {
                    format!(
                        "bucket policy statement `{}` grants to `{}`{}",
                        g.statement,
                        g.principal,
                        if g.conditional {
                            " (with a condition Warden did not evaluate)"
                        } else {
                            ""
                        }
                    )
                })
                .collect();
            let public_live = !effective.restrict_public_buckets;
            if public_live {
                shown.extend(public.iter().map(|g| {
                    format!(
                        "bucket policy statement `{}` grants to everyone (`{}`){}",
                        g.statement,
                        g.principal,
                        if g.conditional {
                            " (with a condition Warden did not evaluate)"
                        } else {
                            ""
                        }
                    )
                }));
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
