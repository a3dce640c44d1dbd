//! The organization policies a sweep applies to the swept account: the service control policies
//! (SCPs) and resource control policies (RCPs) on the path from the organization's root through
//! its OUs to the account, and the organization's management account (neither applies to it).
//! The owned set, the JSON file it is read from, and its borrowed form for `evaluate`. Parsing and
//! borrowing only: the evaluator applies them (`evaluate::OrgPolicies`), and what they do not
//! apply to (the management account, service-linked roles, RCPs outside their services) is its
//! rule, not this file's.
//!
//! A sweep judges one account's principals on that account's resources, so both lists are the
//! swept account's: its SCPs cap its principals, its RCPs cap requests to its resources.
//!
//! The file (README, "warden sweep"):
//!
//! ```json
//! {"account": "111122223333", "management_account": "999988887777",
//!  "scps": [[{"name": "FullAWSAccess", "policy": {"Statement": [...]}}],
//!           [{"name": "DenyLeavingOrg", "policy": "{\"Statement\": ...}"}],
//!           [{"name": "FullAWSAccess", "policy": {...}}]],
//!  "rcps": [[{"name": "RCPFullAWSAccess", "policy": {...}}]]}
//! ```
//!
//! `scps` and `rcps` are lists of levels, the organization's root first, then each OU down to the
//! account; each level lists the policies attached there, each with its name (for reasons and
//! evidence) and its document, as a JSON object or as the string `aws organizations
//! describe-policy` prints as `Content`. Either list may be left out, not both.
//!
//! Fail-safe choice: a level with no policies is an error, not "allows nothing" (AWS requires at
//! least one policy attached at every level, "Attaching and detaching service control policies",
//! AWS Organizations user guide, and a file that lists none there is more likely wrong than an
//! organization that denies everything).

use super::input::InputError;
use crate::evaluate::{NamedPolicy, OrgPolicies};
use crate::policy::{PolicyDocument, Principals, Scope};
use serde_json::Value;

/// One policy attached at one level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgPolicy {
    /// The policy's name, as reasons and evidence cite it.
    pub name: String,
    pub document: PolicyDocument,
}

/// The organization policies on the path to one account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrgPolicySet {
    /// The organization's management account: neither SCPs nor RCPs apply to it.
    pub management_account: Option<String>,
    /// The account these levels lead to, when the file says: a sweep of another account refuses
    /// the file (`check_account`) rather than judge it by another account's policies.
    pub account: Option<String>,
    /// Root → OUs → account: the SCPs attached at each level. Empty: none given (none apply).
    pub scps: Vec<Vec<OrgPolicy>>,
    /// Root → OUs → account: the RCPs attached at each level. Empty: none given (none apply).
    pub rcps: Vec<Vec<OrgPolicy>>,
}

impl OrgPolicySet {
    /// Parses the organization policies file (the format is in this file's opening and the
    /// README). Errors name the list, the level and the policy: ``scps` level 1, policy 0
    /// (`DenyAll`): `policy`: …`; the caller names the file.
    pub fn parse(text: &str) -> Result<Self, InputError> {
        let v: Value = serde_json::from_str(text).map_err(|e| InputError::Json(e.to_string()))?;
        let Value::Object(obj) = v else {
            return Err(InputError::Shape(
                "not an object of organization policies (`{\"scps\": [[…]], \"rcps\": [[…]]}`)"
                    .to_owned(),
            ));
        };
        if let Some(k) = obj.keys().find(|k| {
            !matches!(
                k.as_str(),
                "account" | "management_account" | "scps" | "rcps"
            )
        }) {
            return Err(InputError::Shape(format!(
                "unknown field `{k}`: expected `account`, `management_account`, `scps` or `rcps`"
            )));
        }
        if !obj.contains_key("scps") && !obj.contains_key("rcps") {
            return Err(InputError::Shape(
                "neither `scps` nor `rcps`: no organization policies to apply".to_owned(),
            ));
        }
        Ok(OrgPolicySet {
            management_account: account_field(&obj, "management_account")?,
            account: account_field(&obj, "account")?,
            scps: levels("scps", obj.get("scps"))?,
            rcps: levels("rcps", obj.get("rcps"))?,
        })
    }

