//! End to end on the local AWS: the account model. A sweep (Warden's read of the account's
//! authorization details, as its function role) seeds the model; every event the flow processes
//! updates it; the undo of a change that overwrote something restores what the model held before
//! the event, and a decision about group membership uses the groups as they were when the call was
//! made. Policy enforcement is on the whole time (`demo::Scenario`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use serde_json::{json, Value};
use warden_handler::enforce::flow::iso;
use warden_handler::local::demo::{self, user_call, Scenario, ESCALATE};
use warden_handler::local::emulator::LocalAws;

const HARMLESS: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"}]}"#;
const TRUST_EC2: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
const TRUST_MALLORY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/mallory"},"Action":"sts:AssumeRole"}]}"#;

async fn start() -> (LocalAws, Scenario) {
    if std::env::var_os("RUST_LOG").is_some() {
        warden_handler::assembly::init_logging(false);
    }
    let aws = LocalAws::start().expect("the local AWS starts (moto, installed by the project)");
    let scenario = Scenario::setup(&aws)
        .await
        .expect("the demo account is set up");
    (aws, scenario)
}

/// A policy document as Warden compares them (IAM returns them URL-encoded).
fn doc(text: &str) -> Value {
    policy_rules::model::compact(&Value::String(text.to_owned())).unwrap()
}

/// A customer-managed policy holding `HARMLESS`, made by the admin: its ARN.
async fn create_policy(iam: &aws_sdk_iam::Client, name: &str) -> String {
    iam.create_policy()
        .policy_name(name)
        .policy_document(HARMLESS)
        .send()
        .await
        .unwrap()
        .policy
        .unwrap()
        .arn
        .unwrap()
}

