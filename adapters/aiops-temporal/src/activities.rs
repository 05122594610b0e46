//! The activities of [`crate::IncidentWorkflow`]: the Engine's steps, each retried by Temporal.

use std::sync::Arc;
use std::time::Duration;

use aiops::live::LiveSources;
use aiops_core::graph::GraphSnapshot;
use aiops_core::traits::{BoxError, ExecutionOutcome, Executor};
use aiops_core::{Alert, AnalysisInput, Decision, IncidentStatus, RemediationAction, RemediationSummary, Report};
use serde::{Deserialize, Serialize};
use tracing::Instrument;

use crate::error::Error;
use temporalio_macros::activities;
use temporalio_sdk::ApplicationFailure;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

/// Where the diagnose activity gets its evidence.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Evidence {
    /// An incident bundle (`incident-bundle.md`) as JSON text: collected already.
    Bundle(String),
    /// A live alert (what the server's ingestion starts): the worker collects from its
    /// cluster, Prometheus and Loki ([`IncidentActivities::live`]).
    Live {
        /// The alert as normalized by the server.
        alert: Alert,
        /// The namespaces in scope (the alert's).
        namespaces: Vec<String>,
    },
}

/// The input of the diagnose activity.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DiagnoseInput {
    /// The incident id the server gave it (`None`: the report's own id).
    #[serde(default)]
    pub incident_id: Option<String>,
    /// Where the evidence comes from.
    pub evidence: Evidence,
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

/// Where tickets go (Jira in a deployment, [`crate::JiraTickets`]).
#[async_trait::async_trait]
pub trait TicketSink: Send + Sync {
    /// Opens a ticket and returns its id. Must be idempotent on the incident id.
    async fn open_ticket(&self, ticket: &Ticket) -> Result<String, BoxError>;
}

/// Where the incident's progress is recorded (the server's incident store when the server
/// started the workflow). Every method defaults to a trace line.
#[async_trait::async_trait]
pub trait IncidentRecorder: Send + Sync {
    /// The diagnosis: the full report and evidence graph (they stay out of the workflow history).
    async fn diagnosed(&self, incident_id: &str, report: &Report, graph: &GraphSnapshot) -> Result<(), BoxError> {
        tracing::info!(incident_id, hypotheses = report.hypotheses.len(), nodes = graph.nodes.len(), "diagnosed");
        Ok(())
    }
    /// A workflow step was reached (`awaiting_approval`, `remediating`, `verifying`, ...).
    async fn step(&self, incident_id: &str, step: &str) -> Result<(), BoxError> {
        tracing::info!(incident_id, step, "incident step");
        Ok(())
    }
    /// The incident's final status.
    async fn close(&self, incident_id: &str, status: IncidentStatus) -> Result<(), BoxError> {
        tracing::info!(incident_id, status = status.as_str(), "incident closed");
        Ok(())
    }
}

/// Records nothing but trace lines.
#[derive(Debug, Clone, Copy, Default)]
pub struct TraceRecorder;

impl IncidentRecorder for TraceRecorder {}

/// The activity implementations: the executor, the ticket sink, the recorder and (for live
/// alerts) the sources to collect from.
pub struct IncidentActivities {
    executor: Arc<dyn Executor>,
    tickets: Arc<dyn TicketSink>,
    recorder: Arc<dyn IncidentRecorder>,
    live: Option<LiveSources>,
    heartbeat_every: Duration,
}

impl IncidentActivities {
    /// Activities acting through `executor` and filing tickets in `tickets`.
    pub fn new(executor: Arc<dyn Executor>, tickets: Arc<dyn TicketSink>) -> Self {
        Self {
            executor,
            tickets,
            recorder: Arc::new(TraceRecorder),
            live: None,
            heartbeat_every: Duration::from_secs(1),
        }
    }

    /// Records progress in `recorder`.
    pub fn recorder(mut self, recorder: Arc<dyn IncidentRecorder>) -> Self {
        self.recorder = recorder;
        self
    }

    /// Collects live alerts' evidence from `sources`.
    pub fn live(mut self, sources: LiveSources) -> Self {
        self.live = Some(sources);
        self
    }
}

fn non_retryable(msg: String) -> ActivityError {
    ActivityError::application(ApplicationFailure::non_retryable(msg))
}

fn retryable(msg: String) -> ActivityError {
    ActivityError::application(ApplicationFailure::new(msg))
}

/// The planner's action from the report's remediation section: its parameters and idempotency
/// key (reports without a key get the planner's format `incident:action:target`).
fn action_of(incident_id: &str, r: &RemediationSummary) -> RemediationAction {
    let key = if r.idempotency_key.is_empty() {
        format!("{incident_id}:{}:{}", r.action, r.target)
    } else {
        r.idempotency_key.clone()
    };
    RemediationAction {
        action: r.action,
        target: r.target.clone(),
        parameters: r.parameters.clone(),
        idempotency_key: key,
    }
}

