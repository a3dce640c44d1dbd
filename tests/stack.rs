//! The real stack (`cloudformation/warden.yaml`) on the local AWS: deployed by the emulator's
//! CloudFormation, its outputs read back as Warden's configuration, its rules routing to its intake
//! queue, and its function role, assumed, held to what the template grants with the emulator's
//! policy enforcement on.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use policy_rules::catalog::Catalog;
use policy_rules::rules::RuleSet;
use warden_handler::local::demo::{Deploy, Scenario, ACCOUNT};
use warden_handler::local::emulator::LocalAws;
use warden_handler::stores::init::rule_patterns;

const ALLOW_NOTHING: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:GetObject","Resource":"*"}]}"#;

/// HTTP 403 (the SDK cannot parse the emulator's AccessDenied bodies; the status is reliable).
fn forbidden<T, E>(r: Result<T, SdkError<E, HttpResponse>>) -> bool {
    matches!(r, Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 403))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stack_deploys_routes_to_its_intake_queue_and_holds_warden_to_its_role() {
    let aws = LocalAws::start().unwrap();
    let s = Scenario::setup_with(&aws, Deploy::Stack).await.unwrap();

    // The outputs are the configuration `warden init` prints, and it reads.
    let config = s.config(&[]).unwrap();
    assert_eq!(
        config.queue_url.as_deref(),
        Some(format!("https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/warden-events.fifo").as_str())
    );
    assert_eq!(config.account_id.as_deref(), Some(ACCOUNT));
    let role = format!("arn:aws:iam::{ACCOUNT}:role/warden-warden-function");
    assert_eq!(s.warden.arn, role);
    assert!(config.rules.warden_principals.contains(&role));

    // Every rule the code routes exists, with its pattern, targeting the intake queue.
    let rules = RuleSet::default_pack().unwrap();
    let catalog = Catalog::builtin().unwrap();
    let admin = &s.admin.clients;
    for (name, pattern) in rule_patterns("warden", &rules, &catalog).unwrap() {
        let rule = admin
            .events
            .describe_rule()
            .name(&name)
            .send()
            .await
            .unwrap();
        let live: serde_json::Value = serde_json::from_str(rule.event_pattern().unwrap()).unwrap();
        assert_eq!(live, pattern, "{name}");
        let targets = admin
            .events
            .list_targets_by_rule()
            .rule(&name)
            .send()
            .await
            .unwrap();
        let t = &targets.targets()[0];
        assert_eq!(
            t.arn(),
            format!("arn:aws:sqs:us-east-1:{ACCOUNT}:warden-intake.fifo")
        );
        assert_eq!(
            t.sqs_parameters().and_then(|p| p.message_group_id()),
            Some("warden")
        );
    }

    // Enforcement is on: the role may write a Deny on another principal, and never on itself,
    // never create credentials or principals.
    let iam = &s.warden.clients.iam;
    iam.put_role_policy()
        .role_name("app-deploy")
        .policy_name("WardenDeny")
        .policy_document(ALLOW_NOTHING)
        .send()
        .await
        .expect("the role may write a Deny on another role");
    assert!(forbidden(
        iam.put_role_policy()
            .role_name("warden-warden-function")
            .policy_name("more")
            .policy_document(ALLOW_NOTHING)
            .send()
            .await
    ));
    assert!(forbidden(
        iam.update_assume_role_policy()
            .role_name("warden-warden-function")
            .policy_document(ALLOW_NOTHING)
            .send()
            .await
    ));
    assert!(forbidden(
        iam.create_user().user_name("backdoor").send().await
    ));
    assert!(forbidden(
        iam.create_access_key().user_name("mallory").send().await
    ));
    assert!(forbidden(
        s.warden
            .clients
            .sqs
            .delete_queue()
            .queue_url(config.queue_url.clone().unwrap())
            .send()
            .await
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warden_config_reads_the_deployed_stack_as_the_demo_configures_it() {
    let aws = LocalAws::start().unwrap();
    let s = Scenario::setup_with(&aws, Deploy::Stack).await.unwrap();
    let vars = warden_handler::cli::stack_config::stack_variables(
        &s.admin.clients,
        warden_handler::local::demo::STACK,
        "us-east-1",
    )
    .await
    .unwrap();
    // Every variable the demo configures Warden with (from the same outputs) is printed, and the
    // configuration the printed lines make is valid.
    for (name, value) in &s.init.vars {
        assert!(
            vars.iter().any(|(n, v)| n == name && v == value),
            "{name} missing from {vars:?}"
        );
    }
    let exports = warden_handler::cli::stack_config::to_exports(&vars);
    assert!(
        exports.contains("export WARDEN_INTAKE_QUEUE_URL="),
        "{exports}"
    );
    let map = vars.into_iter().collect();
    warden_handler::enforce::config::Config::from_vars(&map).unwrap();
}

/// Issue 10 §1 "Regions": S3 and CloudTrail events arrive in the bucket's or trail's own region.
/// The regional stack (`cloudformation/warden-region.yaml`), deployed in eu-west-1, forwards such
/// an event to the main region's default bus, where the main stack's rules route it to Warden's
/// intake queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_region_stack_forwards_an_s3_event_to_the_main_regions_warden() {
    let aws = LocalAws::start().unwrap();
    let s = Scenario::setup(&aws).await.unwrap();
    let conf = aws
        .sdk_config_as(&s.admin.access_key_id, &s.admin.secret_access_key)
        .await
        .into_builder()
        .region(aws_config::Region::new("eu-west-1"))
        .build();
    let eu = warden_handler::aws::Clients::from_conf(
        &conf,
        &warden_handler::aws::RateLimits::default(),
        warden_handler::aws::RetryPolicy::default(),
    );
    let settled = warden_handler::deploy::stack::deploy(
        &eu,
        "warden-eu",
        warden_handler::deploy::stack::REGION_TEMPLATE,
        &[("MainRegion", "us-east-1")],
        std::time::Duration::from_secs(120),
    )
    .await
    .unwrap();
    assert!(settled.status.ends_with("COMPLETE"), "{}", settled.status);
    let put = |detail: serde_json::Value| {
        let eu = eu.clone();
        async move {
            let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                .source("aws.s3")
                .detail_type("AWS API Call via CloudTrail")
                .detail(detail.to_string())
                .build();
            let out = eu.events.put_events().entries(entry).send().await.unwrap();
            assert_eq!(out.failed_entry_count(), 0);
        }
    };
    // A bucket in eu-west-1 made public by mallory: forwarded, routed, queued for Warden.
    let mut public = warden_handler::local::demo::user_call(
        "mallory",
        "s3.amazonaws.com",
        "PutBucketPolicy",
        serde_json::json!({"bucketName": "eu-reports", "bucketPolicy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::eu-reports/*"}]}}),
        "eu-forwarded-1",
    );
    public["awsRegion"] = serde_json::json!("eu-west-1");
    put(public).await;
    let (_, body, _) = s.take_message().await.unwrap();
    let got: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(got["detail"]["eventID"], "eu-forwarded-1", "{body}");
    assert_eq!(got["detail"]["awsRegion"], "eu-west-1", "{body}");
    assert_eq!(got["source"], "aws.s3", "{body}");
}

