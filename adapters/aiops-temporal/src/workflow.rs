//! [`IncidentWorkflow`]: one incident from alert to resolved (or closed with a ticket).

use std::time::Duration;

use aiops_core::{Decision, IncidentStatus};
use serde::{Deserialize, Serialize};
use temporalio_common::RetryPolicy;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{ActivityOptions, SyncWorkflowContext, WorkflowContext, WorkflowContextView, WorkflowResult};

use crate::activities::{
    CloseInput, DiagnoseInput, Evidence, IncidentActivities, PolicyStep, StepInput, Ticket, VerifyInput,
};

/// The waits of the workflow; tests shorten them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// How long an approval may take before the incident is closed with a ticket (4 h).
    pub approval_timeout: Duration,
    /// The wait between execution and verification (the original's 2 min).
    pub verify_wait: Duration,
    /// The execute activity's heartbeat timeout: how soon a dead worker's execution is retried.
    pub execute_heartbeat: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Self {
            approval_timeout: crate::DEFAULT_APPROVAL_TIMEOUT,
            verify_wait: crate::DEFAULT_VERIFY_WAIT,
            execute_heartbeat: Duration::from_secs(30),
        }
    }
}

/// The workflow's input: one incident's evidence source.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IncidentRequest {
    /// The incident id the server gave it (`None`: the report's own id).
    #[serde(default)]
    pub incident_id: Option<String>,
    /// A bundle, or a live alert to collect for.
    pub evidence: Evidence,
    /// The environment for the policy; `None`: the bundle's, else `prod`.
    #[serde(default)]
    pub environment: Option<String>,
    /// The waits.
    #[serde(default)]
    pub timings: Timings,
}

/// A human's answer to an approval request (the `approve` signal).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    /// Approved or denied.
    pub approved: bool,
    /// Who answered.
    pub approver: String,
}

/// The workflow's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentOutcome {
    /// The incident id.
    pub incident_id: String,
    /// The top cause.
    pub top_cause: String,
    /// `resolved` or `closed`.
    pub status: IncidentStatus,
    /// The policy verdict (`None` when no action was proposed).
    pub decision: Option<Decision>,
    /// The approval, when one was needed and came.
    pub approval: Option<Approval>,
    /// True when the approval timer fired first.
    pub approval_expired: bool,
    /// The executed action's idempotency key.
    pub executed: Option<String>,
    /// Whether verification succeeded (`None`: nothing executed).
    pub verified: Option<bool>,
    /// The ticket id, when one was opened.
    pub ticket: Option<String>,
}

/// One incident as a Temporal workflow. Query `status` for where it is; signal `approve` to
/// answer an approval request.
#[workflow]
#[derive(Default)]
pub struct IncidentWorkflow {
    status: String,
    approval: Option<Approval>,
}

/// The original's `default_retry`: 1 s initial, ×2, at most 5 min apart, 3 attempts; a bad
/// input (the original's `ValueError`/`TypeError`) is not retried (activities raise those as
/// non-retryable failures).
pub fn default_retry() -> RetryPolicy {
    RetryPolicy::builder()
        .initial_interval(Duration::from_secs(1))
        .backoff_coefficient(2.0)
        .maximum_interval(Duration::from_secs(300))
        .maximum_attempts(3)
        .non_retryable_error_types(["ValueError", "TypeError"])
        .build()
}

/// The original's `quick_retry`: 1 s initial, at most 30 s apart, 3 attempts.
pub fn quick_retry() -> RetryPolicy {
    RetryPolicy::builder()
        .initial_interval(Duration::from_secs(1))
        .maximum_interval(Duration::from_secs(30))
        .maximum_attempts(3)
        .build()
}

fn opts(start_to_close: Duration, retry: RetryPolicy) -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(start_to_close).retry_policy(retry).build()
}

const MIN: u64 = 60;

/// Sets the queried status and records the step through the `step` activity.
async fn step(ctx: &mut WorkflowContext<IncidentWorkflow>, incident_id: &str, step: &str) -> WorkflowResult<()> {
    ctx.state_mut(|w| w.status = step.to_string());
    let input = StepInput { incident_id: incident_id.to_string(), step: step.to_string() };
    ctx.execute_activity(IncidentActivities::step, input, opts(Duration::from_secs(30), quick_retry())).await?;
    Ok(())
}

