//! AWS's policy evaluation logic within one account ("Policy evaluation logic", IAM user guide): an
//! explicit `Deny` in any applicable policy wins; otherwise an `Allow` from the identity policies
//! (capped by the permissions boundary, when there is one) or from the resource policy allows;
//! otherwise the request is implicitly denied. Actions match case-insensitively, resources
//! case-sensitively, both with `*` and `?`. Conditions are evaluated against a request context with
//! the operators of "IAM JSON policy elements: Condition operators", including `ForAnyValue:`,
//! `ForAllValues:` and `…IfExists`; policy variables (`${aws:username}`) are substituted from it.
//!
//! Fail-safe choice, made here once: an operator Warden does not know, or a condition key whose value
//! the context cannot tell, makes the answer `Unknown` — never `Allow`, never `Deny`. Callers must
//! handle `Unknown` explicitly (the planner treats it as "a person must look").

use crate::policy::{Effect, PolicyDocument, Principals, Scope, Statement};
use crate::wildcard;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// What the context knows of one condition key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyValue<'c> {
    Present(&'c [String]),
    Absent,
    Unknown,
}

/// The request context: condition keys and their values (keys match case-insensitively).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestContext {
    values: BTreeMap<String, Vec<String>>,
    /// When true, a key the context does not hold is absent from the request; when false, unknown.
    complete: bool,
}

impl RequestContext {
    /// A context in which keys it does not hold are *unknown* (offline analysis).
    pub fn partial() -> Self {
        RequestContext {
            values: BTreeMap::new(),
            complete: false,
        }
    }

    /// A context in which keys it does not hold are *absent* from the request.
    pub fn complete() -> Self {
        RequestContext {
            values: BTreeMap::new(),
            complete: true,
        }
    }

    pub fn with(mut self, key: &str, values: &[&str]) -> Self {
        self.values.insert(
            key.to_ascii_lowercase(),
            values.iter().map(|v| (*v).to_owned()).collect(),
        );
        self
    }

    pub fn get(&self, key: &str) -> KeyValue<'_> {
        match self.values.get(&key.to_ascii_lowercase()) {
            Some(v) => KeyValue::Present(v),
            None if self.complete => KeyValue::Absent,
            None => KeyValue::Unknown,
        }
    }
}

/// One question: may `principal` do `action` on `resource`?
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The principal's ARN (user or role), as resource policies name it.
    pub principal_arn: &'a str,
    pub principal_account: &'a str,
    pub action: &'a str,
    pub resource: &'a str,
    pub context: &'a RequestContext,
}

/// The policies that apply to a principal and a resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct Policies<'a> {
    /// Identity policies (inline, attached, the groups'), each with a name for reasons.
    pub identity: &'a [(&'a str, &'a PolicyDocument)],
    pub boundary: Option<&'a PolicyDocument>,
    /// The resource's policy (bucket policy, trust policy), if any.
    pub resource: Option<(&'a str, &'a PolicyDocument)>,
}

/// The answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Allow,
    ExplicitDeny,
    ImplicitDeny,
    /// Warden cannot tell; see the reasons.
    Unknown,
}

/// The answer with its reasons (which statements decided, or why Warden cannot tell).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub answer: Answer,
    pub reasons: Vec<String>,
}

/// Three-valued truth.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tri {
    Yes,
    No,
    Unknown(String),
}

impl Tri {
    fn and(self, other: impl FnOnce() -> Tri) -> Tri {
        match self {
            Tri::No => Tri::No,
            Tri::Yes => other(),
            Tri::Unknown(why) => match other() {
                Tri::No => Tri::No,
                _ => Tri::Unknown(why),
            },
        }
    }
}

