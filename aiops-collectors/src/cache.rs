//! A watch-based cache of the cluster for a long-running process (the server): one
//! kube-runtime reflector per kind of the graph model (and per discovered CRD kind), each fed by
//! a watcher (one paginated LIST, then a WATCH that follows every change), so repeated incidents
//! read the cluster from memory and cost no new LISTs.
//!
//! Staleness is bounded explicitly: a kind whose watch has failed (connection lost, API error)
//! and not delivered an event for longer than [`ClusterCache::max_staleness`] is not served from
//! the cache; the collectors LIST that kind afresh instead (the reflector keeps retrying and
//! serves again once its watch delivers). A kind whose watch is healthy is as fresh as the
//! watch (the API server pushes each change as it commits). Secrets are watched as
//! `PartialObjectMetadata` only, so their data never reaches the process.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aiops_core::selector::LabelSelector;
use aiops_core::traits::CollectRequest;
use futures::{FutureExt, StreamExt};
use kube::api::{Api, ApiResource, DynamicObject};
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use serde::Serialize;

use crate::CollectorError;
use crate::kubernetes::{DEFAULT_PAGE_SIZE, KubernetesCollector, Target, page_size};

/// The default staleness bound.
pub const DEFAULT_MAX_STALENESS: Duration = Duration::from_secs(30);

/// How a kind's watch is doing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Health {
    /// When the watch last failed without delivering an event since (`None`: healthy).
    pub broken_since: Option<Instant>,
}

impl Health {
    /// Whether the cached kind may be served at `now` under `max_staleness`.
    pub fn fresh(&self, now: Instant, max_staleness: Duration) -> bool {
        self.broken_since.is_none_or(|t| now.saturating_duration_since(t) <= max_staleness)
    }

    fn observe<T, E>(&mut self, event: &Result<T, E>) {
        match event {
            Ok(_) => self.broken_since = None,
            Err(_) => {
                self.broken_since.get_or_insert_with(Instant::now);
            }
        }
    }
}

enum Reader {
    Full(Store<DynamicObject>),
    Meta(Store<PartialObjectMeta<DynamicObject>>),
}

struct CachedKind {
    target: Target,
    reader: Reader,
    health: Arc<Mutex<Health>>,
}

/// The watch cache: start it once, hand it to every collector with
/// [`KubernetesCollector::with_cache`](crate::KubernetesCollector::with_cache).
///
/// ```no_run
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// use aiops_collectors::cache::ClusterCache;
/// use aiops_collectors::kubernetes::{ClusterSource, KubernetesCollector};
/// let client = ClusterSource::Infer.client().await?;
/// let cache = ClusterCache::start(client.clone(), std::time::Duration::from_secs(60)).await?;
/// let collector = KubernetesCollector::new(client).with_cache(cache);
/// # Ok(()) }
/// ```
pub struct ClusterCache {
    kinds: Vec<CachedKind>,
    max_staleness: Duration,
    tasks: Vec<tokio::task::AbortHandle>,
}

impl std::fmt::Debug for ClusterCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterCache")
            .field("kinds", &self.kinds.len())
            .field("max_staleness", &self.max_staleness)
            .finish_non_exhaustive()
    }
}

impl Drop for ClusterCache {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Runs a reflector's stream in the background, recording its health.
fn drive<T: Send + 'static>(
    stream: impl futures::Stream<Item = Result<T, watcher::Error>> + Send + 'static,
    health: Arc<Mutex<Health>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(stream.for_each(move |e| {
        if let Err(err) = &e {
            tracing::debug!(error = %err, "watch failed");
        }
        health.lock().unwrap_or_else(|p| p.into_inner()).observe(&e);
        std::future::ready(())
    }))
}

fn api_resource(t: &Target) -> ApiResource {
    let (group, version) = t.api_version.split_once('/').unwrap_or(("", &t.api_version));
    ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: t.api_version.clone(),
        kind: t.kind.clone(),
        plural: t.plural.clone(),
    }
}

impl ClusterCache {
    /// Discovers the kinds, starts one reflector per kind (cluster-wide) and waits up to
    /// `sync_timeout` for every one to finish its initial LIST.
    pub async fn start(client: kube::Client, sync_timeout: Duration) -> Result<Arc<Self>, CollectorError> {
        let targets = KubernetesCollector::new(client.clone()).all_targets(&CollectRequest::default()).await?;
        let mut cache = ClusterCache { kinds: Vec::new(), max_staleness: DEFAULT_MAX_STALENESS, tasks: Vec::new() };
        for target in targets {
            let ar = api_resource(&target);
            let config = watcher::Config::default().page_size(page_size(&target, DEFAULT_PAGE_SIZE));
            let health = Arc::new(Mutex::new(Health::default()));
            let (reader, task) = if target.metadata_only {
                let api: Api<PartialObjectMeta<DynamicObject>> = Api::all_with(client.clone(), &ar);
                let writer = reflector::store::Writer::new(ar.clone());
                let reader = writer.as_reader();
                let stream = reflector::reflector(writer, watcher::watcher(api, config.clone()).default_backoff());
                (Reader::Meta(reader), drive(stream, Arc::clone(&health)))
            } else {
                let api: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
                let writer = reflector::store::Writer::new(ar.clone());
                let reader = writer.as_reader();
                let stream = reflector::reflector(writer, watcher::watcher(api, config.clone()).default_backoff());
                (Reader::Full(reader), drive(stream, Arc::clone(&health)))
            };
            cache.tasks.push(task.abort_handle());
            cache.kinds.push(CachedKind { target, reader, health });
        }
        let ready = futures::future::join_all(cache.kinds.iter().map(|k| match &k.reader {
            Reader::Full(s) => s.wait_until_ready().boxed(),
            Reader::Meta(s) => s.wait_until_ready().boxed(),
        }));
        match tokio::time::timeout(sync_timeout, ready).await {
            Ok(_) => Ok(Arc::new(cache)),
            Err(_) => Err(CollectorError::Source(format!("watch cache not synced after {sync_timeout:?}"))),
        }
    }

