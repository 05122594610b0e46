"""Scenarios for catalogue rules the other modules do not reach: lifecycle hooks, templates of
controllers without pods, external connection errors, Gateway API, OLM and KEDA objects, and
causal chains (a ConfigMap edit breaking every Deployment that mounts it)."""
from common import *
from s_workload import backdrop, broken_neighbour

GW = "gateway.networking.k8s.io"


def gw_class(b, name, accepted=("True", "Accepted", "Handled by the envoy-gateway controller"), created=None):
    s, r, m = accepted
    return {"apiVersion": f"{GW}/v1", "kind": "GatewayClass",
            "metadata": b.meta("GatewayClass", name, None, created=created or t(days=90), generation=1),
            "spec": {"controllerName": "gateway.envoyproxy.io/gatewayclass-controller"},
            "status": {"conditions": [{"type": "Accepted", "status": s, "observedGeneration": 1, "lastTransitionTime": t(days=1) if s == "True" else t(minutes=20),
                                       "reason": r, "message": m}]}}


def gateway(b, name, ns, cls, programmed=("True", "Programmed", "Address assigned to the Gateway"), created=None):
    s, r, m = programmed
    return {"apiVersion": f"{GW}/v1", "kind": "Gateway",
            "metadata": b.meta("Gateway", name, ns, created=created or t(days=30), generation=1),
            "spec": {"gatewayClassName": cls, "listeners": [{"name": "https", "port": 443, "protocol": "HTTPS", "hostname": "shop.example.com",
                                                              "tls": {"mode": "Terminate", "certificateRefs": [{"kind": "Secret", "name": "shop-tls"}]},
                                                              "allowedRoutes": {"namespaces": {"from": "Same"}}}]},
            "status": {"conditions": [{"type": "Accepted", "status": "True", "observedGeneration": 1, "lastTransitionTime": t(days=30), "reason": "Accepted", "message": "The Gateway has been scheduled by Envoy Gateway"},
                                      {"type": "Programmed", "status": s, "observedGeneration": 1, "lastTransitionTime": t(days=30) if s == "True" else t(minutes=15), "reason": r, "message": m}]}}


