//! The documented dynamics (crate `dynamics` module): restarts and deletes recreate pods, a
//! rollback or template fix makes pods Ready, scaling changes the pod count, cordon, scheduling.

mod common;

use common::{get, names, send, sim, sim_json};
use serde_json::Value;

const SMP: &str = "application/strategic-merge-patch+json";
const MERGE: &str = "application/merge-patch+json";
const CHECKOUT: &str = "/apis/apps/v1/namespaces/shop/deployments/checkout";

async fn pods(s: &aiops_sim::SimHandle, selector: &str) -> Vec<Value> {
    let (_, list) = get(s, &format!("/api/v1/namespaces/shop/pods?labelSelector={selector}")).await;
    list["items"].as_array().unwrap().clone()
}

fn ready(p: &Value) -> bool {
    p["status"]["conditions"]
        .as_array()
        .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

fn restarts(p: &Value) -> i64 {
    p["status"]["containerStatuses"].as_array().unwrap().iter().map(|c| c["restartCount"].as_i64().unwrap()).sum()
}

#[tokio::test]
async fn a_restart_recreates_pods_but_does_not_cure_a_crash_loop() {
    let s = sim("crashloop-bad-deploy.json").await;
    let old: Vec<String> =
        pods(&s, "app%3Dcheckout").await.iter().map(|p| p["metadata"]["name"].as_str().unwrap().to_string()).collect();
    let patch = r#"{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"2026-03-01T10:50:00Z"}}}}}"#;
    let (code, _) = send(&s, "PATCH", CHECKOUT, SMP, patch).await;
    assert_eq!(code, 200);
    let new = pods(&s, "app%3Dcheckout").await;
    assert_eq!(new.len(), 3, "spec.replicas pods of the new ReplicaSet, old ones gone");
    assert!(new.iter().all(|p| !old.contains(&p["metadata"]["name"].as_str().unwrap().to_string())));
    assert!(new.iter().all(|p| !ready(p)), "same spec: the crash recurs");
    assert!(new.iter().all(|p| restarts(p) <= 1), "fresh restart counts");
    assert!(
        new.iter().all(|p| p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "CrashLoopBackOff")
    );
    let name = new[0]["metadata"]["name"].as_str().unwrap();
    let (code, logs) =
        common::get_raw(&s, &format!("/api/v1/namespaces/shop/pods/{name}/log?previous=true"), "*/*").await;
    assert_eq!(code, 200);
    assert!(logs.contains("panic"), "the failing pod's logs recur too");
    let (_, d) = get(&s, CHECKOUT).await;
    assert_eq!((d["status"]["readyReplicas"].as_i64(), d["status"]["updatedReplicas"].as_i64()), (Some(0), Some(3)));
    assert_eq!(d["status"]["observedGeneration"], d["metadata"]["generation"]);
}

#[tokio::test]
async fn a_rollback_to_the_healthy_template_makes_pods_ready() {
    let s = sim("crashloop-bad-deploy.json").await;
    let healthy = s.object("apps/v1", "ReplicaSet", "shop", "checkout-6c8f7d9b4").unwrap();
    let mut template = healthy["spec"]["template"].clone();
    template["metadata"]["labels"].as_object_mut().unwrap().remove("pod-template-hash");
    let patch = serde_json::json!([{"op": "replace", "path": "/spec/template", "value": template}]).to_string();
    let (code, _) = send(&s, "PATCH", CHECKOUT, "application/json-patch+json", &patch).await;
    assert_eq!(code, 200);
    let new = pods(&s, "app%3Dcheckout").await;
    assert_eq!(new.len(), 3);
    assert!(new.iter().all(|p| ready(p) && restarts(p) == 0), "{new:?}");
    assert!(
        new.iter().all(|p| p["metadata"]["name"].as_str().unwrap().starts_with("checkout-6c8f7d9b4-")),
        "the old ReplicaSet is reused"
    );
    let rs = s.object("apps/v1", "ReplicaSet", "shop", "checkout-6c8f7d9b4").unwrap();
    assert_eq!(rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "6");
    assert_eq!(rs["status"]["readyReplicas"], 3);
    assert_eq!(s.object("apps/v1", "ReplicaSet", "shop", "checkout-7d9f8b6c5d").unwrap()["spec"]["replicas"], 0);
    let (_, d) = get(&s, CHECKOUT).await;
    assert_eq!(d["status"]["readyReplicas"], 3);
    assert_eq!(d["status"]["conditions"][0]["status"], "True");
}

#[tokio::test]
async fn an_image_change_removes_the_failure() {
    let s = sim("crashloop-bad-deploy.json").await;
    let patch = r#"{"spec":{"template":{"spec":{"containers":[{"name":"checkout","image":"registry.example.com/shop/checkout:2.4.1"}]}}}}"#;
    send(&s, "PATCH", CHECKOUT, SMP, patch).await;
    let new = pods(&s, "app%3Dcheckout").await;
    assert_eq!(new.len(), 3);
    assert!(new.iter().all(|p| ready(p) && restarts(p) == 0));
}

#[tokio::test]
async fn deleting_a_pod_recreates_it_and_scaling_changes_the_count() {
    let s = sim("crashloop-bad-deploy.json").await;
    let (code, deleted) =
        send(&s, "DELETE", "/api/v1/namespaces/shop/pods/catalog-5f7c8d9b66-fwc4s", "application/json", "").await;
    assert_eq!((code, deleted["metadata"]["name"].as_str()), (200, Some("catalog-5f7c8d9b66-fwc4s")));
    let now: Vec<String> =
        pods(&s, "app%3Dcatalog").await.iter().map(|p| p["metadata"]["name"].as_str().unwrap().to_string()).collect();
    assert_eq!(now.len(), 2);
    assert!(!now.contains(&"catalog-5f7c8d9b66-fwc4s".to_string()));
    assert!(now.iter().all(|n| n.starts_with("catalog-5f7c8d9b66-")));
    let (code, _) = get(&s, "/api/v1/namespaces/shop/pods/catalog-5f7c8d9b66-fwc4s").await;
    assert_eq!(code, 404);
    for (n, expect) in [(5, 5), (1, 1)] {
        let (code, _) = send(
            &s,
            "PATCH",
            "/apis/apps/v1/namespaces/shop/deployments/catalog/scale",
            MERGE,
            &format!(r#"{{"spec":{{"replicas":{n}}}}}"#),
        )
        .await;
        assert_eq!(code, 200);
        let p = pods(&s, "app%3Dcatalog").await;
        assert_eq!(p.len(), expect);
        assert!(p.iter().all(ready));
        let (_, d) = get(&s, "/apis/apps/v1/namespaces/shop/deployments/catalog").await;
        assert_eq!(
            (d["spec"]["replicas"].as_i64(), d["status"]["readyReplicas"].as_u64()),
            (Some(n), Some(expect as u64))
        );
    }
}

#[tokio::test]
async fn cordoned_and_full_nodes_get_no_new_pods() {
    let s = sim_json(r#"{"capturedAt":"2026-03-01T10:00:00Z","objects":[
      {"apiVersion":"v1","kind":"Node","metadata":{"name":"n1"},"status":{"allocatable":{"cpu":"2","memory":"4Gi"},"conditions":[{"type":"Ready","status":"True"}]}},
      {"apiVersion":"v1","kind":"Node","metadata":{"name":"n2"},"status":{"allocatable":{"cpu":"2","memory":"4Gi"},"conditions":[{"type":"Ready","status":"True"}]}},
      {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"w","namespace":"shop","generation":1},
       "spec":{"replicas":1,"selector":{"matchLabels":{"app":"w"}},"template":{"metadata":{"labels":{"app":"w"}},
         "spec":{"containers":[{"name":"w","image":"w:1","resources":{"requests":{"cpu":"1500m"}}}]}}}}]}"#)
    .await;
    let (_, n1) = send(&s, "PATCH", "/api/v1/nodes/n1", SMP, r#"{"spec":{"unschedulable":true}}"#).await;
    assert_eq!(n1["spec"]["unschedulable"], true);
    let (code, _) =
        send(&s, "PATCH", "/apis/apps/v1/namespaces/shop/deployments/w", MERGE, r#"{"spec":{"replicas":2}}"#).await;
    assert_eq!(code, 200);
    let p = pods(&s, "app%3Dw").await;
    assert_eq!(p.len(), 2);
    let placed: Vec<&str> = p.iter().filter_map(|p| p["spec"]["nodeName"].as_str()).collect();
    assert_eq!(placed, ["n2"], "one fits on n2, none on the cordoned n1");
    let pending = p.iter().find(|p| p["status"]["phase"] == "Pending").unwrap();
    let msg = pending["status"]["conditions"][0]["message"].as_str().unwrap();
    assert!(msg.contains("1 Insufficient cpu") && msg.contains("1 node(s) were unschedulable"), "{msg}");
    let (_, table) = common::get_raw(&s, "/api/v1/nodes", "application/json;as=Table;v=v1;g=meta.k8s.io").await;
    assert!(table.contains("Ready,SchedulingDisabled"));
}

#[tokio::test]
async fn missing_config_and_bad_images_keep_new_pods_failing() {
    let s = sim("missing-configmap.json").await;
    let (_, list) = get(&s, "/apis/apps/v1/namespaces/billing/deployments").await;
    assert!(names(&list).contains(&"invoicer".to_string()));
    let patch = r#"{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"now"}}}}}"#;
    send(&s, "PATCH", "/apis/apps/v1/namespaces/billing/deployments/invoicer", SMP, patch).await;
    let (_, pods) = get(&s, "/api/v1/namespaces/billing/pods?labelSelector=app%3Dinvoicer").await;
    let items = pods["items"].as_array().unwrap();
    assert!(!items.is_empty());
    for p in items {
        let w = &p["status"]["containerStatuses"][0]["state"]["waiting"];
        assert_eq!(w["reason"], "CreateContainerConfigError", "{p}");
        assert!(w["message"].as_str().unwrap().contains("not found"));
    }
    let s = sim("image-pull.json").await;
    let patch = r#"{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"now"}}}}}"#;
    send(&s, "PATCH", "/apis/apps/v1/namespaces/payments/deployments/api", SMP, patch).await;
    let (_, pods) = get(&s, "/api/v1/namespaces/payments/pods?labelSelector=app%3Dapi").await;
    let items = pods["items"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(
        items.iter().all(|p| p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ImagePullBackOff"),
        "{items:?}"
    );
}
