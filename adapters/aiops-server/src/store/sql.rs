//! The SQL [`IncidentStore`], one implementation for two databases (sqlx `Any`, runtime
//! queries with `$N` parameters, which both accept):
//!
//! - **SQLite**, the embedded default: one file, WAL, `synchronous=FULL`, foreign keys; write
//!   transactions start with `BEGIN IMMEDIATE`, so the single writer never deadlocks.
//! - **PostgreSQL**, for several replicas on one database: ingest batches take transaction-scoped
//!   advisory locks on their fingerprints and group keys (two replicas never open two incidents
//!   for one alert), and workflow claims lease rows with `FOR UPDATE SKIP LOCKED`.
//!
//! The tables are the original's seven (`original-design.md` §3.5): `incidents` (plus the
//! lifecycle and workflow columns), `evidence`, `hypotheses`, `remediation_actions`,
//! `verification_results`, `audit_logs`, `runbooks`; plus `incident_alerts` (the fingerprints of
//! each incident, for dedup and resolution), `reports` (the whole report and graph as JSON) and
//! `aiops_migrations`. Migrations are applied at open. Timestamps are integer nanoseconds since
//! the epoch, JSON is text, so one schema serves both databases.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use aiops_core::graph::GraphSnapshot;
use aiops_core::{Decision, Incident, IncidentSource, IncidentStatus, Report, Severity};
use async_trait::async_trait;
use jiff::Timestamp;
use sqlx::AnyConnection;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};

use super::{
    ActionRecord, ActionStatus, AlertState, AuditEntry, Claim, Decided, DedupPolicy, HumanDecision, IncidentStore,
    Incoming, ListFilter, Outcome, StatusChange, Step, StoreError, StoreResult, StoredIncident, VerificationRecord,
    WorkflowState, after, window_start,
};

