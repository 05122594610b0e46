"""Helpers that build Kubernetes objects the way the API server returns them.

Adapted from /work/shared/scenarios/k8sgpt/_build/lib.py (the generator of the k8sgpt-derived
scenario corpus; that corpus and its generator are distributed under Apache-2.0, Copyright The
K8sGPT Authors for the fixtures it transcribes). Changes: another capture time, per-node IPs,
richer pod/container state modelling (CrashLoopBackOff, OOMKilled, image pull, unschedulable ...),
multi-revision Deployments, StatefulSets, Jobs, RBAC, quota, storage, alerts, logs and metrics.
Standard library only; deterministic.
"""
import hashlib
import json
import uuid
from datetime import datetime, timedelta, timezone

CAPTURED = datetime(2026, 4, 2, 14, 30, 0, tzinfo=timezone.utc)
CAPTURED_S = "2026-04-02T14:30:00Z"
CAPTURED_UNIX = int(CAPTURED.timestamp())


def t(**kw):
    """RFC3339 timestamp `kw` (timedelta args) before capturedAt."""
    return (CAPTURED - timedelta(**kw)).strftime("%Y-%m-%dT%H:%M:%SZ")


def tms(**kw):
    """RFC3339 with milliseconds (Alertmanager style)."""
    d = CAPTURED - timedelta(**kw)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"


def unix(**kw):
    return int((CAPTURED - timedelta(**kw)).timestamp())


def logts(fmt="iso", **kw):
    d = CAPTURED - timedelta(**kw)
    if fmt == "iso":
        return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"
    if fmt == "klog":
        return d.strftime("%m%d %H:%M:%S.") + f"{d.microsecond:06d}"
    if fmt == "py":
        return d.strftime("%Y-%m-%d %H:%M:%S,") + f"{d.microsecond // 1000:03d}"
    if fmt == "java":
        return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"
    if fmt == "pg":
        return d.strftime("%Y-%m-%d %H:%M:%S.") + f"{d.microsecond // 1000:03d} UTC"
    if fmt == "go":
        return d.strftime("%Y/%m/%d %H:%M:%S")
    raise ValueError(fmt)


def h(*parts, n=64):
    return hashlib.sha256("/".join(str(p) for p in parts).encode()).hexdigest()[:n]


def safe(n, *parts):
    """n characters of the alphabet Kubernetes uses for generated names and hashes."""
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    d = int(h(*parts, n=32), 16)
    out = ""
    for _ in range(n):
        out += alphabet[d % len(alphabet)]
        d //= len(alphabet)
    return out


def suffix5(*parts):
    return safe(5, *parts)


def canon(o):
    return json.dumps(o, sort_keys=True)


class Bundle:
    def __init__(self, fname):
        self.fname = fname
        self.objects = []
        self.logs = []
        self.metrics = []
        self.alert = None
        self._rv = int(h(fname, n=6), 16) % 9000000 + 1000000

    def uid(self, kind, ns, name):
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"aiops-own-scenarios/{self.fname}/{kind}/{ns}/{name}"))

    def rv(self):
        self._rv += 41
        return str(self._rv)

    def meta(self, kind, name, ns=None, labels=None, annotations=None, owner=None,
             created=None, generation=None, extra=None):
        m = {"name": name}
        if ns is not None:
            m["namespace"] = ns
        m["uid"] = self.uid(kind, ns, name)
        m["resourceVersion"] = self.rv()
        if generation is not None:
            m["generation"] = generation
        m["creationTimestamp"] = created or t(days=41, hours=3)
        if labels:
            m["labels"] = dict(labels)
        if annotations:
            m["annotations"] = dict(annotations)
        if owner is not None:
            m["ownerReferences"] = [ownerref(owner)]
        if extra:
            m.update(extra)
        return m

    def add(self, *objs):
        for o in objs:
            if isinstance(o, (list, tuple)):
                self.add(*o)
            elif o is not None:
                self.objects.append(o)
        return objs[0] if len(objs) == 1 else objs

    def log(self, pod_obj, container, lines, previous=False):
        self.logs.append({"namespace": pod_obj["metadata"]["namespace"], "pod": pod_obj["metadata"]["name"],
                          "container": container, "previous": previous, "text": "\n".join(lines) + "\n"})

    def metric(self, name, query, result, result_type="matrix"):
        self.metrics.append({"name": name, "query": query, "resultType": result_type, "result": result})


def ownerref(obj, controller=True):
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": obj["metadata"]["name"],
            "uid": obj["metadata"]["uid"], "controller": controller, "blockOwnerDeletion": True}


def ref(obj):
    """An ObjectReference (events) to obj."""
    r = {"kind": obj["kind"]}
    if "namespace" in obj["metadata"]:
        r["namespace"] = obj["metadata"]["namespace"]
    r["name"] = obj["metadata"]["name"]
    r["uid"] = obj["metadata"]["uid"]
    r["apiVersion"] = obj["apiVersion"]
    r["resourceVersion"] = obj["metadata"]["resourceVersion"]
    return r


def managed(manager, time, fields, operation="Update", api="v1", subresource=None):
    m = {"manager": manager, "operation": operation, "apiVersion": api, "time": time,
         "fieldsType": "FieldsV1", "fieldsV1": fields}
    if subresource:
        m["subresource"] = subresource
    return m


# ---- containers ---------------------------------------------------------
def pull_policy(image):
    tag = image.rsplit("/", 1)[-1]
    if "@" in tag:
        return "IfNotPresent"
    if ":" not in tag or tag.endswith(":latest"):
        return "Always"
    return "IfNotPresent"


def res(cpu_req=None, mem_req=None, cpu_lim=None, mem_lim=None, extra_lim=None):
    r = {}
    lim = {}
    if cpu_lim:
        lim["cpu"] = cpu_lim
    if mem_lim:
        lim["memory"] = mem_lim
    if extra_lim:
        lim.update(extra_lim)
    if lim:
        r["limits"] = lim
    req = {}
    if cpu_req:
        req["cpu"] = cpu_req
    if mem_req:
        req["memory"] = mem_req
    if extra_lim:
        req.update(extra_lim)
    if req:
        r["requests"] = req
    return r


def ctr(name, image, ports=None, readiness=None, liveness=None, startup=None, resources=None,
        args=None, command=None, env=None, env_from=None, mounts=None, security=None, pull=None):
    c = {"name": name, "image": image}
    if command:
        c["command"] = list(command)
    if args:
        c["args"] = list(args)
    if ports:
        c["ports"] = [{"name": p[0], "containerPort": p[1], "protocol": p[2] if len(p) > 2 else "TCP"}
                      if isinstance(p, tuple) else {"containerPort": p, "protocol": "TCP"} for p in ports]
    if env_from:
        c["envFrom"] = env_from
    if env:
        c["env"] = env
    c["resources"] = resources or {}
    if mounts:
        c["volumeMounts"] = list(mounts)
    if liveness:
        c["livenessProbe"] = liveness
    if readiness:
        c["readinessProbe"] = readiness
    if startup:
        c["startupProbe"] = startup
    c["terminationMessagePath"] = "/dev/termination-log"
    c["terminationMessagePolicy"] = "File"
    c["imagePullPolicy"] = pull or pull_policy(image)
    if security:
        c["securityContext"] = security
    return c


