//! The embedded default [`IncidentStore`]: one SQLite file (WAL, `synchronous=FULL`, foreign
//! keys), schema migrations applied at open, every ingest batch one transaction.
//!
//! Tables follow the original's seven (`original-design.md` §3.5) where SQLite allows:
//! `incidents` (plus the lifecycle columns), `incident_alerts` (the fingerprints of each
//! incident, for dedup and resolution), `reports`, `evidence`, `hypotheses`, `runbooks`,
//! `audit_logs`. Timestamps are integer nanoseconds since the epoch.

use std::str::FromStr;
use std::time::Duration;

use aiops_core::graph::GraphSnapshot;
use aiops_core::{IncidentSource, IncidentStatus, Report, Severity};
use async_trait::async_trait;
use jiff::Timestamp;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous};
use sqlx::{Row, SqliteConnection, SqlitePool};

use super::{
    AlertState, AuditEntry, DedupPolicy, IncidentStore, Incoming, ListFilter, Outcome, StatusChange, StoreError,
    StoreResult, StoredIncident, WorkflowState, after, window_start,
};
use aiops_core::Incident;

/// The schema migrations, in order; `aiops_migrations` records the applied versions.
pub const MIGRATIONS: &[(i64, &str)] = &[(
    1,
    r#"
CREATE TABLE incidents (
    id TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    title TEXT NOT NULL,
    description TEXT,
    severity TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open',
    source TEXT NOT NULL,
    cluster TEXT NOT NULL,
    namespace TEXT NOT NULL,
    service TEXT,
    pod TEXT,
    labels TEXT NOT NULL DEFAULT '{}',
    annotations TEXT NOT NULL DEFAULT '{}',
    started_at INTEGER NOT NULL,
    acknowledged_at INTEGER,
    resolved_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    alert_count INTEGER NOT NULL DEFAULT 1,
    group_key TEXT,
    workflow_state TEXT NOT NULL DEFAULT 'received',
    lease_until INTEGER,
    alert TEXT NOT NULL
);
CREATE INDEX incidents_fingerprint ON incidents(fingerprint);
CREATE INDEX incidents_status ON incidents(status);
CREATE INDEX incidents_cluster_ns ON incidents(cluster, namespace);
CREATE INDEX incidents_started ON incidents(started_at DESC);
CREATE INDEX incidents_open_group ON incidents(group_key) WHERE status NOT IN ('resolved', 'closed');
CREATE INDEX incidents_workflow ON incidents(workflow_state) WHERE workflow_state IN ('received', 'collecting');
CREATE TABLE incident_alerts (
    incident_id TEXT NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
    fingerprint TEXT NOT NULL,
    firing INTEGER NOT NULL,
    open INTEGER NOT NULL,
    PRIMARY KEY (incident_id, fingerprint)
);
CREATE INDEX incident_alerts_open_fp ON incident_alerts(fingerprint) WHERE open = 1;
CREATE TABLE reports (
    incident_id TEXT PRIMARY KEY REFERENCES incidents(id) ON DELETE CASCADE,
    report TEXT NOT NULL,
    graph TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE evidence (
    incident_id TEXT NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    evidence_type TEXT NOT NULL,
    source TEXT NOT NULL,
    entity TEXT NOT NULL,
    summary TEXT NOT NULL,
    signal_strength REAL NOT NULL,
    data TEXT NOT NULL,
    collected_at INTEGER NOT NULL,
    PRIMARY KEY (incident_id, id)
);
CREATE TABLE hypotheses (
    incident_id TEXT NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
    rank INTEGER NOT NULL,
    cause TEXT NOT NULL,
    category TEXT NOT NULL,
    title TEXT NOT NULL,
    confidence REAL NOT NULL,
    data TEXT NOT NULL,
    generated_at INTEGER NOT NULL,
    PRIMARY KEY (incident_id, rank)
);
CREATE TABLE runbooks (
    incident_id TEXT PRIMARY KEY REFERENCES incidents(id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    content TEXT NOT NULL,
    generated_at INTEGER NOT NULL
);
CREATE TABLE audit_logs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id TEXT NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
    action_type TEXT NOT NULL,
    actor TEXT NOT NULL,
    details TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX audit_logs_incident ON audit_logs(incident_id, seq);
"#,
)];

fn db(e: sqlx::Error) -> StoreError {
    StoreError(format!("sqlite: {e}"))
}

fn ns(t: Timestamp) -> i64 {
    i64::try_from(t.as_nanosecond()).unwrap_or(if t.as_second() < 0 { i64::MIN } else { i64::MAX })
}

fn ts(v: i64) -> Timestamp {
    Timestamp::from_nanosecond(i128::from(v)).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn to_json<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(StoreError::from_display)
}

fn from_json<T: serde::de::DeserializeOwned>(s: &str) -> StoreResult<T> {
    serde_json::from_str(s).map_err(StoreError::from_display)
}

/// The SQLite store.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `path` and applies the migrations.
    pub async fn open(path: &str) -> StoreResult<Self> {
        let path = path.strip_prefix("sqlite://").or_else(|| path.strip_prefix("sqlite:")).unwrap_or(path);
        let opts = SqliteConnectOptions::from_str(&format!("sqlite:{path}"))
            .map_err(db)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(opts).await.map_err(db)?;
        let store = Self { pool };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS aiops_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
        )
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        for (version, sql) in MIGRATIONS {
            let done = sqlx::query("SELECT 1 FROM aiops_migrations WHERE version = ?")
                .bind(version)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
            if done.is_some() {
                continue;
            }
            sqlx::raw_sql(sql).execute(&mut *tx).await.map_err(db)?;
            sqlx::query("INSERT INTO aiops_migrations (version, applied_at) VALUES (?, ?)")
                .bind(version)
                .bind(ns(Timestamp::now()))
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }
}

fn row_to_incident(r: &SqliteRow) -> StoreResult<StoredIncident> {
    let g = |c: &str| r.try_get::<String, _>(c).map_err(db);
    let og = |c: &str| r.try_get::<Option<String>, _>(c).map_err(db);
    let ot = |c: &str| r.try_get::<Option<i64>, _>(c).map(|v| v.map(ts)).map_err(db);
    let t = |c: &str| r.try_get::<i64, _>(c).map(ts).map_err(db);
    let bad = |c: &str, v: &str| StoreError(format!("bad {c} {v:?} in the incidents table"));
    let severity = g("severity")?;
    let status = g("status")?;
    let source = g("source")?;
    let state = g("workflow_state")?;
    Ok(StoredIncident {
        incident: Incident {
            id: g("id")?,
            fingerprint: g("fingerprint")?,
            title: g("title")?,
            description: og("description")?,
            severity: Severity::parse(&severity).ok_or_else(|| bad("severity", &severity))?,
            status: IncidentStatus::parse(&status).ok_or_else(|| bad("status", &status))?,
            source: IncidentSource::parse(&source).ok_or_else(|| bad("source", &source))?,
            cluster: g("cluster")?,
            namespace: g("namespace")?,
            service: og("service")?,
            pod: og("pod")?,
            labels: from_json(&g("labels")?)?,
            annotations: from_json(&g("annotations")?)?,
            started_at: t("started_at")?,
        },
        acknowledged_at: ot("acknowledged_at")?,
        resolved_at: ot("resolved_at")?,
        created_at: t("created_at")?,
        updated_at: t("updated_at")?,
        last_seen_at: t("last_seen_at")?,
        alert_count: r.try_get::<i64, _>("alert_count").map_err(db)?.max(0) as u64,
        group_key: og("group_key")?,
        workflow_state: WorkflowState::parse(&state).ok_or_else(|| bad("workflow_state", &state))?,
        alert: from_json(&g("alert")?)?,
    })
}

async fn audit_in(
    c: &mut SqliteConnection,
    id: &str,
    action: &str,
    actor: &str,
    details: &str,
    at: Timestamp,
) -> StoreResult<()> {
    sqlx::query("INSERT INTO audit_logs (incident_id, action_type, actor, details, created_at) VALUES (?, ?, ?, ?, ?)")
        .bind(id)
        .bind(action)
        .bind(actor)
        .bind(details)
        .bind(ns(at))
        .execute(c)
        .await
        .map_err(db)?;
    Ok(())
}

async fn close_alerts(c: &mut SqliteConnection, id: &str) -> StoreResult<()> {
    sqlx::query("UPDATE incident_alerts SET open = 0 WHERE incident_id = ?").bind(id).execute(c).await.map_err(db)?;
    Ok(())
}

/// The open incident carrying `fp`, most recently seen first: (id, last_seen_at).
async fn open_by_fp(c: &mut SqliteConnection, fp: &str) -> StoreResult<Option<(String, i64)>> {
    let row = sqlx::query(
        "SELECT i.id, i.last_seen_at FROM incident_alerts a JOIN incidents i ON i.id = a.incident_id \
         WHERE a.fingerprint = ? AND a.open = 1 ORDER BY i.last_seen_at DESC LIMIT 1",
    )
    .bind(fp)
    .fetch_optional(c)
    .await
    .map_err(db)?;
    row.map(|r| Ok((r.try_get(0).map_err(db)?, r.try_get(1).map_err(db)?))).transpose()
}

async fn touch(c: &mut SqliteConnection, id: &str, fp: &str, at: i64) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO incident_alerts (incident_id, fingerprint, firing, open) VALUES (?, ?, 1, 1) \
         ON CONFLICT (incident_id, fingerprint) DO UPDATE SET firing = 1, open = 1",
    )
    .bind(id)
    .bind(fp)
    .execute(&mut *c)
    .await
    .map_err(db)?;
    sqlx::query("UPDATE incidents SET last_seen_at = ?, updated_at = ?, alert_count = alert_count + 1 WHERE id = ?")
        .bind(at)
        .bind(at)
        .bind(id)
        .execute(c)
        .await
        .map_err(db)?;
    Ok(())
}

