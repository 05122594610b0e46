//! Configuration from the environment: `LLM_PROVIDER` (openai | gemini | ollama), `LLM_MODEL`,
//! `OPENAI_API_KEY`, `OPENAI_BASE_URL`, `OPENAI_API_VERSION` (Azure), `GOOGLE_API_KEY`,
//! `GEMINI_BASE_URL`, `OLLAMA_HOST`, and the knobs `LLM_CONFIDENCE_THRESHOLD`,
//! `LLM_TIME_BUDGET_SECS`, `LLM_TOKEN_BUDGET`, `LLM_CACHE_DIR`. Without `LLM_PROVIDER` no
//! enricher is configured.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::cache::Cache;
use crate::enricher::{DEFAULT_THRESHOLD, Enricher, EnricherConfig, RunWhen};
use crate::error::LlmError;
use crate::provider::{GEMINI_BASE_URL, Gemini, OPENAI_BASE_URL, Ollama, OpenAi, Provider};

/// The LLM settings read from the environment.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmSettings {
    /// `openai`, `gemini` or `ollama`.
    pub provider: String,
    /// The model (a per-provider default when `LLM_MODEL` is unset).
    pub model: String,
    /// OpenAI (or compatible) key.
    pub openai_api_key: Option<String>,
    /// OpenAI-compatible base URL.
    pub openai_base_url: Option<String>,
    /// Azure OpenAI `api-version`.
    pub openai_api_version: Option<String>,
    /// Gemini key.
    pub google_api_key: Option<String>,
    /// Gemini base URL.
    pub gemini_base_url: Option<String>,
    /// Ollama host.
    pub ollama_host: Option<String>,
    /// Confidence under which the model is asked without `--explain`.
    pub threshold: f64,
    /// Per-incident time budget.
    pub time_budget: Duration,
    /// Per-incident token budget.
    pub token_budget: usize,
    /// Directory of the answer cache (in memory only when unset).
    pub cache_dir: Option<PathBuf>,
}

/// The default model of each provider.
pub fn default_model(provider: &str) -> &'static str {
    match provider {
        "gemini" => "gemini-2.5-flash",
        "ollama" => "llama3.1:8b",
        _ => "gpt-4o-mini",
    }
}

impl LlmSettings {
    /// Reads the process environment; `Ok(None)` when `LLM_PROVIDER` is unset or empty.
    pub fn from_env() -> Result<Option<Self>, LlmError> {
        Self::from_vars(|k| std::env::var(k).ok())
    }

    /// Reads settings through `var` (the environment, or a map in tests).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, LlmError> {
        let get = |k: &str| var(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let Some(provider) = get("LLM_PROVIDER").map(|p| p.to_ascii_lowercase()) else { return Ok(None) };
        if !matches!(provider.as_str(), "openai" | "gemini" | "ollama") {
            return Err(LlmError::Config(format!("LLM_PROVIDER={provider}: expected openai, gemini or ollama")));
        }
        let number = |k: &str, default: f64| -> Result<f64, LlmError> {
            get(k).map_or(Ok(default), |v| {
                v.parse::<f64>()
                    .ok()
                    .filter(|n| n.is_finite() && *n >= 0.0)
                    .ok_or_else(|| LlmError::Config(format!("{k}={v}: expected a non-negative number")))
            })
        };
        let d = EnricherConfig::default();
        let s = LlmSettings {
            model: get("LLM_MODEL").unwrap_or_else(|| default_model(&provider).to_string()),
            openai_api_key: get("OPENAI_API_KEY"),
            openai_base_url: get("OPENAI_BASE_URL"),
            openai_api_version: get("OPENAI_API_VERSION"),
            google_api_key: get("GOOGLE_API_KEY"),
            gemini_base_url: get("GEMINI_BASE_URL"),
            ollama_host: get("OLLAMA_HOST"),
            threshold: number("LLM_CONFIDENCE_THRESHOLD", DEFAULT_THRESHOLD)?,
            time_budget: Duration::from_secs_f64(number("LLM_TIME_BUDGET_SECS", d.time_budget.as_secs_f64())?),
            token_budget: number("LLM_TOKEN_BUDGET", d.token_budget as f64)? as usize,
            cache_dir: get("LLM_CACHE_DIR").map(PathBuf::from),
            provider,
        };
        s.check()?;
        Ok(Some(s))
    }

