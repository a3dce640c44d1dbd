//! AWS's policy evaluation logic ("Policy evaluation logic", "How AWS enforcement code logic
//! evaluates requests to allow or deny access", "Policy evaluation for requests within a single
//! account" and "Cross-account policy evaluation logic", IAM user guide), for one request:
//!
//! 1. AWS's fixed rules first (`aws_rules`): `sts:GetCallerIdentity` is always allowed; IAM refuses
//!    writes to service-managed roles and AWS managed policies.
//! 2. An explicit `Deny` in any applicable policy wins: identity policies, the permissions boundary,
//!    session policies, the resource policy, SCPs and RCPs.
//! 3. RCPs (for the resource's account) and SCPs (for the principal's account) must allow at every
//!    level from the root through the OUs to the account; they never grant.
//! 4. Then an `Allow` must come from a permitted route:
//!    - identity policies, capped by the permissions boundary and the session policy;
//!    - or, within one account, a resource policy that names the principal's own ARN (user,
//!      assumed-role session) or `*` (not capped), or its role ARN (capped by the boundary and the
//!      session policy). A resource policy that names the *account* delegates to the account's
//!      identity policies and allows nobody by itself.
//!    - For a resource whose own policy must allow (a role's trust policy for `sts:AssumeRole*`, a
//!      KMS key policy: "IAM role trust policies and KMS key policies are exceptions to this logic,
//!      because they must explicitly allow access for principals"), only the resource policy's
//!      grants, or its delegation to the account together with an identity-policy Allow.
//!    - Across accounts both sides must allow: the identity side as above and the resource policy
//!      (naming the principal, its role or its account).
//! 5. Otherwise the request is implicitly denied.
//!
//! Actions match case-insensitively, resources case-sensitively, both with `*` and `?`. Conditions
//! are evaluated against a request context with the operators of "IAM JSON policy elements:
//! Condition operators", including `ForAnyValue:`, `ForAllValues:` and `…IfExists`; policy
//! variables (`${aws:username}`) are substituted from it. How a `Principal` names the caller is
//! `principal_match`'s business.
//!
//! Fail-safe choice, made here once: an operator Warden does not know, a condition key whose value
//! the context cannot tell, or a `NotPrincipal` AWS documents as uncertain makes the answer
//! `Unknown` — never `Allow`, never `Deny`. Callers must handle `Unknown` explicitly (the planner
//! treats it as "a person must look").
//!
//! Every answer says which statements decided it, as human `reasons` and as structured `cited`
//! statements (policy, statement index, `Sid`, effect), so findings can cite them.

use crate::aws_rules::{fixed_rule, AwsRule};
use crate::policy::{Effect, PolicyDocument, Scope, Statement};
use crate::principal_match::{Caller, Grant, Shape};
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

/// The context `Request::default()` points at: nothing known.
static UNKNOWN_CONTEXT: RequestContext = RequestContext {
    values: BTreeMap::new(),
    complete: false,
};

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

/// Whether the resource's own policy must allow the request, whatever the identity policies say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResourcePolicyRule {
    /// An Allow in an identity policy or in the resource policy is enough (most resources).
    #[default]
    EitherMayAllow,
    /// The resource policy must allow: a role's trust policy for `sts:AssumeRole*`, a KMS key
    /// policy for `kms:*` on the key ("Policy evaluation for requests within a single account").
    MustAllow,
}

impl ResourcePolicyRule {
    /// The rule AWS applies to `action` on `resource`: `MustAllow` for `sts:AssumeRole*` on a role
    /// and for `kms:*` on a KMS key, `EitherMayAllow` otherwise.
    pub fn for_request(action: &str, resource: &str) -> Self {
        let (service, name) = action.split_once(':').unwrap_or(("", ""));
        let arn = crate::arn::Arn::parse(resource);
        let on = |svc: &str, prefix: &str| {
            arn.is_some_and(|a| a.service == svc && a.resource.starts_with(prefix))
        };
        let assume = service.eq_ignore_ascii_case("sts")
            && name
                .get(..10)
                .is_some_and(|p| p.eq_ignore_ascii_case("AssumeRole"));
        if (assume && on("iam", "role/"))
            || (service.eq_ignore_ascii_case("kms") && on("kms", "key/"))
        {
            ResourcePolicyRule::MustAllow
        } else {
            ResourcePolicyRule::EitherMayAllow
        }
    }
}

