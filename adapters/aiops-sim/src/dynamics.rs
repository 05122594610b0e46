//! Simple, documented controller dynamics: what the simulated controllers do after a write.
//! Every change is immediate (no rolling, no delays) and visible to the next read.
//!
//! **Controllers.**
//! - A Deployment whose pod template changed (a `kubectl rollout restart` annotation, an image
//!   or resource change, a rollback) rolls out: the ReplicaSet whose template equals the new one
//!   (ignoring `pod-template-hash`) is reused, else a new one `{deployment}-{hash}` is created;
//!   it becomes the newest revision (`deployment.kubernetes.io/revision`) and gets
//!   `spec.replicas`; every other ReplicaSet of the Deployment is scaled to 0 and its pods
//!   are deleted. A change of `spec.replicas` alone (the `scale` subresource) sets the current
//!   ReplicaSet's replicas; older ReplicaSets keep theirs.
//! - A ReplicaSet keeps `spec.replicas` pods: missing pods are created with new names
//!   (`{replicaset}-{5 chars}`); extra pods are deleted, not-ready ones first, then the newest.
//! - A StatefulSet keeps pods `{name}-0 .. {name}-{replicas-1}`; a template change recreates
//!   them all (same names, fresh status). A DaemonSet keeps one pod on every node matching its
//!   `nodeSelector`; a template change recreates them.
//! - Deleting a pod owned by one of these makes its controller recreate it at once (a new name
//!   for ReplicaSets and DaemonSets, the same name for StatefulSets). A bare pod stays deleted.
//!   Deleting any other object removes it; there is no garbage collection of dependents.
//! - Cordoning a node (`spec.unschedulable: true`) only stops new pods landing on it; running
//!   pods stay.
//! - Workload `status` (replicas, ready, available, updated, `observedGeneration`, the
//!   `Available` and `Progressing` conditions) is recomputed after every change.
//!
//! **The fate of a new pod**, decided in this order:
//! 1. Scheduling: the pod goes to the Ready, schedulable node with room for its CPU and memory
//!    requests (allocatable minus the requests of the pods already there) that runs the fewest
//!    pods. When none fits, the pod stays `Pending` with `PodScheduled=False`, reason
//!    `Unschedulable` and the scheduler's "0/N nodes are available: ..." message. (A bundle
//!    without nodes skips scheduling.)
//! 2. A ConfigMap or Secret the template references (volumes, `envFrom`, `env.valueFrom`,
//!    not marked optional) that does not exist: `Pending`, waiting `CreateContainerConfigError`.
//! 3. An image that failed to pull in the bundle (a container waiting in `ErrImagePull`,
//!    `ImagePullBackOff` or `InvalidImageName`) and is still in the template: `Pending`,
//!    waiting `ImagePullBackOff`.
//! 4. A pod template whose `spec` equals the spec of a template whose pods were failing in the
//!    bundle (CrashLoopBackOff, OOMKilled, a failing container restarting; pods that failed
//!    because their node was not Ready are not counted): the failure recurs. The new pod copies
//!    the failing pod's container states with a fresh `restartCount` of at most 1 and new
//!    timestamps, and the failing pod's logs. So a restart (only an annotation changes) does not
//!    cure a crash loop, while a rollback or any change of the template's spec does.
//! 5. Otherwise the pod is `Running` and Ready, every container running with `restartCount` 0.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::store::{Key, Store, hash_chars, str_at, uid_for};

/// A failure seen in the bundle that new pods inherit (see the module doc, rules 3 and 4).
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// An image that could not be pulled, and the waiting state it showed.
    Image {
        /// The image reference.
        image: String,
        /// The container's `state.waiting`.
        waiting: Value,
    },
    /// A pod template spec whose pods were failing, with one failing pod's status and key.
    Crash {
        /// The template's `spec`.
        spec: Value,
        /// The failing pod's `status`.
        status: Value,
        /// The failing pod (its logs are copied to new pods).
        pod: Key,
    },
}

const IMAGE_REASONS: &[&str] = &["ErrImagePull", "ImagePullBackOff", "InvalidImageName"];
const CONFIG_REASONS: &[&str] = &["CreateContainerConfigError"];

fn arr<'a>(v: &'a Value, pointer: &str) -> &'a [Value] {
    v.pointer(pointer).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

fn type_idx(store: &Store, api_version: &str, kind: &str) -> Option<usize> {
    store.type_of(api_version, kind)
}

