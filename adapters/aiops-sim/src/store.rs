//! The simulator's state: every object as JSON, by resource type, with one cluster-wide
//! resourceVersion counter, plus the bundle's logs and metrics and the simulated clock.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Instant;

use aiops_core::IncidentBundle;
use aiops_core::object::Inventory;
use aiops_core::observation::{LogRecord, MetricSeries};
use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::error::SimError;
use crate::k8s::resources::{self, ResourceType};

/// `(namespace, name)`; the namespace is empty for cluster-scoped objects.
pub type Key = (String, String);

/// How many changes the store keeps for watches to replay.
pub const MAX_CHANGES: usize = 10_000;

/// What a change did (a watch event's `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// `ADDED`.
    Added,
    /// `MODIFIED`.
    Modified,
    /// `DELETED`.
    Deleted,
}

impl ChangeKind {
    /// The watch event type.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Added => "ADDED",
            ChangeKind::Modified => "MODIFIED",
            ChangeKind::Deleted => "DELETED",
        }
    }
}

/// One change of the store.
#[derive(Debug, Clone)]
pub struct Change {
    /// The resourceVersion it produced.
    pub rv: u64,
    /// The type index of the object.
    pub t: usize,
    /// What happened.
    pub kind: ChangeKind,
    /// The object after the change (before it, for a delete).
    pub object: Value,
}

/// All simulated state.
#[derive(Debug)]
pub struct Store {
    /// Served resource types; `objects[i]` holds the objects of `types[i]`.
    pub types: Vec<ResourceType>,
    /// Objects by type index, ordered by key (the order LIST pages in).
    pub objects: Vec<BTreeMap<Key, Value>>,
    /// The last resourceVersion handed out.
    pub rv: u64,
    /// Container logs.
    pub logs: Vec<LogRecord>,
    /// Metric results.
    pub metrics: Vec<MetricSeries>,
    /// The bundle's capture time: the simulated clock starts there.
    pub captured_at: Option<Timestamp>,
    /// Failures seen in the bundle that new pods inherit ([`crate::dynamics`]).
    pub failures: Vec<crate::dynamics::Failure>,
    /// Every change since the bundle was loaded, oldest first (at most [`MAX_CHANGES`]): what
    /// watches replay from a resourceVersion.
    pub changes: VecDeque<Change>,
    /// The resourceVersion before the oldest retained change: a watch from an older one is
    /// answered `410 Gone`, as a compacted etcd answers it.
    pub compacted: u64,
    /// Tells waiting watches the resourceVersion moved.
    pub notify: tokio::sync::watch::Sender<u64>,
    recording: bool,
    started: Instant,
    seq: u64,
}

impl Store {
    /// Loads every object of a bundle.
    pub fn from_bundle(bundle: &IncidentBundle) -> Result<Self, SimError> {
        let mut store = Store {
            types: resources::builtin(),
            objects: Vec::new(),
            rv: 0,
            logs: bundle.logs.clone(),
            metrics: bundle.metrics.clone(),
            captured_at: bundle.captured_at,
            failures: Vec::new(),
            changes: VecDeque::new(),
            compacted: 0,
            notify: tokio::sync::watch::Sender::new(0),
            recording: false,
            started: Instant::now(),
            seq: 0,
        };
        store.objects = vec![BTreeMap::new(); store.types.len()];
        for obj in inventory_values(&bundle.inventory)? {
            store.load(obj)?;
        }
        store.add_missing_namespaces();
        crate::dynamics::learn(&mut store);
        (store.recording, store.compacted) = (true, store.rv);
        store.notify.send_replace(store.rv);
        Ok(store)
    }

    fn load(&mut self, mut obj: Value) -> Result<(), SimError> {
        let api_version = str_at(&obj, &["apiVersion"]).to_string();
        let kind = str_at(&obj, &["kind"]).to_string();
        let name = str_at(&obj, &["metadata", "name"]).to_string();
        if name.is_empty() {
            return Err(SimError::Object(format!("{kind} without a name"), "metadata.name is required".into()));
        }
        let namespaced = !str_at(&obj, &["metadata", "namespace"]).is_empty();
        let t = match self.type_of(&api_version, &kind) {
            Some(t) => t,
            None => {
                self.types.push(resources::guessed(&api_version, &kind, namespaced));
                self.objects.push(BTreeMap::new());
                self.types.len() - 1
            }
        };
        if kind == "Secret" {
            strip_secret(&mut obj);
        }
        let key = self.key_of(t, &obj);
        if str_at(&obj, &["metadata", "uid"]).is_empty() {
            let uid = uid_for(&format!("{kind}/{}/{}", key.0, key.1));
            set_meta(&mut obj, "uid", Value::String(uid));
        }
        if kind == "Event" && api_version == "v1" {
            let converted = event_to_events_v1(&obj);
            if let Some(t2) = self.type_of("events.k8s.io/v1", "Event") {
                self.insert(t2, converted);
            }
        }
        self.insert(t, obj);
        Ok(())
    }