/// One question: may `principal` do `action` on `resource`?
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The principal's ARN (user, role, assumed-role session or `…:root`), as resource policies
    /// name it. A role ARN asks what the role itself may do (any of its sessions).
    pub principal_arn: &'a str,
    pub principal_account: &'a str,
    pub action: &'a str,
    pub resource: &'a str,
    pub context: &'a RequestContext,
    /// The account that owns the resource; `None`: the principal's account (a request within one
    /// account). When it differs, the request is cross-account: both sides must allow.
    pub resource_account: Option<&'a str>,
    /// The role ARN (with its path) behind an assumed-role session `principal_arn`, when known:
    /// it tells a service-linked role's session (SCPs and RCPs do not apply to it). A resource
    /// policy's role ARN matches the session's role by account and name either way.
    pub session_issuer: Option<&'a str>,
    /// Whether the resource policy must allow (see `ResourcePolicyRule::for_request`).
    pub resource_policy_rule: ResourcePolicyRule,
}

impl Default for Request<'_> {
    /// An empty request in an unknown context, for `Request { .., ..Default::default() }`.
    fn default() -> Self {
        Request {
            principal_arn: "",
            principal_account: "",
            action: "",
            resource: "",
            context: &UNKNOWN_CONTEXT,
            resource_account: None,
            session_issuer: None,
            resource_policy_rule: ResourcePolicyRule::EitherMayAllow,
        }
    }
}

/// A policy with the name reasons and citations give it.
pub type NamedPolicy<'a> = (&'a str, &'a PolicyDocument);

/// The organization policies (SCPs or RCPs) on the path from the organization's root to one
/// account ("Service control policies", "Resource control policies", AWS Organizations user guide).
#[derive(Debug, Clone, Copy, Default)]
pub struct OrgPolicies<'a> {
    /// Root → OUs → account: the policies attached at each level. Every level must allow; a Deny at
    /// any level denies. An empty list has nothing to check.
    pub levels: &'a [&'a [NamedPolicy<'a>]],
    /// The organization's management account: neither SCPs nor RCPs apply to it.
    pub management_account: Option<&'a str>,
}

/// The policies that apply to a principal and a resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct Policies<'a> {
    /// Identity policies (inline, attached, the groups'), each with a name for reasons.
    pub identity: &'a [NamedPolicy<'a>],
    pub boundary: Option<&'a PolicyDocument>,
    /// The resource's policy (bucket policy, trust policy, key policy), if any.
    pub resource: Option<NamedPolicy<'a>>,
    /// The permissions boundary's name, for reasons and citations.
    pub boundary_name: Option<&'a str>,
    /// The session's policies (passed to `AssumeRole*` or `GetFederationToken`), if any: they cap
    /// the identity policies like a boundary, for this session ("Session policies", IAM user guide).
    pub session: Option<&'a [NamedPolicy<'a>]>,
    /// SCPs on the path to the principal's account (they apply to its principals).
    pub scps: Option<OrgPolicies<'a>>,
    /// RCPs on the path to the resource's account (they apply to its resources).
    pub rcps: Option<OrgPolicies<'a>>,
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

/// Which kind of policy a cited statement is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PolicyKind {
    Identity,
    Boundary,
    Session,
    Resource,
    Scp,
    Rcp,
}

impl PolicyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyKind::Identity => "identity",
            PolicyKind::Boundary => "boundary",
            PolicyKind::Session => "session",
            PolicyKind::Resource => "resource",
            PolicyKind::Scp => "scp",
            PolicyKind::Rcp => "rcp",
        }
    }
}

/// One statement that decided (or could decide) an answer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cited {
    pub kind: PolicyKind,
    /// The policy's name as the caller gave it.
    pub policy: String,
    /// The statement's index in the policy.
    pub statement: usize,
    pub sid: Option<String>,
    pub effect: Effect,
}

/// The answer with its reasons (which statements decided, or why Warden cannot tell).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub answer: Answer,
    pub reasons: Vec<String>,
    /// The statements that decided: the Deny; or every Allow the answer needed (identity,
    /// boundary, session, resource, each SCP and RCP level); for an implicit deny the Allows that
    /// were capped; for `Unknown` the statements that may apply.
    pub cited: Vec<Cited>,
    /// The AWS fixed rule that decided, if one did (then no statement is cited).
    pub aws_rule: Option<AwsRule>,
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

/// One statement of one policy.
#[derive(Debug, Clone, Copy)]
struct Hit<'p> {
    kind: PolicyKind,
    name: &'p str,
    index: usize,
    st: &'p Statement,
}

