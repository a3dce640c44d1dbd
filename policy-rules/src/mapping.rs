//! From one CloudTrail event to the IAM action(s) it exercised and the resource ARN(s) it touched,
//! driven by the catalog: the action from the event name (or its alias), extra actions the call also
//! authorised, and each resource from the action's resource types' ARN templates, filled from
//! `requestParameters`, `responseElements` and `resources`, with the event's partition and account.
//! ("Actions, resources, and condition keys for AWS services", Service Authorization Reference.)
//!
//! IAM names in events often come without their path. Such a resource is kept as "this name at any
//! path": it covers `user/bob` and `user/<any path>/bob`, and never another name.
//!
//! This file owns derivation only; an event it cannot map is `Unmapped` with a reason, never a guess.

use crate::arn::{partition_for_region, Arn};
use crate::borrowed_json::Json;
use crate::caller::{Caller, CallerKind};
use crate::catalog::{AccessLevels, ActionInfo, Catalog, TemplatePart};
use crate::event::Event;
use crate::wildcard;

/// A resource an event touched.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Resource {
    /// The ARN; when the path is unknown, the ARN as if the path were `/`.
    pub arn: String,
    /// When the path is unknown: the byte offset in `arn` where the name starts, so that the resource
    /// stands for `arn[..at] + <any path> + arn[at..]`.
    pub any_path_at: Option<usize>,
}

/// Whether a rule's ARN pattern matches a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    Yes,
    No,
    /// The path is unknown and the answer depends on it.
    Unknown,
}

impl Resource {
    pub fn exact(arn: impl Into<String>) -> Self {
        Resource {
            arn: arn.into(),
            any_path_at: None,
        }
    }

    /// The ARN patterns that cover exactly this resource: the ARN itself, and when the path is
    /// unknown also `…/*/name` (names are unique in an account regardless of path; IAM user guide,
    /// "IAM identifiers"). The ARN's own `*`, `?` and `$` (an S3 key may hold them) are written as
    /// IAM's escapes `${*}`, `${?}`, `${$}`, so a pattern never covers more than the resource.
    /// `*` alone (an action that applies to no specific resource) stays `*`.
    pub fn patterns(&self) -> Vec<String> {
        if self.arn == "*" && self.any_path_at.is_none() {
            return vec![self.arn.clone()];
        }
        let escape = wildcard::escape_literal;
        match self
            .any_path_at
            .and_then(|at| Some((self.arn.get(..at)?, self.arn.get(at..)?)))
        {
            Some((prefix, name)) => {
                let mut any_path = String::with_capacity(self.arn.len() + 2);
                wildcard::push_escaped(&mut any_path, prefix);
                any_path.push_str("*/");
                wildcard::push_escaped(&mut any_path, name);
                vec![escape(&self.arn), any_path]
            }
            None => vec![escape(&self.arn)],
        }
    }

    /// Whether this resource covers the concrete ARN `arn`.
    pub fn covers(&self, arn: &str) -> bool {
        match self
            .any_path_at
            .and_then(|at| Some((self.arn.get(..at)?, self.arn.get(at..)?)))
        {
            Some((prefix, name)) => {
                arn.strip_prefix(prefix)
                    .and_then(|rest| rest.strip_suffix(name))
                    .is_some_and(|path| {
                        path.is_empty() || (path.ends_with('/') && !path.starts_with('/'))
                    })
                    && !wildcard::has_wildcard(arn)
            }
            None => self.arn == arn,
        }
    }

    /// Whether an ARN pattern (with `*` and `?`) matches this resource.
    pub fn matched_by(&self, pattern: &str) -> Match {
        let Some((prefix, name)) = self
            .any_path_at
            .and_then(|at| Some((self.arn.get(..at)?, self.arn.get(at..)?)))
        else {
            return if wildcard::matches(pattern, &self.arn) {
                Match::Yes
            } else {
                Match::No
            };
        };
        let at_root = wildcard::matches(pattern, &self.arn);
        // Only a pattern of the same partition, service, account and resource type can match at all.
        let same_kind = match (Arn::parse(pattern), Arn::parse(&self.arn)) {
            (Some(p), Some(r)) => {
                let kind = r.resource.split('/').next().unwrap_or("");
                wildcard::matches(p.partition, r.partition)
                    && wildcard::matches(p.service, r.service)
                    && wildcard::matches(p.region, r.region)
                    && wildcard::matches(p.account, r.account)
                    && (p.resource.starts_with('*')
                        || p.resource
                            .strip_prefix(kind)
                            .is_some_and(|x| x.starts_with('/')))
            }
            _ => pattern == "*",
        };
        if !same_kind && !at_root {
            return Match::No;
        }
        // A path segment no real path contains stands for "some other path".
        let elsewhere = wildcard::matches(pattern, &format!("{prefix}\u{1}/{name}"));
        if at_root && elsewhere {
            return Match::Yes;
        }
        // If the pattern's last segment does not match the name, only a path that itself spells the
        // pattern could match (`role/warden-*` vs `role/warden-x/other`). Rules name resources by
        // name, so Warden reads that as no match: the documented limit of path-less events.
        let last = pattern.rsplit('/').next().unwrap_or(pattern);
        if !at_root && !elsewhere && !wildcard::matches(last, name) {
            return Match::No;
        }
        Match::Unknown
    }
}

/// One action an event exercised, with the resources it touched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedAction {
    /// `service:Action`.
    pub action: String,
    pub access: AccessLevels,
    /// Empty when the resource could not be derived (see `unresolved`).
    pub resources: Vec<Resource>,
    /// Why the resource could not be derived, when it could not.
    pub unresolved: Option<String>,
    /// For an `iam:PassRole` whose call names an instance profile and not a role: the profile (its
    /// name at any path when the event gives only the name). The role it holds is not in the
    /// event; `passed_roles::resolve` fills it in from the account model where it can.
    pub passed_profile: Option<Resource>,
}

/// What the catalog makes of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mapping {
    Mapped(Vec<MappedAction>),
    Unmapped(String),
}

impl Mapping {
    pub fn actions(&self) -> &[MappedAction] {
        match self {
            Mapping::Mapped(a) => a,
            Mapping::Unmapped(_) => &[],
        }
    }

    /// Every resource pattern of every action, sorted, without duplicates (what outputs show).
    pub fn resource_patterns(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .actions()
            .iter()
            .flat_map(|a| a.resources.iter().flat_map(Resource::patterns))
            .collect();
        all.sort();
        all.dedup();
        all
    }
}

/// Everything Warden derives from one event before deciding: the caller and the mapping.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub caller: Caller,
    pub mapping: Mapping,
}

