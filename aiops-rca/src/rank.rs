//! Confidence and ranking: the original formulas (`original-design.md` §6.4–6.5) plus a
//! scope weight for findings unrelated to the alerted resource, with deterministic ties.

use std::collections::{BTreeSet, HashMap};

use aiops_core::cause::{Category, Cause};
use aiops_core::model::{
    ActionType, Evidence, EvidenceKind, EvidenceSource, Hypothesis, IncidentSource, ResourceRef, round_to,
};
use aiops_core::traits::AnalysisContext;
use serde_json::json;

use crate::extract::{Signals, evidence, evidence_id};
use crate::rules::Finding;

/// `round(0.6·base + 0.4·avg(strengths), 3)`, boosted ×1.1 (max 0.99) past two conditions.
pub fn confidence(base: f64, strengths: &[f64]) -> f64 {
    let avg = average(strengths);
    let c = round_to(base * 0.6 + avg * 0.4, 3);
    if strengths.len() > 2 { (c * 1.1).min(0.99) } else { c }
}

fn average(xs: &[f64]) -> f64 {
    if xs.is_empty() { 0.0 } else { xs.iter().sum::<f64>() / xs.len() as f64 }
}

/// `confidence × W[category] × (1 + min(support,5)·0.05) × (1 + strength·0.2)`, 4 decimals.
pub fn score(confidence: f64, category: Category, support: usize, strength: f64) -> f64 {
    let support_boost = if support > 0 { 1.0 + support.min(5) as f64 * 0.05 } else { 1.0 };
    round_to(confidence * category.weight() * support_boost * (1.0 + strength * 0.2), 4)
}

/// Weight for findings whose resource is unrelated to the alert (1 in a cluster scan).
pub const UNRELATED_SCOPE_WEIGHT: f64 = 0.6;

/// Subjects the incident is about: what the alert names and the nodes its pods run on.
fn incident_subjects(ctx: &AnalysisContext<'_>, signals: &Signals) -> Option<BTreeSet<ResourceRef>> {
    let inc = ctx.incident;
    if inc.source == IncidentSource::Synthetic {
        return None;
    }
    let ns = inc.namespace.as_str();
    let mut named: Vec<ResourceRef> = Vec::new();
    if let Some(p) = &inc.pod {
        named.push(ResourceRef::namespaced("Pod", ns, p));
    }
    if let Some(s) = &inc.service {
        for k in ["Deployment", "StatefulSet", "DaemonSet", "Service", "Pod"] {
            named.push(ResourceRef::namespaced(k, ns, s));
        }
    }
    for (label, kind) in [
        ("node", "Node"),
        ("job_name", "Job"),
        ("persistentvolumeclaim", "PersistentVolumeClaim"),
        ("horizontalpodautoscaler", "HorizontalPodAutoscaler"),
    ] {
        if let Some(v) = inc.labels.get(label) {
            named.push(if kind == "Node" {
                ResourceRef::cluster(kind, v)
            } else {
                ResourceRef::namespaced(kind, ns, v)
            });
        }
    }
    let mut out: BTreeSet<ResourceRef> = BTreeSet::new();
    for s in &signals.items {
        if named.contains(&s.evidence.resource) || named.contains(&s.subject) {
            out.insert(s.subject.clone());
        }
    }
    out.extend(named.iter().cloned());
    for p in &ctx.inventory.pods {
        let pr = ResourceRef::namespaced(
            "Pod",
            p.metadata.namespace.as_deref().unwrap_or("default"),
            p.metadata.name.as_deref().unwrap_or_default(),
        );
        let related =
            named.contains(&pr) || signals.items.iter().any(|s| s.evidence.resource == pr && out.contains(&s.subject));
        if related && let Some(n) = p.spec.as_ref().and_then(|s| s.node_name.as_deref()) {
            out.insert(ResourceRef::cluster("Node", n));
        }
    }
    Some(out)
}