/// Appends `n` in decimal (without the formatting machinery: statement indices are written for
/// every answer).
fn push_decimal(out: &mut String, n: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        if let Some(d) = digits.get_mut(i) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    for d in digits.iter().skip(i) {
        out.push(char::from(*d));
    }
}

impl Hit<'_> {
    fn label(&self) -> String {
        let mut out = String::with_capacity(48);
        self.write_label(&mut out);
        out
    }

    /// "`policy` statement `Sid`" (or its index), without a `format!` per part: labels are written
    /// for every answer, thousands of times a sweep.
    fn write_label(&self, out: &mut String) {
        let name = self.name;
        let quoted = |out: &mut String, prefix: &str| {
            out.push_str(prefix);
            out.push('`');
            out.push_str(name);
            out.push('`');
        };
        match self.kind {
            PolicyKind::Identity | PolicyKind::Resource => quoted(out, ""),
            PolicyKind::Boundary if name.is_empty() => out.push_str("the permissions boundary"),
            PolicyKind::Boundary => quoted(out, "the permissions boundary "),
            PolicyKind::Session => quoted(out, "the session policy "),
            PolicyKind::Scp => quoted(out, "SCP "),
            PolicyKind::Rcp => quoted(out, "RCP "),
        }
        out.push_str(" statement ");
        match self.st.sid.as_deref() {
            Some(sid) => {
                out.push('`');
                out.push_str(sid);
                out.push('`');
            }
            None => push_decimal(out, self.index),
        }
    }

    /// "<label> may <what>: <why>", in one allocation.
    fn may(&self, what: &str, why: &str) -> String {
        let mut out = String::with_capacity(64 + why.len());
        self.write_label(&mut out);
        out.push_str(" may ");
        out.push_str(what);
        out.push_str(": ");
        out.push_str(why);
        out
    }

    fn cited(&self) -> Cited {
        Cited {
            kind: self.kind,
            policy: if self.name.is_empty() && self.kind == PolicyKind::Boundary {
                "permissions boundary".to_owned()
            } else {
                self.name.to_owned()
            },
            statement: self.index,
            sid: self.st.sid.clone(),
            effect: self.st.effect,
        }
    }
}

/// How far one kind of Allow got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum St {
    No,
    Maybe,
    Yes,
}

/// The first applicable Allow of one kind, and the first that may apply.
#[derive(Debug, Clone, Default)]
struct Allows<'p> {
    yes: Option<Hit<'p>>,
    maybe: Option<(Hit<'p>, String)>,
}

impl<'p> Allows<'p> {
    fn st(&self) -> St {
        if self.yes.is_some() {
            St::Yes
        } else if self.maybe.is_some() {
            St::Maybe
        } else {
            St::No
        }
    }

    fn note(&mut self, hit: Hit<'p>, tri: Tri) {
        match tri {
            Tri::Yes => {
                self.yes.get_or_insert(hit);
            }
            Tri::Unknown(why) => {
                self.maybe.get_or_insert((hit, why));
            }
            Tri::No => {}
        }
    }

    fn maybe_text(&self) -> Option<String> {
        self.maybe.as_ref().map(|(h, why)| h.may("Allow", why))
    }
}

/// The first applicable Deny, and the first that may apply.
#[derive(Debug, Default)]
struct Denies<'p> {
    maybe: Option<(Hit<'p>, String)>,
}

/// Whether a statement's `Principal` is read (resource policies, RCPs) or not (identity policies,
/// boundaries, session policies, SCPs: the principal is the one they are attached to).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Identity,
    Resource,
}

/// What one evaluation knows of the caller.
struct Facts<'r> {
    caller: Caller<'r>,
    has_boundary: bool,
}

/// Scans one policy: records its Allows in `allows` (by grant for resource policies) and returns
/// the first explicit Deny that applies.
fn scan<'p>(
    kind: PolicyKind,
    (name, doc): NamedPolicy<'p>,
    mode: Mode,
    req: &Request<'_>,
    facts: &Facts<'_>,
    denies: &mut Denies<'p>,
    mut allows: impl FnMut(Grant, Hit<'p>, Tri),
) -> Option<Hit<'p>> {
    for (index, st) in doc.statements.iter().enumerate() {
        let hit = Hit {
            kind,
            name,
            index,
            st,
        };
        let (tri, grant) = statement_applies(st, req, facts, mode);
        match (st.effect, tri) {
            (_, Tri::No) => {}
            (Effect::Deny, Tri::Yes) => return Some(hit),
            (Effect::Deny, Tri::Unknown(why)) => {
                denies.maybe.get_or_insert((hit, why));
            }
            (Effect::Allow, tri) => allows(grant, hit, tri),
        }
    }
    None
}

