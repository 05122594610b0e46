//! The HTTP routes (`original-design.md` §2.1 paths, shapes and status codes, plus the
//! additions listed in the crate docs). Every error is JSON `{"detail", "code"}`.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use aiops_core::graph::GraphSnapshot;
use aiops_core::{Alert, Incident, IncidentSource, IncidentStatus, Severity};
use aiops_remediate::slack;
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::json;
use tracing::Instrument;

use crate::AppState;
use crate::auth;
use crate::error::ApiError;
use crate::ingest::{self, Format};
use crate::intake::Refusal;
use crate::metrics::{SeverityLabel, SourceLabel, SourceSeverity};
use crate::store::{
    ActionRecord, ActionStatus, AlertState, Decided, HumanDecision, Incoming, ListFilter, Outcome, StatusChange,
    StoredIncident,
};

type St = State<Arc<AppState>>;

/// Declares every endpoint once: the router is built from this table and `/openapi.json` is
/// generated from it, so the document cannot list a route that does not exist or miss one.
macro_rules! endpoints {
    ($($method:ident $path:literal => $handler:ident : $summary:literal;)+) => {
        /// The route table served at `/openapi.json`: (method, path, summary).
        pub const ROUTES: &[(&str, &str, &str)] = &[$((stringify!($method), $path, $summary)),+];

        fn routes(router: Router<Arc<AppState>>) -> Router<Arc<AppState>> {
            router$(.route($path, $method($handler)))+
        }
    };
}

endpoints! {
    get "/health" => health: "Liveness: {status: healthy, service: aiops-ingestion}";
    get "/health/ready" => ready: "Readiness: checks the incident store (and the graph store, if any); 200 or 503";
    get "/metrics" => metrics: "Prometheus metrics (OpenMetrics text)";
    get "/openapi.json" => openapi: "This document";
    post "/api/v1/webhooks/alertmanager" => alertmanager: "Alertmanager webhook (version 4)";
    post "/api/v1/webhooks/grafana" => grafana: "Grafana unified-alerting webhook";
    post "/api/v2/alerts" => prometheus: "Prometheus alert push (Prometheus alerting.alertmanagers pointed at aiops)";
    post "/api/v1/incidents" => create_incident: "Create an incident by hand (IncidentCreate); 409 on an open duplicate";
    get "/api/v1/incidents" => list_incidents: "List incidents: status, severity, namespace, limit, offset";
    get "/api/v1/incidents/{id}" => get_incident: "One incident";
    get "/api/v1/incidents/{id}/graph" => incident_graph: "The incident's evidence graph within depth hops";
    get "/api/v1/incidents/{id}/evidence" => incident_evidence: "Evidence of the diagnosis";
    get "/api/v1/incidents/{id}/hypotheses" => incident_hypotheses: "Ranked hypotheses";
    get "/api/v1/incidents/{id}/runbook" => incident_runbook: "The runbook";
    get "/api/v1/incidents/{id}/audit" => incident_audit: "Audit trail";
    post "/api/v1/incidents/{id}/acknowledge" => acknowledge: "Acknowledge";
    post "/api/v1/incidents/{id}/resolve" => resolve: "Resolve";
    get "/api/v1/incidents/{id}/actions" => incident_actions: "The proposed remediation action(s): status, policy decision and reasons, blast radius, approval deadline";
    post "/api/v1/incidents/{id}/approve" => approve: "Approve the action waiting for approval ({actor, reason}); wakes the workflow";
    post "/api/v1/incidents/{id}/reject" => reject: "Reject the action waiting for approval ({actor, reason}); it never runs";
    post "/api/v1/slack/interactions" => slack_interactions: "Slack interaction callback (form payload=, X-Slack-Signature): approve/reject buttons carrying the approval token";
}

