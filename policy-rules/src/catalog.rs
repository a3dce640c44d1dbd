//! The IAM action catalog: per service, its actions (access level, resource types) and resource
//! types (ARN templates), from the AWS Service Authorization Reference, plus Warden's event map
//! (`catalog/event-map.toml`: which event source is which service, event names whose action has
//! another name, actions a call also authorises, and parameter bindings). All of it is data; this
//! file only loads and indexes it. Deriving actions and resources from an event is `mapping`'s work.

use serde::Deserialize;
use std::collections::HashMap;

mod files {
    include!(concat!(env!("OUT_DIR"), "/catalog_files.rs"));
}

/// Access levels of the Service Authorization Reference, as a small bit set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AccessLevels(u8);

impl AccessLevels {
    pub const LIST: Self = Self(1);
    pub const READ: Self = Self(2);
    pub const WRITE: Self = Self(4);
    pub const PERMISSIONS: Self = Self(8);
    pub const TAGGING: Self = Self(16);
    /// Every level that changes something.
    pub const CHANGES: Self = Self(4 | 8 | 16);

    /// Parses one level name as rule files and the catalog spell it (case-insensitive).
    pub fn parse_one(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "list" => Some(Self::LIST),
            "read" => Some(Self::READ),
            "write" => Some(Self::WRITE),
            "permissions management" | "permissions" => Some(Self::PERMISSIONS),
            "tagging" => Some(Self::TAGGING),
            _ => None,
        }
    }

    /// Parses the catalog's comma-separated `accessLevel`, ignoring unknown names.
    fn parse_list(s: &str) -> Self {
        s.split(',')
            .filter_map(Self::parse_one)
            .fold(Self::default(), |a, b| a.union(b))
    }

    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    pub const fn intersects(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// One resource type an action applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceTypeRef {
    pub name: String,
    pub required: bool,
}

/// One action of the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionInfo {
    /// `service:Action`, spelt as AWS spells it.
    pub name: String,
    pub access: AccessLevels,
    pub resource_types: Vec<ResourceTypeRef>,
}

/// A piece of an ARN template such as `arn:${Partition}:iam::${Account}:user/${UserNameWithPath}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplatePart {
    Literal(String),
    Variable(String),
}

/// An extra action a call authorises (see `event-map.toml`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extra {
    pub event: String,
    pub action: String,
    pub when: String,
    pub resource: String,
}

/// Where a template variable, or a whole resource type's ARN, comes from.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Binding {
    /// A dotted request parameter path; `a|b` takes the first of several that is present.
    pub param: Option<String>,
    /// Keep only what follows the last occurrence of this separator in `param`'s value.
    #[serde(default)]
    pub after_last: Option<String>,
    pub arn_param: Option<String>,
    /// A dotted response element path holding the whole ARN.
    #[serde(default)]
    pub arn_response: Option<String>,
}

/// The catalog's maps: read for every event, keyed by names from the catalog itself (a lookup
/// cannot make a map of fixed keys slower), so hashed with foldhash rather than SipHash.
type Map<V> = HashMap<String, V, foldhash::fast::RandomState>;

#[derive(Debug)]
struct Service {
    actions: Map<ActionInfo>,
    resource_types: Map<Vec<TemplatePart>>,
}

/// The loaded, indexed catalog.
#[derive(Debug)]
pub struct Catalog {
    services: Map<Service>,
    by_source: Map<String>,
    aliases: Map<Vec<String>>,
    extras: Map<Vec<Extra>>,
    bindings: Map<Binding>,
    /// Per service, the event names the event map spells out (aliases and extras), as AWS spells
    /// them: CloudTrail and EventBridge match event names case-sensitively.
    named_events: Map<Vec<String>>,
}

/// A catalog file that does not load.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("catalog file `{file}`: {message}")]
    Invalid { file: String, message: String },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawAction {
    name: String,
    #[serde(default)]
    access_level: String,
    #[serde(default)]
    resource_types: Vec<RawResourceTypeRef>,
}