/// Services whose resources RCPs apply to ("Resource control policies", AWS Organizations user
/// guide: "List of AWS services that support RCPs"). Requests to other services are not capped.
const RCP_SERVICES: [&str; 10] = [
    "s3",
    "sts",
    "kms",
    "sqs",
    "secretsmanager",
    "cognito-identity",
    "logs",
    "dynamodb",
    "ecr",
    "aoss",
];

/// Scans organization policies level by level; returns the first explicit Deny, and fills
/// `levels` with each level's Allows.
fn scan_org<'p>(
    kind: PolicyKind,
    org: &OrgPolicies<'p>,
    req: &Request<'_>,
    facts: &Facts<'_>,
    denies: &mut Denies<'p>,
    levels: &mut Vec<Allows<'p>>,
) -> Option<Hit<'p>> {
    let mode = if kind == PolicyKind::Rcp {
        Mode::Resource
    } else {
        Mode::Identity
    };
    for level in org.levels {
        let mut allows = Allows::default();
        for p in level.iter() {
            if let Some(d) = scan(kind, *p, mode, req, facts, denies, |_, h, t| {
                allows.note(h, t)
            }) {
                return Some(d);
            }
        }
        levels.push(allows);
    }
    None
}

/// What an answer needs, one part at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    Identity,
    Boundary,
    Session,
    Resource(Grant),
}

/// Everything one evaluation found.
struct Found<'p> {
    identity: Allows<'p>,
    root: bool,
    boundary: Option<Allows<'p>>,
    session: Option<Allows<'p>>,
    /// By grant: `Grant::Delegated`, `Grant::Capped`, `Grant::Direct`.
    resource: [Allows<'p>; 3],
    scps: Vec<Allows<'p>>,
    rcps: Vec<Allows<'p>>,
}

fn grant_index(g: Grant) -> usize {
    match g {
        Grant::Delegated => 0,
        Grant::Capped => 1,
        Grant::Direct => 2,
    }
}

impl<'p> Found<'p> {
    fn allows(&self, need: Need) -> Option<&Allows<'p>> {
        match need {
            Need::Identity => Some(&self.identity),
            Need::Boundary => self.boundary.as_ref(),
            Need::Session => self.session.as_ref(),
            Need::Resource(g) => self.resource.get(grant_index(g)),
        }
    }

    fn st(&self, need: Need) -> St {
        match need {
            Need::Identity if self.root => St::Yes,
            // No boundary or no session policy: nothing caps.
            Need::Boundary | Need::Session => self.allows(need).map_or(St::Yes, Allows::st),
            _ => self.allows(need).map_or(St::No, Allows::st),
        }
    }

    fn route_st(&self, route: &[Need]) -> St {
        route.iter().map(|n| self.st(*n)).min().unwrap_or(St::Yes)
    }

    fn gates_st(&self) -> St {
        self.scps
            .iter()
            .chain(&self.rcps)
            .map(Allows::st)
            .min()
            .unwrap_or(St::Yes)
    }
}

const ID: [Need; 3] = [Need::Identity, Need::Boundary, Need::Session];
const DIRECT: [Need; 1] = [Need::Resource(Grant::Direct)];
const CAPPED: [Need; 3] = [Need::Resource(Grant::Capped), Need::Boundary, Need::Session];
const DELEGATED_AND_ID: [Need; 4] = [
    Need::Resource(Grant::Delegated),
    Need::Identity,
    Need::Boundary,
    Need::Session,
];
const CROSS_DIRECT: [Need; 4] = [
    Need::Identity,
    Need::Boundary,
    Need::Session,
    Need::Resource(Grant::Direct),
];
const CROSS_CAPPED: [Need; 4] = [
    Need::Identity,
    Need::Boundary,
    Need::Session,
    Need::Resource(Grant::Capped),
];

/// The routes by which an Allow can come, in order of preference (the first that holds is cited).
fn routes(cross: bool, must: bool) -> [&'static [Need]; 3] {
    match (cross, must) {
        (true, _) => [&CROSS_DIRECT, &CROSS_CAPPED, &DELEGATED_AND_ID],
        (false, true) => [&DIRECT, &CAPPED, &DELEGATED_AND_ID],
        (false, false) => [&ID, &DIRECT, &CAPPED],
    }
}

