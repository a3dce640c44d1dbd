//! Start-up figures of the Lambda package, printed (no pass/fail: goals live in the issue and the
//! notes), against the local AWS and a stand-in for the Lambda Runtime API on loopback (the
//! emulator cannot run functions):
//! - the package's size: `bootstrap.zip` and the binary in it;
//! - cold start: from `exec` of `bootstrap` to its first `GET /2018-06-01/runtime/invocation/next`,
//!   with `WARDEN_ACCOUNT_ID` set (as the stack sets it) and without (one STS call more);
//! - the first invocation after each cold start (first event to its response: one enforced event,
//!   its alert sent), and the next one on a warm process for comparison.
//!
//! Run: `cargo bench --workspace --bench lambda_start`. What it measures, first found:
//! `WARDEN_BENCH_ZIP` (a `bootstrap.zip`, e.g. the one `cloudformation/package.sh` prints; the
//! binary is taken out of it), `WARDEN_BENCH_BOOTSTRAP` (a binary), else the `bootstrap` cargo
//! built for this bench (bench profile, not the package). `WARDEN_BENCH_STARTS` sets how many cold
//! starts of each kind (default 10). The function runs with Warden's default client-side limits.
//!
//! The emulator answers far faster or slower than AWS depending on the call, and Lambda's own
//! start (fetching the code, the microVM) is not in here: the figures say what Warden's binary
//! costs on this machine, not what a cold start in AWS takes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::indexing_slicing
)]

#[path = "../tests/support/runtime_api.rs"]
mod runtime_api;

use runtime_api::{RuntimeApi, NEXT};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use warden_handler::local::demo::{escalation_event, Scenario, ACCOUNT, ESCALATE};
use warden_handler::local::emulator::LocalAws;

const WAIT: Duration = Duration::from_secs(60);

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// min / median / max.
fn spread(mut v: Vec<f64>) -> String {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return "-".to_owned();
    }
    format!(
        "{:.0} / {:.0} / {:.0}",
        v[0],
        v[v.len() / 2],
        v[v.len() - 1]
    )
}

fn mb(bytes: u64) -> String {
    format!("{:.2} MB ({bytes} bytes)", bytes as f64 / 1e6)
}

/// The binary to measure, and a line saying what it is. A zip is unpacked into `dir` (by Python's
/// `zipfile`, which the local AWS needs anyway), keeping the binary executable.
fn the_binary(dir: &Path) -> (PathBuf, String) {
    if let Some(zip) = std::env::var_os("WARDEN_BENCH_ZIP") {
        let zip = PathBuf::from(zip);
        let status = std::process::Command::new("python3")
            .args([
                "-c",
                "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract('bootstrap', sys.argv[2])",
            ])
            .arg(&zip)
            .arg(dir)
            .status()
            .unwrap();
        assert!(status.success(), "unzipping {}", zip.display());
        let binary = dir.join("bootstrap");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();
        let about = format!(
            "the package {} (WARDEN_BENCH_ZIP): {}, the binary in it {}",
            zip.display(),
            mb(std::fs::metadata(&zip).unwrap().len()),
            mb(std::fs::metadata(&binary).unwrap().len())
        );
        return (binary, about);
    }
    let (path, what) = match std::env::var_os("WARDEN_BENCH_BOOTSTRAP") {
        Some(p) => (PathBuf::from(p), "WARDEN_BENCH_BOOTSTRAP"),
        None => (
            PathBuf::from(env!("CARGO_BIN_EXE_bootstrap")),
            "the bench profile's build, not the package; set WARDEN_BENCH_ZIP",
        ),
    };
    let about = format!(
        "the binary {} ({what}): {}",
        path.display(),
        mb(std::fs::metadata(&path).unwrap().len())
    );
    (path, about)
}

/// An SQS batch of one message, as the event source mapping hands it to the function.
fn batch(id: &str, body: &str, handle: &str) -> Value {
    json!({"Records": [{
        "messageId": id, "receiptHandle": handle, "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {}, "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:warden-events.fifo",
        "awsRegion": "us-east-1"
    }]})
}

/// Mallory writes an inline policy on `role`; the CloudTrail record of it is routed to the queue
/// and taken off it, as the event source mapping would: `(message id, body, receipt handle)`.
async fn misbehave(s: &Scenario, role: &str, event_id: &str) -> (String, String, String) {
    s.mallory
        .clients
        .iam
        .put_role_policy()
        .role_name(role)
        .policy_name("escalate")
        .policy_document(ESCALATE)
        .send()
        .await
        .unwrap();
    s.emit(&escalation_event(event_id, role)).await.unwrap();
    s.take_message().await.unwrap()
}

