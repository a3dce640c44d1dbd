//! The `trail_logging` connector: whether a CloudTrail trail is logging, started again by
//! `cloudtrail:StartLogging` after someone stopped it (a stopped trail blinds every event-driven
//! guard, Warden included). The state is `{"logging": bool}`. The step acts only while the trail is
//! still stopped; a deleted trail cannot be started, and the alert says so.
//!
//! API calls: `snapshot` 1 (GetTrailStatus); `apply` 1 (0 when skipped); `verify` 1; `restore` at
//! most 2.

use super::{param, Applied, Connector, ConnectorError, State, Step, Target, Verification};
use crate::aws::{AwsError, Clients};
use async_trait::async_trait;
use serde_json::{json, Value};

/// A trail's logging switch.
pub struct TrailLogging {
    clients: Clients,
}

impl TrailLogging {
    pub const KIND: &'static str = "trail_logging";

    pub fn new(clients: Clients) -> Self {
        Self { clients }
    }

    async fn logging(&self, trail: &str) -> Result<bool, AwsError> {
        let c = &self.clients;
        Ok(c.caller
            .call("cloudtrail", "GetTrailStatus", || {
                c.cloudtrail.get_trail_status().name(trail).send()
            })
            .await?
            .value
            .is_logging
            .unwrap_or(false))
    }

    async fn switch(&self, trail: &str, on: bool) -> Result<Option<String>, AwsError> {
        let c = &self.clients;
        Ok(if on {
            c.caller
                .call("cloudtrail", "StartLogging", || {
                    c.cloudtrail.start_logging().name(trail).send()
                })
                .await?
                .request_id
        } else {
            c.caller
                .call("cloudtrail", "StopLogging", || {
                    c.cloudtrail.stop_logging().name(trail).send()
                })
                .await?
                .request_id
        })
    }
}

fn check(step: &Step) -> Result<(), ConnectorError> {
    if step.call != "cloudtrail:StartLogging" {
        return Err(ConnectorError::step(step, "not a trail-logging call"));
    }
    Ok(())
}

fn logging_of(state: &State) -> bool {
    state.get("logging").and_then(Value::as_bool) == Some(true)
}

#[async_trait]
impl Connector for TrailLogging {
    fn kind(&self) -> &'static str {
        Self::KIND
    }

    fn calls(&self) -> &'static [&'static str] {
        &["cloudtrail:StartLogging"]
    }

    fn target(&self, step: &Step) -> Result<Target, ConnectorError> {
        check(step)?;
        Ok(Target {
            connector: Self::KIND.to_owned(),
            name: param(step, "Name")?.to_owned(),
        })
    }

    async fn snapshot(&self, target: &Target) -> Result<State, ConnectorError> {
        Ok(json!({"logging": self.logging(&target.name).await?}))
    }

    async fn apply(
        &self,
        target: &Target,
        step: &Step,
        before: &State,
    ) -> Result<Applied, ConnectorError> {
        check(step)?;
        if logging_of(before) {
            return Ok(Applied::Skipped {
                why: "the trail is logging again".to_owned(),
            });
        }
        let id = self.switch(&target.name, true).await?;
        Ok(Applied::Changed {
            request_ids: id.into_iter().collect(),
        })
    }

    async fn verify(&self, target: &Target, step: &Step) -> Result<Verification, ConnectorError> {
        check(step)?;
        let on = self.logging(&target.name).await?;
        Ok(Verification {
            holds: on,
            detail: if on {
                "the trail is logging".to_owned()
            } else {
                "not so: the trail is still stopped".to_owned()
            },
            after: json!({"logging": on}),
        })
    }

    async fn restore(&self, target: &Target, state: &State) -> Result<Vec<String>, ConnectorError> {
        // A state that does not say whether the trail logs is never read as "stopped".
        let Some(want) = state.get("logging").and_then(Value::as_bool) else {
            return Err(ConnectorError::State {
                target: target.to_string(),
                why: format!(
                    "not a trail-logging state: {}",
                    policy_rules::evidence::canonical_json(state)
                ),
            });
        };
        if self.logging(&target.name).await? == want {
            return Ok(Vec::new());
        }
        Ok(self.switch(&target.name, want).await?.into_iter().collect())
    }
}
