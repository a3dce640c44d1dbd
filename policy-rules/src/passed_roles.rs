//! The role a call really passes to a service, as the account model knows it just before the
//! event. Two things the event alone does not tell:
//!
//! - An EC2 or Auto Scaling call names an instance profile, not a role (EC2 user guide, "IAM roles
//!   for Amazon EC2": a profile is a container for one role), so the mapping leaves its
//!   `iam:PassRole` unresolved and notes the profile. [`resolve`] puts the role the profile held
//!   in its place: the pass is then on that role's exact ARN, and the rules judge it like any
//!   passed role.
//! - A call that names its role without a path (a Glue job's `role`, a Data Pipeline definition's
//!   `resourceRole`) is mapped to the name at any path; where the model vouches for that role,
//!   [`resolve`] gives its exact ARN, so a rule whose pattern depends on the path can decide.
//!
//! Where the model cannot vouch (no entry, a stale one, a profile it holds as absent or holding no
//! role), the pass stays as the mapping left it, and for a profile the reason says why the role is
//! not known: an alert, never a guess and never a Deny on `*`.
//!
//! Not here: how the model follows profiles and roles (`model.rs`), or reading the account (the
//! handler). Pure, as the rest of this crate.

use crate::mapping::{Analysis, MappedAction, Mapping, Resource};
use crate::model::{BeforeEvent, EntryKey};

/// The name of a profile resource (the last segment of `instance-profile/PATH/NAME`).
fn profile_name(profile: &Resource) -> Option<&str> {
    let at = profile.arn.find(":instance-profile/")? + ":instance-profile/".len();
    profile
        .arn
        .get(at..)?
        .rsplit('/')
        .next()
        .filter(|n| !n.is_empty())
}

/// Whether an action is a role pass (the only action whose resources are roles to resolve).
fn is_pass_role(a: &MappedAction) -> bool {
    a.action.eq_ignore_ascii_case("iam:PassRole")
}

/// The name of a role named without its path (`role/NAME`, the path unknown).
fn pathless_role(r: &Resource) -> Option<&str> {
    let at = r.any_path_at?;
    r.arn
        .get(..at)
        .filter(|p| p.ends_with(":role/"))
        .and(r.arn.get(at..))
}

/// The model entries the event's passes need on top of what the event changes: the instance
/// profiles it passes, and the roles it names without a path.
pub fn entries_needed(mapping: &Mapping) -> Vec<EntryKey> {
    let mut keys: Vec<EntryKey> = Vec::new();
    for a in mapping.actions().iter().filter(|a| is_pass_role(a)) {
        if a.unresolved.is_some() {
            if let Some(name) = a.passed_profile.as_ref().and_then(profile_name) {
                keys.push(EntryKey::instance_profile(name));
            }
        }
        keys.extend(
            a.resources
                .iter()
                .filter_map(pathless_role)
                .map(EntryKey::role),
        );
    }
    keys.sort();
    keys.dedup();
    keys
}

/// Resolves every `iam:PassRole` that passes an instance profile to the role(s) the profile held
/// just before the event, and every role named without a path to its exact ARN, as `before`
/// vouches for them. A profile it cannot resolve keeps its reason, with why the model cannot say
/// added; a role name it cannot resolve stays the name at any path. Idempotent.
pub fn resolve(analysis: &mut Analysis, before: &BeforeEvent) {
    let Mapping::Mapped(actions) = &mut analysis.mapping else {
        return;
    };
    for a in actions.iter_mut().filter(|a| is_pass_role(a)) {
        if let (Some(profile), Some(why)) = (&a.passed_profile, &a.unresolved) {
            match roles_of(profile, before) {
                Ok(roles) => {
                    a.resources = roles;
                    a.unresolved = None;
                }
                Err(cannot) => {
                    a.unresolved = Some(format!(
                        "{why}; the account model cannot tell which role: {cannot}"
                    ))
                }
            }
        }
        for r in &mut a.resources {
            let Some(name) = pathless_role(r) else {
                continue;
            };
            if let Ok(arn) = before.role_arn(name) {
                // The same account and partition, and the name at some path.
                if r.covers(&arn) {
                    *r = Resource::exact(arn);
                }
            }
        }
        a.resources.dedup();
    }
}

