//! Benchmark: parse and analyse a generated bundle of 10,000 pods / 2,000 deployments /
//! 100 nodes / 20,000 events, end to end from bytes to report, and one example bundle. Prints
//! peak RSS at the end.

use criterion::{Criterion, criterion_group};

fn analyze_10k(c: &mut Criterion) {
    let bytes = serde_json::to_vec(&aiops::synth::bundle(aiops::synth::Size::BENCH)).unwrap_or_default();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut group = c.benchmark_group("analyze");
    group.sample_size(10);
    group.bench_function("bundle_10k_pods", |b| {
        b.iter(|| {
            let bundle = aiops::core::parse_bundle(&bytes).unwrap();
            let report = rt.block_on(aiops::analyze_bundle(bundle)).unwrap();
            assert!(!report.hypotheses.is_empty());
            report
        })
    });
    group.finish();
}

/// One example bundle from its file bytes, the same work `aiops.analyze(path)` does from Python
/// (adapters/aiops-python/bench.py measures that side).
fn analyze_example(c: &mut Criterion) {
    let bytes = std::fs::read("examples/bundles/oom-killed.json").unwrap_or_default();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    c.bench_function("analyze/example_oom_killed", |b| {
        b.iter(|| {
            let bundle = aiops::core::parse_bundle(&bytes).unwrap();
            rt.block_on(aiops::analyze_bundle(bundle)).unwrap()
        })
    });
}

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

criterion_group!(benches, analyze_10k, analyze_example);

/// Peak RSS of one analysis, measured in a fresh child process that reads the bundle file,
/// so the generator's own memory does not count.
fn measure_rss_in_child() {
    let path = std::env::temp_dir().join("aiops-bench-10k.json");
    let bytes = serde_json::to_vec(&aiops::synth::bundle(aiops::synth::Size::BENCH)).unwrap_or_default();
    if std::fs::write(&path, &bytes).is_err() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else { return };
    let out = std::process::Command::new(exe).env(CHILD, &path).output();
    if let Ok(out) = out {
        print!("{}", String::from_utf8_lossy(&out.stdout));
    }
    println!("bundle size: {:.1} MiB", bytes.len() as f64 / 1048576.0);
    let _ = std::fs::remove_file(&path);
}

const CHILD: &str = "AIOPS_BENCH_RSS_CHILD";

fn child(path: &str) {
    let bytes = std::fs::read(path).unwrap_or_default();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let start = std::time::Instant::now();
    let bundle = aiops::core::parse_bundle(&bytes).unwrap();
    let report = rt.block_on(aiops::analyze_bundle(bundle)).unwrap();
    let elapsed = start.elapsed();
    println!(
        "one analysis from bytes: {:.0} ms, {} hypotheses, {} evidence items; peak RSS (VmHWM, includes the {:.0} MiB input): {:.0} MiB",
        elapsed.as_secs_f64() * 1000.0,
        report.hypotheses.len(),
        report.evidence.len(),
        bytes.len() as f64 / 1048576.0,
        peak_rss_mib().unwrap_or(0.0)
    );
}

fn main() {
    if let Ok(path) = std::env::var(CHILD) {
        return child(&path);
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
    measure_rss_in_child();
}
