//! Request authentication: bearer tokens for the API, a shared secret for webhooks
//! (Alertmanager `http_config.authorization` / `bearer_token`, or Grafana basic auth whose
//! password is the secret), compared in constant time.

use axum::http::{HeaderMap, header};
use base64::Engine as _;

/// Compares two byte strings in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = (a.len() ^ b.len()) as u64;
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= u64::from(x ^ y);
    }
    diff == 0
}

/// The secret a request presents: `Authorization: Bearer X`, the password of
/// `Authorization: Basic ...`, or an `X-Aiops-Token` header.
pub fn presented(headers: &HeaderMap) -> Option<Vec<u8>> {
    if let Some(v) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let v = v.trim();
        if let Some(t) = v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")) {
            return Some(t.trim().as_bytes().to_vec());
        }
        if let Some(b) = v.strip_prefix("Basic ").or_else(|| v.strip_prefix("basic ")) {
            let decoded = base64::engine::general_purpose::STANDARD.decode(b.trim()).ok()?;
            let pos = decoded.iter().position(|&c| c == b':')?;
            return Some(decoded[pos + 1..].to_vec());
        }
    }
    headers.get("x-aiops-token").map(|v| v.as_bytes().to_vec())
}

/// True when no secret is configured, or the request presents it.
pub fn allowed(headers: &HeaderMap, expected: Option<&str>) -> bool {
    match expected {
        None => true,
        Some(want) => presented(headers).is_some_and(|got| constant_time_eq(&got, want.as_bytes())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn bearer_basic_and_wrong_secrets() {
        let mut h = HeaderMap::new();
        assert!(allowed(&h, None));
        assert!(!allowed(&h, Some("s3cret")));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer s3cret"));
        assert!(allowed(&h, Some("s3cret")));
        assert!(!allowed(&h, Some("s3cre")));
        assert!(!allowed(&h, Some("s3cret2")));
        let basic = base64::engine::general_purpose::STANDARD.encode("grafana:s3cret");
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(&format!("Basic {basic}")).unwrap());
        assert!(allowed(&h, Some("s3cret")));
        assert!(constant_time_eq(b"", b""));
        assert!(!constant_time_eq(b"a", b""));
    }
}
