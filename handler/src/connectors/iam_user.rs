//! The `iam_user` connector: an IAM user's inline policies and attached managed policies, changed by
//! `iam:PutUserPolicy`, `iam:DeleteUserPolicy`, `iam:AttachUserPolicy`, `iam:DetachUserPolicy` and
//! Warden's managed fallback `warden:PutManagedDeny` (with `UserName`). The logic is shared with
//! roles and groups in `iam_policies`; this file names the kind and its calls. Memberships, access
//! keys and login profiles are other connectors.
//!
//! API calls, for a user with N inline and M attached policies (one page each): `snapshot` 2 + N;
//! `apply` 1 (0 when skipped), `warden:PutManagedDeny` 2–6 (GetUser, GetPolicy, then CreatePolicy,
//! or GetPolicyVersion and, when the document differs, CreatePolicyVersion after ListPolicyVersions
//! and possibly DeletePolicyVersion; AttachUserPolicy when not attached); `verify` 2 + N (+3 for
//! the managed fallback).

use super::iam_policies::{self, Holder};
use super::{Applied, Connector, ConnectorError, State, Step, Target, Verification};
use crate::aws::Clients;
use async_trait::async_trait;

/// An IAM user's policies.
pub struct IamUser {
    clients: Clients,
}

impl IamUser {
    pub const KIND: &'static str = "iam_user";

    pub fn new(clients: Clients) -> Self {
        Self { clients }
    }
}

#[async_trait]
impl Connector for IamUser {
    fn kind(&self) -> &'static str {
        Self::KIND
    }

    fn calls(&self) -> &'static [&'static str] {
        &[
            "iam:PutUserPolicy",
            "iam:DeleteUserPolicy",
            "iam:DetachUserPolicy",
            "iam:AttachUserPolicy",
            "warden:PutManagedDeny",
        ]
    }

    fn target(&self, step: &Step) -> Result<Target, ConnectorError> {
        iam_policies::target(Self::KIND, Holder::User, step)
    }

    async fn snapshot(&self, target: &Target) -> Result<State, ConnectorError> {
        iam_policies::snapshot(&self.clients, Holder::User, target).await
    }

    async fn apply(
        &self,
        target: &Target,
        step: &Step,
        before: &State,
    ) -> Result<Applied, ConnectorError> {
        iam_policies::apply(&self.clients, Holder::User, target, step, before).await
    }

    async fn verify(&self, target: &Target, step: &Step) -> Result<Verification, ConnectorError> {
        iam_policies::verify(&self.clients, Holder::User, target, step).await
    }

    async fn restore(&self, target: &Target, state: &State) -> Result<Vec<String>, ConnectorError> {
        iam_policies::restore(&self.clients, Holder::User, target, state).await
    }
}