#[derive(Deserialize)]
struct RawResourceTypeRef {
    name: String,
    #[serde(default)]
    required: bool,
}

#[derive(Deserialize)]
struct RawResourceType {
    arn: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawService {
    actions: HashMap<String, RawAction>,
    #[serde(default)]
    resource_types: HashMap<String, RawResourceType>,
}

/// The whole Service Authorization Reference, one service a line (see `fixtures/PROVENANCE.md`).
static REFERENCE_SERVICES: &str = include_str!("../catalog/reference/services.json");
/// Event sources of reference services that are not `<prefix>.amazonaws.com`.
static REFERENCE_SOURCES: &str = include_str!("../catalog/reference/event-sources.toml");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEventMap {
    services: HashMap<String, RawServiceMap>,
    #[serde(default)]
    aliases: HashMap<String, Vec<String>>,
    #[serde(default)]
    extra: Vec<Extra>,
    #[serde(default)]
    bindings: HashMap<String, Binding>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServiceMap {
    event_source: String,
}

fn invalid(file: &str, message: impl std::fmt::Display) -> CatalogError {
    CatalogError::Invalid {
        file: file.to_owned(),
        message: message.to_string(),
    }
}

/// Splits an ARN template into literals and `${Variables}`.
pub fn parse_template(template: &str) -> Vec<TemplatePart> {
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        let (lit, after) = rest.split_at(start);
        if !lit.is_empty() {
            parts.push(TemplatePart::Literal(lit.to_owned()));
        }
        let after = after.get(2..).unwrap_or("");
        match after.find('}') {
            Some(end) => {
                parts.push(TemplatePart::Variable(
                    after.get(..end).unwrap_or("").to_owned(),
                ));
                rest = after.get(end + 1..).unwrap_or("");
            }
            None => {
                parts.push(TemplatePart::Literal(format!("${{{after}")));
                rest = "";
            }
        }
    }
    if !rest.is_empty() {
        parts.push(TemplatePart::Literal(rest.to_owned()));
    }
    parts
}

impl Catalog {
    /// The catalog built into Warden: every service under `catalog/`.
    pub fn builtin() -> Result<Self, CatalogError> {
        let services = files::SERVICE_FILES.iter().map(|(s, a, r)| (*s, *a, *r));
        Self::from_sources(services, files::EVENT_MAP)
    }

    /// Builds a catalog from `(service prefix, actions JSON, resource types JSON)` triples and an
    /// event map (TOML).
    pub fn from_sources<'s>(
        services: impl IntoIterator<Item = (&'s str, &'s str, &'s str)>,
        event_map: &str,
    ) -> Result<Self, CatalogError> {
        let mut raw = Vec::new();
        for (prefix, actions_json, types_json) in services {
            let actions: HashMap<String, RawAction> = serde_json::from_str(actions_json)
                .map_err(|e| invalid(&format!("actions/{prefix}.json"), e))?;
            let resource_types: HashMap<String, RawResourceType> = serde_json::from_str(types_json)
                .map_err(|e| invalid(&format!("resourceTypes/{prefix}.json"), e))?;
            raw.push((
                prefix.to_owned(),
                RawService {
                    actions,
                    resource_types,
                },
            ));
        }
        Self::from_raw(raw, event_map, &HashMap::new())
    }

    /// The whole AWS Service Authorization Reference (every service, `catalog/reference/`), with
    /// Warden's event map on top: what `warden access` maps CloudTrail history with. A service the
    /// event map does not name takes the event source CloudTrail gives most services,
    /// `<prefix>.amazonaws.com`, unless `catalog/reference/event-sources.toml` says otherwise. It is
    /// not what the Lambda loads (`builtin`): the live path maps only the services its rules route.
    pub fn reference() -> Result<Self, CatalogError> {
        const FILE: &str = "reference/services.json";
        let raw: HashMap<String, RawService> =
            serde_json::from_str(REFERENCE_SERVICES).map_err(|e| invalid(FILE, e))?;
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Sources {
            sources: HashMap<String, String>,
        }
        let sources: Sources = toml::from_str(REFERENCE_SOURCES)
            .map_err(|e| invalid("reference/event-sources.toml", e))?;
        let mut raw: Vec<(String, RawService)> = raw.into_iter().collect();
        raw.sort_by(|a, b| a.0.cmp(&b.0));
        Self::from_raw(raw, files::EVENT_MAP, &sources.sources)
    }