/// Turns findings into ranked hypotheses (best first); adds the `unknown` fallback.
pub fn rank(
    ctx: &AnalysisContext<'_>,
    signals: &Signals,
    findings: Vec<Finding>,
) -> (Vec<Hypothesis>, Option<Evidence>) {
    let summaries: HashMap<&str, &str> =
        signals.items.iter().map(|s| (s.evidence.id.as_str(), s.evidence.summary.as_str())).collect();
    let strengths: HashMap<&str, f64> =
        signals.items.iter().map(|s| (s.evidence.id.as_str(), s.evidence.strength)).collect();
    let scope = incident_subjects(ctx, signals);
    let subjects: HashMap<&str, &ResourceRef> =
        signals.items.iter().map(|s| (s.evidence.id.as_str(), &s.subject)).collect();
    let observed: HashMap<&str, jiff::Timestamp> =
        signals.items.iter().filter_map(|s| Some((s.evidence.id.as_str(), s.evidence.observed_at?))).collect();
    let onset = ctx.incident.started_at.min(ctx.now);
    let mut best: HashMap<(ResourceRef, Cause), Hypothesis> = HashMap::new();
    for f in findings {
        let conf = confidence(f.base_confidence, &f.strengths);
        let mut s = score(conf, f.category, f.strengths.len(), average(&f.strengths));
        let cites_scope = |set: &BTreeSet<ResourceRef>| {
            f.evidence.iter().any(|id| subjects.get(id.as_str()).is_some_and(|s| set.contains(*s)))
        };
        if scope.as_ref().is_some_and(|set| !set.contains(&f.resource) && !cites_scope(set)) {
            s = round_to(s * UNRELATED_SCOPE_WEIGHT, 4);
        }
        let cited_times: Vec<jiff::Timestamp> =
            f.evidence.iter().filter_map(|id| observed.get(id.as_str()).copied()).collect();
        s = round_to(s * contradiction_weight(f.contradicting.len()) * recency_weight(&cited_times, onset), 4);
        let h = Hypothesis {
            rank: 0,
            cause: f.cause,
            category: f.category,
            rule: f.rule.clone(),
            title: f.title.clone(),
            explanation: explain(&f, &summaries, &strengths),
            confidence: conf,
            score: s,
            resource: Some(f.resource.clone()),
            evidence: f.evidence,
            contradicting: f.contradicting,
            actions: f.actions,
            next_checks: f.next_checks,
            symptom_of: None,
        };
        let key = (f.resource, f.cause);
        match best.get(&key) {
            Some(old) if (old.score, &h.rule) >= (h.score, &old.rule) => {}
            _ => {
                best.insert(key, h);
            }
        }
    }
    let mut hs: Vec<Hypothesis> = best.into_values().collect();
    crate::causal::collapse(ctx, signals, &mut hs);
    // Scope: a root that explains more symptoms ranks higher.
    let explained: Vec<usize> = hs
        .iter()
        .map(|h| hs.iter().filter(|o| o.symptom_of.is_some() && o.symptom_of == h.resource && o.rule != h.rule).count())
        .collect();
    for (h, n) in hs.iter_mut().zip(explained) {
        h.score = round_to(h.score * scope_weight(n), 4);
    }
    hs.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(b.confidence.total_cmp(&a.confidence))
            .then_with(|| a.rule.cmp(&b.rule))
            .then_with(|| a.resource.cmp(&b.resource))
    });
    let mut extra = None;
    if hs.is_empty() {
        let (h, ev) = unknown(ctx, signals);
        hs.push(h);
        extra = ev;
    }
    for (i, h) in hs.iter_mut().enumerate() {
        h.rank = i + 1;
    }
    (hs, extra)
}

/// Each contradicting evidence item lowers the score by 15 % (at most three count).
pub fn contradiction_weight(contradicting: usize) -> f64 {
    0.85f64.powi(contradicting.min(3) as i32)
}

/// Evidence long before the onset explains it less: ×1 when the newest cited observation is
/// at most 6 h before the onset (or untimed), ×0.9 up to a day, ×0.75 beyond.
pub fn recency_weight(cited: &[jiff::Timestamp], onset: jiff::Timestamp) -> f64 {
    let Some(newest) = cited.iter().max() else { return 1.0 };
    let hours = onset.duration_since(*newest).as_secs() / 3600;
    match hours {
        h if h <= 6 => 1.0,
        h if h <= 24 => 0.9,
        _ => 0.75,
    }
}

/// A root that explains `n` symptoms: ×(1 + 0.05·min(n, 4)).
pub fn scope_weight(n: usize) -> f64 {
    1.0 + 0.05 * n.min(4) as f64
}

fn explain(f: &Finding, summaries: &HashMap<&str, &str>, strengths: &HashMap<&str, f64>) -> String {
    let mut cited: Vec<&str> = f.evidence.iter().map(String::as_str).collect();
    cited.sort_by(|a, b| strengths.get(b).unwrap_or(&0.0).total_cmp(strengths.get(a).unwrap_or(&0.0)).then(a.cmp(b)));
    let lines: Vec<String> =
        cited.iter().take(3).filter_map(|id| summaries.get(id).map(|s| format!("{s} [{id}]"))).collect();
    format!("{} ({}). Evidence: {}", f.description, f.resource, lines.join("; "))
}

