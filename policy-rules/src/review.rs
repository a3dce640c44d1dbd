//! What a person must do when Warden does not undo a change itself: for a service call that passed a
//! role or runs code as one (Lambda, EC2, EC2 Auto Scaling, CloudFormation, Glue, Data Pipeline, SageMaker, CodeBuild,
//! ECS, SSM), the exact resources to review and the role they run as; for a change to Warden's own
//! infrastructure (its EventBridge rules, queue, tables, topic, function), the command that restores
//! it. Deleting a function or stack, or stopping an instance, can break production, so none of this is
//! automated; no connector restores Warden's own infrastructure yet.
//!
//! This file owns the wording; the planner (`plan_undo`) calls it for these services' events.

use crate::event::Event;
use crate::mapping::{Mapping, Resource};
use serde_json::Value;

/// The event sources whose changes Warden leaves to a person, with the text this file writes.
pub const SOURCES: [&str; 14] = [
    "lambda.amazonaws.com",
    "ec2.amazonaws.com",
    "autoscaling.amazonaws.com",
    "cloudformation.amazonaws.com",
    "glue.amazonaws.com",
    "datapipeline.amazonaws.com",
    "sagemaker.amazonaws.com",
    "codebuild.amazonaws.com",
    "ecs.amazonaws.com",
    "ssm.amazonaws.com",
    "events.amazonaws.com",
    "sqs.amazonaws.com",
    "dynamodb.amazonaws.com",
    "sns.amazonaws.com",
];

/// Whether `by_hand` words the events of this source.
pub fn covers(event_source: &str) -> bool {
    SOURCES.contains(&event_source)
}

/// Lambda logs versioned event names (`UpdateFunctionCode20150331v2`): the operation without them.
fn operation(name: &str) -> &str {
    let cut = name
        .char_indices()
        .find(|(i, c)| c.is_ascii_digit() && name.get(*i..).is_some_and(|r| r.len() >= 8))
        .map_or(name.len(), |(i, _)| i);
    name.get(..cut).unwrap_or(name)
}

