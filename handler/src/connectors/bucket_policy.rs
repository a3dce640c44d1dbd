//! The `bucket_policy` connector: an S3 bucket's policy, changed by `s3:PutBucketPolicy` and
//! `s3:DeleteBucketPolicy`. The state is the policy in Warden's compact form, or `null` when the
//! bucket has none. A step that undoes the event's policy acts only while the live policy is still
//! the one the event wrote (`Step::expect`). The bucket's public access block is another connector.
//!
//! API calls: `snapshot` 1 (GetBucketPolicy); `apply` 1 (0 when skipped); `verify` 1; `restore` at
//! most 2.

use super::{
    compact, document_param, param, Applied, Connector, ConnectorError, State, Step, Target,
    Verification,
};
use crate::aws::{AwsError, Clients};
use async_trait::async_trait;
use serde_json::Value;

/// A bucket's policy.
pub struct BucketPolicy {
    clients: Clients,
}

impl BucketPolicy {
    pub const KIND: &'static str = "bucket_policy";

    pub fn new(clients: Clients) -> Self {
        Self { clients }
    }

    async fn read(&self, target: &Target) -> Result<Value, ConnectorError> {
        let c = &self.clients;
        let bucket = target.name.as_str();
        let s3 = c.s3_for(bucket).await;
        match c
            .caller
            .call("s3", "GetBucketPolicy", || {
                s3.get_bucket_policy().bucket(bucket).send()
            })
            .await
        {
            Ok(o) => match o.value.policy {
                Some(text) => compact(&Value::String(text)).map_err(|why| ConnectorError::State {
                    target: target.to_string(),
                    why: format!("the bucket policy does not read: {why}"),
                }),
                None => Ok(Value::Null),
            },
            // `NoSuchBucketPolicy`: the bucket has no policy (a missing bucket is `NoSuchBucket`,
            // which stays an error).
            Err(e) if e.code.as_deref() == Some("NoSuchBucketPolicy") => Ok(Value::Null),
            Err(e) => Err(e.into()),
        }
    }

    async fn put(&self, bucket: &str, policy: &Value) -> Result<Option<String>, AwsError> {
        let c = &self.clients;
        let s3 = c.s3_for(bucket).await;
        let text = policy.to_string();
        Ok(c.caller
            .call("s3", "PutBucketPolicy", || {
                s3.put_bucket_policy().bucket(bucket).policy(&text).send()
            })
            .await?
            .request_id)
    }

    async fn delete(&self, bucket: &str) -> Result<Option<String>, AwsError> {
        let c = &self.clients;
        let s3 = c.s3_for(bucket).await;
        Ok(c.caller
            .call("s3", "DeleteBucketPolicy", || {
                s3.delete_bucket_policy().bucket(bucket).send()
            })
            .await?
            .request_id)
    }
}

/// The policy the step leaves: a document, or `None` for a deletion.
fn wanted(step: &Step) -> Result<Option<Value>, ConnectorError> {
    match step.call.as_str() {
        "s3:PutBucketPolicy" => Ok(Some(document_param(step, "Policy")?)),
        "s3:DeleteBucketPolicy" => Ok(None),
        _ => Err(ConnectorError::step(step, "not a bucket-policy call")),
    }
}

#[async_trait]
impl Connector for BucketPolicy {
    fn kind(&self) -> &'static str {
        Self::KIND
    }

    fn calls(&self) -> &'static [&'static str] {
        &["s3:PutBucketPolicy", "s3:DeleteBucketPolicy"]
    }

    fn target(&self, step: &Step) -> Result<Target, ConnectorError> {
        wanted(step)?;
        Ok(Target {
            connector: Self::KIND.to_owned(),
            name: param(step, "Bucket")?.to_owned(),
        })
    }

    async fn snapshot(&self, target: &Target) -> Result<State, ConnectorError> {
        self.read(target).await
    }

    async fn apply(
        &self,
        target: &Target,
        step: &Step,
        before: &State,
    ) -> Result<Applied, ConnectorError> {
        let want = wanted(step)?;
        let live = (!before.is_null()).then_some(before);
        if live == want.as_ref() {
            return Ok(Applied::Skipped {
                why: "the bucket policy is already what the step leaves".to_owned(),
            });
        }
        if let Some(expect) = step.expect.as_ref() {
            let expect = compact(expect)
                .map_err(|why| ConnectorError::step(step, format!("`expect`: {why}")))?;
            if live != Some(&expect) {
                return Ok(Applied::Skipped {
                    why: "the live bucket policy is no longer the one the event wrote".to_owned(),
                });
            }
        }
        let id = match want {
            Some(doc) => self.put(&target.name, &doc).await?,
            None => self.delete(&target.name).await?,
        };
        Ok(Applied::Changed {
            request_ids: id.into_iter().collect(),
        })
    }

    async fn verify(&self, target: &Target, step: &Step) -> Result<Verification, ConnectorError> {
        let want = wanted(step)?.unwrap_or(Value::Null);
        let live = self.read(target).await?;
        let holds = live == want;
        Ok(Verification {
            holds,
            detail: if holds {
                "the bucket policy is what the step leaves".to_owned()
            } else {
                "not so: the bucket policy differs from what the step leaves".to_owned()
            },
            after: live,
        })
    }

    async fn restore(&self, target: &Target, state: &State) -> Result<Vec<String>, ConnectorError> {
        let live = self.read(target).await?;
        if &live == state {
            return Ok(Vec::new());
        }
        let id = if state.is_null() {
            self.delete(&target.name).await?
        } else {
            let doc = compact(state).map_err(|why| ConnectorError::State {
                target: target.to_string(),
                why: format!("the snapshot's policy does not read: {why}"),
            })?;
            self.put(&target.name, &doc).await?
        };
        Ok(id.into_iter().collect())
    }
}
