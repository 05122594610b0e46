//! Approvals: the [`Approver`] trait, the [`ApprovalBook`] of pending approvals (single-use
//! tokens bound to the exact action, an allow-list of approvers, expiry), the automatic
//! approver, and the library approve/reject API. The Slack approver is in [`crate::slack`].
//!
//! A token is issued for one [`ApprovalRequest`] and is bound to
//! [`binding`]: SHA-256 over the canonical JSON of the action type, target, parameters and the
//! incident revision. An approval authorizes only an action with the same binding
//! ([`Approval::authorizes`]), so a changed action or a re-analysed incident needs a new one.
//! A token decides once; a decision after `expires_at` (default 4 hours) is refused and the
//! approval becomes `expired` (never executed; the caller escalates).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aiops_core::model::{BlastRadius, RemediationAction};
use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::audit::canonical;
use crate::error::{RemediateError, Result};

/// The default time an approval stays open.
pub const DEFAULT_EXPIRY: Duration = Duration::from_secs(4 * 3600);

/// What a human is asked to approve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalRequest {
    /// The incident.
    pub incident_id: String,
    /// Its title.
    pub incident_title: String,
    /// Its severity (`critical`, `high`, ...).
    pub severity: String,
    /// Its namespace.
    pub namespace: String,
    /// The incident revision the action was planned on (a re-analysis bumps it).
    pub incident_revision: u64,
    /// The exact action.
    pub action: RemediationAction,
    /// Its blast radius.
    pub blast: BlastRadius,
    /// The policy's reasons for asking.
    #[serde(default)]
    pub reasons: Vec<String>,
}

/// SHA-256 (hex) over the action type, target, parameters and incident revision.
pub fn binding(action: &RemediationAction, incident_revision: u64) -> String {
    let doc = json!({
        "action_type": action.action.as_str(), "target": action.target.to_string(),
        "parameters": action.parameters, "incident_revision": incident_revision,
    });
    hex::encode(Sha256::digest(canonical(&doc).as_bytes()))
}

/// Where an approval stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalState {
    /// Waiting for a human.
    Pending,
    /// Approved: the action may run.
    Approved,
    /// Rejected: it never runs.
    Rejected,
    /// Nobody decided in time: it never runs; escalate.
    Expired,
}

/// One approval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    /// The single-use token the buttons carry.
    pub token: String,
    /// [`binding`] of the request.
    pub binding: String,
    /// The request.
    pub request: ApprovalRequest,
    /// Where it stands.
    pub state: ApprovalState,
    /// When it was asked.
    pub requested_at: Timestamp,
    /// When it stops accepting decisions.
    pub expires_at: Timestamp,
    /// Who decided (a Slack user id, a library caller's name, `policy` when automatic).
    #[serde(default)]
    pub decided_by: Option<String>,
    /// The decider's role from the allow-list.
    #[serde(default)]
    pub role: Option<String>,
    /// When it was decided (or expired).
    #[serde(default)]
    pub decided_at: Option<Timestamp>,
    /// Where the request was posted (`channel`, `ts` for Slack).
    #[serde(default)]
    pub message: Option<serde_json::Value>,
}

impl Approval {
    /// True when this approval lets `action` (planned on `incident_revision`) run.
    pub fn authorizes(&self, action: &RemediationAction, incident_revision: u64) -> bool {
        self.state == ApprovalState::Approved && self.binding == binding(action, incident_revision)
    }
}

/// Slack user ids (or library caller names) allowed to decide, with their roles.
pub type AllowList = BTreeMap<String, String>;

/// A fresh unguessable single-use approval token: 32 random bytes from the OS, hex-encoded.
pub fn new_token() -> Result<String> {
    let mut buf = [0u8; 32];
    getrandom::getrandom(&mut buf).map_err(|e| RemediateError::Approval(format!("no randomness: {e}")))?;
    Ok(hex::encode(buf))
}

/// The pending and decided approvals (cheap to clone; clones share them).
#[derive(Debug, Clone)]
pub struct ApprovalBook {
    approvals: Arc<Mutex<BTreeMap<String, Approval>>>,
    allow: AllowList,
    expiry: Duration,
}

impl ApprovalBook {
    /// A book accepting decisions from `allow`, approvals expiring after 4 hours.
    pub fn new(allow: AllowList) -> Self {
        Self { approvals: Arc::default(), allow, expiry: DEFAULT_EXPIRY }
    }

