//! Causal correlation on the graph: symptoms fold into their root. A failing node explains
//! the failing pods on it; a Service without ready endpoints is explained by its pods' own
//! root cause; an application that cannot reach a dependency is explained by the dependency's
//! failure. Symptoms keep their place in the report, ranked below the root and marked
//! `symptom_of`.

use std::collections::{BTreeMap, BTreeSet};

use aiops_core::Cause;
use aiops_core::graph::{Direction, EdgeKind, NodeKind, node_id};
use aiops_core::model::{EvidenceKind, Hypothesis, ResourceRef, round_to};
use aiops_core::traits::AnalysisContext;

use crate::extract::{Signals, pods_on_node};

/// A symptom's score is multiplied by this.
pub const SYMPTOM_WEIGHT: f64 = 0.5;

/// Evidence kinds that mean a pod is failing.
pub const POD_FAILURES: &[EvidenceKind] = &[
    EvidenceKind::ContainerWaiting,
    EvidenceKind::ContainerTerminated,
    EvidenceKind::ContainerLastTerminated,
    EvidenceKind::PodNotReady,
    EvidenceKind::PodEvicted,
    EvidenceKind::PodUnschedulable,
];

/// Rules whose root explains the workloads it cites (callers, readers of a changed object).
const CHAIN_RULES: &[&str] = &[
    crate::rules::code::DEPENDENCY_RULE,
    crate::rules::code::CONFIG_CHANGE_RULE,
    crate::rules::code::NETWORK_POLICY_RULE,
];

/// Marks symptoms and lowers their score.
pub fn collapse(ctx: &AnalysisContext<'_>, signals: &Signals, hs: &mut [Hypothesis]) {
    let mut roots: BTreeMap<usize, ResourceRef> = BTreeMap::new();
    node_roots(ctx, signals, hs, &mut roots);
    dependency_roots(signals, hs, &mut roots);
    service_roots(ctx, signals, hs, &mut roots);
    // A root that is itself a symptom hands its symptoms on to its own root.
    let of_resource: BTreeMap<ResourceRef, ResourceRef> =
        roots.iter().filter_map(|(i, r)| Some((hs[*i].resource.clone()?, r.clone()))).collect();
    for root in roots.values_mut() {
        for _ in 0..4 {
            match of_resource.get(root) {
                Some(next) if next != root => *root = next.clone(),
                _ => break,
            }
        }
    }
    for (i, root) in roots {
        if hs[i].resource.as_ref() == Some(&root) {
            continue;
        }
        let h = &mut hs[i];
        h.score = round_to(h.score * SYMPTOM_WEIGHT, 4);
        h.explanation = format!("Symptom of {root}. {}", h.explanation);
        h.symptom_of = Some(root);
    }
}

fn is_root(h: &Hypothesis) -> bool {
    h.cause != Cause::Unknown
}

fn pod_ref(p: &k8s_openapi::api::core::v1::Pod) -> Option<ResourceRef> {
    Some(ResourceRef::namespaced("Pod", p.metadata.namespace.as_deref()?, p.metadata.name.as_deref()?))
}

/// Pods on a failed node: hypotheses about workloads whose cited pod evidence is mostly there.
fn node_roots(
    ctx: &AnalysisContext<'_>,
    signals: &Signals,
    hs: &[Hypothesis],
    roots: &mut BTreeMap<usize, ResourceRef>,
) {
    let evidence_resource: BTreeMap<&str, &ResourceRef> =
        signals.items.iter().map(|s| (s.evidence.id.as_str(), &s.evidence.resource)).collect();
    for node in hs.iter().filter(|h| h.cause == Cause::NodeFailure).filter_map(|h| h.resource.as_ref()) {
        if node.kind != "Node" {
            continue;
        }
        let on_node: BTreeSet<ResourceRef> = pods_on_node(ctx, &node.name).into_iter().filter_map(pod_ref).collect();
        for (i, h) in hs.iter().enumerate() {
            if h.resource.as_ref() == Some(node) || h.resource.as_ref().is_some_and(|r| r.kind == "Node") {
                continue;
            }
            let pods: Vec<&ResourceRef> = h
                .evidence
                .iter()
                .filter_map(|id| evidence_resource.get(id.as_str()).copied())
                .filter(|r| r.kind == "Pod")
                .collect();
            let there = pods.iter().filter(|p| on_node.contains(p)).count();
            if !pods.is_empty() && there * 2 >= pods.len() {
                roots.entry(i).or_insert_with(|| node.clone());
            }
        }
    }
}

