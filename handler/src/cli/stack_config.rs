//! `warden config --stack NAME`: the configuration of a deployed Warden as the `export NAME=value`
//! lines `warden init` prints, read from the CloudFormation stack's outputs.
//!
//! The convention the template follows (`deploy::stack::variable_of`, shared with the deploy code):
//! an output whose key starts with `Warden` is the environment variable of that name in capitals
//! with `_` before each inner capital (`WardenQueueUrl` is `WARDEN_QUEUE_URL`, `WardenDlqUrl` is
//! `WARDEN_DLQ_URL`: acronyms are written as words); every other output is left out. The lines come
//! in `warden init`'s order, then the other variables by name. Only a stack in a complete state is
//! read (its outputs are those of its last good deployment). `DescribeStacks` is
//! `deploy::stack::describe`'s.

use crate::aws::Clients;
use crate::deploy::stack::{describe, variable_of, StackError};
use crate::stores::init::shell_quote;

/// The variables in the order `warden init` prints them (`stores::init::init_for`).
pub const INIT_ORDER: [&str; 8] = [
    "WARDEN_QUEUE_URL",
    "WARDEN_INTAKE_QUEUE_URL",
    "WARDEN_DLQ_URL",
    "WARDEN_ALERT_TOPIC_ARN",
    "WARDEN_STATE_TABLE",
    "WARDEN_EVIDENCE_TABLE",
    "WARDEN_EVIDENCE_BUCKET",
    "WARDEN_RULE_PREFIX",
];

/// The states in which a stack's outputs are those of a good deployment (AWS CloudFormation User
/// Guide, "Stack status codes"): `UPDATE_ROLLBACK_COMPLETE` is the last good one, rolled back to.
pub const COMPLETE: [&str; 5] = [
    "CREATE_COMPLETE",
    "UPDATE_COMPLETE",
    "UPDATE_ROLLBACK_COMPLETE",
    "IMPORT_COMPLETE",
    "IMPORT_ROLLBACK_COMPLETE",
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
    Stack {
        stack: String,
        #[source]
        source: StackError,
    },
}

/// The `(variable, value)` pairs of a stack's outputs, in `warden init`'s order then by name
/// (outputs with an empty value are left out).
pub fn variables<'o>(
    outputs: impl IntoIterator<Item = (&'o String, &'o String)>,
) -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = outputs
        .into_iter()
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

fn hint(status: &str) -> &'static str {
    if status.ends_with("_IN_PROGRESS") {
        " (a deployment is under way: wait for it, `aws cloudformation wait stack-create-complete` or `stack-update-complete`)"
    } else if status == "ROLLBACK_COMPLETE" || status.ends_with("_FAILED") {
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
    let settled = match describe(clients, stack).await {
        Ok(s) => s,
        Err(StackError::Missing { .. }) => {
            return Err(StackConfigError::NotFound {
                stack: stack.to_owned(),
                region: region.to_owned(),
            })
        }
        Err(source) => {
            return Err(StackConfigError::Stack {
                stack: stack.to_owned(),
                source,
            })
        }
    };
    if !COMPLETE.contains(&settled.status.as_str()) {
        return Err(StackConfigError::NotComplete {
            stack: stack.to_owned(),
            hint: hint(&settled.status),
            status: if settled.status.is_empty() {
                "(no status)".to_owned()
            } else {
                settled.status
            },
        });
    }
    let vars = variables(&settled.outputs);
    if vars.is_empty() {
        let keys: Vec<String> = settled.outputs.keys().map(|k| format!("`{k}`")).collect();
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
        // `deploy::stack::variable_of`, the one mapping the deploy code and this command share.
        for (key, var) in [
            ("WardenQueueUrl", Some("WARDEN_QUEUE_URL")),
            ("WardenDlqUrl", Some("WARDEN_DLQ_URL")),
            ("WardenAlertTopicArn", Some("WARDEN_ALERT_TOPIC_ARN")),
            ("WardenStateTable", Some("WARDEN_STATE_TABLE")),
            ("WardenEvidenceBucket", Some("WARDEN_EVIDENCE_BUCKET")),
            ("WardenAccountId", Some("WARDEN_ACCOUNT_ID")),
            ("WardenIntakeQueueUrl", Some("WARDEN_INTAKE_QUEUE_URL")),
            ("WardenMode", Some("WARDEN_MODE")),
            ("WardenRulePrefix", Some("WARDEN_RULE_PREFIX")),
            ("Warden", None),
            ("QueueUrl", None),
            ("FunctionArn", None),
        ] {
            assert_eq!(variable_of(key).as_deref(), var, "{key}");
        }
    }

    #[test]
    fn variables_come_in_inits_order_then_by_name() {
        let outputs: std::collections::BTreeMap<String, String> = [
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
                "WARDEN_INTAKE_QUEUE_URL",
                "WARDEN_DLQ_URL",
                "WARDEN_ALERT_TOPIC_ARN",
                "WARDEN_STATE_TABLE",
                "WARDEN_EVIDENCE_TABLE",
                "WARDEN_ACCOUNT_ID",
            ]
        );
        assert_eq!(
            to_exports(&[("WARDEN_X".to_owned(), "a b".to_owned())]),
            "export WARDEN_X='a b'\n"
        );
    }
}
