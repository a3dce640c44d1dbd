//! Enforcement figures on the local AWS, printed (no pass/fail: goals live in the issue and the
//! notes):
//! - time and AWS requests per enforced event, for the flow alone (the message is taken off the
//!   queue first, as Lambda's event source mapping does), with the requests by operation;
//! - a redelivered event, and the alert sent for an incident.
//!
//! The Lambda binary's size and start-up are in the `lambda_start` bench.
//!
//! Run: `cargo bench --workspace --bench enforce`. `WARDEN_BENCH_EVENTS` sets how many enforced
//! events (default 20), `WARDEN_RATE_LIMITS` Warden's client-side limits as in production (back to
//! back, the IAM limit sets the pace; `iam=1000` shows the emulator's own time).
//!
//! The emulator answers far faster or slower than AWS depending on the call, so the milliseconds
//! say where time goes on this machine, not what a Lambda in AWS takes; the request counts carry
//! over as they are.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::indexing_slicing
)]

#[path = "support/mod.rs"]
mod support;
use support::{env_num, spread};

use std::time::Instant;
use warden_handler::aws::{Clients, Sent};
use warden_handler::enforce::flow::{Flow, Handled};
use warden_handler::local::demo::{escalation_event, Scenario, ESCALATE};
use warden_handler::local::emulator::LocalAws;

async fn delete(s: &Scenario, handle: &str) {
    s.admin
        .clients
        .sqs
        .delete_message()
        .queue_url(s.init.get("WARDEN_QUEUE_URL").unwrap())
        .receipt_handle(handle)
        .send()
        .await
        .unwrap();
}

/// Mallory writes an inline policy on `role` and the CloudTrail record of it is put on the bus.
async fn misbehave(s: &Scenario, role: &str, event_id: &str) {
    s.mallory
        .clients
        .iam
        .put_role_policy()
        .role_name(role)
        .policy_name("escalate")
        .policy_document(ESCALATE)
        .send()
        .await
        .unwrap();
    s.emit(&escalation_event(event_id, role)).await.unwrap();
}

/// Handles one message through the flow; returns milliseconds and the requests it sent.
async fn handle(flow: &Flow, id: &str, body: &str) -> (f64, Sent) {
    let before = flow.caller.sent();
    let started = Instant::now();
    let handled = flow.handle_message(id, body, 1).await;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    assert!(matches!(handled, Handled::Done(_)), "{handled:?}");
    (ms, flow.caller.sent().since(&before))
}

fn breakdown(sent: &Sent) {
    for ((service, operation), n) in &sent.0 {
        println!("    {n:>3}  {service}:{operation}");
    }
}

async fn enforced_events(aws: &LocalAws, s: &Scenario) {
    let events = env_num("WARDEN_BENCH_EVENTS", 20).max(1);
    for i in 0..events {
        s.admin
            .clients
            .iam
            .create_role()
            .role_name(format!("bench-{i}"))
            .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#)
            .send()
            .await
            .unwrap();
    }
    // The account model knows the roles before the events (a sweep read them), so each undo
    // restores from it.
    s.sweep().await.unwrap();
    // Warden's clients with the configured rate limits (`WARDEN_RATE_LIMITS`, default `iam=10`):
    // back to back, IAM's limit sets the pace.
    let limits = std::env::var("WARDEN_RATE_LIMITS").unwrap_or_default();
    let config = s
        .config(&[
            ("WARDEN_ALERT_WINDOW_SECONDS", "0"),
            ("WARDEN_RATE_LIMITS", limits.as_str()),
        ])
        .unwrap();
    let conf = aws
        .sdk_config_session(
            &s.warden.access_key_id,
            &s.warden.secret_access_key,
            s.warden.session_token.as_deref(),
        )
        .await;
    let clients = Clients::from_conf(&conf, &config.rate_limits, config.retry);
    let flow = warden_handler::assembly::build_flow(
        &config,
        &clients,
        warden_handler::local::demo::ACCOUNT.to_owned(),
    )
    .unwrap();
    println!(
        "rate limits (requests per second / burst): {}",
        config
            .rate_limits
            .0
            .iter()
            .map(|(k, (r, b))| format!("{k} {r}/{b}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut ms = Vec::new();
    let mut counts = Vec::new();
    let mut first = None;
    let mut last = None;
    let mut redelivery = None;
    for i in 0..events {
        misbehave(s, &format!("bench-{i}"), &format!("bench-event-{i}")).await;
        let (id, body, handle_) = s.take_message().await.unwrap();
        let (t, sent) = handle(&flow, &id, &body).await;
        if i == 0 {
            // The same message again, as SQS redelivers it.
            redelivery = Some(handle(&flow, &id, &body).await);
            first = Some(sent.clone());
        }
        delete(s, &handle_).await;
        ms.push(t);
        counts.push(sent.total() as f64);
        last = Some(sent);
    }
    let before = flow.caller.sent();
    let started = Instant::now();
    let alerts = flow.flush_alerts(0).await.unwrap();
    let flush_ms = started.elapsed().as_secs_f64() * 1000.0;
    let flush = flow.caller.sent().since(&before);

    println!("enforced events (mallory's PutRolePolicy on a role; verdict deny: an inline Deny on mallory, the policy deleted)");
    println!("  events: {events}");
    println!("  ms per event, min / median / max: {}", spread(ms, 0));
    println!(
        "  AWS requests per event, min / median / max: {}",
        spread(counts, 0)
    );
    if let Some(first) = first {
        println!("  the first event's requests ({} in all):", first.total());
        breakdown(&first);
    }
    if let Some(last) = last.filter(|_| events > 1) {
        println!("  the last event's requests ({} in all):", last.total());
        breakdown(&last);
    }
    if let Some((t, sent)) = redelivery {
        println!(
            "  the first event redelivered: {t:.0} ms, {} requests ({sent})",
            sent.total()
        );
    }
    println!(
        "  alerts: {} incident message(s) for {events} events, {flush_ms:.0} ms, {} requests ({flush})",
        alerts.len(),
        flush.total()
    );
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
        enforced_events(&aws, &s).await;
    });
}
