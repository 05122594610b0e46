"""Workload scenarios: deploys, crashes, OOM, memory, CPU, images, config, probes, jobs, HPA, quota."""
from common import *


# ---- shared building blocks ---------------------------------------------------------
def backdrop(b, nodes=EU, ns="shop", extra=True):
    """Nodes plus a couple of healthy neighbours, as any real capture has."""
    add_nodes(b, nodes)
    healthy_deploy(b, "frontend", ns, f"{ECR}/shop/frontend:4.12.0", replicas=2, nodes=nodes, port=3000,
                   svc_ports=[("http", 80, "http")])
    if extra:
        healthy_deploy(b, "catalog", ns, f"{ECR}/shop/catalog:2.7.3", replicas=2, nodes=nodes)


def old_noise(b, app, days=3):
    """Old Warning events on a now-healthy pod (a past incident that is over)."""
    p = app.pods[0]
    b.add(event(b, p, "Unhealthy", "Readiness probe failed: Get \"http://" + p["status"]["podIP"] + ":8080/ready\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)",
                count=4, first=t(days=days, minutes=10), last=t(days=days), field_path=fp(p["spec"]["containers"][0]["name"])))


def broken_neighbour(b, ns="tools", nodes=EU):
    """An unrelated, long-broken pod in another namespace (a distractor the alert does not name)."""
    c = web("report-exporter", f"{ECR}/tools/report-exporter:0.3.1", port=9100, readiness=False, liveness=False)
    a = deployment_app(b, "report-exporter", ns, [Rev(2, t(days=9), [c], [P(crash(180, 1, "Error", finished_s=120))])], 1,
                       nodes=nodes, created=t(days=30), available_ltt=t(days=9))
    return a


def crash_logs(b, p, cname, lines, previous=True):
    b.log(p, cname, lines, previous=previous)


