//! The `bucket_acl` connector: the grants of an S3 bucket's ACL that make it public, taken out by
//! `s3:PutBucketAcl` after someone granted to everyone (`AllUsers`) or to every AWS account
//! (`AuthenticatedUsers`), by a canned ACL (`public-read`, `public-read-write`,
//! `authenticated-read`) or by grants. Only those grants go: the owner's and every other grant
//! stay. The state is `{"owner": ID, "grants": [{"grantee", "type", "permission"}]}` sorted.
//!
//! API calls: `snapshot` 1 (GetBucketAcl); `apply` 1 (0 when skipped) plus the read; `verify` 1;
//! `restore` 2.

use super::{param, Applied, Connector, ConnectorError, State, Step, Target, Verification};
use crate::aws::{AwsError, Clients};
use async_trait::async_trait;
use aws_sdk_s3::types::{AccessControlPolicy, Grant, Grantee, Owner, Permission, Type};
use serde::{Deserialize, Serialize};

/// The group URIs that make a bucket public ("Access control list (ACL) overview", S3 user guide).
const PUBLIC_GROUPS: [&str; 2] = [
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
];

/// A bucket's ACL.
pub struct BucketAcl {
    clients: Clients,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(super) struct G {
    /// The canonical user id, group URI or e-mail address.
    grantee: String,
    /// `CanonicalUser`, `Group` or `AmazonCustomerByEmail`.
    #[serde(rename = "type")]
    kind: String,
    permission: String,
}

impl G {
    fn is_public(&self) -> bool {
        self.kind == "Group" && PUBLIC_GROUPS.contains(&self.grantee.as_str())
    }
}

/// An ACL (a bucket's or an object's: the same grants), in the connector state's shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Acl {
    owner: Option<String>,
    grants: Vec<G>,
}

impl Acl {
    pub(super) fn public(&self) -> bool {
        self.grants.iter().any(G::is_public)
    }

    pub(super) fn without_public(&self) -> Acl {
        Acl {
            owner: self.owner.clone(),
            grants: self
                .grants
                .iter()
                .filter(|g| !g.is_public())
                .cloned()
                .collect(),
        }
    }

    /// The ACL as S3 reads it: its owner and grants, sorted.
    pub(super) fn from_sdk(owner: Option<&Owner>, grants: &[Grant]) -> Acl {
        let mut grants: Vec<G> = grants
            .iter()
            .filter_map(|g| {
                let grantee = g.grantee()?;
                let id = grantee
                    .uri()
                    .or(grantee.id())
                    .or(grantee.email_address())?
                    .to_owned();
                Some(G {
                    grantee: id,
                    kind: grantee.r#type().as_str().to_owned(),
                    permission: g.permission().map_or("", |p| p.as_str()).to_owned(),
                })
            })
            .collect();
        grants.sort();
        grants.dedup();
        Acl {
            owner: owner.and_then(|o| o.id()).map(str::to_owned),
            grants,
        }
    }

    /// The ACL's grants as the `x-amz-grant-*` header values, by permission (`READ`, `WRITE`,
    /// `READ_ACP`, `WRITE_ACP`, `FULL_CONTROL`): `id="…"`, `uri="…"` or `emailAddress="…"`,
    /// comma-separated ("PutObjectAcl", S3 API reference: request headers).
    pub(super) fn grant_headers(&self) -> std::collections::BTreeMap<String, String> {
        let mut out: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for g in &self.grants {
            let key = match g.kind.as_str() {
                "Group" => "uri",
                "AmazonCustomerByEmail" => "emailAddress",
                _ => "id",
            };
            out.entry(g.permission.clone())
                .or_default()
                .push(format!("{key}=\"{}\"", g.grantee));
        }
        out.into_iter().map(|(p, v)| (p, v.join(", "))).collect()
    }

