//! Human decisions through the HTTP API and Slack (tower `oneshot` on the router, the workflow
//! runner in the background with a counting executor): the incident's actions, approve (the
//! action executes exactly once), reject (escalated), a second decision (409), no credentials
//! (401), and Slack's interaction callback: a valid signature from an allow-listed user decides;
//! a bad signature, a stale timestamp, a user off the allow-list, an unknown, replayed or
//! expired token are refused with their 4xx and change nothing.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aiops_core::Decision;
use aiops_server::store::{ActionStatus, IncidentStore, MemoryStore, WorkflowState};
use aiops_server::{Server, ServerConfig};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{CountingExecutor, firing, ingest, trail, wait_for};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const TOKEN: &str = "api-secret";

struct T {
    server: Server,
    store: Arc<MemoryStore>,
    exec: Arc<CountingExecutor>,
}

/// A server whose runner asks for approval of every action; the poll interval is long, so
/// only a wake-up (an ingest, a decision) moves incidents on quickly.
fn setup(approval_timeout: Duration) -> T {
    let store = Arc::new(MemoryStore::new());
    let exec = Arc::new(CountingExecutor::default());
    let mut workflow = common::config();
    workflow.poll = Duration::from_secs(120);
    workflow.approval_timeout = approval_timeout;
    let cfg = ServerConfig {
        api_token: Some(TOKEN.into()),
        slack_signing_secret: Some(SECRET.into()),
        slack_approvers: BTreeMap::from([("U_ALICE".to_string(), "sre".to_string())]),
        workflow,
        ..ServerConfig::default()
    };
    let server = Server::builder(cfg, store.clone() as Arc<dyn IncidentStore>)
        .engine(common::engine(Decision::RequiresApproval))
        .executor(exec.clone())
        .start();
    T { server, store, exec }
}

impl T {
    async fn send(&self, req: Request<Body>) -> (StatusCode, Value) {
        common::send(&self.server, req).await
    }

    async fn call(&self, method: &str, uri: &str, body: Value, auth: bool) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(uri).header("content-type", "application/json");
        if auth {
            req = req.header("authorization", format!("Bearer {TOKEN}"));
        }
        let body = if body.is_null() { Body::empty() } else { Body::from(body.to_string()) };
        self.send(req.body(body).expect("request")).await
    }

    /// Ingests a firing alert and waits until its action waits for approval.
    async fn awaiting(&self, pod: &str) -> String {
        let id = ingest(&*self.store, firing(pod)).await;
        self.server.state().wake.notify_one();
        wait_for(&*self.store, &id, |s, _| s == WorkflowState::AwaitingApproval).await;
        id
    }

    async fn token(&self, id: &str) -> String {
        let a = self.store.action(id).await.expect("action").expect("an action");
        a.approval_token.expect("a token")
    }

    /// A Slack callback pressing `action_id` with `token` as `user`, signed at `ts` with `secret`.
    async fn slack(&self, user: &str, action_id: &str, token: &str, ts: i64, secret: &str) -> (StatusCode, Value) {
        let payload = json!({"type": "block_actions", "user": {"id": user, "username": "someone"},
            "actions": [{"action_id": action_id, "value": token, "type": "button"}]});
        let body: String =
            form_urlencoded::Serializer::new(String::new()).append_pair("payload", &payload.to_string()).finish();
        let sig = aiops_remediate::slack::sign(secret, &ts.to_string(), body.as_bytes());
        let req = Request::builder()
            .method("POST")
            .uri("/api/v1/slack/interactions")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", ts.to_string())
            .header("x-slack-signature", sig)
            .body(Body::from(body))
            .expect("request");
        self.send(req).await
    }

    async fn status(&self, id: &str) -> (WorkflowState, ActionStatus) {
        let inc = self.store.get(id).await.expect("get").expect("exists");
        let a = self.store.action(id).await.expect("action").expect("an action");
        (inc.workflow_state, a.status)
    }
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

