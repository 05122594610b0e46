//! Evidence extraction: every fact the rules may cite, read from the typed objects, the
//! graph, logs and metrics. Each item gets a stable id and the *subject* it is grouped
//! under (the top-most owner: Pod -> ReplicaSet -> Deployment; Nodes are their own subject).

use std::collections::{BTreeMap, HashSet};

use aiops_core::graph::{EdgeKind, NodeKind, node_id};
use aiops_core::model::{Evidence, EvidenceKind, EvidenceSource, ResourceRef};
use aiops_core::traits::AnalysisContext;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{ContainerStatus, Event, Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

mod custom;
mod objects;

/// One evidence item and the subject it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    /// The evidence.
    pub evidence: Evidence,
    /// The subject (root owner) it is grouped under.
    pub subject: ResourceRef,
}

impl Signal {
    /// `data.reason`, if any.
    pub fn reason(&self) -> Option<&str> {
        self.evidence.str("reason")
    }
}

/// Every extracted signal, in a deterministic order.
#[derive(Debug, Clone, Default)]
pub struct Signals {
    /// The signals.
    pub items: Vec<Signal>,
}

impl Signals {
    /// Signals grouped by subject, subjects sorted.
    pub fn by_subject(&self) -> BTreeMap<&ResourceRef, Vec<&Signal>> {
        let mut out: BTreeMap<&ResourceRef, Vec<&Signal>> = BTreeMap::new();
        for s in &self.items {
            out.entry(&s.subject).or_default().push(s);
        }
        out
    }

    pub(crate) fn push_evidence(&mut self, ctx: &Ctx<'_>, evidence: Evidence, on: &ResourceRef) {
        self.push(ctx, evidence, on);
    }

    fn push(&mut self, ctx: &Ctx<'_>, mut evidence: Evidence, on: &ResourceRef) {
        evidence.id = evidence_id(&evidence);
        let subject = ctx.subject_of(on);
        self.items.push(Signal { evidence, subject });
    }
}

/// A stable evidence id: `ev-` + 12 hex digits of a hash of what it is about.
pub fn evidence_id(e: &Evidence) -> String {
    let key = format!(
        "{}|{}|{}|{}",
        e.kind,
        e.resource,
        e.str("container").unwrap_or_default(),
        e.str("reason").or(e.str("key")).unwrap_or_default()
    );
    let h = Sha256::digest(key.as_bytes());
    format!("ev-{}", h.iter().take(6).map(|b| format!("{b:02x}")).collect::<String>())
}

/// Builds an evidence item (the id is set when it is pushed).
pub fn evidence(kind: EvidenceKind, resource: ResourceRef, summary: String, strength: f64, data: Value) -> Evidence {
    let data = match data {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    Evidence {
        id: String::new(),
        kind,
        resource,
        summary,
        strength,
        data,
        observed_at: None,
        source: EvidenceSource::KubernetesApi,
    }
}

pub(crate) struct Ctx<'a> {
    pub(crate) a: &'a AnalysisContext<'a>,
    names: HashSet<(&'a str, &'a str, &'a str)>,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(a: &'a AnalysisContext<'a>) -> Self {
        let inv = a.inventory;
        let mut names = HashSet::new();
        let mut add = |kind: &'a str, m: &'a ObjectMeta| {
            names.insert((kind, m.namespace.as_deref().unwrap_or_default(), m.name.as_deref().unwrap_or_default()));
        };
        macro_rules! each {
            ($($field:ident => $kind:literal),+) => { $(for o in &inv.$field { add($kind, &o.metadata); })+ };
        }
        each!(pods => "Pod", nodes => "Node", services => "Service", endpoints => "Endpoints", config_maps => "ConfigMap",
            secrets => "Secret", pvcs => "PersistentVolumeClaim", pvs => "PersistentVolume", namespaces => "Namespace",
            service_accounts => "ServiceAccount", deployments => "Deployment", replica_sets => "ReplicaSet",
            stateful_sets => "StatefulSet", daemon_sets => "DaemonSet", jobs => "Job", cron_jobs => "CronJob",
            hpas => "HorizontalPodAutoscaler", storage_classes => "StorageClass", ingresses => "Ingress",
            ingress_classes => "IngressClass", network_policies => "NetworkPolicy", pdbs => "PodDisruptionBudget");
        for o in &inv.others {
            add(o.kind.as_str(), &o.metadata);
        }
        Self { a, names }
    }

    /// True when an object of this kind exists in the capture (`ns` empty for cluster-scoped).
    pub(crate) fn exists(&self, kind: &str, ns: &str, name: &str) -> bool {
        self.names.contains(&(kind, ns, name))
    }

    /// The top-most owner of a resource that is in the graph; the resource itself otherwise.
    pub(crate) fn subject_of(&self, r: &ResourceRef) -> ResourceRef {
        let id = node_id(NodeKind::of_k8s_kind(&r.kind), r.namespace.as_deref(), &r.name);
        match self.a.graph.root_owner(&id) {
            Some(n) if n.id != id => {
                ResourceRef { kind: k8s_kind(n.kind).to_string(), namespace: n.namespace.clone(), name: n.name.clone() }
            }
            _ => r.clone(),
        }
    }
}

