//! Replay speed and memory, printed as figures (no pass/fail: goals live in the issue and the notes).
//!
//! Run: `cargo bench -p warden-handler --bench replay`. Environment knobs:
//! `WARDEN_BENCH_MB` (size of the plain data set, default 512), `WARDEN_BENCH_MEMORY_GB` (size of
//! the memory test's data, default 2; 0 skips it), `WARDEN_BENCH_DIR` (where to write, default a temp
//! dir under target/).
//!
//! The data: CloudTrail log files (`{"Records":[…]}`) made from the real records in
//! `fixtures/cloudtrail/` (each record's `eventID` made unique), so the services, callers and shapes
//! are real; the average record size is printed. Two mixes: the fixtures as they are (the `fixture`
//! mix), and one where every fourth record is an IAM, S3 or STS call from the fixtures (the `iam25`
//! mix: a busy account's logs, or an account under attack; issue 12 §4), the other three taken from
//! the remaining fixture records in turn. Each mix's figures print as they are measured, with the
//! machine's load average, then side by side.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::indexing_slicing
)]

use policy_rules::catalog::Catalog;
use policy_rules::decision::{decide, CallerFacts};
use policy_rules::event::parse_document;
use policy_rules::mapping::analyse;
use policy_rules::rules::RuleSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use warden_handler::cli::account_scope::ScopedMemberships;
use warden_handler::cli::replay::{replay, ReplayContext, Sink};
use warden_handler::cli::report::NullSink;

fn env_num(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn fixture_records() -> Vec<serde_json::Value> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/cloudtrail");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&root).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut push = |v: serde_json::Value| {
            let v = v.get("detail").cloned().unwrap_or(v);
            if v.get("eventSource").is_some() {
                out.push(v);
            }
        };
        if path.extension().is_some_and(|e| e == "jsonl") {
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .for_each(|l| push(serde_json::from_str(l).unwrap()));
        } else {
            let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
            doc["Records"]
                .as_array()
                .unwrap()
                .iter()
                .cloned()
                .for_each(&mut push);
        }
    }
    out.sort_by_key(|v| v["eventID"].as_str().unwrap_or("").to_owned());
    out
}

/// The records of a data set, in the order they are written.
struct Mix {
    name: &'static str,
    /// What the mix is, for the output.
    what: String,
    /// IAM, S3 and STS records, one in `every` (0: none taken apart, `rest` alone).
    iam_s3_sts: Vec<serde_json::Value>,
    rest: Vec<serde_json::Value>,
    every: usize,
}

fn is_iam_s3_sts(v: &serde_json::Value) -> bool {
    matches!(
        v["eventSource"].as_str(),
        Some("iam.amazonaws.com" | "s3.amazonaws.com" | "sts.amazonaws.com")
    )
}

impl Mix {
    fn fixtures(records: &[serde_json::Value]) -> Self {
        let n = records.iter().filter(|v| is_iam_s3_sts(v)).count();
        Mix {
            name: "fixture",
            what: format!(
                "the {} fixture records in turn ({n} of them, {:.0}%, IAM, S3 or STS calls)",
                records.len(),
                100.0 * n as f64 / records.len() as f64
            ),
            iam_s3_sts: Vec::new(),
            rest: records.to_vec(),
            every: 0,
        }
    }

    fn iam25(records: &[serde_json::Value]) -> Self {
        let (iam, rest): (Vec<_>, Vec<_>) = records.iter().cloned().partition(is_iam_s3_sts);
        Mix {
            name: "iam25",
            what: format!(
                "every fourth record one of the {} IAM, S3 and STS fixture records, the others the {} other fixture records in turn (25% IAM, S3 or STS calls)",
                iam.len(),
                rest.len()
            ),
            iam_s3_sts: iam,
            rest,
            every: 4,
        }
    }

    /// The `i`th record written.
    fn record(&self, i: usize) -> &serde_json::Value {
        if self.every == 0 {
            return &self.rest[i % self.rest.len()];
        }
        let round = i / self.every;
        if i.is_multiple_of(self.every) {
            &self.iam_s3_sts[round % self.iam_s3_sts.len()]
        } else {
            let j = round * (self.every - 1) + i % self.every - 1;
            &self.rest[j % self.rest.len()]
        }
    }
}

