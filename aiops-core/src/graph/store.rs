//! [`GraphStore`]: where evidence graphs are kept between requests, and its in-memory
//! implementation.

use std::sync::RwLock;

use async_trait::async_trait;

use super::{EvidenceGraph, GraphNode, GraphSnapshot, NodeKind, node_id};
use crate::error::{CoreError, Result};

/// A store of evidence graphs, shared across incidents (nodes are merged by id).
///
/// Every implementation must pass the conformance suite in `aiops_core::graph::conformance`.
#[async_trait]
pub trait GraphStore: Send + Sync {
    /// Merges an incident's graph into the store (idempotent).
    async fn put(&self, incident_id: &str, graph: &GraphSnapshot) -> Result<()>;
    /// The subgraph within `depth` hops of the incident node `incident:{incident_id}`.
    async fn subgraph(&self, incident_id: &str, depth: usize) -> Result<GraphSnapshot>;
    /// One node by id.
    async fn node(&self, id: &str) -> Result<Option<GraphNode>>;
    /// Removes the incident node (shared nodes stay).
    async fn delete_incident(&self, incident_id: &str) -> Result<bool>;
    /// Checks that the store answers.
    async fn health(&self) -> Result<()>;
}

/// The embedded default [`GraphStore`]: one [`EvidenceGraph`] behind a lock.
#[derive(Debug, Default)]
pub struct MemoryGraphStore {
    graph: RwLock<EvidenceGraph>,
}

impl MemoryGraphStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> Result<std::sync::RwLockReadGuard<'_, EvidenceGraph>> {
        self.graph.read().map_err(|_| CoreError::Graph("lock poisoned".into()))
    }

    fn write(&self) -> Result<std::sync::RwLockWriteGuard<'_, EvidenceGraph>> {
        self.graph.write().map_err(|_| CoreError::Graph("lock poisoned".into()))
    }
}

/// The graph id of an incident.
pub fn incident_node_id(incident_id: &str) -> String {
    node_id(NodeKind::Incident, None, incident_id)
}

#[async_trait]
impl GraphStore for MemoryGraphStore {
    async fn put(&self, _incident_id: &str, graph: &GraphSnapshot) -> Result<()> {
        self.write()?.merge(graph);
        Ok(())
    }

    async fn subgraph(&self, incident_id: &str, depth: usize) -> Result<GraphSnapshot> {
        Ok(self.read()?.subgraph(&incident_node_id(incident_id), depth))
    }

    async fn node(&self, id: &str) -> Result<Option<GraphNode>> {
        Ok(self.read()?.get(id).cloned())
    }

    async fn delete_incident(&self, incident_id: &str) -> Result<bool> {
        Ok(self.write()?.remove(&incident_node_id(incident_id)))
    }

    async fn health(&self) -> Result<()> {
        self.read().map(|_| ())
    }
}

/// The behaviour every [`GraphStore`] must show. Call [`conformance::run`] from a test
/// with a fresh store (feature `conformance`).
#[cfg(any(test, feature = "conformance"))]
pub mod conformance {
    use super::*;
    use crate::graph::{EdgeKind, GraphEdge};

    fn sample(incident: &str, pod: &str) -> GraphSnapshot {
        let inc = GraphNode::new(NodeKind::Incident, None, incident).with("title", "t");
        let p = GraphNode::new(NodeKind::Pod, Some("shop"), pod).with("phase", "Running");
        let rs = GraphNode::new(NodeKind::ReplicaSet, Some("shop"), "cart-7d9f");
        let d = GraphNode::new(NodeKind::Deployment, Some("shop"), "cart");
        let n = GraphNode::new(NodeKind::Node, None, "node-1");
        let edges = vec![
            GraphEdge { source: inc.id.clone(), target: p.id.clone(), kind: EdgeKind::Affects },
            GraphEdge { source: rs.id.clone(), target: p.id.clone(), kind: EdgeKind::Owns },
            GraphEdge { source: d.id.clone(), target: rs.id.clone(), kind: EdgeKind::Owns },
            GraphEdge { source: p.id.clone(), target: n.id.clone(), kind: EdgeKind::RunsOn },
        ];
        GraphSnapshot { nodes: vec![inc, p, rs, d, n], edges }
    }

    /// Runs the suite; panics with a message on the first failed expectation.
    pub async fn run(store: &dyn GraphStore) {
        store.health().await.expect("health");
        assert!(store.subgraph("missing", 3).await.expect("subgraph").nodes.is_empty(), "unknown incident");
        store.put("i-1", &sample("i-1", "cart-7d9f-a")).await.expect("put");
        store.put("i-1", &sample("i-1", "cart-7d9f-a")).await.expect("put twice");
        let g = store.subgraph("i-1", 1).await.expect("subgraph");
        let ids: Vec<&str> = g.nodes.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, ["incident:i-1", "pod:shop:cart-7d9f-a"], "depth 1");
        let g = store.subgraph("i-1", 3).await.expect("subgraph");
        assert_eq!(g.nodes.len(), 5, "depth 3 reaches every node: {:?}", g.nodes);
        assert_eq!(g.edges.len(), 4, "edges are not duplicated by a second put");
        let pod = store.node("pod:shop:cart-7d9f-a").await.expect("node").expect("pod exists");
        assert_eq!(pod.properties["phase"], "Running");
        store.put("i-2", &sample("i-2", "cart-7d9f-b")).await.expect("put second incident");
        let g2 = store.subgraph("i-2", 1).await.expect("subgraph");
        assert!(g2.nodes.iter().all(|n| n.id != "incident:i-1"), "incident 2 does not see incident 1 at depth 1");
        assert!(store.delete_incident("i-1").await.expect("delete"));
        assert!(store.subgraph("i-1", 3).await.expect("subgraph").nodes.is_empty());
        assert!(store.node("deployment:shop:cart").await.expect("node").is_some(), "shared nodes survive");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_store_passes_the_conformance_suite() {
        conformance::run(&MemoryGraphStore::new()).await;
    }
}