def http_probe(path="/healthz", port=8080, period=10, failure=3, timeout=1, delay=5, scheme="HTTP"):
    return {"httpGet": {"path": path, "port": port, "scheme": scheme}, "initialDelaySeconds": delay,
            "timeoutSeconds": timeout, "periodSeconds": period, "successThreshold": 1, "failureThreshold": failure}


def tcp_probe(port, period=10, failure=3, timeout=1, delay=5):
    return {"tcpSocket": {"port": port}, "initialDelaySeconds": delay, "timeoutSeconds": timeout,
            "periodSeconds": period, "successThreshold": 1, "failureThreshold": failure}


def exec_probe(cmd, period=10, failure=3, timeout=1, delay=5):
    return {"exec": {"command": list(cmd)}, "initialDelaySeconds": delay, "timeoutSeconds": timeout,
            "periodSeconds": period, "successThreshold": 1, "failureThreshold": failure}


def env(name, value=None, secret=None, cm=None, field=None):
    e = {"name": name}
    if value is not None:
        e["value"] = value
    elif secret:
        e["valueFrom"] = {"secretKeyRef": {"name": secret[0], "key": secret[1]}}
    elif cm:
        e["valueFrom"] = {"configMapKeyRef": {"name": cm[0], "key": cm[1]}}
    elif field:
        e["valueFrom"] = {"fieldRef": {"apiVersion": "v1", "fieldPath": field}}
    return e


def image_id(image):
    base = image.split("@")[0]
    last = base.rsplit("/", 1)[-1]
    repo = base.rsplit(":", 1)[0] if ":" in last else base
    if "." not in repo.split("/")[0]:
        repo = ("docker.io/library/" + repo) if "/" not in repo else ("docker.io/" + repo)
    return f"{repo}@sha256:{h('img', image)}"


def cid(*parts):
    return "containerd://" + h("cid", *parts)


# ---- container states (specs turned into containerStatuses by pod()) -----
def term(exit_code, reason, started, finished, message=None):
    d = {"exitCode": exit_code}
    if reason:
        d["reason"] = reason
    if message:
        d["message"] = message
    d["startedAt"] = started
    d["finishedAt"] = finished
    return d


def C_ready(started, restarts=0, last=None):
    return {"k": "running", "started": started, "ready": True, "restarts": restarts, "last": last}


def C_unready(started, restarts=0, last=None, started_flag=True):
    return {"k": "running", "started": started, "ready": False, "restarts": restarts, "last": last,
            "started_flag": started_flag}


def C_crash(restarts, last, backoff="5m0s"):
    """CrashLoopBackOff; last: term(...)"""
    return {"k": "crash", "restarts": restarts, "last": last, "backoff": backoff}


def C_wait(reason, message=None, restarts=0, last=None):
    """Waiting container that has not run (ContainerCreating, ImagePullBackOff, CreateContainerConfigError...)."""
    return {"k": "wait", "reason": reason, "message": message, "restarts": restarts, "last": last}


def C_term(exit_code, reason, started, finished, restarts=0, message=None):
    return {"k": "term", "t": term(exit_code, reason, started, finished, message), "restarts": restarts}


def _cstatus(pname, ns, puid, c, s):
    image = c["image"]
    st = {"name": c["name"]}
    ran = True
    if s["k"] == "running":
        st["state"] = {"running": {"startedAt": s["started"]}}
        st["ready"] = s["ready"]
        started = s.get("started_flag", True)
    elif s["k"] == "crash":
        st["state"] = {"waiting": {"reason": "CrashLoopBackOff",
                                   "message": f"back-off {s['backoff']} restarting failed container={c['name']} pod={pname}_{ns}({puid})"}}
        st["ready"] = False
        started = False
    elif s["k"] == "wait":
        w = {"reason": s["reason"]}
        if s.get("message"):
            w["message"] = s["message"]
        st["state"] = {"waiting": w}
        st["ready"] = False
        started = False
        ran = s.get("last") is not None
    else:  # term
        tt = dict(s["t"])
        tt["containerID"] = cid(pname, c["name"], s["restarts"])
        st["state"] = {"terminated": tt}
        st["ready"] = False
        started = False
    last = s.get("last")
    if last:
        lt = dict(last)
        lt["containerID"] = cid(pname, c["name"], max(0, s["restarts"] - 1))
        st["lastState"] = {"terminated": lt}
    else:
        st["lastState"] = {}
    st["restartCount"] = s.get("restarts", 0)
    st["image"] = image
    if ran:
        st["imageID"] = image_id(image)
        st["containerID"] = cid(pname, c["name"], s.get("restarts", 0))
    else:
        st["imageID"] = ""
    st["started"] = started
    return st


def _phase(cstates, restart_policy):
    running = waiting = stopped = succeeded = 0
    for s in cstates:
        if s["k"] == "running":
            running += 1
        elif s["k"] == "term":
            stopped += 1
            if s["t"]["exitCode"] == 0:
                succeeded += 1
        elif s["k"] == "crash" or (s["k"] == "wait" and s.get("last")):
            stopped += 1
        else:
            waiting += 1
    if waiting:
        return "Pending"
    if running:
        return "Running"
    if restart_policy == "Always":
        return "Running"
    if stopped == succeeded:
        return "Succeeded"
    if restart_policy == "OnFailure":
        return "Running"
    return "Failed"


def cond(type_, status, ltt, reason=None, message=None):
    c = {"type": type_, "status": status, "lastProbeTime": None, "lastTransitionTime": ltt}
    if reason is not None:
        c["reason"] = reason
    if message is not None:
        c["message"] = message
    return c


# ---- nodes ----------------------------------------------------------------
def node_ip(name):
    if name.startswith("ip-"):
        parts = name.split(".")[0].split("-")[1:5]
        return ".".join(parts)
    d = int(h("node", name, n=4), 16)
    return f"10.128.{d % 8}.{10 + (d >> 3) % 200}"


SIZES = {
    "m6i.xlarge": ({"cpu": "4", "memory": "16070788Ki", "pods": "58"},
                   {"cpu": "3920m", "memory": "15053956Ki", "pods": "58"}),
    "m6i.2xlarge": ({"cpu": "8", "memory": "32408676Ki", "pods": "58"},
                    {"cpu": "7910m", "memory": "31391844Ki", "pods": "58"}),
    "e2-standard-4": ({"cpu": "4", "memory": "16393924Ki", "pods": "110"},
                      {"cpu": "3920m", "memory": "13292740Ki", "pods": "110"}),
    "e2-standard-8": ({"cpu": "8", "memory": "32882892Ki", "pods": "110"},
                      {"cpu": "7910m", "memory": "29094092Ki", "pods": "110"}),
}

