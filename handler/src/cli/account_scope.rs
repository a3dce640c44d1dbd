//! Which AWS account a `--groups` or `--account` file describes, and what of it applies to an event.
//! An account dump (`aws iam get-account-authorization-details`) describes the account its ARNs name;
//! a `--groups` map entry keyed by a full ARN belongs to that ARN's account, one keyed by a user name
//! to none in particular. For an event of account X only X's entries (and the unscoped ones) apply:
//! `Administrators` in another account is another group, and an account dump of another account
//! tells nothing about this one's principals. An event whose account is unknown is judged with
//! everything, as nothing says the file is of another account.
//!
//! What a membership means for a decision is `policy_rules::memberships`' business; this file only
//! sorts entries by account, in the CLI, before they are asked.

use policy_rules::caller::Caller;
use policy_rules::memberships::{Memberships, MembershipsError};
use policy_rules::snapshot::Snapshot;
use std::collections::{BTreeMap, BTreeSet};

/// The account of an ARN (`arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`), when it names one (the
/// AWS-managed policies' `aws` does not).
pub fn arn_account(arn: &str) -> Option<&str> {
    let account = arn.strip_prefix("arn:")?.split(':').nth(3)?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then_some(account)
}

/// The accounts named by the ARNs of an account dump's users, roles and groups.
pub fn snapshot_accounts(snapshot: &Snapshot) -> BTreeSet<String> {
    let users = snapshot.users.values().map(|u| u.arn.as_str());
    let roles = snapshot.roles.values().map(|r| r.arn.as_str());
    let groups = snapshot.groups.values().map(|g| g.arn.as_str());
    users
        .chain(roles)
        .chain(groups)
        .filter_map(arn_account)
        .map(str::to_owned)
        .collect()
}

