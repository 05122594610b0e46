//! The plain domain types that flow through the pipeline and into the report.

use std::collections::BTreeMap;
use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::cause::{Category, Cause, string_enum};

string_enum! {
    /// Incident severity (`original-design.md` §1.1).
    Severity {
        /// Page now.
        Critical => "critical",
        /// Urgent.
        High => "high",
        /// The default for unknown severities.
        Medium => "medium",
        /// Low.
        Low => "low",
        /// Informational.
        Info => "info",
    }
}

impl Severity {
    /// Maps an alert's `severity` label through the original `SEVERITY_MAP` (unknown -> medium).
    pub fn from_label(label: Option<&str>) -> Severity {
        match label.map(str::to_ascii_lowercase).as_deref() {
            Some("critical") => Severity::Critical,
            Some("high" | "alerting" | "error") => Severity::High,
            Some("info") => Severity::Info,
            Some("low") => Severity::Low,
            _ => Severity::Medium,
        }
    }
}

string_enum! {
    /// Incident lifecycle status.
    IncidentStatus {
        /// Created, not yet analysed.
        Open => "open",
        /// Evidence is being collected.
        Investigating => "investigating",
        /// A root cause was identified.
        Identified => "identified",
        /// A remediation is running.
        Remediating => "remediating",
        /// The problem is gone.
        Resolved => "resolved",
        /// Closed without a verified resolution.
        Closed => "closed",
    }
}

string_enum! {
    /// Where an incident came from.
    IncidentSource {
        /// An Alertmanager webhook.
        Alertmanager => "alertmanager",
        /// A Grafana alerting webhook.
        Grafana => "grafana",
        /// Prometheus' own alert push.
        Prometheus => "prometheus",
        /// Created by hand or by a library call.
        Manual => "manual",
        /// A cluster scan or simulator run.
        Synthetic => "synthetic",
    }
}

string_enum! {
    /// The remediation actions of the original design (14 types).
    ActionType {
        /// Delete one pod so its controller recreates it.
        RestartPod => "restart_pod",
        /// Delete one pod.
        DeletePod => "delete_pod",
        /// `kubectl rollout restart deployment`.
        RestartDeployment => "restart_deployment",
        /// Roll back to the previous revision.
        RollbackDeployment => "rollback_deployment",
        /// Change the replica count.
        ScaleReplicas => "scale_replicas",
        /// Mark a node unschedulable.
        CordonNode => "cordon_node",
        /// Evict every pod from a node (high risk).
        DrainNode => "drain_node",
        /// Mark a node schedulable again.
        UncordonNode => "uncordon_node",
        /// Edit a ConfigMap (high risk).
        UpdateConfigmap => "update_configmap",
        /// Change requests/limits (high risk).
        UpdateResourceLimits => "update_resource_limits",
        /// Change an HPA (high risk).
        UpdateHpa => "update_hpa",
        /// Restart a service (high risk).
        RestartService => "restart_service",
        /// Hand the incident to a human.
        EscalateToHuman => "escalate_to_human",
        /// Open a ticket.
        CreateTicket => "create_ticket",
    }
}

/// A reference to one Kubernetes object: `Kind/namespace/name`, or `Kind/name` when cluster-scoped.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceRef {
    /// The object's kind, e.g. `Pod`.
    pub kind: String,
    /// The namespace, `None` for cluster-scoped objects.
    pub namespace: Option<String>,
    /// The object's name.
    pub name: String,
}

impl ResourceRef {
    /// A namespaced reference.
    pub fn namespaced(kind: &str, namespace: &str, name: &str) -> Self {
        Self { kind: kind.into(), namespace: Some(namespace.into()), name: name.into() }
    }

    /// A cluster-scoped reference.
    pub fn cluster(kind: &str, name: &str) -> Self {
        Self { kind: kind.into(), namespace: None, name: name.into() }
    }

    /// Parses `Kind/ns/name` or `Kind/name`.
    pub fn parse(s: &str) -> Option<Self> {
        let mut parts = s.splitn(3, '/');
        let kind = parts.next().filter(|k| !k.is_empty())?;
        let second = parts.next().filter(|k| !k.is_empty())?;
        match parts.next() {
            Some(name) if !name.is_empty() => Some(Self::namespaced(kind, second, name)),
            Some(_) => None,
            None => Some(Self::cluster(kind, second)),
        }
    }
}

impl fmt::Display for ResourceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{}/{}/{}", self.kind, ns, self.name),
            None => write!(f, "{}/{}", self.kind, self.name),
        }
    }
}

