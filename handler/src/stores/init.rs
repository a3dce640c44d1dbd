//! `warden init`: creates, idempotently, what Warden runs on in one account and region, and returns
//! the configuration that points at it. A second run changes nothing and returns the same output.
//!
//! - the FIFO queues, all encrypted at rest (SQS-managed keys), keeping messages 14 days, with a
//!   180-second visibility timeout and content-based deduplication: the intake `<prefix>-intake.fifo`,
//!   which the EventBridge rules deliver to in one message group, with a queue policy that lets
//!   `events.amazonaws.com` send, from Warden's rules only; the work queue `<prefix>-events.fifo`,
//!   which the forwarder fills in lanes (`policy_rules::lane`) and the flow reads; and the
//!   dead-letter queue `<prefix>-events-dlq.fifo` both redrive to after 5 receives. The intake
//!   and work queues' policies deny sending, receiving, deleting, hiding and purging messages to
//!   every principal but Warden's (init's caller) and the exact break-glass ARNs
//!   (`queue_policy_document`): within one account an identity policy alone grants access to a
//!   queue, so without the Deny anyone with `sqs:SendMessage` on `*` could forge events for Warden
//!   to act on, and anyone with `sqs:ReceiveMessage` could hide or dead-letter real ones;
//! - the SNS topic `<prefix>-alerts`;
//! - the DynamoDB tables of `dynamo::table_definitions` (TTL on the state table);
//! - optionally the evidence bucket `<prefix>-evidence-<account>-<region>`, with Object Lock (and
//!   so versioning) and every public access blocked;
//! - the EventBridge pattern rules (no schedule) on the default bus, each targeting the intake queue
//!   with the fixed message group `warden`: `<prefix>-<service>-<n>`, one per pattern that
//!   `policy_rules::routing` derives from the rule set and the catalog (every event a rule can match,
//!   and nothing else), and `<prefix>-watchdog`, which reports changes to any `<prefix>-` rule (a
//!   disabled rule cannot report its own disabling; the routed EventBridge calls report the
//!   watchdog's).
//!
//! Not here: the CLI subcommand (`main.rs`), the Lambda and its event source mapping (the template).

use crate::aws::{AwsError, Clients};
use crate::stores::dynamo::{table_definitions, KeyType, TableDefinition};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType as DynKey,
    Projection, ProjectionType, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
    TimeToLiveStatus,
};
use aws_sdk_sqs::types::QueueAttributeName;
use aws_smithy_types::error::operation::BuildError;
use policy_rules::catalog::Catalog;
use policy_rules::routing;
use policy_rules::rules::RuleSet;
use serde_json::json;
use std::time::Duration;

/// The message group of every event EventBridge puts on the intake queue. One group keeps the
/// events in order; EventBridge requires a fixed group id for an SQS FIFO target (Amazon
/// EventBridge User Guide, "Amazon SQS queues as targets"). The forwarder re-sends each in its
/// principal's lane.
pub const MESSAGE_GROUP_ID: &str = "warden";

/// How many receives before a message goes to the dead-letter queue (both queues).
pub const MAX_RECEIVE_COUNT: u32 = 5;

/// How long a received message stays hidden (seconds): longer than a worker's lease on the event
/// (`WARDEN_LEASE_SECONDS`, default 120), so a message still being worked on is not handed to
/// another worker, and six times the stack's 30-second Lambda timeout, as the Lambda developer
/// guide advises for SQS event sources.
pub const VISIBILITY_TIMEOUT_SECONDS: u32 = 180;

/// How long every queue keeps a message (seconds): 14 days, SQS's maximum, so a message waiting
/// in the dead-letter queue for a person is not lost to the 4-day default.
pub const RETENTION_SECONDS: u32 = 1_209_600;

/// The CloudTrail event detail type of management API calls.
pub use policy_rules::routing::DETAIL_TYPE;

/// The name suffix of the rule that watches Warden's own rules.
pub const WATCHDOG: &str = "watchdog";

/// What the intake and work queues deny to every principal but Warden's and the break-glass ones
/// (and, on the intake queue, Warden's rules): forging an event, and taking one away (a receive
/// hides a message and counts towards the dead-letter queue; a delete or purge loses it). The
/// dead-letter queue is left open to read: it is where a person looks when its alarm fires.
pub const GUARDED_QUEUE_ACTIONS: &[&str] = &[
    "sqs:SendMessage",
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:PurgeQueue",
];

