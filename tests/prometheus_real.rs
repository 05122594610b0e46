//! The Prometheus collector against a real Prometheus (Debian `prometheus`, started by
//! `scripts/test.d/45-prometheus.sh` with the oom-killed bundle's metrics backfilled by
//! `promtool tsdb create-blocks-from openmetrics`; its URL in `AIOPS_PROMETHEUS_URL`) yields the
//! same evidence as against the simulator serving that bundle.

mod common;

use std::time::Duration;

use aiops::collectors::kubernetes::{ClusterSource, KubernetesCollector};
use aiops::collectors::{Endpoint, PrometheusCollector};
use aiops_sim::Simulator;

/// `(id, resource, reason, value)` of every metric evidence item.
fn metric_evidence(report: &aiops::core::Report) -> Vec<(String, String, String, String)> {
    report
        .evidence
        .iter()
        .filter(|e| e.source == aiops::core::model::EvidenceSource::Prometheus)
        .map(|e| {
            let value = e.data.get("value").and_then(|v| v.as_f64()).map(|v| format!("{v:.1}")).unwrap_or_default();
            let reason = e.data.get("reason").and_then(|v| v.as_str()).unwrap_or_default().to_string();
            (e.id.clone(), e.resource.to_string(), reason, value)
        })
        .collect()
}

#[test]
#[ignore = "needs a real Prometheus: scripts/test.d/45-prometheus.sh"]
fn a_real_prometheus_yields_the_same_evidence_as_the_simulator() {
    let prometheus = std::env::var("AIOPS_PROMETHEUS_URL").expect("AIOPS_PROMETHEUS_URL");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let path = common::root().join("examples/bundles/oom-killed.json");
    let bundle = aiops::collectors::BundleCollector::read(&path).unwrap();
    let sim = rt.block_on(Simulator::from_bundle(&bundle).spawn()).unwrap();
    let run = |metrics_url: &str| {
        rt.block_on(async {
            let kube = KubernetesCollector::connect(ClusterSource::Url(sim.url())).await.unwrap();
            // Every category over the alerted workload (as a capture does); a 15 s step is finer
            // than the bundle's 30 s samples, so every sample is seen.
            let prom = PrometheusCollector::new(Endpoint::new(metrics_url))
                .unwrap()
                .all_categories(true)
                .step(Duration::from_secs(15));
            let engine = aiops::default_engine().collector(kube).collector(prom).build().unwrap();
            engine.analyze(aiops::live::input_for(&bundle)).await.unwrap()
        })
    };
    let real = run(&prometheus);
    let simulated = run(&sim.url());
    assert!(!real.partial, "{:?}", real.errors);
    let (r, s) = (metric_evidence(&real), metric_evidence(&simulated));
    assert!(!s.is_empty(), "the simulator's metrics give evidence");
    assert_eq!(r, s);
    assert_eq!(real.hypotheses[0].cause, simulated.hypotheses[0].cause);
}
