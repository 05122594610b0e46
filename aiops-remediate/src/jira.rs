//! [`JiraClient`]: opens a ticket for an incident remediation did not resolve, over Jira's REST
//! create-issue API (`POST {base}/rest/api/2/issue`, basic auth with the user and API token).
//!
//! The fields are the original's (`original-design.md` §8.8): `project.key`,
//! `summary = "[Incident] {title}"`, `issuetype.name = "Bug"`, `priority.name` mapped from the
//! severity (critical Highest, high High, medium Medium, low Low, info Lowest); the description
//! is Jira wiki markup with the incident details, the root cause analysis, the recommended
//! actions, what remediation did, and (unlike the original) the runbook itself.

use aiops_core::model::{Report, Severity};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{RemediateError, Result};

/// The Jira priority name for a severity (§8.8).
pub fn priority(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "Highest",
        Severity::High => "High",
        Severity::Medium => "Medium",
        Severity::Low => "Low",
        Severity::Info => "Lowest",
    }
}

/// A created issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketRef {
    /// The issue key (`OPS-42`).
    pub key: String,
    /// `{base}/browse/{key}`.
    pub url: String,
}

/// The wiki-markup description: details, analysis, actions, remediation notes, runbook.
pub fn description(report: &Report, remediation_notes: &[String]) -> String {
    let i = &report.incident;
    let mut d = format!(
        "h2. Incident Details\n*Cluster:* {}\n*Namespace:* {}\n*Service:* {}\n*Started:* {}\n\n",
        i.cluster,
        i.namespace,
        i.service.as_deref().unwrap_or("unknown"),
        i.started_at
    );
    d.push_str("h2. Root Cause Analysis\n");
    match report.hypotheses.first() {
        Some(h) => {
            d.push_str(&format!("*{}* ({:.0}% confidence)\n{}\n\n", h.title, h.confidence * 100.0, h.explanation))
        }
        None => d.push_str("No hypothesis.\n\n"),
    }
    d.push_str("h2. Recommended Actions\n");
    let actions: Vec<String> =
        report.hypotheses.first().map(|h| h.actions.iter().map(|a| a.to_string()).collect()).unwrap_or_default();
    if actions.is_empty() {
        d.push_str("* Investigate manually\n");
    }
    for a in actions {
        d.push_str(&format!("* {a}\n"));
    }
    if !remediation_notes.is_empty() {
        d.push_str("\nh2. Remediation\n");
        for n in remediation_notes {
            d.push_str(&format!("* {n}\n"));
        }
    }
    d.push_str(&format!("\nh2. Runbook\n*{}*\n{}\n", report.runbook.title, report.runbook.summary));
    for (n, step) in report.runbook.steps.iter().enumerate() {
        d.push_str(&format!("\nh3. {}. {}\n", n + 1, step.title));
        for c in step.commands.iter().chain(&step.promql) {
            d.push_str(&format!("{{code}}{c}{{code}}\n"));
        }
        for l in &step.links {
            d.push_str(&format!("* [{l}]\n"));
        }
    }
    d
}

/// The create-issue request body.
pub fn issue_fields(project: &str, report: &Report, remediation_notes: &[String]) -> Value {
    json!({"fields": {
        "project": {"key": project},
        "summary": format!("[Incident] {}", report.incident.title),
        "issuetype": {"name": "Bug"},
        "priority": {"name": priority(report.incident.severity)},
        "description": description(report, remediation_notes),
        "labels": ["aiops", format!("incident-{}", report.incident.id)],
    }})
}

/// The Jira client.
#[derive(Clone)]
pub struct JiraClient {
    http: reqwest::Client,
    base: String,
    user: String,
    token: String,
    project: String,
}

impl std::fmt::Debug for JiraClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JiraClient").field("base", &self.base).field("project", &self.project).finish()
    }
}

impl JiraClient {
    /// A client for the Jira at `base` (`https://example.atlassian.net`), project `project`.
    pub fn new(base: &str, user: &str, token: &str, project: &str) -> Self {
        Self {
            http: crate::http::client_or_default(),
            base: base.trim_end_matches('/').into(),
            user: user.into(),
            token: token.into(),
            project: project.into(),
        }
    }

    /// Creates the issue for `report`.
    pub async fn create_issue(&self, report: &Report, remediation_notes: &[String]) -> Result<TicketRef> {
        let span = tracing::info_span!("jira_create", incident = %report.incident.id);
        let err = |e: reqwest::Error| RemediateError::Http { service: "jira", message: e.to_string() };
        let body = issue_fields(&self.project, report, remediation_notes);
        let resp = tracing::Instrument::instrument(
            self.http
                .post(format!("{}/rest/api/2/issue", self.base))
                .basic_auth(&self.user, Some(&self.token))
                .json(&body)
                .send(),
            span,
        )
        .await
        .map_err(err)?;
        let status = resp.status();
        let v: Value = resp.json().await.map_err(err)?;
        if !status.is_success() {
            return Err(RemediateError::Http { service: "jira", message: format!("create issue: {status}: {v}") });
        }
        let key = v["key"].as_str().ok_or_else(|| RemediateError::Http {
            service: "jira",
            message: format!("create issue: answer has no key: {v}"),
        })?;
        Ok(TicketRef { key: key.into(), url: format!("{}/browse/{key}", self.base) })
    }
}