fn fixed(rule: AwsRule) -> Evaluation {
    Evaluation {
        answer: if rule.allows() {
            Answer::Allow
        } else {
            Answer::ExplicitDeny
        },
        reasons: vec![rule.reason().to_owned()],
        cited: Vec::new(),
        aws_rule: Some(rule),
    }
}

fn explicit_deny(hit: Hit<'_>, facts: &Facts<'_>) -> Evaluation {
    let mut reason = format!("explicit Deny in {}", hit.label());
    if facts.has_boundary
        && hit.kind == PolicyKind::Resource
        && matches!(hit.st.principal, Some(Scope::Not(_)))
    {
        reason.push_str(": `NotPrincipal` with `Deny` always denies a principal that has a permissions boundary, whatever it lists (\"AWS JSON policy elements: NotPrincipal\")");
    }
    Evaluation {
        answer: Answer::ExplicitDeny,
        reasons: vec![reason],
        cited: vec![hit.cited()],
        aws_rule: None,
    }
}

/// Evaluates one request against the policies.
pub fn evaluate(req: &Request<'_>, policies: &Policies<'_>) -> Evaluation {
    let caller = || Caller::new(req.principal_arn, req.principal_account, req.session_issuer);
    if let Some(rule) = fixed_rule(req.action, req.resource, || caller().is_service_linked()) {
        return fixed(rule);
    }
    // The caller's shape matters to resource policies, RCPs, SCPs (service-linked roles are
    // exempt) and the root user; reading it costs an ARN parse, so only then.
    let caller = if policies.resource.is_some()
        || policies.scps.is_some()
        || policies.rcps.is_some()
        || req.principal_arn.ends_with(":root")
    {
        caller()
    } else {
        Caller::opaque(req.principal_arn, req.principal_account, req.session_issuer)
    };
    let service_linked = caller.is_service_linked();
    let facts = Facts {
        caller,
        has_boundary: policies.boundary.is_some(),
    };
    let mut denies = Denies::default();
    let mut found = Found {
        identity: Allows::default(),
        root: caller.shape == Shape::Root,
        boundary: None,
        session: None,
        resource: Default::default(),
        scps: Vec::new(),
        rcps: Vec::new(),
    };
    for p in policies.identity {
        let allows = &mut found.identity;
        if let Some(d) = scan(
            PolicyKind::Identity,
            *p,
            Mode::Identity,
            req,
            &facts,
            &mut denies,
            |_, h, t| allows.note(h, t),
        ) {
            return explicit_deny(d, &facts);
        }
    }
    if let Some(p) = policies.resource {
        let by_grant = &mut found.resource;
        if let Some(d) = scan(
            PolicyKind::Resource,
            p,
            Mode::Resource,
            req,
            &facts,
            &mut denies,
            |g, h, t| {
                if let Some(a) = by_grant.get_mut(grant_index(g)) {
                    a.note(h, t)
                }
            },
        ) {
            return explicit_deny(d, &facts);
        }
    }
    if let Some(b) = policies.boundary {
        let allows = found.boundary.insert(Allows::default());
        let name = policies.boundary_name.unwrap_or("");
        if let Some(d) = scan(
            PolicyKind::Boundary,
            (name, b),
            Mode::Identity,
            req,
            &facts,
            &mut denies,
            |_, h, t| allows.note(h, t),
        ) {
            return explicit_deny(d, &facts);
        }
    }
    if let Some(session) = policies.session {
        let allows = found.session.insert(Allows::default());
        for p in session {
            if let Some(d) = scan(
                PolicyKind::Session,
                *p,
                Mode::Identity,
                req,
                &facts,
                &mut denies,
                |_, h, t| allows.note(h, t),
            ) {
                return explicit_deny(d, &facts);
            }
        }
    }
    let resource_account = req.resource_account.unwrap_or(req.principal_account);
    // "Service control policies": SCPs do not affect the management account's principals, nor
    // service-linked roles.
    if let Some(scps) = policies
        .scps
        .filter(|o| o.management_account != Some(req.principal_account) && !service_linked)
    {
        if let Some(d) = scan_org(
            PolicyKind::Scp,
            &scps,
            req,
            &facts,
            &mut denies,
            &mut found.scps,
        ) {
            return explicit_deny(d, &facts);
        }
    }
    // "Resource control policies": RCPs do not affect the management account's resources, requests
    // by service-linked roles, nor services outside their list.
    let rcp_service = || {
        req.action
            .split_once(':')
            .is_some_and(|(s, _)| RCP_SERVICES.iter().any(|x| x.eq_ignore_ascii_case(s)))
    };
    if let Some(rcps) = policies.rcps.filter(|o| {
        o.management_account != Some(resource_account) && !service_linked && rcp_service()
    }) {
        if let Some(d) = scan_org(
            PolicyKind::Rcp,
            &rcps,
            req,
            &facts,
            &mut denies,
            &mut found.rcps,
        ) {
            return explicit_deny(d, &facts);
        }
    }
    let cross = resource_account != req.principal_account;
    let must = req.resource_policy_rule == ResourcePolicyRule::MustAllow;
    conclude(&found, denies, cross, must, policies.resource.is_some())
}

