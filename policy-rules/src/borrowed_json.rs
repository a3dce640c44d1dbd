//! A JSON value that borrows its strings from the text it was read from: what `mapping` reads an
//! event's request parameters, response elements and resources into. serde_json reads the text (the
//! same deserializer as for `serde_json::Value`, so the same text is accepted and refused, numbers
//! out of range and nesting past its limit included), but a string without an escape is a slice of
//! the text, not a new `String`, and an object is its members in order, not a map.
//!
//! Looking a key up answers what `serde_json::Value` does for the same text: the last of duplicate
//! keys wins, and the first key equal but for ASCII case (`Json::get_ignore_ascii_case`) is the first
//! in the order `Value`'s map iterates in (sorted keys, or the text's order when some crate in the
//! build turns on serde_json's `preserve_order`; asked of serde_json itself, once).
//!
//! This file owns the reading and the lookups; what the values mean is `mapping`'s.

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::sync::OnceLock;

/// A JSON value; strings borrowed from the text where they hold no escape.
#[derive(Debug, Clone, PartialEq)]
pub enum Json<'a> {
    Null,
    Bool(bool),
    /// A number (its value is never read).
    Number,
    String(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    /// The members in the text's order, duplicates kept (lookups resolve them as `Value` does).
    Object(Vec<(Cow<'a, str>, Json<'a>)>),
}

impl<'a> Json<'a> {
    /// Reads `text`; `None` where `serde_json::from_str::<Value>` would fail.
    pub fn parse(text: &'a str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Json<'a>]> {
        match self {
            Json::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The member `key` of an object (the last, if the key repeats), as `Value::get` answers.
    pub fn get(&self, key: &str) -> Option<&Json<'a>> {
        let Json::Object(members) = self else {
            return None;
        };
        members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The member whose key equals `key` but for ASCII case, as
    /// `value.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(key))` answers.
    pub fn get_ignore_ascii_case(&self, key: &str) -> Option<&Json<'a>> {
        let Json::Object(members) = self else {
            return None;
        };
        let mut candidates = members.iter().filter(|(k, _)| k.eq_ignore_ascii_case(key));
        let first = candidates.next()?;
        let chosen = if maps_keep_text_order() {
            &first.0
        } else {
            &candidates
                .fold(first, |min, c| if c.0 < min.0 { c } else { min })
                .0
        };
        members
            .iter()
            .rev()
            .find(|(k, _)| k == chosen)
            .map(|(_, v)| v)
    }

    /// Whether the value says something: not `null`, nor an empty string, array or object.
    pub fn is_present(&self) -> bool {
        match self {
            Json::Null => false,
            Json::String(s) => !s.is_empty(),
            Json::Array(a) => !a.is_empty(),
            Json::Object(o) => !o.is_empty(),
            Json::Bool(_) | Json::Number => true,
        }
    }
}

/// Whether `serde_json::Value`'s objects iterate in the text's order (the `preserve_order` feature)
/// rather than sorted by key.
fn maps_keep_text_order() -> bool {
    static KEEPS: OnceLock<bool> = OnceLock::new();
    *KEEPS.get_or_init(|| {
        serde_json::from_str::<serde_json::Value>(r#"{"b":0,"a":0}"#)
            .ok()
            .and_then(|v| {
                v.as_object()
                    .and_then(|o| o.keys().next().map(|k| k == "b"))
            })
            .unwrap_or(false)
    })
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Json::Number)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Json::Number)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Json::Number)
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Json::String(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Json::String(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Json::String(Cow::Owned(v)))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Json::Null)
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Json::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        Json::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(v) = seq.next_element()? {
            items.push(v);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
        while let Some(Key(k)) = map.next_key()? {
            members.push((k, map.next_value()?));
        }
        Ok(Json::Object(members))
    }
}

/// An object key, borrowed where it holds no escape.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::Value;

    /// What `mapping` asked of `Value` before: exact key, else the first equal but for ASCII case.
    fn value_lookup<'v>(v: &'v Value, key: &str) -> Option<&'v Value> {
        let obj = v.as_object()?;
        obj.get(key).or_else(|| {
            obj.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v)
        })
    }

    fn json_lookup<'j, 'a>(j: &'j Json<'a>, key: &str) -> Option<&'j Json<'a>> {
        j.get(key).or_else(|| j.get_ignore_ascii_case(key))
    }

    /// The two values say the same (numbers aside, whose value is never read).
    fn same(j: &Json<'_>, v: &Value) -> bool {
        match (j, v) {
            (Json::Null, Value::Null) | (Json::Number, Value::Number(_)) => true,
            (Json::Bool(a), Value::Bool(b)) => a == b,
            (Json::String(a), Value::String(b)) => a == b,
            (Json::Array(a), Value::Array(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
            }
            (Json::Object(_), Value::Object(o)) => o
                .iter()
                .all(|(k, val)| j.get(k).is_some_and(|x| same(x, val))),
            _ => false,
        }
    }

    #[test]
    fn reads_what_serde_json_reads_and_refuses_what_it_refuses() {
        for text in [
            r#"{"a":"x","b":[1,2.5,-3e2,{"c":null}],"d":true,"e":"esc\"aped\u00e9"}"#,
            r#"{"k":1,"k":"second"}"#,
            "null",
            r#""""#,
            r#"{"a":1e400}"#,
            r#"{"a":"#,
            &format!("{}1{}", "[".repeat(200), "]".repeat(200)),
        ] {
            let v: Option<Value> = serde_json::from_str(text).ok();
            let j = Json::parse(text);
            assert_eq!(j.is_some(), v.is_some(), "{text}");
            if let (Some(j), Some(v)) = (&j, &v) {
                assert!(same(j, v), "{text}");
            }
        }
        let j = Json::parse(r#"{"k":1,"k":"second"}"#).unwrap();
        assert_eq!(j.get("k").and_then(Json::as_str), Some("second"));
        assert!(matches!(
            Json::parse(r#"{"a":"plain"}"#).unwrap().get("a"),
            Some(Json::String(Cow::Borrowed("plain")))
        ));
    }

    proptest! {
        // INVARIANT (json-lookup-as-value): a key looked up in `Json` gives what `Value` gives, with
        // duplicate keys and keys equal but for case.
        #[test]
        fn lookups_answer_what_value_answers(
            members in proptest::collection::vec(("[aAbB]{1,3}", 0u8..4), 0..8),
            key in "[aAbB]{1,3}",
        ) {
            let text = format!(
                "{{{}}}",
                members
                    .iter()
                    .map(|(k, v)| format!("\"{k}\":\"{v}\""))
                    .collect::<Vec<_>>()
                    .join(",")
            );
            let v: Value = serde_json::from_str(&text).unwrap();
            let j = Json::parse(&text).unwrap();
            let want = value_lookup(&v, &key).and_then(Value::as_str);
            let got = json_lookup(&j, &key).and_then(Json::as_str);
            prop_assert_eq!(got, want, "{}", text);
            prop_assert!(same(&j, &v));
        }
    }
}
