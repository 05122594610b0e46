//! Table tests for every gate of the shipped default policy (`policy/remediation.rego`), the
//! original's table (`original-design.md` §8.4) with its bugs fixed, user policies and data,
//! and malformed input.

use aiops_core::model::Decision::{self, Allow, Deny, RequiresApproval};
use aiops_remediate::policy::{RegoPolicyGate, evaluate_policy};
use serde_json::{Value, json};

/// One row: action, environment, score, namespace, replicas, hour, weekend, freeze.
type Row = (&'static str, &'static str, f64, &'static str, u64, u8, bool, bool);

fn input(r: Row) -> Value {
    json!({
        "action_type": r.0, "environment": r.1, "blast_radius_score": r.2, "namespace": r.3,
        "affected_replicas": r.4, "current_hour": r.5, "is_weekend": r.6, "freeze_active": r.7,
    })
}

/// Checks each row on the compiled VM program and on the interpreter: both must agree.
fn check(gate: &RegoPolicyGate, rows: &[(Row, Decision, &[&str])]) {
    let interp = gate.clone().interpreter_only();
    for (row, want, reasons) in rows {
        let d = gate.decide(&input(*row)).unwrap();
        assert_eq!(d, interp.decide(&input(*row)).unwrap(), "{row:?}: VM and interpreter disagree");
        assert_eq!(d.decision, *want, "{row:?}: {:?}", d.reasons);
        assert!(!d.reasons.is_empty(), "{row:?}: every decision has a reason");
        for r in *reasons {
            assert!(
                d.reasons.iter().any(|x| x.contains(r)),
                "{row:?}: want a reason containing {r:?}, got {:?}",
                d.reasons
            );
        }
        assert_eq!(d.input["action_type"], row.0, "the input is kept");
    }
}

#[test]
fn environment_gate_and_vocabulary() {
    let g = RegoPolicyGate::new().unwrap();
    check(
        &g,
        &[
            // The original denied this (environment `development` unknown): fixed.
            (("restart_pod", "development", 10.0, "shop", 1, 12, false, false), Allow, &["allowed in dev"]),
            (("restart_pod", "dev", 10.0, "shop", 1, 12, false, false), Allow, &[]),
            (("restart_pod", "DEV", 10.0, "shop", 1, 12, false, false), Allow, &[]),
            (("restart_pod", "staging", 10.0, "shop", 1, 12, false, false), Allow, &["allowed in staging"]),
            (("restart_pod", "stage", 10.0, "shop", 1, 12, false, false), Allow, &[]),
            (
                ("restart_pod", "production", 10.0, "shop", 1, 12, false, false),
                RequiresApproval,
                &["production actions require approval"],
            ),
            (("restart_pod", "prod", 10.0, "shop", 1, 12, false, false), RequiresApproval, &[]),
            // Unknown environments are treated as prod (the strictest).
            (("restart_pod", "qa-7", 10.0, "shop", 1, 12, false, false), RequiresApproval, &["production"]),
            // Not in the allowlist: now with a reason (the original said only "policy denied").
            (("scale_replicas", "dev", 10.0, "shop", 1, 12, false, false), Allow, &[]),
            (
                ("cordon_node", "staging", 10.0, "", 1, 12, false, false),
                RequiresApproval,
                &["cordon_node always requires approval"],
            ),
            (
                ("Increase memory limits if appropriate", "dev", 10.0, "shop", 1, 12, false, false),
                Deny,
                &["is not allowed in dev"],
            ),
            (("escalate_to_human", "prod", 10.0, "shop", 1, 12, false, false), Deny, &["is not allowed in prod"]),
        ],
    );
}

#[test]
fn dev_auto_approval_and_approval_rules() {
    let g = RegoPolicyGate::new().unwrap();
    check(
        &g,
        &[
            // Dev: rollback/cordon/replicas>=3 would need approval, auto-approved in dev.
            (
                ("rollback_deployment", "dev", 10.0, "shop", 1, 12, false, false),
                Allow,
                &["auto-approved in dev", "rollback_deployment always requires approval"],
            ),
            (
                ("cordon_node", "dev", 10.0, "shop", 3, 12, false, false),
                Allow,
                &["auto-approved in dev", "3 affected replicas"],
            ),
            // Prod: rollback is not automatic but a human may approve it (the original denied it).
            (
                ("rollback_deployment", "prod", 10.0, "shop", 1, 12, false, false),
                RequiresApproval,
                &["rollback_deployment always requires approval", "production"],
            ),
            // Staging: score >= 30 needs approval, below does not.
            (
                ("restart_deployment", "staging", 30.0, "shop", 1, 12, false, false),
                RequiresApproval,
                &["blast radius 30 >= 30"],
            ),
            (("restart_deployment", "staging", 29.0, "shop", 1, 12, false, false), Allow, &[]),
            (
                ("restart_deployment", "staging", 10.0, "shop", 3, 12, false, false),
                RequiresApproval,
                &["3 affected replicas >= 3"],
            ),
        ],
    );
    let strict = RegoPolicyGate::new().unwrap().with_data(json!({"aiops": {"auto_approve_dev": false}})).unwrap();
    check(
        &strict,
        &[(
            ("rollback_deployment", "dev", 10.0, "shop", 1, 12, false, false),
            RequiresApproval,
            &["always requires approval"],
        )],
    );
}

#[test]
fn protected_namespaces() {
    let g = RegoPolicyGate::new().unwrap();
    check(
        &g,
        &[
            (
                ("restart_pod", "prod", 10.0, "kube-system", 1, 12, false, false),
                Deny,
                &["Namespace kube-system is protected"],
            ),
            (
                ("restart_pod", "staging", 10.0, "kube-system", 1, 12, false, false),
                Deny,
                &["Namespace kube-system is protected"],
            ),
            (("rollback_deployment", "prod", 10.0, "kube-system", 1, 12, false, false), Deny, &["protected"]),
            (
                ("restart_pod", "prod", 60.0, "monitoring", 1, 12, false, false),
                Deny,
                &["Blast radius score 60 exceeds threshold", "Namespace monitoring is protected"],
            ),
            (("restart_pod", "prod", 10.0, "istio-system", 1, 12, false, false), Deny, &["istio-system is protected"]),
            // The original lets dev touch protected namespaces; kept.
            (("restart_pod", "dev", 100.0, "kube-system", 1, 23, false, false), Allow, &[]),
        ],
    );
}

#[test]
fn freeze_window_weekends_and_declared_freezes() {
    let g = RegoPolicyGate::new().unwrap();
    check(
        &g,
        &[
            (
                ("restart_pod", "prod", 10.0, "shop", 1, 22, false, false),
                Deny,
                &["Action not allowed during freeze window"],
            ),
            (("restart_pod", "prod", 10.0, "shop", 1, 5, false, false), Deny, &["freeze window"]),
            (("restart_pod", "prod", 10.0, "shop", 1, 6, false, false), RequiresApproval, &[]),
            (("restart_pod", "prod", 10.0, "shop", 1, 21, false, false), RequiresApproval, &[]),
            (("restart_pod", "prod", 10.0, "shop", 1, 12, true, false), Deny, &["freeze window"]),
            (("rollback_deployment", "prod", 10.0, "shop", 1, 23, false, false), Deny, &["freeze window"]),
            (("rollback_deployment", "prod", 10.0, "shop", 1, 12, true, false), Deny, &["freeze window"]),
            (("restart_pod", "staging", 10.0, "shop", 1, 23, false, false), Deny, &["freeze window"]),
            // Weekends freeze prod only.
            (("restart_pod", "staging", 10.0, "shop", 1, 12, true, false), Allow, &[]),
            (("restart_pod", "staging", 60.0, "shop", 1, 23, false, false), Deny, &["freeze window"]),
            (("restart_pod", "prod", 10.0, "shop", 1, 12, false, true), Deny, &["freeze window"]),
            // Dev is never frozen.
            (("restart_pod", "dev", 10.0, "shop", 1, 23, true, true), Allow, &[]),
        ],
    );
}

#[test]
fn blast_radius_thresholds() {
    let g = RegoPolicyGate::new().unwrap();
    check(
        &g,
        &[
            (("restart_pod", "prod", 49.99, "shop", 4, 12, false, false), RequiresApproval, &[]),
            (
                ("restart_pod", "prod", 50.0, "shop", 1, 12, false, false),
                Deny,
                &["Blast radius score 50 exceeds threshold"],
            ),
            (
                ("rollback_deployment", "prod", 80.0, "shop", 3, 12, false, false),
                Deny,
                &["Blast radius score 80 exceeds threshold"],
            ),
            (("restart_pod", "prod", 10.0, "shop", 5, 12, false, false), Deny, &["exceeds threshold"]),
            (("restart_pod", "staging", 74.0, "shop", 9, 12, false, false), RequiresApproval, &[]),
            (
                ("restart_pod", "staging", 75.0, "shop", 1, 12, false, false),
                Deny,
                &["Blast radius score 75 exceeds threshold"],
            ),
            (("restart_deployment", "dev", 100.0, "shop", 20, 12, false, false), Allow, &[]),
        ],
    );
    let tight = RegoPolicyGate::new().unwrap().with_data(json!({"aiops": {"max_blast_radius": 20}})).unwrap();
    check(&tight, &[(("restart_pod", "prod", 25.0, "shop", 1, 12, false, false), Deny, &["exceeds threshold"])]);
}

#[test]
fn high_risk_actions_are_never_allowed() {
    let g = RegoPolicyGate::new().unwrap();
    for a in
        ["drain_node", "delete_pvc", "update_resource_limits", "delete_namespace", "update_configmap", "uncordon_node"]
    {
        for env in ["dev", "staging", "prod"] {
            check(&g, &[((a, env, 10.0, "shop", 1, 12, false, false), Deny, &["is high risk and not allowed"])]);
        }
    }
    let extra = RegoPolicyGate::new()
        .unwrap()
        .with_data(json!({"aiops": {"extra_high_risk_actions": ["scale_replicas"]}}))
        .unwrap();
    check(
        &extra,
        &[(("scale_replicas", "dev", 1.0, "shop", 1, 12, false, false), Deny, &["scale_replicas is high risk"])],
    );
}

#[test]
fn delete_pod_is_consistent_with_restart_pod() {
    let g = RegoPolicyGate::new().unwrap();
    for env in ["dev", "staging", "prod"] {
        let a = g.decide(&input(("delete_pod", env, 10.0, "shop", 1, 12, false, false))).unwrap();
        let b = g.decide(&input(("restart_pod", env, 10.0, "shop", 1, 12, false, false))).unwrap();
        assert_eq!(a.decision, b.decision, "{env}");
    }
}

#[test]
fn original_style_user_policies_and_files() {
    // A policy in the original shape: allow / requires_approval (absent -> true) / deny.
    let rego = r#"package remediation
import rego.v1
default allow := false
allow if input.action_type == "restart_pod"
deny contains "only restarts" if input.action_type != "restart_pod"
"#;
    let mut i = input(("restart_pod", "dev", 10.0, "shop", 1, 12, false, false));
    assert_eq!(evaluate_policy(&i, Some(rego)).unwrap().decision, RequiresApproval);
    i["action_type"] = json!("scale_replicas");
    let d = evaluate_policy(&i, Some(rego)).unwrap();
    assert_eq!((d.decision, d.reasons.as_slice()), (Deny, ["only restarts".to_string()].as_slice()));
    // A directory: .rego files plus .json data.
    let dir = std::env::temp_dir().join(format!("aiops-policy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("p.rego"), aiops_remediate::DEFAULT_POLICY).unwrap();
    std::fs::write(dir.join("data.json"), r#"{"aiops":{"protected_namespaces":["shop"]}}"#).unwrap();
    let g = RegoPolicyGate::from_path(&dir).unwrap();
    let d = g.decide(&input(("restart_pod", "prod", 10.0, "shop", 1, 12, false, false))).unwrap();
    assert_eq!(d.decision, Deny);
    assert!(d.reasons.iter().any(|r| r == "Namespace shop is protected"), "{:?}", d.reasons);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_policies_and_inputs_are_typed_errors() {
    assert!(matches!(
        evaluate_policy(&json!({}), Some("package remediation\nallow if {")),
        Err(aiops_remediate::RemediateError::Policy { .. })
    ));
    let good = input(("restart_pod", "dev", 10.0, "shop", 1, 12, false, false));
    for (field, value) in [
        ("action_type", json!(3)),
        ("blast_radius_score", json!("high")),
        ("blast_radius_score", json!(101)),
        ("current_hour", json!(24)),
        ("affected_replicas", json!(-1)),
        ("is_weekend", json!("no")),
        ("freeze_active", json!(1)),
    ] {
        let mut i = good.clone();
        i[field] = value;
        match evaluate_policy(&i, None) {
            Err(aiops_remediate::RemediateError::PolicyInput { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("namespace");
    assert!(evaluate_policy(&missing, None).is_err());
    assert!(evaluate_policy(&json!([1]), None).is_err());
    // A policy that decides nothing fails closed.
    let d = evaluate_policy(&good, Some("package remediation\nimport rego.v1\n")).unwrap();
    assert_eq!(d.decision, Deny);
    // freeze_active is optional and defaults to false.
    let mut no_freeze = good.clone();
    no_freeze.as_object_mut().unwrap().remove("freeze_active");
    assert_eq!(evaluate_policy(&no_freeze, None).unwrap().input["freeze_active"], false);
}
