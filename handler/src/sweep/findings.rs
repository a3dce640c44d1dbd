//! A sweep's findings over the account model: the model's newest states turned into the pure
//! sweep's input (the snapshot, the buckets, the trails; the credential report, Warden's own rules
//! and the organization's SCPs and RCPs read live; Warden's
//! record of what it holds), [`policy_rules::sweep::sweep`] run over it, the drift it finds put
//! back through the flow (Warden's own changes are restored whatever the sweep's mode), every
//! finding recorded in the evidence trail, and one alert summarising the findings, worst first.
//!
//! Not here: reading the account into the model (`run.rs`), or judging (policy-rules).

use crate::aws::Clients;
use crate::connectors::credential_report;
use crate::connectors::organizations::OrgRead;
use crate::enforce::alerts::Alert;
use crate::enforce::flow::{Flow, FlowError};
use chrono::{DateTime, Utc};
use policy_rules::held::{self, Held};
use policy_rules::model::{Entry, State};
use policy_rules::policy::PolicyDocument;
use policy_rules::snapshot::{GroupRecord, PrincipalRecord, Snapshot};
use policy_rules::sweep::input::{
    AclGrant, Bucket, Buckets, CredentialReport, PublicAccessBlock, Trail,
};
use policy_rules::sweep::own_pipeline::OwnPipeline;
use policy_rules::sweep::{sweep, Kind, SweepInput, SweepOptions, SweepReport};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// What the findings step did.
#[derive(Debug, Clone)]
pub struct Found {
    pub report: SweepReport,
    /// Principals whose drifted state Warden put back, with the records written.
    pub put_back: Vec<(String, usize)>,
    /// An enforcing sweep's changes for its other findings (`apply.rs`).
    pub made: Vec<crate::sweep::apply::Made>,
    /// Requests: the model's scan, the credential report.
    pub store_requests: usize,
    pub account_requests: usize,
    /// What could not be read (the credential report), said in the report's notes too.
    pub notes: Vec<String>,
    /// Findings recorded in the evidence trail.
    pub recorded: usize,
}

/// Evidence records per append: one DynamoDB transaction's worth (`stores::dynamo`'s limit).
const RECORDS_PER_APPEND: usize = 32;

/// Every finding into the evidence trail as a `decision` record of the sweep (`body.sweep`,
/// `body.finding`: the rule, the principal or resource, the evidence, the data's age and what
/// Warden did or would do), so a sweep's judgement is as tamper-evident as an event's. Ids come
/// from the sweep and the finding, so a findings step run again writes nothing twice.
async fn record_findings(
    flow: &Flow,
    sweep_id: &str,
    report: &SweepReport,
) -> Result<usize, FlowError> {
    use policy_rules::evidence::{deterministic_id, Draft, RecordKind};
    let now = crate::enforce::flow::iso((flow.clock)());
    let drafts: Vec<Draft> = report
        .findings
        .iter()
        .map(|f| {
            let subject = f
                .principal
                .as_deref()
                .or(f.resource.as_deref())
                .unwrap_or("");
            Draft {
                id: deterministic_id(&[
                    "sweep-finding",
                    sweep_id,
                    f.kind.as_str(),
                    &f.finding_type,
                    f.rule.as_deref().unwrap_or(""),
                    subject,
                    &f.actions.join(","),
                ]),
                time: now.clone(),
                kind: Some(RecordKind::Decision),
                principal: f.principal.clone(),
                target: f.resource.clone(),
                actions: f.actions.clone(),
                rule: f.rule.clone(),
                event_id: None,
                body: json!({"sweep": sweep_id, "finding": f}),
            }
        })
        .collect();
    for chunk in drafts.chunks(RECORDS_PER_APPEND) {
        flow.evidence.append_all(chunk.to_vec()).await?;
    }
    Ok(drafts.len())
}

fn documents(inline: &BTreeMap<String, Value>) -> BTreeMap<String, PolicyDocument> {
    inline
        .iter()
        .filter_map(|(n, d)| Some((n.clone(), PolicyDocument::from_value(d).ok()?)))
        .collect()
}

fn name_of(entry: &Entry) -> &str {
    entry.key.as_str().split_once('/').map_or("", |(_, n)| n)
}

