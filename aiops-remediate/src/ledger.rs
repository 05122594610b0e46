//! The execution ledger and the circuit breaker.
//!
//! Every real execution reserves its idempotency key in the [`Ledger`] **before** the first
//! write is sent, so a retried, replayed or concurrent request with the same key never executes
//! again: a finished key answers with its recorded outcome, a key whose attempt never finished
//! is "in doubt" and is left to a human. The ledger is kept in memory and, optionally, appended
//! to a JSON-lines file (each line a snapshot of one entry; the last one per key wins), synced
//! to disk before the write goes out.
//!
//! The [`CircuitBreaker`] reads the same ledger: at most N executions per namespace per hour,
//! and no further automatic action on a target whose last remediation failed verification.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use aiops_core::model::{ActionType, RemediationAction, ResourceRef};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::error::{RemediateError, Result};

/// Where an execution stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryState {
    /// The key is reserved and the write may have been sent; no answer recorded yet.
    Reserved,
    /// The write succeeded.
    Succeeded,
    /// The write failed (nothing or part of it was applied).
    Failed,
}

/// One execution attempt, keyed by its idempotency key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// The action's idempotency key.
    pub key: String,
    /// The action.
    pub action: ActionType,
    /// Its target.
    pub target: ResourceRef,
    /// When the key was reserved.
    pub reserved_at: Timestamp,
    /// Whether it ran without a human decision.
    pub automatic: bool,
    /// Where it stands.
    pub state: EntryState,
    /// What the executor reported.
    #[serde(default)]
    pub message: String,
    /// The verification outcome, once known.
    #[serde(default)]
    pub verified: Option<bool>,
}

impl LedgerEntry {
    /// A fresh reservation of `action`.
    pub fn reserve(action: &RemediationAction, automatic: bool, at: Timestamp) -> Self {
        Self {
            key: action.idempotency_key.clone(),
            action: action.action,
            target: action.target.clone(),
            reserved_at: at,
            automatic,
            state: EntryState::Reserved,
            message: String::new(),
            verified: None,
        }
    }
}

/// The answer to a reservation.
#[derive(Debug, Clone, PartialEq)]
pub enum Reservation {
    /// The key was free and is now reserved: go ahead.
    New,
    /// The key was already used: do not execute; here is what happened.
    Existing(LedgerEntry),
}

/// The idempotency ledger (cheap to clone; clones share the entries).
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    entries: Arc<Mutex<BTreeMap<String, LedgerEntry>>>,
    file: Option<PathBuf>,
}

impl Ledger {
    /// An empty in-memory ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// A ledger persisted to `path` (JSON lines), loading what it already holds.
    pub fn with_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let mut entries = BTreeMap::new();
        if path.exists() {
            let f = std::fs::File::open(&path).map_err(|e| RemediateError::io(path.display().to_string(), e))?;
            for (i, line) in BufReader::new(f).lines().enumerate() {
                let line = line.map_err(|e| RemediateError::io(path.display().to_string(), e))?;
                if line.trim().is_empty() {
                    continue;
                }
                let e: LedgerEntry = serde_json::from_str(&line)
                    .map_err(|e| RemediateError::json(format!("{} line {}", path.display(), i + 1), e))?;
                entries.insert(e.key.clone(), e);
            }
        }
        Ok(Self { entries: Arc::new(Mutex::new(entries)), file: Some(path) })
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, BTreeMap<String, LedgerEntry>>> {
        self.entries.lock().map_err(|_| RemediateError::Ledger("ledger lock poisoned".into()))
    }

    fn persist(&self, e: &LedgerEntry) -> Result<()> {
        let Some(path) = &self.file else { return Ok(()) };
        let io = |err| RemediateError::io(path.display().to_string(), err);
        let line = serde_json::to_string(e).map_err(|err| RemediateError::json("ledger entry", err))?;
        let mut f = OpenOptions::new().create(true).append(true).open(path).map_err(io)?;
        writeln!(f, "{line}").map_err(io)?;
        f.sync_data().map_err(io)
    }

    /// Reserves `entry.key` atomically (persisted before this returns), or returns the entry
    /// that already holds it.
    pub fn reserve(&self, entry: LedgerEntry) -> Result<Reservation> {
        let mut g = self.lock()?;
        if let Some(existing) = g.get(&entry.key) {
            return Ok(Reservation::Existing(existing.clone()));
        }
        self.persist(&entry)?;
        g.insert(entry.key.clone(), entry);
        Ok(Reservation::New)
    }

    fn update(&self, key: &str, f: impl FnOnce(&mut LedgerEntry)) -> Result<LedgerEntry> {
        let mut g = self.lock()?;
        let e = g.get_mut(key).ok_or_else(|| RemediateError::Ledger(format!("no ledger entry for key {key}")))?;
        f(e);
        let e = e.clone();
        self.persist(&e)?;
        Ok(e)
    }

    /// Records the executor's answer for a reserved key.
    pub fn finish(&self, key: &str, success: bool, message: &str) -> Result<LedgerEntry> {
        self.update(key, |e| {
            e.state = if success { EntryState::Succeeded } else { EntryState::Failed };
            e.message = message.to_string();
        })
    }

    /// Records whether the execution under `key` passed verification.
    pub fn record_verification(&self, key: &str, ok: bool) -> Result<LedgerEntry> {
        self.update(key, |e| e.verified = Some(ok))
    }

    /// The entry of `key`, if any.
    pub fn get(&self, key: &str) -> Option<LedgerEntry> {
        self.lock().ok()?.get(key).cloned()
    }

    /// Every entry, by key.
    pub fn entries(&self) -> Vec<LedgerEntry> {
        self.lock().map(|g| g.values().cloned().collect()).unwrap_or_default()
    }
}

/// Limits on execution: at most `max_per_namespace_per_hour` executions per namespace
/// (cluster-scoped targets count under `""`), and no automatic action on a target whose last
/// remediation failed verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CircuitBreaker {
    /// Executions allowed per namespace in any rolling hour (default 5).
    pub max_per_namespace_per_hour: usize,
}

impl Default for CircuitBreaker {
    fn default() -> Self {
        Self { max_per_namespace_per_hour: 5 }
    }
}

impl CircuitBreaker {
    /// Fails with [`RemediateError::CircuitOpen`] when `action` may not run now.
    pub fn check(&self, ledger: &Ledger, action: &RemediationAction, automatic: bool, now: Timestamp) -> Result<()> {
        let ns = action.target.namespace.clone().unwrap_or_default();
        let since = now - SignedDuration::from_hours(1);
        let entries = ledger.entries();
        let recent =
            entries.iter().filter(|e| e.target.namespace.clone().unwrap_or_default() == ns && e.reserved_at > since);
        let count = recent.count();
        if count >= self.max_per_namespace_per_hour {
            return Err(RemediateError::CircuitOpen(format!(
                "{count} actions in namespace `{ns}` in the last hour (limit {})",
                self.max_per_namespace_per_hour
            )));
        }
        let last = entries.iter().filter(|e| e.target == action.target).max_by_key(|e| e.reserved_at);
        if automatic && let Some(last) = last.filter(|e| e.verified == Some(false)) {
            return Err(RemediateError::CircuitOpen(format!(
                "the last remediation of {} ({} at {}) failed verification: no further automatic action",
                action.target, last.action, last.reserved_at
            )));
        }
        Ok(())
    }
}
