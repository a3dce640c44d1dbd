//! CloudTrail events as Warden reads them: bare CloudTrail records, EventBridge envelopes
//! (`"detail-type": "AWS API Call via CloudTrail"` and its console sign-in and service-event
//! siblings) and CloudTrail log files (`{"Records":[…]}`), all parsed in one pass into one borrowed
//! type. Parsing is tolerant: unknown fields are skipped, optional fields may be missing or `null`.
//! Strings borrow from the input where they can, so a record costs little more than a bare parse.
//! serde_json defines what is valid and words every error; a hand-written scanner (`event_scan`)
//! reads the common case faster and hands anything it cannot vouch for back to serde_json.
//!
//! This file owns the shapes and the splitting of a document into events; it does not interpret
//! who called or what the call did (`caller`, `mapping`), and it reads no files.
//! Shapes: "CloudTrail record contents" and "CloudTrail userIdentity element" (CloudTrail user
//! guide); "Events from AWS services" (EventBridge user guide).

use crate::event_scan;
use serde::de::{self, Deserializer};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// The EventBridge `detail-type`s whose `detail` is a CloudTrail record.
pub const CLOUDTRAIL_DETAIL_TYPES: [&str; 3] = [
    "AWS API Call via CloudTrail",
    "AWS Console Sign In via CloudTrail",
    "AWS Service Event via CloudTrail",
];

/// `eventType` of CloudTrail Insights records: an API-rate anomaly, not an API call; they carry no
/// top-level `eventSource`/`eventName` ("CloudTrail Insights events", CloudTrail user guide).
pub const INSIGHT_EVENT_TYPE: &str = "AwsCloudTrailInsight";

/// One CloudTrail record, or (when `detail` or `records` is set) a container of them.
#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloudTrailEvent<'a> {
    #[serde(borrow, rename = "eventID")]
    pub event_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub event_time: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub event_source: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub event_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub event_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub aws_region: Option<Cow<'a, str>>,
    /// The error of a failed call; an empty `errorCode` (`""`) is no error and reads as `None`.
    #[serde(borrow, default, deserialize_with = "non_empty")]
    pub error_code: Option<Cow<'a, str>>,
    /// For a denied call, AWS's own words naming the action and the resource.
    #[serde(borrow)]
    pub error_message: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub recipient_account_id: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "bool_or_string")]
    pub read_only: Option<bool>,
    #[serde(borrow)]
    pub user_identity: Option<UserIdentity<'a>>,
    #[serde(borrow)]
    pub request_parameters: Option<RawJson<'a>>,
    #[serde(borrow)]
    pub response_elements: Option<RawJson<'a>>,
    /// CloudTrail's `resources` (`[{ARN, accountId, type}]`); in an envelope, EventBridge's list of ARNs.
    #[serde(borrow)]
    pub resources: Option<RawJson<'a>>,
    /// EventBridge envelope: the account the event came from.
    #[serde(borrow)]
    pub account: Option<Cow<'a, str>>,
    /// EventBridge envelope: the kind of event.
    #[serde(borrow, rename = "detail-type")]
    pub detail_type: Option<Cow<'a, str>>,
    /// EventBridge envelope: the CloudTrail record.
    #[serde(borrow)]
    pub detail: Option<Box<CloudTrailEvent<'a>>>,
    /// CloudTrail log file: the records.
    #[serde(borrow, rename = "Records")]
    pub records: Option<Vec<CloudTrailEvent<'a>>>,
}

/// `userIdentity`: who made the call, as CloudTrail tells it.
#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserIdentity<'a> {
    #[serde(borrow, rename = "type")]
    pub kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub arn: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub account_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub user_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub invoked_by: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub session_context: Option<SessionContext<'a>>,
}

#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionContext<'a> {
    #[serde(borrow)]
    pub session_issuer: Option<SessionIssuer<'a>>,
}

/// The principal that issued a session: the role behind an assumed-role session, or the IAM user
/// (or root) behind a federation token.
#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionIssuer<'a> {
    #[serde(borrow, rename = "type")]
    pub kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub arn: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub account_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub user_name: Option<Cow<'a, str>>,
}

/// A JSON value kept as its text, borrowed from the input: what serde_json's `RawValue` is, without
/// being tied to serde_json's reader, so the fast scanner (`event_scan`) can hand one over too.
/// Valid JSON by construction (serde_json or the scanner checked it); no surrounding whitespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawJson<'a>(&'a str);

