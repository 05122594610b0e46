//! The durable incident workflow: every incident moves through persisted states
//!
//! `received -> collecting -> diagnosed -> policy -> awaiting_approval -> executing -> verifying
//! -> resolved | escalated | closed` (or `failed` when the diagnosis itself fails),
//!
//! and each transition is committed ([`IncidentStore::advance`]) before the next step starts.
//! A [`Runner`] claims due incidents with a lease ([`IncidentStore::claim`]); a commit only
//! succeeds while the runner still holds the lease, so with several replicas on one PostgreSQL
//! database each step is committed by one runner only. After a crash the lease expires and
//! another runner resumes the incident at its last committed state. The timers (approval
//! expiry, verification wait) are persisted deadlines (`due_at`), not in-memory sleeps.
//!
//! Exactly-once execution: the executor is called only for an action in status `approved`, and
//! the status moves to `executing` in a committed step *before* the call. A runner that finds an
//! action already `executing` (its predecessor died mid-call) never calls the executor again: it
//! marks the action `interrupted` and escalates to a human.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aiops_core::traits::{BoxError, Clock, ExecutionOutcome, Executor, SystemClock};
use aiops_core::{AnalysisInput, Decision, Engine, RemediationAction, RemediationSummary};
use async_trait::async_trait;
use jiff::Timestamp;
use serde_json::json;
use tokio::sync::Notify;
use tracing::Instrument;

use crate::metrics::Metrics;
use crate::notify::{ApprovalNotice, ApprovalNotifier, ApprovalOutcome, MessageRef};
use crate::store::{
    ActionRecord, ActionStatus, AuditEntry, Claim, IncidentStore, Step, StoreError, StoreResult, StoredIncident,
    VerificationRecord, WorkflowState, after, is_terminal,
};

/// Settings of the runner.
#[derive(Debug, Clone, Copy)]
pub struct WorkflowConfig {
    /// How long a claimed incident stays leased to this runner between commits.
    pub lease: Duration,
    /// Poll interval when nothing signals new incidents (also the timer resolution).
    pub poll: Duration,
    /// Incidents claimed per round.
    pub batch: usize,
    /// How long a human has to approve an action before the incident is escalated.
    pub approval_timeout: Duration,
    /// How long after an execution its effect is verified.
    pub verify_wait: Duration,
    /// The longest an executor call may take (the lease covers it).
    pub execute_timeout: Duration,
    /// Execute actions for real (`false`, the default, only validates them).
    pub execute: bool,
    /// How many times the approval notifier is asked to post one request before the runner
    /// gives up (the action stays decidable through the API).
    pub notify_attempts: u32,
    /// How long after a failed approval notification it is tried again.
    pub notify_retry: Duration,
}

impl Default for WorkflowConfig {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(120),
            poll: Duration::from_secs(2),
            batch: 8,
            approval_timeout: Duration::from_secs(3600),
            verify_wait: Duration::from_secs(300),
            execute_timeout: Duration::from_secs(300),
            execute: false,
            notify_attempts: 5,
            notify_retry: Duration::from_secs(60),
        }
    }
}

/// The result of a verification.
#[derive(Debug, Clone, PartialEq)]
pub struct Verification {
    /// Whether the problem is gone.
    pub success: bool,
    /// What was checked.
    pub details: serde_json::Value,
}

/// Checks, after the verification wait, whether an executed action fixed the incident.
#[async_trait]
pub trait Verifier: Send + Sync {
    /// Verifies `action` on `incident` (as stored now).
    async fn verify(&self, incident: &StoredIncident, action: &ActionRecord) -> Result<Verification, BoxError>;
}

/// The default verifier: the action worked when the incident's alerts have resolved.
#[derive(Debug, Clone, Copy, Default)]
pub struct AlertsResolved;

#[async_trait]
impl Verifier for AlertsResolved {
    async fn verify(&self, incident: &StoredIncident, _action: &ActionRecord) -> Result<Verification, BoxError> {
        let open = incident.is_open();
        Ok(Verification { success: !open, details: json!({"check": "alerts_resolved", "incident_open": open}) })
    }
}

/// Drives incidents through the workflow (one per replica; any number may share a store).
pub struct Runner {
    store: Arc<dyn IncidentStore>,
    engine: Engine,
    executor: Option<Arc<dyn Executor>>,
    verifier: Arc<dyn Verifier>,
    notifier: Option<Arc<dyn ApprovalNotifier>>,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    cfg: WorkflowConfig,
    worker: String,
    seq: AtomicU64,
}

