//! [`KubeExecutor`]: carries out an approved action against the Kubernetes API the way
//! `kubectl` does, dry-run by default.
//!
//! | action | request (what `kubectl` sends) |
//! |---|---|
//! | `restart_deployment` | `kubectl rollout restart`: strategic-merge PATCH of the template annotation `kubectl.kubernetes.io/restartedAt` |
//! | `rollback_deployment` | `kubectl rollout undo`: the previous ReplicaSet (owned by the Deployment, by revision annotation) template without `pod-template-hash`, as a JSON PATCH replacing `/spec/template` and `/metadata/annotations` |
//! | `scale_replicas` | `kubectl scale`: merge PATCH of the `scale` subresource; refused while an active HPA manages the workload (it would revert it) |
//! | `cordon_node` / `uncordon_node` | strategic-merge PATCH of `spec.unschedulable` |
//! | `delete_pod` / `restart_pod` | DELETE of the one failing pod (uid precondition); a healthy pod is never deleted, and `restart_pod` needs a controller to recreate it |
//!
//! Every write carries `dryRun=All` unless the executor is [`KubeExecutor::live`] and the
//! caller asks for real execution; a dry run reports the diff (JSON Patch ops) between the
//! object now and the object the server says it would store. A real execution reserves the
//! action's idempotency key in the [`Ledger`] before the write, so it never runs twice, and
//! passes the [`CircuitBreaker`] first.

use std::sync::Arc;

use aiops_core::model::{ActionType, RemediationAction};
use aiops_core::traits::{BoxError, Clock, ExecutionOutcome, Executor, SystemClock};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tracing::Instrument;

use crate::error::{RemediateError, Result};
use crate::ledger::{CircuitBreaker, EntryState, Ledger, LedgerEntry, Reservation};
use crate::plan::{REVISION_ANNOTATION, pod_is_healthy, revision_of};

/// The annotation `kubectl rollout restart` sets on the pod template.
pub const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

/// Deployment annotations `kubectl rollout undo` keeps from the Deployment instead of copying
/// them from the ReplicaSet.
const ANNOTATIONS_TO_SKIP: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION_ANNOTATION,
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
];

const SMP: &str = "application/strategic-merge-patch+json";
const MERGE: &str = "application/merge-patch+json";
const JSON_PATCH: &str = "application/json-patch+json";

/// How to run one action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunMode {
    /// Only validate server-side (`dryRun=All`). Forced when the executor is not live.
    pub dry_run: bool,
    /// True when no human decided (the circuit breaker is stricter then).
    pub automatic: bool,
}

/// One write sent to the API server and its answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiCall {
    /// HTTP method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Content type of the body.
    pub content_type: String,
    /// The body sent.
    pub body: Value,
    /// HTTP status of the answer.
    pub status: u16,
    /// The answered object's identity (`kind`, `name`, `resourceVersion`, `generation`).
    pub response: Value,
}

/// What an execution did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Execution {
    /// The outcome in the core's terms.
    pub outcome: ExecutionOutcome,
    /// The idempotency key.
    pub key: String,
    /// The writes sent (empty for a replay or a no-op).
    pub calls: Vec<ApiCall>,
    /// What changed or, for a dry run, would change (JSON Patch ops over the object;
    /// `metadata.resourceVersion`, `generation`, `managedFields` and `status` left out).
    pub diff: Value,
    /// True when the key had already been used and nothing was sent.
    pub replayed: bool,
}

/// A write to send, prepared from the reads.
#[derive(Debug, Clone)]
struct Write {
    method: &'static str,
    path: String,
    content_type: &'static str,
    body: Value,
    current: Value,
}

/// A prepared action: a write, or nothing to do (with why).
#[derive(Debug, Clone)]
enum Prepared {
    Write(Write),
    Noop(String),
}

/// The Kubernetes executor (see the module doc).
#[derive(Clone)]
pub struct KubeExecutor {
    client: kube::Client,
    ledger: Ledger,
    breaker: CircuitBreaker,
    clock: Arc<dyn Clock>,
    live: bool,
}

impl std::fmt::Debug for KubeExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeExecutor").field("live", &self.live).field("breaker", &self.breaker).finish()
    }
}

