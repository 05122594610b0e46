//! Log intelligence: each line is classified into the original's categories (specific
//! categories first, so `OutOfMemoryError` is `oom` and not `error`; no bare `err`), stack
//! traces are recognised (Java, Python, Go, Node.js), and one evidence item is emitted per
//! container and category with a count and a sample line.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use aiops_core::model::{EvidenceKind, EvidenceSource, ResourceRef};
use regex::{Regex, RegexSet};
use serde_json::json;

use crate::extract::{Ctx, Signals, evidence};

/// Log categories, most specific first; the first match wins.
pub const CATEGORIES: &[(&str, &str)] = &[
    (
        "oom",
        r"(?i)OOMKilled|out of memory|OutOfMemoryError|MemoryError|runtime: out of memory|cannot allocate memory|JavaScript heap out of memory",
    ),
    (
        "exec",
        r"(?i)exec format error|executable file not found|exec: .*: (no such file|permission denied)|exec .*: no such file or directory",
    ),
    (
        "dns",
        r"(?i)no such host|NXDOMAIN|Name or service not known|Temporary failure in name resolution|could not resolve host|getaddrinfo ENOTFOUND|NameResolutionError|server misbehaving",
    ),
    (
        "tls",
        r"(?i)x509:|certificate (has expired|is not valid|signed by unknown authority)|tls: |SSL|handshake failure",
    ),
    (
        "network",
        r"(?i)connection refused|connection reset|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|i/o timeout|timed out|timeout|deadline exceeded|no route to host|network is unreachable|broken pipe",
    ),
    ("connection", r"(?i)cannot connect|unable to connect|connection failed|could not connect"),
    (
        "database",
        r#"(?i)\bpq: |SQLSTATE|ORA-\d{5}|ERROR \d{4} \(\w+\)|relation "?[\w.]+"? does not exist|too many connections|deadlock detected|duplicate key value|password authentication failed|database "?[\w-]+"? does not exist|Communications link failure|OperationalError|PSQLException|SQLException"#,
    ),
    (
        "config",
        r#"(?i)(environment variable|env var)\S* ["'`]?[\w.-]+["'`]? (is )?(not set|missing|required|undefined|empty)|missing (required )?(environment variable|env var|config(uration)? (key|value|option|setting)|setting)|required (config|configuration|setting|key) .*(missing|not (set|found))|config(uration)? key .* not found|KeyError: '[A-Z][A-Z0-9]*_[A-Z0-9_]+'|unknown (flag|option|field)|failed to (parse|load|read) (the )?config"#,
    ),
    ("auth", r"(?i)permission denied|access denied|unauthorized|forbidden"),
    ("disk", r"(?i)disk full|no space left|storage.*full"),
    ("missing", r"(?i)no such file|not found|missing|does not exist"),
    ("null_pointer", r"(?i)null pointer|nil pointer|NullPointerException|segfault|segmentation fault|SIGSEGV"),
    ("critical", r"(?i)\bpanic\b|\bfatal\b|\bcritical\b"),
    ("error", r"(?i)\berror\b|\berr\b[:=]|\bexception\b|\bfail(ed|ure)?\b"),
];

/// Stack-trace line patterns: `(language, regex)`.
pub const STACK_TRACES: &[(&str, &str)] = &[
    ("java", r"^\s*at\s+[\w.$]+\([\w.]+:\d+\)"),
    ("python", r#"File "[^"]+", line \d+"#),
    ("go", r"goroutine \d+ \[.+\]:"),
    ("nodejs", r"^\s+at\s+.+\s+\(.+:\d+:\d+\)"),
];

/// `host:port` targets in a network error line (`dial tcp 10.0.0.7:5432`, `postgres.db.svc:5432`).
static TARGET_RE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:tcp|udp|connect(?:ing)? to|dial|host|server|address|at|to)\s+\[?([a-z0-9][a-z0-9.-]*[a-z0-9])\]?:(\d{2,5})\b").ok()
});

