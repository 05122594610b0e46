//! Action proposal and blast radius.
//!
//! [`DefaultPlanner`] turns the top hypothesis into one [`RemediationAction`] on a real object
//! from the evidence, with concrete parameters (the revision to roll back to, the replica count,
//! the node, the failing pod), and scores its blast radius twice: the original formula
//! ([`blast_radius`], `original-design.md` §8.2, vocabulary fixed) is kept as
//! [`BlastRadius::baseline`]; the extended score ([`extended_blast_radius`]) is what the policy
//! sees.
//!
//! # The extended blast radius
//!
//! ```text
//! raw   = 10·workloads + 5·healthy_pods_disrupted + 1·failing_pods_replaced + 1·node_pods
//!       + 30·capacity_share + 3·services + 5·ingresses + 25·(PDB headroom exceeded)
//! score = min(raw × tier × environment, 100), 2 decimals
//! ```
//!
//! - *healthy pods disrupted*: Ready pods the action deletes or replaces; *failing pods
//!   replaced*: pods that are already down (not Ready, crash-looping), which cost little to
//!   replace; *node pods*: pods on a node being cordoned (they keep running);
//! - *capacity share*: the share of the workload's replicas (or of the cluster's schedulable
//!   nodes, for a cordon) that is unavailable at once while the action runs: a rolling
//!   restart takes `maxUnavailable` (default 25%, at least 1) of the healthy pods at a time;
//! - *services* and *ingresses*: those that route to the affected pods (a Service selecting
//!   them, an Ingress naming such a Service), listed in [`BlastRadius::routes`];
//! - *PDB headroom*: a PodDisruptionBudget selecting the pods whose `disruptionsAllowed` is
//!   smaller than the healthy pods disrupted at once;
//! - *tier*: `critical` ×1.5 (the original's critical namespaces plus `kube-system`, or a
//!   namespace labelled `aiops.io/tier: critical`), `standard` ×1, `low` ×0.75 (label `low`);
//! - *environment*: dev 1, staging 1.5, uat 1.75, prod 2.
//!
//! **Why milder than the original's ×5 for prod.** The original multiplied a head count by 5
//! in prod, so any prod Deployment action scored ≥ 50 and the policy's blast gate denied every
//! one, including the rollback that cures a crash loop. The extended score counts what the
//! action actually puts at risk: rolling back a bad deploy replaces pods that are already
//! failing and leaves the healthy old ReplicaSet running, so the crash-looping `checkout`
//! rollback in prod scores 30 (moderate) and lands in `requires_approval` (rollbacks in prod
//! always need a human), while restarting a healthy, Ingress-exposed Deployment in prod still
//! scores high. Every factor is in [`BlastRadius::breakdown`] and [`BlastRadius::notes`].

use std::collections::{BTreeMap, BTreeSet};

use aiops_core::model::{ActionType, BlastRadius, RemediationAction, ResourceRef, round_to};
use aiops_core::object::Inventory;
use aiops_core::traits::{AnalysisContext, Diagnosis, RemediationPlanner};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;
use serde_json::{Value, json};

/// Actions the executor can run; the rest (the original's high-risk types, tickets and
/// escalations) are never proposed for execution.
pub const EXECUTABLE: &[ActionType] = &[
    ActionType::RestartPod,
    ActionType::DeletePod,
    ActionType::RestartDeployment,
    ActionType::RollbackDeployment,
    ActionType::ScaleReplicas,
    ActionType::CordonNode,
    ActionType::UncordonNode,
];

/// Actions that are never run automatically, whatever a policy says (`original-design.md`
/// §8.1 high risk, and everything that is not an executor action).
pub fn is_high_risk(action: ActionType) -> bool {
    !EXECUTABLE.contains(&action) || action == ActionType::UncordonNode
}

/// Namespaces whose blast radius is multiplied by 1.5.
pub const CRITICAL_NAMESPACES: &[&str] = &["default", "platform", "core-services", "kube-system"];

/// The annotation holding a Deployment's (and its ReplicaSets') revision.
pub const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";

