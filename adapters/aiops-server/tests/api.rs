//! The HTTP API in process (tower `oneshot` on the router): endpoint shapes and codes, dedup,
//! resolution, grouping, auth, and bad input (malformed JSON, wrong types, unknown versions, a
//! 100 MB body, 10,000 alerts, invalid UTF-8), each answered with a clear 4xx and no change.
//! Payloads are the project's wire samples in `tests/samples/` (copied from `shared/samples/`).

use std::sync::Arc;

use aiops_server::store::{IncidentStore, MemoryStore};
use aiops_server::{Server, ServerConfig};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../../tests/samples/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

struct T {
    server: Server,
    store: Arc<MemoryStore>,
}

fn setup(cfg: ServerConfig) -> T {
    let store = Arc::new(MemoryStore::new());
    let server = Server::new(cfg, store.clone() as Arc<dyn IncidentStore>, None);
    T { server, store }
}

impl T {
    async fn call(
        &self,
        method: &str,
        uri: &str,
        body: impl Into<Body>,
        auth: Option<&str>,
    ) -> (StatusCode, Value, axum::http::HeaderMap) {
        let mut req = Request::builder().method(method).uri(uri).header("content-type", "application/json");
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let resp = self.server.router().oneshot(req.body(body.into()).unwrap()).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let v =
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, v, headers)
    }

    async fn post(&self, uri: &str, body: impl Into<Body>) -> (StatusCode, Value) {
        let (s, v, _) = self.call("POST", uri, body, None).await;
        (s, v)
    }

    async fn get(&self, uri: &str) -> (StatusCode, Value) {
        let (s, v, _) = self.call("GET", uri, Body::empty(), None).await;
        (s, v)
    }

    async fn count(&self) -> usize {
        self.store.list(&Default::default()).await.unwrap().len()
    }
}

