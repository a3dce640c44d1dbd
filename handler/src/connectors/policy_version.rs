//! The `policy_version` connector: which version of a customer-managed policy is the default (the
//! one in force), changed back by `iam:SetDefaultPolicyVersion` after someone made another version
//! the default (`CreatePolicyVersion` with `setAsDefault`, or `SetDefaultPolicyVersion`). The state
//! is `{"default": ID, "versions": [IDs, sorted]}`. The step acts only while the default is still
//! the one the event made (`Step::expect`); no version is ever deleted (a person may, once the
//! earlier default is back).
//!
//! API calls: `snapshot` 1 (ListPolicyVersions, every page); `apply` 1 (0 when skipped); `verify`
//! 1; `restore` at most 2.

use super::{param, Applied, Connector, ConnectorError, State, Step, Target, Verification};
use crate::aws::{AwsError, Clients};
use async_trait::async_trait;
use serde_json::{json, Value};

/// A managed policy's default version.
pub struct PolicyVersion {
    clients: Clients,
}

impl PolicyVersion {
    pub const KIND: &'static str = "policy_version";

    pub fn new(clients: Clients) -> Self {
        Self { clients }
    }

    /// The policy's versions as `(id, is default)`, sorted by id.
    pub async fn versions(&self, arn: &str) -> Result<Vec<(String, bool)>, AwsError> {
        let c = &self.clients;
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let m = marker.clone();
            let o = c
                .caller
                .call("iam", "ListPolicyVersions", || {
                    c.iam
                        .list_policy_versions()
                        .policy_arn(arn)
                        .set_marker(m.clone())
                        .send()
                })
                .await?
                .value;
            for v in o.versions() {
                if let Some(id) = v.version_id() {
                    out.push((id.to_owned(), v.is_default_version()));
                }
            }
            match (o.is_truncated, o.marker) {
                (true, Some(next)) => marker = Some(next),
                _ => break,
            }
        }
        out.sort();
        Ok(out)
    }

    async fn set_default(&self, arn: &str, id: &str) -> Result<Option<String>, AwsError> {
        let c = &self.clients;
        Ok(c.caller
            .call("iam", "SetDefaultPolicyVersion", || {
                c.iam
                    .set_default_policy_version()
                    .policy_arn(arn)
                    .version_id(id)
                    .send()
            })
            .await?
            .request_id)
    }

    async fn state(&self, arn: &str) -> Result<State, AwsError> {
        let versions = self.versions(arn).await?;
        let default = versions.iter().find(|(_, d)| *d).map(|(id, _)| id.clone());
        let ids: Vec<&String> = versions.iter().map(|(id, _)| id).collect();
        Ok(json!({"default": default, "versions": ids}))
    }
}

fn default_of(state: &State) -> Option<&str> {
    state.get("default").and_then(Value::as_str)
}

fn wanted(step: &Step) -> Result<&str, ConnectorError> {
    if step.call != "iam:SetDefaultPolicyVersion" {
        return Err(ConnectorError::step(step, "not a policy-version call"));
    }
    param(step, "VersionId")
}

#[async_trait]
impl Connector for PolicyVersion {
    fn kind(&self) -> &'static str {
        Self::KIND
    }

    fn calls(&self) -> &'static [&'static str] {
        &["iam:SetDefaultPolicyVersion"]
    }

    fn target(&self, step: &Step) -> Result<Target, ConnectorError> {
        wanted(step)?;
        Ok(Target {
            connector: Self::KIND.to_owned(),
            name: param(step, "PolicyArn")?.to_owned(),
        })
    }

    async fn snapshot(&self, target: &Target) -> Result<State, ConnectorError> {
        Ok(self.state(&target.name).await?)
    }

    async fn apply(
        &self,
        target: &Target,
        step: &Step,
        before: &State,
    ) -> Result<Applied, ConnectorError> {
        let want = wanted(step)?;
        let live = default_of(before);
        if live == Some(want) {
            return Ok(Applied::Skipped {
                why: format!("`{want}` is the default version already"),
            });
        }
        let made = step
            .expect
            .as_ref()
            .and_then(|e| e.get("default"))
            .and_then(Value::as_str);
        if made.is_some() && live != made {
            return Ok(Applied::Skipped {
                why: format!(
                    "the default version is `{}` now, not the one the event made: someone changed it since",
                    live.unwrap_or("?")
                ),
            });
        }
        let id = self.set_default(&target.name, want).await?;
        Ok(Applied::Changed {
            request_ids: id.into_iter().collect(),
        })
    }

    async fn verify(&self, target: &Target, step: &Step) -> Result<Verification, ConnectorError> {
        let want = wanted(step)?;
        let after = self.state(&target.name).await?;
        let holds = default_of(&after) == Some(want);
        Ok(Verification {
            holds,
            detail: if holds {
                format!("`{want}` is the default version")
            } else {
                format!(
                    "not so: the default version is `{}`",
                    default_of(&after).unwrap_or("?")
                )
            },
            after,
        })
    }

    async fn restore(&self, target: &Target, state: &State) -> Result<Vec<String>, ConnectorError> {
        let Some(want) = default_of(state) else {
            return Ok(Vec::new());
        };
        let live = self.state(&target.name).await?;
        if default_of(&live) == Some(want) {
            return Ok(Vec::new());
        }
        Ok(self
            .set_default(&target.name, want)
            .await?
            .into_iter()
            .collect())
    }
}
