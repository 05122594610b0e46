//! `aiops-sim` is an embedded simulated cluster: it serves one incident bundle over the real
//! Kubernetes API, Prometheus HTTP API and Loki HTTP API wire formats on one loopback address,
//! so the live collectors, `kubectl` and remediation can run against it without a cluster.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let bundle = aiops_core::parse_bundle(br#"{"objects":[
//!     {"apiVersion":"v1","kind":"Pod","metadata":{"name":"a","namespace":"shop"}}]}"#)?;
//! let sim = aiops_sim::Simulator::from_bundle(&bundle).spawn().await?;
//! assert!(sim.url().starts_with("http://127.0.0.1:"));
//! # Ok::<(), aiops_sim::SimError>(())
//! # }).unwrap();
//! ```
//!
//! # What is served
//! - Kubernetes: `/version`, `/api`, `/apis`, `/apis/{group}`, the resource lists of `/api/v1`
//!   and `/apis/{group}/{version}` (every built-in kind aiops models, plus every other kind in
//!   the bundle); LIST (all namespaces and per namespace) and GET with `labelSelector`,
//!   `fieldSelector` (any dotted field path, `=`, `==`, `!=`), `limit`/`continue` (pages follow
//!   the namespace/name order; a later page reads the current state); `{Kind}List`,
//!   `Table` and `PartialObjectMetadata(List)` responses chosen from `Accept`; `Status` objects
//!   for errors; the pod `log` subresource; PATCH (JSON merge, strategic merge, JSON patch),
//!   PUT, DELETE, and the `scale` subresource, all honouring `dryRun=All`. Secrets are served
//!   as metadata and type only: their `data` is dropped when the bundle is loaded and on every
//!   write. `/openapi/*` answers 404, which `kubectl` accepts. WATCH (`?watch=true`) of any
//!   collection streams `WatchEvent`s from a resourceVersion ([`k8s::watch`]), so kube-runtime
//!   reflectors and `kubectl get -w -o json` follow the simulated changes.
//!   Core `Event`s are also served as `events.k8s.io/v1` Events, as a real cluster does.
//!   Namespaces that objects use but the bundle lacks are served as `Active` Namespaces.
//! - Prometheus: `/api/v1/query` and `/api/v1/query_range` (GET, or POST form), see
//!   [`prometheus`] for how a query is matched to the bundle's recorded results.
//! - Loki: `/loki/api/v1/query_range` and `/loki/api/v1/query`, see [`loki`].
//! - `/sim/stats`: requests per endpoint ([`SimStats`]).
//!
//! # Dynamics
//! See [`dynamics`]: restarts, pod deletes, rollbacks, scaling and cordons take effect at once
//! and are visible to the next read. Every change bumps the cluster-wide resourceVersion.
//!
//! # Clock
//! The simulated "now" (ages, new objects' timestamps) is the bundle's `capturedAt` plus the
//! time since the simulator was created (the wall clock when the bundle has no `capturedAt`).
//! Every response's `Date` header carries it, as a real server's carries its clock.

#![warn(missing_docs)]

pub mod dynamics;
pub mod error;
pub mod k8s;
pub mod loki;
pub mod prometheus;
pub mod promql;
pub mod stats;
pub mod store;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use aiops_core::IncidentBundle;
use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{any, get};
use serde_json::Value;
use tokio::sync::oneshot;

pub use error::SimError;
use stats::Recorder;
pub use stats::{RecordedRequest, SimStats};
use store::Store;

/// Shared server state.
#[derive(Clone, Debug)]
pub struct App {
    store: Arc<RwLock<Store>>,
    recorder: Arc<Recorder>,
    alive: tokio::sync::watch::Receiver<()>,
}

impl App {
    /// Read access to the store.
    pub fn read(&self) -> RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Resolves when the simulator stops (its handle was dropped): open watches end then.
    pub async fn stopped(&self) {
        let mut alive = self.alive.clone();
        while alive.changed().await.is_ok() {}
    }

    /// Write access to the store.
    pub fn write(&self) -> RwLockWriteGuard<'_, Store> {
        self.store.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// A simulated cluster, built from a bundle, not yet serving.
#[derive(Debug)]
pub struct Simulator {
    store: Result<Store, SimError>,
}

impl Simulator {
    /// A simulator serving `bundle` (errors in the bundle's objects surface at [`Simulator::spawn`]).
    pub fn from_bundle(bundle: &IncidentBundle) -> Self {
        Simulator { store: Store::from_bundle(bundle) }
    }