/// Records the failures of the loaded bundle's pods (called once at load).
pub fn learn(store: &mut Store) {
    let Some(pods) = type_idx(store, "v1", "Pod") else { return };
    let mut found = Vec::new();
    for (key, pod) in &store.objects[pods] {
        let node = str_at(pod, &["spec", "nodeName"]);
        if node.is_empty() || !node_ready_or_unknown(store, node) {
            continue;
        }
        for cs in arr(pod, "/status/containerStatuses") {
            let reason = str_at(cs, &["state", "waiting", "reason"]);
            if IMAGE_REASONS.contains(&reason) {
                found.push(Failure::Image {
                    image: str_at(cs, &["image"]).to_string(),
                    waiting: cs["state"]["waiting"].clone(),
                });
            }
        }
        if crashing(pod)
            && let Some(spec) = owner_template(store, pod).and_then(|t| t.get("spec").cloned())
        {
            found.push(Failure::Crash { spec, status: pod["status"].clone(), pod: key.clone() });
        }
    }
    // Failing pods with recorded logs first: new pods copy the first match's logs.
    let has_logs = |f: &Failure| match f {
        Failure::Crash { pod, .. } => store.logs.iter().any(|l| l.namespace == pod.0 && l.pod == pod.1),
        Failure::Image { .. } => true,
    };
    found.sort_by_key(|f| !has_logs(f));
    store.failures = found;
}

/// A pod whose containers crash (not image or config errors).
fn crashing(pod: &Value) -> bool {
    arr(pod, "/status/containerStatuses").iter().any(|cs| {
        let waiting = str_at(cs, &["state", "waiting", "reason"]);
        let last = str_at(cs, &["lastState", "terminated", "reason"]);
        let term = str_at(cs, &["state", "terminated", "reason"]);
        let restarts = cs.get("restartCount").and_then(Value::as_i64).unwrap_or(0);
        let ready = cs.get("ready").and_then(Value::as_bool).unwrap_or(false);
        waiting == "CrashLoopBackOff"
            || last == "OOMKilled"
            || term == "OOMKilled"
            || (restarts > 0 && !ready && !IMAGE_REASONS.contains(&waiting) && !CONFIG_REASONS.contains(&waiting))
    })
}

fn node_ready_or_unknown(store: &Store, node: &str) -> bool {
    let Some(t) = type_idx(store, "v1", "Node") else { return true };
    store.get(t, "", node).is_none_or(node_ready)
}

fn node_ready(node: &Value) -> bool {
    arr(node, "/status/conditions").iter().any(|c| str_at(c, &["type"]) == "Ready" && str_at(c, &["status"]) == "True")
}

/// The controller owner reference of an object: `(kind, name)`.
fn owner(obj: &Value) -> Option<(String, String)> {
    let refs = arr(obj, "/metadata/ownerReferences");
    let r =
        refs.iter().find(|r| r.get("controller").and_then(Value::as_bool) == Some(true)).or_else(|| refs.first())?;
    Some((str_at(r, &["kind"]).to_string(), str_at(r, &["name"]).to_string()))
}

fn owned_by(obj: &Value, kind: &str, name: &str) -> bool {
    arr(obj, "/metadata/ownerReferences").iter().any(|r| str_at(r, &["kind"]) == kind && str_at(r, &["name"]) == name)
}

const WORKLOADS: &[(&str, &str)] =
    &[("ReplicaSet", "apps/v1"), ("StatefulSet", "apps/v1"), ("DaemonSet", "apps/v1"), ("Job", "batch/v1")];

fn owner_template(store: &Store, pod: &Value) -> Option<Value> {
    let (kind, name) = owner(pod)?;
    let api = WORKLOADS.iter().find(|(k, _)| *k == kind)?.1;
    let t = type_idx(store, api, &kind)?;
    store.get(t, str_at(pod, &["metadata", "namespace"]), &name)?.pointer("/spec/template").cloned()
}

/// Keys of the objects of type `t` in `ns` owned by `kind`/`name`.
fn owned(store: &Store, t: usize, ns: &str, kind: &str, name: &str) -> Vec<Key> {
    store.objects[t]
        .range((ns.to_string(), String::new())..)
        .take_while(|((k, _), _)| k == ns)
        .filter(|(_, o)| owned_by(o, kind, name))
        .map(|(k, _)| k.clone())
        .collect()
}

/// Runs the controllers after `current` was replaced by `stored` (type `t`).
pub fn after_update(store: &mut Store, t: usize, current: &Value, stored: &Value) {
    let ns = str_at(stored, &["metadata", "namespace"]).to_string();
    let name = str_at(stored, &["metadata", "name"]).to_string();
    let template_changed = current.pointer("/spec/template") != stored.pointer("/spec/template");
    match store.types[t].kind.as_str() {
        "Deployment" if template_changed => rollout(store, &ns, &name),
        "Deployment" => scale_deployment(store, &ns, &name),
        "ReplicaSet" => {
            reconcile_rs(store, &ns, &name);
            if let Some(("Deployment", d)) = owner(stored).as_ref().map(|(k, n)| (k.as_str(), n.as_str())) {
                deployment_status(store, &ns, d);
            }
        }
        "StatefulSet" => sync_statefulset(store, &ns, &name, template_changed),
        "DaemonSet" => sync_daemonset(store, &ns, &name, template_changed),
        _ => {}
    }
}

