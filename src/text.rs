//! The human-readable report (`aiops analyze --format text`).

use std::fmt::Write as _;

use aiops_core::Report;

/// Renders a report as plain text: ranked hypotheses with their evidence, then the runbook.
pub fn render(r: &Report) -> String {
    let mut o = String::new();
    let i = &r.incident;
    let _ = writeln!(o, "Incident: {} [{}] ({})", i.title, i.severity, i.id);
    let _ = writeln!(
        o,
        "Cluster: {}  Namespace: {}  Service: {}",
        i.cluster,
        if i.namespace.is_empty() { "-" } else { &i.namespace },
        i.service.as_deref().unwrap_or("-")
    );
    if r.partial {
        let _ = writeln!(o, "PARTIAL REPORT: some collectors failed");
    }
    for e in &r.errors {
        let _ = writeln!(o, "  ! {}: {}", e.collector, e.error);
    }
    let _ = writeln!(o, "\nHypotheses:");
    for h in &r.hypotheses {
        let res = h.resource.as_ref().map(|r| r.to_string()).unwrap_or_else(|| "-".into());
        let _ = writeln!(
            o,
            "  {}. {} ({}) on {}  confidence {:.2}  score {:.4}  [rule {}]",
            h.rank, h.cause, h.title, res, h.confidence, h.score, h.rule
        );
        let _ = writeln!(o, "     {}", h.explanation);
        for id in &h.evidence {
            if let Some(e) = r.evidence.iter().find(|e| &e.id == id) {
                let _ = writeln!(o, "     - {id} ({:.2}) {}", e.strength, e.summary);
            }
        }
        if !h.actions.is_empty() {
            let acts: Vec<&str> = h.actions.iter().map(|a| a.as_str()).collect();
            let _ = writeln!(o, "     actions: {}", acts.join(", "));
        }
    }
    if let Some(e) = &r.enrichment {
        enrichment(&mut o, e);
    }
    if let Some(rem) = &r.remediation {
        let _ = writeln!(
            o,
            "\nRemediation: {} {} (blast radius {:.1}) -> {}{}",
            rem.action,
            rem.target,
            rem.blast_radius,
            rem.decision,
            if rem.dry_run { " [dry run]" } else { "" }
        );
        if let Some(b) = &rem.blast {
            let _ = writeln!(
                o,
                "  blast radius {:.1} (original formula {:.1}): {}",
                b.score,
                b.baseline,
                b.notes.join("; ")
            );
        }
        for reason in &rem.reasons {
            let _ = writeln!(o, "  - {reason}");
        }
    }
    let _ = writeln!(o, "\n{}", r.runbook.title);
    for (n, s) in r.runbook.steps.iter().enumerate() {
        let _ = writeln!(o, "  {}. {}", n + 1, s.title);
        for c in s.commands.iter().chain(&s.promql).chain(&s.links) {
            let _ = writeln!(o, "       {c}");
        }
    }
    o
}

/// The LLM enrichment: what it said when applied, why not otherwise.
fn enrichment(o: &mut String, e: &aiops_core::enrichment::EnrichmentReport) {
    let cached = if e.cached { ", cached" } else { "" };
    let _ = writeln!(
        o,
        "\nLLM enrichment ({} {}): {}  [~{} prompt tokens, {} tokens used, {} call(s){cached}]",
        e.provider, e.model, e.status, e.prompt_tokens, e.tokens_used, e.provider_calls
    );
    if let Some(x) = &e.explanation {
        let _ = writeln!(o, "  {x} [{}]", e.explanation_evidence.join(", "));
    }
    for c in &e.next_checks {
        let _ = writeln!(o, "  next: {c}");
    }
    for c in &e.changes {
        let _ = writeln!(o, "  changed: {c}");
    }
    for why in &e.reasons {
        let _ = writeln!(o, "  - {why}");
    }
}
