//! The fast scanner (`event_scan`) against serde_json (INVARIANT scan-subset): on every fixture
//! document, on truncations and corruptions of them, and on generated JSON-ish documents (valid and
//! broken: truncations, bad escapes, control characters, lone surrogates, deep nesting, duplicate
//! keys), `parse_document` hands over exactly what `parse_document_reference` (serde_json alone) does,
//! errors included, and a scan that succeeds yields what serde_json yields, raw slices pointing at
//! the same bytes.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use policy_rules::event::{
    parse_document, parse_document_reference, CloudTrailEvent, Event, EventError, RecordIndex,
};
use policy_rules::event_scan::{scan_log_file, scan_record};
use proptest::prelude::*;
use std::path::Path;

type Items<'a> = Vec<(RecordIndex, Result<Event<'a>, EventError>)>;

/// The raw slices of a record and of the records inside it, as addresses and lengths.
fn raw_addresses(e: &CloudTrailEvent<'_>, out: &mut Vec<Option<(usize, usize)>>) {
    for raw in [e.request_parameters, e.response_elements, e.resources] {
        out.push(raw.map(|r| (r.get().as_ptr() as usize, r.get().len())));
    }
    if let Some(d) = &e.detail {
        raw_addresses(d, out);
    }
    for r in e.records.iter().flatten() {
        raw_addresses(r, out);
    }
}

fn addresses(items: &Items<'_>) -> Vec<Option<(usize, usize)>> {
    let mut out = Vec::new();
    for (_, item) in items {
        if let Ok(e) = item {
            raw_addresses(&e.record, &mut out);
        }
    }
    out
}

/// Checks one document both ways; returns whether the scanner read it alone.
fn check(bytes: &[u8]) -> bool {
    let mut fast: Items<'_> = Vec::new();
    let n_fast = parse_document(bytes, |i, r| fast.push((i, r)));
    let mut slow: Items<'_> = Vec::new();
    let n_slow = parse_document_reference(bytes, |i, r| slow.push((i, r)));
    let shown = String::from_utf8_lossy(bytes);
    assert_eq!(fast, slow, "parse_document differs on {shown:?}");
    assert_eq!(n_fast, n_slow, "counts differ on {shown:?}");
    assert_eq!(
        addresses(&fast),
        addresses(&slow),
        "raw slices differ on {shown:?}"
    );

    let Ok(text) = std::str::from_utf8(bytes) else {
        return false;
    };
    let mut scanned_alone = false;
    if let Ok(scanned) = scan_record(text) {
        let serde = serde_json::from_str::<CloudTrailEvent<'_>>(text);
        let Ok(serde) = serde else {
            panic!("scanner accepted what serde_json refuses ({serde:?}): {text:?}");
        };
        assert_eq!(scanned, serde, "scan_record differs on {text:?}");
        let (mut a, mut b) = (Vec::new(), Vec::new());
        raw_addresses(&scanned, &mut a);
        raw_addresses(&serde, &mut b);
        assert_eq!(a, b, "raw slices differ on {text:?}");
        scanned_alone = true;
    }
    // A log file's records: `parse_document` above already compared them item by item (the
    // scanner streams them first there); here only whether the scanner read the file alone.
    let log_file = text
        .trim_start_matches([' ', '\n', '\r', '\t'])
        .strip_prefix('{')
        .is_some_and(|r| {
            r.trim_start_matches([' ', '\n', '\r', '\t'])
                .starts_with("\"Records\"")
        });
    let mut records = 0usize;
    if log_file && scan_log_file(text, &mut |_| records += 1).is_ok() {
        assert_eq!(records, slow.len(), "record count differs on {text:?}");
        scanned_alone = true;
    }
    scanned_alone
}

fn fixture_documents() -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let mut out = Vec::new();
    for dir in ["cloudtrail", "cloudtrail-invalid"] {
        let mut paths: Vec<_> = std::fs::read_dir(root.join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        paths.sort();
        for path in paths {
            let bytes = std::fs::read(&path).unwrap();
            let name = path.display().to_string();
            if path.extension().is_some_and(|e| e == "jsonl") {
                for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
                    if !line.trim_ascii().is_empty() {
                        out.push((format!("{name}:{}", i + 1), line.to_vec()));
                    }
                }
            } else {
                out.push((name, bytes));
            }
        }
    }
    out
}

#[test]
fn every_fixture_document_reads_the_same_and_mostly_without_serde() {
    let docs = fixture_documents();
    assert!(docs.len() > 300, "{} documents", docs.len());
    let mut alone = 0;
    for (_, doc) in &docs {
        if check(doc) {
            alone += 1;
        }
    }
    // The fixtures are real CloudTrail; only the invalid ones should need serde_json.
    assert!(
        alone + 5 >= docs.len(),
        "{alone} of {} scanned alone",
        docs.len()
    );
}

