//! The SNS adapter of the [`Notifier`] port: one `Publish` per alert to the alert topic. What an
//! alert says is `alerts.rs`'s business; this file owns how it travels.
//!
//! - The message body is the human-readable text (it is what an e-mail subscription shows), the
//!   subject the alert's subject.
//! - Every entry of `Alert::attributes` becomes a `String` message attribute, so subscription filter
//!   policies can select on `severity`, `verdict`, `mode`, `rule`, `account`, `principal`.
//! - The structured JSON travels as the message attribute `warden_json` (raw-message SQS and HTTP
//!   subscribers read it from the attributes; e-mail readers never see it). SNS counts attributes
//!   in the 256 KiB message limit and allows 10 of them (Amazon SNS Developer Guide, "Amazon SNS
//!   message attributes" and "Publish"): when the full JSON does not fit, `warden_json` carries a
//!   summary (alert id, principal, verdict, and per event its id, name, verdict and evidence ids)
//!   and `warden_json_complete` is `false`; the full notices stay in the outbox incident and the
//!   evidence trail. The body is cut (with a note) only if it alone would break the limit.

use crate::aws::Clients;
use crate::enforce::alerts::Alert;
use crate::enforce::ports::{Notifier, StoreError};
use async_trait::async_trait;
use aws_sdk_sns::types::MessageAttributeValue;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// SNS's message size limit, body and attributes together.
pub const MAX_MESSAGE_BYTES: usize = 262_144;
/// SNS's limit on message attributes per message.
pub const MAX_ATTRIBUTES: usize = 10;

/// Publishes alerts to one SNS topic.
#[derive(Clone)]
pub struct SnsNotifier {
    clients: Clients,
    topic_arn: String,
}

impl SnsNotifier {
    pub fn new(clients: Clients, topic_arn: impl Into<String>) -> Self {
        Self {
            clients,
            topic_arn: topic_arn.into(),
        }
    }
}

/// What one `Publish` carries: body and string attributes, within SNS's limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub subject: String,
    pub body: String,
    pub attributes: BTreeMap<String, String>,
}

fn attributes_size(a: &BTreeMap<String, String>) -> usize {
    // Name, data type and value all count.
    a.iter()
        .map(|(k, v)| k.len() + "String".len() + v.len())
        .sum()
}

/// Cuts `s` to at most `max` bytes on a character boundary.
fn cut(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("")
}

fn summary(json: &Value) -> Value {
    let events: Vec<Value> = json
        .get("events")
        .and_then(Value::as_array)
        .map(|events| {
            events
                .iter()
                .map(|e| {
                    let evidence: Vec<&Value> = e
                        .get("changes")
                        .and_then(Value::as_array)
                        .map(|c| {
                            c.iter()
                                .filter_map(|c| c.get("evidence_id"))
                                .filter(|v| !v.is_null())
                                .collect()
                        })
                        .unwrap_or_default();
                    json!({
                        "event_id": e.get("event_id"),
                        "event_name": e.get("event_name"),
                        "verdict": e.get("verdict"),
                        "evidence_ids": evidence,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "alert_id": json.get("alert_id"),
        "principal": json.get("principal"),
        "severity": json.get("severity"),
        "verdict": json.get("verdict"),
        "mode": json.get("mode"),
        "events": events,
        "complete": false,
    })
}

/// The message for `alert` (see the file comment for what goes where when it is large).
pub fn message(alert: &Alert) -> Message {
    // SNS refuses empty attribute values; at most 8 of the alert's own, leaving room for ours.
    let mut attributes: BTreeMap<String, String> = alert
        .attributes
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .take(MAX_ATTRIBUTES - 2)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut body = alert.body.clone();
    let room = MAX_MESSAGE_BYTES.saturating_sub(attributes_size(&attributes) + 2_048);
    if body.len() > room {
        let note = "\n… (cut to fit SNS's 256 KiB limit; the full alert is in the `warden_json` attribute or the evidence trail)\n";
        body = format!("{}{note}", cut(&body, room.saturating_sub(note.len())));
    }
    let full = policy_rules::evidence::canonical_json(&alert.json);
    let left = MAX_MESSAGE_BYTES.saturating_sub(body.len() + attributes_size(&attributes) + 64);
    if full.len() <= left {
        attributes.insert("warden_json".to_owned(), full);
    } else {
        let short = policy_rules::evidence::canonical_json(&summary(&alert.json));
        if short.len() <= left {
            attributes.insert("warden_json".to_owned(), short);
        }
        attributes.insert("warden_json_complete".to_owned(), "false".to_owned());
    }
    Message {
        subject: alert.subject.clone(),
        body,
        attributes,
    }
}

#[async_trait]
impl Notifier for SnsNotifier {
    /// One `Publish`.
    async fn publish(&self, alert: &Alert) -> Result<String, StoreError> {
        let m = message(alert);
        let mut req = self
            .clients
            .sns
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(&m.subject)
            .message(&m.body);
        for (name, value) in &m.attributes {
            let v = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| StoreError::Corrupt(format!("building attribute `{name}`: {e}")))?;
            req = req.message_attributes(name, v);
        }
        let out = self
            .clients
            .caller
            .call("sns", "Publish", || req.clone().send())
            .await?;
        out.value
            .message_id
            .ok_or_else(|| StoreError::Corrupt("SNS returned no message id".to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(body: String, json: Value) -> Alert {
        Alert {
            id: "i1".into(),
            subject: "[Warden] DENY bob iam:CreateUser".into(),
            body,
            json,
            attributes: BTreeMap::from([
                ("severity".to_owned(), "high".to_owned()),
                ("rule".to_owned(), String::new()),
            ]),
        }
    }

    #[test]
    fn small_alerts_carry_the_full_json_and_no_empty_attribute() {
        let m = message(&alert(
            "text".into(),
            json!({"alert_id": "i1", "events": []}),
        ));
        assert_eq!(
            m.attributes["warden_json"],
            r#"{"alert_id":"i1","events":[]}"#
        );
        assert!(!m.attributes.contains_key("rule"));
        assert!(!m.attributes.contains_key("warden_json_complete"));
    }

    #[test]
    fn large_alerts_fit_with_a_summary() {
        let big = "x".repeat(200_000);
        let events: Vec<Value> = (0..3)
            .map(|i| json!({"event_id": format!("e{i}"), "event_name": "PutUserPolicy", "verdict": "deny", "reasons": [big.clone()], "changes": [{"evidence_id": "ev1"}]}))
            .collect();
        let m = message(&alert(
            "y".repeat(300_000),
            json!({"alert_id": "i1", "events": events}),
        ));
        let size = m.body.len() + attributes_size(&m.attributes);
        assert!(size <= MAX_MESSAGE_BYTES, "{size}");
        assert_eq!(m.attributes["warden_json_complete"], "false");
        let s: Value = serde_json::from_str(&m.attributes["warden_json"]).unwrap();
        assert_eq!(s["events"][2]["event_id"], "e2");
        assert_eq!(s["events"][0]["evidence_ids"][0], "ev1");
        assert!(m.body.ends_with("evidence trail)\n"));
    }
}