/// Cluster DNS names and IPs with an optional port anywhere in a line (`redis.cache.svc:6379`,
/// `http://api.shop.svc.cluster.local/v1`, `10.96.3.4:80`).
static CLUSTER_HOST_RE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"(?i)\b((?:\d{1,3}\.){3}\d{1,3}|[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*\.svc(?:\.cluster\.local)?)(?::(\d{2,5}))?\b").ok()
});

/// `lookup NAME` in DNS errors.
static LOOKUP_RE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:lookup|resolve|resolving|getaddrinfo \w+)\s+([a-z0-9][a-z0-9.-]*[a-z0-9])").ok()
});

/// The network targets a line names (`host:port`, or `host` for DNS lookups).
pub fn targets(line: &str) -> Vec<String> {
    let mut out: Vec<String> = TARGET_RE
        .as_ref()
        .map(|re| re.captures_iter(line).map(|c| format!("{}:{}", &c[1], &c[2])).collect())
        .unwrap_or_default();
    if let Some(re) = LOOKUP_RE.as_ref() {
        out.extend(re.captures_iter(line).map(|c| c[1].to_string()));
    }
    if let Some(re) = CLUSTER_HOST_RE.as_ref() {
        for c in re.captures_iter(line) {
            // `lookup X on 10.96.0.10:53`: the resolver, not a dependency.
            if c.get(0).is_some_and(|m| line[..m.start()].ends_with(" on ")) {
                continue;
            }
            let t = match c.get(2) {
                Some(p) => format!("{}:{}", &c[1], p.as_str()),
                None => c[1].to_string(),
            };
            let host_known = out.iter().any(|o| o == &t || o.split(':').next() == Some(&c[1]));
            if !host_known {
                out.push(t);
            }
        }
    }
    out
}

static CATEGORY_SET: LazyLock<Option<RegexSet>> = LazyLock::new(|| RegexSet::new(CATEGORIES.iter().map(|c| c.1)).ok());
static TRACE_RES: LazyLock<Vec<(&'static str, Regex)>> =
    LazyLock::new(|| STACK_TRACES.iter().filter_map(|(l, p)| Regex::new(p).ok().map(|r| (*l, r))).collect());

/// The category of one line, if any.
pub fn classify(line: &str) -> Option<&'static str> {
    let set = CATEGORY_SET.as_ref()?;
    set.matches(line).iter().next().map(|i| CATEGORIES[i].0)
}

/// The language of a stack-trace line, if it is one.
pub fn stack_trace_language(line: &str) -> Option<&'static str> {
    TRACE_RES.iter().find(|(_, re)| re.is_match(line)).map(|(l, _)| *l)
}

/// Repeated lines of one category grouped by their shape (numbers, hex, ids and addresses
/// replaced), so evidence stays small however long the log is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Template {
    /// The line with its variable parts replaced (`<n>`, `<hex>`, `<ip>`, `<id>`).
    pub template: String,
    /// How many lines have this shape.
    pub count: usize,
    /// The timestamp of the first such line, when the line has one.
    pub first_seen: Option<String>,
    /// The timestamp of the last such line, when the line has one.
    pub last_seen: Option<String>,
    /// The first line itself (timestamp removed, at most 300 characters).
    pub sample: String,
}

/// One stack trace: language, exception (or panic) and the innermost application frame.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StackTrace {
    /// `java`, `python`, `go` or `nodejs`.
    pub language: &'static str,
    /// The exception type (`java.lang.NullPointerException`, `KeyError`, `panic`, `TypeError`).
    pub exception: String,
    /// The exception's message.
    pub message: String,
    /// The frame that raised it, when the trace names one.
    pub frame: Option<String>,
}

/// What one container's log says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogSummary {
    /// Lines per category, with the first sample line.
    pub categories: BTreeMap<&'static str, (usize, String)>,
    /// Stack-trace languages seen.
    pub stack_traces: BTreeMap<&'static str, usize>,
    /// Total lines.
    pub lines: usize,
    /// Hosts (and ports) that network, connection and DNS errors name.
    pub targets: std::collections::BTreeSet<String>,
    /// Line templates per category, most frequent first.
    pub templates: BTreeMap<&'static str, Vec<Template>>,
    /// Stack traces found, in order.
    pub traces: Vec<StackTrace>,
}

