//! Signals from workload, networking, storage, batch, policy and admission objects: stuck
//! rollouts, failed creations, dangling references, services without endpoints, HPA limits,
//! failed Jobs and CronJobs, volumes that cannot bind.

use std::collections::BTreeMap;

use aiops_core::graph::{Direction, EdgeKind, NodeKind, node_id};
use aiops_core::model::{EvidenceKind, ResourceRef};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, PodSpec, Service};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::json;

use super::{Ctx, Signals, evidence, meta_ref};

/// Objects every namespace has that captures usually leave out.
const IMPLICIT: &[(&str, &str)] = &[("ConfigMap", "kube-root-ca.crt"), ("ServiceAccount", "default")];

fn emit(
    ctx: &Ctx<'_>,
    out: &mut Signals,
    kind: EvidenceKind,
    r: &ResourceRef,
    reason: &str,
    message: String,
    strength: f64,
) {
    let summary = format!("{r}: {message}");
    let data = json!({"reason": reason, "message": message});
    out.push_evidence(ctx, evidence(kind, r.clone(), summary, strength, data), r);
}

fn ns(m: &ObjectMeta) -> &str {
    m.namespace.as_deref().unwrap_or("default")
}

pub(crate) fn object_signals(ctx: &Ctx<'_>, out: &mut Signals) {
    let inv = ctx.a.inventory;
    inv.deployments.iter().for_each(|d| deployment(ctx, d, out));
    inv.replica_sets.iter().for_each(|r| replica_set(ctx, r, out));
    inv.daemon_sets.iter().for_each(|d| daemon_set(ctx, d, out));
    inv.stateful_sets.iter().for_each(|s| stateful_set(ctx, s, out));
    inv.jobs.iter().for_each(|j| job(ctx, j, out));
    inv.cron_jobs.iter().for_each(|c| cron_job(ctx, c, out));
    inv.services.iter().for_each(|s| service(ctx, s, out));
    inv.ingresses.iter().for_each(|i| ingress(ctx, i, out));
    inv.hpas.iter().for_each(|h| hpa(ctx, h, out));
    inv.pvcs.iter().for_each(|c| pvc(ctx, c, out));
    inv.pvs.iter().for_each(|v| pv(ctx, v, out));
    inv.pdbs.iter().for_each(|p| pdb(ctx, p, out));
    webhooks(ctx, out);
    config_files(ctx, out);
}

/// The ConfigMaps and Secrets (kind, namespace, name) that some pod mounts as a volume.
fn mounted_configs<'a>(ctx: &Ctx<'a>) -> std::collections::HashSet<(&'static str, &'a str, &'a str)> {
    let mut mounted = std::collections::HashSet::new();
    for p in &ctx.a.inventory.pods {
        let namespace = ns(&p.metadata);
        for v in p.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
            if let Some(cm) = &v.config_map {
                mounted.insert(("ConfigMap", namespace, cm.name.as_str()));
            }
            if let Some(name) = v.secret.as_ref().and_then(|s| s.secret_name.as_deref()) {
                mounted.insert(("Secret", namespace, name));
            }
            for src in v.projected.iter().flat_map(|pr| pr.sources.iter().flatten()) {
                if let Some(cm) = &src.config_map {
                    mounted.insert(("ConfigMap", namespace, cm.name.as_str()));
                }
                if let Some(s) = &src.secret {
                    mounted.insert(("Secret", namespace, s.name.as_str()));
                }
            }
        }
    }
    mounted
}

/// Mounted ConfigMaps and Secrets whose YAML/JSON files do not parse.
fn config_files(ctx: &Ctx<'_>, out: &mut Signals) {
    use aiops_core::config_file::{InvalidConfigFile, invalid_files};
    let inv = ctx.a.inventory;
    let mounted = mounted_configs(ctx);
    let is_mounted =
        |kind: &str, m: &ObjectMeta| mounted.contains(&(kind, ns(m), m.name.as_deref().unwrap_or_default()));
    // Only mounted ConfigMaps are parsed.
    let maps = inv.config_maps.iter().filter(|cm| is_mounted("ConfigMap", &cm.metadata)).map(|cm| {
        let text = cm.data.iter().flatten().map(|(k, v)| (k.as_str(), v.as_bytes()));
        let binary = cm.binary_data.iter().flatten().map(|(k, v)| (k.as_str(), v.0.as_slice()));
        ("ConfigMap", &cm.metadata, invalid_files(text.chain(binary)))
    });
    let secrets = inv.secrets.iter().filter(|s| is_mounted("Secret", &s.metadata));
    let secrets = secrets.map(|s| ("Secret", &s.metadata, s.invalid_config_files.clone()));
    for (kind, m, bad) in maps.chain(secrets) {
        if bad.is_empty() {
            continue;
        }
        let r = meta_ref(kind, m);
        let files = bad.iter().map(|f: &InvalidConfigFile| format!("{}: {}", f.key, f.error)).collect::<Vec<_>>();
        let message = format!("mounted configuration does not parse ({})", files.join("; "));
        emit(ctx, out, EvidenceKind::ConfigInvalid, &r, "invalid_config_file", message, 0.85);
    }
}

