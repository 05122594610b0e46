//! Policy decisions per second in process: one `RegoPolicyGate::decide` on the default policy.

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

criterion_group!(benches, decisions);
criterion_main!(benches);
