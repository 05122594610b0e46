//! The live pipeline: the Kubernetes, deploy-diff, Prometheus and Loki collectors wired into the default
//! Engine, so a live cluster gives the same report a bundle does.
//!
//! Collection policy: the collectors run concurrently (the Engine spawns each), every one
//! with a timeout of its own ([`LiveOptions`]); one that fails or times out is named in the
//! report's `errors` with why, the report is `partial`, and the others still rank.

use std::time::Duration;

use aiops_collectors::cache::ClusterCache;
use aiops_collectors::kubernetes::{ClusterSource, KubernetesCollector};
use aiops_collectors::{
    CollectorError, DeployDiffCollector, Endpoint, LokiCollector, PrometheusCollector, WithTimeout,
};
use aiops_core::{EngineBuilder, IncidentBundle};
use jiff::Timestamp;

/// Where the live evidence comes from.
#[derive(Debug, Clone, Default)]
pub struct LiveSources {
    /// The Kubernetes API.
    pub cluster: ClusterSource,
    /// A Prometheus-compatible API, if any.
    pub prometheus: Option<Endpoint>,
    /// A Loki API, if any.
    pub loki: Option<Endpoint>,
}

impl LiveSources {
    /// Kubernetes, Prometheus and Loki all at one base URL (what `aiops sim` serves).
    pub fn all_at(url: &str) -> Self {
        LiveSources {
            cluster: ClusterSource::Url(url.to_string()),
            prometheus: Some(Endpoint::new(url)),
            loki: Some(Endpoint::new(url)),
        }
    }
}

/// How long each collector may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveOptions {
    /// The Kubernetes collector (all LISTs and logs).
    pub kubernetes_timeout: Duration,
    /// The deploy-diff collector (the change kinds of the incident's namespaces).
    pub deploy_diff_timeout: Duration,
    /// The Prometheus collector (all its queries).
    pub prometheus_timeout: Duration,
    /// The Loki collector.
    pub loki_timeout: Duration,
    /// Serve the Kubernetes reads from a watch cache (one LIST per kind at start, then WATCH)
    /// instead of listing for every analysis: what a long-running process (`aiops serve`) wants.
    /// `Some(bound)` is the cache's staleness bound; `None` (the default) lists every time.
    pub watch_cache: Option<Duration>,
}

impl Default for LiveOptions {
    /// 30 s for Kubernetes, 15 s for the deploy diff, Prometheus and Loki.
    fn default() -> Self {
        LiveOptions {
            kubernetes_timeout: Duration::from_secs(30),
            deploy_diff_timeout: Duration::from_secs(15),
            prometheus_timeout: Duration::from_secs(15),
            loki_timeout: Duration::from_secs(15),
            watch_cache: None,
        }
    }
}

/// Adds the live collectors of `sources` to `builder` with the default [`LiveOptions`].
pub async fn with_live_collectors(
    builder: EngineBuilder,
    sources: &LiveSources,
) -> Result<EngineBuilder, CollectorError> {
    with_live_collectors_opts(builder, sources, &LiveOptions::default()).await
}

/// Adds the live collectors of `sources` to `builder`, each with its timeout from `opts`.
pub async fn with_live_collectors_opts(
    builder: EngineBuilder,
    sources: &LiveSources,
    opts: &LiveOptions,
) -> Result<EngineBuilder, CollectorError> {
    let client = sources.cluster.client().await?;
    let (mut kube, mut diff) = (KubernetesCollector::new(client.clone()), DeployDiffCollector::new(client.clone()));
    if let Some(bound) = opts.watch_cache {
        match ClusterCache::start(client, opts.kubernetes_timeout).await {
            Ok(cache) => {
                let cache = cache.with_max_staleness(bound);
                (kube, diff) = (kube.with_cache(cache.clone()), diff.with_cache(cache));
            }
            // Not fatal: every analysis lists instead (and says so in the log).
            Err(e) => tracing::warn!(error = %e, "watch cache not started; listing on every analysis"),
        }
    }
    let mut b = builder
        .collector(WithTimeout::new(kube, opts.kubernetes_timeout))
        .collector(WithTimeout::new(diff, opts.deploy_diff_timeout));
    if let Some(p) = &sources.prometheus {
        let mut p = p.clone();
        p.timeout = p.timeout.min(opts.prometheus_timeout);
        b = b.collector(WithTimeout::new(PrometheusCollector::new(p)?, opts.prometheus_timeout));
    }
    if let Some(l) = &sources.loki {
        let mut l = l.clone();
        l.timeout = l.timeout.min(opts.loki_timeout);
        b = b.collector(WithTimeout::new(LokiCollector::new(l)?, opts.loki_timeout));
    }
    Ok(b)
}

/// The API server's clock (its `Date` header), the "now" of a live analysis when none is given.
pub async fn server_now(cluster: &ClusterSource) -> Result<Option<Timestamp>, CollectorError> {
    KubernetesCollector::connect(cluster.clone()).await?.server_time().await
}

/// The analysis input a live run of `bundle`'s incident uses: its firing alert, its
/// environment and its capture time as "now".
pub fn input_for(bundle: &IncidentBundle) -> aiops_core::AnalysisInput {
    aiops_core::AnalysisInput {
        alert: bundle.alerts.iter().find(|a| a.status == "firing").or(bundle.alerts.first()).cloned(),
        now: bundle.captured_at,
        environment: bundle.environment.clone(),
        ..Default::default()
    }
}