/// What a step decided: commit this, or stop because the lease was lost.
type Outcome = StoreResult<Option<Step>>;

impl Runner {
    /// A runner with no executor (actions end as dry runs), the [`AlertsResolved`] verifier and
    /// the system clock.
    pub fn new(store: Arc<dyn IncidentStore>, engine: Engine, metrics: Arc<Metrics>, cfg: WorkflowConfig) -> Self {
        static N: AtomicU64 = AtomicU64::new(0);
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "aiops".into());
        let worker = format!(
            "{host}-{}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            Timestamp::now().as_nanosecond() % 1_000_000_000
        );
        Self {
            store,
            engine,
            executor: None,
            verifier: Arc::new(AlertsResolved),
            notifier: None,
            clock: Arc::new(SystemClock),
            metrics,
            cfg,
            worker,
            seq: AtomicU64::new(0),
        }
    }

    /// Sets the executor of approved actions.
    pub fn executor(mut self, executor: Arc<dyn Executor>) -> Self {
        self.executor = Some(executor);
        self
    }

    /// Sets the verifier.
    pub fn verifier(mut self, verifier: Arc<dyn Verifier>) -> Self {
        self.verifier = verifier;
        self
    }

    /// Sets the approval notifier: told when an action starts waiting for a human (once per
    /// action, across restarts) and when it is decided or expires (see [`crate::notify`]).
    pub fn notifier(mut self, notifier: Arc<dyn ApprovalNotifier>) -> Self {
        self.notifier = Some(notifier);
        self
    }

    /// Sets the clock (tests move time to expire deadlines).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// This runner's identity (the prefix of its lease tokens).
    pub fn worker_id(&self) -> &str {
        &self.worker
    }

    /// Runs forever: claims due incidents, drives them, waits for `wake` or the poll interval.
    pub async fn run(self, wake: Arc<Notify>) {
        loop {
            match self.run_once().await {
                Ok(0) => {
                    let _ = tokio::time::timeout(self.cfg.poll, wake.notified()).await;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "workflow round failed");
                    tokio::time::sleep(self.cfg.poll).await;
                }
            }
        }
    }

    /// Claims one batch of due incidents and drives each as far as it goes; returns how many
    /// were claimed.
    pub async fn run_once(&self) -> StoreResult<usize> {
        let token = format!("{}#{}", self.worker, self.seq.fetch_add(1, Ordering::Relaxed));
        let claims = self.store.claim(&token, self.clock.now(), self.cfg.lease, self.cfg.batch).await?;
        let n = claims.len();
        for claim in claims {
            let span = tracing::info_span!("incident_workflow", incident_id = %claim.incident.incident.id);
            if let Err(e) = self.drive(claim).instrument(span).await {
                tracing::warn!(error = %e, "workflow step failed; the lease expires and it is retried");
            }
        }
        Ok(n)
    }

    /// Runs rounds until nothing is due (tests, batch use); returns the incidents claimed.
    pub async fn run_until_idle(&self) -> StoreResult<usize> {
        let mut total = 0;
        loop {
            match self.run_once().await? {
                0 => return Ok(total),
                n => total += n,
            }
        }
    }

    /// Steps one claimed incident until it waits (for a human or a deadline), ends, or the
    /// lease is lost.
    async fn drive(&self, claim: Claim) -> StoreResult<()> {
        let mut state = claim.incident.workflow_state;
        while !is_terminal(state) {
            let started = Instant::now();
            let span = tracing::info_span!("workflow_step", state = state.as_str());
            let Some(step) = self.step(&claim, state).instrument(span).await? else { return Ok(()) };
            self.metrics.step(state.as_str(), started.elapsed());
            if !self.store.advance(&claim, state, &step, self.clock.now()).await? {
                tracing::info!("lease lost: another runner owns the incident");
                return Ok(());
            }
            state = step.to.unwrap_or(state);
            if step.lease_until.is_none() {
                return Ok(());
            }
        }
        Ok(())
    }

    async fn step(&self, claim: &Claim, state: WorkflowState) -> Outcome {
        let inc = &claim.incident;
        match state {
            WorkflowState::Received => Ok(Some(self.next(WorkflowState::Collecting))),
            WorkflowState::Collecting => Ok(Some(self.diagnose(inc).await)),
            WorkflowState::Diagnosed => Ok(Some(self.next(WorkflowState::Policy))),
            WorkflowState::Policy => self.policy(inc).await.map(Some),
            WorkflowState::AwaitingApproval => self.approval(claim).await,
            WorkflowState::Executing => self.execute(claim).await,
            WorkflowState::Verifying => self.verify(inc).await.map(Some),
            _ => Ok(None),
        }
    }

    /// Keep the lease and move on.
    fn next(&self, to: WorkflowState) -> Step {
        Step { to: Some(to), lease_until: Some(after(self.clock.now(), self.cfg.lease)), ..Step::default() }
    }

    /// An end state, with its audit record.
    fn finish(to: WorkflowState, kind: &str, details: serde_json::Value) -> Step {
        Step { to: Some(to), audit: Some((kind.into(), details)), ..Step::default() }
    }

    async fn diagnose(&self, inc: &StoredIncident) -> Step {
        let input = AnalysisInput {
            alert: Some(inc.alert.clone()),
            namespaces: if inc.incident.namespace.is_empty() {
                Vec::new()
            } else {
                vec![inc.incident.namespace.clone()]
            },
            ..AnalysisInput::default()
        };
        match self.engine.analyze_with_graph(input).await {
            Ok((report, graph)) => {
                self.metrics.report(&report);
                let top = report.top().map(|h| json!({"cause": h.cause, "confidence": h.confidence}));
                Step {
                    audit: Some(("diagnosed".into(), json!({"top": top, "partial": report.partial}))),
                    diagnosis: Some((report, graph.snapshot())),
                    ..self.next(WorkflowState::Diagnosed)
                }
            }
            Err(e) => {
                self.metrics.workflow_failures.inc();
                tracing::warn!(error = %e, "diagnosis failed");
                Self::finish(WorkflowState::Failed, "diagnosis_failed", json!({"error": e.to_string()}))
            }
        }
    }

    async fn policy(&self, inc: &StoredIncident) -> StoreResult<Step> {
        let id = &inc.incident.id;
        let report = self.store.report(id).await?;
        let Some(r) = report.and_then(|r| r.remediation) else {
            return Ok(Self::finish(WorkflowState::Closed, "no_remediation", json!({})));
        };
        let now = self.clock.now();
        let mut record = action_record(id, &r, !self.cfg.execute);
        let details = json!({"action": r.action, "target": r.target.to_string(), "decision": r.decision,
            "reasons": r.reasons, "blast_radius": r.blast_radius});
        let step = match r.decision {
            Decision::Allow => {
                record.status = ActionStatus::Approved;
                Step { audit: Some(("policy_allowed".into(), details)), ..self.next(WorkflowState::Executing) }
            }
            Decision::RequiresApproval => {
                let deadline = after(now, self.cfg.approval_timeout);
                record.approval_deadline = Some(deadline);
                // The Slack buttons' single-use token; without randomness only the API can decide.
                record.approval_token = match aiops_remediate::approve::new_token() {
                    Ok(t) => Some(t),
                    Err(e) => {
                        tracing::warn!(error = %e, "no approval token: Slack cannot decide this action");
                        None
                    }
                };
                let audit = Some(("approval_requested".into(), details));
                if self.notifier.is_some() {
                    // Keep the lease: the next step asks the humans.
                    Step { audit, ..self.next(WorkflowState::AwaitingApproval) }
                } else {
                    Step { to: Some(WorkflowState::AwaitingApproval), due_at: Some(deadline), audit, ..Step::default() }
                }
            }
            Decision::Deny => {
                record.status = ActionStatus::Denied;
                Self::finish(WorkflowState::Escalated, "policy_denied", details)
            }
        };
        Ok(Step { action: Some(record), ..step })
    }

    async fn approval(&self, claim: &Claim) -> Outcome {
        let inc = &claim.incident;
        let Some(mut a) = self.store.action(&inc.incident.id).await? else {
            return Ok(Some(Self::finish(
                WorkflowState::Escalated,
                "no_action",
                json!({"state": "awaiting_approval"}),
            )));
        };
        let now = self.clock.now();
        let step = match a.status {
            ActionStatus::Approved => self.next(WorkflowState::Executing),
            ActionStatus::Rejected => {
                // Not fixed, and a human said no to the fix: hand the incident to a human.
                Self::finish(WorkflowState::Escalated, "remediation_rejected", json!({"by": a.decided_by}))
            }
            ActionStatus::AwaitingApproval if a.approval_deadline.is_none_or(|d| d < now) => {
                a.status = ActionStatus::Expired;
                let deadline = a.approval_deadline;
                Step {
                    action: Some(a.clone()),
                    ..Self::finish(WorkflowState::Escalated, "approval_expired", json!({"deadline": deadline}))
                }
            }
            ActionStatus::AwaitingApproval => return self.ask(claim, a, now).await,
            other => {
                return Ok(Some(Self::finish(
                    WorkflowState::Escalated,
                    "unexpected_action_status",
                    json!({"status": other}),
                )));
            }
        };
        self.announce(inc, a, now).await?;
        Ok(Some(step))
    }

    /// The action waits for a human: asks them through the notifier, once per action. The
    /// attempt is committed before the call (like an execution), so a runner that finds an
    /// attempt with no recorded result (its predecessor died mid-call, the message may be out)
    /// never asks again. A failure is audited and retried after `notify_retry`, at most
    /// `notify_attempts` times; the action stays decidable through the API throughout.
    async fn ask(&self, claim: &Claim, a: ActionRecord, now: Timestamp) -> Outcome {
        let deadline = a.approval_deadline.unwrap_or(now);
        let wait = Step { due_at: Some(deadline), ..Step::default() };
        let Some(notifier) = &self.notifier else { return Ok(Some(wait)) };
        let id = &claim.incident.incident.id;
        let notes = Notes::of(&self.store.audit(id).await?);
        if notes.message.is_some() || notes.gave_up {
            return Ok(Some(wait));
        }
        if notes.attempts > notes.failures {
            let details = json!({"attempt": notes.attempts, "gave_up": true, "error": "the runner asking for \
                this approval stopped mid-call; the message may have been posted, so it is not asked again"});
            return Ok(Some(Step { audit: Some(("approval_notify_failed".into(), details)), ..wait }));
        }
        let attempt = notes.attempts + 1;
        let marker = Step {
            lease_until: Some(after(now, self.cfg.lease)),
            audit: Some(("approval_notifying".into(), json!({"attempt": attempt}))),
            ..Step::default()
        };
        if !self.store.advance(claim, WorkflowState::AwaitingApproval, &marker, now).await? {
            return Ok(None);
        }
        let notice = self.notice(&claim.incident, a).await?;
        // Half the lease: the lease still covers the call when it times out.
        let call = tokio::time::timeout(self.cfg.lease / 2, notifier.request(&notice))
            .instrument(tracing::info_span!("approval_notify", attempt));
        let error = match call.await {
            Ok(Ok(m)) => {
                tracing::info!(channel = %m.channel, ts = %m.ts, "approval request posted");
                let details = json!({"channel": m.channel, "ts": m.ts, "attempt": attempt});
                // Keep the lease and look again: a decision may have come in during the call.
                return Ok(Some(Step {
                    lease_until: Some(after(self.clock.now(), self.cfg.lease)),
                    audit: Some(("approval_notified".into(), details)),
                    ..Step::default()
                }));
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("timed out after {:?}", self.cfg.lease / 2),
        };
        let gave_up = attempt >= self.cfg.notify_attempts;
        tracing::warn!(error = %error, attempt, gave_up, "approval notification failed; the action stays decidable through the API");
        let retry_at = if gave_up { deadline } else { after(self.clock.now(), self.cfg.notify_retry).min(deadline) };
        let details = json!({"attempt": attempt, "error": error, "gave_up": gave_up, "retry_at": retry_at});
        Ok(Some(Step {
            due_at: Some(retry_at),
            audit: Some(("approval_notify_failed".into(), details)),
            ..Step::default()
        }))
    }

    /// The action was decided or expired: updates the request message, if one was posted and
    /// not updated yet (audited either way; a failure leaves the decision as it is).
    async fn announce(&self, inc: &StoredIncident, a: ActionRecord, now: Timestamp) -> StoreResult<()> {
        let Some(notifier) = &self.notifier else { return Ok(()) };
        let id = &inc.incident.id;
        let notes = Notes::of(&self.store.audit(id).await?);
        let Some(message) = notes.message.filter(|_| !notes.updated) else { return Ok(()) };
        let expired = a.status == ActionStatus::Expired;
        let outcome = ApprovalOutcome {
            status: a.status,
            by: if expired { None } else { a.decided_by.clone() },
            role: notes.role,
            via: notes.via,
            at: if expired { a.approval_deadline.unwrap_or(now) } else { a.decided_at.unwrap_or(now) },
        };
        let notice = self.notice(inc, a).await?;
        let call = tokio::time::timeout(self.cfg.lease / 2, notifier.outcome(&notice, &message, &outcome));
        let mut details = json!({"channel": message.channel, "ts": message.ts, "status": outcome.status});
        let kind = match call.await {
            Ok(Ok(())) => "approval_message_updated",
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "approval message update failed");
                details["error"] = e.to_string().into();
                "approval_message_update_failed"
            }
            Err(_) => {
                tracing::warn!("approval message update timed out");
                details["error"] = format!("timed out after {:?}", self.cfg.lease / 2).into();
                "approval_message_update_failed"
            }
        };
        let entry = AuditEntry {
            incident_id: id.clone(),
            action_type: kind.into(),
            actor: "system".into(),
            details,
            created_at: self.clock.now(),
        };
        self.store.append_audit(&entry).await
    }

    async fn notice(&self, inc: &StoredIncident, action: ActionRecord) -> StoreResult<ApprovalNotice> {
        let blast = self.store.report(&inc.incident.id).await?.and_then(|r| r.remediation).and_then(|r| r.blast);
        Ok(ApprovalNotice { incident: inc.clone(), action, blast })
    }

    /// Commits `executing` on the action, then calls the executor once, then commits the outcome.
    async fn execute(&self, claim: &Claim) -> Outcome {
        let Some(mut a) = self.store.action(&claim.incident.incident.id).await? else {
            return Ok(Some(Self::finish(WorkflowState::Escalated, "no_action", json!({"state": "executing"}))));
        };
        match a.status {
            ActionStatus::Approved => {}
            ActionStatus::Executing => {
                a.status = ActionStatus::Interrupted;
                let details = json!({"reason": "the runner executing this action stopped; its outcome is unknown \
                    and it is not retried", "started_at": a.started_at});
                return Ok(Some(Step {
                    action: Some(a),
                    ..Self::finish(WorkflowState::Escalated, "execution_interrupted", details)
                }));
            }
            other => {
                let details = json!({"status": other});
                return Ok(Some(Self::finish(WorkflowState::Escalated, "unexpected_action_status", details)));
            }
        }
        let now = self.clock.now();
        a.status = ActionStatus::Executing;
        a.started_at = Some(now);
        let marker = Step {
            lease_until: Some(after(now, self.cfg.execute_timeout + self.cfg.lease)),
            action: Some(a.clone()),
            audit: Some(("execution_started".into(), json!({"key": a.action.idempotency_key, "dry_run": a.dry_run}))),
            ..Step::default()
        };
        if !self.store.advance(claim, WorkflowState::Executing, &marker, now).await? {
            return Ok(None);
        }
        let outcome = self.call_executor(&a.action, a.dry_run).await;
        Ok(Some(self.executed(a, outcome)))
    }

    async fn call_executor(&self, action: &RemediationAction, dry_run: bool) -> ExecutionOutcome {
        let Some(executor) = &self.executor else {
            return ExecutionOutcome {
                success: true,
                dry_run: true,
                message: "no executor configured: nothing was changed".into(),
            };
        };
        let span = tracing::info_span!("execute", key = %action.idempotency_key, dry_run);
        let call = tokio::time::timeout(self.cfg.execute_timeout, executor.execute(action, dry_run)).instrument(span);
        match call.await {
            Ok(Ok(o)) => o,
            Ok(Err(e)) => ExecutionOutcome { success: false, dry_run, message: e.to_string() },
            Err(_) => ExecutionOutcome {
                success: false,
                dry_run,
                message: format!("timed out after {:?}", self.cfg.execute_timeout),
            },
        }
    }

    fn executed(&self, mut a: ActionRecord, outcome: ExecutionOutcome) -> Step {
        let now = self.clock.now();
        a.finished_at = Some(now);
        a.status = if outcome.success { ActionStatus::Succeeded } else { ActionStatus::Failed };
        let details = json!({"key": a.action.idempotency_key, "success": outcome.success,
            "dry_run": outcome.dry_run, "message": outcome.message});
        let (dry, ok) = (outcome.dry_run, outcome.success);
        a.outcome = Some(outcome);
        let step = match (ok, dry) {
            (false, _) => Self::finish(WorkflowState::Escalated, "execution_failed", details),
            (true, true) => Self::finish(WorkflowState::Closed, "executed_dry_run", details),
            (true, false) => Step {
                to: Some(WorkflowState::Verifying),
                due_at: Some(after(now, self.cfg.verify_wait)),
                audit: Some(("executed".into(), details)),
                ..Step::default()
            },
        };
        Step { action: Some(a), ..step }
    }

    async fn verify(&self, claimed: &StoredIncident) -> StoreResult<Step> {
        let id = &claimed.incident.id;
        let inc = self.store.get(id).await?.ok_or_else(|| StoreError(format!("incident {id} vanished")))?;
        let Some(a) = self.store.action(id).await? else {
            return Ok(Self::finish(WorkflowState::Escalated, "no_action", json!({"state": "verifying"})));
        };
        let v = match self.verifier.verify(&inc, &a).await {
            Ok(v) => v,
            Err(e) => Verification { success: false, details: json!({"error": e.to_string()}) },
        };
        let record = VerificationRecord {
            incident_id: id.clone(),
            action_key: a.action.idempotency_key.clone(),
            success: v.success,
            details: v.details.clone(),
            verified_at: self.clock.now(),
        };
        let step = if v.success {
            Self::finish(WorkflowState::Resolved, "verified", v.details)
        } else {
            Self::finish(WorkflowState::Escalated, "verification_failed", v.details)
        };
        Ok(Step { verification: Some(record), ..step })
    }
}

