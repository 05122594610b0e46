//! Rules that need code: graph traversal or counting across subjects.

use std::collections::BTreeSet;

use aiops_core::cause::Cause;
use aiops_core::model::{ActionType, EvidenceKind, ResourceRef};

use super::{Finding, Rule, RuleContext};
use crate::extract::pods_on_node;

/// `(id, cause, what it checks)` of every code rule, for the catalogue.
pub const DESCRIPTIONS: &[(&str, Cause, &str)] = &[
    ("node_failure_isolated", Cause::NodeFailure, "an unhealthy node with two or more failing pods on it"),
    (
        DEPENDENCY_RULE,
        Cause::DependencyFailure,
        "logs name a Service (host:port, DNS name or cluster IP) whose pods fail or that has no ready endpoints",
    ),
];

/// Every code rule.
pub fn rules() -> Vec<Box<dyn Rule>> {
    vec![Box::new(NodeFailureIsolated), Box::new(DependencyDown)]
}

/// The original `node_failure_isolated`: an unhealthy node with two or more failing pods on it.
#[derive(Debug, Clone, Copy)]
pub struct NodeFailureIsolated;

const FAILING: &[EvidenceKind] = &[
    EvidenceKind::ContainerWaiting,
    EvidenceKind::ContainerTerminated,
    EvidenceKind::PodNotReady,
    EvidenceKind::PodEvicted,
];

impl Rule for NodeFailureIsolated {
    fn id(&self) -> &str {
        "node_failure_isolated"
    }

    fn evaluate(&self, ctx: &RuleContext<'_>) -> Vec<Finding> {
        let mut out = Vec::new();
        for (subject, signals) in ctx.signals.by_subject() {
            if subject.kind != "Node" || !signals.iter().any(|s| s.evidence.kind == EvidenceKind::NodeCondition) {
                continue;
            }
            let pods: BTreeSet<ResourceRef> = pods_on_node(ctx.analysis, &subject.name)
                .iter()
                .filter_map(|p| {
                    Some(ResourceRef::namespaced("Pod", p.metadata.namespace.as_deref()?, p.metadata.name.as_deref()?))
                })
                .collect();
            let failing: Vec<&str> = ctx
                .signals
                .items
                .iter()
                .filter(|s| FAILING.contains(&s.evidence.kind) && pods.contains(&s.evidence.resource))
                .map(|s| s.evidence.id.as_str())
                .collect();
            let failing_pods: BTreeSet<&ResourceRef> = ctx
                .signals
                .items
                .iter()
                .filter(|s| FAILING.contains(&s.evidence.kind) && pods.contains(&s.evidence.resource))
                .map(|s| &s.evidence.resource)
                .collect();
            if failing_pods.len() < 2 {
                continue;
            }
            let mut evidence: Vec<String> =
                signals.iter().map(|s| s.evidence.id.clone()).chain(failing.iter().map(|s| s.to_string())).collect();
            evidence.sort();
            evidence.dedup();
            out.push(Finding {
                rule: self.id().into(),
                cause: Cause::NodeFailure,
                category: Cause::NodeFailure.category(),
                title: "Node-Specific Issue".into(),
                description: format!(
                    "Node {} is unhealthy and {} pods on it are failing",
                    subject.name,
                    failing_pods.len()
                ),
                base_confidence: 0.85,
                strengths: vec![0.75, 0.8],
                resource: subject.clone(),
                evidence,
                contradicting: Vec::new(),
                actions: vec![ActionType::CordonNode],
                next_checks: vec![
                    "Migrate pods to healthy nodes".into(),
                    "Investigate node health".into(),
                    "Check node resource usage".into(),
                ],
            });
        }
        out
    }
}

/// The id of the dependency rule (the causal step folds callers into it).
pub const DEPENDENCY_RULE: &str = "dependency_down";

/// An application's logs name a Service (by name, DNS name or cluster IP) whose pods are
/// failing or that has no ready endpoints: the dependency is the root.
#[derive(Debug, Clone, Copy)]
pub struct DependencyDown;

