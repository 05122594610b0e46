//! The Slack approval notifier against a local server speaking Slack's Web API
//! (`POST /api/chat.postMessage`, `POST /api/chat.update`, bearer token, JSON body, answers
//! `{"ok":true,"channel":"C1","ts":...}`): an incident reaching `awaiting_approval` posts exactly
//! one message whose buttons carry the action's token; a signed Slack callback approves it and
//! the message is updated naming the approver; an expired approval updates it as expired;
//! Slack refusing (`channel_not_found`) or unreachable leaves the action awaiting approval,
//! decidable through the API, and audited, with bounded retries; a runner that died mid-post
//! never posts again.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aiops_core::Decision;
use aiops_core::traits::Clock;
use aiops_server::metrics::Metrics;
use aiops_server::notify::SlackNotifier;
use aiops_server::store::{ActionStatus, IncidentStore, MemoryStore, WorkflowState};
use aiops_server::workflow::Runner;
use aiops_server::{Server, ServerConfig};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Request, StatusCode};
use common::{CountingExecutor, TestClock, firing, ingest, trail, wait_for};
use serde_json::{Value, json};

const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const TOKEN: &str = "api-secret";
const BOT: &str = "xoxb-test-bot";

/// How the fake Slack answers.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Ok,
    ChannelNotFound,
    /// chat.postMessage never answers.
    Hang,
}

/// One Web API call the fake Slack received: method, `Authorization` header, JSON body.
#[derive(Debug, Clone)]
struct Call {
    method: String,
    auth: String,
    body: Value,
}

#[derive(Clone)]
struct FakeSlack {
    calls: Arc<Mutex<Vec<Call>>>,
    mode: Mode,
}

impl FakeSlack {
    /// Serves on a free loopback port; the API base (`http://127.0.0.1:PORT/api`).
    async fn start(mode: Mode) -> (Self, String) {
        let fake = FakeSlack { calls: Arc::default(), mode };
        let app = axum::Router::new().route("/api/{method}", axum::routing::post(answer)).with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        (fake, format!("http://{addr}/api"))
    }

    fn calls(&self, method: &str) -> Vec<Call> {
        self.calls.lock().expect("calls").iter().filter(|c| c.method == method).cloned().collect()
    }

