//! What a sweep reads besides the IAM snapshot, as plain types, and the text forms they come in:
//! the credential report (the CSV of `aws iam get-credential-report`), the buckets file (Warden's
//! own JSON: the account's public access block and, per bucket, its region, policy, ACL grants,
//! public access block and ownership controls), trails (name, logging or not) and access keys (as
//! `aws iam list-access-keys` lists them). Parsing only; judging is the finding modules'.

use crate::policy::PolicyDocument;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

/// Why an input does not read. The messages name the row or entry; the caller names the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("invalid JSON: {0}")]
    Json(String),
    #[error("{0}")]
    Shape(String),
    #[error("line {line}: {message}")]
    Row { line: usize, message: String },
    #[error("bucket {index} (`{name}`): {message}")]
    Bucket {
        index: usize,
        name: String,
        message: String,
    },
}

/// An ISO 8601 time as IAM, S3 and the credential report write it (`2019-12-18T19:10:08Z`,
/// `2019-12-18 19:10:08+00:00`, with or without fractions of a second), in UTC.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let t = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Some(d.with_timezone(&Utc));
    }
    let spaced = t.replacen(' ', "T", 1);
    if let Ok(d) = DateTime::parse_from_rfc3339(&spaced) {
        return Some(d.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(&spaced, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|n| n.and_utc())
}

/// A credential report time field: a time, or one of the report's words for none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stamp {
    At(DateTime<Utc>),
    /// `N/A`: there is nothing to have used (no key, no password) or it was never used.
    NotApplicable,
    /// `no_information`: not used since IAM began tracking (October 2014), or never.
    NoInformation,
    /// `not_supported` (the root user's password last changed, …).
    NotSupported,
    /// Empty or unreadable.
    Unknown,
}

impl Stamp {
    fn parse(s: &str) -> Stamp {
        match s.trim() {
            "N/A" => Stamp::NotApplicable,
            "no_information" => Stamp::NoInformation,
            "not_supported" => Stamp::NotSupported,
            other => parse_time(other).map_or(Stamp::Unknown, Stamp::At),
        }
    }

    pub fn time(self) -> Option<DateTime<Utc>> {
        match self {
            Stamp::At(t) => Some(t),
            _ => None,
        }
    }
}

/// One of a user's two access key slots in the credential report (the report has no key ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySlot {
    pub active: bool,
    pub last_rotated: Stamp,
    pub last_used: Stamp,
}

/// One user's row of the credential report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialRow {
    pub user: String,
    pub arn: String,
    pub created: Stamp,
    /// `None`: `not_supported` (the root row).
    pub password_enabled: Option<bool>,
    pub password_last_used: Stamp,
    pub password_last_changed: Stamp,
    pub keys: [KeySlot; 2],
}

/// The credential report: when it was generated (from `GetCredentialReport`'s `GeneratedTime`;
/// the CSV itself does not say) and its rows, the root account's (`<root_account>`) included.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CredentialReport {
    pub generated: Option<DateTime<Utc>>,
    pub rows: Vec<CredentialRow>,
}

/// The user name the report gives the root account.
pub const ROOT_ROW: &str = "<root_account>";

