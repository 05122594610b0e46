//! Signals from custom resources kept as generic objects: Gateway API (GatewayClass, Gateway,
//! HTTPRoute), OLM (CatalogSource, ClusterCatalog, ClusterServiceVersion, InstallPlan,
//! OperatorGroup, Subscription) and KEDA ScaledObjects.
//!
//! Every signal carries a stable `data.reason` the rules of `custom_resources.yaml` key on:
//! `<Kind>.<ConditionType>=<Status>` (or `<Kind>.<Phase/State>`) for a bad status, and a
//! snake_case name (`missing_gateway_class`, `route_not_allowed`, ...) for a fault the
//! engine derives by cross-checking objects. Healthy objects emit nothing.

use std::collections::BTreeMap;

use aiops_core::model::{EvidenceKind, ResourceRef};
use aiops_core::object::GenericObject;
use jiff::Timestamp;
use serde_json::{Value, json};

use super::{Ctx, Signals, evidence};

const GATEWAY_GROUP: &str = "gateway.networking.k8s.io";
const OLM_GROUP: &str = "operators.coreos.com";
const OLM_V1_GROUP: &str = "olm.operatorframework.io";
const KEDA_GROUP: &str = "keda.sh";

/// Custom kinds that are cluster-scoped.
const CLUSTER_SCOPED: &[&str] = &["GatewayClass", "ClusterCatalog", "ClusterExtension"];

/// The label the API server puts on every Namespace.
const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// One signal about to be pushed.
struct Found {
    kind: EvidenceKind,
    reason: String,
    message: String,
    strength: f64,
    at: Option<Timestamp>,
}

impl Found {
    fn new(kind: EvidenceKind, reason: impl Into<String>, message: String, strength: f64) -> Self {
        Self { kind, reason: reason.into(), message, strength, at: None }
    }

    /// A bad status condition: reason `<prefix>.<type>=<status>`.
    fn condition(prefix: &str, c: &Value, strength: f64) -> Self {
        let (t, status) = (text(c, &["type"]), text(c, &["status"]));
        let message = format!("{t}={status} ({}): {}", text(c, &["reason"]), text(c, &["message"]));
        let mut f = Self::new(EvidenceKind::ObjectCondition, format!("{prefix}.{t}={status}"), message, strength);
        f.at = text(c, &["lastTransitionTime"]).parse().ok();
        f
    }
}

fn push(ctx: &Ctx<'_>, out: &mut Signals, r: &ResourceRef, f: Found) {
    let summary = format!("{r}: {}", f.message);
    let data = json!({"reason": f.reason, "message": f.message});
    let mut ev = evidence(f.kind, r.clone(), summary, f.strength, data);
    ev.observed_at = f.at;
    out.push_evidence(ctx, ev, r);
}

/// Pushes one signal per reason, joining the messages of repeated reasons (several bad
/// references of one object share one evidence item, whose id hashes the reason).
fn push_grouped(ctx: &Ctx<'_>, out: &mut Signals, r: &ResourceRef, found: Vec<Found>) {
    let mut by: BTreeMap<String, Found> = BTreeMap::new();
    for f in found {
        match by.get_mut(&f.reason) {
            Some(prev) if !prev.message.split("; ").any(|m| m == f.message) => {
                prev.message = format!("{}; {}", prev.message, f.message);
            }
            Some(_) => {}
            None => {
                by.insert(f.reason.clone(), f);
            }
        }
    }
    by.into_values().for_each(|f| push(ctx, out, r, f));
}

/// The value at `path` (`Null` when absent).
fn at<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(v, |v, k| &v[*k])
}

/// The string at `path` (empty when absent).
fn text<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    at(v, path).as_str().unwrap_or_default()
}

/// The array at `path` (empty when absent).
fn items<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    at(v, path).as_array().map(Vec::as_slice).unwrap_or_default()
}

/// `status.conditions[type == t]`.
fn condition<'a>(o: &'a GenericObject, t: &str) -> Option<&'a Value> {
    items(&o.raw, &["status", "conditions"]).iter().find(|c| text(c, &["type"]) == t)
}

fn group(o: &GenericObject) -> &str {
    o.api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or_default()
}

fn name(o: &GenericObject) -> &str {
    o.metadata.name.as_deref().unwrap_or_default()
}

/// The namespace of a namespaced object (`default` when unset).
fn namespace(o: &GenericObject) -> &str {
    o.metadata.namespace.as_deref().unwrap_or("default")
}

