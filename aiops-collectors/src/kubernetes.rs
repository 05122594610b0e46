//! The Kubernetes API collector: one paginated LIST per kind of the graph model (never a GET
//! per object), Secrets as `PartialObjectMetadata` only, events, and bounded pod logs for the
//! containers that are failing.

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

    /// Reads every object in scope into an [`Inventory`] (no logs).
    pub async fn inventory(&self, request: &CollectRequest) -> Result<Inventory, CollectorError> {
        to_inventory(self.lists(request).await?)
    }

    /// Every object in scope as the API served it (with `apiVersion` and `kind` set; Secrets
    /// as metadata only), in list order: what `aiops capture` writes into a bundle.
    pub async fn objects(&self, request: &CollectRequest) -> Result<Vec<String>, CollectorError> {
        Ok(self.lists(request).await?.into_iter().flat_map(|(_, items)| items).collect())
    }

    /// One paginated LIST per target: `(path, items)`.
    async fn lists(&self, request: &CollectRequest) -> Result<Vec<(String, Vec<String>)>, CollectorError> {
        let targets = match &self.cache {
            Some(cache) => cache.targets(request),
            None => self.all_targets(request).await?,
        };
        self.list_targets(&targets).await
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
            let mut lp = ListParams::default().limit(self.page_size);
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

    /// Current and previous logs of the failing containers, bounded.
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
            .map(|p| (p, failing_containers(p)))
            .filter(|(p, failing)| {
                if !one_per_owner || failing.is_empty() {
                    return true;
                }
                let owner = p.metadata.owner_references.iter().flatten().find(|o| o.controller == Some(true));
                let key = owner.map_or_else(|| format!("pod/{:?}", p.metadata.name), |o| o.uid.clone());
                owners_seen.len() < DEFAULT_SCAN_LOG_OWNERS && owners_seen.insert(key)
            })
            .flat_map(|(_, failing)| failing)
            .flat_map(|(ns, pod, c, restarted)| {
                let current = (ns.clone(), pod.clone(), c.clone(), false);
                let previous = restarted.then_some((ns, pod, c, true));
                std::iter::once(current).chain(previous)
            })
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
    for (path, items) in lists {
        for (i, json) in items.iter().enumerate() {
            inv.push_json(json, &format!("{path}[{i}]")).map_err(CollectorError::Invalid)?;
        }
    }
    Ok(inv)
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
    let Some(status) = &pod.status else { return Vec::new() };
    let statuses = status.init_container_statuses.iter().flatten().chain(status.container_statuses.iter().flatten());
    statuses
        .filter_map(|cs| {
            let state = cs.state.as_ref();
            let waiting = state.and_then(|s| s.waiting.as_ref()).is_some_and(|w| {
                w.reason.as_deref().is_some_and(|r| r != "ContainerCreating" && r != "PodInitializing")
            });
            let terminated_bad = state.and_then(|s| s.terminated.as_ref()).is_some_and(|t| t.exit_code != 0);
            let restarted =
                cs.restart_count > 0 || cs.last_state.as_ref().and_then(|l| l.terminated.as_ref()).is_some();
            let running_unready = state.and_then(|s| s.running.as_ref()).is_some() && !cs.ready;
            (waiting || terminated_bad || restarted || running_unready)
                .then(|| (ns.clone(), name.clone(), cs.name.clone(), restarted))
        })
        .collect()
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