/// Classifies the caller and maps the event.
pub fn analyse(event: &Event<'_>, catalog: &Catalog) -> Analysis {
    let caller = crate::caller::classify(event);
    let mapping = map_event(event, &caller, catalog);
    Analysis { caller, mapping }
}

struct Context<'e> {
    partition: &'e str,
    region: &'e str,
    account: Option<&'e str>,
    params: Option<Json<'e>>,
    response: Option<Json<'e>>,
    resources: Option<Json<'e>>,
    caller: &'e Caller,
}

/// Why the catalog cannot map an event, or `None` when it can (its service and action are known).
pub fn unmapped_reason(event: &Event<'_>, catalog: &Catalog) -> Option<String> {
    let source = event.source();
    let Some(prefix) = catalog.service_for_source(source) else {
        return Some(format!(
            "the catalog has no service for event source `{source}`"
        ));
    };
    let name = event.name();
    if catalog.actions_for_event(prefix, name).is_empty() {
        return Some(format!("the catalog has no action for `{prefix}:{name}`"));
    }
    None
}

/// Maps an event to its actions and resources.
pub fn map_event(event: &Event<'_>, caller: &Caller, catalog: &Catalog) -> Mapping {
    // What `unmapped_reason` checks, with the catalog asked once.
    let name = event.name();
    let Some(prefix) = catalog.service_for_source(event.source()) else {
        return Mapping::Unmapped(unmapped_reason(event, catalog).unwrap_or_default());
    };
    let infos = catalog.actions_for_event(prefix, name);
    if infos.is_empty() {
        return Mapping::Unmapped(unmapped_reason(event, catalog).unwrap_or_default());
    }
    let region = event.record.aws_region.as_deref().unwrap_or("");
    let partition = caller
        .arn
        .as_deref()
        .and_then(Arn::parse)
        .map_or_else(|| partition_for_region(region), |a| a.partition);
    // Read as `serde_json::Value` would read them, strings borrowed from the event.
    fn parse(raw: Option<crate::event::RawJson<'_>>) -> Option<Json<'_>> {
        raw.and_then(|r| Json::parse(r.get()))
    }
    let ctx = Context {
        partition,
        region,
        account: event.account(),
        params: parse(event.record.request_parameters),
        response: parse(event.record.response_elements),
        resources: parse(event.record.resources),
        caller,
    };
    let mut actions: Vec<MappedAction> = infos
        .iter()
        .map(|info| map_action(catalog, prefix, info, &ctx))
        .collect();
    // A denied call may carry no request parameters; AWS's error message still names the resource.
    if let Some((denied, named)) = event.record.error_message.as_deref().and_then(denial) {
        for m in actions
            .iter_mut()
            .filter(|m| m.unresolved.is_some() && m.action.eq_ignore_ascii_case(denied))
        {
            if let Some(r) = resource_from_denial(catalog, &m.action, named, &ctx) {
                m.resources = vec![r];
                m.unresolved = None;
            }
        }
    }
    for extra in catalog.extras_for_event(prefix, name) {
        if !present(ctx.params.as_ref(), &extra.when) {
            continue;
        }
        let Some(info) = catalog.action(&extra.action) else {
            continue;
        };
        let mut mapped = MappedAction {
            action: info.name.clone(),
            access: info.access,
            resources: Vec::new(),
            unresolved: None,
            passed_profile: passed_profile(&extra.resource, &ctx),
        };
        match extra_resource(&extra.resource, &ctx, actions.first()) {
            // The roles of a list (a Data Pipeline definition's) are passed one by one, as the
            // roles of separate parameters are: a rule judges, and a Deny names, each on its own.
            Ok(r) if extra.resource.contains('[') => {
                actions.extend(r.into_iter().map(|one| MappedAction {
                    resources: vec![one],
                    ..mapped.clone()
                }));
                continue;
            }
            Ok(r) => mapped.resources = r,
            Err(why) => mapped.unresolved = Some(why),
        }
        actions.push(mapped);
    }
    if prefix == "s3" && name.eq_ignore_ascii_case("DeleteObjects") {
        delete_objects(catalog, &mut actions, &ctx);
    }
    actions.dedup_by(|a, b| a.action == b.action && a.resources == b.resources);
    Mapping::Mapped(actions)
}

/// `DeleteObjects` names its objects in the request body, not in a parameter the ARN template
/// reads: one `s3:DeleteObject` resource per `delete.Object[].Key` (an array, or one object as XML
/// turned into JSON gives it), plus `s3:DeleteObjectVersion` for the entries with a `VersionId`
/// ("DeleteObjects", S3 API reference). CloudTrail usually logs no keys at all for this call
/// (`"delete": ""`): the objects are then unknown, and the action unresolved, never the bucket's
/// every object.
fn delete_objects(catalog: &Catalog, actions: &mut Vec<MappedAction>, ctx: &Context<'_>) {
    let bucket = lookup(ctx.params.as_ref(), "bucketName")
        .and_then(Json::as_str)
        .filter(|b| !b.is_empty());
    let entries: Vec<&Json<'_>> = match lookup(ctx.params.as_ref(), "delete.Object") {
        Some(Json::Array(a)) => a.iter().collect(),
        Some(v @ Json::Object(_)) => vec![v],
        _ => Vec::new(),
    };
    let key_of = |e: &Json<'_>| {
        lookup(Some(e), "Key")
            .and_then(Json::as_str)
            .filter(|k| !k.is_empty())
            .map(str::to_owned)
    };
    let keys: Option<Vec<String>> = entries.iter().map(|e| key_of(e)).collect();
    let versioned: Vec<String> = entries
        .iter()
        .filter(|e| lookup(Some(e), "VersionId").is_some_and(Json::is_present))
        .filter_map(|e| key_of(e))
        .collect();
    let object = |bucket: &str, key: &str| {
        Resource::exact(format!("arn:{}:s3:::{bucket}/{key}", ctx.partition))
    };
    let resolved = match (bucket, keys) {
        (Some(b), Some(keys)) if !keys.is_empty() => {
            Ok(keys.iter().map(|k| object(b, k)).collect::<Vec<_>>())
        }
        (None, _) => Err("the `DeleteObjects` event names no bucket".to_owned()),
        _ => Err("CloudTrail logged no object keys for this `DeleteObjects` call (`requestParameters.delete` lists none), so the objects it deleted are unknown".to_owned()),
    };
    for a in actions
        .iter_mut()
        .filter(|a| a.action.eq_ignore_ascii_case("s3:DeleteObject"))
    {
        match &resolved {
            Ok(r) => {
                a.resources = r.clone();
                a.unresolved = None;
            }
            Err(why) => {
                a.resources.clear();
                a.unresolved = Some(why.clone());
            }
        }
    }
    if let (Some(b), Some(info)) = (bucket, catalog.action("s3:DeleteObjectVersion")) {
        if !versioned.is_empty() && resolved.is_ok() {
            actions.push(MappedAction {
                action: info.name.clone(),
                access: info.access,
                resources: versioned.iter().map(|k| object(b, k)).collect(),
                unresolved: None,
                passed_profile: None,
            });
        }
    }
}

