//! The account model's users' console passwords and access keys from the sweep's credential
//! report: `GetAccountAuthorizationDetails` carries neither, and the sweep makes no per-user calls.
//!
//! - A user's `login_profile` is the report's `password_enabled`.
//! - A user with no key in either slot (`access_key_N_last_rotated` is `N/A`) has no keys. The
//!   report does not give key ids, so keys the model knows from events are kept while their
//!   number and statuses agree with the report, and become unknown (`None`) when they do not.
//! - A user whose entry changed by an event after the report was generated is left alone: the
//!   event is newer. A user is found by its full ARN (path included), never by name.

use super::input::{CredentialReport, CredentialRow, Stamp};
use crate::model::{Entry, Source, State};
use std::collections::BTreeMap;

/// The user entries of `entries` that the report corrects, each with its new state recorded as
/// read at `at` by the sweep.
pub fn credentials_in_model(entries: &[Entry], report: &CredentialReport, at: i64) -> Vec<Entry> {
    let rows: BTreeMap<&str, &CredentialRow> =
        report.rows.iter().map(|r| (r.arn.as_str(), r)).collect();
    let generated = report.generated.map(|g| g.timestamp());
    let mut out = Vec::new();
    for entry in entries {
        let Some(latest) = entry.latest() else {
            continue;
        };
        let State::User {
            arn,
            keys,
            login_profile,
            ..
        } = &latest.state
        else {
            continue;
        };
        let Some(row) = rows.get(arn.as_str()) else {
            continue;
        };
        let newer_event = entry.versions.iter().any(|v| {
            matches!(v.source, Source::Event { .. }) && generated.is_none_or(|g| v.since > g)
        });
        if newer_event {
            continue;
        }
        let want_login = row.password_enabled.or(*login_profile);
        let want_keys = keys_of(row, keys.as_ref());
        if want_login == *login_profile && want_keys == *keys {
            continue;
        }
        let mut state = latest.state.clone();
        if let State::User {
            keys,
            login_profile,
            ..
        } = &mut state
        {
            *keys = want_keys;
            *login_profile = want_login;
        }
        let mut e = entry.clone();
        e.record_read(state, at, Source::Sweep);
        out.push(e);
    }
    out
}

/// The keys a user has as far as the report tells: none when neither slot holds a key; the model's
/// when they agree with the slots (as many keys, as many of them active); else unknown.
fn keys_of(
    row: &CredentialRow,
    known: Option<&BTreeMap<String, String>>,
) -> Option<BTreeMap<String, String>> {
    let held: Vec<bool> = row
        .keys
        .iter()
        .filter(|k| k.active || k.last_rotated != Stamp::NotApplicable)
        .map(|k| k.active)
        .collect();
    if held.is_empty() {
        return Some(BTreeMap::new());
    }
    let known = known?;
    let active = held.iter().filter(|a| **a).count();
    let known_active = known.values().filter(|s| s.as_str() == "Active").count();
    (known.len() == held.len() && known_active == active).then(|| known.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EntryKey;

    const REPORT: &str = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated
<root_account>,arn:aws:iam::111122223333:root,2020-01-01T00:00:00+00:00,not_supported,N/A,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
alice,arn:aws:iam::111122223333:user/staff/alice,2020-01-01T00:00:00+00:00,true,N/A,2020-01-01T00:00:00+00:00,N/A,false,true,2024-01-01T00:00:00+00:00,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
bob,arn:aws:iam::111122223333:user/bob,2020-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
carol,arn:aws:iam::111122223333:user/carol,2020-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false,true,2024-01-01T00:00:00+00:00,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
";

    fn user(name: &str, arn: &str, keys: Option<&[(&str, &str)]>, login: Option<bool>) -> Entry {
        Entry::read(
            EntryKey::user(name),
            State::User {
                arn: arn.to_owned(),
                inline: BTreeMap::new(),
                attached: Default::default(),
                groups: Default::default(),
                boundary: None,
                keys: keys.map(|k| {
                    k.iter()
                        .map(|(i, s)| ((*i).to_owned(), (*s).to_owned()))
                        .collect()
                }),
                login_profile: login,
            },
            100,
            Source::Sweep,
        )
    }

    fn creds(e: &Entry) -> (Option<usize>, Option<bool>) {
        match &e.latest().unwrap().state {
            State::User {
                keys,
                login_profile,
                ..
            } => (keys.as_ref().map(BTreeMap::len), *login_profile),
            _ => unreachable!(),
        }
    }

    #[test]
    fn the_report_tells_passwords_and_keyless_users_and_checks_known_keys() {
        let generated = chrono::DateTime::from_timestamp(150, 0);
        let report = CredentialReport::parse_csv(REPORT, generated).unwrap();
        let entries = vec![
            // Known from an event before the report: one active key; agrees with slot 1.
            user(
                "alice",
                "arn:aws:iam::111122223333:user/staff/alice",
                Some(&[("AKIAALICE", "Active")]),
                None,
            ),
            user(
                "bob",
                "arn:aws:iam::111122223333:user/bob",
                None,
                Some(true),
            ),
            // Known: two keys; the report has one: unknown now.
            user(
                "carol",
                "arn:aws:iam::111122223333:user/carol",
                Some(&[("AKIA1", "Active"), ("AKIA2", "Inactive")]),
                Some(false),
            ),
            // A look-alike at another path is not `alice`'s row.
            user("dave", "arn:aws:iam::111122223333:user/alice", None, None),
        ];
        let out = credentials_in_model(&entries, &report, 200);
        let by: BTreeMap<String, (Option<usize>, Option<bool>)> = out
            .iter()
            .map(|e| (e.key.as_str().to_owned(), creds(e)))
            .collect();
        assert_eq!(by.get("user/alice"), Some(&(Some(1), Some(true))));
        assert_eq!(by.get("user/bob"), Some(&(Some(0), Some(false))));
        assert_eq!(by.get("user/carol"), Some(&(None, Some(false))));
        assert_eq!(by.get("user/dave"), None);
        assert_eq!(out.len(), 3);
        // Once applied, the same report changes nothing.
        assert!(credentials_in_model(&out, &report, 300).is_empty());
    }

    #[test]
    fn an_event_after_the_report_wins() {
        let generated = chrono::DateTime::from_timestamp(150, 0);
        let report = CredentialReport::parse_csv(REPORT, generated).unwrap();
        let mut bob = user(
            "bob",
            "arn:aws:iam::111122223333:user/bob",
            None,
            Some(false),
        );
        let mut state = bob.latest().unwrap().state.clone();
        if let State::User { login_profile, .. } = &mut state {
            *login_profile = Some(true);
        }
        bob.versions.push(crate::model::Version {
            since: 160,
            read_at: 160,
            source: Source::Event {
                id: "e1".to_owned(),
                name: "CreateLoginProfile".to_owned(),
            },
            state,
        });
        assert!(credentials_in_model(&[bob], &report, 200).is_empty());
    }
}