async fn delete(s: &Scenario, handle: &str) {
    s.admin
        .clients
        .sqs
        .delete_message()
        .queue_url(s.init.get("WARDEN_QUEUE_URL").unwrap())
        .receipt_handle(handle)
        .send()
        .await
        .unwrap();
}

/// Starts the binary against a fresh Runtime API stand-in; returns it with the stand-in, its
/// first poll and the milliseconds from `exec` to that poll.
async fn cold_start(
    binary: &Path,
    aws: &LocalAws,
    s: &Scenario,
    extra: &[(&str, &str)],
) -> (tokio::process::Child, RuntimeApi, runtime_api::Pending, f64) {
    let mut api = RuntimeApi::start().await.unwrap();
    let started = Instant::now();
    let child = tokio::process::Command::new(binary)
        .envs(s.function_env(aws))
        .envs([("WARDEN_ALERT_WINDOW_SECONDS", "0"), ("RUST_LOG", "warn")])
        .envs(extra.iter().copied())
        .envs(api.lambda_env())
        .kill_on_drop(true)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let poll = api.next(WAIT).await.expect("the function polls");
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(poll.path, NEXT);
    (child, api, poll, ms)
}

/// Hands one enforced event to a waiting poll; the milliseconds to the function's response.
async fn invoke(
    s: &Scenario,
    api: &mut RuntimeApi,
    poll: runtime_api::Pending,
    request: &str,
    role: &str,
) -> f64 {
    let (id, body, handle) = misbehave(s, role, request).await;
    let started = Instant::now();
    poll.invoke(request, &batch(&id, &body, &handle));
    let answer = api.next(WAIT).await.expect("an answer");
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(
        answer.path,
        format!("/2018-06-01/runtime/invocation/{request}/response"),
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let v: Value = answer.json().unwrap();
    assert_eq!(v, json!({"batchItemFailures": []}), "{v}");
    answer.accept();
    delete(s, &handle).await;
    ms
}

async fn measure(aws: &LocalAws, s: &Scenario, binary: &Path) {
    let starts = env_num("WARDEN_BENCH_STARTS", 10).max(1);
    for i in 0..starts {
        s.admin
            .clients
            .iam
            .create_role()
            .role_name(format!("start-{i}"))
            .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#)
            .send()
            .await
            .unwrap();
    }
    let account = [("WARDEN_ACCOUNT_ID", ACCOUNT)];

    // Each cold start takes one enforced event (mallory's write on a role of its own).
    let (mut to_poll, mut first) = (Vec::new(), Vec::new());
    let mut last = None;
    for i in 0..starts {
        let (mut child, mut api, poll, t) = cold_start(binary, aws, s, &account).await;
        to_poll.push(t);
        let request = format!("bench-start-{i}");
        first.push(invoke(s, &mut api, poll, &request, &format!("start-{i}")).await);
        if i + 1 == starts {
            last = Some((child, api));
        } else {
            child.start_kill().unwrap();
            let _ = child.wait().await;
        }
    }
    println!(
        "  cold start, exec to first poll (WARDEN_ACCOUNT_ID set), ms, min / median / max of {starts}: {}",
        spread(to_poll)
    );
    println!(
        "  first invocation after a cold start, first event to its response (one enforced event, its alert sent), ms, min / median / max of {starts}: {}",
        spread(first)
    );

    // The next event on the last process, once IAM's client-side limit has refilled (an event
    // takes 22 of the burst of 30; 10 a second).
    if let Some((mut child, mut api)) = last {
        let poll = api.next(WAIT).await.expect("the function polls again");
        assert_eq!(poll.path, NEXT);
        tokio::time::sleep(Duration::from_secs(3)).await;
        let warm = invoke(s, &mut api, poll, "bench-warm", "billing-reports").await;
        child.start_kill().unwrap();
        let _ = child.wait().await;
        println!("  the next invocation on a warm process (the same work): {warm:.0} ms");
    }

    // Without WARDEN_ACCOUNT_ID, the cold start asks STS which account it guards.
    let mut ms = Vec::new();
    for _ in 0..starts {
        let (mut child, _api, _poll, t) = cold_start(binary, aws, s, &[]).await;
        ms.push(t);
        child.start_kill().unwrap();
        let _ = child.wait().await;
    }
    println!(
        "  cold start, exec to first poll (account from STS), ms, min / median / max of {starts}: {}",
        spread(ms)
    );
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let (binary, about) = the_binary(dir.path());
    println!("the Lambda binary");
    println!("  {about}");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let aws = LocalAws::start().expect("the local AWS starts");
        let s = Scenario::setup(&aws).await.expect("the demo account");
        // See `demo::work_once`: enforcement is off while Warden works.
        aws.enforce_policies(false).unwrap();
        measure(&aws, &s, &binary).await;
    });
}