NODE_OK = {
    "MemoryPressure": ("False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    "DiskPressure": ("False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    "PIDPressure": ("False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    "Ready": ("True", "KubeletReady", "kubelet is posting ready status"),
}


def node(b, name, size=None, zone=None, overrides=None, taints=None, labels=None, heartbeat=None,
         created=None, unschedulable=False, control_plane=False, extra_conditions=None):
    eks = name.startswith("ip-")
    size = size or ("m6i.xlarge" if eks else "e2-standard-4")
    zone = zone or ("eu-west-1" + "abc"[int(h(name, n=2), 16) % 3] if eks else "europe-west4-" + "abc"[int(h(name, n=2), 16) % 3])
    overrides = overrides or {}
    hb = heartbeat or t(seconds=17 + int(h("hb", name, n=2), 16) % 30)
    conds = []
    if not eks:
        conds.append({"type": "NetworkUnavailable", "status": "False", "lastHeartbeatTime": t(days=12),
                      "lastTransitionTime": t(days=12), "reason": "RouteCreated",
                      "message": "RouteController created a route"})
    for typ in ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"]:
        s, r, m = overrides.get(typ, NODE_OK[typ])
        conds.append({"type": typ, "status": s, "lastHeartbeatTime": overrides.get("_hb", hb),
                      "lastTransitionTime": overrides.get("_ltt_" + typ, created or t(days=12)), "reason": r, "message": m})
    conds += extra_conditions or []
    lbl = {"beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/instance-type": size,
           "beta.kubernetes.io/os": "linux", "failure-domain.beta.kubernetes.io/region": zone[:-1],
           "failure-domain.beta.kubernetes.io/zone": zone, "kubernetes.io/arch": "amd64",
           "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
           "node.kubernetes.io/instance-type": size, "topology.kubernetes.io/region": zone[:-1],
           "topology.kubernetes.io/zone": zone}
    if eks:
        lbl["eks.amazonaws.com/nodegroup"] = "general-v3"
        lbl["eks.amazonaws.com/capacityType"] = "ON_DEMAND"
    else:
        lbl["cloud.google.com/gke-nodepool"] = "default-pool"
    if control_plane:
        lbl["node-role.kubernetes.io/control-plane"] = ""
    if labels:
        lbl.update(labels)
    ip = node_ip(name)
    spec = {}
    d = int(h("cidr", name, n=2), 16)
    if not eks:
        spec["podCIDR"] = f"10.244.{d % 200}.0/24"
        spec["podCIDRs"] = [spec["podCIDR"]]
        spec["providerID"] = f"gce://acme-prod/{zone}/{name}"
    else:
        spec["providerID"] = f"aws:///{zone}/i-0{h('iid', name, n=16)}"
    if unschedulable:
        spec["unschedulable"] = True
    if taints:
        spec["taints"] = taints
    cap, alloc = SIZES[size]
    cap = dict(cap, **{"ephemeral-storage": "104845292Ki", "hugepages-1Gi": "0", "hugepages-2Mi": "0"})
    alloc = dict(alloc, **{"ephemeral-storage": "95551679124", "hugepages-1Gi": "0", "hugepages-2Mi": "0"})
    addrs = [{"type": "InternalIP", "address": ip}]
    if eks:
        addrs += [{"type": "InternalDNS", "address": name}, {"type": "Hostname", "address": name}]
    else:
        addrs += [{"type": "Hostname", "address": name}]
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": b.meta("Node", name, None, labels=lbl, created=created or t(days=12),
                               annotations={"node.alpha.kubernetes.io/ttl": "0",
                                            "volumes.kubernetes.io/controller-managed-attach-detach": "true"}),
            "spec": spec,
            "status": {
                "capacity": cap, "allocatable": alloc, "conditions": conds, "addresses": addrs,
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                "nodeInfo": {"machineID": h("mid", name, n=32), "systemUUID": str(uuid.uuid5(uuid.NAMESPACE_DNS, name)),
                             "bootID": str(uuid.uuid5(uuid.NAMESPACE_OID, name)),
                             "kernelVersion": "6.1.119-129.201.amzn2023.x86_64" if eks else "6.6.56+",
                             "osImage": "Amazon Linux 2023.6.20250107" if eks else "Container-Optimized OS from Google",
                             "containerRuntimeVersion": "containerd://1.7.25" if eks else "containerd://1.7.24",
                             "kubeletVersion": "v1.31.4-eks-aeac579" if eks else "v1.31.5-gke.1023000",
                             "kubeProxyVersion": "v1.31.4-eks-aeac579" if eks else "v1.31.5-gke.1023000",
                             "operatingSystem": "linux", "architecture": "amd64"}}}


NOTREADY_UNKNOWN = "Kubelet stopped posting node status."