/// Offline (`warden plan --account FILE`, the corpora): what an account file vouches for before
/// the event ([`BeforeEvent::from_snapshot`]) with the instance profiles the event passes, and the
/// analysis resolved by it.
pub fn before_from_snapshot(
    event: &crate::event::Event<'_>,
    analysis: &mut Analysis,
    snapshot: &crate::snapshot::Snapshot,
) -> BeforeEvent {
    let before =
        BeforeEvent::from_snapshot_consulting(event, snapshot, &entries_needed(&analysis.mapping));
    resolve(analysis, &before);
    before
}

/// The roles `profile` held before the event, as resources.
fn roles_of(profile: &Resource, before: &BeforeEvent) -> Result<Vec<Resource>, String> {
    let name = profile_name(profile).ok_or("the profile's name does not read")?;
    let (arn, roles) = before.instance_profile(name)?;
    // The model is of the guarded account: the event's profile must be the model's (the same
    // account, and the same path when the event gives one).
    if !profile.covers(&arn) {
        return Err(format!(
            "the model's `instance-profile/{name}` is `{arn}`, not the profile the call passes"
        ));
    }
    if roles.is_empty() {
        return Err(format!(
            "the model shows `{arn}` holding no role just before the event"
        ));
    }
    let prefix = arn
        .find(":instance-profile/")
        .and_then(|at| arn.get(..at))
        .ok_or("the model's profile ARN does not read")?;
    Ok(roles
        .into_iter()
        .map(|(role, role_arn)| match role_arn {
            Some(exact) => Resource::exact(exact),
            None => {
                let arn = format!("{prefix}:role/{role}");
                Resource {
                    any_path_at: Some(arn.len() - role.len()),
                    arn,
                }
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::event::parse_document;
    use crate::mapping::analyse;
    use crate::model::{Known, Source, State};
    use std::collections::BTreeMap;

    const USER: &str = r#""awsRegion":"us-east-1","recipientAccountId":"111122223333","eventTime":"2026-11-22T10:00:00Z","eventID":"e-1","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/mallory","accountId":"111122223333","userName":"mallory"}"#;

    fn run(profile: &str, before: &BeforeEvent) -> (Vec<EntryKey>, Analysis) {
        let json = format!(
            r#"{{"eventSource":"ec2.amazonaws.com","eventName":"RunInstances",{USER},"requestParameters":{{"iamInstanceProfile":{profile}}},"responseElements":{{"instancesSet":{{"items":[{{"instanceId":"i-0new"}}]}}}}}}"#
        );
        let catalog = Catalog::builtin().unwrap();
        let mut out = None;
        parse_document(json.as_bytes(), |_, e| {
            let e = e.unwrap();
            let mut analysis = analyse(&e, &catalog);
            let keys = entries_needed(&analysis.mapping);
            resolve(&mut analysis, before);
            out = Some((keys, analysis));
        });
        out.unwrap()
    }

    fn pass_role(a: &Analysis) -> &crate::mapping::MappedAction {
        a.mapping
            .actions()
            .iter()
            .find(|a| a.action == "iam:PassRole")
            .unwrap()
    }

    fn held(roles: &[(&str, Option<&str>)]) -> BeforeEvent {
        let mut b = BeforeEvent::default();
        b.entries.insert(
            EntryKey::instance_profile("web"),
            Known::State {
                state: State::InstanceProfile {
                    arn: "arn:aws:iam::111122223333:instance-profile/apps/web".to_owned(),
                    roles: roles
                        .iter()
                        .map(|(n, a)| ((*n).to_owned(), a.map(str::to_owned)))
                        .collect::<BTreeMap<_, _>>(),
                },
                since: 0,
                source: Source::Sweep,
            },
        );
        b
    }

    #[test]
    fn a_profile_the_model_vouches_for_passes_its_roles_exact_arn() {
        let before = held(&[("admin", Some("arn:aws:iam::111122223333:role/ops/admin"))]);
        for profile in [
            r#"{"name":"web"}"#,
            r#"{"arn":"arn:aws:iam::111122223333:instance-profile/apps/web"}"#,
        ] {
            let (keys, a) = run(profile, &before);
            assert_eq!(keys, vec![EntryKey::instance_profile("web")]);
            let pass = pass_role(&a);
            assert_eq!(pass.unresolved, None, "{profile}");
            assert_eq!(
                pass.resources,
                vec![Resource::exact("arn:aws:iam::111122223333:role/ops/admin")]
            );
        }
        // A role learned from `AddRoleToInstanceProfile` (no path): the name at any path.
        let (_, a) = run(r#"{"name":"web"}"#, &held(&[("admin", None)]));
        assert_eq!(
            pass_role(&a).resources[0].patterns(),
            vec![
                "arn:aws:iam::111122223333:role/admin".to_owned(),
                "arn:aws:iam::111122223333:role/*/admin".to_owned()
            ]
        );
    }

    #[test]
    fn a_role_named_without_its_path_gets_the_models_exact_arn() {
        let json = format!(
            r#"{{"eventSource":"datapipeline.amazonaws.com","eventName":"PutPipelineDefinition",{USER},"requestParameters":{{"pipelineId":"df-1","pipelineObjects":[{{"id":"Default","fields":[{{"key":"role","stringValue":"admin"}},{{"key":"resourceRole","stringValue":"unknown"}}]}}]}}}}"#
        );
        let catalog = Catalog::builtin().unwrap();
        let mut before = BeforeEvent::default();
        before.entries.insert(
            EntryKey::role("admin"),
            Known::State {
                state: State::Role {
                    arn: "arn:aws:iam::111122223333:role/ops/admin".to_owned(),
                    trust: None,
                    inline: BTreeMap::new(),
                    attached: std::collections::BTreeSet::new(),
                    boundary: None,
                    last_used: None,
                },
                since: 0,
                source: Source::Sweep,
            },
        );
        parse_document(json.as_bytes(), |_, e| {
            let e = e.unwrap();
            let mut analysis = analyse(&e, &catalog);
            assert_eq!(
                entries_needed(&analysis.mapping),
                vec![EntryKey::role("admin"), EntryKey::role("unknown")]
            );
            resolve(&mut analysis, &before);
            let passed: Vec<&Resource> = analysis
                .mapping
                .actions()
                .iter()
                .filter(|a| a.action == "iam:PassRole")
                .flat_map(|a| &a.resources)
                .collect();
            assert_eq!(
                passed[0],
                &Resource::exact("arn:aws:iam::111122223333:role/ops/admin")
            );
            // The model does not know it: still the name at any path.
            assert!(passed[1].any_path_at.is_some());
            assert!(passed[1].arn.ends_with(":role/unknown"));
        });
    }

    #[test]
    fn a_profile_the_model_cannot_vouch_for_stays_unresolved_with_the_reason() {
        let cases = [
            (r#"{"name":"web"}"#, BeforeEvent::default(), "was not asked"),
            (r#"{"name":"web"}"#, held(&[]), "holding no role"),
            // Another path (or account) than the model's profile of that name.
            (
                r#"{"arn":"arn:aws:iam::111122223333:instance-profile/web"}"#,
                held(&[("admin", Some("arn:aws:iam::111122223333:role/admin"))]),
                "not the profile the call passes",
            ),
        ];
        for (profile, before, want) in cases {
            let (_, a) = run(profile, &before);
            let pass = pass_role(&a);
            assert!(pass.resources.is_empty());
            let why = pass.unresolved.as_deref().unwrap();
            assert!(why.contains("the call passes instance profile"), "{why}");
            assert!(why.contains(want), "{why}");
        }
        let mut unknown = BeforeEvent::default();
        unknown.entries.insert(
            EntryKey::instance_profile("web"),
            Known::Unknown {
                why: "the model has no entry `instance-profile/web`".to_owned(),
            },
        );
        let (_, a) = run(r#"{"name":"web"}"#, &unknown);
        assert!(pass_role(&a)
            .unresolved
            .as_deref()
            .unwrap()
            .contains("the model has no entry `instance-profile/web`"));
    }
}
