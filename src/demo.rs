//! `aiops demo [SCENARIO]`: the main job without a cluster. The embedded simulated cluster
//! (`aiops-sim`) serves a built-in incident (one of `examples/bundles/`) over the real
//! Kubernetes, Prometheus and Loki wire APIs on loopback; the live pipeline then runs against
//! it over HTTP exactly as against a real cluster: the collectors, diagnosis, runbook and the
//! policy decision on the proposed remediation, which is a dry run (nothing is changed).

use std::fmt::Write as _;

use aiops_core::{IncidentBundle, Report};
use aiops_sim::{SimStats, Simulator};

use crate::error::Error;
use crate::live::{LiveSources, input_for, with_live_collectors};

/// The scenario `aiops demo` runs without an argument.
pub const DEFAULT_SCENARIO: &str = "crashloop-bad-deploy";

/// The built-in scenarios: the example bundles, compiled into the binary.
pub const SCENARIOS: &[(&str, &[u8])] = &[
    ("crashloop-bad-deploy", include_bytes!("../examples/bundles/crashloop-bad-deploy.json")),
    ("image-pull", include_bytes!("../examples/bundles/image-pull.json")),
    ("missing-configmap", include_bytes!("../examples/bundles/missing-configmap.json")),
    ("node-not-ready", include_bytes!("../examples/bundles/node-not-ready.json")),
    ("oom-killed", include_bytes!("../examples/bundles/oom-killed.json")),
    ("pending-insufficient-cpu", include_bytes!("../examples/bundles/pending-insufficient-cpu.json")),
];

/// The names of the built-in scenarios.
pub fn scenario_names() -> Vec<&'static str> {
    SCENARIOS.iter().map(|(n, _)| *n).collect()
}

/// The bundle of a scenario: a built-in name, or the path of a bundle file.
pub fn scenario(name: &str) -> Result<IncidentBundle, Error> {
    if let Some((_, bytes)) = SCENARIOS.iter().find(|(n, _)| *n == name) {
        return Ok(aiops_core::parse_bundle(bytes)?);
    }
    let path = std::path::Path::new(name);
    if path.is_file() {
        return Ok(aiops_collectors::BundleCollector::read(path)?);
    }
    Err(Error::NotFound(format!(
        "no scenario {name:?}: use one of {} or the path of a bundle file",
        scenario_names().join(", ")
    )))
}

/// What one demo run produced.
#[derive(Debug)]
pub struct DemoRun {
    /// The scenario's name (or path).
    pub scenario: String,
    /// The simulator's base URL (it stops when the run is returned).
    pub url: String,
    /// The report of the live pipeline.
    pub report: Report,
    /// The API requests the collectors made, per endpoint.
    pub stats: SimStats,
}

impl DemoRun {
    /// Requests that would have changed the cluster (anything but GET); a demo makes none.
    pub fn writes(&self) -> u64 {
        self.stats.endpoints.iter().filter(|(e, _)| !e.starts_with("GET ")).map(|(_, n)| n).sum()
    }

    /// A short description of the run: where the evidence came from and what it cost.
    pub fn header(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(o, "aiops demo: scenario {} served by a simulated cluster at {}", self.scenario, self.url);
        let runs: Vec<String> = self
            .report
            .collectors
            .iter()
            .map(|r| format!("{} {:.0} ms{}", r.collector, r.duration_ms, if r.ok { "" } else { " (failed)" }))
            .collect();
        let _ = writeln!(
            o,
            "collected over HTTP: {}; {} API requests, {} writes (remediation is a dry run)",
            runs.join(", "),
            self.stats.total,
            self.writes()
        );
        o
    }
}

/// Runs the live pipeline against a simulated cluster serving `scenario`.
pub async fn run(scenario_name: &str) -> Result<DemoRun, Error> {
    use tracing::Instrument;
    run_inner(scenario_name).instrument(tracing::info_span!("demo", scenario = scenario_name)).await
}

async fn run_inner(scenario_name: &str) -> Result<DemoRun, Error> {
    let bundle = scenario(scenario_name)?;
    let sim = Simulator::from_bundle(&bundle).spawn().await?;
    let builder = with_live_collectors(crate::default_engine(), &LiveSources::all_at(&sim.url())).await?;
    let report = builder.build()?.analyze(input_for(&bundle)).await?;
    Ok(DemoRun { scenario: scenario_name.to_string(), url: sim.url(), report, stats: sim.stats() })
}

/// The `aiops demo` command: the report (text or JSON) on stdout, the run's header on stderr
/// for JSON so stdout stays one JSON document.
pub async fn cli(scenario_name: Option<String>, json: bool) -> Result<String, Error> {
    let run = run(scenario_name.as_deref().unwrap_or(DEFAULT_SCENARIO)).await?;
    if json {
        eprint!("{}", run.header());
        serde_json::to_string_pretty(&run.report).map(|s| s + "\n").map_err(|e| Error::Other(e.to_string()))
    } else {
        Ok(format!("{}\n{}", run.header(), crate::text::render(&run.report)))
    }
}
