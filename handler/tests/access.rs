//! `warden access` as a user runs it: the real fixtures and a generated history that covers its
//! window, exit codes and the JSON shape checked.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn warden() -> Command {
    let mut c = Command::cargo_bin("warden").unwrap();
    c.current_dir(root());
    c
}

fn json_lines(out: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

const ACCOUNT: &str = "111122223333";

fn record(time: &str, user: &str, source: &str, name: &str, params: &str, error: &str) -> String {
    format!(
        r#"{{"eventVersion":"1.08","eventID":"{time}-{user}-{name}","eventTime":"{time}","eventSource":"{source}","eventName":"{name}","awsRegion":"us-east-1","recipientAccountId":"{ACCOUNT}","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::{ACCOUNT}:user/{user}","accountId":"{ACCOUNT}","userName":"{user}"}},"requestParameters":{params}{error}}}"#
    )
}

/// 40 days of history (2026-10-01 to 2026-11-10), a record every hour, and carol's calls.
fn history(dir: &Path) -> PathBuf {
    let mut lines = Vec::new();
    for day in 1..=40 {
        let (m, d) = if day <= 31 { (10, day) } else { (11, day - 31) };
        for h in 0..24 {
            let t = format!("2026-{m:02}-{d:02}T{h:02}:10:00Z");
            lines.push(record(
                &t,
                "monitor",
                "sts.amazonaws.com",
                "GetCallerIdentity",
                "null",
                "",
            ));
            if h == 9 && day % 3 == 0 {
                lines.push(record(
                    &t,
                    "carol",
                    "s3.amazonaws.com",
                    "GetObject",
                    r#"{"bucketName":"reports","key":"2026/q3.csv"}"#,
                    "",
                ));
                lines.push(record(
                    &t,
                    "carol",
                    "kms.amazonaws.com",
                    "Decrypt",
                    "{}",
                    "",
                ));
            }
        }
    }
    lines.push(record(
        "2026-11-05T10:00:00Z",
        "carol",
        "iam.amazonaws.com",
        "CreateAccessKey",
        r#"{"userName":"admin"}"#,
        r#","errorCode":"AccessDenied","errorMessage":"User: arn:aws:iam::111122223333:user/carol is not authorized to perform: iam:CreateAccessKey on resource: user admin""#,
    ));
    let path = dir.join("history.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

fn account(dir: &Path) -> PathBuf {
    let text = r#"{"UserDetailList":[
 {"UserName":"carol","UserId":"U1","Arn":"arn:aws:iam::111122223333:user/carol","Path":"/","CreateDate":"2024-01-01T00:00:00Z",
  "UserPolicyList":[{"PolicyName":"analyst","PolicyDocument":{"Version":"2012-10-17","Statement":[
    {"Effect":"Allow","Action":["s3:GetObject","s3:PutObject","s3:DeleteObject"],"Resource":"arn:aws:s3:::reports/*"},
    {"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"},
    {"Effect":"Allow","Action":"dynamodb:*","Resource":"*"}]}}],
  "GroupList":[],"AttachedManagedPolicies":[],"Tags":[]}],
 "GroupDetailList":[],"RoleDetailList":[],"Policies":[]}"#;
    let path = dir.join("account.json");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn the_fixtures_are_indexed_with_every_field_the_json_promises() {
    let out = warden()
        .args(["access", "--format", "json", "fixtures/cloudtrail"])
        .assert()
        .success()
        .stderr(predicate::str::contains("359 events"))
        .stderr(predicate::str::contains("unmapped"))
        .stderr(predicate::str::contains(
            "coverage: 2014-03-06T17:00:00Z to ",
        ));
    let lines = json_lines(&out.get_output().stdout);
    assert!(lines.len() > 20, "{}", lines.len());
    for l in &lines {
        for field in [
            "principal",
            "used",
            "denied",
            "findings",
            "policy",
            "coverage",
        ] {
            assert!(l.get(field).is_some(), "{field} missing in {l}");
        }
        assert!(l["principal"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:iam::"));
    }
    // Services beyond IAM, STS and S3 are mapped from the whole reference.
    let all = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(all.contains("\"ssm:SendCommand\"") && all.contains("\"ec2:DescribeInstances\""));
}

#[test]
fn a_covered_history_gives_findings_and_the_least_privilege_policy() {
    let dir = tempfile::tempdir().unwrap();
    let logs = history(dir.path());
    let acct = account(dir.path());
    let out = warden()
        .args([
            "access",
            "--format",
            "json",
            "--window",
            "30d,90d",
            "--principal",
        ])
        .arg(format!("arn:aws:iam::{ACCOUNT}:user/carol"))
        .arg("--account")
        .arg(&acct)
        .arg(&logs)
        .assert()
        .success();
    let lines = json_lines(&out.get_output().stdout);
    assert_eq!(lines.len(), 1);
    let carol = &lines[0];
    let used = carol["used"].as_array().unwrap();
    let get = used.iter().find(|u| u["action"] == "s3:GetObject").unwrap();
    assert_eq!(get["resource"], "arn:aws:s3:::reports/2026/q3.csv");
    assert_eq!(get["count"], 13);
    assert_eq!(get["first_seen"], "2026-10-03T09:10:00Z");
    assert_eq!(carol["denied"][0]["action"], "iam:CreateAccessKey");
    let findings = carol["findings"].as_array().unwrap();
    let of = |window: u64| -> Vec<String> {
        findings
            .iter()
            .filter(|f| f["window_days"] == window)
            .map(|f| {
                format!(
                    "{} {}",
                    f["type"].as_str().unwrap(),
                    f["service"].as_str().or(f["action"].as_str()).unwrap_or("")
                )
            })
            .collect()
    };
    let w30 = of(30);
    assert!(
        w30.contains(&"UnusedPermission s3:PutObject".to_owned()),
        "{w30:?}"
    );
    assert!(
        w30.contains(&"UnusedPermission s3:DeleteObject".to_owned()),
        "{w30:?}"
    );
    assert!(
        w30.contains(&"UnusedPermission dynamodb".to_owned()),
        "{w30:?}"
    );
    assert!(
        !w30.iter()
            .any(|f| f.contains("kms") || f.ends_with("s3:GetObject")),
        "{w30:?}"
    );
    // 90 days are more than the history holds: nothing is called unused there.
    let w90 = of(90);
    assert!(
        !w90.is_empty() && w90.iter().all(|f| f.starts_with("INSUFFICIENT_DATA")),
        "{w90:?}"
    );
    // The policy: exactly the used actions on the used resources.
    let policy = carol["policy"].to_string();
    assert!(
        policy.contains("arn:aws:s3:::reports/2026/q3.csv") && policy.contains("kms:Decrypt"),
        "{policy}"
    );
    assert!(
        !policy.contains("PutObject") && !policy.contains("dynamodb"),
        "{policy}"
    );
    assert_eq!(carol["coverage"]["gaps"].as_array().unwrap().len(), 0);
}

#[test]
fn plan_turns_the_findings_into_a_deny_or_an_inline_replacement_each_with_its_undo() {
    let dir = tempfile::tempdir().unwrap();
    let logs = history(dir.path());
    let acct = account(dir.path());
    let out = warden()
        .args([
            "access",
            "--format",
            "json",
            "--window",
            "30d",
            "--plan",
            "--account",
        ])
        .arg(&acct)
        .arg(&logs)
        .assert()
        .success();
    let lines = json_lines(&out.get_output().stdout);
    let carol = lines
        .iter()
        .find(|l| l["principal"] == "arn:aws:iam::111122223333:user/carol")
        .unwrap();
    let plans = &carol["plans"];
    assert_eq!(plans["mode"], "monitor");
    let denied: Vec<String> = plans["deny_unused"]["denied"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| format!("{} {}", p[0].as_str().unwrap(), p[1].as_str().unwrap()))
        .collect();
    assert!(
        denied.contains(&"s3:PutObject arn:aws:s3:::reports/*".to_owned()),
        "{denied:?}"
    );
    // DynamoDB, none of whose 79 actions carol used: denied whole, on what the grant names.
    assert!(denied.contains(&"dynamodb:* *".to_owned()), "{denied:?}");
    assert!(
        !denied.iter().any(|d| d.starts_with("dynamodb:Delete")),
        "{denied:?}"
    );
    assert!(
        !denied
            .iter()
            .any(|d| d.starts_with("s3:GetObject") || d.starts_with("kms:")),
        "{denied:?}"
    );
    // So it fits a user's 2,048-character inline policy.
    assert_eq!(plans["deny_unused"]["placement"], "inline");
    assert_eq!(
        plans["deny_unused"]["steps"][0]["call"],
        "iam:PutUserPolicy"
    );
    // The generated policy in first, then the old one out (on its precondition).
    let replace = &plans["replace_inline"];
    assert_eq!(replace["steps"][0]["call"], "iam:PutUserPolicy");
    assert_eq!(
        replace["steps"][0]["params"]["PolicyName"],
        "WardenLeastPrivilege"
    );
    assert_eq!(replace["steps"][1]["call"], "iam:DeleteUserPolicy");
    assert_eq!(replace["steps"][1]["params"]["PolicyName"], "analyst");
    assert_eq!(replace["undo"][0]["call"], "iam:DeleteUserPolicy");
    assert_eq!(replace["undo"][1]["call"], "iam:PutUserPolicy");
    assert!(replace["undo"][1]["params"]["PolicyDocument"]
        .to_string()
        .contains("dynamodb:*"));
    // Without an account file there is nothing to plan against.
    warden()
        .args(["access", "--plan"])
        .arg(&logs)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--account"));
}

#[test]
fn the_text_report_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let logs = history(dir.path());
    warden()
        .args(["access", "--account"])
        .arg(account(dir.path()))
        .arg(&logs)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "arn:aws:iam::111122223333:user/carol (iam-user)",
        ))
        .stdout(predicate::str::contains("finding (90d): INSUFFICIENT_DATA"))
        .stdout(predicate::str::contains(
            "checked against every successful call",
        ));
    // A bad record: the rest is read, exit 1, the record located.
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"eventSource\": 3}\n").unwrap();
    warden()
        .args(["access"])
        .arg(&logs)
        .arg(&bad)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("bad.jsonl:1"));
    // Usage errors: exit 2, naming what.
    warden()
        .args(["access", "--window", "ninety", "fixtures/cloudtrail"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--window: `ninety`"));
    warden()
        .args(["access", "--since", "yesterday", "fixtures/cloudtrail"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--since: `yesterday`"));
    warden()
        .args(["access", "/no/such/dir"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/no/such/dir"));
}

/// A trail's log files in S3 (the local AWS, over real HTTP): `s3://BUCKET/PREFIX` is read like a
/// local folder, gzip included.
#[tokio::test]
async fn an_s3_trail_prefix_is_read_like_a_local_folder() {
    use std::io::Write as _;
    let aws = warden_handler::local::emulator::LocalAws::start().unwrap();
    let s3 = aws_sdk_s3::Client::new(&aws.sdk_config().await);
    s3.create_bucket()
        .bucket("trail-logs")
        .send()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let lines = std::fs::read_to_string(history(dir.path())).unwrap();
    let records: Vec<&str> = lines.lines().collect();
    for (i, chunk) in records.chunks(400).enumerate() {
        let doc = format!("{{\"Records\":[{}]}}", chunk.join(","));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(doc.as_bytes()).unwrap();
        s3.put_object()
            .bucket("trail-logs")
            .key(format!(
                "AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2026/10/{i:02}/{ACCOUNT}_CloudTrail_us-east-1_{i}.json.gz"
            ))
            .body(gz.finish().unwrap().into())
            .send()
            .await
            .unwrap();
    }
    // Another prefix's file is not read.
    s3.put_object()
        .bucket("trail-logs")
        .key("other/x.json")
        .body(b"not a log".to_vec().into())
        .send()
        .await
        .unwrap();
    let out = warden()
        .env("AWS_ENDPOINT_URL", &aws.endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .args(["access", "--format", "json", "--principal"])
        .arg(format!("arn:aws:iam::{ACCOUNT}:user/carol"))
        .arg(format!("s3://trail-logs/AWSLogs/{ACCOUNT}/"))
        .assert()
        .success()
        .stderr(predicate::str::contains("downloaded 3 log files"))
        .stderr(predicate::str::contains(format!(
            "{} events",
            records.len()
        )));
    let lines = json_lines(&out.get_output().stdout);
    assert_eq!(lines.len(), 1);
    let get = lines[0]["used"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["action"] == "s3:GetObject")
        .cloned()
        .unwrap();
    assert_eq!(get["count"], 13);
    // A location that is not there: exit 2, naming it.
    warden()
        .env("AWS_ENDPOINT_URL", &aws.endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .args(["access", "s3://no-such-bucket/AWSLogs/"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("s3://no-such-bucket/AWSLogs/"));
}