fn obj_ref(o: &GenericObject) -> ResourceRef {
    if CLUSTER_SCOPED.contains(&o.kind.as_str()) {
        ResourceRef::cluster(&o.kind, name(o))
    } else {
        ResourceRef::namespaced(&o.kind, namespace(o), name(o))
    }
}

/// A captured custom object; `ns` is ignored for cluster-scoped kinds.
fn find<'a>(ctx: &Ctx<'a>, grp: &str, kind: &str, ns: &str, name_: &str) -> Option<&'a GenericObject> {
    let cluster = CLUSTER_SCOPED.contains(&kind);
    ctx.a
        .inventory
        .others
        .iter()
        .find(|o| o.kind == kind && group(o) == grp && name(o) == name_ && (cluster || namespace(o) == ns))
}

/// Signals of every custom resource in the capture.
pub(crate) fn custom_signals(ctx: &Ctx<'_>, out: &mut Signals) {
    for o in &ctx.a.inventory.others {
        match (group(o), o.kind.as_str()) {
            (GATEWAY_GROUP, "GatewayClass") => gateway_class(ctx, o, out),
            (GATEWAY_GROUP, "Gateway") => gateway(ctx, o, out),
            (GATEWAY_GROUP, "HTTPRoute") => http_route(ctx, o, out),
            (OLM_GROUP, "CatalogSource") => catalog_source(ctx, o, out),
            (OLM_GROUP, "ClusterServiceVersion") => csv(ctx, o, out),
            (OLM_GROUP, "InstallPlan") => install_plan(ctx, o, out),
            (OLM_GROUP, "Subscription") => subscription(ctx, o, out),
            (OLM_V1_GROUP, "ClusterCatalog") => cluster_catalog(ctx, o, out),
            (KEDA_GROUP, "ScaledObject") => scaled_object(ctx, o, out),
            _ => {}
        }
    }
    operator_groups(ctx, out);
}

// ---- Gateway API ----

/// A class no controller has claimed (`Accepted=Unknown`) or that its controller rejected.
fn gateway_class(ctx: &Ctx<'_>, o: &GenericObject, out: &mut Signals) {
    if let Some(c) = condition(o, "Accepted").filter(|c| text(c, &["status"]) != "True") {
        let mut f = Found::condition("GatewayClass", c, 0.85);
        f.message = format!("{} (controller {})", f.message, text(&o.raw, &["spec", "controllerName"]));
        push(ctx, out, &obj_ref(o), f);
    }
}

/// A Gateway whose class does not exist, or that is not Accepted / not Programmed.
fn gateway(ctx: &Ctx<'_>, o: &GenericObject, out: &mut Signals) {
    let r = obj_ref(o);
    let class = text(&o.raw, &["spec", "gatewayClassName"]);
    if !class.is_empty() && find(ctx, GATEWAY_GROUP, "GatewayClass", "", class).is_none() {
        // No controller picks up a Gateway of a missing class: its Unknown conditions follow from it.
        let message = format!("uses GatewayClass {class}, which does not exist");
        push(ctx, out, &r, Found::new(EvidenceKind::MissingReference, "missing_gateway_class", message, 0.9));
        return;
    }
    for t in ["Accepted", "Programmed"] {
        if let Some(c) = condition(o, t).filter(|c| text(c, &["status"]) != "True") {
            push(ctx, out, &r, Found::condition("Gateway", c, 0.85));
        }
    }
}

/// Dangling or rejected parent and backend references of an HTTPRoute, and its bad status.
fn http_route(ctx: &Ctx<'_>, o: &GenericObject, out: &mut Signals) {
    let mut found = Vec::new();
    for p in items(&o.raw, &["spec", "parentRefs"]) {
        found.extend(parent_ref(ctx, o, p));
    }
    for rule in items(&o.raw, &["spec", "rules"]) {
        for b in items(rule, &["backendRefs"]) {
            found.extend(backend_ref(ctx, namespace(o), b));
        }
    }
    for parent in items(&o.raw, &["status", "parents"]) {
        for c in items(parent, &["conditions"]) {
            let t = text(c, &["type"]);
            if matches!(t, "Accepted" | "ResolvedRefs") && text(c, &["status"]) == "False" {
                found.push(Found::condition("HTTPRoute", c, 0.85));
            }
        }
    }
    push_grouped(ctx, out, &obj_ref(o), found);
}

