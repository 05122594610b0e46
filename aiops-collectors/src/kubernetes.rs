//! The Kubernetes API collector: one paginated LIST per kind of the graph model (never a GET
//! per object; an analysis lists the [`DEPENDENT_KINDS`] only when the objects listed before
//! them need them), Secrets as `PartialObjectMetadata` only, events, and bounded pod logs for
//! the containers that are failing.

use std::path::PathBuf;
use std::sync::Arc;

use aiops_core::Observations;
use aiops_core::object::Inventory;
use aiops_core::observation::LogRecord;
use aiops_core::traits::{BoxError, CollectRequest, Collector};
use async_trait::async_trait;
use futures::{FutureExt, StreamExt, stream};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, LogParams};
use kube::core::Request;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::CollectorError;
use crate::cache::ClusterCache;

/// Objects asked for per LIST page.
pub const DEFAULT_PAGE_SIZE: u32 = 10_000;
/// How many times [`KubernetesCollector::page_size`] objects a LIST page of Events asks for:
/// an Event is a fraction of a Pod's size (about 1 KiB against 5 to 20 KiB with its spec,
/// status and managed fields), so a page of 50,000 Events weighs about what a page of 10,000
/// Pods does, and the memory a page holds stays bounded the same way.
pub const EVENT_PAGE_FACTOR: u32 = 5;
/// Lines read per container log.
pub const DEFAULT_LOG_LINES: i64 = 500;
/// Bytes read per container log.
pub const DEFAULT_LOG_BYTES: i64 = 256 * 1024;
/// Containers whose logs are read, at most.
pub const DEFAULT_MAX_LOG_CONTAINERS: usize = 50;
/// Failing controllers whose logs a cluster scan (no alert) reads, at most: a scan reads
/// the first failing pod of each, and no more than this many, so its requests stay flat in the
/// size of the cluster.
pub const DEFAULT_SCAN_LOG_OWNERS: usize = 4;
/// Requests in flight at once.
const CONCURRENCY: usize = 8;

/// One kind the collector lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindSpec {
    /// `group/version` (`v1` for the core group).
    pub api_version: &'static str,
    /// Kind.
    pub kind: &'static str,
    /// Resource (plural).
    pub plural: &'static str,
    /// Whether the kind is namespaced.
    pub namespaced: bool,
    /// Whether the label selector of the scope applies to it (workloads and their parts).
    pub selectable: bool,
}

const fn k(api_version: &'static str, kind: &'static str, plural: &'static str, ns: bool, sel: bool) -> KindSpec {
    KindSpec { api_version, kind, plural, namespaced: ns, selectable: sel }
}

/// Every kind of the graph model (the typed fields of [`Inventory`]), Secrets and Events.
pub const KINDS: &[KindSpec] = &[
    k("v1", "Pod", "pods", true, true),
    k("v1", "Node", "nodes", false, false),
    k("v1", "Service", "services", true, true),
    k("v1", "Endpoints", "endpoints", true, true),
    k("discovery.k8s.io/v1", "EndpointSlice", "endpointslices", true, false),
    k("v1", "ConfigMap", "configmaps", true, false),
    k("v1", "PersistentVolumeClaim", "persistentvolumeclaims", true, false),
    k("v1", "PersistentVolume", "persistentvolumes", false, false),
    k("v1", "Namespace", "namespaces", false, false),
    k("v1", "ServiceAccount", "serviceaccounts", true, false),
    k("v1", "ResourceQuota", "resourcequotas", true, false),
    k("v1", "LimitRange", "limitranges", true, false),
    k("apps/v1", "Deployment", "deployments", true, true),
    k("apps/v1", "ReplicaSet", "replicasets", true, true),
    k("apps/v1", "StatefulSet", "statefulsets", true, true),
    k("apps/v1", "DaemonSet", "daemonsets", true, true),
    k("apps/v1", "ControllerRevision", "controllerrevisions", true, false),
    k("batch/v1", "Job", "jobs", true, true),
    k("batch/v1", "CronJob", "cronjobs", true, true),
    k("autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", true, false),
    k("storage.k8s.io/v1", "StorageClass", "storageclasses", false, false),
    k("networking.k8s.io/v1", "Ingress", "ingresses", true, false),
    k("networking.k8s.io/v1", "IngressClass", "ingressclasses", false, false),
    k("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies", true, false),
    k("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets", true, false),
    k("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration", "mutatingwebhookconfigurations", false, false),
    k(
        "admissionregistration.k8s.io/v1",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
        false,
        false,
    ),
    k("v1", "Secret", "secrets", true, false),
    k("v1", "Event", "events", true, false),
];

/// A kind of [`KINDS`] that an analysis lists only when the kinds listed before it hold
/// something that needs it: no rule reads it on its own, only through the objects the
/// condition looks for, so skipping it when they are absent loses no evidence.
#[derive(Debug, Clone, Copy)]
pub struct DependentKind {
    /// `group/version` (`v1` for the core group).
    pub api_version: &'static str,
    /// Kind.
    pub kind: &'static str,
    /// The round it is listed in (2 or 3): after every kind of the rounds before it, whose
    /// objects the condition reads. Round 1 is every kind not in [`DEPENDENT_KINDS`].
    pub round: u8,
    /// Whether the inventory of the earlier rounds needs the kind.
    pub needed: fn(&Inventory) -> bool,
    /// What reads the kind, and so when it is needed.
    pub why: &'static str,
}

