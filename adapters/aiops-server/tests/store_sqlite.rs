//! The conformance suite on the SQLite store, and the dedup window surviving a restart.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aiops_server::store::{DedupPolicy, IncidentStore, Outcome, SqliteStore, conformance};

fn temp_db(tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!("aiops-server-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(format!("{tag}-{}.db", N.fetch_add(1, Ordering::SeqCst)));
    let _ = std::fs::remove_file(&p);
    p.to_string_lossy().into_owned()
}

#[tokio::test]
async fn sqlite_store_conforms() {
    conformance::run_all(|| async {
        Arc::new(SqliteStore::open(&temp_db("conf")).await.unwrap()) as Arc<dyn IncidentStore>
    })
    .await;
}

#[tokio::test]
async fn dedup_window_survives_a_restart() {
    let path = temp_db("restart");
    let policy = DedupPolicy::default();
    let first = {
        let s = SqliteStore::open(&format!("sqlite:{path}")).await.unwrap();
        let out =
            s.ingest(&[conformance::alert("A", "p1", "firing", None, "2026-03-01T10:01:00Z")], &policy).await.unwrap();
        let Outcome::Created(id) = out[0].clone() else { panic!("{out:?}") };
        id
    };
    let s = SqliteStore::open(&path).await.unwrap();
    let out =
        s.ingest(&[conformance::alert("A", "p1", "firing", None, "2026-03-01T12:00:00Z")], &policy).await.unwrap();
    assert_eq!(out, vec![Outcome::Deduplicated(first.clone())]);
    let inc = s.get(&first).await.unwrap().unwrap();
    assert_eq!(inc.alert_count, 2);
    assert_eq!(inc.incident.title, "A: p1");
}