/// Writes CloudTrail log files of about `file_bytes` each until `total_bytes`; returns (files, records, bytes).
fn write_log_files(
    dir: &Path,
    records: &Mix,
    total_bytes: u64,
    file_bytes: usize,
    gzip: bool,
) -> (usize, u64, u64) {
    std::fs::create_dir_all(dir).unwrap();
    let mut written = 0u64;
    let mut n_records = 0u64;
    let mut files = 0usize;
    let mut i = 0usize;
    while written < total_bytes {
        let mut buf = Vec::with_capacity(file_bytes + 4096);
        buf.extend_from_slice(b"{\"Records\":[");
        let mut first = true;
        while buf.len() < file_bytes {
            let mut r = records.record(i).clone();
            r["eventID"] = serde_json::Value::String(format!("00000000-0000-4000-8000-{i:012}"));
            if !first {
                buf.push(b',');
            }
            first = false;
            serde_json::to_writer(&mut buf, &r).unwrap();
            i += 1;
            n_records += 1;
        }
        buf.extend_from_slice(b"]}\n");
        written += buf.len() as u64;
        let name = dir.join(format!("{files:06}.json{}", if gzip { ".gz" } else { "" }));
        if gzip {
            let mut enc = flate2::write::GzEncoder::new(
                std::fs::File::create(name).unwrap(),
                flate2::Compression::default(),
            );
            enc.write_all(&buf).unwrap();
            enc.finish().unwrap();
        } else {
            std::fs::write(name, &buf).unwrap();
        }
        files += 1;
    }
    (files, n_records, written)
}

fn list(dir: &Path) -> Vec<(PathBuf, u64)> {
    warden_handler::cli::input::collect_files(&[dir.to_owned()]).unwrap()
}

/// Best of `runs` timings.
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

fn bare_parse(files: &[(PathBuf, u64)], gunzip: bool) {
    let mut buf = Vec::new();
    for (p, _) in files {
        buf.clear();
        if gunzip {
            flate2::read::MultiGzDecoder::new(std::fs::File::open(p).unwrap())
                .read_to_end(&mut buf)
                .unwrap();
        } else {
            std::fs::File::open(p)
                .unwrap()
                .read_to_end(&mut buf)
                .unwrap();
        }
        let _: serde::de::IgnoredAny = serde_json::from_slice(&buf).unwrap();
    }
}

