//! End to end on the local AWS: the undos of S3 access-control changes that are about live state
//! (issue 9 §4): an object made public, a bucket's public access block deleted or weakened, ACLs
//! re-enabled by ownership controls, a stopped trail, a deleted trail (told with the commands from
//! the model). Each event goes through the real stack's EventBridge rules and
//! queues to the worker, which runs as the stack's function role with the emulator's policy
//! enforcement on (`demo::Scenario`); where the undo needs the before-state, a sweep has read the
//! bucket into the account model first. Each change is recorded, and rolled back from its record.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use aws_sdk_s3::types::{
    ObjectCannedAcl, ObjectOwnership, OwnershipControls, OwnershipControlsRule,
    PublicAccessBlockConfiguration,
};
use policy_rules::evidence::{Record, RecordKind};
use serde_json::json;
use warden_handler::enforce::flow::Flow;
use warden_handler::local::demo::{self, user_call, Scenario};
use warden_handler::local::emulator::LocalAws;

const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";

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

/// A whole sweep as Warden (the account's buckets read into the model), then a second's wait:
/// the model vouches for a read only for events after it.
async fn sweep_buckets(s: &Scenario) {
    use warden_handler::stores::dynamo::{DynamoCheckpoints, DynamoModel};
    use warden_handler::sweep::run::Sweeper;
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
    sweeper.start().await.unwrap();
    for _ in 0..20 {
        if sweeper.advance(&|| false).await.unwrap().unwrap().is_done() {
            break;
        }
    }
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
}

async fn records(flow: &Flow) -> Vec<Record> {
    let records = flow.evidence.list().await.unwrap();
    let head = flow.evidence.head().await.unwrap();
    policy_rules::evidence::verify(&records, head.as_ref().map(|(s, h)| (*s, h.as_str()))).unwrap();
    records
}

/// The one change record of `connector`.
fn change<'r>(records: &'r [Record], connector: &str) -> &'r Record {
    let found: Vec<&Record> = records
        .iter()
        .filter(|r| r.kind == RecordKind::Change && r.body["connector"] == connector)
        .collect();
    assert_eq!(found.len(), 1, "{connector}: {records:#?}");
    found[0]
}

