//! The CloudTrail event history adapter (`stores::event_history`) against recorded `LookupEvents`
//! answers (`aws-smithy-mocks`; the local AWS does not implement `LookupEvents`): one event source
//! per request (`LookupAttributes` `EventSource`), the window as `StartTime`/`EndTime`, pages
//! followed by `NextToken`, `ThrottlingException` retried, every request paced, and each region
//! asked at its own endpoint under its own pace.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use aws_sdk_cloudtrail::types::LookupAttributeKey;
use aws_sdk_cloudtrail::Client;
use aws_smithy_mocks::{create_mock_http_client, mock, MockResponseInterceptor, Rule, RuleMode};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::DateTime;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use warden_handler::aws::{Clients, RateLimits, RetryPolicy};
use warden_handler::enforce::history::EventHistory;
use warden_handler::stores::event_history::CloudTrailHistory;

const START: i64 = 1_800_000_000;
const END: i64 = START + 3600;

fn clients(rules: &[&Rule]) -> Clients {
    clients_with(rules, None)
}

/// The URI of every request sent (its host names the region's endpoint).
#[derive(Debug, Clone, Default)]
struct Sent(Arc<Mutex<Vec<String>>>);

impl Intercept for Sent {
    fn name(&self) -> &'static str {
        "sent"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0
            .lock()
            .unwrap()
            .push(context.request().uri().to_owned());
        Ok(())
    }
}

fn clients_with(rules: &[&Rule], sent: Option<Sent>) -> Clients {
    let conf = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .build();
    let retry = RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(4),
    };
    let mut clients = Clients::from_conf(&conf, &RateLimits::default(), retry);
    let interceptor = rules.iter().fold(
        MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny),
        |i, r| i.with_rule(r),
    );
    clients.cloudtrail = Client::from_conf(
        aws_sdk_cloudtrail::Config::builder()
            .behavior_version(aws_sdk_cloudtrail::config::BehaviorVersion::latest())
            .region(aws_sdk_cloudtrail::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_cloudtrail::config::Credentials::new(
                "AKIDTEST", "secret", None, None, "test",
            ))
            .retry_config(aws_sdk_cloudtrail::config::retry::RetryConfig::disabled())
            .http_client(create_mock_http_client())
            .interceptor(interceptor)
            .interceptor(sent.unwrap_or_default())
            .build(),
    );
    clients
}

/// A CloudTrail (awsJson1_1) answer, as AWS sends it.
fn answer(status: u16, body: serde_json::Value) -> HttpResponse {
    let mut r = HttpResponse::new(
        StatusCode::try_from(status).unwrap(),
        SdkBody::from(body.to_string()),
    );
    r.headers_mut()
        .insert("content-type", "application/x-amz-json-1.1");
    r.headers_mut()
        .insert("x-amzn-RequestId", "9a3c1c7e-0000-4000-8000-000000000000");
    r
}

