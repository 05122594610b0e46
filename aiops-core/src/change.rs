//! Change history read from an [`Inventory`]: workload rollouts (ReplicaSets by owner
//! reference and revision annotation, ControllerRevisions), the pod-template diff between
//! revisions, and ConfigMap/Secret write times from `managedFields`, within a window around an
//! incident's onset. Pure functions over plain types; the rules and the deploy-diff collector
//! both read change history through them.

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::PodSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::object::Inventory;

/// The revision annotation the Deployment controller writes on ReplicaSets.
pub const REVISION: &str = "deployment.kubernetes.io/revision";
/// The annotation a rollback leaves on a re-activated ReplicaSet (its earlier revisions).
pub const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";

/// The revision number of a ReplicaSet (0 when it has none).
pub fn revision(rs: &ReplicaSet) -> i64 {
    rs.metadata.annotations.as_ref().and_then(|a| a.get(REVISION)).and_then(|r| r.parse().ok()).unwrap_or(0)
}

/// The last time an object was written: the newest `managedFields[].time`, else its creation.
pub fn last_change(m: &ObjectMeta) -> Option<Timestamp> {
    let managed = m.managed_fields.iter().flatten().filter_map(|f| f.time.as_ref().map(|t| t.0)).max();
    let created = m.creation_timestamp.as_ref().map(|t| t.0);
    managed.max(created)
}

/// The field manager of the newest `managedFields` entry (who wrote the object last).
pub fn last_manager(m: &ObjectMeta) -> Option<String> {
    m.managed_fields
        .iter()
        .flatten()
        .filter(|f| f.time.is_some())
        .max_by_key(|f| f.time.as_ref().map(|t| t.0))?
        .manager
        .clone()
}

/// What changed between two pod templates: images, command/args, env, resources, probes, volumes.
pub fn template_diff(old: Option<&PodSpec>, new: Option<&PodSpec>) -> Vec<String> {
    let (Some(old), Some(new)) = (old, new) else { return vec!["pod template changed".into()] };
    let mut out = Vec::new();
    for c in &new.containers {
        let Some(o) = old.containers.iter().find(|o| o.name == c.name) else {
            out.push(format!("container {} added", c.name));
            continue;
        };
        let mut field = |what: &str, a: serde_json::Value, b: serde_json::Value| {
            if a != b {
                out.push(format!("{} {what}: {} -> {}", c.name, short(&a), short(&b)));
            }
        };
        field("image", json!(o.image), json!(c.image));
        field("command", json!(o.command), json!(c.command));
        field("args", json!(o.args), json!(c.args));
        field("env", json!(o.env), json!(c.env));
        field("envFrom", json!(o.env_from), json!(c.env_from));
        field("resources", json!(o.resources), json!(c.resources));
        field("livenessProbe", json!(o.liveness_probe), json!(c.liveness_probe));
        field("readinessProbe", json!(o.readiness_probe), json!(c.readiness_probe));
        field("volumeMounts", json!(o.volume_mounts), json!(c.volume_mounts));
    }
    if json!(old.volumes) != json!(new.volumes) {
        out.push("volumes changed".into());
    }
    if out.is_empty() {
        out.push("pod template unchanged (restart or rollback)".into());
    }
    out
}

fn short(v: &serde_json::Value) -> String {
    let s = match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "none".into(),
        other => other.to_string(),
    };
    crate::alert::truncate_chars(&s, 120)
}

/// One revision of a workload's pod template.
#[derive(Debug, Clone, PartialEq)]
pub struct Revision {
    /// The revision number.
    pub number: i64,
    /// The ReplicaSet or ControllerRevision holding it.
    pub object: Option<String>,
    /// When it became the current revision (creation; for a ReplicaSet re-activated by a
    /// rollback, its last write).
    pub at: Option<Timestamp>,
    /// Its pod template.
    pub spec: Option<PodSpec>,
}

