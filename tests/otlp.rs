//! OTLP trace export (feature `otlp`): `aiops analyze` as a subprocess sends the spans of its
//! pipeline steps to a local OTLP/HTTP collector (`POST /v1/traces`, protobuf
//! `ExportTraceServiceRequest`, decoded here by hand), flushed before the process exits; with no
//! endpoint configured there is no exporter and no connection.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One HTTP request the collector received.
#[derive(Debug, Clone)]
struct Request {
    method: String,
    target: String,
    content_type: String,
    body: Vec<u8>,
}

/// A minimal OTLP/HTTP collector: records every request, answers 200 with an empty
/// `ExportTraceServiceResponse` (zero protobuf bytes). Counts the connections it accepted.
struct Collector {
    port: u16,
    requests: Arc<Mutex<Vec<Request>>>,
    connections: Arc<AtomicUsize>,
}

impl Collector {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let (reqs, conns) = (requests.clone(), connections.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                conns.fetch_add(1, Ordering::SeqCst);
                let reqs = reqs.clone();
                std::thread::spawn(move || serve_connection(stream, &reqs));
            }
        });
        Collector { port, requests, connections }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

fn serve_connection(stream: TcpStream, requests: &Mutex<Vec<Request>>) {
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, target) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let len: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let content_type = headers.get("content-type").cloned().unwrap_or_default();
        requests.lock().unwrap().push(Request { method, target, content_type, body });
        let answer = "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n";
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

// --- protobuf wire format, just enough for ExportTraceServiceRequest ---

enum Field<'a> {
    Varint,
    Bytes(&'a [u8]),
}

fn varint(b: &mut &[u8]) -> u64 {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (byte, rest) = b.split_first().expect("truncated varint");
        *b = rest;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return v;
        }
    }
    panic!("varint too long")
}

fn fields(mut b: &[u8]) -> Vec<(u64, Field<'_>)> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let key = varint(&mut b);
        let field = match key & 7 {
            0 => {
                varint(&mut b);
                Field::Varint
            }
            1 => {
                b = &b[8..];
                Field::Varint
            }
            2 => {
                let len = usize::try_from(varint(&mut b)).unwrap();
                let (v, rest) = b.split_at(len);
                b = rest;
                Field::Bytes(v)
            }
            5 => {
                b = &b[4..];
                Field::Varint
            }
            t => panic!("unexpected wire type {t}"),
        };
        out.push((key >> 3, field));
    }
    out
}

fn sub(b: &[u8], number: u64) -> Vec<&[u8]> {
    fields(b)
        .into_iter()
        .filter_map(|(n, f)| match f {
            Field::Bytes(v) if n == number => Some(v),
            _ => None,
        })
        .collect()
}

fn string(b: &[u8], number: u64) -> String {
    sub(b, number).first().map(|v| String::from_utf8(v.to_vec()).unwrap()).unwrap_or_default()
}

/// A span as exported: its resource's `service.name`, ids and name.
#[derive(Debug, Clone)]
struct Span {
    service: String,
    trace_id: Vec<u8>,
    span_id: Vec<u8>,
    parent_span_id: Vec<u8>,
    name: String,
}

/// Decodes an `ExportTraceServiceRequest`: resource_spans(1) { resource(1) { attributes(1) },
/// scope_spans(2) { spans(2) { trace_id(1), span_id(2), parent_span_id(4), name(5) } } }.
fn decode(body: &[u8]) -> Vec<Span> {
    let mut spans = Vec::new();
    for rs in sub(body, 1) {
        let mut service = String::new();
        for resource in sub(rs, 1) {
            for kv in sub(resource, 1) {
                if string(kv, 1) == "service.name" {
                    service = sub(kv, 2).first().map(|v| string(v, 1)).unwrap_or_default();
                }
            }
        }
        for ss in sub(rs, 2) {
            for span in sub(ss, 2) {
                let id = |n| sub(span, n).first().map(|v| v.to_vec()).unwrap_or_default();
                spans.push(Span {
                    service: service.clone(),
                    trace_id: id(1),
                    span_id: id(2),
                    parent_span_id: id(4),
                    name: string(span, 5),
                });
            }
        }
    }
    spans
}

/// `aiops analyze` on the oom-killed bundle with the OTel variables cleared, then `envs`.
fn analyze(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aiops"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["analyze", "--bundle", "examples/bundles/oom-killed.json", "--format", "json"])
        .args(args);
    for var in [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_SERVICE_NAME",
        "OTEL_RESOURCE_ATTRIBUTES",
        "OTEL_SDK_DISABLED",
        "OTEL_TRACES_EXPORTER",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "AIOPS_LOG",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("NO_PROXY", "127.0.0.1,localhost").env("no_proxy", "127.0.0.1,localhost");
    cmd.envs(envs.iter().copied());
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "aiops failed: {}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["hypotheses"][0]["cause"], "oom_killed", "{report}");
    out
}

fn spans(collector: &Collector) -> Vec<Span> {
    let requests = collector.requests();
    assert!(!requests.is_empty(), "the collector received no request");
    for r in &requests {
        assert_eq!((r.method.as_str(), r.target.as_str()), ("POST", "/v1/traces"));
        assert_eq!(r.content_type, "application/x-protobuf");
    }
    requests.iter().flat_map(|r| decode(&r.body)).collect()
}

fn find<'a>(spans: &'a [Span], name: &str) -> &'a Span {
    spans.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no span {name:?} in {spans:#?}"))
}

