//! Benchmark: the size of the LLM prompt (estimated tokens) the enricher would send for the
//! generated 10,000-pod bundle and for each example bundle, built by the real pipeline (the
//! prompt is captured inside an `LlmEnricher` that makes no call). Target: under 4,000 tokens
//! each. Prints a Markdown table (the README's numbers) and the time to build each prompt.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use aiops::core::enrichment::{Enrichment, EnrichmentOutcome};
use aiops::core::traits::{AnalysisContext, Diagnosis, LlmEnricher};
use aiops::llm::{Limits, PromptInput, Redactor, estimate_tokens, prompt::system_prompt};

/// One prompt: user tokens, bytes, hypotheses, evidence, log templates, build ms.
type Row = (usize, usize, usize, usize, usize, f64);

/// Captures the prompt the enricher would send.
#[derive(Default, Clone)]
struct Probe(Arc<Mutex<Option<Row>>>);

#[async_trait::async_trait]
impl LlmEnricher for Probe {
    async fn enrich(&self, ctx: &AnalysisContext<'_>, d: &Diagnosis) -> Enrichment {
        let started = Instant::now();
        let input = PromptInput::build(ctx, d, &mut Redactor::new(), Limits::default());
        let ms = started.elapsed().as_secs_f64() * 1e3;
        let json = input.to_json();
        let row = (
            estimate_tokens(&json),
            json.len(),
            input.hypotheses.len(),
            input.evidence.len(),
            input.log_templates.len(),
            ms,
        );
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(row);
        Enrichment::without_call("probe", "none", EnrichmentOutcome::Skipped("measuring".into()))
    }
    fn provider(&self) -> &str {
        "probe"
    }
    fn model(&self) -> &str {
        "none"
    }
}

fn measure(rt: &tokio::runtime::Runtime, name: &str, bytes: &[u8]) {
    let Ok(bundle) = aiops::core::parse_bundle(bytes) else { return };
    let pods = bundle.inventory.pods.len();
    let probe = Probe::default();
    let engine = aiops::default_engine()
        .collector(aiops::collectors::BundleCollector::from_bundle(bundle))
        .llm(probe.clone())
        .build();
    let Ok(engine) = engine else { return };
    if rt.block_on(engine.analyze(Default::default())).is_err() {
        return;
    }
    let system = estimate_tokens(&system_prompt());
    if let Some((user, bytes, h, e, t, ms)) = *probe.0.lock().unwrap_or_else(|e| e.into_inner()) {
        println!("| {name} | {pods} | {user} | {} | {bytes} | {h} / {e} / {t} | {ms:.2} |", user + system);
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    println!("system prompt: ~{} tokens (the same for every incident)\n", estimate_tokens(&system_prompt()));
    println!(
        "| bundle | pods | user message tokens | total tokens | user message bytes | hypotheses / evidence / log templates | build ms |"
    );
    println!("|---|---|---|---|---|---|---|");
    let big = serde_json::to_vec(&aiops::synth::bundle(aiops::synth::Size::BENCH)).unwrap_or_default();
    measure(&rt, "generated 10,000 pods", &big);
    let mut examples: Vec<_> =
        std::fs::read_dir("examples/bundles").into_iter().flatten().flatten().map(|e| e.path()).collect();
    examples.sort();
    for p in examples.iter().filter(|p| p.extension().is_some_and(|x| x == "json")) {
        let name = p.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
        measure(&rt, &name, &std::fs::read(p).unwrap_or_default());
    }
}
