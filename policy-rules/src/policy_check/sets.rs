//! The policies a check compares, as one flat list of statements whatever they came from: a policy
//! document, the output of `get-account-authorization-details` (every policy in it, or one
//! principal's), or the IAM resources of a CloudFormation template (`AWS::IAM::Policy`,
//! `ManagedPolicy`, `RolePolicy`, `UserPolicy`, `GroupPolicy`, and the inline `Policies` of
//! `AWS::IAM::Role`, `User` and `Group`), given as JSON (the caller turns YAML's short-form tags
//! into their `Fn::` forms).
//!
//! A template's values are not all known before it is deployed. The choice, made here once:
//! - pseudo parameters (`AWS::AccountId`, `AWS::Partition`, …) and references to the template's
//!   own resources (`!Ref`, `!GetAtt`, inside `!Sub` and `!Join` too) become *atoms*: a value
//!   not known, without wildcards, the same wherever the same name appears (so two versions of one
//!   template are compared as deployed to the same stack, account and region);
//! - anything else (parameters, which may hold wildcards; `!If`, `!Select`, `!ImportValue`, …;
//!   a resource with a `Condition`) makes the statement *uncertain*: it is kept in its broadest
//!   reading (an unknown piece of an `Action` or `Resource` becomes `*`, an unknown `NotAction`
//!   or `NotResource` entry is left out, a condition key with an unknown value is left out), and
//!   the check uses it only where the broadest reading is the safe one (see `policy_check`). A
//!   policy whose document cannot be read at all is an uncertain Allow of everything.
//!
//! This file owns the reading of inputs into statements; deciding is `policy_check`'s business.

use super::glob::ATOM_CHARS;
use crate::policy::{Effect, PolicyDocument, Scope, Statement};
use crate::snapshot::Snapshot;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The atoms of a comparison: the values a template names but does not know, by name, each with
/// a representative value for the evaluator when an example is confirmed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Atoms {
    names: Vec<String>,
}

impl Atoms {
    pub fn new() -> Self {
        Atoms::default()
    }

    /// The character standing for `name` (the same for the same name), or `None` past the
    /// private use area's 6,400 characters.
    fn atom(&mut self, name: &str) -> Option<char> {
        let i = match self.names.iter().position(|n| n == name) {
            Some(i) => i,
            None => {
                self.names.push(name.to_owned());
                self.names.len() - 1
            }
        };
        let c = char::from_u32(u32::from(*ATOM_CHARS.start()) + u32::try_from(i).ok()?)?;
        ATOM_CHARS.contains(&c).then_some(c)
    }

    fn name(&self, c: char) -> Option<&str> {
        let i = u32::from(c).checked_sub(u32::from(*ATOM_CHARS.start()))?;
        self.names.get(usize::try_from(i).ok()?).map(String::as_str)
    }

    /// `s` with its atoms written as CloudFormation writes them (`${AWS::AccountId}`).
    pub fn render(&self, s: &str) -> String {
        self.map(s, |name| format!("${{{name}}}"))
    }

    /// `s` with its atoms replaced by their representative values.
    pub fn concrete(&self, s: &str) -> String {
        self.map(s, |name| representative(name).to_owned())
    }

    /// The representative value of an atom by its character (as `glob` spells atoms).
    pub(crate) fn concrete_atom(&self, atom: &str) -> String {
        match atom.strip_prefix("var:") {
            // A policy variable: the context the example gives fills it.
            Some(var) => format!("${{{var}}}"),
            None => self.concrete(atom),
        }
    }

    /// The atoms `s` names with their representative values.
    pub fn used(&self, s: &str) -> Vec<(String, String)> {
        s.chars()
            .filter_map(|c| self.name(c))
            .map(|n| (n.to_owned(), representative(n).to_owned()))
            .collect()
    }

    fn map(&self, s: &str, f: impl Fn(&str) -> String) -> String {
        let mut out = String::with_capacity(s.len());
        for c in s.chars() {
            match self.name(c) {
                Some(n) => out.push_str(&f(n)),
                None => out.push(c),
            }
        }
        out
    }
}

