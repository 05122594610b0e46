//! Builds the evidence graph from one [`Inventory`]: ownership, scheduling, selection,
//! mounts and references, events, and the incident's links to what it affects.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::{Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{EdgeKind, EvidenceGraph, GraphNode, NodeKind, node_id};
use crate::model::Incident;
use crate::object::Inventory;

fn ns_name(m: &ObjectMeta) -> (Option<&str>, &str) {
    (m.namespace.as_deref(), m.name.as_deref().unwrap_or_default())
}

fn add(g: &mut EvidenceGraph, kind: NodeKind, m: &ObjectMeta, ix: usize, cluster_scoped: bool) -> String {
    let (ns, name) = ns_name(m);
    let ns = if cluster_scoped { None } else { Some(ns.unwrap_or("default")) };
    let mut node = GraphNode::new(kind, ns, name);
    node.object = Some(ix);
    let id = node.id.clone();
    g.upsert(node);
    id
}

/// True when every `selector` pair is among `labels` (an empty selector selects nothing).
pub fn selects(selector: &BTreeMap<String, String>, labels: Option<&BTreeMap<String, String>>) -> bool {
    !selector.is_empty() && labels.is_some_and(|l| selector.iter().all(|(k, v)| l.get(k) == Some(v)))
}

/// Builds the graph of `inv`, with the incident node linked to what the alert names.
pub fn build_graph(inv: &Inventory, incident: &Incident) -> EvidenceGraph {
    let _span = tracing::debug_span!("build_graph", objects = inv.len()).entered();
    let mut g = EvidenceGraph::new();
    add_objects(&mut g, inv);
    link_owners(&mut g, inv);
    link_pods(&mut g, inv);
    link_services(&mut g, inv);
    link_misc(&mut g, inv);
    link_events(&mut g, inv);
    link_incident(&mut g, incident);
    g
}

fn add_objects(g: &mut EvidenceGraph, inv: &Inventory) {
    macro_rules! each {
        ($field:ident, $kind:expr, $cluster:expr) => {
            for (i, o) in inv.$field.iter().enumerate() {
                add(g, $kind, &o.metadata, i, $cluster);
            }
        };
    }
    each!(nodes, NodeKind::Node, true);
    each!(deployments, NodeKind::Deployment, false);
    each!(replica_sets, NodeKind::ReplicaSet, false);
    each!(stateful_sets, NodeKind::StatefulSet, false);
    each!(daemon_sets, NodeKind::DaemonSet, false);
    each!(cron_jobs, NodeKind::CronJob, false);
    each!(jobs, NodeKind::Job, false);
    each!(services, NodeKind::Service, false);
    each!(endpoints, NodeKind::Endpoints, false);
    each!(config_maps, NodeKind::ConfigMap, false);
    each!(secrets, NodeKind::Secret, false);
    each!(hpas, NodeKind::Hpa, false);
    each!(pvcs, NodeKind::Pvc, false);
    each!(pvs, NodeKind::Pv, true);
    each!(storage_classes, NodeKind::StorageClass, true);
    each!(ingresses, NodeKind::Ingress, false);
    for (i, p) in inv.pods.iter().enumerate() {
        let id = add(g, NodeKind::Pod, &p.metadata, i, false);
        let phase = p.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_default();
        let mut stub = node_stub(&id);
        stub.properties.insert("phase".into(), phase.into());
        g.upsert(stub);
    }
    for (i, o) in inv.others.iter().enumerate() {
        let mut node = GraphNode::new(
            NodeKind::Object,
            o.metadata.namespace.as_deref(),
            &format!("{}/{}", o.kind, o.metadata.name.as_deref().unwrap_or_default()),
        );
        node.object = Some(i);
        node.properties.insert("kind".into(), o.kind.clone().into());
        g.upsert(node);
    }
}

fn node_stub(id: &str) -> GraphNode {
    GraphNode {
        id: id.to_string(),
        kind: NodeKind::Object,
        namespace: None,
        name: String::new(),
        properties: Default::default(),
        object: None,
    }
}