/// Read + parse into Warden's event type, no analysis: the floor for a replay.
fn typed_parse(files: &[(PathBuf, u64)]) -> u64 {
    let mut n = 0u64;
    for (p, _) in files {
        warden_handler::cli::input::for_each_document(p, |_, doc| {
            parse_document(doc, |_, e| {
                std::hint::black_box(&e);
                n += 1;
            });
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
    }
    n
}

fn run_replay(files: &[(PathBuf, u64)], jobs: usize, ctx: &ReplayContext<'_>) -> u64 {
    let make_sink = || -> Box<dyn Sink> { Box::new(NullSink) };
    let s = replay(files, jobs, ctx, &make_sink, &|_| {});
    assert_eq!(s.problems, 0);
    s.events
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
        if let Ok(s) = std::fs::read_to_string(&status_path) {
            if let Some(kib) = s
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
            {
                peak = peak.max(kib);
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            return (peak, t.elapsed(), status.success());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The machine's load average (1, 5, 15 minutes), as `uptime` prints it.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(", "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// One mix's figures (seconds, best of 3, and record counts).
struct Figures {
    records: u64,
    bytes: u64,
    bare: f64,
    typed: f64,
    jobs1: f64,
    jobs2: f64,
    gz_records: u64,
    gz_bare: f64,
    gz_jobs1: f64,
    load_before: String,
    load_after: String,
}

fn measure(base: &Path, mix: &Mix, total: u64, ctx: &ReplayContext<'_>) -> Figures {
    println!("\n== mix `{}`: {}", mix.name, mix.what);
    let plain_dir = base.join(mix.name).join("plain");
    let (nfiles, nrec, nbytes) = write_log_files(&plain_dir, mix, total, 4_000_000, false);
    println!(
        "plain: {nfiles} files, {nrec} records, {:.0} MB, {:.0} bytes/record",
        nbytes as f64 / 1e6,
        nbytes as f64 / nrec as f64
    );
    let plain = list(&plain_dir);
    // Warm the page cache.
    bare_parse(&plain, false);
    let load_before = load();
    println!("load average before: {load_before}");
    let t_bare = best(3, || bare_parse(&plain, false));
    let t_typed = best(3, || assert_eq!(typed_parse(&plain), nrec));
    let t_j1 = best(3, || assert_eq!(run_replay(&plain, 1, ctx), nrec));
    let t_j2 = best(3, || assert_eq!(run_replay(&plain, 2, ctx), nrec));
    let rate = |d: Duration| nrec as f64 / d.as_secs_f64();
    println!(
        "bare parse (read + serde_json IgnoredAny): {:>8.3} s  {:>10.0} records/s  {:>6.0} MB/s",
        t_bare.as_secs_f64(),
        rate(t_bare),
        nbytes as f64 / 1e6 / t_bare.as_secs_f64()
    );
    println!("read + parse into Warden's event type:     {:>8.3} s  {:>10.0} records/s  ratio to bare parse {:.2}x", t_typed.as_secs_f64(), rate(t_typed), t_typed.as_secs_f64() / t_bare.as_secs_f64());
    println!("replay --jobs 1:                           {:>8.3} s  {:>10.0} records/s  ratio to bare parse {:.2}x", t_j1.as_secs_f64(), rate(t_j1), t_j1.as_secs_f64() / t_bare.as_secs_f64());
    println!("replay --jobs 2:                           {:>8.3} s  {:>10.0} records/s  speed-up over --jobs 1 {:.2}x", t_j2.as_secs_f64(), rate(t_j2), t_j1.as_secs_f64() / t_j2.as_secs_f64());
    let _ = std::fs::remove_dir_all(&plain_dir);

    let gz_dir = base.join(mix.name).join("gz");
    let (_, gz_rec, _) = write_log_files(&gz_dir, mix, total / 4, 4_000_000, true);
    let gz = list(&gz_dir);
    bare_parse(&gz, true);
    let t_gz_bare = best(3, || bare_parse(&gz, true));
    let t_gz = best(3, || assert_eq!(run_replay(&gz, 1, ctx), gz_rec));
    println!(
        "gzip, gunzip + bare parse:                 {:>8.3} s  {:>10.0} records/s",
        t_gz_bare.as_secs_f64(),
        gz_rec as f64 / t_gz_bare.as_secs_f64()
    );
    println!(
        "gzip, replay --jobs 1:                     {:>8.3} s  {:>10.0} records/s  ratio {:.2}x",
        t_gz.as_secs_f64(),
        gz_rec as f64 / t_gz.as_secs_f64(),
        t_gz.as_secs_f64() / t_gz_bare.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&gz_dir);
    let load_after = load();
    println!("load average after: {load_after}");
    Figures {
        records: nrec,
        bytes: nbytes,
        bare: t_bare.as_secs_f64(),
        typed: t_typed.as_secs_f64(),
        jobs1: t_j1.as_secs_f64(),
        jobs2: t_j2.as_secs_f64(),
        gz_records: gz_rec,
        gz_bare: t_gz_bare.as_secs_f64(),
        gz_jobs1: t_gz.as_secs_f64(),
        load_before,
        load_after,
    }
}

/// Both mixes' figures, a column each.
fn side_by_side(mixes: &[(&Mix, Figures)]) {
    println!("\n== side by side (ratios within a column come from the same run)");
    let row = |label: &str, cell: &dyn Fn(&Figures) -> String| {
        let cells: Vec<String> = mixes
            .iter()
            .map(|(_, f)| format!("{:>26}", cell(f)))
            .collect();
        println!("{label:<40}{}", cells.join(""));
    };
    let names: Vec<String> = mixes
        .iter()
        .map(|(m, _)| format!("{:>26}", m.name))
        .collect();
    println!("{:<40}{}", "mix", names.join(""));
    row("records, plain", &|f| f.records.to_string());
    row("bytes/record", &|f| {
        format!("{:.0}", f.bytes as f64 / f.records as f64)
    });
    row("bare parse, records/s", &|f| {
        format!("{:.0}", f.records as f64 / f.bare)
    });
    row("event type parse, x bare parse", &|f| {
        format!("{:.2}x", f.typed / f.bare)
    });
    row("replay --jobs 1, records/s", &|f| {
        format!("{:.0}", f.records as f64 / f.jobs1)
    });
    row("replay --jobs 1, x bare parse", &|f| {
        format!("{:.2}x", f.jobs1 / f.bare)
    });
    row("replay --jobs 2, records/s", &|f| {
        format!("{:.0}", f.records as f64 / f.jobs2)
    });
    row("replay --jobs 2, speed-up over --jobs 1", &|f| {
        format!("{:.2}x", f.jobs1 / f.jobs2)
    });
    row("gzip replay --jobs 1, records/s", &|f| {
        format!("{:.0}", f.gz_records as f64 / f.gz_jobs1)
    });
    row("gzip, x gunzip + bare parse", &|f| {
        format!("{:.2}x", f.gz_jobs1 / f.gz_bare)
    });
    row("load average before", &|f| f.load_before.clone());
    row("load average after", &|f| f.load_after.clone());
}

fn main() {
    // `cargo test --benches` passes `--bench`-less args; run only under `cargo bench`.
    if !std::env::args().any(|a| a == "--bench") {
        println!("replay bench: run with `cargo bench -p warden-handler --bench replay`");
        return;
    }
    let base = std::env::var("WARDEN_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/warden-bench")
        });
    let _ = std::fs::remove_dir_all(&base);
    let records = fixture_records();
    let mb = env_num("WARDEN_BENCH_MB", 512.0);
    let total = (mb * 1e6) as u64;
    let catalog = Catalog::builtin().unwrap();
    let rules = RuleSet::default_pack().unwrap();
    let memberships = ScopedMemberships::default();
    let ctx = ReplayContext {
        catalog: &catalog,
        rules: &rules,
        memberships: &memberships,
    };

    println!(
        "== data: {} real fixture records, cycled into CloudTrail log files of ~4 MB ({mb:.0} MB plain and {:.0} MB gzip per mix; times are the best of 3)",
        records.len(),
        mb / 4.0
    );
    let fixture_mix = Mix::fixtures(&records);
    let iam_mix = Mix::iam25(&records);
    let fixture = measure(&base, &fixture_mix, total, &ctx);
    let iam = measure(&base, &iam_mix, total, &ctx);
    side_by_side(&[(&fixture_mix, fixture), (&iam_mix, iam)]);

    println!("\n== one decision on a parsed event");
    let text: Vec<String> = records.iter().map(|r| r.to_string()).collect();
    let mut events = Vec::new();
    for t in &text {
        parse_document(t.as_bytes(), |_, e| events.push(e.unwrap()));
    }
    let analyses: Vec<_> = events.iter().map(|e| analyse(e, &catalog)).collect();
    let rounds = 200;
    let t_decide = best(3, || {
        for _ in 0..rounds {
            for (e, a) in events.iter().zip(&analyses) {
                std::hint::black_box(decide(e, a, &rules, CallerFacts { groups: None }));
            }
        }
    });
    let t_both = best(3, || {
        for _ in 0..rounds {
            for e in &events {
                let a = analyse(e, &catalog);
                std::hint::black_box(decide(e, &a, &rules, CallerFacts { groups: None }));
            }
        }
    });
    let n = (rounds * events.len()) as f64;
    println!(
        "decide:           {:>7.3} µs/event (mean over {} real events × {rounds})",
        t_decide.as_secs_f64() * 1e6 / n,
        events.len()
    );
    println!(
        "analyse + decide: {:>7.3} µs/event",
        t_both.as_secs_f64() * 1e6 / n
    );

    let gb = env_num("WARDEN_BENCH_MEMORY_GB", 2.0);
    if gb > 0.0 {
        println!("\n== peak memory (VmHWM of the release `warden replay` process)");
        let warden = env!("CARGO_BIN_EXE_warden");
        let mem_dir = base.join("memory");
        let (files, recs, bytes) = write_log_files(
            &mem_dir.join("logs"),
            &fixture_mix,
            (gb * 1e9) as u64,
            4_000_000,
            false,
        );
        let mut cmd = std::process::Command::new(warden);
        cmd.args(["replay", "--no-progress", "--jobs", "2"])
            .arg(mem_dir.join("logs"));
        let (kib, took, ok) = peak_rss_kib(cmd);
        println!("{files} log files, {recs} records, {:.2} GB: peak RSS {:.1} MB in {:.1} s (exit ok: {ok})", bytes as f64 / 1e9, kib as f64 / 1024.0, took.as_secs_f64());
        let _ = std::fs::remove_dir_all(mem_dir.join("logs"));
        // One JSON Lines file of the same size.
        let jsonl = mem_dir.join("all.jsonl");
        {
            let mut w = std::io::BufWriter::new(std::fs::File::create(&jsonl).unwrap());
            let mut written = 0u64;
            let mut i = 0usize;
            while written < (gb * 1e9) as u64 {
                let mut r = fixture_mix.record(i).clone();
                r["eventID"] =
                    serde_json::Value::String(format!("00000000-0000-4000-8000-{i:012}"));
                let line = serde_json::to_vec(&r).unwrap();
                w.write_all(&line).unwrap();
                w.write_all(b"\n").unwrap();
                written += line.len() as u64 + 1;
                i += 1;
            }
        }
        let size = std::fs::metadata(&jsonl).unwrap().len();
        let mut cmd = std::process::Command::new(warden);
        cmd.args(["replay", "--no-progress", "--jobs", "1"])
            .arg(&jsonl);
        let (kib, took, ok) = peak_rss_kib(cmd);
        println!(
            "one JSON Lines file, {:.2} GB: peak RSS {:.1} MB in {:.1} s (exit ok: {ok})",
            size as f64 / 1e9,
            kib as f64 / 1024.0,
            took.as_secs_f64()
        );
        let _ = std::fs::remove_dir_all(&mem_dir);
    }
    let _ = std::fs::remove_dir_all(&base);
}