    /// Builds the catalog. `default_sources`: for services the event map does not name, their event
    /// source by prefix (`<prefix>.amazonaws.com` for a prefix not listed there either); empty for
    /// the built-in catalog, whose services are all named.
    fn from_raw(
        services: Vec<(String, RawService)>,
        event_map: &str,
        default_sources: &HashMap<String, String>,
    ) -> Result<Self, CatalogError> {
        let with_defaults = !default_sources.is_empty();
        let mut loaded = Map::default();
        for (prefix, service) in services {
            let RawService {
                actions: raw,
                resource_types: raw_types,
            } = service;
            let actions = raw
                .into_values()
                .map(|a| {
                    let info = ActionInfo {
                        name: format!("{prefix}:{}", a.name),
                        access: AccessLevels::parse_list(&a.access_level),
                        resource_types: a
                            .resource_types
                            .into_iter()
                            .map(|r| ResourceTypeRef {
                                name: r.name,
                                required: r.required,
                            })
                            .collect(),
                    };
                    (a.name.to_ascii_lowercase(), info)
                })
                .collect();
            let resource_types = raw_types
                .into_iter()
                // Actions name a type as `autoScalingGroup`; the file keys it `autoscalinggroup`.
                .map(|(k, v)| (k.to_ascii_lowercase(), parse_template(&v.arn)))
                .collect();
            loaded.insert(
                prefix.clone(),
                Service {
                    actions,
                    resource_types,
                },
            );
        }
        let map: RawEventMap =
            toml::from_str(event_map).map_err(|e| invalid("event-map.toml", e))?;
        let mut by_source = Map::default();
        for (prefix, s) in &map.services {
            if !loaded.contains_key(prefix) {
                return Err(invalid(
                    "event-map.toml",
                    format!("service `{prefix}` has no catalog files"),
                ));
            }
            by_source.insert(s.event_source.clone(), prefix.clone());
        }
        if with_defaults {
            let named: std::collections::HashSet<&String> = map.services.keys().collect();
            let mut prefixes: Vec<&String> = loaded.keys().filter(|p| !named.contains(p)).collect();
            prefixes.sort();
            for prefix in prefixes {
                let source = default_sources
                    .get(prefix.as_str())
                    .cloned()
                    .unwrap_or_else(|| format!("{prefix}.amazonaws.com"));
                // The event map's own sources win; two reference services never share one.
                by_source.entry(source).or_insert_with(|| prefix.clone());
            }
        }
        let mut named_events: Map<Vec<String>> = Map::default();
        for key in map.aliases.keys().chain(map.extra.iter().map(|e| &e.event)) {
            if let Some((prefix, name)) = key.split_once(':') {
                named_events
                    .entry(prefix.to_owned())
                    .or_default()
                    .push(name.to_owned());
            }
        }
        let aliases = map
            .aliases
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect();
        let mut extras: Map<Vec<Extra>> = Map::default();
        for e in map.extra {
            extras
                .entry(e.event.to_ascii_lowercase())
                .or_default()
                .push(e);
        }
        let catalog = Catalog {
            services: loaded,
            by_source,
            aliases,
            extras,
            bindings: map.bindings.into_iter().collect(),
            named_events,
        };
        // Every alias and extra must name an action the catalog knows: a typo must not silently map
        // an event to nothing.
        for target in catalog
            .aliases
            .values()
            .flatten()
            .chain(catalog.extras.values().flatten().map(|e| &e.action))
        {
            if catalog.action(target).is_none() {
                return Err(invalid(
                    "event-map.toml",
                    format!("`{target}` is not an action of the catalog"),
                ));
            }
        }
        Ok(catalog)
    }

