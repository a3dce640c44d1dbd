//! The account model: what Warden knows of each thing in the account it guards (users, roles,
//! groups, managed policies with their versions, buckets, the account's public access block,
//! trails), each as a short history of states with when each began and what it was learned from (a
//! sweep, a live read, an event). It is kept per entry, so the live path reads and writes only the
//! entries one event touches, never the whole model.
//!
//! The point of the history: when an event is decided, the model must give the account *as it was
//! just before that event*, even when the event arrives after a later one (lanes run different
//! principals side by side) or is redelivered after its own change was applied. A state is used as a
//! before-state only when the model can vouch for it; otherwise the answer is [`Known::Unknown`]
//! with the reason, and the planner alerts instead of guessing.
//!
//! What this module does not do: read or write a store (the handler's model store does), or decide
//! anything (the planner and the sweep do). It is pure: the clock arrives as arguments.

use crate::event::Event;
use crate::policy::PolicyDocument;
use crate::snapshot::Snapshot;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// How many states one entry keeps (the newest and the ones before it). Enough for an event that
/// arrives a few changes late; an older before-state is `Unknown`, never a guess.
pub const HISTORY: usize = 4;

/// By default, a state is trusted as a before-state only when the entry was confirmed by a read (a
/// sweep or a live read) within this long before the event: a daily sweep plus a day of slack. An
/// older entry may have missed a change (an event lost in an outage).
pub const DEFAULT_MAX_AGE_SECONDS: i64 = 2 * 24 * 3600;

/// One thing in the account: `user/NAME`, `role/NAME`, `group/NAME`, `policy/ARN`, `bucket/NAME`,
/// `trail/NAME`, `account/public-access-block` or `instance-profile/NAME`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EntryKey(pub String);

impl EntryKey {
    pub fn user(name: &str) -> Self {
        EntryKey(format!("user/{name}"))
    }
    pub fn role(name: &str) -> Self {
        EntryKey(format!("role/{name}"))
    }
    pub fn group(name: &str) -> Self {
        EntryKey(format!("group/{name}"))
    }
    pub fn policy(arn: &str) -> Self {
        EntryKey(format!("policy/{arn}"))
    }
    pub fn bucket(name: &str) -> Self {
        EntryKey(format!("bucket/{name}"))
    }
    pub fn trail(name: &str) -> Self {
        EntryKey(format!("trail/{name}"))
    }
    pub fn account_public_access_block() -> Self {
        EntryKey("account/public-access-block".to_owned())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for EntryKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What one entry was at one time. Policy documents are kept in Warden's compact form (the form
/// the planner writes back), so a restored document is exactly the earlier one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum State {
    /// Known not to exist.
    Absent,
    User {
        arn: String,
        #[serde(default)]
        inline: BTreeMap<String, Value>,
        #[serde(default)]
        attached: BTreeSet<String>,
        #[serde(default)]
        groups: BTreeSet<String>,
        #[serde(default)]
        boundary: Option<String>,
        /// Access key id → `Active`/`Inactive`; `None` when not read.
        #[serde(default)]
        keys: Option<BTreeMap<String, String>>,
        /// Whether the user has a console password; `None` when not read.
        #[serde(default)]
        login_profile: Option<bool>,
    },
    Role {
        arn: String,
        #[serde(default)]
        trust: Option<Value>,
        #[serde(default)]
        inline: BTreeMap<String, Value>,
        #[serde(default)]
        attached: BTreeSet<String>,
        #[serde(default)]
        boundary: Option<String>,
        #[serde(default)]
        last_used: Option<String>,
    },
    Group {
        arn: String,
        #[serde(default)]
        inline: BTreeMap<String, Value>,
        #[serde(default)]
        attached: BTreeSet<String>,
    },
    /// A customer-managed policy.
    Policy {
        arn: String,
        default_version: Option<String>,
        /// Version id → its document (`null` when the read did not carry it).
        #[serde(default)]
        versions: BTreeMap<String, Value>,
    },
    /// An instance profile and the roles it holds (IAM allows one).
    InstanceProfile {
        arn: String,
        /// Role name → its ARN; `None` when learned from an event that names the role without
        /// its path (`AddRoleToInstanceProfile`).
        #[serde(default)]
        roles: BTreeMap<String, Option<String>>,
    },
    Bucket {
        /// `None`: the bucket has no policy.
        #[serde(default)]
        policy: Option<Value>,
        /// As last written or read (`null`: not known).
        #[serde(default)]
        acl: Value,
        #[serde(default)]
        public_access_block: Value,
        #[serde(default)]
        ownership: Value,
    },
    AccountPublicAccessBlock {
        #[serde(default)]
        config: Value,
    },
    Trail {
        logging: Option<bool>,
        /// The trail's configuration in the event's names ([`TRAIL_SETTINGS`]); `None` when not
        /// known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        settings: Option<Value>,
        /// `{"eventSelectors": […]}` or `{"advancedEventSelectors": […]}`, in the event's names;
        /// `None` when not known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        selectors: Option<Value>,
    },
}

/// A trail's settings as `CreateTrail` and `UpdateTrail` name them (and the model keeps them).
pub const TRAIL_SETTINGS: [&str; 10] = [
    "s3BucketName",
    "s3KeyPrefix",
    "snsTopicName",
    "includeGlobalServiceEvents",
    "isMultiRegionTrail",
    "enableLogFileValidation",
    "cloudWatchLogsLogGroupArn",
    "cloudWatchLogsRoleArn",
    "kmsKeyId",
    "isOrganizationTrail",
];

/// A trail's name from what an event gives (`name` may be the trail's ARN).
pub fn trail_name(name_or_arn: &str) -> &str {
    name_or_arn
        .split_once(":trail/")
        .map_or(name_or_arn, |(_, name)| name)
}

/// The settings a `CreateTrail`/`UpdateTrail` event shows: its response (the whole trail, where
/// `logFileValidationEnabled` is the request's `enableLogFileValidation`) over `base`, or `None`
/// when neither the response nor `base` says them.
fn trail_settings(response: &Value, request: &Value, base: Option<&Value>) -> Option<Value> {
    let from_response = response.is_object() && response.get("s3BucketName").is_some();
    let mut out = match (base, from_response) {
        (_, true) => serde_json::Map::new(),
        (Some(Value::Object(b)), false) => b.clone(),
        _ => return None,
    };
    let source = if from_response { response } else { request };
    for key in TRAIL_SETTINGS {
        let read = if key == "enableLogFileValidation" && from_response {
            "logFileValidationEnabled"
        } else {
            key
        };
        if let Some(v) = source.get(read).filter(|v| !v.is_null()) {
            out.insert(key.to_owned(), v.clone());
        }
    }
    Some(Value::Object(out))
}

/// The selectors a `PutEventSelectors` event wrote.
fn written_selectors(request: &Value) -> Option<Value> {
    ["eventSelectors", "advancedEventSelectors"]
        .into_iter()
        .find_map(|k| {
            request
                .get(k)
                .filter(|v| v.is_array())
                .map(|v| serde_json::json!({ k: v }))
        })
}

/// Where a state was learned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "from", rename_all = "kebab-case")]
pub enum Source {
    /// Read by a sweep.
    Sweep,
    /// Read live by the enforcement path (its entry was missing).
    Live,
    /// Derived from the entry's state before and this event.
    Event { id: String, name: String },
}

impl Source {
    fn is_read(&self) -> bool {
        matches!(self, Source::Sweep | Source::Live)
    }
}

/// One state of an entry and when it began (epoch seconds: an event's time, or a read's time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    pub since: i64,
    #[serde(flatten)]
    pub source: Source,
    /// For an event's state: when the entry was last confirmed by a read, carried forward from
    /// the state the event changed (how far the chain of events reaches back to something read).
    #[serde(default)]
    pub read_at: i64,
    pub state: State,
}