/// The canonical environment name: `development` -> `dev`, `production` -> `prod`.
pub fn normalize_environment(env: &str) -> &'static str {
    match env.to_ascii_lowercase().as_str() {
        "dev" | "development" | "local" => "dev",
        "staging" | "stage" => "staging",
        "uat" => "uat",
        _ => "prod",
    }
}

/// The original environment multiplier: dev 1, staging 2, uat 2.5, prod 5.
pub fn environment_multiplier(env: &str) -> f64 {
    match normalize_environment(env) {
        "dev" => 1.0,
        "staging" => 2.0,
        "uat" => 2.5,
        _ => 5.0,
    }
}

/// The extended score's environment multiplier: dev 1, staging 1.5, uat 1.75, prod 2.
pub fn extended_environment_multiplier(env: &str) -> f64 {
    match normalize_environment(env) {
        "dev" => 1.0,
        "staging" => 1.5,
        "uat" => 1.75,
        _ => 2.0,
    }
}

/// The original blast radius: `(pods·5 + deployments·10) × 1.5 (critical ns) × env`, max 100.
pub fn blast_radius(pods: usize, deployments: usize, namespace: &str, environment: &str) -> BlastRadius {
    let base = (pods * 5 + deployments * 10) as f64;
    let ns_mult = if CRITICAL_NAMESPACES.contains(&namespace) { 1.5 } else { 1.0 };
    let env_mult = environment_multiplier(environment);
    let score = round_to((base * ns_mult * env_mult).min(100.0), 2);
    let breakdown = BTreeMap::from([
        ("base".to_string(), base),
        ("namespace_multiplier".to_string(), ns_mult),
        ("environment_multiplier".to_string(), env_mult),
    ]);
    BlastRadius {
        score,
        affected_pods: pods,
        affected_deployments: deployments,
        environment: normalize_environment(environment).into(),
        environment_multiplier: env_mult,
        breakdown,
        baseline: score,
        ..BlastRadius::default()
    }
}

/// What an action puts at risk: the inputs of [`extended_blast_radius`].
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Impact {
    /// Workloads (Deployments, StatefulSets) whose pods change.
    pub workloads: usize,
    /// Replicas of the workload (0 for node and bare-pod actions).
    pub workload_replicas: usize,
    /// Ready pods the action deletes or replaces.
    pub healthy_disrupted: usize,
    /// Already failing pods the action replaces.
    pub failing_replaced: usize,
    /// Pods on a node being cordoned or uncordoned (they keep running).
    pub node_pods: usize,
    /// Healthy pods unavailable at once while the action runs.
    pub disrupted_at_once: usize,
    /// Capacity share unavailable at once, 0..=1.
    pub capacity_share: f64,
    /// Services routing to the affected pods.
    pub services: Vec<String>,
    /// Ingresses routing to those Services.
    pub ingresses: Vec<String>,
    /// PodDisruptionBudgets selecting the pods: `(name, disruptionsAllowed)`.
    pub pdbs: Vec<(String, i64)>,
    /// `critical`, `standard` or `low`.
    pub tier: String,
}

impl Impact {
    /// Pods the action touches (what the policy calls `affected_replicas`).
    pub fn affected_pods(&self) -> usize {
        self.healthy_disrupted + self.failing_replaced + self.node_pods
    }
}

fn tier_multiplier(tier: &str) -> f64 {
    match tier {
        "critical" => 1.5,
        "low" => 0.75,
        _ => 1.0,
    }
}