def route(b, name, ns, gw_name, backend, backend_ns=None, conds=None):
    ref = {"group": "", "kind": "Service", "name": backend, "port": 80, "weight": 1}
    if backend_ns:
        ref["namespace"] = backend_ns
    parent = {"parentRef": {"group": GW, "kind": "Gateway", "name": gw_name}, "controllerName": "gateway.envoyproxy.io/gatewayclass-controller",
              "conditions": conds or []}
    return {"apiVersion": f"{GW}/v1", "kind": "HTTPRoute",
            "metadata": b.meta("HTTPRoute", name, ns, created=t(minutes=25), generation=1),
            "spec": {"parentRefs": [{"group": GW, "kind": "Gateway", "name": gw_name}], "hostnames": ["shop.example.com"],
                     "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}], "backendRefs": [ref]}]},
            "status": {"parents": [parent]}}


def rc(type_, status, reason, message):
    return {"type": type_, "status": status, "observedGeneration": 1, "lastTransitionTime": t(minutes=24), "reason": reason, "message": message}


def base_gw(fname, programmed=None, cls_accepted=None):
    b = Bundle(fname)
    backdrop(b, EU, "shop")
    b.add(gw_class(b, "envoy", **({"accepted": cls_accepted} if cls_accepted else {})))
    b.add(gateway(b, "shop", "shop", "envoy", **({"programmed": programmed} if programmed else {})))
    b.add(secret(b, "shop-tls", "shop", type_="kubernetes.io/tls"))
    return b


@scenario
def config_error_gateway_programmed_invalid():
    b = base_gw("config_error-gateway-programmed-invalid",
                programmed=("False", "Invalid", "Listener https references Secret shop/shop-tls which has no tls.crt"))
    return Meta(b, "Cluster scan: the shop Gateway is not programmed: its listener configuration is invalid.",
                exp("config_error", "Gateway/shop/shop", ["network_issue"]))


@scenario
def config_error_gatewayclass_rejected():
    b = base_gw("config_error-gatewayclass-rejected",
                cls_accepted=("False", "InvalidParameters", "Invalid parametersRef: EnvoyProxy envoy-gateway-system/custom-proxy not found"))
    return Meta(b, "Cluster scan: the envoy GatewayClass was rejected by its controller: its parametersRef is invalid.",
                exp("config_error", "GatewayClass/envoy"))


@scenario
def config_error_httproute_not_accepted():
    b = base_gw("config_error-httproute-not-accepted")
    b.add(route(b, "storefront", "shop", "shop", "frontend",
                conds=[rc("Accepted", "False", "UnsupportedValue", "Filter type RequestMirror with a fraction is not supported"),
                       rc("ResolvedRefs", "True", "ResolvedRefs", "Resolved all the Object references for the Route")]))
    return Meta(b, "Cluster scan: the storefront HTTPRoute was not accepted: it uses a filter the implementation does not support.",
                exp("config_error", "HTTPRoute/shop/storefront"))


@scenario
def service_no_endpoints_httproute_backend_not_found():
    b = base_gw("service_no_endpoints-httproute-backend-not-found")
    b.add(route(b, "checkout", "shop", "shop", "checkout-v2",
                conds=[rc("Accepted", "True", "Accepted", "Route is accepted"),
                       rc("ResolvedRefs", "False", "BackendNotFound", "Failed to process route rule 0 backendRef 0: service shop/checkout-v2 not found")]))
    return Meta(b, "Cluster scan: the checkout HTTPRoute points at Service checkout-v2, which does not exist.",
                exp("service_no_endpoints", "HTTPRoute/shop/checkout"))


@scenario
def config_error_httproute_ref_not_permitted():
    b = base_gw("config_error-httproute-ref-not-permitted")
    healthy_deploy(b, "search", "search", f"{ECR}/search/search:3.0.0", replicas=2)
    b.add(route(b, "search", "shop", "shop", "search", backend_ns="search",
                conds=[rc("Accepted", "True", "Accepted", "Route is accepted"),
                       rc("ResolvedRefs", "False", "RefNotPermitted", "Failed to process route rule 0 backendRef 0: Backend ref to Service search/search not permitted by any ReferenceGrant")]))
    return Meta(b, "Cluster scan: the search HTTPRoute in shop references a Service in namespace search without a ReferenceGrant.",
                exp("config_error", "HTTPRoute/shop/search"))


def olm(b, kind, name, ns, spec, status, api="operators.coreos.com/v1alpha1", cluster=False):
    return {"apiVersion": api, "kind": kind, "metadata": b.meta(kind, name, None if cluster else ns, created=t(days=5), generation=1),
            "spec": spec, "status": status}


@scenario
def config_error_clustercatalog_blocked():
    b = Bundle("config_error-clustercatalog-blocked")
    add_nodes(b, EU)
    b.add(olm(b, "ClusterCatalog", "internal-operators", None,
              {"availabilityMode": "Available", "priority": 0, "source": {"type": "Image", "image": {"ref": "registry.acme-internal.io/olm/catalog:latest", "pollIntervalMinutes": 10}}},
              {"conditions": [{"type": "Progressing", "status": "False", "observedGeneration": 1, "lastTransitionTime": t(minutes=30), "reason": "Blocked",
                               "message": "source bundle content has not been verified: image reference must use a digest"}]},
              api="olm.operatorframework.io/v1", cluster=True))
    return Meta(b, "Cluster scan: an OLM ClusterCatalog is Blocked: its image reference is not pinned by digest.",
                exp("config_error", "ClusterCatalog/internal-operators"))


@scenario
def config_error_subscription_resolution_failed():
    b = Bundle("config_error-subscription-resolution-failed")
    add_nodes(b, EU)
    b.add(olm(b, "Subscription", "cert-manager", "operators",
              {"channel": "stable-v2", "name": "cert-manager", "source": "community-operators", "sourceNamespace": "olm", "installPlanApproval": "Automatic"},
              {"state": "", "lastUpdated": t(minutes=20),
               "conditions": [{"type": "ResolutionFailed", "status": "True", "reason": "ConstraintsNotSatisfiable",
                               "message": "no operators found in channel stable-v2 of package cert-manager in the catalog referenced by subscription cert-manager",
                               "lastTransitionTime": t(minutes=20)}]}))
    return Meta(b, "Cluster scan: an OLM Subscription cannot be resolved: its channel does not exist in the catalog.",
                exp("config_error", "Subscription/operators/cert-manager"))


def scaled(b, name, ns, target, ready=True, msg=None):
    conds = [{"type": "Ready", "status": "True" if ready else "False", "reason": "ScaledObjectReady" if ready else "ScaledObjectCheckFailed",
              "message": "ScaledObject is defined correctly and is ready for scaling" if ready else msg},
             {"type": "Active", "status": "False" if ready else "Unknown"}, {"type": "Fallback", "status": "False" if ready else "Unknown"}]
    return {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
            "metadata": b.meta("ScaledObject", name, ns, created=t(minutes=40), generation=1, labels={"scaledobject.keda.sh/name": name}),
            "spec": {"scaleTargetRef": {"name": target, "kind": "Deployment", "apiVersion": "apps/v1"}, "pollingInterval": 30, "cooldownPeriod": 300,
                     "minReplicaCount": 1, "maxReplicaCount": 20,
                     "triggers": [{"type": "kafka", "metadata": {"bootstrapServers": "kafka.shop.svc:9092", "consumerGroup": name, "topic": "orders", "lagThreshold": "100"}}]},
            "status": {"conditions": conds}}


@scenario
def config_error_scaledobject_target_missing():
    b = Bundle("config_error-scaledobject-target-missing")
    backdrop(b, EU, "shop")
    b.add(scaled(b, "order-consumer", "shop", "order-consumer", ready=False,
                 msg="ScaledObject doesn't have correct scaleTargetRef specification"))
    return Meta(b, "Cluster scan: a KEDA ScaledObject scales Deployment order-consumer, which does not exist (renamed).",
                exp("config_error", "ScaledObject/shop/order-consumer"))


@scenario
def config_error_scaledobject_not_ready():
    b = Bundle("config_error-scaledobject-not-ready")
    backdrop(b, EU, "shop")
    b.add(scaled(b, "frontend", "shop", "frontend", ready=False,
                 msg="error parsing kafka metadata: no bootstrapServers given"))
    return Meta(b, "Cluster scan: a KEDA ScaledObject for frontend is not Ready: its trigger metadata is invalid.",
                exp("config_error", "ScaledObject/shop/frontend"))


@scenario
def config_error_poststart_hook_failed():
    b = Bundle("config_error-poststart-hook-failed")
    backdrop(b, EU, "shop")
    c = web("search-sync", f"{ECR}/shop/search-sync:1.2.0")
    c["lifecycle"] = {"postStart": {"exec": {"command": ["/bin/sh", "-c", "/opt/warmup.sh"]}}}
    msg = 'Exec lifecycle hook ([/bin/sh -c /opt/warmup.sh]) for Container "search-sync" in Pod "search-sync" failed - error: command \'/bin/sh -c /opt/warmup.sh\' exited with 127: /bin/sh: /opt/warmup.sh: not found'
    a = deployment_app(b, "search-sync", "shop", [Rev(1, t(minutes=6), [c], [P(C_wait("PostStartHookError", msg, restarts=1,
                                                                                  last=term(137, "Error", t(minutes=2), t(minutes=2))),
                                                                           created=t(minutes=6))])], 1,
                       nodes=EU, created=t(minutes=6), progress="updating")
    p = a.pods[0]
    b.add(sched_event(b, p, 6), event(b, p, "FailedPostStartHook", msg, count=2, first=t(minutes=5), last=t(minutes=2), field_path=fp("search-sync")))
    set_alert(b, pod_not_ready_alert("shop", pname(p), 1))
    return Meta(b, "search-sync's postStart hook runs a script that is not in the image; the kubelet kills the container.",
                exp("config_error", "Deployment/shop/search-sync"))


@scenario
def missing_config_ref_cronjob_template_secret():
    b = Bundle("missing_config_ref-cronjob-template-secret")
    backdrop(b, EU, "shop")
    c = [ctr("exporter", f"{ECR}/shop/exporter:1.0.0", env=[env("S3_KEY", secret=("exporter-s3", "access-key"))],
             resources=res("100m", "128Mi", "200m", "256Mi"))]
    b.add(cronjob_obj(b, "nightly-export", "shop", "0 2 * * *", c, status={}, created=t(hours=2)))
    return Meta(b, "Cluster scan: a new CronJob's template reads Secret exporter-s3, which does not exist; its first run will fail.",
                exp("missing_config_ref", "CronJob/shop/nightly-export"))


@scenario
def dependency_failure_external_db_connection_refused():
    b = Bundle("dependency_failure-external-db-connection-refused")
    backdrop(b, ANA, "analytics")
    a = deployment_app(b, "cdc-relay", "analytics", [Rev(2, t(days=12), [web("cdc-relay", f"{GHCR}/cdc-relay:0.8.1")],
                                                          [P(C_unready(t(days=12)), created=t(days=12))])], 1, nodes=ANA,
                       available_ltt=t(minutes=15))
    b.log(a.pods[0], "cdc-relay", [f"{logts(minutes=15 - i)} WARN  [relay] connect to 172.31.40.18:5432 failed: connect: connection refused (attempt {i + 1})"
                                   for i in range(14)])
    b.add(event(b, a.pods[0], "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503", count=80, first=t(minutes=14),
                last=t(seconds=10), field_path=fp("cdc-relay")))
    return Meta(b, "Cluster scan: cdc-relay cannot reach its external source database (connection refused, 14 attempts): the database outside the cluster is down.",
                exp("dependency_failure", "Deployment/analytics/cdc-relay", ["network_issue"],
                    note="the dependency is outside the capture, so the caller is the closest object"), cluster="analytics-prod")


@scenario
def bad_deploy_configmap_edit_breaks_two_deployments():
    b = Bundle("bad_deploy-configmap-edit-breaks-two-deployments")
    backdrop(b, EU, "shop")
    cm = configmap(b, "shop-runtime", "shop", {"config.yaml": "db:\n  pool: [10\n"}, created=t(days=60),
                   managed_fields=[managed("kubectl-edit", t(minutes=13), {"f:data": {"f:config.yaml": {}}})])
    b.add(cm)
    vol = [{"name": "runtime", "configMap": {"name": "shop-runtime", "defaultMode": 420}}]
    for name in ("orders", "invoices"):
        c = [web(name, f"{ECR}/shop/{name}:4.0.0", mounts=[{"name": "runtime", "mountPath": "/etc/shop"}])]
        a = deployment_app(b, name, "shop", [Rev(5, t(days=9), c, [P(crash(4, 1, "Error", finished_s=30), created=t(minutes=11)),
                                                                   P(ok(since_days=9), created=t(days=9))])], 2,
                           nodes=EU, volumes=vol, service_ports=[("http", 80, "http")], available_ltt=t(minutes=11))
        p = a.pods[0]
        b.add(crash_events(b, p, name, 11, 4, fresh=True))
        b.log(p, name, ["Error: failed to load /etc/shop/config.yaml: yaml: line 2: did not find expected ',' or ']'"], previous=True)
    set_alert(b, crashloop_alert("shop", pname(p), "invoices", 6))
    return Meta(b, "An edit of ConfigMap shop-runtime 13 minutes ago broke its YAML; the new pods of both Deployments that mount it crash on start.",
                exp("bad_deploy", "ConfigMap/shop/shop-runtime", ["config_error", "crash_app_error"],
                    note="the change is the root; both crash-looping Deployments are its symptoms"))


@scenario
def none_scaledobject_ready():
    b = Bundle("none-scaledobject-ready")
    backdrop(b, EU, "shop")
    b.add(scaled(b, "frontend", "shop", "frontend"))
    return Meta(b, "A KEDA ScaledObject that is Ready and idle (Active False): nothing to diagnose.",
                exp("none", "ScaledObject/shop/frontend"))


@scenario
def config_error_missing_env_var_scan():
    b = Bundle("config_error-missing-env-var-scan")
    backdrop(b, GKE, "payments")
    c = [web("reconciler", f"{GAR}/reconciler:3.2.0", env=[env("LEDGER_URL", "http://ledger.payments.svc")])]
    a = deployment_app(b, "reconciler", "payments", [Rev(6, t(days=18), c, [P(crash(9, 78, "Error", finished_s=25, ran_s=1), created=t(minutes=40))])], 1,
                       nodes=GKE, service_ports=[("http", 80, "http")], available_ltt=t(minutes=40))
    p = a.pods[0]
    b.add(crash_events(b, p, "reconciler", 40, 9, fresh=True))
    b.log(p, "reconciler", [f"{logts(minutes=1)} INFO  reconciler 3.2.0 starting",
                            f"{logts(minutes=1)} FATAL environment variable RECONCILER_DB_DSN is not set"], previous=True)
    return Meta(b, "Cluster scan: reconciler's pod was rescheduled and exits at start: a required environment variable (from a deleted Secret sync) is not set.",
                exp("config_error", "Deployment/payments/reconciler", ["missing_config_ref", "crash_app_error"]), cluster="payments-prod")


@scenario
def oom_killed_scan_with_independent_pending():
    b = Bundle("oom_killed-scan-with-independent-pending")
    backdrop(b, EU, "shop")
    lim = 512 * MI
    a = deployment_app(b, "basket", "shop", [Rev(3, t(days=7), [web("basket", f"{ECR}/shop/basket:2.0.0", mem=("512Mi", "512Mi"))],
                                                 [P(crash(6, 137, "OOMKilled", finished_s=40, ran_s=200), created=t(days=7)),
                                                  P(crash(5, 137, "OOMKilled", finished_s=90, ran_s=210), created=t(days=7))])], 2,
                       nodes=EU, service_ports=[("http", 80, "http")], available_ltt=t(minutes=30))
    for p in a.pods:
        b.add(crash_events(b, p, "basket", 35, 6))
    mem_metric(b, [(pname(p), ramp(0.6 * lim, 0.99 * lim, 30, seed=f"bk{i}")) for i, p in enumerate(a.pods)], "shop", "basket")
    msg = "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    g = deployment_app(b, "nightly-ml", "analytics", [Rev(1, t(minutes=50), [web("nightly-ml", f"{GHCR}/nightly-ml:0.1.0", readiness=False, liveness=False)],
                                                          [P(None, created=t(minutes=50), unscheduled_msg=msg)])], 1,
                       nodes=EU, created=t(minutes=50), progress="updating", pod_extra={"nodeSelector": {"node.kubernetes.io/instance-type": "p4d.24xlarge"}})
    b.add(event(b, g.pods[0], "FailedScheduling", msg, count=15, first=t(minutes=50), last=t(minutes=4), component="default-scheduler"))
    return Meta(b, "Cluster scan with two independent roots: basket is OOMKilled in shop, and a new analytics Deployment selects an instance type the cluster does not have.",
                exp("oom_killed", "Deployment/shop/basket", ["scheduling_constraints"],
                    note="both roots must be reported; the serving workload's crash ranks first"))