const fn dep(
    api_version: &'static str,
    kind: &'static str,
    round: u8,
    needed: fn(&Inventory) -> bool,
    why: &'static str,
) -> DependentKind {
    DependentKind { api_version, kind, round, needed, why }
}

/// The kinds an analysis ([`KubernetesCollector::inventory`]) lists only when needed; every
/// other kind (a kind that carries symptoms of its own: a Failed PersistentVolume, a Pending
/// claim, a PodDisruptionBudget that selects nothing, a changed ConfigMap, Secret or
/// NetworkPolicy, a webhook whose Service is gone) is always listed. `aiops capture` and the
/// watch cache still read every kind; an analysis through the cache applies the same table to
/// what the cache holds, so both give the same inventory.
pub const DEPENDENT_KINDS: &[DependentKind] = &[
    dep("v1", "Endpoints", 2, has_selector_service, "the endpoints of a Service with a selector"),
    dep(
        "discovery.k8s.io/v1",
        "EndpointSlice",
        3,
        has_service_without_endpoints,
        "the endpoints of a Service with a selector that has no Endpoints object",
    ),
    dep(
        "storage.k8s.io/v1",
        "StorageClass",
        2,
        has_claims,
        "the class of a PersistentVolumeClaim or of a StatefulSet's volumeClaimTemplate",
    ),
    dep("networking.k8s.io/v1", "IngressClass", 2, has_ingresses, "the class of an Ingress"),
    dep("apps/v1", "ControllerRevision", 2, has_revisioned_sets, "the rollout history of a StatefulSet or DaemonSet"),
    // No rule reads these three today (the quota and failed-create rules match the FailedCreate
    // message): they are listed when a FailedCreate may name one, for a reader of the inventory.
    dep("v1", "ResourceQuota", 2, creation_blocked, "a quota a FailedCreate may name"),
    dep("v1", "LimitRange", 2, creation_blocked, "a limit range a FailedCreate may name"),
    dep("v1", "ServiceAccount", 2, creation_blocked, "a service account a FailedCreate may name"),
];

/// The [`DEPENDENT_KINDS`] entry of a target, if it has one.
fn dependent(target: &Target) -> Option<&'static DependentKind> {
    DEPENDENT_KINDS.iter().find(|d| d.kind == target.kind && d.api_version == target.api_version)
}

/// The Services whose endpoints an analysis reads: a selector, and not `ExternalName`.
fn selector_services(inv: &Inventory) -> impl Iterator<Item = &k8s_openapi::api::core::v1::Service> {
    inv.services.iter().filter(|s| {
        s.spec.as_ref().is_some_and(|sp| {
            sp.selector.as_ref().is_some_and(|sel| !sel.is_empty()) && sp.type_.as_deref() != Some("ExternalName")
        })
    })
}

fn has_selector_service(inv: &Inventory) -> bool {
    selector_services(inv).next().is_some()
}

/// A Service whose endpoints are read from EndpointSlices: one without an Endpoints object.
fn has_service_without_endpoints(inv: &Inventory) -> bool {
    let key =
        |m: &kube::core::ObjectMeta| (m.namespace.clone().unwrap_or_default(), m.name.clone().unwrap_or_default());
    let endpoints: std::collections::HashSet<_> = inv.endpoints.iter().map(|e| key(&e.metadata)).collect();
    selector_services(inv).any(|s| !endpoints.contains(&key(&s.metadata)))
}

fn has_claims(inv: &Inventory) -> bool {
    !inv.pvcs.is_empty()
        || inv.stateful_sets.iter().any(|s| s.spec.volume_claim_templates.iter().flatten().next().is_some())
}

fn has_ingresses(inv: &Inventory) -> bool {
    !inv.ingresses.is_empty()
}

fn has_revisioned_sets(inv: &Inventory) -> bool {
    !inv.stateful_sets.is_empty() || !inv.daemon_sets.is_empty()
}

/// A controller fails to create pods: a `FailedCreate` event, or a `ReplicaFailure` condition
/// on a ReplicaSet or Deployment (the symptoms of the quota and failed-create rules).
fn creation_blocked(inv: &Inventory) -> bool {
    let failure = |ty: Option<&str>, status: Option<&str>| ty == Some("ReplicaFailure") && status == Some("True");
    let mut rs = inv.replica_sets.iter().flat_map(|r| r.status.iter().flat_map(|s| s.conditions.iter().flatten()));
    let mut deploy = inv.deployments.iter().flat_map(|d| d.status.iter().flat_map(|s| s.conditions.iter().flatten()));
    inv.events.iter().any(|e| e.reason.as_deref() == Some("FailedCreate"))
        || rs.any(|c| failure(c.type_.as_deref(), c.status.as_deref()))
        || deploy.any(|c| failure(c.type_.as_deref(), c.status.as_deref()))
}

