//! Enforcement of one event and of a queue of them: the flow (claim, decide, plan, apply, verify,
//! record, alert), queue semantics, configuration, alerts, and the ports the flow keeps its state
//! behind.

pub mod alerts;
pub mod config;
pub mod flow;
pub mod ports;
pub mod queue;
