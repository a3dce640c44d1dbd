//! The replay engine behind `warden replay`: every event of every input file through the same
//! analysis and decision the Lambda will run, files spread over `jobs` threads, each event's result
//! handed to a sink (the report), and a summary merged at the end. A malformed record or file is
//! counted and reported with where it is; the replay goes on. When the sink's output is gone (its
//! reader closed the pipe), every thread stops after the document it is on.

use crate::cli::account_scope::ScopedMemberships;
use crate::cli::input::{DocLocation, DocumentReader};
use policy_rules::catalog::Catalog;
use policy_rules::decision::{decide, triage, CallerFacts, Decision, Verdict, GROUPS_UNKNOWN};
use policy_rules::event::{parse_document, Event};
use policy_rules::mapping::{analyse, Analysis};
use policy_rules::rules::RuleSet;
use std::collections::{BTreeMap, HashMap};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Everything a replay needs besides its input.
pub struct ReplayContext<'a> {
    pub catalog: &'a Catalog,
    pub rules: &'a RuleSet,
    /// The `--groups` file, its entries by account (see `account_scope`).
    pub memberships: &'a ScopedMemberships,
}

/// One input problem, located.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct InputProblem {
    pub file_index: usize,
    pub location: String,
    pub message: String,
}

impl std::fmt::Display for InputProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// How many problems the summary keeps word for word (all are counted).
pub const KEPT_PROBLEMS: usize = 50;

/// Counts of a replay.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub files: u64,
    pub bytes: u64,
    pub events: u64,
    pub verdicts: BTreeMap<Verdict, u64>,
    /// Per rule id: per verdict.
    pub rules: BTreeMap<String, BTreeMap<Verdict, u64>>,
    /// Violations (deny, alert, exempt) per principal.
    pub principals: HashMap<String, u64>,
    /// Events whose verdict is `alert` only because the caller's groups were unknown.
    pub groups_unknown: u64,
    /// Events of an account the `--groups` file has no entries for, while it has some of others
    /// (those were not applied), by the event's account.
    pub groups_other_account: BTreeMap<String, u64>,
    pub problems: u64,
    pub kept_problems: Vec<InputProblem>,
}

impl Summary {
    pub fn merge(&mut self, other: Summary) {
        self.files += other.files;
        self.bytes += other.bytes;
        self.events += other.events;
        for (v, n) in other.verdicts {
            *self.verdicts.entry(v).or_default() += n;
        }
        for (r, m) in other.rules {
            let e = self.rules.entry(r).or_default();
            for (v, n) in m {
                *e.entry(v).or_default() += n;
            }
        }
        for (p, n) in other.principals {
            *self.principals.entry(p).or_default() += n;
        }
        self.groups_unknown += other.groups_unknown;
        for (a, n) in other.groups_other_account {
            *self.groups_other_account.entry(a).or_default() += n;
        }
        self.problems += other.problems;
        self.kept_problems.extend(other.kept_problems);
        self.kept_problems.sort();
        self.kept_problems.truncate(KEPT_PROBLEMS);
    }

    fn problem(&mut self, p: InputProblem) {
        self.problems += 1;
        *self.verdicts.entry(Verdict::Error).or_default() += 1;
        if self.kept_problems.len() < KEPT_PROBLEMS {
            self.kept_problems.push(p);
        }
    }

    /// The principals with the most violations, most first (ties by name).
    pub fn top_principals(&self, n: usize) -> Vec<(&str, u64)> {
        let mut v: Vec<(&str, u64)> = self
            .principals
            .iter()
            .map(|(k, c)| (k.as_str(), *c))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        v.truncate(n);
        v
    }
}

