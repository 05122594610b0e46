//! [`Verifier`]: did the action help? Values are captured before the action
//! ([`Verifier::capture`]); after a configurable wait (default 2 minutes, on an injectable
//! [`Waiter`] so tests use a [`ManualClock`]) the same values are read again and compared.
//!
//! Checks (a check without data is reported as skipped, never as passed; a cordon or uncordon
//! is checked on the node's `spec.unschedulable` instead of pods):
//! - `pods_ready`: the target's pods are all Running and Ready, and there is at least one
//!   (the original counted 0 pods as healthy);
//! - `restarts_not_increasing`: no pod's restart count grew since the capture (a new pod
//!   starts from 0);
//! - `restarts_rate`, `error_ratio` (5xx share), `latency_p99`: the original's PromQL
//!   (`original-design.md` §8.6, latency added) read before and after; each must not be worse
//!   than before the action (`after <= before`).
//!
//! Success needs every evaluated check to pass.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aiops_core::model::{ActionType, RemediationAction, ResourceRef};
use aiops_core::traits::Clock;
use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::Instrument;

use crate::error::Result;
use crate::plan::pod_is_healthy;

/// Waits (the verifier's pause before checking).
#[async_trait]
pub trait Waiter: Send + Sync {
    /// Returns after `d`.
    async fn wait(&self, d: Duration);
}

/// Waits on the tokio timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioWaiter;

#[async_trait]
impl Waiter for TokioWaiter {
    async fn wait(&self, d: Duration) {
        tokio::time::sleep(d).await;
    }
}

/// A clock that only moves when told to (or when waited on): for tests and replays.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<Timestamp>>,
}

impl ManualClock {
    /// A clock at `t`.
    pub fn new(t: Timestamp) -> Self {
        Self { now: Arc::new(Mutex::new(t)) }
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        if let Ok(mut g) = self.now.lock() {
            *g = g.checked_add(SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX)).unwrap_or(*g);
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        self.now.lock().map(|g| *g).unwrap_or_else(|e| *e.into_inner())
    }
}

#[async_trait]
impl Waiter for ManualClock {
    async fn wait(&self, d: Duration) {
        self.advance(d);
    }
}

/// Reads the pods an action was meant to heal.
#[async_trait]
pub trait PodSource: Send + Sync {
    /// The pods of `target` now (a workload's pods; a pod's siblings under the same controller).
    async fn pods_of(&self, target: &ResourceRef) -> Result<Vec<Value>>;

    /// Whether the node is cordoned (`spec.unschedulable`), `None` when unknown.
    async fn node_unschedulable(&self, _node: &str) -> Result<Option<bool>> {
        Ok(None)
    }
}

/// Answers an instant PromQL query with one number (`None`: no data).
#[async_trait]
pub trait MetricQuery: Send + Sync {
    /// The first sample's value of `query`, if any.
    async fn instant(&self, query: &str) -> Result<Option<f64>>;
}

/// The PromQL the verifier reads, for a namespace and a pod-name prefix (§8.6).
pub fn queries(namespace: &str, pod_prefix: Option<&str>) -> BTreeMap<&'static str, String> {
    let pod = pod_prefix.map(|p| format!(", pod=~\"{p}.*\"")).unwrap_or_default();
    let sel = format!("namespace=\"{namespace}\"{pod}");
    BTreeMap::from([
        (
            "error_ratio",
            format!(
                "sum(rate(http_requests_total{{{sel}, status=~\"5..\"}}[5m])) / sum(rate(http_requests_total{{{sel}}}[5m]))"
            ),
        ),
        (
            "restarts_rate",
            format!(
                "sum(increase(kube_pod_container_status_restarts_total{{namespace=\"{namespace}\", pod=~\"{}.*\"}}[5m]))",
                pod_prefix.unwrap_or(".*")
            ),
        ),
        (
            "latency_p99",
            format!("histogram_quantile(0.99, sum(rate(http_request_duration_seconds_bucket{{{sel}}}[5m])) by (le))"),
        ),
    ])
}

/// What was true before the action.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// When it was captured.
    pub at: Option<Timestamp>,
    /// Restart count per pod name.
    pub restarts: BTreeMap<String, i64>,
    /// Metric values by check name (`error_ratio`, `restarts_rate`, `latency_p99`).
    pub metrics: BTreeMap<String, Option<f64>>,
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// The check.
    pub name: String,
    /// `Some(pass)`, or `None` when there was no data (skipped).
    pub passed: Option<bool>,
    /// Value before the action.
    pub before: Option<f64>,
    /// Value after.
    pub after: Option<f64>,
    /// In words.
    pub detail: String,
}

/// The verification outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    /// Every evaluated check passed (and at least `pods_ready` was evaluated).
    pub success: bool,
    /// Each check.
    pub checks: Vec<Check>,
    /// When it was decided.
    pub at: Timestamp,
    /// How long it waited before checking, in seconds.
    pub waited_secs: u64,
}