/// The router of every endpoint.
pub fn router(state: Arc<AppState>) -> Router {
    let limit = state.config.body_limit;
    routes(Router::new())
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .layer(axum::middleware::from_fn_with_state(limit, refuse_oversized))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// Responses other than 200 documented in `/openapi.json`: (method, path, status, description).
pub const ERROR_RESPONSES: &[(&str, &str, &str, &str)] = &[
    ("get", "/api/v1/incidents/{id}/actions", "401", "unauthorized"),
    ("get", "/api/v1/incidents/{id}/actions", "404", "not_found: no such incident"),
    ("post", "/api/v1/incidents/{id}/approve", "401", "unauthorized"),
    ("post", "/api/v1/incidents/{id}/approve", "404", "not_found: no such incident"),
    ("post", "/api/v1/incidents/{id}/approve", "409", "not_awaiting_approval: nothing to decide, decided or expired"),
    ("post", "/api/v1/incidents/{id}/approve", "422", "validation_error: actor missing"),
    ("post", "/api/v1/incidents/{id}/reject", "401", "unauthorized"),
    ("post", "/api/v1/incidents/{id}/reject", "404", "not_found: no such incident"),
    ("post", "/api/v1/incidents/{id}/reject", "409", "not_awaiting_approval: nothing to decide, decided or expired"),
    ("post", "/api/v1/incidents/{id}/reject", "422", "validation_error: actor missing"),
    ("post", "/api/v1/slack/interactions", "400", "invalid_payload: no payload, user, action or token"),
    ("post", "/api/v1/slack/interactions", "401", "invalid_signature / stale_request (timestamp over 5 minutes off)"),
    ("post", "/api/v1/slack/interactions", "403", "approver_not_allowed: user not in server.slack_approvers"),
    ("post", "/api/v1/slack/interactions", "404", "unknown_token, or slack_not_configured (no signing secret)"),
    ("post", "/api/v1/slack/interactions", "409", "not_awaiting_approval: token already used, or expired"),
];

/// The JSON body of approve/reject.
const DECISION_BODY: &str =
    r#"{"type":"object","required":["actor"],"properties":{"actor":{"type":"string"},"reason":{"type":"string"}}}"#;

async fn openapi() -> Json<serde_json::Value> {
    let mut paths = serde_json::Map::new();
    for (method, path, summary) in ROUTES {
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        if let Some(obj) = entry.as_object_mut() {
            let mut op = json!({"summary": summary, "responses": {"200": {"description": "OK"}}});
            for (m, p, code, description) in ERROR_RESPONSES {
                if m == method && p == path {
                    op["responses"][*code] = json!({"description": description});
                }
            }
            if path.ends_with("/approve") || path.ends_with("/reject") {
                let schema: serde_json::Value = serde_json::from_str(DECISION_BODY).unwrap_or_default();
                op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": schema}}});
            }
            obj.insert(method.to_string(), op);
        }
    }
    Json(json!({
        "openapi": "3.0.3",
        "info": {"title": "aiops", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
    }))
}

async fn health() -> Json<serde_json::Value> {
    Json(json!({"status": "healthy", "service": "aiops-ingestion"}))
}

async fn ready(State(s): St) -> Response {
    let store_ok = s.store.ping().await.is_ok();
    let mut checks = serde_json::Map::from_iter([(s.store.name().to_string(), json!(store_ok))]);
    let mut ok = store_ok;
    if let Some(g) = &s.graph {
        let graph_ok = g.health().await.is_ok();
        checks.insert("graph_store".into(), json!(graph_ok));
        ok &= graph_ok;
    }
    let body = json!({"status": if ok { "ready" } else { "not_ready" }, "checks": checks});
    let code = if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, Json(body)).into_response()
}

async fn metrics(State(s): St) -> Response {
    s.metrics.intake_depth.set(s.intake.depth() as i64);
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], s.metrics.encode())
        .into_response()
}

