//! The error type of `aiops-neo4j`.

use aiops_core::CoreError;

/// Everything that can go wrong between aiops and the graph database.
#[derive(Debug, thiserror::Error)]
pub enum Neo4jError {
    /// The configuration is unusable (bad URI, empty user, zero batch size, ...).
    #[error("invalid neo4j configuration: {0}")]
    Config(String),
    /// The driver could not be set up or the server did not answer.
    #[error("cannot connect to the graph database at {uri}: {source}")]
    Connect {
        /// The Bolt URI.
        uri: String,
        /// What the driver said.
        #[source]
        source: neo4rs::Error,
    },
    /// A statement failed on the server or on the wire.
    #[error("cypher statement `{step}` failed: {source}")]
    Query {
        /// Which statement (`merge nodes`, `expand`, ...).
        step: &'static str,
        /// What the driver said.
        #[source]
        source: neo4rs::Error,
    },
    /// A row did not have the expected shape.
    #[error("unexpected result of `{step}`: {message}")]
    Decode {
        /// Which statement.
        step: &'static str,
        /// What was wrong.
        message: String,
    },
    /// A node property uses a name this adapter reserves (`id`, `_kind`, `_name`,
    /// `_namespace`, `_json_*`).
    #[error("node {node}: property `{key}` is reserved by the graph store")]
    ReservedProperty {
        /// The node id.
        node: String,
        /// The property name.
        key: String,
    },
    /// A parameter value could not be encoded for Bolt.
    #[error("cannot encode parameters of `{step}` for Bolt: {source}")]
    Encode {
        /// Which statement.
        step: &'static str,
        /// What the driver said.
        #[source]
        source: neo4rs::Error,
    },
}

impl From<Neo4jError> for CoreError {
    fn from(e: Neo4jError) -> Self {
        CoreError::Graph(e.to_string())
    }
}

/// Result alias for this crate.
pub type Result<T, E = Neo4jError> = std::result::Result<T, E>;
