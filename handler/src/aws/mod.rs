//! The one AWS client layer: the SDK clients Warden uses (built once per process), a client-side rate
//! limit per service (`governor`), retries with exponential backoff and full jitter on throttling,
//! 5xx and transport errors, and every failure turned into an [`AwsError`] that says whether retrying
//! can help and keeps the AWS request id for evidence. The SDK's own retries are off, so a call is
//! retried in exactly one place.
//!
//! IAM's control plane throttles with unpublished token-bucket rates ("IAM and AWS STS quotas"); the
//! default limits here stay well under what AWS documents for the other services.

pub mod form;
pub mod https;
pub mod s3_regions;
mod s3control;

use aws_sdk_iam::operation::RequestId;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::collections::BTreeMap;
use std::future::Future;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// The services Warden calls, by the name used in rate-limit configuration.
pub const SERVICES: [&str; 12] = [
    "iam",
    "s3",
    "s3control",
    "sqs",
    "sns",
    "dynamodb",
    "events",
    "sts",
    "cloudtrail",
    "cloudformation",
    "organizations",
    "lambda",
];

/// Error codes AWS uses for throttling, across the services Warden calls.
const THROTTLING_CODES: [&str; 10] = [
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "SlowDown",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceededException",
];

/// Codes that are transient although not throttling.
const TRANSIENT_CODES: [&str; 5] = [
    "InternalError",
    "InternalFailure",
    "ServiceUnavailable",
    "ServiceFailure",
    "TransactionInProgressException",
];

/// Whether retrying can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Throttling, 5xx, timeouts, transport failures.
    Retryable,
    /// Anything else: the request is wrong, or the state does not allow it.
    Permanent,
}

/// A failed AWS call, classified.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{service}:{operation} failed{}: {message}{}", .code.as_ref().map(|c| format!(" with `{c}`")).unwrap_or_default(), .request_id.as_ref().map(|r| format!(" (request id `{r}`)")).unwrap_or_default())]
pub struct AwsError {
    pub service: &'static str,
    pub operation: &'static str,
    pub class: ErrorClass,
    /// The AWS error code (`NoSuchEntity`, `Throttling`, …) when the response had one.
    pub code: Option<String>,
    pub message: String,
    pub status: Option<u16>,
    pub request_id: Option<String>,
    /// How many attempts were made.
    pub attempts: u32,
}

impl AwsError {
    /// A response that came back (one attempt) but does not read as what was asked: permanent.
    pub fn unreadable(
        service: &'static str,
        operation: &'static str,
        message: impl Into<String>,
    ) -> Self {
        AwsError {
            service,
            operation,
            class: ErrorClass::Permanent,
            code: None,
            message: message.into(),
            status: None,
            request_id: None,
            attempts: 1,
        }
    }

    /// A request that could not be built, so none was sent: permanent.
    pub fn unsent(
        service: &'static str,
        operation: &'static str,
        message: impl Into<String>,
    ) -> Self {
        AwsError {
            attempts: 0,
            ..Self::unreadable(service, operation, message)
        }
    }

    pub fn is_retryable(&self) -> bool {
        self.class == ErrorClass::Retryable
    }

    /// The call named something that does not exist (a user, a policy, a bucket's policy).
    pub fn is_not_found(&self) -> bool {
        self.status == Some(404)
            || self.code.as_deref().is_some_and(|c| {
                c.starts_with("NoSuch")
                    || c.ends_with("NotFound")
                    || c.ends_with("NotFoundException")
            })
    }

    /// A conditional write's condition did not hold.
    pub fn is_condition_failed(&self) -> bool {
        self.code.as_deref().is_some_and(|c| {
            c == "ConditionalCheckFailedException" || c == "TransactionCanceledException"
        })
    }

    /// The caller may not make the call (HTTP 403; the code may be missing, as with the emulator).
    pub fn is_access_denied(&self) -> bool {
        self.status == Some(403)
            || self
                .code
                .as_deref()
                .is_some_and(|c| c.contains("AccessDenied"))
    }
}

