//! The CloudFormation templates against the code: their event rules are the ones `warden init`
//! derives (the block between the markers is generated; `WARDEN_UPDATE_TEMPLATES=1` rewrites it),
//! their tables are the ones the stores use, and the function's role, read by Warden's own
//! evaluator, allows every AWS operation the live path performs and none of what Warden must never
//! be able to do.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use policy_rules::catalog::Catalog;
use policy_rules::evaluate::{evaluate, Answer, Policies, Request, RequestContext};
use policy_rules::policy::PolicyDocument;
use policy_rules::rules::RuleSet;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use warden_handler::stores::dynamo::{table_definitions, KeyType};
use warden_handler::stores::init::{rule_patterns, GUARDED_QUEUE_ACTIONS, MESSAGE_GROUP_ID};

const BEGIN: &str = "  # BEGIN generated event rules";
const END: &str = "  # END generated event rules";
const PREFIX: &str = "PREFIX";
const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";
const STACK: &str = "warden";

/// The principals Warden's queues admit, in the template: the function's role and the
/// break-glass principals (`stores::init::admitted_principals` in a `warden init` setup).
const ADMITTED: &str = r#"!If [HasBreakGlass, !Split [",", !Sub ["${Role},${Glass}", {Role: !GetAtt FunctionRole.Arn, Glass: !Join [",", !Ref BreakGlassPrincipals]}]], [!GetAtt FunctionRole.Arn]]"#;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// JSON on one line with `, ` and `: ` (valid YAML flow style), the watchdog's prefix as `!Sub`.
fn flow(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let items: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{}: {}", Value::String(k.clone()), flow(v)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        Value::Array(a) => format!("[{}]", a.iter().map(flow).collect::<Vec<_>>().join(", ")),
        Value::String(s) if s == &format!("{PREFIX}-") => "!Sub \"${AWS::StackName}-\"".to_owned(),
        other => other.to_string(),
    }
}

fn logical_id(rule_name: &str) -> String {
    let suffix = rule_name.trim_start_matches(&format!("{PREFIX}-"));
    let camel: String = suffix
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    format!("Rule{camel}")
}

/// Where a template's rules send events.
#[derive(Clone, Copy)]
enum Target {
    /// The main stack: the intake queue, with the one message group a FIFO target takes.
    Intake,
    /// A regional stack: the main region's default bus.
    MainBus,
}

fn generated_block(target: Target) -> String {
    let rules = RuleSet::default_pack().unwrap();
    let catalog = Catalog::builtin().unwrap();
    let patterns = rule_patterns(PREFIX, &rules, &catalog).unwrap();
    let mut out = String::new();
    for (name, pattern) in &patterns {
        let id = logical_id(name);
        let short = name.trim_start_matches(&format!("{PREFIX}-"));
        out.push_str(&format!(
            "  {id}:\n    Type: AWS::Events::Rule\n    Properties:\n      Name: !Sub \"${{AWS::StackName}}-{short}\"\n"
        ));
        let (description, targets) = match target {
            Target::Intake => (
                "Warden: CloudTrail events its rules can match, to the intake queue",
                format!(
                    "        - Id: warden-intake\n          Arn: !GetAtt IntakeQueue.Arn\n          SqsParameters: {{MessageGroupId: {MESSAGE_GROUP_ID}}}\n"
                ),
            ),
            Target::MainBus => (
                "Warden: CloudTrail events its rules can match, to the main region's bus",
                "        - Id: warden-main-region\n          Arn: !Sub \"arn:${AWS::Partition}:events:${MainRegion}:${AWS::AccountId}:event-bus/default\"\n          RoleArn: !GetAtt ForwardRole.Arn\n".to_owned(),
            ),
        };
        out.push_str(&format!(
            "      Description: \"{description}\"\n      State: ENABLED\n      EventPattern: {}\n      Targets:\n{targets}",
            flow(pattern)
        ));
    }
    if let Target::Intake = target {
        // The queue policy of `stores::init::queue_policy_document`: the rules may send; no one
        // but the function's role, the break-glass principals and the rules sends or takes.
        let rule_arns: String = patterns
            .iter()
            .map(|(name, _)| format!("                  - !GetAtt {}.Arn\n", logical_id(name)))
            .collect();
        out.push_str(&format!(
            "  IntakeQueuePolicy:\n    Type: AWS::SQS::QueuePolicy\n    Properties:\n      Queues: [!Ref IntakeQueue]\n      PolicyDocument:\n        Version: \"2012-10-17\"\n        Statement:\n          - Sid: WardenRulesSend\n            Effect: Allow\n            Principal: {{Service: events.amazonaws.com}}\n            Action: sqs:SendMessage\n            Resource: !GetAtt IntakeQueue.Arn\n            Condition:\n              ArnEquals:\n                aws:SourceArn:\n{rule_arns}          - Sid: NoOneElseSendsOrTakes\n            Effect: Deny\n            Principal: \"*\"\n            Action: [{}]\n            Resource: !GetAtt IntakeQueue.Arn\n            Condition:\n              ArnNotLike:\n                aws:PrincipalArn: {ADMITTED}\n              ArnNotEquals:\n                aws:SourceArn:\n{rule_arns}",
            GUARDED_QUEUE_ACTIONS.join(", ")
        ));
    }
    out
}

