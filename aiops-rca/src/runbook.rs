//! Runbook generation (`original-design.md` §7) with every command filled from the evidence:
//! real workload, pod, container, node and revision names; no placeholders.

use aiops_core::cause::{Category, Cause};
use aiops_core::model::{ActionType, Hypothesis, ResourceRef, Runbook, RunbookStep};
use aiops_core::traits::{AnalysisContext, Diagnosis, RunbookGenerator};

use crate::metrics::quantity;

/// The default runbook generator.
#[derive(Debug, Clone)]
pub struct DefaultRunbook {
    /// Grafana base URL for dashboard links.
    pub grafana_url: String,
}

impl Default for DefaultRunbook {
    fn default() -> Self {
        Self { grafana_url: "http://localhost:3000".into() }
    }
}

struct Targets {
    ns: String,
    workload: Option<ResourceRef>,
    pod: Option<String>,
    container: Option<String>,
    crashed: bool,
    node: Option<String>,
}

fn targets(ctx: &AnalysisContext<'_>, d: &Diagnosis, h: &Hypothesis) -> Targets {
    let cited: Vec<&aiops_core::Evidence> = d.evidence.iter().filter(|e| h.evidence.contains(&e.id)).collect();
    let pod_ev = cited.iter().find(|e| e.resource.kind == "Pod");
    let res = h.resource.clone();
    let ns = res
        .as_ref()
        .and_then(|r| r.namespace.clone())
        .or_else(|| pod_ev.and_then(|e| e.resource.namespace.clone()))
        .unwrap_or_else(|| {
            if ctx.incident.namespace.is_empty() { "default".into() } else { ctx.incident.namespace.clone() }
        });
    let node = res.as_ref().filter(|r| r.kind == "Node").map(|r| r.name.clone());
    Targets {
        workload: res.filter(|r| r.kind != "Node"),
        pod: pod_ev.map(|e| e.resource.name.clone()).or(ctx.incident.pod.clone()),
        container: pod_ev.and_then(|e| e.str("container")).map(|c| c.trim_end_matches("#previous").to_string()),
        crashed: cited
            .iter()
            .any(|e| e.str("reason") == Some("CrashLoopBackOff") || e.kind.as_str() == "container_last_terminated"),
        node,
        ns,
    }
}

fn kubectl_kind(kind: &str) -> String {
    kind.to_ascii_lowercase()
}

impl DefaultRunbook {
    fn action_step(&self, ctx: &AnalysisContext<'_>, t: &Targets, a: ActionType) -> Option<RunbookStep> {
        let ns = &t.ns;
        let w = t.workload.as_ref();
        let wk = w.map(|w| format!("{}/{}", kubectl_kind(&w.kind), w.name));
        let commands: Vec<String> = match a {
            ActionType::RestartPod | ActionType::DeletePod => {
                let pod = t.pod.as_ref()?;
                vec![format!("kubectl delete pod {pod} -n {ns}"), format!("kubectl get pods -n {ns} -w")]
            }
            ActionType::RestartDeployment => {
                let wk = wk?;
                vec![format!("kubectl rollout restart {wk} -n {ns}"), format!("kubectl rollout status {wk} -n {ns}")]
            }
            ActionType::RollbackDeployment => {
                let wk = wk.filter(|_| w.is_some_and(|w| w.kind == "Deployment"))?;
                vec![
                    format!("kubectl rollout history {wk} -n {ns}"),
                    format!("kubectl rollout undo {wk} -n {ns}"),
                    format!("kubectl rollout status {wk} -n {ns}"),
                ]
            }
            ActionType::ScaleReplicas => {
                let w = w.filter(|w| w.kind == "Deployment")?;
                let d = ctx.inventory.deployments.iter().find(|d| {
                    d.metadata.name.as_deref() == Some(&w.name) && d.metadata.namespace.as_deref() == Some(ns)
                })?;
                let current = d.spec.replicas.unwrap_or(1);
                vec![
                    format!("kubectl get deployment/{} -n {ns} -o wide", w.name),
                    format!("kubectl scale deployment/{} --replicas={} -n {ns}", w.name, current + 1),
                ]
            }
            ActionType::CordonNode | ActionType::DrainNode => {
                let node = t.node.as_ref()?;
                vec![
                    format!("kubectl cordon {node}"),
                    format!("kubectl get pods -A -o wide --field-selector spec.nodeName={node}"),
                ]
            }
            ActionType::UpdateResourceLimits => {
                let (wk, c) = (wk?, t.container.as_ref()?);
                let limit = memory_limit(ctx, t)?;
                vec![format!(
                    "kubectl set resources {wk} -n {ns} -c {c} --limits=memory={}Mi",
                    (limit * 2.0 / 1048576.0).ceil() as u64
                )]
            }
            _ => return None,
        };
        Some(RunbookStep { title: format!("Execute: {a}"), commands, ..Default::default() })
    }
}

