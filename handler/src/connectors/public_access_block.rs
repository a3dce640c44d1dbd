//! The `public_access_block` connector: an S3 bucket's public access block, put back by
//! `s3:PutPublicAccessBlock` after someone deleted it or turned a flag off. The state is the
//! configuration (its four flags) or `null` when the bucket has none. The step acts only while the
//! live block is still the one the event left (`Step::expect`: its flags; none for a deletion): a
//! block someone has changed since is theirs and is left alone. A step with `OnlyIfNothingPublic`
//! (the planner's all-on block when the earlier one is unknown) acts only while the bucket's policy
//! grants nothing outside its account (`Account`) and its ACL nothing to `AllUsers` or
//! `AuthenticatedUsers`, read live through the `bucket_policy` and `bucket_acl` connectors. The
//! account-level block is `account_public_access_block`'s.
//!
//! API calls: `snapshot` 1 (GetPublicAccessBlock); `apply` 1 (0 when skipped), plus 2 reads with
//! `OnlyIfNothingPublic`; `verify` 1; `restore` at most 2.

use super::bucket_acl::{acl_of, BucketAcl};
use super::bucket_policy::BucketPolicy;
use super::{param, Applied, Connector, ConnectorError, State, Step, Target, Verification};
use crate::aws::{AwsError, Clients};
use async_trait::async_trait;
use aws_sdk_s3::types::PublicAccessBlockConfiguration;
use policy_rules::policy::PolicyDocument;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A bucket's public access block.
pub struct PublicAccessBlock {
    clients: Clients,
}

/// The four flags, named as in the S3 API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct Flags {
    pub(crate) block_public_acls: bool,
    pub(crate) ignore_public_acls: bool,
    pub(crate) block_public_policy: bool,
    pub(crate) restrict_public_buckets: bool,
}

impl Flags {
    fn to_sdk(self) -> PublicAccessBlockConfiguration {
        PublicAccessBlockConfiguration::builder()
            .block_public_acls(self.block_public_acls)
            .ignore_public_acls(self.ignore_public_acls)
            .block_public_policy(self.block_public_policy)
            .restrict_public_buckets(self.restrict_public_buckets)
            .build()
    }
}

pub(crate) fn to_state(flags: Option<Flags>) -> State {
    flags
        .and_then(|f| serde_json::to_value(f).ok())
        .unwrap_or(Value::Null)
}

pub(crate) fn flags_of(target: &Target, state: &State) -> Result<Option<Flags>, ConnectorError> {
    serde_json::from_value(state.clone()).map_err(|e| ConnectorError::State {
        target: target.to_string(),
        why: format!("not a public access block: {e}"),
    })
}

impl PublicAccessBlock {
    pub const KIND: &'static str = "public_access_block";

    pub fn new(clients: Clients) -> Self {
        Self { clients }
    }

