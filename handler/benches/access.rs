//! `warden access` speed and memory, printed as figures (no pass/fail: the goals live in the issue
//! and the notes).
//!
//! Run: `cargo bench -p warden-handler --bench access`. Environment knobs: `WARDEN_BENCH_MB` (the
//! speed data set, default 256), `WARDEN_BENCH_ACCESS_GB` (the memory data set, default 1; the
//! issue's figure is for 10; 0 skips it), `WARDEN_BENCH_DIR` (where to write, default a temp dir
//! under target/).
//!
//! The data: CloudTrail log files made from the real records in `fixtures/cloudtrail/`, each
//! record's `eventID` made unique and its caller one of `PRINCIPALS` (the name in the caller's
//! ARNs suffixed), and S3 object keys one of `KEYS`, so the index grows as a real account's does:
//! with its principals and resources, not with its records.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::indexing_slicing
)]

use policy_rules::access::usage::Filter;
use policy_rules::catalog::Catalog;
use serde_json::Value;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use warden_handler::cli::access::index_files;

const PRINCIPALS: usize = 300;
const KEYS: usize = 2_000;

fn env_num(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn fixture_records() -> Vec<Value> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/cloudtrail");
    let mut out = Vec::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for path in names {
        let text = std::fs::read_to_string(&path).unwrap();
        let docs: Vec<Value> = if path.extension().is_some_and(|e| e == "jsonl") {
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| serde_json::from_str(l).unwrap())
                .collect()
        } else {
            let doc: Value = serde_json::from_str(&text).unwrap();
            doc["Records"].as_array().unwrap().clone()
        };
        for v in docs {
            let v = v.get("detail").cloned().unwrap_or(v);
            if v.get("eventSource").is_some() {
                out.push(v);
            }
        }
    }
    out
}

/// The record as principal `p` would have made it, on key `k`.
fn vary(mut r: Value, i: usize) -> Value {
    let p = (i / 7) % PRINCIPALS;
    let k = (i / 3) % KEYS;
    r["eventID"] = Value::String(format!("00000000-0000-4000-8000-{i:012}"));
    let suffix = |v: &mut Value| {
        if let Some(s) = v.as_str() {
            *v = Value::String(format!("{s}-{p}"));
        }
    };
    if let Some(ui) = r.get_mut("userIdentity") {
        if let Some(a) = ui.get_mut("arn") {
            suffix(a);
        }
        if let Some(n) = ui.get_mut("userName") {
            suffix(n);
        }
        if let Some(a) = ui.pointer_mut("/sessionContext/sessionIssuer/arn") {
            suffix(a);
        }
    }
    if let Some(key) = r.pointer_mut("/requestParameters/key") {
        *key = Value::String(format!("data/{k:05}.csv"));
    }
    r
}

/// Writes CloudTrail log files of about 4 MB each until `total` bytes; returns (files, records, bytes).
fn write_logs(dir: &Path, records: &[Value], total: u64) -> (usize, u64, u64) {
    std::fs::create_dir_all(dir).unwrap();
    let (mut written, mut n, mut files, mut i) = (0u64, 0u64, 0usize, 0usize);
    while written < total {
        let mut buf = Vec::with_capacity(4_100_000);
        buf.extend_from_slice(b"{\"Records\":[");
        let mut first = true;
        while buf.len() < 4_000_000 {
            if !first {
                buf.push(b',');
            }
            first = false;
            serde_json::to_writer(&mut buf, &vary(records[i % records.len()].clone(), i)).unwrap();
            i += 1;
            n += 1;
        }
        buf.extend_from_slice(b"]}\n");
        written += buf.len() as u64;
        std::fs::write(dir.join(format!("{files:06}.json")), &buf).unwrap();
        files += 1;
    }
    (files, n, written)
}

fn best(runs: usize, mut f: impl FnMut()) -> Duration {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap()
}

fn bare_parse(files: &[(PathBuf, u64)]) {
    let mut buf = Vec::new();
    for (p, _) in files {
        buf.clear();
        std::fs::File::open(p)
            .unwrap()
            .read_to_end(&mut buf)
            .unwrap();
        let _: serde::de::IgnoredAny = serde_json::from_slice(&buf).unwrap();
    }
}

/// Peak RSS (VmHWM) of a child process, polled from /proc until it exits.
fn peak_rss_kib(mut cmd: std::process::Command) -> (u64, Duration, bool) {
    let t = Instant::now();
    let mut child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = 0u64;
    loop {
        if let Some(kib) = std::fs::read_to_string(&status_path).ok().and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        }) {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait().unwrap() {
            return (peak, t.elapsed(), status.success());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("access bench: run with `cargo bench -p warden-handler --bench access`");
        return;
    }
    let base = std::env::var("WARDEN_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/warden-bench-access")
        });
    let _ = std::fs::remove_dir_all(&base);
    let records = fixture_records();
    let catalog = Catalog::reference().unwrap();
    let filter = Filter::default();

    let mb = env_num("WARDEN_BENCH_MB", 256.0);
    let dir = base.join("speed");
    let (nfiles, nrec, nbytes) = write_logs(&dir, &records, (mb * 1e6) as u64);
    println!(
        "== data: {} real fixture records, {PRINCIPALS} principals, {KEYS} object keys: {nfiles} files, {nrec} records, {:.0} MB",
        records.len(),
        nbytes as f64 / 1e6
    );
    let files = warden_handler::cli::input::collect_files(std::slice::from_ref(&dir)).unwrap();
    bare_parse(&files);
    let t_bare = best(3, || bare_parse(&files));
    let mut principals = 0;
    let t_j1 = best(3, || {
        let ix = index_files(&files, 1, &catalog, &filter);
        assert_eq!(ix.problems, 0);
        assert_eq!(ix.index.events, nrec);
        principals = ix.index.principals.len();
    });
    let t_j2 = best(3, || {
        let ix = index_files(&files, 2, &catalog, &filter);
        assert_eq!(ix.index.events, nrec);
    });
    let rate = |t: Duration| nrec as f64 / t.as_secs_f64();
    println!(
        "bare parse (read + IgnoredAny): {:>10.0} records/s",
        rate(t_bare)
    );
    println!(
        "access index --jobs 1:          {:>10.0} records/s ({:.2}× the bare parse); {principals} principals",
        rate(t_j1),
        t_j1.as_secs_f64() / t_bare.as_secs_f64()
    );
    println!(
        "access index --jobs 2:          {:>10.0} records/s ({:.2}× --jobs 1)",
        rate(t_j2),
        t_j1.as_secs_f64() / t_j2.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&dir);

    let gb = env_num("WARDEN_BENCH_ACCESS_GB", 1.0);
    if gb > 0.0 {
        println!("\n== peak memory (VmHWM of the release `warden access` process, --format json)");
        let logs = base.join("memory");
        let (files, recs, bytes) = write_logs(&logs, &records, (gb * 1e9) as u64);
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_warden"));
        cmd.args(["access", "--format", "json", "--jobs", "2"])
            .arg(&logs);
        let (kib, took, ok) = peak_rss_kib(cmd);
        println!(
            "{files} log files, {recs} records, {:.2} GB: peak RSS {:.1} MB in {:.1} s (exit ok: {ok})",
            bytes as f64 / 1e9,
            kib as f64 / 1024.0,
            took.as_secs_f64()
        );
        let _ = std::fs::remove_dir_all(&logs);
    }
    let _ = std::io::stdout().flush();
}
