#!/usr/bin/env python3
"""Consistency checks for the own bundles (used by build.py; also runnable on the written files)."""
import glob
import json
import os
import re
import sys
from datetime import datetime, timezone

CAUSES = {"bad_deploy", "oom_killed", "memory_pressure", "cpu_throttling", "image_pull", "missing_config_ref",
          "config_error", "crash_app_error", "dependency_failure", "dns_failure", "network_issue", "probe_failure",
          "scheduling_insufficient_resources", "scheduling_constraints", "node_failure", "volume_failure",
          "quota_exceeded", "hpa_at_max", "rbac_forbidden", "service_no_endpoints", "job_failure", "unknown"}
CLUSTER = {"Node", "Namespace", "StorageClass", "PersistentVolume", "ClusterRole", "ClusterRoleBinding",
           "PriorityClass", "VolumeAttachment", "ClusterIssuer", "IngressClass", "GatewayClass", "ClusterCatalog"}
DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
TS_IN_TEXT = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d")


def parse_ts(s):
    s = s.replace(" ", "T")[:19]
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)


def walk_ts(o, path, cap, errs):
    if isinstance(o, dict):
        for k, v in o.items():
            walk_ts(v, f"{path}.{k}", cap, errs)
    elif isinstance(o, list):
        for i, v in enumerate(o):
            walk_ts(v, f"{path}[{i}]", cap, errs)
    elif isinstance(o, str) and TS.match(o) and not o.startswith("0001-") and parse_ts(o) > cap:
        errs.append(f"{path}: timestamp {o} after capturedAt")


def sel_match(sel, labels):
    return all((labels or {}).get(k) == v for k, v in sel.items())


