//! Warden's own queues and function, read for the sweep's drift check (the pure comparison is
//! `policy_rules::sweep::own_pipeline`). Warden only reads them: its role is denied every call
//! that changes them.
//!
//! API calls: `GetQueueAttributes` per queue; with a function, `GetFunctionConcurrency` and
//! `ListEventSourceMappings` (every page).

use crate::aws::{AwsError, Clients};
use aws_sdk_sqs::types::QueueAttributeName;
use policy_rules::sweep::own_pipeline::{
    FunctionRead, FunctionState, Mapping, QueueRead, QueueRole, QueueState,
};

/// The queues at `queues` (their role and URL) as SQS shows them, and the requests it took.
pub async fn read_queues(
    c: &Clients,
    queues: &[(QueueRole, String)],
    requests: &mut usize,
) -> Result<Vec<QueueRead>, AwsError> {
    let mut out = Vec::new();
    for (role, url) in queues {
        let got = c
            .caller
            .call("sqs", "GetQueueAttributes", || {
                c.sqs
                    .get_queue_attributes()
                    .queue_url(url)
                    .attribute_names(QueueAttributeName::QueueArn)
                    .attribute_names(QueueAttributeName::RedrivePolicy)
                    .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
                    .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
                    .send()
            })
            .await;
        *requests += 1;
        let attributes = match got {
            Ok(out) => out.value.attributes.unwrap_or_default(),
            Err(e) if is_no_queue(&e) => {
                out.push(QueueRead {
                    role: *role,
                    url: url.clone(),
                    state: None,
                });
                continue;
            }
            Err(e) => return Err(e),
        };
        let get = |name: QueueAttributeName| attributes.get(&name).map(String::as_str);
        let Some(arn) = get(QueueAttributeName::QueueArn) else {
            return Err(AwsError::unreadable(
                "sqs",
                "GetQueueAttributes",
                format!("no `QueueArn` for `{url}`"),
            ));
        };
        let dead_letter_target = match get(QueueAttributeName::RedrivePolicy) {
            None | Some("") => None,
            Some(text) => {
                let policy: serde_json::Value = serde_json::from_str(text).map_err(|e| {
                    AwsError::unreadable(
                        "sqs",
                        "GetQueueAttributes",
                        format!("the `RedrivePolicy` of `{url}` is not JSON: {e}"),
                    )
                })?;
                policy
                    .get("deadLetterTargetArn")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned)
            }
        };
        let count = |name| {
            get(name)
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or_default()
        };
        out.push(QueueRead {
            role: *role,
            url: url.clone(),
            state: Some(QueueState {
                arn: arn.to_owned(),
                dead_letter_target,
                messages: count(QueueAttributeName::ApproximateNumberOfMessages)
                    + count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
            }),
        });
    }
    Ok(out)
}

/// SQS's "no such queue", in the query protocol's code and the JSON protocol's.
fn is_no_queue(e: &AwsError) -> bool {
    e.is_not_found()
        || matches!(
            e.code.as_deref(),
            Some("AWS.SimpleQueueService.NonExistentQueue" | "QueueDoesNotExist")
        )
}

/// The function `name` as Lambda shows it, and the requests it took.
pub async fn read_function(
    c: &Clients,
    name: &str,
    requests: &mut usize,
) -> Result<FunctionRead, AwsError> {
    let concurrency = c
        .caller
        .call("lambda", "GetFunctionConcurrency", || {
            c.lambda
                .get_function_concurrency()
                .function_name(name)
                .send()
        })
        .await;
    *requests += 1;
    let reserved_concurrency = match concurrency {
        Ok(out) => out.value.reserved_concurrent_executions,
        Err(e) if e.is_not_found() => {
            return Ok(FunctionRead {
                name: name.to_owned(),
                state: None,
            })
        }
        Err(e) => return Err(e),
    };
    let mut mappings = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let token = marker.clone();
        let out = c
            .caller
            .call("lambda", "ListEventSourceMappings", || {
                c.lambda
                    .list_event_source_mappings()
                    .function_name(name)
                    .set_marker(token.clone())
                    .send()
            })
            .await?
            .value;
        *requests += 1;
        for m in out.event_source_mappings() {
            let (Some(source_arn), Some(uuid)) = (m.event_source_arn(), m.uuid()) else {
                continue;
            };
            mappings.push(Mapping {
                source_arn: source_arn.to_owned(),
                uuid: uuid.to_owned(),
                state: m.state().unwrap_or_default().to_owned(),
            });
        }
        match out.next_marker {
            Some(t) if !t.is_empty() => marker = Some(t),
            _ => break,
        }
    }
    Ok(FunctionRead {
        name: name.to_owned(),
        state: Some(FunctionState {
            reserved_concurrency,
            mappings,
        }),
    })
}
