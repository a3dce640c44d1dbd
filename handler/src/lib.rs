//! Warden's edge: the `warden` CLI's offline commands (replay, rules check) on top of the pure
//! `policy-rules` core. Later: the Lambda entry points, the connectors and the AWS clients.

pub mod evidence_file;
pub mod input;
pub mod plan_report;
pub mod replay;
pub mod report;
