//! Warden's pure core: CloudTrail events, callers, the IAM action catalog and the mapping of an event
//! to actions and resources, rule sets, and the decision. No I/O, no clock, no AWS SDK: everything
//! here is a function of its arguments, so it can be unit-tested, property-tested and fuzzed.

pub mod access;
pub mod arn;
pub mod aws_rules;
pub mod borrowed_json;
pub mod bucket;
pub mod caller;
pub mod catalog;
pub mod decision;
pub mod evaluate;
pub mod event;
pub mod event_scan;
pub mod evidence;
pub mod evidence_target;
pub mod grants;
pub mod held;
pub mod lane;
pub mod mapping;
pub mod memberships;
pub mod model;
pub mod passed_roles;
pub mod planner;
pub mod policy;
pub mod policy_check;
mod principal_match;
pub mod principal_pattern;
pub mod review;
pub mod routing;
pub mod rules;
pub mod snapshot;
pub mod sweep;
pub mod wildcard;