/// What the audit trail says about an incident's approval message.
#[derive(Debug, Default)]
struct Notes {
    /// Requests started (`approval_notifying`).
    attempts: u32,
    /// Requests failed (`approval_notify_failed`).
    failures: u32,
    /// No more requests (the bound was reached, or an attempt's outcome is unknown).
    gave_up: bool,
    /// Where the request was posted (`approval_notified`).
    message: Option<MessageRef>,
    /// The message was updated with the outcome (or the update failed: it is not retried).
    updated: bool,
    /// The decider's role and channel (the `approved` / `rejected` entry).
    role: Option<String>,
    via: Option<String>,
}

impl Notes {
    fn of(trail: &[AuditEntry]) -> Self {
        let mut n = Notes::default();
        let text = |e: &AuditEntry, k: &str| e.details.get(k).and_then(|v| v.as_str()).map(String::from);
        for e in trail {
            match e.action_type.as_str() {
                "approval_notifying" => n.attempts += 1,
                "approval_notify_failed" => {
                    n.failures += 1;
                    n.gave_up |= e.details.get("gave_up").and_then(|v| v.as_bool()).unwrap_or(false);
                }
                "approval_notified" => n.message = serde_json::from_value(e.details.clone()).ok(),
                "approval_message_updated" | "approval_message_update_failed" => n.updated = true,
                "approved" | "rejected" => {
                    n.role = text(e, "role");
                    n.via = text(e, "via");
                }
                _ => {}
            }
        }
        n
    }
}

