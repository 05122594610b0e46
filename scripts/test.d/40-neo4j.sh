#!/usr/bin/env bash
# The Neo4j graph store (adapters/aiops-neo4j) against a real Bolt server: ArcadeDB from PyPI
# (scripts/lib/arcadedb.sh). Runs the conformance suite and the memory-store equivalence tests.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build -q -p aiops-neo4j --tests
. scripts/lib/arcadedb.sh
AIOPS_NEO4J_URI=127.0.0.1:18510 cargo test -p aiops-neo4j --test arcadedb -- --ignored --test-threads=1
