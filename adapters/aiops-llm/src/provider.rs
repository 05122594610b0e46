//! The three provider dialects. A [`Provider`] only builds the HTTP request and reads the
//! response of its documented wire format; sending, retries, budgets and caching are shared by
//! the [`crate::Enricher`].
//!
//! - [`OpenAi`]: OpenAI-compatible `POST {base}/chat/completions` (OpenAI, Azure OpenAI with
//!   `api-version` and the `api-key` header, Ollama's `/v1`, vLLM, LocalAI) with
//!   `response_format: {type: json_schema}`.
//! - [`Gemini`]: `POST {base}/v1beta/models/{model}:generateContent` with `x-goog-api-key`,
//!   `responseMimeType: application/json` and `responseSchema`.
//! - [`Ollama`]: native `POST {host}/api/chat` with `format` set to the JSON schema.

use serde_json::{Value, json};

use crate::error::LlmError;
use crate::prompt::{SCHEMA_NAME, gemini_schema};

/// What is asked of the model: the same for every provider.
#[derive(Debug, Clone, Copy)]
pub struct ChatRequest<'a> {
    /// System instructions.
    pub system: &'a str,
    /// The user message (the compact JSON input).
    pub user: &'a str,
    /// The output JSON Schema.
    pub schema: &'a Value,
    /// Most tokens of the answer.
    pub max_output_tokens: usize,
}

/// An HTTP request to a provider.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpRequest {
    /// Full URL (credentials never go here).
    pub url: String,
    /// Extra headers (authentication).
    pub headers: Vec<(String, String)>,
    /// The JSON body.
    pub body: Value,
}

/// The model's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// The answer text (the JSON object asked for).
    pub text: String,
    /// Total tokens the provider reports for the call, if it does.
    pub tokens: Option<usize>,
}

/// One provider's wire format.
pub trait Provider: Send + Sync {
    /// `openai`, `gemini` or `ollama`.
    fn name(&self) -> &'static str;
    /// The model.
    fn model(&self) -> &str;
    /// Builds the request.
    fn request(&self, req: &ChatRequest<'_>) -> HttpRequest;
    /// Reads a successful (2xx) response body.
    fn completion(&self, body: &Value) -> Result<Completion, LlmError>;
}

fn trim_base(url: &str) -> String {
    url.trim_end_matches('/').to_string()
}

/// The system and user messages of the chat APIs (OpenAI's and Ollama's share the shape).
fn chat_messages(req: &ChatRequest<'_>) -> Value {
    json!([{"role": "system", "content": req.system}, {"role": "user", "content": req.user}])
}

fn usize_at(v: &Value, ptr: &str) -> Option<usize> {
    v.pointer(ptr).and_then(Value::as_u64).map(|n| n as usize)
}

/// An OpenAI-compatible chat completions endpoint.
#[derive(Debug, Clone)]
pub struct OpenAi {
    base_url: String,
    api_key: Option<String>,
    api_version: Option<String>,
    model: String,
}

/// OpenAI's public endpoint.
pub const OPENAI_BASE_URL: &str = "https://api.openai.com/v1";

impl OpenAi {
    /// A client of `model` at OpenAI's endpoint, without a key.
    pub fn new(model: impl Into<String>) -> Self {
        Self { base_url: OPENAI_BASE_URL.into(), api_key: None, api_version: None, model: model.into() }
    }

    /// Sets the base URL (`…/v1`, or an Azure deployment URL
    /// `https://{resource}.openai.azure.com/openai/deployments/{deployment}`).
    pub fn base_url(mut self, url: impl AsRef<str>) -> Self {
        self.base_url = trim_base(url.as_ref());
        self
    }

    /// Sets the API key (sent as `Authorization: Bearer`, or `api-key` for Azure).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// Azure OpenAI: adds `?api-version=` and authenticates with the `api-key` header.
    pub fn azure_api_version(mut self, version: impl Into<String>) -> Self {
        self.api_version = Some(version.into());
        self
    }
}

impl Provider for OpenAi {
    fn name(&self) -> &'static str {
        "openai"
    }

    fn model(&self) -> &str {
        &self.model
    }