    /// Refuses the file for a sweep of `swept` when it names another account (`account`). A file
    /// that names none is taken as the swept account's (the README says so).
    pub fn check_account(&self, swept: &str) -> Result<(), InputError> {
        match &self.account {
            Some(a) if a != swept => Err(InputError::Shape(format!(
                "`account`: the levels lead to `{a}`, but the swept account is `{swept}`: another account's organization policies would judge it wrongly"
            ))),
            _ => Ok(()),
        }
    }
}

/// An optional 12-digit account id field (`account`, `management_account`).
fn account_field(
    obj: &serde_json::Map<String, Value>,
    key: &str,
) -> Result<Option<String>, InputError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(a)) if is_account_id(a) => Ok(Some(a.clone())),
        Some(Value::String(a)) => Err(InputError::Shape(format!(
            "`{key}`: `{a}` is not a 12-digit account id"
        ))),
        Some(other) => Err(InputError::Shape(format!(
            "`{key}`: `{other}` is not a 12-digit account id"
        ))),
    }
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// One list (`scps` or `rcps`): levels of policies, root first.
fn levels(list: &str, v: Option<&Value>) -> Result<Vec<Vec<OrgPolicy>>, InputError> {
    let shape = |message: String| InputError::Shape(message);
    let items = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(shape(format!(
                "`{list}`: not a list of levels (the organization's root first, then each OU, then the account)"
            )))
        }
    };
    let mut out = Vec::with_capacity(items.len());
    for (level, item) in items.iter().enumerate() {
        let Value::Array(policies) = item else {
            return Err(shape(format!(
                "`{list}` level {level}: not a list of policies (`[{{\"name\": …, \"policy\": …}}]`)"
            )));
        };
        if policies.is_empty() {
            return Err(shape(format!(
                "`{list}` level {level}: no policies (AWS attaches at least one at every level; a level with none would allow nothing)"
            )));
        }
        let mut at = Vec::with_capacity(policies.len());
        for (index, p) in policies.iter().enumerate() {
            at.push(policy(list, level, index, p)?);
        }
        out.push(at);
    }
    Ok(out)
}

/// One `{"name": …, "policy": …}` entry.
fn policy(list: &str, level: usize, index: usize, v: &Value) -> Result<OrgPolicy, InputError> {
    let name = v.get("name").and_then(Value::as_str);
    let place = match name {
        Some(n) => format!("`{list}` level {level}, policy {index} (`{n}`)"),
        None => format!("`{list}` level {level}, policy {index}"),
    };
    let err = |message: &str| InputError::Shape(format!("{place}: {message}"));
    let Value::Object(obj) = v else {
        return Err(err("not an object (`{\"name\": …, \"policy\": …}`)"));
    };
    if let Some(k) = obj
        .keys()
        .find(|k| !matches!(k.as_str(), "name" | "policy"))
    {
        return Err(err(&format!(
            "unknown field `{k}`: expected `name` and `policy`"
        )));
    }
    let name = name.ok_or_else(|| err("no `name` (a string)"))?;
    let doc = obj.get("policy").ok_or_else(|| err("no `policy`"))?;
    let document = PolicyDocument::from_value(doc).map_err(|e| err(&format!("`policy`: {e}")))?;
    Ok(OrgPolicy {
        name: name.to_owned(),
        document,
    })
}

/// One list's levels borrowed as `evaluate` takes them (built once a sweep).
pub(crate) fn named(levels: &[Vec<OrgPolicy>]) -> Vec<Vec<NamedPolicy<'_>>> {
    levels
        .iter()
        .map(|l| l.iter().map(|p| (p.name.as_str(), &p.document)).collect())
        .collect()
}

/// The organization policies every evaluation of a sweep passes: `None` when none were given
/// (the evaluation is then exactly as without organization policies).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct OrgGates<'a> {
    pub(crate) scps: Option<OrgPolicies<'a>>,
    pub(crate) rcps: Option<OrgPolicies<'a>>,
    /// Some statement's answer may differ by principal (a condition, a policy variable, a
    /// `Principal` other than `*`): principals with the same documents are then not allowed the
    /// same, and each is evaluated on its own.
    pub(crate) principal_specific: bool,
}

