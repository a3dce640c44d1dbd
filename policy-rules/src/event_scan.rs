//! The fast path of `event::parse_document`: a hand-written JSON scanner that reads a CloudTrail
//! record, EventBridge envelope or log file straight into `CloudTrailEvent`, picking out the fields
//! Warden reads (strings borrowed where they hold no escape, raw slices for the JSON it keeps whole)
//! and skipping every other value while still checking it. It accepts only part of what serde_json
//! accepts: anything unusual (an escaped key, a duplicate field, a lone surrogate in a field Warden
//! reads, a struct written as an array, deep nesting, any error at all) makes it give up with
//! [`Fallback`], and the caller re-reads the document with serde_json, which then decides and words
//! the error. Where it accepts, it yields exactly the fields serde_json would.
//!
//! INVARIANT (scan-subset): whenever a scan succeeds, serde_json accepts the same text and yields an
//! equal `CloudTrailEvent` (same strings after unescaping, the same raw slices). Held by the
//! differential tests in `tests/event_scan_differential.rs` and the `event_scan_differential` fuzz
//! target.
//!
//! This file owns the JSON grammar of that fast path (RFC 8259 as serde_json reads it); the shapes
//! themselves, and what a document means, are `event`'s.

use crate::event::{CloudTrailEvent, RawJson, SessionContext, SessionIssuer, UserIdentity};
use std::borrow::Cow;

/// The scanner cannot vouch for this input: re-read it with serde_json, which decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fallback;

type Scan<T> = Result<T, Fallback>;

/// How deep records may nest (`detail`, `Records`) before the scanner gives up. serde_json refuses
/// typed shapes nested deeper than 128 (each record, array and identity struct counts one), so this
/// stays far below that.
const MAX_RECORD_DEPTH: u32 = 16;

/// How deep a skipped value may nest before the scanner gives up (serde_json skips values at any
/// depth; past this the fallback reads them). One bit of the nesting stack per level.
const MAX_SKIP_DEPTH: u32 = 128;

/// Reads a whole document that is one record or envelope (or a log file not opening with
/// `"Records"`) into a `CloudTrailEvent`, as `serde_json::from_str` would.
pub fn scan_record(text: &str) -> Scan<CloudTrailEvent<'_>> {
    let mut s = Scanner::new(text);
    let record = s.record(0)?;
    s.end()?;
    Ok(record)
}

/// Reads a CloudTrail log file (`{"Records":[…], …}`), handing each record to `each` as it is read,
/// as `event`'s streaming serde_json reader would: every `Records` key is streamed, other keys are
/// skipped. On `Err`, the records already handed over were handed over exactly as serde_json would
/// have, in order; the caller goes on from there.
pub fn scan_log_file<'a>(text: &'a str, each: &mut impl FnMut(CloudTrailEvent<'a>)) -> Scan<()> {
    let mut s = Scanner::new(text);
    s.eat(b'{')?;
    if s.next_token()? == b'}' {
        s.pos += 1;
        return s.end();
    }
    loop {
        if s.key()? == b"Records" {
            s.eat(b'[')?;
            if s.next_token()? == b']' {
                s.pos += 1;
            } else {
                loop {
                    each(s.record(1)?);
                    if s.list_continues()? {
                        continue;
                    }
                    break;
                }
            }
        } else {
            s.skip_value()?;
        }
        if !s.object_continues()? {
            return s.end();
        }
    }
}

