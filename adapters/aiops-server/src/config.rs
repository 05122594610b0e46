//! Server settings as they are written down: the `--store` spec and the server part of a config
//! file (`aiops serve --config FILE`), layered over [`ServerConfig`]'s defaults.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::store::{IncidentStore, MemoryStore};
use crate::{Result, ServerConfig, ServerError};

/// Which incident store to open: `memory`, `sqlite:PATH` (also `sqlite://PATH`) or a
/// `postgres://` / `postgresql://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSpec {
    /// In process, lost on exit.
    Memory,
    /// One SQLite file (WAL).
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL.
    Postgres(String),
}

impl FromStr for StoreSpec {
    type Err = ServerError;

    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim();
        if s == "memory" {
            return Ok(StoreSpec::Memory);
        }
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(StoreSpec::Postgres(s.to_string()));
        }
        if let Some(path) = s.strip_prefix("sqlite://").or_else(|| s.strip_prefix("sqlite:")) {
            if path.is_empty() {
                return Err(ServerError::Config("sqlite: needs a file path (sqlite:/var/lib/aiops/aiops.db)".into()));
            }
            return Ok(StoreSpec::Sqlite(PathBuf::from(path)));
        }
        Err(ServerError::Config(format!(
            "unknown store {s:?}: use memory, sqlite:PATH or postgres://USER@HOST:PORT/DB"
        )))
    }
}

impl std::fmt::Display for StoreSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreSpec::Memory => f.write_str("memory"),
            StoreSpec::Sqlite(p) => write!(f, "sqlite:{}", p.display()),
            // Never print a password.
            StoreSpec::Postgres(url) => f.write_str(&redact_url(url)),
        }
    }
}

/// `scheme://user:secret@host/...` with the secret replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let (auth, host) = match rest.split_once('@') {
        Some((a, h)) => (a, h),
        None => return url.to_string(),
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

impl StoreSpec {
    /// Opens the store (creating the SQLite file or the PostgreSQL tables when missing).
    pub async fn open(&self) -> Result<Arc<dyn IncidentStore>> {
        match self {
            StoreSpec::Memory => Ok(Arc::new(MemoryStore::new())),
            #[cfg(feature = "sqlite")]
            StoreSpec::Sqlite(path) => self.open_sql(&format!("sqlite:{}", path.display())).await,
            #[cfg(feature = "postgres")]
            StoreSpec::Postgres(url) => self.open_sql(url).await,
            #[allow(unreachable_patterns)]
            _ => {
                Err(ServerError::Config(format!("the {self} store is not built into this binary (use --store memory)")))
            }
        }
    }

    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    async fn open_sql(&self, url: &str) -> Result<Arc<dyn IncidentStore>> {
        let store = crate::store::SqlStore::open(url).await.map_err(|e| ServerError::Store(format!("{self}: {e}")))?;
        Ok(Arc::new(store))
    }
}

/// The server part of a config file; every field is optional and overrides the default.
/// Unknown keys are an error (a typo must not silently fall back to a default).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerFile {
    /// Listen address (`0.0.0.0:8080`).
    pub listen: Option<SocketAddr>,
    /// The store spec (see [`StoreSpec`]).
    pub store: Option<String>,
    /// Bearer token of the API.
    pub api_token: Option<String>,
    /// Shared secret of the webhooks.
    pub webhook_token: Option<String>,
    /// Dedup window in seconds.
    pub dedup_window_seconds: Option<u64>,
    /// Largest request body in bytes.
    pub body_limit_bytes: Option<usize>,
    /// Most alerts in one request.
    pub max_alerts_per_request: Option<usize>,
    /// Intake queue capacity in alerts.
    pub intake_capacity: Option<usize>,
    /// Execute approved actions for real (default false: dry runs).
    pub execute: Option<bool>,
    /// How long a human has to approve an action, in seconds (default 3600).
    pub approval_timeout_seconds: Option<u64>,
    /// Slack's signing secret (enables `POST /api/v1/slack/interactions`).
    pub slack_signing_secret: Option<String>,
    /// The Slack user ids allowed to approve from Slack, with their roles (`U012ABCDEF: sre`).
    pub slack_approvers: Option<std::collections::BTreeMap<String, String>>,
    /// The Slack bot token approval requests are posted with (with `slack_channel`).
    pub slack_bot_token: Option<String>,
    /// The Slack channel id approval requests are posted to.
    pub slack_channel: Option<String>,
    /// Slack's Web API base (default `https://slack.com/api`).
    pub slack_api_url: Option<String>,
}

