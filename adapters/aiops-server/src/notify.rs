//! Telling humans an action waits for their approval, and what became of it.
//!
//! When an action enters `awaiting_approval` the workflow runner calls
//! [`ApprovalNotifier::request`] once per action (a persisted audit marker, not memory, says
//! whether it has: a restart never asks twice); when it is decided (through the API or Slack's
//! buttons) or expires, [`ApprovalNotifier::outcome`] updates the message. A notifier failure
//! never blocks the incident: it is logged and audited, retried on a later round up to
//! [`crate::workflow::WorkflowConfig::notify_attempts`], and the action stays decidable through
//! the API meanwhile.
//!
//! [`SlackNotifier`] (feature `slack`) posts Slack's approval message
//! (`aiops_remediate::slack::approval_blocks`, buttons carrying the action's single-use token)
//! with `chat.postMessage` and replaces it with `chat.update` after the decision. Embedders plug
//! their own notifier with [`crate::ServerBuilder::notifier`].

use aiops_core::BlastRadius;
use aiops_core::traits::BoxError;
use async_trait::async_trait;
use jiff::Timestamp;

pub use aiops_remediate::slack::MessageRef;

use crate::store::{ActionRecord, ActionStatus, StoredIncident};

/// An action waiting for a human, with what a message about it shows.
#[derive(Debug, Clone)]
pub struct ApprovalNotice {
    /// The incident, as claimed.
    pub incident: StoredIncident,
    /// The action (status `awaiting_approval` when asking; holds `approval_token` and
    /// `approval_deadline`).
    pub action: ActionRecord,
    /// The blast radius of the stored report's remediation, when the report has one.
    pub blast: Option<BlastRadius>,
}

/// What became of an action a message asked about.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalOutcome {
    /// `approved`, `rejected` or `expired`.
    pub status: ActionStatus,
    /// Who decided (an API caller, a Slack user id); `None` when it expired.
    pub by: Option<String>,
    /// The decider's role (Slack approvers allow-list), when known.
    pub role: Option<String>,
    /// Through what it was decided (`api`, `slack`), when known.
    pub via: Option<String>,
    /// When it was decided, or when it expired.
    pub at: Timestamp,
}

/// Asks humans for approvals and shows them the outcome (Slack, chat, paging, ...).
#[async_trait]
pub trait ApprovalNotifier: Send + Sync {
    /// Asks for approval of `notice.action`; where the message is (kept in the audit trail).
    /// Called at most once per action unless it returns an error (then retried, boundedly).
    async fn request(&self, notice: &ApprovalNotice) -> Result<MessageRef, BoxError>;

    /// Replaces the message at `message` with `outcome` (called once; a failure is audited).
    async fn outcome(
        &self,
        notice: &ApprovalNotice,
        message: &MessageRef,
        outcome: &ApprovalOutcome,
    ) -> Result<(), BoxError>;
}

#[cfg(feature = "slack")]
pub use slack::SlackNotifier;

#[cfg(feature = "slack")]
mod slack {
    use aiops_core::traits::BoxError;
    use aiops_remediate::approve::{Approval, ApprovalRequest, ApprovalState};
    use aiops_remediate::slack::{MessageRef, SlackClient, approval_blocks, decided_blocks};
    use async_trait::async_trait;

    use super::{ApprovalNotice, ApprovalNotifier, ApprovalOutcome};
    use crate::store::ActionStatus;

    /// Posts approval requests to a Slack channel and updates them with the outcome.
    #[derive(Debug, Clone)]
    pub struct SlackNotifier {
        client: SlackClient,
        channel: String,
    }

    impl SlackNotifier {
        /// Posts as the bot of `bot_token` (`xoxb-...`, scope `chat:write`) to `channel`.
        pub fn new(bot_token: &str, channel: &str) -> Self {
            Self { client: SlackClient::new(bot_token), channel: channel.into() }
        }

        /// The notifier of `config` (`slack_bot_token`, `slack_channel`, `slack_api_url`), when
        /// both the token and the channel are set.
        pub fn from_config(config: &crate::ServerConfig) -> Option<Self> {
            let token = config.slack_bot_token.as_deref().filter(|t| !t.trim().is_empty())?;
            let channel = config.slack_channel.as_deref().filter(|c| !c.trim().is_empty())?;
            let n = Self::new(token, channel);
            Some(match config.slack_api_url.as_deref() {
                Some(api) => n.with_api(api),
                None => n,
            })
        }

        /// Talks to another Web API base than `https://slack.com/api` (a proxy, a test server).
        pub fn with_api(mut self, base: &str) -> Self {
            self.client = self.client.with_api(base);
            self
        }
    }

    fn request(n: &ApprovalNotice) -> ApprovalRequest {
        let inc = &n.incident.incident;
        ApprovalRequest {
            incident_id: inc.id.clone(),
            incident_title: inc.title.clone(),
            severity: inc.severity.to_string(),
            namespace: inc.namespace.clone(),
            incident_revision: 0,
            action: n.action.action.clone(),
            blast: n
                .blast
                .clone()
                .unwrap_or_else(|| aiops_core::BlastRadius { score: n.action.blast_radius, ..Default::default() }),
            reasons: n.action.reasons.clone(),
        }
    }

    fn approval(n: &ApprovalNotice, state: ApprovalState, o: Option<&ApprovalOutcome>) -> Approval {
        let expires_at = n.action.approval_deadline.unwrap_or(n.incident.updated_at);
        Approval {
            token: n.action.approval_token.clone().unwrap_or_default(),
            binding: String::new(),
            request: request(n),
            state,
            requested_at: n.incident.updated_at,
            expires_at,
            decided_by: o.and_then(|o| o.by.clone()),
            role: o.and_then(|o| o.role.clone().or_else(|| o.via.clone())),
            decided_at: o.map(|o| o.at),
            message: None,
        }
    }

    #[async_trait]
    impl ApprovalNotifier for SlackNotifier {
        async fn request(&self, n: &ApprovalNotice) -> Result<MessageRef, BoxError> {
            let Some(token) = n.action.approval_token.as_deref() else {
                return Err("the action has no approval token: its buttons could not decide it".into());
            };
            let a = approval(n, ApprovalState::Pending, None);
            let text = format!("🚨 Approval needed: {} for {}", a.request.action.action, a.request.incident_title);
            let blocks = approval_blocks(&a.request, token, a.expires_at);
            Ok(self.client.post_message(&self.channel, &text, &blocks).await?)
        }

        async fn outcome(&self, n: &ApprovalNotice, at: &MessageRef, o: &ApprovalOutcome) -> Result<(), BoxError> {
            let state = match o.status {
                ActionStatus::Approved => ApprovalState::Approved,
                ActionStatus::Rejected => ApprovalState::Rejected,
                _ => ApprovalState::Expired,
            };
            let a = approval(n, state, Some(o));
            let text = format!("{:?}: {} for {}", state, a.request.action.action, a.request.incident_title);
            Ok(self.client.update_message(at, &text, &decided_blocks(&a)).await?)
        }
    }
}
