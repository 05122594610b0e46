//! The verifier against the simulator (pods over the Kubernetes API wire format) and a local
//! server speaking the Prometheus HTTP API (`/api/v1/query`, vector answers) whose values the
//! test sets before and after the action; the wait runs on a manual clock.

mod common;

use std::sync::Arc;
use std::time::Duration;

use aiops_core::model::ActionType;
use aiops_core::traits::Clock;
use aiops_remediate::verify::{KubePods, ManualClock, PrometheusQuery, Verifier, queries};
use aiops_remediate::{KubeExecutor, RunMode};
use common::{ApiServer, action, api_server, client, sim};
use serde_json::{Value, json};

const LIVE: RunMode = RunMode { dry_run: false, automatic: false };

fn vector(v: &str) -> Value {
    json!({"status": "success", "data": {"resultType": "vector",
        "result": [{"metric": {}, "value": [1772625600.0, v]}]}})
}

/// Answers the three checks' queries with these values (`None`: an empty result).
fn metrics(server: &ApiServer, errors: Option<&str>, restarts: Option<&str>, latency: Option<&str>) {
    let empty = json!({"status": "success", "data": {"resultType": "vector", "result": []}});
    let a = |v: Option<&str>| v.map_or(empty.clone(), vector);
    server.answer(&[
        ("/api/v1/query", "status=~\"5..\"", 200, a(errors)),
        ("/api/v1/query", "kube_pod_container_status_restarts_total", 200, a(restarts)),
        ("/api/v1/query", "histogram_quantile", 200, a(latency)),
    ]);
}

fn verifier(s: &aiops_sim::SimHandle, prom: &ApiServer, clock: &ManualClock) -> Verifier {
    Verifier::new(Arc::new(KubePods::new(client(s))))
        .with_metrics(Arc::new(PrometheusQuery::new(&prom.url).unwrap()))
        .with_clock(Arc::new(clock.clone()), Arc::new(clock.clone()))
}

fn check<'a>(v: &'a aiops_remediate::verify::Verification, name: &str) -> &'a aiops_remediate::verify::Check {
    v.checks.iter().find(|c| c.name == name).unwrap()
}

#[test]
fn the_queries_are_the_originals() {
    let q = queries("shop", Some("checkout-"));
    assert_eq!(
        q["error_ratio"],
        "sum(rate(http_requests_total{namespace=\"shop\", pod=~\"checkout-.*\", status=~\"5..\"}[5m])) / sum(rate(http_requests_total{namespace=\"shop\", pod=~\"checkout-.*\"}[5m]))"
    );
    assert_eq!(
        q["restarts_rate"],
        "sum(increase(kube_pod_container_status_restarts_total{namespace=\"shop\", pod=~\"checkout-.*\"}[5m]))"
    );
    assert!(!queries("shop", None)["error_ratio"].contains("pod=~"), "no pod filter without a service");
}

#[tokio::test]
async fn a_rollback_that_helped_verifies_after_the_wait() {
    let s = sim("crashloop-bad-deploy").await;
    let prom = api_server(&[]).await;
    let clock = ManualClock::new("2026-03-04T12:00:00Z".parse().unwrap());
    let v = verifier(&s, &prom, &clock);
    let rollback = action(ActionType::RollbackDeployment, "Deployment/shop/checkout", &[]);
    metrics(&prom, Some("0.42"), Some("6"), Some("0.9"));
    let baseline = v.capture(&rollback).await.unwrap();
    assert_eq!(baseline.metrics["error_ratio"], Some(0.42));
    assert!(baseline.restarts.values().sum::<i64>() > 0, "{baseline:?}");
    KubeExecutor::new(client(&s)).live(true).run(&rollback, LIVE).await.unwrap();
    metrics(&prom, Some("0.01"), Some("0"), Some("0.2"));
    let out = v.verify(&rollback, &baseline).await.unwrap();
    assert!(out.success, "{out:#?}");
    assert_eq!(out.waited_secs, 120);
    assert_eq!(clock.now(), "2026-03-04T12:02:00Z".parse().unwrap(), "waited 2 minutes on the clock");
    assert_eq!(check(&out, "pods_ready").passed, Some(true));
    assert_eq!((check(&out, "error_ratio").before, check(&out, "error_ratio").after), (Some(0.42), Some(0.01)));
}

