//! The `login_profile` connector: whether an IAM user can sign in to the console, changed by
//! `iam:DeleteLoginProfile`. The state is `{"exists": bool}` plus `"password_reset_required"` when
//! a profile exists. A deleted login profile cannot be restored (its password is gone with it), so
//! `restore` refuses and says what a person should do; it only ever deletes a profile or sets its
//! reset flag back.
//!
//! API calls: `snapshot` 1 (GetLoginProfile); `apply` 1 (0 when skipped); `verify` 1; `restore` at
//! most 2.

use super::{param, Applied, Connector, ConnectorError, State, Step, Target, Verification};
use crate::aws::{AwsError, Clients};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A user's console sign-in.
pub struct LoginProfile {
    clients: Clients,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Profile {
    exists: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    password_reset_required: Option<bool>,
}

impl Profile {
    fn to_state(&self) -> State {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

impl LoginProfile {
    pub const KIND: &'static str = "login_profile";

    pub fn new(clients: Clients) -> Self {
        Self { clients }
    }

    async fn read(&self, user: &str) -> Result<Profile, AwsError> {
        let c = &self.clients;
        match c
            .caller
            .call("iam", "GetLoginProfile", || {
                c.iam.get_login_profile().user_name(user).send()
            })
            .await
        {
            Ok(o) => Ok(Profile {
                exists: true,
                password_reset_required: Some(
                    o.value
                        .login_profile
                        .is_some_and(|p| p.password_reset_required),
                ),
            }),
            // The user has no login profile (`NoSuchEntity`).
            Err(e) if e.is_not_found() => Ok(Profile {
                exists: false,
                password_reset_required: None,
            }),
            Err(e) => Err(e),
        }
    }

    async fn delete(&self, user: &str) -> Result<Option<String>, AwsError> {
        let c = &self.clients;
        Ok(c.caller
            .call("iam", "DeleteLoginProfile", || {
                c.iam.delete_login_profile().user_name(user).send()
            })
            .await?
            .request_id)
    }
}

fn check_call(step: &Step) -> Result<(), ConnectorError> {
    if step.call == "iam:DeleteLoginProfile" {
        Ok(())
    } else {
        Err(ConnectorError::step(step, "not a login-profile call"))
    }
}

fn profile_of(target: &Target, state: &State) -> Result<Profile, ConnectorError> {
    serde_json::from_value(state.clone()).map_err(|e| ConnectorError::State {
        target: target.to_string(),
        why: format!("not a login-profile state: {e}"),
    })
}

#[async_trait]
impl Connector for LoginProfile {
    fn kind(&self) -> &'static str {
        Self::KIND
    }

    fn calls(&self) -> &'static [&'static str] {
        &["iam:DeleteLoginProfile"]
    }

    fn target(&self, step: &Step) -> Result<Target, ConnectorError> {
        check_call(step)?;
        Ok(Target {
            connector: Self::KIND.to_owned(),
            name: param(step, "UserName")?.to_owned(),
        })
    }

    async fn snapshot(&self, target: &Target) -> Result<State, ConnectorError> {
        Ok(self.read(&target.name).await?.to_state())
    }

    async fn apply(
        &self,
        target: &Target,
        step: &Step,
        before: &State,
    ) -> Result<Applied, ConnectorError> {
        check_call(step)?;
        if !profile_of(target, before)?.exists {
            return Ok(Applied::Skipped {
                why: format!("`{}` has no login profile", target.name),
            });
        }
        let id = self.delete(&target.name).await?;
        Ok(Applied::Changed {
            request_ids: id.into_iter().collect(),
        })
    }

    async fn verify(&self, target: &Target, step: &Step) -> Result<Verification, ConnectorError> {
        check_call(step)?;
        let live = self.read(&target.name).await?;
        Ok(Verification {
            holds: !live.exists,
            detail: format!(
                "`{}` {} a login profile",
                target.name,
                if live.exists { "still has" } else { "has no" }
            ),
            after: live.to_state(),
        })
    }

    async fn restore(&self, target: &Target, state: &State) -> Result<Vec<String>, ConnectorError> {
        let want = profile_of(target, state)?;
        let live = self.read(&target.name).await?;
        let user = target.name.as_str();
        match (want.exists, live.exists) {
            (true, false) => Err(ConnectorError::Refused {
                target: target.to_string(),
                why: format!(
                    "a deleted login profile cannot be restored: its password is gone. If `{user}` should sign in to the console again, a person creates a new one with a temporary password (`aws iam create-login-profile --user-name {user} --password-reset-required --password …`) and gives it to the user out of band"
                ),
            }),
            (false, true) => Ok(self.delete(user).await?.into_iter().collect()),
            (true, true) if want.password_reset_required != live.password_reset_required => {
                let c = &self.clients;
                let reset = want.password_reset_required;
                let id = c
                    .caller
                    .call("iam", "UpdateLoginProfile", || {
                        c.iam
                            .update_login_profile()
                            .user_name(user)
                            .set_password_reset_required(reset)
                            .send()
                    })
                    .await?
                    .request_id;
                Ok(id.into_iter().collect())
            }
            _ => Ok(Vec::new()),
        }
    }
}