    /// Waits until `n` calls of `method` arrived (at most 10 s); they.
    async fn wait(&self, method: &str, n: usize) -> Vec<Call> {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let calls = self.calls(method);
            if calls.len() >= n {
                return calls;
            }
            assert!(std::time::Instant::now() < deadline, "timed out waiting for {n} {method}: {calls:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

async fn answer(
    State(fake): State<FakeSlack>,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> axum::Json<Value> {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    fake.calls.lock().expect("calls").push(Call { method: method.clone(), auth, body: body.clone() });
    match (fake.mode, method.as_str()) {
        (Mode::ChannelNotFound, _) => axum::Json(json!({"ok": false, "error": "channel_not_found"})),
        (Mode::Hang, "chat.postMessage") => std::future::pending().await,
        (_, "chat.postMessage") => axum::Json(json!({"ok": true, "channel": "C1", "ts": "1700000000.000100",
            "message": {"text": body["text"]}})),
        (_, "chat.update") => axum::Json(json!({"ok": true, "channel": body["channel"], "ts": body["ts"]})),
        _ => axum::Json(json!({"ok": false, "error": "unknown_method"})),
    }
}

/// A base URL nothing listens on.
async fn unreachable() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    format!("http://{addr}/api")
}

struct T {
    server: Server,
    store: Arc<MemoryStore>,
    exec: Arc<CountingExecutor>,
}

/// A server asking for approval of every action, notifying Slack at `api`.
fn setup(api: &str, approval_timeout: Duration) -> T {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let store = Arc::new(MemoryStore::new());
    let exec = Arc::new(CountingExecutor::default());
    let mut workflow = common::config();
    workflow.approval_timeout = approval_timeout;
    let cfg = ServerConfig {
        api_token: Some(TOKEN.into()),
        slack_signing_secret: Some(SECRET.into()),
        slack_approvers: BTreeMap::from([("U_ALICE".to_string(), "sre".to_string())]),
        slack_bot_token: Some(BOT.into()),
        slack_channel: Some("C1".into()),
        slack_api_url: Some(api.into()),
        workflow,
        ..ServerConfig::default()
    };
    let notifier = SlackNotifier::from_config(&cfg).expect("token and channel are configured");
    let server = Server::builder(cfg, store.clone() as Arc<dyn IncidentStore>)
        .engine(common::engine(Decision::RequiresApproval))
        .executor(exec.clone())
        .notifier(Arc::new(notifier))
        .start();
    T { server, store, exec }
}

impl T {
    async fn send(&self, req: Request<Body>) -> (StatusCode, Value) {
        common::send(&self.server, req).await
    }

    async fn approve_via_api(&self, id: &str, actor: &str) -> (StatusCode, Value) {
        let req = Request::builder()
            .method("POST")
            .uri(format!("/api/v1/incidents/{id}/approve"))
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {TOKEN}"))
            .body(Body::from(json!({"actor": actor}).to_string()))
            .expect("request");
        self.send(req).await
    }

    /// Slack's interaction callback: `user` presses `action_id` carrying `token`, signed now.
    async fn press(&self, user: &str, action_id: &str, token: &str) -> (StatusCode, Value) {
        let payload = json!({"type": "block_actions", "user": {"id": user},
            "actions": [{"action_id": action_id, "value": token, "type": "button"}]});
        let body: String =
            form_urlencoded::Serializer::new(String::new()).append_pair("payload", &payload.to_string()).finish();
        let ts = jiff::Timestamp::now().as_second().to_string();
        let sig = aiops_remediate::slack::sign(SECRET, &ts, body.as_bytes());
        let req = Request::builder()
            .method("POST")
            .uri("/api/v1/slack/interactions")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", ts)
            .header("x-slack-signature", sig)
            .body(Body::from(body))
            .expect("request");
        self.send(req).await
    }

    /// Ingests a firing alert for `pod`, waits until its action awaits approval; the incident id.
    async fn awaiting(&self, pod: &str) -> String {
        let id = ingest(&*self.store, firing(pod)).await;
        self.server.state().wake.notify_one();
        wait_for(&*self.store, &id, |s, _| s == WorkflowState::AwaitingApproval).await;
        id
    }
}

/// Waits until the trail has `n` entries of `kind` (at most 10 s); the trail's kinds.
async fn wait_audit(store: &dyn IncidentStore, id: &str, kind: &str, n: usize) -> Vec<String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let t = trail(store, id).await;
        if t.iter().filter(|k| *k == kind).count() >= n {
            return t;
        }
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {n} {kind}: {t:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The values of the message's buttons, by action id.
fn buttons(blocks: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for b in blocks.as_array().into_iter().flatten().filter(|b| b["type"] == "actions") {
        for e in b["elements"].as_array().into_iter().flatten() {
            if let (Some(id), Some(v)) = (e["action_id"].as_str(), e["value"].as_str()) {
                out.insert(id.to_string(), v.to_string());
            }
        }
    }
    out
}

#[tokio::test]
async fn awaiting_approval_posts_once_and_a_slack_approval_updates_the_message_naming_the_approver() {
    let (slack, api) = FakeSlack::start(Mode::Ok).await;
    let t = setup(&api, Duration::from_secs(3600));
    let id = t.awaiting("web-1").await;
    wait_audit(&*t.store, &id, "approval_notified", 1).await;
    let posts = slack.calls("chat.postMessage");
    assert_eq!(posts.len(), 1, "exactly one request message: {posts:?}");
    let post = &posts[0];
    assert_eq!(post.auth, format!("Bearer {BOT}"));
    assert_eq!(post.body["channel"], "C1");
    let token = t.store.action(&id).await.expect("action").expect("an action").approval_token.expect("a token");
    let expected =
        BTreeMap::from([("approve_action".to_string(), token.clone()), ("reject_action".into(), token.clone())]);
    assert_eq!(buttons(&post.body["blocks"]), expected, "both buttons carry the action's token");
    let audit = t.store.audit(&id).await.expect("audit");
    let notified = audit.iter().find(|e| e.action_type == "approval_notified").expect("the post is audited");
    assert_eq!(
        (notified.details["channel"].as_str(), notified.details["ts"].as_str()),
        (Some("C1"), Some("1700000000.000100"))
    );
    assert!(audit.iter().all(|e| !e.details.to_string().contains(&token)), "the token is not in the audit trail");
    assert_eq!(t.exec.count(), 0, "nothing runs before the approval");

    let (s, v) = t.press("U_ALICE", "approve_action", &token).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let updates = slack.wait("chat.update", 1).await;
    wait_for(&*t.store, &id, |s, a| s == WorkflowState::Verifying && a == Some(ActionStatus::Succeeded)).await;
    assert_eq!(t.exec.count(), 1, "executed once");
    assert_eq!(updates.len(), 1, "{updates:?}");
    let update = &updates[0];
    assert_eq!(update.auth, format!("Bearer {BOT}"));
    assert_eq!((update.body["channel"].as_str(), update.body["ts"].as_str()), (Some("C1"), Some("1700000000.000100")));
    let shown = update.body["blocks"].to_string();
    assert!(shown.contains("Approved by <@U_ALICE> (sre)"), "the update names the approver: {shown}");
    assert!(buttons(&update.body["blocks"]).is_empty(), "no buttons after the decision: {shown}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(slack.calls("chat.postMessage").len(), 1, "still one request message");
    assert_eq!(
        trail(&*t.store, &id).await,
        [
            "created",
            "diagnosed",
            "approval_requested",
            "approval_notifying",
            "approval_notified",
            "approved",
            "approval_message_updated",
            "execution_started",
            "executed"
        ]
    );
}

#[tokio::test]
async fn an_api_rejection_updates_the_message_naming_who_rejected() {
    let (slack, api) = FakeSlack::start(Mode::Ok).await;
    let t = setup(&api, Duration::from_secs(3600));
    let id = t.awaiting("web-1").await;
    wait_audit(&*t.store, &id, "approval_notified", 1).await;
    let req = Request::builder()
        .method("POST")
        .uri(format!("/api/v1/incidents/{id}/reject"))
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(Body::from(json!({"actor": "bob", "reason": "not now"}).to_string()))
        .expect("request");
    let (s, v) = t.send(req).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let updates = slack.wait("chat.update", 1).await;
    let shown = updates[0].body["blocks"].to_string();
    assert!(shown.contains("Rejected by <@bob>"), "{shown}");
    wait_for(&*t.store, &id, |s, _| s == WorkflowState::Escalated).await;
    assert_eq!(t.exec.count(), 0);
}

#[tokio::test]
async fn an_expired_approval_updates_the_message_as_expired() {
    let (slack, api) = FakeSlack::start(Mode::Ok).await;
    let t = setup(&api, Duration::from_millis(500));
    let id = t.awaiting("web-1").await;
    slack.wait("chat.postMessage", 1).await;
    wait_for(&*t.store, &id, |s, a| s == WorkflowState::Escalated && a == Some(ActionStatus::Expired)).await;
    let updates = slack.wait("chat.update", 1).await;
    let shown = updates[0].body["blocks"].to_string();
    assert!(shown.contains("Expired at"), "{shown}");
    assert!(buttons(&updates[0].body["blocks"]).is_empty(), "{shown}");
    let t2 = wait_audit(&*t.store, &id, "approval_message_updated", 1).await;
    assert!(t2.contains(&"approval_expired".to_string()), "{t2:?}");
    assert_eq!(slack.calls("chat.postMessage").len(), 1);
    assert_eq!(t.exec.count(), 0);
}

#[tokio::test]
async fn slack_refusing_the_post_leaves_the_action_decidable_through_the_api_and_audited() {
    let (slack, api) = FakeSlack::start(Mode::ChannelNotFound).await;
    let t = setup(&api, Duration::from_secs(3600));
    let id = t.awaiting("web-1").await;
    // common::config(): 3 attempts, 50 ms apart, then the runner gives up.
    wait_audit(&*t.store, &id, "approval_notify_failed", 3).await;
    let audit = t.store.audit(&id).await.expect("audit");
    let failed: Vec<_> = audit.iter().filter(|e| e.action_type == "approval_notify_failed").collect();
    assert!(
        failed.iter().all(|e| e.details["error"].as_str().is_some_and(|s| s.contains("channel_not_found"))),
        "{failed:?}"
    );
    assert_eq!(
        failed.iter().map(|e| e.details["gave_up"].as_bool()).collect::<Vec<_>>(),
        [Some(false), Some(false), Some(true)]
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(slack.calls("chat.postMessage").len(), 3, "bounded: three attempts, then no more");
    let inc = t.store.get(&id).await.expect("get").expect("exists");
    let a = t.store.action(&id).await.expect("action").expect("an action");
    assert_eq!((inc.workflow_state, a.status), (WorkflowState::AwaitingApproval, ActionStatus::AwaitingApproval));

    let (s, v) = t.approve_via_api(&id, "alice").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    wait_for(&*t.store, &id, |s, a| s == WorkflowState::Verifying && a == Some(ActionStatus::Succeeded)).await;
    assert_eq!(t.exec.count(), 1);
    assert!(slack.calls("chat.update").is_empty(), "nothing was posted, so nothing is updated");
}

#[tokio::test]
async fn slack_unreachable_leaves_the_action_decidable_through_the_api_and_audited() {
    let t = setup(&unreachable().await, Duration::from_secs(3600));
    let id = t.awaiting("web-1").await;
    wait_audit(&*t.store, &id, "approval_notify_failed", 1).await;
    let a = t.store.action(&id).await.expect("action").expect("an action");
    assert_eq!(a.status, ActionStatus::AwaitingApproval);
    let (s, v) = t.approve_via_api(&id, "alice").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    wait_for(&*t.store, &id, |s, a| s == WorkflowState::Verifying && a == Some(ActionStatus::Succeeded)).await;
    assert_eq!(t.exec.count(), 1);
    let audit = t.store.audit(&id).await.expect("audit");
    let failed = audit.iter().find(|e| e.action_type == "approval_notify_failed").expect("audited");
    assert!(failed.details["error"].as_str().is_some_and(|e| e.contains("chat.postMessage")), "{failed:?}");
}

/// The runner stops while chat.postMessage is in flight; after its lease expires, a new runner
/// finds the attempt with no recorded result and does not post again (the message may be out);
/// after a restart the message of a posted request is updated, never posted again.
#[tokio::test]
async fn a_runner_that_died_mid_post_never_posts_again_and_a_restart_never_reposts() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let clock = TestClock::at("2026-03-01T10:05:00Z");
    let exec = Arc::new(CountingExecutor::default());
    let runner = |store: Arc<dyn IncidentStore>, api: &str| {
        let n = SlackNotifier::new(BOT, "C1").with_api(api);
        Runner::new(store, common::engine(Decision::RequiresApproval), Arc::new(Metrics::new()), common::config())
            .executor(exec.clone())
            .clock(clock.clone())
            .notifier(Arc::new(n))
    };
    let store: Arc<dyn IncidentStore> = Arc::new(MemoryStore::new());

    let (hanging, api) = FakeSlack::start(Mode::Hang).await;
    let id = ingest(&*store, firing("web-1")).await;
    let r = runner(store.clone(), &api);
    let task = tokio::spawn(r.run(Arc::new(tokio::sync::Notify::new())));
    hanging.wait("chat.postMessage", 1).await;
    task.abort();
    let _ = task.await;
    clock.advance(Duration::from_secs(31));
    runner(store.clone(), &api).run_until_idle().await.expect("runner 2");
    assert_eq!(hanging.calls("chat.postMessage").len(), 1, "never asked twice");
    let audit = store.audit(&id).await.expect("audit");
    let failed = audit.iter().find(|e| e.action_type == "approval_notify_failed").expect("audited");
    assert_eq!(failed.details["gave_up"], true, "{failed:?}");
    assert_eq!(store.action(&id).await.expect("a").expect("a").status, ActionStatus::AwaitingApproval);

    let (slack, api) = FakeSlack::start(Mode::Ok).await;
    let id2 = ingest(&*store, firing("web-2")).await;
    runner(store.clone(), &api).run_until_idle().await.expect("runner 3");
    assert_eq!(slack.calls("chat.postMessage").len(), 1);
    // A restart: a new runner; the decision wakes the incident, the message is updated once.
    let r4 = runner(store.clone(), &api);
    r4.run_until_idle().await.expect("runner 4");
    assert_eq!(slack.calls("chat.postMessage").len(), 1, "a restart does not post again");
    store.decide(&id2, true, "alice", clock.now()).await.expect("decide");
    r4.run_until_idle().await.expect("runner 4");
    assert_eq!(slack.calls("chat.postMessage").len(), 1);
    let updates = slack.calls("chat.update");
    assert_eq!(updates.len(), 1, "{updates:?}");
    assert!(updates[0].body["blocks"].to_string().contains("Approved by <@alice>"));
    assert_eq!(exec.count(), 1);
}
