//! The `permissions_boundary` connector: the managed policy that caps what an IAM user or role can
//! do, put back after someone removed or replaced it (`Put/Delete{User,Role}PermissionsBoundary`).
//! The target is `user/NAME` or `role/NAME`; the state is `{"boundary": ARN}` (`null`: none). A
//! step acts only while the live boundary is still the one the event left (`Step::expect`), so a
//! boundary someone set since is never overwritten.
//!
//! The calls go through [`BoundaryCalls`]: the live implementation is [`Clients`]; the local AWS
//! does not implement `PutUserPermissionsBoundary`, so the user path is tested with an in-memory
//! implementation of that trait (the connector's own logic is the same for both).
//!
//! API calls: `snapshot` 1 (GetUser or GetRole); `apply` 1 (0 when skipped); `verify` 1;
//! `restore` at most 2.

use super::{param, Applied, Connector, ConnectorError, State, Step, Target, Verification};
use crate::aws::{AwsError, Clients};
use async_trait::async_trait;
use serde_json::{json, Value};

/// Whose boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    User,
    Role,
}

impl Owner {
    fn word(self) -> &'static str {
        match self {
            Owner::User => "user",
            Owner::Role => "role",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Owner::User => "User",
            Owner::Role => "Role",
        }
    }
}

/// The IAM calls behind the connector.
#[async_trait]
pub trait BoundaryCalls: Send + Sync {
    /// The principal's boundary ARN (`None`: it has none).
    async fn read(&self, owner: Owner, name: &str) -> Result<Option<String>, AwsError>;
    /// Sets the boundary; the request id.
    async fn put(&self, owner: Owner, name: &str, arn: &str) -> Result<Option<String>, AwsError>;
    /// Removes the boundary; the request id.
    async fn delete(&self, owner: Owner, name: &str) -> Result<Option<String>, AwsError>;
}

#[async_trait]
impl BoundaryCalls for Clients {
    async fn read(&self, owner: Owner, name: &str) -> Result<Option<String>, AwsError> {
        let c = self;
        let arn = match owner {
            Owner::User => c
                .caller
                .call("iam", "GetUser", || c.iam.get_user().user_name(name).send())
                .await?
                .value
                .user
                .and_then(|u| u.permissions_boundary)
                .and_then(|b| b.permissions_boundary_arn),
            Owner::Role => c
                .caller
                .call("iam", "GetRole", || c.iam.get_role().role_name(name).send())
                .await?
                .value
                .role
                .and_then(|r| r.permissions_boundary)
                .and_then(|b| b.permissions_boundary_arn),
        };
        Ok(arn)
    }

    async fn put(&self, owner: Owner, name: &str, arn: &str) -> Result<Option<String>, AwsError> {
        let c = self;
        Ok(match owner {
            Owner::User => {
                c.caller
                    .call("iam", "PutUserPermissionsBoundary", || {
                        c.iam
                            .put_user_permissions_boundary()
                            .user_name(name)
                            .permissions_boundary(arn)
                            .send()
                    })
                    .await?
                    .request_id
            }
            Owner::Role => {
                c.caller
                    .call("iam", "PutRolePermissionsBoundary", || {
                        c.iam
                            .put_role_permissions_boundary()
                            .role_name(name)
                            .permissions_boundary(arn)
                            .send()
                    })
                    .await?
                    .request_id
            }
        })
    }

    async fn delete(&self, owner: Owner, name: &str) -> Result<Option<String>, AwsError> {
        let c = self;
        Ok(match owner {
            Owner::User => {
                c.caller
                    .call("iam", "DeleteUserPermissionsBoundary", || {
                        c.iam
                            .delete_user_permissions_boundary()
                            .user_name(name)
                            .send()
                    })
                    .await?
                    .request_id
            }
            Owner::Role => {
                c.caller
                    .call("iam", "DeleteRolePermissionsBoundary", || {
                        c.iam
                            .delete_role_permissions_boundary()
                            .role_name(name)
                            .send()
                    })
                    .await?
                    .request_id
            }
        })
    }
}

#[async_trait]
impl<T: BoundaryCalls + ?Sized> BoundaryCalls for std::sync::Arc<T> {
    async fn read(&self, owner: Owner, name: &str) -> Result<Option<String>, AwsError> {
        (**self).read(owner, name).await
    }
    async fn put(&self, owner: Owner, name: &str, arn: &str) -> Result<Option<String>, AwsError> {
        (**self).put(owner, name, arn).await
    }
    async fn delete(&self, owner: Owner, name: &str) -> Result<Option<String>, AwsError> {
        (**self).delete(owner, name).await
    }
}

/// A user's or role's permissions boundary.
pub struct PermissionsBoundary<C = Clients> {
    calls: C,
}

/// What a step asks: whose boundary, and the boundary it wants (`None`: none).
struct Wanted<'s> {
    owner: Owner,
    name: &'s str,
    boundary: Option<&'s str>,
}