/// Why init failed.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("while building a request: {0}")]
    Build(#[from] BuildError),
    #[error("`{prefix}`: a prefix is 1 to 40 letters, digits, `-` or `_`")]
    Prefix { prefix: String },
    #[error("`{name}`: a bucket name has at most 63 characters; use a shorter prefix")]
    BucketName { name: String },
    #[error("{what}: the answer had no {field}")]
    Missing { what: String, field: &'static str },
    #[error("table `{table}` is still `{status}` after {seconds} s")]
    NotActive {
        table: String,
        status: String,
        seconds: u64,
    },
    #[error("EventBridge refused target of rule `{rule}`: {message}")]
    Target { rule: String, message: String },
    #[error("while deriving the event patterns: {0}")]
    Routing(String),
}

/// The configuration `init` made, as `(NAME, value)` pairs in a fixed order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitOutput {
    pub vars: Vec<(&'static str, String)>,
    /// The principals the intake and work queues admit (`admitted_principals`): Warden must run
    /// as one of them. Empty when the configuration came from elsewhere (a stack's outputs).
    pub admitted: Vec<String>,
}

impl InitOutput {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// `export NAME=value` lines, values shell-quoted when needed.
    pub fn to_exports(&self) -> String {
        self.vars
            .iter()
            .map(|(n, v)| format!("export {n}={}\n", shell_quote(v)))
            .collect()
    }
}

/// A POSIX shell word for `s`: as is when it holds only safe characters, else single-quoted.
pub fn shell_quote(s: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The EventBridge rules: `(name, pattern)`, from the rules' routing and the watchdog. Read-only
/// calls are not delivered to rules that do not opt in, and no default rule needs them.
pub fn rule_patterns(
    prefix: &str,
    rules: &RuleSet,
    catalog: &Catalog,
) -> Result<Vec<(String, serde_json::Value)>, InitError> {
    let routing = routing::routing(rules, catalog);
    if !routing.unrouted.is_empty() {
        return Err(InitError::Routing(routing.unrouted.join("; ")));
    }
    let mut out: Vec<(String, serde_json::Value)> = routing
        .routes
        .into_iter()
        .map(|r| (format!("{prefix}-{}", r.name), r.pattern))
        .collect();
    out.push((
        format!("{prefix}-{WATCHDOG}"),
        routing::watchdog(&format!("{prefix}-")),
    ));
    Ok(out)
}

fn valid_prefix(prefix: &str) -> bool {
    (1..=40).contains(&prefix.len())
        && prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Creates (or finds) everything for the default rule pack; see the file comment.
pub async fn init(
    clients: &Clients,
    prefix: &str,
    with_evidence_bucket: bool,
) -> Result<InitOutput, InitError> {
    let rules = RuleSet::default_pack().map_err(|e| InitError::Routing(e.to_string()))?;
    init_for(clients, prefix, with_evidence_bucket, &rules).await
}

/// Creates (or finds) everything, routing what `rules` can match; see the file comment.
pub async fn init_for(
    clients: &Clients,
    prefix: &str,
    with_evidence_bucket: bool,
    rules: &RuleSet,
) -> Result<InitOutput, InitError> {
    let catalog = Catalog::builtin().map_err(|e| InitError::Routing(e.to_string()))?;
    let patterns = rule_patterns(prefix, rules, &catalog)?;
    if !valid_prefix(prefix) {
        return Err(InitError::Prefix {
            prefix: prefix.to_owned(),
        });
    }
    let admitted = admitted_principals(&caller_arn(clients).await?, &rules.break_glass);
    let (dlq_url, dlq_arn) = fifo_queue(clients, &format!("{prefix}-events-dlq.fifo")).await?;
    let (queue_url, queue_arn) = fifo_queue(clients, &format!("{prefix}-events.fifo")).await?;
    let (intake_url, intake_arn) = fifo_queue(clients, &format!("{prefix}-intake.fifo")).await?;
    let topic_arn = topic(clients, &format!("{prefix}-alerts")).await?;
    let tables = table_definitions(prefix);
    for t in &tables {
        table(clients, t).await?;
    }
    let mut bucket_name = None;
    if with_evidence_bucket {
        // arn:PARTITION:sqs:REGION:ACCOUNT:NAME
        let mut parts = queue_arn.split(':').skip(3);
        let (region, account) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let name = format!(
            "{}-evidence-{account}-{region}",
            prefix.to_ascii_lowercase()
        )
        .replace('_', "-");
        // Amazon S3 User Guide, "General purpose bucket naming rules": 3 to 63 characters.
        if name.len() > 63 {
            return Err(InitError::BucketName { name });
        }
        bucket(clients, &name, region).await?;
        bucket_name = Some(name);
    }
    let mut rule_arns = Vec::new();
    for (name, pattern) in patterns {
        let req = clients
            .events
            .put_rule()
            .name(&name)
            .description(format!(
                "Warden: CloudTrail events its rules can match, to {prefix}-intake.fifo"
            ))
            .event_pattern(pattern.to_string())
            .state(aws_sdk_eventbridge::types::RuleState::Enabled);
        let out = clients
            .caller
            .call("events", "PutRule", || req.clone().send())
            .await?;
        let arn = out.value.rule_arn.ok_or_else(|| InitError::Missing {
            what: format!("PutRule `{name}`"),
            field: "RuleArn",
        })?;
        rule_arns.push((name, arn));
    }
    // Before the targets: EventBridge checks nothing, but a send without the policy is dropped.
    queue_policy(
        clients,
        &intake_url,
        &intake_arn,
        &dlq_arn,
        &admitted,
        Some(&rule_arns),
    )
    .await?;
    // The work queue: only Warden sends to it (an earlier init's EventBridge grant goes).
    queue_policy(clients, &queue_url, &queue_arn, &dlq_arn, &admitted, None).await?;
    for (name, _) in &rule_arns {
        // The same target id as when the rules delivered to the work queue: re-pointed in place.
        let target = aws_sdk_eventbridge::types::Target::builder()
            .id("warden-queue")
            .arn(&intake_arn)
            .sqs_parameters(
                aws_sdk_eventbridge::types::SqsParameters::builder()
                    .message_group_id(MESSAGE_GROUP_ID)
                    .build(),
            )
            .build()?;
        let req = clients.events.put_targets().rule(name).targets(target);
        let out = clients
            .caller
            .call("events", "PutTargets", || req.clone().send())
            .await?;
        if let Some(failed) = out.value.failed_entries().first() {
            return Err(InitError::Target {
                rule: name.clone(),
                message: failed
                    .error_message()
                    .unwrap_or("no reason given")
                    .to_owned(),
            });
        }
    }

    let mut vars = vec![
        ("WARDEN_QUEUE_URL", queue_url),
        ("WARDEN_INTAKE_QUEUE_URL", intake_url),
        ("WARDEN_DLQ_URL", dlq_url),
        ("WARDEN_ALERT_TOPIC_ARN", topic_arn),
    ];
    for t in tables {
        vars.push((t.env, t.name));
    }
    if let Some(b) = bucket_name {
        vars.push(("WARDEN_EVIDENCE_BUCKET", b));
    }
    vars.push(("WARDEN_RULE_PREFIX", prefix.to_owned()));
    Ok(InitOutput { vars, admitted })
}

/// A FIFO queue with content-based deduplication: `(url, arn)`. `CreateQueue` returns the existing
/// queue when the attributes given match, so only those two are given here; the rest is set after.
async fn fifo_queue(clients: &Clients, name: &str) -> Result<(String, String), InitError> {
    let req = clients
        .sqs
        .create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::FifoQueue, "true")
        .attributes(QueueAttributeName::ContentBasedDeduplication, "true");
    let url = clients
        .caller
        .call("sqs", "CreateQueue", || req.clone().send())
        .await?
        .value
        .queue_url
        .ok_or_else(|| InitError::Missing {
            what: format!("CreateQueue `{name}`"),
            field: "QueueUrl",
        })?;
    let req = clients
        .sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn);
    let arn = clients
        .caller
        .call("sqs", "GetQueueAttributes", || req.clone().send())
        .await?
        .value
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .ok_or_else(|| InitError::Missing {
            what: format!("GetQueueAttributes `{name}`"),
            field: "QueueArn",
        })?;
    let req = clients
        .sqs
        .set_queue_attributes()
        .queue_url(&url)
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            VISIBILITY_TIMEOUT_SECONDS.to_string(),
        )
        .attributes(
            QueueAttributeName::MessageRetentionPeriod,
            RETENTION_SECONDS.to_string(),
        )
        // Encrypted at rest with SQS-owned keys.
        .attributes(QueueAttributeName::SqsManagedSseEnabled, "true");
    clients
        .caller
        .call("sqs", "SetQueueAttributes", || req.clone().send())
        .await?;
    Ok((url, arn))
}

