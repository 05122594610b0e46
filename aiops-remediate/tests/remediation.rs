//! End to end against the simulator (a local server speaking the Kubernetes API's JSON wire
//! format, with writes), a local server speaking Slack's Web API (`chat.postMessage`,
//! `chat.update`; callbacks signed as Slack signs them) and one speaking Jira's create-issue
//! API: analysis -> proposal -> policy -> approval -> execution exactly once -> verification
//! -> closure, every step in a hash-chained audit log that verifies.

mod common;

use std::sync::Arc;
use std::time::Duration;

use aiops_collectors::BundleCollector;
use aiops_core::model::{ActionType, Report};
use aiops_core::traits::Clock;
use aiops_core::{AnalysisInput, Engine};
use aiops_remediate::approve::{AllowList, ApprovalBook, ApprovalState};
use aiops_remediate::audit::{AuditLog, AuditSink};
use aiops_remediate::flow::{Remediator, Stage};
use aiops_remediate::jira::JiraClient;
use aiops_remediate::slack::SlackApprover;
use aiops_remediate::verify::{KubePods, ManualClock, Verifier};
use aiops_remediate::{DefaultPlanner, KubeExecutor, RegoPolicyGate};
use aiops_sim::SimHandle;
use common::{ApiServer, api_server, bundle_json, client, sim_of, writes};
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use serde_json::{Value, json};

const SECRET: &str = "slack-signing-secret";
const WEDNESDAY_NOON: &str = "2026-03-04T12:00:00Z";

async fn analyze(bundle: &Value, env: &str) -> Report {
    let b = aiops_core::parse_bundle(&serde_json::to_vec(bundle).unwrap()).unwrap();
    Engine::builder()
        .collector(BundleCollector::from_bundle(b))
        .rules(aiops_rca::RulesEngine::builtin())
        .runbook(aiops_rca::DefaultRunbook::default())
        .planner(DefaultPlanner)
        .policy_gate(RegoPolicyGate::shipped())
        .build()
        .unwrap()
        .analyze(AnalysisInput { environment: Some(env.into()), ..Default::default() })
        .await
        .unwrap()
}

struct World {
    sim: SimHandle,
    slack_api: ApiServer,
    jira_api: ApiServer,
    slack: SlackApprover,
    audit: AuditLog,
    clock: ManualClock,
    remediator: Remediator,
}

async fn world(bundle: &Value, at: &str, gate: RegoPolicyGate) -> World {
    let sim = sim_of(bundle).await;
    let ok = json!({"ok": true, "channel": "C0APPROVALS", "ts": "1772625600.000100"});
    let slack_api =
        api_server(&[("/api/chat.postMessage", "", 200, ok.clone()), ("/api/chat.update", "", 200, ok)]).await;
    let issue = json!({"id": "10042", "key": "OPS-42", "self": "http://jira/rest/api/2/issue/10042"});
    let jira_api = api_server(&[("/rest/api/2/issue", "", 201, issue)]).await;
    let clock = ManualClock::new(at.parse().unwrap());
    let allow = AllowList::from([("U0LEAD".to_string(), "sre-lead".to_string())]);
    let slack = SlackApprover::new("xoxb-1", "#approvals", SECRET, ApprovalBook::new(allow))
        .with_api(&format!("{}/api", slack_api.url));
    let audit = AuditLog::new().with_clock(Arc::new(clock.clone()));
    let executor = KubeExecutor::new(client(&sim)).live(true).with_clock(Arc::new(clock.clone()));
    let verifier = Verifier::new(Arc::new(KubePods::new(client(&sim))))
        .with_clock(Arc::new(clock.clone()), Arc::new(clock.clone()));
    let remediator = Remediator::new(
        gate,
        Arc::new(slack.clone()),
        executor,
        verifier,
        Arc::new(audit.clone()),
        Arc::new(clock.clone()),
    )
    .with_jira(JiraClient::new(&jira_api.url, "aiops@example.com", "jira-token", "OPS"));
    World { sim, slack_api, jira_api, slack, audit, clock, remediator }
}

fn signed_click(user: &str, action_id: &str, token: &str, at: Timestamp) -> (String, String, String) {
    let payload = json!({"type": "block_actions", "user": {"id": user},
        "actions": [{"type": "button", "action_id": action_id, "value": token}]});
    let body = form_urlencoded::Serializer::new(String::new()).append_pair("payload", &payload.to_string()).finish();
    let ts = at.as_second().to_string();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("v0:{ts}:{body}").as_bytes());
    (ts, format!("v0={}", hex::encode(mac.finalize().into_bytes())), body)
}

fn steps(audit: &AuditLog) -> Vec<String> {
    audit.records().into_iter().map(|r| r.step).collect()
}

fn checkout_ready(sim: &SimHandle) -> bool {
    let pods: Vec<Value> =
        sim.objects("v1", "Pod").into_iter().filter(|p| p["metadata"]["labels"]["app"] == "checkout").collect();
    !pods.is_empty() && pods.iter().all(aiops_remediate::plan::pod_is_healthy)
}