#[workflow_methods]
impl IncidentWorkflow {
    /// Runs the incident: diagnose, policy, (approval), execute, verify, ticket, close.
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, request: IncidentRequest) -> WorkflowResult<IncidentOutcome> {
        let set = |ctx: &WorkflowContext<Self>, s: &str| ctx.state_mut(|w| w.status = s.to_string());
        set(ctx, "investigating");
        let timings = request.timings.clone();
        let diagnosed = ctx
            .execute_activity(
                IncidentActivities::diagnose,
                DiagnoseInput {
                    incident_id: request.incident_id,
                    evidence: request.evidence,
                    environment: request.environment,
                },
                opts(Duration::from_secs(5 * MIN), default_retry()),
            )
            .await;
        let diagnosed = match diagnosed {
            Ok(d) => d,
            Err(e) => {
                set(ctx, &format!("failed: {e}"));
                return Err(e.into());
            }
        };
        set(ctx, "identified");
        let policy = ctx
            .execute_activity(
                IncidentActivities::decide,
                PolicyStep { remediation: diagnosed.remediation.clone() },
                opts(Duration::from_secs(30), quick_retry()),
            )
            .await?;
        let mut outcome = IncidentOutcome {
            incident_id: diagnosed.incident_id.clone(),
            top_cause: diagnosed.top_cause.clone(),
            status: IncidentStatus::Closed,
            decision: diagnosed.action.as_ref().map(|_| policy.decision),
            approval: None,
            approval_expired: false,
            executed: None,
            verified: None,
            ticket: None,
        };
        let mut ticket_reason = None;
        let mut allowed = diagnosed.action.is_some() && policy.decision != Decision::Deny;
        if !allowed {
            ticket_reason = Some(format!("policy denied: {}", policy.reasons.join("; ")));
        }
        if allowed && policy.decision == Decision::RequiresApproval {
            step(ctx, &diagnosed.incident_id, "awaiting_approval").await?;
            let answered = temporalio_sdk::workflows::select! {
                _ = ctx.timer(timings.approval_timeout) => false,
                r = ctx.wait_condition(|w| w.approval.is_some()) => { r?; true }
            };
            if answered {
                let approval = ctx.state(|w| w.approval.clone());
                allowed = approval.as_ref().is_some_and(|a| a.approved);
                if !allowed {
                    ticket_reason = Some("approval denied".into());
                }
                outcome.approval = approval;
            } else {
                allowed = false;
                outcome.approval_expired = true;
                ticket_reason = Some(format!("approval expired after {:?}", timings.approval_timeout));
            }
        }
        if let (true, Some(action)) = (allowed, diagnosed.action.clone()) {
            step(ctx, &diagnosed.incident_id, "remediating").await?;
            let exec = ActivityOptions::with_start_to_close_timeout(Duration::from_secs(5 * MIN))
                .retry_policy(default_retry())
                .heartbeat_timeout(timings.execute_heartbeat)
                .build();
            let executed = ctx.execute_activity(IncidentActivities::execute, action.clone(), exec).await;
            match executed {
                Ok(result) => {
                    outcome.executed = Some(action.idempotency_key.clone());
                    step(ctx, &diagnosed.incident_id, "verifying").await?;
                    ctx.timer(timings.verify_wait).await;
                    let ok = ctx
                        .execute_activity(
                            IncidentActivities::verify,
                            VerifyInput { action, outcome: result },
                            opts(Duration::from_secs(2 * MIN), default_retry()),
                        )
                        .await?;
                    outcome.verified = Some(ok);
                    if !ok {
                        ticket_reason = Some("verification failed".into());
                    }
                }
                Err(e) => ticket_reason = Some(format!("execution failed: {e}")),
            }
        }
        if let Some(reason) = ticket_reason {
            let ticket = Ticket {
                incident_id: diagnosed.incident_id.clone(),
                title: diagnosed.title.clone(),
                reason,
                remediation_attempted: outcome.executed.is_some(),
            };
            let id = ctx
                .execute_activity(IncidentActivities::open_ticket, ticket, opts(Duration::from_secs(30), quick_retry()))
                .await?;
            outcome.ticket = Some(id);
        }
        let status = if outcome.verified == Some(true) { IncidentStatus::Resolved } else { IncidentStatus::Closed };
        outcome.status = ctx
            .execute_activity(
                IncidentActivities::close,
                CloseInput { incident_id: diagnosed.incident_id, status },
                opts(Duration::from_secs(30), quick_retry()),
            )
            .await?;
        set(ctx, status.as_str());
        Ok(outcome)
    }

    /// Answers the approval request (the first answer counts).
    #[signal]
    pub fn approve(&mut self, _ctx: &mut SyncWorkflowContext<Self>, approval: Approval) {
        if self.approval.is_none() {
            self.approval = Some(approval);
        }
    }

    /// Where the incident is: `investigating`, `identified`, `awaiting_approval`, `remediating`,
    /// `verifying`, `resolved`, `closed` or `failed: ...`.
    #[query]
    pub fn status(&self, _ctx: &WorkflowContextView) -> String {
        self.status.clone()
    }
}