/// Chooses the route, then writes the answer with its reasons and citations.
fn conclude(
    found: &Found<'_>,
    denies: Denies<'_>,
    cross: bool,
    must: bool,
    has_resource_policy: bool,
) -> Evaluation {
    // The first route that got furthest: the one cited.
    let mut best: &[Need] = &ID;
    let mut top = None;
    // Without a resource policy only the identity route can hold (the common question).
    let all = routes(cross, must);
    let candidates: &[&[Need]] = if has_resource_policy || cross || must {
        &all
    } else {
        &[&ID]
    };
    for r in candidates.iter().copied() {
        let st = found.route_st(r);
        if top.is_none_or(|t| st > t) {
            (best, top) = (r, Some(st));
        }
        if st == St::Yes {
            break;
        }
    }
    let st = top.unwrap_or(St::No).min(found.gates_st());
    let mut cited = Vec::new();
    let mut reasons = Vec::new();
    let maybe_deny = denies
        .maybe
        .as_ref()
        .map(|(h, why)| (h, h.may("Deny", why)));
    match st {
        St::Yes => {
            for need in best {
                if let Some(hit) = found.allows(*need).and_then(|a| a.yes) {
                    cited.push(hit.cited());
                }
            }
            for level in found.scps.iter().chain(&found.rcps) {
                cited.extend(level.yes.map(|h| h.cited()));
            }
            let mut main = String::with_capacity(64);
            main.push_str("allowed by ");
            allowed_by(&mut main, found, best, cross);
            match maybe_deny {
                None => {
                    reasons.push(main);
                    Evaluation {
                        answer: Answer::Allow,
                        reasons,
                        cited,
                        aws_rule: None,
                    }
                }
                Some((h, deny)) => {
                    cited.push(h.cited());
                    main.push_str(", but ");
                    main.push_str(&deny);
                    reasons.push(main);
                    Evaluation {
                        answer: Answer::Unknown,
                        reasons,
                        cited,
                        aws_rule: None,
                    }
                }
            }
        }
        St::Maybe => {
            // The first part of the route (or gate) that may not hold says why.
            let parts = best.iter().filter_map(|n| {
                let a = found.allows(*n)?;
                (a.st() == St::Maybe).then_some((Some(*n), a))
            });
            let gates = found
                .scps
                .iter()
                .chain(&found.rcps)
                .filter(|a| a.st() == St::Maybe)
                .map(|a| (None, a));
            for (need, a) in parts.chain(gates) {
                if let (Some(text), Some((h, _))) = (a.maybe_text(), &a.maybe) {
                    cited.push(h.cited());
                    reasons.push(match need {
                        Some(Need::Boundary) => {
                            format!("the permissions boundary may not allow it: {text}")
                        }
                        Some(Need::Session) => {
                            format!("the session policy may not allow it: {text}")
                        }
                        _ => text,
                    });
                }
            }
            if let Some((h, deny)) = maybe_deny {
                cited.push(h.cited());
                reasons.push(deny);
            }
            Evaluation {
                answer: Answer::Unknown,
                reasons,
                cited,
                aws_rule: None,
            }
        }
        St::No => {
            reasons = why_not(found, cross, must, &mut cited);
            if let Some((h, deny)) = maybe_deny {
                cited.push(h.cited());
                reasons.push(deny);
            }
            Evaluation {
                answer: Answer::ImplicitDeny,
                reasons,
                cited,
                aws_rule: None,
            }
        }
    }
}