def controller_revision(b, owner, number, tpl, created):
    name = f"{owner['metadata']['name']}-{safe(10, 'cr', canon(tpl), number)}"
    labels = dict(owner["spec"]["selector"]["matchLabels"], **{"controller-revision-hash": name})
    return {"apiVersion": "apps/v1", "kind": "ControllerRevision",
            "metadata": b.meta("ControllerRevision", name, owner["metadata"]["namespace"], labels=labels, owner=owner, created=created),
            "data": {"spec": {"template": dict(tpl, **{"$patch": "replace"})}}, "revision": number}


@scenario
def bad_deploy_statefulset_revision():
    b = Bundle("bad_deploy-statefulset-revision")
    backdrop(b, EU, "shop")
    b.add(storageclass(b, "gp3", default=True))
    old_c = [ctr("zookeeper", "docker.io/library/zookeeper:3.8.4", ports=[("client", 2181)], readiness=tcp_probe("client"),
                 resources=res("250m", "1Gi", "1", "1Gi"))]
    new_c = [ctr("zookeeper", "docker.io/library/zookeeper:3.9.2", ports=[("client", 2181)], readiness=tcp_probe("client"),
                 resources=res("250m", "1Gi", "1", "1Gi"), args=["--4lw-commands-whitelist=srvr,ruok"])]
    zk = statefulset_app(b, "zookeeper", "shop", new_c,
                         [P(ok(since_days=20), created=t(days=20)), P(ok(since_days=20), created=t(days=20)),
                          P(crash(5, 2, "Error", finished_s=35, ran_s=4), created=t(minutes=14))],
                         claim=("data", "10Gi"), nodes=EU, service_name="zookeeper-headless", created=t(days=60))
    sts = zk.sts
    old_tpl = template(sts["spec"]["selector"]["matchLabels"], old_c)
    new_tpl = sts["spec"]["template"]
    cr_old = controller_revision(b, sts, 3, old_tpl, t(days=20))
    cr_new = controller_revision(b, sts, 4, new_tpl, t(minutes=15))
    b.add(cr_old, cr_new)
    for i, p in enumerate(zk.pods):
        rev = cr_new if i == 2 else cr_old
        p["metadata"]["labels"]["controller-revision-hash"] = rev["metadata"]["name"]
        if i < 2:
            for c, oc in zip(p["spec"]["containers"], old_c):
                c["image"] = oc["image"]
                c.pop("args", None)
            for cs in p["status"]["containerStatuses"]:
                cs["image"] = old_c[0]["image"]
                cs["imageID"] = image_id(old_c[0]["image"])
    sts["status"].update({"currentRevision": cr_old["metadata"]["name"], "updateRevision": cr_new["metadata"]["name"],
                          "currentReplicas": 2, "updatedReplicas": 1})
    hs = service(b, "zookeeper-headless", "shop", {"app.kubernetes.io/name": "zookeeper"}, [("client", 2181, "client")], headless=True)
    b.add(hs, endpoints_for(b, hs, zk.pods))
    for c in zk.pvcs:
        b.add(pv_for(b, c))
    p = zk.pods[2]
    b.add(crash_events(b, p, "zookeeper", 14, 5, fresh=True))
    b.log(p, "zookeeper", ["Unrecognized option: --4lw-commands-whitelist=srvr,ruok", "Usage: zkServer.sh [--config <conf-dir>] {start|start-foreground|stop|restart|status|print-cmd}"],
          previous=True)
    set_alert(b, crashloop_alert("shop", "zookeeper-2", "zookeeper", 8))
    return Meta(b, "A StatefulSet update (revision 4: new image and args) rolled zookeeper-2 first; it crash-loops on an unknown option while revision 3 pods serve.",
                exp("bad_deploy", "StatefulSet/shop/zookeeper", ["config_error", "crash_app_error"]))


