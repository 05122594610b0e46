#!/usr/bin/env bash
# The Python bindings: build the abi3 wheel with maturin, install it into a fresh venv, run the
# pytest suite (adapters/aiops-python/tests) and the README's one-line check.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=target/python
rm -rf "$work/venv" "$work/wheels"
mkdir -p "$work"
python3 -m venv "$work/build-venv" 2>/dev/null || true
"$work/build-venv/bin/pip" install -q 'maturin>=1.7,<2'
"$work/build-venv/bin/maturin" build --release -q -m adapters/aiops-python/Cargo.toml -o "$work/wheels"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q "$work"/wheels/aiops-*.whl pytest
"$work/venv/bin/python" -c "import aiops; print(aiops.analyze('examples/bundles/oom-killed.json')['hypotheses'][0]['cause'])" | grep -qx oom_killed
"$work/venv/bin/python" -m pytest -q adapters/aiops-python/tests
