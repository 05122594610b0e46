//! Redaction: a bundle seeded with 20 kinds of secrets (env values, logs, annotations, event
//! messages) yields a prompt that contains none of them.

mod common;

use aiops_llm::{Limits, PromptInput, Redactor};
use common::{Prepared, SECRETS, secret_value, seeded_bundle};

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