# ---- bad_deploy -----------------------------------------------------------------
def _bad_deploy(fname, name, ns, old_img, new_img, log_lines, since_min, alert_kind, distract=None, nodes=EU,
                env_old=None, env_new=None, desc=""):
    b = Bundle(fname)
    backdrop(b, nodes, ns)
    old_c = [web(name, old_img, env=env_old)]
    new_c = [web(name, new_img, env=env_new)]
    old_pods = [P(ok(since_days=5 - i * 0.1), created=t(days=5, minutes=-i)) for i in range(2)]
    new_pods = [P(crash(since_min // 3 + 2, 1, "Error", finished_s=50), created=t(minutes=since_min)),
                P(crash(since_min // 3 + 1, 1, "Error", finished_s=70), created=t(minutes=since_min - 1))]
    a = deployment_app(b, name, ns, [Rev(6, t(days=5), old_c, old_pods), Rev(7, t(minutes=since_min), new_c, new_pods)], 3,
                       nodes=nodes, service_ports=[("http", 80, "http")], progress="updating",
                       available_ltt=t(days=5))
    for p in a.revs[1].pod_objs:
        b.add(crash_events(b, p, name, since_min, since_min // 3 + 2, fresh=True))
        crash_logs(b, p, name, log_lines)
    b.add(scaled_event(b, a.dep, a.revs[1].rs, 1, since_min), scaled_event(b, a.dep, a.revs[1].rs, 2, since_min - 1))
    p0 = a.revs[1].pod_objs[0]
    if alert_kind == "crash":
        set_alert(b, crashloop_alert(ns, pname(p0), name, since_min - 4))
    elif alert_kind == "mismatch":
        set_alert(b, replicas_mismatch_alert(ns, name, since_min - 5))
    if distract == "neighbour":
        broken_neighbour(b, nodes=nodes)
    elif distract == "old":
        old_noise(b, a)
    return Meta(b, desc, exp("bad_deploy", f"Deployment/{ns}/{name}", ["crash_app_error"]))


@scenario
def bad_deploy_image_bump_crash():
    return _bad_deploy("bad_deploy-image-bump-crash", "checkout", "shop", f"{ECR}/shop/checkout:3.4.1", f"{ECR}/shop/checkout:3.5.0",
                       [f"{logts(minutes=1, seconds=5)} INFO  starting checkout 3.5.0",
                        f"{logts(minutes=1, seconds=4)} ERROR unknown flag: --payment-timeout-ms",
                        f"{logts(minutes=1, seconds=4)} FATAL failed to parse configuration, exiting"],
                       14, "crash", desc="checkout 3.5.0 rolled out 14 minutes ago crash-loops on start; revision 6 pods still serve.")


@scenario
def bad_deploy_env_change_scan():
    return _bad_deploy("bad_deploy-env-change-scan", "orders", "shop", f"{ECR}/shop/orders:5.0.2", f"{ECR}/shop/orders:5.0.2",
                       ["Traceback (most recent call last):",
                        '  File "/app/orders/settings.py", line 41, in <module>',
                        '    RETRIES = int(os.environ["ORDERS_DB_RETRIES"])',
                        "ValueError: invalid literal for int() with base 10: 'three'"],
                       22, None, distract="old",
                       env_old=[env("ORDERS_DB_RETRIES", "3")], env_new=[env("ORDERS_DB_RETRIES", "three")],
                       desc="Cluster scan: an env edit on orders (same image) created revision 7 whose pods crash on a bad integer.")


@scenario
def bad_deploy_with_unrelated_broken_pod():
    return _bad_deploy("bad_deploy-with-unrelated-broken-pod", "cart", "shop", f"{ECR}/shop/cart:1.19.0", f"{ECR}/shop/cart:1.20.0",
                       [f"{logts(minutes=2)} panic: runtime error: index out of range [3] with length 3",
                        "", "goroutine 1 [running]:", "main.loadPromotions(...)", "\t/src/cart/promo.go:88 +0x1d4"],
                       9, "mismatch", distract="neighbour",
                       desc="cart 1.20.0 panics at start after a rollout 9 minutes ago; an unrelated exporter in tools has crash-looped for days.")


@scenario
def bad_deploy_progress_deadline():
    b = Bundle("bad_deploy-progress-deadline")
    backdrop(b, GKE, "payments")
    old_c = [web("ledger", f"{GAR}/ledger:8.1.0")]
    new_c = [web("ledger", f"{GAR}/ledger:8.2.0", ready_path="/v2/ready")]
    a = deployment_app(b, "ledger", "payments",
                       [Rev(11, t(days=12), old_c, [P(ok(since_days=12 - i * 0.1), created=t(days=12)) for i in range(3)]),
                        Rev(12, t(minutes=26), new_c, [P(C_unready(t(minutes=25)), created=t(minutes=26))], replicas=1)],
                       3, nodes=GKE, service_ports=[("http", 80, "http")], progress="stuck", progress_ltt=t(minutes=16),
                       available_ltt=t(days=12))
    p = a.revs[1].pod_objs[0]
    b.add(start_events(b, p, "ledger", 26))
    b.add(event(b, p, "Unhealthy", 'Readiness probe failed: HTTP probe failed with statuscode: 404', count=150,
                first=t(minutes=25), last=t(seconds=8), field_path=fp("ledger")))
    set_alert(b, rollout_stuck_alert("payments", "ledger", 10))
    return Meta(b, "ledger 8.2.0 points its readiness probe at a path the new build does not serve; rollout exceeded its deadline.",
                exp("bad_deploy", "Deployment/payments/ledger", ["probe_failure"]), cluster="payments-prod", environment="prod")


# ---- crash_app_error ---------------------------------------------------------------
def _crash(fname, name, ns, img, lines, restarts, exit_code=1, alert=True, distract=None, nodes=EU, desc=""):
    b = Bundle(fname)
    backdrop(b, nodes, ns)
    a = deployment_app(b, name, ns, [Rev(4, t(days=8), [web(name, img)],
                                         [P(crash(restarts, exit_code, "Error", finished_s=30), created=t(days=8)),
                                          P(ok(since_days=8), created=t(days=8, minutes=-1))])], 2,
                       nodes=nodes, service_ports=[("http", 80, "http")], available_ltt=t(minutes=50))
    p = a.pods[0]
    b.add(crash_events(b, p, name, 55, restarts))
    crash_logs(b, p, name, lines)
    if alert:
        set_alert(b, crashloop_alert(ns, pname(p), name, 45))
    if distract == "neighbour":
        broken_neighbour(b, nodes=nodes)
    elif distract == "old":
        old_noise(b, a, days=4)
    return Meta(b, desc, exp("crash_app_error", f"Deployment/{ns}/{name}"))


@scenario
def crash_app_error_java_npe():
    return _crash("crash_app_error-java-npe", "recommendations", "shop", f"{ECR}/shop/recommendations:2.2.4",
                  [f"{logts(minutes=1)} ERROR [main] o.s.boot.SpringApplication - Application run failed",
                   "java.lang.NullPointerException: Cannot invoke \"com.acme.reco.Model.score()\" because \"this.model\" is null",
                   "\tat com.acme.reco.Ranker.rank(Ranker.java:57)", "\tat com.acme.reco.Warmup.run(Warmup.java:22)"], 14,
                  desc="One recommendations pod crash-loops with a NullPointerException in warm-up; no rollout for 8 days.")


@scenario
def crash_app_error_node_unhandled_scan():
    return _crash("crash_app_error-node-unhandled-scan", "notifications", "shop", f"{ECR}/shop/notifications:1.8.0",
                  [f"{logts(minutes=1)} /app/dist/queue.js:112",
                   "TypeError: Cannot read properties of undefined (reading 'length')",
                   "    at Consumer.drain (/app/dist/queue.js:112:31)", "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)",
                   "Node.js v20.11.1"], 9, alert=False, distract="old",
                  desc="Cluster scan: a notifications pod crashes on an unhandled TypeError from a poison message.")


@scenario
def crash_app_error_python_exit2_with_neighbour():
    return _crash("crash_app_error-python-exit2-with-neighbour", "pricing", "shop", f"{ECR}/shop/pricing:0.14.2",
                  ["Traceback (most recent call last):", '  File "/srv/pricing/worker.py", line 203, in run',
                   "    rate = self.rates[currency]", "KeyError: 'HRK'"], 21, exit_code=2, distract="neighbour",
                  desc="pricing crash-loops on a KeyError for a retired currency; an unrelated broken exporter elsewhere.")


# ---- oom_killed -------------------------------------------------------------------------
def _oom(fname, name, ns, img, mem, lines, restarts, metric=True, alert="oom", distract=None, nodes=EU, desc=""):
    b = Bundle(fname)
    backdrop(b, nodes, ns)
    lim = int(mem.rstrip("Mi")) * MI
    a = deployment_app(b, name, ns, [Rev(9, t(days=10), [web(name, img, mem=(mem, mem))],
                                         [P(crash(restarts, 137, "OOMKilled", finished_s=35, ran_s=240), created=t(days=10)),
                                          P(running_after_crash(restarts - 1, 137, "OOMKilled", 200), created=t(days=10))])], 2,
                       nodes=nodes, service_ports=[("http", 80, "http")], available_ltt=t(minutes=40))
    p0, p1 = a.pods
    b.add(crash_events(b, p0, name, 60, restarts))
    if lines:
        crash_logs(b, p0, name, lines)
    if metric:
        mem_metric(b, [(pname(p0), ramp(0.55 * lim, 0.995 * lim, 30, seed="m0")),
                       (pname(p1), ramp(0.5 * lim, 0.93 * lim, 30, seed="m1"))], ns, name)
    if alert == "oom":
        set_alert(b, oom_alert(ns, pname(p0), name, 30))
    elif alert == "crash":
        set_alert(b, crashloop_alert(ns, pname(p0), name, 30))
    if distract == "neighbour":
        broken_neighbour(b, nodes=nodes)
    return Meta(b, desc, exp("oom_killed", f"Deployment/{ns}/{name}", ["memory_pressure"]))


@scenario
def oom_killed_jvm_heap():
    return _oom("oom_killed-jvm-heap", "search", "shop", f"{ECR}/shop/search:6.3.0", "1024Mi",
                [f"{logts(minutes=2)} WARN  GC overhead high: 97% time in GC",
                 "Exception in thread \"indexer-3\" java.lang.OutOfMemoryError: Java heap space"], 7,
                desc="search hits its 1Gi limit under a reindex and is OOMKilled repeatedly (exit 137).")


@scenario
def oom_killed_no_logs_crash_alert():
    return _oom("oom_killed-no-logs-crash-alert", "image-resizer", "shop", f"{ECR}/shop/image-resizer:1.4.2", "256Mi", None, 12,
                alert="crash", distract="neighbour",
                desc="image-resizer is killed by the kernel at its 256Mi limit (no log line); the alert only says CrashLoopBackOff.")


@scenario
def oom_killed_scan_without_metrics():
    return _oom("oom_killed-scan-without-metrics", "session-cache", "shop", f"{ECR}/shop/session-cache:3.0.1", "512Mi",
                ["fatal error: runtime: out of memory", "", "runtime stack:", "runtime.throw({0x9a4c1e?, 0x1000?})"], 5,
                metric=False, alert=None, desc="Cluster scan: session-cache (Go) dies with runtime: out of memory; no metrics captured.")


# ---- memory_pressure ----------------------------------------------------------------------
def _mem(fname, name, ns, img, mem, frac, alert, nodes=EU, leak=True, desc=""):
    b = Bundle(fname)
    backdrop(b, nodes, ns)
    lim = int(mem.rstrip("Mi")) * MI
    a = deployment_app(b, name, ns, [Rev(3, t(days=6), [web(name, img, mem=(mem, mem))],
                                         [P(ok(since_days=6), created=t(days=6)), P(ok(since_days=6), created=t(days=6))])], 2,
                       nodes=nodes, service_ports=[("http", 80, "http")])
    vals = [ramp(0.45 * lim, frac * lim, 40, seed=f"k{i}") if leak else flat(frac * lim, 40, seed=f"k{i}") for i in range(2)]
    mem_metric(b, [(pname(p), v) for p, v in zip(a.pods, vals)], ns, name)
    if alert:
        set_alert(b, am_alert("ContainerMemoryNearLimit", {"namespace": ns, "pod": pname(a.pods[0]), "container": name},
                              "Container memory close to its limit",
                              f"Container {name} of {ns}/{pname(a.pods[0])} uses {int(frac * 100)}% of its memory limit.",
                              {"minutes": 12}, 'container_memory_working_set_bytes / on (namespace,pod,container) kube_pod_container_resource_limits{resource="memory"} > 0.9',
                              runbook=False, source="kubelet"))
    return Meta(b, desc, exp("memory_pressure", f"Deployment/{ns}/{name}", ["oom_killed"]))


@scenario
def memory_pressure_leak_alert():
    return _mem("memory_pressure-leak-alert", "gateway", "shop", f"{ECR}/shop/gateway:7.1.0", "768Mi", 0.96, True,
                desc="gateway working set grew from 45% to 96% of its 768Mi limit over 40 minutes; not killed yet.")


@scenario
def memory_pressure_scan():
    return _mem("memory_pressure-scan", "fraud-scorer", "payments", f"{GAR}/fraud-scorer:4.0.3", "2048Mi", 0.94, False, nodes=GKE,
                desc="Cluster scan: fraud-scorer's memory climbs to 94% of the limit.")


@scenario
def memory_pressure_gke_alert():
    return _mem("memory_pressure-gke-alert", "statement-renderer", "payments", f"{GAR}/statement-renderer:2.3.0", "1024Mi", 0.97,
                True, nodes=GKE, desc="statement-renderer sits at 97% of its memory limit after a leak over the morning.")


# ---- cpu_throttling -------------------------------------------------------------------------
def _cpu(fname, name, ns, img, ratio, alert, latency=True, nodes=EU, desc=""):
    b = Bundle(fname)
    backdrop(b, nodes, ns)
    a = deployment_app(b, name, ns, [Rev(5, t(days=4), [web(name, img, cpu=("200m", "200m"))],
                                         [P(ok(since_days=4), created=t(days=4)), P(ok(since_days=4), created=t(days=4))])], 2,
                       nodes=nodes, service_ports=[("http", 80, "http")])
    throttle_metric(b, [(pname(p), step(0.04, ratio, 30, 15, seed=f"c{i}")) for i, p in enumerate(a.pods)], ns, name)
    if latency:
        latency_metric(b, ns, name, step(0.18, 1.6, 30, 15, seed="lat"))
    if alert:
        set_alert(b, throttling_alert(ns, pname(a.pods[0]), name, int(ratio * 100), 14))
    return Meta(b, desc, exp("cpu_throttling", f"Deployment/{ns}/{name}"))


@scenario
def cpu_throttling_alert_latency():
    return _cpu("cpu_throttling-alert-latency", "tax-calculator", "shop", f"{ECR}/shop/tax-calculator:1.9.0", 0.62, True,
                desc="tax-calculator with a 200m CPU limit is throttled 62% of periods since traffic rose; p99 latency up.")


@scenario
def cpu_throttling_scan():
    return _cpu("cpu_throttling-scan", "thumbnailer", "shop", f"{ECR}/shop/thumbnailer:0.9.4", 0.48, False, latency=False,
                desc="Cluster scan: thumbnailer throttled in 48% of CFS periods.")


@scenario
def cpu_throttling_latency_alert():
    b = Bundle("cpu_throttling-latency-alert")
    backdrop(b, GKE, "payments")
    a = deployment_app(b, "fx-quotes", "payments", [Rev(2, t(days=20), [web("fx-quotes", f"{GAR}/fx-quotes:3.1.1", cpu=("100m", "250m"))],
                                                        [P(ok(since_days=20), created=t(days=20)) for _ in range(3)])], 3,
                       nodes=GKE, service_ports=[("http", 80, "http")])
    throttle_metric(b, [(pname(p), step(0.05, 0.71, 30, 12, seed=f"fx{i}")) for i, p in enumerate(a.pods)], "payments", "fx-quotes")
    latency_metric(b, "payments", "fx-quotes", step(0.09, 2.4, 30, 12, seed="fxl"))
    set_alert(b, latency_alert("payments", "fx-quotes", 2.4, 15))
    return Meta(b, "fx-quotes p99 latency alert; the container is throttled 71% of periods by its 250m limit.",
                exp("cpu_throttling", "Deployment/payments/fx-quotes"), cluster="payments-prod")


# ---- image_pull -----------------------------------------------------------------------------
def _pull(fname, name, ns, img, err, waiting="ImagePullBackOff", alert=True, nodes=EU, distract=None, rollout=True, desc=""):
    b = Bundle(fname)
    backdrop(b, nodes, ns)
    msg = f'Back-off pulling image "{img}"' if waiting == "ImagePullBackOff" else err
    revs = []
    if rollout:
        revs.append(Rev(3, t(days=7), [web(name, img.rsplit(":", 1)[0] + ":1.0.0")],
                        [P(ok(since_days=7), created=t(days=7)), P(ok(since_days=7), created=t(days=7))]))
    revs.append(Rev(4 if rollout else 1, t(minutes=18), [web(name, img)], [P(C_wait(waiting, msg), created=t(minutes=18))]))
    a = deployment_app(b, name, ns, revs, 2, nodes=nodes, service_ports=[("http", 80, "http")], progress="updating",
                       created=None if rollout else t(minutes=18))
    p = a.revs[-1].pod_objs[0]
    b.add(pull_fail_events(b, p, name, 18, err))
    if alert:
        set_alert(b, pod_not_ready_alert(ns, pname(p), 3))
    if distract == "neighbour":
        broken_neighbour(b, nodes=nodes)
    return Meta(b, desc, exp("image_pull", f"Deployment/{ns}/{name}", ["bad_deploy"]))


@scenario
def image_pull_tag_not_found():
    img = f"{ECR}/shop/invoice:2.0.0-rc1"
    return _pull("image_pull-tag-not-found", "invoice", "shop", img,
                 f'rpc error: code = NotFound desc = failed to pull and unpack image "{img}": failed to resolve reference "{img}": {img}: not found',
                 desc="invoice rolled out with a tag that was never pushed; the new pod sits in ImagePullBackOff.")


@scenario
def image_pull_private_registry_unauthorized():
    img = "registry.acme-internal.io/payments/kyc:5.2.0"
    return _pull("image_pull-private-registry-unauthorized", "kyc", "payments", img,
                 f'rpc error: code = Unknown desc = failed to pull and unpack image "{img}": failed to resolve reference "{img}": pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed',
                 waiting="ErrImagePull", nodes=GKE, distract="neighbour",
                 desc="kyc moved to a private registry without an imagePullSecret: pull access denied.")


@scenario
def image_pull_invalid_name_scan():
    img = f"{ECR}/shop/Reviews:latest"
    return _pull("image_pull-invalid-name-scan", "reviews", "shop", img,
                 f'Failed to apply default image tag "{img}": couldn\'t parse image name "{img}": invalid reference format: repository name must be lowercase',
                 waiting="InvalidImageName", alert=False, rollout=False,
                 desc="Cluster scan: a new Deployment references an image with upper-case letters (InvalidImageName).")


# ---- missing_config_ref --------------------------------------------------------------------
@scenario
def missing_config_ref_secret_key():
    b = Bundle("missing_config_ref-secret-key")
    backdrop(b, EU, "shop")
    b.add(secret(b, "wallet-db", "shop"))
    c = [web("wallet", f"{ECR}/shop/wallet:2.1.0", env=[env("DB_PASSWORD", secret=("wallet-db-credentials", "password"))])]
    a = deployment_app(b, "wallet", "shop", [Rev(1, t(minutes=20), c, [P(C_wait("CreateContainerConfigError", 'secret "wallet-db-credentials" not found'),
                                                                        created=t(minutes=20))])], 1,
                       nodes=EU, service_ports=[("http", 80, "http")], created=t(minutes=20), progress="updating")
    p = a.pods[0]
    b.add(sched_event(b, p, 20),
          event(b, p, "Failed", 'Error: secret "wallet-db-credentials" not found', count=95, first=t(minutes=20), last=t(seconds=20),
                field_path=fp("wallet")))
    set_alert(b, pod_not_ready_alert("shop", pname(p), 4))
    return Meta(b, "wallet's env refers to Secret wallet-db-credentials, which does not exist (the Secret is wallet-db).",
                exp("missing_config_ref", "Deployment/shop/wallet"))


@scenario
def missing_config_ref_configmap_volume():
    b = Bundle("missing_config_ref-configmap-volume")
    backdrop(b, GKE, "payments")
    vol = [{"name": "rules", "configMap": {"name": "risk-rules-v2", "defaultMode": 420}}]
    c = [web("risk-engine", f"{GAR}/risk-engine:9.0.1", mounts=[{"name": "rules", "mountPath": "/etc/risk"}])]
    a = deployment_app(b, "risk-engine", "payments", [Rev(1, t(minutes=32), c, [P(C_wait("ContainerCreating"), created=t(minutes=32))])], 1,
                       nodes=GKE, service_ports=[("http", 80, "http")], created=t(minutes=32), progress="updating", volumes=vol)
    p = a.pods[0]
    b.add(sched_event(b, p, 32),
          event(b, p, "FailedMount", 'MountVolume.SetUp failed for volume "rules" : configmap "risk-rules-v2" not found', count=23,
                first=t(minutes=32), last=t(minutes=1)))
    return Meta(b, "Cluster scan: risk-engine's pod is stuck ContainerCreating: its ConfigMap volume risk-rules-v2 does not exist.",
                exp("missing_config_ref", "Deployment/payments/risk-engine"), cluster="payments-prod")


@scenario
def missing_config_ref_configmap_key_with_neighbour():
    b = Bundle("missing_config_ref-configmap-key-with-neighbour")
    backdrop(b, EU, "shop")
    b.add(configmap(b, "shipping-config", "shop", {"CARRIER": "dhl", "REGION": "eu"}))
    c = [web("shipping", f"{ECR}/shop/shipping:4.4.0", env=[env("CARRIER", cm=("shipping-config", "CARRIER")),
                                                          env("RATE_TABLE", cm=("shipping-config", "RATE_TABLE"))])]
    a = deployment_app(b, "shipping", "shop",
                       [Rev(2, t(days=15), [web("shipping", f"{ECR}/shop/shipping:4.3.2", env=[env("CARRIER", cm=("shipping-config", "CARRIER"))])],
                            [P(ok(since_days=15), created=t(days=15)), P(ok(since_days=15), created=t(days=15))]),
                        Rev(3, t(minutes=11), c, [P(C_wait("CreateContainerConfigError", "couldn't find key RATE_TABLE in ConfigMap shop/shipping-config"),
                                                    created=t(minutes=11))])], 2,
                       nodes=EU, service_ports=[("http", 80, "http")], progress="updating")
    p = a.revs[1].pod_objs[0]
    b.add(sched_event(b, p, 11),
          event(b, p, "Failed", "Error: couldn't find key RATE_TABLE in ConfigMap shop/shipping-config", count=50,
                first=t(minutes=11), last=t(seconds=15), field_path=fp("shipping")))
    broken_neighbour(b)
    set_alert(b, replicas_mismatch_alert("shop", "shipping", 2))
    return Meta(b, "shipping 4.4.0 reads key RATE_TABLE that the ConfigMap lacks (CreateContainerConfigError).",
                exp("missing_config_ref", "Deployment/shop/shipping", ["bad_deploy"]))


# ---- config_error --------------------------------------------------------------------------
def _cfg(fname, name, ns, img, state, events, logs=None, nodes=EU, alert=True, command=None, desc=""):
    b = Bundle(fname)
    backdrop(b, nodes, ns)
    c = [web(name, img, command=command)]
    a = deployment_app(b, name, ns, [Rev(1, t(minutes=25), c, [P(state, created=t(minutes=25))])], 1, nodes=nodes,
                       service_ports=[("http", 80, "http")], created=t(minutes=25), progress="updating")
    p = a.pods[0]
    b.add(sched_event(b, p, 25))
    for reason, msg, count in events:
        b.add(event(b, p, reason, msg, count=count, first=t(minutes=24), last=t(seconds=30), field_path=fp(name)))
    if logs:
        crash_logs(b, p, name, logs)
    if alert:
        set_alert(b, pod_not_ready_alert(ns, pname(p), 8))
    return Meta(b, desc, exp("config_error", f"Deployment/{ns}/{name}"))


@scenario
def config_error_exec_format():
    return _cfg("config_error-exec-format", "edge-proxy", "shop", f"{ECR}/shop/edge-proxy:2.0.0-arm64",
                crash(9, 1, "Error", ran_s=0), [("BackOff", "Back-off restarting failed container edge-proxy in pod", 40)],
                logs=["exec /usr/local/bin/edge-proxy: exec format error"],
                desc="edge-proxy was built for arm64 and runs on amd64 nodes: exec format error.")


@scenario
def config_error_executable_not_found():
    msg = 'failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "/app/start.sh": stat /app/start.sh: no such file or directory: unknown'
    return _cfg("config_error-executable-not-found", "batch-api", "payments", f"{GAR}/batch-api:1.2.0",
                C_crash(8, term(128, "StartError", t(minutes=3), t(minutes=3), msg), backoff="2m40s"),
                [("Failed", "Error: " + msg, 9)], nodes=GKE, command=["/app/start.sh"], alert=False,
                desc="Cluster scan: batch-api's command /app/start.sh is not in the image (StartError, exit 128).")


@scenario
def config_error_create_container_error():
    msg = 'failed to generate container "x" spec: failed to generate spec: failed to apply OCI options: no command specified'
    return _cfg("config_error-create-container-error", "audit-sink", "shop", f"{ECR}/shop/audit-sink:0.2.0",
                C_wait("CreateContainerError", msg), [("Failed", "Error: " + msg, 70)],
                desc="audit-sink's image has no entrypoint and the pod gives no command: CreateContainerError.")


@scenario
def config_error_configmap_invalid_json():
    b = Bundle("config_error-configmap-invalid-json")
    backdrop(b, EU, "shop")
    rules = '{"rules": [{"sku": "*", "discount": 0.1},]}\n'
    b.add(configmap(b, "pricing-rules", "shop", {"rules.json": rules}, created=t(days=30),
                    managed_fields=[managed("kubectl-edit", t(minutes=12), {"f:data": {"f:rules.json": {}}})]))
    vol = [{"name": "rules", "configMap": {"name": "pricing-rules", "defaultMode": 420}}]
    c = [web("pricing", f"{ECR}/shop/pricing:2.2.0", mounts=[{"name": "rules", "mountPath": "/etc/pricing"}])]
    deployment_app(b, "pricing", "shop", [Rev(5, t(days=6), c, [P(ok(since_days=6), created=t(days=6)),
                                                                   P(ok(since_days=6), created=t(days=6, minutes=-1))])], 2,
                   nodes=EU, service_ports=[("http", 80, "http")], created=t(days=30),
                   available_ltt=t(days=6, minutes=-1), volumes=vol)
    return Meta(b, "Cluster scan: pricing's mounted ConfigMap pricing-rules was edited 12 minutes ago and its rules.json "
                   "no longer parses (trailing comma); the running pods fail at their next reload or restart.",
                exp("config_error", "ConfigMap/shop/pricing-rules"))


# ---- probe_failure --------------------------------------------------------------------------
@scenario
def probe_failure_liveness_kills():
    b = Bundle("probe_failure-liveness-kills")
    backdrop(b, EU, "shop")
    c = [web("basket-api", f"{ECR}/shop/basket-api:3.3.0", live_path="/healthz")]
    a = deployment_app(b, "basket-api", "shop", [Rev(8, t(days=9), c, [
        P(running_after_crash(11, 137, "Error", 25), created=t(days=9)),
        P(running_after_crash(10, 137, "Error", 80), created=t(days=9))])], 2, nodes=EU,
        service_ports=[("http", 80, "http")], available_ltt=t(minutes=30))
    for p in a.pods:
        b.add(event(b, p, "Unhealthy", "Liveness probe failed: Get \"http://" + p["status"]["podIP"] + ":8080/healthz\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)",
                    count=33, first=t(minutes=50), last=t(seconds=40), field_path=fp("basket-api")),
              event(b, p, "Killing", "Container basket-api failed liveness probe, will be restarted", "Normal", count=11,
                    first=t(minutes=48), last=t(seconds=45), field_path=fp("basket-api")))
    set_alert(b, pod_not_ready_alert("shop", pname(a.pods[0]), 10))
    return Meta(b, "basket-api's liveness probe (1s timeout) times out under load; the kubelet kills and restarts the containers.",
                exp("probe_failure", "Deployment/shop/basket-api"))


@scenario
def probe_failure_readiness_scan():
    b = Bundle("probe_failure-readiness-scan")
    backdrop(b, GKE, "payments")
    c = [web("payouts", f"{GAR}/payouts:6.0.4")]
    a = deployment_app(b, "payouts", "payments", [Rev(3, t(days=14), c, [
        P(C_unready(t(days=14)), created=t(days=14)), P(ok(since_days=14), created=t(days=14))])], 2, nodes=GKE,
        service_ports=[("http", 80, "http")])
    p = a.pods[0]
    b.add(event(b, p, "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503", count=120,
                first=t(minutes=40), last=t(seconds=9), field_path=fp("payouts")))
    return Meta(b, "Cluster scan: one payouts pod runs but fails its readiness probe with 503 for 40 minutes.",
                exp("probe_failure", "Deployment/payments/payouts", ["service_no_endpoints"]), cluster="payments-prod")


@scenario
def probe_failure_startup_probe_with_old_events():
    b = Bundle("probe_failure-startup-probe-with-old-events")
    backdrop(b, EU, "shop")
    st = http_probe("/started", "http", period=5, failure=6)
    c = [web("catalog-indexer", f"{ECR}/shop/catalog-indexer:5.1.0", startup=st)]
    a = deployment_app(b, "catalog-indexer", "shop", [Rev(2, t(days=30), c, [P(running_after_crash(6, 143, "Error", 20), created=t(days=30))])], 1,
                       nodes=EU, service_ports=[("http", 80, "http")], available_ltt=t(minutes=35))
    p = a.pods[0]
    b.add(event(b, p, "Unhealthy", "Startup probe failed: Get \"http://" + p["status"]["podIP"] + ":8080/started\": dial tcp " + p["status"]["podIP"] + ":8080: connect: connection refused",
                count=36, first=t(minutes=35), last=t(seconds=12), field_path=fp("catalog-indexer")),
          event(b, p, "Killing", "Container catalog-indexer failed startup probe, will be restarted", "Normal", count=6,
                first=t(minutes=34), last=t(seconds=25), field_path=fp("catalog-indexer")))
    old_noise(b, a, days=6)
    set_alert(b, pod_not_ready_alert("shop", pname(p), 12))
    return Meta(b, "catalog-indexer's startup probe allows 30s but the index load now takes longer; it is killed before it starts.",
                exp("probe_failure", "Deployment/shop/catalog-indexer"))


# ---- job_failure -----------------------------------------------------------------------------
def _job(fname, name, ns, img, reason, msg, lines, nodes=EU, alert=True, deadline=False, desc=""):
    b = Bundle(fname)
    backdrop(b, nodes, ns)
    c = [ctr(name, img, resources=res("500m", "1Gi", "1", "1Gi"))]
    st = {"startTime": t(minutes=70), "failed": 3 if not deadline else 1,
          "conditions": [jcond("FailureTarget", "True", reason, msg, t(minutes=9)), jcond("Failed", "True", reason, msg, t(minutes=9))]}
    spec = {"backoffLimit": 2}
    if deadline:
        spec["activeDeadlineSeconds"] = 3600
    j = job_obj(b, name, ns, c, created=t(minutes=70), status=st, spec_extra=spec)
    b.add(j)
    pods = []
    for i in range(3 if not deadline else 1):
        ex = 1 if not deadline else 137
        p = job_pod(b, j, i, [C_term(ex, "Error", t(minutes=68 - i * 20), t(minutes=64 - i * 20))], nodes[i % len(nodes)],
                    t(minutes=69 - i * 20))
        pods.append(p)
        b.add(p)
    b.add(event(b, j, reason if not deadline else "DeadlineExceeded", "Job has reached the specified backoff limit" if not deadline else "Job was active longer than specified deadline",
                first=t(minutes=9), last=t(minutes=9), component="job-controller"))
    if lines:
        b.log(pods[-1], name, lines)
    if alert:
        set_alert(b, job_failed_alert(ns, name, 8))
    return Meta(b, desc, exp("job_failure", f"Job/{ns}/{name}"))


@scenario
def job_failure_backoff_limit():
    return _job("job_failure-backoff-limit", "nightly-settlement", "payments", f"{GAR}/settlement:2.8.0", "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
                ["2026-04-02 13:24:01,114 ERROR settlement: batch 2026-04-01 has 3 unbalanced entries", "SystemExit: 1"], nodes=GKE,
                desc="The nightly settlement Job failed three times and hit its backoff limit.")


@scenario
def job_failure_deadline_exceeded():
    return _job("job_failure-deadline-exceeded", "catalog-export", "shop", f"{ECR}/shop/catalog-export:1.0.7", "DeadlineExceeded",
                "Job was active longer than specified deadline", None, deadline=True,
                desc="catalog-export ran past activeDeadlineSeconds and was terminated.")


@scenario
def job_failure_cronjob_scan():
    b = Bundle("job_failure-cronjob-scan")
    backdrop(b, EU, "shop")
    c = [ctr("cleanup", f"{ECR}/shop/cleanup:0.5.0", resources=res("100m", "128Mi", "200m", "128Mi"))]
    cj = cronjob_obj(b, "cart-cleanup", "shop", "*/30 * * * *", c,
                     status={"lastScheduleTime": t(minutes=30)})
    b.add(cj)
    st = {"startTime": t(minutes=30), "failed": 3,
          "conditions": [jcond("Failed", "True", "BackoffLimitExceeded", "Job has reached the specified backoff limit", t(minutes=20))]}
    j = job_obj(b, "cart-cleanup-29583090", "shop", c, created=t(minutes=30), status=st, owner=cj, spec_extra={"backoffLimit": 2})
    b.add(j)
    for i in range(3):
        p = job_pod(b, j, i, [C_term(1, "Error", t(minutes=29 - i * 4), t(minutes=28 - i * 4))], EU[i], t(minutes=29 - i * 4))
        b.add(p)
    b.log(p, "cleanup", ['{"level":"error","msg":"delete expired carts","error":"pq: relation \\"carts_v1\\" does not exist"}'])
    b.add(event(b, j, "BackoffLimitExceeded", "Job has reached the specified backoff limit", first=t(minutes=20), last=t(minutes=20),
                component="job-controller"),
          event(b, cj, "SawCompletedJob", "Saw completed job: cart-cleanup-29583090, condition: Failed", "Normal",
                first=t(minutes=20), last=t(minutes=20), component="cronjob-controller"))
    return Meta(b, "Cluster scan: the latest cart-cleanup CronJob run failed (BackoffLimitExceeded).",
                exp("job_failure", "CronJob/shop/cart-cleanup"))


# ---- hpa_at_max ---------------------------------------------------------------------------------
def _hpa(fname, name, ns, img, maxr, alert, nodes=EU, desc=""):
    b = Bundle(fname)
    backdrop(b, nodes, ns)
    a = deployment_app(b, name, ns, [Rev(4, t(days=3), [web(name, img)], [P(ok(since_min=20 + i), created=t(minutes=20 + i)) for i in range(maxr)])],
                       maxr, nodes=nodes, service_ports=[("http", 80, "http")])
    st = {"currentReplicas": maxr, "desiredReplicas": maxr, "lastScaleTime": t(minutes=20),
          "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 142, "averageValue": "355m"}}}],
          "conditions": [hcond("AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size", t(minutes=18)),
                         hcond("ScalingActive", "True", "ValidMetricFound", "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)", t(days=3)),
                         hcond("ScalingLimited", "True", "TooManyReplicas", "the desired replica count is more than the maximum replica count", t(minutes=20))]}
    hp = hpa(b, name, ns, a.dep, 2, maxr, cpu_metric_spec(70), st)
    b.add(hp)
    latency_metric(b, ns, name, step(0.21, 1.9, 30, 10, seed="hl"))
    if alert == "hpa":
        set_alert(b, hpa_max_alert(ns, name, 15))
    elif alert == "latency":
        set_alert(b, latency_alert(ns, name, 1.9, 12))
    return Meta(b, desc, exp("hpa_at_max", f"HorizontalPodAutoscaler/{ns}/{name}", ["cpu_throttling"]))


@scenario
def hpa_at_max_alert():
    return _hpa("hpa_at_max-alert", "storefront", "shop", f"{ECR}/shop/storefront:9.9.1", 6, "hpa",
                desc="A sale drives storefront's CPU to 142% of requests; the HPA sits at maxReplicas 6 while latency climbs.")


@scenario
def hpa_at_max_latency_alert():
    return _hpa("hpa_at_max-latency-alert", "card-auth", "payments", f"{GAR}/card-auth:12.0.0", 8, "latency", nodes=GKE,
                desc="card-auth latency alert: the HPA has been pinned at 8 of 8 replicas for 20 minutes.")


@scenario
def hpa_at_max_scan():
    return _hpa("hpa_at_max-scan", "search-api", "shop", f"{ECR}/shop/search-api:2.0.3", 4, None,
                desc="Cluster scan: search-api's HPA is limited by maxReplicas 4 and latency is up.")


# ---- quota_exceeded -------------------------------------------------------------------------------
def _quota(fname, name, ns, img, msg, quota, nodes=EU, alert=True, desc=""):
    b = Bundle(fname)
    backdrop(b, nodes, ns)
    b.add(quota(b))
    a = deployment_app(b, name, ns, [Rev(1, t(minutes=28), [web(name, img, cpu=("500m", "1"), mem=("1Gi", "1Gi"))], [], replicas=2)], 2,
                       nodes=nodes, service_ports=[("http", 80, "http")], created=t(minutes=28), progress="stuck",
                       progress_ltt=t(minutes=18))
    rs = a.rss[-1]
    rs["status"]["conditions"] = [{"type": "ReplicaFailure", "status": "True", "lastTransitionTime": t(minutes=28),
                                   "reason": "FailedCreate", "message": msg}]
    a.dep["status"]["conditions"].append({"type": "ReplicaFailure", "status": "True", "lastUpdateTime": t(minutes=28),
                                          "lastTransitionTime": t(minutes=28), "reason": "FailedCreate", "message": msg})
    b.add(event(b, rs, "FailedCreate", "Error creating: " + msg.split(": ", 1)[-1], count=17, first=t(minutes=28), last=t(minutes=2),
                component="replicaset-controller"))
    if alert:
        set_alert(b, replicas_mismatch_alert(ns, name, 12))
    return Meta(b, desc, exp("quota_exceeded", f"ResourceQuota/{ns}/{quota(b)['metadata']['name']}"))


@scenario
def quota_exceeded_cpu():
    def q(b):
        return resourcequota(b, "shop-compute", "shop", {"requests.cpu": "8", "requests.memory": "16Gi", "pods": "40"},
                             {"requests.cpu": "7750m", "requests.memory": "11Gi", "pods": "23"})
    return _quota("quota_exceeded-cpu", "loyalty", "shop", f"{ECR}/shop/loyalty:1.0.0",
                  'pods "loyalty-5d8f7c9b6-" is forbidden: exceeded quota: shop-compute, requested: requests.cpu=500m, used: requests.cpu=7750m, limited: requests.cpu=8',
                  q, desc="The new loyalty Deployment cannot create pods: the namespace's CPU request quota is used up.")


@scenario
def quota_exceeded_pods_scan():
    def q(b):
        return resourcequota(b, "object-counts", "payments", {"pods": "20", "services": "20"}, {"pods": "20", "services": "9"})
    return _quota("quota_exceeded-pods-scan", "chargebacks", "payments", f"{GAR}/chargebacks:0.9.0",
                  'pods "chargebacks-7b9d4f6c8-" is forbidden: exceeded quota: object-counts, requested: pods=1, used: pods=20, limited: pods=20',
                  q, nodes=GKE, alert=False, desc="Cluster scan: chargebacks' ReplicaSet is refused by the pod-count quota.")


@scenario
def quota_exceeded_memory():
    def q(b):
        return resourcequota(b, "analytics-quota", "analytics", {"limits.memory": "64Gi", "requests.memory": "48Gi"},
                             {"limits.memory": "63Gi", "requests.memory": "40Gi"})
    return _quota("quota_exceeded-memory", "feature-store", "analytics", f"{GHCR}/feature-store:3.2.0",
                  'pods "feature-store-6f7d8c5b4-" is forbidden: exceeded quota: analytics-quota, requested: limits.memory=1Gi, used: limits.memory=63Gi, limited: limits.memory=64Gi',
                  q, nodes=ANA, desc="feature-store is refused by the memory-limit quota of the analytics namespace.")
