//! End to end on the local AWS: CloudTrail events put on EventBridge (`PutEvents`, as AWS delivers
//! them) → the rules of the real stack (`cloudformation/warden.yaml`, deployed by the emulator's
//! CloudFormation) → the intake queue → the forwarder → the principal's lane of the work queue →
//! the worker's flow → IAM, S3, DynamoDB evidence, SNS alerts. Warden signs as the stack's function
//! role (assumed) and the emulator's policy enforcement is on the whole time (`demo::Scenario`).
//! Each test starts its own emulator on a free loopback port.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use policy_rules::evidence::RecordKind;
use serde_json::{json, Value};
use warden_handler::enforce::flow::{FlowError, Stage};
use warden_handler::local::demo::{
    self, escalation_event, mallory_puts_role_policy, user_call, Scenario, ESCALATE,
};
use warden_handler::local::emulator::LocalAws;

async fn start() -> (LocalAws, Scenario) {
    // `RUST_LOG=warn cargo test …` shows what Warden logged.
    if std::env::var_os("RUST_LOG").is_some() {
        warden_handler::assembly::init_logging(false);
    }
    let aws = LocalAws::start().expect("the local AWS starts (moto, installed by the project)");
    let scenario = Scenario::setup(&aws)
        .await
        .expect("the demo account is set up");
    (aws, scenario)
}

async fn evidence_verifies(
    flow: &warden_handler::enforce::flow::Flow,
) -> Vec<policy_rules::evidence::Record> {
    let records = flow.evidence.list().await.unwrap();
    let head = flow.evidence.head().await.unwrap();
    policy_rules::evidence::verify(&records, head.as_ref().map(|(s, h)| (*s, h.as_str()))).unwrap();
    records
}