/// Runs the controllers after `deleted` (type `t`) was removed.
pub fn after_delete(store: &mut Store, t: usize, deleted: &Value) {
    if store.types[t].kind != "Pod" {
        return;
    }
    let ns = str_at(deleted, &["metadata", "namespace"]).to_string();
    let Some((kind, name)) = owner(deleted) else { return };
    match kind.as_str() {
        "ReplicaSet" => {
            reconcile_rs(store, &ns, &name);
            let rs = type_idx(store, "apps/v1", "ReplicaSet").and_then(|t| store.get(t, &ns, &name)).and_then(owner);
            if let Some((k, d)) = rs
                && k == "Deployment"
            {
                deployment_status(store, &ns, &d);
            }
        }
        "StatefulSet" => sync_statefulset(store, &ns, &name, false),
        "DaemonSet" => sync_daemonset(store, &ns, &name, false),
        _ => {}
    }
}

fn without_hash(template: &Value) -> Value {
    let mut t = template.clone();
    if let Some(labels) = t.pointer_mut("/metadata/labels").and_then(Value::as_object_mut) {
        labels.remove("pod-template-hash");
    }
    t
}

fn revision(obj: &Value) -> i64 {
    str_at(obj, &["metadata", "annotations", "deployment.kubernetes.io/revision"]).parse().unwrap_or(0)
}

fn replicas(obj: &Value) -> i64 {
    obj.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1)
}

/// Rolls a Deployment out to its current template (module doc, "Controllers").
fn rollout(store: &mut Store, ns: &str, name: &str) {
    let (Some(dt), Some(rst)) = (type_idx(store, "apps/v1", "Deployment"), type_idx(store, "apps/v1", "ReplicaSet"))
    else {
        return;
    };
    let Some(deploy) = store.get(dt, ns, name).cloned() else { return };
    let template = deploy["spec"]["template"].clone();
    let rs_keys = owned(store, rst, ns, "Deployment", name);
    let max_rev = rs_keys.iter().filter_map(|k| store.objects[rst].get(k)).map(revision).max().unwrap_or(0);
    let matching = rs_keys
        .iter()
        .find(|k| {
            store.objects[rst]
                .get(*k)
                .is_some_and(|rs| without_hash(&rs["spec"]["template"]) == without_hash(&template))
        })
        .cloned();
    let new_rs = match matching {
        Some(k) => k.1,
        None => create_replicaset(store, rst, &deploy),
    };
    for key in rs_keys.iter().filter(|k| k.1 != new_rs) {
        if let Some(mut rs) = store.objects[rst].get(key).cloned().filter(|rs| replicas(rs) != 0) {
            rs["spec"]["replicas"] = json!(0);
            store.insert(rst, rs);
        }
        reconcile_rs(store, ns, &key.1);
    }
    if let Some(mut rs) = store.get(rst, ns, &new_rs).cloned() {
        rs["spec"]["replicas"] = json!(replicas(&deploy));
        rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = json!((max_rev + 1).to_string());
        store.insert(rst, rs);
    }
    reconcile_rs(store, ns, &new_rs);
    if let Some(mut d) = store.get(dt, ns, name).cloned() {
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = json!((max_rev + 1).to_string());
        store.insert(dt, d);
    }
    deployment_status(store, ns, name);
}

fn create_replicaset(store: &mut Store, rst: usize, deploy: &Value) -> String {
    let ns = str_at(deploy, &["metadata", "namespace"]).to_string();
    let dname = str_at(deploy, &["metadata", "name"]).to_string();
    let digest = Sha256::digest(deploy["spec"]["template"].to_string().as_bytes());
    let mut hash = hash_chars(&digest, 10);
    if store.get(rst, &ns, &format!("{dname}-{hash}")).is_some() {
        hash = store.suffix(&dname, 10);
    }
    let name = format!("{dname}-{hash}");
    let mut template = deploy["spec"]["template"].clone();
    template["metadata"]["labels"]["pod-template-hash"] = json!(hash);
    let mut selector = deploy["spec"]["selector"].clone();
    selector["matchLabels"]["pod-template-hash"] = json!(hash);
    let rs = json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {
            "name": name, "namespace": ns, "uid": uid_for(&format!("ReplicaSet/{ns}/{name}/{}", store.rv)),
            "creationTimestamp": store.now_string(), "generation": 1,
            "labels": template["metadata"]["labels"],
            "annotations": {"deployment.kubernetes.io/desired-replicas": replicas(deploy).to_string()},
            "ownerReferences": [owner_ref(deploy)],
        },
        "spec": {"replicas": 0, "selector": selector, "template": template},
        "status": {"replicas": 0, "observedGeneration": 1},
    });
    store.insert(rst, rs);
    name
}