/// A parentRef to a Gateway that does not exist or none of whose listeners admit the route.
fn parent_ref(ctx: &Ctx<'_>, route: &GenericObject, p: &Value) -> Option<Found> {
    let kind = Some(text(p, &["kind"])).filter(|k| !k.is_empty()).unwrap_or("Gateway");
    let grp = Some(text(p, &["group"])).filter(|g| !g.is_empty()).unwrap_or(GATEWAY_GROUP);
    if kind != "Gateway" || grp != GATEWAY_GROUP {
        return None;
    }
    let route_ns = namespace(route);
    let ns = Some(text(p, &["namespace"])).filter(|n| !n.is_empty()).unwrap_or(route_ns);
    let gw_name = text(p, &["name"]);
    let Some(gw) = find(ctx, GATEWAY_GROUP, "Gateway", ns, gw_name) else {
        let message = format!("attaches to Gateway {ns}/{gw_name}, which does not exist");
        return Some(Found::new(EvidenceKind::MissingReference, "missing_parent_gateway", message, 0.9));
    };
    let section = text(p, &["sectionName"]);
    let port = at(p, &["port"]).as_i64();
    let listeners: Vec<&Value> = items(&gw.raw, &["spec", "listeners"])
        .iter()
        .filter(|l| section.is_empty() || text(l, &["name"]) == section)
        .filter(|l| port.is_none() || at(l, &["port"]).as_i64() == port)
        .collect();
    let why = if listeners.is_empty() {
        vec![format!("no listener matches sectionName '{section}' / port {port:?}")]
    } else {
        let verdicts: Vec<Result<(), String>> =
            listeners.iter().map(|l| listener_admits(ctx, l, namespace(gw), route_ns, &route.kind)).collect();
        if verdicts.iter().any(Result::is_ok) {
            return None;
        }
        verdicts.into_iter().filter_map(Result::err).collect()
    };
    let message = format!("cannot attach to Gateway {ns}/{gw_name}: {}", why.join(", "));
    Some(Found::new(EvidenceKind::ObjectCondition, "route_not_allowed", message, 0.9))
}

