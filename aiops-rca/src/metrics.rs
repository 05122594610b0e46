//! Metric intelligence: Prometheus results become evidence with correct units. Memory in
//! bytes is divided by the container's limit (never read as a percentage); ratios stay ratios.

use aiops_core::model::{EvidenceKind, EvidenceSource, ResourceRef};
use aiops_core::observation::MetricSeries;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use serde_json::json;

use crate::extract::{Ctx, Signals, evidence};

/// Parses a Kubernetes quantity (`256Mi`, `1G`, `500m`, `2`) into a number of base units.
pub fn quantity(q: &str) -> Option<f64> {
    let q = q.trim();
    let split = q.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(q.len());
    let (num, unit) = q.split_at(split);
    let n: f64 = num.parse().ok()?;
    let m = match unit {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        _ => return None,
    };
    Some(n * m)
}

fn memory_limit(ctx: &Ctx<'_>, ns: &str, pod: &str, container: Option<&str>) -> Option<f64> {
    let p = ctx
        .a
        .inventory
        .pods
        .iter()
        .find(|p| p.metadata.namespace.as_deref() == Some(ns) && p.metadata.name.as_deref() == Some(pod))?;
    let spec = p.spec.as_ref()?;
    let limits = spec
        .containers
        .iter()
        .filter(|c| container.is_none_or(|n| n == c.name))
        .filter_map(|c| c.resources.as_ref()?.limits.as_ref()?.get("memory").map(|q: &Quantity| q.0.clone()));
    limits.filter_map(|q| quantity(&q)).reduce(f64::max)
}

/// `(reason, value, unit)` of one series' latest sample, unit-corrected.
fn reading(
    ctx: &Ctx<'_>,
    m: &MetricSeries,
    labels: &std::collections::BTreeMap<String, String>,
    last: f64,
    peak: f64,
) -> Option<(&'static str, f64, &'static str)> {
    let name = m.name.as_str();
    let metric_name = labels.get("__name__").map(String::as_str).unwrap_or(name);
    let is_bytes = metric_name.ends_with("_bytes") || name.starts_with("memory_working_set") || name == "memory_rss";
    if (name.contains("memory") || metric_name.contains("memory"))
        && !name.contains("limit")
        && !metric_name.contains("limit")
    {
        if name == "memory_usage_percent" || name.ends_with("_percent") {
            return Some(("memory_usage_percent", peak, "percent"));
        }
        if is_bytes {
            let limit = memory_limit(
                ctx,
                labels.get("namespace")?,
                labels.get("pod")?,
                labels.get("container").map(String::as_str),
            )?;
            return Some(("memory_usage_percent", 100.0 * peak / limit, "percent"));
        }
        return None;
    }
    match name {
        "cpu_throttled_periods" | "cpu_throttling_ratio" => Some(("cpu_throttling_ratio", last, "ratio")),
        "http_5xx_rate" | "error_rate" => Some(("http_5xx_ratio", last, "ratio")),
        "p99_latency" | "latency_p99" => Some(("latency_p99_seconds", last, "seconds")),
        "restart_rate" | "pod_restarts" => Some(("restart_rate", last, "per_window")),
        _ => None,
    }
}