fn owner_ref(owner: &Value) -> Value {
    json!({"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
           "uid": owner["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true})
}

fn scale_deployment(store: &mut Store, ns: &str, name: &str) {
    let (Some(dt), Some(rst)) = (type_idx(store, "apps/v1", "Deployment"), type_idx(store, "apps/v1", "ReplicaSet"))
    else {
        return;
    };
    let Some(deploy) = store.get(dt, ns, name).cloned() else { return };
    let current = owned(store, rst, ns, "Deployment", name)
        .into_iter()
        .filter_map(|k| store.objects[rst].get(&k).cloned())
        .filter(|rs| without_hash(&rs["spec"]["template"]) == without_hash(&deploy["spec"]["template"]))
        .max_by_key(revision);
    match current {
        Some(mut rs) => {
            let rs_name = str_at(&rs, &["metadata", "name"]).to_string();
            if replicas(&rs) != replicas(&deploy) {
                rs["spec"]["replicas"] = json!(replicas(&deploy));
                store.insert(rst, rs);
            }
            reconcile_rs(store, ns, &rs_name);
            deployment_status(store, ns, name);
        }
        None => rollout(store, ns, name),
    }
}

fn is_ready(pod: &Value) -> bool {
    arr(pod, "/status/conditions").iter().any(|c| str_at(c, &["type"]) == "Ready" && str_at(c, &["status"]) == "True")
}

/// Keeps a ReplicaSet's pod count at `spec.replicas` and recomputes its status.
fn reconcile_rs(store: &mut Store, ns: &str, name: &str) {
    let (Some(rst), Some(pt)) = (type_idx(store, "apps/v1", "ReplicaSet"), type_idx(store, "v1", "Pod")) else {
        return;
    };
    let Some(rs) = store.get(rst, ns, name).cloned() else { return };
    let desired = replicas(&rs).max(0) as usize;
    let mut pods: Vec<Value> =
        owned(store, pt, ns, "ReplicaSet", name).iter().filter_map(|k| store.objects[pt].get(k).cloned()).collect();
    while pods.len() < desired {
        let pod_name = format!("{name}-{}", store.suffix(name, 5));
        pods.push(create_pod(store, pt, &rs, &pod_name, None));
    }
    if pods.len() > desired {
        pods.sort_by_key(|p| {
            (is_ready(p), std::cmp::Reverse(str_at(p, &["metadata", "creationTimestamp"]).to_string()))
        });
        for victim in pods.drain(..pods.len() - desired) {
            store.remove(pt, ns, str_at(&victim, &["metadata", "name"]));
        }
    }
    let ready = pods.iter().filter(|p| is_ready(p)).count();
    let mut rs = rs;
    rs["status"] = json!({
        "replicas": pods.len(), "fullyLabeledReplicas": pods.len(), "readyReplicas": ready, "availableReplicas": ready,
        "observedGeneration": rs.pointer("/metadata/generation").cloned().unwrap_or(json!(1)),
    });
    store.insert(rst, rs);
}

fn condition(kind: &str, ok: bool, reason: &str, message: &str, now: &str) -> Value {
    json!({"type": kind, "status": if ok { "True" } else { "False" }, "reason": reason, "message": message,
           "lastUpdateTime": now, "lastTransitionTime": now})
}

/// Recomputes a Deployment's status from its ReplicaSets' pods.
fn deployment_status(store: &mut Store, ns: &str, name: &str) {
    let (Some(dt), Some(rst), Some(pt)) = (
        type_idx(store, "apps/v1", "Deployment"),
        type_idx(store, "apps/v1", "ReplicaSet"),
        type_idx(store, "v1", "Pod"),
    ) else {
        return;
    };
    let Some(mut d) = store.get(dt, ns, name).cloned() else { return };
    let (mut total, mut updated, mut ready) = (0usize, 0usize, 0usize);
    for rs_key in owned(store, rst, ns, "Deployment", name) {
        let Some(rs) = store.objects[rst].get(&rs_key) else { continue };
        let current = without_hash(&rs["spec"]["template"]) == without_hash(&d["spec"]["template"]);
        for pk in owned(store, pt, ns, "ReplicaSet", &rs_key.1) {
            let Some(p) = store.objects[pt].get(&pk) else { continue };
            total += 1;
            updated += usize::from(current);
            ready += usize::from(is_ready(p));
        }
    }
    let desired = replicas(&d).max(0) as usize;
    let now = store.now_string();
    let available = ready >= desired;
    let done = updated == desired && ready >= desired && total == desired;
    d["status"] = json!({
        "observedGeneration": d.pointer("/metadata/generation").cloned().unwrap_or(json!(1)),
        "replicas": total, "updatedReplicas": updated, "readyReplicas": ready, "availableReplicas": ready,
        "unavailableReplicas": total.saturating_sub(ready).max(desired.saturating_sub(ready)),
        "conditions": [
            if available { condition("Available", true, "MinimumReplicasAvailable", "Deployment has minimum availability.", &now) }
            else { condition("Available", false, "MinimumReplicasUnavailable", "Deployment does not have minimum availability.", &now) },
            if done { condition("Progressing", true, "NewReplicaSetAvailable", "ReplicaSet has successfully progressed.", &now) }
            else { condition("Progressing", true, "ReplicaSetUpdated", "ReplicaSet is progressing.", &now) },
        ],
    });
    store.insert(dt, d);
}

fn sync_statefulset(store: &mut Store, ns: &str, name: &str, recreate: bool) {
    let (Some(st), Some(pt)) = (type_idx(store, "apps/v1", "StatefulSet"), type_idx(store, "v1", "Pod")) else {
        return;
    };
    let Some(mut sts) = store.get(st, ns, name).cloned() else { return };
    let desired = replicas(&sts).max(0) as usize;
    for key in owned(store, pt, ns, "StatefulSet", name) {
        let ordinal = key.1.rsplit('-').next().and_then(|o| o.parse::<usize>().ok());
        if recreate || ordinal.is_none_or(|o| o >= desired) {
            store.remove(pt, ns, &key.1);
        }
    }
    let mut ready = 0;
    for i in 0..desired {
        let pod_name = format!("{name}-{i}");
        let pod = match store.get(pt, ns, &pod_name).cloned() {
            Some(p) => p,
            None => create_pod(store, pt, &sts, &pod_name, None),
        };
        ready += usize::from(is_ready(&pod));
    }
    let revision =
        format!("{name}-{}", hash_chars(&Sha256::digest(sts["spec"]["template"].to_string().as_bytes()), 10));
    sts["status"] = json!({
        "observedGeneration": sts.pointer("/metadata/generation").cloned().unwrap_or(json!(1)),
        "replicas": desired, "readyReplicas": ready, "currentReplicas": desired, "updatedReplicas": desired,
        "availableReplicas": ready, "currentRevision": revision, "updateRevision": revision,
    });
    store.insert(st, sts);
}

fn sync_daemonset(store: &mut Store, ns: &str, name: &str, recreate: bool) {
    let (Some(dst), Some(pt), Some(nt)) =
        (type_idx(store, "apps/v1", "DaemonSet"), type_idx(store, "v1", "Pod"), type_idx(store, "v1", "Node"))
    else {
        return;
    };
    let Some(mut ds) = store.get(dst, ns, name).cloned() else { return };
    let selector =
        ds.pointer("/spec/template/spec/nodeSelector").and_then(Value::as_object).cloned().unwrap_or_default();
    let nodes: Vec<String> = store.objects[nt]
        .values()
        .filter(|n| selector.iter().all(|(k, v)| n.pointer("/metadata/labels").and_then(|l| l.get(k)) == Some(v)))
        .map(|n| str_at(n, &["metadata", "name"]).to_string())
        .collect();
    let mut covered = BTreeSet::new();
    for key in owned(store, pt, ns, "DaemonSet", name) {
        let node =
            store.objects[pt].get(&key).map(|p| str_at(p, &["spec", "nodeName"]).to_string()).unwrap_or_default();
        if recreate || !nodes.contains(&node) || !covered.insert(node) {
            store.remove(pt, ns, &key.1);
        }
    }
    let mut ready = 0;
    for node in &nodes {
        if !covered.contains(node) {
            let pod_name = format!("{name}-{}", store.suffix(name, 5));
            create_pod(store, pt, &ds, &pod_name, Some(node));
        }
    }
    for key in owned(store, pt, ns, "DaemonSet", name) {
        ready += usize::from(store.objects[pt].get(&key).is_some_and(is_ready));
    }
    ds["status"] = json!({
        "observedGeneration": ds.pointer("/metadata/generation").cloned().unwrap_or(json!(1)),
        "desiredNumberScheduled": nodes.len(), "currentNumberScheduled": nodes.len(), "updatedNumberScheduled": nodes.len(),
        "numberReady": ready, "numberAvailable": ready, "numberMisscheduled": 0,
    });
    store.insert(dst, ds);
}

/// Creates one pod of `owner` from its template, decides its fate, and stores it.
fn create_pod(store: &mut Store, pt: usize, owner: &Value, name: &str, node: Option<&str>) -> Value {
    let ns = str_at(owner, &["metadata", "namespace"]).to_string();
    let template = &owner["spec"]["template"];
    let now = store.now_string();
    let mut spec = template.get("spec").cloned().unwrap_or_else(|| json!({}));
    let fate = fate(store, &ns, &spec, node);
    if let Some(n) = &fate.node {
        spec["nodeName"] = json!(n);
    }
    let mut pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": name, "namespace": ns, "uid": uid_for(&format!("Pod/{ns}/{name}/{}", store.rv)),
            "creationTimestamp": now, "labels": template.pointer("/metadata/labels").cloned().unwrap_or(json!({})),
            "ownerReferences": [owner_ref(owner)],
        },
        "spec": spec,
        "status": fate.status,
    });
    if let Some(a) = template.pointer("/metadata/annotations") {
        pod["metadata"]["annotations"] = a.clone();
    }
    if let Some((src_ns, src_pod)) = fate.logs_from {
        let copies: Vec<_> = store
            .logs
            .iter()
            .filter(|l| l.namespace == src_ns && l.pod == src_pod)
            .map(|l| aiops_core::observation::LogRecord { pod: name.to_string(), ..l.clone() })
            .collect();
        store.logs.extend(copies);
    }
    store.insert(pt, pod)
}

