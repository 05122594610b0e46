//! Local servers speaking each provider's documented wire format (no LLM provider runs here):
//! OpenAI chat completions, Gemini generateContent and Ollama /api/chat. They record every
//! request (path, headers, JSON body) and answer with what a responder decides, wrapped in
//! that provider's response shape.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The provider a server imitates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Dialect {
    OpenAi,
    Gemini,
    Ollama,
}

pub const DIALECTS: [Dialect; 3] = [Dialect::OpenAi, Dialect::Gemini, Dialect::Ollama];

impl Dialect {
    /// The system and user texts of a request.
    pub fn texts(self, body: &Value) -> (String, String) {
        let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
        match self {
            Dialect::Gemini => {
                (s(&body["systemInstruction"]["parts"][0]["text"]), s(&body["contents"][0]["parts"][0]["text"]))
            }
            _ => (s(&body["messages"][0]["content"]), s(&body["messages"][1]["content"])),
        }
    }

    /// Wraps the model's text in this provider's response.
    pub fn wrap(self, text: &str) -> Value {
        match self {
            Dialect::OpenAi => json!({
                "id": "chatcmpl-1", "object": "chat.completion", "created": 1772361900, "model": "gpt-4o-mini",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "refusal": null}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100}
            }),
            Dialect::Gemini => json!({
                "candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP", "index": 0}],
                "usageMetadata": {"promptTokenCount": 1000, "candidatesTokenCount": 100, "totalTokenCount": 1100},
                "modelVersion": "gemini-2.5-flash"
            }),
            Dialect::Ollama => json!({
                "model": "llama3.1:8b", "created_at": "2026-03-01T10:45:00Z",
                "message": {"role": "assistant", "content": text}, "done": true, "done_reason": "stop",
                "prompt_eval_count": 1000, "eval_count": 100
            }),
        }
    }
}

/// What the server does with one request.
pub enum Reply {
    /// Answers with this model text.
    Text(String),
    /// Answers with an HTTP error status.
    Status(u16),
    /// Never answers.
    Hang,
}

/// Decides the reply from the request (system, user texts) and its index.
pub type Responder = Arc<dyn Fn(&str, &str, usize) -> Reply + Send + Sync>;

/// One recorded request.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Value,
    pub raw: String,
}

#[derive(Clone)]
struct AppState {
    dialect: Dialect,
    responder: Responder,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

/// A running fake provider.
pub struct FakeProvider {
    pub dialect: Dialect,
    pub base: String,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeProvider {
    pub fn calls(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    pub fn recorded(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

static NEXT_PORT: AtomicU16 = AtomicU16::new(18400);

/// Binds a port of the llm range (18400-18499).
async fn bind() -> (tokio::net::TcpListener, u16) {
    for _ in 0..200 {
        let p = NEXT_PORT.fetch_add(1, Ordering::Relaxed);
        let port = 18400 + (p - 18400) % 100;
        if let Ok(l) = tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
            return (l, port);
        }
    }
    panic!("no free port in 18400-18499");
}

async fn handle(State(s): State<AppState>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let raw = String::from_utf8_lossy(&body).to_string();
    let json: Value = serde_json::from_str(&raw).unwrap_or(Value::Null);
    let headers = headers.iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string())).collect();
    let (system, user) = s.dialect.texts(&json);
    let n = {
        let mut r = s.requests.lock().unwrap();
        r.push(Recorded { path: uri.to_string(), headers, body: json, raw });
        r.len() - 1
    };
    match (s.responder)(&system, &user, n) {
        Reply::Text(t) => axum::Json(s.dialect.wrap(&t)).into_response(),
        Reply::Status(code) => {
            (StatusCode::from_u16(code).unwrap(), axum::Json(json!({"error": {"message": "overloaded"}})))
                .into_response()
        }
        Reply::Hang => {
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
    }
}

/// Starts a server of `dialect` answering with `responder`.
pub async fn start(dialect: Dialect, responder: Responder) -> FakeProvider {
    let (listener, port) = bind().await;
    let requests = Arc::new(Mutex::new(Vec::new()));
    let state = AppState { dialect, responder, requests: requests.clone() };
    let app = axum::Router::new().fallback(handle).with_state(state);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let base = match dialect {
        Dialect::OpenAi => format!("http://127.0.0.1:{port}/v1"),
        _ => format!("http://127.0.0.1:{port}"),
    };
    FakeProvider { dialect, base, requests, task }
}

/// The enricher of `dialect` pointed at `server`, with test keys.
pub fn provider_for(server: &FakeProvider, model: &str) -> Box<dyn aiops_llm::Provider> {
    match server.dialect {
        Dialect::OpenAi => Box::new(aiops_llm::OpenAi::new(model).base_url(&server.base).api_key(OPENAI_TEST_KEY)),
        Dialect::Gemini => Box::new(aiops_llm::Gemini::new(model).base_url(&server.base).api_key(GOOGLE_TEST_KEY)),
        Dialect::Ollama => Box::new(aiops_llm::Ollama::new(model).host(&server.base)),
    }
}

pub const OPENAI_TEST_KEY: &str = "test-openai-key-0001";
pub const GOOGLE_TEST_KEY: &str = "test-google-key-0002";
