//! The `group_membership` connector: which IAM groups a user is in, changed by
//! `iam:RemoveUserFromGroup` and `iam:AddUserToGroup`. The target is the user (so every membership
//! change of one user is one thing with one state); the state is its group names, sorted. The
//! groups' own policies are the `iam_group` connector.
//!
//! API calls, for a user in G groups (100 to a page): `snapshot` ⌈G/100⌉ (at least 1); `apply` 1
//! (0 when skipped); `verify` as `snapshot`; `restore` one per group added or removed.

use super::{param, Applied, Connector, ConnectorError, State, Step, Target, Verification};
use crate::aws::{AwsError, Clients};
use async_trait::async_trait;
use serde_json::Value;

/// A user's group memberships.
pub struct GroupMembership {
    clients: Clients,
}

impl GroupMembership {
    pub const KIND: &'static str = "group_membership";

    pub fn new(clients: Clients) -> Self {
        Self { clients }
    }

    async fn groups(&self, user: &str) -> Result<Vec<String>, AwsError> {
        crate::connectors::account::IamAccount::new(self.clients.clone())
            .groups_of_user(user)
            .await
    }

    async fn add(&self, user: &str, group: &str) -> Result<Option<String>, AwsError> {
        let c = &self.clients;
        Ok(c.caller
            .call("iam", "AddUserToGroup", || {
                c.iam
                    .add_user_to_group()
                    .user_name(user)
                    .group_name(group)
                    .send()
            })
            .await?
            .request_id)
    }

    async fn remove(&self, user: &str, group: &str) -> Result<Option<String>, AwsError> {
        let c = &self.clients;
        Ok(c.caller
            .call("iam", "RemoveUserFromGroup", || {
                c.iam
                    .remove_user_from_group()
                    .user_name(user)
                    .group_name(group)
                    .send()
            })
            .await?
            .request_id)
    }
}

/// Whether the step adds (`true`) or removes the user, and the group.
fn membership_change(step: &Step) -> Result<(bool, &str), ConnectorError> {
    let adds = match step.call.as_str() {
        "iam:AddUserToGroup" => true,
        "iam:RemoveUserFromGroup" => false,
        _ => return Err(ConnectorError::step(step, "not a group-membership call")),
    };
    Ok((adds, param(step, "GroupName")?))
}

fn groups_of(target: &Target, state: &State) -> Result<Vec<String>, ConnectorError> {
    serde_json::from_value(state.clone()).map_err(|e| ConnectorError::State {
        target: target.to_string(),
        why: format!("not a list of group names: {e}"),
    })
}

#[async_trait]
impl Connector for GroupMembership {
    fn kind(&self) -> &'static str {
        Self::KIND
    }

    fn calls(&self) -> &'static [&'static str] {
        &["iam:RemoveUserFromGroup", "iam:AddUserToGroup"]
    }

    fn target(&self, step: &Step) -> Result<Target, ConnectorError> {
        membership_change(step)?;
        Ok(Target {
            connector: Self::KIND.to_owned(),
            name: param(step, "UserName")?.to_owned(),
        })
    }

    async fn snapshot(&self, target: &Target) -> Result<State, ConnectorError> {
        Ok(Value::from(self.groups(&target.name).await?))
    }

    async fn apply(
        &self,
        target: &Target,
        step: &Step,
        before: &State,
    ) -> Result<Applied, ConnectorError> {
        let (adds, group) = membership_change(step)?;
        let member = groups_of(target, before)?.iter().any(|g| g == group);
        let id = match (adds, member) {
            (true, true) => {
                return Ok(Applied::Skipped {
                    why: format!("`{}` is already in `{group}`", target.name),
                })
            }
            (false, false) => {
                return Ok(Applied::Skipped {
                    why: format!("`{}` is no longer in `{group}`", target.name),
                })
            }
            (true, false) => self.add(&target.name, group).await?,
            (false, true) => self.remove(&target.name, group).await?,
        };
        Ok(Applied::Changed {
            request_ids: id.into_iter().collect(),
        })
    }

    async fn verify(&self, target: &Target, step: &Step) -> Result<Verification, ConnectorError> {
        let (adds, group) = membership_change(step)?;
        let groups = self.groups(&target.name).await?;
        let member = groups.iter().any(|g| g == group);
        let holds = member == adds;
        let what = if adds { "is in" } else { "is not in" };
        Ok(Verification {
            holds,
            detail: format!(
                "{}`{}` {what} `{group}`",
                if holds { "" } else { "not so: expected " },
                target.name
            ),
            after: Value::from(groups),
        })
    }

    async fn restore(&self, target: &Target, state: &State) -> Result<Vec<String>, ConnectorError> {
        let want = groups_of(target, state)?;
        let live = self.groups(&target.name).await?;
        let mut ids = Vec::new();
        for g in want.iter().filter(|g| !live.contains(g)) {
            ids.push(self.add(&target.name, g).await?);
        }
        for g in live.iter().filter(|g| !want.contains(g)) {
            ids.push(self.remove(&target.name, g).await?);
        }
        Ok(ids.into_iter().flatten().collect())
    }
}