/// Dangling references of a pod template: image pull secrets and non-optional ConfigMaps/Secrets.
fn template_refs(ctx: &Ctx<'_>, r: &ResourceRef, namespace: &str, spec: Option<&PodSpec>, out: &mut Signals) {
    let Some(spec) = spec else { return };
    let mut refs: Vec<(&str, &str, &str)> = Vec::new();
    for s in spec.image_pull_secrets.iter().flatten() {
        refs.push(("Secret", s.name.as_str(), "image_pull_secret"));
    }
    for v in spec.volumes.iter().flatten() {
        if let Some(cm) = v.config_map.as_ref().filter(|c| c.optional != Some(true)) {
            refs.push(("ConfigMap", cm.name.as_str(), "config_map"));
        }
        if let Some(s) = v.secret.as_ref().filter(|s| s.optional != Some(true)).and_then(|s| s.secret_name.as_deref()) {
            refs.push(("Secret", s, "secret"));
        }
    }
    for c in spec.containers.iter().chain(spec.init_containers.iter().flatten()) {
        for e in c.env_from.iter().flatten() {
            if let Some(cm) = e.config_map_ref.as_ref().filter(|x| x.optional != Some(true)) {
                refs.push(("ConfigMap", cm.name.as_str(), "config_map"));
            }
            if let Some(s) = e.secret_ref.as_ref().filter(|x| x.optional != Some(true)) {
                refs.push(("Secret", s.name.as_str(), "secret"));
            }
        }
        for vf in c.env.iter().flatten().filter_map(|e| e.value_from.as_ref()) {
            if let Some(k) = vf.config_map_key_ref.as_ref().filter(|x| x.optional != Some(true)) {
                refs.push(("ConfigMap", k.name.as_str(), "config_map"));
            }
            if let Some(k) = vf.secret_key_ref.as_ref().filter(|x| x.optional != Some(true)) {
                refs.push(("Secret", k.name.as_str(), "secret"));
            }
        }
    }
    refs.sort();
    refs.dedup();
    for (kind, name, reason) in refs {
        if name.is_empty() || IMPLICIT.contains(&(kind, name)) || ctx.exists(kind, namespace, name) {
            continue;
        }
        let message = format!("references {kind} {namespace}/{name} ({reason}), which does not exist");
        emit(ctx, out, EvidenceKind::MissingReference, r, reason, message, 0.8);
    }
}

fn deployment(ctx: &Ctx<'_>, d: &Deployment, out: &mut Signals) {
    let r = meta_ref("Deployment", &d.metadata);
    let status = d.status.as_ref();
    for c in status.iter().flat_map(|s| s.conditions.iter().flatten()) {
        let (ty, st) = (c.type_.as_deref().unwrap_or_default(), c.status.as_deref().unwrap_or_default());
        let bad = (ty == "Progressing" && st == "False") || (ty == "ReplicaFailure" && st == "True");
        if bad {
            let reason = c.reason.as_deref().filter(|r| !r.is_empty()).unwrap_or(ty);
            let msg = c.message.clone().unwrap_or_default();
            emit(ctx, out, EvidenceKind::WorkloadStatus, &r, reason, format!("{ty} {reason}: {msg}"), 0.9);
        }
    }
    let want = d.spec.replicas.unwrap_or(1);
    let available = status.and_then(|s| s.available_replicas).unwrap_or(0);
    if d.spec.paused != Some(true) && want > 0 && available < want {
        let msg = format!("{available}/{want} replicas available");
        emit(ctx, out, EvidenceKind::WorkloadStatus, &r, "ReplicasUnavailable", msg, 0.5);
    }
    template_refs(ctx, &r, ns(&d.metadata), d.spec.template.spec.as_ref(), out);
}

