//! The Neo4j graph store against a real Bolt server: ArcadeDB (PyPI `arcadedb-embedded`)
//! started by `scripts/test.d/40-neo4j.sh` on 127.0.0.1:18510 (override with
//! `AIOPS_NEO4J_URI`, `AIOPS_NEO4J_USER`, `AIOPS_NEO4J_PASSWORD`, `AIOPS_NEO4J_DB`).
//!
//! Ignored by default (they need the server); the script runs them with `--ignored
//! --test-threads=1`, each test starting from an empty database.

use std::path::Path;
use std::sync::Arc;

use aiops::collectors::BundleCollector;
use aiops_core::graph::{GraphSnapshot, GraphStore, MemoryGraphStore, NodeKind};
use aiops_core::{AnalysisInput, graph::conformance};
use aiops_neo4j::{Neo4jConfig, Neo4jError, Neo4jGraphStore};

fn config() -> Neo4jConfig {
    let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_string());
    Neo4jConfig::new(
        env("AIOPS_NEO4J_URI", "127.0.0.1:18510"),
        env("AIOPS_NEO4J_USER", "root"),
        env("AIOPS_NEO4J_PASSWORD", "CHANGE_ME"),
    )
    .database(env("AIOPS_NEO4J_DB", "aiops"))
}

/// A connected store over an emptied database.
async fn fresh_store(batch: usize) -> Neo4jGraphStore {
    let cfg = config().batch_size(batch);
    let raw = neo4rs::Graph::new(cfg.uri.clone(), cfg.user.clone(), cfg.password.clone()).unwrap();
    raw.run(neo4rs::query("MATCH (n) DETACH DELETE n")).await.unwrap();
    Neo4jGraphStore::connect(cfg).await.unwrap()
}

/// The evidence graph the Engine builds for an example bundle, as the Engine hands it to a store.
async fn engine_graph(path: &str) -> (String, GraphSnapshot) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let bundle = BundleCollector::read(&root.join(path)).unwrap();
    let engine = aiops::default_engine().collector(BundleCollector::from_bundle(bundle)).build().unwrap();
    let (report, graph) = engine.analyze_with_graph(AnalysisInput::default()).await.unwrap();
    (report.incident.id, graph.snapshot())
}

/// The API shape (what `GET /api/v1/incidents/{id}/graph` serializes).
fn json(s: &GraphSnapshot) -> serde_json::Value {
    serde_json::to_value(s).unwrap()
}

/// `GET /api/v1/incidents/{id}/graph?depth=` of a server whose engine writes into `graphs`,
/// after the server's workflow has diagnosed the alert of `bundle`.
async fn served_graph(
    bundle: &aiops_core::IncidentBundle,
    graphs: Arc<dyn GraphStore>,
    depth: usize,
) -> serde_json::Value {
    use aiops_server::store::{DedupPolicy, IncidentStore, Incoming, MemoryStore};
    use tower::ServiceExt;
    let engine = aiops::default_engine()
        .collector(BundleCollector::from_bundle(bundle.clone()))
        .graph_store(graphs)
        .build()
        .unwrap();
    let store: Arc<dyn IncidentStore> = Arc::new(MemoryStore::new());
    let workflow =
        aiops_server::workflow::WorkflowConfig { poll: std::time::Duration::from_millis(20), ..Default::default() };
    let cfg = aiops_server::ServerConfig { workflow, ..Default::default() };
    let server = aiops_server::Server::new(cfg, store.clone(), Some(engine));
    let incoming = Incoming::from_alert(bundle.alerts[0].clone(), jiff::Timestamp::now());
    let out = store.ingest(&[incoming], &DedupPolicy::default()).await.unwrap();
    let id = out[0].incident_id().unwrap().to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while store.report(&id).await.unwrap().is_none() {
        assert!(std::time::Instant::now() < deadline, "not diagnosed in 30 s");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let uri = format!("/api/v1/incidents/{id}/graph?depth={depth}");
    let req = axum::http::Request::builder().uri(uri).body(axum::body::Body::empty()).unwrap();
    let resp = server.router().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), axum::http::StatusCode::OK);
    let bytes = http_body_util::BodyExt::collect(resp.into_body()).await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Bolt server (scripts/test.d/40-neo4j.sh)"]
async fn the_graph_endpoint_serves_the_same_graph_from_either_store() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for path in ["examples/bundles/oom-killed.json", "examples/bundles/missing-configmap.json"] {
        let bundle = BundleCollector::read(&root.join(path)).unwrap();
        let neo4j: Arc<dyn GraphStore> = Arc::new(fresh_store(100).await);
        let memory: Arc<dyn GraphStore> = Arc::new(MemoryGraphStore::new());
        let (a, b) = (served_graph(&bundle, neo4j, 3).await, served_graph(&bundle, memory, 3).await);
        assert_eq!(a, b, "{path}");
        let kinds: Vec<&str> = a["nodes"].as_array().unwrap().iter().filter_map(|n| n["kind"].as_str()).collect();
        assert!(kinds.contains(&"Pod") && kinds.contains(&"Incident"), "{path}: {kinds:?}");
        assert!(!a["relationships"].as_array().unwrap().is_empty(), "{path}");
    }
}

