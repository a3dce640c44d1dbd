//! A trail's settings and event selectors as the account model keeps them (the names CloudTrail
//! events use: `s3BucketName`, `eventSelectors`, …), read for the sweep. Warden never writes them
//! (its role is denied every call that changes a trail but `StartLogging`); the planner turns the
//! earlier settings into the exact commands a person runs after `DeleteTrail`, `UpdateTrail` or
//! `PutEventSelectors`.
//!
//! API calls: [`selectors`] 1 (GetEventSelectors); [`settings`] none (from `DescribeTrails`).

use crate::aws::{AwsError, Clients};
use aws_sdk_cloudtrail::types::{
    AdvancedEventSelector, AdvancedFieldSelector, EventSelector, Trail,
};
use serde_json::{json, Map, Value};

/// The settings of a trail `DescribeTrails` listed.
pub fn settings(t: &Trail) -> Value {
    let mut out = Map::new();
    let mut text = |k: &str, v: Option<&str>| {
        if let Some(v) = v {
            out.insert(k.to_owned(), json!(v));
        }
    };
    text("s3BucketName", t.s3_bucket_name());
    text("s3KeyPrefix", t.s3_key_prefix());
    // `UpdateTrail`'s `snsTopicName` takes the topic's name or ARN; `DescribeTrails` gives the ARN.
    text("snsTopicName", t.sns_topic_arn());
    text(
        "cloudWatchLogsLogGroupArn",
        t.cloud_watch_logs_log_group_arn(),
    );
    text("cloudWatchLogsRoleArn", t.cloud_watch_logs_role_arn());
    text("kmsKeyId", t.kms_key_id());
    for (k, v) in [
        (
            "includeGlobalServiceEvents",
            t.include_global_service_events,
        ),
        ("isMultiRegionTrail", t.is_multi_region_trail),
        ("enableLogFileValidation", t.log_file_validation_enabled),
        ("isOrganizationTrail", t.is_organization_trail),
    ] {
        if let Some(v) = v {
            out.insert(k.to_owned(), json!(v));
        }
    }
    Value::Object(out)
}

/// The trail's event selectors: `{"eventSelectors": […]}` or `{"advancedEventSelectors": […]}`.
pub async fn selectors(c: &Clients, trail: &str) -> Result<Value, AwsError> {
    let out = c
        .caller
        .call("cloudtrail", "GetEventSelectors", || {
            c.cloudtrail.get_event_selectors().trail_name(trail).send()
        })
        .await?
        .value;
    Ok(match out.advanced_event_selectors {
        Some(a) if !a.is_empty() => {
            json!({"advancedEventSelectors": a.iter().map(advanced).collect::<Vec<_>>()})
        }
        _ => json!({"eventSelectors": out.event_selectors().iter().map(basic).collect::<Vec<_>>()}),
    })
}

fn basic(s: &EventSelector) -> Value {
    let mut out = Map::new();
    if let Some(rw) = s.read_write_type() {
        out.insert("readWriteType".into(), json!(rw.as_str()));
    }
    if let Some(m) = s.include_management_events {
        out.insert("includeManagementEvents".into(), json!(m));
    }
    let data: Vec<Value> = s
        .data_resources()
        .iter()
        .map(|d| json!({"type": d.r#type(), "values": d.values()}))
        .collect();
    out.insert("dataResources".into(), json!(data));
    let excluded = s.exclude_management_event_sources();
    if !excluded.is_empty() {
        out.insert("excludeManagementEventSources".into(), json!(excluded));
    }
    Value::Object(out)
}

fn advanced(s: &AdvancedEventSelector) -> Value {
    let fields: Vec<Value> = s.field_selectors().iter().map(field).collect();
    let mut out = Map::new();
    if let Some(n) = s.name() {
        out.insert("name".into(), json!(n));
    }
    out.insert("fieldSelectors".into(), json!(fields));
    Value::Object(out)
}

fn field(f: &AdvancedFieldSelector) -> Value {
    let mut out = Map::new();
    out.insert("field".into(), json!(f.field()));
    for (k, v) in [
        ("equals", f.equals()),
        ("startsWith", f.starts_with()),
        ("endsWith", f.ends_with()),
        ("notEquals", f.not_equals()),
        ("notStartsWith", f.not_starts_with()),
        ("notEndsWith", f.not_ends_with()),
    ] {
        if !v.is_empty() {
            out.insert(k.into(), json!(v));
        }
    }
    Value::Object(out)
}
