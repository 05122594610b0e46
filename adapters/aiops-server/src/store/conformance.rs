//! The [`IncidentStore`] conformance suite: every backend's tests call [`run_all`] (feature
//! `conformance`). Each check needs an empty store; `fresh` makes one.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aiops_core::{Alert, IncidentSource, IncidentStatus};
use jiff::Timestamp;

use super::{DedupPolicy, IncidentStore, Incoming, ListFilter, Outcome, StatusChange, WorkflowState};

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

/// Claiming leases `received` incidents once; an expired lease is claimed again.
pub async fn workflow_claims_and_leases(s: &dyn IncidentStore) {
    let Outcome::Created(id) = one(s, alert("D", "p1", "firing", None, "2026-03-01T10:01:00Z")).await else {
        panic!("create")
    };
    let now: Timestamp = "2026-03-01T10:02:00Z".parse().expect("ts");
    let lease = Duration::from_secs(60);
    let c = s.claim_received(now, lease, 10).await.expect("claim");
    assert_eq!(c.iter().map(|i| i.incident.id.as_str()).collect::<Vec<_>>(), [id.as_str()]);
    assert_eq!(c[0].workflow_state, WorkflowState::Collecting);
    assert!(s.claim_received(now, lease, 10).await.expect("claim").is_empty(), "leased: not claimed twice");
    let later: Timestamp = "2026-03-01T10:03:01Z".parse().expect("ts");
    assert_eq!(s.claim_received(later, lease, 10).await.expect("claim").len(), 1, "expired lease is reclaimed");
    let report_json = serde_json::json!({
        "incident": {"id": id, "title": "t", "severity": "critical", "status": "open", "source": "alertmanager",
            "cluster": "c", "namespace": "shop", "service": null, "fingerprint": "f", "started_at": "2026-03-01T10:00:00Z"},
        "partial": false, "hypotheses": [], "evidence": [],
        "runbook": {"title": "r", "summary": "s", "steps": []}, "analyzed_at": "2026-03-01T10:03:00Z"});
    let report: aiops_core::Report = match serde_json::from_value(report_json) {
        Ok(r) => r,
        Err(e) => panic!("report fixture: {e}"),
    };
    let graph = aiops_core::graph::GraphSnapshot::default();
    s.save_diagnosis(&id, &report, &graph, later).await.expect("save");
    assert_eq!(s.get(&id).await.expect("get").expect("exists").workflow_state, WorkflowState::Diagnosed);
    assert_eq!(s.report(&id).await.expect("report"), Some(report));
    assert_eq!(s.graph(&id).await.expect("graph"), Some(graph));
    let far: Timestamp = "2026-03-02T10:00:00Z".parse().expect("ts");
    assert!(s.claim_received(far, lease, 10).await.expect("claim").is_empty(), "diagnosed is not reclaimed");
}
