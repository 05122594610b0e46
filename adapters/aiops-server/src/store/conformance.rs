//! The [`IncidentStore`] conformance suite: every backend's tests call [`run_all`] (feature
//! `conformance`). Each check needs an empty store; `fresh` makes one.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aiops_core::traits::ExecutionOutcome;
use aiops_core::{ActionType, Alert, Decision, IncidentSource, IncidentStatus, RemediationAction, ResourceRef};
use jiff::Timestamp;

use super::{
    ActionRecord, ActionStatus, Decided, DedupPolicy, HumanDecision, IncidentStore, Incoming, ListFilter, Outcome,
    StatusChange, Step, VerificationRecord, WorkflowState, after,
};

/// A firing (or resolved) Alertmanager alert for a pod, in group `group`.
pub fn alert(name: &str, pod: &str, status: &str, group: Option<&str>, at: &str) -> Incoming {
    let mut labels = BTreeMap::new();
    labels.insert("alertname".to_string(), name.to_string());
    labels.insert("namespace".to_string(), "shop".to_string());
    labels.insert("pod".to_string(), pod.to_string());
    labels.insert("severity".to_string(), "critical".to_string());
    let t: Timestamp = at.parse().expect("test timestamp");
    let a = Alert {
        source: IncidentSource::Alertmanager,
        status: status.to_string(),
        alertname: name.to_string(),
        labels,
        annotations: BTreeMap::new(),
        starts_at: Some("2026-03-01T10:00:00Z".parse().expect("ts")),
        ends_at: None,
        group_key: group.map(str::to_string),
        source_fingerprint: None,
    };
    Incoming::from_alert(a, t)
}

fn policy() -> DedupPolicy {
    DedupPolicy { window: Duration::from_secs(4 * 3600) }
}

async fn one(store: &dyn IncidentStore, inc: Incoming) -> Outcome {
    let out = store.ingest(&[inc], &policy()).await.expect("ingest");
    assert_eq!(out.len(), 1);
    out[0].clone()
}