fn replica_set(ctx: &Ctx<'_>, rs: &ReplicaSet, out: &mut Signals) {
    let r = meta_ref("ReplicaSet", &rs.metadata);
    for c in rs.status.iter().flat_map(|s| s.conditions.iter().flatten()) {
        if c.type_.as_deref() == Some("ReplicaFailure") && c.status.as_deref() == Some("True") {
            let reason = c.reason.clone().unwrap_or_else(|| "FailedCreate".into());
            let msg = c.message.clone().unwrap_or_default();
            emit(ctx, out, EvidenceKind::WorkloadStatus, &r, &reason, format!("ReplicaFailure {reason}: {msg}"), 0.85);
        }
    }
}

fn daemon_set(ctx: &Ctx<'_>, d: &DaemonSet, out: &mut Signals) {
    let r = meta_ref("DaemonSet", &d.metadata);
    if let Some(s) = &d.status
        && s.number_ready < s.desired_number_scheduled
    {
        let msg = format!("{}/{} pods ready", s.number_ready, s.desired_number_scheduled);
        emit(ctx, out, EvidenceKind::WorkloadStatus, &r, "ReplicasUnavailable", msg, 0.5);
    }
    template_refs(ctx, &r, ns(&d.metadata), d.spec.template.spec.as_ref(), out);
}

fn stateful_set(ctx: &Ctx<'_>, s: &StatefulSet, out: &mut Signals) {
    let r = meta_ref("StatefulSet", &s.metadata);
    let namespace = ns(&s.metadata);
    if let Some(svc) = s.spec.service_name.as_deref().filter(|n| !n.is_empty())
        && !ctx.exists("Service", namespace, svc)
    {
        let msg = format!("governing Service {namespace}/{svc} does not exist");
        emit(ctx, out, EvidenceKind::MissingReference, &r, "governing_service", msg, 0.8);
    }
    for t in s.spec.volume_claim_templates.iter().flatten() {
        if let Some(sc) = t.spec.as_ref().and_then(|sp| sp.storage_class_name.as_deref()).filter(|n| !n.is_empty())
            && !ctx.exists("StorageClass", "", sc)
        {
            let msg = format!(
                "volumeClaimTemplate {} asks for StorageClass {sc}, which does not exist",
                t.metadata.name.as_deref().unwrap_or_default()
            );
            emit(ctx, out, EvidenceKind::MissingReference, &r, "storage_class", msg, 0.9);
        }
    }
    let want = s.spec.replicas.unwrap_or(1);
    let ready = s.status.as_ref().and_then(|st| st.ready_replicas).unwrap_or(0);
    if want > 0 && ready < want {
        emit(
            ctx,
            out,
            EvidenceKind::WorkloadStatus,
            &r,
            "ReplicasUnavailable",
            format!("{ready}/{want} replicas ready"),
            0.5,
        );
    }
    template_refs(ctx, &r, namespace, s.spec.template.spec.as_ref(), out);
}

fn job(ctx: &Ctx<'_>, j: &Job, out: &mut Signals) {
    let r = meta_ref("Job", &j.metadata);
    let Some(status) = &j.status else { return };
    let conds = status.conditions.iter().flatten();
    let is = |t: &str| status.conditions.iter().flatten().any(|c| c.type_ == t && c.status == "True");
    if let Some(c) = conds.clone().find(|c| c.type_ == "Failed" && c.status == "True") {
        let reason = c.reason.clone().unwrap_or_else(|| "Failed".into());
        let msg = format!("Job failed ({reason}): {}", c.message.clone().unwrap_or_default());
        emit(ctx, out, EvidenceKind::JobStatus, &r, &reason, msg, 0.9);
    } else if status.failed.unwrap_or(0) > 0 && !is("Complete") && !is("SuccessCriteriaMet") {
        let msg = format!("{} pod(s) failed, {} active", status.failed.unwrap_or(0), status.active.unwrap_or(0));
        emit(ctx, out, EvidenceKind::JobStatus, &r, "FailedPods", msg, 0.75);
    }
}

