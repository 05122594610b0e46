"""Healthy clusters (expected.cause none) and alerts nothing explains (unknown)."""
from common import *
from s_workload import backdrop


def _healthy(fname, nodes=EU, ns="shop", desc="", **kw):
    b = Bundle(fname)
    backdrop(b, nodes, ns)
    healthy_deploy(b, "accounts", ns, f"{ECR}/shop/accounts:3.3.3", replicas=3, nodes=nodes)
    return b


def none(b, desc, resource, cluster="prod-eu-1"):
    return Meta(b, desc, exp("none", resource), cluster=cluster)


@scenario
def none_plain_cluster():
    b = _healthy("none-plain-cluster")
    return none(b, "A healthy shop namespace: every pod ready, no warnings.", "Deployment/shop/accounts")


@scenario
def none_pressure_conditions_false_gke():
    b = _healthy("none-pressure-conditions-false-gke", nodes=GKE, ns="payments")
    return none(b, "Healthy GKE nodes report NetworkUnavailable/MemoryPressure/DiskPressure/PIDPressure False.", f"Node/{GKE[0]}")


@scenario
def none_hpa_at_min():
    b = _healthy("none-hpa-at-min")
    a = healthy_deploy(b, "newsletter", "shop", f"{ECR}/shop/newsletter:1.0.4", replicas=2)
    st = {"currentReplicas": 2, "desiredReplicas": 2, "lastScaleTime": t(days=2),
          "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 4, "averageValue": "10m"}}}],
          "conditions": [hcond("AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size", t(days=2)),
                         hcond("ScalingActive", "True", "ValidMetricFound", "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)", t(days=30)),
                         hcond("ScalingLimited", "True", "TooFewReplicas", "the desired replica count is less than the minimum replica count", t(days=2))]}
    b.add(hpa(b, "newsletter", "shop", a.dep, 2, 10, cpu_metric_spec(70), st))
    return none(b, "An idle HPA sits at minReplicas (ScalingLimited True, TooFewReplicas): expected, not a fault.",
                "HorizontalPodAutoscaler/shop/newsletter")


@scenario
def none_suspended_jobs():
    b = _healthy("none-suspended-jobs")
    c = [ctr("report", f"{ECR}/shop/report:2.0.0", resources=res("100m", "128Mi", "200m", "256Mi"))]
    cj = cronjob_obj(b, "monthly-report", "shop", "0 3 1 * *", c, status={"lastScheduleTime": t(days=1, hours=11)},
                     spec_extra={"suspend": True})
    b.add(cj)
    j = job_obj(b, "backfill-2026-03", "shop", c, created=t(days=2), spec_extra={"suspend": True},
                status={"conditions": [jcond("Suspended", "True", "JobSuspended", "Job suspended", t(days=2))]})
    b.add(j)
    return none(b, "A CronJob and a Job deliberately suspended by their owners.", "CronJob/shop/monthly-report")


@scenario
def none_leader_election_endpoints():
    b = _healthy("none-leader-election-endpoints")
    ep = {"apiVersion": "v1", "kind": "Endpoints",
          "metadata": b.meta("Endpoints", "ingress-controller-leader", "shop", created=t(days=60),
                             annotations={"control-plane.alpha.kubernetes.io/leader": '{"holderIdentity":"ingress-nginx-controller-7d9f-abcde","leaseDurationSeconds":30,"acquireTime":"2026-03-01T10:00:00Z","renewTime":"2026-04-02T14:29:50Z","leaderTransitions":3}'})}
    b.add(ep)
    return none(b, "An Endpoints object used only as a leader-election lock (no Service, no subsets).",
                "Endpoints/shop/ingress-controller-leader")