/// Answers 413 at once when `Content-Length` announces more than the limit: the body is never
/// read (and a client sending `Expect: 100-continue` never sends it).
async fn refuse_oversized(
    State(limit): State<usize>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("body exceeds the limit of {limit} bytes"),
        )
        .into_response();
    }
    next.run(req).await
}

fn unauthorized() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "missing or wrong credentials")
}

fn check_api(s: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    if auth::allowed(headers, s.config.api_token.as_deref()) { Ok(()) } else { Err(unauthorized()) }
}

fn body_bytes(body: Result<Bytes, BytesRejection>, limit: usize) -> Result<Bytes, ApiError> {
    body.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("body exceeds the limit of {limit} bytes"),
            )
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, "bad_body", r.body_text())
        }
    })
}

async fn alertmanager(State(s): St, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    ingest_request(&s, Format::Alertmanager, &headers, body).await
}

async fn grafana(State(s): St, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    ingest_request(&s, Format::Grafana, &headers, body).await
}

async fn prometheus(State(s): St, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    ingest_request(&s, Format::Prometheus, &headers, body).await
}

async fn ingest_request(
    s: &AppState,
    format: Format,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = Instant::now();
    let source = format.source();
    let span = tracing::info_span!("webhook", source);
    let resp = match ingest_inner(s, format, headers, body).instrument(span).await {
        Ok(r) => r,
        Err(e) => {
            if e.code != "queue_full" && e.code != "store_unavailable" && e.code != "shutting_down" {
                s.metrics.rejected(source, e.code, 1);
            }
            e.into_response()
        }
    };
    s.metrics
        .webhook_latency
        .get_or_create(&SourceLabel { source: source.into() })
        .observe(started.elapsed().as_secs_f64());
    resp
}

/// Submits incoming alerts and waits for their commit; refusals are counted here.
async fn submit(
    s: &AppState,
    source: &str,
    items: Vec<Incoming>,
    full_status: StatusCode,
) -> Result<Vec<Outcome>, ApiError> {
    let n = items.len();
    let rx = match s.intake.submit(items) {
        Ok(rx) => rx,
        Err(Refusal::Full) => {
            s.metrics.refused(source, "queue_full", n);
            return Err(ApiError::new(full_status, "queue_full", "intake queue is full; retry later").retry_after(1));
        }
        Err(Refusal::Closed) => {
            s.metrics.refused(source, "shutting_down", n);
            return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "shutting_down", "server is shutting down")
                .retry_after(5));
        }
    };
    match rx.await {
        Ok(Ok(o)) => Ok(o),
        Ok(Err(e)) => {
            s.metrics.refused(source, "store_unavailable", n);
            Err(ApiError::store(e))
        }
        Err(_) => {
            s.metrics.refused(source, "shutting_down", n);
            Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "shutting_down", "server is shutting down")
                .retry_after(5))
        }
    }
}

