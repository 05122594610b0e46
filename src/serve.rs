//! `aiops serve`: the HTTP server of `aiops-server` with its settings layered as defaults <
//! config file (`--config`, YAML or JSON) < environment (`AIOPS_LISTEN`, `AIOPS_STORE`,
//! `AIOPS_API_TOKEN`, `AIOPS_WEBHOOK_TOKEN`, `AIOPS_EXECUTE`, `AIOPS_SLACK_SIGNING_SECRET`,
//! `AIOPS_SLACK_BOT_TOKEN`, `AIOPS_SLACK_CHANNEL`) <
//! flags. With a cluster configured (a kubeconfig, an API URL, or the in-cluster service
//! account) every incident is diagnosed by the live pipeline and approved actions go to the
//! Kubernetes executor (dry runs unless `--execute`); without one incidents are stored,
//! deduplicated and resolved, not diagnosed.
//!
//! With no token configured the server binds loopback only, whatever the address asked for,
//! and says so at start.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use aiops_collectors::kubernetes::ClusterSource;
use aiops_collectors::{Auth, Endpoint};
use aiops_core::traits::Executor;
use aiops_remediate::KubeExecutor;
use aiops_server::config::{ServerFile, StoreSpec, non_empty};
use aiops_server::{Server, ServerConfig};
use serde::Deserialize;

use crate::error::Error;
use crate::live::{LiveOptions, LiveSources, with_live_collectors_opts};

/// The flags of `aiops serve`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServeArgs {
    /// A config file (YAML or JSON; keys in the README). Environment and flags override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:8080). Without a token only loopback is bound.
    #[arg(long, env = "AIOPS_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// The incident store: `sqlite:PATH`, `postgres://USER@HOST:PORT/DB` or `memory`.
    #[arg(long, env = "AIOPS_STORE", value_name = "SPEC")]
    pub store: Option<String>,
    /// Bearer token of the API (prefer the environment variable: flags show in `ps`).
    #[arg(long, env = "AIOPS_API_TOKEN", hide_env_values = true, value_name = "TOKEN")]
    pub api_token: Option<String>,
    /// Shared secret of the webhooks (Alertmanager bearer token, Grafana basic-auth password);
    /// defaults to the API token.
    #[arg(long, env = "AIOPS_WEBHOOK_TOKEN", hide_env_values = true, value_name = "TOKEN")]
    pub webhook_token: Option<String>,
    /// Diagnose incidents against this Kubernetes API URL (no credentials: `kubectl proxy`, `aiops sim`).
    #[arg(long, value_name = "URL", conflicts_with = "kubeconfig")]
    pub kube_url: Option<String>,
    /// Diagnose incidents against the cluster of this kubeconfig (its current context).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// A Prometheus-compatible API for the diagnosis.
    #[arg(long, value_name = "URL")]
    pub prometheus: Option<String>,
    /// A Loki API for the diagnosis.
    #[arg(long, value_name = "URL")]
    pub loki: Option<String>,
    /// Execute approved actions against the cluster for real. Off (the default), every action
    /// is a dry run: sent with `dryRun=All`, validated by the API server, nothing changed.
    #[arg(long, env = "AIOPS_EXECUTE", value_parser = clap::builder::FalseyValueParser::new())]
    pub execute: bool,
    /// The remediation policy: a Rego file, or a directory of `.rego` files and `.json` data
    /// (default: the shipped policy). Loaded and checked at start.
    #[arg(long, env = "AIOPS_POLICY", value_name = "PATH")]
    pub policy: Option<PathBuf>,
    /// Slack's signing secret: enables the Slack interaction endpoint (approve/reject buttons).
    /// Prefer the environment variable.
    #[arg(long, env = "AIOPS_SLACK_SIGNING_SECRET", hide_env_values = true, value_name = "SECRET")]
    pub slack_signing_secret: Option<String>,
    /// The Slack bot token (`xoxb-...`, scope `chat:write`): with `--slack-channel`, approval
    /// requests are posted to Slack. Prefer the environment variable.
    #[arg(long, env = "AIOPS_SLACK_BOT_TOKEN", hide_env_values = true, value_name = "TOKEN")]
    pub slack_bot_token: Option<String>,
    /// The Slack channel id approval requests are posted to.
    #[arg(long, env = "AIOPS_SLACK_CHANNEL", value_name = "CHANNEL")]
    pub slack_channel: Option<String>,
}

/// A config file of `aiops serve`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeFile {
    /// Listen address, store, tokens and limits.
    #[serde(default)]
    pub server: ServerFile,
    /// The cluster incidents are diagnosed against.
    #[serde(default)]
    pub cluster: Option<ClusterFile>,
}