/// The action record of a report's proposed remediation, waiting for approval.
fn action_record(incident_id: &str, r: &RemediationSummary, dry_run: bool) -> ActionRecord {
    ActionRecord {
        incident_id: incident_id.to_string(),
        action: RemediationAction {
            action: r.action,
            target: r.target.clone(),
            parameters: r.parameters.clone(),
            // The stored incident's id, not the engine's: a re-fired alert's new incident must
            // not share its predecessor's key (the executor skips keys it has run).
            idempotency_key: format!("{incident_id}:{}:{}", r.action, r.target),
        },
        decision: r.decision,
        reasons: r.reasons.clone(),
        blast_radius: r.blast_radius,
        dry_run,
        status: ActionStatus::AwaitingApproval,
        approval_deadline: None,
        decided_by: None,
        decided_at: None,
        started_at: None,
        finished_at: None,
        outcome: None,
        approval_token: None,
    }
}

/// Runs a [`Runner`] with no executor forever ([`crate::Server`] builds its runner with
/// [`crate::ServerBuilder`], which can add one).
pub async fn run(
    store: Arc<dyn IncidentStore>,
    engine: Engine,
    metrics: Arc<Metrics>,
    wake: Arc<Notify>,
    cfg: WorkflowConfig,
) {
    Runner::new(store, engine, metrics, cfg).run(wake).await
}
