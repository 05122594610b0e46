//! The crate's error type.

/// Everything that can go wrong while enriching a diagnosis with a model.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// The configuration (environment) is incomplete or invalid.
    #[error("LLM configuration: {0}")]
    Config(String),
}
