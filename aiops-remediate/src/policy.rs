//! The Rego policy gate: [`RegoPolicyGate`] evaluates the policy input document
//! ([`PolicyInput`]) with [regorus] against the shipped default policy ([`DEFAULT_POLICY`]) or
//! the user's own policy files and data.
//!
//! A policy answers in package `remediation` (configurable) either with `result :=
//! {"decision": ..., "reasons": [...]}` (the default policy does) or in the original style
//! with `allow`, `requires_approval` and `deny`; the gate reads whichever is there. It fails
//! closed: no decision means deny.

use std::path::Path;

use aiops_core::model::{Decision, PolicyDecision};
pub use aiops_core::policy_input::{PolicyInput, risk_of};
use aiops_core::traits::{BoxError, PolicyGate};
use async_trait::async_trait;
use serde_json::{Value, json};

use crate::error::{RemediateError, Result};

/// The shipped default policy (`policy/remediation.rego`): the original semantics, bugs fixed.
pub const DEFAULT_POLICY: &str = include_str!("../policy/remediation.rego");

/// The package a policy answers in unless told otherwise.
pub const DEFAULT_PACKAGE: &str = "remediation";

/// Checks the documented fields of an input document and fills `freeze_active` (false).
pub fn validate_input(input: &Value) -> Result<Value> {
    let obj = input.as_object().ok_or_else(|| bad("(document)", "must be a JSON object"))?;
    let need = |f: &str, ok: fn(&Value) -> bool, what: &str| match obj.get(f) {
        None => Err(bad(f, "is missing")),
        Some(v) if !ok(v) => Err(bad(f, &format!("must be {what}, got {v}"))),
        Some(_) => Ok(()),
    };
    need("action_type", Value::is_string, "a string")?;
    need("environment", Value::is_string, "a string")?;
    need("namespace", Value::is_string, "a string")?;
    need("blast_radius_score", |v| v.as_f64().is_some_and(|s| (0.0..=100.0).contains(&s)), "a number 0..=100")?;
    need("affected_replicas", Value::is_u64, "a non-negative integer")?;
    need("current_hour", |v| v.as_u64().is_some_and(|h| h < 24), "an integer 0..=23")?;
    need("is_weekend", Value::is_boolean, "a boolean")?;
    let mut out = obj.clone();
    match out.get("freeze_active") {
        None => {
            out.insert("freeze_active".into(), Value::Bool(false));
        }
        Some(v) if !v.is_boolean() => return Err(bad("freeze_active", &format!("must be a boolean, got {v}"))),
        Some(_) => {}
    }
    Ok(Value::Object(out))
}

fn bad(field: &str, problem: &str) -> RemediateError {
    RemediateError::PolicyInput { field: field.into(), problem: problem.into() }
}

/// The Rego policy gate. Cheap to clone; each decision evaluates on a clone of the prepared
/// engine, so concurrent decisions never share state.
#[derive(Debug, Clone)]
pub struct RegoPolicyGate {
    engine: regorus::Engine,
    package: String,
    sources: Vec<String>,
    declared: Vec<String>,
    compiled: Option<regorus::CompiledPolicy>,
    program: Option<std::sync::Arc<regorus::rvm::Program>>,
    data: regorus::Value,
    interpreter_only: bool,
}

/// The rules a gate may read.
const RULES: &[&str] = &["result", "allow", "requires_approval", "deny"];

impl RegoPolicyGate {
    /// The gate with the shipped default policy.
    pub fn new() -> Result<Self> {
        Self::from_sources([("remediation.rego".to_string(), DEFAULT_POLICY.to_string())])
    }

    /// The gate with the shipped default policy, infallibly: should the policy ever fail to
    /// load, the gate denies everything (fails closed) instead of panicking.
    ///
    /// It is loaded and compiled once per process; later calls clone the prepared gate.
    pub fn shipped() -> Self {
        static SHIPPED: std::sync::OnceLock<RegoPolicyGate> = std::sync::OnceLock::new();
        SHIPPED.get_or_init(Self::load_shipped).clone()
    }

    fn load_shipped() -> Self {
        Self::new().unwrap_or_else(|e| {
            tracing::error!(error = %e, "the default policy failed to load; denying every action");
            Self {
                engine: regorus::Engine::new(),
                package: DEFAULT_PACKAGE.into(),
                sources: Vec::new(),
                declared: Vec::new(),
                compiled: None,
                program: None,
                data: regorus::Value::new_object(),
                interpreter_only: true,
            }
        })
    }

