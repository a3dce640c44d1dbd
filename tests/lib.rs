//! End-to-end tests live in `enforcement.rs`; this crate has no code of its own.
