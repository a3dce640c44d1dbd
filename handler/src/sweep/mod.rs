//! Sweeps: reading the whole account through the connector layer's readers and keeping Warden's
//! account model from what they read. `model.rs` seeds and refreshes the model from a read.

pub mod model;
