//! An example rule crate: how a team adds its own diagnosis rules to aiops from outside the
//! aiops crates, as Rust code ([`SingleReplicaCrash`]) and as data ([`RULES_YAML`]).
//!
//! ```
//! let engine = aiops_example_rule::engine().unwrap();
//! assert!(engine.rule_ids().contains(&"example_single_replica_crash"));
//! ```

use aiops::core::Cause;
use aiops::core::model::{ActionType, EvidenceKind};
use aiops::rca::rules::{Finding, Rule, RuleContext};
use aiops::rca::{RcaError, RulesEngine};

/// This crate's data rules.
pub const RULES_YAML: &str = include_str!("../rules.yaml");

/// A Deployment with a single replica whose only pod crash-loops: a full outage, not a blip.
#[derive(Debug, Clone, Copy)]
pub struct SingleReplicaCrash;

impl Rule for SingleReplicaCrash {
    fn id(&self) -> &str {
        "example_single_replica_crash"
    }

    fn evaluate(&self, ctx: &RuleContext<'_>) -> Vec<Finding> {
        let inv = ctx.analysis.inventory;
        ctx.signals
            .items
            .iter()
            .filter(|s| s.evidence.kind == EvidenceKind::ContainerWaiting && s.reason() == Some("CrashLoopBackOff"))
            .filter(|s| s.subject.kind == "Deployment")
            .filter(|s| {
                inv.deployments.iter().any(|d| {
                    d.metadata.name.as_deref() == Some(&s.subject.name)
                        && d.metadata.namespace == s.subject.namespace
                        && d.spec.replicas == Some(1)
                })
            })
            .map(|s| Finding {
                rule: self.id().into(),
                cause: Cause::CrashAppError,
                category: Cause::CrashAppError.category(),
                title: "Single replica down".into(),
                description: "The only replica of the Deployment crash-loops: the service is fully down".into(),
                base_confidence: 0.6,
                strengths: vec![0.9],
                resource: s.subject.clone(),
                evidence: vec![s.evidence.id.clone()],
                contradicting: vec![],
                actions: vec![ActionType::RollbackDeployment],
                next_checks: vec!["Run more than one replica".into()],
            })
            .collect()
    }
}

/// The built-in rules plus this crate's.
pub fn engine() -> Result<RulesEngine, RcaError> {
    RulesEngine::builtin().add_rule(SingleReplicaCrash)?.add_rule_file(RULES_YAML)
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_yaml_rule_fires_on_a_jvm_heap_error_and_not_without_it() {
        let with_log = r#"{"capturedAt":"2026-03-01T10:45:00Z","objects":[
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"api-1","namespace":"shop"},"spec":{"containers":[{"name":"api"}]},
             "status":{"phase":"Running","containerStatuses":[{"name":"api","ready":true,"restartCount":0,"image":"i","imageID":"","state":{"running":{}}}]}}],
            "logs":[{"namespace":"shop","pod":"api-1","container":"api","text":"java.lang.OutOfMemoryError: Java heap space"}]}"#;
        let without = with_log.replace("java.lang.OutOfMemoryError: Java heap space", "started in 2.1s");
        for (bundle, fires) in [(with_log.to_string(), true), (without, false)] {
            let b = aiops::core::parse_bundle(bundle.as_bytes()).unwrap();
            let engine = aiops::default_engine()
                .rules(super::engine().unwrap())
                .collector(aiops::collectors::BundleCollector::from_bundle(b))
                .build()
                .unwrap();
            let report = engine.analyze(Default::default()).await.unwrap();
            let fired = report.hypotheses.iter().any(|h| h.rule == "example_jvm_heap_exhausted");
            assert_eq!(fired, fires, "{:?}", report.hypotheses);
        }
    }
}
