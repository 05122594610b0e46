//! `aiops analyze` on live sources, run as a process against the embedded simulated cluster
//! (`aiops-sim` serves a bundle over the real Kubernetes, Prometheus and Loki wire formats on
//! loopback; no API server can run here): the same report as `analyze --bundle`, cluster
//! scans, namespace and label scoping, per-collector failures.

mod common;

use aiops_sim::{SimHandle, Simulator};
use serde_json::Value;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

fn serve(rt: &tokio::runtime::Runtime, bundle_json: &[u8]) -> SimHandle {
    let bundle = aiops::core::parse_bundle(bundle_json).expect("bundle");
    rt.block_on(Simulator::from_bundle(&bundle).spawn()).expect("sim")
}

fn json_out(args: &[&str]) -> Value {
    let out = common::aiops(args);
    assert!(out.status.success(), "aiops {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("one JSON report")
}

/// `cause resource` of every hypothesis, in rank order.
fn ranked(report: &Value) -> Vec<String> {
    report["hypotheses"]
        .as_array()
        .expect("hypotheses")
        .iter()
        .map(|h| format!("{} {}", h["cause"].as_str().unwrap_or(""), h["resource"].as_str().unwrap_or("")))
        .collect()
}

#[test]
fn live_analyze_with_an_alert_file_equals_the_bundle_analysis() {
    let rt = runtime();
    let path = common::root().join("examples/bundles/crashloop-bad-deploy.json");
    let raw = std::fs::read(&path).unwrap();
    let sim = serve(&rt, &raw);
    let alert = common::temp_file("live-alert.json", common::read_json(&path)["alert"].to_string().as_bytes());
    let url = sim.url();
    let live = json_out(&[
        "analyze",
        "--kube-url",
        &url,
        "--prometheus",
        &url,
        "--loki",
        &url,
        "--alert",
        alert.to_str().unwrap(),
        "--environment",
        "prod",
        "--format",
        "json",
    ]);
    let offline = json_out(&["analyze", "--bundle", path.to_str().unwrap(), "--format", "json"]);
    assert_eq!(live["partial"], false, "{}", live["errors"]);
    assert_eq!(ranked(&live), ranked(&offline));
    assert_eq!(live["incident"]["title"], offline["incident"]["title"]);
    assert_eq!(live["remediation"]["action"], offline["remediation"]["action"]);
    assert_eq!(live["remediation"]["decision"], offline["remediation"]["decision"]);
    // "now" came from the server's clock (the simulated capture time), not this machine's.
    assert_eq!(&live["analyzed_at"].as_str().unwrap()[..16], "2026-03-01T10:45");
    let endpoints = sim.stats().endpoints;
    assert!(endpoints.contains_key("GET /api/v1/pods"), "{endpoints:?}");
    assert!(endpoints.keys().any(|e| e.contains("/api/v1/query")), "Prometheus was asked: {endpoints:?}");
    assert!(endpoints.keys().any(|e| e.contains("/loki/")), "Loki was asked: {endpoints:?}");
}

fn synth_cluster() -> Vec<u8> {
    let size = aiops::synth::Size { namespaces: 3, deployments: 200, pods_per_deployment: 2, nodes: 5, events: 100 };
    serde_json::to_vec(&aiops::synth::bundle(size)).unwrap()
}

#[test]
fn without_an_alert_it_is_a_cluster_scan_ranking_every_finding() {
    let rt = runtime();
    let raw = synth_cluster();
    let sim = serve(&rt, &raw);
    let bundle = common::temp_file("synth-scan.json", &raw);
    let live = json_out(&["analyze", "--kube-url", &sim.url(), "--format", "json"]);
    let offline = json_out(&["analyze", "--bundle", bundle.to_str().unwrap(), "--format", "json"]);
    assert_eq!(ranked(&live), ranked(&offline));
    let failing: Vec<String> = ranked(&live).into_iter().filter(|h| h.contains("Deployment/")).collect();
    assert!(failing.len() >= 5, "every failing deployment is ranked: {failing:?}");
}

#[test]
fn namespaces_and_selectors_scope_the_scan() {
    let rt = runtime();
    let sim = serve(&rt, &synth_cluster());
    let url = sim.url();
    let all = ranked(&json_out(&["analyze", "--kube-url", &url, "--format", "json"]));
    let one = ranked(&json_out(&["analyze", "--kube-url", &url, "-n", "team-01", "--format", "json"]));
    assert!(!one.is_empty());
    assert!(one.iter().all(|h| h.contains("/team-01/")), "{one:?}");
    let expected: Vec<&String> = all.iter().filter(|h| h.contains("/team-01/")).collect();
    assert_eq!(one.iter().collect::<Vec<_>>(), expected, "scoping changes what is read, not how it ranks");
    let two = ranked(&json_out(&["analyze", "--kube-url", &url, "-n", "team-01", "-n", "team-02", "--format", "json"]));
    assert!(two.len() > one.len() && two.iter().all(|h| h.contains("/team-01/") || h.contains("/team-02/")), "{two:?}");
    let sel = ranked(&json_out(&["analyze", "--kube-url", &url, "-l", "app=svc-0097", "--format", "json"]));
    assert!(!sel.is_empty() && sel.iter().all(|h| h.contains("svc-0097")), "{sel:?}");
    let namespaced_lists = sim.requests().iter().filter(|r| r.path == "/api/v1/namespaces/team-02/pods").count();
    assert!(namespaced_lists >= 1, "a namespace scope lists per namespace");
}

#[test]
fn live_flags_do_not_mix_with_a_bundle_and_a_dead_cluster_is_an_error() {
    let out =
        common::aiops(&["analyze", "--bundle", "examples/bundles/oom-killed.json", "--kube-url", "http://127.0.0.1:9"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--kube-url"));
    let out =
        common::aiops(&["analyze", "--kube-url", "http://127.0.0.1:18199", "--kube-timeout", "2", "--format", "json"]);
    let report: Value = serde_json::from_slice(&out.stdout).expect("a partial report, not a crash");
    assert_eq!(report["partial"], true);
    assert_eq!(report["errors"][0]["collector"], "kubernetes");
}
