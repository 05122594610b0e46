//! The Kubernetes API over its JSON wire format: discovery, LIST/GET with selectors and paging,
//! pod logs, and the writes remediation needs.

pub mod discovery;
pub mod format;
pub mod logs;
pub mod patch;
pub mod path;
pub mod read;
pub mod resources;
pub mod selector;
pub mod status;
pub mod table;
pub mod watch;
pub mod write;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::App;
use path::{ApiPath, ObjectPath};
use status::ApiError;

/// Decoded query parameters.
#[derive(Debug, Clone, Default)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    /// Parses a raw query string.
    pub fn parse(query: &str) -> Self {
        Params(form_urlencoded::parse(query.as_bytes()).into_owned().collect())
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// True for `dryRun=All`.
    pub fn dry_run(&self) -> bool {
        self.0.iter().any(|(k, v)| k == "dryRun" && v == "All")
    }
}

fn json_response(v: Value) -> Response {
    (StatusCode::OK, axum::Json(v)).into_response()
}

/// Entry point for every path no other API claimed.
pub async fn handle(State(app): State<App>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let q = Params::parse(uri.query().unwrap_or(""));
    match dispatch(&app, &method, uri.path(), &q, &headers, &body) {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn dispatch(
    app: &App,
    method: &Method,
    path: &str,
    q: &Params,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ApiError> {
    if matches!(path, "/healthz" | "/readyz" | "/livez") {
        return Ok("ok".into_response());
    }
    let parsed = path::parse(path).ok_or_else(|| ApiError::no_route(path))?;
    let store = app.read();
    let types = &store.types;
    let doc = match parsed {
        ApiPath::Version => discovery::version(),
        ApiPath::CoreVersions => discovery::core_versions(),
        ApiPath::Groups => discovery::group_list(types),
        ApiPath::Group(g) => discovery::group(types, &g)?,
        ApiPath::Resources(g, v) => discovery::resource_list(types, &g, &v)?,
        ApiPath::Object(p) => {
            drop(store);
            return object(app, method, &p, q, headers, body);
        }
    };
    if method != Method::GET {
        return Err(ApiError::method_not_allowed(method.as_str(), path));
    }
    Ok(json_response(doc))
}

fn object(
    app: &App,
    method: &Method,
    p: &ObjectPath,
    q: &Params,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ApiError> {
    let t = {
        let store = app.read();
        store.type_by_path(&p.group, &p.version, &p.plural).ok_or_else(|| ApiError::no_route(&p.template()))?
    };
    if *method == Method::GET {
        return read_object(app, t, p, q, headers);
    }
    let content_type = header_str(headers, header::CONTENT_TYPE).unwrap_or("");
    let out = write::write(app, method, t, p, q, content_type, body)?;
    Ok(json_response(out))
}

fn read_object(app: &App, t: usize, p: &ObjectPath, q: &Params, headers: &HeaderMap) -> Result<Response, ApiError> {
    let store = app.read();
    match (&p.name, p.subresource.as_deref()) {
        (None, _) => {
            let format = format::negotiate(header_str(headers, header::ACCEPT))?;
            if matches!(q.get("watch"), Some("true" | "1")) {
                drop(store);
                return watch::watch(app, t, p, q, format);
            }
            Ok(json_response(read::list(&store, t, p, q, format)?))
        }
        (Some(name), None) => {
            let format = format::negotiate(header_str(headers, header::ACCEPT))?;
            Ok(json_response(read::get(&store, t, p, name, q, format)?))
        }
        (Some(name), Some("log")) if store.types[t].kind == "Pod" => {
            let pod = read::lookup(&store, t, p, name)?;
            let text = logs::pod_log(&store, pod, q)?;
            Ok(([(header::CONTENT_TYPE, "text/plain")], text).into_response())
        }
        (Some(name), Some("status")) => Ok(json_response(read::get(&store, t, p, name, q, format::Format::Json)?)),
        (Some(name), Some("scale")) if store.types[t].subresources.contains(&"scale") => {
            let obj = read::lookup(&store, t, p, name)?;
            Ok(json_response(write::scale_of(obj)))
        }
        (Some(_), Some(sub)) => Err(ApiError::no_route(&format!("{}/{sub}", p.template()))),
    }
}