/// The block between the markers, rewritten when `WARDEN_UPDATE_TEMPLATES=1`.
fn check_block(file: &str, target: Target) {
    let path = repo().join("cloudformation").join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let begin = text.find(BEGIN).expect("the BEGIN marker");
    let after_comment = {
        // The marker comment runs to the first line that is not a comment.
        let mut at = begin;
        for line in text[begin..].split_inclusive('\n') {
            if !line.trim_start().starts_with('#') || line.starts_with(END) {
                break;
            }
            at += line.len();
        }
        at
    };
    let end = text.find(END).expect("the END marker");
    let current = &text[after_comment..end];
    let wanted = generated_block(target);
    if current != wanted {
        if std::env::var("WARDEN_UPDATE_TEMPLATES").as_deref() == Ok("1") {
            let new = format!("{}{}{}", &text[..after_comment], wanted, &text[end..]);
            std::fs::write(&path, new).unwrap();
        } else {
            panic!(
                "{file}: the generated event rules differ from what the code routes; run \
                 `WARDEN_UPDATE_TEMPLATES=1 cargo test --workspace --test template` and commit"
            );
        }
    }
}

#[test]
fn the_templates_route_exactly_what_init_routes() {
    check_block("warden.yaml", Target::Intake);
    check_block("warden-region.yaml", Target::MainBus);
}

// ------------------------------------------------------------------------------------------------
// Reading a template: YAML with CloudFormation's short-form tags, resolved for one set of
// parameters.

struct Stack {
    resources: Map<String, Value>,
    params: BTreeMap<String, Value>,
    conditions: Map<String, Value>,
}

fn to_json(v: &yaml_serde::Value) -> Value {
    match v {
        yaml_serde::Value::Null => Value::Null,
        yaml_serde::Value::Bool(b) => Value::Bool(*b),
        yaml_serde::Value::Number(n) => serde_json::from_str(&n.to_string()).unwrap(),
        yaml_serde::Value::String(s) => Value::String(s.clone()),
        yaml_serde::Value::Sequence(s) => Value::Array(s.iter().map(to_json).collect()),
        yaml_serde::Value::Mapping(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.as_str().unwrap().to_owned(), to_json(v)))
                .collect(),
        ),
        yaml_serde::Value::Tagged(t) => {
            let tag = t.tag.to_string();
            let name = tag.trim_start_matches('!');
            let key = if name == "Ref" {
                "Ref".to_owned()
            } else {
                format!("Fn::{name}")
            };
            let mut inner = to_json(&t.value);
            if name == "GetAtt" {
                if let Value::String(s) = &inner {
                    let (a, b) = s.split_once('.').unwrap();
                    inner = json!([a, b]);
                }
            }
            json!({ key: inner })
        }
    }
}

fn load(file: &str, overrides: &[(&str, Value)]) -> Stack {
    let text = std::fs::read_to_string(repo().join("cloudformation").join(file)).unwrap();
    let doc: yaml_serde::Value = yaml_serde::from_str(&text).unwrap();
    let doc = to_json(&doc);
    let mut params = BTreeMap::new();
    for (name, p) in doc["Parameters"].as_object().unwrap() {
        let default = p.get("Default").cloned().unwrap_or(Value::Null);
        let value = if p["Type"] == "CommaDelimitedList" {
            let s = default.as_str().unwrap_or("");
            Value::Array(
                s.split(',')
                    .filter(|x| !x.is_empty())
                    .map(|x| Value::String(x.to_owned()))
                    .collect(),
            )
        } else {
            match default {
                Value::Number(n) => Value::String(n.to_string()),
                other => other,
            }
        };
        params.insert(name.clone(), value);
    }
    for (k, v) in overrides {
        params.insert((*k).to_owned(), v.clone());
    }
    params.insert("AWS::StackName".into(), json!(STACK));
    params.insert("AWS::AccountId".into(), json!(ACCOUNT));
    params.insert("AWS::Region".into(), json!(REGION));
    params.insert("AWS::Partition".into(), json!("aws"));
    Stack {
        resources: doc["Resources"].as_object().unwrap().clone(),
        params,
        conditions: doc["Conditions"].as_object().cloned().unwrap_or_default(),
    }
}

impl Stack {
    fn condition(&self, name: &str) -> bool {
        self.resolve(&self.conditions[name]).as_bool().unwrap()
    }

    fn exists(&self, id: &str) -> bool {
        self.resources[id]
            .get("Condition")
            .and_then(Value::as_str)
            .is_none_or(|c| self.condition(c))
    }

    fn prop(&self, id: &str, name: &str) -> Value {
        self.resolve(&self.resources[id]["Properties"][name])
    }

    /// `Ref` of a resource, as CloudFormation documents it per type.
    fn reference(&self, id: &str) -> Value {
        let r = &self.resources[id];
        let s = |n: &str| self.prop(id, n).as_str().unwrap().to_owned();
        json!(match r["Type"].as_str().unwrap() {
            "AWS::SQS::Queue" => format!(
                "https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{}",
                s("QueueName")
            ),
            "AWS::SNS::Topic" => format!("arn:aws:sns:{REGION}:{ACCOUNT}:{}", s("TopicName")),
            "AWS::DynamoDB::Table" => s("TableName"),
            "AWS::S3::Bucket" => s("BucketName"),
            "AWS::IAM::Role" => s("RoleName"),
            "AWS::Lambda::Function" => s("FunctionName"),
            "AWS::Logs::LogGroup" => s("LogGroupName"),
            "AWS::KMS::Key" => "00000000-1111-2222-3333-444444444444".to_owned(),
            other => panic!("Ref of {other} ({id}) is not modelled here"),
        })
    }

