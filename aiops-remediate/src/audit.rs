//! The tamper-evident audit trail: every remediation step is appended as an [`AuditRecord`]
//! whose `hash` covers its content and the previous record's hash, so [`verify`] detects any
//! altered, reordered or removed record (and, given the last hash kept elsewhere, a cut tail).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use aiops_core::traits::Clock;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::{RemediateError, Result};

/// The `prev` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audited step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Position in the log, from 0.
    pub seq: u64,
    /// When it was recorded.
    pub at: Timestamp,
    /// The incident it belongs to.
    pub incident_id: String,
    /// The step: `evidence`, `hypotheses`, `policy`, `approval`, `execution`, `verification`, ...
    pub step: String,
    /// What happened (the policy input and decision, who approved, the API response, ...).
    pub data: Value,
    /// The previous record's hash ([`GENESIS`] for the first).
    pub prev: String,
    /// SHA-256 over the canonical JSON of every other field.
    pub hash: String,
}

impl AuditRecord {
    /// The hash this record should carry.
    pub fn compute_hash(&self) -> String {
        let body = serde_json::json!({
            "seq": self.seq, "at": self.at.to_string(), "incident_id": self.incident_id,
            "step": self.step, "data": self.data, "prev": self.prev,
        });
        hex::encode(Sha256::digest(canonical(&body).as_bytes()))
    }
}

/// JSON with object keys sorted at every level, independent of map ordering features.
pub fn canonical(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> =
                keys.iter().map(|k| format!("{}:{}", Value::String((*k).clone()), canonical(&m[k.as_str()]))).collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(a) => format!("[{}]", a.iter().map(canonical).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

/// Where audit records go. The server persists them; [`AuditLog`] keeps them in memory and
/// optionally appends them to a JSON-lines file.
pub trait AuditSink: Send + Sync {
    /// Appends one step and returns the chained record.
    fn append(&self, incident_id: &str, step: &str, data: Value) -> Result<AuditRecord>;
    /// Every record, oldest first.
    fn records(&self) -> Vec<AuditRecord>;
}

/// A hash-chained log in memory, optionally mirrored to a JSON-lines file.
#[derive(Clone, Default)]
pub struct AuditLog {
    inner: Arc<Mutex<Vec<AuditRecord>>>,
    file: Option<PathBuf>,
    clock: Option<Arc<dyn Clock>>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog").field("records", &self.records().len()).field("file", &self.file).finish()
    }
}

impl AuditLog {
    /// An empty in-memory log.
    pub fn new() -> Self {
        Self::default()
    }

    /// A log mirrored to `path` (existing records are loaded and verified first).
    pub fn with_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let records = if path.exists() { read_file(&path)? } else { Vec::new() };
        verify(&records, None)?;
        Ok(Self { inner: Arc::new(Mutex::new(records)), file: Some(path), clock: None })
    }

    /// Stamps records with `clock` instead of the system time.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The last record's hash ([`GENESIS`] when empty): keep it elsewhere to detect a cut tail.
    pub fn head(&self) -> String {
        self.records().last().map_or_else(|| GENESIS.to_string(), |r| r.hash.clone())
    }

    /// Verifies the whole chain.
    pub fn verify(&self) -> Result<VerifySummary> {
        verify(&self.records(), None)
    }
}

impl AuditSink for AuditLog {
    fn append(&self, incident_id: &str, step: &str, data: Value) -> Result<AuditRecord> {
        let mut g = self.inner.lock().map_err(|_| RemediateError::Audit("log lock poisoned".into()))?;
        let prev = g.last().map_or_else(|| GENESIS.to_string(), |r| r.hash.clone());
        let at = self.clock.as_ref().map_or_else(Timestamp::now, |c| c.now());
        let mut rec = AuditRecord {
            seq: g.len() as u64,
            at,
            incident_id: incident_id.into(),
            step: step.into(),
            data,
            prev,
            hash: String::new(),
        };
        rec.hash = rec.compute_hash();
        if let Some(path) = &self.file {
            let line = serde_json::to_string(&rec).map_err(|e| RemediateError::json("audit record", e))?;
            let mut f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| RemediateError::io(path.display().to_string(), e))?;
            writeln!(f, "{line}").map_err(|e| RemediateError::io(path.display().to_string(), e))?;
        }
        tracing::debug!(incident = incident_id, step, seq = rec.seq, "audited");
        g.push(rec.clone());
        Ok(rec)
    }

    fn records(&self) -> Vec<AuditRecord> {
        self.inner.lock().map(|g| g.clone()).unwrap_or_default()
    }
}

/// What a successful verification saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifySummary {
    /// Records checked.
    pub records: usize,
    /// The last hash.
    pub head: String,
}