fn flag(v: &Value, k: &str) -> bool {
    v.get(k).and_then(Value::as_bool).unwrap_or(false)
}

/// The pure sweep's input from the model's newest states.
pub fn input_of(entries: &[Entry]) -> (Snapshot, Buckets) {
    let mut snap = Snapshot::default();
    let mut buckets = Buckets::default();
    for entry in entries {
        let Some(latest) = entry.latest() else {
            continue;
        };
        let name = name_of(entry).to_owned();
        match &latest.state {
            State::User {
                arn,
                inline,
                attached,
                groups,
                boundary,
                ..
            } => {
                snap.users.insert(
                    name.clone(),
                    PrincipalRecord {
                        arn: arn.clone(),
                        name,
                        inline: documents(inline),
                        attached: attached.iter().cloned().collect(),
                        groups: groups.iter().cloned().collect(),
                        boundary: boundary.clone(),
                        ..Default::default()
                    },
                );
            }
            State::Role {
                arn,
                trust,
                inline,
                attached,
                boundary,
                last_used,
            } => {
                snap.roles.insert(
                    name.clone(),
                    PrincipalRecord {
                        arn: arn.clone(),
                        name,
                        inline: documents(inline),
                        attached: attached.iter().cloned().collect(),
                        boundary: boundary.clone(),
                        trust: trust
                            .as_ref()
                            .and_then(|t| PolicyDocument::from_value(t).ok()),
                        last_used: last_used.clone(),
                        ..Default::default()
                    },
                );
            }
            State::Group {
                arn,
                inline,
                attached,
            } => {
                snap.groups.insert(
                    name.clone(),
                    GroupRecord {
                        arn: arn.clone(),
                        name,
                        inline: documents(inline),
                        attached: attached.iter().cloned().collect(),
                        ..Default::default()
                    },
                );
            }
            State::Policy {
                arn,
                default_version,
                versions,
            } => {
                if let Some(doc) = default_version
                    .as_ref()
                    .and_then(|d| versions.get(d))
                    .and_then(|d| PolicyDocument::from_value(d).ok())
                {
                    snap.managed.insert(arn.clone(), doc);
                }
                snap.policy_versions.insert(
                    arn.clone(),
                    versions
                        .keys()
                        .map(|v| (v.clone(), Some(v) == default_version.as_ref()))
                        .collect(),
                );
            }
            State::Bucket {
                policy,
                acl,
                public_access_block,
                ownership,
            } => {
                // The connectors' shapes: `{"owner", "grants": [{"grantee", "type",
                // "permission"}]}` and the four flags (or `null`).
                let grants = acl
                    .get("grants")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|g| {
                        let kind = g.get("type").and_then(Value::as_str).unwrap_or("");
                        let grantee = g.get("grantee").and_then(Value::as_str).map(str::to_owned);
                        AclGrant {
                            grantee_type: kind.to_owned(),
                            uri: (kind == "Group").then(|| grantee.clone()).flatten(),
                            id: (kind == "CanonicalUser").then_some(grantee).flatten(),
                            permission: g
                                .get("permission")
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .to_owned(),
                        }
                    })
                    .collect();
                let pab = (!public_access_block.is_null()).then(|| PublicAccessBlock {
                    block_public_acls: flag(public_access_block, "BlockPublicAcls"),
                    ignore_public_acls: flag(public_access_block, "IgnorePublicAcls"),
                    block_public_policy: flag(public_access_block, "BlockPublicPolicy"),
                    restrict_public_buckets: flag(public_access_block, "RestrictPublicBuckets"),
                });
                buckets.buckets.push(Bucket {
                    name,
                    region: None,
                    policy: policy
                        .as_ref()
                        .and_then(|p| PolicyDocument::from_value(p).ok()),
                    acl: grants,
                    public_access_block: pab,
                    object_ownership: ownership
                        .as_array()
                        .and_then(|a| a.first())
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                });
            }
            State::Absent
            | State::AccountPublicAccessBlock { .. }
            | State::Trail { .. }
            | State::InstanceProfile { .. } => {}
        }
    }
    (snap, buckets)
}