/// The extended blast radius of an action with `impact` in `namespace` and `environment`;
/// [`BlastRadius::baseline`] carries the original formula for the same action.
pub fn extended_blast_radius(impact: &Impact, namespace: &str, environment: &str) -> BlastRadius {
    let pdb_exceeded = impact.pdbs.iter().any(|(_, allowed)| (impact.disrupted_at_once as i64) > *allowed);
    let parts = [
        ("workloads", 10.0 * impact.workloads as f64),
        ("healthy_pods_disrupted", 5.0 * impact.healthy_disrupted as f64),
        ("failing_pods_replaced", impact.failing_replaced as f64),
        ("node_pods", impact.node_pods as f64),
        ("capacity_share", round_to(30.0 * impact.capacity_share, 2)),
        ("services", 3.0 * impact.services.len() as f64),
        ("ingresses", 5.0 * impact.ingresses.len() as f64),
        ("pdb_headroom_exceeded", if pdb_exceeded { 25.0 } else { 0.0 }),
    ];
    let raw: f64 = parts.iter().map(|(_, v)| v).sum();
    let tier = if impact.tier.is_empty() { "standard" } else { impact.tier.as_str() };
    let tier_mult = tier_multiplier(tier);
    let env_mult = extended_environment_multiplier(environment);
    let score = round_to((raw * tier_mult * env_mult).min(100.0), 2);
    let mut breakdown: BTreeMap<String, f64> = parts.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    breakdown.insert("raw".into(), round_to(raw, 2));
    breakdown.insert("tier_multiplier".into(), tier_mult);
    breakdown.insert("environment_multiplier".into(), env_mult);
    let mut notes = vec![
        format!(
            "{} healthy pod(s) disrupted, {} failing pod(s) replaced{}",
            impact.healthy_disrupted,
            impact.failing_replaced,
            if impact.node_pods > 0 { format!(", {} pod(s) on the node", impact.node_pods) } else { String::new() }
        ),
        format!(
            "{:.0}% of capacity unavailable at once ({} of {})",
            impact.capacity_share * 100.0,
            impact.disrupted_at_once,
            impact.workload_replicas
        ),
    ];
    if !impact.services.is_empty() || !impact.ingresses.is_empty() {
        notes.push(format!(
            "routed to by {} Service(s) and {} Ingress(es)",
            impact.services.len(),
            impact.ingresses.len()
        ));
    }
    for (name, allowed) in &impact.pdbs {
        notes.push(format!(
            "PodDisruptionBudget {name} allows {allowed} disruption(s){}",
            if (impact.disrupted_at_once as i64) > *allowed { ": exceeded" } else { "" }
        ));
    }
    notes.push(format!(
        "namespace {namespace} tier {tier} (x{tier_mult}), {} (x{env_mult})",
        normalize_environment(environment)
    ));
    let pods = impact.affected_pods();
    let baseline = blast_radius(pods, impact.workloads, namespace, environment).score;
    let mut routes = impact.services.clone();
    routes.extend(impact.ingresses.iter().cloned());
    BlastRadius {
        score,
        affected_pods: pods,
        affected_deployments: impact.workloads,
        environment: normalize_environment(environment).into(),
        environment_multiplier: env_mult,
        breakdown,
        baseline,
        namespace_tier: tier.into(),
        routes,
        notes,
    }
}

// ---- reading the inventory as JSON ----------------------------------------------------------

/// The items in scope as JSON (serializing a 10,000-pod inventory whole cost ~90 MiB and a
/// third of an analysis).
fn to_json<T>(items: &[T], scope: &Scope) -> Vec<Value>
where
    T: Serialize + k8s_openapi::Metadata<Ty = ObjectMeta>,
{
    let keep = |i: &&T| scope.holds(i.metadata().namespace.as_deref());
    items.iter().filter(keep).filter_map(|i| serde_json::to_value(i).ok()).collect()
}

/// The namespaces a plan reads (`None`: every namespace, for node actions, whose pods may be
/// anywhere).
struct Scope(Option<BTreeSet<String>>);

impl Scope {
    /// The hypothesis' resource and everything it cites, or everything for a node action.
    fn of(resource: &ResourceRef, cited: &[&ResourceRef], action: ActionType) -> Self {
        if resource.kind == "Node" || matches!(action, ActionType::CordonNode | ActionType::UncordonNode) {
            return Scope(None);
        }
        let namespaces = std::iter::once(resource).chain(cited.iter().copied()).filter_map(|r| r.namespace.clone());
        Scope(Some(namespaces.collect()))
    }

