//! [`Remediator`]: one incident's remediation from the report's proposal to closure, every step
//! audited: evidence digest and hypotheses, the policy input and decision, the approval (who,
//! when), the action request and the API's answer, the verification, and the closure (resolved,
//! or escalated with a Jira ticket).
//!
//! - `deny`: nothing runs; the reasons are recorded.
//! - `allow`: the [`AutoApprover`] approves as `policy`, the action runs as automatic.
//! - `requires_approval`: the configured [`Approver`] is asked and the run waits
//!   ([`Stage::AwaitingApproval`]); [`Remediator::resume`] continues with the decided approval:
//!   approved and bound to this exact action and incident revision, it runs once; rejected, it
//!   is closed; expired (or not decided by its deadline), it never runs and is escalated.

use std::sync::Arc;

use aiops_core::model::{Decision, PolicyDecision, RemediationAction, Report};
use aiops_core::policy_input::PolicyInput;
use aiops_core::traits::Clock;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tracing::Instrument;

use crate::approve::{Approval, ApprovalRequest, ApprovalState, Approver, AutoApprover};
use crate::audit::{AuditSink, canonical};
use crate::error::{RemediateError, Result};
use crate::executor::{Execution, KubeExecutor, RunMode};
use crate::jira::{JiraClient, TicketRef};
use crate::policy::RegoPolicyGate;
use crate::verify::{Verification, Verifier};

/// Where a remediation run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The report proposes no action.
    NoAction,
    /// The policy denied the action.
    Denied,
    /// Waiting for a human decision.
    AwaitingApproval,
    /// A human rejected the action.
    Rejected,
    /// Only simulated (the executor is not live).
    DryRun,
    /// Executed and verified: the incident is resolved.
    Resolved,
    /// Not resolved (expired approval, failed execution or verification): handed to a human.
    Escalated,
}

/// One remediation run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemediationRun {
    /// The incident.
    pub incident_id: String,
    /// The incident revision the action was planned on.
    pub revision: u64,
    /// The action.
    pub action: Option<RemediationAction>,
    /// The policy decision (with its input).
    pub decision: Option<PolicyDecision>,
    /// The approval, once asked.
    pub approval: Option<Approval>,
    /// What the executor did.
    pub execution: Option<Execution>,
    /// The verification outcome.
    pub verification: Option<Verification>,
    /// The ticket opened for an unresolved incident.
    pub ticket: Option<TicketRef>,
    /// Where it stands.
    pub stage: Stage,
    /// Why, in words.
    pub notes: Vec<String>,
}

/// Composes the gate, approvers, executor, verifier, ticketing and audit (see the module doc).
pub struct Remediator {
    gate: RegoPolicyGate,
    approver: Arc<dyn Approver>,
    executor: KubeExecutor,
    verifier: Verifier,
    audit: Arc<dyn AuditSink>,
    jira: Option<JiraClient>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Remediator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remediator").field("executor", &self.executor).field("jira", &self.jira).finish()
    }
}

/// SHA-256 of the report's evidence, so the audit pins what the decision was made on.
pub fn evidence_digest(report: &Report) -> String {
    let v = serde_json::to_value(&report.evidence).unwrap_or(Value::Null);
    hex::encode(Sha256::digest(canonical(&v).as_bytes()))
}

impl Remediator {
    /// A remediator; `approver` is asked when the policy requires approval.
    pub fn new(
        gate: RegoPolicyGate,
        approver: Arc<dyn Approver>,
        executor: KubeExecutor,
        verifier: Verifier,
        audit: Arc<dyn AuditSink>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self { gate, approver, executor, verifier, audit, jira: None, clock }
    }

    /// Opens a Jira issue for every incident remediation does not resolve.
    pub fn with_jira(mut self, jira: JiraClient) -> Self {
        self.jira = Some(jira);
        self
    }

