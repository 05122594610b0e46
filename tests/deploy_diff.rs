//! The deploy-diff collector against the embedded simulated cluster (`aiops-sim` speaks the
//! real Kubernetes wire format on loopback; no API server can run here): rollout history,
//! the pod-template diff, ConfigMap/Secret write times from managedFields, one LIST per kind,
//! Secrets as metadata only, and a partial report that keeps the change when the Kubernetes
//! collector fails.

mod common;

use std::time::Duration;

use aiops::collectors::kubernetes::{ClusterSource, KubernetesCollector};
use aiops::collectors::{DeployDiffCollector, WithTimeout};
use aiops::core::IncidentBundle;
use aiops::core::model::EvidenceKind;
use aiops::core::traits::{CollectRequest, Collector};
use aiops_sim::Simulator;
use serde_json::{Value, json};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

/// The bad-deploy example, with its ConfigMap edited ten minutes before the onset and a
/// Secret (with data) created seven minutes before it.
fn bundle() -> IncidentBundle {
    let path = common::root().join("examples/bundles/crashloop-bad-deploy.json");
    let mut v: Value = serde_json::from_slice(&std::fs::read(path).expect("read")).expect("json");
    let objects = v["objects"].as_array_mut().expect("objects");
    for o in objects.iter_mut().filter(|o| o["kind"] == "ConfigMap") {
        o["metadata"]["managedFields"] = json!([
            {"manager": "helm", "operation": "Update", "time": "2025-11-18T09:02:10Z"},
            {"manager": "kubectl-edit", "operation": "Update", "time": "2026-03-01T10:28:00Z"}
        ]);
    }
    objects.push(json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": "checkout-db", "namespace": "shop", "creationTimestamp": "2026-03-01T10:31:00Z"},
        "data": {"password": "aHVudGVyMg=="}}));
    aiops::core::parse_bundle(&serde_json::to_vec(&v).expect("bytes")).expect("bundle")
}

fn request(bundle: &IncidentBundle) -> CollectRequest {
    let input = aiops::live::input_for(bundle);
    CollectRequest { alert: input.alert, now: input.now, ..Default::default() }
}

#[test]
fn a_deploy_diff_reads_rollouts_and_config_writes_with_one_list_per_kind() {
    let rt = runtime();
    let bundle = bundle();
    let sim = rt.block_on(Simulator::from_bundle(&bundle).spawn()).expect("sim");
    let diff = rt.block_on(DeployDiffCollector::connect(ClusterSource::Url(sim.url()))).expect("client");
    let request = request(&bundle);
    assert_eq!(DeployDiffCollector::scope(&request), ["shop"], "scoped to the alert's namespace");
    let (_, history) = rt.block_on(diff.history(&request)).expect("history");

    let names: Vec<&str> = history.rollouts.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["checkout"], "catalog's last rollout is weeks old, outside the window");
    let r = &history.rollouts[0];
    assert_eq!((r.revision, r.previous_revision), (5, Some(4)));
    assert_eq!(r.revision_object.as_deref(), Some("checkout-7d9f8b6c5d"));
    assert_eq!(r.previous_revision_object.as_deref(), Some("checkout-6c8f7d9b4"));
    assert!(r.diff.iter().any(|d| d.contains("image") || d.contains("env")), "{:?}", r.diff);
    let changes: Vec<(&str, &str, bool, Option<&str>)> = history
        .config_changes
        .iter()
        .map(|c| (c.kind.as_str(), c.name.as_str(), c.created, c.manager.as_deref()))
        .collect();
    assert_eq!(
        changes,
        [("Secret", "checkout-db", true, None), ("ConfigMap", "checkout-config", false, Some("kubectl-edit"))]
    );

    let requests = sim.requests();
    assert_eq!(requests.len(), 7, "one LIST per kind: {requests:#?}");
    for r in &requests {
        assert_eq!(r.method, "GET");
        assert!(r.path.contains("/namespaces/shop/"), "scoped: {r:?}");
        assert!(!r.query.contains("watch"), "{r:?}");
        let is_secret = r.path.ends_with("/secrets");
        assert_eq!(is_secret, r.accept.contains("as=PartialObjectMetadataList"), "{r:?}");
    }

    // What it hands the Engine: only the objects the changes involve, Secrets without data.
    let obs = rt.block_on(diff.collect(&request)).expect("collect");
    let inv = &obs.inventory;
    let rs: Vec<_> = inv.replica_sets.iter().filter_map(|r| r.metadata.name.as_deref()).collect();
    assert_eq!(rs.len(), 2, "current and previous revision: {rs:?}");
    assert!(inv.deployments.iter().all(|d| d.metadata.name.as_deref() == Some("checkout")));
    assert!(inv.pods.is_empty() && inv.events.is_empty());
    let secret = serde_json::to_string(&inv.secrets).expect("json");
    assert!(secret.contains("checkout-db") && !secret.contains("aHVudGVyMg"), "{secret}");
}

#[test]
fn a_cluster_scan_has_no_deploy_diff_scope_and_reads_nothing() {
    let rt = runtime();
    let sim = rt.block_on(Simulator::from_bundle(&bundle()).spawn()).expect("sim");
    let diff = rt.block_on(DeployDiffCollector::connect(ClusterSource::Url(sim.url()))).expect("client");
    let obs = rt.block_on(diff.collect(&CollectRequest::default())).expect("collect");
    assert!(obs.inventory.is_empty());
    assert_eq!(sim.stats().total, 0);
}

#[test]
fn when_the_kubernetes_collector_times_out_the_partial_report_still_has_the_rollout() {
    let rt = runtime();
    let bundle = bundle();
    let sim = rt.block_on(Simulator::from_bundle(&bundle).spawn()).expect("sim");
    // A Kubernetes API that accepts connections and never answers.
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
    let hung = format!("http://{}", listener.local_addr().expect("addr"));
    let _task = rt.spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    let report = rt.block_on(async {
        let kube = KubernetesCollector::connect(ClusterSource::Url(hung)).await.expect("client");
        let diff = DeployDiffCollector::connect(ClusterSource::Url(sim.url())).await.expect("client");
        aiops::default_engine()
            .collector(WithTimeout::new(kube, Duration::from_millis(500)))
            .collector(diff)
            .build()
            .expect("engine")
            .analyze(aiops::live::input_for(&bundle))
            .await
            .expect("a report despite the failure")
    });
    assert!(report.partial);
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    assert_eq!(report.errors[0].collector, "kubernetes");
    assert!(report.errors[0].error.contains("timed out"), "{}", report.errors[0].error);
    let runs: Vec<(&str, bool)> = report.collectors.iter().map(|r| (r.collector.as_str(), r.ok)).collect();
    assert_eq!(runs, [("kubernetes", false), ("deploy_diff", true)]);
    let rollout = report.evidence.iter().find(|e| e.kind == EvidenceKind::DeployChange);
    let rollout = rollout.expect("the deploy diff's rollout is still evidence");
    assert_eq!(rollout.resource.to_string(), "Deployment/shop/checkout");
}
