//! Kubernetes objects as k8s-openapi types where they exist, generic otherwise, and the
//! [`Inventory`] that holds one capture of them.

use std::collections::HashMap;

use k8s_openapi::api::{
    admissionregistration::v1 as admission, apps::v1 as apps, autoscaling::v2 as autoscaling, batch::v1 as batch,
    core::v1 as core, discovery::v1 as discovery, events::v1 as events, networking::v1 as networking,
    policy::v1 as policy, storage::v1 as storage,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};

/// An object of a kind aiops has no typed model for (CRDs, Gateways, ...): kept whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenericObject {
    /// `group/version`.
    #[serde(rename = "apiVersion", default)]
    pub api_version: String,
    /// Kind.
    pub kind: String,
    /// Metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The whole object as received.
    #[serde(skip)]
    pub raw: serde_json::Value,
}

/// A Secret's metadata and type: aiops never reads or keeps a Secret's data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecretMeta {
    /// Metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// `Opaque`, `kubernetes.io/tls`, ...
    #[serde(rename = "type", default)]
    pub type_: Option<String>,
    /// Configuration files in the Secret's data that do not parse (checked when the Secret is
    /// read from a bundle with its data; the data itself is dropped right after).
    #[serde(rename = "invalidConfigFiles", default, skip_serializing_if = "Vec::is_empty")]
    pub invalid_config_files: Vec<crate::config_file::InvalidConfigFile>,
}

/// A Secret as sent by the API or kept in a bundle: its data is read once, to check the
/// configuration files it carries, and never kept.
#[derive(Deserialize)]
struct SecretWire {
    #[serde(flatten)]
    meta: SecretMeta,
    #[serde(default)]
    data: Option<std::collections::BTreeMap<String, String>>,
    #[serde(rename = "stringData", default)]
    string_data: Option<std::collections::BTreeMap<String, String>>,
}

impl From<SecretWire> for SecretMeta {
    fn from(w: SecretWire) -> Self {
        let mut meta = w.meta;
        use base64::Engine as _;
        // Only configuration files are decoded; a value that is not base64 is not a file we can
        // judge: skipped, not an error.
        let decoded: Vec<(String, Vec<u8>)> = (w.data.unwrap_or_default().into_iter())
            .filter(|(k, _)| crate::config_file::is_config_file(k))
            .filter_map(|(k, v)| base64::engine::general_purpose::STANDARD.decode(v).ok().map(|b| (k, b)))
            .collect();
        let strings = w.string_data.unwrap_or_default();
        let files = (decoded.iter().map(|(k, v)| (k.as_str(), v.as_slice())))
            .chain(strings.iter().map(|(k, v)| (k.as_str(), v.as_bytes())));
        meta.invalid_config_files.extend(crate::config_file::invalid_files(files));
        meta
    }
}