    fn check(&self) -> Result<(), LlmError> {
        let public_openai = self.openai_base_url.as_deref().is_none_or(|u| u.trim_end_matches('/') == OPENAI_BASE_URL);
        if self.provider == "openai" && public_openai && self.openai_api_key.is_none() {
            return Err(LlmError::Config("LLM_PROVIDER=openai needs OPENAI_API_KEY (or an OPENAI_BASE_URL)".into()));
        }
        let public_gemini = self.gemini_base_url.as_deref().is_none_or(|u| u.trim_end_matches('/') == GEMINI_BASE_URL);
        if self.provider == "gemini" && public_gemini && self.google_api_key.is_none() {
            return Err(LlmError::Config("LLM_PROVIDER=gemini needs GOOGLE_API_KEY (or a GEMINI_BASE_URL)".into()));
        }
        Ok(())
    }

    /// The configured provider.
    pub fn provider(&self) -> Box<dyn Provider> {
        match self.provider.as_str() {
            "gemini" => {
                let mut g = Gemini::new(&self.model);
                if let Some(u) = &self.gemini_base_url {
                    g = g.base_url(u);
                }
                if let Some(k) = &self.google_api_key {
                    g = g.api_key(k);
                }
                Box::new(g)
            }
            "ollama" => {
                Box::new(Ollama::new(&self.model).host(self.ollama_host.as_deref().unwrap_or("localhost:11434")))
            }
            _ => {
                let mut o = OpenAi::new(&self.model);
                if let Some(u) = &self.openai_base_url {
                    o = o.base_url(u);
                }
                if let Some(k) = &self.openai_api_key {
                    o = o.api_key(k);
                }
                if let Some(v) = &self.openai_api_version {
                    o = o.azure_api_version(v);
                }
                Box::new(o)
            }
        }
    }

    /// The enricher these settings describe; `explain` asks the model whatever the confidence.
    pub fn enricher(&self, explain: bool) -> Result<Enricher<Box<dyn Provider>>, LlmError> {
        let when = if explain { RunWhen::Always } else { RunWhen::BelowConfidence(self.threshold) };
        let config = EnricherConfig {
            when,
            time_budget: self.time_budget,
            token_budget: self.token_budget,
            ..EnricherConfig::default()
        };
        let cache = match &self.cache_dir {
            Some(dir) => Cache::with_dir(dir),
            None => Cache::memory(),
        };
        Ok(Enricher::new(self.provider())?.config(config).cache(Arc::new(cache)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Option<LlmSettings>, LlmError> {
        let m: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        LlmSettings::from_vars(|k| m.get(k).cloned())
    }

    #[test]
    fn nothing_is_configured_without_llm_provider() {
        assert_eq!(settings(&[("OPENAI_API_KEY", "sk-x")]).unwrap(), None);
        assert_eq!(settings(&[("LLM_PROVIDER", " ")]).unwrap(), None);
    }

    #[test]
    fn providers_models_and_keys_are_read_and_checked() {
        let s = settings(&[("LLM_PROVIDER", "Ollama"), ("OLLAMA_HOST", "gpu:11434")]).unwrap().unwrap();
        assert_eq!((s.provider.as_str(), s.model.as_str()), ("ollama", "llama3.1:8b"));
        assert_eq!(s.provider().name(), "ollama");
        let s = settings(&[("LLM_PROVIDER", "gemini"), ("GOOGLE_API_KEY", "k"), ("LLM_MODEL", "gemini-2.5-pro")])
            .unwrap()
            .unwrap();
        assert_eq!(s.provider().model(), "gemini-2.5-pro");
        let e = settings(&[("LLM_PROVIDER", "openai")]).unwrap_err().to_string();
        assert!(e.contains("OPENAI_API_KEY"), "{e}");
        assert!(settings(&[("LLM_PROVIDER", "openai"), ("OPENAI_BASE_URL", "http://vllm:8000/v1")]).is_ok());
        assert!(settings(&[("LLM_PROVIDER", "gemini")]).is_err());
        assert!(settings(&[("LLM_PROVIDER", "claude")]).unwrap_err().to_string().contains("openai, gemini or ollama"));
        let e = settings(&[("LLM_PROVIDER", "ollama"), ("LLM_CONFIDENCE_THRESHOLD", "high")]).unwrap_err();
        assert!(e.to_string().contains("LLM_CONFIDENCE_THRESHOLD"));
    }

    #[test]
    fn explain_runs_always_otherwise_below_the_threshold() {
        let s = settings(&[("LLM_PROVIDER", "ollama"), ("LLM_CONFIDENCE_THRESHOLD", "0.7")]).unwrap().unwrap();
        assert_eq!(s.enricher(true).unwrap().settings().when, RunWhen::Always);
        assert_eq!(s.enricher(false).unwrap().settings().when, RunWhen::BelowConfidence(0.7));
    }
}
