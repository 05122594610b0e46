"""Shared fixtures for the scenario modules: registry, clusters, alert/metric/log helpers."""
from lib import *

REG = []


def scenario(fn):
    REG.append(fn)
    return fn


def exp(cause, resource, alternates=None, note=None):
    e = {"cause": cause, "resource": resource, "alternates": list(alternates or [])}
    if note:
        e["note"] = note
    return e


class Meta:
    """What a scenario function returns besides the bundle."""

    def __init__(self, b, desc, expected, cluster="prod-eu-1", environment="prod"):
        self.b = b
        self.desc = desc
        self.expected = expected
        self.cluster = cluster
        self.environment = environment


# ---- clusters ---------------------------------------------------------------
EU = ["ip-10-0-1-23.eu-west-1.compute.internal", "ip-10-0-2-147.eu-west-1.compute.internal",
      "ip-10-0-3-88.eu-west-1.compute.internal"]
EU4 = EU + ["ip-10-0-1-201.eu-west-1.compute.internal"]
GKE = ["gke-payments-prod-default-pool-3f9c2a1b-7xkq", "gke-payments-prod-default-pool-3f9c2a1b-m2dp",
       "gke-payments-prod-default-pool-8e41d0c7-q9wz"]
ANA = ["ip-10-20-4-17.eu-central-1.compute.internal", "ip-10-20-5-203.eu-central-1.compute.internal",
       "ip-10-20-6-91.eu-central-1.compute.internal"]

ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
GAR = "europe-west4-docker.pkg.dev/acme-payments/apps"
GHCR = "ghcr.io/acme-data"


def add_nodes(b, names, **per_node):
    out = []
    for i, n in enumerate(names):
        kw = per_node.get(str(i), {})
        if n.startswith("ip-10-20"):
            kw = dict({"zone": "eu-central-1" + "abc"[i % 3], "size": "m6i.2xlarge"}, **kw)
        elif n.startswith("ip-"):
            kw = dict({"zone": "eu-west-1" + "abc"[i % 3]}, **kw)
        else:
            kw = dict({"zone": "europe-west4-" + "abc"[i % 3]}, **kw)
        out.append(node(b, n, **kw))
    b.add(*out)
    return out


# ---- containers ---------------------------------------------------------------
def web(name, image, port=8080, cpu=("250m", "1"), mem=("512Mi", "512Mi"), ready_path="/ready",
        live_path="/healthz", env=None, args=None, command=None, mounts=None, env_from=None,
        readiness=True, liveness=True, startup=None, port_name="http", security=None):
    return ctr(name, image, ports=[(port_name, port)],
               readiness=http_probe(ready_path, port_name, period=10, failure=3) if readiness is True else (readiness or None),
               liveness=http_probe(live_path, port_name, period=10, failure=3, delay=15) if liveness is True else (liveness or None),
               startup=startup, resources=res(cpu[0], mem[0], cpu[1], mem[1]), env=env, args=args, command=command,
               mounts=mounts, env_from=env_from, security=security)


def dur(sec):
    if sec < 60:
        return f"{sec}s"
    return f"{sec // 60}m{sec % 60}s"


def backoff(restarts):
    return dur(min(10 * 2 ** max(0, restarts - 1), 300))


def crash(restarts, exit_code=1, reason="Error", finished_s=40, ran_s=6, message=None):
    """CrashLoopBackOff container state: last run ended finished_s seconds ago after ran_s seconds."""
    return C_crash(restarts, term(exit_code, reason, t(seconds=finished_s + ran_s), t(seconds=finished_s), message),
                   backoff=backoff(restarts))


def running_after_crash(restarts, exit_code, reason, started_s, prev_ran_s=300, ready=False):
    last = term(exit_code, reason, t(seconds=started_s + prev_ran_s + 1), t(seconds=started_s + 1))
    if ready:
        return C_ready(t(seconds=started_s), restarts=restarts, last=last)
    return C_unready(t(seconds=started_s), restarts=restarts, last=last)


def ok(since_min=None, since_days=None, restarts=0, last=None):
    if since_days is not None:
        return C_ready(t(days=since_days, minutes=-1), restarts=restarts, last=last)
    return C_ready(t(minutes=since_min if since_min is not None else 60 * 24 * 3), restarts=restarts, last=last)