/// Runs every check, each on a fresh store.
pub async fn run_all<F, Fut>(fresh: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn IncidentStore>>,
{
    dedup_within_window(&*fresh().await).await;
    resolved_alert_resolves(&*fresh().await).await;
    group_attaches(&*fresh().await).await;
    batch_outcomes_in_order(&*fresh().await).await;
    list_get_and_status_changes(&*fresh().await).await;
    workflow_claims_and_leases(&*fresh().await).await;
    approval_timers_and_decisions(&*fresh().await).await;
    actions_and_verifications(&*fresh().await).await;
    approval_tokens_bind_decisions(&*fresh().await).await;
    batch_repeats_and_window(&*fresh().await).await;
    batch_fire_resolve_fire(&*fresh().await).await;
    batch_group_attach_and_resolve(&*fresh().await).await;
    batch_equals_one_at_a_time(&*fresh().await, &*fresh().await).await;
}

/// A repeat within the window deduplicates; after the window it opens a new incident.
pub async fn dedup_within_window(s: &dyn IncidentStore) {
    let Outcome::Created(id) = one(s, alert("KubePodCrashLooping", "p1", "firing", None, "2026-03-01T10:01:00Z")).await
    else {
        panic!("first alert must create")
    };
    let o = one(s, alert("KubePodCrashLooping", "p1", "firing", None, "2026-03-01T13:00:00Z")).await;
    assert_eq!(o, Outcome::Deduplicated(id.clone()));
    let inc = s.get(&id).await.expect("get").expect("exists");
    assert_eq!(inc.alert_count, 2);
    assert_eq!(inc.last_seen_at.to_string(), "2026-03-01T13:00:00Z");
    // 4 h after the last repeat: a new incident.
    let o = one(s, alert("KubePodCrashLooping", "p1", "firing", None, "2026-03-01T17:00:01Z")).await;
    let Outcome::Created(id2) = o else { panic!("after the window a new incident: {o:?}") };
    assert_ne!(id, id2);
    // Another pod is another incident.
    assert!(matches!(
        one(s, alert("KubePodCrashLooping", "p2", "firing", None, "2026-03-01T17:00:02Z")).await,
        Outcome::Created(_)
    ));
}

/// A resolved alert resolves its incident; a later firing opens a new one.
pub async fn resolved_alert_resolves(s: &dyn IncidentStore) {
    let Outcome::Created(id) = one(s, alert("A", "p1", "firing", None, "2026-03-01T10:01:00Z")).await else {
        panic!("create")
    };
    assert_eq!(one(s, alert("A", "p9", "resolved", None, "2026-03-01T10:02:00Z")).await, Outcome::Unmatched);
    assert_eq!(one(s, alert("A", "p1", "resolved", None, "2026-03-01T10:03:00Z")).await, Outcome::Resolved(id.clone()));
    let inc = s.get(&id).await.expect("get").expect("exists");
    assert_eq!(inc.incident.status, IncidentStatus::Resolved);
    assert_eq!(inc.resolved_at.map(|t| t.to_string()).as_deref(), Some("2026-03-01T10:03:00Z"));
    assert_eq!(one(s, alert("A", "p1", "resolved", None, "2026-03-01T10:04:00Z")).await, Outcome::Unmatched);
    let o = one(s, alert("A", "p1", "firing", None, "2026-03-01T10:05:00Z")).await;
    let Outcome::Created(id2) = o else { panic!("refire creates: {o:?}") };
    assert_ne!(id, id2, "a re-fire with the same startsAt gets a fresh id");
}

/// Alerts of one group attach to one incident, which resolves when all of them resolved.
pub async fn group_attaches(s: &dyn IncidentStore) {
    let g = Some("{}:{alertname=\"A\"}");
    let Outcome::Created(id) = one(s, alert("A", "p1", "firing", g, "2026-03-01T10:01:00Z")).await else {
        panic!("create")
    };
    assert_eq!(one(s, alert("A", "p2", "firing", g, "2026-03-01T10:02:00Z")).await, Outcome::Attached(id.clone()));
    assert_eq!(one(s, alert("A", "p2", "firing", g, "2026-03-01T10:03:00Z")).await, Outcome::Deduplicated(id.clone()));
    assert_eq!(
        one(s, alert("A", "p1", "resolved", g, "2026-03-01T10:04:00Z")).await,
        Outcome::AlertResolved(id.clone())
    );
    assert!(s.get(&id).await.expect("get").expect("exists").is_open());
    assert_eq!(one(s, alert("A", "p2", "resolved", g, "2026-03-01T10:05:00Z")).await, Outcome::Resolved(id.clone()));
    assert_eq!(s.get(&id).await.expect("get").expect("exists").alert_count, 3);
}

/// One batch: outcomes in order, later alerts see earlier ones.
pub async fn batch_outcomes_in_order(s: &dyn IncidentStore) {
    let batch = vec![
        alert("B", "p1", "firing", None, "2026-03-01T10:01:00Z"),
        alert("B", "p1", "firing", None, "2026-03-01T10:01:00Z"),
        alert("B", "p2", "firing", None, "2026-03-01T10:01:00Z"),
        alert("B", "p1", "resolved", None, "2026-03-01T10:01:00Z"),
    ];
    let out = s.ingest(&batch, &policy()).await.expect("ingest");
    assert_eq!(out.len(), 4);
    let Outcome::Created(a) = &out[0] else { panic!("{out:?}") };
    assert_eq!(out[1], Outcome::Deduplicated(a.clone()));
    assert!(matches!(&out[2], Outcome::Created(b) if b != a));
    assert_eq!(out[3], Outcome::Resolved(a.clone()));
}

/// Listing with filters, acknowledge and resolve by hand, audit trail.
pub async fn list_get_and_status_changes(s: &dyn IncidentStore) {
    for (i, pod) in ["p1", "p2", "p3"].iter().enumerate() {
        let at = format!("2026-03-01T10:0{i}:00Z");
        let mut inc = alert("C", pod, "firing", None, &at);
        inc.incident.started_at = at.parse().expect("ts");
        assert!(matches!(one(s, inc).await, Outcome::Created(_)));
    }
    let all = s.list(&ListFilter::default()).await.expect("list");
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].incident.pod.as_deref(), Some("p3"), "newest first");
    let page = s.list(&ListFilter { limit: Some(1), offset: Some(1), ..ListFilter::default() }).await.expect("list");
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].incident.pod.as_deref(), Some("p2"));
    let id = all[0].incident.id.clone();
    let at: Timestamp = "2026-03-01T11:00:00Z".parse().expect("ts");
    let acked = s.change_status(&id, StatusChange::Acknowledge, "alice", at).await.expect("ack").expect("exists");
    assert_eq!(acked.incident.status, IncidentStatus::Investigating);
    assert_eq!(acked.acknowledged_at, Some(at));
    let res = s.change_status(&id, StatusChange::Resolve, "alice", at).await.expect("resolve").expect("exists");
    assert_eq!(res.incident.status, IncidentStatus::Resolved);
    let resolved =
        s.list(&ListFilter { status: Some("resolved".into()), ..ListFilter::default() }).await.expect("list");
    assert_eq!(resolved.len(), 1);
    assert_eq!(
        s.list(&ListFilter { namespace: Some("none".into()), ..ListFilter::default() }).await.expect("l").len(),
        0
    );
    let trail = s.audit(&id).await.expect("audit");
    let actions: Vec<&str> = trail.iter().map(|a| a.action_type.as_str()).collect();
    assert_eq!(actions, ["created", "acknowledged", "resolved"]);
    assert_eq!(trail[1].actor, "alice");
    assert!(s.change_status("nope", StatusChange::Resolve, "x", at).await.expect("ok").is_none());
    assert!(s.get("nope").await.expect("ok").is_none());
    // A manually resolved incident no longer deduplicates.
    let o = one(s, alert("C", "p3", "firing", None, "2026-03-01T11:01:00Z")).await;
    assert!(matches!(o, Outcome::Created(_)), "{o:?}");
}

