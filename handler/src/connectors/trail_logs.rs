//! CloudTrail log files in S3, for `warden access s3://BUCKET/PREFIX`: every object under the prefix
//! (`ListObjectsV2`, page by page), downloaded into a local directory with its key as the path, so
//! the same reader as for local files takes them (gzip by content, `{"Records":[…]}` or JSON Lines).
//! A trail's prefix is `AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/` ("Finding your CloudTrail log
//! files", CloudTrail user guide); any prefix works.
//!
//! API calls: 1 `ListObjectsV2` a page of up to 1,000 keys, and 1 `GetObject` a file.

use crate::aws::{AwsError, Clients};
use std::path::{Component, Path, PathBuf};

/// What a download fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    pub files: Vec<PathBuf>,
    pub bytes: u64,
    pub requests: usize,
}

/// `s3://bucket/prefix` split, or `None` for a path that is not an S3 location.
pub fn parse_location(s: &str) -> Option<(String, String)> {
    let rest = s.strip_prefix("s3://")?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    (!bucket.is_empty()).then(|| (bucket.to_owned(), prefix.to_owned()))
}

/// The local path of a key under `dir`: its `/`-separated parts, none of them `..` or absolute, so a
/// hostile key cannot write outside `dir`.
fn local_path(dir: &Path, key: &str) -> Option<PathBuf> {
    let rel = Path::new(key);
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return None;
    }
    Some(dir.join(rel))
}

/// Downloads every object under `s3://bucket/prefix` into `dir`.
pub async fn download(
    clients: &Clients,
    bucket: &str,
    prefix: &str,
    dir: &Path,
) -> Result<Downloaded, AwsError> {
    let mut out = Downloaded {
        files: Vec::new(),
        bytes: 0,
        requests: 0,
    };
    let mut token: Option<String> = None;
    let s3 = clients.s3_for(bucket).await;
    loop {
        let req = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_continuation_token(token.clone());
        let page = clients
            .caller
            .call("s3", "ListObjectsV2", || req.clone().send())
            .await?
            .value;
        out.requests += 1;
        for obj in page.contents() {
            let Some(key) = obj.key() else { continue };
            if key.ends_with('/') {
                continue;
            }
            let Some(path) = local_path(dir, key) else {
                return Err(AwsError::unreadable(
                    "s3",
                    "GetObject",
                    format!(
                        "the key `{key}` is not a relative path (it holds `..` or starts with `/`)"
                    ),
                ));
            };
            let get = s3.get_object().bucket(bucket).key(key);
            let got = clients
                .caller
                .call("s3", "GetObject", || get.clone().send())
                .await?
                .value;
            out.requests += 1;
            let body = got.body.collect().await.map_err(|e| {
                AwsError::unreadable("s3", "GetObject", format!("`s3://{bucket}/{key}`: {e}"))
            })?;
            let bytes = body.into_bytes();
            let write = |p: &Path| -> std::io::Result<()> {
                if let Some(parent) = p.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::write(p, &bytes)
            };
            write(&path).map_err(|e| {
                AwsError::unreadable(
                    "s3",
                    "GetObject",
                    format!("cannot write `{}`: {e}", path.display()),
                )
            })?;
            out.bytes += bytes.len() as u64;
            out.files.push(path);
        }
        token = page.next_continuation_token().map(str::to_owned);
        if token.is_none() || page.is_truncated() != Some(true) {
            break;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_and_hostile_keys() {
        assert_eq!(
            parse_location("s3://trail-bucket/AWSLogs/1/"),
            Some(("trail-bucket".into(), "AWSLogs/1/".into()))
        );
        assert_eq!(parse_location("s3://b"), Some(("b".into(), String::new())));
        assert_eq!(parse_location("s3:///x"), None);
        assert_eq!(parse_location("/local/path"), None);
        let d = Path::new("/tmp/d");
        assert_eq!(
            local_path(d, "a/b.json.gz"),
            Some(PathBuf::from("/tmp/d/a/b.json.gz"))
        );
        assert_eq!(local_path(d, "../etc/passwd"), None);
        assert_eq!(local_path(d, "/etc/passwd"), None);
    }
}
