//! Writes: PATCH, PUT and DELETE, and the `scale` subresource.

use axum::http::Method;
use serde_json::{Value, json};

use super::Params;
use super::path::ObjectPath;
use super::status::ApiError;
use crate::App;

/// Applies one write request; returns the object to answer with.
pub fn write(
    _app: &App,
    method: &Method,
    _t: usize,
    p: &ObjectPath,
    _q: &Params,
    _content_type: &str,
    _body: &[u8],
) -> Result<Value, ApiError> {
    Err(ApiError::method_not_allowed(method.as_str(), &p.template()))
}

/// The `autoscaling/v1` `Scale` of a workload.
pub fn scale_of(obj: &Value) -> Value {
    let replicas = obj.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
    let selector = obj
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect::<Vec<_>>().join(","))
        .unwrap_or_default();
    let meta = &obj["metadata"];
    json!({
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {"name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"],
                     "resourceVersion": meta["resourceVersion"], "creationTimestamp": meta["creationTimestamp"]},
        "spec": {"replicas": replicas},
        "status": {"replicas": obj.pointer("/status/replicas").and_then(Value::as_i64).unwrap_or(0), "selector": selector},
    })
}