#[tokio::test]
async fn actions_list_then_approve_executes_exactly_once_and_a_second_decision_is_409() {
    let t = setup(Duration::from_secs(3600));
    let id = t.awaiting("web-1").await;
    let (s, list) = t.call("GET", &format!("/api/v1/incidents/{id}/actions"), Value::Null, true).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let list = list.as_array().expect("an array").clone();
    assert_eq!(list.len(), 1, "{list:?}");
    let a = &list[0];
    assert_eq!(a["status"], "awaiting_approval");
    assert_eq!(a["decision"], "requires_approval");
    assert_eq!(a["blast_radius"], 5.0);
    assert_eq!(a["action"]["action"], "restart_pod");
    assert!(a["approval_deadline"].is_string(), "{a}");
    assert_eq!(a["approval_token"].as_str().map(str::len), Some(64), "{a}");
    assert_eq!(t.exec.count(), 0, "nothing runs before the approval");

    let body = json!({"actor": "alice", "reason": "restart is safe"});
    let (s, v) = t.call("POST", &format!("/api/v1/incidents/{id}/approve"), body.clone(), true).await;
    assert_eq!((s, v["status"].as_str(), v["decided_by"].as_str()), (StatusCode::OK, Some("approved"), Some("alice")));
    // The decision woke the runner (its poll interval is two minutes).
    wait_for(&*t.store, &id, |s, a| s == WorkflowState::Verifying && a == Some(ActionStatus::Succeeded)).await;
    assert_eq!(t.exec.count(), 1, "executed exactly once");

    for path in ["approve", "reject"] {
        let (s, v) = t.call("POST", &format!("/api/v1/incidents/{id}/{path}"), body.clone(), true).await;
        assert_eq!((s, v["code"].as_str()), (StatusCode::CONFLICT, Some("not_awaiting_approval")), "{v}");
        assert_eq!(v["action"]["status"], "succeeded", "{v}");
        assert_eq!(v["detail"], "the action is succeeded, not awaiting approval", "{v}");
    }
    let audit = t.store.audit(&id).await.expect("audit");
    let approved: Vec<_> = audit.iter().filter(|e| e.action_type == "approved").collect();
    assert_eq!(approved.len(), 1);
    assert_eq!(approved[0].actor, "alice");
    assert_eq!(approved[0].details["reason"], "restart is safe");
    assert_eq!(approved[0].details["via"], "api");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(t.exec.count(), 1, "still exactly once");
    assert_eq!(
        trail(&*t.store, &id).await,
        ["created", "diagnosed", "approval_requested", "approved", "execution_started", "executed"]
    );
}

#[tokio::test]
async fn reject_escalates_and_nothing_runs() {
    let t = setup(Duration::from_secs(3600));
    let id = t.awaiting("web-1").await;
    let (s, v) = t
        .call("POST", &format!("/api/v1/incidents/{id}/reject"), json!({"actor": "bob", "reason": "peak"}), true)
        .await;
    assert_eq!((s, v["status"].as_str()), (StatusCode::OK, Some("rejected")), "{v}");
    wait_for(&*t.store, &id, |s, _| s == WorkflowState::Escalated).await;
    assert_eq!(t.status(&id).await, (WorkflowState::Escalated, ActionStatus::Rejected));
    assert_eq!(t.exec.count(), 0);
    let audit = t.store.audit(&id).await.expect("audit");
    let rejected = audit.iter().find(|e| e.action_type == "rejected").expect("a rejected entry");
    assert_eq!((rejected.actor.as_str(), &rejected.details["reason"]), ("bob", &json!("peak")));
    assert_eq!(audit.last().map(|e| e.action_type.as_str()), Some("remediation_rejected"));
    let (s, v) = t.call("POST", &format!("/api/v1/incidents/{id}/approve"), json!({"actor": "bob"}), true).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::CONFLICT, Some("not_awaiting_approval")));
}