fn owned_by(m: &ObjectMeta, owner_kind: &str, owner: &ObjectMeta) -> bool {
    m.namespace == owner.namespace
        && m.owner_references.iter().flatten().any(|o| {
            o.kind == owner_kind
                && match (&owner.uid, o.uid.is_empty()) {
                    (Some(uid), false) => &o.uid == uid,
                    _ => Some(&o.name) == owner.name.as_ref(),
                }
        })
}

/// The revisions of a Deployment (its ReplicaSets, by owner reference and revision
/// annotation) or of a StatefulSet/DaemonSet (its ControllerRevisions), newest first.
pub fn revisions(inv: &Inventory, kind: &str, owner: &ObjectMeta) -> Vec<Revision> {
    let mut out: Vec<Revision> = if kind == "Deployment" {
        inv.replica_sets
            .iter()
            .filter(|rs| owned_by(&rs.metadata, kind, owner))
            .map(|rs| {
                let rolled_back = rs.metadata.annotations.as_ref().is_some_and(|a| a.contains_key(REVISION_HISTORY));
                let created = rs.metadata.creation_timestamp.as_ref().map(|t| t.0);
                Revision {
                    number: revision(rs),
                    object: rs.metadata.name.clone(),
                    at: if rolled_back { last_change(&rs.metadata) } else { created },
                    spec: rs.spec.template.as_ref().and_then(|t| t.spec.clone()),
                }
            })
            .collect()
    } else {
        inv.controller_revisions
            .iter()
            .filter(|cr| owned_by(&cr.metadata, kind, owner))
            .map(|cr| Revision {
                number: cr.revision.unwrap_or(0),
                object: cr.metadata.name.clone(),
                at: cr.metadata.creation_timestamp.as_ref().map(|t| t.0),
                spec: cr.data.0.pointer("/spec/template/spec").and_then(|v| serde_json::from_value(v.clone()).ok()),
            })
            .collect()
    };
    out.sort_by_key(|r| std::cmp::Reverse(r.number));
    out
}

/// A time window around an incident's onset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeWindow {
    /// The earliest change kept.
    pub from: Timestamp,
    /// The latest change kept.
    pub to: Timestamp,
}

impl ChangeWindow {
    /// From `before` ahead of `onset` to `after` past it.
    pub fn around(onset: Timestamp, before: SignedDuration, after: SignedDuration) -> Self {
        ChangeWindow { from: onset.checked_sub(before).unwrap_or(onset), to: onset.checked_add(after).unwrap_or(onset) }
    }

    /// Whether `t` falls in the window (both ends included).
    pub fn contains(&self, t: Timestamp) -> bool {
        self.from <= t && t <= self.to
    }
}

/// A workload rollout: a revision that became current within the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rollout {
    /// `Deployment`, `StatefulSet` or `DaemonSet`.
    pub kind: String,
    /// Namespace.
    pub namespace: String,
    /// Workload name.
    pub name: String,
    /// The current revision.
    pub revision: i64,
    /// The revision before it, if any.
    pub previous_revision: Option<i64>,
    /// The ReplicaSet or ControllerRevision of the current revision.
    pub revision_object: Option<String>,
    /// The one of the previous revision.
    pub previous_revision_object: Option<String>,
    /// When the current revision became current.
    pub changed_at: Timestamp,
    /// The pod-template diff from the previous revision ([`template_diff`]).
    pub diff: Vec<String>,
}

/// A ConfigMap or Secret written within the window (its `managedFields` times).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigChange {
    /// `ConfigMap` or `Secret`.
    pub kind: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The last write (or the creation).
    pub changed_at: Timestamp,
    /// True when the last write is the creation.
    pub created: bool,
    /// Who wrote it last (the newest `managedFields` manager).
    pub manager: Option<String>,
}

/// Every change of an inventory within a window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChangeHistory {
    /// Rollouts, newest first.
    pub rollouts: Vec<Rollout>,
    /// ConfigMap and Secret writes, newest first.
    pub config_changes: Vec<ConfigChange>,
}

