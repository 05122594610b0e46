//! [`RecordingLog`]: an [`Executor`], [`TicketSink`] and [`IncidentRecorder`] that append JSON
//! lines to a file.
//!
//! The worker's fallback when no cluster or Jira is configured (a dry environment, the unit
//! tests): every execute call logs an `attempt` line; the first call for an idempotency key
//! logs the one `executed` line and later calls with the same key return without acting.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aiops_core::traits::{BoxError, ExecutionOutcome, Executor};
use aiops_core::{IncidentStatus, RemediationAction};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::activities::{IncidentRecorder, Ticket, TicketSink};
use crate::error::Error;

/// Appends every action, ticket and closed incident to a JSON-lines file.
pub struct RecordingLog {
    path: PathBuf,
    act_delay: Duration,
    lock: Mutex<()>,
}

impl RecordingLog {
    /// A log at `path` (created on first write).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into(), act_delay: Duration::ZERO, lock: Mutex::new(()) }
    }

    /// After acting, the executor waits this long before reporting success (a rollout that
    /// takes time; the window in which a test kills the worker).
    pub fn act_delay(mut self, d: Duration) -> Self {
        self.act_delay = d;
        self
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every line of the log (missing file: none; unparsable lines are skipped).
    pub fn entries(&self) -> crate::Result<Vec<Value>> {
        read_entries(&self.path)
    }

    fn append(&self, v: &Value) -> crate::Result<()> {
        let err = |source| Error::Log { path: self.path.display().to_string(), source };
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&self.path).map_err(err)?;
        let mut line = v.to_string();
        line.push('\n');
        f.write_all(line.as_bytes()).map_err(err)?;
        f.sync_data().map_err(err)
    }
}

/// Reads a recording log's lines.
pub fn read_entries(path: &Path) -> crate::Result<Vec<Value>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(Error::Log { path: path.display().to_string(), source }),
    }
}

fn has(entries: &[Value], event: &str, field: &str, value: &str) -> bool {
    entries.iter().any(|e| e["event"] == event && e[field] == value)
}

#[async_trait::async_trait]
impl Executor for RecordingLog {
    async fn execute(&self, action: &RemediationAction, dry_run: bool) -> Result<ExecutionOutcome, BoxError> {
        let key = action.idempotency_key.as_str();
        let already = {
            let _g = self.lock.lock().await;
            self.append(&json!({"event": "attempt", "key": key, "dry_run": dry_run}))?;
            let seen = has(&self.entries()?, "executed", "key", key);
            if !seen && !dry_run {
                self.append(&json!({
                    "event": "executed", "key": key, "action": action.action.as_str(),
                    "target": action.target.to_string(),
                }))?;
            }
            seen
        };
        if already {
            return Ok(ExecutionOutcome { success: true, dry_run, message: format!("{key}: already executed") });
        }
        tokio::time::sleep(self.act_delay).await;
        Ok(ExecutionOutcome {
            success: true,
            dry_run,
            message: format!("{} {}", action.action.as_str(), action.target),
        })
    }
}

#[async_trait::async_trait]
impl TicketSink for RecordingLog {
    async fn open_ticket(&self, ticket: &Ticket) -> Result<String, BoxError> {
        let _g = self.lock.lock().await;
        let id = format!("TICKET-{}", ticket.incident_id);
        if !has(&self.entries()?, "ticket", "incident", &ticket.incident_id) {
            self.append(
                &json!({"event": "ticket", "incident": ticket.incident_id, "id": id, "reason": ticket.reason}),
            )?;
        }
        Ok(id)
    }
}

#[async_trait::async_trait]
impl IncidentRecorder for RecordingLog {
    async fn close(&self, incident_id: &str, status: IncidentStatus) -> Result<(), BoxError> {
        let _g = self.lock.lock().await;
        self.append(&json!({"event": "close", "incident": incident_id, "status": status.as_str()}))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aiops_core::{ActionType, ResourceRef};

    fn action(key: &str) -> RemediationAction {
        RemediationAction {
            action: ActionType::RestartDeployment,
            target: ResourceRef::namespaced("Deployment", "shop", "cart"),
            parameters: Default::default(),
            idempotency_key: key.into(),
        }
    }

    fn temp_log(name: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("aiops-temporal-{name}-{}.jsonl", std::process::id()));
        let _ = std::fs::remove_file(&p);
        p
    }

    #[tokio::test]
    async fn one_key_acts_once_however_often_it_is_executed() {
        let log = RecordingLog::new(temp_log("once"));
        let first = log.execute(&action("i1:restart_deployment:x"), false).await.unwrap();
        let again = log.execute(&action("i1:restart_deployment:x"), false).await.unwrap();
        let other = log.execute(&action("i2:restart_deployment:x"), false).await.unwrap();
        assert!(first.success && again.success && other.success);
        assert!(again.message.contains("already executed"), "{}", again.message);
        let e = log.entries().unwrap();
        assert_eq!(e.iter().filter(|v| v["event"] == "executed").count(), 2);
        assert_eq!(e.iter().filter(|v| v["event"] == "attempt").count(), 3);
    }

    #[tokio::test]
    async fn a_dry_run_never_acts() {
        let log = RecordingLog::new(temp_log("dry"));
        let out = log.execute(&action("k"), true).await.unwrap();
        assert!(out.dry_run);
        assert!(!log.entries().unwrap().iter().any(|v| v["event"] == "executed"));
    }

    #[tokio::test]
    async fn a_ticket_is_opened_once_per_incident() {
        let log = RecordingLog::new(temp_log("ticket"));
        let t =
            Ticket { incident_id: "i1".into(), title: "t".into(), reason: "r".into(), remediation_attempted: false };
        let a = log.open_ticket(&t).await.unwrap();
        let b = log.open_ticket(&t).await.unwrap();
        assert_eq!(a, b);
        assert_eq!(log.entries().unwrap().iter().filter(|v| v["event"] == "ticket").count(), 1);
    }

    #[test]
    fn a_missing_log_has_no_entries_and_an_unreadable_one_is_an_error() {
        assert!(read_entries(Path::new("/nonexistent/aiops-temporal.jsonl")).unwrap().is_empty());
        assert!(matches!(read_entries(Path::new("/")), Err(Error::Log { .. })));
    }
}