struct Scanner<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Scanner<'a> {
    fn new(text: &'a str) -> Self {
        Scanner {
            text,
            bytes: text.as_bytes(),
            pos: 0,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// Skips JSON whitespace and returns the next byte without taking it.
    #[inline(always)]
    fn next_token(&mut self) -> Scan<u8> {
        while let Some(&b) = self.bytes.get(self.pos) {
            match b {
                b' ' | b'\n' | b'\r' | b'\t' => self.pos += 1,
                _ => return Ok(b),
            }
        }
        Err(Fallback)
    }

    fn eat(&mut self, want: u8) -> Scan<()> {
        if self.next_token()? == want {
            self.pos += 1;
            Ok(())
        } else {
            Err(Fallback)
        }
    }

    /// Only whitespace may follow the document.
    fn end(&mut self) -> Scan<()> {
        match self.next_token() {
            Err(Fallback) => Ok(()),
            Ok(_) => Err(Fallback),
        }
    }

    fn literal(&mut self, word: &[u8]) -> Scan<()> {
        match self.bytes.get(self.pos..) {
            Some(rest) if rest.starts_with(word) => {
                self.pos += word.len();
                Ok(())
            }
            _ => Err(Fallback),
        }
    }

    /// After a member of an object: `true` after a comma (another member follows), `false` after the
    /// closing brace.
    fn object_continues(&mut self) -> Scan<bool> {
        match self.next_token()? {
            b',' => {
                self.pos += 1;
                Ok(true)
            }
            b'}' => {
                self.pos += 1;
                Ok(false)
            }
            _ => Err(Fallback),
        }
    }

    /// After an element of an array: `true` after a comma, `false` after the closing bracket.
    fn list_continues(&mut self) -> Scan<bool> {
        match self.next_token()? {
            b',' => {
                self.pos += 1;
                Ok(true)
            }
            b']' => {
                self.pos += 1;
                Ok(false)
            }
            _ => Err(Fallback),
        }
    }

    /// An object key and its colon. Keys with escapes are left to serde_json (it unescapes them
    /// before matching field names). Inlined, as is `key_skipped`: one runs for every key of a
    /// document (3% fewer instructions per replay under callgrind).
    #[inline(always)]
    fn key(&mut self) -> Scan<&'a [u8]> {
        self.eat(b'"')?;
        let (start, end, escaped) = self.string_body()?;
        if escaped {
            return Err(Fallback);
        }
        self.eat(b':')?;
        self.bytes.get(start..end).ok_or(Fallback)
    }

    /// Just after an opening quote: moves past the closing quote and returns the contents' byte
    /// range and whether it holds an escape. Escapes are checked as serde_json checks a string it
    /// skips (a known escape, or `\u` and four hex digits; surrogates are not paired here);
    /// control characters are refused.
    #[inline(always)]
    fn string_body(&mut self) -> Scan<(usize, usize, bool)> {
        let start = self.pos;
        let mut escaped = false;
        loop {
            self.skip_plain_string_bytes();
            match self.peek() {
                Some(b'"') => {
                    let end = self.pos;
                    self.pos += 1;
                    return Ok((start, end, escaped));
                }
                Some(b'\\') => {
                    escaped = true;
                    self.pos += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                            self.pos += 1;
                        }
                        Some(b'u') => {
                            hex4(self.bytes.get(self.pos + 1..self.pos + 5))?;
                            self.pos += 5;
                        }
                        _ => return Err(Fallback),
                    }
                }
                // A control character, or the end of the input.
                _ => return Err(Fallback),
            }
        }
    }

    /// Moves to the next `"`, `\` or control character inside a string, sixteen bytes at a time
    /// while they last, then eight (the same word-at-a-time test serde_json uses, on two words per
    /// step: half the branches for the usual 20 to 60 bytes of an ARN, a time or an id).
    #[inline(always)]
    fn skip_plain_string_bytes(&mut self) {
        while let Some(Ok(chunk)) = self
            .bytes
            .get(self.pos..self.pos + 16)
            .map(<[u8; 16]>::try_from)
        {
            let [a0, a1, a2, a3, a4, a5, a6, a7, b0, b1, b2, b3, b4, b5, b6, b7] = chunk;
            let low = stops_in(u64::from_le_bytes([a0, a1, a2, a3, a4, a5, a6, a7]));
            let high = stops_in(u64::from_le_bytes([b0, b1, b2, b3, b4, b5, b6, b7]));
            if low != 0 {
                self.pos += (low.trailing_zeros() / 8) as usize;
                return;
            }
            if high != 0 {
                self.pos += 8 + (high.trailing_zeros() / 8) as usize;
                return;
            }
            self.pos += 16;
        }
        while let Some(Ok(chunk)) = self
            .bytes
            .get(self.pos..self.pos + 8)
            .map(<[u8; 8]>::try_from)
        {
            let hits = stops_in(u64::from_le_bytes(chunk));
            if hits != 0 {
                self.pos += (hits.trailing_zeros() / 8) as usize;
                return;
            }
            self.pos += 8;
        }
        while let Some(&b) = self.bytes.get(self.pos) {
            if b == b'"' || b == b'\\' || b < 0x20 {
                return;
            }
            self.pos += 1;
        }
    }

    /// A string Warden reads: borrowed when it holds no escape, unescaped (strictly, as serde_json
    /// reads a `str`) otherwise. The next byte is the opening quote.
    fn string_value(&mut self) -> Scan<Cow<'a, str>> {
        self.pos += 1;
        let (start, end, escaped) = self.string_body()?;
        let raw = self.text.get(start..end).ok_or(Fallback)?;
        if escaped {
            unescape(raw).map(Cow::Owned)
        } else {
            Ok(Cow::Borrowed(raw))
        }
    }

    /// `Option<Cow<str>>`: a string or `null`.
    fn opt_string(&mut self) -> Scan<Option<Cow<'a, str>>> {
        match self.next_token()? {
            b'"' => self.string_value().map(Some),
            b'n' => self.literal(b"null").map(|()| None),
            _ => Err(Fallback),
        }
    }

    /// `readOnly`: a boolean, `"true"`/`"false"` (any other string reads as unknown), or `null`.
    fn opt_bool_or_string(&mut self) -> Scan<Option<bool>> {
        match self.next_token()? {
            b't' => self.literal(b"true").map(|()| Some(true)),
            b'f' => self.literal(b"false").map(|()| Some(false)),
            b'n' => self.literal(b"null").map(|()| None),
            b'"' => Ok(match self.string_value()?.as_ref() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            }),
            _ => Err(Fallback),
        }
    }

    /// A value kept whole, or `null` (which serde_json reads as `None`, not as a raw `null`).
    fn opt_raw(&mut self) -> Scan<Option<RawJson<'a>>> {
        if self.next_token()? == b'n' {
            return self.literal(b"null").map(|()| None);
        }
        let start = self.pos;
        self.skip_value()?;
        let raw = self.text.get(start..self.pos).ok_or(Fallback)?;
        Ok(Some(RawJson::scanned(raw)))
    }

    /// Opens a struct (`{`) or reads `null`; `Ok(false)` for `null`. A struct written as an array,
    /// which serde_json also accepts, is left to it.
    fn open_opt_struct(&mut self) -> Scan<bool> {
        match self.next_token()? {
            b'{' => {
                self.pos += 1;
                Ok(true)
            }
            b'n' => self.literal(b"null").map(|()| false),
            _ => Err(Fallback),
        }
    }

    /// Reads the members of a struct whose `{` was taken, handing each key to `field`, which reads
    /// the value and returns the field's bit (0 for a key it skipped). A second occurrence of a field
    /// is an error in serde_json, so it gives up.
    fn members(&mut self, mut field: impl FnMut(&mut Self, &'a [u8]) -> Scan<u32>) -> Scan<()> {
        if self.next_token()? == b'}' {
            self.pos += 1;
            return Ok(());
        }
        let mut seen = 0u32;
        loop {
            let key = self.key()?;
            let bit = field(self, key)?;
            if seen & bit != 0 {
                return Err(Fallback);
            }
            seen |= bit;
            if !self.object_continues()? {
                return Ok(());
            }
        }
    }

    /// One record (or envelope, or log file read whole) at nesting `depth`.
    fn record(&mut self, depth: u32) -> Scan<CloudTrailEvent<'a>> {
        if depth > MAX_RECORD_DEPTH {
            return Err(Fallback);
        }
        self.eat(b'{')?;
        let mut e = CloudTrailEvent::default();
        self.members(|s, key| {
            Ok(match key {
                b"eventID" => {
                    e.event_id = s.opt_string()?;
                    1
                }
                b"eventTime" => {
                    e.event_time = s.opt_string()?;
                    1 << 1
                }
                b"eventSource" => {
                    e.event_source = s.opt_string()?;
                    1 << 2
                }
                b"eventName" => {
                    e.event_name = s.opt_string()?;
                    1 << 3
                }
                b"eventType" => {
                    e.event_type = s.opt_string()?;
                    1 << 4
                }
                b"awsRegion" => {
                    e.aws_region = s.opt_string()?;
                    1 << 5
                }
                b"errorCode" => {
                    // As `event::non_empty`: an empty `errorCode` is no error.
                    e.error_code = s.opt_string()?.filter(|c| !c.is_empty());
                    1 << 6
                }
                b"recipientAccountId" => {
                    e.recipient_account_id = s.opt_string()?;
                    1 << 7
                }
                b"readOnly" => {
                    e.read_only = s.opt_bool_or_string()?;
                    1 << 8
                }
                b"userIdentity" => {
                    e.user_identity = s.user_identity()?;
                    1 << 9
                }
                b"requestParameters" => {
                    e.request_parameters = s.opt_raw()?;
                    1 << 10
                }
                b"responseElements" => {
                    e.response_elements = s.opt_raw()?;
                    1 << 11
                }
                b"resources" => {
                    e.resources = s.opt_raw()?;
                    1 << 12
                }
                b"account" => {
                    e.account = s.opt_string()?;
                    1 << 13
                }
                b"detail-type" => {
                    e.detail_type = s.opt_string()?;
                    1 << 14
                }
                b"detail" => {
                    e.detail = match s.next_token()? {
                        b'{' => Some(Box::new(s.record(depth + 1)?)),
                        b'n' => s.literal(b"null").map(|()| None)?,
                        _ => return Err(Fallback),
                    };
                    1 << 15
                }
                b"Records" => {
                    e.records = s.records(depth + 1)?;
                    1 << 16
                }
                b"errorMessage" => {
                    e.error_message = s.opt_string()?;
                    1 << 17
                }
                _ => {
                    s.skip_value()?;
                    0
                }
            })
        })?;
        Ok(e)
    }

    /// `Records` inside a record read whole: an array of records, or `null`.
    fn records(&mut self, depth: u32) -> Scan<Option<Vec<CloudTrailEvent<'a>>>> {
        match self.next_token()? {
            b'n' => return self.literal(b"null").map(|()| None),
            b'[' => self.pos += 1,
            _ => return Err(Fallback),
        }
        let mut out = Vec::new();
        if self.next_token()? == b']' {
            self.pos += 1;
            return Ok(Some(out));
        }
        loop {
            out.push(self.record(depth)?);
            if !self.list_continues()? {
                return Ok(Some(out));
            }
        }
    }

    fn user_identity(&mut self) -> Scan<Option<UserIdentity<'a>>> {
        if !self.open_opt_struct()? {
            return Ok(None);
        }
        let mut u = UserIdentity::default();
        self.members(|s, key| {
            Ok(match key {
                b"type" => {
                    u.kind = s.opt_string()?;
                    1
                }
                b"arn" => {
                    u.arn = s.opt_string()?;
                    1 << 1
                }
                b"accountId" => {
                    u.account_id = s.opt_string()?;
                    1 << 2
                }
                b"userName" => {
                    u.user_name = s.opt_string()?;
                    1 << 3
                }
                b"invokedBy" => {
                    u.invoked_by = s.opt_string()?;
                    1 << 4
                }
                b"sessionContext" => {
                    u.session_context = s.session_context()?;
                    1 << 5
                }
                _ => {
                    s.skip_value()?;
                    0
                }
            })
        })?;
        Ok(Some(u))
    }

    fn session_context(&mut self) -> Scan<Option<SessionContext<'a>>> {
        if !self.open_opt_struct()? {
            return Ok(None);
        }
        let mut c = SessionContext::default();
        self.members(|s, key| {
            Ok(match key {
                b"sessionIssuer" => {
                    c.session_issuer = s.session_issuer()?;
                    1
                }
                _ => {
                    s.skip_value()?;
                    0
                }
            })
        })?;
        Ok(Some(c))
    }

    fn session_issuer(&mut self) -> Scan<Option<SessionIssuer<'a>>> {
        if !self.open_opt_struct()? {
            return Ok(None);
        }
        let mut i = SessionIssuer::default();
        self.members(|s, key| {
            Ok(match key {
                b"type" => {
                    i.kind = s.opt_string()?;
                    1
                }
                b"arn" => {
                    i.arn = s.opt_string()?;
                    1 << 1
                }
                b"accountId" => {
                    i.account_id = s.opt_string()?;
                    1 << 2
                }
                b"userName" => {
                    i.user_name = s.opt_string()?;
                    1 << 3
                }
                _ => {
                    s.skip_value()?;
                    0
                }
            })
        })?;
        Ok(Some(i))
    }

    /// Skips one value, checking it as serde_json checks a value it ignores. Iterative: the kind of
    /// each open container is one bit of `objects` (1 for an object, 0 for an array).
    fn skip_value(&mut self) -> Scan<()> {
        let mut objects: u128 = 0;
        let mut depth: u32 = 0;
        loop {
            // A value.
            match self.next_token()? {
                b'"' => {
                    self.pos += 1;
                    self.string_body()?;
                }
                open @ (b'{' | b'[') => {
                    self.pos += 1;
                    if depth >= MAX_SKIP_DEPTH {
                        return Err(Fallback);
                    }
                    let is_object = open == b'{';
                    let close = if is_object { b'}' } else { b']' };
                    if self.next_token()? == close {
                        self.pos += 1;
                    } else {
                        objects = objects << 1 | u128::from(is_object);
                        depth += 1;
                        if is_object {
                            self.key_skipped()?;
                        }
                        continue;
                    }
                }
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                b'-' | b'0'..=b'9' => self.number()?,
                _ => return Err(Fallback),
            }
            // After a value: close what ends here, or move on to the next member or element.
            loop {
                if depth == 0 {
                    return Ok(());
                }
                let in_object = objects & 1 == 1;
                match self.next_token()? {
                    b',' => {
                        self.pos += 1;
                        if in_object {
                            self.key_skipped()?;
                        }
                        break;
                    }
                    b'}' if in_object => {}
                    b']' if !in_object => {}
                    _ => return Err(Fallback),
                }
                self.pos += 1;
                objects >>= 1;
                depth -= 1;
            }
        }
    }

    /// A key inside a skipped object, checked as serde_json checks one it ignores, and its colon.
    #[inline(always)]
    fn key_skipped(&mut self) -> Scan<()> {
        self.eat(b'"')?;
        self.string_body()?;
        self.eat(b':')
    }

    /// A number, checked as serde_json checks one it ignores: `-`?, no leading zero, at least one
    /// digit after `.` and in an exponent.
    fn number(&mut self) -> Scan<()> {
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                if matches!(self.peek(), Some(b'0'..=b'9')) {
                    return Err(Fallback);
                }
            }
            Some(b'1'..=b'9') => {
                self.pos += 1;
                self.digits();
            }
            _ => return Err(Fallback),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(Fallback);
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(Fallback);
            }
        }
        Ok(())
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        self.pos - start
    }
}

