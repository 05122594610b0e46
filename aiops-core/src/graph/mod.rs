//! The evidence graph: typed nodes (incident, workloads, pods, nodes, config, events,
//! signals, changes) and typed edges, an in-memory petgraph implementation with indexes,
//! the [`GraphStore`] trait for shared graph databases, and a DOT export.

mod build;
mod memory;
mod store;

pub use build::{add_alerts, add_diagnosis, build_graph, pod_references, selects};
pub use memory::EvidenceGraph;
pub use memory::snapshot_to_dot;
pub use petgraph::Direction;
#[cfg(any(test, feature = "conformance"))]
pub use store::conformance;
pub use store::{GraphStore, MemoryGraphStore, incident_node_id};

use serde::{Deserialize, Serialize};

use crate::cause::string_enum;

string_enum! {
    /// The type of a graph node.
    NodeKind {
        /// The incident.
        Incident => "Incident",
        /// An alert.
        Alert => "Alert",
        /// A pod.
        Pod => "Pod",
        /// A container of a pod.
        Container => "Container",
        /// A Deployment.
        Deployment => "Deployment",
        /// A ReplicaSet.
        ReplicaSet => "ReplicaSet",
        /// A StatefulSet.
        StatefulSet => "StatefulSet",
        /// A DaemonSet.
        DaemonSet => "DaemonSet",
        /// A Job.
        Job => "Job",
        /// A CronJob.
        CronJob => "CronJob",
        /// A Node.
        Node => "Node",
        /// A Service.
        Service => "Service",
        /// An Endpoints object.
        Endpoints => "Endpoints",
        /// A ConfigMap.
        ConfigMap => "ConfigMap",
        /// A Secret (name only, never data).
        Secret => "Secret",
        /// A HorizontalPodAutoscaler.
        Hpa => "HPA",
        /// A PersistentVolumeClaim.
        Pvc => "PersistentVolumeClaim",
        /// A PersistentVolume.
        Pv => "PersistentVolume",
        /// A StorageClass.
        StorageClass => "StorageClass",
        /// An Ingress.
        Ingress => "Ingress",
        /// A Kubernetes event.
        Event => "Event",
        /// A log pattern.
        LogSignal => "LogSignal",
        /// A metric observation.
        MetricSignal => "MetricSignal",
        /// A change (rollout, config edit).
        Change => "ChangeEvent",
        /// Any other object.
        Object => "Object",
    }
}

impl NodeKind {
    /// The node kind of a Kubernetes kind.
    pub fn of_k8s_kind(kind: &str) -> NodeKind {
        match kind {
            "HorizontalPodAutoscaler" => NodeKind::Hpa,
            "ChangeEvent" | "Incident" | "Alert" | "LogSignal" | "MetricSignal" | "Container" => NodeKind::Object,
            k => NodeKind::parse(k).unwrap_or(NodeKind::Object),
        }
    }
}

string_enum! {
    /// The type of a graph edge (Neo4j relationship type).
    EdgeKind {
        /// Owner -> owned (ownerReferences).
        Owns => "OWNS",
        /// Pod -> Node.
        RunsOn => "SCHEDULED_ON",
        /// Service/PDB -> Pod (label selector).
        Selects => "SELECTS",
        /// Pod -> ConfigMap/Secret/PVC volume.
        Mounts => "MOUNTS",
        /// Pod/Ingress/... -> ConfigMap/Secret/Service referenced by name.
        References => "REFERENCES",
        /// Incident -> affected object.
        Affects => "AFFECTS",
        /// Event/signal -> the object it was observed on.
        ObservedIn => "OBSERVED_IN",
        /// Workload -> change.
        ChangedBy => "HAS_RECENT_CHANGE",
        /// Incident -> change that correlates in time.
        CorrelatesWith => "CORRELATES_WITH",
        /// HPA -> scale target.
        Scales => "SCALES",
        /// Ingress/route -> Service.
        RoutesTo => "ROUTES_TO",
        /// PVC -> PV or StorageClass.
        BoundTo => "BOUND_TO",
        /// Pod -> Container.
        HasContainer => "HAS_CONTAINER",
        /// Alert -> Incident.
        Triggered => "TRIGGERED",
    }
}

/// One graph node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphNode {
    /// Stable id: `pod:{ns}:{name}`, `node:{name}`, `incident:{id}`, ...
    pub id: String,
    /// Type.
    pub kind: NodeKind,
    /// Namespace, if namespaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// Small scalar properties (phase, reason, ...).
    #[serde(default)]
    pub properties: serde_json::Map<String, serde_json::Value>,
    /// Index of the typed object in the [`crate::object::Inventory`] vector of its kind.
    #[serde(skip)]
    pub object: Option<usize>,
}

impl GraphNode {
    /// A node with no properties.
    pub fn new(kind: NodeKind, namespace: Option<&str>, name: &str) -> Self {
        Self {
            id: node_id(kind, namespace, name),
            kind,
            namespace: namespace.map(str::to_string),
            name: name.to_string(),
            properties: Default::default(),
            object: None,
        }
    }

    /// Adds a property.
    pub fn with(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.properties.insert(key.to_string(), value.into());
        self
    }
}

/// The id of a node: `{kind}:{namespace}:{name}` or `{kind}:{name}`, kind lower-cased.
pub fn node_id(kind: NodeKind, namespace: Option<&str>, name: &str) -> String {
    let k = match kind {
        NodeKind::Change => "change",
        other => other.as_str(),
    }
    .to_ascii_lowercase();
    match namespace {
        Some(ns) => format!("{k}:{ns}:{name}"),
        None => format!("{k}:{name}"),
    }
}

/// One graph edge.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GraphEdge {
    /// Source node id.
    pub source: String,
    /// Target node id.
    pub target: String,
    /// Relationship type.
    #[serde(rename = "type")]
    pub kind: EdgeKind,
}

/// A serializable (sub)graph: the `GET /api/v1/incidents/{id}/graph` shape.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GraphSnapshot {
    /// Nodes, sorted by id.
    pub nodes: Vec<GraphNode>,
    /// Edges, sorted.
    #[serde(rename = "relationships")]
    pub edges: Vec<GraphEdge>,
}
