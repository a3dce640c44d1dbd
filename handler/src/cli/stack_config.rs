//! `warden config --stack NAME`: the configuration of a deployed Warden as the `export NAME=value`
//! lines `warden init` prints, read from the CloudFormation stack's outputs.
//!
//! The convention the template follows: an output whose key starts with `Warden` and a capital is
//! the environment variable of that name in capitals with `_` before each inner capital
//! (`WardenQueueUrl` is `WARDEN_QUEUE_URL`, `WardenDlqUrl` is `WARDEN_DLQ_URL`: acronyms are
//! written as words); every other output is left out. The lines come in `warden init`'s order, then
//! the other variables by name. Only a stack in a complete state is read (its outputs are those of
//! its last good deployment).

use crate::aws::{AwsError, Clients};
use crate::stores::init::shell_quote;
use aws_sdk_cloudformation::types::StackStatus;

/// The variables in the order `warden init` prints them (`stores::init::init_for`).
pub const INIT_ORDER: [&str; 6] = [
    "WARDEN_QUEUE_URL",
    "WARDEN_DLQ_URL",
    "WARDEN_ALERT_TOPIC_ARN",
    "WARDEN_STATE_TABLE",
    "WARDEN_EVIDENCE_TABLE",
    "WARDEN_EVIDENCE_BUCKET",
];

/// Why the stack's configuration could not be read.
#[derive(Debug, thiserror::Error)]
pub enum StackConfigError {
    #[error(
        "stack `{stack}` does not exist (in region `{region}`); check the name and AWS_REGION"
    )]
    NotFound { stack: String, region: String },
    #[error(
        "stack `{stack}` is `{status}`, not in a complete state{hint}; its outputs are not read"
    )]
    NotComplete {
        stack: String,
        status: String,
        hint: &'static str,
    },
    #[error("stack `{stack}` has no Warden outputs (output keys starting with `Warden`, such as `WardenQueueUrl`){others}")]
    NoWardenOutputs { stack: String, others: String },
    #[error("while reading stack `{stack}`: {source}")]
    Aws {
        stack: String,
        #[source]
        source: AwsError,
    },
}

pub use crate::deploy::stack::variable_of;

/// The `(variable, value)` pairs of a stack's outputs, in `warden init`'s order then by name
/// (outputs with an empty value are left out).
pub fn variables(outputs: &[(String, String)]) -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = outputs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .filter_map(|(k, v)| variable_of(k).map(|name| (name, v.clone())))
        .collect();
    let rank = |name: &str| {
        INIT_ORDER
            .iter()
            .position(|n| *n == name)
            .unwrap_or(usize::MAX)
    };
    vars.sort_by(|(a, _), (b, _)| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)));
    vars.dedup_by(|a, b| a.0 == b.0);
    vars
}

/// The `export` lines, as `InitOutput::to_exports` writes them.
pub fn to_exports(vars: &[(String, String)]) -> String {
    vars.iter()
        .map(|(n, v)| format!("export {n}={}\n", shell_quote(v)))
        .collect()
}

/// Whether a stack in `status` has outputs of a good deployment.
fn complete(status: &StackStatus) -> bool {
    matches!(
        status,
        StackStatus::CreateComplete
            | StackStatus::UpdateComplete
            | StackStatus::UpdateRollbackComplete
            | StackStatus::ImportComplete
            | StackStatus::ImportRollbackComplete
    )
}

fn hint(status: &StackStatus) -> &'static str {
    let s = status.as_str();
    if s.ends_with("_IN_PROGRESS") {
        " (a deployment is under way: wait for it, `aws cloudformation wait stack-create-complete` or `stack-update-complete`)"
    } else if s == "ROLLBACK_COMPLETE" || s.ends_with("_FAILED") {
        " (its last deployment failed: see `aws cloudformation describe-stack-events`)"
    } else {
        ""
    }
}

