//! Which lane an event travels in: the SQS FIFO message group of Warden's work queue, one per real
//! principal (the IAM user, the role behind an assumed-role session, the user behind a federation
//! token: what `caller::classify` names as the principal a Deny would target), so an event that
//! keeps failing holds up only the later events of its own principal. Also the deduplication id the
//! message is sent with (the CloudTrail `eventID`), so a forwarder that sends twice (a retry after a
//! lost answer) puts one message on the queue.
//!
//! An EventBridge rule's SQS FIFO target takes one fixed message group (EventBridge user guide,
//! "Amazon SQS queues as targets"), so the rules deliver to an intake queue in one lane, and the
//! forwarder (`handler`'s `enforce::queue`) re-sends each message with the group and id chosen here.
//!
//! What this does not do: send anything, or judge the event. A body that does not read, carries
//! no event, or whose events have no principal or more than one, goes to [`FALLBACK_LANE`], where
//! the flow still reads it (and records and alerts what it cannot read).

use crate::caller::{classify, Caller};
use crate::event::parse_document;
use crate::evidence::deterministic_id;

/// The message group of bodies Warden cannot attribute to one principal.
pub const FALLBACK_LANE: &str = "unattributed";

/// The longest message group or deduplication id SQS takes ("SendMessage", Amazon SQS API
/// Reference: `MessageGroupId`, `MessageDeduplicationId`).
pub const MAX_ID_LEN: usize = 128;

/// Where one queue message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lane {
    /// The SQS FIFO `MessageGroupId`: `lane-` and 32 hex digits of the principal's SHA-256, or
    /// [`FALLBACK_LANE`].
    pub group_id: String,
    /// The SQS FIFO `MessageDeduplicationId`: the CloudTrail `eventID` of a body holding one event
    /// (when it is a valid id), else `body-` and 32 hex digits of the body's SHA-256.
    pub deduplication_id: String,
    /// The principal the lane is for (its ARN, or `kind:name` for a caller without one); `None` for
    /// the fallback lane.
    pub principal: Option<String>,
}

/// Whether `id` is a valid SQS message group or deduplication id: 1 to 128 characters, each an
/// ASCII letter, digit or punctuation mark (Amazon SQS API Reference, "SendMessage").
pub fn is_valid_id(id: &str) -> bool {
    (1..=MAX_ID_LEN).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic())
}

/// The principal a caller's events are ordered by: the principal a Deny would target, else the
/// caller's own ARN (a SAML or web-identity session), else its kind and name (an AWS service by
/// its `invokedBy`); `None` when the event names no one.
pub fn principal_key(caller: &Caller) -> Option<String> {
    caller
        .principal_arn
        .clone()
        .or_else(|| caller.arn.clone())
        .or_else(|| {
            caller
                .name
                .as_deref()
                .map(|n| format!("{}:{n}", caller.kind.as_str()))
        })
        .filter(|k| !k.is_empty())
}

