//! End-to-end tests live in `enforcement.rs` (through EventBridge, SQS FIFO and the worker) and
//! `injected_errors.rs` (errors the local AWS cannot make); this crate has no code of its own.
