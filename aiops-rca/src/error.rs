//! The error type of `aiops-rca`.

/// What can go wrong loading or running rules.
#[derive(Debug, thiserror::Error)]
pub enum RcaError {
    /// A rule file does not parse; `path` names the bad field.
    #[error("invalid rule file at {path}: {message}")]
    InvalidRules {
        /// JSON path of the bad field.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// Two rules share an id.
    #[error("duplicate rule id {0:?}")]
    DuplicateRule(String),
    /// A rule's regular expression does not compile.
    #[error("rule {rule}: invalid pattern {pattern:?}: {message}")]
    BadPattern {
        /// Rule id.
        rule: String,
        /// The pattern.
        pattern: String,
        /// Why.
        message: String,
    },
}
