//! The server over a real loopback socket (hyper, reqwest): bad input on every ingest endpoint
//! gets a clear 4xx and changes nothing (no incident, no counter but the rejection's), and an
//! overload of 10x the sustainable rate ends with every alert either stored or refused with
//! 503 + `Retry-After`: stored + refused == sent.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aiops_core::Report;
use aiops_core::graph::GraphSnapshot;
use aiops_server::store::{
    ActionRecord, AuditEntry, Claim, Decided, DedupPolicy, HumanDecision, IncidentStore, Incoming, ListFilter,
    MemoryStore, Outcome, StatusChange, Step, StoreResult, StoredIncident, VerificationRecord, WorkflowState,
};
use aiops_server::{Server, ServerConfig};
use async_trait::async_trait;
use jiff::Timestamp;
use serde_json::{Value, json};

async fn start(cfg: ServerConfig, store: Arc<dyn IncidentStore>) -> (String, Server) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = Server::new(cfg, store, None);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = server.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{addr}"), server)
}

/// Every incident in the store (paging through the list).
async fn all(store: &dyn IncidentStore) -> Vec<StoredIncident> {
    let mut out = Vec::new();
    loop {
        let page = store
            .list(&ListFilter { limit: Some(1000), offset: Some(out.len() as u32), ..ListFilter::default() })
            .await
            .unwrap();
        if page.is_empty() {
            return out;
        }
        out.extend(page);
    }
}

