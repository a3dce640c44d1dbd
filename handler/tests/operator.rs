//! The operator's view of a running Warden, as a new user tries it: the `warden` binary against the
//! local AWS (moto over real HTTP) — on the real stack deployed by the emulator's CloudFormation,
//! `config --stack`, `worker --once` on a real event, `evidence list | show | export | verify`,
//! `status`, `rollback` twice; `config --stack` on small stacks and its errors; without any AWS
//! configuration, the one-line failure; plain logs, and the demo's story apart from them. Also the
//! CLI's own documentation: completions, man pages, help on every argument, and exit codes in the
//! top-level help.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use assert_cmd::Command;
use clap::CommandFactory;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use warden_handler::aws::{Clients, RateLimits, RetryPolicy};
use warden_handler::cli::args::Cli;
use warden_handler::cli::stack_config::INIT_ORDER;
use warden_handler::local::demo::{
    self, escalation_event, mallory_puts_role_policy, Deploy, Scenario,
};
use warden_handler::local::emulator::LocalAws;

const MALLORY: &str = "arn:aws:iam::123456789012:user/mallory";
const APP_DEPLOY: &str = "arn:aws:iam::123456789012:role/app-deploy";

/// The binary with nothing of this process's environment but `PATH`, and `HOME` in an empty
/// directory (no `~/.aws`), plus `env`.
fn warden(home: &Path, env: &[(String, String)]) -> Command {
    let mut c = Command::cargo_bin("warden").unwrap();
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("TMPDIR", home);
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn ok(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The demo account on the real stack (`cloudformation/warden.yaml` in the emulator's
/// CloudFormation, the emulator's policy enforcement on), where mallory escalated; and the
/// operator's environment: the admin's credentials and what `warden config --stack warden`
/// prints, evaluated by a shell. The operator then runs `warden worker --once` (the stack's
/// `LambdaConsumesQueues=false` way), and Warden enforces.
async fn enforced_on_the_stack(home: &Path) -> (LocalAws, Scenario, Vec<(String, String)>) {
    let aws = LocalAws::start().expect("the local AWS starts");
    let s = Scenario::setup_with(&aws, Deploy::Stack).await.unwrap();
    assert!(mallory_puts_role_policy(&s, "app-deploy", "escalate")
        .await
        .unwrap());
    let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
        .source("aws.iam")
        .detail_type("AWS API Call via CloudTrail")
        .detail(escalation_event("op-role-1", "app-deploy").to_string())
        .build();
    let put = s
        .admin
        .clients
        .events
        .put_events()
        .entries(entry)
        .send()
        .await
        .unwrap();
    assert_eq!(put.failed_entry_count(), 0);

    let mut env: Vec<(String, String)> = [
        ("AWS_ENDPOINT_URL", aws.endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", s.admin.access_key_id.as_str()),
        ("AWS_SECRET_ACCESS_KEY", s.admin.secret_access_key.as_str()),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let printed = ok(warden(home, &env)
        .args(["config", "--stack", demo::STACK])
        .output()
        .unwrap());
    // Every output the stack's deploy read as configuration is a line.
    for (name, value) in &s.init.vars {
        assert!(
            printed.contains(&format!("export {name}={value}\n")),
            "{name} not in\n{printed}"
        );
    }
    let shell = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{printed}env"))
        .env_clear()
        .output()
        .unwrap();
    let evaluated = String::from_utf8_lossy(&shell.stdout).into_owned();
    env.extend(
        evaluated
            .lines()
            .filter(|l| l.starts_with("WARDEN_"))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    assert!(
        env.iter().any(|(k, _)| k == "WARDEN_EVIDENCE_TABLE"),
        "{printed}"
    );
    let worked = ok(warden(home, &env)
        .args(["worker", "--once"])
        .output()
        .unwrap());
    assert!(worked.contains("changes 2"), "{worked}");
    assert!(!mallory_puts_role_policy(&s, "app-deploy", "again")
        .await
        .unwrap());
    (aws, s, env)
}

// Issue 10 §4, against the deployed stack: evidence list names the changed resource by ARN and
// says what a change did; show prints one record in full; export writes what verify reads; status
// says what is in force and how to lift it; a second rollback says it is rolled back already.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_lists_shows_exports_and_rolls_back_what_warden_did() {
    let home = tempfile::tempdir().unwrap();
    let (_aws, _s, env) = enforced_on_the_stack(home.path()).await;
    let run = |args: &[&str]| warden(home.path(), &env).args(args).output().unwrap();

    // evidence list: targets are ARNs, changes say what they denied or undid.
    let list = json_lines(&ok(run(&["evidence", "list", "--format", "json"])));
    let changes: Vec<&Value> = list.iter().filter(|r| r["kind"] == "change").collect();
    assert_eq!(changes.len(), 2, "{list:#?}");
    let deny = changes.iter().find(|r| r["target"] == MALLORY).unwrap();
    let what = deny["what"].as_str().unwrap();
    // The event names the role without its path: the Deny covers it at any path.
    assert_eq!(
        what,
        format!(
            "denied `{MALLORY}` `iam:PutRolePolicy` on `arn:aws:iam::123456789012:role/*/app-deploy`, \
             `{APP_DEPLOY}` (inline policy `WardenDeny`)"
        )
    );
    assert_eq!(deny["actions"], serde_json::json!(["iam:PutUserPolicy"]));
    let undo = changes.iter().find(|r| r["target"] == APP_DEPLOY).unwrap();
    assert_eq!(
        undo["what"],
        format!("undid `PutRolePolicy` (event `op-role-1`): deleted inline policy `escalate` of `{APP_DEPLOY}`")
    );
    let decision = list.iter().find(|r| r["kind"] == "decision").unwrap();
    assert_eq!(
        decision["what"],
        "`PutRolePolicy`: verdict `deny`, outcome `deny`"
    );
    let verify = list.iter().find(|r| r["kind"] == "verify").unwrap();
    assert!(
        verify["what"].as_str().unwrap().ends_with("` holds"),
        "{verify}"
    );

    // evidence show: the whole record.
    let id = deny["id"].as_str().unwrap();
    let shown = ok(run(&["evidence", "show", id]));
    let full: Value =
        serde_json::from_str(&ok(run(&["evidence", "show", id, "--format", "json"]))).unwrap();
    assert_eq!(full["id"], id);
    for part in [
        format!("record     {id}"),
        format!("target     {MALLORY}"),
        format!("what       {what}"),
        format!("hash       {}", full["hash"].as_str().unwrap()),
        format!("prev_hash  {}", full["prev_hash"].as_str().unwrap()),
        "before-state:\n".to_owned(),
        "after-state:\n".to_owned(),
        "\"WardenDeny\"".to_owned(),
    ] {
        assert!(shown.contains(&part), "`{part}` not in\n{shown}");
    }
    let request_ids = full["body"]["applied"]["request_ids"].as_array().unwrap();
    assert!(!request_ids.is_empty(), "{full}");
    assert!(shown.contains(&format!("requests   {}", request_ids[0].as_str().unwrap())));
    let missing = run(&["evidence", "show", "no-such-id"]);
    assert_eq!(missing.status.code(), Some(2));
    assert_eq!(
        stderr(&missing),
        format!(
            "error: no evidence record `no-such-id` in table `{}` (`warden evidence list` shows the ids)\n",
            env.iter().find(|(k, _)| k == "WARDEN_EVIDENCE_TABLE").unwrap().1
        )
    );

    // status: what Warden holds, with how to lift it.
    assert_eq!(
        ok(run(&["status"])),
        format!(
            "{MALLORY}
  Deny (inline policy `WardenDeny`):
    iam:PutRolePolicy on arn:aws:iam::123456789012:role/*/app-deploy
    iam:PutRolePolicy on {APP_DEPLOY}
  to lift:
    warden release {MALLORY}
Warden holds something in force on 1 principal
"
        )
    );
    let held = json_lines(&ok(run(&["status", "--format", "json"])));
    assert_eq!(held.len(), 1);
    assert_eq!(held[0]["principal"], MALLORY);
    assert!(held[0]["deny"]["denies"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!({"action": "iam:PutRolePolicy", "resource": APP_DEPLOY})));

    // export, then verify offline with the head export printed: intact.
    let file = home.path().join("trail.jsonl");
    let exported = run(&["evidence", "export", "--file", file.to_str().unwrap()]);
    let said = stderr(&exported);
    ok(exported);
    let head = said
        .split("--head ")
        .nth(1)
        .and_then(|h| h.split(')').next())
        .unwrap_or_else(|| panic!("no head in {said}"))
        .to_owned();
    let verified = ok(run(&[
        "evidence",
        "verify",
        file.to_str().unwrap(),
        "--head",
        &head,
    ]));
    assert_eq!(
        verified,
        format!(
            "{}: intact: {} records; head {head}\n",
            file.display(),
            list.len()
        )
    );
    // The same records as the store lists, and show reads the file too.
    assert_eq!(
        ok(run(&["evidence", "list", "--file", file.to_str().unwrap()])),
        ok(run(&["evidence", "list"]))
    );
    assert_eq!(
        ok(run(&[
            "evidence",
            "show",
            id,
            "--file",
            file.to_str().unwrap()
        ])),
        shown
    );
    // An existing file is never overwritten.
    let again = run(&["evidence", "export", "--file", file.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        stderr(&again).starts_with(&format!("error: cannot create `{}`: ", file.display())),
        "{}",
        stderr(&again)
    );
    // To stdout: the same lines.
    assert_eq!(
        ok(run(&["evidence", "export"])),
        std::fs::read_to_string(&file).unwrap()
    );

    // rollback of the Deny, then again: the second says so and changes nothing.
    let first = ok(run(&["rollback", id]));
    assert!(
        first.starts_with(&format!(
            "rolled back `{id}`: restored {MALLORY}; recorded as `"
        )),
        "{first}"
    );
    let second = run(&["rollback", id]);
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    let said = stdout(&second);
    assert!(
        said.starts_with(&format!("`{id}` is already rolled back (recorded as `"))
            && said.ends_with("; nothing changed\n"),
        "{said}"
    );
    let after = json_lines(&ok(run(&["evidence", "list", "--format", "json"])));
    assert_eq!(after.len(), list.len() + 1, "one rollback record, not two");
    assert_eq!(after.last().unwrap()["kind"], "rollback");
    assert_eq!(
        after.last().unwrap()["what"],
        format!("rolled back `{id}`: `{MALLORY}` is as it was before that change")
    );
    // Warden's record follows the rollback: nothing in force any more.
    assert_eq!(ok(run(&["status"])), "Warden holds nothing in force\n");
    ok(run(&["evidence", "verify"]));
}

/// A small stack in the emulator's CloudFormation: a queue and outputs after the convention.
const STACK_TEMPLATE: &str = r#"{
  "AWSTemplateFormatVersion": "2010-09-09",
  "Resources": {
    "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "stack-events.fifo", "FifoQueue": true, "ContentBasedDeduplication": true}},
    "Dlq": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "stack-events-dlq.fifo", "FifoQueue": true}}
  },
  "Outputs": {
    "WardenQueueUrl": {"Value": {"Ref": "Queue"}},
    "WardenDlqUrl": {"Value": {"Ref": "Dlq"}},
    "WardenStateTable": {"Value": "stack-state"},
    "WardenEvidenceTable": {"Value": "stack-evidence"},
    "WardenAccountId": {"Value": {"Ref": "AWS::AccountId"}},
    "WardenAlertTopicArn": {"Value": "arn:aws:sns:us-east-1:123456789012:stack-alerts"},
    "QueueArn": {"Value": {"Fn::GetAtt": ["Queue", "Arn"]}}
  }
}"#;

const OTHER_TEMPLATE: &str = r#"{
  "Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "other"}}},
  "Outputs": {"QueueUrl": {"Value": {"Ref": "Queue"}}}
}"#;

fn local_env(aws: &LocalAws) -> Vec<(String, String)> {
    [
        ("AWS_ENDPOINT_URL", aws.endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

// Issue 10 §1 "Outputs": `warden config --stack` prints `warden init`'s lines from a stack.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_prints_the_export_lines_of_a_stacks_warden_outputs() {
    let aws = LocalAws::start().unwrap();
    let clients = Clients::from_conf(
        &aws.sdk_config().await,
        &RateLimits::default(),
        RetryPolicy::default(),
    );
    for (name, body) in [("warden", STACK_TEMPLATE), ("other", OTHER_TEMPLATE)] {
        clients
            .cloudformation()
            .create_stack()
            .stack_name(name)
            .template_body(body)
            .send()
            .await
            .unwrap();
    }
    // `warden init`'s order is the order the lines come in.
    let made = warden_handler::stores::init::init(&clients, "wt", false)
        .await
        .unwrap();
    let names: Vec<&str> = made.vars.iter().map(|(n, _)| *n).collect();
    let expected: Vec<&str> = INIT_ORDER
        .iter()
        .copied()
        .filter(|n| names.contains(n))
        .collect();
    assert_eq!(names, expected);
    let home = tempfile::tempdir().unwrap();
    let env = local_env(&aws);
    let run = |args: &[&str]| warden(home.path(), &env).args(args).output().unwrap();
    let printed = ok(run(&["config", "--stack", "warden"]));
    // The emulator gives a stack's queue AWS's own URL (`Ref` of an `AWS::SQS::Queue`).
    let base = "https://sqs.us-east-1.amazonaws.com/123456789012";
    assert_eq!(
        printed,
        format!(
            "export WARDEN_QUEUE_URL={base}/stack-events.fifo
export WARDEN_DLQ_URL={base}/stack-events-dlq.fifo
export WARDEN_ALERT_TOPIC_ARN=arn:aws:sns:us-east-1:123456789012:stack-alerts
export WARDEN_STATE_TABLE=stack-state
export WARDEN_EVIDENCE_TABLE=stack-evidence
export WARDEN_ACCOUNT_ID=123456789012
"
        )
    );
    // The lines are what the worker reads: a shell that evaluates them has the configuration.
    let sh = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{printed}echo \"$WARDEN_QUEUE_URL $WARDEN_STATE_TABLE\""
        ))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&sh.stdout),
        format!("{base}/stack-events.fifo stack-state\n")
    );

    let missing = run(&["config", "--stack", "nope"]);
    assert_eq!(missing.status.code(), Some(2));
    assert_eq!(
        stderr(&missing),
        "error: stack `nope` does not exist (in region `us-east-1`); check the name and AWS_REGION\n"
    );
    let other = run(&["config", "--stack", "other"]);
    assert_eq!(other.status.code(), Some(2));
    assert_eq!(
        stderr(&other),
        "error: stack `other` has no Warden outputs (output keys starting with `Warden`, such as `WardenQueueUrl`); its outputs are `QueueUrl`\n"
    );
    // A deleted stack, asked for by its id, is `DELETE_COMPLETE`: not read.
    let id = clients
        .cloudformation()
        .describe_stacks()
        .stack_name("other")
        .send()
        .await
        .unwrap()
        .stacks()[0]
        .stack_id()
        .unwrap()
        .to_owned();
    clients
        .cloudformation()
        .delete_stack()
        .stack_name("other")
        .send()
        .await
        .unwrap();
    let deleted = run(&["config", "--stack", &id]);
    assert_eq!(deleted.status.code(), Some(2));
    assert_eq!(
        stderr(&deleted),
        format!("error: stack `{id}` is `DELETE_COMPLETE`, not in a complete state; its outputs are not read\n")
    );
}

// Issue 10 §4: without AWS configuration, a command that needs AWS fails at once, in one line.
#[test]
fn without_aws_configuration_commands_fail_at_once_in_one_line() {
    let home = tempfile::tempdir().unwrap();
    let commands: &[&[&str]] = &[
        &["status"],
        &["evidence", "list"],
        &["evidence", "verify"],
        &["evidence", "show", "x"],
        &["evidence", "export"],
        &["rollback", "x"],
        &["release", "--all"],
        &["worker", "--once"],
        &["init"],
        &["config", "--stack", "warden"],
    ];
    let region = [("AWS_REGION".to_owned(), "us-east-1".to_owned())];
    for (env, line) in [
        (
            &[][..],
            "error: no AWS region: set `AWS_REGION` (Warden's main stack runs in `us-east-1`), or `region` in the AWS profile\n",
        ),
        (
            &region[..],
            "error: no AWS credentials: set `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`, or `AWS_PROFILE` (`aws configure`, `aws sso login`)\n",
        ),
    ] {
        for args in commands {
            let started = Instant::now();
            let out = warden(home.path(), env).args(*args).output().unwrap();
            let took = started.elapsed();
            assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
            assert_eq!(stderr(&out), line, "{args:?}");
            assert_eq!(stdout(&out), "", "{args:?}");
            assert!(took < Duration::from_secs(5), "{args:?} took {took:?}");
        }
    }
}

// Issue 10 §4: logs are plain text when stderr is not a terminal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_carry_no_colour_codes_off_a_terminal() {
    let aws = LocalAws::start().unwrap();
    let clients = Clients::from_conf(
        &aws.sdk_config().await,
        &RateLimits::default(),
        RetryPolicy::default(),
    );
    let made = warden_handler::stores::init::init(&clients, "warden", false)
        .await
        .unwrap();
    let mut env = local_env(&aws);
    env.extend(made.vars.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    env.push(("WARDEN_ACCOUNT_ID".to_owned(), "123456789012".to_owned()));
    let home = tempfile::tempdir().unwrap();
    let out = warden(home.path(), &env)
        .args(["worker", "--once"])
        .output()
        .unwrap();
    let err = stderr(&out);
    ok(out);
    assert!(err.contains("worker started"), "{err}");
    assert!(!err.contains('\u{1b}'), "colour codes in {err:?}");
}

// Issue 10 §4: the demo's story is not broken up by log lines; they go to a file.
#[test]
fn the_demo_tells_its_story_on_stdout_and_logs_to_a_file() {
    let home = tempfile::tempdir().unwrap();
    // The emulator this test process uses (installed once per machine), not a fresh install in the
    // empty home: that costs a minute and 300 MB per run, and is the next test's subject.
    let moto = [(
        "WARDEN_LOCAL_AWS_DIR".to_owned(),
        warden_handler::local::emulator::install_dir()
            .display()
            .to_string(),
    )];
    let out = warden(home.path(), &moto).arg("demo").output().unwrap();
    let err = stderr(&out);
    let story = ok(out);
    let log = home.path().join("warden-demo.log");
    assert!(
        story.starts_with(&format!(
            "(Warden's log lines go to {}; `warden demo --verbose` shows them here)\n",
            log.display()
        )),
        "{story}"
    );
    assert!(story.contains("records no CloudTrail events"), "{story}");
    assert_eq!(err, "", "nothing but the story: {err}");
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("worker") || logged.contains("event"),
        "{logged}"
    );
    assert!(!logged.contains('\u{1b}'));
}

// Issue 10 §4: the demo says when it installs the emulator (here a Python that cannot make the
// virtual environment stops it at once, after the line, with the reason).
#[test]
fn the_demo_says_when_it_installs_the_emulator() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("moto");
    let env = [
        ("WARDEN_LOCAL_AWS_DIR".to_owned(), dir.display().to_string()),
        ("PYTHON".to_owned(), "false".to_owned()),
    ];
    let out = warden(home.path(), &env).arg("demo").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let story = stdout(&out);
    assert!(
        story.contains(&format!(
            "   installing the local AWS (moto 5.2.5) into {} (once; about a minute) ...\n",
            dir.display()
        )),
        "{story}"
    );
    assert!(
        stderr(&out).starts_with(&format!(
            "error: installing moto 5.2.5 into `{}` failed: ",
            dir.display()
        )),
        "{}",
        stderr(&out)
    );
}

/// Every argument of `cmd` and its subcommands without help text, as `command path: argument`.
fn undocumented(cmd: &clap::Command, path: &str, out: &mut Vec<String>) {
    let here = format!("{path} {}", cmd.get_name()).trim().to_owned();
    if cmd.get_about().is_none() && !path.is_empty() {
        out.push(format!("{here}: (the command itself)"));
    }
    for arg in cmd.get_arguments() {
        let id = arg.get_id().as_str();
        if id == "help" || id == "version" {
            continue;
        }
        if arg
            .get_help()
            .is_none_or(|h| h.to_string().trim().is_empty())
        {
            out.push(format!("{here}: {id}"));
        }
    }
    for sub in cmd.get_subcommands() {
        undocumented(sub, &here, out);
    }
}

// Issue 10 §4: every argument and flag says what it is for.
#[test]
fn every_command_argument_and_flag_has_help() {
    let mut missing = Vec::new();
    undocumented(&Cli::command(), "", &mut missing);
    assert!(missing.is_empty(), "without help:\n{}", missing.join("\n"));
    // The walk sees what it should: a nested subcommand's positional argument.
    let cmd = Cli::command();
    let show = cmd
        .find_subcommand("evidence")
        .and_then(|e| e.find_subcommand("show"))
        .unwrap();
    assert!(show.get_arguments().any(|a| a.get_id() == "id"));
}

// Issue 10 §4: the top-level help lists each command's exit codes where they differ.
#[test]
fn the_top_level_help_lists_the_exit_codes_that_differ() {
    let home = tempfile::tempdir().unwrap();
    let help = ok(warden(home.path(), &[]).arg("--help").output().unwrap());
    for line in [
        "Exit codes: 0 when the command did its work; 2 for a usage error",
        "  replay, plan        1  some input record could not be read",
        "  evidence verify     1  the trail is broken",
        "  rules check         1  the rule file has errors",
        "  rollback            0  also when the change is rolled back already",
        "closed output",
    ] {
        assert!(help.contains(line), "`{line}` not in\n{help}");
    }
    for cmd in ["status", "config", "completions", "man"] {
        assert!(help.contains(&format!("  {cmd} ")), "{cmd} not in\n{help}");
    }
    for args in [
        &["rollback", "--help"][..],
        &["status", "--help"],
        &["config", "--help"],
        &["evidence", "show", "--help"],
        &["evidence", "export", "--help"],
    ] {
        let text = ok(warden(home.path(), &[]).args(args).output().unwrap());
        assert!(text.contains("Exit codes:"), "{args:?}:\n{text}");
    }
}

// Issue 10 §4: completions and man pages, generated from the same definition.
#[test]
fn completions_and_man_pages_come_from_the_cli_definition() {
    let home = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| ok(warden(home.path(), &[]).args(args).output().unwrap());
    let bash = run(&["completions", "bash"]);
    assert!(bash.contains("_warden()"), "{bash}");
    for word in ["status", "rollback", "export", "--format", "--stack"] {
        assert!(bash.contains(word), "`{word}` not in the bash completions");
    }
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        assert!(run(&["completions", shell]).contains("warden"), "{shell}");
    }
    let bad = warden(home.path(), &[])
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("invalid value 'tcsh'"),
        "{}",
        stderr(&bad)
    );

    let man = run(&["man"]);
    assert!(
        man.starts_with(".ie \\n(.g .ds Aq"),
        "{}",
        &man[..200.min(man.len())]
    );
    assert!(man.contains(".TH warden 1"), "{man}");
    assert!(man.contains("evidence"));
    let dir: PathBuf = home.path().join("man");
    let listed = run(&["man", "--dir", dir.to_str().unwrap()]);
    for page in ["warden.1", "warden-evidence-export.1", "warden-status.1"] {
        let path = dir.join(page);
        assert!(listed.contains(&path.display().to_string()), "{listed}");
        assert!(std::fs::read_to_string(&path).unwrap().contains(".TH"));
    }
    let export = std::fs::read_to_string(dir.join("warden-evidence-export.1")).unwrap();
    assert!(export.contains("warden evidence export"), "{export}");
}

// Issue 11 §4: `warden catch-up` on an account whose event history cannot be read (the local AWS
// does not implement `LookupEvents`) stops with exit 2 and names the call and the window; nothing
// is sent and the checkpoint does not move.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catch_up_without_an_event_history_says_which_lookup_failed_and_exits_2() {
    let aws = LocalAws::start().unwrap();
    let clients = Clients::from_conf(
        &aws.sdk_config().await,
        &RateLimits::default(),
        RetryPolicy::default(),
    );
    let made = warden_handler::stores::init::init(&clients, "cu", false)
        .await
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let mut env = local_env(&aws);
    env.extend(made.vars.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    env.push(("WARDEN_MAX_ATTEMPTS".to_owned(), "1".to_owned()));
    let out = warden(home.path(), &env)
        .args(["catch-up", "--since", "2h"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("cloudtrail:LookupEvents failed"), "{err}");
    assert!(err.contains("while looking up `"), "{err}");
    assert!(stdout(&out).is_empty());
    let watch = warden_handler::stores::watch::DynamoWatch::new(
        clients.clone(),
        made.get("WARDEN_STATE_TABLE").unwrap(),
    );
    use warden_handler::enforce::watch::WatchStore;
    assert!(watch.state().await.unwrap().checkpoint.is_empty());
}

// Issue 11 §2: `warden sweep` without `--account` sweeps the configured (deployed) account live:
// findings as JSON Lines, drift of Warden's own record put back, the requests on stderr.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_sweeps_the_deployed_account_live_and_drift_is_put_back() {
    let home = tempfile::tempdir().unwrap();
    let (_aws, s, env) = enforced_on_the_stack(home.path()).await;
    // Mallory's Deny deleted by hand, with no event to report it.
    s.admin
        .clients
        .iam
        .delete_user_policy()
        .user_name("mallory")
        .policy_name("WardenDeny")
        .send()
        .await
        .unwrap();
    let out = warden(home.path(), &env)
        .args(["sweep", "--format", "json"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "exit {:?}: {err}",
        out.status.code()
    );
    let findings: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        findings
            .iter()
            .any(|f| f["kind"] == "drift" && f["principal"] == MALLORY),
        "{findings:?}"
    );
    assert!(err.contains("requests: "), "{err}");
    assert!(err.contains("drift put back on 1 principal(s)"), "{err}");
    assert!(s
        .admin
        .clients
        .iam
        .get_user_policy()
        .user_name("mallory")
        .policy_name("WardenDeny")
        .send()
        .await
        .is_ok());
}

async fn mallory_inline(s: &Scenario) -> Vec<String> {
    let mut names = s.user_policies("mallory").await.unwrap();
    names.sort();
    names
}

// Issue 12 §2: findings judged against the deployed Warden's account model, not only a file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_judges_against_the_deployed_account_model() {
    let home = tempfile::tempdir().unwrap();
    let (_aws, s, env) = enforced_on_the_stack(home.path()).await;
    // mallory (allowed iam:*, s3:*, sts:*) used only s3:ListAllMyBuckets, every 3 hours for 2 days.
    let logs = home.path().join("logs.json");
    let record = |id: &str, time: &str| {
        serde_json::json!({"eventVersion": "1.09", "eventSource": "s3.amazonaws.com", "eventName": "ListBuckets",
            "eventTime": time, "eventID": id, "awsRegion": "us-east-1", "recipientAccountId": "123456789012",
            "userIdentity": {"type": "IAMUser", "arn": MALLORY, "accountId": "123456789012", "userName": "mallory"},
            "requestParameters": null, "responseElements": null})
    };
    std::fs::write(
        &logs,
        serde_json::json!({"Records": (0..17)
            .map(|i| record(&format!("a-{i}"), &format!("2026-11-{:02}T{:02}:00:00Z", 28 + i * 3 / 24, i * 3 % 24)))
            .collect::<Vec<_>>()})
            .to_string(),
    )
    .unwrap();
    let out = warden(home.path(), &env)
        .args([
            "access",
            "--from-model",
            "--format",
            "json",
            "--window",
            "1d",
            "--recent-days",
            "0",
            "--principal",
            MALLORY,
        ])
        .arg(&logs)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("judging against the account model: "), "{err}");
    let reports = json_lines(&stdout(&out));
    let mallory = reports
        .iter()
        .find(|r| r["principal"] == MALLORY)
        .unwrap_or_else(|| panic!("{reports:?}"));
    let findings = mallory["findings"].as_array().unwrap();
    // What the model says mallory may do (iam, sts) and did not: unused services.
    for service in ["iam", "sts"] {
        assert!(
            findings
                .iter()
                .any(|f| f["type"] == "UnusedPermission" && f["service"] == service),
            "{service}: {findings:?}"
        );
    }
    // --plan needs a source of policies; an account file and the model exclude each other.
    let out = warden(home.path(), &env)
        .args(["access", "--plan"])
        .arg(&logs)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--plan needs"), "{}", stderr(&out));
    let out = warden(home.path(), &env)
        .args(["access", "--from-model", "--account", "x.json"])
        .arg(&logs)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));

    // Issue 12 §2, `--plan --apply`: a plan applied through the connectors, held record and
    // evidence, and undone by `warden rollback`.
    let apply = |plan: &str| {
        let out = warden(home.path(), &env)
            .args([
                "access",
                "--from-model",
                "--format",
                "json",
                "--window",
                "1d",
                "--recent-days",
                "0",
                "--plan",
                "--apply",
                plan,
                "--principal",
                MALLORY,
            ])
            .arg(&logs)
            .output()
            .unwrap();
        let applied = json_lines(&stdout(&out))
            .into_iter()
            .find(|r| r["principal"] == MALLORY)
            .map(|r| r["applied"].clone())
            .unwrap_or_else(|| panic!("{}", stderr(&out)));
        (out.status.code(), applied)
    };
    // Never to every principal at once: --principal is required.
    let out = warden(home.path(), &env)
        .args(["access", "--from-model", "--plan", "--apply", "deny-unused"])
        .arg(&logs)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--principal"), "{}", stderr(&out));
    let warden_managed = || async {
        let attached = s
            .admin
            .clients
            .iam
            .list_attached_user_policies()
            .user_name("mallory")
            .send()
            .await
            .unwrap();
        attached
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_arn())
            .filter(|a| a.contains(":policy/warden/"))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let placement = || {
        json_lines(&ok(warden(home.path(), &env)
            .args(["status", "--format", "json"])
            .output()
            .unwrap()))
        .into_iter()
        .find(|h| h["principal"] == MALLORY)
        .map(|h| h["deny"]["placement"].clone())
        .unwrap()
    };
    assert_eq!(placement(), serde_json::json!("inline"));
    // Mallory's Deny is inline and the unused iam and sts actions do not fit there: the whole
    // Deny moves to Warden's managed policy (on first, then the inline one off), one change.
    let (code, applied) = apply("deny-unused");
    assert_eq!(code, Some(0), "{applied}");
    assert_eq!(applied["result"], "changed", "{applied}");
    assert_eq!(mallory_inline(&s).await, ["mallory-access"]);
    assert_eq!(warden_managed().await.len(), 1);
    assert_eq!(placement(), serde_json::json!("managed"));
    let m = &s.mallory.clients;
    assert!(m.iam.list_users().send().await.is_err());
    // Its rollback puts the inline Deny back, takes the managed one off, and Warden's record
    // says inline again (a sweep would otherwise put the managed one back).
    let moved = applied["record"].as_str().unwrap().to_owned();
    ok(warden(home.path(), &env)
        .args(["rollback", &moved])
        .output()
        .unwrap());
    assert_eq!(mallory_inline(&s).await, ["WardenDeny", "mallory-access"]);
    assert!(warden_managed().await.is_empty());
    assert_eq!(placement(), serde_json::json!("inline"));
    // The generated policy replaces mallory's own: mallory keeps what it used, loses the rest.
    let (code, applied) = apply("replace-inline");
    assert_eq!(code, Some(0), "{applied}");
    assert_eq!(applied["result"], "changed", "{applied}");
    assert_eq!(
        mallory_inline(&s).await,
        ["WardenDeny", "WardenLeastPrivilege"]
    );
    assert!(m.s3.list_buckets().send().await.is_ok());
    assert!(m.iam.list_users().send().await.is_err());
    let record = applied["record"].as_str().unwrap().to_owned();
    let shown: Value = serde_json::from_str(&ok(warden(home.path(), &env)
        .args(["evidence", "show", &record, "--format", "json"])
        .output()
        .unwrap()))
    .unwrap();
    assert_eq!(shown["kind"], "change", "{shown}");
    assert!(
        shown["body"]["before"]["inline"]["mallory-access"].is_object(),
        "{shown}"
    );
    // One rollback puts every policy back.
    ok(warden(home.path(), &env)
        .args(["rollback", &record])
        .output()
        .unwrap());
    assert_eq!(mallory_inline(&s).await, ["WardenDeny", "mallory-access"]);
    assert!(m.iam.list_users().send().await.is_ok());
    // With Warden's Deny lifted, the Deny of the unused goes to Warden's managed policy, is held
    // in force (`status` lists it), and rolls back.
    ok(warden(home.path(), &env)
        .args(["release", MALLORY])
        .output()
        .unwrap());
    let (code, applied) = apply("deny-unused");
    assert_eq!(code, Some(0), "{applied}");
    assert_eq!(applied["result"], "changed", "{applied}");
    let managed = warden_managed().await;
    assert_eq!(managed.len(), 1, "{managed:?}");
    // Services mallory used nothing of are denied whole, on what the grant names.
    let record = applied["record"].as_str().unwrap().to_owned();
    let shown: Value = serde_json::from_str(&ok(warden(home.path(), &env)
        .args(["evidence", "show", &record, "--format", "json"])
        .output()
        .unwrap()))
    .unwrap();
    let denied = shown["body"]["denied"].as_array().unwrap();
    assert!(
        denied.contains(&serde_json::json!(["iam:*", "*"])),
        "{denied:?}"
    );
    assert!(
        denied.contains(&serde_json::json!(["sts:*", "*"])),
        "{denied:?}"
    );
    // s3 was used: its unused actions one by one, never what mallory used.
    assert!(
        denied.contains(&serde_json::json!(["s3:PutObject", "*"])),
        "{denied:?}"
    );
    assert!(
        !denied
            .iter()
            .any(|p| p[0] == "s3:ListAllMyBuckets" || p[0] == "s3:*"),
        "{denied:?}"
    );
    assert!(m.iam.list_users().send().await.is_err());
    assert!(m.s3.list_buckets().send().await.is_ok());
    let status = ok(warden(home.path(), &env).args(["status"]).output().unwrap());
    assert!(status.contains("mallory"), "{status}");
    // The same plan again: already in force, nothing changed.
    let (code, again) = apply("deny-unused");
    assert_eq!(code, Some(0), "{again}");
    assert_eq!(again["result"], "unchanged", "{again}");
    ok(warden(home.path(), &env)
        .args(["rollback", &record])
        .output()
        .unwrap());
    let managed = warden_managed().await;
    assert!(managed.is_empty(), "{managed:?}");
    assert!(m.iam.list_users().send().await.is_ok());
    let status = ok(warden(home.path(), &env).args(["status"]).output().unwrap());
    assert!(!status.contains("user/mallory"), "{status}");
}

// Issue 11 §4: the long-running `warden worker` sends the heartbeat the Lambda's schedule sends
// (and flushes due alerts) on a minute tick of its own, the first at start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_long_running_worker_sends_the_heartbeat() {
    let home = tempfile::tempdir().unwrap();
    let (_aws, s, env) = enforced_on_the_stack(home.path()).await;
    let canary = env
        .iter()
        .find(|(k, _)| k == "WARDEN_CANARY_POLICY_ARN")
        .map(|(_, v)| v.clone())
        .expect("the stack's outputs name its canary");
    let mut worker = std::process::Command::new(assert_cmd::cargo::cargo_bin("warden"));
    worker
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("TMPDIR", home.path())
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .arg("worker")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = worker.spawn().unwrap();
    let started = Instant::now();
    let mut beat = None;
    while beat.is_none() && started.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let tags = s
            .admin
            .clients
            .iam
            .list_policy_tags()
            .policy_arn(&canary)
            .send()
            .await
            .unwrap();
        beat = tags
            .tags()
            .iter()
            .find(|t| t.key() == "warden-heartbeat")
            .map(|t| t.value().to_owned());
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let beat: i64 = beat.expect("no heartbeat within 30 s").parse().unwrap();
    assert!(beat > 1_700_000_000, "{beat}");
}