async fn ingest_inner(
    s: &AppState,
    format: Format,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let source = format.source();
    let secret = s.config.webhook_token.as_deref().or(s.config.api_token.as_deref());
    if !auth::allowed(headers, secret) {
        return Err(unauthorized());
    }
    let body = body_bytes(body, s.config.body_limit)?;
    let now = Timestamp::now();
    let parsed = ingest::parse(format, &body, s.config.max_alerts_per_request, now)?;
    if !parsed.rejected.is_empty() {
        s.metrics.rejected(source, "invalid_alert", parsed.rejected.len());
    }
    if parsed.alerts.is_empty() && !parsed.rejected.is_empty() {
        return Err(ApiError::invalid_payload("no alert in the body could be read")
            .with_extra(json!({"rejected": parsed.rejected})));
    }
    let items: Vec<Incoming> = parsed.alerts.into_iter().map(|a| Incoming::from_alert(a, now)).collect();
    for i in &items {
        s.metrics
            .alerts_received
            .get_or_create(&SourceSeverity { source: source.into(), severity: i.incident.severity.as_str().into() })
            .inc();
    }
    let severities: Vec<Severity> = items.iter().map(|i| i.incident.severity).collect();
    let any_firing = items.iter().any(|i| i.state == AlertState::Firing);
    let outcomes =
        if items.is_empty() { Vec::new() } else { submit(s, source, items, StatusCode::SERVICE_UNAVAILABLE).await? };
    let mut created = Vec::new();
    let (mut dedup, mut attached, mut resolved) = (0usize, 0usize, 0usize);
    for (o, sev) in outcomes.iter().zip(severities) {
        match o {
            Outcome::Created(id) => {
                s.metrics.incidents_created.get_or_create(&SeverityLabel { severity: sev.as_str().into() }).inc();
                created.push(id.clone());
            }
            Outcome::Deduplicated(_) => {
                s.metrics.alerts_deduplicated.inc();
                dedup += 1;
            }
            Outcome::Attached(_) => {
                s.metrics.alerts_attached.get_or_create(&SourceLabel { source: source.into() }).inc();
                attached += 1;
            }
            Outcome::Resolved(_) => {
                s.metrics.incidents_resolved.inc();
                resolved += 1;
            }
            Outcome::AlertResolved(_) | Outcome::Unmatched => {}
        }
    }
    if format == Format::Grafana && !any_firing && resolved == 0 && parsed.group_status.as_deref() != Some("firing") {
        return Ok(Json(json!({"status": "ignored", "reason": "not_firing"})).into_response());
    }
    Ok(Json(json!({
        "status": "accepted",
        "incidents_created": created.len(),
        "incident_ids": created,
        "deduplicated": dedup,
        "attached": attached,
        "incidents_resolved": resolved,
        "rejected": parsed.rejected,
    }))
    .into_response())
}

/// The body of `POST /api/v1/incidents` (the original `IncidentCreate`).
#[derive(Debug, Deserialize)]
struct IncidentCreate {
    fingerprint: String,
    title: String,
    #[serde(default)]
    description: Option<String>,
    severity: Severity,
    source: IncidentSource,
    cluster: String,
    namespace: String,
    #[serde(default)]
    service: Option<String>,
    #[serde(default)]
    labels: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    annotations: std::collections::BTreeMap<String, String>,
    started_at: Timestamp,
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    std::str::from_utf8(body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_utf8", format!("body is not UTF-8: {e}")))?;
    let mut de = serde_json::Deserializer::from_slice(body);
    let v: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_data() {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_error", format!("at {path}: {inner}"))
        } else {
            ApiError::invalid_json(inner.to_string())
        }
    })?;
    de.end().map_err(|e| ApiError::invalid_json(e.to_string()))?;
    Ok(v)
}

async fn create_incident(
    State(s): St,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    check_api(&s, &headers)?;
    let body = body_bytes(body, s.config.body_limit)?;
    let c: IncidentCreate = parse_json(&body)?;
    if c.fingerprint.is_empty() || c.fingerprint.len() > 255 {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
            "fingerprint must be 1..=255 bytes",
        ));
    }
    let now = Timestamp::now();
    let alert = Alert {
        source: c.source,
        status: "firing".into(),
        alertname: c.labels.get("alertname").cloned().unwrap_or_else(|| c.title.clone()),
        labels: c.labels.clone(),
        annotations: c.annotations.clone(),
        starts_at: Some(c.started_at),
        ends_at: None,
        group_key: None,
        source_fingerprint: None,
    };
    let incident = Incident {
        id: aiops_core::alert::stable_id(&[&c.fingerprint, &c.started_at.to_string()]),
        fingerprint: c.fingerprint,
        title: aiops_core::alert::truncate_chars(&c.title, aiops_core::alert::MAX_TITLE_CHARS),
        description: c.description,
        severity: c.severity,
        status: IncidentStatus::Open,
        source: c.source,
        cluster: c.cluster,
        namespace: c.namespace,
        service: c.service,
        pod: c.labels.get("pod").cloned(),
        labels: c.labels,
        annotations: c.annotations,
        started_at: c.started_at,
    };
    let severity = incident.severity;
    let item = Incoming { alert, incident, state: AlertState::Firing, received_at: now };
    let outcomes = submit(&s, "manual", vec![item], StatusCode::TOO_MANY_REQUESTS).await?;
    match outcomes.first() {
        Some(Outcome::Created(id)) => {
            s.metrics.incidents_created.get_or_create(&SeverityLabel { severity: severity.as_str().into() }).inc();
            let inc = s
                .store
                .get(id)
                .await
                .map_err(ApiError::store)?
                .ok_or_else(|| ApiError::not_found("Incident not found"))?;
            Ok(Json(inc).into_response())
        }
        Some(o) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "duplicate",
            format!("Incident with fingerprint already exists: {}", o.incident_id().unwrap_or_default()),
        )),
        None => Err(ApiError::store("no outcome")),
    }
}