impl ChangeHistory {
    /// The changes of `inv` within `window`.
    pub fn of(inv: &Inventory, window: &ChangeWindow) -> Self {
        let workloads = inv
            .deployments
            .iter()
            .map(|d| ("Deployment", &d.metadata))
            .chain(inv.stateful_sets.iter().map(|s| ("StatefulSet", &s.metadata)))
            .chain(inv.daemon_sets.iter().map(|d| ("DaemonSet", &d.metadata)));
        let mut rollouts: Vec<Rollout> =
            workloads.filter_map(|(kind, m)| rollout(kind, m, &revisions(inv, kind, m), window)).collect();
        rollouts.sort_by_key(|r| std::cmp::Reverse(r.changed_at));
        let configs = inv
            .config_maps
            .iter()
            .map(|o| ("ConfigMap", &o.metadata))
            .chain(inv.secrets.iter().map(|o| ("Secret", &o.metadata)));
        let mut config_changes: Vec<ConfigChange> = configs
            .filter_map(|(kind, m)| {
                let at = last_change(m).filter(|t| window.contains(*t))?;
                Some(ConfigChange {
                    kind: kind.into(),
                    namespace: m.namespace.clone().unwrap_or_default(),
                    name: m.name.clone().unwrap_or_default(),
                    changed_at: at,
                    created: m.creation_timestamp.as_ref().is_some_and(|c| c.0 == at),
                    manager: last_manager(m),
                })
            })
            .collect();
        config_changes.sort_by_key(|c| std::cmp::Reverse(c.changed_at));
        ChangeHistory { rollouts, config_changes }
    }

    /// True when nothing changed.
    pub fn is_empty(&self) -> bool {
        self.rollouts.is_empty() && self.config_changes.is_empty()
    }
}