def healthy_deploy(b, name, ns, image, replicas=2, nodes=EU, port=8080, created_days=40, svc=True,
                   mem=("512Mi", "512Mi"), cpu=("250m", "1"), labels=None, svc_ports=None, svc_ip=None,
                   rev=3, rs_days=6, extra_containers=None, sa=None, pod_extra=None, env=None, volumes=None):
    """A long-running healthy Deployment with its Service."""
    c = [web(name, image, port=port, mem=mem, cpu=cpu, env=env)] + list(extra_containers or [])
    pods = [P([ok(since_days=rs_days - 0.01 * i)] + [ok(since_days=rs_days - 0.01 * i) for _ in (extra_containers or [])],
              created=t(days=rs_days, minutes=-i)) for i in range(replicas)]
    return deployment_app(b, name, ns, [Rev(rev, t(days=rs_days), c, pods)], replicas,
                          labels=labels or {"app.kubernetes.io/name": name}, nodes=nodes,
                          service_ports=(svc_ports or [("http", 80, "http")]) if svc else None,
                          service_ip=svc_ip, created=t(days=created_days), sa=sa, pod_extra=pod_extra,
                          available_ltt=t(days=rs_days, minutes=-1), volumes=volumes)


# ---- alerts ---------------------------------------------------------------
def a_crashloop(ns, pod_name, container, starts_min, severity="warning"):
    return am_alert("KubePodCrashLooping", {"container": container, "namespace": ns, "pod": pod_name,
                                            "reason": "CrashLoopBackOff"},
                    "Pod is crash looping.",
                    f'Pod {ns}/{pod_name} ({container}) is in waiting state (reason: "CrashLoopBackOff").',
                    {"minutes": starts_min},
                    'max_over_time(kube_pod_container_status_waiting_reason{job="kube-state-metrics",namespace=~".*",reason="CrashLoopBackOff"}[5m]) >= 1',
                    severity=severity)


def crashloop_alert(ns, pod_name, container, starts_min, severity="warning"):
    return a_crashloop(ns, pod_name, container, starts_min, severity)


def replicas_mismatch_alert(ns, dep, starts_min, severity="warning"):
    return am_alert("KubeDeploymentReplicasMismatch", {"deployment": dep, "namespace": ns},
                    "Deployment has not matched the expected number of replicas.",
                    f"Deployment {ns}/{dep} has not matched the expected number of replicas for longer than 15 minutes.",
                    {"minutes": starts_min},
                    '(kube_deployment_spec_replicas{job="kube-state-metrics",namespace=~".*"} > kube_deployment_status_replicas_available{job="kube-state-metrics",namespace=~".*"}) and (changes(kube_deployment_status_replicas_updated{job="kube-state-metrics",namespace=~".*"}[10m]) == 0)',
                    severity=severity)


def rollout_stuck_alert(ns, dep, starts_min):
    return am_alert("KubeDeploymentRolloutStuck", {"deployment": dep, "namespace": ns, "condition": "Progressing",
                                                   "status": "false", "reason": "ProgressDeadlineExceeded"},
                    "Deployment rollout is not progressing.",
                    f"Rollout of deployment {ns}/{dep} is not progressing for longer than 15 minutes.",
                    {"minutes": starts_min},
                    'kube_deployment_status_condition{condition="Progressing",job="kube-state-metrics",namespace=~".*",status="false"} != 0')


def pod_not_ready_alert(ns, pod_name, starts_min, severity="warning"):
    return am_alert("KubePodNotReady", {"namespace": ns, "pod": pod_name},
                    "Pod has been in a non-ready state for more than 15 minutes.",
                    f"Pod {ns}/{pod_name} has been in a non-ready state for longer than 15 minutes.",
                    {"minutes": starts_min},
                    'sum by (namespace, pod, cluster) (max by (namespace, pod, cluster) (kube_pod_status_phase{job="kube-state-metrics",namespace=~".*",phase=~"Pending|Unknown|Failed"}) * on (namespace, pod, cluster) group_left (owner_kind) topk by (namespace, pod, cluster) (1, max by (namespace, pod, owner_kind, cluster) (kube_pod_owner{owner_kind!="Job"}))) > 0',
                    severity=severity)


def oom_alert(ns, pod_name, container, starts_min):
    return am_alert("KubeContainerOOMKilled", {"container": container, "namespace": ns, "pod": pod_name, "reason": "OOMKilled"},
                    f"Container {container} in {ns}/{pod_name} was OOMKilled.",
                    f"Container {container} in pod {ns}/{pod_name} has been OOMKilled 2 times in the last 10 minutes.",
                    {"minutes": starts_min},
                    '(kube_pod_container_status_restarts_total - kube_pod_container_status_restarts_total offset 10m >= 1) and ignoring (reason) min_over_time(kube_pod_container_status_last_terminated_reason{reason="OOMKilled"}[10m]) == 1',
                    severity="critical", runbook=False)