/// Whether a listener's `allowedRoutes` admits a route of `kind` from `route_ns`.
fn listener_admits(ctx: &Ctx<'_>, l: &Value, gw_ns: &str, route_ns: &str, kind: &str) -> Result<(), String> {
    let name = text(l, &["name"]);
    let kinds = items(l, &["allowedRoutes", "kinds"]);
    let kind_ok = if kinds.is_empty() {
        // Default kinds follow the protocol: HTTPRoute for HTTP and HTTPS listeners.
        kind != "HTTPRoute" || matches!(text(l, &["protocol"]), "HTTP" | "HTTPS")
    } else {
        kinds.iter().any(|k| text(k, &["kind"]) == kind)
    };
    if !kind_ok {
        return Err(format!("listener {name} does not accept {kind}s"));
    }
    let from = Some(text(l, &["allowedRoutes", "namespaces", "from"])).filter(|f| !f.is_empty()).unwrap_or("Same");
    match from {
        "Same" if route_ns != gw_ns => {
            Err(format!("listener {name} only allows routes from the Gateway's namespace {gw_ns}, not {route_ns}"))
        }
        "Selector" => {
            let selector = at(l, &["allowedRoutes", "namespaces", "selector"]);
            match namespace_selected(ctx, selector, route_ns) {
                Some(false) => Err(format!(
                    "listener {name} only allows routes from namespaces matching {}; namespace {route_ns} does not match",
                    selector_text(selector)
                )),
                _ => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

/// Whether a label selector selects namespace `ns`; `None` when its labels are not captured.
fn namespace_selected(ctx: &Ctx<'_>, selector: &Value, ns: &str) -> Option<bool> {
    let mut labels: BTreeMap<String, String> = BTreeMap::new();
    let captured = ctx.a.inventory.namespaces.iter().find(|n| n.metadata.name.as_deref() == Some(ns));
    if let Some(n) = captured {
        labels.extend(n.metadata.labels.clone().unwrap_or_default());
    } else {
        // Without the Namespace only its name label is known: judge selectors that use nothing else.
        let keys = selector_keys(selector);
        if keys.is_empty() || keys.iter().any(|k| *k != NAMESPACE_NAME_LABEL) {
            return None;
        }
    }
    labels.insert(NAMESPACE_NAME_LABEL.into(), ns.into());
    Some(selector_matches(selector, &labels))
}

fn selector_keys(selector: &Value) -> Vec<&str> {
    let labels = at(selector, &["matchLabels"]).as_object().into_iter().flat_map(|m| m.keys().map(String::as_str));
    labels.chain(items(selector, &["matchExpressions"]).iter().map(|e| text(e, &["key"]))).collect()
}

/// A `metav1.LabelSelector` against a label set (an empty selector matches everything).
fn selector_matches(selector: &Value, labels: &BTreeMap<String, String>) -> bool {
    let equal = at(selector, &["matchLabels"])
        .as_object()
        .into_iter()
        .flatten()
        .all(|(k, v)| labels.get(k).map(String::as_str) == v.as_str());
    equal
        && items(selector, &["matchExpressions"]).iter().all(|e| {
            let value = labels.get(text(e, &["key"]));
            let listed = || items(e, &["values"]).iter().any(|v| v.as_str() == value.map(String::as_str));
            match text(e, &["operator"]) {
                "In" => value.is_some() && listed(),
                "NotIn" => value.is_none() || !listed(),
                "Exists" => value.is_some(),
                "DoesNotExist" => value.is_none(),
                _ => false,
            }
        })
}

fn selector_text(selector: &Value) -> String {
    let mut parts: Vec<String> = at(selector, &["matchLabels"])
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    for e in items(selector, &["matchExpressions"]) {
        let values: Vec<&str> = items(e, &["values"]).iter().filter_map(Value::as_str).collect();
        parts.push(format!("{} {} ({})", text(e, &["key"]), text(e, &["operator"]), values.join(",")));
    }
    parts.join(",")
}

/// A backendRef to a Service that does not exist, or to a port the Service does not expose.
fn backend_ref(ctx: &Ctx<'_>, route_ns: &str, b: &Value) -> Option<Found> {
    let kind = Some(text(b, &["kind"])).filter(|k| !k.is_empty()).unwrap_or("Service");
    if kind != "Service" || !matches!(text(b, &["group"]), "" | "core") {
        return None;
    }
    let ns = Some(text(b, &["namespace"])).filter(|n| !n.is_empty()).unwrap_or(route_ns);
    let svc_name = text(b, &["name"]);
    let svc = ctx.a.inventory.services.iter().find(|s| {
        s.metadata.name.as_deref() == Some(svc_name) && s.metadata.namespace.as_deref().unwrap_or("default") == ns
    });
    let Some(svc) = svc else {
        let message = format!("sends traffic to Service {ns}/{svc_name}, which does not exist");
        return Some(Found::new(EvidenceKind::MissingReference, "missing_backend_service", message, 0.9));
    };
    let port = at(b, &["port"]).as_i64()?;
    let ports: Vec<i32> = svc.spec.iter().flat_map(|s| s.ports.iter().flatten()).map(|p| p.port).collect();
    if ports.iter().any(|p| i64::from(*p) == port) {
        return None;
    }
    let exposed: Vec<String> = ports.iter().map(i32::to_string).collect();
    let message = format!(
        "sends traffic to Service {ns}/{svc_name} port {port}, but it only exposes port(s) {}",
        exposed.join(", ")
    );
    Some(Found::new(EvidenceKind::MissingReference, "backend_port_mismatch", message, 0.9))
}

// ---- OLM ----

/// A catalog whose gRPC registry connection is failing.
fn catalog_source(ctx: &Ctx<'_>, o: &GenericObject, out: &mut Signals) {
    let conn = at(&o.raw, &["status", "connectionState"]);
    let state = text(conn, &["lastObservedState"]);
    if state != "TRANSIENT_FAILURE" {
        return;
    }
    let address =
        Some(text(conn, &["address"])).filter(|a| !a.is_empty()).unwrap_or(text(&o.raw, &["spec", "address"]));
    let message = format!("registry connection state {state} (address {address})");
    let mut f = Found::new(EvidenceKind::ObjectCondition, format!("CatalogSource.{state}"), message, 0.85);
    f.at = text(conn, &["lastConnect"]).parse().ok();
    push(ctx, out, &obj_ref(o), f);
}

/// An OLMv1 catalog whose image cannot be unpacked (`Progressing` reason `Retrying` or `Blocked`).
fn cluster_catalog(ctx: &Ctx<'_>, o: &GenericObject, out: &mut Signals) {
    let Some(c) = condition(o, "Progressing") else { return };
    let reason = text(c, &["reason"]);
    if matches!(reason, "Retrying" | "Blocked") {
        let image = text(&o.raw, &["spec", "source", "image", "ref"]);
        let message = format!("Progressing ({reason}) unpacking image {image}: {}", text(c, &["message"]));
        let mut f = Found::new(EvidenceKind::ObjectCondition, format!("ClusterCatalog.{reason}"), message, 0.85);
        f.at = text(c, &["lastTransitionTime"]).parse().ok();
        push(ctx, out, &obj_ref(o), f);
    }
}

/// `status.reason: status.message`, else the last condition's reason and message.
fn status_cause(o: &GenericObject) -> (String, Option<Timestamp>) {
    let status = at(&o.raw, &["status"]);
    let last = items(status, &["conditions"]).last().unwrap_or(&Value::Null);
    let pick = |k: &str| Some(text(status, &[k])).filter(|s| !s.is_empty()).unwrap_or(text(last, &[k]));
    (format!("{}: {}", pick("reason"), pick("message")), text(last, &["lastTransitionTime"]).parse().ok())
}

/// A phase (`status.phase == phase`) signal with the status' reason and message.
fn phase_signal(ctx: &Ctx<'_>, o: &GenericObject, prefix: &str, phase: &str, out: &mut Signals) {
    if text(&o.raw, &["status", "phase"]) != phase {
        return;
    }
    let (cause, at) = status_cause(o);
    let mut f =
        Found::new(EvidenceKind::ObjectCondition, format!("{prefix}.{phase}"), format!("phase {phase}: {cause}"), 0.85);
    f.at = at;
    push(ctx, out, &obj_ref(o), f);
}

/// A ClusterServiceVersion in phase Failed (copies OLM mirrors into other namespaces are skipped).
fn csv(ctx: &Ctx<'_>, o: &GenericObject, out: &mut Signals) {
    let copied = text(&o.raw, &["status", "reason"]) == "Copied"
        || o.metadata.labels.as_ref().is_some_and(|l| l.contains_key("olm.copiedFrom"));
    if !copied {
        phase_signal(ctx, o, "CSV", "Failed", out);
    }
}

/// An InstallPlan in phase Failed (evidence only: its message rarely names a cause).
fn install_plan(ctx: &Ctx<'_>, o: &GenericObject, out: &mut Signals) {
    phase_signal(ctx, o, "InstallPlan", "Failed", out);
}

/// A Subscription whose catalog sources are unhealthy or whose resolution failed.
fn subscription(ctx: &Ctx<'_>, o: &GenericObject, out: &mut Signals) {
    let state = text(&o.raw, &["status", "state"]);
    for c in items(&o.raw, &["status", "conditions"]) {
        let (t, status, reason) = (text(c, &["type"]), text(c, &["status"]), text(c, &["reason"]));
        // OLM writes CatalogSourcesUnhealthy=False (AllCatalogSourcesHealthy) when all is well.
        let what = if matches!(reason, "CatalogSourcesUnhealthy" | "UnhealthyCatalogSourceFound")
            || (t == "CatalogSourcesUnhealthy" && status == "True")
        {
            "CatalogSourcesUnhealthy"
        } else if t == "ResolutionFailed" && status == "True" {
            "ResolutionFailed"
        } else {
            continue;
        };
        let source = format!("{}/{}", text(&o.raw, &["spec", "sourceNamespace"]), text(&o.raw, &["spec", "source"]));
        let message = format!("state {state}, catalog {source}: {reason}: {}", text(c, &["message"]));
        let mut f = Found::new(EvidenceKind::ObjectCondition, format!("Subscription.{what}"), message, 0.85);
        f.at = text(c, &["lastTransitionTime"]).parse().ok();
        push(ctx, out, &obj_ref(o), f);
    }
}

/// Namespaces with more than one OperatorGroup: OLM needs exactly one, so every group but
/// the oldest is flagged.
fn operator_groups(ctx: &Ctx<'_>, out: &mut Signals) {
    let mut by_ns: BTreeMap<&str, Vec<&GenericObject>> = BTreeMap::new();
    for o in ctx.a.inventory.others.iter().filter(|o| o.kind == "OperatorGroup" && group(o) == OLM_GROUP) {
        by_ns.entry(namespace(o)).or_default().push(o);
    }
    for (ns, mut groups) in by_ns.into_iter().filter(|(_, g)| g.len() > 1) {
        groups.sort_by_key(|o| (o.metadata.creation_timestamp.as_ref().map(|t| t.0), name(o)));
        let names: Vec<&str> = groups.iter().map(|o| name(o)).collect();
        for o in groups.iter().skip(1) {
            let message = format!(
                "namespace {ns} holds {} OperatorGroups ({}); OLM requires exactly one, so operator installs there fail",
                groups.len(),
                names.join(", ")
            );
            push(
                ctx,
                out,
                &obj_ref(o),
                Found::new(EvidenceKind::ObjectCondition, "multiple_operator_groups", message, 0.9),
            );
        }
    }
}

// ---- KEDA ----

/// A ScaledObject whose target does not exist or requests no CPU/memory for a utilisation
/// trigger, and a ScaledObject that is not Ready.
fn scaled_object(ctx: &Ctx<'_>, o: &GenericObject, out: &mut Signals) {
    let r = obj_ref(o);
    let ns = namespace(o);
    let t = at(&o.raw, &["spec", "scaleTargetRef"]);
    let kind = Some(text(t, &["kind"])).filter(|k| !k.is_empty()).unwrap_or("Deployment");
    let target = text(t, &["name"]);
    if !target.is_empty() && !ctx.exists(kind, ns, target) {
        let message = format!("scale target {kind}/{target} does not exist");
        push(ctx, out, &r, Found::new(EvidenceKind::MissingReference, "missing_scale_target", message, 0.9));
    } else if let Some(resource) = unrequested_resource(ctx, o, kind, ns, target) {
        let target_ref = ResourceRef::namespaced(kind, ns, target);
        let message =
            format!("{r} scales {target_ref} on {resource} utilisation, but its containers request no {resource}");
        let f = Found::new(EvidenceKind::HpaStatus, "scale_target_without_requests", message, 0.85);
        push(ctx, out, &target_ref, f);
    }
    if let Some(c) = condition(o, "Ready").filter(|c| text(c, &["status"]) == "False") {
        push(ctx, out, &r, Found::condition("ScaledObject", c, 0.85));
    }
}

/// The resource of a cpu/memory `Utilization` trigger that a target container does not request.
fn unrequested_resource(ctx: &Ctx<'_>, o: &GenericObject, kind: &str, ns: &str, target: &str) -> Option<String> {
    let inv = ctx.a.inventory;
    let same = |m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
        m.namespace.as_deref().unwrap_or("default") == ns && m.name.as_deref() == Some(target)
    };
    let spec = match kind {
        "Deployment" => inv.deployments.iter().find(|d| same(&d.metadata))?.spec.template.spec.as_ref(),
        "StatefulSet" => inv.stateful_sets.iter().find(|s| same(&s.metadata))?.spec.template.spec.as_ref(),
        _ => None,
    }?;
    items(&o.raw, &["spec", "triggers"]).iter().find_map(|trigger| {
        let resource = text(trigger, &["type"]);
        let metric = Some(text(trigger, &["metricType"])).filter(|m| !m.is_empty()).unwrap_or("Utilization");
        if !matches!(resource, "cpu" | "memory") || metric != "Utilization" {
            return None;
        }
        let only = text(trigger, &["metadata", "containerName"]);
        let missing =
            spec.containers.iter().filter(|c| only.is_empty() || c.name == only).any(|c| {
                !c.resources.as_ref().and_then(|r| r.requests.as_ref()).is_some_and(|q| q.contains_key(resource))
            });
        missing.then(|| resource.to_string())
    })
}

#[cfg(test)]
mod tests {
    use aiops_core::Cause;
    use aiops_core::model::{Hypothesis, ResourceRef};
    use aiops_core::traits::{AnalysisContext, RuleEngine};
    use serde_json::{Value, json};

    use crate::RulesEngine;

    fn engine() -> RulesEngine {
        RulesEngine::builtin()
    }

    fn diagnose(objects: Value) -> Vec<Hypothesis> {
        let bundle = json!({"apiVersion": "aiops/v1", "kind": "IncidentBundle", "capturedAt": "2026-03-01T10:45:00Z", "objects": objects});
        let b = aiops_core::parse_bundle(bundle.to_string().as_bytes()).expect("bundle parses");
        let now = b.captured_at.expect("capturedAt");
        let inc = aiops_core::alert::scan_incident(None, now);
        let g = aiops_core::graph::build_graph(&b.inventory, &inc);
        let ctx = AnalysisContext {
            incident: &inc,
            alerts: &[],
            inventory: &b.inventory,
            graph: &g,
            logs: &[],
            metrics: &[],
            now,
            environment: None,
        };
        engine().diagnose(&ctx).expect("diagnosis").hypotheses
    }

    fn top(hs: &[Hypothesis]) -> (Cause, &str, Option<&ResourceRef>) {
        let h = hs.first().expect("a hypothesis");
        (h.cause, h.rule.as_str(), h.resource.as_ref())
    }

    fn healthy(hs: &[Hypothesis]) -> bool {
        hs.iter().all(|h| h.cause == Cause::Unknown)
    }

    fn cond(t: &str, status: &str, reason: &str) -> Value {
        json!({"type": t, "status": status, "reason": reason, "message": "m", "lastTransitionTime": "2026-03-01T10:00:00Z"})
    }

    fn gateway_class(name: &str) -> Value {
        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass", "metadata": {"name": name},
            "spec": {"controllerName": "example.com/gateway"}, "status": {"conditions": [cond("Accepted", "True", "Accepted")]}})
    }

    fn gateway(ns: &str, class: &str, allowed: Value, conditions: Value) -> Value {
        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": "gw", "namespace": ns},
            "spec": {"gatewayClassName": class, "listeners": [{"name": "http", "port": 80, "protocol": "HTTP", "allowedRoutes": allowed}]},
            "status": {"conditions": conditions}})
    }

    fn route(gw_ns: &str, backend: &str, port: u16) -> Value {
        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "r", "namespace": "default"},
            "spec": {"parentRefs": [{"name": "gw", "namespace": gw_ns}], "rules": [{"backendRefs": [{"name": backend, "port": port}]}]}})
    }

    fn service(name: &str, port: u16) -> Value {
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
            "spec": {"ports": [{"port": port}]}})
    }

    fn accepted_programmed() -> Value {
        json!([cond("Accepted", "True", "Accepted"), cond("Programmed", "True", "Programmed")])
    }

    fn same_ns() -> Value {
        json!({"namespaces": {"from": "Same"}})
    }

    #[test]
    fn gateway_with_missing_class_is_a_config_error() {
        let unknown = json!([cond("Accepted", "Unknown", "Pending"), cond("Programmed", "Unknown", "Pending")]);
        let hs = diagnose(json!([gateway("default", "nope", same_ns(), unknown)]));
        let gw = ResourceRef::namespaced("Gateway", "default", "gw");
        assert_eq!(top(&hs), (Cause::ConfigError, "gateway_class_missing", Some(&gw)));
    }

    #[test]
    fn healthy_gateway_emits_nothing() {
        let hs = diagnose(json!([gateway_class("c"), gateway("default", "c", same_ns(), accepted_programmed())]));
        assert!(healthy(&hs), "{hs:?}");
    }

    #[test]
    fn gateway_without_address_is_a_network_issue() {
        let conds = json!([cond("Accepted", "True", "Accepted"), cond("Programmed", "False", "AddressNotAssigned")]);
        let hs = diagnose(json!([gateway_class("c"), gateway("default", "c", same_ns(), conds)]));
        assert_eq!(top(&hs).0, Cause::NetworkIssue);
    }

    #[test]
    fn unclaimed_gateway_class_is_a_dependency_failure() {
        let mut class = gateway_class("c");
        class["status"]["conditions"] = json!([cond("Accepted", "Unknown", "Pending")]);
        let hs = diagnose(json!([class]));
        assert_eq!(
            top(&hs),
            (Cause::DependencyFailure, "gateway_class_unclaimed", Some(&ResourceRef::cluster("GatewayClass", "c")))
        );
    }

    #[test]
    fn httproute_with_missing_backend_service() {
        let objects = json!([
            gateway_class("c"),
            gateway("default", "c", same_ns(), accepted_programmed()),
            route("default", "backend", 8080)
        ]);
        let hs = diagnose(objects);
        let r = ResourceRef::namespaced("HTTPRoute", "default", "r");
        assert_eq!(top(&hs), (Cause::ServiceNoEndpoints, "httproute_backend_service_missing", Some(&r)));
    }

    #[test]
    fn httproute_backend_port_must_be_a_service_port() {
        let gw = gateway("default", "c", same_ns(), accepted_programmed());
        let hs = diagnose(json!([
            gateway_class("c"),
            gw.clone(),
            route("default", "backend", 8080),
            service("backend", 80)
        ]));
        assert_eq!(top(&hs).1, "httproute_backend_port_mismatch");
        let hs = diagnose(json!([gateway_class("c"), gw, route("default", "backend", 80), service("backend", 80)]));
        assert!(healthy(&hs), "{hs:?}");
    }

    #[test]
    fn httproute_attachment_follows_allowed_routes() {
        let cross = gateway("other", "c", same_ns(), accepted_programmed());
        let hs = diagnose(json!([gateway_class("c"), cross, route("other", "backend", 80), service("backend", 80)]));
        assert_eq!(top(&hs).1, "httproute_not_allowed_by_listeners");

        let selector = json!({"namespaces": {"from": "Selector", "selector": {"matchLabels": {"team": "a"}}}});
        let ns = |labels: Value| json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default", "labels": labels}});
        let base = [
            gateway_class("c"),
            gateway("default", "c", selector, accepted_programmed()),
            route("default", "backend", 80),
            service("backend", 80),
        ];
        let mut objects = base.to_vec();
        objects.push(ns(json!({"kubernetes.io/metadata.name": "default"})));
        assert_eq!(top(&diagnose(Value::Array(objects))).1, "httproute_not_allowed_by_listeners");
        let mut objects = base.to_vec();
        objects.push(ns(json!({"team": "a"})));
        assert!(healthy(&diagnose(Value::Array(objects))));
        // Without the Namespace object its labels are unknown: no verdict.
        assert!(healthy(&diagnose(Value::Array(base.to_vec()))));
    }

    #[test]
    fn httproute_to_missing_gateway() {
        let hs = diagnose(json!([route("elsewhere", "backend", 80), service("backend", 80)]));
        assert_eq!(top(&hs).1, "httproute_parent_gateway_missing");
    }

    #[test]
    fn second_operator_group_in_a_namespace_is_flagged() {
        let og = |name: &str, ns: &str, created: &str| {
            json!({"apiVersion": "operators.coreos.com/v1", "kind": "OperatorGroup",
                "metadata": {"name": name, "namespace": ns, "creationTimestamp": created}, "spec": {}})
        };
        let hs = diagnose(json!([
            og("og-2", "a", "2026-02-28T10:45:00Z"),
            og("og-1", "a", "2026-01-30T10:45:00Z"),
            og("og-3", "b", "2026-01-30T10:45:00Z")
        ]));
        let extra = ResourceRef::namespaced("OperatorGroup", "a", "og-2");
        assert_eq!(top(&hs), (Cause::ConfigError, "olm_multiple_operator_groups", Some(&extra)));
        assert_eq!(hs.len(), 1, "{hs:?}");
    }

    #[test]
    fn failed_install_plan_is_evidence_but_no_diagnosis() {
        let ip = json!({"apiVersion": "operators.coreos.com/v1alpha1", "kind": "InstallPlan", "metadata": {"name": "ip", "namespace": "ns1"},
            "spec": {}, "status": {"phase": "Failed", "conditions": [{"reason": "ExecutionError", "message": "boom"}]}});
        let hs = diagnose(json!([ip]));
        assert!(healthy(&hs));
        assert!(hs[0].explanation.contains("ExecutionError"), "{}", hs[0].explanation);
    }

    #[test]
    fn keda_cpu_trigger_needs_cpu_requests() {
        let so = json!({"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": "so", "namespace": "default"},
            "spec": {"scaleTargetRef": {"name": "app"}, "triggers": [{"type": "cpu", "metricType": "Utilization", "metadata": {"value": "60"}}]}});
        let deploy = |resources: Value| {
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "app", "namespace": "default"},
                "spec": {"selector": {"matchLabels": {"app": "app"}}, "template": {"metadata": {"labels": {"app": "app"}},
                "spec": {"containers": [{"name": "app", "image": "app:1", "resources": resources}]}}},
                "status": {"replicas": 1, "availableReplicas": 1, "readyReplicas": 1}})
        };
        let hs = diagnose(json!([so.clone(), deploy(json!({}))]));
        let target = ResourceRef::namespaced("Deployment", "default", "app");
        assert_eq!(top(&hs), (Cause::ConfigError, "keda_scale_target_without_requests", Some(&target)));
        assert!(healthy(&diagnose(json!([so.clone(), deploy(json!({"requests": {"cpu": "100m"}}))]))));
        assert_eq!(top(&diagnose(json!([so]))).1, "keda_scale_target_missing");
    }

    #[test]
    fn selectors_match_like_the_api_server() {
        let labels = [("a".to_string(), "1".to_string())].into_iter().collect();
        let m = |s: Value| super::selector_matches(&s, &labels);
        assert!(m(json!({})));
        assert!(m(json!({"matchLabels": {"a": "1"}})));
        assert!(!m(json!({"matchLabels": {"a": "2"}})));
        assert!(m(json!({"matchExpressions": [{"key": "a", "operator": "In", "values": ["1", "2"]}]})));
        assert!(!m(json!({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]})));
        assert!(m(json!({"matchExpressions": [{"key": "b", "operator": "DoesNotExist"}]})));
        assert!(!m(json!({"matchExpressions": [{"key": "b", "operator": "Exists"}]})));
    }
}
