//! The `warden` CLI as a user runs it: real fixtures in, exit codes and output checked.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use assert_cmd::Command;
use predicates::prelude::*;
use std::io::Write;
use std::path::PathBuf;

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

#[test]
fn replay_of_the_bundled_fixtures_reads_everything() {
    warden()
        .args(["replay", "fixtures/cloudtrail"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Replayed 359 events from 5 files"))
        .stdout(predicate::str::contains("error             0"))
        .stdout(predicate::str::contains("iam-writes"));
}

#[test]
fn json_lines_carry_the_promised_fields() {
    let out = warden()
        .args(["replay", "--format", "json", "fixtures/cloudtrail"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let lines = json_lines(&out.stdout);
    assert_eq!(lines.len(), 359);
    for l in &lines {
        for key in [
            "event_id",
            "event_source",
            "event_name",
            "event_time",
            "caller",
            "actions",
            "resources",
            "verdict",
            "rule",
            "reasons",
        ] {
            assert!(l.get(key).is_some(), "missing {key} in {l}");
        }
        for key in ["type", "arn", "principal_arn"] {
            assert!(
                l["caller"].get(key).is_some(),
                "missing caller.{key} in {l}"
            );
        }
    }
    let attach = lines
        .iter()
        .find(|l| l["event_name"] == "AttachUserPolicy")
        .expect("the stratus fixtures have an AttachUserPolicy");
    assert_eq!(
        attach["actions"],
        serde_json::json!(["iam:AttachUserPolicy"])
    );
    assert_eq!(attach["rule"], "iam-writes");
}

#[test]
fn groups_decide_between_allow_and_deny_and_allow_group_replaces_admins() {
    let dir = tempfile::tempdir().unwrap();
    let groups = dir.path().join("groups.json");
    std::fs::write(&groups, r#"{"christophe": ["Administrators"]}"#).unwrap();
    let file = "fixtures/cloudtrail/stratus_red_team_detonation_logs.jsonl";
    let verdict_of_attach = |extra: &[&str]| {
        let mut args = vec![
            "replay",
            "--format",
            "json",
            "--groups",
            groups.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        args.push(file);
        let out = warden().args(&args).output().unwrap();
        let lines = json_lines(&out.stdout);
        lines
            .iter()
            .find(|l| l["event_name"] == "AttachUserPolicy")
            .unwrap()["verdict"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(verdict_of_attach(&[]), "allow");
    assert_eq!(verdict_of_attach(&["--allow-group", "Ops"]), "deny");
}

#[test]
fn bad_input_is_located_and_the_replay_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(
        root().join("fixtures/cloudtrail/custodian_eventbridge_envelopes.jsonl"),
    )
    .unwrap();
    let mut text = good.clone();
    text.push_str("{\"eventSource\": \"iam.amazonaws.com\", \n");
    text.push_str(&good);
    let path = dir.path().join("mixed.jsonl");
    std::fs::write(&path, text).unwrap();
    warden()
        .args(["replay", path.to_str().unwrap()])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("Replayed 20 events"))
        .stdout(predicate::str::contains("mixed.jsonl:11"))
        .stdout(predicate::str::contains("Errors (1; the replay went on)"));
}

#[test]
fn gzip_log_files_and_parallel_jobs_agree() {
    let dir = tempfile::tempdir().unwrap();
    for (i, name) in [
        "stratus_red_team_detonation_logs.jsonl",
        "awsdocs_example_events.jsonl",
    ]
    .iter()
    .enumerate()
    {
        let text = std::fs::read(root().join("fixtures/cloudtrail").join(name)).unwrap();
        let f = std::fs::File::create(dir.path().join(format!("{i}.json.gz"))).unwrap();
        let mut enc = flate2::write::GzEncoder::new(f, flate2::Compression::default());
        enc.write_all(&text).unwrap();
        enc.finish().unwrap();
    }
    let summary = |jobs: &str| {
        let out = warden()
            .args(["replay", "--jobs", jobs, dir.path().to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        text.lines().skip(1).collect::<Vec<_>>().join("\n")
    };
    let one = summary("1");
    assert!(one.contains("deny"), "{one}");
    assert_eq!(one, summary("2"));
}

#[test]
fn missing_paths_and_bad_rules_exit_2() {
    warden()
        .args(["replay", "no/such/dir"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no/such/dir"));
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::write(&rules, "version = 1\n[[rule]]\nid = \"x\"\n[rule.match]\nevents = [\"*\"]\nresources = [\"bucket\"]\n").unwrap();
    warden()
        .args([
            "replay",
            "--rules",
            rules.to_str().unwrap(),
            "fixtures/cloudtrail",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "rules.toml:6: rule[0].match.resources",
        ));
}

#[test]
fn rules_check_names_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    let out = warden().args(["rules", "default"]).output().unwrap();
    std::fs::write(&good, &out.stdout).unwrap();
    warden()
        .args(["rules", "check", good.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains("valid"));
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "version = 1\n[allow_sets.admins]\ngroups = [\"A\"]\naccounts = [\"12\"]\n",
    )
    .unwrap();
    warden()
        .args(["rules", "check", bad.to_str().unwrap()])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "bad.toml:4: allow_sets.admins.accounts: `12` is not a 12-digit account id",
        ));
}

// Regression (issue 9, classes A and B): dangerous patterns and names the catalog does not know are
// errors (exit 1); names of services the catalog lacks are warnings (exit 0).
#[test]
fn rules_check_refuses_dangerous_patterns_and_unknown_names() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "version = 1\nbreak_glass = [\"*\"]\n[allow_sets.a]\nroles = [\"arn:*:iam::*:role/**\"]\n[[rule]]\nid = \"x\"\nallow = [\"a\"]\n[rule.match]\nsources = [\"iam.amazonaws.co\"]\nactions = [\"iam:AttachUserPolicies\"]\n[[rule]]\nid = \"y\"\n[rule.match]\nsources = [\"iam.amazonaws.com\"]\nevents = [\"putrolepolicy\"]\n",
    )
    .unwrap();
    warden()
        .args(["rules", "check", bad.to_str().unwrap()])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "bad.toml:2: break_glass: `*` matches every principal",
        ))
        .stderr(predicate::str::contains(
            "bad.toml:4: allow_sets.a.roles: `arn:*:iam::*:role/**` matches every role",
        ))
        .stderr(predicate::str::contains(
            "bad.toml:9: rule[0].match.sources: `iam.amazonaws.co` is not an event source",
        ))
        .stderr(predicate::str::contains(
            "bad.toml:10: rule[0].match.actions: `iam:AttachUserPolicies` is not an action of the catalog",
        ))
        .stderr(predicate::str::contains(
            "bad.toml:15: rule[1].match.events: `putrolepolicy` matches no event name (names match case-sensitively): CloudTrail spells it `PutRolePolicy`",
        ));
    let warned = dir.path().join("warned.toml");
    std::fs::write(
        &warned,
        "version = 1\n[[rule]]\nid = \"x\"\n[rule.match]\nsources = [\"ec2.amazonaws.com\"]\nevents = [\"RunInstances\"]\n",
    )
    .unwrap();
    warden()
        .args(["rules", "check", warned.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains("valid").and(predicate::str::contains("(1 warning)")))
        .stderr(predicate::str::contains(
            "warning: ",
        ))
        .stderr(predicate::str::contains(
            "warned.toml:5: rule[0].match.sources: the catalog has no service for event source `ec2.amazonaws.com`",
        ));
    warden()
        .args(["rules", "check", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "1 when it has errors, 2 when it cannot be read",
        ));
}

#[test]
fn help_documents_exit_codes() {
    warden()
        .args(["replay", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Exit codes"));
}

#[test]
fn evidence_verify_names_the_first_bad_record() {
    use policy_rules::evidence::{Draft, RecordKind};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("evidence.jsonl");
    let mut head = None;
    for i in 0..4 {
        let d = Draft {
            id: format!("r{i}"),
            time: "2026-11-22T10:00:00Z".into(),
            kind: Some(RecordKind::Change),
            ..Draft::default()
        };
        head = Some(
            warden_handler::stores::evidence_file::append_after(&path, head, d)
                .unwrap()
                .seq,
        );
    }
    warden()
        .args(["evidence", "verify", path.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains("intact: 4 records"));
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replacen("\"kind\":\"change\"", "\"kind\":\"verify\"", 3),
    )
    .unwrap();
    warden()
        .args(["evidence", "verify", path.to_str().unwrap()])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "broken at record 0 (seq 0, id `r0`): its content does not match its hash",
        ));
}

#[test]
fn plan_shows_the_exact_document_and_the_undo() {
    let dir = tempfile::tempdir().unwrap();
    let event = dir.path().join("event.json");
    std::fs::write(
        &event,
        r#"{"detail-type":"AWS API Call via CloudTrail","source":"aws.iam","account":"111122223333","detail":{"eventSource":"iam.amazonaws.com","eventName":"AttachUserPolicy","eventTime":"2026-11-22T10:00:00Z","eventID":"e-1","recipientAccountId":"111122223333","awsRegion":"us-east-1","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/dev/mallory","accountId":"111122223333","userName":"mallory"},"requestParameters":{"userName":"mallory","policyArn":"arn:aws:iam::aws:policy/AdministratorAccess"}}}"#,
    )
    .unwrap();
    let account = dir.path().join("account.json");
    std::fs::write(&account, r#"{"UserDetailList":[{"UserName":"mallory","Arn":"arn:aws:iam::111122223333:user/dev/mallory","GroupList":["Developers"],"UserPolicyList":[],"AttachedManagedPolicies":[]}],"RoleDetailList":[],"GroupDetailList":[],"Policies":[]}"#).unwrap();
    let out = warden()
        .args([
            "plan",
            "--format",
            "json",
            "--event",
            event.to_str().unwrap(),
            "--account",
            account.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verdict"], "deny");
    assert_eq!(
        v["plan"]["target"],
        "arn:aws:iam::111122223333:user/dev/mallory"
    );
    assert_eq!(v["plan"]["policy_name"], "WardenDeny");
    assert_eq!(v["plan"]["fallback"], serde_json::Value::Null);
    assert_eq!(
        v["plan"]["policy_document"]["Statement"][0]["Action"],
        "iam:AttachUserPolicy"
    );
    assert_eq!(
        v["plan"]["policy_document"]["Statement"][0]["Resource"],
        "arn:aws:iam::111122223333:user/dev/mallory"
    );
    assert_eq!(v["plan"]["undo"][0]["call"], "iam:DetachUserPolicy");
    // Without the account, the caller's groups are unknown: a person must check.
    warden()
        .args(["plan", "--event", event.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains("Verdict   alert"))
        .stdout(predicate::str::contains(
            "Plan      none: a person must act",
        ));
}
