//! The Prometheus collector: the original's 43 named queries (`queries.yaml`,
//! original-design.md §4.4), selected by category from the alert, run as range or instant
//! queries against any Prometheus-compatible HTTP API (Prometheus, Thanos, Mimir,
//! VictoriaMetrics).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aiops_core::Observations;
use aiops_core::model::Alert;
use aiops_core::observation::{MetricSeries, PromSeries};
use aiops_core::traits::{BoxError, CollectRequest, Collector};
use async_trait::async_trait;
use futures::{FutureExt, StreamExt, stream};
use jiff::Timestamp;
use serde::Deserialize;

use crate::CollectorError;
use crate::http::Endpoint;

/// One named query of the library.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NamedQuery {
    /// Category (`crashloop`, `oom`, `error_rate`, `latency`, `resource`, `node`, `hpa`,
    /// `deployment`, `network`, `service_mesh`).
    pub category: String,
    /// Stable name; it becomes the [`MetricSeries::name`].
    pub name: String,
    /// Unit of the values: `bytes`, `ratio`, `percent`, `seconds`, `per_second`, `count`.
    pub unit: String,
    /// PromQL with `{{namespace}}`, `{{pod_prefix}}`, `{{deployment}}` placeholders.
    pub query: String,
}

/// The built-in library (43 queries).
pub fn library() -> &'static [NamedQuery] {
    static LIB: OnceLock<Vec<NamedQuery>> = OnceLock::new();
    LIB.get_or_init(|| serde_norway::from_str(include_str!("queries.yaml")).unwrap_or_default())
}

/// The categories to query for an alert (§4.4): always `deployment` and `resource`, plus
/// those whose keywords occur in the alert name or whose name is the `category` label.
/// Without an alert (a cluster scan) every category is queried. Unlike the original, the
/// `network` and `service_mesh` categories are reachable (keywords `network`, `istio`/`mesh`).
pub fn categories(alert: Option<&Alert>) -> Vec<&'static str> {
    const TABLE: &[(&[&str], &str)] = &[
        (&["crash", "restart"], "crashloop"),
        (&["oom", "memory"], "oom"),
        (&["error", "5xx"], "error_rate"),
        (&["latency", "slow"], "latency"),
        (&["node"], "node"),
        (&["hpa", "scaling"], "hpa"),
        (&["network", "packet"], "network"),
        (&["istio", "mesh"], "service_mesh"),
    ];
    let Some(alert) = alert else {
        let mut all: Vec<&str> = TABLE.iter().map(|(_, c)| *c).collect();
        all.extend(["deployment", "resource"]);
        return all;
    };
    let name = alert.alertname.to_lowercase();
    let label = alert.labels.get("category").map(String::as_str);
    let mut out = vec!["deployment", "resource"];
    for (words, cat) in TABLE {
        if words.iter().any(|w| name.contains(w)) || label == Some(*cat) {
            out.push(cat);
        }
    }
    out
}

/// Instant or range queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryMode {
    /// `/api/v1/query_range` over the window, `step = max(15 s, window / 100)`.
    Range,
    /// `/api/v1/query` at "now".
    Instant,
}

/// Runs the named queries selected for the request's alert.
#[derive(Debug, Clone)]
pub struct PrometheusCollector {
    endpoint: Arc<Endpoint>,
    client: reqwest::Client,
    mode: QueryMode,
    window: Duration,
    step: Option<Duration>,
    all_categories: bool,
}

/// The placeholder values for one request.
fn substitutions(request: &CollectRequest, workload_wide: bool) -> (String, String, String) {
    let alert = request.alert.as_ref();
    let label = |keys: &[&str]| alert.and_then(|a| keys.iter().find_map(|k| a.labels.get(*k).cloned()));
    let ns_regex = match (label(&["namespace"]), request.namespaces.as_slice()) {
        (Some(ns), _) => regex_quote(&ns),
        (None, []) => ".+".to_string(),
        (None, list) => list.iter().map(|n| regex_quote(n)).collect::<Vec<_>>().join("|"),
    };
    let service = label(&["service", "app", "deployment", "app_kubernetes_io_name"]);
    // The alerted pod first: kube-prometheus alerts carry `service` = the exporter that was scraped.
    let pod = label(&["pod"]).map(|p| if workload_wide { workload_prefix(&p) } else { p });
    let pod_prefix = pod.or_else(|| service.clone()).map(|s| regex_quote(&s)).unwrap_or(".*".into());
    let deployment = service.map(|s| regex_quote(&s)).unwrap_or(".*".into());
    (ns_regex, pod_prefix, deployment)
}

