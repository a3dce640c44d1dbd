//! The connectors and the live account reader against the local AWS (moto over real HTTP): for each
//! connector, snapshot → apply → verify → guarded rollback, the skipped step when the precondition no
//! longer holds, idempotent re-apply, rollback refused after a later change and done when forced;
//! a Warden Deny proved to hold with policy enforcement on.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use warden_handler::aws::AwsError;
use warden_handler::aws::{Clients, RateLimits, RetryPolicy};
use warden_handler::connectors::account::{IamAccount, PrincipalKind};
use warden_handler::connectors::permissions_boundary::{BoundaryCalls, Owner, PermissionsBoundary};
use warden_handler::connectors::{Applied, ConnectorError, Connectors, State, Step, Target};
use warden_handler::local::emulator::LocalAws;

const ACCOUNT: &str = "123456789012";

fn retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 2,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
    }
}

async fn clients_for(conf: &aws_config::SdkConfig) -> Clients {
    let limits = RateLimits::parse("iam=1000,s3=1000").unwrap();
    Clients::from_conf(conf, &limits, retry())
}

async fn start() -> (LocalAws, Clients, Connectors) {
    let aws = LocalAws::start().unwrap();
    let clients = clients_for(&aws.sdk_config().await).await;
    let conns = Connectors::standard(&clients);
    (aws, clients, conns)
}

fn step(call: &str, params: Value, expect: Option<Value>) -> Step {
    let params: BTreeMap<String, Value> = serde_json::from_value(params).unwrap();
    Step {
        call: call.to_owned(),
        params,
        precondition: "test".to_owned(),
        expect,
    }
}

fn doc(action: &str, effect: &str) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": effect, "Action": action, "Resource": "*"}]})
}

fn deny_doc(action: &str, resource: &str) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Sid": "WardenDeny", "Effect": "Deny", "Action": action, "Resource": resource}]})
}

fn is_changed(a: &Applied) -> bool {
    matches!(a, Applied::Changed { .. })
}

fn skipped_why(a: &Applied) -> &str {
    match a {
        Applied::Skipped { why } => why,
        Applied::Changed { .. } => panic!("expected a skipped step, got {a:?}"),
    }
}

/// Snapshot → apply (changed) → verify (holds) → re-apply (skipped) → rollback (restores the
/// snapshot). Returns the target, the state before and the state Warden left.
async fn round_trip(conns: &Connectors, s: &Step) -> (Target, State, State) {
    let (c, target) = conns.for_step(s).unwrap();
    let before = c.snapshot(&target).await.unwrap();
    assert_eq!(
        before,
        c.snapshot(&target).await.unwrap(),
        "two reads are equal"
    );
    let applied = c.apply(&target, s, &before).await.unwrap();
    assert!(is_changed(&applied), "{}: {applied:?}", s.call);
    let v = c.verify(&target, s).await.unwrap();
    assert!(v.holds, "{}: {}", s.call, v.detail);
    let left = c.snapshot(&target).await.unwrap();
    assert_eq!(v.after, left);
    assert_ne!(left, before);
    let again = c.apply(&target, s, &left).await.unwrap();
    assert!(!skipped_why(&again).is_empty());
    (target, before, left)
}

async fn rollback_ok(conns: &Connectors, target: &Target, before: &State, left: &State) {
    let rb = conns.rollback(target, before, left, false).await.unwrap();
    assert_eq!(&rb.after, before);
    assert!(!rb.forced);
}

/// The live state is changed after Warden's change: a rollback is refused, and done when forced.
async fn refused_then_forced(conns: &Connectors, target: &Target, before: &State, left: &State) {
    let err = conns
        .rollback(target, before, left, false)
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Refused { .. }), "{err}");
    assert!(err.to_string().contains("--force"), "{err}");
    let rb = conns.rollback(target, before, left, true).await.unwrap();
    assert!(rb.forced);
    assert_eq!(&rb.after, before);
}

async fn create_user(c: &Clients, name: &str) {
    c.iam.create_user().user_name(name).send().await.unwrap();
}

async fn put_user_policy(c: &Clients, user: &str, policy: &str, d: &Value) {
    c.iam
        .put_user_policy()
        .user_name(user)
        .policy_name(policy)
        .policy_document(d.to_string())
        .send()
        .await
        .unwrap();
}

async fn create_managed(c: &Clients, name: &str) -> String {
    c.iam
        .create_policy()
        .policy_name(name)
        .policy_document(doc("s3:GetObject", "Allow").to_string())
        .send()
        .await
        .unwrap()
        .policy
        .unwrap()
        .arn
        .unwrap()
}

fn trust(service: &str) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]})
}

