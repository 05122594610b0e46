//! Redaction: a bundle seeded with 20 kinds of secrets (env values, logs, annotations, event
//! messages) yields a prompt that contains none of them.

mod common;

use std::sync::Arc;

use aiops_llm::{Enricher, EnricherConfig, Limits, PromptInput, Redactor, RunWhen};
use common::server::{self, DIALECTS, Reply};
use common::{Prepared, SECRETS, analyze, grounded_answer, secret_value, seeded_bundle};

#[test]
fn no_seeded_secret_reaches_the_prompt() {
    let p = Prepared::from_value(&seeded_bundle());
    let ctx = p.ctx();
    // Generous caps so that more of the seeded text is included.
    let wide = Limits { max_tokens: 1_000_000, log_templates: 40, untrusted_chars: 4000, ..Limits::default() };
    for limits in [Limits::default(), wide] {
        // Without redaction seeded secrets would be sent: the test can fail.
        let raw = PromptInput::build(&ctx, &p.diagnosis, &mut Redactor::passthrough(), limits).to_json();
        let leaked_raw = SECRETS.iter().filter(|(_, s)| raw.contains(secret_value(s))).count();
        assert!(
            leaked_raw >= 3,
            "only {leaked_raw} secrets reach the unredacted prompt: the bundle is not seeded well"
        );
        let mut r = Redactor::new();
        let prompt = PromptInput::build(&ctx, &p.diagnosis, &mut r, limits).to_json();
        for (kind, s) in SECRETS {
            let v = secret_value(s);
            assert!(!prompt.contains(v), "{kind} ({v}) leaked into the prompt:\n{prompt}");
        }
        assert!(prompt.contains("[REDACTED]"));
    }
}

#[test]
fn every_secret_kind_is_redacted_on_its_own() {
    for (kind, s) in SECRETS {
        let out = Redactor::new().redact(&format!("line with {s} in it"));
        assert!(!out.contains(secret_value(s)), "{kind}: {out}");
        assert!(out.starts_with("line with "), "{kind}: {out}");
    }
}

/// Every request body each provider is sent (against local servers speaking the providers'
/// wire formats) is free of the seeded secrets; a few of them did reach the unredacted prompt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_seeded_secret_is_sent_to_any_provider() {
    let bundle = seeded_bundle();
    for dialect in DIALECTS {
        let srv = server::start(dialect, Arc::new(|_s: &str, u: &str, _n| Reply::Text(grounded_answer(u)))).await;
        let config = EnricherConfig { when: RunWhen::Always, ..EnricherConfig::default() };
        let report =
            analyze(&bundle, Some(Box::new(Enricher::new(server::provider_for(&srv, "m")).unwrap().config(config))))
                .await;
        assert!(report.enrichment.is_some());
        let requests = srv.recorded();
        assert!(!requests.is_empty());
        for r in &requests {
            assert!(r.raw.contains("[REDACTED]"), "{dialect:?}: redaction ran");
            for (kind, s) in SECRETS {
                assert!(!r.raw.contains(secret_value(s)), "{dialect:?}: {kind} was sent");
            }
        }
    }
}
