//! Approvals: the Slack approver against a local server speaking Slack's Web API wire format
//! (`chat.postMessage`, `chat.update`: JSON bodies, bearer token, `{"ok": true, ...}` answers),
//! with interaction callbacks signed as Slack signs them (`v0=` HMAC-SHA256 over
//! `v0:{timestamp}:{body}`, computed here independently of the library). Forged, stale,
//! replayed, unknown-approver and expired callbacks are refused; the library API decides too.

mod common;

use std::time::Duration;

use aiops_core::model::{ActionType, BlastRadius};
use aiops_remediate::approve::{AllowList, ApprovalBook, ApprovalRequest, ApprovalState, Approver, binding};
use aiops_remediate::slack::{SlackApprover, verify_signature};
use common::{ApiServer, action, api_server};
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use serde_json::{Value, json};

const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const BOT: &str = "xoxb-test-token";

fn now() -> Timestamp {
    "2026-03-04T12:00:00Z".parse().unwrap()
}

/// Signs like Slack: `v0=` + hex(HMAC-SHA256(secret, "v0:{ts}:{body}")).
fn slack_sign(secret: &str, ts: &str, body: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("v0:{ts}:{body}").as_bytes());
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

fn request() -> ApprovalRequest {
    ApprovalRequest {
        incident_id: "inc-1".into(),
        incident_title: "KubePodCrashLooping shop/checkout".into(),
        severity: "high".into(),
        namespace: "shop".into(),
        incident_revision: 1,
        action: action(ActionType::RollbackDeployment, "Deployment/shop/checkout", &[("to_revision", json!(4))]),
        blast: BlastRadius { score: 42.34, affected_pods: 2, ..Default::default() },
        reasons: vec!["production actions require approval".into()],
    }
}

async fn slack() -> (ApiServer, SlackApprover) {
    let ok = json!({"ok": true, "channel": "C0APPROVALS", "ts": "1772625600.000100"});
    let server = api_server(&[("/api/chat.postMessage", "", 200, ok.clone()), ("/api/chat.update", "", 200, ok)]).await;
    let allow = AllowList::from([("U0LEAD".to_string(), "sre-lead".to_string())]);
    let approver = SlackApprover::new(BOT, "#approvals", SECRET, ApprovalBook::new(allow))
        .with_api(&format!("{}/api", server.url));
    (server, approver)
}

/// The interaction callback body Slack posts when `user` clicks `action_id` carrying `token`.
fn callback(user: &str, action_id: &str, token: &str) -> String {
    let payload = json!({
        "type": "block_actions", "user": {"id": user, "username": "lead", "team_id": "T0001"},
        "container": {"type": "message", "message_ts": "1772625600.000100", "channel_id": "C0APPROVALS"},
        "channel": {"id": "C0APPROVALS"},
        "actions": [{"type": "button", "action_id": action_id, "block_id": "b1", "value": token,
                     "action_ts": "1772625660.123456"}],
    });
    form_urlencoded::Serializer::new(String::new()).append_pair("payload", &payload.to_string()).finish()
}

fn ts(t: Timestamp) -> String {
    t.as_second().to_string()
}

#[test]
fn signature_matches_slacks_documented_example() {
    // The example of Slack's "Verifying requests from Slack" guide.
    let body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    let sig = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
    let at = Timestamp::from_second(1531420618).unwrap();
    verify_signature(SECRET, "1531420618", sig, body.as_bytes(), at).unwrap();
    assert_eq!(slack_sign(SECRET, "1531420618", body), sig);
    assert!(verify_signature(SECRET, "1531420618", sig, b"tampered", at).is_err());
}

