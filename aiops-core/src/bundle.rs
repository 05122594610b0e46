//! Incident bundles (`aiops/v1`): one JSON or YAML document holding everything needed to
//! diagnose an incident offline. Bad input is an error naming the JSON path of the bad field.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::error::{CoreError, Result};
use crate::model::Alert;
use crate::object::{Inventory, parse_str};
use crate::observation::{LogRecord, MetricSeries, Observations};

/// Largest bundle accepted by default (512 MiB).
pub const DEFAULT_MAX_BUNDLE_BYTES: usize = 512 * 1024 * 1024;

/// The `expected` block used by evaluation (ignored by analysis).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Expected {
    /// A cause of `causes.md`, or `none` for a healthy bundle.
    pub cause: String,
    /// `Kind/namespace/name` of the root object.
    #[serde(default)]
    pub resource: Option<String>,
    /// Other defensible causes.
    #[serde(default)]
    pub alternates: Vec<String>,
}

/// A parsed incident bundle.
#[derive(Debug, Clone, Default)]
pub struct IncidentBundle {
    /// The "now" of the incident.
    pub captured_at: Option<Timestamp>,
    /// Cluster name.
    pub cluster: Option<String>,
    /// `dev`, `staging`, `uat` or `prod`.
    pub environment: Option<String>,
    /// The normalized alerts (empty: cluster scan).
    pub alerts: Vec<Alert>,
    /// Objects.
    pub inventory: Inventory,
    /// Logs.
    pub logs: Vec<LogRecord>,
    /// Metrics.
    pub metrics: Vec<MetricSeries>,
    /// Evaluation expectation.
    pub expected: Option<Expected>,
}