/// Evaluates one request against the policies.
pub fn evaluate(req: &Request<'_>, policies: &Policies<'_>) -> Evaluation {
    let mut allow_identity: Option<String> = None;
    let mut allow_resource: Option<String> = None;
    let mut maybe_allow: Option<String> = None;
    let mut maybe_deny: Option<String> = None;
    let resource_policy = policies.resource.into_iter().map(|(n, d)| (n, d, true));
    let identity = policies.identity.iter().map(|(n, d)| (*n, *d, false));
    for (name, doc, is_resource) in identity.chain(resource_policy) {
        for (i, st) in doc.statements.iter().enumerate() {
            let label = || {
                format!(
                    "`{name}` statement {}",
                    st.sid
                        .as_deref()
                        .map_or_else(|| i.to_string(), |s| format!("`{s}`"))
                )
            };
            match statement_applies(st, req, is_resource) {
                Tri::No => {}
                Tri::Yes if st.effect == Effect::Deny => {
                    return Evaluation {
                        answer: Answer::ExplicitDeny,
                        reasons: vec![format!("explicit Deny in {}", label())],
                    };
                }
                Tri::Yes if is_resource => {
                    allow_resource.get_or_insert_with(label);
                }
                Tri::Yes => {
                    allow_identity.get_or_insert_with(label);
                }
                Tri::Unknown(why) if st.effect == Effect::Deny => {
                    maybe_deny.get_or_insert_with(|| format!("{} may Deny: {why}", label()));
                }
                Tri::Unknown(why) => {
                    maybe_allow.get_or_insert_with(|| format!("{} may Allow: {why}", label()));
                }
            }
        }
    }
    // The permissions boundary caps identity-policy Allows; a Deny in it denies.
    let mut boundary_allows = Tri::Yes;
    if let Some(b) = policies.boundary {
        boundary_allows = Tri::No;
        for st in &b.statements {
            match (statement_applies(st, req, false), st.effect) {
                (Tri::Yes, Effect::Deny) => {
                    return Evaluation {
                        answer: Answer::ExplicitDeny,
                        reasons: vec!["explicit Deny in the permissions boundary".to_owned()],
                    };
                }
                (Tri::Unknown(why), Effect::Deny) => {
                    maybe_deny.get_or_insert(format!("the permissions boundary may Deny: {why}"));
                }
                (Tri::Yes, Effect::Allow) => boundary_allows = Tri::Yes,
                (Tri::Unknown(why), Effect::Allow) if boundary_allows == Tri::No => {
                    boundary_allows = Tri::Unknown(why)
                }
                _ => {}
            }
        }
    }
    let identity_allows = match (&allow_identity, &boundary_allows) {
        (Some(_), Tri::Yes) => Tri::Yes,
        (Some(_), Tri::Unknown(why)) => {
            Tri::Unknown(format!("the permissions boundary may not allow it: {why}"))
        }
        (Some(by), Tri::No) => {
            maybe_allow.take();
            return finish(
                allow_resource,
                maybe_deny,
                None,
                Some(format!(
                    "{by} allows, but the permissions boundary does not"
                )),
            );
        }
        (None, _) => Tri::No,
    };
    match identity_allows {
        Tri::Yes => finish(
            allow_identity.or(allow_resource),
            maybe_deny,
            maybe_allow,
            None,
        ),
        Tri::Unknown(why) => finish(allow_resource, maybe_deny, Some(why), None),
        Tri::No => finish(allow_resource, maybe_deny, maybe_allow, None),
    }
}

fn finish(
    allowed_by: Option<String>,
    maybe_deny: Option<String>,
    maybe_allow: Option<String>,
    note: Option<String>,
) -> Evaluation {
    let mut reasons: Vec<String> = note.into_iter().collect();
    match (allowed_by, maybe_deny, maybe_allow) {
        (Some(by), None, _) => {
            reasons.insert(0, format!("allowed by {by}"));
            Evaluation {
                answer: Answer::Allow,
                reasons,
            }
        }
        (Some(by), Some(deny), _) => {
            reasons.push(format!("allowed by {by}, but {deny}"));
            Evaluation {
                answer: Answer::Unknown,
                reasons,
            }
        }
        (None, deny, Some(allow)) => {
            reasons.push(allow);
            reasons.extend(deny);
            Evaluation {
                answer: Answer::Unknown,
                reasons,
            }
        }
        (None, deny, None) => {
            reasons.push("no statement allows it".to_owned());
            reasons.extend(deny);
            Evaluation {
                answer: Answer::ImplicitDeny,
                reasons,
            }
        }
    }
}

