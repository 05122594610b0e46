//! In-process benchmark of `IncidentStore::ingest`, no HTTP: batches of `B` new alerts (each its
//! own incident, the costliest path) committed back to back for `AIOPS_BENCH_SECS` seconds per
//! case; prints alerts/s and the batch commit time p50/p99 per store and batch size.
//!
//! `cargo bench -p aiops-server --bench store_ingest`. Stores: `AIOPS_BENCH_STORES`
//! (comma-separated `--store` specs, default `memory,sqlite`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use aiops_server::IncidentStore;
use aiops_server::config::StoreSpec;
use aiops_server::ingest::{Format, parse};
use aiops_server::store::{DedupPolicy, Incoming};

/// Distinct alerts the repeat load cycles through.
const REPEAT_ALERTS: u64 = 20_000;

fn batch(seq: u64, n: usize) -> Vec<Incoming> {
    let alerts: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"status":"firing","labels":{{"alertname":"KubePodCrashLooping","namespace":"ns-{seq}","pod":"checkout-{seq}-{i}","container":"checkout","severity":"critical","cluster":"bench"}},"annotations":{{"summary":"Pod is crash looping"}},"startsAt":"2026-12-06T10:00:00Z"}}"#
            )
        })
        .collect();
    let body = format!(r#"{{"version":"4","status":"firing","alerts":[{}]}}"#, alerts.join(","));
    let now = jiff::Timestamp::now();
    let parsed = parse(Format::Alertmanager, body.as_bytes(), 100_000, now).expect("body");
    parsed.alerts.into_iter().map(|a| Incoming::from_alert(a, now)).collect()
}

/// What the batches hold.
#[derive(Clone, Copy)]
enum Load {
    /// Every alert new: one new incident each.
    New,
    /// Repeats of alerts already stored (Alertmanager re-sending a firing group).
    Repeat,
}

async fn case(store: &Arc<dyn IncidentStore>, load: Load, size: usize, secs: u64, seq: &mut u64) -> (f64, f64, f64) {
    let policy = DedupPolicy::default();
    let mut lat = Vec::new();
    let base = *seq;
    let mut i = 0_u64;
    let groups = (REPEAT_ALERTS / size as u64).max(1);
    if let Load::Repeat = load {
        let all: Vec<Incoming> = (0..groups).flat_map(|k| batch(base + k, size)).collect();
        for chunk in all.chunks(1000) {
            store.ingest(chunk, &policy).await.expect("ingest");
        }
    }
    let until = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    while Instant::now() < until {
        let b = match load {
            Load::New => {
                *seq += 1;
                batch(*seq, size)
            }
            Load::Repeat => {
                i += 1;
                batch(base + i % groups, size)
            }
        };
        let t = Instant::now();
        store.ingest(&b, &policy).await.expect("ingest");
        lat.push(t.elapsed());
    }
    let alerts = (lat.len() * size) as f64 / started.elapsed().as_secs_f64();
    lat.sort();
    let ms = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)].as_secs_f64() * 1000.0;
    (alerts, ms(0.5), ms(0.99))
}

fn main() {
    let secs = std::env::var("AIOPS_BENCH_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let stores = std::env::var("AIOPS_BENCH_STORES").unwrap_or_else(|_| "memory,sqlite".into());
    let dir = std::env::temp_dir().join(format!("aiops-bench-ingest-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        println!("| store | load | alerts/batch | alerts/s | batch p50 ms | batch p99 ms |");
        println!("|---|---|---|---|---|---|");
        let mut seq = (jiff::Timestamp::now().as_millisecond() as u64) << 20;
        for s in stores.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let spec = if s == "sqlite" { format!("sqlite:{}", dir.join("bench.db").display()) } else { s.into() };
            let store = match spec.parse::<StoreSpec>() {
                Ok(spec) => spec.open().await,
                Err(e) => Err(e),
            };
            let store = match store {
                Ok(st) => st,
                Err(e) => {
                    println!("| {s} | cannot open: {e} | | | |");
                    continue;
                }
            };
            for (name, load) in [("new", Load::New), ("repeat", Load::Repeat)] {
                for size in [1, 32, 100, 1000] {
                    let (a, p50, p99) = case(&store, load, size, secs, &mut seq).await;
                    seq += REPEAT_ALERTS + 1;
                    println!("| {s} | {name} | {size} | {a:.0} | {p50:.2} | {p99:.2} |");
                }
            }
        }
    });
    let _ = std::fs::remove_dir_all(&dir);
}
