#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::print_stdout)]

use super::*;
use crate::sweep::input::{parse_time, parse_trails};
use crate::sweep::org_policies::OrgPolicySet;

struct Seeded {
    snapshot: Snapshot,
    report: CredentialReport,
    buckets: Buckets,
    trails: Vec<Trail>,
    held: Vec<Held>,
    rules: RuleSet,
    catalog: Catalog,
}

fn seeded() -> Seeded {
    Seeded {
        snapshot: Snapshot::parse(include_str!("../../../fixtures/sweep/account.json")).unwrap(),
        report: CredentialReport::parse_csv(
            include_str!("../../../fixtures/sweep/credential-report.csv"),
            parse_time("2026-11-30T22:00:00Z"),
        )
        .unwrap(),
        buckets: Buckets::parse(include_str!("../../../fixtures/sweep/buckets.json")).unwrap(),
        trails: parse_trails(include_str!("../../../fixtures/sweep/trails.json")).unwrap(),
        held: serde_json::from_str(include_str!("../../../fixtures/sweep/held.json")).unwrap(),
        rules: RuleSet::default_pack().unwrap(),
        catalog: Catalog::builtin().unwrap(),
    }
}

fn run(s: &Seeded, options: &SweepOptions) -> SweepReport {
    run_with(s, options, None)
}

/// The seeded account swept with `options` and, when given, its organization policies.
fn run_with(s: &Seeded, options: &SweepOptions, org: Option<&OrgPolicySet>) -> SweepReport {
    sweep(
        &SweepInput {
            snapshot: &s.snapshot,
            snapshot_read_at: parse_time("2026-11-30T23:30:00Z"),
            credential_report: Some(&s.report),
            buckets: Some(&s.buckets),
            trails: Some(&s.trails),
            access_keys: None,
            held: &s.held,
            rules: &s.rules,
            catalog: &s.catalog,
            own_rules: None,
            org_policies: org,
            own_pipeline: None,
        },
        options,
    )
}

fn now() -> DateTime<Utc> {
    parse_time("2026-12-01T00:00:00Z").unwrap()
}

fn has(r: &SweepReport, kind: Kind, t: &str, who: &str) -> bool {
    r.findings
        .iter()
        .any(|f| f.kind == kind && f.finding_type == t && f.subject().ends_with(who))
}

#[test]
fn the_seeded_account_has_one_of_each_kind() {
    let s = seeded();
    let r = run(&s, &SweepOptions::new(now()));
    for f in &r.findings {
        println!(
            "{} {} {} {:?} {}",
            f.kind.as_str(),
            f.finding_type,
            f.subject(),
            f.rule,
            f.actions.len()
        );
    }
    assert!(has(&r, Kind::EffectiveAdmin, "FullAccess", "user/ops-bot"));
    assert!(has(
        &r,
        Kind::EffectiveAdmin,
        "PutOrAttachOwnPolicy",
        "user/mallory"
    ));
    assert!(has(
        &r,
        Kind::EffectiveAdmin,
        "SetDefaultPolicyVersion",
        "user/dev"
    ));
    assert!(has(&r, Kind::EffectiveAdmin, "PassRole", "role/ci"));
    assert!(has(
        &r,
        Kind::StandingViolation,
        "RuleViolation",
        "user/mallory"
    ));
    assert!(has(
        &r,
        Kind::Exposure,
        "PublicBucketPolicy",
        ":::public-site"
    ));
    assert!(has(
        &r,
        Kind::Exposure,
        "CrossAccountBucketPolicy",
        ":::shared-reports"
    ));
    assert!(has(
        &r,
        Kind::Exposure,
        "PublicBucketAcl",
        ":::legacy-assets"
    ));
    assert!(has(
        &r,
        Kind::Exposure,
        "AccountPublicAccessBlockOff",
        ":root"
    ));
    assert!(has(
        &r,
        Kind::Exposure,
        "BucketPublicAccessBlockOff",
        ":::public-site"
    ));
    assert!(has(
        &r,
        Kind::Unused,
        "UnusedIAMUserAccessKey",
        "user/reader"
    ));
    assert!(has(
        &r,
        Kind::Unused,
        "UnusedIAMUserPassword",
        "user/reader"
    ));
    assert!(has(&r, Kind::Unused, "UnusedIAMRole", "role/old-app"));
    assert!(has(&r, Kind::Unused, INSUFFICIENT_DATA, "role/new-app"));
    assert!(
        has(&r, Kind::Unused, INSUFFICIENT_DATA, "user/dev"),
        "a key created within the window"
    );
    assert!(has(&r, Kind::Drift, "DenyMissing", "user/denied"));
    assert!(has(&r, Kind::Drift, "TrailNotLogging", "trail/main"));
    // Admins in the allow-set, Warden's own role, service-linked roles: no effective-admin finding.
    // The default `admins` allow-set names groups only: an admin role is outside it.
    assert!(has(&r, Kind::EffectiveAdmin, "FullAccess", "role/deployer"));
    for who in [
        "user/alice",
        "role/warden-function",
        "AWSServiceRoleForSupport",
    ] {
        assert!(
            !r.findings
                .iter()
                .any(|f| f.kind == Kind::EffectiveAdmin && f.subject().ends_with(who)),
            "{who}"
        );
    }
    // Neutralised by S3: `data` is blocked and owner-enforced; readers are not admins.
    assert!(!r.findings.iter().any(|f| f.subject().ends_with(":::data")));
    assert!(!r
        .findings
        .iter()
        .any(|f| f.kind != Kind::Unused && f.subject().ends_with("user/reader")));
    // Worst first.
    let kinds: Vec<Kind> = r.findings.iter().map(|f| f.kind).collect();
    let mut sorted = kinds.clone();
    sorted.sort();
    assert_eq!(kinds, sorted);
    // Monitor by default.
    assert!(r.findings.iter().all(|f| f.response.mode == Mode::Monitor));
}