/// The Kubernetes kind of a graph node kind.
pub fn k8s_kind(k: NodeKind) -> &'static str {
    match k {
        NodeKind::Hpa => "HorizontalPodAutoscaler",
        other => other.as_str(),
    }
}

pub(crate) fn meta_ref(kind: &str, m: &ObjectMeta) -> ResourceRef {
    let name = m.name.as_deref().unwrap_or_default();
    match m.namespace.as_deref() {
        Some(ns) => ResourceRef::namespaced(kind, ns, name),
        None if matches!(kind, "Node" | "PersistentVolume" | "StorageClass") => ResourceRef::cluster(kind, name),
        None => ResourceRef::namespaced(kind, "default", name),
    }
}

/// Extracts every signal of one analysis.
pub fn extract(actx: &AnalysisContext<'_>) -> Signals {
    let _span = tracing::debug_span!("extract_evidence").entered();
    let ctx = Ctx::new(actx);
    let mut out = Signals::default();
    for p in &actx.inventory.pods {
        pod_signals(&ctx, p, &mut out);
    }
    for n in &actx.inventory.nodes {
        node_signals(&ctx, n, &mut out);
    }
    for e in &actx.inventory.events {
        event_signals(&ctx, e, &mut out);
    }
    crate::rules::changes::rollout_signals(&ctx, &mut out);
    crate::rules::changes::config_signals(&ctx, &mut out);
    crate::logs::log_signals(&ctx, &mut out);
    crate::metrics::metric_signals(&ctx, &mut out);
    custom::custom_signals(&ctx, &mut out);
    objects::object_signals(&ctx, &mut out);
    out
}

/// A last termination this long before now, on a container that has been ready since, is history.
pub const RECOVERED_AFTER: jiff::SignedDuration = jiff::SignedDuration::from_hours(1);

/// Container waiting reasons that are normal while a pod starts.
pub const TRANSIENT_WAITING: &[&str] = &["ContainerCreating", "PodInitializing"];

