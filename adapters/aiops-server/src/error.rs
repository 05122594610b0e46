//! The error type of `aiops-server` and the JSON error responses of the API.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Everything that can go wrong in the server outside of a single request.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The incident store failed.
    #[error("incident store: {0}")]
    Store(String),
    /// The configuration is invalid.
    #[error("configuration: {0}")]
    Config(String),
    /// Binding or serving the socket failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The engine failed.
    #[error(transparent)]
    Core(#[from] aiops_core::CoreError),
}

/// Result alias of this crate.
pub type Result<T, E = ServerError> = std::result::Result<T, E>;

/// A request error: an HTTP status, a stable machine-readable `code` and a readable message.
/// The body is `{"detail": message, "code": code}` (`detail` as in the original API).
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code (`invalid_json`, `payload_too_large`, `unauthorized`, ...).
    pub code: &'static str,
    /// Readable message.
    pub message: String,
    /// Seconds for a `Retry-After` header, when the client should retry.
    pub retry_after: Option<u64>,
    /// Extra JSON fields merged into the body (e.g. the rejected alerts).
    pub extra: Option<serde_json::Value>,
}

impl ApiError {
    /// A new error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), retry_after: None, extra: None }
    }

    /// 400 `invalid_json`.
    pub fn invalid_json(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_json", message)
    }

    /// 422 `invalid_payload`: JSON of the wrong shape or types.
    pub fn invalid_payload(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_payload", message)
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 503 `store_unavailable`.
    pub fn store(message: impl std::fmt::Display) -> Self {
        let mut e = Self::new(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable", message.to_string());
        e.retry_after = Some(5);
        e
    }

    /// 503 `graph_store_unavailable`.
    pub fn graph(message: impl std::fmt::Display) -> Self {
        let mut e = Self::new(StatusCode::SERVICE_UNAVAILABLE, "graph_store_unavailable", message.to_string());
        e.retry_after = Some(5);
        e
    }

    /// Sets `Retry-After`.
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// Adds extra body fields.
    pub fn with_extra(mut self, extra: serde_json::Value) -> Self {
        self.extra = Some(extra);
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = serde_json::json!({"detail": self.message, "code": self.code});
        if let (Some(serde_json::Value::Object(extra)), Some(obj)) = (self.extra, body.as_object_mut()) {
            obj.extend(extra);
        }
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(v) = self.retry_after.and_then(|s| HeaderValue::from_str(&s.to_string()).ok()) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}