/// API groups whose kinds are all in [`KINDS`] (others are discovered and listed whole).
const BUILTIN_GROUPS: &[&str] = &[
    "apps",
    "batch",
    "autoscaling",
    "policy",
    "storage.k8s.io",
    "networking.k8s.io",
    "discovery.k8s.io",
    "admissionregistration.k8s.io",
    "events.k8s.io",
    "rbac.authorization.k8s.io",
    "apiextensions.k8s.io",
    "apiregistration.k8s.io",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "certificates.k8s.io",
    "coordination.k8s.io",
    "flowcontrol.apiserver.k8s.io",
    "node.k8s.io",
    "scheduling.k8s.io",
    "resource.k8s.io",
    "metrics.k8s.io",
    "internal.apiserver.k8s.io",
    "storagemigration.k8s.io",
];

/// Where the collector finds the cluster.
#[derive(Debug, Clone, Default)]
pub enum ClusterSource {
    /// The usual inference: `KUBECONFIG`/`~/.kube/config`, else the in-cluster service account.
    #[default]
    Infer,
    /// A kubeconfig file (its current context).
    Kubeconfig(PathBuf),
    /// The in-cluster service account.
    InCluster,
    /// An explicit API server URL without credentials (e.g. `kubectl proxy` or `aiops sim`).
    Url(String),
}

impl ClusterSource {
    /// Builds a client for this source.
    pub async fn client(&self) -> Result<kube::Client, CollectorError> {
        let config = match self {
            ClusterSource::Infer => kube::Config::infer().await.map_err(|e| CollectorError::kube(e.to_string()))?,
            ClusterSource::Kubeconfig(path) => {
                let kc = kube::config::Kubeconfig::read_from(path)
                    .map_err(|e| CollectorError::kube(format!("{}: {e}", path.display())))?;
                kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                    .await
                    .map_err(|e| CollectorError::kube(format!("{}: {e}", path.display())))?
            }
            ClusterSource::InCluster => kube::Config::incluster().map_err(|e| CollectorError::kube(e.to_string()))?,
            ClusterSource::Url(url) => {
                let uri = url.parse().map_err(|e| CollectorError::kube(format!("bad URL {url}: {e}")))?;
                kube::Config::new(uri)
            }
        };
        kube::Client::try_from(config).map_err(|e| CollectorError::kube(e.to_string()))
    }
}

/// Reads a cluster (or the namespaces and selector of the request) from the Kubernetes API.
///
/// ```no_run
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// use aiops_collectors::kubernetes::{ClusterSource, KubernetesCollector};
/// let collector = KubernetesCollector::connect(ClusterSource::Url("http://127.0.0.1:8001".into())).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct KubernetesCollector {
    client: kube::Client,
    cache: Option<Arc<ClusterCache>>,
    page_size: u32,
    log_lines: i64,
    log_bytes: i64,
    max_log_containers: usize,
}

impl std::fmt::Debug for KubernetesCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubernetesCollector").field("page_size", &self.page_size).finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct ListPage<'a> {
    #[serde(default, borrow)]
    items: Vec<&'a RawValue>,
    #[serde(default)]
    metadata: ListMeta,
}

#[derive(Deserialize, Default)]
struct ListMeta {
    #[serde(rename = "continue", default)]
    continue_: Option<String>,
}

#[derive(Deserialize, Default)]
struct ItemHead {
    #[serde(default)]
    kind: Option<String>,
    #[serde(rename = "apiVersion", default)]
    api_version: Option<String>,
}

/// One LIST target: a kind (built-in or discovered) and the namespace it is listed in.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) api_version: String,
    pub(crate) kind: String,
    pub(crate) plural: String,
    namespaced: bool,
    selectable: bool,
    pub(crate) namespace: Option<String>,
    pub(crate) selector: Option<String>,
    pub(crate) metadata_only: bool,
}

impl Target {
    /// This kind's targets for `request` (one per namespace in scope).
    pub(crate) fn scoped(&self, request: &CollectRequest) -> Vec<Target> {
        scoped(
            request,
            &self.api_version,
            &self.kind,
            &self.plural,
            self.namespaced,
            self.selectable,
            self.metadata_only,
        )
    }

    fn path(&self) -> String {
        let base = if self.api_version == "v1" { "/api/v1".to_string() } else { format!("/apis/{}", self.api_version) };
        match &self.namespace {
            Some(ns) => format!("{base}/namespaces/{ns}/{}", self.plural),
            None => format!("{base}/{}", self.plural),
        }
    }
}

impl KubernetesCollector {
    /// A collector over an existing client.
    pub fn new(client: kube::Client) -> Self {
        KubernetesCollector {
            client,
            cache: None,
            page_size: DEFAULT_PAGE_SIZE,
            log_lines: DEFAULT_LOG_LINES,
            log_bytes: DEFAULT_LOG_BYTES,
            max_log_containers: DEFAULT_MAX_LOG_CONTAINERS,
        }
    }

    /// Connects to the cluster of `source`.
    pub async fn connect(source: ClusterSource) -> Result<Self, CollectorError> {
        Ok(Self::new(source.client().await?))
    }

    /// Reads the kinds `cache` holds from it (while their watches are within its staleness
    /// bound) instead of listing them: repeated incidents then cost no new LISTs (and no
    /// discovery; the cache discovered the kinds when it started).
    pub fn with_cache(mut self, cache: Arc<ClusterCache>) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Sets the LIST page size (`limit`).
    pub fn page_size(mut self, n: u32) -> Self {
        self.page_size = n.max(1);
        self
    }