#[tokio::test]
async fn decisions_need_credentials_an_actor_and_a_known_incident() {
    let t = setup(Duration::from_secs(3600));
    let id = t.awaiting("web-1").await;
    let before = t.store.audit(&id).await.expect("audit");
    for (method, path) in [("GET", "actions"), ("POST", "approve"), ("POST", "reject")] {
        let (s, v) = t.call(method, &format!("/api/v1/incidents/{id}/{path}"), json!({"actor": "eve"}), false).await;
        assert_eq!((s, v["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthorized")), "{path}: {v}");
        let (s, v) = t.call(method, &format!("/api/v1/incidents/nope/{path}"), json!({"actor": "eve"}), true).await;
        assert_eq!((s, v["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "{path}: {v}");
    }
    for body in [Value::Null, json!({}), json!({"actor": "  "}), json!({"actor": 5})] {
        let (s, v) = t.call("POST", &format!("/api/v1/incidents/{id}/approve"), body.clone(), true).await;
        assert_eq!((s, v["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("validation_error")), "{body}");
    }
    let (s, v) = t.call("POST", &format!("/api/v1/incidents/{id}/approve"), json!("{"), true).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(t.status(&id).await, (WorkflowState::AwaitingApproval, ActionStatus::AwaitingApproval));
    assert_eq!(t.store.audit(&id).await.expect("audit"), before, "nothing changed");
    assert_eq!(t.exec.count(), 0);

    // An incident with nothing to decide.
    let bare = Server::new(ServerConfig::default(), Arc::new(MemoryStore::new()), None);
    let store = bare.state().store.clone();
    let id = ingest(&*store, firing("web-2")).await;
    let req = Request::builder()
        .method("POST")
        .uri(format!("/api/v1/incidents/{id}/approve"))
        .body(Body::from(json!({"actor": "alice"}).to_string()))
        .expect("request");
    let resp = bare.router().oneshot(req).await.expect("router");
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let v: Value = serde_json::from_slice(&resp.into_body().collect().await.expect("body").to_bytes()).expect("json");
    assert_eq!((v["code"].as_str(), &v["action"]), (Some("not_awaiting_approval"), &Value::Null));
}

#[tokio::test]
async fn slack_callback_with_a_valid_signature_approves_once() {
    let t = setup(Duration::from_secs(3600));
    let id = t.awaiting("web-1").await;
    let token = t.token(&id).await;
    let (s, v) = t.slack("U_ALICE", "approve_action", &token, now(), SECRET).await;
    assert_eq!((s, v["status"].as_str()), (StatusCode::OK, Some("approved")), "{v}");
    assert!(v["text"].as_str().is_some_and(|t| t.contains("<@U_ALICE>")), "{v}");
    wait_for(&*t.store, &id, |s, a| s == WorkflowState::Verifying && a == Some(ActionStatus::Succeeded)).await;
    assert_eq!(t.exec.count(), 1);
    let audit = t.store.audit(&id).await.expect("audit");
    let approved = audit.iter().find(|e| e.action_type == "approved").expect("approved");
    assert_eq!(approved.actor, "U_ALICE");
    assert_eq!((&approved.details["via"], &approved.details["role"]), (&json!("slack"), &json!("sre")));
    assert!(!approved.details.to_string().contains(&token), "the token is not in the audit trail");

    // The same button again (a replay, even freshly signed) is refused.
    let (s, v) = t.slack("U_ALICE", "reject_action", &token, now(), SECRET).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::CONFLICT, Some("not_awaiting_approval")), "{v}");
    assert_eq!(t.status(&id).await.1, ActionStatus::Succeeded);
    assert_eq!(t.exec.count(), 1);
}

#[tokio::test]
async fn slack_callback_refusals_change_nothing() {
    let t = setup(Duration::from_secs(3600));
    let id = t.awaiting("web-1").await;
    let token = t.token(&id).await;
    let before = t.store.audit(&id).await.expect("audit");
    let cases: Vec<(&str, String, i64, &str, StatusCode, &str)> = vec![
        ("U_ALICE", token.clone(), now(), "wrong-secret", StatusCode::UNAUTHORIZED, "invalid_signature"),
        ("U_ALICE", token.clone(), now() - 301, SECRET, StatusCode::UNAUTHORIZED, "stale_request"),
        ("U_ALICE", token.clone(), now() + 600, SECRET, StatusCode::UNAUTHORIZED, "stale_request"),
        ("U_MALLORY", token.clone(), now(), SECRET, StatusCode::FORBIDDEN, "approver_not_allowed"),
        ("U_ALICE", "0".repeat(64), now(), SECRET, StatusCode::NOT_FOUND, "unknown_token"),
    ];
    for (user, tok, ts, secret, status, code) in cases {
        let (s, v) = t.slack(user, "approve_action", &tok, ts, secret).await;
        assert_eq!((s, v["code"].as_str()), (status, Some(code)), "{user} {ts} {secret}: {v}");
    }
    // A body that is not what was signed, missing headers, an unknown button, no payload.
    let good = |body: &str, ts: i64| {
        Request::builder()
            .method("POST")
            .uri("/api/v1/slack/interactions")
            .header("x-slack-request-timestamp", ts.to_string())
            .header("x-slack-signature", aiops_remediate::slack::sign(SECRET, &ts.to_string(), body.as_bytes()))
    };
    let (s, v) = t.send(good("payload=%7B%7D", now()).body(Body::from("payload=%7B%7D%20")).expect("req")).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_signature")), "{v}");
    let bare = Request::builder().method("POST").uri("/api/v1/slack/interactions").body(Body::from("payload=x"));
    let (s, v) = t.send(bare.expect("req")).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_signature")), "{v}");
    let (s, v) = t.slack("U_ALICE", "delete_everything", &token, now(), SECRET).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_payload")), "{v}");
    let (s, v) = t.send(good("nothing=1", now()).body(Body::from("nothing=1")).expect("req")).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_payload")), "{v}");

    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(t.status(&id).await, (WorkflowState::AwaitingApproval, ActionStatus::AwaitingApproval));
    assert_eq!(t.store.audit(&id).await.expect("audit"), before, "nothing changed");
    assert_eq!(t.exec.count(), 0);
    // The allow-listed user can still decide afterwards.
    let (s, v) = t.slack("U_ALICE", "reject_action", &token, now(), SECRET).await;
    assert_eq!((s, v["status"].as_str()), (StatusCode::OK, Some("rejected")), "{v}");
    wait_for(&*t.store, &id, |s, _| s == WorkflowState::Escalated).await;
    assert_eq!(t.exec.count(), 0);
}

#[tokio::test]
async fn slack_callback_with_an_expired_token_is_refused() {
    let t = setup(Duration::from_millis(300));
    let id = t.awaiting("web-1").await;
    let token = t.token(&id).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (s, v) = t.slack("U_ALICE", "approve_action", &token, now(), SECRET).await;
    assert_eq!((s, v["code"].as_str()), (StatusCode::CONFLICT, Some("not_awaiting_approval")), "{v}");
    let detail = v["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("deadline") || detail.contains("expired"), "{v}");
    let a = t.store.action(&id).await.expect("action").expect("an action");
    assert!(matches!(a.status, ActionStatus::AwaitingApproval | ActionStatus::Expired), "{a:?}");
    assert_eq!(a.decided_by, None);
    assert_eq!(t.exec.count(), 0);
}

#[tokio::test]
async fn without_a_signing_secret_the_slack_endpoint_is_off_and_openapi_lists_the_routes() {
    let server = Server::new(ServerConfig::default(), Arc::new(MemoryStore::new()), None);
    let req = Request::builder().method("POST").uri("/api/v1/slack/interactions").body(Body::from("payload=x"));
    let resp = server.router().oneshot(req.expect("req")).await.expect("router");
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let v: Value = serde_json::from_slice(&resp.into_body().collect().await.expect("b").to_bytes()).expect("json");
    assert_eq!(v["code"], "slack_not_configured");
    let req = Request::builder().uri("/openapi.json").body(Body::empty()).expect("req");
    let resp = server.router().oneshot(req).await.expect("router");
    let doc: Value = serde_json::from_slice(&resp.into_body().collect().await.expect("b").to_bytes()).expect("json");
    let paths = &doc["paths"];
    assert!(paths["/api/v1/incidents/{id}/actions"]["get"].is_object(), "{paths}");
    assert_eq!(
        paths["/api/v1/incidents/{id}/approve"]["post"]["responses"]["409"]["description"]
            .as_str()
            .map(|d| d.starts_with("not_awaiting_approval")),
        Some(true)
    );
    assert!(paths["/api/v1/incidents/{id}/reject"]["post"]["requestBody"].is_object());
    assert!(paths["/api/v1/slack/interactions"]["post"]["responses"]["401"].is_object());
}
