//! The `warden` subcommands' bodies: reading CloudTrail input, the replay engine and its report,
//! the plan report, the commands that talk to an account (their AWS set-up checked first), the
//! evidence views, `status`, `config --stack`, the offline `sweep` and `catch-up`, the policy `check`s. `args` is the
//! command line as clap defines it;
//! the binary (`main.rs`) parses it and calls these.

pub mod access;
pub mod account_scope;
pub mod args;
pub mod aws_setup;
pub mod catch_up;
pub mod check;
pub mod commands;
pub mod evidence_view;
pub mod input;
pub mod output;
pub mod plan_report;
pub mod replay;
pub mod report;
pub mod stack_config;
pub mod status;
pub mod sweep;