/// Analyses `input` with `aiops::default_engine()`: a bundle through its collector, a live
/// alert through the live collectors of `live`. Returns the report and the evidence graph.
pub async fn analyze(input: &DiagnoseInput, live: Option<&LiveSources>) -> crate::Result<(Report, GraphSnapshot)> {
    let (builder, analysis) = match &input.evidence {
        Evidence::Bundle(text) => {
            let bundle = aiops_core::parse_bundle(text.as_bytes()).map_err(|e| Error::Invalid(e.to_string()))?;
            (
                aiops::default_engine().collector(aiops::collectors::BundleCollector::from_bundle(bundle)),
                AnalysisInput::default(),
            )
        }
        Evidence::Live { alert, namespaces } => {
            let sources =
                live.ok_or_else(|| Error::Invalid("a live alert, but the worker has no cluster configured".into()))?;
            let builder = aiops::live::with_live_collectors(aiops::default_engine(), sources)
                .await
                .map_err(|e| Error::Analysis(e.to_string()))?;
            let now = aiops::live::server_now(&sources.cluster).await.ok().flatten();
            (
                builder,
                AnalysisInput { alert: Some(alert.clone()), namespaces: namespaces.clone(), now, ..Default::default() },
            )
        }
    };
    let engine = builder.build().map_err(|e| Error::Invalid(e.to_string()))?;
    let analysis = AnalysisInput { environment: input.environment.clone(), ..analysis };
    let (mut report, graph) = engine.analyze_with_graph(analysis).await.map_err(|e| Error::Analysis(e.to_string()))?;
    if let Some(id) = &input.incident_id {
        report.incident.id = id.clone();
    }
    Ok((report, graph.snapshot()))
}

/// The small summary of a report that travels through the workflow.
pub fn summarize(report: &Report) -> Diagnosed {
    let id = report.incident.id.clone();
    Diagnosed {
        action: report.remediation.as_ref().map(|r| action_of(&id, r)),
        incident_id: id,
        title: report.incident.title.clone(),
        top_cause: report.top().map(|h| h.cause.to_string()).unwrap_or_else(|| "unknown".into()),
        hypotheses: report.hypotheses.len(),
        remediation: report.remediation.clone(),
    }
}

/// The diagnose step outside Temporal for a bundle (tests, previews).
pub async fn diagnose_bundle(bundle: &str, environment: Option<String>) -> crate::Result<Diagnosed> {
    let input = DiagnoseInput { incident_id: None, evidence: Evidence::Bundle(bundle.to_string()), environment };
    Ok(summarize(&analyze(&input, None).await?.0))
}

/// The input of the step activity.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepInput {
    /// The incident id.
    pub incident_id: String,
    /// The step reached.
    pub step: String,
}

#[activities]
impl IncidentActivities {
    /// Collects the bundle and diagnoses it with `aiops::default_engine()` (the original's
    /// collect, build graph, hypotheses, rank, runbook, blast radius and policy steps).
    /// A bundle that does not parse is a non-retryable failure.
    #[activity]
    pub async fn diagnose(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: DiagnoseInput,
    ) -> Result<Diagnosed, ActivityError> {
        let span = tracing::info_span!("temporal.diagnose", attempt = ctx.info().attempt);
        let (report, graph) = match analyze(&input, self.live.as_ref()).instrument(span).await {
            Ok(r) => r,
            Err(e @ Error::Invalid(_)) => return Err(non_retryable(e.to_string())),
            Err(e) => return Err(retryable(e.to_string())),
        };
        let id = report.incident.id.clone();
        self.recorder.diagnosed(&id, &report, &graph).await.map_err(|e| retryable(format!("recording: {e}")))?;
        Ok(summarize(&report))
    }

    /// The policy decision: the shipped Rego policy evaluated again on the input document the
    /// Engine decided on (the Engine's verdict when the report carries no input), or `deny` when
    /// no executable action was proposed. A policy error is not retried.
    #[activity]
    pub async fn decide(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: PolicyStep,
    ) -> Result<PolicyOutcome, ActivityError> {
        let Some(r) = input.remediation else {
            return Ok(PolicyOutcome {
                decision: Decision::Deny,
                reasons: vec!["no executable action proposed".into()],
            });
        };
        if r.policy_input.is_null() {
            return Ok(PolicyOutcome { decision: r.decision, reasons: r.reasons });
        }
        let _span = tracing::info_span!("temporal.decide", action = %r.action).entered();
        match aiops::remediate::evaluate_policy(&r.policy_input, None) {
            Ok(d) => Ok(PolicyOutcome { decision: d.decision, reasons: d.reasons }),
            Err(e) => Err(non_retryable(format!("policy: {e}"))),
        }
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

    /// Records a workflow step (for the incident store's view of the incident).
    #[activity]
    pub async fn step(self: Arc<Self>, _ctx: ActivityContext, input: StepInput) -> Result<(), ActivityError> {
        self.recorder.step(&input.incident_id, &input.step).await.map_err(|e| retryable(format!("step: {e}")))
    }

    /// Records the incident's final status.
    #[activity]
    pub async fn close(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: CloseInput,
    ) -> Result<IncidentStatus, ActivityError> {
        self.recorder.close(&input.incident_id, input.status).await.map_err(|e| retryable(format!("close: {e}")))?;
        Ok(input.status)
    }
}