fn cron_job(ctx: &Ctx<'_>, c: &CronJob, out: &mut Signals) {
    let r = meta_ref("CronJob", &c.metadata);
    if c.spec.suspend == Some(true) {
        return;
    }
    let job_spec = c.spec.job_template.spec.as_ref();
    template_refs(ctx, &r, ns(&c.metadata), job_spec.and_then(|j| j.template.spec.as_ref()), out);
    if let Err(why) = crate::cron::validate(&c.spec.schedule) {
        let msg = format!("schedule {:?} is invalid: {why}", c.spec.schedule);
        emit(ctx, out, EvidenceKind::JobStatus, &r, "InvalidSchedule", msg, 0.9);
    }
    if let Some(d) = c.spec.starting_deadline_seconds.filter(|d| *d < 0) {
        let msg = format!("startingDeadlineSeconds is {d}: no run can ever start");
        emit(ctx, out, EvidenceKind::JobStatus, &r, "NegativeStartingDeadline", msg, 0.85);
    }
}

fn endpoints_of(ctx: &Ctx<'_>, namespace: &str, name: &str) -> Option<(usize, usize)> {
    let inv = ctx.a.inventory;
    if let Some(ep) =
        inv.endpoints.iter().find(|e| ns(&e.metadata) == namespace && e.metadata.name.as_deref() == Some(name))
    {
        let subsets = ep.subsets.iter().flatten();
        let ready = subsets.clone().map(|s| s.addresses.as_ref().map_or(0, Vec::len)).sum();
        let not_ready = subsets.map(|s| s.not_ready_addresses.as_ref().map_or(0, Vec::len)).sum();
        return Some((ready, not_ready));
    }
    let slices: Vec<_> = inv
        .endpoint_slices
        .iter()
        .filter(|s| {
            ns(&s.metadata) == namespace
                && s.metadata.labels.as_ref().and_then(|l| l.get("kubernetes.io/service-name")).map(String::as_str)
                    == Some(name)
        })
        .collect();
    if slices.is_empty() {
        return None;
    }
    let eps = slices.iter().flat_map(|s| s.endpoints.iter().flatten());
    let ready = eps.clone().filter(|e| e.conditions.as_ref().and_then(|c| c.ready) != Some(false)).count();
    Some((ready, eps.count() - ready))
}

fn service(ctx: &Ctx<'_>, s: &Service, out: &mut Signals) {
    let Some(spec) = &s.spec else { return };
    let Some(selector) = spec.selector.as_ref().filter(|sel| !sel.is_empty()) else { return };
    if spec.type_.as_deref() == Some("ExternalName") {
        return;
    }
    let r = meta_ref("Service", &s.metadata);
    let namespace = ns(&s.metadata);
    let name = s.metadata.name.as_deref().unwrap_or_default();
    let selected = ctx
        .a
        .graph
        .neighbors(&node_id(NodeKind::Service, Some(namespace), name), EdgeKind::Selects, Direction::Outgoing)
        .len();
    let sel: Vec<String> = selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let (ready, not_ready) = endpoints_of(ctx, namespace, name)
        .unwrap_or((usize::from(selected > 0 && pods_ready(ctx, namespace, name)), 0));
    if ready > 0 || (selected == 0 && not_ready == 0 && scaled_to_zero(ctx, namespace, selector)) {
        return;
    }
    let (reason, msg, strength) = match (selected, not_ready) {
        (0, 0) => {
            ("NoEndpoints", format!("selector {} matches no pod, so the Service has no endpoints", sel.join(",")), 0.9)
        }
        (_, n) if n > 0 => ("NotReadyEndpoints", format!("all {n} endpoint(s) are not ready"), 0.8),
        // Pods that never started are their own problem; the Service is collateral.
        (n, _) if all_pending(ctx, namespace, name) => {
            ("PodsNotStarted", format!("selects {n} pod(s), all still Pending"), 0.4)
        }
        (n, _) => ("NoReadyPods", format!("selects {n} pod(s), none of them ready"), 0.8),
    };
    let mut ev = evidence(
        EvidenceKind::ServiceEndpoints,
        r.clone(),
        format!("{r}: {msg}"),
        strength,
        json!({"reason": reason, "message": msg, "selected_pods": selected}),
    );
    ev.observed_at = None;
    out.push_evidence(ctx, ev, &r);
}