fn ts(s: &str) -> Timestamp {
    match s.parse() {
        Ok(t) => t,
        Err(e) => panic!("test timestamp {s}: {e}"),
    }
}

fn report_fixture(id: &str) -> aiops_core::Report {
    let report_json = serde_json::json!({
        "incident": {"id": id, "title": "t", "severity": "critical", "status": "open", "source": "alertmanager",
            "cluster": "c", "namespace": "shop", "service": null, "fingerprint": "f", "started_at": "2026-03-01T10:00:00Z"},
        "partial": false, "hypotheses": [], "evidence": [],
        "runbook": {"title": "r", "summary": "s", "steps": []}, "analyzed_at": "2026-03-01T10:03:00Z"});
    match serde_json::from_value(report_json) {
        Ok(r) => r,
        Err(e) => panic!("report fixture: {e}"),
    }
}

/// An action record of `id` waiting for approval until `deadline`.
pub fn action_fixture(id: &str, deadline: Timestamp) -> ActionRecord {
    ActionRecord {
        incident_id: id.to_string(),
        action: RemediationAction {
            action: ActionType::RestartPod,
            target: ResourceRef::namespaced("Pod", "shop", "p1"),
            parameters: BTreeMap::new(),
            idempotency_key: format!("{id}:restart_pod:Pod/shop/p1"),
        },
        decision: Decision::RequiresApproval,
        reasons: vec!["prod needs a human".into()],
        blast_radius: 25.0,
        dry_run: false,
        status: ActionStatus::AwaitingApproval,
        approval_deadline: Some(deadline),
        decided_by: None,
        decided_at: None,
        started_at: None,
        finished_at: None,
        outcome: None,
        approval_token: None,
    }
}

