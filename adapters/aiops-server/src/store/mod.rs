//! The [`IncidentStore`] trait, its record types, and the stores: [`MemoryStore`] (tests,
//! ephemeral use) and [`SqlStore`]: SQLite (the embedded default, one file) or PostgreSQL
//! (several replicas on one database).
//!
//! Ingestion semantics every store implements, per alert of a batch, in order, inside one
//! transaction (the conformance suite in [`conformance`] checks them):
//! - **firing**, an open incident (not `resolved`/`closed`) already carries this fingerprint and
//!   was last seen within the dedup window: [`Outcome::Deduplicated`] (its `last_seen_at` and
//!   `alert_count` move on);
//! - **firing**, the alert has a group key and an open incident of that group was seen within the
//!   window: the alert is attached to it ([`Outcome::Attached`]);
//! - **firing**, otherwise: a new incident in workflow state `received` ([`Outcome::Created`]);
//! - **resolved**: the alert is marked resolved on its open incident; when none of the incident's
//!   alerts is still firing, the incident becomes `resolved` ([`Outcome::Resolved`]), otherwise
//!   [`Outcome::AlertResolved`]; with no open incident: [`Outcome::Unmatched`].

use std::time::Duration;

use aiops_core::graph::GraphSnapshot;
use aiops_core::traits::ExecutionOutcome;
use aiops_core::{Alert, Decision, Incident, IncidentStatus, RemediationAction, Report};
use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

#[cfg(feature = "conformance")]
pub mod conformance;
mod memory;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;

pub use memory::MemoryStore;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use sql::{SqlStore, SqlStore as SqliteStore, SqlStore as PostgresStore};

/// A store failure.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub String);

impl StoreError {
    /// Wraps any displayable error.
    pub fn from_display(e: impl std::fmt::Display) -> Self {
        StoreError(e.to_string())
    }
}

impl From<StoreError> for crate::ServerError {
    fn from(e: StoreError) -> Self {
        crate::ServerError::Store(e.0)
    }
}

/// Result alias for store calls.
pub type StoreResult<T> = std::result::Result<T, StoreError>;

/// Whether an incoming alert fires or is resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// Firing.
    Firing,
    /// Resolved.
    Resolved,
}

/// One normalized alert to ingest, with the incident it would open.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// The alert as normalized.
    pub alert: Alert,
    /// The incident it opens if it is new (its fingerprint is the dedup key).
    pub incident: Incident,
    /// Firing or resolved.
    pub state: AlertState,
    /// When aiops received it.
    pub received_at: Timestamp,
}

impl Incoming {
    /// Builds the incoming record of a normalized alert (the incident per `aiops_core::alert`).
    pub fn from_alert(alert: Alert, received_at: Timestamp) -> Self {
        let incident = aiops_core::alert::incident_from_alert(&alert, None, received_at);
        let state =
            if alert.status.eq_ignore_ascii_case("resolved") { AlertState::Resolved } else { AlertState::Firing };
        Self { alert, incident, state, received_at }
    }
}

/// What ingesting one alert did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", content = "incident_id", rename_all = "snake_case")]
pub enum Outcome {
    /// A new incident was opened.
    Created(String),
    /// A repeat of an open incident's alert within the window.
    Deduplicated(String),
    /// A new alert of an open incident's group, attached to it.
    Attached(String),
    /// The alert resolved, and with it the incident.
    Resolved(String),
    /// The alert resolved; the incident still has firing alerts.
    AlertResolved(String),
    /// A resolved alert with no open incident.
    Unmatched,
}

impl Outcome {
    /// The incident it concerns.
    pub fn incident_id(&self) -> Option<&str> {
        match self {
            Outcome::Created(id)
            | Outcome::Deduplicated(id)
            | Outcome::Attached(id)
            | Outcome::Resolved(id)
            | Outcome::AlertResolved(id) => Some(id),
            Outcome::Unmatched => None,
        }
    }
}

/// Dedup and grouping settings.
#[derive(Debug, Clone, Copy)]
pub struct DedupPolicy {
    /// A repeat within this time of the incident's last alert is a duplicate (default 4 h).
    pub window: Duration,
}

impl Default for DedupPolicy {
    fn default() -> Self {
        Self { window: Duration::from_secs(4 * 3600) }
    }
}

