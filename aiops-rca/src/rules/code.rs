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
    (
        NETWORK_POLICY_RULE,
        Cause::NetworkIssue,
        "connections to a healthy Service time out or are refused and a NetworkPolicy selecting the caller (egress) or the Service's pods (ingress) allows no such traffic",
    ),
    (
        CONFIG_CHANGE_RULE,
        Cause::BadDeploy,
        "a ConfigMap or Secret changed within 60 min before the onset and pods of workloads that mount or reference it fail, with no newer rollout of those workloads",
    ),
];

/// Every code rule.
pub fn rules() -> Vec<Box<dyn Rule>> {
    vec![
        Box::new(NodeFailureIsolated),
        Box::new(DependencyDown),
        Box::new(NetworkPolicyBlocks),
        Box::new(ConfigChangeBreaks),
    ]
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

/// The id of the NetworkPolicy rule.
pub const NETWORK_POLICY_RULE: &str = "network_policy_blocks";

/// Callers fail to reach a Service whose pods are healthy, and a NetworkPolicy on the path
/// admits no such traffic: the policy is the root (stronger when it changed recently).
#[derive(Debug, Clone, Copy)]
pub struct NetworkPolicyBlocks;

type Labels = std::collections::BTreeMap<String, String>;

/// Whether a label selector matches a label set (`matchLabels` and `matchExpressions`).
pub fn selector_matches(sel: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector, labels: &Labels) -> bool {
    let by_labels = sel.match_labels.iter().flatten().all(|(k, v)| labels.get(k) == Some(v));
    let by_expr = sel.match_expressions.iter().flatten().all(|e| {
        let values = e.values.as_deref().unwrap_or_default();
        match e.operator.as_str() {
            "In" => labels.get(&e.key).is_some_and(|v| values.contains(v)),
            "NotIn" => labels.get(&e.key).is_none_or(|v| !values.contains(v)),
            "Exists" => labels.contains_key(&e.key),
            "DoesNotExist" => !labels.contains_key(&e.key),
            _ => false,
        }
    });
    by_labels && by_expr
}

fn pod_labels<'a>(ctx: &'a RuleContext<'_>, ns: &str, name: &str) -> Option<&'a Labels> {
    ctx.analysis
        .inventory
        .pods
        .iter()
        .find(|p| p.metadata.namespace.as_deref() == Some(ns) && p.metadata.name.as_deref() == Some(name))
        .and_then(|p| p.metadata.labels.as_ref())
}

fn namespace_labels(ctx: &RuleContext<'_>, ns: &str) -> Labels {
    let mut l: Labels = ctx
        .analysis
        .inventory
        .namespaces
        .iter()
        .find(|n| n.metadata.name.as_deref() == Some(ns))
        .and_then(|n| n.metadata.labels.clone())
        .unwrap_or_default();
    l.entry("kubernetes.io/metadata.name".into()).or_insert_with(|| ns.to_string());
    l
}

/// Whether one policy peer list admits a party `(namespace, labels)` seen from policy namespace `pns`.
fn peers_admit(
    ctx: &RuleContext<'_>,
    peers: Option<&Vec<k8s_openapi::api::networking::v1::NetworkPolicyPeer>>,
    pns: &str,
    party: (&str, &Labels),
) -> bool {
    let Some(peers) = peers.filter(|p| !p.is_empty()) else { return true };
    peers.iter().any(|peer| {
        if peer.ip_block.is_some() {
            return false;
        }
        let ns_ok = match &peer.namespace_selector {
            Some(sel) => selector_matches(sel, &namespace_labels(ctx, party.0)),
            None => party.0 == pns,
        };
        let pod_ok = peer.pod_selector.as_ref().is_none_or(|sel| selector_matches(sel, party.1));
        ns_ok && pod_ok
    })
}

/// The policies that select `pod` for `direction` and admit nothing from/to `other`.
fn blocking_policies<'a>(
    ctx: &'a RuleContext<'_>,
    pod: (&str, &Labels),
    other: (&str, &Labels),
    egress: bool,
) -> Vec<&'a k8s_openapi::api::networking::v1::NetworkPolicy> {
    let direction = if egress { "Egress" } else { "Ingress" };
    let selecting: Vec<&k8s_openapi::api::networking::v1::NetworkPolicy> = ctx
        .analysis
        .inventory
        .network_policies
        .iter()
        .filter(|np| np.metadata.namespace.as_deref().unwrap_or("default") == pod.0)
        .filter(|np| {
            np.spec.as_ref().is_some_and(|s| {
                let types = s.policy_types.clone().unwrap_or_else(|| {
                    if s.egress.is_some() { vec!["Ingress".into(), "Egress".into()] } else { vec!["Ingress".into()] }
                });
                types.iter().any(|t| t == direction)
                    && s.pod_selector.as_ref().is_none_or(|sel| selector_matches(sel, pod.1))
            })
        })
        .collect();
    let admitted = selecting.iter().any(|np| {
        let Some(s) = &np.spec else { return false };
        if egress {
            s.egress.iter().flatten().any(|r| peers_admit(ctx, r.to.as_ref(), pod.0, other))
        } else {
            s.ingress.iter().flatten().any(|r| peers_admit(ctx, r.from.as_ref(), pod.0, other))
        }
    });
    if admitted { Vec::new() } else { selecting }
}

