//! An in-process [`IncidentStore`]: everything in one mutex-guarded map, lost on exit.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use aiops_core::graph::GraphSnapshot;
use aiops_core::{IncidentStatus, Report};
use async_trait::async_trait;
use jiff::Timestamp;

use super::{
    ActionRecord, ActionStatus, AlertState, AuditEntry, Claim, Decided, DedupPolicy, HumanDecision, IncidentStore,
    Incoming, ListFilter, Outcome, StatusChange, Step, StoreError, StoreResult, StoredIncident, VerificationRecord,
    WorkflowState, after, fresh_id, is_terminal, window_start,
};

#[derive(Default)]
struct Rec {
    inc: Option<StoredIncident>,
    /// fingerprint -> still firing
    alerts: BTreeMap<String, bool>,
    lease_until: Option<Timestamp>,
    lease_token: Option<String>,
    due_at: Option<Timestamp>,
    report: Option<Report>,
    graph: Option<GraphSnapshot>,
    action: Option<ActionRecord>,
    verifications: Vec<VerificationRecord>,
    audit: Vec<AuditEntry>,
}

impl Rec {
    /// Due for a worker at `now`: unfinished, unleased, no later deadline.
    fn due(&self, now: Timestamp) -> bool {
        self.inc.as_ref().is_some_and(|i| !is_terminal(i.workflow_state))
            && self.lease_until.is_none_or(|l| l < now)
            && self.due_at.is_none_or(|d| d <= now)
    }

    fn apply(&mut self, id: &str, step: &Step, at: Timestamp) {
        self.due_at = step.due_at;
        self.lease_until = step.lease_until;
        if step.lease_until.is_none() {
            self.lease_token = None;
        }
        if let Some(inc) = self.inc.as_mut() {
            if let Some(to) = step.to {
                inc.workflow_state = to;
            }
            inc.updated_at = at;
        }
        if let Some((report, graph)) = &step.diagnosis {
            self.report = Some(report.clone());
            self.graph = Some(graph.clone());
        }
        if let Some(a) = &step.action {
            self.action = Some(a.clone());
        }
        if let Some(v) = &step.verification {
            self.verifications.push(v.clone());
        }
        if let Some((kind, details)) = &step.audit {
            let mut e = audit(id, kind, "system", at);
            e.details = details.clone();
            self.audit.push(e);
        }
    }
}

#[derive(Default)]
struct Inner {
    recs: HashMap<String, Rec>,
    /// fingerprint -> open incident carrying it
    open_by_fp: HashMap<String, String>,
    /// group key -> open incident of that group
    open_by_group: HashMap<String, String>,
}

/// The in-memory store (no persistence).
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> StoreResult<std::sync::MutexGuard<'_, Inner>> {
        self.inner.lock().map_err(|_| StoreError("memory store poisoned".into()))
    }
}

impl Inner {
    fn close_indexes(&mut self, id: &str) {
        let Some(rec) = self.recs.get(id) else { return };
        for fp in rec.alerts.keys() {
            if self.open_by_fp.get(fp).is_some_and(|v| v == id) {
                self.open_by_fp.remove(fp);
            }
        }
        if let Some(gk) = rec.inc.as_ref().and_then(|i| i.group_key.clone())
            && self.open_by_group.get(&gk).is_some_and(|v| v == id)
        {
            self.open_by_group.remove(&gk);
        }
    }

    fn open_seen_since(&self, id: Option<&String>, since: Timestamp) -> Option<String> {
        let id = id?;
        let inc = self.recs.get(id)?.inc.as_ref()?;
        (inc.is_open() && inc.last_seen_at >= since).then(|| id.clone())
    }