/// Callers of a failed dependency: their hypotheses are symptoms of the dependency.
fn dependency_roots(signals: &Signals, hs: &[Hypothesis], roots: &mut BTreeMap<usize, ResourceRef>) {
    let subject_of: BTreeMap<&str, &ResourceRef> =
        signals.items.iter().map(|s| (s.evidence.id.as_str(), &s.subject)).collect();
    for dep in hs.iter().filter(|h| CHAIN_RULES.contains(&h.rule.as_str())) {
        let Some(target) = &dep.resource else { continue };
        let callers: BTreeSet<&ResourceRef> = dep
            .evidence
            .iter()
            .filter_map(|id| subject_of.get(id.as_str()).copied())
            .filter(|s| *s != target)
            .collect();
        for (i, h) in hs.iter().enumerate() {
            let caller = h.resource.as_ref().is_some_and(|r| callers.contains(r));
            if caller && h.rule != dep.rule {
                roots.entry(i).or_insert_with(|| target.clone());
            }
        }
    }
}

/// Services without ready endpoints whose pods have a root cause of their own.
fn service_roots(
    ctx: &AnalysisContext<'_>,
    signals: &Signals,
    hs: &[Hypothesis],
    roots: &mut BTreeMap<usize, ResourceRef>,
) {
    let subject_of: BTreeMap<&ResourceRef, &ResourceRef> =
        signals.items.iter().map(|s| (&s.evidence.resource, &s.subject)).collect();
    let evidence_subject: BTreeMap<&str, &ResourceRef> =
        signals.items.iter().map(|s| (s.evidence.id.as_str(), &s.subject)).collect();
    for (i, h) in hs.iter().enumerate() {
        let Some(svc) = h.resource.as_ref().filter(|r| r.kind == "Service" && h.cause == Cause::ServiceNoEndpoints)
        else {
            continue;
        };
        let pods = ctx.graph.neighbors(
            &node_id(NodeKind::Service, svc.namespace.as_deref(), &svc.name),
            EdgeKind::Selects,
            Direction::Outgoing,
        );
        let owners: BTreeSet<&ResourceRef> = pods
            .iter()
            .filter_map(|n| {
                subject_of
                    .get(&ResourceRef::namespaced("Pod", n.namespace.as_deref().unwrap_or_default(), &n.name))
                    .copied()
            })
            .collect();
        let root =
            hs.iter().find(|o| is_root(o) && o.resource.as_ref().is_some_and(|r| owners.contains(r) && r != svc));
        // Otherwise the pods' owners may be callers of a failed dependency (or of a config change).
        let chain = || {
            hs.iter().filter(|o| CHAIN_RULES.contains(&o.rule.as_str())).find(|o| {
                o.resource.as_ref() != Some(svc)
                    && o.evidence.iter().any(|id| evidence_subject.get(id.as_str()).is_some_and(|s| owners.contains(s)))
            })
        };
        if let Some(root) = root.or_else(chain).and_then(|r| r.resource.clone()) {
            roots.entry(i).or_insert(root);
        }
    }
}

/// True when the evidence kind means a pod is failing.
pub fn is_pod_failure(kind: EvidenceKind) -> bool {
    POD_FAILURES.contains(&kind)
}
