"""Network scenarios: dependencies, DNS, TLS/NetworkPolicy, Services without endpoints, RBAC."""
from common import *
from s_workload import backdrop, broken_neighbour, old_noise, crash_logs


def caller(b, name, ns, img, lines, nodes=EU, crashing=False, restarts=6, replicas=2):
    """A workload whose logs report a failing downstream; running but unready, or crash-looping."""
    st = (lambda i: crash(restarts + i, 1, "Error", finished_s=40 + i * 10)) if crashing else (lambda i: C_unready(t(days=6)))
    a = deployment_app(b, name, ns, [Rev(5, t(days=6), [web(name, img)], [P(st(i), created=t(days=6, minutes=-i)) for i in range(replicas)])],
                       replicas, nodes=nodes, service_ports=[("http", 80, "http")], available_ltt=t(minutes=20))
    for p in a.pods:
        b.log(p, name, lines, previous=crashing)
        if crashing:
            b.add(crash_events(b, p, name, 25, restarts))
        else:
            b.add(event(b, p, "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503", count=90,
                        first=t(minutes=22), last=t(seconds=14), field_path=fp(name)))
    return a


# ---- dependency_failure ---------------------------------------------------------------------
@scenario
def dependency_failure_postgres_down():
    b = Bundle("dependency_failure-postgres-down")
    backdrop(b, EU, "shop")
    b.add(storageclass(b, "gp3", default=True))
    db = statefulset_app(b, "orders-db", "shop", [ctr("postgres", "docker.io/library/postgres:16.2", ports=[("postgres", 5432)],
                                                      resources=res("1", "2Gi", "2", "2Gi"))],
                         [P(crash(7, 1, "Error", finished_s=55, ran_s=3))], claim=("data", "50Gi"), nodes=EU,
                         service_name="orders-db")
    svc = service(b, "orders-db", "shop", {"app.kubernetes.io/name": "orders-db"}, [("postgres", 5432, "postgres")])
    b.add(svc, endpoints_for(b, svc, db.pods))
    b.log(db.pods[0], "postgres", [f"{logts('pg', minutes=1)} [1] FATAL:  could not write lock file \"postmaster.pid\": No space left on device"], previous=True)
    b.add(crash_events(b, db.pods[0], "postgres", 25, 7))
    ip = svc["spec"]["clusterIP"]
    a = caller(b, "orders", "shop", f"{ECR}/shop/orders:5.0.2",
               [f"{logts(minutes=i)} ERROR orders: failed to connect to `host=orders-db.shop.svc.cluster.local user=orders database=orders`: dial error (dial tcp {ip}:5432: connect: connection refused)"
                for i in range(6, 0, -1)])
    set_alert(b, error_rate_alert("shop", "orders", 41, 18))
    return Meta(b, "orders returns 5xx: its database orders-db crash-loops (disk full) and refuses connections.",
                exp("dependency_failure", "StatefulSet/shop/orders-db", ["volume_failure", "crash_app_error"],
                    note="the root is the database the callers cannot reach"))


@scenario
def dependency_failure_redis_no_endpoints_scan():
    b = Bundle("dependency_failure-redis-no-endpoints-scan")
    backdrop(b, GKE, "payments")
    r = deployment_app(b, "redis", "payments", [Rev(2, t(days=40), [ctr("redis", "docker.io/library/redis:7.2.4", ports=[("redis", 6379)],
                                                                       readiness=exec_probe(["redis-cli", "ping"]),
                                                                       resources=res("200m", "1Gi", "1", "1Gi"))],
                                                    [P(crash(12, 1, "Error", finished_s=20, ran_s=2))])], 1, nodes=GKE,
                       service_ports=[("redis", 6379, "redis")])
    b.log(r.pods[0], "redis", ["1:C 02 Apr 2026 14:28:11.402 # Fatal error, can't open config file '/etc/redis/redis.conf': Permission denied"], previous=True)
    b.add(crash_events(b, r.pods[0], "redis", 40, 12))
    caller(b, "sessions", "payments", f"{GAR}/sessions:2.4.0",
           [f"{logts(minutes=i)} level=error msg=\"redis ping failed\" err=\"dial tcp {r.svc['spec']['clusterIP']}:6379: connect: connection refused\""
            for i in range(8, 0, -1)], nodes=GKE)
    return Meta(b, "Cluster scan: sessions cannot reach redis, whose only pod crash-loops; the Service has no ready endpoints.",
                exp("dependency_failure", "Deployment/payments/redis", ["crash_app_error", "config_error"]), cluster="payments-prod")