async fn queue_depth(s: &Scenario, url: &str) -> usize {
    let r = s
        .warden
        .clients
        .sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .message_attribute_names("All")
        .send()
        .await
        .unwrap();
    r.messages().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_admin_is_denied_narrowly_undone_alerted_recorded_and_rolled_back() {
    let (aws, s) = start().await;
    assert!(mallory_puts_role_policy(&s, "app-deploy", "escalate")
        .await
        .unwrap());
    s.emit(&escalation_event("e2e-role-1", "app-deploy"))
        .await
        .unwrap();
    s.emit(
        &demo::mallory_puts_bucket_policy(&s, "e2e-bucket-1")
            .await
            .unwrap(),
    )
    .await
    .unwrap();

    let (flow, config) = demo::flow(&s, &[]).unwrap();
    let stats = demo::work_once(&aws, &s, &flow, &config).await.unwrap();
    assert_eq!(stats.messages, 2);
    assert_eq!(stats.dead_lettered, 0);

    // The Deny holds and is narrow: the protected role and bucket are denied, others are fine.
    assert!(!mallory_puts_role_policy(&s, "app-deploy", "again")
        .await
        .unwrap());
    assert!(mallory_puts_role_policy(&s, "billing-reports", "fine")
        .await
        .unwrap());
    assert!(s.mallory.clients.iam.list_users().send().await.is_ok());
    let bucket_put = |b: &'static str| {
        s.mallory
            .clients
            .s3
            .put_bucket_policy()
            .bucket(b)
            .policy(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/admin"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::BUCKET/*"}]}"#.replace("BUCKET", b))
            .send()
    };
    assert!(
        bucket_put("payments-data").await.is_err(),
        "the bucket-policy Deny holds"
    );
    assert!(
        bucket_put("public-site").await.is_ok(),
        "another bucket is fine"
    );

    // The undo happened: the escalation is gone.
    assert!(!s
        .role_policies("app-deploy")
        .await
        .unwrap()
        .contains(&"escalate".to_owned()));

    // One alert for the principal's incident, listing both events.
    let alerts = s.alerts().await.unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(
        alerts[0].contains("e2e-role-1") && alerts[0].contains("e2e-bucket-1"),
        "{}",
        alerts[0]
    );
    assert!(alerts[0].contains("warden rollback"));

    // The evidence chain verifies; rollback restores the before-state and is recorded.
    let records = evidence_verifies(&flow).await;
    // The newest change to mallory's Deny (the bucket event's, merged into the role event's):
    // rolling back the older one is refused, since the live state is no longer what it left.
    let denies: Vec<_> = records
        .iter()
        .filter(|r| {
            r.kind == RecordKind::Change
                && r.body["role"] == "deny"
                && r.target.as_deref() == Some("arn:aws:iam::123456789012:user/mallory")
        })
        .collect();
    assert_eq!(denies.len(), 2);
    assert!(
        flow.rollback(&denies[0].id, false).await.is_err(),
        "stale rollback refused"
    );
    let deny = denies[1];
    let (rec, done) = flow.rollback(&deny.id, false).await.unwrap();
    // A second rollback finds the first one's record: rolled back already, nothing changed.
    let again = flow.rollback(&deny.id, false).await;
    assert_eq!(rec.kind, RecordKind::Rollback);
    assert_eq!(done.after, deny.body["before"]);
    assert!(
        matches!(&again, Err(FlowError::AlreadyRolledBack { by: Some((by, _)), .. }) if *by == rec.id),
        "a second rollback says it is rolled back already: {again:?}"
    );
    assert!(
        bucket_put("payments-data").await.is_ok(),
        "the bucket Deny is rolled back"
    );
    assert!(
        !mallory_puts_role_policy(&s, "app-deploy", "after")
            .await
            .unwrap(),
        "the role Deny stays"
    );
    evidence_verifies(&flow).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_event_delivered_twice_is_enforced_once() {
    let (aws, s) = start().await;
    let event = escalation_event("e2e-dup-1", "app-deploy");
    s.emit(&event).await.unwrap();
    s.emit(&event).await.unwrap(); // EventBridge adds its own id and time: not deduplicated by content
    let (flow, config) = demo::flow(&s, &[]).unwrap();
    let stats = demo::work_once(&aws, &s, &flow, &config).await.unwrap();
    // Both reach the intake; the forwarder sends both with the eventID as deduplication id, and
    // the work queue keeps one.
    assert_eq!((stats.forwarded, stats.messages), (2, 1), "{stats:?}");
    // Past SQS's 5-minute deduplication window (another id here), the ledger's claim of the eventID
    // is what keeps it to one enforcement.
    let body = json!({"version": "0", "id": "eb-later", "detail-type": "AWS API Call via CloudTrail", "source": "aws.iam", "account": demo::ACCOUNT, "region": "us-east-1", "detail": event}).to_string();
    s.warden
        .clients
        .sqs
        .send_message()
        .queue_url(s.init.get("WARDEN_QUEUE_URL").unwrap())
        .message_body(body)
        .message_group_id(policy_rules::lane::lane_of(&event.to_string()).group_id)
        .message_deduplication_id("e2e-dup-1-later")
        .send()
        .await
        .unwrap();
    let stats = demo::work_once(&aws, &s, &flow, &config).await.unwrap();
    assert_eq!(stats.messages, 1, "{stats:?}");
    let records = evidence_verifies(&flow).await;
    assert_eq!(
        records
            .iter()
            .filter(|r| r.kind == RecordKind::Decision)
            .count(),
        1
    );
    assert_eq!(s.alerts().await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_message_ends_in_the_dead_letter_queue_with_its_reason() {
    let (aws, s) = start().await;
    let queue = s.init.get("WARDEN_QUEUE_URL").unwrap().to_owned();
    let dlq = s.init.get("WARDEN_DLQ_URL").unwrap().to_owned();
    s.warden
        .clients
        .sqs
        .send_message()
        .queue_url(&queue)
        .message_body(
            "{\"detail-type\": \"AWS API Call via CloudTrail\", \"detail\": {\"eventSource\": 7",
        )
        .message_group_id("warden")
        .message_deduplication_id("bad-1")
        .send()
        .await
        .unwrap();
    let (flow, config) = demo::flow(&s, &[]).unwrap();
    let stats = demo::work_once(&aws, &s, &flow, &config).await.unwrap();
    assert_eq!(stats.dead_lettered, 1);
    let r = s
        .warden
        .clients
        .sqs
        .receive_message()
        .queue_url(&dlq)
        .message_attribute_names("All")
        .send()
        .await
        .unwrap();
    let m = &r.messages()[0];
    let reason = m.message_attributes().unwrap()["warden_reason"]
        .string_value()
        .unwrap()
        .to_owned();
    assert!(
        reason.contains("not a CloudTrail event Warden can read"),
        "{reason}"
    );
    assert_eq!(queue_depth(&s, &queue).await, 0, "not retried forever");
    let records = evidence_verifies(&flow).await;
    assert!(records.iter().any(|r| r.kind == RecordKind::Error));
    assert_eq!(s.alerts().await.unwrap().len(), 1, "alerted once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_root_identity_center_and_monitor_mode_change_nothing() {
    let (aws, s) = start().await;
    let admin_call = user_call(
        "admin",
        "iam.amazonaws.com",
        "PutRolePolicy",
        json!({"roleName": "app-deploy", "policyName": "ops", "policyDocument": ESCALATE}),
        "e2e-admin-1",
    );
    s.emit(&admin_call).await.unwrap();
    let req = json!({"roleName": "app-deploy", "policyName": "x", "policyDocument": ESCALATE});
    s.emit(&demo::root_call(
        "iam.amazonaws.com",
        "PutRolePolicy",
        req.clone(),
        "e2e-root-1",
    ))
    .await
    .unwrap();
    s.emit(&demo::sso_call(
        "iam.amazonaws.com",
        "PutRolePolicy",
        req,
        "e2e-sso-1",
    ))
    .await
    .unwrap();
    let (flow, config) = demo::flow(&s, &[]).unwrap();
    demo::work_once(&aws, &s, &flow, &config).await.unwrap();
    let records = evidence_verifies(&flow).await;
    assert!(
        records.iter().all(|r| r.kind == RecordKind::Decision),
        "nothing changed"
    );
    let verdict = |id: &str| {
        records
            .iter()
            .find(|r| r.event_id.as_deref() == Some(id))
            .map(|r| r.body["verdict"].as_str().unwrap().to_owned())
    };
    assert_eq!(verdict("e2e-admin-1").as_deref(), Some("allow"));
    assert_eq!(verdict("e2e-root-1").as_deref(), Some("alert"));
    assert_eq!(verdict("e2e-sso-1").as_deref(), Some("alert"));
    let alerts = s.alerts().await.unwrap();
    assert_eq!(
        alerts.len(),
        2,
        "root and Identity Center: an alert each, the admin none"
    );
    assert!(alerts.iter().any(|a| a.contains("to do:")));

    // Monitor mode: the violation is decided and alerted, nothing is applied.
    s.emit(&escalation_event("e2e-monitor-1", "app-deploy"))
        .await
        .unwrap();
    let (flow, config) = demo::flow(&s, &[("WARDEN_MODE", "monitor")]).unwrap();
    demo::work_once(&aws, &s, &flow, &config).await.unwrap();
    let deny = s
        .warden
        .clients
        .iam
        .get_user_policy()
        .user_name("mallory")
        .policy_name("WardenDeny")
        .send()
        .await;
    assert!(deny.is_err(), "no Deny in monitor mode");
    let alerts = s.alerts().await.unwrap();
    assert_eq!(alerts.len(), 1);
    assert!(alerts[0].contains("monitor mode"), "{}", alerts[0]);
    let records = evidence_verifies(&flow).await;
    let d = records
        .iter()
        .find(|r| r.event_id.as_deref() == Some("e2e-monitor-1"))
        .unwrap();
    assert!(d.body["monitor"].as_str().unwrap().contains("not applied"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_any_stage_then_redelivery_converges_to_one_change_record_set_and_alert() {
    let (_aws, s) = start().await;
    let (mut flow, _config) = demo::flow(&s, &[]).unwrap();
    // A controllable clock: each redelivery comes after the crashed attempt's lease ran out.
    let now = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(1_800_000_000));
    let clock = now.clone();
    flow.clock = std::sync::Arc::new(move || clock.load(std::sync::atomic::Ordering::SeqCst));
    let mut expected_records = 0;
    for (i, stage) in Stage::ALL.iter().enumerate() {
        let id = format!("e2e-crash-{i}");
        let role = format!("crash-role-{i}");
        s.admin
            .clients
            .iam
            .create_role()
            .role_name(&role)
            .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#)
            .send()
            .await
            .unwrap();
        // The model knows the new role (a sweep read it) before the escalation.
        s.sweep().await.unwrap();
        s.admin
            .clients
            .iam
            .put_role_policy()
            .role_name(&role)
            .policy_name("escalate")
            .policy_document(ESCALATE)
            .send()
            .await
            .unwrap();
        let body = json!({"version": "0", "id": id, "detail-type": "AWS API Call via CloudTrail", "source": "aws.iam", "account": demo::ACCOUNT, "region": "us-east-1", "detail": escalation_event(&id, &role)}).to_string();
        flow.faults.fail_once_at(*stage);
        match flow.handle_message(&format!("m-{i}"), &body, 1).await {
            warden_handler::enforce::flow::Handled::Retry(why) => {
                assert!(why.contains("injected"), "{why}")
            }
            other => panic!("stage {stage:?}: expected a retry, got {other:?}"),
        }
        now.fetch_add(1_000, std::sync::atomic::Ordering::SeqCst);
        match flow.handle_message(&format!("m-{i}"), &body, 2).await {
            warden_handler::enforce::flow::Handled::Done(s) => assert_eq!(s.len(), 1),
            other => panic!("stage {stage:?}: expected done, got {other:?}"),
        }
        // A third delivery changes nothing.
        flow.handle_message(&format!("m-{i}"), &body, 3).await;
        assert!(
            s.role_policies(&role).await.unwrap().is_empty(),
            "stage {stage:?}: undone once"
        );
        let records = evidence_verifies(&flow).await;
        let mine: Vec<_> = records
            .iter()
            .filter(|r| r.event_id.as_deref() == Some(id.as_str()))
            .collect();
        // decision + (change + verify) for the Deny and for the undo.
        assert_eq!(mine.len(), 5, "stage {stage:?}: {mine:?}");
        assert_eq!(
            mine.iter().filter(|r| r.kind == RecordKind::Change).count(),
            2
        );
        expected_records += 5;
        assert_eq!(records.len(), expected_records);
    }
    flow.flush_alerts(0).await.unwrap();
    let alerts = s.alerts().await.unwrap();
    assert_eq!(alerts.len(), 1, "one incident for mallory");
    for i in 0..Stage::ALL.len() {
        assert_eq!(
            alerts[0]
                .matches(&format!("e2e-crash-{i} (CloudTrail eventID)"))
                .count(),
            1,
            "{}",
            alerts[0]
        );
    }
    let deny = s
        .warden
        .clients
        .iam
        .get_user_policy()
        .user_name("mallory")
        .policy_name("WardenDeny")
        .send()
        .await
        .unwrap();
    let doc = policy_rules::policy::PolicyDocument::parse(deny.policy_document()).unwrap();
    let text = doc.to_json();
    for i in 0..Stage::ALL.len() {
        assert_eq!(
            text.matches(&format!("role/crash-role-{i}\"")).count(),
            1,
            "{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_or_event_of_another_account_leaves_local_principals_untouched() {
    let (aws, s) = start().await;
    // A user of another account, named like our non-admin `mallory`, writes a policy on our role
    // (made here by the admin: the emulator has one account).
    s.admin
        .clients
        .iam
        .put_role_policy()
        .role_name("app-deploy")
        .policy_name("foreign-escalate")
        .policy_document(ESCALATE)
        .send()
        .await
        .unwrap();
    let mut foreign = user_call(
        "mallory",
        "iam.amazonaws.com",
        "PutRolePolicy",
        json!({"roleName": "app-deploy", "policyName": "foreign-escalate", "policyDocument": ESCALATE}),
        "e2e-foreign-caller",
    );
    foreign["userIdentity"]["arn"] = json!("arn:aws:iam::222233334444:user/mallory");
    foreign["userIdentity"]["accountId"] = json!("222233334444");
    s.emit(&foreign).await.unwrap();
    // An event of another account altogether (routed or forged onto our bus).
    let mut elsewhere = user_call(
        "mallory",
        "iam.amazonaws.com",
        "PutRolePolicy",
        json!({"roleName": "app-deploy", "policyName": "p", "policyDocument": ESCALATE}),
        "e2e-other-account-event",
    );
    elsewhere["userIdentity"]["arn"] = json!("arn:aws:iam::999988887777:user/mallory");
    elsewhere["userIdentity"]["accountId"] = json!("999988887777");
    elsewhere["recipientAccountId"] = json!("999988887777");
    s.emit(&elsewhere).await.unwrap();

    let (flow, config) = demo::flow(&s, &[]).unwrap();
    let stats = demo::work_once(&aws, &s, &flow, &config).await.unwrap();
    assert_eq!(stats.messages, 2);

    // Our `mallory` was never touched: no Warden policy, and it may still do what it could.
    let mallorys = s.user_policies("mallory").await.unwrap();
    assert!(
        !mallorys.iter().any(|p| p.starts_with("Warden")),
        "{mallorys:?}"
    );
    assert!(mallory_puts_role_policy(&s, "app-deploy", "still-mine")
        .await
        .unwrap());
    // The foreign caller's change on our role is undone (it cannot be denied here).
    let left = s.role_policies("app-deploy").await.unwrap();
    assert!(!left.contains(&"foreign-escalate".to_owned()), "{left:?}");
    // Both are told to a person, each with why.
    let alerts = s.alerts().await.unwrap().join("\n");
    assert!(alerts.contains("222233334444:user/mallory"), "{alerts}");
    assert!(alerts.contains("another account"), "{alerts}");
    assert!(
        alerts.contains("event for account `999988887777`, Warden guards `123456789012`"),
        "{alerts}"
    );
    let records = evidence_verifies(&flow).await;
    assert!(records
        .iter()
        .all(|r| r.principal.as_deref() != Some("arn:aws:iam::123456789012:user/mallory")));
}

/// Whether mallory is denied each of the two things Warden denied her in the tamper test.
async fn mallory_denied_both(s: &Scenario) -> (bool, bool) {
    let role = !mallory_puts_role_policy(s, "app-deploy", "probe")
        .await
        .unwrap();
    let bucket = s
        .mallory
        .clients
        .s3
        .put_bucket_policy()
        .bucket("payments-data")
        .policy(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/admin"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::payments-data/*"}]}"#)
        .send()
        .await
        .is_err();
    (role, bucket)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_or_rewritten_deny_and_a_reactivated_key_are_put_back_from_wardens_record() {
    let (aws, s) = start().await;
    // Two violations, two Denies, each from its own event.
    assert!(mallory_puts_role_policy(&s, "app-deploy", "escalate")
        .await
        .unwrap());
    s.emit(&escalation_event("tamper-1", "app-deploy"))
        .await
        .unwrap();
    let (flow, config) = demo::flow(&s, &[]).unwrap();
    demo::work_once(&aws, &s, &flow, &config).await.unwrap();
    s.emit(&user_call(
        "mallory",
        "s3.amazonaws.com",
        "PutBucketPolicy",
        json!({"bucketName": "payments-data", "bucketPolicy": {"Version":"2012-10-17","Statement":[]}}),
        "tamper-2",
    ))
    .await
    .unwrap();
    demo::work_once(&aws, &s, &flow, &config).await.unwrap();
    assert_eq!(mallory_denied_both(&s).await, (true, true));
    let iam = &s.admin.clients.iam;

    // Someone deletes Warden's Deny: it comes back with both statements.
    iam.delete_user_policy()
        .user_name("mallory")
        .policy_name("WardenDeny")
        .send()
        .await
        .unwrap();
    assert_eq!(mallory_denied_both(&s).await, (false, false));
    s.emit(&user_call(
        "admin",
        "iam.amazonaws.com",
        "DeleteUserPolicy",
        json!({"userName": "mallory", "policyName": "WardenDeny"}),
        "tamper-3",
    ))
    .await
    .unwrap();
    demo::work_once(&aws, &s, &flow, &config).await.unwrap();
    assert_eq!(
        mallory_denied_both(&s).await,
        (true, true),
        "deleted Deny restored"
    );

    // Someone rewrites it to deny nothing of note: it comes back whole.
    let harmless = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iam:GetUser","Resource":"arn:aws:iam::123456789012:user/nobody"}]}"#;
    iam.put_user_policy()
        .user_name("mallory")
        .policy_name("WardenDeny")
        .policy_document(harmless)
        .send()
        .await
        .unwrap();
    assert_eq!(mallory_denied_both(&s).await, (false, false));
    s.emit(&user_call(
        "admin",
        "iam.amazonaws.com",
        "PutUserPolicy",
        json!({"userName": "mallory", "policyName": "WardenDeny", "policyDocument": harmless}),
        "tamper-4",
    ))
    .await
    .unwrap();
    demo::work_once(&aws, &s, &flow, &config).await.unwrap();
    assert_eq!(
        mallory_denied_both(&s).await,
        (true, true),
        "rewritten Deny restored"
    );
    assert!(s
        .user_policies("mallory")
        .await
        .unwrap()
        .contains(&"WardenDeny".to_owned()));

    // A key Warden deactivated, re-activated by hand, ends `Inactive` again.
    let key = iam
        .create_access_key()
        .user_name("mallory")
        .send()
        .await
        .unwrap()
        .access_key
        .unwrap()
        .access_key_id;
    let mut created = user_call(
        "mallory",
        "iam.amazonaws.com",
        "CreateAccessKey",
        json!({"userName": "mallory"}),
        "tamper-5",
    );
    created["responseElements"] =
        json!({"accessKey": {"userName": "mallory", "accessKeyId": key, "status": "Active"}});
    s.emit(&created).await.unwrap();
    demo::work_once(&aws, &s, &flow, &config).await.unwrap();
    let status = || async {
        iam.list_access_keys()
            .user_name("mallory")
            .send()
            .await
            .unwrap()
            .access_key_metadata()
            .iter()
            .find(|k| k.access_key_id() == Some(key.as_str()))
            .and_then(|k| k.status().map(|s| s.as_str().to_owned()))
    };
    assert_eq!(status().await.as_deref(), Some("Inactive"));
    iam.update_access_key()
        .user_name("mallory")
        .access_key_id(&key)
        .status(aws_sdk_iam::types::StatusType::Active)
        .send()
        .await
        .unwrap();
    s.emit(&user_call(
        "admin",
        "iam.amazonaws.com",
        "UpdateAccessKey",
        json!({"userName": "mallory", "accessKeyId": key, "status": "Active"}),
        "tamper-6",
    ))
    .await
    .unwrap();
    demo::work_once(&aws, &s, &flow, &config).await.unwrap();
    assert_eq!(
        status().await.as_deref(),
        Some("Inactive"),
        "re-activated key deactivated again"
    );

    // Each tampering is recorded as such, and told at the highest severity.
    let records = evidence_verifies(&flow).await;
    let tampers = records
        .iter()
        .filter(|r| r.kind == RecordKind::Tamper)
        .count();
    assert_eq!(tampers, 3, "delete, rewrite, key");
    let alerts = s.alerts().await.unwrap().join("\n");
    assert!(alerts.contains("tampering"), "{alerts}");

    // The documented way to lift it: `warden release`, recorded, and Warden's record cleared.
    let released = flow
        .release("arn:aws:iam::123456789012:user/mallory")
        .await
        .unwrap();
    assert_eq!(released.len(), 1, "one change: WardenDeny deleted");
    assert_eq!(mallory_denied_both(&s).await, (false, false));
    assert!(!s
        .user_policies("mallory")
        .await
        .unwrap()
        .contains(&"WardenDeny".to_owned()));
    // The admin who tampered is still denied what it did; mallory is no longer held.
    let held = flow.held_principals().await.unwrap();
    assert!(
        !held.iter().any(|p| p.ends_with(":user/mallory")),
        "{held:?}"
    );
    assert!(held.iter().any(|p| p.ends_with(":user/admin")), "{held:?}");
    assert_eq!(
        status().await.as_deref(),
        Some("Inactive"),
        "keys stay Inactive"
    );
    evidence_verifies(&flow).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_admins_public_bucket_policy_and_public_acl_are_undone() {
    let (aws, s) = start().await;
    // A policy granting everyone and another account, written by the admin on mallory's behalf
    // (the emulator has one account; the event says mallory wrote it).
    let public = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Public","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::public-site/*"},{"Sid":"Partner","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::public-site/*"},{"Sid":"App","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/admin"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::public-site/*"}]}"#;
    s.admin
        .clients
        .s3
        .put_bucket_policy()
        .bucket("public-site")
        .policy(public)
        .send()
        .await
        .unwrap();
    s.emit(&user_call(
        "mallory",
        "s3.amazonaws.com",
        "PutBucketPolicy",
        json!({"bucketName": "public-site", "bucketPolicy": serde_json::from_str::<Value>(public).unwrap()}),
        "public-policy-1",
    ))
    .await
    .unwrap();
    // A public canned ACL on another bucket.
    s.admin
        .clients
        .s3
        .put_bucket_acl()
        .bucket("payments-data")
        .acl(aws_sdk_s3::types::BucketCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    s.emit(&user_call(
        "mallory",
        "s3.amazonaws.com",
        "PutBucketAcl",
        json!({"bucketName": "payments-data", "acl": ["public-read"]}),
        "public-acl-1",
    ))
    .await
    .unwrap();

    let (flow, config) = demo::flow(&s, &[]).unwrap();
    let stats = demo::work_once(&aws, &s, &flow, &config).await.unwrap();
    assert_eq!(stats.messages, 2);

    // The outside grants are gone; the account's own grant stays.
    let left = s
        .admin
        .clients
        .s3
        .get_bucket_policy()
        .bucket("public-site")
        .send()
        .await
        .unwrap()
        .policy
        .unwrap();
    assert!(
        !left.contains("\"*\"") && !left.contains("444455556666"),
        "{left}"
    );
    assert!(left.contains("user/admin"), "{left}");
    // The ACL no longer grants to everyone; the owner keeps its grant.
    let acl = s
        .admin
        .clients
        .s3
        .get_bucket_acl()
        .bucket("payments-data")
        .send()
        .await
        .unwrap();
    let uris: Vec<&str> = acl
        .grants()
        .iter()
        .filter_map(|g| g.grantee().and_then(|g| g.uri()))
        .collect();
    assert!(!uris.iter().any(|u| u.ends_with("/AllUsers")), "{uris:?}");
    assert!(!acl.grants().is_empty(), "the owner's grant stays");
    // And mallory is denied both calls on those buckets.
    let records = evidence_verifies(&flow).await;
    assert!(records
        .iter()
        .any(|r| r.kind == RecordKind::Change && r.body["connector"] == "bucket_acl"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_version_escalation_ends_with_the_earlier_default_in_force() {
    let (aws, s) = start().await;
    let iam = &s.admin.clients.iam;
    let harmless = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"}]}"#;
    let arn = iam
        .create_policy()
        .policy_name("dev-tools")
        .policy_document(harmless)
        .send()
        .await
        .unwrap()
        .policy
        .unwrap()
        .arn
        .unwrap();
    iam.attach_user_policy()
        .user_name("mallory")
        .policy_arn(&arn)
        .send()
        .await
        .unwrap();
    // The escalation: a new default version that allows everything (made by the admin here; the
    // event says mallory made it).
    let made = iam
        .create_policy_version()
        .policy_arn(&arn)
        .policy_document(ESCALATE)
        .set_as_default(true)
        .send()
        .await
        .unwrap()
        .policy_version
        .unwrap()
        .version_id
        .unwrap();
    let mut event = user_call(
        "mallory",
        "iam.amazonaws.com",
        "CreatePolicyVersion",
        json!({"policyArn": arn, "policyDocument": ESCALATE, "setAsDefault": true}),
        "policy-version-1",
    );
    event["responseElements"] =
        json!({"policyVersion": {"versionId": made, "isDefaultVersion": true}});
    s.emit(&event).await.unwrap();
    let (flow, config) = demo::flow(&s, &[]).unwrap();
    demo::work_once(&aws, &s, &flow, &config).await.unwrap();

    let versions = iam
        .list_policy_versions()
        .policy_arn(&arn)
        .send()
        .await
        .unwrap();
    let default: Vec<&str> = versions
        .versions()
        .iter()
        .filter(|v| v.is_default_version())
        .filter_map(|v| v.version_id())
        .collect();
    assert_eq!(default, vec!["v1"], "the earlier default is back in force");
    assert!(
        versions
            .versions()
            .iter()
            .any(|v| v.version_id() == Some(made.as_str())),
        "no version is deleted"
    );
    let records = evidence_verifies(&flow).await;
    assert!(records
        .iter()
        .any(|r| r.kind == RecordKind::Change && r.body["connector"] == "policy_version"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_detached_managed_deny_is_attached_again_with_every_statement() {
    let (aws, s) = start().await;
    let iam = &s.admin.clients.iam;
    // Mallory's inline policies fill the user budget (2,048 characters), so Warden's Deny goes to
    // a Warden-owned managed policy.
    let filler: Vec<String> = (0..40)
        .map(|i| format!(r#"{{"Sid":"Read{i}","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket-{i}/*"}}"#))
        .collect();
    iam.put_user_policy()
        .user_name("mallory")
        .policy_name("big")
        .policy_document(format!(
            r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
            filler.join(",")
        ))
        .send()
        .await
        .unwrap();
    assert!(mallory_puts_role_policy(&s, "app-deploy", "escalate")
        .await
        .unwrap());
    s.emit(&escalation_event("managed-1", "app-deploy"))
        .await
        .unwrap();
    let (flow, config) = demo::flow(&s, &[]).unwrap();
    demo::work_once(&aws, &s, &flow, &config).await.unwrap();
    let arn = "arn:aws:iam::123456789012:policy/warden/WardenDeny-user-mallory";
    let attached = || async {
        iam.list_attached_user_policies()
            .user_name("mallory")
            .send()
            .await
            .unwrap()
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_arn().map(str::to_owned))
            .collect::<Vec<_>>()
    };
    assert!(
        attached().await.contains(&arn.to_owned()),
        "{:?}",
        attached().await
    );
    assert!(!mallory_puts_role_policy(&s, "app-deploy", "again")
        .await
        .unwrap());

    // Someone detaches it: Warden attaches it again, from its own record.
    iam.detach_user_policy()
        .user_name("mallory")
        .policy_arn(arn)
        .send()
        .await
        .unwrap();
    assert!(mallory_puts_role_policy(&s, "app-deploy", "while-detached")
        .await
        .unwrap());
    s.emit(&user_call(
        "admin",
        "iam.amazonaws.com",
        "DetachUserPolicy",
        json!({"userName": "mallory", "policyArn": arn}),
        "managed-2",
    ))
    .await
    .unwrap();
    demo::work_once(&aws, &s, &flow, &config).await.unwrap();
    assert!(attached().await.contains(&arn.to_owned()), "re-attached");
    assert!(!mallory_puts_role_policy(&s, "app-deploy", "after")
        .await
        .unwrap());
    let records = evidence_verifies(&flow).await;
    assert_eq!(
        records
            .iter()
            .filter(|r| r.kind == RecordKind::Tamper)
            .count(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_trail_is_started_again() {
    let (aws, s) = start().await;
    let ct = &s.admin.clients.cloudtrail;
    ct.create_trail()
        .name("org-trail")
        .s3_bucket_name("payments-data")
        .send()
        .await
        .unwrap();
    ct.start_logging().name("org-trail").send().await.unwrap();
    ct.stop_logging().name("org-trail").send().await.unwrap();
    let logging = || async {
        ct.get_trail_status()
            .name("org-trail")
            .send()
            .await
            .unwrap()
            .is_logging
    };
    assert_eq!(logging().await, Some(false));
    s.emit(&user_call(
        "mallory",
        "cloudtrail.amazonaws.com",
        "StopLogging",
        json!({"name": "org-trail"}),
        "trail-1",
    ))
    .await
    .unwrap();
    let (flow, config) = demo::flow(&s, &[]).unwrap();
    let stats = demo::work_once(&aws, &s, &flow, &config).await.unwrap();
    assert_eq!(stats.messages, 1);
    assert_eq!(logging().await, Some(true), "logging restarted");
    let records = evidence_verifies(&flow).await;
    assert!(records
        .iter()
        .any(|r| r.kind == RecordKind::Change && r.body["connector"] == "trail_logging"));
}