    fn audit(&self, incident: &str, step: &str, data: Value) -> Result<()> {
        self.audit.append(incident, step, data).map(|_| ())
    }

    /// Starts remediating `report` (planned on incident revision `revision`).
    pub async fn start(&self, report: &Report, revision: u64) -> Result<RemediationRun> {
        let span = tracing::info_span!("remediate", incident = %report.incident.id, revision);
        self.start_inner(report, revision).instrument(span).await
    }

    async fn start_inner(&self, report: &Report, revision: u64) -> Result<RemediationRun> {
        let id = report.incident.id.clone();
        self.audit(&id, "evidence", json!({"digest": evidence_digest(report), "items": report.evidence.len()}))?;
        let hyps: Vec<Value> = report
            .hypotheses
            .iter()
            .map(|h| json!({"rule": h.rule, "title": h.title, "confidence": h.confidence}))
            .collect();
        self.audit(&id, "hypotheses", json!(hyps))?;
        let mut run = RemediationRun {
            incident_id: id.clone(),
            revision,
            action: None,
            decision: None,
            approval: None,
            execution: None,
            verification: None,
            ticket: None,
            stage: Stage::NoAction,
            notes: Vec::new(),
        };
        let Some(rem) = &report.remediation else { return Ok(run) };
        let action = RemediationAction {
            action: rem.action,
            target: rem.target.clone(),
            parameters: rem.parameters.clone(),
            idempotency_key: rem.idempotency_key.clone(),
        };
        let blast = rem.blast.clone().unwrap_or_default();
        let input = PolicyInput::new(&action, &blast, &blast.environment, self.clock.now()).to_value();
        let decision = self.gate.decide(&input)?;
        self.audit(
            &id,
            "policy",
            json!({"input": decision.input, "decision": decision.decision, "reasons": decision.reasons}),
        )?;
        run.action = Some(action.clone());
        run.decision = Some(decision.clone());
        let request = ApprovalRequest {
            incident_id: id.clone(),
            incident_title: report.incident.title.clone(),
            severity: report.incident.severity.to_string(),
            namespace: report.incident.namespace.clone(),
            incident_revision: revision,
            action,
            blast,
            reasons: decision.reasons.clone(),
        };
        match decision.decision {
            Decision::Deny => {
                run.stage = Stage::Denied;
                run.notes = decision.reasons.clone();
                self.audit(&id, "closure", json!({"stage": run.stage, "reasons": run.notes}))?;
                Ok(run)
            }
            Decision::Allow => {
                let approval = AutoApprover::default().request(&request, self.clock.now()).await?;
                self.audit_approval(&approval)?;
                run.approval = Some(approval);
                self.proceed(report, run, true).await
            }
            Decision::RequiresApproval => {
                let approval = self.approver.request(&request, self.clock.now()).await?;
                self.audit(
                    &id,
                    "approval_requested",
                    json!({"binding": approval.binding,
                    "expires_at": approval.expires_at.to_string(), "message": approval.message}),
                )?;
                run.approval = Some(approval);
                run.stage = Stage::AwaitingApproval;
                Ok(run)
            }
        }
    }

    fn audit_approval(&self, a: &Approval) -> Result<()> {
        self.audit(
            &a.request.incident_id,
            "approval",
            json!({
                "state": a.state, "by": a.decided_by, "role": a.role,
                "at": a.decided_at.map(|t| t.to_string()), "binding": a.binding,
            }),
        )
    }

    /// Continues a run of `report` waiting for approval with the decided `approval`.
    pub async fn resume(&self, report: &Report, run: RemediationRun, approval: &Approval) -> Result<RemediationRun> {
        let span = tracing::info_span!("remediate_resume", incident = %run.incident_id);
        self.resume_inner(report, run, approval).instrument(span).await
    }