static TIMESTAMP_RE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"^\[?(\d{4}[-/]\d\d[-/]\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d| UTC)?)\]?\s*").ok()
});
static VARIABLE_RES: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    [
        (r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", "<id>"),
        (r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b", "<ip>"),
        (r"\b0x[0-9a-fA-F]+\b", "<hex>"),
        (r"\b[0-9a-f]{12,}\b", "<hex>"),
        (r"\d+(?:\.\d+)?", "<n>"),
    ]
    .into_iter()
    .filter_map(|(p, r)| Regex::new(p).ok().map(|re| (re, r)))
    .collect()
});

/// A line without its leading timestamp, and that timestamp.
pub fn split_timestamp(line: &str) -> (Option<String>, &str) {
    match TIMESTAMP_RE.as_ref().and_then(|re| re.captures(line)) {
        Some(c) => (c.get(1).map(|m| m.as_str().to_string()), &line[c.get(0).map_or(0, |m| m.end())..]),
        None => (None, line),
    }
}

/// The shape of a line: variable parts replaced.
pub fn template_of(line: &str) -> String {
    let mut t = line.trim().to_string();
    for (re, with) in VARIABLE_RES.iter() {
        t = re.replace_all(&t, *with).into_owned();
    }
    aiops_core::alert::truncate_chars(&t, 200)
}

static JAVA_EXC: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"^(?:Exception in thread .*? |Caused by: )?((?:[a-z_]\w*\.)+[A-Z]\w*(?:Exception|Error))(?::\s*(.*))?$")
        .ok()
});
static JAVA_FRAME: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"^\s*at\s+([\w.$<>]+\([\w.]+:\d+\))").ok());
static PY_FRAME: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r#"^\s*File "([^"]+)", line (\d+), in (\S+)"#).ok());
static PY_EXC: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning|Fault))(?::\s*(.*))?$").ok()
});
static GO_PANIC: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"^(panic|fatal error): (.*)$").ok());
static NODE_EXC: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^(?:Uncaught )?([A-Z]\w*(?:Error|Exception)): (.*)$").ok());
static NODE_FRAME: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^\s+at (?:(.+?) \()?([^()\s]+:\d+:\d+)\)?$").ok());

fn caps<'a>(re: &LazyLock<Option<Regex>>, line: &'a str) -> Option<regex::Captures<'a>> {
    re.as_ref().and_then(|r| r.captures(line))
}

