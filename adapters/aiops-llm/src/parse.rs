//! The strict parser of the model's answer: exactly one JSON object of the requested shape
//! (a Markdown code fence around it is tolerated, nothing else); unknown or missing fields,
//! trailing text and oversized answers are errors, never guesses.

use aiops_core::enrichment::Proposal;

use crate::error::LlmError;

/// The largest answer accepted, in bytes.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Parses the model's text into a [`Proposal`].
pub fn parse_answer(text: &str) -> Result<Proposal, LlmError> {
    if text.len() > MAX_ANSWER_BYTES {
        return Err(LlmError::Parse(format!("{} bytes, more than {MAX_ANSWER_BYTES}", text.len())));
    }
    let body = strip_fence(text.trim());
    let mut de = serde_json::Deserializer::from_str(body);
    let p: Proposal = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        LlmError::Parse(if path == "." { e.inner().to_string() } else { format!("{path}: {}", e.inner()) })
    })?;
    de.end().map_err(|e| LlmError::Parse(e.to_string()))?;
    let numbers = p.rerank.iter().map(|r| r.confidence).chain(p.new_hypotheses.iter().map(|h| h.confidence));
    if let Some(bad) = numbers.into_iter().find(|c| !c.is_finite()) {
        return Err(LlmError::Parse(format!("confidence {bad} is not a number")));
    }
    Ok(p)
}

/// Removes one surrounding ```` ``` ```` / ```` ```json ```` fence.
fn strip_fence(s: &str) -> &str {
    let Some(rest) = s.strip_prefix("```") else { return s };
    let rest = rest.strip_prefix("json").unwrap_or(rest);
    rest.strip_suffix("```").unwrap_or(rest).trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str =
        r#"{"explanation":{"text":"t","evidence":["ev-1"]},"next_checks":[],"rerank":[],"new_hypotheses":[]}"#;

    #[test]
    fn exact_and_fenced_answers_parse() {
        assert_eq!(parse_answer(OK).unwrap().explanation.evidence, ["ev-1"]);
        assert!(parse_answer(&format!("```json\n{OK}\n```")).is_ok());
    }

    #[test]
    fn anything_else_is_an_error_naming_the_problem() {
        let cases = [
            (format!("Sure! Here it is: {OK}"), "expected value"),
            (format!("{OK} trailing"), "trailing characters"),
            (OK.replace(r#","new_hypotheses":[]"#, ""), "new_hypotheses"),
            (OK.replace(r#""rerank":[]"#, r#""rerank":[],"confidence":0.99"#), "unknown field `confidence`"),
            (
                OK.replace(r#""rerank":[]"#, r#""rerank":[{"rank":1,"confidence":"high","reason":"r","evidence":[]}]"#),
                "rerank[0].confidence",
            ),
            ("x".repeat(MAX_ANSWER_BYTES + 1), "bytes"),
        ];
        for (text, why) in cases {
            let e = parse_answer(&text).map(|_| ()).map_err(|e| e.to_string()).expect_err(why);
            assert!(e.contains(why), "{why}: {e}");
        }
    }
}
