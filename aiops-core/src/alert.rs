//! Alert normalization: Alertmanager (v4), Grafana unified alerting and bare alerts become
//! [`Alert`]s, and an alert becomes an [`Incident`] with the original's title, severity and
//! fingerprint rules (with its bugs fixed: no `job`/`grafana_folder` service fallback, the
//! cluster in the fingerprint, long titles truncated).

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::CoreError;
use crate::model::{Alert, Incident, IncidentSource, IncidentStatus, Severity};

/// Longest title kept (the original rejected longer ones with a 500).
pub const MAX_TITLE_CHARS: usize = 500;

/// One alert as Alertmanager and Grafana send it inside a webhook body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WireAlert {
    /// `firing` or `resolved`.
    pub status: Option<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// RFC 3339 start.
    pub starts_at: Option<String>,
    /// RFC 3339 end (`0001-01-01T00:00:00Z` while firing).
    pub ends_at: Option<String>,
    /// Sender fingerprint.
    pub fingerprint: Option<String>,
}

/// An Alertmanager (v4) or Grafana unified-alerting webhook body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WebhookBody {
    /// `4` for Alertmanager.
    pub version: Option<String>,
    /// Group status.
    pub status: Option<String>,
    /// The alerts.
    pub alerts: Vec<WireAlert>,
    /// Group key.
    pub group_key: Option<String>,
    /// Labels common to all alerts.
    pub common_labels: BTreeMap<String, String>,
    /// Annotations common to all alerts.
    pub common_annotations: BTreeMap<String, String>,
    /// Grafana only.
    pub org_id: Option<serde_json::Value>,
    /// Grafana only.
    pub state: Option<String>,
}

/// Parses a timestamp, treating Go's zero time and garbage as absent.
pub fn parse_time(s: Option<&str>) -> Option<Timestamp> {
    let t: Timestamp = s?.parse().ok()?;
    (t.as_second() > 0).then_some(t)
}

impl WireAlert {
    fn normalize(self, source: IncidentSource, common: Option<&WebhookBody>, group_key: Option<String>) -> Alert {
        let mut labels = common.map(|c| c.common_labels.clone()).unwrap_or_default();
        labels.extend(self.labels);
        let mut annotations = common.map(|c| c.common_annotations.clone()).unwrap_or_default();
        annotations.extend(self.annotations);
        let fallback = if source == IncidentSource::Grafana { "Grafana Alert" } else { "Unknown Alert" };
        Alert {
            source,
            status: self.status.unwrap_or_else(|| "firing".into()),
            alertname: labels.get("alertname").cloned().unwrap_or_else(|| fallback.into()),
            labels,
            annotations,
            starts_at: parse_time(self.starts_at.as_deref()),
            ends_at: parse_time(self.ends_at.as_deref()),
            group_key,
            source_fingerprint: self.fingerprint,
        }
    }
}

impl WebhookBody {
    /// Grafana bodies carry `orgId` or `state`; Alertmanager's do not.
    pub fn source(&self) -> IncidentSource {
        if self.org_id.is_some() || self.state.is_some() {
            IncidentSource::Grafana
        } else {
            IncidentSource::Alertmanager
        }
    }

    /// Every alert in the body, normalized (firing and resolved).
    pub fn into_alerts(self) -> Vec<Alert> {
        let source = self.source();
        let common = WebhookBody { alerts: Vec::new(), ..self.clone() };
        let merge = (source == IncidentSource::Grafana).then_some(&common);
        self.alerts.into_iter().map(|a| a.normalize(source, merge, self.group_key.clone())).collect()
    }
}

/// Normalizes the `alert` field of a bundle: a webhook body or one bare alert.
pub fn alerts_from_value(value: &serde_json::Value) -> Result<Vec<Alert>, CoreError> {
    let is_body = value.get("alerts").is_some();
    if is_body {
        let body: WebhookBody = crate::bundle::from_value_at(value, "alert")?;
        Ok(body.into_alerts())
    } else {
        let bare: WireAlert = crate::bundle::from_value_at(value, "alert")?;
        Ok(vec![bare.normalize(IncidentSource::Manual, None, None)])
    }
}