impl<'a> RawJson<'a> {
    /// The value's JSON text.
    pub fn get(&self) -> &'a str {
        self.0
    }

    /// A value `event_scan` checked.
    pub(crate) fn scanned(text: &'a str) -> Self {
        RawJson(text)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for RawJson<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <&'de RawValue>::deserialize(d).map(|raw| RawJson(raw.get()))
    }
}

/// A string that is absent, `null` or empty reads as `None`: CloudTrail marks a failed call by an
/// `errorCode` ("CloudTrail record contents"), and an empty one marks nothing. `event_scan` reads it
/// the same way.
fn non_empty<'de: 'a, 'a, D: Deserializer<'de>>(d: D) -> Result<Option<Cow<'a, str>>, D::Error> {
    #[derive(Deserialize)]
    struct Borrowed<'a>(#[serde(borrow)] Cow<'a, str>);
    Ok(Option::<Borrowed<'a>>::deserialize(d)?
        .map(|b| b.0)
        .filter(|s| !s.is_empty()))
}

fn bool_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    struct V;
    impl<'de> de::Visitor<'de> for V {
        type Value = Option<bool>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a boolean or \"true\"/\"false\"")
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(match v {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            })
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(V)
        }
    }
    d.deserialize_option(V)
}

/// Why a document or record could not be read as CloudTrail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("invalid JSON at line {line}, column {column}: {message}")]
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("EventBridge envelope with detail-type `{0}`, which carries no CloudTrail record")]
    UnsupportedDetailType(String),
    #[error("not a CloudTrail record: no `eventSource` or `eventName`")]
    NotARecord,
    #[error("invalid UTF-8 in this record")]
    InvalidUtf8,
}

impl From<serde_json::Error> for EventError {
    fn from(e: serde_json::Error) -> Self {
        // serde_json's Display appends " at line L column C"; keep the bare message.
        let full = e.to_string();
        let message = match full.rfind(" at line ") {
            Some(i) => full.get(..i).unwrap_or(&full).to_owned(),
            None => full,
        };
        EventError::Json {
            line: e.line(),
            column: e.column(),
            message,
        }
    }
}

/// A CloudTrail record ready for analysis, with the envelope's account when it came in one.
#[derive(Debug, PartialEq)]
pub struct Event<'a> {
    pub record: CloudTrailEvent<'a>,
    pub envelope_account: Option<Cow<'a, str>>,
}

impl<'a> Event<'a> {
    /// The account the call acted in: `recipientAccountId`, else the envelope's account, else the
    /// caller's account.
    pub fn account(&self) -> Option<&str> {
        self.record
            .recipient_account_id
            .as_deref()
            .or(self.envelope_account.as_deref())
            .or_else(|| {
                self.record
                    .user_identity
                    .as_ref()
                    .and_then(|u| u.account_id.as_deref())
            })
    }

    /// Whether this is a CloudTrail Insights record rather than an API call.
    pub fn is_insight(&self) -> bool {
        self.record.event_type.as_deref() == Some(INSIGHT_EVENT_TYPE)
    }

    pub fn source(&self) -> &str {
        self.record.event_source.as_deref().unwrap_or("")
    }

    pub fn name(&self) -> &str {
        self.record.event_name.as_deref().unwrap_or("")
    }
}

/// Where an item sits inside one document: its index in `Records`, when the document is a log file.
pub type RecordIndex = Option<usize>;

/// Parses one JSON document (a bare record, an envelope, or a log file) and hands each event, or the
/// error that stopped it, to `sink` with its index in `Records`. Returns how many items were handed
/// over. A log file's records are streamed (never collected), and a log file with a bad record is
/// re-read record by record, so one bad record costs only itself and no record is handed over twice.
///
/// Valid UTF-8 is read by the fast scanner (`event_scan`) first; whatever it cannot vouch for is
/// read by serde_json as in [`parse_document_reference`], which decides what is valid and words
/// every error. The two hand over the same items (INVARIANT scan-subset).
pub fn parse_document<'a>(
    bytes: &'a [u8],
    sink: impl FnMut(RecordIndex, Result<Event<'a>, EventError>),
) -> usize {
    parse_document_with(bytes, true, sink)
}

/// [`parse_document`] without the fast scanner: serde_json alone. The reference the scanner is
/// held to (tests, the `event_scan_differential` fuzz target, benchmarks).
pub fn parse_document_reference<'a>(
    bytes: &'a [u8],
    sink: impl FnMut(RecordIndex, Result<Event<'a>, EventError>),
) -> usize {
    parse_document_with(bytes, false, sink)
}

