//! The incident workflow runner: picks up incidents in `received` (leased, so a crashed
//! worker's incidents are picked up again when the lease expires), diagnoses them with the
//! [`Engine`], and commits the report and the next state before anything else happens.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aiops_core::{AnalysisInput, Engine};
use jiff::Timestamp;
use tokio::sync::Notify;
use tracing::Instrument;

use crate::metrics::Metrics;
use crate::store::{AuditEntry, IncidentStore, StoredIncident, WorkflowState};

/// Settings of the runner.
#[derive(Debug, Clone, Copy)]
pub struct WorkflowConfig {
    /// How long a claimed incident stays leased to this worker.
    pub lease: Duration,
    /// Poll interval when nothing signals new incidents.
    pub poll: Duration,
    /// Incidents claimed per round.
    pub batch: usize,
}

impl Default for WorkflowConfig {
    fn default() -> Self {
        Self { lease: Duration::from_secs(120), poll: Duration::from_secs(2), batch: 8 }
    }
}

/// Runs the workflow loop forever (spawn it).
pub async fn run(
    store: Arc<dyn IncidentStore>,
    engine: Engine,
    metrics: Arc<Metrics>,
    wake: Arc<Notify>,
    cfg: WorkflowConfig,
) {
    loop {
        let claimed = match store.claim_received(Timestamp::now(), cfg.lease, cfg.batch).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "claiming incidents failed");
                Vec::new()
            }
        };
        if claimed.is_empty() {
            let _ = tokio::time::timeout(cfg.poll, wake.notified()).await;
            continue;
        }
        for inc in claimed {
            let span = tracing::info_span!("incident_workflow", incident_id = %inc.incident.id);
            diagnose(&*store, &engine, &metrics, inc).instrument(span).await;
        }
    }
}

/// Diagnoses one claimed incident and commits the outcome.
pub async fn diagnose(store: &dyn IncidentStore, engine: &Engine, metrics: &Metrics, inc: StoredIncident) {
    let id = inc.incident.id.clone();
    let started = Instant::now();
    let input = AnalysisInput {
        alert: Some(inc.alert.clone()),
        namespaces: if inc.incident.namespace.is_empty() { Vec::new() } else { vec![inc.incident.namespace.clone()] },
        ..AnalysisInput::default()
    };
    let result = engine.analyze_with_graph(input).await;
    metrics.step("diagnose", started.elapsed());
    let now = Timestamp::now();
    match result {
        Ok((report, graph)) => {
            metrics.report(&report);
            let snapshot = graph.snapshot();
            if let Err(e) = store.save_diagnosis(&id, &report, &snapshot, now).await {
                tracing::warn!(error = %e, "saving the diagnosis failed; the lease will expire and it is retried");
                return;
            }
            let top = report.top().map(|h| serde_json::json!({"cause": h.cause, "confidence": h.confidence}));
            let _ = store
                .append_audit(&AuditEntry {
                    incident_id: id,
                    action_type: "diagnosed".into(),
                    actor: "system".into(),
                    details: serde_json::json!({"top": top, "partial": report.partial}),
                    created_at: now,
                })
                .await;
        }
        Err(e) => {
            metrics.workflow_failures.inc();
            tracing::warn!(error = %e, "diagnosis failed");
            let _ = store.set_workflow_state(&id, WorkflowState::Failed, now).await;
            let _ = store
                .append_audit(&AuditEntry {
                    incident_id: id,
                    action_type: "diagnosis_failed".into(),
                    actor: "system".into(),
                    details: serde_json::json!({"error": e.to_string()}),
                    created_at: now,
                })
                .await;
        }
    }
}
