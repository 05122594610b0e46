//! The in-memory evidence graph on petgraph, indexed by id and by kind.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt::Write as _;

use petgraph::Direction;
use petgraph::stable_graph::{NodeIndex, StableDiGraph};
use petgraph::visit::{EdgeRef, IntoEdgeReferences};

use super::{EdgeKind, GraphEdge, GraphNode, GraphSnapshot, NodeKind};

/// An in-memory, indexed evidence graph.
#[derive(Debug, Clone, Default)]
pub struct EvidenceGraph {
    graph: StableDiGraph<GraphNode, EdgeKind>,
    by_id: HashMap<String, NodeIndex>,
    by_kind: HashMap<NodeKind, Vec<NodeIndex>>,
}

impl EvidenceGraph {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.graph.node_count()
    }

    /// Number of edges.
    pub fn edge_count(&self) -> usize {
        self.graph.edge_count()
    }

    /// Adds a node, or merges its properties into the node with the same id. Returns its id.
    pub fn upsert(&mut self, node: GraphNode) -> NodeIndex {
        if let Some(&ix) = self.by_id.get(&node.id) {
            let existing = &mut self.graph[ix];
            existing.properties.extend(node.properties);
            existing.object = existing.object.or(node.object);
            return ix;
        }
        let id = node.id.clone();
        let kind = node.kind;
        let ix = self.graph.add_node(node);
        self.by_id.insert(id, ix);
        self.by_kind.entry(kind).or_default().push(ix);
        ix
    }

    /// Adds an edge between two existing nodes (by id) unless it exists. False if either is missing.
    pub fn link(&mut self, source: &str, target: &str, kind: EdgeKind) -> bool {
        match (self.by_id.get(source).copied(), self.by_id.get(target).copied()) {
            (Some(a), Some(b)) => {
                self.link_ix(a, b, kind);
                true
            }
            _ => false,
        }
    }

    /// Adds an edge between two node indexes unless it exists.
    pub fn link_ix(&mut self, a: NodeIndex, b: NodeIndex, kind: EdgeKind) {
        let exists = self.graph.edges_connecting(a, b).any(|e| *e.weight() == kind);
        if !exists {
            self.graph.add_edge(a, b, kind);
        }
    }

    /// The petgraph index of a node id.
    pub fn index_of(&self, id: &str) -> Option<NodeIndex> {
        self.by_id.get(id).copied()
    }

    /// The node with this id.
    pub fn get(&self, id: &str) -> Option<&GraphNode> {
        self.by_id.get(id).map(|&ix| &self.graph[ix])
    }

    /// Every node of a kind, in insertion order.
    pub fn nodes_of(&self, kind: NodeKind) -> impl Iterator<Item = &GraphNode> + '_ {
        self.by_kind.get(&kind).into_iter().flatten().map(move |&ix| &self.graph[ix])
    }

    /// Neighbours of `id` over edges of `kind` in `direction` (`Outgoing`: id -> n).
    pub fn neighbors(&self, id: &str, kind: EdgeKind, direction: Direction) -> Vec<&GraphNode> {
        let Some(&ix) = self.by_id.get(id) else { return Vec::new() };
        let mut out: Vec<&GraphNode> = self
            .graph
            .edges_directed(ix, direction)
            .filter(|e| *e.weight() == kind)
            .map(|e| {
                let other = if direction == Direction::Outgoing { e.target() } else { e.source() };
                &self.graph[other]
            })
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }

    /// Follows incoming `OWNS` edges to the top-most owner (Pod -> ReplicaSet -> Deployment).
    pub fn root_owner(&self, id: &str) -> Option<&GraphNode> {
        let mut current = self.get(id)?;
        for _ in 0..8 {
            match self.neighbors(&current.id, EdgeKind::Owns, Direction::Incoming).first() {
                Some(owner) => current = owner,
                None => break,
            }
        }
        Some(current)
    }

    /// The subgraph within `depth` hops of `id`, in both directions.
    pub fn subgraph(&self, id: &str, depth: usize) -> GraphSnapshot {
        let Some(&start) = self.by_id.get(id) else { return GraphSnapshot::default() };
        let mut seen: HashSet<NodeIndex> = HashSet::from([start]);
        let mut queue = VecDeque::from([(start, 0usize)]);
        while let Some((ix, d)) = queue.pop_front() {
            if d == depth {
                continue;
            }
            for n in self.graph.neighbors_undirected(ix) {
                if seen.insert(n) {
                    queue.push_back((n, d + 1));
                }
            }
        }
        self.snapshot_of(&seen)
    }

    /// The whole graph.
    pub fn snapshot(&self) -> GraphSnapshot {
        let all: HashSet<NodeIndex> = self.graph.node_indices().collect();
        self.snapshot_of(&all)
    }

    fn snapshot_of(&self, set: &HashSet<NodeIndex>) -> GraphSnapshot {
        let mut nodes: Vec<GraphNode> = set.iter().map(|&ix| self.graph[ix].clone()).collect();
        nodes.sort_by(|a, b| a.id.cmp(&b.id));
        let mut edges: Vec<GraphEdge> = self
            .graph
            .edge_references()
            .filter(|e| set.contains(&e.source()) && set.contains(&e.target()))
            .map(|e| GraphEdge {
                source: self.graph[e.source()].id.clone(),
                target: self.graph[e.target()].id.clone(),
                kind: *e.weight(),
            })
            .collect();
        edges.sort();
        GraphSnapshot { nodes, edges }
    }

    /// Merges a snapshot into the graph (nodes by id, edges deduplicated).
    pub fn merge(&mut self, snapshot: &GraphSnapshot) {
        for n in &snapshot.nodes {
            self.upsert(n.clone());
        }
        for e in &snapshot.edges {
            self.link(&e.source, &e.target, e.kind);
        }
    }

    /// Removes a node and its edges.
    pub fn remove(&mut self, id: &str) -> bool {
        let Some(ix) = self.by_id.remove(id) else { return false };
        if let Some(node) = self.graph.remove_node(ix)
            && let Some(v) = self.by_kind.get_mut(&node.kind)
        {
            v.retain(|&i| i != ix);
        }
        true
    }

    /// Graphviz DOT text of the whole graph, deterministic.
    pub fn to_dot(&self) -> String {
        snapshot_to_dot(&self.snapshot())
    }
}

/// Graphviz DOT text of a snapshot.
pub fn snapshot_to_dot(s: &GraphSnapshot) -> String {
    let mut out = String::from("digraph evidence {\n  rankdir=LR;\n  node [shape=box, fontsize=10];\n");
    for n in &s.nodes {
        let _ = writeln!(out, "  \"{}\" [label=\"{}\\n{}\"];", esc(&n.id), n.kind, esc(&n.name));
    }
    for e in &s.edges {
        let _ = writeln!(out, "  \"{}\" -> \"{}\" [label=\"{}\"];", esc(&e.source), esc(&e.target), e.kind);
    }
    out.push_str("}\n");
    out
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}