async fn create_role(c: &Clients, name: &str) {
    c.iam
        .create_role()
        .role_name(name)
        .assume_role_policy_document(trust("ec2.amazonaws.com").to_string())
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn iam_user_inline_and_attached_policies() {
    let (_aws, c, conns) = start().await;
    create_user(&c, "bob").await;
    put_user_policy(&c, "bob", "keep", &doc("s3:*", "Allow")).await;
    let managed = create_managed(&c, "Reader").await;
    c.iam
        .attach_user_policy()
        .user_name("bob")
        .policy_arn(&managed)
        .send()
        .await
        .unwrap();

    // Warden's own Deny: no precondition; rollback restores the user as it was.
    let put = step(
        "iam:PutUserPolicy",
        json!({"UserName": "bob", "PolicyName": "WardenDeny", "PolicyDocument": deny_doc("s3:DeleteBucket", "*")}),
        None,
    );
    let (target, before, left) = round_trip(&conns, &put).await;
    assert_eq!(target.connector, "iam_user");
    assert_eq!(before["attached"], json!([managed]));
    assert!(before["inline"]["keep"].is_object());
    rollback_ok(&conns, &target, &before, &left).await;

    // Detach: done once, then skipped (no longer attached); rollback re-attaches.
    let detach = step(
        "iam:DetachUserPolicy",
        json!({"UserName": "bob", "PolicyArn": managed}),
        None,
    );
    let (target, before, left) = round_trip(&conns, &detach).await;
    assert_eq!(left["attached"], json!([]));
    rollback_ok(&conns, &target, &before, &left).await;

    // Delete of the event's inline policy: skipped when the live document is not the event's.
    let delete = step(
        "iam:DeleteUserPolicy",
        json!({"UserName": "bob", "PolicyName": "keep"}),
        Some(doc("iam:*", "Allow")),
    );
    let (conn, target) = conns.for_step(&delete).unwrap();
    let live = conn.snapshot(&target).await.unwrap();
    let why = skipped_why(&conn.apply(&target, &delete, &live).await.unwrap()).to_owned();
    assert!(why.contains("no longer the one the event wrote"), "{why}");
    assert_eq!(
        conn.snapshot(&target).await.unwrap(),
        live,
        "nothing was called"
    );
    // With the event's document live (URL-encoded by IAM, compared in compact form), it is deleted.
    let delete = Step {
        expect: Some(doc("s3:*", "Allow").to_string().into()),
        ..delete
    };
    let (target, before, left) = round_trip(&conns, &delete).await;
    rollback_ok(&conns, &target, &before, &left).await;

    // Someone changes the user after Warden: rollback refused, then forced.
    let (target, before, left) = round_trip(&conns, &put).await;
    put_user_policy(&c, "bob", "later", &doc("ec2:*", "Allow")).await;
    refused_then_forced(&conns, &target, &before, &left).await;
}

#[tokio::test]
async fn managed_deny_creates_updates_and_rotates_versions() {
    let (_aws, c, conns) = start().await;
    create_user(&c, "carol").await;
    create_role(&c, "app").await;
    let for_user = step(
        "warden:PutManagedDeny",
        json!({"UserName": "carol", "PolicyName": "WardenDeny-carol", "PolicyDocument": deny_doc("iam:*", "*")}),
        None,
    );
    let (target, before, left) = round_trip(&conns, &for_user).await;
    assert_eq!(target.connector, "iam_user");
    let arn = format!("arn:aws:iam::{ACCOUNT}:policy/warden/WardenDeny-carol");
    assert_eq!(left["attached"], json!([arn]));

    // A new document becomes the default version; with five versions the oldest non-default goes.
    let (conn, _) = conns.for_step(&for_user).unwrap();
    for i in 0..6 {
        let mut s = for_user.clone();
        s.params.insert(
            "PolicyDocument".to_owned(),
            deny_doc(&format!("s3:Action{i}"), "*"),
        );
        let live = conn.snapshot(&target).await.unwrap();
        assert!(is_changed(&conn.apply(&target, &s, &live).await.unwrap()));
        assert!(conn.verify(&target, &s).await.unwrap().holds);
    }
    let versions = c
        .iam
        .list_policy_versions()
        .policy_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(versions.versions().len(), 5);
    rollback_ok(&conns, &target, &before, &left).await;

    let for_role = step(
        "warden:PutManagedDeny",
        json!({"RoleName": "app", "PolicyName": "WardenDeny-app", "PolicyDocument": deny_doc("iam:*", "*")}),
        None,
    );
    let (target, before, left) = round_trip(&conns, &for_role).await;
    assert_eq!(target.connector, "iam_role");
    rollback_ok(&conns, &target, &before, &left).await;
}

#[tokio::test]
async fn iam_role_policies_and_trust() {
    let (_aws, c, conns) = start().await;
    create_role(&c, "app").await;
    let put = step(
        "iam:PutRolePolicy",
        json!({"RoleName": "app", "PolicyName": "WardenDeny", "PolicyDocument": deny_doc("s3:*", "*")}),
        None,
    );
    let (target, before, left) = round_trip(&conns, &put).await;
    assert_eq!(target.connector, "iam_role");
    assert_eq!(
        before["trust"],
        serde_json::to_value(
            policy_rules::policy::PolicyDocument::from_value(&trust("ec2.amazonaws.com")).unwrap()
        )
        .unwrap()
    );
    rollback_ok(&conns, &target, &before, &left).await;

    // The event wrote a trust policy for lambda; the undo puts ec2's back while lambda's is live.
    let written = trust("lambda.amazonaws.com");
    c.iam
        .update_assume_role_policy()
        .role_name("app")
        .policy_document(written.to_string())
        .send()
        .await
        .unwrap();
    let undo = step(
        "iam:UpdateAssumeRolePolicy",
        json!({"RoleName": "app", "PolicyDocument": trust("ec2.amazonaws.com")}),
        Some(written.clone()),
    );
    let mismatched = Step {
        expect: Some(trust("ecs.amazonaws.com")),
        ..undo.clone()
    };
    let (conn, target) = conns.for_step(&mismatched).unwrap();
    let live = conn.snapshot(&target).await.unwrap();
    assert!(
        skipped_why(&conn.apply(&target, &mismatched, &live).await.unwrap())
            .contains("trust policy")
    );
    let (target, before, left) = round_trip(&conns, &undo).await;
    c.iam
        .put_role_policy()
        .role_name("app")
        .policy_name("later")
        .policy_document(doc("sqs:*", "Allow").to_string())
        .send()
        .await
        .unwrap();
    refused_then_forced(&conns, &target, &before, &left).await;
}

#[tokio::test]
async fn iam_group_policies() {
    let (_aws, c, conns) = start().await;
    c.iam
        .create_group()
        .group_name("devs")
        .send()
        .await
        .unwrap();
    let managed = create_managed(&c, "Reader").await;
    c.iam
        .attach_group_policy()
        .group_name("devs")
        .policy_arn(&managed)
        .send()
        .await
        .unwrap();
    let written = doc("iam:*", "Allow");
    c.iam
        .put_group_policy()
        .group_name("devs")
        .policy_name("grab")
        .policy_document(written.to_string())
        .send()
        .await
        .unwrap();

    let delete = step(
        "iam:DeleteGroupPolicy",
        json!({"GroupName": "devs", "PolicyName": "grab"}),
        Some(written),
    );
    let (target, before, left) = round_trip(&conns, &delete).await;
    assert_eq!(target.connector, "iam_group");
    rollback_ok(&conns, &target, &before, &left).await;

    let detach = step(
        "iam:DetachGroupPolicy",
        json!({"GroupName": "devs", "PolicyArn": managed}),
        None,
    );
    let (target, before, left) = round_trip(&conns, &detach).await;
    c.iam
        .put_group_policy()
        .group_name("devs")
        .policy_name("later")
        .policy_document(doc("sqs:*", "Allow").to_string())
        .send()
        .await
        .unwrap();
    refused_then_forced(&conns, &target, &before, &left).await;

    let put = step(
        "iam:PutGroupPolicy",
        json!({"GroupName": "devs", "PolicyName": "WardenQuarantine", "PolicyDocument": deny_doc("*", "*")}),
        None,
    );
    let (target, before, left) = round_trip(&conns, &put).await;
    rollback_ok(&conns, &target, &before, &left).await;
}

#[tokio::test]
async fn group_membership_remove_and_restore() {
    let (_aws, c, conns) = start().await;
    create_user(&c, "dave").await;
    for g in ["admins", "devs", "ops"] {
        c.iam.create_group().group_name(g).send().await.unwrap();
    }
    for g in ["devs", "admins"] {
        c.iam
            .add_user_to_group()
            .user_name("dave")
            .group_name(g)
            .send()
            .await
            .unwrap();
    }
    let remove = step(
        "iam:RemoveUserFromGroup",
        json!({"UserName": "dave", "GroupName": "admins"}),
        None,
    );
    let (target, before, left) = round_trip(&conns, &remove).await;
    assert_eq!(target.connector, "group_membership");
    assert_eq!(before, json!(["admins", "devs"]));
    assert_eq!(left, json!(["devs"]));
    let (conn, _) = conns.for_step(&remove).unwrap();
    assert!(
        skipped_why(&conn.apply(&target, &remove, &left).await.unwrap()).contains("no longer in")
    );
    rollback_ok(&conns, &target, &before, &left).await;

    let (target, before, left) = round_trip(&conns, &remove).await;
    c.iam
        .add_user_to_group()
        .user_name("dave")
        .group_name("ops")
        .send()
        .await
        .unwrap();
    refused_then_forced(&conns, &target, &before, &left).await;
}

#[tokio::test]
async fn access_keys_deactivated_never_deleted() {
    let (_aws, c, conns) = start().await;
    create_user(&c, "erin").await;
    let key = |o: aws_sdk_iam::operation::create_access_key::CreateAccessKeyOutput| {
        o.access_key.unwrap().access_key_id
    };
    let k1 = key(c
        .iam
        .create_access_key()
        .user_name("erin")
        .send()
        .await
        .unwrap());
    let k2 = key(c
        .iam
        .create_access_key()
        .user_name("erin")
        .send()
        .await
        .unwrap());
    let deactivate = step(
        "iam:UpdateAccessKey",
        json!({"UserName": "erin", "AccessKeyId": k1, "Status": "Inactive"}),
        None,
    );
    let (target, before, left) = round_trip(&conns, &deactivate).await;
    assert_eq!(target.connector, "access_keys");
    assert_eq!(before.as_array().unwrap().len(), 2);
    assert!(left
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["id"] == k1.as_str() && k["status"] == "Inactive"));
    rollback_ok(&conns, &target, &before, &left).await;

    // A key that is gone: the step is skipped, and a restore of it is a clear error.
    let (target, before, left) = round_trip(&conns, &deactivate).await;
    c.iam
        .update_access_key()
        .user_name("erin")
        .access_key_id(&k2)
        .status(aws_sdk_iam::types::StatusType::Inactive)
        .send()
        .await
        .unwrap();
    refused_then_forced(&conns, &target, &before, &left).await;
    c.iam
        .delete_access_key()
        .user_name("erin")
        .access_key_id(&k1)
        .send()
        .await
        .unwrap();
    let (conn, _) = conns.for_step(&deactivate).unwrap();
    let live = conn.snapshot(&target).await.unwrap();
    assert!(
        skipped_why(&conn.apply(&target, &deactivate, &live).await.unwrap())
            .contains("no longer exists")
    );
    let err = conns
        .rollback(&target, &before, &live, false)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("access key `{k1}` no longer exists")),
        "{err}"
    );
}

