//! `aiops analyze --explain` end to end: the CLI reads LLM_PROVIDER/LLM_MODEL/OLLAMA_HOST and
//! asks a local server that speaks Ollama's documented `/api/chat` format (no Ollama runs
//! here); the report carries the validated enrichment. Without configuration nothing is asked.
#![cfg(feature = "llm")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

const BUNDLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/bundles/crashloop-bad-deploy.json");
const LLM_VARS: [&str; 12] = [
    "LLM_PROVIDER",
    "LLM_MODEL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_API_VERSION",
    "GOOGLE_API_KEY",
    "GEMINI_BASE_URL",
    "OLLAMA_HOST",
    "LLM_CONFIDENCE_THRESHOLD",
    "LLM_TIME_BUDGET_SECS",
    "LLM_TOKEN_BUDGET",
    "LLM_CACHE_DIR",
];

/// A one-thread HTTP/1.1 server answering `/api/chat` with a grounded answer; records bodies.
fn fake_ollama() -> (u16, Arc<Mutex<Vec<Value>>>) {
    let listener = (18450..18500).find_map(|p| TcpListener::bind(("127.0.0.1", p)).ok()).expect("a free port");
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut len = 0usize;
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            let mut body = vec![0; len];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let input: Value = serde_json::from_str(req["messages"][1]["content"].as_str().unwrap_or("{}")).unwrap();
            let id = input["hypotheses"][0]["evidence"][0].clone();
            let answer = json!({
                "explanation": {"text": "The new revision crashes on start.", "evidence": [id]},
                "next_checks": [{"text": "Diff the two ReplicaSets' pod templates.", "evidence": [id]}],
                "rerank": [], "new_hypotheses": []
            });
            log.lock().unwrap().push(req);
            let out = json!({"model": "test", "message": {"role": "assistant", "content": answer.to_string()},
                             "done": true, "done_reason": "stop", "prompt_eval_count": 900, "eval_count": 80})
            .to_string();
            let mut s = reader.into_inner();
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{out}",
                out.len()
            );
        }
    });
    (port, seen)
}

fn aiops(args: &[&str], env: &[(&str, String)]) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_aiops"));
    c.args(args);
    for v in LLM_VARS {
        c.env_remove(v);
    }
    c.envs(env.iter().map(|(k, v)| (k, v)));
    c.output().unwrap()
}

#[test]
fn explain_asks_the_configured_model_and_the_report_carries_its_validated_answer() {
    let (port, seen) = fake_ollama();
    let env = [
        ("LLM_PROVIDER", "ollama".to_string()),
        ("LLM_MODEL", "test-8b".to_string()),
        ("OLLAMA_HOST", format!("127.0.0.1:{port}")),
    ];
    let out = aiops(&["analyze", "--bundle", BUNDLE, "--format", "json", "--explain"], &env);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let e = &report["enrichment"];
    assert_eq!(
        (e["status"].as_str(), e["provider"].as_str(), e["model"].as_str()),
        (Some("applied"), Some("ollama"), Some("test-8b"))
    );
    assert_eq!(e["tokens_used"], 980);
    assert_eq!(e["next_checks"][0], "Diff the two ReplicaSets' pod templates.");
    let bodies = seen.lock().unwrap().clone();
    assert_eq!(bodies.len(), 1);
    assert_eq!(bodies[0]["model"], "test-8b");

    // Without --explain the confident example is not sent (top confidence over the threshold).
    let out = aiops(&["analyze", "--bundle", BUNDLE], &env);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("LLM enrichment (ollama test-8b): skipped"), "{text}");
    assert!(text.contains("threshold"), "{text}");
    assert_eq!(seen.lock().unwrap().len(), 1, "no second call");
}

#[test]
fn without_configuration_nothing_is_asked_and_explain_is_an_error() {
    let out = aiops(&["analyze", "--bundle", BUNDLE, "--format", "json"], &[]);
    assert!(out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report.get("enrichment").is_none(), "no enricher configured");
    let out = aiops(&["analyze", "--bundle", BUNDLE, "--explain"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("LLM_PROVIDER"));
    let out = aiops(&["analyze", "--bundle", BUNDLE], &[("LLM_PROVIDER", "claude".into())]);
    assert_eq!(out.status.code(), Some(2), "a bad provider is bad input");
}
