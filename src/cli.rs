//! The `aiops` command line: `analyze`, `capture`, `eval`, `policy eval`, `audit verify`, `sim`,
//! `demo`, `serve`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use aiops_collectors::BundleCollector;
use aiops_core::AnalysisInput;

/// Exit code for bad input (unparseable bundle or rule file, unreadable file).
pub const EXIT_BAD_INPUT: u8 = 2;
/// Exit code when `eval` scores below `--min-top1`.
pub const EXIT_BELOW_THRESHOLD: u8 = 1;

/// aiops: diagnose Kubernetes incidents from alerts, objects, logs and metrics.
#[derive(Debug, Parser)]
#[command(name = "aiops", version, about)]
pub struct Cli {
    /// Log format on stderr (`AIOPS_LOG` sets the level, e.g. `info` or `aiops_server=debug`).
    #[arg(long, global = true, value_enum, env = "AIOPS_LOG_FORMAT", default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Export the spans of every step over OTLP/HTTP to this collector base URL (`/v1/traces` is
    /// appended); without it `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT`
    /// (needs the `otlp` feature).
    #[arg(long, global = true, value_name = "URL")]
    pub otlp_endpoint: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Readable ranked report.
    Text,
    /// The report JSON of incident-bundle.md.
    Json,
}

/// Log formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (for log collectors).
    Json,
}

impl Cli {
    /// Installs the global tracing subscriber: level from `AIOPS_LOG` (default `warn`, `info` for
    /// `serve`), format from `--log-format`, and the OTLP span exporter when an endpoint is
    /// configured (`--otlp-endpoint`, `OTEL_EXPORTER_OTLP_*`; see [`crate::telemetry`]). Call
    /// [`crate::telemetry::Telemetry::shutdown`] on the result before exiting.
    pub fn init_logging(&self) -> crate::telemetry::Telemetry {
        let default = if self.is_serve() { "info" } else { "warn" };
        let filter = tracing_subscriber::EnvFilter::try_from_env("AIOPS_LOG").unwrap_or_else(|_| default.into());
        crate::telemetry::init(self.log_format, filter, self.otlp_endpoint.as_deref())
    }