    fn attribute(&self, id: &str, attr: &str) -> Value {
        let r = &self.resources[id];
        let s = |n: &str| self.prop(id, n).as_str().unwrap().to_owned();
        json!(match (r["Type"].as_str().unwrap(), attr) {
            ("AWS::SQS::Queue", "Arn") =>
                format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{}", s("QueueName")),
            ("AWS::SQS::Queue", "QueueName") => s("QueueName"),
            ("AWS::DynamoDB::Table", "Arn") => {
                format!(
                    "arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{}",
                    s("TableName")
                )
            }
            ("AWS::IAM::Role", "Arn") => format!("arn:aws:iam::{ACCOUNT}:role/{}", s("RoleName")),
            ("AWS::Lambda::Function", "Arn") => format!(
                "arn:aws:lambda:{REGION}:{ACCOUNT}:function:{}",
                s("FunctionName")
            ),
            ("AWS::KMS::Key", "Arn") => format!(
                "arn:aws:kms:{REGION}:{ACCOUNT}:key/{}",
                self.reference(id).as_str().unwrap()
            ),
            ("AWS::Events::Rule", "Arn") =>
                format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/{}", s("Name")),
            (t, a) => panic!("GetAtt {id}.{a} of {t} is not modelled here"),
        })
    }

    fn sub(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(i) = rest.find("${") {
            out.push_str(&rest[..i]);
            let j = rest[i..].find('}').unwrap() + i;
            let name = &rest[i + 2..j];
            let value = if let Some(p) = self.params.get(name) {
                p.clone()
            } else if let Some((id, attr)) = name.split_once('.') {
                self.attribute(id, attr)
            } else {
                self.reference(name)
            };
            out.push_str(value.as_str().unwrap());
            rest = &rest[j + 1..];
        }
        out.push_str(rest);
        out
    }

    fn resolve(&self, v: &Value) -> Value {
        match v {
            Value::Object(m) if m.len() == 1 => {
                let (k, arg) = m.iter().next().unwrap();
                match k.as_str() {
                    "Ref" => {
                        let name = arg.as_str().unwrap();
                        self.params
                            .get(name)
                            .cloned()
                            .unwrap_or_else(|| self.reference(name))
                    }
                    "Fn::GetAtt" => {
                        self.attribute(arg[0].as_str().unwrap(), arg[1].as_str().unwrap())
                    }
                    "Fn::Sub" => match arg {
                        Value::String(text) => json!(self.sub(text)),
                        // `[text, {NAME: value}]`: the names stand for the values first.
                        _ => {
                            let mut text = arg[0].as_str().unwrap().to_owned();
                            for (name, v) in arg[1].as_object().unwrap() {
                                let v = self.resolve(v);
                                text = text.replace(&format!("${{{name}}}"), v.as_str().unwrap());
                            }
                            json!(self.sub(&text))
                        }
                    },
                    "Fn::Split" => {
                        let sep = arg[0].as_str().unwrap();
                        let text = self.resolve(&arg[1]);
                        json!(text.as_str().unwrap().split(sep).collect::<Vec<_>>())
                    }
                    "Fn::Join" => {
                        let items = self.resolve(&arg[1]);
                        let parts: Vec<String> = items
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|i| self.resolve(i).as_str().unwrap().to_owned())
                            .collect();
                        json!(parts.join(arg[0].as_str().unwrap()))
                    }
                    "Fn::If" => {
                        let branch = if self.condition(arg[0].as_str().unwrap()) {
                            &arg[1]
                        } else {
                            &arg[2]
                        };
                        self.resolve(branch)
                    }
                    "Fn::Equals" => json!(self.resolve(&arg[0]) == self.resolve(&arg[1])),
                    "Fn::Not" => json!(!self.resolve(&arg[0]).as_bool().unwrap()),
                    "Condition" if arg.is_string() => json!(self.condition(arg.as_str().unwrap())),
                    _ => Value::Object(
                        m.iter()
                            .map(|(k, v)| (k.clone(), self.resolve(v)))
                            .collect(),
                    ),
                }
            }
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), self.resolve(v)))
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(|v| self.resolve(v)).collect()),
            other => other.clone(),
        }
    }

    /// The documents of the managed policies attached to role `role_id`, by name.
    fn role_policies(&self, role_id: &str) -> Vec<(String, PolicyDocument)> {
        let mut out = Vec::new();
        for (id, r) in &self.resources {
            if r["Type"] != "AWS::IAM::ManagedPolicy" || !self.exists(id) {
                continue;
            }
            let roles = &r["Properties"]["Roles"];
            let attached = roles
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == &json!({"Ref": role_id})));
            if attached {
                let doc = self.prop(id, "PolicyDocument");
                out.push((id.clone(), PolicyDocument::parse(&doc.to_string()).unwrap()));
            }
        }
        out
    }
}

