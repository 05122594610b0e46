//! The [`Engine`]: one handle that runs collectors concurrently, builds the evidence graph,
//! diagnoses, enriches, writes the runbook, plans remediation and returns the [`Report`].

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tracing::Instrument;

use crate::alert::{incident_from_alert, scan_incident};
use crate::enrichment::{ActionCatalogue, Bounds, Enrichment, EnrichmentOutcome, EnrichmentReport, review};
use crate::error::{CoreError, Result};
use crate::graph::{EvidenceGraph, GraphStore, add_alerts, add_diagnosis, build_graph};
use crate::model::{
    Alert, CollectorFailure, CollectorRun, Decision, Incident, IncidentStatus, IncidentSummary, RemediationSummary,
    Report,
};
use crate::observation::Observations;
use crate::policy_input::PolicyInput;
use crate::traits::{
    AnalysisContext, Clock, CollectRequest, Collector, Diagnosis, LlmEnricher, PolicyGate, RemediationPlanner,
    RuleEngine, RunbookGenerator, SystemClock,
};

/// Default per-collector timeout.
pub const DEFAULT_COLLECTOR_TIMEOUT: Duration = Duration::from_secs(30);

/// Default outer time limit of the LLM enricher (enrichers also keep their own, smaller budget).
pub const DEFAULT_LLM_TIMEOUT: Duration = Duration::from_secs(120);

/// What to analyse.
#[derive(Debug, Clone, Default)]
pub struct AnalysisInput {
    /// The alert, if the analysis was triggered by one (otherwise a collector may supply one,
    /// or it is a cluster scan).
    pub alert: Option<Alert>,
    /// Namespaces in scope (empty: all).
    pub namespaces: Vec<String>,
    /// Label selector in scope.
    pub selector: Option<String>,
    /// Overrides the clock (a bundle's capture time wins over both).
    pub now: Option<Timestamp>,
    /// Overrides the environment the collectors report.
    pub environment: Option<String>,
}

/// Builds an [`Engine`].
#[derive(Default)]
pub struct EngineBuilder {
    collectors: Vec<Arc<dyn Collector>>,
    rules: Option<Arc<dyn RuleEngine>>,
    runbook: Option<Arc<dyn RunbookGenerator>>,
    llm: Option<Arc<dyn LlmEnricher>>,
    planner: Option<Arc<dyn RemediationPlanner>>,
    policy: Option<Arc<dyn PolicyGate>>,
    graph_store: Option<Arc<dyn GraphStore>>,
    clock: Option<Arc<dyn Clock>>,
    timeout: Option<Duration>,
    llm_timeout: Option<Duration>,
    catalogue: ActionCatalogue,
    bounds: Bounds,
}

impl EngineBuilder {
    /// Adds a collector; all collectors run concurrently.
    pub fn collector(mut self, c: impl Collector + 'static) -> Self {
        self.collectors.push(Arc::new(c));
        self
    }

    /// Sets the rule engine (required).
    pub fn rules(mut self, r: impl RuleEngine + 'static) -> Self {
        self.rules = Some(Arc::new(r));
        self
    }

    /// Sets the runbook generator.
    pub fn runbook(mut self, r: impl RunbookGenerator + 'static) -> Self {
        self.runbook = Some(Arc::new(r));
        self
    }

    /// Sets the optional LLM enricher.
    pub fn llm(mut self, l: impl LlmEnricher + 'static) -> Self {
        self.llm = Some(Arc::new(l));
        self
    }

    /// Sets the outer time limit of the LLM enricher; when it passes the report is returned
    /// with the enrichment marked `timed_out`.
    pub fn llm_timeout(mut self, t: Duration) -> Self {
        self.llm_timeout = Some(t);
        self
    }

    /// Sets the actions an LLM-added hypothesis may propose per cause (the rule catalogue).
    pub fn action_catalogue(mut self, c: ActionCatalogue) -> Self {
        self.catalogue = c;
        self
    }

    /// Sets the bounds LLM proposals must stay within.
    pub fn enrichment_bounds(mut self, b: Bounds) -> Self {
        self.bounds = b;
        self
    }