fn statement_applies(st: &Statement, req: &Request<'_>, is_resource_policy: bool) -> Tri {
    let action = match &st.action {
        Scope::Only(a) => a
            .iter()
            .any(|p| wildcard::matches_ignore_ascii_case(p, req.action)),
        Scope::Not(a) => !a
            .iter()
            .any(|p| wildcard::matches_ignore_ascii_case(p, req.action)),
    };
    if !action {
        return Tri::No;
    }
    if is_resource_policy {
        let named = match &st.principal {
            Some(Scope::Only(p)) => principal_named(p, req),
            Some(Scope::Not(p)) => !principal_named(p, req),
            None => false,
        };
        if !named {
            return Tri::No;
        }
    }
    let resource = match &st.resource {
        None => Tri::Yes,
        Some(Scope::Only(r)) => any_resource(r, req),
        Some(Scope::Not(r)) => match any_resource(r, req) {
            Tri::Yes => Tri::No,
            Tri::No => Tri::Yes,
            u => u,
        },
    };
    resource.and(|| conditions_hold(st, req.context))
}

fn principal_named(p: &Principals, req: &Request<'_>) -> bool {
    match p {
        Principals::Any => true,
        Principals::Kinds(kinds) => kinds.get("AWS").is_some_and(|list| {
            list.iter().any(|a| {
                a == "*"
                    || a == req.principal_arn
                    || a == req.principal_account
                    || a.strip_suffix(":root").and_then(|x| x.rsplit(':').next())
                        == Some(req.principal_account)
            })
        }),
    }
}

fn any_resource(patterns: &[String], req: &Request<'_>) -> Tri {
    let mut unknown = None;
    for p in patterns {
        match substitute(p, req.context) {
            Ok(Some(p)) if wildcard::matches_policy(&p, req.resource) => return Tri::Yes,
            Ok(_) => {}
            Err(why) => unknown = Some(why),
        }
    }
    unknown.map_or(Tri::No, Tri::Unknown)
}

/// Replaces policy variables (`${aws:username}`, `${aws:PrincipalTag/x, 'default'}`, `${*}`, `${?}`,
/// `${$}`) from the context. `Ok(None)`: a variable is absent and has no default (nothing matches).
fn substitute(s: &str, ctx: &RequestContext) -> Result<Option<String>, String> {
    if !s.contains("${") {
        return Ok(Some(s.to_owned()));
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(rest.get(..start).unwrap_or(""));
        let after = rest.get(start + 2..).unwrap_or("");
        let Some(end) = after.find('}') else {
            out.push_str(rest.get(start..).unwrap_or(""));
            rest = "";
            break;
        };
        let inner = after.get(..end).unwrap_or("");
        rest = after.get(end + 1..).unwrap_or("");
        let (name, default) = match inner.split_once(',') {
            Some((n, d)) => (n.trim(), Some(d.trim().trim_matches('\'').to_owned())),
            None => (inner.trim(), None),
        };
        match name {
            // Kept as escapes, so that matching reads them as literal characters (not wildcards);
            // exact comparisons read them back with `wildcard::unescape_literal`.
            "*" | "?" | "$" => {
                out.push_str("${");
                out.push_str(name);
                out.push('}');
            }
            _ => match ctx.get(name) {
                KeyValue::Present([one]) => out.push_str(one),
                KeyValue::Present(_) => {
                    return Err(format!("policy variable `{name}` has several values"))
                }
                KeyValue::Absent => match default {
                    Some(d) => out.push_str(&d),
                    None => return Ok(None),
                },
                KeyValue::Unknown => return Err(format!("policy variable `{name}` is not known")),
            },
        }
    }
    out.push_str(rest);
    Ok(Some(out))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        use Op::*;
        Some(match s {
            "StringEquals" => StringEquals,
            "StringNotEquals" => StringNotEquals,
            "StringEqualsIgnoreCase" => StringEqualsIgnoreCase,
            "StringNotEqualsIgnoreCase" => StringNotEqualsIgnoreCase,
            "StringLike" => StringLike,
            "StringNotLike" => StringNotLike,
            "NumericEquals" => NumericEquals,
            "NumericNotEquals" => NumericNotEquals,
            "NumericLessThan" => NumericLessThan,
            "NumericLessThanEquals" => NumericLessThanEquals,
            "NumericGreaterThan" => NumericGreaterThan,
            "NumericGreaterThanEquals" => NumericGreaterThanEquals,
            "DateEquals" => DateEquals,
            "DateNotEquals" => DateNotEquals,
            "DateLessThan" => DateLessThan,
            "DateLessThanEquals" => DateLessThanEquals,
            "DateGreaterThan" => DateGreaterThan,
            "DateGreaterThanEquals" => DateGreaterThanEquals,
            "Bool" => Bool,
            "BinaryEquals" => BinaryEquals,
            "IpAddress" => IpAddress,
            "NotIpAddress" => NotIpAddress,
            "ArnEquals" => ArnEquals,
            "ArnLike" => ArnLike,
            "ArnNotEquals" => ArnNotEquals,
            "ArnNotLike" => ArnNotLike,
            "Null" => Null,
            _ => return None,
        })
    }

    /// Operators that require the key *not* to match; they hold when the key is absent.
    fn negated(self) -> bool {
        use Op::*;
        matches!(
            self,
            StringNotEquals
                | StringNotEqualsIgnoreCase
                | StringNotLike
                | NumericNotEquals
                | DateNotEquals
                | NotIpAddress
                | ArnNotEquals
                | ArnNotLike
        )
    }

    /// Whether one request value matches one policy value, for the positive form of the operator.
    /// `None`: the values cannot be compared (not a number, date or address).
    fn positive_match(self, request: &str, policy: &str) -> Option<bool> {
        use Op::*;
        Some(match self {
            StringEquals | StringNotEquals => request == wildcard::unescape_literal(policy),
            StringEqualsIgnoreCase | StringNotEqualsIgnoreCase => {
                request.to_lowercase() == wildcard::unescape_literal(policy).to_lowercase()
            }
            StringLike | StringNotLike => wildcard::matches_policy(policy, request),
            NumericEquals | NumericNotEquals => num(request)? == num(policy)?,
            NumericLessThan => num(request)? < num(policy)?,
            NumericLessThanEquals => num(request)? <= num(policy)?,
            NumericGreaterThan => num(request)? > num(policy)?,
            NumericGreaterThanEquals => num(request)? >= num(policy)?,
            DateEquals | DateNotEquals => date(request)? == date(policy)?,
            DateLessThan => date(request)? < date(policy)?,
            DateLessThanEquals => date(request)? <= date(policy)?,
            DateGreaterThan => date(request)? > date(policy)?,
            DateGreaterThanEquals => date(request)? >= date(policy)?,
            Bool => request.eq_ignore_ascii_case(policy),
            BinaryEquals => request == policy,
            IpAddress | NotIpAddress => ip_in(request, policy)?,
            ArnEquals | ArnLike | ArnNotEquals | ArnNotLike => arn_like(policy, request),
            Null => return None,
        })
    }
}