#[test]
fn the_change_limit_stops_planning_and_says_so() {
    let s = seeded();
    let mut o = SweepOptions::new(now());
    o.max_changes = 2;
    let r = run(&s, &o);
    assert_eq!(r.planned_changes, 2);
    assert!(r.over_limit > 0);
    let first_unplanned = r
        .findings
        .iter()
        .find(|f| !f.response.changes.is_empty() && !f.response.planned)
        .unwrap();
    assert!(first_unplanned
        .response
        .note
        .as_deref()
        .unwrap()
        .contains("change limit"));
    // The worst are planned first: both drift findings.
    assert!(r
        .findings
        .iter()
        .filter(|f| f.kind == Kind::Drift)
        .all(|f| f.response.planned));
    let unlimited = run(
        &s,
        &SweepOptions {
            max_changes: usize::MAX,
            ..SweepOptions::new(now())
        },
    );
    assert_eq!(unlimited.over_limit, 0);
}

#[test]
fn a_boundary_caps_self_escalation_unless_it_can_be_removed() {
    let mut s = seeded();
    let boundary = "arn:aws:iam::aws:policy/ReadOnlyBoundary";
    s.snapshot.managed.insert(
        boundary.to_owned(),
        crate::policy::PolicyDocument::parse(
            r#"{"Statement":{"Effect":"Allow","Action":["s3:Get*","iam:Put*"],"Resource":"*"}}"#,
        )
        .unwrap(),
    );
    s.snapshot.users.get_mut("mallory").unwrap().boundary = Some(boundary.to_owned());
    let r = run(&s, &SweepOptions::new(now()));
    assert!(!has(
        &r,
        Kind::EffectiveAdmin,
        "PutOrAttachOwnPolicy",
        "user/mallory"
    ));
    // The standing violation stays: the boundary allows `iam:Put*`.
    assert!(has(
        &r,
        Kind::StandingViolation,
        "RuleViolation",
        "user/mallory"
    ));
}

#[test]
fn without_a_credential_report_the_data_cannot_tell() {
    let s = seeded();
    let r = sweep(
        &SweepInput {
            snapshot: &s.snapshot,
            snapshot_read_at: None,
            credential_report: None,
            buckets: None,
            trails: None,
            access_keys: None,
            held: &[],
            rules: &s.rules,
            catalog: &s.catalog,
            own_rules: None,
            org_policies: None,
            own_pipeline: None,
        },
        &SweepOptions::new(now()),
    );
    assert!(has(&r, Kind::Unused, INSUFFICIENT_DATA, ":root"));
    assert!(!r
        .findings
        .iter()
        .any(|f| f.kind == Kind::Exposure || f.kind == Kind::Drift));
}

#[test]
fn the_real_account_dump_sweeps() {
    let snapshot = Snapshot::parse(include_str!(
        "../../../fixtures/policies/cloudsplaining_test_example-authz-details.json"
    ))
    .unwrap();
    let rules = RuleSet::default_pack().unwrap();
    let catalog = Catalog::builtin().unwrap();
    let r = sweep(
        &SweepInput {
            snapshot: &snapshot,
            snapshot_read_at: None,
            credential_report: None,
            buckets: None,
            trails: None,
            access_keys: None,
            held: &[],
            rules: &rules,
            catalog: &catalog,
            own_rules: None,
            org_policies: None,
            own_pipeline: None,
        },
        &SweepOptions::new(now()),
    );
    assert!(!r.findings.is_empty());
    assert!(r.findings.iter().any(|f| f.kind == Kind::StandingViolation));
}

#[test]
fn the_live_request_count_is_computed_from_the_sizes() {
    // 11,800 items: 12 GAAD pages; 2 for the report; 4,000 for the buckets; 2 for the trail; the
    // constant: 3, Warden's 20 rules (1 + 20), the organization (1), queues and function (5).
    assert_eq!(
        live_request_count(5_000, 5_000, 300, 1_500, 1_000, 1, 20),
        12 + 2 + 4_000 + 2 + 3 + 21 + 1 + 5
    );
}

