#!/usr/bin/env bash
# The project's one test command (README "Run the tests"): formatting, lints, every test.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-clippy >/dev/null || rustup component add clippy rustfmt
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace
