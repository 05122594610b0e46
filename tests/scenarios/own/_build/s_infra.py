"""Infrastructure scenarios: scheduling, nodes, storage."""
from common import *
from s_workload import backdrop, broken_neighbour, old_noise


def _pending(fname, name, ns, img, msg, cause, nodes=EU, alert=True, cpu=("2", "2"), mem=("4Gi", "4Gi"), pod_extra=None,
             node_kw=None, replicas=1, desc=""):
    b = Bundle(fname)
    add_nodes(b, nodes, **(node_kw or {}))
    healthy_deploy(b, "frontend", ns, f"{ECR}/shop/frontend:4.12.0", replicas=2, nodes=nodes, port=3000)
    c = [web(name, img, cpu=cpu, mem=mem)]
    a = deployment_app(b, name, ns, [Rev(1, t(minutes=35), c, [P(None, created=t(minutes=35), unscheduled_msg=msg)
                                                                for _ in range(replicas)])], replicas,
                       nodes=nodes, service_ports=[("http", 80, "http")], created=t(minutes=35), progress="updating", pod_extra=pod_extra)
    for p in a.pods:
        b.add(event(b, p, "FailedScheduling", msg, count=12, first=t(minutes=35), last=t(minutes=3), component="default-scheduler"))
    if alert:
        set_alert(b, pod_not_ready_alert(ns, pname(a.pods[0]), 18))
    res_ = {"scheduling_insufficient_resources": f"Deployment/{ns}/{name}", "scheduling_constraints": f"Deployment/{ns}/{name}"}[cause]
    return Meta(b, desc, exp(cause, res_))


# ---- scheduling_insufficient_resources -----------------------------------------------------------
@scenario
def scheduling_insufficient_resources_cpu():
    return _pending("scheduling_insufficient_resources-cpu", "ml-trainer", "analytics", f"{GHCR}/ml-trainer:1.5.0",
                    "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.",
                    "scheduling_insufficient_resources", nodes=ANA, cpu=("12", "12"), mem=("8Gi", "8Gi"),
                    desc="ml-trainer requests 12 CPUs; no node has that much allocatable.")


@scenario
def scheduling_insufficient_resources_memory_scan():
    return _pending("scheduling_insufficient_resources-memory-scan", "elastic-warm", "shop", f"{ECR}/shop/elastic:8.13.0",
                    "0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.",
                    "scheduling_insufficient_resources", alert=False, cpu=("1", "2"), mem=("20Gi", "20Gi"), replicas=2,
                    desc="Cluster scan: two elastic-warm pods request 20Gi of memory each on 16Gi nodes.")


@scenario
def scheduling_insufficient_resources_too_many_pods():
    return _pending("scheduling_insufficient_resources-too-many-pods", "queue-worker", "payments", f"{GAR}/queue-worker:2.0.1",
                    "0/3 nodes are available: 1 Too many pods, 2 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.",
                    "scheduling_insufficient_resources", nodes=GKE, cpu=("1500m", "2"), mem=("1Gi", "1Gi"),
                    desc="queue-worker cannot be placed: one node is at its pod limit, the others lack CPU.")


# ---- scheduling_constraints -------------------------------------------------------------------------
@scenario
def scheduling_constraints_node_selector():
    return _pending("scheduling_constraints-node-selector", "gpu-inference", "analytics", f"{GHCR}/gpu-inference:0.9.0",
                    "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
                    "scheduling_constraints", nodes=ANA, cpu=("1", "2"), mem=("2Gi", "2Gi"),
                    pod_extra={"nodeSelector": {"nvidia.com/gpu.present": "true"}},
                    desc="gpu-inference selects GPU nodes; the cluster has none.")


@scenario
def scheduling_constraints_taint_scan():
    return _pending("scheduling_constraints-taint-scan", "batch-runner", "shop", f"{ECR}/shop/batch-runner:1.1.0",
                    "0/3 nodes are available: 3 node(s) had untolerated taint {dedicated: batch}. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
                    "scheduling_constraints", alert=False, cpu=("500m", "1"), mem=("1Gi", "1Gi"),
                    node_kw={str(i): {"taints": [{"key": "dedicated", "value": "batch", "effect": "NoSchedule"}]} for i in range(3)},
                    desc="Cluster scan: every node carries dedicated=batch:NoSchedule; batch-runner lacks the toleration.")


@scenario
def scheduling_constraints_anti_affinity():
    aff = {"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app.kubernetes.io/name": "frontend"}}, "topologyKey": "kubernetes.io/hostname"}]}}}
    return _pending("scheduling_constraints-anti-affinity", "edge-cache", "shop", f"{ECR}/shop/edge-cache:1.0.3",
                    "0/3 nodes are available: 1 node(s) didn't match pod anti-affinity rules, 2 node(s) didn't match pod affinity rules. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
                    "scheduling_constraints", cpu=("250m", "500m"), mem=("256Mi", "256Mi"), pod_extra=aff,
                    desc="edge-cache's required pod anti-affinity cannot be met on three nodes.")