    /// Sets the remediation planner.
    pub fn planner(mut self, p: impl RemediationPlanner + 'static) -> Self {
        self.planner = Some(Arc::new(p));
        self
    }

    /// Sets the policy gate.
    pub fn policy_gate(mut self, p: impl PolicyGate + 'static) -> Self {
        self.policy = Some(Arc::new(p));
        self
    }

    /// Stores each incident's graph in `store`.
    pub fn graph_store(mut self, s: Arc<dyn GraphStore>) -> Self {
        self.graph_store = Some(s);
        self
    }

    /// Sets the clock (default: the system clock).
    pub fn clock(mut self, c: impl Clock + 'static) -> Self {
        self.clock = Some(Arc::new(c));
        self
    }

    /// Sets the per-collector timeout.
    pub fn collector_timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }

    /// Builds the engine; fails without a rule engine.
    pub fn build(self) -> Result<Engine> {
        Ok(Engine {
            collectors: self.collectors,
            rules: self.rules.ok_or(CoreError::MissingComponent("rule engine"))?,
            runbook: self.runbook,
            llm: self.llm,
            planner: self.planner,
            policy: self.policy,
            graph_store: self.graph_store,
            clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
            timeout: self.timeout.unwrap_or(DEFAULT_COLLECTOR_TIMEOUT),
            llm_timeout: self.llm_timeout.unwrap_or(DEFAULT_LLM_TIMEOUT),
            catalogue: Arc::new(self.catalogue),
            bounds: self.bounds,
        })
    }
}

/// Composes the components into the analysis pipeline. Cheap to clone and share.
#[derive(Clone)]
pub struct Engine {
    collectors: Vec<Arc<dyn Collector>>,
    rules: Arc<dyn RuleEngine>,
    runbook: Option<Arc<dyn RunbookGenerator>>,
    llm: Option<Arc<dyn LlmEnricher>>,
    planner: Option<Arc<dyn RemediationPlanner>>,
    policy: Option<Arc<dyn PolicyGate>>,
    graph_store: Option<Arc<dyn GraphStore>>,
    clock: Arc<dyn Clock>,
    timeout: Duration,
    llm_timeout: Duration,
    catalogue: Arc<ActionCatalogue>,
    bounds: Bounds,
}

impl Engine {
    /// Starts a builder.
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// The graph store every analysis writes its graph into, if one is configured (the
    /// server reads incident graphs back from it).
    pub fn graph_store(&self) -> Option<&Arc<dyn GraphStore>> {
        self.graph_store.as_ref()
    }

    /// Runs the whole pipeline for one input and returns the report.
    pub async fn analyze(&self, input: AnalysisInput) -> Result<Report> {
        Ok(self.analyze_with_graph(input).await?.0)
    }

    /// Like [`Engine::analyze`], also returning the incident's evidence graph.
    pub async fn analyze_with_graph(&self, input: AnalysisInput) -> Result<(Report, EvidenceGraph)> {
        let span = tracing::info_span!("analyze", collectors = self.collectors.len());
        self.analyze_inner(input).instrument(span).await
    }