fn wanted(step: &Step) -> Result<Wanted<'_>, ConnectorError> {
    let (owner, put) = match step.call.as_str() {
        "iam:PutUserPermissionsBoundary" => (Owner::User, true),
        "iam:DeleteUserPermissionsBoundary" => (Owner::User, false),
        "iam:PutRolePermissionsBoundary" => (Owner::Role, true),
        "iam:DeleteRolePermissionsBoundary" => (Owner::Role, false),
        _ => {
            return Err(ConnectorError::step(
                step,
                "not a permissions-boundary call",
            ))
        }
    };
    let name = param(step, &format!("{}Name", owner.title()))?;
    let boundary = if put {
        let arn = param(step, "PermissionsBoundary")?;
        if !arn.starts_with("arn:") || !arn.contains(":policy/") {
            return Err(ConnectorError::step(
                step,
                format!("`PermissionsBoundary` must be a managed policy ARN, found `{arn}`"),
            ));
        }
        Some(arn)
    } else {
        None
    };
    Ok(Wanted {
        owner,
        name,
        boundary,
    })
}

fn boundary_of(state: &State) -> Option<&str> {
    state.get("boundary").and_then(Value::as_str)
}

fn to_state(boundary: Option<&str>) -> State {
    json!({ "boundary": boundary })
}

fn shown(boundary: Option<&str>) -> String {
    boundary.map_or_else(|| "none".to_owned(), |b| format!("`{b}`"))
}

impl PermissionsBoundary<Clients> {
    pub fn new(clients: Clients) -> Self {
        Self { calls: clients }
    }
}

impl<C: BoundaryCalls> PermissionsBoundary<C> {
    pub const KIND: &'static str = "permissions_boundary";

    /// The connector over other calls (the user path's tests).
    pub fn with_calls(calls: C) -> Self {
        Self { calls }
    }

    fn owner_of(target: &Target) -> Result<(Owner, &str), ConnectorError> {
        match target.name.split_once('/') {
            Some(("user", n)) if !n.is_empty() => Ok((Owner::User, n)),
            Some(("role", n)) if !n.is_empty() => Ok((Owner::Role, n)),
            _ => Err(ConnectorError::State {
                target: target.to_string(),
                why: "the target must be `user/NAME` or `role/NAME`".to_owned(),
            }),
        }
    }

    async fn state(&self, target: &Target) -> Result<State, ConnectorError> {
        let (owner, name) = Self::owner_of(target)?;
        Ok(to_state(self.calls.read(owner, name).await?.as_deref()))
    }

    async fn make(
        &self,
        owner: Owner,
        name: &str,
        boundary: Option<&str>,
    ) -> Result<Option<String>, AwsError> {
        match boundary {
            Some(arn) => self.calls.put(owner, name, arn).await,
            None => self.calls.delete(owner, name).await,
        }
    }
}

#[async_trait]
impl<C: BoundaryCalls> Connector for PermissionsBoundary<C> {
    fn kind(&self) -> &'static str {
        Self::KIND
    }

    fn calls(&self) -> &'static [&'static str] {
        &[
            "iam:PutUserPermissionsBoundary",
            "iam:DeleteUserPermissionsBoundary",
            "iam:PutRolePermissionsBoundary",
            "iam:DeleteRolePermissionsBoundary",
        ]
    }

    fn target(&self, step: &Step) -> Result<Target, ConnectorError> {
        let w = wanted(step)?;
        Ok(Target {
            connector: Self::KIND.to_owned(),
            name: format!("{}/{}", w.owner.word(), w.name),
        })
    }

    async fn snapshot(&self, target: &Target) -> Result<State, ConnectorError> {
        self.state(target).await
    }

    async fn apply(
        &self,
        _target: &Target,
        step: &Step,
        before: &State,
    ) -> Result<Applied, ConnectorError> {
        let w = wanted(step)?;
        let live = boundary_of(before);
        if live == w.boundary {
            return Ok(Applied::Skipped {
                why: format!(
                    "the {} `{}` has that boundary already ({})",
                    w.owner.word(),
                    w.name,
                    shown(live)
                ),
            });
        }
        // INVARIANT (no-stale-write): only the boundary the event left is replaced.
        if let Some(left) = &step.expect {
            if boundary_of(left) != live {
                return Ok(Applied::Skipped {
                    why: format!(
                        "the boundary of {} `{}` is {} now, not the one the event left ({}): someone changed it since",
                        w.owner.word(),
                        w.name,
                        shown(live),
                        shown(boundary_of(left))
                    ),
                });
            }
        }
        let id = self.make(w.owner, w.name, w.boundary).await?;
        Ok(Applied::Changed {
            request_ids: id.into_iter().collect(),
        })
    }

    async fn verify(&self, target: &Target, step: &Step) -> Result<Verification, ConnectorError> {
        let w = wanted(step)?;
        let after = self.state(target).await?;
        let live = boundary_of(&after);
        let holds = live == w.boundary;
        Ok(Verification {
            holds,
            detail: if holds {
                format!("the boundary is {}", shown(live))
            } else {
                format!(
                    "not so: the boundary is {}, not {}",
                    shown(live),
                    shown(w.boundary)
                )
            },
            after,
        })
    }

    async fn restore(&self, target: &Target, state: &State) -> Result<Vec<String>, ConnectorError> {
        let (owner, name) = Self::owner_of(target)?;
        // A state that does not say the boundary is never read as "none": that would remove one.
        let want = match state.get("boundary") {
            Some(Value::String(arn)) => Some(arn.as_str()),
            Some(Value::Null) => None,
            _ => {
                return Err(ConnectorError::State {
                    target: target.to_string(),
                    why: format!(
                        "not a boundary state: {}",
                        policy_rules::evidence::canonical_json(state)
                    ),
                })
            }
        };
        let live = self.state(target).await?;
        if boundary_of(&live) == want {
            return Ok(Vec::new());
        }
        Ok(self.make(owner, name, want).await?.into_iter().collect())
    }
}