@scenario
def none_completed_jobs():
    b = _healthy("none-completed-jobs")
    c = [ctr("migrate", f"{ECR}/shop/migrate:7.0.0", resources=res("100m", "128Mi", "500m", "256Mi"))]
    j = job_obj(b, "db-migrate-7-0-0", "shop", c, created=t(hours=3),
                status={"startTime": t(hours=3), "completionTime": t(hours=2, minutes=58), "succeeded": 1,
                        "conditions": [jcond("SuccessCriteriaMet", "True", "CompletionsReached", "Reached expected number of succeeded pods", t(hours=2, minutes=58)),
                                       jcond("Complete", "True", "CompletionsReached", "Reached expected number of succeeded pods", t(hours=2, minutes=58))]})
    b.add(j, job_pod(b, j, 0, [C_term(0, "Completed", t(hours=3), t(hours=2, minutes=58))], EU[0], t(hours=3)))
    return none(b, "A finished migration Job and its Succeeded pod.", "Job/shop/db-migrate-7-0-0")


@scenario
def none_old_warning_events():
    b = _healthy("none-old-warning-events")
    a = healthy_deploy(b, "promo", "shop", f"{ECR}/shop/promo:1.1.0", replicas=2)
    p = a.pods[0]
    b.add(event(b, p, "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503", count=12,
                first=t(days=3, hours=2), last=t(days=3), field_path=fp("promo")),
          event(b, p, "BackOff", "Back-off restarting failed container promo in pod " + pname(p), count=5,
                first=t(days=3, hours=2), last=t(days=3), field_path=fp("promo")))
    return none(b, "Warning events from an incident three days ago on pods that have been healthy since.", "Deployment/shop/promo")


@scenario
def none_successful_rollout():
    b = Bundle("none-successful-rollout")
    backdrop(b, EU, "shop")
    a = deployment_app(b, "profile", "shop", [Rev(4, t(days=9), [web("profile", f"{ECR}/shop/profile:2.0.0")], []),
                                              Rev(5, t(minutes=15), [web("profile", f"{ECR}/shop/profile:2.1.0")],
                                                  [P(ok(since_min=14), created=t(minutes=15)), P(ok(since_min=13), created=t(minutes=14))])], 2,
                       nodes=EU, service_ports=[("http", 80, "http")])
    return none(b, "profile 2.1.0 rolled out 15 minutes ago and every new pod is ready.", "Deployment/shop/profile")


@scenario
def none_old_oom_recovered():
    b = _healthy("none-old-oom-recovered")
    a = deployment_app(b, "search", "shop", [Rev(3, t(days=6), [web("search", f"{ECR}/shop/search:6.3.1", mem=("2Gi", "2Gi"))],
                                                 [P(ok(since_days=4, restarts=1, last=term(137, "OOMKilled", t(days=5), t(days=4, minutes=1))),
                                                    created=t(days=6))])], 1, nodes=EU, service_ports=[("http", 80, "http")])
    mem_metric(b, [(pname(a.pods[0]), flat(0.55 * 2048 * MI, 30, seed="so"))], "shop", "search")
    return none(b, "search was OOMKilled once four days ago; it has run at 55% of its limit since.", "Deployment/shop/search")


@scenario
def none_moderate_metrics():
    b = _healthy("none-moderate-metrics", nodes=GKE, ns="payments")
    a = healthy_deploy(b, "wallet-api", "payments", f"{GAR}/wallet-api:5.5.0", replicas=2, nodes=GKE, mem=("1Gi", "1Gi"))
    mem_metric(b, [(pname(p), flat(0.62 * 1024 * MI, 30, seed=f"w{i}")) for i, p in enumerate(a.pods)], "payments", "wallet-api")
    throttle_metric(b, [(pname(p), flat(0.03, 30, seed=f"t{i}")) for i, p in enumerate(a.pods)], "payments", "wallet-api")
    latency_metric(b, "payments", "wallet-api", flat(0.12, 30, seed="wl"))
    err_metric(b, "payments", "wallet-api", flat(0.002, 30, seed="we"))
    return none(b, "Memory at 62% of limit, 3% throttling, p99 120ms, 0.2% errors: all normal.", "Deployment/payments/wallet-api",
                cluster="payments-prod")