def node_unreachable(b, name, since_min, **kw):
    """A node whose kubelet stopped reporting `since_min` minutes ago (Ready Unknown, unreachable taints)."""
    unk = ("Unknown", "NodeStatusUnknown", NOTREADY_UNKNOWN)
    ov = {k: unk for k in ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"]}
    ov["_hb"] = t(minutes=since_min, seconds=40)
    for k in ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"]:
        ov["_ltt_" + k] = t(minutes=since_min)
    taints = [{"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule", "timeAdded": t(minutes=since_min)},
              {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": t(minutes=since_min, seconds=-5)}]
    return node(b, name, overrides=ov, taints=taints, **kw)


# ---- pods ---------------------------------------------------------------
DEFAULT_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]


def sa_volume(podname):
    name = "kube-api-access-" + suffix5("sa", podname)
    vol = {"name": name, "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}}
    mount = {"name": name, "readOnly": True, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}
    return vol, mount


def pod_ip(ns, name, node_name):
    d = int(h("ip", ns, name, n=4), 16)
    base = node_ip(node_name).split(".")
    if node_name.startswith("ip-"):
        return f"{base[0]}.{base[1]}.{base[2]}.{(int(base[3]) + 7 + d % 180) % 250 + 2}"
    c = int(h("cidr", node_name, n=2), 16) % 200
    return f"10.244.{c}.{2 + d % 250}"


def _qos(containers):
    any_set = False
    guaranteed = True
    for c in containers:
        r = c.get("resources") or {}
        lim, req = r.get("limits", {}), r.get("requests", {})
        if lim or req:
            any_set = True
        for k in ("cpu", "memory"):
            if not lim.get(k) or req.get(k, lim.get(k)) != lim.get(k):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def _plus(ts, seconds):
    d = datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc) + timedelta(seconds=seconds)
    d = min(d, CAPTURED)
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


def pod(b, name, ns, containers, cstates, *, owner=None, labels=None, node=None, created=None, sa=None,
        volumes=None, init_containers=None, init_cstates=None, spec_extra=None, annotations=None,
        unscheduled_msg=None, sandbox=True, ready_ltt=None, phase=None, reason=None, message=None,
        restart_policy="Always", extra_conditions=None, deletion=None, host_network=False):
    created = created or t(days=3)
    uid = b.uid("Pod", ns, name)
    vol, mount = sa_volume(name)
    cs = []
    for c in containers:
        c = json.loads(json.dumps(c))
        c["volumeMounts"] = list(c.get("volumeMounts", [])) + [mount]
        cs.append(c)
    spec = {}
    if init_containers:
        ics = []
        for c in init_containers:
            c = json.loads(json.dumps(c))
            c["volumeMounts"] = list(c.get("volumeMounts", [])) + [mount]
            ics.append(c)
        spec["initContainers"] = ics
    spec["containers"] = cs
    spec["restartPolicy"] = restart_policy
    spec["terminationGracePeriodSeconds"] = 30
    spec["dnsPolicy"] = "ClusterFirst"
    spec["serviceAccountName"] = sa or "default"
    spec["serviceAccount"] = sa or "default"
    scheduled = unscheduled_msg is None and node is not None
    if scheduled:
        spec["nodeName"] = node
    spec["securityContext"] = {}
    spec["schedulerName"] = "default-scheduler"
    tol = list(DEFAULT_TOLERATIONS)
    extra = json.loads(json.dumps(spec_extra or {}))
    if "tolerations" in extra:
        tol = extra.pop("tolerations") + tol
    spec["tolerations"] = tol
    spec["priority"] = 0
    spec["enableServiceLinks"] = True
    spec["preemptionPolicy"] = "PreemptLowerPriority"
    if "serviceAccountName" in extra:
        spec["serviceAccount"] = extra["serviceAccountName"]
    vols = list(volumes or []) + extra.pop("volumes", [])
    spec.update(extra)
    if host_network:
        spec["hostNetwork"] = True
    spec["volumes"] = vols + [vol]
    if "priorityClassName" in spec and spec["priorityClassName"] in ("system-cluster-critical", "system-node-critical"):
        spec["priority"] = 2000000000 if spec["priorityClassName"] == "system-cluster-critical" else 2000001000

    status = {}
    sched_at = _plus(created, 1)
    if not scheduled:
        status["phase"] = "Pending"
        status["conditions"] = [cond("PodScheduled", "False", sched_at, "Unschedulable", unscheduled_msg)]
        status["qosClass"] = _qos(containers)
        return {"apiVersion": "v1", "kind": "Pod",
                "metadata": b.meta("Pod", name, ns, labels=labels, owner=owner, created=created, annotations=annotations),
                "spec": spec, "status": status}
    ph = phase or _phase(cstates, restart_policy)
    status["phase"] = ph
    all_ready = all(s["k"] == "running" and s["ready"] for s in cstates)
    unready = [c["name"] for c, s in zip(containers, cstates) if not (s["k"] == "running" and s["ready"])]
    rl = ready_ltt or _plus(created, 12)
    conds = []
    terminal = ph in ("Succeeded", "Failed")
    conds.append(cond("PodReadyToStartContainers", "True" if (sandbox and not terminal) else "False",
                      rl if terminal else _plus(created, 3)))
    if init_containers and init_cstates and not all(s["k"] == "term" and s["t"]["exitCode"] == 0 for s in init_cstates):
        pend = [c["name"] for c, s in zip(init_containers, init_cstates) if not (s["k"] == "term" and s["t"]["exitCode"] == 0)]
        conds.append(cond("Initialized", "False", sched_at, "ContainersNotInitialized",
                          f"containers with incomplete status: [{' '.join(pend)}]"))
    else:
        conds.append(cond("Initialized", "True", _plus(created, 4) if init_containers else sched_at))
    if all_ready:
        conds.append(cond("Ready", "True", rl))
        conds.append(cond("ContainersReady", "True", rl))
    elif terminal:
        r = "PodCompleted" if ph == "Succeeded" else "PodFailed"
        conds.append(cond("Ready", "False", rl, r))
        conds.append(cond("ContainersReady", "False", rl, r))
    else:
        msg = f"containers with unready status: [{' '.join(unready)}]"
        conds.append(cond("Ready", "False", rl, "ContainersNotReady", msg))
        conds.append(cond("ContainersReady", "False", rl, "ContainersNotReady", msg))
    conds.append(cond("PodScheduled", "True", sched_at))
    conds += extra_conditions or []
    status["conditions"] = conds
    if reason:
        status["reason"] = reason
    if message:
        status["message"] = message
    status["hostIP"] = node_ip(node)
    status["hostIPs"] = [{"ip": status["hostIP"]}]
    if sandbox and reason != "Evicted":
        ip = status["hostIP"] if host_network else pod_ip(ns, name, node)
        status["podIP"] = ip
        status["podIPs"] = [{"ip": ip}]
    status["startTime"] = sched_at
    if init_containers:
        status["initContainerStatuses"] = [_cstatus(name, ns, uid, c, s) for c, s in zip(init_containers, init_cstates)]
    status["containerStatuses"] = [_cstatus(name, ns, uid, c, s) for c, s in zip(containers, cstates)]
    status["qosClass"] = _qos(containers)
    md = b.meta("Pod", name, ns, labels=labels, owner=owner, created=created, annotations=annotations)
    if deletion:
        md["deletionTimestamp"] = deletion
        md["deletionGracePeriodSeconds"] = 30
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": spec, "status": status}


def is_ready(p):
    for c in p["status"].get("conditions", []):
        if c["type"] == "Ready":
            return c["status"] == "True"
    return False


# ---- events -------------------------------------------------------------
def event(b, obj, reason, message, type_="Warning", count=1, first=None, last=None,
          component="kubelet", host=None, field_path=None):
    inv = ref(obj)
    if field_path:
        inv["fieldPath"] = field_path
    ns = obj["metadata"].get("namespace", "default")
    last = last or t(minutes=1)
    first = first or last
    name = f"{obj['metadata']['name']}.{h('ev', b.fname, obj['metadata']['uid'], reason, message, n=16)}"
    if host is None and component == "kubelet" and obj["kind"] == "Pod":
        host = obj["spec"].get("nodeName")
    ev = {"apiVersion": "v1", "kind": "Event",
          "metadata": {"name": name, "namespace": ns, "uid": b.uid("Event", ns, name),
                       "resourceVersion": b.rv(), "creationTimestamp": first},
          "involvedObject": inv, "reason": reason, "message": message}
    src = {}
    if component:
        src["component"] = component
    if host:
        src["host"] = host
    ev["source"] = src
    ev["firstTimestamp"] = first
    ev["lastTimestamp"] = last
    ev["count"] = count
    ev["type"] = type_
    ev["eventTime"] = None
    ev["reportingComponent"] = component or ""
    ev["reportingInstance"] = host or ""
    return ev


# ---- services -----------------------------------------------------------
def cluster_ip(ns, name):
    d = int(h("svc", ns, name, n=4), 16)
    return f"10.96.{d % 250}.{1 + (d >> 8) % 250}"


def service(b, name, ns, selector, ports, svc_type="ClusterIP", headless=False, labels=None,
            annotations=None, created=None, ip=None, external_name=None, extra_meta=None):
    """ports: list of (name, port, targetPort[, protocol])."""
    spec = {}
    if svc_type == "ExternalName":
        spec["type"] = "ExternalName"
        spec["externalName"] = external_name
        spec["sessionAffinity"] = "None"
        return {"apiVersion": "v1", "kind": "Service",
                "metadata": b.meta("Service", name, ns, labels=labels, annotations=annotations, created=created, extra=extra_meta),
                "spec": spec, "status": {"loadBalancer": {}}}
    ip = "None" if headless else (ip or cluster_ip(ns, name))
    spec["ports"] = [{"name": p[0], "protocol": p[3] if len(p) > 3 else "TCP", "port": p[1], "targetPort": p[2]} for p in ports]
    if selector is not None:
        spec["selector"] = dict(selector)
    spec["clusterIP"] = ip
    spec["clusterIPs"] = [ip]
    spec["type"] = svc_type
    spec["sessionAffinity"] = "None"
    spec["ipFamilies"] = ["IPv4"]
    spec["ipFamilyPolicy"] = "SingleStack"
    spec["internalTrafficPolicy"] = "Cluster"
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": b.meta("Service", name, ns, labels=labels, annotations=annotations, created=created, extra=extra_meta),
            "spec": spec, "status": {"loadBalancer": {}}}


def _addr(p):
    return {"ip": p["status"]["podIP"], "nodeName": p["spec"]["nodeName"],
            "targetRef": {"kind": "Pod", "namespace": p["metadata"]["namespace"], "name": p["metadata"]["name"],
                          "uid": p["metadata"]["uid"]}}


def _port_num(p, pods):
    tp = p["targetPort"]
    if isinstance(tp, int):
        return tp
    for po in pods:
        for c in po["spec"]["containers"]:
            for cp in c.get("ports", []):
                if cp.get("name") == tp:
                    return cp["containerPort"]
    return p["port"]


def endpoints_for(b, svc, pods, changed=None):
    """Endpoints + EndpointSlice the controllers write for svc given all candidate pods."""
    sel = svc["spec"].get("selector") or {}
    ns = svc["metadata"]["namespace"]
    match = [p for p in pods if p["metadata"]["namespace"] == ns and sel
             and all(p["metadata"].get("labels", {}).get(k) == v for k, v in sel.items())
             and p["status"].get("podIP") and p["status"]["phase"] in ("Running", "Pending")
             and "deletionTimestamp" not in p["metadata"]]
    ready = [p for p in match if is_ready(p)]
    not_ready = [p for p in match if not is_ready(p)]
    changed = changed or t(minutes=45)
    name = svc["metadata"]["name"]
    ep = {"apiVersion": "v1", "kind": "Endpoints",
          "metadata": b.meta("Endpoints", name, ns, labels=svc["metadata"].get("labels"),
                             annotations={"endpoints.kubernetes.io/last-change-trigger-time": changed},
                             created=svc["metadata"]["creationTimestamp"])}
    ports = [{"name": p["name"], "port": _port_num(p, match), "protocol": p["protocol"]} for p in svc["spec"]["ports"]]
    if ready or not_ready:
        sub = {}
        if ready:
            sub["addresses"] = [_addr(p) for p in ready]
        if not_ready:
            sub["notReadyAddresses"] = [_addr(p) for p in not_ready]
        sub["ports"] = ports
        ep["subsets"] = [sub]
    eps = []
    for p, r in [(p, True) for p in ready] + [(p, False) for p in not_ready]:
        eps.append({"addresses": [p["status"]["podIP"]],
                    "conditions": {"ready": r, "serving": r, "terminating": False},
                    "targetRef": {"kind": "Pod", "namespace": ns, "name": p["metadata"]["name"], "uid": p["metadata"]["uid"]},
                    "nodeName": p["spec"]["nodeName"],
                    "zone": None})
    for e in eps:
        e.pop("zone")
    labels = dict(svc["metadata"].get("labels") or {})
    labels.update({"endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                   "kubernetes.io/service-name": name})
    if svc["spec"].get("clusterIP") == "None":
        labels["service.kubernetes.io/headless"] = ""
    sl = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
          "metadata": b.meta("EndpointSlice", f"{name}-{suffix5('eps', b.fname, ns, name)}", ns, labels=labels,
                             annotations={"endpoints.kubernetes.io/last-change-trigger-time": changed},
                             owner=svc, created=svc["metadata"]["creationTimestamp"], generation=1,
                             extra={"generateName": f"{name}-"}),
          "addressType": "IPv4",
          "endpoints": eps or None,
          "ports": ports if eps else None}
    return [ep, sl]


# ---- workloads ----------------------------------------------------------
def template(labels, containers, restart_policy="Always", extra=None, annotations=None):
    spec = {"containers": json.loads(json.dumps(containers)), "restartPolicy": restart_policy,
            "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst", "securityContext": {},
            "schedulerName": "default-scheduler"}
    if extra:
        spec.update(json.loads(json.dumps(extra)))
    md = {"creationTimestamp": None}
    if labels:
        md["labels"] = dict(labels)
    if annotations:
        md["annotations"] = dict(annotations)
    return {"metadata": md, "spec": spec}


class Rev:
    """One ReplicaSet revision of a Deployment: its containers and the pods it currently owns."""

    def __init__(self, number, created, containers, pods=(), replicas=None, extra=None, tpl_annotations=None):
        self.number = number
        self.created = created
        self.containers = containers
        self.pods = list(pods)  # list of P(...)
        self.replicas = len(self.pods) if replicas is None else replicas
        self.extra = extra
        self.tpl_annotations = tpl_annotations


def P(cstates, node=None, created=None, **kw):
    """A pod to create: container states, node, creation time and pod() keyword overrides."""
    d = {"cstates": cstates if isinstance(cstates, list) else [cstates], "node": node, "created": created}
    d.update(kw)
    return d


class App:
    pass


def _pct(v, n, up):
    if isinstance(v, int):
        return v
    p = int(v.rstrip("%"))
    x = n * p / 100
    return int(-(-x // 1)) if up else int(x)


def deployment_app(b, name, ns, revs, replicas, *, labels=None, pod_labels=None, selector=None, sa=None,
                   service_ports=None, service_selector=None, service_ip=None, service_name=None, service_labels=None,
                   service_created=None, created=None, pod_extra=None, progress="complete", progress_ltt=None,
                   available_ltt=None, dep_annotations=None, strategy=None, nodes=None, volumes=None,
                   app_labels=None, endpoints_changed=None, extra_pods_for_service=(), generation=None,
                   managed_fields=None):
    """Deployment -> ReplicaSet per Rev -> Pods, plus (optionally) Service/Endpoints/EndpointSlice.

    revs: oldest first; the last one is the Deployment's current template."""
    a = App()
    sel = dict(selector or labels or {"app.kubernetes.io/name": name})
    obj_labels = dict(app_labels or sel)
    plabels_base = dict(sel)
    plabels_base.update(pod_labels or {})
    created = created or t(days=41, hours=3)
    nodes = nodes or ["worker-1"]
    cur = revs[-1]
    strat = strategy or {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    pe = dict(pod_extra or {})
    if sa:
        pe["serviceAccountName"] = sa
    if volumes:
        pe["volumes"] = volumes
    all_pods = []
    rss = []
    dep_uid_meta = b.meta("Deployment", name, ns, labels=obj_labels, created=created,
                          generation=generation or max(1, cur.number + (1 if len(revs) > 1 else 0)))
    ann = {"deployment.kubernetes.io/revision": str(cur.number)}
    if dep_annotations:
        ann.update(dep_annotations)
    dep_uid_meta["annotations"] = ann
    if managed_fields:
        dep_uid_meta["managedFields"] = managed_fields
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": dep_uid_meta}
    maxsurge = strat.get("rollingUpdate", {}).get("maxSurge", "25%")
    for i, r in enumerate(revs):
        extra = dict(pe)
        if r.extra:
            extra.update(r.extra)
        hashv = safe(10, "pth", canon(r.containers), canon(extra), r.number, name)
        plabels = dict(plabels_base, **{"pod-template-hash": hashv})
        rsname = f"{name}-{hashv}"
        tpl = template(plabels_base, r.containers, extra=extra, annotations=r.tpl_annotations)
        rs_tpl = template(plabels, r.containers, extra=extra, annotations=r.tpl_annotations)
        rs_ann = {"deployment.kubernetes.io/desired-replicas": str(replicas),
                  "deployment.kubernetes.io/max-replicas": str(replicas + _pct(maxsurge, replicas, True)),
                  "deployment.kubernetes.io/revision": str(r.number)}
        rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
              "metadata": b.meta("ReplicaSet", rsname, ns, labels=plabels, annotations=rs_ann, owner=dep,
                                 created=r.created, generation=1 if r.replicas else 2),
              "spec": {"replicas": r.replicas, "selector": {"matchLabels": dict(sel, **{"pod-template-hash": hashv})},
                       "template": rs_tpl}}
        pods = []
        for j, pd in enumerate(r.pods):
            pd = dict(pd)
            pname = pd.pop("name", None) or f"{rsname}-{suffix5(b.fname, rsname, j)}"
            cst = pd.pop("cstates")
            nd = pd.pop("node") or nodes[j % len(nodes)]
            pc = pd.pop("created") or r.created
            pods.append(pod(b, pname, ns, r.containers, cst, owner=rs, labels=plabels, node=nd, created=pc,
                            spec_extra=extra, **pd))
        live = [p for p in pods if p["status"]["phase"] not in ("Failed", "Succeeded")]
        ready = [p for p in live if is_ready(p)]
        st = {"replicas": len(live), "fullyLabeledReplicas": len(live)}
        if ready:
            st["readyReplicas"] = len(ready)
            st["availableReplicas"] = len(ready)
        st["observedGeneration"] = rs["metadata"]["generation"]
        rs["status"] = st
        if r is cur:
            dep["spec"] = {"replicas": replicas, "selector": {"matchLabels": dict(sel)}, "template": tpl,
                           "strategy": strat, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600}
        rss.append(rs)
        all_pods += pods
        r.rs = rs
        r.pod_objs = pods
    # Deployment status
    live = [p for p in all_pods if p["status"]["phase"] not in ("Failed", "Succeeded")]
    ready = [p for p in live if is_ready(p)]
    updated = [p for p in cur.pod_objs if p["status"]["phase"] not in ("Failed", "Succeeded")]
    mu = _pct(strat.get("rollingUpdate", {}).get("maxUnavailable", "25%"), replicas, False) if strat["type"] == "RollingUpdate" else 0
    available = len(ready) >= replicas - mu
    st = {"observedGeneration": dep["metadata"]["generation"], "replicas": len(live), "updatedReplicas": len(updated)}
    if ready:
        st["readyReplicas"] = len(ready)
        st["availableReplicas"] = len(ready)
    total_spec = sum(r.replicas for r in revs)
    if total_spec - len(ready) > 0:
        st["unavailableReplicas"] = total_spec - len(ready)
    al = available_ltt or (t(days=9) if available else t(minutes=8))
    conds = []
    if available:
        conds.append({"type": "Available", "status": "True", "lastUpdateTime": al, "lastTransitionTime": al,
                      "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability."})
    else:
        conds.append({"type": "Available", "status": "False", "lastUpdateTime": al, "lastTransitionTime": al,
                      "reason": "MinimumReplicasUnavailable", "message": "Deployment does not have minimum availability."})
    rsn = cur.rs["metadata"]["name"]
    pl = progress_ltt or _plus(cur.created, 40)
    if progress == "complete":
        conds.append({"type": "Progressing", "status": "True", "lastUpdateTime": pl, "lastTransitionTime": cur.created,
                      "reason": "NewReplicaSetAvailable", "message": f'ReplicaSet "{rsn}" has successfully progressed.'})
    elif progress == "updating":
        conds.append({"type": "Progressing", "status": "True", "lastUpdateTime": pl, "lastTransitionTime": cur.created,
                      "reason": "ReplicaSetUpdated", "message": f'ReplicaSet "{rsn}" is progressing.'})
    else:
        conds.append({"type": "Progressing", "status": "False", "lastUpdateTime": pl, "lastTransitionTime": pl,
                      "reason": "ProgressDeadlineExceeded", "message": f'ReplicaSet "{rsn}" has timed out progressing.'})
    st["conditions"] = conds
    dep["status"] = st
    a.dep = dep
    a.rss = rss
    a.pods = all_pods
    a.revs = revs
    a.svc = None
    a.eps = []
    b.add(dep, *rss, *all_pods)
    if service_ports:
        a.svc = service(b, service_name or name, ns, service_selector or sel, service_ports, labels=service_labels or obj_labels,
                        ip=service_ip, created=service_created or created)
        a.eps = endpoints_for(b, a.svc, all_pods + list(extra_pods_for_service), changed=endpoints_changed)
        b.add(a.svc, *a.eps)
    return a


def statefulset_app(b, name, ns, containers, pods, *, labels=None, service_name=None, created=None, replicas=None,
                    claim=None, sa=None, pod_extra=None, nodes=None, sc="gp3", claim_phase="Bound", make_pvcs=True,
                    volumes=None, client_service=None):
    """StatefulSet with pods name-0..n; pods: list of P(...). claim: (name, size) volumeClaimTemplate."""
    a = App()
    sel = dict(labels or {"app.kubernetes.io/name": name})
    created = created or t(days=60)
    replicas = len(pods) if replicas is None else replicas
    nodes = nodes or ["worker-1"]
    extra = dict(pod_extra or {})
    if sa:
        extra["serviceAccountName"] = sa
    if volumes:
        extra["volumes"] = volumes
    rev = f"{name}-{safe(10, 'crh', canon(containers), name)}"
    spec = {"replicas": replicas, "selector": {"matchLabels": dict(sel)},
            "template": template(sel, containers, extra=extra),
            "serviceName": service_name or f"{name}-headless", "podManagementPolicy": "OrderedReady",
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            "revisionHistoryLimit": 10, "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"}}
    if claim:
        spec["volumeClaimTemplates"] = [{"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                         "metadata": {"name": claim[0], "creationTimestamp": None},
                                         "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": sc,
                                                  "resources": {"requests": {"storage": claim[1]}}, "volumeMode": "Filesystem"},
                                         "status": {"phase": "Pending"}}]
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet",
           "metadata": b.meta("StatefulSet", name, ns, labels=sel, created=created, generation=1), "spec": spec}
    pod_objs = []
    pvcs = []
    for i, pd in enumerate(pods):
        pd = dict(pd)
        pname = f"{name}-{i}"
        pl = dict(sel, **{"apps.kubernetes.io/pod-index": str(i), "controller-revision-hash": rev,
                          "statefulset.kubernetes.io/pod-name": pname})
        vols = []
        if claim:
            cn = f"{claim[0]}-{pname}"
            vols.append({"name": claim[0], "persistentVolumeClaim": {"claimName": cn}})
            if make_pvcs:
                pvcs.append(pvc(b, cn, ns, claim[1], sc=sc, phase=claim_phase, labels=sel,
                                created=_plus(created, 2 + i * 40)))
        cst = pd.pop("cstates")
        nd = pd.pop("node") or nodes[i % len(nodes)]
        pc = pd.pop("created") or _plus(created, 2 + i * 40)
        ex = dict(extra, hostname=pname, subdomain=spec["serviceName"])
        ex["volumes"] = vols + extra.get("volumes", [])
        pod_objs.append(pod(b, pname, ns, containers, cst, owner=sts, labels=pl, node=nd, created=pc, spec_extra=ex, **pd))
    ready = [p for p in pod_objs if is_ready(p)]
    st = {"observedGeneration": 1, "replicas": len(pod_objs), "currentReplicas": len(pod_objs),
          "updatedReplicas": len(pod_objs), "currentRevision": rev, "updateRevision": rev, "collisionCount": 0}
    if ready:
        st["readyReplicas"] = len(ready)
        st["availableReplicas"] = len(ready)
    else:
        st["availableReplicas"] = 0
    sts["status"] = st
    a.sts = sts
    a.pods = pod_objs
    a.pvcs = pvcs
    b.add(sts, *pvcs, *pod_objs)
    return a


# ---- storage --------------------------------------------------------------
def pvc(b, name, ns, size, sc="gp3", phase="Bound", labels=None, created=None, volume=None, access="ReadWriteOnce",
        provisioner="ebs.csi.aws.com", annotations=None):
    spec = {"accessModes": [access], "resources": {"requests": {"storage": size}}}
    if sc is not None:
        spec["storageClassName"] = sc
    spec["volumeMode"] = "Filesystem"
    ann = dict(annotations or {})
    if phase == "Bound":
        volume = volume or f"pvc-{b.uid('PersistentVolumeClaim', ns, name)}"
        spec["volumeName"] = volume
        ann.update({"pv.kubernetes.io/bind-completed": "yes", "pv.kubernetes.io/bound-by-controller": "yes"})
    if provisioner and sc is not None:
        ann.update({"volume.beta.kubernetes.io/storage-provisioner": provisioner,
                    "volume.kubernetes.io/storage-provisioner": provisioner})
    st = {"phase": phase}
    if phase == "Bound":
        st["accessModes"] = [access]
        st["capacity"] = {"storage": size}
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": b.meta("PersistentVolumeClaim", name, ns, labels=labels, annotations=ann or None,
                               created=created or t(days=30), extra={"finalizers": ["kubernetes.io/pvc-protection"]}),
            "spec": spec, "status": st}


