//! `decide` speed alone, printed as figures: ns per `decide` on a parsed, analysed event and per
//! `analyse` + `decide`, over the real records in `fixtures/cloudtrail/` with the default rule pack
//! and the built-in catalog. The same events and loop as the decide part of the handler's replay
//! bench (`handler/benches/replay.rs`), without building the AWS SDK. Run:
//! `cargo bench -p policy-rules --bench decide`. Times are the best of 3. Environment knobs:
//! `WARDEN_BENCH_ROUNDS` (default 200), `WARDEN_BENCH_RULES` (a rule file to use instead of the
//! default pack), `WARDEN_BENCH_PER_EVENT` (`1`: list the slowest events too; a file name: also
//! write every event's time there, to compare two commits event by event).

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
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The fixture records as the replay bench reads them: each file's records (an EventBridge
/// envelope's `detail`), sorted by event id.
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

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("decide bench: run with `cargo bench -p policy-rules --bench decide`");
        return;
    }
    let rounds: usize = std::env::var("WARDEN_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let catalog = Catalog::builtin().unwrap();
    let rules = match std::env::var("WARDEN_BENCH_RULES") {
        Ok(path) => RuleSet::parse(&path, &std::fs::read_to_string(&path).unwrap()).unwrap(),
        Err(_) => RuleSet::default_pack().unwrap(),
    };
    let records = fixture_records();
    let text: Vec<String> = records.iter().map(|r| r.to_string()).collect();
    let mut events = Vec::new();
    for t in &text {
        parse_document(t.as_bytes(), |_, e| events.push(e.unwrap()));
    }
    let analyses: Vec<_> = events.iter().map(|e| analyse(e, &catalog)).collect();
    let facts = CallerFacts { groups: None };

    let t_decide = best(3, || {
        for _ in 0..rounds {
            for (e, a) in events.iter().zip(&analyses) {
                std::hint::black_box(decide(e, a, &rules, facts));
            }
        }
    });
    let t_analyse = best(3, || {
        for _ in 0..rounds {
            for e in &events {
                std::hint::black_box(analyse(e, &catalog));
            }
        }
    });
    let t_both = best(3, || {
        for _ in 0..rounds {
            for e in &events {
                let a = analyse(e, &catalog);
                std::hint::black_box(decide(e, &a, &rules, facts));
            }
        }
    });
    let n = (rounds * events.len()) as f64;
    println!(
        "{} real events × {rounds} rounds, {} rules; best of 3",
        events.len(),
        rules.rules.len()
    );
    println!(
        "decide:           {:>8.1} ns/event",
        t_decide.as_secs_f64() * 1e9 / n
    );
    println!(
        "analyse:          {:>8.1} ns/event",
        t_analyse.as_secs_f64() * 1e9 / n
    );
    println!(
        "analyse + decide: {:>8.1} ns/event",
        t_both.as_secs_f64() * 1e9 / n
    );

    // Per event: the slowest listed, and every event's time written to the file named, if any.
    if let Ok(out) = std::env::var("WARDEN_BENCH_PER_EVENT") {
        let per: Vec<(f64, String)> = events
            .iter()
            .zip(&analyses)
            .map(|(e, a)| {
                let k = 2_000;
                let t = best(3, || {
                    for _ in 0..k {
                        std::hint::black_box(decide(e, a, &rules, facts));
                    }
                });
                let d = decide(e, a, &rules, facts);
                (
                    t.as_secs_f64() * 1e9 / k as f64,
                    format!(
                        "{}:{} -> {} ({})",
                        e.source(),
                        e.name(),
                        d.verdict.as_str(),
                        d.rule.as_deref().unwrap_or("-")
                    ),
                )
            })
            .collect();
        if !out.is_empty() && out != "1" {
            let lines: String = per
                .iter()
                .enumerate()
                .map(|(i, (ns, what))| format!("{i}\t{ns:.1}\t{what}\n"))
                .collect();
            std::fs::write(&out, lines).unwrap();
        }
        let mut sorted: Vec<&(f64, String)> = per.iter().collect();
        sorted.sort_by(|a, b| b.0.total_cmp(&a.0));
        let total: f64 = per.iter().map(|p| p.0).sum();
        println!("slowest decides (ns; share of the sum {total:.0} ns):");
        for (ns, what) in sorted.iter().take(15) {
            println!("  {ns:>9.1}  {:>5.1}%  {what}", ns * 100.0 / total);
        }
    }
}