    async fn resume_inner(
        &self,
        report: &Report,
        mut run: RemediationRun,
        approval: &Approval,
    ) -> Result<RemediationRun> {
        if run.stage != Stage::AwaitingApproval {
            return Err(RemediateError::Approval(format!("run is {:?}, not awaiting approval", run.stage)));
        }
        let action = run.action.clone().ok_or_else(|| RemediateError::Approval("run has no action".into()))?;
        let mut approval = approval.clone();
        if approval.state == ApprovalState::Pending && self.clock.now() >= approval.expires_at {
            approval.state = ApprovalState::Expired;
        }
        self.audit_approval(&approval)?;
        run.approval = Some(approval.clone());
        match approval.state {
            ApprovalState::Approved if approval.authorizes(&action, run.revision) => {
                self.proceed(report, run, false).await
            }
            ApprovalState::Approved => {
                run.notes.push("the approval is bound to a different action or incident revision".into());
                self.escalate(report, run).await
            }
            ApprovalState::Rejected => {
                run.stage = Stage::Rejected;
                run.notes.push(format!("rejected by {}", approval.decided_by.unwrap_or_default()));
                self.audit(&run.incident_id, "closure", json!({"stage": run.stage, "notes": run.notes}))?;
                Ok(run)
            }
            ApprovalState::Expired => {
                run.notes.push(format!("approval expired at {}: not executed", approval.expires_at));
                self.escalate(report, run).await
            }
            ApprovalState::Pending => Err(RemediateError::Approval("the approval is still pending".into())),
        }
    }

    async fn proceed(&self, report: &Report, mut run: RemediationRun, automatic: bool) -> Result<RemediationRun> {
        let action = run.action.clone().ok_or_else(|| RemediateError::Approval("run has no action".into()))?;
        let id = run.incident_id.clone();
        let baseline = self.verifier.capture(&action).await?;
        self.audit(&id, "baseline", serde_json::to_value(&baseline).unwrap_or(Value::Null))?;
        let executed = self.executor.run(&action, RunMode { dry_run: false, automatic }).await;
        let execution = match executed {
            Ok(e) => e,
            Err(e) => {
                self.audit(&id, "execution", json!({"error": e.to_string()}))?;
                run.notes.push(format!("execution refused or failed: {e}"));
                return self.escalate(report, run).await;
            }
        };
        self.audit(&id, "execution", serde_json::to_value(&execution).unwrap_or(Value::Null))?;
        let (dry, ok, replayed) = (execution.outcome.dry_run, execution.outcome.success, execution.replayed);
        run.execution = Some(execution);
        if dry {
            run.stage = Stage::DryRun;
            self.audit(&id, "closure", json!({"stage": run.stage}))?;
            return Ok(run);
        }
        if !ok {
            run.notes.push("execution did not succeed".into());
            return self.escalate(report, run).await;
        }
        if replayed {
            run.notes.push("already executed under this idempotency key: not executed again".into());
        }
        let verification = self.verifier.verify(&action, &baseline).await?;
        self.executor.ledger().record_verification(&action.idempotency_key, verification.success)?;
        self.audit(&id, "verification", serde_json::to_value(&verification).unwrap_or(Value::Null))?;
        let success = verification.success;
        run.verification = Some(verification);
        if !success {
            run.notes.push("verification failed".into());
            return self.escalate(report, run).await;
        }
        run.stage = Stage::Resolved;
        self.audit(&id, "closure", json!({"stage": run.stage}))?;
        Ok(run)
    }

    async fn escalate(&self, report: &Report, mut run: RemediationRun) -> Result<RemediationRun> {
        run.stage = Stage::Escalated;
        if let Some(jira) = &self.jira {
            match jira.create_issue(report, &run.notes).await {
                Ok(t) => run.ticket = Some(t),
                Err(e) => run.notes.push(format!("ticket not created: {e}")),
            }
        }
        self.audit(&run.incident_id, "closure", json!({"stage": run.stage, "notes": run.notes, "ticket": run.ticket}))?;
        Ok(run)
    }
}
