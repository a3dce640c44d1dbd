//! `warden check`: the policy checks for CI (`policy_rules::policy_check`) on files. This file reads
//! each input and tells what it is: a policy document (JSON with `Statement`), the output of `aws
//! iam get-account-authorization-details` (`UserDetailList`, `RoleDetailList`, …), or a
//! CloudFormation template (`Resources`, JSON or YAML with its short-form tags such as `!Sub`); and
//! it writes the answer for people or as JSON. Deciding is `policy_check`'s business.

use policy_rules::policy::PolicyDocument;
use policy_rules::policy_check::{Atoms, Example, Outcome, PolicySet};
use policy_rules::snapshot::Snapshot;
use serde_json::{json, Value};
use std::io::{self, Write};
use std::path::Path;

/// Why an input cannot be checked (the binary exits 2).
#[derive(Debug, thiserror::Error)]
pub enum CheckInputError {
    #[error("cannot read `{path}`: {source}")]
    Read { path: String, source: io::Error },
    #[error("`{path}`: {message}")]
    Invalid { path: String, message: String },
}

fn invalid(path: &Path, message: impl std::fmt::Display) -> CheckInputError {
    CheckInputError::Invalid {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

/// A YAML value as the JSON CloudFormation reads: `!Sub x` is `{"Fn::Sub": x}`, `!Ref x` is
/// `{"Ref": x}`, `!GetAtt a.b` is `{"Fn::GetAtt": ["a", "b"]}`.
fn yaml_to_json(v: &yaml_serde::Value) -> Value {
    match v {
        yaml_serde::Value::Null => Value::Null,
        yaml_serde::Value::Bool(b) => Value::Bool(*b),
        yaml_serde::Value::Number(n) => {
            serde_json::from_str(&n.to_string()).unwrap_or_else(|_| Value::String(n.to_string()))
        }
        yaml_serde::Value::String(s) => Value::String(s.clone()),
        yaml_serde::Value::Sequence(s) => Value::Array(s.iter().map(yaml_to_json).collect()),
        yaml_serde::Value::Mapping(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let key = match k {
                        yaml_serde::Value::String(s) => s.clone(),
                        other => yaml_to_json(other).to_string(),
                    };
                    (key, yaml_to_json(v))
                })
                .collect(),
        ),
        yaml_serde::Value::Tagged(t) => {
            let tag = t.tag.to_string();
            let name = tag.trim_start_matches('!');
            let key = if name == "Ref" || name == "Condition" {
                name.to_owned()
            } else {
                format!("Fn::{name}")
            };
            let mut inner = yaml_to_json(&t.value);
            if name == "GetAtt" {
                if let Value::String(s) = &inner {
                    if let Some((a, b)) = s.split_once('.') {
                        inner = json!([a, b]);
                    }
                }
            }
            json!({ key: inner })
        }
    }
}

/// Reads one input into a policy set. `principal`: for an account file, that principal's own
/// policies instead of every policy in it.
pub fn load(
    path: &Path,
    principal: Option<&str>,
    atoms: &mut Atoms,
) -> Result<PolicySet, CheckInputError> {
    let text = std::fs::read_to_string(path).map_err(|source| CheckInputError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let value: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(json_error) => match yaml_serde::from_str::<yaml_serde::Value>(&text) {
            Ok(y) if y.is_mapping() => yaml_to_json(&y),
            _ => {
                return Err(invalid(
                    path,
                    format!("neither JSON nor YAML: {json_error}"),
                ))
            }
        },
    };
    let name = path.display().to_string();
    let is_account = ["UserDetailList", "RoleDetailList", "GroupDetailList"]
        .iter()
        .any(|k| value.get(k).is_some());
    if principal.is_some() && !is_account {
        return Err(invalid(
            path,
            "`--principal` picks a principal of an account file (`aws iam get-account-authorization-details`), and this is not one",
        ));
    }
    if value.get("Statement").is_some() {
        let doc = PolicyDocument::from_value(&value).map_err(|e| invalid(path, e))?;
        PolicySet::from_document(&name, &doc).map_err(|e| invalid(path, e))
    } else if is_account {
        let snap = Snapshot::parse(&text).map_err(|e| invalid(path, e))?;
        PolicySet::from_snapshot(&snap, principal).map_err(|e| invalid(path, e))
    } else if value.get("Resources").is_some() {
        PolicySet::from_template(&value, atoms).map_err(|e| invalid(path, e))
    } else {
        Err(invalid(
            path,
            "not a policy document (`Statement`), an account file (`UserDetailList`, `RoleDetailList`) or a CloudFormation template (`Resources`)",
        ))
    }
}

