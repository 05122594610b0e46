//! Prometheus metrics of aiops itself: the original's names (`original-design.md` §9.1), the
//! ones its dashboard and alert rules expected (§9.2), and the server's own (intake, refusals,
//! workflow steps, policy decisions). Served at `/metrics` in the OpenMetrics text format.

use std::time::Duration;

use aiops_core::Report;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// `source`, `severity`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceSeverity {
    /// alertmanager, grafana, prometheus, manual.
    pub source: String,
    /// Normalized severity (critical, high, medium, low, info): bounded cardinality.
    pub severity: String,
}

/// `source`, `reason`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceReason {
    /// Endpoint source.
    pub source: String,
    /// Stable error code.
    pub reason: String,
}

/// One label `source`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceLabel {
    /// Endpoint source.
    pub source: String,
}

/// One label `severity`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SeverityLabel {
    /// Severity.
    pub severity: String,
}

/// One label `collector_name`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CollectorLabel {
    /// Collector name.
    pub collector_name: String,
}

/// One label `evidence_type`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EvidenceLabel {
    /// Evidence kind.
    pub evidence_type: String,
}

/// One label `category`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CategoryLabel {
    /// Hypothesis category.
    pub category: String,
}

/// One label `decision`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DecisionLabel {
    /// allow, requires_approval, deny.
    pub decision: String,
}

/// One label `step`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StepLabel {
    /// Workflow step.
    pub step: String,
}

fn latency_histogram() -> Histogram {
    // 100 µs .. ~52 s
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(0.0001, 2.0, 20))
}

type HistFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Every metric the server exports.
pub struct Metrics {
    registry: Registry,
    /// `aiops_alerts_received_total{source,severity}`: alerts read from a request (firing and resolved).
    pub alerts_received: Family<SourceSeverity, Counter>,
    /// `aiops_alerts_deduplicated_total`: repeats of an open incident's alert within the window.
    pub alerts_deduplicated: Counter,
    /// `aiops_alerts_attached_total{source}`: alerts attached to an open incident of their group.
    pub alerts_attached: Family<SourceLabel, Counter>,
    /// `aiops_alerts_refused_total{source,reason}`: alerts refused (queue full, store down); the sender retries.
    pub alerts_refused: Family<SourceReason, Counter>,
    /// `aiops_alerts_rejected_total{source,reason}`: alerts rejected as bad input.
    pub alerts_rejected: Family<SourceReason, Counter>,
    /// `aiops_incidents_created_total{severity}`.
    pub incidents_created: Family<SeverityLabel, Counter>,
    /// `aiops_incidents_resolved_total`.
    pub incidents_resolved: Counter,
    /// `aiops_webhook_latency_seconds{source}`.
    pub webhook_latency: HistFamily<SourceLabel>,
    /// `aiops_collector_duration_seconds{collector_name}`.
    pub collector_duration: HistFamily<CollectorLabel>,
    /// `aiops_evidence_collected_total{evidence_type}`.
    pub evidence_collected: Family<EvidenceLabel, Counter>,
    /// `aiops_hypotheses_generated_total{category}`.
    pub hypotheses_generated: Family<CategoryLabel, Counter>,
    /// `aiops_remediation_attempts_total`.
    pub remediation_attempts: Counter,
    /// `aiops_remediation_success_total`.
    pub remediation_success: Counter,
    /// `aiops_policy_decisions_total{decision}`.
    pub policy_decisions: Family<DecisionLabel, Counter>,
    /// `aiops_workflow_step_duration_seconds{step}`.
    pub workflow_step_duration: HistFamily<StepLabel>,
    /// `aiops_workflow_failures_total`.
    pub workflow_failures: Counter,
    /// `aiops_intake_queue_depth`: alerts accepted into the intake and not yet committed.
    pub intake_depth: Gauge,
    /// `aiops_intake_queue_capacity`.
    pub intake_capacity: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut r = Registry::default();
        let m = Metrics {
            alerts_received: Family::default(),
            alerts_deduplicated: Counter::default(),
            alerts_attached: Family::default(),
            alerts_refused: Family::default(),
            alerts_rejected: Family::default(),
            incidents_created: Family::default(),
            incidents_resolved: Counter::default(),
            webhook_latency: Family::new_with_constructor(latency_histogram),
            collector_duration: Family::new_with_constructor(latency_histogram),
            evidence_collected: Family::default(),
            hypotheses_generated: Family::default(),
            remediation_attempts: Counter::default(),
            remediation_success: Counter::default(),
            policy_decisions: Family::default(),
            workflow_step_duration: Family::new_with_constructor(latency_histogram),
            workflow_failures: Counter::default(),
            intake_depth: Gauge::default(),
            intake_capacity: Gauge::default(),
            registry: Registry::default(),
        };
        r.register("aiops_alerts_received", "Alerts received", m.alerts_received.clone());
        r.register("aiops_alerts_deduplicated", "Alerts deduplicated", m.alerts_deduplicated.clone());
        r.register(
            "aiops_alerts_attached",
            "Alerts attached to an open incident of their group",
            m.alerts_attached.clone(),
        );
        r.register("aiops_alerts_refused", "Alerts refused with 429/503 (sender retries)", m.alerts_refused.clone());
        r.register("aiops_alerts_rejected", "Alerts rejected as bad input", m.alerts_rejected.clone());
        r.register("aiops_incidents_created", "Incidents created", m.incidents_created.clone());
        r.register("aiops_incidents_resolved", "Incidents resolved", m.incidents_resolved.clone());
        r.register("aiops_webhook_latency_seconds", "Webhook latency", m.webhook_latency.clone());
        r.register("aiops_collector_duration_seconds", "Collector duration", m.collector_duration.clone());
        r.register("aiops_evidence_collected", "Evidence items collected", m.evidence_collected.clone());
        r.register("aiops_hypotheses_generated", "Hypotheses generated", m.hypotheses_generated.clone());
        r.register("aiops_remediation_attempts", "Remediation attempts", m.remediation_attempts.clone());
        r.register("aiops_remediation_success", "Successful remediations", m.remediation_success.clone());
        r.register("aiops_policy_decisions", "Policy decisions by result", m.policy_decisions.clone());
        r.register("aiops_workflow_step_duration_seconds", "Workflow step duration", m.workflow_step_duration.clone());
        r.register("aiops_workflow_failures", "Workflow steps that failed", m.workflow_failures.clone());
        r.register("aiops_intake_queue_depth", "Alerts in the intake queue", m.intake_depth.clone());
        r.register("aiops_intake_queue_capacity", "Capacity of the intake queue in alerts", m.intake_capacity.clone());
        let m = Metrics { registry: r, ..m };
        m.prefill();
        m
    }

    /// Creates every series of bounded label values at zero, so `/metrics` declares each family
    /// from the start (dashboards and `rate()` see 0, not "no data").
    fn prefill(&self) {
        use aiops_core::{Category, Decision, EvidenceKind, Severity};
        const SOURCES: [&str; 4] = ["alertmanager", "grafana", "prometheus", "manual"];
        for source in SOURCES {
            let src = || SourceLabel { source: source.into() };
            for sev in Severity::ALL {
                drop(
                    self.alerts_received
                        .get_or_create(&SourceSeverity { source: source.into(), severity: sev.as_str().into() }),
                );
            }
            drop(self.alerts_attached.get_or_create(&src()));
            for reason in ["queue_full", "store_unavailable", "shutting_down"] {
                drop(self.alerts_refused.get_or_create(&SourceReason { source: source.into(), reason: reason.into() }));
            }
            for reason in ["invalid_alert", "invalid_json"] {
                drop(
                    self.alerts_rejected.get_or_create(&SourceReason { source: source.into(), reason: reason.into() }),
                );
            }
            if source != "manual" {
                drop(self.webhook_latency.get_or_create(&src()));
            }
        }
        for sev in Severity::ALL {
            drop(self.incidents_created.get_or_create(&SeverityLabel { severity: sev.as_str().into() }));
        }
        for c in ["kubernetes", "prometheus", "loki"] {
            drop(self.collector_duration.get_or_create(&CollectorLabel { collector_name: c.into() }));
        }
        for k in EvidenceKind::ALL {
            drop(self.evidence_collected.get_or_create(&EvidenceLabel { evidence_type: k.as_str().into() }));
        }
        for c in Category::ALL {
            drop(self.hypotheses_generated.get_or_create(&CategoryLabel { category: c.as_str().into() }));
        }
        for d in Decision::ALL {
            drop(self.policy_decisions.get_or_create(&DecisionLabel { decision: d.as_str().into() }));
        }
        for step in ["ingest", "diagnose"] {
            drop(self.workflow_step_duration.get_or_create(&StepLabel { step: step.into() }));
        }
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Counts a refusal of `n` alerts.
    pub fn refused(&self, source: &str, reason: &str, n: usize) {
        self.alerts_refused
            .get_or_create(&SourceReason { source: source.into(), reason: reason.into() })
            .inc_by(n as u64);
    }

    /// Counts a rejection of `n` alerts.
    pub fn rejected(&self, source: &str, reason: &str, n: usize) {
        self.alerts_rejected
            .get_or_create(&SourceReason { source: source.into(), reason: reason.into() })
            .inc_by(n as u64);
    }

    /// Records a workflow step's duration.
    pub fn step(&self, step: &str, d: Duration) {
        self.workflow_step_duration.get_or_create(&StepLabel { step: step.into() }).observe(d.as_secs_f64());
    }

    /// Records what an analysis produced.
    pub fn report(&self, report: &Report) {
        for c in &report.collectors {
            self.collector_duration
                .get_or_create(&CollectorLabel { collector_name: c.collector.clone() })
                .observe(c.duration_ms / 1000.0);
        }
        for e in &report.evidence {
            self.evidence_collected.get_or_create(&EvidenceLabel { evidence_type: e.kind.as_str().into() }).inc();
        }
        for h in &report.hypotheses {
            self.hypotheses_generated.get_or_create(&CategoryLabel { category: h.category.as_str().into() }).inc();
        }
        if let Some(r) = &report.remediation {
            self.policy_decisions.get_or_create(&DecisionLabel { decision: r.decision.as_str().into() }).inc();
        }
    }
}