/// An entry: its states, oldest first, at most [`HISTORY`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub key: EntryKey,
    pub versions: Vec<Version>,
}

/// A before-state the model can vouch for, or why it cannot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "known", rename_all = "kebab-case")]
#[allow(clippy::large_enum_variant)] // one per entry an event touches; boxing buys nothing
pub enum Known {
    State {
        state: State,
        since: i64,
        #[serde(flatten)]
        source: Source,
    },
    Unknown {
        why: String,
    },
}

/// How much the model trusts its entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trust {
    /// See [`DEFAULT_MAX_AGE_SECONDS`].
    pub max_age_seconds: i64,
}

impl Default for Trust {
    fn default() -> Self {
        Trust {
            max_age_seconds: DEFAULT_MAX_AGE_SECONDS,
        }
    }
}

/// An event's time in epoch seconds.
pub fn event_time(event: &Event<'_>) -> Option<i64> {
    let t = event.record.event_time.as_deref()?;
    chrono::DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|d| d.timestamp())
}

fn iso(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| t.to_string())
}

impl State {
    /// A sweep's read of a user from `GetAccountAuthorizationDetails`, which does not carry its
    /// access keys or console password, keeps what the entry knew of them (`earlier`); the
    /// sweep's credential report then confirms or corrects them
    /// (`sweep::credentials_in_model`). Other states are left as they are.
    pub fn keep_credentials_of(&mut self, earlier: &State) {
        if let (
            State::User {
                keys,
                login_profile,
                ..
            },
            State::User {
                keys: k,
                login_profile: l,
                ..
            },
        ) = (self, earlier)
        {
            if keys.is_none() {
                keys.clone_from(k);
            }
            if login_profile.is_none() {
                *login_profile = *l;
            }
        }
    }
}

impl Entry {
    /// A new entry holding one read state. `at` is when the read *ended*: a change made while it
    /// ran may be in it, so only events after `at` are judged by it.
    pub fn read(key: EntryKey, state: State, at: i64, source: Source) -> Entry {
        Entry {
            key,
            versions: vec![Version {
                since: at,
                source,
                read_at: at,
                state,
            }],
        }
    }

    /// The newest state.
    pub fn latest(&self) -> Option<&Version> {
        self.versions.last()
    }

    /// Whether `event_id`'s change is already in the history (a redelivery).
    pub fn has_event(&self, event_id: &str) -> bool {
        self.versions
            .iter()
            .any(|v| matches!(&v.source, Source::Event { id, .. } if id == event_id))
    }

    /// The state just before the event `event_id` at `time`: the newest state that began at or
    /// before it, leaving out the event's own. `Unknown` when the history does not reach back that
    /// far, when the state known then was only learned from a read made after the event, or when
    /// the last read behind it is older than `trust` allows (a change may have been missed).
    pub fn before(&self, event_id: &str, time: i64, trust: Trust) -> Known {
        let mine = |v: &Version| matches!(&v.source, Source::Event { id, .. } if id == event_id);
        let candidates: Vec<&Version> = self.versions.iter().filter(|v| !mine(v)).collect();
        // A read at the event's own second may already hold the event's change (CloudTrail times
        // are whole seconds), so a read vouches only for events after it; an event's state, for
        // events at or after it (queue order within a second).
        let Some(base) = candidates.iter().rev().find(|v| {
            if v.source.is_read() {
                v.since < time
            } else {
                v.since <= time
            }
        }) else {
            let first = candidates.first().map_or(String::new(), |v| {
                format!(
                    " (its oldest state is from {}, by {})",
                    iso(v.since),
                    describe(&v.source)
                )
            });
            return Known::Unknown {
                why: format!(
                    "the model's entry `{}` does not reach back to {}{first}",
                    self.key,
                    iso(time)
                ),
            };
        };
        let last_read = if base.source.is_read() {
            base.since
        } else {
            base.read_at
        };
        if time - last_read > trust.max_age_seconds {
            return Known::Unknown {
                why: format!(
                    "the model's entry `{}` was last confirmed by a read at {}, {} hours before the event: a change since may have been missed",
                    self.key,
                    iso(last_read),
                    (time - last_read) / 3600
                ),
            };
        }
        Known::State {
            state: base.state.clone(),
            since: base.since,
            source: base.source.clone(),
        }
    }

    /// Records the event's change. `None` when the event changes nothing of this entry, is already
    /// recorded, or cannot be applied (no state before it that the change can start from; the next
    /// read fills the entry).
    pub fn apply(&mut self, event: &Event<'_>) -> Option<()> {
        let id = event.record.event_id.as_deref()?.to_owned();
        let time = event_time(event)?;
        if self.has_event(&id) {
            return None;
        }
        let base = self
            .versions
            .iter()
            .rev()
            .find(|v| v.since <= time)
            .cloned();
        let (base_state, read_at) = match &base {
            Some(v) => (
                Some(&v.state),
                if v.source.is_read() {
                    v.since
                } else {
                    v.read_at
                },
            ),
            None => (None, time),
        };
        let next = next_state(event, &self.key, base_state)?;
        if base_state == Some(&next) {
            return None;
        }
        let at = self
            .versions
            .iter()
            .position(|v| v.since > time)
            .unwrap_or(self.versions.len());
        self.versions.insert(
            at,
            Version {
                since: time,
                source: Source::Event {
                    id,
                    name: event.name().to_owned(),
                },
                read_at,
                state: next,
            },
        );
        while self.versions.len() > HISTORY {
            self.versions.remove(0);
        }
        Some(())
    }

    /// Records a read of the entry at `at` (a sweep or a live read), keeping the history before it.
    pub fn record_read(&mut self, state: State, at: i64, source: Source) {
        let pos = self
            .versions
            .iter()
            .position(|v| v.since > at)
            .unwrap_or(self.versions.len());
        self.versions.insert(
            pos,
            Version {
                since: at,
                source,
                read_at: at,
                state,
            },
        );
        while self.versions.len() > HISTORY {
            self.versions.remove(0);
        }
    }
}

fn describe(source: &Source) -> String {
    match source {
        Source::Sweep => "a sweep".to_owned(),
        Source::Live => "a live read".to_owned(),
        Source::Event { id, name } => format!("event `{id}` ({name})"),
    }
}

fn params(event: &Event<'_>) -> Value {
    event
        .record
        .request_parameters
        .and_then(|r| serde_json::from_str(r.get()).ok())
        .unwrap_or(Value::Null)
}

fn response(event: &Event<'_>) -> Value {
    event
        .record
        .response_elements
        .and_then(|r| serde_json::from_str(r.get()).ok())
        .unwrap_or(Value::Null)
}

