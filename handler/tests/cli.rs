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
        "version = 1\n[[rule]]\nid = \"x\"\n[rule.match]\nsources = [\"rds.amazonaws.com\"]\nevents = [\"CreateDBInstance\"]\n",
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
            "warned.toml:5: rule[0].match.sources: the catalog has no service for event source `rds.amazonaws.com`",
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

/// The CloudTrail record of the `plan` test's event (mallory attaches AdministratorAccess to
/// herself) in account `account`, as one line.
fn attach_record(account: &str, id: &str) -> String {
    format!(
        r#"{{"eventSource":"iam.amazonaws.com","eventName":"AttachUserPolicy","eventTime":"2026-11-22T10:00:00Z","eventID":"{id}","recipientAccountId":"{account}","awsRegion":"us-east-1","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::{account}:user/dev/mallory","accountId":"{account}","userName":"mallory"}},"requestParameters":{{"userName":"mallory","policyArn":"arn:aws:iam::aws:policy/AdministratorAccess"}}}}"#
    )
}

/// [`attach_record`] in an EventBridge envelope, as one line.
fn attach_event(account: &str, id: &str) -> String {
    format!(
        r#"{{"detail-type":"AWS API Call via CloudTrail","source":"aws.iam","account":"{account}","detail":{}}}"#,
        attach_record(account, id)
    )
}

/// An account dump of 111122223333 in which mallory is a developer.
const ACCOUNT_111: &str = r#"{"UserDetailList":[{"UserName":"mallory","Arn":"arn:aws:iam::111122223333:user/dev/mallory","GroupList":["Developers"],"UserPolicyList":[],"AttachedManagedPolicies":[]}],"RoleDetailList":[],"GroupDetailList":[],"Policies":[]}"#;

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