    /// Bounds each container log read in lines and bytes, and how many containers are read.
    pub fn log_bounds(mut self, lines: i64, bytes: i64, containers: usize) -> Self {
        (self.log_lines, self.log_bytes, self.max_log_containers) = (lines, bytes, containers);
        self
    }

    /// Reads the objects in scope an analysis needs into an [`Inventory`] (no logs): every
    /// kind not in [`DEPENDENT_KINDS`] first, then, round by round, each dependent kind whose
    /// condition the objects read so far meet.
    pub async fn inventory(&self, request: &CollectRequest) -> Result<Inventory, CollectorError> {
        let targets = self.targets(request).await?;
        let mut inv = Inventory::default();
        let rounds = DEPENDENT_KINDS.iter().map(|d| d.round).max().unwrap_or(1);
        for round in 1..=rounds {
            let wanted: Vec<Target> = targets
                .iter()
                .filter(|t| match dependent(t) {
                    None => round == 1,
                    Some(d) if d.round != round => false,
                    Some(d) => {
                        let needed = (d.needed)(&inv);
                        if !needed {
                            tracing::debug!(kind = d.kind, needed_for = d.why, "not listed: nothing needs it");
                        }
                        needed
                    }
                })
                .cloned()
                .collect();
            push_lists(&mut inv, self.list_targets(&wanted).await?)?;
        }
        Ok(inv)
    }

    /// Every object in scope as the API served it (with `apiVersion` and `kind` set; Secrets
    /// as metadata only), in list order: what `aiops capture` writes into a bundle.
    pub async fn objects(&self, request: &CollectRequest) -> Result<Vec<String>, CollectorError> {
        Ok(self.lists(request).await?.into_iter().flat_map(|(_, items)| items).collect())
    }

    /// One paginated LIST per target: `(path, items)`.
    async fn lists(&self, request: &CollectRequest) -> Result<Vec<(String, Vec<String>)>, CollectorError> {
        let targets = self.targets(request).await?;
        self.list_targets(&targets).await
    }

    /// Every target of `request`: the cache's, else the built-in and discovered kinds.
    async fn targets(&self, request: &CollectRequest) -> Result<Vec<Target>, CollectorError> {
        match &self.cache {
            Some(cache) => Ok(cache.targets(request)),
            None => self.all_targets(request).await,
        }
    }

    /// Every LIST target of `request`: the built-in kinds and the discovered ones.
    pub(crate) async fn all_targets(&self, request: &CollectRequest) -> Result<Vec<Target>, CollectorError> {
        let (discovered, events_v1) = self.discovered_targets(request).await?;
        let mut targets = builtin_targets(request, KINDS);
        if events_v1 {
            // The same events, read through the newer API (series, reporting controller) when
            // the server offers it; never both, which would read every event twice.
            targets.retain(|t| !(t.kind == "Event" && t.api_version == "v1"));
            targets.extend(scoped(request, "events.k8s.io/v1", "Event", "events", true, false, false));
        }
        targets.extend(discovered);
        Ok(targets)
    }

    /// The objects of the built-in `kinds` only, in the namespaces of `namespaces` (all when
    /// empty), each kind read by one paginated LIST per namespace, no label selector.
    pub(crate) async fn inventory_of(
        &self,
        namespaces: &[String],
        kinds: &[KindSpec],
    ) -> Result<Inventory, CollectorError> {
        let request = CollectRequest { namespaces: namespaces.to_vec(), ..Default::default() };
        to_inventory(self.list_targets(&builtin_targets(&request, kinds)).await?)
    }

    async fn list_targets(&self, targets: &[Target]) -> Result<Vec<(String, Vec<String>)>, CollectorError> {
        let futures: Vec<_> = targets
            .iter()
            .map(|t| match self.cache.as_ref().and_then(|c| c.items(t)) {
                Some(cached) => futures::future::ready(cached).boxed(),
                None => self.list_all(t).boxed(),
            })
            .collect();
        let pages: Vec<Result<Vec<String>, CollectorError>> =
            stream::iter(futures).buffered(CONCURRENCY).collect().await;
        targets.iter().zip(pages).map(|(t, items)| Ok((t.path(), items?))).collect()
    }

    /// Every item of one target, across pages, each with its `apiVersion` and `kind` set.
    async fn list_all(&self, target: &Target) -> Result<Vec<String>, CollectorError> {
        let mut out = Vec::new();
        let mut continue_token: Option<String> = None;
        loop {
            let mut lp = ListParams::default().limit(page_size(target, self.page_size));
            if let Some(sel) = &target.selector {
                lp = lp.labels(sel);
            }
            if let Some(c) = &continue_token {
                lp = lp.continue_token(c);
            }
            let req = Request::new(target.path());
            let http = if target.metadata_only { req.list_metadata(&lp) } else { req.list(&lp) }
                .map_err(|e| CollectorError::kube(e.to_string()))?;
            let text = self.client.request_text(http).await.map_err(|e| list_error(target, e))?;
            let page: ListPage<'_> = aiops_core::object::parse_str(&text, &target.path())?;
            for item in page.items {
                out.push(with_type(item.get(), target)?);
            }
            match page.metadata.continue_.filter(|c| !c.is_empty()) {
                Some(c) => continue_token = Some(c),
                None => return Ok(out),
            }
        }
    }

