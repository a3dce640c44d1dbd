//! S3 in each bucket's own region. A request for a bucket signed for another region fails on AWS
//! (`PermanentRedirect` or `AuthorizationHeaderMalformed`; the Rust SDK does not follow the
//! redirect), so every bucket call goes through the client of the bucket's region: learnt from
//! `ListBuckets` (its `BucketRegion`) or asked once with `GetBucketLocation`, which S3 answers for
//! any bucket from `us-east-1`, where Warden's main stack runs. Both are kept for the process (a
//! bucket's region is fixed while it exists).

use aws_sdk_s3::config::Region;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// The regions of buckets learnt so far, and a client per region.
#[derive(Debug, Default)]
pub struct BucketRegions {
    regions: Mutex<HashMap<String, String>>,
    clients: Mutex<HashMap<String, aws_sdk_s3::Client>>,
}

/// The region a `GetBucketLocation` answer names: none (or empty) is `us-east-1`, and the legacy
/// `EU` is `eu-west-1` ("GetBucketLocation", Amazon S3 API Reference).
pub fn region_of_location(constraint: Option<&str>) -> String {
    match constraint {
        None | Some("") => "us-east-1".to_owned(),
        Some("EU") => "eu-west-1".to_owned(),
        Some(r) => r.to_owned(),
    }
}

impl BucketRegions {
    pub fn known(&self, bucket: &str) -> Option<String> {
        self.regions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(bucket)
            .cloned()
    }

    pub fn learn(&self, bucket: &str, region: &str) {
        self.regions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(bucket.to_owned(), region.to_owned());
    }

    /// The client for `region`: `main` when it is main's own region, else one built from main's
    /// configuration (credentials, endpoint, interceptors, HTTP client) with that region.
    pub fn client_for(&self, main: &aws_sdk_s3::Client, region: &str) -> aws_sdk_s3::Client {
        if main.config().region().map(Region::as_ref) == Some(region) {
            return main.clone();
        }
        self.clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(region.to_owned())
            .or_insert_with(|| {
                aws_sdk_s3::Client::from_conf(
                    main.config()
                        .to_builder()
                        .region(Region::new(region.to_owned()))
                        .build(),
                )
            })
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_name_their_regions() {
        assert_eq!(region_of_location(None), "us-east-1");
        assert_eq!(region_of_location(Some("")), "us-east-1");
        assert_eq!(region_of_location(Some("EU")), "eu-west-1");
        assert_eq!(region_of_location(Some("ap-south-2")), "ap-south-2");
    }
}
