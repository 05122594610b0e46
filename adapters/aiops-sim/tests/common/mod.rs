//! Shared helpers: start the simulator on an example bundle and talk to it over HTTP.
#![allow(dead_code)]

use aiops_sim::{SimHandle, Simulator};
use serde_json::Value;

/// The repository's example bundle `name` (from `examples/bundles/`).
pub fn example(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/bundles").join(name)
}

/// A simulator serving an example bundle.
pub async fn sim(name: &str) -> SimHandle {
    Simulator::from_path(example(name)).unwrap().spawn().await.unwrap()
}

/// A simulator serving an inline bundle.
pub async fn sim_json(json: &str) -> SimHandle {
    let bundle = aiops_core::parse_bundle(json.as_bytes()).unwrap();
    Simulator::from_bundle(&bundle).spawn().await.unwrap()
}

/// GET `path` with an Accept header; returns status and body text.
pub async fn get_raw(sim: &SimHandle, path: &str, accept: &str) -> (u16, String) {
    let resp = client().get(format!("{}{path}", sim.url())).header("accept", accept).send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// GET `path` as JSON.
pub async fn get(sim: &SimHandle, path: &str) -> (u16, Value) {
    let (code, text) = get_raw(sim, path, "application/json").await;
    (code, serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}")))
}

/// Sends `method path` with a body of `content_type`; returns status and JSON body.
pub async fn send(sim: &SimHandle, method: &str, path: &str, content_type: &str, body: &str) -> (u16, Value) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let resp = client()
        .request(m, format!("{}{path}", sim.url()))
        .header("content-type", content_type)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let code = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (code, serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {path}: {e}: {text}")))
}

/// An HTTP client. The workspace builds reqwest with rustls but no bundled crypto provider
/// (the collectors use ring, as kube does), so the provider is installed first.
pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// The names of a list's items.
pub fn names(list: &Value) -> Vec<String> {
    list["items"].as_array().unwrap().iter().map(|i| i["metadata"]["name"].as_str().unwrap().to_string()).collect()
}