fn text(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// A policy document in Warden's compact form (JSON text, URL-encoded text or an object).
pub fn compact(doc: &Value) -> Option<Value> {
    let parsed = PolicyDocument::from_value(doc).ok()?;
    serde_json::to_value(&parsed).ok()
}

/// The entries a successful event changes (the ones the live path reads before deciding it, and
/// writes after).
pub fn touches(event: &Event<'_>) -> Vec<EntryKey> {
    if event
        .record
        .error_code
        .as_deref()
        .is_some_and(|c| !c.is_empty())
    {
        return Vec::new();
    }
    if let Some(key) = instance_profile_touched(event) {
        return vec![key];
    }
    let p = params(event);
    let r = response(event);
    let s = |k: &str| text(&p, &format!("/{k}"));
    let name = event.name();
    let key = match (event.source(), name) {
        ("iam.amazonaws.com", n)
            if n.ends_with("UserPolicy") || n.ends_with("UserPermissionsBoundary") =>
        {
            s("userName").map(|u| EntryKey::user(&u))
        }
        ("iam.amazonaws.com", n)
            if n.ends_with("RolePolicy") || n.ends_with("RolePermissionsBoundary") =>
        {
            s("roleName").map(|u| EntryKey::role(&u))
        }
        ("iam.amazonaws.com", n) if n.ends_with("GroupPolicy") => {
            s("groupName").map(|g| EntryKey::group(&g))
        }
        (
            "iam.amazonaws.com",
            "CreateUser"
            | "DeleteUser"
            | "AddUserToGroup"
            | "RemoveUserFromGroup"
            | "CreateLoginProfile"
            | "DeleteLoginProfile"
            | "UpdateAccessKey"
            | "DeleteAccessKey",
        ) => s("userName").map(|u| EntryKey::user(&u)),
        ("iam.amazonaws.com", "CreateAccessKey") => text(&r, "/accessKey/userName")
            .or_else(|| s("userName"))
            .map(|u| EntryKey::user(&u)),
        ("iam.amazonaws.com", "CreateRole" | "DeleteRole" | "UpdateAssumeRolePolicy") => {
            s("roleName").map(|u| EntryKey::role(&u))
        }
        ("iam.amazonaws.com", "CreateGroup" | "DeleteGroup") => {
            s("groupName").map(|g| EntryKey::group(&g))
        }
        ("iam.amazonaws.com", "CreatePolicy") => {
            text(&r, "/policy/arn").map(|a| EntryKey::policy(&a))
        }
        (
            "iam.amazonaws.com",
            "CreatePolicyVersion"
            | "SetDefaultPolicyVersion"
            | "DeletePolicyVersion"
            | "DeletePolicy",
        ) => s("policyArn").map(|a| EntryKey::policy(&a)),
        (
            "s3.amazonaws.com",
            "CreateBucket"
            | "DeleteBucket"
            | "PutBucketPolicy"
            | "DeleteBucketPolicy"
            | "PutBucketAcl"
            | "PutBucketPublicAccessBlock"
            | "DeleteBucketPublicAccessBlock"
            | "PutBucketOwnershipControls"
            | "DeleteBucketOwnershipControls",
        ) => s("bucketName").map(|b| EntryKey::bucket(&b)),
        ("s3.amazonaws.com", "PutAccountPublicAccessBlock" | "DeleteAccountPublicAccessBlock") => {
            Some(EntryKey::account_public_access_block())
        }
        (
            "cloudtrail.amazonaws.com",
            "CreateTrail" | "DeleteTrail" | "StartLogging" | "StopLogging" | "UpdateTrail",
        ) => s("name").map(|t| EntryKey::trail(trail_name(&t))),
        ("cloudtrail.amazonaws.com", "PutEventSelectors") => {
            s("trailName").map(|t| EntryKey::trail(trail_name(&t)))
        }
        _ => None,
    };
    key.into_iter().collect()
}

/// The state of `key` after `event`, from the state before it (`None` before: only an event that
/// creates the thing can start an entry). `None` when the event says too little to tell.
pub fn next_state(event: &Event<'_>, key: &EntryKey, before: Option<&State>) -> Option<State> {
    if !touches(event).contains(key) {
        return None;
    }
    if key.is_instance_profile() {
        return next_instance_profile(event, before);
    }
    let p = params(event);
    let r = response(event);
    let s = |k: &str| text(&p, &format!("/{k}"));
    let name = event.name();
    let account = event.account().unwrap_or_default().to_owned();
    // The creating events: the state before does not matter.
    match name {
        "CreateUser" => {
            return Some(State::User {
                arn: text(&r, "/user/arn").unwrap_or_else(|| {
                    format!(
                        "arn:aws:iam::{account}:user{}{}",
                        s("path").unwrap_or_else(|| "/".to_owned()),
                        s("userName").unwrap_or_default()
                    )
                }),
                inline: BTreeMap::new(),
                attached: BTreeSet::new(),
                groups: BTreeSet::new(),
                boundary: s("permissionsBoundary"),
                keys: Some(BTreeMap::new()),
                login_profile: Some(false),
            })
        }
        "CreateRole" => {
            return Some(State::Role {
                arn: text(&r, "/role/arn").unwrap_or_else(|| {
                    format!(
                        "arn:aws:iam::{account}:role{}{}",
                        s("path").unwrap_or_else(|| "/".to_owned()),
                        s("roleName").unwrap_or_default()
                    )
                }),
                trust: p.get("assumeRolePolicyDocument").and_then(compact),
                inline: BTreeMap::new(),
                attached: BTreeSet::new(),
                boundary: s("permissionsBoundary"),
                last_used: None,
            })
        }
        "CreateGroup" => {
            return Some(State::Group {
                arn: text(&r, "/group/arn").unwrap_or_else(|| {
                    format!(
                        "arn:aws:iam::{account}:group{}{}",
                        s("path").unwrap_or_else(|| "/".to_owned()),
                        s("groupName").unwrap_or_default()
                    )
                }),
                inline: BTreeMap::new(),
                attached: BTreeSet::new(),
            })
        }
        "CreatePolicy" => {
            let version = text(&r, "/policy/defaultVersionId").unwrap_or_else(|| "v1".to_owned());
            let doc = p.get("policyDocument").and_then(compact)?;
            return Some(State::Policy {
                arn: text(&r, "/policy/arn")?,
                default_version: Some(version.clone()),
                versions: BTreeMap::from([(version, doc)]),
            });
        }
        "CreateBucket" => {
            return Some(State::Bucket {
                policy: None,
                acl: Value::Null,
                public_access_block: Value::Null,
                ownership: Value::Null,
            })
        }
        "CreateTrail" => {
            return Some(State::Trail {
                logging: Some(false),
                settings: trail_settings(&r, &p, Some(&Value::Object(serde_json::Map::new()))),
                selectors: None,
            })
        }
        "DeleteUser" | "DeleteRole" | "DeleteGroup" | "DeletePolicy" | "DeleteBucket"
        | "DeleteTrail" => return Some(State::Absent),
        "PutAccountPublicAccessBlock" => {
            return Some(State::AccountPublicAccessBlock {
                config: p
                    .get("PublicAccessBlockConfiguration")
                    .cloned()
                    .unwrap_or(Value::Null),
            })
        }
        "DeleteAccountPublicAccessBlock" => {
            return Some(State::AccountPublicAccessBlock {
                config: Value::Null,
            })
        }
        "StartLogging" | "StopLogging" | "UpdateTrail" | "PutEventSelectors" => {
            // What the event does not change is kept from the state before (unknown without one).
            let (logging, settings, selectors) = match before {
                Some(State::Trail {
                    logging,
                    settings,
                    selectors,
                }) => (*logging, settings.clone(), selectors.clone()),
                _ => (None, None, None),
            };
            return Some(match name {
                "StartLogging" | "StopLogging" => State::Trail {
                    logging: Some(name == "StartLogging"),
                    settings,
                    selectors,
                },
                "UpdateTrail" => State::Trail {
                    logging,
                    settings: trail_settings(&r, &p, settings.as_ref()),
                    selectors,
                },
                _ => State::Trail {
                    logging,
                    settings,
                    selectors: written_selectors(&p),
                },
            });
        }
        _ => {}
    }
    let mut next = before?.clone();
    let doc = || p.get("policyDocument").and_then(compact);
    match (&mut next, name) {
        (
            State::User { inline, .. } | State::Role { inline, .. } | State::Group { inline, .. },
            "PutUserPolicy" | "PutRolePolicy" | "PutGroupPolicy",
        ) => {
            inline.insert(s("policyName")?, doc()?);
        }
        (
            State::User { inline, .. } | State::Role { inline, .. } | State::Group { inline, .. },
            "DeleteUserPolicy" | "DeleteRolePolicy" | "DeleteGroupPolicy",
        ) => {
            inline.remove(&s("policyName")?);
        }
        (
            State::User { attached, .. }
            | State::Role { attached, .. }
            | State::Group { attached, .. },
            "AttachUserPolicy" | "AttachRolePolicy" | "AttachGroupPolicy",
        ) => {
            attached.insert(s("policyArn")?);
        }
        (
            State::User { attached, .. }
            | State::Role { attached, .. }
            | State::Group { attached, .. },
            "DetachUserPolicy" | "DetachRolePolicy" | "DetachGroupPolicy",
        ) => {
            attached.remove(&s("policyArn")?);
        }
        (State::User { groups, .. }, "AddUserToGroup") => {
            groups.insert(s("groupName")?);
        }
        (State::User { groups, .. }, "RemoveUserFromGroup") => {
            groups.remove(&s("groupName")?);
        }
        (
            State::User { boundary, .. } | State::Role { boundary, .. },
            "PutUserPermissionsBoundary" | "PutRolePermissionsBoundary",
        ) => *boundary = Some(s("permissionsBoundary")?),
        (
            State::User { boundary, .. } | State::Role { boundary, .. },
            "DeleteUserPermissionsBoundary" | "DeleteRolePermissionsBoundary",
        ) => *boundary = None,
        (State::User { keys, .. }, "CreateAccessKey") => {
            if let Some(keys) = keys {
                keys.insert(text(&r, "/accessKey/accessKeyId")?, "Active".to_owned());
            }
        }
        (State::User { keys, .. }, "UpdateAccessKey") => {
            if let Some(keys) = keys {
                keys.insert(s("accessKeyId")?, s("status")?);
            }
        }
        (State::User { keys, .. }, "DeleteAccessKey") => {
            if let Some(keys) = keys {
                keys.remove(&s("accessKeyId")?);
            }
        }
        (State::User { login_profile, .. }, "CreateLoginProfile") => *login_profile = Some(true),
        (State::User { login_profile, .. }, "DeleteLoginProfile") => *login_profile = Some(false),
        (State::Role { trust, .. }, "UpdateAssumeRolePolicy") => *trust = Some(doc()?),
        (
            State::Policy {
                default_version,
                versions,
                ..
            },
            "CreatePolicyVersion",
        ) => {
            let id = text(&r, "/policyVersion/versionId")?;
            versions.insert(id.clone(), doc()?);
            let as_default = p
                .get("setAsDefault")
                .is_some_and(|d| d.as_bool() == Some(true) || d.as_str() == Some("true"));
            if as_default {
                *default_version = Some(id);
            }
        }
        (
            State::Policy {
                default_version, ..
            },
            "SetDefaultPolicyVersion",
        ) => {
            *default_version = Some(s("versionId")?);
        }
        (State::Policy { versions, .. }, "DeletePolicyVersion") => {
            versions.remove(&s("versionId")?);
        }
        (State::Bucket { policy, .. }, "PutBucketPolicy") => {
            *policy = Some(p.get("bucketPolicy").and_then(compact)?);
        }
        (State::Bucket { policy, .. }, "DeleteBucketPolicy") => *policy = None,
        (State::Bucket { acl, .. }, "PutBucketAcl") => {
            let mut written = p.clone();
            if let Some(o) = written.as_object_mut() {
                o.remove("bucketName");
                o.remove("Host");
                o.remove("acl");
            }
            *acl = written;
        }
        (
            State::Bucket {
                public_access_block,
                ..
            },
            "PutBucketPublicAccessBlock",
        ) => {
            *public_access_block = p
                .get("PublicAccessBlockConfiguration")
                .cloned()
                .unwrap_or(Value::Null);
        }
        (
            State::Bucket {
                public_access_block,
                ..
            },
            "DeleteBucketPublicAccessBlock",
        ) => *public_access_block = Value::Null,
        (State::Bucket { ownership, .. }, "PutBucketOwnershipControls") => {
            *ownership = p.get("OwnershipControls").cloned().unwrap_or(Value::Null);
        }
        (State::Bucket { ownership, .. }, "DeleteBucketOwnershipControls") => {
            *ownership = Value::Null
        }
        // The event touches the entry, but the state before is not of the kind it changes (an
        // `Absent` user given a policy): the model cannot follow; the next read fills it.
        _ => return None,
    }
    Some(next)
}

/// The entries of a sweep's snapshot (users, roles, groups, managed policies: the customer's and
/// the AWS-managed ones attached to someone), read at `at`.
pub fn entries_of(snapshot: &Snapshot, at: i64) -> Vec<Entry> {
    let docs = |m: &BTreeMap<String, PolicyDocument>| -> BTreeMap<String, Value> {
        m.iter()
            .filter_map(|(n, d)| Some((n.clone(), serde_json::to_value(d).ok()?)))
            .collect()
    };
    let mut out = Vec::new();
    for u in snapshot.users.values() {
        out.push(Entry::read(
            EntryKey::user(&u.name),
            State::User {
                arn: u.arn.clone(),
                inline: docs(&u.inline),
                attached: u.attached.iter().cloned().collect(),
                groups: u.groups.iter().cloned().collect(),
                boundary: u.boundary.clone(),
                keys: None,
                login_profile: None,
            },
            at,
            Source::Sweep,
        ));
    }
    for r in snapshot.roles.values() {
        out.push(Entry::read(
            EntryKey::role(&r.name),
            State::Role {
                arn: r.arn.clone(),
                trust: r.trust.as_ref().and_then(|t| serde_json::to_value(t).ok()),
                inline: docs(&r.inline),
                attached: r.attached.iter().cloned().collect(),
                boundary: r.boundary.clone(),
                last_used: None,
            },
            at,
            Source::Sweep,
        ));
    }
    for g in snapshot.groups.values() {
        out.push(Entry::read(
            EntryKey::group(&g.name),
            State::Group {
                arn: g.arn.clone(),
                inline: docs(&g.inline),
                attached: g.attached.iter().cloned().collect(),
            },
            at,
            Source::Sweep,
        ));
    }
    // AWS-managed policies too (GAAD lists those attached to someone, with their default
    // document): without them a sweep from the model would not count what `AdministratorAccess`
    // or `ReadOnlyAccess` grant.
    for (arn, versions) in &snapshot.policy_versions {
        let default = versions.iter().find(|(_, d)| *d).map(|(id, _)| id.clone());
        let mut docs: BTreeMap<String, Value> = versions
            .iter()
            .map(|(id, _)| (id.clone(), Value::Null))
            .collect();
        if let (Some(d), Some(doc)) = (&default, snapshot.managed.get(arn)) {
            docs.insert(d.clone(), serde_json::to_value(doc).unwrap_or(Value::Null));
        }
        out.push(Entry::read(
            EntryKey::policy(arn),
            State::Policy {
                arn: arn.clone(),
                default_version: default,
                versions: docs,
            },
            at,
            Source::Sweep,
        ));
    }
    out.extend(instance_profile_entries(snapshot, at));
    out
}

/// The four flags of a public access block (the S3 API's names; a flag left out is off,
/// "PublicAccessBlockConfiguration", S3 API reference), from a connector's read or an event's
/// `PublicAccessBlockConfiguration` (which may carry `xmlns` and text booleans).
pub fn block_flags(v: &Value) -> Option<Value> {
    let o = v.as_object()?;
    let mut out = serde_json::Map::new();
    for flag in PUBLIC_ACCESS_BLOCK_FLAGS {
        let on = match o.get(flag) {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => true,
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => false,
            Some(_) => return None,
        };
        out.insert(flag.to_owned(), Value::Bool(on));
    }
    Some(Value::Object(out))
}

/// The flags of a public access block, as the S3 API names them.
pub const PUBLIC_ACCESS_BLOCK_FLAGS: [&str; 4] = [
    "BlockPublicAcls",
    "IgnorePublicAcls",
    "BlockPublicPolicy",
    "RestrictPublicBuckets",
];

/// A bucket's object ownership setting from a sweep's read (`["BucketOwnerEnforced"]`) or an
/// event's `OwnershipControls` (`{"Rule": {"ObjectOwnership": …}}`, or `Rules` as a list).
pub fn object_ownership(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Array(a) => a.first().and_then(object_ownership),
        Value::Object(o) => o
            .get("ObjectOwnership")
            .or_else(|| o.get("Rule"))
            .or_else(|| o.get("Rules"))
            .and_then(object_ownership),
        _ => None,
    }
}