struct Fate {
    node: Option<String>,
    status: Value,
    logs_from: Option<Key>,
}

fn fate(store: &Store, ns: &str, spec: &Value, fixed_node: Option<&str>) -> Fate {
    let now = store.now_string();
    let node = match fixed_node {
        Some(n) => Some(n.to_string()),
        None => match schedule(store, spec) {
            Ok(n) => n,
            Err(message) => return Fate { node: None, status: unschedulable(&message, &now, spec), logs_from: None },
        },
    };
    let (host_ip, pod_ip) = ips(store, node.as_deref());
    let mut f = Fate { node: node.clone(), status: running(spec, &now, &host_ip, &pod_ip), logs_from: None };
    if let Some(missing) = missing_config(store, ns, spec) {
        let waiting = json!({"reason": "CreateContainerConfigError", "message": missing});
        f.status = waiting_status(spec, &f.status, |_| Some(waiting.clone()));
        return f;
    }
    let image_failures: Vec<(&str, &Value)> = store
        .failures
        .iter()
        .filter_map(|fl| match fl {
            Failure::Image { image, waiting } => Some((image.as_str(), waiting)),
            Failure::Crash { .. } => None,
        })
        .collect();
    let bad_image = |c: &Value| {
        let image = str_at(c, &["image"]);
        image_failures.iter().find(|(i, _)| *i == image).map(|(_, w)| {
            let mut w = (*w).clone();
            w["reason"] = json!("ImagePullBackOff");
            w
        })
    };
    if arr(spec, "/containers").iter().any(|c| bad_image(c).is_some()) {
        f.status = waiting_status(spec, &f.status, bad_image);
        return f;
    }
    let crash = store.failures.iter().find_map(|fl| match fl {
        Failure::Crash { spec: s, status, pod } if s == spec => Some((status, pod)),
        _ => None,
    });
    if let Some((status, pod)) = crash {
        f.status = recurring(spec, &f.status, status, &now);
        f.logs_from = Some(pod.clone());
    }
    f
}

