//! IAM policy documents: identity policies, resource policies (bucket policies, trust policies) and
//! permissions boundaries, parsed in every valid form and written back deterministically and compactly.
//! ("IAM JSON policy element reference", IAM user guide.) `Statement` may be an object or an array;
//! `Action`/`NotAction`, `Resource`/`NotResource`, `Principal`/`NotPrincipal` values may be a string or
//! an array; condition values may be strings, booleans or numbers; documents may come as JSON or as
//! the URL-encoded (RFC 3986) strings IAM's API returns. An invalid document gets an error naming the
//! statement (index and `Sid`) and the field.
//!
//! This file owns the shape of policies; what a policy allows is `evaluate`'s business.

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Effect {
    Allow,
    Deny,
}

/// A list element that is either the list or its complement (`Action` / `NotAction`, …).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope<T> {
    Only(T),
    Not(T),
}

/// `Principal` values: `*`, or principals by kind (`AWS`, `Service`, `Federated`, `CanonicalUser`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Principals {
    Any,
    Kinds(BTreeMap<String, Vec<String>>),
}

/// Condition block: operator → key → values. Keys are kept as written (they match case-insensitively).
pub type Conditions = BTreeMap<String, BTreeMap<String, Vec<String>>>;

/// One statement.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    pub principal: Option<Scope<Principals>>,
    pub action: Scope<Vec<String>>,
    /// `None` only in trust policies, which name no resource.
    pub resource: Option<Scope<Vec<String>>>,
    pub condition: Conditions,
}

/// A whole policy document.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PolicyDocument {
    pub version: Option<String>,
    pub id: Option<String>,
    pub statements: Vec<Statement>,
}

/// Why a document is not a valid policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("not JSON: {0}")]
    Json(String),
    #[error("{0}")]
    Document(String),
    #[error("statement {index}{}: `{field}`: {message}", sid.as_ref().map(|s| format!(" (`{s}`)")).unwrap_or_default())]
    Statement {
        index: usize,
        sid: Option<String>,
        field: String,
        message: String,
    },
}

const VERSIONS: [&str; 2] = ["2012-10-17", "2008-10-17"];

fn strings(v: &Value) -> Result<Vec<String>, String> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(a) if !a.is_empty() => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("expected strings, found `{x}`"))
            })
            .collect(),
        Value::Array(_) => Err("must not be empty".to_owned()),
        other => Err(format!(
            "expected a string or an array of strings, found `{other}`"
        )),
    }
}

fn condition_values(v: &Value) -> Result<Vec<String>, String> {
    let one = |x: &Value| match x {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(format!(
            "condition values are strings, booleans or numbers, found `{other}`"
        )),
    };
    match v {
        Value::Array(a) => a.iter().map(one).collect(),
        x => Ok(vec![one(x)?]),
    }
}