/// A workload whose pod template the selector matches is deliberately scaled to zero replicas
/// (a Service without endpoints is then expected, not a fault).
fn scaled_to_zero(ctx: &Ctx<'_>, namespace: &str, selector: &std::collections::BTreeMap<String, String>) -> bool {
    let inv = ctx.a.inventory;
    let matches = |labels: Option<&std::collections::BTreeMap<String, String>>| {
        labels.is_some_and(|l| selector.iter().all(|(k, v)| l.get(k) == Some(v)))
    };
    let tpl =
        |t: &k8s_openapi::api::core::v1::PodTemplateSpec| matches(t.metadata.as_ref().and_then(|m| m.labels.as_ref()));
    let deployments = inv.deployments.iter().filter(|d| ns(&d.metadata) == namespace).filter_map(|d| {
        let spec = &d.spec;
        tpl(&spec.template).then_some(spec.replicas == Some(0))
    });
    let sets = inv.stateful_sets.iter().filter(|d| ns(&d.metadata) == namespace).filter_map(|d| {
        let spec = &d.spec;
        tpl(&spec.template).then_some(spec.replicas == Some(0))
    });
    let all: Vec<bool> = deployments.chain(sets).collect();
    !all.is_empty() && all.iter().all(|z| *z)
}

fn selected_pods<'a>(ctx: &Ctx<'a>, namespace: &str, service: &str) -> Vec<&'a k8s_openapi::api::core::v1::Pod> {
    let inv = ctx.a.inventory;
    ctx.a
        .graph
        .neighbors(&node_id(NodeKind::Service, Some(namespace), service), EdgeKind::Selects, Direction::Outgoing)
        .iter()
        .filter_map(|n| n.object.and_then(|i| inv.pods.get(i)))
        .collect()
}

fn pods_ready(ctx: &Ctx<'_>, namespace: &str, service: &str) -> bool {
    selected_pods(ctx, namespace, service).iter().any(|p| {
        p.status.iter().flat_map(|s| s.conditions.iter().flatten()).any(|c| c.type_ == "Ready" && c.status == "True")
    })
}

fn all_pending(ctx: &Ctx<'_>, namespace: &str, service: &str) -> bool {
    let pods = selected_pods(ctx, namespace, service);
    !pods.is_empty()
        && pods.iter().all(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()).is_none_or(|ph| ph == "Pending"))
}

/// Ingress classes served by a controller without an IngressClass object (GKE built-ins).
const BUILTIN_INGRESS_CLASSES: &[&str] = &["gce", "gce-internal"];

fn ingress(ctx: &Ctx<'_>, i: &Ingress, out: &mut Signals) {
    let r = meta_ref("Ingress", &i.metadata);
    let namespace = ns(&i.metadata);
    let Some(spec) = &i.spec else { return };
    let annotated =
        i.metadata.annotations.as_ref().and_then(|a| a.get("kubernetes.io/ingress.class")).map(String::as_str);
    match spec.ingress_class_name.as_deref().or(annotated) {
        Some(class) if !BUILTIN_INGRESS_CLASSES.contains(&class) && !ctx.exists("IngressClass", "", class) => {
            let msg = format!("IngressClass {class} does not exist");
            emit(ctx, out, EvidenceKind::MissingReference, &r, "ingress_class", msg, 0.85);
        }
        None if !has_default_ingress_class(ctx) => {
            let msg = "no ingress class is set and there is no default IngressClass".to_string();
            emit(ctx, out, EvidenceKind::MissingReference, &r, "ingress_class_unset", msg, 0.7);
        }
        _ => {}
    }
    let backends = spec.default_backend.iter().chain(
        spec.rules.iter().flatten().flat_map(|r| r.http.iter().flat_map(|h| h.paths.iter().map(|p| &p.backend))),
    );
    let mut missing: Vec<&str> = backends
        .filter_map(|b| b.service.as_ref())
        .map(|s| s.name.as_str())
        .filter(|n| !ctx.exists("Service", namespace, n))
        .collect();
    missing.sort();
    missing.dedup();
    for svc in missing {
        let msg = format!("backend Service {namespace}/{svc} does not exist");
        emit(ctx, out, EvidenceKind::MissingReference, &r, "backend_service", msg, 0.9);
    }
    for tls in spec.tls.iter().flatten() {
        if let Some(secret) =
            tls.secret_name.as_deref().filter(|s| !s.is_empty() && !ctx.exists("Secret", namespace, s))
        {
            let msg = format!("TLS Secret {namespace}/{secret} does not exist");
            emit(ctx, out, EvidenceKind::MissingReference, &r, "tls_secret", msg, 0.85);
        }
    }
}

