//! Which time a history covers, stated rather than assumed. The input can tell only what it holds:
//! the hours in which some record was written, and the trails it shows stopped (`StopLogging`,
//! `DeleteTrail`) and started again (`StartLogging`). An hour-long silence is normal for a quiet
//! account, a day-long one is not: a silence longer than `max_quiet` seconds is a gap ("no logs for
//! this time: files missing, or no trail was logging"), and so is the time any trail was stopped
//! (the logs read may come from that trail). A claim that something was *unused* in a window needs
//! the window covered with no gap; otherwise it is `INSUFFICIENT_DATA`.

use crate::event::Event;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

const HOUR: i64 = 3600;

/// The default longest silence that is still coverage: 6 hours.
pub const DEFAULT_MAX_QUIET_SECONDS: i64 = 6 * HOUR;

/// A span of time, Unix seconds, `from` inclusive, `to` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Span {
    pub from: i64,
    pub to: i64,
}

/// A gap, with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gap {
    pub from: i64,
    pub to: i64,
    pub why: String,
}

/// What the history shows of its own extent.
#[derive(Debug, Clone, Default)]
pub struct Coverage {
    /// Hours (Unix seconds / 3600) holding at least one record.
    hours: BTreeSet<i64>,
    /// Per trail (as the events name it): when it was stopped (`true`) or started (`false`).
    trail_changes: BTreeMap<String, BTreeSet<(i64, bool)>>,
}

impl Coverage {
    pub(crate) fn record(&mut self, event: &Event<'_>, t: i64) {
        self.hours.insert(t.div_euclid(HOUR));
        if event.source() != "cloudtrail.amazonaws.com"
            || event
                .record
                .error_code
                .as_deref()
                .is_some_and(|c| !c.is_empty())
        {
            return;
        }
        let stopped = match event.name() {
            "StopLogging" | "DeleteTrail" => true,
            "StartLogging" => false,
            _ => return,
        };
        let trail = event
            .record
            .request_parameters
            .and_then(|r| serde_json::from_str::<Value>(r.get()).ok())
            .and_then(|p| p.get("name").and_then(Value::as_str).map(trail_name))
            .unwrap_or_default();
        self.trail_changes
            .entry(trail)
            .or_default()
            .insert((t, stopped));
    }

    pub fn merge(&mut self, o: Coverage) {
        self.hours.extend(o.hours);
        for (trail, changes) in o.trail_changes {
            self.trail_changes.entry(trail).or_default().extend(changes);
        }
    }

    /// The first and last hour with a record, as a span (empty history: `None`).
    pub fn extent(&self) -> Option<Span> {
        let first = self.hours.first()?;
        let last = self.hours.last()?;
        Some(Span {
            from: first * HOUR,
            to: (last + 1) * HOUR,
        })
    }

    /// The spans covered and the gaps between and inside them, for silences longer than
    /// `max_quiet` seconds and stopped trails.
    pub fn describe(&self, max_quiet: i64) -> (Vec<Span>, Vec<Gap>) {
        let mut covered: Vec<Span> = Vec::new();
        let mut gaps = Vec::new();
        for h in &self.hours {
            let (from, to) = (h * HOUR, (h + 1) * HOUR);
            match covered.last_mut() {
                Some(last) if from - last.to <= max_quiet => last.to = to,
                Some(last) => {
                    gaps.push(Gap {
                        from: last.to,
                        to: from,
                        why: format!(
                            "no record for {} hours: log files missing, or no trail logging",
                            (from - last.to) / HOUR
                        ),
                    });
                    covered.push(Span { from, to });
                }
                None => covered.push(Span { from, to }),
            }
        }
        let end = covered.last().map(|s| s.to);
        for (trail, changes) in &self.trail_changes {
            let mut stopped_at: Option<i64> = None;
            for &(t, stopped) in changes {
                match (stopped, stopped_at) {
                    (true, None) => stopped_at = Some(t),
                    (false, Some(s)) => {
                        gaps.push(stopped_gap(trail, s, t));
                        stopped_at = None;
                    }
                    _ => {}
                }
            }
            if let (Some(s), Some(end)) = (stopped_at, end) {
                gaps.push(stopped_gap(trail, s, end.max(s)));
            }
        }
        gaps.sort_by_key(|g| (g.from, g.to));
        (covered, gaps)
    }