impl IncidentBundle {
    /// The bundle's contents as collector observations.
    pub fn into_observations(self) -> Observations {
        Observations {
            inventory: std::sync::Arc::new(self.inventory),
            logs: self.logs,
            metrics: self.metrics,
            alerts: self.alerts,
            captured_at: self.captured_at,
            cluster: self.cluster,
            environment: self.environment,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBundle<'a> {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    captured_at: Option<String>,
    #[serde(default)]
    cluster: Option<String>,
    #[serde(default)]
    environment: Option<String>,
    #[serde(default, borrow)]
    alert: Option<&'a RawValue>,
    #[serde(default, borrow)]
    objects: Vec<&'a RawValue>,
    #[serde(default, borrow)]
    items: Vec<&'a RawValue>,
    #[serde(default)]
    logs: Vec<LogRecord>,
    #[serde(default)]
    metrics: Vec<MetricSeries>,
    #[serde(default)]
    expected: Option<Expected>,
}

#[derive(Deserialize)]
struct RawList<'a> {
    #[serde(default)]
    kind: String,
    #[serde(default, borrow)]
    items: Vec<&'a RawValue>,
}

/// Parses a bundle from JSON or YAML bytes.
pub fn parse_bundle(bytes: &[u8]) -> Result<IncidentBundle> {
    parse_bundle_limited(bytes, DEFAULT_MAX_BUNDLE_BYTES)
}

/// Parses a bundle, rejecting input larger than `limit` bytes.
pub fn parse_bundle_limited(bytes: &[u8], limit: usize) -> Result<IncidentBundle> {
    if bytes.len() > limit {
        return Err(CoreError::TooLarge { size: bytes.len(), limit });
    }
    let text = std::str::from_utf8(bytes).map_err(|e| CoreError::invalid(".", format!("not UTF-8: {e}")))?;
    if text.trim_start().starts_with('{') {
        parse_json(text)
    } else {
        let value: serde_json::Value =
            serde_norway::from_str(text).map_err(|e| CoreError::invalid(".", format!("invalid YAML: {e}")))?;
        let json = serde_json::to_string(&value).map_err(|e| CoreError::invalid(".", e.to_string()))?;
        parse_json(&json)
    }
}

fn parse_json(text: &str) -> Result<IncidentBundle> {
    let raw: RawBundle<'_> = parse_str(text, "")?;
    let mut bundle = IncidentBundle {
        captured_at: raw
            .captured_at
            .as_deref()
            .map(|s| s.parse::<Timestamp>().map_err(|e| CoreError::invalid("capturedAt", e.to_string())))
            .transpose()?,
        cluster: raw.cluster,
        environment: raw.environment,
        logs: raw.logs,
        metrics: raw.metrics,
        expected: raw.expected,
        ..Default::default()
    };
    if let Some(alert) = raw.alert {
        let value: serde_json::Value = parse_str(alert.get(), "alert")?;
        if !value.is_null() {
            bundle.alerts = crate::alert::alerts_from_value(&value)?;
        }
    }
    // A bare `kubectl get -o json` List is accepted as a bundle of objects.
    let (objects, field) = match raw.kind.as_deref() {
        Some("List") => (raw.items, "items"),
        _ => (raw.objects, "objects"),
    };
    for (i, obj) in objects.iter().enumerate() {
        push_object(&mut bundle.inventory, obj.get(), &format!("{field}[{i}]"))?;
    }
    Ok(bundle)
}

fn push_object(inv: &mut Inventory, json: &str, path: &str) -> Result<()> {
    let list: RawList<'_> = parse_str(json, path)?;
    if list.kind.ends_with("List") && !list.items.is_empty() || list.kind == "List" {
        for (j, item) in list.items.iter().enumerate() {
            push_object(inv, item.get(), &format!("{path}.items[{j}]"))?;
        }
        return Ok(());
    }
    inv.push_json(json, path)
}

/// Deserializes a JSON value, prefixing error paths with `prefix`.
pub fn from_value_at<T: serde::de::DeserializeOwned>(value: &serde_json::Value, prefix: &str) -> Result<T> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let p = e.path().to_string();
        let path = if p == "." { prefix.to_string() } else { format!("{prefix}.{p}") };
        CoreError::invalid(path, e.inner().to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_yaml_bundles_parse_the_same() {
        let json = r#"{"apiVersion":"aiops/v1","kind":"IncidentBundle","capturedAt":"2026-03-01T10:45:00Z",
            "objects":[{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a","namespace":"n"}}]}],
            "unknownField":{"x":1},"expected":{"cause":"none"}}"#;
        let yaml = "apiVersion: aiops/v1\nkind: IncidentBundle\ncapturedAt: 2026-03-01T10:45:00Z\nobjects:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: a, namespace: n}\n";
        let a = parse_bundle(json.as_bytes()).unwrap();
        let b = parse_bundle(yaml.as_bytes()).unwrap();
        assert_eq!(a.inventory.pods, b.inventory.pods);
        assert_eq!(a.captured_at, b.captured_at);
        assert_eq!(a.expected.unwrap().cause, "none");
    }

    #[test]
    fn errors_name_the_path() {
        let cases = [
            (r#"{"objects":[{"apiVersion":"v1","kind":"Pod","metadata":{"name":5}}]}"#, "objects[0].metadata.name"),
            (r#"{"objects":[{"apiVersion":"v1","metadata":{}}]}"#, "objects[0].kind"),
            (
                r#"{"objects":[{"kind":"List","items":[{"kind":"Node","apiVersion":"v1","spec":{"unschedulable":"x"}}]}]}"#,
                "objects[0].items[0].spec.unschedulable",
            ),
            (r#"{"capturedAt":"yesterday"}"#, "capturedAt"),
            (r#"{"logs":[{"namespace":"a"}]}"#, "logs[0]"),
            (r#"{"objects":[{"kind":"Pod""#, "objects[0]"),
        ];
        for (input, path) in cases {
            let err = parse_bundle(input.as_bytes()).unwrap_err();
            match &err {
                CoreError::Invalid { path: p, .. } => assert!(p.starts_with(path), "{input}: {err}"),
                other => panic!("{input}: unexpected {other}"),
            }
        }
    }

    #[test]
    fn deep_nesting_and_oversize_are_errors_not_crashes() {
        let deep = format!("{{\"objects\":[{}{}]}}", "[".repeat(200_000), "]".repeat(200_000));
        assert!(parse_bundle(deep.as_bytes()).is_err());
        let err = parse_bundle_limited(b"{}", 1).unwrap_err();
        assert!(matches!(err, CoreError::TooLarge { .. }));
        assert!(parse_bundle(b"\xff\xfe").is_err());
        assert!(parse_bundle(b"- [unclosed").is_err());
    }
}
