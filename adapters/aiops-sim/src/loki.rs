//! Loki HTTP API.

use axum::Json;
use serde_json::{Value, json};

/// `/loki/api/v1/query_range`.
pub async fn query_range() -> Json<Value> {
    Json(json!({"status": "success", "data": {"resultType": "streams", "result": []}}))
}

/// `/loki/api/v1/query`.
pub async fn query() -> Json<Value> {
    Json(json!({"status": "success", "data": {"resultType": "streams", "result": []}}))
}
