//! A sweep that never depends on one run finishing within the function's timeout: it reads the
//! account in units (one page of `GetAccountAuthorizationDetails`, then the bucket list, then ten
//! buckets at a time: policy, ACL, public access block, ownership controls, each through the read
//! the connectors use, then the trails and whether each logs; the account's own public access
//! block is read with the bucket list), records each unit in the account
//! model, and saves a checkpoint after every
//! unit. An invocation that runs out of time stops after the unit it is in; the next one (the
//! Lambda's next tick, or the next `warden sweep`) continues from the checkpoint.
//!
//! The checkpoint counts the requests the sweep made of the account (reads) and of the store, so
//! its report can show the cost: GAAD pages + 1 bucket list + 1 account block + 4 per bucket + 1 trail list + 1 per
//! trail.
//!
//! Not here: what a sweep finds (the findings over the model), or where the checkpoint is stored
//! (`stores/`, behind [`Checkpoints`]).

use crate::aws::{AwsError, Clients};
use crate::connectors::{authorization_details, Connectors, Target};
use crate::enforce::ports::{AccountModel, StoreError};
use crate::sweep::model::{refresh, refresh_states};
use async_trait::async_trait;
use policy_rules::model::{EntryKey, State};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Buckets read per unit.
pub const BUCKETS_PER_UNIT: usize = 10;
/// Requests a bucket's read takes: policy, ACL, public access block, ownership controls (and a
/// `GetBucketLocation` when `ListBuckets` did not give its region).
pub const REQUESTS_PER_BUCKET: usize = 4;
/// A sweep older than this that has not finished is abandoned and a new one starts.
pub const ABANDON_AFTER_SECONDS: i64 = 24 * 3600;

/// Where a sweep is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "kebab-case")]
pub enum Phase {
    /// Reading the account's authorization details from `marker` (`None`: the first page).
    Iam {
        marker: Option<String>,
    },
    /// Listing the buckets.
    ListBuckets,
    /// Reading `names[next..]`.
    Buckets {
        names: Vec<String>,
        next: usize,
    },
    /// Listing the trails and reading whether each logs.
    Trails,
    /// The findings over the model, drift put back, the summary alert.
    Findings,
    Done,
}

/// A sweep's saved progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub id: String,
    pub started_at: i64,
    pub updated_at: i64,
    pub finished_at: Option<i64>,
    pub phase: Phase,
    /// Invocations that advanced it.
    pub invocations: usize,
    pub gaad_pages: usize,
    pub buckets_read: usize,
    /// Buckets that could not be read, with why (another region, no permission).
    pub buckets_unread: Vec<(String, String)>,
    #[serde(default)]
    pub trails_read: usize,
    /// Requests made of the account (IAM and S3 reads).
    pub account_requests: usize,
    /// Requests made of the model's store.
    pub store_requests: usize,
    pub entries: usize,
    /// Entries the sweep found different from the model's newest state (changes no event told).
    pub changed: usize,
    /// Findings by kind, worst first (once the findings ran).
    #[serde(default)]
    pub findings: Vec<(String, usize)>,
    /// Principals whose drifted state Warden put back.
    #[serde(default)]
    pub put_back: Vec<String>,
    /// What an enforcing sweep changed, or could not change, for its findings (drift aside).
    #[serde(default)]
    pub made: Vec<crate::sweep::apply::Made>,
    /// Findings whose changes were not planned: more were called for than one sweep may make.
    #[serde(default)]
    pub over_limit: usize,
    #[serde(default)]
    pub notes: Vec<String>,
    /// The store's revision of this checkpoint (0: not stored yet).
    #[serde(default)]
    pub version: u64,
}

impl Checkpoint {
    pub fn new(now: i64) -> Self {
        Checkpoint {
            id: format!("sweep-{now}"),
            started_at: now,
            updated_at: now,
            finished_at: None,
            phase: Phase::Iam { marker: None },
            invocations: 0,
            gaad_pages: 0,
            buckets_read: 0,
            buckets_unread: Vec::new(),
            trails_read: 0,
            account_requests: 0,
            store_requests: 0,
            entries: 0,
            changed: 0,
            findings: Vec::new(),
            put_back: Vec::new(),
            made: Vec::new(),
            over_limit: 0,
            notes: Vec::new(),
            version: 0,
        }
    }

    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }
}

/// Where the current sweep's checkpoint is kept.
#[async_trait]
pub trait Checkpoints: Send + Sync {
    async fn get(&self) -> Result<Option<Checkpoint>, StoreError>;
    /// Writes it if the stored revision is still `checkpoint.version`; `Contention` otherwise.
    async fn put(&self, checkpoint: &Checkpoint) -> Result<(), StoreError>;
}