impl KubeExecutor {
    /// A dry-run-only executor over `client` with an in-memory ledger.
    pub fn new(client: kube::Client) -> Self {
        Self {
            client,
            ledger: Ledger::new(),
            breaker: CircuitBreaker::default(),
            clock: Arc::new(SystemClock),
            live: false,
        }
    }

    /// Allows real execution (`true`); without it every run is a dry run.
    pub fn live(mut self, live: bool) -> Self {
        self.live = live;
        self
    }

    /// Uses `ledger` (e.g. one persisted to a file, or shared with the verifier).
    pub fn with_ledger(mut self, ledger: Ledger) -> Self {
        self.ledger = ledger;
        self
    }

    /// Uses `breaker`.
    pub fn with_breaker(mut self, breaker: CircuitBreaker) -> Self {
        self.breaker = breaker;
        self
    }

    /// Uses `clock` for `restartedAt` and the ledger.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The ledger.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Runs `action`: dry run unless live and asked otherwise; a used key never runs again.
    pub async fn run(&self, action: &RemediationAction, mode: RunMode) -> Result<Execution> {
        let dry_run = mode.dry_run || !self.live;
        let span = tracing::info_span!("execute", action = %action.action, target = %action.target, dry_run);
        self.run_inner(action, mode, dry_run).instrument(span).await
    }

    async fn run_inner(&self, action: &RemediationAction, mode: RunMode, dry_run: bool) -> Result<Execution> {
        if !dry_run && let Some(done) = self.ledger.get(&action.idempotency_key) {
            return Ok(replay(action, &done));
        }
        if !dry_run {
            self.breaker.check(&self.ledger, action, mode.automatic, self.clock.now())?;
        }
        let write = match self.prepare(action).await? {
            Prepared::Write(w) => w,
            Prepared::Noop(why) => return Ok(noop(action, dry_run, why)),
        };
        if !dry_run {
            let entry = LedgerEntry::reserve(action, mode.automatic, self.clock.now());
            if let Reservation::Existing(done) = self.ledger.reserve(entry)? {
                return Ok(replay(action, &done));
            }
        }
        let sent = self.send(&write, dry_run).await;
        if !dry_run {
            let (ok, msg) = match &sent {
                Ok(_) => (true, "applied".to_string()),
                Err(e) => (false, e.to_string()),
            };
            self.ledger.finish(&action.idempotency_key, ok, &msg)?;
        }
        let (call, after) = sent?;
        Ok(executed(action, dry_run, &write, call, &after))
    }

    async fn prepare(&self, a: &RemediationAction) -> Result<Prepared> {
        match a.action {
            ActionType::RestartDeployment => self.prepare_restart(a).await,
            ActionType::RollbackDeployment => self.prepare_rollback(a).await,
            ActionType::ScaleReplicas => self.prepare_scale(a).await,
            ActionType::CordonNode | ActionType::UncordonNode => self.prepare_cordon(a).await,
            ActionType::DeletePod | ActionType::RestartPod => self.prepare_delete_pod(a).await,
            other => Err(invalid(a, format!("`{other}` is not executed by the Kubernetes executor"))),
        }
    }