/// The persisted steps of the incident workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkflowState {
    /// Stored, not yet picked up.
    Received,
    /// Evidence is being collected and analysed (leased by one worker).
    Collecting,
    /// The report is stored.
    Diagnosed,
    /// The remediation policy is being evaluated.
    Policy,
    /// A proposed action waits for a human.
    AwaitingApproval,
    /// The action runs.
    Executing,
    /// The action's effect is being verified.
    Verifying,
    /// Done: the problem is gone.
    Resolved,
    /// Handed to a human.
    Escalated,
    /// Done without remediation.
    Closed,
    /// The diagnosis failed (see the audit trail).
    Failed,
}

impl WorkflowState {
    /// Every state.
    pub const ALL: &'static [WorkflowState] = &[
        WorkflowState::Received,
        WorkflowState::Collecting,
        WorkflowState::Diagnosed,
        WorkflowState::Policy,
        WorkflowState::AwaitingApproval,
        WorkflowState::Executing,
        WorkflowState::Verifying,
        WorkflowState::Resolved,
        WorkflowState::Escalated,
        WorkflowState::Closed,
        WorkflowState::Failed,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkflowState::Received => "received",
            WorkflowState::Collecting => "collecting",
            WorkflowState::Diagnosed => "diagnosed",
            WorkflowState::Policy => "policy",
            WorkflowState::AwaitingApproval => "awaiting_approval",
            WorkflowState::Executing => "executing",
            WorkflowState::Verifying => "verifying",
            WorkflowState::Resolved => "resolved",
            WorkflowState::Escalated => "escalated",
            WorkflowState::Closed => "closed",
            WorkflowState::Failed => "failed",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|w| w.as_str() == s)
    }
}

/// An incident as stored: the core [`Incident`] plus its lifecycle fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredIncident {
    /// The incident (id, fingerprint, title, severity, status, labels, ...).
    #[serde(flatten)]
    pub incident: Incident,
    /// When a human acknowledged it.
    pub acknowledged_at: Option<Timestamp>,
    /// When it was resolved or closed.
    pub resolved_at: Option<Timestamp>,
    /// When it was stored.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// When its last alert (first, repeat or attached) arrived.
    pub last_seen_at: Timestamp,
    /// How many alerts it received (first, repeats, attached).
    pub alert_count: u64,
    /// The sender's group key of its first alert.
    pub group_key: Option<String>,
    /// Workflow step.
    pub workflow_state: WorkflowState,
    /// The first alert, as normalized.
    pub alert: Alert,
}

impl StoredIncident {
    /// A freshly created record for an incoming alert.
    pub fn new(inc: &Incoming, id: String) -> Self {
        let mut incident = inc.incident.clone();
        incident.id = id;
        Self {
            incident,
            acknowledged_at: None,
            resolved_at: None,
            created_at: inc.received_at,
            updated_at: inc.received_at,
            last_seen_at: inc.received_at,
            alert_count: 1,
            group_key: inc.alert.group_key.clone(),
            workflow_state: WorkflowState::Received,
            alert: inc.alert.clone(),
        }
    }

    /// True unless resolved or closed.
    pub fn is_open(&self) -> bool {
        is_open(self.incident.status)
    }
}

/// True unless `resolved` or `closed`.
pub fn is_open(status: IncidentStatus) -> bool {
    !matches!(status, IncidentStatus::Resolved | IncidentStatus::Closed)
}

/// Filters of `GET /api/v1/incidents` (exact matches), newest `started_at` first.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ListFilter {
    /// Status.
    pub status: Option<String>,
    /// Severity.
    pub severity: Option<String>,
    /// Namespace.
    pub namespace: Option<String>,
    /// Page size (default 50, at most 1000).
    pub limit: Option<u32>,
    /// Offset.
    pub offset: Option<u32>,
}

impl ListFilter {
    /// The effective page size.
    pub fn limit(&self) -> u32 {
        self.limit.unwrap_or(50).clamp(1, 1000)
    }
}

/// A human or API status change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusChange {
    /// Sets `acknowledged_at` (once) and moves `open` to `investigating`.
    Acknowledge,
    /// Resolves the incident.
    Resolve,
}