fn num(s: &str) -> Option<f64> {
    s.trim().parse().ok()
}

/// ISO 8601 date-times, plain dates (midnight UTC) and epoch seconds, as AWS accepts them.
fn date(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(epoch) = s.parse::<i64>() {
        return Some(epoch);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp());
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()?
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc().timestamp())
}

fn ip_in(request: &str, policy: &str) -> Option<bool> {
    let ip: IpAddr = request.trim().parse().ok()?;
    if let Ok(net) = policy.trim().parse::<ipnet::IpNet>() {
        return Some(net.contains(&ip));
    }
    let single: IpAddr = policy.trim().parse().ok()?;
    Some(single == ip)
}

/// `ArnLike`: each of the six colon-separated parts matched on its own, with wildcards.
fn arn_like(pattern: &str, arn: &str) -> bool {
    let p: Vec<&str> = pattern.splitn(6, ':').collect();
    let a: Vec<&str> = arn.splitn(6, ':').collect();
    p.len() == a.len()
        && p.iter()
            .zip(&a)
            .all(|(p, a)| wildcard::matches_policy(p, a))
}

fn conditions_hold(st: &Statement, ctx: &RequestContext) -> Tri {
    let mut result = Tri::Yes;
    for (op_text, keys) in &st.condition {
        let (set, rest) = if let Some(r) = op_text.strip_prefix("ForAnyValue:") {
            (Some(true), r)
        } else if let Some(r) = op_text.strip_prefix("ForAllValues:") {
            (Some(false), r)
        } else {
            (None, op_text.as_str())
        };
        let (base, if_exists) = match rest.strip_suffix("IfExists") {
            Some(b) if b != "Null" => (b, true),
            _ => (rest, false),
        };
        let Some(op) = Op::parse(base) else {
            return Tri::Unknown(format!("unknown condition operator `{op_text}`"));
        };
        for (key, policy_values) in keys {
            let one = condition_holds(op, set, if_exists, key, policy_values, ctx);
            result = result.and(|| one);
            if result == Tri::No {
                return Tri::No;
            }
        }
    }
    result
}