/// Classifies an SDK error. Throttling codes, HTTP 429 and 5xx, timeouts and transport failures
/// are retryable; everything else is permanent.
pub fn classify<E>(
    service: &'static str,
    operation: &'static str,
    err: &SdkError<E, HttpResponse>,
) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = err.raw_response().map(|r| r.status().as_u16());
    let request_id = err.request_id().map(str::to_owned);
    let (class, code, message) = match err {
        SdkError::ServiceError(se) => {
            let e = se.err();
            let code = e.code().map(str::to_owned);
            let transient = code
                .as_deref()
                .is_some_and(|c| THROTTLING_CODES.contains(&c) || TRANSIENT_CODES.contains(&c))
                || status.is_some_and(|s| s == 429 || s >= 500);
            let message = e
                .message()
                .map(str::to_owned)
                .unwrap_or_else(|| e.to_string());
            (
                if transient {
                    ErrorClass::Retryable
                } else {
                    ErrorClass::Permanent
                },
                code,
                message,
            )
        }
        SdkError::TimeoutError(_) => (ErrorClass::Retryable, None, "timed out".to_owned()),
        SdkError::DispatchFailure(d) => (
            if d.is_user() {
                ErrorClass::Permanent
            } else {
                ErrorClass::Retryable
            },
            None,
            format!(
                "{}",
                aws_smithy_types::error::display::DisplayErrorContext(err)
            ),
        ),
        SdkError::ResponseError(_) => (
            if status.is_some_and(|s| s == 429 || s >= 500) {
                ErrorClass::Retryable
            } else {
                ErrorClass::Permanent
            },
            None,
            format!(
                "{}",
                aws_smithy_types::error::display::DisplayErrorContext(err)
            ),
        ),
        _ => (
            ErrorClass::Permanent,
            None,
            format!(
                "{}",
                aws_smithy_types::error::display::DisplayErrorContext(err)
            ),
        ),
    };
    AwsError {
        service,
        operation,
        class,
        code,
        message,
        status,
        request_id,
        attempts: 1,
    }
}

/// How calls are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// "Full jitter" (AWS Architecture Blog, "Exponential Backoff And Jitter"): a uniformly random
    /// delay between zero and `min(max_delay, base_delay · 2^attempt)`.
    pub fn delay(&self, attempt: u32) -> Duration {
        let cap = self
            .base_delay
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max_delay);
        cap.mul_f64(fastrand::f64())
    }
}

/// Requests per second and burst, per service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimits(pub BTreeMap<String, (u32, u32)>);

impl Default for RateLimits {
    fn default() -> Self {
        // IAM's own limits are unpublished and low; the others are far higher in AWS. One enforced
        // event takes 22 to 24 IAM requests (see the README's enforcement figures): a burst of 30
        // lets a lone event run without waiting, while a stream of them is held to 10 a second.
        let mut m = BTreeMap::new();
        m.insert("iam".to_owned(), (10, 30));
        for s in [
            "s3",
            "s3control",
            "sqs",
            "sns",
            "dynamodb",
            "events",
            "sts",
            "cloudtrail",
            "cloudformation",
            "lambda",
        ] {
            m.insert(s.to_owned(), (50, 50));
        }
        // Organizations' documented limits are low ("Throttling limits", AWS Organizations user
        // guide); a sweep makes a few dozen calls at most.
        m.insert("organizations".to_owned(), (5, 10));
        Self(m)
    }
}

impl RateLimits {
    /// Reads `service=rate[/burst],…` (e.g. `iam=5,s3=20/40`) over the defaults.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut limits = Self::default();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (service, value) = part.split_once('=').ok_or_else(|| {
                format!("`{part}`: expected `service=rate` or `service=rate/burst`")
            })?;
            if !SERVICES.contains(&service) {
                return Err(format!(
                    "`{service}`: not a service Warden calls (one of {})",
                    SERVICES.join(", ")
                ));
            }
            let (rate, burst) = value.split_once('/').unwrap_or((value, value));
            let num = |s: &str| {
                s.trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("`{part}`: `{s}` is not a whole number above zero"))
            };
            limits
                .0
                .insert(service.to_owned(), (num(rate)?, num(burst)?));
        }
        Ok(limits)
    }
}

/// Requests sent, per service and operation; every attempt counts, retries included.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sent(pub BTreeMap<(&'static str, &'static str), u64>);

impl Sent {
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    /// The requests sent since `earlier` (a snapshot of the same counter).
    pub fn since(&self, earlier: &Sent) -> Sent {
        Sent(
            self.0
                .iter()
                .filter_map(|(k, n)| {
                    let d = n.saturating_sub(earlier.0.get(k).copied().unwrap_or(0));
                    (d > 0).then_some((*k, d))
                })
                .collect(),
        )
    }
}

impl std::fmt::Display for Sent {
    /// `iam:PutUserPolicy×2, dynamodb:GetItem×5`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, ((service, operation), n)) in self.0.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            write!(f, "{sep}{service}:{operation}×{n}")?;
        }
        Ok(())
    }
}

tokio::task_local! {
    /// The requests sent by the future [`counting`] runs (one event's), however many run at once.
    static SCOPED_REQUESTS: std::cell::Cell<u64>;
}

