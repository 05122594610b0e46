//! The [`Redactor`]: runs on every string that leaves the process for a model provider.
//!
//! It removes credentials (API keys and tokens of the common providers, JWTs, private keys,
//! passwords and secrets in `key=value` / `key: value` form, bearer and basic authorization,
//! credentials in connection strings and URLs, signed-URL signatures), e-mail addresses, and
//! optionally replaces IP addresses and chosen names with stable pseudonyms (`ip-1`, `name-1`)
//! that [`Redactor::restore`] maps back in the model's answer.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::{Captures, Regex};

/// What a removed secret is replaced with.
pub const REDACTED: &str = "[REDACTED]";

struct Pattern {
    name: &'static str,
    re: Regex,
    /// Capture group holding the secret (0: the whole match).
    group: usize,
}

fn pat(name: &'static str, re: &str, group: usize) -> Option<Pattern> {
    match Regex::new(re) {
        Ok(re) => Some(Pattern { name, re, group }),
        Err(e) => {
            tracing::error!(pattern = name, error = %e, "invalid redaction pattern");
            None
        }
    }
}

/// The credential patterns, most specific first.
static PATTERNS: LazyLock<Vec<Pattern>> = LazyLock::new(|| {
    [
        pat(
            "private_key",
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----(?s:.*?)(-----END [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----|\z)",
            0,
        ),
        pat("jwt", r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*", 0),
        pat("aws_access_key_id", r"\b(AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA)[A-Z0-9]{16}\b", 0),
        pat("github_token", r"\b(gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,})", 0),
        pat("gitlab_token", r"\bglpat-[A-Za-z0-9_-]{20,}", 0),
        pat("slack_token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}", 0),
        pat("slack_webhook", r"https://hooks\.slack\.com/services/[A-Za-z0-9/_-]+", 0),
        pat("stripe_key", r"\b(sk|rk|pk)_(live|test)_[A-Za-z0-9]{16,}", 0),
        pat("openai_key", r"\bsk-(proj-|ant-|svcacct-)?[A-Za-z0-9_-]{20,}", 0),
        pat("google_api_key", r"\bAIza[0-9A-Za-z_-]{35}", 0),
        pat("sendgrid_key", r"\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}", 0),
        pat("npm_token", r"\bnpm_[A-Za-z0-9]{36}\b", 0),
        pat("huggingface_token", r"\bhf_[A-Za-z0-9]{30,}\b", 0),
        pat("twilio_key", r"\b(SK|AC)[0-9a-f]{32}\b", 0),
        pat("authorization", r"(?i)\b(bearer|basic|token)\s+([A-Za-z0-9._~+/=-]{8,})", 2),
        // scheme://user:password@host -> the password.
        pat("url_credentials", r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]*:([^\s@/]+)@", 1),
        // Signed URLs (Azure SAS, S3 presigned, GCS): the signature and credential parameters.
        pat(
            "url_signature",
            r"(?i)[?&](sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|token|access_token|api_key|apikey|key)=([^&\s]+)",
            2,
        ),
        // key=value / key: value / "key":"value" for anything named like a secret.
        pat(
            "secret_assignment",
            r#"(?i)\b([a-z0-9_.-]*(password|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|credential|accountkey|auth)[a-z0-9_.-]*)["']?\s*(=|:)\s*["']?([^\s"',;&}]{3,})"#,
            4,
        ),
        pat("email", r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b", 0),
    ]
    .into_iter()
    .flatten()
    .collect()
});

static IPV4: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"\b(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}\b").ok());
static IPV6: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"\b([0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}\b|\b([0-9a-fA-F]{1,4}:){1,7}:([0-9a-fA-F]{1,4}\b)?").ok()
});

/// Removes secrets from outgoing text and optionally pseudonymises IPs and names, reversibly.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    pseudonymise_ips: bool,
    names: Vec<String>,
    /// pseudonym -> original.
    reverse: BTreeMap<String, String>,
    /// original -> pseudonym.
    forward: BTreeMap<String, String>,
    /// How many secrets were removed, by pattern name.
    counts: BTreeMap<&'static str, usize>,
    disabled: bool,
}

impl Redactor {
    /// A redactor that removes secrets and e-mail addresses only.
    pub fn new() -> Self {
        Self::default()
    }

    /// A redactor that changes nothing (for measuring what redaction removes; never for
    /// outgoing text).
    pub fn passthrough() -> Self {
        Self { disabled: true, ..Self::default() }
    }

    /// Also replaces IPv4/IPv6 addresses with `ip-N` pseudonyms.
    pub fn pseudonymise_ips(mut self, on: bool) -> Self {
        self.pseudonymise_ips = on;
        self
    }

