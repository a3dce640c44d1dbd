//! The `iam_role` connector: an IAM role's trust policy, inline policies and attached managed
//! policies, changed by `iam:PutRolePolicy`, `iam:DeleteRolePolicy`, `iam:AttachRolePolicy`,
//! `iam:DetachRolePolicy`, `iam:UpdateAssumeRolePolicy` and Warden's managed fallback
//! `warden:PutManagedDeny` (with `RoleName`). The logic is shared with users and groups in
//! `iam_policies`; this file names the kind and its calls.
//!
//! API calls, for a role with N inline and M attached policies (one page each): `snapshot` 3 + N
//! (GetRole for the trust policy); `apply` 1 (0 when skipped), `warden:PutManagedDeny` 2–6 (GetRole,
//! GetPolicy, then CreatePolicy, or GetPolicyVersion and, when the document differs,
//! CreatePolicyVersion after ListPolicyVersions and possibly DeletePolicyVersion; AttachRolePolicy
//! when not attached); `verify` 3 + N (+3 for the managed fallback).

use super::iam_policies::{self, Holder};
use super::{Applied, Connector, ConnectorError, State, Step, Target, Verification};
use crate::aws::Clients;
use async_trait::async_trait;

/// An IAM role's policies and trust policy.
pub struct IamRole {
    clients: Clients,
}

impl IamRole {
    pub const KIND: &'static str = "iam_role";

    pub fn new(clients: Clients) -> Self {
        Self { clients }
    }
}

#[async_trait]
impl Connector for IamRole {
    fn kind(&self) -> &'static str {
        Self::KIND
    }

    fn calls(&self) -> &'static [&'static str] {
        &[
            "iam:PutRolePolicy",
            "iam:DeleteRolePolicy",
            "iam:DetachRolePolicy",
            "iam:AttachRolePolicy",
            "iam:UpdateAssumeRolePolicy",
            "warden:PutManagedDeny",
        ]
    }

    fn target(&self, step: &Step) -> Result<Target, ConnectorError> {
        iam_policies::target(Self::KIND, Holder::Role, step)
    }

    async fn snapshot(&self, target: &Target) -> Result<State, ConnectorError> {
        iam_policies::snapshot(&self.clients, Holder::Role, target).await
    }

    async fn apply(
        &self,
        target: &Target,
        step: &Step,
        before: &State,
    ) -> Result<Applied, ConnectorError> {
        iam_policies::apply(&self.clients, Holder::Role, target, step, before).await
    }

    async fn verify(&self, target: &Target, step: &Step) -> Result<Verification, ConnectorError> {
        iam_policies::verify(&self.clients, Holder::Role, target, step).await
    }

    async fn restore(&self, target: &Target, state: &State) -> Result<Vec<String>, ConnectorError> {
        iam_policies::restore(&self.clients, Holder::Role, target, state).await
    }
}
