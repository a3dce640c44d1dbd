//! The HTTPS client every SDK client of Warden's sends through: the SDK's default client (hyper 1,
//! rustls, the system's root certificates through `rustls-native-certs`, the proxy of the
//! environment: `HTTPS_PROXY`, `NO_PROXY`) with one difference, rustls's crypto provider: *ring*
//! where the default has aws-lc. aws-lc is a large C library; without it the Lambda package is
//! smaller (`cloudformation/README.md` has the figures). Both providers do the TLS 1.3 and 1.2
//! suites the SDK allows (it restricts rustls's list the same way for either). The one thing
//! aws-lc has more is a post-quantum hybrid key exchange (X25519MLKEM768), which rustls offers
//! first with it; with ring the key exchange is X25519 or a NIST curve, which AWS endpoints take.
//!
//! It does not own the SDK configuration: every place that builds one (`Clients::from_env`,
//! `cli::aws_setup`, the local AWS's) sets this client on it. With the SDK's default features off
//! (the workspace `Cargo.toml` says why) there is no default client, and a client built without
//! this one fails its first request with "no HTTP client was available to send this request".

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use aws_smithy_http_client::{Builder, Connector};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

/// A new HTTPS client. Share one per process: its connection pools live in it, one per set of
/// connector settings (timeouts) the SDK clients ask for.
pub fn client() -> SharedHttpClient {
    // What `aws_smithy_runtime::client::http::default_https_client` builds for the latest
    // behavior version, with `CryptoMode::Ring` for `CryptoMode::AwsLc`. `build_with_connector_fn`
    // is hidden from the crate's docs, but it is the only way to a client that reads the proxy
    // from the environment as the default does (`build_https` leaves the proxy off).
    Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector = Connector::builder().tls_provider(Provider::Rustls(CryptoMode::Ring));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}
