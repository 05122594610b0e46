//! Rules: the [`Rule`] trait for rules that need code, and [`DataRule`]s, rules as data in a
//! documented YAML/JSON format (see `builtin.yaml` and the README) loadable at runtime.

pub mod changes;
pub mod code;

use std::collections::BTreeMap;

use aiops_core::cause::{Category, Cause};
use aiops_core::model::{ActionType, EvidenceKind, ResourceRef};
use aiops_core::traits::AnalysisContext;
use jiff::{SignedDuration, Timestamp};
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::error::RcaError;
use crate::extract::{Signal, Signals};

/// What a rule found: one candidate hypothesis before scoring.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The rule id.
    pub rule: String,
    /// The cause.
    pub cause: Cause,
    /// The category (defaults to the cause's).
    pub category: Category,
    /// Title.
    pub title: String,
    /// What the rule means.
    pub description: String,
    /// The rule's base confidence.
    pub base_confidence: f64,
    /// The strength of each matched condition.
    pub strengths: Vec<f64>,
    /// The root object.
    pub resource: ResourceRef,
    /// Evidence ids that support it.
    pub evidence: Vec<String>,
    /// Evidence ids that speak against it.
    pub contradicting: Vec<String>,
    /// Actions from the catalogue.
    pub actions: Vec<ActionType>,
    /// What to check next.
    pub next_checks: Vec<String>,
}

/// Everything a rule may read.
#[derive(Debug, Clone, Copy)]
pub struct RuleContext<'a> {
    /// The analysis context (incident, objects, graph, logs, metrics, now).
    pub analysis: &'a AnalysisContext<'a>,
    /// The extracted signals.
    pub signals: &'a Signals,
    /// The incident's onset, from which recency is measured.
    pub onset: Timestamp,
}

/// A diagnosis rule.
pub trait Rule: Send + Sync {
    /// The stable rule id.
    fn id(&self) -> &str;
    /// Every finding of this rule in one analysis.
    fn evaluate(&self, ctx: &RuleContext<'_>) -> Vec<Finding>;
}

/// One condition of a data rule, matched against the signals of one subject.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// Evidence kinds that may match.
    pub evidence: Vec<EvidenceKind>,
    /// Kinds of the object the evidence was observed on (empty: any), e.g. `[Job]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on: Vec<String>,
    /// `data.reason` values that match (empty: any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reason: Vec<String>,
    /// Regular expression over `data.message` (or the summary).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Minimum of `data.value` (or `data.count`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Only evidence observed at most this many minutes before the onset (or after it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within_minutes: Option<i64>,
    /// True: the condition holds when no signal matches.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub absent: bool,
    /// Strength added when the condition holds.
    pub strength: f64,
}

/// A rule as data.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Stable id.
    pub id: String,
    /// Title of the hypothesis.
    pub title: String,
    /// What it means.
    pub description: String,
    /// The cause.
    pub cause: Cause,
    /// The category (default: the cause's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Category>,
    /// Base confidence 0..=1.
    pub base_confidence: f64,
    /// Every condition must hold.
    pub when: Vec<Condition>,
    /// If any of these holds, the rule does not fire.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unless: Vec<Condition>,
    /// Actions, most appropriate first.
    #[serde(default)]
    pub actions: Vec<ActionType>,
    /// Checks for a human.
    #[serde(default)]
    pub next_checks: Vec<String>,
}

/// A file of data rules.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    /// The rules.
    pub rules: Vec<RuleSpec>,
}

impl RuleFile {
    /// Parses a rule file (YAML or JSON), naming the path of a bad field.
    pub fn parse(text: &str) -> Result<Vec<DataRule>, RcaError> {
        let value: serde_json::Value = serde_norway::from_str(text)
            .map_err(|e| RcaError::InvalidRules { path: ".".into(), message: e.to_string() })?;
        let file: RuleFile = serde_path_to_error::deserialize(&value)
            .map_err(|e| RcaError::InvalidRules { path: e.path().to_string(), message: e.inner().to_string() })?;
        file.rules.into_iter().map(DataRule::new).collect()
    }
}

/// A compiled data rule.
#[derive(Debug, Clone)]
pub struct DataRule {
    spec: RuleSpec,
    when: Vec<Option<Regex>>,
    unless: Vec<Option<Regex>>,
}

fn compile(rule: &str, conds: &[Condition]) -> Result<Vec<Option<Regex>>, RcaError> {
    conds
        .iter()
        .map(|c| {
            c.message
                .as_deref()
                .map(|p| {
                    Regex::new(p).map_err(|e| RcaError::BadPattern {
                        rule: rule.into(),
                        pattern: p.into(),
                        message: e.to_string(),
                    })
                })
                .transpose()
        })
        .collect()
}