    fn request(&self, req: &ChatRequest<'_>) -> HttpRequest {
        let mut url = format!("{}/chat/completions", self.base_url);
        let mut headers = Vec::new();
        match (&self.api_version, &self.api_key) {
            (Some(v), key) => {
                url = format!("{url}?api-version={v}");
                headers.extend(key.iter().map(|k| ("api-key".to_string(), k.clone())));
            }
            (None, Some(k)) => headers.push(("authorization".into(), format!("Bearer {k}"))),
            (None, None) => {}
        }
        let body = json!({
            "model": self.model,
            "messages": chat_messages(req),
            "temperature": 0,
            "max_tokens": req.max_output_tokens,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": SCHEMA_NAME, "strict": true, "schema": req.schema},
            },
        });
        HttpRequest { url, headers, body }
    }

    fn completion(&self, body: &Value) -> Result<Completion, LlmError> {
        let choice = body.pointer("/choices/0").ok_or_else(|| LlmError::Response("no choices".into()))?;
        if let Some(refusal) = choice.pointer("/message/refusal").and_then(Value::as_str) {
            return Err(LlmError::Response(format!("the model refused: {refusal}")));
        }
        if choice["finish_reason"] == "length" {
            return Err(LlmError::Response("the answer was cut at max_tokens".into()));
        }
        let text = choice
            .pointer("/message/content")
            .and_then(Value::as_str)
            .ok_or_else(|| LlmError::Response("choices[0].message.content is not text".into()))?;
        Ok(Completion { text: text.to_string(), tokens: usize_at(body, "/usage/total_tokens") })
    }
}

/// Google's Gemini `generateContent`.
#[derive(Debug, Clone)]
pub struct Gemini {
    base_url: String,
    api_key: Option<String>,
    model: String,
}

/// Gemini's public endpoint.
pub const GEMINI_BASE_URL: &str = "https://generativelanguage.googleapis.com";

impl Gemini {
    /// A client of `model` (e.g. `gemini-2.5-flash`) at Google's endpoint, without a key.
    pub fn new(model: impl Into<String>) -> Self {
        Self { base_url: GEMINI_BASE_URL.into(), api_key: None, model: model.into() }
    }

    /// Sets the base URL (the host root, or a URL ending in the API version such as `/v1beta`).
    pub fn base_url(mut self, url: impl AsRef<str>) -> Self {
        self.base_url = trim_base(url.as_ref());
        self
    }

    /// Sets the API key (sent as `x-goog-api-key`, never in the URL).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }
}

impl Provider for Gemini {
    fn name(&self) -> &'static str {
        "gemini"
    }

    fn model(&self) -> &str {
        &self.model
    }

    fn request(&self, req: &ChatRequest<'_>) -> HttpRequest {
        let versioned = self.base_url.rsplit('/').next().is_some_and(|s| s.starts_with("v1"));
        let base = if versioned { self.base_url.clone() } else { format!("{}/v1beta", self.base_url) };
        let url = format!("{base}/models/{}:generateContent", self.model);
        let headers = self.api_key.iter().map(|k| ("x-goog-api-key".to_string(), k.clone())).collect();
        let body = json!({
            "systemInstruction": {"parts": [{"text": req.system}]},
            "contents": [{"role": "user", "parts": [{"text": req.user}]}],
            "generationConfig": {
                "temperature": 0,
                "maxOutputTokens": req.max_output_tokens,
                "responseMimeType": "application/json",
                "responseSchema": gemini_schema(req.schema),
            },
        });
        HttpRequest { url, headers, body }
    }

    fn completion(&self, body: &Value) -> Result<Completion, LlmError> {
        if let Some(reason) = body.pointer("/promptFeedback/blockReason").and_then(Value::as_str) {
            return Err(LlmError::Response(format!("the prompt was blocked: {reason}")));
        }
        let cand = body.pointer("/candidates/0").ok_or_else(|| LlmError::Response("no candidates".into()))?;
        match cand["finishReason"].as_str() {
            None | Some("STOP") => {}
            Some("MAX_TOKENS") => return Err(LlmError::Response("the answer was cut at maxOutputTokens".into())),
            Some(other) => return Err(LlmError::Response(format!("the answer stopped: {other}"))),
        }
        let parts = cand.pointer("/content/parts").and_then(Value::as_array);
        let text: String = parts.into_iter().flatten().filter_map(|p| p["text"].as_str()).collect();
        if text.is_empty() {
            return Err(LlmError::Response("candidates[0].content.parts has no text".into()));
        }
        Ok(Completion { text, tokens: usize_at(body, "/usageMetadata/totalTokenCount") })
    }
}

/// Ollama's native chat API.
#[derive(Debug, Clone)]
pub struct Ollama {
    host: String,
    model: String,
    num_ctx: usize,
}