#[tokio::test]
async fn prod_bad_deploy_is_rolled_back_after_a_signed_slack_approval_exactly_once() {
    let bundle = bundle_json("crashloop-bad-deploy");
    let report = analyze(&bundle, "prod").await;
    let w = world(&bundle, WEDNESDAY_NOON, RegoPolicyGate::shipped()).await;
    let run = w.remediator.start(&report, 1).await.unwrap();
    assert_eq!(run.stage, Stage::AwaitingApproval, "{:?}", run.decision);
    assert_eq!(run.action.as_ref().unwrap().action, ActionType::RollbackDeployment);
    assert!(writes(&w.sim).is_empty(), "nothing runs before the approval");
    let token = run.approval.as_ref().unwrap().token.clone();
    let posted = w.slack_api.on("/api/chat.postMessage")[0].json();
    assert!(posted["blocks"].to_string().contains(&token));
    // The SRE lead clicks Approve a minute later; Slack posts the signed callback.
    w.clock.advance(Duration::from_secs(60));
    let (ts, sig, body) = signed_click("U0LEAD", "approve_action", &token, w.clock.now());
    let approval = w.slack.handle_interaction(&ts, &sig, body.as_bytes(), w.clock.now()).await.unwrap();
    assert_eq!(approval.state, ApprovalState::Approved);
    let run = w.remediator.resume(&report, run, &approval).await.unwrap();
    assert_eq!(run.stage, Stage::Resolved, "{:?}", run.notes);
    let patches: Vec<_> = writes(&w.sim);
    assert_eq!(patches.len(), 1, "{patches:?}");
    assert_eq!(patches[0].path, "/apis/apps/v1/namespaces/shop/deployments/checkout");
    assert!(checkout_ready(&w.sim));
    let v = run.verification.as_ref().unwrap();
    assert!(v.success && v.waited_secs == 120, "{v:?}");
    // A replayed callback is refused, and nothing runs again.
    assert!(w.slack.handle_interaction(&ts, &sig, body.as_bytes(), w.clock.now()).await.is_err());
    assert!(w.remediator.resume(&report, run.clone(), &approval).await.is_err());
    assert_eq!(writes(&w.sim).len(), 1);
    let s = steps(&w.audit);
    for step in
        ["evidence", "hypotheses", "policy", "approval_requested", "approval", "execution", "verification", "closure"]
    {
        assert!(s.contains(&step.to_string()), "{step} audited: {s:?}");
    }
    let approval_rec = w.audit.records().into_iter().find(|r| r.step == "approval").unwrap();
    assert_eq!(approval_rec.data["by"], "U0LEAD");
    w.audit.verify().unwrap();
    // Tampering with the approval record is detected.
    let mut records = w.audit.records();
    records.iter_mut().find(|r| r.step == "approval").unwrap().data["by"] = json!("U0EVIL");
    assert!(aiops_remediate::audit::verify(&records, None).is_err());
}

#[tokio::test]
async fn dev_is_auto_approved_and_executed() {
    let bundle = bundle_json("crashloop-bad-deploy");
    let report = analyze(&bundle, "dev").await;
    let w = world(&bundle, WEDNESDAY_NOON, RegoPolicyGate::shipped()).await;
    let run = w.remediator.start(&report, 1).await.unwrap();
    assert_eq!(run.stage, Stage::Resolved, "{:?} {:?}", run.decision, run.notes);
    assert_eq!(run.approval.as_ref().unwrap().decided_by.as_deref(), Some("policy"));
    assert!(w.slack_api.on("/api/chat.postMessage").is_empty(), "no human asked");
    assert_eq!(writes(&w.sim).len(), 1);
    assert!(checkout_ready(&w.sim));
    w.audit.verify().unwrap();
}

async fn denied(bundle: &Value, env: &str, at: &str, gate: RegoPolicyGate) -> (Vec<String>, World) {
    let report = analyze(bundle, env).await;
    let w = world(bundle, at, gate).await;
    let run = w.remediator.start(&report, 1).await.unwrap();
    assert_eq!(run.stage, Stage::Denied, "{:?}", run.decision);
    assert!(writes(&w.sim).is_empty());
    assert!(w.slack_api.on("/api/chat.postMessage").is_empty());
    w.audit.verify().unwrap();
    (run.notes, w)
}

#[tokio::test]
async fn kube_system_is_denied_with_its_reason() {
    let text =
        serde_json::to_string(&bundle_json("crashloop-bad-deploy")).unwrap().replace("\"shop\"", "\"kube-system\"");
    let bundle: Value = serde_json::from_str(&text).unwrap();
    let (reasons, _) = denied(&bundle, "prod", WEDNESDAY_NOON, RegoPolicyGate::shipped()).await;
    assert!(reasons.iter().any(|r| r == "Namespace kube-system is protected"), "{reasons:?}");
}

