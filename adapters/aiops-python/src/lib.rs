//! Python bindings for aiops: `import aiops` gives `analyze`, `Engine`, `evaluate_policy` and
//! `eval`, each returning the same JSON documents as the `aiops` command line, as Python objects.
//!
//! The extension module is `aiops._aiops`; the pure-Python package `aiops` (in `python/aiops`)
//! re-exports it with type stubs. Values cross the boundary as JSON text through Python's own
//! `json` module, so a report is exactly the report JSON of `incident-bundle.md`. The GIL is
//! released while a bundle is parsed and analysed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use aiops::core::{AnalysisInput, CoreError, IncidentBundle, Report};
use aiops::remediate::policy::{RegoPolicyGate, decision_json};
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

pyo3::create_exception!(_aiops, AiopsError, PyException, "Base class of every aiops error.");
pyo3::create_exception!(
    _aiops,
    BundleError,
    AiopsError,
    "A bundle that does not parse; `path` names the bad field (e.g. `objects[1].status`)."
);
pyo3::create_exception!(_aiops, PolicyError, AiopsError, "A policy or policy input that cannot be evaluated.");

/// Where a bundle comes from on the Python side.
enum BundleSource {
    /// Bytes of JSON or YAML.
    Text(Vec<u8>),
    /// A file to read.
    File(PathBuf),
}

/// Turns `dict | str | os.PathLike` into a bundle source. A `str` that holds a document
/// (starts with `{` or spans lines) is the document itself; any other `str` is a path.
fn bundle_source(obj: &Bound<'_, PyAny>) -> PyResult<BundleSource> {
    if obj.is_instance_of::<PyDict>() {
        return Ok(BundleSource::Text(to_json(obj)?.into_bytes()));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        let text = s.to_cow()?;
        let trimmed = text.trim_start();
        if trimmed.starts_with('{') || trimmed.contains('\n') {
            return Ok(BundleSource::Text(text.into_owned().into_bytes()));
        }
        return Ok(BundleSource::File(PathBuf::from(text.as_ref())));
    }
    let os = obj.py().import("os")?;
    let path: PathBuf = os.call_method1("fspath", (obj,))?.extract()?;
    Ok(BundleSource::File(path))
}

/// Reads and parses the bundle (without the GIL).
fn load_bundle(source: BundleSource) -> Result<IncidentBundle, Failure> {
    let bytes = match source {
        BundleSource::Text(b) => b,
        BundleSource::File(p) => std::fs::read(&p).map_err(|e| Failure::Io(p, e))?,
    };
    aiops::core::parse_bundle(&bytes).map_err(Failure::Core)
}

/// An error produced without the GIL, turned into a Python exception afterwards.
enum Failure {
    Io(PathBuf, std::io::Error),
    Core(CoreError),
    Other(String),
}

impl Failure {
    fn into_py(self, py: Python<'_>) -> PyErr {
        match self {
            Failure::Io(path, e) => {
                let err = PyErr::from(e);
                // Name the file in the message, as open() does.
                let _ = err.value(py).setattr("filename", path.display().to_string());
                err
            }
            Failure::Core(CoreError::Invalid { path, message }) => {
                let err = BundleError::new_err(format!("invalid input at {path}: {message}"));
                let _ = err.value(py).setattr("path", path);
                err
            }
            Failure::Core(e) => {
                let err = BundleError::new_err(e.to_string());
                let _ = err.value(py).setattr("path", ".");
                err
            }
            Failure::Other(m) => AiopsError::new_err(m),
        }
    }
}

/// `json.dumps(obj)`.
fn to_json(obj: &Bound<'_, PyAny>) -> PyResult<String> {
    obj.py().import("json")?.call_method1("dumps", (obj,))?.extract()
}

/// `json.loads(text)`.
fn from_json<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
    py.import("json")?.call_method1("loads", (text,))
}

/// Any serializable value as Python objects.
fn to_py<'py, T: serde::Serialize>(py: Python<'py>, value: &T) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(value).map_err(|e| AiopsError::new_err(e.to_string()))?;
    from_json(py, &text)
}

/// Runs a future to completion on a fresh single-threaded runtime.
fn block_on<F: std::future::Future>(f: F) -> Result<F::Output, Failure> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Other(format!("cannot start the runtime: {e}")))?;
    Ok(rt.block_on(f))
}

/// What an `Engine` is configured with.
#[derive(Clone)]
struct Config {
    /// Shared by every analysis of one `Engine`.
    rules: Arc<aiops::rca::RulesEngine>,
    policy: RegoPolicyGate,
}

impl Config {
    fn analyze(&self, bundle: IncidentBundle) -> Result<Report, Failure> {
        let engine = aiops::default_engine()
            .rules(self.rules.clone())
            .policy_gate(self.policy.clone())
            .collector(aiops::collectors::BundleCollector::from_bundle(bundle))
            .build()
            .map_err(Failure::Core)?;
        block_on(engine.analyze(AnalysisInput::default()))?.map_err(Failure::Core)
    }
}

/// Parses and analyses a bundle with the GIL released.
fn analyze_with(py: Python<'_>, config: &Config, bundle: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    let source = bundle_source(bundle)?;
    let report = py.detach(|| load_bundle(source).and_then(|b| config.analyze(b))).map_err(|f| f.into_py(py))?;
    Ok(to_py(py, &report)?.unbind())
}