#[tokio::test]
async fn login_profile_deleted_and_not_restorable() {
    let (_aws, c, conns) = start().await;
    create_user(&c, "frank").await;
    c.iam
        .create_login_profile()
        .user_name("frank")
        .password("Str0ng!Passw0rd-x")
        .password_reset_required(true)
        .send()
        .await
        .unwrap();
    let delete = step("iam:DeleteLoginProfile", json!({"UserName": "frank"}), None);
    let (target, before, left) = round_trip(&conns, &delete).await;
    assert_eq!(target.connector, "login_profile");
    // moto 5.2.5 answers `PasswordResetRequired: false` whatever the profile was created with.
    assert_eq!(before["exists"], json!(true));
    assert_eq!(left, json!({"exists": false}));
    let (conn, _) = conns.for_step(&delete).unwrap();
    assert!(
        skipped_why(&conn.apply(&target, &delete, &left).await.unwrap())
            .contains("no login profile")
    );
    let err = conns
        .rollback(&target, &before, &left, false)
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Refused { .. }));
    assert!(
        err.to_string()
            .contains("aws iam create-login-profile --user-name frank"),
        "{err}"
    );
    // Someone gave the user a profile again: refused as changed; forced, it is back as it was.
    c.iam
        .create_login_profile()
        .user_name("frank")
        .password("An0ther!Passw0rd")
        .send()
        .await
        .unwrap();
    refused_then_forced(&conns, &target, &before, &left).await;
}

async fn create_bucket(c: &Clients, name: &str) {
    c.s3.create_bucket().bucket(name).send().await.unwrap();
}