impl Serialize for ResourceRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ResourceRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ResourceRef::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("expected Kind/namespace/name, got {s:?}")))
    }
}

/// One alert, normalized from any source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Where it came from.
    pub source: IncidentSource,
    /// `firing` or `resolved`.
    pub status: String,
    /// The alert name (`Unknown Alert` when absent).
    pub alertname: String,
    /// All labels, as received.
    pub labels: BTreeMap<String, String>,
    /// All annotations, as received (Grafana: merged with the common ones).
    pub annotations: BTreeMap<String, String>,
    /// When it started firing, if known.
    pub starts_at: Option<Timestamp>,
    /// When it ended, if resolved.
    pub ends_at: Option<Timestamp>,
    /// The sender's group key, used to attach related alerts to one incident.
    pub group_key: Option<String>,
    /// The sender's own fingerprint, if any.
    pub source_fingerprint: Option<String>,
}

/// An incident: what the report is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// Stable id (derived from the fingerprint and start time, so re-analysis keeps it).
    pub id: String,
    /// Dedup key (`alert::fingerprint`).
    pub fingerprint: String,
    /// Human title, at most 500 characters.
    pub title: String,
    /// Longer description from the alert annotations.
    pub description: Option<String>,
    /// Severity.
    pub severity: Severity,
    /// Lifecycle status.
    pub status: IncidentStatus,
    /// Source.
    pub source: IncidentSource,
    /// Cluster name (`default-cluster` when unknown).
    pub cluster: String,
    /// Namespace (`default` when unknown; empty for a cluster scan).
    pub namespace: String,
    /// The affected service or workload, if known.
    pub service: Option<String>,
    /// The affected pod, if the alert names one.
    pub pod: Option<String>,
    /// Alert labels.
    pub labels: BTreeMap<String, String>,
    /// Alert annotations.
    pub annotations: BTreeMap<String, String>,
    /// Onset: when the alert started firing (or capture time).
    pub started_at: Timestamp,
}

string_enum! {
    /// What an evidence item is about.
    EvidenceKind {
        /// A container waiting for a reason (CrashLoopBackOff, ImagePullBackOff, ...).
        ContainerWaiting => "container_waiting",
        /// A container's current terminated state.
        ContainerTerminated => "container_terminated",
        /// A container's previous termination (`lastState.terminated`).
        ContainerLastTerminated => "container_last_terminated",
        /// A pod the scheduler cannot place.
        PodUnschedulable => "pod_unschedulable",
        /// A pod held by scheduling gates.
        PodSchedulingGated => "pod_scheduling_gated",
        /// A pod evicted by the kubelet.
        PodEvicted => "pod_evicted",
        /// A running pod that is not ready.
        PodNotReady => "pod_not_ready",
        /// A Kubernetes event.
        Event => "event",
        /// A node condition that is not healthy.
        NodeCondition => "node_condition",
        /// A workload (Deployment, StatefulSet, DaemonSet, ReplicaSet) status problem.
        WorkloadStatus => "workload_status",
        /// A rollout (new revision) of a workload.
        DeployChange => "deploy_change",
        /// A ConfigMap or Secret change.
        ConfigChange => "config_change",
        /// A reference to an object that does not exist.
        MissingReference => "missing_reference",
        /// A configuration file (a ConfigMap or Secret key) that does not parse.
        ConfigInvalid => "config_invalid",
        /// A status condition or phase of any other object (custom resources, PDBs, ...).
        ObjectCondition => "object_condition",
        /// Service endpoints state.
        ServiceEndpoints => "service_endpoints",
        /// HPA status.
        HpaStatus => "hpa_status",
        /// Job or CronJob status.
        JobStatus => "job_status",
        /// PersistentVolumeClaim status.
        VolumeStatus => "volume_status",
        /// A pattern found in container logs.
        LogSignal => "log_signal",
        /// A metric observation.
        MetricSignal => "metric_signal",
        /// The alert itself.
        Alert => "alert",
        /// Anything else a custom collector or rule reports.
        Other => "other",
    }
}

string_enum! {
    /// Where an evidence item came from.
    EvidenceSource {
        /// The Kubernetes API (or a bundle of its objects).
        KubernetesApi => "kubernetes_api",
        /// Prometheus.
        Prometheus => "prometheus",
        /// Loki or the Kubernetes log API.
        Logs => "logs",
        /// The alert.
        Alerting => "alerting",
        /// Derived by analysis.
        Analysis => "analysis",
    }
}