fn pod_signals(ctx: &Ctx<'_>, p: &Pod, out: &mut Signals) {
    let r = meta_ref("Pod", &p.metadata);
    let Some(status) = &p.status else { return };
    let statuses = status.init_container_statuses.iter().flatten().chain(status.container_statuses.iter().flatten());
    for cs in statuses {
        container_signals(ctx, &r, cs, out);
    }
    let phase = status.phase.as_deref().unwrap_or_default();
    let cond = |t: &str| status.conditions.iter().flatten().find(|c| c.type_ == t);
    if phase == "Pending"
        && let Some(c) = cond("PodScheduled").filter(|c| c.status == "False")
    {
        let reason = c.reason.clone().unwrap_or_default();
        let message = c.message.clone().unwrap_or_default();
        let (kind, what) = match reason.as_str() {
            "SchedulingGated" => (EvidenceKind::PodSchedulingGated, "is held by scheduling gates"),
            _ => (EvidenceKind::PodUnschedulable, "cannot be scheduled"),
        };
        let summary = format!("Pod {} {what}: {message}", r.name);
        out.push(ctx, evidence(kind, r.clone(), summary, 0.9, json!({"reason": reason, "message": message})), &r);
    }
    if phase == "Failed" && status.reason.as_deref() == Some("Evicted") {
        let message = status.message.clone().unwrap_or_default();
        let summary = format!("Pod {} was evicted: {message}", r.name);
        out.push(
            ctx,
            evidence(
                EvidenceKind::PodEvicted,
                r.clone(),
                summary,
                0.9,
                json!({"reason": "Evicted", "message": message}),
            ),
            &r,
        );
    }
    let all_running =
        status.container_statuses.iter().flatten().all(|c| c.state.as_ref().is_some_and(|s| s.running.is_some()));
    let ready = cond("Ready").map(|c| c.status.as_str());
    if phase == "Running" && all_running && ready.is_some_and(|s| s != "True") {
        let reason = cond("Ready").and_then(|c| c.reason.clone()).unwrap_or_default();
        let summary = format!("Pod {} is running but not ready ({reason})", r.name);
        out.push(
            ctx,
            evidence(
                EvidenceKind::PodNotReady,
                r.clone(),
                summary,
                0.6,
                json!({"reason": "NotReady", "condition_reason": reason}),
            ),
            &r,
        );
    }
}

fn container_signals(ctx: &Ctx<'_>, r: &ResourceRef, cs: &ContainerStatus, out: &mut Signals) {
    let restarts = cs.restart_count;
    if let Some(w) = cs.state.as_ref().and_then(|s| s.waiting.as_ref()) {
        let reason = w.reason.clone().unwrap_or_default();
        if !reason.is_empty() && !TRANSIENT_WAITING.contains(&reason.as_str()) {
            let message = w.message.clone().unwrap_or_default();
            let summary = format!("Container {} of pod {} is waiting: {reason}{}", cs.name, r.name, suffix(&message));
            let data = json!({"container": cs.name, "reason": reason, "message": message, "restart_count": restarts});
            out.push(ctx, evidence(EvidenceKind::ContainerWaiting, r.clone(), summary, 0.9, data), r);
        }
    }
    let terminated = [
        (EvidenceKind::ContainerTerminated, cs.state.as_ref().and_then(|s| s.terminated.as_ref())),
        (EvidenceKind::ContainerLastTerminated, cs.last_state.as_ref().and_then(|s| s.terminated.as_ref())),
    ];
    let running_ready = cs.ready && cs.state.as_ref().is_some_and(|s| s.running.is_some());
    for (kind, t) in terminated {
        let Some(t) = t else { continue };
        let finished = t.finished_at.as_ref().map(|f| f.0);
        // A container that has run ready ever since an old termination has recovered from it.
        if kind == EvidenceKind::ContainerLastTerminated
            && running_ready
            && finished.is_some_and(|f| f < ctx.a.now - RECOVERED_AFTER)
        {
            continue;
        }
        let reason = t.reason.clone().unwrap_or_else(|| "Unknown".into());
        if t.exit_code == 0 && reason != "OOMKilled" {
            continue;
        }
        let when = if kind == EvidenceKind::ContainerTerminated { "terminated" } else { "last terminated" };
        let summary = format!("Container {} of pod {} {when}: {reason} (exit code {})", cs.name, r.name, t.exit_code);
        let data = json!({"container": cs.name, "reason": reason, "exit_code": t.exit_code, "message": t.message, "restart_count": restarts});
        let strength = if reason == "OOMKilled" || t.exit_code == 137 { 0.95 } else { 0.8 };
        let mut ev = evidence(kind, r.clone(), summary, strength, data);
        ev.observed_at = t.finished_at.as_ref().map(|f| f.0);
        out.push(ctx, ev, r);
    }
}

fn suffix(message: &str) -> String {
    if message.is_empty() { String::new() } else { format!(" ({})", aiops_core::alert::truncate_chars(message, 200)) }
}

/// Node condition types that are bad when `True`.
pub const PRESSURE_CONDITIONS: &[&str] = &["DiskPressure", "MemoryPressure", "PIDPressure", "NetworkUnavailable"];