/// One audit-trail record (`audit_logs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// The incident.
    pub incident_id: String,
    /// What happened (`created`, `acknowledged`, `resolved`, `diagnosed`, ...).
    pub action_type: String,
    /// Who did it (`system`, `api`, an approver).
    pub actor: String,
    /// Details.
    pub details: serde_json::Value,
    /// When.
    pub created_at: Timestamp,
}

/// Persistence of incidents, their alerts, reports, graphs and audit trail.
#[async_trait]
pub trait IncidentStore: Send + Sync {
    /// Short backend name (`memory`, `sqlite`, `postgres`), the key of `/health/ready` checks.
    fn name(&self) -> &'static str;

    /// Checks the backend answers.
    async fn ping(&self) -> StoreResult<()>;

    /// Ingests a batch atomically (see the module docs); one outcome per alert, in order.
    async fn ingest(&self, batch: &[Incoming], policy: &DedupPolicy) -> StoreResult<Vec<Outcome>>;

    /// One incident.
    async fn get(&self, id: &str) -> StoreResult<Option<StoredIncident>>;

    /// Incidents matching the filter, newest `started_at` first.
    async fn list(&self, filter: &ListFilter) -> StoreResult<Vec<StoredIncident>>;

    /// Acknowledges or resolves; `None` when the incident does not exist. Writes an audit entry.
    async fn change_status(
        &self,
        id: &str,
        change: StatusChange,
        actor: &str,
        at: Timestamp,
    ) -> StoreResult<Option<StoredIncident>>;

    /// Leases up to `limit` incidents whose workflow is due: not finished, not leased (or leased
    /// until before `now`, i.e. left by a crashed worker) and with no deadline after `now`. Each
    /// is leased to `token` until `now + lease`; with PostgreSQL concurrent claimers skip each
    /// other's rows (`FOR UPDATE SKIP LOCKED`), so one incident goes to one worker.
    async fn claim(&self, token: &str, now: Timestamp, lease: Duration, limit: usize) -> StoreResult<Vec<Claim>>;

    /// Commits one workflow step in one transaction: moves the incident from `from` to
    /// `step.to` with everything the step produced (report, action, verification, audit), if
    /// and only if it is still in `from` and leased to `claim.token`. False when the lease was
    /// lost (another worker owns the incident now): nothing was written.
    async fn advance(&self, claim: &Claim, from: WorkflowState, step: &Step, at: Timestamp) -> StoreResult<bool>;

    /// The remediation action of an incident, if one was proposed.
    async fn action(&self, id: &str) -> StoreResult<Option<ActionRecord>>;

    /// Records a human's approval or rejection of the action waiting for one, and makes the
    /// incident due so a worker picks it up. Writes an audit entry. The same as
    /// [`IncidentStore::decide_with`] with no reason, channel or token.
    async fn decide(&self, id: &str, approve: bool, actor: &str, at: Timestamp) -> StoreResult<Decided> {
        self.decide_with(id, &HumanDecision::new(approve, actor, at)).await
    }

    /// Records `decision` on the action of incident `id` in one transaction, if and only if the
    /// action is `awaiting_approval`, its deadline is not before `decision.at`, and (when
    /// `decision.token` is set) it holds that approval token; then makes the incident due so a
    /// worker picks it up, and writes the audit entry (`approved` / `rejected`, actor
    /// `decision.actor`, details [`HumanDecision::audit_details`]). Otherwise nothing is written:
    /// [`Decided::NotAwaiting`] (or [`Decided::NotFound`] for an unknown incident).
    async fn decide_with(&self, id: &str, decision: &HumanDecision) -> StoreResult<Decided>;

    /// The action holding approval token `token` ([`ActionRecord::approval_token`], the value
    /// of the Slack buttons), whatever its status; `None` when no action holds it.
    async fn action_by_token(&self, token: &str) -> StoreResult<Option<ActionRecord>>;

    /// The verification results of an incident, oldest first.
    async fn verifications(&self, id: &str) -> StoreResult<Vec<VerificationRecord>>;

    /// The stored report.
    async fn report(&self, id: &str) -> StoreResult<Option<Report>>;

    /// The stored evidence graph.
    async fn graph(&self, id: &str) -> StoreResult<Option<GraphSnapshot>>;