fn link_owners(g: &mut EvidenceGraph, inv: &Inventory) {
    let metas = inv
        .pods
        .iter()
        .map(|o| (NodeKind::Pod, &o.metadata))
        .chain(inv.replica_sets.iter().map(|o| (NodeKind::ReplicaSet, &o.metadata)))
        .chain(inv.jobs.iter().map(|o| (NodeKind::Job, &o.metadata)))
        .chain(inv.controller_revisions.iter().map(|o| (NodeKind::Object, &o.metadata)));
    let mut pairs = Vec::new();
    for (kind, m) in metas {
        let (ns, name) = ns_name(m);
        let ns = ns.unwrap_or("default");
        let child = node_id(kind, Some(ns), name);
        for owner in m.owner_references.iter().flatten() {
            let owner_id = node_id(NodeKind::of_k8s_kind(&owner.kind), Some(ns), &owner.name);
            pairs.push((owner_id, child.clone()));
        }
    }
    for (owner, child) in pairs {
        g.link(&owner, &child, EdgeKind::Owns);
    }
}

fn link_pods(g: &mut EvidenceGraph, inv: &Inventory) {
    for p in &inv.pods {
        let (ns, name) = ns_name(&p.metadata);
        let ns = ns.unwrap_or("default");
        let pod_id = node_id(NodeKind::Pod, Some(ns), name);
        let Some(spec) = &p.spec else { continue };
        if let Some(node) = spec.node_name.as_deref().filter(|n| !n.is_empty()) {
            let nid = node_id(NodeKind::Node, None, node);
            if g.get(&nid).is_none() {
                g.upsert(GraphNode::new(NodeKind::Node, None, node).with("captured", false));
            }
            g.link(&pod_id, &nid, EdgeKind::RunsOn);
        }
        for c in spec.init_containers.iter().flatten().chain(spec.containers.iter()) {
            let cid = format!("container:{ns}:{name}:{}", c.name);
            let mut node = GraphNode::new(NodeKind::Container, Some(ns), &format!("{name}/{}", c.name));
            node.id = cid.clone();
            g.upsert(node.with("image", c.image.clone().unwrap_or_default()));
            g.link(&pod_id, &cid, EdgeKind::HasContainer);
        }
        for (kind, target, edge) in pod_references(p, spec) {
            g.link(&pod_id, &node_id(kind, Some(ns), &target), edge);
        }
    }
}

/// Every ConfigMap, Secret and PVC a pod mounts or references: `(kind, name, edge)`.
pub fn pod_references(_pod: &Pod, spec: &PodSpec) -> Vec<(NodeKind, String, EdgeKind)> {
    let mut out = Vec::new();
    for v in spec.volumes.iter().flatten() {
        if let Some(cm) = &v.config_map {
            out.push((NodeKind::ConfigMap, cm.name.clone(), EdgeKind::Mounts));
        }
        if let Some(s) = v.secret.as_ref().and_then(|s| s.secret_name.clone()) {
            out.push((NodeKind::Secret, s, EdgeKind::Mounts));
        }
        if let Some(c) = &v.persistent_volume_claim {
            out.push((NodeKind::Pvc, c.claim_name.clone(), EdgeKind::Mounts));
        }
        for src in v.projected.iter().flat_map(|p| p.sources.iter().flatten()) {
            if let Some(cm) = &src.config_map {
                out.push((NodeKind::ConfigMap, cm.name.clone(), EdgeKind::Mounts));
            }
            if let Some(s) = &src.secret {
                out.push((NodeKind::Secret, s.name.clone(), EdgeKind::Mounts));
            }
        }
    }
    for c in spec.init_containers.iter().flatten().chain(spec.containers.iter()) {
        for e in c.env_from.iter().flatten() {
            if let Some(r) = &e.config_map_ref {
                out.push((NodeKind::ConfigMap, r.name.clone(), EdgeKind::References));
            }
            if let Some(r) = &e.secret_ref {
                out.push((NodeKind::Secret, r.name.clone(), EdgeKind::References));
            }
        }
        for e in c.env.iter().flatten().filter_map(|e| e.value_from.as_ref()) {
            if let Some(r) = &e.config_map_key_ref {
                out.push((NodeKind::ConfigMap, r.name.clone(), EdgeKind::References));
            }
            if let Some(r) = &e.secret_key_ref {
                out.push((NodeKind::Secret, r.name.clone(), EdgeKind::References));
            }
        }
    }
    for s in spec.image_pull_secrets.iter().flatten() {
        out.push((NodeKind::Secret, s.name.clone(), EdgeKind::References));
    }
    out.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    out.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
    out
}