#[tokio::test]
async fn alertmanager_firing_repeat_and_resolved() {
    let t = setup(ServerConfig::default());
    let (s, v) = t.post("/api/v1/webhooks/alertmanager", sample("alertmanager-webhook-firing.json")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "accepted");
    assert_eq!(v["incidents_created"], 1);
    let id = v["incident_ids"][0].as_str().unwrap().to_string();
    let (s, inc) = t.get(&format!("/api/v1/incidents/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(inc["title"], "KubePodCrashLooping: checkout-7d9f8b6c5d-x2k4q");
    assert_eq!(inc["severity"], "critical");
    assert_eq!(inc["status"], "open");
    assert_eq!(inc["namespace"], "shop");
    assert_eq!(inc["workflow_state"], "received");
    // Repeat: deduplicated.
    let (_, v) = t.post("/api/v1/webhooks/alertmanager", sample("alertmanager-webhook-firing.json")).await;
    assert_eq!((v["incidents_created"].as_u64(), v["deduplicated"].as_u64()), (Some(0), Some(1)), "{v}");
    assert_eq!(t.count().await, 1);
    // Resolved: resolves it.
    let (s, v) = t.post("/api/v1/webhooks/alertmanager", sample("alertmanager-webhook-resolved.json")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["incidents_resolved"], 1, "{v}");
    let (_, inc) = t.get(&format!("/api/v1/incidents/{id}")).await;
    assert_eq!(inc["status"], "resolved");
    assert!(inc["resolved_at"].is_string());
    let (_, m) = t.call("GET", "/metrics", Body::empty(), None).await.1.as_str().map(|s| ((), s.to_string())).unwrap();
    assert!(m.contains("aiops_alerts_received_total{source=\"alertmanager\",severity=\"critical\"} 3"), "{m}");
    assert!(m.contains("aiops_alerts_deduplicated_total 1"), "{m}");
    assert!(m.contains("aiops_incidents_created_total{severity=\"critical\"} 1"), "{m}");
    assert!(m.contains("aiops_incidents_resolved_total 1"), "{m}");
}

#[tokio::test]
async fn grafana_sample_and_not_firing() {
    let t = setup(ServerConfig::default());
    let (s, v) = t.post("/api/v1/webhooks/grafana", sample("grafana-webhook.json")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "accepted");
    assert!(v["incidents_created"].as_u64().unwrap() >= 1);
    let id = v["incident_ids"][0].as_str().unwrap();
    let (_, inc) = t.get(&format!("/api/v1/incidents/{id}")).await;
    assert_eq!(inc["source"], "grafana");
    assert_eq!(inc["service"], Value::Null, "no grafana_folder fallback");
    let body = json!({"status":"resolved","orgId":1,"alerts":[{"status":"resolved","labels":{"alertname":"Nope"}}]});
    let (s, v) = t.post("/api/v1/webhooks/grafana", body.to_string()).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v, json!({"status":"ignored","reason":"not_firing"}));
}

#[tokio::test]
async fn prometheus_push_and_group_attach() {
    let t = setup(ServerConfig::default());
    let future = (jiff::Timestamp::now() + jiff::SignedDuration::from_secs(300)).to_string();
    let body = json!([{"labels":{"alertname":"KubePodCrashLooping","namespace":"shop","pod":"a-1"},"endsAt": future}]);
    let (s, v) = t.post("/api/v2/alerts", body.to_string()).await;
    assert_eq!((s, v["incidents_created"].as_u64()), (StatusCode::OK, Some(1)), "{v}");
    let id = v["incident_ids"][0].as_str().unwrap().to_string();
    let (_, inc) = t.get(&format!("/api/v1/incidents/{id}")).await;
    assert_eq!(inc["source"], "prometheus");
    let body = json!([{"labels":{"alertname":"KubePodCrashLooping","namespace":"shop","pod":"a-1"},"endsAt":"2020-01-01T00:00:00Z"}]);
    let (_, v) = t.post("/api/v2/alerts", body.to_string()).await;
    assert_eq!(v["incidents_resolved"], 1, "{v}");

    let group = |pod: &str| json!({"version":"4","groupKey":"{}:{alertname=\"X\"}","alerts":[{"status":"firing","labels":{"alertname":"X","namespace":"shop","pod":pod}}]});
    let (_, v1) = t.post("/api/v1/webhooks/alertmanager", group("b-1").to_string()).await;
    let (_, v2) = t.post("/api/v1/webhooks/alertmanager", group("b-2").to_string()).await;
    assert_eq!(v1["incidents_created"], 1);
    assert_eq!((v2["incidents_created"].as_u64(), v2["attached"].as_u64()), (Some(0), Some(1)), "{v2}");
}

#[tokio::test]
async fn manual_incidents_list_and_lifecycle() {
    let t = setup(ServerConfig::default());
    let body = json!({"fingerprint":"fp-1","title":"Checkout down","severity":"high","source":"manual","cluster":"eu",
        "namespace":"shop","started_at":"2026-03-01T10:00:00Z"});
    let (s, inc) = t.post("/api/v1/incidents", body.to_string()).await;
    assert_eq!(s, StatusCode::OK, "{inc}");
    assert_eq!(inc["status"], "open");
    let id = inc["id"].as_str().unwrap().to_string();
    let (s, v) = t.post("/api/v1/incidents", body.to_string()).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(v["detail"], format!("Incident with fingerprint already exists: {id}"));
    let (s, v) = t.post("/api/v1/incidents", json!({"fingerprint":"x"}).to_string()).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("validation_error")), "{v}");
    let (s, list) = t.get("/api/v1/incidents?severity=high&limit=10").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let (s, v) = t.get("/api/v1/incidents?limit=lots").await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_query")));
    let (s, v) = t.post(&format!("/api/v1/incidents/{id}/acknowledge"), json!({"actor":"alice"}).to_string()).await;
    assert_eq!((s, v["status"].as_str()), (StatusCode::OK, Some("investigating")), "{v}");
    let (s, v) = t.post(&format!("/api/v1/incidents/{id}/resolve"), Body::empty()).await;
    assert_eq!((s, v["status"].as_str()), (StatusCode::OK, Some("resolved")), "{v}");
    let (_, audit) = t.get(&format!("/api/v1/incidents/{id}/audit")).await;
    let actions: Vec<&str> = audit.as_array().unwrap().iter().map(|a| a["action_type"].as_str().unwrap()).collect();
    assert_eq!(actions, ["created", "acknowledged", "resolved"]);
    let (s, v) = t.get("/api/v1/incidents/does-not-exist").await;
    assert_eq!((s, v["detail"].as_str()), (StatusCode::NOT_FOUND, Some("Incident not found")));
    let (s, g) = t.get(&format!("/api/v1/incidents/{id}/graph?depth=2")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(g, json!({"nodes":[],"relationships":[]}));
    let (s, v) = t.get(&format!("/api/v1/incidents/{id}/runbook")).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_diagnosed")));
    let (s, v) = t.get(&format!("/api/v1/incidents/{id}/evidence")).await;
    assert_eq!((s, v), (StatusCode::OK, json!([])));
}