impl Rule for NetworkPolicyBlocks {
    fn id(&self) -> &str {
        NETWORK_POLICY_RULE
    }

    fn evaluate(&self, ctx: &RuleContext<'_>) -> Vec<Finding> {
        let mut found: std::collections::BTreeMap<ResourceRef, Finding> = Default::default();
        let network = ctx.signals.items.iter().filter(|s| {
            s.evidence.kind == EvidenceKind::LogSignal
                && s.evidence.resource.kind == "Pod"
                && matches!(s.evidence.data.get("reason").and_then(|r| r.as_str()), Some("network" | "connection"))
        });
        for s in network {
            let caller_ns = s.evidence.resource.namespace.clone().unwrap_or_default();
            let Some(caller_labels) = pod_labels(ctx, &caller_ns, &s.evidence.resource.name) else { continue };
            let targets = s.evidence.data.get("targets").and_then(|t| t.as_array()).cloned().unwrap_or_default();
            for t in targets.iter().filter_map(|t| t.as_str()) {
                let Some(svc) = resolve_service(ctx, t, &caller_ns) else { continue };
                if dependency_failures(ctx, svc).is_some() {
                    continue;
                }
                let svc_ns = svc.metadata.namespace.as_deref().unwrap_or("default");
                let svc_name = svc.metadata.name.as_deref().unwrap_or_default();
                let target_pod = ctx
                    .analysis
                    .graph
                    .neighbors(
                        &aiops_core::graph::node_id(aiops_core::graph::NodeKind::Service, Some(svc_ns), svc_name),
                        aiops_core::graph::EdgeKind::Selects,
                        aiops_core::graph::Direction::Outgoing,
                    )
                    .first()
                    .map(|n| n.name.clone());
                let Some(target_labels) = target_pod.and_then(|p| pod_labels(ctx, svc_ns, &p)) else { continue };
                let mut policies = blocking_policies(ctx, (&caller_ns, caller_labels), (svc_ns, target_labels), true);
                policies.extend(blocking_policies(ctx, (svc_ns, target_labels), (&caller_ns, caller_labels), false));
                for np in policies {
                    let r = crate::extract::meta_ref("NetworkPolicy", &np.metadata);
                    let change = ctx
                        .signals
                        .items
                        .iter()
                        .find(|c| c.evidence.kind == EvidenceKind::ConfigChange && c.evidence.resource == r);
                    let f = found.entry(r.clone()).or_insert_with(|| Finding {
                        rule: NETWORK_POLICY_RULE.into(),
                        cause: Cause::NetworkIssue,
                        category: Cause::NetworkIssue.category(),
                        title: "NetworkPolicy Blocks Traffic".into(),
                        description: format!(
                            "NetworkPolicy {r} admits no traffic between {caller_ns}/{} and Service {svc_ns}/{svc_name}, whose pods are healthy",
                            s.subject.name
                        ),
                        base_confidence: 0.85,
                        strengths: vec![0.85, change.map_or(0.7, |c| c.evidence.strength)],
                        resource: r.clone(),
                        evidence: change.map(|c| c.evidence.id.clone()).into_iter().collect(),
                        contradicting: Vec::new(),
                        actions: vec![ActionType::EscalateToHuman],
                        next_checks: vec![
                            format!("kubectl describe networkpolicy {} -n {}", r.name, r.namespace.clone().unwrap_or_default()),
                            "Add an egress/ingress rule for the caller, or revert the policy change".into(),
                        ],
                    });
                    f.evidence.push(s.evidence.id.clone());
                    f.evidence.sort();
                    f.evidence.dedup();
                }
            }
        }
        found.into_values().collect()
    }
}

