//! The `ownership_controls` connector: an S3 bucket's object ownership setting, put back by
//! `s3:PutBucketOwnershipControls` after someone re-enabled ACLs (`ObjectWriter`,
//! `BucketOwnerPreferred`, or the controls deleted) on a bucket that had them disabled
//! (`BucketOwnerEnforced`). The state is `{"ownership": SETTING}`, `null` when the bucket has no
//! ownership controls. The step acts only while the live setting is still the one the event left
//! (its `expect`): a setting someone changed since is theirs and is left alone.
//!
//! API calls: `snapshot` 1 (GetBucketOwnershipControls); `apply` 1 (0 when skipped); `verify` 1;
//! `restore` at most 2.

use super::{param, Applied, Connector, ConnectorError, State, Step, Target, Verification};
use crate::aws::{AwsError, Clients};
use async_trait::async_trait;
use aws_sdk_s3::types::{ObjectOwnership, OwnershipControls as SdkControls, OwnershipControlsRule};
use serde_json::{json, Value};

/// A bucket's object ownership setting.
pub struct OwnershipControls {
    clients: Clients,
}

fn to_state(setting: Option<&str>) -> State {
    json!({ "ownership": setting })
}

fn setting_of(target: &Target, state: &State) -> Result<Option<String>, ConnectorError> {
    match state.get("ownership") {
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Null) => Ok(None),
        _ => Err(ConnectorError::State {
            target: target.to_string(),
            why: format!(
                "not an ownership setting: {}",
                policy_rules::evidence::canonical_json(state)
            ),
        }),
    }
}

impl OwnershipControls {
    pub const KIND: &'static str = "ownership_controls";

    pub fn new(clients: Clients) -> Self {
        Self { clients }
    }

    async fn read(&self, bucket: &str) -> Result<Option<String>, AwsError> {
        let c = &self.clients;
        let s3 = c.s3_for(bucket).await;
        match c
            .caller
            .call("s3", "GetBucketOwnershipControls", || {
                s3.get_bucket_ownership_controls().bucket(bucket).send()
            })
            .await
        {
            Ok(o) => Ok(o
                .value
                .ownership_controls()
                .and_then(|c| c.rules().first())
                .map(|r| r.object_ownership().as_str().to_owned())),
            Err(e) if e.code.as_deref() == Some("OwnershipControlsNotFoundError") => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn put(&self, bucket: &str, setting: &str) -> Result<Vec<String>, ConnectorError> {
        let fail = |why: String| ConnectorError::State {
            target: format!("ownership controls of `{bucket}`"),
            why,
        };
        let rule = OwnershipControlsRule::builder()
            .object_ownership(ObjectOwnership::from(setting))
            .build()
            .map_err(|e| fail(e.to_string()))?;
        let controls = SdkControls::builder()
            .rules(rule)
            .build()
            .map_err(|e| fail(e.to_string()))?;
        let c = &self.clients;
        let s3 = c.s3_for(bucket).await;
        let id = c
            .caller
            .call("s3", "PutBucketOwnershipControls", || {
                s3.put_bucket_ownership_controls()
                    .bucket(bucket)
                    .ownership_controls(controls.clone())
                    .send()
            })
            .await?
            .request_id;
        Ok(id.into_iter().collect())
    }

    async fn delete(&self, bucket: &str) -> Result<Vec<String>, ConnectorError> {
        let c = &self.clients;
        let s3 = c.s3_for(bucket).await;
        let id = c
            .caller
            .call("s3", "DeleteBucketOwnershipControls", || {
                s3.delete_bucket_ownership_controls().bucket(bucket).send()
            })
            .await?
            .request_id;
        Ok(id.into_iter().collect())
    }
}

/// The setting the step puts.
fn wanted(step: &Step) -> Result<&str, ConnectorError> {
    if step.call != "s3:PutBucketOwnershipControls" {
        return Err(ConnectorError::step(step, "not an ownership-controls call"));
    }
    let setting = param(step, "ObjectOwnership")?;
    if ![
        "BucketOwnerEnforced",
        "BucketOwnerPreferred",
        "ObjectWriter",
    ]
    .contains(&setting)
    {
        return Err(ConnectorError::step(
            step,
            format!("parameter `ObjectOwnership`: unknown setting `{setting}`"),
        ));
    }
    Ok(setting)
}

#[async_trait]
impl Connector for OwnershipControls {
    fn kind(&self) -> &'static str {
        Self::KIND
    }

    fn calls(&self) -> &'static [&'static str] {
        &["s3:PutBucketOwnershipControls"]
    }

    fn target(&self, step: &Step) -> Result<Target, ConnectorError> {
        wanted(step)?;
        Ok(Target {
            connector: Self::KIND.to_owned(),
            name: param(step, "Bucket")?.to_owned(),
        })
    }

    async fn snapshot(&self, target: &Target) -> Result<State, ConnectorError> {
        Ok(to_state(self.read(&target.name).await?.as_deref()))
    }

    async fn apply(
        &self,
        target: &Target,
        step: &Step,
        before: &State,
    ) -> Result<Applied, ConnectorError> {
        let want = wanted(step)?;
        let live = setting_of(target, before)?;
        if live.as_deref() == Some(want) {
            return Ok(Applied::Skipped {
                why: format!("the bucket's object ownership is `{want}` already"),
            });
        }
        // The precondition: the live setting is still the one the event left.
        let left = match &step.expect {
            Some(e) => setting_of(target, e)?,
            None => None,
        };
        if live != left {
            return Ok(Applied::Skipped {
                why: format!(
                    "the bucket's object ownership changed since the event (`{}`, the event left `{}`)",
                    live.as_deref().unwrap_or("no ownership controls"),
                    left.as_deref().unwrap_or("no ownership controls")
                ),
            });
        }
        let request_ids = self.put(&target.name, want).await?;
        Ok(Applied::Changed { request_ids })
    }

    async fn verify(&self, target: &Target, step: &Step) -> Result<Verification, ConnectorError> {
        let want = wanted(step)?;
        let live = self.read(&target.name).await?;
        let holds = live.as_deref() == Some(want);
        Ok(Verification {
            holds,
            detail: if holds {
                format!("the bucket's object ownership is `{want}`")
            } else {
                format!(
                    "not so: the bucket's object ownership is `{}`",
                    live.as_deref().unwrap_or("no ownership controls")
                )
            },
            after: to_state(live.as_deref()),
        })
    }

    async fn restore(&self, target: &Target, state: &State) -> Result<Vec<String>, ConnectorError> {
        let want = setting_of(target, state)?;
        if self.read(&target.name).await? == want {
            return Ok(Vec::new());
        }
        match want {
            Some(setting) => self.put(&target.name, &setting).await,
            None => self.delete(&target.name).await,
        }
    }
}
