//! `aiops-server`: the HTTP adapter of aiops (axum).
//!
//! - **Ingestion**: Alertmanager v4 and Grafana unified-alerting webhooks, and Prometheus'
//!   own alert push (`POST /api/v2/alerts`, so Prometheus can point `alerting.alertmanagers`
//!   straight at aiops), normalized by `aiops_core::alert` ([`ingest`]).
//! - **Dedup and grouping**: by fingerprint within a window (default 4 h, kept in the store so it
//!   survives restarts); a resolved alert resolves its incident; alerts of one Alertmanager
//!   group attach to one incident ([`store`]).
//! - **Bounded intake**: a full queue answers 503 (webhooks, which their senders retry) or 429
//!   (the API) with `Retry-After`, and counts the refusal; nothing accepted is dropped ([`intake`]).
//! - **Workflow**: incidents are diagnosed by the [`aiops_core::Engine`] in persisted steps
//!   ([`workflow`]); approved actions go to the executor given to [`Server::builder`].
//! - **Approvals**: `GET /api/v1/incidents/{id}/actions`, `POST .../approve` / `.../reject`, and
//!   Slack's interaction callback `POST /api/v1/slack/interactions` (signature-verified,
//!   allow-listed approvers, single-use tokens bound to the stored action) ([`api`]); the
//!   approval request is posted, and updated with the outcome, by the [`notify::ApprovalNotifier`]
//!   given to [`Server::builder`] (Slack's `chat.postMessage` / `chat.update` with the `slack`
//!   feature: [`notify::SlackNotifier`]).
//! - **Metrics** at `/metrics` ([`metrics`]), JSON errors with stable codes ([`error`]),
//!   bearer/shared-secret auth compared in constant time ([`auth`]).
//!
//! ```no_run
//! # async fn run() -> Result<(), aiops_server::ServerError> {
//! use std::sync::Arc;
//! let store = Arc::new(aiops_server::store::MemoryStore::new());
//! let server = aiops_server::Server::new(aiops_server::ServerConfig::default(), store, None);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! server.serve(listener, std::future::pending()).await
//! # }
//! ```

pub mod api;
pub mod auth;
pub mod config;
pub mod error;
pub mod ingest;
pub mod intake;
pub mod metrics;
pub mod notify;
pub mod store;
pub mod workflow;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use aiops_core::Engine;
use aiops_core::traits::Executor;
use tokio::sync::Notify;

pub use error::{ApiError, Result, ServerError};
pub use store::{IncidentStore, MemoryStore};

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Listen address.
    pub listen: SocketAddr,
    /// Bearer token for the API (and the webhooks when `webhook_token` is unset).
    pub api_token: Option<String>,
    /// Shared secret for the webhook endpoints.
    pub webhook_token: Option<String>,
    /// Dedup window.
    pub dedup_window: Duration,
    /// Largest request body in bytes (413 above).
    pub body_limit: usize,
    /// Most alerts in one request (413 above).
    pub max_alerts_per_request: usize,
    /// Intake queue capacity in alerts (503/429 when full).
    pub intake_capacity: usize,
    /// Workflow runner settings.
    pub workflow: workflow::WorkflowConfig,
    /// Slack's signing secret: verifies `POST /api/v1/slack/interactions` (the endpoint answers
    /// 404 `slack_not_configured` without it).
    pub slack_signing_secret: Option<String>,
    /// The Slack user ids allowed to approve or reject from Slack, with their roles.
    pub slack_approvers: aiops_remediate::approve::AllowList,
    /// The Slack bot token (`xoxb-...`, scope `chat:write`) approval requests are posted with;
    /// with [`ServerConfig::slack_channel`] it enables [`notify::SlackNotifier`].
    pub slack_bot_token: Option<String>,
    /// The Slack channel id approval requests are posted to.
    pub slack_channel: Option<String>,
    /// Slack's Web API base (default `https://slack.com/api`; a proxy, a test server).
    pub slack_api_url: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            api_token: None,
            webhook_token: None,
            dedup_window: Duration::from_secs(4 * 3600),
            body_limit: 10 * 1024 * 1024,
            max_alerts_per_request: 5000,
            intake_capacity: 50_000,
            workflow: workflow::WorkflowConfig::default(),
            slack_signing_secret: None,
            slack_approvers: aiops_remediate::approve::AllowList::new(),
            slack_bot_token: None,
            slack_channel: None,
            slack_api_url: None,
        }
    }
}

impl ServerConfig {
    /// Checks the limits fit together.
    pub fn validate(&self) -> Result<()> {
        if self.max_alerts_per_request == 0 || self.intake_capacity < self.max_alerts_per_request {
            return Err(ServerError::Config(format!(
                "intake capacity ({}) must be at least max alerts per request ({}), which must be positive",
                self.intake_capacity, self.max_alerts_per_request
            )));
        }
        if self.body_limit == 0 {
            return Err(ServerError::Config("body limit must be positive".into()));
        }
        Ok(())
    }

