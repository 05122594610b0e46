//! Parsing of the three alert wire formats into normalized [`Alert`]s, alert by alert: a bad
//! alert in a batch rejects only itself, a bad body rejects the whole request with a clear 4xx.
//!
//! - Alertmanager webhook v4 (`POST /api/v1/webhooks/alertmanager`, `original-design.md` §2.2);
//! - Grafana unified alerting (`POST /api/v1/webhooks/grafana`, §2.3): common labels and
//!   annotations merged into each alert;
//! - Prometheus' alert push, the body Prometheus sends to an Alertmanager's `POST /api/v2/alerts`
//!   (a JSON array; an alert whose `endsAt` has passed is resolved).
//!
//! The field mapping, titles, severities and fingerprints are `aiops_core::alert`'s, which fixes
//! the original's bugs (no `job`/`grafana_folder` service fallback, the cluster in the
//! fingerprint, long titles truncated). Unlike the original, resolved alerts are kept: they
//! resolve their incident.

use std::collections::BTreeMap;

use aiops_core::alert::{WebhookBody, WireAlert, parse_time};
use aiops_core::{Alert, IncidentSource};
use axum::http::StatusCode;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::error::ApiError;

/// Which endpoint received the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Alertmanager webhook (version 4).
    Alertmanager,
    /// Grafana unified-alerting webhook.
    Grafana,
    /// Prometheus alert push (`/api/v2/alerts`).
    Prometheus,
}

impl Format {
    /// The `source` metric label.
    pub fn source(self) -> &'static str {
        match self {
            Format::Alertmanager => "alertmanager",
            Format::Grafana => "grafana",
            Format::Prometheus => "prometheus",
        }
    }
}

/// One alert of a batch that could not be read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rejected {
    /// Its index in `alerts` (or in the array).
    pub index: usize,
    /// What is wrong, with the JSON path of the bad field.
    pub detail: String,
}

/// A parsed body.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    /// The alerts that parsed, normalized, in body order.
    pub alerts: Vec<Alert>,
    /// The alerts that did not.
    pub rejected: Vec<Rejected>,
    /// The body's group status (`firing` / `resolved`), when it has one.
    pub group_status: Option<String>,
}

/// The top level of an Alertmanager or Grafana body, alerts left raw so each parses alone.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<'a> {
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(borrow)]
    alerts: Vec<&'a RawValue>,
    #[serde(default)]
    group_key: Option<String>,
    #[serde(default)]
    common_labels: BTreeMap<String, String>,
    #[serde(default)]
    common_annotations: BTreeMap<String, String>,
    #[serde(default)]
    org_id: Option<serde_json::Value>,
    #[serde(default)]
    state: Option<String>,
}

/// Maps a serde_json error on the whole body: syntax -> 400 `invalid_json`, shape -> 422.
fn body_error(e: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = e.path().to_string();
    let inner = e.into_inner();
    if inner.is_data() {
        ApiError::invalid_payload(format!("at {path}: {inner}"))
    } else {
        ApiError::invalid_json(inner.to_string())
    }
}

fn parse_wire(raw: &RawValue, index: usize, prefix: &str) -> Result<WireAlert, Rejected> {
    let mut de = serde_json::Deserializer::from_str(raw.get());
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { format!(".{path}") };
        Rejected { index, detail: format!("{prefix}[{index}]{path}: {}", e.into_inner()) }
    })
}

/// Parses one body of `format`. `max_alerts` bounds the alerts of one request (413 above).
pub fn parse(format: Format, body: &[u8], max_alerts: usize, now: Timestamp) -> Result<Parsed, ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_utf8", format!("body is not UTF-8: {e}")))?;
    if text.trim().is_empty() {
        return Err(ApiError::invalid_json("empty body"));
    }
    match format {
        Format::Prometheus => parse_prometheus(text, max_alerts, now),
        Format::Alertmanager | Format::Grafana => parse_webhook(format, text, max_alerts),
    }
}

fn too_many(n: usize, max: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_many_alerts",
        format!("{n} alerts in one request; the limit is {max}"),
    )
}

fn parse_webhook(format: Format, text: &str, max_alerts: usize) -> Result<Parsed, ApiError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let env: Envelope<'_> = serde_path_to_error::deserialize(&mut de).map_err(body_error)?;
    de.end().map_err(|e| ApiError::invalid_json(e.to_string()))?;
    match (format, env.version.as_deref()) {
        (_, None) | (Format::Alertmanager, Some("4")) | (Format::Grafana, Some("1" | "4")) => {}
        (_, Some(v)) => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unsupported_version",
                format!("unsupported {} webhook version {v:?}", format.source()),
            ));
        }
    }
    if env.alerts.len() > max_alerts {
        return Err(too_many(env.alerts.len(), max_alerts));
    }
    let grafana = format == Format::Grafana;
    let header = WebhookBody {
        version: env.version,
        status: env.status.clone(),
        alerts: Vec::new(),
        group_key: env.group_key,
        common_labels: env.common_labels,
        common_annotations: env.common_annotations,
        // The endpoint decides the source, whatever the body looks like.
        org_id: if grafana { Some(env.org_id.unwrap_or(serde_json::Value::Null)) } else { None },
        state: if grafana { env.state } else { None },
    };
    let mut out = Parsed { group_status: env.status, ..Parsed::default() };
    for (i, raw) in env.alerts.into_iter().enumerate() {
        match parse_wire(raw, i, "alerts") {
            Ok(wire) => {
                let body = WebhookBody { alerts: vec![wire], ..header.clone() };
                out.alerts.extend(body.into_alerts());
            }
            Err(r) => out.rejected.push(r),
        }
    }
    Ok(out)
}

