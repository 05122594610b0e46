//! The Loki HTTP API (`/loki/api/v1/query_range`, `/loki/api/v1/query`) answered from the
//! bundle's logs in Loki's `streams` format.
//!
//! Every log record (one container instance) is one stream labelled `namespace`, `pod`,
//! `container`, `job` (`{namespace}/{app}`), `stream` (`stdout`), and `app` when the pod
//! carries an `app` or `app.kubernetes.io/name` label. A LogQL query selects streams by its
//! stream selector (`=`, `!=`, `=~`, `!~`; an absent label reads as empty) and keeps lines
//! passing its line filters (`|=`, `!=`, `|~`, `!~`); parser and formatting stages (`| json`,
//! `| logfmt`, `| line_format`, ...) are ignored, and metric queries (`rate(...)`,
//! `count_over_time(...)`) are answered `400`, as Loki answers a query it cannot parse.
//!
//! Timestamps: a line starting with an RFC 3339 timestamp keeps it; other lines get
//! timestamps one millisecond apart ending at the bundle's `capturedAt` (previous instances
//! before current ones). As for Prometheus, `start`/`end` do not filter (the bundle is one
//! snapshot); `limit` (default 100) and `direction` (`backward`, the default, or `forward`)
//! apply to all entries as in Loki.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use regex::Regex;
use serde_json::{Value, json};

use crate::App;
use crate::k8s::Params;
use crate::promql::{self, Selector};
use crate::store::{Store, str_at};

/// A line filter of a LogQL pipeline.
#[derive(Debug, Clone)]
enum LineFilter {
    Contains(String, bool),
    Regex(Regex, bool),
}

impl LineFilter {
    fn keeps(&self, line: &str) -> bool {
        match self {
            LineFilter::Contains(s, keep) => line.contains(s.as_str()) == *keep,
            LineFilter::Regex(r, keep) => r.is_match(line) == *keep,
        }
    }
}

/// A parsed log query: stream selector and line filters.
#[derive(Debug, Clone)]
struct LogQuery {
    selector: Selector,
    filters: Vec<LineFilter>,
}

fn parse(query: &str) -> Result<LogQuery, String> {
    let q = query.trim();
    if !q.starts_with('{') {
        return Err(format!("parse error: only log queries are served by the simulator: {q}"));
    }
    let end = q.find('}').ok_or("parse error: unclosed stream selector")?;
    let selector = promql::selector(None, &q[1..end])?;
    let filter_re = Regex::new(r#"^\s*(\|=|!=|\|~|!~)\s*"((?:[^"\\]|\\.)*)"|^\s*(\|=|!=|\|~|!~)\s*`([^`]*)`"#)
        .map_err(|e| e.to_string())?;
    let mut rest = &q[end + 1..];
    let mut filters = Vec::new();
    while !rest.trim().is_empty() {
        if let Some(c) = filter_re.captures(rest) {
            let op = c.get(1).or(c.get(3)).map_or("", |m| m.as_str());
            let text = c
                .get(2)
                .map(|m| m.as_str().replace("\\\"", "\"").replace("\\\\", "\\"))
                .or(c.get(4).map(|m| m.as_str().to_string()))
                .unwrap_or_default();
            filters.push(match op {
                "|=" => LineFilter::Contains(text, true),
                "!=" => LineFilter::Contains(text, false),
                op => LineFilter::Regex(Regex::new(&text).map_err(|e| format!("parse error: {e}"))?, op == "|~"),
            });
            rest = &rest[c[0].len()..];
        } else if let Some(stage) = rest.trim_start().strip_prefix('|') {
            // A parser or formatting stage: skipped up to the next pipe outside quotes.
            rest = skip_stage(stage);
        } else {
            return Err(format!("parse error near {:?}", rest.trim()));
        }
    }
    Ok(LogQuery { selector, filters })
}

fn skip_stage(s: &str) -> &str {
    let mut in_quote = None;
    for (i, c) in s.char_indices() {
        match (c, in_quote) {
            ('"' | '`', None) => in_quote = Some(c),
            (q, Some(open)) if q == open => in_quote = None,
            ('|' | '!', None) => return &s[i..],
            _ => {}
        }
    }
    ""
}

struct Entry<'a> {
    ts: i128,
    stream: usize,
    line: &'a str,
}

fn leading_timestamp(line: &str) -> Option<i128> {
    let word = line.split_whitespace().next()?;
    word.parse::<jiff::Timestamp>().ok().map(|t| t.as_nanosecond())
}

