//! Errors the local AWS cannot produce (throttling, 5xx, a policy-size limit), injected with
//! `aws-smithy-mocks` into the whole flow on the local AWS: a rule answers the matching requests
//! with AWS's own error bodies, and every other request passes through to the emulator. Each test
//! checks the flow converges: the change made once, the evidence chain whole, one alert.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use aws_smithy_mocks::{create_mock_http_client, mock, MockResponseInterceptor, Rule, RuleMode};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use std::time::Duration;
use warden_handler::aws::form::FormEncoding;
use warden_handler::aws::{Clients, RateLimits, RetryPolicy};
use warden_handler::enforce::flow::{Flow, Handled};
use warden_handler::local::demo::{escalation_event, mallory_puts_role_policy, Scenario};
use warden_handler::local::emulator::LocalAws;

/// Sends a request to the mock client; what no rule answered (the mock's 418) goes to the real one.
/// A request whose body holds `hang_on` never gets an answer (a call that hangs).
#[derive(Debug, Clone)]
struct MockOrReal {
    mock: SharedHttpClient,
    real: SharedHttpClient,
    hang_on: Option<&'static str>,
}

#[derive(Debug)]
struct MockOrRealConnector {
    mock: SharedHttpConnector,
    real: SharedHttpConnector,
    hang_on: Option<&'static str>,
}

impl HttpClient for MockOrReal {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(MockOrRealConnector {
            mock: self.mock.http_connector(settings, components),
            real: self.real.http_connector(settings, components),
            hang_on: self.hang_on,
        })
    }
}

impl HttpConnector for MockOrRealConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let (mock, real) = (self.mock.clone(), self.real.clone());
        let hangs = self.hang_on.is_some_and(|marker| {
            request
                .body()
                .bytes()
                .is_some_and(|b| String::from_utf8_lossy(b).contains(marker))
        });
        HttpConnectorFuture::new(async move {
            if hangs {
                std::future::pending::<()>().await;
            }
            // The mock's answer rides in the request's extensions, which a copy does not keep:
            // the original goes to the mock, the copy (if needed) to the emulator.
            let copy = request.try_clone().expect("an in-memory body");
            let answer = mock.call(request).await?;
            if answer.status().as_u16() == 418 {
                real.call(copy).await
            } else {
                Ok(answer)
            }
        })
    }
}

fn response(status: u16, content_type: &str, body: String) -> HttpResponse {
    let mut r = HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::from(body));
    r.headers_mut()
        .insert("x-amzn-RequestId", "injected-request-id");
    r.headers_mut()
        .insert("content-type", content_type.to_owned());
    r
}

/// An error as IAM and SNS (awsQuery) send it.
fn query_error(status: u16, code: &str, message: &str) -> HttpResponse {
    response(
        status,
        "text/xml",
        format!(
            r#"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>injected-request-id</RequestId></ErrorResponse>"#
        ),
    )
}

/// An error as DynamoDB (JSON 1.0) sends it.
fn dynamodb_error(code: &str) -> HttpResponse {
    response(
        400,
        "application/x-amz-json-1.0",
        format!(r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{code}","message":"injected"}}"#),
    )
}

/// The rules to inject, per service, and what makes a request hang.
#[derive(Default)]
struct Faults {
    iam: Vec<Rule>,
    dynamodb: Vec<Rule>,
    sns: Vec<Rule>,
    hang_on: Option<&'static str>,
}

impl Faults {
    /// One IAM rule, nothing else.
    fn iam(rule: &Rule) -> Self {
        Self {
            iam: vec![rule.clone()],
            ..Self::default()
        }
    }
}

fn interceptor(rules: &[Rule]) -> MockResponseInterceptor {
    rules.iter().fold(
        MockResponseInterceptor::new()
            .rule_mode(RuleMode::MatchAny)
            .allow_passthrough(),
        MockResponseInterceptor::with_rule,
    )
}

/// Warden's clients (signing as its own user), with the faults injected and quick retries.
async fn faulty_clients(aws: &LocalAws, s: &Scenario, faults: &Faults) -> Clients {
    let conf = aws
        .sdk_config_session(
            &s.warden.access_key_id,
            &s.warden.secret_access_key,
            s.warden.session_token.as_deref(),
        )
        .await;
    let retry = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
    };
    let mut clients = Clients::from_conf(&conf, &RateLimits::default(), retry);
    let http = SharedHttpClient::new(MockOrReal {
        hang_on: faults.hang_on,
        mock: create_mock_http_client(),
        // The client Warden's own clients send through.
        real: warden_handler::aws::https::client(),
    });
    clients.iam = aws_sdk_iam::Client::from_conf(
        aws_sdk_iam::config::Builder::from(&conf)
            .http_client(http.clone())
            .interceptor(FormEncoding)
            .interceptor(interceptor(&faults.iam))
            .build(),
    );
    clients.dynamodb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&conf)
            .http_client(http.clone())
            .interceptor(interceptor(&faults.dynamodb))
            .build(),
    );
    clients.sns = aws_sdk_sns::Client::from_conf(
        aws_sdk_sns::config::Builder::from(&conf)
            .http_client(http)
            .interceptor(FormEncoding)
            .interceptor(interceptor(&faults.sns))
            .build(),
    );
    clients
}

