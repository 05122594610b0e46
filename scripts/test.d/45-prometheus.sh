#!/usr/bin/env bash
# A real Prometheus (Debian package) with the oom-killed bundle's metrics backfilled by promtool,
# on 127.0.0.1:18120: the Prometheus collector must yield the same evidence as against aiops-sim.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v prometheus >/dev/null && command -v promtool >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null
}
dir=$(mktemp -d /tmp/aiops-prom.XXXXXX)
# The bundle's metric results as OpenMetrics (seconds; counters declared without _total).
python3 - examples/bundles/oom-killed.json "$dir/series.om" <<'PY'
import json, re, sys
bundle = json.load(open(sys.argv[1]))
families = {}
for m in bundle.get("metrics", []):
    sel = re.match(r"\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{", m.get("query") or "")
    for s in m["result"]:
        labels = dict(s["metric"])
        name = labels.pop("__name__", None) or (sel.group(1) if sel else m["name"])
        values = s.get("values") or [s["value"]]
        families.setdefault(name, []).append((labels, values))
with open(sys.argv[2], "w") as out:
    for name, series in sorted(families.items()):
        family = name[:-6] if name.endswith("_total") else name
        out.write(f"# TYPE {family} {'counter' if name.endswith('_total') else 'gauge'}\n")
        rows = []
        for labels, values in series:
            lab = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
            rows += [(float(t), f"{name}{{{lab}}} {v} {t}\n") for t, v in values]
        # OpenMetrics wants each series' samples in time order, series after series.
        for _, row in rows:
            out.write(row)
    out.write("# EOF\n")
PY
promtool tsdb create-blocks-from openmetrics "$dir/series.om" "$dir/data" >/dev/null
printf 'global:\n  scrape_interval: 1h\n' > "$dir/prometheus.yml"
prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
  --web.listen-address=127.0.0.1:18120 --storage.tsdb.retention.time=36500d \
  --web.external-url=http://127.0.0.1:18120 >"$dir/prometheus.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do curl -sf http://127.0.0.1:18120/-/ready >/dev/null && break; sleep 0.1; done
AIOPS_PROMETHEUS_URL=http://127.0.0.1:18120 cargo test -q --test prometheus_real -- --ignored