/// The value an atom takes when an example is evaluated: a value of the right shape, without
/// wildcards; the example says which values it used.
fn representative(name: &str) -> &str {
    match name {
        "AWS::AccountId" => "123456789012",
        "AWS::Partition" => "aws",
        "AWS::Region" => "us-east-1",
        "AWS::URLSuffix" => "amazonaws.com",
        "AWS::StackName" => "stack",
        _ => "example",
    }
}

/// One statement of a set, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetStatement {
    /// The policy's name, as citations give it.
    pub policy: String,
    /// The statement's index in its policy as written.
    pub index: usize,
    /// The statement; where `uncertain`, its broadest reading.
    pub statement: Statement,
    /// Why the statement is not known exactly, if it is not.
    pub uncertain: Option<String>,
    /// What the statement is as written, Sid left out: two statements with the same identity are
    /// the same statement. `None`: never the same as another (a policy whose document is missing).
    pub(crate) identity: Option<String>,
}

/// The statements of one side of a check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicySet {
    pub statements: Vec<SetStatement>,
    /// How many policies the statements came from.
    pub policies: usize,
}

/// Why an input cannot be read as policies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetError {
    #[error("policy `{policy}`: {message}")]
    Policy { policy: String, message: String },
    #[error("principal `{0}` is not in the account file")]
    NoPrincipal(String),
    #[error("principal `{0}` has a permissions boundary, which the checks do not read yet")]
    Boundary(String),
    #[error("the template has no `Resources` object")]
    NoResources,
}

/// A statement's identity: its canonical JSON without the Sid.
fn identity_of(st: &Statement) -> String {
    let mut st = st.clone();
    st.sid = None;
    serde_json::to_string(&st).unwrap_or_default()
}

fn private_use(s: &str) -> bool {
    s.chars().any(|c| ATOM_CHARS.contains(&c))
}

fn refuse_private_use(policy: &str, doc: &PolicyDocument) -> Result<(), SetError> {
    if private_use(&doc.to_json()) {
        return Err(SetError::Policy {
            policy: policy.to_owned(),
            message: "holds characters of Unicode's private use area (U+E000 to U+F8FF), which no IAM name has".to_owned(),
        });
    }
    Ok(())
}

/// An uncertain Allow of everything: what a policy whose document is not known may allow.
fn allow_everything(policy: &str, why: String) -> SetStatement {
    SetStatement {
        policy: policy.to_owned(),
        index: 0,
        statement: Statement {
            sid: None,
            effect: Effect::Allow,
            principal: None,
            action: Scope::Only(vec!["*".to_owned()]),
            resource: Some(Scope::Only(vec!["*".to_owned()])),
            condition: BTreeMap::new(),
        },
        uncertain: Some(why),
        identity: None,
    }
}

impl PolicySet {
    /// One policy document's statements.
    pub fn add_document(&mut self, name: &str, doc: &PolicyDocument) -> Result<(), SetError> {
        refuse_private_use(name, doc)?;
        self.policies += 1;
        for (index, st) in doc.statements.iter().enumerate() {
            self.statements.push(SetStatement {
                policy: name.to_owned(),
                index,
                identity: Some(identity_of(st)),
                statement: st.clone(),
                uncertain: None,
            });
        }
        Ok(())
    }

    /// A set of one document.
    pub fn from_document(name: &str, doc: &PolicyDocument) -> Result<Self, SetError> {
        let mut set = PolicySet::default();
        set.add_document(name, doc)?;
        Ok(set)
    }

    /// The identity policies of an account file: every policy in it (inline policies of users,
    /// roles and groups, and every managed policy's default version), or with `principal` that
    /// principal's own (inline, attached, and its groups'). An attached policy the file lacks is
    /// an uncertain Allow of everything.
    pub fn from_snapshot(snap: &Snapshot, principal: Option<&str>) -> Result<Self, SetError> {
        let mut set = PolicySet::default();
        match principal {
            Some(arn) => {
                let p = snap
                    .principal(arn)
                    .ok_or_else(|| SetError::NoPrincipal(arn.to_owned()))?;
                if p.boundary.is_some() {
                    return Err(SetError::Boundary(arn.to_owned()));
                }
                let (policies, missing) = snap.identity_policies(p);
                for (name, doc) in policies {
                    set.add_document(&name.replace('`', ""), doc)?;
                }
                for arn in missing {
                    set.policies += 1;
                    set.statements.push(allow_everything(
                        &arn,
                        format!("managed policy `{arn}` is attached but not in the account file"),
                    ));
                }
            }
            None => {
                for (kind, owners) in [("user", &snap.users), ("role", &snap.roles)] {
                    for (name, p) in owners {
                        for (policy, doc) in &p.inline {
                            set.add_document(&format!("{kind} {name} inline {policy}"), doc)?;
                        }
                    }
                }
                for (name, g) in &snap.groups {
                    for (policy, doc) in &g.inline {
                        set.add_document(&format!("group {name} inline {policy}"), doc)?;
                    }
                }
                for (arn, doc) in &snap.managed {
                    set.add_document(arn, doc)?;
                }
            }
        }
        Ok(set)
    }

