//! `aiops-neo4j`: a [`GraphStore`] on a shared Neo4j-compatible graph database, over Bolt
//! with [neo4rs](https://docs.rs/neo4rs).
//!
//! The graph model is the original design's (§5) with its bugs fixed:
//! - one label per node kind (`Incident`, `Pod`, `Deployment`, `ReplicaSet`, `Node`, `HPA`,
//!   `ChangeEvent`, `ConfigMap`, ...), the id in `id` with the original formats
//!   (`incident:{id}`, `pod:{ns}:{name}`, `node:{name}`, `change:...`), a unique constraint on
//!   `id` for **every** label, and the `Incident(fingerprint)` index is actually populated;
//! - the incident lookup uses the stored id `incident:{id}` (the original looked up the plain
//!   id and never matched, so the graph endpoint was always empty);
//! - the ownership (`OWNS`: Deployment -> ReplicaSet -> Pod), selection (`SELECTS`: Service ->
//!   Pod) and mount (`MOUNTS`: Pod -> ConfigMap/Secret/PVC) edges are written, with every other
//!   [`EdgeKind`](aiops_core::graph::EdgeKind) of the evidence graph;
//! - writes are batched, `UNWIND $rows AS r MERGE ...` per label and per relationship type, all
//!   in **one transaction per incident**; relationship endpoints are matched by label (index
//!   lookups), not by a label-less full scan;
//! - the subgraph by depth is a breadth-first walk issued as one batched query per level and
//!   label, so it needs no APOC plugin.
//!
//! ```no_run
//! # async fn demo() -> Result<(), aiops_neo4j::Neo4jError> {
//! use aiops_neo4j::{Neo4jConfig, Neo4jGraphStore};
//! let store = Neo4jGraphStore::connect(Neo4jConfig::new("127.0.0.1:7687", "neo4j", "secret")).await?;
//! let graph = store.incident_graph("7f3c", 3).await?;
//! # let _ = graph; Ok(()) }
//! ```

mod cypher;
mod error;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aiops_core::graph::{EdgeKind, GraphEdge, GraphNode, GraphSnapshot, GraphStore, NodeKind, incident_node_id};
use async_trait::async_trait;
use neo4rs::{BoltType, ConfigBuilder, Graph, Query, Row, Txn};
use serde_json::{Map, Value};
use tracing::Instrument;

pub use error::{Neo4jError, Result};

/// How to reach the graph database.
#[derive(Debug, Clone)]
pub struct Neo4jConfig {
    /// Bolt address: `host:port` or `bolt://host:port` / `neo4j://host:port`.
    pub uri: String,
    /// User name.
    pub user: String,
    /// Password.
    pub password: String,
    /// Database name; `None` uses the server's default database.
    pub database: Option<String>,
    /// Rows per `UNWIND` statement (writes) and ids per lookup statement (reads).
    pub batch_size: usize,
    /// Connections in the driver's pool.
    pub max_connections: usize,
}

impl Neo4jConfig {
    /// A configuration with the default database, batches of 1,000 rows and 8 connections.
    pub fn new(uri: impl Into<String>, user: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            uri: uri.into(),
            user: user.into(),
            password: password.into(),
            database: None,
            batch_size: 1000,
            max_connections: 8,
        }
    }

    /// Uses the named database.
    pub fn database(mut self, name: impl Into<String>) -> Self {
        self.database = Some(name.into());
        self
    }

    /// Sets the batch size (rows per statement).
    pub fn batch_size(mut self, rows: usize) -> Self {
        self.batch_size = rows;
        self
    }
}

/// A [`GraphStore`] on Neo4j (or any server speaking Bolt v4 and Neo4j 5 Cypher, such as
/// ArcadeDB). Cheap to clone: clones share the driver's connection pool.
#[derive(Clone)]
pub struct Neo4jGraphStore {
    graph: Graph,
    batch_size: usize,
}

impl std::fmt::Debug for Neo4jGraphStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Neo4jGraphStore").field("batch_size", &self.batch_size).finish_non_exhaustive()
    }
}