/// DescribeStacks, then the stack's Warden variables.
pub async fn stack_variables(
    clients: &Clients,
    stack: &str,
    region: &str,
) -> Result<Vec<(String, String)>, StackConfigError> {
    let cfn = clients.cloudformation.clone();
    let called = clients
        .caller
        .call("cloudformation", "DescribeStacks", || {
            cfn.describe_stacks().stack_name(stack).send()
        })
        .await;
    let out = match called {
        Ok(c) => c.value,
        // CloudFormation answers a missing stack with `ValidationError` "Stack with id X does
        // not exist" (AWS CloudFormation API Reference, DescribeStacks).
        Err(e)
            if e.code.as_deref() == Some("ValidationError")
                && e.message.contains("does not exist") =>
        {
            return Err(StackConfigError::NotFound {
                stack: stack.to_owned(),
                region: region.to_owned(),
            });
        }
        Err(source) => {
            return Err(StackConfigError::Aws {
                stack: stack.to_owned(),
                source,
            })
        }
    };
    let Some(s) = out.stacks().first() else {
        return Err(StackConfigError::NotFound {
            stack: stack.to_owned(),
            region: region.to_owned(),
        });
    };
    match s.stack_status() {
        Some(status) if complete(status) => {}
        status => {
            return Err(StackConfigError::NotComplete {
                stack: stack.to_owned(),
                status: status.map_or("(no status)", StackStatus::as_str).to_owned(),
                hint: status.map_or("", hint),
            })
        }
    }
    let outputs: Vec<(String, String)> = s
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
        .collect();
    let vars = variables(&outputs);
    if vars.is_empty() {
        let keys: Vec<String> = outputs.iter().map(|(k, _)| format!("`{k}`")).collect();
        return Err(StackConfigError::NoWardenOutputs {
            stack: stack.to_owned(),
            others: if keys.is_empty() {
                "; it has no outputs at all".to_owned()
            } else {
                format!("; its outputs are {}", keys.join(", "))
            },
        });
    }
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_keys_name_variables_by_the_convention() {
        for (key, var) in [
            ("WardenQueueUrl", Some("WARDEN_QUEUE_URL")),
            ("WardenDlqUrl", Some("WARDEN_DLQ_URL")),
            ("WardenAlertTopicArn", Some("WARDEN_ALERT_TOPIC_ARN")),
            ("WardenStateTable", Some("WARDEN_STATE_TABLE")),
            ("WardenEvidenceBucket", Some("WARDEN_EVIDENCE_BUCKET")),
            ("WardenAccountId", Some("WARDEN_ACCOUNT_ID")),
            ("WardenIntakeQueueUrl", Some("WARDEN_INTAKE_QUEUE_URL")),
            ("Warden", None),
            ("Wardens", None),
            ("WardensQueue", None),
            ("QueueUrl", None),
            ("FunctionArn", None),
        ] {
            assert_eq!(variable_of(key).as_deref(), var, "{key}");
        }
    }

    #[test]
    fn variables_come_in_inits_order_then_by_name() {
        let outputs: Vec<(String, String)> = [
            ("WardenIntakeQueueUrl", "https://q/intake"),
            ("WardenAccountId", "123456789012"),
            (
                "FunctionArn",
                "arn:aws:lambda:us-east-1:123456789012:function:w",
            ),
            ("WardenEvidenceTable", "w-evidence"),
            ("WardenStateTable", "w-state"),
            ("WardenEvidenceBucket", ""),
            (
                "WardenAlertTopicArn",
                "arn:aws:sns:us-east-1:123456789012:w-alerts",
            ),
            ("WardenDlqUrl", "https://q/dlq"),
            ("WardenQueueUrl", "https://q/events"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let names: Vec<String> = variables(&outputs).into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "WARDEN_QUEUE_URL",
                "WARDEN_DLQ_URL",
                "WARDEN_ALERT_TOPIC_ARN",
                "WARDEN_STATE_TABLE",
                "WARDEN_EVIDENCE_TABLE",
                "WARDEN_ACCOUNT_ID",
                "WARDEN_INTAKE_QUEUE_URL",
            ]
        );
        assert_eq!(
            to_exports(&[("WARDEN_X".to_owned(), "a b".to_owned())]),
            "export WARDEN_X='a b'\n"
        );
    }
}