    /// Also replaces these names (cluster, customer, host names) with `name-N` pseudonyms.
    pub fn pseudonymise_names(mut self, names: impl IntoIterator<Item = String>) -> Self {
        let mut names: Vec<String> = names.into_iter().filter(|n| n.len() >= 3).collect();
        names.sort_by_key(|n| std::cmp::Reverse(n.len()));
        names.dedup();
        self.names = names;
        self
    }

    /// How many secrets were removed so far, by kind.
    pub fn counts(&self) -> &BTreeMap<&'static str, usize> {
        &self.counts
    }

    /// Redacts one outgoing string.
    pub fn redact(&mut self, text: &str) -> String {
        let mut out = text.to_string();
        if self.disabled {
            return out;
        }
        for p in PATTERNS.iter() {
            let mut hits = 0usize;
            let replaced = p.re.replace_all(&out, |c: &Captures<'_>| {
                let Some(whole) = c.get(0) else { return String::new() };
                match c.get(p.group) {
                    Some(secret) if p.group > 0 => {
                        if secret.as_str().starts_with('[') {
                            return whole.as_str().to_string();
                        }
                        hits += 1;
                        let text = whole.as_str();
                        let (s, e) = (secret.start() - whole.start(), secret.end() - whole.start());
                        format!("{}{REDACTED}{}", &text[..s], &text[e..])
                    }
                    _ => {
                        hits += 1;
                        REDACTED.to_string()
                    }
                }
            });
            if hits > 0 {
                out = replaced.into_owned();
                *self.counts.entry(p.name).or_default() += hits;
            }
        }
        if self.pseudonymise_ips {
            for re in [&*IPV6, &*IPV4].into_iter().flatten() {
                out = self.pseudonymise(re, &out, "ip");
            }
        }
        for i in 0..self.names.len() {
            let name = self.names[i].clone();
            if out.contains(&name) {
                let alias = self.alias(&name, "name");
                out = out.replace(&name, &alias);
            }
        }
        out
    }

    fn pseudonymise(&mut self, re: &Regex, text: &str, prefix: &str) -> String {
        let found: Vec<String> = re.find_iter(text).map(|m| m.as_str().to_string()).collect();
        if found.is_empty() {
            return text.to_string();
        }
        for f in &found {
            self.alias(f, prefix);
        }
        re.replace_all(text, |c: &Captures<'_>| {
            let m = c.get(0).map_or("", |m| m.as_str());
            self.forward.get(m).cloned().unwrap_or_else(|| m.to_string())
        })
        .into_owned()
    }

    fn alias(&mut self, original: &str, prefix: &str) -> String {
        if let Some(a) = self.forward.get(original) {
            return a.clone();
        }
        let n = self.reverse.keys().filter(|k| k.starts_with(prefix)).count() + 1;
        let alias = format!("{prefix}-{n}");
        self.forward.insert(original.to_string(), alias.clone());
        self.reverse.insert(alias.clone(), original.to_string());
        alias
    }

    /// Maps pseudonyms in a model answer back to the originals (secrets stay redacted).
    pub fn restore(&self, text: &str) -> String {
        let mut out = text.to_string();
        // Longest pseudonym first, so `ip-12` is not read as `ip-1` + `2`.
        let mut aliases: Vec<(&String, &String)> = self.reverse.iter().collect();
        aliases.sort_by_key(|(a, _)| std::cmp::Reverse(a.len()));
        for (alias, original) in aliases {
            out = out.replace(alias.as_str(), original);
        }
        out
    }

    /// Whether any pseudonym is in use (the answer needs [`Redactor::restore`]).
    pub fn has_pseudonyms(&self) -> bool {
        !self.reverse.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_removed_and_the_rest_kept() {
        let mut r = Redactor::new();
        let out = r.redact("connect postgres://app:hunter2pass@db.shop:5432/app failed; password=s3cr3t! user=bob");
        assert!(!out.contains("hunter2pass") && !out.contains("s3cr3t"), "{out}");
        assert!(out.contains("postgres://app:[REDACTED]@db.shop:5432/app"), "{out}");
        assert!(out.contains("user=bob"), "{out}");
        assert_eq!(r.counts().get("url_credentials"), Some(&1));
    }

    #[test]
    fn pseudonyms_are_stable_and_reversible() {
        let mut r = Redactor::new().pseudonymise_ips(true).pseudonymise_names(["prod-eu-1".to_string()]);
        let out = r.redact("dial 10.0.1.23:5432 from 10.0.1.24 in prod-eu-1; again 10.0.1.23");
        assert_eq!(out, "dial ip-1:5432 from ip-2 in name-1; again ip-1");
        assert_eq!(r.restore("check ip-2 and ip-1 on name-1"), "check 10.0.1.24 and 10.0.1.23 on prod-eu-1");
    }
}
