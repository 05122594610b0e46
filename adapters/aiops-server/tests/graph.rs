//! `GET /api/v1/incidents/{id}/graph` from the engine's graph store: the server reads the
//! incident graph the workflow's analysis wrote into the store, and `/health/ready` checks it.
//! (The same test against Neo4j-on-ArcadeDB is in `adapters/aiops-neo4j/tests/arcadedb.rs`.)

mod common;

use std::sync::Arc;

use aiops_core::Decision;
use aiops_core::graph::{EdgeKind, GraphEdge, GraphNode, GraphSnapshot, GraphStore, MemoryGraphStore, NodeKind};
use aiops_server::store::{IncidentStore, MemoryStore, WorkflowState};
use aiops_server::{Server, ServerConfig};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use serde_json::Value;

async fn get(server: &Server, uri: &str) -> (StatusCode, Value) {
    common::send(server, Request::builder().uri(uri).body(Body::empty()).unwrap()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_graph_endpoint_reads_the_engine_graph_store() {
    let graphs = Arc::new(MemoryGraphStore::new());
    let engine = aiops_core::Engine::builder()
        .rules(PodRules)
        .planner(RestartPlanner)
        .policy_gate(FixedPolicy(Decision::Deny))
        .graph_store(graphs.clone())
        .build()
        .unwrap();
    let store: Arc<dyn IncidentStore> = Arc::new(MemoryStore::new());
    let cfg = ServerConfig { workflow: config(), ..ServerConfig::default() };
    let server = Server::new(cfg, store.clone(), Some(engine));
    let id = ingest(store.as_ref(), firing("web-1")).await;
    wait_for(store.as_ref(), &id, |s, _| s != WorkflowState::Received && s != WorkflowState::Collecting).await;

    let report = store.report(&id).await.unwrap().expect("diagnosed");
    // Something only the graph store knows (another writer of the shared graph): a node linked
    // to the incident. The endpoint must show it, so it reads the graph store.
    let incident_node = aiops_core::graph::incident_node_id(&report.incident.id);
    let node = GraphNode::new(NodeKind::Node, None, "ip-10-0-0-1");
    let edge = GraphEdge { source: incident_node, target: node.id.clone(), kind: EdgeKind::Affects };
    graphs.put(&report.incident.id, &GraphSnapshot { nodes: vec![node], edges: vec![edge] }).await.unwrap();
    let (status, body) = get(&server, &format!("/api/v1/incidents/{id}/graph?depth=2")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let direct = graphs.subgraph(&report.incident.id, 2).await.unwrap();
    assert_eq!(body, serde_json::to_value(&direct).unwrap());
    let ids: Vec<&str> = body["nodes"].as_array().unwrap().iter().filter_map(|n| n["id"].as_str()).collect();
    assert!(ids.iter().any(|n| n.starts_with("incident:")), "{body}");
    assert!(ids.iter().any(|n| n.starts_with("alert:")), "{body}");
    assert!(ids.contains(&"node:ip-10-0-0-1"), "read from the graph store: {body}");

    let (status, ready) = get(&server, "/health/ready").await;
    assert_eq!((status, &ready["checks"]["graph_store"]), (StatusCode::OK, &Value::Bool(true)), "{ready}");
}
