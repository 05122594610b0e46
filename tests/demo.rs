//! `aiops demo`: the main job against the embedded simulated cluster (`aiops-sim` speaks the
//! real Kubernetes, Prometheus and Loki wire formats on loopback; no API server runs here).
//! The live pipeline must find each scenario's expected root cause, over HTTP, without writes.

mod common;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

#[test]
fn every_builtin_scenario_finds_its_expected_cause_over_http() {
    let rt = runtime();
    assert_eq!(aiops::demo::scenario_names().len(), common::example_bundles().len(), "every example is a scenario");
    for name in aiops::demo::scenario_names() {
        let expected = aiops::demo::scenario(name).expect("scenario").expected.expect("expected block");
        let run = rt.block_on(aiops::demo::run(name)).expect("demo run");
        let top = run.report.top().expect("a hypothesis");
        assert_eq!(top.cause.as_str(), expected.cause, "{name}");
        assert_eq!(top.resource.as_ref().map(|r| r.to_string()), expected.resource, "{name}");
        assert!(!run.report.partial, "{name}: {:?}", run.report.errors);
        let kinds: Vec<&str> = run.report.collectors.iter().map(|c| c.collector.as_str()).collect();
        assert_eq!(kinds, ["kubernetes", "deploy_diff", "prometheus", "loki"], "{name}");
        assert!(run.stats.total > 0, "{name}: evidence came over HTTP");
        assert_eq!(run.writes(), 0, "{name}: a demo changes nothing: {:?}", run.stats.endpoints);
        let rem = run.report.remediation.as_ref().expect("a remediation proposal");
        assert!(rem.dry_run, "{name}");
    }
}

#[test]
fn the_demo_command_prints_the_report_of_the_default_scenario() {
    let expected = aiops::demo::scenario(aiops::demo::DEFAULT_SCENARIO).unwrap().expected.unwrap();
    let out = common::aiops(&["demo", "--format", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is one JSON report");
    assert_eq!(report["hypotheses"][0]["cause"], expected.cause.as_str());
    assert_eq!(report["remediation"]["action"], "rollback_deployment");
    assert!(report["remediation"]["decision"].is_string());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("API requests, 0 writes"), "{stderr}");

    let text = common::aiops(&["demo"]);
    assert!(text.status.success());
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains(&format!("1. {}", expected.cause)), "{text}");
    assert!(text.contains("Remediation: rollback_deployment"), "{text}");
}

#[test]
fn an_unknown_scenario_is_bad_input_naming_the_choices() {
    let out = common::aiops(&["demo", "no-such-scenario"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no-such-scenario") && stderr.contains("oom-killed"), "{stderr}");
}

#[test]
fn a_bundle_file_is_a_scenario_too() {
    let path = common::root().join("examples/bundles/oom-killed.json");
    let out = common::aiops(&["demo", path.to_str().unwrap(), "--format", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["hypotheses"][0]["cause"], "oom_killed");
}
