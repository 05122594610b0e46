//! Test components for the workflow tests: an engine whose rules blame the alerted pod and whose
//! planner proposes restarting it, a policy gate with a fixed verdict, an executor that counts
//! its calls per idempotency key, a verifier with a fixed answer, and a clock tests can move.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aiops_core::traits::{
    AnalysisContext, BoxError, Clock, Diagnosis, ExecutionOutcome, Executor, PolicyGate, RemediationPlanner, RuleEngine,
};
use aiops_core::{ActionType, BlastRadius, Decision, Engine, PolicyDecision, RemediationAction, ResourceRef};
use aiops_server::metrics::Metrics;
use aiops_server::store::{ActionRecord, IncidentStore, StoredIncident};
use aiops_server::workflow::{Runner, Verification, Verifier, WorkflowConfig};
use async_trait::async_trait;
use jiff::Timestamp;

/// Blames the alerted pod with one evidence item and one hypothesis.
pub struct PodRules;

impl RuleEngine for PodRules {
    fn diagnose(&self, ctx: &AnalysisContext<'_>) -> Result<Diagnosis, BoxError> {
        let pod = ctx.incident.pod.clone().unwrap_or_default();
        let ns = &ctx.incident.namespace;
        let evidence = serde_json::from_value(serde_json::json!([{
            "id": "ev-1", "kind": "container_waiting", "source": "kubernetes_api",
            "resource": format!("Pod/{ns}/{pod}"),
            "summary": "CrashLoopBackOff", "strength": 0.9}]))?;
        let hypotheses = serde_json::from_value(serde_json::json!([{
            "rank": 1, "cause": "crash_app_error", "category": "external_dependency", "rule": "test",
            "title": "the pod crashes", "explanation": "test", "confidence": 0.8, "score": 0.8,
            "resource": format!("Pod/{ns}/{pod}"), "evidence": ["ev-1"],
            "actions": ["restart_pod"]}]))?;
        Ok(Diagnosis { evidence, hypotheses })
    }
}

/// Proposes restarting the alerted pod.
pub struct RestartPlanner;

impl RemediationPlanner for RestartPlanner {
    fn plan(&self, ctx: &AnalysisContext<'_>, _d: &Diagnosis) -> Option<(RemediationAction, BlastRadius)> {
        let target = ResourceRef::namespaced("Pod", &ctx.incident.namespace, ctx.incident.pod.as_deref()?);
        let key = format!("{}:restart_pod:{target}", ctx.incident.id);
        let blast = BlastRadius {
            score: 5.0,
            affected_pods: 1,
            affected_deployments: 0,
            environment: "prod".into(),
            environment_multiplier: 5.0,
            ..BlastRadius::default()
        };
        Some((
            RemediationAction {
                action: ActionType::RestartPod,
                target,
                parameters: BTreeMap::new(),
                idempotency_key: key,
            },
            blast,
        ))
    }
}

/// A policy gate with a fixed verdict.
pub struct FixedPolicy(pub Decision);

#[async_trait]
impl PolicyGate for FixedPolicy {
    async fn evaluate(&self, input: &serde_json::Value) -> Result<PolicyDecision, BoxError> {
        Ok(PolicyDecision { decision: self.0, reasons: vec![format!("test: {}", self.0)], input: input.clone() })
    }
}

/// The test engine with a policy verdict.
pub fn engine(decision: Decision) -> Engine {
    match Engine::builder().rules(PodRules).planner(RestartPlanner).policy_gate(FixedPolicy(decision)).build() {
        Ok(e) => e,
        Err(e) => panic!("engine: {e}"),
    }
}

/// Counts `execute` calls per idempotency key (the "request log" of the executor).
#[derive(Default)]
pub struct CountingExecutor {
    pub calls: Mutex<Vec<String>>,
    /// Never return (to stop a runner mid-call).
    pub hang: bool,
}

impl CountingExecutor {
    pub fn count(&self) -> usize {
        self.calls.lock().map(|c| c.len()).unwrap_or(usize::MAX)
    }

    pub fn keys(&self) -> Vec<String> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl Executor for CountingExecutor {
    async fn execute(&self, action: &RemediationAction, dry_run: bool) -> Result<ExecutionOutcome, BoxError> {
        self.calls.lock().map_err(|_| "poisoned")?.push(action.idempotency_key.clone());
        if self.hang {
            std::future::pending::<()>().await;
        }
        Ok(ExecutionOutcome { success: true, dry_run, message: format!("restarted {}", action.target) })
    }
}

/// A verifier with a fixed answer.
pub struct FixedVerifier(pub bool);

#[async_trait]
impl Verifier for FixedVerifier {
    async fn verify(&self, _i: &StoredIncident, _a: &ActionRecord) -> Result<Verification, BoxError> {
        Ok(Verification { success: self.0, details: serde_json::json!({"fixed": self.0}) })
    }
}

/// A clock tests move by hand (seconds since the epoch).
pub struct TestClock(pub AtomicI64);

impl TestClock {
    pub fn at(s: &str) -> Arc<Self> {
        let t: Timestamp = s.parse().expect("ts");
        Arc::new(Self(AtomicI64::new(t.as_second())))
    }

