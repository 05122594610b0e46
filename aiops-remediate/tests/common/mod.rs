//! Shared helpers: the simulator on an example bundle, a kube client for it, actions.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aiops_core::model::{ActionType, RemediationAction, ResourceRef};
use aiops_sim::{SimHandle, Simulator};
use serde_json::Value;

/// The repository's example bundle `name` (`examples/bundles/{name}.json`), as JSON.
pub fn bundle_json(name: &str) -> Value {
    let path = format!("{}/../examples/bundles/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// A simulator serving a bundle given as JSON.
pub async fn sim_of(bundle: &Value) -> SimHandle {
    let b = aiops_core::parse_bundle(&serde_json::to_vec(bundle).unwrap()).unwrap();
    Simulator::from_bundle(&b).spawn().await.unwrap()
}

/// A simulator serving the example bundle `name`.
pub async fn sim(name: &str) -> SimHandle {
    sim_of(&bundle_json(name)).await
}

/// A kube client talking to the simulator.
pub fn client(sim: &SimHandle) -> kube::Client {
    kube::Client::try_from(kube::Config::new(sim.url().parse().unwrap())).unwrap()
}

/// An action with parameters.
pub fn action(action: ActionType, target: &str, params: &[(&str, Value)]) -> RemediationAction {
    let target = ResourceRef::parse(target).unwrap();
    RemediationAction {
        action,
        idempotency_key: format!("inc-1:{action}:{target}"),
        target,
        parameters: params.iter().map(|(k, v)| (k.to_string(), v.clone())).collect::<BTreeMap<_, _>>(),
    }
}

/// Writes (non-GET requests) the simulator answered.
pub fn writes(sim: &SimHandle) -> Vec<aiops_sim::RecordedRequest> {
    sim.requests().into_iter().filter(|r| r.method != "GET").collect()
}

/// One request a local API server received.
#[derive(Debug, Clone)]
pub struct Captured {
    /// Method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Decoded query string.
    pub query: String,
    /// Headers (lower-case names).
    pub headers: BTreeMap<String, String>,
    /// Raw body.
    pub body: Vec<u8>,
}

impl Captured {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// The answers of a local API server: `(path, substring of the decoded query, status, body)`;
/// the first match answers. Tests may change them while the server runs.
pub type Answers = Arc<Mutex<Vec<(String, String, u16, Value)>>>;

/// A local HTTP server speaking whatever JSON API the answers describe (Slack's Web API,
/// Jira's REST API, Prometheus' HTTP API), recording every request.
pub struct ApiServer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// What it answers.
    pub answers: Answers,
    /// What it received.
    pub received: Arc<Mutex<Vec<Captured>>>,
}

impl ApiServer {
    /// Requests received on `path`.
    pub fn on(&self, path: &str) -> Vec<Captured> {
        self.received.lock().unwrap().iter().filter(|c| c.path == path).cloned().collect()
    }

    /// Replaces the answers.
    pub fn answer(&self, answers: &[(&str, &str, u16, Value)]) {
        *self.answers.lock().unwrap() =
            answers.iter().map(|(p, q, s, v)| (p.to_string(), q.to_string(), *s, v.clone())).collect();
    }
}

/// Starts an [`ApiServer`] on loopback.
pub async fn api_server(initial: &[(&str, &str, u16, Value)]) -> ApiServer {
    use axum::extract::{Request, State};
    use axum::response::IntoResponse;
    let answers: Answers = Arc::new(Mutex::new(Vec::new()));
    let received: Arc<Mutex<Vec<Captured>>> = Arc::default();
    let state = (answers.clone(), received.clone());
    let handler = |State((answers, received)): State<(Answers, Arc<Mutex<Vec<Captured>>>)>, req: Request| async move {
        let (parts, body) = req.into_parts();
        let body = axum::body::to_bytes(body, 1 << 20).await.unwrap().to_vec();
        let query: String = form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
            .map(|(k, v)| format!("{k}={v}&"))
            .collect();
        let headers =
            parts.headers.iter().map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string())).collect();
        let path = parts.uri.path().to_string();
        received.lock().unwrap().push(Captured {
            method: parts.method.to_string(),
            path: path.clone(),
            query: query.clone(),
            headers,
            body,
        });
        let found =
            answers.lock().unwrap().iter().find(|(p, q, _, _)| *p == path && query.contains(q.as_str())).cloned();
        match found {
            Some((_, _, status, v)) => {
                (axum::http::StatusCode::from_u16(status).unwrap(), axum::Json(v)).into_response()
            }
            None => (axum::http::StatusCode::NOT_FOUND, "no answer").into_response(),
        }
    };
    let app = axum::Router::new().fallback(handler).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let server = ApiServer { url, answers, received };
    server.answer(initial);
    server
}