/// The trails the model holds, with whether each logs (a trail not read is left out).
pub fn trails_of(entries: &[Entry]) -> Vec<Trail> {
    entries
        .iter()
        .filter_map(|e| match e.latest().map(|v| &v.state) {
            Some(State::Trail {
                logging: Some(logging),
                ..
            }) => Some(Trail {
                name: name_of(e).to_owned(),
                arn: None,
                is_logging: *logging,
            }),
            _ => None,
        })
        .collect()
}

/// Whether the sweep that began at `read_at` read everything of the entry's kind and did not see
/// it: its newest state is older than the sweep and not already absent. Buckets the sweep could not
/// read (`unread`) and the account's public access block (not read) are never judged gone. An
/// instance profile the read no longer lists was deleted or holds no role (GAAD lists a profile
/// only under the role it holds): either way it passes no role the model could vouch for.
pub fn gone_since(entry: &Entry, read_at: i64, unread: &[String]) -> bool {
    let key = entry.key.as_str();
    let read_kind = [
        "user/",
        "role/",
        "group/",
        "policy/",
        "bucket/",
        "trail/",
        "instance-profile/",
    ]
    .iter()
    .any(|p| key.starts_with(p));
    let unread_bucket = key
        .strip_prefix("bucket/")
        .is_some_and(|b| unread.iter().any(|u| u == b));
    read_kind
        && !unread_bucket
        && entry
            .latest()
            .is_some_and(|v| v.since < read_at && v.state != State::Absent)
}

fn epoch(t: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t, 0)
}

