//! The request log and per-endpoint counters (`GET /sim/stats`, [`crate::SimHandle::requests`]).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::k8s::path::{self, ApiPath};

/// How many requests the log keeps (the oldest are dropped; counters keep counting).
pub const MAX_RECORDED: usize = 100_000;

/// One request the simulator answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: String,
    /// Path, without the query.
    pub path: String,
    /// Raw query string (`""` when none).
    pub query: String,
    /// The `Accept` header (`""` when none): shows whether a read asked for metadata only.
    #[serde(default)]
    pub accept: String,
    /// The endpoint it counted under (`GET /api/v1/namespaces/{namespace}/pods`).
    pub endpoint: String,
    /// HTTP status answered.
    pub status: u16,
}

/// Request counts, as `GET /sim/stats` returns them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimStats {
    /// Requests answered (excluding `/sim/*`).
    pub total: u64,
    /// Requests per endpoint: method and path template.
    pub endpoints: BTreeMap<String, u64>,
}

/// The shared recorder.
#[derive(Debug, Default)]
pub struct Recorder {
    inner: Mutex<(SimStats, VecDeque<RecordedRequest>)>,
}

impl Recorder {
    /// Records one answered request.
    pub fn record(&self, method: &str, path: &str, query: &str, accept: &str, status: u16) {
        let endpoint = format!("{method} {}", template(path));
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.0.total += 1;
        *g.0.endpoints.entry(endpoint.clone()).or_default() += 1;
        if g.1.len() >= MAX_RECORDED {
            g.1.pop_front();
        }
        g.1.push_back(RecordedRequest {
            method: method.into(),
            path: path.into(),
            query: query.into(),
            accept: accept.into(),
            endpoint,
            status,
        });
    }

    /// The counters.
    pub fn stats(&self) -> SimStats {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).0.clone()
    }

    /// The request log, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).1.iter().cloned().collect()
    }

    /// Clears counters and log.
    pub fn reset(&self) {
        *self.inner.lock().unwrap_or_else(|e| e.into_inner()) = Default::default();
    }
}

/// The endpoint template of a path: Kubernetes object paths with names replaced by
/// placeholders, every other path as it is.
pub fn template(path: &str) -> String {
    match path::parse(path) {
        Some(ApiPath::Object(o)) => o.template(),
        _ => path.to_string(),
    }
}
