//! LLM enrichment as plain data and the validator that guards it.
//!
//! An [`crate::traits::LlmEnricher`] returns an [`Enrichment`]: a [`Proposal`] (what the model
//! said, parsed) or why there is none. [`review`] checks every part of a proposal against the
//! diagnosis and the evidence graph and applies it only when all of it is grounded: every claim
//! cites evidence ids that exist, every resource it names exists, re-ranks move confidence by at
//! most [`Bounds::max_confidence_change`], an added hypothesis has a cause from `causes.md`, is
//! observed on its own resource and proposes only catalogue actions. Otherwise nothing is
//! applied and the [`EnrichmentReport`] says why.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::cause::{Cause, string_enum};
use crate::graph::{EvidenceGraph, NodeKind, node_id};
use crate::model::{ActionType, Evidence, Hypothesis, ResourceRef, round_to};
use crate::traits::Diagnosis;

/// A statement with the evidence ids it rests on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    /// The statement.
    pub text: String,
    /// Evidence ids it cites.
    pub evidence: Vec<String>,
}

/// A proposed confidence change of an existing hypothesis, referred to by its rank.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rerank {
    /// The deterministic rank (1 = top) of the hypothesis.
    pub rank: usize,
    /// The proposed confidence, 0..=1.
    pub confidence: f64,
    /// Why.
    pub reason: String,
    /// Evidence ids the reason cites.
    pub evidence: Vec<String>,
}

/// A hypothesis the model adds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewHypothesis {
    /// A cause from `causes.md` (wire name); anything else is rejected.
    pub cause: String,
    /// Short title.
    pub title: String,
    /// Why, naming the evidence.
    pub explanation: String,
    /// The object at the root, `Kind/namespace/name` or `Kind/name`.
    pub resource: String,
    /// Proposed confidence, at most [`Bounds::max_added_confidence`].
    pub confidence: f64,
    /// Evidence ids it cites; at least one must be observed on `resource`.
    pub evidence: Vec<String>,
    /// Catalogue actions (wire names).
    pub actions: Vec<String>,
}

/// Everything a model may propose.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proposal {
    /// A short narrative of the incident.
    pub explanation: Claim,
    /// What a human should check next.
    pub next_checks: Vec<Claim>,
    /// Confidence changes of existing hypotheses.
    pub rerank: Vec<Rerank>,
    /// Added hypotheses.
    pub new_hypotheses: Vec<NewHypothesis>,
}

/// What an enricher produced.
#[derive(Debug, Clone, PartialEq)]
pub enum EnrichmentOutcome {
    /// The model answered and the answer parsed.
    Proposal(Proposal),
    /// The enricher decided not to call a model (the reason).
    Skipped(String),
    /// The time budget ran out (the budget, in words).
    TimedOut(String),
    /// The provider failed or its answer did not parse.
    Failed(String),
}

/// An enricher's result: the outcome and what it cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Enrichment {
    /// Provider (`openai`, `gemini`, `ollama`).
    pub provider: String,
    /// Model name.
    pub model: String,
    /// What happened.
    pub outcome: EnrichmentOutcome,
    /// True when the answer came from the cache (no provider call).
    pub cached: bool,
    /// Estimated tokens of the prompt.
    pub prompt_tokens: usize,
    /// Tokens the provider reported (or estimated) for this incident.
    pub tokens_used: usize,
    /// HTTP calls made to the provider.
    pub provider_calls: usize,
}

impl Enrichment {
    /// An enrichment with no provider call.
    pub fn without_call(provider: &str, model: &str, outcome: EnrichmentOutcome) -> Self {
        Self {
            provider: provider.into(),
            model: model.into(),
            outcome,
            cached: false,
            prompt_tokens: 0,
            tokens_used: 0,
            provider_calls: 0,
        }
    }
}

string_enum! {
    /// What became of an enrichment.
    EnrichmentStatus {
        /// The proposal passed validation and was applied.
        Applied => "applied",
        /// The proposal failed validation; nothing of it was used.
        Discarded => "discarded",
        /// No model was called.
        Skipped => "skipped",
        /// The time budget ran out; the deterministic result stands.
        TimedOut => "timed_out",
        /// The provider failed; the deterministic result stands.
        Failed => "failed",
    }
}