impl<'a> OrgGates<'a> {
    pub(crate) fn new(
        set: Option<&'a OrgPolicySet>,
        scps: &'a [&'a [NamedPolicy<'a>]],
        rcps: &'a [&'a [NamedPolicy<'a>]],
    ) -> Self {
        let Some(set) = set else {
            return OrgGates::default();
        };
        let gate = |levels: &'a [&'a [NamedPolicy<'a>]]| {
            (!levels.is_empty()).then_some(OrgPolicies {
                levels,
                management_account: set.management_account.as_deref(),
            })
        };
        let principal_specific = set.scps.iter().chain(&set.rcps).flatten().any(|p| {
            p.document.statements.iter().any(|st| {
                !st.condition.is_empty()
                    || matches!(&st.resource, Some(Scope::Only(r) | Scope::Not(r)) if r.iter().any(|x| x.contains("${")))
                    || !matches!(&st.principal, None | Some(Scope::Only(Principals::Any)))
            })
        });
        OrgGates {
            scps: gate(scps),
            rcps: gate(rcps),
            principal_specific,
        }
    }

    /// Whether any organization policy applies.
    pub(crate) fn is_some(&self) -> bool {
        self.scps.is_some() || self.rcps.is_some()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    const FULL: &str = r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#;

    #[test]
    fn levels_root_first_with_policies_as_objects_or_strings() {
        let text = format!(
            r#"{{"management_account":"999988887777",
                "scps":[[{{"name":"FullAWSAccess","policy":{FULL}}}],
                        [{{"name":"FullAWSAccess","policy":{FULL}}},{{"name":"DenyS3","policy":"{{\"Statement\":{{\"Effect\":\"Deny\",\"Action\":\"s3:*\",\"Resource\":\"*\"}}}}"}}]],
                "rcps":[[{{"name":"RCPFullAWSAccess","policy":{{"Statement":{{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}}}}}]]}}"#
        );
        let set = OrgPolicySet::parse(&text).unwrap();
        assert_eq!(set.management_account.as_deref(), Some("999988887777"));
        assert_eq!(set.scps.len(), 2);
        assert_eq!(set.scps[1].len(), 2);
        assert_eq!(set.scps[1][1].name, "DenyS3");
        assert_eq!(
            set.scps[1][1].document.statements[0].action,
            Scope::Only(vec!["s3:*".to_owned()])
        );
        assert_eq!(set.rcps.len(), 1);
        // Only one list is enough; `null` is none.
        let only = OrgPolicySet::parse(&format!(
            r#"{{"rcps":null,"scps":[[{{"name":"F","policy":{FULL}}}]]}}"#
        ))
        .unwrap();
        assert_eq!(
            (only.scps.len(), only.rcps.len(), only.management_account),
            (1, 0, None)
        );
    }

    #[test]
    fn the_readme_example_reads() {
        let readme = include_str!("../../../README.md");
        let at = readme.find("**The organization policies file**").unwrap();
        let block = readme[at..]
            .split_once("```json\n")
            .unwrap()
            .1
            .split_once("```")
            .unwrap()
            .0;
        let set = OrgPolicySet::parse(block).unwrap();
        assert_eq!(set.management_account.as_deref(), Some("999988887777"));
        assert_eq!(set.account.as_deref(), Some("111122223333"));
        assert_eq!(set.account.as_deref(), Some("111122223333"));
        assert_eq!(set.scps.iter().map(Vec::len).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(set.scps[1][1].name, "DenyLeaving");
        assert_eq!(set.rcps.len(), 1);
    }

    #[test]
    fn errors_name_the_list_the_level_and_the_policy() {
        let e = |text: &str| OrgPolicySet::parse(text).unwrap_err().to_string();
        assert!(
            e("{\"scps\": [").starts_with("invalid JSON: "),
            "{}",
            e("{\"scps\": [")
        );
        assert!(
            e("[]").contains("not an object of organization policies"),
            "{}",
            e("[]")
        );
        assert_eq!(
            e("{}"),
            "neither `scps` nor `rcps`: no organization policies to apply"
        );
        assert_eq!(
            e(r#"{"scp":[]}"#),
            "unknown field `scp`: expected `account`, `management_account`, `scps` or `rcps`"
        );
        assert!(e(r#"{"scps":{"name":"x"}}"#).starts_with("`scps`: not a list of levels"));
        let level = e(&format!(
            r#"{{"scps":[[{{"name":"F","policy":{FULL}}}],{{"name":"F","policy":{FULL}}}]}}"#
        ));
        assert!(
            level.starts_with("`scps` level 1: not a list of policies"),
            "{level}"
        );
        let empty = e(r#"{"rcps":[[]]}"#);
        assert!(empty.starts_with("`rcps` level 0: no policies"), "{empty}");
        let bad = e(&format!(
            r#"{{"scps":[[{{"name":"F","policy":{FULL}}}],[{{"name":"DenyAll","policy":{{"Statement":7}}}}]]}}"#
        ));
        assert_eq!(
            bad,
            "`scps` level 1, policy 0 (`DenyAll`): `policy`: `Statement` must be an object or an array"
        );
        let not_json = e(r#"{"scps":[[{"name":"S","policy":"{not json"}]]}"#);
        assert!(
            not_json.starts_with("`scps` level 0, policy 0 (`S`): `policy`: not JSON: "),
            "{not_json}"
        );
        assert_eq!(
            e(&format!(r#"{{"scps":[[{{"policy":{FULL}}}]]}}"#)),
            "`scps` level 0, policy 0: no `name` (a string)"
        );
        assert_eq!(
            e(r#"{"scps":[[{"name":"F"}]]}"#),
            "`scps` level 0, policy 0 (`F`): no `policy`"
        );
        assert_eq!(
            e(&format!(
                r#"{{"scps":[[{{"name":"F","Content":{FULL}}}]]}}"#
            )),
            "`scps` level 0, policy 0 (`F`): unknown field `Content`: expected `name` and `policy`"
        );
        assert_eq!(
            e(&format!(
                r#"{{"management_account":"12","scps":[[{{"name":"F","policy":{FULL}}}]]}}"#
            )),
            "`management_account`: `12` is not a 12-digit account id"
        );
        assert_eq!(
            e(&format!(
                r#"{{"account":1111,"scps":[[{{"name":"F","policy":{FULL}}}]]}}"#
            )),
            "`account`: `1111` is not a 12-digit account id"
        );
    }

    #[test]
    fn a_file_for_another_account_is_refused_and_one_naming_none_is_taken() {
        let file = |account: &str| {
            OrgPolicySet::parse(&format!(
                r#"{{{account}"scps":[[{{"name":"F","policy":{FULL}}}]]}}"#
            ))
            .unwrap()
        };
        let ours = file(r#""account":"111122223333","#);
        assert_eq!(ours.account.as_deref(), Some("111122223333"));
        assert!(ours.check_account("111122223333").is_ok());
        assert_eq!(
            ours.check_account("444455556666").unwrap_err().to_string(),
            "`account`: the levels lead to `111122223333`, but the swept account is `444455556666`: another account's organization policies would judge it wrongly"
        );
        assert!(file("").check_account("444455556666").is_ok());
    }

    #[test]
    fn gates_are_none_without_policies_and_say_when_answers_differ_by_principal() {
        let none = OrgGates::new(None, &[], &[]);
        assert!(!none.is_some() && !none.principal_specific);
        let plain =
            OrgPolicySet::parse(&format!(r#"{{"scps":[[{{"name":"F","policy":{FULL}}}]]}}"#))
                .unwrap();
        let named_scps = named(&plain.scps);
        let refs: Vec<&[NamedPolicy<'_>]> = named_scps.iter().map(Vec::as_slice).collect();
        let g = OrgGates::new(Some(&plain), &refs, &[]);
        assert!(g.scps.is_some() && g.rcps.is_none() && !g.principal_specific);
        let conditional = OrgPolicySet::parse(
            r#"{"scps":[[{"name":"DenyUnlessAdmin","policy":{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/admin"}}}}}]]}"#,
        )
        .unwrap();
        let named_c = named(&conditional.scps);
        let refs_c: Vec<&[NamedPolicy<'_>]> = named_c.iter().map(Vec::as_slice).collect();
        assert!(OrgGates::new(Some(&conditional), &refs_c, &[]).principal_specific);
    }
}