    /// Appends an audit record.
    async fn append_audit(&self, entry: &AuditEntry) -> StoreResult<()>;

    /// The audit trail of an incident, oldest first.
    async fn audit(&self, id: &str) -> StoreResult<Vec<AuditEntry>>;
}

/// A leased incident: what [`IncidentStore::claim`] returns and [`IncidentStore::advance`] checks.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    /// The incident as claimed.
    pub incident: StoredIncident,
    /// The lease token (unique per claim).
    pub token: String,
}

/// What one workflow step commits (see [`IncidentStore::advance`]).
#[derive(Debug, Clone, Default)]
pub struct Step {
    /// The next state (`None`: stay, e.g. to renew the lease or record an execution start).
    pub to: Option<WorkflowState>,
    /// When the incident is next due (a persisted timer: approval expiry, verification wait).
    pub due_at: Option<Timestamp>,
    /// Keep the lease until then (`None`: release it, the incident waits for `due_at` or a human).
    pub lease_until: Option<Timestamp>,
    /// The diagnosis to store (`reports`, `evidence`, `hypotheses`, `runbooks`).
    pub diagnosis: Option<(Report, GraphSnapshot)>,
    /// The remediation action to insert or update (`remediation_actions`).
    pub action: Option<ActionRecord>,
    /// A verification result to append (`verification_results`).
    pub verification: Option<VerificationRecord>,
    /// The audit record of the step: (action type, details); actor `system`.
    pub audit: Option<(String, serde_json::Value)>,
}

/// Where a remediation action stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    /// The policy wants a human; waiting until the deadline.
    AwaitingApproval,
    /// Allowed (by the policy or a human); not started.
    Approved,
    /// A human said no.
    Rejected,
    /// Nobody decided before the deadline.
    Expired,
    /// The policy denied it.
    Denied,
    /// The executor was called (committed before the call: a crash here is never retried).
    Executing,
    /// The executor reported success.
    Succeeded,
    /// The executor reported failure (or errored).
    Failed,
    /// A worker died during execution; the outcome is unknown and it is not retried.
    Interrupted,
}

impl ActionStatus {
    /// Every status.
    pub const ALL: &'static [ActionStatus] = &[
        ActionStatus::AwaitingApproval,
        ActionStatus::Approved,
        ActionStatus::Rejected,
        ActionStatus::Expired,
        ActionStatus::Denied,
        ActionStatus::Executing,
        ActionStatus::Succeeded,
        ActionStatus::Failed,
        ActionStatus::Interrupted,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionStatus::AwaitingApproval => "awaiting_approval",
            ActionStatus::Approved => "approved",
            ActionStatus::Rejected => "rejected",
            ActionStatus::Expired => "expired",
            ActionStatus::Denied => "denied",
            ActionStatus::Executing => "executing",
            ActionStatus::Succeeded => "succeeded",
            ActionStatus::Failed => "failed",
            ActionStatus::Interrupted => "interrupted",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|a| a.as_str() == s)
    }
}

/// One remediation action of an incident (`remediation_actions`), keyed by its idempotency key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionRecord {
    /// The incident.
    pub incident_id: String,
    /// The action (its `idempotency_key` is the record's key).
    pub action: RemediationAction,
    /// The policy verdict.
    pub decision: Decision,
    /// The policy's reasons.
    pub reasons: Vec<String>,
    /// The blast radius score.
    pub blast_radius: f64,
    /// Whether execution only validates.
    pub dry_run: bool,
    /// Where it stands.
    pub status: ActionStatus,
    /// Until when a human may approve it.
    pub approval_deadline: Option<Timestamp>,
    /// Who approved or rejected it.
    pub decided_by: Option<String>,
    /// When.
    pub decided_at: Option<Timestamp>,
    /// When the executor was called.
    pub started_at: Option<Timestamp>,
    /// When it returned.
    pub finished_at: Option<Timestamp>,
    /// What it returned.
    pub outcome: Option<ExecutionOutcome>,
    /// The single-use approval token of an action waiting for a human (the value its Slack
    /// approve/reject buttons carry; see `POST /api/v1/slack/interactions`). Decisions through
    /// the API need no token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_token: Option<String>,
}