@scenario
def dependency_failure_upstream_timeout_with_neighbour():
    b = Bundle("dependency_failure-upstream-timeout-with-neighbour")
    backdrop(b, EU, "shop")
    inv = deployment_app(b, "inventory", "shop", [Rev(3, t(days=9), [web("inventory", f"{ECR}/shop/inventory:7.0.1")],
                                                      [P(C_unready(t(days=9)), created=t(days=9)), P(C_unready(t(days=9)), created=t(days=9))])], 2,
                         nodes=EU, service_ports=[("http", 80, "http")], available_ltt=t(minutes=17))
    for p in inv.pods:
        b.add(event(b, p, "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 500", count=80, first=t(minutes=18),
                    last=t(seconds=5), field_path=fp("inventory")))
        b.log(p, "inventory", [f"{logts(minutes=2)} ERROR HikariPool-1 - Connection is not available, request timed out after 30000ms.",
                               f"{logts(minutes=1)} ERROR o.h.engine.jdbc.spi.SqlExceptionHelper - too many connections for role \"inventory\""])
    caller(b, "storefront", "shop", f"{ECR}/shop/storefront:9.9.1",
           [f"{logts(minutes=i)} WARN upstream inventory.shop.svc.cluster.local:80 request failed: context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
            for i in range(5, 0, -1)], replicas=3)
    broken_neighbour(b)
    set_alert(b, error_rate_alert("shop", "storefront", 23, 15))
    return Meta(b, "storefront times out calling inventory, whose pods are all unready (DB connection pool exhausted).",
                exp("dependency_failure", "Deployment/shop/inventory", ["service_no_endpoints", "probe_failure"]))


# ---- dns_failure ----------------------------------------------------------------------------
@scenario
def dns_failure_wrong_service_name():
    b = Bundle("dns_failure-wrong-service-name")
    backdrop(b, EU, "shop")
    a = caller(b, "reviews", "shop", f"{ECR}/shop/reviews:3.1.0",
               [f"{logts(minutes=i)} ERROR cannot query ratings: Get \"http://ratings-svc.shop.svc.cluster.local/v1\": dial tcp: lookup ratings-svc.shop.svc.cluster.local on 172.20.0.10:53: no such host"
                for i in range(6, 0, -1)], crashing=True)
    set_alert(b, crashloop_alert("shop", pname(a.pods[0]), "reviews", 14))
    return Meta(b, "reviews resolves ratings-svc, a Service name that does not exist: no such host.",
                exp("dns_failure", "Deployment/shop/reviews"))


@scenario
def dns_failure_coredns_down_scan():
    b = Bundle("dns_failure-coredns-down-scan")
    add_nodes(b, GKE)
    cd = deployment_app(b, "coredns", "kube-system", [Rev(1, t(days=90), [ctr("coredns", "registry.k8s.io/coredns/coredns:v1.11.1",
                                                                              ports=[("dns", 53, "UDP"), ("dns-tcp", 53)],
                                                                              readiness=http_probe("/ready", 8181), resources=res("100m", "70Mi", None, "170Mi"))],
                                                        [P(crash(9, 1, "Error", finished_s=25)), P(crash(8, 1, "Error", finished_s=60))])], 2,
                        labels={"k8s-app": "kube-dns"}, nodes=GKE, service_ports=[("dns", 53, 53, "UDP"), ("dns-tcp", 53, 53)],
                        service_name="kube-dns", service_ip="10.96.0.10", available_ltt=t(minutes=30))
    for p in cd.pods:
        b.log(p, "coredns", ['plugin/forward: no nameservers found', "Listen: listen tcp :53: bind: permission denied"], previous=True)
        b.add(crash_events(b, p, "coredns", 30, 9))
    caller(b, "merchant-api", "payments", f"{GAR}/merchant-api:4.1.0",
           [f"{logts(minutes=i)} ERROR lookup ledger.payments.svc.cluster.local: i/o timeout; Temporary failure in name resolution" for i in range(5, 0, -1)],
           nodes=GKE)
    return Meta(b, "Cluster scan: both CoreDNS pods crash-loop; workloads fail to resolve names.",
                exp("dns_failure", "Deployment/kube-system/coredns", ["crash_app_error", "dependency_failure"]), cluster="payments-prod")


@scenario
def dns_failure_external_host_nxdomain():
    b = Bundle("dns_failure-external-host-nxdomain")
    backdrop(b, ANA, "analytics")
    a = caller(b, "ingest", "analytics", f"{GHCR}/ingest:0.22.0",
               [f"{logts('py', minutes=i)} ERROR ingest.sink: HTTPSConnectionPool(host='events.acme-data.example', port=443): Max retries exceeded (Caused by NameResolutionError(\"Failed to resolve 'events.acme-data.example' ([Errno -2] Name or service not known)\"))"
                for i in range(7, 0, -1)], nodes=ANA)
    set_alert(b, pod_not_ready_alert("analytics", pname(a.pods[0]), 10))
    return Meta(b, "ingest cannot resolve its external sink host (NXDOMAIN after a DNS record was removed).",
                exp("dns_failure", "Deployment/analytics/ingest", ["dependency_failure"]), cluster="analytics-prod")


