//! Slack approvals: the request blocks, the interaction callback's signature check and payload
//! parsing (always built: they need no HTTP client, so a server can verify callbacks with them),
//! and, with the `slack` feature, `SlackApprover`, which asks for approval in Slack and takes the
//! decision from Slack's interaction callback.
//!
//! - Request: `chat.postMessage` with the original block layout (`original-design.md` §8.7:
//!   header, incident/severity/namespace/action fields, blast radius and affected pods, an
//!   `approve_action` / `reject_action` button pair), plus a section naming the exact target,
//!   parameters and expiry. Both buttons carry the approval's single-use token (the original
//!   carried the incident id).
//! - Callback: `SlackApprover::handle_interaction` verifies `X-Slack-Signature` (`v0=` +
//!   HMAC-SHA256 of `v0:{X-Slack-Request-Timestamp}:{body}` with the signing secret, compared
//!   in constant time), refuses a timestamp more than 5 minutes from now, then decides the
//!   token in the [`ApprovalBook`] (unknown or used token, approver not on the allow-list,
//!   expired: refused), and updates the message with `chat.update` to show who decided.

use aiops_core::model::RemediationAction;
#[cfg(feature = "slack")]
use async_trait::async_trait;
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use serde_json::{Value, json};
use sha2::Sha256;
use subtle::ConstantTimeEq;
#[cfg(feature = "slack")]
use tracing::Instrument;

use crate::approve::{Approval, ApprovalRequest, ApprovalState};
#[cfg(feature = "slack")]
use crate::approve::{ApprovalBook, Approver};
use crate::error::{RemediateError, Result};

/// How far a callback's timestamp may be from now (Slack's recommendation).
pub const MAX_SKEW_SECS: i64 = 300;

/// Slack's Web API base.
#[cfg(feature = "slack")]
pub const SLACK_API: &str = "https://slack.com/api";

fn refused(why: impl Into<String>) -> RemediateError {
    RemediateError::Approval(why.into())
}

/// `v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}`: the signature Slack sends.
pub fn sign(signing_secret: &str, timestamp: &str, body: &[u8]) -> String {
    // HMAC accepts a key of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(signing_secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks a callback's signature and timestamp (at most [`MAX_SKEW_SECS`] from `now`).
pub fn verify_signature(
    signing_secret: &str,
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now: Timestamp,
) -> Result<()> {
    let ts: i64 = timestamp.trim().parse().map_err(|_| refused("X-Slack-Request-Timestamp is not a number"))?;
    if (now.as_second() - ts).abs() > MAX_SKEW_SECS {
        return Err(refused(format!("stale request: timestamp {ts} is more than 5 minutes from now")));
    }
    let want = sign(signing_secret, timestamp.trim(), body);
    if want.is_empty() || !bool::from(want.as_bytes().ct_eq(signature.trim().as_bytes())) {
        return Err(refused("X-Slack-Signature does not match"));
    }
    Ok(())
}

/// One button press of an approval message, as Slack's interaction callback reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interaction {
    /// The Slack user id of whoever pressed (`user.id`).
    pub user: String,
    /// The approval token the button carries (`actions[0].value`).
    pub token: String,
    /// `approve_action` (true) or `reject_action` (false).
    pub approve: bool,
}

/// Parses an interaction callback body (form-encoded `payload=` JSON): who pressed which
/// button carrying which token. Verify the signature first ([`verify_signature`]).
pub fn parse_interaction(body: &[u8]) -> Result<Interaction> {
    let payload = form_urlencoded::parse(body)
        .find(|(k, _)| k == "payload")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| refused("callback body has no `payload`"))?;
    let p: Value = serde_json::from_str(&payload).map_err(|e| RemediateError::json("slack payload", e))?;
    let user = p.pointer("/user/id").and_then(Value::as_str).ok_or_else(|| refused("payload has no user.id"))?;
    let act = p.pointer("/actions/0").ok_or_else(|| refused("payload has no action"))?;
    let token = act["value"].as_str().ok_or_else(|| refused("action has no value"))?;
    let approve = match act["action_id"].as_str() {
        Some("approve_action") => true,
        Some("reject_action") => false,
        other => return Err(refused(format!("unknown action_id {other:?}"))),
    };
    Ok(Interaction { user: user.to_string(), token: token.to_string(), approve })
}

fn fields(pairs: &[(&str, String)]) -> Value {
    Value::Array(pairs.iter().map(|(k, v)| json!({"type": "mrkdwn", "text": format!("*{k}:*\n{v}")})).collect())
}

fn describe(action: &RemediationAction) -> String {
    let params: Vec<String> = action.parameters.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("`{}` on `{}` ({})", action.action, action.target, params.join(", "))
}