    /// The IAM policies of a CloudFormation template (as JSON, short-form tags in their `Fn::`
    /// forms); atoms are named in `atoms`, shared by both sides of a check.
    pub fn from_template(template: &Value, atoms: &mut Atoms) -> Result<Self, SetError> {
        let resources = template
            .get("Resources")
            .and_then(Value::as_object)
            .ok_or(SetError::NoResources)?;
        let mut set = PolicySet::default();
        let mut reader = Reader { resources, atoms };
        for (id, r) in resources {
            let kind = r.get("Type").and_then(Value::as_str).unwrap_or("");
            let props = r.get("Properties").unwrap_or(&Value::Null);
            let when = r.get("Condition").and_then(Value::as_str);
            let mut documents: Vec<(String, &Value)> = Vec::new();
            match kind {
                "AWS::IAM::Policy"
                | "AWS::IAM::ManagedPolicy"
                | "AWS::IAM::RolePolicy"
                | "AWS::IAM::UserPolicy"
                | "AWS::IAM::GroupPolicy" => documents.push((
                    id.clone(),
                    props.get("PolicyDocument").unwrap_or(&Value::Null),
                )),
                "AWS::IAM::Role" | "AWS::IAM::User" | "AWS::IAM::Group" => {
                    match props.get("Policies") {
                        None => {}
                        Some(Value::Array(list)) => {
                            for (i, p) in list.iter().enumerate() {
                                let name = p
                                    .get("PolicyName")
                                    .and_then(Value::as_str)
                                    .map_or_else(|| format!("{i}"), str::to_owned);
                                documents.push((
                                    format!("{id}/{name}"),
                                    p.get("PolicyDocument").unwrap_or(p),
                                ));
                            }
                        }
                        Some(_) => {
                            set.policies += 1;
                            set.statements.push(allow_everything(
                                id,
                                format!("the `Policies` of `{id}` are not a list Warden can read"),
                            ));
                        }
                    }
                }
                _ => {}
            }
            for (name, doc) in documents {
                set.policies += 1;
                reader.document(&name, doc, when, &mut set.statements)?;
            }
        }
        Ok(set)
    }
}

/// A string value of a template, as far as it is known.
enum Text {
    /// The value (atoms as their characters), and whether it is exact (`false`: unknown pieces
    /// are `*`).
    Known(String, bool),
    /// `!Ref AWS::NoValue`: no value at all.
    NoValue,
}

const PSEUDO: [&str; 7] = [
    "AWS::AccountId",
    "AWS::Partition",
    "AWS::Region",
    "AWS::StackName",
    "AWS::StackId",
    "AWS::URLSuffix",
    "AWS::NotificationARNs",
];

struct Reader<'t> {
    resources: &'t Map<String, Value>,
    atoms: &'t mut Atoms,
}