    async fn analyze_inner(&self, input: AnalysisInput) -> Result<(Report, EvidenceGraph)> {
        let request = CollectRequest {
            alert: input.alert.clone(),
            namespaces: input.namespaces.clone(),
            selector: input.selector.clone(),
            now: input.now,
        };
        let (obs, errors, runs) = self.collect(request).instrument(tracing::info_span!("collect")).await;
        let now = obs.captured_at.or(input.now).unwrap_or_else(|| self.clock.now());
        let alerts: Vec<Alert> = input.alert.into_iter().chain(obs.alerts.iter().cloned()).collect();
        let mut incident = incident_for(&alerts, obs.cluster.as_deref(), now);
        let mut graph = build_graph(&obs.inventory, &incident);
        add_alerts(&mut graph, &incident, &alerts);
        let environment = input.environment.or(obs.environment.clone());
        let ctx = AnalysisContext {
            incident: &incident,
            alerts: &alerts,
            inventory: &obs.inventory,
            graph: &graph,
            logs: &obs.logs,
            metrics: &obs.metrics,
            now,
            environment: environment.as_deref(),
        };
        let mut diagnosis = {
            let _s = tracing::info_span!("diagnose").entered();
            self.rules.diagnose(&ctx).map_err(|e| CoreError::component("rule engine", e))?
        };
        let mut errors = errors;
        let enrichment = match &self.llm {
            Some(llm) => {
                Some(self.enrich(llm.as_ref(), &ctx, &mut diagnosis).instrument(tracing::info_span!("enrich")).await)
            }
            None => None,
        };
        let runbook = {
            let _s = tracing::info_span!("runbook").entered();
            self.runbook.as_ref().map(|r| r.generate(&ctx, &diagnosis)).unwrap_or_default()
        };
        let remediation = self.remediate(&ctx, &diagnosis).instrument(tracing::info_span!("policy")).await;
        add_diagnosis(&mut graph, &incident, &diagnosis);
        if let Some(store) = &self.graph_store {
            let snap = graph.snapshot();
            if let Err(e) = store.put(&incident.id, &snap).await {
                errors.push(CollectorFailure { collector: "graph_store".into(), error: e.to_string() });
            }
        }
        if diagnosis.hypotheses.iter().any(|h| h.cause != crate::cause::Cause::Unknown) {
            incident.status = IncidentStatus::Identified;
        }
        let report = Report {
            incident: IncidentSummary::from(&incident),
            partial: !errors.is_empty(),
            errors,
            collectors: runs,
            hypotheses: diagnosis.hypotheses,
            evidence: diagnosis.evidence,
            runbook,
            remediation,
            enrichment,
            analyzed_at: now,
        };
        Ok((report, graph))
    }

    async fn collect(&self, request: CollectRequest) -> (Observations, Vec<CollectorFailure>, Vec<CollectorRun>) {
        let request = Arc::new(request);
        let handles: Vec<_> = self
            .collectors
            .iter()
            .map(|c| {
                let (c, req, timeout) = (Arc::clone(c), Arc::clone(&request), self.timeout);
                let name = c.name().to_string();
                let span = tracing::info_span!("collector", name = %name);
                let task = tokio::spawn(
                    async move {
                        let started = std::time::Instant::now();
                        let out = tokio::time::timeout(timeout, c.collect(&req)).await;
                        let elapsed = started.elapsed();
                        tracing::debug!(elapsed_ms = elapsed.as_millis() as u64, "collector finished");
                        (out, elapsed)
                    }
                    .instrument(span),
                );
                (name, task)
            })
            .collect();
        let mut obs = Observations::default();
        let mut errors = Vec::new();
        let mut runs = Vec::new();
        for (name, task) in handles {
            let (outcome, elapsed) = match task.await {
                Ok((out, elapsed)) => (Ok(out), elapsed),
                Err(e) => (Err(e), self.timeout),
            };
            let duration_ms = (elapsed.as_secs_f64() * 1e5).round() / 100.0;
            let failure = match outcome {
                Ok(Ok(Ok(o))) => {
                    obs.merge(o);
                    runs.push(CollectorRun { collector: name, duration_ms, ok: true });
                    continue;
                }
                Ok(Ok(Err(e))) => e.to_string(),
                Ok(Err(_)) => format!("timed out after {:?}", self.timeout),
                Err(e) if e.is_panic() => "collector panicked".to_string(),
                Err(e) => e.to_string(),
            };
            tracing::warn!(collector = %name, error = %failure, "collector failed");
            runs.push(CollectorRun { collector: name.clone(), duration_ms, ok: false });
            errors.push(CollectorFailure { collector: name, error: failure });
        }
        (obs, errors, runs)
    }

