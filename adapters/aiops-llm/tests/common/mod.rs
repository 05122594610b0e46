//! Shared test helpers: diagnose a bundle the way the Engine does and hand the context over.
#![allow(dead_code)]

use aiops_core::alert::{incident_from_alert, scan_incident};
use aiops_core::graph::build_graph;
use aiops_core::traits::{AnalysisContext, Diagnosis, RuleEngine};

/// The parts an [`AnalysisContext`] borrows.
pub struct Prepared {
    pub obs: aiops_core::Observations,
    pub incident: aiops_core::Incident,
    pub graph: aiops_core::graph::EvidenceGraph,
    pub diagnosis: Diagnosis,
}

impl Prepared {
    pub fn from_value(v: &serde_json::Value) -> Prepared {
        let bundle = aiops_core::parse_bundle(&serde_json::to_vec(v).unwrap()).unwrap();
        let obs = bundle.into_observations();
        let now = obs.captured_at.unwrap();
        let incident = match obs.alerts.first() {
            Some(a) => incident_from_alert(a, obs.cluster.as_deref(), now),
            None => scan_incident(obs.cluster.as_deref(), now),
        };
        let graph = build_graph(&obs.inventory, &incident);
        let mut p = Prepared { obs, incident, graph, diagnosis: Diagnosis::default() };
        p.diagnosis = aiops_rca::RulesEngine::builtin().diagnose(&p.ctx()).unwrap();
        p
    }

    pub fn from_file(path: &str) -> Prepared {
        let text = std::fs::read_to_string(path).unwrap();
        Prepared::from_value(&serde_json::from_str(&text).unwrap())
    }

    pub fn ctx(&self) -> AnalysisContext<'_> {
        AnalysisContext {
            incident: &self.incident,
            alerts: &self.obs.alerts,
            inventory: &self.obs.inventory,
            graph: &self.graph,
            logs: &self.obs.logs,
            metrics: &self.obs.metrics,
            now: self.obs.captured_at.unwrap(),
            environment: self.obs.environment.as_deref(),
        }
    }
}

/// Twenty kinds of secrets, each a distinctive value that must never leave the process.
pub const SECRETS: [(&str, &str); 20] = [
    ("aws access key id", "AKIAQYLPMN5HFIQR7XYZ"),
    ("aws secret in assignment", "aws_secret_access_key=wJalrXUtnFEMIK7MDENGbPxRfiCYzEXAMPLEKEY"),
    ("github token", "ghp_R4nd0mT0k3nV4lu3F0rT3st1ng0123456789"),
    ("gitlab token", "glpat-Zx9Yw8Vu7Ts6Rq5Po4Nm"),
    ("slack bot token", "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"),
    ("slack webhook", "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"),
    ("stripe live key", "sk_live_51HxYzAbCdEfGhIjKlMnOpQr"),
    ("openai key", "sk-proj-Abc123Def456Ghi789Jkl012Mno345"),
    ("google api key", "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"),
    (
        "jwt",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    ),
    ("private key", "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7bq9xK3mQ\n-----END RSA PRIVATE KEY-----"),
    ("password assignment", "DB_PASSWORD=Tr0ub4dor&3horse"),
    ("credentialed connection string", "postgres://checkout:Pg5ecretPa55@db.shop.svc:5432/orders"),
    ("mongodb connection string", "mongodb+srv://admin:M0ng0Pa55w0rd@cluster0.example.net/db"),
    ("bearer token", "Authorization: Bearer abcDEF123ghiJKL456mnoPQR789"),
    ("email", "jane.doe@example-corp.com"),
    ("sendgrid key", "SG.aBcDeFgHiJkLmNoPqRsTuV.wXyZaBcDeFgHiJkLmNoPqRsTuVwXyZaBcDeFgHiJkLmNo"),
    ("azure storage account key", "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq"),
    ("signed url signature", "https://acct.blob.core.windows.net/c/f?sv=2024-01-01&sig=Qm9ndXNTaWduYXR1cmVWYWx1ZQ%3D"),
    ("api key header", "x-api-key: 9f8e7d6c5b4a39281706f5e4d3c2b1a0"),
];

/// The part of a seeded secret that must not appear anywhere (the value, not its label).
pub fn secret_value(s: &str) -> &str {
    for sep in ["=", ": Bearer ", ": "] {
        if let Some((k, v)) = s.split_once(sep)
            && !k.contains("://")
            && !k.contains('?')
        {
            return v;
        }
    }
    if let Some(rest) = s.split_once("://").map(|(_, r)| r)
        && let Some((cred, _)) = rest.split_once('@')
    {
        return cred.split_once(':').map_or(cred, |(_, p)| p);
    }
    if let Some((_, sig)) = s.split_once("sig=") {
        return sig;
    }
    s
}

