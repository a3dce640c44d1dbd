//! The `account_public_access_block` connector: the account-wide S3 public access block (S3
//! Control), put back by `s3:PutAccountPublicAccessBlock` after someone deleted it or turned a flag
//! off. The state is the configuration (its four flags, as the bucket-level connector writes them)
//! or `null` when the account has none; the target is the account id. The step acts only while the
//! live block is still the one the event left (`Step::expect`: its flags; none for a deletion): a
//! block someone has changed since is theirs and is left alone. The planner asks for this step only
//! when the model vouches for the earlier block; an unknown one is a person's decision (turning on
//! an account-wide block can take away access every public bucket relies on).
//!
//! API calls: `snapshot` 1 (GetPublicAccessBlock); `apply` 1 (0 when skipped); `verify` 1;
//! `restore` at most 2.

use super::public_access_block::{
    flags_param, restore_block, skip_reason, to_state, verify_block, BlockCalls, Flags,
};
use super::{param, Applied, Connector, ConnectorError, State, Step, Target, Verification};
use crate::aws::{AwsError, Clients};
use async_trait::async_trait;
use aws_sdk_s3control::types::PublicAccessBlockConfiguration;

/// The account's public access block.
pub struct AccountPublicAccessBlock {
    clients: Clients,
}

fn to_sdk(f: Flags) -> PublicAccessBlockConfiguration {
    PublicAccessBlockConfiguration::builder()
        .block_public_acls(f.block_public_acls)
        .ignore_public_acls(f.ignore_public_acls)
        .block_public_policy(f.block_public_policy)
        .restrict_public_buckets(f.restrict_public_buckets)
        .build()
}

impl AccountPublicAccessBlock {
    pub const KIND: &'static str = "account_public_access_block";

    pub fn new(clients: Clients) -> Self {
        Self { clients }
    }

    async fn read(&self, account: &str) -> Result<Option<Flags>, AwsError> {
        let c = &self.clients;
        match c
            .caller
            .call("s3control", "GetPublicAccessBlock", || {
                c.s3control
                    .get_public_access_block()
                    .account_id(account)
                    .send()
            })
            .await
        {
            Ok(o) => Ok(o.value.public_access_block_configuration.map(|p| Flags {
                // An unset flag is off ("PublicAccessBlockConfiguration", S3 Control API reference).
                block_public_acls: p.block_public_acls.unwrap_or(false),
                ignore_public_acls: p.ignore_public_acls.unwrap_or(false),
                block_public_policy: p.block_public_policy.unwrap_or(false),
                restrict_public_buckets: p.restrict_public_buckets.unwrap_or(false),
            })),
            Err(e) if e.code.as_deref() == Some("NoSuchPublicAccessBlockConfiguration") => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn put(&self, account: &str, flags: Flags) -> Result<Option<String>, AwsError> {
        let c = &self.clients;
        Ok(c.caller
            .call("s3control", "PutPublicAccessBlock", || {
                c.s3control
                    .put_public_access_block()
                    .account_id(account)
                    .public_access_block_configuration(to_sdk(flags))
                    .send()
            })
            .await?
            .request_id)
    }

    async fn delete(&self, account: &str) -> Result<Option<String>, AwsError> {
        let c = &self.clients;
        Ok(c.caller
            .call("s3control", "DeletePublicAccessBlock", || {
                c.s3control
                    .delete_public_access_block()
                    .account_id(account)
                    .send()
            })
            .await?
            .request_id)
    }

    /// The account's block as a state, for the sweep.
    pub async fn read_state(&self, account: &str) -> Result<State, AwsError> {
        Ok(to_state(self.read(account).await?))
    }
}

/// The flags the step puts.
fn wanted(step: &Step) -> Result<Flags, ConnectorError> {
    if step.call != "s3:PutAccountPublicAccessBlock" {
        return Err(ConnectorError::step(
            step,
            "not an account public-access-block call",
        ));
    }
    flags_param(step)
}

/// The account id the step names: twelve digits.
fn account_of(step: &Step) -> Result<&str, ConnectorError> {
    let account = param(step, "AccountId")?;
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ConnectorError::step(
            step,
            format!("parameter `AccountId`: `{account}` is not an account id"),
        ));
    }
    Ok(account)
}

#[async_trait]
impl BlockCalls for AccountPublicAccessBlock {
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
impl Connector for AccountPublicAccessBlock {
    fn kind(&self) -> &'static str {
        Self::KIND
    }

    fn calls(&self) -> &'static [&'static str] {
        &["s3:PutAccountPublicAccessBlock"]
    }

    fn target(&self, step: &Step) -> Result<Target, ConnectorError> {
        wanted(step)?;
        Ok(Target {
            connector: Self::KIND.to_owned(),
            name: account_of(step)?.to_owned(),
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
        if let Some(why) = skip_reason("account", target, step, before, want)? {
            return Ok(Applied::Skipped { why });
        }
        let id = self.put(&target.name, want).await?;
        Ok(Applied::Changed {
            request_ids: id.into_iter().collect(),
        })
    }

    async fn verify(&self, target: &Target, step: &Step) -> Result<Verification, ConnectorError> {
        verify_block(self, "account", target, wanted(step)?).await
    }

    async fn restore(&self, target: &Target, state: &State) -> Result<Vec<String>, ConnectorError> {
        restore_block(self, target, state).await
    }
}