fn ips(store: &Store, node: Option<&str>) -> (String, String) {
    let host = node
        .and_then(|n| type_idx(store, "v1", "Node").and_then(|t| store.get(t, "", n)))
        .and_then(|n| {
            arr(n, "/status/addresses")
                .iter()
                .find(|a| str_at(a, &["type"]) == "InternalIP")
                .map(|a| str_at(a, &["address"]).to_string())
        })
        .unwrap_or_default();
    let seq = store.rv;
    (host, format!("10.244.{}.{}", (seq / 250) % 250, seq % 250 + 2))
}

fn qos(spec: &Value) -> &'static str {
    let containers = arr(spec, "/containers");
    let has = |c: &Value, kind: &str| {
        c.pointer(&format!("/resources/{kind}")).and_then(Value::as_object).is_some_and(|m| !m.is_empty())
    };
    if containers.iter().all(|c| !has(c, "requests") && !has(c, "limits")) {
        return "BestEffort";
    }
    let guaranteed = containers.iter().all(|c| {
        ["cpu", "memory"].iter().all(|r| {
            let limit = c.pointer(&format!("/resources/limits/{r}"));
            limit.is_some() && c.pointer(&format!("/resources/requests/{r}")).is_none_or(|q| Some(q) == limit)
        })
    });
    if guaranteed { "Guaranteed" } else { "Burstable" }
}