#[tokio::test]
async fn health_ready_and_openapi() {
    let t = setup(ServerConfig::default());
    assert_eq!(t.get("/health").await, (StatusCode::OK, json!({"status":"healthy","service":"aiops-ingestion"})));
    assert_eq!(t.get("/health/ready").await, (StatusCode::OK, json!({"status":"ready","checks":{"memory":true}})));
    let (s, doc) = t.get("/openapi.json").await;
    assert_eq!(s, StatusCode::OK);
    assert!(doc["paths"]["/api/v1/webhooks/alertmanager"]["post"].is_object());
    let (s, v) = t.get("/nope").await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    assert_eq!(v["detail"], "no such endpoint");
    // Every documented operation is routed (the router and the document come from one table).
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 20, "{}", paths.len());
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            let uri = path.replace("{id}", "no-such-incident");
            let (s, v, _) = t.call(&method.to_uppercase(), &uri, Body::empty(), None).await;
            assert_ne!(s, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert_ne!(v["detail"], "no such endpoint", "{method} {path} is documented but not routed");
        }
    }
}

#[tokio::test]
async fn tokens_are_required_when_configured() {
    let cfg = ServerConfig {
        api_token: Some("api-secret".into()),
        webhook_token: Some("hook-secret".into()),
        ..ServerConfig::default()
    };
    let t = setup(cfg);
    let (s, v, h) = t.call("GET", "/api/v1/incidents", Body::empty(), None).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthorized")));
    assert_eq!(h.get("www-authenticate").unwrap(), "Bearer");
    let (s, _, _) = t.call("GET", "/api/v1/incidents", Body::empty(), Some("Bearer wrong")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _, _) = t.call("GET", "/api/v1/incidents", Body::empty(), Some("Bearer api-secret")).await;
    assert_eq!(s, StatusCode::OK);
    let hook = "/api/v1/webhooks/alertmanager";
    let (s, _, _) = t.call("POST", hook, sample("alertmanager-webhook-firing.json"), Some("Bearer api-secret")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "the API token is not the webhook secret");
    // Grafana basic auth: the password is the secret.
    let (s, _, _) = t
        .call("POST", hook, sample("alertmanager-webhook-firing.json"), Some("Basic Z3JhZmFuYTpob29rLXNlY3JldA=="))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(t.count().await, 1);
    assert_eq!(t.get("/health").await.0, StatusCode::OK, "health stays open");
}

#[tokio::test]
async fn bad_input_gets_a_clear_4xx_and_changes_nothing() {
    let t = setup(ServerConfig { max_alerts_per_request: 1000, ..ServerConfig::default() });
    let hook = "/api/v1/webhooks/alertmanager";
    let cases: Vec<(Vec<u8>, StatusCode, &str)> = vec![
        (b"{\"alerts\": [".to_vec(), StatusCode::BAD_REQUEST, "invalid_json"),
        (b"not json".to_vec(), StatusCode::BAD_REQUEST, "invalid_json"),
        (b"".to_vec(), StatusCode::BAD_REQUEST, "invalid_json"),
        (br#"{"alerts":"x"}"#.to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_payload"),
        (br#"{"alerts":[{"labels":{"alertname":1}}]}"#.to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_payload"),
        (br#"[1,2]"#.to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_payload"),
        (br#"{"version":"3","alerts":[]}"#.to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "unsupported_version"),
        (b"{\"alerts\":[{\"labels\":{\"alertname\":\"\xc3\x28\"}}]}".to_vec(), StatusCode::BAD_REQUEST, "invalid_utf8"),
        (
            format!("{{\"alerts\":[{}]}}", vec![r#"{"labels":{"alertname":"A"}}"#; 10_000].join(",")).into_bytes(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_alerts",
        ),
        (vec![b' '; 100 * 1024 * 1024], StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
    ];
    for (body, status, code) in cases {
        let len = body.len();
        let (s, v) = t.post(hook, body).await;
        assert_eq!((s, v["code"].as_str()), (status, Some(code)), "body of {len} bytes: {v}");
        assert!(v["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
    assert_eq!(t.count().await, 0, "nothing stored");
    let m = t.server.state().metrics.encode();
    assert!(m.contains("aiops_alerts_rejected_total{source=\"alertmanager\",reason=\"invalid_json\"} 3"), "{m}");
    // A bad alert in a good batch rejects only itself.
    let body = json!({"alerts":[{"labels":{"alertname":"Good","pod":"p"}},{"labels":"bad"}]});
    let (s, v) = t.post(hook, body.to_string()).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["incidents_created"], 1);
    assert_eq!(v["rejected"][0]["index"], 1, "{v}");
    assert_eq!(t.count().await, 1);
}
