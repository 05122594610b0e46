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

/// Two replicas ingesting the same alerts at the same time, in different orders and batches:
/// the advisory locks (one statement per batch) serialize them, so every fingerprint and every
/// group opens exactly one incident and every alert is counted once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: scripts/test.d/30-postgres.sh"]
async fn postgres_two_replicas_ingest_the_same_alerts_into_one_incident_each() {
    let url = fresh_db("race").await;
    let (a, b) = (open(&url).await, open(&url).await);
    const ROUNDS: usize = 20;
    const PODS: usize = 40;
    fn batch(round: usize, reverse: bool) -> Vec<aiops_server::store::Incoming> {
        let g = Some("{}:{alertname=\"Grouped\"}");
        let mut v: Vec<_> = (0..PODS)
            .map(|p| {
                let (name, group) = if p % 2 == 0 { ("Single", None) } else { ("Grouped", g) };
                let at = format!("2026-03-01T10:{:02}:00Z", round);
                conformance::alert(name, &format!("p{p}"), "firing", group, &at)
            })
            .collect();
        if reverse {
            v.reverse();
        }
        v
    }
    let run = |s: Arc<dyn IncidentStore>, reverse: bool| async move {
        for round in 0..ROUNDS {
            let all = batch(round, reverse);
            let (x, y) = all.split_at(if reverse { 7 } else { 29 });
            for part in [x, y] {
                s.ingest(part, &Default::default()).await.expect("ingest");
            }
        }
    };
    let (ra, rb) = tokio::join!(tokio::spawn(run(a.clone(), false)), tokio::spawn(run(b.clone(), true)));
    ra.expect("replica a");
    rb.expect("replica b");
    let all = a.list(&aiops_server::store::ListFilter { limit: Some(1000), ..Default::default() }).await.expect("list");
    assert_eq!(all.len(), PODS / 2 + 1, "one incident per single alert and one for the group");
    let total: u64 = all.iter().map(|i| i.alert_count).sum();
    assert_eq!(total, (2 * ROUNDS * PODS) as u64, "every alert counted once");
}
