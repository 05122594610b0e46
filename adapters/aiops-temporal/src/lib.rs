//! Runs aiops incidents as Temporal workflows.
//!
//! [`IncidentWorkflow`] drives one incident from alert to closed; its activities
//! ([`IncidentActivities`]) are the Engine's steps: diagnose (collect the bundle and run
//! `aiops::default_engine()`), the policy decision, execute, verify, open a ticket, close. A
//! `requires_approval` decision waits for the [`IncidentWorkflow::approve`] signal with a timer
//! (4 h by default); [`IncidentWorkflow::status`] is a query. The action's idempotency key is
//! passed to the [`aiops_core::traits::Executor`], so an activity retry never acts twice.
//!
//! The worker is [`run_worker`] (binary `aiops-temporal-worker`), the starter
//! [`start_incident`]; [`serve::dispatch`] starts a workflow for every incident `aiops-server`
//! ingests and [`serve::StoreRecorder`] writes the progress back into the server's store.

pub mod activities;
pub mod error;
pub mod jira;
pub mod kube;
pub mod recording;
pub mod serve;
pub mod workflow;

use std::time::Duration;

use temporalio_client::{Client, ClientOptions, Connection, ConnectionOptions, WorkflowHandle, WorkflowStartOptions};
use temporalio_sdk::{Runtime, Worker, WorkerOptions};

pub use activities::{
    DiagnoseInput, Diagnosed, Evidence, IncidentActivities, IncidentRecorder, PolicyOutcome, PolicyStep, Ticket,
    TicketSink, TraceRecorder, analyze, diagnose_bundle, summarize,
};
pub use error::{Error, Result};
pub use jira::JiraTickets;
pub use kube::KubeApiExecutor;
pub use recording::RecordingLog;
pub use serve::{DispatchConfig, StoreRecorder, dispatch};
pub use workflow::{Approval, IncidentOutcome, IncidentRequest, IncidentWorkflow, Timings};

/// The task queue of the original worker (`settings.temporal_task_queue`).
pub const DEFAULT_TASK_QUEUE: &str = "incident-workflow";

/// A handle on a started [`IncidentWorkflow`] (signal, query, result).
pub type IncidentHandle = WorkflowHandle<Client, IncidentWorkflow>;

/// Where and how to reach Temporal.
#[derive(Debug, Clone)]
pub struct TemporalConfig {
    /// The frontend address, e.g. `http://127.0.0.1:7233`.
    pub address: String,
    /// The namespace (the original always used `default`).
    pub namespace: String,
    /// The task queue.
    pub task_queue: String,
}

impl TemporalConfig {
    /// `address` with the `default` namespace and [`DEFAULT_TASK_QUEUE`].
    pub fn new(address: impl Into<String>) -> Self {
        Self { address: address.into(), namespace: "default".into(), task_queue: DEFAULT_TASK_QUEUE.into() }
    }
}

/// Connects a client.
pub async fn connect(config: &TemporalConfig) -> Result<Client> {
    let url =
        url::Url::parse(&config.address).map_err(|e| Error::Config(format!("address {}: {e}", config.address)))?;
    let conn_opts = ConnectionOptions::new(url).identity(format!("aiops-temporal@{}", std::process::id())).build();
    let connection = Connection::connect(conn_opts).await.map_err(|e| Error::Temporal(e.to_string()))?;
    let client_opts = ClientOptions::new(config.namespace.clone()).build();
    Client::new(connection, client_opts).map_err(|e| Error::Temporal(e.to_string()))
}

/// Runs a worker for [`IncidentWorkflow`] and its activities until `shutdown` resolves (or the
/// worker fails). Must run inside a multi-threaded Tokio runtime.
pub async fn run_worker(
    config: &TemporalConfig,
    activities: IncidentActivities,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<()> {
    let runtime = Runtime::from_current_tokio(Default::default()).map_err(|e| Error::Temporal(e.to_string()))?;
    let client = connect(config).await?;
    let options = WorkerOptions::new(config.task_queue.clone())
        .register_workflow::<IncidentWorkflow>()
        .map_err(|e| Error::Temporal(e.to_string()))?
        .register_activities(activities)
        .build();
    let mut worker = Worker::new(&runtime, client, options).map_err(|e| Error::Temporal(e.to_string()))?;
    let stop = worker.shutdown_handle();
    let run = worker.run();
    tokio::pin!(run);
    tokio::pin!(shutdown);
    tokio::select! {
        r = &mut run => return r.map_err(|e| Error::Temporal(e.to_string())),
        () = &mut shutdown => stop(),
    }
    run.await.map_err(|e| Error::Temporal(e.to_string()))
}

/// Starts an [`IncidentWorkflow`] with id `workflow_id` (the server's ingestion calls this when
/// Temporal is configured). Starting the same id twice is rejected by Temporal, which is the
/// dedup of a repeated alert.
pub async fn start_incident(
    client: &Client,
    task_queue: &str,
    workflow_id: &str,
    request: IncidentRequest,
) -> Result<IncidentHandle> {
    client
        .start_workflow(
            IncidentWorkflow::run,
            request,
            WorkflowStartOptions::new(task_queue.to_string(), workflow_id.to_string()).build(),
        )
        .await
        .map_err(|e| Error::Temporal(e.to_string()))?;
    Ok(client.get_workflow_handle::<IncidentWorkflow>(workflow_id.to_string()))
}

/// The HTTP client of the executor and the ticket sink (installs the ring TLS provider once).
pub fn http_client() -> Result<reqwest::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().build().map_err(|e| Error::Config(format!("HTTP client: {e}")))
}

/// The original's verification wait (the workflow hard-coded 2 minutes).
pub const DEFAULT_VERIFY_WAIT: Duration = Duration::from_secs(120);
/// The approval timeout (the original's `request_approval` start-to-close of 4 h).
pub const DEFAULT_APPROVAL_TIMEOUT: Duration = Duration::from_secs(4 * 3600);