#[test]
fn fixture_documents_as_one_log_file_and_pretty_printed() {
    let docs = fixture_documents();
    let records: Vec<&[u8]> = docs
        .iter()
        .map(|(_, d)| d.as_slice())
        .filter(|d| d.starts_with(b"{\"eventVersion\""))
        .collect();
    let mut file = b"{\"Records\":[".to_vec();
    file.extend(records.join(&b","[..]));
    file.extend_from_slice(b"],\"x\":1}");
    assert!(check(&file));
    let value: serde_json::Value = serde_json::from_slice(&file).unwrap();
    assert!(check(
        serde_json::to_string_pretty(&value).unwrap().as_bytes()
    ));
}

#[test]
fn truncated_and_corrupted_fixture_documents() {
    let docs = fixture_documents();
    let corruptions: &[&[u8]] = &[
        b"{", b"}", b"\"", b",", b":", b"\\", b"\x01", b"]", b"0", b"\xff",
    ];
    for (k, (_, doc)) in docs.iter().enumerate() {
        // Every truncation of a few documents, a stride of the others.
        let step = if k % 40 == 0 { 1 } else { 97 };
        for cut in (0..doc.len()).step_by(step) {
            check(doc.get(..cut).unwrap());
        }
        for (j, at) in (0..doc.len()).step_by(131).enumerate() {
            let c = corruptions[(j + k) % corruptions.len()];
            let mut replaced = doc.clone();
            replaced.splice(at..at + 1, c.iter().copied());
            check(&replaced);
            let mut inserted = doc.clone();
            inserted.splice(at..at, c.iter().copied());
            check(&inserted);
        }
    }
}

#[test]
fn edge_cases_read_the_same() {
    let deep_skip = format!("{}1{}", "[".repeat(300), "]".repeat(300));
    let deep_records = format!(
        "{}{}",
        r#"{"detail-type":"AWS API Call via CloudTrail","detail":"#.repeat(140),
        "{}".to_owned() + &"}".repeat(140)
    );
    let cases: Vec<String> = vec![
        r#"{"eventSource":"a","eventName":"b","eventName":"c"}"#.into(),
        r#"{"eventSource":"a","event\u004eame":"b"}"#.into(),
        r#"{"eventSource":"a","eventName":"\ud800"}"#.into(),
        r#"{"eventSource":"a","eventName":"\ud800\u0041"}"#.into(),
        r#"{"eventSource":"a","eventName":"\ud83d\ude00"}"#.into(),
        r#"{"eventSource":"a","eventName":"b","x":"\ud800","\udc00":1}"#.into(),
        "{\"eventSource\":\"a\",\"eventName\":\"b\u{1}\"}".into(),
        r#"{"eventSource":"a","eventName":"b","userIdentity":["IAMUser","arn"]}"#.into(),
        r#"{"eventSource":"a","eventName":"b","readOnly":"yes"}"#.into(),
        r#"{"eventSource":"a","eventName":"b","readOnly":"tru\u0065"}"#.into(),
        r#"{"eventSource":"a","eventName":"b","requestParameters":  [1, {"a":null}] ,"resources":null}"#.into(),
        r#"{"Records":[{"eventSource":"a","eventName":"b"}],"Records":[{"eventSource":"c","eventName":"d"}]}"#.into(),
        r#"{"Records":[{"eventSource":"a","eventName":"b"},{"eventSource":"c","eventName":"d","eventName":"e"},{"eventSource":"f","eventName":"g"}]}"#.into(),
        r#"{"Records":[{"eventSource":"a","eventName":"b"},{"eventSource":"c"}],"x":}"#.into(),
        r#"{"Records":null}"#.into(),
        r#"{"Records":[]} x"#.into(),
        r#"{"x":1,"Records":[{"eventSource":"a","eventName":"b"}]}"#.into(),
        format!(r#"{{"eventSource":"a","eventName":"b","x":{deep_skip}}}"#),
        deep_records,
    ];
    for case in &cases {
        check(case.as_bytes());
    }
}

/// JSON-ish leaves: mostly valid (so the scanner's own path is exercised), sometimes one of the
/// mistakes a scanner can get wrong.
fn leaf() -> impl Strategy<Value = String> {
    let valid = prop::sample::select(vec![
        "\"iam.amazonaws.com\"",
        "\"CreateUser\"",
        "\"\"",
        "\"caf\u{e9} \u{1F600}\"",
        "\"a\\nb\\t\\\"\\\\\\/\\b\\f\\r\"",
        "\"\\u00e9\\u0000\"",
        "\"\\ud83d\\ude00\"",
        "\"a\u{7f}b\"",
        "\"true\"",
        "\"false\"",
        "\"AwsCloudTrailInsight\"",
        "\"AWS API Call via CloudTrail\"",
        "0",
        "-0",
        "12",
        "-3.25",
        "1e9",
        "2E-7",
        "6.02e+23",
        "true",
        "false",
        "null",
    ]);
    let broken = prop::sample::select(vec![
        // Lone surrogates: skipped by serde_json, refused where it reads a `str`.
        "\"\\ud800\"",
        "\"\\udc00\"",
        "\"\\ud800\\u0041\"",
        "\"\\ud800\\n\"",
        "\"\\q\"",
        "\"\\u12\"",
        "\"\\u12g4\"",
        "\"a\u{1}b\"",
        "01",
        "1.",
        "-",
        "1e",
        "1e+",
        ".5",
        "-a",
        "1.5.3",
        "nul",
        "tru",
        "nullx",
    ]);
    prop_oneof![
        9 => valid.prop_map(str::to_owned),
        1 => broken.prop_map(str::to_owned),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "eventID",
        "eventTime",
        "eventSource",
        "eventName",
        "eventType",
        "awsRegion",
        "errorCode",
        "recipientAccountId",
        "readOnly",
        "userIdentity",
        "requestParameters",
        "responseElements",
        "resources",
        "account",
        "detail-type",
        "detail",
        "Records",
        "type",
        "arn",
        "accountId",
        "userName",
        "invokedBy",
        "sessionContext",
        "sessionIssuer",
        "x",
        "",
        "event\\u004eame",
        "\\ud800",
        "a\u{1}",
    ])
    .prop_map(|k| format!("\"{k}\""))
}