    /// Whether objects of `namespace` are in scope (cluster-scoped objects always are).
    fn holds(&self, namespace: Option<&str>) -> bool {
        match (&self.0, namespace) {
            (None, _) | (_, None) => true,
            (Some(set), Some(ns)) => set.contains(ns),
        }
    }
}

fn text<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

fn name(v: &Value) -> &str {
    text(v, "/metadata/name").unwrap_or_default()
}

fn namespace(v: &Value) -> &str {
    text(v, "/metadata/namespace").unwrap_or_default()
}

fn owned_by(v: &Value, kind: &str, owner: &str) -> bool {
    v.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|refs| refs.iter().any(|r| text(r, "/kind") == Some(kind) && text(r, "/name") == Some(owner)))
}

fn labels(v: &Value) -> BTreeMap<String, String> {
    v.pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
        .unwrap_or_default()
}

/// Whether `labels` satisfy a selector given as a plain map (a Service's `spec.selector`).
fn map_selects(selector: &Value, labels: &BTreeMap<String, String>) -> bool {
    match selector.as_object() {
        Some(m) if !m.is_empty() => m.iter().all(|(k, v)| labels.get(k).map(String::as_str) == v.as_str()),
        _ => false,
    }
}

/// Whether `labels` satisfy a `LabelSelector` (`matchLabels`, `matchExpressions`).
pub fn label_selector_matches(selector: &Value, labels: &BTreeMap<String, String>) -> bool {
    let ml = selector.get("matchLabels").and_then(Value::as_object);
    let me = selector.get("matchExpressions").and_then(Value::as_array);
    if ml.is_none_or(|m| m.is_empty()) && me.is_none_or(|m| m.is_empty()) {
        return false;
    }
    let labels_ok = ml.is_none_or(|m| m.iter().all(|(k, v)| labels.get(k).map(String::as_str) == v.as_str()));
    let exprs_ok = me.is_none_or(|es| {
        es.iter().all(|e| {
            let key = text(e, "/key").unwrap_or_default();
            let values: Vec<&str> = e
                .get("values")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let have = labels.get(key).map(String::as_str);
            match text(e, "/operator").unwrap_or_default() {
                "In" => have.is_some_and(|h| values.contains(&h)),
                "NotIn" => have.is_none_or(|h| !values.contains(&h)),
                "Exists" => have.is_some(),
                "DoesNotExist" => have.is_none(),
                _ => false,
            }
        })
    });
    labels_ok && exprs_ok
}

/// Whether a pod is healthy: Ready, not terminating, no container waiting.
pub fn pod_is_healthy(pod: &Value) -> bool {
    let ready = pod
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| cs.iter().any(|c| text(c, "/type") == Some("Ready") && text(c, "/status") == Some("True")));
    let waiting = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .is_some_and(|cs| cs.iter().any(|c| c.pointer("/state/waiting").is_some()));
    ready && !waiting && pod.pointer("/metadata/deletionTimestamp").is_none()
}

/// The revision annotation of a Deployment or ReplicaSet.
pub fn revision_of(v: &Value) -> Option<u64> {
    v.pointer("/metadata/annotations")
        .and_then(|a| a.get(REVISION_ANNOTATION))
        .and_then(Value::as_str)
        .and_then(|r| r.parse().ok())
}

/// The JSON view of the objects a plan reads.
struct View {
    pods: Vec<Value>,
    replica_sets: Vec<Value>,
    deployments: Vec<Value>,
    stateful_sets: Vec<Value>,
    services: Vec<Value>,
    ingresses: Vec<Value>,
    pdbs: Vec<Value>,
    hpas: Vec<Value>,
    nodes: Vec<Value>,
    namespaces: Vec<Value>,
}