fn parse_document_with<'a>(
    bytes: &'a [u8],
    scan: bool,
    mut sink: impl FnMut(RecordIndex, Result<Event<'a>, EventError>),
) -> usize {
    // Valid UTF-8 (checked once for the whole document) lets serde_json skip its per-string checks;
    // anything else takes the byte path, which locates the bad bytes.
    let text = std::str::from_utf8(bytes).ok();
    if starts_with_records_key(bytes) {
        // Records handed over so far, by the scanner and then by serde_json.
        let mut emitted = 0usize;
        if let (true, Some(t)) = (scan, text) {
            let scanned = event_scan::scan_log_file(t, &mut |record| {
                sink(Some(emitted), classify_record(record));
                emitted += 1;
            });
            if scanned.is_ok() {
                return emitted;
            }
        }
        // serde_json from the start, handing over only the records the scanner did not.
        let mut seen = 0usize;
        let mut each = |record: CloudTrailEvent<'a>| {
            if seen >= emitted {
                sink(Some(seen), classify_record(record));
            }
            seen += 1;
        };
        let streamed = match text {
            Some(t) => {
                let mut de = serde_json::Deserializer::from_str(t);
                de::DeserializeSeed::deserialize(RecordsFile { each: &mut each }, &mut de)
                    .and_then(|()| de.end())
            }
            None => {
                let mut de = serde_json::Deserializer::from_slice(bytes);
                de::DeserializeSeed::deserialize(RecordsFile { each: &mut each }, &mut de)
                    .and_then(|()| de.end())
            }
        };
        let done = seen.max(emitted);
        return match streamed {
            Ok(()) => done,
            Err(e) => slow_path(bytes, done, e, &mut sink),
        };
    }
    if let (true, Some(t)) = (scan, text) {
        if let Ok(doc) = event_scan::scan_record(t) {
            return emit_document(doc, &mut sink);
        }
    }
    let whole = match text {
        Some(t) => serde_json::from_str::<CloudTrailEvent<'a>>(t),
        None => serde_json::from_slice::<CloudTrailEvent<'a>>(bytes),
    };
    match whole {
        Ok(doc) => emit_document(doc, &mut sink),
        Err(whole_err) => slow_path(bytes, 0, whole_err, &mut sink),
    }
}

/// Re-reads a document whose fast parse failed: a log file record by record (skipping the `done`
/// records already handed over), anything else as one error.
fn slow_path<'a>(
    bytes: &'a [u8],
    done: usize,
    whole_err: serde_json::Error,
    sink: &mut impl FnMut(RecordIndex, Result<Event<'a>, EventError>),
) -> usize {
    #[derive(Deserialize)]
    struct Container<'b> {
        #[serde(borrow, rename = "Records")]
        records: Vec<&'b RawValue>,
    }
    match serde_json::from_slice::<Container<'a>>(bytes) {
        Ok(c) => {
            let n = c.records.len();
            for (i, raw) in c.records.into_iter().enumerate().skip(done) {
                let item = serde_json::from_str::<CloudTrailEvent<'a>>(raw.get())
                    .map_err(EventError::from)
                    .and_then(classify_record);
                sink(Some(i), item);
            }
            n
        }
        Err(_) => match split_records_despite_bad_utf8(bytes) {
            Some(ranges) => {
                let n = ranges.len();
                for (i, range) in ranges.into_iter().enumerate().skip(done) {
                    let item = match range {
                        Some((start, end)) => serde_json::from_slice::<CloudTrailEvent<'a>>(
                            bytes.get(start..end).unwrap_or(&[]),
                        )
                        .map_err(EventError::from)
                        .and_then(classify_record),
                        None => Err(EventError::InvalidUtf8),
                    };
                    sink(Some(i), item);
                }
                n
            }
            None => {
                sink(
                    if done > 0 { Some(done) } else { None },
                    Err(EventError::from(whole_err)),
                );
                done + 1
            }
        },
    }
}