    async fn prepare_restart(&self, a: &RemediationAction) -> Result<Prepared> {
        let path = workload_path(a, "Deployment")?;
        let current = self.get(&path).await?;
        if current.pointer("/spec/paused") == Some(&Value::Bool(true)) {
            return Err(invalid(a, "the Deployment is paused; resume it before restarting"));
        }
        let now = self.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
        let body = json!({"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: now}}}}});
        Ok(Prepared::Write(Write { method: "PATCH", path, content_type: SMP, body, current }))
    }

    async fn prepare_rollback(&self, a: &RemediationAction) -> Result<Prepared> {
        let path = workload_path(a, "Deployment")?;
        let current = self.get(&path).await?;
        if current.pointer("/spec/paused") == Some(&Value::Bool(true)) {
            return Err(invalid(a, "the Deployment is paused; resume it before rolling back"));
        }
        let ns = a.target.namespace.as_deref().unwrap_or_default();
        let current_rev = revision_of(&current).unwrap_or(0);
        if let Some(from) = a.parameters.get("from_revision").and_then(Value::as_u64)
            && from != current_rev
        {
            return Err(invalid(a, format!("the Deployment is at revision {current_rev}, not {from}: re-plan")));
        }
        let sets = self.owned_replica_sets(ns, &current).await?;
        let to = a.parameters.get("to_revision").and_then(Value::as_u64);
        let target = sets
            .iter()
            .filter(|rs| match (revision_of(rs), to) {
                (Some(r), Some(t)) => r == t && r != current_rev,
                (Some(r), None) => r < current_rev,
                _ => false,
            })
            .max_by_key(|rs| revision_of(rs))
            .ok_or_else(|| invalid(a, "no previous revision found"))?;
        let rev = revision_of(target).unwrap_or(0);
        let mut template = target.pointer("/spec/template").cloned().unwrap_or(Value::Null);
        if let Some(labels) = template.pointer_mut("/metadata/labels").and_then(Value::as_object_mut) {
            labels.remove("pod-template-hash");
        }
        if current.pointer("/spec/template") == Some(&template) {
            return Ok(Prepared::Noop(format!("skipped rollback (current template already matches revision {rev})")));
        }
        let body = json!([
            {"op": "replace", "path": "/spec/template", "value": template},
            {"op": "replace", "path": "/metadata/annotations", "value": rollback_annotations(&current, target)},
        ]);
        Ok(Prepared::Write(Write { method: "PATCH", path, content_type: JSON_PATCH, body, current }))
    }

    async fn owned_replica_sets(&self, ns: &str, deployment: &Value) -> Result<Vec<Value>> {
        let selector = deployment
            .pointer("/spec/selector/matchLabels")
            .and_then(Value::as_object)
            .map(|m| m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect::<Vec<_>>())
            .unwrap_or_default()
            .join(",");
        let query: String =
            form_urlencoded::Serializer::new(String::new()).append_pair("labelSelector", &selector).finish();
        let list = self.get(&format!("/apis/apps/v1/namespaces/{ns}/replicasets?{query}")).await?;
        let uid = deployment.pointer("/metadata/uid").and_then(Value::as_str);
        let name = deployment.pointer("/metadata/name").and_then(Value::as_str);
        let owned = |rs: &Value| {
            rs.pointer("/metadata/ownerReferences").and_then(Value::as_array).is_some_and(|refs| {
                refs.iter().any(|r| {
                    r["kind"] == "Deployment"
                        && match (uid, r["uid"].as_str()) {
                            (Some(u), Some(ru)) => u == ru,
                            _ => r["name"].as_str() == name,
                        }
                })
            })
        };
        Ok(list["items"]
            .as_array()
            .map(|items| items.iter().filter(|rs| owned(rs)).cloned().collect())
            .unwrap_or_default())
    }

    async fn prepare_scale(&self, a: &RemediationAction) -> Result<Prepared> {
        let kind = a.target.kind.as_str();
        if !matches!(kind, "Deployment" | "StatefulSet") {
            return Err(invalid(a, format!("cannot scale a {kind}")));
        }
        let replicas = a
            .parameters
            .get("replicas")
            .and_then(Value::as_u64)
            .ok_or_else(|| invalid(a, "parameter `replicas` (a non-negative integer) is required"))?;
        let path = format!("{}/scale", workload_path(a, kind)?);
        let current = self.get(&path).await?;
        if let Some(hpa) = self.active_hpa(a).await? {
            return Err(invalid(
                a,
                format!(
                    "HorizontalPodAutoscaler {hpa} manages its replicas and would revert a manual scale; change the HPA instead (update_hpa, high risk)"
                ),
            ));
        }
        let body = json!({"spec": {"replicas": replicas}});
        Ok(Prepared::Write(Write { method: "PATCH", path, content_type: MERGE, body, current }))
    }

    /// The name of an HPA that targets the workload and is actively scaling it.
    async fn active_hpa(&self, a: &RemediationAction) -> Result<Option<String>> {
        let ns = a.target.namespace.as_deref().unwrap_or_default();
        let list = self.get(&format!("/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers")).await?;
        let items = list["items"].as_array().cloned().unwrap_or_default();
        Ok(items
            .iter()
            .filter(|h| h.pointer("/spec/scaleTargetRef/kind").and_then(Value::as_str) == Some(a.target.kind.as_str()))
            .filter(|h| h.pointer("/spec/scaleTargetRef/name").and_then(Value::as_str) == Some(a.target.name.as_str()))
            .find(|h| !hpa_inactive(h))
            .and_then(|h| h.pointer("/metadata/name").and_then(Value::as_str).map(str::to_string)))
    }

    async fn prepare_cordon(&self, a: &RemediationAction) -> Result<Prepared> {
        if a.target.kind != "Node" {
            return Err(invalid(a, "the target must be a Node"));
        }
        let path = format!("/api/v1/nodes/{}", a.target.name);
        let current = self.get(&path).await?;
        let cordon = a.action == ActionType::CordonNode;
        let is_cordoned = current.pointer("/spec/unschedulable") == Some(&Value::Bool(true));
        if cordon == is_cordoned {
            let state = if cordon { "cordoned" } else { "uncordoned" };
            return Ok(Prepared::Noop(format!("node/{} already {state}", a.target.name)));
        }
        let body = json!({"spec": {"unschedulable": if cordon { json!(true) } else { Value::Null }}});
        Ok(Prepared::Write(Write { method: "PATCH", path, content_type: SMP, body, current }))
    }

    async fn prepare_delete_pod(&self, a: &RemediationAction) -> Result<Prepared> {
        if a.target.kind != "Pod" {
            return Err(invalid(a, "the target must be a Pod"));
        }
        let ns = a.target.namespace.as_deref().unwrap_or_default();
        let path = format!("/api/v1/namespaces/{ns}/pods/{}", a.target.name);
        let current = self.get(&path).await?;
        if pod_is_healthy(&current) {
            return Err(invalid(a, "the pod is Running and Ready: a healthy pod is never deleted"));
        }
        let controlled = current
            .pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .is_some_and(|refs| refs.iter().any(|r| r["controller"] == Value::Bool(true)));
        if a.action == ActionType::RestartPod && !controlled {
            return Err(invalid(a, "the pod has no controller to recreate it; use delete_pod if that is intended"));
        }
        let body = json!({"kind": "DeleteOptions", "apiVersion": "v1",
                          "preconditions": {"uid": current.pointer("/metadata/uid")}});
        Ok(Prepared::Write(Write { method: "DELETE", path, content_type: "application/json", body, current }))
    }

    async fn get(&self, path: &str) -> Result<Value> {
        kube_get(&self.client, path).await
    }

    async fn send(&self, w: &Write, dry_run: bool) -> Result<(ApiCall, Value)> {
        let sep = if w.path.contains('?') { '&' } else { '?' };
        let path = if dry_run { format!("{}{sep}dryRun=All", w.path) } else { w.path.clone() };
        let body = serde_json::to_vec(&w.body).map_err(|e| RemediateError::json("request body", e))?;
        let req = http::Request::builder()
            .method(w.method)
            .uri(&path)
            .header(http::header::CONTENT_TYPE, w.content_type)
            .body(body)
            .map_err(|e| RemediateError::Kube(e.to_string()))?;
        let after: Value = self
            .client
            .request::<Value>(req)
            .await
            .map_err(|e| RemediateError::Kube(format!("{} {path}: {e}", w.method)))?;
        tracing::info!(method = w.method, %path, "sent");
        let response = json!({
            "kind": after["kind"], "name": after.pointer("/metadata/name"),
            "resourceVersion": after.pointer("/metadata/resourceVersion"),
            "generation": after.pointer("/metadata/generation"),
        });
        let call = ApiCall {
            method: w.method.into(),
            path,
            content_type: w.content_type.into(),
            body: w.body.clone(),
            status: 200,
            response,
        };
        Ok((call, after))
    }
}

/// GET `path` from the API server as JSON.
pub(crate) async fn kube_get(client: &kube::Client, path: &str) -> Result<Value> {
    let req = http::Request::get(path).body(Vec::new()).map_err(|e| RemediateError::Kube(e.to_string()))?;
    client.request::<Value>(req).await.map_err(|e| RemediateError::Kube(format!("GET {path}: {e}")))
}

fn invalid(a: &RemediationAction, message: impl Into<String>) -> RemediateError {
    RemediateError::InvalidAction { action: format!("{} {}", a.action, a.target), message: message.into() }
}

fn workload_path(a: &RemediationAction, kind: &str) -> Result<String> {
    let plural = match kind {
        "Deployment" => "deployments",
        "StatefulSet" => "statefulsets",
        _ => return Err(invalid(a, format!("unsupported workload kind {kind}"))),
    };
    if a.target.kind != kind {
        return Err(invalid(a, format!("the target must be a {kind}")));
    }
    let ns = a.target.namespace.as_deref().ok_or_else(|| invalid(a, "the target has no namespace"))?;
    Ok(format!("/apis/apps/v1/namespaces/{ns}/{plural}/{}", a.target.name))
}

/// An HPA that cannot compute a scale (`ScalingActive=False`) does not fight a manual scale.
fn hpa_inactive(hpa: &Value) -> bool {
    hpa.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| cs.iter().any(|c| c["type"] == "ScalingActive" && c["status"] == "False"))
}

/// The Deployment annotations after `kubectl rollout undo`: the skipped ones from the
/// Deployment, every other one from the ReplicaSet.
fn rollback_annotations(deployment: &Value, rs: &Value) -> Value {
    let mut out = serde_json::Map::new();
    let empty = serde_json::Map::new();
    let dep = deployment.pointer("/metadata/annotations").and_then(Value::as_object).unwrap_or(&empty);
    for k in ANNOTATIONS_TO_SKIP {
        if let Some(v) = dep.get(*k) {
            out.insert((*k).to_string(), v.clone());
        }
    }
    let rs = rs.pointer("/metadata/annotations").and_then(Value::as_object).unwrap_or(&empty);
    for (k, v) in rs {
        if !ANNOTATIONS_TO_SKIP.contains(&k.as_str()) {
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Object(out)
}

/// JSON Patch ops from `before` to `after`, without server bookkeeping.
pub fn object_diff(before: &Value, after: &Value) -> Value {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            for k in ["resourceVersion", "generation", "managedFields"] {
                m.remove(k);
            }
        }
        if let Some(m) = v.as_object_mut() {
            m.remove("status");
        }
        v
    };
    serde_json::to_value(json_patch::diff(&strip(before), &strip(after))).unwrap_or(Value::Null)
}

fn replay(a: &RemediationAction, done: &LedgerEntry) -> Execution {
    let message = match done.state {
        EntryState::Reserved => format!(
            "in doubt: an attempt with key {} started at {} and never finished; not executed again (check the cluster)",
            done.key, done.reserved_at
        ),
        _ => format!("already executed at {} ({}): not executed again", done.reserved_at, done.message),
    };
    let outcome = ExecutionOutcome { success: done.state == EntryState::Succeeded, dry_run: false, message };
    Execution { outcome, key: a.idempotency_key.clone(), calls: Vec::new(), diff: json!([]), replayed: true }
}

fn noop(a: &RemediationAction, dry_run: bool, why: String) -> Execution {
    let outcome = ExecutionOutcome { success: true, dry_run, message: why };
    Execution { outcome, key: a.idempotency_key.clone(), calls: Vec::new(), diff: json!([]), replayed: false }
}

fn executed(a: &RemediationAction, dry_run: bool, w: &Write, call: ApiCall, after: &Value) -> Execution {
    let diff = if w.method == "DELETE" {
        json!([{"op": "remove", "path": "", "object": a.target.to_string()}])
    } else {
        object_diff(&w.current, after)
    };
    let ops = diff.as_array().map_or(0, Vec::len);
    let verb = if dry_run { "dry run: would change" } else { "changed" };
    let message = format!("{} {}: {verb} {ops} field(s) via {} {}", a.action, a.target, call.method, call.path);
    let outcome = ExecutionOutcome { success: true, dry_run, message };
    Execution { outcome, key: a.idempotency_key.clone(), calls: vec![call], diff, replayed: false }
}

#[async_trait]
impl Executor for KubeExecutor {
    /// Runs as an automatic action (the stricter circuit breaker).
    async fn execute(&self, action: &RemediationAction, dry_run: bool) -> Result<ExecutionOutcome, BoxError> {
        Ok(self.run(action, RunMode { dry_run, automatic: true }).await?.outcome)
    }
}