/// The approval message blocks (§8.7 layout, buttons carrying `token`).
pub fn approval_blocks(r: &ApprovalRequest, token: &str, expires_at: Timestamp) -> Value {
    json!([
        {"type": "header", "text": {"type": "plain_text", "text": "🚨 Remediation Approval Required"}},
        {"type": "section", "fields": fields(&[
            ("Incident", r.incident_title.clone()), ("Severity", r.severity.clone()),
            ("Namespace", r.namespace.clone()), ("Action", r.action.action.to_string()),
        ])},
        {"type": "section", "fields": fields(&[
            ("Blast Radius", format!("{:.1}", r.blast.score)), ("Affected Pods", r.blast.affected_pods.to_string()),
        ])},
        {"type": "section", "text": {"type": "mrkdwn",
            "text": format!("{}\nExpires {expires_at}.", describe(&r.action))}},
        {"type": "actions", "elements": [
            {"type": "button", "action_id": "approve_action", "style": "primary", "value": token,
             "text": {"type": "plain_text", "text": "✅ Approve"}},
            {"type": "button", "action_id": "reject_action", "style": "danger", "value": token,
             "text": {"type": "plain_text", "text": "❌ Reject"}},
        ]},
    ])
}

/// The blocks after a decision: the request without buttons, and who decided.
pub fn decided_blocks(a: &Approval) -> Value {
    let mut blocks = approval_blocks(&a.request, &a.token, a.expires_at);
    let line = match a.state {
        ApprovalState::Approved | ApprovalState::Rejected => format!(
            "{} by <@{}> ({}) at {}",
            if a.state == ApprovalState::Approved { "✅ Approved" } else { "❌ Rejected" },
            a.decided_by.as_deref().unwrap_or("?"),
            a.role.as_deref().unwrap_or("?"),
            a.decided_at.map(|t| t.to_string()).unwrap_or_default()
        ),
        ApprovalState::Expired => format!("⌛ Expired at {}: not executed, escalated", a.expires_at),
        ApprovalState::Pending => "pending".to_string(),
    };
    if let Some(list) = blocks.as_array_mut() {
        list.pop();
        list.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": line}]}));
    }
    blocks
}

/// A Slack Web API client with a bot token: `POST {api}/{method}` with a JSON body and
/// `Authorization: Bearer`; an answer without `"ok": true` is an error naming Slack's `error`.
#[cfg(feature = "slack")]
#[derive(Clone)]
pub struct SlackClient {
    http: reqwest::Client,
    api: String,
    bot_token: String,
}

#[cfg(feature = "slack")]
impl std::fmt::Debug for SlackClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the bot token.
        f.debug_struct("SlackClient").field("api", &self.api).finish()
    }
}

/// Where a posted message is: the channel id and its `ts` (what `chat.update` needs).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MessageRef {
    /// The channel id Slack answered (`C...`).
    pub channel: String,
    /// The message timestamp, Slack's message id.
    pub ts: String,
}

#[cfg(feature = "slack")]
impl SlackClient {
    /// A client of [`SLACK_API`] posting as the bot of `bot_token` (30 s timeout per call).
    pub fn new(bot_token: &str) -> Self {
        Self { http: crate::http::client_or_default(), api: SLACK_API.into(), bot_token: bot_token.into() }
    }

    /// Talks to another Web API base (a proxy, or a local test server).
    pub fn with_api(mut self, base: &str) -> Self {
        self.api = base.trim_end_matches('/').into();
        self
    }

    /// The Web API base.
    pub fn api(&self) -> &str {
        &self.api
    }

    /// Calls Web API `method` with `body`; Slack's answer when it says `"ok": true`.
    pub async fn call(&self, method: &str, body: &Value) -> Result<Value> {
        let err = |e: reqwest::Error| RemediateError::Http { service: "slack", message: format!("{method}: {e}") };
        let resp = self
            .http
            .post(format!("{}/{method}", self.api))
            .bearer_auth(&self.bot_token)
            .json(body)
            .send()
            .await
            .map_err(err)?;
        let v: Value = resp.error_for_status().map_err(err)?.json().await.map_err(err)?;
        if v["ok"] != Value::Bool(true) {
            let why = v["error"].as_str().unwrap_or("unknown error");
            return Err(RemediateError::Http { service: "slack", message: format!("{method}: {why}") });
        }
        Ok(v)
    }

    /// `chat.postMessage` of `blocks` (and the notification `text`) to `channel`; where it is.
    pub async fn post_message(&self, channel: &str, text: &str, blocks: &Value) -> Result<MessageRef> {
        let v = self.call("chat.postMessage", &json!({"channel": channel, "text": text, "blocks": blocks})).await?;
        match (v["channel"].as_str(), v["ts"].as_str()) {
            (Some(channel), Some(ts)) => Ok(MessageRef { channel: channel.into(), ts: ts.into() }),
            _ => Err(RemediateError::Http { service: "slack", message: "chat.postMessage: no channel or ts".into() }),
        }
    }

