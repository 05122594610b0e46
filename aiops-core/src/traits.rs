//! The pluggable components the [`crate::Engine`] composes. Each is a small trait; tracing,
//! timeouts and retries wrap components instead of living inside them.

use async_trait::async_trait;
use jiff::Timestamp;

use crate::enrichment::Enrichment;
use crate::graph::EvidenceGraph;
use crate::model::{Alert, BlastRadius, Evidence, Hypothesis, Incident, PolicyDecision, RemediationAction, Runbook};
use crate::object::Inventory;
use crate::observation::{LogRecord, MetricSeries, Observations};

/// The error type components return: anything that explains itself.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What to collect for.
#[derive(Debug, Clone, Default)]
pub struct CollectRequest {
    /// The alert being investigated, if any (none: cluster scan).
    pub alert: Option<Alert>,
    /// Namespaces in scope (empty: all).
    pub namespaces: Vec<String>,
    /// Label selector in scope.
    pub selector: Option<String>,
    /// The analysis "now".
    pub now: Option<Timestamp>,
}

/// Gathers observations from one source (a bundle, the Kubernetes API, Prometheus, Loki...).
#[async_trait]
pub trait Collector: Send + Sync {
    /// A short stable name (`kubernetes`, `prometheus`, `bundle`, ...).
    fn name(&self) -> &str;
    /// Collects what the source knows. A failure makes the report partial, never aborts it.
    async fn collect(&self, request: &CollectRequest) -> Result<Observations, BoxError>;
}

/// Everything a rule engine may read.
#[derive(Debug, Clone, Copy)]
pub struct AnalysisContext<'a> {
    /// The incident.
    pub incident: &'a Incident,
    /// The alerts of the incident.
    pub alerts: &'a [Alert],
    /// Every object, typed.
    pub inventory: &'a Inventory,
    /// The evidence graph over those objects.
    pub graph: &'a EvidenceGraph,
    /// Container logs.
    pub logs: &'a [LogRecord],
    /// Metric results.
    pub metrics: &'a [MetricSeries],
    /// The analysis "now" (a bundle's capture time).
    pub now: Timestamp,
    /// The environment, if known.
    pub environment: Option<&'a str>,
}

/// The output of diagnosis: evidence and ranked hypotheses citing it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Diagnosis {
    /// Every evidence item.
    pub evidence: Vec<Evidence>,
    /// Ranked hypotheses (rank 1 first).
    pub hypotheses: Vec<Hypothesis>,
}

/// Produces ranked hypotheses from the graph. Deterministic: the same input gives the same order.
pub trait RuleEngine: Send + Sync {
    /// Diagnoses one incident.
    fn diagnose(&self, ctx: &AnalysisContext<'_>) -> Result<Diagnosis, BoxError>;
}

/// A shared rule engine is a rule engine, so one parsed catalogue can serve many engines.
impl<T: RuleEngine + ?Sized> RuleEngine for std::sync::Arc<T> {
    fn diagnose(&self, ctx: &AnalysisContext<'_>) -> Result<Diagnosis, BoxError> {
        (**self).diagnose(ctx)
    }
}

/// Explains and re-ranks a diagnosis. It only proposes: the engine validates the
/// [`Enrichment`] against the diagnosis and the graph ([`crate::enrichment::review`]) and
/// applies it only when every claim is grounded.
#[async_trait]
pub trait LlmEnricher: Send + Sync {
    /// Proposes an explanation, next checks, re-ranks and added hypotheses for one incident.
    /// Budgets and provider failures are reported in the [`Enrichment`], not as errors.
    async fn enrich(&self, ctx: &AnalysisContext<'_>, diagnosis: &Diagnosis) -> Enrichment;
    /// The provider name (`openai`, `gemini`, `ollama`).
    fn provider(&self) -> &str;
    /// The model name.
    fn model(&self) -> &str;
}

/// Writes the runbook for a diagnosis.
pub trait RunbookGenerator: Send + Sync {
    /// Builds the runbook with real names from the evidence.
    fn generate(&self, ctx: &AnalysisContext<'_>, diagnosis: &Diagnosis) -> Runbook;
}

/// Turns the top hypothesis into a concrete action and its blast radius.
pub trait RemediationPlanner: Send + Sync {
    /// The proposed action, if any action of the top hypothesis has a real target.
    fn plan(&self, ctx: &AnalysisContext<'_>, diagnosis: &Diagnosis) -> Option<(RemediationAction, BlastRadius)>;
}

/// Decides whether an action may run: allow, require approval, or deny.
#[async_trait]
pub trait PolicyGate: Send + Sync {
    /// Evaluates the policy input document.
    async fn evaluate(&self, input: &serde_json::Value) -> Result<PolicyDecision, BoxError>;
}

/// The outcome of executing an action.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ExecutionOutcome {
    /// Whether it succeeded.
    pub success: bool,
    /// True when nothing was changed (dry run).
    pub dry_run: bool,
    /// What was done.
    pub message: String,
}

/// Carries out an approved action. Must be idempotent on the action's idempotency key.
#[async_trait]
pub trait Executor: Send + Sync {
    /// Executes (or, with `dry_run`, only validates) the action.
    async fn execute(&self, action: &RemediationAction, dry_run: bool) -> Result<ExecutionOutcome, BoxError>;
}

/// The source of "now", so every time-dependent decision is testable.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock stopped at one instant.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub Timestamp);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0
    }
}
