//! [`Enricher`]: the [`LlmEnricher`] over any [`Provider`]. It decides whether to run, builds
//! the compact redacted prompt, answers from the cache, otherwise calls the provider within the
//! per-incident token and time budget (per-request timeout, bounded retries with exponential
//! backoff), restores pseudonyms and parses the answer strictly. The engine then validates it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use tracing::Instrument;

use aiops_core::enrichment::{Enrichment, EnrichmentOutcome};
use aiops_core::traits::{AnalysisContext, Diagnosis, LlmEnricher};

use crate::cache::Cache;
use crate::error::LlmError;
use crate::parse::parse_answer;
use crate::prompt::{json_schema, system_prompt};
use crate::provider::{ChatRequest, Completion, Gemini, HttpRequest, Ollama, OpenAi, Provider};
use crate::redact::Redactor;
use crate::summary::{Limits, PromptInput, estimate_tokens, truncate};

/// When the enricher calls a model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RunWhen {
    /// On every analysis (`aiops analyze --explain`).
    Always,
    /// Only when the top deterministic confidence is below this threshold.
    BelowConfidence(f64),
}

/// The default confidence threshold under which the model is asked.
pub const DEFAULT_THRESHOLD: f64 = 0.6;

/// Budgets, timeouts and prompt caps.
#[derive(Debug, Clone, PartialEq)]
pub struct EnricherConfig {
    /// When to run.
    pub when: RunWhen,
    /// Prompt size caps.
    pub limits: Limits,
    /// Most tokens of one answer.
    pub max_output_tokens: usize,
    /// Tokens one incident may spend over all attempts (prompt estimate + answer).
    pub token_budget: usize,
    /// Wall time one incident may spend over all attempts and backoffs.
    pub time_budget: Duration,
    /// Timeout of one HTTP request.
    pub request_timeout: Duration,
    /// Retries after the first attempt (transport errors, timeouts, 408/409/429/5xx).
    pub retries: u32,
    /// First backoff; doubled on each retry.
    pub backoff: Duration,
    /// Replace IP addresses with reversible pseudonyms.
    pub pseudonymise_ips: bool,
}

impl Default for EnricherConfig {
    fn default() -> Self {
        Self {
            when: RunWhen::BelowConfidence(DEFAULT_THRESHOLD),
            limits: Limits::default(),
            max_output_tokens: 1024,
            token_budget: 12_000,
            time_budget: Duration::from_secs(60),
            request_timeout: Duration::from_secs(30),
            retries: 2,
            backoff: Duration::from_millis(500),
            pseudonymise_ips: false,
        }
    }
}

/// The LLM enricher over one provider.
pub struct Enricher<P> {
    provider: P,
    config: EnricherConfig,
    cache: Arc<Cache>,
    http: reqwest::Client,
}

/// The OpenAI-compatible enricher.
pub type OpenAiEnricher = Enricher<OpenAi>;
/// The Gemini enricher.
pub type GeminiEnricher = Enricher<Gemini>;
/// The Ollama enricher.
pub type OllamaEnricher = Enricher<Ollama>;

impl Provider for Box<dyn Provider> {
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn model(&self) -> &str {
        (**self).model()
    }
    fn request(&self, req: &ChatRequest<'_>) -> HttpRequest {
        (**self).request(req)
    }
    fn completion(&self, body: &Value) -> Result<Completion, LlmError> {
        (**self).completion(body)
    }
}

/// What one incident spent.
#[derive(Debug, Default)]
struct Spent {
    calls: AtomicUsize,
    tokens: AtomicUsize,
}

impl<P: Provider> Enricher<P> {
    /// An enricher with the default configuration and an in-memory cache.
    pub fn new(provider: P) -> Result<Self, LlmError> {
        // reqwest is built without a bundled crypto provider; use ring, as kube does.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder().build().map_err(|e| LlmError::Config(format!("HTTP client: {e}")))?;
        Ok(Self { provider, config: EnricherConfig::default(), cache: Arc::new(Cache::memory()), http })
    }

    /// Sets the configuration.
    pub fn config(mut self, config: EnricherConfig) -> Self {
        self.config = config;
        self
    }

    /// Shares a cache (e.g. one directory-backed cache for all enrichers of a process).
    pub fn cache(mut self, cache: Arc<Cache>) -> Self {
        self.cache = cache;
        self
    }

    /// The configuration.
    pub fn settings(&self) -> &EnricherConfig {
        &self.config
    }

    /// The prompt this enricher would send for a diagnosis, and the redactor that built it.
    pub fn prompt(&self, ctx: &AnalysisContext<'_>, d: &Diagnosis) -> (PromptInput, Redactor) {
        let mut r = Redactor::new().pseudonymise_ips(self.config.pseudonymise_ips);
        let input = PromptInput::build(ctx, d, &mut r, self.config.limits);
        (input, r)
    }

    fn gate(&self, d: &Diagnosis) -> Option<String> {
        let RunWhen::BelowConfidence(t) = self.config.when else { return None };
        let top = d.hypotheses.first().map_or(0.0, |h| h.confidence);
        (top >= t).then(|| {
            format!("top deterministic confidence {top:.2} is at or above the {t:.2} threshold (use --explain to ask anyway)")
        })
    }

    fn enrichment(&self, outcome: EnrichmentOutcome, prompt_tokens: usize, spent: &Spent) -> Enrichment {
        Enrichment {
            provider: self.provider.name().into(),
            model: self.provider.model().into(),
            outcome,
            cached: false,
            prompt_tokens,
            tokens_used: spent.tokens.load(Ordering::Relaxed),
            provider_calls: spent.calls.load(Ordering::Relaxed),
        }
    }