impl CredentialReport {
    /// Parses the CSV ("Getting credential reports", IAM user guide: the columns by name, so a
    /// report with more or fewer optional columns still reads).
    pub fn parse_csv(text: &str, generated: Option<DateTime<Utc>>) -> Result<Self, InputError> {
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        let Some((_, header)) = lines.next() else {
            return Err(InputError::Shape("empty: no header line".to_owned()));
        };
        let names: Vec<&str> = header.split(',').map(str::trim).collect();
        let col = |n: &str| names.iter().position(|x| *x == n);
        let (Some(user), Some(arn)) = (col("user"), col("arn")) else {
            return Err(InputError::Shape(
                "not a credential report: the header has no `user` and `arn` columns".to_owned(),
            ));
        };
        let c = |n: &str| col(n);
        let cols = [
            c("user_creation_time"),
            c("password_enabled"),
            c("password_last_used"),
            c("password_last_changed"),
            c("access_key_1_active"),
            c("access_key_1_last_rotated"),
            c("access_key_1_last_used_date"),
            c("access_key_2_active"),
            c("access_key_2_last_rotated"),
            c("access_key_2_last_used_date"),
        ];
        let mut rows = Vec::new();
        for (i, line) in lines {
            let fields: Vec<&str> = line
                .split(',')
                .map(|f| f.trim().trim_matches('"'))
                .collect();
            if fields.len() < names.len() {
                return Err(InputError::Row {
                    line: i + 1,
                    message: format!("{} fields, the header has {}", fields.len(), names.len()),
                });
            }
            let get = |k: Option<usize>| k.and_then(|k| fields.get(k).copied()).unwrap_or("");
            let stamp = |k: Option<usize>| Stamp::parse(get(k));
            let flag = |k: Option<usize>| get(k).eq_ignore_ascii_case("true");
            let [created, pw, pw_used, pw_changed, k1, k1_rot, k1_used, k2, k2_rot, k2_used] = cols;
            rows.push(CredentialRow {
                user: get(Some(user)).to_owned(),
                arn: get(Some(arn)).to_owned(),
                created: stamp(created),
                password_enabled: match get(pw) {
                    "not_supported" => None,
                    v => Some(v.eq_ignore_ascii_case("true")),
                },
                password_last_used: stamp(pw_used),
                password_last_changed: stamp(pw_changed),
                keys: [
                    KeySlot {
                        active: flag(k1),
                        last_rotated: stamp(k1_rot),
                        last_used: stamp(k1_used),
                    },
                    KeySlot {
                        active: flag(k2),
                        last_rotated: stamp(k2_rot),
                        last_used: stamp(k2_used),
                    },
                ],
            });
        }
        Ok(CredentialReport { generated, rows })
    }

    pub fn row(&self, user: &str) -> Option<&CredentialRow> {
        self.rows.iter().find(|r| r.user == user)
    }
}

/// The four settings of an S3 public access block ("Blocking public access to your Amazon S3
/// storage"); a setting absent from the input is off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct PublicAccessBlock {
    #[serde(default)]
    pub block_public_acls: bool,
    #[serde(default)]
    pub ignore_public_acls: bool,
    #[serde(default)]
    pub block_public_policy: bool,
    #[serde(default)]
    pub restrict_public_buckets: bool,
}

impl PublicAccessBlock {
    pub fn all_on(&self) -> bool {
        self.block_public_acls
            && self.ignore_public_acls
            && self.block_public_policy
            && self.restrict_public_buckets
    }

    /// The settings in force on a bucket: its own or the account's, each (S3 applies the most
    /// restrictive combination).
    pub fn combined(bucket: Option<&Self>, account: Option<&Self>) -> Self {
        let b = bucket.copied().unwrap_or_default();
        let a = account.copied().unwrap_or_default();
        PublicAccessBlock {
            block_public_acls: b.block_public_acls || a.block_public_acls,
            ignore_public_acls: b.ignore_public_acls || a.ignore_public_acls,
            block_public_policy: b.block_public_policy || a.block_public_policy,
            restrict_public_buckets: b.restrict_public_buckets || a.restrict_public_buckets,
        }
    }

    /// The names of the settings that are off.
    pub fn off(&self) -> Vec<&'static str> {
        [
            (self.block_public_acls, "BlockPublicAcls"),
            (self.ignore_public_acls, "IgnorePublicAcls"),
            (self.block_public_policy, "BlockPublicPolicy"),
            (self.restrict_public_buckets, "RestrictPublicBuckets"),
        ]
        .into_iter()
        .filter(|(on, _)| !on)
        .map(|(_, n)| n)
        .collect()
    }
}

/// One ACL grant, as `GetBucketAcl` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclGrant {
    /// `Group` (with a URI), `CanonicalUser` (with an id) or `AmazonCustomerByEmail`.
    pub grantee_type: String,
    pub uri: Option<String>,
    pub id: Option<String>,
    pub permission: String,
}

/// The S3 groups whose ACL grants make a bucket public ("Access control list (ACL) overview",
/// Amazon S3 predefined groups).
pub const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
pub const AUTHENTICATED_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";

/// One bucket as a sweep reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bucket {
    pub name: String,
    pub region: Option<String>,
    pub policy: Option<PolicyDocument>,
    pub acl: Vec<AclGrant>,
    pub public_access_block: Option<PublicAccessBlock>,
    /// `BucketOwnerEnforced`, `BucketOwnerPreferred` or `ObjectWriter`; `None`: not set.
    pub object_ownership: Option<String>,
}

