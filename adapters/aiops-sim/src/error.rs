//! The error type of `aiops-sim`.

/// Everything that can go wrong starting or feeding the simulator.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The bundle could not be read or parsed.
    #[error("bundle: {0}")]
    Bundle(#[from] aiops_core::CoreError),
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The listen address could not be bound or served.
    #[error("cannot serve on {addr}: {source}")]
    Serve {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// An object of the bundle cannot be served (for example it has no name).
    #[error("object {0} cannot be served: {1}")]
    Object(String, String),
}
