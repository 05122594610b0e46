//! `aiops capture` round trip against the embedded simulated cluster (`aiops-sim` serves a
//! bundle over the real Kubernetes, Prometheus and Loki wire formats on loopback; no API
//! server can run here): capturing bundle B from the simulator gives a bundle whose analysis
//! equals B's.

mod common;

use aiops::live_cli::LiveArgs;
use aiops_sim::Simulator;
use serde_json::Value;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

fn args_for(url: &str, alert: Option<std::path::PathBuf>, environment: Option<String>) -> LiveArgs {
    LiveArgs {
        kube_url: Some(url.into()),
        prometheus: Some(url.into()),
        loki: Some(url.into()),
        alert,
        environment,
        kube_timeout: 30.0,
        prometheus_timeout: 15.0,
        loki_timeout: 15.0,
        ..Default::default()
    }
}

/// The report as JSON, except the name a metric series was recorded under
/// (`evidence[].data.query`): a capture names each series after the collector's named query
/// (`memory_working_set`), a hand-written bundle may use any label.
fn analysis(report: &aiops::core::Report) -> Value {
    let mut v = serde_json::to_value(report).expect("report json");
    for e in v["evidence"].as_array_mut().expect("evidence") {
        if let Some(d) = e["data"].as_object_mut() {
            d.remove("query");
        }
    }
    v
}

#[test]
fn capturing_a_served_bundle_gives_a_bundle_with_the_same_analysis() {
    let rt = runtime();
    let mut files = common::example_bundles();
    files.extend(
        ["crashloop-no-change.json", "service-no-endpoints.json"]
            .iter()
            .map(|f| common::root().join("tests/scenarios/k8sgpt").join(f))
            .filter(|p| p.exists()),
    );
    for f in &files {
        let raw = common::read_json(f);
        let original = aiops::collectors::BundleCollector::read(f).expect("parse");
        let sim = rt.block_on(Simulator::from_bundle(&original).spawn()).expect("sim");
        let alert = raw.get("alert").map(|a| common::temp_file("capture-alert.json", a.to_string().as_bytes()));
        let args = args_for(&sim.url(), alert, original.environment.clone());
        let captured = rt.block_on(aiops::capture::capture(&args, original.cluster.clone(), &())).expect("capture");
        assert!(captured.capture_errors.is_empty(), "{}: {:?}", f.display(), captured.capture_errors);
        let bytes = serde_json::to_vec(&captured).unwrap();
        let again = aiops::core::parse_bundle(&bytes).expect("the capture is a valid bundle");
        assert_eq!(again.captured_at, original.captured_at, "{}: capturedAt is the server's clock", f.display());
        let want = rt.block_on(aiops::analyze_bundle(original)).expect("analyze B");
        let got = rt.block_on(aiops::analyze_bundle(again)).expect("analyze capture");
        assert!(!want.hypotheses.is_empty());
        let (got, want) = (analysis(&got), analysis(&want));
        if got != want {
            let ids = |r: &Value| -> Vec<String> {
                r["evidence"].as_array().unwrap().iter().map(|e| format!("{} {}", e["id"], e["summary"])).collect()
            };
            let (g, w) = (ids(&got), ids(&want));
            let only_got: Vec<&String> = g.iter().filter(|x| !w.contains(x)).collect();
            let only_want: Vec<&String> = w.iter().filter(|x| !g.contains(x)).collect();
            let keys: Vec<&String> =
                got.as_object().unwrap().keys().filter(|k| got[k.as_str()] != want[k.as_str()]).collect();
            let first = got["evidence"]
                .as_array()
                .unwrap()
                .iter()
                .zip(want["evidence"].as_array().unwrap())
                .find(|(a, b)| a != b)
                .map(|(a, b)| format!("{a}\n vs {b}"));
            panic!(
                "{}: the capture's analysis differs in {keys:?}\n only in the capture: {only_got:#?}\n only in B: {only_want:#?}\n first different evidence: {first:?}",
                f.display(),
            );
        }
    }
}

#[test]
fn the_capture_command_writes_the_bundle_format() {
    let rt = runtime();
    let path = common::root().join("examples/bundles/missing-configmap.json");
    let bundle = aiops::collectors::BundleCollector::read(&path).unwrap();
    let sim = rt.block_on(Simulator::from_bundle(&bundle).spawn()).unwrap();
    let out = common::temp_file("captured.json", b"");
    let url = sim.url();
    let run = common::aiops(&[
        "capture",
        "--kube-url",
        &url,
        "--prometheus",
        &url,
        "--loki",
        &url,
        "-n",
        "billing",
        "--cluster",
        "prod-eu-1",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(String::from_utf8_lossy(&run.stderr).contains("objects"), "a summary on stderr");
    let doc = common::read_json(&out);
    assert_eq!((doc["apiVersion"].as_str(), doc["kind"].as_str()), (Some("aiops/v1"), Some("IncidentBundle")));
    assert_eq!(doc["cluster"], "prod-eu-1");
    assert!(doc["capturedAt"].as_str().unwrap().starts_with("2026-03-01T10:45"));
    let objects = doc["objects"].as_array().unwrap();
    assert!(objects.iter().all(|o| o["apiVersion"].is_string() && o["kind"].is_string() && o["metadata"].is_object()));
    let namespaced: Vec<&Value> = objects.iter().filter(|o| o["metadata"]["namespace"].is_string()).collect();
    assert!(!namespaced.is_empty() && namespaced.iter().all(|o| o["metadata"]["namespace"] == "billing"));
    let secrets: Vec<&Value> = objects.iter().filter(|o| o["kind"] == "Secret").collect();
    assert!(secrets.iter().all(|s| s.get("data").is_none() && s.get("stringData").is_none()), "{secrets:?}");
    for l in doc["logs"].as_array().unwrap() {
        assert!(
            l["namespace"].is_string() && l["pod"].is_string() && l["previous"].is_boolean() && l["text"].is_string()
        );
    }
    let dead = common::aiops(&[
        "capture",
        "--kube-url",
        "http://127.0.0.1:18102",
        "--kube-timeout",
        "2",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(dead.status.code(), Some(2), "no cluster, no bundle");
}