/// The stream labels of every log record, in record order (previous instances first).
fn streams(store: &Store) -> Vec<(BTreeMap<String, String>, usize)> {
    let pods = store.type_of("v1", "Pod");
    let mut order: Vec<usize> = (0..store.logs.len()).collect();
    order.sort_by_key(|i| !store.logs[*i].previous);
    order
        .into_iter()
        .map(|i| {
            let l = &store.logs[i];
            let pod = pods.and_then(|t| store.get(t, &l.namespace, &l.pod));
            let app = pod
                .map(|p| {
                    let a = str_at(p, &["metadata", "labels", "app"]);
                    if a.is_empty() { str_at(p, &["metadata", "labels", "app.kubernetes.io/name"]) } else { a }
                })
                .unwrap_or("");
            let mut labels = BTreeMap::from([
                ("namespace".to_string(), l.namespace.clone()),
                ("pod".to_string(), l.pod.clone()),
                ("job".to_string(), format!("{}/{}", l.namespace, if app.is_empty() { &l.container } else { app })),
                ("stream".to_string(), "stdout".to_string()),
            ]);
            if !l.container.is_empty() {
                labels.insert("container".into(), l.container.clone());
            }
            if !app.is_empty() {
                labels.insert("app".into(), app.to_string());
            }
            (labels, i)
        })
        .collect()
}

fn answer(app: &App, uri: &Uri) -> Response {
    let p = Params::parse(uri.query().unwrap_or(""));
    let Some(query) = p.get("query") else { return bad("parse error: query parameter is required") };
    let lq = match parse(query) {
        Ok(q) => q,
        Err(e) => return bad(&e),
    };
    let limit = match p.get("limit").map(str::parse::<usize>) {
        None => 100,
        Some(Ok(n)) => n,
        Some(Err(_)) => return bad("invalid limit"),
    };
    let forward = p.get("direction") == Some("forward");
    let store = app.read();
    let all = streams(&store);
    let selected: Vec<&(BTreeMap<String, String>, usize)> =
        all.iter().filter(|(l, _)| lq.selector.matches(l)).collect();
    let total_lines: usize = selected.iter().map(|(_, i)| store.logs[*i].text.lines().count()).sum();
    let end_ns = store.captured_at.map_or(0, |t| t.as_nanosecond());
    let mut entries = Vec::new();
    let mut seq = 0i128;
    for (si, (_, i)) in selected.iter().enumerate() {
        for line in store.logs[*i].text.lines() {
            seq += 1;
            let synthetic = end_ns - (total_lines as i128 - seq) * 1_000_000;
            if lq.filters.iter().all(|f| f.keeps(line)) {
                entries.push(Entry { ts: leading_timestamp(line).unwrap_or(synthetic), stream: si, line });
            }
        }
    }
    entries.sort_by_key(|e| if forward { e.ts } else { -e.ts });
    entries.truncate(limit);
    let mut grouped: BTreeMap<usize, Vec<Value>> = BTreeMap::new();
    for e in &entries {
        grouped.entry(e.stream).or_default().push(json!([e.ts.to_string(), e.line]));
    }
    let result: Vec<Value> =
        grouped.into_iter().map(|(si, values)| json!({"stream": selected[si].0, "values": values})).collect();
    let bytes: usize = entries.iter().map(|e| e.line.len()).sum();
    Json(json!({"status": "success", "data": {"resultType": "streams", "result": result, "stats": {"summary": {
        "totalBytesProcessed": bytes, "totalLinesProcessed": total_lines, "totalEntriesReturned": entries.len(),
        "execTime": 0.0, "queueTime": 0.0, "subqueries": 0, "bytesProcessedPerSecond": 0, "linesProcessedPerSecond": 0}}}}))
    .into_response()
}

fn bad(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, message.to_string()).into_response()
}

/// `/loki/api/v1/query_range`.
pub async fn query_range(State(app): State<App>, uri: Uri) -> Response {
    answer(&app, &uri)
}

/// `/loki/api/v1/query` (log queries only).
pub async fn query(State(app): State<App>, uri: Uri) -> Response {
    answer(&app, &uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_queries_parse() {
        let q = parse(r#"{namespace="shop", pod=~"checkout-.*"} |= "error" != "debug" | logfmt |~ `pan.c`"#).unwrap();
        assert_eq!(q.selector.matchers.len(), 2);
        assert_eq!(q.filters.len(), 3);
        assert!(q.filters.iter().all(|f| f.keeps("panic error here")));
        assert!(!q.filters[1].keeps("debug error"));
        assert!(parse("rate({a=\"b\"}[5m])").is_err());
        assert!(parse("{a=\"b\"} junk").is_err());
    }
}