    fn add_missing_namespaces(&mut self) {
        let Some(ns_type) = self.type_of("v1", "Namespace") else { return };
        let mut used: BTreeSet<String> = BTreeSet::from(["default".to_string(), "kube-system".to_string()]);
        for map in &self.objects {
            used.extend(map.keys().map(|(ns, _)| ns.clone()).filter(|ns| !ns.is_empty()));
        }
        let created = self.captured_at.map(|t| t.to_string());
        for ns in used {
            if !self.objects[ns_type].contains_key(&(String::new(), ns.clone())) {
                let obj = json!({
                    "apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": ns, "uid": uid_for(&format!("Namespace//{ns}")),
                                 "creationTimestamp": created, "labels": {"kubernetes.io/metadata.name": ns}},
                    "spec": {"finalizers": ["kubernetes"]},
                    "status": {"phase": "Active"}
                });
                self.insert(ns_type, obj);
            }
        }
    }

    /// The type index of `apiVersion` + `kind`.
    pub fn type_of(&self, api_version: &str, kind: &str) -> Option<usize> {
        let (group, version) = resources::split_api_version(api_version);
        self.types.iter().position(|t| t.kind == kind && t.group == group && t.version == version)
    }

    /// The type index of a path's group, version and plural.
    pub fn type_by_path(&self, group: &str, version: &str, plural: &str) -> Option<usize> {
        self.types.iter().position(|t| t.plural == plural && t.group == group && t.version == version)
    }

    /// The key of `obj` as stored under type `t`.
    pub fn key_of(&self, t: usize, obj: &Value) -> Key {
        let ns = if self.types[t].namespaced { str_at(obj, &["metadata", "namespace"]) } else { "" };
        (ns.to_string(), str_at(obj, &["metadata", "name"]).to_string())
    }

    /// One object.
    pub fn get(&self, t: usize, ns: &str, name: &str) -> Option<&Value> {
        self.objects[t].get(&(ns.to_string(), name.to_string()))
    }

    /// Stores `obj` (new or replaced) with a fresh resourceVersion and returns the stored copy.
    pub fn insert(&mut self, t: usize, mut obj: Value) -> Value {
        self.rv += 1;
        set_meta(&mut obj, "resourceVersion", Value::String(self.rv.to_string()));
        let key = self.key_of(t, &obj);
        let replaced = self.objects[t].insert(key, obj.clone()).is_some();
        self.record(t, if replaced { ChangeKind::Modified } else { ChangeKind::Added }, &obj);
        obj
    }

    /// Removes an object; bumps the resourceVersion.
    pub fn remove(&mut self, t: usize, ns: &str, name: &str) -> Option<Value> {
        let mut removed = self.objects[t].remove(&(ns.to_string(), name.to_string()));
        if let Some(obj) = removed.as_mut() {
            self.rv += 1;
            set_meta(obj, "resourceVersion", Value::String(self.rv.to_string()));
            let obj = obj.clone();
            self.record(t, ChangeKind::Deleted, &obj);
        }
        removed
    }

    fn record(&mut self, t: usize, kind: ChangeKind, obj: &Value) {
        if !self.recording {
            return;
        }
        if self.changes.len() >= MAX_CHANGES
            && let Some(old) = self.changes.pop_front()
        {
            self.compacted = old.rv;
        }
        self.changes.push_back(Change { rv: self.rv, t, kind, object: obj.clone() });
        self.notify.send_replace(self.rv);
    }

    /// The simulated "now": the bundle's capture time plus the time since the simulator started.
    pub fn now(&self) -> Timestamp {
        let elapsed = jiff::SignedDuration::try_from(self.started.elapsed()).unwrap_or_default();
        match self.captured_at {
            Some(t) => t.checked_add(elapsed).unwrap_or(t),
            None => Timestamp::now(),
        }
    }

    /// The simulated now as the API's RFC 3339 seconds string.
    pub fn now_string(&self) -> String {
        self.now().round(jiff::Unit::Second).unwrap_or_else(|_| self.now()).to_string()
    }

    /// A deterministic pseudo-random suffix of `len` characters from the alphabet Kubernetes
    /// uses for generated names.
    pub fn suffix(&mut self, seed: &str, len: usize) -> String {
        self.seq += 1;
        let digest = Sha256::digest(format!("{seed}/{}", self.seq).as_bytes());
        hash_chars(&digest, len)
    }
}