/// Claiming leases due incidents once; an expired lease is claimed again and the old holder
/// can no longer commit; a step commits its state, report and audit together.
pub async fn workflow_claims_and_leases(s: &dyn IncidentStore) {
    let Outcome::Created(id) = one(s, alert("D", "p1", "firing", None, "2026-03-01T10:01:00Z")).await else {
        panic!("create")
    };
    let now = ts("2026-03-01T10:02:00Z");
    let lease = Duration::from_secs(60);
    let c = s.claim("w1", now, lease, 10).await.expect("claim");
    assert_eq!(c.iter().map(|c| c.incident.incident.id.as_str()).collect::<Vec<_>>(), [id.as_str()]);
    assert_eq!(c[0].incident.workflow_state, WorkflowState::Received);
    assert!(s.claim("w2", now, lease, 10).await.expect("claim").is_empty(), "leased: not claimed twice");
    let later = ts("2026-03-01T10:03:01Z");
    let c2 = s.claim("w2", later, lease, 10).await.expect("claim");
    assert_eq!(c2.len(), 1, "an expired lease is reclaimed");
    let to_collecting =
        Step { to: Some(WorkflowState::Collecting), lease_until: Some(after(later, lease)), ..Step::default() };
    assert!(!s.advance(&c[0], WorkflowState::Received, &to_collecting, later).await.expect("advance"), "lost lease");
    assert!(s.advance(&c2[0], WorkflowState::Received, &to_collecting, later).await.expect("advance"));
    assert!(
        !s.advance(&c2[0], WorkflowState::Received, &to_collecting, later).await.expect("advance"),
        "a step commits once: the state moved on"
    );
    let report = report_fixture(&id);
    let graph = aiops_core::graph::GraphSnapshot::default();
    let diagnosed = Step {
        to: Some(WorkflowState::Diagnosed),
        diagnosis: Some((report.clone(), graph.clone())),
        audit: Some(("diagnosed".into(), serde_json::json!({"top": null}))),
        ..Step::default()
    };
    assert!(s.advance(&c2[0], WorkflowState::Collecting, &diagnosed, later).await.expect("advance"));
    let inc = s.get(&id).await.expect("get").expect("exists");
    assert_eq!(inc.workflow_state, WorkflowState::Diagnosed);
    assert_eq!(s.report(&id).await.expect("report"), Some(report));
    assert_eq!(s.graph(&id).await.expect("graph"), Some(graph));
    let trail: Vec<String> = s.audit(&id).await.expect("audit").into_iter().map(|a| a.action_type).collect();
    assert_eq!(trail, ["created", "diagnosed"]);
    // Released without a deadline: due again at once (the next step).
    let c3 = s.claim("w3", later, lease, 10).await.expect("claim");
    assert_eq!(c3.len(), 1);
    assert_eq!(c3[0].incident.workflow_state, WorkflowState::Diagnosed);
}

/// A persisted deadline: an incident waiting for approval is due at its deadline or when a
/// human decides, whichever is first; a decision is recorded once, and not after the deadline.
pub async fn approval_timers_and_decisions(s: &dyn IncidentStore) {
    let Outcome::Created(id) = one(s, alert("E", "p1", "firing", None, "2026-03-01T10:01:00Z")).await else {
        panic!("create")
    };
    let now = ts("2026-03-01T10:02:00Z");
    let deadline = ts("2026-03-01T11:02:00Z");
    let lease = Duration::from_secs(60);
    assert!(matches!(s.decide(&id, true, "bob", now).await.expect("decide"), Decided::NotAwaiting(None)));
    assert_eq!(s.decide("nope", true, "bob", now).await.expect("decide"), Decided::NotFound);
    let c = s.claim("w1", now, lease, 10).await.expect("claim").remove(0);
    let wait = Step {
        to: Some(WorkflowState::AwaitingApproval),
        due_at: Some(deadline),
        action: Some(action_fixture(&id, deadline)),
        audit: Some(("approval_requested".into(), serde_json::json!({}))),
        ..Step::default()
    };
    assert!(s.advance(&c, WorkflowState::Received, &wait, now).await.expect("advance"));
    assert_eq!(s.action(&id).await.expect("action"), Some(action_fixture(&id, deadline)));
    let soon = ts("2026-03-01T10:30:00Z");
    assert!(s.claim("w2", soon, lease, 10).await.expect("claim").is_empty(), "not due before its deadline");
    assert!(s.claim("w2", deadline, lease, 10).await.expect("claim").len() == 1, "due at its deadline");
    // A fresh incident to decide on before the deadline.
    let Outcome::Created(id2) = one(s, alert("E", "p2", "firing", None, "2026-03-01T10:01:00Z")).await else {
        panic!("create")
    };
    let c2 = s.claim("w3", now, lease, 10).await.expect("claim").remove(0);
    assert_eq!(c2.incident.incident.id, id2);
    let wait2 = Step { action: Some(action_fixture(&id2, deadline)), ..wait.clone() };
    assert!(s.advance(&c2, WorkflowState::Received, &wait2, now).await.expect("advance"));
    let Decided::Recorded(a) = s.decide(&id2, true, "bob", soon).await.expect("decide") else { panic!("recorded") };
    assert_eq!((a.status, a.decided_by.as_deref(), a.decided_at), (ActionStatus::Approved, Some("bob"), Some(soon)));
    assert!(
        matches!(s.decide(&id2, false, "eve", soon).await.expect("decide"), Decided::NotAwaiting(Some(_))),
        "decided once"
    );
    let due = s.claim("w4", soon, lease, 10).await.expect("claim");
    assert_eq!(due.iter().map(|c| c.incident.incident.id.as_str()).collect::<Vec<_>>(), [id2.as_str()], "due now");
    // After the deadline nobody can approve any more.
    let Outcome::Created(id3) = one(s, alert("E", "p3", "firing", None, "2026-03-01T10:01:00Z")).await else {
        panic!("create")
    };
    let c3 = s.claim("w5", now, lease, 10).await.expect("claim").remove(0);
    assert_eq!(c3.incident.incident.id, id3);
    let wait3 = Step { action: Some(action_fixture(&id3, deadline)), ..wait };
    assert!(s.advance(&c3, WorkflowState::Received, &wait3, now).await.expect("advance"));
    let too_late = ts("2026-03-01T11:02:01Z");
    assert!(matches!(s.decide(&id3, true, "bob", too_late).await.expect("decide"), Decided::NotAwaiting(Some(_))));
    let trail: Vec<String> = s.audit(&id2).await.expect("audit").into_iter().map(|a| a.action_type).collect();
    assert_eq!(trail, ["created", "approval_requested", "approved"]);
}

