//! Deploying Warden's CloudFormation stack and reading what it made: the template the binary
//! carries, `CreateStack`/`UpdateStack` until the stack settles, its outputs as configuration.

pub mod stack;
