//! Logs and traces of the `aiops` command line: the stderr log (text or JSON, `AIOPS_LOG`
//! filter) and, with the `otlp` feature, an OTLP/HTTP (protobuf) exporter of the pipeline's
//! spans (`analyze`, `collect`, `collector`, `diagnose`, `runbook`, `policy`, `incident_workflow`,
//! ...), batched and flushed by [`Telemetry::shutdown`].
//!
//! The exporter exists only when an endpoint is configured: `--otlp-endpoint URL` (a base URL,
//! `/v1/traces` is appended), else `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (used as is), else
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (`/v1/traces` appended). `OTEL_SDK_DISABLED=true` or
//! `OTEL_TRACES_EXPORTER=none` turn it off. The service name is `OTEL_SERVICE_NAME`, `aiops` by
//! default; `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_EXPORTER_OTLP_HEADERS` and the timeout and
//! compression variables are read by the exporter as usual.

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::cli::LogFormat;

/// The OTLP/HTTP path of the traces signal, appended to base endpoints.
pub const TRACES_PATH: &str = "/v1/traces";

/// The service name when `OTEL_SERVICE_NAME` is not set.
pub const DEFAULT_SERVICE_NAME: &str = "aiops";

/// What exports spans, when an endpoint is configured; flush it with [`Telemetry::shutdown`]
/// (also done on drop) before the process exits, or the last batch is lost.
#[derive(Debug, Default)]
#[must_use = "spans are flushed only by Telemetry::shutdown (or its drop)"]
pub struct Telemetry {
    #[cfg(feature = "otlp")]
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
    endpoint: Option<String>,
}

impl Telemetry {
    /// The traces endpoint spans are exported to; `None` when there is no exporter.
    pub fn otlp_endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    /// Exports the spans still buffered and stops the exporter (waits at most the exporter's
    /// timeout, `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`, 10 s by default). Idempotent.
    pub fn shutdown(&mut self) {
        #[cfg(feature = "otlp")]
        if let Some(provider) = self.provider.take()
            && let Err(e) = provider.shutdown()
        {
            eprintln!("warning: OTLP trace export: {e}");
        }
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The OTLP traces endpoint from the `--otlp-endpoint` flag and the environment (`env` looks a
/// variable up; empty values count as unset); `None`: no exporter.
pub fn traces_endpoint(flag: Option<&str>, env: impl Fn(&str) -> Option<String>) -> Option<String> {
    let var = |name: &str| env(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    if var("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"))
        || var("OTEL_TRACES_EXPORTER").is_some_and(|v| v.eq_ignore_ascii_case("none"))
    {
        return None;
    }
    if let Some(base) = flag.map(str::trim).filter(|v| !v.is_empty()) {
        return Some(with_traces_path(base));
    }
    if let Some(url) = var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
        return Some(url);
    }
    var("OTEL_EXPORTER_OTLP_ENDPOINT").map(|base| with_traces_path(&base))
}

/// The service name: `OTEL_SERVICE_NAME`, else [`DEFAULT_SERVICE_NAME`].
pub fn service_name(env: impl Fn(&str) -> Option<String>) -> String {
    env("OTEL_SERVICE_NAME")
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| DEFAULT_SERVICE_NAME.to_string())
}

fn with_traces_path(base: &str) -> String {
    if base.trim_end_matches('/').ends_with(TRACES_PATH) {
        base.to_string()
    } else {
        format!("{}{TRACES_PATH}", base.trim_end_matches('/'))
    }
}

/// Installs the global subscriber: the stderr log (`format`, filtered by `log_filter`) and, when
/// [`traces_endpoint`] gives one, the OTLP exporter of the `info` spans (its own filter, so the
/// spans are exported whatever `AIOPS_LOG` says). Call it outside an async runtime.
pub fn init(format: LogFormat, log_filter: EnvFilter, otlp_flag: Option<&str>) -> Telemetry {
    let mut layers: Vec<Box<dyn Layer<Registry> + Send + Sync>> = Vec::new();
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = match format {
        LogFormat::Text => fmt.boxed(),
        LogFormat::Json => fmt.json().boxed(),
    };
    layers.push(fmt.with_filter(log_filter).boxed());

    let endpoint = traces_endpoint(otlp_flag, |k| std::env::var(k).ok());
    #[cfg(feature = "otlp")]
    let telemetry = match endpoint {
        Some(endpoint) => match otlp::provider(&endpoint, &service_name(|k| std::env::var(k).ok())) {
            Ok(provider) => {
                layers.push(otlp::layer(&provider));
                Telemetry { provider: Some(provider), endpoint: Some(endpoint) }
            }
            Err(e) => {
                eprintln!("warning: no OTLP trace export to {endpoint}: {e}");
                Telemetry::default()
            }
        },
        None => Telemetry::default(),
    };
    #[cfg(not(feature = "otlp"))]
    let telemetry = {
        if let Some(endpoint) = endpoint {
            eprintln!("warning: this aiops is built without the `otlp` feature: spans are not exported to {endpoint}");
        }
        Telemetry::default()
    };
    // Fails only when a global subscriber is already installed (then that one stays).
    let _ = tracing_subscriber::registry().with(layers).try_init();
    if let Some(endpoint) = telemetry.otlp_endpoint() {
        tracing::debug!(endpoint, "exporting spans over OTLP/HTTP");
    }
    telemetry
}

#[cfg(feature = "otlp")]
mod otlp {
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_otlp::{Protocol, WithExportConfig};
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing_subscriber::{EnvFilter, Layer, Registry};

