//! Syntax checks of the configuration files that ConfigMaps and Secrets carry: a key named
//! `*.yaml`, `*.yml` or `*.json` (optionally `.gz`, or gzip bytes under any of those names)
//! must parse. A file that does not is a configuration error waiting for the next reload.
//!
//! ```
//! use aiops_core::config_file::check;
//! assert!(check("app.json", br#"{"port": 8080}"#).is_none());
//! assert!(check("app.json", br#"{"port": 8080"#).is_some());
//! assert!(check("README.md", b"{{ not checked").is_none());
//! ```

use std::io::Read;

use serde::{Deserialize, Serialize};

/// The largest decompressed file that is checked; larger files are skipped, not flagged.
pub const MAX_CHECKED_BYTES: u64 = 4 * 1024 * 1024;

/// A configuration file that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvalidConfigFile {
    /// The key (file name) in the ConfigMap or Secret.
    pub key: String,
    /// The parser's message.
    pub error: String,
}

enum Format {
    Yaml,
    Json,
}

fn format_of(key: &str) -> Option<Format> {
    let key = key.strip_suffix(".gz").unwrap_or(key).to_ascii_lowercase();
    if key.ends_with(".yaml") || key.ends_with(".yml") {
        Some(Format::Yaml)
    } else if key.ends_with(".json") {
        Some(Format::Json)
    } else {
        None
    }
}

/// Whether `key` names a file this module checks (`*.yaml`, `*.yml`, `*.json`, optionally `.gz`).
pub fn is_config_file(key: &str) -> bool {
    format_of(key).is_some()
}

/// `bytes`, gunzipped when they start with the gzip magic number; `None` when they do not
/// decompress or exceed [`MAX_CHECKED_BYTES`].
fn plain(bytes: &[u8]) -> Option<std::borrow::Cow<'_, [u8]>> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return (bytes.len() as u64 <= MAX_CHECKED_BYTES).then_some(std::borrow::Cow::Borrowed(bytes));
    }
    let mut out = Vec::new();
    let mut reader = flate2::read::GzDecoder::new(bytes).take(MAX_CHECKED_BYTES + 1);
    reader.read_to_end(&mut out).ok()?;
    (out.len() as u64 <= MAX_CHECKED_BYTES).then_some(std::borrow::Cow::Owned(out))
}

/// The parse error of the file `key` with content `bytes`, or `None` when it parses, is not a
/// YAML/JSON file by name, is not valid UTF-8 text, or is too large to check.
pub fn check(key: &str, bytes: &[u8]) -> Option<String> {
    let format = format_of(key)?;
    let plain = plain(bytes)?;
    let text = std::str::from_utf8(&plain).ok()?;
    if text.contains("{{") {
        // An unrendered template (Helm, Go text/template) is not meant to parse as is.
        return None;
    }
    let error = match format {
        Format::Json => serde_json::from_str::<serde_json::Value>(text).err()?.to_string(),
        Format::Yaml => yaml_error(text)?,
    };
    Some(error)
}

fn yaml_error(text: &str) -> Option<String> {
    for doc in serde_norway::Deserializer::from_str(text) {
        if let Err(e) = serde_norway::Value::deserialize(doc) {
            return Some(e.to_string());
        }
    }
    None
}

/// Every invalid file among `files` (key, content).
pub fn invalid_files<'a>(files: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Vec<InvalidConfigFile> {
    files
        .into_iter()
        .filter_map(|(key, bytes)| check(key, bytes).map(|error| InvalidConfigFile { key: key.to_string(), error }))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn yaml_json_and_gzip() {
        assert!(check("prometheus.yaml", b"global:\n  scrape_interval: 30s\n").is_none());
        assert!(check("prometheus.yaml", b"::: not valid yaml :::").is_some());
        assert!(check("p.yml", b"a: [1, 2\n").is_some());
        assert!(check("prometheus.yaml", &gzip(b"::: not valid yaml :::")).is_some());
        assert!(check("prometheus.yaml.gz", &gzip(b"global: {}\n")).is_none());
        assert!(check("a.json", b"{\"a\": 1,}").is_some());
        assert!(check("multi.yaml", b"a: 1\n---\nb: [\n").is_some());
    }

    #[test]
    fn skips_what_it_cannot_judge() {
        assert!(check("values.yaml", b"image: {{ .Values.image }}\n: :").is_none());
        assert!(check("blob.json", &[0xff, 0xfe, 0x00]).is_none());
        assert!(check("truncated.yaml", &[0x1f, 0x8b, 0x08, 0x00]).is_none());
        assert!(check("script.sh", b"{").is_none());
        let big = gzip(&vec![b' '; (MAX_CHECKED_BYTES + 1) as usize]);
        assert!(check("big.yaml", &big).is_none());
    }

    #[test]
    fn lists_invalid_files() {
        let files = [("a.json", &b"{}"[..]), ("b.json", &b"{"[..])];
        let bad = invalid_files(files);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].key, "b.json");
    }
}