fn has_default_ingress_class(ctx: &Ctx<'_>) -> bool {
    ctx.a.inventory.ingress_classes.iter().any(|c| {
        c.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("ingressclass.kubernetes.io/is-default-class"))
            .map(String::as_str)
            == Some("true")
    })
}

fn hpa(ctx: &Ctx<'_>, h: &HorizontalPodAutoscaler, out: &mut Signals) {
    let r = meta_ref("HorizontalPodAutoscaler", &h.metadata);
    let namespace = ns(&h.metadata);
    let t = &h.spec.scale_target_ref;
    if !ctx.exists(&t.kind, namespace, &t.name) {
        let msg = format!("scale target {}/{} does not exist", t.kind, t.name);
        emit(ctx, out, EvidenceKind::MissingReference, &r, "scale_target", msg, 0.9);
    } else if let Some(resource) = missing_requests(ctx, h, namespace) {
        let target = ResourceRef::namespaced(&t.kind, namespace, &t.name);
        let msg = format!("{} scales {target} on {resource} utilisation, but its containers request no {resource}", r);
        emit(ctx, out, EvidenceKind::HpaStatus, &target, "TargetWithoutRequests", msg, 0.85);
    }
    for c in h.status.iter().flat_map(|s| s.conditions.iter().flatten()) {
        if c.type_ == "ScalingLimited" && c.status == "True" && c.reason.as_deref() == Some("TooManyReplicas") {
            let msg = format!("at maxReplicas {}: {}", h.spec.max_replicas, c.message.clone().unwrap_or_default());
            emit(ctx, out, EvidenceKind::HpaStatus, &r, "AtMaxReplicas", msg, 0.85);
        }
    }
}

/// The resource an HPA scales on by utilisation that the target's containers do not request.
fn missing_requests(ctx: &Ctx<'_>, h: &HorizontalPodAutoscaler, namespace: &str) -> Option<String> {
    let t = &h.spec.scale_target_ref;
    let inv = ctx.a.inventory;
    let same = |m: &ObjectMeta| ns(m) == namespace && m.name.as_deref() == Some(t.name.as_str());
    let spec = match t.kind.as_str() {
        "Deployment" => inv.deployments.iter().find(|d| same(&d.metadata)).and_then(|d| d.spec.template.spec.clone()),
        "StatefulSet" => {
            inv.stateful_sets.iter().find(|d| same(&d.metadata)).and_then(|d| d.spec.template.spec.clone())
        }
        _ => None,
    }?;
    let resources = h
        .spec
        .metrics
        .iter()
        .flatten()
        .filter_map(|m| m.resource.as_ref())
        .filter(|r| r.target.type_ == "Utilization")
        .map(|r| r.name.clone());
    resources.into_iter().find(|res| {
        spec.containers.iter().any(|c| {
            !c.resources
                .as_ref()
                .and_then(|r| r.requests.as_ref())
                .is_some_and(|q: &BTreeMap<_, _>| q.contains_key(res))
        })
    })
}

fn pvc(ctx: &Ctx<'_>, c: &PersistentVolumeClaim, out: &mut Signals) {
    let r = meta_ref("PersistentVolumeClaim", &c.metadata);
    let phase = c.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or_default();
    let spec = c.spec.as_ref();
    match phase {
        "Lost" => emit(
            ctx,
            out,
            EvidenceKind::VolumeStatus,
            &r,
            "Lost",
            "claim is Lost: its PersistentVolume no longer exists".into(),
            0.9,
        ),
        "Pending" => {
            let sc = spec.and_then(|s| s.storage_class_name.as_deref());
            let bound_to = spec.and_then(|s| s.volume_name.as_deref()).filter(|v| !v.is_empty());
            match sc {
                Some(sc) if !sc.is_empty() && !ctx.exists("StorageClass", "", sc) => emit(
                    ctx,
                    out,
                    EvidenceKind::MissingReference,
                    &r,
                    "storage_class",
                    format!("StorageClass {sc} does not exist"),
                    0.9,
                ),
                None if bound_to.is_none() && !has_default_storage_class(ctx) && ctx.a.inventory.pvs.is_empty() => {
                    let msg =
                        "Pending with no storageClassName, no default StorageClass and no PersistentVolume".to_string();
                    emit(ctx, out, EvidenceKind::VolumeStatus, &r, "NoStorageClass", msg, 0.85)
                }
                _ => emit(ctx, out, EvidenceKind::VolumeStatus, &r, "Pending", "claim is Pending".into(), 0.5),
            }
        }
        _ => {}
    }
}