    /// `chat.update`: replaces the message at `at` with `blocks` (and `text`).
    pub async fn update_message(&self, at: &MessageRef, text: &str, blocks: &Value) -> Result<()> {
        let body = json!({"channel": at.channel, "ts": at.ts, "text": text, "blocks": blocks});
        self.call("chat.update", &body).await.map(|_| ())
    }
}

#[cfg(feature = "slack")]
/// The Slack approver (see the module doc).
#[derive(Clone)]
pub struct SlackApprover {
    client: SlackClient,
    channel: String,
    signing_secret: String,
    book: ApprovalBook,
}

#[cfg(feature = "slack")]
impl std::fmt::Debug for SlackApprover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackApprover").field("api", &self.client.api).field("channel", &self.channel).finish()
    }
}

#[cfg(feature = "slack")]
impl SlackApprover {
    /// Posts to `channel` with `bot_token`, verifies callbacks with `signing_secret`, and
    /// keeps approvals in `book` (which holds the allow-list and expiry).
    pub fn new(bot_token: &str, channel: &str, signing_secret: &str, book: ApprovalBook) -> Self {
        Self {
            client: SlackClient::new(bot_token),
            channel: channel.into(),
            signing_secret: signing_secret.into(),
            book,
        }
    }

    /// Talks to another Web API base (a proxy, or a local test server).
    pub fn with_api(mut self, base: &str) -> Self {
        self.client = self.client.with_api(base);
        self
    }

    /// The approvals.
    pub fn book(&self) -> &ApprovalBook {
        &self.book
    }

    async fn call(&self, method: &str, body: &Value) -> Result<Value> {
        self.client.call(method, body).await
    }

    /// Handles one interaction callback (the raw body and the two signature headers) at `now`.
    pub async fn handle_interaction(
        &self,
        timestamp: &str,
        signature: &str,
        body: &[u8],
        now: Timestamp,
    ) -> Result<Approval> {
        self.callback(timestamp, signature, body, now).instrument(tracing::info_span!("slack_callback")).await
    }

    async fn callback(&self, timestamp: &str, signature: &str, body: &[u8], now: Timestamp) -> Result<Approval> {
        verify_signature(&self.signing_secret, timestamp, signature, body, now)?;
        let Interaction { user, token, approve } = parse_interaction(body)?;
        let decided = self.book.decide(&token, &user, approve, now);
        let shown = match &decided {
            Ok(a) => Some(a.clone()),
            Err(_) => self.book.get(&token).filter(|a| a.state == ApprovalState::Expired),
        };
        if let Some(a) = shown {
            self.show(&a).await;
        }
        decided
    }

    /// Replaces the request message with the decision (a failure is logged; the decision stands).
    async fn show(&self, a: &Approval) {
        let Some(msg) = &a.message else { return };
        let body = json!({"channel": msg["channel"], "ts": msg["ts"],
                          "text": format!("{:?}: {} for {}", a.state, a.request.action.action, a.request.incident_title),
                          "blocks": decided_blocks(a)});
        if let Err(e) = self.call("chat.update", &body).await {
            tracing::warn!(error = %e, "chat.update failed");
        }
    }

    /// Expires every overdue approval and updates its message; returns them (to escalate).
    pub async fn expire_due(&self, now: Timestamp) -> Result<Vec<Approval>> {
        let expired = self.book.expire_due(now)?;
        for a in &expired {
            self.show(a).await;
        }
        Ok(expired)
    }
}

#[cfg(feature = "slack")]
#[async_trait]
impl Approver for SlackApprover {
    async fn request(&self, request: &ApprovalRequest, now: Timestamp) -> Result<Approval> {
        let span = tracing::info_span!("slack_request", incident = %request.incident_id);
        self.post(request, now).instrument(span).await
    }
}

#[cfg(feature = "slack")]
impl SlackApprover {
    async fn post(&self, request: &ApprovalRequest, now: Timestamp) -> Result<Approval> {
        let mut a = self.book.issue(request, now)?;
        let body = json!({
            "channel": self.channel,
            "text": format!("🚨 Approval needed: {} for {}", request.action.action, request.incident_title),
            "blocks": approval_blocks(request, &a.token, a.expires_at),
        });
        let v = self.call("chat.postMessage", &body).await?;
        let message = json!({"channel": v["channel"], "ts": v["ts"]});
        self.book.set_message(&a.token, message.clone())?;
        a.message = Some(message);
        Ok(a)
    }
}
