//! The Prometheus HTTP API (`/api/v1/query`, `/api/v1/query_range`, GET or POST form) answered
//! from the bundle's recorded metric results.
//!
//! **Matching rule.** A query is answered by the first rule that yields results:
//! 1. its text equals (ignoring whitespace) the `query` recorded with a bundle metric: that
//!    metric's series;
//! 2. its text equals a bundle metric's `name`: that metric's series;
//! 3. by selector: for every vector selector of the query (`name{label="v", label=~"re"}`),
//!    the series of the bundle metrics whose name, recorded query's selector names, or series
//!    `__name__` equals the selector's name, kept when they satisfy the selector's matchers
//!    (a matcher on a label the series does not carry is not applied: recorded series often
//!    omit labels). Functions and operators are not evaluated: the recorded values are served
//!    as they are.
//!
//! Otherwise the result is empty (`status: success`). A bundle is one snapshot, so `start`,
//! `end` and `step` do not filter: `query_range` returns every recorded sample as a `matrix`;
//! `query` returns a `vector` with each series' last sample at or before `time` (the last
//! sample when `time` is absent or earlier than every sample).

use std::collections::BTreeMap;

use aiops_core::observation::{MetricSeries, PromSeries};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::App;
use crate::k8s::Params;
use crate::promql::{self, Selector};

fn params(uri: &Uri, body: &[u8]) -> Params {
    let mut p = Params::parse(uri.query().unwrap_or(""));
    p.0.extend(Params::parse(&String::from_utf8_lossy(body)).0);
    p
}

fn error(message: impl Into<String>) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"status": "error", "errorType": "bad_data", "error": message.into()})))
        .into_response()
}

fn normalized(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

fn names_of(m: &MetricSeries) -> Vec<String> {
    let mut names = vec![m.name.clone()];
    if let Some(q) = &m.query {
        names.extend(promql::selectors(q).unwrap_or_default().into_iter().filter_map(|s| s.name));
    }
    names.extend(m.result.iter().filter_map(|s| s.metric.get("__name__").cloned()));
    names
}

fn lenient(sel: &Selector, labels: &BTreeMap<String, String>) -> bool {
    sel.matchers
        .iter()
        .filter(|m| labels.contains_key(&m.label))
        .all(|m| m.matches(labels.get(&m.label).map(String::as_str)))
}

/// The recorded series answering `query` (see the module doc).
pub fn select(metrics: &[MetricSeries], query: &str) -> Result<Vec<PromSeries>, String> {
    let q = normalized(query);
    let by_query: Vec<PromSeries> = metrics
        .iter()
        .filter(|m| m.query.as_deref().map(normalized) == Some(q.clone()))
        .flat_map(|m| m.result.clone())
        .collect();
    if !by_query.is_empty() {
        return Ok(by_query);
    }
    let by_name: Vec<PromSeries> =
        metrics.iter().filter(|m| m.name == query.trim()).flat_map(|m| m.result.clone()).collect();
    if !by_name.is_empty() {
        return Ok(by_name);
    }
    let mut out: Vec<PromSeries> = Vec::new();
    for sel in promql::selectors(query)? {
        let Some(name) = &sel.name else { continue };
        for m in metrics.iter().filter(|m| names_of(m).contains(name)) {
            for s in m.result.iter().filter(|s| lenient(&sel, &s.metric)) {
                if !out.iter().any(|o| o.metric == s.metric) {
                    out.push(s.clone());
                }
            }
        }
    }
    Ok(out)
}

fn samples(s: &PromSeries) -> Vec<(f64, String)> {
    let mut all: Vec<(f64, String)> = s.values.iter().cloned().chain(s.value.clone()).collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    all
}

fn sample_json((t, v): &(f64, String)) -> Value {
    json!([t, v])
}

fn answer(app: &App, p: &Params, range: bool) -> Response {
    let Some(query) = p.get("query").filter(|q| !q.trim().is_empty()) else {
        return error("invalid parameter \"query\": parameter is required");
    };
    let store = app.read();
    let series = match select(&store.metrics, query) {
        Ok(s) => s,
        Err(e) => return error(format!("invalid parameter \"query\": {e}")),
    };
    let at = p.get("time").and_then(parse_time);
    let result: Vec<Value> = series
        .iter()
        .filter_map(|s| {
            let all = samples(s);
            if range {
                return Some(json!({"metric": s.metric, "values": all.iter().map(sample_json).collect::<Vec<_>>()}));
            }
            let last = at.and_then(|t| all.iter().rev().find(|(ts, _)| *ts <= t)).or_else(|| all.last())?;
            Some(json!({"metric": s.metric, "value": sample_json(last)}))
        })
        .collect();
    let kind = if range { "matrix" } else { "vector" };
    Json(json!({"status": "success", "data": {"resultType": kind, "result": result}})).into_response()
}

/// Unix seconds or RFC 3339.
fn parse_time(s: &str) -> Option<f64> {
    s.parse::<f64>().ok().or_else(|| s.parse::<jiff::Timestamp>().ok().map(|t| t.as_millisecond() as f64 / 1000.0))
}

/// `/api/v1/query`.
pub async fn query(State(app): State<App>, uri: Uri, body: Bytes) -> Response {
    answer(&app, &params(&uri, &body), false)
}

/// `/api/v1/query_range`.
pub async fn query_range(State(app): State<App>, uri: Uri, body: Bytes) -> Response {
    answer(&app, &params(&uri, &body), true)
}

/// `/api/v1/status/buildinfo` (clients probe it to detect a Prometheus-compatible API).
pub async fn buildinfo() -> Json<Value> {
    Json(json!({"status": "success", "data": {"version": "2.42.0", "revision": "aiops-sim", "branch": "aiops-sim",
        "buildUser": "aiops-sim", "buildDate": "20260101-00:00:00", "goVersion": "go1.24.0"}}))
}