@scenario
def none_watchdog_alert():
    b = _healthy("none-watchdog-alert")
    set_alert(b, am_alert("Watchdog", {"namespace": "monitoring"}, "An alert that should always be firing to certify that Alertmanager is working properly.",
                          "This is an alert meant to ensure that the entire alerting pipeline is functional.", {"days": 2}, "vector(1)",
                          severity="none", source="prometheus"))
    return none(b, "Only the always-firing Watchdog alert; the cluster is healthy.", "Deployment/shop/accounts")


@scenario
def none_selectorless_service():
    b = _healthy("none-selectorless-service")
    svc = service(b, "legacy-erp", "shop", None, [("https", 443, 443)])
    ep = {"apiVersion": "v1", "kind": "Endpoints", "metadata": b.meta("Endpoints", "legacy-erp", "shop", created=svc["metadata"]["creationTimestamp"]),
          "subsets": [{"addresses": [{"ip": "192.168.40.12"}], "ports": [{"name": "https", "port": 443, "protocol": "TCP"}]}]}
    ext = service(b, "payments-provider", "shop", None, [], svc_type="ExternalName", external_name="api.psp.example")
    b.add(svc, ep, ext)
    return none(b, "A selector-less Service with manual Endpoints and an ExternalName Service: no selector, nothing to match.",
                "Service/shop/legacy-erp")


@scenario
def none_scaled_to_zero():
    b = _healthy("none-scaled-to-zero")
    deployment_app(b, "black-friday-banner", "shop", [Rev(2, t(days=120), [web("black-friday-banner", f"{ECR}/shop/banner:1.0.0")], [])], 0,
                   nodes=EU, service_ports=[("http", 80, "http")])
    return none(b, "A seasonal Deployment scaled to zero replicas on purpose (its Service has no endpoints by design).",
                "Deployment/shop/black-friday-banner")


@scenario
def none_statefulset_healthy():
    b = _healthy("none-statefulset-healthy", nodes=ANA, ns="analytics")
    b.add(storageclass(b, "gp3", default=True))
    db = statefulset_app(b, "clickhouse", "analytics", [ctr("clickhouse", "docker.io/clickhouse/clickhouse-server:24.3", ports=[("http", 8123)],
                                                            readiness=http_probe("/ping", 8123), resources=res("2", "8Gi", "4", "8Gi"))],
                         [P(ok(since_days=20), created=t(days=20)) for _ in range(3)], claim=("data", "200Gi"), nodes=ANA,
                         service_name="clickhouse-headless")
    for c in db.pvcs:
        b.add(pv_for(b, c, zone="eu-central-1a"))
    hs = service(b, "clickhouse-headless", "analytics", {"app.kubernetes.io/name": "clickhouse"}, [("http", 8123, "http")], headless=True)
    b.add(hs, endpoints_for(b, hs, db.pods))
    return none(b, "A three-replica StatefulSet with its headless Service and bound claims.", "StatefulSet/analytics/clickhouse",
                cluster="analytics-prod")


@scenario
def none_single_restart_long_ago():
    b = _healthy("none-single-restart-long-ago", nodes=GKE, ns="payments")
    deployment_app(b, "webhooks", "payments", [Rev(3, t(days=10), [web("webhooks", f"{GAR}/webhooks:2.2.2")],
                                                   [P(ok(since_days=7, restarts=1, last=term(1, "Error", t(days=8), t(days=7, minutes=1))),
                                                      created=t(days=10))])], 1, nodes=GKE, service_ports=[("http", 80, "http")])
    return none(b, "A pod restarted once a week ago after an exit 1 and has been ready since.", "Deployment/payments/webhooks",
                cluster="payments-prod")


# ---- unknown ------------------------------------------------------------------------------------------
@scenario
def unknown_latency_without_evidence():
    b = _healthy("unknown-latency-without-evidence")
    set_alert(b, latency_alert("shop", "accounts", 1.4, 9))
    return Meta(b, "accounts' p99 latency alert fires, but pods, events, logs and metrics show nothing wrong.",
                exp("unknown", "Deployment/shop/accounts"))


