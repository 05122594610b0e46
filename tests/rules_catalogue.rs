//! Every rule of the catalogue has a bundle that makes it fire and a near-miss bundle that
//! must not: a bundle with the same kind of trigger evidence that the rule has to reject
//! (a recovered container, a healthy False condition, an older event, a more specific cause).
//! Each rule is evaluated alone, so a firing rule cannot hide behind a stronger one.
//!
//! `cargo test --test rules_catalogue -- --ignored --nocapture` lists, per rule, the bundles
//! that make it fire and candidate near misses (bundles holding evidence of the kinds its first
//! condition needs where it stays silent), to help fill the table.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use aiops::collectors::BundleCollector;
use aiops::core::{AnalysisInput, Engine, Report};
use aiops::rca::RulesEngine;

/// `(rule id, firing bundle, near-miss bundle)`, paths relative to `tests/scenarios/`.
const TABLE: &[(&str, &str, &str)] = &[
    // ---- the original's ten, fixed ----
    ("crashloop_recent_deploy", "own/bad_deploy-image-bump-crash.json", "own/crash_app_error-java-npe.json"),
    ("crashloop_no_change", "own/crash_app_error-java-npe.json", "own/bad_deploy-image-bump-crash.json"),
    ("oom_killed", "own/oom_killed-jvm-heap.json", "own/none-old-oom-recovered.json"),
    ("oom_high_memory", "own/memory_pressure-leak-alert.json", "own/none-moderate-metrics.json"),
    ("image_pull_failure", "own/image_pull-tag-not-found.json", "own/none-successful-rollout.json"),
    ("hpa_maxed", "own/hpa_at_max-alert.json", "own/none-hpa-at-min.json"),
    ("readiness_probe_failing", "own/probe_failure-readiness-scan.json", "own/none-old-warning-events.json"),
    ("config_error", "own/config_error-create-container-error.json", "own/missing_config_ref-secret-key.json"),
    (
        "network_error",
        "own/dependency_failure-external-db-connection-refused.json",
        "own/dependency_failure-postgres-down.json",
    ),
    ("missing_config_ref", "own/missing_config_ref-secret-key.json", "own/config_error-create-container-error.json"),
    // ---- the catalogue ----
    (
        "failed_mount_missing_ref",
        "own/missing_config_ref-configmap-volume.json",
        "own/none-old-failed-mount-event.json",
    ),
    (
        "unschedulable_insufficient_resources",
        "own/scheduling_insufficient_resources-cpu.json",
        "own/scheduling_constraints-node-selector.json",
    ),
    (
        "unschedulable_constraints",
        "own/scheduling_constraints-taint-scan.json",
        "own/scheduling_insufficient_resources-memory-scan.json",
    ),
    ("node_not_ready", "k8sgpt/node-not-ready.json", "own/none-pressure-conditions-false-gke.json"),
    (
        "node_pressure",
        "own/node_failure-disk-pressure-evictions-scan.json",
        "own/none-pressure-conditions-false-gke.json",
    ),
    ("pod_evicted", "own/node_failure-memory-pressure-healthy-others.json", "own/none-completed-jobs.json"),
    ("container_exit_nonzero", "own/job_failure-backoff-limit.json", "own/none-completed-jobs.json"),
    ("lifecycle_hook_failed", "own/config_error-poststart-hook-failed.json", "own/config_error-exec-format.json"),
    ("exec_failure", "own/config_error-exec-format.json", "own/crash_app_error-java-npe.json"),
    ("rollout_progress_deadline", "own/bad_deploy-progress-deadline.json", "own/quota_exceeded-cpu.json"),
    ("replicaset_quota_exceeded", "own/quota_exceeded-cpu.json", "k8sgpt/replicaset-failed-create.json"),
    ("replicaset_failed_create", "k8sgpt/replicaset-failed-create.json", "own/bad_deploy-progress-deadline.json"),
    (
        "template_missing_image_pull_secret",
        "k8sgpt/daemonset-missing-image-pull-secret.json",
        "own/image_pull-private-registry-unauthorized.json",
    ),
    ("template_missing_config", "own/missing_config_ref-cronjob-template-secret.json", "own/none-suspended-jobs.json"),
    ("statefulset_missing_service", "k8sgpt/statefulset-missing-service.json", "own/none-statefulset-healthy.json"),
    ("config_file_invalid", "own/config_error-configmap-invalid-json.json", "own/none-prometheus-config-valid.json"),
    (
        "missing_storage_class",
        "own/volume_failure-missing-storage-class-scan.json",
        "own/none-statefulset-healthy.json",
    ),
    ("pvc_provisioning_failed", "own/volume_failure-pvc-provisioning-failed.json", "own/none-statefulset-healthy.json"),
    ("volume_unusable", "k8sgpt/storage-pvc-lost.json", "own/volume_failure-multi-attach.json"),
    ("volume_mount_failed", "own/volume_failure-multi-attach.json", "own/missing_config_ref-configmap-volume.json"),
    (
        "unschedulable_unbound_volume",
        "own/volume_failure-pvc-provisioning-failed.json",
        "own/scheduling_constraints-node-selector.json",
    ),
    ("service_selects_nothing", "own/service_no_endpoints-selector-typo.json", "own/none-scaled-to-zero.json"),
    ("service_endpoints_not_ready", "own/probe_failure-liveness-kills.json", "own/none-selectorless-service.json"),
    (
        "ingress_missing_backend",
        "k8sgpt/ingress-backend-service-missing.json",
        "k8sgpt/ingress-tls-secret-missing.json",
    ),
    ("ingress_missing_tls_secret", "k8sgpt/ingress-tls-secret-missing.json", "k8sgpt/ingress-class-missing.json"),
    ("ingress_class_missing", "k8sgpt/ingress-class-missing.json", "k8sgpt/ingress-tls-secret-missing.json"),
    ("ingress_class_unset", "k8sgpt/ingress-backend-service-missing.json", "k8sgpt/ingress-class-missing.json"),
    ("hpa_target_missing", "k8sgpt/hpa-target-missing.json", "own/none-hpa-at-min.json"),
    ("hpa_target_without_requests", "k8sgpt/hpa-target-without-resources.json", "own/none-hpa-at-min.json"),
    ("hpa_scaling_limited_max", "own/hpa_at_max-scan.json", "own/none-hpa-at-min.json"),
    ("job_failed", "own/job_failure-deadline-exceeded.json", "own/none-suspended-jobs.json"),
    ("job_pods_failing", "k8sgpt/job-failed.json", "own/none-completed-jobs.json"),
    ("cronjob_invalid_schedule", "k8sgpt/cronjob-invalid-schedule.json", "own/none-suspended-jobs.json"),
    ("cronjob_negative_deadline", "k8sgpt/cronjob-negative-starting-deadline.json", "own/none-suspended-jobs.json"),
    ("pdb_selects_no_pods", "k8sgpt/pdb-disruption-not-allowed.json", "own/none-statefulset-healthy.json"),
    (
        "webhook_service_missing",
        "k8sgpt/mutatingwebhook-service-missing.json",
        "k8sgpt/mutatingwebhook-inactive-receiver-pod.json",
    ),
    (
        "webhook_receiver_down",
        "k8sgpt/validatingwebhook-inactive-receiver-pod.json",
        "k8sgpt/validatingwebhook-service-missing.json",
    ),
    ("pod_scheduling_gated", "k8sgpt/pod-scheduling-gated.json", "own/scheduling_constraints-anti-affinity.json"),
    (
        "sandbox_creation_failed",
        "k8sgpt/pod-init-sandbox-creation-failed.json",
        "own/missing_config_ref-configmap-volume.json",
    ),
    ("liveness_probe_failing", "own/probe_failure-liveness-kills.json", "own/none-old-warning-events.json"),
    ("log_dns_failure", "own/dns_failure-wrong-service-name.json", "own/network_issue-networkpolicy-blocks.json"),
    ("log_tls_failure", "own/network_issue-tls-expired-scan.json", "own/dns_failure-external-host-nxdomain.json"),
    (
        "log_rbac_forbidden",
        "own/rbac_forbidden-operator-list-pods.json",
        "own/image_pull-private-registry-unauthorized.json",
    ),
    (
        "log_dependency_unreachable",
        "own/dependency_failure-external-db-connection-refused.json",
        "own/network_issue-tls-expired-scan.json",
    ),
    ("log_missing_config_key", "own/config_error-missing-env-var-scan.json", "own/bad_deploy-image-bump-crash.json"),
    ("cpu_throttled", "own/cpu_throttling-scan.json", "own/none-moderate-metrics.json"),
    // ---- custom resources ----
    ("gateway_class_missing", "k8sgpt/gateway-class-missing.json", "own/config_error-gateway-programmed-invalid.json"),
    ("gateway_not_accepted", "k8sgpt/gateway-not-accepted.json", "own/config_error-gateway-programmed-invalid.json"),
    (
        "gateway_not_programmed",
        "k8sgpt/gateway-not-programmed.json",
        "own/config_error-gateway-programmed-invalid.json",
    ),
    (
        "gateway_programmed_invalid",
        "own/config_error-gateway-programmed-invalid.json",
        "k8sgpt/gateway-not-programmed.json",
    ),
    ("gateway_class_unclaimed", "k8sgpt/gatewayclass-not-accepted.json", "own/config_error-gatewayclass-rejected.json"),
    ("gateway_class_rejected", "own/config_error-gatewayclass-rejected.json", "k8sgpt/gatewayclass-not-accepted.json"),
    (
        "httproute_parent_gateway_missing",
        "k8sgpt/httproute-gateway-missing.json",
        "own/config_error-httproute-not-accepted.json",
    ),
    (
        "httproute_not_allowed_by_listeners",
        "k8sgpt/httproute-namespace-not-allowed.json",
        "own/config_error-httproute-not-accepted.json",
    ),
    (
        "httproute_not_accepted",
        "own/config_error-httproute-not-accepted.json",
        "own/config_error-httproute-ref-not-permitted.json",
    ),
    (
        "httproute_backend_service_missing",
        "k8sgpt/httproute-backend-service-missing.json",
        "own/config_error-httproute-ref-not-permitted.json",
    ),
    (
        "httproute_backend_not_found",
        "own/service_no_endpoints-httproute-backend-not-found.json",
        "own/config_error-httproute-ref-not-permitted.json",
    ),
    (
        "httproute_refs_invalid",
        "own/config_error-httproute-ref-not-permitted.json",
        "own/service_no_endpoints-httproute-backend-not-found.json",
    ),
    (
        "httproute_backend_port_mismatch",
        "k8sgpt/httproute-backend-port-mismatch.json",
        "own/config_error-httproute-ref-not-permitted.json",
    ),
    (
        "olm_catalogsource_unreachable",
        "k8sgpt/catalogsource-transient-failure.json",
        "k8sgpt/subscription-catalog-unhealthy.json",
    ),
    (
        "olm_clustercatalog_retrying",
        "k8sgpt/clustercatalog-image-retrying.json",
        "own/config_error-clustercatalog-blocked.json",
    ),
    (
        "olm_clustercatalog_blocked",
        "own/config_error-clustercatalog-blocked.json",
        "k8sgpt/clustercatalog-image-retrying.json",
    ),
    (
        "olm_csv_failed",
        "k8sgpt/clusterserviceversion-failed.json",
        "own/config_error-subscription-resolution-failed.json",
    ),
    (
        "olm_multiple_operator_groups",
        "k8sgpt/operatorgroup-multiple.json",
        "own/config_error-subscription-resolution-failed.json",
    ),
    (
        "olm_subscription_catalog_unhealthy",
        "k8sgpt/subscription-catalog-unhealthy.json",
        "own/config_error-subscription-resolution-failed.json",
    ),
    (
        "olm_subscription_resolution_failed",
        "own/config_error-subscription-resolution-failed.json",
        "k8sgpt/subscription-catalog-unhealthy.json",
    ),
    (
        "keda_scale_target_missing",
        "own/config_error-scaledobject-target-missing.json",
        "own/config_error-scaledobject-not-ready.json",
    ),
    (
        "keda_scale_target_without_requests",
        "k8sgpt/scaledobject-target-without-resources.json",
        "own/config_error-scaledobject-not-ready.json",
    ),
    (
        "keda_scaledobject_check_failed",
        "k8sgpt/scaledobject-warning-event.json",
        "own/config_error-scaledobject-not-ready.json",
    ),
    ("keda_scaledobject_not_ready", "own/config_error-scaledobject-not-ready.json", "own/none-scaledobject-ready.json"),
    // ---- code rules ----
    (
        "node_failure_isolated",
        "own/node_failure-not-ready-explains-pods.json",
        "own/node_failure-memory-pressure-healthy-others.json",
    ),
    ("dependency_down", "own/dependency_failure-postgres-down.json", "own/network_issue-networkpolicy-blocks.json"),
    (
        "network_policy_blocks",
        "own/network_issue-networkpolicy-blocks.json",
        "own/dependency_failure-upstream-timeout-with-neighbour.json",
    ),
    (
        "config_change_breaks_workloads",
        "own/bad_deploy-configmap-edit-breaks-two-deployments.json",
        "own/missing_config_ref-configmap-key-with-neighbour.json",
    ),
];

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

