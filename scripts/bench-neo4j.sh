#!/usr/bin/env bash
# Graph writes per second for the 10,000-pod incident graph: the in-memory store vs ArcadeDB over
# Bolt (adapters/aiops-neo4j/benches/graph_writes.rs). Numbers go in the README.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release -p aiops-neo4j --benches
. scripts/lib/arcadedb.sh
AIOPS_NEO4J_URI=127.0.0.1:18510 cargo bench -q -p aiops-neo4j --bench graph_writes
