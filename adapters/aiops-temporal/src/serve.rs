//! The server's ingestion on Temporal: [`dispatch`] starts an [`crate::IncidentWorkflow`] for
//! every incident `aiops-server` stores, and [`StoreRecorder`] writes the workflow's progress
//! (report, graph, steps, final status) back into the server's [`IncidentStore`].
//!
//! Run the server without its in-process runner (`Server::new(config, store, None)`) and
//! [`dispatch`] on the same store: the dispatcher leases incidents in `received` exactly as the
//! in-process runner does, and starts one workflow per incident with the incident id as the
//! workflow id, so a re-leased incident (a dispatcher that crashed after starting it) is not
//! started twice: Temporal refuses the second start of a running id.

use std::sync::Arc;
use std::time::Duration;

use aiops_core::graph::GraphSnapshot;
use aiops_core::traits::BoxError;
use aiops_core::{IncidentStatus, Report};
use aiops_server::store::{AuditEntry, Claim, IncidentStore, StatusChange, Step, StoredIncident, WorkflowState};
use jiff::Timestamp;
use temporalio_client::Client;

use crate::activities::{Evidence, IncidentRecorder};
use crate::workflow::{IncidentRequest, Timings};

/// How the dispatcher leases and starts.
#[derive(Debug, Clone)]
pub struct DispatchConfig {
    /// The task queue the workers poll.
    pub task_queue: String,
    /// The environment for the policy (`None`: the collectors' or `prod`).
    pub environment: Option<String>,
    /// The workflow's waits.
    pub timings: Timings,
    /// How long a leased incident waits before another dispatcher may take it.
    pub lease: Duration,
    /// Poll interval when no incidents wait.
    pub poll: Duration,
    /// Incidents leased per round.
    pub batch: usize,
}

impl Default for DispatchConfig {
    fn default() -> Self {
        Self {
            task_queue: crate::DEFAULT_TASK_QUEUE.into(),
            environment: None,
            timings: Timings::default(),
            lease: Duration::from_secs(120),
            poll: Duration::from_secs(1),
            batch: 8,
        }
    }
}

/// The workflow input of a stored incident: its alert, collected live in its namespace.
pub fn request_for(inc: &StoredIncident, cfg: &DispatchConfig) -> IncidentRequest {
    let ns = &inc.incident.namespace;
    IncidentRequest {
        incident_id: Some(inc.incident.id.clone()),
        evidence: Evidence::Live {
            alert: inc.alert.clone(),
            namespaces: if ns.is_empty() { Vec::new() } else { vec![ns.clone()] },
        },
        environment: cfg.environment.clone(),
        timings: cfg.timings.clone(),
    }
}

async fn audit(store: &dyn IncidentStore, id: &str, action: &str, details: serde_json::Value) {
    let entry = AuditEntry {
        incident_id: id.to_string(),
        action_type: action.into(),
        actor: "temporal".into(),
        details,
        created_at: Timestamp::now(),
    };
    if let Err(e) = store.append_audit(&entry).await {
        tracing::warn!(error = %e, incident_id = id, "audit write failed");
    }
}

/// Starts the workflow of one leased incident; an id Temporal already runs counts as started.
pub async fn start_one(store: &dyn IncidentStore, client: &Client, cfg: &DispatchConfig, inc: &StoredIncident) {
    let id = inc.incident.id.as_str();
    match crate::start_incident(client, &cfg.task_queue, id, request_for(inc, cfg)).await {
        Ok(_) => {
            audit(store, id, "workflow_started", serde_json::json!({"workflow_id": id, "task_queue": cfg.task_queue}))
                .await
        }
        Err(e) if e.to_string().to_lowercase().contains("already") => {
            tracing::debug!(incident_id = id, "workflow already started")
        }
        // The lease expires and the next round tries again.
        Err(e) => tracing::warn!(error = %e, incident_id = id, "starting the workflow failed"),
    }
}