# ---- node_failure ----------------------------------------------------------------------------------
@scenario
def node_failure_not_ready_explains_pods():
    b = Bundle("node_failure-not-ready-explains-pods")
    bad = EU[2]
    b.add(node(b, EU[0]), node(b, EU[1]), node_unreachable(b, bad, 11))
    for name in ("cart", "orders", "catalog"):
        deployment_app(b, name, "shop", [Rev(3, t(days=5), [web(name, f"{ECR}/shop/{name}:1.0.0")],
                                             [P(ok(since_days=5), node=EU[0], created=t(days=5)),
                                              P(C_unready(t(days=5)), node=bad, created=t(days=5),
                                                extra_conditions=[], ready_ltt=t(minutes=11))])], 2,
                       nodes=EU, service_ports=[("http", 80, "http")], available_ltt=t(days=5))
    b.add(event(b, b.objects[2], "NodeNotReady", f"Node {bad} status is now: NodeNotReady", count=1,
                first=t(minutes=11), last=t(minutes=11), component="node-controller"))
    set_alert(b, node_not_ready_alert(bad, 1))
    return Meta(b, "A worker stopped posting status 11 minutes ago; the pods on it of three Deployments are unready.",
                exp("node_failure", f"Node/{bad}"))


@scenario
def node_failure_disk_pressure_evictions_scan():
    b = Bundle("node_failure-disk-pressure-evictions-scan")
    bad = GKE[1]
    b.add(node(b, GKE[0]), node(b, GKE[2]),
          node(b, bad, overrides={"DiskPressure": ("True", "KubeletHasDiskPressure", "kubelet has disk pressure"),
                                  "_ltt_DiskPressure": t(minutes=19)},
               taints=[{"key": "node.kubernetes.io/disk-pressure", "effect": "NoSchedule", "timeAdded": t(minutes=19)}]))
    a = deployment_app(b, "log-shipper", "payments", [Rev(2, t(days=8), [web("log-shipper", f"{GAR}/log-shipper:1.2.0", readiness=False, liveness=False)],
                                                          [P(ok(since_days=8), node=GKE[0], created=t(days=8)),
                                                           P(C_term(137, "Error", t(days=8), t(minutes=15)), node=bad, created=t(days=8),
                                                             phase="Failed", reason="Evicted",
                                                             message="The node was low on resource: ephemeral-storage. Threshold quantity: 10%, available: 7%. Container log-shipper was using 18Gi, request is 0, has larger consumption of ephemeral-storage.")])],
                       2, nodes=GKE)
    b.add(event(b, a.pods[1], "Evicted", a.pods[1]["status"]["message"], first=t(minutes=15), last=t(minutes=15)),
          event(b, b.objects[2], "EvictionThresholdMet", "Attempting to reclaim ephemeral-storage", count=6, first=t(minutes=19),
                last=t(minutes=2), component="kubelet", host=bad))
    return Meta(b, "Cluster scan: a node is under DiskPressure and evicted a pod writing huge logs.",
                exp("node_failure", f"Node/{bad}"), cluster="payments-prod")


@scenario
def node_failure_memory_pressure_healthy_others():
    b = Bundle("node_failure-memory-pressure-healthy-others")
    bad = ANA[0]
    b.add(node(b, bad, overrides={"MemoryPressure": ("True", "KubeletHasInsufficientMemory", "kubelet has insufficient memory available"),
                                  "_ltt_MemoryPressure": t(minutes=9)},
               taints=[{"key": "node.kubernetes.io/memory-pressure", "effect": "NoSchedule", "timeAdded": t(minutes=9)}]),
          node(b, ANA[1]), node(b, ANA[2]))
    a = deployment_app(b, "spark-driver", "analytics", [Rev(1, t(days=1), [web("spark-driver", f"{GHCR}/spark:3.5.1", readiness=False, liveness=False)],
                                                            [P(C_term(137, "Error", t(days=1), t(minutes=8)), node=bad, created=t(days=1),
                                                               phase="Failed", reason="Evicted",
                                                               message="The node was low on resource: memory. Threshold quantity: 100Mi, available: 61Mi."),
                                                             P(ok(since_min=7), node=ANA[1], created=t(minutes=7))])], 1, nodes=ANA)
    b.add(event(b, a.pods[0], "Evicted", a.pods[0]["status"]["message"], first=t(minutes=8), last=t(minutes=8)))
    set_alert(b, am_alert("KubeNodePressure", {"node": bad, "condition": "MemoryPressure", "status": "true"},
                          "Node has as active Condition.", f"{bad} has active Condition MemoryPressure. This is caused by resource usage exceeding eviction thresholds.",
                          {"minutes": 8}, 'kube_node_status_condition{condition=~"(MemoryPressure|DiskPressure|PIDPressure)",status="true"} == 1'))
    return Meta(b, "A node reports MemoryPressure and evicts pods; the other nodes report healthy False pressure conditions.",
                exp("node_failure", f"Node/{bad}"), cluster="analytics-prod")


