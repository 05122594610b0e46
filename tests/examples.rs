//! The example bundles: each ranks its expected cause first, in text and JSON, and the JSON
//! report has exactly the shape documented in incident-bundle.md.

mod common;

use common::{aiops, example_bundles, read_json};
use serde_json::Value;

const CAUSES: &[&str] = &[
    "bad_deploy",
    "oom_killed",
    "memory_pressure",
    "cpu_throttling",
    "image_pull",
    "missing_config_ref",
    "config_error",
    "crash_app_error",
    "dependency_failure",
    "dns_failure",
    "network_issue",
    "probe_failure",
    "scheduling_insufficient_resources",
    "scheduling_constraints",
    "node_failure",
    "volume_failure",
    "quota_exceeded",
    "hpa_at_max",
    "rbac_forbidden",
    "service_no_endpoints",
    "job_failure",
    "unknown",
];
const CATEGORIES: &[&str] = &[
    "resource_exhaustion",
    "bad_deployment",
    "configuration_error",
    "dependency_failure",
    "infrastructure_issue",
    "network_issue",
    "scaling_issue",
    "security_issue",
    "external_dependency",
    "data_issue",
    "unknown",
];

fn string(v: &Value, what: &str) -> String {
    v.as_str().unwrap_or_else(|| panic!("{what} must be a string, got {v}")).to_string()
}

fn strings(v: &Value, what: &str) -> Vec<String> {
    v.as_array().unwrap_or_else(|| panic!("{what} must be an array")).iter().map(|x| string(x, what)).collect()
}

fn unit(v: &Value, what: &str) -> f64 {
    let x = v.as_f64().unwrap_or_else(|| panic!("{what} must be a number"));
    assert!((0.0..=1.0).contains(&x), "{what} = {x} outside 0..=1");
    x
}

fn resource(v: &Value, what: &str) {
    let s = string(v, what);
    let parts = s.split('/').count();
    assert!((2..=3).contains(&parts) && !s.contains("//"), "{what} {s:?} is not Kind/ns/name");
}

/// Checks a report against the shape of incident-bundle.md ("A JSON object with at least ...").
pub fn check_report_shape(r: &Value) {
    let inc = &r["incident"];
    for k in ["id", "title", "severity", "namespace", "fingerprint"] {
        string(&inc[k], &format!("incident.{k}"));
    }
    assert!(inc["service"].is_null() || inc["service"].is_string());
    assert!(["critical", "high", "medium", "low", "info"].contains(&inc["severity"].as_str().unwrap_or_default()));
    assert!(r["partial"].is_boolean(), "partial");
    let evidence = r["evidence"].as_array().expect("evidence array");
    let ids: Vec<String> = evidence.iter().map(|e| string(&e["id"], "evidence.id")).collect();
    for e in evidence {
        assert!(string(&e["id"], "evidence.id").starts_with("ev-"));
        string(&e["kind"], "evidence.kind");
        resource(&e["resource"], "evidence.resource");
        string(&e["summary"], "evidence.summary");
        unit(&e["strength"], "evidence.strength");
    }
    let hs = r["hypotheses"].as_array().expect("hypotheses array");
    assert!(!hs.is_empty());
    for (i, h) in hs.iter().enumerate() {
        assert_eq!(h["rank"].as_u64(), Some(i as u64 + 1), "ranks are 1..n in order");
        assert!(CAUSES.contains(&string(&h["cause"], "cause").as_str()));
        assert!(CATEGORIES.contains(&string(&h["category"], "category").as_str()));
        for k in ["rule", "title", "explanation"] {
            string(&h[k], k);
        }
        unit(&h["confidence"], "confidence");
        if !h["resource"].is_null() {
            resource(&h["resource"], "hypothesis.resource");
        }
        for id in strings(&h["evidence"], "hypothesis.evidence") {
            assert!(ids.contains(&id), "cited {id} exists");
        }
        strings(&h["actions"], "actions");
    }
    for s in r["runbook"]["steps"].as_array().expect("runbook.steps") {
        string(&s["title"], "step.title");
        for k in ["commands", "promql", "links"] {
            for c in strings(&s[k], k) {
                assert!(!c.contains("-xxx") && !c.contains("<") && !c.contains("{service}"), "no placeholders: {c}");
            }
        }
    }
    if let Some(rem) = r.get("remediation").filter(|v| !v.is_null()) {
        string(&rem["action"], "remediation.action");
        resource(&rem["target"], "remediation.target");
        assert!(rem["blast_radius"].as_f64().is_some_and(|b| (0.0..=100.0).contains(&b)));
        assert!(["allow", "requires_approval", "deny"].contains(&rem["decision"].as_str().unwrap_or_default()));
        strings(&rem["reasons"], "remediation.reasons");
    }
}

