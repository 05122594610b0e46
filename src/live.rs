//! The live pipeline: the Kubernetes, Prometheus and Loki collectors wired into the default
//! Engine, so a live cluster gives the same report a bundle does.

use aiops_collectors::kubernetes::{ClusterSource, KubernetesCollector};
use aiops_collectors::{CollectorError, Endpoint, LokiCollector, PrometheusCollector};
use aiops_core::{EngineBuilder, IncidentBundle};

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

/// Adds the live collectors of `sources` to `builder`.
pub async fn with_live_collectors(
    builder: EngineBuilder,
    sources: &LiveSources,
) -> Result<EngineBuilder, CollectorError> {
    let mut b = builder.collector(KubernetesCollector::connect(sources.cluster.clone()).await?);
    if let Some(p) = &sources.prometheus {
        b = b.collector(PrometheusCollector::new(p.clone())?);
    }
    if let Some(l) = &sources.loki {
        b = b.collector(LokiCollector::new(l.clone())?);
    }
    Ok(b)
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