# ---- network_issue ----------------------------------------------------------------------------
@scenario
def network_issue_networkpolicy_blocks():
    b = Bundle("network_issue-networkpolicy-blocks")
    backdrop(b, EU, "shop")
    pay = healthy_deploy(b, "payment-gw", "shop", f"{ECR}/shop/payment-gw:2.2.0", replicas=2)
    ip = pay.svc["spec"]["clusterIP"]
    b.add(networkpolicy(b, "default-deny-egress", "shop", {}, ["Egress"], egress=[{"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}],
                                                                                   "ports": [{"protocol": "UDP", "port": 53}]}],
                        created=t(minutes=24), managed_fields=[managed("kubectl-client-side-apply", t(minutes=24), {"f:spec": {}}, api="networking.k8s.io/v1")]))
    a = caller(b, "checkout", "shop", f"{ECR}/shop/checkout:3.4.1",
               [f"{logts(minutes=i)} ERROR charge failed: Post \"http://payment-gw.shop.svc.cluster.local/charge\": dial tcp {ip}:80: i/o timeout" for i in range(9, 0, -1)])
    set_alert(b, error_rate_alert("shop", "checkout", 64, 20))
    return Meta(b, "A default-deny egress NetworkPolicy applied 24 minutes ago blocks checkout -> payment-gw; payment-gw is healthy.",
                exp("network_issue", "NetworkPolicy/shop/default-deny-egress", ["dependency_failure"]))


@scenario
def network_issue_tls_expired_scan():
    b = Bundle("network_issue-tls-expired-scan")
    backdrop(b, GKE, "payments")
    caller(b, "acquirer-bridge", "payments", f"{GAR}/acquirer-bridge:1.7.2",
           [f"{logts('go', minutes=i)} tls handshake to acquirer.bank.example:8443 failed: x509: certificate has expired or is not yet valid: current time 2026-04-02T14:2{i}:00Z is after 2026-04-02T00:00:00Z"
            for i in range(6, 0, -1)], nodes=GKE)
    return Meta(b, "Cluster scan: acquirer-bridge fails TLS to its acquirer: the peer's certificate expired at midnight.",
                exp("network_issue", "Deployment/payments/acquirer-bridge", ["dependency_failure"]), cluster="payments-prod")


@scenario
def network_issue_unknown_authority():
    b = Bundle("network_issue-unknown-authority")
    backdrop(b, ANA, "analytics")
    a = caller(b, "warehouse-loader", "analytics", f"{GHCR}/warehouse-loader:2.0.0",
               [f"{logts(minutes=i)} ERROR Post \"https://vault.security.svc:8200/v1/auth/kubernetes/login\": tls: failed to verify certificate: x509: certificate signed by unknown authority"
                for i in range(6, 0, -1)], nodes=ANA, crashing=True)
    set_alert(b, crashloop_alert("analytics", pname(a.pods[0]), "warehouse-loader", 12))
    return Meta(b, "warehouse-loader rejects Vault's certificate (CA rotated, trust bundle not updated).",
                exp("network_issue", "Deployment/analytics/warehouse-loader"), cluster="analytics-prod")


# ---- service_no_endpoints -----------------------------------------------------------------------
@scenario
def service_no_endpoints_selector_typo():
    b = Bundle("service_no_endpoints-selector-typo")
    backdrop(b, EU, "shop")
    a = deployment_app(b, "ratings", "shop", [Rev(2, t(days=20), [web("ratings", f"{ECR}/shop/ratings:1.3.0")],
                                                  [P(ok(since_days=20), created=t(days=20)), P(ok(since_days=20), created=t(days=20))])], 2,
                       nodes=EU, service_ports=[("http", 80, "http")], service_selector={"app.kubernetes.io/name": "rating"},
                       service_created=t(minutes=30), endpoints_changed=t(minutes=30))
    set_alert(b, error_rate_alert("shop", "ratings", 100, 25))
    return Meta(b, "The ratings Service was re-created with selector app.kubernetes.io/name=rating; it matches no pod.",
                exp("service_no_endpoints", "Service/shop/ratings"))


@scenario
def service_no_endpoints_label_change_scan():
    b = Bundle("service_no_endpoints-label-change-scan")
    backdrop(b, GKE, "payments")
    a = deployment_app(b, "refunds", "payments", [Rev(4, t(days=2), [web("refunds", f"{GAR}/refunds:3.0.0")],
                                                      [P(ok(since_days=2), created=t(days=2)), P(ok(since_days=2), created=t(days=2))])], 2,
                       nodes=GKE, labels={"app": "refunds-v2"}, service_ports=[("http", 80, "http")],
                       service_selector={"app": "refunds"})
    return Meta(b, "Cluster scan: refunds' pods were relabelled app=refunds-v2; its Service still selects app=refunds.",
                exp("service_no_endpoints", "Service/payments/refunds"), cluster="payments-prod")


