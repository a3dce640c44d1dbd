//! The adapters behind the enforcement ports: the DynamoDB ledger, evidence chain and alert outbox
//! (with the optional S3 Object Lock mirror), the pipeline's checkpoint and heartbeat, the
//! CloudTrail event history (`LookupEvents`), the SNS notifier, the local evidence file, how a
//! verified trail reads, and `init`, which creates what they need.

pub mod dynamo;
pub mod event_history;
pub mod evidence_file;
pub mod init;
pub mod model_file;
pub mod sns;
pub mod verify;
pub mod watch;