def check_doc(doc):
    errs = []
    for k in ("apiVersion", "kind", "capturedAt", "environment", "objects", "expected", "description"):
        if k not in doc:
            errs.append(f"missing {k}")
    if doc.get("apiVersion") != "aiops/v1" or doc.get("kind") != "IncidentBundle":
        errs.append("bad header")
    cap = parse_ts(doc["capturedAt"])
    cap_unix = int(cap.timestamp())
    objs = doc["objects"]
    by_uid = {}
    keys = {}
    for i, o in enumerate(objs):
        p = f"objects[{i}]"
        for k in ("apiVersion", "kind", "metadata"):
            if k not in o:
                errs.append(f"{p}: missing {k}")
        m = o["metadata"]
        for k in ("name", "uid", "creationTimestamp", "resourceVersion"):
            if k not in m:
                errs.append(f"{p}.metadata: missing {k}")
        kind = o["kind"]
        if kind in CLUSTER and "namespace" in m:
            errs.append(f"{p}: cluster-scoped {kind} has a namespace")
        if kind not in CLUSTER and "namespace" not in m:
            errs.append(f"{p}: namespaced {kind} without namespace")
        if not DNS1123.match(m["name"]) or len(m["name"]) > 253:
            errs.append(f"{p}: invalid name {m['name']!r}")
        if kind in ("Pod", "Service", "Namespace") and len(m["name"]) > 63:
            errs.append(f"{p}: name too long")
        key = (kind, m.get("namespace"), m["name"])
        if key in keys:
            errs.append(f"{p}: duplicate {key}")
        keys[key] = o
        if m["uid"] in by_uid:
            errs.append(f"{p}: duplicate uid")
        by_uid[m["uid"]] = o
        for lk, lv in (m.get("labels") or {}).items():
            if len(lv) > 63:
                errs.append(f"{p}: label value too long {lk}")
        if kind == "Secret" and ("data" in o or "stringData" in o):
            errs.append(f"{p}: Secret with data")
    pods = [o for o in objs if o["kind"] == "Pod"]
    for i, o in enumerate(objs):
        p = f"objects[{i}] {o['kind']}/{o['metadata']['name']}"
        m = o["metadata"]
        for r in m.get("ownerReferences", []):
            own = by_uid.get(r["uid"])
            if own is None or own["metadata"]["name"] != r["name"] or own["kind"] != r["kind"]:
                errs.append(f"{p}: ownerReference {r['kind']}/{r['name']} not in bundle")
            elif own["metadata"].get("namespace") != m.get("namespace") and own["kind"] not in CLUSTER:
                errs.append(f"{p}: owner in another namespace")
        if o["kind"] == "Event":
            io = o["involvedObject"]
            tgt = by_uid.get(io.get("uid"))
            if tgt is None or tgt["metadata"]["name"] != io["name"] or tgt["kind"] != io["kind"]:
                errs.append(f"{p}: involvedObject {io['kind']}/{io['name']} not in bundle")
            if o["firstTimestamp"] > o["lastTimestamp"]:
                errs.append(f"{p}: firstTimestamp after lastTimestamp")
        if o["kind"] == "Pod":
            spec_names = [c["name"] for c in o["spec"]["containers"]]
            st_names = [c["name"] for c in o["status"].get("containerStatuses", [])]
            if st_names and st_names != spec_names:
                errs.append(f"{p}: containerStatuses {st_names} != containers {spec_names}")
            vols = {v["name"] for v in o["spec"].get("volumes", [])}
            for c in o["spec"]["containers"] + o["spec"].get("initContainers", []):
                for vm in c.get("volumeMounts", []):
                    if vm["name"] not in vols:
                        errs.append(f"{p}: mount {vm['name']} without volume")
            conds = {c["type"]: c for c in o["status"].get("conditions", [])}
            cst = o["status"].get("containerStatuses", [])
            if "Ready" in conds and conds["Ready"]["status"] == "True" and not all(c["ready"] for c in cst):
                errs.append(f"{p}: Ready True with unready container")
            if "Ready" in conds and conds["Ready"]["status"] == "False" and cst and all(c["ready"] for c in cst):
                errs.append(f"{p}: Ready False with all containers ready")
            for c in cst:
                w = c["state"].get("waiting", {})
                if w.get("reason") == "CrashLoopBackOff":
                    if o["status"]["phase"] != "Running" or not c["lastState"].get("terminated"):
                        errs.append(f"{p}: CrashLoopBackOff without phase Running / lastState.terminated")
                if c["restartCount"] > 0 and not c["lastState"] and "terminated" not in c["state"]:
                    errs.append(f"{p}: restartCount without lastState")
                if "running" in c["state"] and o["status"]["phase"] != "Running":
                    if not any("waiting" in x["state"] and not x["lastState"] for x in cst):
                        errs.append(f"{p}: running container in phase {o['status']['phase']}")
            if o["status"]["phase"] == "Pending" and o["spec"].get("nodeName") is None:
                if conds.get("PodScheduled", {}).get("status") != "False":
                    errs.append(f"{p}: unscheduled pod without PodScheduled False")
            if o["status"].get("podIP") and not o["spec"].get("nodeName"):
                errs.append(f"{p}: podIP without node")
            nn = o["spec"].get("nodeName")
            if nn and ("Node", None, nn) not in keys:
                errs.append(f"{p}: node {nn} not in bundle")
            sa = o["spec"].get("serviceAccountName")
            if sa and sa != "default" and ("ServiceAccount", m["namespace"], sa) not in keys:
                errs.append(f"{p}: service account {sa} not in bundle")
        if o["kind"] in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"):
            sel = o["spec"]["selector"]["matchLabels"]
            tl = o["spec"]["template"]["metadata"].get("labels", {})
            if not sel_match(sel, tl):
                errs.append(f"{p}: selector does not match template labels")
        if o["kind"] == "ReplicaSet" and m.get("ownerReferences"):
            hv = m["labels"].get("pod-template-hash")
            if not hv or not m["name"].endswith("-" + hv):
                errs.append(f"{p}: pod-template-hash mismatch")
            if "deployment.kubernetes.io/revision" not in m.get("annotations", {}):
                errs.append(f"{p}: no revision annotation")
        if o["kind"] == "Deployment":
            rss = [x for x in objs if x["kind"] == "ReplicaSet"
                   and any(r["uid"] == m["uid"] for r in x["metadata"].get("ownerReferences", []))]
            if rss:
                revs = [int(x["metadata"]["annotations"]["deployment.kubernetes.io/revision"]) for x in rss]
                if int(m["annotations"]["deployment.kubernetes.io/revision"]) != max(revs) or len(set(revs)) != len(revs):
                    errs.append(f"{p}: revision annotations inconsistent")
                newest = max(rss, key=lambda x: int(x["metadata"]["annotations"]["deployment.kubernetes.io/revision"]))
                if newest["spec"]["template"]["spec"] != o["spec"]["template"]["spec"]:
                    errs.append(f"{p}: current ReplicaSet template differs from the Deployment's")
                tpls = [json.dumps(x["spec"]["template"]["spec"], sort_keys=True) for x in rss]
                if len(set(tpls)) != len(tpls):
                    errs.append(f"{p}: two ReplicaSets with the same pod template")
        if o["kind"] == "Pod" and "ownerReferences" in m:
            own = by_uid.get(m["ownerReferences"][0]["uid"])
            if own and own["kind"] in ("ReplicaSet", "StatefulSet", "DaemonSet", "Job"):
                sel = own["spec"]["selector"]["matchLabels"]
                if not sel_match(sel, m.get("labels")):
                    errs.append(f"{p}: pod labels do not match owner selector")
                if own["kind"] == "ReplicaSet":
                    if own["spec"]["template"]["spec"]["containers"][0]["image"] != o["spec"]["containers"][0]["image"]:
                        errs.append(f"{p}: pod image differs from its ReplicaSet")
                if m["creationTimestamp"] < own["metadata"]["creationTimestamp"]:
                    errs.append(f"{p}: pod older than its owner")
        if o["kind"] == "Service" and o["spec"].get("selector"):
            sel = o["spec"]["selector"]
            match = [x for x in pods if x["metadata"]["namespace"] == m["namespace"]
                     and sel_match(sel, x["metadata"].get("labels")) and x["status"].get("podIP")
                     and x["status"]["phase"] in ("Running", "Pending") and "deletionTimestamp" not in x["metadata"]]
            ready = {x["metadata"]["uid"] for x in match
                     if any(c["type"] == "Ready" and c["status"] == "True" for c in x["status"]["conditions"])}
            eps = [x for x in objs if x["kind"] == "Endpoints" and x["metadata"]["name"] == m["name"]
                   and x["metadata"]["namespace"] == m["namespace"]]
            for e in eps:
                got_ready = {a["targetRef"]["uid"] for s in e.get("subsets", []) for a in s.get("addresses", [])}
                got_all = {a["targetRef"]["uid"] for s in e.get("subsets", [])
                           for a in s.get("addresses", []) + s.get("notReadyAddresses", [])}
                if got_ready != ready or got_all != {x["metadata"]["uid"] for x in match}:
                    errs.append(f"{p}: Endpoints inconsistent with pods")
    walk_ts(objs, "objects", cap, errs)
    if "alert" in doc:
        walk_ts(doc["alert"], "alert", cap, errs)
        for j, a in enumerate(doc["alert"].get("alerts", [])):
            lb = a["labels"]
            if "pod" in lb and ("Pod", lb.get("namespace"), lb["pod"]) not in keys:
                errs.append(f"alert.alerts[{j}]: pod {lb['pod']} not in bundle")
            if "deployment" in lb and ("Deployment", lb.get("namespace"), lb["deployment"]) not in keys:
                errs.append(f"alert.alerts[{j}]: deployment not in bundle")
            if "node" in lb and ("Node", None, lb["node"]) not in keys:
                errs.append(f"alert.alerts[{j}]: node not in bundle")
            if "horizontalpodautoscaler" in lb and ("HorizontalPodAutoscaler", lb["namespace"], lb["horizontalpodautoscaler"]) not in keys:
                errs.append(f"alert.alerts[{j}]: hpa not in bundle")
            if "job_name" in lb and ("Job", lb["namespace"], lb["job_name"]) not in keys:
                errs.append(f"alert.alerts[{j}]: job not in bundle")
            if "persistentvolumeclaim" in lb and ("PersistentVolumeClaim", lb["namespace"], lb["persistentvolumeclaim"]) not in keys:
                errs.append(f"alert.alerts[{j}]: pvc not in bundle")
    for j, lg in enumerate(doc.get("logs", [])):
        po = keys.get(("Pod", lg["namespace"], lg["pod"]))
        if po is None:
            errs.append(f"logs[{j}]: pod {lg['pod']} not in bundle")
            continue
        names = [c["name"] for c in po["spec"]["containers"] + po["spec"].get("initContainers", [])]
        if lg["container"] not in names:
            errs.append(f"logs[{j}]: container {lg['container']} not in pod")
        if lg["previous"]:
            st = [c for c in po["status"].get("containerStatuses", []) + po["status"].get("initContainerStatuses", [])
                  if c["name"] == lg["container"]]
            if not st or not st[0]["lastState"].get("terminated"):
                errs.append(f"logs[{j}]: previous logs but no terminated lastState")
        for mt in TS_IN_TEXT.findall(lg["text"]):
            if parse_ts(mt) > cap:
                errs.append(f"logs[{j}]: log timestamp {mt} after capturedAt")
    for j, mt in enumerate(doc.get("metrics", [])):
        for r in mt["result"]:
            for ts_, v in r.get("values", []):
                if ts_ >= cap_unix:
                    errs.append(f"metrics[{j}]: sample at/after capturedAt")
                float(v)
            lb = r["metric"]
            if "pod" in lb and ("Pod", lb.get("namespace"), lb["pod"]) not in keys:
                errs.append(f"metrics[{j}]: pod {lb['pod']} not in bundle")
    e = doc["expected"]
    if e["cause"] not in CAUSES | {"none"}:
        errs.append(f"bad cause {e['cause']}")
    if "alternates" not in e:
        errs.append("expected.alternates missing")
    for a in e.get("alternates", []):
        if a not in CAUSES | {"none"} or a == e["cause"]:
            errs.append(f"bad alternate {a}")
    parts = e["resource"].split("/")
    kind, ns, name = (parts[0], None, parts[1]) if len(parts) == 2 else parts
    if (kind, ns, name) not in keys:
        errs.append(f"expected.resource {e['resource']} not in bundle")
    return errs


def main(d):
    total = bad = 0
    for path in sorted(glob.glob(os.path.join(d, "*.json"))):
        total += 1
        errs = check_doc(json.load(open(path)))
        if errs:
            bad += 1
            print(os.path.basename(path))
            for x in errs:
                print("   ", x)
    print(f"{total} files, {bad} with problems")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