/// Checks every record's hash, sequence and link; with `head`, also that nothing was cut from
/// the end. `Err(RemediateError::Audit)` names the first broken record.
pub fn verify(records: &[AuditRecord], head: Option<&str>) -> Result<VerifySummary> {
    let mut prev = GENESIS.to_string();
    for (i, r) in records.iter().enumerate() {
        if r.seq != i as u64 {
            return Err(RemediateError::Audit(format!(
                "record {i} has seq {}: a record was removed or reordered",
                r.seq
            )));
        }
        if r.prev != prev {
            return Err(RemediateError::Audit(format!("record {i} does not link to the record before it")));
        }
        if r.compute_hash() != r.hash {
            return Err(RemediateError::Audit(format!("record {i} ({}) was altered: its hash does not match", r.step)));
        }
        prev = r.hash.clone();
    }
    if let Some(h) = head
        && h != prev
    {
        return Err(RemediateError::Audit(format!("the last record's hash is {prev}, expected {h}: records were cut")));
    }
    Ok(VerifySummary { records: records.len(), head: prev })
}

/// Reads a JSON-lines audit file.
pub fn read_file(path: &Path) -> Result<Vec<AuditRecord>> {
    let text = std::fs::read_to_string(path).map_err(|e| RemediateError::io(path.display().to_string(), e))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| {
            serde_json::from_str(l)
                .map_err(|e| RemediateError::Audit(format!("line {}: not an audit record: {e}", n + 1)))
        })
        .collect()
}

/// Reads and verifies a JSON-lines audit file (what `aiops audit verify` runs).
pub fn verify_file(path: &Path, head: Option<&str>) -> Result<VerifySummary> {
    verify(&read_file(path)?, head)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn log() -> AuditLog {
        let l = AuditLog::new();
        for (i, step) in ["evidence", "policy", "approval", "execution", "verification"].iter().enumerate() {
            l.append("inc-1", step, json!({"i": i, "nested": {"b": 1, "a": [1, 2]}})).unwrap();
        }
        l
    }

    #[test]
    fn an_intact_chain_verifies() {
        let l = log();
        let s = l.verify().unwrap();
        assert_eq!((s.records, s.head.clone()), (5, l.head()));
        assert_eq!(l.records()[0].prev, GENESIS);
    }

    #[test]
    fn altered_removed_reordered_and_cut_records_are_detected() {
        let recs = log().records();
        let mut altered = recs.clone();
        altered[2].data = json!({"approved_by": "mallory"});
        assert!(verify(&altered, None).unwrap_err().to_string().contains("record 2 (approval) was altered"));
        let mut removed = recs.clone();
        removed.remove(1);
        assert!(verify(&removed, None).is_err());
        let mut swapped = recs.clone();
        swapped.swap(1, 2);
        assert!(verify(&swapped, None).is_err());
        // Rehashing an altered record does not help: the next record's link breaks.
        let mut rehashed = recs.clone();
        rehashed[1].data = json!("forged");
        rehashed[1].hash = rehashed[1].compute_hash();
        assert!(verify(&rehashed, None).unwrap_err().to_string().contains("record 2 does not link"));
        let head = recs.last().unwrap().hash.clone();
        assert!(verify(&recs[..4], Some(&head)).unwrap_err().to_string().contains("cut"));
        assert!(verify(&recs, Some(&head)).is_ok());
    }

    #[test]
    fn canonical_json_ignores_key_order() {
        let a: Value = serde_json::from_str(r#"{"b":1,"a":{"y":2,"x":[1,{"d":1,"c":2}]}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"a":{"x":[1,{"c":2,"d":1}],"y":2},"b":1}"#).unwrap();
        assert_eq!(canonical(&a), canonical(&b));
        assert_eq!(canonical(&json!({"k": "v\"q"})), r#"{"k":"v\"q"}"#);
    }

    #[test]
    fn the_file_mirror_round_trips_and_is_verified_on_open() {
        let path = std::env::temp_dir().join(format!("aiops-audit-{}.jsonl", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let l = AuditLog::with_file(&path).unwrap();
        l.append("inc", "policy", json!({"decision": "deny"})).unwrap();
        l.append("inc", "closure", json!({"status": "closed"})).unwrap();
        assert_eq!(verify_file(&path, Some(&l.head())).unwrap().records, 2);
        let reopened = AuditLog::with_file(&path).unwrap();
        reopened.append("inc", "ticket", json!({})).unwrap();
        assert_eq!(verify_file(&path, None).unwrap().records, 3);
        let text = std::fs::read_to_string(&path).unwrap().replace("deny", "allow");
        std::fs::write(&path, text).unwrap();
        assert!(matches!(verify_file(&path, None), Err(RemediateError::Audit(_))));
        assert!(AuditLog::with_file(&path).is_err());
        std::fs::write(&path, "not json\n").unwrap();
        assert!(verify_file(&path, None).unwrap_err().to_string().contains("line 1"));
        std::fs::remove_file(&path).unwrap();
    }
}