/// The `cluster:` section of the config file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterFile {
    /// A Kubernetes API URL without credentials.
    pub kube_url: Option<String>,
    /// A kubeconfig file.
    pub kubeconfig: Option<PathBuf>,
    /// Use the pod's service account.
    #[serde(default)]
    pub in_cluster: bool,
    /// A Prometheus-compatible API.
    pub prometheus: Option<String>,
    /// Its bearer token.
    pub prometheus_token: Option<String>,
    /// A Loki API.
    pub loki: Option<String>,
    /// The Loki tenant.
    pub loki_tenant: Option<String>,
}

/// Everything `aiops serve` runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The server's settings.
    pub server: ServerConfig,
    /// The store to open.
    pub store: StoreSpec,
    /// The cluster to diagnose against, if any.
    pub sources: Option<LiveSources>,
}

/// The store used when none is configured.
pub const DEFAULT_STORE: &str = "sqlite:aiops.db";

impl ServeArgs {
    /// Reads the config file (if any) and layers the flags and environment over it.
    pub fn settings(&self) -> Result<Settings, Error> {
        let file = match &self.config {
            Some(p) => read_file(p)?,
            None => ServeFile::default(),
        };
        let mut server = ServerConfig::default();
        file.server.apply(&mut server);
        if let Some(l) = self.listen {
            server.listen = l;
        }
        server.api_token = non_empty(self.api_token.clone().or(server.api_token));
        server.webhook_token = non_empty(self.webhook_token.clone().or(server.webhook_token));
        server.slack_signing_secret = non_empty(self.slack_signing_secret.clone().or(server.slack_signing_secret));
        server.slack_bot_token = non_empty(self.slack_bot_token.clone().or(server.slack_bot_token));
        server.slack_channel = non_empty(self.slack_channel.clone().or(server.slack_channel));
        if self.execute {
            server.workflow.execute = true;
        }
        server.validate().map_err(|e| Error::Other(e.to_string()))?;
        let spec = self.store.clone().or(file.server.store).unwrap_or_else(|| DEFAULT_STORE.into());
        let store = spec.parse().map_err(|e: aiops_server::ServerError| Error::Other(e.to_string()))?;
        let cluster = file.cluster.unwrap_or_default();
        Ok(Settings { server, store, sources: self.sources(cluster) })
    }

    fn sources(&self, file: ClusterFile) -> Option<LiveSources> {
        let cluster = match (&self.kube_url, &self.kubeconfig) {
            (Some(u), _) => ClusterSource::Url(u.clone()),
            (None, Some(k)) => ClusterSource::Kubeconfig(k.clone()),
            (None, None) => match (file.kube_url, file.kubeconfig, file.in_cluster) {
                (Some(u), _, _) => ClusterSource::Url(u),
                (None, Some(k), _) => ClusterSource::Kubeconfig(k),
                (None, None, true) => ClusterSource::InCluster,
                (None, None, false) => return None,
            },
        };
        let prometheus = self.prometheus.clone().or(file.prometheus).map(|url| match &file.prometheus_token {
            Some(t) => Endpoint::new(&url).auth(Auth::Bearer(t.clone())),
            None => Endpoint::new(&url),
        });
        let loki = self.loki.clone().or(file.loki).map(|url| match &file.loki_tenant {
            Some(t) => Endpoint::new(&url).tenant(t),
            None => Endpoint::new(&url),
        });
        Some(LiveSources { cluster, prometheus, loki })
    }
}

fn read_file(path: &std::path::Path) -> Result<ServeFile, Error> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io { path: path.display().to_string(), source })?;
    // YAML is a superset of JSON: one parser reads both.
    serde_norway::from_slice(&bytes).map_err(|e| Error::Other(format!("{}: {e}", path.display())))
}

