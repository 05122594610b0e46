//! The activities of [`crate::IncidentWorkflow`]: the Engine's steps, each retried by Temporal.

use std::sync::Arc;
use std::time::Duration;

use aiops_core::traits::{BoxError, ExecutionOutcome, Executor};
use aiops_core::{AnalysisInput, Decision, IncidentStatus, RemediationAction, RemediationSummary};
use serde::{Deserialize, Serialize};
use tracing::Instrument;

use crate::error::Error;
use temporalio_macros::activities;
use temporalio_sdk::ApplicationFailure;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

/// The input of the diagnose activity.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DiagnoseInput {
    /// The incident bundle (`incident-bundle.md`) as JSON text.
    pub bundle: String,
    /// The environment for the policy (`dev`, `staging`, `prod`); `None`: the bundle's or `prod`.
    #[serde(default)]
    pub environment: Option<String>,
}

/// What the diagnose activity hands to the rest of the workflow (deliberately small: the full
/// report's evidence does not travel through the workflow history, cf. the original's 2 MB risk).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnosed {
    /// The incident id.
    pub incident_id: String,
    /// The incident title.
    pub title: String,
    /// The top hypothesis' cause (`unknown` when nothing matched).
    pub top_cause: String,
    /// How many hypotheses the engine ranked.
    pub hypotheses: usize,
    /// The Engine's remediation section (proposed action, policy verdict), when it proposed one.
    pub remediation: Option<RemediationSummary>,
    /// The proposed action with its idempotency key, when one was proposed.
    pub action: Option<RemediationAction>,
}

/// The input of the policy step.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolicyStep {
    /// The Engine's remediation section.
    pub remediation: Option<RemediationSummary>,
}

/// The policy step's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyOutcome {
    /// The verdict.
    pub decision: Decision,
    /// Every reason.
    pub reasons: Vec<String>,
}

/// The input of the verify activity.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VerifyInput {
    /// The executed action.
    pub action: RemediationAction,
    /// What the executor reported.
    pub outcome: ExecutionOutcome,
}

/// A ticket for a human (policy denied, approval denied or expired, execution or verification
/// failed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    /// The incident id.
    pub incident_id: String,
    /// The incident title.
    pub title: String,
    /// Why a human is needed.
    pub reason: String,
    /// Whether a remediation was attempted.
    pub remediation_attempted: bool,
}

/// The input of the close activity.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CloseInput {
    /// The incident id.
    pub incident_id: String,
    /// `resolved` when verification succeeded, else `closed`.
    pub status: IncidentStatus,
}

/// Where tickets and closed incidents go (Jira and the incident store in a deployment).
#[async_trait::async_trait]
pub trait TicketSink: Send + Sync {
    /// Opens a ticket and returns its id. Must be idempotent on the incident id.
    async fn open_ticket(&self, ticket: &Ticket) -> Result<String, BoxError>;
    /// Records the incident's final status.
    async fn close(&self, incident_id: &str, status: IncidentStatus) -> Result<(), BoxError>;
}

/// The activity implementations, holding the executor and the ticket sink.
pub struct IncidentActivities {
    executor: Arc<dyn Executor>,
    tickets: Arc<dyn TicketSink>,
    heartbeat_every: Duration,
}

impl IncidentActivities {
    /// Activities acting through `executor` and recording to `tickets`.
    pub fn new(executor: Arc<dyn Executor>, tickets: Arc<dyn TicketSink>) -> Self {
        Self { executor, tickets, heartbeat_every: Duration::from_secs(1) }
    }
}

fn non_retryable(msg: String) -> ActivityError {
    ActivityError::application(ApplicationFailure::non_retryable(msg))
}

fn retryable(msg: String) -> ActivityError {
    ActivityError::application(ApplicationFailure::new(msg))
}

/// Rebuilds the planner's action from the report's remediation section; the key has the
/// planner's format `incident:action:target` (aiops-remediate's `DefaultPlanner`).
fn action_of(incident_id: &str, r: &RemediationSummary) -> RemediationAction {
    RemediationAction {
        action: r.action,
        target: r.target.clone(),
        parameters: Default::default(),
        idempotency_key: format!("{incident_id}:{}:{}", r.action, r.target),
    }
}

