//! The connector layer: one connector per kind of thing Warden changes (an IAM user's policies, a
//! role's, a group's, a user's group memberships, access keys, login profiles, a bucket's policy,
//! ACL, public access block and ownership controls, the account's public access block, an object's
//! ACL, a managed policy's default version, a user's or role's permissions boundary, a trail's
//! logging). Each reads a thing's state (`snapshot`), applies one planned [`Step`] to it
//! after checking the step's precondition on the live state (`apply`), reads back that the change
//! holds (`verify`), and writes a snapshot back (`restore`). [`Connectors`] finds the connector for a
//! step by its call and runs rollbacks with the one precondition every connector shares: the live
//! state must still be what Warden left, unless forced.
//!
//! The engine (`flow`) knows only this trait: adding a connector (an SQS queue policy, a KMS key
//! policy) is a new file here and a line in [`Connectors::standard`]. The account sweeps use the same
//! layer, and its readers of what Warden never changes (the authorization details, the credential
//! report, Warden's own rules, queues and function, the organization's policies).

use crate::aws::{AwsError, Clients};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;

use iam_policies::{Holder, PolicyHolder};
pub use policy_rules::planner::Step;

pub mod access_keys;
pub mod account;
pub mod account_public_access_block;
pub mod authorization_details;
pub mod bucket_acl;
pub mod bucket_policy;
pub mod credential_report;
pub mod event_rules;
pub mod group_membership;
pub mod iam_policies;
pub mod login_profile;
pub mod object_acl;
pub mod organizations;
pub mod own_pipeline;
pub mod ownership_controls;
pub mod permissions_boundary;
pub mod policy_version;
pub mod public_access_block;
pub mod trail_logging;
pub mod trail_logs;
pub mod trail_settings;

/// The names of Warden's own inline policies: writing them needs no precondition (their document
/// already merges what they held).
pub const WARDEN_POLICY_NAMES: [&str; 2] = [
    policy_rules::planner::DENY_POLICY_NAME,
    policy_rules::planner::QUARANTINE_POLICY_NAME,
];

/// A thing a connector changes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Target {
    /// The connector that owns it (`iam_user`, `bucket_policy`, …).
    pub connector: String,
    /// How that connector names it: a user, role or group name, a bucket.
    pub name: String,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} `{}`", self.connector, self.name)
    }
}

/// A thing's state as its connector reads it: JSON with a connector-defined, deterministic shape
/// (sorted lists, policy documents in Warden's compact form), so two reads of the same state are
/// equal and a state can go into evidence as it is.
pub type State = Value;

/// What `apply` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "lowercase")]
pub enum Applied {
    /// The change was made; the request ids of the calls that made it.
    Changed { request_ids: Vec<String> },
    /// Nothing was called: the live state already has the change (a retry), or the precondition
    /// does not hold (someone changed the thing since the event), which `why` says.
    Skipped { why: String },
}

/// What `verify` read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    pub holds: bool,
    pub detail: String,
    /// The state read back.
    pub after: State,
}

/// A connector failure.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// The step is not one this connector can apply (a missing or malformed parameter).
    #[error("step `{call}`: {why}")]
    Step { call: String, why: String },
    #[error("no connector applies `{0}`")]
    NoConnector(String),
    /// A rollback whose precondition does not hold.
    #[error("rollback of {target} refused: {why}")]
    Refused { target: String, why: String },
    /// A state that does not read (in evidence, or from AWS).
    #[error("{target}: {why}")]
    State { target: String, why: String },
}

impl ConnectorError {
    /// Whether trying again later can help (throttling, 5xx, transport).
    pub fn is_retryable(&self) -> bool {
        matches!(self, ConnectorError::Aws(e) if e.is_retryable())
    }

    /// The AWS request id of the failed call, for evidence.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            ConnectorError::Aws(e) => e.request_id.as_deref(),
            _ => None,
        }
    }

    pub(crate) fn step(step: &Step, why: impl Into<String>) -> Self {
        ConnectorError::Step {
            call: step.call.clone(),
            why: why.into(),
        }
    }
}

/// A step's string parameter, or a permanent step error naming it.
pub(crate) fn param<'s>(step: &'s Step, key: &str) -> Result<&'s str, ConnectorError> {
    match step.params.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(other) => Err(ConnectorError::step(
            step,
            format!("parameter `{key}` must be a non-empty string, found `{other}`"),
        )),
        None => Err(ConnectorError::step(
            step,
            format!("missing parameter `{key}`"),
        )),
    }
}

/// A step's policy-document parameter (an object, JSON text or URL-encoded text), in Warden's
/// compact form.
pub(crate) fn document_param(step: &Step, key: &str) -> Result<Value, ConnectorError> {
    let raw = step
        .params
        .get(key)
        .ok_or_else(|| ConnectorError::step(step, format!("missing parameter `{key}`")))?;
    compact(raw).map_err(|why| ConnectorError::step(step, format!("parameter `{key}`: {why}")))
}

/// A policy document (an object, JSON text or the URL-encoded text IAM returns) in Warden's
/// compact form, so two reads of the same document are equal.
pub(crate) fn compact(raw: &Value) -> Result<Value, String> {
    let doc = policy_rules::policy::PolicyDocument::from_value(raw).map_err(|e| e.to_string())?;
    serde_json::to_value(&doc).map_err(|e| e.to_string())
}