/// What `aiops serve` prints at start (on stderr): where it listens, the store, whether
/// incidents are diagnosed, and the loopback fallback when no token is configured.
pub fn banner(settings: &Settings, bound: SocketAddr, narrowed: bool) -> String {
    let mut out = format!("aiops serve: listening on http://{bound} (store {})\n", settings.store);
    if narrowed {
        out.push_str(&format!(
            "aiops serve: no API token is configured, so only loopback is bound (asked for {}); \
             set AIOPS_API_TOKEN to listen on other interfaces\n",
            settings.server.listen
        ));
    } else if settings.server.api_token.is_none() {
        out.push_str("aiops serve: no API token is configured: the API is open to local clients\n");
    }
    if settings.sources.is_none() {
        out.push_str(
            "aiops serve: no cluster configured (--kube-url, --kubeconfig, cluster.in_cluster): \
             incidents are stored, not diagnosed\n",
        );
    } else if settings.server.workflow.execute {
        out.push_str("aiops serve: --execute: approved actions change the cluster\n");
    } else {
        out.push_str(
            "aiops serve: dry run: approved actions are validated by the API server (dryRun=All), \
             nothing is changed; --execute (AIOPS_EXECUTE=true) to act\n",
        );
    }
    if settings.server.slack_signing_secret.is_some() {
        out.push_str(&format!(
            "aiops serve: Slack approvals on /api/v1/slack/interactions ({} approver(s) allowed)\n",
            settings.server.slack_approvers.len()
        ));
    }
    match (&settings.server.slack_bot_token, &settings.server.slack_channel) {
        (Some(_), Some(channel)) => {
            out.push_str(&format!("aiops serve: approval requests are posted to Slack channel {channel}\n"))
        }
        (Some(_), None) | (None, Some(_)) => out.push_str(
            "aiops serve: Slack approval requests need both a bot token (AIOPS_SLACK_BOT_TOKEN) and a channel \
             (AIOPS_SLACK_CHANNEL): nothing is posted\n",
        ),
        (None, None) => {}
    }
    out
}

/// The executor of approved actions: the Kubernetes executor on the configured cluster, live
/// only with `--execute` (otherwise every call is a server-side dry run).
pub async fn executor(sources: &LiveSources, execute: bool) -> Result<Arc<dyn Executor>, Error> {
    let client = sources.cluster.client().await.map_err(|e| Error::Other(format!("executor: {e}")))?;
    Ok(Arc::new(KubeExecutor::new(client).live(execute)))
}

