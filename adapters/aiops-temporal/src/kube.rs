//! [`KubeApiExecutor`]: an [`Executor`] that acts through the Kubernetes API, with the
//! idempotency key recorded on the target object itself.
//!
//! Until aiops-remediate ships its executor this is the worker's executor for a real cluster
//! (or the simulator). Exactly-once comes from the object: the action's patch also writes the
//! annotation [`ACTION_KEY_ANNOTATION`] with the idempotency key, in the same request and with
//! the `resourceVersion` read just before (optimistic concurrency). A retry (another worker
//! after a crash, a timed-out attempt) reads the object first and finds the key: it reports
//! "already executed" and sends no write. Two attempts racing lose to the `409 Conflict` and
//! re-read. Pod deletions need no annotation: a pod that is already gone is the proof.

use std::time::Duration;

use aiops_core::traits::{BoxError, ExecutionOutcome, Executor};
use aiops_core::{ActionType, RemediationAction, ResourceRef};
use serde_json::{Value, json};

/// The annotation holding the idempotency key of the last action applied to an object.
pub const ACTION_KEY_ANNOTATION: &str = "aiops.dev/action-key";

const STRATEGIC: &str = "application/strategic-merge-patch+json";
/// A JSON merge patch replaces lists whole: a rolled-back template's containers are the old ones.
const MERGE: &str = "application/merge-patch+json";

/// Executes restart/rollback/scale/cordon/pod-delete actions through the Kubernetes REST API.
#[derive(Debug, Clone)]
pub struct KubeApiExecutor {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
    settle: Duration,
}

impl KubeApiExecutor {
    /// An executor for the API server at `base` (`http://127.0.0.1:6443`), no credentials.
    pub fn new(base: impl Into<String>) -> crate::Result<Self> {
        Ok(Self {
            base: base.into().trim_end_matches('/').to_string(),
            token: None,
            http: crate::http_client()?,
            settle: Duration::ZERO,
        })
    }