/// The name prefix every pod of a pod's workload shares: `cart-5b7c9d8f46-w9tqz` ->
/// `cart-` (Deployment pods: ReplicaSet hash and pod suffix), `web-0` -> `web-`
/// (StatefulSet), `agent-x7k2p` -> `agent-` (DaemonSet, Job); anything else unchanged.
pub fn workload_prefix(pod: &str) -> String {
    let parts: Vec<&str> = pod.split('-').collect();
    let alnum = |s: &str| s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let suffix = |s: &str| s.len() == 5 && alnum(s);
    let hash = |s: &str| (6..=10).contains(&s.len()) && alnum(s);
    let index = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    let n = parts.len();
    let keep = if n >= 3 && hash(parts[n - 2]) && suffix(parts[n - 1]) {
        n - 2
    } else if n >= 2 && (suffix(parts[n - 1]) || index(parts[n - 1])) {
        n - 1
    } else {
        return pod.to_string();
    };
    format!("{}-", parts[..keep].join("-"))
}

fn regex_quote(s: &str) -> String {
    s.chars().flat_map(|c| if "\\.+*?()|[]{}^$".contains(c) { vec!['\\', '\\', c] } else { vec![c] }).collect()
}

/// Renders a query: the namespace matcher becomes a regex match so a scan covers every
/// namespace in scope.
pub fn render(q: &NamedQuery, request: &CollectRequest) -> String {
    render_scoped(q, request, false)
}

/// [`render`], with the alert's pod widened to its workload's pods when `workload_wide`.
pub fn render_scoped(q: &NamedQuery, request: &CollectRequest, workload_wide: bool) -> String {
    let (ns, pod, dep) = substitutions(request, workload_wide);
    q.query
        .replace("namespace=\"{{namespace}}\"", &format!("namespace=~\"{ns}\""))
        .replace("{{namespace}}", &ns)
        .replace("{{pod_prefix}}", &pod)
        .replace("{{deployment}}", &dep)
}

impl PrometheusCollector {
    /// A collector running range queries over the last hour.
    pub fn new(endpoint: Endpoint) -> Result<Self, CollectorError> {
        Ok(PrometheusCollector {
            client: endpoint.client()?,
            endpoint: Arc::new(endpoint),
            mode: QueryMode::Range,
            window: Duration::from_secs(3600),
            step: None,
            all_categories: false,
        })
    }

    /// Sets instant or range queries.
    pub fn mode(mut self, mode: QueryMode) -> Self {
        self.mode = mode;
        self
    }

    /// Runs every category's queries whatever the alert, over all pods of the alerted pod's
    /// workload (what `aiops capture` does: a bundle should hold what any later analysis may
    /// need); the alert's namespace still scopes them.
    pub fn all_categories(mut self, all: bool) -> Self {
        self.all_categories = all;
        self
    }

    /// Sets the range query resolution (default `max(15 s, window / 100)`).
    pub fn step(mut self, step: Duration) -> Self {
        self.step = Some(step);
        self
    }