@scenario
def image_pull_daemonset_update():
    b = Bundle("image_pull-daemonset-update")
    backdrop(b, EU, "shop")
    ns, name = "observability", "node-exporter"
    sel = {"app.kubernetes.io/name": name}
    old_c = [ctr(name, "quay.io/prometheus/node-exporter:v1.8.1", ports=[("metrics", 9100)], resources=res("50m", "64Mi", "200m", "64Mi"))]
    new_c = [ctr(name, "quay.io/prometheus/node-exporter:v1.9.0-rc.0", ports=[("metrics", 9100)], resources=res("50m", "64Mi", "200m", "64Mi"))]
    ds = {"apiVersion": "apps/v1", "kind": "DaemonSet",
          "metadata": b.meta("DaemonSet", name, ns, labels=sel, created=t(days=100), generation=7,
                             annotations={"deprecated.daemonset.template.generation": "7"}),
          "spec": {"selector": {"matchLabels": sel}, "template": template(sel, new_c, extra={"hostNetwork": True}),
                   "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
                   "revisionHistoryLimit": 10}}
    old_tpl = template(sel, old_c, extra={"hostNetwork": True})
    cr_old = controller_revision(b, ds, 6, old_tpl, t(days=30))
    cr_new = controller_revision(b, ds, 7, ds["spec"]["template"], t(minutes=21))
    pods = []
    for i, n in enumerate(EU):
        new = i == 0
        rev = cr_new if new else cr_old
        c = new_c if new else old_c
        lbl = dict(sel, **{"controller-revision-hash": rev["metadata"]["name"].rsplit("-", 1)[-1], "pod-template-generation": "7" if new else "6"})
        img = c[0]["image"]
        st = C_wait("ImagePullBackOff", f'Back-off pulling image "{img}"') if new else ok(since_days=30)
        p = pod(b, f"{name}-{suffix5(b.fname, n)}", ns, c, [st], owner=ds, labels=lbl, node=n,
                created=t(minutes=20) if new else t(days=30), host_network=True,
                spec_extra={"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                    {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [n]}]}]}}}})
        pods.append(p)
    ds["status"] = {"currentNumberScheduled": 3, "numberMisscheduled": 0, "desiredNumberScheduled": 3, "numberReady": 2,
                    "observedGeneration": 7, "updatedNumberScheduled": 1, "numberAvailable": 2, "numberUnavailable": 1}
    b.add(ds, cr_old, cr_new, *pods)
    img = new_c[0]["image"]
    b.add(pull_fail_events(b, pods[0], name, 20,
                           f'rpc error: code = NotFound desc = failed to pull and unpack image "{img}": failed to resolve reference "{img}": quay.io/prometheus/node-exporter:v1.9.0-rc.0: not found'))
    return Meta(b, "Cluster scan: a DaemonSet update to an image tag that does not exist; the first updated pod cannot pull it.",
                exp("image_pull", f"DaemonSet/{ns}/{name}", ["bad_deploy"]))