    async fn run(&self, ctx: &AnalysisContext<'_>, d: &Diagnosis) -> Enrichment {
        let spent = Spent::default();
        if let Some(why) = self.gate(d) {
            return self.enrichment(EnrichmentOutcome::Skipped(why), 0, &spent);
        }
        let (input, redactor) = self.prompt(ctx, d);
        let (system, user, schema) = (system_prompt(), input.to_json(), json_schema());
        let prompt_tokens = estimate_tokens(&system) + estimate_tokens(&user);
        let key = Cache::key(self.provider.name(), self.provider.model(), &input.digest());
        if let Some(text) = self.cache.get(&key) {
            let mut e = self.enrichment(self.outcome(&redactor, &text), prompt_tokens, &spent);
            e.cached = true;
            return e;
        }
        let per_call = prompt_tokens + self.config.max_output_tokens;
        if per_call > self.config.token_budget {
            let why =
                format!("the prompt needs ~{per_call} tokens, over the token budget of {}", self.config.token_budget);
            return self.enrichment(EnrichmentOutcome::Skipped(why), prompt_tokens, &spent);
        }
        let req = ChatRequest {
            system: &system,
            user: &user,
            schema: &schema,
            max_output_tokens: self.config.max_output_tokens,
        };
        let attempts = self.attempts(&req, prompt_tokens, &spent);
        let outcome = match tokio::time::timeout(self.config.time_budget, attempts).await {
            Err(_) => EnrichmentOutcome::TimedOut(format!(
                "enrichment timed out: the time budget of {:?} ran out after {} provider call(s)",
                self.config.time_budget,
                spent.calls.load(Ordering::Relaxed)
            )),
            Ok(Err(e)) => EnrichmentOutcome::Failed(e.to_string()),
            Ok(Ok(text)) => {
                let outcome = self.outcome(&redactor, &text);
                if matches!(outcome, EnrichmentOutcome::Proposal(_)) {
                    self.cache.put(&key, &text);
                }
                outcome
            }
        };
        self.enrichment(outcome, prompt_tokens, &spent)
    }

    fn outcome(&self, redactor: &Redactor, text: &str) -> EnrichmentOutcome {
        match parse_answer(&redactor.restore(text)) {
            Ok(p) => EnrichmentOutcome::Proposal(p),
            Err(e) => EnrichmentOutcome::Failed(e.to_string()),
        }
    }

    /// Calls the provider until an answer, a non-retryable error, the retry limit or the
    /// token budget.
    async fn attempts(&self, req: &ChatRequest<'_>, prompt_tokens: usize, spent: &Spent) -> Result<String, LlmError> {
        let http = self.provider.request(req);
        let mut attempt = 0u32;
        loop {
            let span = tracing::info_span!("llm_call", provider = self.provider.name(), attempt);
            spent.calls.fetch_add(1, Ordering::Relaxed);
            let result = self.send(&http).instrument(span).await.and_then(|body| self.provider.completion(&body));
            let cost = result
                .as_ref()
                .ok()
                .and_then(|c| c.tokens)
                .unwrap_or_else(|| prompt_tokens + result.as_ref().map_or(0, |c| estimate_tokens(&c.text)));
            let used = spent.tokens.fetch_add(cost, Ordering::Relaxed) + cost;
            let err = match result {
                Ok(c) => return Ok(c.text),
                Err(e) => e,
            };
            tracing::warn!(provider = self.provider.name(), attempt, error = %err, "LLM call failed");
            if !err.is_retryable() || attempt >= self.config.retries {
                return Err(err);
            }
            if used + prompt_tokens + self.config.max_output_tokens > self.config.token_budget {
                return Err(LlmError::Response(format!(
                    "token budget of {} spent after {} call(s); last error: {err}",
                    self.config.token_budget,
                    attempt + 1
                )));
            }
            tokio::time::sleep(self.config.backoff.saturating_mul(1 << attempt.min(16))).await;
            attempt += 1;
        }
    }

    async fn send(&self, req: &HttpRequest) -> Result<Value, LlmError> {
        let mut rb = self.http.post(&req.url).timeout(self.config.request_timeout).json(&req.body);
        for (k, v) in &req.headers {
            rb = rb.header(k.as_str(), v.as_str());
        }
        let resp = rb.send().await.map_err(|e| self.transport_error(&req.url, &e))?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| self.transport_error(&req.url, &e))?;
        if !status.is_success() {
            let body = Redactor::new().redact(&truncate(&text, 300));
            return Err(LlmError::Http { url: req.url.clone(), status: status.as_u16(), body });
        }
        serde_json::from_str(&text).map_err(|e| LlmError::Response(format!("{}: not JSON: {e}", req.url)))
    }

    fn transport_error(&self, url: &str, e: &reqwest::Error) -> LlmError {
        if e.is_timeout() {
            return LlmError::RequestTimeout { url: url.into(), secs: self.config.request_timeout.as_secs() };
        }
        let mut reason = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            reason = s.to_string();
            source = s.source();
        }
        LlmError::Transport { url: url.into(), reason }
    }
}

#[async_trait]
impl<P: Provider> LlmEnricher for Enricher<P> {
    async fn enrich(&self, ctx: &AnalysisContext<'_>, diagnosis: &Diagnosis) -> Enrichment {
        let span = tracing::info_span!("llm_enrich", provider = self.provider.name(), model = self.provider.model());
        self.run(ctx, diagnosis).instrument(span).await
    }

    fn provider(&self) -> &str {
        self.provider.name()
    }

    fn model(&self) -> &str {
        self.provider.model()
    }
}