// Issue 9, item 1: a typo in a trail's path must never look like an intact trail.
#[test]
fn evidence_verify_and_list_of_a_missing_trail_exit_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-trail.jsonl");
    let want = format!(
        "error: cannot read `{}`: No such file or directory (os error 2)\n",
        missing.display()
    );
    warden()
        .args(["evidence", "verify", missing.to_str().unwrap()])
        .assert()
        .code(2)
        .stdout("")
        .stderr(want.clone());
    warden()
        .args(["evidence", "list", "--file", missing.to_str().unwrap()])
        .assert()
        .code(2)
        .stdout("")
        .stderr(want);
    // A directory is no trail either.
    warden()
        .args(["evidence", "verify", dir.path().to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot read"));
    // An existing empty file is intact, and says it holds nothing.
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    warden()
        .args(["evidence", "verify", empty.to_str().unwrap()])
        .assert()
        .success()
        .stdout(format!("{}: intact: empty, no records\n", empty.display()));
    warden()
        .args(["evidence", "list", "--file", empty.to_str().unwrap()])
        .assert()
        .success()
        .stdout("")
        .stderr(format!("{}: empty, no records\n", empty.display()));
}

#[test]
fn help_documents_exit_codes_of_every_command_that_reads_files() {
    for args in [
        &["replay", "--help"][..],
        &["plan", "--help"],
        &["evidence", "verify", "--help"],
        &["evidence", "list", "--help"],
        &["sweep", "--help"],
    ] {
        warden()
            .args(args)
            .assert()
            .success()
            .stdout(predicate::str::contains("Exit codes"))
            .stdout(predicate::str::contains("2  "))
            .stdout(predicate::str::contains("closed output"));
    }
    warden()
        .args(["evidence", "verify", "--help"])
        .assert()
        .stdout(predicate::str::contains(
            "the trail cannot be read (a missing",
        ));
}

// Issue 9, item 2: an account dump of another account says nothing about this one.
#[test]
fn plan_with_an_account_file_of_another_account_warns_and_plans_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let account = dir.path().join("account.json");
    std::fs::write(&account, ACCOUNT_111).unwrap();
    let event = dir.path().join("event.json");
    std::fs::write(&event, attach_event("444455556666", "e-other")).unwrap();
    let plan = |extra: &[&str]| {
        let mut args = vec![
            "plan",
            "--format",
            "json",
            "--event",
            event.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        warden().args(&args).output().unwrap()
    };
    let with = plan(&["--account", account.to_str().unwrap()]);
    assert_eq!(with.status.code(), Some(0), "{}", stderr_of(&with));
    assert_eq!(
        stderr_of(&with),
        format!(
            "warning: {}:1: the account file `{}` describes account `111122223333`, not the event's account `444455556666`: planned as if no account file was given\n",
            event.display(),
            account.display()
        )
    );
    // As if no account file was given: mallory's groups there are unknown.
    let without = plan(&[]);
    assert_eq!(stderr_of(&without), "");
    assert_eq!(with.stdout, without.stdout);
    let v: serde_json::Value = serde_json::from_slice(&with.stdout).unwrap();
    assert_eq!(v["verdict"], "alert");
    // For an event of the account it describes, it is used, without a warning.
    std::fs::write(&event, attach_event("111122223333", "e-same")).unwrap();
    let same = plan(&["--account", account.to_str().unwrap()]);
    assert_eq!(stderr_of(&same), "");
    let v: serde_json::Value = serde_json::from_slice(&same.stdout).unwrap();
    assert_eq!(v["verdict"], "deny");
}

// Issue 9, item 2: `--groups` entries keyed by another account's ARNs do not apply.
#[test]
fn groups_entries_of_another_account_do_not_apply_to_an_event() {
    let dir = tempfile::tempdir().unwrap();
    let groups = dir.path().join("groups.json");
    std::fs::write(
        &groups,
        r#"{"arn:aws:iam::111122223333:user/dev/mallory":["Developers"]}"#,
    )
    .unwrap();
    let event = dir.path().join("events.jsonl");
    std::fs::write(
        &event,
        format!(
            "{}\n{}\n",
            attach_event("111122223333", "e-1"),
            attach_event("444455556666", "e-2")
        ),
    )
    .unwrap();
    let out = warden()
        .args([
            "plan",
            "--format",
            "json",
            "--groups",
            groups.to_str().unwrap(),
            "--event",
            event.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let lines = json_lines(&out.stdout);
    let verdicts: Vec<_> = lines.iter().map(|l| l["verdict"].clone()).collect();
    assert_eq!(verdicts, ["deny", "alert"]);
    assert_eq!(
        stderr_of(&out),
        format!(
            "warning: {}:2: the groups file `{}` has entries of account `111122223333` only, not of the event's account `444455556666`: they do not apply\n",
            event.display(),
            groups.display()
        )
    );
    // A replay does not apply them either, and says how many events were of such an account.
    let replayed = warden()
        .args([
            "replay",
            "--format",
            "json",
            "--groups",
            groups.to_str().unwrap(),
            event.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let verdicts: Vec<_> = json_lines(&replayed.stdout)
        .iter()
        .map(|l| l["verdict"].clone())
        .collect();
    assert_eq!(verdicts, ["deny", "alert"]);
    assert!(
        stderr_of(&replayed).contains("Note: 1 event of account `444455556666`: the --groups file has entries of other accounts only"),
        "{}",
        stderr_of(&replayed)
    );
}

// Issue 9, item 4: `plan` reads JSON Lines as `replay` does, and takes `--groups`.
#[test]
fn plan_reads_json_lines_and_takes_groups() {
    let dir = tempfile::tempdir().unwrap();
    let event = dir.path().join("events.jsonl");
    std::fs::write(
        &event,
        format!(
            "{}\n{{\"eventSource\": \n\n{}\n",
            attach_event("111122223333", "e-1"),
            attach_event("111122223333", "e-3")
        ),
    )
    .unwrap();
    let groups = dir.path().join("groups.json");
    std::fs::write(&groups, r#"{"mallory": ["Administrators"]}"#).unwrap();
    let out = warden()
        .args([
            "plan",
            "--format",
            "json",
            "--groups",
            groups.to_str().unwrap(),
            "--event",
            event.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let lines = json_lines(&out.stdout);
    let ids: Vec<_> = lines.iter().map(|l| l["event_id"].clone()).collect();
    assert_eq!(ids, ["e-1", "e-3"]);
    assert!(lines.iter().all(|l| l["verdict"] == "allow"), "{lines:?}");
    let err = stderr_of(&out);
    assert!(
        err.starts_with(&format!("{}:2: ", event.display())),
        "{err}"
    );
    // Text blocks, one per event, and gzip input, as `replay` reads it.
    let gz = dir.path().join("events.jsonl.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    enc.write_all(
        format!(
            "{}\n{}\n",
            attach_event("111122223333", "e-1"),
            attach_event("111122223333", "e-2")
        )
        .as_bytes(),
    )
    .unwrap();
    enc.finish().unwrap();
    let out = warden()
        .args(["plan", "--event", gz.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        text.matches("Event     iam:AttachUserPolicy").count(),
        2,
        "{text}"
    );
    assert!(text.contains("(id e-2)\n"), "{text}");
}

// Issue 9, item 5: a missing file is named once, its error said once.
#[test]
fn a_missing_file_is_named_and_its_error_said_once() {
    let dir = tempfile::tempdir().unwrap();
    let missing = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let (rules, groups, account, event) = (
        missing("rules.toml"),
        missing("groups.json"),
        missing("account.json"),
        missing("event.json"),
    );
    let enoent = "No such file or directory (os error 2)";
    let good_event = dir.path().join("good.json");
    std::fs::write(&good_event, attach_event("111122223333", "e-1")).unwrap();
    let good_event = good_event.to_str().unwrap();
    let cases: Vec<(Vec<&str>, String)> = vec![
        (
            vec!["replay", "--rules", &rules, "fixtures/cloudtrail"],
            format!("error: cannot read rules `{rules}`: {enoent}\n"),
        ),
        (
            vec!["plan", "--rules", &rules, "--event", good_event],
            format!("error: cannot read rules `{rules}`: {enoent}\n"),
        ),
        (
            vec!["rules", "check", &rules],
            format!("error: cannot read `{rules}`: {enoent}\n"),
        ),
        (
            vec!["replay", "--groups", &groups, "fixtures/cloudtrail"],
            format!("error: cannot read groups `{groups}`: {enoent}\n"),
        ),
        (
            vec!["plan", "--groups", &groups, "--event", good_event],
            format!("error: cannot read groups `{groups}`: {enoent}\n"),
        ),
        (
            vec!["plan", "--account", &account, "--event", good_event],
            format!("error: cannot read account `{account}`: {enoent}\n"),
        ),
        (
            vec!["plan", "--event", &event],
            format!("error: cannot read event `{event}`: {enoent}\n"),
        ),
        (
            vec!["replay", &event],
            format!("error: cannot read `{event}`: {enoent}\n"),
        ),
        (
            vec!["evidence", "verify", &event],
            format!("error: cannot read `{event}`: {enoent}\n"),
        ),
    ];
    for (args, want) in cases {
        warden().args(&args).assert().code(2).stderr(want);
    }
    // A file that is not JSON says so once too.
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "nope").unwrap();
    let bad = bad.to_str().unwrap();
    warden()
        .args(["replay", "--groups", bad, "fixtures/cloudtrail"])
        .assert()
        .code(2)
        .stderr(format!(
            "error: groups `{bad}`: invalid JSON: expected ident at line 1 column 2\n"
        ));
    warden()
        .args(["plan", "--account", bad, "--event", good_event])
        .assert()
        .code(2)
        .stderr(format!(
            "error: account `{bad}`: invalid JSON: expected ident at line 1 column 2\n"
        ));
}

/// Spawns `warden ARGS` with stdout piped, reads one line of it and closes the pipe, then waits (at
/// most a minute) for the command to end. Returns its exit status and stderr, or `None` when it did
/// not end (it was killed).
#[cfg(unix)]
fn read_one_line_and_close(args: &[&str]) -> Option<(std::process::ExitStatus, String)> {
    use std::io::{BufRead, Read};
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("warden"))
        .current_dir(root())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert!(!line.is_empty(), "no output at all");
    drop(stdout);
    let mut stderr = child.stderr.take().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            stderr.read_to_string(&mut err).unwrap();
            return Some((status, err));
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Named pipes that never end: each gets the bundled fixtures' records over and over, from a thread,
/// until its reader closes it (or a few minutes pass). What a replay reads from them never runs out.
#[cfg(unix)]
fn endless_inputs(dir: &std::path::Path, n: usize) -> Vec<PathBuf> {
    let records =
        std::fs::read(root().join("fixtures/cloudtrail/stratus_red_team_detonation_logs.jsonl"))
            .unwrap();
    (0..n)
        .map(|i| {
            let path = dir.join(format!("endless-{i}.jsonl"));
            let made = std::process::Command::new("mkfifo")
                .arg(&path)
                .status()
                .unwrap();
            assert!(made.success());
            let (p, records) = (path.clone(), records.clone());
            std::thread::spawn(move || {
                let until = std::time::Instant::now() + std::time::Duration::from_secs(300);
                let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&p) else {
                    return;
                };
                while std::time::Instant::now() < until && f.write_all(&records).is_ok() {}
            });
            path
        })
        .collect()
}

// Issue 9, item 3: `warden plan … | head -1` ends quietly, not with a panic (exit 101).
#[cfg(unix)]
#[test]
fn a_closed_output_ends_plan_quietly() {
    let dir = tempfile::tempdir().unwrap();
    // One log file whose plans do not fit in a pipe's buffer.
    let event = dir.path().join("log.json");
    let records: Vec<String> = (0..3000)
        .map(|i| attach_record("111122223333", &format!("e-{i}")))
        .collect();
    std::fs::write(&event, format!("{{\"Records\":[{}]}}", records.join(","))).unwrap();
    for format in ["text", "json"] {
        let (status, err) = read_one_line_and_close(&[
            "plan",
            "--format",
            format,
            "--event",
            event.to_str().unwrap(),
        ])
        .expect("plan did not end after its output was closed");
        assert_eq!(status.code(), Some(0), "{format}: {err}");
        assert_eq!(err, "", "{format}");
    }
}

// Issue 9, item 3: `warden replay --format json … | head -1` stops its workers at once, rather than
// replay everything. Its input never ends, so only stopping ends it.
#[cfg(unix)]
#[test]
fn a_closed_output_stops_every_replay_worker() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = endless_inputs(dir.path(), 2);
    let mut args = vec!["replay", "--format", "json", "--jobs", "2", "--no-progress"];
    args.extend(inputs.iter().map(|p| p.to_str().unwrap()));
    let (status, err) =
        read_one_line_and_close(&args).expect("replay did not stop after its output was closed");
    assert_eq!(status.code(), Some(0), "{err}");
    // Quiet: no panic, and no summary of a part of the input.
    assert_eq!(err, "");
}

// Issue 9, item 3: the other printing commands end quietly too.
#[cfg(unix)]
#[test]
fn a_closed_output_ends_evidence_list_quietly() {
    use policy_rules::evidence::{Draft, RecordKind};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("evidence.jsonl");
    let mut head = None;
    let mut record = None;
    // A trail long enough that its listing does not fit in a pipe's buffer.
    let mut text = String::new();
    for i in 0..3000 {
        let d = Draft {
            id: format!("r{i}"),
            time: "2026-11-22T10:00:00Z".into(),
            kind: Some(RecordKind::Change),
            principal: Some("arn:aws:iam::111122223333:user/dev/mallory".into()),
            ..Draft::default()
        };
        let r = policy_rules::evidence::append(record.as_ref(), d);
        text.push_str(&r.to_line());
        text.push('\n');
        head = Some(r.seq);
        record = Some(r);
    }
    assert_eq!(head, Some(2999));
    std::fs::write(&path, text).unwrap();
    for format in ["text", "json"] {
        let (status, err) = read_one_line_and_close(&[
            "evidence",
            "list",
            "--format",
            format,
            "--file",
            path.to_str().unwrap(),
        ])
        .expect("evidence list did not end after its output was closed");
        assert_eq!(status.code(), Some(0), "{format}: {err}");
        assert_eq!(err, "", "{format}");
    }
}

fn sweep_seeded(extra: &[&str]) -> assert_cmd::assert::Assert {
    let mut args = vec![
        "sweep",
        "--account",
        "fixtures/sweep/account.json",
        "--buckets",
        "fixtures/sweep/buckets.json",
        "--credential-report",
        "fixtures/sweep/credential-report.csv",
        "--trails",
        "fixtures/sweep/trails.json",
        "--held",
        "fixtures/sweep/held.json",
        "--now",
        "2026-12-01T00:00:00Z",
    ];
    args.extend_from_slice(extra);
    warden().args(&args).assert()
}

#[test]
fn sweep_of_the_seeded_account_finds_one_of_each_kind_as_json_lines() {
    let out = sweep_seeded(&["--format", "json", "--max-changes", "1000"])
        .code(0)
        .stderr(predicate::str::contains("Swept account 111122223333"))
        .get_output()
        .clone();
    let lines = json_lines(&out.stdout);
    for kind in [
        "drift",
        "effective-admin",
        "exposure",
        "standing-violation",
        "unused",
    ] {
        assert!(lines.iter().any(|l| l["kind"] == kind), "no {kind}");
    }
    for t in [
        "UnusedIAMUserAccessKey",
        "UnusedIAMUserPassword",
        "UnusedIAMRole",
        "INSUFFICIENT_DATA",
        "DenyMissing",
        "TrailNotLogging",
        "PublicBucketPolicy",
        "PassRole",
    ] {
        assert!(lines.iter().any(|l| l["type"] == t), "no {t}");
    }
    for l in &lines {
        for key in [
            "kind",
            "type",
            "rule",
            "actions",
            "evidence",
            "data_age_seconds",
            "response",
        ] {
            assert!(l.get(key).is_some(), "missing {key} in {l}");
        }
        assert!(
            l.get("principal").is_some() || l.get("resource").is_some(),
            "{l}"
        );
        assert_eq!(l["response"]["mode"], "monitor");
    }
    // Worst first: drift leads.
    assert_eq!(lines[0]["kind"], "drift");
    // The summary counts by kind, worst first.
    let err = String::from_utf8_lossy(&out.stderr);
    let drift = err.find("drift").unwrap();
    let unused = err.find("unused").unwrap();
    assert!(drift < unused, "{err}");
}

#[test]
fn sweep_over_the_change_limit_exits_3_and_says_so() {
    sweep_seeded(&["--max-changes", "2"])
        .code(3)
        .stdout(predicate::str::contains("(not planned)"))
        .stdout(predicate::str::contains(
            "over the sweep's change limit (2 changes)",
        ))
        .stderr(predicate::str::contains(
            "findings over the limit, not planned",
        ));
}

#[test]
fn sweep_errors_name_the_file_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("buckets.json");
    std::fs::write(
        &bad,
        r#"{"buckets":[{"name":"x","policy":{"Statement":7}}]}"#,
    )
    .unwrap();
    warden()
        .args([
            "sweep",
            "--account",
            "fixtures/sweep/account.json",
            "--buckets",
        ])
        .arg(&bad)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("buckets.json"))
        .stderr(predicate::str::contains("bucket 0 (`x`)"));
    warden()
        .args([
            "sweep",
            "--account",
            "fixtures/cloudtrail/awsdocs_example_events.jsonl",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "account `fixtures/cloudtrail/awsdocs_example_events.jsonl`",
        ));
    warden()
        .args([
            "sweep",
            "--account",
            "fixtures/sweep/account.json",
            "--credential-report",
            "fixtures/sweep/trails.json",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "credential report `fixtures/sweep/trails.json`",
        ));
}

#[test]
fn sweep_with_scps_caps_admins_and_a_bad_scps_file_exits_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let full = r#"{"name":"FullAWSAccess","policy":{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}}"#;
    let good = dir.path().join("scps.json");
    std::fs::write(
        &good,
        format!(
            r#"{{"scps":[[{full}],[{full},{{"name":"DenyAll","policy":"{{\"Statement\":{{\"Effect\":\"Deny\",\"Action\":\"*\",\"Resource\":\"*\"}}}}"}}]]}}"#
        ),
    )
    .unwrap();
    let admins = |extra: &[&str]| -> Vec<String> {
        let mut args = vec!["--format", "json"];
        args.extend_from_slice(extra);
        let out = sweep_seeded(&args).get_output().clone();
        json_lines(&out.stdout)
            .into_iter()
            .filter(|l| l["kind"] == "effective-admin")
            .map(|l| l["principal"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    assert!(admins(&[]).iter().any(|p| p.ends_with("user/ops-bot")));
    assert_eq!(
        admins(&["--scps", good.to_str().unwrap()]),
        Vec::<String>::new()
    );

    let bad = dir.path().join("bad-scps.json");
    std::fs::write(&bad, format!(r#"{{"scps":[[{full}],{full}]}}"#)).unwrap();
    warden()
        .args([
            "sweep",
            "--account",
            "fixtures/sweep/account.json",
            "--scps",
        ])
        .arg(&bad)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!(
            "organization policies `{}`",
            bad.display()
        )))
        .stderr(predicate::str::contains(
            "`scps` level 1: not a list of policies",
        ));
    // A file for another account is refused, naming both accounts; for this one it is taken.
    let scps = std::fs::read_to_string(&good).unwrap();
    for (account, code) in [("999999999999", 2), ("111122223333", 0)] {
        let file = dir.path().join(format!("scps-{account}.json"));
        std::fs::write(
            &file,
            scps.replacen('{', &format!(r#"{{"account":"{account}","#), 1),
        )
        .unwrap();
        let run = warden()
            .args([
                "sweep",
                "--account",
                "fixtures/sweep/account.json",
                "--scps",
            ])
            .arg(&file)
            .assert()
            .code(code);
        if code == 2 {
            run.stderr(predicate::str::contains(format!(
                "organization policies `{}`",
                file.display()
            )))
            .stderr(predicate::str::contains(
                "the levels lead to `999999999999`, but the swept account is `111122223333`",
            ));
        }
    }
    // Offline only: the live sweep reads them from AWS Organizations itself.
    warden()
        .args(["sweep", "--scps"])
        .arg(&good)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--account"));
    // The help defines the file.
    warden()
        .args(["sweep", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("--scps <FILE>"))
        .stdout(predicate::str::contains("{\"account\":"))
        .stdout(predicate::str::contains("organization policies (--scps)"));
}

#[test]
fn sweep_reads_the_credential_report_as_aws_prints_it() {
    let dir = tempfile::tempdir().unwrap();
    let csv = std::fs::read(root().join("fixtures/sweep/credential-report.csv")).unwrap();
    // Standard base64, as `aws iam get-credential-report` returns `Content`.
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::new();
    for chunk in csv.chunks(3) {
        let n = chunk.iter().fold(0u32, |a, b| (a << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            b64.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
        b64.push_str(&"=".repeat(3 - chunk.len()));
    }
    let file = dir.path().join("report.json");
    std::fs::write(
        &file,
        serde_json::json!({"Content": b64, "ReportFormat": "text/csv", "GeneratedTime": "2026-11-30T00:00:00Z"}).to_string(),
    )
    .unwrap();
    let out = warden()
        .args([
            "sweep",
            "--format",
            "json",
            "--account",
            "fixtures/sweep/account.json",
            "--now",
            "2026-12-01T00:00:00Z",
            "--credential-report",
        ])
        .arg(&file)
        .output()
        .unwrap();
    let lines = json_lines(&out.stdout);
    let key = lines
        .iter()
        .find(|l| l["type"] == "UnusedIAMUserAccessKey")
        .unwrap();
    assert_eq!(key["data_age_seconds"], 86_400);
}

#[test]
fn sweep_of_the_real_account_dump_runs() {
    let out = warden()
        .args([
            "sweep",
            "--format",
            "json",
            "--account",
            "fixtures/policies/cloudsplaining_test_example-authz-details.json",
        ])
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1 | 3)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!json_lines(&out.stdout).is_empty());
}

#[test]
fn sweep_help_defines_the_buckets_file_and_the_change_limit_code() {
    warden()
        .args(["sweep", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"account_public_access_block\""))
        .stdout(predicate::str::contains("\"object_ownership\""))
        .stdout(predicate::str::contains(
            "3  swept, and some findings' changes are over --max-changes",
        ));
    warden()
        .arg("--help")
        .assert()
        .stdout(predicate::str::contains("sweep               1"));
}

#[test]
fn catch_up_checks_its_window_before_it_asks_aws_and_documents_its_exit_codes() {
    warden()
        .args(["catch-up", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Exit codes"))
        .stdout(predicate::str::contains("S3 data events"));
    warden()
        .args(["catch-up", "--since", "yesterday"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("`yesterday`"))
        .stderr(predicate::str::contains("--since"));
    warden()
        .args(["catch-up", "--since", "1h", "--until", "2h"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is not before `--until`"));
    warden()
        .args([
            "catch-up",
            "--since",
            "1h",
            "--region",
            "eu-west-1",
            "--region",
            "Europe",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "--region: `Europe` is not an AWS region name",
        ));
    warden()
        .args(["catch-up", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("--region <REGION>"));
}
