//! `warden check` as CI runs it: the fixtures under `fixtures/checks/` and the real template in,
//! the exit codes (0 pass, 1 fail or cannot prove, 2 input error) and the JSON shape checked.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn warden() -> Command {
    let mut c = Command::cargo_bin("warden").unwrap();
    c.current_dir(root());
    c
}

fn json_of(args: &[&str]) -> (i32, Value) {
    let out = warden().args(args).output().unwrap();
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    (out.status.code().unwrap(), v)
}

const REF: &str = "fixtures/checks/reference.json";

#[test]
fn no_new_access_passes_fails_and_cannot_prove_with_its_exit_codes() {
    warden()
        .args([
            "check",
            "no-new-access",
            "--reference",
            REF,
            "--policy",
            "fixtures/checks/narrower.json",
        ])
        .assert()
        .code(0)
        .stdout(predicate::str::starts_with("pass: no new access"));
    warden()
        .args([
            "check",
            "no-new-access",
            "--reference",
            REF,
            "--policy",
            "fixtures/checks/broader.json",
        ])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("fail: new access"))
        .stdout(predicate::str::contains("on `arn:aws:s3:::reports/"))
        .stdout(predicate::str::contains("statement `WriteReports`"));
    warden()
        .args([
            "check",
            "no-new-access",
            "--reference",
            "fixtures/checks/not-action-reference.json",
            "--policy",
            "fixtures/checks/not-action.json",
        ])
        .assert()
        .code(1)
        .stdout(predicate::str::starts_with("cannot prove:"))
        .stdout(predicate::str::contains("`NotAction`"));
}

#[test]
fn json_output_has_result_and_for_a_failure_the_example() {
    let (code, v) = json_of(&[
        "check",
        "no-new-access",
        "--reference",
        REF,
        "--policy",
        "fixtures/checks/broader.json",
        "--format",
        "json",
    ]);
    assert_eq!(code, 1);
    assert_eq!(v["check"], "no-new-access");
    assert_eq!(v["result"], "fail");
    let ex = &v["example"];
    assert!(
        ex["action"]
            .as_str()
            .unwrap()
            .to_ascii_lowercase()
            .starts_with("s3:put"),
        "{v}"
    );
    assert!(ex["resource"]
        .as_str()
        .unwrap()
        .starts_with("arn:aws:s3:::reports/"));
    assert_eq!(ex["statement"]["sid"], "WriteReports");
    assert_eq!(ex["statement"]["policy"], "fixtures/checks/broader.json");
    assert_eq!(ex["statement"]["document"]["Action"], "s3:Put*");
    assert!(v["why"].is_string());
    let (code, v) = json_of(&[
        "check",
        "no-new-access",
        "--reference",
        REF,
        "--policy",
        "fixtures/checks/narrower.json",
        "--format",
        "json",
    ]);
    assert_eq!((code, v["result"].as_str()), (0, Some("pass")));
    assert!(v.get("example").is_none());
    let (code, v) = json_of(&[
        "check",
        "no-new-access",
        "--reference",
        "fixtures/checks/not-action-reference.json",
        "--policy",
        "fixtures/checks/not-action.json",
        "--format",
        "json",
    ]);
    assert_eq!((code, v["result"].as_str()), (1, Some("cannot-prove")));
    assert!(v["why"].as_str().unwrap().contains("NotAction"));
}

#[test]
fn access_not_granted_on_files_and_the_account_file() {
    warden()
        .args([
            "check",
            "access-not-granted",
            "--actions",
            "iam:PassRole,s3:DeleteBucket",
            REF,
        ])
        .assert()
        .code(0)
        .stdout(predicate::str::starts_with("pass:"));
    let (code, v) = json_of(&[
        "check",
        "access-not-granted",
        "--actions",
        "s3:PutObject,s3:GetObject",
        "--resources",
        "arn:aws:s3:::reports/q3.csv",
        REF,
        "--format",
        "json",
    ]);
    assert_eq!(code, 1);
    assert_eq!(v["result"], "fail");
    assert_eq!(v["example"]["action"], "s3:GetObject");
    assert_eq!(v["example"]["resource"], "arn:aws:s3:::reports/q3.csv");
    // Denied where the Deny covers it.
    warden()
        .args([
            "check",
            "access-not-granted",
            "--actions",
            "s3:GetObject",
            "--resources",
            "arn:aws:s3:::reports/secret/*",
            REF,
        ])
        .assert()
        .code(0);
    // The real account file: its admins may pass roles.
    let gaad = "fixtures/policies/cloudsplaining_test_example-authz-details.json";
    warden()
        .args([
            "check",
            "access-not-granted",
            "--actions",
            "iam:PassRole",
            gaad,
        ])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("fail:"))
        .stdout(predicate::str::contains("iam:PassRole"));
}

#[test]
fn the_real_template_against_itself_and_a_wider_copy() {
    let template = "cloudformation/warden.yaml";
    warden()
        .args([
            "check",
            "no-new-access",
            "--reference",
            template,
            "--policy",
            template,
        ])
        .assert()
        .code(0)
        .stdout(predicate::str::starts_with("pass:"));
    let text = std::fs::read_to_string(root().join(template)).unwrap();
    let wider = text.replacen(
        "              - iam:UpdateAssumeRolePolicy\n",
        "              - iam:UpdateAssumeRolePolicy\n              - iam:CreateAccessKey\n",
        1,
    );
    assert_ne!(wider, text);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wider.yaml");
    std::fs::write(&path, wider).unwrap();
    let (code, v) = json_of(&[
        "check",
        "no-new-access",
        "--reference",
        template,
        "--policy",
        path.to_str().unwrap(),
        "--format",
        "json",
    ]);
    // Not a pass: the template's Denies with values known only at deployment (left out of their
    // conditions) may deny the example the evaluator tries, so it is `cannot-prove`, naming the
    // statement and the action.
    assert_eq!(code, 1, "{v}");
    assert_ne!(v["result"], "pass");
    assert!(
        v["why"].as_str().unwrap().contains("iam:CreateAccessKey"),
        "{v}"
    );
    assert!(
        v["why"]
            .as_str()
            .unwrap()
            .contains("DenyAndUndoOnPrincipals"),
        "{v}"
    );
    // The function may not attach any policy it likes on users, only Warden's own.
    warden()
        .args([
            "check",
            "access-not-granted",
            "--actions",
            "iam:AttachUserPolicy,iam:CreatePolicyVersion",
            "--resources",
            "arn:aws:iam::aws:policy/AdministratorAccess",
            template,
        ])
        .assert()
        .code(0);
}

#[test]
fn unreadable_inputs_exit_2_naming_the_file() {
    warden()
        .args([
            "check",
            "no-new-access",
            "--reference",
            REF,
            "--policy",
            "fixtures/checks/invalid.json",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("`fixtures/checks/invalid.json`"))
        .stderr(predicate::str::contains("`Statement`"));
    warden()
        .args([
            "check",
            "no-new-access",
            "--reference",
            "fixtures/checks/missing.json",
            "--policy",
            REF,
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "cannot read `fixtures/checks/missing.json`",
        ));
    warden()
        .args([
            "check",
            "access-not-granted",
            "--actions",
            "iam:PassRole",
            "--principal",
            "arn:aws:iam::1:user/x",
            REF,
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--principal"));
    warden()
        .args(["check", "access-not-granted", "--actions", "PassRole", REF])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("`PassRole` is not an action"));
    warden()
        .args(["check", "no-new-access", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Exit codes"))
        .stdout(predicate::str::contains("cannot"));
}