/// "`policy` statement 0" (and what else the route needed), for an Allow.
fn allowed_by(out: &mut String, found: &Found<'_>, route: &[Need], cross: bool) {
    let hit = |n: Need| found.allows(n).and_then(|a| a.yes);
    match route.first() {
        Some(Need::Identity) if found.root && hit(Need::Identity).is_none() => {
            out.push_str("the account root user's full access")
        }
        Some(n) => {
            if let Some(h) = hit(*n) {
                h.write_label(out)
            }
        }
        None => {}
    }
    match route.first() {
        Some(Need::Resource(Grant::Direct)) => out.push_str(", which names the principal"),
        Some(Need::Resource(Grant::Capped)) => out.push_str(match hit(Need::Resource(Grant::Capped)) {
            Some(h) if not_principal(&h) => {
                ", through `NotPrincipal` with `Allow` (which AWS does not support), read as a grant that does not name the principal"
            }
            _ => ", which names the principal's role",
        }),
        _ => {}
    }
    for n in route.iter().skip(1) {
        let Some(h) = hit(*n) else {
            continue;
        };
        out.push_str(match n {
            Need::Boundary | Need::Session => ", within ",
            Need::Resource(_) if cross => " and, across accounts, ",
            Need::Resource(_) | Need::Identity => " and ",
        });
        h.write_label(out);
        if *n == Need::Resource(Grant::Delegated) && !cross {
            out.push_str(", which names the account");
        }
    }
    if !found.scps.is_empty() {
        out.push_str(", within the SCPs at every level");
    }
    if !found.rcps.is_empty() {
        out.push_str(", within the RCPs at every level");
    }
}

fn not_principal(h: &Hit<'_>) -> bool {
    matches!(h.st.principal, Some(Scope::Not(_)))
}

/// Why no route allows: the Allows that were capped or not enough, and what was missing.
fn why_not(found: &Found<'_>, cross: bool, must: bool, cited: &mut Vec<Cited>) -> Vec<String> {
    let mut reasons = Vec::new();
    let yes = |n: Need| found.allows(n).and_then(|a| a.yes);
    let identity = yes(Need::Identity);
    let boundary = found.st(Need::Boundary);
    let session = found.st(Need::Session);
    let resource_any = [Grant::Direct, Grant::Capped, Grant::Delegated]
        .into_iter()
        .find_map(|g| yes(Need::Resource(g)));
    for (kind, doc, levels) in [
        ("SCP", "Service control policies", &found.scps),
        ("RCP", "Resource control policies", &found.rcps),
    ] {
        if let Some(i) = levels.iter().position(|a| a.st() == St::No) {
            reasons.push(format!(
                "no {kind} at level {i} (0 is the organization's root) allows it: every level from the root to the account must allow (\"{doc}\", AWS Organizations user guide)"
            ));
        }
    }
    // A route held: the gates above denied it.
    if routes(cross, must)
        .iter()
        .any(|r| found.route_st(r) == St::Yes)
    {
        for need in routes(cross, must)
            .iter()
            .find(|r| found.route_st(r) == St::Yes)
            .copied()
            .unwrap_or(&ID)
        {
            if let Some(h) = yes(*need) {
                cited.push(h.cited());
            }
        }
        return reasons;
    }
    if let Some(h) = identity {
        cited.push(h.cited());
        if boundary == St::No {
            reasons.push(format!(
                "{} allows, but the permissions boundary does not",
                h.label()
            ));
        } else if session == St::No {
            reasons.push(format!(
                "{} allows, but the session policy does not",
                h.label()
            ));
        }
    }
    if let Some(h) = yes(Need::Resource(Grant::Direct)) {
        cited.push(h.cited());
    }
    if let Some(h) = yes(Need::Resource(Grant::Capped)) {
        cited.push(h.cited());
        if !cross && (boundary == St::No || session == St::No) {
            let cap = if boundary == St::No {
                "the permissions boundary"
            } else {
                "the session policy"
            };
            reasons.push(if not_principal(&h) {
                format!(
                    "{} allows through `NotPrincipal` with `Allow` (which AWS does not support), but {cap} does not: a grant that does not name the principal is capped by it",
                    h.label()
                )
            } else {
                format!(
                    "{} allows the principal's role, but {cap} does not: a resource policy's grant to a role ARN is capped by it",
                    h.label()
                )
            });
        }
    }
    if let Some(h) = yes(Need::Resource(Grant::Delegated)) {
        cited.push(h.cited());
        if !cross && identity.is_none() && !found.root {
            reasons.push(format!(
                "{} names the principal's account: that delegates to the account's identity policies, and none allows it",
                h.label()
            ));
        }
    }
    if must && resource_any.is_none() {
        reasons.push(
            "the resource's own policy (a role trust policy or a KMS key policy) must allow it, and it does not".to_owned(),
        );
    }
    if cross {
        if resource_any.is_none() {
            reasons.push(
                "across accounts the resource's policy must allow it too, and it does not"
                    .to_owned(),
            );
        }
        if identity.is_none() && !found.root {
            reasons.push(
                "across accounts the principal's identity policies must allow it too, and none does"
                    .to_owned(),
            );
        }
    }
    if reasons.is_empty() {
        reasons.push("no statement allows it".to_owned());
    }
    reasons
}

