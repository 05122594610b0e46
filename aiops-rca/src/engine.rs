//! [`RulesEngine`]: the [`RuleEngine`] implementation that extracts signals, evaluates every
//! rule and ranks the findings.

use aiops_core::traits::{AnalysisContext, BoxError, Diagnosis, RuleEngine};

use crate::error::RcaError;
use crate::extract::extract;
use crate::rules::{self, DataRule, Rule, RuleContext};

/// The deterministic rule engine.
pub struct RulesEngine {
    rules: Vec<Box<dyn Rule>>,
}

impl std::fmt::Debug for RulesEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RulesEngine").field("rules", &self.rule_ids()).finish()
    }
}

impl RulesEngine {
    /// The built-in catalogue.
    ///
    /// The built-in rules are compiled into the crate and covered by tests, so this cannot
    /// fail at run time; if it ever did, the engine would have no rules and report `unknown`.
    pub fn builtin() -> Self {
        Self { rules: rules::builtin().unwrap_or_default() }
    }

    /// An engine with exactly these rules.
    pub fn with_rules(rules: Vec<Box<dyn Rule>>) -> Result<Self, RcaError> {
        rules::check_unique(&rules)?;
        Ok(Self { rules })
    }

    /// Adds a rule (e.g. from a custom rule crate).
    pub fn add_rule(mut self, rule: impl Rule + 'static) -> Result<Self, RcaError> {
        self.rules.push(Box::new(rule));
        rules::check_unique(&self.rules)?;
        Ok(self)
    }

    /// Adds every rule of a YAML/JSON rule file.
    pub fn add_rule_file(mut self, text: &str) -> Result<Self, RcaError> {
        for r in crate::rules::RuleFile::parse(text)? {
            self.rules.push(Box::new(r) as Box<dyn Rule>);
        }
        rules::check_unique(&self.rules)?;
        Ok(self)
    }

    /// The ids of every rule, in evaluation order.
    pub fn rule_ids(&self) -> Vec<&str> {
        self.rules.iter().map(|r| r.id()).collect()
    }

    /// The built-in data rules' specs (for documentation).
    pub fn builtin_specs() -> Vec<crate::rules::RuleSpec> {
        crate::rules::BUILTIN_RULE_FILES
            .iter()
            .filter_map(|f| crate::rules::RuleFile::parse(f).ok())
            .flat_map(|v| v.into_iter().map(|r: DataRule| r.spec().clone()))
            .collect()
    }
}

impl RuleEngine for RulesEngine {
    fn diagnose(&self, ctx: &AnalysisContext<'_>) -> Result<Diagnosis, BoxError> {
        let signals = extract(ctx);
        let rctx = RuleContext { analysis: ctx, signals: &signals, onset: ctx.incident.started_at.min(ctx.now) };
        let findings: Vec<_> = self
            .rules
            .iter()
            .flat_map(|r| {
                let _s = tracing::trace_span!("rule", id = r.id()).entered();
                r.evaluate(&rctx)
            })
            .collect();
        let (hypotheses, extra) = crate::rank::rank(ctx, &signals, findings);
        let mut evidence: Vec<_> = signals.items.into_iter().map(|s| s.evidence).collect();
        evidence.extend(extra);
        evidence.sort_by(|a, b| b.strength.total_cmp(&a.strength).then_with(|| a.id.cmp(&b.id)));
        evidence.dedup_by(|a, b| a.id == b.id);
        Ok(Diagnosis { evidence, hypotheses })
    }
}

/// The actions each cause's built-in rules propose: what an LLM-added hypothesis may propose
/// (`EngineBuilder::action_catalogue`).
pub fn action_catalogue() -> aiops_core::enrichment::ActionCatalogue {
    aiops_core::enrichment::ActionCatalogue::new(RulesEngine::builtin_specs().into_iter().map(|s| (s.cause, s.actions)))
}

/// The rules catalogue as a Markdown table (the README's rule list is generated from it).
pub fn catalogue_markdown() -> String {
    let mut out = String::from("| rule | cause | category | base | when | actions |\n|---|---|---|---|---|---|\n");
    for s in RulesEngine::builtin_specs() {
        let when: Vec<String> = s
            .when
            .iter()
            .map(|c| {
                let kinds: Vec<&str> = c.evidence.iter().map(|k| k.as_str()).collect();
                let mut d = kinds.join("/");
                if !c.reason.is_empty() {
                    d.push_str(&format!(" {}", c.reason.join("/")));
                }
                if let Some(m) = c.min {
                    d.push_str(&format!(" ≥ {m}"));
                }
                if let Some(w) = c.within_minutes {
                    d.push_str(&format!(" within {w} min"));
                }
                if c.absent { format!("no {d}") } else { d }
            })
            .collect();
        let actions: Vec<&str> = s.actions.iter().map(|a| a.as_str()).collect();
        out.push_str(&format!(
            "| `{}` | `{}` | {} | {:.2} | {} | {} |\n",
            s.id,
            s.cause,
            s.category.unwrap_or(s.cause.category()),
            s.base_confidence,
            when.join("; ").replace('|', "\\|"),
            actions.join(", ")
        ));
    }
    for (id, cause, what) in crate::rules::code::DESCRIPTIONS {
        out.push_str(&format!("| `{id}` | `{cause}` | {} | code | {what} | |\n", cause.category()));
    }
    out
}