/// The resource of a denial, as AWS's error message names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied<'m> {
    Arn(&'m str),
    /// `on resource: role y`: a resource type and a name.
    Named {
        kind: &'m str,
        name: &'m str,
    },
}

/// The action and resource an access-denied message names: `User: ARN is not authorized to perform:
/// iam:PutRolePolicy on resource: arn:aws:iam::123456789012:role/y because no identity-based policy
/// allows …` or `… on resource: role y …` (IAM user guide, "Troubleshoot access denied error
/// messages"). A wildcard resource (`instance/*`) names no one resource and is not returned.
pub fn denial<'m>(message: &'m str) -> Option<(&'m str, Denied<'m>)> {
    let (_, rest) = message.split_once("not authorized to perform: ")?;
    let (action, rest) = rest.split_once(" on resource: ")?;
    let action = action.trim();
    if action.contains(char::is_whitespace) || !action.contains(':') {
        return None;
    }
    let rest = rest.split(" because ").next().unwrap_or(rest);
    let rest = rest.split(" with an explicit deny").next().unwrap_or(rest);
    let word = |w: &'m str| w.trim_end_matches(['.', ',', ';']);
    let mut words = rest.split_whitespace().map(word);
    let first = words.next()?;
    let named = if first.starts_with("arn:") {
        Arn::parse(first)?;
        Denied::Arn(first)
    } else {
        let name = words.next()?;
        if words.next().is_some() || name.is_empty() {
            return None;
        }
        Denied::Named { kind: first, name }
    };
    let concrete = match named {
        Denied::Arn(a) => !wildcard::has_wildcard(a),
        Denied::Named { name, .. } => !wildcard::has_wildcard(name),
    };
    concrete.then_some((action, named))
}

/// The resource a denial names, for one of the action's resource types: the ARN as given, or the
/// type's ARN template filled with the name (at any path, for IAM names given without one).
fn resource_from_denial(
    catalog: &Catalog,
    action: &str,
    named: Denied<'_>,
    ctx: &Context<'_>,
) -> Option<Resource> {
    let (kind, name) = match named {
        Denied::Arn(arn) => return Some(Resource::exact(arn)),
        Denied::Named { kind, name } => (kind, name),
    };
    let info = catalog.action(action)?;
    let prefix = info.name.split_once(':')?.0;
    let rt = info
        .resource_types
        .iter()
        .find(|r| r.name.eq_ignore_ascii_case(kind))?;
    let template = catalog.resource_template(prefix, &rt.name)?;
    let mut arn = String::with_capacity(64);
    let mut any_path_at = None;
    let mut filled = false;
    for part in template {
        match part {
            TemplatePart::Literal(l) => arn.push_str(l),
            TemplatePart::Variable(v) => match v.as_str() {
                "Partition" => arn.push_str(ctx.partition),
                "Region" => arn.push_str(ctx.region),
                "Account" => arn.push_str(ctx.account?),
                // One name only: a template with two variables of its own cannot be filled.
                _ if filled => return None,
                var => {
                    filled = true;
                    if var.ends_with("WithPath") {
                        any_path_at = Some(arn.len());
                    }
                    arn.push_str(name);
                }
            },
        }
    }
    filled.then_some(Resource { arn, any_path_at })
}

fn extra_resource(
    spec: &str,
    ctx: &Context<'_>,
    primary: Option<&MappedAction>,
) -> Result<Vec<Resource>, String> {
    if spec == "same" {
        return match primary {
            Some(p) if p.unresolved.is_none() => Ok(p.resources.clone()),
            _ => Err("the call's own resource is unknown".to_owned()),
        };
    }
    let (kind, param) = spec.split_once(':').unwrap_or((spec, ""));
    if param.contains('[') {
        return role_names_in_list(kind, param, ctx);
    }
    let value = lookup(ctx.params.as_ref(), param).and_then(Json::as_str);
    match (kind, value) {
        ("role_arn" | "role", Some(arn)) if Arn::parse(arn).is_some() => {
            Ok(vec![Resource::exact(arn)])
        }
        ("instance_profile", Some(profile)) => {
            // EC2 takes an instance profile, and the role it holds is not in the event (EC2 user
            // guide, "IAM roles for Amazon EC2": the profile is a container for one role).
            let arn = if Arn::parse(profile).is_some() {
                profile.to_owned()
            } else {
                let account = ctx.account.unwrap_or("ACCOUNT");
                format!(
                    "arn:{}:iam::{account}:instance-profile/{profile}",
                    ctx.partition
                )
            };
            Err(format!(
                "the call passes instance profile `{arn}`, not a role: the role it holds is not in the event (review the profile's role)"
            ))
        }
        ("role_name" | "role", Some(name)) if is_iam_name(name) => {
            let account = ctx.account.ok_or("the event names no account")?;
            let arn = format!("arn:{}:iam::{account}:role/{name}", ctx.partition);
            let at = arn.len() - name.len();
            Ok(vec![Resource {
                arn,
                any_path_at: Some(at),
            }])
        }
        _ => Err(format!(
            "request parameter `{param}` is missing or not a role"
        )),
    }
}

/// The instance profile an `instance_profile:<param>` extra passes: its ARN as the event gives it,
/// or its name at any path (names are unique in an account regardless of path; IAM user guide,
/// "IAM identifiers"). `None` for any other spec, or a value that names no profile.
fn passed_profile(spec: &str, ctx: &Context<'_>) -> Option<Resource> {
    let param = spec.strip_prefix("instance_profile:")?;
    let value = lookup(ctx.params.as_ref(), param).and_then(Json::as_str)?;
    if let Some(a) = Arn::parse(value) {
        return (a.service == "iam" && a.resource.starts_with("instance-profile/"))
            .then(|| Resource::exact(value));
    }
    if !is_iam_name(value) {
        return None;
    }
    let account = ctx.account?;
    let arn = format!(
        "arn:{}:iam::{account}:instance-profile/{value}",
        ctx.partition
    );
    Some(Resource {
        any_path_at: Some(arn.len() - value.len()),
        arn,
    })
}