async fn ingest_one(c: &mut SqliteConnection, a: &Incoming, policy: &DedupPolicy) -> StoreResult<Outcome> {
    let fp = a.incident.fingerprint.as_str();
    let now = ns(a.received_at);
    match a.state {
        AlertState::Resolved => {
            let Some((id, _)) = open_by_fp(c, fp).await? else { return Ok(Outcome::Unmatched) };
            sqlx::query("UPDATE incident_alerts SET firing = 0 WHERE incident_id = ? AND fingerprint = ?")
                .bind(&id)
                .bind(fp)
                .execute(&mut *c)
                .await
                .map_err(db)?;
            let firing: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM incident_alerts WHERE incident_id = ? AND firing = 1")
                    .bind(&id)
                    .fetch_one(&mut *c)
                    .await
                    .map_err(db)?;
            if firing > 0 {
                sqlx::query("UPDATE incidents SET updated_at = ? WHERE id = ?")
                    .bind(now)
                    .bind(&id)
                    .execute(&mut *c)
                    .await
                    .map_err(db)?;
                return Ok(Outcome::AlertResolved(id));
            }
            sqlx::query("UPDATE incidents SET status = 'resolved', resolved_at = ?, updated_at = ? WHERE id = ?")
                .bind(now)
                .bind(now)
                .bind(&id)
                .execute(&mut *c)
                .await
                .map_err(db)?;
            close_alerts(c, &id).await?;
            audit_in(c, &id, "resolved", "alert", "{}", a.received_at).await?;
            Ok(Outcome::Resolved(id))
        }
        AlertState::Firing => {
            let since = ns(window_start(a.received_at, policy.window));
            if let Some((id, seen)) = open_by_fp(c, fp).await?
                && seen >= since
            {
                touch(c, &id, fp, now).await?;
                return Ok(Outcome::Deduplicated(id));
            }
            if let Some(gk) = &a.alert.group_key {
                let row = sqlx::query(
                    "SELECT id FROM incidents WHERE group_key = ? AND status NOT IN ('resolved', 'closed') \
                     AND last_seen_at >= ? ORDER BY last_seen_at DESC LIMIT 1",
                )
                .bind(gk)
                .bind(since)
                .fetch_optional(&mut *c)
                .await
                .map_err(db)?;
                if let Some(r) = row {
                    let id: String = r.try_get(0).map_err(db)?;
                    touch(c, &id, fp, now).await?;
                    return Ok(Outcome::Attached(id));
                }
            }
            let taken = sqlx::query("SELECT 1 FROM incidents WHERE id = ?")
                .bind(&a.incident.id)
                .fetch_optional(&mut *c)
                .await
                .map_err(db)?
                .is_some();
            let id = super::fresh_id(a, |_| taken);
            let s = StoredIncident::new(a, id.clone());
            let i = &s.incident;
            sqlx::query(
                "INSERT INTO incidents (id, fingerprint, title, description, severity, status, source, cluster, namespace, \
                 service, pod, labels, annotations, started_at, created_at, updated_at, last_seen_at, alert_count, group_key, \
                 workflow_state, alert) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, 'received', ?)",
            )
            .bind(&i.id)
            .bind(&i.fingerprint)
            .bind(&i.title)
            .bind(&i.description)
            .bind(i.severity.as_str())
            .bind(i.status.as_str())
            .bind(i.source.as_str())
            .bind(&i.cluster)
            .bind(&i.namespace)
            .bind(&i.service)
            .bind(&i.pod)
            .bind(to_json(&i.labels)?)
            .bind(to_json(&i.annotations)?)
            .bind(ns(i.started_at))
            .bind(now)
            .bind(now)
            .bind(now)
            .bind(&s.group_key)
            .bind(to_json(&s.alert)?)
            .execute(&mut *c)
            .await
            .map_err(db)?;
            sqlx::query("INSERT INTO incident_alerts (incident_id, fingerprint, firing, open) VALUES (?, ?, 1, 1)")
                .bind(&id)
                .bind(fp)
                .execute(&mut *c)
                .await
                .map_err(db)?;
            audit_in(c, &id, "created", "alert", "{}", a.received_at).await?;
            Ok(Outcome::Created(id))
        }
    }
}