def hpa_max_alert(ns, name, starts_min):
    return am_alert("KubeHpaMaxedOut", {"horizontalpodautoscaler": name, "namespace": ns},
                    "HPA is running at max replicas",
                    f"HPA {ns}/{name} has been running at max replicas for longer than 15 minutes.",
                    {"minutes": starts_min},
                    'kube_horizontalpodautoscaler_status_current_replicas{job="kube-state-metrics",namespace=~".*"} == kube_horizontalpodautoscaler_spec_max_replicas{job="kube-state-metrics",namespace=~".*"}',
                    severity="warning")


def job_failed_alert(ns, job_name, starts_min):
    return am_alert("KubeJobFailed", {"job_name": job_name, "namespace": ns, "condition": "true"},
                    "Job failed to complete.",
                    f"Job {ns}/{job_name} failed to complete. Removing failed job after investigation should clear this alert.",
                    {"minutes": starts_min}, 'kube_job_failed{job="kube-state-metrics",namespace=~".*"} > 0')


def node_not_ready_alert(node_name, starts_min):
    return am_alert("KubeNodeNotReady", {"node": node_name, "condition": "Ready", "status": "true"},
                    "Node is not ready.", f"{node_name} has been unready for more than 15 minutes.",
                    {"minutes": starts_min}, 'kube_node_status_condition{condition="Ready",job="kube-state-metrics",status="true"} == 0')


def pv_filling_alert(ns, claim, node_name, free_pct, starts_min):
    return am_alert("KubePersistentVolumeFillingUp",
                    {"namespace": ns, "persistentvolumeclaim": claim, "endpoint": "https-metrics",
                     "instance": node_ip(node_name) + ":10250", "job": "kubelet", "metrics_path": "/metrics",
                     "node": node_name, "service": "kube-prometheus-stack-kubelet"},
                    "PersistentVolume is filling up.",
                    f"The PersistentVolume claimed by {claim} in Namespace {ns} is only {free_pct}% free.",
                    {"minutes": starts_min},
                    '(kubelet_volume_stats_available_bytes{job="kubelet",metrics_path="/metrics",namespace=~".*"} / kubelet_volume_stats_capacity_bytes{job="kubelet",metrics_path="/metrics",namespace=~".*"}) < 0.03 and kubelet_volume_stats_used_bytes{job="kubelet",metrics_path="/metrics",namespace=~".*"} > 0 unless on (cluster, namespace, persistentvolumeclaim) kube_persistentvolumeclaim_access_mode{access_mode="ReadOnlyMany"} == 1 unless on (cluster, namespace, persistentvolumeclaim) kube_persistentvolumeclaim_labels{label_excluded_from_alerts="true"} == 1',
                    severity="critical", source="kubelet")


def error_rate_alert(ns, svc, value_pct, starts_min, severity="critical"):
    return am_alert("HighErrorRate", {"namespace": ns, "service": svc, "team": "shop-core"},
                    f"{svc} is returning errors",
                    f"{value_pct}% of requests to {ns}/{svc} returned 5xx over the last 5 minutes (threshold 5%).",
                    {"minutes": starts_min},
                    f'sum by (namespace, service) (rate(http_requests_total{{namespace="{ns}",service="{svc}",code=~"5.."}}[5m])) / sum by (namespace, service) (rate(http_requests_total{{namespace="{ns}",service="{svc}"}}[5m])) > 0.05',
                    severity=severity, runbook=False, source="app")


def latency_alert(ns, svc, p99, starts_min, severity="warning"):
    return am_alert("HighLatency", {"namespace": ns, "service": svc, "quantile": "0.99"},
                    f"{svc} p99 latency is high",
                    f"p99 latency of {ns}/{svc} is {p99}s (threshold 1s) for 10 minutes.",
                    {"minutes": starts_min},
                    f'histogram_quantile(0.99, sum by (le, namespace, service) (rate(http_server_request_duration_seconds_bucket{{namespace="{ns}",service="{svc}"}}[5m]))) > 1',
                    severity=severity, runbook=False, source="app")