    /// Runs the enricher within the outer time limit, then validates and applies its proposal.
    async fn enrich(&self, llm: &dyn LlmEnricher, ctx: &AnalysisContext<'_>, d: &mut Diagnosis) -> EnrichmentReport {
        let e = match tokio::time::timeout(self.llm_timeout, llm.enrich(ctx, d)).await {
            Ok(e) => e,
            Err(_) => Enrichment::without_call(
                llm.provider(),
                llm.model(),
                EnrichmentOutcome::TimedOut(format!("enrichment timed out after {:?}", self.llm_timeout)),
            ),
        };
        let report = review(ctx.graph, d, e, &self.catalogue, self.bounds);
        tracing::info!(status = %report.status, provider = %report.provider, model = %report.model, "enrichment");
        report
    }

    async fn remediate(&self, ctx: &AnalysisContext<'_>, d: &Diagnosis) -> Option<RemediationSummary> {
        let (action, blast) = self.planner.as_ref()?.plan(ctx, d)?;
        let environment = ctx.environment.unwrap_or("prod");
        let input = PolicyInput::new(&action, &blast, environment, ctx.now).incident(&ctx.incident.id).to_value();
        let policy_input = input.clone();
        let (decision, reasons) = match &self.policy {
            Some(gate) => match gate.evaluate(&input).await {
                Ok(p) => (p.decision, p.reasons),
                Err(e) => (Decision::Deny, vec![format!("policy evaluation failed: {e}")]),
            },
            None => (Decision::RequiresApproval, vec!["no policy gate configured: every action needs a human".into()]),
        };
        Some(RemediationSummary {
            action: action.action,
            target: action.target,
            blast_radius: blast.score,
            parameters: action.parameters,
            idempotency_key: action.idempotency_key,
            blast: Some(blast),
            policy_input,
            decision,
            reasons,
            dry_run: true,
        })
    }
}

