//! The executor `aiops serve` gives its workflow runner when a cluster is configured:
//! aiops-remediate's Kubernetes executor on that cluster (the embedded simulator here), which
//! only dry-runs (`dryRun=All`, nothing changed) unless `--execute` is set.

mod common;

use std::collections::BTreeMap;

use aiops::collectors::kubernetes::ClusterSource;
use aiops::core::{ActionType, RemediationAction, ResourceRef};
use aiops::live::LiveSources;
use aiops_sim::Simulator;

fn restart(key: &str) -> RemediationAction {
    RemediationAction {
        action: ActionType::RestartDeployment,
        target: ResourceRef::namespaced("Deployment", "shop", "checkout"),
        parameters: BTreeMap::new(),
        idempotency_key: key.into(),
    }
}

#[tokio::test]
async fn the_serve_executor_dry_runs_unless_execute_is_set() {
    let path = common::root().join("examples/bundles/crashloop-bad-deploy.json");
    let bundle = aiops::collectors::BundleCollector::read(&path).expect("bundle");
    let sim = Simulator::from_bundle(&bundle).spawn().await.expect("sim");
    let sources = LiveSources { cluster: ClusterSource::Url(sim.url()), prometheus: None, loki: None };
    let template = |sim: &aiops_sim::SimHandle| {
        sim.object("apps/v1", "Deployment", "shop", "checkout").expect("the checkout Deployment")["spec"]["template"]
            .clone()
    };
    let before = template(&sim);
    let patches = |sim: &aiops_sim::SimHandle| {
        sim.requests().into_iter().filter(|r| r.method == "PATCH" || r.method == "DELETE").collect::<Vec<_>>()
    };

    // Without --execute: even a call asking for real execution is a server-side dry run.
    let dry = aiops::serve::executor(&sources, false).await.expect("executor");
    let out = dry.execute(&restart("inc-1:restart"), false).await.expect("dry run");
    assert!(out.success && out.dry_run, "{out:?}");
    let writes = patches(&sim);
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert!(writes[0].query.contains("dryRun=All"), "{:?}", writes[0]);
    assert_eq!(template(&sim), before, "a dry run changes nothing");

    // With --execute the write is real.
    let live = aiops::serve::executor(&sources, true).await.expect("executor");
    let out = live.execute(&restart("inc-2:restart"), false).await.expect("execution");
    assert!(out.success && !out.dry_run, "{out:?}");
    let writes = patches(&sim);
    assert_eq!(writes.len(), 2, "{writes:?}");
    assert!(!writes[1].query.contains("dryRun"), "{:?}", writes[1]);
    let after = template(&sim);
    assert!(after["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"].is_string(), "{after}");
    // The workflow asks for a dry run when it does not execute: honoured by a live executor too.
    let out = live.execute(&restart("inc-3:restart"), true).await.expect("dry run");
    assert!(out.success && out.dry_run, "{out:?}");
    assert!(patches(&sim)[2].query.contains("dryRun=All"));
}