impl PolicyDocument {
    /// Parses a document from JSON text, or from the URL-encoded text IAM's API returns.
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        let trimmed = text.trim_start();
        let decoded;
        let json =
            if trimmed.starts_with('%') || (!trimmed.starts_with('{') && trimmed.contains('%')) {
                decoded = percent_encoding::percent_decode_str(trimmed)
                    .decode_utf8()
                    .map_err(|e| {
                        PolicyError::Json(format!("URL-encoded document is not UTF-8: {e}"))
                    })?;
                decoded.as_ref()
            } else {
                text
            };
        let value: Value =
            serde_json::from_str(json).map_err(|e| PolicyError::Json(e.to_string()))?;
        Self::from_value(&value)
    }

    /// Parses a document from a JSON value (a string value is parsed as text).
    pub fn from_value(value: &Value) -> Result<Self, PolicyError> {
        if let Value::String(s) = value {
            return Self::parse(s);
        }
        let obj = value
            .as_object()
            .ok_or_else(|| PolicyError::Document("a policy is a JSON object".to_owned()))?;
        for key in obj.keys() {
            if !matches!(key.as_str(), "Version" | "Id" | "Statement") {
                return Err(PolicyError::Document(format!(
                    "unknown top-level element `{key}`"
                )));
            }
        }
        let version = match obj.get("Version") {
            None => None,
            Some(Value::String(v)) if VERSIONS.contains(&v.as_str()) => Some(v.clone()),
            Some(v) => {
                return Err(PolicyError::Document(format!(
                    "`Version` must be 2012-10-17 or 2008-10-17, found `{v}`"
                )))
            }
        };
        let id = obj.get("Id").and_then(Value::as_str).map(str::to_owned);
        let raw: Vec<&Value> = match obj.get("Statement") {
            Some(Value::Array(a)) => a.iter().collect(),
            Some(o @ Value::Object(_)) => vec![o],
            Some(_) => {
                return Err(PolicyError::Document(
                    "`Statement` must be an object or an array".to_owned(),
                ))
            }
            None => return Err(PolicyError::Document("no `Statement`".to_owned())),
        };
        let statements = raw
            .into_iter()
            .enumerate()
            .map(|(i, s)| parse_statement(i, s))
            .collect::<Result<_, _>>()?;
        Ok(PolicyDocument {
            version,
            id,
            statements,
        })
    }

    /// The document as compact JSON with a fixed element order: the same document always gives the
    /// same bytes.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Characters IAM counts against its size limits: the compact JSON without whitespace outside
    /// strings ("IAM and AWS STS quotas": "IAM does not count white space").
    pub fn size(&self) -> usize {
        self.to_json().chars().count()
    }
}

fn parse_statement(index: usize, v: &Value) -> Result<Statement, PolicyError> {
    let sid = v.get("Sid").and_then(Value::as_str).map(str::to_owned);
    let err = |field: &str, message: String| PolicyError::Statement {
        index,
        sid: sid.clone(),
        field: field.to_owned(),
        message,
    };
    let obj = v
        .as_object()
        .ok_or_else(|| err("Statement", "a statement is a JSON object".to_owned()))?;
    for key in obj.keys() {
        if !matches!(
            key.as_str(),
            "Sid"
                | "Effect"
                | "Principal"
                | "NotPrincipal"
                | "Action"
                | "NotAction"
                | "Resource"
                | "NotResource"
                | "Condition"
        ) {
            return Err(err(key, "unknown element".to_owned()));
        }
    }
    let effect = match obj.get("Effect").and_then(Value::as_str) {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        Some(other) => {
            return Err(err(
                "Effect",
                format!("must be `Allow` or `Deny`, found `{other}`"),
            ))
        }
        None => return Err(err("Effect", "missing".to_owned())),
    };
    let pair = |only: &str, not: &str| -> Result<Option<Scope<Vec<String>>>, PolicyError> {
        match (obj.get(only), obj.get(not)) {
            (Some(_), Some(_)) => Err(err(
                only,
                format!("`{only}` and `{not}` cannot both be present"),
            )),
            (Some(v), None) => strings(v)
                .map(|s| Some(Scope::Only(s)))
                .map_err(|m| err(only, m)),
            (None, Some(v)) => strings(v)
                .map(|s| Some(Scope::Not(s)))
                .map_err(|m| err(not, m)),
            (None, None) => Ok(None),
        }
    };
    let action = pair("Action", "NotAction")?
        .ok_or_else(|| err("Action", "missing `Action` or `NotAction`".to_owned()))?;
    let resource = pair("Resource", "NotResource")?;
    let principal = match (obj.get("Principal"), obj.get("NotPrincipal")) {
        (Some(_), Some(_)) => {
            return Err(err(
                "Principal",
                "`Principal` and `NotPrincipal` cannot both be present".to_owned(),
            ))
        }
        (Some(p), None) => Some(Scope::Only(
            parse_principals(p).map_err(|m| err("Principal", m))?,
        )),
        (None, Some(p)) => Some(Scope::Not(
            parse_principals(p).map_err(|m| err("NotPrincipal", m))?,
        )),
        (None, None) => None,
    };
    let mut condition = Conditions::new();
    if let Some(c) = obj.get("Condition") {
        let ops = c
            .as_object()
            .ok_or_else(|| err("Condition", "must be an object".to_owned()))?;
        for (op, keys) in ops {
            let keys = keys
                .as_object()
                .ok_or_else(|| err("Condition", format!("`{op}` must map keys to values")))?;
            let mut m = BTreeMap::new();
            for (k, vals) in keys {
                m.insert(
                    k.clone(),
                    condition_values(vals)
                        .map_err(|e| err("Condition", format!("`{op}` `{k}`: {e}")))?,
                );
            }
            condition.insert(op.clone(), m);
        }
    }
    Ok(Statement {
        sid,
        effect,
        principal,
        action,
        resource,
        condition,
    })
}

