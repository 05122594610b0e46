//! `KubeExecutor` against the simulator (a local server speaking the Kubernetes API's JSON wire
//! format, with writes, `dryRun=All` and a request log): each action changes the simulated
//! cluster as `kubectl` would, a dry run changes nothing and reports the diff, a used
//! idempotency key never executes again, and the circuit breaker stops what it should.

mod common;

use std::sync::Arc;

use aiops_core::model::ActionType;
use aiops_core::traits::{Executor, FixedClock};
use aiops_remediate::executor::RESTARTED_AT;
use aiops_remediate::ledger::{EntryState, LedgerEntry};
use aiops_remediate::{CircuitBreaker, KubeExecutor, Ledger, RemediateError, RunMode};
use common::{action, bundle_json, client, sim, sim_of, writes};
use serde_json::{Value, json};

const LIVE: RunMode = RunMode { dry_run: false, automatic: false };
const DRY: RunMode = RunMode { dry_run: true, automatic: false };
const NODE: &str = "ip-10-0-1-23.eu-west-1.compute.internal";

fn rollback() -> aiops_core::model::RemediationAction {
    action(
        ActionType::RollbackDeployment,
        "Deployment/shop/checkout",
        &[("from_revision", json!(5)), ("to_revision", json!(4))],
    )
}

fn checkout_pods(s: &aiops_sim::SimHandle) -> Vec<Value> {
    s.objects("v1", "Pod").into_iter().filter(|p| p["metadata"]["labels"]["app"] == "checkout").collect()
}

#[tokio::test]
async fn rollback_restores_the_previous_template_like_kubectl_rollout_undo() {
    let s = sim("crashloop-bad-deploy").await;
    let ex = KubeExecutor::new(client(&s)).live(true);
    let previous = s.object("apps/v1", "ReplicaSet", "shop", "checkout-6c8f7d9b4").unwrap();
    let done = ex.run(&rollback(), LIVE).await.unwrap();
    assert!(done.outcome.success && !done.outcome.dry_run, "{done:?}");
    let w = writes(&s);
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(
        (w[0].method.as_str(), w[0].path.as_str()),
        ("PATCH", "/apis/apps/v1/namespaces/shop/deployments/checkout")
    );
    assert_eq!(done.calls[0].content_type, "application/json-patch+json");
    assert_eq!(done.calls[0].body[0]["path"], "/spec/template");
    let dep = s.object("apps/v1", "Deployment", "shop", "checkout").unwrap();
    let mut want = previous["spec"]["template"].clone();
    want["metadata"]["labels"].as_object_mut().unwrap().remove("pod-template-hash");
    assert_eq!(dep["spec"]["template"], want, "the previous template without pod-template-hash");
    assert_eq!(dep["spec"]["template"]["spec"]["containers"][0]["image"], "registry.example.com/shop/checkout:2.3.1");
    // The simulated controller rolled out: every checkout pod is Ready on the old image.
    let pods = checkout_pods(&s);
    assert!(!pods.is_empty());
    assert!(pods.iter().all(aiops_remediate::plan::pod_is_healthy), "{pods:#?}");
    assert!(
        done.diff.as_array().unwrap().iter().any(|op| op["path"].as_str().unwrap().contains("image")),
        "{}",
        done.diff
    );
}

#[tokio::test]
async fn dry_run_changes_nothing_and_reports_the_diff() {
    let s = sim("crashloop-bad-deploy").await;
    let rv = s.resource_version();
    let before = s.objects("apps/v1", "Deployment");
    // Not live: every run is a dry run, even when real execution is asked for.
    let ex = KubeExecutor::new(client(&s));
    for a in [
        rollback(),
        action(ActionType::RestartDeployment, "Deployment/shop/checkout", &[]),
        action(ActionType::ScaleReplicas, "Deployment/shop/catalog", &[("replicas", json!(3))]),
        action(ActionType::CordonNode, &format!("Node/{NODE}"), &[]),
        action(ActionType::DeletePod, "Pod/shop/checkout-7d9f8b6c5d-x2k4q", &[]),
    ] {
        let done = ex.run(&a, LIVE).await.unwrap();
        assert!(done.outcome.dry_run, "{a:?}");
        assert!(!done.diff.as_array().unwrap().is_empty(), "{a:?}: a diff is reported");
        assert!(done.calls[0].path.ends_with("dryRun=All"), "{:?}", done.calls);
    }
    assert_eq!(s.resource_version(), rv, "nothing was written");
    assert_eq!(s.objects("apps/v1", "Deployment"), before);
    assert!(ex.ledger().entries().is_empty(), "dry runs reserve no key");
    assert!(writes(&s).iter().all(|r| r.query.contains("dryRun=All")));
}