/// For a log file whose only fault is invalid UTF-8: the byte range of each record in `bytes`, or
/// `None` for a record that holds invalid UTF-8. `None` overall when the file has no such fault or
/// is not a log file.
fn split_records_despite_bad_utf8(bytes: &[u8]) -> Option<Vec<Option<(usize, usize)>>> {
    #[derive(Deserialize)]
    struct Container<'b> {
        #[serde(borrow, rename = "Records")]
        records: Vec<&'b RawValue>,
    }
    // Lossy text, and where each replacement sits: (offset in the text, bytes it replaced).
    let mut text = String::with_capacity(bytes.len());
    let mut shifts: Vec<(usize, usize)> = Vec::new();
    for chunk in bytes.utf8_chunks() {
        text.push_str(chunk.valid());
        if !chunk.invalid().is_empty() {
            shifts.push((text.len(), chunk.invalid().len()));
            text.push(char::REPLACEMENT_CHARACTER);
        }
    }
    if shifts.is_empty() {
        return None;
    }
    let container: Container<'_> = serde_json::from_str(&text).ok()?;
    let base = text.as_ptr() as usize;
    let to_original = |at: usize| {
        // Each replacement is 3 bytes of text standing for `len` original bytes.
        shifts
            .iter()
            .take_while(|(pos, _)| *pos < at)
            .fold(at, |o, (_, len)| o + len - 3)
    };
    Some(
        container
            .records
            .iter()
            .map(|raw| {
                let r = raw.get();
                let start = r.as_ptr() as usize - base;
                (!r.contains(char::REPLACEMENT_CHARACTER))
                    .then(|| (to_original(start), to_original(start) + r.len()))
            })
            .collect(),
    )
}

/// Whether a document opens with `{"Records":` (how CloudTrail writes its log files).
fn starts_with_records_key(bytes: &[u8]) -> bool {
    let rest = bytes.trim_ascii_start();
    rest.strip_prefix(b"{")
        .is_some_and(|r| r.trim_ascii_start().starts_with(b"\"Records\""))
}

/// A log file `{"Records":[…], …}` whose records are handed to `each` as they are parsed.
struct RecordsFile<'f, F> {
    each: &'f mut F,
}

impl<'de, F: FnMut(CloudTrailEvent<'de>)> de::DeserializeSeed<'de> for RecordsFile<'_, F> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, F: FnMut(CloudTrailEvent<'de>)> de::Visitor<'de> for RecordsFile<'_, F> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a CloudTrail log file")
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if key == "Records" {
                map.next_value_seed(RecordsSeq {
                    each: &mut *self.each,
                })?;
            } else {
                map.next_value::<de::IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

struct RecordsSeq<'f, F> {
    each: &'f mut F,
}

impl<'de, F: FnMut(CloudTrailEvent<'de>)> de::DeserializeSeed<'de> for RecordsSeq<'_, F> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, F: FnMut(CloudTrailEvent<'de>)> de::Visitor<'de> for RecordsSeq<'_, F> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of CloudTrail records")
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(record) = seq.next_element::<CloudTrailEvent<'de>>()? {
            (self.each)(record);
        }
        Ok(())
    }
}

fn emit_document<'a>(
    mut doc: CloudTrailEvent<'a>,
    sink: &mut impl FnMut(RecordIndex, Result<Event<'a>, EventError>),
) -> usize {
    if let Some(records) = doc.records.take() {
        let n = records.len();
        for (i, r) in records.into_iter().enumerate() {
            sink(Some(i), classify_record(r));
        }
        return n;
    }
    sink(None, classify(doc));
    1
}

