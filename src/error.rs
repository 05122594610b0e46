//! The facade's error type (live runs, the demo, capture).

/// What can go wrong in the facade's live commands.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An analysis failed (bad bundle, missing component).
    #[error(transparent)]
    Core(#[from] aiops_core::CoreError),
    /// A collector could not be set up or failed.
    #[error(transparent)]
    Collector(#[from] aiops_collectors::CollectorError),
    /// The simulated cluster could not start.
    #[cfg(feature = "sim")]
    #[error(transparent)]
    Sim(#[from] aiops_sim::SimError),
    /// A named thing does not exist (a demo scenario, a file).
    #[error("{0}")]
    NotFound(String),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Anything else, explained.
    #[error("{0}")]
    Other(String),
}