fn incident_for(alerts: &[Alert], cluster: Option<&str>, now: Timestamp) -> Incident {
    let firing = alerts.iter().find(|a| a.status == "firing").or(alerts.first());
    match firing {
        Some(a) => incident_from_alert(a, cluster, now),
        None => scan_incident(cluster, now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Evidence, EvidenceKind, EvidenceSource, Hypothesis, ResourceRef};
    use crate::traits::{BoxError, FixedClock};
    use async_trait::async_trait;

    struct Fails;
    #[async_trait]
    impl Collector for Fails {
        fn name(&self) -> &str {
            "prometheus"
        }
        async fn collect(&self, _r: &CollectRequest) -> Result<Observations, BoxError> {
            Err("connection refused".into())
        }
    }

    struct Slow;
    #[async_trait]
    impl Collector for Slow {
        fn name(&self) -> &str {
            "loki"
        }
        async fn collect(&self, _r: &CollectRequest) -> Result<Observations, BoxError> {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok(Observations::default())
        }
    }

    struct Panics;
    #[async_trait]
    impl Collector for Panics {
        fn name(&self) -> &str {
            "buggy"
        }
        async fn collect(&self, _r: &CollectRequest) -> Result<Observations, BoxError> {
            panic!("bug in a collector")
        }
    }

    struct Works;
    #[async_trait]
    impl Collector for Works {
        fn name(&self) -> &str {
            "bundle"
        }
        async fn collect(&self, _r: &CollectRequest) -> Result<Observations, BoxError> {
            let b = crate::parse_bundle(
                br#"{"capturedAt":"2026-03-01T10:45:00Z","cluster":"c1",
                "objects":[{"apiVersion":"v1","kind":"Node","metadata":{"name":"n1"}}]}"#,
            )?;
            Ok(b.into_observations())
        }
    }

    /// Counts nodes and cites one evidence item per node.
    struct CountNodes;
    impl RuleEngine for CountNodes {
        fn diagnose(&self, ctx: &AnalysisContext<'_>) -> Result<Diagnosis, BoxError> {
            let evidence: Vec<Evidence> = ctx
                .inventory
                .nodes
                .iter()
                .map(|n| Evidence {
                    id: format!("ev-{}", n.metadata.name.clone().unwrap_or_default()),
                    kind: EvidenceKind::NodeCondition,
                    resource: ResourceRef::cluster("Node", n.metadata.name.as_deref().unwrap_or_default()),
                    summary: "node".into(),
                    strength: 0.5,
                    data: Default::default(),
                    observed_at: None,
                    source: EvidenceSource::KubernetesApi,
                })
                .collect();
            let hypotheses = evidence
                .iter()
                .map(|e| Hypothesis {
                    rank: 1,
                    cause: crate::Cause::NodeFailure,
                    category: crate::Category::InfrastructureIssue,
                    rule: "count".into(),
                    title: "t".into(),
                    explanation: "e".into(),
                    confidence: 0.5,
                    score: 0.5,
                    resource: Some(e.resource.clone()),
                    evidence: vec![e.id.clone()],
                    contradicting: vec![],
                    actions: vec![],
                    next_checks: vec![],
                    symptom_of: None,
                })
                .collect();
            Ok(Diagnosis { evidence, hypotheses })
        }
    }

    #[tokio::test]
    async fn failed_slow_and_panicking_collectors_make_a_partial_report() {
        let engine = Engine::builder()
            .collector(Works)
            .collector(Fails)
            .collector(Slow)
            .collector(Panics)
            .rules(CountNodes)
            .collector_timeout(Duration::from_millis(200))
            .build()
            .unwrap();
        let report = engine.analyze(AnalysisInput::default()).await.unwrap();
        assert!(report.partial);
        let errs: Vec<(&str, &str)> = report.errors.iter().map(|e| (e.collector.as_str(), e.error.as_str())).collect();
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(errs.contains(&("prometheus", "connection refused")));
        assert!(errs.iter().any(|(c, e)| *c == "loki" && e.contains("timed out")));
        assert!(errs.iter().any(|(c, e)| *c == "buggy" && e.contains("panicked")));
        assert_eq!(report.hypotheses.len(), 1, "the working collector's evidence is still diagnosed");
        let runs: Vec<(&str, bool)> = report.collectors.iter().map(|r| (r.collector.as_str(), r.ok)).collect();
        assert_eq!(runs, [("bundle", true), ("prometheus", false), ("loki", false), ("buggy", false)]);
        let loki = report.collectors.iter().find(|r| r.collector == "loki").unwrap();
        assert!(loki.duration_ms >= 200.0, "a timed-out collector ran until the timeout: {loki:?}");
        assert_eq!(report.incident.cluster, "c1");
        assert_eq!(report.analyzed_at.to_string(), "2026-03-01T10:45:00Z", "the capture time is now");
    }

    #[tokio::test]
    async fn the_clock_is_used_without_a_capture_time() {
        let at: Timestamp = "2026-05-01T00:00:00Z".parse().unwrap();
        let engine = Engine::builder().rules(CountNodes).clock(FixedClock(at)).build().unwrap();
        let report = engine.analyze(AnalysisInput::default()).await.unwrap();
        assert_eq!(report.analyzed_at, at);
        assert!(!report.partial);
        assert!(matches!(Engine::builder().build(), Err(CoreError::MissingComponent(_))));
    }

    struct Hangs;
    #[async_trait]
    impl LlmEnricher for Hangs {
        async fn enrich(&self, _ctx: &AnalysisContext<'_>, _d: &Diagnosis) -> Enrichment {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Enrichment::without_call("hangs", "m", EnrichmentOutcome::Skipped("never".into()))
        }
        fn provider(&self) -> &str {
            "hangs"
        }
        fn model(&self) -> &str {
            "m"
        }
    }

    #[tokio::test]
    async fn a_hanging_enricher_is_cut_off_and_the_report_still_returned() {
        let engine = Engine::builder()
            .collector(Works)
            .rules(CountNodes)
            .llm(Hangs)
            .llm_timeout(Duration::from_millis(100))
            .build()
            .unwrap();
        let report = engine.analyze(AnalysisInput::default()).await.unwrap();
        let e = report.enrichment.as_ref().unwrap();
        assert_eq!(e.status, crate::enrichment::EnrichmentStatus::TimedOut);
        assert!(e.reasons[0].contains("timed out after 100ms"), "{:?}", e.reasons);
        assert_eq!(report.hypotheses.len(), 1, "the deterministic result stands");
        assert!(!report.partial);
    }
}