@scenario
def service_no_endpoints_port_name_with_old_events():
    b = Bundle("service_no_endpoints-selector-namespace-with-old-events")
    backdrop(b, EU, "shop")
    a = deployment_app(b, "wishlist", "shop", [Rev(3, t(days=11), [web("wishlist", f"{ECR}/shop/wishlist:2.5.1")],
                                                   [P(ok(since_days=11), created=t(days=11))])], 1,
                       nodes=EU, service_ports=[("http", 80, "http")], service_selector={"app.kubernetes.io/name": "wishlist", "tier": "api"},
                       service_created=t(minutes=40))
    old_noise(b, a, days=5)
    set_alert(b, am_alert("TargetDown", {"namespace": "shop", "service": "wishlist", "job": "wishlist"},
                          "One or more targets are unreachable.", "100% of the wishlist/wishlist targets in shop namespace are down.",
                          {"minutes": 20}, 'up{job="wishlist"} == 0', source="prometheus"))
    return Meta(b, "wishlist's Service gained a selector label tier=api the pods do not carry; no endpoints.",
                exp("service_no_endpoints", "Service/shop/wishlist"))


# ---- rbac_forbidden ---------------------------------------------------------------------------------
def _rbac(fname, name, ns, img, sa, lines, nodes=EU, alert=True, crashing=True, desc=""):
    b = Bundle(fname)
    backdrop(b, nodes, ns)
    b.add(serviceaccount(b, sa, ns))
    st = crash(8, 1, "Error", finished_s=30) if crashing else C_unready(t(days=2))
    a = deployment_app(b, name, ns, [Rev(1, t(days=2), [ctr(name, img, resources=res("100m", "128Mi", "500m", "256Mi"))], [P(st, created=t(days=2))])], 1,
                       nodes=nodes, sa=sa, created=t(days=2), available_ltt=t(minutes=25))
    b.log(a.pods[0], name, lines, previous=crashing)
    if crashing:
        b.add(crash_events(b, a.pods[0], name, 25, 8))
    if alert:
        set_alert(b, crashloop_alert(ns, pname(a.pods[0]), name, 15) if crashing else pod_not_ready_alert(ns, pname(a.pods[0]), 15))
    return Meta(b, desc, exp("rbac_forbidden", f"ServiceAccount/{ns}/{sa}", ["crash_app_error"]))


@scenario
def rbac_forbidden_operator_list_pods():
    return _rbac("rbac_forbidden-operator-list-pods", "shard-operator", "shop", f"{ECR}/platform/shard-operator:0.8.0", "shard-operator",
                 [f'E0402 14:2{i}:10.118203       1 reflector.go:158] "Unhandled Error" err="pkg/mod/k8s.io/client-go@v0.31.0/tools/cache/reflector.go:243: Failed to watch *v1.Pod: failed to list *v1.Pod: pods is forbidden: User \\"system:serviceaccount:shop:shard-operator\\" cannot list resource \\"pods\\" in API group \\"\\" at the cluster scope"'
                  for i in range(6)] + ["F0402 14:28:40.000000       1 main.go:91] timed out waiting for caches to sync"],
                 desc="shard-operator's ServiceAccount has no RBAC to list pods cluster-wide; it exits after the cache sync timeout.")


@scenario
def rbac_forbidden_configmap_get_scan():
    return _rbac("rbac_forbidden-configmap-get-scan", "feature-flags", "payments", f"{GAR}/feature-flags:1.1.0", "feature-flags",
                 [f'{logts(minutes=i)} ERROR configmaps "flags" is forbidden: User "system:serviceaccount:payments:feature-flags" cannot get resource "configmaps" in API group "" in the namespace "payments"'
                  for i in range(5, 0, -1)], nodes=GKE, alert=False, crashing=False,
                 desc="Cluster scan: feature-flags cannot read its ConfigMap: the Role binding was removed.")


@scenario
def rbac_forbidden_leases_with_neighbour():
    m = _rbac("rbac_forbidden-leases-with-neighbour", "scheduler-ext", "analytics", f"{GHCR}/scheduler-ext:0.4.2", "scheduler-ext",
              [f'E0402 14:2{i}:01.000000       1 leaderelection.go:436] error retrieving resource lock analytics/scheduler-ext: leases.coordination.k8s.io "scheduler-ext" is forbidden: User "system:serviceaccount:analytics:scheduler-ext" cannot get resource "leases" in API group "coordination.k8s.io" in the namespace "analytics"'
               for i in range(6)], nodes=ANA,
              desc="scheduler-ext cannot take its leader-election Lease (403); another namespace has an unrelated broken pod.")
    broken_neighbour(m.b, nodes=ANA)
    return m
