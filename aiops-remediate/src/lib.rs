//! `aiops-remediate` remediates safely: it turns the top hypothesis into one concrete action on
//! a real target from the evidence, computes the action's blast radius, asks the Rego policy
//! gate, obtains an approval when the policy wants one, executes idempotently (dry-run by
//! default), verifies, closes or tickets, and appends every step to a hash-chained audit log.
//!
//! ```
//! use aiops_remediate::policy::{RegoPolicyGate, evaluate_policy};
//! let input = serde_json::json!({
//!     "action_type": "restart_pod", "environment": "development", "namespace": "shop",
//!     "blast_radius_score": 10, "affected_replicas": 1, "current_hour": 12,
//!     "is_weekend": false, "freeze_active": false,
//! });
//! let d = evaluate_policy(&input, None)?;
//! assert_eq!(d.decision, aiops_core::model::Decision::Allow);
//! assert_eq!(d.input["action_type"], "restart_pod");
//! # Ok::<(), aiops_remediate::RemediateError>(())
//! ```

pub mod audit;
pub mod error;
pub mod policy;

pub use error::{RemediateError, Result};
pub use policy::{DEFAULT_POLICY, PolicyInput, RegoPolicyGate, evaluate_policy};

use std::collections::BTreeMap;

use aiops_core::model::{ActionType, BlastRadius, RemediationAction, ResourceRef, round_to};
use aiops_core::traits::{AnalysisContext, Diagnosis, RemediationPlanner};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// Actions the executor can run; the rest are never proposed for automatic execution.
pub const EXECUTABLE: &[ActionType] = &[
    ActionType::RestartPod,
    ActionType::DeletePod,
    ActionType::RestartDeployment,
    ActionType::RollbackDeployment,
    ActionType::ScaleReplicas,
    ActionType::CordonNode,
    ActionType::UncordonNode,
];

/// Namespaces whose blast radius is multiplied by 1.5.
pub const CRITICAL_NAMESPACES: &[&str] = &["default", "platform", "core-services", "kube-system"];

/// The canonical environment name: `development` -> `dev`, `production` -> `prod`.
pub fn normalize_environment(env: &str) -> &'static str {
    match env.to_ascii_lowercase().as_str() {
        "dev" | "development" | "local" => "dev",
        "staging" | "stage" => "staging",
        "uat" => "uat",
        _ => "prod",
    }
}

/// The environment multiplier: dev 1, staging 2, uat 2.5, prod 5.
pub fn environment_multiplier(env: &str) -> f64 {
    match normalize_environment(env) {
        "dev" => 1.0,
        "staging" => 2.0,
        "uat" => 2.5,
        _ => 5.0,
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
    }
}

/// The default planner: the first executable action of the top hypothesis whose target exists.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultPlanner;

fn replicas_of(ctx: &AnalysisContext<'_>, r: &ResourceRef) -> usize {
    let same = |m: &ObjectMeta| m.name.as_deref() == Some(&r.name) && m.namespace == r.namespace;
    match r.kind.as_str() {
        "Deployment" => ctx.inventory.deployments.iter().find(|d| same(&d.metadata)).and_then(|d| d.spec.replicas),
        "StatefulSet" => ctx.inventory.stateful_sets.iter().find(|d| same(&d.metadata)).and_then(|d| d.spec.replicas),
        _ => Some(1),
    }
    .map(|n| n.max(1) as usize)
    .unwrap_or(1)
}

impl RemediationPlanner for DefaultPlanner {
    fn plan(&self, ctx: &AnalysisContext<'_>, d: &Diagnosis) -> Option<(RemediationAction, BlastRadius)> {
        let top = d.hypotheses.first()?;
        let resource = top.resource.clone()?;
        let pod = d
            .evidence
            .iter()
            .find(|e| top.evidence.contains(&e.id) && e.resource.kind == "Pod")
            .map(|e| e.resource.clone());
        let (action, target) = top.actions.iter().filter(|a| EXECUTABLE.contains(a)).find_map(|a| {
            let target = match a {
                ActionType::RestartPod | ActionType::DeletePod => pod.clone(),
                ActionType::CordonNode | ActionType::UncordonNode => {
                    Some(resource.clone()).filter(|r| r.kind == "Node")
                }
                _ => Some(resource.clone()).filter(|r| r.kind == "Deployment"),
            }?;
            Some((*a, target))
        })?;
        let pods = if target.kind == "Pod" { 1 } else { replicas_of(ctx, &target) };
        let ns = target.namespace.clone().unwrap_or_default();
        let blast = blast_radius(
            pods,
            usize::from(target.kind != "Node" && target.kind != "Pod"),
            &ns,
            ctx.environment.unwrap_or("prod"),
        );
        let key = format!("{}:{}:{}", ctx.incident.id, action, target);
        Some((RemediationAction { action, target, parameters: BTreeMap::new(), idempotency_key: key }, blast))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn original_examples_with_the_vocabulary_fixed() {
        assert_eq!(blast_radius(1, 1, "shop", "dev").score, 15.0);
        assert_eq!(blast_radius(1, 1, "shop", "development").score, 15.0);
        assert_eq!(blast_radius(3, 1, "shop", "staging").score, 50.0);
        assert_eq!(blast_radius(2, 1, "default", "uat").score, 75.0);
        assert_eq!(blast_radius(2, 1, "default", "production").score, 100.0);
        assert_eq!(normalize_environment("Production"), "prod");
    }
}
