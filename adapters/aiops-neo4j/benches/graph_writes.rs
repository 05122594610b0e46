//! Benchmark: writes of the evidence graph the Engine builds for the generated 10,000-pod
//! cluster-scan bundle, into the in-memory store and (when `AIOPS_NEO4J_URI` is set, as
//! `scripts/bench-neo4j.sh` does against ArcadeDB) into a Bolt server. Prints nodes + edges per
//! second for each store, best of three runs, and the subgraph read time.
//!
//! `cargo bench -p aiops-neo4j --bench graph_writes`

use std::time::{Duration, Instant};

use aiops::collectors::BundleCollector;
use aiops_core::AnalysisInput;
use aiops_core::graph::{GraphSnapshot, GraphStore, MemoryGraphStore};
use aiops_neo4j::{Neo4jConfig, Neo4jGraphStore};

const RUNS: usize = 3;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(run());
}

async fn run() {
    let bytes = serde_json::to_vec(&aiops::synth::bundle(aiops::synth::Size::BENCH)).unwrap();
    let bundle = aiops::core::parse_bundle(&bytes).unwrap();
    let engine = aiops::default_engine().collector(BundleCollector::from_bundle(bundle)).build().unwrap();
    let (report, graph) = engine.analyze_with_graph(AnalysisInput::default()).await.unwrap();
    let (id, snapshot) = (report.incident.id, graph.snapshot());
    let items = snapshot.nodes.len() + snapshot.edges.len();
    println!("graph: {} nodes, {} edges", snapshot.nodes.len(), snapshot.edges.len());
    let memory = MemoryGraphStore::new();
    report_store("memory", &memory, &id, &snapshot, items).await;
    let Ok(uri) = std::env::var("AIOPS_NEO4J_URI") else {
        println!("bolt: skipped (set AIOPS_NEO4J_URI, or run scripts/bench-neo4j.sh)");
        return;
    };
    let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_string());
    let cfg = Neo4jConfig::new(uri, env("AIOPS_NEO4J_USER", "root"), env("AIOPS_NEO4J_PASSWORD", "CHANGE_ME"))
        .database(env("AIOPS_NEO4J_DB", "aiops"));
    let store = Neo4jGraphStore::connect(cfg).await.unwrap();
    report_store("bolt", &store, &id, &snapshot, items).await;
}

async fn report_store(name: &str, store: &dyn GraphStore, id: &str, g: &GraphSnapshot, items: usize) {
    let mut best = Duration::MAX;
    for _ in 0..RUNS {
        let start = Instant::now();
        store.put(id, g).await.unwrap();
        best = best.min(start.elapsed());
    }
    let start = Instant::now();
    let sub = store.subgraph(id, 3).await.unwrap();
    let read = start.elapsed();
    println!(
        "{name}: write {:.0} ms ({:.0} nodes+edges/s); subgraph depth 3: {} nodes in {:.0} ms",
        best.as_secs_f64() * 1e3,
        items as f64 / best.as_secs_f64(),
        sub.nodes.len(),
        read.as_secs_f64() * 1e3
    );
}