def throttling_alert(ns, pod_name, container, pct, starts_min):
    a = am_alert("CPUThrottlingHigh", {"container": container, "namespace": ns, "pod": pod_name, "endpoint": "https-metrics",
                                       "job": "kubelet", "metrics_path": "/metrics/cadvisor",
                                       "service": "kube-prometheus-stack-kubelet"},
                 "Processes experience elevated CPU throttling.",
                 f"{pct}% throttling of CPU in namespace {ns} for container {container} in pod {pod_name}.",
                 {"minutes": starts_min},
                 'sum without (id, metrics_path, name, image, endpoint, job, node) (increase(container_cpu_cfs_throttled_periods_total{container!="",job="kubelet",metrics_path="/metrics/cadvisor"}[5m])) / on (cluster, namespace, pod, container, instance) group_left () sum without (id, metrics_path, name, image, endpoint, job, node) (increase(container_cpu_cfs_periods_total{job="kubelet",metrics_path="/metrics/cadvisor"}[5m])) > (25 / 100)',
                 severity="info", source="kubelet")
    return a


def set_alert(b, *alerts, group_by=("alertname", "namespace")):
    b.alert = webhook(list(alerts), group_by=group_by)


# ---- metrics ----------------------------------------------------------------
def mem_metric(b, pods_values, ns, container, regex=None):
    """pods_values: [(pod_name, [bytes...])]"""
    q = f'container_memory_working_set_bytes{{namespace="{ns}",container="{container}"' + (f',pod=~"{regex}"' if regex else "") + "}"
    b.metric("container_memory_working_set_bytes", q,
             [series({"namespace": ns, "pod": p, "container": container}, [int(v) for v in vals]) for p, vals in pods_values])


def throttle_metric(b, pods_values, ns, container):
    q = (f'sum by (namespace, pod, container) (rate(container_cpu_cfs_throttled_periods_total{{namespace="{ns}",container="{container}"}}[5m]))'
         f' / sum by (namespace, pod, container) (rate(container_cpu_cfs_periods_total{{namespace="{ns}",container="{container}"}}[5m]))')
    b.metric("cpu_throttled_periods", q,
             [series({"namespace": ns, "pod": p, "container": container}, vals) for p, vals in pods_values])


def latency_metric(b, ns, svc, vals):
    b.metric("p99_latency",
             f'histogram_quantile(0.99, sum by (le, namespace, service) (rate(http_server_request_duration_seconds_bucket{{namespace="{ns}",service="{svc}"}}[5m])))',
             [series({"namespace": ns, "service": svc}, vals)])


def err_metric(b, ns, svc, vals):
    b.metric("http_5xx_rate",
             f'sum by (namespace, service) (rate(http_requests_total{{namespace="{ns}",service="{svc}",code=~"5.."}}[5m])) / sum by (namespace, service) (rate(http_requests_total{{namespace="{ns}",service="{svc}"}}[5m]))',
             [series({"namespace": ns, "service": svc}, vals)])


def flat(v, n, jitter=0.03, seed="f"):
    return ramp(v, v, n, jitter=jitter, seed=seed)


def step(before, after, n, at, jitter=0.04, seed="s"):
    """n samples, value `before` until index at, then `after`."""
    out = []
    for i in range(n):
        base = before if i < at else after
        j = (int(h(seed, i, n=4), 16) / 65535.0 - 0.5) * 2 * jitter
        out.append(round(base * (1 + j), 4))
    return out


# ---- events --------------------------------------------------------------------
def pname(p):
    return p["metadata"]["name"]


def fp(cname):
    return f"spec.containers{{{cname}}}"


def img_of(p, cname):
    return [c for c in p["spec"]["containers"] + p["spec"].get("initContainers", []) if c["name"] == cname][0]["image"]


def sched_event(b, p, minutes):
    ns = p["metadata"]["namespace"]
    return event(b, p, "Scheduled", f"Successfully assigned {ns}/{pname(p)} to {p['spec']['nodeName']}", "Normal",
                 first=t(minutes=minutes), last=t(minutes=minutes), component="default-scheduler")


def start_events(b, p, cname, minutes, fresh_pull=True, size=58213377):
    """Scheduled, Pulling/Pulled, Created, Started of a pod created `minutes` ago (first start only)."""
    img = img_of(p, cname)
    at = t(minutes=minutes, seconds=-2)
    out = [sched_event(b, p, minutes)]
    if fresh_pull:
        out.append(event(b, p, "Pulling", f'Pulling image "{img}"', "Normal", first=at, last=at, field_path=fp(cname)))
        out.append(event(b, p, "Pulled", f'Successfully pulled image "{img}" in 3.412s (3.412s including waiting). Image size: {size} bytes.',
                         "Normal", first=t(minutes=minutes, seconds=-6), last=t(minutes=minutes, seconds=-6), field_path=fp(cname)))
    else:
        out.append(event(b, p, "Pulled", f'Container image "{img}" already present on machine', "Normal",
                         first=at, last=at, field_path=fp(cname)))
    out.append(event(b, p, "Created", f"Created container {cname}", "Normal", first=t(minutes=minutes, seconds=-7),
                     last=t(minutes=minutes, seconds=-7), field_path=fp(cname)))
    out.append(event(b, p, "Started", f"Started container {cname}", "Normal", first=t(minutes=minutes, seconds=-8),
                     last=t(minutes=minutes, seconds=-8), field_path=fp(cname)))
    return out