/// One recorded `Events` entry: the record is a JSON string in `CloudTrailEvent`.
fn recorded(id: &str, name: &str, seconds: i64) -> serde_json::Value {
    let time = chrono::DateTime::from_timestamp(seconds, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let record = json!({
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/mallory", "accountId": "123456789012", "userName": "mallory"},
        "eventTime": time, "eventSource": "iam.amazonaws.com", "eventName": name,
        "awsRegion": "us-east-1", "eventID": id, "readOnly": false, "eventType": "AwsApiCall",
        "managementEvent": true, "recipientAccountId": "123456789012", "eventCategory": "Management",
        "requestParameters": {"roleName": "app-deploy", "policyName": "escalate"},
    });
    json!({
        "EventId": id, "EventName": name, "ReadOnly": "false", "AccessKeyId": "AKIAEXAMPLE",
        "EventTime": seconds as f64, "EventSource": "iam.amazonaws.com", "Username": "mallory",
        "Resources": [{"ResourceType": "AWS::IAM::Role", "ResourceName": "app-deploy"}],
        "CloudTrailEvent": record.to_string(),
    })
}

fn asks_for_iam_in_the_window(
    r: &aws_sdk_cloudtrail::operation::lookup_events::LookupEventsInput,
) -> bool {
    let attrs = r.lookup_attributes();
    attrs.len() == 1
        && attrs[0].attribute_key() == &LookupAttributeKey::EventSource
        && attrs[0].attribute_value() == "iam.amazonaws.com"
        && r.start_time() == Some(&DateTime::from_secs(START))
        && r.end_time() == Some(&DateTime::from_secs(END))
        && r.max_results() == Some(50)
}

#[tokio::test]
async fn pages_are_followed_by_next_token_for_one_source_and_window() {
    let first = mock!(Client::lookup_events)
        .match_requests(|r| asks_for_iam_in_the_window(r) && r.next_token().is_none())
        .then_http_response(|| {
            answer(
                200,
                json!({"Events": [recorded("e-3", "PutRolePolicy", START + 300), recorded("e-2", "GetRole", START + 200)], "NextToken": "page-2"}),
            )
        });
    let second = mock!(Client::lookup_events)
        .match_requests(|r| asks_for_iam_in_the_window(r) && r.next_token() == Some("page-2"))
        .then_http_response(|| {
            answer(
                200,
                json!({"Events": [recorded("e-1", "PutRolePolicy", START + 100)]}),
            )
        });
    let history =
        CloudTrailHistory::with_interval(clients(&[&first, &second]), Duration::from_millis(1));
    let got = history
        .lookup("us-east-1", "iam.amazonaws.com", START, END)
        .await
        .unwrap();
    assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
    assert_eq!(got.requests, 2);
    let ids: Vec<&str> = got.events.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(ids, ["e-3", "e-2", "e-1"]);
    let e = &got.events[0];
    assert_eq!(e.time, "2027-01-15T08:05:00Z");
    assert_eq!(
        (e.source.as_str(), e.name.as_str()),
        ("iam.amazonaws.com", "PutRolePolicy")
    );
    let record: serde_json::Value = serde_json::from_str(&e.raw).unwrap();
    assert_eq!(record["eventID"], "e-3");
    assert_eq!(record["requestParameters"]["roleName"], "app-deploy");
}

#[tokio::test]
async fn throttling_is_retried_and_every_attempt_is_paced() {
    let throttled = || {
        answer(
            400,
            json!({"__type": "ThrottlingException", "message": "Rate exceeded"}),
        )
    };
    let rule = mock!(Client::lookup_events)
        .match_requests(asks_for_iam_in_the_window)
        .sequence()
        .http_response(throttled)
        .times(2)
        .http_response(|| answer(200, json!({"Events": [recorded("e-1", "PutRolePolicy", START + 100)], "NextToken": "p2"})))
        .http_response(|| answer(200, json!({"Events": []})))
        .build();
    let interval = Duration::from_millis(150);
    let history = CloudTrailHistory::with_interval(clients(&[&rule]), interval);
    let started = Instant::now();
    let got = history
        .lookup("us-east-1", "iam.amazonaws.com", START, END)
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(
        rule.num_calls(),
        4,
        "two throttled attempts, then two pages"
    );
    assert_eq!(got.requests, 4);
    assert_eq!(got.events.len(), 1);
    // Four requests, each after the limiter: at least three intervals apart in all.
    assert!(took >= interval * 3, "{took:?}");
    assert!(history.pacing().contains("150 ms"), "{}", history.pacing());
}

#[tokio::test]
async fn throttling_that_does_not_stop_is_an_error_that_can_be_retried() {
    let rule = mock!(Client::lookup_events)
        .sequence()
        .http_response(|| {
            answer(
                400,
                json!({"__type": "ThrottlingException", "message": "Rate exceeded"}),
            )
        })
        .repeatedly()
        .build();
    let history = CloudTrailHistory::with_interval(clients(&[&rule]), Duration::from_millis(1));
    let err = history
        .lookup("us-east-1", "iam.amazonaws.com", START, END)
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert_eq!(err.code.as_deref(), Some("ThrottlingException"));
    assert_eq!(err.attempts, 4);
}

#[tokio::test]
async fn each_region_is_asked_at_its_own_endpoint_and_paced_on_its_own() {
    let rule = mock!(Client::lookup_events)
        .match_requests(|r| r.next_token().is_none())
        .sequence()
        .http_response(|| answer(200, json!({"Events": []})))
        .repeatedly()
        .build();
    let sent = Sent::default();
    let interval = Duration::from_millis(300);
    let history =
        CloudTrailHistory::with_interval(clients_with(&[&rule], Some(sent.clone())), interval);
    // The main region's client is the configured one; another region's is built with its region.
    assert_eq!(
        history
            .client_for("eu-west-1")
            .config()
            .region()
            .map(|r| r.as_ref()),
        Some("eu-west-1")
    );
    assert_eq!(
        history
            .client_for("us-east-1")
            .config()
            .region()
            .map(|r| r.as_ref()),
        Some("us-east-1")
    );
    let started = Instant::now();
    for region in ["us-east-1", "eu-west-1", "us-east-1", "eu-west-1"] {
        let got = history
            .lookup(region, "s3.amazonaws.com", START, END)
            .await
            .unwrap();
        assert_eq!(got.requests, 1);
    }
    let took = started.elapsed();
    assert_eq!(rule.num_calls(), 4);
    let hosts: Vec<String> = sent
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|u| u.split('/').nth(2).unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        hosts,
        [
            "cloudtrail.us-east-1.amazonaws.com",
            "cloudtrail.eu-west-1.amazonaws.com",
            "cloudtrail.us-east-1.amazonaws.com",
            "cloudtrail.eu-west-1.amazonaws.com",
        ]
    );
    // Two requests in each region: each region's second waits one interval for its own limiter,
    // not for the other region's (one limiter for both would take three intervals).
    assert!(took >= interval, "{took:?}");
    assert!(took < interval * 3, "{took:?}");
    assert!(
        history.pacing().contains("in each region"),
        "{}",
        history.pacing()
    );
}