impl Neo4jGraphStore {
    /// Connects, checks that the server answers, and creates the unique `id` constraint of
    /// every node label and the secondary indexes (idempotent: `IF NOT EXISTS`).
    #[tracing::instrument(name = "neo4j.connect", skip_all, fields(uri = %config.uri))]
    pub async fn connect(config: Neo4jConfig) -> Result<Self> {
        if config.batch_size == 0 || config.max_connections == 0 {
            return Err(Neo4jError::Config("batch_size and max_connections must be at least 1".into()));
        }
        let mut builder = ConfigBuilder::default()
            .uri(config.uri.as_str())
            .user(config.user.as_str())
            .password(config.password.as_str())
            .max_connections(config.max_connections);
        if let Some(db) = &config.database {
            builder = builder.db(db.as_str());
        }
        let connect_err = |source| Neo4jError::Connect { uri: config.uri.clone(), source };
        let driver = builder.build().map_err(connect_err)?;
        let graph = Graph::connect(driver).map_err(connect_err)?;
        let store = Self { graph, batch_size: config.batch_size };
        store.ping().await?;
        store.ensure_schema().await?;
        Ok(store)
    }

    /// Creates the constraints and indexes unless they exist.
    #[tracing::instrument(name = "neo4j.schema", skip_all)]
    pub async fn ensure_schema(&self) -> Result<()> {
        let statements = NodeKind::ALL.iter().map(|k| cypher::constraint(*k)).chain(cypher::indexes());
        for statement in statements {
            self.graph
                .run(Query::new(statement))
                .await
                .map_err(|source| Neo4jError::Query { step: "schema", source })?;
        }
        Ok(())
    }

    /// Runs the liveness probe.
    pub async fn ping(&self) -> Result<()> {
        let rows = self.fetch(Query::new(cypher::HEALTH.into()), "health").await?;
        match rows.first().and_then(|r| r.get::<i64>("ok").ok()) {
            Some(1) => Ok(()),
            _ => Err(Neo4jError::Decode { step: "health", message: "`RETURN 1` did not return 1".into() }),
        }
    }

    /// Merges an incident's graph in one transaction: nodes per label, then relationships per
    /// type and endpoint labels, each as batched `UNWIND ... MERGE` statements.
    pub async fn put_graph(&self, incident_id: &str, snapshot: &GraphSnapshot) -> Result<()> {
        let span = tracing::info_span!(
            "neo4j.put",
            incident = incident_id,
            nodes = snapshot.nodes.len(),
            edges = snapshot.edges.len()
        );
        async {
            let statements = self.write_statements(snapshot)?;
            let mut txn = self.graph.start_txn().await.map_err(|source| Neo4jError::Query { step: "begin", source })?;
            match run_all(&mut txn, statements).await {
                Ok(()) => txn.commit().await.map_err(|source| Neo4jError::Query { step: "commit", source }),
                Err(e) => {
                    if let Err(rollback) = txn.rollback().await {
                        tracing::warn!(error = %rollback, "rollback failed");
                    }
                    Err(e)
                }
            }
        }
        .instrument(span)
        .await
    }

    fn write_statements(&self, snapshot: &GraphSnapshot) -> Result<Vec<(&'static str, Query)>> {
        let mut by_kind: BTreeMap<NodeKind, Vec<Value>> = BTreeMap::new();
        let mut kinds: HashMap<&str, NodeKind> = HashMap::with_capacity(snapshot.nodes.len());
        for node in &snapshot.nodes {
            kinds.insert(node.id.as_str(), node.kind);
            let row = serde_json::json!({ "id": node.id, "props": cypher::node_props(node)? });
            by_kind.entry(node.kind).or_default().push(row);
        }
        type EdgeGroup = (EdgeKind, Option<NodeKind>, Option<NodeKind>);
        let mut by_type: BTreeMap<EdgeGroup, Vec<Value>> = BTreeMap::new();
        let kind_of = |id: &str| kinds.get(id).copied().or_else(|| cypher::kind_of_id(id));
        for edge in &snapshot.edges {
            let key = (edge.kind, kind_of(&edge.source), kind_of(&edge.target));
            by_type.entry(key).or_default().push(serde_json::json!({ "s": edge.source, "t": edge.target }));
        }
        let mut out = Vec::new();
        for (kind, rows) in by_kind {
            for chunk in rows.chunks(self.batch_size) {
                out.push(("merge nodes", rows_query(cypher::merge_nodes(kind), "rows", chunk, "merge nodes")?));
            }
        }
        for ((kind, source, target), rows) in by_type {
            for chunk in rows.chunks(self.batch_size) {
                let statement = cypher::merge_edges(kind, source, target);
                out.push(("merge relationships", rows_query(statement, "rows", chunk, "merge relationships")?));
            }
        }
        Ok(out)
    }

