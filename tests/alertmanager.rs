//! Real Prometheus -> real Alertmanager -> `aiops serve`, and Prometheus pointed straight at
//! aiops (`alerting.alertmanagers` -> `POST /api/v2/alerts`). Run by
//! `scripts/test.d/55-alertmanager.sh`, which installs `prometheus` and
//! `prometheus-alertmanager` from Debian; `#[ignore]`d otherwise.
//!
//! The series the alert rule fires on is a kube-state-metrics gauge
//! (`kube_pod_container_status_waiting_reason{reason="CrashLoopBackOff"}`) that Prometheus
//! scrapes from a tiny exporter in this test (the text exposition format, one line); the test
//! flips it to 0 to end the alert. Ports: 18301-18312.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

const TOKEN: &str = "test-hook-secret";

/// Child processes killed (by PID) when the test ends, pass or fail.
struct Procs(Vec<(String, Child)>);

impl Drop for Procs {
    fn drop(&mut self) {
        for (_, c) in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Procs {
    fn start(&mut self, name: &str, cmd: &mut Command, log: &Path) {
        let out = std::fs::File::create(log).unwrap();
        let err = out.try_clone().unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e} (run scripts/test.d/55-alertmanager.sh)"));
        self.0.push((name.into(), child));
    }
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("aiops-am-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Serves `kube_pod_container_status_waiting_reason` with the value in `value` (0 or 1).
fn exporter(port: u16, value: Arc<AtomicU8>) {
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut s) = conn else { continue };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let body = format!(
                "# TYPE kube_pod_container_status_waiting_reason gauge\n\
                 kube_pod_container_status_waiting_reason{{namespace=\"shop\",pod=\"checkout-7d9f8b6c5d-x2k4q\",\
                 container=\"checkout\",reason=\"CrashLoopBackOff\"}} {}\n",
                value.load(Ordering::SeqCst)
            );
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
}

fn client() -> reqwest::Client {
    // reqwest is built without a default TLS provider in this workspace (kube brings ring).
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap()
}

async fn wait_ready(url: &str, what: &str, logs: &Path) {
    let c = client();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if c.get(url).send().await.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} not ready at {url}; logs in {}", logs.display());
}

fn start_aiops(procs: &mut Procs, dir: &Path, port: u16) -> String {
    let addr = format!("127.0.0.1:{port}");
    let db = dir.join("aiops.db");
    procs.start(
        "aiops",
        Command::new(env!("CARGO_BIN_EXE_aiops"))
            .args(["serve", "--listen", &addr, "--store", &store_spec(&db)])
            .env("AIOPS_WEBHOOK_TOKEN", TOKEN)
            .env("AIOPS_API_TOKEN", "api-secret")
            .env_remove("AIOPS_STORE")
            .env_remove("AIOPS_LISTEN"),
        &dir.join("aiops.log"),
    );
    format!("http://{addr}")
}

/// The store the tests run `aiops serve` with (override with `AIOPS_TEST_STORE`).
fn store_spec(db: &Path) -> String {
    std::env::var("AIOPS_TEST_STORE").unwrap_or_else(|_| aiops_default_store(db))
}

fn aiops_default_store(db: &Path) -> String {
    if aiops::serve::DEFAULT_STORE == "memory" { "memory".into() } else { format!("sqlite:{}", db.display()) }
}

fn prometheus_config(dir: &Path, prom_port: u16, exporter_port: u16, alerting: &str) -> PathBuf {
    std::fs::write(
        dir.join("rules.yml"),
        r#"groups:
- name: kubernetes-apps
  interval: 1s
  rules:
  - alert: KubePodCrashLooping
    expr: max by (namespace, pod, container) (kube_pod_container_status_waiting_reason{reason="CrashLoopBackOff"}) >= 1
    labels:
      severity: critical
    annotations:
      summary: Pod {{ $labels.namespace }}/{{ $labels.pod }} is crash looping
      description: Container {{ $labels.container }} is waiting in CrashLoopBackOff.
"#,
    )
    .unwrap();
    let cfg = format!(
        r#"global:
  scrape_interval: 1s
  evaluation_interval: 1s
  external_labels:
    cluster: test-cluster
rule_files: [{rules}]
scrape_configs:
- job_name: kube-state-metrics
  static_configs: [{{targets: ["127.0.0.1:{exporter_port}"]}}]
alerting:
{alerting}
"#,
        rules = dir.join("rules.yml").display()
    );
    let path = dir.join("prometheus.yml");
    std::fs::write(&path, cfg).unwrap();
    let _ = prom_port;
    path
}

fn start_prometheus(procs: &mut Procs, dir: &Path, port: u16, config: &Path) -> String {
    procs.start(
        "prometheus",
        Command::new("prometheus").args([
            &format!("--config.file={}", config.display()),
            &format!("--storage.tsdb.path={}", dir.join("prom-data").display()),
            &format!("--web.listen-address=127.0.0.1:{port}"),
            "--rules.alert.resend-delay=2s",
            &format!("--web.external-url=http://127.0.0.1:{port}"),
        ]),
        &dir.join("prometheus.log"),
    );
    format!("http://127.0.0.1:{port}")
}

async fn incidents(base: &str) -> Vec<Value> {
    let r = client().get(format!("{base}/api/v1/incidents")).bearer_auth("api-secret").send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    r.json::<Vec<Value>>().await.unwrap()
}

/// Polls the incident list until `ok` holds; panics with the last list and the logs' place.
async fn wait_for(base: &str, what: &str, dir: &Path, secs: u64, ok: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let list = incidents(base).await;
        if ok(&list) {
            return list;
        }
        if Instant::now() > deadline {
            panic!("timed out waiting for {what}; incidents: {list:#?}; logs in {}", dir.display());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn metric(base: &str, name: &str) -> f64 {
    let text = client().get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Checks one incident opened by the rule: its fields come from the rule's labels.
fn check_incident(inc: &Value, source: &str) {
    assert_eq!(inc["source"], source);
    assert_eq!(inc["title"], "KubePodCrashLooping: checkout-7d9f8b6c5d-x2k4q", "{inc:#}");
    assert_eq!(inc["severity"], "critical");
    assert_eq!(inc["namespace"], "shop");
    assert_eq!(inc["cluster"], "test-cluster", "Prometheus' external label reaches the incident");
    assert_eq!(inc["pod"], "checkout-7d9f8b6c5d-x2k4q");
}

/// Asserts one incident, open, `>= repeats` alerts counted; then ends the alert and waits for
/// the incident to resolve.
async fn lifecycle(base: &str, dir: &Path, value: &AtomicU8, source: &str, repeats: u64) {
    let list = wait_for(base, "the incident", dir, 60, |l| !l.is_empty()).await;
    assert_eq!(list.len(), 1, "{list:#?}");
    check_incident(&list[0], source);
    assert_eq!(list[0]["status"], "open");
    let list = wait_for(base, "a repeat notification", dir, 60, |l| {
        l.first().and_then(|i| i["alert_count"].as_u64()).is_some_and(|n| n >= repeats)
    })
    .await;
    assert_eq!(list.len(), 1, "a repeat is deduplicated, not a new incident: {list:#?}");
    assert!(metric(base, "aiops_alerts_deduplicated_total").await >= (repeats - 1) as f64);
    value.store(0, Ordering::SeqCst);
    let list =
        wait_for(base, "the resolution", dir, 90, |l| l.first().is_some_and(|i| i["status"] == "resolved")).await;
    assert_eq!(list.len(), 1);
    assert!(list[0]["resolved_at"].is_string());
    assert!(metric(base, "aiops_incidents_resolved_total").await >= 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs prometheus and prometheus-alertmanager (scripts/test.d/55-alertmanager.sh)"]
async fn prometheus_to_alertmanager_to_aiops() {
    let dir = tmpdir("am");
    let (aiops_port, am_port, prom_port, exp_port) = (18301, 18302, 18303, 18306);
    let value = Arc::new(AtomicU8::new(1));
    exporter(exp_port, value.clone());
    let mut procs = Procs(Vec::new());
    let base = start_aiops(&mut procs, &dir, aiops_port);
    wait_ready(&format!("{base}/health"), "aiops", &dir).await;
    std::fs::write(
        dir.join("alertmanager.yml"),
        format!(
            r#"route:
  receiver: aiops
  group_by: [alertname, namespace, pod]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 4s
receivers:
- name: aiops
  webhook_configs:
  - url: {base}/api/v1/webhooks/alertmanager
    send_resolved: true
    http_config:
      authorization:
        credentials: {TOKEN}
"#
        ),
    )
    .unwrap();
    procs.start(
        "alertmanager",
        Command::new("prometheus-alertmanager").args([
            &format!("--config.file={}", dir.join("alertmanager.yml").display()),
            &format!("--storage.path={}", dir.join("am-data").display()),
            &format!("--web.listen-address=127.0.0.1:{am_port}"),
            "--cluster.listen-address=",
            &format!("--web.external-url=http://127.0.0.1:{am_port}"),
        ]),
        &dir.join("alertmanager.log"),
    );
    wait_ready(&format!("http://127.0.0.1:{am_port}/-/ready"), "alertmanager", &dir).await;
    let alerting = format!("  alertmanagers:\n  - static_configs: [{{targets: [\"127.0.0.1:{am_port}\"]}}]\n");
    let cfg = prometheus_config(&dir, prom_port, exp_port, &alerting);
    let prom = start_prometheus(&mut procs, &dir, prom_port, &cfg);
    wait_ready(&format!("{prom}/-/ready"), "prometheus", &dir).await;
    // Alertmanager resends the open group every repeat_interval: 3 notifications, 1 incident.
    lifecycle(&base, &dir, &value, "alertmanager", 3).await;
    assert!(metric(&base, "aiops_alerts_received_total{source=\"alertmanager\"").await >= 4.0);
    drop(procs);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs prometheus (scripts/test.d/55-alertmanager.sh)"]
async fn prometheus_pushes_straight_to_aiops() {
    let dir = tmpdir("push");
    let (aiops_port, prom_port, exp_port) = (18304, 18305, 18307);
    let value = Arc::new(AtomicU8::new(1));
    exporter(exp_port, value.clone());
    let mut procs = Procs(Vec::new());
    let base = start_aiops(&mut procs, &dir, aiops_port);
    wait_ready(&format!("{base}/health"), "aiops", &dir).await;
    // aiops stands where an Alertmanager would: Prometheus POSTs /api/v2/alerts with the token.
    let alerting = format!(
        "  alertmanagers:\n  - api_version: v2\n    authorization: {{credentials: {TOKEN}}}\n    \
         static_configs: [{{targets: [\"127.0.0.1:{aiops_port}\"]}}]\n"
    );
    let cfg = prometheus_config(&dir, prom_port, exp_port, &alerting);
    let prom = start_prometheus(&mut procs, &dir, prom_port, &cfg);
    wait_ready(&format!("{prom}/-/ready"), "prometheus", &dir).await;
    // Prometheus resends a firing alert every resend-delay (2 s): 3 pushes, 1 incident.
    lifecycle(&base, &dir, &value, "prometheus", 3).await;
    drop(procs);
    let _ = std::fs::remove_dir_all(&dir);
}