/// Turns a parsed document that is not a log file into an event: unwraps an envelope, checks that a
/// record is one.
pub fn classify(mut doc: CloudTrailEvent<'_>) -> Result<Event<'_>, EventError> {
    if let Some(detail) = doc.detail.take() {
        let detail_type = doc.detail_type.as_deref().unwrap_or("");
        if !CLOUDTRAIL_DETAIL_TYPES.contains(&detail_type) {
            return Err(EventError::UnsupportedDetailType(detail_type.to_owned()));
        }
        let envelope_account = doc.account.take();
        let mut event = classify_record(*detail)?;
        event.envelope_account = envelope_account;
        return Ok(event);
    }
    if let Some(detail_type) = doc.detail_type.as_deref() {
        return Err(EventError::UnsupportedDetailType(detail_type.to_owned()));
    }
    classify_record(doc)
}

fn classify_record(record: CloudTrailEvent<'_>) -> Result<Event<'_>, EventError> {
    let insight = record.event_type.as_deref() == Some(INSIGHT_EVENT_TYPE);
    if !insight && (record.event_source.is_none() || record.event_name.is_none()) {
        return Err(EventError::NotARecord);
    }
    Ok(Event {
        record,
        envelope_account: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(bytes: &[u8]) -> Vec<(RecordIndex, Result<String, EventError>)> {
        let mut out = Vec::new();
        parse_document(bytes, |i, r| out.push((i, r.map(|e| e.name().to_owned()))));
        out
    }

    #[test]
    fn bare_record_envelope_and_log_file() {
        let bare = br#"{"eventSource":"iam.amazonaws.com","eventName":"CreateUser","requestParameters":null,"x":{"y":[1]}}"#;
        assert_eq!(collect(bare), vec![(None, Ok("CreateUser".into()))]);
        let env = br#"{"detail-type":"AWS API Call via CloudTrail","account":"1","detail":{"eventSource":"s3.amazonaws.com","eventName":"PutBucketPolicy"}}"#;
        assert_eq!(collect(env), vec![(None, Ok("PutBucketPolicy".into()))]);
        let file = br#"{"Records":[{"eventSource":"a","eventName":"One"},{"eventSource":"b","eventName":"Two"}]}"#;
        assert_eq!(
            collect(file),
            vec![(Some(0), Ok("One".into())), (Some(1), Ok("Two".into()))]
        );
    }

    // Regression (issue 9, class C): `"errorCode": ""` is not a failed call, in both readers.
    #[test]
    fn an_empty_error_code_is_no_error() {
        for (doc, want) in [
            (
                r#"{"eventSource":"a","eventName":"b","errorCode":""}"#,
                None,
            ),
            (
                r#"{"eventSource":"a","eventName":"b","errorCode":null}"#,
                None,
            ),
            (r#"{"eventSource":"a","eventName":"b"}"#, None),
            (
                r#"{"eventSource":"a","eventName":"b","errorCode":"AccessDenied"}"#,
                Some("AccessDenied"),
            ),
            (
                r#"{"eventSource":"a","eventName":"b","errorCode":"\u0041"}"#,
                Some("A"),
            ),
        ] {
            let mut codes = Vec::new();
            parse_document(doc.as_bytes(), |_, e| {
                codes.push(e.unwrap().record.error_code.map(|c| c.into_owned()))
            });
            parse_document_reference(doc.as_bytes(), |_, e| {
                codes.push(e.unwrap().record.error_code.map(|c| c.into_owned()))
            });
            let want = want.map(str::to_owned);
            assert_eq!(codes, vec![want.clone(), want], "{doc}");
        }
    }

    #[test]
    fn invalid_utf8_in_one_record_costs_only_that_record() {
        let mut file = br#"{"Records":[{"eventSource":"a","eventName":"One"},{"eventSource":"b","eventName":"T"#.to_vec();
        file.push(0xff);
        file.extend_from_slice(br#"o"},{"eventSource":"c","eventName":"Three"}]}"#);
        let got = collect(&file);
        assert_eq!(got[0], (Some(0), Ok("One".into())));
        assert!(
            matches!(&got[1], (Some(1), Err(EventError::InvalidUtf8))),
            "{got:?}"
        );
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[2], (Some(2), Ok("Three".into())));
    }

    #[test]
    fn truncated_log_file_keeps_what_came_before() {
        let file = br#"{"Records":[{"eventSource":"a","eventName":"One"},{"eventSource":"b","#;
        let got = collect(file);
        assert_eq!(got[0], (Some(0), Ok("One".into())));
        assert!(
            matches!(&got[1], (Some(1), Err(EventError::Json { .. }))),
            "{got:?}"
        );
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn one_bad_record_costs_only_itself() {
        let file = br#"{"Records":[{"eventSource":"a","eventName":"One"},{"eventSource":"b","eventName":7},{"eventSource":"c","eventName":"Three"}]}"#;
        let got = collect(file);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], (Some(0), Ok("One".into())));
        assert!(matches!(&got[1], (Some(1), Err(EventError::Json { .. }))));
        assert_eq!(got[2], (Some(2), Ok("Three".into())));
    }

    #[test]
    fn errors_say_why() {
        let got = collect(br#"{"detail-type":"Scheduled Event","detail":{}}"#);
        assert_eq!(
            got,
            vec![(
                None,
                Err(EventError::UnsupportedDetailType("Scheduled Event".into()))
            )]
        );
        let got = collect(br#"{"foo":1}"#);
        assert_eq!(got, vec![(None, Err(EventError::NotARecord))]);
        let got = collect(b"{\"eventName\": ");
        assert!(matches!(
            &got[0],
            (None, Err(EventError::Json { line: 1, .. }))
        ));
    }

    #[test]
    fn escaped_strings_and_string_booleans() {
        let rec = br#"{"eventSource":"iam.amazonaws.com","eventName":"Create\u0055ser","readOnly":"false"}"#;
        let mut ro = None;
        parse_document(rec, |_, r| {
            ro = r.ok().map(|e| (e.name().to_owned(), e.record.read_only))
        });
        assert_eq!(ro, Some(("CreateUser".to_owned(), Some(false))));
    }
}