macro_rules! inventory {
    ($($field:ident : $ty:ty => $kind:literal @ [$($api:literal),+]),+ $(,)?) => {
        /// One capture of cluster state: every object, by kind.
        #[derive(Debug, Clone, Default)]
        pub struct Inventory {
            $(
                #[doc = concat!("Every `", $kind, "`.")]
                pub $field: Vec<$ty>,
            )+
            /// Secrets (metadata only).
            pub secrets: Vec<SecretMeta>,
            /// Events, core/v1 and events.k8s.io/v1 alike (converted to core/v1).
            pub events: Vec<core::Event>,
            /// Objects of every other kind.
            pub others: Vec<GenericObject>,
        }

        impl Inventory {
            /// Parses one object from its JSON text; `path` prefixes errors.
            pub fn push_json(&mut self, json: &str, path: &str) -> Result<()> {
                let head: TypeHead = parse_str(json, path)?;
                match (head.kind.as_str(), head.api_version.as_str()) {
                    $(($kind, $($api)|+) => self.$field.push(parse_str(json, path)?),)+
                    ("Secret", "v1") => self.secrets.push(parse_str::<SecretWire>(json, path)?.into()),
                    ("Event", "v1") => self.events.push(parse_str(json, path)?),
                    ("Event", "events.k8s.io/v1") => {
                        let ev: events::Event = parse_str(json, path)?;
                        self.events.push(convert_event(ev));
                    }
                    ("", _) => return Err(CoreError::invalid(join(path, "kind"), "missing field `kind`")),
                    _ => {
                        let mut g: GenericObject = parse_str(json, path)?;
                        g.raw = parse_str(json, path)?;
                        self.others.push(g);
                    }
                }
                Ok(())
            }

            /// How many objects of all kinds.
            pub fn len(&self) -> usize {
                0 $(+ self.$field.len())+ + self.secrets.len() + self.events.len() + self.others.len()
            }

            /// Appends the objects of `other` this inventory does not hold yet (an object is its
            /// kind, namespace and name; nameless objects are always appended): two collectors
            /// reading the same cluster merge into one copy of each object.
            pub fn extend(&mut self, other: Inventory) {
                $(extend_new(&mut self.$field, other.$field, |o| (None, &o.metadata));)+
                extend_new(&mut self.secrets, other.secrets, |o| (None, &o.metadata));
                extend_new(&mut self.events, other.events, |o| (None, &o.metadata));
                extend_new(&mut self.others, other.others, |o| (Some(o.kind.as_str()), &o.metadata));
            }
        }
    };
}

inventory! {
    pods: core::Pod => "Pod" @ ["v1"],
    nodes: core::Node => "Node" @ ["v1"],
    services: core::Service => "Service" @ ["v1"],
    endpoints: core::Endpoints => "Endpoints" @ ["v1"],
    endpoint_slices: discovery::EndpointSlice => "EndpointSlice" @ ["discovery.k8s.io/v1"],
    config_maps: core::ConfigMap => "ConfigMap" @ ["v1"],
    pvcs: core::PersistentVolumeClaim => "PersistentVolumeClaim" @ ["v1"],
    pvs: core::PersistentVolume => "PersistentVolume" @ ["v1"],
    namespaces: core::Namespace => "Namespace" @ ["v1"],
    service_accounts: core::ServiceAccount => "ServiceAccount" @ ["v1"],
    resource_quotas: core::ResourceQuota => "ResourceQuota" @ ["v1"],
    limit_ranges: core::LimitRange => "LimitRange" @ ["v1"],
    deployments: apps::Deployment => "Deployment" @ ["apps/v1"],
    replica_sets: apps::ReplicaSet => "ReplicaSet" @ ["apps/v1"],
    stateful_sets: apps::StatefulSet => "StatefulSet" @ ["apps/v1"],
    daemon_sets: apps::DaemonSet => "DaemonSet" @ ["apps/v1"],
    controller_revisions: apps::ControllerRevision => "ControllerRevision" @ ["apps/v1"],
    jobs: batch::Job => "Job" @ ["batch/v1"],
    cron_jobs: batch::CronJob => "CronJob" @ ["batch/v1"],
    hpas: autoscaling::HorizontalPodAutoscaler => "HorizontalPodAutoscaler" @ ["autoscaling/v2"],
    storage_classes: storage::StorageClass => "StorageClass" @ ["storage.k8s.io/v1"],
    ingresses: networking::Ingress => "Ingress" @ ["networking.k8s.io/v1"],
    ingress_classes: networking::IngressClass => "IngressClass" @ ["networking.k8s.io/v1"],
    network_policies: networking::NetworkPolicy => "NetworkPolicy" @ ["networking.k8s.io/v1"],
    pdbs: policy::PodDisruptionBudget => "PodDisruptionBudget" @ ["policy/v1"],
    mutating_webhooks: admission::MutatingWebhookConfiguration => "MutatingWebhookConfiguration" @ ["admissionregistration.k8s.io/v1"],
    validating_webhooks: admission::ValidatingWebhookConfiguration => "ValidatingWebhookConfiguration" @ ["admissionregistration.k8s.io/v1"],
}