#[tokio::test]
async fn the_same_idempotency_key_executes_once() {
    let s = sim("crashloop-bad-deploy").await;
    let ex = KubeExecutor::new(client(&s)).live(true);
    let first = ex.run(&rollback(), LIVE).await.unwrap();
    let rv = s.resource_version();
    let second = ex.run(&rollback(), LIVE).await.unwrap();
    let third = ex.execute(&rollback(), false).await.unwrap();
    assert!(!first.replayed && second.replayed, "{second:?}");
    assert!(second.outcome.message.contains("not executed again"), "{}", third.message);
    assert_eq!(writes(&s).len(), 1, "one PATCH in the request log");
    assert_eq!(s.resource_version(), rv);
}

#[tokio::test]
async fn a_reserved_key_whose_attempt_never_finished_is_not_retried() {
    let dir = std::env::temp_dir().join(format!("aiops-ledger-{}", std::process::id()));
    let path = dir.with_extension("jsonl");
    let _ = std::fs::remove_file(&path);
    {
        // A previous process reserved the key, then died before recording the answer.
        let ledger = Ledger::with_file(&path).unwrap();
        ledger.reserve(LedgerEntry::reserve(&rollback(), false, "2026-03-01T10:50:00Z".parse().unwrap())).unwrap();
    }
    let s = sim("crashloop-bad-deploy").await;
    let ex = KubeExecutor::new(client(&s)).live(true).with_ledger(Ledger::with_file(&path).unwrap());
    let done = ex.run(&rollback(), LIVE).await.unwrap();
    assert!(done.replayed && !done.outcome.success, "{done:?}");
    assert!(done.outcome.message.contains("in doubt"));
    assert!(writes(&s).is_empty());
    let _ = std::fs::remove_file(&path);
}

#[tokio::test]
async fn restart_sets_the_restarted_at_template_annotation() {
    let s = sim("crashloop-bad-deploy").await;
    let now: jiff::Timestamp = "2026-03-01T10:50:00Z".parse().unwrap();
    let ex = KubeExecutor::new(client(&s)).live(true).with_clock(Arc::new(FixedClock(now)));
    ex.run(&action(ActionType::RestartDeployment, "Deployment/shop/catalog", &[]), LIVE).await.unwrap();
    let dep = s.object("apps/v1", "Deployment", "shop", "catalog").unwrap();
    assert_eq!(dep["spec"]["template"]["metadata"]["annotations"][RESTARTED_AT], "2026-03-01T10:50:00Z");
    let w = writes(&s);
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].path, "/apis/apps/v1/namespaces/shop/deployments/catalog");
}

#[tokio::test]
async fn scale_goes_through_the_scale_subresource() {
    let s = sim("crashloop-bad-deploy").await;
    let ex = KubeExecutor::new(client(&s)).live(true);
    ex.run(&action(ActionType::ScaleReplicas, "Deployment/shop/catalog", &[("replicas", json!(4))]), LIVE)
        .await
        .unwrap();
    assert_eq!(s.object("apps/v1", "Deployment", "shop", "catalog").unwrap()["spec"]["replicas"], 4);
    let w = writes(&s);
    assert_eq!(
        (w.len(), w[0].endpoint.as_str()),
        (1, "PATCH /apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale")
    );
    let pods = s.objects("v1", "Pod").into_iter().filter(|p| p["metadata"]["labels"]["app"] == "catalog").count();
    assert_eq!(pods, 4);
}

#[tokio::test]
async fn scale_is_refused_while_an_active_hpa_manages_the_workload() {
    let mut b = bundle_json("crashloop-bad-deploy");
    let hpa = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "catalog", "namespace": "shop"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "catalog"},
                 "minReplicas": 2, "maxReplicas": 6}});
    b["objects"].as_array_mut().unwrap().push(hpa.clone());
    let s = sim_of(&b).await;
    let ex = KubeExecutor::new(client(&s)).live(true);
    let scale = action(ActionType::ScaleReplicas, "Deployment/shop/catalog", &[("replicas", json!(4))]);
    let err = ex.run(&scale, LIVE).await.unwrap_err();
    assert!(
        matches!(&err, RemediateError::InvalidAction { message, .. } if message.contains("HorizontalPodAutoscaler catalog")),
        "{err}"
    );
    assert!(writes(&s).is_empty());
    assert!(ex.ledger().entries().is_empty(), "nothing was reserved");
    // An HPA that cannot scale (ScalingActive=False) does not fight a manual scale.
    let mut b = bundle_json("crashloop-bad-deploy");
    let mut idle = hpa;
    idle["status"] =
        json!({"conditions": [{"type": "ScalingActive", "status": "False", "reason": "FailedGetResourceMetric"}]});
    b["objects"].as_array_mut().unwrap().push(idle);
    let s = sim_of(&b).await;
    KubeExecutor::new(client(&s)).live(true).run(&scale, LIVE).await.unwrap();
    assert_eq!(s.object("apps/v1", "Deployment", "shop", "catalog").unwrap()["spec"]["replicas"], 4);
}