/// The roles of a `role_name:<path>` spec whose path selects from lists (see [`lookup_all`]):
/// each value a role name, at any path. Any value that is not a plain role name (a Data Pipeline
/// `#{parameter}`, say) leaves the pass unresolved: the roles are then not all known.
fn role_names_in_list(kind: &str, path: &str, ctx: &Context<'_>) -> Result<Vec<Resource>, String> {
    if kind != "role_name" {
        return Err(format!(
            "resource spec `{kind}:{path}`: only `role_name` reads lists"
        ));
    }
    let account = ctx.account.ok_or("the event names no account")?;
    // Each element the path selects must give its role as a string (a Data Pipeline field may
    // give a `refValue` instead): an element without one is a role Warden cannot name.
    let (elements, value_key) = path.rsplit_once('.').unwrap_or(("", path));
    let mut out = Vec::new();
    for e in lookup_all(ctx.params.as_ref(), elements) {
        match lookup(Some(e), value_key).and_then(Json::as_str) {
            Some(name) if is_iam_name(name) => {
                let arn = format!("arn:{}:iam::{account}:role/{name}", ctx.partition);
                let r = Resource {
                    any_path_at: Some(arn.len() - name.len()),
                    arn,
                };
                if !out.contains(&r) {
                    out.push(r);
                }
            }
            _ => {
                return Err(format!(
                    "a value at `{path}` is not a role name (a parameter or an expression?), so the roles the call passes are not all known"
                ))
            }
        }
    }
    if out.is_empty() {
        return Err(format!("no role at `{path}` in the request"));
    }
    Ok(out)
}

/// Whether `path` is present in the request: for a list path, whether it selects anything.
fn present(params: Option<&Json<'_>>, path: &str) -> bool {
    if path.contains('[') {
        !lookup_all(params, path).is_empty()
    } else {
        lookup(params, path).is_some_and(Json::is_present)
    }
}

/// Every value a dotted path selects, where a segment may pick from a list: `name[]` is each
/// element of the list `name`, `name[k=a|b]` each element whose string field `k` is `a` or `b`
/// (exactly). Keys match as in [`lookup`]. A segment naming a list that is one object instead (XML
/// turned into JSON does that) takes that object as the list's one element.
fn lookup_all<'v, 'a>(root: Option<&'v Json<'a>>, path: &str) -> Vec<&'v Json<'a>> {
    let mut cur: Vec<&'v Json<'a>> = root.into_iter().collect();
    for segment in path.split('.') {
        let (key, filter) = match segment.split_once('[') {
            Some((k, rest)) => (k, Some(rest.strip_suffix(']').unwrap_or(rest))),
            None => (segment, None),
        };
        let mut next = Vec::new();
        for v in cur {
            let Some(found) = lookup(Some(v), key) else {
                continue;
            };
            let Some(filter) = filter else {
                next.push(found);
                continue;
            };
            let elements: Vec<&'v Json<'a>> = match found {
                Json::Array(a) => a.iter().collect(),
                o @ Json::Object(_) => vec![o],
                _ => Vec::new(),
            };
            let wanted = filter.split_once('=');
            for e in elements {
                let keep = match wanted {
                    None => true,
                    Some((field, values)) => lookup(Some(e), field)
                        .and_then(Json::as_str)
                        .is_some_and(|got| values.split('|').any(|w| w == got)),
                };
                if keep {
                    next.push(e);
                }
            }
        }
        cur = next;
    }
    cur
}

fn map_action(
    catalog: &Catalog,
    prefix: &str,
    info: &ActionInfo,
    ctx: &Context<'_>,
) -> MappedAction {
    let mut mapped = MappedAction {
        action: info.name.clone(),
        access: info.access,
        resources: Vec::new(),
        unresolved: None,
        passed_profile: None,
    };
    let any_required = info.resource_types.iter().any(|r| r.required);
    let candidates = info
        .resource_types
        .iter()
        .filter(|r| r.required || !any_required);
    let mut tried = Vec::new();
    for rt in candidates {
        match resolve_resource(catalog, prefix, &rt.name, ctx) {
            Some(r) if !mapped.resources.contains(&r) => mapped.resources.push(r),
            Some(_) => {}
            None => tried.push(rt.name.as_str()),
        }
    }
    if mapped.resources.is_empty() {
        // Only an action with no resource type at all applies to no specific resource (IAM:
        // "Resource": "*"); one whose resource types are all optional (`s3:DeleteObject`) still
        // touched one, and a resource Warden cannot derive is unresolved, never `*`.
        if info.resource_types.is_empty() {
            mapped.resources.push(Resource::exact("*"));
        } else {
            mapped.unresolved = Some(format!(
                "cannot derive the {} resource of `{}` from the event",
                tried
                    .iter()
                    .map(|t| format!("`{t}`"))
                    .collect::<Vec<_>>()
                    .join(" or "),
                info.name
            ));
        }
    }
    mapped
}