    /// Kinds of API groups outside the built-in model (CRDs): one `/apis` read, then one
    /// resource list per such group.
    /// The LIST targets of the API groups outside [`KINDS`], and whether the server offers
    /// `events.k8s.io/v1`.
    async fn discovered_targets(&self, request: &CollectRequest) -> Result<(Vec<Target>, bool), CollectorError> {
        let list: serde_json::Value = self.get_json("/apis").await?;
        let mut versions = Vec::new();
        let groups = list["groups"].as_array();
        let events_v1 = groups.into_iter().flatten().any(|g| {
            g["name"] == "events.k8s.io"
                && g["versions"].as_array().into_iter().flatten().any(|v| v["groupVersion"] == "events.k8s.io/v1")
        });
        for g in groups.into_iter().flatten() {
            let name = g["name"].as_str().unwrap_or_default();
            if BUILTIN_GROUPS.contains(&name) || name.is_empty() {
                continue;
            }
            if let Some(v) =
                g["preferredVersion"]["groupVersion"].as_str().or(g["versions"][0]["groupVersion"].as_str())
            {
                versions.push(v.to_string());
            }
        }
        let futures: Vec<_> = versions.iter().map(|v| self.get_json_owned(format!("/apis/{v}")).boxed()).collect();
        let lists: Vec<Result<serde_json::Value, CollectorError>> =
            stream::iter(futures).buffered(CONCURRENCY).collect().await;
        let mut out = Vec::new();
        for (gv, list) in versions.iter().zip(lists) {
            for r in list?["resources"].as_array().into_iter().flatten() {
                let (Some(plural), Some(kind)) = (r["name"].as_str(), r["kind"].as_str()) else { continue };
                let lists_ok = r["verbs"].as_array().is_none_or(|v| v.iter().any(|x| x == "list"));
                if plural.contains('/') || !lists_ok {
                    continue;
                }
                let namespaced = r["namespaced"].as_bool().unwrap_or(true);
                out.extend(scoped(request, gv, kind, plural, namespaced, false, false));
            }
        }
        Ok((out, events_v1))
    }

    async fn get_json_owned(&self, path: String) -> Result<serde_json::Value, CollectorError> {
        self.get_json(&path).await
    }

    async fn get_json(&self, path: &str) -> Result<serde_json::Value, CollectorError> {
        // A plain GET of a discovery path (kube's `Request::get` insists on an object name).
        let req = http::Request::get(path).body(Vec::new()).map_err(|e| CollectorError::kube(e.to_string()))?;
        let text = self.client.request_text(req).await.map_err(|e| CollectorError::kube(format!("GET {path}: {e}")))?;
        aiops_core::object::parse_str(&text, path).map_err(CollectorError::Invalid)
    }

    /// The API server's clock: the `Date` header of a `GET /version` (`None` when it sends
    /// none). A live analysis measures recency from it, so a skewed local clock (or a
    /// simulated cluster serving a past incident) gives the same windows the server sees.
    pub async fn server_time(&self) -> Result<Option<jiff::Timestamp>, CollectorError> {
        let req = http::Request::get("/version")
            .body(kube::client::Body::empty())
            .map_err(|e| CollectorError::kube(e.to_string()))?;
        let resp = self.client.send(req).await.map_err(|e| CollectorError::kube(format!("GET /version: {e}")))?;
        if !resp.status().is_success() {
            return Err(CollectorError::kube(format!("GET /version: HTTP {}", resp.status())));
        }
        let date = resp.headers().get(http::header::DATE).and_then(|v| v.to_str().ok());
        Ok(date.and_then(|d| jiff::fmt::rfc2822::DateTimeParser::new().parse_timestamp(d).ok()))
    }

    /// The logs of the failing containers ([`log_reads`]: current, previous, or the one that
    /// holds the last crash), bounded.
    pub async fn failing_logs(&self, pods: &[Pod]) -> Vec<LogRecord> {
        self.failing_logs_scoped(pods, false).await
    }

    /// [`KubernetesCollector::failing_logs`]; with `one_per_owner` (a cluster scan) only the
    /// first failing pod of each controller (its pods share one template, so their logs say
    /// the same) is read, for at most [`DEFAULT_SCAN_LOG_OWNERS`] controllers, which keeps a
    /// scan's requests flat in the size of the cluster.
    pub async fn failing_logs_scoped(&self, pods: &[Pod], one_per_owner: bool) -> Vec<LogRecord> {
        let mut owners_seen = std::collections::HashSet::new();
        let wanted: Vec<(String, String, String, bool)> = pods
            .iter()
            .map(|p| (p, log_reads(p)))
            .filter(|(p, reads)| {
                if !one_per_owner || reads.is_empty() {
                    return true;
                }
                let owner = p.metadata.owner_references.iter().flatten().find(|o| o.controller == Some(true));
                let key = owner.map_or_else(|| format!("pod/{:?}", p.metadata.name), |o| o.uid.clone());
                owners_seen.len() < DEFAULT_SCAN_LOG_OWNERS && owners_seen.insert(key)
            })
            .flat_map(|(_, reads)| reads)
            .take(self.max_log_containers * 2)
            .collect();
        let reads = wanted.into_iter().map(|(ns, pod, container, previous)| async move {
            let lp = LogParams {
                container: Some(container.clone()),
                previous,
                tail_lines: Some(self.log_lines),
                limit_bytes: Some(self.log_bytes),
                ..Default::default()
            };
            let req = Request::new(format!("/api/v1/namespaces/{ns}/pods")).logs(&pod, &lp).ok()?;
            match self.client.request_text(req).await {
                Ok(text) if !text.is_empty() => Some(LogRecord { namespace: ns, pod, container, previous, text }),
                Ok(_) => None,
                Err(e) => {
                    tracing::debug!(%ns, %pod, %container, previous, error = %e, "no log");
                    None
                }
            }
        });
        stream::iter(reads).buffered(CONCURRENCY).filter_map(|r| async move { r }).collect().await
    }
}