def pv_for(b, claim, driver="ebs.csi.aws.com", zone="eu-west-1a", handle=None):
    name = claim["spec"]["volumeName"]
    return {"apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": b.meta("PersistentVolume", name, None, created=claim["metadata"]["creationTimestamp"],
                               annotations={"pv.kubernetes.io/provisioned-by": driver,
                                            "volume.kubernetes.io/provisioner-deletion-secret-name": "",
                                            "volume.kubernetes.io/provisioner-deletion-secret-namespace": ""},
                               extra={"finalizers": ["external-provisioner.volume.kubernetes.io/finalizer",
                                                     "kubernetes.io/pv-protection"]}),
            "spec": {"accessModes": claim["spec"]["accessModes"], "capacity": {"storage": claim["spec"]["resources"]["requests"]["storage"]},
                     "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "name": claim["metadata"]["name"],
                                  "namespace": claim["metadata"]["namespace"], "resourceVersion": claim["metadata"]["resourceVersion"],
                                  "uid": claim["metadata"]["uid"]},
                     "csi": {"driver": driver, "fsType": "ext4",
                             "volumeAttributes": {"storage.kubernetes.io/csiProvisionerIdentity": "1711111111111-8081-" + driver},
                             "volumeHandle": handle or ("vol-0" + h("vol", name, n=16))},
                     "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                         {"key": "topology.kubernetes.io/zone", "operator": "In", "values": [zone]}]}]}},
                     "persistentVolumeReclaimPolicy": "Delete", "storageClassName": claim["spec"].get("storageClassName"),
                     "volumeMode": "Filesystem"},
            "status": {"phase": "Bound", "lastPhaseTransitionTime": claim["metadata"]["creationTimestamp"]}}


