//! The [`Engine`]: one handle that runs collectors concurrently, builds the evidence graph,
//! diagnoses, enriches, writes the runbook, plans remediation and returns the [`Report`].

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tracing::Instrument;

use crate::alert::{incident_from_alert, scan_incident};
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
}

impl Engine {
    /// Starts a builder.
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
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
        if let Some(llm) = &self.llm {
            self.enrich(llm.as_ref(), &incident, &mut diagnosis, &mut errors)
                .instrument(tracing::info_span!("enrich"))
                .await;
        }
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
            partial: errors.iter().any(|e| e.collector != "llm"),
            errors,
            collectors: runs,
            hypotheses: diagnosis.hypotheses,
            evidence: diagnosis.evidence,
            runbook,
            remediation,
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

    async fn enrich(
        &self,
        llm: &dyn LlmEnricher,
        incident: &Incident,
        d: &mut Diagnosis,
        errors: &mut Vec<CollectorFailure>,
    ) {
        match llm.enrich(incident, d).await {
            Ok(revised) => match validate_enrichment(d, &revised) {
                Ok(()) => *d = revised,
                Err(why) => {
                    errors.push(CollectorFailure { collector: "llm".into(), error: format!("output discarded: {why}") })
                }
            },
            Err(e) => errors.push(CollectorFailure { collector: "llm".into(), error: e.to_string() }),
        }
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

/// Checks an LLM-revised diagnosis: same evidence, every hypothesis cites existing evidence,
/// confidence moved by at most 0.2 for hypotheses that existed.
pub fn validate_enrichment(before: &Diagnosis, after: &Diagnosis) -> std::result::Result<(), String> {
    if after.evidence != before.evidence {
        return Err("the evidence list was changed".into());
    }
    let ids: HashSet<&str> = before.evidence.iter().map(|e| e.id.as_str()).collect();
    for h in &after.hypotheses {
        if h.evidence.is_empty() {
            return Err(format!("hypothesis {:?} cites no evidence", h.title));
        }
        if let Some(bad) = h.evidence.iter().find(|e| !ids.contains(e.as_str())) {
            return Err(format!("hypothesis {:?} cites unknown evidence {bad}", h.title));
        }
        let old = before.hypotheses.iter().find(|o| o.rule == h.rule && o.resource == h.resource);
        if let Some(o) = old
            && (o.confidence - h.confidence).abs() > 0.2 + 1e-9
        {
            return Err(format!("confidence of {:?} moved by more than 0.2", h.title));
        }
        if !(0.0..=1.0).contains(&h.confidence) {
            return Err(format!("confidence {} out of range", h.confidence));
        }
    }
    Ok(())
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

    #[test]
    fn enrichment_that_invents_evidence_or_swings_confidence_is_rejected() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let base = rt.block_on(async {
            let engine = Engine::builder().collector(Works).rules(CountNodes).build().unwrap();
            let r = engine.analyze(AnalysisInput::default()).await.unwrap();
            Diagnosis { evidence: r.evidence, hypotheses: r.hypotheses }
        });
        assert!(validate_enrichment(&base, &base).is_ok());
        let mut invented = base.clone();
        invented.hypotheses[0].evidence = vec!["ev-made-up".into()];
        assert!(validate_enrichment(&base, &invented).unwrap_err().contains("unknown evidence"));
        let mut swing = base.clone();
        swing.hypotheses[0].confidence = 0.95;
        assert!(validate_enrichment(&base, &swing).unwrap_err().contains("moved"));
        let mut uncited = base.clone();
        uncited.hypotheses[0].evidence.clear();
        assert!(validate_enrichment(&base, &uncited).is_err());
    }
}