/// Which database a [`SqlStore`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite (one file).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// The schema migrations, in order; `{serial}` is the dialect's auto-increment key.
pub const MIGRATIONS: &[(i64, &str)] = &[
    (
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
    started_at BIGINT NOT NULL,
    acknowledged_at BIGINT,
    resolved_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    alert_count BIGINT NOT NULL DEFAULT 1,
    group_key TEXT,
    workflow_state TEXT NOT NULL DEFAULT 'received',
    due_at BIGINT,
    lease_token TEXT,
    lease_until BIGINT,
    alert TEXT NOT NULL
);
CREATE INDEX incidents_fingerprint ON incidents(fingerprint);
CREATE INDEX incidents_status ON incidents(status);
CREATE INDEX incidents_cluster_ns ON incidents(cluster, namespace);
CREATE INDEX incidents_started ON incidents(started_at DESC);
CREATE INDEX incidents_open_group ON incidents(group_key) WHERE status NOT IN ('resolved', 'closed');
CREATE INDEX incidents_workflow ON incidents(created_at)
    WHERE workflow_state NOT IN ('resolved', 'escalated', 'closed', 'failed');
CREATE TABLE incident_alerts (
    incident_id TEXT NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
    fingerprint TEXT NOT NULL,
    firing BIGINT NOT NULL,
    open BIGINT NOT NULL,
    PRIMARY KEY (incident_id, fingerprint)
);
CREATE INDEX incident_alerts_open_fp ON incident_alerts(fingerprint) WHERE open = 1;
CREATE TABLE reports (
    incident_id TEXT PRIMARY KEY REFERENCES incidents(id) ON DELETE CASCADE,
    report TEXT NOT NULL,
    graph TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE evidence (
    incident_id TEXT NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    evidence_type TEXT NOT NULL,
    source TEXT NOT NULL,
    entity TEXT NOT NULL,
    summary TEXT NOT NULL,
    signal_strength DOUBLE PRECISION NOT NULL,
    data TEXT NOT NULL,
    collected_at BIGINT NOT NULL,
    PRIMARY KEY (incident_id, id)
);
CREATE TABLE hypotheses (
    incident_id TEXT NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
    rank BIGINT NOT NULL,
    cause TEXT NOT NULL,
    category TEXT NOT NULL,
    title TEXT NOT NULL,
    confidence DOUBLE PRECISION NOT NULL,
    data TEXT NOT NULL,
    generated_at BIGINT NOT NULL,
    PRIMARY KEY (incident_id, rank)
);
CREATE TABLE runbooks (
    incident_id TEXT PRIMARY KEY REFERENCES incidents(id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    content TEXT NOT NULL,
    generated_at BIGINT NOT NULL
);
CREATE TABLE remediation_actions (
    id TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
    action_type TEXT NOT NULL,
    target TEXT NOT NULL,
    action TEXT NOT NULL,
    decision TEXT NOT NULL,
    reasons TEXT NOT NULL,
    blast_radius DOUBLE PRECISION NOT NULL,
    dry_run BIGINT NOT NULL,
    status TEXT NOT NULL,
    approval_deadline BIGINT,
    decided_by TEXT,
    decided_at BIGINT,
    started_at BIGINT,
    finished_at BIGINT,
    outcome TEXT
);
CREATE INDEX remediation_actions_incident ON remediation_actions(incident_id);
CREATE TABLE verification_results (
    seq {serial},
    incident_id TEXT NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
    action_id TEXT NOT NULL,
    success BIGINT NOT NULL,
    details TEXT NOT NULL,
    verified_at BIGINT NOT NULL
);
CREATE INDEX verification_results_incident ON verification_results(incident_id, seq);
CREATE TABLE audit_logs (
    seq {serial},
    incident_id TEXT NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
    action_type TEXT NOT NULL,
    actor TEXT NOT NULL,
    details TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX audit_logs_incident ON audit_logs(incident_id, seq);
"#,
    ),
    (
        2,
        r#"
ALTER TABLE remediation_actions ADD COLUMN approval_token TEXT;
CREATE UNIQUE INDEX remediation_actions_approval_token ON remediation_actions(approval_token);
"#,
    ),
    // The alert rows of a batch are found by fingerprint (every row, open or not), and no query
    // reads incidents by fingerprint: the incidents index only cost a random B-tree write per
    // new incident.
    (
        3,
        "DROP INDEX IF EXISTS incidents_fingerprint; DROP INDEX IF EXISTS incident_alerts_open_fp; \
         CREATE INDEX incident_alerts_fp ON incident_alerts(fingerprint, open);",
    ),
];

/// The advisory lock key of the migrations (PostgreSQL).
const MIGRATION_LOCK: i64 = 0x6169_6f70_735f_6d69;

fn db(e: sqlx::Error) -> StoreError {
    StoreError(format!("sql: {e}"))
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

/// A stable 64-bit key of a string (FNV-1a), for advisory locks.
fn lock_key(s: &str) -> i64 {
    let h = s.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    i64::from_ne_bytes(h.to_ne_bytes())
}

/// The SQL store (SQLite or PostgreSQL).
#[derive(Clone)]
pub struct SqlStore {
    pool: AnyPool,
    dialect: Dialect,
    _checkpointer: Option<std::sync::Arc<Checkpointer>>,
}

/// How often the SQLite WAL is checkpointed in the background.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// The background task that copies the SQLite WAL into the database file (a passive
/// checkpoint, which never blocks the writer), so commits do not pay for it; aborted when the
/// last clone of the store is dropped. `wal_autocheckpoint` stays on as the safety net.
struct Checkpointer(tokio::task::JoinHandle<()>);

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Checkpointer {
    fn spawn(pool: AnyPool) -> Self {
        Self(tokio::spawn(async move {
            let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while !pool.is_closed() {
                tick.tick().await;
                if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
                    tracing::debug!(error = %e, "WAL checkpoint failed");
                }
            }
        }))
    }
}

impl SqlStore {
    /// Opens `postgres://...` / `postgresql://...`, or else a SQLite file (`sqlite:PATH`,
    /// `sqlite://PATH` or a plain path; created if missing), and applies the migrations.
    pub async fn open(url: &str) -> StoreResult<Self> {
        sqlx::any::install_default_drivers();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Self::connect(url, Dialect::Postgres, 16).await;
        }
        let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
        Self::connect(&format!("sqlite://{path}?mode=rwc"), Dialect::Sqlite, 4).await
    }

    async fn connect(url: &str, dialect: Dialect, max: u32) -> StoreResult<Self> {
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            // A SQLite connection is a local file handle: pinging it before every transaction
            // would only add a round trip to its worker thread (a network connection is tested).
            .test_before_acquire(dialect == Dialect::Postgres)
            .after_connect(move |c, _| {
                Box::pin(async move {
                    if dialect == Dialect::Sqlite {
                        c.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
                             PRAGMA temp_store = MEMORY; PRAGMA cache_size = -16384; \
                             PRAGMA wal_autocheckpoint = 20000;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await
            .map_err(db)?;
        let checkpointer = (dialect == Dialect::Sqlite).then(|| std::sync::Arc::new(Checkpointer::spawn(pool.clone())));
        let store = Self { pool, dialect, _checkpointer: checkpointer };
        store.migrate().await?;
        Ok(store)
    }

    /// The JSON text column `sql` selects for `id`, parsed.
    async fn json_of<T: serde::de::DeserializeOwned>(&self, sql: &str, id: &str) -> StoreResult<Option<T>> {
        let v: Option<String> = sqlx::query_scalar(sql).bind(id).fetch_optional(&self.pool).await.map_err(db)?;
        v.as_deref().map(from_json).transpose()
    }

    /// Which database this is.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Begins a write transaction (SQLite: `BEGIN IMMEDIATE`, taking the write lock up front).
    async fn write(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Any>> {
        match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db),
            Dialect::Postgres => self.pool.begin().await.map_err(db),
        }
    }

    /// Takes transaction-scoped advisory locks on `keys` in sorted order (PostgreSQL; SQLite's
    /// write transaction already excludes every other writer).
    async fn lock(&self, c: &mut AnyConnection, keys: &mut Vec<i64>) -> StoreResult<()> {
        if self.dialect != Dialect::Postgres {
            return Ok(());
        }
        keys.sort_unstable();
        keys.dedup();
        for k in keys.iter() {
            sqlx::query("SELECT 1 FROM (SELECT pg_advisory_xact_lock($1)) l")
                .bind(*k)
                .execute(&mut *c)
                .await
                .map_err(db)?;
        }
        Ok(())
    }

    async fn migrate(&self) -> StoreResult<()> {
        let mut tx = self.write().await?;
        self.lock(&mut tx, &mut vec![MIGRATION_LOCK]).await?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS aiops_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
        )
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let serial = match self.dialect {
            Dialect::Sqlite => "INTEGER PRIMARY KEY AUTOINCREMENT",
            Dialect::Postgres => "BIGSERIAL PRIMARY KEY",
        };
        for (version, sql) in MIGRATIONS {
            let done = sqlx::query("SELECT version FROM aiops_migrations WHERE version = $1")
                .bind(version)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
            if done.is_some() {
                continue;
            }
            let sql = sql.replace("{serial}", serial);
            sqlx::raw_sql(&sql).execute(&mut *tx).await.map_err(db)?;
            sqlx::query("INSERT INTO aiops_migrations (version, applied_at) VALUES ($1, $2)")
                .bind(version)
                .bind(ns(Timestamp::now()))
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }
}

fn row_to_incident(r: &AnyRow) -> StoreResult<StoredIncident> {
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

fn row_to_action(r: &AnyRow) -> StoreResult<ActionRecord> {
    let g = |c: &str| r.try_get::<String, _>(c).map_err(db);
    let og = |c: &str| r.try_get::<Option<String>, _>(c).map_err(db);
    let ot = |c: &str| r.try_get::<Option<i64>, _>(c).map(|v| v.map(ts)).map_err(db);
    let decision = g("decision")?;
    let status = g("status")?;
    Ok(ActionRecord {
        incident_id: g("incident_id")?,
        action: from_json(&g("action")?)?,
        decision: Decision::parse(&decision).ok_or_else(|| StoreError(format!("bad decision {decision:?}")))?,
        reasons: from_json(&g("reasons")?)?,
        blast_radius: r.try_get::<f64, _>("blast_radius").map_err(db)?,
        dry_run: r.try_get::<i64, _>("dry_run").map_err(db)? != 0,
        status: ActionStatus::parse(&status).ok_or_else(|| StoreError(format!("bad action status {status:?}")))?,
        approval_deadline: ot("approval_deadline")?,
        decided_by: og("decided_by")?,
        decided_at: ot("decided_at")?,
        started_at: ot("started_at")?,
        finished_at: ot("finished_at")?,
        outcome: og("outcome")?.as_deref().map(from_json).transpose()?,
        approval_token: og("approval_token")?,
    })
}

async fn audit_in(
    c: &mut AnyConnection,
    id: &str,
    action: &str,
    actor: &str,
    details: &str,
    at: Timestamp,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO audit_logs (incident_id, action_type, actor, details, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
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

async fn close_alerts(c: &mut AnyConnection, id: &str) -> StoreResult<()> {
    sqlx::query("UPDATE incident_alerts SET open = 0 WHERE incident_id = $1").bind(id).execute(c).await.map_err(db)?;
    Ok(())
}

/// One `incident_alerts` row of an incident a batch touches.
#[derive(Debug, Clone, Copy)]
struct AlertRow {
    firing: bool,
    open: bool,
    /// Changed by the batch: written back.
    dirty: bool,
}

/// An incident one batch reads or writes, as far as ingestion needs it.
#[derive(Debug)]
struct Touched {
    last_seen: i64,
    open: bool,
    /// How many of its alerts are firing (all of them, not only the batch's fingerprints).
    firing: i64,
    /// Its rows of the batch's fingerprints.
    alerts: HashMap<String, AlertRow>,
    /// Created by this batch: the record to insert.
    created: Option<StoredIncident>,
    /// Alerts added by the batch (repeats and attached ones).
    added: u64,
    /// `last_seen_at` moved.
    seen_moved: bool,
    updated_at: Option<i64>,
    resolved_at: Option<i64>,
}

/// One batch's ingestion, worked out in Rust on the rows its fingerprints and group keys
/// select, then written back with a constant number of statements. Every alert sees the effects
/// of the ones before it, exactly as if it came in a later batch.
#[derive(Default)]
struct BatchPlan {
    incs: HashMap<String, Touched>,
    /// The incidents with a row of each fingerprint (open or not: see `open_by_fp`).
    by_fp: HashMap<String, Vec<String>>,
    /// The open incidents of each group key.
    by_group: HashMap<String, Vec<String>>,
    /// Candidate ids already in the database.
    taken: HashSet<String>,
    /// Ids created, in order.
    created: Vec<String>,
    /// Ids resolved, in order.
    resolved: Vec<String>,
    /// Audit rows (incident, action, at), in order.
    audit: Vec<(String, &'static str, i64)>,
}

impl BatchPlan {
    fn load(&mut self, id: &str, last_seen: i64, status: &str) {
        if self.incs.contains_key(id) {
            return;
        }
        let open = IncidentStatus::parse(status).is_none_or(super::is_open);
        let t = Touched {
            last_seen,
            open,
            firing: 0,
            alerts: HashMap::new(),
            created: None,
            added: 0,
            seen_moved: false,
            updated_at: None,
            resolved_at: None,
        };
        self.incs.insert(id.to_string(), t);
    }

    /// The incident with an open row of `fp`, most recently seen (`... WHERE fingerprint = $1
    /// AND open = 1 ORDER BY last_seen_at DESC LIMIT 1`; ties go to the greater id, so the
    /// choice does not depend on row order).
    fn open_by_fp(&self, fp: &str) -> Option<String> {
        let ids = self.by_fp.get(fp)?;
        ids.iter()
            .filter_map(|id| {
                let t = self.incs.get(id)?;
                t.alerts.get(fp).is_some_and(|r| r.open).then_some((t.last_seen, id))
            })
            .max()
            .map(|(_, id)| id.clone())
    }

    /// The open incident of group `gk` seen most recently, if at or after `since`.
    fn open_of_group(&self, gk: &str, since: i64) -> Option<String> {
        let ids = self.by_group.get(gk)?;
        ids.iter()
            .filter_map(|id| {
                let t = self.incs.get(id)?;
                t.open.then_some((t.last_seen, id))
            })
            .max()
            .filter(|(seen, _)| *seen >= since)
            .map(|(_, id)| id.clone())
    }

    /// Sets the row (`id`, `fp`), keeping the incident's firing count and the index current.
    fn set_alert(&mut self, id: &str, fp: &str, firing: bool, open: bool) {
        let Some(t) = self.incs.get_mut(id) else { return };
        // A row not loaded yet starts dirty: it is inserted.
        let row = t.alerts.entry(fp.to_string()).or_insert(AlertRow { firing: false, open: false, dirty: true });
        if row.firing != firing {
            t.firing += if firing { 1 } else { -1 };
        }
        // A repeat that changes nothing writes nothing.
        let dirty = row.dirty || row.firing != firing || row.open != open;
        *row = AlertRow { firing, open, dirty };
        if open {
            let ids = self.by_fp.entry(fp.to_string()).or_default();
            if !ids.iter().any(|i| i == id) {
                ids.push(id.to_string());
            }
        }
    }

    /// A repeat or an attached alert: the row fires, the incident was seen now.
    fn touch(&mut self, id: &str, fp: &str, now: i64) {
        self.set_alert(id, fp, true, true);
        if let Some(t) = self.incs.get_mut(id) {
            t.last_seen = now;
            t.seen_moved = true;
            t.updated_at = Some(now);
            t.added += 1;
        }
    }

    fn resolve(&mut self, a: &Incoming) -> Outcome {
        let fp = a.incident.fingerprint.as_str();
        let now = ns(a.received_at);
        let Some(id) = self.open_by_fp(fp) else { return Outcome::Unmatched };
        self.set_alert(&id, fp, false, true);
        let Some(t) = self.incs.get_mut(&id) else { return Outcome::Unmatched };
        t.updated_at = Some(now);
        if t.firing > 0 {
            return Outcome::AlertResolved(id);
        }
        t.open = false;
        t.resolved_at = Some(now);
        for row in t.alerts.values_mut() {
            row.open = false;
            row.dirty = true;
        }
        self.resolved.push(id.clone());
        self.audit.push((id.clone(), "resolved", now));
        Outcome::Resolved(id)
    }

    /// A firing alert that matched nothing: a new incident `id`.
    fn create(&mut self, a: &Incoming, id: String) -> Outcome {
        let now = ns(a.received_at);
        let rec = StoredIncident::new(a, id.clone());
        let t = Touched {
            last_seen: now,
            open: rec.is_open(),
            firing: 0,
            alerts: HashMap::new(),
            created: Some(rec),
            added: 0,
            seen_moved: false,
            updated_at: None,
            resolved_at: None,
        };
        self.incs.insert(id.clone(), t);
        self.set_alert(&id, &a.incident.fingerprint, true, true);
        if let Some(gk) = &a.alert.group_key {
            self.by_group.entry(gk.clone()).or_default().push(id.clone());
        }
        self.created.push(id.clone());
        self.audit.push((id.clone(), "created", now));
        Outcome::Created(id)
    }
}

/// A JSON array of strings, the one parameter of a list ([`SqlStore::strs`]).
fn str_list<'a>(items: impl IntoIterator<Item = &'a str>) -> StoreResult<String> {
    to_json(&items.into_iter().collect::<Vec<_>>())
}

fn flag(b: bool) -> i64 {
    i64::from(b)
}

impl SqlStore {
    /// A subquery of the strings of the JSON array parameter `$n` (one parameter for any number
    /// of values: no per-value parameters, so no parameter limit and one cached statement).
    fn strs(&self, n: u8) -> String {
        match self.dialect {
            Dialect::Sqlite => format!("(SELECT value FROM json_each(${n}))"),
            Dialect::Postgres => format!("(SELECT jsonb_array_elements_text(${n}::text::jsonb))"),
        }
    }

    /// `column` in a condition that must not pick the index (SQLite's unary `+`).
    fn unindexed(&self, column: &str) -> String {
        match self.dialect {
            Dialect::Sqlite => format!("+{column}"),
            Dialect::Postgres => column.to_string(),
        }
    }

    /// A FROM item `r` of the objects of the JSON array parameter `$n`: `r.value` is one object
    /// (read with `r.value ->> 'field'`), `r.key` its position.
    fn rows(&self, n: u8) -> String {
        match self.dialect {
            Dialect::Sqlite => format!("json_each(${n}) AS r"),
            Dialect::Postgres => format!("jsonb_array_elements(${n}::text::jsonb) WITH ORDINALITY AS r(value, key)"),
        }
    }

    /// Takes the transaction-scoped advisory locks of `keys`, sorted, in one statement
    /// (PostgreSQL; SQLite's write transaction already excludes every other writer).
    async fn lock_all(&self, c: &mut AnyConnection, keys: &mut Vec<i64>) -> StoreResult<()> {
        if self.dialect != Dialect::Postgres || keys.is_empty() {
            return Ok(());
        }
        keys.sort_unstable();
        keys.dedup();
        let list = format!("{{{}}}", keys.iter().map(i64::to_string).collect::<Vec<_>>().join(","));
        sqlx::query(
            "SELECT COUNT(*) FROM (SELECT pg_advisory_xact_lock(k) FROM unnest($1::text::bigint[]) WITH ORDINALITY \
             AS u(k, n) ORDER BY n) l",
        )
        .bind(list)
        .execute(c)
        .await
        .map_err(db)?;
        Ok(())
    }

    /// Reads what `batch` needs: the incidents with open rows of its fingerprints, the open
    /// incidents of its group keys, their rows of those fingerprints and firing counts, and
    /// which of the new incidents' candidate ids exist.
    /// Reads what the batch touches in two round trips: the open incidents of its fingerprints
    /// and group keys with the candidate ids already taken, then the alert rows and firing
    /// counts of those incidents (each a `UNION ALL` of tagged rows).
    async fn plan_load(&self, c: &mut AnyConnection, batch: &[Incoming]) -> StoreResult<BatchPlan> {
        let mut p = BatchPlan::default();
        let mut fps: Vec<&str> = batch.iter().map(|a| a.incident.fingerprint.as_str()).collect();
        fps.sort_unstable();
        fps.dedup();
        let mut gks: Vec<&str> = batch
            .iter()
            .filter(|a| a.state == AlertState::Firing)
            .filter_map(|a| a.alert.group_key.as_deref())
            .collect();
        gks.sort_unstable();
        gks.dedup();
        let candidates: Vec<String> = batch
            .iter()
            .filter(|a| a.state == AlertState::Firing)
            .flat_map(|a| [super::candidate_id(a, 0), super::candidate_id(a, 1)])
            .collect();
        let fps_json = str_list(fps.iter().copied())?;
        let sql = format!(
            "SELECT 'f', i.id, i.last_seen_at, i.status, NULL FROM incidents i WHERE i.id IN (SELECT a.incident_id \
             FROM incident_alerts a WHERE a.open = 1 AND a.fingerprint IN {fps}) \
             UNION ALL SELECT 'g', id, last_seen_at, status, group_key FROM incidents WHERE group_key IN {gks} \
             AND status NOT IN ('resolved', 'closed') \
             UNION ALL SELECT 't', id, NULL, NULL, NULL FROM incidents WHERE id IN {taken}",
            fps = self.strs(1),
            gks = self.strs(2),
            taken = self.strs(3)
        );
        let rows = sqlx::query(&sql)
            .bind(&fps_json)
            .bind(str_list(gks)?)
            .bind(str_list(candidates.iter().map(String::as_str))?)
            .fetch_all(&mut *c)
            .await
            .map_err(db)?;
        for r in rows {
            let tag: String = r.try_get(0).map_err(db)?;
            let id: String = r.try_get(1).map_err(db)?;
            if tag == "t" {
                p.taken.insert(id);
                continue;
            }
            let seen: Option<i64> = r.try_get(2).map_err(db)?;
            let status: Option<String> = r.try_get(3).map_err(db)?;
            p.load(&id, seen.unwrap_or_default(), status.as_deref().unwrap_or_default());
            if let Some(gk) = r.try_get::<Option<String>, _>(4).map_err(db)? {
                p.by_group.entry(gk).or_default().push(id);
            }
        }
        if !p.incs.is_empty() {
            self.load_alert_rows(c, &mut p, &fps_json).await?;
        }
        Ok(p)
    }

    /// The alert rows of the batch's fingerprints in the loaded incidents, and each incident's
    /// count of firing rows. The rows are found by fingerprint (SQLite, without statistics,
    /// would otherwise probe the primary key with every id x fingerprint pair: a million probes
    /// for 1,000 repeats).
    async fn load_alert_rows(&self, c: &mut AnyConnection, p: &mut BatchPlan, fps_json: &str) -> StoreResult<()> {
        let ids_json = str_list(p.incs.keys().map(String::as_str))?;
        let sql = format!(
            "SELECT 'a', incident_id, fingerprint, firing, open FROM incident_alerts WHERE fingerprint IN {fps} \
             AND {id} IN {ids} \
             UNION ALL SELECT 'c', incident_id, NULL, COUNT(*), NULL FROM incident_alerts WHERE firing = 1 \
             AND incident_id IN {ids} GROUP BY incident_id",
            fps = self.strs(2),
            id = self.unindexed("incident_id"),
            ids = self.strs(1)
        );
        let rows = sqlx::query(&sql).bind(&ids_json).bind(fps_json).fetch_all(&mut *c).await.map_err(db)?;
        for r in rows {
            let tag: String = r.try_get(0).map_err(db)?;
            let id: String = r.try_get(1).map_err(db)?;
            let firing: i64 = r.try_get(3).map_err(db)?;
            let Some(t) = p.incs.get_mut(&id) else { continue };
            if tag == "c" {
                t.firing = firing;
                continue;
            }
            let fp: String = r.try_get(2).map_err(db)?;
            let open = r.try_get::<i64, _>(4).map_err(db)? != 0;
            if open {
                p.by_fp.entry(fp.clone()).or_default().push(id.clone());
            }
            t.alerts.insert(fp, AlertRow { firing: firing != 0, open, dirty: false });
        }
        Ok(())
    }

    async fn plan_fresh_id(&self, c: &mut AnyConnection, p: &BatchPlan, a: &Incoming) -> StoreResult<String> {
        let mut n = 0_u32;
        loop {
            let id = super::candidate_id(a, n);
            let mut taken = p.incs.contains_key(&id) || p.taken.contains(&id);
            if !taken && n >= 2 {
                taken = sqlx::query("SELECT id FROM incidents WHERE id = $1")
                    .bind(&id)
                    .fetch_optional(&mut *c)
                    .await
                    .map_err(db)?
                    .is_some();
            }
            if !taken {
                return Ok(id);
            }
            n = n.saturating_add(1);
        }
    }

    /// Writes a worked-out batch: new incidents, moved incidents, alert rows, closed alert rows,
    /// audit rows (at most five statements, whatever the batch size).
    async fn plan_write(&self, c: &mut AnyConnection, p: &BatchPlan) -> StoreResult<()> {
        let mut created = Vec::with_capacity(p.created.len());
        for id in &p.created {
            let Some(t) = p.incs.get(id) else { continue };
            let Some(s) = &t.created else { continue };
            let i = &s.incident;
            let status = if t.resolved_at.is_some() { IncidentStatus::Resolved } else { i.status };
            created.push(serde_json::json!({
                "id": i.id, "fingerprint": i.fingerprint, "title": i.title, "description": i.description,
                "severity": i.severity.as_str(), "status": status.as_str(), "source": i.source.as_str(),
                "cluster": i.cluster, "namespace": i.namespace, "service": i.service, "pod": i.pod,
                "labels": to_json(&i.labels)?, "annotations": to_json(&i.annotations)?,
                "started_at": ns(i.started_at), "resolved_at": t.resolved_at, "created_at": ns(s.created_at),
                "updated_at": t.updated_at.unwrap_or(ns(s.created_at)), "last_seen_at": t.last_seen,
                "alert_count": 1 + t.added, "group_key": s.group_key, "alert": to_json(&s.alert)?,
            }));
        }
        if !created.is_empty() {
            let sql = format!(
                "INSERT INTO incidents (id, fingerprint, title, description, severity, status, source, cluster, \
                 namespace, service, pod, labels, annotations, started_at, resolved_at, created_at, updated_at, \
                 last_seen_at, alert_count, group_key, workflow_state, alert) \
                 SELECT r.value ->> 'id', r.value ->> 'fingerprint', r.value ->> 'title', r.value ->> 'description', \
                 r.value ->> 'severity', r.value ->> 'status', r.value ->> 'source', r.value ->> 'cluster', \
                 r.value ->> 'namespace', r.value ->> 'service', r.value ->> 'pod', r.value ->> 'labels', \
                 r.value ->> 'annotations', CAST(r.value ->> 'started_at' AS BIGINT), \
                 CAST(r.value ->> 'resolved_at' AS BIGINT), CAST(r.value ->> 'created_at' AS BIGINT), \
                 CAST(r.value ->> 'updated_at' AS BIGINT), CAST(r.value ->> 'last_seen_at' AS BIGINT), \
                 CAST(r.value ->> 'alert_count' AS BIGINT), r.value ->> 'group_key', 'received', r.value ->> 'alert' \
                 FROM {} ORDER BY r.key",
                self.rows(1)
            );
            sqlx::query(&sql).bind(to_json(&created)?).execute(&mut *c).await.map_err(db)?;
        }
        let moved: Vec<serde_json::Value> = p
            .incs
            .iter()
            .filter(|(_, t)| t.created.is_none())
            .filter_map(|(id, t)| {
                Some(serde_json::json!({
                    "id": id, "last_seen_at": t.seen_moved.then_some(t.last_seen), "updated_at": t.updated_at?,
                    "added": t.added, "resolved_at": t.resolved_at,
                }))
            })
            .collect();
        if !moved.is_empty() {
            let sql = format!(
                "UPDATE incidents SET \
                 last_seen_at = COALESCE(CAST(r.value ->> 'last_seen_at' AS BIGINT), incidents.last_seen_at), \
                 updated_at = CAST(r.value ->> 'updated_at' AS BIGINT), \
                 alert_count = incidents.alert_count + CAST(r.value ->> 'added' AS BIGINT), \
                 status = CASE WHEN r.value ->> 'resolved_at' IS NULL THEN incidents.status ELSE 'resolved' END, \
                 resolved_at = COALESCE(CAST(r.value ->> 'resolved_at' AS BIGINT), incidents.resolved_at) \
                 FROM {} WHERE incidents.id = r.value ->> 'id'",
                self.rows(1)
            );
            sqlx::query(&sql).bind(to_json(&moved)?).execute(&mut *c).await.map_err(db)?;
        }
        let rows: Vec<serde_json::Value> = p
            .incs
            .iter()
            .flat_map(|(id, t)| {
                t.alerts.iter().filter(|(_, r)| r.dirty).map(move |(fp, r)| {
                    serde_json::json!({"id": id, "fp": fp, "firing": flag(r.firing), "open": flag(r.open)})
                })
            })
            .collect();
        if !rows.is_empty() {
            let sql = format!(
                "INSERT INTO incident_alerts (incident_id, fingerprint, firing, open) \
                 SELECT r.value ->> 'id', r.value ->> 'fp', CAST(r.value ->> 'firing' AS BIGINT), \
                 CAST(r.value ->> 'open' AS BIGINT) FROM {} WHERE true \
                 ON CONFLICT (incident_id, fingerprint) DO UPDATE SET firing = excluded.firing, open = excluded.open",
                self.rows(1)
            );
            sqlx::query(&sql).bind(to_json(&rows)?).execute(&mut *c).await.map_err(db)?;
        }
        if !p.resolved.is_empty() {
            let sql = format!("UPDATE incident_alerts SET open = 0 WHERE incident_id IN {}", self.strs(1));
            sqlx::query(&sql)
                .bind(str_list(p.resolved.iter().map(String::as_str))?)
                .execute(&mut *c)
                .await
                .map_err(db)?;
        }
        if !p.audit.is_empty() {
            let audit: Vec<serde_json::Value> = p
                .audit
                .iter()
                .map(|(id, action, at)| serde_json::json!({"id": id, "action": action, "at": at}))
                .collect();
            let sql = format!(
                "INSERT INTO audit_logs (incident_id, action_type, actor, details, created_at) \
                 SELECT r.value ->> 'id', r.value ->> 'action', 'alert', '{{}}', CAST(r.value ->> 'at' AS BIGINT) \
                 FROM {} ORDER BY r.key",
                self.rows(1)
            );
            sqlx::query(&sql).bind(to_json(&audit)?).execute(&mut *c).await.map_err(db)?;
        }
        Ok(())
    }

    /// Ingests `batch` in the open transaction `c` with a constant number of statements.
    async fn ingest_in(
        &self,
        c: &mut AnyConnection,
        batch: &[Incoming],
        policy: &DedupPolicy,
    ) -> StoreResult<Vec<Outcome>> {
        let mut p = self.plan_load(c, batch).await?;
        let mut out = Vec::with_capacity(batch.len());
        for a in batch {
            let o = match a.state {
                AlertState::Resolved => p.resolve(a),
                AlertState::Firing => {
                    let fp = a.incident.fingerprint.as_str();
                    let now = ns(a.received_at);
                    let since = ns(window_start(a.received_at, policy.window));
                    if let Some(id) = p.open_by_fp(fp).filter(|id| p.incs.get(id).is_some_and(|t| t.last_seen >= since))
                    {
                        p.touch(&id, fp, now);
                        Outcome::Deduplicated(id)
                    } else if let Some(id) = a.alert.group_key.as_deref().and_then(|gk| p.open_of_group(gk, since)) {
                        p.touch(&id, fp, now);
                        Outcome::Attached(id)
                    } else {
                        let id = self.plan_fresh_id(c, &p, a).await?;
                        p.create(a, id)
                    }
                }
            };
            out.push(o);
        }
        self.plan_write(c, &p).await?;
        Ok(out)
    }
}

async fn save_diagnosis(
    c: &mut AnyConnection,
    id: &str,
    report: &Report,
    graph: &GraphSnapshot,
    at: Timestamp,
) -> StoreResult<()> {
    let t = ns(at);
    sqlx::query(
        "INSERT INTO reports (incident_id, report, graph, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (incident_id) DO UPDATE SET report = excluded.report, graph = excluded.graph, \
         created_at = excluded.created_at",
    )
    .bind(id)
    .bind(to_json(report)?)
    .bind(to_json(graph)?)
    .bind(t)
    .execute(&mut *c)
    .await
    .map_err(db)?;
    for table in ["evidence", "hypotheses", "runbooks"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE incident_id = $1"))
            .bind(id)
            .execute(&mut *c)
            .await
            .map_err(db)?;
    }
    for e in &report.evidence {
        sqlx::query(
            "INSERT INTO evidence (incident_id, id, evidence_type, source, entity, summary, signal_strength, data, \
             collected_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (incident_id, id) DO NOTHING",
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
        .execute(&mut *c)
        .await
        .map_err(db)?;
    }
    for h in &report.hypotheses {
        sqlx::query(
            "INSERT INTO hypotheses (incident_id, rank, cause, category, title, confidence, data, generated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (incident_id, rank) DO NOTHING",
        )
        .bind(id)
        .bind(i64::try_from(h.rank).unwrap_or(i64::MAX))
        .bind(h.cause.as_str())
        .bind(h.category.as_str())
        .bind(&h.title)
        .bind(h.confidence)
        .bind(to_json(h)?)
        .bind(t)
        .execute(&mut *c)
        .await
        .map_err(db)?;
    }
    sqlx::query("INSERT INTO runbooks (incident_id, title, content, generated_at) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(&report.runbook.title)
        .bind(to_json(&report.runbook)?)
        .bind(t)
        .execute(c)
        .await
        .map_err(db)?;
    Ok(())
}

async fn upsert_action(c: &mut AnyConnection, a: &ActionRecord) -> StoreResult<()> {
    let ot = |t: Option<Timestamp>| t.map(ns);
    sqlx::query(
        "INSERT INTO remediation_actions (id, incident_id, action_type, target, action, decision, reasons, blast_radius, \
         dry_run, status, approval_deadline, decided_by, decided_at, started_at, finished_at, outcome, approval_token) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
         ON CONFLICT (id) DO UPDATE SET status = excluded.status, approval_deadline = excluded.approval_deadline, \
         decided_by = excluded.decided_by, decided_at = excluded.decided_at, started_at = excluded.started_at, \
         finished_at = excluded.finished_at, outcome = excluded.outcome, \
         approval_token = COALESCE(excluded.approval_token, remediation_actions.approval_token)",
    )
    .bind(&a.action.idempotency_key)
    .bind(&a.incident_id)
    .bind(a.action.action.as_str())
    .bind(a.action.target.to_string())
    .bind(to_json(&a.action)?)
    .bind(a.decision.as_str())
    .bind(to_json(&a.reasons)?)
    .bind(a.blast_radius)
    .bind(i64::from(a.dry_run))
    .bind(a.status.as_str())
    .bind(ot(a.approval_deadline))
    .bind(&a.decided_by)
    .bind(ot(a.decided_at))
    .bind(ot(a.started_at))
    .bind(ot(a.finished_at))
    .bind(a.outcome.as_ref().map(to_json).transpose()?)
    .bind(&a.approval_token)
    .execute(c)
    .await
    .map_err(db)?;
    Ok(())
}

async fn insert_verification(c: &mut AnyConnection, v: &VerificationRecord) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO verification_results (incident_id, action_id, success, details, verified_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&v.incident_id)
    .bind(&v.action_key)
    .bind(i64::from(v.success))
    .bind(to_json(&v.details)?)
    .bind(ns(v.verified_at))
    .execute(c)
    .await
    .map_err(db)?;
    Ok(())
}

async fn action_of(c: &mut AnyConnection, id: &str) -> StoreResult<Option<ActionRecord>> {
    let row = sqlx::query("SELECT * FROM remediation_actions WHERE incident_id = $1 ORDER BY id LIMIT 1")
        .bind(id)
        .fetch_optional(c)
        .await
        .map_err(db)?;
    row.as_ref().map(row_to_action).transpose()
}

#[async_trait]
impl IncidentStore for SqlStore {
    fn name(&self) -> &'static str {
        match self.dialect {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
        }
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(db).map(|_| ())
    }

    async fn ingest(&self, batch: &[Incoming], policy: &DedupPolicy) -> StoreResult<Vec<Outcome>> {
        let mut tx = self.write().await?;
        let mut keys: Vec<i64> = batch
            .iter()
            .flat_map(|a| std::iter::once(&a.incident.fingerprint).chain(a.alert.group_key.as_ref()))
            .map(|k| lock_key(k))
            .collect();
        self.lock_all(&mut tx, &mut keys).await?;
        let out = self.ingest_in(&mut tx, batch, policy).await?;
        tx.commit().await.map_err(db)?;
        Ok(out)
    }

    async fn get(&self, id: &str) -> StoreResult<Option<StoredIncident>> {
        let row = sqlx::query("SELECT * FROM incidents WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.as_ref().map(row_to_incident).transpose()
    }

    async fn list(&self, f: &ListFilter) -> StoreResult<Vec<StoredIncident>> {
        let rows = sqlx::query(
            "SELECT * FROM incidents WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR severity = $2) \
             AND ($3 IS NULL OR namespace = $3) ORDER BY started_at DESC, id LIMIT $4 OFFSET $5",
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
        let mut tx = self.write().await?;
        let (sql, action) = match change {
            StatusChange::Acknowledge => (
                "UPDATE incidents SET acknowledged_at = COALESCE(acknowledged_at, $1), updated_at = $1, \
                 status = CASE status WHEN 'open' THEN 'investigating' ELSE status END WHERE id = $2",
                "acknowledged",
            ),
            StatusChange::Resolve => (
                "UPDATE incidents SET resolved_at = CASE WHEN status IN ('resolved', 'closed') THEN resolved_at ELSE $1 END, \
                 updated_at = $1, status = CASE WHEN status IN ('resolved', 'closed') THEN status ELSE 'resolved' END \
                 WHERE id = $2",
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
        let row =
            sqlx::query("SELECT * FROM incidents WHERE id = $1").bind(id).fetch_one(&mut *tx).await.map_err(db)?;
        let out = row_to_incident(&row)?;
        tx.commit().await.map_err(db)?;
        Ok(Some(out))
    }

    async fn claim(&self, token: &str, now: Timestamp, lease: Duration, limit: usize) -> StoreResult<Vec<Claim>> {
        let skip_locked = if self.dialect == Dialect::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
        let sql = format!(
            "UPDATE incidents SET lease_token = $1, lease_until = $2 WHERE id IN (\
               SELECT id FROM incidents WHERE workflow_state NOT IN ('resolved', 'escalated', 'closed', 'failed') \
               AND (lease_until IS NULL OR lease_until < $3) AND (due_at IS NULL OR due_at <= $3) \
               ORDER BY created_at, id LIMIT $4{skip_locked}) RETURNING *"
        );
        let rows = sqlx::query(&sql)
            .bind(token)
            .bind(ns(after(now, lease)))
            .bind(ns(now))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        let mut out: Vec<Claim> = rows
            .iter()
            .map(|r| Ok(Claim { incident: row_to_incident(r)?, token: token.to_string() }))
            .collect::<StoreResult<_>>()?;
        out.sort_by(|a, b| {
            a.incident.created_at.cmp(&b.incident.created_at).then(a.incident.incident.id.cmp(&b.incident.incident.id))
        });
        Ok(out)
    }

    async fn advance(&self, claim: &Claim, from: WorkflowState, step: &Step, at: Timestamp) -> StoreResult<bool> {
        let id = claim.incident.incident.id.as_str();
        let mut tx = self.write().await?;
        let n = sqlx::query(
            "UPDATE incidents SET workflow_state = $1, due_at = $2, lease_until = $3, \
             lease_token = CASE WHEN $3 IS NULL THEN NULL ELSE lease_token END, updated_at = $4 \
             WHERE id = $5 AND workflow_state = $6 AND lease_token = $7",
        )
        .bind(step.to.unwrap_or(from).as_str())
        .bind(step.due_at.map(ns))
        .bind(step.lease_until.map(ns))
        .bind(ns(at))
        .bind(id)
        .bind(from.as_str())
        .bind(&claim.token)
        .execute(&mut *tx)
        .await
        .map_err(db)?
        .rows_affected();
        if n == 0 {
            return Ok(false);
        }
        if let Some((report, graph)) = &step.diagnosis {
            save_diagnosis(&mut tx, id, report, graph, at).await?;
        }
        if let Some(a) = &step.action {
            upsert_action(&mut tx, a).await?;
        }
        if let Some(v) = &step.verification {
            insert_verification(&mut tx, v).await?;
        }
        if let Some((kind, details)) = &step.audit {
            audit_in(&mut tx, id, kind, "system", &to_json(details)?, at).await?;
        }
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn action(&self, id: &str) -> StoreResult<Option<ActionRecord>> {
        let mut c = self.pool.acquire().await.map_err(db)?;
        action_of(&mut c, id).await
    }

    async fn decide_with(&self, id: &str, d: &HumanDecision) -> StoreResult<Decided> {
        let mut tx = self.write().await?;
        let exists = sqlx::query("SELECT id FROM incidents WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        if exists.is_none() {
            return Ok(Decided::NotFound);
        }
        let status = if d.approve { ActionStatus::Approved } else { ActionStatus::Rejected };
        let update = "UPDATE remediation_actions SET status = $1, decided_by = $2, decided_at = $3 WHERE incident_id = $4 \
             AND status = 'awaiting_approval' AND (approval_deadline IS NULL OR approval_deadline >= $3)";
        let with_token = format!("{update} AND approval_token = $5");
        let q = match &d.token {
            Some(_) => sqlx::query(&with_token),
            None => sqlx::query(update),
        };
        let q = q.bind(status.as_str()).bind(&d.actor).bind(ns(d.at)).bind(id);
        let q = match &d.token {
            Some(t) => q.bind(t),
            None => q,
        };
        let n = q.execute(&mut *tx).await.map_err(db)?.rows_affected();
        if n == 0 {
            return Ok(Decided::NotAwaiting(action_of(&mut tx, id).await?));
        }
        sqlx::query(
            "UPDATE incidents SET due_at = $1, updated_at = $1 WHERE id = $2 AND workflow_state = 'awaiting_approval'",
        )
        .bind(ns(d.at))
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let out = action_of(&mut tx, id).await?.ok_or_else(|| StoreError(format!("the action of {id} vanished")))?;
        let details = to_json(&d.audit_details(&out.action.idempotency_key))?;
        audit_in(&mut tx, id, d.kind(), &d.actor, &details, d.at).await?;
        tx.commit().await.map_err(db)?;
        Ok(Decided::Recorded(out))
    }

    async fn action_by_token(&self, token: &str) -> StoreResult<Option<ActionRecord>> {
        let row = sqlx::query("SELECT * FROM remediation_actions WHERE approval_token = $1")
            .bind(token)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.as_ref().map(row_to_action).transpose()
    }

    async fn verifications(&self, id: &str) -> StoreResult<Vec<VerificationRecord>> {
        let rows = sqlx::query(
            "SELECT incident_id, action_id, success, details, verified_at FROM verification_results \
             WHERE incident_id = $1 ORDER BY seq",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok(VerificationRecord {
                    incident_id: r.try_get(0).map_err(db)?,
                    action_key: r.try_get(1).map_err(db)?,
                    success: r.try_get::<i64, _>(2).map_err(db)? != 0,
                    details: from_json(&r.try_get::<String, _>(3).map_err(db)?)?,
                    verified_at: ts(r.try_get(4).map_err(db)?),
                })
            })
            .collect()
    }

    async fn report(&self, id: &str) -> StoreResult<Option<Report>> {
        self.json_of("SELECT report FROM reports WHERE incident_id = $1", id).await
    }

    async fn graph(&self, id: &str) -> StoreResult<Option<GraphSnapshot>> {
        self.json_of("SELECT graph FROM reports WHERE incident_id = $1", id).await
    }

    async fn append_audit(&self, e: &AuditEntry) -> StoreResult<()> {
        let mut c = self.pool.acquire().await.map_err(db)?;
        audit_in(&mut c, &e.incident_id, &e.action_type, &e.actor, &to_json(&e.details)?, e.created_at).await
    }

    async fn audit(&self, id: &str) -> StoreResult<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT incident_id, action_type, actor, details, created_at FROM audit_logs WHERE incident_id = $1 ORDER BY seq",
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
