//! The PostgreSQL store on a real PostgreSQL (Debian's 15), started by
//! `scripts/test.d/30-postgres.sh` on 127.0.0.1:18350 with `AIOPS_PG_URL` set: the shared
//! conformance suite, a restart mid-approval, two replicas processing 1,000 incidents each
//! exactly once, and the original's seven tables all written. Ignored without PostgreSQL.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aiops_server::store::{IncidentStore, PostgresStore, conformance};
use sqlx::Connection;

fn admin_url() -> String {
    match std::env::var("AIOPS_PG_URL") {
        Ok(u) => u,
        Err(_) => panic!("AIOPS_PG_URL is not set: run scripts/test.d/30-postgres.sh"),
    }
}

/// A new empty database; its URL.
async fn fresh_db(tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let admin = admin_url();
    let name = format!("aiops_{tag}_{}_{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst));
    let mut c = sqlx::PgConnection::connect(&admin).await.expect("connect to PostgreSQL");
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut c).await.expect("create database");
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    format!("{base}/{name}")
}

async fn open(url: &str) -> Arc<dyn IncidentStore> {
    Arc::new(PostgresStore::open(url).await.expect("open")) as Arc<dyn IncidentStore>
}

#[tokio::test]
#[ignore = "needs PostgreSQL: scripts/test.d/30-postgres.sh"]
async fn postgres_store_conforms() {
    conformance::run_all(|| async { open(&fresh_db("conf").await).await }).await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL: scripts/test.d/30-postgres.sh"]
async fn postgres_dedup_window_survives_a_restart() {
    let url = fresh_db("restart").await;
    let first = common::ingest(&*open(&url).await, common::firing("p1")).await;
    let again = conformance::alert("KubePodCrashLooping", "p1", "firing", None, "2026-03-01T12:00:00Z");
    let store = open(&url).await;
    let out = store.ingest(&[again], &Default::default()).await.expect("ingest");
    assert_eq!(out, vec![aiops_server::store::Outcome::Deduplicated(first.clone())]);
    assert_eq!(store.get(&first).await.expect("get").expect("exists").alert_count, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: scripts/test.d/30-postgres.sh"]
async fn postgres_restart_mid_approval_then_approve_executes_once() {
    let url = fresh_db("approve").await;
    common::restart_mid_approval_then_approve(|| open(&url)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: scripts/test.d/30-postgres.sh"]
async fn postgres_two_replicas_process_1000_incidents_exactly_once() {
    let url = fresh_db("share").await;
    let n = 1000;
    common::two_runners_share_work(|| open(&url), n).await;
    // The original's seven tables, all written.
    let mut c = sqlx::PgConnection::connect(&url).await.expect("connect");
    for table in
        ["incidents", "evidence", "hypotheses", "remediation_actions", "verification_results", "audit_logs", "runbooks"]
    {
        let rows: i64 =
            sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(&mut c).await.expect("count");
        assert!(rows >= n as i64, "{table}: {rows} rows");
    }
}