fn example_json(e: &Example) -> Value {
    json!({
        "action": e.action,
        "resource": e.resource,
        "context": e.context,
        "statement": {
            "policy": e.policy,
            "index": e.index,
            "sid": e.sid,
            "document": serde_json::from_str::<Value>(&e.statement).unwrap_or(Value::Null),
        },
        "assumed": e.assumed.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect::<serde_json::Map<_, _>>(),
    })
}

/// The answer as one JSON object: `check`, `result` (`pass`, `fail`, `cannot-prove`), and for a
/// failure the `example` request; `why` unless it passed.
pub fn to_json(check: &str, outcome: &Outcome) -> Value {
    match outcome {
        Outcome::Pass => json!({"check": check, "result": "pass"}),
        Outcome::Fail { why, example } => json!({
            "check": check,
            "result": "fail",
            "why": why,
            "example": example_json(example),
        }),
        Outcome::CannotProve { why } => {
            json!({"check": check, "result": "cannot-prove", "why": why})
        }
    }
}

fn request_text(e: &Example) -> String {
    let mut s = format!("`{}` on `{}`", e.action, e.resource);
    if !e.context.is_empty() {
        let keys: Vec<String> = e.context.iter().map(|(k, v)| format!("{k}={v}")).collect();
        s.push_str(&format!(" (with {})", keys.join(", ")));
    }
    if !e.assumed.is_empty() {
        let keys: Vec<String> = e.assumed.iter().map(|(k, v)| format!("{k}={v}")).collect();
        s.push_str(&format!(" (taking {})", keys.join(", ")));
    }
    s
}

fn statement_text(e: &Example) -> String {
    let at = e
        .sid
        .as_ref()
        .map_or_else(|| e.index.to_string(), |s| format!("`{s}`"));
    format!("`{}` statement {at}", e.policy)
}

/// The answer for people, in one or two lines. `what` says what was checked
/// ("`new.json` against `old.json`").
pub fn render(
    check: &str,
    what: &str,
    outcome: &Outcome,
    json: bool,
    out: &mut impl Write,
) -> io::Result<()> {
    if json {
        writeln!(out, "{}", to_json(check, outcome))?;
        return out.flush();
    }
    match (check, outcome) {
        ("no-new-access", Outcome::Pass) => writeln!(
            out,
            "pass: no new access: every request {what} allows, the reference allows"
        )?,
        ("no-new-access", Outcome::Fail { example, .. }) => writeln!(
            out,
            "fail: new access: {what} allows {} and the reference does not\n  allowed by {}",
            request_text(example),
            statement_text(example)
        )?,
        (_, Outcome::Pass) => writeln!(out, "pass: {what} grants none of the access asked about")?,
        (_, Outcome::Fail { example, .. }) => writeln!(
            out,
            "fail: {what} allows {}\n  allowed by {}",
            request_text(example),
            statement_text(example)
        )?,
        (_, Outcome::CannotProve { why }) => writeln!(out, "cannot prove: {why}")?,
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_short_forms_are_cloudformation_json() {
        let y: yaml_serde::Value =
            yaml_serde::from_str("a: !Sub \"x-${AWS::Region}\"\nb: !GetAtt R.Arn\nc: !Ref P\n")
                .unwrap_or(yaml_serde::Value::Null);
        assert_eq!(
            yaml_to_json(&y),
            json!({"a": {"Fn::Sub": "x-${AWS::Region}"}, "b": {"Fn::GetAtt": ["R", "Arn"]}, "c": {"Ref": "P"}})
        );
    }
}
