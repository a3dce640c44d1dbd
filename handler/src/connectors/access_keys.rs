//! The `access_keys` connector: the status (`Active`/`Inactive`) of an IAM user's access keys,
//! changed by `iam:UpdateAccessKey`. The target is the user; the state is its keys as
//! `{"id", "status"}`, sorted by id. Warden never deletes a key (a deleted key cannot be given
//! back): it deactivates, and a restore sets the statuses back. A key deleted since the snapshot
//! cannot be restored, and the restore says so.
//!
//! API calls, for a user with K keys (at most two): `snapshot` 1; `apply` 1 (0 when skipped);
//! `verify` 1; `restore` one per key whose status differs.

use super::{param, Applied, Connector, ConnectorError, State, Step, Target, Verification};
use crate::aws::{AwsError, Clients};
use async_trait::async_trait;
use aws_sdk_iam::types::StatusType;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A user's access keys' statuses.
pub struct AccessKeys {
    clients: Clients,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct Key {
    id: String,
    status: String,
}

impl AccessKeys {
    pub const KIND: &'static str = "access_keys";

    pub fn new(clients: Clients) -> Self {
        Self { clients }
    }

    async fn keys(&self, user: &str) -> Result<Vec<Key>, AwsError> {
        let c = &self.clients;
        let mut keys = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let m = marker.clone();
            let o = c
                .caller
                .call("iam", "ListAccessKeys", || {
                    c.iam
                        .list_access_keys()
                        .user_name(user)
                        .set_marker(m.clone())
                        .send()
                })
                .await?
                .value;
            keys.extend(o.access_key_metadata().iter().filter_map(|k| {
                Some(Key {
                    id: k.access_key_id()?.to_owned(),
                    status: k.status()?.as_str().to_owned(),
                })
            }));
            match o.marker().filter(|_| o.is_truncated()) {
                Some(n) => marker = Some(n.to_owned()),
                None => break,
            }
        }
        keys.sort();
        Ok(keys)
    }

    async fn set_status(
        &self,
        user: &str,
        id: &str,
        status: &str,
    ) -> Result<Option<String>, AwsError> {
        let c = &self.clients;
        Ok(c.caller
            .call("iam", "UpdateAccessKey", || {
                c.iam
                    .update_access_key()
                    .user_name(user)
                    .access_key_id(id)
                    .status(StatusType::from(status))
                    .send()
            })
            .await?
            .request_id)
    }
}

/// The key and the status the step sets.
fn key_change(step: &Step) -> Result<(&str, &str), ConnectorError> {
    if step.call != "iam:UpdateAccessKey" {
        return Err(ConnectorError::step(step, "not an access-key call"));
    }
    let status = param(step, "Status")?;
    if !matches!(status, "Active" | "Inactive") {
        return Err(ConnectorError::step(
            step,
            format!("`Status` must be `Active` or `Inactive`, found `{status}`"),
        ));
    }
    Ok((param(step, "AccessKeyId")?, status))
}

fn keys_of(target: &Target, state: &State) -> Result<Vec<Key>, ConnectorError> {
    serde_json::from_value(state.clone()).map_err(|e| ConnectorError::State {
        target: target.to_string(),
        why: format!("not a list of access keys: {e}"),
    })
}

fn to_state(keys: &[Key]) -> State {
    serde_json::to_value(keys).unwrap_or(Value::Null)
}

#[async_trait]
impl Connector for AccessKeys {
    fn kind(&self) -> &'static str {
        Self::KIND
    }

    fn calls(&self) -> &'static [&'static str] {
        &["iam:UpdateAccessKey"]
    }

    fn target(&self, step: &Step) -> Result<Target, ConnectorError> {
        key_change(step)?;
        Ok(Target {
            connector: Self::KIND.to_owned(),
            name: param(step, "UserName")?.to_owned(),
        })
    }

    async fn snapshot(&self, target: &Target) -> Result<State, ConnectorError> {
        Ok(to_state(&self.keys(&target.name).await?))
    }

    async fn apply(
        &self,
        target: &Target,
        step: &Step,
        before: &State,
    ) -> Result<Applied, ConnectorError> {
        let (id, status) = key_change(step)?;
        let keys = keys_of(target, before)?;
        let why = match keys.iter().find(|k| k.id == id) {
            None => format!("key `{id}` of `{}` no longer exists", target.name),
            Some(k) if k.status == status => format!("key `{id}` is already {status}"),
            Some(_) => {
                let rid = self.set_status(&target.name, id, status).await?;
                return Ok(Applied::Changed {
                    request_ids: rid.into_iter().collect(),
                });
            }
        };
        Ok(Applied::Skipped { why })
    }

    async fn verify(&self, target: &Target, step: &Step) -> Result<Verification, ConnectorError> {
        let (id, status) = key_change(step)?;
        let keys = self.keys(&target.name).await?;
        let live = keys.iter().find(|k| k.id == id).map(|k| k.status.as_str());
        // A deactivation holds when the key is gone too: it cannot be used either way.
        let holds = live == Some(status) || (live.is_none() && status == "Inactive");
        Ok(Verification {
            holds,
            detail: format!(
                "key `{id}` is {}",
                live.map_or("gone".to_owned(), |s| s.to_owned())
            ),
            after: to_state(&keys),
        })
    }

    async fn restore(&self, target: &Target, state: &State) -> Result<Vec<String>, ConnectorError> {
        let want = keys_of(target, state)?;
        let live = self.keys(&target.name).await?;
        if let Some(gone) = want.iter().find(|w| !live.iter().any(|l| l.id == w.id)) {
            return Err(ConnectorError::State {
                target: target.to_string(),
                why: format!(
                    "access key `{}` no longer exists and cannot be restored (a deleted key is gone for good); create a new key for the user if it still needs one",
                    gone.id
                ),
            });
        }
        let mut ids = Vec::new();
        for w in &want {
            if live.iter().any(|l| l.id == w.id && l.status != w.status) {
                ids.push(self.set_status(&target.name, &w.id, &w.status).await?);
            }
        }
        Ok(ids.into_iter().flatten().collect())
    }
}