async fn list_incidents(
    State(s): St,
    headers: HeaderMap,
    q: Result<Query<ListFilter>, QueryRejection>,
) -> Result<Response, ApiError> {
    check_api(&s, &headers)?;
    let Query(f) = q.map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_query", e.body_text()))?;
    let list = s.store.list(&f).await.map_err(ApiError::store)?;
    Ok(Json(list).into_response())
}

async fn load(s: &AppState, headers: &HeaderMap, id: &str) -> Result<StoredIncident, ApiError> {
    check_api(s, headers)?;
    s.store.get(id).await.map_err(ApiError::store)?.ok_or_else(|| ApiError::not_found("Incident not found"))
}

async fn get_incident(
    State(s): St,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<StoredIncident>, ApiError> {
    load(&s, &headers, &id).await.map(Json)
}

#[derive(Debug, Deserialize)]
struct DepthQuery {
    depth: Option<usize>,
}

async fn incident_graph(
    State(s): St,
    headers: HeaderMap,
    Path(id): Path<String>,
    q: Result<Query<DepthQuery>, QueryRejection>,
) -> Result<Json<GraphSnapshot>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_query", e.body_text()))?;
    load(&s, &headers, &id).await?;
    let depth = q.depth.unwrap_or(3).min(10);
    if let Some(graphs) = &s.graph {
        // The graph store keys graphs by the analysed incident's id (the report's).
        let Some(report) = s.store.report(&id).await.map_err(ApiError::store)? else {
            return Ok(Json(GraphSnapshot::default()));
        };
        let graph = graphs.subgraph(&report.incident.id, depth).await.map_err(ApiError::graph)?;
        return Ok(Json(graph));
    }
    let graph = s.store.graph(&id).await.map_err(ApiError::store)?.unwrap_or_default();
    Ok(Json(subgraph(&graph, depth)))
}

/// The part of a snapshot within `depth` hops of its incident node (either direction).
pub fn subgraph(g: &GraphSnapshot, depth: usize) -> GraphSnapshot {
    let Some(start) = g.nodes.iter().find(|n| n.id.starts_with("incident:")) else { return GraphSnapshot::default() };
    let mut seen: HashSet<&str> = HashSet::from([start.id.as_str()]);
    let mut queue = VecDeque::from([(start.id.as_str(), 0usize)]);
    while let Some((id, d)) = queue.pop_front() {
        if d == depth {
            continue;
        }
        for e in &g.edges {
            let other = if e.source == id {
                e.target.as_str()
            } else if e.target == id {
                e.source.as_str()
            } else {
                continue;
            };
            if seen.insert(other) {
                queue.push_back((other, d + 1));
            }
        }
    }
    GraphSnapshot {
        nodes: g.nodes.iter().filter(|n| seen.contains(n.id.as_str())).cloned().collect(),
        edges: g
            .edges
            .iter()
            .filter(|e| seen.contains(e.source.as_str()) && seen.contains(e.target.as_str()))
            .cloned()
            .collect(),
    }
}