fn link_services(g: &mut EvidenceGraph, inv: &Inventory) {
    let mut pods_by_ns: HashMap<&str, Vec<&Pod>> = HashMap::new();
    for p in &inv.pods {
        pods_by_ns.entry(p.metadata.namespace.as_deref().unwrap_or("default")).or_default().push(p);
    }
    for s in &inv.services {
        let (ns, name) = ns_name(&s.metadata);
        let ns = ns.unwrap_or("default");
        let sid = node_id(NodeKind::Service, Some(ns), name);
        g.link(&sid, &node_id(NodeKind::Endpoints, Some(ns), name), EdgeKind::References);
        let Some(sel) = s.spec.as_ref().and_then(|sp| sp.selector.as_ref()) else { continue };
        for p in pods_by_ns.get(ns).into_iter().flatten() {
            if selects(sel, p.metadata.labels.as_ref()) {
                g.link(
                    &sid,
                    &node_id(NodeKind::Pod, Some(ns), p.metadata.name.as_deref().unwrap_or_default()),
                    EdgeKind::Selects,
                );
            }
        }
    }
}

fn link_misc(g: &mut EvidenceGraph, inv: &Inventory) {
    for h in &inv.hpas {
        let (ns, name) = ns_name(&h.metadata);
        let ns = ns.unwrap_or("default");
        let t = &h.spec.scale_target_ref;
        {
            g.link(
                &node_id(NodeKind::Hpa, Some(ns), name),
                &node_id(NodeKind::of_k8s_kind(&t.kind), Some(ns), &t.name),
                EdgeKind::Scales,
            );
        }
    }
    for i in &inv.ingresses {
        let (ns, name) = ns_name(&i.metadata);
        let ns = ns.unwrap_or("default");
        let iid = node_id(NodeKind::Ingress, Some(ns), name);
        let Some(spec) = &i.spec else { continue };
        let backends = spec.default_backend.iter().chain(
            spec.rules.iter().flatten().flat_map(|r| r.http.iter().flat_map(|h| h.paths.iter().map(|p| &p.backend))),
        );
        for b in backends {
            if let Some(s) = &b.service {
                g.link(&iid, &node_id(NodeKind::Service, Some(ns), &s.name), EdgeKind::RoutesTo);
            }
        }
        for t in spec.tls.iter().flatten() {
            if let Some(s) = &t.secret_name {
                g.link(&iid, &node_id(NodeKind::Secret, Some(ns), s), EdgeKind::References);
            }
        }
    }
    for c in &inv.pvcs {
        let (ns, name) = ns_name(&c.metadata);
        let cid = node_id(NodeKind::Pvc, Some(ns.unwrap_or("default")), name);
        if let Some(spec) = &c.spec {
            if let Some(v) = &spec.volume_name {
                g.link(&cid, &node_id(NodeKind::Pv, None, v), EdgeKind::BoundTo);
            }
            if let Some(sc) = &spec.storage_class_name {
                g.link(&cid, &node_id(NodeKind::StorageClass, None, sc), EdgeKind::BoundTo);
            }
        }
    }
}

fn link_events(g: &mut EvidenceGraph, inv: &Inventory) {
    for (i, e) in inv.events.iter().enumerate() {
        let (ns, name) = ns_name(&e.metadata);
        let ns = ns.unwrap_or("default");
        let mut node = GraphNode::new(NodeKind::Event, Some(ns), name);
        node.object = Some(i);
        let eid = node.id.clone();
        g.upsert(node.with("reason", e.reason.clone().unwrap_or_default()));
        let o = &e.involved_object;
        let kind = NodeKind::of_k8s_kind(o.kind.as_deref().unwrap_or_default());
        let cluster_scoped = matches!(kind, NodeKind::Node | NodeKind::Pv | NodeKind::StorageClass);
        let target_ns = if cluster_scoped { None } else { Some(o.namespace.as_deref().unwrap_or(ns)) };
        let target = node_id(kind, target_ns, o.name.as_deref().unwrap_or_default());
        g.link(&eid, &target, EdgeKind::ObservedIn);
    }
}