    /// The address to bind: with no API token configured (the API would be open), only
    /// loopback (the port is kept). The flag is true when the configured address was replaced.
    pub fn effective_listen(&self) -> (SocketAddr, bool) {
        if self.api_token.is_none() && !self.listen.ip().is_loopback() {
            (SocketAddr::from(([127, 0, 0, 1], self.listen.port())), true)
        } else {
            (self.listen, false)
        }
    }
}

/// Shared state of the handlers.
pub struct AppState {
    /// Settings.
    pub config: ServerConfig,
    /// The store.
    pub store: Arc<dyn IncidentStore>,
    /// The intake queue.
    pub intake: intake::Intake,
    /// Metrics.
    pub metrics: Arc<metrics::Metrics>,
    /// The engine's graph store, when it has one: incident graphs are read from it (else from
    /// the snapshot the incident store keeps).
    pub graph: Option<Arc<dyn aiops_core::graph::GraphStore>>,
    /// Wakes the workflow runner (new incidents, a human's decision).
    pub wake: Arc<Notify>,
}

/// A configured server: the router, the intake writer and (with an engine) the workflow runner.
pub struct Server {
    state: Arc<AppState>,
}

impl Server {
    /// Builds the server and starts its background tasks; call inside a Tokio runtime. Without
    /// an engine, incidents are stored but not diagnosed. The workflow runner (with an engine)
    /// has no executor: approved actions end as dry runs; use [`Server::builder`] to give it one.
    pub fn new(config: ServerConfig, store: Arc<dyn IncidentStore>, engine: Option<Engine>) -> Self {
        let builder = Self::builder(config, store);
        match engine {
            Some(engine) => builder.engine(engine).start(),
            None => builder.start(),
        }
    }

    /// A server to configure further (engine, executor, verifier) before it starts.
    pub fn builder(config: ServerConfig, store: Arc<dyn IncidentStore>) -> ServerBuilder {
        ServerBuilder { config, store, engine: None, executor: None, verifier: None, notifier: None }
    }

    /// The shared state.
    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// The axum router.
    pub fn router(&self) -> axum::Router {
        api::router(self.state.clone())
    }

    /// Serves on `listener` until `shutdown` completes.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        axum::serve(listener, self.router()).with_graceful_shutdown(shutdown).await?;
        Ok(())
    }
}

/// A [`Server`] being configured: [`Server::builder`], then [`ServerBuilder::start`].
pub struct ServerBuilder {
    config: ServerConfig,
    store: Arc<dyn IncidentStore>,
    engine: Option<Engine>,
    executor: Option<Arc<dyn Executor>>,
    verifier: Option<Arc<dyn workflow::Verifier>>,
    notifier: Option<Arc<dyn notify::ApprovalNotifier>>,
}

impl ServerBuilder {
    /// Diagnoses incidents with `engine` (starts the workflow runner).
    pub fn engine(mut self, engine: Engine) -> Self {
        self.engine = Some(engine);
        self
    }

    /// Executes approved actions with `executor` (real changes only with
    /// [`workflow::WorkflowConfig::execute`]; otherwise the executor validates them as dry runs).
    pub fn executor(mut self, executor: Arc<dyn Executor>) -> Self {
        self.executor = Some(executor);
        self
    }

    /// Verifies executed actions with `verifier` (default [`workflow::AlertsResolved`]).
    pub fn verifier(mut self, verifier: Arc<dyn workflow::Verifier>) -> Self {
        self.verifier = Some(verifier);
        self
    }

    /// Asks humans for approvals with `notifier` (default: nobody is told; decisions come
    /// through the API, or Slack buttons posted by something else).
    pub fn notifier(mut self, notifier: Arc<dyn notify::ApprovalNotifier>) -> Self {
        self.notifier = Some(notifier);
        self
    }

    /// Starts the intake writer and, with an engine, the workflow runner; call inside a Tokio
    /// runtime.
    pub fn start(self) -> Server {
        let ServerBuilder { config, store, engine, executor, verifier, notifier } = self;
        let metrics = Arc::new(metrics::Metrics::new());
        let wake = Arc::new(Notify::new());
        let policy = store::DedupPolicy { window: config.dedup_window };
        let intake =
            intake::Intake::start(store.clone(), policy, config.intake_capacity, metrics.clone(), wake.clone());
        let graph = engine.as_ref().and_then(|e| e.graph_store().cloned());
        if let Some(engine) = engine {
            let mut runner = workflow::Runner::new(store.clone(), engine, metrics.clone(), config.workflow);
            if let Some(x) = executor {
                runner = runner.executor(x);
            }
            if let Some(v) = verifier {
                runner = runner.verifier(v);
            }
            if let Some(n) = notifier {
                runner = runner.notifier(n);
            }
            tokio::spawn(runner.run(wake.clone()));
        }
        Server { state: Arc::new(AppState { config, store, intake, metrics, graph, wake }) }
    }
}

/// Binds `addr` and serves in a background task; returns the bound address (tests, embedding).
pub async fn spawn(server: Server, addr: SocketAddr) -> Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = server.serve(listener, std::future::pending()).await {
            tracing::error!(error = %e, "server stopped");
        }
    });
    Ok(local)
}