fn space() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["", "", "", " ", "\n  ", "\t", "\r\n"])
}

fn value() -> impl Strategy<Value = String> {
    leaf().prop_recursive(6, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec((space(), inner.clone()), 0..5).prop_map(|items| {
                let parts: Vec<String> =
                    items.into_iter().map(|(s, v)| format!("{s}{v}")).collect();
                format!("[{}]", parts.join(","))
            }),
            prop::collection::vec((key(), space(), inner), 0..7).prop_map(|members| {
                let parts: Vec<String> = members
                    .into_iter()
                    .map(|(k, s, v)| format!("{k}{s}:{s}{v}"))
                    .collect();
                format!("{{{}}}", parts.join(","))
            }),
        ]
    })
}

/// A record-like object, or a log file of them.
fn document() -> impl Strategy<Value = String> {
    let record = || {
        prop::collection::vec((key(), space(), value()), 0..8).prop_map(|members| {
            let parts: Vec<String> = members
                .into_iter()
                .map(|(k, s, v)| format!("{k}:{s}{v}"))
                .collect();
            format!("{{{}}}", parts.join(","))
        })
    };
    prop_oneof![
        2 => record(),
        1 => (prop::collection::vec(record(), 0..4), space()).prop_map(|(rs, s)| {
            format!("{{\"Records\":{s}[{}]}}{s}", rs.join(","))
        }),
    ]
}

#[derive(Debug, Clone)]
enum Corruption {
    None,
    Truncate(prop::sample::Index),
    Delete(prop::sample::Index),
    Insert(prop::sample::Index, u8),
}

fn corruption() -> impl Strategy<Value = Corruption> {
    let byte = prop::sample::select(vec![
        b'{', b'}', b'[', b']', b'"', b',', b':', b'\\', b'u', b'0', b'-', b' ', 0x01, 0xc3, 0xff,
    ]);
    prop_oneof![
        3 => Just(Corruption::None),
        1 => any::<prop::sample::Index>().prop_map(Corruption::Truncate),
        1 => any::<prop::sample::Index>().prop_map(Corruption::Delete),
        1 => (any::<prop::sample::Index>(), byte).prop_map(|(i, b)| Corruption::Insert(i, b)),
    ]
}

fn corrupt(text: &str, c: &Corruption) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    let len = bytes.len().max(1);
    match c {
        Corruption::None => {}
        Corruption::Truncate(i) => bytes.truncate(i.index(len)),
        Corruption::Delete(i) => {
            let at = i.index(len);
            if at < bytes.len() {
                bytes.remove(at);
            }
        }
        Corruption::Insert(i, b) => bytes.insert(i.index(len).min(bytes.len()), *b),
    }
    bytes
}

/// A record the scanner should read alone, to keep the generated cases from being all fallback.
fn well_formed_record() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!["iam.amazonaws.com", "s3.amazonaws.com", "caf\\u00e9"]),
        prop::sample::select(vec!["CreateUser", "PutBucketPolicy", "Stop\\u004cogging"]),
        prop::sample::select(vec!["true", "false", "\"true\"", "\"no\"", "null"]),
        value(),
        space(),
    )
        .prop_map(|(src, name, ro, params, s)| {
            format!(
                r#"{{"eventSource":{s}"{src}","eventName":"{name}","readOnly":{ro},"requestParameters":{params},"userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::1:user/a","sessionContext":{{"sessionIssuer":{{"type":"Role","x":{params}}}}}}},"other":{params}}}"#
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn generated_documents_read_the_same(doc in document(), c in corruption()) {
        check(&corrupt(&doc, &c));
    }

    #[test]
    fn generated_records_read_the_same(rec in well_formed_record(), c in corruption()) {
        check(&corrupt(&rec, &c));
        let file = format!("{{\"Records\":[{rec},{rec}]}}");
        check(&corrupt(&file, &c));
    }
}