/// What the model says of the account just before one event: each entry the event touches (and,
/// for an IAM user caller, the caller), known or not, for the planner's undo and the decision's
/// memberships.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BeforeEvent {
    pub entries: BTreeMap<EntryKey, Known>,
}

impl BeforeEvent {
    /// From the entries read for `event` (missing keys are unknown).
    pub fn of(event: &Event<'_>, keys: &[EntryKey], entries: &[Entry], trust: Trust) -> Self {
        let id = event.record.event_id.as_deref().unwrap_or_default();
        let time = event_time(event);
        let mut out = BTreeMap::new();
        for key in keys {
            let known = match (entries.iter().find(|e| &e.key == key), time) {
                (Some(e), Some(t)) => e.before(id, t, trust),
                (Some(_), None) => Known::Unknown {
                    why: "the event has no readable `eventTime`".to_owned(),
                },
                (None, _) => Known::Unknown {
                    why: format!("the model has no entry `{key}` (no sweep has read it yet)"),
                },
            };
            out.insert(key.clone(), known);
        }
        BeforeEvent { entries: out }
    }

    /// Everything the model holds as known and in force before the event, from a sweep's
    /// snapshot taken before it (offline: an account file).
    pub fn from_snapshot(event: &Event<'_>, snapshot: &Snapshot) -> Self {
        let time = event_time(event).unwrap_or(0);
        let keys = touches(event);
        // Read before the event: a second before it, for the model's purposes.
        let entries: Vec<Entry> = entries_of(snapshot, time - 1)
            .into_iter()
            .filter(|e| keys.contains(&e.key))
            .collect();
        let mut out = BeforeEvent::of(event, &keys, &entries, Trust::default());
        // The account file lists everything in the account: what it lacks was absent.
        for key in &keys {
            let absent_known = key.0.starts_with("user/")
                || key.0.starts_with("role/")
                || key.0.starts_with("group/")
                || key.0.starts_with("policy/arn:aws:iam::");
            if absent_known && !entries.iter().any(|e| &e.key == key) {
                out.entries.insert(
                    key.clone(),
                    Known::State {
                        state: State::Absent,
                        since: time,
                        source: Source::Sweep,
                    },
                );
            }
        }
        out
    }