# ---- volume_failure --------------------------------------------------------------------------------
@scenario
def volume_failure_pvc_provisioning_failed():
    b = Bundle("volume_failure-pvc-provisioning-failed")
    add_nodes(b, EU)
    b.add(storageclass(b, "gp3", default=True))
    db = statefulset_app(b, "kafka", "shop", [ctr("kafka", "docker.io/bitnami/kafka:3.7.0", ports=[("kafka", 9092)], resources=res("1", "4Gi", "2", "4Gi"))],
                         [P(None, created=t(minutes=22), unscheduled_msg="0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.")],
                         claim=("data", "500Gi"), nodes=EU, claim_phase="Pending", created=t(minutes=22))
    claim = db.pvcs[0]
    b.add(event(b, claim, "ProvisioningFailed", 'failed to provision volume with StorageClass "gp3": rpc error: code = ResourceExhausted desc = Could not create volume "pvc-1": VolumeLimitExceeded: You have exceeded your maximum gp3 storage limit',
                count=9, first=t(minutes=22), last=t(minutes=1), component="ebs.csi.aws.com_ebs-csi-controller-7c9d8f6b54-2xkqz_4f1e"),
          event(b, db.pods[0], "FailedScheduling", db.pods[0]["status"]["conditions"][0]["message"], count=8, first=t(minutes=22),
                last=t(minutes=2), component="default-scheduler"))
    set_alert(b, pod_not_ready_alert("shop", "kafka-0", 10))
    return Meta(b, "kafka's data claim cannot be provisioned: the account's gp3 storage limit is reached.",
                exp("volume_failure", f"PersistentVolumeClaim/shop/{claim['metadata']['name']}", ["scheduling_constraints"]))


@scenario
def volume_failure_missing_storage_class_scan():
    b = Bundle("volume_failure-missing-storage-class-scan")
    add_nodes(b, GKE)
    b.add(storageclass(b, "standard-rwo", provisioner="pd.csi.storage.gke.io", default=True, params={"type": "pd-balanced"}))
    db = statefulset_app(b, "ledger-db", "payments", [ctr("postgres", "docker.io/library/postgres:16.2", ports=[("postgres", 5432)], resources=res("1", "2Gi", "2", "2Gi"))],
                         [P(None, created=t(minutes=40), unscheduled_msg="0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.")],
                         claim=("data", "100Gi"), nodes=GKE, claim_phase="Pending", sc="premium-ssd", created=t(minutes=40))
    b.add(service(b, "ledger-db-headless", "payments", {"app.kubernetes.io/name": "ledger-db"}, [("postgres", 5432, "postgres")], headless=True))
    claim = db.pvcs[0]
    b.add(event(b, claim, "ProvisioningFailed", 'storageclass.storage.k8s.io "premium-ssd" not found', count=160, first=t(minutes=40),
                last=t(seconds=30), component="persistentvolume-controller"))
    return Meta(b, "Cluster scan: ledger-db's claim names StorageClass premium-ssd, which does not exist.",
                exp("volume_failure", f"PersistentVolumeClaim/payments/{claim['metadata']['name']}"), cluster="payments-prod")


@scenario
def volume_failure_multi_attach():
    b = Bundle("volume_failure-multi-attach")
    add_nodes(b, EU)
    claim = pvc(b, "uploads", "shop", "20Gi")
    b.add(claim, pv_for(b, claim))
    vol = [{"name": "uploads", "persistentVolumeClaim": {"claimName": "uploads"}}]
    c = [web("media", f"{ECR}/shop/media:2.0.0", mounts=[{"name": "uploads", "mountPath": "/data"}])]
    a = deployment_app(b, "media", "shop", [Rev(3, t(days=9), c, [P(ok(since_days=9), node=EU[0], created=t(days=9))]),
                                            Rev(4, t(minutes=16), [web("media", f"{ECR}/shop/media:2.0.1", mounts=[{"name": "uploads", "mountPath": "/data"}])],
                                                [P(C_wait("ContainerCreating"), node=EU[1], created=t(minutes=16))])], 1,
                       nodes=EU, volumes=vol, service_ports=[("http", 80, "http")], progress="updating")
    p = a.revs[1].pod_objs[0]
    b.add(sched_event(b, p, 16),
          event(b, p, "FailedAttachVolume", f'Multi-Attach error for volume "{claim["spec"]["volumeName"]}" Volume is already used by pod(s) {pname(a.revs[0].pod_objs[0])}',
                count=1, first=t(minutes=16), last=t(minutes=16), component="attachdetach-controller"),
          event(b, p, "FailedMount", 'Unable to attach or mount volumes: unmounted volumes=[uploads], unattached volumes=[uploads], failed to process volumes=[]: timed out waiting for the condition',
                count=7, first=t(minutes=14), last=t(minutes=1)))
    set_alert(b, pod_not_ready_alert("shop", pname(p), 4))
    return Meta(b, "media's new pod lands on another node; its ReadWriteOnce EBS volume is still attached to the old pod.",
                exp("volume_failure", "PersistentVolumeClaim/shop/uploads", ["bad_deploy"]))