    fn ingest_one(&mut self, a: &Incoming, policy: &DedupPolicy) -> Outcome {
        let fp = &a.incident.fingerprint;
        let now = a.received_at;
        match a.state {
            AlertState::Resolved => {
                let Some(id) = self.open_by_fp.get(fp).cloned() else { return Outcome::Unmatched };
                let Some(rec) = self.recs.get_mut(&id) else { return Outcome::Unmatched };
                rec.alerts.insert(fp.clone(), false);
                let all_resolved = rec.alerts.values().all(|f| !f);
                let Some(inc) = rec.inc.as_mut() else { return Outcome::Unmatched };
                inc.updated_at = now;
                if all_resolved {
                    inc.incident.status = IncidentStatus::Resolved;
                    inc.resolved_at = Some(now);
                    rec.audit.push(audit(&id, "resolved", "alert", now));
                    self.close_indexes(&id);
                    Outcome::Resolved(id)
                } else {
                    Outcome::AlertResolved(id)
                }
            }
            AlertState::Firing => {
                let since = window_start(now, policy.window);
                if let Some(id) = self.open_seen_since(self.open_by_fp.get(fp), since) {
                    if let Some(rec) = self.recs.get_mut(&id) {
                        rec.alerts.insert(fp.clone(), true);
                        if let Some(inc) = rec.inc.as_mut() {
                            inc.last_seen_at = now;
                            inc.updated_at = now;
                            inc.alert_count += 1;
                        }
                    }
                    return Outcome::Deduplicated(id);
                }
                let group = a.alert.group_key.as_ref();
                if let Some(id) = self.open_seen_since(group.and_then(|g| self.open_by_group.get(g)), since) {
                    if let Some(rec) = self.recs.get_mut(&id) {
                        rec.alerts.insert(fp.clone(), true);
                        if let Some(inc) = rec.inc.as_mut() {
                            inc.last_seen_at = now;
                            inc.updated_at = now;
                            inc.alert_count += 1;
                        }
                    }
                    self.open_by_fp.insert(fp.clone(), id.clone());
                    return Outcome::Attached(id);
                }
                let id = fresh_id(a, |id| self.recs.contains_key(id));
                let stored = StoredIncident::new(a, id.clone());
                let mut rec = Rec { inc: Some(stored), ..Rec::default() };
                rec.alerts.insert(fp.clone(), true);
                rec.audit.push(audit(&id, "created", "alert", now));
                self.recs.insert(id.clone(), rec);
                self.open_by_fp.insert(fp.clone(), id.clone());
                if let Some(g) = group {
                    self.open_by_group.insert(g.clone(), id.clone());
                }
                Outcome::Created(id)
            }
        }
    }
}

fn audit(id: &str, action: &str, actor: &str, at: Timestamp) -> AuditEntry {
    AuditEntry {
        incident_id: id.to_string(),
        action_type: action.to_string(),
        actor: actor.to_string(),
        details: serde_json::json!({}),
        created_at: at,
    }
}

