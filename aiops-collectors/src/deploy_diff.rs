//! The deploy-diff collector: what changed around an incident's onset in its namespaces.
//! Rollout history (ReplicaSets by owner reference and revision annotation, ControllerRevisions
//! for StatefulSets and DaemonSets), the pod-template diff between the current and the previous
//! revision, and ConfigMap/Secret write times from `managedFields` (Secrets as metadata only),
//! within a window around the onset ([`aiops_core::change`]).
//!
//! It reads seven kinds with one paginated LIST each per namespace in scope (the request's
//! namespaces, else the alert's `namespace` label; a cluster scan has no scope and reads
//! nothing, the Kubernetes collector having listed everything already). Its observations hold
//! only the objects that changed in the window (and the revision each change replaced), so the
//! rules see the change even when the Kubernetes collector failed or timed out; merged with
//! that collector's objects, each object is kept once.

use std::collections::HashSet;
use std::sync::Arc;

use aiops_core::Observations;
use aiops_core::change::{ChangeHistory, ChangeWindow};
use aiops_core::object::Inventory;
use aiops_core::traits::{BoxError, CollectRequest, Collector};
use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};

use crate::CollectorError;
use crate::kubernetes::{ClusterSource, KINDS, KindSpec, KubernetesCollector};

/// How far before the onset changes are read.
pub const DEFAULT_BEFORE: SignedDuration = SignedDuration::from_hours(24);
/// How far after the onset changes are read.
pub const DEFAULT_AFTER: SignedDuration = SignedDuration::from_hours(1);

/// The kinds a deploy diff reads.
const CHANGE_KINDS: &[&str] =
    &["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ControllerRevision", "ConfigMap", "Secret"];

fn change_kinds() -> Vec<KindSpec> {
    KINDS.iter().filter(|k| CHANGE_KINDS.contains(&k.kind)).copied().collect()
}

/// Reads the change history of an incident's namespaces.
///
/// ```no_run
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// use aiops_collectors::deploy_diff::DeployDiffCollector;
/// use aiops_collectors::kubernetes::ClusterSource;
/// let diff = DeployDiffCollector::connect(ClusterSource::Url("http://127.0.0.1:8001".into())).await?;
/// let request = aiops_core::traits::CollectRequest { namespaces: vec!["shop".into()], ..Default::default() };
/// for r in diff.history(&request).await?.1.rollouts {
///     println!("{}/{} revision {}: {}", r.namespace, r.name, r.revision, r.diff.join("; "));
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct DeployDiffCollector {
    kube: KubernetesCollector,
    before: SignedDuration,
    after: SignedDuration,
}

impl DeployDiffCollector {
    /// A collector over an existing client, with the default window.
    pub fn new(client: kube::Client) -> Self {
        DeployDiffCollector { kube: KubernetesCollector::new(client), before: DEFAULT_BEFORE, after: DEFAULT_AFTER }
    }

    /// Connects to the cluster of `source`.
    pub async fn connect(source: ClusterSource) -> Result<Self, CollectorError> {
        Ok(Self::new(source.client().await?))
    }

    /// Reads the change kinds from a watch cache while it is fresh (see
    /// [`KubernetesCollector::with_cache`]).
    pub fn with_cache(mut self, cache: Arc<crate::cache::ClusterCache>) -> Self {
        self.kube = self.kube.with_cache(cache);
        self
    }

    /// Reads changes from `before` the onset to `after` it.
    pub fn window(mut self, before: SignedDuration, after: SignedDuration) -> Self {
        (self.before, self.after) = (before, after);
        self
    }

    /// The namespaces a request scopes a deploy diff to: its own, else its alert's.
    pub fn scope(request: &CollectRequest) -> Vec<String> {
        if !request.namespaces.is_empty() {
            return request.namespaces.clone();
        }
        let alert_ns = request.alert.as_ref().and_then(|a| a.labels.get("namespace")).filter(|n| !n.is_empty());
        alert_ns.cloned().into_iter().collect()
    }

    /// The window around a request's onset (its alert's start, else its "now", else the clock).
    pub fn window_of(&self, request: &CollectRequest) -> ChangeWindow {
        let onset = request.alert.as_ref().and_then(|a| a.starts_at).or(request.now).unwrap_or_else(Timestamp::now);
        ChangeWindow::around(onset, self.before, self.after)
    }

    /// Everything read (the change kinds of the scope) and the changes in the window.
    pub async fn history(&self, request: &CollectRequest) -> Result<(Inventory, ChangeHistory), CollectorError> {
        let scope = Self::scope(request);
        if scope.is_empty() {
            return Ok(Default::default());
        }
        let inv = self.kube.inventory_of(&scope, &change_kinds()).await?;
        let history = ChangeHistory::of(&inv, &self.window_of(request));
        Ok((inv, history))
    }
}

/// `(kind, namespace, name)` of every object a change involves.
fn involved(history: &ChangeHistory) -> HashSet<(&str, &str, &str)> {
    let mut out = HashSet::new();
    for r in &history.rollouts {
        out.insert((r.kind.as_str(), r.namespace.as_str(), r.name.as_str()));
        let revision_kind = if r.kind == "Deployment" { "ReplicaSet" } else { "ControllerRevision" };
        for o in r.revision_object.iter().chain(&r.previous_revision_object) {
            out.insert((revision_kind, r.namespace.as_str(), o.as_str()));
        }
    }
    for c in &history.config_changes {
        out.insert((c.kind.as_str(), c.namespace.as_str(), c.name.as_str()));
    }
    out
}

/// The objects of `inv` a change involves.
fn changed_objects(inv: Inventory, history: &ChangeHistory) -> Inventory {
    let keep = involved(history);
    let has = |kind: &str, m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
        keep.contains(&(kind, m.namespace.as_deref().unwrap_or(""), m.name.as_deref().unwrap_or("")))
    };
    macro_rules! only {
        ($($field:ident => $kind:literal),+) => {
            Inventory { $($field: inv.$field.into_iter().filter(|o| has($kind, &o.metadata)).collect(),)+ ..Default::default() }
        };
    }
    only!(
        deployments => "Deployment",
        stateful_sets => "StatefulSet",
        daemon_sets => "DaemonSet",
        replica_sets => "ReplicaSet",
        controller_revisions => "ControllerRevision",
        config_maps => "ConfigMap",
        secrets => "Secret"
    )
}

#[async_trait]
impl Collector for DeployDiffCollector {
    fn name(&self) -> &str {
        "deploy_diff"
    }

    async fn collect(&self, request: &CollectRequest) -> Result<Observations, BoxError> {
        let (inv, history) = self.history(request).await?;
        tracing::debug!(rollouts = history.rollouts.len(), config_changes = history.config_changes.len(), "changes");
        Ok(Observations { inventory: Arc::new(changed_objects(inv, &history)), ..Default::default() })
    }
}