#[tokio::test]
async fn posts_the_original_layout_with_buttons_bound_to_a_single_use_token() {
    let (server, slack) = slack().await;
    let a = slack.request(&request(), now()).await.unwrap();
    let posts = server.on("/api/chat.postMessage");
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].headers["authorization"], format!("Bearer {BOT}"));
    let body = posts[0].json();
    assert_eq!(body["channel"], "#approvals");
    assert_eq!(body["text"], "🚨 Approval needed: rollback_deployment for KubePodCrashLooping shop/checkout");
    let blocks = body["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["text"]["text"], "🚨 Remediation Approval Required");
    let fields: Vec<&str> =
        blocks[1]["fields"].as_array().unwrap().iter().map(|f| f["text"].as_str().unwrap()).collect();
    assert_eq!(
        fields,
        [
            "*Incident:*\nKubePodCrashLooping shop/checkout",
            "*Severity:*\nhigh",
            "*Namespace:*\nshop",
            "*Action:*\nrollback_deployment"
        ]
    );
    assert_eq!(blocks[2]["fields"][0]["text"], "*Blast Radius:*\n42.3");
    assert_eq!(blocks[2]["fields"][1]["text"], "*Affected Pods:*\n2");
    let buttons = blocks.last().unwrap()["elements"].as_array().unwrap();
    assert_eq!(
        (buttons[0]["action_id"].as_str(), buttons[0]["style"].as_str()),
        (Some("approve_action"), Some("primary"))
    );
    assert_eq!(
        (buttons[1]["action_id"].as_str(), buttons[1]["style"].as_str()),
        (Some("reject_action"), Some("danger"))
    );
    assert!(buttons.iter().all(|b| b["value"] == a.token.as_str()));
    assert_eq!(a.token.len(), 64);
    assert_eq!(a.expires_at, now() + jiff::SignedDuration::from_hours(4), "default expiry 4 h");
    assert_eq!(a.message.as_ref().unwrap()["ts"], "1772625600.000100");
    // The token is bound to the exact action and incident revision.
    let r = request();
    assert_eq!(a.binding, binding(&r.action, 1));
    let mut other = r.action.clone();
    other.parameters.insert("to_revision".into(), json!(3));
    assert_ne!(binding(&other, 1), a.binding);
    assert_ne!(binding(&r.action, 2), a.binding);
}

#[tokio::test]
async fn a_signed_callback_from_an_allowed_user_approves_and_the_message_shows_who() {
    let (server, slack) = slack().await;
    let a = slack.request(&request(), now()).await.unwrap();
    let at = now() + jiff::SignedDuration::from_secs(60);
    let body = callback("U0LEAD", "approve_action", &a.token);
    let decided =
        slack.handle_interaction(&ts(at), &slack_sign(SECRET, &ts(at), &body), body.as_bytes(), at).await.unwrap();
    assert_eq!(decided.state, ApprovalState::Approved);
    assert_eq!((decided.decided_by.as_deref(), decided.role.as_deref()), (Some("U0LEAD"), Some("sre-lead")));
    assert!(decided.authorizes(&request().action, 1));
    assert!(!decided.authorizes(&request().action, 2), "a re-analysed incident needs a new approval");
    let updates = server.on("/api/chat.update");
    assert_eq!(updates.len(), 1);
    let u = updates[0].json();
    assert_eq!((u["channel"].as_str(), u["ts"].as_str()), (Some("C0APPROVALS"), Some("1772625600.000100")));
    let last = u["blocks"].as_array().unwrap().last().unwrap().to_string();
    assert!(last.contains("Approved by <@U0LEAD> (sre-lead)"), "{last}");
    assert!(!u["blocks"].to_string().contains("approve_action"), "buttons removed");
}