    /// The subgraph within `depth` hops of `incident:{incident_id}`, both directions, with
    /// every relationship between its nodes: what `GET /api/v1/incidents/{id}/graph` returns.
    /// Empty when the incident is not stored.
    pub async fn incident_graph(&self, incident_id: &str, depth: usize) -> Result<GraphSnapshot> {
        let span = tracing::info_span!("neo4j.subgraph", incident = incident_id, depth);
        self.subgraph_of(&incident_node_id(incident_id), NodeKind::Incident, depth).instrument(span).await
    }

    async fn subgraph_of(&self, start: &str, kind: NodeKind, depth: usize) -> Result<GraphSnapshot> {
        if self.fetch_node(start, Some(kind)).await?.is_none() {
            return Ok(GraphSnapshot::default());
        }
        // id -> label of every node reached so far.
        let mut seen: HashMap<String, String> = HashMap::from([(start.to_string(), cypher::label(kind).to_string())]);
        let mut frontier: Vec<String> = vec![start.to_string()];
        let mut edges: BTreeSet<GraphEdge> = BTreeSet::new();
        for level in 0..=depth {
            if frontier.is_empty() {
                break;
            }
            let mut next = Vec::new();
            for (label, ids) in group_by_label(&frontier, &seen) {
                for chunk in ids.chunks(self.batch_size) {
                    let q = ids_query(cypher::expand(&label), chunk)?;
                    for row in self.fetch(q, "expand").await? {
                        let (b, labels, edge) = decode_step(&row)?;
                        if let Some(edge) = edge {
                            edges.insert(edge);
                        }
                        // The last level only collects relationships among the nodes reached.
                        if level < depth && !seen.contains_key(&b) {
                            let label = labels.into_iter().next().unwrap_or_default();
                            seen.insert(b.clone(), label);
                            next.push(b);
                        }
                    }
                }
            }
            frontier = next;
        }
        edges.retain(|e| seen.contains_key(&e.source) && seen.contains_key(&e.target));
        let all: Vec<String> = seen.keys().cloned().collect();
        let mut nodes = Vec::with_capacity(all.len());
        for (label, ids) in group_by_label(&all, &seen) {
            for chunk in ids.chunks(self.batch_size) {
                for row in self.fetch(ids_query(cypher::fetch_nodes(&label), chunk)?, "fetch nodes").await? {
                    nodes.push(decode_node(&row, "fetch nodes")?);
                }
            }
        }
        nodes.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(GraphSnapshot { nodes, edges: edges.into_iter().collect() })
    }

    /// One node by id (matched by the label its id prefix names, else by id alone).
    pub async fn fetch_node(&self, id: &str, kind: Option<NodeKind>) -> Result<Option<GraphNode>> {
        let q = Query::new(cypher::fetch_node(kind.or_else(|| cypher::kind_of_id(id)))).param("id", id);
        let rows = self.fetch(q, "fetch node").await?;
        rows.first().map(|r| decode_node(r, "fetch node")).transpose()
    }