    pub fn advance(&self, d: Duration) {
        self.0.fetch_add(d.as_secs() as i64, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_second(self.0.load(Ordering::SeqCst)).expect("ts")
    }
}

/// Workflow settings for tests: execute for real, short lease.
pub fn config() -> WorkflowConfig {
    WorkflowConfig {
        lease: Duration::from_secs(30),
        poll: Duration::from_millis(20),
        batch: 8,
        approval_timeout: Duration::from_secs(3600),
        verify_wait: Duration::from_secs(60),
        execute_timeout: Duration::from_secs(60),
        execute: true,
        notify_attempts: 3,
        notify_retry: Duration::from_millis(50),
    }
}

/// A runner on `store` with the test engine, `executor` and `clock`.
pub fn runner(
    store: Arc<dyn IncidentStore>,
    decision: Decision,
    executor: Arc<CountingExecutor>,
    clock: Arc<dyn Clock>,
) -> Runner {
    Runner::new(store, engine(decision), Arc::new(Metrics::new()), config()).executor(executor).clock(clock)
}

use aiops_server::store::{ActionStatus, Decided, DedupPolicy, Incoming, WorkflowState, conformance};
use std::future::Future;

/// Opens the store under test (again: a restart).
pub trait Opener: Fn() -> Self::Fut {
    /// Its future.
    type Fut: Future<Output = Arc<dyn IncidentStore>>;
}

impl<F, Fut> Opener for F
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn IncidentStore>>,
{
    type Fut = Fut;
}

/// A firing alert for `pod`, received at 10:01.
pub fn firing(pod: &str) -> Incoming {
    conformance::alert("KubePodCrashLooping", pod, "firing", None, "2026-03-01T10:01:00Z")
}

/// Ingests one alert; its incident id.
pub async fn ingest(store: &dyn IncidentStore, inc: Incoming) -> String {
    let out = store.ingest(&[inc], &DedupPolicy::default()).await.expect("ingest");
    out[0].incident_id().expect("an incident").to_string()
}

/// Polls until the incident reaches `state` (at most 30 s).
pub async fn wait_for(store: &dyn IncidentStore, id: &str, pred: impl Fn(WorkflowState, Option<ActionStatus>) -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let state = store.get(id).await.expect("get").expect("exists").workflow_state;
        let action = store.action(id).await.expect("action").map(|a| a.status);
        if pred(state, action) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "timed out waiting; state {state:?}, action {action:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The audit trail's action types.
pub async fn trail(store: &dyn IncidentStore, id: &str) -> Vec<String> {
    store.audit(id).await.expect("audit").into_iter().map(|a| a.action_type).collect()
}

/// A runner serving as `aiops serve` does is stopped (its task aborted, its store dropped)
/// while the incident waits for approval; a new process opens the store, the action is
/// approved, and two runners then execute it exactly once; verification resolves it.
pub async fn restart_mid_approval_then_approve(open: impl Opener) {
    let clock = TestClock::at("2026-03-01T10:05:00Z");
    let before = Arc::new(CountingExecutor::default());
    let id = {
        let store = open().await;
        let id = ingest(&*store, firing("web-1")).await;
        let r = runner(store.clone(), Decision::RequiresApproval, before.clone(), clock.clone());
        let task = tokio::spawn(r.run(Arc::new(tokio::sync::Notify::new())));
        wait_for(&*store, &id, |s, _| s == WorkflowState::AwaitingApproval).await;
        task.abort();
        let _ = task.await;
        id
    };
    assert_eq!(before.count(), 0, "nothing runs before the approval");
    let store = open().await;
    let inc = store.get(&id).await.expect("get").expect("the incident survived the restart");
    assert_eq!(inc.workflow_state, WorkflowState::AwaitingApproval);
    let waiting = store.action(&id).await.expect("action").expect("the action survived the restart");
    assert_eq!(waiting.status, ActionStatus::AwaitingApproval);
    assert_eq!(waiting.approval_deadline, Some(clock.now() + Duration::from_secs(3600)));
    let Decided::Recorded(approved) = store.decide(&id, true, "alice", clock.now()).await.expect("decide") else {
        panic!("the approval is recorded")
    };
    assert_eq!(approved.status, ActionStatus::Approved);
    let exec = Arc::new(CountingExecutor::default());
    let r2 = runner(store.clone(), Decision::RequiresApproval, exec.clone(), clock.clone());
    let r3 = runner(open().await, Decision::RequiresApproval, exec.clone(), clock.clone());
    let (a, b) = tokio::join!(r2.run_until_idle(), r3.run_until_idle());
    a.expect("runner 2");
    b.expect("runner 3");
    assert_eq!(exec.keys(), vec![approved.action.idempotency_key.clone()], "executed exactly once");
    assert_eq!(store.get(&id).await.expect("get").expect("exists").workflow_state, WorkflowState::Verifying);
    assert_eq!(store.action(&id).await.expect("a").expect("a").status, ActionStatus::Succeeded);
    // The alert resolves; after the verification wait the incident is verified and resolved.
    let resolved = conformance::alert("KubePodCrashLooping", "web-1", "resolved", None, "2026-03-01T10:06:00Z");
    ingest(&*store, resolved).await;
    r2.run_until_idle().await.expect("runner 2");
    assert_eq!(
        store.get(&id).await.expect("get").expect("exists").workflow_state,
        WorkflowState::Verifying,
        "the verification waits for its persisted deadline"
    );
    clock.advance(Duration::from_secs(61));
    r3.run_until_idle().await.expect("runner 3");
    r2.run_until_idle().await.expect("runner 2");
    assert_eq!(store.get(&id).await.expect("get").expect("exists").workflow_state, WorkflowState::Resolved);
    let v = store.verifications(&id).await.expect("verifications");
    assert_eq!(v.len(), 1);
    assert!(v[0].success);
    assert_eq!(exec.count(), 1, "still exactly once");
    assert_eq!(
        trail(&*store, &id).await,
        [
            "created",
            "diagnosed",
            "approval_requested",
            "approved",
            "execution_started",
            "executed",
            "resolved",
            "verified"
        ]
    );
}

/// Two runners on one database (two pools: two replicas) drive `n` incidents from `received` to
/// `resolved`; every action executes exactly once and both runners did part of the work.
pub async fn two_runners_share_work(open: impl Opener, n: usize) -> Vec<String> {
    let (a, b) = (open().await, open().await);
    let mut ids = Vec::with_capacity(n);
    let pods: Vec<String> = (0..n).map(|i| format!("pod-{i}")).collect();
    for chunk in pods.chunks(100) {
        let batch: Vec<Incoming> = chunk.iter().map(|p| firing(p)).collect();
        let out = a.ingest(&batch, &DedupPolicy::default()).await.expect("ingest");
        ids.extend(out.iter().map(|o| o.incident_id().expect("created").to_string()));
    }
    let clock = TestClock::at("2026-03-01T10:05:00Z");
    let exec = Arc::new(CountingExecutor::default());
    let mut cfg = config();
    cfg.verify_wait = Duration::ZERO;
    cfg.batch = 16;
    let make = |s: Arc<dyn IncidentStore>| {
        Runner::new(s, engine(Decision::Allow), Arc::new(Metrics::new()), cfg)
            .executor(exec.clone())
            .clock(clock.clone())
            .verifier(Arc::new(FixedVerifier(true)))
    };
    let (ra, rb) = (make(a.clone()), make(b.clone()));
    let ta = tokio::spawn(async move { ra.run_until_idle().await });
    let tb = tokio::spawn(async move { rb.run_until_idle().await });
    let na = ta.await.expect("join").expect("runner a");
    let nb = tb.await.expect("join").expect("runner b");
    assert!(na > 0 && nb > 0, "both replicas took work: {na} and {nb} claims");
    let keys = exec.keys();
    let unique: std::collections::HashSet<&String> = keys.iter().collect();
    assert_eq!((keys.len(), unique.len()), (n, n), "each of {n} actions executed exactly once");
    for id in &ids {
        let inc = b.get(id).await.expect("get").expect("exists");
        assert_eq!(inc.workflow_state, WorkflowState::Resolved, "{id}");
        let t = trail(&*b, id).await;
        assert_eq!(t.iter().filter(|k| *k == "execution_started").count(), 1, "{id}: {t:?}");
        assert_eq!(t.iter().filter(|k| *k == "diagnosed").count(), 1, "{id} diagnosed once: {t:?}");
    }
    ids
}

/// Sends `req` through the server's router in process; the status and the body as JSON (a
/// body that is not JSON comes back as a JSON string).
pub async fn send(
    server: &aiops_server::Server,
    req: axum::http::Request<axum::body::Body>,
) -> (axum::http::StatusCode, serde_json::Value) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let resp = server.router().oneshot(req).await.expect("router");
    let status = resp.status();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    let v = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, v)
}