/// What the sink receives for each item.
pub enum Item<'e, 'a> {
    Event {
        event: &'e Event<'a>,
        analysis: &'e Analysis,
        decision: &'e Decision,
    },
    Problem(&'e InputProblem),
}

/// A per-thread consumer of replay items (the report writer). `flush` is called at the end of each file.
pub trait Sink: Send {
    /// Whether the sink needs the full analysis of every event; when not, events no rule can apply
    /// to are only counted (`policy_rules::decision::triage`).
    fn wants_every_event(&self) -> bool {
        true
    }
    fn item(&mut self, item: Item<'_, '_>);
    fn flush(&mut self) {}
    /// Whether the output is gone (its reader went away), so the replay should stop.
    fn stopped(&self) -> bool {
        false
    }
}

/// Where a record is, for messages: `FILE[:LINE][: record N]`.
pub fn location(loc: DocLocation<'_>, record: Option<usize>) -> String {
    let mut s = loc.path.display().to_string();
    if let Some(l) = loc.line {
        s.push_str(&format!(":{l}"));
    }
    if let Some(r) = record {
        s.push_str(&format!(": record {r}"));
    }
    s
}

/// What one replay thread keeps between files: its read buffer and its triage answers.
#[derive(Default)]
pub struct ReplayWorker {
    reader: DocumentReader,
    triaged: TriageMemo,
}

/// `triage`'s verdicts by event source and name. Triage depends on nothing else of an event (its
/// insight flag aside, which is checked first) for a fixed catalog and rule set, so a replay asks it
/// once per kind of event rather than once per event.
// INVARIANT (triage-memo): `TriageMemo::verdict` answers what `triage(..).map(|d| d.verdict)` does.
#[derive(Default)]
struct TriageMemo {
    by_source: MemoMap<MemoMap<Option<Verdict>>>,
    entries: usize,
}

/// The memo's keys are short, so it hashes with foldhash, several times cheaper than SipHash. That
/// hash does not resist chosen collisions; the memo's size limit bounds what hostile input could cost.
type MemoMap<V> = HashMap<String, V, foldhash::fast::RandomState>;

/// Kinds of event remembered at most, so hostile input cannot grow the memo without bound.
const TRIAGE_MEMO_LIMIT: usize = 4096;

impl TriageMemo {
    fn verdict(&mut self, event: &Event<'_>, ctx: &ReplayContext<'_>) -> Option<Verdict> {
        if event.is_insight() {
            return triage(event, ctx.catalog, ctx.rules).map(|d| d.verdict);
        }
        let (source, name) = (event.source(), event.name());
        if let Some(known) = self.by_source.get(source).and_then(|m| m.get(name)) {
            return *known;
        }
        let verdict = triage(event, ctx.catalog, ctx.rules).map(|d| d.verdict);
        if self.entries < TRIAGE_MEMO_LIMIT {
            self.entries += 1;
            self.by_source
                .entry(source.to_owned())
                .or_default()
                .insert(name.to_owned(), verdict);
        }
        verdict
    }
}

/// Replays one file into `summary` and `sink`.
pub fn replay_file(
    file_index: usize,
    path: &Path,
    ctx: &ReplayContext<'_>,
    worker: &mut ReplayWorker,
    summary: &mut Summary,
    sink: &mut dyn Sink,
) {
    summary.files += 1;
    let full = sink.wants_every_event();
    let triaged = &mut worker.triaged;
    let result = worker.reader.for_each_document(path, |loc, bytes| {
        parse_document(bytes, |record, parsed| match parsed {
            Ok(event) => {
                summary.events += 1;
                if !full {
                    if let Some(verdict) = triaged.verdict(&event, ctx) {
                        *summary.verdicts.entry(verdict).or_default() += 1;
                        return;
                    }
                }
                let analysis = analyse(&event, ctx.catalog);
                let account = event.account();
                if ctx.memberships.only_other_accounts(account) {
                    if let Some(a) = account {
                        match summary.groups_other_account.get_mut(a) {
                            Some(n) => *n += 1,
                            None => {
                                summary.groups_other_account.insert(a.to_owned(), 1);
                            }
                        }
                    }
                }
                let facts = CallerFacts {
                    groups: ctx.memberships.groups_of(account, &analysis.caller),
                };
                let decision = decide(&event, &analysis, ctx.rules, facts);
                tally(summary, &analysis, &decision);
                sink.item(Item::Event {
                    event: &event,
                    analysis: &analysis,
                    decision: &decision,
                });
            }
            Err(e) => {
                let p = InputProblem {
                    file_index,
                    location: location(loc, record),
                    message: e.to_string(),
                };
                sink.item(Item::Problem(&p));
                summary.problem(p);
            }
        });
        if sink.stopped() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    match result {
        Ok(bytes) => summary.bytes += bytes,
        Err(e) => {
            let p = InputProblem {
                file_index,
                location: path.display().to_string(),
                message: format!("cannot read: {e}"),
            };
            sink.item(Item::Problem(&p));
            summary.problem(p);
        }
    }
    sink.flush();
}

fn tally(summary: &mut Summary, analysis: &Analysis, decision: &Decision) {
    *summary.verdicts.entry(decision.verdict).or_default() += 1;
    if let Some(rule) = &decision.rule {
        match summary.rules.get_mut(rule) {
            Some(m) => *m.entry(decision.verdict).or_default() += 1,
            None => {
                summary
                    .rules
                    .insert(rule.clone(), BTreeMap::from([(decision.verdict, 1)]));
            }
        }
    }
    if matches!(
        decision.verdict,
        Verdict::Deny | Verdict::Alert | Verdict::Exempt
    ) {
        let c = &analysis.caller;
        let who = c
            .principal_arn
            .as_deref()
            .or(c.arn.as_deref())
            .unwrap_or(c.identity_type.as_str());
        match summary.principals.get_mut(who) {
            Some(n) => *n += 1,
            None => {
                summary.principals.insert(who.to_owned(), 1);
            }
        }
        if decision.verdict == Verdict::Alert
            && decision.reasons.iter().any(|r| r.ends_with(GROUPS_UNKNOWN))
        {
            summary.groups_unknown += 1;
        }
    }
}

/// Replays `files` on `jobs` threads. `make_sink` builds one sink per thread; `on_file_done` is
/// called with each file's size as it finishes (progress).
pub fn replay(
    files: &[(PathBuf, u64)],
    jobs: usize,
    ctx: &ReplayContext<'_>,
    make_sink: &(dyn Fn() -> Box<dyn Sink> + Sync),
    on_file_done: &(dyn Fn(u64) + Sync),
) -> Summary {
    let next = AtomicUsize::new(0);
    let work = || {
        let mut summary = Summary::default();
        let mut sink = make_sink();
        let mut worker = ReplayWorker::default();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some((path, size)) = files.get(i) else {
                break;
            };
            if sink.stopped() {
                break;
            }
            replay_file(i, path, ctx, &mut worker, &mut summary, sink.as_mut());
            on_file_done(*size);
        }
        summary
    };
    let jobs = jobs.clamp(1, files.len().max(1));
    if jobs == 1 {
        return work();
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..jobs).map(|_| s.spawn(work)).collect();
        let mut total = Summary::default();
        for h in handles {
            // A worker panic is a bug; surface it rather than lose its counts silently.
            match h.join() {
                Ok(part) => total.merge(part),
                Err(e) => std::panic::resume_unwind(e),
            }
        }
        total
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // INVARIANT (triage-memo): the memo answers what triage does, asked cold and warm.
    #[test]
    fn triage_memo_answers_what_triage_does() {
        let catalog = Catalog::builtin().unwrap();
        let rules = RuleSet::default_pack().unwrap();
        let memberships = ScopedMemberships::default();
        let ctx = ReplayContext {
            catalog: &catalog,
            rules: &rules,
            memberships: &memberships,
        };
        let fixtures = [
            include_str!("../../../fixtures/cloudtrail/stratus_red_team_detonation_logs.jsonl"),
            include_str!("../../../fixtures/cloudtrail/awsdocs_example_events.jsonl"),
            include_str!("../../../fixtures/cloudtrail/custodian_eventbridge_envelopes.jsonl"),
            include_str!(
                "../../../fixtures/cloudtrail/eventbridge_fixtures_consoleme_iambic.jsonl"
            ),
            r#"{"eventType":"AwsCloudTrailInsight","eventSource":"iam.amazonaws.com","eventName":"CreateUser"}"#,
            r#"{"eventSource":"iam.amazonaws.com","eventName":"CreateUser"}"#,
        ];
        let mut memo = TriageMemo::default();
        let (mut answered, mut deferred) = (0, 0);
        for _ in 0..2 {
            for line in fixtures.iter().flat_map(|f| f.lines()) {
                parse_document(line.as_bytes(), |_, e| {
                    let Ok(e) = e else { return };
                    let want = triage(&e, &catalog, &rules).map(|d| d.verdict);
                    assert_eq!(memo.verdict(&e, &ctx), want, "{}:{}", e.source(), e.name());
                    match want {
                        Some(_) => answered += 1,
                        None => deferred += 1,
                    }
                });
            }
        }
        assert!(answered > 500 && deferred > 40, "{answered} {deferred}");
    }
}
