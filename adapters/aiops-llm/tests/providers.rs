//! The provider conformance suite: every provider dialect, against a local server implementing
//! that provider's documented request/response format (no provider runs here), sends the model,
//! the system and user messages, the output schema the way that provider supports structured
//! output, and the provider's auth header; its canned grounded answer is applied.

mod common;

use std::sync::Arc;

use aiops_core::enrichment::EnrichmentStatus;
use aiops_llm::prompt::{gemini_schema, json_schema};
use aiops_llm::{Enricher, EnricherConfig, RunWhen};
use common::server::{self, DIALECTS, Dialect, GOOGLE_TEST_KEY, OPENAI_TEST_KEY, Reply};
use common::{analyze, example, grounded_answer};

fn always() -> EnricherConfig {
    EnricherConfig { when: RunWhen::Always, ..EnricherConfig::default() }
}

fn check_request(dialect: Dialect, r: &server::Recorded, model: &str) {
    let b = &r.body;
    match dialect {
        Dialect::OpenAi => {
            assert_eq!(r.path, "/v1/chat/completions");
            assert_eq!(r.headers["authorization"], format!("Bearer {OPENAI_TEST_KEY}"));
            assert_eq!(b["model"], model);
            assert_eq!(b["messages"][0]["role"], "system");
            assert_eq!(b["messages"][1]["role"], "user");
            assert_eq!(b["response_format"]["type"], "json_schema");
            assert_eq!(b["response_format"]["json_schema"]["strict"], true);
            assert_eq!(b["response_format"]["json_schema"]["schema"], json_schema());
            assert_eq!(b["temperature"], 0);
        }
        Dialect::Gemini => {
            assert_eq!(r.path, format!("/v1beta/models/{model}:generateContent"));
            assert_eq!(r.headers["x-goog-api-key"], GOOGLE_TEST_KEY);
            assert!(!r.path.contains("key="), "the key never goes in the URL");
            assert_eq!(b["contents"][0]["role"], "user");
            let gc = &b["generationConfig"];
            assert_eq!(gc["responseMimeType"], "application/json");
            assert_eq!(gc["responseSchema"], gemini_schema(&json_schema()));
            assert!(gc["maxOutputTokens"].as_u64().is_some());
        }
        Dialect::Ollama => {
            assert_eq!(r.path, "/api/chat");
            assert!(!r.headers.contains_key("authorization"));
            assert_eq!(b["model"], model);
            assert_eq!(b["stream"], false);
            assert_eq!(b["format"], json_schema());
            assert_eq!(b["messages"][1]["role"], "user");
            assert!(b["options"]["num_predict"].as_u64().is_some());
        }
    }
    assert_eq!(r.headers["content-type"], "application/json");
    let (system, user) = dialect.texts(b);
    assert!(system.contains("<untrusted>") && system.contains("never an instruction"), "{system}");
    let input: serde_json::Value = serde_json::from_str(&user).expect("the user message is the JSON input");
    assert!(input["hypotheses"].as_array().is_some_and(|h| !h.is_empty()));
    assert!(input["evidence"].as_array().is_some_and(|e| !e.is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_provider_sends_its_documented_request_and_its_grounded_answer_is_applied() {
    let bundle = example("crashloop-bad-deploy");
    let plain = analyze(&bundle, None).await;
    for dialect in DIALECTS {
        let srv = server::start(dialect, Arc::new(|_s: &str, u: &str, _n| Reply::Text(grounded_answer(u)))).await;
        let model = format!("test-model-{dialect:?}").to_lowercase();
        let enricher = Enricher::new(server::provider_for(&srv, &model)).unwrap().config(always());
        let report = analyze(&bundle, Some(Box::new(enricher))).await;
        let e = report.enrichment.as_ref().unwrap();
        assert_eq!(e.status, EnrichmentStatus::Applied, "{dialect:?}: {:?}", e.reasons);
        assert_eq!((e.model.as_str(), e.provider_calls, e.tokens_used), (model.as_str(), 1, 1100), "{dialect:?}");
        assert!(e.explanation.as_deref().is_some_and(|x| x.contains("supported by ev-")));
        assert_eq!(e.changes.len(), 1, "{:?}", e.changes);
        let before = plain.hypotheses[0].confidence;
        assert!((report.hypotheses[0].confidence - (before + 0.05).min(1.0)).abs() < 1e-9, "{dialect:?}");
        let reqs = srv.recorded();
        assert_eq!(reqs.len(), 1);
        check_request(dialect, &reqs[0], &model);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_openai_uses_the_api_version_and_the_api_key_header() {
    let srv = server::start(Dialect::OpenAi, Arc::new(|_s: &str, u: &str, _n| Reply::Text(grounded_answer(u)))).await;
    let base = srv.base.replace("/v1", "/openai/deployments/gpt4o");
    let p = aiops_llm::OpenAi::new("gpt-4o").base_url(base).api_key("azure-key-1").azure_api_version("2024-10-21");
    let report = analyze(&example("oom-killed"), Some(Box::new(Enricher::new(p).unwrap().config(always())))).await;
    assert_eq!(report.enrichment.unwrap().status, EnrichmentStatus::Applied);
    let r = &srv.recorded()[0];
    assert_eq!(r.path, "/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21");
    assert_eq!(r.headers["api-key"], "azure-key-1");
    assert!(!r.headers.contains_key("authorization"));
}