/// A kind of thing Warden changes.
#[async_trait]
pub trait Connector: Send + Sync {
    /// The connector's name, as in [`Target::connector`].
    fn kind(&self) -> &'static str;
    /// The calls (`service:Operation`) it applies.
    fn calls(&self) -> &'static [&'static str];
    /// The thing a step changes.
    fn target(&self, step: &Step) -> Result<Target, ConnectorError>;
    /// The thing's live state.
    async fn snapshot(&self, target: &Target) -> Result<State, ConnectorError>;
    /// Applies `step` when its precondition holds on `before` (the state just read); idempotent:
    /// a step whose change is already live is `Skipped`.
    async fn apply(
        &self,
        target: &Target,
        step: &Step,
        before: &State,
    ) -> Result<Applied, ConnectorError>;
    /// Reads back whether the step's change holds.
    async fn verify(&self, target: &Target, step: &Step) -> Result<Verification, ConnectorError>;
    /// Makes the live state `state` (a snapshot this connector took). Returns the request ids.
    async fn restore(&self, target: &Target, state: &State) -> Result<Vec<String>, ConnectorError>;
}

/// What a rollback did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolledBack {
    pub request_ids: Vec<String>,
    /// The live state before the rollback (equal to what Warden left, unless forced).
    pub live_before: State,
    /// The state read back after it (equal to the snapshot restored).
    pub after: State,
    pub forced: bool,
}

/// Every connector, found by call or by kind.
#[derive(Clone)]
pub struct Connectors {
    all: Vec<Arc<dyn Connector>>,
}

impl Connectors {
    pub fn new(all: Vec<Arc<dyn Connector>>) -> Self {
        Self { all }
    }

    /// The built-in connectors.
    pub fn standard(clients: &Clients) -> Self {
        let c = clients.clone();
        Self::new(vec![
            Arc::new(PolicyHolder::new(c.clone(), Holder::User)),
            Arc::new(PolicyHolder::new(c.clone(), Holder::Role)),
            Arc::new(PolicyHolder::new(c.clone(), Holder::Group)),
            Arc::new(group_membership::GroupMembership::new(c.clone())),
            Arc::new(access_keys::AccessKeys::new(c.clone())),
            Arc::new(login_profile::LoginProfile::new(c.clone())),
            Arc::new(bucket_policy::BucketPolicy::new(c.clone())),
            Arc::new(public_access_block::PublicAccessBlock::new(c.clone())),
            Arc::new(account_public_access_block::AccountPublicAccessBlock::new(
                c.clone(),
            )),
            Arc::new(bucket_acl::BucketAcl::new(c.clone())),
            Arc::new(object_acl::ObjectAcl::new(c.clone())),
            Arc::new(ownership_controls::OwnershipControls::new(c.clone())),
            Arc::new(policy_version::PolicyVersion::new(c.clone())),
            Arc::new(permissions_boundary::PermissionsBoundary::new(c.clone())),
            Arc::new(trail_logging::TrailLogging::new(c)),
        ])
    }

    /// The connector that applies `step`, with the thing it changes: the first connector listing
    /// the call whose `target` accepts the step (`warden:PutManagedDeny` names a user or a role).
    pub fn for_step(&self, step: &Step) -> Result<(&dyn Connector, Target), ConnectorError> {
        let mut last = None;
        for c in self
            .all
            .iter()
            .filter(|c| c.calls().contains(&step.call.as_str()))
        {
            match c.target(step) {
                Ok(t) => return Ok((c.as_ref(), t)),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| ConnectorError::NoConnector(step.call.clone())))
    }

    pub fn by_kind(&self, kind: &str) -> Option<&dyn Connector> {
        self.all
            .iter()
            .find(|c| c.kind() == kind)
            .map(AsRef::as_ref)
    }

    /// Restores `before` on `target`, when the live state is still `left` (what Warden's change left)
    /// or `force` is set, then reads back that the restore holds.
    pub async fn rollback(
        &self,
        target: &Target,
        before: &State,
        left: &State,
        force: bool,
    ) -> Result<RolledBack, ConnectorError> {
        let c = self
            .by_kind(&target.connector)
            .ok_or_else(|| ConnectorError::NoConnector(target.connector.clone()))?;
        let live = c.snapshot(target).await?;
        // INVARIANT (no-stale-write): a rollback never writes over a change made after Warden's.
        if &live != left && !force {
            return Err(ConnectorError::Refused {
                target: target.to_string(),
                why: format!(
                    "the live state changed since Warden's change (live: {}; Warden left: {}); use --force to restore anyway",
                    policy_rules::evidence::canonical_json(&live),
                    policy_rules::evidence::canonical_json(left)
                ),
            });
        }
        let request_ids = c.restore(target, before).await?;
        let after = c.snapshot(target).await?;
        if &after != before {
            return Err(ConnectorError::State {
                target: target.to_string(),
                why: format!(
                    "the restore did not hold: read back {}",
                    policy_rules::evidence::canonical_json(&after)
                ),
            });
        }
        Ok(RolledBack {
            request_ids,
            live_before: live,
            after,
            forced: force,
        })
    }
}