/// One observed fact that a hypothesis can cite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Stable id (`ev-` + hash of what it is about), unique within a report.
    pub id: String,
    /// What it is about.
    pub kind: EvidenceKind,
    /// The object it was observed on.
    pub resource: ResourceRef,
    /// One readable line.
    pub summary: String,
    /// Signal strength, 0..=1.
    pub strength: f64,
    /// Structured detail (reason, message, exit code, ...).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub data: serde_json::Map<String, serde_json::Value>,
    /// When it was observed, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_at: Option<Timestamp>,
    /// Where it came from.
    pub source: EvidenceSource,
}

impl Evidence {
    /// A string field of `data`, if present.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.data.get(key).and_then(|v| v.as_str())
    }

    /// A numeric field of `data`, if present.
    pub fn num(&self, key: &str) -> Option<f64> {
        self.data.get(key).and_then(|v| v.as_f64())
    }
}

/// A ranked root-cause hypothesis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hypothesis {
    /// 1 = most likely.
    pub rank: usize,
    /// The stable diagnosis.
    pub cause: Cause,
    /// Its coarse category.
    pub category: Category,
    /// The rule (or `llm`) that produced it.
    pub rule: String,
    /// Short title.
    pub title: String,
    /// Why, in words, naming the evidence.
    pub explanation: String,
    /// Confidence, 0..=1.
    pub confidence: f64,
    /// The ranker's score (may exceed 1).
    pub score: f64,
    /// The object at the root, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<ResourceRef>,
    /// Ids of the evidence items that support it.
    pub evidence: Vec<String>,
    /// Ids of the evidence items that speak against it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contradicting: Vec<String>,
    /// Executable actions from the catalogue, most appropriate first.
    pub actions: Vec<ActionType>,
    /// What a human should check next.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub next_checks: Vec<String>,
    /// When this is a symptom: the root object whose failure explains it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symptom_of: Option<ResourceRef>,
}

/// One runbook step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunbookStep {
    /// What the step is for.
    pub title: String,
    /// Shell commands (`kubectl ...`), filled with real names.
    #[serde(default)]
    pub commands: Vec<String>,
    /// PromQL queries.
    #[serde(default)]
    pub promql: Vec<String>,
    /// Dashboard or documentation links.
    #[serde(default)]
    pub links: Vec<String>,
}

/// A generated runbook.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Runbook {
    /// `Runbook: <incident title>`.
    pub title: String,
    /// Markdown summary.
    pub summary: String,
    /// Ordered steps.
    pub steps: Vec<RunbookStep>,
}

/// The blast radius of a proposed action.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BlastRadius {
    /// 0..=100.
    pub score: f64,
    /// Pods affected.
    pub affected_pods: usize,
    /// Workloads affected.
    pub affected_deployments: usize,
    /// The environment used for the multiplier.
    pub environment: String,
    /// The environment multiplier applied.
    pub environment_multiplier: f64,
    /// Named parts of the score, so a human sees why.
    #[serde(default)]
    pub breakdown: BTreeMap<String, f64>,
    /// The original design's score (`original-design.md` §8.2, vocabulary fixed), kept for
    /// comparison; `score` is the extended one.
    #[serde(default)]
    pub baseline: f64,
    /// The namespace tier the multiplier came from (`critical`, `standard`, `low`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace_tier: String,
    /// Services and Ingresses that route to the affected pods (`Kind/ns/name`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<String>,
    /// One line per factor, in words.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

string_enum! {
    /// The policy gate's verdict.
    Decision {
        /// Run without a human.
        Allow => "allow",
        /// Run only after an approval.
        RequiresApproval => "requires_approval",
        /// Never run.
        Deny => "deny",
    }
}

/// A policy decision with every reason and the input that produced it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyDecision {
    /// The verdict.
    pub decision: Decision,
    /// Every reason the policy gave.
    pub reasons: Vec<String>,
    /// The input document that was evaluated.
    #[serde(default)]
    pub input: serde_json::Value,
}

/// A proposed remediation action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemediationAction {
    /// The action.
    pub action: ActionType,
    /// The object it acts on (from the evidence, never guessed).
    pub target: ResourceRef,
    /// Parameters (revision, replicas, node, ...).
    #[serde(default)]
    pub parameters: BTreeMap<String, serde_json::Value>,
    /// `incident:action:target`, so the same action never runs twice.
    pub idempotency_key: String,
}