/// Runs `f`, counting the AWS requests it sends through any [`Caller`]: exact per event even when
/// several events are handled at once on one task.
pub async fn counting<F: Future>(f: F) -> (F::Output, u64) {
    SCOPED_REQUESTS
        .scope(std::cell::Cell::new(0), async {
            let out = f.await;
            (
                out,
                SCOPED_REQUESTS.try_with(std::cell::Cell::get).unwrap_or(0),
            )
        })
        .await
}

/// Rate limiting and retries around every AWS call, and a count of the requests sent.
#[derive(Debug)]
pub struct Caller {
    limiters: BTreeMap<String, DefaultDirectRateLimiter>,
    retry: RetryPolicy,
    sent: Mutex<Sent>,
}

impl Caller {
    pub fn new(limits: &RateLimits, retry: RetryPolicy) -> Self {
        let limiters = limits
            .0
            .iter()
            .filter_map(|(service, (rate, burst))| {
                let quota = Quota::per_second(NonZeroU32::new(*rate)?)
                    .allow_burst(NonZeroU32::new(*burst)?);
                Some((service.clone(), RateLimiter::direct(quota)))
            })
            .collect();
        Self {
            limiters,
            retry,
            sent: Mutex::new(Sent::default()),
        }
    }

    /// The requests sent so far by this process's clients.
    pub fn sent(&self) -> Sent {
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn count(&self, service: &'static str, operation: &'static str) {
        let _ = SCOPED_REQUESTS.try_with(|n| n.set(n.get() + 1));
        *self
            .sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .0
            .entry((service, operation))
            .or_default() += 1;
    }

    /// Runs `call` (which sends one request) under the service's rate limit, retrying retryable
    /// failures with backoff. Returns the output and its AWS request id.
    pub async fn call<T, E, F, Fut>(
        &self,
        service: &'static str,
        operation: &'static str,
        mut call: F,
    ) -> Result<Called<T>, AwsError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        T: RequestId,
    {
        let mut attempt = 0u32;
        loop {
            if let Some(limiter) = self.limiters.get(service) {
                limiter.until_ready().await;
            }
            attempt += 1;
            self.count(service, operation);
            match call().await {
                Ok(value) => {
                    let request_id = value.request_id().map(str::to_owned);
                    return Ok(Called { value, request_id });
                }
                Err(e) => {
                    let mut err = classify(service, operation, &e);
                    err.attempts = attempt;
                    if !err.is_retryable() || attempt >= self.retry.max_attempts {
                        return Err(err);
                    }
                    tracing::warn!(service, operation, attempt, error = %err, "retrying");
                    tokio::time::sleep(self.retry.delay(attempt)).await;
                }
            }
        }
    }
}

/// A call's output with the request id AWS gave it.
#[derive(Debug, Clone)]
pub struct Called<T> {
    pub value: T,
    pub request_id: Option<String>,
}

/// The SDK clients, built once per process (a Lambda cold start, a CLI run) and shared.
#[derive(Clone)]
pub struct Clients {
    pub iam: aws_sdk_iam::Client,
    /// S3 in the configured region: for calls on no bucket (`ListBuckets`); a bucket's calls go
    /// through [`Clients::s3_for`].
    pub s3: aws_sdk_s3::Client,
    pub s3_regions: Arc<s3_regions::BucketRegions>,
    pub sqs: aws_sdk_sqs::Client,
    pub sns: aws_sdk_sns::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub events: aws_sdk_eventbridge::Client,
    pub sts: aws_sdk_sts::Client,
    pub cloudtrail: aws_sdk_cloudtrail::Client,
    /// The account's public access block (S3 Control).
    pub s3control: aws_sdk_s3control::Client,
    /// The configuration the clients were built from: the CloudFormation client, which only the
    /// CLI and the local deploy use, is built from it when asked ([`Clients::cloudformation`]), so
    /// the Lambda links none of it.
    conf: aws_config::SdkConfig,
    /// Read only, by the sweep: the organization policies on the path to the account.
    pub organizations: aws_sdk_organizations::Client,
    /// Read only, by the sweep: Warden's own function's concurrency and queue mappings.
    pub lambda: aws_sdk_lambda::Client,
    pub caller: Arc<Caller>,
}

impl Clients {
    /// Clients from the standard AWS configuration (environment, profile, `AWS_ENDPOINT_URL`), with
    /// the SDK's retries off (Warden retries in [`Caller::call`]).
    pub async fn from_env(limits: &RateLimits, retry: RetryPolicy) -> Self {
        let conf = aws_config::from_env()
            .http_client(https::client())
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .load()
            .await;
        Self::from_conf(&conf, limits, retry)
    }