/// Action outcomes and verification results are stored with the step that produced them.
pub async fn actions_and_verifications(s: &dyn IncidentStore) {
    let Outcome::Created(id) = one(s, alert("F", "p1", "firing", None, "2026-03-01T10:01:00Z")).await else {
        panic!("create")
    };
    let now = ts("2026-03-01T10:02:00Z");
    let c = s.claim("w1", now, Duration::from_secs(60), 10).await.expect("claim").remove(0);
    let mut a = action_fixture(&id, now);
    a.status = ActionStatus::Succeeded;
    a.started_at = Some(now);
    a.finished_at = Some(now);
    a.outcome = Some(ExecutionOutcome { success: true, dry_run: false, message: "deleted pod p1".into() });
    let v = VerificationRecord {
        incident_id: id.clone(),
        action_key: a.action.idempotency_key.clone(),
        success: true,
        details: serde_json::json!({"alerts_resolved": true}),
        verified_at: now,
    };
    let step = Step {
        to: Some(WorkflowState::Resolved),
        action: Some(a.clone()),
        verification: Some(v.clone()),
        ..Step::default()
    };
    assert!(s.advance(&c, WorkflowState::Received, &step, now).await.expect("advance"));
    assert_eq!(s.action(&id).await.expect("action"), Some(a));
    assert_eq!(s.verifications(&id).await.expect("verifications"), vec![v]);
    let later = ts("2026-03-02T10:00:00Z");
    assert!(s.claim("w2", later, Duration::from_secs(60), 10).await.expect("claim").is_empty(), "finished");
}

