//! The resource types the simulated API server knows: the built-in kinds aiops models, plus every
//! other kind found in the bundle.

use serde_json::{Value, json};

/// One served resource type (an `APIResource` of discovery).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceType {
    /// API group (`""` for core).
    pub group: String,
    /// Version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Plural resource name used in paths.
    pub plural: String,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// kubectl short names.
    pub short_names: Vec<String>,
    /// Served subresources (`log`, `scale`, `status`).
    pub subresources: Vec<&'static str>,
}

impl ResourceType {
    /// `apiVersion` of objects of this type.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.clone() } else { format!("{}/{}", self.group, self.version) }
    }

    /// The path prefix (`/api/v1` or `/apis/{group}/{version}`).
    pub fn prefix(&self) -> String {
        if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        }
    }

    /// The `plural.group` name used in messages (`deployments.apps`).
    pub fn qualified(&self) -> String {
        if self.group.is_empty() { self.plural.clone() } else { format!("{}.{}", self.plural, self.group) }
    }

    /// The discovery `APIResource` entries of this type and its subresources.
    pub fn discovery(&self) -> Vec<Value> {
        let verbs = ["create", "delete", "get", "list", "patch", "update", "watch"];
        let mut out = vec![json!({
            "name": self.plural,
            "singularName": self.kind.to_lowercase(),
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": verbs,
            "shortNames": self.short_names,
            "storageVersionHash": "",
        })];
        for sub in &self.subresources {
            let (group, version, kind, verbs): (&str, &str, &str, &[&str]) = match *sub {
                "log" => ("", "v1", "Pod", &["get"]),
                "scale" => ("autoscaling", "v1", "Scale", &["get", "patch", "update"]),
                _ => (self.group.as_str(), self.version.as_str(), self.kind.as_str(), &["get", "patch", "update"]),
            };
            out.push(json!({
                "name": format!("{}/{}", self.plural, sub),
                "singularName": "",
                "namespaced": self.namespaced,
                "group": group,
                "version": version,
                "kind": kind,
                "verbs": verbs,
            }));
        }
        out
    }
}

/// `(group, version, kind, plural, namespaced, short names, subresources)` of the built-in kinds.
type Builtin =
    (&'static str, &'static str, &'static str, &'static str, bool, &'static [&'static str], &'static [&'static str]);

const BUILTIN: &[Builtin] = &[
    ("", "v1", "Pod", "pods", true, &["po"], &["log", "status"]),
    ("", "v1", "Node", "nodes", false, &["no"], &["status"]),
    ("", "v1", "Namespace", "namespaces", false, &["ns"], &["status"]),
    ("", "v1", "Service", "services", true, &["svc"], &["status"]),
    ("", "v1", "Endpoints", "endpoints", true, &["ep"], &[]),
    ("", "v1", "ConfigMap", "configmaps", true, &["cm"], &[]),
    ("", "v1", "Secret", "secrets", true, &[], &[]),
    ("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", true, &["pvc"], &["status"]),
    ("", "v1", "PersistentVolume", "persistentvolumes", false, &["pv"], &["status"]),
    ("", "v1", "ServiceAccount", "serviceaccounts", true, &["sa"], &[]),
    ("", "v1", "ResourceQuota", "resourcequotas", true, &["quota"], &["status"]),
    ("", "v1", "LimitRange", "limitranges", true, &["limits"], &[]),
    ("", "v1", "Event", "events", true, &["ev"], &[]),
    ("apps", "v1", "Deployment", "deployments", true, &["deploy"], &["scale", "status"]),
    ("apps", "v1", "ReplicaSet", "replicasets", true, &["rs"], &["scale", "status"]),
    ("apps", "v1", "StatefulSet", "statefulsets", true, &["sts"], &["scale", "status"]),
    ("apps", "v1", "DaemonSet", "daemonsets", true, &["ds"], &["status"]),
    ("apps", "v1", "ControllerRevision", "controllerrevisions", true, &[], &[]),
    ("batch", "v1", "Job", "jobs", true, &[], &["status"]),
    ("batch", "v1", "CronJob", "cronjobs", true, &["cj"], &["status"]),
    ("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", true, &["hpa"], &["status"]),
    ("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", true, &[], &[]),
    ("events.k8s.io", "v1", "Event", "events", true, &["ev"], &[]),
    ("networking.k8s.io", "v1", "Ingress", "ingresses", true, &["ing"], &["status"]),
    ("networking.k8s.io", "v1", "IngressClass", "ingressclasses", false, &[], &[]),
    ("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", true, &["netpol"], &[]),
    ("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", true, &["pdb"], &["status"]),
    ("storage.k8s.io", "v1", "StorageClass", "storageclasses", false, &["sc"], &[]),
    (
        "admissionregistration.k8s.io",
        "v1",
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
        false,
        &[],
        &[],
    ),
    (
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
        false,
        &[],
        &[],
    ),
];

/// The built-in resource types, served even when the bundle holds none of their objects.
pub fn builtin() -> Vec<ResourceType> {
    BUILTIN
        .iter()
        .map(|(group, version, kind, plural, namespaced, short, subs)| ResourceType {
            group: (*group).into(),
            version: (*version).into(),
            kind: (*kind).into(),
            plural: (*plural).into(),
            namespaced: *namespaced,
            short_names: short.iter().map(|s| (*s).to_string()).collect(),
            subresources: subs.to_vec(),
        })
        .collect()
}

/// A resource type for a kind the built-in table lacks: the plural is the lower-cased kind with
/// English plural rules (`Gateway` -> `gateways`, `Policy` -> `policies`, `Ingress` -> `ingresses`).
pub fn guessed(api_version: &str, kind: &str, namespaced: bool) -> ResourceType {
    let (group, version) = split_api_version(api_version);
    ResourceType {
        group: group.into(),
        version: version.into(),
        kind: kind.into(),
        plural: plural_of(kind),
        namespaced,
        short_names: Vec::new(),
        subresources: Vec::new(),
    }
}

/// Splits `apps/v1` into `("apps", "v1")` and `v1` into `("", "v1")`.
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    api_version.rsplit_once('/').unwrap_or(("", api_version))
}

fn plural_of(kind: &str) -> String {
    let lower = kind.to_lowercase();
    if lower.ends_with('s') || lower.ends_with('x') || lower.ends_with("ch") || lower.ends_with("sh") {
        format!("{lower}es")
    } else if let Some(stem) = lower.strip_suffix('y').filter(|s| !s.ends_with(['a', 'e', 'i', 'o', 'u'])) {
        format!("{stem}ies")
    } else {
        format!("{lower}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals_follow_english_rules() {
        assert_eq!(plural_of("Gateway"), "gateways");
        assert_eq!(plural_of("NetworkPolicy"), "networkpolicies");
        assert_eq!(plural_of("Ingress"), "ingresses");
        assert_eq!(plural_of("Lease"), "leases");
        assert_eq!(guessed("coordination.k8s.io/v1", "Lease", true).prefix(), "/apis/coordination.k8s.io/v1");
    }
}
