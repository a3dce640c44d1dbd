//! `warden catch-up --since TIME [--until TIME] [--region R]…`: the catch-up from CloudTrail event
//! history (`enforce::catch_up`) run by hand, for a gap Warden may have missed, in every covered
//! region (the main one and `WARDEN_REGIONS`) or the regions asked. It sends the events the rules
//! route to the intake queue (the work queue when there is none), moves the checkpoints, and
//! prints what it sent: per region and source the events looked up, sent and not routed, the
//! first and last time sent, then the requests and how they were paced.

use crate::assembly::{covered_regions, routes};
use crate::aws::Clients;
use crate::cli::aws_setup::sdk_config;
use crate::enforce::catch_up::{lookups, windows_between, CatchUp, CatchUpError, CatchUpReport};
use crate::enforce::config::{is_region_name, Config};
use crate::enforce::flow::{iso, system_clock};
use crate::enforce::history::HISTORY_DAYS;
use crate::enforce::watch::epoch;
use crate::stores::event_history::CloudTrailHistory;
use crate::stores::init::MESSAGE_GROUP_ID;
use crate::stores::watch::DynamoWatch;
use anyhow::{Context, Result};
use std::io::Write;

/// A time on the command line, as epoch seconds: RFC 3339 (`2026-12-01T22:00:00Z`,
/// `2026-12-01T23:00:00+01:00`) or a time ago (`90m`, `6h`, `2d`).
pub fn parse_time(text: &str, now: i64) -> Result<i64, String> {
    let t = text.trim();
    if let Some(e) = epoch(t) {
        return Ok(e);
    }
    let (digits, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => 0,
    };
    match digits.parse::<i64>() {
        Ok(n) if seconds > 0 => Ok(now - n.saturating_mul(seconds)),
        _ => Err(format!(
            "`{text}`: a time is RFC 3339 (`2026-12-01T22:00:00Z`) or a time ago (`90m`, `6h`, `2d`)"
        )),
    }
}

/// The catch-up by hand, from `since` to `until` (default now), in `regions` (none: every covered
/// region); the report is written to `out` (`json`: one object), notes to stderr.
pub async fn run(
    since: &str,
    until: Option<&str>,
    regions: &[String],
    json: bool,
    out: &mut dyn Write,
) -> Result<()> {
    if let Some(bad) = regions.iter().find(|r| !is_region_name(r)) {
        anyhow::bail!("--region: `{bad}` is not an AWS region name (such as `eu-west-1`)");
    }
    let now = (system_clock())();
    let mut since = parse_time(since, now)
        .map_err(anyhow::Error::msg)
        .context("--since")?;
    let until = match until {
        Some(u) => parse_time(u, now)
            .map_err(anyhow::Error::msg)
            .context("--until")?,
        None => now,
    };
    let floor = now - HISTORY_DAYS * 86_400;
    if since < floor {
        tracing::warn!(since = %iso(since), "CloudTrail event history keeps 90 days: starting at {}", iso(floor));
        since = floor;
    }
    if since >= until {
        return Err(CatchUpError::EmptyWindow {
            since: iso(since),
            until: iso(until),
        }
        .into());
    }
    let config = Config::from_env()?;
    let conf = sdk_config().await?;
    let clients = Clients::from_conf(&conf, &config.rate_limits, config.retry);
    let intake = config
        .intake_queue_url
        .as_deref()
        .or(config.queue_url.as_deref())
        .context("`WARDEN_INTAKE_QUEUE_URL` (or `WARDEN_QUEUE_URL`): not set; the catch-up sends events there")?;
    let routes = routes(&config)?;
    let covered = covered_regions(&config, &clients);
    let covered = if regions.is_empty() {
        covered
    } else {
        covered.only(regions)
    };
    let history = CloudTrailHistory::new(clients.clone());
    let watch = DynamoWatch::new(clients.clone(), config.state_table.clone());
    let catch_up = CatchUp {
        history: &history,
        clients: &clients,
        intake_url: intake,
        group_id: MESSAGE_GROUP_ID,
        routes: &routes,
        regions: &covered,
        watch: Some(&watch),
        now,
        deadline: None,
    };
    let windows = windows_between(&lookups(&routes, &covered), since, until);
    tracing::info!(since = %iso(since), until = %iso(until), regions = %covered.covered.join(","), windows = windows.len(), intake, "catching up");
    let report = catch_up.run(&windows).await?;
    render(&report, since, until, intake, json, out)?;
    Ok(())
}