/// A human's decision on an action waiting for approval (see [`IncidentStore::decide_with`]).
#[derive(Debug, Clone, PartialEq)]
pub struct HumanDecision {
    /// Approve (true) or reject.
    pub approve: bool,
    /// Who decided (an API caller's name, a Slack user id).
    pub actor: String,
    /// When.
    pub at: Timestamp,
    /// Why, in their words.
    pub reason: Option<String>,
    /// Through what: `api`, `slack`.
    pub via: Option<String>,
    /// The decider's role (from the Slack approvers allow-list).
    pub role: Option<String>,
    /// When set, only the action holding this approval token is decided (Slack buttons).
    pub token: Option<String>,
}

impl HumanDecision {
    /// A decision with no reason, channel, role or token.
    pub fn new(approve: bool, actor: &str, at: Timestamp) -> Self {
        Self { approve, actor: actor.to_string(), at, reason: None, via: None, role: None, token: None }
    }

    /// The audit action type: `approved` or `rejected`.
    pub fn kind(&self) -> &'static str {
        if self.approve { "approved" } else { "rejected" }
    }

    /// The audit details: the action's idempotency key and the reason, channel and role given
    /// (never the token).
    pub fn audit_details(&self, action_key: &str) -> serde_json::Value {
        let mut d = serde_json::json!({"action": action_key});
        if let Some(obj) = d.as_object_mut() {
            for (k, v) in [("reason", &self.reason), ("via", &self.via), ("role", &self.role)] {
                if let Some(v) = v {
                    obj.insert(k.into(), v.clone().into());
                }
            }
        }
        d
    }
}

/// One verification of an executed action (`verification_results`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerificationRecord {
    /// The incident.
    pub incident_id: String,
    /// The action's idempotency key.
    pub action_key: String,
    /// Whether the problem is gone.
    pub success: bool,
    /// What was checked.
    pub details: serde_json::Value,
    /// When.
    pub verified_at: Timestamp,
}

/// What [`IncidentStore::decide`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Decided {
    /// Recorded; the action as it now stands.
    Recorded(ActionRecord),
    /// The incident has no action waiting for approval (or its deadline passed); its action, if any.
    NotAwaiting(Option<ActionRecord>),
    /// No such incident.
    NotFound,
}

/// True for the states a workflow ends in.
pub fn is_terminal(state: WorkflowState) -> bool {
    matches!(state, WorkflowState::Resolved | WorkflowState::Escalated | WorkflowState::Closed | WorkflowState::Failed)
}

/// The `n`-th candidate id of a new incident: the core's stable id (`n = 0`), then ids derived
/// from it and the receive time (`n = 1`), and from those and `n` (`n >= 2`, only when the same
/// alert opened several incidents at one receive time, e.g. fire, resolve, fire in one batch).
pub fn candidate_id(inc: &Incoming, n: u32) -> String {
    let id = inc.incident.id.as_str();
    match n {
        0 => id.to_string(),
        1 => aiops_core::alert::stable_id(&[id, &inc.received_at.to_string()]),
        n => aiops_core::alert::stable_id(&[id, &inc.received_at.to_string(), &n.to_string()]),
    }
}

/// The id of a new incident: the first [`candidate_id`] not `taken`. That is the core's stable
/// id, or when that id is already taken (the same alert fired again after its incident was
/// resolved) one derived from it and the receive time.
pub fn fresh_id(inc: &Incoming, taken: impl Fn(&str) -> bool) -> String {
    (0..u32::MAX).map(|n| candidate_id(inc, n)).find(|id| !taken(id)).unwrap_or_else(|| candidate_id(inc, u32::MAX))
}

/// `at - window`, saturating.
pub fn window_start(at: Timestamp, window: Duration) -> Timestamp {
    let w = jiff::SignedDuration::try_from(window).unwrap_or(jiff::SignedDuration::MAX);
    at.checked_sub(w).unwrap_or(Timestamp::MIN)
}

/// `at + d`, saturating.
pub fn after(at: Timestamp, d: Duration) -> Timestamp {
    let d = jiff::SignedDuration::try_from(d).unwrap_or(jiff::SignedDuration::MAX);
    at.checked_add(d).unwrap_or(Timestamp::MAX)
}