#[tokio::test]
#[ignore = "needs a Bolt server (scripts/test.d/40-neo4j.sh)"]
async fn neo4j_store_passes_the_conformance_suite() {
    let store = fresh_store(1000).await;
    conformance::run(&store).await;
}

#[tokio::test]
#[ignore = "needs a Bolt server (scripts/test.d/40-neo4j.sh)"]
async fn conformance_holds_with_tiny_batches() {
    // Two rows per statement: every write and every lookup is split over several statements.
    let store = fresh_store(2).await;
    conformance::run(&store).await;
}

#[tokio::test]
#[ignore = "needs a Bolt server (scripts/test.d/40-neo4j.sh)"]
async fn subgraph_equals_the_memory_store_for_the_engine_graph() {
    let store = fresh_store(50).await;
    let memory = MemoryGraphStore::new();
    for path in ["examples/bundles/oom-killed.json", "examples/bundles/missing-configmap.json"] {
        let (incident, snapshot) = engine_graph(path).await;
        assert!(snapshot.nodes.len() > 5 && !snapshot.edges.is_empty(), "{path}: a real graph");
        let kinds: Vec<NodeKind> = snapshot.nodes.iter().map(|n| n.kind).collect();
        assert!(kinds.contains(&NodeKind::Pod) && kinds.contains(&NodeKind::Incident), "{path}");
        store.put(&incident, &snapshot).await.unwrap();
        memory.put(&incident, &snapshot).await.unwrap();
        for depth in 0..=4 {
            let (a, b) =
                (store.subgraph(&incident, depth).await.unwrap(), memory.subgraph(&incident, depth).await.unwrap());
            assert_eq!(json(&a), json(&b), "{path} depth {depth}");
        }
        let full = store.subgraph(&incident, 10).await.unwrap();
        assert!(full.nodes.iter().any(|n| n.kind == NodeKind::ReplicaSet), "{path}: ownership chain stored");
    }
    // Every node reads back as it was merged, one by one.
    let all = memory.subgraph(&engine_graph("examples/bundles/oom-killed.json").await.0, 10).await.unwrap();
    for n in &all.nodes {
        let got = store.node(&n.id).await.unwrap().unwrap();
        assert_eq!(
            json(&GraphSnapshot { nodes: vec![got], edges: vec![] }),
            json(&GraphSnapshot { nodes: vec![n.clone()], edges: vec![] })
        );
    }
}

#[tokio::test]
#[ignore = "needs a Bolt server (scripts/test.d/40-neo4j.sh)"]
async fn a_later_put_merges_properties_like_the_memory_store() {
    use aiops_core::graph::{EdgeKind, GraphEdge, GraphNode};
    let store = fresh_store(1000).await;
    let memory = MemoryGraphStore::new();
    let inc = GraphNode::new(NodeKind::Incident, None, "m-1").with("title", "first").with("fingerprint", "fp");
    let pod = GraphNode::new(NodeKind::Pod, Some("merge"), "p")
        .with("limits", serde_json::json!({"cpu": "1"}))
        .with("phase", "Pending");
    let edge = GraphEdge { source: inc.id.clone(), target: pod.id.clone(), kind: EdgeKind::Affects };
    let first = GraphSnapshot { nodes: vec![inc.clone(), pod.clone()], edges: vec![edge.clone()] };
    // The second put changes a value's type (map -> string), adds a key and keeps the others.
    let pod2 = GraphNode::new(NodeKind::Pod, Some("merge"), "p").with("limits", "none").with("restarts", 4);
    let second = GraphSnapshot { nodes: vec![inc, pod2], edges: vec![edge] };
    for s in [&first, &second] {
        store.put("m-1", s).await.unwrap();
        memory.put("m-1", s).await.unwrap();
    }
    let (a, b) = (store.subgraph("m-1", 1).await.unwrap(), memory.subgraph("m-1", 1).await.unwrap());
    assert_eq!(json(&a), json(&b));
    assert_eq!(a.nodes[1].properties["limits"], "none");
    assert_eq!(a.nodes[1].properties["phase"], "Pending");
}

#[tokio::test]
#[ignore = "needs a Bolt server (scripts/test.d/40-neo4j.sh)"]
async fn bad_input_and_unreachable_servers_are_typed_errors() {
    use aiops_core::graph::GraphNode;
    let store = fresh_store(1).await;
    // The reserved key is found before anything is sent; nothing is written.
    let bad = GraphNode::new(NodeKind::Pod, Some("x"), "p").with("_kind", "oops");
    let err = store.put_graph("r-1", &GraphSnapshot { nodes: vec![bad], edges: vec![] }).await.unwrap_err();
    assert!(matches!(err, Neo4jError::ReservedProperty { .. }), "{err}");
    assert!(store.node("pod:x:p").await.unwrap().is_none());
    // A server that is not there is a connect error, not a panic.
    let err = Neo4jGraphStore::connect(Neo4jConfig::new("127.0.0.1:18599", "root", "x")).await.unwrap_err();
    assert!(matches!(err, Neo4jError::Query { .. } | Neo4jError::Connect { .. }), "{err}");
    let err = Neo4jGraphStore::connect(config().batch_size(0)).await.unwrap_err();
    assert!(matches!(err, Neo4jError::Config(_)), "{err}");
}