/// The buckets file: the account's public access block, every bucket, and when it was read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Buckets {
    pub read_at: Option<DateTime<Utc>>,
    /// `None`: the account has no public access block configuration (all four off).
    pub account_public_access_block: Option<PublicAccessBlock>,
    pub buckets: Vec<Bucket>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBuckets {
    #[serde(default)]
    read_at: Option<String>,
    #[serde(default)]
    account_public_access_block: Option<PublicAccessBlock>,
    buckets: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBucket {
    name: String,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    policy: Option<Value>,
    #[serde(default)]
    acl: Vec<RawGrant>,
    #[serde(default)]
    public_access_block: Option<PublicAccessBlock>,
    #[serde(default)]
    object_ownership: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGrant {
    #[serde(rename = "Grantee")]
    grantee: RawGrantee,
    #[serde(rename = "Permission")]
    permission: String,
}

#[derive(Deserialize)]
struct RawGrantee {
    #[serde(rename = "Type")]
    kind: String,
    #[serde(rename = "URI", default)]
    uri: Option<String>,
    #[serde(rename = "ID", default)]
    id: Option<String>,
}

impl Buckets {
    /// Parses the buckets file (the format is in the README, "warden sweep"): `{"read_at": …,
    /// "account_public_access_block": {…}, "buckets": [{"name", "region", "policy", "acl",
    /// "public_access_block", "object_ownership"}]}`; `policy` is the document as JSON or as the
    /// string `GetBucketPolicy` returns, `acl` the `Grants` of `GetBucketAcl`, public access blocks
    /// as `GetPublicAccessBlock`'s `PublicAccessBlockConfiguration`.
    pub fn parse(text: &str) -> Result<Self, InputError> {
        let raw: RawBuckets =
            serde_json::from_str(text).map_err(|e| InputError::Json(e.to_string()))?;
        let read_at = match raw.read_at.as_deref() {
            None => None,
            Some(t) => Some(parse_time(t).ok_or_else(|| {
                InputError::Shape(format!("`read_at`: `{t}` is not an ISO 8601 time"))
            })?),
        };
        let mut buckets = Vec::with_capacity(raw.buckets.len());
        for (index, v) in raw.buckets.into_iter().enumerate() {
            let name = v
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_owned();
            let err = |message: String| InputError::Bucket {
                index,
                name: name.clone(),
                message,
            };
            let b: RawBucket = serde_json::from_value(v).map_err(|e| err(e.to_string()))?;
            let policy = match &b.policy {
                None | Some(Value::Null) => None,
                Some(p) => {
                    Some(PolicyDocument::from_value(p).map_err(|e| err(format!("`policy`: {e}")))?)
                }
            };
            buckets.push(Bucket {
                name: b.name,
                region: b.region,
                policy,
                acl: b
                    .acl
                    .into_iter()
                    .map(|g| AclGrant {
                        grantee_type: g.grantee.kind,
                        uri: g.grantee.uri,
                        id: g.grantee.id,
                        permission: g.permission,
                    })
                    .collect(),
                public_access_block: b.public_access_block,
                object_ownership: b.object_ownership,
            });
        }
        Ok(Buckets {
            read_at,
            account_public_access_block: raw.account_public_access_block,
            buckets,
        })
    }
}

/// A trail: its name and whether it logs (`GetTrailStatus`'s `IsLogging`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trail {
    pub name: String,
    #[serde(default)]
    pub arn: Option<String>,
    pub is_logging: bool,
}

/// Parses a trails file: `[{"name": …, "arn": …, "is_logging": true}]` or `{"trails": [...]}`.
pub fn parse_trails(text: &str) -> Result<Vec<Trail>, InputError> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Form {
        List(Vec<Trail>),
        Object { trails: Vec<Trail> },
    }
    match serde_json::from_str::<Form>(text) {
        Ok(Form::List(t)) | Ok(Form::Object { trails: t }) => Ok(t),
        Err(e) => Err(InputError::Shape(format!(
            "not a list of trails (`[{{\"name\": …, \"is_logging\": true}}]`): {e}"
        ))),
    }
}

/// An access key as `ListAccessKeys` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKey {
    pub user: String,
    pub id: String,
    /// `Active` or `Inactive`.
    pub status: String,
}