#[tokio::test]
async fn worse_errors_or_latency_fail_even_with_ready_pods() {
    let s = sim("crashloop-bad-deploy").await;
    let prom = api_server(&[]).await;
    let clock = ManualClock::new("2026-03-04T12:00:00Z".parse().unwrap());
    let v = verifier(&s, &prom, &clock).with_wait(Duration::from_secs(30));
    let rollback = action(ActionType::RollbackDeployment, "Deployment/shop/checkout", &[]);
    metrics(&prom, Some("0.05"), None, Some("0.2"));
    let baseline = v.capture(&rollback).await.unwrap();
    KubeExecutor::new(client(&s)).live(true).run(&rollback, LIVE).await.unwrap();
    metrics(&prom, Some("0.05"), None, Some("1.5"));
    let out = v.verify(&rollback, &baseline).await.unwrap();
    assert!(!out.success);
    assert_eq!(check(&out, "pods_ready").passed, Some(true));
    assert_eq!(check(&out, "latency_p99").passed, Some(false));
    assert_eq!(check(&out, "error_ratio").passed, Some(true), "equal is not worse");
    assert_eq!(check(&out, "restarts_rate").passed, None, "no data: skipped, not passed");
    assert_eq!(out.waited_secs, 30);
}

#[tokio::test]
async fn a_restart_that_did_not_cure_the_crash_loop_fails() {
    let s = sim("crashloop-bad-deploy").await;
    let prom = api_server(&[]).await;
    metrics(&prom, None, None, None);
    let clock = ManualClock::new("2026-03-04T12:00:00Z".parse().unwrap());
    let v = verifier(&s, &prom, &clock);
    let restart = action(ActionType::RestartDeployment, "Deployment/shop/checkout", &[]);
    let baseline = v.capture(&restart).await.unwrap();
    KubeExecutor::new(client(&s)).live(true).run(&restart, LIVE).await.unwrap();
    let out = v.verify(&restart, &baseline).await.unwrap();
    assert!(!out.success);
    let ready = check(&out, "pods_ready");
    assert_eq!(ready.passed, Some(false));
    assert!(ready.detail.contains("not ready"), "{}", ready.detail);
}

#[tokio::test]
async fn zero_pods_is_not_a_success() {
    let s = sim("crashloop-bad-deploy").await;
    let prom = api_server(&[]).await;
    metrics(&prom, None, None, None);
    let clock = ManualClock::new("2026-03-04T12:00:00Z".parse().unwrap());
    let v = verifier(&s, &prom, &clock);
    let scale = action(ActionType::ScaleReplicas, "Deployment/shop/catalog", &[("replicas", json!(0))]);
    let baseline = v.capture(&scale).await.unwrap();
    KubeExecutor::new(client(&s)).live(true).run(&scale, LIVE).await.unwrap();
    let out = v.verify(&scale, &baseline).await.unwrap();
    assert!(!out.success, "{out:#?}");
    assert!(check(&out, "pods_ready").detail.starts_with("0 pods"));
    assert_eq!(check(&out, "restarts_not_increasing").passed, Some(true));
}

#[tokio::test]
async fn a_cordon_verifies_on_the_node_state() {
    let s = sim("crashloop-bad-deploy").await;
    let prom = api_server(&[]).await;
    metrics(&prom, None, None, None);
    let clock = ManualClock::new("2026-03-04T12:00:00Z".parse().unwrap());
    let v = verifier(&s, &prom, &clock);
    let cordon = action(ActionType::CordonNode, "Node/ip-10-0-1-23.eu-west-1.compute.internal", &[]);
    let baseline = v.capture(&cordon).await.unwrap();
    let before = v.verify(&cordon, &baseline).await.unwrap();
    assert!(!before.success, "not cordoned yet: {before:?}");
    KubeExecutor::new(client(&s)).live(true).run(&cordon, LIVE).await.unwrap();
    let after = v.verify(&cordon, &baseline).await.unwrap();
    assert!(after.success, "{after:?}");
    assert_eq!(check(&after, "node_state").passed, Some(true));
}