#[test]
fn there_are_at_least_six_example_bundles() {
    assert!(example_bundles().len() >= 6, "{:?}", example_bundles());
}

#[test]
fn every_example_ranks_its_expected_cause_first_in_json_and_text() {
    for path in example_bundles() {
        let expected = read_json(&path)["expected"].clone();
        let want = expected["cause"].as_str().expect("expected.cause");
        let p = path.to_str().expect("utf8");
        let out = aiops(&["analyze", "--bundle", p, "--format", "json"]);
        assert_eq!(out.status.code(), Some(0), "{p}: {}", String::from_utf8_lossy(&out.stderr));
        let report: Value = serde_json::from_slice(&out.stdout).expect("json report");
        check_report_shape(&report);
        let top = &report["hypotheses"][0];
        assert_eq!(top["cause"], want, "{p}: top hypothesis {top}");
        if let Some(res) = expected["resource"].as_str() {
            assert_eq!(top["resource"], res, "{p}: root resource");
        }
        let text = aiops(&["analyze", "--bundle", p]);
        let stdout = String::from_utf8_lossy(&text.stdout);
        assert!(stdout.contains(&format!("1. {want} (")), "{p}: text report ranks {want} first:\n{stdout}");
    }
}

#[test]
fn k8sgpt_reports_have_the_documented_shape() {
    for name in ["pod-terminated-nonzero-exit.json", "node-not-ready.json", "configmap-unused.json"] {
        let out = aiops(&["analyze", "--bundle", &format!("tests/scenarios/k8sgpt/{name}"), "--format", "json"]);
        assert_eq!(out.status.code(), Some(0));
        check_report_shape(&serde_json::from_slice(&out.stdout).expect("json"));
    }
}

#[test]
fn analysis_is_deterministic() {
    for path in example_bundles().iter().take(3) {
        let p = path.to_str().expect("utf8");
        let a = aiops(&["analyze", "--bundle", p, "--format", "json"]).stdout;
        let b = aiops(&["analyze", "--bundle", p, "--format", "json"]).stdout;
        assert_eq!(a, b, "{p}: same input, same report");
    }
}

#[test]
fn the_graph_links_incident_pods_workloads_nodes_and_changes() {
    let dot = common::temp_file("graph.dot", b"");
    let out = aiops(&[
        "analyze",
        "--bundle",
        "examples/bundles/crashloop-bad-deploy.json",
        "--dot",
        dot.to_str().expect("utf8"),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let text = std::fs::read_to_string(&dot).expect("dot written");
    assert!(text.starts_with("digraph evidence"));
    for edge in [
        "OWNS",
        "SCHEDULED_ON",
        "SELECTS",
        "AFFECTS",
        "HAS_RECENT_CHANGE",
        "CORRELATES_WITH",
        "OBSERVED_IN",
        "TRIGGERED",
    ] {
        assert!(text.contains(&format!("[label=\"{edge}\"]")), "missing {edge} edge");
    }
    assert!(text.contains("\"deployment:shop:checkout\" -> \"replicaset:shop:checkout-7d9f8b6c5d\" [label=\"OWNS\"]"));
}

#[test]
fn a_rule_file_loaded_at_runtime_fires() {
    let bundle = common::temp_file(
        "jvm.json",
        br#"{"capturedAt":"2026-03-01T10:45:00Z","objects":[
        {"apiVersion":"v1","kind":"Pod","metadata":{"name":"api-1","namespace":"shop"},"spec":{"containers":[{"name":"api"}]},
         "status":{"phase":"Running","containerStatuses":[{"name":"api","ready":true,"restartCount":0,"image":"i","imageID":"","state":{"running":{}}}]}}],
        "logs":[{"namespace":"shop","pod":"api-1","container":"api","text":"java.lang.OutOfMemoryError: Java heap space"}]}"#,
    );
    let b = bundle.to_str().expect("utf8");
    let with = aiops(&["analyze", "--bundle", b, "--rules", "examples/custom-rule/rules.yaml", "--format", "json"]);
    assert_eq!(with.status.code(), Some(0), "{}", String::from_utf8_lossy(&with.stderr));
    let report: Value = serde_json::from_slice(&with.stdout).expect("json");
    assert_eq!(report["hypotheses"][0]["rule"], "example_jvm_heap_exhausted");
    let without: Value =
        serde_json::from_slice(&aiops(&["analyze", "--bundle", b, "--format", "json"]).stdout).expect("json");
    assert_ne!(without["hypotheses"][0]["rule"], "example_jvm_heap_exhausted");
}