    /// A gate over policy sources `(name, rego text)`.
    pub fn from_sources(sources: impl IntoIterator<Item = (String, String)>) -> Result<Self> {
        let mut engine = regorus::Engine::new();
        let mut names = Vec::new();
        for (name, text) in sources {
            engine
                .add_policy(name.clone(), text)
                .map_err(|e| RemediateError::Policy { path: name.clone(), message: e.to_string() })?;
            names.push(name);
        }
        let gate = Self {
            engine,
            package: DEFAULT_PACKAGE.into(),
            sources: names,
            declared: Vec::new(),
            compiled: None,
            program: None,
            data: regorus::Value::new_object(),
            interpreter_only: false,
        };
        gate.prepared()
    }

    /// A gate over a policy file, or every `.rego` file in a directory (whose `.json` files are
    /// loaded as data).
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let files = policy_files(path)?;
        let mut sources = Vec::new();
        let mut data = Vec::new();
        for f in files {
            let text = std::fs::read_to_string(&f).map_err(|e| RemediateError::io(f.display().to_string(), e))?;
            match f.extension().and_then(|e| e.to_str()) {
                Some("json") => data.push((f.display().to_string(), text)),
                _ => sources.push((f.display().to_string(), text)),
            }
        }
        if sources.is_empty() {
            return Err(RemediateError::Policy { path: path.display().to_string(), message: "no .rego file".into() });
        }
        let mut gate = Self::from_sources(sources)?;
        for (name, text) in data {
            let v: Value = serde_json::from_str(&text).map_err(|e| RemediateError::json(name.clone(), e))?;
            gate = gate.with_data(v)?;
        }
        Ok(gate)
    }

    /// Adds a data document (merged into `data`), e.g. `{"aiops": {"max_blast_radius": 40}}`.
    pub fn with_data(mut self, data: Value) -> Result<Self> {
        self.engine
            .add_data(regorus::Value::from(data))
            .map_err(|e| RemediateError::Policy { path: "data".into(), message: e.to_string() })?;
        self.data = self.engine.get_data();
        self.prepared()
    }

    /// Evaluates with the tree-walking interpreter instead of the compiled VM program (both
    /// give the same decisions; the VM is faster).
    pub fn interpreter_only(mut self) -> Self {
        self.interpreter_only = true;
        self
    }

    /// Finds the declared rules and compiles the `result` entry point when there is one.
    fn prepared(mut self) -> Result<Self> {
        self.declared = self.declared_rules();
        self.compiled = None;
        if self.declared.iter().any(|r| r == "result") {
            let entry: regorus::Rc<str> = format!("data.{}.result", self.package).into();
            let compiled = self
                .engine
                .clone()
                .compile_with_entrypoint(&entry)
                .map_err(|e| RemediateError::Policy { path: self.package.clone(), message: e.to_string() })?;
            let path = entry.to_string();
            self.program = regorus::languages::rego::compiler::Compiler::compile_from_policy(&compiled, &[&path]).ok();
            self.compiled = Some(compiled);
        }
        Ok(self)
    }

    /// Reads decisions from another package than `remediation`.
    pub fn with_package(mut self, package: &str) -> Result<Self> {
        self.package = package.into();
        self.prepared()
    }

    fn declared_rules(&self) -> Vec<String> {
        RULES
            .iter()
            .filter(|r| self.sources.iter().any(|s| self.engine.has_declared_rule_rooted_at(s, r).unwrap_or(false)))
            .map(|r| r.to_string())
            .collect()
    }

    /// Decides on one input document (validated first). Never panics; errors mean deny.
    pub fn decide(&self, input: &Value) -> Result<PolicyDecision> {
        let input = validate_input(input)?;
        let _span = tracing::debug_span!("policy_decide").entered();
        let result = match (&self.program, &self.compiled) {
            (Some(p), _) if !self.interpreter_only => {
                let mut vm = regorus::rvm::RegoVM::new();
                vm.load_program(p.clone());
                vm.set_data(self.data.clone()).map_err(|e| RemediateError::PolicyEval(e.to_string()))?;
                vm.set_input(regorus::Value::from(input.clone()));
                let v = vm.execute().map_err(|e| RemediateError::PolicyEval(e.to_string()))?;
                serde_json::to_value(&v).map_err(|e| RemediateError::PolicyEval(e.to_string()))?
            }
            (_, Some(c)) => {
                let v = c
                    .eval_with_input(regorus::Value::from(input.clone()))
                    .map_err(|e| RemediateError::PolicyEval(e.to_string()))?;
                serde_json::to_value(&v).map_err(|e| RemediateError::PolicyEval(e.to_string()))?
            }
            _ => Value::Null,
        };
        let (decision, reasons) = match result.as_object() {
            Some(r) if r.contains_key("decision") => parse_result(r)?,
            _ => {
                let mut engine = self.engine.clone();
                engine.set_input(regorus::Value::from(input.clone()));
                self.original_style(&mut engine)?
            }
        };
        tracing::debug!(decision = %decision, "policy decided");
        Ok(PolicyDecision { decision, reasons, input })
    }

    fn rule(&self, engine: &mut regorus::Engine, name: &str) -> Result<Value> {
        if !self.declared.iter().any(|d| d == name) {
            return Ok(Value::Null);
        }
        let v = engine
            .eval_rule(format!("data.{}.{name}", self.package))
            .map_err(|e| RemediateError::PolicyEval(e.to_string()))?;
        if v == regorus::Value::Undefined {
            return Ok(Value::Null);
        }
        serde_json::to_value(&v).map_err(|e| RemediateError::PolicyEval(e.to_string()))
    }

    /// `allow` / `requires_approval` (default true, as the original client read it) / `deny`.
    fn original_style(&self, engine: &mut regorus::Engine) -> Result<(Decision, Vec<String>)> {
        let allow = self.rule(engine, "allow")?.as_bool().unwrap_or(false);
        let approval = self.rule(engine, "requires_approval")?.as_bool().unwrap_or(true);
        let mut deny = strings(self.rule(engine, "deny")?.as_array());
        deny.sort();
        Ok(match (allow && deny.is_empty(), approval) {
            (true, true) => (Decision::RequiresApproval, vec!["allowed; the policy requires approval".into()]),
            (true, false) => (Decision::Allow, vec!["allowed".into()]),
            (false, _) if deny.is_empty() => (Decision::Deny, vec!["policy denied".into()]),
            (false, _) => (Decision::Deny, deny),
        })
    }
}