    /// Sets the staleness bound.
    pub fn with_max_staleness(self: Arc<Self>, max_staleness: Duration) -> Arc<Self> {
        match Arc::try_unwrap(self) {
            Ok(mut c) => {
                c.max_staleness = max_staleness;
                Arc::new(c)
            }
            Err(shared) => shared,
        }
    }

    /// The staleness bound.
    pub fn max_staleness(&self) -> Duration {
        self.max_staleness
    }

    /// The watch health of every cached kind (`(apiVersion, kind, health)`).
    pub fn health(&self) -> Vec<(String, String, Health)> {
        self.kinds
            .iter()
            .map(|k| {
                let h = *k.health.lock().unwrap_or_else(|p| p.into_inner());
                (k.target.api_version.clone(), k.target.kind.clone(), h)
            })
            .collect()
    }

    /// The kinds discovered when the cache started (built-in and CRDs), scoped to `request`.
    pub(crate) fn targets(&self, request: &CollectRequest) -> Vec<Target> {
        self.kinds.iter().flat_map(|k| k.target.scoped(request)).collect()
    }

    /// The cached items of `target` (its namespace and selector applied), each with
    /// `apiVersion` and `kind`, in namespace/name order as a LIST returns them; `None` when the
    /// kind is not cached or its watch is past the staleness bound.
    pub(crate) fn items(&self, target: &Target) -> Option<Result<Vec<String>, CollectorError>> {
        let kind =
            self.kinds.iter().find(|k| k.target.api_version == target.api_version && k.target.kind == target.kind)?;
        let health = *kind.health.lock().unwrap_or_else(|p| p.into_inner());
        if !health.fresh(Instant::now(), self.max_staleness) {
            tracing::debug!(kind = %target.kind, "watch cache past its staleness bound; listing");
            return None;
        }
        Some(match &kind.reader {
            Reader::Full(s) => select(target, s.state().iter().map(|o| (&o.metadata, o.as_ref()))),
            Reader::Meta(s) => select(target, s.state().iter().map(|o| (&o.metadata, o.as_ref()))),
        })
    }
}

fn select<'a, T: Serialize + 'a>(
    target: &Target,
    objects: impl Iterator<Item = (&'a kube::core::ObjectMeta, &'a T)>,
) -> Result<Vec<String>, CollectorError> {
    let selector = match &target.selector {
        Some(s) => LabelSelector::parse(s).map_err(|e| CollectorError::Source(format!("label selector {s:?}: {e}")))?,
        None => LabelSelector::default(),
    };
    let mut picked: Vec<(&kube::core::ObjectMeta, &T)> = objects
        .filter(|(m, _)| target.namespace.as_ref().is_none_or(|ns| m.namespace.as_ref() == Some(ns)))
        .filter(|(m, _)| {
            let labels = m.labels.as_ref().map(|l| serde_json::to_value(l).unwrap_or_default());
            selector.matches(labels.as_ref())
        })
        .collect();
    picked.sort_by(|a, b| (&a.0.namespace, &a.0.name).cmp(&(&b.0.namespace, &b.0.name)));
    picked
        .into_iter()
        .map(|(_, o)| {
            let json = serde_json::to_string(o).map_err(|e| CollectorError::Source(e.to_string()))?;
            crate::kubernetes::with_type(&json, target)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_watch_is_served_only_within_the_staleness_bound() {
        let now = Instant::now();
        let bound = Duration::from_secs(30);
        assert!(Health::default().fresh(now, bound), "a healthy watch is fresh");
        let recent = Health { broken_since: now.checked_sub(Duration::from_secs(10)) };
        assert!(recent.fresh(now, bound));
        let old = Health { broken_since: now.checked_sub(Duration::from_secs(31)) };
        assert!(!old.fresh(now, bound));
        let mut h = Health::default();
        h.observe::<(), ()>(&Err(()));
        let first = h.broken_since.expect("broken");
        h.observe::<(), ()>(&Err(()));
        assert_eq!(h.broken_since, Some(first), "staleness counts from the first failure");
        h.observe::<(), ()>(&Ok(()));
        assert_eq!(h, Health::default(), "an event heals it");
    }
}