fn bucket_policy(bucket: &str, principal: &str) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Sid": "Read", "Effect": "Allow", "Principal": {"AWS": principal}, "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{bucket}/*")}]})
}

/// Deletes `bucket`'s policy (the event's `written`) through the connector, checks it is gone and
/// rolls the deletion back; returns the step.
async fn policy_deleted_and_put_back(conns: &Connectors, bucket: &str, written: Value) -> Step {
    let delete = step(
        "s3:DeleteBucketPolicy",
        json!({"Bucket": bucket}),
        Some(written),
    );
    let (target, before, left) = round_trip(conns, &delete).await;
    assert_eq!(left, Value::Null);
    rollback_ok(conns, &target, &before, &left).await;
    delete
}

#[tokio::test]
async fn bucket_policy_put_delete_and_restore() {
    let (_aws, c, conns) = start().await;
    create_bucket(&c, "data").await;
    let written = bucket_policy("data", "arn:aws:iam::999999999999:root");
    c.s3.put_bucket_policy()
        .bucket("data")
        .policy(written.to_string())
        .send()
        .await
        .unwrap();
    let fixed = bucket_policy("data", &format!("arn:aws:iam::{ACCOUNT}:root"));
    let put = step(
        "s3:PutBucketPolicy",
        json!({"Bucket": "data", "Policy": fixed}),
        Some(written.clone()),
    );
    let mismatched = Step {
        expect: Some(bucket_policy("data", "arn:aws:iam::888888888888:root")),
        ..put.clone()
    };
    let (conn, target) = conns.for_step(&mismatched).unwrap();
    let live = conn.snapshot(&target).await.unwrap();
    assert!(
        skipped_why(&conn.apply(&target, &mismatched, &live).await.unwrap())
            .contains("no longer the one")
    );
    let (target, before, left) = round_trip(&conns, &put).await;
    assert_eq!(target.connector, "bucket_policy");
    rollback_ok(&conns, &target, &before, &left).await;

    let delete = policy_deleted_and_put_back(&conns, "data", written).await;
    let (target, before, left) = round_trip(&conns, &delete).await;
    c.s3.put_bucket_policy()
        .bucket("data")
        .policy(fixed.to_string())
        .send()
        .await
        .unwrap();
    refused_then_forced(&conns, &target, &before, &left).await;
}

// Issue 10/11: a bucket in another region is called in its own region (S3 refuses a request
// signed for another; the Rust SDK does not follow the redirect).
#[tokio::test]
async fn a_bucket_in_another_region_is_changed_through_its_regions_client() {
    let (_aws, c, conns) = start().await;
    c.s3.create_bucket()
        .bucket("eu-data")
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
                .build(),
        )
        .send()
        .await
        .unwrap();
    create_bucket(&c, "home-data").await;
    assert_eq!(c.s3_regions.known("eu-data"), None);
    let eu = c.s3_for("eu-data").await;
    assert_eq!(eu.config().region().map(|r| r.as_ref()), Some("eu-west-1"));
    assert_eq!(c.s3_regions.known("eu-data").as_deref(), Some("eu-west-1"));
    let home = c.s3_for("home-data").await;
    assert_eq!(
        home.config().region().map(|r| r.as_ref()),
        Some("us-east-1")
    );
    // A bucket that does not exist: the configured region's client, and nothing learnt.
    let missing = c.s3_for("no-such-bucket").await;
    assert_eq!(
        missing.config().region().map(|r| r.as_ref()),
        Some("us-east-1")
    );
    assert_eq!(c.s3_regions.known("no-such-bucket"), None);

    // The connector's whole round trip on the other region's bucket.
    let written = bucket_policy("eu-data", "arn:aws:iam::999999999999:root");
    eu.put_bucket_policy()
        .bucket("eu-data")
        .policy(written.to_string())
        .send()
        .await
        .unwrap();
    policy_deleted_and_put_back(&conns, "eu-data", written).await;
}

#[tokio::test]
async fn public_access_block_put_back() {
    let (_aws, c, conns) = start().await;
    create_bucket(&c, "site").await;
    let all = json!({"BlockPublicAcls": true, "IgnorePublicAcls": true, "BlockPublicPolicy": true, "RestrictPublicBuckets": true});
    let put = step(
        "s3:PutPublicAccessBlock",
        json!({"Bucket": "site", "PublicAccessBlockConfiguration": all}),
        None,
    );
    let (target, before, left) = round_trip(&conns, &put).await;
    assert_eq!(target.connector, "public_access_block");
    assert_eq!(before, Value::Null);
    assert_eq!(left, all);
    rollback_ok(&conns, &target, &before, &left).await;

    // Someone put a (different) block back since the event: skipped, theirs is left alone.
    let some = aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
        .block_public_acls(true)
        .build();
    c.s3.put_public_access_block()
        .bucket("site")
        .public_access_block_configuration(some)
        .send()
        .await
        .unwrap();
    let (conn, _) = conns.for_step(&put).unwrap();
    let live = conn.snapshot(&target).await.unwrap();
    assert!(skipped_why(&conn.apply(&target, &put, &live).await.unwrap()).contains("again"));
    c.s3.delete_public_access_block()
        .bucket("site")
        .send()
        .await
        .unwrap();

    let (target, before, left) = round_trip(&conns, &put).await;
    let none = aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
        .block_public_acls(false)
        .build();
    c.s3.put_public_access_block()
        .bucket("site")
        .public_access_block_configuration(none)
        .send()
        .await
        .unwrap();
    refused_then_forced(&conns, &target, &before, &left).await;
}

#[tokio::test]
async fn account_public_access_block_put_back() {
    let (_aws, c, conns) = start().await;
    let all = json!({"BlockPublicAcls": true, "IgnorePublicAcls": true, "BlockPublicPolicy": true, "RestrictPublicBuckets": true});
    let put = step(
        "s3:PutAccountPublicAccessBlock",
        json!({"AccountId": ACCOUNT, "PublicAccessBlockConfiguration": all}),
        None,
    );
    // The event deleted the account's block: it goes back while there is still none.
    let (target, before, left) = round_trip(&conns, &put).await;
    assert_eq!(target.connector, "account_public_access_block");
    assert_eq!(target.name, ACCOUNT);
    assert_eq!(before, Value::Null);
    assert_eq!(left, all);
    rollback_ok(&conns, &target, &before, &left).await;

    // The event turned one flag off; someone changed the block again since: theirs stays.
    let some = json!({"BlockPublicAcls": true, "IgnorePublicAcls": true, "BlockPublicPolicy": false, "RestrictPublicBuckets": true});
    let put_back = step(
        "s3:PutAccountPublicAccessBlock",
        json!({"AccountId": ACCOUNT, "PublicAccessBlockConfiguration": all}),
        Some(some),
    );
    let theirs = aws_sdk_s3control::types::PublicAccessBlockConfiguration::builder()
        .block_public_acls(true)
        .build();
    c.s3control
        .put_public_access_block()
        .account_id(ACCOUNT)
        .public_access_block_configuration(theirs)
        .send()
        .await
        .unwrap();
    let (conn, _) = conns.for_step(&put_back).unwrap();
    let live = conn.snapshot(&target).await.unwrap();
    assert!(
        skipped_why(&conn.apply(&target, &put_back, &live).await.unwrap())
            .contains("changed since the event")
    );

    // A step naming something that is not an account id is refused before any call.
    let bad = step(
        "s3:PutAccountPublicAccessBlock",
        json!({"AccountId": "12345", "PublicAccessBlockConfiguration": all}),
        None,
    );
    let err = conns.for_step(&bad).err().unwrap();
    assert!(err.to_string().contains("not an account id"), "{err}");
}

const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";

/// The grantees of an ACL state (`bucket_acl`'s shape), sorted.
fn grantees(state: &State) -> Vec<String> {
    let mut out: Vec<String> = state["grants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            format!(
                "{}:{}",
                g["grantee"].as_str().unwrap(),
                g["permission"].as_str().unwrap()
            )
        })
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn bucket_acl_public_grants_taken_out_others_kept() {
    use aws_sdk_s3::types::{AccessControlPolicy, Grant, Grantee, Permission, Type};
    let (_aws, c, conns) = start().await;
    create_bucket(&c, "shared-reports").await;
    let owner =
        c.s3.get_bucket_acl()
            .bucket("shared-reports")
            .send()
            .await
            .unwrap()
            .owner
            .unwrap();
    let owner_id = owner.id().unwrap().to_owned();
    let grant = |g: Grantee, p: Permission| Grant::builder().grantee(g).permission(p).build();
    let user = |id: &str| {
        Grantee::builder()
            .r#type(Type::CanonicalUser)
            .id(id)
            .build()
            .unwrap()
    };
    let everyone = Grantee::builder()
        .r#type(Type::Group)
        .uri(ALL_USERS)
        .build()
        .unwrap();
    let partner = "a".repeat(64);
    let public = AccessControlPolicy::builder()
        .owner(owner.clone())
        .grants(grant(user(&owner_id), Permission::FullControl))
        .grants(grant(user(&partner), Permission::Read))
        .grants(grant(everyone, Permission::Read))
        .build();
    let make_public = || async {
        c.s3.put_bucket_acl()
            .bucket("shared-reports")
            .access_control_policy(public.clone())
            .send()
            .await
            .unwrap();
    };
    make_public().await;
    let put = step("s3:PutBucketAcl", json!({"Bucket": "shared-reports"}), None);
    let (target, before, left) = round_trip(&conns, &put).await;
    assert_eq!(target.connector, "bucket_acl");
    assert!(grantees(&before).contains(&format!("{ALL_USERS}:READ")));
    // Only the public grant went: the owner's and the partner's stay.
    assert_eq!(
        grantees(&left),
        vec![
            format!("{owner_id}:FULL_CONTROL"),
            format!("{partner}:READ")
        ]
    );
    rollback_ok(&conns, &target, &before, &left).await;
    // Made public again after Warden's change: a rollback is refused unless forced.
    let (conn, _) = conns.for_step(&put).unwrap();
    let live = conn.snapshot(&target).await.unwrap();
    assert!(is_changed(&conn.apply(&target, &put, &live).await.unwrap()));
    c.s3.put_bucket_acl()
        .bucket("shared-reports")
        .acl(aws_sdk_s3::types::BucketCannedAcl::AuthenticatedRead)
        .send()
        .await
        .unwrap();
    refused_then_forced(&conns, &target, &before, &left).await;
}

#[tokio::test]
async fn object_acl_public_grants_taken_out() {
    let (_aws, c, conns) = start().await;
    create_bucket(&c, "reports").await;
    // A key with IAM's wildcard characters is an ordinary key to the connector.
    let key = "2026/q4*?.csv";
    c.s3.put_object()
        .bucket("reports")
        .key(key)
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    c.s3.put_object_acl()
        .bucket("reports")
        .key(key)
        .acl(aws_sdk_s3::types::ObjectCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    let put = step(
        "s3:PutObjectAcl",
        json!({"Bucket": "reports", "Key": key}),
        None,
    );
    let (target, before, left) = round_trip(&conns, &put).await;
    assert_eq!(target.connector, "object_acl");
    assert_eq!(target.name, format!("reports/{key}"));
    assert!(grantees(&before).contains(&format!("{ALL_USERS}:READ")));
    assert_eq!(grantees(&left).len(), 1, "the owner's grant only: {left}");
    rollback_ok(&conns, &target, &before, &left).await;
    // A bucket name with a `/` could name another object: refused before any call.
    let bad = step(
        "s3:PutObjectAcl",
        json!({"Bucket": "reports/2026", "Key": "q4.csv"}),
        None,
    );
    let err = conns.for_step(&bad).err().unwrap();
    assert!(err.to_string().contains("not a bucket name"), "{err}");
}

#[tokio::test]
async fn ownership_controls_put_back() {
    use aws_sdk_s3::types::{ObjectOwnership, OwnershipControls, OwnershipControlsRule};
    let (_aws, c, conns) = start().await;
    create_bucket(&c, "logs").await;
    let set = |o: ObjectOwnership| {
        let controls = OwnershipControls::builder()
            .rules(
                OwnershipControlsRule::builder()
                    .object_ownership(o)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        let s3 = c.s3.clone();
        async move {
            s3.put_bucket_ownership_controls()
                .bucket("logs")
                .ownership_controls(controls)
                .send()
                .await
                .unwrap();
        }
    };
    // The event re-enabled ACLs (`ObjectWriter`); ACLs go off again while it is still so.
    set(ObjectOwnership::ObjectWriter).await;
    let put = step(
        "s3:PutBucketOwnershipControls",
        json!({"Bucket": "logs", "ObjectOwnership": "BucketOwnerEnforced"}),
        Some(json!({"ownership": "ObjectWriter"})),
    );
    let (target, before, left) = round_trip(&conns, &put).await;
    assert_eq!(target.connector, "ownership_controls");
    assert_eq!(before, json!({"ownership": "ObjectWriter"}));
    assert_eq!(left, json!({"ownership": "BucketOwnerEnforced"}));
    rollback_ok(&conns, &target, &before, &left).await;
    // Someone chose another setting since the event: theirs stays.
    set(ObjectOwnership::BucketOwnerPreferred).await;
    let (conn, _) = conns.for_step(&put).unwrap();
    let live = conn.snapshot(&target).await.unwrap();
    assert!(
        skipped_why(&conn.apply(&target, &put, &live).await.unwrap())
            .contains("changed since the event")
    );
    assert_eq!(
        conn.snapshot(&target).await.unwrap(),
        json!({"ownership": "BucketOwnerPreferred"})
    );
    let bad = step(
        "s3:PutBucketOwnershipControls",
        json!({"Bucket": "logs", "ObjectOwnership": "Everyone"}),
        None,
    );
    assert!(conns.for_step(&bad).is_err());
}

#[tokio::test]
async fn trail_logging_started_again() {
    let (_aws, c, conns) = start().await;
    create_bucket(&c, "trail-logs").await;
    c.cloudtrail
        .create_trail()
        .name("org-trail")
        .s3_bucket_name("trail-logs")
        .send()
        .await
        .unwrap();
    c.cloudtrail
        .start_logging()
        .name("org-trail")
        .send()
        .await
        .unwrap();
    c.cloudtrail
        .stop_logging()
        .name("org-trail")
        .send()
        .await
        .unwrap();
    let start_logging = step(
        "cloudtrail:StartLogging",
        json!({"Name": "org-trail"}),
        None,
    );
    let (target, before, left) = round_trip(&conns, &start_logging).await;
    assert_eq!(target.connector, "trail_logging");
    assert_eq!(before, json!({"logging": false}));
    assert_eq!(left, json!({"logging": true}));
    // A state that does not say whether the trail logs never stops it.
    let err = conns
        .rollback(&target, &json!({}), &left, false)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("not a trail-logging state"),
        "{err}"
    );
    let (conn, _) = conns.for_step(&start_logging).unwrap();
    assert_eq!(
        conn.snapshot(&target).await.unwrap(),
        json!({"logging": true})
    );
    rollback_ok(&conns, &target, &before, &left).await;
}

#[tokio::test]
async fn policy_version_default_put_back() {
    let (_aws, c, conns) = start().await;
    let arn = create_managed(&c, "dev-tools").await;
    let made = c
        .iam
        .create_policy_version()
        .policy_arn(&arn)
        .policy_document(doc("*", "Allow").to_string())
        .set_as_default(true)
        .send()
        .await
        .unwrap()
        .policy_version
        .unwrap()
        .version_id
        .unwrap();
    let put_back = step(
        "iam:SetDefaultPolicyVersion",
        json!({"PolicyArn": arn, "VersionId": "v1"}),
        Some(json!({"default": made})),
    );
    let (target, before, left) = round_trip(&conns, &put_back).await;
    assert_eq!(target.connector, "policy_version");
    assert_eq!(before, json!({"default": "v2", "versions": ["v1", "v2"]}));
    assert_eq!(left, json!({"default": "v1", "versions": ["v1", "v2"]}));
    rollback_ok(&conns, &target, &before, &left).await;
    // A third version made default since: the step leaves it.
    c.iam
        .create_policy_version()
        .policy_arn(&arn)
        .policy_document(doc("s3:*", "Allow").to_string())
        .set_as_default(true)
        .send()
        .await
        .unwrap();
    let (conn, _) = conns.for_step(&put_back).unwrap();
    let live = conn.snapshot(&target).await.unwrap();
    assert!(
        skipped_why(&conn.apply(&target, &put_back, &live).await.unwrap())
            .contains("someone changed it since")
    );
}

#[tokio::test]
async fn a_deleted_inline_guard_goes_back_only_while_none_of_its_name_exists() {
    let (_aws, c, conns) = start().await;
    create_role(&c, "app").await;
    let guard = deny_doc("s3:*", "arn:aws:s3:::payments-data/*");
    let put_back = step(
        "iam:PutRolePolicy",
        json!({"RoleName": "app", "PolicyName": "no-payments", "PolicyDocument": guard}),
        Some(policy_rules::planner::expect_absent()),
    );
    let (target, before, left) = round_trip(&conns, &put_back).await;
    assert_eq!(target.name, "app");
    rollback_ok(&conns, &target, &before, &left).await;
    // Someone wrote a policy of that name since: it is theirs, and stays.
    let theirs = doc("s3:GetObject", "Allow");
    c.iam
        .put_role_policy()
        .role_name("app")
        .policy_name("no-payments")
        .policy_document(theirs.to_string())
        .send()
        .await
        .unwrap();
    let (conn, _) = conns.for_step(&put_back).unwrap();
    let live = conn.snapshot(&target).await.unwrap();
    assert!(
        skipped_why(&conn.apply(&target, &put_back, &live).await.unwrap()).contains("exists again")
    );
    assert_eq!(conn.snapshot(&target).await.unwrap(), live);
}

async fn set_role_boundary(c: &Clients, arn: &str) {
    c.iam
        .put_role_permissions_boundary()
        .role_name("app")
        .permissions_boundary(arn)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn permissions_boundary_of_a_role_put_back() {
    let (_aws, c, conns) = start().await;
    create_role(&c, "app").await;
    let earlier = create_managed(&c, "DevBoundary").await;
    let wide = create_managed(&c, "WideBoundary").await;
    // The event removed the role's boundary: the earlier one goes back while there is none.
    let put = step(
        "iam:PutRolePermissionsBoundary",
        json!({"RoleName": "app", "PermissionsBoundary": earlier}),
        Some(json!({"boundary": null})),
    );
    let (target, before, left) = round_trip(&conns, &put).await;
    assert_eq!(target.connector, "permissions_boundary");
    assert_eq!(target.name, "role/app");
    assert_eq!(before, json!({"boundary": null}));
    assert_eq!(left, json!({"boundary": earlier}));
    rollback_ok(&conns, &target, &before, &left).await;

    // The event set a boundary where there was none: the undo removes exactly that one.
    set_role_boundary(&c, &wide).await;
    let delete = step(
        "iam:DeleteRolePermissionsBoundary",
        json!({"RoleName": "app"}),
        Some(json!({"boundary": wide})),
    );
    let (_, before, left) = round_trip(&conns, &delete).await;
    assert_eq!(before, json!({"boundary": wide}));
    assert_eq!(left, json!({"boundary": null}));
    // Someone set a boundary since Warden's change: a rollback is refused unless forced.
    set_role_boundary(&c, &earlier).await;
    refused_then_forced(&conns, &target, &before, &left).await;

    // The role's boundary changed since the event: theirs stays.
    set_role_boundary(&c, &earlier).await;
    let stale = step(
        "iam:PutRolePermissionsBoundary",
        json!({"RoleName": "app", "PermissionsBoundary": wide}),
        Some(json!({"boundary": null})),
    );
    let (conn, _) = conns.for_step(&stale).unwrap();
    let live = conn.snapshot(&target).await.unwrap();
    assert!(
        skipped_why(&conn.apply(&target, &stale, &live).await.unwrap())
            .contains("changed it since")
    );
    assert_eq!(
        conn.snapshot(&target).await.unwrap(),
        json!({"boundary": earlier})
    );

    // A boundary that is not a managed policy ARN is refused before any call.
    let bad = step(
        "iam:PutRolePermissionsBoundary",
        json!({"RoleName": "app", "PermissionsBoundary": "DevBoundary"}),
        None,
    );
    let err = conns.for_step(&bad).err().unwrap();
    assert!(err.to_string().contains("managed policy ARN"), "{err}");
    // A state that does not say the boundary is never restored as "none".
    let err = conns
        .rollback(&target, &json!({}), &json!({"boundary": earlier}), false)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not a boundary state"), "{err}");
    assert_eq!(
        conn.snapshot(&target).await.unwrap(),
        json!({"boundary": earlier})
    );
}

/// IAM's user boundaries as the connector's calls see them. The local AWS answers
/// `PutUserPermissionsBoundary` with HTTP 500, so the user path runs over this in-memory account.
#[derive(Default)]
struct UserBoundaries {
    by_user: std::sync::Mutex<BTreeMap<String, String>>,
    calls: std::sync::Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl BoundaryCalls for UserBoundaries {
    async fn read(&self, owner: Owner, name: &str) -> Result<Option<String>, AwsError> {
        assert_eq!(owner, Owner::User);
        Ok(self.by_user.lock().unwrap().get(name).cloned())
    }
    async fn put(&self, owner: Owner, name: &str, arn: &str) -> Result<Option<String>, AwsError> {
        assert_eq!(owner, Owner::User);
        self.calls.lock().unwrap().push(format!("put {name} {arn}"));
        self.by_user
            .lock()
            .unwrap()
            .insert(name.to_owned(), arn.to_owned());
        Ok(Some("r-put".to_owned()))
    }
    async fn delete(&self, owner: Owner, name: &str) -> Result<Option<String>, AwsError> {
        assert_eq!(owner, Owner::User);
        self.calls.lock().unwrap().push(format!("delete {name}"));
        self.by_user.lock().unwrap().remove(name);
        Ok(Some("r-delete".to_owned()))
    }
}

#[tokio::test]
async fn permissions_boundary_of_a_user_put_back() {
    let dev = "arn:aws:iam::123456789012:policy/DevBoundary";
    let admin = "arn:aws:iam::aws:policy/AdministratorAccess";
    let account = std::sync::Arc::new(UserBoundaries::default());
    account
        .by_user
        .lock()
        .unwrap()
        .insert("mallory".to_owned(), admin.to_owned());
    let conns = Connectors::new(vec![std::sync::Arc::new(PermissionsBoundary::with_calls(
        std::sync::Arc::clone(&account),
    ))]);
    // mallory replaced her boundary with AdministratorAccess: the earlier one comes back.
    let put = step(
        "iam:PutUserPermissionsBoundary",
        json!({"UserName": "mallory", "PermissionsBoundary": dev}),
        Some(json!({"boundary": admin})),
    );
    let (target, before, left) = round_trip(&conns, &put).await;
    assert_eq!(target.name, "user/mallory");
    assert_eq!(before, json!({"boundary": admin}));
    assert_eq!(left, json!({"boundary": dev}));
    assert_eq!(
        *account.calls.lock().unwrap(),
        vec![format!("put mallory {dev}")],
        "one write, and none on the retry"
    );
    rollback_ok(&conns, &target, &before, &left).await;
    // A boundary set since the event is left alone.
    account.by_user.lock().unwrap().insert(
        "mallory".to_owned(),
        "arn:aws:iam::123456789012:policy/Other".to_owned(),
    );
    let (conn, _) = conns.for_step(&put).unwrap();
    let live = conn.snapshot(&target).await.unwrap();
    assert!(
        skipped_why(&conn.apply(&target, &put, &live).await.unwrap()).contains("changed it since")
    );
    assert_eq!(
        account.calls.lock().unwrap().len(),
        2,
        "only the rollback wrote"
    );
}

#[tokio::test]
async fn for_step_picks_the_connector_and_rejects_malformed_steps() {
    let (_aws, _c, conns) = start().await;
    let cases = [
        (
            "iam:PutUserPolicy",
            json!({"UserName": "u", "PolicyName": "p", "PolicyDocument": doc("*", "Deny")}),
            "iam_user",
        ),
        (
            "iam:DetachUserPolicy",
            json!({"UserName": "u", "PolicyArn": "arn:aws:iam::aws:policy/X"}),
            "iam_user",
        ),
        (
            "warden:PutManagedDeny",
            json!({"UserName": "u", "PolicyName": "p", "PolicyDocument": doc("*", "Deny")}),
            "iam_user",
        ),
        (
            "warden:PutManagedDeny",
            json!({"RoleName": "r", "PolicyName": "p", "PolicyDocument": doc("*", "Deny")}),
            "iam_role",
        ),
        (
            "iam:UpdateAssumeRolePolicy",
            json!({"RoleName": "r", "PolicyDocument": trust("ec2.amazonaws.com")}),
            "iam_role",
        ),
        (
            "iam:DeleteGroupPolicy",
            json!({"GroupName": "g", "PolicyName": "p"}),
            "iam_group",
        ),
        (
            "iam:RemoveUserFromGroup",
            json!({"UserName": "u", "GroupName": "g"}),
            "group_membership",
        ),
        (
            "iam:UpdateAccessKey",
            json!({"UserName": "u", "AccessKeyId": "AKIA", "Status": "Inactive"}),
            "access_keys",
        ),
        (
            "iam:DeleteLoginProfile",
            json!({"UserName": "u"}),
            "login_profile",
        ),
        (
            "s3:DeleteBucketPolicy",
            json!({"Bucket": "b"}),
            "bucket_policy",
        ),
        (
            "s3:PutPublicAccessBlock",
            json!({"Bucket": "b", "PublicAccessBlockConfiguration": {"BlockPublicAcls": true, "IgnorePublicAcls": true, "BlockPublicPolicy": true, "RestrictPublicBuckets": true}}),
            "public_access_block",
        ),
    ];
    for (call, params, kind) in cases {
        let (_, t) = conns.for_step(&step(call, params, None)).unwrap();
        assert_eq!(t.connector, kind, "{call}");
    }
    let bad = [
        step(
            "iam:PutUserPolicy",
            json!({"UserName": "u", "PolicyName": "p"}),
            None,
        ),
        step(
            "iam:PutUserPolicy",
            json!({"UserName": "u", "PolicyName": "p", "PolicyDocument": "{not json"}),
            None,
        ),
        step(
            "iam:DetachUserPolicy",
            json!({"UserName": 7, "PolicyArn": "a"}),
            None,
        ),
        step(
            "warden:PutManagedDeny",
            json!({"PolicyName": "p", "PolicyDocument": doc("*", "Deny")}),
            None,
        ),
        step(
            "iam:UpdateAccessKey",
            json!({"UserName": "u", "AccessKeyId": "AKIA", "Status": "Deleted"}),
            None,
        ),
        step(
            "s3:PutPublicAccessBlock",
            json!({"Bucket": "b", "PublicAccessBlockConfiguration": {"BlockPublicAcls": "yes"}}),
            None,
        ),
    ];
    for s in bad {
        let err = conns.for_step(&s).map(|(_, t)| t).unwrap_err();
        assert!(
            matches!(err, ConnectorError::Step { .. }),
            "{}: {err}",
            s.call
        );
        assert!(!err.is_retryable());
    }
    let none = conns
        .for_step(&step("ec2:TerminateInstances", json!({}), None))
        .map(|(_, t)| t)
        .unwrap_err();
    assert!(matches!(none, ConnectorError::NoConnector(_)));
}

/// With enforcement on, the Deny that `iam_role` writes on the restricted role holds for that
/// role's session on role A only: the same call on role B still succeeds.
#[tokio::test]
async fn warden_deny_holds_with_enforcement_on() {
    let (aws, c, _conns) = start().await;
    create_user(&c, "admin").await;
    put_user_policy(&c, "admin", "all", &doc("*", "Allow")).await;
    let key = c
        .iam
        .create_access_key()
        .user_name("admin")
        .send()
        .await
        .unwrap()
        .access_key
        .unwrap();
    let account_trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:user/admin")}, "Action": "sts:AssumeRole"}]});
    c.iam
        .create_role()
        .role_name("restricted")
        .assume_role_policy_document(account_trust.to_string())
        .send()
        .await
        .unwrap();
    c.iam
        .put_role_policy()
        .role_name("restricted")
        .policy_name("all")
        .policy_document(doc("*", "Allow").to_string())
        .send()
        .await
        .unwrap();
    create_role(&c, "a").await;
    create_role(&c, "b").await;
    aws.enforce_policies(true).unwrap();

    let admin_conf = aws
        .sdk_config_as(&key.access_key_id, &key.secret_access_key)
        .await;
    let admin = clients_for(&admin_conf).await;
    let admin_conns = Connectors::standard(&admin);
    let role_a = format!("arn:aws:iam::{ACCOUNT}:role/a");
    let deny = step(
        "iam:PutRolePolicy",
        json!({"RoleName": "restricted", "PolicyName": "WardenDeny", "PolicyDocument": deny_doc("iam:PutRolePolicy", &role_a)}),
        None,
    );
    let (conn, target) = admin_conns.for_step(&deny).unwrap();
    let before = conn.snapshot(&target).await.unwrap();
    assert!(is_changed(
        &conn.apply(&target, &deny, &before).await.unwrap()
    ));
    assert!(conn.verify(&target, &deny).await.unwrap().holds);

    let session = aws_config::sts::AssumeRoleProvider::builder(format!(
        "arn:aws:iam::{ACCOUNT}:role/restricted"
    ))
    .session_name("attacker")
    .configure(&admin_conf)
    .build()
    .await;
    let session_conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(&aws.endpoint)
        .http_client(warden_handler::aws::https::client())
        .credentials_provider(session)
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await;
    let restricted = clients_for(&session_conf).await;
    let put = |role: &'static str| {
        let r = restricted.clone();
        async move {
            r.caller
                .call("iam", "PutRolePolicy", || {
                    r.iam
                        .put_role_policy()
                        .role_name(role)
                        .policy_name("grab")
                        .policy_document(doc("*", "Allow").to_string())
                        .send()
                })
                .await
        }
    };
    let denied = put("a").await.unwrap_err();
    assert!(denied.is_access_denied(), "{denied}");
    assert_eq!(denied.status, Some(403));
    assert!(!denied.is_retryable());
    put("b").await.unwrap();
}

#[tokio::test]
async fn account_reads_one_principal_with_path_groups_and_policies() {
    let (_aws, c, _conns) = start().await;
    c.iam
        .create_user()
        .user_name("gina")
        .path("/division/")
        .send()
        .await
        .unwrap();
    put_user_policy(&c, "gina", "own", &doc("s3:*", "Allow")).await;
    let managed = create_managed(&c, "Reader").await;
    c.iam
        .attach_user_policy()
        .user_name("gina")
        .policy_arn(&managed)
        .send()
        .await
        .unwrap();
    for g in ["ops", "devs"] {
        c.iam.create_group().group_name(g).send().await.unwrap();
        c.iam
            .add_user_to_group()
            .user_name("gina")
            .group_name(g)
            .send()
            .await
            .unwrap();
    }
    c.iam
        .put_group_policy()
        .group_name("devs")
        .policy_name("dev")
        .policy_document(doc("ec2:*", "Allow").to_string())
        .send()
        .await
        .unwrap();
    let group_managed = create_managed(&c, "GroupReader").await;
    c.iam
        .attach_group_policy()
        .group_name("ops")
        .policy_arn(&group_managed)
        .send()
        .await
        .unwrap();

    let account = IamAccount::new(c.clone());
    assert_eq!(
        account.groups_of_user("gina").await.unwrap(),
        vec!["devs", "ops"]
    );
    let snap = account
        .principal(PrincipalKind::User, "gina", true)
        .await
        .unwrap()
        .unwrap();
    let u = &snap.users["gina"];
    assert_eq!(u.arn, format!("arn:aws:iam::{ACCOUNT}:user/division/gina"));
    assert_eq!(u.inline.keys().collect::<Vec<_>>(), vec!["own"]);
    assert_eq!(u.attached, vec![managed.clone()]);
    assert_eq!(u.groups, vec!["devs", "ops"]);
    assert!(snap.groups["devs"].inline.contains_key("dev"));
    assert_eq!(snap.groups["ops"].attached, vec![group_managed.clone()]);
    assert!(snap.managed.contains_key(&managed) && snap.managed.contains_key(&group_managed));
    let (policies, missing) = snap.identity_policies(u);
    assert_eq!(policies.len(), 4);
    assert!(missing.is_empty());

    let lean = account
        .principal(PrincipalKind::User, "gina", false)
        .await
        .unwrap()
        .unwrap();
    assert!(lean.managed.is_empty() && lean.groups.is_empty());
    assert_eq!(lean.users["gina"], *u);

    c.iam
        .create_role()
        .role_name("svc")
        .path("/apps/")
        .assume_role_policy_document(trust("lambda.amazonaws.com").to_string())
        .send()
        .await
        .unwrap();
    let snap = account
        .principal(PrincipalKind::Role, "svc", false)
        .await
        .unwrap()
        .unwrap();
    let r = &snap.roles["svc"];
    assert_eq!(r.arn, format!("arn:aws:iam::{ACCOUNT}:role/apps/svc"));
    assert!(r.trust.is_some());
    assert!(account
        .principal(PrincipalKind::Role, "nobody", true)
        .await
        .unwrap()
        .is_none());
}
