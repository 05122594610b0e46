//! Change awareness: rollouts read from ReplicaSet revisions (not object creation times),
//! with the pod-template diff between the current and the previous revision.

use aiops_core::graph::{Direction, EdgeKind, NodeKind, node_id};
use aiops_core::model::{EvidenceKind, ResourceRef};
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::PodSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::json;

use crate::extract::{Ctx, Signals, evidence};

use aiops_core::change::Revision;
pub use aiops_core::change::{REVISION, last_change, template_diff};

/// How far back a rollout is reported.
pub const CHANGE_HORIZON: SignedDuration = SignedDuration::from_hours(24);

pub(crate) fn rollout_signals(ctx: &Ctx<'_>, out: &mut Signals) {
    let inv = ctx.a.inventory;
    for d in &inv.deployments {
        let ns = d.metadata.namespace.as_deref().unwrap_or("default");
        let name = d.metadata.name.as_deref().unwrap_or_default();
        let mut history: Vec<Revision> = ctx
            .a
            .graph
            .neighbors(&node_id(NodeKind::Deployment, Some(ns), name), EdgeKind::Owns, Direction::Outgoing)
            .into_iter()
            .filter(|n| n.kind == NodeKind::ReplicaSet)
            .filter_map(|n| n.object.and_then(|i| inv.replica_sets.get(i)))
            .map(|rs| Revision {
                number: aiops_core::change::revision(rs),
                object: rs.metadata.name.clone(),
                at: rs.metadata.creation_timestamp.as_ref().map(|t| t.0),
                spec: spec(rs).cloned(),
            })
            .collect();
        history.sort_by_key(|r| std::cmp::Reverse(r.number));
        push_rollout(ctx, out, "Deployment", &d.metadata, &history);
    }
    // StatefulSets and DaemonSets keep their history in ControllerRevisions.
    let owned = |kind: &str, m: &ObjectMeta| aiops_core::change::revisions(inv, kind, m);
    for s in &inv.stateful_sets {
        push_rollout(ctx, out, "StatefulSet", &s.metadata, &owned("StatefulSet", &s.metadata));
    }
    for d in &inv.daemon_sets {
        push_rollout(ctx, out, "DaemonSet", &d.metadata, &owned("DaemonSet", &d.metadata));
    }
}

fn push_rollout(ctx: &Ctx<'_>, out: &mut Signals, kind: &str, m: &ObjectMeta, history: &[Revision]) {
    let ns = m.namespace.as_deref().unwrap_or("default");
    let name = m.name.as_deref().unwrap_or_default();
    let created = m.creation_timestamp.as_ref().map(|t| t.0);
    if let Some(ev) = rollout(ctx, kind, ns, name, created, history) {
        let r = ResourceRef::namespaced(kind, ns, name);
        out.push_evidence(ctx, ev, &r);
    }
}

fn rollout(
    ctx: &Ctx<'_>,
    kind: &str,
    ns: &str,
    name: &str,
    created: Option<Timestamp>,
    history: &[Revision],
) -> Option<aiops_core::Evidence> {
    let current = history.first()?;
    let previous = history.get(1);
    let changed_at: Timestamp = current.at?;
    let onset = ctx.a.incident.started_at.min(ctx.a.now);
    if changed_at < onset - CHANGE_HORIZON {
        return None;
    }
    if previous.is_none() && created.is_some_and(|c| c < changed_at - SignedDuration::from_mins(5)) {
        return None;
    }
    let diff = match previous {
        Some(p) => template_diff(p.spec.as_ref(), current.spec.as_ref()),
        None => vec![format!("new {kind}")],
    };
    let age = onset.duration_since(changed_at).as_secs() / 60;
    let strength = match age {
        a if a <= 30 => 0.95,
        a if a <= 60 => 0.85,
        _ => 0.5,
    };
    let summary = format!(
        "{kind} {ns}/{name} rolled out revision {}{} at {changed_at} ({age} min before onset): {}",
        current.number,
        previous.map(|p| format!(" (from {})", p.number)).unwrap_or_default(),
        diff.join("; ")
    );
    let data = json!({
        "reason": if previous.is_some() { "rollout" } else { "created" },
        "revision": current.number,
        "previous_revision": previous.map(|p| p.number),
        "revision_object": current.object,
        "previous_revision_object": previous.and_then(|p| p.object.clone()),
        "changed_at": changed_at.to_string(),
        "minutes_before_onset": age,
        "diff": diff,
    });
    let mut ev = evidence(EvidenceKind::DeployChange, ResourceRef::namespaced(kind, ns, name), summary, strength, data);
    ev.observed_at = Some(changed_at);
    Some(ev)
}

fn spec(rs: &ReplicaSet) -> Option<&PodSpec> {
    rs.spec.template.as_ref()?.spec.as_ref()
}

/// ConfigMap, Secret and NetworkPolicy changes (creation or `managedFields` write times)
/// within [`CHANGE_HORIZON`] before the onset.
pub(crate) fn config_signals(ctx: &Ctx<'_>, out: &mut Signals) {
    let inv = ctx.a.inventory;
    let onset = ctx.a.incident.started_at.min(ctx.a.now);
    let objects = inv
        .config_maps
        .iter()
        .map(|o| ("ConfigMap", &o.metadata))
        .chain(inv.secrets.iter().map(|o| ("Secret", &o.metadata)))
        .chain(inv.network_policies.iter().map(|o| ("NetworkPolicy", &o.metadata)));
    for (kind, m) in objects {
        let Some(at) = last_change(m) else { continue };
        if at < onset - CHANGE_HORIZON || at > ctx.a.now {
            continue;
        }
        let ns = m.namespace.as_deref().unwrap_or("default");
        let name = m.name.as_deref().unwrap_or_default();
        let created = m.creation_timestamp.as_ref().is_some_and(|c| c.0 == at);
        let age = onset.duration_since(at).as_secs() / 60;
        let what = if created { "created" } else { "changed" };
        let summary = format!("{kind} {ns}/{name} was {what} at {at} ({age} min before onset)");
        let data = json!({"reason": kind.to_ascii_lowercase(), "change": what, "changed_at": at.to_string(),
            "minutes_before_onset": age});
        let strength = if age <= 60 { 0.9 } else { 0.5 };
        let r = ResourceRef::namespaced(kind, ns, name);
        let mut ev = evidence(EvidenceKind::ConfigChange, r.clone(), summary, strength, data);
        ev.observed_at = Some(at);
        out.push_evidence(ctx, ev, &r);
    }
}