impl ServerFile {
    /// Applies the file's values over `cfg`.
    pub fn apply(&self, cfg: &mut ServerConfig) {
        if let Some(v) = self.listen {
            cfg.listen = v;
        }
        if let Some(v) = &self.api_token {
            cfg.api_token = Some(v.clone());
        }
        if let Some(v) = &self.webhook_token {
            cfg.webhook_token = Some(v.clone());
        }
        if let Some(v) = self.dedup_window_seconds {
            cfg.dedup_window = Duration::from_secs(v);
        }
        if let Some(v) = self.body_limit_bytes {
            cfg.body_limit = v;
        }
        if let Some(v) = self.max_alerts_per_request {
            cfg.max_alerts_per_request = v;
        }
        if let Some(v) = self.intake_capacity {
            cfg.intake_capacity = v;
        }
        if let Some(v) = self.execute {
            cfg.workflow.execute = v;
        }
        if let Some(v) = self.approval_timeout_seconds {
            cfg.workflow.approval_timeout = Duration::from_secs(v);
        }
        if let Some(v) = &self.slack_signing_secret {
            cfg.slack_signing_secret = Some(v.clone());
        }
        if let Some(v) = &self.slack_approvers {
            cfg.slack_approvers = v.clone();
        }
        for (from, to) in [
            (&self.slack_bot_token, &mut cfg.slack_bot_token),
            (&self.slack_channel, &mut cfg.slack_channel),
            (&self.slack_api_url, &mut cfg.slack_api_url),
        ] {
            if let Some(v) = from {
                *to = Some(v.clone());
            }
        }
    }
}

/// An empty secret is no secret: `AIOPS_API_TOKEN=` must not configure the empty token.
pub fn non_empty(token: Option<String>) -> Option<String> {
    token.filter(|t| !t.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_specs_parse_and_print_without_secrets() {
        assert_eq!("memory".parse::<StoreSpec>().unwrap(), StoreSpec::Memory);
        assert_eq!("sqlite:/tmp/a.db".parse::<StoreSpec>().unwrap(), StoreSpec::Sqlite("/tmp/a.db".into()));
        assert_eq!("sqlite://rel.db".parse::<StoreSpec>().unwrap(), StoreSpec::Sqlite("rel.db".into()));
        let pg: StoreSpec = "postgres://aiops:hunter2@db:5432/aiops".parse().unwrap();
        assert_eq!(pg.to_string(), "postgres://aiops:***@db:5432/aiops");
        assert!("sqlite:".parse::<StoreSpec>().is_err());
        assert!("mysql://x".parse::<StoreSpec>().is_err());
        assert_eq!(redact_url("postgres://u@h/d"), "postgres://u@h/d");
    }

    #[test]
    fn file_values_override_defaults_and_unknown_keys_fail() {
        let f: ServerFile = serde_json::from_str(
            r#"{"listen":"0.0.0.0:9000","intake_capacity":10,"execute":true,"approval_timeout_seconds":60,
                "slack_signing_secret":"s","slack_approvers":{"U1":"sre"},"slack_bot_token":"xoxb-1",
                "slack_channel":"C1"}"#,
        )
        .unwrap();
        let mut cfg = ServerConfig::default();
        assert!(!cfg.workflow.execute, "dry run by default");
        f.apply(&mut cfg);
        assert!(cfg.workflow.execute);
        assert_eq!(cfg.workflow.approval_timeout, Duration::from_secs(60));
        assert_eq!(cfg.slack_signing_secret.as_deref(), Some("s"));
        assert_eq!(cfg.slack_approvers.get("U1").map(String::as_str), Some("sre"));
        assert_eq!((cfg.slack_bot_token.as_deref(), cfg.slack_channel.as_deref()), (Some("xoxb-1"), Some("C1")));
        assert_eq!(cfg.slack_api_url, None);
        assert_eq!(cfg.listen, "0.0.0.0:9000".parse().unwrap());
        assert_eq!(cfg.intake_capacity, 10);
        assert_eq!(cfg.body_limit, ServerConfig::default().body_limit);
        assert!(serde_json::from_str::<ServerFile>(r#"{"listne":"0.0.0.0:9000"}"#).is_err());
        assert_eq!(non_empty(Some(" ".into())), None);
    }

    #[cfg(feature = "sqlite")]
    #[tokio::test]
    async fn sqlite_specs_open_a_store_that_survives_reopening() {
        let dir = std::env::temp_dir().join(format!("aiops-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let spec = StoreSpec::Sqlite(dir.join("a.db"));
        spec.open().await.unwrap().ping().await.unwrap();
        assert!(dir.join("a.db").exists());
        spec.open().await.unwrap().ping().await.unwrap();
        let bad = StoreSpec::Sqlite(dir.join("missing-dir/a.db"));
        let e = bad.open().await.err().expect("a file under a missing folder cannot be created");
        assert!(e.to_string().contains("sqlite:"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