fn list_error(target: &Target, e: kube::Error) -> CollectorError {
    CollectorError::kube(format!("LIST {}: {e}", target.path()))
}

/// Sets `apiVersion` and `kind` on a list item (the API server leaves them out of items).
pub(crate) fn with_type(item: &str, target: &Target) -> Result<String, CollectorError> {
    let head: ItemHead = aiops_core::object::parse_str(item, &target.path())?;
    if head.kind.is_some() && head.api_version.is_some() && !target.metadata_only {
        return Ok(item.to_string());
    }
    if head.kind.is_none() && head.api_version.is_none() && !target.metadata_only {
        // What the API server sends: an item without either. Both are written in front of the
        // item's own fields, without parsing it into a tree and printing it again.
        if let Some(rest) = item.trim_start().strip_prefix('{') {
            let quoted = |s: &str| serde_json::to_string(s).map_err(|e| CollectorError::Source(e.to_string()));
            let sep = if rest.trim_start().starts_with('}') { "" } else { "," };
            let (api_version, kind) = (quoted(&target.api_version)?, quoted(&target.kind)?);
            return Ok(format!("{{\"apiVersion\":{api_version},\"kind\":{kind}{sep}{rest}"));
        }
    }
    let mut value: serde_json::Value = aiops_core::object::parse_str(item, &target.path())?;
    if let Some(obj) = value.as_object_mut() {
        obj.insert("apiVersion".into(), target.api_version.clone().into());
        obj.insert("kind".into(), target.kind.clone().into());
        if target.metadata_only {
            // Metadata only: nothing but the metadata (and a Secret's type, from no data) is kept.
            obj.retain(|k, _| k == "apiVersion" || k == "kind" || k == "metadata");
        }
    }
    Ok(value.to_string())
}

fn scoped(
    request: &CollectRequest,
    api_version: &str,
    kind: &str,
    plural: &str,
    namespaced: bool,
    selectable: bool,
    metadata_only: bool,
) -> Vec<Target> {
    let selector = request.selector.clone().filter(|_| selectable);
    let make = |namespace: Option<String>| Target {
        api_version: api_version.into(),
        kind: kind.into(),
        plural: plural.into(),
        namespaced,
        selectable,
        namespace,
        selector: selector.clone(),
        metadata_only,
    };
    if namespaced && !request.namespaces.is_empty() {
        request.namespaces.iter().map(|ns| make(Some(ns.clone()))).collect()
    } else {
        vec![make(None)]
    }
}

/// Parses listed items (`(path, items)`) into an [`Inventory`].
fn to_inventory(lists: Vec<(String, Vec<String>)>) -> Result<Inventory, CollectorError> {
    let mut inv = Inventory::default();
    push_lists(&mut inv, lists)?;
    Ok(inv)
}

/// Parses listed items (`(path, items)`) into `inv`.
fn push_lists(inv: &mut Inventory, lists: Vec<(String, Vec<String>)>) -> Result<(), CollectorError> {
    for (path, items) in lists {
        for (i, json) in items.iter().enumerate() {
            inv.push_json(json, &format!("{path}[{i}]")).map_err(CollectorError::Invalid)?;
        }
    }
    Ok(())
}

/// The LIST page size (`limit`) of `target` for a collector whose page size is `base`.
pub(crate) fn page_size(target: &Target, base: u32) -> u32 {
    if target.kind == "Event" { base.saturating_mul(EVENT_PAGE_FACTOR) } else { base }
}

fn builtin_targets(request: &CollectRequest, kinds: &[KindSpec]) -> Vec<Target> {
    kinds
        .iter()
        .flat_map(|s| scoped(request, s.api_version, s.kind, s.plural, s.namespaced, s.selectable, s.kind == "Secret"))
        .collect()
}

/// `(namespace, pod, container, restarted)` for every container that is failing: waiting
/// with a reason other than `ContainerCreating`, terminated with a non-zero code, restarted,
/// or not ready in a running pod.
pub fn failing_containers(pod: &Pod) -> Vec<(String, String, String, bool)> {
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    failing_statuses(pod).map(|cs| (ns.clone(), name.clone(), cs.name.clone(), restarted(cs))).collect()
}