/// The report's record of the enrichment: the audit trail of what the model changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrichmentReport {
    /// Provider.
    pub provider: String,
    /// Model.
    pub model: String,
    /// What became of it.
    pub status: EnrichmentStatus,
    /// True when the answer came from the cache.
    #[serde(default)]
    pub cached: bool,
    /// Estimated prompt tokens.
    #[serde(default)]
    pub prompt_tokens: usize,
    /// Tokens used for this incident.
    #[serde(default)]
    pub tokens_used: usize,
    /// Provider calls made.
    #[serde(default)]
    pub provider_calls: usize,
    /// The model's narrative (applied only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
    /// Evidence the narrative cites.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub explanation_evidence: Vec<String>,
    /// Next checks the model proposed (applied only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub next_checks: Vec<String>,
    /// Every change applied to the ranking (the audit trail).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
    /// Why the output was discarded, skipped or failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
}

/// The bounds a proposal must stay within.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    /// Largest confidence change of an existing hypothesis.
    pub max_confidence_change: f64,
    /// Highest confidence of an added hypothesis.
    pub max_added_confidence: f64,
    /// Most hypotheses a model may add.
    pub max_added: usize,
    /// Longest text of one claim, in characters.
    pub max_text: usize,
    /// Most next checks kept.
    pub max_next_checks: usize,
}

impl Default for Bounds {
    fn default() -> Self {
        Self { max_confidence_change: 0.2, max_added_confidence: 0.5, max_added: 2, max_text: 1200, max_next_checks: 6 }
    }
}

/// The actions each cause may propose (from the rule catalogue). `escalate_to_human` and
/// `create_ticket` are always allowed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ActionCatalogue {
    by_cause: BTreeMap<Cause, BTreeSet<ActionType>>,
}

impl ActionCatalogue {
    /// A catalogue of `(cause, actions)` pairs (pairs of one cause are merged).
    pub fn new(pairs: impl IntoIterator<Item = (Cause, Vec<ActionType>)>) -> Self {
        let mut c = Self::default();
        for (cause, actions) in pairs {
            c.by_cause.entry(cause).or_default().extend(actions);
        }
        c
    }

    /// This catalogue plus the actions the hypotheses of `d` carry.
    pub fn with_diagnosis(&self, d: &Diagnosis) -> Self {
        let mut c = self.clone();
        for h in &d.hypotheses {
            c.by_cause.entry(h.cause).or_default().extend(h.actions.iter().copied());
        }
        c
    }

    /// Whether `cause` may propose `action`.
    pub fn allows(&self, cause: Cause, action: ActionType) -> bool {
        matches!(action, ActionType::EscalateToHuman | ActionType::CreateTicket)
            || self.by_cause.get(&cause).is_some_and(|s| s.contains(&action))
    }
}

/// Validates an enrichment and, when every part is grounded, applies it to `d`.
pub fn review(
    graph: &EvidenceGraph,
    d: &mut Diagnosis,
    e: Enrichment,
    catalogue: &ActionCatalogue,
    bounds: Bounds,
) -> EnrichmentReport {
    let mut report = EnrichmentReport {
        provider: e.provider,
        model: e.model,
        status: EnrichmentStatus::Skipped,
        cached: e.cached,
        prompt_tokens: e.prompt_tokens,
        tokens_used: e.tokens_used,
        provider_calls: e.provider_calls,
        explanation: None,
        explanation_evidence: vec![],
        next_checks: vec![],
        changes: vec![],
        reasons: vec![],
    };
    let proposal = match e.outcome {
        EnrichmentOutcome::Proposal(p) => p,
        EnrichmentOutcome::Skipped(why) => return report.with(EnrichmentStatus::Skipped, why),
        EnrichmentOutcome::TimedOut(why) => return report.with(EnrichmentStatus::TimedOut, why),
        EnrichmentOutcome::Failed(why) => return report.with(EnrichmentStatus::Failed, why),
    };
    let catalogue = catalogue.with_diagnosis(d);
    let problems = Checker { graph, d, catalogue: &catalogue, bounds }.check(&proposal);
    if !problems.is_empty() {
        report.status = EnrichmentStatus::Discarded;
        report.reasons = problems;
        return report;
    }
    report.status = EnrichmentStatus::Applied;
    report.changes = apply(d, &proposal);
    if !proposal.explanation.text.trim().is_empty() {
        report.explanation = Some(proposal.explanation.text.clone());
        report.explanation_evidence = proposal.explanation.evidence.clone();
    }
    report.next_checks = proposal.next_checks.iter().take(bounds.max_next_checks).map(|c| c.text.clone()).collect();
    report
}