/// Parses access keys as `aws iam list-access-keys` prints them (`{"AccessKeyMetadata": [{"UserName",
/// "AccessKeyId", "Status", …}]}`), a list of such outputs (one per user), or a list of the entries.
pub fn parse_access_keys(text: &str) -> Result<Vec<AccessKey>, InputError> {
    let v: Value = serde_json::from_str(text).map_err(|e| InputError::Json(e.to_string()))?;
    let mut out = Vec::new();
    let mut entries: Vec<&Value> = Vec::new();
    match &v {
        Value::Object(_) => {
            if let Some(list) = v.get("AccessKeyMetadata").and_then(Value::as_array) {
                entries.extend(list);
            }
        }
        Value::Array(items) => {
            for x in items {
                match x.get("AccessKeyMetadata").and_then(Value::as_array) {
                    Some(list) => entries.extend(list),
                    None => entries.push(x),
                }
            }
        }
        _ => {}
    }
    if entries.is_empty() && !matches!(&v, Value::Array(a) if a.is_empty()) {
        return Err(InputError::Shape(
            "not the output of `aws iam list-access-keys` (no `AccessKeyMetadata`)".to_owned(),
        ));
    }
    for (i, e) in entries.into_iter().enumerate() {
        let field = |k: &str| {
            e.get(k)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| InputError::Shape(format!("access key {i}: no `{k}`")))
        };
        out.push(AccessKey {
            user: field("UserName")?,
            id: field("AccessKeyId")?,
            status: field("Status")?,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_every_form_iam_writes_them() {
        for t in [
            "2019-12-18T19:10:08Z",
            "2019-12-18 19:10:08+00:00",
            "2019-12-18T19:10:08.000Z",
            "2019-12-18T19:10:08+00:00",
        ] {
            assert_eq!(
                parse_time(t).map(|d| d.timestamp()),
                Some(1_576_696_208),
                "{t}"
            );
        }
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn the_credential_report_reads_by_column_name() {
        let csv = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated
<root_account>,arn:aws:iam::111122223333:root,2014-01-01T00:00:00+00:00,not_supported,2026-11-01T00:00:00+00:00,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
bob,arn:aws:iam::111122223333:user/bob,2020-01-01T00:00:00+00:00,true,no_information,2020-01-02T00:00:00+00:00,N/A,false,true,2020-01-01T00:00:00+00:00,2021-06-01T10:00:00+00:00,us-east-1,s3,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
";
        let r = CredentialReport::parse_csv(csv, None).unwrap();
        assert_eq!(r.rows.len(), 2);
        let bob = r.row("bob").unwrap();
        assert_eq!(bob.password_enabled, Some(true));
        assert_eq!(bob.password_last_used, Stamp::NoInformation);
        assert!(bob.keys[0].active && !bob.keys[1].active);
        assert!(matches!(bob.keys[0].last_used, Stamp::At(_)));
        assert_eq!(bob.keys[1].last_used, Stamp::NotApplicable);
        assert_eq!(r.row(ROOT_ROW).unwrap().password_enabled, None);
        assert!(CredentialReport::parse_csv("a,b\n", None).is_err());
        assert!(matches!(
            CredentialReport::parse_csv("user,arn,x\nbob,arn\n", None),
            Err(InputError::Row { line: 2, .. })
        ));
    }

    #[test]
    fn the_buckets_file_names_the_bad_entry() {
        let ok = r#"{"account_public_access_block":{"BlockPublicAcls":true},"buckets":[
            {"name":"a","region":"eu-west-1","policy":"{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::a/*\"}}",
             "acl":[{"Grantee":{"Type":"Group","URI":"http://acs.amazonaws.com/groups/global/AllUsers"},"Permission":"READ"}]}]}"#;
        let b = Buckets::parse(ok).unwrap();
        assert_eq!(b.buckets.len(), 1);
        assert!(b.buckets[0].policy.is_some());
        assert_eq!(b.buckets[0].acl[0].uri.as_deref(), Some(ALL_USERS));
        let bad = r#"{"buckets":[{"name":"x","policy":{"Statement":7}}]}"#;
        let e = Buckets::parse(bad).unwrap_err().to_string();
        assert!(e.contains("bucket 0 (`x`)") && e.contains("policy"), "{e}");
        assert!(Buckets::parse(r#"{"buckets":[{"nme":"x"}]}"#).is_err());
    }
}