fn condition_holds(
    op: Op,
    set: Option<bool>,
    if_exists: bool,
    key: &str,
    policy_values: &[String],
    ctx: &RequestContext,
) -> Tri {
    let value = ctx.get(key);
    if op == Op::Null {
        let want_absent = policy_values.iter().any(|v| v.eq_ignore_ascii_case("true"));
        return match value {
            KeyValue::Unknown => Tri::Unknown(format!("condition key `{key}` is not known")),
            KeyValue::Absent => yes_if(want_absent),
            KeyValue::Present(_) => yes_if(!want_absent),
        };
    }
    let request_values = match value {
        KeyValue::Unknown => return Tri::Unknown(format!("condition key `{key}` is not known")),
        // "If the key … is not present in the request context … the condition is false", except for
        // `…IfExists`, negated operators, and `ForAllValues:` (vacuously true).
        KeyValue::Absent => return yes_if(if_exists || op.negated() || set == Some(false)),
        KeyValue::Present(v) => v,
    };
    let mut policy = Vec::with_capacity(policy_values.len());
    for p in policy_values {
        match substitute(p, ctx) {
            Ok(Some(p)) => policy.push(p),
            Ok(None) => {}
            Err(why) => return Tri::Unknown(why),
        }
    }
    let mut uncomparable = false;
    let mut matches_any = |r: &str| {
        policy.iter().any(|p| match op.positive_match(r, p) {
            Some(m) => m,
            None => {
                uncomparable = true;
                false
            }
        })
    };
    let holds = match (set, op.negated()) {
        (Some(false), false) => request_values.iter().all(|r| matches_any(r)),
        (Some(false), true) => request_values.iter().all(|r| !matches_any(r)),
        (Some(true), false) | (None, false) => request_values.iter().any(|r| matches_any(r)),
        (Some(true), true) => request_values.iter().any(|r| !matches_any(r)),
        (None, true) => !request_values.iter().any(|r| matches_any(r)),
    };
    if uncomparable && !holds {
        return Tri::Unknown(format!(
            "condition `{key}` compares values that are not of its operator's type"
        ));
    }
    yes_if(holds)
}

