//! The client layer's error paths the local AWS cannot produce (throttling, 5xx, `LimitExceeded`,
//! `MalformedPolicyDocument`), with `aws-smithy-mocks`: the SDK deserialises IAM's real error
//! bodies (awsQuery XML) and `Caller` retries what can be retried, stops on what cannot, counts
//! attempts and keeps the request id.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use aws_sdk_iam::Client;
use aws_smithy_mocks::{create_mock_http_client, mock, MockResponseInterceptor, Rule, RuleMode};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use std::time::Duration;
use warden_handler::aws::{AwsError, Called, Caller, ErrorClass, RateLimits, RetryPolicy};

fn retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(4),
    }
}

/// An IAM (awsQuery) answer with its request id header, as AWS sends it.
fn answer(status: u16, body: String, request_id: &str) -> HttpResponse {
    let mut r = HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::from(body));
    r.headers_mut()
        .insert("x-amzn-RequestId", request_id.to_owned());
    r.headers_mut().insert("content-type", "text/xml");
    r
}

fn error(status: u16, code: &str, request_id: &str) -> HttpResponse {
    answer(
        status,
        format!(
            r#"<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>{code}</Code><Message>{code} happened</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"#
        ),
        request_id,
    )
}

fn ok(request_id: &str) -> HttpResponse {
    answer(
        200,
        format!(
            r#"<PutUserPolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></PutUserPolicyResponse>"#
        ),
        request_id,
    )
}

fn client(rule: &Rule) -> Client {
    let interceptor = MockResponseInterceptor::new()
        .rule_mode(RuleMode::MatchAny)
        .with_rule(rule);
    let conf = aws_sdk_iam::Config::builder()
        .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
        .region(aws_sdk_iam::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_iam::config::Credentials::new(
            "AKIDTEST", "secret", None, None, "test",
        ))
        .retry_config(aws_sdk_iam::config::retry::RetryConfig::disabled())
        .http_client(create_mock_http_client())
        .interceptor(interceptor)
        .build();
    Client::from_conf(conf)
}

async fn put(
    iam: &Client,
) -> Result<Called<aws_sdk_iam::operation::put_user_policy::PutUserPolicyOutput>, AwsError> {
    let caller = Caller::new(&RateLimits::default(), retry());
    caller
        .call("iam", "PutUserPolicy", || {
            iam.put_user_policy()
                .user_name("bob")
                .policy_name("WardenDeny")
                .policy_document("{}")
                .send()
        })
        .await
}

#[tokio::test]
async fn throttling_is_retried_then_succeeds() {
    let rule = mock!(Client::put_user_policy)
        .sequence()
        .http_response(|| error(400, "Throttling", "req-throttled"))
        .times(2)
        .http_response(|| ok("req-ok"))
        .build();
    let iam = client(&rule);
    let called = put(&iam).await.unwrap();
    assert_eq!(called.request_id.as_deref(), Some("req-ok"));
    assert_eq!(rule.num_calls(), 3, "two throttled attempts, then success");
}

#[tokio::test]
async fn server_errors_are_retried_until_the_attempts_run_out() {
    let rule = mock!(Client::put_user_policy)
        .sequence()
        .http_response(|| error(500, "ServiceFailure", "req-500"))
        .repeatedly()
        .build();
    let iam = client(&rule);
    let err = put(&iam).await.unwrap_err();
    assert_eq!(err.class, ErrorClass::Retryable);
    assert_eq!(err.status, Some(500));
    assert_eq!(err.attempts, 4);
    assert_eq!(rule.num_calls(), 4);
    assert_eq!(err.request_id.as_deref(), Some("req-500"));

    // A bare 503 without an error body is retried too.
    let rule = mock!(Client::put_user_policy)
        .sequence()
        .http_status(503, None)
        .http_response(|| ok("req-after-503"))
        .build();
    let iam = client(&rule);
    assert_eq!(
        put(&iam).await.unwrap().request_id.as_deref(),
        Some("req-after-503")
    );
    assert_eq!(rule.num_calls(), 2);
}

#[tokio::test]
async fn limit_exceeded_and_malformed_documents_are_permanent() {
    for code in ["LimitExceeded", "MalformedPolicyDocument"] {
        let request_id = format!("req-{code}");
        let rid = request_id.clone();
        let rule = mock!(Client::put_user_policy)
            .sequence()
            .http_response(move || error(400, code, &rid))
            .http_response(|| ok("never"))
            .build();
        let iam = client(&rule);
        let err = put(&iam).await.unwrap_err();
        assert_eq!(err.class, ErrorClass::Permanent, "{code}");
        assert!(!err.is_retryable());
        assert_eq!(err.code.as_deref(), Some(code));
        assert_eq!(err.attempts, 1, "{code} is not retried");
        assert_eq!(rule.num_calls(), 1);
        assert_eq!(err.request_id.as_deref(), Some(request_id.as_str()));
        let shown = err.to_string();
        assert!(
            shown.contains(&format!("`{code}`")) && shown.contains(&request_id),
            "{shown}"
        );
    }
}