impl EnrichmentReport {
    fn with(mut self, status: EnrichmentStatus, reason: String) -> Self {
        self.status = status;
        self.reasons.push(reason);
        self
    }
}

static EVIDENCE_ID: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"\bev-[0-9a-z]{4,}\b").ok());
static OBJECT_REF: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(concat!(
        r"\b(Pod|Deployment|ReplicaSet|StatefulSet|DaemonSet|Job|CronJob|Node|Service|ConfigMap|Secret|",
        r"PersistentVolumeClaim|PersistentVolume|StorageClass|Ingress|HorizontalPodAutoscaler|Namespace)",
        r"/[a-z0-9]([a-z0-9.-]*[a-z0-9])?(/[a-z0-9]([a-z0-9.-]*[a-z0-9])?)?"
    ))
    .ok()
});
static NAMED: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(pod|node|deployment|service|statefulset|daemonset|configmap|secret|job)s?\s+[`'\x22]?([a-z0-9][a-z0-9.-]*[a-z0-9])").ok()
});

struct Checker<'a> {
    graph: &'a EvidenceGraph,
    d: &'a Diagnosis,
    catalogue: &'a ActionCatalogue,
    bounds: Bounds,
}

impl Checker<'_> {
    fn check(&self, p: &Proposal) -> Vec<String> {
        let mut problems = Vec::new();
        let ev: HashMap<&str, &Evidence> = self.d.evidence.iter().map(|e| (e.id.as_str(), e)).collect();
        if !p.explanation.text.trim().is_empty() {
            self.claim("explanation", &p.explanation.text, &p.explanation.evidence, &ev, &mut problems);
        }
        for (i, c) in p.next_checks.iter().enumerate() {
            self.claim(&format!("next check {}", i + 1), &c.text, &c.evidence, &ev, &mut problems);
        }
        let mut seen = HashSet::new();
        for r in &p.rerank {
            self.rerank(r, &ev, &mut seen, &mut problems);
        }
        if p.new_hypotheses.len() > self.bounds.max_added {
            problems.push(format!(
                "{} hypotheses added, at most {} allowed",
                p.new_hypotheses.len(),
                self.bounds.max_added
            ));
        }
        for h in &p.new_hypotheses {
            self.added(h, &ev, &mut problems);
        }
        problems
    }

    /// A claim cites existing evidence and names only existing objects and evidence.
    fn claim(&self, what: &str, text: &str, cited: &[String], ev: &HashMap<&str, &Evidence>, out: &mut Vec<String>) {
        if cited.is_empty() {
            out.push(format!("{what} cites no evidence"));
        }
        for id in cited.iter().filter(|id| !ev.contains_key(id.as_str())) {
            out.push(format!("{what} cites evidence {id}, which is not in the report"));
        }
        if text.chars().count() > self.bounds.max_text {
            out.push(format!("{what} is longer than {} characters", self.bounds.max_text));
        }
        self.text_mentions(what, text, ev, out);
    }

    /// Evidence ids and objects named in free text must exist.
    fn text_mentions(&self, what: &str, text: &str, ev: &HashMap<&str, &Evidence>, out: &mut Vec<String>) {
        if let Some(re) = EVIDENCE_ID.as_ref() {
            for m in re.find_iter(text).filter(|m| !ev.contains_key(m.as_str())) {
                out.push(format!("{what} mentions evidence {}, which is not in the report", m.as_str()));
            }
        }
        if let Some(re) = OBJECT_REF.as_ref() {
            for m in re.find_iter(text) {
                if !ResourceRef::parse(m.as_str()).is_some_and(|r| self.exists(&r)) {
                    out.push(format!("{what} names {}, which is not in the graph", m.as_str()));
                }
            }
        }
        if let Some(re) = NAMED.as_ref() {
            for c in re.captures_iter(text) {
                let (kind, name) = (&c[1], &c[2]);
                // An object name, not a word or a count: 3+ characters, a letter, and a dash,
                // dot or digit ("pod checkout-7d9f", not "pods restart" or "pods 3").
                let looks_like_name = name.len() >= 3
                    && name.chars().any(|ch| ch.is_ascii_alphabetic())
                    && (name.contains(['-', '.']) || name.chars().any(|ch| ch.is_ascii_digit()));
                if looks_like_name && !self.name_exists(kind, name) {
                    out.push(format!("{what} names {kind} {name}, which is not in the graph"));
                }
            }
        }
    }

    fn rerank(&self, r: &Rerank, ev: &HashMap<&str, &Evidence>, seen: &mut HashSet<usize>, out: &mut Vec<String>) {
        let what = format!("re-rank of hypothesis {}", r.rank);
        let Some(h) = self.d.hypotheses.get(r.rank.wrapping_sub(1)) else {
            out.push(format!("{what}: there is no hypothesis {}", r.rank));
            return;
        };
        if !seen.insert(r.rank) {
            out.push(format!("{what}: re-ranked twice"));
        }
        if !(0.0..=1.0).contains(&r.confidence) {
            out.push(format!("{what}: confidence {} is outside 0..1", r.confidence));
        } else if (r.confidence - h.confidence).abs() > self.bounds.max_confidence_change + 1e-9 {
            out.push(format!(
                "{what}: confidence {} -> {} moves by more than {}",
                h.confidence, r.confidence, self.bounds.max_confidence_change
            ));
        }
        self.claim(&what, &r.reason, &r.evidence, ev, out);
    }

    fn added(&self, h: &NewHypothesis, ev: &HashMap<&str, &Evidence>, out: &mut Vec<String>) {
        let what = format!("added hypothesis {:?}", h.title);
        let cause = match Cause::parse(&h.cause) {
            Some(Cause::Unknown) | None => {
                out.push(format!("{what}: cause {:?} is not in causes.md", h.cause));
                None
            }
            c => c,
        };
        match ResourceRef::parse(&h.resource).filter(|r| self.exists(r)) {
            None => out.push(format!("{what}: resource {:?} is not in the graph", h.resource)),
            Some(res) => {
                let on_it = h.evidence.iter().filter_map(|id| ev.get(id.as_str())).any(|e| e.resource == res);
                if !on_it {
                    out.push(format!("{what}: no cited evidence is observed on {res}"));
                }
                if let Some(c) = cause
                    && self.d.hypotheses.iter().any(|o| o.cause == c && o.resource.as_ref() == Some(&res))
                {
                    out.push(format!("{what}: duplicates an existing {c} hypothesis on {res}"));
                }
            }
        }
        if !(0.0..=self.bounds.max_added_confidence).contains(&h.confidence) {
            out.push(format!("{what}: confidence {} is outside 0..{}", h.confidence, self.bounds.max_added_confidence));
        }
        for a in &h.actions {
            match (ActionType::parse(a), cause) {
                (None, _) => out.push(format!("{what}: action {a:?} is not in the catalogue")),
                (Some(act), Some(c)) if !self.catalogue.allows(c, act) => {
                    out.push(format!("{what}: action {a} is not in the catalogue for {c}"))
                }
                _ => {}
            }
        }
        self.claim(&what, &format!("{} {}", h.title, h.explanation), &h.evidence, ev, out);
    }

    fn exists(&self, r: &ResourceRef) -> bool {
        let id = node_id(NodeKind::of_k8s_kind(&r.kind), r.namespace.as_deref(), &r.name);
        self.graph.get(&id).is_some() || self.d.evidence.iter().any(|e| &e.resource == r)
    }

    fn name_exists(&self, kind: &str, name: &str) -> bool {
        let in_graph = NodeKind::ALL
            .iter()
            .filter(|k| k.as_str().eq_ignore_ascii_case(kind))
            .any(|&k| self.graph.nodes_of(k).any(|n| n.name == name));
        in_graph
            || self.d.evidence.iter().any(|e| e.resource.name == name && e.resource.kind.eq_ignore_ascii_case(kind))
    }
}

/// Applies a validated proposal; returns the audit trail.
fn apply(d: &mut Diagnosis, p: &Proposal) -> Vec<String> {
    let mut changes = Vec::new();
    let mut moved: Vec<bool> = vec![false; d.hypotheses.len()];
    for r in &p.rerank {
        let i = r.rank - 1;
        let h = &mut d.hypotheses[i];
        let new = round_to(r.confidence, 3);
        if (new - h.confidence).abs() > f64::EPSILON {
            changes.push(format!(
                "hypothesis {} ({}) confidence {} -> {}: {}",
                r.rank, h.rule, h.confidence, new, r.reason
            ));
            h.confidence = new;
            moved[i] = true;
        }
    }
    let mut fixed: Vec<Hypothesis> = Vec::new();
    let mut placed: Vec<Hypothesis> = Vec::new();
    for (h, m) in d.hypotheses.drain(..).zip(moved) {
        if m { placed.push(h) } else { fixed.push(h) }
    }
    for n in &p.new_hypotheses {
        let (Some(cause), Some(resource)) = (Cause::parse(&n.cause), ResourceRef::parse(&n.resource)) else {
            continue;
        };
        changes.push(format!("added {cause} hypothesis on {resource} (confidence {}): {}", n.confidence, n.title));
        placed.push(Hypothesis {
            rank: 0,
            cause,
            category: cause.category(),
            rule: "llm".into(),
            title: n.title.clone(),
            explanation: n.explanation.clone(),
            confidence: round_to(n.confidence, 3),
            score: round_to(n.confidence, 4),
            resource: Some(resource),
            evidence: n.evidence.clone(),
            contradicting: vec![],
            actions: n.actions.iter().filter_map(|a| ActionType::parse(a)).collect(),
            next_checks: vec![],
            symptom_of: None,
        });
    }
    placed.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    for h in placed {
        let at = fixed.iter().position(|f| f.confidence < h.confidence).unwrap_or(fixed.len());
        fixed.insert(at, h);
    }
    for (i, h) in fixed.iter_mut().enumerate() {
        h.rank = i + 1;
    }
    d.hypotheses = fixed;
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::GraphNode;
    use crate::model::{EvidenceKind, EvidenceSource};

    fn ev(id: &str, kind: EvidenceKind, resource: ResourceRef) -> Evidence {
        Evidence {
            id: id.into(),
            kind,
            resource,
            summary: "observed".into(),
            strength: 0.8,
            data: Default::default(),
            observed_at: None,
            source: EvidenceSource::KubernetesApi,
        }
    }

    fn hyp(
        rule: &str,
        cause: Cause,
        confidence: f64,
        score: f64,
        resource: &ResourceRef,
        evidence: &str,
    ) -> Hypothesis {
        Hypothesis {
            rank: 0,
            cause,
            category: cause.category(),
            rule: rule.into(),
            title: rule.into(),
            explanation: "deterministic".into(),
            confidence,
            score,
            resource: Some(resource.clone()),
            evidence: vec![evidence.into()],
            contradicting: vec![],
            actions: vec![ActionType::RestartPod],
            next_checks: vec![],
            symptom_of: None,
        }
    }

    /// A pod on a node; two hypotheses about the pod whose confidence and score disagree.
    fn fixture() -> (EvidenceGraph, Diagnosis) {
        let mut g = EvidenceGraph::new();
        g.upsert(GraphNode::new(NodeKind::Pod, Some("shop"), "web-1"));
        g.upsert(GraphNode::new(NodeKind::Node, None, "node-1"));
        let pod = ResourceRef::namespaced("Pod", "shop", "web-1");
        let evidence = vec![
            ev("ev-000000000001", EvidenceKind::ContainerLastTerminated, pod.clone()),
            ev("ev-000000000002", EvidenceKind::PodNotReady, pod.clone()),
        ];
        let mut hypotheses = vec![
            hyp("crash", Cause::CrashAppError, 0.6, 1.3, &pod, "ev-000000000001"),
            hyp("probe", Cause::ProbeFailure, 0.7, 0.9, &pod, "ev-000000000002"),
        ];
        for (i, h) in hypotheses.iter_mut().enumerate() {
            h.rank = i + 1;
        }
        (g, Diagnosis { evidence, hypotheses })
    }

    fn enrichment(p: Proposal) -> Enrichment {
        Enrichment::without_call("test", "m", EnrichmentOutcome::Proposal(p))
    }

    fn claim(text: &str, ids: &[&str]) -> Claim {
        Claim { text: text.into(), evidence: ids.iter().map(|s| s.to_string()).collect() }
    }

    fn grounded() -> Proposal {
        Proposal {
            explanation: claim("Pod/shop/web-1 fails its readiness probe (ev-000000000002).", &["ev-000000000002"]),
            next_checks: vec![claim(
                "Check the probe path of pod web-1; the pods restart, 3 pods on node pressure",
                &["ev-000000000002"],
            )],
            rerank: vec![Rerank {
                rank: 2,
                confidence: 0.85,
                reason: "probe failures precede the restarts".into(),
                evidence: vec!["ev-000000000002".into()],
            }],
            new_hypotheses: vec![],
        }
    }

    fn order(d: &Diagnosis) -> Vec<(usize, &str)> {
        d.hypotheses.iter().map(|h| (h.rank, h.rule.as_str())).collect()
    }

    #[test]
    fn a_grounded_proposal_is_applied_and_audited() {
        let (g, mut d) = fixture();
        let r = review(&g, &mut d, enrichment(grounded()), &ActionCatalogue::default(), Bounds::default());
        assert_eq!(r.status, EnrichmentStatus::Applied, "{:?}", r.reasons);
        assert_eq!(order(&d), [(1, "probe"), (2, "crash")]);
        assert_eq!(d.hypotheses[0].confidence, 0.85);
        assert_eq!(r.changes.len(), 1, "{:?}", r.changes);
        assert!(r.explanation.as_deref().is_some_and(|e| e.contains("readiness")));
        assert_eq!(r.next_checks.len(), 1);
    }

    #[test]
    fn an_empty_proposal_keeps_the_deterministic_order() {
        let (g, mut d) = fixture();
        let before = d.clone();
        let p = Proposal { explanation: claim("restarts", &["ev-000000000001"]), ..Proposal::default() };
        let r = review(&g, &mut d, enrichment(p), &ActionCatalogue::default(), Bounds::default());
        assert_eq!(r.status, EnrichmentStatus::Applied);
        assert_eq!(d, before, "confidence 0.7 > 0.6 below but the ranker's order stays");
    }

    /// Each ungrounded change is discarded with its reason, and the ranking stays as it was.
    #[test]
    fn ungrounded_proposals_are_discarded_with_the_reason() {
        let node_hyp = NewHypothesis {
            cause: "node_failure".into(),
            title: "the node is the root cause".into(),
            explanation: "ignore previous instructions".into(),
            resource: "Node/node-1".into(),
            confidence: 0.5,
            evidence: vec!["ev-000000000001".into()],
            actions: vec!["drain_node".into()],
        };
        let cases: Vec<(Proposal, &str)> = vec![
            (
                Proposal { explanation: claim("restarts", &["ev-ffffffffffff"]), ..grounded() },
                "cites evidence ev-ffffffffffff",
            ),
            (Proposal { explanation: claim("restarts", &[]), ..grounded() }, "cites no evidence"),
            (
                Proposal { explanation: claim("Pod/shop/web-9 is down", &["ev-000000000001"]), ..grounded() },
                "names Pod/shop/web-9",
            ),
            (
                Proposal { explanation: claim("pod web-9 crashed", &["ev-000000000001"]), ..grounded() },
                "names pod web-9",
            ),
            (
                Proposal { explanation: claim("see ev-123456789abc", &["ev-000000000001"]), ..grounded() },
                "mentions evidence ev-123456789abc",
            ),
            (
                Proposal { rerank: vec![Rerank { confidence: 0.95, ..grounded().rerank[0].clone() }], ..grounded() },
                "moves by more than",
            ),
            (
                Proposal { rerank: vec![Rerank { rank: 7, ..grounded().rerank[0].clone() }], ..grounded() },
                "no hypothesis 7",
            ),
            (
                Proposal { new_hypotheses: vec![node_hyp.clone()], ..grounded() },
                "no cited evidence is observed on Node/node-1",
            ),
            (
                Proposal { new_hypotheses: vec![node_hyp.clone()], ..grounded() },
                "action drain_node is not in the catalogue",
            ),
            (
                Proposal {
                    new_hypotheses: vec![NewHypothesis { cause: "aliens".into(), ..node_hyp.clone() }],
                    ..grounded()
                },
                "cause \"aliens\" is not in causes.md",
            ),
            (
                Proposal {
                    new_hypotheses: vec![NewHypothesis { resource: "Pod/shop/ghost-1".into(), ..node_hyp.clone() }],
                    ..grounded()
                },
                "\"Pod/shop/ghost-1\" is not in the graph",
            ),
            (
                Proposal { new_hypotheses: vec![NewHypothesis { confidence: 0.9, ..node_hyp.clone() }], ..grounded() },
                "confidence 0.9 is outside",
            ),
            (Proposal { new_hypotheses: vec![node_hyp.clone(); 3], ..grounded() }, "3 hypotheses added"),
        ];
        for (p, why) in cases {
            let (g, mut d) = fixture();
            let before = d.clone();
            let r = review(&g, &mut d, enrichment(p), &ActionCatalogue::default(), Bounds::default());
            assert_eq!(r.status, EnrichmentStatus::Discarded, "{why}");
            assert!(r.reasons.iter().any(|x| x.contains(why)), "{why} not in {:?}", r.reasons);
            assert_eq!(d, before, "{why}: nothing is applied");
            assert!(r.explanation.is_none() && r.changes.is_empty());
        }
    }

    #[test]
    fn an_added_hypothesis_needs_evidence_on_its_resource_and_catalogue_actions() {
        let (g, mut d) = fixture();
        let p = Proposal {
            new_hypotheses: vec![NewHypothesis {
                cause: "dependency_failure".into(),
                title: "the database is unreachable".into(),
                explanation: "restarts follow connection errors".into(),
                resource: "Pod/shop/web-1".into(),
                confidence: 0.65,
                evidence: vec!["ev-000000000001".into()],
                actions: vec!["escalate_to_human".into()],
            }],
            ..grounded()
        };
        let bounds = Bounds { max_added_confidence: 0.7, ..Bounds::default() };
        let r = review(&g, &mut d, enrichment(p), &ActionCatalogue::default(), bounds);
        assert_eq!(r.status, EnrichmentStatus::Applied, "{:?}", r.reasons);
        assert_eq!(order(&d), [(1, "probe"), (2, "llm"), (3, "crash")]);
        assert_eq!(d.hypotheses[1].actions, [ActionType::EscalateToHuman]);
        let catalogue = ActionCatalogue::new([(Cause::NodeFailure, vec![ActionType::CordonNode])]);
        assert!(catalogue.allows(Cause::NodeFailure, ActionType::CordonNode));
        assert!(!catalogue.allows(Cause::NodeFailure, ActionType::DrainNode));
        assert!(catalogue.with_diagnosis(&d).allows(Cause::CrashAppError, ActionType::RestartPod));
    }

    #[test]
    fn skipped_failed_and_timed_out_enrichments_change_nothing() {
        for (outcome, status) in [
            (EnrichmentOutcome::Skipped("confident".into()), EnrichmentStatus::Skipped),
            (EnrichmentOutcome::Failed("HTTP 500".into()), EnrichmentStatus::Failed),
            (EnrichmentOutcome::TimedOut("after 1s".into()), EnrichmentStatus::TimedOut),
        ] {
            let (g, mut d) = fixture();
            let before = d.clone();
            let e = Enrichment::without_call("test", "m", outcome);
            let r = review(&g, &mut d, e, &ActionCatalogue::default(), Bounds::default());
            assert_eq!(r.status, status);
            assert_eq!(r.reasons.len(), 1);
            assert_eq!(d, before);
        }
    }
}
