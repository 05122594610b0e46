//! Policy decisions per second in process (one `RegoPolicyGate::decide` on the default policy),
//! and the per-callback cost of checking a Slack approval.

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;

fn decisions(c: &mut Criterion) {
    let gate = aiops_remediate::RegoPolicyGate::new().expect("default policy");
    let input = json!({
        "action_type": "rollback_deployment", "environment": "production", "namespace": "shop",
        "blast_radius_score": 40.0, "affected_replicas": 3, "current_hour": 12,
        "is_weekend": false, "freeze_active": false, "target": "Deployment/shop/checkout",
    });
    c.bench_function("policy_decision_default_policy", |b| {
        b.iter(|| gate.decide(std::hint::black_box(&input)).expect("decision"))
    });
}

/// One Slack callback check: the v0 HMAC-SHA256 signature and timestamp of a typical
/// interaction body, and the approval binding hash of the action it decides.
fn callback_checks(c: &mut Criterion) {
    use aiops_remediate::slack::{sign, verify_signature};
    let payload = json!({"type": "block_actions", "user": {"id": "U0LEAD"},
        "actions": [{"type": "button", "action_id": "approve_action", "value": "ab".repeat(32)}]});
    let body = format!("payload={}", payload);
    let now = jiff::Timestamp::from_second(1_772_625_600).expect("timestamp");
    let sig = sign("secret", "1772625600", body.as_bytes());
    c.bench_function("slack_signature_verification", |b| {
        b.iter(|| {
            verify_signature("secret", "1772625600", &sig, std::hint::black_box(body.as_bytes()), now).expect("valid")
        })
    });
    let action = aiops_core::model::RemediationAction {
        action: aiops_core::model::ActionType::RollbackDeployment,
        target: aiops_core::model::ResourceRef::namespaced("Deployment", "shop", "checkout"),
        parameters: [("to_revision".to_string(), json!(4))].into_iter().collect(),
        idempotency_key: "inc-1:rollback_deployment:Deployment/shop/checkout".into(),
    };
    c.bench_function("approval_binding_hash", |b| {
        b.iter(|| aiops_remediate::approve::binding(std::hint::black_box(&action), 1))
    });
}

criterion_group!(benches, decisions, callback_checks);
criterion_main!(benches);
