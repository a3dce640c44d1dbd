//! Sweep speed and memory on an account at IAM's quota limits, printed as figures. Run:
//! `cargo bench -p policy-rules --bench sweep` (`WARDEN_BENCH_RUNS=N`, default 5).
//!
//! The account is generated, seeded, the same every run: 5,000 users, 5,000 roles, 1,500
//! customer-managed policies (a fifth with an older version), 300 groups, 1,000 buckets, a
//! credential report row per user and 50 of Warden's records. Policies are what accounts hold:
//! S3, DynamoDB, SQS, Logs, KMS and Lambda statements scoped to their resources, EC2 and IAM reads
//! on `*`, `iam:PassRole` on application roles, self-service IAM on `${aws:username}`, conditional
//! Denies, `NotAction` power users, permissions boundaries, and a few dozen admins and escalation
//! paths. It goes through `Snapshot::parse` as GAAD JSON.
//!
//! Printed: the parse, and one sweep on this thread, as CPU time (this thread's user + system
//! time, from `/proc/thread-self/stat`, 10 ms ticks) and wall time, min / median / max over the
//! runs; peak resident memory (`VmHWM` of `/proc/self/status`, reset with `/proc/self/clear_refs`
//! before each phase, so it is the phase's own peak, with what stays resident from before); the
//! findings by kind; and the requests a live sweep of this account needs (a computed figure).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::indexing_slicing
)]

use policy_rules::catalog::Catalog;
use policy_rules::held::Held;
use policy_rules::rules::RuleSet;
use policy_rules::snapshot::Snapshot;
use policy_rules::sweep::input::{parse_time, Buckets, CredentialReport};
use policy_rules::sweep::{live_request_count, sweep, Kind, SweepInput, SweepOptions};
use serde_json::{json, Value};
use std::time::Instant;

const ACCOUNT: &str = "111122223333";
const USERS: usize = 5_000;
const ROLES: usize = 5_000;
const POLICIES: usize = 1_500;
const GROUPS: usize = 300;
const BUCKETS: usize = 1_000;

/// xorshift64*: deterministic, seeded.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

fn arn(kind: &str, name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:{kind}/{name}")
}

fn date(rng: &mut Rng) -> String {
    format!(
        "20{:02}-{:02}-{:02}T{:02}:00:00Z",
        19 + rng.below(8),
        1 + rng.below(12),
        1 + rng.below(28),
        rng.below(24)
    )
}

