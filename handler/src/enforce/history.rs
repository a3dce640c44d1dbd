//! The CloudTrail event history as a port: what `LookupEvents` returns, in Warden's own type, for
//! one event source over one time window in one region, and which region's history holds which
//! source ([`Regions`], [`lookups`]). The catch-up (`catch_up.rs`) reads it to fill a gap the
//! live path missed; the SDK adapter is `stores/event_history.rs` (CloudTrail `LookupEvents`,
//! one client and one pace per region, paginated by `NextToken`). The local AWS does not implement
//! `LookupEvents`, so the catch-up's tests give an in-memory history here and real queues, ledger
//! and state table everywhere else.
//!
//! What the history holds ("Viewing events with CloudTrail Event history", AWS CloudTrail User
//! Guide): management events only, the last 90 days, in the region asked. Data events (S3
//! object-level calls, read-only or not) are never in it.

use crate::aws::AwsError;
use async_trait::async_trait;

/// How far back the event history reaches: 90 days.
pub const HISTORY_DAYS: i64 = 90;

/// One event of the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEvent {
    /// The CloudTrail `eventID`.
    pub event_id: String,
    /// `eventTime`, ISO-8601 UTC (`2026-12-02T01:02:03Z`).
    pub time: String,
    /// `eventSource` (`iam.amazonaws.com`).
    pub source: String,
    /// `eventName` (`PutRolePolicy`).
    pub name: String,
    /// The CloudTrail record itself, as `LookupEvents` returns it in `CloudTrailEvent` (a JSON
    /// string): what EventBridge would have put under `detail`.
    pub raw: String,
}

/// What one lookup returned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lookup {
    /// Every event of the window, in the order the history gave them (newest first, for
    /// CloudTrail).
    pub events: Vec<HistoryEvent>,
    /// The requests it took (pages, retries included).
    pub requests: u32,
}

/// The event history of the account, one history per region.
#[async_trait]
pub trait EventHistory: Send + Sync {
    /// Every event of `source` in `region`'s history whose time is in `[start, end]` (epoch
    /// seconds, both inclusive as `LookupEvents`'s `StartTime` and `EndTime`), all pages.
    async fn lookup(
        &self,
        region: &str,
        source: &str,
        start: i64,
        end: i64,
    ) -> Result<Lookup, AwsError>;
    /// How the lookups are paced, for the report (`2 requests/s`).
    fn pacing(&self) -> String;
}

/// The event sources whose events are all in the main region's history, whatever region the
/// caller was in: IAM is a global service, and CloudTrail logs its events in us-east-1, where the
/// main stack runs ("Logging IAM and AWS STS API calls with AWS CloudTrail", IAM User Guide).
/// STS is not among them: a call to a regional STS endpoint, and since AWS's "global endpoint
/// changes" most calls to `sts.amazonaws.com` too, are served and logged in the caller's region
/// ("AWS STS Regions and endpoints", IAM User Guide), so STS is looked up in every region. When
/// in doubt a source is regional: one request too many costs 0.6 s, one region too few misses
/// events.
pub const GLOBAL_SOURCES: [&str; 1] = ["iam.amazonaws.com"];

/// The regions whose history Warden reads: the main one (the main stack's, where the clients are
/// configured and the state table lives) and those of the regional stacks (`WARDEN_REGIONS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Regions {
    /// The main region.
    pub main: String,
    /// Every region read, the main one first when it is read, each once.
    pub covered: Vec<String>,
}

impl Regions {
    /// The main region and `others` (the main region among them or not; repeats dropped).
    pub fn new(main: &str, others: &[String]) -> Self {
        let mut covered = vec![main.to_owned()];
        for r in others {
            if !covered.contains(r) {
                covered.push(r.clone());
            }
        }
        Self {
            main: main.to_owned(),
            covered,
        }
    }

    /// Only the main region.
    pub fn main_only(main: &str) -> Self {
        Self::new(main, &[])
    }

    /// The same main region, reading only `chosen` (a catch-up by hand's `--region`). Without
    /// the main region among them, the global sources are not read.
    pub fn only(&self, chosen: &[String]) -> Self {
        let mut covered: Vec<String> = Vec::new();
        for r in chosen {
            if !covered.contains(r) {
                covered.push(r.clone());
            }
        }
        Self {
            main: self.main.clone(),
            covered,
        }
    }
}

/// One source in one region's history.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RegionSource {
    pub region: String,
    pub source: String,
}

/// What to look up: every source in every covered region, except a global source
/// ([`GLOBAL_SOURCES`]) outside the main region. Ordered source by source, the regions of a source
/// one after the other, so that consecutive requests go to different regions, each paced on its
/// own.
pub fn lookups(sources: &[String], regions: &Regions) -> Vec<RegionSource> {
    let mut out = Vec::new();
    for source in sources {
        let global = GLOBAL_SOURCES.contains(&source.as_str());
        for region in &regions.covered {
            if global && *region != regions.main {
                continue;
            }
            out.push(RegionSource {
                region: region.clone(),
                source: source.clone(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn iam_is_looked_up_once_in_the_main_region_and_the_rest_in_every_region() {
        let sources = strings(&["iam.amazonaws.com", "s3.amazonaws.com", "sts.amazonaws.com"]);
        let regions = Regions::new(
            "us-east-1",
            &strings(&["eu-west-1", "us-east-1", "ap-south-2"]),
        );
        assert_eq!(regions.covered, ["us-east-1", "eu-west-1", "ap-south-2"]);
        let got: Vec<(String, String)> = lookups(&sources, &regions)
            .into_iter()
            .map(|l| (l.region, l.source))
            .collect();
        let pair = |r: &str, s: &str| (r.to_owned(), s.to_owned());
        assert_eq!(
            got,
            [
                pair("us-east-1", "iam.amazonaws.com"),
                pair("us-east-1", "s3.amazonaws.com"),
                pair("eu-west-1", "s3.amazonaws.com"),
                pair("ap-south-2", "s3.amazonaws.com"),
                pair("us-east-1", "sts.amazonaws.com"),
                pair("eu-west-1", "sts.amazonaws.com"),
                pair("ap-south-2", "sts.amazonaws.com"),
            ]
        );
        // By hand, one other region: IAM is not read there.
        let eu = regions.only(&strings(&["eu-west-1"]));
        assert!(lookups(&sources, &eu)
            .iter()
            .all(|l| l.region == "eu-west-1" && l.source != "iam.amazonaws.com"));
        assert_eq!(lookups(&sources, &Regions::main_only("us-east-1")).len(), 3);
    }
}