/// Leases incidents in `received` and starts their workflows until `shutdown` resolves.
pub async fn dispatch(
    store: Arc<dyn IncidentStore>,
    client: Client,
    cfg: DispatchConfig,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let claimed = match store.claim(LEASE_TOKEN, Timestamp::now(), cfg.lease, cfg.batch).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "leasing incidents failed");
                Vec::new()
            }
        };
        for claim in &claimed {
            let span = tracing::info_span!("temporal.dispatch", incident_id = %claim.incident.incident.id);
            tracing::Instrument::instrument(start_one(&*store, &client, &cfg, &claim.incident), span).await;
            // The workflow owns the incident from here: held under the dispatcher's token, so the
            // server's own runner never claims it again.
            let hold = Step { to: Some(WorkflowState::Collecting), lease_until: Some(far_future()), ..Step::default() };
            if let Err(e) = store.advance(claim, claim.incident.workflow_state, &hold, Timestamp::now()).await {
                tracing::warn!(error = %e, "holding the incident for its workflow failed");
            }
        }
        if claimed.is_empty() {
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(cfg.poll) => {}
            }
        }
    }
}

/// The lease token under which Temporal workflows hold the server's incidents.
const LEASE_TOKEN: &str = "temporal";

/// A lease that does not run out while the workflow lives (Temporal owns its timers).
fn far_future() -> Timestamp {
    Timestamp::now() + jiff::SignedDuration::from_hours(24 * 365)
}

/// Commits one step for an incident held by the dispatcher (see [`dispatch`]).
async fn commit(store: &dyn IncidentStore, incident_id: &str, step: Step) -> Result<(), BoxError> {
    let Some(incident) = store.get(incident_id).await? else {
        return Err(format!("incident {incident_id} is not in the store").into());
    };
    let from = incident.workflow_state;
    let claim = Claim { incident, token: LEASE_TOKEN.to_string() };
    let step = Step { lease_until: step.lease_until.or(Some(far_future())), ..step };
    store.advance(&claim, from, &step, Timestamp::now()).await?;
    Ok(())
}

/// Records the workflow's progress in the server's store: the report and graph (so
/// `GET /api/v1/incidents/{id}` and `/graph` answer), the workflow state of each step, and the
/// final status (`resolved` through the store's resolve, with its audit entry).
pub struct StoreRecorder(pub Arc<dyn IncidentStore>);

fn state_of(step: &str) -> Option<WorkflowState> {
    Some(match step {
        "awaiting_approval" => WorkflowState::AwaitingApproval,
        "remediating" => WorkflowState::Executing,
        "verifying" => WorkflowState::Verifying,
        _ => return None,
    })
}

#[async_trait::async_trait]
impl IncidentRecorder for StoreRecorder {
    async fn diagnosed(&self, incident_id: &str, report: &Report, graph: &GraphSnapshot) -> Result<(), BoxError> {
        let step = Step {
            to: Some(WorkflowState::Diagnosed),
            diagnosis: Some((report.clone(), graph.clone())),
            ..Step::default()
        };
        commit(&*self.0, incident_id, step).await?;
        let top = report.top().map(|h| serde_json::json!({"cause": h.cause, "confidence": h.confidence}));
        audit(&*self.0, incident_id, "diagnosed", serde_json::json!({"top": top, "partial": report.partial})).await;
        Ok(())
    }

    async fn step(&self, incident_id: &str, step: &str) -> Result<(), BoxError> {
        if let Some(state) = state_of(step) {
            commit(&*self.0, incident_id, Step { to: Some(state), ..Step::default() }).await?;
        }
        Ok(())
    }

    async fn close(&self, incident_id: &str, status: IncidentStatus) -> Result<(), BoxError> {
        let now = Timestamp::now();
        if status == IncidentStatus::Resolved {
            self.0.change_status(incident_id, StatusChange::Resolve, "temporal", now).await?;
            commit(&*self.0, incident_id, Step { to: Some(WorkflowState::Resolved), ..Step::default() }).await?;
        } else {
            commit(&*self.0, incident_id, Step { to: Some(WorkflowState::Closed), ..Step::default() }).await?;
        }
        Ok(())
    }
}