/// `(namespace, pod, container, previous)` for every log read that the failing containers of
/// `pod` need, as the kubelet serves them: a running or terminated container has its own log
/// (`previous=false`) and, once restarted, the log of the instance before it
/// (`previous=true`). A waiting container (`CrashLoopBackOff`) runs no instance: its current
/// log *is* the last terminated instance's (the kubelet reads `lastState.terminated` for both),
/// so that one read (`previous=true`) is made; one that never ran (`ImagePullBackOff`,
/// `CreateContainerConfigError`) has no log, and nothing is read.
pub fn log_reads(pod: &Pod) -> Vec<(String, String, String, bool)> {
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let mut out = Vec::new();
    for cs in failing_statuses(pod) {
        let waiting =
            cs.state.as_ref().is_some_and(|s| s.waiting.is_some() && s.running.is_none() && s.terminated.is_none());
        let last_terminated = cs.last_state.as_ref().and_then(|l| l.terminated.as_ref()).is_some();
        let read = |previous: bool| (ns.clone(), name.clone(), cs.name.clone(), previous);
        if !waiting {
            out.push(read(false));
        }
        if (waiting && last_terminated) || (!waiting && restarted(cs)) {
            out.push(read(true));
        }
    }
    out
}

fn restarted(cs: &k8s_openapi::api::core::v1::ContainerStatus) -> bool {
    cs.restart_count > 0 || cs.last_state.as_ref().and_then(|l| l.terminated.as_ref()).is_some()
}

/// The statuses of the containers of `pod` that are failing (see [`failing_containers`]).
fn failing_statuses(pod: &Pod) -> impl Iterator<Item = &k8s_openapi::api::core::v1::ContainerStatus> {
    let status = pod.status.as_ref();
    let statuses = status
        .into_iter()
        .flat_map(|s| s.init_container_statuses.iter().flatten().chain(s.container_statuses.iter().flatten()));
    statuses.filter(|cs| {
        let state = cs.state.as_ref();
        let waiting = state
            .and_then(|s| s.waiting.as_ref())
            .is_some_and(|w| w.reason.as_deref().is_some_and(|r| r != "ContainerCreating" && r != "PodInitializing"));
        let terminated_bad = state.and_then(|s| s.terminated.as_ref()).is_some_and(|t| t.exit_code != 0);
        let running_unready = state.and_then(|s| s.running.as_ref()).is_some() && !cs.ready;
        waiting || terminated_bad || restarted(cs) || running_unready
    })
}

#[async_trait]
impl Collector for KubernetesCollector {
    fn name(&self) -> &str {
        "kubernetes"
    }