    fn state(&self, key: &EntryKey) -> Result<&State, String> {
        match self.entries.get(key) {
            Some(Known::State { state, .. }) => Ok(state),
            Some(Known::Unknown { why }) => Err(why.clone()),
            None => Err(format!("the model was not asked for `{key}`")),
        }
    }

    /// Where a known state came from, for a step's reasons.
    pub fn provenance(&self, key: &EntryKey) -> String {
        match self.entries.get(key) {
            Some(Known::State { since, source, .. }) => format!(
                "the model's `{key}` as of {} ({})",
                iso(*since),
                describe(source)
            ),
            _ => format!("`{key}`: unknown"),
        }
    }

    /// The inline policy `policy` of `owner` (`user`, `role` or `group`) before the event:
    /// `Ok(None)` when it did not exist.
    pub fn inline(&self, kind: &str, owner: &str, policy: &str) -> Result<Option<Value>, String> {
        let key = EntryKey(format!("{kind}/{owner}"));
        match self.state(&key)? {
            State::User { inline, .. }
            | State::Role { inline, .. }
            | State::Group { inline, .. } => Ok(inline.get(policy).cloned()),
            State::Absent => Err(format!("`{key}` did not exist before the event")),
            _ => Err(format!("`{key}` is not a {kind}")),
        }
    }

    /// A role's trust policy before the event.
    pub fn trust(&self, role: &str) -> Result<Value, String> {
        let key = EntryKey::role(role);
        match self.state(&key)? {
            State::Role { trust: Some(t), .. } => Ok(t.clone()),
            _ => Err(format!("the model holds no trust policy for `{key}`")),
        }
    }

    /// The default version of a customer-managed policy before the event, with the versions it had.
    pub fn default_version(&self, arn: &str) -> Result<(String, Vec<String>), String> {
        let key = EntryKey::policy(arn);
        match self.state(&key)? {
            State::Policy {
                default_version: Some(d),
                versions,
                ..
            } => Ok((d.clone(), versions.keys().cloned().collect())),
            _ => Err(format!("the model holds no default version for `{key}`")),
        }
    }

    /// A user's or role's permissions boundary before the event (`Ok(None)`: none).
    pub fn boundary(&self, kind: &str, owner: &str) -> Result<Option<String>, String> {
        let key = EntryKey(format!("{kind}/{owner}"));
        match self.state(&key)? {
            State::User { boundary, .. } | State::Role { boundary, .. } => Ok(boundary.clone()),
            _ => Err(format!("`{key}` is not a {kind} in the model")),
        }
    }

    /// A bucket's policy before the event (`Ok(None)`: it had none).
    pub fn bucket_policy(&self, bucket: &str) -> Result<Option<Value>, String> {
        let key = EntryKey::bucket(bucket);
        match self.state(&key)? {
            State::Bucket { policy, .. } => Ok(policy.clone()),
            _ => Err(format!("`{key}` is not a bucket in the model")),
        }
    }

    /// A bucket's public access block before the event, as its four flags in the S3 API's names
    /// (`Ok(None)`: the bucket had none). Known only from a state the model vouches for whose
    /// block was read or written: a `null` left by `CreateBucket` is not known (new buckets get
    /// S3's default block, which the event does not show).
    pub fn bucket_public_access_block(&self, bucket: &str) -> Result<Option<Value>, String> {
        let key = EntryKey::bucket(bucket);
        let (state, source) = self.state_and_source(&key)?;
        match state {
            State::Bucket {
                public_access_block,
                ..
            } => match public_access_block {
                Value::Null if source.is_read() => Ok(None),
                Value::Null => Err(format!(
                    "the model's `{key}` does not know its public access block"
                )),
                v => block_flags(v).map(Some).ok_or_else(|| {
                    format!("the model's public access block of `{key}` does not read")
                }),
            },
            _ => Err(format!("`{key}` is not a bucket in the model")),
        }
    }

