//! The Temporal worker for aiops incidents.
//!
//! Environment:
//! - `AIOPS_TEMPORAL_ADDRESS` (default `http://127.0.0.1:7233`), `AIOPS_TEMPORAL_NAMESPACE`
//!   (`default`), `AIOPS_TEMPORAL_TASK_QUEUE` (`incident-workflow`);
//! - `AIOPS_KUBE_URL` (+ `AIOPS_KUBE_TOKEN`): act on that Kubernetes API server, and collect live
//!   alerts' evidence from it (Prometheus/Loki at `AIOPS_PROMETHEUS_URL`/`AIOPS_LOKI_URL`,
//!   default the same URL); without it the worker acts through the recording log
//!   `AIOPS_TEMPORAL_LOG` (default `aiops-temporal.jsonl`), which also records closed incidents;
//! - `AIOPS_TEMPORAL_SETTLE_MS`: how long the executor waits after acting (default 0);
//! - `AIOPS_JIRA_URL`, `AIOPS_JIRA_USER`, `AIOPS_JIRA_TOKEN`, `AIOPS_JIRA_PROJECT`: file tickets
//!   in Jira; without `AIOPS_JIRA_URL` tickets go to the recording log;
//! - `AIOPS_STORE` (`sqlite:PATH` or `postgres://...`, the store `aiops serve` writes): also be
//!   the starter of the server's ingestion. The worker leases the incidents the server stores
//!   (run the server without a cluster, so its own runner does not diagnose them), starts one
//!   workflow per incident, and writes each workflow's progress back into that store;
//!   `AIOPS_ENVIRONMENT` sets the policy's environment of those workflows, `AIOPS_VERIFY_WAIT_MS`
//!   how long they wait before verifying an action (default: the original's).

use std::sync::Arc;
use std::time::Duration;

use aiops::collectors::ClusterSource;
use aiops::live::LiveSources;
use aiops_core::traits::Executor;
use aiops_temporal::{
    DispatchConfig, IncidentActivities, IncidentRecorder, JiraTickets, KubeApiExecutor, RecordingLog, StoreRecorder,
    TemporalConfig, TicketSink, dispatch, run_worker,
};

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

/// Where a live alert's evidence comes from: the API server, and Prometheus and Loki at
/// `AIOPS_PROMETHEUS_URL` / `AIOPS_LOKI_URL` (default: the API server's URL, as `aiops sim` serves).
fn live_sources(kube: &str) -> LiveSources {
    let at = |var: &str| aiops::collectors::Endpoint::new(env(var, kube));
    LiveSources {
        cluster: ClusterSource::Url(kube.to_string()),
        prometheus: Some(at("AIOPS_PROMETHEUS_URL")),
        loki: Some(at("AIOPS_LOKI_URL")),
    }
}

type Sinks = (Arc<dyn Executor>, Arc<dyn TicketSink>, Arc<dyn IncidentRecorder>);

fn sinks() -> aiops_temporal::Result<Sinks> {
    let settle = Duration::from_millis(env("AIOPS_TEMPORAL_SETTLE_MS", "0").parse::<u64>().unwrap_or(0));
    let log = Arc::new(RecordingLog::new(env("AIOPS_TEMPORAL_LOG", "aiops-temporal.jsonl")).act_delay(settle));
    let executor: Arc<dyn Executor> = match std::env::var("AIOPS_KUBE_URL") {
        Ok(url) => {
            let kube = KubeApiExecutor::new(url)?.settle(settle);
            Arc::new(match std::env::var("AIOPS_KUBE_TOKEN") {
                Ok(t) => kube.bearer(t),
                Err(_) => kube,
            })
        }
        Err(_) => log.clone(),
    };
    let tickets: Arc<dyn TicketSink> = match std::env::var("AIOPS_JIRA_URL") {
        Ok(url) => Arc::new(JiraTickets::new(
            url,
            env("AIOPS_JIRA_USER", ""),
            env("AIOPS_JIRA_TOKEN", ""),
            env("AIOPS_JIRA_PROJECT", "OPS"),
        )?),
        Err(_) => log.clone(),
    };
    Ok((executor, tickets, log))
}

/// Opens the server's store and starts the dispatcher on it (in the background, for the life of
/// the process): every incident the server stores becomes one workflow on this task queue.
async fn start_dispatch(
    spec: &str,
    config: &TemporalConfig,
) -> Result<Arc<dyn aiops_server::IncidentStore>, Box<dyn std::error::Error>> {
    let spec = spec.parse::<aiops_server::config::StoreSpec>()?;
    let store = spec.open().await?;
    let client = aiops_temporal::connect(config).await?;
    let mut cfg = DispatchConfig {
        task_queue: config.task_queue.clone(),
        environment: std::env::var("AIOPS_ENVIRONMENT").ok(),
        ..DispatchConfig::default()
    };
    if let Some(ms) = std::env::var("AIOPS_VERIFY_WAIT_MS").ok().and_then(|v| v.parse::<u64>().ok()) {
        cfg.timings.verify_wait = Duration::from_millis(ms);
    }
    tokio::spawn(dispatch(store.clone(), client, cfg, std::future::pending()));
    // StoreSpec prints without the password.
    eprintln!("aiops-temporal-worker: starting a workflow for every incident in {spec}");
    Ok(store)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let mut config = TemporalConfig::new(env("AIOPS_TEMPORAL_ADDRESS", "http://127.0.0.1:7233"));
    config.namespace = env("AIOPS_TEMPORAL_NAMESPACE", "default");
    config.task_queue = env("AIOPS_TEMPORAL_TASK_QUEUE", aiops_temporal::DEFAULT_TASK_QUEUE);
    let (executor, tickets, recorder) = match sinks() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("aiops-temporal-worker: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let mut activities = IncidentActivities::new(executor, tickets).recorder(recorder);
    if let Ok(url) = std::env::var("AIOPS_KUBE_URL") {
        activities = activities.live(live_sources(&url));
    }
    if let Ok(spec) = std::env::var("AIOPS_STORE") {
        match start_dispatch(&spec, &config).await {
            Ok(store) => activities = activities.recorder(Arc::new(StoreRecorder(store))),
            Err(e) => {
                eprintln!("aiops-temporal-worker: AIOPS_STORE: {e}");
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    eprintln!("aiops-temporal-worker: task queue {} at {}", config.task_queue, config.address);
    match run_worker(&config, activities, shutdown).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("aiops-temporal-worker: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