fn pod_conditions(now: &str, scheduled: bool, ready: bool) -> Value {
    let c = |kind: &str, ok: bool| {
        let mut v = json!({"type": kind, "status": if ok { "True" } else { "False" }, "lastTransitionTime": now, "lastProbeTime": null});
        if !ok && (kind == "Ready" || kind == "ContainersReady") {
            v["reason"] = json!("ContainersNotReady");
        }
        v
    };
    json!([c("Initialized", scheduled), c("Ready", ready), c("ContainersReady", ready), c("PodScheduled", scheduled)])
}

fn running(spec: &Value, now: &str, host_ip: &str, pod_ip: &str) -> Value {
    let statuses: Vec<Value> = arr(spec, "/containers")
        .iter()
        .map(|c| {
            json!({"name": c["name"], "image": c["image"], "imageID": "", "ready": true, "started": true,
                        "restartCount": 0, "state": {"running": {"startedAt": now}}, "lastState": {}})
        })
        .collect();
    json!({"phase": "Running", "conditions": pod_conditions(now, true, true), "hostIP": host_ip, "podIP": pod_ip,
           "podIPs": [{"ip": pod_ip}], "startTime": now, "qosClass": qos(spec), "containerStatuses": statuses})
}

fn unschedulable(message: &str, now: &str, spec: &Value) -> Value {
    json!({"phase": "Pending", "qosClass": qos(spec), "conditions": [{
        "type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message,
        "lastTransitionTime": now, "lastProbeTime": null}]})
}

/// A `Pending` status whose containers wait with `waiting(container)` (or run when `None`).
fn waiting_status(spec: &Value, base: &Value, waiting: impl Fn(&Value) -> Option<Value>) -> Value {
    let mut status = base.clone();
    let now = str_at(base, &["startTime"]).to_string();
    status["phase"] = json!("Pending");
    status["conditions"] = pod_conditions(&now, true, false);
    if let Some(list) = status["containerStatuses"].as_array_mut() {
        for (cs, c) in list.iter_mut().zip(arr(spec, "/containers")) {
            if let Some(w) = waiting(c) {
                cs["ready"] = json!(false);
                cs["started"] = json!(false);
                cs["state"] = json!({"waiting": w});
            }
        }
    }
    status
}

/// The failure of `failed` recurring in a new pod: same container states, fresh counters.
fn recurring(spec: &Value, base: &Value, failed: &Value, now: &str) -> Value {
    let mut status = base.clone();
    status["phase"] = failed.get("phase").cloned().unwrap_or(json!("Running"));
    status["conditions"] = pod_conditions(now, true, false);
    let old = arr(failed, "/containerStatuses");
    if let Some(list) = status["containerStatuses"].as_array_mut() {
        for cs in list.iter_mut() {
            let Some(prev) = old.iter().find(|o| o["name"] == cs["name"]) else { continue };
            let restarts = prev.get("restartCount").and_then(Value::as_i64).unwrap_or(0).min(1);
            cs["ready"] = prev.get("ready").cloned().unwrap_or(json!(false));
            cs["started"] = json!(false);
            cs["restartCount"] = json!(restarts);
            cs["state"] = retimed(&prev["state"], now);
            cs["lastState"] = retimed(&prev["lastState"], now);
        }
    }
    let _ = spec;
    status
}

fn retimed(state: &Value, now: &str) -> Value {
    let mut s = state.clone();
    if let Some(m) = s.as_object_mut() {
        for inner in m.values_mut().filter_map(Value::as_object_mut) {
            inner.remove("containerID");
            for field in ["startedAt", "finishedAt"] {
                if inner.contains_key(field) {
                    inner.insert(field.into(), json!(now));
                }
            }
        }
    }
    s
}

/// The first ConfigMap or Secret the pod spec needs that does not exist, as the kubelet's
/// message (`configmap "x" not found`).
fn missing_config(store: &Store, ns: &str, spec: &Value) -> Option<String> {
    let mut refs: Vec<(&str, String)> = Vec::new();
    let optional = |v: &Value| v.get("optional").and_then(Value::as_bool) == Some(true);
    for v in arr(spec, "/volumes") {
        if let Some(cm) = v.get("configMap").filter(|c| !optional(c)) {
            refs.push(("ConfigMap", str_at(cm, &["name"]).into()));
        }
        if let Some(s) = v.get("secret").filter(|c| !optional(c)) {
            refs.push(("Secret", str_at(s, &["secretName"]).into()));
        }
    }
    for c in arr(spec, "/containers").iter().chain(arr(spec, "/initContainers")) {
        for e in arr(c, "/envFrom") {
            if let Some(r) = e.get("configMapRef").filter(|r| !optional(r)) {
                refs.push(("ConfigMap", str_at(r, &["name"]).into()));
            }
            if let Some(r) = e.get("secretRef").filter(|r| !optional(r)) {
                refs.push(("Secret", str_at(r, &["name"]).into()));
            }
        }
        for e in arr(c, "/env") {
            if let Some(r) = e.pointer("/valueFrom/configMapKeyRef").filter(|r| !optional(r)) {
                refs.push(("ConfigMap", str_at(r, &["name"]).into()));
            }
            if let Some(r) = e.pointer("/valueFrom/secretKeyRef").filter(|r| !optional(r)) {
                refs.push(("Secret", str_at(r, &["name"]).into()));
            }
        }
    }
    refs.into_iter()
        .find(|(kind, name)| type_idx(store, "v1", kind).and_then(|t| store.get(t, ns, name)).is_none())
        .map(|(kind, name)| format!("{} \"{name}\" not found", kind.to_lowercase()))
}