/// The ARN of the principal running init (STS `GetCallerIdentity`, which needs no permission).
async fn caller_arn(clients: &Clients) -> Result<String, InitError> {
    let sts = clients.sts.clone();
    clients
        .caller
        .call("sts", "GetCallerIdentity", || {
            sts.get_caller_identity().send()
        })
        .await?
        .value
        .arn
        .ok_or(InitError::Missing {
            what: "GetCallerIdentity".to_owned(),
            field: "Arn",
        })
}

/// The `aws:PrincipalArn` patterns the queues admit: Warden's own principal (init's caller) and
/// the break-glass principals given as exact ARNs. A session of a role is its role at any path
/// (`aws:PrincipalArn` is the role's ARN with its path, which the session's ARN does not carry;
/// a role name is unique in its account whatever the path, so `role/*/NAME` names that one
/// role). A break-glass pattern with a wildcard is left out: IAM's `ArnLike` lets `*` cross a
/// `/`, which Warden's own patterns never do, so it would admit look-alikes at other paths.
pub fn admitted_principals(caller_arn: &str, break_glass: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    match policy_rules::arn::Arn::parse(caller_arn) {
        Some(a) if a.service == "sts" && a.resource.starts_with("assumed-role/") => {
            let role = a
                .resource
                .trim_start_matches("assumed-role/")
                .split('/')
                .next()
                .unwrap_or("");
            let base = format!("arn:{}:iam::{}:role", a.partition, a.account);
            out.push(format!("{base}/{role}"));
            out.push(format!("{base}/*/{role}"));
        }
        _ => out.push(caller_arn.to_owned()),
    }
    out.extend(
        break_glass
            .iter()
            .filter(|p| !p.contains(['*', '?']))
            .cloned(),
    );
    out
}