pub(crate) fn metric_signals(ctx: &Ctx<'_>, out: &mut Signals) {
    for m in ctx.a.metrics {
        for series in &m.result {
            let samples = series.samples();
            let Some(&(_, last)) = samples.last() else { continue };
            let peak = samples.iter().map(|s| s.1).fold(f64::MIN, f64::max);
            // An aggregated result (no namespace/pod labels) of a query scoped to the alerted pod.
            let scoped;
            let l = if series.metric.contains_key("namespace") {
                &series.metric
            } else {
                let inc = &ctx.a.incident;
                let mut l = series.metric.clone();
                l.insert("namespace".into(), inc.namespace.clone());
                if let Some(p) = &inc.pod {
                    l.entry("pod".into()).or_insert_with(|| p.clone());
                }
                scoped = l;
                &scoped
            };
            if l.get("namespace").is_none_or(String::is_empty) {
                continue;
            }
            let Some((reason, value, unit)) = reading(ctx, m, l, last, peak) else { continue };
            let Some(ns) = l.get("namespace") else { continue };
            let r = match (l.get("pod"), l.get("deployment").or(l.get("service"))) {
                (Some(pod), _) => ResourceRef::namespaced("Pod", ns, pod),
                (None, Some(d)) => ResourceRef::namespaced("Deployment", ns, d),
                _ => continue,
            };
            // A workload-level series of a Deployment an HPA scales belongs with that HPA.
            let on = match r.kind.as_str() {
                "Deployment" => scaling_hpa(ctx, ns, &r.name).unwrap_or_else(|| r.clone()),
                _ => r.clone(),
            };
            let before = samples.first().map(|s| s.1);
            let baseline = baseline(&samples, ctx.a.incident.started_at.as_second() as f64, m.name.as_str(), ctx, l);
            let vs = baseline.filter(|b| *b > 0.0).map(|b| value / b);
            let summary = format!(
                "{reason} of {r} is {value:.2} {unit}{}",
                match (baseline, vs) {
                    (Some(b), Some(x)) => format!(" ({x:.1}x the pre-onset {b:.2})"),
                    _ => format!(" (first sample {:.2})", before.unwrap_or(value)),
                }
            );
            let data = json!({"reason": reason, "value": (value * 1000.0).round() / 1000.0, "unit": unit, "query": m.name,
                "container": l.get("container"), "first": before,
                "baseline": baseline.map(|b| (b * 1000.0).round() / 1000.0),
                "vs_baseline": vs.map(|x| (x * 100.0).round() / 100.0)});
            let strength = match (reason, vs) {
                ("memory_usage_percent", _) if value >= 90.0 => 0.85,
                // Clearly worse than before the onset: the change is the signal.
                (_, Some(x)) if x >= 2.0 => 0.8,
                // No worse than before the onset: a steady state, not what changed.
                (_, Some(x)) if x < 1.2 => 0.35,
                _ => 0.6,
            };
            let mut ev = evidence(EvidenceKind::MetricSignal, r.clone(), summary, strength, data);
            ev.source = EvidenceSource::Prometheus;
            out.push_evidence(ctx, ev, &on);
        }
    }
}

/// The HPA (as a resource) that scales Deployment `ns/name`, if any.
fn scaling_hpa(ctx: &Ctx<'_>, ns: &str, name: &str) -> Option<ResourceRef> {
    ctx.a.inventory.hpas.iter().find_map(|h| {
        let t = &h.spec.scale_target_ref;
        (h.metadata.namespace.as_deref() == Some(ns) && t.kind == "Deployment" && t.name == name).then(|| {
            ResourceRef::namespaced("HorizontalPodAutoscaler", ns, h.metadata.name.as_deref().unwrap_or_default())
        })
    })
}

/// The mean of the samples before the onset (unit-corrected like the reading), when there are
/// at least three of them and at least one after it.
fn baseline(
    samples: &[(f64, f64)],
    onset: f64,
    name: &str,
    ctx: &Ctx<'_>,
    labels: &std::collections::BTreeMap<String, String>,
) -> Option<f64> {
    let pre: Vec<f64> = samples.iter().filter(|s| s.0 < onset).map(|s| s.1).collect();
    if pre.len() < 3 || pre.len() == samples.len() {
        return None;
    }
    let mean = pre.iter().sum::<f64>() / pre.len() as f64;
    let is_memory_bytes = name.contains("memory") && !name.ends_with("_percent");
    if !is_memory_bytes {
        return Some(mean);
    }
    let limit =
        memory_limit(ctx, labels.get("namespace")?, labels.get("pod")?, labels.get("container").map(String::as_str))?;
    Some(100.0 * mean / limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_parse() {
        assert_eq!(quantity("256Mi"), Some(268435456.0));
        assert_eq!(quantity("1G"), Some(1e9));
        assert_eq!(quantity("500m"), Some(0.5));
        assert_eq!(quantity("2"), Some(2.0));
        assert_eq!(quantity("x"), None);
    }
}
