//! Lanes on the local AWS, printed (no pass/fail): how long an event waits when it is queued behind
//! one that keeps failing, with the EventBridge rules delivering
//! - **before**: to the work queue, in the one message group an EventBridge FIFO target takes;
//! - **after**: to the intake queue, forwarded to the work queue in per-principal lanes.
//!
//! Each trial puts three events on the bus through the real rules: alice's poison (it fails every
//! time with a retryable error: another worker holds its claim in the ledger and never finishes),
//! then mallory's event, then alice's next one. The consumers behave as Lambda's event source
//! mappings do: batches of 10, a failed message left to the queue's visibility timeout `V` (no
//! back-off of Warden's own), one loop per queue. Warden gives up on the poison at its receive `M`
//! (`WARDEN_MAX_RECEIVES`; the queues redrive after `M + 1`, as in production, 4 and 5): it is
//! recorded, alerted and moved to the dead-letter queue, and what waited behind it goes on. So an
//! event behind the poison waits `(M - 1) x V`; `V` and `M` are small here so a trial takes
//! seconds, and the figures are scaled to the production settings (180 s, Warden's 4).
//!
//! Run: `cargo bench --workspace --bench lanes`. `WARDEN_BENCH_TRIALS` sets the trials per setting
//! (default 3), `WARDEN_BENCH_VISIBILITY` the visibility timeouts to try, comma-separated seconds
//! (default `2,4`), `WARDEN_BENCH_RECEIVES` Warden's `M` (default 3).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::indexing_slicing
)]

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use warden_handler::aws::Clients;
use warden_handler::enforce::flow::Flow;
use warden_handler::enforce::queue::{
    forward_batch, process_batch, receive, settle, DeadLetters, SqsDeadLetters,
};
use warden_handler::local::demo::{escalation_event, user_call, Scenario, ESCALATE};
use warden_handler::local::emulator::LocalAws;

/// The production settings: the queues' visibility timeout (`stores::init`) and the receive at
/// which Warden gives up (`WARDEN_MAX_RECEIVES`' default).
const PRODUCTION: (f64, f64) = (180.0, 4.0);

fn env_list(name: &str, default: &str) -> Vec<u64> {
    std::env::var(name)
        .unwrap_or_else(|_| default.to_owned())
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect()
}

/// min / median / max, in seconds.
fn spread(mut v: Vec<f64>) -> String {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return "-".to_owned();
    }
    format!(
        "{:.2} / {:.2} / {:.2}",
        v[0],
        v[v.len() / 2],
        v[v.len() - 1]
    )
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Setting {
    /// The rules deliver to the work queue, one lane.
    Before,
    /// The rules deliver to the intake, forwarded in lanes.
    After,
}

struct Bench<'a> {
    s: &'a Scenario,
    flow: Flow,
    work: String,
    intake: String,
    dlq: SqsDeadLetters,
}

async fn queue_arn(c: &Clients, url: &str) -> String {
    c.sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone()
}

