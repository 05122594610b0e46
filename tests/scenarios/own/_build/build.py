#!/usr/bin/env python3
"""Build the own development corpus of incident bundles (aiops/v1) and its README.

Usage: python3 build.py [OUT_DIR]   (default: the folder above _build/)
Deterministic (standard library only, no clock, no randomness): re-running produces byte-identical files.
Every bundle is checked by validate.py before anything is written.
"""
import collections
import glob
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from lib import CAPTURED_S  # noqa: E402
from common import REG  # noqa: E402
import s_workload  # noqa: E402,F401
import s_network  # noqa: E402,F401
import s_infra  # noqa: E402,F401
import s_none  # noqa: E402,F401
import s_rules  # noqa: E402,F401
import validate  # noqa: E402

CAUSES = ["bad_deploy", "oom_killed", "memory_pressure", "cpu_throttling", "image_pull", "missing_config_ref",
          "config_error", "crash_app_error", "dependency_failure", "dns_failure", "network_issue", "probe_failure",
          "scheduling_insufficient_resources", "scheduling_constraints", "node_failure", "volume_failure",
          "quota_exceeded", "hpa_at_max", "rbac_forbidden", "service_no_endpoints", "job_failure", "unknown"]


def doc_of(m):
    b = m.b
    d = {"apiVersion": "aiops/v1", "kind": "IncidentBundle", "capturedAt": CAPTURED_S, "cluster": m.cluster,
         "environment": m.environment}
    if b.alert is not None:
        d["alert"] = b.alert
    d["objects"] = b.objects
    if b.logs:
        d["logs"] = b.logs
    if b.metrics:
        d["metrics"] = b.metrics
    d["description"] = m.desc
    d["expected"] = m.expected
    return d


def readme(rows):
    counts = collections.Counter(r[1]["cause"] for r in rows)
    out = ["# Own development corpus of incident bundles",
           "",
           f"{len(rows)} incident bundles (`aiops/v1`, see `/work/shared/spec/incident-bundle.md`) written by",
           "`_build/build.py` (deterministic, Python 3 standard library only; `python3 _build/build.py` rewrites",
           "every `*.json` here and this README). Scenarios were written for this corpus: a shop, a payments and an",
           "analytics platform on EKS/GKE clusters, captured at `" + CAPTURED_S + "` (no timestamp is later).",
           "",
           "`_build/lib.py` is adapted from `/work/shared/scenarios/k8sgpt/_build/lib.py` (Apache-2.0).",
           "",
           "## Conventions",
           "",
           "- `expected.cause` is one cause of `causes.md`, or `none` for healthy/benign bundles (any hypothesis",
           "  above the reporting threshold is then a false positive); `expected.alternates` lists other causes",
           "  that are defensible from the same evidence (lenient scoring); `expected.note` (some bundles) says",
           "  why the cause was chosen where two are close.",
           "- `expected.resource` is the root object, `Kind/namespace/name` (`Kind/name` when cluster-scoped).",
           "  Recurring choices: the workload (Deployment/StatefulSet/DaemonSet/Job/CronJob) for faults of its pods",
           "  or its template; the Node for node faults; the PersistentVolumeClaim for storage; the",
           "  ResourceQuota/LimitRange for admission refusals; the HorizontalPodAutoscaler for `hpa_at_max`; the",
           "  Service for `service_no_endpoints`; the ServiceAccount named in the 403 for `rbac_forbidden`; for",
           "  `dependency_failure` the workload that is down (not the caller); the object that changed when a",
           "  ConfigMap/NetworkPolicy edit is the trigger.",
           "- Recent changes are visible only the way a cluster shows them: ReplicaSet creation times and",
           "  `deployment.kubernetes.io/revision`, `managedFields[].time`, object creation times, events.",
           "- Every object a scenario says exists is in the bundle; a referenced ConfigMap/Secret/Service/",
           "  StorageClass that is absent does not exist. Namespaces, the `default` ServiceAccounts and",
           "  `kube-root-ca.crt` ConfigMaps exist but are not captured. Secrets are captured without `data`.",
           "- Bundles without `alert` are cluster scans; with `alert` it is an Alertmanager v4 webhook body.",
           "  `logs[].previous: true` holds the log of the crashed container instance. `metrics` are Prometheus",
           "  range-query results (`container_memory_working_set_bytes` in bytes against the pod spec's memory",
           "  limit, `cpu_throttled_periods` ratio 0..1, `p99_latency` seconds, `http_5xx_rate` ratio).",
           "",
           "## Counts",
           "",
           "| cause | bundles |",
           "|---|---|"]
    for c in CAUSES + ["none"]:
        out.append(f"| `{c}` | {counts.get(c, 0)} |")
    out += ["", "## Bundles", "", "| file | expected cause | root resource | alternates | description |", "|---|---|---|---|---|"]
    for fname, e, desc in sorted(rows, key=lambda r: r[0]):
        alt = ", ".join(f"`{a}`" for a in e.get("alternates", [])) or "-"
        out.append(f"| `{fname}.json` | `{e['cause']}` | `{e['resource']}` | {alt} | {desc.replace('|', '/')} |")
    return "\n".join(out) + "\n"


def build(out):
    os.makedirs(out, exist_ok=True)
    rows = []
    docs = {}
    problems = []
    for fn in REG:
        m = fn()
        fname = m.b.fname
        if fname in docs:
            problems.append(f"{fname}: duplicate file name")
        cause = m.expected["cause"]
        if not fname.startswith((cause if cause != "none" else "none") + "-"):
            problems.append(f"{fname}: file name does not start with its cause {cause}")
        d = doc_of(m)
        for e in validate.check_doc(d):
            problems.append(f"{fname}: {e}")
        docs[fname] = d
        rows.append((fname, m.expected, m.desc))
    counts = collections.Counter(r[1]["cause"] for r in rows)
    for c in CAUSES:
        if counts.get(c, 0) < 3:
            problems.append(f"cause {c}: only {counts.get(c, 0)} bundles")
    if counts.get("none", 0) < 12:
        problems.append(f"only {counts.get('none', 0)} healthy bundles")
    if problems:
        print("\n".join(problems))
        sys.exit(1)
    for old in glob.glob(os.path.join(out, "*.json")):
        os.remove(old)
    for fname, d in docs.items():
        with open(os.path.join(out, fname + ".json"), "w") as f:
            json.dump(d, f, indent=2, ensure_ascii=False)
            f.write("\n")
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(readme(rows))
    return rows, counts


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(HERE)
    rows, counts = build(out)
    print(f"{len(rows)} bundles written to {out}")
    for c in CAUSES + ["none"]:
        print(f"  {c}: {counts.get(c, 0)}")
