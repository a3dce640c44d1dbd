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