fn link_incident(g: &mut EvidenceGraph, incident: &Incident) {
    let inc = GraphNode::new(NodeKind::Incident, None, &incident.id)
        .with("title", incident.title.clone())
        .with("severity", incident.severity.as_str())
        .with("namespace", incident.namespace.clone())
        .with("fingerprint", incident.fingerprint.clone())
        .with("started_at", incident.started_at.to_string());
    let iid = g.upsert(inc);
    let ns = incident.namespace.as_str();
    let mut targets = Vec::new();
    if let Some(pod) = &incident.pod {
        targets.push(node_id(NodeKind::Pod, Some(ns), pod));
    }
    if let Some(svc) = &incident.service {
        for kind in [NodeKind::Deployment, NodeKind::StatefulSet, NodeKind::DaemonSet, NodeKind::Service] {
            targets.push(node_id(kind, Some(ns), svc));
        }
    }
    if let Some(node) = incident.labels.get("node") {
        targets.push(node_id(NodeKind::Node, None, node));
    }
    for t in targets {
        if let Some(tix) = g.index_of(&t) {
            g.link_ix(iid, tix, EdgeKind::Affects);
        }
    }
}

/// Adds what diagnosis found: changes (`HAS_RECENT_CHANGE`, and `CORRELATES_WITH` from the
/// incident when a hypothesis cites them), log and metric signals (`OBSERVED_IN`), and an
/// `AFFECTS` edge from the incident to every hypothesis' root object.
pub fn add_diagnosis(g: &mut EvidenceGraph, incident: &Incident, d: &crate::traits::Diagnosis) {
    use crate::model::EvidenceKind as K;
    let incident_id = node_id(NodeKind::Incident, None, &incident.id);
    let cited: std::collections::HashSet<&str> =
        d.hypotheses.iter().flat_map(|h| h.evidence.iter().map(String::as_str)).collect();
    for e in &d.evidence {
        let r = &e.resource;
        let target = node_id(NodeKind::of_k8s_kind(&r.kind), r.namespace.as_deref(), &r.name);
        let (kind, edge_from_target) = match e.kind {
            K::DeployChange | K::ConfigChange => (NodeKind::Change, true),
            K::LogSignal => (NodeKind::LogSignal, false),
            K::MetricSignal => (NodeKind::MetricSignal, false),
            _ => continue,
        };
        let mut node =
            GraphNode::new(kind, None, &e.id).with("summary", e.summary.clone()).with("evidence", e.id.clone());
        if let Some(t) = e.observed_at {
            node = node.with("changed_at", t.to_string());
        }
        let nid = node.id.clone();
        g.upsert(node);
        if edge_from_target {
            g.link(&target, &nid, EdgeKind::ChangedBy);
            if cited.contains(e.id.as_str()) {
                g.link(&incident_id, &nid, EdgeKind::CorrelatesWith);
            }
        } else {
            g.link(&nid, &target, EdgeKind::ObservedIn);
        }
    }
    for r in d.hypotheses.iter().filter_map(|h| h.resource.as_ref()) {
        g.link(
            &incident_id,
            &node_id(NodeKind::of_k8s_kind(&r.kind), r.namespace.as_deref(), &r.name),
            EdgeKind::Affects,
        );
    }
}

/// Adds the alerts that opened the incident (`Alert -TRIGGERED-> Incident`).
pub fn add_alerts(g: &mut EvidenceGraph, incident: &Incident, alerts: &[crate::model::Alert]) {
    let incident_id = node_id(NodeKind::Incident, None, &incident.id);
    for a in alerts {
        let key = a.source_fingerprint.clone().unwrap_or_else(|| a.alertname.clone());
        let node = GraphNode::new(NodeKind::Alert, None, &key)
            .with("alertname", a.alertname.clone())
            .with("status", a.status.clone());
        let id = node.id.clone();
        g.upsert(node);
        g.link(&id, &incident_id, EdgeKind::Triggered);
    }
}