/// The fallback when no rule matched: what was observed and what to check next.
fn unknown(ctx: &AnalysisContext<'_>, signals: &Signals) -> (Hypothesis, Option<Evidence>) {
    let mut observed: Vec<&Evidence> = signals.items.iter().map(|s| &s.evidence).collect();
    observed.sort_by(|a, b| b.strength.total_cmp(&a.strength).then(a.id.cmp(&b.id)));
    observed.truncate(5);
    let mut extra = None;
    let (ids, what): (Vec<String>, String) = if observed.is_empty() {
        let inv = ctx.inventory;
        let scope = if ctx.incident.namespace.is_empty() {
            ResourceRef::cluster("Cluster", &ctx.incident.cluster)
        } else {
            ResourceRef::cluster("Namespace", &ctx.incident.namespace)
        };
        let summary = format!(
            "Observed {} objects ({} pods, {} nodes, {} events); no failure signal found",
            inv.len(),
            inv.pods.len(),
            inv.nodes.len(),
            inv.events.len()
        );
        let mut ev = evidence(
            EvidenceKind::Other,
            scope,
            summary.clone(),
            0.1,
            json!({"reason": "no_signal", "objects": inv.len()}),
        );
        ev.source = EvidenceSource::Analysis;
        ev.id = evidence_id(&ev);
        let id = ev.id.clone();
        extra = Some(ev);
        (vec![id], summary)
    } else {
        (
            observed.iter().map(|e| e.id.clone()).collect(),
            observed.iter().map(|e| e.summary.as_str()).collect::<Vec<_>>().join("; "),
        )
    };
    let h = Hypothesis {
        rank: 1,
        cause: Cause::Unknown,
        category: Category::Unknown,
        rule: "unknown".into(),
        title: "Unknown Issue".into(),
        explanation: format!("No specific pattern matched. Manual investigation required. Observed: {what}"),
        confidence: 0.3,
        score: 0.15,
        resource: observed.first().map(|e| e.resource.clone()),
        evidence: ids,
        contradicting: Vec::new(),
        actions: vec![ActionType::EscalateToHuman],
        next_checks: vec![
            "Review application logs".into(),
            "Check recent deployments".into(),
            "Verify external dependencies".into(),
            "Escalate to engineering team".into(),
        ],
        symptom_of: None,
    };
    (h, extra)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Golden values verified against the original implementation (§6.3, §6.5).
    #[test]
    fn contradictions_recency_and_scope_weigh_the_score() {
        assert_eq!(contradiction_weight(0), 1.0);
        assert!(contradiction_weight(2) < contradiction_weight(1));
        assert_eq!(contradiction_weight(5), contradiction_weight(3));
        let onset: jiff::Timestamp = "2026-04-02T14:00:00Z".parse().unwrap();
        let at = |s: &str| s.parse::<jiff::Timestamp>().unwrap();
        assert_eq!(recency_weight(&[], onset), 1.0);
        assert_eq!(recency_weight(&[at("2026-04-02T13:40:00Z")], onset), 1.0);
        assert_eq!(recency_weight(&[at("2026-04-01T20:00:00Z")], onset), 0.9);
        assert_eq!(recency_weight(&[at("2026-03-28T20:00:00Z"), at("2026-04-02T13:59:00Z")], onset), 1.0);
        assert_eq!(recency_weight(&[at("2026-03-28T20:00:00Z")], onset), 0.75);
        assert!(scope_weight(3) > scope_weight(1) && scope_weight(9) == scope_weight(4));
    }

    #[test]
    fn original_golden_values() {
        let cases: [(f64, &[f64], Category, f64, f64); 10] = [
            (0.90, &[0.9, 0.8], Category::BadDeployment, 0.88, 1.3024),
            (0.75, &[0.9, 0.6], Category::ExternalDependency, 0.75, 0.759),
            (0.95, &[0.9], Category::ResourceExhaustion, 0.93, 1.3827),
            (0.80, &[0.85], Category::ResourceExhaustion, 0.82, 1.2088),
            (0.95, &[0.9], Category::ConfigurationError, 0.93, 1.2675),
            (0.85, &[0.75, 0.8], Category::InfrastructureIssue, 0.82, 1.0939),
            (0.80, &[0.75, 0.7], Category::ScalingIssue, 0.77, 0.8728),
            (0.75, &[0.6, 0.75], Category::DependencyFailure, 0.72, 0.8989),
            (0.90, &[0.9], Category::ConfigurationError, 0.90, 1.2266),
            (0.70, &[0.65, 0.7], Category::NetworkIssue, 0.69, 0.8184),
        ];
        for (base, strengths, cat, conf, sc) in cases {
            let c = confidence(base, strengths);
            assert_eq!(c, conf, "confidence of base {base}");
            assert_eq!(score(c, cat, strengths.len(), average(strengths)), sc, "score of base {base}");
        }
        assert_eq!(score(0.3, Category::Unknown, 0, 0.0), 0.15);
    }

    #[test]
    fn more_than_two_conditions_boost_but_cap() {
        assert_eq!(confidence(0.95, &[0.95, 0.95, 0.95]), 0.99);
        assert!(confidence(0.5, &[0.5, 0.5, 0.5]) > 0.5);
    }
}