fn parse_principals(v: &Value) -> Result<Principals, String> {
    match v {
        Value::String(s) if s == "*" => Ok(Principals::Any),
        Value::Object(o) => {
            let mut kinds = BTreeMap::new();
            for (k, vals) in o {
                if !matches!(
                    k.as_str(),
                    "AWS" | "Service" | "Federated" | "CanonicalUser"
                ) {
                    return Err(format!("unknown principal kind `{k}` (one of AWS, Service, Federated, CanonicalUser)"));
                }
                kinds.insert(k.clone(), strings(vals)?);
            }
            Ok(Principals::Kinds(kinds))
        }
        other => Err(format!(
            "expected `*` or an object of principal kinds, found `{other}`"
        )),
    }
}

fn one_or_many<M: SerializeMap>(map: &mut M, key: &str, values: &[String]) -> Result<(), M::Error> {
    match values {
        [one] => map.serialize_entry(key, one),
        many => map.serialize_entry(key, many),
    }
}

struct PrincipalsOut<'a>(&'a Principals);

impl Serialize for PrincipalsOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Principals::Any => s.serialize_str("*"),
            Principals::Kinds(kinds) => {
                let mut m = s.serialize_map(Some(kinds.len()))?;
                for (k, v) in kinds {
                    one_or_many(&mut m, k, v)?;
                }
                m.end()
            }
        }
    }
}

struct ConditionOut<'a>(&'a Conditions);

impl Serialize for ConditionOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (op, keys) in self.0 {
            let inner: Map<String, Value> = keys
                .iter()
                .map(|(k, v)| {
                    let v = match v.as_slice() {
                        [one] => Value::String(one.clone()),
                        many => Value::Array(many.iter().cloned().map(Value::String).collect()),
                    };
                    (k.clone(), v)
                })
                .collect();
            m.serialize_entry(op, &inner)?;
        }
        m.end()
    }
}

impl Serialize for Statement {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        if let Some(sid) = &self.sid {
            m.serialize_entry("Sid", sid)?;
        }
        m.serialize_entry(
            "Effect",
            match self.effect {
                Effect::Allow => "Allow",
                Effect::Deny => "Deny",
            },
        )?;
        match &self.principal {
            Some(Scope::Only(p)) => m.serialize_entry("Principal", &PrincipalsOut(p))?,
            Some(Scope::Not(p)) => m.serialize_entry("NotPrincipal", &PrincipalsOut(p))?,
            None => {}
        }
        match &self.action {
            Scope::Only(a) => one_or_many(&mut m, "Action", a)?,
            Scope::Not(a) => one_or_many(&mut m, "NotAction", a)?,
        }
        match &self.resource {
            Some(Scope::Only(r)) => one_or_many(&mut m, "Resource", r)?,
            Some(Scope::Not(r)) => one_or_many(&mut m, "NotResource", r)?,
            None => {}
        }
        if !self.condition.is_empty() {
            m.serialize_entry("Condition", &ConditionOut(&self.condition))?;
        }
        m.end()
    }
}

