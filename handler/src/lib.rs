//! Warden's edge: everything that touches AWS, files or the terminal, on top of the pure
//! `policy-rules` core. The folders are the stages, top to bottom, and every import points down:
//!
//! - `cli/`: the `warden` subcommands (offline replay and plans, and the commands that talk to an
//!   account); `bin/` (not a module): the Lambda.
//! - `local/`: the local AWS (moto in server mode) and the demo scenario on it.
//! - `deploy/`: the CloudFormation stack the binary carries, deployed and waited for, and its
//!   outputs as configuration.
//! - `assembly`: builds the clients, the stores and the enforcement flow from the configuration.
//! - `stores/`: the DynamoDB, SNS, S3 and file adapters of the enforcement ports, and `init`.
//! - `enforce/`: the per-event flow, queue semantics, configuration, alerts, and the ports (traits
//!   that take and return Warden's types, never SDK types).
//! - `connectors/`: one per kind of thing Warden changes, plus the live account reader.
//! - `aws/`: the AWS client layer (rate limits, retries, errors).

pub mod assembly;
pub mod aws;
pub mod cli;
pub mod connectors;
pub mod deploy;
pub mod enforce;
pub mod local;
pub mod stores;
pub mod sweep;