impl DataRule {
    /// Compiles a spec.
    pub fn new(spec: RuleSpec) -> Result<Self, RcaError> {
        let bad = |m: &str| RcaError::InvalidRules { path: format!("rules[{}]", spec.id), message: m.into() };
        if !(0.0..=1.0).contains(&spec.base_confidence) {
            return Err(bad("base_confidence must be within 0..=1"));
        }
        if spec.when.is_empty() || spec.when.iter().all(|c| c.absent) {
            return Err(bad("a rule needs at least one condition that is not `absent`"));
        }
        let when = compile(&spec.id, &spec.when)?;
        let unless = compile(&spec.id, &spec.unless)?;
        Ok(Self { spec, when, unless })
    }

    /// The spec.
    pub fn spec(&self) -> &RuleSpec {
        &self.spec
    }

    fn finding(&self, subject: &ResourceRef, strengths: Vec<f64>, evidence: Vec<String>) -> Finding {
        let s = &self.spec;
        Finding {
            rule: s.id.clone(),
            cause: s.cause,
            category: s.category.unwrap_or(s.cause.category()),
            title: s.title.clone(),
            description: s.description.clone(),
            base_confidence: s.base_confidence,
            strengths,
            resource: subject.clone(),
            evidence,
            contradicting: Vec::new(),
            actions: s.actions.clone(),
            next_checks: s.next_checks.clone(),
        }
    }
}

/// True when `signal` satisfies the positive part of `c`.
pub fn matches(c: &Condition, re: Option<&Regex>, signal: &Signal, onset: Timestamp) -> bool {
    let e = &signal.evidence;
    if !c.evidence.contains(&e.kind) {
        return false;
    }
    if !c.on.is_empty() && !c.on.contains(&e.resource.kind) {
        return false;
    }
    if !c.reason.is_empty() && !signal.reason().is_some_and(|r| c.reason.iter().any(|x| x == r)) {
        return false;
    }
    if let Some(re) = re {
        let text = e.str("message").filter(|m| !m.is_empty()).unwrap_or(&e.summary);
        if !re.is_match(text) {
            return false;
        }
    }
    if let Some(min) = c.min
        && !e.num("value").or(e.num("count")).is_some_and(|v| v >= min)
    {
        return false;
    }
    if let Some(mins) = c.within_minutes {
        let Some(at) = e.observed_at else { return false };
        if at < onset - SignedDuration::from_mins(mins) {
            return false;
        }
    }
    true
}

impl Rule for DataRule {
    fn id(&self) -> &str {
        &self.spec.id
    }

    fn evaluate(&self, ctx: &RuleContext<'_>) -> Vec<Finding> {
        let mut out = Vec::new();
        for (subject, signals) in ctx.signals.by_subject() {
            let hit = |c: &Condition, re: &Option<Regex>| -> Vec<&Signal> {
                signals.iter().copied().filter(|s| matches(c, re.as_ref(), s, ctx.onset)).collect()
            };
            if self.spec.unless.iter().zip(&self.unless).any(|(c, re)| hit(c, re).is_empty() == c.absent) {
                continue;
            }
            let mut strengths = Vec::new();
            let mut evidence = Vec::new();
            let mut ok = true;
            for (c, re) in self.spec.when.iter().zip(&self.when) {
                let hits = hit(c, re);
                if hits.is_empty() != c.absent {
                    ok = false;
                    break;
                }
                strengths.push(c.strength);
                evidence.extend(hits.iter().map(|s| s.evidence.id.clone()));
            }
            if ok {
                evidence.sort();
                evidence.dedup();
                out.push(self.finding(subject, strengths, evidence));
            }
        }
        out
    }
}

/// The built-in data rules (`builtin.yaml`).
pub const BUILTIN_RULES: &str = include_str!("builtin.yaml");

/// The built-in data rules for custom resources (`custom_resources.yaml`).
pub const CUSTOM_RESOURCE_RULES: &str = include_str!("custom_resources.yaml");

/// Every built-in data rule file.
pub const BUILTIN_RULE_FILES: &[&str] = &[BUILTIN_RULES, CUSTOM_RESOURCE_RULES];

/// Every built-in rule: the data rules and the code rules.
pub fn builtin() -> Result<Vec<Box<dyn Rule>>, RcaError> {
    let mut rules: Vec<Box<dyn Rule>> = Vec::new();
    for file in BUILTIN_RULE_FILES {
        rules.extend(RuleFile::parse(file)?.into_iter().map(|r| Box::new(r) as Box<dyn Rule>));
    }
    rules.extend(code::rules());
    check_unique(&rules)?;
    Ok(rules)
}

/// Fails on duplicate rule ids.
pub fn check_unique(rules: &[Box<dyn Rule>]) -> Result<(), RcaError> {
    let mut seen = BTreeMap::new();
    for r in rules {
        if seen.insert(r.id().to_string(), ()).is_some() {
            return Err(RcaError::DuplicateRule(r.id().to_string()));
        }
    }
    Ok(())
}