    fn is_serve(&self) -> bool {
        #[cfg(feature = "server")]
        if matches!(self.command, Command::Serve(_)) {
            return true;
        }
        false
    }
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Diagnose an incident bundle, or a live cluster (a cluster scan when no alert is given).
    Analyze {
        /// The incident bundle (JSON or YAML); without it the live sources are read.
        #[arg(long, conflicts_with_all = ["namespaces", "selector", "kubeconfig", "kube_url", "prometheus", "loki", "alert"])]
        bundle: Option<PathBuf>,
        /// Live sources and scope.
        #[command(flatten)]
        live: Box<crate::live_cli::LiveArgs>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Extra rule file (YAML or JSON) loaded next to the built-in rules.
        #[arg(long)]
        rules: Option<PathBuf>,
        /// Also write the evidence graph as Graphviz DOT to this file.
        #[arg(long)]
        dot: Option<PathBuf>,
        /// Ask the configured LLM (LLM_PROVIDER, LLM_MODEL, ...) to explain and re-rank,
        /// whatever the deterministic confidence; its output is validated before use.
        #[arg(long)]
        explain: bool,
    },
    /// Write an incident bundle (aiops/v1) from live sources: objects, failing containers'
    /// logs, Prometheus results, Loki logs.
    Capture {
        /// Live sources and scope.
        #[command(flatten)]
        live: Box<crate::live_cli::LiveArgs>,
        /// The cluster's name to record in the bundle.
        #[arg(long)]
        cluster: Option<String>,
        /// Where to write the bundle (JSON).
        #[arg(long, short = 'o')]
        output: PathBuf,
    },
    /// Score every bundle with an `expected` block in a folder.
    Eval {
        /// Folder of bundles.
        dir: PathBuf,
        /// Print machine-readable JSON.
        #[arg(long)]
        json: bool,
        /// Exit non-zero when top-1 accuracy (0..=1) is below this.
        #[arg(long)]
        min_top1: Option<f64>,
        /// Exit non-zero when top-3 accuracy (0..=1) is below this.
        #[arg(long)]
        min_top3: Option<f64>,
        /// Exit non-zero when the false-positive rate on healthy bundles is above this.
        #[arg(long)]
        max_false_positive_rate: Option<f64>,
    },
    /// Evaluate remediation policies without a cluster.
    Policy {
        /// What to do with policies.
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Check the hash-chained remediation audit log.
    Audit {
        /// What to do with the audit log.
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Serve a bundle as a simulated cluster (Kubernetes, Prometheus and Loki APIs on one address).
    #[cfg(feature = "sim")]
    Sim {
        /// The incident bundle (JSON or YAML).
        #[arg(long)]
        bundle: PathBuf,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8001")]
        listen: std::net::SocketAddr,
    },
    /// Run the main job on a built-in incident: a simulated cluster serves it over the real
    /// Kubernetes, Prometheus and Loki APIs and the live pipeline diagnoses it (dry run).
    #[cfg(feature = "sim")]
    Demo {
        /// A built-in scenario (crashloop-bad-deploy, image-pull, missing-configmap,
        /// node-not-ready, oom-killed, pending-insufficient-cpu) or a bundle file.
        scenario: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Run the HTTP server: Alertmanager, Grafana and Prometheus alert ingestion, deduplication,
    /// the incident store and API, metrics, and (with a cluster configured) diagnosis.
    #[cfg(feature = "server")]
    Serve(Box<crate::serve::ServeArgs>),
}

/// `aiops policy ...`.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Print the decision for one policy input document as JSON `{decision, reasons}`.
    Eval {
        /// The input document (JSON, the fields documented in the README).
        #[arg(long)]
        input: PathBuf,
        /// A Rego policy file, or a directory of `.rego` files and `.json` data (default: the
        /// shipped policy).
        #[arg(long)]
        policy: Option<PathBuf>,
    },
}

/// `aiops audit ...`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify the hash chain of an audit log (JSON lines); exit 1 when a record was altered or removed.
    Verify {
        /// The audit log file.
        file: PathBuf,
        /// The last record's hash, kept elsewhere: also detects records cut from the end.
        #[arg(long)]
        head: Option<String>,
    },
}

/// Runs the command line; returns the process exit code.
pub async fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Analyze { bundle: Some(bundle), format, rules, dot, explain, .. } => {
            analyze(bundle, format, rules, dot, explain).await
        }
        Command::Analyze { bundle: None, live, format, rules, explain, .. } => match rules_engine(rules) {
            Ok(engine) => match crate::live_cli::analyze(&live, engine, explain).await {
                Ok(r) => print_report(&r, format),
                Err(e) => bad_input(e),
            },
            Err(code) => code,
        },
        Command::Capture { live, cluster, output } => {
            crate::capture::cli(&live, cluster, &output).await.map_or_else(bad_input, |()| ExitCode::SUCCESS)
        }
        Command::Eval { dir, json, min_top1, min_top3, max_false_positive_rate } => {
            eval(dir, json, (min_top1, min_top3, max_false_positive_rate)).await
        }
        Command::Policy { command: PolicyCommand::Eval { input, policy } } => policy_eval(input, policy),
        Command::Audit { command: AuditCommand::Verify { file, head } } => audit_verify(file, head),
        #[cfg(feature = "sim")]
        Command::Sim { bundle, listen } => {
            aiops_sim::run_cli(&bundle, listen).await.map_or_else(bad_input, |()| ExitCode::SUCCESS)
        }
        #[cfg(feature = "sim")]
        Command::Demo { scenario, format } => match crate::demo::cli(scenario, format == Format::Json).await {
            Ok(out) => {
                print!("{out}");
                ExitCode::SUCCESS
            }
            Err(e) => bad_input(e),
        },
        #[cfg(feature = "server")]
        Command::Serve(args) => crate::serve::run(&args).await.map_or_else(bad_input, |()| ExitCode::SUCCESS),
    }
}

fn policy_eval(input: PathBuf, policy: Option<PathBuf>) -> ExitCode {
    use aiops_remediate::policy::{RegoPolicyGate, decision_json};
    let text = match std::fs::read_to_string(&input) {
        Ok(t) => t,
        Err(e) => return bad_input(format!("cannot read {}: {e}", input.display())),
    };
    let doc: serde_json::Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => return bad_input(format!("{}: {e}", input.display())),
    };
    let gate = match policy {
        Some(p) => RegoPolicyGate::from_path(&p),
        None => RegoPolicyGate::new(),
    };
    match gate.and_then(|g| g.decide(&doc)) {
        Ok(d) => {
            let mut out = decision_json(&d);
            if let Some(o) = out.as_object_mut() {
                o.remove("input");
            }
            println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Err(e) => bad_input(e),
    }
}