/// Extracts Java, Python, Go and Node.js stack traces (exception, message, raising frame).
pub fn extract_traces(lines: &[&str]) -> Vec<StackTrace> {
    let mut out: Vec<StackTrace> = Vec::new();
    let g = |c: &regex::Captures<'_>, i: usize| c.get(i).map_or(String::new(), |m| m.as_str().trim().to_string());
    for (i, raw) in lines.iter().enumerate() {
        let line = split_timestamp(raw).1.trim_end();
        let next = |n: usize| lines.get(i + 1..(i + 1 + n).min(lines.len())).unwrap_or_default();
        let trace = if let Some(c) = caps(&JAVA_EXC, line) {
            let frame = next(3).iter().find_map(|l| caps(&JAVA_FRAME, l).map(|f| g(&f, 1)));
            (frame.is_some() || line.starts_with("Exception in thread")).then(|| StackTrace {
                language: "java",
                exception: g(&c, 1),
                message: g(&c, 2),
                frame,
            })
        } else if line.trim() == "Traceback (most recent call last):" {
            let mut frame = None;
            let mut exc = None;
            for l in next(60) {
                if let Some(f) = caps(&PY_FRAME, l) {
                    frame = Some(format!("{} ({}:{})", g(&f, 3), g(&f, 1), g(&f, 2)));
                } else if !l.starts_with(char::is_whitespace) {
                    exc = caps(&PY_EXC, l.trim_end()).map(|c| (g(&c, 1), g(&c, 2)));
                    break;
                }
            }
            exc.map(|(exception, message)| StackTrace { language: "python", exception, message, frame })
        } else if let Some(c) = caps(&GO_PANIC, line) {
            let rest = next(40);
            let frame = rest.iter().position(|l| l.starts_with("goroutine ")).and_then(|p| {
                let f = rest.get(p + 1)?;
                let file = rest.get(p + 2).map(|l| l.trim().split(' ').next().unwrap_or_default().to_string());
                let f = if f.starts_with("panic(") { rest.get(p + 3)? } else { f };
                Some(format!("{} ({})", f.trim(), file.unwrap_or_default()))
            });
            Some(StackTrace { language: "go", exception: g(&c, 1), message: g(&c, 2), frame })
        } else if let Some(c) = caps(&NODE_EXC, line) {
            let frame = next(3).iter().find_map(|l| caps(&NODE_FRAME, l).map(|f| g(&f, 2)));
            frame.map(|frame| StackTrace {
                language: "nodejs",
                exception: g(&c, 1),
                message: g(&c, 2),
                frame: Some(frame),
            })
        } else {
            None
        };
        if let Some(t) = trace.filter(|t| !out.contains(t)) {
            out.push(t);
        }
    }
    out
}