    async fn collect(&self, request: &CollectRequest) -> Result<Observations, BoxError> {
        let inventory = self.inventory(request).await?;
        let logs = self.failing_logs_scoped(&inventory.pods, request.alert.is_none()).await;
        Ok(Observations { inventory: Arc::new(inventory), logs, ..Default::default() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(statuses: serde_json::Value) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "shop"},
            "status": {"containerStatuses": statuses},
        }))
        .expect("pod")
    }

    fn reads(p: &Pod) -> Vec<(String, bool)> {
        log_reads(p).into_iter().map(|(_, _, c, previous)| (c, previous)).collect()
    }

    #[test]
    fn a_crash_looping_container_is_read_once_and_one_that_never_ran_not_at_all() {
        let p = pod(serde_json::json!([
            {"name": "loop", "ready": false, "restartCount": 7, "image": "", "imageID": "",
             "state": {"waiting": {"reason": "CrashLoopBackOff"}},
             "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}},
            {"name": "pull", "ready": false, "restartCount": 0, "image": "", "imageID": "",
             "state": {"waiting": {"reason": "ImagePullBackOff"}}},
            {"name": "restarted", "ready": true, "restartCount": 2, "image": "", "imageID": "",
             "state": {"running": {}}, "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}},
            {"name": "unready", "ready": false, "restartCount": 0, "image": "", "imageID": "", "state": {"running": {}}},
            {"name": "failed", "ready": false, "restartCount": 0, "image": "", "imageID": "",
             "state": {"terminated": {"exitCode": 2}}},
            {"name": "fine", "ready": true, "restartCount": 0, "image": "", "imageID": "", "state": {"running": {}}},
        ]));
        let want = [("loop", true), ("restarted", false), ("restarted", true), ("unready", false), ("failed", false)];
        assert_eq!(reads(&p), want.map(|(c, prev)| (c.to_string(), prev)));
        let failing: Vec<String> = failing_containers(&p).into_iter().map(|(_, _, c, _)| c).collect();
        assert_eq!(failing, ["loop", "pull", "restarted", "unready", "failed"], "what counts as failing is unchanged");
    }

    fn inventory(objects: serde_json::Value) -> Inventory {
        let mut inv = Inventory::default();
        for (i, o) in objects.as_array().expect("array").iter().enumerate() {
            inv.push_json(&o.to_string(), &format!("[{i}]")).expect("object");
        }
        inv
    }

    fn needed(inv: &Inventory) -> Vec<&'static str> {
        DEPENDENT_KINDS.iter().filter(|d| (d.needed)(inv)).map(|d| d.kind).collect()
    }

    #[test]
    fn dependent_kinds_are_needed_only_by_what_reads_them() {
        assert_eq!(needed(&Inventory::default()), Vec::<&str>::new());
        let svc = |name: &str| {
            serde_json::json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "shop"},
                "spec": {"selector": {"app": name}}})
        };
        let ep = serde_json::json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "a", "namespace": "shop"}});
        let external = serde_json::json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x", "namespace": "shop"},
            "spec": {"type": "ExternalName", "externalName": "db.example.com", "selector": {"app": "x"}}});
        let bare = serde_json::json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kubernetes", "namespace": "default"},
            "spec": {}});
        assert_eq!(needed(&inventory(serde_json::json!([external, bare]))), Vec::<&str>::new());
        assert_eq!(needed(&inventory(serde_json::json!([svc("a")]))), ["Endpoints", "EndpointSlice"]);
        assert_eq!(needed(&inventory(serde_json::json!([svc("a"), ep]))), ["Endpoints"], "Endpoints cover the Service");
        assert_eq!(needed(&inventory(serde_json::json!([svc("a"), ep, svc("b")]))), ["Endpoints", "EndpointSlice"]);

        let pvc = serde_json::json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "d", "namespace": "shop"}});
        assert_eq!(needed(&inventory(serde_json::json!([pvc]))), ["StorageClass"]);
        let sts = |templates: serde_json::Value| {
            serde_json::json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": "shop"},
                "spec": {"selector": {}, "serviceName": "", "template": {}, "volumeClaimTemplates": templates}})
        };
        assert_eq!(needed(&inventory(serde_json::json!([sts(serde_json::json!([]))]))), ["ControllerRevision"]);
        assert_eq!(
            needed(&inventory(serde_json::json!([sts(serde_json::json!([{"metadata": {"name": "data"}}]))]))),
            ["StorageClass", "ControllerRevision"]
        );
        let ds = serde_json::json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent", "namespace": "kube-system"},
            "spec": {"selector": {}, "template": {}}});
        assert_eq!(needed(&inventory(serde_json::json!([ds]))), ["ControllerRevision"]);
        let ing = serde_json::json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web", "namespace": "shop"}});
        assert_eq!(needed(&inventory(serde_json::json!([ing]))), ["IngressClass"]);

        let blocked = ["ResourceQuota", "LimitRange", "ServiceAccount"];
        let event = |reason: &str| {
            serde_json::json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e", "namespace": "shop"},
                "involvedObject": {"kind": "ReplicaSet", "name": "web-1"}, "reason": reason})
        };
        assert_eq!(needed(&inventory(serde_json::json!([event("BackOff")]))), Vec::<&str>::new());
        assert_eq!(needed(&inventory(serde_json::json!([event("FailedCreate")]))), blocked);
        let rs = serde_json::json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web-1", "namespace": "shop"},
            "spec": {"selector": {}}, "status": {"replicas": 0, "conditions": [{"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate"}]}});
        assert_eq!(needed(&inventory(serde_json::json!([rs]))), blocked);
    }

    #[test]
    fn list_items_get_their_kind_and_api_version_and_keep_everything_else() {
        let target = |kind: &str, metadata_only: bool| Target {
            api_version: "apps/v1".into(),
            kind: kind.into(),
            plural: "deployments".into(),
            namespaced: true,
            selectable: true,
            namespace: None,
            selector: None,
            metadata_only,
        };
        let value = |s: &str| serde_json::from_str::<serde_json::Value>(s).expect("json");
        let d = target("Deployment", false);
        let item = r#" {"metadata": {"name": "web", "labels": {"a": "\"b\""}}, "spec": {"replicas": 2}}"#;
        let want = serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"a": "\"b\""}}, "spec": {"replicas": 2}});
        assert_eq!(value(&with_type(item, &d).expect("typed")), want);
        assert_eq!(
            value(&with_type("{ }", &d).expect("typed")),
            serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment"})
        );
        let typed = r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"}}"#;
        assert_eq!(with_type(typed, &d).expect("typed"), typed, "a typed item is kept as it is");
        let half = r#"{"kind":"Deployment","metadata":{"name":"web"}}"#;
        assert_eq!(value(&with_type(half, &d).expect("typed"))["apiVersion"], "apps/v1", "no key twice");
        let secret = Target { api_version: "v1".into(), kind: "Secret".into(), ..target("Secret", true) };
        let meta =
            with_type(r#"{"metadata":{"name":"s"},"type":"Opaque","data":{"k":"dg=="}}"#, &secret).expect("meta");
        assert_eq!(value(&meta), serde_json::json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}));
    }

    #[test]
    fn the_dependent_table_names_listed_kinds_and_later_rounds_only() {
        for d in DEPENDENT_KINDS {
            assert!(KINDS.iter().any(|k| k.kind == d.kind && k.api_version == d.api_version), "{} is listed", d.kind);
            assert!((2..=3).contains(&d.round), "{}: round {}", d.kind, d.round);
        }
        // What a condition reads is listed in an earlier round: the one condition that reads a
        // dependent kind is EndpointSlice's (it reads Endpoints).
        let round = |kind: &str| DEPENDENT_KINDS.iter().find(|d| d.kind == kind).map(|d| d.round);
        assert!(round("Endpoints") < round("EndpointSlice"), "Endpoints are listed before EndpointSlices are decided");
        let event = Target {
            api_version: "events.k8s.io/v1".into(),
            kind: "Event".into(),
            plural: "events".into(),
            namespaced: true,
            selectable: false,
            namespace: None,
            selector: None,
            metadata_only: false,
        };
        assert_eq!(page_size(&event, DEFAULT_PAGE_SIZE), 50_000);
        let pods = Target { kind: "Pod".into(), api_version: "v1".into(), plural: "pods".into(), ..event };
        assert_eq!(page_size(&pods, DEFAULT_PAGE_SIZE), DEFAULT_PAGE_SIZE);
        assert_eq!(page_size(&pods, 1), 1);
    }
}
