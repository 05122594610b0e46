//! Rules that need code: graph traversal or counting across subjects.

use std::collections::BTreeSet;

use aiops_core::cause::Cause;
use aiops_core::model::{ActionType, EvidenceKind, ResourceRef};

use super::{Finding, Rule, RuleContext};
use crate::extract::pods_on_node;

/// `(id, cause, what it checks)` of every code rule, for the catalogue.
pub const DESCRIPTIONS: &[(&str, Cause, &str)] =
    &[("node_failure_isolated", Cause::NodeFailure, "an unhealthy node with two or more failing pods on it")];

/// Every code rule.
pub fn rules() -> Vec<Box<dyn Rule>> {
    vec![Box::new(NodeFailureIsolated)]
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