#[test]
fn drift_of_every_kind_warden_holds() {
    use crate::planner::Placement;
    let mut s = seeded();
    // The Deny on `denied` is back, but not as Warden renders it.
    let h = s.held[0].clone();
    let mut changed = h.document().unwrap();
    changed.statements.truncate(1);
    s.snapshot
        .users
        .get_mut("denied")
        .unwrap()
        .inline
        .insert("WardenDeny".to_owned(), changed);
    // A managed Deny on `dev`, detached; a deleted login profile of `reader`, back; a key set
    // Inactive on `reader`, active again; a quarantine on `mallory`, gone; a held principal gone.
    let mut managed = Held::new("arn:aws:iam::111122223333:user/dev");
    managed
        .denies
        .insert(("s3:GetObject".to_owned(), "arn:aws:s3:::data/*".to_owned()));
    managed.placement = Some(Placement::Managed);
    managed.policy_name = Some(crate::planner::managed_policy_name(&managed.principal));
    let mut reader = Held::new("arn:aws:iam::111122223333:user/reader");
    reader.login_profile_removed = true;
    reader.keys_inactive.insert("AKIAREADER1".to_owned());
    let mut quarantined = Held::new("arn:aws:iam::111122223333:user/mallory");
    quarantined.quarantined = true;
    let mut gone = Held::new("arn:aws:iam::111122223333:user/nobody");
    gone.quarantined = true;
    s.held.extend([managed, reader, quarantined, gone]);
    let keys = vec![input::AccessKey {
        user: "reader".to_owned(),
        id: "AKIAREADER1".to_owned(),
        status: "Active".to_owned(),
    }];
    let r = sweep(
        &SweepInput {
            snapshot: &s.snapshot,
            snapshot_read_at: None,
            credential_report: Some(&s.report),
            buckets: None,
            trails: None,
            access_keys: Some(&keys),
            held: &s.held,
            rules: &s.rules,
            catalog: &s.catalog,
            own_rules: None,
            org_policies: None,
            own_pipeline: None,
        },
        &SweepOptions::new(now()),
    );
    assert!(has(&r, Kind::Drift, "DenyChanged", "user/denied"));
    assert!(has(&r, Kind::Drift, "DenyMissing", "user/dev"));
    assert!(has(&r, Kind::Drift, "LoginProfileRecreated", "user/reader"));
    assert!(has(&r, Kind::Drift, "KeyReactivated", "user/reader"));
    assert!(has(&r, Kind::Drift, "QuarantineMissing", "user/mallory"));
    assert!(has(&r, Kind::Drift, "PrincipalGone", "user/nobody"));
    assert!(r
        .findings
        .iter()
        .filter(|f| f.kind == Kind::Drift && f.finding_type != "PrincipalGone")
        .all(|f| f.response.action == Action::PutBack));
    assert_eq!(
        input::parse_access_keys(r#"{"AccessKeyMetadata":[{"UserName":"reader","AccessKeyId":"AKIAREADER1","Status":"Active","CreateDate":"2020-01-01T00:00:00Z"}]}"#).unwrap(),
        keys
    );
    assert!(input::parse_access_keys(r#"{"Users":[]}"#).is_err());
}

#[test]
fn the_relevant_documents_decide_as_all_the_documents_do() {
    use crate::evaluate::{evaluate, NamedPolicy, Policies, Request};
    use access::{labels, DocIndex, Interest, View};
    use org_policies::{named, OrgGates};
    let rules = RuleSet::default_pack().unwrap();
    let catalog = Catalog::builtin().unwrap();
    // With organization policies too: they are passed whole, beside the relevant documents.
    let org = OrgPolicySet::parse(&format!(
        r#"{{"scps":[[{FULL_AWS_ACCESS}],[{FULL_AWS_ACCESS},{{"name":"DenyS3OutsideEU","policy":{{"Statement":{{"Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{{"StringNotEquals":{{"aws:RequestedRegion":"eu-west-1"}}}}}}}}}},{{"name":"DenyKms","policy":{{"Statement":{{"Effect":"Deny","Action":"kms:*","Resource":"*"}}}}}}]],
            "rcps":[[{{"name":"RCPFullAWSAccess","policy":{{"Statement":{{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}}}}},{{"name":"NoMybucket","policy":{{"Statement":{{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::mybucket/*"}}}}}}]]}}"#
    ))
    .unwrap();
    let (scps, rcps) = (named(&org.scps), named(&org.rcps));
    let scp_refs: Vec<&[NamedPolicy<'_>]> = scps.iter().map(Vec::as_slice).collect();
    let rcp_refs: Vec<&[NamedPolicy<'_>]> = rcps.iter().map(Vec::as_slice).collect();
    let with_org = OrgGates::new(Some(&org), &scp_refs, &rcp_refs);
    // The organization policies did decide some answers (the comparison is not vacuous).
    let mut denied_by_org = 0;
    for (text, gates) in [
        (
            include_str!("../../../fixtures/sweep/account.json"),
            OrgGates::default(),
        ),
        (
            include_str!("../../../fixtures/sweep/account.json"),
            with_org,
        ),
        (
            include_str!(
                "../../../fixtures/policies/cloudsplaining_test_example-authz-details.json"
            ),
            OrgGates::default(),
        ),
        (
            include_str!(
                "../../../fixtures/policies/cloudsplaining_test_example-authz-details.json"
            ),
            with_org,
        ),
    ] {
        let snap = Snapshot::parse(text).unwrap();
        let account = snap.account().unwrap();
        let mut wanted: Vec<String> = rules
            .rules
            .iter()
            .flat_map(|r| admin::rule_actions(r, &catalog))
            .collect();
        wanted.extend(ESCALATION_ACTIONS.iter().map(|a| (*a).to_owned()));
        wanted.extend(["s3:GetObject", "ec2:RunInstances", "kms:Decrypt"].map(String::from));
        let docs = snap
            .users
            .values()
            .chain(snap.roles.values())
            .flat_map(|p| p.inline.values())
            .chain(snap.groups.values().flat_map(|g| g.inline.values()))
            .chain(snap.managed.values());
        let index = DocIndex::new(Interest::new(wanted), docs);
        for rec in snap.users.values().chain(snap.roles.values()) {
            let is_role = rec.arn.contains(":role/");
            let names = labels(&snap, rec);
            let v = View::new(&snap, rec, is_role, &account, &names, &index, gates);
            for (ai, action) in index.interest.actions.iter().enumerate() {
                let relevant = v.relevant(&index, ai);
                for resource in [
                    "*",
                    rec.arn.as_str(),
                    "arn:aws:s3:::mybucket/k",
                    "arn:aws:iam::012345678901:role/warden-x",
                ] {
                    let all = v.ask(action, resource, None).answer;
                    if gates.is_some()
                        && action.starts_with("kms:")
                        && all == crate::evaluate::Answer::ExplicitDeny
                    {
                        denied_by_org += 1;
                    }
                    let some = evaluate(
                        &Request {
                            principal_arn: &rec.arn,
                            principal_account: &account,
                            action,
                            resource,
                            context: &v.context,
                            ..Default::default()
                        },
                        &Policies {
                            identity: &relevant,
                            boundary: v.boundary,
                            resource: None,
                            scps: gates.scps,
                            rcps: gates.rcps,
                            ..Default::default()
                        },
                    )
                    .answer;
                    assert_eq!(
                        all,
                        some,
                        "{} {action} {resource} (organization policies: {})",
                        rec.arn,
                        gates.is_some()
                    );
                }
            }
        }
    }
    assert!(denied_by_org > 0);
}

/// A sweep of the seeded snapshot alone, with what was read of Warden's own rules and pipeline.
fn run_own(
    s: &Seeded,
    own_rules: Option<own_rules::OwnRulesRead<'_>>,
    own_pipeline: Option<&own_pipeline::OwnPipeline>,
) -> SweepReport {
    sweep(
        &SweepInput {
            snapshot: &s.snapshot,
            snapshot_read_at: parse_time("2026-11-30T23:30:00Z"),
            credential_report: None,
            buckets: None,
            trails: None,
            access_keys: None,
            held: &[],
            rules: &s.rules,
            catalog: &s.catalog,
            own_rules,
            own_pipeline,
            org_policies: None,
        },
        &SweepOptions::new(now()),
    )
}

#[test]
fn wardens_own_rules_missing_disabled_changed_or_untargeted_are_drift_with_what_a_person_runs() {
    use own_rules::{LiveRule, OwnRules, OwnRulesRead};
    let s = seeded();
    let queue = "arn:aws:sqs:us-east-1:111122223333:warden-intake.fifo";
    let pattern = |name: &str| serde_json::json!({"source": [format!("aws.{name}")]});
    let own = OwnRules {
        prefix: "warden".to_owned(),
        expected: ["iam", "s3", "sts", "cloudtrail", "events"]
            .iter()
            .map(|n| (format!("warden-{n}-1"), pattern(n)))
            .collect(),
        queue_arn: queue.to_owned(),
    };
    let live = |n: &str, enabled: bool, p: serde_json::Value, targets: &[&str]| LiveRule {
        name: format!("warden-{n}-1"),
        arn: Some(format!(
            "arn:aws:events:us-east-1:111122223333:rule/warden-{n}-1"
        )),
        enabled,
        pattern: Some(p),
        targets: targets.iter().map(|t| (*t).to_owned()).collect(),
    };
    let rules = vec![
        live("iam", true, pattern("iam"), &[queue]),
        live("s3", false, pattern("s3"), &[queue]),
        live("sts", true, pattern("ec2"), &[queue]),
        live(
            "cloudtrail",
            true,
            pattern("cloudtrail"),
            &["arn:aws:sqs:us-east-1:444455556666:elsewhere"],
        ),
    ];
    let report = run_own(
        &s,
        Some(OwnRulesRead {
            expected: &own,
            live: &rules,
        }),
        None,
    );
    let own_findings: Vec<(&str, &str)> = report
        .findings
        .iter()
        .filter(|f| f.finding_type.starts_with("WardenRule"))
        .map(|f| (f.finding_type.as_str(), f.resource.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(own_findings.len(), 4, "{own_findings:?}");
    for (t, r) in [
        ("WardenRuleDisabled", "rule/warden-s3-1"),
        ("WardenRuleChanged", "rule/warden-sts-1"),
        ("WardenRuleTargetRemoved", "rule/warden-cloudtrail-1"),
        ("WardenRuleMissing", "warden-events-1"),
    ] {
        assert!(
            own_findings
                .iter()
                .any(|(ft, fr)| *ft == t && fr.ends_with(r)),
            "{t} {r}: {own_findings:?}"
        );
    }
    let disabled = report
        .findings
        .iter()
        .find(|f| f.finding_type == "WardenRuleDisabled")
        .unwrap();
    assert_eq!(disabled.kind, Kind::Drift);
    assert_eq!(disabled.response.action, Action::Alert);
    assert!(disabled
        .response
        .note
        .as_deref()
        .unwrap()
        .contains("aws events enable-rule --name warden-s3-1"));
    // A rule in force as derived is no finding.
    assert!(!own_findings.iter().any(|(_, r)| r.contains("warden-iam-1")));
}

#[test]
fn wardens_own_queues_and_function_that_leave_events_undecided_are_drift_with_what_a_person_runs() {
    use own_pipeline::{
        FunctionRead, FunctionState, Mapping, OwnPipeline, QueueRead, QueueRole, QueueState,
    };
    let s = seeded();
    let arn = |n: &str| format!("arn:aws:sqs:us-east-1:111122223333:{n}");
    let url = |n: &str| format!("https://sqs.us-east-1.amazonaws.com/111122223333/{n}");
    let queue = |role, n: &str, target: Option<&str>, messages| QueueRead {
        role,
        url: url(n),
        state: Some(QueueState {
            arn: arn(n),
            dead_letter_target: target.map(arn),
            messages,
        }),
    };
    let mapping = |n: &str, state: &str| Mapping {
        source_arn: arn(n),
        uuid: format!("uuid-{n}"),
        state: state.to_owned(),
    };
    let run = |pipeline: &OwnPipeline| {
        run_own(&s, None, Some(pipeline))
            .findings
            .into_iter()
            .filter(|f| f.finding_type.starts_with("Warden"))
            .map(|f| {
                assert_eq!(f.kind, Kind::Drift);
                assert_eq!(f.response.action, Action::Alert);
                (
                    f.finding_type,
                    f.resource.unwrap_or_default(),
                    f.response.note.unwrap_or_default(),
                )
            })
            .collect::<Vec<_>>()
    };
    // The pipeline as deployed: nothing to find.
    let healthy = OwnPipeline {
        queues: vec![
            queue(QueueRole::Intake, "w-intake.fifo", Some("w-dlq.fifo"), 3),
            queue(QueueRole::Work, "w-events.fifo", Some("w-dlq.fifo"), 0),
            queue(QueueRole::DeadLetter, "w-dlq.fifo", None, 0),
        ],
        function: Some(FunctionRead {
            name: "warden-w".to_owned(),
            state: Some(FunctionState {
                reserved_concurrency: Some(5),
                mappings: vec![
                    mapping("w-intake.fifo", "Enabled"),
                    mapping("w-events.fifo", "Enabled"),
                ],
            }),
        }),
        function_consumes_queues: true,
    };
    assert_eq!(run(&healthy), []);
    // Everything that can go wrong at once.
    let broken = OwnPipeline {
        queues: vec![
            QueueRead {
                role: QueueRole::Intake,
                url: url("w-intake.fifo"),
                state: None,
            },
            queue(QueueRole::Work, "w-events.fifo", None, 0),
            queue(QueueRole::DeadLetter, "w-dlq.fifo", None, 2),
        ],
        function: Some(FunctionRead {
            name: "warden-w".to_owned(),
            state: Some(FunctionState {
                reserved_concurrency: Some(0),
                mappings: vec![mapping("w-events.fifo", "Disabled")],
            }),
        }),
        function_consumes_queues: true,
    };
    let found = run(&broken);
    let types: Vec<(&str, &str)> = found
        .iter()
        .map(|(t, r, _)| (t.as_str(), r.as_str()))
        .collect();
    let mut expected = vec![
        ("WardenQueueMissing", url("w-intake.fifo")),
        ("WardenQueueRedriveChanged", arn("w-events.fifo")),
        ("WardenDeadLetters", arn("w-dlq.fifo")),
        ("WardenFunctionThrottled", "warden-w".to_owned()),
        ("WardenQueueMappingDisabled", arn("w-events.fifo")),
    ];
    expected.sort();
    let mut got: Vec<(&str, String)> = types.iter().map(|(t, r)| (*t, (*r).to_owned())).collect();
    got.sort();
    assert_eq!(got, expected);
    let note = |t: &str| &found.iter().find(|(ft, _, _)| ft == t).unwrap().2;
    assert!(note("WardenQueueRedriveChanged").contains("aws sqs set-queue-attributes --queue-url https://sqs.us-east-1.amazonaws.com/111122223333/w-events.fifo"));
    assert!(note("WardenQueueRedriveChanged").contains(r#"\"maxReceiveCount\":\"5\""#));
    assert!(note("WardenFunctionThrottled")
        .contains("--function-name warden-w --reserved-concurrent-executions 5"));
    assert!(note("WardenQueueMappingDisabled").contains("--uuid uuid-w-events.fifo --enabled"));
    // A mapping gone is missing; for a worker that polls the queues itself, disabled mappings are
    // as deployed.
    let mut unmapped = healthy.clone();
    if let Some(FunctionRead { state: Some(f), .. }) = &mut unmapped.function {
        f.mappings
            .retain(|m| !m.source_arn.ends_with("w-intake.fifo"));
    }
    assert_eq!(
        run(&unmapped)
            .iter()
            .map(|(t, r, _)| (t.as_str(), r.clone()))
            .collect::<Vec<_>>(),
        [("WardenQueueMappingMissing", arn("w-intake.fifo"))]
    );
    let mut worker = broken.clone();
    worker.function_consumes_queues = false;
    assert!(!run(&worker)
        .iter()
        .any(|(t, _, _)| t.starts_with("WardenQueueMapping")));
    // The function gone.
    let mut gone = healthy;
    gone.function = Some(FunctionRead {
        name: "warden-w".to_owned(),
        state: None,
    });
    assert_eq!(
        run(&gone)
            .iter()
            .map(|(t, _, _)| t.as_str())
            .collect::<Vec<_>>(),
        ["WardenFunctionMissing"]
    );
}

fn run_with_org(s: &Seeded, org: Option<&OrgPolicySet>) -> SweepReport {
    run_with(s, &SweepOptions::new(now()), org)
}

const FULL_AWS_ACCESS: &str = r#"{"name":"FullAWSAccess","policy":{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}}"#;

/// Root and account levels with `FullAWSAccess`, and `extra` attached at the account.
fn scps(management: Option<&str>, extra: &str) -> OrgPolicySet {
    let m = management.map_or("null".to_owned(), |m| format!("\"{m}\""));
    OrgPolicySet::parse(&format!(
        r#"{{"management_account":{m},"scps":[[{FULL_AWS_ACCESS}],[{FULL_AWS_ACCESS}{extra}]]}}"#
    ))
    .unwrap()
}

fn admins(r: &SweepReport) -> Vec<(String, String)> {
    r.findings
        .iter()
        .filter(|f| f.kind == Kind::EffectiveAdmin)
        .map(|f| (f.subject().to_owned(), f.finding_type.clone()))
        .collect()
}

#[test]
fn scps_cap_effective_admins_except_in_the_management_account() {
    let s = seeded();
    let without = run_with_org(&s, None);
    assert!(has(
        &without,
        Kind::EffectiveAdmin,
        "FullAccess",
        "user/ops-bot"
    ));
    assert!(has(
        &without,
        Kind::EffectiveAdmin,
        "PutOrAttachOwnPolicy",
        "user/mallory"
    ));
    assert!(has(
        &without,
        Kind::EffectiveAdmin,
        "FullAccess",
        "role/deployer"
    ));

    // `FullAWSAccess` at every level takes nothing away: the same admins, the evidence says the
    // SCPs were passed.
    let open = scps(None, "");
    let r = run_with_org(&s, Some(&open));
    assert_eq!(admins(&r), admins(&without));
    let ops = r
        .findings
        .iter()
        .find(|f| f.kind == Kind::EffectiveAdmin && f.subject().ends_with("user/ops-bot"))
        .unwrap();
    assert!(
        ops.evidence[0].contains("within the SCPs at every level"),
        "{:?}",
        ops.evidence
    );

    // A Deny of everything at the account's level: AdministratorAccess is not full access, and no
    // method of writing one's own policies (or taking over another principal) gives it: no
    // effective admin at all.
    let deny_all = scps(
        None,
        r#",{"name":"DenyAll","policy":{"Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}}"#,
    );
    let r = run_with_org(&s, Some(&deny_all));
    assert_eq!(admins(&r), Vec::<(String, String)>::new());
    // ... and no standing violation either: nothing is allowed.
    assert!(!r.findings.iter().any(|f| f.kind == Kind::StandingViolation));

    // A level whose policies allow S3 only (no Allow for the other probes): not full access.
    let s3_only = OrgPolicySet::parse(&format!(
        r#"{{"scps":[[{FULL_AWS_ACCESS}],[{{"name":"S3Only","policy":{{"Statement":{{"Effect":"Allow","Action":"s3:*","Resource":"*"}}}}}}]]}}"#
    ))
    .unwrap();
    let r = run_with_org(&s, Some(&s3_only));
    assert!(!has(&r, Kind::EffectiveAdmin, "FullAccess", "user/ops-bot"));
    assert!(!has(
        &r,
        Kind::EffectiveAdmin,
        "PutOrAttachOwnPolicy",
        "user/mallory"
    ));

    // The management account's principals are not capped by SCPs: exactly the findings without.
    let managed = scps(
        Some("111122223333"),
        r#",{"name":"DenyAll","policy":{"Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}}"#,
    );
    let r = run_with_org(&s, Some(&managed));
    assert_eq!(r.findings, without.findings);
}

#[test]
fn an_scp_the_sweep_cannot_decide_leaves_a_maybe_not_silence() {
    // The common region guard: the sweep does not know the region a call will name, so the SCP
    // may deny; AdministratorAccess is still reported, as "maybe".
    let s = seeded();
    let region = scps(
        None,
        r#",{"name":"DenyOutsideEU","policy":{"Statement":{"Effect":"Deny","NotAction":["iam:*","sts:*"],"Resource":"*","Condition":{"StringNotEquals":{"aws:RequestedRegion":["eu-west-1"]}}}}}"#,
    );
    let r = run_with_org(&s, Some(&region));
    let ops = r
        .findings
        .iter()
        .find(|f| f.kind == Kind::EffectiveAdmin && f.subject().ends_with("user/ops-bot"))
        .unwrap();
    assert_eq!(ops.finding_type, "FullAccess");
    assert!(ops.evidence[0].contains("maybe: "), "{:?}", ops.evidence);
}

#[test]
fn an_rcp_that_denies_a_buckets_access_removes_the_standing_violation() {
    let mut s = seeded();
    s.rules = RuleSet::parse(
        "secret.toml",
        r#"
version = 1
warden_principals = ["arn:*:iam::*:role/warden-*"]

[allow_sets.admins]
groups = ["Administrators"]

[[rule]]
id = "secret-reads"
description = "reads of the secret bucket"
allow = ["admins"]
[rule.match]
actions = ["s3:GetObject"]
resources = ["arn:*:s3:::secret-data/*"]
[rule.response]
deny_scope = "observed"
"#,
    )
    .unwrap();
    let violation = |r: &SweepReport| {
        r.findings
            .iter()
            .any(|f| f.kind == Kind::StandingViolation && f.subject().ends_with("user/ops-bot"))
    };
    let without = run_with_org(&s, None);
    assert!(violation(&without), "{:?}", without.findings);
    let rcp_full = r#"{"name":"RCPFullAWSAccess","policy":{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}}"#;
    let rcps = |management: &str| {
        OrgPolicySet::parse(&format!(
            r#"{{"management_account":{management},"rcps":[[{rcp_full}],[{rcp_full},{{"name":"SecretsStayIn","policy":{{"Statement":{{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::secret-data/*"}}}}}}]]}}"#
        ))
        .unwrap()
    };
    let denied = rcps("null");
    let r = run_with_org(&s, Some(&denied));
    assert!(!violation(&r), "{:?}", r.findings);
    // RCPs do not apply to the management account's resources either.
    let managed = rcps("\"111122223333\"");
    let r = run_with_org(&s, Some(&managed));
    assert!(violation(&r));
}

#[test]
fn an_rcp_that_certainly_closes_a_bucket_grant_removes_the_exposure_and_one_that_may_is_named() {
    let s = seeded();
    let exposure = |r: &SweepReport, bucket: &str| {
        r.findings
            .iter()
            .find(|f| {
                f.kind == Kind::Exposure
                    && f.finding_type.ends_with("BucketPolicy")
                    && f.subject() == format!("arn:aws:s3:::{bucket}")
            })
            .map(|f| f.evidence.join("; "))
    };
    let without = run_with_org(&s, None);
    assert!(exposure(&without, "public-site").is_some());
    assert!(exposure(&without, "shared-reports").is_some());
    let rcp_full = r#"{"name":"RCPFullAWSAccess","policy":{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}}"#;
    let org = |management: &str, extra: &str| {
        OrgPolicySet::parse(&format!(
            r#"{{"management_account":{management},"rcps":[[{rcp_full}],[{rcp_full}{extra}]]}}"#
        ))
        .unwrap()
    };
    // An unconditional Deny of every object read of `public-site`, and a data-perimeter Deny
    // conditioned on the caller's organization.
    let both = org(
        "null",
        r#",{"name":"SiteClosed","policy":{"Statement":{"Sid":"NoReads","Effect":"Deny","Principal":"*","Action":"s3:Get*","Resource":"arn:aws:s3:::public-site/*"}}},{"name":"Perimeter","policy":{"Statement":{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"StringNotEqualsIfExists":{"aws:PrincipalOrgID":"o-1"}}}}}"#,
    );
    let r = run_with_org(&s, Some(&both));
    assert_eq!(exposure(&r, "public-site"), None);
    assert!(
        r.notes.iter().any(|n| n.contains("bucket `public-site`")
            && n.contains("RCP `SiteClosed` statement `NoReads` denies every request it allows")),
        "{:?}",
        r.notes
    );
    let shared = exposure(&r, "shared-reports").unwrap();
    assert!(
        shared.contains("RCP `Perimeter` statement `#0` may deny it"),
        "{shared}"
    );
    assert!(!shared.contains("SiteClosed"), "{shared}");
    // A Deny of part of the grant (one prefix of the objects) may close it, never certainly.
    let partial = org(
        "null",
        r#",{"name":"Part","policy":{"Statement":{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::public-site/private/*"}}}"#,
    );
    let r = run_with_org(&s, Some(&partial));
    assert!(
        exposure(&r, "public-site")
            .unwrap()
            .contains("RCP `Part` statement `#0` may deny it"),
        "{:?}",
        exposure(&r, "public-site")
    );
    // RCPs do not apply to the management account's buckets.
    let managed = org("\"111122223333\"", &both_extra());
    let r = run_with_org(&s, Some(&managed));
    assert!(exposure(&r, "public-site").is_some());
    assert!(!exposure(&r, "shared-reports").unwrap().contains("RCP"));
}

fn both_extra() -> String {
    r#",{"name":"SiteClosed","policy":{"Statement":{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::public-site/*"}}},{"name":"Perimeter","policy":{"Statement":{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"StringNotEqualsIfExists":{"aws:PrincipalOrgID":"o-1"}}}}}"#.to_owned()
}

#[test]
fn the_sweeps_requests_let_the_evaluator_exempt_service_linked_roles_from_scps() {
    use crate::evaluate::{Answer, NamedPolicy};
    use access::{labels, DocIndex, Interest, View};
    use org_policies::{named, OrgGates};
    let s = seeded();
    let deny_all = scps(
        None,
        r#",{"name":"DenyAll","policy":{"Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}}"#,
    );
    let levels = named(&deny_all.scps);
    let refs: Vec<&[NamedPolicy<'_>]> = levels.iter().map(Vec::as_slice).collect();
    let gates = OrgGates::new(Some(&deny_all), &refs, &[]);
    let index = DocIndex::new(
        Interest::new(["iam:CreateUser".to_owned()]),
        s.snapshot.managed.values(),
    );
    let account = s.snapshot.account().unwrap();
    let ask = |rec: &crate::snapshot::PrincipalRecord, is_role: bool| {
        let names = labels(&s.snapshot, rec);
        let v = View::new(&s.snapshot, rec, is_role, &account, &names, &index, gates);
        v.ask("iam:CreateUser", "*", None).answer
    };
    // Both hold AdministratorAccess: the SCP denies the user, not the service-linked role.
    assert_eq!(
        ask(&s.snapshot.users["ops-bot"], false),
        Answer::ExplicitDeny
    );
    assert_eq!(
        ask(&s.snapshot.roles["AWSServiceRoleForSupport"], true),
        Answer::Allow
    );
}

#[test]
fn an_scp_denying_one_probe_leaves_no_way_to_full_access_whatever_the_order_of_principals() {
    // Deny S3: no principal can have everything, so neither `AdministratorAccess` nor writing a
    // policy on oneself (IAM is still allowed) makes an effective admin.
    let deny_s3 = scps(
        None,
        r#",{"name":"DenyS3","policy":{"Statement":{"Effect":"Deny","Action":"s3:*","Resource":"*"}}}"#,
    );
    let mut s = seeded();
    let without = run_with_org(&s, None);
    assert!(has(
        &without,
        Kind::EffectiveAdmin,
        "FullAccess",
        "role/deployer"
    ));
    let r = run_with_org(&s, Some(&deny_s3));
    assert_eq!(admins(&r), Vec::<(String, String)>::new());
    // IAM writes are still allowed: the standing violations of `iam-writes` stay.
    assert!(has(
        &r,
        Kind::StandingViolation,
        "RuleViolation",
        "user/mallory"
    ));
    // Roles only, the service-linked one first by name: SCPs do not apply to it, and that must
    // not be taken for the others.
    s.snapshot.users.clear();
    assert_eq!(
        s.snapshot.roles.keys().next().map(String::as_str),
        Some("AWSServiceRoleForSupport")
    );
    let r = run_with_org(&s, Some(&deny_s3));
    assert_eq!(admins(&r), Vec::<(String, String)>::new());
}
