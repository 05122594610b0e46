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
    ("oom", r"(?i)OOMKilled|out of memory|OutOfMemoryError|MemoryError|runtime: out of memory|cannot allocate memory"),
    (
        "dns",
        r"(?i)no such host|NXDOMAIN|Name or service not known|Temporary failure in name resolution|could not resolve host|getaddrinfo ENOTFOUND",
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
}

/// Summarises a log text.
pub fn summarize(text: &str) -> LogSummary {
    let mut s = LogSummary::default();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        s.lines += 1;
        if let Some(lang) = stack_trace_language(line) {
            *s.stack_traces.entry(lang).or_default() += 1;
            continue;
        }
        if let Some(cat) = classify(line) {
            if matches!(cat, "network" | "connection" | "dns" | "tls") {
                s.targets.extend(targets(line));
            }
            let e = s.categories.entry(cat).or_insert((0, aiops_core::alert::truncate_chars(line.trim(), 300)));
            e.0 += 1;
        }
    }
    s
}

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
            let data = json!({"reason": cat, "count": count, "container": format!("{}{}", rec.container, if rec.previous { "#previous" } else { "" }),
                "message": sample, "previous": rec.previous, "stack_traces": traces, "lines": s.lines,
                "targets": if matches!(*cat, "network" | "connection" | "dns" | "tls") { s.targets.iter().collect::<Vec<_>>() } else { Vec::new() }});
            let mut ev = evidence(EvidenceKind::LogSignal, r.clone(), summary, strength, data);
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