    /// The service prefix (`iam`) for an event source (`iam.amazonaws.com`).
    pub fn service_for_source(&self, event_source: &str) -> Option<&str> {
        self.by_source.get(event_source).map(String::as_str)
    }

    /// An action by its `service:Action` name, case-insensitively.
    pub fn action(&self, name: &str) -> Option<&ActionInfo> {
        let (prefix, action) = name.split_once(':')?;
        let service = match self.services.get(prefix) {
            Some(s) => s,
            None => with_key(&[prefix], true, |k| self.services.get(k))?,
        };
        with_key(&[action], true, |k| service.actions.get(k))
    }

    /// The event source (`iam.amazonaws.com`) of a service prefix (`iam`).
    pub fn source_for_service(&self, prefix: &str) -> Option<&str> {
        self.by_source
            .iter()
            .find(|(_, p)| p.as_str() == prefix)
            .map(|(s, _)| s.as_str())
    }

    /// The event names Warden knows for a service, as AWS spells them, sorted: every action's own
    /// name (the default event name) and the names the event map spells out (aliases, extras).
    pub fn event_names(&self, prefix: &str) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .services
            .get(prefix)
            .into_iter()
            .flat_map(|s| s.actions.values())
            .filter_map(|a| a.name.split_once(':').map(|(_, n)| n))
            .chain(
                self.named_events
                    .get(prefix)
                    .into_iter()
                    .flatten()
                    .map(String::as_str),
            )
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// The actions an event name of a service maps to: its aliases, else `service:EventName`.
    pub fn actions_for_event(&self, prefix: &str, event_name: &str) -> Vec<&ActionInfo> {
        with_key(&[prefix, ":", event_name], true, |key| {
            match self.aliases.get(key) {
                Some(targets) => targets.iter().filter_map(|t| self.action(t)).collect(),
                None => self.action(key).into_iter().collect(),
            }
        })
    }