fn parse_prometheus(text: &str, max_alerts: usize, now: Timestamp) -> Result<Parsed, ApiError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let raws: Vec<&RawValue> = serde_path_to_error::deserialize(&mut de).map_err(body_error)?;
    de.end().map_err(|e| ApiError::invalid_json(e.to_string()))?;
    if raws.len() > max_alerts {
        return Err(too_many(raws.len(), max_alerts));
    }
    let mut out = Parsed::default();
    for (i, raw) in raws.into_iter().enumerate() {
        match parse_wire(raw, i, "") {
            Ok(wire) => {
                let resolved = parse_time(wire.ends_at.as_deref()).is_some_and(|t| t <= now);
                let body = WebhookBody { alerts: vec![wire], ..WebhookBody::default() };
                for mut a in body.into_alerts() {
                    a.source = IncidentSource::Prometheus;
                    a.status = if resolved { "resolved".into() } else { "firing".into() };
                    if resolved {
                        a.ends_at = a.ends_at.or(Some(now));
                    } else {
                        // Prometheus sends a future `endsAt` (its resend deadline) while firing.
                        a.ends_at = None;
                    }
                    out.alerts.push(a);
                }
            }
            Err(r) => out.rejected.push(r),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2026-03-01T10:45:00Z";

    fn now() -> Timestamp {
        NOW.parse().unwrap()
    }

    #[test]
    fn a_bad_alert_rejects_only_itself() {
        let body = br#"{"version":"4","alerts":[{"labels":{"alertname":"A"}},{"labels":{"alertname":7}},{"labels":{"alertname":"C"}}]}"#;
        let p = parse(Format::Alertmanager, body, 100, now()).unwrap();
        assert_eq!(p.alerts.iter().map(|a| a.alertname.as_str()).collect::<Vec<_>>(), ["A", "C"]);
        assert_eq!(p.rejected.len(), 1);
        assert_eq!(p.rejected[0].index, 1);
        assert!(p.rejected[0].detail.starts_with("alerts[1].labels.alertname"), "{}", p.rejected[0].detail);
    }

    #[test]
    fn syntax_and_shape_errors_are_distinguished() {
        let e = parse(Format::Alertmanager, b"{\"alerts\": [", 100, now()).unwrap_err();
        assert_eq!((e.status, e.code), (StatusCode::BAD_REQUEST, "invalid_json"));
        let e = parse(Format::Alertmanager, br#"{"alerts": "many"}"#, 100, now()).unwrap_err();
        assert_eq!((e.status, e.code), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_payload"));
        assert!(e.message.contains("alerts"), "{}", e.message);
        let e = parse(Format::Alertmanager, br#"{"version":"5","alerts":[]}"#, 100, now()).unwrap_err();
        assert_eq!(e.code, "unsupported_version");
        let e = parse(Format::Alertmanager, b"{\"alerts\":[{\"labels\":{\"a\":\"\xff\"}}]}", 100, now()).unwrap_err();
        assert_eq!((e.status, e.code), (StatusCode::BAD_REQUEST, "invalid_utf8"));
        let e = parse(Format::Prometheus, br#"{"labels":{}}"#, 100, now()).unwrap_err();
        assert_eq!(e.code, "invalid_payload");
    }

    #[test]
    fn prometheus_push_uses_ends_at_for_the_status() {
        let body = br#"[{"labels":{"alertname":"A","namespace":"shop","pod":"p"},"startsAt":"2026-03-01T10:00:00Z","endsAt":"2026-03-01T10:50:00Z"},
                        {"labels":{"alertname":"B"},"endsAt":"2026-03-01T10:40:00Z"}]"#;
        let p = parse(Format::Prometheus, body, 100, now()).unwrap();
        assert_eq!(p.alerts[0].status, "firing");
        assert_eq!(p.alerts[0].source, IncidentSource::Prometheus);
        assert_eq!(p.alerts[0].ends_at, None);
        assert_eq!(p.alerts[1].status, "resolved");
    }

    #[test]
    fn the_endpoint_decides_the_source() {
        let body = br#"{"alerts":[{"labels":{"alertname":"A"}}]}"#;
        assert_eq!(parse(Format::Grafana, body, 10, now()).unwrap().alerts[0].source, IncidentSource::Grafana);
        let body = br#"{"orgId":1,"alerts":[{"labels":{"alertname":"A"}}]}"#;
        assert_eq!(
            parse(Format::Alertmanager, body, 10, now()).unwrap().alerts[0].source,
            IncidentSource::Alertmanager
        );
    }

    #[test]
    fn too_many_alerts_is_413() {
        let body = format!("{{\"alerts\":[{}]}}", ["{}"; 11].join(","));
        let e = parse(Format::Alertmanager, body.as_bytes(), 10, now()).unwrap_err();
        assert_eq!((e.status, e.code), (StatusCode::PAYLOAD_TOO_LARGE, "too_many_alerts"));
    }
}
