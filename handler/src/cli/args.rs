//! The `warden` command line as clap defines it: every command, argument and flag with its help,
//! and the exit codes each command's `--help` ends with. The binary (`main.rs`) parses it and
//! dispatches; `warden completions` and `warden man` are generated from it, and a test walks it to
//! check that every argument says what it is for.

use clap::builder::NonEmptyStringValueParser;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// The line every command's help ends with.
macro_rules! closed_output {
    () => {
        "A closed output (`warden … | head`) ends every command at once, with 0 and no message."
    };
}

pub const CLOSED_OUTPUT: &str = closed_output!();

/// The exit codes of every command, where they differ, for the top-level help.
pub const ALL_EXIT_CODES: &str = concat!(
    "Exit codes: 0 when the command did its work; 2 for a usage error, or when what it needs cannot
be used (a file, the rules, the configuration, AWS: the message names what and where). Besides:
  replay, plan        1  some input record could not be read (the others were processed)
  access              1  the same, or a plan --apply asked for was not applied (it says why)
  evidence verify     1  the trail is broken (the first bad record is named)
  sweep               1  some of the account could not be judged (a note names it)
                      3  findings above the change limit: their changes were not planned
  rules check         1  the rule file has errors
  check               1  the check failed, or cannot prove it passes (the output says which)
  rollback            0  also when the change is rolled back already (it says so, changes nothing)

",
    closed_output!()
);

pub const EXIT_CODES: &str = concat!(
    "Exit codes:
  0  done; every input record was read
  1  done, but some input (a file, line or record) could not be read: see the errors
  2  usage error, or the rules, groups or input paths could not be used

",
    closed_output!()
);

pub const ACCESS_EXIT_CODES: &str = concat!(
    "Exit codes:
  0  done; every input record was read (and, with --apply, every plan applied or in force already)
  1  done, but some input (a file, line or record) could not be read: see the errors; or, with
     --apply, a plan was not applied or does not hold once applied (its `applied` says why)
  2  usage error, or the input paths, account file, model or AWS configuration could not be used

",
    closed_output!()
);

pub const PLAN_EXIT_CODES: &str = concat!(
    "Exit codes:
  0  every event was planned
  1  some record of the event file could not be read: see the errors (the others were planned)
  2  usage error, or the rules, groups, account or event file could not be used

",
    closed_output!()
);

pub const SWEEP_EXIT_CODES: &str = concat!(
    "Exit codes:
  0  swept: every finding was judged, and every change within --max-changes
  1  swept, but some of the account could not be judged (a managed policy attached but not in
     the account file): the notes on stderr name it
  3  swept, and some findings' changes are over --max-changes: they were not planned (the
     findings say so); takes precedence over 1
  2  usage error, or the account, buckets, credential report, trails, held, access keys,
     organization policies (--scps) or rules file could not be used (the message names the file
     and what is wrong)

",
    closed_output!()
);

pub const VERIFY_EXIT_CODES: &str = concat!(
    "Exit codes:
  0  the trail is intact (an existing empty file is intact: it says `empty, no records`)
  1  the trail is broken: the first bad record is named
  2  the trail cannot be read (a missing or unreadable file, a line that is not a record), or a
     usage error

",
    closed_output!()
);

pub const LIST_EXIT_CODES: &str = concat!(
    "Exit codes:
  0  every record was listed (none, for an existing empty file)
  2  the trail cannot be read (a missing or unreadable file, a line that is not a record), or a
     usage error

",
    closed_output!()
);

pub const SHOW_EXIT_CODES: &str = concat!(
    "Exit codes:
  0  the record was shown
  2  no record has that id, the trail cannot be read, or a usage error

",
    closed_output!()
);

pub const EXPORT_EXIT_CODES: &str = concat!(
    "Exit codes:
  0  every record was written (the head goes to stderr)
  2  the store cannot be read, the file exists already or cannot be written, or a usage error

",
    closed_output!()
);

pub const RULES_CHECK_EXIT_CODES: &str = concat!(
    "Exit codes:
  0  valid (warnings only, if any)
  1  the rule file has errors: each names the file, line and field
  2  the file cannot be read, or a usage error

",
    closed_output!()
);

