//! The scheduled tick's watch over the pipeline: one read of the state ([`WatchStore::state`]),
//! then what [`plan_tick`] says: tag the canary policy with a new heartbeat (`iam:TagPolicy`, tag
//! [`HEARTBEAT_TAG`] = the time; its CloudTrail event comes back through the IAM rule, and the
//! flow records it), alert through the alert outbox that Warden is blind when the last heartbeat
//! has not come back in time, and run the catch-up from the checkpoint. A tick where nothing is
//! wrong costs the one read (and, every `beat_every`, the tag and one write).
//!
//! Not here: when each of these is due (`watch.rs`), the catch-up itself (`catch_up.rs`).

use crate::aws::{AwsError, Clients};
use crate::enforce::alerts::Notice;
use crate::enforce::catch_up::{
    lookups, windows_from_checkpoint, CatchUp, CatchUpError, CatchUpReport,
};
use crate::enforce::ports::{Outbox, StoreError};
use crate::enforce::watch::{plan_tick, WatchLimits, WatchStore, HEARTBEAT_TAG};
use aws_sdk_iam::types::Tag;

/// Why a tick failed.
#[derive(Debug, thiserror::Error)]
pub enum TickError {
    #[error("while reading or writing the pipeline's state: {0}")]
    Store(#[from] StoreError),
    #[error("while tagging the canary policy `{arn}`: {error}")]
    Beat { arn: String, error: AwsError },
    #[error("catch-up: {0}")]
    CatchUp(#[from] CatchUpError),
}

/// What a tick did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct TickReport {
    pub beat_sent: Option<i64>,
    pub blind: Option<String>,
    pub catch_up: Option<CatchUpReport>,
}

/// Everything the tick uses.
pub struct Heartbeat<'a> {
    pub clients: &'a Clients,
    pub store: &'a dyn WatchStore,
    pub outbox: &'a dyn Outbox,
    /// The canary managed policy (`WARDEN_CANARY_POLICY_ARN`); without it no heartbeat is sent.
    pub canary_arn: Option<&'a str>,
    pub account: &'a str,
    pub limits: WatchLimits,
    /// The catch-up to run (its `watch` is this tick's store); `None`: never caught up here.
    pub catch_up: Option<CatchUp<'a>>,
}

impl Heartbeat<'_> {
    /// One tick at `now` (epoch seconds).
    pub async fn tick(&self, now: i64) -> Result<TickReport, TickError> {
        let state = self.store.state().await?;
        let plan = plan_tick(&state, now, &self.limits, self.canary_arn.is_some());
        let mut report = TickReport::default();
        if let Some(why) = &plan.blind {
            tracing::error!(reason = %why, "Warden may be blind");
            self.outbox
                .add(&self.blind_notice(why, state.beat_sent), now)
                .await?;
            self.store.blind_alerted(now).await?;
            report.blind = Some(why.clone());
        }
        if plan.catch_up {
            if let Some(c) = &self.catch_up {
                let windows = windows_from_checkpoint(&state, &lookups(c.routes, c.regions), now);
                tracing::warn!(windows = windows.len(), "catching up from the checkpoint");
                self.store.caught_up(now).await?;
                let done = c.run(&windows).await?;
                tracing::info!(
                    sent = done.sent(),
                    requests = done.requests,
                    complete = done.complete,
                    "caught up"
                );
                report.catch_up = Some(done);
            }
        }
        if let (true, Some(arn)) = (plan.send_beat, self.canary_arn) {
            self.beat(arn, now).await?;
            self.store.beat_sent(now).await?;
            report.beat_sent = Some(now);
        }
        Ok(report)
    }

    /// Tags the canary with the beat: a harmless change whose CloudTrail event is the heartbeat.
    async fn beat(&self, arn: &str, beat: i64) -> Result<(), TickError> {
        let tag = Tag::builder()
            .key(HEARTBEAT_TAG)
            .value(beat.to_string())
            .build()
            .map_err(|e| TickError::Beat {
                arn: arn.to_owned(),
                error: AwsError::unsent("iam", "TagPolicy", e.to_string()),
            })?;
        self.clients
            .caller
            .call("iam", "TagPolicy", || {
                self.clients
                    .iam
                    .tag_policy()
                    .policy_arn(arn)
                    .tags(tag.clone())
                    .send()
            })
            .await
            .map_err(|error| TickError::Beat {
                arn: arn.to_owned(),
                error,
            })?;
        Ok(())
    }

    /// The alert that Warden is blind, through the same outbox as every alert (one incident of
    /// the principal `warden`; idempotent on the beat).
    fn blind_notice(&self, why: &str, beat: Option<i64>) -> Notice {
        Notice {
            event_id: format!("heartbeat-missing-{}", beat.unwrap_or_default()),
            event_time: beat.map(crate::enforce::flow::iso),
            event_source: "warden".to_owned(),
            event_name: "HeartbeatMissing".to_owned(),
            account: Some(self.account.to_owned()),
            region: None,
            principal: "warden (pipeline)".to_owned(),
            caller_arn: None,
            caller_kind: "warden".to_owned(),
            verdict: "alert".to_owned(),
            mode: "enforce".to_owned(),
            rule: None,
            actions: Vec::new(),
            resources: self.canary_arn.map(str::to_owned).into_iter().collect(),
            reasons: vec![why.to_owned()],
            changes: Vec::new(),
            todo: vec![
                "check that the trail logs (`aws cloudtrail get-trail-status`), that Warden's EventBridge rules are enabled, that its queues drain and its function is not throttled (the stack's alarms)".to_owned(),
                "Warden runs a catch-up from CloudTrail event history on its own; `warden catch-up --since TIME` runs one by hand (management events only: S3 data events are not in the history)".to_owned(),
            ],
            tamper: false,
        }
    }
}
