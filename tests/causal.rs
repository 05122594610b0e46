//! Causal correlation over real-looking bundles of the own corpus: the root ranks first with
//! the chain as evidence, symptoms rank below it marked `symptom_of`, and a cluster scan
//! reports every independent root.

mod common;

use aiops::core::{Cause, Report};

fn report(name: &str) -> Report {
    let path = common::root().join("tests/scenarios/own").join(name);
    let bundle = aiops::collectors::BundleCollector::read(&path).expect("parse");
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(aiops::analyze_bundle(bundle))
        .expect("analyze")
}

fn resource(h: &aiops::core::Hypothesis) -> String {
    h.resource.as_ref().map(|r| r.to_string()).unwrap_or_default()
}

/// The top hypothesis is `cause` on `root`, and every hypothesis about one of `symptoms` is
/// marked as its symptom and ranks below it.
fn assert_chain(r: &Report, cause: Cause, root: &str, symptoms: &[&str]) {
    let top = &r.hypotheses[0];
    assert_eq!((top.cause, resource(top).as_str()), (cause, root), "{:#?}", r.hypotheses);
    assert!(top.symptom_of.is_none());
    let mut seen = 0;
    for h in r.hypotheses.iter().filter(|h| symptoms.contains(&resource(h).as_str())) {
        seen += 1;
        assert_eq!(h.symptom_of.as_ref().map(|s| s.to_string()).as_deref(), Some(root), "{}", h.rule);
        assert!(h.score < top.score && h.rank > top.rank);
    }
    assert!(seen > 0, "no symptom hypothesis about {symptoms:?}: {:#?}", r.hypotheses);
}

#[test]
fn a_not_ready_node_explains_the_pods_on_it() {
    let r = report("node_failure-not-ready-explains-pods.json");
    let node = "Node/ip-10-0-3-88.eu-west-1.compute.internal";
    let top = &r.hypotheses[0];
    assert_eq!((top.cause, resource(top).as_str()), (Cause::NodeFailure, node));
    for h in r.hypotheses.iter().skip(1).filter(|h| resource(h).starts_with("Deployment/")) {
        assert_eq!(h.symptom_of.as_ref().map(|s| s.to_string()).as_deref(), Some(node), "{}", h.rule);
    }
}

#[test]
fn connection_refused_to_a_service_is_explained_by_its_failing_backend() {
    let r = report("dependency_failure-postgres-down.json");
    // The caller's own Service has no ready endpoints: a symptom of the database too.
    assert_chain(&r, Cause::DependencyFailure, "StatefulSet/shop/orders-db", &["Service/shop/orders"]);
    // The chain: the callers' log lines naming the Service's cluster IP are cited by the root.
    let cited: Vec<&aiops::core::Evidence> =
        r.evidence.iter().filter(|e| r.hypotheses[0].evidence.contains(&e.id)).collect();
    assert!(cited.iter().any(|e| e.kind.as_str() == "log_signal" && e.resource.name.starts_with("orders-")));
}

#[test]
fn a_changed_configmap_explains_every_deployment_that_mounts_it() {
    let r = report("bad_deploy-configmap-edit-breaks-two-deployments.json");
    assert_chain(
        &r,
        Cause::BadDeploy,
        "ConfigMap/shop/shop-runtime",
        &["Deployment/shop/orders", "Deployment/shop/invoices"],
    );
    let symptoms: Vec<String> = r.hypotheses.iter().filter(|h| h.symptom_of.is_some()).map(resource).collect();
    assert!(symptoms.contains(&"Deployment/shop/orders".to_string()));
    assert!(symptoms.contains(&"Deployment/shop/invoices".to_string()));
}

#[test]
fn a_blocking_network_policy_explains_the_callers_errors() {
    let r = report("network_issue-networkpolicy-blocks.json");
    let top = &r.hypotheses[0];
    assert_eq!((top.cause, resource(top).as_str()), (Cause::NetworkIssue, "NetworkPolicy/shop/default-deny-egress"));
    assert!(top.evidence.len() >= 2, "the policy change and the callers' timeouts: {:?}", top.evidence);
}

#[test]
fn a_cluster_scan_reports_every_independent_root() {
    let r = report("oom_killed-scan-with-independent-pending.json");
    let roots: Vec<(Cause, String)> =
        r.hypotheses.iter().filter(|h| h.symptom_of.is_none()).take(2).map(|h| (h.cause, resource(h))).collect();
    assert!(roots.contains(&(Cause::OomKilled, "Deployment/shop/basket".into())), "{roots:?}");
    assert!(roots.contains(&(Cause::SchedulingConstraints, "Deployment/analytics/nightly-ml".into())), "{roots:?}");
}

#[test]
fn ranking_is_deterministic() {
    for name in ["dependency_failure-postgres-down.json", "oom_killed-scan-with-independent-pending.json"] {
        let a = serde_json::to_value(&report(name).hypotheses).expect("json");
        let b = serde_json::to_value(&report(name).hypotheses).expect("json");
        assert_eq!(a, b, "{name}");
    }
}

#[test]
fn controller_revisions_give_statefulset_rollouts_with_their_template_diff() {
    let r = report("bad_deploy-statefulset-revision.json");
    let top = &r.hypotheses[0];
    assert_eq!((top.cause, resource(top).as_str()), (Cause::BadDeploy, "StatefulSet/shop/zookeeper"));
    let change = r
        .evidence
        .iter()
        .find(|e| e.kind.as_str() == "deploy_change" && top.evidence.contains(&e.id))
        .expect("the rollout is cited");
    assert_eq!(change.data["revision"], 4);
    assert_eq!(change.data["previous_revision"], 3);
    let diff = change.data["diff"].to_string();
    assert!(diff.contains("zookeeper:3.8.4 -> docker.io/library/zookeeper:3.9.2") && diff.contains("args"), "{diff}");
}