/// Kubernetes' "safe" alphabet of generated names (no vowels, no confusable digits).
const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// `len` characters of `ALPHABET` taken from `bytes`.
pub fn hash_chars(bytes: &[u8], len: usize) -> String {
    bytes.iter().cycle().take(len).map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char).collect()
}

/// A uuid-shaped id derived from `seed`.
pub fn uid_for(seed: &str) -> String {
    let d = Sha256::digest(seed.as_bytes());
    let h: String = d.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// The string at a path of object keys (`""` when absent or not a string).
pub fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    path.iter().try_fold(v, |v, k| v.get(k)).and_then(Value::as_str).unwrap_or("")
}

/// Sets `metadata.{field}`, creating `metadata` when needed.
pub fn set_meta(obj: &mut Value, field: &str, value: Value) {
    if let Some(o) = obj.as_object_mut() {
        let meta = o.entry("metadata").or_insert_with(|| json!({}));
        if let Some(m) = meta.as_object_mut() {
            m.insert(field.to_string(), value);
        }
    }
}

/// Removes a Secret's `data` and `stringData`: the simulator never holds or serves them.
pub fn strip_secret(obj: &mut Value) {
    if let Some(o) = obj.as_object_mut() {
        o.remove("data");
        o.remove("stringData");
    }
}

fn event_to_events_v1(ev: &Value) -> Value {
    let mut out = json!({
        "apiVersion": "events.k8s.io/v1", "kind": "Event",
        "metadata": ev.get("metadata").cloned().unwrap_or_else(|| json!({})),
    });
    let pairs = [
        ("involvedObject", "regarding"),
        ("message", "note"),
        ("reason", "reason"),
        ("type", "type"),
        ("eventTime", "eventTime"),
        ("count", "deprecatedCount"),
        ("firstTimestamp", "deprecatedFirstTimestamp"),
        ("lastTimestamp", "deprecatedLastTimestamp"),
        ("reportingComponent", "reportingController"),
        ("reportingInstance", "reportingInstance"),
        ("action", "action"),
        ("related", "related"),
        ("source", "deprecatedSource"),
    ];
    if let (Some(src), Some(dst)) = (ev.as_object(), out.as_object_mut()) {
        for (from, to) in pairs {
            if let Some(v) = src.get(from).filter(|v| !v.is_null()) {
                dst.insert(to.to_string(), v.clone());
            }
        }
    }
    out
}

fn to_values<T: Serialize>(items: &[T], out: &mut Vec<Value>) -> Result<(), SimError> {
    for item in items {
        out.push(serde_json::to_value(item).map_err(|e| SimError::Object("inventory".into(), e.to_string()))?);
    }
    Ok(())
}

/// Every object of an inventory as API JSON.
fn inventory_values(inv: &Inventory) -> Result<Vec<Value>, SimError> {
    let mut out = Vec::with_capacity(inv.len());
    macro_rules! all { ($($f:ident),+) => { $(to_values(&inv.$f, &mut out)?;)+ } }
    all!(
        namespaces,
        nodes,
        pods,
        services,
        endpoints,
        endpoint_slices,
        config_maps,
        pvcs,
        pvs,
        service_accounts,
        resource_quotas,
        limit_ranges,
        deployments,
        replica_sets,
        stateful_sets,
        daemon_sets,
        controller_revisions,
        jobs,
        cron_jobs,
        hpas,
        storage_classes,
        ingresses,
        ingress_classes,
        network_policies,
        pdbs,
        mutating_webhooks,
        validating_webhooks,
        events
    );
    for s in &inv.secrets {
        out.push(json!({"apiVersion": "v1", "kind": "Secret", "metadata": s.metadata, "type": s.type_}));
    }
    for g in &inv.others {
        out.push(if g.raw.is_object() { g.raw.clone() } else { serde_json::to_value(g).unwrap_or_default() });
    }
    Ok(out)
}
