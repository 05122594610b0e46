//! The live path against the embedded simulated cluster (`aiops-sim`, which speaks the real
//! Kubernetes, Prometheus and Loki wire formats on loopback; no API server can run here):
//! equivalence with the offline path, partial reports, and no Secret data ever requested.

mod common;

use aiops::core::{IncidentBundle, Report};
use aiops::live::{LiveSources, input_for, with_live_collectors};
use aiops_sim::Simulator;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

fn causes(r: &Report) -> Vec<String> {
    r.hypotheses
        .iter()
        .map(|h| format!("{} {}", h.cause.as_str(), h.resource.as_ref().map(|r| r.to_string()).unwrap_or_default()))
        .collect()
}

async fn live_report(
    bundle: &IncidentBundle,
    sources: impl FnOnce(&str) -> LiveSources,
) -> (Report, aiops_sim::SimHandle) {
    let sim = Simulator::from_bundle(bundle).spawn().await.expect("sim");
    let builder = with_live_collectors(aiops::default_engine(), &sources(&sim.url())).await.expect("collectors");
    let report = builder.build().expect("engine").analyze(input_for(bundle)).await.expect("analyze");
    (report, sim)
}

fn all_bundles() -> Vec<std::path::PathBuf> {
    let mut files = aiops::eval::bundle_files(&common::root().join("tests/scenarios")).expect("list");
    files.extend(common::example_bundles());
    files
}

#[test]
fn the_live_path_ranks_the_same_causes_as_the_offline_path() {
    let rt = runtime();
    let files = all_bundles();
    assert!(files.len() >= 90, "{}", files.len());
    let mut mismatches = Vec::new();
    for f in &files {
        let bundle = aiops::collectors::BundleCollector::read(f).expect("parse");
        let offline = rt.block_on(aiops::analyze_bundle(bundle.clone())).expect("offline");
        let (live, _sim) = rt.block_on(live_report(&bundle, LiveSources::all_at));
        assert!(!live.partial, "{}: {:?}", f.display(), live.errors);
        if causes(&offline) != causes(&live) {
            mismatches.push(format!(
                "{}:\n  offline {:?}\n  live    {:?}",
                f.display(),
                causes(&offline),
                causes(&live)
            ));
        }
    }
    assert!(mismatches.is_empty(), "{} of {} differ:\n{}", mismatches.len(), files.len(), mismatches.join("\n"));
}