    /// The spans the exporter gets: `info` and above, none from the HTTP stack it uses itself
    /// (that would feed its own export back into it).
    const FILTER: &str = "info,hyper=off,hyper_util=off,h2=off,reqwest=off,opentelemetry=off,opentelemetry_sdk=off,opentelemetry_otlp=off,opentelemetry_http=off";

    /// A tracer provider with the batch span processor (its own export thread) and the OTLP/HTTP
    /// protobuf exporter on reqwest's blocking client.
    pub(super) fn provider(endpoint: &str, service: &str) -> Result<SdkTracerProvider, String> {
        // reqwest is built without a bundled crypto provider (https endpoints); use ring, as kube does.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(endpoint)
            .build()
            .map_err(|e| e.to_string())?;
        let resource = opentelemetry_sdk::Resource::builder().with_service_name(service.to_string()).build();
        Ok(SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource).build())
    }

    pub(super) fn layer(provider: &SdkTracerProvider) -> Box<dyn Layer<Registry> + Send + Sync> {
        let tracer = provider.tracer("aiops");
        tracing_opentelemetry::layer().with_tracer(tracer).with_filter(EnvFilter::new(FILTER)).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn no_endpoint_no_exporter() {
        assert_eq!(traces_endpoint(None, env(&[])), None);
        assert_eq!(traces_endpoint(Some(""), env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", " ")])), None);
        assert_eq!(traces_endpoint(None, env(&[("OTEL_SERVICE_NAME", "x")])), None);
    }

    #[test]
    fn endpoint_precedence_and_paths() {
        let base = [("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")];
        assert_eq!(traces_endpoint(None, env(&base)).as_deref(), Some("http://collector:4318/v1/traces"));
        let both =
            [("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318"), ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://b/t")];
        assert_eq!(traces_endpoint(None, env(&both)).as_deref(), Some("http://b/t"));
        assert_eq!(traces_endpoint(Some("http://c:4318"), env(&both)).as_deref(), Some("http://c:4318/v1/traces"));
        assert_eq!(traces_endpoint(Some("http://c/v1/traces"), env(&[])).as_deref(), Some("http://c/v1/traces"));
        let off = [("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318"), ("OTEL_SDK_DISABLED", "TRUE")];
        assert_eq!(traces_endpoint(Some("http://c"), env(&off)), None);
        let none = [("OTEL_TRACES_EXPORTER", "none"), ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://b/t")];
        assert_eq!(traces_endpoint(None, env(&none)), None);
    }

    #[test]
    fn service_name_defaults_to_aiops() {
        assert_eq!(service_name(env(&[])), "aiops");
        assert_eq!(service_name(env(&[("OTEL_SERVICE_NAME", "")])), "aiops");
        assert_eq!(service_name(env(&[("OTEL_SERVICE_NAME", "aiops-prod")])), "aiops-prod");
    }
}
