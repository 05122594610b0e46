//! Action proposal and the extended blast radius over the example bundles: real targets from
//! the evidence, concrete parameters, the breakdown in the report, and the policy decision the
//! extended score leads to (a prod rollback of a crash-looping bad deploy needs approval).

use aiops_collectors::BundleCollector;
use aiops_core::model::{ActionType, Decision, RemediationAction};
use aiops_core::policy_input::PolicyInput;
use aiops_core::{AnalysisInput, Engine, Report};
use aiops_remediate::{DefaultPlanner, RegoPolicyGate, blast_radius};
use serde_json::json;

async fn report(bundle: &str, env: Option<&str>) -> Report {
    let path = format!("{}/../examples/bundles/{bundle}.json", env!("CARGO_MANIFEST_DIR"));
    Engine::builder()
        .collector(BundleCollector::from_path(path))
        .rules(aiops_rca::RulesEngine::builtin())
        .runbook(aiops_rca::DefaultRunbook::default())
        .planner(DefaultPlanner)
        .policy_gate(RegoPolicyGate::shipped())
        .build()
        .unwrap()
        .analyze(AnalysisInput { environment: env.map(str::to_string), ..Default::default() })
        .await
        .unwrap()
}

/// The policy decision for the report's proposal on a weekday at noon UTC.
fn decide_on_weekday(r: &Report, env: &str) -> aiops_core::model::PolicyDecision {
    let rem = r.remediation.as_ref().unwrap();
    let action = RemediationAction {
        action: rem.action,
        target: rem.target.clone(),
        parameters: rem.parameters.clone(),
        idempotency_key: rem.idempotency_key.clone(),
    };
    let now = "2026-03-04T12:00:00Z".parse().unwrap(); // a Wednesday
    let input = PolicyInput::new(&action, rem.blast.as_ref().unwrap(), env, now);
    RegoPolicyGate::shipped().decide(&input.to_value()).unwrap()
}

#[tokio::test]
async fn prod_rollback_of_a_bad_deploy_is_moderate_and_needs_approval() {
    let r = report("crashloop-bad-deploy", None).await;
    let rem = r.remediation.clone().unwrap();
    assert_eq!(rem.action, ActionType::RollbackDeployment);
    assert_eq!(rem.target.to_string(), "Deployment/shop/checkout");
    assert_eq!(rem.parameters["to_revision"], json!(4));
    assert_eq!(rem.parameters["from_revision"], json!(5));
    assert_eq!(rem.parameters["to_replica_set"], json!("checkout-6c8f7d9b4"));
    let blast = rem.blast.clone().unwrap();
    // 10 (workload) + 2 (two failing pods replaced) + 3 (Service/shop/checkout), x2 prod.
    assert_eq!(blast.score, 30.0, "{blast:?}");
    assert_eq!(blast.breakdown["failing_pods_replaced"], 2.0);
    assert_eq!(blast.breakdown["healthy_pods_disrupted"], 0.0);
    assert_eq!(blast.routes, vec!["Service/shop/checkout"]);
    // The original formula would have said 100 (deny); it is kept as the baseline.
    assert_eq!(blast.baseline, 100.0);
    assert_eq!(blast.baseline, blast_radius(2, 1, "shop", "prod").score);
    // The bundle was captured on a Sunday: the report's decision is the weekend freeze.
    assert_eq!(rem.decision, Decision::Deny);
    assert!(rem.reasons.iter().any(|r| r.contains("freeze")), "{:?}", rem.reasons);
    assert_eq!(rem.policy_input["blast_radius_score"], json!(30.0));
    let d = decide_on_weekday(&r, "prod");
    assert_eq!(d.decision, Decision::RequiresApproval, "{:?}", d.reasons);
    assert!(d.reasons.iter().any(|r| r.contains("rollback_deployment always requires approval")));
    // The same in dev is auto-approved.
    let dev = report("crashloop-bad-deploy", Some("dev")).await;
    assert_eq!(decide_on_weekday(&dev, "dev").decision, Decision::Allow);
}

#[tokio::test]
async fn every_example_gets_a_real_target_and_parameters() {
    let cases = [
        ("image-pull", ActionType::RollbackDeployment, "Deployment/payments/api", "to_revision"),
        ("missing-configmap", ActionType::RollbackDeployment, "Deployment/billing/invoicer", "to_revision"),
        ("node-not-ready", ActionType::CordonNode, "Node/ip-10-0-3-17.eu-west-1.compute.internal", "node"),
        ("oom-killed", ActionType::RestartDeployment, "Deployment/shop/cart", "deployment"),
        ("pending-insufficient-cpu", ActionType::ScaleReplicas, "Deployment/analytics/spark-worker", "replicas"),
    ];
    for (bundle, action, target, param) in cases {
        let r = report(bundle, None).await;
        let rem = r.remediation.clone().unwrap();
        assert_eq!((rem.action, rem.target.to_string()), (action, target.to_string()), "{bundle}");
        assert!(rem.parameters.contains_key(param), "{bundle}: {:?}", rem.parameters);
        let blast = rem.blast.unwrap();
        assert!(blast.score <= 100.0 && blast.baseline >= blast.score, "{bundle}: {blast:?}");
        assert!(!blast.notes.is_empty());
    }
    let scale = report("pending-insufficient-cpu", None).await.remediation.unwrap();
    assert_eq!((scale.parameters["from_replicas"].clone(), scale.parameters["replicas"].clone()), (json!(6), json!(7)));
    // OOM: the first action (update_resource_limits) is high risk and never proposed.
    assert!(aiops_remediate::is_high_risk(ActionType::UpdateResourceLimits));
    assert!(aiops_remediate::is_high_risk(ActionType::DrainNode));
    assert!(!aiops_remediate::is_high_risk(ActionType::RollbackDeployment));
}