    /// Deletes the incident node and its relationships; shared nodes stay. True if it existed.
    #[tracing::instrument(name = "neo4j.delete_incident", skip(self))]
    pub async fn delete_incident_node(&self, incident_id: &str) -> Result<bool> {
        let q = Query::new(cypher::DELETE_INCIDENT.into()).param("id", incident_node_id(incident_id));
        Ok(!self.fetch(q, "delete incident").await?.is_empty())
    }

    /// Runs a statement and collects its rows (the stream, and its pooled connection, is
    /// released before returning).
    async fn fetch(&self, q: Query, step: &'static str) -> Result<Vec<Row>> {
        let mut stream = self.graph.execute(q).await.map_err(|source| Neo4jError::Query { step, source })?;
        let mut rows = Vec::new();
        while let Some(row) = stream.next().await.map_err(|source| Neo4jError::Query { step, source })? {
            rows.push(row);
        }
        Ok(rows)
    }
}

async fn run_all(txn: &mut Txn, statements: Vec<(&'static str, Query)>) -> Result<()> {
    for (step, q) in statements {
        txn.run(q).await.map_err(|source| Neo4jError::Query { step, source })?;
    }
    Ok(())
}

fn to_bolt(value: Value, step: &'static str) -> Result<BoltType> {
    BoltType::try_from(value).map_err(|source| Neo4jError::Encode { step, source })
}

fn rows_query(statement: String, param: &str, rows: &[Value], step: &'static str) -> Result<Query> {
    Ok(Query::new(statement).param(param, to_bolt(Value::Array(rows.to_vec()), step)?))
}

fn ids_query(statement: String, ids: &[String]) -> Result<Query> {
    Ok(Query::new(statement).param("ids", ids.to_vec()))
}

fn group_by_label(ids: &[String], labels: &HashMap<String, String>) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for id in ids {
        let label = labels.get(id).cloned().unwrap_or_default();
        out.entry(label).or_default().push(id.clone());
    }
    out
}

type Step = (String, Vec<String>, Option<GraphEdge>);

/// One row of [`cypher::expand`]: `(b, labels of b, the relationship if it is one of ours)`.
fn decode_step(row: &Row) -> Result<Step> {
    let get = |key: &str| -> Result<String> {
        row.get::<String>(key).map_err(|e| Neo4jError::Decode { step: "expand", message: format!("{key}: {e}") })
    };
    let (a, t, b) = (get("a")?, get("t")?, get("b")?);
    let out =
        row.get::<bool>("out").map_err(|e| Neo4jError::Decode { step: "expand", message: format!("out: {e}") })?;
    let labels = row.get::<Vec<String>>("l").unwrap_or_default();
    let edge = EdgeKind::parse(&t).map(|kind| {
        let (source, target) = if out { (a.clone(), b.clone()) } else { (b.clone(), a.clone()) };
        GraphEdge { source, target, kind }
    });
    Ok((b, labels, edge))
}

fn decode_node(row: &Row, step: &'static str) -> Result<GraphNode> {
    let props = row
        .get::<Map<String, Value>>("p")
        .map_err(|e| Neo4jError::Decode { step, message: format!("properties: {e}") })?;
    let labels = row.get::<Vec<String>>("l").unwrap_or_default();
    cypher::node_from_props(props, &labels, step)
}

#[async_trait]
impl GraphStore for Neo4jGraphStore {
    async fn put(&self, incident_id: &str, graph: &GraphSnapshot) -> aiops_core::Result<()> {
        Ok(self.put_graph(incident_id, graph).await?)
    }

    async fn subgraph(&self, incident_id: &str, depth: usize) -> aiops_core::Result<GraphSnapshot> {
        Ok(self.incident_graph(incident_id, depth).await?)
    }

    async fn node(&self, id: &str) -> aiops_core::Result<Option<GraphNode>> {
        Ok(self.fetch_node(id, None).await?)
    }

    async fn delete_incident(&self, incident_id: &str) -> aiops_core::Result<bool> {
        Ok(self.delete_incident_node(incident_id).await?)
    }

    async fn health(&self) -> aiops_core::Result<()> {
        Ok(self.ping().await?)
    }
}
