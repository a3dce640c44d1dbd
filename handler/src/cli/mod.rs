//! The `warden` subcommands' bodies: reading CloudTrail input, the replay engine and its report,
//! the plan report, and the commands that talk to an account. The binary (`main.rs`) parses the
//! command line and calls these.

pub mod account_scope;
pub mod commands;
pub mod input;
pub mod output;
pub mod plan_report;
pub mod replay;
pub mod report;
