//! Embedding aiops: build an Engine in code with your own collector and your own rule.
//!
//! Run: `cargo run --example embed`

use aiops::core::model::{ActionType, EvidenceKind};
use aiops::core::traits::{BoxError, CollectRequest, Collector};
use aiops::core::{AnalysisInput, Cause, Engine, Observations};
use aiops::rca::rules::{Finding, Rule, RuleContext};
use aiops::rca::{DefaultRunbook, RulesEngine};

/// A collector that serves one bundle from memory (yours would call your platform's APIs).
struct InMemory(Observations);

#[async_trait::async_trait]
impl Collector for InMemory {
    fn name(&self) -> &str {
        "in-memory"
    }
    async fn collect(&self, _req: &CollectRequest) -> Result<Observations, BoxError> {
        Ok(self.0.clone())
    }
}

/// A rule of your own: any container restarted more than 5 times is worth a look.
struct ManyRestarts;

impl Rule for ManyRestarts {
    fn id(&self) -> &str {
        "example_many_restarts"
    }
    fn evaluate(&self, ctx: &RuleContext<'_>) -> Vec<Finding> {
        let hits = ctx.signals.items.iter().filter(|s| {
            s.evidence.kind == EvidenceKind::ContainerLastTerminated
                && s.evidence.num("restart_count").is_some_and(|n| n > 5.0)
        });
        hits.map(|s| Finding {
            rule: self.id().into(),
            cause: Cause::CrashAppError,
            category: Cause::CrashAppError.category(),
            title: "Restarting a lot".into(),
            description: "A container restarted more than five times".into(),
            base_confidence: 0.5,
            strengths: vec![0.5],
            resource: s.subject.clone(),
            evidence: vec![s.evidence.id.clone()],
            contradicting: vec![],
            actions: vec![ActionType::EscalateToHuman],
            next_checks: vec![],
        })
        .collect()
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/bundles/crashloop-bad-deploy.json");
    let bundle = aiops::core::parse_bundle(&std::fs::read(path)?)?;
    let engine = Engine::builder()
        .collector(InMemory(bundle.into_observations()))
        .rules(RulesEngine::builtin().add_rule(ManyRestarts)?)
        .runbook(DefaultRunbook { grafana_url: "https://grafana.example.com".into() })
        .build()?;
    let report = engine.analyze(AnalysisInput::default()).await?;
    for h in &report.hypotheses {
        println!(
            "{}. {} on {:?} ({:.2}) [{}]",
            h.rank,
            h.cause,
            h.resource.as_ref().map(|r| r.to_string()),
            h.confidence,
            h.rule
        );
    }
    Ok(())
}
