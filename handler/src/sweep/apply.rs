//! An enforcing sweep's changes (issue 11 §2 "What it does"): each finding whose response is
//! planned in `enforce` mode (the sweep's mode and the rule's), within the change limit, is made
//! through the live path's parts:
//!
//! - a `deny` (standing violations, effective admins): the pairs are added to Warden's Deny on the
//!   principal through [`Flow::add_to_deny`], held in Warden's record like every Deny it places,
//!   so the next sweep puts it back if someone removes it;
//! - an `undo` of a bucket (its outside grants, its public ACL grants, its block): the bucket's
//!   live state is read through the connector that changes it, the one narrow step is made from
//!   that read (`policy_rules::sweep::steps::undo_step`, never from the sweep's older read), and
//!   applied with [`Flow::apply_sweep_step`].
//!
//! Each change is one `change` evidence record with the before- and after-state, which
//! `warden rollback ID` undoes. A change that cannot be made (the principal gone, nothing to
//! remove any more, surgery refused) is not guessed at: it is listed for the summary alert, and
//! the rest go on. Drift is not here: it is put back whatever the mode (`findings.rs`).

use crate::connectors::{bucket_acl::BucketAcl, bucket_policy::BucketPolicy, Target};
use crate::enforce::apply_plan::PlanApplied;
use crate::enforce::flow::{Flow, FlowError};
use policy_rules::rules::Mode;
use policy_rules::sweep::steps::{bucket_of, deny_pairs, undo_step};
use policy_rules::sweep::{Action, Change, Finding, SweepReport};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// One change an enforcing sweep made, or could not make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Made {
    /// The principal or bucket ARN.
    pub subject: String,
    /// The finding's type (`RuleViolation`, `PublicBucketPolicy`, …).
    pub finding: String,
    /// The change's step (`deny`, `remove-outside-grants`, …).
    pub step: String,
    /// The `change` record (`warden rollback` takes it); `None` when nothing changed.
    pub record: Option<String>,
    /// Why nothing changed, when nothing did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_made: Option<String>,
}

/// Whether a finding's response is one this sweep makes.
pub fn is_enforced(f: &Finding) -> bool {
    f.response.mode == Mode::Enforce
        && f.response.planned
        && matches!(f.response.action, Action::Deny | Action::Undo)
}

/// Makes every enforced change of `report`, in its order (worst first).
pub async fn apply(
    flow: &Flow,
    sweep_id: &str,
    report: &SweepReport,
) -> Result<Vec<Made>, FlowError> {
    let mut out = Vec::new();
    for f in report.findings.iter().filter(|f| is_enforced(f)) {
        for change in &f.response.changes {
            let done = match change.step {
                "deny" => {
                    let why = json!({
                        "plan": "sweep",
                        "sweep": sweep_id,
                        "finding": f.finding_type,
                        "rule": f.rule,
                    });
                    flow.add_to_deny(
                        &change.target,
                        &deny_pairs(change),
                        why,
                        Some((sweep_id, &f.finding_type)),
                    )
                    .await
                }
                _ => undo(flow, sweep_id, &f.finding_type, change).await,
            };
            let (record, not_made) = match done {
                Ok(PlanApplied::Changed { record, .. }) => (Some(record.id), None),
                Ok(PlanApplied::Unchanged(why)) => (None, Some(why)),
                // The store failing is not this change's fault: the findings step runs again.
                Err(e @ FlowError::Store(_)) => return Err(e),
                Err(e) => (None, Some(e.to_string())),
            };
            out.push(Made {
                subject: change.target.clone(),
                finding: f.finding_type.clone(),
                step: change.step.to_owned(),
                record,
                not_made,
            });
        }
    }
    Ok(out)
}

/// One bucket change: read the live state, make the step from it, apply it.
async fn undo(
    flow: &Flow,
    sweep_id: &str,
    finding_type: &str,
    change: &Change,
) -> Result<PlanApplied, FlowError> {
    let bucket = bucket_of(change).map_err(FlowError::Unreadable)?;
    let kind = match change.step {
        "remove-outside-grants" => BucketPolicy::KIND,
        "remove-public-acl-grants" => BucketAcl::KIND,
        "put-public-access-block" => {
            crate::connectors::public_access_block::PublicAccessBlock::KIND
        }
        other => {
            return Err(FlowError::Unreadable(format!(
                "`{other}` is not a change a sweep applies"
            )))
        }
    };
    let connector = flow
        .connectors
        .by_kind(kind)
        .ok_or_else(|| FlowError::Corrupt(format!("no `{kind}` connector")))?;
    let live = connector
        .snapshot(&Target {
            connector: kind.to_owned(),
            name: bucket.to_owned(),
        })
        .await?;
    let step = undo_step(
        change,
        &live,
        &flow.account_id,
        &flow.rules.trusted_accounts,
    )
    .map_err(FlowError::Unreadable)?;
    flow.apply_sweep_step(&change.target, &step, sweep_id, finding_type)
        .await
}
