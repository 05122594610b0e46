//! The HTTP client shared by the Slack, Jira and Prometheus integrations (rustls on ring).

use std::time::Duration;

use crate::error::{RemediateError, Result};

/// A client with `timeout`, TLS through rustls on ring (installed once per process).
pub(crate) fn client(service: &'static str, timeout: Duration) -> Result<reqwest::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| RemediateError::Http { service, message: e.to_string() })
}

/// [`client`] with a 30 s timeout, or reqwest's default client if that cannot be built.
pub(crate) fn client_or_default() -> reqwest::Client {
    client("http", Duration::from_secs(30)).unwrap_or_default()
}