#[tokio::test]
async fn forged_stale_replayed_and_unknown_approver_callbacks_are_refused() {
    let (server, slack) = slack().await;
    let a = slack.request(&request(), now()).await.unwrap();
    let at = now() + jiff::SignedDuration::from_secs(30);
    let good = callback("U0LEAD", "approve_action", &a.token);
    // Forged: signed with another secret, or the body changed after signing.
    let forged = slack_sign("not-the-secret", &ts(at), &good);
    let err = slack.handle_interaction(&ts(at), &forged, good.as_bytes(), at).await.unwrap_err();
    assert!(err.to_string().contains("does not match"), "{err}");
    let evil = callback("U0EVIL", "approve_action", &a.token);
    let err =
        slack.handle_interaction(&ts(at), &slack_sign(SECRET, &ts(at), &good), evil.as_bytes(), at).await.unwrap_err();
    assert!(err.to_string().contains("does not match"), "{err}");
    // Stale: a correctly signed request more than 5 minutes old.
    let old = at - jiff::SignedDuration::from_secs(301);
    let err = slack
        .handle_interaction(&ts(old), &slack_sign(SECRET, &ts(old), &good), good.as_bytes(), at)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("stale"), "{err}");
    // Unknown approver, correctly signed.
    let err =
        slack.handle_interaction(&ts(at), &slack_sign(SECRET, &ts(at), &evil), evil.as_bytes(), at).await.unwrap_err();
    assert!(err.to_string().contains("allow-list"), "{err}");
    assert_eq!(slack.book().get(&a.token).unwrap().state, ApprovalState::Pending, "nothing decided yet");
    assert!(server.on("/api/chat.update").is_empty());
    // The real one approves; replaying it (still inside 5 minutes, still correctly signed) is refused.
    let sig = slack_sign(SECRET, &ts(at), &good);
    slack.handle_interaction(&ts(at), &sig, good.as_bytes(), at).await.unwrap();
    let err = slack.handle_interaction(&ts(at), &sig, good.as_bytes(), at).await.unwrap_err();
    assert!(err.to_string().contains("already used"), "{err}");
    let reject = callback("U0LEAD", "reject_action", &a.token);
    let err = slack
        .handle_interaction(&ts(at), &slack_sign(SECRET, &ts(at), &reject), reject.as_bytes(), at)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("already used"), "{err}");
    assert_eq!(slack.book().get(&a.token).unwrap().state, ApprovalState::Approved);
}

#[tokio::test]
async fn an_expired_approval_is_refused_and_shown_as_expired() {
    let (server, slack) = slack().await;
    let a = slack.request(&request(), now()).await.unwrap();
    let late = now() + jiff::SignedDuration::from_hours(4) + jiff::SignedDuration::from_secs(1);
    let body = callback("U0LEAD", "approve_action", &a.token);
    let err = slack
        .handle_interaction(&ts(late), &slack_sign(SECRET, &ts(late), &body), body.as_bytes(), late)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("expired"), "{err}");
    let a = slack.book().get(&a.token).unwrap();
    assert_eq!(a.state, ApprovalState::Expired);
    assert!(!a.authorizes(&request().action, 1));
    let u = server.on("/api/chat.update");
    assert!(u[0].json()["blocks"].to_string().contains("Expired"), "{:?}", u[0].json());
}

#[tokio::test]
async fn pending_approvals_past_their_deadline_expire_for_escalation() {
    let (_server, slack) = slack().await;
    let a = slack.request(&request(), now()).await.unwrap();
    assert!(slack.expire_due(now() + jiff::SignedDuration::from_hours(3)).await.unwrap().is_empty());
    let expired = slack.expire_due(now() + jiff::SignedDuration::from_hours(5)).await.unwrap();
    assert_eq!(expired.iter().map(|e| e.token.clone()).collect::<Vec<_>>(), [a.token]);
}

#[test]
fn the_library_api_approves_and_rejects_with_the_same_rules() {
    let allow = AllowList::from([("alice".to_string(), "sre".to_string())]);
    let book = ApprovalBook::new(allow).with_expiry(Duration::from_secs(600));
    let a = book.issue(&request(), now()).unwrap();
    assert!(book.approve(&a.token, "mallory", now()).is_err());
    let ok = book.approve(&a.token, "alice", now()).unwrap();
    assert_eq!(ok.state, ApprovalState::Approved);
    assert!(book.reject(&a.token, "alice", now()).is_err(), "single use");
    let b = book.issue(&request(), now()).unwrap();
    assert_ne!(a.token, b.token);
    assert_eq!(book.reject(&b.token, "alice", now()).unwrap().state, ApprovalState::Rejected);
    let c = book.issue(&request(), now()).unwrap();
    assert!(book.approve(&c.token, "alice", now() + jiff::SignedDuration::from_secs(600)).is_err());
    assert_eq!(book.get(&c.token).unwrap().state, ApprovalState::Expired);
    assert!(book.approve("no-such-token", "alice", now()).is_err());
}

#[allow(dead_code)]
fn _unused(_: Value) {}