impl Inventory {
    /// True when there are no objects.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Appends the items of `theirs` whose kind (for generic objects), namespace and name no item
/// of `mine` has.
fn extend_new<T>(mine: &mut Vec<T>, theirs: Vec<T>, id: impl Fn(&T) -> (Option<&str>, &ObjectMeta)) {
    if mine.is_empty() {
        *mine = theirs;
        return;
    }
    let key = |o: &T| {
        let (kind, m) = id(o);
        m.name.clone().map(|n| (kind.map(str::to_string), m.namespace.clone(), n))
    };
    let held: std::collections::HashSet<_> = mine.iter().filter_map(key).collect();
    mine.extend(theirs.into_iter().filter(|o| key(o).is_none_or(|k| !held.contains(&k))));
}

#[derive(Deserialize)]
struct TypeHead {
    #[serde(default)]
    kind: String,
    #[serde(rename = "apiVersion", default)]
    api_version: String,
}

fn join(prefix: &str, path: &str) -> String {
    match (prefix.is_empty(), path) {
        (true, _) => path.to_string(),
        (false, "." | "") => prefix.to_string(),
        (false, p) if p.starts_with('[') => format!("{prefix}{p}"),
        (false, p) => format!("{prefix}.{p}"),
    }
}

/// Deserializes `json`, reporting the JSON path (prefixed by `prefix`) of the first bad field.
pub fn parse_str<'a, T: Deserialize<'a>>(json: &'a str, prefix: &str) -> Result<T> {
    let mut de = serde_json::Deserializer::from_str(json);
    let value = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| CoreError::invalid(join(prefix, &e.path().to_string()), e.inner().to_string()))?;
    de.end().map_err(|e| CoreError::invalid(join(prefix, "."), e.to_string()))?;
    Ok(value)
}

/// Converts an events.k8s.io/v1 Event into the core/v1 shape the rules read.
pub fn convert_event(ev: events::Event) -> core::Event {
    let count = ev.series.as_ref().map(|s| s.count).or(ev.deprecated_count);
    let last = ev
        .series
        .as_ref()
        .map(|s| k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(s.last_observed_time.0))
        .or(ev.deprecated_last_timestamp)
        .or_else(|| ev.event_time.as_ref().map(|t| k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(t.0)));
    core::Event {
        metadata: ev.metadata,
        involved_object: ev.regarding.unwrap_or_default(),
        reason: ev.reason,
        message: ev.note,
        type_: ev.type_,
        count,
        first_timestamp: ev.deprecated_first_timestamp,
        last_timestamp: last,
        event_time: ev.event_time,
        action: ev.action,
        reporting_component: Some(ev.reporting_controller.unwrap_or_default()).filter(|s| !s.is_empty()),
        reporting_instance: ev.reporting_instance,
        related: ev.related,
        series: None,
        source: None,
    }
}