    /// A bucket's object ownership setting before the event (`ObjectWriter`,
    /// `BucketOwnerPreferred`, `BucketOwnerEnforced`; `Ok(None)`: no ownership controls, which S3
    /// treats as `ObjectWriter`).
    pub fn bucket_ownership(&self, bucket: &str) -> Result<Option<String>, String> {
        let key = EntryKey::bucket(bucket);
        let (state, source) = self.state_and_source(&key)?;
        match state {
            State::Bucket { ownership, .. } => match ownership {
                Value::Null if source.is_read() => Ok(None),
                Value::Null => Err(format!(
                    "the model's `{key}` does not know its object ownership"
                )),
                v => object_ownership(v).map(Some).ok_or_else(|| {
                    format!("the model's object ownership of `{key}` does not read")
                }),
            },
            _ => Err(format!("`{key}` is not a bucket in the model")),
        }
    }

    /// A trail's settings and selectors before the event, each `None` where the model does not
    /// know them.
    pub fn trail(&self, name: &str) -> Result<(Option<Value>, Option<Value>), String> {
        let key = EntryKey::trail(trail_name(name));
        match self.state(&key)? {
            State::Trail {
                settings,
                selectors,
                ..
            } => Ok((settings.clone(), selectors.clone())),
            State::Absent => Err(format!(
                "the model holds `{key}` as absent before the event"
            )),
            _ => Err(format!("`{key}` is not a trail in the model")),
        }
    }

    /// The account's public access block before the event (`Ok(None)`: none).
    pub fn account_public_access_block(&self) -> Result<Option<Value>, String> {
        let key = EntryKey::account_public_access_block();
        match self.state(&key)? {
            State::AccountPublicAccessBlock {
                config: Value::Null,
            } => Ok(None),
            State::AccountPublicAccessBlock { config } => block_flags(config)
                .map(Some)
                .ok_or_else(|| format!("the model's `{key}` does not read")),
            _ => Err(format!("`{key}` is not the account's public access block")),
        }
    }

    fn state_and_source(&self, key: &EntryKey) -> Result<(&State, &Source), String> {
        match self.entries.get(key) {
            Some(Known::State { state, source, .. }) => Ok((state, source)),
            Some(Known::Unknown { why }) => Err(why.clone()),
            None => Err(format!("the model was not asked for `{key}`")),
        }
    }

    /// A user's groups before the event.
    pub fn groups(&self, user: &str) -> Result<Vec<String>, String> {
        let key = EntryKey::user(user);
        match self.state(&key)? {
            State::User { groups, .. } => Ok(groups.iter().cloned().collect()),
            _ => Err(format!("`{key}` is not a user in the model")),
        }
    }
}

// Instance profiles: the role an EC2 call really passes. GAAD lists a profile under each role it
// holds (`RoleDetailList[].InstanceProfileList`), so a sweep seeds the profiles that hold a role;
// `CreateInstanceProfile`, `DeleteInstanceProfile`, `AddRoleToInstanceProfile` and
// `RemoveRoleFromInstanceProfile` keep them current ("Using instance profiles", IAM user guide).

impl EntryKey {
    pub fn instance_profile(name: &str) -> Self {
        EntryKey(format!("instance-profile/{name}"))
    }
    pub fn is_instance_profile(&self) -> bool {
        self.0.starts_with("instance-profile/")
    }
}

/// The instance-profile entry a successful IAM instance-profile event changes.
fn instance_profile_touched(event: &Event<'_>) -> Option<EntryKey> {
    if event.source() != "iam.amazonaws.com" {
        return None;
    }
    match event.name() {
        "CreateInstanceProfile"
        | "DeleteInstanceProfile"
        | "AddRoleToInstanceProfile"
        | "RemoveRoleFromInstanceProfile" => {
            text(&params(event), "/instanceProfileName").map(|n| EntryKey::instance_profile(&n))
        }
        _ => None,
    }
}

/// An instance profile's state after one of its events (`None`: the event says too little, or the
/// state before is not a profile the change can start from).
fn next_instance_profile(event: &Event<'_>, before: Option<&State>) -> Option<State> {
    let p = params(event);
    let s = |k: &str| text(&p, &format!("/{k}"));
    match event.name() {
        "CreateInstanceProfile" => {
            let name = s("instanceProfileName")?;
            let arn = text(&response(event), "/instanceProfile/arn").unwrap_or_else(|| {
                format!(
                    "arn:aws:iam::{}:instance-profile{}{name}",
                    event.account().unwrap_or_default(),
                    s("path").unwrap_or_else(|| "/".to_owned()),
                )
            });
            Some(State::InstanceProfile {
                arn,
                roles: BTreeMap::new(),
            })
        }
        "DeleteInstanceProfile" => Some(State::Absent),
        "AddRoleToInstanceProfile" | "RemoveRoleFromInstanceProfile" => {
            let State::InstanceProfile { arn, roles } = before? else {
                return None;
            };
            let role = s("roleName")?;
            let mut roles = roles.clone();
            if event.name() == "AddRoleToInstanceProfile" {
                roles.entry(role).or_insert(None);
            } else {
                roles.remove(&role);
            }
            Some(State::InstanceProfile {
                arn: arn.clone(),
                roles,
            })
        }
        _ => None,
    }
}

/// The instance profiles of a sweep's snapshot, read at `at`.
pub fn instance_profile_entries(snapshot: &Snapshot, at: i64) -> Vec<Entry> {
    snapshot
        .instance_profiles
        .values()
        .map(|p| {
            Entry::read(
                EntryKey::instance_profile(&p.name),
                State::InstanceProfile {
                    arn: p.arn.clone(),
                    roles: p
                        .roles
                        .iter()
                        .map(|(n, a)| (n.clone(), Some(a.clone())))
                        .collect(),
                },
                at,
                Source::Sweep,
            )
        })
        .collect()
}

impl BeforeEvent {
    /// An instance profile before the event: its ARN and the roles it held (name → ARN, `None`
    /// where the model knows only the name).
    pub fn instance_profile(
        &self,
        name: &str,
    ) -> Result<(String, BTreeMap<String, Option<String>>), String> {
        let key = EntryKey::instance_profile(name);
        match self.state(&key)? {
            State::InstanceProfile { arn, roles } => Ok((arn.clone(), roles.clone())),
            State::Absent => Err(format!(
                "the model holds `{key}` as absent before the event (deleted, or holding no role when a sweep read the account: a read lists only the profiles that hold a role)"
            )),
            _ => Err(format!("`{key}` is not an instance profile in the model")),
        }
    }

    /// A role's ARN (with its path) before the event.
    pub fn role_arn(&self, name: &str) -> Result<String, String> {
        let key = EntryKey::role(name);
        match self.state(&key)? {
            State::Role { arn, .. } => Ok(arn.clone()),
            _ => Err(format!("`{key}` is not a role in the model")),
        }
    }

