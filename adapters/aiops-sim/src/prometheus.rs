//! Prometheus HTTP API.

use axum::Json;
use serde_json::{Value, json};

/// `/api/v1/query`.
pub async fn query() -> Json<Value> {
    Json(json!({"status": "success", "data": {"resultType": "vector", "result": []}}))
}

/// `/api/v1/query_range`.
pub async fn query_range() -> Json<Value> {
    Json(json!({"status": "success", "data": {"resultType": "matrix", "result": []}}))
}

/// `/api/v1/status/buildinfo`.
pub async fn buildinfo() -> Json<Value> {
    Json(
        json!({"status": "success", "data": {"version": "2.42.0", "revision": "aiops-sim", "branch": "", "buildUser": "", "buildDate": "", "goVersion": ""}}),
    )
}
