//! Sweeps: reading the whole account through the connector layer's readers and keeping Warden's
//! account model from what they read. `model.rs` records a read in the model; `run.rs` is the
//! resumable sweep (checkpointed units of reading, then the findings); `findings.rs` runs the pure
//! sweep over the model, puts drift back and sends the summary alert; `apply.rs` makes an enforcing
//! sweep's changes.

pub mod apply;
pub mod findings;
pub mod model;
pub mod run;
