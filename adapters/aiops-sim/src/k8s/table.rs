//! `meta.k8s.io` `Table` responses, so `kubectl get` prints the columns it prints against a
//! real API server (pods, deployments, replica sets, nodes, events; `NAME`/`AGE` otherwise).

use jiff::Timestamp;
use serde_json::{Value, json};

use super::read::{partial, served};
use crate::store::{Store, str_at};

type Column = (&'static str, &'static str, u8);

const GENERIC: &[Column] = &[("Name", "string", 0), ("Age", "string", 0)];
const POD: &[Column] = &[
    ("Name", "string", 0),
    ("Ready", "string", 0),
    ("Status", "string", 0),
    ("Restarts", "string", 0),
    ("Age", "string", 0),
    ("IP", "string", 1),
    ("Node", "string", 1),
];
const DEPLOYMENT: &[Column] = &[
    ("Name", "string", 0),
    ("Ready", "string", 0),
    ("Up-to-date", "integer", 0),
    ("Available", "integer", 0),
    ("Age", "string", 0),
];
const REPLICASET: &[Column] = &[
    ("Name", "string", 0),
    ("Desired", "integer", 0),
    ("Current", "integer", 0),
    ("Ready", "integer", 0),
    ("Age", "string", 0),
];
const NODE: &[Column] = &[
    ("Name", "string", 0),
    ("Status", "string", 0),
    ("Roles", "string", 0),
    ("Age", "string", 0),
    ("Version", "string", 0),
];

/// A Table of `items` (all of type `t`).
pub fn table(store: &Store, t: usize, items: &[&Value], meta: Value, version: &str, include: Option<&str>) -> Value {
    let kind = store.types[t].kind.as_str();
    let now = store.now();
    let columns = match kind {
        "Pod" => POD,
        "Deployment" => DEPLOYMENT,
        "ReplicaSet" => REPLICASET,
        "Node" => NODE,
        _ => GENERIC,
    };
    let defs: Vec<Value> = columns
        .iter()
        .map(|(name, ty, prio)| json!({"name": name, "type": ty, "format": if *name == "Name" { "name" } else { "" }, "description": "", "priority": prio}))
        .collect();
    let rows: Vec<Value> = items
        .iter()
        .map(|o| {
            let object = match include {
                Some("None") => Value::Null,
                Some("Object") => served((*o).clone()),
                _ => partial(o, version),
            };
            json!({"cells": cells(kind, o, now), "object": object})
        })
        .collect();
    json!({"kind": "Table", "apiVersion": format!("meta.k8s.io/{version}"), "metadata": meta, "columnDefinitions": defs, "rows": rows})
}

fn cells(kind: &str, o: &Value, now: Timestamp) -> Vec<Value> {
    let name = json!(str_at(o, &["metadata", "name"]));
    let age = json!(age(o, now));
    let int = |p: &str| json!(o.pointer(p).and_then(Value::as_i64).unwrap_or(0));
    match kind {
        "Pod" => {
            let statuses =
                o.pointer("/status/containerStatuses").and_then(Value::as_array).cloned().unwrap_or_default();
            let total = o.pointer("/spec/containers").and_then(Value::as_array).map_or(statuses.len(), Vec::len);
            let ready = statuses.iter().filter(|c| c.get("ready").and_then(Value::as_bool) == Some(true)).count();
            let restarts: i64 = statuses.iter().filter_map(|c| c.get("restartCount").and_then(Value::as_i64)).sum();
            vec![
                name,
                json!(format!("{ready}/{total}")),
                json!(pod_status(o)),
                json!(restarts.to_string()),
                age,
                json!(str_at(o, &["status", "podIP"])),
                json!(str_at(o, &["spec", "nodeName"])),
            ]
        }
        "Deployment" => vec![
            name,
            json!(format!(
                "{}/{}",
                o.pointer("/status/readyReplicas").and_then(Value::as_i64).unwrap_or(0),
                o.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1)
            )),
            int("/status/updatedReplicas"),
            int("/status/availableReplicas"),
            age,
        ],
        "ReplicaSet" => vec![name, int("/spec/replicas"), int("/status/replicas"), int("/status/readyReplicas"), age],
        "Node" => vec![
            name,
            json!(node_status(o)),
            json!(node_roles(o)),
            age,
            json!(str_at(o, &["status", "nodeInfo", "kubeletVersion"])),
        ],
        _ => vec![name, age],
    }
}

/// The STATUS column of `kubectl get pods`: the last container's waiting or terminated reason,
/// else the pod's reason or phase; `Terminating` while being deleted.
pub fn pod_status(o: &Value) -> String {
    if o.pointer("/metadata/deletionTimestamp").is_some_and(|v| !v.is_null()) {
        return "Terminating".into();
    }
    let mut reason = match str_at(o, &["status", "reason"]) {
        "" => str_at(o, &["status", "phase"]).to_string(),
        r => r.to_string(),
    };
    let statuses = o.pointer("/status/containerStatuses").and_then(Value::as_array).cloned().unwrap_or_default();
    for c in statuses.iter().rev() {
        let waiting = str_at(c, &["state", "waiting", "reason"]);
        let terminated = str_at(c, &["state", "terminated", "reason"]);
        if !waiting.is_empty() {
            reason = waiting.to_string();
        } else if !terminated.is_empty() {
            reason = terminated.to_string();
        }
    }
    reason
}

fn node_status(o: &Value) -> String {
    let conditions = o.pointer("/status/conditions").and_then(Value::as_array).cloned().unwrap_or_default();
    let ready = conditions.iter().find(|c| str_at(c, &["type"]) == "Ready").map(|c| str_at(c, &["status"]).to_string());
    let mut s = match ready.as_deref() {
        Some("True") => "Ready".to_string(),
        _ => "NotReady".to_string(),
    };
    if o.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
        s.push_str(",SchedulingDisabled");
    }
    s
}

fn node_roles(o: &Value) -> String {
    let roles: Vec<&str> = o
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|l| l.keys().filter_map(|k| k.strip_prefix("node-role.kubernetes.io/")).collect())
        .unwrap_or_default();
    if roles.is_empty() { "<none>".into() } else { roles.join(",") }
}

/// kubectl's short age (`45s`, `12m`, `5h`, `3d`).
fn age(o: &Value, now: Timestamp) -> String {
    let Ok(created) = str_at(o, &["metadata", "creationTimestamp"]).parse::<Timestamp>() else {
        return "<unknown>".into();
    };
    let secs = now.as_second().saturating_sub(created.as_second()).max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 3 * 3600 => format!("{}m", s / 60),
        s if s < 48 * 3600 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}