async fn report_of(s: &AppState, headers: &HeaderMap, id: &str) -> Result<Option<aiops_core::Report>, ApiError> {
    load(s, headers, id).await?;
    s.store.report(id).await.map_err(ApiError::store)
}

async fn incident_evidence(State(s): St, headers: HeaderMap, Path(id): Path<String>) -> Result<Response, ApiError> {
    let r = report_of(&s, &headers, &id).await?;
    Ok(Json(r.map(|r| r.evidence).unwrap_or_default()).into_response())
}

async fn incident_hypotheses(State(s): St, headers: HeaderMap, Path(id): Path<String>) -> Result<Response, ApiError> {
    let r = report_of(&s, &headers, &id).await?;
    Ok(Json(r.map(|r| r.hypotheses).unwrap_or_default()).into_response())
}

async fn incident_runbook(State(s): St, headers: HeaderMap, Path(id): Path<String>) -> Result<Response, ApiError> {
    match report_of(&s, &headers, &id).await? {
        Some(r) => Ok(Json(r.runbook).into_response()),
        None => Err(ApiError::new(StatusCode::NOT_FOUND, "not_diagnosed", "the incident has no diagnosis yet")),
    }
}

async fn incident_audit(State(s): St, headers: HeaderMap, Path(id): Path<String>) -> Result<Response, ApiError> {
    load(&s, &headers, &id).await?;
    Ok(Json(s.store.audit(&id).await.map_err(ApiError::store)?).into_response())
}

#[derive(Debug, Default, Deserialize)]
struct ActorBody {
    #[serde(default)]
    actor: Option<String>,
}

async fn change(
    s: &AppState,
    headers: &HeaderMap,
    id: &str,
    body: Result<Bytes, BytesRejection>,
    change: StatusChange,
) -> Result<Response, ApiError> {
    let before = load(s, headers, id).await?;
    let body = body_bytes(body, s.config.body_limit)?;
    let actor: ActorBody =
        if body.iter().all(u8::is_ascii_whitespace) { ActorBody::default() } else { parse_json(&body)? };
    let actor = actor.actor.unwrap_or_else(|| "api".into());
    let after = s
        .store
        .change_status(id, change, &actor, Timestamp::now())
        .await
        .map_err(ApiError::store)?
        .ok_or_else(|| ApiError::not_found("Incident not found"))?;
    if before.is_open() && !after.is_open() {
        s.metrics.incidents_resolved.inc();
    }
    Ok(Json(after).into_response())
}

async fn acknowledge(
    State(s): St,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    change(&s, &headers, &id, body, StatusChange::Acknowledge).await
}

async fn resolve(
    State(s): St,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    change(&s, &headers, &id, body, StatusChange::Resolve).await
}

async fn incident_actions(State(s): St, headers: HeaderMap, Path(id): Path<String>) -> Result<Response, ApiError> {
    load(&s, &headers, &id).await?;
    let actions: Vec<ActionRecord> = s.store.action(&id).await.map_err(ApiError::store)?.into_iter().collect();
    Ok(Json(actions).into_response())
}

