//! The account's IAM credential report: every user's password and access keys with when each was
//! last used, one CSV for the whole account (what a sweep judges unused credentials by, without a
//! call per user). IAM generates a report at most every 4 hours and serves the last one until then
//! ("Getting credential reports for your AWS account", IAM user guide), so a report under 4 hours
//! old is reused as it is; otherwise `GenerateCredentialReport` is asked and polled with backoff
//! until the report is ready.
//!
//! API calls: 1 `GenerateCredentialReport` (answers whether a fresh one is ready), then while it is
//! not, one more per poll (at most [`MAX_POLLS`]), then 1 `GetCredentialReport`.

use crate::aws::{AwsError, Clients};
use std::time::Duration;

/// Polls of `GenerateCredentialReport` before giving up.
pub const MAX_POLLS: u32 = 8;

/// A report as IAM served it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialReportText {
    /// The CSV.
    pub csv: String,
    /// When IAM generated it (ISO 8601), when it said.
    pub generated: Option<String>,
    /// Requests made.
    pub requests: usize,
}

fn unreadable(why: String) -> AwsError {
    AwsError::unreadable("iam", "GetCredentialReport", why)
}

/// The account's credential report, generated first when IAM has none under 4 hours old.
pub async fn read(clients: &Clients) -> Result<CredentialReportText, AwsError> {
    let mut requests = 0;
    let mut wait = Duration::from_millis(500);
    let mut polls = 0;
    loop {
        let req = clients.iam.generate_credential_report();
        let out = clients
            .caller
            .call("iam", "GenerateCredentialReport", || req.clone().send())
            .await?
            .value;
        requests += 1;
        let ready = out
            .state()
            .is_some_and(|s| s.as_str().eq_ignore_ascii_case("COMPLETE"));
        if ready {
            break;
        }
        polls += 1;
        if polls >= MAX_POLLS {
            return Err(unreadable(format!(
                "the credential report was not ready after {polls} polls"
            )));
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(8));
    }
    let req = clients.iam.get_credential_report();
    let out = clients
        .caller
        .call("iam", "GetCredentialReport", || req.clone().send())
        .await?
        .value;
    requests += 1;
    let content = out
        .content()
        .ok_or_else(|| unreadable("the credential report has no content".to_owned()))?;
    let csv = String::from_utf8(content.as_ref().to_vec())
        .map_err(|e| unreadable(format!("the credential report is not UTF-8: {e}")))?;
    Ok(CredentialReportText {
        csv,
        generated: out.generated_time().map(|t| t.to_string()),
        requests,
    })
}
