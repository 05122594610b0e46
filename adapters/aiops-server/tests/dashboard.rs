//! The Grafana dashboard (`deploy/grafana/aiops.json`) queries only metrics the server exports:
//! every panel has a query, every query names at least one `aiops_` series, and each such name
//! is a series of a family that `GET /metrics` declares (counter -> `_total`, histogram ->
//! `_bucket`/`_sum`/`_count`, gauge -> its name).

use std::collections::BTreeSet;
use std::sync::Arc;

use aiops_server::store::{IncidentStore, MemoryStore};
use aiops_server::{Server, ServerConfig};
use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// The series names `/metrics` can serve, from its `# TYPE` lines.
fn exported(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        if parts.next() != Some("#") || parts.next() != Some("TYPE") {
            continue;
        }
        let (Some(name), Some(kind)) = (parts.next(), parts.next()) else { continue };
        match kind {
            "counter" => {
                out.insert(format!("{name}_total"));
            }
            "histogram" => {
                for s in ["_bucket", "_sum", "_count"] {
                    out.insert(format!("{name}{s}"));
                }
            }
            _ => {
                out.insert(name.to_string());
            }
        }
    }
    out
}

/// The `aiops_...` identifiers of a PromQL expression.
fn metric_names(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = expr.as_bytes();
    let mut i = 0;
    while let Some(pos) = expr[i..].find("aiops_") {
        let start = i + pos;
        let boundary = start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        let end =
            expr[start..].find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).map_or(expr.len(), |e| start + e);
        if boundary {
            out.push(expr[start..end].to_string());
        }
        i = end;
    }
    out
}

#[tokio::test]
async fn every_panel_queries_an_exported_metric() {
    let server = Server::new(ServerConfig::default(), Arc::new(MemoryStore::new()) as Arc<dyn IncidentStore>, None);
    let req = Request::builder().uri("/metrics").body(Body::empty()).unwrap();
    let resp = server.router().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let text = String::from_utf8(resp.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    let have = exported(&text);
    assert!(have.contains("aiops_alerts_received_total"), "{have:?}");

    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/grafana/aiops.json");
    let dash: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let panels = dash["panels"].as_array().unwrap();
    assert!(panels.len() >= 10, "the dashboard has its panels");
    let mut used = BTreeSet::new();
    for p in panels {
        let title = p["title"].as_str().unwrap_or("?");
        let targets = p["targets"].as_array().filter(|t| !t.is_empty()).unwrap_or_else(|| panic!("{title}: no query"));
        for t in targets {
            let expr = t["expr"].as_str().unwrap_or_else(|| panic!("{title}: a target without expr"));
            let names = metric_names(expr);
            assert!(!names.is_empty(), "{title}: {expr} queries no aiops metric");
            for n in names {
                assert!(have.contains(&n), "{title}: {n} is not exported by /metrics (have {have:?})");
                used.insert(n);
            }
        }
    }
    assert!(used.len() >= 15, "the dashboard covers the server's metrics: {used:?}");
}

#[test]
fn metric_names_are_read_from_promql() {
    assert_eq!(
        metric_names(
            "histogram_quantile(0.99, sum by (le) (rate(aiops_webhook_latency_seconds_bucket[5m]))) / x_aiops_no"
        ),
        ["aiops_webhook_latency_seconds_bucket"]
    );
    assert_eq!(metric_names("aiops_a + aiops_b"), ["aiops_a", "aiops_b"]);
}