/// Mallory's escalation on `app-deploy`, made and put on the bus; returns the queue message.
async fn escalation(s: &Scenario, event_id: &str) -> (String, String) {
    assert!(mallory_puts_role_policy(s, "app-deploy", "escalate")
        .await
        .unwrap());
    s.emit(&escalation_event(event_id, "app-deploy"))
        .await
        .unwrap();
    let (id, body, _) = s.take_message().await.unwrap();
    (id, body)
}

/// A fresh emulator and demo account, Warden's flow over faulty clients, and mallory's escalation
/// as a queue message `(id, body)`.
async fn start(faults: &Faults, event_id: &str) -> (LocalAws, Scenario, Flow, (String, String)) {
    let aws = LocalAws::start().expect("the local AWS starts");
    let s = Scenario::setup(&aws).await.expect("the demo account");
    let config = s.config(&[("WARDEN_ALERT_WINDOW_SECONDS", "0")]).unwrap();
    let clients = faulty_clients(&aws, &s, faults).await;
    let flow = warden_handler::assembly::build_flow(
        &config,
        &clients,
        warden_handler::local::demo::ACCOUNT.to_owned(),
    )
    .unwrap();
    let message = escalation(&s, event_id).await;
    (aws, s, flow, message)
}

/// The chain verifies; returns its records' kinds.
async fn evidence(flow: &Flow) -> Vec<String> {
    let records = flow.evidence.list().await.unwrap();
    let head = flow.evidence.head().await.unwrap();
    policy_rules::evidence::verify(&records, head.as_ref().map(|(s, h)| (*s, h.as_str()))).unwrap();
    records
        .iter()
        .map(|r| {
            serde_json::to_value(r.kind)
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

fn requests(flow: &Flow, service: &str, operation: &str) -> u64 {
    flow.caller
        .sent()
        .0
        .iter()
        .filter(|((s, o), _)| *s == service && *o == operation)
        .map(|(_, n)| n)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_everywhere_is_retried_and_the_event_is_enforced_once() {
    let put_deny = mock!(aws_sdk_iam::Client::put_user_policy)
        .match_requests(|r| r.policy_name() == Some("WardenDeny"))
        .sequence()
        .http_response(|| query_error(400, "Throttling", "Rate exceeded"))
        .times(2)
        .build();
    let read_user = mock!(aws_sdk_iam::Client::list_user_policies)
        .sequence()
        .http_response(|| query_error(503, "ServiceUnavailable", "try again"))
        .build();
    let ledger = mock!(aws_sdk_dynamodb::Client::update_item)
        .sequence()
        .http_response(|| dynamodb_error("ProvisionedThroughputExceededException"))
        .build();
    let append = mock!(aws_sdk_dynamodb::Client::transact_write_items)
        .sequence()
        .http_response(|| dynamodb_error("ThrottlingException"))
        .times(2)
        .build();
    let publish = mock!(aws_sdk_sns::Client::publish)
        .sequence()
        .http_response(|| query_error(400, "Throttling", "Rate exceeded"))
        .build();
    let faults = Faults {
        iam: vec![put_deny.clone(), read_user.clone()],
        dynamodb: vec![ledger.clone(), append.clone()],
        sns: vec![publish.clone()],
        hang_on: None,
    };
    let (_aws, s, flow, (id, body)) = start(&faults, "throttled-1").await;

    let handled = flow.handle_message(&id, &body, 1).await;
    assert!(matches!(handled, Handled::Done(_)), "{handled:?}");
    // Every injected error was met, and retried past.
    for (rule, n) in [(&put_deny, 2), (&read_user, 1), (&ledger, 1), (&append, 2)] {
        assert_eq!(rule.num_calls(), n);
    }
    assert_eq!(
        requests(&flow, "iam", "PutUserPolicy"),
        3,
        "two throttled attempts, then the Deny"
    );
    assert!(s
        .user_policies("mallory")
        .await
        .unwrap()
        .contains(&"WardenDeny".to_owned()));
    assert!(!s
        .role_policies("app-deploy")
        .await
        .unwrap()
        .contains(&"escalate".to_owned()));
    assert_eq!(
        evidence(&flow).await,
        ["decision", "change", "verify", "change", "verify"]
    );

    // The alert: throttled once, then sent; exactly one message.
    let sent = flow.flush_alerts(0).await.unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(publish.num_calls(), 1);
    assert_eq!(s.alerts().await.unwrap().len(), 1);
    // Redelivered: nothing more happens.
    let again = flow.handle_message(&id, &body, 2).await;
    assert!(
        matches!(&again, Handled::Done(d) if d.iter().all(|e| e.duplicate)),
        "{again:?}"
    );
    assert_eq!(requests(&flow, "iam", "PutUserPolicy"), 3);
    assert!(flow.flush_alerts(0).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_past_the_retries_leaves_the_message_and_redelivery_converges() {
    // The undo's DeleteRolePolicy fails with 500s for more than one receive's worth of attempts.
    let undo = mock!(aws_sdk_iam::Client::delete_role_policy)
        .sequence()
        .http_response(|| query_error(500, "ServiceFailure", "internal"))
        .times(3)
        .build();
    let faults = Faults::iam(&undo);
    let (_aws, s, flow, (id, body)) = start(&faults, "outage-1").await;

    let first = flow.handle_message(&id, &body, 1).await;
    assert!(
        matches!(&first, Handled::Retry(why) if why.contains("ServiceFailure")),
        "{first:?}"
    );
    assert_eq!(undo.num_calls(), 3);
    // The Deny is in place already; the escalation is still there.
    assert!(s
        .user_policies("mallory")
        .await
        .unwrap()
        .contains(&"WardenDeny".to_owned()));
    assert!(s
        .role_policies("app-deploy")
        .await
        .unwrap()
        .contains(&"escalate".to_owned()));
    assert!(
        flow.flush_alerts(0).await.unwrap().is_empty(),
        "no alert before the event is done"
    );

    // SQS redelivers; the outage is over.
    let second = flow.handle_message(&id, &body, 2).await;
    assert!(matches!(second, Handled::Done(_)), "{second:?}");
    assert!(!s
        .role_policies("app-deploy")
        .await
        .unwrap()
        .contains(&"escalate".to_owned()));
    assert_eq!(
        requests(&flow, "iam", "PutUserPolicy"),
        1,
        "the Deny was applied once"
    );
    assert_eq!(
        evidence(&flow).await,
        ["decision", "change", "verify", "change", "verify"]
    );
    assert_eq!(flow.flush_alerts(0).await.unwrap().len(), 1);
    assert_eq!(s.alerts().await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_error_on_the_deny_is_recorded_and_a_person_is_told() {
    // Mallory's inline policies are at IAM's size quota: the Deny cannot be written.
    let quota = mock!(aws_sdk_iam::Client::put_user_policy)
        .match_requests(|r| r.policy_name() == Some("WardenDeny"))
        .sequence()
        .http_response(|| {
            query_error(
                409,
                "LimitExceeded",
                "Maximum policy size of 2048 bytes exceeded for user mallory",
            )
        })
        .repeatedly()
        .build();
    let faults = Faults::iam(&quota);
    let (_aws, s, flow, (id, body)) = start(&faults, "quota-1").await;

    let handled = flow.handle_message(&id, &body, 1).await;
    assert!(matches!(handled, Handled::Done(_)), "{handled:?}");
    assert_eq!(quota.num_calls(), 1, "a permanent error is not retried");
    assert!(!s
        .user_policies("mallory")
        .await
        .unwrap()
        .contains(&"WardenDeny".to_owned()));
    assert_eq!(flow.flush_alerts(0).await.unwrap().len(), 1);
    let alerts = s.alerts().await.unwrap();
    assert_eq!(alerts.len(), 1);
    assert!(
        alerts[0].contains("LimitExceeded") && alerts[0].contains("make the change by hand"),
        "{}",
        alerts[0]
    );
    // The decision is in the chain with the failure.
    let kinds = evidence(&flow).await;
    assert_eq!(
        kinds.first().map(String::as_str),
        Some("decision"),
        "{kinds:?}"
    );
}

/// Three events through the real path (EventBridge → the intake queue → the forwarder → the work
/// queue's lanes → the flow): alice's first, on `poison_role` (which `faults` make fail or hang),
/// then mallory's, then alice's next; with Warden's flow over the faulty clients, configured with
/// `extra`.
struct LaneScenario {
    _aws: LocalAws,
    s: Scenario,
    flow: Flow,
    clients: Clients,
    config: warden_handler::enforce::config::Config,
}

impl LaneScenario {
    async fn start(faults: &Faults, poison_role: &str, extra: &[(&str, &str)]) -> Self {
        use warden_handler::local::demo::{user_call, ESCALATE};
        let aws = LocalAws::start().expect("the local AWS starts");
        let s = Scenario::setup(&aws).await.expect("the demo account");
        aws.enforce_policies(false).unwrap();
        let admin = &s.admin.clients;
        admin
            .iam
            .create_user()
            .user_name("alice")
            .send()
            .await
            .unwrap();
        for role in [poison_role, "alice-role"] {
            admin
                .iam
                .create_role()
                .role_name(role)
                .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#)
                .send()
                .await
                .unwrap();
        }
        // The model knows the roles (a sweep read them) before the escalations.
        s.sweep().await.unwrap();
        for role in [poison_role, "alice-role"] {
            admin
                .iam
                .put_role_policy()
                .role_name(role)
                .policy_name("escalate")
                .policy_document(ESCALATE)
                .send()
                .await
                .unwrap();
        }
        assert!(mallory_puts_role_policy(&s, "app-deploy", "escalate")
            .await
            .unwrap());
        let alice = |role: &str, id: &str| {
            user_call(
                "alice",
                "iam.amazonaws.com",
                "PutRolePolicy",
                serde_json::json!({"roleName": role, "policyName": "escalate", "policyDocument": ESCALATE}),
                id,
            )
        };
        // Queued in this order: alice's poison, mallory's event, alice's next event.
        s.emit(&alice(poison_role, "lane-a-1")).await.unwrap();
        s.emit(&escalation_event("lane-b-1", "app-deploy"))
            .await
            .unwrap();
        s.emit(&alice("alice-role", "lane-a-2")).await.unwrap();
        let mut vars = vec![
            ("WARDEN_ALERT_WINDOW_SECONDS", "0"),
            ("WARDEN_MAX_RECEIVES", "2"),
        ];
        vars.extend_from_slice(extra);
        let config = s.config(&vars).unwrap();
        let clients = faulty_clients(&aws, &s, faults).await;
        let flow = warden_handler::assembly::build_flow(
            &config,
            &clients,
            warden_handler::local::demo::ACCOUNT.to_owned(),
        )
        .unwrap();
        Self {
            _aws: aws,
            s,
            flow,
            clients,
            config,
        }
    }

    /// `warden worker --once` over Warden's faulty clients.
    async fn work_once(&self) -> warden_handler::enforce::queue::WorkerStats {
        let queues = warden_handler::enforce::queue::Queues {
            work: self.config.queue_url.as_deref().unwrap(),
            intake: self.config.intake_queue_url.as_deref(),
        };
        let dlq = warden_handler::enforce::queue::SqsDeadLetters {
            clients: self.clients.clone(),
            url: self.config.dlq_url.clone().unwrap(),
        };
        warden_handler::enforce::queue::run_worker(&self.flow, &self.clients, queues, &dlq, true, 0)
            .await
            .unwrap()
    }

    /// The messages on the dead-letter queue (left there).
    async fn dead_letters(&self) -> usize {
        let r = self
            .s
            .admin
            .clients
            .sqs
            .receive_message()
            .queue_url(self.config.dlq_url.as_deref().unwrap())
            .visibility_timeout(0)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        r.messages().len()
    }

    /// The evidence sequence number of `event_id`'s record of `kind`.
    async fn seq(&self, event_id: &str, kind: policy_rules::evidence::RecordKind) -> Option<u64> {
        let records = self.flow.evidence.list().await.unwrap();
        records
            .iter()
            .find(|r| r.event_id.as_deref() == Some(event_id) && r.kind == kind)
            .map(|r| r.seq)
    }

    /// Mallory's event was enforced: her Deny, the escalation undone.
    async fn mallory_enforced(&self) {
        assert!(self
            .s
            .user_policies("mallory")
            .await
            .unwrap()
            .contains(&"WardenDeny".to_owned()));
        assert!(!self
            .s
            .role_policies("app-deploy")
            .await
            .unwrap()
            .contains(&"escalate".to_owned()));
    }

    /// Whether alice's next event was undone.
    async fn alices_next_undone(&self) -> bool {
        !self
            .s
            .role_policies("alice-role")
            .await
            .unwrap()
            .contains(&"escalate".to_owned())
    }

    /// After the poison is given up: it is in the dead-letter queue, mallory's event was decided
    /// before that, alice's next after.
    async fn in_order_after_the_poison(&self) {
        use policy_rules::evidence::RecordKind::{Decision, Error};
        assert_eq!(self.dead_letters().await, 1);
        let given_up = self
            .seq("lane-a-1", Error)
            .await
            .expect("the poison's error record");
        let next = self
            .seq("lane-a-2", Decision)
            .await
            .expect("alice's next event is decided");
        let other = self.seq("lane-b-1", Decision).await.unwrap();
        assert!(other < given_up, "mallory did not wait for the poison");
        assert!(given_up < next, "alice's events kept their order");
        assert!(self.alices_next_undone().await);
        evidence(&self.flow).await;
    }
}

/// The events of each principal travel in a lane of their own: one that keeps failing holds up its
/// own principal's later events (their order is kept), never another principal's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_event_holds_up_its_own_lane_only_and_keeps_its_order() {
    use policy_rules::evidence::RecordKind::Decision;
    // Alice's first event can never finish: undoing it on `poison-role` fails every time.
    let poison = mock!(aws_sdk_iam::Client::delete_role_policy)
        .match_requests(|r| r.role_name() == Some("poison-role"))
        .sequence()
        .http_response(|| query_error(500, "ServiceFailure", "internal"))
        .repeatedly()
        .build();
    let faults = Faults {
        iam: vec![poison.clone()],
        ..Faults::default()
    };
    let l = LaneScenario::start(&faults, "poison-role", &[]).await;

    // The first pass: mallory's event is enforced while alice's poison is still being retried.
    let first = l.work_once().await;
    assert_eq!(first.forwarded, 3, "{first:?}");
    assert_eq!(first.dead_lettered, 0, "{first:?}");
    assert!(poison.num_calls() >= 3, "the poison was met and retried");
    l.mallory_enforced().await;
    assert_eq!(
        l.dead_letters().await,
        0,
        "the poison has not reached the DLQ"
    );
    assert!(l.seq("lane-b-1", Decision).await.is_some());
    assert_eq!(
        l.seq("lane-a-2", Decision).await,
        None,
        "alice's next event waits behind her first"
    );
    assert!(!l.alices_next_undone().await);

    // Once the poison's retries are spent (its back-off is 2 s), it goes to the dead-letter queue
    // with its reason, and alice's next event follows.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let second = l.work_once().await;
    assert_eq!(second.dead_lettered, 1, "{second:?}");
    l.in_order_after_the_poison().await;
}

/// An event whose handling hangs (an AWS call that never answers) is cut off when its batch's
/// time is up (the worker's lease here, the invocation's deadline in the Lambda), while the other
/// lanes of the batch go on; at its last receive it is given up, recorded and alerted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_event_is_cut_off_and_holds_up_no_other_lane() {
    use policy_rules::evidence::RecordKind::Decision;
    let faults = Faults {
        // IAM's query protocol: the undo's `DeleteRolePolicy` on `hang-role`.
        hang_on: Some("RoleName=hang-role"),
        ..Faults::default()
    };
    let l = LaneScenario::start(&faults, "hang-role", &[("WARDEN_LEASE_SECONDS", "5")]).await;

    let started = std::time::Instant::now();
    let first = l.work_once().await;
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the hang was cut off: {:?}",
        started.elapsed()
    );
    assert_eq!((first.forwarded, first.dead_lettered), (3, 0), "{first:?}");
    l.mallory_enforced().await;
    assert_eq!(l.seq("lane-a-2", Decision).await, None);
    assert_eq!(l.dead_letters().await, 0);

    // The second receive is the last: the poison hangs again, is cut off and given up.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let second = l.work_once().await;
    assert_eq!(second.dead_lettered, 1, "{second:?}");
    let third = l.work_once().await;
    assert_eq!(third.left_for_retry, 0, "{third:?}");
    l.in_order_after_the_poison().await;
    let alerts = l.s.alerts().await.unwrap().join("\n");
    assert!(
        alerts.contains("did not finish in the time its batch had"),
        "{alerts}"
    );
}
