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
fn the_live_path_ranks_the_same_causes_as_the_offline_path_and_never_requests_secret_data() {
    let rt = runtime();
    let files = all_bundles();
    assert!(files.len() >= 90, "{}", files.len());
    let mut mismatches = Vec::new();
    let mut secret_lists = 0;
    for f in &files {
        let bundle = aiops::collectors::BundleCollector::read(f).expect("parse");
        // The live path reads Secrets as metadata only, so it is compared with the offline
        // analysis of the same bundle without what the offline path learnt from Secret data.
        let offline = rt.block_on(aiops::analyze_bundle(metadata_only(bundle.clone()))).expect("offline");
        let (live, sim) = rt.block_on(live_report(&bundle, LiveSources::all_at));
        assert!(!live.partial, "{}: {:?}", f.display(), live.errors);
        secret_lists += assert_no_secret_data(&sim, f);
        assert_events_read_once_through_events_v1(&sim, f);
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
    assert!(secret_lists >= files.len(), "Secrets were listed (as metadata) for every bundle: {secret_lists}");
}

/// The bundle as a live capture sees it: Secrets without anything derived from their data.
fn metadata_only(mut bundle: IncidentBundle) -> IncidentBundle {
    bundle.inventory.secrets.iter_mut().for_each(|s| s.invalid_config_files.clear());
    bundle
}

/// A TCP port that accepts connections and never answers (a hung Prometheus or Loki).
fn hung_endpoint(rt: &tokio::runtime::Runtime) -> (String, tokio::task::JoinHandle<()>) {
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let task = rt.spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    (url, task)
}

#[test]
fn an_unreachable_or_hung_metrics_or_log_source_makes_a_partial_report_that_still_ranks() {
    use aiops::collectors::Endpoint;
    use aiops::live::{LiveOptions, with_live_collectors_opts};
    use std::time::Duration;
    let rt = runtime();
    let path = common::root().join("examples/bundles/crashloop-bad-deploy.json");
    let bundle = aiops::collectors::BundleCollector::read(&path).expect("parse");
    let offline = rt.block_on(aiops::analyze_bundle(bundle.clone())).expect("offline");
    let (hung, _task) = hung_endpoint(&rt);
    // Nothing listens on 18101 (this suite's port range).
    let dead = "http://127.0.0.1:18101".to_string();
    for (prom, loki, failed, why) in [
        (dead.clone(), None, "prometheus", "127.0.0.1:18101"),
        (hung.clone(), None, "prometheus", "timed out"),
        (String::new(), Some(dead.clone()), "loki", "127.0.0.1:18101"),
        (String::new(), Some(hung.clone()), "loki", "timed out"),
    ] {
        // Only the failing collector gets a short timeout: the healthy ones must not time out
        // on a loaded machine.
        let short = Duration::from_millis(500);
        let opts = match failed {
            "prometheus" => LiveOptions { prometheus_timeout: short, ..Default::default() },
            _ => LiveOptions { loki_timeout: short, ..Default::default() },
        };
        let sim = rt.block_on(Simulator::from_bundle(&bundle).spawn()).expect("sim");
        let mut sources = LiveSources::all_at(&sim.url());
        if !prom.is_empty() {
            sources.prometheus = Some(Endpoint::new(&prom));
        }
        if let Some(l) = &loki {
            sources.loki = Some(Endpoint::new(l));
        }
        let report = rt
            .block_on(async {
                with_live_collectors_opts(aiops::default_engine(), &sources, &opts)
                    .await?
                    .build()?
                    .analyze(input_for(&bundle))
                    .await
                    .map_err(aiops::Error::from)
            })
            .expect("a report despite the failure");
        assert!(report.partial, "{failed}");
        assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
        assert_eq!(report.errors[0].collector, failed);
        assert!(report.errors[0].error.contains(why), "{failed}: {}", report.errors[0].error);
        assert_eq!(causes(&report)[0], causes(&offline)[0], "the Kubernetes evidence still ranks first");
        let run = report.collectors.iter().find(|r| r.collector == failed).expect("its run");
        assert!(!run.ok);
        assert!(run.duration_ms < 5_000.0, "its own timeout (500 ms), not the default, cut it: {run:?}");
    }
}

/// The simulator offers `events.k8s.io/v1` (as a real cluster does): events are listed through
/// it, and not a second time through core/v1.
fn assert_events_read_once_through_events_v1(sim: &aiops_sim::SimHandle, what: &std::path::Path) {
    let lists: Vec<String> =
        sim.requests().into_iter().filter(|r| r.path.ends_with("/events")).map(|r| r.path).collect();
    assert!(lists.iter().any(|p| p.starts_with("/apis/events.k8s.io/v1/")), "{}: {lists:?}", what.display());
    assert!(lists.iter().all(|p| !p.starts_with("/api/v1/")), "{}: events read twice: {lists:?}", what.display());
}

/// Every Secret read the collectors made: LISTs with the metadata-only Accept header, never a
/// GET by name (which would return `data`). Returns how many there were.
fn assert_no_secret_data(sim: &aiops_sim::SimHandle, what: &std::path::Path) -> usize {
    let mut reads = 0;
    for r in sim.requests() {
        if !(r.path.ends_with("/secrets") || r.path.contains("/secrets/")) {
            continue;
        }
        reads += 1;
        assert!(r.path.ends_with("/secrets"), "{}: a Secret was read by name: {r:?}", what.display());
        assert_eq!(r.method, "GET", "{r:?}");
        assert!(
            r.accept.contains("as=PartialObjectMetadataList") && !r.accept.contains("application/json,"),
            "{}: a Secret LIST without the metadata-only Accept header: {r:?}",
            what.display()
        );
    }
    reads
}

/// The resources (plurals) LISTed so far, in request order: GETs of a collection, not watches.
fn listed(sim: &aiops_sim::SimHandle) -> Vec<String> {
    sim.requests()
        .into_iter()
        .filter(|r| {
            let collection = matches!(
                aiops_sim::k8s::path::parse(&r.path),
                Some(aiops_sim::k8s::path::ApiPath::Object(o)) if o.name.is_none()
            );
            r.method == "GET" && collection && !r.query.contains("watch=")
        })
        .filter_map(|r| r.path.rsplit('/').next().map(str::to_string))
        .collect()
}

#[test]
fn an_analysis_lists_a_dependent_kind_only_when_something_needs_it_and_a_capture_lists_every_kind() {
    use aiops::collectors::kubernetes::{ClusterSource, DEPENDENT_KINDS, KINDS, KubernetesCollector};
    use aiops::core::traits::CollectRequest;
    let rt = runtime();
    let plural = |kind: &str| KINDS.iter().find(|k| k.kind == kind).map(|k| k.plural).expect("a kind of KINDS");
    let dependent: Vec<&str> = DEPENDENT_KINDS.iter().map(|d| plural(d.kind)).collect();
    let always: Vec<&str> = KINDS.iter().map(|k| k.plural).filter(|p| !dependent.contains(p)).collect();
    // (bundle, dependent kinds listed; every other dependent kind is not)
    let cases: [(&str, &[&str]); 4] = [
        // Services with their Endpoints; no Ingress, claim, StatefulSet, DaemonSet or FailedCreate.
        ("examples/bundles/crashloop-bad-deploy.json", &["endpoints"]),
        // An Ingress (and a Service with Endpoints and EndpointSlices).
        ("tests/scenarios/k8sgpt/ingress-class-missing.json", &["endpoints", "ingressclasses"]),
        // A StatefulSet with a claim, and no Service: no endpoints at all.
        ("tests/scenarios/own/volume_failure-pvc-provisioning-failed.json", &["storageclasses", "controllerrevisions"]),
        // A FailedCreate event.
        (
            "tests/scenarios/own/quota_exceeded-cpu.json",
            &["endpoints", "resourcequotas", "limitranges", "serviceaccounts"],
        ),
    ];
    for (file, wanted) in cases {
        let bundle = aiops::collectors::BundleCollector::read(&common::root().join(file)).expect("parse");
        let sim = rt.block_on(Simulator::from_bundle(&bundle).spawn()).expect("sim");
        let collector = rt.block_on(KubernetesCollector::connect(ClusterSource::Url(sim.url()))).expect("client");
        let inv = rt.block_on(collector.inventory(&CollectRequest::default())).expect("inventory");
        assert_eq!(inv.pods.len(), bundle.inventory.pods.len(), "{file}");
        let lists = listed(&sim);
        for p in &always {
            assert_eq!(lists.iter().filter(|l| l == p).count(), 1, "{file}: {p} is always listed, once: {lists:?}");
        }
        for p in &dependent {
            let n = lists.iter().filter(|l| l == p).count();
            assert_eq!(n, usize::from(wanted.contains(p)), "{file}: {p} listed {n} times: {lists:?}");
        }
        assert_eq!(lists.len(), always.len() + wanted.len(), "{file}: {lists:?}");

        // `aiops capture` records every kind, needed or not.
        sim.reset_stats();
        rt.block_on(collector.objects(&CollectRequest::default())).expect("objects");
        let lists = listed(&sim);
        for k in KINDS {
            assert_eq!(lists.iter().filter(|l| *l == k.plural).count(), 1, "{file}: capture lists {}", k.plural);
        }
    }
}
