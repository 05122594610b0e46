//! Benchmark of `aiops serve` over loopback: a Rust load generator (reqwest, `CONCURRENCY`
//! connections, each waiting for its answer before the next request) posts alerts for
//! `AIOPS_BENCH_SECS` seconds per case and prints alerts/s and request latency p50/p99 per
//! store and body size, the idle RSS of the server process, and, in the same run, the same
//! bodies posted to a real Alertmanager's own `POST /api/v2/alerts` (when
//! `prometheus-alertmanager` is installed) for comparison.
//!
//! `cargo bench --bench serve`. Stores: `AIOPS_BENCH_STORES` (comma-separated `--store` specs,
//! default `memory,sqlite`; a store this binary cannot open is reported and skipped); add a
//! PostgreSQL URL to measure it. Ports 18330-18331. Loads (`AIOPS_BENCH_LOADS`, default
//! `new,repeat`): `new`, every alert new (a new incident, or attached to its request's group),
//! the costliest path; `repeat`, Alertmanager re-sending groups it already sent, deduplicated.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const AIOPS_PORT: u16 = 18330;
const AM_PORT: u16 = 18331;

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// What a case's body looks like.
#[derive(Clone, Copy, PartialEq)]
enum Wire {
    /// Alertmanager webhook v4, one group per request.
    Webhook,
    /// The `POST /api/v2/alerts` array (Prometheus' push, Alertmanager's API).
    V2,
}

fn body(wire: Wire, seq: u64, batch: usize) -> Vec<u8> {
    let now = jiff::Timestamp::now();
    let ends = (now + jiff::SignedDuration::from_secs(3600)).to_string();
    let alerts: Vec<Value> = (0..batch)
        .map(|i| {
            let labels = json!({"alertname": "KubePodCrashLooping", "namespace": format!("ns-{seq}"),
                "pod": format!("checkout-{seq}-{i}"), "container": "checkout", "severity": "critical",
                "cluster": "bench"});
            let ann = json!({"summary": "Pod is crash looping", "description": "Container checkout is waiting"});
            match wire {
                Wire::Webhook => json!({"status": "firing", "labels": labels, "annotations": ann,
                    "startsAt": now.to_string(), "endsAt": "0001-01-01T00:00:00Z", "fingerprint": format!("{seq:x}{i:x}")}),
                Wire::V2 => json!({"labels": labels, "annotations": ann, "startsAt": now.to_string(), "endsAt": ends}),
            }
        })
        .collect();
    let v = match wire {
        Wire::Webhook => json!({"version": "4", "status": "firing", "receiver": "aiops",
            "groupKey": format!("{{}}:{{namespace=\"ns-{seq}\"}}"), "groupLabels": {"namespace": format!("ns-{seq}")},
            "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am", "alerts": alerts}),
        Wire::V2 => Value::Array(alerts),
    };
    serde_json::to_vec(&v).unwrap_or_default()
}

struct Measure {
    alerts_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
}

/// What the alerts of a case are.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// Every alert new (a new incident, or attached to its request's group): the costliest path.
    New,
    /// Alertmanager re-sending groups it already sent (`group_interval` / `repeat_interval`):
    /// `REPEAT_BODIES` distinct bodies, sent once before the clock starts, then again and again.
    Repeat,
}

/// Distinct bodies a repeat case cycles through.
const REPEAT_BODIES: u64 = 2_000;

/// Sends every repeat body once (not timed), so the measured requests are all repeats.
async fn prime(url: &str, wire: Wire, batch: usize, base: u64) {
    let client = reqwest::Client::new();
    for k in 0..REPEAT_BODIES {
        let _ =
            client.post(url).header("content-type", "application/json").body(body(wire, base + k, batch)).send().await;
    }
}

/// Runs the load against `url` for `secs` seconds.
async fn load(url: &str, wire: Wire, kind: Kind, batch: usize, concurrency: usize, secs: u64) -> Measure {
    let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build().expect("client");
    let base = rand_base();
    if kind == Kind::Repeat {
        prime(url, wire, batch, base).await;
    }
    let seq = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, url, seq, errors) = (client.clone(), url.to_string(), seq.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while Instant::now() < until {
                let n = seq.fetch_add(1, Ordering::Relaxed);
                let b = body(wire, base + if kind == Kind::Repeat { n % REPEAT_BODIES } else { n }, batch);
                let t = Instant::now();
                match client.post(&url).header("content-type", "application/json").body(b).send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        lat.push(t.elapsed());
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap_or_default());
    }
    let elapsed = started.elapsed().as_secs_f64();
    lat.sort();
    let pct = |p: f64| lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)));
    let ms = |d: Option<&Duration>| d.map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0);
    Measure {
        alerts_per_s: (lat.len() * batch) as f64 / elapsed,
        p50_ms: ms(pct(0.50)),
        p99_ms: ms(pct(0.99)),
        errors: errors.load(Ordering::Relaxed),
    }
}

/// Distinct label values per run, so a second run against a persistent store creates too.
fn rand_base() -> u64 {
    (jiff::Timestamp::now().as_millisecond() as u64) << 20
}

fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()
}

