//! The HTTP endpoint settings Prometheus and Loki collectors share: base URL, auth, TLS,
//! tenant header, timeout.

use std::time::Duration;

use crate::CollectorError;

/// How to authenticate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Auth {
    /// No credentials.
    #[default]
    None,
    /// `Authorization: Bearer TOKEN`.
    Bearer(String),
    /// HTTP basic auth.
    Basic {
        /// User name.
        user: String,
        /// Password.
        password: String,
    },
}

/// An HTTP API endpoint (any Prometheus- or Loki-compatible server).
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Base URL, e.g. `http://prometheus:9090` (a trailing `/` is ignored).
    pub url: String,
    /// Credentials.
    pub auth: Auth,
    /// Extra PEM CA certificate to trust.
    pub ca_pem: Option<Vec<u8>>,
    /// Accept any certificate (testing only).
    pub insecure: bool,
    /// `X-Scope-OrgID` tenant (Loki, Mimir, Cortex).
    pub tenant: Option<String>,
    /// Timeout of each request.
    pub timeout: Duration,
}

impl Endpoint {
    /// An endpoint at `url` with no auth and a 30 s timeout.
    pub fn new(url: impl Into<String>) -> Self {
        Endpoint {
            url: url.into().trim_end_matches('/').to_string(),
            auth: Auth::None,
            ca_pem: None,
            insecure: false,
            tenant: None,
            timeout: Duration::from_secs(30),
        }
    }

    /// Sets the credentials.
    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }

    /// Sets the tenant header.
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    pub(crate) fn client(&self) -> Result<reqwest::Client, CollectorError> {
        // reqwest is built without a bundled crypto provider; use ring, as kube does.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut b = reqwest::Client::builder().timeout(self.timeout).tls_danger_accept_invalid_certs(self.insecure);
        if let Some(pem) = &self.ca_pem {
            let cert = reqwest::Certificate::from_pem(pem).map_err(|e| CollectorError::Source(format!("CA: {e}")))?;
            b = b.add_root_certificate(cert);
        }
        b.build().map_err(|e| CollectorError::Source(e.to_string()))
    }

    /// A request error naming the URL and the root cause (`connection refused`, `timed out
    /// after 15s`), not only reqwest's "error sending request".
    fn request_error(&self, path: &str, e: &reqwest::Error) -> CollectorError {
        if e.is_timeout() {
            return CollectorError::Source(format!("{}{path}: timed out after {:?}", self.url, self.timeout));
        }
        let mut why = String::new();
        let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
        while let Some(s) = source {
            why = s.to_string();
            source = s.source();
        }
        let why = if why.is_empty() { e.to_string() } else { why };
        CollectorError::Source(format!("{}{path}: {why}", self.url))
    }

    pub(crate) async fn get_json(
        &self,
        client: &reqwest::Client,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<serde_json::Value, CollectorError> {
        let mut req = client.get(format!("{}{path}", self.url)).query(query);
        req = match &self.auth {
            Auth::None => req,
            Auth::Bearer(t) => req.bearer_auth(t),
            Auth::Basic { user, password } => req.basic_auth(user, Some(password)),
        };
        if let Some(t) = &self.tenant {
            req = req.header("X-Scope-OrgID", t);
        }
        let resp = req.send().await.map_err(|e| self.request_error(path, &e))?;
        let status = resp.status();
        let body = resp.text().await.map_err(|e| self.request_error(path, &e))?;
        if !status.is_success() {
            let short: String = body.chars().take(300).collect();
            return Err(CollectorError::Source(format!("{}{path}: HTTP {status}: {short}", self.url)));
        }
        aiops_core::object::parse_str(&body, path).map_err(CollectorError::Invalid)
    }
}