impl View {
    fn new(inv: &Inventory, scope: &Scope) -> Self {
        Self {
            pods: to_json(&inv.pods, scope),
            replica_sets: to_json(&inv.replica_sets, scope),
            deployments: to_json(&inv.deployments, scope),
            stateful_sets: to_json(&inv.stateful_sets, scope),
            services: to_json(&inv.services, scope),
            ingresses: to_json(&inv.ingresses, scope),
            pdbs: to_json(&inv.pdbs, scope),
            hpas: to_json(&inv.hpas, scope),
            nodes: to_json(&inv.nodes, scope),
            namespaces: to_json(&inv.namespaces, scope),
        }
    }

    fn find<'a>(items: &'a [Value], ns: &str, n: &str) -> Option<&'a Value> {
        items.iter().find(|v| name(v) == n && namespace(v) == ns)
    }

    /// The Deployment's ReplicaSets (by owner reference), newest revision first.
    fn replica_sets_of(&self, ns: &str, deployment: &str) -> Vec<&Value> {
        let mut rs: Vec<&Value> =
            self.replica_sets.iter().filter(|r| namespace(r) == ns && owned_by(r, "Deployment", deployment)).collect();
        rs.sort_by_key(|r| std::cmp::Reverse(revision_of(r).unwrap_or(0)));
        rs
    }

    fn pods_of_replica_set(&self, ns: &str, rs: &str) -> Vec<&Value> {
        self.pods.iter().filter(|p| namespace(p) == ns && owned_by(p, "ReplicaSet", rs)).collect()
    }

    fn pods_of_workload(&self, kind: &str, ns: &str, n: &str) -> Vec<&Value> {
        match kind {
            "Deployment" => {
                self.replica_sets_of(ns, n).iter().flat_map(|rs| self.pods_of_replica_set(ns, name(rs))).collect()
            }
            "StatefulSet" => self.pods.iter().filter(|p| namespace(p) == ns && owned_by(p, "StatefulSet", n)).collect(),
            _ => Vec::new(),
        }
    }

    fn hpa_for(&self, kind: &str, ns: &str, n: &str) -> Option<&Value> {
        self.hpas.iter().find(|h| {
            namespace(h) == ns
                && text(h, "/spec/scaleTargetRef/kind") == Some(kind)
                && text(h, "/spec/scaleTargetRef/name") == Some(n)
        })
    }

    fn tier(&self, ns: &str) -> &'static str {
        let label = self.namespaces.iter().find(|v| name(v) == ns).and_then(|v| {
            let l = labels(v);
            l.get("aiops.io/tier").cloned()
        });
        match label.as_deref() {
            Some("critical") => "critical",
            Some("low") => "low",
            Some(_) => "standard",
            None if CRITICAL_NAMESPACES.contains(&ns) => "critical",
            None => "standard",
        }
    }

    /// Services selecting any of `pods`, Ingresses naming those Services, PDBs selecting them.
    fn routing(&self, ns: &str, pods: &[&Value], impact: &mut Impact) {
        let pod_labels: Vec<_> = pods.iter().map(|p| labels(p)).collect();
        let mut services = BTreeSet::new();
        for s in self.services.iter().filter(|s| namespace(s) == ns) {
            let sel = s.pointer("/spec/selector").cloned().unwrap_or(Value::Null);
            if pod_labels.iter().any(|l| map_selects(&sel, l)) {
                services.insert(name(s).to_string());
            }
        }
        let mut ingresses = BTreeSet::new();
        for i in self.ingresses.iter().filter(|i| namespace(i) == ns) {
            let mut backends: Vec<&str> = Vec::new();
            if let Some(b) = text(i, "/spec/defaultBackend/service/name") {
                backends.push(b);
            }
            for rule in i.pointer("/spec/rules").and_then(Value::as_array).into_iter().flatten() {
                for path in rule.pointer("/http/paths").and_then(Value::as_array).into_iter().flatten() {
                    if let Some(b) = text(path, "/backend/service/name") {
                        backends.push(b);
                    }
                }
            }
            if backends.iter().any(|b| services.contains(*b)) {
                ingresses.insert(name(i).to_string());
            }
        }
        impact.services = services.into_iter().map(|s| format!("Service/{ns}/{s}")).collect();
        impact.ingresses = ingresses.into_iter().map(|s| format!("Ingress/{ns}/{s}")).collect();
        for pdb in self.pdbs.iter().filter(|p| namespace(p) == ns) {
            let sel = pdb.pointer("/spec/selector").cloned().unwrap_or(Value::Null);
            if pod_labels.iter().any(|l| label_selector_matches(&sel, l)) {
                let allowed = pdb.pointer("/status/disruptionsAllowed").and_then(Value::as_i64).unwrap_or(0);
                impact.pdbs.push((name(pdb).to_string(), allowed));
            }
        }
    }
}