def storageclass(b, name, provisioner="ebs.csi.aws.com", default=False, binding="WaitForFirstConsumer",
                 params=None):
    ann = {}
    if default:
        ann["storageclass.kubernetes.io/is-default-class"] = "true"
    o = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
         "metadata": b.meta("StorageClass", name, None, annotations=ann or None, created=t(days=200)),
         "provisioner": provisioner, "parameters": params or {"type": "gp3", "encrypted": "true"},
         "reclaimPolicy": "Delete", "allowVolumeExpansion": True, "volumeBindingMode": binding}
    return o


# ---- misc objects ---------------------------------------------------------
def namespace(b, name, labels=None, created=None):
    lbl = {"kubernetes.io/metadata.name": name}
    if labels:
        lbl.update(labels)
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": b.meta("Namespace", name, None, labels=lbl, created=created or t(days=210)),
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}


def configmap(b, name, ns, data, labels=None, created=None, managed_fields=None, annotations=None):
    md = b.meta("ConfigMap", name, ns, labels=labels, created=created or t(days=41), annotations=annotations)
    if managed_fields:
        md["managedFields"] = managed_fields
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": md, "data": data}


def secret(b, name, ns, type_="Opaque", labels=None, created=None, annotations=None):
    """A Secret as captured: metadata and type only, data redacted/omitted."""
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": b.meta("Secret", name, ns, labels=labels, created=created or t(days=90), annotations=annotations),
            "type": type_}


