//! Benchmark: a full cluster scan of a simulated 10,000-pod cluster (2,000 deployments, 100
//! nodes, 20,000 events) over HTTP: the live pipeline (Kubernetes collector, diagnosis) against
//! `aiops-sim`. Prints wall time (median of runs) and the API requests one scan makes (from the
//! simulator's `/sim/stats` counters), and, for comparison, the requests of a per-object approach
//! (k8sgpt's Pod and Service analyzers: list the kind, then one events LIST per pod and one
//! Endpoints GET per Service) run against the same simulator.

use std::time::{Duration, Instant};

use aiops::collectors::cache::ClusterCache;
use aiops::collectors::kubernetes::{ClusterSource, KubernetesCollector};
use aiops_sim::Simulator;

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let bundle = aiops::core::parse_bundle(
        &serde_json::to_vec(&aiops::synth::bundle(aiops::synth::Size::BENCH)).expect("synth"),
    )
    .expect("bundle");
    let input = aiops::live::input_for(&bundle);
    let sim = rt.block_on(Simulator::from_bundle(&bundle).spawn()).expect("sim");
    let url = sim.url();
    let runs = 5;
    let mut times = Vec::new();
    let mut requests = 0;
    let mut hypotheses = 0;
    for _ in 0..runs {
        sim.reset_stats();
        let started = Instant::now();
        let report = rt.block_on(async {
            let kube = KubernetesCollector::connect(ClusterSource::Url(url.clone())).await.expect("client");
            aiops::default_engine().collector(kube).build().expect("engine").analyze(input.clone()).await.expect("scan")
        });
        times.push(started.elapsed());
        requests = sim.stats().total;
        hypotheses = report.hypotheses.len();
    }
    times.sort();
    let median = times[runs / 2];
    let per_endpoint = sim.stats().endpoints;

    // The same scan through the watch cache (kube-runtime reflectors), after its initial sync.
    let sync_started = Instant::now();
    let client = rt.block_on(ClusterSource::Url(url.clone()).client()).expect("client");
    let cache = rt.block_on(ClusterCache::start(client.clone(), Duration::from_secs(120))).expect("cache");
    let sync_time = sync_started.elapsed();
    let mut cached_times = Vec::new();
    let mut cached_requests = 0;
    let mut cached_lists = 0;
    for _ in 0..runs {
        sim.reset_stats();
        let started = Instant::now();
        rt.block_on(async {
            let kube = KubernetesCollector::new(client.clone()).with_cache(cache.clone());
            aiops::default_engine().collector(kube).build().expect("engine").analyze(input.clone()).await.expect("scan")
        });
        cached_times.push(started.elapsed());
        let log = sim.requests();
        cached_requests = log.len();
        cached_lists = log.iter().filter(|r| !r.path.ends_with("/log") && !r.query.contains("watch=")).count();
    }
    cached_times.sort();
    drop(cache);

    sim.reset_stats();
    let started = Instant::now();
    rt.block_on(per_object(&url));
    let per_object_time = started.elapsed();
    let per_object_requests = sim.stats().total;

    println!("live cluster scan of 10,000 pods over HTTP (aiops-sim, {runs} runs)");
    println!("  wall time (median, collection + diagnosis): {:.0} ms", ms(median));
    println!("  API requests per scan: {requests}   hypotheses: {hypotheses}");
    for (e, n) in &per_endpoint {
        println!("    {n:>5}  {e}");
    }
    println!("the same scan through the watch cache (initial sync {:.0} ms):", ms(sync_time));
    println!(
        "  wall time (median): {:.0} ms   API requests per scan: {cached_requests} ({cached_lists} besides log reads)",
        ms(cached_times[runs / 2])
    );
    println!("per-object approach (k8sgpt Pod + Service analyzers) on the same cluster:");
    println!("  API requests: {per_object_requests}   wall time: {:.0} ms", ms(per_object_time));
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// k8sgpt's way: list pods, then per pod an events LIST by `involvedObject.name`; list
/// services, then per Service a GET of its Endpoints.
async fn per_object(url: &str) {
    use futures::StreamExt;
    let client = reqwest::Client::new();
    let get = |path: String| {
        let client = client.clone();
        let url = format!("{url}{path}");
        async move { client.get(url).send().await.ok().map(|r| r.status()) }
    };
    let pods: serde_json::Value =
        client.get(format!("{url}/api/v1/pods")).send().await.expect("pods").json().await.expect("json");
    let services: serde_json::Value =
        client.get(format!("{url}/api/v1/services")).send().await.expect("services").json().await.expect("json");
    let name = |o: &serde_json::Value| {
        (
            o["metadata"]["namespace"].as_str().unwrap_or("").to_string(),
            o["metadata"]["name"].as_str().unwrap_or("").to_string(),
        )
    };
    let mut paths: Vec<String> = pods["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(name)
        .map(|(ns, n)| format!("/api/v1/namespaces/{ns}/events?fieldSelector=involvedObject.name%3D{n}"))
        .collect();
    paths.extend(
        services["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(name)
            .map(|(ns, n)| format!("/api/v1/namespaces/{ns}/endpoints/{n}")),
    );
    futures::stream::iter(paths.into_iter().map(get)).buffer_unordered(8).for_each(|_| async {}).await;
}
