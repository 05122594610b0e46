//! `aiops` is the facade: it re-exports the crates, wires the embedded default [`Engine`]
//! (bundle collector, built-in rules, runbook, planner), renders reports as text, runs the
//! evaluation harness, and holds the `aiops` command line.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let bundle = aiops::core::parse_bundle(br#"{"capturedAt":"2026-03-01T10:45:00Z","objects":[]}"#)?;
//! let report = aiops::analyze_bundle(bundle).await?;
//! assert_eq!(report.hypotheses[0].cause, aiops::core::Cause::Unknown);
//! # Ok::<(), aiops::core::CoreError>(())
//! # }).unwrap();
//! ```

#[cfg(feature = "cli")]
pub mod capture;
#[cfg(feature = "cli")]
pub mod cli;
#[cfg(all(feature = "sim", feature = "live"))]
pub mod demo;
pub mod error;
pub mod eval;
#[cfg(feature = "live")]
pub mod live;
#[cfg(feature = "cli")]
pub mod live_cli;
#[cfg(feature = "server")]
pub mod serve;
pub mod synth;
#[cfg(feature = "cli")]
pub mod telemetry;
pub mod text;

pub use aiops_collectors as collectors;
pub use aiops_core as core;
#[cfg(feature = "llm")]
pub use aiops_llm as llm;
pub use aiops_rca as rca;
pub use aiops_remediate as remediate;
pub use error::Error;

use std::sync::{Arc, OnceLock};

use aiops_collectors::BundleCollector;
use aiops_core::{AnalysisInput, Engine, EngineBuilder, IncidentBundle, Report};

/// The built-in rules catalogue, parsed and compiled once per process and shared (parsing it
/// cost more than analysing a small bundle).
pub fn builtin_rules() -> Arc<aiops_rca::RulesEngine> {
    static RULES: OnceLock<Arc<aiops_rca::RulesEngine>> = OnceLock::new();
    RULES.get_or_init(|| Arc::new(aiops_rca::RulesEngine::builtin())).clone()
}

/// The embedded default pipeline without collectors: built-in rules, runbook, planner and the
/// shipped Rego policy gate.
pub fn default_engine() -> EngineBuilder {
    Engine::builder()
        .rules(builtin_rules())
        .runbook(aiops_rca::DefaultRunbook::default())
        .planner(aiops_remediate::DefaultPlanner)
        .policy_gate(aiops_remediate::RegoPolicyGate::shipped())
}

/// Adds the LLM enricher configured in the environment (`LLM_PROVIDER`, `LLM_MODEL`, ...; see
/// the README) to `builder`, with the rule catalogue bounding the actions it may propose.
/// Unconfigured, the builder is returned unchanged, unless `explain` asks for an explanation,
/// which is then an error. With `explain` the model is asked whatever the confidence;
/// otherwise only when the top confidence is under `LLM_CONFIDENCE_THRESHOLD`.
#[cfg(feature = "llm")]
pub fn with_llm(builder: EngineBuilder, explain: bool) -> Result<EngineBuilder, Error> {
    let settings = aiops_llm::LlmSettings::from_env().map_err(|e| Error::Other(e.to_string()))?;
    match settings {
        Some(s) => {
            let enricher = s.enricher(explain).map_err(|e| Error::Other(e.to_string()))?;
            Ok(builder.llm(enricher).action_catalogue(aiops_rca::action_catalogue()))
        }
        None if explain => Err(Error::Other("--explain needs LLM_PROVIDER (openai, gemini or ollama)".into())),
        None => Ok(builder),
    }
}

/// Without the `llm` feature there is no enricher; `explain` is an error.
#[cfg(not(feature = "llm"))]
pub fn with_llm(builder: EngineBuilder, explain: bool) -> Result<EngineBuilder, Error> {
    if explain {
        return Err(Error::Other("--explain needs aiops built with the `llm` feature".into()));
    }
    Ok(builder)
}

/// Diagnoses one parsed bundle with the embedded default pipeline.
pub async fn analyze_bundle(bundle: IncidentBundle) -> aiops_core::Result<Report> {
    default_engine().collector(BundleCollector::from_bundle(bundle)).build()?.analyze(AnalysisInput::default()).await
}

/// The README's Rust examples are compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
