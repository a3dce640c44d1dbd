//! The AWS configuration of a `warden` command that talks to AWS, checked before the first call:
//! without a region or credentials the command stops at once with one line saying what to set,
//! instead of the SDK asking the instance metadata service (which, off EC2, answers only after
//! retries, each with a long warning) and every call then failing after Warden's retries.
//!
//! The region comes from the environment (`AWS_REGION`, `AWS_DEFAULT_REGION`) or the AWS profile,
//! never from the instance metadata service: on EC2, set `AWS_REGION`. Credentials come from the
//! SDK's standard chain (environment, profile with SSO and assume-role, web identity, container),
//! and from the instance metadata service last, asked once with a short timeout.

use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::ProvideCredentials;
use std::time::Duration;

/// Why a command cannot talk to AWS.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(
        "no AWS region: set `AWS_REGION` (Warden's main stack runs in `us-east-1`), or `region` in the AWS profile"
    )]
    NoRegion,
    #[error(
        "no AWS credentials: set `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`, or `AWS_PROFILE` (`aws configure`, `aws sso login`){}",
        .reason.as_ref().map(|r| format!("; {r}")).unwrap_or_default()
    )]
    NoCredentials {
        /// Why a configured source gave none (none when nothing was configured).
        reason: Option<String>,
    },
}

/// Whether anything but the instance metadata service is configured as a credential source.
fn source_configured(var: &dyn Fn(&str) -> Option<String>) -> bool {
    let set = |name: &str| var(name).is_some_and(|v| !v.trim().is_empty());
    let home_file = |name: &str| {
        var("HOME").is_some_and(|h| std::path::Path::new(&h).join(".aws").join(name).is_file())
    };
    set("AWS_ACCESS_KEY_ID")
        || set("AWS_PROFILE")
        || set("AWS_WEB_IDENTITY_TOKEN_FILE")
        || set("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
        || set("AWS_CONTAINER_CREDENTIALS_FULL_URI")
        || var("AWS_CONFIG_FILE").is_some_and(|f| std::path::Path::new(&f).is_file())
        || var("AWS_SHARED_CREDENTIALS_FILE").is_some_and(|f| std::path::Path::new(&f).is_file())
        || home_file("config")
        || home_file("credentials")
}

/// An error and its causes on one line, joined by `: `, each said once.
fn causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        let part = cause.to_string();
        if !text.ends_with(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        next = cause.source();
    }
    text
}

/// The SDK configuration, with a region and credentials that resolve, the SDK's own retries off
/// (Warden retries in `aws::Caller`); `AWS_ENDPOINT_URL` and the rest of the standard
/// configuration apply.
pub async fn sdk_config() -> Result<aws_config::SdkConfig, SetupError> {
    let region = aws_config::meta::region::RegionProviderChain::first_try(
        aws_config::environment::region::EnvironmentVariableRegionProvider::new(),
    )
    .or_else(aws_config::profile::ProfileFileRegionProvider::new());
    let region = region.region().await.ok_or(SetupError::NoRegion)?;
    // One HTTPS client for the credential sources (SSO, STS for web identity and assume-role, the
    // container and instance metadata endpoints) and every SDK client: with the SDK's default
    // features off, a source given no client has none (`aws::https`).
    let http = crate::aws::https::client();
    let providers =
        aws_config::provider_config::ProviderConfig::default().with_http_client(http.clone());
    let imds = aws_config::imds::Client::builder()
        .configure(&providers)
        .max_attempts(1)
        .connect_timeout(Duration::from_secs(1))
        .operation_timeout(Duration::from_secs(2))
        .build();
    let credentials = aws_config::default_provider::credentials::DefaultCredentialsChain::builder()
        .configure(providers)
        .region(region.clone())
        .imds_client(imds)
        .build()
        .await;
    if let Err(e) = credentials.provide_credentials().await {
        let configured = source_configured(&|name| std::env::var(name).ok());
        let reason = match &e {
            // Nothing to say beyond "none": nothing was configured, or what was gave nothing.
            CredentialsError::CredentialsNotLoaded(_) => None,
            _ if !configured => None,
            _ => Some(causes(&e)),
        };
        return Err(SetupError::NoCredentials { reason });
    }
    Ok(aws_config::from_env()
        .http_client(http)
        .region(region)
        .credentials_provider(credentials)
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn a_credential_source_is_configured_by_any_standard_variable_or_file() {
        let dir = tempfile::tempdir().unwrap();
        let env = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let check = |vars: BTreeMap<String, String>| source_configured(&|n| vars.get(n).cloned());
        let home = dir.path().to_str().unwrap();
        assert!(!check(env(&[("HOME", home)])));
        assert!(!check(env(&[("HOME", home), ("AWS_ACCESS_KEY_ID", " ")])));
        assert!(check(env(&[("AWS_ACCESS_KEY_ID", "AKIA")])));
        assert!(check(env(&[("AWS_PROFILE", "ops")])));
        std::fs::create_dir(dir.path().join(".aws")).unwrap();
        std::fs::write(dir.path().join(".aws").join("credentials"), "").unwrap();
        assert!(check(env(&[("HOME", home)])));
    }
}
