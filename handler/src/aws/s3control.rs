//! The S3 Control client's configuration. S3 Control puts the account id in front of the host
//! (`123456789012.s3-control.us-east-1.amazonaws.com`), and its endpoint rules do so for a custom
//! endpoint too, which gives `123456789012.127.0.0.1` for a local one. With an endpoint configured
//! (the local AWS, or `AWS_ENDPOINT_URL`), requests go to that endpoint as it is; otherwise the
//! SDK's own rules decide.

use aws_sdk_s3control::config::endpoint::{DefaultResolver, Endpoint, Params, ResolveEndpoint};
use aws_smithy_runtime_api::client::endpoint::EndpointFuture;

/// Sends every request to the configured endpoint when there is one.
#[derive(Debug, Default)]
struct AsConfigured {
    default: DefaultResolver,
}

impl ResolveEndpoint for AsConfigured {
    fn resolve_endpoint<'a>(&'a self, params: &'a Params) -> EndpointFuture<'a> {
        match params.endpoint() {
            Some(url) => EndpointFuture::ready(Ok(Endpoint::builder().url(url.to_owned()).build())),
            None => self.default.resolve_endpoint(params),
        }
    }
}

pub(super) fn config(conf: &aws_config::SdkConfig) -> aws_sdk_s3control::Config {
    aws_sdk_s3control::config::Builder::from(conf)
        .endpoint_resolver(AsConfigured::default())
        .build()
}