fn statement_applies(
    st: &Statement,
    req: &Request<'_>,
    facts: &Facts<'_>,
    mode: Mode,
) -> (Tri, Grant) {
    let action = match &st.action {
        Scope::Only(a) => a
            .iter()
            .any(|p| wildcard::matches_ignore_ascii_case(p, req.action)),
        Scope::Not(a) => !a
            .iter()
            .any(|p| wildcard::matches_ignore_ascii_case(p, req.action)),
    };
    if !action {
        return (Tri::No, Grant::Direct);
    }
    let (principal, grant) = match mode {
        Mode::Identity => (Tri::Yes, Grant::Direct),
        Mode::Resource => match &st.principal {
            None => return (Tri::No, Grant::Direct),
            Some(Scope::Only(p)) => match facts.caller.named_by(p) {
                Some(g) => (Tri::Yes, g),
                None => return (Tri::No, Grant::Direct),
            },
            // "AWS JSON policy elements: NotPrincipal": with `Deny` it denies every principal that
            // has a permissions boundary, whatever it lists.
            Some(Scope::Not(_)) if st.effect == Effect::Deny && facts.has_boundary => {
                (Tri::Yes, Grant::Direct)
            }
            // With `Allow` (which that page calls unsupported) it is read as granting to all it does
            // not exempt, capped by the boundary and the session policy like a grant that does not
            // name the principal itself.
            Some(Scope::Not(p)) => match facts.caller.exempted_by(p) {
                Some(true) => return (Tri::No, Grant::Direct),
                Some(false) => (Tri::Yes, Grant::Capped),
                None => (
                    Tri::Unknown(format!(
                        "`NotPrincipal` lists `{}` but not all of its account and role, so AWS may still apply it (\"AWS JSON policy elements: NotPrincipal\")",
                        facts.caller.arn
                    )),
                    Grant::Capped,
                ),
            },
        },
    };
    let resource = match &st.resource {
        None => Tri::Yes,
        Some(Scope::Only(r)) => any_resource(r, req),
        Some(Scope::Not(r)) => match any_resource(r, req) {
            Tri::Yes => Tri::No,
            Tri::No => Tri::Yes,
            u => u,
        },
    };
    (
        principal
            .and(|| resource)
            .and(|| conditions_hold(st, req.context)),
        grant,
    )
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
            ..Default::default()
        };
        evaluate(
            &req,
            &Policies {
                identity,
                boundary,
                resource: resource_policy,
                ..Default::default()
            },
        )
        .answer
    }

    #[test]
    fn resource_policy_rule_for_trust_and_key_policies() {
        let must = ResourcePolicyRule::MustAllow;
        let either = ResourcePolicyRule::EitherMayAllow;
        let role = "arn:aws:iam::1:role/path/r";
        let key = "arn:aws:kms:eu-west-1:1:key/k";
        assert_eq!(
            ResourcePolicyRule::for_request("sts:AssumeRole", role),
            must
        );
        assert_eq!(
            ResourcePolicyRule::for_request("STS:assumerolewithwebidentity", role),
            must
        );
        assert_eq!(
            ResourcePolicyRule::for_request("sts:TagSession", role),
            either
        );
        assert_eq!(
            ResourcePolicyRule::for_request("sts:AssumeRole", "*"),
            either
        );
        assert_eq!(ResourcePolicyRule::for_request("kms:Decrypt", key), must);
        assert_eq!(
            ResourcePolicyRule::for_request("kms:Decrypt", "arn:aws:kms:eu-west-1:1:alias/a"),
            either
        );
        assert_eq!(
            ResourcePolicyRule::for_request("s3:GetObject", role),
            either
        );
        assert_eq!(Request::default().resource_policy_rule, either);
    }

    #[test]
    fn decimal_indices() {
        for n in [0, 7, 10, 99, 12345, usize::MAX] {
            let mut s = String::from("x");
            push_decimal(&mut s, n);
            assert_eq!(s, format!("x{n}"));
        }
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
                ..Default::default()
            },
            &Policies {
                identity: &[("allow", &allow), ("d", &d)],
                boundary: None,
                resource: None,
                ..Default::default()
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