/// The queue policy of the intake (`rules`: the EventBridge rules' ARNs) or the work queue
/// (`None`): an Allow for those rules to send, and a Deny of `GUARDED_QUEUE_ACTIONS` to every
/// principal whose ARN is not `admitted`, unless (on the intake queue) the request comes from one
/// of the rules (`aws:SourceArn`, which EventBridge sets and no caller can).
pub fn queue_policy_document(
    queue_arn: &str,
    admitted: &[String],
    rules: Option<&[String]>,
) -> serde_json::Value {
    let mut statements = Vec::new();
    let mut unless = serde_json::Map::new();
    unless.insert(
        "ArnNotLike".to_owned(),
        json!({ "aws:PrincipalArn": admitted }),
    );
    if let Some(arns) = rules {
        statements.push(json!({
            "Sid": "WardenRulesSend",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": arns}},
        }));
        unless.insert("ArnNotEquals".to_owned(), json!({ "aws:SourceArn": arns }));
    }
    statements.push(json!({
        "Sid": "NoOneElseSendsOrTakes",
        "Effect": "Deny",
        "Principal": "*",
        "Action": GUARDED_QUEUE_ACTIONS,
        "Resource": queue_arn,
        "Condition": unless,
    }));
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// The redrive policy and the queue policy (`queue_policy_document`).
async fn queue_policy(
    clients: &Clients,
    queue_url: &str,
    queue_arn: &str,
    dlq_arn: &str,
    admitted: &[String],
    rules: Option<&[(String, String)]>,
) -> Result<(), InitError> {
    let redrive = json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT});
    let arns: Option<Vec<String>> = rules.map(|r| r.iter().map(|(_, a)| a.clone()).collect());
    let policy = queue_policy_document(queue_arn, admitted, arns.as_deref()).to_string();
    let req = clients
        .sqs
        .set_queue_attributes()
        .queue_url(queue_url)
        .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
        .attributes(QueueAttributeName::Policy, policy);
    clients
        .caller
        .call("sqs", "SetQueueAttributes", || req.clone().send())
        .await?;
    Ok(())
}