/// An approval token binds a decision to its action: the store finds the action by its token,
/// a decision carrying a token decides only the action holding it, once, and not after the
/// deadline; the token survives the later steps; the audit entry keeps the reason and channel.
pub async fn approval_tokens_bind_decisions(s: &dyn IncidentStore) {
    let now = ts("2026-03-01T10:02:00Z");
    let deadline = ts("2026-03-01T11:02:00Z");
    let lease = Duration::from_secs(60);
    let mut ids = Vec::new();
    for (pod, token) in [("p1", "tok-1"), ("p2", "tok-2"), ("p3", "tok-3")] {
        let Outcome::Created(id) = one(s, alert("G", pod, "firing", None, "2026-03-01T10:01:00Z")).await else {
            panic!("create")
        };
        let c = s.claim("w1", now, lease, 10).await.expect("claim").remove(0);
        assert_eq!(c.incident.incident.id, id);
        let mut a = action_fixture(&id, deadline);
        a.approval_token = Some(token.to_string());
        let wait = Step {
            to: Some(WorkflowState::AwaitingApproval),
            due_at: Some(deadline),
            action: Some(a),
            audit: Some(("approval_requested".into(), serde_json::json!({}))),
            ..Step::default()
        };
        assert!(s.advance(&c, WorkflowState::Received, &wait, now).await.expect("advance"));
        ids.push(id);
    }
    let found = s.action_by_token("tok-2").await.expect("by token").expect("the action holding tok-2");
    assert_eq!((found.incident_id.as_str(), found.approval_token.as_deref()), (ids[1].as_str(), Some("tok-2")));
    assert_eq!(s.action_by_token("tok-9").await.expect("by token"), None);
    assert_eq!(s.action(&ids[0]).await.expect("action").and_then(|a| a.approval_token).as_deref(), Some("tok-1"));

    let soon = ts("2026-03-01T10:30:00Z");
    let slack = |token: &str, approve: bool| HumanDecision {
        reason: Some("looks right".into()),
        via: Some("slack".into()),
        role: Some("sre".into()),
        token: Some(token.to_string()),
        ..HumanDecision::new(approve, "U123", soon)
    };
    // Another action's token decides nothing.
    assert!(matches!(s.decide_with(&ids[0], &slack("tok-2", true)).await.expect("decide"), Decided::NotAwaiting(_)));
    assert_eq!(s.action(&ids[0]).await.expect("a").expect("a").status, ActionStatus::AwaitingApproval);
    let Decided::Recorded(a) = s.decide_with(&ids[0], &slack("tok-1", true)).await.expect("decide") else {
        panic!("recorded")
    };
    assert_eq!((a.status, a.decided_by.as_deref()), (ActionStatus::Approved, Some("U123")));
    // A replay of the same token is refused and changes nothing.
    assert!(matches!(s.decide_with(&ids[0], &slack("tok-1", false)).await.expect("d"), Decided::NotAwaiting(Some(_))));
    assert_eq!(s.action(&ids[0]).await.expect("a").expect("a").status, ActionStatus::Approved);
    let trail = s.audit(&ids[0]).await.expect("audit");
    let last = trail.last().expect("an audit entry");
    assert_eq!((last.action_type.as_str(), last.actor.as_str()), ("approved", "U123"));
    assert_eq!(
        last.details,
        serde_json::json!({"action": a.action.idempotency_key, "reason": "looks right", "via": "slack", "role": "sre"})
    );
    assert_eq!(trail.iter().filter(|e| e.action_type == "approved" || e.action_type == "rejected").count(), 1);
    // Rejections too; after the deadline the token is refused.
    let Decided::Recorded(r) = s.decide_with(&ids[1], &slack("tok-2", false)).await.expect("decide") else {
        panic!("recorded")
    };
    assert_eq!(r.status, ActionStatus::Rejected);
    let late = HumanDecision { at: ts("2026-03-01T11:02:01Z"), ..slack("tok-3", true) };
    assert!(matches!(s.decide_with(&ids[2], &late).await.expect("decide"), Decided::NotAwaiting(Some(_))));
    assert_eq!(s.action(&ids[2]).await.expect("a").expect("a").status, ActionStatus::AwaitingApproval);
    // A later step's record keeps the token.
    let c = s.claim("w2", soon, lease, 10).await.expect("claim");
    let c0 = c.into_iter().find(|c| c.incident.incident.id == ids[0]).expect("the approved incident is due");
    let mut executing = a.clone();
    executing.status = ActionStatus::Executing;
    let step = Step { to: Some(WorkflowState::Executing), action: Some(executing), ..Step::default() };
    assert!(s.advance(&c0, WorkflowState::AwaitingApproval, &step, soon).await.expect("advance"));
    assert_eq!(s.action_by_token("tok-1").await.expect("by token").map(|a| a.status), Some(ActionStatus::Executing));
}

