//! The answer cache: keyed by the digest of the (redacted) prompt input, the provider, the
//! model and the prompt version, so the same incident never pays twice. In memory, and
//! optionally in a directory so that separate runs share it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::prompt::PROMPT_VERSION;

/// Model answers by key.
#[derive(Debug, Default)]
pub struct Cache {
    mem: Mutex<HashMap<String, String>>,
    dir: Option<PathBuf>,
}

impl Cache {
    /// An in-memory cache.
    pub fn memory() -> Self {
        Self::default()
    }

    /// A cache that also keeps each answer as `{dir}/{key}.json` (created on first write).
    pub fn with_dir(dir: impl Into<PathBuf>) -> Self {
        Self { mem: Mutex::default(), dir: Some(dir.into()) }
    }

    /// The key of one prompt for one model.
    pub fn key(provider: &str, model: &str, evidence_digest: &str) -> String {
        let mut h = Sha256::new();
        h.update(format!("v{PROMPT_VERSION}|{provider}|{model}|{evidence_digest}").as_bytes());
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The cached answer, if any.
    pub fn get(&self, key: &str) -> Option<String> {
        if let Some(v) = self.mem.lock().unwrap_or_else(|e| e.into_inner()).get(key) {
            return Some(v.clone());
        }
        let text = std::fs::read_to_string(self.dir.as_ref()?.join(format!("{key}.json"))).ok()?;
        self.mem.lock().unwrap_or_else(|e| e.into_inner()).insert(key.to_string(), text.clone());
        Some(text)
    }

    /// Stores an answer; a directory that cannot be written is logged, not fatal.
    pub fn put(&self, key: &str, answer: &str) {
        self.mem.lock().unwrap_or_else(|e| e.into_inner()).insert(key.to_string(), answer.to_string());
        if let Some(dir) = &self.dir {
            let written =
                std::fs::create_dir_all(dir).and_then(|()| std::fs::write(dir.join(format!("{key}.json")), answer));
            if let Err(e) = written {
                tracing::warn!(dir = %dir.display(), error = %e, "LLM cache not written");
            }
        }
    }
}