/// The id of the config-change rule.
pub const CONFIG_CHANGE_RULE: &str = "config_change_breaks_workloads";

/// How recent a ConfigMap/Secret change must be to explain failures.
const CONFIG_CHANGE_WINDOW_MIN: i64 = 60;

/// A ConfigMap or Secret edit just before the onset, and failing pods in the workloads that
/// mount or reference it: the change is the root of all of them (`bad_deploy` on the object).
#[derive(Debug, Clone, Copy)]
pub struct ConfigChangeBreaks;

impl Rule for ConfigChangeBreaks {
    fn id(&self) -> &str {
        CONFIG_CHANGE_RULE
    }

    fn evaluate(&self, ctx: &RuleContext<'_>) -> Vec<Finding> {
        use aiops_core::graph::{Direction, EdgeKind, NodeKind, node_id};
        let mut out = Vec::new();
        let changes = ctx.signals.items.iter().filter(|s| {
            s.evidence.kind == EvidenceKind::ConfigChange
                && matches!(s.evidence.resource.kind.as_str(), "ConfigMap" | "Secret")
                && s.evidence.data.get("change").and_then(|c| c.as_str()) == Some("changed")
                && s.evidence
                    .data
                    .get("minutes_before_onset")
                    .and_then(|m| m.as_i64())
                    .is_some_and(|m| (0..=CONFIG_CHANGE_WINDOW_MIN).contains(&m))
        });
        for change in changes {
            let r = &change.evidence.resource;
            let Some(changed_at) = change.evidence.observed_at else { continue };
            let kind = if r.kind == "ConfigMap" { NodeKind::ConfigMap } else { NodeKind::Secret };
            let id = node_id(kind, r.namespace.as_deref(), &r.name);
            let pods: BTreeSet<ResourceRef> = [EdgeKind::Mounts, EdgeKind::References]
                .into_iter()
                .flat_map(|e| ctx.analysis.graph.neighbors(&id, e, Direction::Incoming))
                .filter(|n| n.kind == NodeKind::Pod)
                .map(|n| ResourceRef::namespaced("Pod", n.namespace.as_deref().unwrap_or_default(), &n.name))
                .collect();
            let failing: Vec<&crate::extract::Signal> = ctx
                .signals
                .items
                .iter()
                .filter(|s| crate::causal::is_pod_failure(s.evidence.kind) && pods.contains(&s.evidence.resource))
                .filter(|s| s.evidence.observed_at.is_none_or(|t| t >= changed_at))
                .collect();
            let workloads: BTreeSet<&ResourceRef> = failing.iter().map(|s| &s.subject).collect();
            // A rollout after the edit is the better explanation of its own workload.
            let rolled_out_since = |w: &ResourceRef| {
                ctx.signals.items.iter().any(|s| {
                    s.evidence.kind == EvidenceKind::DeployChange
                        && &s.subject == w
                        && s.evidence.observed_at.is_some_and(|t| t > changed_at)
                })
            };
            let explained: Vec<&&ResourceRef> = workloads.iter().filter(|w| !rolled_out_since(w)).collect();
            if explained.is_empty() {
                continue;
            }
            let mut evidence: Vec<String> = std::iter::once(change.evidence.id.clone())
                .chain(
                    failing.iter().filter(|s| explained.contains(&&&s.subject)).take(10).map(|s| s.evidence.id.clone()),
                )
                .collect();
            evidence.sort();
            evidence.dedup();
            let names: Vec<String> = explained.iter().map(|w| w.to_string()).collect();
            out.push(Finding {
                rule: CONFIG_CHANGE_RULE.into(),
                cause: Cause::BadDeploy,
                category: Cause::BadDeploy.category(),
                title: "Config Change Broke Workloads".into(),
                description: format!(
                    "{r} changed at {changed_at} and the workloads using it now fail: {}",
                    names.join(", ")
                ),
                base_confidence: 0.85,
                strengths: vec![change.evidence.strength, 0.9, (0.8 + 0.05 * explained.len() as f64).min(0.95)],
                resource: r.clone(),
                evidence,
                contradicting: Vec::new(),
                actions: vec![ActionType::EscalateToHuman],
                next_checks: vec![
                    format!(
                        "Diff {r} against its previous content (kubectl get {} -o yaml, managedFields)",
                        r.kind.to_lowercase()
                    ),
                    "Revert the edit, then restart the workloads that read it".into(),
                ],
            });
        }
        out
    }
}