    pub(super) fn to_sdk(&self) -> Result<AccessControlPolicy, ConnectorError> {
        let fail = |why: String| ConnectorError::State {
            target: "bucket ACL".to_owned(),
            why,
        };
        let grants = self
            .grants
            .iter()
            .map(|g| {
                let kind = Type::from(g.kind.as_str());
                let mut grantee = Grantee::builder().r#type(kind.clone());
                grantee = match kind {
                    Type::Group => grantee.uri(&g.grantee),
                    Type::AmazonCustomerByEmail => grantee.email_address(&g.grantee),
                    _ => grantee.id(&g.grantee),
                };
                Ok(Grant::builder()
                    .grantee(grantee.build().map_err(|e| fail(e.to_string()))?)
                    .permission(Permission::from(g.permission.as_str()))
                    .build())
            })
            .collect::<Result<Vec<_>, ConnectorError>>()?;
        Ok(AccessControlPolicy::builder()
            .set_grants(Some(grants))
            .set_owner(
                self.owner
                    .as_ref()
                    .map(|id| Owner::builder().id(id).build()),
            )
            .build())
    }
}

pub(super) fn acl_of(target: &Target, state: &State) -> Result<Acl, ConnectorError> {
    serde_json::from_value(state.clone()).map_err(|e| ConnectorError::State {
        target: target.to_string(),
        why: format!("not a bucket ACL: {e}"),
    })
}

impl BucketAcl {
    pub const KIND: &'static str = "bucket_acl";

    pub fn new(clients: Clients) -> Self {
        Self { clients }
    }

    async fn read(&self, bucket: &str) -> Result<Acl, AwsError> {
        let c = &self.clients;
        let s3 = c.s3_for(bucket).await;
        let out = c
            .caller
            .call("s3", "GetBucketAcl", || {
                s3.get_bucket_acl().bucket(bucket).send()
            })
            .await?
            .value;
        Ok(Acl::from_sdk(out.owner(), out.grants()))
    }

    async fn put(&self, bucket: &str, acl: &Acl) -> Result<Vec<String>, ConnectorError> {
        let policy = acl.to_sdk()?;
        let c = &self.clients;
        let s3 = c.s3_for(bucket).await;
        let id = c
            .caller
            .call("s3", "PutBucketAcl", || {
                s3.put_bucket_acl()
                    .bucket(bucket)
                    .access_control_policy(policy.clone())
                    .send()
            })
            .await?
            .request_id;
        Ok(id.into_iter().collect())
    }
}

fn check(step: &Step) -> Result<(), ConnectorError> {
    if step.call != "s3:PutBucketAcl" {
        return Err(ConnectorError::step(step, "not a bucket-ACL call"));
    }
    Ok(())
}

pub(super) fn to_state(acl: &Acl) -> State {
    serde_json::to_value(acl).unwrap_or_default()
}

#[async_trait]
impl Connector for BucketAcl {
    fn kind(&self) -> &'static str {
        Self::KIND
    }

    fn calls(&self) -> &'static [&'static str] {
        &["s3:PutBucketAcl"]
    }

    fn target(&self, step: &Step) -> Result<Target, ConnectorError> {
        check(step)?;
        Ok(Target {
            connector: Self::KIND.to_owned(),
            name: param(step, "Bucket")?.to_owned(),
        })
    }

    async fn snapshot(&self, target: &Target) -> Result<State, ConnectorError> {
        Ok(to_state(&self.read(&target.name).await?))
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
                why: "the bucket's ACL no longer grants to everyone or to every AWS account"
                    .to_owned(),
            });
        }
        let request_ids = self.put(&target.name, &live.without_public()).await?;
        Ok(Applied::Changed { request_ids })
    }

    async fn verify(&self, target: &Target, step: &Step) -> Result<Verification, ConnectorError> {
        check(step)?;
        let live = self.read(&target.name).await?;
        let holds = !live.public();
        Ok(Verification {
            holds,
            detail: if holds {
                "the bucket's ACL grants nothing to everyone or to every AWS account".to_owned()
            } else {
                "not so: the bucket's ACL still has a public grant".to_owned()
            },
            after: to_state(&live),
        })
    }

    async fn restore(&self, target: &Target, state: &State) -> Result<Vec<String>, ConnectorError> {
        let want = acl_of(target, state)?;
        if self.read(&target.name).await? == want {
            return Ok(Vec::new());
        }
        self.put(&target.name, &want).await
    }
}
