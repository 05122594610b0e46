//! The Temporal worker for aiops incidents.
//!
//! Environment: `AIOPS_TEMPORAL_ADDRESS` (default `http://127.0.0.1:7233`),
//! `AIOPS_TEMPORAL_NAMESPACE` (`default`), `AIOPS_TEMPORAL_TASK_QUEUE` (`incident-workflow`),
//! `AIOPS_TEMPORAL_LOG` (the recording log, default `aiops-temporal.jsonl`) and
//! `AIOPS_TEMPORAL_ACT_DELAY_MS` (the recording executor's rollout wait, default 0).

use std::sync::Arc;
use std::time::Duration;

use aiops_temporal::{RecordingLog, TemporalConfig, run_worker};

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let mut config = TemporalConfig::new(env("AIOPS_TEMPORAL_ADDRESS", "http://127.0.0.1:7233"));
    config.namespace = env("AIOPS_TEMPORAL_NAMESPACE", "default");
    config.task_queue = env("AIOPS_TEMPORAL_TASK_QUEUE", aiops_temporal::DEFAULT_TASK_QUEUE);
    let delay = env("AIOPS_TEMPORAL_ACT_DELAY_MS", "0").parse::<u64>().unwrap_or(0);
    let log = Arc::new(RecordingLog::new(env("AIOPS_TEMPORAL_LOG", "aiops-temporal.jsonl")).act_delay(Duration::from_millis(delay)));
    let activities = aiops_temporal::activities(log.clone(), log);
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