/// Repeats of one fingerprint inside one batch deduplicate (counting every repeat), and a repeat
/// past the window inside the same batch opens a new incident, exactly as in later batches.
pub async fn batch_repeats_and_window(s: &dyn IncidentStore) {
    let batch = vec![
        alert("G", "p1", "firing", None, "2026-03-01T10:01:00Z"),
        alert("G", "p1", "firing", None, "2026-03-01T10:02:00Z"),
        alert("G", "p1", "firing", None, "2026-03-01T12:00:00Z"),
        alert("G", "p1", "firing", None, "2026-03-01T16:00:01Z"),
        alert("G", "p1", "firing", None, "2026-03-01T16:00:02Z"),
    ];
    let out = s.ingest(&batch, &policy()).await.expect("ingest");
    let Outcome::Created(a) = &out[0] else { panic!("{out:?}") };
    assert_eq!(out[1], Outcome::Deduplicated(a.clone()));
    assert_eq!(out[2], Outcome::Deduplicated(a.clone()));
    let Outcome::Created(b) = &out[3] else { panic!("past the window a new incident: {out:?}") };
    assert_ne!(a, b);
    assert_eq!(out[4], Outcome::Deduplicated(b.clone()));
    let ia = s.get(a).await.expect("get").expect("exists");
    assert_eq!((ia.alert_count, ia.last_seen_at.to_string()), (3, "2026-03-01T12:00:00Z".to_string()));
    let ib = s.get(b).await.expect("get").expect("exists");
    assert_eq!((ib.alert_count, ib.last_seen_at.to_string()), (2, "2026-03-01T16:00:02Z".to_string()));
    // The next batch deduplicates into the newest.
    assert_eq!(
        one(s, alert("G", "p1", "firing", None, "2026-03-01T16:30:00Z")).await,
        Outcome::Deduplicated(b.clone())
    );
}

/// Fire, resolve, fire, resolve, fire of one alert in one batch, all at one receive time: three
/// incidents with distinct ids, the first two resolved, each with its own audit trail.
pub async fn batch_fire_resolve_fire(s: &dyn IncidentStore) {
    let at = "2026-03-01T10:01:00Z";
    let batch = vec![
        alert("H", "p1", "firing", None, at),
        alert("H", "p1", "resolved", None, at),
        alert("H", "p1", "firing", None, at),
        alert("H", "p1", "resolved", None, at),
        alert("H", "p1", "firing", None, at),
        alert("H", "p2", "resolved", None, at),
    ];
    let out = s.ingest(&batch, &policy()).await.expect("ingest");
    let Outcome::Created(a) = out[0].clone() else { panic!("{out:?}") };
    assert_eq!(out[1], Outcome::Resolved(a.clone()));
    let Outcome::Created(b) = out[2].clone() else { panic!("{out:?}") };
    assert_eq!(out[3], Outcome::Resolved(b.clone()));
    let Outcome::Created(c) = out[4].clone() else { panic!("{out:?}") };
    assert_eq!(out[5], Outcome::Unmatched);
    assert!(a != b && b != c && a != c, "distinct ids: {out:?}");
    for id in [&a, &b] {
        let inc = s.get(id).await.expect("get").expect("exists");
        assert_eq!(inc.incident.status, IncidentStatus::Resolved);
        assert_eq!(inc.resolved_at.map(|t| t.to_string()).as_deref(), Some(at));
        let trail: Vec<String> = s.audit(id).await.expect("audit").into_iter().map(|e| e.action_type).collect();
        assert_eq!(trail, ["created", "resolved"]);
    }
    assert!(s.get(&c).await.expect("get").expect("exists").is_open());
    assert_eq!(
        one(s, alert("H", "p1", "firing", None, "2026-03-01T10:02:00Z")).await,
        Outcome::Deduplicated(c.clone())
    );
    assert_eq!(one(s, alert("H", "p1", "resolved", None, "2026-03-01T10:03:00Z")).await, Outcome::Resolved(c.clone()));
    assert_eq!(
        s.list(&ListFilter { status: Some("resolved".into()), ..ListFilter::default() }).await.expect("l").len(),
        3
    );
}