fn pab(on: [bool; 4]) -> PublicAccessBlockConfiguration {
    PublicAccessBlockConfiguration::builder()
        .block_public_acls(on[0])
        .ignore_public_acls(on[1])
        .block_public_policy(on[2])
        .restrict_public_buckets(on[3])
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_made_public_is_private_again_and_the_change_rolls_back() {
    let (aws, s) = start().await;
    let s3 = &s.admin.clients.s3;
    s3.put_object()
        .bucket("payments-data")
        .key("reports/q3.csv")
        .body(b"amount\n1\n".to_vec().into())
        .send()
        .await
        .unwrap();
    let public_uris = || async {
        let acl = s3
            .get_object_acl()
            .bucket("payments-data")
            .key("reports/q3.csv")
            .send()
            .await
            .unwrap();
        let uris: Vec<String> = acl
            .grants()
            .iter()
            .filter_map(|g| g.grantee().and_then(|g| g.uri()).map(str::to_owned))
            .collect();
        (uris, acl.grants().len())
    };
    let (uris, private_grants) = public_uris().await;
    assert!(uris.is_empty(), "private to begin with: {uris:?}");
    // The change (made by the admin here; the event says mallory made it, as CloudTrail shows a
    // canned ACL: the `x-amz-acl` header).
    s3.put_object_acl()
        .bucket("payments-data")
        .key("reports/q3.csv")
        .acl(ObjectCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    assert!(public_uris().await.0.iter().any(|u| u == ALL_USERS));
    s.emit(&user_call(
        "mallory",
        "s3.amazonaws.com",
        "PutObjectAcl",
        json!({"bucketName": "payments-data", "key": "reports/q3.csv", "acl": "", "x-amz-acl": ["public-read"]}),
        "object-acl-1",
    ))
    .await
    .unwrap();
    let (flow, config) = demo::flow(&s, &[]).unwrap();
    let stats = demo::work_once(&aws, &s, &flow, &config).await.unwrap();
    assert_eq!(stats.messages, 1);

    let (uris, grants) = public_uris().await;
    assert!(uris.is_empty(), "private again: {uris:?}");
    assert_eq!(grants, private_grants, "the owner's grant stays");
    // Mallory is denied PutObjectAcl on that object, and nothing else on the bucket.
    let mallory = &s.mallory.clients.s3;
    let again = mallory
        .put_object_acl()
        .bucket("payments-data")
        .key("reports/q3.csv")
        .acl(ObjectCannedAcl::PublicRead)
        .send()
        .await;
    assert!(again.is_err(), "mallory is denied: {again:?}");
    assert!(mallory
        .get_object()
        .bucket("payments-data")
        .key("reports/q3.csv")
        .send()
        .await
        .is_ok());

    let records = records(&flow).await;
    let rec = change(&records, "object_acl");
    assert_eq!(rec.body["name"], "payments-data/reports/q3.csv");
    // Rolling back puts the public grant back, from the record.
    let (rolled, _) = flow.rollback(&rec.id, false).await.unwrap();
    assert_eq!(rolled.kind, RecordKind::Rollback);
    assert!(public_uris().await.0.iter().any(|u| u == ALL_USERS));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_or_weakened_public_access_block_gets_its_earlier_block_back() {
    let (aws, s) = start().await;
    let s3 = &s.admin.clients.s3;
    // The blocks before: three flags on `payments-data` (a sweep reads it), all four on
    // `public-site`.
    s3.put_public_access_block()
        .bucket("payments-data")
        .public_access_block_configuration(pab([true, true, true, false]))
        .send()
        .await
        .unwrap();
    s3.put_public_access_block()
        .bucket("public-site")
        .public_access_block_configuration(pab([true; 4]))
        .send()
        .await
        .unwrap();
    sweep_buckets(&s).await;
    // The changes: `payments-data`'s block deleted, `public-site`'s weakened.
    s3.delete_public_access_block()
        .bucket("payments-data")
        .send()
        .await
        .unwrap();
    s3.put_public_access_block()
        .bucket("public-site")
        .public_access_block_configuration(pab([true, true, false, false]))
        .send()
        .await
        .unwrap();
    s.emit(&user_call(
        "mallory",
        "s3.amazonaws.com",
        "DeleteBucketPublicAccessBlock",
        json!({"bucketName": "payments-data", "publicAccessBlock": ""}),
        "pab-delete-1",
    ))
    .await
    .unwrap();
    s.emit(&user_call(
        "mallory",
        "s3.amazonaws.com",
        "PutBucketPublicAccessBlock",
        json!({"bucketName": "public-site", "publicAccessBlock": "", "PublicAccessBlockConfiguration": {
            "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/",
            "BlockPublicAcls": true, "IgnorePublicAcls": true, "BlockPublicPolicy": false, "RestrictPublicBuckets": false}}),
        "pab-put-1",
    ))
    .await
    .unwrap();
    let (flow, config) = demo::flow(&s, &[]).unwrap();
    let stats = demo::work_once(&aws, &s, &flow, &config).await.unwrap();
    assert_eq!(stats.messages, 2);

    let flags = |bucket: &'static str| async move {
        let c = s3
            .get_public_access_block()
            .bucket(bucket)
            .send()
            .await
            .unwrap()
            .public_access_block_configuration
            .unwrap();
        [
            c.block_public_acls,
            c.ignore_public_acls,
            c.block_public_policy,
            c.restrict_public_buckets,
        ]
        .map(|f| f.unwrap_or(false))
    };
    assert_eq!(
        flags("payments-data").await,
        [true, true, true, false],
        "exactly the earlier block, not the all-on one"
    );
    assert_eq!(flags("public-site").await, [true; 4]);
    let records = records(&flow).await;
    let changes: Vec<&Record> = records
        .iter()
        .filter(|r| r.kind == RecordKind::Change && r.body["connector"] == "public_access_block")
        .collect();
    assert_eq!(changes.len(), 2, "{records:#?}");
    // Rolling back the deletion's undo takes the block off again.
    let undo = changes
        .iter()
        .find(|r| r.body["name"] == "payments-data")
        .unwrap();
    flow.rollback(&undo.id, false).await.unwrap();
    let gone = s3
        .get_public_access_block()
        .bucket("payments-data")
        .send()
        .await;
    assert!(gone.is_err(), "no block after the rollback: {gone:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_account_public_access_block_gets_its_earlier_block_back() {
    let (aws, s) = start().await;
    let control = &s.admin.clients.s3control;
    let account_flags = || async {
        control
            .get_public_access_block()
            .account_id(demo::ACCOUNT)
            .send()
            .await
            .ok()
            .and_then(|o| o.public_access_block_configuration)
            .map(|c| {
                [
                    c.block_public_acls,
                    c.ignore_public_acls,
                    c.block_public_policy,
                    c.restrict_public_buckets,
                ]
                .map(|f| f.unwrap_or(false))
            })
    };
    // The block before: three flags on (a sweep reads it into the model).
    let three = aws_sdk_s3control::types::PublicAccessBlockConfiguration::builder()
        .block_public_acls(true)
        .ignore_public_acls(true)
        .block_public_policy(true)
        .restrict_public_buckets(false)
        .build();
    control
        .put_public_access_block()
        .account_id(demo::ACCOUNT)
        .public_access_block_configuration(three)
        .send()
        .await
        .unwrap();
    sweep_buckets(&s).await;
    control
        .delete_public_access_block()
        .account_id(demo::ACCOUNT)
        .send()
        .await
        .unwrap();
    assert_eq!(account_flags().await, None);
    s.emit(&user_call(
        "mallory",
        "s3.amazonaws.com",
        "DeleteAccountPublicAccessBlock",
        json!({"accountId": demo::ACCOUNT}),
        "account-pab-delete-1",
    ))
    .await
    .unwrap();
    let (flow, config) = demo::flow(&s, &[]).unwrap();
    let stats = demo::work_once(&aws, &s, &flow, &config).await.unwrap();
    assert_eq!(stats.messages, 1);
    assert_eq!(
        account_flags().await,
        Some([true, true, true, false]),
        "exactly the earlier block, not the all-on one"
    );
    let records = records(&flow).await;
    let rec = change(&records, "account_public_access_block");
    assert_eq!(rec.body["name"], demo::ACCOUNT);
    // Rolling back the undo takes the block off again, from the record.
    flow.rollback(&rec.id, false).await.unwrap();
    assert_eq!(account_flags().await, None, "no block after the rollback");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_earlier_block_the_all_on_block_goes_on_only_where_nothing_is_public() {
    let (aws, s) = start().await;
    let s3 = &s.admin.clients.s3;
    // No sweep read the buckets: the model does not know their blocks. `public-site` has a
    // public policy (a website); `payments-data` grants nothing public.
    s3.put_bucket_policy()
        .bucket("public-site")
        .policy(r#"{"Version":"2012-10-17","Statement":[{"Sid":"Website","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::public-site/*"}]}"#)
        .send()
        .await
        .unwrap();
    for (bucket, id) in [("payments-data", "pab-u-1"), ("public-site", "pab-u-2")] {
        s.emit(&user_call(
            "mallory",
            "s3.amazonaws.com",
            "DeleteBucketPublicAccessBlock",
            json!({"bucketName": bucket, "publicAccessBlock": ""}),
            id,
        ))
        .await
        .unwrap();
    }
    let (flow, config) = demo::flow(&s, &[]).unwrap();
    let stats = demo::work_once(&aws, &s, &flow, &config).await.unwrap();
    assert_eq!(stats.messages, 2);
    let block = s3
        .get_public_access_block()
        .bucket("payments-data")
        .send()
        .await
        .unwrap()
        .public_access_block_configuration
        .unwrap();
    assert_eq!(block.restrict_public_buckets, Some(true), "{block:?}");
    assert!(
        s3.get_public_access_block()
            .bucket("public-site")
            .send()
            .await
            .is_err(),
        "the public website keeps working: no block put"
    );
    let alerts = s.alerts().await.unwrap();
    assert!(
        alerts.iter().any(
            |a| a.contains("the all-on block would take that access away")
                && a.contains("aws s3api put-public-access-block --bucket public-site")
        ),
        "{alerts:#?}"
    );
    records(&flow).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acls_re_enabled_by_ownership_controls_are_disabled_again() {
    let (aws, s) = start().await;
    let s3 = &s.admin.clients.s3;
    let controls = |setting: ObjectOwnership| {
        OwnershipControls::builder()
            .rules(
                OwnershipControlsRule::builder()
                    .object_ownership(setting)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    };
    s3.put_bucket_ownership_controls()
        .bucket("payments-data")
        .ownership_controls(controls(ObjectOwnership::BucketOwnerEnforced))
        .send()
        .await
        .unwrap();
    sweep_buckets(&s).await;
    s3.put_bucket_ownership_controls()
        .bucket("payments-data")
        .ownership_controls(controls(ObjectOwnership::ObjectWriter))
        .send()
        .await
        .unwrap();
    s.emit(&user_call(
        "mallory",
        "s3.amazonaws.com",
        "PutBucketOwnershipControls",
        json!({"bucketName": "payments-data", "ownershipControls": "", "OwnershipControls": {
            "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/", "Rule": {"ObjectOwnership": "ObjectWriter"}}}),
        "ownership-1",
    ))
    .await
    .unwrap();
    let (flow, config) = demo::flow(&s, &[]).unwrap();
    let stats = demo::work_once(&aws, &s, &flow, &config).await.unwrap();
    assert_eq!(stats.messages, 1);
    let setting = || async {
        s3.get_bucket_ownership_controls()
            .bucket("payments-data")
            .send()
            .await
            .unwrap()
            .ownership_controls
            .unwrap()
            .rules()[0]
            .object_ownership()
            .clone()
    };
    assert_eq!(setting().await, ObjectOwnership::BucketOwnerEnforced);
    let records = records(&flow).await;
    let rec = change(&records, "ownership_controls");
    flow.rollback(&rec.id, false).await.unwrap();
    assert_eq!(
        setting().await,
        ObjectOwnership::ObjectWriter,
        "rolled back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trail_an_admin_stopped_is_started_again_and_a_person_is_told() {
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
    s.emit(&user_call(
        "admin",
        "cloudtrail.amazonaws.com",
        "StopLogging",
        json!({"name": "org-trail"}),
        "admin-trail-1",
    ))
    .await
    .unwrap();
    let (flow, config) = demo::flow(&s, &[]).unwrap();
    let stats = demo::work_once(&aws, &s, &flow, &config).await.unwrap();
    assert_eq!(stats.messages, 1);
    let logging = ct
        .get_trail_status()
        .name("org-trail")
        .send()
        .await
        .unwrap()
        .is_logging;
    assert_eq!(logging, Some(true), "logging restarted");
    let alerts = s.alerts().await.unwrap();
    assert!(
        alerts
            .iter()
            .any(|a| a.contains("cloudtrail-blinded") && a.contains("admin")),
        "{alerts:#?}"
    );
    // The admin is not denied anything.
    let records = records(&flow).await;
    assert!(records
        .iter()
        .all(|r| !(r.kind == RecordKind::Change && r.body["role"] == "deny")));
    change(&records, "trail_logging");
}

/// Issue 9 §4: Warden may not change trails (only start one), so after a `DeleteTrail` the alert
/// gives the commands that re-create the trail exactly as the sweep read it into the model: its
/// bucket, its settings, its event selectors, then logging on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_trail_is_told_with_the_commands_that_re_create_it_as_it_was() {
    let (aws, s) = start().await;
    let ct = &s.admin.clients.cloudtrail;
    ct.create_trail()
        .name("org-trail")
        .s3_bucket_name("payments-data")
        .s3_key_prefix("ct")
        .is_multi_region_trail(true)
        .send()
        .await
        .unwrap();
    ct.start_logging().name("org-trail").send().await.unwrap();
    sweep_buckets(&s).await;
    ct.delete_trail().name("org-trail").send().await.unwrap();
    s.emit(&user_call(
        "admin",
        "cloudtrail.amazonaws.com",
        "DeleteTrail",
        json!({"name": "org-trail"}),
        "admin-trail-deleted-1",
    ))
    .await
    .unwrap();
    let (flow, config) = demo::flow(&s, &[]).unwrap();
    let stats = demo::work_once(&aws, &s, &flow, &config).await.unwrap();
    assert_eq!(stats.messages, 1);
    let alerts = s.alerts().await.unwrap();
    let told = alerts
        .iter()
        .find(|a| a.contains("aws cloudtrail create-trail --name org-trail"))
        .unwrap_or_else(|| panic!("{alerts:#?}"));
    assert!(
        told.contains("--s3-bucket-name payments-data --s3-key-prefix ct")
            && told.contains("--is-multi-region-trail")
            && told.contains("aws cloudtrail put-event-selectors --trail-name org-trail")
            && told.contains("aws cloudtrail start-logging --name org-trail"),
        "{told}"
    );
}