    /// Sends `Authorization: Bearer <token>`.
    pub fn bearer(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// After a write, waits this long before reporting (the rollout settling; the window in
    /// which a test kills the worker).
    pub fn settle(mut self, d: Duration) -> Self {
        self.settle = d;
        self
    }

    fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let r = self.http.request(method, format!("{}{path}", self.base)).timeout(Duration::from_secs(30));
        match &self.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    async fn get(&self, path: &str) -> Result<Option<Value>, BoxError> {
        let resp = self.req(reqwest::Method::GET, path).send().await?;
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        Ok(Some(resp.error_for_status()?.json().await?))
    }

    /// Applies `patch` (plus the key annotation and the read resourceVersion) unless the object
    /// already carries `key`. `Ok(false)`: already executed.
    async fn patch_once(
        &self,
        path: &str,
        key: &str,
        dry_run: bool,
        content_type: &str,
        patch: impl Fn(&Value) -> Value,
    ) -> Result<bool, BoxError> {
        for _ in 0..5 {
            let obj = self.get(path).await?.ok_or_else(|| format!("{path}: not found"))?;
            if obj["metadata"]["annotations"][ACTION_KEY_ANNOTATION] == key {
                return Ok(false);
            }
            let mut body = patch(&obj);
            body["metadata"]["annotations"][ACTION_KEY_ANNOTATION] = json!(key);
            body["metadata"]["resourceVersion"] = obj["metadata"]["resourceVersion"].clone();
            let url = if dry_run { format!("{path}?dryRun=All") } else { path.to_string() };
            let resp = self
                .req(reqwest::Method::PATCH, &url)
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(body.to_string())
                .send()
                .await?;
            if resp.status() == reqwest::StatusCode::CONFLICT {
                continue;
            }
            resp.error_for_status()?;
            return Ok(true);
        }
        Err(format!("{path}: resourceVersion conflicts on every attempt").into())
    }

    /// The pod template to roll `deployment` back to: the ReplicaSet of revision
    /// `parameters.revision`, else the newest one older than the current revision (what
    /// `kubectl rollout undo` picks), without its `pod-template-hash` label.
    async fn rollback_template(&self, action: &RemediationAction, deployment: &Value) -> Result<Value, BoxError> {
        let ns = deployment["metadata"]["namespace"].as_str().unwrap_or_default();
        let name = deployment["metadata"]["name"].as_str().unwrap_or_default();
        let current = revision(deployment).unwrap_or(u64::MAX);
        let wanted = action.parameters.get("revision").and_then(Value::as_u64);
        let list = self.get(&format!("/apis/apps/v1/namespaces/{ns}/replicasets")).await?.unwrap_or_default();
        let owned = list["items"].as_array().into_iter().flatten().filter(|rs| {
            rs["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|o| o.iter().any(|r| r["kind"] == "Deployment" && r["name"] == name))
        });
        let pick = owned
            .filter_map(|rs| revision(rs).map(|r| (r, rs)))
            .filter(|(r, _)| wanted.map_or(*r < current, |w| *r == w))
            .max_by_key(|(r, _)| *r)
            .ok_or_else(|| format!("Deployment {ns}/{name}: no previous revision to roll back to"))?;
        let mut template = pick.1["spec"]["template"].clone();
        if let Some(labels) = template["metadata"]["labels"].as_object_mut() {
            labels.remove("pod-template-hash");
        }
        Ok(template)
    }

    async fn rollback_once(&self, path: &str, action: &RemediationAction, dry_run: bool) -> Result<bool, BoxError> {
        let key = action.idempotency_key.as_str();
        let d = self.get(path).await?.ok_or_else(|| format!("{path}: not found"))?;
        if d["metadata"]["annotations"][ACTION_KEY_ANNOTATION] == key {
            return Ok(false);
        }
        let template = self.rollback_template(action, &d).await?;
        self.patch_once(path, key, dry_run, MERGE, |_| json!({"spec": {"template": template}})).await
    }

    /// Deletes a pod unless it is already gone. `Ok(false)`: already gone.
    async fn delete_once(&self, path: &str, dry_run: bool) -> Result<bool, BoxError> {
        if self.get(path).await?.is_none() {
            return Ok(false);
        }
        let url = if dry_run { format!("{path}?dryRun=All") } else { path.to_string() };
        let resp = self.req(reqwest::Method::DELETE, &url).send().await?;
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(false);
        }
        resp.error_for_status()?;
        Ok(true)
    }
}

fn object_path(t: &ResourceRef) -> Result<String, BoxError> {
    let ns = || t.namespace.as_deref().ok_or_else(|| format!("{t}: namespaced kind without namespace"));
    Ok(match t.kind.as_str() {
        "Deployment" => format!("/apis/apps/v1/namespaces/{}/deployments/{}", ns()?, t.name),
        "StatefulSet" => format!("/apis/apps/v1/namespaces/{}/statefulsets/{}", ns()?, t.name),
        "Pod" => format!("/api/v1/namespaces/{}/pods/{}", ns()?, t.name),
        "Node" => format!("/api/v1/nodes/{}", t.name),
        k => return Err(format!("no API path for kind {k}").into()),
    })
}

fn revision(obj: &Value) -> Option<u64> {
    obj["metadata"]["annotations"]["deployment.kubernetes.io/revision"].as_str()?.parse().ok()
}

fn restart_patch(now: &str) -> Value {
    json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": now}}}}})
}

fn scale_patch(action: &RemediationAction, obj: &Value) -> Value {
    let replicas = action
        .parameters
        .get("replicas")
        .and_then(Value::as_u64)
        .unwrap_or_else(|| obj["spec"]["replicas"].as_u64().unwrap_or(1) + 1);
    json!({"spec": {"replicas": replicas}})
}

#[async_trait::async_trait]
impl Executor for KubeApiExecutor {
    async fn execute(&self, action: &RemediationAction, dry_run: bool) -> Result<ExecutionOutcome, BoxError> {
        let path = object_path(&action.target)?;
        let key = action.idempotency_key.as_str();
        let now = jiff::Timestamp::now().to_string();
        let acted = match action.action {
            ActionType::RestartDeployment => {
                self.patch_once(&path, key, dry_run, STRATEGIC, |_| restart_patch(&now)).await?
            }
            ActionType::RollbackDeployment => self.rollback_once(&path, action, dry_run).await?,
            ActionType::ScaleReplicas => {
                self.patch_once(&path, key, dry_run, STRATEGIC, |o| scale_patch(action, o)).await?
            }
            ActionType::CordonNode => {
                self.patch_once(&path, key, dry_run, STRATEGIC, |_| json!({"spec": {"unschedulable": true}})).await?
            }
            ActionType::UncordonNode => {
                self.patch_once(&path, key, dry_run, STRATEGIC, |_| json!({"spec": {"unschedulable": false}})).await?
            }
            ActionType::RestartPod | ActionType::DeletePod => self.delete_once(&path, dry_run).await?,
            other => return Err(format!("{other}: not supported by the Kubernetes API executor").into()),
        };
        if !acted {
            return Ok(ExecutionOutcome { success: true, dry_run, message: format!("{key}: already executed") });
        }
        if !dry_run {
            tokio::time::sleep(self.settle).await;
        }
        let verb = if dry_run { "would apply" } else { "applied" };
        Ok(ExecutionOutcome {
            success: true,
            dry_run,
            message: format!("{verb} {} to {}", action.action, action.target),
        })
    }
}
