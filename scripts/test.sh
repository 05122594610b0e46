#!/usr/bin/env bash
# The project's one test command (README "Run the tests"): formatting, lints, every test.
# Each real-component suite (Prometheus, Alertmanager, PostgreSQL, kubectl, Python, ...) is a
# script in scripts/test.d/ that installs what it needs (idempotently) and runs its tests;
# they run in name order after the workspace tests.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-clippy >/dev/null || rustup component add clippy rustfmt
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace
for suite in scripts/test.d/*.sh; do
  [ -e "$suite" ] || continue
  echo "== $suite"
  bash "$suite"
done
