//! The crate's error type.

/// What can go wrong in the adapter.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration value is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Talking to Temporal (connect, start, worker) failed.
    #[error("temporal: {0}")]
    Temporal(String),
    /// The input is invalid (a bundle that does not parse); never retried.
    #[error("invalid input: {0}")]
    Invalid(String),
    /// The analysis failed.
    #[error("analysis: {0}")]
    Analysis(String),
    /// The recording log could not be read or written.
    #[error("recording log {path}: {source}")]
    Log {
        /// The log file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;