@scenario
def unknown_error_rate_clean_logs():
    b = _healthy("unknown-error-rate-clean-logs", nodes=GKE, ns="payments")
    a = b.objects
    pod0 = [o for o in a if o["kind"] == "Pod" and o["metadata"]["name"].startswith("accounts-")][0]
    b.log(pod0, "accounts", [f"{logts(minutes=i)} INFO GET /v1/accounts 200 12ms" for i in range(5, 0, -1)])
    set_alert(b, error_rate_alert("payments", "accounts", 7, 6, severity="warning"))
    return Meta(b, "A 7% 5xx alert on accounts with clean logs and healthy pods: nothing to diagnose from the evidence.",
                exp("unknown", "Deployment/payments/accounts"), cluster="payments-prod")


@scenario
def unknown_target_down_healthy_pods():
    b = _healthy("unknown-target-down-healthy-pods")
    set_alert(b, am_alert("TargetDown", {"namespace": "shop", "service": "catalog", "job": "catalog"},
                          "One or more targets are unreachable.", "50% of the catalog/catalog targets in shop namespace are down.",
                          {"minutes": 7}, 'up{job="catalog"} == 0', source="prometheus"))
    return Meta(b, "A scrape-target alert while the catalog pods and endpoints are all ready.", exp("unknown", "Deployment/shop/catalog"))


@scenario
def none_old_failed_mount_event():
    b = _healthy("none-old-failed-mount-event")
    b.add(configmap(b, "rules", "shop", {"rules.yaml": "limits: {}\n"}, created=t(days=2, minutes=-3)))
    vol = [{"name": "rules", "configMap": {"name": "rules", "defaultMode": 420}}]
    a = deployment_app(b, "limiter", "shop", [Rev(1, t(days=2), [web("limiter", f"{ECR}/shop/limiter:1.0.0", mounts=[{"name": "rules", "mountPath": "/etc/limiter"}])],
                                                  [P(ok(since_days=2, restarts=0), created=t(days=2))])], 1,
                       nodes=EU, volumes=vol, service_ports=[("http", 80, "http")], created=t(days=2))
    p = a.pods[0]
    b.add(event(b, p, "FailedMount", 'MountVolume.SetUp failed for volume "rules" : configmap "rules" not found', count=3,
                first=t(days=2), last=t(days=2, minutes=-2)))
    return none(b, "Two days ago the pod waited a few minutes for its ConfigMap, which was created right after; it has run since.",
                "Deployment/shop/limiter")


@scenario
def none_prometheus_config_valid():
    import base64
    import gzip
    b = _healthy("none-prometheus-config-valid", ns="monitoring")
    conf = "global:\n  scrape_interval: 30s\nscrape_configs:\n  - job_name: kubernetes-pods\n    kubernetes_sd_configs:\n      - role: pod\n"
    cm = configmap(b, "prometheus-config", "monitoring", {}, created=t(days=20))
    del cm["data"]
    cm["binaryData"] = {"prometheus.yaml.gz": base64.b64encode(gzip.compress(conf.encode(), mtime=0)).decode()}
    b.add(cm)
    vol = [{"name": "config", "configMap": {"name": "prometheus-config", "defaultMode": 420}}]
    c = [web("prometheus", "quay.io/prometheus/prometheus:v3.1.0", port=9090, ready_path="/-/ready", live_path="/-/healthy",
             mounts=[{"name": "config", "mountPath": "/etc/prometheus"}])]
    deployment_app(b, "prometheus", "monitoring", [Rev(2, t(days=5), c, [P(ok(since_days=5), created=t(days=5))])], 1,
                   nodes=EU, service_ports=[("web", 9090, "http")], created=t(days=20),
                   available_ltt=t(days=5, minutes=-1), volumes=vol)
    return none(b, "Prometheus reads a gzip-compressed configuration from a mounted ConfigMap (binaryData), and it parses: nothing to report.",
                "Deployment/monitoring/prometheus")