pub const ROLLBACK_EXIT_CODES: &str = concat!(
    "Exit codes:
  0  rolled back, or rolled back already (it says so and changes nothing)
  2  refused (the live state changed since Warden's change: see --force), no such change record,
     the configuration or AWS could not be used, or a usage error

",
    closed_output!()
);

pub const AWS_EXIT_CODES: &str = concat!(
    "Exit codes:
  0  done
  2  the configuration or AWS could not be used (no region, no credentials, a missing resource:
     the message says which), or a usage error

",
    closed_output!()
);

pub const CATCH_UP_EXIT_CODES: &str = concat!(
    "Exit codes:
  0  every window was looked up and what the rules route was sent
  2  the configuration or AWS could not be used (no region, no credentials, no intake queue, a
     lookup or send that failed after its retries: the message says which; the checkpoint keeps
     what was sent), or a usage error

",
    closed_output!()
);

pub const CHECK_EXIT_CODES: &str = concat!(
    "Exit codes:
  0  pass: proven for every request
  1  fail (the output names an example request and the statement that allows it), or cannot
     prove (the output says why)
  2  an input cannot be read (the message names the file and what is wrong), or a usage error

",
    closed_output!()
);

pub const CONFIG_EXIT_CODES: &str = concat!(
    "Exit codes:
  0  the `export` lines were printed
  2  the stack does not exist, is not in a complete state (`CREATE_COMPLETE`, `UPDATE_COMPLETE`,
     `UPDATE_ROLLBACK_COMPLETE`, `IMPORT_COMPLETE`, `IMPORT_ROLLBACK_COMPLETE`), has no Warden
     outputs, or AWS could not be used

",
    closed_output!()
);

/// Warden: detect-and-revoke guard for AWS access.
///
/// Offline: `replay`, `plan`, `rules`, `evidence verify FILE`. On an account (the standard AWS
/// configuration, and the WARDEN_* variables that `warden init` or `warden config --stack` print):
/// `worker`, `status`, `evidence`, `rollback`, `release`. Locally: `demo`.
#[derive(Parser)]
#[command(name = "warden", version, after_help = ALL_EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Which of `warden access --plan`'s plans to apply.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
pub enum ApplyPlan {
    /// Deny the unused permissions (Warden's own Deny, held in force).
    DenyUnused,
    /// Replace the principal's own inline policies with the generated one.
    ReplaceInline,
}

/// What a sweep may change.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
pub enum SweepMode {
    /// Report; put back only Warden's own drift.
    Monitor,
    /// Make the planned changes too, where the rule enforces.
    Enforce,
}

impl SweepMode {
    pub fn rules_mode(self) -> policy_rules::rules::Mode {
        match self {
            SweepMode::Monitor => policy_rules::rules::Mode::Monitor,
            SweepMode::Enforce => policy_rules::rules::Mode::Enforce,
        }
    }
}

/// How a command prints its data.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
pub enum Format {
    /// Lines for people.
    Text,
    /// JSON (one object a line where there are many).
    Json,
}

#[derive(Subcommand)]
pub enum Command {
    /// Replay CloudTrail logs through the rules and show what Warden would have done.
    ///
    /// PATH may be a CloudTrail log file ({"Records":[…]}, plain or .gz), a JSON Lines file (one
    /// record or EventBridge envelope per line, plain or .gz), a single record or envelope, or a
    /// directory of these (read recursively).
    #[command(after_help = EXIT_CODES)]
    Replay {
        /// Rule file (TOML); the default rule pack when absent.
        #[arg(long)]
        rules: Option<PathBuf>,
        /// Replace the groups of the `admins` allow-set (repeatable).
        #[arg(long = "allow-group", value_name = "NAME")]
        allow_groups: Vec<String>,
        /// Group memberships before the replayed events: a JSON map from user name or ARN to group
        /// names, or the output of `aws iam get-account-authorization-details`. Entries of another
        /// account (by their ARNs) than an event's do not apply to it.
        #[arg(long)]
        groups: Option<PathBuf>,
        /// Threads to spread files over (default: all cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// `text`: a summary for people; `json`: one JSON object per event (JSON Lines).
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Never show a progress bar.
        #[arg(long)]
        no_progress: bool,
        /// CloudTrail log files, JSON Lines files, single records, or directories of them.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Least privilege from CloudTrail history: per principal (the user; the role behind its
    /// sessions) what it used (action, resource, count, first and last seen), what it was denied,
    /// what no catalog entry explains, and the least-privilege policy its use needs, checked
    /// against every successful call. With --account, the unused-access findings
    /// (`UnusedPermission`, `UnusedIAMRole`, `UnusedIAMUserAccessKey`, `UnusedIAMUserPassword`, or
    /// `INSUFFICIENT_DATA` where the history does not cover a window).
    ///
    /// PATH: what `replay` reads (log files, JSON Lines, envelopes, directories, gzip), or a
    /// trail's S3 location `s3://BUCKET/PREFIX` (every object under it, read with the configured
    /// AWS credentials).
    #[command(after_help = ACCESS_EXIT_CODES)]
    Access {
        /// The account as `aws iam get-account-authorization-details` prints it: the principals'
        /// policies, for findings.
        #[arg(long, conflicts_with = "from_model")]
        account: Option<PathBuf>,
        /// Judge against the configured Warden's account model instead of an account file (its
        /// state table, as the last sweep and every event since left it; the `WARDEN_*` variables
        /// and AWS credentials as for `warden sweep`).
        #[arg(long)]
        from_model: bool,
        /// Only this principal (a user or role ARN; without a path it matches the name at any
        /// path). Repeatable.
        #[arg(long = "principal", value_name = "ARN")]
        principals: Vec<String>,
        /// Only events at or after this time (ISO 8601).
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        /// Only events before this time (ISO 8601); also the end of every window (default: the
        /// last record's hour).
        #[arg(long, value_name = "TIME")]
        until: Option<String>,
        /// The windows findings judge, in days.
        #[arg(long, default_value = "90d", value_name = "DAYS,…")]
        window: String,
        /// Permissions granted within this many days before the window's end are never unused.
        #[arg(long, default_value_t = 14, value_name = "DAYS")]
        recent_days: u32,
        /// The longest silence (hours without any record) still counted as covered.
        #[arg(long, default_value_t = 6, value_name = "HOURS")]
        max_quiet_hours: u32,
        /// The credential report (CSV, or the JSON of `aws iam get-credential-report`), for
        /// unused keys and passwords.
        #[arg(long, value_name = "FILE")]
        credential_report: Option<PathBuf>,
        /// Threads to spread files over (default: all cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// `text`: for people; `json`: one JSON object per principal (JSON Lines).
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// With --account or --from-model: also turn the findings into Warden plans (a Deny of
        /// the unused permissions, or the replacement of the principal's own inline policies with
        /// the generated one), each with its undo; printed (`monitor`); --apply applies one.
        #[arg(long)]
        plan: bool,
        /// Apply one of the plans, on the configured account (the `WARDEN_*` variables and AWS
        /// credentials, as for `warden rollback`), to each principal named by --principal (at
        /// least one; never to every principal of the history at once): `deny-unused` adds the
        /// unused pairs to Warden's Deny on it (kept in force like every Deny Warden holds);
        /// `replace-inline` puts the generated policy and deletes the principal's own inline
        /// ones (refused, changing nothing, when a live policy is not the one the plan was made
        /// from). Each is recorded as one `change` record: `warden rollback ID` undoes it.
        #[arg(long, value_enum, value_name = "PLAN", requires = "plan")]
        apply: Option<ApplyPlan>,
        /// CloudTrail log files, JSON Lines files, single records, or directories of them.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Show what Warden would do about one event: the caller, action(s), resource(s), verdict,
    /// reasons, and the exact policy document it would write (or why a person must act).
    #[command(after_help = PLAN_EXIT_CODES)]
    Plan {
        /// Rule file (TOML); the default rule pack when absent.
        #[arg(long)]
        rules: Option<PathBuf>,
        /// Replace the groups of the `admins` allow-set (repeatable).
        #[arg(long = "allow-group", value_name = "NAME")]
        allow_groups: Vec<String>,
        /// The event(s), read as `replay` reads a file: a CloudTrail record, an EventBridge
        /// envelope, a log file, or JSON Lines of these, plain or .gz (every record is planned).
        #[arg(long)]
        event: PathBuf,
        /// The account as `aws iam get-account-authorization-details` prints it: current policies,
        /// groups (memberships before the event), paths. Without it the plan uses what the event
        /// tells. Not used for an event of another account (with a warning).
        #[arg(long)]
        account: Option<PathBuf>,
        /// Group memberships before the event, as for `replay` (asked before the account file's);
        /// entries of another account than the event's do not apply (with a warning).
        #[arg(long)]
        groups: Option<PathBuf>,
        /// `text`: the plan for people; `json`: one JSON object per event.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Sweep one account (offline from its files, or live): what no event reported. Standing violations of the rules,
    /// effective admins outside the admin allow-set (with the escalation method), exposed buckets
    /// and public access blocks off, unused access keys, passwords and roles, and drift of what
    /// Warden holds in force (and trails not logging), each with what Warden would do. Live, drift
    /// is put back; with `--mode enforce` the other findings' planned changes are made too.
    ///
    /// The buckets file is JSON: {"read_at": "2026-12-01T00:00:00Z", "account_public_access_block":
    /// {"BlockPublicAcls": true, "IgnorePublicAcls": true, "BlockPublicPolicy": true,
    /// "RestrictPublicBuckets": true}, "buckets": [{"name": "b", "region": "us-east-1", "policy":
    /// {…} or the string GetBucketPolicy returns, "acl": [GetBucketAcl's Grants],
    /// "public_access_block": {…}, "object_ownership": "BucketOwnerEnforced"}]}; every field but
    /// `buckets` and `name` may be left out (a missing block is off).
    #[command(after_help = SWEEP_EXIT_CODES)]
    Sweep {
        /// The account as `aws iam get-account-authorization-details` prints it (every page
        /// merged); its modification time is taken as the time it was read. Without it, the
        /// configured account is swept live (as the Lambda does: read into the account model,
        /// drift put back, one summary alert), and the file options do not apply.
        #[arg(long)]
        account: Option<PathBuf>,
        /// The buckets file (JSON, the format above; README, "warden sweep").
        #[arg(long)]
        buckets: Option<PathBuf>,
        /// The credential report: the CSV, or the JSON `aws iam get-credential-report` prints
        /// (its `GeneratedTime` is the data's age). Without it, keys and passwords are
        /// INSUFFICIENT_DATA.
        #[arg(long, value_name = "FILE")]
        credential_report: Option<PathBuf>,
        /// Trails: JSON `[{"name": …, "arn": …, "is_logging": true}]`.
        #[arg(long)]
        trails: Option<PathBuf>,
        /// Warden's record of what it holds in force: a JSON array (or JSON Lines) of its held
        /// records, for drift.
        #[arg(long)]
        held: Option<PathBuf>,
        /// Access keys as `aws iam list-access-keys` prints them (one output, or a JSON array of
        /// them): tells a key Warden set Inactive that is Active again.
        #[arg(long, value_name = "FILE")]
        access_keys: Option<PathBuf>,
        /// The organization policies on the path to the account, JSON: {"account":
        /// "111122223333", "management_account": "999988887777", "scps": [[root's policies], [each OU's], …, [the account's]], "rcps":
        /// [the same]}, each policy {"name": "FullAWSAccess", "policy": {…} or the string
        /// `aws organizations describe-policy` prints as Content}. Every evaluation then passes
        /// them: SCPs cap the account's principals, RCPs requests to its resources (neither
        /// applies to the management account or service-linked roles); a file whose `account` is
        /// not the swept account's is refused. Offline only: the live
        /// sweep reads them from AWS Organizations.
        #[arg(long, value_name = "FILE", requires = "account")]
        scps: Option<PathBuf>,
        /// Rule file (TOML); the default rule pack when absent.
        #[arg(long)]
        rules: Option<PathBuf>,
        /// Replace the groups of the `admins` allow-set (repeatable).
        #[arg(long = "allow-group", value_name = "NAME")]
        allow_groups: Vec<String>,
        /// `text`: a line or three a finding; `json`: one JSON object a finding (JSON Lines). The
        /// summary goes to stderr either way.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Keys, passwords and roles unused for more days than this are `unused`.
        #[arg(long, value_name = "N", default_value_t = 90)]
        unused_days: u32,
        /// Plan at most this many changes, worst findings first; past it, findings say their
        /// changes were not planned, and the exit code is 3.
        #[arg(long, value_name = "N", default_value_t = 20)]
        max_changes: usize,
        /// `monitor`: change nothing but Warden's own drift (live). `enforce`: where the rule
        /// enforces too, make each planned change within `--max-changes` (a narrow Deny on the
        /// principal, a bucket's outside grants, public ACL grants or block), each a `change`
        /// evidence record `warden rollback` undoes. Offline, it only shows what would be made.
        #[arg(long, value_enum, default_value = "monitor")]
        mode: SweepMode,
        /// Sweep as of this time (ISO 8601) instead of now: reproducible ages.
        #[arg(long, value_name = "TIME")]
        now: Option<String>,
    },
    /// Create, idempotently, the intake, work and dead-letter queues, alert topic, tables and
    /// EventBridge rules in the configured account, and print the configuration as
    /// `export NAME=value` lines.
    ///
    /// A quick setup for trying Warden with your own credentials. A deployed Warden is the
    /// CloudFormation stack instead (cloudformation/warden.yaml; the demo deploys it), which also
    /// holds the function, its least-privilege role, the alarms and the alert schedule:
    /// `warden config --stack NAME` prints the same lines from it.
    ///
    /// The intake and work queues admit only the principal running init (a role's session: that
    /// role) and the rules' exact break-glass ARNs; run `warden worker` as that principal. The
    /// first line printed, a shell comment, names them.
    #[command(after_help = AWS_EXIT_CODES)]
    Init {
        /// Prefix of every resource name.
        #[arg(long, default_value = "warden")]
        prefix: String,
        /// Also create an S3 bucket with Object Lock mirroring the evidence.
        #[arg(long)]
        evidence_bucket: bool,
    },
    /// Print the configuration of a deployed Warden as `export NAME=value` lines, from the
    /// CloudFormation stack's outputs: `eval "$(warden config --stack warden)"`.
    ///
    /// Each output whose key starts with `Warden` is the variable of that name in capitals with
    /// `_` between the words (`WardenQueueUrl` is `WARDEN_QUEUE_URL`); other outputs are left
    /// out. The lines come in the order `warden init` prints them, then the others by name.
    #[command(after_help = CONFIG_EXIT_CODES)]
    Config {
        /// The stack's name or id (in the configured region).
        #[arg(long, value_name = "NAME", value_parser = NonEmptyStringValueParser::new())]
        stack: String,
    },
    /// Poll the queues and enforce: the Lambda's forwarder (intake to work queue, in lanes) and
    /// flow, run here, with its minute tick (heartbeat, catch-up, due alerts). Configuration from
    /// WARDEN_* variables (see the README) and the standard AWS ones (AWS_ENDPOINT_URL, …).
    #[command(after_help = AWS_EXIT_CODES)]
    Worker {
        /// Process what is on the queues, send pending alerts, and exit (no tick).
        #[arg(long)]
        once: bool,
    },
    /// Fill a gap from CloudTrail event history: look up the management events of every source
    /// the rules route (and IAM, S3, STS, CloudTrail) from --since to --until in every covered
    /// region's history, and send those the EventBridge rules would have delivered to the intake
    /// queue, wrapped as EventBridge wraps them. The ledger makes events Warden already handled
    /// free. Prints, per region and source, the events looked up, sent and not routed, the first
    /// and last time sent, and the pacing (LookupEvents: 2 requests/s per account and region,
    /// each region paced on its own). The history holds 90 days of management events
    /// only: S3 data events (object-level calls) are never in it.
    #[command(name = "catch-up", after_help = CATCH_UP_EXIT_CODES)]
    CatchUp {
        /// Start: RFC 3339 (`2026-12-01T22:00:00Z`) or a time ago (`90m`, `6h`, `2d`).
        #[arg(long, value_name = "TIME")]
        since: String,
        /// End (default: now), as --since.
        #[arg(long, value_name = "TIME")]
        until: Option<String>,
        /// Read this region's event history (repeatable; default: every covered region, the
        /// main one and WARDEN_REGIONS). IAM, a global service, is read in the main region only.
        #[arg(long = "region", value_name = "REGION")]
        regions: Vec<String>,
        /// `text`: a table for people; `json`: one JSON object.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// What Warden has in force now, per principal: its Deny (the denied actions and resources),
    /// revoked sessions, quarantine, access keys it set Inactive, login profiles it deleted, each
    /// with how to lift it. Read from Warden's own record (the state table), not from IAM.
    #[command(after_help = AWS_EXIT_CODES)]
    Status {
        /// `text`: for people; `json`: one JSON object per principal (JSON Lines).
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Restore the before-state of a change Warden made (an evidence record id of kind `change`),
    /// through its connector; refused when the live state changed since, unless --force. A change
    /// rolled back already is said so, and nothing is changed.
    #[command(after_help = ROLLBACK_EXIT_CODES)]
    Rollback {
        /// The id of the `change` record (`warden evidence list` shows it).
        #[arg(value_parser = NonEmptyStringValueParser::new())]
        id: String,
        /// Restore even when the live state changed since Warden's change (that later change is
        /// lost; it is recorded in the rollback's `live_before`).
        #[arg(long)]
        force: bool,
    },
    /// Lift what Warden holds in force on a principal (its Deny, its quarantine) and clear
    /// Warden's record of it, each change recorded as evidence; keys Warden deactivated stay
    /// Inactive. The documented way to lift a Deny: lifting it by hand is tampering, put back.
    #[command(after_help = AWS_EXIT_CODES)]
    Release {
        /// The principal's full ARN (`arn:aws:iam::123456789012:user/ops/bob`).
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        principal: Option<String>,
        /// Every principal Warden holds something in force on.
        #[arg(long)]
        all: bool,
    },
    /// Run the whole thing on the local AWS (installed and started as needed), step by step.
    ///
    /// The story goes to stdout; Warden's log lines go to a file (named at the start) unless
    /// `--verbose` sends them to stderr.
    #[command(after_help = AWS_EXIT_CODES)]
    Demo {
        /// Log lines to stderr, between the story's lines, instead of to a file.
        #[arg(short, long)]
        verbose: bool,
    },
    /// Check, list, show or export the evidence trail (a local file, or the configured store).
    Evidence {
        #[command(subcommand)]
        command: EvidenceCommand,
    },
    /// Check IAM policies before they ship, as IAM Access Analyzer's custom policy checks do:
    /// `no-new-access` (a new policy set allows nothing its reference does not) and
    /// `access-not-granted` (a policy set allows none of some actions). Each input is a policy
    /// document (JSON), a CloudFormation template (JSON or YAML: its `AWS::IAM::*` policies and
    /// the inline policies of roles, users and groups), or the output of `aws iam
    /// get-account-authorization-details`.
    ///
    /// `pass` is said only when proven for every request; `fail` only with an example request
    /// the evaluator confirms; otherwise `cannot-prove`, with why. Template values known only at
    /// deployment (`${AWS::AccountId}`, `!GetAtt`) are the same value on both sides; values that
    /// may be anything (parameters, `!If`) are read in their broadest or narrowest form, whichever
    /// is safe.
    Check {
        #[command(subcommand)]
        command: CheckCommand,
    },
    /// Check or print rule files.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Print a shell completion script: `warden completions bash > /etc/bash_completion.d/warden`,
    /// `warden completions zsh > "${fpath[1]}/_warden"`, `warden completions fish >
    /// ~/.config/fish/completions/warden.fish`.
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff): `warden man | man -l -`; `--dir DIR` writes one page per command
    /// (`warden.1`, `warden-evidence-list.1`, …).
    Man {
        /// Write `warden.1` and a page per command into this directory instead of printing.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub enum EvidenceCommand {
    /// Verify the hash chain: names the first modified, deleted, inserted or moved record. Exit 0
    /// when intact, 1 when not, 2 when the trail cannot be read.
    #[command(after_help = VERIFY_EXIT_CODES)]
    Verify {
        /// A local JSON Lines trail, which must exist; the configured store (WARDEN_EVIDENCE_TABLE)
        /// when absent, whose head is checked too.
        file: Option<PathBuf>,
        /// The newest record's `SEQ:HASH` as kept outside the file, to catch truncation.
        #[arg(long, value_name = "SEQ:HASH")]
        head: Option<String>,
    },
    /// List the records, one a line (`--format json`: id, seq, kind, principal, target (the
    /// changed resource's ARN), actions, what (what a change denied, undid or released), rule,
    /// time, event_id).
    #[command(after_help = LIST_EXIT_CODES)]
    List {
        /// A local JSON Lines trail, which must exist; the configured store when absent.
        #[arg(long)]
        file: Option<PathBuf>,
        /// `text`: one line a record; `json`: one JSON object a record (JSON Lines).
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Show one record in full: what it says, the before- and after-state of a change, the AWS
    /// request ids, its hash and the hash it chains to.
    #[command(after_help = SHOW_EXIT_CODES)]
    Show {
        /// The record's id (`warden evidence list` shows it).
        #[arg(value_parser = NonEmptyStringValueParser::new())]
        id: String,
        /// A local JSON Lines trail, which must exist; the configured store when absent.
        #[arg(long)]
        file: Option<PathBuf>,
        /// `text`: for people; `json`: the record as stored (one canonical JSON object).
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Write the configured store's whole trail as JSON Lines, the form `warden evidence verify
    /// FILE` checks offline; the head (`SEQ:HASH`, for `verify --head`) goes to stderr.
    #[command(after_help = EXPORT_EXIT_CODES)]
    Export {
        /// Write to this file (created; an existing file is never overwritten) instead of stdout.
        #[arg(long, short = 'o', visible_alias = "output", value_name = "F")]
        file: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub enum CheckCommand {
    /// Fail when the policy set (--policy) allows any request the reference (--reference) does
    /// not, naming an example request and the statement that allows it.
    #[command(name = "no-new-access", after_help = CHECK_EXIT_CODES)]
    NoNewAccess {
        /// The policies as they are now (the baseline).
        #[arg(long, value_name = "FILE")]
        reference: PathBuf,
        /// The policies as they will be.
        #[arg(long, value_name = "FILE")]
        policy: PathBuf,
        /// For account files: compare this principal's own policies (inline, attached, its
        /// groups') instead of every policy in the file.
        #[arg(long, value_name = "ARN")]
        principal: Option<String>,
        /// `text`: a line or two for people; `json`: one JSON object (`check`, `result`, `why`,
        /// `example`).
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Fail when the policy set allows any of --actions (on any of --resources), naming an
    /// example request and the statement that allows it.
    #[command(name = "access-not-granted", after_help = CHECK_EXIT_CODES)]
    AccessNotGranted {
        /// Actions that must not be allowed, comma-separated (`iam:PassRole,s3:PutBucketPolicy`;
        /// wildcards allowed).
        #[arg(long, value_name = "A,B", value_delimiter = ',', required = true)]
        actions: Vec<String>,
        /// Resources they must not be allowed on, comma-separated ARNs or patterns (default:
        /// any resource).
        #[arg(long, value_name = "R,…", value_delimiter = ',')]
        resources: Vec<String>,
        /// For an account file: check this principal's own policies instead of every policy in
        /// the file.
        #[arg(long, value_name = "ARN")]
        principal: Option<String>,
        /// `text`: a line or two for people; `json`: one JSON object (`check`, `result`, `why`,
        /// `example`).
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// The policies to check.
        #[arg(value_name = "POLICY")]
        policy: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum RulesCommand {
    /// Validate a rule file: errors and warnings name the file, line and field, on stderr.
    /// Exit 0 when valid (warnings only, if any), 1 when it has errors, 2 when it cannot be read.
    #[command(after_help = RULES_CHECK_EXIT_CODES)]
    Check {
        /// The rule file (TOML).
        file: PathBuf,
    },
    /// Print the default rule pack (a starting point for your own).
    Default,
}