impl Serialize for PolicyDocument {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        if let Some(v) = &self.version {
            m.serialize_entry("Version", v)?;
        }
        if let Some(id) = &self.id {
            m.serialize_entry("Id", id)?;
        }
        m.serialize_entry("Statement", &self.statements)?;
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_valid_form_parses_and_round_trips() {
        let text = r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotAction":["iam:Get*","iam:List*"],"NotResource":"arn:aws:iam::1:user/${aws:username}","Condition":{"Bool":{"aws:MultiFactorAuthPresent":false},"NumericLessThan":{"s3:max-keys":[10, "20"]}}}}"#;
        let doc = PolicyDocument::parse(text).unwrap();
        let s = &doc.statements[0];
        assert_eq!(
            s.action,
            Scope::Not(vec!["iam:Get*".into(), "iam:List*".into()])
        );
        assert_eq!(
            s.condition["Bool"]["aws:MultiFactorAuthPresent"],
            vec!["false"]
        );
        assert_eq!(
            s.condition["NumericLessThan"]["s3:max-keys"],
            vec!["10", "20"]
        );
        let again = PolicyDocument::parse(&doc.to_json()).unwrap();
        assert_eq!(again, doc);
        assert_eq!(again.to_json(), doc.to_json());
        assert!(!doc.to_json().contains(' '), "compact: {}", doc.to_json());
    }

    #[test]
    fn url_encoded_trust_policy_with_principals() {
        let enc = "%7B%22Version%22%3A%222008-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22Service%22%3A%22ec2.amazonaws.com%22%2C%22AWS%22%3A%5B%22arn%3Aaws%3Aiam%3A%3A1%3Aroot%22%5D%7D%2C%22Action%22%3A%22sts%3AAssumeRole%22%7D%5D%7D";
        let doc = PolicyDocument::parse(enc).unwrap();
        assert_eq!(doc.version.as_deref(), Some("2008-10-17"));
        let Some(Scope::Only(Principals::Kinds(k))) = &doc.statements[0].principal else {
            panic!()
        };
        assert_eq!(k["Service"], vec!["ec2.amazonaws.com"]);
        assert!(doc.statements[0].resource.is_none());
    }

    #[test]
    fn errors_name_statement_and_field() {
        let e = PolicyDocument::parse(r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"},{"Sid":"Bad","Effect":"Permit","Action":"s3:*"}]}"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            "statement 1 (`Bad`): `Effect`: must be `Allow` or `Deny`, found `Permit`"
        );
        let e =
            PolicyDocument::parse(r#"{"Statement":{"Effect":"Allow","Action":[],"Resource":"*"}}"#)
                .unwrap_err();
        assert_eq!(e.to_string(), "statement 0: `Action`: must not be empty");
        let e = PolicyDocument::parse(r#"{"Statement":{"Effect":"Allow","Action":"a:b","Resource":"*","Principal":{"Bogus":"x"}}}"#).unwrap_err();
        assert!(e.to_string().contains("unknown principal kind `Bogus`"));
        assert!(PolicyDocument::parse(r#"{"Version":"2020-01-01","Statement":[]}"#).is_err());
    }

    #[test]
    fn real_policies_parse() {
        let all: Value = serde_json::from_str(include_str!(
            "../../fixtures/policies/stratus_red_team_malicious_policies.json"
        ))
        .unwrap();
        for (name, p) in all["policies"].as_object().unwrap() {
            PolicyDocument::from_value(p).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let gaad: Value = serde_json::from_str(include_str!(
            "../../fixtures/policies/cloudsplaining_test_example-authz-details.json"
        ))
        .unwrap();
        let mut n = 0;
        for p in gaad["Policies"].as_array().unwrap() {
            for v in p["PolicyVersionList"].as_array().unwrap() {
                PolicyDocument::from_value(&v["Document"]).unwrap();
                n += 1;
            }
        }
        for r in gaad["RoleDetailList"].as_array().unwrap() {
            PolicyDocument::from_value(&r["AssumeRolePolicyDocument"]).unwrap();
            for p in r["RolePolicyList"].as_array().unwrap() {
                PolicyDocument::from_value(&p["PolicyDocument"]).unwrap();
                n += 1;
            }
        }
        assert!(n > 30, "{n}");
    }
}