#[tokio::test]
async fn the_freeze_window_is_denied() {
    let bundle = bundle_json("crashloop-bad-deploy");
    let (reasons, _) = denied(&bundle, "prod", "2026-03-04T23:00:00Z", RegoPolicyGate::shipped()).await;
    assert!(reasons.iter().any(|r| r.contains("freeze window")), "{reasons:?}");
    let (reasons, _) = denied(&bundle, "prod", "2026-03-07T12:00:00Z", RegoPolicyGate::shipped()).await;
    assert!(reasons.iter().any(|r| r.contains("freeze window")), "a Saturday: {reasons:?}");
}

#[tokio::test]
async fn a_blast_radius_over_the_threshold_is_denied() {
    let bundle = bundle_json("crashloop-bad-deploy");
    let gate = RegoPolicyGate::shipped().with_data(json!({"aiops": {"max_blast_radius": 10}})).unwrap();
    let (reasons, _) = denied(&bundle, "prod", WEDNESDAY_NOON, gate).await;
    assert!(
        reasons.iter().any(|r| r.starts_with("Blast radius score") && r.ends_with("exceeds threshold")),
        "{reasons:?}"
    );
}

#[tokio::test]
async fn an_expired_approval_never_executes_and_escalates() {
    let bundle = bundle_json("crashloop-bad-deploy");
    let report = analyze(&bundle, "prod").await;
    let w = world(&bundle, WEDNESDAY_NOON, RegoPolicyGate::shipped()).await;
    let run = w.remediator.start(&report, 1).await.unwrap();
    let approval = run.approval.clone().unwrap();
    w.clock.advance(Duration::from_secs(4 * 3600 + 1));
    let run = w.remediator.resume(&report, run, &approval).await.unwrap();
    assert_eq!(run.stage, Stage::Escalated);
    assert!(run.notes.iter().any(|n| n.contains("expired")), "{:?}", run.notes);
    assert!(writes(&w.sim).is_empty());
    assert_eq!(run.ticket.as_ref().unwrap().key, "OPS-42");
}

#[tokio::test]
async fn a_failed_verification_escalates_with_a_jira_issue_and_opens_the_breaker() {
    let bundle = bundle_json("crashloop-bad-deploy");
    let mut report = analyze(&bundle, "dev").await;
    // A restart does not cure a bad deploy: the new pods crash again.
    let rem = report.remediation.as_mut().unwrap();
    rem.action = ActionType::RestartDeployment;
    rem.parameters.clear();
    rem.idempotency_key = format!("{}:restart_deployment:Deployment/shop/checkout", report.incident.id);
    let w = world(&bundle, WEDNESDAY_NOON, RegoPolicyGate::shipped()).await;
    let run = w.remediator.start(&report, 1).await.unwrap();
    assert_eq!(run.stage, Stage::Escalated, "{:?}", run.notes);
    assert!(!run.verification.as_ref().unwrap().success);
    assert_eq!(writes(&w.sim).len(), 1, "executed once");
    let t = run.ticket.clone().unwrap();
    assert_eq!((t.key.as_str(), t.url.as_str()), ("OPS-42", format!("{}/browse/OPS-42", w.jira_api.url).as_str()));
    let req = &w.jira_api.on("/rest/api/2/issue")[0];
    assert_eq!(req.method, "POST");
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode("aiops@example.com:jira-token");
    assert_eq!(req.headers["authorization"], format!("Basic {basic}"));
    let f = &req.json()["fields"];
    assert_eq!(f["project"]["key"], "OPS");
    assert_eq!(f["summary"], format!("[Incident] {}", report.incident.title));
    assert_eq!(f["issuetype"]["name"], "Bug");
    assert_eq!(f["priority"]["name"], aiops_remediate::jira::priority(report.incident.severity));
    let d = f["description"].as_str().unwrap();
    for part in [
        "h2. Incident Details",
        "h2. Root Cause Analysis",
        "h2. Recommended Actions",
        "h2. Remediation",
        "h2. Runbook",
        "verification failed",
    ] {
        assert!(d.contains(part), "{part}: {d}");
    }
    assert!(d.contains("kubectl"), "the runbook's commands are in the description: {d}");
    assert!(w.audit.records().iter().any(|r| r.step == "closure" && r.data["ticket"]["key"] == "OPS-42"));
    // The target's last remediation failed verification: no further automatic action on it.
    let rem = report.remediation.as_mut().unwrap();
    rem.idempotency_key.push_str(":retry");
    let again = w.remediator.start(&report, 2).await.unwrap();
    assert_eq!(again.stage, Stage::Escalated);
    assert!(again.notes.iter().any(|n| n.contains("failed verification")), "{:?}", again.notes);
    assert_eq!(writes(&w.sim).len(), 1);
    w.audit.verify().unwrap();
}
