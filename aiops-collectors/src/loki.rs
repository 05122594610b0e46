//! The Loki collector: LogQL `query_range` as in original-design.md §4.3 (`{namespace, app}`
//! selector, `direction=backward`, a line limit), tenant header and auth; each stream becomes
//! a [`LogRecord`] so the same log intelligence reads it as pod logs.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aiops_core::Observations;
use aiops_core::observation::LogRecord;
use aiops_core::traits::{BoxError, CollectRequest, Collector};
use async_trait::async_trait;
use jiff::Timestamp;

use crate::CollectorError;
use crate::http::Endpoint;

/// Default line limit (the original's `max_log_lines`).
pub const DEFAULT_LIMIT: u32 = 1000;

/// Reads logs from Loki for the request's namespaces and alert service.
#[derive(Debug, Clone)]
pub struct LokiCollector {
    endpoint: Arc<Endpoint>,
    client: reqwest::Client,
    limit: u32,
    window: Duration,
}

/// The LogQL stream selectors for a request: `{namespace="ns", app="svc"}` with an alert
/// service, `{namespace="ns"}` otherwise, `{namespace=~".+"}` for a whole-cluster scan.
pub fn selectors(request: &CollectRequest) -> Vec<String> {
    let label = |k: &str| request.alert.as_ref().and_then(|a| a.labels.get(k).cloned());
    let service = label("service").or_else(|| label("app"));
    let namespaces: Vec<String> = match label("namespace") {
        Some(ns) => vec![ns],
        None => request.namespaces.clone(),
    };
    if namespaces.is_empty() {
        return vec![r#"{namespace=~".+"}"#.to_string()];
    }
    namespaces
        .iter()
        .map(|ns| match &service {
            Some(s) => format!(r#"{{namespace="{}", app="{}"}}"#, escape(ns), escape(s)),
            None => format!(r#"{{namespace="{}"}}"#, escape(ns)),
        })
        .collect()
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

impl LokiCollector {
    /// A collector reading the last hour, at most [`DEFAULT_LIMIT`] lines per query.
    pub fn new(endpoint: Endpoint) -> Result<Self, CollectorError> {
        Ok(LokiCollector {
            client: endpoint.client()?,
            endpoint: Arc::new(endpoint),
            limit: DEFAULT_LIMIT,
            window: Duration::from_secs(3600),
        })
    }

    /// Sets the line limit per query.
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = limit;
        self
    }

    /// Runs one LogQL query, returning one record per stream (lines oldest first).
    pub async fn query(&self, logql: &str, now: Timestamp) -> Result<Vec<LogRecord>, CollectorError> {
        let end = now.as_nanosecond();
        let start = end - self.window.as_nanos() as i128;
        let params = [
            ("query", logql.to_string()),
            ("start", start.to_string()),
            ("end", end.to_string()),
            ("limit", self.limit.to_string()),
            ("direction", "backward".to_string()),
        ];
        let body = self.endpoint.get_json(&self.client, "/loki/api/v1/query_range", &params).await?;
        if body["status"] != "success" {
            return Err(CollectorError::Source(format!("LogQL {logql}: {}", body["error"])));
        }
        Ok(records(&body["data"]["result"]))
    }
}

/// Streams to records: labels `namespace`, `pod`, `container` name the record; entries are
/// re-ordered oldest first (Loki answers newest first with `backward`).
fn records(result: &serde_json::Value) -> Vec<LogRecord> {
    let mut out = Vec::new();
    for stream in result.as_array().into_iter().flatten() {
        let labels: BTreeMap<String, String> = serde_json::from_value(stream["stream"].clone()).unwrap_or_default();
        let (Some(ns), Some(pod)) = (labels.get("namespace"), labels.get("pod")) else { continue };
        let mut entries: Vec<(i128, &str)> = stream["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| Some((v[0].as_str()?.parse().ok()?, v[1].as_str()?)))
            .collect();
        entries.sort_by_key(|e| e.0);
        let text = entries.iter().map(|e| e.1).collect::<Vec<_>>().join("\n");
        out.push(LogRecord {
            namespace: ns.clone(),
            pod: pod.clone(),
            container: labels.get("container").cloned().unwrap_or_default(),
            previous: false,
            text,
        });
    }
    out
}

#[async_trait]
impl Collector for LokiCollector {
    fn name(&self) -> &str {
        "loki"
    }

    async fn collect(&self, request: &CollectRequest) -> Result<Observations, BoxError> {
        let now = request.now.unwrap_or_else(Timestamp::now);
        let mut logs = Vec::new();
        for sel in selectors(request) {
            logs.extend(self.query(&sel, now).await?);
        }
        Ok(Observations { logs, ..Default::default() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_become_records_oldest_first() {
        let v = serde_json::json!([{"stream":{"namespace":"shop","pod":"cart-1","container":"cart"},
            "values":[["2000","second"],["1000","first"]]}, {"stream":{"job":"x"},"values":[["1","x"]]}]);
        let r = records(&v);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].text, "first\nsecond");
        assert_eq!(r[0].container, "cart");
    }

    #[test]
    fn selectors_follow_the_scope() {
        assert_eq!(selectors(&CollectRequest::default()), vec![r#"{namespace=~".+"}"#]);
        let req = CollectRequest { namespaces: vec!["a".into(), "b".into()], ..Default::default() };
        assert_eq!(selectors(&req), vec![r#"{namespace="a"}"#, r#"{namespace="b"}"#]);
    }
}
