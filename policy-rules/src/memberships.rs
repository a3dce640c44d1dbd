//! Group memberships known for an offline replay or a decision: a JSON map from user name or ARN to
//! group names, or the output of `aws iam get-account-authorization-details` (its `UserDetailList`
//! with `GroupList`). A user the snapshot does not mention has *unknown* groups, never "no groups":
//! the decision treats unknown as "cannot tell" and alerts rather than guess.

use crate::caller::{Caller, CallerKind};
use serde::Deserialize;
use std::collections::HashMap;

/// Memberships by user ARN and by user name. A name from an account dump keeps the dump's account
/// (from the user's ARN); a bare name in a plain map means a user of the account the event acted
/// in. Either way they apply only to IAM users of that account, never to a caller of another
/// account that happens to share a name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Memberships {
    by_arn: HashMap<String, Vec<String>>,
    /// Name → (the account it belongs to, when known; its groups).
    by_name: HashMap<String, (Option<String>, Vec<String>)>,
}

fn account_of(arn: &str) -> Option<String> {
    crate::arn::Arn::parse(arn).map(|a| a.account.to_owned())
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
                let account = u.arn.as_deref().and_then(account_of);
                if let Some(arn) = u.arn {
                    m.by_arn.insert(arn, u.group_list.clone());
                }
                m.by_name.insert(u.user_name, (account, u.group_list));
            }
            return Ok(m);
        }
        let map: HashMap<String, Vec<String>> =
            serde_json::from_value(value).map_err(|_| MembershipsError::Shape)?;
        for (k, v) in map {
            m.insert(&k, v);
        }
        Ok(m)
    }

    /// Adds one user's groups.
    pub fn insert(&mut self, user: &str, groups: Vec<String>) {
        if user.starts_with("arn:") {
            self.by_arn.insert(user.to_owned(), groups);
        } else {
            self.by_name.insert(user.to_owned(), (None, groups));
        }
    }

    /// The groups of an IAM-user caller (or the user behind a federation token) of the account the
    /// call acted in, if known; `None` for every other caller (a principal of another account is
    /// never judged with the groups of a local user of the same name).
    pub fn groups_of(&self, caller: &Caller) -> Option<&[String]> {
        if !matches!(caller.kind, CallerKind::IamUser | CallerKind::FederatedUser) {
            return None;
        }
        let by_arn = caller
            .principal_arn
            .as_deref()
            .filter(|_| caller.path_known)
            .and_then(|a| self.by_arn.get(a));
        by_arn
            .or_else(|| {
                let (account, groups) = self.by_name.get(caller.name.as_deref()?)?;
                let same = account.is_none() || *account == caller.account;
                same.then_some(groups)
            })
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
        assert_eq!(m.by_name["obama"].1, vec!["admin"]);
        let m = Memberships::parse(r#"{"bob":["Administrators"],"arn:aws:iam::1:user/x/eve":[]}"#)
            .unwrap();
        assert_eq!(m.by_arn["arn:aws:iam::1:user/x/eve"], Vec::<String>::new());
        assert!(matches!(
            Memberships::parse("[1]"),
            Err(MembershipsError::Shape)
        ));
    }

    fn caller(recipient: &str, user: &str) -> Caller {
        let json = format!(
            r#"{{"eventSource":"iam.amazonaws.com","eventName":"X","recipientAccountId":"{recipient}","userIdentity":{{"type":"IAMUser","arn":"{user}","accountId":"{}"}}}}"#,
            crate::arn::Arn::parse(user).unwrap().account
        );
        let mut out = None;
        crate::event::parse_document(json.as_bytes(), |_, e| {
            out = Some(crate::caller::classify(&e.unwrap()));
        });
        out.unwrap()
    }

    #[test]
    fn memberships_apply_only_to_users_of_the_account_the_call_acted_in() {
        let dump = Memberships::parse(r#"{"UserDetailList":[{"UserName":"admin","Arn":"arn:aws:iam::111122223333:user/admin","GroupList":["Administrators"]}]}"#).unwrap();
        let plain = Memberships::parse(r#"{"admin":["Administrators"]}"#).unwrap();
        let local = caller("111122223333", "arn:aws:iam::111122223333:user/admin");
        // A user of another account named like a local admin, acting in ours or in its own.
        let foreign = caller("111122223333", "arn:aws:iam::222233334444:user/admin");
        let at_home = caller("222233334444", "arn:aws:iam::222233334444:user/admin");
        for m in [&dump, &plain] {
            assert_eq!(
                m.groups_of(&local),
                Some(&["Administrators".to_owned()][..])
            );
            assert_eq!(m.groups_of(&foreign), None);
        }
        // The dump is of account 1111…: its names are not another account's users.
        assert_eq!(dump.groups_of(&at_home), None);
        // A bare name means a user of the account the call acted in.
        assert_eq!(
            plain.groups_of(&at_home),
            Some(&["Administrators".to_owned()][..])
        );
    }
}