/// `foo-bar` → `fooBar`; `UserName` → `userName`.
fn camel(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut upper = false;
    for (i, c) in s.chars().enumerate() {
        if c == '-' || c == '_' {
            upper = true;
        } else if i == 0 {
            out.push(c.to_ascii_lowercase());
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Looks up a dotted path in a JSON object, matching keys exactly first, then ignoring ASCII case.
fn lookup<'v, 'a>(root: Option<&'v Json<'a>>, path: &str) -> Option<&'v Json<'a>> {
    let mut cur = root?;
    for key in path.split('.') {
        cur = match cur.get(key) {
            Some(v) => v,
            None => cur.get_ignore_ascii_case(key)?,
        };
    }
    Some(cur)
}

fn resolve_resource(
    catalog: &Catalog,
    prefix: &str,
    rt: &str,
    ctx: &Context<'_>,
) -> Option<Resource> {
    // 1. The whole ARN, where the event carries it (it then carries the real path).
    let binding = catalog.binding(prefix, rt);
    let whole = binding
        .and_then(|b| b.arn_param.as_deref())
        .and_then(|p| lookup(ctx.params.as_ref(), p))
        .filter(|v| v.as_str().and_then(Arn::parse).is_some())
        .or_else(|| {
            binding
                .and_then(|b| b.arn_response.as_deref())
                .and_then(|p| lookup(ctx.response.as_ref(), p))
        })
        .or_else(|| {
            // `{type}.arn` in the response, else `{type}Arn` in the request, one buffer for both.
            let mut key = camel(rt);
            let name_len = key.len();
            key.push_str(".arn");
            lookup(ctx.response.as_ref(), &key).or_else(|| {
                key.truncate(name_len);
                key.push_str("Arn");
                lookup(ctx.params.as_ref(), &key)
            })
        })
        .and_then(Json::as_str)
        .filter(|s| Arn::parse(s).is_some());
    if let Some(arn) = whole {
        return Some(Resource::exact(arn));
    }
    // 2. The ARN template, filled from the event.
    if let Some(template) = catalog.resource_template(prefix, rt) {
        if let Some(r) = fill_template(catalog, prefix, template, ctx) {
            return Some(r);
        }
    }
    // 3. CloudTrail's own `resources` list, by type (`AWS::S3::Bucket` is type `bucket`).
    ctx.resources.as_ref()?.as_array()?.iter().find_map(|r| {
        let ty = r.get("type").and_then(Json::as_str)?;
        let arn = r.get("ARN").and_then(Json::as_str)?;
        let short = ty.rsplit("::").next()?;
        (short.eq_ignore_ascii_case(rt) && Arn::parse(arn).is_some_and(|a| a.service == prefix))
            .then(|| Resource::exact(arn))
    })
}

fn fill_template(
    catalog: &Catalog,
    prefix: &str,
    template: &[TemplatePart],
    ctx: &Context<'_>,
) -> Option<Resource> {
    let mut arn = String::with_capacity(64);
    let mut any_path_at = None;
    for part in template {
        match part {
            TemplatePart::Literal(l) => arn.push_str(l),
            TemplatePart::Variable(v) => match v.as_str() {
                "Partition" => arn.push_str(ctx.partition),
                "Region" => arn.push_str(ctx.region),
                "Account" => arn.push_str(ctx.account?),
                var => {
                    let with_path = var.ends_with("WithPath");
                    let base = var.strip_suffix("WithPath").unwrap_or(var);
                    let binding = catalog.binding(prefix, var);
                    let param: std::borrow::Cow<'_, str> = binding
                        .and_then(|b| b.param.as_deref())
                        .map_or_else(|| camel(base).into(), Into::into);
                    let value = param
                        .split('|')
                        .filter_map(|p| lookup(ctx.params.as_ref(), p).and_then(Json::as_str))
                        .find(|s| !s.is_empty())
                        .map(|s| match binding.and_then(|b| b.after_last.as_deref()) {
                            Some(sep) => s.rsplit(sep).next().unwrap_or(s),
                            None => s,
                        })
                        .filter(|s| !s.is_empty());
                    // IAM names are `[\w+=,.@-]+` ("IAM identifiers"): anything else (root's MFA
                    // events name `AWS ROOT USER`) is not an IAM principal and must not become one.
                    if prefix == "iam"
                        && base.ends_with("Name")
                        && value.is_some_and(|v| !v.starts_with("arn:") && !is_iam_name(v))
                    {
                        return None;
                    }
                    match value {
                        // A parameter that holds a whole ARN (CloudTrail's `name` may be either).
                        Some(v) if Arn::parse(v).is_some() && template.len() <= 8 => {
                            return Some(Resource::exact(v))
                        }
                        Some(v) if with_path => {
                            match lookup(ctx.params.as_ref(), "path").and_then(Json::as_str) {
                                Some(path) if path.starts_with('/') && path.ends_with('/') => {
                                    arn.push_str(path.get(1..).unwrap_or(""));
                                    arn.push_str(v);
                                }
                                _ => {
                                    any_path_at = Some(arn.len());
                                    arn.push_str(v);
                                }
                            }
                        }
                        Some(v) => arn.push_str(v),
                        None if base == "UserName" => {
                            // IAM calls without `UserName` act on the calling user (IAM API reference,
                            // e.g. CreateAccessKey: "If you do not specify a user name, IAM determines
                            // the user name implicitly based on the Amazon Web Services access key ID").
                            return self_user(ctx.caller);
                        }
                        None => return None,
                    }
                }
            },
        }
    }
    Some(Resource { arn, any_path_at })
}

fn is_iam_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
}

fn self_user(caller: &Caller) -> Option<Resource> {
    if caller.kind != CallerKind::IamUser {
        return None;
    }
    let arn = caller.principal_arn.clone()?;
    if caller.path_known {
        return Some(Resource::exact(arn));
    }
    let at = arn.rfind('/')? + 1;
    Some(Resource {
        arn,
        any_path_at: Some(at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::parse_document;
    use proptest::prelude::*;

    fn map(json: &str) -> (Caller, Mapping) {
        let catalog = Catalog::builtin().unwrap();
        let mut out = None;
        parse_document(json.as_bytes(), |_, e| {
            let a = analyse(&e.unwrap(), &catalog);
            out = Some((a.caller, a.mapping));
        });
        out.unwrap()
    }

    fn pairs(m: &Mapping) -> Vec<(String, Vec<String>)> {
        m.actions()
            .iter()
            .map(|a| {
                (
                    a.action.clone(),
                    a.resources.iter().flat_map(Resource::patterns).collect(),
                )
            })
            .collect()
    }

    const USER: &str = r#""userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/ops/mallory","accountId":"111122223333","userName":"mallory"},"recipientAccountId":"111122223333","awsRegion":"us-east-1""#;

    #[test]
    fn attach_user_policy_covers_the_user_at_any_path() {
        let (_, m) = map(&format!(
            r#"{{"eventSource":"iam.amazonaws.com","eventName":"AttachUserPolicy",{USER},"requestParameters":{{"userName":"bob","policyArn":"arn:aws:iam::aws:policy/AdministratorAccess"}}}}"#
        ));
        assert_eq!(
            pairs(&m),
            vec![(
                "iam:AttachUserPolicy".into(),
                vec![
                    "arn:aws:iam::111122223333:user/bob".into(),
                    "arn:aws:iam::111122223333:user/*/bob".into()
                ]
            )]
        );
    }

    #[test]
    fn create_user_takes_the_arn_with_path_from_the_response_and_tags() {
        let (_, m) = map(&format!(
            r#"{{"eventSource":"iam.amazonaws.com","eventName":"CreateUser",{USER},"requestParameters":{{"userName":"eve","path":"/x/","tags":[{{"key":"a","value":"b"}}]}},"responseElements":{{"user":{{"arn":"arn:aws:iam::111122223333:user/x/eve"}}}}}}"#
        ));
        assert_eq!(
            pairs(&m),
            vec![
                (
                    "iam:CreateUser".into(),
                    vec!["arn:aws:iam::111122223333:user/x/eve".into()]
                ),
                (
                    "iam:TagUser".into(),
                    vec!["arn:aws:iam::111122223333:user/x/eve".into()]
                ),
            ]
        );
    }

    #[test]
    fn create_access_key_without_user_name_is_the_caller_itself() {
        let (_, m) = map(&format!(
            r#"{{"eventSource":"iam.amazonaws.com","eventName":"CreateAccessKey",{USER},"requestParameters":null}}"#
        ));
        assert_eq!(
            pairs(&m),
            vec![(
                "iam:CreateAccessKey".into(),
                vec!["arn:aws:iam::111122223333:user/ops/mallory".into()]
            )]
        );
    }

    #[test]
    fn s3_aliases_and_partition() {
        let (_, m) = map(
            r#"{"eventSource":"s3.amazonaws.com","eventName":"DeleteBucketPublicAccessBlock","awsRegion":"cn-north-1","recipientAccountId":"1","requestParameters":{"bucketName":"logs"}}"#,
        );
        assert_eq!(
            pairs(&m),
            vec![(
                "s3:PutBucketPublicAccessBlock".into(),
                vec!["arn:aws-cn:s3:::logs".into()]
            )]
        );
    }

    #[test]
    fn sts_assume_role_and_get_caller_identity() {
        let (_, m) = map(&format!(
            r#"{{"eventSource":"sts.amazonaws.com","eventName":"AssumeRole",{USER},"requestParameters":{{"roleArn":"arn:aws:iam::111122223333:role/admin","roleSessionName":"s","sourceIdentity":"me"}}}}"#
        ));
        assert_eq!(
            pairs(&m),
            vec![
                (
                    "sts:AssumeRole".into(),
                    vec!["arn:aws:iam::111122223333:role/admin".into()]
                ),
                (
                    "sts:SetSourceIdentity".into(),
                    vec!["arn:aws:iam::111122223333:role/admin".into()]
                ),
            ]
        );
        let (_, m) = map(&format!(
            r#"{{"eventSource":"sts.amazonaws.com","eventName":"GetCallerIdentity",{USER}}}"#
        ));
        assert_eq!(
            pairs(&m),
            vec![("sts:GetCallerIdentity".into(), vec!["*".into()])]
        );
    }

    #[test]
    fn cloudtrail_name_may_be_an_arn() {
        let (_, m) = map(
            r#"{"eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging","awsRegion":"eu-west-1","recipientAccountId":"1","requestParameters":{"name":"arn:aws:cloudtrail:eu-west-1:1:trail/main"}}"#,
        );
        assert_eq!(
            pairs(&m),
            vec![(
                "cloudtrail:StopLogging".into(),
                vec!["arn:aws:cloudtrail:eu-west-1:1:trail/main".into()]
            )]
        );
        let (_, m) = map(
            r#"{"eventSource":"cloudtrail.amazonaws.com","eventName":"DeleteTrail","awsRegion":"eu-west-1","recipientAccountId":"1","requestParameters":{"name":"main"}}"#,
        );
        assert_eq!(
            pairs(&m),
            vec![(
                "cloudtrail:DeleteTrail".into(),
                vec!["arn:aws:cloudtrail:eu-west-1:1:trail/main".into()]
            )]
        );
    }

    #[test]
    fn unknown_services_and_actions_are_unmapped_and_missing_resources_say_so() {
        let (_, m) = map(r#"{"eventSource":"rds.amazonaws.com","eventName":"CreateDBInstance"}"#);
        assert!(matches!(m, Mapping::Unmapped(ref r) if r.contains("rds.amazonaws.com")));
        let (_, m) = map(r#"{"eventSource":"iam.amazonaws.com","eventName":"NoSuchCall"}"#);
        assert!(matches!(m, Mapping::Unmapped(ref r) if r.contains("iam:NoSuchCall")));
        let (_, m) = map(
            r#"{"eventSource":"iam.amazonaws.com","eventName":"AttachRolePolicy","recipientAccountId":"1","requestParameters":null}"#,
        );
        assert!(m.actions()[0]
            .unresolved
            .as_deref()
            .unwrap()
            .contains("`role`"));
    }

    // Regression (issue 9, class D): DeleteObjects takes its objects from the request, and without
    // them the objects are unknown, never `*` or the whole bucket; special characters in keys are
    // escaped in the patterns.
    #[test]
    fn delete_objects_takes_its_keys_from_the_request() {
        let ev = |delete: &str| {
            format!(
                r#"{{"eventSource":"s3.amazonaws.com","eventName":"DeleteObjects",{USER},"requestParameters":{{"bucketName":"data","delete":{delete}}}}}"#
            )
        };
        let (_, m) = map(&ev(
            r#"{"Object":[{"Key":"reports/*"},{"Key":"a?$b","VersionId":"v1"}],"Quiet":"true"}"#,
        ));
        assert_eq!(
            pairs(&m),
            vec![
                (
                    "s3:DeleteObject".into(),
                    vec![
                        "arn:aws:s3:::data/reports/${*}".into(),
                        "arn:aws:s3:::data/a${?}${$}b".into()
                    ]
                ),
                (
                    "s3:DeleteObjectVersion".into(),
                    vec!["arn:aws:s3:::data/a${?}${$}b".into()]
                ),
            ]
        );
        let (_, m) = map(&ev(r#"{"Object":{"Key":"one"}}"#));
        assert_eq!(
            pairs(&m),
            vec![(
                "s3:DeleteObject".into(),
                vec!["arn:aws:s3:::data/one".into()]
            )]
        );
        for nothing in [
            r#""""#,
            "null",
            r#"{"Object":[]}"#,
            r#"{"Object":[{"Key":""}]}"#,
        ] {
            let (_, m) = map(&ev(nothing));
            let a = &m.actions()[0];
            assert!(a.resources.is_empty(), "{nothing}: {:?}", a.resources);
            assert!(
                a.unresolved.as_deref().unwrap().contains("no object keys"),
                "{nothing}: {:?}",
                a.unresolved
            );
        }
    }

    #[test]
    fn object_actions_without_a_key_are_unresolved_not_star() {
        let (_, m) = map(&format!(
            r#"{{"eventSource":"s3.amazonaws.com","eventName":"DeleteObject",{USER},"requestParameters":{{"bucketName":"data"}}}}"#
        ));
        assert!(m.actions()[0].resources.is_empty());
        assert!(m.actions()[0].unresolved.is_some());
    }

    #[test]
    fn passing_a_role_to_a_service_maps_the_call_and_the_pass() {
        let (_, m) = map(&format!(
            r#"{{"eventSource":"lambda.amazonaws.com","eventName":"CreateFunction20150331",{USER},"requestParameters":{{"functionName":"f","role":"arn:aws:iam::111122223333:role/ops/admin","runtime":"python3.12"}}}}"#
        ));
        assert_eq!(
            pairs(&m),
            vec![
                (
                    "lambda:CreateFunction".into(),
                    vec!["arn:aws:lambda:us-east-1:111122223333:function:f".into()]
                ),
                (
                    "iam:PassRole".into(),
                    vec!["arn:aws:iam::111122223333:role/ops/admin".into()]
                ),
            ]
        );
        // Glue takes a role name or an ARN; a name covers the role at any path.
        let (_, m) = map(&format!(
            r#"{{"eventSource":"glue.amazonaws.com","eventName":"CreateJob",{USER},"requestParameters":{{"name":"j","role":"etl","command":{{"name":"glueetl"}}}}}}"#
        ));
        assert_eq!(
            pairs(&m)[1],
            (
                "iam:PassRole".into(),
                vec![
                    "arn:aws:iam::111122223333:role/etl".into(),
                    "arn:aws:iam::111122223333:role/*/etl".into()
                ]
            )
        );
        assert_eq!(
            pairs(&m)[0].1,
            vec!["arn:aws:glue:us-east-1:111122223333:job/j".to_owned()]
        );
        // ECS: both roles of a task definition; the definition's ARN from the response.
        let (_, m) = map(&format!(
            r#"{{"eventSource":"ecs.amazonaws.com","eventName":"RegisterTaskDefinition",{USER},"requestParameters":{{"family":"web","taskRoleArn":"arn:aws:iam::111122223333:role/task","executionRoleArn":"arn:aws:iam::111122223333:role/exec"}},
            "responseElements":{{"taskDefinition":{{"taskDefinitionArn":"arn:aws:ecs:us-east-1:111122223333:task-definition/web:3"}}}}}}"#
        ));
        assert_eq!(
            pairs(&m),
            vec![
                (
                    "ecs:RegisterTaskDefinition".into(),
                    vec!["arn:aws:ecs:us-east-1:111122223333:task-definition/web:3".into()]
                ),
                (
                    "iam:PassRole".into(),
                    vec!["arn:aws:iam::111122223333:role/task".into()]
                ),
                (
                    "iam:PassRole".into(),
                    vec!["arn:aws:iam::111122223333:role/exec".into()]
                ),
            ]
        );
    }

    #[test]
    fn a_data_pipeline_definition_passes_the_roles_its_objects_name() {
        let ev = |objects: &str| {
            format!(
                r#"{{"eventSource":"datapipeline.amazonaws.com","eventName":"PutPipelineDefinition",{USER},"requestParameters":{{"pipelineId":"df-1","pipelineObjects":{objects}}}}}"#
            )
        };
        let (_, m) = map(&ev(
            r#"[{"id":"Default","name":"Default","fields":[{"key":"role","stringValue":"DataPipelineDefaultRole"},{"key":"resourceRole","stringValue":"ops-admin"},{"key":"scheduleType","stringValue":"ondemand"}]},
               {"id":"Ec2","name":"Ec2","fields":[{"key":"type","stringValue":"Ec2Resource"},{"key":"resourceRole","stringValue":"ops-admin"}]}]"#,
        ));
        assert_eq!(
            pairs(&m),
            vec![
                (
                    "datapipeline:PutPipelineDefinition".into(),
                    vec!["arn:aws:datapipeline:us-east-1:111122223333:pipeline/df-1".into()]
                ),
                (
                    "iam:PassRole".into(),
                    vec![
                        "arn:aws:iam::111122223333:role/DataPipelineDefaultRole".into(),
                        "arn:aws:iam::111122223333:role/*/DataPipelineDefaultRole".into(),
                    ]
                ),
                (
                    "iam:PassRole".into(),
                    vec![
                        "arn:aws:iam::111122223333:role/ops-admin".into(),
                        "arn:aws:iam::111122223333:role/*/ops-admin".into(),
                    ]
                ),
            ]
        );
        // No role field: no pass. A role given by reference or parameter: the pass is unresolved.
        let (_, m) = map(&ev(
            r#"[{"id":"Default","fields":[{"key":"scheduleType","stringValue":"ondemand"}]}]"#,
        ));
        assert_eq!(m.actions().len(), 1);
        for hidden in [
            r##"[{"id":"Default","fields":[{"key":"role","refValue":"RoleObject"}]}]"##,
            r##"[{"id":"Default","fields":[{"key":"role","stringValue":"#{myRole}"}]}]"##,
        ] {
            let (_, m) = map(&ev(hidden));
            let pass = &m.actions()[1];
            assert_eq!(pass.action, "iam:PassRole");
            assert!(pass.resources.is_empty(), "{hidden}");
            assert!(
                pass.unresolved
                    .as_deref()
                    .unwrap()
                    .contains("not a role name"),
                "{hidden}: {:?}",
                pass.unresolved
            );
        }
    }

    #[test]
    fn an_instance_profile_is_named_and_its_role_left_unresolved() {
        let (_, m) = map(&format!(
            r#"{{"eventSource":"ec2.amazonaws.com","eventName":"AssociateIamInstanceProfile",{USER},"requestParameters":{{"instanceId":"i-0abc","iamInstanceProfile":{{"name":"admin-profile"}}}}}}"#
        ));
        let acts = m.actions();
        assert_eq!(acts[0].action, "ec2:AssociateIamInstanceProfile");
        assert_eq!(
            acts[0].resources[0].arn,
            "arn:aws:ec2:us-east-1:111122223333:instance/i-0abc"
        );
        assert_eq!(acts[1].action, "iam:PassRole");
        let why = acts[1].unresolved.as_deref().unwrap();
        assert!(
            why.contains("`arn:aws:iam::111122223333:instance-profile/admin-profile`"),
            "{why}"
        );
        // The profile is noted for the account model to resolve (by name: at any path).
        assert_eq!(
            acts[1].passed_profile.as_ref().unwrap().patterns(),
            vec![
                "arn:aws:iam::111122223333:instance-profile/admin-profile".to_owned(),
                "arn:aws:iam::111122223333:instance-profile/*/admin-profile".to_owned()
            ]
        );
    }

    #[test]
    fn wardens_infrastructure_calls_name_their_resources() {
        let cases = [
            (
                "sqs.amazonaws.com",
                "DeleteQueue",
                r#"{"queueUrl":"https://sqs.us-east-1.amazonaws.com/111122223333/warden-events.fifo"}"#,
                "arn:aws:sqs:us-east-1:111122223333:warden-events.fifo",
            ),
            (
                "events.amazonaws.com",
                "RemoveTargets",
                r#"{"rule":"warden-iam-1","ids":["warden-queue"]}"#,
                "arn:aws:events:us-east-1:111122223333:rule/warden-iam-1",
            ),
            (
                "events.amazonaws.com",
                "DisableRule",
                r#"{"name":"warden-watchdog"}"#,
                "arn:aws:events:us-east-1:111122223333:rule/warden-watchdog",
            ),
            (
                "dynamodb.amazonaws.com",
                "DeleteTable",
                r#"{"tableName":"warden-state"}"#,
                "arn:aws:dynamodb:us-east-1:111122223333:table/warden-state",
            ),
            (
                "sns.amazonaws.com",
                "SetTopicAttributes",
                r#"{"topicArn":"arn:aws:sns:us-east-1:111122223333:warden-alerts","attributeName":"Policy"}"#,
                "arn:aws:sns:us-east-1:111122223333:warden-alerts",
            ),
            (
                "lambda.amazonaws.com",
                "DeleteFunction20150331",
                r#"{"functionName":"warden-handler"}"#,
                "arn:aws:lambda:us-east-1:111122223333:function:warden-handler",
            ),
            (
                "cloudformation.amazonaws.com",
                "UpdateStack",
                r#"{"stackName":"app"}"#,
                "",
            ),
        ];
        for (source, name, params, want) in cases {
            let (_, m) = map(&format!(
                r#"{{"eventSource":"{source}","eventName":"{name}",{USER},"requestParameters":{params},
                "responseElements":{{"stackId":"arn:aws:cloudformation:us-east-1:111122223333:stack/app/1f2e"}}}}"#
            ));
            let want = if want.is_empty() {
                "arn:aws:cloudformation:us-east-1:111122223333:stack/app/1f2e"
            } else {
                want
            };
            assert_eq!(m.actions()[0].resources[0].arn, want, "{name}");
        }
    }

    #[test]
    fn denials_name_their_resource_in_the_error_message() {
        let arn_form = "User: arn:aws:iam::123456789012:user/x is not authorized to perform: iam:PutRolePolicy on resource: arn:aws:iam::123456789012:role/y because no identity-based policy allows the iam:PutRolePolicy action";
        assert_eq!(
            denial(arn_form),
            Some((
                "iam:PutRolePolicy",
                Denied::Arn("arn:aws:iam::123456789012:role/y")
            ))
        );
        let named = "User: arn:aws:sts::123456789012:assumed-role/dev/s is not authorized to perform: iam:PutRolePolicy on resource: role y because no identity-based policy allows the iam:PutRolePolicy action";
        assert_eq!(
            denial(named),
            Some((
                "iam:PutRolePolicy",
                Denied::Named {
                    kind: "role",
                    name: "y"
                }
            ))
        );
        let explicit = "User: arn:aws:iam::123456789012:user/x is not authorized to perform: s3:PutBucketPolicy on resource: \"arn:aws:s3:::logs\" with an explicit deny in an identity-based policy: arn:aws:iam::123456789012:policy/p";
        assert_eq!(denial(explicit), None, "a quoted ARN is not read as one");
        let plain = "User: arn:aws:iam::123456789012:user/x is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::123456789012:role/roleB";
        assert_eq!(
            denial(plain),
            Some((
                "sts:AssumeRole",
                Denied::Arn("arn:aws:iam::123456789012:role/roleB")
            ))
        );
        // A wildcard names no one resource; other messages name none.
        let wild = "You are not authorized to perform this operation. User: arn:aws:sts::751353041310:assumed-role/r/s is not authorized to perform: ec2:RunInstances on resource: arn:aws:ec2:us-east-1:751353041310:instance/* because no identity-based policy allows the ec2:RunInstances action. Encoded authorization failure message: x";
        assert_eq!(denial(wild), None);
        assert_eq!(denial("The role with name y cannot be found."), None);
        assert_eq!(
            denial("is not authorized to perform: iam:PutRolePolicy on resource: *"),
            None
        );

        for (message, want) in [
            (arn_form, vec!["arn:aws:iam::123456789012:role/y"]),
            (
                named,
                vec![
                    "arn:aws:iam::123456789012:role/y",
                    "arn:aws:iam::123456789012:role/*/y",
                ],
            ),
        ] {
            let ev = serde_json::json!({"eventSource":"iam.amazonaws.com","eventName":"PutRolePolicy","awsRegion":"us-east-1","recipientAccountId":"123456789012",
                "userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::123456789012:user/x","accountId":"123456789012","userName":"x"},
                "errorCode":"AccessDenied","errorMessage":message,"requestParameters":null});
            let (_, m) = map(&ev.to_string());
            assert_eq!(
                pairs(&m),
                vec![(
                    "iam:PutRolePolicy".to_owned(),
                    want.iter().map(|s| (*s).to_owned()).collect()
                )],
                "{message}"
            );
        }
    }

    #[test]
    fn path_unknown_matching() {
        let r = Resource {
            arn: "arn:aws:iam::1:user/bob".into(),
            any_path_at: Some(20),
        };
        assert_eq!(r.matched_by("arn:aws:iam::*:user/*"), Match::Yes);
        assert_eq!(r.matched_by("arn:aws:iam::1:user/bob"), Match::Unknown);
        assert_eq!(r.matched_by("arn:aws:iam::1:user/alice"), Match::No);
        assert_eq!(r.matched_by("arn:aws:iam::1:user/admins/*"), Match::Unknown);
        assert_eq!(r.matched_by("arn:aws:iam::1:user/warden-*"), Match::No);
        assert_eq!(r.matched_by("arn:*:s3:::warden-evidence-*/*"), Match::No);
        assert_eq!(r.matched_by("arn:aws:iam::2:user/*"), Match::No);
        assert_eq!(r.matched_by("arn:aws:iam::1:role/*"), Match::No);
        assert!(r.covers("arn:aws:iam::1:user/bob"));
        assert!(r.covers("arn:aws:iam::1:user/a/b/bob"));
        assert!(!r.covers("arn:aws:iam::1:user/xbob"));
        assert!(!r.covers("arn:aws:iam::1:user/a/xbob"));
    }

    proptest! {
        // INVARIANT (resource-never-covers-another-name): the patterns Warden derives for a name at an
        // unknown path match that name at every path and no other name at any path.
        #[test]
        fn resources_never_cover_a_different_name(
            name in "[a-zA-Z0-9+=,.@_-]{1,12}",
            other in "[a-zA-Z0-9+=,.@_-]{1,12}",
            path in proptest::collection::vec("[a-z0-9]{1,5}", 0..3),
        ) {
            let arn = format!("arn:aws:iam::123456789012:user/{name}");
            let r = Resource { any_path_at: Some(arn.len() - name.len()), arn };
            let path: String = path.iter().map(|p| format!("{p}/")).collect();
            let same = format!("arn:aws:iam::123456789012:user/{path}{name}");
            let different = format!("arn:aws:iam::123456789012:user/{path}{other}");
            prop_assert!(r.patterns().iter().any(|p| wildcard::matches(p, &same)));
            prop_assert!(r.covers(&same));
            if other != name {
                prop_assert!(!r.patterns().iter().any(|p| wildcard::matches(p, &different)), "{:?} matched {}", r.patterns(), different);
                prop_assert!(!r.covers(&different));
            }
        }
    }
}
