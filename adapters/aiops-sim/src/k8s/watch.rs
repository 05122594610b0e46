//! WATCH (`?watch=true`) of a collection: newline-delimited `WatchEvent`s (`ADDED`, `MODIFIED`,
//! `DELETED`, `BOOKMARK`, `ERROR`), the wire format client-go and kube-runtime reflectors read.
//!
//! A watch from `resourceVersion` R replays every retained change after R, then follows new
//! ones; without R (or with `0`) it first sends every current object as `ADDED`. A
//! resourceVersion older than the retained history gets an `ERROR` event with a `410 Gone`
//! Status (the client re-lists). `allowWatchBookmarks=true` adds a `BOOKMARK` every
//! [`BOOKMARK_EVERY`]; `timeoutSeconds` ends the stream. Label and field selectors filter on
//! the object after the change (an object edited out of a selector is not sent as `DELETED`).
//! Objects are served as LIST serves them: whole, or `PartialObjectMetadata` when `Accept`
//! asks for it; Secrets never carry data.

use std::collections::VecDeque;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::Params;
use super::format::Format;
use super::path::ObjectPath;
use super::read::{ListQuery, list_query, partial, served};
use super::status::ApiError;
use crate::App;
use crate::store::{ChangeKind, Store};

/// How often a watch that allows bookmarks gets one.
pub const BOOKMARK_EVERY: Duration = Duration::from_secs(2);
/// The longest a watch runs when the client sets no `timeoutSeconds`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

struct Watch {
    app: App,
    t: usize,
    namespace: Option<String>,
    query: ListQuery,
    format: Format,
    cursor: u64,
    bookmarks: bool,
    deadline: tokio::time::Instant,
    next_bookmark: tokio::time::Instant,
    changed: tokio::sync::watch::Receiver<u64>,
    pending: VecDeque<Bytes>,
    done: bool,
}

/// Starts a WATCH of type `t` at `p`.
pub fn watch(app: &App, t: usize, p: &ObjectPath, q: &Params, format: Format) -> Result<Response, ApiError> {
    if let Format::Table(_) = format {
        return Err(ApiError::not_acceptable("a Table watch (ask for application/json)"));
    }
    let query = list_query(q)?;
    let rv = match q.get("resourceVersion").filter(|r| !r.is_empty() && *r != "0") {
        Some(r) => Some(r.parse::<u64>().map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {r:?}")))?),
        None => None,
    };
    let timeout = match q.get("timeoutSeconds").filter(|s| !s.is_empty()) {
        Some(s) => Duration::from_secs(
            s.parse::<u64>().map_err(|_| ApiError::bad_request(format!("invalid timeoutSeconds {s:?}")))?,
        ),
        None => DEFAULT_TIMEOUT,
    };
    let store = app.read();
    let namespace = p.namespace.clone().filter(|_| store.types[t].namespaced);
    let now = tokio::time::Instant::now();
    let mut w = Watch {
        app: app.clone(),
        t,
        namespace,
        query,
        format,
        cursor: rv.unwrap_or(store.rv),
        bookmarks: matches!(q.get("allowWatchBookmarks"), Some("true" | "1")),
        deadline: now + timeout,
        next_bookmark: now + BOOKMARK_EVERY,
        changed: store.notify.subscribe(),
        pending: VecDeque::new(),
        done: false,
    };
    if rv.is_none() {
        let current: Vec<Value> = store.objects[t].values().filter(|o| w.selects(o)).cloned().collect();
        for o in current {
            w.push("ADDED", &o);
        }
    }
    drop(store);
    let stream =
        futures::stream::unfold(w, |mut w| async move { w.next().await.map(|b| (Ok::<_, std::io::Error>(b), w)) });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(stream))
        .map_err(|e| ApiError::bad_request(e.to_string()))
}

impl Watch {
    fn selects(&self, obj: &Value) -> bool {
        let ns_ok = self
            .namespace
            .as_deref()
            .is_none_or(|ns| obj.pointer("/metadata/namespace").and_then(Value::as_str) == Some(ns));
        ns_ok && self.query.labels.matches(obj.pointer("/metadata/labels")) && self.query.fields.matches(obj)
    }

    fn push(&mut self, kind: &str, obj: &Value) {
        let object = match self.format {
            Format::Partial(v) => partial(obj, v),
            _ => served(obj.clone()),
        };
        self.line(json!({"type": kind, "object": object}));
    }

    fn line(&mut self, event: Value) {
        let mut bytes = event.to_string().into_bytes();
        bytes.push(b'\n');
        self.pending.push_back(Bytes::from(bytes));
    }

    /// Queues the changes after the cursor (or a 410 when they are gone).
    fn catch_up(&mut self, store: &Store) {
        if self.cursor < store.compacted {
            let status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": format!("too old resource version: {} ({})", self.cursor, store.compacted),
                "reason": "Expired", "code": 410});
            self.line(json!({"type": "ERROR", "object": status}));
            self.done = true;
            return;
        }
        let news: Vec<(ChangeKind, Value)> = store
            .changes
            .iter()
            .filter(|c| c.rv > self.cursor && c.t == self.t && self.selects(&c.object))
            .map(|c| (c.kind, c.object.clone()))
            .collect();
        for (kind, obj) in news {
            self.push(kind.as_str(), &obj);
        }
        self.cursor = store.rv;
    }

    /// Queues what changed since the last look (no lock is held across an await).
    fn refresh(&mut self) {
        let app = self.app.clone();
        let store = app.read();
        self.catch_up(&store);
    }

    fn bookmark(&mut self) {
        let store = self.app.read();
        let ty = &store.types[self.t];
        let event = json!({"type": "BOOKMARK", "object": {"kind": ty.kind, "apiVersion": ty.api_version(),
            "metadata": {"resourceVersion": self.cursor.to_string(),
                         "annotations": {"k8s.io/initial-events-end": "true"}}}});
        drop(store);
        self.line(event);
    }

    /// The next chunk of the stream; `None` at the timeout or when the simulator stops.
    async fn next(&mut self) -> Option<Bytes> {
        loop {
            if let Some(b) = self.pending.pop_front() {
                return Some(b);
            }
            if self.done {
                return None;
            }
            self.refresh();
            if !self.pending.is_empty() {
                continue;
            }
            let bookmark_due = tokio::select! {
                changed = self.changed.changed() => if changed.is_err() { return None } else { false },
                _ = tokio::time::sleep_until(self.next_bookmark) => true,
                _ = tokio::time::sleep_until(self.deadline) => return None,
                _ = self.app.stopped() => return None,
            };
            if bookmark_due {
                self.next_bookmark += BOOKMARK_EVERY;
                if self.bookmarks {
                    self.bookmark();
                }
            }
        }
    }
}