def crash_events(b, p, cname, since_min, restarts, fresh=False, last_s=46, backoff_count=None):
    """Events of a container crash-looping since `since_min` minutes ago. fresh: the pod itself is that recent."""
    img = img_of(p, cname)
    ns = p["metadata"]["namespace"]
    out = []
    if fresh:
        out += [sched_event(b, p, since_min),
                event(b, p, "Pulling", f'Pulling image "{img}"', "Normal", first=t(minutes=since_min, seconds=-1),
                      last=t(minutes=since_min, seconds=-1), field_path=fp(cname)),
                event(b, p, "Pulled", f'Successfully pulled image "{img}" in 2.871s (2.871s including waiting). Image size: 61377024 bytes.',
                      "Normal", first=t(minutes=since_min, seconds=-4), last=t(minutes=since_min, seconds=-4), field_path=fp(cname))]
    n = restarts + 1 if fresh else restarts
    out += [event(b, p, "Pulled", f'Container image "{img}" already present on machine', "Normal", count=restarts,
                  first=t(minutes=since_min, seconds=-20), last=t(seconds=last_s), field_path=fp(cname)),
            event(b, p, "Created", f"Created container {cname}", "Normal", count=n,
                  first=t(minutes=since_min, seconds=-5), last=t(seconds=last_s - 1), field_path=fp(cname)),
            event(b, p, "Started", f"Started container {cname}", "Normal", count=n,
                  first=t(minutes=since_min, seconds=-6), last=t(seconds=last_s - 1), field_path=fp(cname)),
            event(b, p, "BackOff", f"Back-off restarting failed container {cname} in pod {pname(p)}_{ns}({p['metadata']['uid']})",
                  "Warning", count=backoff_count or restarts * 5 + 3, first=t(minutes=since_min, seconds=-25), last=t(seconds=4),
                  field_path=fp(cname))]
    return out


def pull_fail_events(b, p, cname, since_min, err, count=None):
    img = img_of(p, cname)
    n = count or max(3, since_min // 3)
    return [sched_event(b, p, since_min),
            event(b, p, "Pulling", f'Pulling image "{img}"', "Normal", count=n, first=t(minutes=since_min, seconds=-1),
                  last=t(minutes=2, seconds=10), field_path=fp(cname)),
            event(b, p, "Failed", f'Failed to pull image "{img}": {err}', "Warning", count=n,
                  first=t(minutes=since_min, seconds=-2), last=t(minutes=2, seconds=9), field_path=fp(cname)),
            event(b, p, "Failed", "Error: ErrImagePull", "Warning", count=n, first=t(minutes=since_min, seconds=-2),
                  last=t(minutes=2, seconds=9), field_path=fp(cname)),
            event(b, p, "BackOff", f'Back-off pulling image "{img}"', "Normal", count=n * 6,
                  first=t(minutes=since_min, seconds=-3), last=t(seconds=12), field_path=fp(cname)),
            event(b, p, "Failed", "Error: ImagePullBackOff", "Warning", count=n * 6,
                  first=t(minutes=since_min, seconds=-3), last=t(seconds=12), field_path=fp(cname))]


def scaled_event(b, dep, rs, to, minutes, up=True, frm=None):
    verb = "up" if up else "down"
    msg = f"Scaled {verb} replica set {rs['metadata']['name']} from {frm} to {to}" if frm is not None \
        else f"Scaled {verb} replica set {rs['metadata']['name']} to {to}"
    return event(b, dep, "ScalingReplicaSet", msg, "Normal", first=t(minutes=minutes), last=t(minutes=minutes),
                 component="deployment-controller")


def rs_created_event(b, rs, p, minutes):
    return event(b, rs, "SuccessfulCreate", f"Created pod: {pname(p)}", "Normal", first=t(minutes=minutes),
                 last=t(minutes=minutes), component="replicaset-controller")