async fn wait_ready(url: &str) -> bool {
    let c = reqwest::Client::new();
    for _ in 0..200 {
        if c.get(url).send().await.is_ok_and(|r| r.status().is_success()) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

fn start_aiops(store: &str, dir: &std::path::Path) -> Option<Proc> {
    let log = std::fs::File::create(dir.join("aiops.log")).ok()?;
    let child = Command::new(env!("CARGO_BIN_EXE_aiops"))
        .args(["serve", "--listen", &format!("127.0.0.1:{AIOPS_PORT}"), "--store", store])
        .env("AIOPS_LOG", "warn")
        .env_remove("AIOPS_API_TOKEN")
        .env_remove("AIOPS_WEBHOOK_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .ok()?;
    Some(Proc(child))
}

fn start_alertmanager(dir: &std::path::Path) -> Option<Proc> {
    let cfg = dir.join("alertmanager.yml");
    std::fs::write(&cfg, "route:\n  receiver: none\nreceivers:\n- name: none\n").ok()?;
    let child = Command::new("prometheus-alertmanager")
        .args([
            &format!("--config.file={}", cfg.display()),
            &format!("--storage.path={}", dir.join("am-data").display()),
            &format!("--web.listen-address=127.0.0.1:{AM_PORT}"),
            "--cluster.listen-address=",
            "--log.level=warn",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    Some(Proc(child))
}

fn row(target: &str, wire: &str, kind: Kind, batch: usize, m: &Measure) {
    let kind = if kind == Kind::New { "new" } else { "repeat" };
    println!(
        "| {target} | {wire} | {kind} | {batch} | {:.0} | {:.2} | {:.2} | {} |",
        m.alerts_per_s, m.p50_ms, m.p99_ms, m.errors
    );
}

/// The loads of `AIOPS_BENCH_LOADS` (`new,repeat` by default).
fn kinds() -> Vec<Kind> {
    let v = std::env::var("AIOPS_BENCH_LOADS").unwrap_or_else(|_| "new,repeat".into());
    v.split(',')
        .filter_map(|k| match k.trim() {
            "new" => Some(Kind::New),
            "repeat" => Some(Kind::Repeat),
            _ => None,
        })
        .collect()
}

async fn bench_store(store: &str, dir: &std::path::Path, secs: u64, conc: usize) {
    let spec = if store == "sqlite" { format!("sqlite:{}", dir.join("bench.db").display()) } else { store.into() };
    let label = aiops_server::config::redact_url(&spec);
    let Some(p) = start_aiops(&spec, dir) else {
        println!("| aiops ({label}) | cannot start | | | | | | |");
        return;
    };
    let base = format!("http://127.0.0.1:{AIOPS_PORT}");
    if !wait_ready(&format!("{base}/health/ready")).await {
        let why = std::fs::read_to_string(dir.join("aiops.log")).unwrap_or_default();
        println!("| aiops ({label}) | not available: {} | | | | | | |", why.trim().replace('\n', " "));
        return;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = rss_kib(p.0.id());
    let hook = format!("{base}/api/v1/webhooks/alertmanager");
    let v2 = format!("{base}/api/v2/alerts");
    let target = format!("aiops ({label})");
    for kind in kinds() {
        for batch in [1, 10, 100] {
            row(&target, "webhook", kind, batch, &load(&hook, Wire::Webhook, kind, batch, conc, secs).await);
        }
        row(&target, "/api/v2/alerts", kind, 10, &load(&v2, Wire::V2, kind, 10, conc, secs).await);
    }
    let after = rss_kib(p.0.id());
    println!(
        "|   RSS of aiops serve ({label}) | idle after start {:.1} MiB | after the load {:.1} MiB | | | | | |",
        idle.unwrap_or(0) as f64 / 1024.0,
        after.unwrap_or(0) as f64 / 1024.0
    );
    drop(p);
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let secs = env_num("AIOPS_BENCH_SECS", 10);
    let conc = env_num("CONCURRENCY", 32) as usize;
    let stores = std::env::var("AIOPS_BENCH_STORES").unwrap_or_else(|_| "memory,sqlite".into());
    let dir = std::env::temp_dir().join(format!("aiops-bench-serve-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        println!("{secs} s per case, {conc} connections, load generator in the same 2-core machine");
        println!("| target | endpoint | load | alerts/request | alerts/s | p50 ms | p99 ms | errors |");
        println!("|---|---|---|---|---|---|---|---|");
        for store in stores.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            bench_store(store, &dir, secs, conc).await;
        }
        match start_alertmanager(&dir) {
            Some(am) => {
                let base = format!("http://127.0.0.1:{AM_PORT}");
                if wait_ready(&format!("{base}/-/ready")).await {
                    let idle = rss_kib(am.0.id());
                    let url = format!("{base}/api/v2/alerts");
                    for kind in kinds() {
                        for batch in [1, 10, 100] {
                            let m = load(&url, Wire::V2, kind, batch, conc, secs).await;
                            row("Alertmanager 0.25", "/api/v2/alerts", kind, batch, &m);
                        }
                    }
                    println!(
                        "|   RSS of Alertmanager | idle after start {:.1} MiB | | | | | | |",
                        idle.unwrap_or(0) as f64 / 1024.0
                    );
                }
            }
            None => println!("| Alertmanager | not installed (apt-get install prometheus-alertmanager) | | | | | | |"),
        }
    });
    let _ = std::fs::remove_dir_all(&dir);
}