#[tokio::test]
async fn cordon_and_uncordon_set_spec_unschedulable() {
    let s = sim("crashloop-bad-deploy").await;
    let ex = KubeExecutor::new(client(&s)).live(true);
    let target = format!("Node/{NODE}");
    ex.run(&action(ActionType::CordonNode, &target, &[]), LIVE).await.unwrap();
    assert_eq!(s.object("v1", "Node", "", NODE).unwrap()["spec"]["unschedulable"], true);
    let again = ex.run(&action(ActionType::CordonNode, &target, &[]).with_key("inc-2"), LIVE).await.unwrap();
    assert!(again.outcome.message.contains("already cordoned") && again.calls.is_empty());
    ex.run(&action(ActionType::UncordonNode, &target, &[]), LIVE).await.unwrap();
    assert!(s.object("v1", "Node", "", NODE).unwrap()["spec"].get("unschedulable").is_none());
    assert_eq!(writes(&s).len(), 2);
}

#[tokio::test]
async fn only_the_failing_pod_is_deleted() {
    let s = sim("crashloop-bad-deploy").await;
    let ex = KubeExecutor::new(client(&s)).live(true);
    let healthy = action(ActionType::DeletePod, "Pod/shop/catalog-5f7c8d9b66-fwc4s", &[]);
    let err = ex.run(&healthy, LIVE).await.unwrap_err();
    assert!(err.to_string().contains("healthy pod is never deleted"), "{err}");
    assert!(writes(&s).is_empty());
    ex.run(&action(ActionType::RestartPod, "Pod/shop/checkout-7d9f8b6c5d-x2k4q", &[]), LIVE).await.unwrap();
    assert!(s.object("v1", "Pod", "shop", "checkout-7d9f8b6c5d-x2k4q").is_none());
    assert!(s.object("v1", "Pod", "shop", "catalog-5f7c8d9b66-fwc4s").is_some());
    let w = writes(&s);
    assert_eq!((w.len(), w[0].method.as_str()), (1, "DELETE"));
}

#[tokio::test]
async fn the_circuit_breaker_limits_actions_per_namespace_and_after_a_failed_verification() {
    let s = sim("crashloop-bad-deploy").await;
    let ex = KubeExecutor::new(client(&s)).live(true).with_breaker(CircuitBreaker { max_per_namespace_per_hour: 2 });
    let restart = |key: &str| action(ActionType::RestartDeployment, "Deployment/shop/catalog", &[]).with_key(key);
    ex.run(&restart("a"), LIVE).await.unwrap();
    ex.ledger().record_verification("a", false).unwrap();
    // The last remediation of the target failed verification: no automatic action...
    let auto = RunMode { dry_run: false, automatic: true };
    let err = ex.run(&restart("b"), auto).await.unwrap_err();
    assert!(matches!(&err, RemediateError::CircuitOpen(m) if m.contains("failed verification")), "{err}");
    // ...but a human-approved one may run; then the namespace's hourly budget (2) is spent.
    ex.run(&restart("c"), LIVE).await.unwrap();
    let err = ex.run(&rollback(), LIVE).await.unwrap_err();
    assert!(matches!(&err, RemediateError::CircuitOpen(m) if m.contains("namespace `shop`")), "{err}");
    assert_eq!(writes(&s).len(), 2);
    assert_eq!(ex.ledger().get("c").unwrap().state, EntryState::Succeeded);
}

trait WithKey {
    fn with_key(self, key: &str) -> Self;
}

impl WithKey for aiops_core::model::RemediationAction {
    fn with_key(mut self, key: &str) -> Self {
        self.idempotency_key = key.into();
        self
    }
}

#[tokio::test]
async fn dry_runs_do_not_count_against_the_breaker() {
    let s = sim("crashloop-bad-deploy").await;
    let ex = KubeExecutor::new(client(&s)).live(true).with_breaker(CircuitBreaker { max_per_namespace_per_hour: 1 });
    for _ in 0..3 {
        ex.run(&rollback(), DRY).await.unwrap();
    }
    ex.run(&rollback(), LIVE).await.unwrap();
    assert_eq!(writes(&s).len(), 4);
}