/// `namespace/name` index over objects with metadata.
pub fn index_by_name<T>(items: &[T], meta: impl Fn(&T) -> &ObjectMeta) -> HashMap<(String, String), usize> {
    items
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let m = meta(o);
            ((m.namespace.clone().unwrap_or_default(), m.name.clone().unwrap_or_default()), i)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_data_is_checked_then_dropped() {
        // "{" base64-encoded under a JSON name, "a: 1" as stringData, and a value that is not base64.
        let json = r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s","namespace":"n"},"type":"Opaque",
            "data":{"bad.json":"ew==","token":"c2VjcmV0","odd.yaml":"not base64!"},"stringData":{"ok.yaml":"a: 1"}}"#;
        let mut inv = Inventory::default();
        inv.push_json(json, "objects[0]").unwrap();
        let s = &inv.secrets[0];
        let keys: Vec<&str> = s.invalid_config_files.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(keys, ["bad.json"]);
        let kept = serde_json::to_string(s).unwrap();
        assert!(!kept.contains("c2VjcmV0") && !kept.contains("ew=="), "{kept}");
        let mut again = Inventory::default();
        again.push_json(&kept.replacen('{', r#"{"apiVersion":"v1","kind":"Secret","#, 1), "x").unwrap();
        assert_eq!(again.secrets[0].invalid_config_files, s.invalid_config_files);
    }

    #[test]
    fn extending_keeps_one_copy_of_each_object() {
        let pod = |name: &str, ns: &str| {
            format!(r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"{name}","namespace":"{ns}"}}}}"#)
        };
        let generic =
            |kind: &str| format!(r#"{{"apiVersion":"x.io/v1","kind":"{kind}","metadata":{{"name":"same"}}}}"#);
        let mut a = Inventory::default();
        a.push_json(&pod("p", "n1"), "a").unwrap();
        a.push_json(&generic("Gateway"), "a").unwrap();
        let mut b = Inventory::default();
        for json in [pod("p", "n1"), pod("p", "n2"), pod("q", "n1"), generic("Gateway"), generic("Route")] {
            b.push_json(&json, "b").unwrap();
        }
        a.extend(b);
        let pods: Vec<_> = a.pods.iter().map(|p| (p.metadata.namespace.clone(), p.metadata.name.clone())).collect();
        assert_eq!(pods.len(), 3, "{pods:?}");
        let kinds: Vec<&str> = a.others.iter().map(|o| o.kind.as_str()).collect();
        assert_eq!(kinds, ["Gateway", "Route"]);
    }

    #[test]
    fn typed_and_generic_objects_land_in_their_place() {
        let mut inv = Inventory::default();
        inv.push_json(r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a","namespace":"n"}}"#, "objects[0]")
            .unwrap();
        inv.push_json(
            r#"{"apiVersion":"gateway.networking.k8s.io/v1","kind":"Gateway","metadata":{"name":"g"},"spec":{"x":1}}"#,
            "objects[1]",
        )
        .unwrap();
        inv.push_json(
            r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"data":{"k":"c2VjcmV0"}}"#,
            "objects[2]",
        )
        .unwrap();
        assert_eq!(inv.pods.len(), 1);
        assert_eq!(inv.others[0].kind, "Gateway");
        assert_eq!(inv.others[0].raw["spec"]["x"], 1);
        assert_eq!(inv.secrets[0].metadata.name.as_deref(), Some("s"));
        assert_eq!(inv.len(), 3);
    }

    #[test]
    fn bad_fields_are_reported_with_their_path() {
        let mut inv = Inventory::default();
        let err = inv
            .push_json(
                r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a"},"status":{"containerStatuses":[{"name":"c","ready":"yes"}]}}"#,
                "objects[12]",
            )
            .unwrap_err();
        assert!(err.to_string().contains("objects[12].status.containerStatuses[0].ready"), "{err}");
        let err = inv.push_json(r#"{"apiVersion":"v1","metadata":{}}"#, "objects[3]").unwrap_err();
        assert!(err.to_string().contains("objects[3].kind"), "{err}");
    }

    #[test]
    fn new_style_events_are_converted() {
        let mut inv = Inventory::default();
        inv.push_json(
            r#"{"apiVersion":"events.k8s.io/v1","kind":"Event","metadata":{"name":"e","namespace":"n"},
               "eventTime":"2026-03-01T10:00:00.000000Z","regarding":{"kind":"Pod","name":"p","namespace":"n"},
               "reason":"BackOff","note":"Back-off restarting","type":"Warning","deprecatedCount":4}"#,
            "objects[0]",
        )
        .unwrap();
        let e = &inv.events[0];
        assert_eq!(e.involved_object.name.as_deref(), Some("p"));
        assert_eq!(e.message.as_deref(), Some("Back-off restarting"));
        assert_eq!(e.count, Some(4));
        assert!(e.last_timestamp.is_some());
    }
}
