//! The live-source flags `aiops analyze` and `aiops capture` share, and live `analyze`.

use std::path::PathBuf;

use aiops_collectors::kubernetes::ClusterSource;
use aiops_collectors::{Auth, Endpoint};
use aiops_core::model::Alert;
use aiops_core::{AnalysisInput, Report};

use crate::error::Error;
use crate::live::{LiveOptions, LiveSources, server_now, with_live_collectors_opts};

/// Where to read a live cluster and what part of it.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct LiveArgs {
    /// Namespace in scope (repeat for several; none: every namespace).
    #[arg(long = "namespace", short = 'n', value_name = "NS")]
    pub namespaces: Vec<String>,
    /// Label selector for workloads and pods (`app=cart,tier!=db`).
    #[arg(long, short = 'l', value_name = "L")]
    pub selector: Option<String>,
    /// A kubeconfig file (its current context). Default: `KUBECONFIG`, `~/.kube/config`, or
    /// the in-cluster service account.
    #[arg(long, value_name = "FILE", conflicts_with = "kube_url")]
    pub kubeconfig: Option<PathBuf>,
    /// An API server URL without credentials (`kubectl proxy`, `aiops sim`).
    #[arg(long, value_name = "URL")]
    pub kube_url: Option<String>,
    /// A Prometheus-compatible API (Prometheus, Thanos, Mimir, VictoriaMetrics).
    #[arg(long, value_name = "URL")]
    pub prometheus: Option<String>,
    /// A bearer token for Prometheus (default: `AIOPS_PROMETHEUS_TOKEN`).
    #[arg(long, env = "AIOPS_PROMETHEUS_TOKEN", hide_env_values = true, value_name = "TOKEN")]
    pub prometheus_token: Option<String>,
    /// A Loki API.
    #[arg(long, value_name = "URL")]
    pub loki: Option<String>,
    /// The Loki tenant (`X-Scope-OrgID`).
    #[arg(long, value_name = "ID")]
    pub loki_tenant: Option<String>,
    /// The alert to investigate: an Alertmanager or Grafana webhook body, or one bare alert
    /// (none: a cluster scan, every finding ranked).
    #[arg(long, value_name = "FILE")]
    pub alert: Option<PathBuf>,
    /// The environment (`dev`, `staging`, `uat`, `prod`) for the policy decision.
    #[arg(long, value_name = "ENV")]
    pub environment: Option<String>,
    /// Analyse as of this time (RFC 3339). Default: the API server's clock.
    #[arg(long, value_name = "TIME")]
    pub at: Option<jiff::Timestamp>,
    /// Seconds the Kubernetes collector may take.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    pub kube_timeout: f64,
    /// Seconds the Prometheus collector may take.
    #[arg(long, value_name = "SECONDS", default_value_t = 15.0)]
    pub prometheus_timeout: f64,
    /// Seconds the Loki collector may take.
    #[arg(long, value_name = "SECONDS", default_value_t = 15.0)]
    pub loki_timeout: f64,
}

fn seconds(s: f64, flag: &str) -> Result<std::time::Duration, Error> {
    std::time::Duration::try_from_secs_f64(s).map_err(|e| Error::Other(format!("{flag} {s}: {e}")))
}

impl LiveArgs {
    /// The sources the flags name.
    pub fn sources(&self) -> LiveSources {
        let cluster = match (&self.kubeconfig, &self.kube_url) {
            (Some(path), _) => ClusterSource::Kubeconfig(path.clone()),
            (None, Some(url)) => ClusterSource::Url(url.clone()),
            (None, None) => ClusterSource::Infer,
        };
        let prometheus = self.prometheus.as_ref().map(|url| match &self.prometheus_token {
            Some(t) => Endpoint::new(url).auth(Auth::Bearer(t.clone())),
            None => Endpoint::new(url),
        });
        let loki = self.loki.as_ref().map(|url| match &self.loki_tenant {
            Some(t) => Endpoint::new(url).tenant(t),
            None => Endpoint::new(url),
        });
        LiveSources { cluster, prometheus, loki }
    }

    /// The per-collector timeouts.
    pub fn options(&self) -> Result<LiveOptions, Error> {
        Ok(LiveOptions {
            kubernetes_timeout: seconds(self.kube_timeout, "--kube-timeout")?,
            prometheus_timeout: seconds(self.prometheus_timeout, "--prometheus-timeout")?,
            loki_timeout: seconds(self.loki_timeout, "--loki-timeout")?,
            ..Default::default()
        })
    }

    /// The alerts of `--alert`, if given.
    pub fn alerts(&self) -> Result<Vec<Alert>, Error> {
        let Some(path) = &self.alert else { return Ok(Vec::new()) };
        let bytes = std::fs::read(path).map_err(|source| Error::Io { path: path.display().to_string(), source })?;
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .or_else(|_| serde_norway::from_slice(&bytes))
            .map_err(|e| Error::Other(format!("{}: {e}", path.display())))?;
        aiops_core::alert::alerts_from_value(&value).map_err(|e| Error::Other(format!("{}: {e}", path.display())))
    }

    /// The analysis input: the first firing alert, the scope, and "now" (`--at`, else the
    /// API server's clock, else the local clock).
    pub async fn input(&self) -> Result<AnalysisInput, Error> {
        let alerts = self.alerts()?;
        let now = match self.at {
            Some(t) => Some(t),
            None => server_now(&self.sources().cluster).await.unwrap_or_else(|e| {
                tracing::debug!(error = %e, "no server clock");
                None
            }),
        };
        Ok(AnalysisInput {
            alert: alerts.iter().find(|a| a.status == "firing").or(alerts.first()).cloned(),
            namespaces: self.namespaces.clone(),
            selector: self.selector.clone(),
            now,
            environment: self.environment.clone(),
        })
    }
}

/// Diagnoses a live cluster (with `rules` as the rule engine; `explain` asks the configured LLM).
pub async fn analyze(args: &LiveArgs, rules: aiops_rca::RulesEngine, explain: bool) -> Result<Report, Error> {
    let input = args.input().await?;
    let base = crate::with_llm(crate::default_engine().rules(rules), explain)?;
    let builder = with_live_collectors_opts(base, &args.sources(), &args.options()?).await?;
    Ok(builder.build()?.analyze(input).await?)
}