/// The diagnose step outside Temporal: parses the bundle and analyses it with
/// `aiops::default_engine()`.
pub async fn diagnose_bundle(input: DiagnoseInput) -> crate::Result<Diagnosed> {
    let bundle = aiops_core::parse_bundle(input.bundle.as_bytes()).map_err(|e| Error::Invalid(e.to_string()))?;
    let engine = aiops::default_engine()
        .collector(aiops::collectors::BundleCollector::from_bundle(bundle))
        .build()
        .map_err(|e| Error::Invalid(e.to_string()))?;
    let report = engine
        .analyze(AnalysisInput { environment: input.environment, ..Default::default() })
        .await
        .map_err(|e| Error::Analysis(e.to_string()))?;
    let id = report.incident.id.clone();
    let action = report.remediation.as_ref().map(|r| action_of(&id, r));
    Ok(Diagnosed {
        incident_id: id,
        title: report.incident.title.clone(),
        top_cause: report.top().map(|h| h.cause.to_string()).unwrap_or_else(|| "unknown".into()),
        hypotheses: report.hypotheses.len(),
        remediation: report.remediation,
        action,
    })
}

#[activities]
impl IncidentActivities {
    /// Collects the bundle and diagnoses it with `aiops::default_engine()` (the original's
    /// collect, build graph, hypotheses, rank, runbook, blast radius and policy steps).
    /// A bundle that does not parse is a non-retryable failure.
    #[activity]
    pub async fn diagnose(self: Arc<Self>, _ctx: ActivityContext, input: DiagnoseInput) -> Result<Diagnosed, ActivityError> {
        match diagnose_bundle(input).instrument(tracing::info_span!("temporal.diagnose")).await {
            Ok(d) => Ok(d),
            Err(e @ Error::Invalid(_)) => Err(non_retryable(e.to_string())),
            Err(e) => Err(retryable(e.to_string())),
        }
    }

    /// The policy decision: the verdict of the Engine's policy gate (the shipped Rego policy),
    /// or `deny` when no executable action was proposed.
    #[activity]
    pub async fn decide(self: Arc<Self>, _ctx: ActivityContext, input: PolicyStep) -> Result<PolicyOutcome, ActivityError> {
        Ok(match input.remediation {
            Some(r) => PolicyOutcome { decision: r.decision, reasons: r.reasons },
            None => PolicyOutcome { decision: Decision::Deny, reasons: vec!["no executable action proposed".into()] },
        })
    }

    /// Executes the action (not a dry run) through the executor, which gets the action's
    /// idempotency key; heartbeats while it runs so a dead worker is noticed within the
    /// heartbeat timeout and the retry goes to another worker.
    #[activity]
    pub async fn execute(
        self: Arc<Self>,
        ctx: ActivityContext,
        action: RemediationAction,
    ) -> Result<ExecutionOutcome, ActivityError> {
        let span = tracing::info_span!("temporal.execute", key = %action.idempotency_key, attempt = ctx.info().attempt);
        let run = self.executor.execute(&action, false).instrument(span);
        tokio::pin!(run);
        let mut tick = tokio::time::interval(self.heartbeat_every);
        let result = loop {
            tokio::select! {
                r = &mut run => break r,
                _ = tick.tick() => {
                    let _ = ctx.record_heartbeat(ctx.info().attempt).await;
                }
            }
        };
        result.map_err(|e| retryable(format!("executor: {e}")))
    }

    /// Verifies the remediation: the executor's outcome (a live check against metrics is the
    /// executor's job in a deployment).
    #[activity]
    pub async fn verify(self: Arc<Self>, _ctx: ActivityContext, input: VerifyInput) -> Result<bool, ActivityError> {
        Ok(input.outcome.success && !input.outcome.dry_run)
    }

    /// Opens a ticket for a human.
    #[activity]
    pub async fn open_ticket(self: Arc<Self>, _ctx: ActivityContext, ticket: Ticket) -> Result<String, ActivityError> {
        self.tickets.open_ticket(&ticket).await.map_err(|e| retryable(format!("ticket: {e}")))
    }

    /// Records the incident's final status.
    #[activity]
    pub async fn close(self: Arc<Self>, _ctx: ActivityContext, input: CloseInput) -> Result<IncidentStatus, ActivityError> {
        self.tickets.close(&input.incident_id, input.status).await.map_err(|e| retryable(format!("close: {e}")))?;
        Ok(input.status)
    }
}