/// The metric lines that are not about rejections or latency: they must not move on bad input.
fn state_metrics(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| !l.contains("rejected") && !l.contains("latency"))
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_on_every_endpoint_is_a_clear_4xx_and_changes_nothing() {
    let store = Arc::new(MemoryStore::new());
    let cfg = ServerConfig { api_token: Some("t".into()), ..ServerConfig::default() };
    let (base, server) = start(cfg, store.clone()).await;
    let c = reqwest::Client::new();
    // One good alert first, so "nothing changes" is checked against a non-empty store.
    let good = json!({"version":"4","alerts":[{"status":"firing","labels":{"alertname":"Good","namespace":"a"}}]});
    let r = c.post(format!("{base}/api/v1/webhooks/alertmanager")).bearer_auth("t").json(&good).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let before_store = all(&*store).await;
    let before_metrics = state_metrics(&server.state().metrics.encode());

    let many = |wrap: bool| {
        let alerts = vec![r#"{"labels":{"alertname":"A"}}"#; 10_000].join(",");
        if wrap { format!("{{\"alerts\":[{alerts}]}}") } else { format!("[{alerts}]") }.into_bytes()
    };
    let endpoints =
        [("/api/v1/webhooks/alertmanager", true), ("/api/v1/webhooks/grafana", true), ("/api/v2/alerts", false)];
    for (path, wrapped) in endpoints {
        let shape = if wrapped { br#"{"alerts":{"a":1}}"#.to_vec() } else { br#"{"alerts":[]}"#.to_vec() };
        let types = if wrapped {
            br#"{"alerts":[{"labels":{"alertname":["x"]}}]}"#.to_vec()
        } else {
            br#"[{"labels":{"alertname":["x"]}}]"#.to_vec()
        };
        let utf8 = if wrapped {
            b"{\"alerts\":[{\"labels\":{\"a\":\"\xfe\"}}]}".to_vec()
        } else {
            b"[{\"labels\":{\"a\":\"\xfe\"}}]".to_vec()
        };
        let mut cases: Vec<(Vec<u8>, u16, &str)> = vec![
            (if wrapped { b"{\"alerts\": [{".to_vec() } else { b"[{\"labels\": {".to_vec() }, 400, "invalid_json"),
            (b"\x00\x01binary".to_vec(), 400, "invalid_json"),
            (shape, 422, "invalid_payload"),
            (types, 422, "invalid_payload"),
            (utf8, 400, "invalid_utf8"),
            (many(wrapped), 413, "too_many_alerts"),
        ];
        if wrapped {
            cases.push((br#"{"version":"99","alerts":[]}"#.to_vec(), 422, "unsupported_version"));
        }
        for (body, status, code) in cases {
            let len = body.len();
            let r = c
                .post(format!("{base}{path}"))
                .bearer_auth("t")
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{path} with {len} bytes: {e}"));
            assert_eq!(r.status().as_u16(), status, "{path} {code}");
            assert_eq!(r.headers()["content-type"], "application/json");
            let v: Value = r.json().await.unwrap();
            assert_eq!(v["code"], code, "{path}: {v}");
            assert!(v["detail"].as_str().is_some_and(|d| !d.is_empty()), "{v}");
        }
    }
    // A 100 MB body, announced the way curl sends large bodies (`Expect: 100-continue`): the
    // server answers 413 from the Content-Length without taking the body. (The body really
    // streamed through the limit is tests/api.rs, in process.)
    for (path, _) in endpoints {
        let (status, v) = expect_continue(&base, path, 100 * 1024 * 1024).await;
        assert_eq!((status, v["code"].as_str()), (413, Some("payload_too_large")), "{path}: {v}");
    }
    // The API's own bodies.
    for (body, status, code) in [
        (b"{".to_vec(), 400, "invalid_json"),
        (br#"{"fingerprint":1}"#.to_vec(), 422, "validation_error"),
        (b"{\"fingerprint\":\"\xff\"}".to_vec(), 400, "invalid_utf8"),
    ] {
        let r = c.post(format!("{base}/api/v1/incidents")).bearer_auth("t").body(body).send().await.unwrap();
        assert_eq!(r.status().as_u16(), status);
        assert_eq!(r.json::<Value>().await.unwrap()["code"], code);
    }
    assert_eq!(all(&*store).await, before_store, "the store did not change");
    assert_eq!(state_metrics(&server.state().metrics.encode()), before_metrics, "no counter but rejections moved");
}

/// Sends a POST head announcing `len` bytes with `Expect: 100-continue` and reads the answer.
async fn expect_continue(base: &str, path: &str, len: usize) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(base.trim_start_matches("http://")).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\nContent-Type: application/json\r\n\
         Content-Length: {len}\r\nExpect: 100-continue\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::String(text.clone())))
}

/// A store that commits at a fixed cost per alert, so the sustainable rate is known.
struct Slow {
    inner: MemoryStore,
    per_alert: Duration,
    stored: AtomicUsize,
}

#[async_trait]
impl IncidentStore for Slow {
    fn name(&self) -> &'static str {
        "slow"
    }
    async fn ping(&self) -> StoreResult<()> {
        self.inner.ping().await
    }
    async fn ingest(&self, batch: &[Incoming], policy: &DedupPolicy) -> StoreResult<Vec<Outcome>> {
        tokio::time::sleep(self.per_alert * batch.len() as u32).await;
        let out = self.inner.ingest(batch, policy).await?;
        self.stored.fetch_add(out.iter().filter(|o| matches!(o, Outcome::Created(_))).count(), Ordering::SeqCst);
        Ok(out)
    }
    async fn get(&self, id: &str) -> StoreResult<Option<StoredIncident>> {
        self.inner.get(id).await
    }
    async fn list(&self, f: &ListFilter) -> StoreResult<Vec<StoredIncident>> {
        self.inner.list(f).await
    }
    async fn change_status(
        &self,
        id: &str,
        c: StatusChange,
        actor: &str,
        at: Timestamp,
    ) -> StoreResult<Option<StoredIncident>> {
        self.inner.change_status(id, c, actor, at).await
    }
    async fn claim(&self, token: &str, now: Timestamp, lease: Duration, limit: usize) -> StoreResult<Vec<Claim>> {
        self.inner.claim(token, now, lease, limit).await
    }
    async fn advance(&self, c: &Claim, from: WorkflowState, step: &Step, at: Timestamp) -> StoreResult<bool> {
        self.inner.advance(c, from, step, at).await
    }
    async fn action(&self, id: &str) -> StoreResult<Option<ActionRecord>> {
        self.inner.action(id).await
    }
    async fn decide(&self, id: &str, approve: bool, actor: &str, at: Timestamp) -> StoreResult<Decided> {
        self.inner.decide(id, approve, actor, at).await
    }
    async fn decide_with(&self, id: &str, d: &HumanDecision) -> StoreResult<Decided> {
        self.inner.decide_with(id, d).await
    }
    async fn action_by_token(&self, token: &str) -> StoreResult<Option<ActionRecord>> {
        self.inner.action_by_token(token).await
    }
    async fn verifications(&self, id: &str) -> StoreResult<Vec<VerificationRecord>> {
        self.inner.verifications(id).await
    }
    async fn report(&self, id: &str) -> StoreResult<Option<Report>> {
        self.inner.report(id).await
    }
    async fn graph(&self, id: &str) -> StoreResult<Option<GraphSnapshot>> {
        self.inner.graph(id).await
    }
    async fn append_audit(&self, e: &AuditEntry) -> StoreResult<()> {
        self.inner.append_audit(e).await
    }
    async fn audit(&self, id: &str) -> StoreResult<Vec<AuditEntry>> {
        self.inner.audit(id).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overload_at_ten_times_the_sustainable_rate_loses_nothing() {
    // Sustainable: 2 ms per alert = 500 alerts/s. Offered: 5,000 alerts/s (250 requests/s of
    // 20 alerts) for AIOPS_OVERLOAD_SECS (default 30) seconds.
    let secs: u64 = std::env::var("AIOPS_OVERLOAD_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(30);
    let per_request = 20usize;
    let store = Arc::new(Slow { inner: MemoryStore::new(), per_alert: Duration::from_millis(2), stored: 0.into() });
    let cfg = ServerConfig { intake_capacity: 1000, max_alerts_per_request: 100, ..ServerConfig::default() };
    let (base, server) = start(cfg, store.clone()).await;
    let c = reqwest::Client::builder().pool_max_idle_per_host(512).build().unwrap();
    let (accepted, refused, sent) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)), AtomicUsize::new(0));
    let mut tick = tokio::time::interval(Duration::from_millis(4));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let until = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    let mut n = 0usize;
    while Instant::now() < until {
        tick.tick().await;
        let alerts: Vec<Value> = (0..per_request)
            .map(|i| json!({"status":"firing","labels":{"alertname": format!("Overload{}", n + i),"namespace":"load"}}))
            .collect();
        n += per_request;
        sent.fetch_add(per_request, Ordering::SeqCst);
        let body = json!({"version":"4","alerts":alerts});
        let (c, url, acc, refu) =
            (c.clone(), format!("{base}/api/v1/webhooks/alertmanager"), accepted.clone(), refused.clone());
        tasks.push(tokio::spawn(async move {
            let r = c.post(url).json(&body).send().await.expect("every request is answered");
            match r.status().as_u16() {
                200 => {
                    let v: Value = r.json().await.unwrap();
                    acc.fetch_add(v["incidents_created"].as_u64().unwrap() as usize, Ordering::SeqCst);
                }
                503 => {
                    assert_eq!(r.headers()["retry-after"], "1");
                    let v: Value = r.json().await.unwrap();
                    assert_eq!(v["code"], "queue_full");
                    refu.fetch_add(per_request, Ordering::SeqCst);
                }
                s => panic!("unexpected status {s}"),
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let (sent, accepted, refused) =
        (sent.load(Ordering::SeqCst), accepted.load(Ordering::SeqCst), refused.load(Ordering::SeqCst));
    let stored = all(&*store).await.len();
    let offered = sent as f64 / secs as f64;
    eprintln!(
        "overload: sent {sent} ({offered:.0} alerts/s vs 500 sustainable), stored {stored}, refused {refused} in {secs} s"
    );
    assert_eq!(stored, accepted, "every accepted alert is stored");
    assert_eq!(stored, store.stored.load(Ordering::SeqCst));
    assert_eq!(stored + refused, sent, "stored + refused == sent");
    assert!(refused > 0 && stored > 0, "the overload both stored and refused: {stored} / {refused}");
    let m = server.state().metrics.encode();
    let line = format!("aiops_alerts_refused_total{{source=\"alertmanager\",reason=\"queue_full\"}} {refused}");
    assert!(m.contains(&line), "the refusals are counted: {m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_lists_exactly_the_routes_that_are_served() {
    let (base, _server) = start(ServerConfig::default(), Arc::new(MemoryStore::new())).await;
    let c = reqwest::Client::new();
    let doc: Value = c.get(format!("{base}/openapi.json")).send().await.unwrap().json().await.unwrap();
    let paths = doc["paths"].as_object().unwrap();
    assert_eq!(
        paths.len(),
        aiops_server::api::ROUTES.iter().map(|r| r.1).collect::<std::collections::BTreeSet<_>>().len()
    );
    for (method, path, _) in aiops_server::api::ROUTES {
        assert!(paths[*path][*method].is_object(), "{method} {path} in /openapi.json");
        let url = format!("{base}{}", path.replace("{id}", "no-such-incident"));
        let r = c.request(method.to_uppercase().parse().unwrap(), url).body("{}").send().await.unwrap();
        let status = r.status().as_u16();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        assert_ne!(status, 405, "{method} {path} is routed with that method");
        assert_ne!(v["detail"], "no such endpoint", "{method} {path} is routed");
    }
    // And an unlisted path is the JSON fallback.
    let v: Value = c.get(format!("{base}/api/v1/nope")).send().await.unwrap().json().await.unwrap();
    assert_eq!(v["detail"], "no such endpoint");
}