/// The verifier (see the module doc).
#[derive(Clone)]
pub struct Verifier {
    pods: Arc<dyn PodSource>,
    metrics: Option<Arc<dyn MetricQuery>>,
    clock: Arc<dyn Clock>,
    waiter: Arc<dyn Waiter>,
    wait: Duration,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier").field("wait", &self.wait).field("metrics", &self.metrics.is_some()).finish()
    }
}

fn pod_prefix(target: &ResourceRef) -> Option<String> {
    match target.kind.as_str() {
        "Node" => None,
        "Pod" => target.name.rsplit_once('-').map(|(p, _)| format!("{p}-")),
        _ => Some(format!("{}-", target.name)),
    }
}

fn restarts(pod: &Value) -> i64 {
    let statuses = pod.pointer("/status/containerStatuses").and_then(Value::as_array);
    statuses.map_or(0, |cs| cs.iter().filter_map(|c| c["restartCount"].as_i64()).sum())
}

fn pod_name(pod: &Value) -> String {
    pod.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string()
}

impl Verifier {
    /// A verifier reading pods from `pods`, waiting 2 minutes on the tokio timer.
    pub fn new(pods: Arc<dyn PodSource>) -> Self {
        Self {
            pods,
            metrics: None,
            clock: Arc::new(aiops_core::traits::SystemClock),
            waiter: Arc::new(TokioWaiter),
            wait: Duration::from_secs(120),
        }
    }

    /// Also compares the PromQL checks, read from `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<dyn MetricQuery>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Uses `clock` for timestamps and `waiter` for the pause (a [`ManualClock`] is both).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>, waiter: Arc<dyn Waiter>) -> Self {
        self.clock = clock;
        self.waiter = waiter;
        self
    }

    /// Waits `wait` before checking (default 2 minutes).
    pub fn with_wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    async fn read_metrics(&self, target: &ResourceRef) -> BTreeMap<String, Option<f64>> {
        let mut out = BTreeMap::new();
        let Some(m) = self.metrics.as_ref().filter(|_| target.kind != "Node") else { return out };
        let ns = target.namespace.as_deref().unwrap_or_default();
        for (name, q) in queries(ns, pod_prefix(target).as_deref()) {
            // A failed query is no data for that check, never a pass.
            let v = m.instant(&q).await.unwrap_or_else(|e| {
                tracing::warn!(check = name, error = %e, "metric query failed");
                None
            });
            out.insert(name.to_string(), v);
        }
        out
    }

    /// Captures the values to compare against, before the action runs.
    pub async fn capture(&self, action: &RemediationAction) -> Result<Baseline> {
        let span = tracing::info_span!("verify_capture", target = %action.target);
        self.capture_inner(action).instrument(span).await
    }

    async fn capture_inner(&self, action: &RemediationAction) -> Result<Baseline> {
        let pods = if action.target.kind == "Node" { Vec::new() } else { self.pods.pods_of(&action.target).await? };
        Ok(Baseline {
            at: Some(self.clock.now()),
            restarts: pods.iter().map(|p| (pod_name(p), restarts(p))).collect(),
            metrics: self.read_metrics(&action.target).await,
        })
    }

    /// Waits, then checks the action's target against `baseline`.
    pub async fn verify(&self, action: &RemediationAction, baseline: &Baseline) -> Result<Verification> {
        let span = tracing::info_span!("verify", target = %action.target);
        self.verify_inner(action, baseline).instrument(span).await
    }

    async fn verify_inner(&self, action: &RemediationAction, baseline: &Baseline) -> Result<Verification> {
        self.waiter.wait(self.wait).await;
        let mut checks = Vec::new();
        if matches!(action.action, ActionType::CordonNode | ActionType::UncordonNode) {
            let want = action.action == ActionType::CordonNode;
            let now = self.pods.node_unschedulable(&action.target.name).await?;
            checks.push(Check {
                name: "node_state".into(),
                passed: now.map(|u| u == want),
                before: None,
                after: now.map(|u| f64::from(u8::from(u))),
                detail: format!("spec.unschedulable is {now:?}, wanted {want}"),
            });
        } else {
            let pods = self.pods.pods_of(&action.target).await?;
            checks.push(pods_ready(&pods));
            checks.push(restarts_check(&pods, baseline));
        }
        let after = self.read_metrics(&action.target).await;
        for (name, after) in after {
            let before = baseline.metrics.get(&name).copied().flatten();
            checks.push(metric_check(&name, before, after));
        }
        let success =
            checks.iter().all(|c| c.passed != Some(false)) && checks.first().is_some_and(|c| c.passed == Some(true));
        tracing::info!(success, "verified");
        Ok(Verification { success, checks, at: self.clock.now(), waited_secs: self.wait.as_secs() })
    }
}

fn pods_ready(pods: &[Value]) -> Check {
    let ready = pods.iter().filter(|p| pod_is_healthy(p)).count();
    let detail = if pods.is_empty() {
        "0 pods: nothing is serving (not a success)".to_string()
    } else {
        let not: Vec<String> = pods.iter().filter(|p| !pod_is_healthy(p)).map(pod_name).collect();
        let not = if not.is_empty() { String::new() } else { format!("; not ready: {}", not.join(", ")) };
        format!("{ready}/{} pods Running and Ready{not}", pods.len())
    };
    Check {
        name: "pods_ready".into(),
        passed: Some(!pods.is_empty() && ready == pods.len()),
        before: None,
        after: Some(ready as f64),
        detail,
    }
}