#[async_trait]
impl IncidentStore for MemoryStore {
    fn name(&self) -> &'static str {
        "memory"
    }

    async fn ping(&self) -> StoreResult<()> {
        self.lock().map(|_| ())
    }

    async fn ingest(&self, batch: &[Incoming], policy: &DedupPolicy) -> StoreResult<Vec<Outcome>> {
        let mut g = self.lock()?;
        Ok(batch.iter().map(|a| g.ingest_one(a, policy)).collect())
    }

    async fn get(&self, id: &str) -> StoreResult<Option<StoredIncident>> {
        Ok(self.lock()?.recs.get(id).and_then(|r| r.inc.clone()))
    }

    async fn list(&self, f: &ListFilter) -> StoreResult<Vec<StoredIncident>> {
        let g = self.lock()?;
        let mut all: Vec<StoredIncident> = g
            .recs
            .values()
            .filter_map(|r| r.inc.as_ref())
            .filter(|i| f.status.as_deref().is_none_or(|s| i.incident.status.as_str() == s))
            .filter(|i| f.severity.as_deref().is_none_or(|s| i.incident.severity.as_str() == s))
            .filter(|i| f.namespace.as_deref().is_none_or(|s| i.incident.namespace == s))
            .cloned()
            .collect();
        all.sort_by(|a, b| b.incident.started_at.cmp(&a.incident.started_at).then(a.incident.id.cmp(&b.incident.id)));
        Ok(all.into_iter().skip(f.offset.unwrap_or(0) as usize).take(f.limit() as usize).collect())
    }

    async fn change_status(
        &self,
        id: &str,
        change: StatusChange,
        actor: &str,
        at: Timestamp,
    ) -> StoreResult<Option<StoredIncident>> {
        let mut g = self.lock()?;
        let Some(rec) = g.recs.get_mut(id) else { return Ok(None) };
        let Some(inc) = rec.inc.as_mut() else { return Ok(None) };
        let action = match change {
            StatusChange::Acknowledge => {
                inc.acknowledged_at.get_or_insert(at);
                if inc.incident.status == IncidentStatus::Open {
                    inc.incident.status = IncidentStatus::Investigating;
                }
                "acknowledged"
            }
            StatusChange::Resolve => {
                if inc.is_open() {
                    inc.incident.status = IncidentStatus::Resolved;
                    inc.resolved_at = Some(at);
                }
                "resolved"
            }
        };
        inc.updated_at = at;
        let out = inc.clone();
        rec.audit.push(audit(id, action, actor, at));
        if !out.is_open() {
            g.close_indexes(id);
        }
        Ok(Some(out))
    }

    async fn claim(&self, token: &str, now: Timestamp, lease: Duration, limit: usize) -> StoreResult<Vec<Claim>> {
        let mut g = self.lock()?;
        let until = after(now, lease);
        let mut ids: Vec<(Timestamp, String)> = g
            .recs
            .iter()
            .filter(|(_, r)| r.due(now))
            .filter_map(|(id, r)| Some((r.inc.as_ref()?.created_at, id.clone())))
            .collect();
        ids.sort();
        let mut out = Vec::new();
        for (_, id) in ids.into_iter().take(limit) {
            if let Some(rec) = g.recs.get_mut(&id) {
                rec.lease_until = Some(until);
                rec.lease_token = Some(token.to_string());
                if let Some(inc) = rec.inc.as_ref() {
                    out.push(Claim { incident: inc.clone(), token: token.to_string() });
                }
            }
        }
        Ok(out)
    }

    async fn advance(&self, claim: &Claim, from: WorkflowState, step: &Step, at: Timestamp) -> StoreResult<bool> {
        let mut g = self.lock()?;
        let id = claim.incident.incident.id.as_str();
        let Some(rec) = g.recs.get_mut(id) else { return Ok(false) };
        let current = rec.inc.as_ref().map(|i| i.workflow_state);
        if current != Some(from) || rec.lease_token.as_deref() != Some(claim.token.as_str()) {
            return Ok(false);
        }
        rec.apply(id, step, at);
        Ok(true)
    }

    async fn action(&self, id: &str) -> StoreResult<Option<ActionRecord>> {
        Ok(self.lock()?.recs.get(id).and_then(|r| r.action.clone()))
    }

    async fn decide_with(&self, id: &str, d: &HumanDecision) -> StoreResult<Decided> {
        let mut g = self.lock()?;
        let Some(rec) = g.recs.get_mut(id) else { return Ok(Decided::NotFound) };
        let Some(action) = rec.action.as_mut().filter(|a| {
            a.status == ActionStatus::AwaitingApproval
                && a.approval_deadline.is_none_or(|deadline| deadline >= d.at)
                && d.token.as_ref().is_none_or(|t| a.approval_token.as_ref() == Some(t))
        }) else {
            return Ok(Decided::NotAwaiting(rec.action.clone()));
        };
        action.status = if d.approve { ActionStatus::Approved } else { ActionStatus::Rejected };
        action.decided_by = Some(d.actor.clone());
        action.decided_at = Some(d.at);
        let out = action.clone();
        if let Some(inc) = rec.inc.as_mut().filter(|i| i.workflow_state == WorkflowState::AwaitingApproval) {
            inc.updated_at = d.at;
            rec.due_at = Some(d.at);
        }
        let mut entry = audit(id, d.kind(), &d.actor, d.at);
        entry.details = d.audit_details(&out.action.idempotency_key);
        rec.audit.push(entry);
        Ok(Decided::Recorded(out))
    }

    async fn action_by_token(&self, token: &str) -> StoreResult<Option<ActionRecord>> {
        let g = self.lock()?;
        Ok(g.recs
            .values()
            .filter_map(|r| r.action.as_ref())
            .find(|a| a.approval_token.as_deref() == Some(token))
            .cloned())
    }

    async fn verifications(&self, id: &str) -> StoreResult<Vec<VerificationRecord>> {
        Ok(self.lock()?.recs.get(id).map(|r| r.verifications.clone()).unwrap_or_default())
    }

    async fn report(&self, id: &str) -> StoreResult<Option<Report>> {
        Ok(self.lock()?.recs.get(id).and_then(|r| r.report.clone()))
    }

    async fn graph(&self, id: &str) -> StoreResult<Option<GraphSnapshot>> {
        Ok(self.lock()?.recs.get(id).and_then(|r| r.graph.clone()))
    }

    async fn append_audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        let mut g = self.lock()?;
        let rec = g.recs.get_mut(&entry.incident_id).ok_or_else(|| StoreError("no such incident".into()))?;
        rec.audit.push(entry.clone());
        Ok(())
    }

    async fn audit(&self, id: &str) -> StoreResult<Vec<AuditEntry>> {
        Ok(self.lock()?.recs.get(id).map(|r| r.audit.clone()).unwrap_or_default())
    }
}
