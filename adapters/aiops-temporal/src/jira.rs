//! [`JiraTickets`]: a [`TicketSink`] that opens Jira issues through the Jira REST API v2
//! (`POST /rest/api/2/issue`, basic auth), as the original's `JiraClient` did (§8.8).
//!
//! Idempotent on the incident: every issue carries the label `aiops-<incident id>`, and an
//! issue with that label (`GET /rest/api/2/search?jql=labels="aiops-…"`) is returned instead of
//! opening a second one, so an activity retry after a lost response never files twice.

use std::time::Duration;

use aiops_core::traits::BoxError;
use serde_json::{Value, json};

use crate::activities::{Ticket, TicketSink};

/// Where and as whom issues are filed.
#[derive(Debug, Clone)]
pub struct JiraTickets {
    base: String,
    user: String,
    token: String,
    project: String,
    http: reqwest::Client,
}

impl JiraTickets {
    /// Files issues in `project` at `base` (`https://example.atlassian.net`) as `user`/`token`.
    pub fn new(
        base: impl Into<String>,
        user: impl Into<String>,
        token: impl Into<String>,
        project: impl Into<String>,
    ) -> crate::Result<Self> {
        Ok(Self {
            base: base.into().trim_end_matches('/').to_string(),
            user: user.into(),
            token: token.into(),
            project: project.into(),
            http: crate::http_client()?,
        })
    }

    fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .basic_auth(&self.user, Some(&self.token))
            .timeout(Duration::from_secs(20))
    }

    async fn existing(&self, label: &str) -> Result<Option<String>, BoxError> {
        let jql = format!("labels = \"{label}\"");
        let url = format!("/rest/api/2/search?maxResults=1&fields=key&jql={}", encode(&jql));
        let found: Value = self.req(reqwest::Method::GET, &url).send().await?.error_for_status()?.json().await?;
        Ok(found["issues"][0]["key"].as_str().map(str::to_string))
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters pass).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The issue's fields: the original's summary and issue type, the reason as the description.
pub fn issue_fields(project: &str, ticket: &Ticket) -> Value {
    let attempted = if ticket.remediation_attempted { "yes" } else { "no" };
    json!({"fields": {
        "project": {"key": project},
        "summary": format!("[Incident] {}", ticket.title),
        "issuetype": {"name": "Bug"},
        "labels": ["aiops", label(&ticket.incident_id)],
        "description": format!(
            "h2. Incident Details\nIncident: {}\n\nh2. Why a human is needed\n{}\n\nRemediation attempted: {attempted}",
            ticket.incident_id, ticket.reason
        ),
    }})
}

fn label(incident_id: &str) -> String {
    // Jira labels cannot contain spaces.
    format!("aiops-{}", incident_id.replace(char::is_whitespace, "_"))
}

#[async_trait::async_trait]
impl TicketSink for JiraTickets {
    async fn open_ticket(&self, ticket: &Ticket) -> Result<String, BoxError> {
        let label = label(&ticket.incident_id);
        if let Some(key) = self.existing(&label).await? {
            return Ok(key);
        }
        let body = issue_fields(&self.project, ticket);
        let created: Value = self
            .req(reqwest::Method::POST, "/rest/api/2/issue")
            .json(&body)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        created["key"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("Jira answered without a key: {created}").into())
    }
}