/// Why a sweep stopped short.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error("while sweeping: {0}")]
    Aws(#[from] AwsError),
    #[error("while sweeping: {0}")]
    Store(#[from] StoreError),
    #[error("while finding what the sweep read: {0}")]
    Findings(String),
}

/// What a sweep reads through and writes to.
pub struct Sweeper<'a> {
    pub clients: &'a Clients,
    /// The account swept (its public access block is read by account id).
    pub account: &'a str,
    pub connectors: &'a Connectors,
    pub model: &'a dyn AccountModel,
    pub checkpoints: &'a dyn Checkpoints,
    pub clock: &'a (dyn Fn() -> i64 + Send + Sync),
    /// The flow the findings run through (its rules, record of what Warden holds, put-back and
    /// notifier); `None` reads the account into the model only.
    pub flow: Option<&'a crate::enforce::flow::Flow>,
    /// The most changes one sweep may call for (over it: the summary says so).
    pub max_changes: usize,
    /// `monitor` (the default): drift is put back and everything else reported; `enforce`: the
    /// findings' planned changes are made too, where the rule enforces (`sweep::apply`).
    pub mode: policy_rules::rules::Mode,
}

impl Sweeper<'_> {
    /// Starts a sweep, unless one is running (begun less than a day ago and not done): returns
    /// the checkpoint of the sweep that will run.
    pub async fn start(&self) -> Result<Checkpoint, SweepError> {
        let now = (self.clock)();
        let current = self.checkpoints.get().await?;
        if let Some(c) = &current {
            if !c.is_done() && now - c.started_at < ABANDON_AFTER_SECONDS {
                return Ok(c.clone());
            }
        }
        let mut fresh = Checkpoint::new(now);
        fresh.version = current.map_or(0, |c| c.version);
        self.checkpoints.put(&fresh).await?;
        fresh.version += 1;
        Ok(fresh)
    }

    /// Advances the current sweep until it is done or `keep_going` says stop (asked before each
    /// unit after the first, so every invocation makes progress). `None` when no sweep is running.
    pub async fn advance(
        &self,
        keep_going: &(dyn Fn() -> bool + Send + Sync),
    ) -> Result<Option<Checkpoint>, SweepError> {
        let Some(mut c) = self.checkpoints.get().await? else {
            return Ok(None);
        };
        if c.is_done() {
            return Ok(Some(c));
        }
        c.invocations += 1;
        let mut first = true;
        while !c.is_done() && (first || keep_going()) {
            first = false;
            self.unit(&mut c).await?;
            c.updated_at = (self.clock)();
            if c.is_done() {
                c.finished_at = Some(c.updated_at);
            }
            self.checkpoints.put(&c).await?;
            c.version += 1;
        }
        Ok(Some(c))
    }

    /// One unit of work.
    async fn unit(&self, c: &mut Checkpoint) -> Result<(), SweepError> {
        match std::mem::replace(&mut c.phase, Phase::Done) {
            Phase::Iam { marker } => {
                let (page, next) = authorization_details::read_page(self.clients, marker).await?;
                c.gaad_pages += 1;
                c.account_requests += 1;
                // The page is recorded as read when its read ended.
                let done = refresh(self.model, &page, (self.clock)()).await?;
                c.entries += done.entries;
                c.changed += done.changed;
                c.store_requests += done.store_requests;
                c.phase = match next {
                    Some(m) => Phase::Iam { marker: Some(m) },
                    None => Phase::ListBuckets,
                };
            }
            Phase::ListBuckets => {
                let req = self.clients.s3.list_buckets();
                let out = self
                    .clients
                    .caller
                    .call("s3", "ListBuckets", || req.clone().send())
                    .await?
                    .value;
                c.account_requests += 1;
                // The account's own public access block, with the bucket list (one request).
                c.account_requests += 1;
                match self
                    .read_via("account_public_access_block", self.account)
                    .await
                {
                    Ok(config) => {
                        let done = refresh_states(
                            self.model,
                            vec![(
                                EntryKey::account_public_access_block(),
                                State::AccountPublicAccessBlock { config },
                            )],
                            (self.clock)(),
                        )
                        .await?;
                        c.entries += done.entries;
                        c.changed += done.changed;
                        c.store_requests += done.store_requests;
                    }
                    Err(why) => c.notes.push(format!(
                        "the account's public access block was not read ({why}): its undo stays a person's"
                    )),
                }
                // `BucketRegion` spares each bucket its `GetBucketLocation` (`Clients::s3_for`).
                for b in out.buckets() {
                    if let (Some(name), Some(region)) = (b.name(), b.bucket_region()) {
                        self.clients.s3_regions.learn(name, region);
                    }
                }
                let names: Vec<String> = out
                    .buckets()
                    .iter()
                    .filter_map(|b| b.name().map(str::to_owned))
                    .collect();
                c.phase = if names.is_empty() {
                    Phase::Trails
                } else {
                    Phase::Buckets { names, next: 0 }
                };
            }
            Phase::Buckets { names, next } => {
                let end = (next + BUCKETS_PER_UNIT).min(names.len());
                let mut states = Vec::new();
                for name in names.get(next..end).unwrap_or_default() {
                    let (read, requests) = self.bucket(name).await;
                    c.account_requests += requests;
                    match read {
                        Ok(state) => {
                            c.buckets_read += 1;
                            states.push((EntryKey::bucket(name), state));
                        }
                        Err(why) => c.buckets_unread.push((name.clone(), why)),
                    }
                }
                let done = refresh_states(self.model, states, (self.clock)()).await?;
                c.entries += done.entries;
                c.changed += done.changed;
                c.store_requests += done.store_requests;
                c.phase = if end >= names.len() {
                    Phase::Trails
                } else {
                    Phase::Buckets { names, next: end }
                };
            }
            Phase::Trails => {
                let req = self.clients.cloudtrail.describe_trails();
                let out = self
                    .clients
                    .caller
                    .call("cloudtrail", "DescribeTrails", || req.clone().send())
                    .await?
                    .value;
                c.account_requests += 1;
                let mut states = Vec::new();
                for trail in out.trail_list() {
                    let Some(name) = trail.name() else { continue };
                    c.account_requests += 1;
                    let logging = self
                        .read_via("trail_logging", trail.trail_arn().unwrap_or(name))
                        .await
                        .ok()
                        .and_then(|s| s.get("logging").and_then(Value::as_bool));
                    // The selectors: one more request; a failed read leaves them unknown.
                    c.account_requests += 1;
                    let selectors = crate::connectors::trail_settings::selectors(
                        self.clients,
                        trail.trail_arn().unwrap_or(name),
                    )
                    .await
                    .ok();
                    c.trails_read += 1;
                    states.push((
                        EntryKey::trail(name),
                        State::Trail {
                            logging,
                            settings: Some(crate::connectors::trail_settings::settings(trail)),
                            selectors,
                        },
                    ));
                }
                let done = refresh_states(self.model, states, (self.clock)()).await?;
                c.entries += done.entries;
                c.changed += done.changed;
                c.store_requests += done.store_requests;
                c.phase = if self.flow.is_some() {
                    Phase::Findings
                } else {
                    Phase::Done
                };
            }
            Phase::Findings => {
                if let Some(flow) = self.flow {
                    let mut options = policy_rules::sweep::SweepOptions::new(
                        chrono::DateTime::from_timestamp((self.clock)(), 0).unwrap_or_default(),
                    );
                    options.max_changes = self.max_changes;
                    options.mode = self.mode;
                    let found = crate::sweep::findings::find(
                        flow,
                        self.clients,
                        &c.id,
                        c.started_at,
                        &c.buckets_unread
                            .iter()
                            .map(|(b, _)| b.clone())
                            .collect::<Vec<_>>(),
                        &options,
                    )
                    .await
                    .map_err(|e| SweepError::Findings(e.to_string()))?;
                    c.store_requests += found.store_requests;
                    c.account_requests += found.account_requests;
                    c.findings = crate::sweep::findings::counts(&found.report);
                    c.put_back = found.put_back.iter().map(|(p, _)| p.clone()).collect();
                    c.made = found.made;
                    c.over_limit = found.report.over_limit;
                    c.notes = found.report.notes;
                }
                c.phase = Phase::Done;
            }
            Phase::Done => {}
        }
        Ok(())
    }

    /// One bucket's policy, ACL and public access block (the connectors' own reads) and its
    /// ownership controls, with the requests made.
    async fn bucket(&self, name: &str) -> (Result<State, String>, usize) {
        // The bucket's region, unless `ListBuckets` gave it: one `GetBucketLocation`.
        let located = usize::from(self.clients.s3_regions.known(name).is_none());
        let s3 = self.clients.s3_for(name).await;
        let policy = self.read_via("bucket_policy", name).await;
        let acl = self.read_via("bucket_acl", name).await;
        let pab = self.read_via("public_access_block", name).await;
        let req = s3.get_bucket_ownership_controls().bucket(name);
        let ownership = match self
            .clients
            .caller
            .call("s3", "GetBucketOwnershipControls", || req.clone().send())
            .await
        {
            Ok(out) => Ok(out
                .value
                .ownership_controls()
                .map(|o| {
                    Value::Array(
                        o.rules()
                            .iter()
                            .map(|r| Value::String(r.object_ownership().as_str().to_owned()))
                            .collect(),
                    )
                })
                .unwrap_or(Value::Null)),
            Err(e) if e.code.as_deref() == Some("OwnershipControlsNotFoundError") => {
                Ok(Value::Null)
            }
            Err(e) => Err(e.to_string()),
        };
        let state = (|| {
            let policy = policy?;
            Ok(State::Bucket {
                policy: (!policy.is_null()).then_some(policy),
                acl: acl?,
                public_access_block: pab?,
                ownership: ownership?,
            })
        })();
        (state, REQUESTS_PER_BUCKET + located)
    }

    /// The thing `name` as the connector `kind` reads it (its `snapshot`: one request for the
    /// connectors the sweep uses).
    async fn read_via(&self, kind: &str, name: &str) -> Result<Value, String> {
        let target = Target {
            connector: kind.to_owned(),
            name: name.to_owned(),
        };
        match self.connectors.by_kind(kind) {
            Some(c) => c.snapshot(&target).await.map_err(|e| e.to_string()),
            None => Err(format!("no `{kind}` connector")),
        }
    }
}