fn restarts_check(pods: &[Value], baseline: &Baseline) -> Check {
    let grew: Vec<String> = pods
        .iter()
        .filter(|p| restarts(p) > baseline.restarts.get(&pod_name(p)).copied().unwrap_or(0))
        .map(|p| format!("{} ({} restarts)", pod_name(p), restarts(p)))
        .collect();
    Check {
        name: "restarts_not_increasing".into(),
        passed: Some(grew.is_empty()),
        before: Some(baseline.restarts.values().sum::<i64>() as f64),
        after: Some(pods.iter().map(restarts).sum::<i64>() as f64),
        detail: if grew.is_empty() {
            "no pod restarted since the action".into()
        } else {
            format!("restarting: {}", grew.join(", "))
        },
    }
}

fn metric_check(name: &str, before: Option<f64>, after: Option<f64>) -> Check {
    let (passed, detail) = match (before, after) {
        (Some(b), Some(a)) if a <= b => (Some(true), format!("{a} after, {b} before: not worse")),
        (Some(b), Some(a)) => (Some(false), format!("{a} after, {b} before: worse")),
        _ => (None, "no data before or after: skipped".to_string()),
    };
    Check { name: name.into(), passed, before, after, detail }
}

/// Pods over the Kubernetes API.
#[cfg(feature = "kube")]
#[derive(Clone)]
pub struct KubePods {
    client: kube::Client,
}

#[cfg(feature = "kube")]
impl KubePods {
    /// Reads pods through `client`.
    pub fn new(client: kube::Client) -> Self {
        Self { client }
    }

    async fn get(&self, path: &str) -> Result<Value> {
        crate::executor::kube_get(&self.client, path).await
    }
}

#[cfg(feature = "kube")]
impl std::fmt::Debug for KubePods {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KubePods")
    }
}

#[cfg(feature = "kube")]
#[async_trait]
impl PodSource for KubePods {
    async fn pods_of(&self, target: &ResourceRef) -> Result<Vec<Value>> {
        let ns = target.namespace.as_deref().unwrap_or_default();
        let list = self.get(&format!("/api/v1/namespaces/{ns}/pods")).await?;
        let items = list["items"].as_array().cloned().unwrap_or_default();
        let selector = match target.kind.as_str() {
            "Deployment" | "StatefulSet" => {
                let plural = if target.kind == "Deployment" { "deployments" } else { "statefulsets" };
                let w = self.get(&format!("/apis/apps/v1/namespaces/{ns}/{plural}/{}", target.name)).await?;
                w.pointer("/spec/selector").cloned()
            }
            _ => None,
        };
        if target.kind == "Node" {
            return Ok(Vec::new());
        }
        let prefix = pod_prefix(target).unwrap_or_default();
        Ok(items
            .into_iter()
            .filter(|p| match &selector {
                Some(sel) => crate::plan::label_selector_matches(sel, &labels(p)),
                None => pod_name(p).starts_with(&prefix),
            })
            .collect())
    }

    async fn node_unschedulable(&self, node: &str) -> Result<Option<bool>> {
        let n = self.get(&format!("/api/v1/nodes/{node}")).await?;
        Ok(Some(n.pointer("/spec/unschedulable") == Some(&Value::Bool(true))))
    }
}

#[cfg(feature = "kube")]
fn labels(pod: &Value) -> BTreeMap<String, String> {
    pod.pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
        .unwrap_or_default()
}

/// Instant queries against the Prometheus HTTP API (`GET {base}/api/v1/query`).
#[cfg(feature = "kube")]
#[derive(Debug, Clone)]
pub struct PrometheusQuery {
    base: String,
    http: reqwest::Client,
}

#[cfg(feature = "kube")]
impl PrometheusQuery {
    /// Queries the Prometheus at `base` (e.g. `http://prometheus:9090`), 10 s timeout.
    pub fn new(base: impl Into<String>) -> Result<Self> {
        let http = crate::http::client("prometheus", Duration::from_secs(10))?;
        Ok(Self { base: base.into().trim_end_matches('/').to_string(), http })
    }
}

#[cfg(feature = "kube")]
#[async_trait]
impl MetricQuery for PrometheusQuery {
    async fn instant(&self, query: &str) -> Result<Option<f64>> {
        let err = |e: reqwest::Error| crate::RemediateError::Http { service: "prometheus", message: e.to_string() };
        let url = format!("{}/api/v1/query", self.base);
        let resp = self.http.get(url).query(&[("query", query)]).send().await.map_err(err)?;
        let body: Value = resp.error_for_status().map_err(err)?.json().await.map_err(err)?;
        let v = body.pointer("/data/result/0/value/1").and_then(Value::as_str).and_then(|s| s.parse::<f64>().ok());
        Ok(v.filter(|v| v.is_finite()))
    }
}