    /// Whether `[from, to)` is covered with no gap; if not, why.
    pub fn covers(&self, from: i64, to: i64, max_quiet: i64) -> Result<(), String> {
        let (covered, gaps) = self.describe(max_quiet);
        if let Some(g) = gaps.iter().find(|g| g.from < to && g.to > from) {
            return Err(format!(
                "the window {} to {} has a gap from {} to {}: {}",
                iso(from),
                iso(to),
                iso(g.from),
                iso(g.to),
                g.why
            ));
        }
        // A silence at either edge up to `max_quiet` is coverage, as it is inside.
        if covered
            .iter()
            .any(|s| s.from <= from + max_quiet && s.to + max_quiet >= to)
        {
            return Ok(());
        }
        let extent = self
            .extent()
            .map(|e| format!("the history covers {} to {}", iso(e.from), iso(e.to)))
            .unwrap_or_else(|| "the history holds no dated record".to_owned());
        Err(format!(
            "the window {} to {} is not covered: {extent}",
            iso(from),
            iso(to)
        ))
    }
}

fn stopped_gap(trail: &str, from: i64, to: i64) -> Gap {
    Gap {
        from,
        to,
        why: format!("trail `{trail}` was not logging"),
    }
}

/// A trail's name from a name or ARN (`arn:aws:cloudtrail:REGION:ACCOUNT:trail/NAME`).
fn trail_name(s: &str) -> String {
    s.rsplit_once(":trail/")
        .map(|(_, n)| n)
        .unwrap_or(s)
        .to_owned()
}

/// Unix seconds as ISO 8601 UTC.
pub fn iso(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::parse_document;

    fn at(c: &mut Coverage, t: i64, json: &str) {
        parse_document(json.as_bytes(), |_, e| c.record(&e.unwrap(), t));
    }

    const CALL: &str = r#"{"eventSource":"iam.amazonaws.com","eventName":"GetUser"}"#;

    #[test]
    fn silences_longer_than_the_limit_and_stopped_trails_are_gaps() {
        let mut c = Coverage::default();
        for h in 0..10 {
            at(&mut c, h * HOUR + 5, CALL);
        }
        // Two quiet hours are fine; twelve are a gap.
        for h in 12..20 {
            at(&mut c, h * HOUR, CALL);
        }
        for h in 32..40 {
            at(&mut c, h * HOUR, CALL);
        }
        let (covered, gaps) = c.describe(DEFAULT_MAX_QUIET_SECONDS);
        assert_eq!(
            covered,
            vec![
                Span {
                    from: 0,
                    to: 20 * HOUR
                },
                Span {
                    from: 32 * HOUR,
                    to: 40 * HOUR
                }
            ]
        );
        assert_eq!(gaps.len(), 1);
        assert!(c.covers(HOUR, 19 * HOUR, DEFAULT_MAX_QUIET_SECONDS).is_ok());
        let err = c
            .covers(HOUR, 35 * HOUR, DEFAULT_MAX_QUIET_SECONDS)
            .unwrap_err();
        assert!(err.contains("no record for 12 hours"), "{err}");
        assert!(c.covers(0, 50 * HOUR, DEFAULT_MAX_QUIET_SECONDS).is_err());

        at(
            &mut c,
            3 * HOUR,
            r#"{"eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging","requestParameters":{"name":"arn:aws:cloudtrail:us-east-1:111122223333:trail/main"}}"#,
        );
        at(
            &mut c,
            5 * HOUR,
            r#"{"eventSource":"cloudtrail.amazonaws.com","eventName":"StartLogging","requestParameters":{"name":"main"}}"#,
        );
        let err = c
            .covers(HOUR, 19 * HOUR, DEFAULT_MAX_QUIET_SECONDS)
            .unwrap_err();
        assert!(err.contains("trail `main` was not logging"), "{err}");
        assert!(c
            .covers(6 * HOUR, 19 * HOUR, DEFAULT_MAX_QUIET_SECONDS)
            .is_ok());
    }
}
