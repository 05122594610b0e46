//! The watch cache (kube-runtime reflectors) against the embedded simulated cluster
//! (`aiops-sim` serves LIST and WATCH in the real wire format on loopback; no API server can run
//! here): after the initial sync, a second incident makes no LIST request at all, and changes
//! made in between reach the cache through the watch.

mod common;

use std::time::Duration;

use aiops::collectors::DeployDiffCollector;
use aiops::collectors::cache::ClusterCache;
use aiops::collectors::kubernetes::{ClusterSource, KubernetesCollector};
use aiops::core::Report;
use aiops::core::traits::CollectRequest;
use aiops_sim::{RecordedRequest, Simulator};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

fn causes(r: &Report) -> Vec<String> {
    r.hypotheses
        .iter()
        .map(|h| format!("{} {}", h.cause.as_str(), h.resource.as_ref().map(|r| r.to_string()).unwrap_or_default()))
        .collect()
}

/// A LIST: a GET of a collection that is not a watch.
fn is_list(r: &RecordedRequest) -> bool {
    let collection = matches!(
        aiops_sim::k8s::path::parse(&r.path),
        Some(aiops_sim::k8s::path::ApiPath::Object(o)) if o.name.is_none()
    );
    r.method == "GET" && collection && !r.query.contains("watch=true") && !r.query.contains("watch=1")
}

#[test]
fn a_second_incident_makes_no_list_requests_and_sees_changes_through_the_watch() {
    let rt = runtime();
    let path = common::root().join("examples/bundles/crashloop-bad-deploy.json");
    let bundle = aiops::collectors::BundleCollector::read(&path).expect("parse");
    let offline = rt.block_on(aiops::analyze_bundle(bundle.clone())).expect("offline");
    let sim = rt.block_on(Simulator::from_bundle(&bundle).spawn()).expect("sim");
    let client = rt.block_on(ClusterSource::Url(sim.url()).client()).expect("client");
    let cache = rt.block_on(ClusterCache::start(client.clone(), Duration::from_secs(20))).expect("synced");
    let synced = sim.requests();
    assert!(synced.iter().filter(|r| is_list(r)).count() >= 29, "one initial LIST per kind: {}", synced.len());
    assert!(synced.iter().any(|r| r.query.contains("watch=true")), "then watches");
    for r in synced.iter().filter(|r| r.path.ends_with("/secrets")) {
        assert!(r.accept.contains("as=PartialObjectMetadata"), "Secrets are watched as metadata only: {r:?}");
    }

    let analyze = || {
        rt.block_on(async {
            aiops::default_engine()
                .collector(KubernetesCollector::new(client.clone()).with_cache(cache.clone()))
                .collector(DeployDiffCollector::new(client.clone()).with_cache(cache.clone()))
                .build()
                .expect("engine")
                .analyze(aiops::live::input_for(&bundle))
                .await
                .expect("analyze")
        })
    };
    sim.reset_stats();
    let first = analyze();
    assert!(!first.partial, "{:?}", first.errors);
    assert_eq!(causes(&first), causes(&offline), "the cache gives the same ranking as the bundle");
    assert_eq!(sim.requests().iter().filter(|r| is_list(r)).count(), 0, "{:#?}", sim.requests());

    // A change between incidents: delete a crashing pod (the simulator's ReplicaSet recreates it).
    let gone = "checkout-7d9f8b6c5d-x2k4q";
    let url = format!("{}/api/v1/namespaces/shop/pods/{gone}", sim.url());
    let status = rt.block_on(async { reqwest::Client::new().delete(url).send().await.expect("delete").status() });
    assert!(status.is_success(), "{status}");
    let request = CollectRequest { namespaces: vec!["shop".into()], ..Default::default() };
    let collector = KubernetesCollector::new(client.clone()).with_cache(cache.clone());
    let pods = |inv: &aiops::core::object::Inventory| -> Vec<String> {
        inv.pods.iter().filter_map(|p| p.metadata.name.clone()).collect()
    };
    let mut seen = Vec::new();
    for _ in 0..100 {
        seen = pods(&rt.block_on(collector.inventory(&request)).expect("inventory"));
        // The delete and the replacement's creation are two watch events: wait for both.
        if !seen.iter().any(|p| p == gone) && seen.len() == 6 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!seen.iter().any(|p| p == gone), "the delete reached the cache: {seen:?}");
    assert_eq!(seen.len(), 6, "and so did the replacement pod: {seen:?}");

    sim.reset_stats();
    let second = analyze();
    assert!(!second.partial, "{:?}", second.errors);
    let lists: Vec<_> = sim.requests().into_iter().filter(is_list).collect();
    assert!(lists.is_empty(), "the second incident made LIST requests: {lists:#?}");
    assert!(sim.stats().total > 0, "logs are still read live");
}

/// What `aiops serve` builds with a cluster configured: the live collectors with
/// `LiveOptions::watch_cache`, so analyses after the start make no LIST request.
#[test]
fn the_live_collectors_with_a_watch_cache_list_only_at_start() {
    use aiops::live::{LiveOptions, LiveSources, with_live_collectors_opts};
    let rt = runtime();
    let path = common::root().join("examples/bundles/oom-killed.json");
    let bundle = aiops::collectors::BundleCollector::read(&path).expect("parse");
    let offline = rt.block_on(aiops::analyze_bundle(bundle.clone())).expect("offline");
    let sim = rt.block_on(Simulator::from_bundle(&bundle).spawn()).expect("sim");
    let sources = LiveSources { cluster: ClusterSource::Url(sim.url()), prometheus: None, loki: None };
    let opts = LiveOptions { watch_cache: Some(Duration::from_secs(30)), ..LiveOptions::default() };
    let engine = rt
        .block_on(with_live_collectors_opts(aiops::default_engine(), &sources, &opts))
        .expect("collectors")
        .build()
        .expect("engine");
    assert!(sim.requests().iter().filter(|r| is_list(r)).count() >= 29, "the cache listed every kind once");
    for _ in 0..2 {
        sim.reset_stats();
        let report = rt.block_on(engine.analyze(aiops::live::input_for(&bundle))).expect("analyze");
        assert!(!report.partial, "{:?}", report.errors);
        assert_eq!(causes(&report), causes(&offline));
        let lists: Vec<_> = sim.requests().into_iter().filter(is_list).collect();
        assert!(lists.is_empty(), "an analysis made LIST requests: {lists:#?}");
    }

    // Without the option every analysis lists.
    let plain = rt
        .block_on(with_live_collectors_opts(aiops::default_engine(), &sources, &LiveOptions::default()))
        .expect("collectors")
        .build()
        .expect("engine");
    sim.reset_stats();
    rt.block_on(plain.analyze(aiops::live::input_for(&bundle))).expect("analyze");
    assert!(sim.requests().iter().filter(|r| is_list(r)).count() >= 29);
}