/// `CreateTopic` returns the existing topic's ARN.
async fn topic(clients: &Clients, name: &str) -> Result<String, InitError> {
    let req = clients.sns.create_topic().name(name);
    clients
        .caller
        .call("sns", "CreateTopic", || req.clone().send())
        .await?
        .value
        .topic_arn
        .ok_or_else(|| InitError::Missing {
            what: format!("CreateTopic `{name}`"),
            field: "TopicArn",
        })
}

fn scalar(t: KeyType) -> ScalarAttributeType {
    match t {
        KeyType::String => ScalarAttributeType::S,
        KeyType::Number => ScalarAttributeType::N,
    }
}

fn key_schema(
    hash: (&str, KeyType),
    range: Option<(&str, KeyType)>,
) -> Result<Vec<KeySchemaElement>, BuildError> {
    let mut out = vec![KeySchemaElement::builder()
        .attribute_name(hash.0)
        .key_type(DynKey::Hash)
        .build()?];
    if let Some((name, _)) = range {
        out.push(
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(DynKey::Range)
                .build()?,
        );
    }
    Ok(out)
}

/// Creates the table unless it exists, waits until it is active, and turns its TTL on.
async fn table(clients: &Clients, t: &TableDefinition) -> Result<(), InitError> {
    let describe = clients.dynamodb.describe_table().table_name(&t.name);
    let existing = match clients
        .caller
        .call("dynamodb", "DescribeTable", || describe.clone().send())
        .await
    {
        Ok(out) => out.value.table,
        Err(e) if e.is_not_found() => None,
        Err(e) => return Err(e.into()),
    };
    if existing.is_none() {
        let mut attrs: Vec<(&str, KeyType)> = vec![t.hash_key];
        attrs.extend(t.range_key);
        for i in &t.indexes {
            attrs.push(i.hash_key);
            attrs.extend(i.range_key);
        }
        attrs.sort_by_key(|(n, _)| *n);
        attrs.dedup_by_key(|(n, _)| *n);
        let mut req = clients
            .dynamodb
            .create_table()
            .table_name(&t.name)
            .billing_mode(BillingMode::PayPerRequest)
            .set_key_schema(Some(key_schema(t.hash_key, t.range_key)?));
        for (name, kind) in attrs {
            req = req.attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(name)
                    .attribute_type(scalar(kind))
                    .build()?,
            );
        }
        for i in &t.indexes {
            req = req.global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(i.name)
                    .set_key_schema(Some(key_schema(i.hash_key, i.range_key)?))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::All)
                            .build(),
                    )
                    .build()?,
            );
        }
        match clients
            .caller
            .call("dynamodb", "CreateTable", || req.clone().send())
            .await
        {
            Ok(_) => {}
            // Another init created it meanwhile.
            Err(e) if e.code.as_deref() == Some("ResourceInUseException") => {}
            Err(e) => return Err(e.into()),
        }
    }
    // A new table is CREATING for some seconds; TTL can only be set on an active one.
    let mut status = String::new();
    for _ in 0..60 {
        let out = clients
            .caller
            .call("dynamodb", "DescribeTable", || describe.clone().send())
            .await?;
        let s = out.value.table.and_then(|t| t.table_status);
        if s == Some(TableStatus::Active) {
            status.clear();
            break;
        }
        status = s.map_or_else(|| "unknown".to_owned(), |s| s.as_str().to_owned());
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    if !status.is_empty() {
        return Err(InitError::NotActive {
            table: t.name.clone(),
            status,
            seconds: 60,
        });
    }
    if let Some(attr) = t.ttl_attribute {
        let req = clients.dynamodb.describe_time_to_live().table_name(&t.name);
        let ttl = clients
            .caller
            .call("dynamodb", "DescribeTimeToLive", || req.clone().send())
            .await?
            .value
            .time_to_live_description;
        let on = ttl.as_ref().is_some_and(|d| {
            matches!(
                d.time_to_live_status,
                Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
            ) && d.attribute_name.as_deref() == Some(attr)
        });
        if !on {
            let req = clients
                .dynamodb
                .update_time_to_live()
                .table_name(&t.name)
                .time_to_live_specification(
                    TimeToLiveSpecification::builder()
                        .attribute_name(attr)
                        .enabled(true)
                        .build()?,
                );
            clients
                .caller
                .call("dynamodb", "UpdateTimeToLive", || req.clone().send())
                .await?;
        }
    }
    Ok(())
}