    /// Sets the range window ending at the analysis "now".
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// Runs one rendered query.
    pub async fn query(&self, name: &str, promql: &str, now: Timestamp) -> Result<MetricSeries, CollectorError> {
        let end = now.as_second();
        let start = end - self.window.as_secs() as i64;
        let (path, params) = match self.mode {
            QueryMode::Range => {
                let step = self.step.map_or((self.window.as_secs() / 100).max(15), |s| s.as_secs().max(1));
                (
                    "/api/v1/query_range",
                    vec![
                        ("query", promql.to_string()),
                        ("start", start.to_string()),
                        ("end", end.to_string()),
                        ("step", step.to_string()),
                    ],
                )
            }
            QueryMode::Instant => ("/api/v1/query", vec![("query", promql.to_string()), ("time", end.to_string())]),
        };
        let body = self.endpoint.get_json(&self.client, path, &params).await?;
        if body["status"] != "success" {
            return Err(CollectorError::Source(format!("query {name}: {}", body["error"])));
        }
        let result_type = body["data"]["resultType"].as_str().unwrap_or("matrix").to_string();
        let result: Vec<PromSeries> = aiops_core::bundle::from_value_at(&body["data"]["result"], "data.result")
            .map_err(CollectorError::Invalid)?;
        Ok(MetricSeries { name: name.to_string(), query: Some(promql.to_string()), result_type, result })
    }
}

#[async_trait]
impl Collector for PrometheusCollector {
    fn name(&self) -> &str {
        "prometheus"
    }

    async fn collect(&self, request: &CollectRequest) -> Result<Observations, BoxError> {
        let cats = if self.all_categories { categories(None) } else { categories(request.alert.as_ref()) };
        let now = request.now.unwrap_or_else(Timestamp::now);
        let selected: Vec<(&NamedQuery, String)> = library()
            .iter()
            .filter(|q| cats.contains(&q.category.as_str()))
            .map(|q| (q, render_scoped(q, request, self.all_categories)))
            .collect();
        let futures: Vec<_> = selected.iter().map(|(q, promql)| self.query(&q.name, promql, now).boxed()).collect();
        let results: Vec<Result<MetricSeries, CollectorError>> = stream::iter(futures).buffered(8).collect().await;
        let mut metrics = Vec::new();
        let mut failures = 0;
        for r in results {
            match r {
                Ok(m) if !m.result.is_empty() => metrics.push(m),
                Ok(_) => {}
                Err(e) => {
                    failures += 1;
                    tracing::debug!(error = %e, "query failed");
                    if failures == selected.len() {
                        return Err(Box::new(e));
                    }
                }
            }
        }
        Ok(Observations { metrics, ..Default::default() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_library_has_43_queries_in_10_categories() {
        let lib = library();
        assert_eq!(lib.len(), 43);
        let mut cats: Vec<&str> = lib.iter().map(|q| q.category.as_str()).collect();
        cats.sort();
        cats.dedup();
        assert_eq!(cats.len(), 10, "{cats:?}");
    }

    #[test]
    fn workload_prefixes() {
        assert_eq!(workload_prefix("cart-5b7c9d8f46-w9tqz"), "cart-");
        assert_eq!(workload_prefix("spark-worker-7f9c6d5b8-abcde"), "spark-worker-");
        assert_eq!(workload_prefix("web-0"), "web-");
        assert_eq!(workload_prefix("agent-x7k2p"), "agent-");
        assert_eq!(workload_prefix("standalone"), "standalone");
    }

    #[test]
    fn categories_follow_the_alert() {
        let alert = |name: &str| Alert {
            source: aiops_core::model::IncidentSource::Alertmanager,
            status: "firing".into(),
            alertname: name.into(),
            labels: Default::default(),
            annotations: Default::default(),
            starts_at: None,
            ends_at: None,
            group_key: None,
            source_fingerprint: None,
        };
        assert_eq!(categories(Some(&alert("PodCrashLooping"))), vec!["deployment", "resource", "crashloop"]);
        assert_eq!(categories(Some(&alert("PodImagePullBackOff"))), vec!["deployment", "resource"]);
        assert_eq!(categories(None).len(), 10);
        let mut a = alert("KubeHpaMaxedOut");
        a.labels.insert("namespace".into(), "shop".into());
        a.labels.insert("service".into(), "cart.v2".into());
        let req = CollectRequest { alert: Some(a), ..Default::default() };
        let q = library().iter().find(|q| q.name == "memory_working_set").unwrap();
        assert_eq!(render(q, &req), r#"container_memory_working_set_bytes{namespace=~"shop", pod=~"cart\\.v2.*"}"#);
    }
}
