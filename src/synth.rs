//! A synthetic cluster generator: realistic bundles of any size for benchmarks and demos.

use serde_json::{Value, json};

/// The size of a synthetic cluster.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    /// Namespaces.
    pub namespaces: usize,
    /// Deployments (spread over namespaces).
    pub deployments: usize,
    /// Pods per deployment.
    pub pods_per_deployment: usize,
    /// Nodes.
    pub nodes: usize,
    /// Events (spread over pods).
    pub events: usize,
}

impl Size {
    /// The benchmark cluster: 10,000 pods, 2,000 deployments, 100 nodes, 20,000 events.
    pub const BENCH: Size =
        Size { namespaces: 50, deployments: 2000, pods_per_deployment: 5, nodes: 100, events: 20_000 };
}

const AT: &str = "2026-03-01T10:45:00Z";
const OLD: &str = "2026-02-20T08:00:00Z";

fn meta(name: &str, ns: Option<&str>, uid: &str) -> Value {
    let mut m = json!({"name": name, "uid": uid, "resourceVersion": "1000", "creationTimestamp": OLD});
    if let Some(ns) = ns {
        m["namespace"] = json!(ns);
    }
    m
}

fn node(i: usize) -> Value {
    let ready = if i == 7 { "Unknown" } else { "True" };
    json!({"apiVersion": "v1", "kind": "Node", "metadata": meta(&format!("node-{i:03}"), None, &format!("node-uid-{i}")),
        "status": {"conditions": [
            {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory"},
            {"type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure"},
            {"type": "PIDPressure", "status": "False", "reason": "KubeletHasSufficientPID"},
            {"type": "Ready", "status": ready, "reason": if ready == "True" { "KubeletReady" } else { "NodeStatusUnknown" }}],
            "allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110"}}})
}

fn pod(ns: &str, dep: &str, rs: &str, rs_uid: &str, j: usize, node: usize, fault: usize) -> Value {
    let name = format!("{rs}-p{j:02}");
    let (state, last, ready) = match fault {
        1 => (
            json!({"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container"}}),
            json!({"terminated": {"reason": "Error", "exitCode": 1, "finishedAt": "2026-03-01T10:40:00Z"}}),
            "False",
        ),
        2 => (
            json!({"waiting": {"reason": "CrashLoopBackOff"}}),
            json!({"terminated": {"reason": "OOMKilled", "exitCode": 137, "finishedAt": "2026-03-01T10:41:00Z"}}),
            "False",
        ),
        _ => (json!({"running": {"startedAt": OLD}}), json!({}), "True"),
    };
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "uid": format!("{name}-uid"), "creationTimestamp": OLD,
            "labels": {"app": dep, "pod-template-hash": "abc12"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs, "uid": rs_uid, "controller": true}]},
        "spec": {"nodeName": format!("node-{node:03}"), "containers": [{"name": "app", "image": format!("registry.example.com/{dep}:1.0"),
            "resources": {"limits": {"memory": "256Mi", "cpu": "500m"}},
            "envFrom": [{"configMapRef": {"name": format!("{dep}-config")}}]}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": ready}],
            "containerStatuses": [{"name": "app", "ready": ready == "True", "restartCount": if fault > 0 { 7 } else { 0 },
                "image": format!("registry.example.com/{dep}:1.0"), "imageID": "", "state": state, "lastState": last}]}})
}

fn event(ns: &str, pod: &str, i: usize, warning: bool) -> Value {
    let (reason, message, ty) = if warning {
        ("BackOff", format!("Back-off restarting failed container app in pod {pod}"), "Warning")
    } else {
        ("Pulled", "Container image already present on machine".to_string(), "Normal")
    };
    json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": format!("{pod}.{i:x}"), "namespace": ns},
        "involvedObject": {"kind": "Pod", "namespace": ns, "name": pod, "uid": format!("{pod}-uid")},
        "reason": reason, "message": message, "type": ty, "count": 3, "firstTimestamp": OLD, "lastTimestamp": AT,
        "source": {"component": "kubelet"}})
}

/// A cluster-scan bundle of the given size, about 1% of deployments failing.
pub fn bundle(size: Size) -> Value {
    let mut objects: Vec<Value> = (0..size.nodes).map(node).collect();
    let mut pod_names: Vec<(String, String, bool)> = Vec::new();
    for d in 0..size.deployments {
        let ns = format!("team-{:02}", d % size.namespaces);
        let dep = format!("svc-{d:04}");
        let rs = format!("{dep}-7d9f8b6c5d");
        let (dep_uid, rs_uid) = (format!("{dep}-uid"), format!("{rs}-uid"));
        let fault = if d % 97 == 0 {
            1
        } else if d % 89 == 0 {
            2
        } else {
            0
        };
        let n = size.pods_per_deployment as i64;
        objects.push(json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": dep, "namespace": ns, "uid": dep_uid, "creationTimestamp": OLD, "annotations": {"deployment.kubernetes.io/revision": "1"}},
            "spec": {"replicas": n, "selector": {"matchLabels": {"app": dep}}, "template": {"metadata": {"labels": {"app": dep}}, "spec": {"containers": [{"name": "app", "image": format!("registry.example.com/{dep}:1.0")}]}}},
            "status": {"replicas": n, "readyReplicas": if fault > 0 { 0 } else { n }}}));
        objects.push(json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": rs, "namespace": ns, "uid": rs_uid, "creationTimestamp": OLD, "annotations": {"deployment.kubernetes.io/revision": "1"},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": dep, "uid": dep_uid, "controller": true}]},
            "spec": {"replicas": n, "selector": {"matchLabels": {"app": dep}}, "template": {"metadata": {"labels": {"app": dep}}, "spec": {"containers": [{"name": "app", "image": format!("registry.example.com/{dep}:1.0")}]}}}}));
        objects.push(
            json!({"apiVersion": "v1", "kind": "Service", "metadata": meta(&dep, Some(&ns), &format!("{dep}-svc")),
            "spec": {"selector": {"app": dep}, "ports": [{"port": 80, "targetPort": 8080}]}}),
        );
        objects.push(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(&format!("{dep}-config"), Some(&ns), &format!("{dep}-cm")), "data": {"LOG_LEVEL": "info"}}));
        for j in 0..size.pods_per_deployment {
            let node = (d * size.pods_per_deployment + j) % size.nodes;
            let p = pod(&ns, &dep, &rs, &rs_uid, j, node, fault);
            pod_names.push((ns.clone(), p["metadata"]["name"].as_str().unwrap_or_default().to_string(), fault > 0));
            objects.push(p);
        }
    }
    for i in 0..size.events {
        let (ns, pod, failing) = &pod_names[i % pod_names.len().max(1)];
        objects.push(event(ns, pod, i, *failing));
    }
    json!({"apiVersion": "aiops/v1", "kind": "IncidentBundle", "capturedAt": AT, "cluster": "bench", "environment": "prod", "objects": objects})
}