/// Resolves a log target (`name`, `name.ns`, `name.ns.svc...`, or a cluster IP) to a Service.
pub fn resolve_service<'a>(
    ctx: &'a RuleContext<'_>,
    target: &str,
    caller_ns: &str,
) -> Option<&'a k8s_openapi::api::core::v1::Service> {
    let host =
        target.rsplit_once(':').map_or(target, |(h, p)| if p.chars().all(|c| c.is_ascii_digit()) { h } else { target });
    let mut parts = host.split('.');
    let name = parts.next()?;
    let ns = parts.next().filter(|n| *n != "svc").unwrap_or(caller_ns);
    ctx.analysis.inventory.services.iter().find(|s| {
        let m = &s.metadata;
        let by_name = m.name.as_deref() == Some(name) && m.namespace.as_deref().unwrap_or("default") == ns;
        let by_ip = s.spec.as_ref().and_then(|sp| sp.cluster_ip.as_deref()) == Some(host);
        by_name || by_ip
    })
}

impl Rule for DependencyDown {
    fn id(&self) -> &str {
        DEPENDENCY_RULE
    }

    fn evaluate(&self, ctx: &RuleContext<'_>) -> Vec<Finding> {
        let mut found: std::collections::BTreeMap<ResourceRef, Finding> = Default::default();
        for s in ctx.signals.items.iter().filter(|s| s.evidence.kind == EvidenceKind::LogSignal) {
            let caller_ns = s.evidence.resource.namespace.clone().unwrap_or_default();
            let targets = s.evidence.data.get("targets").and_then(|t| t.as_array()).cloned().unwrap_or_default();
            for t in targets.iter().filter_map(|t| t.as_str()) {
                let Some(svc) = resolve_service(ctx, t, &caller_ns) else { continue };
                let Some((root, failures)) = dependency_failures(ctx, svc) else { continue };
                if root == s.subject {
                    continue;
                }
                let f =
                    found.entry(root.clone()).or_insert_with(|| dependency_finding(self.id(), &root, svc, &failures));
                f.evidence.push(s.evidence.id.clone());
                f.evidence.sort();
                f.evidence.dedup();
            }
        }
        found.into_values().collect()
    }
}

fn dependency_finding(
    rule: &str,
    root: &ResourceRef,
    svc: &k8s_openapi::api::core::v1::Service,
    failures: &[String],
) -> Finding {
    let svc_name = format!(
        "{}/{}",
        svc.metadata.namespace.as_deref().unwrap_or("default"),
        svc.metadata.name.as_deref().unwrap_or_default()
    );
    Finding {
        rule: rule.into(),
        cause: Cause::DependencyFailure,
        category: Cause::DependencyFailure.category(),
        title: "Dependency Down".into(),
        description: format!("Callers cannot reach Service {svc_name}, whose backing workload {root} is failing"),
        base_confidence: 0.85,
        strengths: vec![0.85, 0.9],
        resource: root.clone(),
        evidence: failures.to_vec(),
        contradicting: Vec::new(),
        actions: vec![ActionType::EscalateToHuman],
        next_checks: vec![format!("Diagnose {root} first: its failure explains the callers' errors")],
    }
}

/// The root subject behind a Service and the ids of its failure evidence, if it is failing.
fn dependency_failures(
    ctx: &RuleContext<'_>,
    svc: &k8s_openapi::api::core::v1::Service,
) -> Option<(ResourceRef, Vec<String>)> {
    let ns = svc.metadata.namespace.as_deref().unwrap_or("default");
    let name = svc.metadata.name.as_deref()?;
    let svc_ref = ResourceRef::namespaced("Service", ns, name);
    let pods: BTreeSet<ResourceRef> = ctx
        .analysis
        .graph
        .neighbors(
            &aiops_core::graph::node_id(aiops_core::graph::NodeKind::Service, Some(ns), name),
            aiops_core::graph::EdgeKind::Selects,
            aiops_core::graph::Direction::Outgoing,
        )
        .iter()
        .map(|n| ResourceRef::namespaced("Pod", ns, &n.name))
        .collect();
    let failing: Vec<&crate::extract::Signal> = ctx
        .signals
        .items
        .iter()
        .filter(|s| {
            (crate::causal::is_pod_failure(s.evidence.kind) && pods.contains(&s.evidence.resource))
                || (s.evidence.kind == EvidenceKind::ServiceEndpoints && s.evidence.resource == svc_ref)
        })
        .collect();
    let root = failing.iter().find(|s| s.evidence.resource.kind == "Pod").map(|s| s.subject.clone()).unwrap_or(svc_ref);
    let ids: Vec<String> = failing.iter().take(10).map(|s| s.evidence.id.clone()).collect();
    (!ids.is_empty()).then_some((root, ids))
}