    /// The extra actions an event may also authorise.
    pub fn extras_for_event(&self, prefix: &str, event_name: &str) -> &[Extra] {
        with_key(&[prefix, ":", event_name], true, |key| self.extras.get(key))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The ARN template of a service's resource type.
    pub fn resource_template(&self, prefix: &str, resource_type: &str) -> Option<&[TemplatePart]> {
        let types = &self.services.get(prefix)?.resource_types;
        with_key(&[resource_type], true, |k| types.get(k)).map(Vec::as_slice)
    }

    /// A binding for `service:Variable` or `service:resource-type`.
    pub fn binding(&self, prefix: &str, key: &str) -> Option<&Binding> {
        with_key(&[prefix, ":", key], false, |k| self.bindings.get(k))
    }

    /// All service prefixes, sorted.
    pub fn services(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.services.keys().map(String::as_str).collect();
        v.sort_unstable();
        v
    }

    /// Every event source the catalog maps, sorted.
    pub fn event_sources(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.by_source.keys().map(String::as_str).collect();
        v.sort_unstable();
        v
    }

    /// Every action of the catalog (any order).
    pub fn all_actions(&self) -> impl Iterator<Item = &ActionInfo> {
        self.services.values().flat_map(|s| s.actions.values())
    }
}

/// Calls `f` with `parts` joined (ASCII-lower-cased when `lower`), built on the stack when short, so
/// that the lookups an event makes allocate nothing.
fn with_key<R>(parts: &[&str], lower: bool, f: impl FnOnce(&str) -> R) -> R {
    let mut buf = [0u8; 128];
    let len: usize = parts.iter().map(|p| p.len()).sum();
    if let Some(key) = buf.get_mut(..len) {
        let bytes = parts.iter().flat_map(|p| p.bytes());
        for (slot, b) in key.iter_mut().zip(bytes) {
            *slot = if lower { b.to_ascii_lowercase() } else { b };
        }
        // Lower-casing ASCII bytes leaves UTF-8 valid, so this always holds.
        if let Ok(key) = std::str::from_utf8(key) {
            return f(key);
        }
    }
    let key = parts.concat();
    f(&if lower { key.to_ascii_lowercase() } else { key })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_loads_every_service_under_catalog() {
        let c = Catalog::builtin().unwrap();
        for s in [
            "cloudtrail",
            "iam",
            "s3",
            "sts",
            "lambda",
            "ec2",
            "events",
            "sqs",
        ] {
            assert!(c.services().contains(&s), "{s}");
        }
        let a = c.action("IAM:attachuserpolicy").unwrap();
        assert_eq!(a.name, "iam:AttachUserPolicy");
        assert!(a.access.intersects(AccessLevels::PERMISSIONS));
        assert_eq!(c.service_for_source("s3.amazonaws.com"), Some("s3"));
        let acts = c.actions_for_event("s3", "DeleteBucketPublicAccessBlock");
        assert_eq!(acts[0].name, "s3:PutBucketPublicAccessBlock");
        assert!(c
            .action("s3:GetObject")
            .unwrap()
            .access
            .intersects(AccessLevels::READ));
    }

    #[test]
    fn the_reference_holds_every_service_and_the_event_map_on_top() {
        let c = Catalog::reference().unwrap();
        assert!(c.services().len() > 400, "{}", c.services().len());
        assert!(c.all_actions().count() > 20_000);
        // Default sources, the exceptions, and the event map's own names.
        assert_eq!(c.service_for_source("ec2.amazonaws.com"), Some("ec2"));
        assert_eq!(c.service_for_source("kms.amazonaws.com"), Some("kms"));
        assert_eq!(
            c.service_for_source("monitoring.amazonaws.com"),
            Some("cloudwatch")
        );
        assert_eq!(c.service_for_source("s3.amazonaws.com"), Some("s3"));
        let kms = c.actions_for_event("kms", "Decrypt");
        assert_eq!(kms[0].name, "kms:Decrypt");
        assert!(kms[0].resource_types.iter().any(|r| r.name == "key"));
        assert!(c.resource_template("kms", "key").is_some());
        // The event map's aliases still apply.
        let acts = c.actions_for_event("s3", "DeleteBucketPublicAccessBlock");
        assert_eq!(acts[0].name, "s3:PutBucketPublicAccessBlock");
        // Everything the built-in catalog maps, the reference maps the same way (but CloudTrail,
        // whose built-in file is Warden's own: the reference calls `AddTags` Write and Tagging).
        let builtin = Catalog::builtin().unwrap();
        for a in builtin
            .all_actions()
            .filter(|a| !a.name.starts_with("cloudtrail:"))
        {
            let r = c.action(&a.name).unwrap_or_else(|| panic!("{}", a.name));
            assert_eq!(r.access, a.access, "{}", a.name);
        }
        for source in builtin.event_sources() {
            assert_eq!(
                c.service_for_source(source),
                builtin.service_for_source(source),
                "{source}"
            );
        }
    }

    #[test]
    fn templates_split() {
        let t = parse_template("arn:${Partition}:iam::${Account}:user/${UserNameWithPath}");
        assert_eq!(
            t,
            vec![
                TemplatePart::Literal("arn:".into()),
                TemplatePart::Variable("Partition".into()),
                TemplatePart::Literal(":iam::".into()),
                TemplatePart::Variable("Account".into()),
                TemplatePart::Literal(":user/".into()),
                TemplatePart::Variable("UserNameWithPath".into()),
            ]
        );
    }

    #[test]
    fn event_map_typos_are_refused() {
        let bad = "[services.iam]\nevent_source = \"iam.amazonaws.com\"\n[aliases]\n\"iam:X\" = [\"iam:NoSuchAction\"]\n";
        let files = [(
            "iam",
            r#"{"createuser":{"name":"CreateUser","accessLevel":"Write"}}"#,
            "{}",
        )];
        let err = Catalog::from_sources(files, bad).unwrap_err().to_string();
        assert!(err.contains("`iam:NoSuchAction` is not an action"), "{err}");
    }
}