#[test]
fn the_pipeline_steps_spans_reach_the_collector_named_aiops() {
    let collector = Collector::start();
    analyze(&[], &[("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.url())]);
    // The process has exited: everything it exported was flushed at its end (the batch
    // processor's 5 s schedule never came).
    let spans = spans(&collector);
    let analyze = find(&spans, "analyze");
    for step in ["collect", "collector", "diagnose", "runbook", "policy"] {
        let s = find(&spans, step);
        assert_eq!(s.trace_id, analyze.trace_id, "{step} is in the analysis' trace");
        assert_eq!(s.service, "aiops", "{s:?}");
    }
    assert_eq!(analyze.service, "aiops");
    assert_eq!(analyze.trace_id.len(), 16);
    assert_eq!(find(&spans, "collect").parent_span_id, analyze.span_id, "collect is a child of analyze");
    assert_eq!(find(&spans, "collector").parent_span_id, find(&spans, "collect").span_id);
    assert_eq!(find(&spans, "policy").parent_span_id, analyze.span_id);
}

#[test]
fn the_flag_overrides_the_environment_and_otel_service_name_is_used() {
    let collector = Collector::start();
    // Nothing listens on the environment's endpoint: the flag's must be used.
    let dead = TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let flag = format!("{}/", collector.url());
    analyze(
        &["--otlp-endpoint", &flag],
        &[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &dead_url), ("OTEL_SERVICE_NAME", "aiops-test")],
    );
    let spans = spans(&collector);
    assert!(spans.iter().any(|s| s.name == "diagnose"), "{spans:#?}");
    assert!(spans.iter().all(|s| s.service == "aiops-test"), "{spans:#?}");
}

#[test]
fn without_an_endpoint_there_is_no_exporter_and_no_connection() {
    // The collector doubles as every HTTP proxy: an exporter on its default endpoint
    // (localhost:4318) would reach it through HTTP_PROXY. Control: with an endpoint on
    // localhost, the request arrives at the proxy.
    let proxy = Collector::start();
    let proxy_env = [
        ("HTTP_PROXY", proxy.url()),
        ("http_proxy", proxy.url()),
        ("ALL_PROXY", proxy.url()),
        ("NO_PROXY", String::new()),
    ];
    let mut envs: Vec<(&str, &str)> = proxy_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    envs.push(("no_proxy", ""));
    envs.push(("AIOPS_LOG", "aiops=debug"));

    let out = analyze(&[], &envs);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("OTLP"), "{stderr}");
    assert_eq!(proxy.connections.load(Ordering::SeqCst), 0, "{:?}", proxy.requests());

    envs.push(("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318"));
    let out = analyze(&[], &envs);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("exporting spans over OTLP/HTTP"), "{stderr}");
    let requests = proxy.requests();
    assert!(
        requests.iter().any(|r| r.target == "http://localhost:4318/v1/traces"),
        "the control export did not go through the proxy: {requests:?}"
    );
}

/// One HTTP/1.1 request over a fresh connection; the status code.
fn http(addr: &str, method: &str, path: &str, body: &str) -> std::io::Result<u16> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes())?;
    let mut answer = String::new();
    s.read_to_string(&mut answer)?;
    Ok(answer.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0))
}

#[test]
fn serve_flushes_its_spans_on_graceful_shutdown() {
    let collector = Collector::start();
    let addr = "127.0.0.1:18431";
    let mut child = Command::new(env!("CARGO_BIN_EXE_aiops"))
        .args(["serve", "--listen", addr, "--store", "memory", "--otlp-endpoint", &collector.url()])
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env("AIOPS_LOG", "warn")
        .env_remove("OTEL_SERVICE_NAME")
        .env_remove("OTEL_SDK_DISABLED")
        .env_remove("OTEL_TRACES_EXPORTER")
        .env_remove("AIOPS_API_TOKEN")
        .env_remove("AIOPS_WEBHOOK_TOKEN")
        .env_remove("AIOPS_STORE")
        .env_remove("AIOPS_LISTEN")
        .env_remove("AIOPS_CONFIG")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let up = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        http(addr, "GET", "/health", "").is_ok_and(|c| c == 200)
    });
    if !up {
        let _ = child.kill();
        panic!("aiops serve did not come up on {addr}");
    }
    // A malformed Alertmanager webhook: rejected, but its `webhook` span exists all the same.
    let code = http(addr, "POST", "/api/v1/webhooks/alertmanager", "{}").unwrap();
    assert!((400..500).contains(&code), "{code}");
    let started = std::time::Instant::now();
    let term = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(term.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    // Well before the batch processor's 5 s schedule: the spans came with the shutdown.
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    let spans = spans(&collector);
    let webhook = find(&spans, "webhook");
    assert_eq!(webhook.service, "aiops");
}