/// The high bit of each byte of `v` (eight string bytes, the first lowest) that may be a `"`, a `\`
/// or a control character: none when there is none, and the lowest flagged byte is always a true
/// one (borrows only run upwards), which is all a caller reads.
#[inline(always)]
fn stops_in(v: u64) -> u64 {
    const ONES: u64 = u64::MAX / 255;
    const HIGH: u64 = ONES << 7;
    let control = v.wrapping_sub(ONES * 0x20) & !v;
    let q = v ^ (ONES * u64::from(b'"'));
    let quote = q.wrapping_sub(ONES) & !q;
    let b = v ^ (ONES * u64::from(b'\\'));
    let backslash = b.wrapping_sub(ONES) & !b;
    (control | quote | backslash) & HIGH
}

/// Four hex digits of a `\u` escape.
fn hex4(digits: Option<&[u8]>) -> Scan<u32> {
    let digits = digits.ok_or(Fallback)?;
    let mut n = 0u32;
    for &d in digits {
        n = n << 4 | char::from(d).to_digit(16).ok_or(Fallback)?;
    }
    Ok(n)
}

/// The text of a string with escapes, as serde_json reads it into a `str`: surrogates must come
/// in pairs (a lone one is an error there, so the scanner gives up).
fn unescape(raw: &str) -> Scan<String> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find('\\') {
        out.push_str(rest.get(..i).ok_or(Fallback)?);
        let esc = rest.get(i + 1..).ok_or(Fallback)?.as_bytes();
        let (c, used) = match esc.first() {
            Some(b'"') => ('"', 1),
            Some(b'\\') => ('\\', 1),
            Some(b'/') => ('/', 1),
            Some(b'b') => ('\u{8}', 1),
            Some(b'f') => ('\u{c}', 1),
            Some(b'n') => ('\n', 1),
            Some(b'r') => ('\r', 1),
            Some(b't') => ('\t', 1),
            Some(b'u') => match hex4(esc.get(1..5))? {
                high @ 0xD800..=0xDBFF => {
                    if esc.get(5..7) != Some(b"\\u") {
                        return Err(Fallback);
                    }
                    let low = hex4(esc.get(7..11))?;
                    if !(0xDC00..=0xDFFF).contains(&low) {
                        return Err(Fallback);
                    }
                    let c = 0x1_0000 + ((high - 0xD800) << 10 | (low - 0xDC00));
                    (char::from_u32(c).ok_or(Fallback)?, 11)
                }
                n => (char::from_u32(n).ok_or(Fallback)?, 5),
            },
            _ => return Err(Fallback),
        };
        out.push(c);
        rest = rest.get(i + 1 + used..).ok_or(Fallback)?;
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_fields_and_skips_the_rest() {
        let text = r#" { "eventSource" : "iam.amazonaws.com", "x": [1, -2.5e+3, {"a": [true, false, null, "\u00e9\n"]}, []], "eventName":"Create\u0055ser", "readOnly":"false", "requestParameters": {"userName":"bob"}, "responseElements": null, "userIdentity": {"type":"IAMUser","sessionContext":{"sessionIssuer":{"arn":"a"}}} } "#;
        let e = scan_record(text).unwrap();
        assert_eq!(e.event_source.as_deref(), Some("iam.amazonaws.com"));
        assert!(matches!(e.event_source, Some(Cow::Borrowed(_))));
        assert_eq!(e.event_name.as_deref(), Some("CreateUser"));
        assert_eq!(e.read_only, Some(false));
        assert_eq!(
            e.request_parameters.map(|r| r.get()),
            Some(r#"{"userName":"bob"}"#)
        );
        assert!(e.response_elements.is_none());
        let u = e.user_identity.unwrap();
        assert_eq!(u.kind.as_deref(), Some("IAMUser"));
        assert_eq!(
            u.session_context
                .and_then(|c| c.session_issuer)
                .and_then(|i| i.arn)
                .as_deref(),
            Some("a")
        );
    }

    #[test]
    fn gives_up_on_what_serde_decides() {
        for text in [
            r#"{"eventName":"a","eventName":"b"}"#,
            r#"{"event\u004eame":"a"}"#,
            r#"{"eventName":"\ud800"}"#,
            r#"{"eventName":"\udc00x"}"#,
            "{\"eventName\":\"a\u{1}\"}",
            r#"{"userIdentity":["IAMUser"]}"#,
            r#"{"x":01}"#,
            r#"{"x":1.}"#,
            r#"{"x":-}"#,
            r#"{"x":[1,]}"#,
            r#"{"x":{"a":1,}}"#,
            r#"{"x":"\q"}"#,
            r#"{"x":"\u12"}"#,
            r#"{"x":1} x"#,
            r#"{"eventName":7}"#,
            r#"{"eventName":"a""#,
            r#"{"readOnly":1}"#,
        ] {
            assert_eq!(scan_record(text).err(), Some(Fallback), "{text}");
        }
        // serde_json skips lone surrogates in values it ignores, and so does the scanner.
        assert!(scan_record(r#"{"x":"\ud800","y":{"\udc00":1}}"#).is_ok());
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert_eq!(
            scan_record(&format!(r#"{{"x":{deep}}}"#)).err(),
            Some(Fallback)
        );
    }

    #[test]
    fn unescapes_surrogate_pairs() {
        let e = scan_record(r#"{"eventName":"\ud83d\ude00 \u00e9\t\"\\\/"}"#).unwrap();
        assert_eq!(e.event_name.as_deref(), Some("\u{1F600} é\t\"\\/"));
    }

    #[test]
    fn streams_log_file_records() {
        let mut names = Vec::new();
        let text = r#"{"Records":[{"eventName":"a"},{"eventName":"b"}],"x":{},"Records":[]}"#;
        scan_log_file(text, &mut |r| names.push(r.event_name)).unwrap();
        assert_eq!(names, vec![Some("a".into()), Some("b".into())]);
        let mut n = 0;
        let bad = r#"{"Records":[{"eventName":"a"},{"eventName":7}]}"#;
        assert_eq!(scan_log_file(bad, &mut |_| n += 1), Err(Fallback));
        assert_eq!(n, 1);
    }
}