#[test]
fn the_stack_creates_the_tables_the_stores_use() {
    let stack = load("warden.yaml", &[]);
    for t in table_definitions(STACK) {
        let id = match t.env {
            "WARDEN_STATE_TABLE" => "StateTable",
            "WARDEN_EVIDENCE_TABLE" => "EvidenceTable",
            other => panic!("a table for {other} is missing from the template"),
        };
        assert_eq!(stack.prop(id, "TableName"), json!(t.name));
        let key_type = |k: &KeyType| match k {
            KeyType::String => "S",
            KeyType::Number => "N",
        };
        let mut wanted_keys = vec![json!({"AttributeName": t.hash_key.0, "KeyType": "HASH"})];
        let mut attrs = BTreeSet::from([(t.hash_key.0.to_owned(), key_type(&t.hash_key.1))]);
        if let Some((r, k)) = &t.range_key {
            wanted_keys.push(json!({"AttributeName": r, "KeyType": "RANGE"}));
            attrs.insert(((*r).to_owned(), key_type(k)));
        }
        assert_eq!(
            stack.prop(id, "KeySchema"),
            Value::Array(wanted_keys),
            "{id}"
        );
        for i in &t.indexes {
            let gsis = stack.prop(id, "GlobalSecondaryIndexes");
            let gsi = gsis
                .as_array()
                .unwrap()
                .iter()
                .find(|g| g["IndexName"] == i.name)
                .unwrap_or_else(|| panic!("{id}: index {} is missing", i.name));
            assert_eq!(gsi["KeySchema"][0]["AttributeName"], i.hash_key.0);
            attrs.insert((i.hash_key.0.to_owned(), key_type(&i.hash_key.1)));
            if let Some((r, k)) = &i.range_key {
                assert_eq!(gsi["KeySchema"][1]["AttributeName"], *r);
                attrs.insert(((*r).to_owned(), key_type(k)));
            }
        }
        let defined: BTreeSet<(String, &str)> = stack
            .prop(id, "AttributeDefinitions")
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                let ty = match a["AttributeType"].as_str().unwrap() {
                    "S" => "S",
                    _ => "N",
                };
                (a["AttributeName"].as_str().unwrap().to_owned(), ty)
            })
            .collect();
        assert_eq!(defined, attrs, "{id}");
        let ttl = stack.prop(id, "TimeToLiveSpecification");
        match t.ttl_attribute {
            Some(a) => assert_eq!(ttl["AttributeName"], a, "{id}"),
            None => assert!(ttl.is_null(), "{id}: evidence never expires"),
        }
        assert_eq!(stack.prop(id, "DeletionProtectionEnabled"), json!(true));
        assert_eq!(
            stack.prop(id, "PointInTimeRecoverySpecification"),
            json!({"PointInTimeRecoveryEnabled": true})
        );
    }
}

// ------------------------------------------------------------------------------------------------
// The role, proven with Warden's evaluator.

