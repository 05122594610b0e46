//! `aiops policy eval` and `aiops audit verify` from the command line.

mod common;

use common::{aiops, temp_file};

#[test]
fn policy_eval_prints_the_decision_with_every_reason() {
    let input = temp_file(
        "policy-input.json",
        br#"{"action_type":"restart_pod","environment":"prod","namespace":"kube-system",
            "blast_radius_score":60,"affected_replicas":1,"current_hour":12,"is_weekend":false,
            "freeze_active":false}"#,
    );
    let out = aiops(&["policy", "eval", "--input", input.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["decision"], "deny");
    let reasons: Vec<&str> = v["reasons"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    assert_eq!(reasons, ["Blast radius score 60 exceeds threshold", "Namespace kube-system is protected"]);

    let policy = temp_file(
        "allow-all.rego",
        b"package remediation\nimport rego.v1\nresult := {\"decision\": \"allow\", \"reasons\": [\"custom\"]}\n",
    );
    let out = aiops(&["policy", "eval", "--input", input.to_str().unwrap(), "--policy", policy.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((v["decision"].as_str(), v["reasons"][0].as_str()), (Some("allow"), Some("custom")));
}

#[test]
fn policy_eval_rejects_bad_input_with_a_clear_error() {
    let input = temp_file("policy-bad.json", br#"{"action_type":"restart_pod","environment":"prod"}"#);
    let out = aiops(&["policy", "eval", "--input", input.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("field `namespace` is missing"));
    let out = aiops(&["policy", "eval", "--input", "/nonexistent.json"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn audit_verify_detects_an_altered_record() {
    use aiops_remediate::audit::{AuditLog, AuditSink};
    let path = std::env::temp_dir().join(format!("aiops-cli-audit-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let log = AuditLog::with_file(&path).unwrap();
    log.append("inc-1", "policy", serde_json::json!({"decision": "requires_approval"})).unwrap();
    log.append("inc-1", "approval", serde_json::json!({"by": "U123"})).unwrap();
    let p = path.to_str().unwrap();
    let out = aiops(&["audit", "verify", p, "--head", &log.head()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok: 2 records"));
    std::fs::write(&path, std::fs::read_to_string(&path).unwrap().replace("U123", "U999")).unwrap();
    let out = aiops(&["audit", "verify", p]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("record 1 (approval) was altered"));
    let first_line = std::fs::read_to_string(&path).unwrap().lines().next().unwrap().to_string();
    std::fs::write(&path, format!("{first_line}\n")).unwrap();
    let out = aiops(&["audit", "verify", p, "--head", &log.head()]);
    assert_eq!(out.status.code(), Some(1), "a cut tail is detected with --head");
    std::fs::remove_file(&path).unwrap();
}
