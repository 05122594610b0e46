//! `aiops-llm`: grounded LLM enrichment. The deterministic diagnosis stands alone; a model may
//! only narrate it, re-rank it within bounds and add hypotheses that cite existing evidence.
//!
//! This crate builds the compact, redacted prompt input ([`summary::PromptInput`]) and holds
//! the [`redact::Redactor`] every outgoing string passes.

pub mod error;
pub mod redact;
pub mod summary;

pub use error::LlmError;
pub use redact::Redactor;
pub use summary::{Limits, PromptInput, estimate_tokens};