/// Ollama's default address.
pub const OLLAMA_HOST: &str = "http://localhost:11434";

impl Ollama {
    /// A client of `model` (e.g. `llama3.1:8b`) at the local default address.
    pub fn new(model: impl Into<String>) -> Self {
        Self { host: OLLAMA_HOST.into(), model: model.into(), num_ctx: 8192 }
    }

    /// Sets the host, as `OLLAMA_HOST` spells it (`host:port`, with or without a scheme).
    pub fn host(mut self, host: impl AsRef<str>) -> Self {
        let h = trim_base(host.as_ref());
        let h = if h.contains("://") { h } else { format!("http://{h}") };
        let has_port = h.rsplit_once(':').is_some_and(|(_, p)| p.chars().all(|c| c.is_ascii_digit()));
        self.host = if has_port { h } else { format!("{h}:11434") };
        self
    }

    /// Sets the context window requested (`options.num_ctx`).
    pub fn num_ctx(mut self, n: usize) -> Self {
        self.num_ctx = n;
        self
    }
}

impl Provider for Ollama {
    fn name(&self) -> &'static str {
        "ollama"
    }

    fn model(&self) -> &str {
        &self.model
    }

    fn request(&self, req: &ChatRequest<'_>) -> HttpRequest {
        let body = json!({
            "model": self.model,
            "messages": chat_messages(req),
            "stream": false,
            "format": req.schema,
            "options": {"temperature": 0, "num_predict": req.max_output_tokens, "num_ctx": self.num_ctx},
        });
        HttpRequest { url: format!("{}/api/chat", self.host), headers: vec![], body }
    }

    fn completion(&self, body: &Value) -> Result<Completion, LlmError> {
        if body["done_reason"] == "length" {
            return Err(LlmError::Response("the answer was cut at num_predict".into()));
        }
        let text = body
            .pointer("/message/content")
            .and_then(Value::as_str)
            .ok_or_else(|| LlmError::Response("message.content is not text".into()))?;
        let tokens = match (usize_at(body, "/prompt_eval_count"), usize_at(body, "/eval_count")) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
        };
        Ok(Completion { text: text.to_string(), tokens })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ollama_host_is_read_as_ollama_spells_it() {
        for (given, want) in [
            ("localhost:11434", "http://localhost:11434"),
            ("http://10.0.0.5:8080/", "http://10.0.0.5:8080"),
            ("ollama.internal", "http://ollama.internal:11434"),
            ("https://ollama.example.com:443", "https://ollama.example.com:443"),
        ] {
            assert_eq!(Ollama::new("m").host(given).host, want, "{given}");
        }
    }

    #[test]
    fn azure_uses_api_version_and_the_api_key_header() {
        let p = OpenAi::new("gpt-4o-mini")
            .base_url("https://r.openai.azure.com/openai/deployments/d/")
            .api_key("k")
            .azure_api_version("2024-10-21");
        let schema = json!({});
        let r = p.request(&ChatRequest { system: "s", user: "u", schema: &schema, max_output_tokens: 10 });
        assert_eq!(r.url, "https://r.openai.azure.com/openai/deployments/d/chat/completions?api-version=2024-10-21");
        assert_eq!(r.headers, [("api-key".to_string(), "k".to_string())]);
    }

    #[test]
    fn gemini_base_urls_with_and_without_a_version() {
        let schema = json!({"type": "object"});
        let req = ChatRequest { system: "s", user: "u", schema: &schema, max_output_tokens: 10 };
        assert_eq!(
            Gemini::new("g").request(&req).url,
            "https://generativelanguage.googleapis.com/v1beta/models/g:generateContent"
        );
        assert_eq!(Gemini::new("g").base_url("http://x/v1").request(&req).url, "http://x/v1/models/g:generateContent");
    }

    #[test]
    fn truncated_refused_and_blocked_answers_are_errors() {
        let o = OpenAi::new("m");
        assert!(o.completion(&json!({"choices": [{"finish_reason": "length", "message": {"content": "{"}}]})).is_err());
        assert!(o.completion(&json!({"choices": [{"message": {"content": null, "refusal": "no"}}]})).is_err());
        let g = Gemini::new("m");
        assert!(g.completion(&json!({"promptFeedback": {"blockReason": "SAFETY"}})).is_err());
        assert!(g.completion(&json!({"candidates": [{"finishReason": "MAX_TOKENS"}]})).is_err());
        assert!(Ollama::new("m").completion(&json!({"done_reason": "length", "message": {"content": "{"}})).is_err());
    }
}