    /// Approvals expire after `expiry`.
    pub fn with_expiry(mut self, expiry: Duration) -> Self {
        self.expiry = expiry;
        self
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, BTreeMap<String, Approval>>> {
        self.approvals.lock().map_err(|_| RemediateError::Approval("approval book lock poisoned".into()))
    }

    /// Opens a pending approval for `request` at `now`, with a fresh single-use token.
    pub fn issue(&self, request: &ApprovalRequest, now: Timestamp) -> Result<Approval> {
        let expiry = SignedDuration::try_from(self.expiry).unwrap_or(SignedDuration::from_hours(4));
        let a = Approval {
            token: new_token()?,
            binding: binding(&request.action, request.incident_revision),
            request: request.clone(),
            state: ApprovalState::Pending,
            requested_at: now,
            expires_at: now.checked_add(expiry).unwrap_or(now),
            decided_by: None,
            role: None,
            decided_at: None,
            message: None,
        };
        self.lock()?.insert(a.token.clone(), a.clone());
        Ok(a)
    }

    /// Records where the request was posted.
    pub fn set_message(&self, token: &str, message: serde_json::Value) -> Result<()> {
        if let Some(a) = self.lock()?.get_mut(token) {
            a.message = Some(message);
        }
        Ok(())
    }

    /// The approval holding `token`.
    pub fn get(&self, token: &str) -> Option<Approval> {
        self.lock().ok()?.get(token).cloned()
    }

    /// Decides `token` for `user` at `now`: refused for an unknown token, a token already
    /// used (replay), an approver not on the allow-list, or after expiry (which expires it).
    pub fn decide(&self, token: &str, user: &str, approve: bool, now: Timestamp) -> Result<Approval> {
        let mut g = self.lock()?;
        let a = g.get_mut(token).ok_or_else(|| RemediateError::Approval("unknown approval token".into()))?;
        if a.state != ApprovalState::Pending {
            return Err(RemediateError::Approval(format!("token already used (approval is {:?})", a.state)));
        }
        let role = self
            .allow
            .get(user)
            .ok_or_else(|| RemediateError::Approval(format!("user {user} is not on the approvers allow-list")))?;
        if now >= a.expires_at {
            a.state = ApprovalState::Expired;
            a.decided_at = Some(now);
            return Err(RemediateError::Approval(format!("approval expired at {}", a.expires_at)));
        }
        a.state = if approve { ApprovalState::Approved } else { ApprovalState::Rejected };
        a.decided_by = Some(user.to_string());
        a.role = Some(role.clone());
        a.decided_at = Some(now);
        tracing::info!(token = &a.token[..8], user, approve, "approval decided");
        Ok(a.clone())
    }

    /// Approves through the library API.
    pub fn approve(&self, token: &str, user: &str, now: Timestamp) -> Result<Approval> {
        self.decide(token, user, true, now)
    }

    /// Rejects through the library API.
    pub fn reject(&self, token: &str, user: &str, now: Timestamp) -> Result<Approval> {
        self.decide(token, user, false, now)
    }

    /// Expires every pending approval past its deadline; returns them (to escalate).
    pub fn expire_due(&self, now: Timestamp) -> Result<Vec<Approval>> {
        let mut g = self.lock()?;
        let mut out = Vec::new();
        for a in g.values_mut().filter(|a| a.state == ApprovalState::Pending && now >= a.expires_at) {
            a.state = ApprovalState::Expired;
            a.decided_at = Some(now);
            out.push(a.clone());
        }
        Ok(out)
    }
}

/// Obtains a decision on an action the policy wants approved (or allowed outright).
#[async_trait]
pub trait Approver: Send + Sync {
    /// Asks for a decision at `now`: an immediate one (automatic) or a pending approval whose
    /// token will be decided later.
    async fn request(&self, request: &ApprovalRequest, now: Timestamp) -> Result<Approval>;
}

/// Approves at once, as `policy`: for actions the policy allows without a human.
#[derive(Debug, Clone)]
pub struct AutoApprover {
    book: ApprovalBook,
}

impl Default for AutoApprover {
    fn default() -> Self {
        Self { book: ApprovalBook::new(AllowList::from([("policy".to_string(), "automatic".to_string())])) }
    }
}

#[async_trait]
impl Approver for AutoApprover {
    async fn request(&self, request: &ApprovalRequest, now: Timestamp) -> Result<Approval> {
        let a = self.book.issue(request, now)?;
        self.book.approve(&a.token, "policy", now)
    }
}

/// Keeps requests pending for a decision through the library API ([`ApprovalBook::approve`]).
#[derive(Debug, Clone)]
pub struct ManualApprover {
    /// The book decisions go to.
    pub book: ApprovalBook,
}

#[async_trait]
impl Approver for ManualApprover {
    async fn request(&self, request: &ApprovalRequest, now: Timestamp) -> Result<Approval> {
        self.book.issue(request, now)
    }
}