/// Summarises a log text.
pub fn summarize(text: &str) -> LogSummary {
    let mut s = LogSummary::default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut index: BTreeMap<(&'static str, String), usize> = BTreeMap::new();
    for line in &lines {
        s.lines += 1;
        if let Some(lang) = stack_trace_language(line) {
            *s.stack_traces.entry(lang).or_default() += 1;
            continue;
        }
        let Some(cat) = classify(line) else { continue };
        if matches!(cat, "network" | "connection" | "dns" | "tls") {
            s.targets.extend(targets(line));
        }
        let e = s.categories.entry(cat).or_insert((0, aiops_core::alert::truncate_chars(line.trim(), 300)));
        e.0 += 1;
        let (ts, body) = split_timestamp(line);
        let key = (cat, template_of(body));
        let list = s.templates.entry(cat).or_default();
        match index.get(&key) {
            Some(&i) => {
                let t = &mut list[i];
                t.count += 1;
                if ts.is_some() {
                    t.last_seen = ts;
                }
            }
            None => {
                index.insert(key.clone(), list.len());
                list.push(Template {
                    template: key.1,
                    count: 1,
                    first_seen: ts.clone(),
                    last_seen: ts,
                    sample: aiops_core::alert::truncate_chars(body.trim(), 300),
                });
            }
        }
    }
    for list in s.templates.values_mut() {
        list.sort_by_key(|t| std::cmp::Reverse(t.count));
    }
    s.traces = extract_traces(&lines);
    s
}

/// Most templates kept per category in an evidence item.
pub const MAX_TEMPLATES: usize = 5;

pub(crate) fn log_signals(ctx: &Ctx<'_>, out: &mut Signals) {
    for rec in ctx.a.logs {
        let r = ResourceRef::namespaced("Pod", &rec.namespace, &rec.pod);
        let s = summarize(&rec.text);
        let traces: Vec<&str> = s.stack_traces.keys().copied().collect();
        for (cat, (count, sample)) in &s.categories {
            let strength = match *cat {
                "oom" | "critical" => 0.95,
                _ if *count > 10 => 0.9,
                _ if *count > 5 => 0.8,
                _ => 0.6,
            };
            let which = if rec.previous { "previous " } else { "" };
            let summary = format!("{count} {cat} line(s) in {which}logs of {}/{}: {sample}", rec.pod, rec.container);
            let templates: Vec<&Template> = s.templates.get(cat).into_iter().flatten().take(MAX_TEMPLATES).collect();
            let data = json!({"reason": cat, "count": count, "container": format!("{}{}", rec.container, if rec.previous { "#previous" } else { "" }),
                "message": sample, "previous": rec.previous, "stack_traces": traces, "lines": s.lines,
                "templates": templates, "traces": s.traces,
                "targets": if matches!(*cat, "network" | "connection" | "dns" | "tls") { s.targets.iter().collect::<Vec<_>>() } else { Vec::new() }});
            let mut ev = evidence(EvidenceKind::LogSignal, r.clone(), summary, strength, data);
            ev.source = EvidenceSource::Logs;
            out.push_evidence(ctx, ev, &r);
        }
        if let Some(first) = s.traces.first() {
            let which = if rec.previous { "previous " } else { "" };
            let at = first.frame.as_deref().map(|f| format!(" at {f}")).unwrap_or_default();
            let sample = format!("{}: {}{at}", first.exception, first.message);
            let summary = format!(
                "{} {} stack trace(s) in {which}logs of {}/{}: {sample}",
                s.traces.len(),
                first.language,
                rec.pod,
                rec.container
            );
            let data = json!({"reason": "exception", "count": s.traces.len(), "container": rec.container, "previous": rec.previous,
                "message": aiops_core::alert::truncate_chars(&sample, 300), "traces": s.traces, "lines": s.lines});
            let mut ev = evidence(EvidenceKind::LogSignal, r.clone(), summary, 0.85, data);
            ev.source = EvidenceSource::Logs;
            out.push_evidence(ctx, ev, &r);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specific_categories_win_over_error() {
        assert_eq!(classify("java.lang.OutOfMemoryError: Java heap space"), Some("oom"));
        assert_eq!(classify("ERROR: dial tcp 10.0.0.1:5432: connect: connection refused"), Some("network"));
        assert_eq!(
            classify("panic: runtime error: invalid memory address or nil pointer dereference"),
            Some("null_pointer")
        );
        assert_eq!(classify("panic: invalid config"), Some("critical"));
        assert_eq!(classify("lookup db.shop.svc: no such host"), Some("dns"));
        assert_eq!(classify("interrupted by terraform on stderr"), None);
        assert_eq!(classify("request failed"), Some("error"));
        assert_eq!(classify("all good"), None);
    }

    #[test]
    fn network_targets_are_extracted() {
        assert_eq!(targets("dial tcp 10.96.12.7:5432: connect: connection refused"), ["10.96.12.7:5432"]);
        assert_eq!(
            targets("could not connect to server: Connection refused to postgres.shop.svc.cluster.local:5432"),
            ["postgres.shop.svc.cluster.local:5432"]
        );
        assert_eq!(
            targets("lookup redis.cache.svc.cluster.local on 10.96.0.10:53: no such host"),
            ["redis.cache.svc.cluster.local"]
        );
        assert!(targets("all good").is_empty());
        assert_eq!(
            targets("upstream inventory.shop.svc.cluster.local:80 request failed: context deadline exceeded"),
            ["inventory.shop.svc.cluster.local:80"]
        );
        assert_eq!(targets(r#"Get "http://ratings.shop.svc/v1": EOF"#), ["ratings.shop.svc"]);
    }

    #[test]
    fn error_signatures_name_their_cause() {
        assert_eq!(classify("exec /usr/local/bin/app: exec format error"), Some("exec"));
        assert_eq!(classify("FATAL: environment variable DATABASE_URL is not set"), Some("config"));
        assert_eq!(classify("KeyError: 'ORDERS_DB_RETRIES'"), Some("config"));
        assert_eq!(classify(r#"pq: relation "carts_v1" does not exist"#), Some("database"));
        assert_eq!(classify("FATAL:  sorry, too many connections for role \"app\""), Some("database"));
        assert_eq!(
            classify("FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory"),
            Some("oom")
        );
        assert_eq!(classify("x509: certificate signed by unknown authority"), Some("tls"));
        assert_eq!(classify("dial tcp: lookup db on 10.96.0.10:53: server misbehaving"), Some("dns"));
        assert_eq!(classify("KeyError: 'HRK'"), None);
    }

    #[test]
    fn repeated_lines_become_templates_with_counts_and_times() {
        let log = "2026-04-02T14:20:01.000Z ERROR dial tcp 10.96.1.2:5432: connect: connection refused (attempt 1)\n\
                   2026-04-02T14:21:01.000Z ERROR dial tcp 10.96.1.2:5432: connect: connection refused (attempt 2)\n\
                   2026-04-02T14:22:01.000Z ERROR dial tcp 10.96.1.2:5432: connect: connection refused (attempt 3)\n\
                   2026-04-02T14:22:30.000Z ERROR request 8f2c9a1b-0000-4000-8000-000000000001 failed\n";
        let s = summarize(log);
        let net = &s.templates["network"];
        assert_eq!(net.len(), 1);
        assert_eq!(net[0].count, 3);
        assert_eq!(net[0].template, "ERROR dial tcp <ip>: connect: connection refused (attempt <n>)");
        assert_eq!(net[0].first_seen.as_deref(), Some("2026-04-02T14:20:01.000Z"));
        assert_eq!(net[0].last_seen.as_deref(), Some("2026-04-02T14:22:01.000Z"));
        assert_eq!(s.templates["error"][0].template, "ERROR request <id> failed");
    }

    #[test]
    fn stack_traces_name_exception_and_frame() {
        let java = [
            "Exception in thread \"main\" java.lang.IllegalStateException: no model",
            "\tat com.acme.Ranker.rank(Ranker.java:57)",
        ];
        let t = extract_traces(&java);
        assert_eq!((t[0].language, t[0].exception.as_str()), ("java", "java.lang.IllegalStateException"));
        assert_eq!(t[0].frame.as_deref(), Some("com.acme.Ranker.rank(Ranker.java:57)"));
        let py = [
            "Traceback (most recent call last):",
            "  File \"/srv/app/worker.py\", line 203, in run",
            "    rate = self.rates[currency]",
            "KeyError: 'HRK'",
        ];
        let t = extract_traces(&py);
        assert_eq!((t[0].exception.as_str(), t[0].message.as_str()), ("KeyError", "'HRK'"));
        assert_eq!(t[0].frame.as_deref(), Some("run (/srv/app/worker.py:203)"));
        let go = [
            "panic: runtime error: index out of range [3] with length 3",
            "",
            "goroutine 1 [running]:",
            "main.load(...)",
            "\t/src/promo.go:88 +0x1d4",
        ];
        let t = extract_traces(&go.iter().copied().filter(|l| !l.is_empty()).collect::<Vec<_>>());
        assert_eq!((t[0].language, t[0].exception.as_str()), ("go", "panic"));
        assert_eq!(t[0].frame.as_deref(), Some("main.load(...) (/src/promo.go:88)"));
        let node = [
            "TypeError: Cannot read properties of undefined (reading 'length')",
            "    at Consumer.drain (/app/dist/queue.js:112:31)",
        ];
        let t = extract_traces(&node);
        assert_eq!((t[0].language, t[0].exception.as_str()), ("nodejs", "TypeError"));
        assert_eq!(t[0].frame.as_deref(), Some("/app/dist/queue.js:112:31"));
        assert!(extract_traces(&["all good", "at noon"]).is_empty());
    }

    #[test]
    fn stack_traces_are_recognised() {
        assert_eq!(stack_trace_language("\tat com.shop.Cart.add(Cart.java:42)"), Some("java"));
        assert_eq!(stack_trace_language("  File \"/app/main.py\", line 7, in <module>"), Some("python"));
        assert_eq!(stack_trace_language("goroutine 1 [running]:"), Some("go"));
        assert_eq!(stack_trace_language("    at Server.listen (/app/server.js:10:5)"), Some("nodejs"));
        let s = summarize("goroutine 1 [running]:\nerror: boom\nerror: boom again\n");
        assert_eq!(s.categories["error"].0, 2);
        assert_eq!(s.stack_traces["go"], 1);
        assert_eq!(s.lines, 3);
    }
}