fn yes_if(b: bool) -> Tri {
    if b {
        Tri::Yes
    } else {
        Tri::No
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(json: &str) -> PolicyDocument {
        PolicyDocument::parse(json).unwrap()
    }

    fn ask(
        action: &str,
        resource: &str,
        ctx: &RequestContext,
        identity: &[(&str, &PolicyDocument)],
        boundary: Option<&PolicyDocument>,
        resource_policy: Option<(&str, &PolicyDocument)>,
    ) -> Answer {
        let req = Request {
            principal_arn: "arn:aws:iam::111122223333:user/bob",
            principal_account: "111122223333",
            action,
            resource,
            context: ctx,
        };
        evaluate(
            &req,
            &Policies {
                identity,
                boundary,
                resource: resource_policy,
            },
        )
        .answer
    }

    // Regression (issue 9, class D): `${*}`, `${?}`, `${$}` in a Resource are the characters
    // themselves, as IAM reads them, never wildcards.
    #[test]
    fn escaped_special_characters_in_resources_are_literal() {
        let allow = doc(r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#);
        let deny = doc(
            r#"{"Statement":{"Effect":"Deny","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::b/reports/${*}${?}${$}"}}"#,
        );
        let ctx = RequestContext::complete();
        let both = [("allow", &allow), ("deny", &deny)];
        let on = |key: &str| {
            ask(
                "s3:DeleteObject",
                &format!("arn:aws:s3:::b/{key}"),
                &ctx,
                &both,
                None,
                None,
            )
        };
        assert_eq!(on("reports/*?$"), Answer::ExplicitDeny);
        for neighbour in [
            "reports/x?$",
            "reports/*x$",
            "reports/*?",
            "reports/*?$x",
            "reports/",
        ] {
            assert_eq!(on(neighbour), Answer::Allow, "{neighbour}");
        }
        let cond = doc(
            r#"{"Statement":{"Effect":"Deny","Action":"s3:ListBucket","Resource":"*","Condition":{"StringEquals":{"s3:prefix":"a${*}"}}}}"#,
        );
        let with = |prefix: &str| {
            ask(
                "s3:ListBucket",
                "arn:aws:s3:::b",
                &RequestContext::complete().with("s3:prefix", &[prefix]),
                &[("allow", &allow), ("cond", &cond)],
                None,
                None,
            )
        };
        assert_eq!(with("a*"), Answer::ExplicitDeny);
        assert_eq!(with("ab"), Answer::Allow);
    }

    #[test]
    fn explicit_deny_beats_allow_and_default_is_implicit_deny() {
        let allow = doc(r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#);
        let deny = doc(
            r#"{"Statement":{"Effect":"Deny","Action":"s3:DeleteBucket","Resource":"arn:aws:s3:::prod"}}"#,
        );
        let ctx = RequestContext::complete();
        let both = [("allow", &allow), ("deny", &deny)];
        assert_eq!(
            ask(
                "s3:DeleteBucket",
                "arn:aws:s3:::prod",
                &ctx,
                &both,
                None,
                None
            ),
            Answer::ExplicitDeny
        );
        assert_eq!(
            ask(
                "S3:deletebucket",
                "arn:aws:s3:::dev",
                &ctx,
                &both,
                None,
                None
            ),
            Answer::Allow
        );
        assert_eq!(
            ask("iam:CreateUser", "*", &ctx, &both, None, None),
            Answer::ImplicitDeny
        );
        // Resources are case-sensitive.
        assert_eq!(
            ask(
                "s3:DeleteBucket",
                "arn:aws:s3:::Prod",
                &ctx,
                &both[1..],
                None,
                None
            ),
            Answer::ImplicitDeny
        );
    }

    #[test]
    fn boundary_caps_identity_allows_but_not_resource_policy_allows() {
        // "Permissions boundaries for IAM entities": the effective permissions are the intersection.
        let identity =
            doc(r#"{"Statement":{"Effect":"Allow","Action":["s3:*","iam:*"],"Resource":"*"}}"#);
        let boundary = doc(r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#);
        let ctx = RequestContext::complete();
        let ids = [("identity", &identity)];
        assert_eq!(
            ask(
                "s3:GetObject",
                "arn:aws:s3:::b/k",
                &ctx,
                &ids,
                Some(&boundary),
                None
            ),
            Answer::Allow
        );
        assert_eq!(
            ask("iam:CreateUser", "*", &ctx, &ids, Some(&boundary), None),
            Answer::ImplicitDeny
        );
        let bucket = doc(
            r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*"}}"#,
        );
        assert_eq!(
            ask(
                "s3:PutObject",
                "arn:aws:s3:::b/k",
                &ctx,
                &[],
                None,
                Some(("bucket", &bucket))
            ),
            Answer::Allow
        );
        assert_eq!(
            ask(
                "s3:PutObject",
                "arn:aws:s3:::other/k",
                &ctx,
                &[],
                None,
                Some(("bucket", &bucket))
            ),
            Answer::ImplicitDeny
        );
    }

    #[test]
    fn not_action_and_not_resource() {
        // "Deny all actions except IAM when MFA is absent" style: NotAction with Deny.
        let allow = doc(r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#);
        let deny = doc(
            r#"{"Statement":{"Effect":"Deny","NotAction":"iam:*","NotResource":"arn:aws:s3:::open/*"}}"#,
        );
        let ctx = RequestContext::complete();
        let ids = [("allow", &allow), ("deny", &deny)];
        assert_eq!(
            ask(
                "s3:GetObject",
                "arn:aws:s3:::secret/k",
                &ctx,
                &ids,
                None,
                None
            ),
            Answer::ExplicitDeny
        );
        assert_eq!(
            ask(
                "s3:GetObject",
                "arn:aws:s3:::open/k",
                &ctx,
                &ids,
                None,
                None
            ),
            Answer::Allow
        );
        assert_eq!(
            ask("iam:ListUsers", "*", &ctx, &ids, None, None),
            Answer::Allow
        );
    }

    #[test]
    fn revoke_sessions_policy_denies_sessions_issued_before() {
        // AWS's "Revoke active sessions": Deny * with DateLessThan aws:TokenIssueTime.
        let allow = doc(r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#);
        let revoke = doc(
            r#"{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-11-22T10:00:00Z"}}}}"#,
        );
        let ids = [("allow", &allow), ("AWSRevokeOlderSessions", &revoke)];
        let old = RequestContext::complete().with("aws:TokenIssueTime", &["2026-11-22T09:59:59Z"]);
        let new = RequestContext::complete().with("aws:tokenissuetime", &["2026-11-22T10:00:01Z"]);
        let long_term = RequestContext::complete();
        assert_eq!(
            ask("s3:GetObject", "*", &old, &ids, None, None),
            Answer::ExplicitDeny
        );
        assert_eq!(
            ask("s3:GetObject", "*", &new, &ids, None, None),
            Answer::Allow
        );
        assert_eq!(
            ask("s3:GetObject", "*", &long_term, &ids, None, None),
            Answer::Allow
        );
        assert_eq!(
            ask(
                "s3:GetObject",
                "*",
                &RequestContext::partial(),
                &ids,
                None,
                None
            ),
            Answer::Unknown
        );
    }

    #[test]
    fn policy_variables_and_string_conditions() {
        // "IAM policy elements: Variables and tags": home folders per user.
        let p = doc(
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::home/${aws:username}/*","Condition":{"StringLike":{"s3:prefix":["${aws:username}/*"]}}}}"#,
        );
        let ids = [("home", &p)];
        let ctx = RequestContext::complete()
            .with("aws:username", &["bob"])
            .with("s3:prefix", &["bob/docs"]);
        assert_eq!(
            ask(
                "s3:GetObject",
                "arn:aws:s3:::home/bob/x",
                &ctx,
                &ids,
                None,
                None
            ),
            Answer::Allow
        );
        assert_eq!(
            ask(
                "s3:GetObject",
                "arn:aws:s3:::home/alice/x",
                &ctx,
                &ids,
                None,
                None
            ),
            Answer::ImplicitDeny
        );
        let partial = RequestContext::partial();
        assert_eq!(
            ask(
                "s3:GetObject",
                "arn:aws:s3:::home/bob/x",
                &partial,
                &ids,
                None,
                None
            ),
            Answer::Unknown
        );
    }

    #[test]
    fn operators_set_qualifiers_if_exists_and_null() {
        let p = doc(r#"{"Statement":[
            {"Sid":"Ip","Effect":"Allow","Action":"ec2:A","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:db8::/32"]}}},
            {"Sid":"Tags","Effect":"Allow","Action":"ec2:B","Resource":"*","Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["env","team"]}}},
            {"Sid":"Any","Effect":"Allow","Action":"ec2:C","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"aws:TagKeys":["env"]}}},
            {"Sid":"IfExists","Effect":"Allow","Action":"ec2:D","Resource":"*","Condition":{"StringEqualsIfExists":{"ec2:InstanceType":"t3.micro"}}},
            {"Sid":"Null","Effect":"Allow","Action":"ec2:E","Resource":"*","Condition":{"Null":{"aws:TokenIssueTime":"true"}}},
            {"Sid":"Num","Effect":"Allow","Action":"s3:F","Resource":"*","Condition":{"NumericLessThanEquals":{"s3:max-keys":"10"},"Bool":{"aws:SecureTransport":"true"}}},
            {"Sid":"Arn","Effect":"Allow","Action":"iam:PassRole","Resource":"*","Condition":{"ArnLike":{"iam:AssociatedResourceArn":"arn:aws:ec2:*:111122223333:instance/*"}}},
            {"Sid":"Neg","Effect":"Allow","Action":"s3:G","Resource":"*","Condition":{"StringNotEquals":{"aws:RequestedRegion":"us-east-1"}}}
        ]}"#);
        let ids = [("p", &p)];
        let c = |pairs: &[(&str, &[&str])]| {
            pairs
                .iter()
                .fold(RequestContext::complete(), |c, (k, v)| c.with(k, v))
        };
        assert_eq!(
            ask(
                "ec2:A",
                "*",
                &c(&[("aws:SourceIp", &["203.0.113.9"])]),
                &ids,
                None,
                None
            ),
            Answer::Allow
        );
        assert_eq!(
            ask(
                "ec2:A",
                "*",
                &c(&[("aws:SourceIp", &["2001:db8::1"])]),
                &ids,
                None,
                None
            ),
            Answer::Allow
        );
        assert_eq!(
            ask(
                "ec2:A",
                "*",
                &c(&[("aws:SourceIp", &["198.51.100.1"])]),
                &ids,
                None,
                None
            ),
            Answer::ImplicitDeny
        );
        assert_eq!(
            ask(
                "ec2:B",
                "*",
                &c(&[("aws:TagKeys", &["env"])]),
                &ids,
                None,
                None
            ),
            Answer::Allow
        );
        assert_eq!(
            ask(
                "ec2:B",
                "*",
                &c(&[("aws:TagKeys", &["env", "owner"])]),
                &ids,
                None,
                None
            ),
            Answer::ImplicitDeny
        );
        assert_eq!(
            ask("ec2:B", "*", &c(&[]), &ids, None, None),
            Answer::Allow,
            "ForAllValues holds vacuously"
        );
        assert_eq!(
            ask("ec2:C", "*", &c(&[]), &ids, None, None),
            Answer::ImplicitDeny
        );
        assert_eq!(
            ask(
                "ec2:C",
                "*",
                &c(&[("aws:TagKeys", &["x", "env"])]),
                &ids,
                None,
                None
            ),
            Answer::Allow
        );
        assert_eq!(ask("ec2:D", "*", &c(&[]), &ids, None, None), Answer::Allow);
        assert_eq!(
            ask(
                "ec2:D",
                "*",
                &c(&[("ec2:InstanceType", &["m5.large"])]),
                &ids,
                None,
                None
            ),
            Answer::ImplicitDeny
        );
        assert_eq!(ask("ec2:E", "*", &c(&[]), &ids, None, None), Answer::Allow);
        assert_eq!(
            ask(
                "ec2:E",
                "*",
                &c(&[("aws:TokenIssueTime", &["2026-01-01T00:00:00Z"])]),
                &ids,
                None,
                None
            ),
            Answer::ImplicitDeny
        );
        assert_eq!(
            ask(
                "s3:F",
                "*",
                &c(&[("s3:max-keys", &["7"]), ("aws:SecureTransport", &["TRUE"])]),
                &ids,
                None,
                None
            ),
            Answer::Allow
        );
        assert_eq!(
            ask(
                "s3:F",
                "*",
                &c(&[("s3:max-keys", &["70"]), ("aws:SecureTransport", &["true"])]),
                &ids,
                None,
                None
            ),
            Answer::ImplicitDeny
        );
        assert_eq!(
            ask(
                "iam:PassRole",
                "*",
                &c(&[(
                    "iam:AssociatedResourceArn",
                    &["arn:aws:ec2:eu-west-1:111122223333:instance/i-1"]
                )]),
                &ids,
                None,
                None
            ),
            Answer::Allow
        );
        assert_eq!(
            ask("s3:G", "*", &c(&[]), &ids, None, None),
            Answer::Allow,
            "negated operators hold when the key is absent"
        );
        assert_eq!(
            ask(
                "s3:G",
                "*",
                &c(&[("aws:RequestedRegion", &["us-east-1"])]),
                &ids,
                None,
                None
            ),
            Answer::ImplicitDeny
        );
    }

    #[test]
    fn unknown_operators_make_the_answer_unknown_never_allow_or_deny() {
        let p = doc(
            r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringFuzzy":{"k":"v"}}}]}"#,
        );
        assert_eq!(
            ask(
                "s3:GetObject",
                "*",
                &RequestContext::complete(),
                &[("p", &p)],
                None,
                None
            ),
            Answer::Unknown
        );
        let allow = doc(r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#);
        let d = doc(
            r#"{"Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"StringFuzzy":{"k":"v"}}}]}"#,
        );
        let e = evaluate(
            &Request {
                principal_arn: "arn:aws:iam::1:user/b",
                principal_account: "1",
                action: "s3:GetObject",
                resource: "*",
                context: &RequestContext::complete(),
            },
            &Policies {
                identity: &[("allow", &allow), ("d", &d)],
                boundary: None,
                resource: None,
            },
        );
        assert_eq!(e.answer, Answer::Unknown);
        assert!(
            e.reasons
                .iter()
                .any(|r| r.contains("unknown condition operator `StringFuzzy`")),
            "{:?}",
            e.reasons
        );
    }
}