/// `maxUnavailable` of a rolling update over `replicas` (default 25%, rounded down, at least 1).
fn max_unavailable(deployment: Option<&Value>, replicas: usize) -> usize {
    let v = deployment.and_then(|d| d.pointer("/spec/strategy/rollingUpdate/maxUnavailable"));
    let n = match v {
        Some(Value::Number(n)) => n.as_u64().unwrap_or(1) as usize,
        Some(Value::String(s)) if s.ends_with('%') => {
            let pct: f64 = s.trim_end_matches('%').parse().unwrap_or(25.0);
            (replicas as f64 * pct / 100.0).floor() as usize
        }
        _ => (replicas as f64 * 0.25).floor() as usize,
    };
    n.max(1)
}

/// One planned action: the action, its blast radius and what it puts at risk.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    /// The action with its target and parameters.
    pub action: RemediationAction,
    /// Its blast radius (extended; baseline inside).
    pub blast: BlastRadius,
    /// What it puts at risk.
    pub impact: Impact,
}

/// Plans `action` on the hypothesis' resource, or returns `None` when the evidence names no
/// real target for it (never a guess).
pub fn plan_action(ctx: &AnalysisContext<'_>, d: &Diagnosis, hypothesis: usize, action: ActionType) -> Option<Planned> {
    let h = d.hypotheses.get(hypothesis)?;
    let resource = h.resource.clone()?;
    let cited: Vec<&ResourceRef> =
        d.evidence.iter().filter(|e| h.evidence.contains(&e.id)).map(|e| &e.resource).collect();
    let view = View::new(ctx.inventory, &Scope::of(&resource, &cited, action));
    let environment = ctx.environment.unwrap_or("prod");
    let mut params: BTreeMap<String, Value> = BTreeMap::new();
    let mut impact = Impact::default();
    let target = match action {
        ActionType::RestartPod | ActionType::DeletePod => {
            // The failing pod the hypothesis cites; never a healthy one.
            let pod = cited.iter().filter(|r| r.kind == "Pod").find_map(|r| {
                let ns = r.namespace.as_deref().unwrap_or_default();
                View::find(&view.pods, ns, &r.name).filter(|p| !pod_is_healthy(p))
            })?;
            let ns = namespace(pod).to_string();
            params.insert("pod".into(), json!(name(pod)));
            if let Some(node) = text(pod, "/spec/nodeName") {
                params.insert("node".into(), json!(node));
            }
            impact.failing_replaced = 1;
            view.routing(&ns, &[pod], &mut impact);
            impact.tier = view.tier(&ns).into();
            ResourceRef::namespaced("Pod", &ns, name(pod))
        }
        ActionType::RestartDeployment | ActionType::RollbackDeployment | ActionType::ScaleReplicas => {
            if resource.kind != "Deployment" && !(action == ActionType::ScaleReplicas && resource.kind == "StatefulSet")
            {
                return None;
            }
            let ns = resource.namespace.clone().unwrap_or_default();
            let items = if resource.kind == "Deployment" { &view.deployments } else { &view.stateful_sets };
            let workload = View::find(items, &ns, &resource.name)?;
            let replicas = workload.pointer("/spec/replicas").and_then(Value::as_u64).unwrap_or(1) as usize;
            let pods = view.pods_of_workload(&resource.kind, &ns, &resource.name);
            impact.workloads = 1;
            impact.workload_replicas = replicas;
            impact.tier = view.tier(&ns).into();
            params.insert(
                if resource.kind == "Deployment" { "deployment" } else { "statefulset" }.into(),
                json!(resource.name),
            );
            match action {
                ActionType::RestartDeployment => {
                    let healthy = pods.iter().filter(|p| pod_is_healthy(p)).count();
                    impact.healthy_disrupted = healthy;
                    impact.failing_replaced = pods.len() - healthy;
                    impact.disrupted_at_once = max_unavailable(Some(workload), replicas).min(healthy);
                }
                ActionType::RollbackDeployment => {
                    let sets = view.replica_sets_of(&ns, &resource.name);
                    let current_rev = revision_of(workload).or_else(|| sets.first().and_then(|r| revision_of(r)))?;
                    let current = sets.iter().find(|r| revision_of(r) == Some(current_rev))?;
                    let previous = sets.iter().find(|r| revision_of(r).is_some_and(|rv| rv < current_rev))?;
                    params.insert("from_revision".into(), json!(current_rev));
                    params.insert("to_revision".into(), json!(revision_of(previous)));
                    params.insert("from_replica_set".into(), json!(name(current)));
                    params.insert("to_replica_set".into(), json!(name(previous)));
                    // Only the current ReplicaSet's pods are replaced; the previous one's stay.
                    let replaced = view.pods_of_replica_set(&ns, name(current));
                    let healthy = replaced.iter().filter(|p| pod_is_healthy(p)).count();
                    impact.healthy_disrupted = healthy;
                    impact.failing_replaced = replaced.len() - healthy;
                    impact.disrupted_at_once = max_unavailable(Some(workload), replicas).min(healthy);
                }
                _ => {
                    let hpa = view.hpa_for(&resource.kind, &ns, &resource.name);
                    let mut want = replicas + 1;
                    if let Some(hpa) = hpa {
                        let max = hpa.pointer("/spec/maxReplicas").and_then(Value::as_u64).unwrap_or(0) as usize;
                        params.insert("hpa".into(), json!(name(hpa)));
                        params.insert("hpa_max_replicas".into(), json!(max));
                        want = want.min(max.max(replicas));
                    }
                    params.insert("from_replicas".into(), json!(replicas));
                    params.insert("replicas".into(), json!(want));
                }
            }
            if replicas > 0 {
                impact.capacity_share = round_to(impact.disrupted_at_once as f64 / replicas as f64, 4).min(1.0);
            }
            view.routing(&ns, &pods, &mut impact);
            ResourceRef::namespaced(&resource.kind, &ns, &resource.name)
        }
        ActionType::CordonNode | ActionType::UncordonNode => {
            // The node named by the hypothesis, else the node its cited failing pods run on.
            let node = if resource.kind == "Node" {
                Some(resource.name.clone())
            } else {
                cited.iter().filter(|r| r.kind == "Pod").find_map(|r| {
                    let ns = r.namespace.as_deref().unwrap_or_default();
                    View::find(&view.pods, ns, &r.name).and_then(|p| text(p, "/spec/nodeName")).map(str::to_string)
                })
            }?;
            let on_node: Vec<&Value> =
                view.pods.iter().filter(|p| text(p, "/spec/nodeName") == Some(node.as_str())).collect();
            let schedulable =
                view.nodes.iter().filter(|n| n.pointer("/spec/unschedulable") != Some(&Value::Bool(true))).count();
            impact.node_pods = on_node.len();
            impact.workload_replicas = schedulable;
            impact.disrupted_at_once = usize::from(action == ActionType::CordonNode);
            if schedulable > 0 && action == ActionType::CordonNode {
                impact.capacity_share = round_to(1.0 / schedulable as f64, 4);
            }
            impact.tier = "standard".into();
            params.insert("node".into(), json!(node));
            ResourceRef::cluster("Node", &node)
        }
        _ => return None,
    };
    let ns = target.namespace.clone().unwrap_or_default();
    let blast = extended_blast_radius(&impact, &ns, environment);
    let key = format!("{}:{}:{}", ctx.incident.id, action, target);
    Some(Planned {
        action: RemediationAction { action, target, parameters: params, idempotency_key: key },
        blast,
        impact,
    })
}

