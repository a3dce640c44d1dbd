//! Enforcement of one event and of a queue of them: the flow (claim, decide, plan, apply, verify,
//! record, alert), queue semantics, configuration, alerts, the ports the flow keeps its state
//! behind, and the watch over the pipeline (checkpoint, heartbeat, catch-up from CloudTrail event
//! history).

pub mod alerts;
pub mod apply_plan;
pub mod catch_up;
pub mod config;
pub mod flow;
pub mod heartbeat;
pub mod history;
pub mod ports;
pub mod queue;
pub mod watch;