/// A Kubernetes quantity (`500m`, `2`, `512Mi`, `1G`, `1e3`) as a number.
pub fn quantity(q: &str) -> Option<f64> {
    let q = q.trim();
    let suffixes: &[(&str, f64)] = &[
        ("Ki", 1024.0),
        ("Mi", 1024f64.powi(2)),
        ("Gi", 1024f64.powi(3)),
        ("Ti", 1024f64.powi(4)),
        ("Pi", 1024f64.powi(5)),
        ("Ei", 1024f64.powi(6)),
        ("n", 1e-9),
        ("u", 1e-6),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    for (s, mul) in suffixes {
        if let Some(num) = q.strip_suffix(s)
            && let Ok(n) = num.parse::<f64>()
        {
            return Some(n * mul);
        }
    }
    q.parse().ok()
}

fn requests(spec: &Value, resource: &str) -> f64 {
    arr(spec, "/containers")
        .iter()
        .filter_map(|c| {
            c.pointer(&format!("/resources/requests/{resource}")).and_then(Value::as_str).and_then(quantity)
        })
        .sum()
}

/// Picks a node for a pod (module doc, rule 1); `Ok(None)` when the bundle has no nodes.
fn schedule(store: &Store, spec: &Value) -> Result<Option<String>, String> {
    let (Some(nt), Some(pt)) = (type_idx(store, "v1", "Node"), type_idx(store, "v1", "Pod")) else { return Ok(None) };
    let nodes = &store.objects[nt];
    if nodes.is_empty() {
        return Ok(None);
    }
    let (cpu, mem) = (requests(spec, "cpu"), requests(spec, "memory"));
    let mut reasons: std::collections::BTreeMap<&str, usize> = Default::default();
    let mut best: Option<(usize, String)> = None;
    for node in nodes.values() {
        let name = str_at(node, &["metadata", "name"]);
        if !node_ready(node) {
            *reasons.entry("node(s) had untolerated taint {node.kubernetes.io/not-ready: }").or_default() += 1;
            continue;
        }
        if node.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
            *reasons.entry("node(s) were unschedulable").or_default() += 1;
            continue;
        }
        let on_node: Vec<&Value> = store.objects[pt]
            .values()
            .filter(|p| {
                str_at(p, &["spec", "nodeName"]) == name
                    && !matches!(str_at(p, &["status", "phase"]), "Succeeded" | "Failed")
            })
            .collect();
        let free = |r: &str| {
            let alloc = node
                .pointer(&format!("/status/allocatable/{r}"))
                .and_then(Value::as_str)
                .and_then(quantity)
                .unwrap_or(f64::INFINITY);
            alloc - on_node.iter().map(|p| requests(&p["spec"], r)).sum::<f64>()
        };
        if cpu > 0.0 && free("cpu") < cpu {
            *reasons.entry("Insufficient cpu").or_default() += 1;
            continue;
        }
        if mem > 0.0 && free("memory") < mem {
            *reasons.entry("Insufficient memory").or_default() += 1;
            continue;
        }
        if best.as_ref().is_none_or(|(n, _)| on_node.len() < *n) {
            best = Some((on_node.len(), name.to_string()));
        }
    }
    match best {
        Some((_, n)) => Ok(Some(n)),
        None => {
            let parts: Vec<String> = reasons.iter().map(|(r, n)| format!("{n} {r}")).collect();
            let n = nodes.len();
            Err(format!(
                "0/{n} nodes are available: {}. preemption: 0/{n} nodes are available: {n} Preemption is not helpful for scheduling.",
                parts.join(", ")
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_parse() {
        assert_eq!(quantity("500m"), Some(0.5));
        assert_eq!(quantity("2"), Some(2.0));
        assert_eq!(quantity("512Mi"), Some(512.0 * 1024.0 * 1024.0));
        assert_eq!(quantity("1G"), Some(1e9));
        assert_eq!(quantity("x"), None);
    }
}