    pub fn from_conf(
        conf: &aws_config::SdkConfig,
        limits: &RateLimits,
        retry: RetryPolicy,
    ) -> Self {
        // Bucket names as virtual hosts need DNS that a local endpoint does not have.
        let s3 = aws_sdk_s3::config::Builder::from(conf)
            .force_path_style(conf.endpoint_url().is_some())
            .build();
        // Query-protocol services: one body spelling that AWS and the local AWS both check (form.rs).
        let iam = aws_sdk_iam::config::Builder::from(conf)
            .interceptor(form::FormEncoding)
            .build();
        let sns = aws_sdk_sns::config::Builder::from(conf)
            .interceptor(form::FormEncoding)
            .build();
        let sts = aws_sdk_sts::config::Builder::from(conf)
            .interceptor(form::FormEncoding)
            .build();
        let s3control = s3control::config(conf);
        Self {
            iam: aws_sdk_iam::Client::from_conf(iam),
            s3: aws_sdk_s3::Client::from_conf(s3),
            s3_regions: Arc::default(),
            sqs: aws_sdk_sqs::Client::new(conf),
            sns: aws_sdk_sns::Client::from_conf(sns),
            dynamodb: aws_sdk_dynamodb::Client::new(conf),
            events: aws_sdk_eventbridge::Client::new(conf),
            sts: aws_sdk_sts::Client::from_conf(sts),
            cloudtrail: aws_sdk_cloudtrail::Client::new(conf),
            s3control: aws_sdk_s3control::Client::from_conf(s3control),
            conf: conf.clone(),
            organizations: aws_sdk_organizations::Client::new(conf),
            lambda: aws_sdk_lambda::Client::new(conf),
            caller: Arc::new(Caller::new(limits, retry)),
        }
    }

    /// A CloudFormation client (a stack's outputs, the demo's stack), built on each call: only the
    /// CLI and the local deploy ask for one.
    pub fn cloudformation(&self) -> aws_sdk_cloudformation::Client {
        let conf = aws_sdk_cloudformation::config::Builder::from(&self.conf)
            .interceptor(form::FormEncoding)
            .build();
        aws_sdk_cloudformation::Client::from_conf(conf)
    }

    /// The main region: the configured one (`AWS_REGION`), where the main stack, its queues and
    /// its state table are; `us-east-1` (where the main stack belongs) when none is configured, as
    /// no call can be made then anyway.
    pub fn main_region(&self) -> String {
        self.dynamodb
            .config()
            .region()
            .map_or_else(|| "us-east-1".to_owned(), ToString::to_string)
    }

    /// The S3 client of `bucket`'s own region (`s3_regions`). The region is asked once with
    /// `GetBucketLocation` when no `ListBuckets` told it; when that fails (no such bucket, no
    /// permission), the configured region's client is returned and the bucket call itself reports
    /// what is wrong.
    pub async fn s3_for(&self, bucket: &str) -> aws_sdk_s3::Client {
        if let Some(region) = self.s3_regions.known(bucket) {
            return self.s3_regions.client_for(&self.s3, &region);
        }
        let req = self.s3.get_bucket_location().bucket(bucket);
        match self
            .caller
            .call("s3", "GetBucketLocation", || req.clone().send())
            .await
        {
            Ok(out) => {
                let region = s3_regions::region_of_location(
                    out.value.location_constraint().map(|c| c.as_str()),
                );
                self.s3_regions.learn(bucket, &region);
                self.s3_regions.client_for(&self.s3, &region)
            }
            Err(e) => {
                tracing::warn!(bucket, error = %e, "the bucket's region is unknown; calling it in the configured region");
                self.s3.clone()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_parse_over_defaults_with_located_errors() {
        let l = RateLimits::parse("iam=5, s3=20/40").unwrap();
        assert_eq!(l.0["iam"], (5, 5));
        assert_eq!(l.0["s3"], (20, 40));
        assert_eq!(l.0["sqs"], (50, 50));
        assert!(RateLimits::parse("ec2=5").unwrap_err().contains("`ec2`"));
        assert!(RateLimits::parse("iam=0").unwrap_err().contains("`0`"));
        assert!(RateLimits::parse("iam").unwrap_err().contains("`iam`"));
    }

    #[test]
    fn backoff_is_capped_and_jittered() {
        let p = RetryPolicy::default();
        for attempt in 0..40 {
            let d = p.delay(attempt);
            assert!(d <= p.max_delay);
            assert!(d <= p.base_delay.saturating_mul(1 << attempt.min(16)));
        }
    }
}