/// The embedded default configuration (built-in rules, shipped policy).
fn default_config() -> Config {
    Config { rules: aiops::builtin_rules(), policy: RegoPolicyGate::shipped() }
}

/// Diagnoses one incident bundle (a dict, JSON/YAML text, or a path) with the embedded
/// default engine and returns the report.
#[pyfunction]
fn analyze(py: Python<'_>, bundle: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    analyze_with(py, &default_config(), bundle)
}

/// Evaluates a policy input document against the shipped policy or the given Rego source
/// and returns `{"decision", "reasons", "input"}`.
#[pyfunction]
#[pyo3(signature = (input, policy = None))]
fn evaluate_policy(py: Python<'_>, input: &Bound<'_, PyAny>, policy: Option<String>) -> PyResult<Py<PyAny>> {
    if !input.is_instance_of::<PyDict>() {
        return Err(PolicyError::new_err("policy input must be a dict"));
    }
    let doc: serde_json::Value =
        serde_json::from_str(&to_json(input)?).map_err(|e| PolicyError::new_err(e.to_string()))?;
    let decision = py
        .detach(|| aiops::remediate::policy::evaluate_policy(&doc, policy.as_deref()))
        .map_err(|e| PolicyError::new_err(e.to_string()))?;
    Ok(to_py(py, &decision_json(&decision))?.unbind())
}

/// Scores every bundle with an `expected` block in a folder (or one file) and returns the
/// evaluation report (`cases`, `top1`, `top3`, `false_positives`, ...).
#[pyfunction]
fn eval(py: Python<'_>, path: PathBuf) -> PyResult<Py<PyAny>> {
    let report = py.detach(|| eval_path(&path)).map_err(|f| f.into_py(py))?;
    Ok(to_py(py, &report)?.unbind())
}

fn eval_path(path: &Path) -> Result<serde_json::Value, Failure> {
    let meta = std::fs::metadata(path).map_err(|e| Failure::Io(path.to_path_buf(), e))?;
    let value = if meta.is_dir() {
        let report = block_on(aiops::eval::eval_dir(path))?.map_err(|e| Failure::Io(path.to_path_buf(), e))?;
        serde_json::to_value(report)
    } else {
        let root = path.parent().unwrap_or(Path::new("."));
        let case = block_on(aiops::eval::eval_file(path, root))?
            .ok_or_else(|| Failure::Other(format!("{}: no `expected` block to score", path.display())))?;
        serde_json::to_value(case)
    };
    value.map_err(|e| Failure::Other(e.to_string()))
}

/// An engine with its own rules and policy, reused across analyses.
///
/// `config` keys (all optional): `rules` (path to an extra YAML/JSON rule file), `rules_text`
/// (the same, inline), `policy` (a `.rego` file or a folder of policies and `.json` data).
#[pyclass(name = "Engine", module = "aiops", frozen)]
struct PyEngine {
    config: Config,
}

#[pymethods]
impl PyEngine {
    #[new]
    #[pyo3(signature = (config = None))]
    fn new(config: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let mut out = default_config();
        let Some(config) = config else { return Ok(Self { config: out }) };
        for (key, value) in config.iter() {
            let key: String = key.extract()?;
            match key.as_str() {
                "rules" => {
                    let path: PathBuf = value.extract()?;
                    let text = std::fs::read_to_string(&path)?;
                    out.rules = rules_from(&text)?;
                }
                "rules_text" => out.rules = rules_from(&value.extract::<String>()?)?,
                "policy" => {
                    let path: PathBuf = value.extract()?;
                    out.policy = RegoPolicyGate::from_path(&path).map_err(|e| PolicyError::new_err(e.to_string()))?;
                }
                other => {
                    return Err(AiopsError::new_err(format!(
                        "unknown Engine config key `{other}` (expected rules, rules_text, policy)"
                    )));
                }
            }
        }
        Ok(Self { config: out })
    }

    /// Diagnoses one incident bundle (a dict, JSON/YAML text, or a path) and returns the report.
    fn analyze(&self, py: Python<'_>, bundle: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        analyze_with(py, &self.config, bundle)
    }

    /// The ids of every rule this engine runs.
    fn rule_ids(&self) -> Vec<String> {
        self.config.rules.rule_ids().into_iter().map(str::to_string).collect()
    }
}

fn rules_from(text: &str) -> PyResult<Arc<aiops::rca::RulesEngine>> {
    let engine = aiops::rca::RulesEngine::builtin()
        .add_rule_file(text)
        .map_err(|e| AiopsError::new_err(format!("rule file: {e}")))?;
    Ok(Arc::new(engine))
}

/// The `aiops._aiops` extension module.
#[pymodule]
fn _aiops(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(analyze, m)?)?;
    m.add_function(wrap_pyfunction!(evaluate_policy, m)?)?;
    m.add_function(wrap_pyfunction!(eval, m)?)?;
    m.add_class::<PyEngine>()?;
    m.add("AiopsError", m.py().get_type::<AiopsError>())?;
    m.add("BundleError", m.py().get_type::<BundleError>())?;
    m.add("PolicyError", m.py().get_type::<PolicyError>())?;
    Ok(())
}