fn audit_verify(file: PathBuf, head: Option<String>) -> ExitCode {
    match aiops_remediate::audit::verify_file(&file, head.as_deref()) {
        Ok(summary) => {
            println!("ok: {} records, head {}", summary.records, summary.head);
            ExitCode::SUCCESS
        }
        Err(aiops_remediate::RemediateError::Audit(why)) => {
            eprintln!("audit log {} is NOT intact: {why}", file.display());
            ExitCode::from(EXIT_BELOW_THRESHOLD)
        }
        Err(e) => bad_input(e),
    }
}

fn bad_input(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(EXIT_BAD_INPUT)
}

async fn analyze(
    path: PathBuf,
    format: Format,
    rules: Option<PathBuf>,
    dot: Option<PathBuf>,
    explain: bool,
) -> ExitCode {
    let bundle = match BundleCollector::read(&path) {
        Ok(b) => b,
        Err(e) => return bad_input(e),
    };
    let engine = match rules_engine(rules) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let builder = match crate::with_llm(crate::default_engine(), explain) {
        Ok(b) => b,
        Err(e) => return bad_input(e),
    };
    let built = builder.rules(engine).collector(BundleCollector::from_bundle(bundle)).build();
    let report = match built {
        Ok(e) => e.analyze_with_graph(AnalysisInput::default()).await,
        Err(e) => Err(e),
    };
    match report {
        Ok((r, graph)) => {
            if let Some(p) = dot
                && let Err(e) = std::fs::write(&p, graph.to_dot())
            {
                return bad_input(format!("cannot write {}: {e}", p.display()));
            }
            print_report(&r, format)
        }
        Err(e) => bad_input(e),
    }
}

/// The built-in rules plus an optional rule file.
fn rules_engine(rules: Option<PathBuf>) -> Result<aiops_rca::RulesEngine, ExitCode> {
    let engine = aiops_rca::RulesEngine::builtin();
    let Some(r) = rules else { return Ok(engine) };
    let text = std::fs::read_to_string(&r).map_err(|e| bad_input(format!("cannot read {}: {e}", r.display())))?;
    engine.add_rule_file(&text).map_err(bad_input)
}

fn print_report(r: &aiops_core::Report, format: Format) -> ExitCode {
    match format {
        Format::Text => print!("{}", crate::text::render(r)),
        Format::Json => match serde_json::to_string_pretty(r) {
            Ok(s) => println!("{s}"),
            Err(e) => return bad_input(e),
        },
    }
    ExitCode::SUCCESS
}

async fn eval(dir: PathBuf, json: bool, limits: (Option<f64>, Option<f64>, Option<f64>)) -> ExitCode {
    let report = match crate::eval::eval_dir(&dir).await {
        Ok(r) => r,
        Err(e) => return bad_input(format!("cannot read {}: {e}", dir.display())),
    };
    if json {
        match serde_json::to_string_pretty(&report) {
            Ok(s) => println!("{s}"),
            Err(e) => return bad_input(e),
        }
    } else {
        print!("{}", crate::eval::render(&report));
    }
    let (min1, min3, max_fp) = limits;
    let fp_rate = if report.healthy == 0 { 0.0 } else { report.false_positives as f64 / report.healthy as f64 };
    let mut ok = true;
    if let Some(m) = min1.filter(|m| report.top1 < *m) {
        eprintln!("top-1 accuracy {:.3} is below {m}", report.top1);
        ok = false;
    }
    if let Some(m) = min3.filter(|m| report.top3 < *m) {
        eprintln!("top-3 accuracy {:.3} is below {m}", report.top3);
        ok = false;
    }
    if let Some(m) = max_fp.filter(|m| fp_rate > *m) {
        eprintln!("false-positive rate {fp_rate:.3} is above {m}");
        ok = false;
    }
    if ok { ExitCode::SUCCESS } else { ExitCode::from(EXIT_BELOW_THRESHOLD) }
}
