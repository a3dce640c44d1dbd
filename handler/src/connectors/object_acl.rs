//! The `object_acl` connector: the grants of an S3 object's ACL that make it public, taken out by
//! `s3:PutObjectAcl` after someone granted the object to everyone (`AllUsers`) or to every AWS
//! account (`AuthenticatedUsers`), by a canned ACL or by grants. Only those grants go: the owner's
//! and every other grant stay, so an object that was private before the event is private again.
//! It acts on the object's current version (an event naming a version is told to a person). The
//! target is `BUCKET/KEY` (a bucket name has no `/`); the state is the ACL in `bucket_acl`'s shape.
//!
//! API calls: `snapshot` 1 (GetObjectAcl); `apply` 1 (0 when skipped); `verify` 1; `restore` 2.

use super::bucket_acl::{acl_of, to_state, Acl};
use super::{param, Applied, Connector, ConnectorError, State, Step, Target, Verification};
use crate::aws::Clients;
use async_trait::async_trait;
use aws_sdk_s3::types::ObjectCannedAcl;

/// An object's ACL.
pub struct ObjectAcl {
    clients: Clients,
}

/// The bucket and key of a target name (`BUCKET/KEY`).
fn object_of(target: &Target) -> Result<(&str, &str), ConnectorError> {
    target
        .name
        .split_once('/')
        .filter(|(b, k)| !b.is_empty() && !k.is_empty())
        .ok_or_else(|| ConnectorError::State {
            target: target.to_string(),
            why: "not `BUCKET/KEY`".to_owned(),
        })
}

impl ObjectAcl {
    pub const KIND: &'static str = "object_acl";

    pub fn new(clients: Clients) -> Self {
        Self { clients }
    }

    async fn read(&self, target: &Target) -> Result<Acl, ConnectorError> {
        let (bucket, key) = object_of(target)?;
        let c = &self.clients;
        let s3 = c.s3_for(bucket).await;
        let out = c
            .caller
            .call("s3", "GetObjectAcl", || {
                s3.get_object_acl().bucket(bucket).key(key).send()
            })
            .await?
            .value;
        Ok(Acl::from_sdk(out.owner(), out.grants()))
    }

    /// Writes the ACL's grants with the `x-amz-grant-*` headers (the owner does not change; an
    /// ACL with no grant is the canned `private`). Headers rather than an `AccessControlPolicy`
    /// body: S3 takes either, and the emulator reads only the headers.
    async fn put(&self, target: &Target, acl: &Acl) -> Result<Vec<String>, ConnectorError> {
        let (bucket, key) = object_of(target)?;
        let headers = acl.grant_headers();
        let header = |p: &str| headers.get(p).cloned();
        let c = &self.clients;
        let s3 = c.s3_for(bucket).await;
        let id = c
            .caller
            .call("s3", "PutObjectAcl", || {
                let req = s3.put_object_acl().bucket(bucket).key(key);
                let req = if headers.is_empty() {
                    req.acl(ObjectCannedAcl::Private)
                } else {
                    req.set_grant_read(header("READ"))
                        .set_grant_write(header("WRITE"))
                        .set_grant_read_acp(header("READ_ACP"))
                        .set_grant_write_acp(header("WRITE_ACP"))
                        .set_grant_full_control(header("FULL_CONTROL"))
                };
                req.send()
            })
            .await?
            .request_id;
        Ok(id.into_iter().collect())
    }
}

fn check(step: &Step) -> Result<(), ConnectorError> {
    if step.call != "s3:PutObjectAcl" {
        return Err(ConnectorError::step(step, "not an object-ACL call"));
    }
    Ok(())
}

#[async_trait]
impl Connector for ObjectAcl {
    fn kind(&self) -> &'static str {
        Self::KIND
    }

    fn calls(&self) -> &'static [&'static str] {
        &["s3:PutObjectAcl"]
    }

    fn target(&self, step: &Step) -> Result<Target, ConnectorError> {
        check(step)?;
        let bucket = param(step, "Bucket")?;
        if bucket.contains('/') {
            return Err(ConnectorError::step(
                step,
                format!("parameter `Bucket` is not a bucket name: `{bucket}`"),
            ));
        }
        Ok(Target {
            connector: Self::KIND.to_owned(),
            name: format!("{bucket}/{}", param(step, "Key")?),
        })
    }

    async fn snapshot(&self, target: &Target) -> Result<State, ConnectorError> {
        Ok(to_state(&self.read(target).await?))
    }

    async fn apply(
        &self,
        target: &Target,
        step: &Step,
        before: &State,
    ) -> Result<Applied, ConnectorError> {
        check(step)?;
        let live = acl_of(target, before)?;
        if !live.public() {
            return Ok(Applied::Skipped {
                why: "the object's ACL no longer grants to everyone or to every AWS account"
                    .to_owned(),
            });
        }
        let request_ids = self.put(target, &live.without_public()).await?;
        Ok(Applied::Changed { request_ids })
    }

    async fn verify(&self, target: &Target, step: &Step) -> Result<Verification, ConnectorError> {
        check(step)?;
        let live = self.read(target).await?;
        let holds = !live.public();
        Ok(Verification {
            holds,
            detail: if holds {
                "the object's ACL grants nothing to everyone or to every AWS account".to_owned()
            } else {
                "not so: the object's ACL still has a public grant".to_owned()
            },
            after: to_state(&live),
        })
    }

    async fn restore(&self, target: &Target, state: &State) -> Result<Vec<String>, ConnectorError> {
        let want = acl_of(target, state)?;
        if self.read(target).await? == want {
            return Ok(Vec::new());
        }
        self.put(target, &want).await
    }
}