/// Runs the findings over the model, puts back drift, and publishes one summary alert.
pub async fn find(
    flow: &Flow,
    clients: &Clients,
    sweep_id: &str,
    read_at: i64,
    unread: &[String],
    options: &SweepOptions,
) -> Result<Found, FlowError> {
    let (mut entries, mut store_requests) = flow.model.all().await?;
    // What the sweep's reads no longer showed is gone (deleted with no event Warden saw): the
    // model says so before judging, so no finding rests on a principal that is not there.
    let now = (flow.clock)();
    let mut gone = Vec::new();
    for entry in &mut entries {
        if gone_since(entry, read_at, unread) {
            entry.record_read(State::Absent, now, policy_rules::model::Source::Sweep);
            gone.push(entry.clone());
        }
    }
    if !gone.is_empty() {
        store_requests += flow.model.put_many(&gone).await?;
    }
    let (snapshot, mut buckets) = input_of(&entries);
    buckets.read_at = epoch(read_at);
    let trails = trails_of(&entries);
    let mut notes = Vec::new();
    let mut account_requests = 0;
    let report_text = match credential_report::read(clients).await {
        Ok(r) => {
            account_requests += r.requests;
            let generated = r
                .generated
                .as_deref()
                .and_then(policy_rules::sweep::input::parse_time);
            match CredentialReport::parse_csv(&r.csv, generated) {
                Ok(report) => Some(report),
                Err(e) => {
                    notes.push(format!("the credential report does not read: {e}"));
                    None
                }
            }
        }
        Err(e) => {
            notes.push(format!("the credential report could not be read: {e}"));
            None
        }
    };
    // The users' passwords and keys, which GAAD does not carry, from the report.
    if let Some(report) = &report_text {
        let updated = policy_rules::sweep::credentials_in_model(&entries, report, now);
        if !updated.is_empty() {
            store_requests += flow.model.put_many(&updated).await?;
        }
    }
    let held: Vec<Held> = flow
        .holdings
        .list()
        .await?
        .into_iter()
        .map(|(_, h)| h)
        .collect();
    // Warden's own EventBridge rules: read here, judged with the rest.
    let live_rules = match &flow.own_rules {
        Some(own) => match crate::connectors::event_rules::read(clients, &own.prefix).await {
            Ok((live, requests)) => {
                account_requests += requests;
                Some(live)
            }
            Err(e) => {
                notes.push(format!(
                    "Warden's own EventBridge rules could not be read: {e}"
                ));
                None
            }
        },
        None => {
            notes.push(
                "Warden's own EventBridge rules were not checked (`WARDEN_RULE_PREFIX` is not set)"
                    .to_owned(),
            );
            None
        }
    };
    // Warden's own queues and function: read here, judged with the rest.
    let own_pipeline = read_own_pipeline(
        clients,
        &flow.own_pipeline,
        &mut account_requests,
        &mut notes,
    )
    .await;
    // The organization's SCPs and RCPs, when the account is in one and Warden may read them; when
    // it may not, the sweep judges without them: it can only find more, never less.
    let org_read =
        crate::connectors::organizations::read(clients, &flow.account_id, &mut account_requests)
            .await;
    let org_policies = match org_read {
        Ok(OrgRead::NotInOrganization) => None,
        Ok(OrgRead::Policies(set)) => Some(set),
        Err(e) => {
            notes.push(format!(
                "the organization's policies (SCPs, RCPs) could not be read, so the sweep judged without them (more findings, never fewer; only the management account or a delegated administrator may read them): {e}"
            ));
            None
        }
    };
    let input =
        SweepInput {
            snapshot: &snapshot,
            snapshot_read_at: epoch(read_at),
            credential_report: report_text.as_ref(),
            buckets: Some(&buckets),
            trails: Some(&trails),
            access_keys: None,
            held: &held,
            rules: &flow.rules,
            catalog: &flow.catalog,
            own_rules: flow.own_rules.as_ref().zip(live_rules.as_deref()).map(
                |(expected, live)| policy_rules::sweep::own_rules::OwnRulesRead { expected, live },
            ),
            org_policies: org_policies.as_ref(),
            own_pipeline: own_pipeline.as_ref(),
        };
    let mut report = sweep(&input, options);
    report.notes.extend(notes.iter().cloned());
    // Drift of what Warden holds is Warden's own state: put back whatever the sweep's mode.
    let mut put_back = Vec::new();
    let drifted: std::collections::BTreeSet<String> = report
        .findings
        .iter()
        .filter(|f| f.kind == Kind::Drift)
        .filter_map(|f| f.principal.clone())
        .collect();
    for principal in drifted {
        let Some(key) = held::key(&principal) else {
            continue;
        };
        let records = flow.put_back(&key, &format!("sweep `{sweep_id}`")).await?;
        if !records.is_empty() {
            put_back.push((principal, records.len()));
        }
    }
    // The rest is made only where the sweep and the rule both enforce, within the change limit.
    let made = crate::sweep::apply::apply(flow, sweep_id, &report).await?;
    let recorded = record_findings(flow, sweep_id, &report).await?;
    if !report.findings.is_empty() {
        let summary = summary(&report, &flow.account_id, &put_back, &made);
        flow.notifier
            .publish(&Alert {
                id: sweep_id.to_owned(),
                subject: summary.0,
                body: summary.1,
                json: json!({
                    "sweep": sweep_id,
                    "account": flow.account_id,
                    "counts": counts(&report),
                    "put_back": put_back,
                    "made": made,
                    "notes": report.notes,
                }),
                attributes: BTreeMap::from([
                    ("kind".to_owned(), "sweep".to_owned()),
                    (
                        "severity".to_owned(),
                        if put_back.is_empty() && made.iter().all(|m| m.record.is_none()) {
                            "high"
                        } else {
                            "critical"
                        }
                        .to_owned(),
                    ),
                ]),
            })
            .await?;
    }
    Ok(Found {
        report,
        put_back,
        made,
        store_requests,
        account_requests,
        notes,
        recorded,
    })
}