fn now() -> i64 {
    (warden_handler::enforce::flow::system_clock())()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overwritten_inline_policy_and_trust_policy_get_their_earlier_documents_back() {
    let (aws, s) = start().await;
    let iam = &s.admin.clients.iam;
    iam.put_role_policy()
        .role_name("app-deploy")
        .policy_name("reports-read")
        .policy_document(HARMLESS)
        .send()
        .await
        .unwrap();
    s.sweep().await.unwrap();
    // The changes (made by the admin here; the events say mallory made them).
    iam.put_role_policy()
        .role_name("app-deploy")
        .policy_name("reports-read")
        .policy_document(ESCALATE)
        .send()
        .await
        .unwrap();
    iam.update_assume_role_policy()
        .role_name("billing-reports")
        .policy_document(TRUST_MALLORY)
        .send()
        .await
        .unwrap();
    s.emit(&user_call(
        "mallory",
        "iam.amazonaws.com",
        "PutRolePolicy",
        json!({"roleName": "app-deploy", "policyName": "reports-read", "policyDocument": ESCALATE}),
        "model-overwrite-1",
    ))
    .await
    .unwrap();
    s.emit(&user_call(
        "mallory",
        "iam.amazonaws.com",
        "UpdateAssumeRolePolicy",
        json!({"roleName": "billing-reports", "policyDocument": TRUST_MALLORY}),
        "model-trust-1",
    ))
    .await
    .unwrap();
    let (flow, config) = demo::flow(&s, &[]).unwrap();
    demo::work_once(&aws, &s, &flow, &config).await.unwrap();

    // The inline policy holds its earlier document again: not deleted, not left escalated.
    let back = iam
        .get_role_policy()
        .role_name("app-deploy")
        .policy_name("reports-read")
        .send()
        .await
        .unwrap();
    assert_eq!(doc(back.policy_document()), doc(HARMLESS));
    // The trust policy is the earlier one.
    let role = iam
        .get_role()
        .role_name("billing-reports")
        .send()
        .await
        .unwrap();
    let trust = role
        .role
        .unwrap()
        .assume_role_policy_document
        .unwrap_or_default();
    assert_eq!(doc(&trust), doc(TRUST_EC2));
    // The evidence says where the before-state came from.
    let records = flow.evidence.list().await.unwrap();
    let decision = records
        .iter()
        .find(|r| r.event_id.as_deref() == Some("model-overwrite-1"))
        .unwrap();
    let before = decision.body["model_before"].to_string();
    assert!(before.contains("role/app-deploy"), "{before}");
    assert!(before.contains("sweep"), "{before}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_version_escalation_over_several_versions_restores_the_default_the_model_held() {
    let (aws, s) = start().await;
    let iam = &s.admin.clients.iam;
    let arn = create_policy(iam, "dev-tools").await;
    iam.attach_user_policy()
        .user_name("mallory")
        .policy_arn(&arn)
        .send()
        .await
        .unwrap();
    // A legitimate second version, the default when the sweep reads the account.
    iam.create_policy_version()
        .policy_arn(&arn)
        .policy_document(HARMLESS.replace("ListAllMyBuckets", "GetBucketLocation"))
        .set_as_default(true)
        .send()
        .await
        .unwrap();
    s.sweep().await.unwrap();
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
    assert_eq!(made, "v3");
    let mut event = user_call(
        "mallory",
        "iam.amazonaws.com",
        "CreatePolicyVersion",
        json!({"policyArn": arn, "policyDocument": ESCALATE, "setAsDefault": true}),
        "model-version-1",
    );
    event["responseElements"] =
        json!({"policyVersion": {"versionId": made, "isDefaultVersion": true}});
    s.emit(&event).await.unwrap();
    let (flow, config) = demo::flow(&s, &[]).unwrap();
    demo::work_once(&aws, &s, &flow, &config).await.unwrap();

    // Three versions: the live read alone cannot tell which was the default before; the model can.
    let versions = iam
        .list_policy_versions()
        .policy_arn(&arn)
        .send()
        .await
        .unwrap();
    let default: Vec<_> = versions
        .versions()
        .iter()
        .filter(|v| v.is_default_version())
        .filter_map(|v| v.version_id())
        .collect();
    assert_eq!(default, ["v2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_removed_after_a_change_is_judged_by_the_groups_at_the_time_of_the_change() {
    let (aws, s) = start().await;
    let iam = &s.admin.clients.iam;
    let t = now();
    // The admin's legitimate change at t, and the admin's removal from the admins a second later
    // (both live), delivered removal first (queue order across lanes is not time order).
    iam.put_role_policy()
        .role_name("billing-reports")
        .policy_name("reports-read")
        .policy_document(HARMLESS)
        .send()
        .await
        .unwrap();
    let mut change = user_call(
        "admin",
        "iam.amazonaws.com",
        "PutRolePolicy",
        json!({"roleName": "billing-reports", "policyName": "reports-read", "policyDocument": HARMLESS}),
        "model-admin-change-1",
    );
    change["eventTime"] = json!(iso(t));
    let mut removal = user_call(
        "admin",
        "iam.amazonaws.com",
        "RemoveUserFromGroup",
        json!({"groupName": "Administrators", "userName": "admin"}),
        "model-admin-removed-1",
    );
    removal["eventTime"] = json!(iso(t + 1));
    s.emit(&removal).await.unwrap();
    s.emit(&change).await.unwrap();
    iam.remove_user_from_group()
        .group_name("Administrators")
        .user_name("admin")
        .send()
        .await
        .unwrap();
    let (flow, config) = demo::flow(&s, &[]).unwrap();
    demo::work_once(&aws, &s, &flow, &config).await.unwrap();

    let records = flow.evidence.list().await.unwrap();
    let decision = records
        .iter()
        .find(|r| r.event_id.as_deref() == Some("model-admin-change-1"))
        .expect("the change was decided");
    assert_eq!(decision.body["verdict"], "allow", "{}", decision.body);
    assert_eq!(decision.body["groups_before"], json!(["Administrators"]));
    assert!(
        decision.body["groups_from"]
            .as_str()
            .unwrap()
            .contains("user/admin"),
        "{}",
        decision.body
    );
    // Nothing was denied or undone.
    let denied = s
        .warden
        .clients
        .iam
        .get_user_policy()
        .user_name("admin")
        .policy_name("WardenDeny")
        .send()
        .await;
    assert!(denied.is_err(), "no Deny on the admin");
    assert!(s
        .role_policies("billing-reports")
        .await
        .unwrap()
        .contains(&"reports-read".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_resumes_across_invocations_and_counts_its_requests() {
    use warden_handler::enforce::ports::AccountModel;
    use warden_handler::stores::dynamo::{DynamoCheckpoints, DynamoModel};
    use warden_handler::sweep::run::{Phase, Sweeper};

    let (_aws, s) = start().await;
    for i in 0..12 {
        s.admin
            .clients
            .s3
            .create_bucket()
            .bucket(format!("sweep-bucket-{i:02}"))
            .send()
            .await
            .unwrap();
    }
    s.admin
        .clients
        .s3
        .put_bucket_policy()
        .bucket("sweep-bucket-03")
        .policy(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::sweep-bucket-03/*"}]}"#)
        .send()
        .await
        .unwrap();
    s.admin
        .clients
        .cloudtrail
        .create_trail()
        .name("org-trail")
        .s3_bucket_name("sweep-bucket-00")
        .send()
        .await
        .unwrap();
    let config = s.config(&[]).unwrap();
    let clients = &s.warden.clients;
    let model = DynamoModel::new(clients.clone(), config.state_table.clone(), demo::ACCOUNT);
    let checkpoints = DynamoCheckpoints::new(clients.clone(), config.state_table.clone());
    let connectors = warden_handler::connectors::Connectors::standard(clients);
    let clock = warden_handler::enforce::flow::system_clock();
    let sweeper = Sweeper {
        clients,
        account: demo::ACCOUNT,
        connectors: &connectors,
        model: &model,
        checkpoints: &checkpoints,
        clock: clock.as_ref(),
        flow: None,
        max_changes: 20,
        mode: policy_rules::rules::Mode::Monitor,
    };
    let started = sweeper.start().await.unwrap();
    // A second start while it runs is the same sweep.
    assert_eq!(sweeper.start().await.unwrap().id, started.id);
    // Every invocation runs out of time at once: each does one unit and saves its checkpoint.
    let mut phases = Vec::new();
    let mut last = None;
    for _ in 0..20 {
        let c = sweeper.advance(&|| false).await.unwrap().unwrap();
        phases.push(c.phase.clone());
        let done = c.is_done();
        last = Some(c);
        if done {
            break;
        }
    }
    let c = last.unwrap();
    assert!(c.is_done(), "{phases:?}");
    // GAAD (one page on the emulator), the bucket list with the account's public access block,
    // then buckets ten at a time.
    assert!(matches!(phases[0], Phase::ListBuckets), "{phases:?}");
    assert!(c.invocations >= 3, "{c:?}");
    assert_eq!(c.gaad_pages, 1);
    // The demo's 2 buckets, the 12 here, and the stack's own.
    assert!(c.buckets_read >= 14, "{c:?}");
    assert!(c.buckets_unread.is_empty(), "{c:?}");
    // 4 reads a bucket, and a `GetBucketLocation` for each bucket whose region the process had
    // not learnt (the emulator's `ListBuckets` gives no `BucketRegion`).
    let fixed = c.gaad_pages + 1 + 1 + 1 + 2 * c.trails_read;
    assert!(
        c.account_requests >= fixed + 4 * c.buckets_read
            && c.account_requests <= fixed + 5 * c.buckets_read,
        "{c:?}"
    );
    assert!(
        c.notes
            .iter()
            .all(|n| !n.contains("account's public access block")),
        "the account's block is read as Warden: {:?}",
        c.notes
    );
    // The model holds what was read.
    let got = model
        .get(&[
            policy_rules::model::EntryKey::bucket("sweep-bucket-03"),
            policy_rules::model::EntryKey::user("mallory"),
            policy_rules::model::EntryKey::trail("org-trail"),
        ])
        .await
        .unwrap();
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(c.trails_read, 1);
    // The trail's settings and selectors, for the commands after a DeleteTrail or UpdateTrail.
    let trail = got
        .iter()
        .find(|(e, _)| e.key.as_str() == "trail/org-trail")
        .unwrap();
    let policy_rules::model::State::Trail {
        settings: Some(settings),
        selectors: Some(selectors),
        ..
    } = &trail.0.latest().unwrap().state
    else {
        panic!("{trail:?}")
    };
    assert_eq!(settings["s3BucketName"], "sweep-bucket-00");
    assert!(selectors.get("eventSelectors").is_some(), "{selectors}");
    let bucket = got
        .iter()
        .find(|(e, _)| e.key.as_str() == "bucket/sweep-bucket-03")
        .unwrap();
    let policy_rules::model::State::Bucket { policy, .. } = &bucket.0.latest().unwrap().state
    else {
        panic!("{bucket:?}")
    };
    assert!(policy
        .as_ref()
        .unwrap()
        .to_string()
        .contains("sweep-bucket-03"));
    // Done: advancing again changes nothing, and a new start begins a new sweep.
    let again = sweeper.advance(&|| true).await.unwrap().unwrap();
    assert_eq!(again.invocations, c.invocations);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_found_by_a_sweep_is_put_back_from_wardens_record() {
    let (aws, s) = start().await;
    assert!(demo::mallory_puts_role_policy(&s, "app-deploy", "escalate")
        .await
        .unwrap());
    s.emit(&demo::escalation_event("drift-1", "app-deploy"))
        .await
        .unwrap();
    let (flow, config) = demo::flow(&s, &[]).unwrap();
    demo::work_once(&aws, &s, &flow, &config).await.unwrap();
    let iam = &s.admin.clients.iam;
    let deny = |iam: aws_sdk_iam::Client| async move {
        iam.get_user_policy()
            .user_name("mallory")
            .policy_name("WardenDeny")
            .send()
            .await
    };
    assert!(deny(iam.clone()).await.is_ok(), "mallory is denied");
    // Someone deletes the Deny, and no event reports it (the trail was off).
    iam.delete_user_policy()
        .user_name("mallory")
        .policy_name("WardenDeny")
        .send()
        .await
        .unwrap();
    let key = policy_rules::held::key_of(demo::ACCOUNT, false, "mallory");
    let records = flow.put_back(&key, "sweep `test`").await.unwrap();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].kind, policy_rules::evidence::RecordKind::Tamper);
    assert!(
        records[0].body["what"]
            .as_str()
            .unwrap()
            .starts_with("drift: "),
        "{}",
        records[0].body
    );
    assert!(deny(iam.clone()).await.is_ok(), "the Deny is back");
    // In force again: a second look changes nothing.
    assert!(flow
        .put_back(&key, "sweep `test`")
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_sweep_finds_each_kind_puts_drift_back_and_stays_within_its_request_count() {
    use warden_handler::stores::dynamo::{DynamoCheckpoints, DynamoModel};
    use warden_handler::sweep::run::Sweeper;

    let (aws, s) = start().await;
    let iam = &s.admin.clients.iam;
    // Drift: mallory denied by Warden, then the Deny deleted with no event reporting it.
    assert!(demo::mallory_puts_role_policy(&s, "app-deploy", "escalate")
        .await
        .unwrap());
    s.emit(&demo::escalation_event("sweep-drift-1", "app-deploy"))
        .await
        .unwrap();
    let (flow, config) = demo::flow(&s, &[]).unwrap();
    demo::work_once(&aws, &s, &flow, &config).await.unwrap();
    iam.delete_user_policy()
        .user_name("mallory")
        .policy_name("WardenDeny")
        .send()
        .await
        .unwrap();
    // An effective admin and a standing violation: a user who may write any user's policies.
    iam.create_user().user_name("eve").send().await.unwrap();
    iam.put_user_policy()
        .user_name("eve")
        .policy_name("self-service")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:PutUserPolicy","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    // A console password, which only the credential report tells the sweep.
    iam.create_login_profile()
        .user_name("eve")
        .password("correct-Horse-battery-9")
        .send()
        .await
        .unwrap();
    // A user the model knows, deleted with no event Warden saw.
    iam.create_user()
        .user_name("old-contractor")
        .send()
        .await
        .unwrap();
    s.sweep().await.unwrap();
    iam.delete_user()
        .user_name("old-contractor")
        .send()
        .await
        .unwrap();
    // Exposure: a public bucket policy.
    s.admin
        .clients
        .s3
        .put_bucket_policy()
        .bucket("public-site")
        .policy(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::public-site/*"}]}"#)
        .send()
        .await
        .unwrap();
    // Warden drift in its own event path: an admin disables Warden's IAM rule (a disabled rule
    // cannot report its own disabling).
    let events = &s.admin.clients.events;
    let iam_rule = format!("{}-iam-1", demo::STACK);
    events.disable_rule().name(&iam_rule).send().await.unwrap();
    let wardens_rules = events
        .list_rules()
        .name_prefix(format!("{}-", demo::STACK))
        .send()
        .await
        .unwrap()
        .rules()
        .len();
    let clients = &s.warden.clients;
    let model = DynamoModel::new(clients.clone(), config.state_table.clone(), demo::ACCOUNT);
    let checkpoints = DynamoCheckpoints::new(clients.clone(), config.state_table.clone());
    let clock = warden_handler::enforce::flow::system_clock();
    let sweeper = Sweeper {
        clients,
        account: demo::ACCOUNT,
        connectors: &flow.connectors,
        model: &model,
        checkpoints: &checkpoints,
        clock: clock.as_ref(),
        flow: Some(&flow),
        max_changes: 20,
        mode: policy_rules::rules::Mode::Monitor,
    };
    sweeper.start().await.unwrap();
    let mut c = None;
    for _ in 0..20 {
        let now = sweeper.advance(&|| false).await.unwrap().unwrap();
        let done = now.is_done();
        c = Some(now);
        if done {
            break;
        }
    }
    let c = c.unwrap();
    assert!(c.is_done(), "{c:?}");
    let kinds: Vec<&str> = c.findings.iter().map(|(k, _)| k.as_str()).collect();
    for kind in [
        "drift",
        "effective-admin",
        "exposure",
        "standing-violation",
        "unused",
    ] {
        assert!(kinds.contains(&kind), "no {kind} finding: {c:?}");
    }
    // A monitoring sweep changes nothing but drift: eve keeps her access, the bucket its policy.
    assert!(c.made.is_empty(), "{:?}", c.made);
    assert!(iam
        .get_user_policy()
        .user_name("eve")
        .policy_name("WardenDeny")
        .send()
        .await
        .is_err());
    // The drift was put back: mallory's Deny is in force again.
    assert_eq!(
        c.put_back,
        ["arn:aws:iam::123456789012:user/mallory".to_owned()],
        "{c:?}"
    );
    assert!(iam
        .get_user_policy()
        .user_name("mallory")
        .policy_name("WardenDeny")
        .send()
        .await
        .is_ok());
    // GAAD pages + 1 bucket list + 1 account block + 4 per bucket (and its location, when not
    // yet known) + 1 trail list + 2 per trail + 1 rule list + 1 per Warden rule (its targets) +
    // 1 `DescribeOrganization` (in no organization) + 1 per Warden queue (intake, work,
    // dead-letter; a `warden init` deployment has no function) + the credential report
    // (generate, polls, get): nothing per principal.
    let reads = c.gaad_pages
        + 1
        + 1
        + 4 * c.buckets_read
        + 1
        + 2 * c.trails_read
        + 1
        + wardens_rules
        + 1
        + 3;
    assert!(
        c.account_requests >= reads + 2 && c.account_requests <= reads + 2 + 8 + c.buckets_read,
        "{c:?}"
    );
    // Everything was read, the organization's policies and Warden's queues too (there are no
    // organization policies here, and `warden init`'s queues are as it made them).
    assert!(
        c.notes
            .iter()
            .all(|n| !n.contains("organization") && !n.contains("queues")),
        "{:?}",
        c.notes
    );
    let recorded: Vec<String> = flow
        .evidence
        .list()
        .await
        .unwrap()
        .iter()
        .filter_map(|r| r.body["finding"]["type"].as_str().map(str::to_owned))
        .collect();
    assert!(
        recorded.iter().any(|t| t == "WardenRuleDisabled"),
        "{recorded:?}"
    );
    assert!(
        !recorded
            .iter()
            .any(|t| t.starts_with("WardenQueue") || t == "WardenDeadLetters"),
        "{recorded:?}"
    );
    // The deleted user is gone from the model, not judged.
    use warden_handler::enforce::ports::AccountModel;
    let gone = model
        .get(&[policy_rules::model::EntryKey::user("old-contractor")])
        .await
        .unwrap();
    assert_eq!(
        gone[0].0.latest().unwrap().state,
        policy_rules::model::State::Absent
    );
    // The credential report filled in what GAAD does not carry: eve's password, and no keys.
    let eve = model
        .get(&[policy_rules::model::EntryKey::user("eve")])
        .await
        .unwrap();
    match &eve[0].0.latest().unwrap().state {
        policy_rules::model::State::User {
            login_profile,
            keys,
            ..
        } => {
            assert_eq!(*login_profile, Some(true));
            assert_eq!(keys.as_ref().map(|k| k.len()), Some(0));
        }
        other => panic!("{other:?}"),
    }
    // One alert summarises the sweep; it names the disabled rule, and no rule of the stack as
    // deployed is taken for changed.
    let alerts = s.alerts().await.unwrap();
    let summary = alerts
        .iter()
        .find(|a| a.contains("Warden swept account"))
        .unwrap_or_else(|| panic!("{alerts:?}"));
    assert!(
        summary.contains(&format!(
            "WardenRuleDisabled arn:aws:events:us-east-1:{}:rule/{iam_rule}",
            demo::ACCOUNT
        )),
        "{summary}"
    );
    for t in [
        "WardenRuleMissing",
        "WardenRuleChanged",
        "WardenRuleTargetRemoved",
    ] {
        assert!(!summary.contains(t), "{t}: {summary}");
    }
    // Every finding is in the evidence trail, as a decision of this sweep, and the chain holds.
    let records = flow.evidence.list().await.unwrap();
    let head = flow.evidence.head().await.unwrap();
    policy_rules::evidence::verify(&records, head.as_ref().map(|(s, h)| (*s, h.as_str()))).unwrap();
    let of_sweep: Vec<_> = records
        .iter()
        .filter(|r| r.body["sweep"] == c.id.as_str())
        .collect();
    let total: usize = c.findings.iter().map(|(_, n)| n).sum();
    assert_eq!(of_sweep.len(), total, "{c:?}");
    assert!(
        of_sweep
            .iter()
            .any(|r| r.kind == policy_rules::evidence::RecordKind::Decision
                && r.body["finding"]["type"] == "WardenRuleDisabled"
                && r.target.as_deref().is_some_and(|t| t.ends_with(&iam_rule))),
        "{of_sweep:#?}"
    );
}

/// Issue 11 §2 "What it does": a sweep in `enforce` mode makes the findings' planned changes
/// through the live path's parts. A standing violation gets the narrow Deny, held in Warden's
/// record; a public grant is cut from the bucket's live policy and nothing else of it; each
/// change is a `change` evidence record, and `warden rollback` of the bucket's change puts the
/// policy back as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enforcing_sweep_denies_a_standing_violation_and_cuts_a_public_grant_and_rolls_back() {
    use warden_handler::stores::dynamo::{DynamoCheckpoints, DynamoModel};
    use warden_handler::sweep::run::Sweeper;

    let (_aws, s) = start().await;
    let iam = &s.admin.clients.iam;
    iam.create_user().user_name("eve").send().await.unwrap();
    iam.put_user_policy()
        .user_name("eve")
        .policy_name("self-service")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:PutUserPolicy","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    let public = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Everyone","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::public-site/*"},{"Sid":"Deployer","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/app-deploy"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::public-site/*"}]}"#;
    let s3 = &s.admin.clients.s3;
    s3.put_bucket_policy()
        .bucket("public-site")
        .policy(public)
        .send()
        .await
        .unwrap();
    let (flow, config) = demo::flow(&s, &[]).unwrap();
    let clients = &s.warden.clients;
    let model = DynamoModel::new(clients.clone(), config.state_table.clone(), demo::ACCOUNT);
    let checkpoints = DynamoCheckpoints::new(clients.clone(), config.state_table.clone());
    let clock = warden_handler::enforce::flow::system_clock();
    let sweeper = Sweeper {
        clients,
        account: demo::ACCOUNT,
        connectors: &flow.connectors,
        model: &model,
        checkpoints: &checkpoints,
        clock: clock.as_ref(),
        flow: Some(&flow),
        max_changes: 100,
        mode: policy_rules::rules::Mode::Enforce,
    };
    sweeper.start().await.unwrap();
    let c = loop {
        let c = sweeper.advance(&|| true).await.unwrap().unwrap();
        if c.is_done() {
            break c;
        }
    };
    let eve = "arn:aws:iam::123456789012:user/eve";
    let made_on = |subject: &str, step: &str| {
        c.made
            .iter()
            .find(|m| m.subject == subject && m.step == step)
            .unwrap_or_else(|| panic!("nothing made on {subject} ({step}): {:#?}", c.made))
            .clone()
    };
    // The narrow Deny: eve's own inline `WardenDeny`, denying what the rule guards.
    let denied = made_on(eve, "deny");
    assert!(denied.record.is_some(), "{denied:?}");
    let deny = iam
        .get_user_policy()
        .user_name("eve")
        .policy_name("WardenDeny")
        .send()
        .await
        .unwrap();
    let deny = doc(deny.policy_document());
    assert!(deny.to_string().contains("iam:PutUserPolicy"), "{deny}");
    assert!(!deny.to_string().contains("\"Action\":\"*\""), "{deny}");
    // Held in Warden's record, so a later sweep puts it back if removed.
    assert!(flow
        .held_principals()
        .await
        .unwrap()
        .iter()
        .any(|p| p == eve));
    // Eve's own policy is untouched.
    assert!(iam
        .get_user_policy()
        .user_name("eve")
        .policy_name("self-service")
        .send()
        .await
        .is_ok());
    // The public grant is cut; the deployer's grant stays.
    let cut = made_on("arn:aws:s3:::public-site", "remove-outside-grants");
    let id = cut.record.clone().unwrap_or_else(|| panic!("{cut:?}"));
    let live = s3
        .get_bucket_policy()
        .bucket("public-site")
        .send()
        .await
        .unwrap();
    let live: Value = serde_json::from_str(live.policy().unwrap()).unwrap();
    let sids: Vec<&str> = live["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|st| st["Sid"].as_str())
        .collect();
    assert_eq!(sids, ["Deployer"], "{live}");
    // The change is in the evidence trail with its before-state, and rolls back.
    let record = flow.evidence.get(&id).await.unwrap().unwrap();
    assert_eq!(record.kind, policy_rules::evidence::RecordKind::Change);
    assert!(
        record.body["what"]
            .as_str()
            .is_some_and(|w| w.contains("finding `PublicBucketPolicy`")),
        "{}",
        record.body
    );
    flow.rollback(&id, false).await.unwrap();
    let back = s3
        .get_bucket_policy()
        .bucket("public-site")
        .send()
        .await
        .unwrap();
    let back: Value = serde_json::from_str(back.policy().unwrap()).unwrap();
    assert_eq!(back, serde_json::from_str::<Value>(public).unwrap());
    // The summary alert says what was changed, with the record to roll back.
    let alerts = s.alerts().await.unwrap();
    let summary = alerts
        .iter()
        .find(|a| a.contains("Warden swept account"))
        .unwrap_or_else(|| panic!("{alerts:?}"));
    assert!(
        summary.contains(&format!("change record {id}")),
        "{summary}"
    );
}

/// Issue 9 §4: an EC2 call names an instance profile, not a role. The sweep reads which role each
/// profile holds (GAAD's `InstanceProfileList`), so a non-admin's `RunInstances` with a profile
/// holding a break-glass role is denied `iam:PassRole` on exactly that role's ARN; a role in
/// another profile stays passable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_run_with_a_profile_holding_a_privileged_role_denies_passing_that_role() {
    use policy_rules::evaluate::{evaluate, Answer, Policies, Request, RequestContext};
    use policy_rules::policy::PolicyDocument;

    let (aws, s) = start().await;
    let iam = &s.admin.clients.iam;
    let mut arns = Vec::new();
    for (role, profile) in [
        ("break-glass-ops", "ops-profile"),
        ("web-app", "web-profile"),
    ] {
        let arn = iam
            .create_role()
            .role_name(role)
            .assume_role_policy_document(TRUST_EC2)
            .send()
            .await
            .unwrap()
            .role
            .unwrap()
            .arn;
        iam.create_instance_profile()
            .instance_profile_name(profile)
            .send()
            .await
            .unwrap();
        iam.add_role_to_instance_profile()
            .instance_profile_name(profile)
            .role_name(role)
            .send()
            .await
            .unwrap();
        arns.push(arn);
    }
    let (privileged, ordinary) = (&arns[0], &arns[1]);
    s.sweep().await.unwrap();
    // The call (made by no one here: the emulator's EC2 is not needed; the event says mallory ran
    // the instance with the profile, by name, as the console does).
    let mut run = user_call(
        "mallory",
        "ec2.amazonaws.com",
        "RunInstances",
        json!({
            "instancesSet": {"items": [{"imageId": "ami-0abcdef1234567890", "minCount": 1, "maxCount": 1}]},
            "instanceType": "t3.micro",
            "iamInstanceProfile": {"name": "ops-profile"},
        }),
        "model-run-instances-1",
    );
    run["responseElements"] =
        json!({"instancesSet": {"items": [{"instanceId": "i-0e2e0000000000001"}]}});
    s.emit(&run).await.unwrap();
    let (flow, config) = demo::flow(&s, &[]).unwrap();
    demo::work_once(&aws, &s, &flow, &config).await.unwrap();

    let records = flow.evidence.list().await.unwrap();
    let decision = records
        .iter()
        .find(|r| r.event_id.as_deref() == Some("model-run-instances-1"))
        .expect("the call was decided");
    assert_eq!(decision.body["verdict"], "deny", "{}", decision.body);
    let before = decision.body["model_before"].to_string();
    assert!(before.contains("instance-profile/ops-profile"), "{before}");

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
    let doc = PolicyDocument::parse(deny.policy_document()).unwrap();
    let text = doc.to_json();
    assert!(text.contains(&format!("\"{privileged}\"")), "{text}");
    assert!(!text.contains("web-app"), "{text}");
    assert!(!text.contains("\"Resource\":\"*\""), "{text}");
    let allow_all =
        PolicyDocument::parse(r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#)
            .unwrap();
    let ctx = RequestContext::complete();
    let passing = |role: &str| {
        let req = Request {
            principal_arn: "arn:aws:iam::123456789012:user/mallory",
            principal_account: "123456789012",
            action: "iam:PassRole",
            resource: role,
            context: &ctx,
            ..Default::default()
        };
        evaluate(
            &req,
            &Policies {
                identity: &[("allow", &allow_all), ("warden", &doc)],
                ..Default::default()
            },
        )
        .answer
    };
    assert_eq!(passing(privileged), Answer::ExplicitDeny);
    assert_ne!(passing(ordinary), Answer::ExplicitDeny);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_role_permissions_boundary_comes_back_from_the_model() {
    let (aws, s) = start().await;
    let iam = &s.admin.clients.iam;
    let boundary = create_policy(iam, "deploy-boundary").await;
    iam.put_role_permissions_boundary()
        .role_name("app-deploy")
        .permissions_boundary(&boundary)
        .send()
        .await
        .unwrap();
    let boundary_now = || async {
        iam.get_role()
            .role_name("app-deploy")
            .send()
            .await
            .unwrap()
            .role
            .unwrap()
            .permissions_boundary
            .and_then(|b| b.permissions_boundary_arn)
    };
    // The sweep reads the boundary into the model; then mallory takes it off.
    s.sweep().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    iam.delete_role_permissions_boundary()
        .role_name("app-deploy")
        .send()
        .await
        .unwrap();
    s.emit(&user_call(
        "mallory",
        "iam.amazonaws.com",
        "DeleteRolePermissionsBoundary",
        json!({"roleName": "app-deploy"}),
        "model-boundary-1",
    ))
    .await
    .unwrap();
    let (flow, config) = demo::flow(&s, &[]).unwrap();
    demo::work_once(&aws, &s, &flow, &config).await.unwrap();
    assert_eq!(
        boundary_now().await.as_deref(),
        Some(boundary.as_str()),
        "the boundary the model held is back"
    );
    assert!(
        s.user_policies("mallory")
            .await
            .unwrap()
            .iter()
            .any(|p| p == policy_rules::planner::DENY_POLICY_NAME),
        "mallory is denied the call"
    );
    // The undo is recorded, and rolls back from its record to no boundary.
    let records = flow.evidence.list().await.unwrap();
    let change: Vec<_> = records
        .iter()
        .filter(|r| {
            r.kind == policy_rules::evidence::RecordKind::Change
                && r.body["connector"] == "permissions_boundary"
        })
        .collect();
    assert_eq!(change.len(), 1, "{records:#?}");
    assert_eq!(change[0].body["name"], "role/app-deploy");
    flow.rollback(&change[0].id, false).await.unwrap();
    assert_eq!(boundary_now().await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_inline_guard_comes_back_from_the_model_and_an_allow_does_not() {
    let (aws, s) = start().await;
    let iam = &s.admin.clients.iam;
    const GUARD: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"NoPayments","Effect":"Deny","Action":"s3:*","Resource":"arn:aws:s3:::payments-data/*"}]}"#;
    for (policy, document) in [("no-payments", GUARD), ("list-buckets", HARMLESS)] {
        iam.put_role_policy()
            .role_name("app-deploy")
            .policy_name(policy)
            .policy_document(document)
            .send()
            .await
            .unwrap();
    }
    s.sweep().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    // mallory takes both off.
    for (i, policy) in ["no-payments", "list-buckets"].into_iter().enumerate() {
        iam.delete_role_policy()
            .role_name("app-deploy")
            .policy_name(policy)
            .send()
            .await
            .unwrap();
        s.emit(&user_call(
            "mallory",
            "iam.amazonaws.com",
            "DeleteRolePolicy",
            json!({"roleName": "app-deploy", "policyName": policy}),
            &format!("model-guard-{i}"),
        ))
        .await
        .unwrap();
    }
    let (flow, config) = demo::flow(&s, &[]).unwrap();
    demo::work_once(&aws, &s, &flow, &config).await.unwrap();
    // The guard is back with its document; the Allow is not (a person is told).
    assert_eq!(
        s.role_policies("app-deploy").await.unwrap(),
        ["no-payments"]
    );
    let back = iam
        .get_role_policy()
        .role_name("app-deploy")
        .policy_name("no-payments")
        .send()
        .await
        .unwrap();
    assert_eq!(doc(back.policy_document()), doc(GUARD));
    let alerts = s.alerts().await.unwrap();
    assert!(
        alerts
            .iter()
            .any(|a| a.contains("Warden does not put back an Allow")),
        "{alerts:?}"
    );
}

/// The sweep's read of the organization's SCPs and RCPs, as Warden's role: in no organization
/// none apply; the management account gets none (neither applies to it); a member account's path
/// (the root, its OU, the account) comes back level by level, each policy with its document, and
/// a policy type not enabled at the root is left out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_organization_policies_on_an_accounts_path_are_read_level_by_level() {
    use aws_sdk_organizations::types::{OrganizationFeatureSet, PolicyType};
    use warden_handler::connectors::organizations::{read, OrgRead};
    /// The set read for an account in the organization, and the requests it took.
    async fn policies(
        c: &warden_handler::aws::Clients,
        account: &str,
    ) -> (policy_rules::sweep::org_policies::OrgPolicySet, usize) {
        let mut requests = 0;
        let OrgRead::Policies(set) = read(c, account, &mut requests).await.unwrap() else {
            panic!("`{account}` is in an organization");
        };
        (set, requests)
    }
    let (_aws, s) = start().await;
    let warden = &s.warden.clients;
    let account = "123456789012";
    let mut requests = 0;
    assert!(matches!(
        read(warden, account, &mut requests).await.unwrap(),
        OrgRead::NotInOrganization
    ));
    assert_eq!(requests, 1);

    let org = &s.admin.clients.organizations;
    org.create_organization()
        .feature_set(OrganizationFeatureSet::All)
        .send()
        .await
        .unwrap();
    let root = org.list_roots().send().await.unwrap().roots()[0]
        .id()
        .unwrap()
        .to_owned();
    let member = org
        .create_account()
        .account_name("workloads")
        .email("workloads@example.com")
        .send()
        .await
        .unwrap()
        .create_account_status
        .unwrap()
        .account_id
        .unwrap();
    let ou = org
        .create_organizational_unit()
        .parent_id(&root)
        .name("Workloads")
        .send()
        .await
        .unwrap()
        .organizational_unit
        .unwrap()
        .id
        .unwrap();
    org.move_account()
        .account_id(&member)
        .source_parent_id(&root)
        .destination_parent_id(&ou)
        .send()
        .await
        .unwrap();
    let deny = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:DeleteBucket","Resource":"*"}]}"#;
    let scp = org
        .create_policy()
        .name("NoBucketDeletes")
        .description("no bucket deletes in workloads")
        .r#type(PolicyType::ServiceControlPolicy)
        .content(deny)
        .send()
        .await
        .unwrap()
        .policy
        .unwrap()
        .policy_summary
        .unwrap()
        .id
        .unwrap();
    org.attach_policy()
        .policy_id(&scp)
        .target_id(&ou)
        .send()
        .await
        .unwrap();

    // Neither type enabled at the root yet: nothing applies, though the org is read.
    let (set, requests) = policies(warden, &member).await;
    assert_eq!(set.management_account.as_deref(), Some(account));
    assert!(set.scps.is_empty() && set.rcps.is_empty(), "{set:?}");
    assert_eq!(requests, 2);

    org.enable_policy_type()
        .root_id(&root)
        .policy_type(PolicyType::ServiceControlPolicy)
        .send()
        .await
        .unwrap();
    let (set, requests) = policies(warden, &member).await;
    assert_eq!(set.account.as_deref(), Some(member.as_str()));
    let names: Vec<Vec<&str>> = set
        .scps
        .iter()
        .map(|level| level.iter().map(|p| p.name.as_str()).collect())
        .collect();
    assert_eq!(
        names,
        [
            vec!["FullAWSAccess"],
            vec!["FullAWSAccess", "NoBucketDeletes"],
            vec!["FullAWSAccess"]
        ]
    );
    assert_eq!(
        set.scps[1][1].document,
        policy_rules::policy::PolicyDocument::parse(deny).unwrap()
    );
    assert!(set.rcps.is_empty(), "RCPs are not enabled: {set:?}");
    // DescribeOrganization, ListRoots, ListParents ×2, ListPoliciesForTarget ×3, DescribePolicy
    // ×2 (each distinct policy once).
    assert_eq!(requests, 9);

    // With RCPs on too, both lists; the management account itself gets none.
    org.enable_policy_type()
        .root_id(&root)
        .policy_type(PolicyType::ResourceControlPolicy)
        .send()
        .await
        .unwrap();
    let (set, _) = policies(warden, &member).await;
    assert_eq!(set.rcps.len(), 3, "{set:?}");
    assert_eq!(set.rcps[2][0].name, "RCPFullAWSAccess");
    let (own, requests) = policies(warden, account).await;
    assert!(own.scps.is_empty() && own.rcps.is_empty(), "{own:?}");
    assert_eq!(requests, 1);
}