#[async_trait]
impl IncidentStore for SqliteStore {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(db).map(|_| ())
    }

    async fn ingest(&self, batch: &[Incoming], policy: &DedupPolicy) -> StoreResult<Vec<Outcome>> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let mut out = Vec::with_capacity(batch.len());
        for a in batch {
            out.push(ingest_one(&mut tx, a, policy).await?);
        }
        tx.commit().await.map_err(db)?;
        Ok(out)
    }

    async fn get(&self, id: &str) -> StoreResult<Option<StoredIncident>> {
        let row = sqlx::query("SELECT * FROM incidents WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.as_ref().map(row_to_incident).transpose()
    }

    async fn list(&self, f: &ListFilter) -> StoreResult<Vec<StoredIncident>> {
        let rows = sqlx::query(
            "SELECT * FROM incidents WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR severity = ?2) \
             AND (?3 IS NULL OR namespace = ?3) ORDER BY started_at DESC, id LIMIT ?4 OFFSET ?5",
        )
        .bind(&f.status)
        .bind(&f.severity)
        .bind(&f.namespace)
        .bind(i64::from(f.limit()))
        .bind(i64::from(f.offset.unwrap_or(0)))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(row_to_incident).collect()
    }

    async fn change_status(
        &self,
        id: &str,
        change: StatusChange,
        actor: &str,
        at: Timestamp,
    ) -> StoreResult<Option<StoredIncident>> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let (sql, action) = match change {
            StatusChange::Acknowledge => (
                "UPDATE incidents SET acknowledged_at = COALESCE(acknowledged_at, ?1), updated_at = ?1, \
                 status = CASE status WHEN 'open' THEN 'investigating' ELSE status END WHERE id = ?2",
                "acknowledged",
            ),
            StatusChange::Resolve => (
                "UPDATE incidents SET resolved_at = CASE WHEN status IN ('resolved', 'closed') THEN resolved_at ELSE ?1 END, \
                 updated_at = ?1, status = CASE WHEN status IN ('resolved', 'closed') THEN status ELSE 'resolved' END \
                 WHERE id = ?2",
                "resolved",
            ),
        };
        let n = sqlx::query(sql).bind(ns(at)).bind(id).execute(&mut *tx).await.map_err(db)?.rows_affected();
        if n == 0 {
            return Ok(None);
        }
        if change == StatusChange::Resolve {
            close_alerts(&mut tx, id).await?;
        }
        audit_in(&mut tx, id, action, actor, "{}", at).await?;
        let row = sqlx::query("SELECT * FROM incidents WHERE id = ?").bind(id).fetch_one(&mut *tx).await.map_err(db)?;
        let out = row_to_incident(&row)?;
        tx.commit().await.map_err(db)?;
        Ok(Some(out))
    }

    async fn claim_received(&self, now: Timestamp, lease: Duration, limit: usize) -> StoreResult<Vec<StoredIncident>> {
        let rows = sqlx::query(
            "UPDATE incidents SET workflow_state = 'collecting', lease_until = ?1, updated_at = ?2 WHERE id IN (\
               SELECT id FROM incidents WHERE workflow_state = 'received' \
               OR (workflow_state = 'collecting' AND lease_until < ?2) ORDER BY created_at, id LIMIT ?3) RETURNING *",
        )
        .bind(ns(after(now, lease)))
        .bind(ns(now))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        let mut out: Vec<StoredIncident> = rows.iter().map(row_to_incident).collect::<StoreResult<_>>()?;
        out.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.incident.id.cmp(&b.incident.id)));
        Ok(out)
    }

    async fn save_diagnosis(&self, id: &str, report: &Report, graph: &GraphSnapshot, at: Timestamp) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let t = ns(at);
        sqlx::query("INSERT OR REPLACE INTO reports (incident_id, report, graph, created_at) VALUES (?, ?, ?, ?)")
            .bind(id)
            .bind(to_json(report)?)
            .bind(to_json(graph)?)
            .bind(t)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        for e in &report.evidence {
            sqlx::query(
                "INSERT OR REPLACE INTO evidence (incident_id, id, evidence_type, source, entity, summary, signal_strength, \
                 data, collected_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(id)
            .bind(&e.id)
            .bind(e.kind.as_str())
            .bind(e.source.as_str())
            .bind(e.resource.to_string())
            .bind(&e.summary)
            .bind(e.strength)
            .bind(to_json(&e.data)?)
            .bind(t)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        for h in &report.hypotheses {
            sqlx::query(
                "INSERT OR REPLACE INTO hypotheses (incident_id, rank, cause, category, title, confidence, data, generated_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(id)
            .bind(i64::try_from(h.rank).unwrap_or(i64::MAX))
            .bind(h.cause.as_str())
            .bind(h.category.as_str())
            .bind(&h.title)
            .bind(h.confidence)
            .bind(to_json(h)?)
            .bind(t)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        sqlx::query("INSERT OR REPLACE INTO runbooks (incident_id, title, content, generated_at) VALUES (?, ?, ?, ?)")
            .bind(id)
            .bind(&report.runbook.title)
            .bind(to_json(&report.runbook)?)
            .bind(t)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let n = sqlx::query(
            "UPDATE incidents SET workflow_state = 'diagnosed', lease_until = NULL, updated_at = ? WHERE id = ?",
        )
        .bind(t)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db)?
        .rows_affected();
        if n == 0 {
            return Err(StoreError(format!("no incident {id}")));
        }
        tx.commit().await.map_err(db)
    }

    async fn set_workflow_state(&self, id: &str, state: WorkflowState, at: Timestamp) -> StoreResult<()> {
        let n = sqlx::query("UPDATE incidents SET workflow_state = ?, lease_until = NULL, updated_at = ? WHERE id = ?")
            .bind(state.as_str())
            .bind(ns(at))
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db)?
            .rows_affected();
        if n == 0 { Err(StoreError(format!("no incident {id}"))) } else { Ok(()) }
    }

    async fn report(&self, id: &str) -> StoreResult<Option<Report>> {
        let v: Option<String> = sqlx::query_scalar("SELECT report FROM reports WHERE incident_id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        v.as_deref().map(from_json).transpose()
    }

    async fn graph(&self, id: &str) -> StoreResult<Option<GraphSnapshot>> {
        let v: Option<String> = sqlx::query_scalar("SELECT graph FROM reports WHERE incident_id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        v.as_deref().map(from_json).transpose()
    }

    async fn append_audit(&self, e: &AuditEntry) -> StoreResult<()> {
        let mut c = self.pool.acquire().await.map_err(db)?;
        audit_in(&mut c, &e.incident_id, &e.action_type, &e.actor, &to_json(&e.details)?, e.created_at).await
    }

    async fn audit(&self, id: &str) -> StoreResult<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT incident_id, action_type, actor, details, created_at FROM audit_logs WHERE incident_id = ? ORDER BY seq",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    incident_id: r.try_get(0).map_err(db)?,
                    action_type: r.try_get(1).map_err(db)?,
                    actor: r.try_get(2).map_err(db)?,
                    details: from_json(&r.try_get::<String, _>(3).map_err(db)?)?,
                    created_at: ts(r.try_get(4).map_err(db)?),
                })
            })
            .collect()
    }
}