/// The summary alert's subject (at most 99 ASCII characters: SNS's limit) and body: counts by
/// kind, what was put back, what an enforcing sweep changed (and could not), and the 20 worst
/// findings.
pub fn summary(
    report: &SweepReport,
    account: &str,
    put_back: &[(String, usize)],
    made: &[crate::sweep::apply::Made],
) -> (String, String) {
    let counts = counts(report);
    let by_kind: Vec<String> = counts.iter().map(|(k, n)| format!("{k} {n}")).collect();
    let mut subject = format!(
        "Warden sweep of {account}: {} findings ({})",
        report.findings.len(),
        by_kind.join(", ")
    );
    subject.retain(|c| c.is_ascii() && c != '\n');
    if subject.len() > 99 {
        subject.truncate(96);
        subject.push_str("...");
    }
    let mut body = format!(
        "Warden swept account {account}: {} findings.\n\n",
        report.findings.len()
    );
    for (k, n) in &counts {
        body.push_str(&format!("  {k}: {n}\n"));
    }
    if !put_back.is_empty() {
        body.push_str("\nPut back (Warden's own state, no longer in force):\n");
        for (p, n) in put_back {
            body.push_str(&format!("  {p}: {n} change(s), see the evidence trail\n"));
        }
    }
    if !made.is_empty() {
        body.push_str("\nChanged (the sweep enforces; `warden rollback ID` undoes one):\n");
        for m in made {
            match (&m.record, &m.not_made) {
                (Some(id), _) => body.push_str(&format!(
                    "  {} {} on {}: change record {id}\n",
                    m.finding, m.step, m.subject
                )),
                (None, why) => body.push_str(&format!(
                    "  {} {} on {}: NOT changed, a person must look: {}\n",
                    m.finding,
                    m.step,
                    m.subject,
                    why.as_deref().unwrap_or("?")
                )),
            }
        }
    }
    body.push_str("\nWorst first:\n");
    for f in report.findings.iter().take(20) {
        let subject = f
            .principal
            .as_deref()
            .or(f.resource.as_deref())
            .unwrap_or("?");
        body.push_str(&format!(
            "  [{}] {} {}: {}\n",
            f.kind.as_str(),
            f.finding_type,
            subject,
            f.evidence.first().map_or("", String::as_str)
        ));
    }
    for n in &report.notes {
        body.push_str(&format!("\nnote: {n}"));
    }
    (subject, body)
}

/// Findings by kind, worst kind first.
pub fn counts(report: &SweepReport) -> Vec<(String, usize)> {
    Kind::ALL
        .iter()
        .map(|k| {
            (
                k.as_str().to_owned(),
                report.findings.iter().filter(|f| f.kind == *k).count(),
            )
        })
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// Warden's queues and function as configured, read for the drift check; what cannot be read
/// is said in `notes`.
async fn read_own_pipeline(
    clients: &Clients,
    config: &crate::enforce::flow::OwnPipelineConfig,
    requests: &mut usize,
    notes: &mut Vec<String>,
) -> Option<OwnPipeline> {
    let queues =
        match crate::connectors::own_pipeline::read_queues(clients, &config.queues, requests).await
        {
            Ok(queues) => queues,
            Err(e) => {
                notes.push(format!("Warden's own queues could not be read: {e}"));
                return None;
            }
        };
    let function = match &config.function {
        Some(name) => {
            match crate::connectors::own_pipeline::read_function(clients, name, requests).await {
                Ok(f) => Some(f),
                Err(e) => {
                    notes.push(format!("Warden's function `{name}` could not be read: {e}"));
                    None
                }
            }
        }
        // A `warden init` deployment has no function; a stack's names itself
        // (`AWS_LAMBDA_FUNCTION_NAME`, or `warden config --stack`'s `WARDEN_FUNCTION_NAME`).
        None => None,
    };
    Some(OwnPipeline {
        queues,
        function,
        function_consumes_queues: config.function_consumes_queues,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // A live sweep judges from the model: an AWS-managed policy attached to a user (GAAD lists it
    // with its document) must come back out of the model, or what it grants is not counted.
    #[test]
    fn an_aws_managed_policy_survives_the_model_with_its_document() {
        let admin = "arn:aws:iam::aws:policy/AdministratorAccess";
        let gaad = serde_json::json!({
            "UserDetailList": [{"UserName": "frank", "Arn": "arn:aws:iam::111122223333:user/frank",
                "AttachedManagedPolicies": [{"PolicyName": "AdministratorAccess", "PolicyArn": admin}]}],
            "Policies": [{"PolicyName": "AdministratorAccess", "Arn": admin, "DefaultVersionId": "v1",
                "PolicyVersionList": [{"VersionId": "v1", "IsDefaultVersion": true,
                    "Document": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}}]}]
        });
        let snap = Snapshot::parse(&gaad.to_string()).unwrap();
        assert!(snap.managed.contains_key(admin));
        let entries = policy_rules::model::entries_of(&snap, 0);
        let (back, _) = input_of(&entries);
        assert_eq!(back.managed.get(admin), snap.managed.get(admin));
        assert_eq!(back.users["frank"].attached, [admin]);
    }
}
