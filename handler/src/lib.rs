//! Warden's edge: the `warden` CLI, the Lambda entry points, the enforcement flow, the connectors
//! that change AWS, the AWS client layer and the stores, on top of the pure `policy-rules` core.

pub mod account;
pub mod alerts;
pub mod aws;
pub mod commands;
pub mod config;
pub mod connectors;
pub mod demo;
pub mod dynamo;
pub mod evidence_file;
pub mod flow;
pub mod init;
pub mod input;
pub mod local_aws;
pub mod plan_report;
pub mod queue;
pub mod replay;
pub mod report;
pub mod runtime;
pub mod sns;
pub mod store;
