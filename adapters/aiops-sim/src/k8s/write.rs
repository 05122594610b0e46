//! Writes: PATCH and PUT (objects, `status` and the `scale` subresource) and DELETE, with
//! optimistic concurrency on `metadata.resourceVersion` and `dryRun=All` (validate, answer the
//! would-be object, change nothing). A committed write runs the [`crate::dynamics`].

use axum::http::Method;
use serde_json::{Value, json};

use super::Params;
use super::patch;
use super::path::ObjectPath;
use super::read::{lookup, served};
use super::status::ApiError;
use crate::App;
use crate::dynamics;
use crate::store::{Store, str_at, strip_secret};

/// Applies one write request; returns the object to answer with.
pub fn write(
    app: &App,
    method: &Method,
    t: usize,
    p: &ObjectPath,
    q: &Params,
    content_type: &str,
    body: &[u8],
) -> Result<Value, ApiError> {
    let name = p.name.clone().ok_or_else(|| ApiError::method_not_allowed(method.as_str(), &p.template()))?;
    let mut store = app.write();
    let current = lookup(&store, t, p, &name)?.clone();
    let dry_run = q.dry_run() || delete_options_dry_run(body);
    match (method.as_str(), p.subresource.as_deref()) {
        ("PATCH", None | Some("status")) => {
            let mut next = current.clone();
            patch::apply(&mut next, content_type, body)?;
            commit(&mut store, t, &current, next, dry_run)
        }
        ("PUT", None | Some("status")) => {
            let next: Value =
                serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("invalid object body: {e}")))?;
            commit(&mut store, t, &current, next, dry_run)
        }
        ("PATCH" | "PUT", Some("scale")) if store.types[t].subresources.contains(&"scale") => {
            let mut scale = scale_of(&current);
            if method == Method::PUT {
                scale =
                    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("invalid Scale: {e}")))?;
            } else {
                patch::apply(&mut scale, content_type, body)?;
            }
            let replicas =
                scale.pointer("/spec/replicas").and_then(Value::as_i64).filter(|r| *r >= 0).ok_or_else(|| {
                    ApiError::invalid(
                        "Scale",
                        &name,
                        "spec.replicas: Invalid value: must be greater than or equal to 0",
                    )
                })?;
            check_version(&store, t, &current, &scale)?;
            let mut next = current.clone();
            next["spec"]["replicas"] = json!(replicas);
            commit(&mut store, t, &current, next, dry_run).map(|o| scale_of(&o))
        }
        ("DELETE", None) => delete(&mut store, t, current, dry_run),
        (m, sub) => Err(ApiError::method_not_allowed(
            m,
            &format!("{}{}", p.template(), sub.map(|s| format!("/{s}")).unwrap_or_default()),
        )),
    }
}

fn delete_options_dry_run(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("dryRun").and_then(Value::as_array).cloned())
        .is_some_and(|a| a.iter().any(|v| v == "All"))
}

fn check_version(store: &Store, t: usize, current: &Value, next: &Value) -> Result<(), ApiError> {
    let want = str_at(next, &["metadata", "resourceVersion"]);
    if !want.is_empty() && want != str_at(current, &["metadata", "resourceVersion"]) {
        return Err(ApiError::conflict(&store.types[t].qualified(), str_at(current, &["metadata", "name"])));
    }
    Ok(())
}

/// Validates `next` against `current`, then stores it (unless `dry_run`) and runs the dynamics.
fn commit(store: &mut Store, t: usize, current: &Value, mut next: Value, dry_run: bool) -> Result<Value, ApiError> {
    check_version(store, t, current, &next)?;
    validate(store, t, current, &mut next)?;
    if next.pointer("/spec") != current.pointer("/spec") && current.pointer("/metadata/generation").is_some() {
        let generation = current.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0) + 1;
        next["metadata"]["generation"] = json!(generation);
    }
    if dry_run {
        return Ok(served(next));
    }
    let stored = store.insert(t, next);
    dynamics::after_update(store, t, current, &stored);
    Ok(served(stored))
}

/// What the API server would refuse: changing identity fields, negative replicas, pod
/// templates without containers or with containers lacking a name or image.
fn validate(store: &Store, t: usize, current: &Value, next: &mut Value) -> Result<(), ApiError> {
    let ty = &store.types[t];
    let name = str_at(current, &["metadata", "name"]).to_string();
    if !next.is_object() {
        return Err(ApiError::bad_request("the object must be a JSON object"));
    }
    for field in ["apiVersion", "kind"] {
        if next.get(field).is_none_or(Value::is_null) {
            next[field] = current[field].clone();
        }
    }
    if next["kind"] != current["kind"] || next["apiVersion"] != current["apiVersion"] {
        return Err(ApiError::bad_request(format!("the kind or apiVersion of {} \"{name}\" cannot change", ty.kind)));
    }
    for field in ["name", "namespace", "uid", "creationTimestamp"] {
        let (old, new) = (current.pointer(&format!("/metadata/{field}")), next.pointer(&format!("/metadata/{field}")));
        match new {
            None | Some(Value::Null) => {
                if let Some(old) = old {
                    next["metadata"][field] = old.clone();
                }
            }
            Some(n) if Some(n) != old => {
                return Err(ApiError::invalid(
                    &ty.kind,
                    &name,
                    format!("metadata.{field}: Invalid value: field is immutable"),
                ));
            }
            Some(_) => {}
        }
    }
    if let Some(r) = next.pointer("/spec/replicas")
        && r.as_i64().is_none_or(|r| r < 0)
    {
        return Err(ApiError::invalid(
            &ty.kind,
            &name,
            "spec.replicas: Invalid value: must be greater than or equal to 0",
        ));
    }
    if let Some(template) = next.pointer("/spec/template") {
        validate_template(&ty.kind, &name, template)?;
    }
    if ty.kind == "Secret" {
        strip_secret(next);
    }
    Ok(())
}

fn validate_template(kind: &str, name: &str, template: &Value) -> Result<(), ApiError> {
    let containers = template.pointer("/spec/containers").and_then(Value::as_array);
    let Some(containers) = containers.filter(|c| !c.is_empty()) else {
        return Err(ApiError::invalid(kind, name, "spec.template.spec.containers: Required value"));
    };
    for (i, c) in containers.iter().enumerate() {
        for field in ["name", "image"] {
            if str_at(c, &[field]).is_empty() {
                return Err(ApiError::invalid(
                    kind,
                    name,
                    format!("spec.template.spec.containers[{i}].{field}: Required value"),
                ));
            }
        }
    }
    Ok(())
}

fn delete(store: &mut Store, t: usize, current: Value, dry_run: bool) -> Result<Value, ApiError> {
    let (ns, name) = store.key_of(t, &current);
    if dry_run {
        return Ok(served(current));
    }
    store.remove(t, &ns, &name);
    dynamics::after_delete(store, t, &current);
    Ok(served(current))
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