/// The evidence bucket: Object Lock on (which turns versioning on), public access blocked.
async fn bucket(clients: &Clients, name: &str, region: &str) -> Result<(), InitError> {
    let head = clients.s3.head_bucket().bucket(name);
    let exists = match clients
        .caller
        .call("s3", "HeadBucket", || head.clone().send())
        .await
    {
        Ok(_) => true,
        Err(e) if e.is_not_found() => false,
        Err(e) => return Err(e.into()),
    };
    if !exists {
        let mut req = clients
            .s3
            .create_bucket()
            .bucket(name)
            .object_lock_enabled_for_bucket(true);
        // us-east-1 takes no location constraint (Amazon S3 API Reference, "CreateBucket").
        if region != "us-east-1" {
            req = req.create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(region))
                    .build(),
            );
        }
        match clients
            .caller
            .call("s3", "CreateBucket", || req.clone().send())
            .await
        {
            Ok(_) => {}
            Err(e) if e.code.as_deref() == Some("BucketAlreadyOwnedByYou") => {}
            Err(e) => return Err(e.into()),
        }
    }
    let block = aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
        .block_public_acls(true)
        .ignore_public_acls(true)
        .block_public_policy(true)
        .restrict_public_buckets(true)
        .build();
    let req = clients
        .s3
        .put_public_access_block()
        .bucket(name)
        .public_access_block_configuration(block);
    clients
        .caller
        .call("s3", "PutPublicAccessBlock", || req.clone().send())
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_quote_only_what_needs_it() {
        let out = InitOutput {
            vars: vec![
                (
                    "WARDEN_QUEUE_URL",
                    "https://sqs.us-east-1.amazonaws.com/1/w-events.fifo".into(),
                ),
                ("X", "it's a b".into()),
                ("Y", String::new()),
            ],
            admitted: Vec::new(),
        };
        assert_eq!(
            out.to_exports(),
            "export WARDEN_QUEUE_URL=https://sqs.us-east-1.amazonaws.com/1/w-events.fifo\n\
             export X='it'\\''s a b'\n\
             export Y=''\n"
        );
    }

    #[test]
    fn prefixes_are_checked() {
        assert!(valid_prefix("warden-prod_1"));
        assert!(!valid_prefix(""));
        assert!(!valid_prefix("a b"));
        assert!(!valid_prefix(&"a".repeat(41)));
    }

    #[test]
    fn the_rules_are_the_routes_and_the_watchdog() {
        let rules = RuleSet::default_pack().unwrap();
        let catalog = Catalog::builtin().unwrap();
        let patterns = rule_patterns("warden", &rules, &catalog).unwrap();
        assert_eq!(
            patterns.len(),
            routing::routing(&rules, &catalog).routes.len() + 1
        );
        assert!(patterns.iter().any(|(n, _)| n == "warden-iam-1"));
        let (name, watchdog) = patterns.last().unwrap();
        assert_eq!(name, "warden-watchdog");
        assert_eq!(
            watchdog["detail"]["$or"][0]["requestParameters"]["name"][0]["prefix"],
            "warden-"
        );
        assert!(patterns
            .iter()
            .all(|(_, p)| p["detail-type"][0] == DETAIL_TYPE));
    }

    /// The queue policy Warden's evaluator answers for: `who` asking `action` on `queue`, with
    /// identity policy `identity` (if any) and the request's `aws:SourceArn` (if any).
    fn queue_answer(
        policy: &serde_json::Value,
        who: &str,
        identity: Option<&str>,
        action: &str,
        queue: &str,
        source: Option<&str>,
    ) -> policy_rules::evaluate::Answer {
        use policy_rules::evaluate::{evaluate, Policies, Request, RequestContext};
        use policy_rules::policy::PolicyDocument;
        let mut ctx = RequestContext::complete();
        if who.starts_with("arn:") {
            ctx = ctx.with("aws:PrincipalArn", &[who]);
        }
        if let Some(s) = source {
            ctx = ctx.with("aws:SourceArn", &[s]);
        }
        let resource = PolicyDocument::parse(&policy.to_string()).unwrap();
        let identity: Vec<PolicyDocument> = identity
            .map(|d| PolicyDocument::parse(d).unwrap())
            .into_iter()
            .collect();
        let named: Vec<(&str, &PolicyDocument)> = identity.iter().map(|d| ("id", d)).collect();
        evaluate(
            &Request {
                principal_arn: who,
                principal_account: "111122223333",
                action,
                resource: queue,
                context: &ctx,
                ..Default::default()
            },
            &Policies {
                identity: &named,
                resource: Some(("queue", &resource)),
                ..Default::default()
            },
        )
        .answer
    }

    #[test]
    fn the_queues_admit_warden_its_rules_and_break_glass_and_deny_everyone_else() {
        use policy_rules::evaluate::Answer;
        let admitted = admitted_principals(
            "arn:aws:sts::111122223333:assumed-role/warden-fn/worker",
            &[
                "arn:aws:iam::111122223333:role/oncall/break-glass".to_owned(),
                "arn:aws:iam::111122223333:role/oncall-*".to_owned(),
            ],
        );
        assert_eq!(
            admitted,
            [
                "arn:aws:iam::111122223333:role/warden-fn",
                "arn:aws:iam::111122223333:role/*/warden-fn",
                "arn:aws:iam::111122223333:role/oncall/break-glass",
            ],
            "a session is its role at any path; a wildcard break-glass pattern is left out"
        );
        let intake = "arn:aws:sqs:us-east-1:111122223333:w-intake.fifo";
        let work = "arn:aws:sqs:us-east-1:111122223333:w-events.fifo";
        let rule = "arn:aws:events:us-east-1:111122223333:rule/w-iam-1";
        let other_rule = "arn:aws:events:us-east-1:111122223333:rule/mallorys-rule";
        let intake_policy = queue_policy_document(intake, &admitted, Some(&[rule.to_owned()]));
        let work_policy = queue_policy_document(work, &admitted, None);
        let sqs_all = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:*","Resource":"*"}]}"#;
        let mallory = "arn:aws:iam::111122223333:user/mallory";
        let warden = "arn:aws:iam::111122223333:role/warden/warden-fn";
        let glass = "arn:aws:iam::111122223333:role/oncall/break-glass";
        let look_alike = "arn:aws:iam::111122223333:role/oncall-x";
        for (policy, queue) in [(&intake_policy, intake), (&work_policy, work)] {
            for action in GUARDED_QUEUE_ACTIONS {
                assert_eq!(
                    queue_answer(policy, mallory, Some(sqs_all), action, queue, None),
                    Answer::ExplicitDeny,
                    "{action} on {queue} by a principal allowed sqs:* on *"
                );
                assert_eq!(
                    queue_answer(policy, look_alike, Some(sqs_all), action, queue, None),
                    Answer::ExplicitDeny,
                    "{action} on {queue} by a look-alike of a break-glass pattern"
                );
                for who in [warden, glass] {
                    assert_eq!(
                        queue_answer(policy, who, Some(sqs_all), action, queue, None),
                        Answer::Allow,
                        "{action} on {queue} by {who}"
                    );
                }
            }
            // Reading the queue's attributes is not guarded (the alarms and operators read them).
            assert_eq!(
                queue_answer(
                    policy,
                    mallory,
                    Some(sqs_all),
                    "sqs:GetQueueAttributes",
                    queue,
                    None
                ),
                Answer::Allow
            );
        }
        let events = "events.amazonaws.com";
        let send = "sqs:SendMessage";
        assert_eq!(
            queue_answer(&intake_policy, events, None, send, intake, Some(rule)),
            Answer::Allow,
            "Warden's rule delivers to the intake queue"
        );
        assert_eq!(
            queue_answer(&intake_policy, events, None, send, intake, Some(other_rule)),
            Answer::ExplicitDeny,
            "another rule (one that matches events anyone can put) does not"
        );
        assert_eq!(
            queue_answer(&work_policy, events, None, send, work, Some(rule)),
            Answer::ExplicitDeny,
            "no rule delivers to the work queue"
        );
    }
}