/// `accounts` as people read them: `` `A` `` or `` `A`, `B` ``.
pub fn list_accounts<'a>(accounts: impl IntoIterator<Item = &'a String>) -> String {
    accounts
        .into_iter()
        .map(|a| format!("`{a}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Group memberships sorted by the account they belong to.
#[derive(Debug, Clone, Default)]
pub struct ScopedMemberships {
    /// Entries that name no account (user names): they apply to every event.
    unscoped: Memberships,
    /// Entries of one account (full ARNs, or a whole account dump), by account.
    by_account: BTreeMap<String, Memberships>,
}

impl ScopedMemberships {
    /// Reads what `Memberships::parse` reads (a JSON map or an account dump), each entry kept with
    /// its account.
    pub fn parse(text: &str) -> Result<Self, MembershipsError> {
        // Parsed whole first, so a file that does not read fails as it always did.
        let whole = Memberships::parse(text)?;
        let value: serde_json::Value = serde_json::from_str(text)?;
        if value.get("UserDetailList").is_some() {
            let accounts: BTreeSet<&str> = ["UserDetailList", "RoleDetailList", "GroupDetailList"]
                .iter()
                .filter_map(|list| value.get(list).and_then(serde_json::Value::as_array))
                .flatten()
                .filter_map(|p| p.get("Arn").and_then(serde_json::Value::as_str))
                .filter_map(arn_account)
                .collect();
            // A dump whose ARNs name no account cannot be placed: it applies everywhere, as before.
            if accounts.is_empty() {
                return Ok(ScopedMemberships {
                    unscoped: whole,
                    by_account: BTreeMap::new(),
                });
            }
            let by_account = accounts
                .into_iter()
                .map(|a| (a.to_owned(), whole.clone()))
                .collect();
            return Ok(ScopedMemberships {
                unscoped: Memberships::default(),
                by_account,
            });
        }
        let map: BTreeMap<String, Vec<String>> =
            serde_json::from_value(value).map_err(|_| MembershipsError::Shape)?;
        let mut scoped = ScopedMemberships::default();
        for (user, groups) in map {
            match arn_account(&user) {
                Some(account) => scoped
                    .by_account
                    .entry(account.to_owned())
                    .or_default()
                    .insert(&user, groups),
                None => scoped.unscoped.insert(&user, groups),
            }
        }
        Ok(scoped)
    }

    /// The accounts some entries belong to.
    pub fn accounts(&self) -> impl Iterator<Item = &String> {
        self.by_account.keys()
    }

    /// Whether entries of one account exist and none are of `account`: the file describes other
    /// accounts, and nothing of them applies to an event of `account`.
    pub fn only_other_accounts(&self, account: Option<&str>) -> bool {
        account.is_some_and(|a| !self.by_account.is_empty() && !self.by_account.contains_key(a))
    }

    /// The groups of `caller` in an event of `account`, if known: from that account's entries, else
    /// from the unscoped ones. For an unknown account every entry is asked.
    pub fn groups_of(&self, account: Option<&str>, caller: &Caller) -> Option<&[String]> {
        let scoped = match account {
            Some(a) => self.by_account.get(a).and_then(|m| m.groups_of(caller)),
            None => self.by_account.values().find_map(|m| m.groups_of(caller)),
        };
        scoped.or_else(|| self.unscoped.groups_of(caller))
    }
}

/// A `--groups` file: its name, for warnings, and its entries by account.
#[derive(Debug, Clone)]
pub struct GroupsFile {
    pub name: String,
    pub memberships: ScopedMemberships,
}

/// An `--account` file (`aws iam get-account-authorization-details`): its name, its policies and
/// paths, its groups, and the accounts its ARNs name.
#[derive(Debug, Clone)]
pub struct AccountFile {
    pub name: String,
    pub snapshot: Snapshot,
    pub memberships: ScopedMemberships,
    accounts: BTreeSet<String>,
}

impl AccountFile {
    pub fn new(name: String, snapshot: Snapshot, memberships: ScopedMemberships) -> Self {
        let accounts = snapshot_accounts(&snapshot);
        AccountFile {
            name,
            snapshot,
            memberships,
            accounts,
        }
    }

    /// The accounts its ARNs name (none when it names none).
    pub fn accounts(&self) -> &BTreeSet<String> {
        &self.accounts
    }

    /// Whether it describes `account`: it names that account, or none at all (it cannot tell).
    pub fn describes(&self, account: &str) -> bool {
        self.accounts.is_empty() || self.accounts.contains(account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_name_their_account_and_aws_policies_none() {
        assert_eq!(
            arn_account("arn:aws:iam::111122223333:user/dev/mallory"),
            Some("111122223333")
        );
        assert_eq!(
            arn_account("arn:aws-cn:iam::111122223333:role/x"),
            Some("111122223333")
        );
        assert_eq!(
            arn_account("arn:aws:iam::aws:policy/AdministratorAccess"),
            None
        );
        assert_eq!(arn_account("arn:aws:s3:::bucket"), None);
        assert_eq!(arn_account("mallory"), None);
    }

    #[test]
    fn map_entries_keep_their_account_and_names_apply_everywhere() {
        let m = ScopedMemberships::parse(
            r#"{"arn:aws:iam::111122223333:user/bob":["Administrators"],"carol":["Ops"]}"#,
        )
        .unwrap();
        assert_eq!(m.accounts().collect::<Vec<_>>(), ["111122223333"]);
        assert!(m.only_other_accounts(Some("444455556666")));
        assert!(!m.only_other_accounts(Some("111122223333")));
        assert!(!m.only_other_accounts(None));
        let dump = ScopedMemberships::parse(r#"{"UserDetailList":[{"UserName":"bob","Arn":"arn:aws:iam::111122223333:user/bob","GroupList":["Administrators"]}]}"#).unwrap();
        assert!(dump.only_other_accounts(Some("444455556666")));
        let unplaced =
            ScopedMemberships::parse(r#"{"UserDetailList":[{"UserName":"bob","GroupList":[]}]}"#)
                .unwrap();
        assert!(!unplaced.only_other_accounts(Some("444455556666")));
        assert!(ScopedMemberships::parse("[1]").is_err());
    }
}