/// The original fingerprint `sha256("{source}:{alertname}:{namespace}:{service}")[:32]`,
/// with `:{cluster}` appended when the cluster is known (the original ignored it).
pub fn fingerprint(source: &str, alertname: &str, namespace: &str, service: &str, cluster: Option<&str>) -> String {
    let mut key = format!("{source}:{alertname}:{namespace}:{service}");
    if let Some(c) = cluster {
        key.push(':');
        key.push_str(c);
    }
    hex(&Sha256::digest(key.as_bytes()))[..32].to_string()
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A stable UUID-shaped id derived from `parts`.
pub fn stable_id(parts: &[&str]) -> String {
    let h = hex(&Sha256::digest(parts.join("\u{1f}").as_bytes()));
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// Truncates to `max` characters, on a character boundary, marking the cut with `…`.
pub fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The workload an alert names: `service`, then `deployment`/`statefulset`/`daemonset`
/// (never `job`, which is the scrape job on kube-state-metrics alerts).
pub fn service_of(labels: &BTreeMap<String, String>) -> Option<String> {
    ["service", "deployment", "statefulset", "daemonset"]
        .iter()
        .find_map(|k| labels.get(*k).filter(|v| !v.is_empty()).cloned())
}

/// Builds the incident an alert opens. `cluster` overrides the alert's cluster label.
pub fn incident_from_alert(alert: &Alert, cluster: Option<&str>, now: Timestamp) -> Incident {
    let l = &alert.labels;
    let namespace = l.get("namespace").cloned().unwrap_or_else(|| "default".into());
    let cluster_label = l.get("cluster").or_else(|| l.get("kubernetes_cluster")).map(String::as_str);
    let cluster_name = cluster.or(cluster_label).map(str::to_string);
    let service = service_of(l);
    let pod = l.get("pod").cloned();
    let title = match (alert.source, &pod, &service) {
        (IncidentSource::Grafana, _, _) if alert.annotations.contains_key("summary") => {
            alert.annotations["summary"].clone()
        }
        (_, Some(p), _) => format!("{}: {p}", alert.alertname),
        (_, None, Some(s)) => format!("{}: {s}", alert.alertname),
        _ => alert.alertname.clone(),
    };
    let key_service = service.clone().or_else(|| pod.clone()).unwrap_or_default();
    let fp = fingerprint(alert.source.as_str(), &alert.alertname, &namespace, &key_service, cluster_name.as_deref());
    let started_at = alert.starts_at.unwrap_or(now);
    Incident {
        id: stable_id(&[&fp, &started_at.to_string()]),
        fingerprint: fp,
        title: truncate_chars(&title, MAX_TITLE_CHARS),
        description: alert.annotations.get("description").or_else(|| alert.annotations.get("summary")).cloned(),
        severity: Severity::from_label(l.get("severity").map(String::as_str)),
        status: IncidentStatus::Open,
        source: alert.source,
        cluster: cluster_name.unwrap_or_else(|| "default-cluster".into()),
        namespace,
        service,
        pod,
        labels: alert.labels.clone(),
        annotations: alert.annotations.clone(),
        started_at,
    }
}

/// The synthetic incident of a cluster scan (no alert).
pub fn scan_incident(cluster: Option<&str>, now: Timestamp) -> Incident {
    let cluster = cluster.unwrap_or("default-cluster").to_string();
    let fp = fingerprint("synthetic", "ClusterScan", "", "", Some(&cluster));
    Incident {
        id: stable_id(&[&fp, &now.to_string()]),
        fingerprint: fp,
        title: format!("Cluster scan: {cluster}"),
        description: None,
        severity: Severity::Medium,
        status: IncidentStatus::Open,
        source: IncidentSource::Synthetic,
        cluster,
        namespace: String::new(),
        service: None,
        pod: None,
        labels: BTreeMap::new(),
        annotations: BTreeMap::new(),
        started_at: now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_keeps_the_original_test_vectors() {
        assert_eq!(
            fingerprint("alertmanager", "PodCrashLooping", "prod", "api-server", None),
            "9ccb2faa469b396c5877ef0c4a670113"
        );
        assert_eq!(
            fingerprint("grafana", "PodCrashLooping", "shop", "Kubernetes", None),
            "f76e64cde9b8f626eb91a3cb21a16961"
        );
        assert_ne!(
            fingerprint("alertmanager", "PodCrashLooping", "prod", "api-server", Some("eu")),
            fingerprint("alertmanager", "PodCrashLooping", "prod", "api-server", Some("us")),
        );
    }

    #[test]
    fn kube_state_metrics_job_is_not_the_service() {
        let v = serde_json::json!({"version":"4","alerts":[{"status":"firing","labels":{
            "alertname":"KubePodCrashLooping","namespace":"shop","pod":"cart-1","job":"kube-state-metrics",
            "severity":"warning"},"startsAt":"2026-03-01T10:40:00.123456789Z"}]});
        let alerts = alerts_from_value(&v).unwrap();
        let inc = incident_from_alert(&alerts[0], None, Timestamp::UNIX_EPOCH);
        assert_eq!(inc.service, None);
        assert_eq!(inc.title, "KubePodCrashLooping: cart-1");
        assert_eq!(inc.severity, Severity::Medium);
        assert_eq!(inc.cluster, "default-cluster");
        assert_eq!(inc.started_at.to_string(), "2026-03-01T10:40:00.123456789Z");
    }

    #[test]
    fn grafana_bodies_merge_common_labels_and_ignore_the_folder() {
        let v = serde_json::json!({"status":"firing","orgId":1,"commonLabels":{"namespace":"shop"},
            "alerts":[{"status":"firing","labels":{"alertname":"PodCrashLooping","grafana_folder":"Kubernetes"},
            "annotations":{"summary":"checkout restarts"}}]});
        let alerts = alerts_from_value(&v).unwrap();
        assert_eq!(alerts[0].source, IncidentSource::Grafana);
        let inc = incident_from_alert(&alerts[0], None, Timestamp::UNIX_EPOCH);
        assert_eq!(inc.namespace, "shop");
        assert_eq!(inc.service, None);
        assert_eq!(inc.title, "checkout restarts");
    }

    #[test]
    fn long_titles_are_truncated_on_a_char_boundary() {
        let long = "é".repeat(800);
        let t = truncate_chars(&long, MAX_TITLE_CHARS);
        assert_eq!(t.chars().count(), MAX_TITLE_CHARS);
    }

    #[test]
    fn a_bad_alert_names_the_path() {
        let v = serde_json::json!({"alerts":[{"labels":{"alertname":7}}]});
        let err = alerts_from_value(&v).unwrap_err().to_string();
        assert!(err.contains("alert.alerts[0].labels.alertname"), "{err}");
    }
}