/// A group opened, attached to, repeated and resolved inside one batch, next to an earlier
/// incident of the group that the batch attaches to first.
pub async fn batch_group_attach_and_resolve(s: &dyn IncidentStore) {
    let g = Some("{}:{alertname=\"K\"}");
    let h = Some("{}:{alertname=\"L\"}");
    let Outcome::Created(old) = one(s, alert("K", "p0", "firing", g, "2026-03-01T10:00:00Z")).await else {
        panic!("create")
    };
    let batch = vec![
        alert("K", "p1", "firing", g, "2026-03-01T10:01:00Z"),
        alert("K", "p2", "firing", g, "2026-03-01T10:01:00Z"),
        alert("K", "p2", "firing", g, "2026-03-01T10:02:00Z"),
        alert("L", "p1", "firing", h, "2026-03-01T10:02:00Z"),
        alert("L", "p2", "firing", h, "2026-03-01T10:02:00Z"),
        alert("K", "p0", "resolved", g, "2026-03-01T10:03:00Z"),
        alert("K", "p1", "resolved", g, "2026-03-01T10:03:00Z"),
        alert("L", "p1", "resolved", h, "2026-03-01T10:03:00Z"),
        alert("K", "p2", "resolved", g, "2026-03-01T10:04:00Z"),
        alert("K", "p3", "firing", g, "2026-03-01T10:05:00Z"),
    ];
    let out = s.ingest(&batch, &policy()).await.expect("ingest");
    assert_eq!(out[0], Outcome::Attached(old.clone()));
    assert_eq!(out[1], Outcome::Attached(old.clone()));
    assert_eq!(out[2], Outcome::Deduplicated(old.clone()));
    let Outcome::Created(l) = out[3].clone() else { panic!("{out:?}") };
    assert_eq!(out[4], Outcome::Attached(l.clone()));
    assert_eq!(out[5], Outcome::AlertResolved(old.clone()));
    assert_eq!(out[6], Outcome::AlertResolved(old.clone()));
    assert_eq!(out[7], Outcome::AlertResolved(l.clone()));
    assert_eq!(out[8], Outcome::Resolved(old.clone()));
    let Outcome::Created(new) = out[9].clone() else { panic!("the group's incident is resolved: {out:?}") };
    assert_ne!(new, old);
    let inc = s.get(&old).await.expect("get").expect("exists");
    assert_eq!(inc.incident.status, IncidentStatus::Resolved);
    assert_eq!(inc.alert_count, 4);
    assert_eq!(inc.last_seen_at.to_string(), "2026-03-01T10:02:00Z");
    assert_eq!(inc.resolved_at.map(|t| t.to_string()).as_deref(), Some("2026-03-01T10:04:00Z"));
    let il = s.get(&l).await.expect("get").expect("exists");
    assert!(il.is_open());
    assert_eq!(il.alert_count, 2);
    assert_eq!(one(s, alert("L", "p2", "resolved", h, "2026-03-01T10:06:00Z")).await, Outcome::Resolved(l.clone()));
    assert_eq!(one(s, alert("K", "p3", "firing", g, "2026-03-01T10:07:00Z")).await, Outcome::Deduplicated(new));
}

/// A mixed stream ingested as one batch gives the same outcomes, incidents and audit trails as
/// the same stream one alert per batch (`a` takes it one at a time, `b` in two batches).
pub async fn batch_equals_one_at_a_time(a: &dyn IncidentStore, b: &dyn IncidentStore) {
    let g = Some("{}:{alertname=\"M\"}");
    let mut stream = Vec::new();
    let pods = ["p1", "p2", "p3", "p1", "p4", "p2", "p1", "p3", "p5", "p1"];
    for (i, pod) in pods.iter().enumerate() {
        let at = format!("2026-03-01T10:{:02}:00Z", i);
        let group = if i % 3 == 0 { None } else { g };
        let status = if i % 4 == 3 { "resolved" } else { "firing" };
        stream.push(alert("M", pod, status, group, &at));
        stream.push(alert("N", pod, "firing", None, &at));
        if i % 2 == 1 {
            stream.push(alert("N", pod, "resolved", None, &at));
        }
        let late = format!("2026-03-01T{:02}:00:00Z", 15 + i % 3);
        stream.push(alert("M", pod, "firing", group, &late));
    }
    let mut one_by_one = Vec::new();
    for inc in &stream {
        one_by_one.push(one(a, inc.clone()).await);
    }
    let (head, tail) = stream.split_at(7);
    let mut batched = b.ingest(head, &policy()).await.expect("ingest");
    batched.extend(b.ingest(tail, &policy()).await.expect("ingest"));
    assert_eq!(one_by_one, batched);
    let mut ids: Vec<&str> = one_by_one.iter().filter_map(Outcome::incident_id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert!(ids.len() > 3, "{one_by_one:?}");
    for id in ids {
        assert_eq!(a.get(id).await.expect("get"), b.get(id).await.expect("get"), "incident {id}");
        assert_eq!(a.audit(id).await.expect("audit"), b.audit(id).await.expect("audit"), "audit of {id}");
    }
    let all = ListFilter { limit: Some(1000), ..ListFilter::default() };
    assert_eq!(a.list(&all).await.expect("list"), b.list(&all).await.expect("list"));
}
