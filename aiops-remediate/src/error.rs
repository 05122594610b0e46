//! The one error type of this crate.

/// Everything that can go wrong while remediating.
#[derive(Debug, thiserror::Error)]
pub enum RemediateError {
    /// A policy file or data document could not be loaded.
    #[error("policy {path}: {message}")]
    Policy {
        /// Where the policy came from.
        path: String,
        /// The Rego engine's message.
        message: String,
    },
    /// The policy input document is malformed.
    #[error("policy input: field `{field}` {problem}")]
    PolicyInput {
        /// The offending field.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
    /// Evaluating the policy failed (the gate fails closed: deny).
    #[error("policy evaluation failed: {0}")]
    PolicyEval(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// JSON could not be parsed or produced.
    #[error("{context}: {source}")]
    Json {
        /// What was being parsed.
        context: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// The action cannot be executed as proposed.
    #[error("action {action}: {message}")]
    InvalidAction {
        /// The action.
        action: String,
        /// Why.
        message: String,
    },
    /// The Kubernetes API refused or failed a request.
    #[error("kubernetes: {0}")]
    Kube(String),
    /// An HTTP integration (Slack, Jira, Prometheus) failed.
    #[error("{service}: {message}")]
    Http {
        /// Which service.
        service: &'static str,
        /// What happened.
        message: String,
    },
    /// The circuit breaker stopped an automatic action.
    #[error("circuit breaker open: {0}")]
    CircuitOpen(String),
    /// The audit log is broken.
    #[error("audit: {0}")]
    Audit(String),
    /// The execution ledger could not be read or written.
    #[error("ledger: {0}")]
    Ledger(String),
    /// An approval could not be requested, or a decision was refused (bad signature, stale,
    /// replayed, unknown approver, expired).
    #[error("approval: {0}")]
    Approval(String),
}

/// The crate's result type.
pub type Result<T, E = RemediateError> = std::result::Result<T, E>;

impl RemediateError {
    pub(crate) fn json(context: impl Into<String>, source: serde_json::Error) -> Self {
        Self::Json { context: context.into(), source }
    }

    pub(crate) fn io(path: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }
}