/// The report of `bundle` analysed with only the rule `id`.
fn analyze_with(rt: &tokio::runtime::Runtime, id: &str, bundle: &Path) -> Report {
    let rule = aiops::rca::rules::builtin().expect("catalogue").into_iter().find(|r| r.id() == id).expect("rule");
    let rules = RulesEngine::with_rules(vec![rule]).expect("engine");
    let b = BundleCollector::read(bundle).unwrap_or_else(|e| panic!("{}: {e}", bundle.display()));
    let engine = Engine::builder().collector(BundleCollector::from_bundle(b)).rules(rules).build().expect("build");
    rt.block_on(engine.analyze(AnalysisInput::default())).expect("analyze")
}

fn fires(r: &Report, id: &str) -> bool {
    r.hypotheses.iter().any(|h| h.rule == id && h.confidence > 0.0)
}

#[test]
fn every_rule_has_a_firing_and_a_near_miss_bundle() {
    let ids: BTreeSet<&str> = TABLE.iter().map(|r| r.0).collect();
    assert_eq!(ids.len(), TABLE.len(), "one row per rule");
    let engine = RulesEngine::builtin();
    let catalogue: BTreeSet<&str> = engine.rule_ids().into_iter().collect();
    let missing: Vec<&&str> = catalogue.difference(&ids).collect();
    assert!(missing.is_empty(), "rules without a firing/near-miss bundle: {missing:?}");
    let unknown: Vec<&&str> = ids.difference(&catalogue).collect();
    assert!(unknown.is_empty(), "table rows for rules that do not exist: {unknown:?}");
    assert!(catalogue.len() >= 60, "at least 60 rules, got {}", catalogue.len());
    for (id, firing, near) in TABLE {
        assert_ne!(firing, near, "{id}");
    }
}