/// The crash-loop example with every secret seeded into logs, event messages, the alert's
/// annotations, pod annotations and container env values.
pub fn seeded_bundle() -> serde_json::Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/bundles/crashloop-bad-deploy.json"
    ))
    .unwrap();
    let mut b: serde_json::Value = serde_json::from_str(&text).unwrap();
    let all: Vec<String> = SECRETS.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    let logs = b["logs"].as_array_mut().unwrap();
    let mut extra = String::new();
    for (i, (_, s)) in SECRETS.iter().enumerate() {
        extra.push_str(&format!("2026-03-01T10:40:{i:02}Z ERROR startup failed with config {s}\n"));
    }
    let first = logs[0]["text"].as_str().unwrap().to_string();
    logs[0]["text"] = serde_json::Value::String(format!("{extra}{first}"));
    let alert = &mut b["alert"]["alerts"][0]["annotations"];
    alert["description"] = serde_json::Value::String(format!("Pod crash looping. {}", all[..10].join("; ")));
    for o in b["objects"].as_array_mut().unwrap() {
        match o["kind"].as_str() {
            Some("Event") => {
                let msg = o["message"].as_str().unwrap_or_default().to_string();
                o["message"] = serde_json::Value::String(format!("{msg} {}", all[10..].join(" ")));
            }
            Some("Pod") => {
                o["metadata"]["annotations"]["debug/creds"] = serde_json::Value::String(all.join(" "));
                if let Some(cs) = o["spec"]["containers"].as_array_mut() {
                    for c in cs {
                        let env: Vec<serde_json::Value> = SECRETS
                            .iter()
                            .enumerate()
                            .map(|(i, (_, v))| serde_json::json!({"name": format!("SECRET_{i}"), "value": v}))
                            .collect();
                        c["env"] = serde_json::Value::Array(env);
                    }
                }
            }
            _ => {}
        }
    }
    b
}

pub mod server;

use aiops_core::traits::LlmEnricher;
use aiops_core::{AnalysisInput, Engine, Report};

/// An example bundle of the repository, as JSON.
pub fn example(name: &str) -> serde_json::Value {
    let path = format!("{}/../../examples/bundles/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The embedded pipeline (bundle collector, built-in rules and runbook, planner, the rule
/// catalogue for LLM-added hypotheses) with an optional enricher.
pub fn engine(bundle: &serde_json::Value, llm: Option<Box<dyn LlmEnricher>>) -> Engine {
    let bundle = aiops_core::parse_bundle(&serde_json::to_vec(bundle).unwrap()).unwrap();
    let mut b = Engine::builder()
        .collector(aiops_collectors::BundleCollector::from_bundle(bundle))
        .rules(aiops_rca::RulesEngine::builtin())
        .runbook(aiops_rca::DefaultRunbook::default())
        .planner(aiops_remediate::DefaultPlanner)
        .action_catalogue(aiops_rca::action_catalogue());
    if let Some(l) = llm {
        b = b.llm(BoxedEnricher(l));
    }
    b.build().unwrap()
}

struct BoxedEnricher(Box<dyn LlmEnricher>);

#[async_trait::async_trait]
impl LlmEnricher for BoxedEnricher {
    async fn enrich(&self, ctx: &AnalysisContext<'_>, d: &Diagnosis) -> aiops_core::enrichment::Enrichment {
        self.0.enrich(ctx, d).await
    }
    fn provider(&self) -> &str {
        self.0.provider()
    }
    fn model(&self) -> &str {
        self.0.model()
    }
}

/// Analyses a bundle once.
pub async fn analyze(bundle: &serde_json::Value, llm: Option<Box<dyn LlmEnricher>>) -> Report {
    engine(bundle, llm).analyze(AnalysisInput::default()).await.unwrap()
}

/// A grounded answer to a prompt: an explanation and a next check citing the top hypothesis's
/// first evidence id, and its confidence raised by 0.05.
pub fn grounded_answer(user: &str) -> String {
    let input: serde_json::Value = serde_json::from_str(user).unwrap();
    let top = &input["hypotheses"][0];
    let id = top["evidence"][0].as_str().unwrap();
    let conf = top["confidence"].as_f64().unwrap();
    serde_json::json!({
        "explanation": {"text": format!("The {} hypothesis is supported by {id}.", top["cause"].as_str().unwrap()), "evidence": [id]},
        "next_checks": [{"text": "Compare the failing revision with the previous one.", "evidence": [id]}],
        "rerank": [{"rank": 1, "confidence": (conf + 0.05).min(1.0), "reason": "the timeline fits", "evidence": [id]}],
        "new_hypotheses": []
    })
    .to_string()
}
