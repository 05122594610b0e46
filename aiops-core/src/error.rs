//! The error type of `aiops-core`.

/// Everything that can go wrong in the core pipeline.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// Input that does not parse; `path` names the bad field (e.g. `objects[12].status`).
    #[error("invalid input at {path}: {message}")]
    Invalid {
        /// JSON path of the bad field (`.` when the document itself is bad).
        path: String,
        /// What is wrong.
        message: String,
    },
    /// Input larger than the configured limit.
    #[error("input of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Size seen.
        size: usize,
        /// Limit.
        limit: usize,
    },
    /// The engine was built without a required component.
    #[error("engine is missing a component: {0}")]
    MissingComponent(&'static str),
    /// A component failed.
    #[error("{component} failed: {message}")]
    Component {
        /// Which component (rule engine, policy gate, ...).
        component: String,
        /// What it said.
        message: String,
    },
    /// A graph store operation failed.
    #[error("graph store: {0}")]
    Graph(String),
}

impl CoreError {
    /// Builds an [`CoreError::Invalid`].
    pub fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        CoreError::Invalid { path: path.into(), message: message.into() }
    }

    /// Builds a [`CoreError::Component`].
    pub fn component(component: impl Into<String>, message: impl std::fmt::Display) -> Self {
        CoreError::Component { component: component.into(), message: message.to_string() }
    }
}

/// Result alias for the core crate.
pub type Result<T, E = CoreError> = std::result::Result<T, E>;