/// The remediation section of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemediationSummary {
    /// The proposed action.
    pub action: ActionType,
    /// Its target.
    pub target: ResourceRef,
    /// Its blast radius score.
    pub blast_radius: f64,
    /// The action's parameters (revision, replicas, node, pod, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, serde_json::Value>,
    /// The action's idempotency key.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub idempotency_key: String,
    /// The blast radius with its breakdown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blast: Option<BlastRadius>,
    /// The policy input document the decision was made on.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub policy_input: serde_json::Value,
    /// The policy verdict.
    pub decision: Decision,
    /// Every reason.
    pub reasons: Vec<String>,
    /// Whether it would only be simulated.
    pub dry_run: bool,
}

/// A collector that failed or timed out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectorFailure {
    /// The collector's name.
    pub collector: String,
    /// Why.
    pub error: String,
}

/// How one collector run went: its duration (for metrics) and whether it produced data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectorRun {
    /// The collector's name.
    pub collector: String,
    /// Wall time in milliseconds (up to the timeout for one that timed out).
    pub duration_ms: f64,
    /// True when it returned observations.
    pub ok: bool,
}

/// The incident header of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentSummary {
    /// Incident id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Severity.
    pub severity: Severity,
    /// Status after analysis.
    pub status: IncidentStatus,
    /// Source.
    pub source: IncidentSource,
    /// Cluster.
    pub cluster: String,
    /// Namespace.
    pub namespace: String,
    /// Service, if known.
    pub service: Option<String>,
    /// Fingerprint.
    pub fingerprint: String,
    /// Onset.
    pub started_at: Timestamp,
}

impl From<&Incident> for IncidentSummary {
    fn from(i: &Incident) -> Self {
        Self {
            id: i.id.clone(),
            title: i.title.clone(),
            severity: i.severity,
            status: i.status,
            source: i.source,
            cluster: i.cluster.clone(),
            namespace: i.namespace.clone(),
            service: i.service.clone(),
            fingerprint: i.fingerprint.clone(),
            started_at: i.started_at,
        }
    }
}

/// The analysis report (`incident-bundle.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The incident.
    pub incident: IncidentSummary,
    /// True when a collector failed; `errors` says which and why.
    pub partial: bool,
    /// Collector failures.
    #[serde(default)]
    pub errors: Vec<CollectorFailure>,
    /// Every collector's duration and outcome, in the order they were configured (for
    /// metrics; not serialized, so the report JSON of one input stays byte-identical).
    #[serde(default, skip_serializing)]
    pub collectors: Vec<CollectorRun>,
    /// Ranked hypotheses, most likely first.
    pub hypotheses: Vec<Hypothesis>,
    /// Every evidence item a hypothesis may cite.
    pub evidence: Vec<Evidence>,
    /// The runbook.
    pub runbook: Runbook,
    /// The proposed remediation, when a policy gate is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<RemediationSummary>,
    /// What the optional LLM enricher proposed and what became of it (absent when none ran).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrichment: Option<crate::enrichment::EnrichmentReport>,
    /// The "now" of the analysis.
    pub analyzed_at: Timestamp,
}

impl Report {
    /// The top hypothesis.
    pub fn top(&self) -> Option<&Hypothesis> {
        self.hypotheses.first()
    }
}

/// Rounds to `digits` decimals (the original rounds confidences to 3 and scores to 4).
pub fn round_to(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_refs_parse_and_print() {
        let r = ResourceRef::parse("Deployment/shop/cart").unwrap();
        assert_eq!(r, ResourceRef::namespaced("Deployment", "shop", "cart"));
        assert_eq!(r.to_string(), "Deployment/shop/cart");
        assert_eq!(ResourceRef::parse("Node/n1").unwrap().to_string(), "Node/n1");
        assert!(ResourceRef::parse("Pod").is_none());
        assert!(ResourceRef::parse("Pod/ns/").is_none());
    }

    #[test]
    fn severity_map_matches_the_original() {
        let cases = [
            ("critical", Severity::Critical),
            ("HIGH", Severity::High),
            ("warning", Severity::Medium),
            ("info", Severity::Info),
            ("low", Severity::Low),
            ("alerting", Severity::High),
            ("error", Severity::High),
            ("warn", Severity::Medium),
            ("page", Severity::Medium),
        ];
        for (label, want) in cases {
            assert_eq!(Severity::from_label(Some(label)), want, "{label}");
        }
        assert_eq!(Severity::from_label(None), Severity::Medium);
    }

    #[test]
    fn action_types_are_the_original_fourteen() {
        assert_eq!(ActionType::ALL.len(), 14);
        assert_eq!(ActionType::parse("cordon_node"), Some(ActionType::CordonNode));
    }
}
