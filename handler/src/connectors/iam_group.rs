//! The `iam_group` connector: an IAM group's inline policies and attached managed policies,
//! changed by `iam:PutGroupPolicy`, `iam:DeleteGroupPolicy` and `iam:DetachGroupPolicy` (and
//! `iam:AttachGroupPolicy`, which a restore uses). The logic is shared with users and roles in
//! `iam_policies`; who is in the group is the `group_membership` connector.
//!
//! API calls, for a group with N inline and M attached policies (one page each): `snapshot` 2 + N;
//! `apply` 1 (0 when skipped); `verify` 2 + N.

use super::iam_policies::{self, Holder};
use super::{Applied, Connector, ConnectorError, State, Step, Target, Verification};
use crate::aws::Clients;
use async_trait::async_trait;

/// An IAM group's policies.
pub struct IamGroup {
    clients: Clients,
}

impl IamGroup {
    pub const KIND: &'static str = "iam_group";

    pub fn new(clients: Clients) -> Self {
        Self { clients }
    }
}

#[async_trait]
impl Connector for IamGroup {
    fn kind(&self) -> &'static str {
        Self::KIND
    }

    fn calls(&self) -> &'static [&'static str] {
        &[
            "iam:PutGroupPolicy",
            "iam:DeleteGroupPolicy",
            "iam:DetachGroupPolicy",
            "iam:AttachGroupPolicy",
        ]
    }

    fn target(&self, step: &Step) -> Result<Target, ConnectorError> {
        iam_policies::target(Self::KIND, Holder::Group, step)
    }

    async fn snapshot(&self, target: &Target) -> Result<State, ConnectorError> {
        iam_policies::snapshot(&self.clients, Holder::Group, target).await
    }

    async fn apply(
        &self,
        target: &Target,
        step: &Step,
        before: &State,
    ) -> Result<Applied, ConnectorError> {
        iam_policies::apply(&self.clients, Holder::Group, target, step, before).await
    }

    async fn verify(&self, target: &Target, step: &Step) -> Result<Verification, ConnectorError> {
        iam_policies::verify(&self.clients, Holder::Group, target, step).await
    }

    async fn restore(&self, target: &Target, state: &State) -> Result<Vec<String>, ConnectorError> {
        iam_policies::restore(&self.clients, Holder::Group, target, state).await
    }
}
