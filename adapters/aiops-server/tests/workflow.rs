//! The durable workflow on the SQLite store: restart mid-approval, timers, decisions, a crash
//! during execution, two runners sharing one database file.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aiops_core::Decision;
use aiops_core::traits::Clock;
use aiops_server::store::{ActionStatus, Decided, IncidentStore, SqliteStore, WorkflowState};
use common::*;

fn temp_db(tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!("aiops-workflow-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let p = dir.join(format!("{tag}-{}.db", N.fetch_add(1, Ordering::SeqCst)));
    let _ = std::fs::remove_file(&p);
    p.to_string_lossy().into_owned()
}

async fn open(path: &str) -> Arc<dyn IncidentStore> {
    Arc::new(SqliteStore::open(path).await.expect("open")) as Arc<dyn IncidentStore>
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_restart_mid_approval_then_approve_executes_once() {
    let path = temp_db("approve");
    restart_mid_approval_then_approve(|| open(&path)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_two_runners_share_work() {
    let path = temp_db("share");
    two_runners_share_work(|| open(&path), 60).await;
}

#[tokio::test]
async fn approval_expiry_escalates_and_nothing_runs() {
    let store = open(&temp_db("expiry")).await;
    let clock = TestClock::at("2026-03-01T10:05:00Z");
    let exec = Arc::new(CountingExecutor::default());
    let r = runner(store.clone(), Decision::RequiresApproval, exec.clone(), clock.clone());
    let id = ingest(&*store, firing("web-1")).await;
    r.run_until_idle().await.expect("run");
    clock.advance(Duration::from_secs(3599));
    assert_eq!(r.run_until_idle().await.expect("run"), 0, "not due before the deadline");
    clock.advance(Duration::from_secs(2));
    r.run_until_idle().await.expect("run");
    assert_eq!(store.get(&id).await.expect("g").expect("e").workflow_state, WorkflowState::Escalated);
    assert_eq!(store.action(&id).await.expect("a").expect("a").status, ActionStatus::Expired);
    assert!(matches!(store.decide(&id, true, "late", clock.now()).await.expect("d"), Decided::NotAwaiting(_)));
    assert_eq!(exec.count(), 0);
    assert_eq!(trail(&*store, &id).await.last().map(String::as_str), Some("approval_expired"));
}

#[tokio::test]
async fn rejection_escalates_denial_escalates_dry_run_closes() {
    let store = open(&temp_db("decisions")).await;
    let clock = TestClock::at("2026-03-01T10:05:00Z");
    let exec = Arc::new(CountingExecutor::default());
    let id = ingest(&*store, firing("web-1")).await;
    runner(store.clone(), Decision::RequiresApproval, exec.clone(), clock.clone()).run_until_idle().await.expect("run");
    assert!(matches!(store.decide(&id, false, "bob", clock.now()).await.expect("d"), Decided::Recorded(_)));
    runner(store.clone(), Decision::Deny, exec.clone(), clock.clone()).run_until_idle().await.expect("run");
    assert_eq!(store.get(&id).await.expect("g").expect("e").workflow_state, WorkflowState::Escalated);
    assert_eq!(store.action(&id).await.expect("a").expect("a").status, ActionStatus::Rejected);
    assert_eq!(trail(&*store, &id).await.last().map(String::as_str), Some("remediation_rejected"));

    let denied = ingest(&*store, firing("web-2")).await;
    runner(store.clone(), Decision::Deny, exec.clone(), clock.clone()).run_until_idle().await.expect("run");
    assert_eq!(store.get(&denied).await.expect("g").expect("e").workflow_state, WorkflowState::Escalated);
    assert_eq!(store.action(&denied).await.expect("a").expect("a").status, ActionStatus::Denied);
    assert_eq!(exec.count(), 0);

    // Allowed, but the runner is in its default dry-run mode: validated once, nothing changed.
    let dry = ingest(&*store, firing("web-3")).await;
    let mut cfg = config();
    cfg.execute = false;
    let metrics = Arc::new(aiops_server::metrics::Metrics::new());
    aiops_server::workflow::Runner::new(store.clone(), engine(Decision::Allow), metrics, cfg)
        .executor(exec.clone())
        .clock(clock.clone())
        .run_until_idle()
        .await
        .expect("run");
    assert_eq!(store.get(&dry).await.expect("g").expect("e").workflow_state, WorkflowState::Closed);
    let a = store.action(&dry).await.expect("a").expect("a");
    assert!(a.dry_run && a.outcome.as_ref().is_some_and(|o| o.dry_run && o.success), "{a:?}");
    assert_eq!(exec.count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_during_execution_is_escalated_not_retried() {
    let path = temp_db("crash");
    let store = open(&path).await;
    let clock = TestClock::at("2026-03-01T10:05:00Z");
    let hanging = Arc::new(CountingExecutor { hang: true, ..CountingExecutor::default() });
    let id = ingest(&*store, firing("web-1")).await;
    let r = runner(store.clone(), Decision::Allow, hanging.clone(), clock.clone());
    let task = tokio::spawn(r.run(Arc::new(tokio::sync::Notify::new())));
    wait_for(&*store, &id, |_, a| a == Some(ActionStatus::Executing)).await;
    task.abort();
    let _ = task.await;
    assert_eq!(hanging.count(), 1);
    let store = open(&path).await;
    let exec = Arc::new(CountingExecutor::default());
    let r = runner(store.clone(), Decision::Allow, exec.clone(), clock.clone());
    assert_eq!(r.run_until_idle().await.expect("run"), 0, "still leased to the dead runner");
    clock.advance(Duration::from_secs(91));
    r.run_until_idle().await.expect("run");
    assert_eq!(store.get(&id).await.expect("g").expect("e").workflow_state, WorkflowState::Escalated);
    assert_eq!(store.action(&id).await.expect("a").expect("a").status, ActionStatus::Interrupted);
    assert_eq!(exec.count(), 0, "an execution of unknown outcome is never repeated");
}