/// The default planner: the first executable action of the top hypothesis that has a real
/// target in the evidence, with its parameters and extended blast radius.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultPlanner;

impl DefaultPlanner {
    /// Plans the top hypothesis, keeping what the action puts at risk.
    pub fn plan_top(&self, ctx: &AnalysisContext<'_>, d: &Diagnosis) -> Option<Planned> {
        let top = d.hypotheses.first()?;
        top.actions.iter().filter(|a| EXECUTABLE.contains(a)).find_map(|a| plan_action(ctx, d, 0, *a))
    }
}

impl RemediationPlanner for DefaultPlanner {
    fn plan(&self, ctx: &AnalysisContext<'_>, d: &Diagnosis) -> Option<(RemediationAction, BlastRadius)> {
        let _span = tracing::info_span!("plan").entered();
        self.plan_top(ctx, d).map(|p| (p.action, p.blast))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_reads_the_namespaces_it_names_and_node_actions_read_all() {
        let dep = ResourceRef::namespaced("Deployment", "shop", "web");
        let pod = ResourceRef::namespaced("Pod", "db", "pg-0");
        let s = Scope::of(&dep, &[&pod], ActionType::RollbackDeployment);
        assert!(s.holds(Some("shop")) && s.holds(Some("db")) && s.holds(None));
        assert!(!s.holds(Some("other")));
        let node = ResourceRef::cluster("Node", "n1");
        assert!(Scope::of(&node, &[], ActionType::CordonNode).holds(Some("other")));
        assert!(Scope::of(&dep, &[], ActionType::CordonNode).holds(Some("other")));
    }

    #[test]
    fn original_examples_with_the_vocabulary_fixed() {
        assert_eq!(blast_radius(1, 1, "shop", "dev").score, 15.0);
        assert_eq!(blast_radius(1, 1, "shop", "development").score, 15.0);
        assert_eq!(blast_radius(3, 1, "shop", "staging").score, 50.0);
        assert_eq!(blast_radius(2, 1, "default", "uat").score, 75.0);
        assert_eq!(blast_radius(2, 1, "default", "production").score, 100.0);
        assert_eq!(normalize_environment("Production"), "prod");
    }

    #[test]
    fn extended_score_counts_each_factor() {
        let mut i = Impact {
            workloads: 1,
            workload_replicas: 4,
            healthy_disrupted: 4,
            failing_replaced: 0,
            disrupted_at_once: 1,
            capacity_share: 0.25,
            services: vec!["Service/shop/a".into()],
            ingresses: vec!["Ingress/shop/a".into()],
            tier: "standard".into(),
            ..Impact::default()
        };
        // 10 + 20 + 7.5 + 3 + 5 = 45.5, x2 prod
        assert_eq!(extended_blast_radius(&i, "shop", "production").score, 91.0);
        assert_eq!(extended_blast_radius(&i, "shop", "dev").score, 45.5);
        i.pdbs.push(("a".into(), 0));
        let b = extended_blast_radius(&i, "shop", "dev");
        assert_eq!((b.score, b.breakdown["pdb_headroom_exceeded"]), (70.5, 25.0));
        assert!(b.notes.iter().any(|n| n.contains("exceeded")));
        assert_eq!(b.baseline, blast_radius(4, 1, "shop", "dev").score);
        i.tier = "critical".into();
        assert_eq!(extended_blast_radius(&i, "shop", "dev").score, 100.0);
    }

    #[test]
    fn label_selectors() {
        let l = BTreeMap::from([("app".to_string(), "a".to_string()), ("tier".to_string(), "web".to_string())]);
        assert!(label_selector_matches(&json!({"matchLabels": {"app": "a"}}), &l));
        assert!(!label_selector_matches(&json!({"matchLabels": {"app": "b"}}), &l));
        assert!(label_selector_matches(
            &json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["web"]}]}),
            &l
        ));
        assert!(!label_selector_matches(&json!({}), &l));
    }
}