fn parse_result(r: &serde_json::Map<String, Value>) -> Result<(Decision, Vec<String>)> {
    let d = r.get("decision").and_then(Value::as_str).unwrap_or_default();
    let decision = Decision::parse(d).ok_or_else(|| RemediateError::PolicyEval(format!("unknown decision {d:?}")))?;
    Ok((decision, strings(r.get("reasons").and_then(Value::as_array))))
}

/// The items of a Rego set or array as text (strings as they are, anything else as JSON).
fn strings(items: Option<&Vec<Value>>) -> Vec<String> {
    items.into_iter().flatten().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string)).collect()
}

fn policy_files(path: &Path) -> Result<Vec<std::path::PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let rd = std::fs::read_dir(path).map_err(|e| RemediateError::io(path.display().to_string(), e))?;
    let mut files: Vec<_> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("rego" | "json")))
        .collect();
    files.sort();
    Ok(files)
}

#[async_trait]
impl PolicyGate for RegoPolicyGate {
    async fn evaluate(&self, input: &Value) -> Result<PolicyDecision, BoxError> {
        Ok(self.decide(input)?)
    }
}

/// Evaluates one input document against `policy` (Rego source text; `None`: the default).
/// This is what the Python bindings and `aiops policy eval` call.
pub fn evaluate_policy(input: &Value, policy: Option<&str>) -> Result<PolicyDecision> {
    let gate = match policy {
        Some(text) => RegoPolicyGate::from_sources([("policy.rego".to_string(), text.to_string())])?,
        None => RegoPolicyGate::new()?,
    };
    gate.decide(input)
}

/// The JSON `aiops policy eval` prints: `{decision, reasons, input}`.
pub fn decision_json(d: &PolicyDecision) -> Value {
    json!({ "decision": d.decision.as_str(), "reasons": d.reasons, "input": d.input })
}