    async fn read(&self, bucket: &str) -> Result<Option<Flags>, AwsError> {
        let c = &self.clients;
        let s3 = c.s3_for(bucket).await;
        match c
            .caller
            .call("s3", "GetPublicAccessBlock", || {
                s3.get_public_access_block().bucket(bucket).send()
            })
            .await
        {
            Ok(o) => Ok(o.value.public_access_block_configuration.map(|p| Flags {
                // An unset flag is off ("PublicAccessBlockConfiguration", S3 API reference).
                block_public_acls: p.block_public_acls.unwrap_or(false),
                ignore_public_acls: p.ignore_public_acls.unwrap_or(false),
                block_public_policy: p.block_public_policy.unwrap_or(false),
                restrict_public_buckets: p.restrict_public_buckets.unwrap_or(false),
            })),
            Err(e) if e.code.as_deref() == Some("NoSuchPublicAccessBlockConfiguration") => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn put(&self, bucket: &str, flags: Flags) -> Result<Option<String>, AwsError> {
        let c = &self.clients;
        let s3 = c.s3_for(bucket).await;
        Ok(c.caller
            .call("s3", "PutPublicAccessBlock", || {
                s3.put_public_access_block()
                    .bucket(bucket)
                    .public_access_block_configuration(flags.to_sdk())
                    .send()
            })
            .await?
            .request_id)
    }

    /// What the bucket grants publicly now (its policy outside the account, its ACL to everyone
    /// or every AWS account), or `None` when nothing.
    async fn public_grants(
        &self,
        target: &Target,
        step: &Step,
    ) -> Result<Option<String>, ConnectorError> {
        let account = param(step, "Account")?;
        let bucket = Target {
            connector: BucketPolicy::KIND.to_owned(),
            name: target.name.clone(),
        };
        let policy = BucketPolicy::new(self.clients.clone())
            .snapshot(&bucket)
            .await?;
        if !policy.is_null() {
            let doc = PolicyDocument::from_value(&policy).map_err(|e| ConnectorError::State {
                target: target.to_string(),
                why: format!("the bucket policy does not read: {e}"),
            })?;
            let outside = policy_rules::grants::outside_grants(&doc, account, &[]);
            if let Some(g) = outside.first() {
                return Ok(Some(format!(
                    "the bucket's policy grants to `{}` (statement `{}`)",
                    g.principal, g.statement
                )));
            }
        }
        let acl = BucketAcl::new(self.clients.clone());
        let read = acl
            .snapshot(&Target {
                connector: BucketAcl::KIND.to_owned(),
                name: target.name.clone(),
            })
            .await?;
        if acl_of(target, &read)?.public() {
            return Ok(Some(
                "the bucket's ACL grants to everyone or to every AWS account".to_owned(),
            ));
        }
        Ok(None)
    }

    async fn delete(&self, bucket: &str) -> Result<Option<String>, AwsError> {
        let c = &self.clients;
        let s3 = c.s3_for(bucket).await;
        Ok(c.caller
            .call("s3", "DeletePublicAccessBlock", || {
                s3.delete_public_access_block().bucket(bucket).send()
            })
            .await?
            .request_id)
    }
}

/// Why a step putting `want` must not act on the live block `before` of the `owner` ("bucket",
/// "account"), or `None` when it may: the block is `want` already (a retry), or it is no longer
/// the one the event left (`Step::expect`), so it is someone else's since and stays theirs.
pub(crate) fn skip_reason(
    owner: &str,
    target: &Target,
    step: &Step,
    before: &State,
    want: Flags,
) -> Result<Option<String>, ConnectorError> {
    let live = flags_of(target, before)?;
    if live == Some(want) {
        return Ok(Some(format!(
            "the {owner} already has the step's public access block"
        )));
    }
    let left = match &step.expect {
        Some(e) => flags_of(target, e)?,
        None => None,
    };
    if live == left {
        return Ok(None);
    }
    Ok(Some(match left {
        None => format!(
            "the {owner} has a public access block again (someone put one back since the event)"
        ),
        Some(_) => format!(
            "the {owner}'s public access block changed since the event (live: {}; the event left: {})",
            policy_rules::evidence::canonical_json(&to_state(live)),
            policy_rules::evidence::canonical_json(&to_state(left))
        ),
    }))
}

/// The flags the step puts.
fn wanted(step: &Step) -> Result<Flags, ConnectorError> {
    if step.call != "s3:PutPublicAccessBlock" {
        return Err(ConnectorError::step(step, "not a public-access-block call"));
    }
    flags_param(step)
}

/// The step's `PublicAccessBlockConfiguration`.
pub(crate) fn flags_param(step: &Step) -> Result<Flags, ConnectorError> {
    let raw = step
        .params
        .get("PublicAccessBlockConfiguration")
        .ok_or_else(|| {
            ConnectorError::step(step, "missing parameter `PublicAccessBlockConfiguration`")
        })?;
    serde_json::from_value(raw.clone()).map_err(|e| {
        ConnectorError::step(
            step,
            format!("parameter `PublicAccessBlockConfiguration`: {e}"),
        )
    })
}

/// The calls behind a public access block, a bucket's or the account's: what `verify` and
/// `restore` of both connectors share.
#[async_trait]
pub(super) trait BlockCalls: Send + Sync {
    async fn read_block(&self, name: &str) -> Result<Option<Flags>, AwsError>;
    async fn put_block(&self, name: &str, flags: Flags) -> Result<Option<String>, AwsError>;
    async fn delete_block(&self, name: &str) -> Result<Option<String>, AwsError>;
}

/// Reads back whether `target` has the block `want`; `whose` names it (`bucket`, `account`).
pub(super) async fn verify_block(
    calls: &dyn BlockCalls,
    whose: &str,
    target: &Target,
    want: Flags,
) -> Result<Verification, ConnectorError> {
    let live = calls.read_block(&target.name).await?;
    let holds = live == Some(want);
    Ok(Verification {
        holds,
        detail: if holds {
            format!("the {whose} has the step's public access block")
        } else {
            format!("not so: the {whose}'s public access block differs from the step's")
        },
        after: to_state(live),
    })
}

/// Makes `target`'s block the snapshot `state` (none: the block deleted).
pub(super) async fn restore_block(
    calls: &dyn BlockCalls,
    target: &Target,
    state: &State,
) -> Result<Vec<String>, ConnectorError> {
    let want = flags_of(target, state)?;
    let live = calls.read_block(&target.name).await?;
    if live == want {
        return Ok(Vec::new());
    }
    let id = match want {
        Some(flags) => calls.put_block(&target.name, flags).await?,
        None => calls.delete_block(&target.name).await?,
    };
    Ok(id.into_iter().collect())
}

#[async_trait]
impl BlockCalls for PublicAccessBlock {
    async fn read_block(&self, name: &str) -> Result<Option<Flags>, AwsError> {
        self.read(name).await
    }
    async fn put_block(&self, name: &str, flags: Flags) -> Result<Option<String>, AwsError> {
        self.put(name, flags).await
    }
    async fn delete_block(&self, name: &str) -> Result<Option<String>, AwsError> {
        self.delete(name).await
    }
}

#[async_trait]
impl Connector for PublicAccessBlock {
    fn kind(&self) -> &'static str {
        Self::KIND
    }

    fn calls(&self) -> &'static [&'static str] {
        &["s3:PutPublicAccessBlock"]
    }