#[derive(Debug, Default, Deserialize)]
struct DecisionBody {
    #[serde(default)]
    actor: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

fn not_awaiting(action: Option<ActionRecord>) -> ApiError {
    let why = match &action {
        None => "the incident has no remediation action".to_string(),
        Some(a) if a.status == ActionStatus::AwaitingApproval => match a.approval_deadline {
            Some(d) => format!("the approval deadline ({d}) has passed"),
            None => "the action no longer takes this decision".to_string(),
        },
        Some(a) => format!("the action is {}, not awaiting approval", a.status.as_str()),
    };
    ApiError::new(StatusCode::CONFLICT, "not_awaiting_approval", why).with_extra(json!({"action": action}))
}

/// Records a decision and wakes the runner; the action as it now stands.
async fn record(s: &AppState, id: &str, decision: &HumanDecision) -> Result<ActionRecord, ApiError> {
    match s.store.decide_with(id, decision).await.map_err(ApiError::store)? {
        Decided::Recorded(a) => {
            tracing::info!(incident_id = id, actor = %decision.actor, approve = decision.approve,
                via = decision.via.as_deref().unwrap_or(""), "remediation decided");
            s.wake.notify_one();
            Ok(a)
        }
        Decided::NotAwaiting(a) => Err(not_awaiting(a)),
        Decided::NotFound => Err(ApiError::not_found("Incident not found")),
    }
}

async fn decide(
    s: &AppState,
    headers: &HeaderMap,
    id: &str,
    body: Result<Bytes, BytesRejection>,
    approve: bool,
) -> Result<Response, ApiError> {
    load(s, headers, id).await?;
    let body = body_bytes(body, s.config.body_limit)?;
    let b: DecisionBody =
        if body.iter().all(u8::is_ascii_whitespace) { DecisionBody::default() } else { parse_json(&body)? };
    let actor = b.actor.map(|a| a.trim().to_string()).filter(|a| !a.is_empty() && a.len() <= 255).ok_or_else(|| {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_error", "actor is required (1..=255 bytes)")
    })?;
    let decision = HumanDecision {
        reason: b.reason.filter(|r| !r.trim().is_empty()),
        via: Some("api".into()),
        ..HumanDecision::new(approve, &actor, Timestamp::now())
    };
    Ok(Json(record(s, id, &decision).await?).into_response())
}

async fn approve(
    State(s): St,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    decide(&s, &headers, &id, body, true).await
}

async fn reject(
    State(s): St,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    decide(&s, &headers, &id, body, false).await
}

/// Slack's interaction callback: signature and timestamp first (nothing else is read before),
/// then the payload, the allow-list, the token's action, and the same decision as the API.
async fn slack_interactions(
    State(s): St,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Some(secret) = s.config.slack_signing_secret.as_deref() else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "slack_not_configured",
            "no Slack signing secret is configured (server.slack_signing_secret, AIOPS_SLACK_SIGNING_SECRET)",
        ));
    };
    let body = body_bytes(body, s.config.body_limit)?;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let (timestamp, signature) = (header("x-slack-request-timestamp"), header("x-slack-signature"));
    let now = Timestamp::now();
    if let Err(e) = slack::verify_signature(secret, timestamp, signature, &body, now) {
        let stale = timestamp.trim().parse::<i64>().is_ok_and(|t| (now.as_second() - t).abs() > slack::MAX_SKEW_SECS);
        let code = if stale { "stale_request" } else { "invalid_signature" };
        tracing::warn!(error = %e, code, "slack callback refused");
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, code, e.to_string()));
    }
    let press = slack::parse_interaction(&body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_payload", e.to_string()))?;
    let Some(role) = s.config.slack_approvers.get(&press.user) else {
        tracing::warn!(user = %press.user, "slack callback from a user not on the approvers allow-list");
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "approver_not_allowed",
            format!("user {} is not on the approvers allow-list (server.slack_approvers)", press.user),
        ));
    };
    let Some(action) = s.store.action_by_token(&press.token).await.map_err(ApiError::store)? else {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "unknown_token", "no action holds this approval token"));
    };
    let decision = HumanDecision {
        via: Some("slack".into()),
        role: Some(role.clone()),
        token: Some(press.token.clone()),
        ..HumanDecision::new(press.approve, &press.user, now)
    };
    let a = record(&s, &action.incident_id, &decision).await?;
    let verb = if press.approve { "✅ Approved" } else { "❌ Rejected" };
    let text = format!("{verb} by <@{}> ({role}): {} on {}", press.user, a.action.action, a.action.target);
    Ok(Json(json!({"text": text, "incident_id": a.incident_id, "status": a.status})).into_response())
}
