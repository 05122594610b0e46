//! `aiops-llm`: grounded LLM enrichment. The deterministic diagnosis stands alone; a model may
//! only narrate it, re-rank it within bounds and add hypotheses that cite existing evidence.
//!
//! One [`Enricher`] (an [`aiops_core::traits::LlmEnricher`]) over three provider wire formats
//! ([`OpenAi`]-compatible chat completions, [`Gemini`] `generateContent`, [`Ollama`]
//! `/api/chat`), each asked for structured output the way it supports it and parsed strictly.
//! The prompt is a compact summary ([`PromptInput`]) every string of which passed the
//! [`Redactor`]; answers are cached by evidence digest and model ([`Cache`]). What the model
//! proposes is validated by the engine ([`aiops_core::enrichment::review`]).
//!
//! ```
//! use aiops_llm::{Enricher, EnricherConfig, Ollama, RunWhen};
//!
//! let enricher = Enricher::new(Ollama::new("llama3.1:8b").host("localhost:11434"))?
//!     .config(EnricherConfig { when: RunWhen::Always, ..EnricherConfig::default() });
//! let engine = aiops_core::Engine::builder()
//!     .rules(aiops_rca::RulesEngine::builtin())
//!     .llm(enricher)
//!     .build()?;
//! # drop(engine);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod cache;
pub mod config;
pub mod enricher;
pub mod error;
pub mod parse;
pub mod prompt;
pub mod provider;
pub mod redact;
pub mod summary;

pub use cache::Cache;
pub use config::LlmSettings;
pub use enricher::{
    DEFAULT_THRESHOLD, Enricher, EnricherConfig, GeminiEnricher, OllamaEnricher, OpenAiEnricher, RunWhen,
};
pub use error::LlmError;
pub use parse::parse_answer;
pub use provider::{Gemini, Ollama, OpenAi, Provider};
pub use redact::Redactor;
pub use summary::{Limits, PromptInput, estimate_tokens};