/// Issue 11 §2 "Warden drift": the sweep reads Warden's own queues and function (a constant five
/// requests) and reports what leaves events undecided: a work queue redriving elsewhere, events in
/// the dead-letter queue (with the stack's role and the emulator's policy enforcement on), the
/// function throttled to 0, and (where the function is meant to read the queues) disabled
/// mappings. The emulator's Lambda refuses every signed request while enforcement is on
/// (`SignatureDoesNotMatch`, boto3's too), so the function's part runs with it off; with it on,
/// the sweep says it could not read the function and judges the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_reports_wardens_own_queues_and_function_leaving_events_undecided() {
    let aws = LocalAws::start().unwrap();
    let s = Scenario::setup_with(&aws, Deploy::Stack).await.unwrap();
    let admin = &s.admin.clients;
    let config = s.config(&[]).unwrap();
    let function = config.function_name.clone().unwrap();
    assert_eq!(
        function,
        format!("warden-{}", warden_handler::local::demo::STACK)
    );
    // The demo's worker polls the queues itself: its disabled mappings are as deployed.
    assert!(!config.function_consumes_queues);
    let sweep = |extra: &'static [(&'static str, &'static str)]| {
        let s = &s;
        async move {
            let (flow, _) = warden_handler::local::demo::flow(s, extra).unwrap();
            s.sweep().await.unwrap();
            let now = warden_handler::enforce::flow::system_clock()();
            let found = warden_handler::sweep::findings::find(
                &flow,
                &s.warden.clients,
                &format!("own-pipeline-{now}"),
                now,
                &[],
                &policy_rules::sweep::SweepOptions::new(
                    chrono::DateTime::from_timestamp(now, 0).unwrap(),
                ),
            )
            .await
            .unwrap();
            let own: Vec<(String, String)> = found
                .report
                .findings
                .iter()
                .filter(|f| {
                    f.finding_type.starts_with("WardenQueue")
                        || f.finding_type.starts_with("WardenFunction")
                        || f.finding_type == "WardenDeadLetters"
                })
                .map(|f| {
                    (
                        f.finding_type.clone(),
                        f.resource.clone().unwrap_or_default(),
                    )
                })
                .collect();
            (own, found.notes)
        }
    };
    // As deployed: nothing; the queues were read, the function could not be (above).
    let (own, notes) = sweep(&[]).await;
    assert!(own.is_empty(), "{own:?}");
    assert!(notes.iter().all(|n| !n.contains("queue")), "{notes:?}");
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with(&format!("Warden's function `{function}` could not be read"))),
        "{notes:?}"
    );

    // An admin points the work queue's redrive elsewhere, an event waits in the dead-letter
    // queue, and the function is throttled to 0.
    let sqs = &admin.sqs;
    let elsewhere = sqs
        .create_queue()
        .queue_name("elsewhere.fifo")
        .attributes(aws_sdk_sqs::types::QueueAttributeName::FifoQueue, "true")
        .send()
        .await
        .unwrap();
    let elsewhere_arn = sqs
        .get_queue_attributes()
        .queue_url(elsewhere.queue_url().unwrap())
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    let work = config.queue_url.clone().unwrap();
    sqs.set_queue_attributes()
        .queue_url(&work)
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy,
            serde_json::json!({"deadLetterTargetArn": elsewhere_arn, "maxReceiveCount": "5"})
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    sqs.send_message()
        .queue_url(config.dlq_url.clone().unwrap())
        .message_body("{}")
        .message_group_id("warden")
        .send()
        .await
        .unwrap();
    let (own, _) = sweep(&[]).await;
    let mut types: Vec<&str> = own.iter().map(|(t, _)| t.as_str()).collect();
    types.sort_unstable();
    assert_eq!(
        types,
        ["WardenDeadLetters", "WardenQueueRedriveChanged"],
        "{own:?}"
    );
    assert!(own
        .iter()
        .any(|(t, r)| t == "WardenQueueRedriveChanged" && r.ends_with(":warden-events.fifo")));

    // The function, with the emulator's enforcement off: throttled to 0 by an admin.
    aws.enforce_policies(false).unwrap();
    admin
        .lambda
        .put_function_concurrency()
        .function_name(&function)
        .reserved_concurrent_executions(0)
        .send()
        .await
        .unwrap();
    let (own, notes) = sweep(&[]).await;
    assert!(notes.iter().all(|n| !n.contains("function")), "{notes:?}");
    let mut types: Vec<&str> = own.iter().map(|(t, _)| t.as_str()).collect();
    types.sort_unstable();
    assert_eq!(
        types,
        [
            "WardenDeadLetters",
            "WardenFunctionThrottled",
            "WardenQueueRedriveChanged"
        ],
        "{own:?}"
    );
    // Where the function is meant to read the queues, the demo's disabled mappings are drift too.
    let (own, _) = sweep(&[("WARDEN_FUNCTION_CONSUMES_QUEUES", "true")]).await;
    let disabled: Vec<&str> = own
        .iter()
        .filter(|(t, _)| t == "WardenQueueMappingDisabled")
        .map(|(_, r)| r.as_str())
        .collect();
    assert_eq!(disabled.len(), 2, "{own:?}");
    assert!(disabled.iter().any(|r| r.ends_with(":warden-intake.fifo")));
    assert!(disabled.iter().any(|r| r.ends_with(":warden-events.fifo")));
}