/// The report: a table for people, or one JSON object.
pub fn render(
    report: &CatchUpReport,
    since: i64,
    until: i64,
    queue: &str,
    json: bool,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    if json {
        let mut v = serde_json::to_value(report).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.insert("since".into(), iso(since).into());
            o.insert("until".into(), iso(until).into());
            o.insert("queue".into(), queue.into());
        }
        return writeln!(out, "{v}");
    }
    writeln!(
        out,
        "caught up {} to {}: {} event(s) sent to `{queue}`",
        iso(since),
        iso(until),
        report.sent()
    )?;
    writeln!(
        out,
        "{:<15} {:<28} {:>9} {:>6} {:>10}  {:<20}  {:<20}",
        "region", "source", "looked up", "sent", "not routed", "first sent", "last sent"
    )?;
    for s in &report.sources {
        writeln!(
            out,
            "{:<15} {:<28} {:>9} {:>6} {:>10}  {:<20}  {:<20}",
            s.region,
            s.source,
            s.looked_up,
            s.sent,
            s.not_routed,
            s.first.as_deref().unwrap_or("-"),
            s.last.as_deref().unwrap_or("-")
        )?;
        for why in &s.unreadable {
            writeln!(out, "  not sent: {why}")?;
        }
    }
    writeln!(
        out,
        "{} LookupEvents request(s) in {:.1} s, {}",
        report.requests, report.seconds, report.pacing
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_names_each_rows_region() {
        use crate::enforce::catch_up::SourceReport;
        let report = CatchUpReport {
            sources: vec![
                SourceReport {
                    region: "us-east-1".into(),
                    source: "iam.amazonaws.com".into(),
                    ..SourceReport::default()
                },
                SourceReport {
                    region: "eu-west-1".into(),
                    source: "s3.amazonaws.com".into(),
                    looked_up: 2,
                    sent: 1,
                    not_routed: 1,
                    ..SourceReport::default()
                },
            ],
            requests: 2,
            pacing: "in memory".into(),
            complete: true,
            ..CatchUpReport::default()
        };
        let mut text = Vec::new();
        render(&report, 1_800_000_000, 1_800_003_600, "q", false, &mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        let eu = text
            .lines()
            .find(|l| l.starts_with("eu-west-1"))
            .unwrap_or_else(|| panic!("{text}"));
        assert!(eu.contains("s3.amazonaws.com"), "{eu}");
        assert!(text.lines().nth(1).unwrap().starts_with("region"), "{text}");
        let mut json = Vec::new();
        render(&report, 1_800_000_000, 1_800_003_600, "q", true, &mut json).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["sources"][1]["region"], "eu-west-1");
        assert_eq!(v["sources"][1]["sent"], 1);
    }

    #[test]
    fn times_are_rfc3339_or_ago() {
        let now = 1_800_000_000;
        assert_eq!(parse_time("2027-01-15T08:00:00Z", now), Ok(1_800_000_000));
        assert_eq!(
            parse_time("2027-01-15T09:00:00+01:00", now),
            Ok(1_800_000_000)
        );
        assert_eq!(parse_time("90m", now), Ok(now - 5400));
        assert_eq!(parse_time("2d", now), Ok(now - 172_800));
        assert!(parse_time("yesterday", now)
            .unwrap_err()
            .contains("`yesterday`"));
        assert!(parse_time("5w", now).is_err());
    }
}