fn quoted(items: &[String]) -> String {
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why Warden does not undo the event's change, and what a person should do, naming the exact
/// resources.
pub fn by_hand(event: &Event<'_>, mapping: &Mapping) -> String {
    let parse = |raw: Option<crate::event::RawJson<'_>>| -> Value {
        raw.and_then(|r| serde_json::from_str(r.get()).ok())
            .unwrap_or(Value::Null)
    };
    let params = parse(event.record.request_parameters);
    let response = parse(event.record.response_elements);
    let param = |k: &str| params.get(k).and_then(Value::as_str).unwrap_or("?");
    let when = event.record.event_time.as_deref().unwrap_or("the event");
    let replay = format!(
        "events of the gap since {when} reached no queue: `warden replay` the CloudTrail logs since then"
    );
    let own: Vec<String> = mapping
        .actions()
        .iter()
        .filter(|a| a.action != "iam:PassRole")
        .flat_map(|a| a.resources.iter().map(|r: &Resource| r.arn.clone()))
        .filter(|r| r != "*")
        .collect();
    let first = own.first().map_or("?", String::as_str).to_owned();
    let init = "`warden init` (with the prefix Warden was installed with; it is idempotent)";
    match (event.source(), operation(event.name())) {
        ("events.amazonaws.com", "DisableRule") => format!(
            "no connector restores EventBridge rules yet: run `aws events enable-rule --name {}`, or {init}; {replay}",
            param("name")
        ),
        ("events.amazonaws.com", op) => format!(
            "no connector restores EventBridge rules yet: {init} re-creates Warden's rules, their patterns and targets (`{op}` changed `{first}`); {replay}"
        ),
        ("sqs.amazonaws.com", "SetQueueAttributes") => format!(
            "no connector restores queues yet: {init} sets `{first}`'s attributes, redrive and queue policy back"
        ),
        ("sqs.amazonaws.com", op) => format!(
            "no connector restores queues yet: {init} re-creates `{first}` if it is gone; the messages it held are lost (`{op}`): {replay}"
        ),
        ("dynamodb.amazonaws.com", "DeleteTable") => format!(
            "no connector restores tables yet: {init} re-creates `{first}`; its items are lost: check the evidence mirror with `warden evidence verify`"
        ),
        ("dynamodb.amazonaws.com", _) => format!(
            "no connector restores tables yet: review `aws dynamodb describe-table --table-name {}` and set the change back",
            param("tableName")
        ),
        ("sns.amazonaws.com", "DeleteTopic") => format!(
            "no connector restores topics yet: {init} re-creates `{first}`; subscribe the alert recipients again"
        ),
        ("sns.amazonaws.com", "Unsubscribe") => format!(
            "no connector restores subscriptions yet: subscribe the removed recipient again (`{}`): `aws sns subscribe --topic-arn TOPIC --protocol PROTOCOL --notification-endpoint ENDPOINT`",
            param("subscriptionArn")
        ),
        ("sns.amazonaws.com", _) => format!(
            "no connector restores topics yet: review `aws sns get-topic-attributes --topic-arn {}` and set `{}` back",
            param("topicArn"),
            param("attributeName")
        ),
        ("lambda.amazonaws.com", "PutFunctionConcurrency") => format!(
            "a reserved concurrency of 0 stops a function: `aws lambda delete-function-concurrency --function-name {}` if `{first}` is Warden's",
            param("functionName")
        ),
        (_, op) => {
            let mut review = own.clone();
            // Instances the event names that no action's resource type holds (SSM's targets, the
            // instances RunInstances started), as ARNs.
            let region = event.record.aws_region.as_deref().unwrap_or("");
            let instance = |id: &str| {
                format!(
                    "arn:{}:ec2:{region}:{}:instance/{id}",
                    crate::arn::partition_for_region(region),
                    event.account().unwrap_or("")
                )
            };
            let mut ids: Vec<&str> = params
                .get("instanceIds")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            if event.source() == "ssm.amazonaws.com" {
                ids.extend(params.get("target").and_then(Value::as_str));
            }
            ids.extend(
                response
                    .pointer("/instancesSet/items")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|i| i.get("instanceId").and_then(Value::as_str)),
            );
            review.extend(ids.into_iter().filter(|id| id.starts_with("i-")).map(instance));
            review.sort();
            review.dedup();
            let mut roles: Vec<String> = Vec::new();
            let mut unknown: Vec<String> = Vec::new();
            for a in mapping
                .actions()
                .iter()
                .filter(|a| a.action == "iam:PassRole")
            {
                roles.extend(a.resources.iter().map(|r| r.arn.clone()));
                unknown.extend(a.unresolved.clone());
            }
            roles.extend(response.get("role").and_then(Value::as_str).map(str::to_owned));
            roles.sort();
            roles.dedup();
            let what = if review.is_empty() {
                "the resource the call made or changed (the event does not name it)".to_owned()
            } else {
                quoted(&review)
            };
            let runs_as = match (roles.is_empty(), unknown.first()) {
                (false, _) => format!("; it runs as {}", quoted(&roles)),
                (true, Some(why)) => format!("; {why}"),
                (true, None) => {
                    "; the role it runs as is not in the event (the function's, instance's, stack's or task's own)".to_owned()
                }
            };
            let why = if event.source() == "ssm.amazonaws.com" {
                "a command or session that ran cannot be taken back"
            } else {
                "deleting a function, stack, job or task, or stopping an instance, can break production"
            };
            format!("Warden does not undo `{op}` ({why}): review {what}{runs_as}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versioned_lambda_names_lose_their_version() {
        assert_eq!(
            operation("UpdateFunctionCode20150331v2"),
            "UpdateFunctionCode"
        );
        assert_eq!(
            operation("PutFunctionConcurrency20171031"),
            "PutFunctionConcurrency"
        );
        assert_eq!(operation("RunInstances"), "RunInstances");
        assert_eq!(
            operation("CreateEventSourceMapping20150331"),
            "CreateEventSourceMapping"
        );
    }
}