/// Every `call("service", "Operation"` in the sources the live path runs (and the `"Operation"
/// method` pairs of the IAM policy macros), which is what the client layer counts.
fn operations_in_sources() -> BTreeSet<String> {
    let src = repo().join("handler/src");
    let mut files = Vec::new();
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    for dir in ["enforce", "connectors", "stores", "aws"] {
        walk(&src.join(dir), &mut files);
    }
    files.push(src.join("assembly.rs"));
    let call = regex::Regex::new(r#"call\(\s*"([a-z0-9]+)",\s*"([A-Za-z0-9]+)""#).unwrap();
    let macro_pair = regex::Regex::new(r#""([A-Z][A-Za-z]+)" [a-z_]+(,|\s*$)"#).unwrap();
    let mut out = BTreeSet::new();
    for f in files {
        // `warden init` is the operator's, run with the operator's credentials, not the function's.
        if f.ends_with("stores/init.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        for c in call.captures_iter(&text) {
            out.insert(format!("{}:{}", &c[1], &c[2]));
        }
        if f.ends_with("connectors/iam_policies.rs") {
            for line in text.lines() {
                for c in macro_pair.captures_iter(line.trim()) {
                    out.insert(format!("iam:{}", &c[1]));
                }
            }
        }
    }
    out
}

/// Condition keys and values of a request.
type Context = Vec<(String, String)>;

/// One request to the evaluator: `(IAM action, resource, context)`.
type Ask = (String, String, Context);

/// What the function must be able to do for each operation.
fn needs(op: &str, names: &Names) -> Vec<Ask> {
    let user = format!("arn:aws:iam::{ACCOUNT}:user/mallory");
    let role = format!("arn:aws:iam::{ACCOUNT}:role/app-deploy");
    let group = format!("arn:aws:iam::{ACCOUNT}:group/developers");
    let deny_policy = format!("arn:aws:iam::{ACCOUNT}:policy/warden/WardenDeny-user-mallory");
    let customer_policy = format!("arn:aws:iam::{ACCOUNT}:policy/team-policy");
    let bucket = "arn:aws:s3:::payments-data".to_owned();
    let trail = format!("arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/org-trail");
    let s3ctx = vec![("s3:ResourceAccount".to_owned(), ACCOUNT.to_owned())];
    let none = Vec::new;
    let on = |action: &str, resources: &[&String]| -> Vec<Ask> {
        resources
            .iter()
            .map(|r| (action.to_owned(), (*r).clone(), Vec::new()))
            .collect()
    };
    let (service, name) = op.split_once(':').unwrap();
    match (service, name) {
        // Warden attaches only its own Deny policies (under /warden/).
        ("iam", n @ ("AttachUserPolicy" | "AttachRolePolicy")) => vec![(
            format!("iam:{n}"),
            if n == "AttachUserPolicy" { user } else { role },
            vec![("iam:PolicyARN".to_owned(), deny_policy)],
        )],
        ("iam", n) if n.ends_with("UserPermissionsBoundary") => on(&format!("iam:{n}"), &[&user]),
        ("iam", n) if n.ends_with("RolePermissionsBoundary") => on(&format!("iam:{n}"), &[&role]),
        ("iam", n) if n.ends_with("UserPolicy") || n.ends_with("UserPolicies") => {
            on(&format!("iam:{n}"), &[&user])
        }
        ("iam", n) if n.ends_with("RolePolicy") || n.ends_with("RolePolicies") => {
            on(&format!("iam:{n}"), &[&role])
        }
        ("iam", n) if n.ends_with("GroupPolicy") || n.ends_with("GroupPolicies") => {
            on(&format!("iam:{n}"), &[&group])
        }
        ("iam", n @ ("CreatePolicy" | "CreatePolicyVersion" | "DeletePolicyVersion")) => {
            on(&format!("iam:{n}"), &[&deny_policy])
        }
        (
            "iam",
            n @ ("SetDefaultPolicyVersion"
            | "GetPolicy"
            | "GetPolicyVersion"
            | "ListPolicyVersions"),
        ) => on(&format!("iam:{n}"), &[&deny_policy, &customer_policy]),
        (
            "iam",
            n @ ("GetUser" | "ListAccessKeys" | "UpdateAccessKey" | "ListGroupsForUser"
            | "GetLoginProfile" | "DeleteLoginProfile" | "UpdateLoginProfile"),
        ) => on(&format!("iam:{n}"), &[&user]),
        ("iam", n @ ("AddUserToGroup" | "RemoveUserFromGroup")) => {
            on(&format!("iam:{n}"), &[&group])
        }
        ("iam", n @ ("GetRole" | "UpdateAssumeRolePolicy")) => on(&format!("iam:{n}"), &[&role]),
        ("s3control", "GetPublicAccessBlock") => {
            vec![(
                "s3:GetAccountPublicAccessBlock".into(),
                "*".to_owned(),
                none(),
            )]
        }
        ("s3control", "PutPublicAccessBlock" | "DeletePublicAccessBlock") => {
            vec![(
                "s3:PutAccountPublicAccessBlock".into(),
                "*".to_owned(),
                none(),
            )]
        }
        ("s3", "HeadBucket") => vec![("s3:ListBucket".into(), bucket, s3ctx)],
        ("s3", "GetPublicAccessBlock") => {
            vec![("s3:GetBucketPublicAccessBlock".into(), bucket, s3ctx)]
        }
        ("s3", "PutPublicAccessBlock" | "DeletePublicAccessBlock") => {
            vec![("s3:PutBucketPublicAccessBlock".into(), bucket, s3ctx)]
        }
        (
            "s3",
            n @ ("GetBucketAcl" | "GetBucketLocation" | "GetBucketPolicy" | "PutBucketAcl"
            | "PutBucketPolicy" | "DeleteBucketPolicy"),
        ) => {
            vec![(format!("s3:{n}"), bucket, s3ctx)]
        }
        ("s3", "PutObject") => vec![
            (
                "s3:PutObject".into(),
                format!("{}/evidence/r1", names.evidence_bucket_arn),
                none(),
            ),
            (
                "s3:PutObjectRetention".into(),
                format!("{}/evidence/r1", names.evidence_bucket_arn),
                none(),
            ),
        ],
        ("s3", "HeadObject") => vec![(
            "s3:GetObject".into(),
            format!("{}/evidence/r1", names.evidence_bucket_arn),
            none(),
        )],
        // The catch-up's event history: LookupEvents has no resource type.
        ("cloudtrail", "LookupEvents") => {
            vec![("cloudtrail:LookupEvents".into(), "*".into(), none())]
        }
        // The heartbeat: a tag on Warden's own canary policy, and only there.
        ("iam", "TagPolicy") => vec![(
            "iam:TagPolicy".into(),
            format!("arn:aws:iam::{ACCOUNT}:policy/warden/warden-{STACK}-canary"),
            none(),
        )],
        ("cloudtrail", n @ ("GetTrailStatus" | "GetEventSelectors" | "StartLogging")) => {
            on(&format!("cloudtrail:{n}"), &[&trail])
        }
        ("dynamodb", "TransactWriteItems") => [
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:ConditionCheckItem",
        ]
        .iter()
        .flat_map(|a| {
            names
                .tables
                .iter()
                .map(|t| ((*a).to_owned(), t.clone(), Vec::new()))
        })
        .collect(),
        ("dynamodb", "Query") => vec![
            ("dynamodb:Query".into(), names.tables[0].clone(), none()),
            (
                "dynamodb:Query".into(),
                format!("{}/index/open_incidents", names.tables[0]),
                none(),
            ),
            ("dynamodb:Query".into(), names.tables[1].clone(), none()),
        ],
        ("dynamodb", n) => names
            .tables
            .iter()
            .map(|t| (format!("dynamodb:{n}"), t.clone(), Vec::new()))
            .collect(),
        ("sqs", n) => names
            .queues
            .iter()
            .map(|q| (format!("sqs:{n}"), q.clone(), Vec::new()))
            .collect(),
        ("sns", "Publish") => vec![("sns:Publish".into(), names.topic.clone(), none())],
        // The sweep's reads: GAAD and the bucket list take only "*".
        (
            "iam",
            n @ ("GetAccountAuthorizationDetails"
            | "GenerateCredentialReport"
            | "GetCredentialReport"),
        ) => vec![(format!("iam:{n}"), "*".into(), none())],
        ("events", "ListRules") => vec![("events:ListRules".into(), "*".into(), none())],
        // The sweep's read of Warden's own function: its concurrency, and its queue mappings
        // (`ListEventSourceMappings` has no resource type).
        ("lambda", "GetFunctionConcurrency") => vec![(
            "lambda:GetFunctionConcurrency".into(),
            names.function.clone(),
            none(),
        )],
        ("lambda", "ListEventSourceMappings") => {
            vec![("lambda:ListEventSourceMappings".into(), "*".into(), none())]
        }
        // The sweep's read of the organization's SCPs and RCPs: its ids are not known to the stack.
        ("organizations", n) => vec![(format!("organizations:{n}"), "*".into(), none())],
        ("events", "ListTargetsByRule") => vec![(
            "events:ListTargetsByRule".into(),
            format!("arn:aws:events:us-east-1:{ACCOUNT}:rule/{STACK}-iam-1"),
            none(),
        )],
        ("cloudtrail", "DescribeTrails") => {
            vec![("cloudtrail:DescribeTrails".into(), "*".into(), none())]
        }
        ("s3", "ListBuckets") => vec![("s3:ListAllMyBuckets".into(), "*".into(), none())],
        ("s3", "GetBucketOwnershipControls") => {
            vec![("s3:GetBucketOwnershipControls".into(), bucket, s3ctx)]
        }
        // DeleteBucketOwnershipControls is the IAM action s3:PutBucketOwnershipControls.
        ("s3", "PutBucketOwnershipControls" | "DeleteBucketOwnershipControls") => {
            vec![("s3:PutBucketOwnershipControls".into(), bucket, s3ctx)]
        }
        ("s3", n @ ("GetObjectAcl" | "PutObjectAcl")) => {
            vec![(format!("s3:{n}"), format!("{bucket}/reports/q3.csv"), s3ctx)]
        }
        // GetCallerIdentity needs no permission ("GetCallerIdentity", STS API reference).
        ("sts", "GetCallerIdentity") => Vec::new(),
        _ => panic!(
            "{op}: the template test does not know what this operation needs; add it to `needs`"
        ),
    }
}

/// A policy Warden owns that is not its canary.
fn own_policy_for_tags() -> String {
    format!("arn:aws:iam::{ACCOUNT}:policy/warden/warden-{STACK}-enforce")
}

struct Names {
    tables: Vec<String>,
    queues: Vec<String>,
    function: String,
    topic: String,
    evidence_bucket_arn: String,
}

fn ask(
    policies: &[(String, PolicyDocument)],
    principal: &str,
    action: &str,
    resource: &str,
    context: &[(String, String)],
) -> Answer {
    let mut ctx = RequestContext::complete();
    for (k, v) in context {
        ctx = ctx.with(k, &[v.as_str()]);
    }
    let identity: Vec<(&str, &PolicyDocument)> =
        policies.iter().map(|(n, d)| (n.as_str(), d)).collect();
    evaluate(
        &Request {
            principal_arn: principal,
            principal_account: ACCOUNT,
            action,
            resource,
            context: &ctx,
            ..Default::default()
        },
        &Policies {
            identity: &identity,
            boundary: None,
            resource: None,
            ..Default::default()
        },
    )
    .answer
}

#[test]
fn the_function_role_allows_what_the_live_path_calls_and_nothing_it_must_never_do() {
    let glass = format!("arn:aws:iam::{ACCOUNT}:role/break-glass-oncall");
    let stack = load(
        "warden.yaml",
        &[
            ("CodeBucket", json!("code")),
            ("EvidenceMirror", json!("GOVERNANCE")),
            ("BreakGlassPrincipals", json!([glass])),
        ],
    );
    let policies = stack.role_policies("FunctionRole");
    assert!(
        policies.len() >= 4,
        "read, enforce, store, alert (+ guardrails)"
    );
    let role = stack.attribute("FunctionRole", "Arn");
    let role = role.as_str().unwrap();
    let arn = |id: &str| stack.attribute(id, "Arn").as_str().unwrap().to_owned();
    let names = Names {
        tables: vec![arn("StateTable"), arn("EvidenceTable")],
        queues: vec![
            arn("IntakeQueue"),
            arn("EventQueue"),
            arn("DeadLetterQueue"),
        ],
        function: arn("Function"),
        topic: stack.reference("AlertTopic").as_str().unwrap().to_owned(),
        evidence_bucket_arn: format!(
            "arn:aws:s3:::{}",
            stack.reference("EvidenceBucket").as_str().unwrap()
        ),
    };

    let ops = operations_in_sources();
    assert!(
        ops.len() > 40 && ops.contains("iam:PutUserPolicy") && ops.contains("sns:Publish"),
        "the scan found too few operations: {ops:?}"
    );
    // Operations of the operator's commands only, run with a person's credentials, never by the
    // function: the rollback of a restarted trail stops it again, and group policies are only ever
    // restored by `warden rollback` (the live path never writes on a group: a group is shared by
    // its members, so a Deny goes on the principal). `warden access s3://…` reads a trail's log
    // files with the operator's credentials (`connectors/trail_logs.rs`).
    let operator_only = [
        "cloudtrail:StopLogging",
        "iam:AttachGroupPolicy",
        "iam:PutGroupPolicy",
        "s3:GetObject",
        "s3:ListObjectsV2",
    ];
    let mut refused = Vec::new();
    for op in ops.iter().filter(|o| !operator_only.contains(&o.as_str())) {
        for (action, resource, ctx) in needs(op, &names) {
            let a = ask(&policies, role, &action, &resource, &ctx);
            if a != Answer::Allow {
                refused.push(format!("{op}: {action} on {resource}: {a:?}"));
            }
        }
    }
    assert!(
        refused.is_empty(),
        "the role refuses what the flow needs:\n{}",
        refused.join("\n")
    );

    // What Warden must never be able to do.
    let own_policy = format!("arn:aws:iam::{ACCOUNT}:policy/warden/warden-{STACK}-enforce");
    let admin = "arn:aws:iam::aws:policy/AdministratorAccess".to_owned();
    let user = format!("arn:aws:iam::{ACCOUNT}:user/mallory");
    let ctx_admin = vec![("iam:PolicyARN".to_owned(), admin.clone())];
    let s3ctx = vec![("s3:ResourceAccount".to_owned(), ACCOUNT.to_owned())];
    let never: Vec<(&str, String, Context)> = vec![
        (
            "iam:CreateUser",
            format!("arn:aws:iam::{ACCOUNT}:user/backdoor"),
            vec![],
        ),
        ("iam:CreateAccessKey", user.clone(), vec![]),
        ("iam:CreateLoginProfile", user.clone(), vec![]),
        ("iam:AttachUserPolicy", user.clone(), ctx_admin.clone()),
        ("iam:AttachRolePolicy", role.to_owned(), ctx_admin.clone()),
        (
            "iam:AttachGroupPolicy",
            format!("arn:aws:iam::{ACCOUNT}:group/developers"),
            ctx_admin,
        ),
        ("iam:PutRolePolicy", role.to_owned(), vec![]),
        ("iam:DeleteRolePolicy", role.to_owned(), vec![]),
        ("iam:DetachRolePolicy", role.to_owned(), vec![]),
        ("iam:UpdateAssumeRolePolicy", role.to_owned(), vec![]),
        ("iam:PutRolePermissionsBoundary", role.to_owned(), vec![]),
        ("iam:DeleteRolePermissionsBoundary", role.to_owned(), vec![]),
        ("iam:CreatePolicyVersion", own_policy.clone(), vec![]),
        ("iam:SetDefaultPolicyVersion", own_policy, vec![]),
        ("iam:PassRole", role.to_owned(), vec![]),
        ("iam:PutRolePolicy", glass.clone(), vec![]),
        ("iam:UpdateAssumeRolePolicy", glass.clone(), vec![]),
        ("iam:DeleteRolePermissionsBoundary", glass.clone(), vec![]),
        ("sts:AssumeRole", glass, vec![]),
        ("dynamodb:DeleteTable", names.tables[0].clone(), vec![]),
        ("dynamodb:DeleteTable", names.tables[1].clone(), vec![]),
        ("dynamodb:DeleteItem", names.tables[1].clone(), vec![]),
        ("sqs:DeleteQueue", names.queues[0].clone(), vec![]),
        ("sqs:PurgeQueue", names.queues[1].clone(), vec![]),
        ("sqs:SetQueueAttributes", names.queues[2].clone(), vec![]),
        ("sns:DeleteTopic", names.topic.clone(), vec![]),
        ("sns:Subscribe", names.topic.clone(), vec![]),
        (
            "s3:DeleteBucket",
            names.evidence_bucket_arn.clone(),
            s3ctx.clone(),
        ),
        (
            "s3:DeleteObjectVersion",
            format!("{}/evidence/r1", names.evidence_bucket_arn),
            s3ctx.clone(),
        ),
        (
            "s3:BypassGovernanceRetention",
            format!("{}/evidence/r1", names.evidence_bucket_arn),
            s3ctx.clone(),
        ),
        (
            "s3:PutBucketPolicy",
            names.evidence_bucket_arn.clone(),
            s3ctx,
        ),
        (
            "cloudtrail:DeleteTrail",
            format!("arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/org-trail"),
            vec![],
        ),
        (
            "cloudtrail:StopLogging",
            format!("arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/org-trail"),
            vec![],
        ),
        ("events:DisableRule", arn("RuleWatchdog"), vec![]),
        ("events:DeleteRule", arn("RuleIam1"), vec![]),
        ("lambda:UpdateFunctionCode", arn("Function"), vec![]),
        ("lambda:PutFunctionConcurrency", arn("Function"), vec![]),
        ("lambda:DeleteFunction", arn("Function"), vec![]),
        ("lambda:UpdateEventSourceMapping", "*".to_owned(), vec![]),
        (
            "lambda:UpdateFunctionConfiguration",
            arn("Function"),
            vec![],
        ),
        (
            "cloudformation:DeleteStack",
            format!("arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK}/id"),
            vec![],
        ),
        (
            "s3:GetObject",
            "arn:aws:s3:::payments-data/secret.csv".to_owned(),
            vec![],
        ),
        ("ec2:RunInstances", "*".to_owned(), vec![]),
        // The heartbeat tags its canary and nothing else.
        ("iam:TagPolicy", own_policy_for_tags(), vec![]),
        ("iam:TagUser", user.clone(), vec![]),
    ];
    let mut allowed = Vec::new();
    for (action, resource, ctx) in &never {
        let a = ask(&policies, role, action, resource, ctx);
        if a == Answer::Allow || a == Answer::Unknown {
            allowed.push(format!("{action} on {resource}: {a:?}"));
        }
    }
    assert!(
        allowed.is_empty(),
        "the role allows what Warden must never do:\n{}",
        allowed.join("\n")
    );
}

#[test]
fn the_heartbeats_canary_is_attached_to_nothing_named_to_the_function_and_its_event_routed() {
    let stack = load("warden.yaml", &[("CodeBucket", json!("code"))]);
    let canary = format!("arn:aws:iam::{ACCOUNT}:policy/warden/warden-{STACK}-canary");
    assert_eq!(
        stack.prop("CanaryPolicy", "ManagedPolicyName"),
        json!(format!("warden-{STACK}-canary"))
    );
    assert_eq!(stack.prop("CanaryPolicy", "Path"), json!("/warden/"));
    for k in ["Roles", "Users", "Groups"] {
        assert!(
            stack.prop("CanaryPolicy", k).is_null(),
            "the canary is attached to {k}"
        );
    }
    assert_eq!(
        stack.prop("Function", "Environment")["Variables"]["WARDEN_CANARY_POLICY_ARN"],
        json!(canary)
    );
    // Its `TagPolicy` event reaches the intake through the generated IAM rules.
    let rules = RuleSet::default_pack().unwrap();
    let catalog = Catalog::builtin().unwrap();
    let routes = warden_handler::enforce::catch_up::Routes::from_patterns(
        &rule_patterns(PREFIX, &rules, &catalog).unwrap(),
    );
    assert!(routes.delivers("iam.amazonaws.com", "TagPolicy"));
}

/// What the queue policy `policy_id` answers for `who` (with `identity`, if any) asking `action`
/// on `queue`, with the request's `aws:SourceArn`, if any.
fn queue_answer(
    stack: &Stack,
    policy_id: &str,
    who: &str,
    identity: Option<&PolicyDocument>,
    action: &str,
    queue: &str,
    source: Option<&str>,
) -> Answer {
    let doc = PolicyDocument::parse(&stack.prop(policy_id, "PolicyDocument").to_string()).unwrap();
    let mut ctx = RequestContext::complete();
    if who.starts_with("arn:") {
        ctx = ctx.with("aws:PrincipalArn", &[who]);
    }
    if let Some(s) = source {
        ctx = ctx.with("aws:SourceArn", &[s]);
    }
    let identity: Vec<(&str, &PolicyDocument)> =
        identity.map(|d| ("identity", d)).into_iter().collect();
    evaluate(
        &Request {
            principal_arn: who,
            principal_account: ACCOUNT,
            action,
            resource: queue,
            context: &ctx,
            ..Default::default()
        },
        &Policies {
            identity: &identity,
            resource: Some((policy_id, &doc)),
            ..Default::default()
        },
    )
    .answer
}

// Issue 10 §2: within one account an identity policy alone grants a queue; the queue policies
// keep everyone but the function, its rules and the break-glass principals from forging an event
// into Warden's queues or taking one out of them.
#[test]
fn the_queues_admit_only_the_function_its_rules_and_the_break_glass_principals() {
    let glass = format!("arn:aws:iam::{ACCOUNT}:role/oncall/break-glass");
    let sqs_all = PolicyDocument::parse(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:*","Resource":"*"}]}"#,
    )
    .unwrap();
    let mallory = format!("arn:aws:iam::{ACCOUNT}:user/mallory");
    for break_glass in [json!([]), json!([glass.clone()])] {
        let stack = load(
            "warden.yaml",
            &[("BreakGlassPrincipals", break_glass.clone())],
        );
        let role = stack.attribute("FunctionRole", "Arn");
        let role = role.as_str().unwrap();
        let intake = stack.attribute("IntakeQueue", "Arn");
        let work = stack.attribute("EventQueue", "Arn");
        let rule = stack.attribute("RuleIam1", "Arn");
        let rule = rule.as_str().unwrap();
        let other_rule = format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/mallorys-rule");
        for (policy, queue) in [
            ("IntakeQueuePolicy", intake.as_str().unwrap()),
            ("EventQueuePolicy", work.as_str().unwrap()),
        ] {
            for action in GUARDED_QUEUE_ACTIONS {
                let answer = |who: &str| {
                    queue_answer(&stack, policy, who, Some(&sqs_all), action, queue, None)
                };
                assert_eq!(answer(&mallory), Answer::ExplicitDeny, "{policy} {action}");
                assert_eq!(
                    answer(role),
                    Answer::Allow,
                    "{policy} {action} by the function"
                );
                let glass_answer = if break_glass == json!([]) {
                    Answer::ExplicitDeny
                } else {
                    Answer::Allow
                };
                assert_eq!(
                    answer(&glass),
                    glass_answer,
                    "{policy} {action} {break_glass}"
                );
            }
            let from = |source: &str| {
                queue_answer(
                    &stack,
                    policy,
                    "events.amazonaws.com",
                    None,
                    "sqs:SendMessage",
                    queue,
                    Some(source),
                )
            };
            let by_rule = if policy == "IntakeQueuePolicy" {
                Answer::Allow
            } else {
                Answer::ExplicitDeny
            };
            assert_eq!(from(rule), by_rule, "{policy}: Warden's own rule");
            assert_eq!(
                from(&other_rule),
                Answer::ExplicitDeny,
                "{policy}: another rule"
            );
        }
    }
}

#[test]
fn the_regions_parameter_tells_the_function_which_regions_history_to_read() {
    let env = |stack: &Stack| {
        let v = stack.prop("Function", "Environment")["Variables"]["WARDEN_REGIONS"].clone();
        let vars = BTreeMap::from([("WARDEN_REGIONS".to_owned(), v.as_str().unwrap().to_owned())]);
        warden_handler::enforce::config::Config::from_vars(&vars)
            .unwrap()
            .regions
    };
    // By default the main region only (the function always reads its own region's).
    let stack = load("warden.yaml", &[("CodeBucket", json!("code"))]);
    assert!(env(&stack).is_empty());
    assert!(!stack.condition("HasRegions"));
    let stack = load(
        "warden.yaml",
        &[
            ("CodeBucket", json!("code")),
            ("Regions", json!(["eu-west-1", "ap-south-2"])),
        ],
    );
    assert_eq!(env(&stack), ["eu-west-1", "ap-south-2"]);
    assert!(stack.condition("HasRegions"));
}