fn rollout(kind: &str, m: &ObjectMeta, history: &[Revision], window: &ChangeWindow) -> Option<Rollout> {
    let current = history.first()?;
    let changed_at = current.at.filter(|t| window.contains(*t))?;
    let previous = history.get(1);
    let diff = match previous {
        Some(p) => template_diff(p.spec.as_ref(), current.spec.as_ref()),
        None => vec![format!("new {kind}")],
    };
    Some(Rollout {
        kind: kind.into(),
        namespace: m.namespace.clone().unwrap_or_default(),
        name: m.name.clone().unwrap_or_default(),
        revision: current.number,
        previous_revision: previous.map(|p| p.number),
        revision_object: current.object.clone(),
        previous_revision_object: previous.and_then(|p| p.object.clone()),
        changed_at,
        diff,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv(json: &str) -> Inventory {
        let mut inv = Inventory::default();
        let objects: Vec<serde_json::Value> = serde_json::from_str(json).unwrap();
        for (i, o) in objects.iter().enumerate() {
            inv.push_json(&o.to_string(), &format!("[{i}]")).unwrap();
        }
        inv
    }

    const OBJECTS: &str = r#"[
      {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"cart","namespace":"shop","uid":"d1",
        "creationTimestamp":"2026-02-01T00:00:00Z"},"spec":{"selector":{},"template":{}}},
      {"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"cart-1","namespace":"shop",
        "creationTimestamp":"2026-02-01T00:00:00Z","annotations":{"deployment.kubernetes.io/revision":"1"},
        "ownerReferences":[{"apiVersion":"apps/v1","kind":"Deployment","name":"cart","uid":"d1","controller":true}]},
        "spec":{"selector":{},"template":{"spec":{"containers":[{"name":"app","image":"cart:1"}]}}}},
      {"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"cart-2","namespace":"shop",
        "creationTimestamp":"2026-03-01T10:30:00Z","annotations":{"deployment.kubernetes.io/revision":"2"},
        "ownerReferences":[{"apiVersion":"apps/v1","kind":"Deployment","name":"cart","uid":"d1","controller":true}]},
        "spec":{"selector":{},"template":{"spec":{"containers":[{"name":"app","image":"cart:2"}]}}}},
      {"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"other-9","namespace":"shop",
        "creationTimestamp":"2026-03-01T10:40:00Z","annotations":{"deployment.kubernetes.io/revision":"9"},
        "ownerReferences":[{"apiVersion":"apps/v1","kind":"Deployment","name":"other","uid":"d2","controller":true}]},
        "spec":{"selector":{},"template":{"spec":{"containers":[{"name":"app","image":"other:9"}]}}}},
      {"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"db","namespace":"shop","uid":"s1"},
        "spec":{"selector":{},"serviceName":"db","template":{}}},
      {"apiVersion":"apps/v1","kind":"ControllerRevision","metadata":{"name":"db-a","namespace":"shop",
        "creationTimestamp":"2026-01-01T00:00:00Z",
        "ownerReferences":[{"apiVersion":"apps/v1","kind":"StatefulSet","name":"db","uid":"s1"}]},"revision":1,
        "data":{"spec":{"template":{"spec":{"containers":[{"name":"db","image":"pg:15"}]}}}}},
      {"apiVersion":"apps/v1","kind":"ControllerRevision","metadata":{"name":"db-b","namespace":"shop",
        "creationTimestamp":"2026-03-01T09:00:00Z",
        "ownerReferences":[{"apiVersion":"apps/v1","kind":"StatefulSet","name":"db","uid":"s1"}]},"revision":2,
        "data":{"spec":{"template":{"spec":{"containers":[{"name":"db","image":"pg:16"}]}}}}},
      {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg","namespace":"shop",
        "creationTimestamp":"2026-01-01T00:00:00Z","managedFields":[
          {"manager":"kubectl-edit","operation":"Update","time":"2026-03-01T10:20:00Z"},
          {"manager":"helm","operation":"Update","time":"2026-01-01T00:00:00Z"}]}},
      {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"old","namespace":"shop",
        "creationTimestamp":"2026-01-01T00:00:00Z"}},
      {"apiVersion":"v1","kind":"Secret","metadata":{"name":"creds","namespace":"shop",
        "creationTimestamp":"2026-03-01T10:35:00Z"},"type":"Opaque"}
    ]"#;

    fn window() -> ChangeWindow {
        let onset: Timestamp = "2026-03-01T10:45:00Z".parse().unwrap();
        ChangeWindow::around(onset, SignedDuration::from_hours(6), SignedDuration::from_mins(15))
    }

    #[test]
    fn rollouts_are_read_from_owned_revisions_with_their_template_diff() {
        let h = ChangeHistory::of(&inv(OBJECTS), &window());
        let cart = h.rollouts.iter().find(|r| r.name == "cart").expect("cart rolled out");
        assert_eq!((cart.revision, cart.previous_revision), (2, Some(1)), "other's ReplicaSet is not cart's");
        assert_eq!(cart.revision_object.as_deref(), Some("cart-2"));
        assert_eq!(cart.diff, vec!["app image: cart:1 -> cart:2"]);
        let db = h.rollouts.iter().find(|r| r.name == "db").expect("db rolled out");
        assert_eq!((db.kind.as_str(), db.revision, db.previous_revision), ("StatefulSet", 2, Some(1)));
        assert_eq!(db.diff, vec!["db image: pg:15 -> pg:16"]);
        assert_eq!(h.rollouts[0].name, "cart", "newest first");
    }

    #[test]
    fn config_changes_come_from_managed_fields_within_the_window() {
        let h = ChangeHistory::of(&inv(OBJECTS), &window());
        let names: Vec<(&str, &str, bool)> =
            h.config_changes.iter().map(|c| (c.kind.as_str(), c.name.as_str(), c.created)).collect();
        assert_eq!(names, vec![("Secret", "creds", true), ("ConfigMap", "cfg", false)]);
        assert_eq!(h.config_changes[1].manager.as_deref(), Some("kubectl-edit"));
    }

    #[test]
    fn changes_outside_the_window_are_left_out() {
        let onset: Timestamp = "2026-03-01T10:45:00Z".parse().unwrap();
        let narrow = ChangeWindow::around(onset, SignedDuration::from_mins(5), SignedDuration::from_mins(5));
        let h = ChangeHistory::of(&inv(OBJECTS), &narrow);
        assert!(h.is_empty(), "{h:?}");
    }
}