fn has_default_storage_class(ctx: &Ctx<'_>) -> bool {
    ctx.a.inventory.storage_classes.iter().any(|c| {
        let a = c.metadata.annotations.as_ref();
        ["storageclass.kubernetes.io/is-default-class", "storageclass.beta.kubernetes.io/is-default-class"]
            .iter()
            .any(|k| a.and_then(|a| a.get(*k)).map(String::as_str) == Some("true"))
    })
}

fn pv(ctx: &Ctx<'_>, v: &PersistentVolume, out: &mut Signals) {
    let r = meta_ref("PersistentVolume", &v.metadata);
    let status = v.status.as_ref();
    if status.and_then(|s| s.phase.as_deref()) == Some("Failed") {
        let msg = format!("PersistentVolume is Failed: {}", status.and_then(|s| s.message.clone()).unwrap_or_default());
        emit(ctx, out, EvidenceKind::VolumeStatus, &r, "PVFailed", msg, 0.85);
    }
}

fn pdb(ctx: &Ctx<'_>, p: &PodDisruptionBudget, out: &mut Signals) {
    let r = meta_ref("PodDisruptionBudget", &p.metadata);
    let Some(s) = &p.status else { return };
    let desired = s.desired_healthy.unwrap_or(0);
    if s.disruptions_allowed.unwrap_or(0) == 0 && s.expected_pods.unwrap_or(0) == 0 && desired > 0 {
        let msg =
            format!("wants {desired} healthy pods but its selector matches none, so no disruption is ever allowed");
        emit(ctx, out, EvidenceKind::ObjectCondition, &r, "PdbSelectsNoPods", msg, 0.75);
    }
}

fn webhooks(ctx: &Ctx<'_>, out: &mut Signals) {
    let inv = ctx.a.inventory;
    let mutating = inv.mutating_webhooks.iter().map(|w| {
        (
            &w.metadata,
            "MutatingWebhookConfiguration",
            w.webhooks.iter().flatten().map(|h| (&h.name, &h.client_config)).collect::<Vec<_>>(),
        )
    });
    let validating = inv.validating_webhooks.iter().map(|w| {
        (
            &w.metadata,
            "ValidatingWebhookConfiguration",
            w.webhooks.iter().flatten().map(|h| (&h.name, &h.client_config)).collect::<Vec<_>>(),
        )
    });
    for (meta, kind, hooks) in mutating.chain(validating) {
        let r = ResourceRef::cluster(kind, meta.name.as_deref().unwrap_or_default());
        for (hook, cfg) in hooks {
            let Some(svc) = &cfg.service else { continue };
            if !ctx.exists("Service", &svc.namespace, &svc.name) {
                let msg = format!("webhook {hook} calls Service {}/{}, which does not exist", svc.namespace, svc.name);
                emit(ctx, out, EvidenceKind::MissingReference, &r, "webhook_service", msg, 0.85);
                continue;
            }
            webhook_pods(ctx, hook, &svc.namespace, &svc.name, out);
        }
    }
}

/// Pods behind a webhook Service that exist but are not running: the webhook's receiver is down.
fn webhook_pods(ctx: &Ctx<'_>, hook: &str, namespace: &str, service: &str, out: &mut Signals) {
    let inv = ctx.a.inventory;
    let pods: Vec<_> = ctx
        .a
        .graph
        .neighbors(&node_id(NodeKind::Service, Some(namespace), service), EdgeKind::Selects, Direction::Outgoing)
        .into_iter()
        .filter_map(|n| n.object.and_then(|i| inv.pods.get(i)))
        .collect();
    let running =
        |p: &&k8s_openapi::api::core::v1::Pod| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
    if pods.is_empty() || pods.iter().any(running) {
        return;
    }
    for p in pods {
        let r = meta_ref("Pod", &p.metadata);
        let phase = p.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_default();
        let msg =
            format!("receiver of admission webhook {hook} (Service {namespace}/{service}) is {phase}, not running");
        emit(ctx, out, EvidenceKind::ObjectCondition, &r, "webhook_receiver_down", msg, 0.85);
    }
}