    fn target(&self, step: &Step) -> Result<Target, ConnectorError> {
        wanted(step)?;
        Ok(Target {
            connector: Self::KIND.to_owned(),
            name: param(step, "Bucket")?.to_owned(),
        })
    }

    async fn snapshot(&self, target: &Target) -> Result<State, ConnectorError> {
        Ok(to_state(self.read(&target.name).await?))
    }

    async fn apply(
        &self,
        target: &Target,
        step: &Step,
        before: &State,
    ) -> Result<Applied, ConnectorError> {
        let want = wanted(step)?;
        if let Some(why) = skip_reason("bucket", target, step, before, want)? {
            return Ok(Applied::Skipped { why });
        }
        if step.params.get("OnlyIfNothingPublic") == Some(&Value::Bool(true)) {
            if let Some(public) = self.public_grants(target, step).await? {
                return Ok(Applied::Skipped {
                    why: format!(
                        "{public}: the all-on block would take that access away, and the earlier block is unknown, so a person decides (to block it anyway: `aws s3api put-public-access-block --bucket {0} --public-access-block-configuration BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true`)",
                        target.name
                    ),
                });
            }
        }
        let id = self.put(&target.name, want).await?;
        Ok(Applied::Changed {
            request_ids: id.into_iter().collect(),
        })
    }

    async fn verify(&self, target: &Target, step: &Step) -> Result<Verification, ConnectorError> {
        verify_block(self, "bucket", target, wanted(step)?).await
    }

    async fn restore(&self, target: &Target, state: &State) -> Result<Vec<String>, ConnectorError> {
        restore_block(self, target, state).await
    }
}