/// Runs the server until Ctrl-C or SIGTERM.
pub async fn run(args: &ServeArgs) -> Result<(), Error> {
    let settings = args.settings()?;
    // A bad policy is an error at start, not at the first incident.
    let policy = args.policy.as_ref().map(|path| {
        aiops_remediate::RegoPolicyGate::from_path(path)
            .map_err(|e| Error::Other(format!("--policy {}: {e}", path.display())))
    });
    let policy = policy.transpose()?;
    let store = settings.store.open().await.map_err(|e| Error::Other(e.to_string()))?;
    let mut server = Server::builder(settings.server.clone(), store);
    if let Some(sources) = &settings.sources {
        // A long-running server reads the cluster through the watch cache (30 s staleness bound).
        let opts = LiveOptions { watch_cache: Some(std::time::Duration::from_secs(30)), ..LiveOptions::default() };
        let mut builder = with_live_collectors_opts(crate::default_engine(), sources, &opts).await?;
        if let Some(gate) = policy {
            builder = builder.policy_gate(gate);
        }
        server = server.engine(builder.build()?).executor(executor(sources, settings.server.workflow.execute).await?);
    }
    if let Some(n) = aiops_server::notify::SlackNotifier::from_config(&settings.server) {
        server = server.notifier(Arc::new(n));
    }
    let (addr, narrowed) = settings.server.effective_listen();
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Io { path: format!("listen {addr}"), source })?;
    let bound = listener.local_addr().map_err(|source| Error::Io { path: format!("listen {addr}"), source })?;
    eprint!("{}", banner(&settings, bound, narrowed));
    tracing::info!(listen = %bound, store = %settings.store, diagnosis = settings.sources.is_some(),
        execute = settings.server.workflow.execute, "aiops serve started");
    let server = server.start();
    server.serve(listener, shutdown_signal()).await.map_err(|e| Error::Other(e.to_string()))?;
    eprintln!("aiops serve: stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> ServeArgs {
        ServeArgs::default()
    }

    #[test]
    fn flags_override_the_file_and_the_file_overrides_defaults() {
        let dir = std::env::temp_dir().join(format!("aiops-serve-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("aiops.yaml");
        std::fs::write(
            &path,
            "server:\n  listen: 0.0.0.0:9000\n  store: sqlite:/tmp/x.db\n  api_token: from-file\n  intake_capacity: 20000\n\
             cluster:\n  kube_url: http://127.0.0.1:1\n  prometheus: http://127.0.0.1:2\n",
        )
        .unwrap();
        let a = ServeArgs { config: Some(path.clone()), ..args() };
        let s = a.settings().unwrap();
        assert_eq!(s.server.listen, "0.0.0.0:9000".parse().unwrap());
        assert_eq!(s.server.api_token.as_deref(), Some("from-file"));
        assert_eq!(s.server.intake_capacity, 20000);
        assert_eq!(s.store, StoreSpec::Sqlite("/tmp/x.db".into()));
        let src = s.sources.unwrap();
        assert!(matches!(&src.cluster, ClusterSource::Url(u) if u == "http://127.0.0.1:1"));
        assert!(src.prometheus.is_some() && src.loki.is_none());

        let a = ServeArgs {
            config: Some(path.clone()),
            listen: Some("127.0.0.1:7000".parse().unwrap()),
            store: Some("memory".into()),
            api_token: Some("from-env".into()),
            ..args()
        };
        let s = a.settings().unwrap();
        assert_eq!(s.server.listen, "127.0.0.1:7000".parse().unwrap());
        assert_eq!(s.store, StoreSpec::Memory);
        assert_eq!(s.server.api_token.as_deref(), Some("from-env"));

        std::fs::write(&path, "server:\n  lisen: 0.0.0.0:9000\n").unwrap();
        let e = ServeArgs { config: Some(path), ..args() }.settings().unwrap_err();
        assert!(e.to_string().contains("lisen"), "{e}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn execute_is_off_by_default_and_the_banner_names_the_mode() {
        let url = Some("http://127.0.0.1:1".to_string());
        let s = ServeArgs { kube_url: url.clone(), ..args() }.settings().unwrap();
        assert!(!s.server.workflow.execute, "dry run by default");
        let b = banner(&s, s.server.listen, false);
        assert!(b.contains("dry run") && !b.contains("Slack"), "{b}");
        let a = ServeArgs { kube_url: url, execute: true, slack_signing_secret: Some("shh".into()), ..args() };
        let s = a.settings().unwrap();
        assert!(s.server.workflow.execute);
        assert_eq!(s.server.slack_signing_secret.as_deref(), Some("shh"));
        let b = banner(&s, s.server.listen, false);
        assert!(b.contains("--execute: approved actions change the cluster") && b.contains("Slack approvals"), "{b}");
        let s = ServeArgs { slack_signing_secret: Some(" ".into()), ..args() }.settings().unwrap();
        assert_eq!(s.server.slack_signing_secret, None, "an empty secret is no secret");
    }

    #[test]
    fn slack_requests_need_a_bot_token_and_a_channel() {
        let a = ServeArgs { slack_bot_token: Some("xoxb-1".into()), slack_channel: Some("C1".into()), ..args() };
        let s = a.settings().unwrap();
        assert_eq!(
            (s.server.slack_bot_token.as_deref(), s.server.slack_channel.as_deref()),
            (Some("xoxb-1"), Some("C1"))
        );
        assert!(aiops_server::notify::SlackNotifier::from_config(&s.server).is_some());
        assert!(banner(&s, s.server.listen, false).contains("posted to Slack channel C1"));
        let s = ServeArgs { slack_bot_token: Some("xoxb-1".into()), slack_channel: Some(" ".into()), ..args() }
            .settings()
            .unwrap();
        assert!(aiops_server::notify::SlackNotifier::from_config(&s.server).is_none(), "no channel, no notifier");
        assert!(banner(&s, s.server.listen, false).contains("nothing is posted"));
    }

    #[test]
    fn without_a_token_only_loopback_is_bound_and_the_banner_says_so() {
        let a = ServeArgs { listen: Some("0.0.0.0:8080".parse().unwrap()), ..args() };
        let s = a.settings().unwrap();
        let (addr, narrowed) = s.server.effective_listen();
        assert!(narrowed);
        assert_eq!(addr, "127.0.0.1:8080".parse().unwrap());
        let b = banner(&s, addr, narrowed);
        assert!(b.contains("only loopback is bound"), "{b}");
        assert!(b.contains("not diagnosed"), "{b}");
        let a = ServeArgs {
            listen: Some("0.0.0.0:8080".parse().unwrap()),
            webhook_token: Some("hook".into()),
            api_token: Some(String::new()),
            ..args()
        };
        let s = a.settings().unwrap();
        assert_eq!(s.server.api_token, None, "an empty token is no token");
        assert!(s.server.effective_listen().1, "a webhook secret alone leaves the API open: loopback only");
        let a = ServeArgs { listen: Some("0.0.0.0:8080".parse().unwrap()), api_token: Some("t".into()), ..args() };
        assert_eq!(a.settings().unwrap().server.effective_listen(), ("0.0.0.0:8080".parse().unwrap(), false));
    }
}