fn memory_limit(ctx: &AnalysisContext<'_>, t: &Targets) -> Option<f64> {
    let pod =
        ctx.inventory.pods.iter().find(|p| {
            p.metadata.name.as_deref() == t.pod.as_deref() && p.metadata.namespace.as_deref() == Some(&t.ns)
        })?;
    let c = pod.spec.as_ref()?.containers.iter().find(|c| Some(&c.name) == t.container.as_ref())?;
    quantity(&c.resources.as_ref()?.limits.as_ref()?.get("memory")?.0)
}

/// The pod-name prefix that metrics of the hypothesis' subject carry: a workload's name (its pods
/// are named after it) or the pod; `None` for subjects without pods of their own (a ConfigMap,
/// a Service, an Ingress, ...), whose metrics step then covers the namespace.
fn pod_prefix(t: &Targets) -> Option<String> {
    const POD_NAMED: &[&str] = &["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod"];
    let workload = t.workload.as_ref().filter(|w| POD_NAMED.contains(&w.kind.as_str())).map(|w| w.name.clone());
    workload.or(t.pod.clone()).filter(|p| !p.is_empty())
}

fn promql(cause: Cause, ns: &str, prefix: Option<&str>) -> Vec<String> {
    let sel = match prefix {
        Some(prefix) => format!("namespace=\"{ns}\", pod=~\"{prefix}.*\""),
        None => format!("namespace=\"{ns}\""),
    };
    let mut q = vec![format!("increase(kube_pod_container_status_restarts_total{{{sel}}}[30m])")];
    match cause.category() {
        Category::ResourceExhaustion => {
            q.push(format!("max by (pod, container) (container_memory_working_set_bytes{{{sel}, container!=\"\"}}) / max by (pod, container) (kube_pod_container_resource_limits{{{sel}, resource=\"memory\"}})"));
            q.push(format!("sum(rate(container_cpu_cfs_throttled_periods_total{{{sel}}}[5m])) / sum(rate(container_cpu_cfs_periods_total{{{sel}}}[5m]))"));
        }
        Category::InfrastructureIssue => {
            q.push("kube_node_status_condition{condition=\"Ready\", status!=\"true\"} == 1".into());
            q.push(format!("kube_pod_status_phase{{namespace=\"{ns}\", phase=\"Pending\"}} == 1"));
        }
        Category::BadDeployment | Category::ConfigurationError => {
            q.push(format!("kube_pod_container_status_waiting_reason{{{sel}}} == 1"));
        }
        _ => {
            q.push(format!("sum(rate(http_requests_total{{namespace=\"{ns}\", status=~\"5..\"}}[5m])) / sum(rate(http_requests_total{{namespace=\"{ns}\"}}[5m]))"));
            q.push(format!("histogram_quantile(0.99, sum(rate(http_request_duration_seconds_bucket{{namespace=\"{ns}\"}}[5m])) by (le))"));
        }
    }
    q
}