impl Reader<'_> {
    fn named(&mut self, name: &str) -> Text {
        let is_resource = |n: &str| self.resources.contains_key(n);
        let known = (PSEUDO.contains(&name) && name != "AWS::NotificationARNs")
            || is_resource(name)
            || name.split_once('.').is_some_and(|(r, _)| is_resource(r));
        if name == "AWS::NoValue" {
            return Text::NoValue;
        }
        match known.then(|| self.atoms.atom(name)).flatten() {
            Some(c) => Text::Known(c.to_string(), true),
            None => Text::Known("*".to_owned(), false),
        }
    }

    fn text(&mut self, v: &Value) -> Text {
        match v {
            Value::String(s) => Text::Known(s.clone(), true),
            Value::Number(n) => Text::Known(n.to_string(), true),
            Value::Bool(b) => Text::Known(b.to_string(), true),
            Value::Object(o) if o.len() == 1 => {
                let Some((f, arg)) = o.iter().next() else {
                    return Text::Known("*".to_owned(), false);
                };
                match (f.as_str(), arg) {
                    ("Ref", Value::String(name)) => self.named(name),
                    ("Fn::GetAtt", Value::String(s)) => self.named(s),
                    ("Fn::GetAtt", Value::Array(parts)) => {
                        let parts: Vec<&str> = parts.iter().filter_map(Value::as_str).collect();
                        match parts.as_slice() {
                            [r, a] => self.named(&format!("{r}.{a}")),
                            _ => Text::Known("*".to_owned(), false),
                        }
                    }
                    ("Fn::Sub", Value::String(s)) => self.sub(s, &Map::new()),
                    ("Fn::Sub", Value::Array(a)) => match (a.first(), a.get(1)) {
                        (Some(Value::String(s)), Some(Value::Object(vars))) => self.sub(s, vars),
                        _ => Text::Known("*".to_owned(), false),
                    },
                    ("Fn::Join", Value::Array(a)) => match (a.first(), a.get(1)) {
                        (Some(Value::String(sep)), Some(Value::Array(parts))) => {
                            let mut out = Vec::new();
                            let mut exact = true;
                            for p in parts {
                                match self.text(p) {
                                    Text::Known(s, e) => {
                                        exact &= e;
                                        out.push(s);
                                    }
                                    Text::NoValue => {}
                                }
                            }
                            Text::Known(out.join(sep), exact)
                        }
                        _ => Text::Known("*".to_owned(), false),
                    },
                    _ => Text::Known("*".to_owned(), false),
                }
            }
            _ => Text::Known("*".to_owned(), false),
        }
    }

    /// `Fn::Sub`: `${Name}` from `vars`, a pseudo parameter or a resource; `${!Literal}` is the
    /// literal `${Literal}`.
    fn sub(&mut self, s: &str, vars: &Map<String, Value>) -> Text {
        let mut out = String::new();
        let mut exact = true;
        let mut rest = s;
        while let Some(start) = rest.find("${") {
            out.push_str(rest.get(..start).unwrap_or(""));
            let after = rest.get(start + 2..).unwrap_or("");
            let Some(end) = after.find('}') else {
                out.push_str(rest.get(start..).unwrap_or(""));
                rest = "";
                break;
            };
            let name = after.get(..end).unwrap_or("");
            rest = after.get(end + 1..).unwrap_or("");
            if let Some(lit) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(lit);
                out.push('}');
                continue;
            }
            let piece = match vars.get(name) {
                Some(v) => self.text(v),
                None => self.named(name),
            };
            match piece {
                Text::Known(p, e) => {
                    exact &= e;
                    out.push_str(&p);
                }
                Text::NoValue => {}
            }
        }
        out.push_str(rest);
        Text::Known(out, exact)
    }

    /// A list of strings (or one string): the known values, and whether all were exact. With
    /// `drop_unknown`, an inexact value is left out instead of kept as its widest reading.
    fn strings(&mut self, v: &Value, drop_unknown: bool) -> (Vec<String>, bool) {
        let items: Vec<&Value> = match v {
            Value::Array(a) => a.iter().collect(),
            one => vec![one],
        };
        let mut out = Vec::new();
        let mut exact = true;
        for item in items {
            match self.text(item) {
                Text::Known(s, e) => {
                    exact &= e;
                    if e || !drop_unknown {
                        out.push(s);
                    }
                }
                Text::NoValue => {}
            }
        }
        (out, exact)
    }

    fn document(
        &mut self,
        policy: &str,
        doc: &Value,
        when: Option<&str>,
        out: &mut Vec<SetStatement>,
    ) -> Result<(), SetError> {
        let statements: Vec<&Value> = match doc.get("Statement") {
            Some(Value::Array(a)) => a.iter().collect(),
            Some(o @ Value::Object(_)) => vec![o],
            _ => {
                out.push(allow_everything(
                    policy,
                    format!("the document of `{policy}` is not one Warden can read"),
                ));
                return Ok(());
            }
        };
        for (index, raw) in statements.into_iter().enumerate() {
            // `!If [Cond, {statement}, !Ref AWS::NoValue]`: each branch may be the statement.
            let (branches, cond): (Vec<&Value>, Option<String>) =
                match raw.get("Fn::If").and_then(Value::as_array) {
                    Some(a) => (
                        a.iter()
                            .skip(1)
                            .filter(|b| b.is_object() && b.get("Ref").is_none())
                            .collect(),
                        a.first().and_then(Value::as_str).map(str::to_owned),
                    ),
                    None => (vec![raw], None),
                };
            for branch in branches {
                let mut why = Vec::new();
                if let Some(w) = when {
                    why.push(format!("it exists only when condition `{w}` holds"));
                }
                if let Some(c) = &cond {
                    why.push(format!("it applies only when condition `{c}` holds"));
                }
                let st = self.statement(policy, index, branch, &mut why)?;
                let identity = json!({
                    "statement": identity_of(&st.0),
                    "written": st.1,
                    "when": when,
                    "if": cond,
                });
                out.push(SetStatement {
                    policy: policy.to_owned(),
                    index,
                    statement: st.0,
                    uncertain: (!why.is_empty()).then(|| why.join("; ")),
                    identity: Some(identity.to_string()),
                });
            }
        }
        Ok(())
    }

    /// One statement in its broadest reading, what is not known said in `why`; with the
    /// statement as written (Sid left out) for its identity.
    fn statement(
        &mut self,
        policy: &str,
        index: usize,
        raw: &Value,
        why: &mut Vec<String>,
    ) -> Result<(Statement, Value), SetError> {
        let err = |message: String| SetError::Policy {
            policy: policy.to_owned(),
            message: format!("statement {index}: {message}"),
        };
        let obj = raw
            .as_object()
            .ok_or_else(|| err("a statement is an object".to_owned()))?;
        let mut out = Map::new();
        for (key, v) in obj {
            match key.as_str() {
                "Sid" => {
                    if let Value::String(sid) = v {
                        out.insert(key.clone(), Value::String(sid.clone()));
                    }
                }
                "Effect" => match self.text(v) {
                    Text::Known(e, true) => {
                        out.insert(key.clone(), Value::String(e));
                    }
                    _ => {
                        return Err(err(
                            "`Effect` must be written out (`Allow` or `Deny`)".to_owned()
                        ))
                    }
                },
                "Action" | "Resource" => {
                    let (list, exact) = self.strings(v, false);
                    if !exact {
                        why.push(format!("a value of its `{key}` is not known before deployment (read as `*` where unknown)"));
                    }
                    out.insert(key.clone(), json!(list));
                }
                "NotAction" | "NotResource" => {
                    let (list, exact) = self.strings(v, true);
                    if !exact {
                        why.push(format!(
                            "a value of its `{key}` is not known before deployment (left out)"
                        ));
                    }
                    if list.is_empty() {
                        out.insert(key.trim_start_matches("Not").to_owned(), json!("*"));
                    } else {
                        out.insert(key.clone(), json!(list));
                    }
                }
                "Principal" | "NotPrincipal" => {
                    let p = match v {
                        Value::Object(kinds) => {
                            let mut m = Map::new();
                            for (k, vals) in kinds {
                                let (list, exact) = self.strings(vals, false);
                                if !exact {
                                    why.push(format!(
                                        "a value of its `{key}` is not known before deployment"
                                    ));
                                }
                                m.insert(k.clone(), json!(list));
                            }
                            Value::Object(m)
                        }
                        other => match self.text(other) {
                            Text::Known(s, _) => Value::String(s),
                            Text::NoValue => Value::String("*".to_owned()),
                        },
                    };
                    out.insert(key.clone(), p);
                }
                "Condition" => {
                    let mut ops = Map::new();
                    for (op, keys) in v.as_object().into_iter().flatten() {
                        let mut m = Map::new();
                        for (k, vals) in keys.as_object().into_iter().flatten() {
                            let (list, exact) = self.strings(vals, false);
                            if exact {
                                m.insert(k.clone(), json!(list));
                            } else {
                                why.push(format!("its condition `{op}` `{k}` has a value not known before deployment (left out)"));
                            }
                        }
                        if !m.is_empty() {
                            ops.insert(op.clone(), Value::Object(m));
                        }
                    }
                    if !ops.is_empty() {
                        out.insert(key.clone(), Value::Object(ops));
                    }
                }
                other => return Err(err(format!("unknown element `{other}`"))),
            }
        }
        let doc = PolicyDocument::from_value(&json!({ "Statement": [Value::Object(out)] }))
            .map_err(|e| err(e.to_string()))?;
        let st = doc
            .statements
            .into_iter()
            .next()
            .ok_or_else(|| err("empty".to_owned()))?;
        let mut written = raw.clone();
        if let Some(o) = written.as_object_mut() {
            o.remove("Sid");
        }
        Ok((st, written))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_values_become_atoms_or_uncertain_widest_readings() {
        let t = json!({"Parameters": {"P": {"Type": "String"}}, "Resources": {
            "B": {"Type": "AWS::S3::Bucket"},
            "Pol": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {"PolicyDocument": {"Statement": [
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": {"Fn::Sub": "arn:${AWS::Partition}:s3:::${B}/*"}},
                {"Effect": "Allow", "Action": ["s3:PutObject", {"Ref": "AWS::NoValue"}], "Resource": {"Fn::Join": ["", ["arn:aws:s3:::", {"Ref": "P"}, "/x"]]}},
                {"Effect": "Deny", "NotAction": {"Fn::If": ["C", "a", "b"]}, "Resource": "*", "Condition": {"StringEquals": {"aws:x": {"Ref": "P"}, "aws:y": "1"}}}
            ]}}},
            "R": {"Type": "AWS::IAM::Role", "Condition": "C", "Properties": {"Policies": [{"PolicyName": "inline", "PolicyDocument": {"Statement": {"Effect": "Allow", "Action": "*", "Resource": {"Fn::GetAtt": ["B", "Arn"]}}}}]}}
        }});
        let mut atoms = Atoms::new();
        let set = PolicySet::from_template(&t, &mut atoms).unwrap();
        assert_eq!(set.policies, 2);
        let s: Vec<&SetStatement> = set.statements.iter().collect();
        let res = |st: &Statement| match &st.resource {
            Some(Scope::Only(r)) => r.iter().map(|r| atoms.render(r)).collect::<Vec<_>>(),
            _ => vec![],
        };
        assert_eq!(
            res(&s[0].statement),
            vec!["arn:${AWS::Partition}:s3:::${B}/*"]
        );
        assert_eq!(s[0].uncertain, None);
        assert_eq!(res(&s[1].statement), vec!["arn:aws:s3:::*/x"]);
        assert!(s[1].uncertain.as_deref().unwrap().contains("`Resource`"));
        assert_eq!(
            s[1].statement.action,
            Scope::Only(vec!["s3:PutObject".into()])
        );
        // The unknown NotAction entry is left out: NotAction of nothing is every action.
        assert_eq!(s[2].statement.action, Scope::Only(vec!["*".into()]));
        assert_eq!(s[2].statement.condition.len(), 1);
        assert!(!s[2].statement.condition["StringEquals"].contains_key("aws:x"));
        assert_eq!(s[3].policy, "R/inline");
        assert_eq!(res(&s[3].statement), vec!["${B.Arn}"]);
        assert!(s[3].uncertain.as_deref().unwrap().contains("condition `C`"));
        let Some(Scope::Only(raw)) = &s[0].statement.resource else {
            panic!()
        };
        assert_eq!(atoms.concrete(&raw[0]), "arn:aws:s3:::example/*");
    }

    #[test]
    fn account_files_and_private_use_characters() {
        let snap = Snapshot::parse(include_str!(
            "../../../fixtures/policies/cloudsplaining_test_example-authz-details.json"
        ))
        .unwrap();
        let all = PolicySet::from_snapshot(&snap, None).unwrap();
        assert!(all.policies > 10, "{}", all.policies);
        let arn = snap.users["obama"].arn.clone();
        let one = PolicySet::from_snapshot(&snap, Some(&arn)).unwrap();
        assert!(one.policies >= 1);
        assert!(matches!(
            PolicySet::from_snapshot(&snap, Some("arn:aws:iam::1:user/nobody")),
            Err(SetError::NoPrincipal(_))
        ));
        let doc = PolicyDocument::parse(
            r#"{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::\ue000"}}"#,
        )
        .unwrap();
        assert!(PolicySet::from_document("p", &doc).is_err());
    }
}