    /// [`BeforeEvent::from_snapshot`], and also the entries in `consulted` (ones the event uses but
    /// does not change, such as the instance profile it passes) as the snapshot holds them. What
    /// the snapshot lacks stays unknown: an account file lists only the profiles that hold a role.
    pub fn from_snapshot_consulting(
        event: &Event<'_>,
        snapshot: &Snapshot,
        consulted: &[EntryKey],
    ) -> Self {
        let mut out = BeforeEvent::from_snapshot(event, snapshot);
        let time = event_time(event).unwrap_or(0);
        let keys: Vec<EntryKey> = consulted
            .iter()
            .filter(|k| !out.entries.contains_key(k))
            .cloned()
            .collect();
        if keys.is_empty() {
            return out;
        }
        let entries: Vec<Entry> = entries_of(snapshot, time - 1)
            .into_iter()
            .filter(|e| keys.contains(&e.key))
            .collect();
        let mut more = BeforeEvent::of(event, &keys, &entries, Trust::default());
        for (key, known) in &mut more.entries {
            if let Known::Unknown { why } = known {
                if key.is_instance_profile() && !entries.iter().any(|e| &e.key == key) {
                    *why = format!("the account file has no `{key}` (it lists only the instance profiles that hold a role)");
                }
            }
        }
        out.entries.extend(more.entries);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::parse_document;

    fn with_event<R>(json: &str, f: impl FnOnce(&Event<'_>) -> R) -> R {
        let mut f = Some(f);
        let mut out = None;
        parse_document(json.as_bytes(), |_, e| {
            let e = e.unwrap();
            out = f.take().map(|f| f(&e));
        });
        out.unwrap()
    }

    fn ev(id: &str, time: &str, name: &str, params: &str, response: &str) -> String {
        format!(
            r#"{{"eventSource":"iam.amazonaws.com","eventName":"{name}","eventTime":"{time}","eventID":"{id}","recipientAccountId":"111122223333","awsRegion":"us-east-1","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/admin","accountId":"111122223333","userName":"admin"}},"requestParameters":{params},"responseElements":{response}}}"#
        )
    }

    fn t(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp()
    }

    fn user(groups: &[&str]) -> State {
        State::User {
            arn: "arn:aws:iam::111122223333:user/alice".to_owned(),
            inline: BTreeMap::new(),
            attached: BTreeSet::new(),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            boundary: None,
            keys: None,
            login_profile: None,
        }
    }

    #[test]
    fn a_trail_keeps_its_settings_and_selectors_through_the_events_that_change_them() {
        let trail = |name: &str, params: &str, response: &str| {
            ev("t", "2026-11-22T10:00:00Z", name, params, response)
                .replace("iam.amazonaws.com", "cloudtrail.amazonaws.com")
        };
        let key = EntryKey::trail("main");
        let step = |json: String, before: Option<&State>| {
            with_event(&json, |e| {
                assert_eq!(touches(e), vec![key.clone()], "{json}");
                next_state(e, &key, before)
            })
        };
        // CreateTrail: its response is the whole trail (`logFileValidationEnabled` is the
        // request's `enableLogFileValidation`).
        let created = step(
            trail(
                "CreateTrail",
                r#"{"name":"main","s3BucketName":"logs"}"#,
                r#"{"name":"main","s3BucketName":"logs","isMultiRegionTrail":true,"logFileValidationEnabled":true,"trailARN":"arn:aws:cloudtrail:us-east-1:111122223333:trail/main"}"#,
            ),
            None,
        )
        .unwrap();
        let settings = serde_json::json!({"s3BucketName": "logs", "isMultiRegionTrail": true, "enableLogFileValidation": true});
        assert_eq!(
            created,
            State::Trail {
                logging: Some(false),
                settings: Some(settings.clone()),
                selectors: None
            }
        );
        // Logging on, named by ARN: the settings stay.
        let on = step(
            trail(
                "StartLogging",
                r#"{"name":"arn:aws:cloudtrail:us-east-1:111122223333:trail/main"}"#,
                "null",
            ),
            Some(&created),
        )
        .unwrap();
        assert_eq!(
            on,
            State::Trail {
                logging: Some(true),
                settings: Some(settings.clone()),
                selectors: None
            }
        );
        // UpdateTrail without a response: the request over the settings before.
        let moved = step(
            trail(
                "UpdateTrail",
                r#"{"name":"main","s3BucketName":"elsewhere"}"#,
                "null",
            ),
            Some(&on),
        )
        .unwrap();
        let State::Trail {
            settings: Some(moved_settings),
            logging,
            ..
        } = &moved
        else {
            panic!("{moved:?}")
        };
        assert_eq!(*logging, Some(true));
        assert_eq!(moved_settings["s3BucketName"], "elsewhere");
        assert_eq!(moved_settings["isMultiRegionTrail"], true);
        // UpdateTrail with nothing known before and no response: unknown, not a guess.
        let unknown = step(
            trail(
                "UpdateTrail",
                r#"{"name":"main","s3BucketName":"elsewhere"}"#,
                "null",
            ),
            Some(&State::Trail {
                logging: Some(true),
                settings: None,
                selectors: None,
            }),
        )
        .unwrap();
        assert_eq!(
            unknown,
            State::Trail {
                logging: Some(true),
                settings: None,
                selectors: None
            }
        );
        // PutEventSelectors: the selectors it wrote, the rest kept.
        let narrowed = step(
            trail(
                "PutEventSelectors",
                r#"{"trailName":"main","eventSelectors":[{"readWriteType":"ReadOnly","includeManagementEvents":false}]}"#,
                "null",
            ),
            Some(&moved),
        )
        .unwrap();
        let State::Trail {
            selectors: Some(sel),
            settings: Some(kept),
            ..
        } = &narrowed
        else {
            panic!("{narrowed:?}")
        };
        assert_eq!(sel["eventSelectors"][0]["readWriteType"], "ReadOnly");
        assert_eq!(kept, moved_settings);
    }

    #[test]
    fn a_late_event_is_judged_by_the_groups_before_it_not_by_a_later_removal() {
        let mut e = Entry::read(
            EntryKey::user("alice"),
            user(&["Administrators"]),
            t("2026-11-22T09:00:00Z"),
            Source::Sweep,
        );
        // The removal (another admin's lane) is applied first, a minute after alice's call.
        let removal = ev(
            "r-1",
            "2026-11-22T10:01:00Z",
            "RemoveUserFromGroup",
            r#"{"userName":"alice","groupName":"Administrators"}"#,
            "null",
        );
        with_event(&removal, |ev| e.apply(ev)).unwrap();
        let Known::State { state, .. } =
            e.before("a-1", t("2026-11-22T10:00:00Z"), Trust::default())
        else {
            panic!("known")
        };
        assert_eq!(state, user(&["Administrators"]));
        // And for an event after the removal, the groups are the ones without it.
        let Known::State { state, .. } =
            e.before("a-2", t("2026-11-22T10:05:00Z"), Trust::default())
        else {
            panic!("known")
        };
        assert_eq!(state, user(&[]));
    }

    #[test]
    fn a_redelivered_event_sees_the_state_before_its_own_change() {
        let mut e = Entry::read(
            EntryKey::role("app"),
            State::Role {
                arn: "arn:aws:iam::111122223333:role/app".to_owned(),
                trust: None,
                inline: BTreeMap::from([("p".to_owned(), serde_json::json!({"old": true}))]),
                attached: BTreeSet::new(),
                boundary: None,
                last_used: None,
            },
            t("2026-11-22T09:00:00Z"),
            Source::Sweep,
        );
        let put = ev(
            "p-1",
            "2026-11-22T10:00:00Z",
            "PutRolePolicy",
            r#"{"roleName":"app","policyName":"p","policyDocument":"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}"}"#,
            "null",
        );
        with_event(&put, |ev| {
            e.apply(ev).unwrap();
            assert!(e.apply(ev).is_none(), "applied once");
            let before =
                BeforeEvent::of(ev, &touches(ev), std::slice::from_ref(&e), Trust::default());
            assert_eq!(
                before.inline("role", "app", "p").unwrap(),
                Some(serde_json::json!({"old": true}))
            );
        });
    }

    #[test]
    fn an_entry_read_after_the_event_or_too_long_before_it_is_unknown() {
        let e = Entry::read(
            EntryKey::user("alice"),
            user(&[]),
            t("2026-11-22T11:00:00Z"),
            Source::Live,
        );
        assert!(matches!(
            e.before("x", t("2026-11-22T10:00:00Z"), Trust::default()),
            Known::Unknown { .. }
        ));
        let old = Entry::read(
            EntryKey::user("alice"),
            user(&[]),
            t("2026-11-01T00:00:00Z"),
            Source::Sweep,
        );
        let Known::Unknown { why } = old.before("x", t("2026-11-22T10:00:00Z"), Trust::default())
        else {
            panic!("stale")
        };
        assert!(why.contains("may have been missed"), "{why}");
    }

    #[test]
    fn policy_versions_follow_create_and_set_default() {
        let mut e = Entry::read(
            EntryKey::policy("arn:aws:iam::111122223333:policy/app"),
            State::Policy {
                arn: "arn:aws:iam::111122223333:policy/app".to_owned(),
                default_version: Some("v1".to_owned()),
                versions: BTreeMap::from([("v1".to_owned(), Value::Null)]),
            },
            t("2026-11-22T09:00:00Z"),
            Source::Sweep,
        );
        let create = ev(
            "c-1",
            "2026-11-22T10:00:00Z",
            "CreatePolicyVersion",
            r#"{"policyArn":"arn:aws:iam::111122223333:policy/app","setAsDefault":true,"policyDocument":"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}"}"#,
            r#"{"policyVersion":{"versionId":"v2","isDefaultVersion":true}}"#,
        );
        with_event(&create, |ev| {
            e.apply(ev).unwrap();
            let before =
                BeforeEvent::of(ev, &touches(ev), std::slice::from_ref(&e), Trust::default());
            assert_eq!(
                before
                    .default_version("arn:aws:iam::111122223333:policy/app")
                    .unwrap()
                    .0,
                "v1"
            );
        });
        let Some(Version {
            state: State::Policy {
                default_version, ..
            },
            ..
        }) = e.latest()
        else {
            panic!()
        };
        assert_eq!(default_version.as_deref(), Some("v2"));
    }

    #[test]
    fn an_instance_profile_follows_its_events_from_the_sweep() {
        let snap = Snapshot::parse(
            &serde_json::json!({"RoleDetailList": [{"RoleName": "admin", "Arn": "arn:aws:iam::111122223333:role/ops/admin",
                "InstanceProfileList": [{"InstanceProfileName": "web", "Arn": "arn:aws:iam::111122223333:instance-profile/web",
                    "Roles": [{"RoleName": "admin", "Arn": "arn:aws:iam::111122223333:role/ops/admin"}]}]}]})
            .to_string(),
        )
        .unwrap();
        let mut e = instance_profile_entries(&snap, t("2026-11-22T09:00:00Z"))
            .pop()
            .unwrap();
        assert_eq!(e.key, EntryKey::instance_profile("web"));
        assert!(entries_of(&snap, 0).iter().any(|x| x.key == e.key));
        let remove = ev(
            "r-1",
            "2026-11-22T10:00:00Z",
            "RemoveRoleFromInstanceProfile",
            r#"{"instanceProfileName":"web","roleName":"admin"}"#,
            "null",
        );
        let add = ev(
            "a-1",
            "2026-11-22T10:05:00Z",
            "AddRoleToInstanceProfile",
            r#"{"instanceProfileName":"web","roleName":"app"}"#,
            "null",
        );
        for event in [&remove, &add] {
            with_event(event, |ev| {
                assert_eq!(touches(ev), vec![EntryKey::instance_profile("web")]);
                e.apply(ev).unwrap();
            });
        }
        let roles_at = |time: &str| match e.before("x", t(time), Trust::default()) {
            Known::State {
                state: State::InstanceProfile { roles, .. },
                ..
            } => roles,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            roles_at("2026-11-22T09:30:00Z"),
            BTreeMap::from([(
                "admin".to_owned(),
                Some("arn:aws:iam::111122223333:role/ops/admin".to_owned())
            )])
        );
        assert_eq!(roles_at("2026-11-22T10:01:00Z"), BTreeMap::new());
        // The role an event added is known by name only (the event gives no path).
        assert_eq!(
            roles_at("2026-11-22T10:06:00Z"),
            BTreeMap::from([("app".to_owned(), None)])
        );
        let delete = ev(
            "d-1",
            "2026-11-22T10:10:00Z",
            "DeleteInstanceProfile",
            r#"{"instanceProfileName":"web"}"#,
            "null",
        );
        with_event(&delete, |ev| e.apply(ev)).unwrap();
        assert_eq!(e.latest().unwrap().state, State::Absent);
        // Created from nothing, with the ARN the response gives.
        let create = ev(
            "c-1",
            "2026-11-22T10:20:00Z",
            "CreateInstanceProfile",
            r#"{"instanceProfileName":"web","path":"/apps/"}"#,
            r#"{"instanceProfile":{"arn":"arn:aws:iam::111122223333:instance-profile/apps/web","instanceProfileName":"web"}}"#,
        );
        with_event(&create, |ev| e.apply(ev)).unwrap();
        let Some(Version {
            state: State::InstanceProfile { arn, roles },
            ..
        }) = e.latest()
        else {
            panic!("{:?}", e.latest())
        };
        assert_eq!(arn, "arn:aws:iam::111122223333:instance-profile/apps/web");
        assert!(roles.is_empty());
    }

    #[test]
    fn an_instance_profile_the_model_cannot_vouch_for_gives_the_reason() {
        let run = ev(
            "i-1",
            "2026-11-22T10:00:00Z",
            "RunInstances",
            r#"{"iamInstanceProfile":{"name":"web"}}"#,
            "null",
        );
        with_event(&run, |ev| {
            let key = EntryKey::instance_profile("web");
            // Not in the model at all.
            let before = BeforeEvent::of(ev, std::slice::from_ref(&key), &[], Trust::default());
            let why = before.instance_profile("web").unwrap_err();
            assert!(why.contains("no entry `instance-profile/web`"), "{why}");
            // Read after the event.
            let late = Entry::read(
                key.clone(),
                State::InstanceProfile {
                    arn: "arn:aws:iam::111122223333:instance-profile/web".to_owned(),
                    roles: BTreeMap::new(),
                },
                t("2026-11-22T11:00:00Z"),
                Source::Sweep,
            );
            let before = BeforeEvent::of(ev, std::slice::from_ref(&key), &[late], Trust::default());
            let why = before.instance_profile("web").unwrap_err();
            assert!(why.contains("does not reach back"), "{why}");
            // Offline: an account file without the profile leaves it unknown, never absent.
            let before = BeforeEvent::from_snapshot_consulting(ev, &Snapshot::default(), &[key]);
            let why = before.instance_profile("web").unwrap_err();
            assert!(why.contains("the account file has no"), "{why}");
        });
    }

    #[test]
    fn the_history_is_bounded() {
        let mut e = Entry::read(EntryKey::user("alice"), user(&[]), 0, Source::Sweep);
        for i in 0..10 {
            let add = ev(
                &format!("a-{i}"),
                &format!("2026-11-22T10:0{i}:00Z"),
                "AddUserToGroup",
                &format!(r#"{{"userName":"alice","groupName":"g{i}"}}"#),
                "null",
            );
            with_event(&add, |ev| e.apply(ev)).unwrap();
        }
        assert_eq!(e.versions.len(), HISTORY);
    }
}
