#!/usr/bin/env bash
# Real Prometheus -> real Alertmanager -> `aiops serve` (incident created, repeat deduplicated,
# resolution resolves it), and Prometheus' alerting.alertmanagers pointed straight at aiops
# (POST /api/v2/alerts). Installs Debian's prometheus and prometheus-alertmanager when missing;
# everything listens on 127.0.0.1:18301-18312 and the test stops what it started (by PID).
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v prometheus >/dev/null || ! command -v prometheus-alertmanager >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q prometheus prometheus-alertmanager >/dev/null \
    || { apt-get update -q >/dev/null && apt-get install -y -q prometheus prometheus-alertmanager >/dev/null; }
fi
cargo test -q --test alertmanager -- --ignored