def serviceaccount(b, name, ns, created=None, image_pull_secrets=None, annotations=None):
    o = {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": b.meta("ServiceAccount", name, ns, created=created or t(days=90), annotations=annotations)}
    if image_pull_secrets:
        o["imagePullSecrets"] = [{"name": n} for n in image_pull_secrets]
    return o


def role(b, name, ns, rules, created=None, cluster=False):
    kind = "ClusterRole" if cluster else "Role"
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind,
            "metadata": b.meta(kind, name, None if cluster else ns, created=created or t(days=90)),
            "rules": rules}


def rolebinding(b, name, ns, role_name, subjects, created=None, cluster_role=False):
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": b.meta("RoleBinding", name, ns, created=created or t(days=90)),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole" if cluster_role else "Role", "name": role_name},
            "subjects": [{"kind": "ServiceAccount", "name": s[1], "namespace": s[0]} for s in subjects]}


def hpa(b, name, ns, target, min_r, max_r, metrics_spec, status, created=None):
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": b.meta("HorizontalPodAutoscaler", name, ns, created=created or t(days=40)),
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": target["kind"], "name": target["metadata"]["name"]},
                     "minReplicas": min_r, "maxReplicas": max_r, "metrics": metrics_spec},
            "status": status}


def hcond(type_, status, reason, message, ltt):
    return {"type": type_, "status": status, "lastTransitionTime": ltt, "reason": reason, "message": message}


