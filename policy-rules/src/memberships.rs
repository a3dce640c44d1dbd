//! Group memberships known for an offline replay or a decision: a JSON map from user name or ARN to
//! group names, or the output of `aws iam get-account-authorization-details` (its `UserDetailList`
//! with `GroupList`). A user the snapshot does not mention has *unknown* groups, never "no groups":
//! the decision treats unknown as "cannot tell" and alerts rather than guess.

use crate::caller::Caller;
use serde::Deserialize;
use std::collections::HashMap;

/// Memberships by user ARN and by user name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Memberships {
    by_arn: HashMap<String, Vec<String>>,
    by_name: HashMap<String, Vec<String>>,
}

/// A memberships document that does not read.
#[derive(Debug, thiserror::Error)]
pub enum MembershipsError {
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("expected a JSON object mapping a user name or ARN to an array of group names, or the output of `aws iam get-account-authorization-details`")]
    Shape,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Gaad {
    user_detail_list: Vec<GaadUser>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GaadUser {
    user_name: String,
    arn: Option<String>,
    #[serde(default)]
    group_list: Vec<String>,
}

impl Memberships {
    /// Parses either accepted shape.
    pub fn parse(text: &str) -> Result<Self, MembershipsError> {
        let value: serde_json::Value = serde_json::from_str(text)?;
        let mut m = Memberships::default();
        if value.get("UserDetailList").is_some() {
            let gaad: Gaad = serde_json::from_value(value)?;
            for u in gaad.user_detail_list {
                if let Some(arn) = u.arn {
                    m.by_arn.insert(arn, u.group_list.clone());
                }
                m.by_name.insert(u.user_name, u.group_list);
            }
            return Ok(m);
        }
        let map: HashMap<String, Vec<String>> =
            serde_json::from_value(value).map_err(|_| MembershipsError::Shape)?;
        for (k, v) in map {
            if k.starts_with("arn:") {
                m.by_arn.insert(k, v);
            } else {
                m.by_name.insert(k, v);
            }
        }
        Ok(m)
    }

    /// Adds one user's groups.
    pub fn insert(&mut self, user: &str, groups: Vec<String>) {
        if user.starts_with("arn:") {
            self.by_arn.insert(user.to_owned(), groups);
        } else {
            self.by_name.insert(user.to_owned(), groups);
        }
    }

    /// The groups of an IAM-user caller (or the user behind a federation token), if known.
    pub fn groups_of(&self, caller: &Caller) -> Option<&[String]> {
        let by_arn = caller
            .principal_arn
            .as_deref()
            .filter(|_| caller.path_known)
            .and_then(|a| self.by_arn.get(a));
        by_arn
            .or_else(|| caller.name.as_deref().and_then(|n| self.by_name.get(n)))
            .map(Vec::as_slice)
    }

    pub fn len(&self) -> usize {
        self.by_name.len().max(self.by_arn.len())
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty() && self.by_arn.is_empty()
    }
}

/// A user's groups as they were before `event`, from its groups read live after it: the event's own
/// membership change (`AddUserToGroup` or `RemoveUserFromGroup` of that user, when it succeeded) is
/// taken back, so a user adding itself to an allowed group is judged without that group. Changes
/// made by other events between this one and the live read cannot be seen here.
pub fn groups_before(
    event: &crate::event::Event<'_>,
    user_name: &str,
    live: &[String],
) -> Vec<String> {
    let mut groups: Vec<String> = live.to_vec();
    let params: Option<serde_json::Value> = event
        .record
        .request_parameters
        .and_then(|r| serde_json::from_str(r.get()).ok());
    let field = |k: &str| {
        params
            .as_ref()
            .and_then(|p| p.get(k))
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    let succeeded = event.record.error_code.is_none();
    if event.source() == "iam.amazonaws.com"
        && succeeded
        && field("userName").as_deref() == Some(user_name)
    {
        if let Some(group) = field("groupName") {
            match event.name() {
                "AddUserToGroup" => groups.retain(|g| *g != group),
                "RemoveUserFromGroup" if !groups.contains(&group) => groups.push(group),
                _ => {}
            }
        }
    }
    groups.sort();
    groups.dedup();
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_gaad_and_plain_maps() {
        let m = Memberships::parse(r#"{"UserDetailList":[{"UserName":"obama","Arn":"arn:aws:iam::1:user/obama","GroupList":["admin"]}],"RoleDetailList":[]}"#).unwrap();
        assert_eq!(m.by_name["obama"], vec!["admin"]);
        let m = Memberships::parse(r#"{"bob":["Administrators"],"arn:aws:iam::1:user/x/eve":[]}"#)
            .unwrap();
        assert_eq!(m.by_arn["arn:aws:iam::1:user/x/eve"], Vec::<String>::new());
        assert!(matches!(
            Memberships::parse("[1]"),
            Err(MembershipsError::Shape)
        ));
    }
}
