//! Crash safety of `aiops serve` as a real process: an incident waits for approval, the server
//! is killed with SIGKILL (`kill -9`), started again on the same store, the action is approved
//! through the API, and the rollback reaches the cluster exactly once. The cluster is the
//! embedded simulator (`aiops-sim` speaks the Kubernetes API on loopback; no API server can
//! run here), whose request log is the proof.
//!
//! The store is a SQLite file, or PostgreSQL when `AIOPS_PG_URL` is set
//! (`scripts/test.d/30-postgres.sh` runs this test again against a real PostgreSQL 15).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aiops_sim::{RecordedRequest, Simulator};
use serde_json::{Value, json};

const API_TOKEN: &str = "crash-test-token";

/// Every action needs a human: the test must not depend on the wall clock (the shipped policy
/// denies during its freeze window and at weekends).
const POLICY: &str = "package remediation\nimport rego.v1\ndefault allow := true\nrequires_approval := true\n";

struct Serve {
    child: Child,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("port")
}

fn start(dir: &Path, port: u16, store: &str, kube_url: &str, run: usize) -> Serve {
    let log = std::fs::File::create(dir.join(format!("serve-{run}.log"))).expect("log");
    let err = log.try_clone().expect("log");
    let child = Command::new(env!("CARGO_BIN_EXE_aiops"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--store", store, "--kube-url", kube_url])
        .args(["--execute", "--policy", &dir.join("policy.rego").to_string_lossy()])
        .env("AIOPS_API_TOKEN", API_TOKEN)
        .env("AIOPS_LOG", "info")
        .env_remove("AIOPS_STORE")
        .env_remove("AIOPS_LISTEN")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        .spawn()
        .expect("start aiops serve");
    Serve { child }
}

fn tmpdir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("aiops-serve-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    d
}

async fn call(method: reqwest::Method, url: &str, body: Option<Value>) -> Option<(u16, Value)> {
    // reqwest is built without a TLS provider in this workspace (plain HTTP here anyway).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut req = reqwest::Client::new().request(method, url).bearer_auth(API_TOKEN);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.ok()?;
    let status = resp.status().as_u16();
    Some((status, resp.json().await.unwrap_or(Value::Null)))
}

/// Polls `GET url` until `pred` holds on the body (at most 60 s).
async fn wait_for(url: &str, what: &str, dir: &Path, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = Value::Null;
    while Instant::now() < deadline {
        if let Some((200, v)) = call(reqwest::Method::GET, url, None).await {
            if pred(&v) {
                return v;
            }
            last = v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what} at {url}; last {last}; logs in {}", dir.display());
}

fn action_status(v: &Value) -> Option<&str> {
    let action = v.as_array().and_then(|a| a.first()).unwrap_or(v);
    action["status"].as_str()
}

/// The writes that changed the Deployment (not server-side dry runs).
fn real_writes(log: &[RecordedRequest], path: &str) -> Vec<String> {
    log.iter()
        .filter(|r| r.method == "PATCH" || r.method == "PUT")
        .filter(|r| r.path == path && !r.query.contains("dryRun"))
        .map(|r| format!("{} {}?{}", r.method, r.path, r.query))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_while_awaiting_approval_then_approve_executes_exactly_once() {
    let dir = tmpdir();
    std::fs::write(dir.join("policy.rego"), POLICY).expect("policy");
    let store = std::env::var("AIOPS_PG_URL").unwrap_or_else(|_| format!("sqlite:{}", dir.join("aiops.db").display()));
    let bundle_path = common::root().join("examples/bundles/crashloop-bad-deploy.json");
    let bundle = aiops::collectors::BundleCollector::read(&bundle_path).expect("bundle");
    let webhook = common::read_json(&bundle_path)["alert"].clone();
    let sim = Simulator::from_bundle(&bundle).spawn().await.expect("sim");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");

    let first = start(&dir, port, &store, &sim.url(), 1);
    wait_for(&format!("{base}/health/ready"), "the first server", &dir, |_| true).await;
    let (status, accepted) =
        call(reqwest::Method::POST, &format!("{base}/api/v1/webhooks/alertmanager"), Some(webhook))
            .await
            .expect("webhook");
    assert_eq!(status, 200, "{accepted}");
    let id = accepted["incident_ids"][0].as_str().expect("an incident").to_string();
    let actions = format!("{base}/api/v1/incidents/{id}/actions");
    let waiting =
        wait_for(&actions, "awaiting approval", &dir, |v| action_status(v) == Some("awaiting_approval")).await;
    assert!(waiting.to_string().contains("rollback_deployment"), "{waiting}");

    // SIGKILL: no shutdown hook runs, nothing is flushed by the server on its way out.
    drop(first);
    let target = "/apis/apps/v1/namespaces/shop/deployments/checkout";
    assert_eq!(real_writes(&sim.requests(), target), Vec::<String>::new(), "nothing ran before the approval");

    let _second = start(&dir, port, &store, &sim.url(), 2);
    wait_for(&format!("{base}/health/ready"), "the restarted server", &dir, |_| true).await;
    let still = wait_for(&actions, "the action after the restart", &dir, |v| action_status(v).is_some()).await;
    assert_eq!(action_status(&still), Some("awaiting_approval"), "the wait survived the kill: {still}");
    let approve = format!("{base}/api/v1/incidents/{id}/approve");
    let body = json!({"actor": "alice", "reason": "rollback the bad deploy"});
    let (status, decided) = call(reqwest::Method::POST, &approve, Some(body.clone())).await.expect("approve");
    assert_eq!(status, 200, "{decided}");
    let done = wait_for(&actions, "the execution", &dir, |v| {
        matches!(action_status(v), Some("succeeded" | "failed" | "interrupted"))
    })
    .await;
    assert_eq!(action_status(&done), Some("succeeded"), "{done}");
    let (again, _) = call(reqwest::Method::POST, &approve, Some(body)).await.expect("approve again");
    assert_eq!(again, 409, "a second approval decides nothing");

    tokio::time::sleep(Duration::from_millis(500)).await;
    let writes = real_writes(&sim.requests(), target);
    assert_eq!(writes.len(), 1, "the rollback reached the cluster exactly once: {writes:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