def cpu_metric_spec(util=70):
    return [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": util}}}]


def jcond(type_, status, reason, message, ltt):
    return {"type": type_, "status": status, "lastProbeTime": ltt, "lastTransitionTime": ltt,
            "reason": reason, "message": message}


def job_obj(b, name, ns, containers, *, created, status, spec_extra=None, owner=None, labels=None, sa=None,
            pod_extra=None, annotations=None):
    uid = b.uid("Job", ns, name)
    lbl = {"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name,
           "controller-uid": uid, "job-name": name}
    lbl.update(labels or {})
    extra = dict(pod_extra or {})
    if sa:
        extra["serviceAccountName"] = sa
    spec = {"parallelism": 1, "completions": 1, "backoffLimit": 6,
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}},
            "manualSelector": False,
            "template": template(lbl, containers, restart_policy="Never", extra=extra),
            "completionMode": "NonIndexed", "suspend": False, "podReplacementPolicy": "TerminatingOrFailed"}
    if spec_extra:
        spec.update(spec_extra)
    st = {"terminating": 0, "ready": 0, "uncountedTerminatedPods": {}}
    st.update(status)
    ann = {"batch.kubernetes.io/job-tracking": ""}
    ann.update(annotations or {})
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": b.meta("Job", name, ns, labels=lbl, created=created, generation=1, owner=owner, annotations=ann),
            "spec": spec, "status": st}


def job_pod(b, job, suffix_seed, cstates, node, created, **kw):
    name = f"{job['metadata']['name']}-{suffix5(b.fname, job['metadata']['name'], suffix_seed)}"
    lbl = dict(job["spec"]["template"]["metadata"]["labels"])
    extra = {k: v for k, v in job["spec"]["template"]["spec"].items()
             if k in ("serviceAccountName", "volumes", "nodeSelector", "affinity", "tolerations")}
    return pod(b, name, job["metadata"]["namespace"], job["spec"]["template"]["spec"]["containers"], cstates,
               owner=job, labels=lbl, node=node, created=created, restart_policy="Never", spec_extra=extra, **kw)


def cronjob_obj(b, name, ns, schedule, containers, *, status, spec_extra=None, created=None, sa=None):
    extra = {"serviceAccountName": sa} if sa else None
    spec = {"schedule": schedule, "concurrencyPolicy": "Forbid", "suspend": False,
            "jobTemplate": {"metadata": {"creationTimestamp": None},
                            "spec": {"backoffLimit": 2,
                                     "template": template(None, containers, restart_policy="Never", extra=extra)}},
            "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1}
    if spec_extra:
        spec.update(spec_extra)
    return {"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": b.meta("CronJob", name, ns, created=created or t(days=120), generation=1),
            "spec": spec, "status": status}


def resourcequota(b, name, ns, hard, used, created=None):
    return {"apiVersion": "v1", "kind": "ResourceQuota",
            "metadata": b.meta("ResourceQuota", name, ns, created=created or t(days=60)),
            "spec": {"hard": hard}, "status": {"hard": hard, "used": used}}


def networkpolicy(b, name, ns, pod_selector, policy_types, ingress=None, egress=None, created=None, managed_fields=None):
    spec = {"podSelector": pod_selector}
    if ingress is not None:
        spec["ingress"] = ingress
    if egress is not None:
        spec["egress"] = egress
    spec["policyTypes"] = policy_types
    md = b.meta("NetworkPolicy", name, ns, created=created or t(days=30), generation=1)
    if managed_fields:
        md["managedFields"] = managed_fields
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": md, "spec": spec}


# ---- alerts, metrics --------------------------------------------------------
def am_alert(alertname, labels, summary, description, starts_ago, expr, severity="warning", runbook=True,
             source="kube-state-metrics"):
    lbl = {"alertname": alertname}
    if source == "kube-state-metrics":
        lbl.update({"endpoint": "http", "instance": "10.244.3.17:8080", "job": "kube-state-metrics",
                    "service": "kube-prometheus-stack-kube-state-metrics"})
    lbl.update(labels)
    lbl["prometheus"] = "monitoring/kube-prometheus-stack-prometheus"
    lbl["severity"] = severity
    lbl = dict(sorted(lbl.items()))
    ann = {"description": description, "summary": summary}
    if runbook:
        ann["runbook_url"] = f"https://runbooks.prometheus-operator.dev/runbooks/kubernetes/{alertname.lower()}"
    from urllib.parse import quote_plus
    return {"status": "firing", "labels": lbl, "annotations": dict(sorted(ann.items())),
            "startsAt": tms(**starts_ago), "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.monitoring.svc:9090/graph?g0.expr=" + quote_plus(expr) + "&g0.tab=1",
            "fingerprint": h("fp", canon(lbl), n=16)}


def webhook(alerts, group_by=("alertname", "namespace"), receiver="aiops-rca"):
    common = {}
    for k, v in alerts[0]["labels"].items():
        if all(a["labels"].get(k) == v for a in alerts):
            common[k] = v
    comm_ann = {}
    for k, v in alerts[0]["annotations"].items():
        if all(a["annotations"].get(k) == v for a in alerts):
            comm_ann[k] = v
    gl = {k: alerts[0]["labels"][k] for k in group_by if k in alerts[0]["labels"]}
    gk = "{}:{" + ", ".join(f'{k}="{v}"' for k, v in gl.items()) + "}"
    return {"receiver": receiver, "status": "firing", "alerts": alerts, "groupLabels": gl,
            "commonLabels": common, "commonAnnotations": comm_ann,
            "externalURL": "http://alertmanager.monitoring.svc:9093", "version": "4", "groupKey": gk,
            "truncatedAlerts": 0}


def series(metric, values, end_ago=30, step=60):
    """values: oldest first; the last sample is end_ago seconds before capturedAt."""
    n = len(values)
    out = []
    for i, v in enumerate(values):
        ts_ = CAPTURED_UNIX - end_ago - (n - 1 - i) * step
        if isinstance(v, float):
            s = f"{v:.4f}".rstrip("0").rstrip(".") if abs(v) < 1000 else str(int(v))
        else:
            s = str(v)
        out.append([ts_, s])
    return {"metric": dict(metric), "values": out}


def ramp(a, z, n, jitter=0.0, seed="r", integer=False):
    out = []
    for i in range(n):
        v = a + (z - a) * i / max(1, n - 1)
        if jitter:
            j = (int(h(seed, i, n=4), 16) / 65535.0 - 0.5) * 2 * jitter
            v = v * (1 + j)
        out.append(int(v) if integer else round(v, 4))
    return out


MI = 1024 * 1024