fn node_signals(ctx: &Ctx<'_>, n: &Node, out: &mut Signals) {
    let r = meta_ref("Node", &n.metadata);
    for c in n.status.iter().flat_map(|s| s.conditions.iter().flatten()) {
        let bad = match c.type_.as_str() {
            "Ready" => c.status != "True",
            t => PRESSURE_CONDITIONS.contains(&t) && c.status == "True",
        };
        if !bad {
            continue;
        }
        let message = c.message.clone().unwrap_or_default();
        let summary = format!(
            "Node {}: {}={} ({}){}",
            r.name,
            c.type_,
            c.status,
            c.reason.clone().unwrap_or_default(),
            suffix(&message)
        );
        let data = json!({"reason": c.type_, "status": c.status, "condition_reason": c.reason, "message": message});
        let mut ev = evidence(EvidenceKind::NodeCondition, r.clone(), summary, 0.9, data);
        ev.observed_at = c.last_transition_time.as_ref().map(|t| t.0);
        out.push(ctx, ev, &r);
    }
}

/// Events last seen longer than this before the capture are ignored.
pub const EVENT_HORIZON: jiff::SignedDuration = jiff::SignedDuration::from_hours(6);

/// Event reasons that signal trouble even when the event type is `Normal`.
const NOTABLE_NORMAL: &[&str] = &["ScalingReplicaSet", "Killing", "NodeNotReady", "Preempted"];

fn event_signals(ctx: &Ctx<'_>, e: &Event, out: &mut Signals) {
    let reason = e.reason.clone().unwrap_or_default();
    let warning = e.type_.as_deref() == Some("Warning");
    if !warning && !NOTABLE_NORMAL.contains(&reason.as_str()) {
        return;
    }
    // Kubernetes keeps events for an hour by default and refreshes `lastTimestamp` on every
    // repeat: one last seen long before the capture is history, not the incident.
    if event_time(e).is_some_and(|t| t < ctx.a.now - EVENT_HORIZON) {
        return;
    }
    let o = &e.involved_object;
    let kind = o.kind.clone().unwrap_or_default();
    let name = o.name.clone().unwrap_or_default();
    let r = match o.namespace.as_deref().or(e.metadata.namespace.as_deref()) {
        Some(ns) if !matches!(kind.as_str(), "Node" | "PersistentVolume" | "StorageClass") => {
            ResourceRef::namespaced(&kind, ns, &name)
        }
        _ => ResourceRef::cluster(&kind, &name),
    };
    let message = e.message.clone().unwrap_or_default();
    let count = e.count.unwrap_or(1);
    let summary = format!("Event {reason} on {r} (x{count}): {}", aiops_core::alert::truncate_chars(&message, 200));
    let strength = match (warning, reason.as_str()) {
        (true, "FailedScheduling" | "FailedMount" | "BackOff" | "Unhealthy" | "Failed" | "FailedCreate") => 0.9,
        (true, _) => 0.7,
        _ => 0.4,
    };
    let data = json!({"reason": reason, "message": message, "count": count, "type": e.type_, "involved_kind": kind, "key": format!("{reason}|{}", e.metadata.name.as_deref().unwrap_or_default())});
    let mut ev = evidence(EvidenceKind::Event, r.clone(), summary, strength, data);
    ev.observed_at = event_time(e);
    out.push(ctx, ev, &r);
}

/// The last time an event was seen.
pub fn event_time(e: &Event) -> Option<Timestamp> {
    e.last_timestamp
        .as_ref()
        .map(|t| t.0)
        .or(e.event_time.as_ref().map(|t| t.0))
        .or(e.first_timestamp.as_ref().map(|t| t.0))
}

/// Pods scheduled on a node (from the graph).
pub fn pods_on_node<'a>(actx: &'a AnalysisContext<'a>, node: &str) -> Vec<&'a Pod> {
    actx.graph
        .neighbors(&node_id(NodeKind::Node, None, node), EdgeKind::RunsOn, petgraph_incoming())
        .into_iter()
        .filter_map(|n| n.object.and_then(|i| actx.inventory.pods.get(i)))
        .collect()
}

fn petgraph_incoming() -> aiops_core::graph::Direction {
    aiops_core::graph::Direction::Incoming
}