impl RunbookGenerator for DefaultRunbook {
    fn generate(&self, ctx: &AnalysisContext<'_>, d: &Diagnosis) -> Runbook {
        let inc = ctx.incident;
        let Some(top) = d.hypotheses.first() else {
            return Runbook {
                title: format!("Runbook: {}", inc.title),
                summary: format!("Incident in {}", inc.namespace),
                steps: Vec::new(),
            };
        };
        let t = targets(ctx, d, top);
        let ns = t.ns.clone();
        let summary = format!(
            "**Incident**: {}\n**Severity**: {}\n**Namespace**: {ns}\n**Service**: {}\n**Top Hypothesis** (confidence: {:.0}%): {} [{}]\n{}",
            inc.title,
            inc.severity,
            inc.service.as_deref().unwrap_or("N/A"),
            top.confidence * 100.0,
            top.title,
            top.cause,
            top.explanation
        );
        let mut steps: Vec<RunbookStep> = top.actions.iter().filter_map(|a| self.action_step(ctx, &t, *a)).collect();
        let mut inspect = Vec::new();
        if let Some(w) = &t.workload {
            let scope = w.namespace.as_ref().map(|n| format!(" -n {n}")).unwrap_or_default();
            inspect.push(format!("kubectl describe {} {}{scope}", kubectl_kind(&w.kind), w.name));
        }
        if let Some(node) = &t.node {
            inspect.push(format!("kubectl describe node {node}"));
        }
        if let Some(pod) = &t.pod {
            let c = t.container.as_ref().map(|c| format!(" -c {c}")).unwrap_or_default();
            inspect.push(format!("kubectl describe pod {pod} -n {ns}"));
            inspect.push(format!("kubectl logs {pod} -n {ns}{c} --tail=100"));
            if t.crashed {
                inspect.push(format!("kubectl logs {pod} -n {ns}{c} --previous --tail=100"));
            }
        }
        steps.push(RunbookStep {
            title: "Inspect the affected objects and logs".into(),
            commands: inspect,
            ..Default::default()
        });
        let events = match &t.pod {
            Some(pod) => format!(
                "kubectl get events -n {ns} --field-selector involvedObject.name={pod} --sort-by=.lastTimestamp"
            ),
            None => format!("kubectl get events -n {ns} --sort-by=.lastTimestamp"),
        };
        let mut ev_cmds = vec![events];
        if top.category == Category::BadDeployment
            && let Some(w) = &t.workload
        {
            ev_cmds.push(format!("kubectl rollout history {}/{} -n {ns}", kubectl_kind(&w.kind), w.name));
        }
        steps.push(RunbookStep {
            title: "Review recent events and changes".into(),
            commands: ev_cmds,
            ..Default::default()
        });
        let prefix = pod_prefix(&t);
        steps.push(RunbookStep {
            title: "Check metrics".into(),
            promql: promql(top.cause, &ns, prefix.as_deref()),
            ..Default::default()
        });
        let g = self.grafana_url.trim_end_matches('/');
        let pod_var = prefix.map(|p| format!("&var-pod={p}")).unwrap_or_default();
        steps.push(RunbookStep {
            title: "Open dashboards".into(),
            links: vec![
                format!("{g}/d/kubernetes-overview?var-namespace={ns}"),
                format!("{g}/d/pod-resources?var-namespace={ns}{pod_var}"),
                format!("{g}/explore?orgId=1&left=%5B%22now-1h%22,%22now%22,%22Loki%22,%7B%22expr%22:%22%7Bnamespace%3D%5C%22{ns}%5C%22%7D%22%7D%5D"),
            ],
            ..Default::default()
        });
        for check in &top.next_checks {
            steps.push(RunbookStep { title: check.clone(), ..Default::default() });
        }
        Runbook { title: format!("Runbook: {}", inc.title), summary, steps }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(kind: &str, pod: Option<&str>) -> Targets {
        Targets {
            ns: "shop".into(),
            workload: Some(ResourceRef::namespaced(kind, "shop", "pricing")),
            pod: pod.map(str::to_string),
            container: None,
            crashed: false,
            node: None,
        }
    }

    #[test]
    fn metrics_name_pods_only_for_subjects_that_have_pods() {
        assert_eq!(pod_prefix(&targets("Deployment", None)).as_deref(), Some("pricing"));
        assert_eq!(pod_prefix(&targets("ConfigMap", Some("pricing-6f7d-x"))).as_deref(), Some("pricing-6f7d-x"));
        assert_eq!(pod_prefix(&targets("ConfigMap", None)), None);
        let q = promql(Cause::ConfigError, "shop", None);
        assert!(q.iter().all(|q| q.contains("{namespace=\"shop\"}") && !q.contains("pod=~")), "{q:?}");
        let q = promql(Cause::ConfigError, "shop", Some("pricing"));
        assert!(q.iter().all(|q| q.contains("pod=~\"pricing.*\"")), "{q:?}");
    }
}
