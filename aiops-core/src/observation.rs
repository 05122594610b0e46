//! What collectors gather: objects, logs, metrics and alerts, before any analysis.

use std::collections::BTreeMap;

use std::sync::Arc;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::model::Alert;
use crate::object::Inventory;

/// Container log text for one container instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogRecord {
    /// Namespace.
    pub namespace: String,
    /// Pod name.
    pub pod: String,
    /// Container name (empty when unknown, e.g. from Loki without a container label).
    #[serde(default)]
    pub container: String,
    /// True for the previous (crashed) instance.
    #[serde(default)]
    pub previous: bool,
    /// Raw lines, newline separated.
    pub text: String,
}

/// One Prometheus series as the HTTP API returns it (`matrix` values or a `vector` value).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromSeries {
    /// Series labels.
    #[serde(default)]
    pub metric: BTreeMap<String, String>,
    /// Matrix samples `[unix_seconds, "value"]`.
    #[serde(default)]
    pub values: Vec<(f64, String)>,
    /// Vector sample.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<(f64, String)>,
}

impl PromSeries {
    /// All samples as numbers, oldest first (non-numeric samples are skipped).
    pub fn samples(&self) -> Vec<(f64, f64)> {
        self.values
            .iter()
            .chain(self.value.iter())
            .filter_map(|(t, v)| v.parse::<f64>().ok().filter(|x| x.is_finite()).map(|x| (*t, x)))
            .collect()
    }
}

/// A named query result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricSeries {
    /// Query name from the built-in set, or any label.
    pub name: String,
    /// The PromQL expression, if known.
    #[serde(default)]
    pub query: Option<String>,
    /// `matrix` or `vector`.
    #[serde(default = "matrix")]
    pub result_type: String,
    /// The series.
    #[serde(default)]
    pub result: Vec<PromSeries>,
}

fn matrix() -> String {
    "matrix".into()
}

/// Everything collectors gathered for one analysis.
#[derive(Debug, Clone, Default)]
pub struct Observations {
    /// Kubernetes objects (shared, so a snapshot is never copied per analysis).
    pub inventory: Arc<Inventory>,
    /// Container logs.
    pub logs: Vec<LogRecord>,
    /// Metric results.
    pub metrics: Vec<MetricSeries>,
    /// Alerts found by a collector (a bundle's alert).
    pub alerts: Vec<Alert>,
    /// Capture time, when the source is a snapshot.
    pub captured_at: Option<Timestamp>,
    /// Cluster name, if the source knows it.
    pub cluster: Option<String>,
    /// Environment (`dev`, `staging`, `uat`, `prod`), if the source knows it.
    pub environment: Option<String>,
}

impl Observations {
    /// Merges another collector's observations into this one.
    pub fn merge(&mut self, other: Observations) {
        if self.inventory.is_empty() {
            self.inventory = other.inventory;
        } else if !other.inventory.is_empty() {
            let other = Arc::try_unwrap(other.inventory).unwrap_or_else(|shared| (*shared).clone());
            Arc::make_mut(&mut self.inventory).extend(other);
        }
        self.logs.extend(other.logs);
        self.metrics.extend(other.metrics);
        self.alerts.extend(other.alerts);
        self.captured_at = self.captured_at.or(other.captured_at);
        self.cluster = self.cluster.take().or(other.cluster);
        self.environment = self.environment.take().or(other.environment);
    }
}
