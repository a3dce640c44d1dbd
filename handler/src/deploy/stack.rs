//! The stack: `cloudformation/warden.yaml` (carried in the binary), deployed or updated and waited
//! for, and its outputs turned into Warden's configuration variables. An output key is the
//! variable in CamelCase without underscores (`WardenQueueUrl` is `WARDEN_QUEUE_URL`); outputs
//! that do not start with `Warden` are not configuration (`FunctionRoleArn`).

use crate::aws::{AwsError, Clients};
use aws_sdk_cloudformation::types::{Capability, Parameter, StackStatus};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The main template.
pub const TEMPLATE: &str = include_str!("../../../cloudformation/warden.yaml");

/// The regional forwarder template.
pub const REGION_TEMPLATE: &str = include_str!("../../../cloudformation/warden-region.yaml");

/// Why a deploy failed.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("stack `{stack}` ended {status}: {reason}")]
    Failed {
        stack: String,
        status: String,
        reason: String,
    },
    #[error("stack `{stack}` is still {status} after {seconds} s")]
    Timeout {
        stack: String,
        status: String,
        seconds: u64,
    },
    #[error("stack `{stack}` does not exist")]
    Missing { stack: String },
}

/// A settled stack: its status and outputs (key to value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    pub status: String,
    pub outputs: BTreeMap<String, String>,
}

/// The configuration variable of an output key: `WardenQueueUrl` → `WARDEN_QUEUE_URL`; `None`
/// for keys that are not configuration (not `Warden` and a capital, or not alphanumeric).
pub fn variable_of(output_key: &str) -> Option<String> {
    let rest = output_key.strip_prefix("Warden")?;
    if !rest.starts_with(|c: char| c.is_ascii_uppercase())
        || !rest.chars().all(|c| c.is_ascii_alphanumeric())
    {
        return None;
    }
    let mut out = String::from("WARDEN");
    for c in rest.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    Some(out)
}

/// Creates the stack, or updates it when it exists ("No updates are to be performed" is success),
/// and waits until it settles. `parameters` are `(key, value)`; the others keep their defaults
/// (on update: their previous values).
pub async fn deploy(
    clients: &Clients,
    stack: &str,
    template: &str,
    parameters: &[(&str, &str)],
    wait: Duration,
) -> Result<Settled, StackError> {
    let params: Vec<Parameter> = parameters
        .iter()
        .map(|(k, v)| {
            Parameter::builder()
                .parameter_key(*k)
                .parameter_value(*v)
                .build()
        })
        .collect();
    let exists = match describe(clients, stack).await {
        Ok(s) => !s.status.starts_with("DELETE_COMPLETE"),
        Err(StackError::Missing { .. }) => false,
        Err(e) => return Err(e),
    };
    let c = &clients.cloudformation();
    if exists {
        let req = c
            .update_stack()
            .stack_name(stack)
            .template_body(template)
            .set_parameters(Some(params))
            .capabilities(Capability::CapabilityNamedIam);
        let sent = clients
            .caller
            .call("cloudformation", "UpdateStack", || req.clone().send())
            .await;
        if let Err(e) = sent {
            if e.to_string().contains("No updates are to be performed") {
                return describe(clients, stack).await;
            }
            return Err(e.into());
        }
    } else {
        let req = c
            .create_stack()
            .stack_name(stack)
            .template_body(template)
            .set_parameters(Some(params))
            .capabilities(Capability::CapabilityNamedIam);
        clients
            .caller
            .call("cloudformation", "CreateStack", || req.clone().send())
            .await?;
    }
    settle(clients, stack, wait).await
}

/// Polls until the stack is no longer in progress.
pub async fn settle(clients: &Clients, stack: &str, wait: Duration) -> Result<Settled, StackError> {
    let start = Instant::now();
    let mut delay = Duration::from_millis(200);
    loop {
        let s = describe(clients, stack).await?;
        if !s.status.ends_with("_IN_PROGRESS") {
            let good = s.status == StackStatus::CreateComplete.as_str()
                || s.status == StackStatus::UpdateComplete.as_str();
            if !good {
                return Err(StackError::Failed {
                    stack: stack.to_owned(),
                    status: s.status,
                    reason: reason(clients, stack).await,
                });
            }
            return Ok(s);
        }
        if start.elapsed() > wait {
            return Err(StackError::Timeout {
                stack: stack.to_owned(),
                status: s.status,
                seconds: wait.as_secs(),
            });
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(10));
    }
}

/// The stack's status and outputs.
pub async fn describe(clients: &Clients, stack: &str) -> Result<Settled, StackError> {
    let c = &clients.cloudformation();
    let out = clients
        .caller
        .call("cloudformation", "DescribeStacks", || {
            c.describe_stacks().stack_name(stack).send()
        })
        .await;
    let out = match out {
        Ok(o) => o.value,
        Err(e) if e.to_string().contains("does not exist") => {
            return Err(StackError::Missing {
                stack: stack.to_owned(),
            })
        }
        Err(e) => return Err(e.into()),
    };
    let Some(s) = out.stacks().first() else {
        return Err(StackError::Missing {
            stack: stack.to_owned(),
        });
    };
    let outputs = s
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
        .collect();
    Ok(Settled {
        status: s
            .stack_status()
            .map(|st| st.as_str().to_owned())
            .unwrap_or_default(),
        outputs,
    })
}

/// The first failed resource's reason, for the error.
async fn reason(clients: &Clients, stack: &str) -> String {
    let c = &clients.cloudformation();
    let events = clients
        .caller
        .call("cloudformation", "DescribeStackEvents", || {
            c.describe_stack_events().stack_name(stack).send()
        })
        .await;
    events
        .ok()
        .and_then(|e| {
            e.value
                .stack_events()
                .iter()
                .rev()
                .find(|ev| {
                    ev.resource_status()
                        .is_some_and(|s| s.as_str().ends_with("_FAILED"))
                })
                .map(|ev| {
                    format!(
                        "{}: {}",
                        ev.logical_resource_id().unwrap_or("?"),
                        ev.resource_status_reason().unwrap_or("no reason given")
                    )
                })
        })
        .unwrap_or_else(|| "no failed resource reported".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_keys_name_their_variables() {
        assert_eq!(
            variable_of("WardenQueueUrl").as_deref(),
            Some("WARDEN_QUEUE_URL")
        );
        assert_eq!(
            variable_of("WardenAlertTopicArn").as_deref(),
            Some("WARDEN_ALERT_TOPIC_ARN")
        );
        assert_eq!(variable_of("FunctionRoleArn"), None);
        assert_eq!(variable_of("Warden"), None);
    }
}