    /// A simulator serving the bundle file at `path` (JSON or YAML).
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self, SimError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| SimError::Io { path: path.display().to_string(), source })?;
        Ok(Simulator::from_bundle(&aiops_core::parse_bundle(&bytes)?))
    }

    /// Serves on `127.0.0.1:0` (an OS-assigned port) in a background task.
    pub async fn spawn(self) -> Result<SimHandle, SimError> {
        self.listen(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Serves on `addr` in a background task.
    pub async fn listen(self, addr: SocketAddr) -> Result<SimHandle, SimError> {
        let (alive_tx, alive) = tokio::sync::watch::channel(());
        let app = App { store: Arc::new(RwLock::new(self.store?)), recorder: Arc::new(Recorder::default()), alive };
        let serve_err = |source| SimError::Serve { addr: addr.to_string(), source };
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(serve_err)?;
        let local = listener.local_addr().map_err(serve_err)?;
        let (stop, stopped) = oneshot::channel::<()>();
        let router = router(app.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
        });
        tracing::info!(%local, "simulator serving");
        Ok(SimHandle { addr: local, app, _stop: stop, _alive: alive_tx, task })
    }
}

fn router(app: App) -> Router {
    Router::new()
        .route("/sim/stats", get(stats_json))
        .route("/api/v1/query", any(prometheus::query))
        .route("/api/v1/query_range", any(prometheus::query_range))
        .route("/api/v1/status/buildinfo", get(prometheus::buildinfo))
        .route("/loki/api/v1/query_range", get(loki::query_range))
        .route("/loki/api/v1/query", get(loki::query))
        .fallback(k8s::handle)
        .layer(middleware::from_fn_with_state(app.clone(), record))
        .with_state(app)
}

async fn record(State(app): State<App>, req: Request, next: Next) -> Response {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let accept = req.headers().get(axum::http::header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let mut resp = next.run(req).await;
    // The `Date` of every answer is the simulated now (a real API server's is its clock), so a
    // client can analyse "as of" the served incident.
    let now = app.read().now();
    if let Ok(date) = axum::http::HeaderValue::from_str(&http_date(now)) {
        resp.headers_mut().insert(axum::http::header::DATE, date);
    }
    if !path.starts_with("/sim/") {
        app.recorder.record(&method, &path, &query, &accept, resp.status().as_u16());
    }
    tracing::debug!(%method, %path, %query, status = resp.status().as_u16(), "sim request");
    resp
}

/// A timestamp as an HTTP `Date` (RFC 9110: `Sun, 01 Mar 2026 10:45:00 GMT`).
pub fn http_date(t: jiff::Timestamp) -> String {
    jiff::fmt::rfc2822::DateTimePrinter::new().timestamp_to_rfc9110_string(&t).unwrap_or_default()
}

async fn stats_json(State(app): State<App>) -> axum::Json<SimStats> {
    axum::Json(app.recorder.stats())
}

/// A running simulator; it stops when the handle is dropped.
#[derive(Debug)]
pub struct SimHandle {
    addr: SocketAddr,
    app: App,
    _stop: oneshot::Sender<()>,
    _alive: tokio::sync::watch::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl SimHandle {
    /// Base URL of every API (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request answered so far (oldest first, at most [`stats::MAX_RECORDED`]).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.app.recorder.requests()
    }

    /// Requests per endpoint (what `GET /sim/stats` returns).
    pub fn stats(&self) -> SimStats {
        self.app.recorder.stats()
    }

    /// Clears the request log and counters.
    pub fn reset_stats(&self) {
        self.app.recorder.reset()
    }

    /// The current state of one object as the API would serve it (`apiVersion`, `kind`,
    /// namespace (`""` for cluster-scoped), name).
    pub fn object(&self, api_version: &str, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        let store = self.app.read();
        let t = store.type_of(api_version, kind)?;
        let ns = if store.types[t].namespaced { namespace } else { "" };
        store.get(t, ns, name).cloned().map(k8s::read::served)
    }

    /// Every object of one kind, in namespace/name order.
    pub fn objects(&self, api_version: &str, kind: &str) -> Vec<Value> {
        let store = self.app.read();
        let Some(t) = store.type_of(api_version, kind) else { return Vec::new() };
        store.objects[t].values().cloned().map(k8s::read::served).collect()
    }

    /// The current resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.app.read().rv
    }

    /// Waits until the server stops (it runs until the process ends or the handle is dropped).
    pub async fn join(self) -> Result<(), SimError> {
        let addr = self.addr.to_string();
        let SimHandle { task, _stop, _alive, .. } = self;
        match task.await {
            Ok(r) => r.map_err(|source| SimError::Serve { addr, source }),
            Err(e) => Err(SimError::Serve { addr, source: std::io::Error::other(e.to_string()) }),
        }
    }
}

/// The `aiops sim --bundle FILE --listen ADDR` command: serves until the process is stopped,
/// printing the URL and a kubeconfig hint on stderr.
pub async fn run_cli(bundle: &Path, listen: SocketAddr) -> Result<(), SimError> {
    let handle = Simulator::from_path(bundle)?.listen(listen).await?;
    eprintln!("aiops sim: serving {} (Kubernetes, Prometheus and Loki APIs)", bundle.display());
    eprintln!("  kubectl --server {} get pods -A", handle.url());
    eprintln!("  Prometheus: {0}   Loki: {0}/loki   stats: {0}/sim/stats", handle.url());
    handle.join().await
}