fn statement(rng: &mut Rng, k: usize) -> Value {
    let app = k % 400;
    match rng.below(12) {
        0 | 1 => {
            json!({"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket","s3:PutObject"],"Resource":[format!("arn:aws:s3:::bucket-{app}"),format!("arn:aws:s3:::bucket-{app}/*")]})
        }
        2 => {
            json!({"Effect":"Allow","Action":["dynamodb:GetItem","dynamodb:PutItem","dynamodb:Query","dynamodb:UpdateItem"],"Resource":format!("arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/app-{app}")})
        }
        3 => {
            json!({"Effect":"Allow","Action":["ec2:Describe*","cloudwatch:Get*","cloudwatch:List*"],"Resource":"*"})
        }
        4 => {
            json!({"Effect":"Allow","Action":["logs:CreateLogStream","logs:PutLogEvents"],"Resource":format!("arn:aws:logs:*:{ACCOUNT}:log-group:/app/{app}:*")})
        }
        5 => {
            json!({"Effect":"Allow","Action":["sqs:SendMessage","sqs:ReceiveMessage","sqs:DeleteMessage"],"Resource":format!("arn:aws:sqs:us-east-1:{ACCOUNT}:app-{app}")})
        }
        6 => {
            json!({"Effect":"Allow","Action":"kms:Decrypt","Resource":format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/{app:08}"),"Condition":{"StringEquals":{"kms:ViaService":"s3.us-east-1.amazonaws.com"}}})
        }
        7 => {
            json!({"Effect":"Allow","Action":"iam:PassRole","Resource":arn("role", &format!("app-{app}-*")),"Condition":{"StringEquals":{"iam:PassedToService":"lambda.amazonaws.com"}}})
        }
        8 => json!({"Effect":"Allow","Action":["iam:Get*","iam:List*"],"Resource":"*"}),
        9 => {
            json!({"Effect":"Allow","Action":["lambda:InvokeFunction","lambda:GetFunction"],"Resource":format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:app-{app}-*")})
        }
        10 => {
            json!({"Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":["203.0.113.0/24"]},"Bool":{"aws:ViaAWSService":"false"}}})
        }
        _ => {
            json!({"Effect":"Allow","Action":["secretsmanager:GetSecretValue"],"Resource":format!("arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:app-{app}-*")})
        }
    }
}

fn document(rng: &mut Rng, k: usize) -> Value {
    let n = 2 + rng.below(4);
    let _ = &n;
    json!({"Version":"2012-10-17","Statement":(0..n).map(|i| statement(rng, k + i * 7)).collect::<Vec<_>>()})
}

struct Account {
    gaad: String,
    report: String,
    buckets: String,
    held: Vec<Held>,
    items: (usize, usize, usize, usize),
}

fn generate() -> Account {
    let mut rng = Rng(0x5eed_1234_abcd_0042);
    let admin = "arn:aws:iam::aws:policy/AdministratorAccess";
    let power = "arn:aws:iam::aws:policy/PowerUserAccess";
    let read_only = "arn:aws:iam::aws:policy/ReadOnlyAccess";
    let mut policies = vec![
        json!({"PolicyName":"AdministratorAccess","Arn":admin,"Path":"/","DefaultVersionId":"v1","CreateDate":"2015-02-06T18:39:46Z","PolicyVersionList":[{"VersionId":"v1","IsDefaultVersion":true,"Document":{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}}]}),
        json!({"PolicyName":"PowerUserAccess","Arn":power,"Path":"/","DefaultVersionId":"v5","CreateDate":"2015-02-06T18:39:46Z","PolicyVersionList":[{"VersionId":"v5","IsDefaultVersion":true,"Document":{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":["iam:*","organizations:*","account:*"],"Resource":"*"},{"Effect":"Allow","Action":["iam:CreateServiceLinkedRole","iam:DeleteServiceLinkedRole","iam:ListRoles","organizations:DescribeOrganization"],"Resource":"*"}]}}]}),
        json!({"PolicyName":"ReadOnlyAccess","Arn":read_only,"Path":"/","DefaultVersionId":"v90","CreateDate":"2015-02-06T18:39:46Z","PolicyVersionList":[{"VersionId":"v90","IsDefaultVersion":true,"Document":{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["*:Get*","*:List*","*:Describe*","s3:GetObject"],"Resource":"*"}]}}]}),
    ];
    let customer: Vec<String> = (0..POLICIES)
        .map(|k| arn("policy", &format!("app-{k}")))
        .collect();
    for (k, a) in customer.iter().enumerate() {
        let mut versions = vec![
            json!({"VersionId":"v2","IsDefaultVersion":true,"CreateDate":date(&mut rng),"Document":document(&mut rng, k)}),
        ];
        if rng.chance(20) {
            versions.push(json!({"VersionId":"v1","IsDefaultVersion":false,"CreateDate":"2019-01-01T00:00:00Z","Document":document(&mut rng, k + 1)}));
        }
        policies.push(json!({"PolicyName":format!("app-{k}"),"Arn":a,"Path":"/","DefaultVersionId":"v2","CreateDate":"2019-01-01T00:00:00Z","PolicyVersionList":versions}));
    }
    let pick = |rng: &mut Rng, base: usize, spread: usize| -> Vec<Value> {
        let n = base + rng.below(spread);
        (0..n)
            .map(|_| {
                let a = &customer[rng.below(POLICIES)];
                json!({"PolicyArn":a,"PolicyName":a.rsplit('/').next().unwrap()})
            })
            .collect()
    };
    let mut groups = vec![
        json!({"GroupName":"Administrators","Arn":arn("group","Administrators"),"Path":"/","CreateDate":"2019-01-01T00:00:00Z","GroupPolicyList":[],"AttachedManagedPolicies":[{"PolicyArn":admin,"PolicyName":"AdministratorAccess"}]}),
    ];
    for g in 1..GROUPS {
        let mut attached = pick(&mut rng, 2, 3);
        if rng.chance(5) {
            attached.push(json!({"PolicyArn":read_only,"PolicyName":"ReadOnlyAccess"}));
        }
        let inline: Vec<Value> = if rng.chance(30) {
            vec![json!({"PolicyName":"team","PolicyDocument":document(&mut rng, g)})]
        } else {
            vec![]
        };
        groups.push(json!({"GroupName":format!("team-{g}"),"Arn":arn("group",&format!("team-{g}")),"Path":"/","CreateDate":"2019-01-01T00:00:00Z","GroupPolicyList":inline,"AttachedManagedPolicies":attached}));
    }
    let self_service = json!({"Version":"2012-10-17","Statement":[
        {"Sid":"OwnCredentials","Effect":"Allow","Action":["iam:ChangePassword","iam:CreateAccessKey","iam:DeleteAccessKey","iam:ListAccessKeys","iam:GetUser"],"Resource":"arn:aws:iam::*:user/${aws:username}"},
        {"Sid":"OwnMfa","Effect":"Allow","Action":["iam:CreateVirtualMFADevice","iam:EnableMFADevice"],"Resource":["arn:aws:iam::*:mfa/${aws:username}","arn:aws:iam::*:user/${aws:username}"]}]});
    let boundary = "arn:aws:iam::111122223333:policy/app-0";
    let mut users = Vec::with_capacity(USERS);
    let mut report = String::from("user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated\n");
    report.push_str(&format!("<root_account>,arn:aws:iam::{ACCOUNT}:root,2019-01-01T00:00:00+00:00,not_supported,2026-10-01T00:00:00+00:00,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n"));
    for u in 0..USERS {
        let name = format!("user-{u}");
        let n = 1 + rng.below(3);
        let mut gs: Vec<String> = (0..n)
            .map(|_| format!("team-{}", 1 + rng.below(GROUPS - 1)))
            .collect();
        if u % 170 == 0 {
            gs.push("Administrators".to_owned());
        }
        let mut attached = if rng.chance(20) {
            pick(&mut rng, 1, 2)
        } else {
            vec![]
        };
        if u % 997 == 1 {
            attached.push(json!({"PolicyArn":admin,"PolicyName":"AdministratorAccess"}));
        }
        let mut inline = Vec::new();
        if rng.chance(10) {
            inline.push(json!({"PolicyName":"self-service","PolicyDocument":self_service}));
        }
        if u % 611 == 5 {
            inline.push(json!({"PolicyName":"ops","PolicyDocument":{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:CreateAccessKey","iam:CreateLoginProfile"],"Resource":"arn:aws:iam::*:user/*"}]}}));
        }
        let mut user = json!({"UserName":name,"Arn":arn("user",&name),"Path":"/","CreateDate":date(&mut rng),"GroupList":gs,"AttachedManagedPolicies":attached,"UserPolicyList":inline,"Tags":[{"Key":"team","Value":format!("t{}", u % 40)}]});
        if rng.chance(5) {
            user["PermissionsBoundary"] =
                json!({"PermissionsBoundaryType":"Policy","PermissionsBoundaryArn":boundary});
        }
        users.push(user);
        let (pw, pw_used) = if rng.chance(60) {
            ("true", date(&mut rng))
        } else {
            ("false", "N/A".to_owned())
        };
        let (k1, k1_rot, k1_used) = if rng.chance(50) {
            ("true", date(&mut rng), date(&mut rng))
        } else {
            ("false", "N/A".to_owned(), "N/A".to_owned())
        };
        report.push_str(&format!("{name},{},2019-06-01T00:00:00+00:00,{pw},{pw_used},2019-06-01T00:00:00+00:00,N/A,false,{k1},{k1_rot},{k1_used},us-east-1,s3,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n", arn("user", &name)));
    }
    let services = [
        "lambda.amazonaws.com",
        "ec2.amazonaws.com",
        "ecs-tasks.amazonaws.com",
    ];
    let mut roles = Vec::with_capacity(ROLES);
    for r in 0..ROLES {
        let name = format!("app-{}-{r}", r % 400);
        let trust = if rng.chance(70) {
            json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":services[rng.below(3)]},"Action":"sts:AssumeRole"}]})
        } else {
            json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":format!("arn:aws:iam::{ACCOUNT}:root")},"Action":"sts:AssumeRole","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}]})
        };
        let mut attached = pick(&mut rng, 1, 4);
        if r % 100 == 0 {
            attached.push(json!({"PolicyArn":admin,"PolicyName":"AdministratorAccess"}));
        } else if r % 25 == 0 {
            attached.push(json!({"PolicyArn":power,"PolicyName":"PowerUserAccess"}));
        }
        let inline: Vec<Value> = if rng.chance(40) {
            vec![json!({"PolicyName":"app","PolicyDocument":document(&mut rng, r)})]
        } else {
            vec![]
        };
        let last = if rng.chance(80) {
            json!({"LastUsedDate":date(&mut rng),"Region":"us-east-1"})
        } else {
            json!({})
        };
        roles.push(json!({"RoleName":name,"Arn":arn("role",&name),"Path":"/","CreateDate":date(&mut rng),"AssumeRolePolicyDocument":trust,"RolePolicyList":inline,"AttachedManagedPolicies":attached,"RoleLastUsed":last,"Tags":[]}));
    }
    let gaad = json!({"UserDetailList":users,"GroupDetailList":groups,"RoleDetailList":roles,"Policies":policies}).to_string();
    let mut buckets = Vec::with_capacity(BUCKETS);
    for b in 0..BUCKETS {
        let name = format!("bucket-{b}");
        let mut v = json!({"name":name,"region":"us-east-1","acl":[{"Grantee":{"Type":"CanonicalUser","ID":"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"},"Permission":"FULL_CONTROL"}],"object_ownership":"BucketOwnerEnforced"});
        if rng.chance(30) {
            let principal = match rng.below(10) {
                0 => json!("*"),
                1 | 2 => json!({"AWS":"arn:aws:iam::444455556666:root"}),
                _ => json!({"Service":"cloudtrail.amazonaws.com"}),
            };
            v["policy"] = json!({"Version":"2012-10-17","Statement":[{"Sid":"Grant","Effect":"Allow","Principal":principal,"Action":["s3:GetObject","s3:PutObject"],"Resource":format!("arn:aws:s3:::{name}/*")},{"Sid":"TLS","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":[format!("arn:aws:s3:::{name}"),format!("arn:aws:s3:::{name}/*")],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]});
        }
        if rng.chance(80) {
            v["public_access_block"] = json!({"BlockPublicAcls":true,"IgnorePublicAcls":true,"BlockPublicPolicy":true,"RestrictPublicBuckets":true});
        }
        if rng.chance(3) {
            v["object_ownership"] = json!("ObjectWriter");
            v["acl"] = json!([{"Grantee":{"Type":"Group","URI":"http://acs.amazonaws.com/groups/global/AllUsers"},"Permission":"READ"}]);
        }
        buckets.push(v);
    }
    let buckets = json!({"read_at":"2026-11-30T23:00:00Z","buckets":buckets}).to_string();
    let held = (0..50)
        .map(|i| {
            let mut h = Held::new(&arn("user", &format!("user-{}", i * 97)));
            h.denies.insert((
                "s3:PutBucketPolicy".to_owned(),
                format!("arn:aws:s3:::bucket-{i}"),
            ));
            h
        })
        .collect();
    Account {
        gaad,
        report,
        buckets,
        held,
        items: (USERS, ROLES, GROUPS, policies_len(POLICIES)),
    }
}

fn policies_len(customer: usize) -> usize {
    customer + 3
}

fn thread_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let after = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split(' ').collect();
    // Fields 14 and 15 of stat (utime, stime), counted from after the command name (field 3).
    let ticks = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn spread(mut v: Vec<f64>, decimals: usize) -> String {
    v.sort_by(f64::total_cmp);
    let (Some(first), Some(last)) = (v.first(), v.last()) else {
        return "-".to_owned();
    };
    let median = v[v.len() / 2];
    format!("{first:.decimals$} / {median:.decimals$} / {last:.decimals$}")
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("sweep bench: run with `cargo bench -p policy-rules --bench sweep`");
        return;
    }
    let runs: usize = std::env::var("WARDEN_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let t = Instant::now();
    let account = generate();
    println!(
        "generated: {} users, {} roles, {} groups, {} policies (3 AWS-managed), {BUCKETS} buckets; GAAD JSON {:.1} MB, in {:.2} s",
        account.items.0, account.items.1, account.items.2, account.items.3,
        account.gaad.len() as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    let rules = RuleSet::default_pack().unwrap();
    let catalog = Catalog::builtin().unwrap();
    let report =
        CredentialReport::parse_csv(&account.report, parse_time("2026-11-30T22:00:00Z")).unwrap();
    let buckets = Buckets::parse(&account.buckets).unwrap();
    reset_peak();
    let (c0, w0) = (thread_cpu_seconds(), Instant::now());
    let snapshot = Snapshot::parse(&account.gaad).unwrap();
    let (parse_cpu, parse_wall) = (thread_cpu_seconds() - c0, w0.elapsed().as_secs_f64());
    let parse_peak = peak_rss_mb();
    let options = SweepOptions::new(parse_time("2026-12-01T00:00:00Z").unwrap());
    let (mut cpu, mut wall, mut peaks) = (Vec::new(), Vec::new(), Vec::new());
    let mut last = None;
    for _ in 0..runs {
        // The previous sweep's report is not kept while the next one runs: each peak is one
        // sweep's.
        drop(last.take());
        reset_peak();
        let (c0, w0) = (thread_cpu_seconds(), Instant::now());
        let r = sweep(
            &SweepInput {
                snapshot: &snapshot,
                snapshot_read_at: parse_time("2026-11-30T23:30:00Z"),
                credential_report: Some(&report),
                buckets: Some(&buckets),
                trails: None,
                access_keys: None,
                held: &account.held,
                rules: &rules,
                catalog: &catalog,
                own_rules: None,
                org_policies: None,
                own_pipeline: None,
            },
            &options,
        );
        wall.push(w0.elapsed().as_secs_f64());
        cpu.push(thread_cpu_seconds() - c0);
        peaks.push(peak_rss_mb());
        last = Some(r);
    }
    let r = last.unwrap();
    println!("parse (Snapshot::parse of the GAAD JSON): {parse_cpu:.2} s CPU, {parse_wall:.2} s wall, peak RSS {parse_peak:.0} MB");
    println!(
        "sweep, one thread, min / median / max of {runs}: CPU {} s; wall {} s",
        spread(cpu, 2),
        spread(wall, 2)
    );
    println!("peak RSS during a sweep (the parsed account, inputs and the sweep), min / median / max: {} MB", spread(peaks, 0));
    let by_kind: Vec<String> = Kind::ALL
        .iter()
        .map(|k| {
            format!(
                "{} {}",
                r.findings.iter().filter(|f| f.kind == *k).count(),
                k.as_str()
            )
        })
        .collect();
    println!(
        "findings: {} ({}); {} changes planned, {} findings over the change limit of {}",
        r.findings.len(),
        by_kind.join(", "),
        r.planned_changes,
        r.over_limit,
        options.max_changes
    );
    let (u, ro, g, p) = account.items;
    // Warden's rules for the default pack: one per routed source group, and the watchdog.
    let warden_rules = policy_rules::routing::routing(&rules, &catalog)
        .routes
        .len()
        + 1;
    let requests = live_request_count(u, ro, g, p, BUCKETS, 1, warden_rules);
    println!(
        "requests a live sweep of this account needs (computed, not measured): {requests} = {} GAAD pages (MaxItems 1,000, {} items) + 2 credential report + {} bucket reads (4 per bucket) + 2 per trail (1) + {} constant (ListBuckets, account public access block, DescribeTrails; ListRules and {warden_rules} ListTargetsByRule; DescribeOrganization; 3 queues; function concurrency and mappings)",
        (u + ro + g + p).div_ceil(1000),
        u + ro + g + p,
        4 * BUCKETS,
        policy_rules::sweep::live_request_constant(warden_rules)
    );
}
