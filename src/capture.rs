//! `aiops capture`: writes an incident bundle (`aiops/v1`, the format of `incident-bundle.md`)
//! from live sources, so any real incident becomes a regression test or a support bundle.
//! The objects are written exactly as the API served them (Secrets as metadata only), the
//! failing containers' logs (current and previous), every named Prometheus query's results and
//! Loki's streams; `capturedAt` is the API server's clock (or `--at`).

use std::path::Path;
use std::time::Duration;

use aiops_collectors::kubernetes::KubernetesCollector;
use aiops_collectors::{LokiCollector, PrometheusCollector};
use aiops_core::model::CollectorFailure;
use aiops_core::object::Inventory;
use aiops_core::observation::{LogRecord, MetricSeries};
use aiops_core::traits::{CollectRequest, Collector};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::error::Error;
use crate::live_cli::LiveArgs;

/// A bundle as written: the fields of `incident-bundle.md`, in its order.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CapturedBundle {
    /// `aiops/v1`.
    pub api_version: &'static str,
    /// `IncidentBundle`.
    pub kind: &'static str,
    /// The "now" of the capture.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub captured_at: Option<jiff::Timestamp>,
    /// The cluster's name, if given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// The environment, if given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// The alert document exactly as given with `--alert`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert: Option<serde_json::Value>,
    /// Every object in scope, as the API served it.
    pub objects: Vec<Box<RawValue>>,
    /// Container logs.
    pub logs: Vec<LogRecord>,
    /// Prometheus results.
    pub metrics: Vec<MetricSeries>,
    /// Sources that failed during the capture (ignored by analysis, like any unknown field).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub capture_errors: Vec<CollectorFailure>,
}

/// Reports the capture's steps (a progress bar on a terminal).
pub trait Progress {
    /// A step starts.
    fn step(&self, message: &str);
}

impl Progress for indicatif::ProgressBar {
    fn step(&self, message: &str) {
        self.inc(1);
        self.set_message(message.to_string());
    }
}

/// No progress output.
impl Progress for () {
    fn step(&self, _message: &str) {}
}

async fn timed<T>(d: Duration, f: impl std::future::Future<Output = Result<T, Error>>) -> Result<T, Error> {
    tokio::time::timeout(d, f).await.unwrap_or_else(|_| Err(Error::Other(format!("timed out after {d:?}"))))
}

/// Captures a bundle from the live sources of `args`. The Kubernetes API must answer;
/// a failing Prometheus or Loki is recorded in `captureErrors`.
pub async fn capture(
    args: &LiveArgs,
    cluster: Option<String>,
    progress: &dyn Progress,
) -> Result<CapturedBundle, Error> {
    let sources = args.sources();
    let opts = args.options()?;
    let alert = match &args.alert {
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|source| Error::Io { path: path.display().to_string(), source })?;
            Some(
                serde_json::from_slice::<serde_json::Value>(&bytes)
                    .or_else(|_| serde_norway::from_slice(&bytes))
                    .map_err(|e| Error::Other(format!("{}: {e}", path.display())))?,
            )
        }
        None => None,
    };
    let input = args.input().await?;
    let request = CollectRequest {
        alert: input.alert.clone(),
        namespaces: input.namespaces.clone(),
        selector: input.selector.clone(),
        now: input.now,
    };
    progress.step("listing Kubernetes objects");
    let kube = KubernetesCollector::connect(sources.cluster.clone()).await?;
    let (objects, logs) = timed(opts.kubernetes_timeout, async {
        let objects = kube.objects(&request).await?;
        let mut inv = Inventory::default();
        for (i, o) in objects.iter().enumerate() {
            inv.push_json(o, &format!("objects[{i}]"))?;
        }
        progress.step("reading failing containers' logs");
        let logs = kube.failing_logs(&inv.pods).await;
        Ok((objects, logs))
    })
    .await
    .map_err(|e| Error::Other(format!("kubernetes: {e}")))?;
    let mut bundle = CapturedBundle {
        api_version: "aiops/v1",
        kind: "IncidentBundle",
        captured_at: input.now,
        cluster,
        environment: input.environment.clone(),
        alert,
        objects: objects
            .into_iter()
            .map(RawValue::from_string)
            .collect::<Result<_, _>>()
            .map_err(|e| Error::Other(e.to_string()))?,
        logs,
        metrics: Vec::new(),
        capture_errors: Vec::new(),
    };
    progress.step("querying Prometheus");
    if let Some(p) = &sources.prometheus {
        let c = PrometheusCollector::new(p.clone())?.all_categories(true);
        match timed(opts.prometheus_timeout, async {
            c.collect(&request).await.map_err(|e| Error::Other(e.to_string()))
        })
        .await
        {
            Ok(o) => bundle.metrics = o.metrics,
            Err(e) => {
                bundle.capture_errors.push(CollectorFailure { collector: "prometheus".into(), error: e.to_string() })
            }
        }
    }
    progress.step("querying Loki");
    if let Some(l) = &sources.loki {
        let c = LokiCollector::new(l.clone())?;
        match timed(opts.loki_timeout, async { c.collect(&request).await.map_err(|e| Error::Other(e.to_string())) })
            .await
        {
            Ok(o) => {
                // The API's logs of a container win: they split current and previous instances,
                // which Loki's stream of the same container mixes. Loki adds the rest.
                let read = |l: &LogRecord| {
                    bundle.logs.iter().any(|k| {
                        k.namespace == l.namespace
                            && k.pod == l.pod
                            && (l.container.is_empty() || k.container == l.container)
                    })
                };
                let extra: Vec<LogRecord> = o.logs.into_iter().filter(|l| !read(l)).collect();
                bundle.logs.extend(extra);
            }
            Err(e) => bundle.capture_errors.push(CollectorFailure { collector: "loki".into(), error: e.to_string() }),
        }
    }
    Ok(bundle)
}

/// The `aiops capture ... -o FILE` command: captures, writes the bundle, and prints a
/// summary (and, on a terminal, a progress bar) on stderr.
pub async fn cli(args: &LiveArgs, cluster: Option<String>, output: &Path) -> Result<(), Error> {
    let bar = indicatif::ProgressBar::new(5);
    if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} [{pos}/{len}] {msg} ({elapsed})") {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    let bundle = capture(args, cluster, &bar).await;
    bar.step("writing the bundle");
    let bundle = bundle.inspect_err(|_| bar.abandon())?;
    let json = serde_json::to_vec_pretty(&bundle).map_err(|e| Error::Other(e.to_string()))?;
    std::fs::write(output, json).map_err(|source| Error::Io { path: output.display().to_string(), source })?;
    bar.finish_and_clear();
    eprintln!(
        "wrote {}: {} objects, {} logs, {} metric series{}",
        output.display(),
        bundle.objects.len(),
        bundle.logs.len(),
        bundle.metrics.len(),
        bundle.capture_errors.iter().map(|e| format!("; {} failed: {}", e.collector, e.error)).collect::<String>()
    );
    Ok(())
}
