//! The crate's error type.

/// Everything that can go wrong while enriching a diagnosis with a model.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// The configuration (environment) is incomplete or invalid.
    #[error("LLM configuration: {0}")]
    Config(String),
    /// The request never got an HTTP answer (connection refused, reset, DNS, TLS).
    #[error("{url}: {reason}")]
    Transport {
        /// The endpoint (no credentials: keys go in headers).
        url: String,
        /// The root cause.
        reason: String,
    },
    /// One request took longer than the per-request timeout.
    #[error("{url}: no answer within {secs} s")]
    RequestTimeout {
        /// The endpoint.
        url: String,
        /// The per-request timeout.
        secs: u64,
    },
    /// The provider answered with an HTTP error.
    #[error("{url}: HTTP {status}: {body}")]
    Http {
        /// The endpoint.
        url: String,
        /// The status code.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// The provider's answer is not the documented response shape, or carries no text.
    #[error("provider response: {0}")]
    Response(String),
    /// The model's text is not the requested JSON object.
    #[error("the model's answer is not the requested JSON: {0}")]
    Parse(String),
}

impl LlmError {
    /// Whether trying again may help (network faults, timeouts, 408/429/5xx).
    pub fn is_retryable(&self) -> bool {
        match self {
            LlmError::Transport { .. } | LlmError::RequestTimeout { .. } => true,
            LlmError::Http { status, .. } => matches!(status, 408 | 409 | 429 | 500..=599),
            _ => false,
        }
    }
}