#[test]
fn each_rule_fires_on_its_bundle_and_not_on_its_near_miss() {
    let rt = runtime();
    let dir = common::root().join("tests/scenarios");
    let mut failures = Vec::new();
    for (id, firing, near) in TABLE {
        let r = analyze_with(&rt, id, &dir.join(firing));
        if !fires(&r, id) {
            failures.push(format!("{id} does not fire on {firing}"));
        }
        for h in r.hypotheses.iter().filter(|h| h.rule == *id) {
            let ids: BTreeSet<&str> = r.evidence.iter().map(|e| e.id.as_str()).collect();
            assert!(h.evidence.iter().all(|e| ids.contains(e.as_str())), "{id}: cites missing evidence");
        }
        if fires(&analyze_with(&rt, id, &dir.join(near)), id) {
            failures.push(format!("{id} fires on its near miss {near}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
#[ignore = "a helper for filling the table"]
fn discover() {
    let rt = runtime();
    let dir = common::root().join("tests/scenarios");
    let files = aiops::eval::bundle_files(&dir).expect("list");
    for id in RulesEngine::builtin().rule_ids() {
        let hits: Vec<String> = files
            .iter()
            .filter(|f| fires(&analyze_with(&rt, id, f), id))
            .map(|f| f.strip_prefix(&dir).unwrap_or(f).display().to_string())
            .collect();
        println!("{id}: {} {:?}", hits.len(), hits.iter().take(4).collect::<Vec<_>>());
    }
}
