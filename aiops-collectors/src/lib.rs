//! `aiops-collectors` gathers evidence from one source per collector (an incident bundle
//! today; the Kubernetes API, deploy diffs, Prometheus and Loki behind the same [`Collector`] trait) into
//! the Engine's [`Observations`].

use std::path::PathBuf;

#[cfg(feature = "kubernetes")]
pub mod cache;
#[cfg(feature = "kubernetes")]
pub mod deploy_diff;
#[cfg(feature = "kubernetes")]
pub use deploy_diff::DeployDiffCollector;
#[cfg(feature = "kubernetes")]
pub mod kubernetes;
#[cfg(feature = "kubernetes")]
pub use kubernetes::{ClusterSource, KubernetesCollector};
#[cfg(any(feature = "prometheus", feature = "loki"))]
pub mod http;
#[cfg(feature = "loki")]
pub mod loki;
#[cfg(feature = "prometheus")]
pub mod prometheus;
#[cfg(any(feature = "prometheus", feature = "loki"))]
pub use http::{Auth, Endpoint};
#[cfg(feature = "loki")]
pub use loki::LokiCollector;
#[cfg(feature = "prometheus")]
pub use prometheus::PrometheusCollector;

use aiops_core::traits::{BoxError, CollectRequest, Collector};
use aiops_core::{IncidentBundle, Observations};
use async_trait::async_trait;

/// What can go wrong in a collector.
#[derive(Debug, thiserror::Error)]
pub enum CollectorError {
    /// The source could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The source did not parse.
    #[error(transparent)]
    Invalid(#[from] aiops_core::CoreError),
    /// A live source failed (connection, HTTP status, API error).
    #[error("{0}")]
    Source(String),
}

impl CollectorError {
    #[allow(dead_code)]
    pub(crate) fn kube(msg: impl Into<String>) -> Self {
        CollectorError::Source(msg.into())
    }
}

/// Gives one collector a timeout of its own: past it, the collection fails with
/// `timed out after ...` (the report is then partial, naming this collector) while the other
/// collectors go on. The Engine's overall collector timeout still applies on top.
#[derive(Debug, Clone)]
pub struct WithTimeout<C> {
    inner: C,
    timeout: std::time::Duration,
}

impl<C: Collector> WithTimeout<C> {
    /// Wraps `inner` with `timeout`.
    pub fn new(inner: C, timeout: std::time::Duration) -> Self {
        WithTimeout { inner, timeout }
    }
}

#[async_trait]
impl<C: Collector> Collector for WithTimeout<C> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn collect(&self, request: &CollectRequest) -> Result<Observations, BoxError> {
        match tokio::time::timeout(self.timeout, self.inner.collect(request)).await {
            Ok(r) => r,
            Err(_) => Err(CollectorError::Source(format!("timed out after {:?}", self.timeout)).into()),
        }
    }
}

enum Source {
    Path(PathBuf),
    Parsed(Box<Observations>),
}

/// Feeds an incident bundle (`aiops/v1`) through the same Engine path a live cluster uses.
pub struct BundleCollector {
    source: Source,
}

impl BundleCollector {
    /// A collector that reads and parses `path` on every collection.
    pub fn from_path(path: impl Into<PathBuf>) -> Self {
        Self { source: Source::Path(path.into()) }
    }

    /// A collector over an already-parsed bundle.
    pub fn from_bundle(bundle: IncidentBundle) -> Self {
        Self { source: Source::Parsed(Box::new(bundle.into_observations())) }
    }

    /// Reads and parses a bundle file.
    pub fn read(path: &std::path::Path) -> Result<IncidentBundle, CollectorError> {
        let bytes =
            std::fs::read(path).map_err(|source| CollectorError::Io { path: path.display().to_string(), source })?;
        Ok(aiops_core::parse_bundle(&bytes)?)
    }
}

#[async_trait]
impl Collector for BundleCollector {
    fn name(&self) -> &str {
        "bundle"
    }

    async fn collect(&self, _request: &CollectRequest) -> Result<Observations, BoxError> {
        match &self.source {
            Source::Path(p) => Ok(Self::read(p)?.into_observations()),
            // Cheap: the inventory is shared, not copied.
            Source::Parsed(o) => Ok(o.as_ref().clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn missing_files_are_typed_errors() {
        let c = BundleCollector::from_path("/nonexistent/bundle.json");
        let err = c.collect(&CollectRequest::default()).await.unwrap_err();
        assert!(err.to_string().contains("/nonexistent/bundle.json"), "{err}");
    }

    #[tokio::test]
    async fn parsed_bundles_are_returned_whole() {
        let b = aiops_core::parse_bundle(br#"{"capturedAt":"2026-03-01T10:45:00Z","objects":[{"apiVersion":"v1","kind":"Node","metadata":{"name":"n"}}]}"#).unwrap();
        let obs = BundleCollector::from_bundle(b).collect(&CollectRequest::default()).await.unwrap();
        assert_eq!(obs.inventory.nodes.len(), 1);
        assert!(obs.captured_at.is_some());
    }
}