/// The lane of a queue message body (an EventBridge envelope, a bare CloudTrail record, or a log
/// file of records).
pub fn lane_of(body: &str) -> Lane {
    let mut principals: Vec<Option<String>> = Vec::new();
    let mut event_ids: Vec<Option<String>> = Vec::new();
    let mut unreadable = false;
    parse_document(body.as_bytes(), |_, parsed| match parsed {
        Ok(event) => {
            principals.push(principal_key(&classify(&event)));
            event_ids.push(event.record.event_id.as_deref().map(str::to_owned));
        }
        Err(_) => unreadable = true,
    });
    let body_id = || format!("body-{}", deterministic_id(&["body", body]));
    let deduplication_id = match event_ids.as_slice() {
        [Some(id)] if !unreadable && is_valid_id(id) => id.clone(),
        _ => body_id(),
    };
    let principal = match principals.split_first() {
        Some((Some(first), rest))
            if !unreadable && rest.iter().all(|p| p.as_ref() == Some(first)) =>
        {
            Some(first.clone())
        }
        _ => None,
    };
    Lane {
        group_id: principal.as_deref().map_or_else(
            || FALLBACK_LANE.to_owned(),
            |p| format!("lane-{}", deterministic_id(&["lane", p])),
        ),
        deduplication_id,
        principal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{json, Value};

    fn envelope(user_identity: Value, event_id: Value) -> String {
        json!({
            "version": "0", "id": "eb-1", "detail-type": "AWS API Call via CloudTrail",
            "source": "aws.iam", "account": "123456789012", "region": "us-east-1",
            "detail": {
                "eventVersion": "1.09", "userIdentity": user_identity,
                "eventTime": "2026-11-24T10:00:00Z", "eventSource": "iam.amazonaws.com",
                "eventName": "PutRolePolicy", "awsRegion": "us-east-1",
                "requestParameters": {"roleName": "app"}, "eventID": event_id,
                "recipientAccountId": "123456789012",
            }
        })
        .to_string()
    }

    fn user(name: &str) -> Value {
        json!({"type": "IAMUser", "arn": format!("arn:aws:iam::123456789012:user/{name}"),
               "accountId": "123456789012", "userName": name})
    }

    fn session(role: &str, session: &str) -> Value {
        json!({
            "type": "AssumedRole",
            "arn": format!("arn:aws:sts::123456789012:assumed-role/{role}/{session}"),
            "accountId": "123456789012",
            "sessionContext": {"sessionIssuer": {
                "type": "Role", "arn": format!("arn:aws:iam::123456789012:role/ops/{role}"),
                "accountId": "123456789012", "userName": role,
            }},
        })
    }

    #[test]
    fn a_users_events_share_a_lane_and_other_users_do_not() {
        let a1 = lane_of(&envelope(user("alice"), json!("e-1")));
        let a2 = lane_of(&envelope(user("alice"), json!("e-2")));
        let b = lane_of(&envelope(user("bob"), json!("e-3")));
        assert_eq!(a1.group_id, a2.group_id);
        assert_ne!(a1.group_id, b.group_id);
        assert_eq!(
            a1.principal.as_deref(),
            Some("arn:aws:iam::123456789012:user/alice")
        );
        assert!(a1.group_id.starts_with("lane-") && a1.group_id.len() == 37);
        assert_eq!(a1.deduplication_id, "e-1");
    }

    #[test]
    fn every_session_of_a_role_is_the_roles_lane() {
        let s1 = lane_of(&envelope(session("deploy", "ci-1"), json!("e-1")));
        let s2 = lane_of(&envelope(session("deploy", "laptop"), json!("e-2")));
        assert_eq!(s1.group_id, s2.group_id);
        assert_eq!(
            s1.principal.as_deref(),
            Some("arn:aws:iam::123456789012:role/ops/deploy")
        );
        // A user of the same name is another principal.
        assert_ne!(
            s1.group_id,
            lane_of(&envelope(user("deploy"), json!("e-3"))).group_id
        );
    }

    #[test]
    fn a_federation_token_travels_with_the_user_that_asked_for_it() {
        let federated = json!({
            "type": "FederatedUser",
            "arn": "arn:aws:sts::123456789012:federated-user/temp",
            "accountId": "123456789012",
            "sessionContext": {"sessionIssuer": {
                "type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/alice",
                "accountId": "123456789012", "userName": "alice",
            }},
        });
        assert_eq!(
            lane_of(&envelope(federated, json!("e-1"))).group_id,
            lane_of(&envelope(user("alice"), json!("e-2"))).group_id
        );
    }

    #[test]
    fn an_aws_service_has_a_lane_of_its_own() {
        let service = json!({"type": "AWSService", "invokedBy": "config.amazonaws.com"});
        let lane = lane_of(&envelope(service, json!("e-1")));
        assert_eq!(
            lane.principal.as_deref(),
            Some("aws-service:config.amazonaws.com")
        );
    }

    #[test]
    fn what_names_no_one_goes_to_the_fallback_lane_deduplicated_by_its_body() {
        for body in [
            "this is not an event".to_owned(),
            "{\"detail-type\": \"AWS API Call via CloudTrail\", \"detail\": {\"eventSource\": 7"
                .to_owned(),
            // Two principals in one log file.
            json!({"Records": [
                json!({"userIdentity": user("alice"), "eventSource": "iam.amazonaws.com", "eventName": "CreateUser", "eventID": "r-1"}),
                json!({"userIdentity": user("bob"), "eventSource": "iam.amazonaws.com", "eventName": "CreateUser", "eventID": "r-2"}),
            ]})
            .to_string(),
        ] {
            let lane = lane_of(&body);
            assert_eq!(lane.group_id, FALLBACK_LANE, "{body}");
            assert_eq!(lane.principal, None);
            assert!(lane.deduplication_id.starts_with("body-"), "{body}");
            assert_eq!(lane, lane_of(&body), "deterministic");
        }
        assert_ne!(lane_of("a").deduplication_id, lane_of("b").deduplication_id);
        // A caller that names no one: the fallback lane, deduplicated by its event id.
        let lane = lane_of(&envelope(
            json!({"type": "IdentityCenterUser"}),
            json!("e-1"),
        ));
        assert_eq!(
            (lane.group_id.as_str(), lane.deduplication_id.as_str()),
            (FALLBACK_LANE, "e-1")
        );
    }

    #[test]
    fn an_event_id_sqs_would_refuse_is_replaced_by_the_bodys_hash() {
        for id in [
            json!(null),
            json!(""),
            json!("x".repeat(129)),
            json!("with space"),
            json!("é"),
        ] {
            let body = envelope(user("alice"), id.clone());
            let lane = lane_of(&body);
            assert!(lane.deduplication_id.starts_with("body-"), "{id}");
            assert_ne!(lane.group_id, FALLBACK_LANE, "{id}: still the user's lane");
        }
        let records = json!({"Records": [
            json!({"userIdentity": user("alice"), "eventSource": "iam.amazonaws.com", "eventName": "CreateUser", "eventID": "r-1"}),
            json!({"userIdentity": user("alice"), "eventSource": "iam.amazonaws.com", "eventName": "DeleteUser", "eventID": "r-2"}),
        ]})
        .to_string();
        let lane = lane_of(&records);
        assert_eq!(
            lane.group_id,
            lane_of(&envelope(user("alice"), json!("e-1"))).group_id
        );
        assert!(lane.deduplication_id.starts_with("body-"), "two events");
    }

    proptest! {
        // INVARIANT (valid-lane): whatever the body, SQS takes the group and deduplication ids.
        #[test]
        fn any_body_gets_ids_sqs_takes(body in ".{0,300}", id in ".{0,140}", name in "[^\"\\\\]{0,140}") {
            prop_assert!(is_valid_id(&lane_of(&body).group_id));
            prop_assert!(is_valid_id(&lane_of(&body).deduplication_id));
            let lane = lane_of(&envelope(user(&name), json!(id)));
            prop_assert!(is_valid_id(&lane.group_id));
            prop_assert!(is_valid_id(&lane.deduplication_id));
        }
    }
}