impl Bench<'_> {
    /// Points every Warden rule at the work queue (before) or the intake (after), in one group.
    async fn point_rules(&self, setting: Setting) {
        let c = &self.s.admin.clients;
        let target = match setting {
            Setting::Before => queue_arn(c, &self.work).await,
            Setting::After => queue_arn(c, &self.intake).await,
        };
        let rules = c
            .events
            .list_rules()
            .name_prefix("warden-")
            .send()
            .await
            .unwrap();
        for r in rules.rules() {
            let t = aws_sdk_eventbridge::types::Target::builder()
                .id("warden-queue")
                .arn(&target)
                .sqs_parameters(
                    aws_sdk_eventbridge::types::SqsParameters::builder()
                        .message_group_id(warden_handler::stores::init::MESSAGE_GROUP_ID)
                        .build(),
                )
                .build()
                .unwrap();
            c.events
                .put_targets()
                .rule(r.name().unwrap())
                .targets(t)
                .send()
                .await
                .unwrap();
        }
    }

    /// Both queues: visibility timeout `v`, redrive to the dead-letter queue after `r` receives.
    async fn queue_settings(&self, v: u64, r: u64) {
        let c = &self.s.admin.clients;
        let dlq_arn = queue_arn(c, &self.dlq.url).await;
        for url in [&self.work, &self.intake] {
            c.sqs
                .set_queue_attributes()
                .queue_url(url)
                .attributes(
                    aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
                    v.to_string(),
                )
                .attributes(
                    aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy,
                    json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": r}).to_string(),
                )
                .send()
                .await
                .unwrap();
        }
    }

    /// One event source mapping's loop on `queue`, until `stop`: forwards (the intake) or runs the
    /// flow (the work queue); the time each CloudTrail event is done goes into `done`.
    async fn consume(
        &self,
        queue: &str,
        forward: bool,
        stop: &AtomicBool,
        done: &Mutex<BTreeMap<String, Instant>>,
    ) {
        let c = &self.s.warden.clients;
        while !stop.load(Ordering::SeqCst) {
            let messages = receive(c, queue, 1).await.unwrap();
            if messages.is_empty() {
                continue;
            }
            let dlq: &dyn DeadLetters = &self.dlq;
            let outcome = if forward {
                forward_batch(c, &self.work, dlq, &messages).await
            } else {
                let lease = Duration::from_secs(120);
                process_batch(
                    &self.flow,
                    dlq,
                    &messages,
                    Some(tokio::time::Instant::now() + lease),
                )
                .await
            };
            let now = Instant::now();
            if !forward {
                let mut done = done.lock().unwrap();
                for m in messages
                    .iter()
                    .filter(|m| outcome.succeeded.contains(&m.id))
                {
                    let v: Value = serde_json::from_str(&m.body).unwrap_or_default();
                    if let Some(id) = v["detail"]["eventID"].as_str() {
                        done.insert(id.to_owned(), now);
                    }
                }
            }
            // As the event source mapping: what failed comes back after the visibility timeout.
            settle(c, queue, &messages, &outcome, false).await.unwrap();
        }
    }

    /// One trial: `(seconds until mallory's event is done, seconds until alice's next one is)`,
    /// both from when mallory's event was put on the bus; without `poison`, mallory's event alone.
    async fn trial(&self, setting: Setting, n: usize, poison: bool) -> (f64, f64) {
        let admin = &self.s.admin.clients;
        let poison_role = format!("lanes-poison-{n}");
        let b_role = format!("lanes-b-{n}");
        let a_role = format!("lanes-a-{n}");
        for role in [&poison_role, &b_role, &a_role] {
            admin
                .iam
                .create_role()
                .role_name(role)
                .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#)
                .send()
                .await
                .unwrap();
            admin
                .iam
                .put_role_policy()
                .role_name(role)
                .policy_name("escalate")
                .policy_document(ESCALATE)
                .send()
                .await
                .unwrap();
        }
        let alice = |role: &str, id: &str| {
            user_call(
                "alice",
                "iam.amazonaws.com",
                "PutRolePolicy",
                json!({"roleName": role, "policyName": "escalate", "policyDocument": ESCALATE}),
                id,
            )
        };
        let (a1, b1, a2) = (
            format!("lanes-{n}-a-1"),
            format!("lanes-{n}-b-1"),
            format!("lanes-{n}-a-2"),
        );
        // Warden's IAM rate limit (10 a second, a burst of 30) refills from the trial before: each
        // trial starts as the first event after a quiet spell.
        tokio::time::sleep(Duration::from_secs(3)).await;
        if poison {
            // The poison: a worker that never finishes holds its claim.
            let now = (warden_handler::enforce::flow::system_clock())();
            self.flow
                .ledger
                .claim(&a1, "a-stuck-worker", now, now + 86_400)
                .await
                .unwrap();
            self.s.emit(&alice(&poison_role, &a1)).await.unwrap();
        }
        let started = Instant::now();
        self.s.emit(&escalation_event(&b1, &b_role)).await.unwrap();
        if poison {
            self.s.emit(&alice(&a_role, &a2)).await.unwrap();
        }

        let stop = AtomicBool::new(false);
        let done = Mutex::new(BTreeMap::new());
        let finished = |id: &str| done.lock().unwrap().get(id).copied();
        let watch = async {
            while finished(&b1).is_none() || (poison && finished(&a2).is_none()) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            stop.store(true, Ordering::SeqCst);
        };
        let forwarding = async {
            if setting == Setting::After {
                self.consume(&self.intake, true, &stop, &done).await;
            }
        };
        tokio::join!(
            watch,
            forwarding,
            self.consume(&self.work, false, &stop, &done)
        );
        let since = |id: &str| finished(id).unwrap().duration_since(started).as_secs_f64();
        (since(&b1), if poison { since(&a2) } else { f64::NAN })
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let aws = LocalAws::start().expect("the local AWS starts");
        let s = Scenario::setup(&aws).await.expect("the demo account");
        // See `demo::work_once`: enforcement is off while Warden works.
        aws.enforce_policies(false).unwrap();
        s.admin
            .clients
            .iam
            .create_user()
            .user_name("alice")
            .send()
            .await
            .unwrap();
        let receives = env_list("WARDEN_BENCH_RECEIVES", "3")
            .first()
            .copied()
            .unwrap_or(3)
            .max(2);
        let config = s
            .config(&[
                ("WARDEN_ALERT_WINDOW_SECONDS", "0"),
                ("WARDEN_MAX_RECEIVES", &receives.to_string()),
            ])
            .unwrap();
        let clients = s.warden.clients.clone();
        let bench = Bench {
            s: &s,
            flow: warden_handler::assembly::build_flow(
                &config,
                &clients,
                warden_handler::local::demo::ACCOUNT.to_owned(),
            )
            .unwrap(),
            work: config.queue_url.clone().unwrap(),
            intake: config.intake_queue_url.clone().unwrap(),
            dlq: SqsDeadLetters {
                clients: clients.clone(),
                url: config.dlq_url.clone().unwrap(),
            },
        };
        let trials = env_list("WARDEN_BENCH_TRIALS", "3")
            .first()
            .copied()
            .unwrap_or(3)
            .max(1) as usize;
        let visibilities = env_list("WARDEN_BENCH_VISIBILITY", "2,4");
        println!(
            "an event queued behind a poison event of another principal (B), and the poison's own \
             principal's next event (A2); seconds from B's PutEvents, min / median / max of {trials}"
        );
        let mut n = 0;
        // The baseline: mallory's event alone, through the intake and its lane.
        bench.point_rules(Setting::After).await;
        let mut alone = Vec::new();
        for _ in 0..trials {
            n += 1;
            alone.push(bench.trial(Setting::After, n, false).await.0);
        }
        println!("  B alone, no poison: {}", spread(alone));
        let mut scaled = Vec::new();
        for setting in [Setting::Before, Setting::After] {
            bench.point_rules(setting).await;
            for &v in &visibilities {
                bench.queue_settings(v, receives + 1).await;
                let (mut b, mut a2) = (Vec::new(), Vec::new());
                for _ in 0..trials {
                    n += 1;
                    let (tb, ta) = bench.trial(setting, n, true).await;
                    b.push(tb);
                    a2.push(ta);
                }
                let bound = v as f64 * (receives - 1) as f64;
                println!(
                    "  {setting:?}: visibility {v} s, Warden gives up at receive {receives} (bound {bound:.0} s): \
                     B {}, A2 {}",
                    spread(b.clone()),
                    spread(a2.clone())
                );
                scaled.push((setting, v, median(b), median(a2), bound));
            }
        }
        let (pv, pr) = PRODUCTION;
        println!(
            "scaled to production ({pv:.0} s visibility, Warden gives up at receive {pr:.0}; a delay \
             that waits on the poison is taken as (receives - 1) x visibility plus what was measured \
             beyond it, the rest as measured):"
        );
        for (setting, v, b, a2, bound) in scaled {
            let scale = |d: f64| {
                if d >= bound * 0.9 {
                    pv * (pr - 1.0) + (d - bound)
                } else {
                    d
                }
            };
            println!(
                "  {setting:?} (from visibility {v} s): B {:.1} s, A2 {:.1} s",
                scale(b),
                scale(a2)
            );
        }
    });
}
