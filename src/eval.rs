//! The evaluation harness (`aiops eval DIR`): runs every bundle with an `expected` block and
//! scores top-1 / top-3 accuracy per cause and false positives on healthy (`none`) bundles.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use aiops_collectors::BundleCollector;
use aiops_core::{AnalysisInput, Cause, Report};

/// A hypothesis above this confidence on a healthy bundle is a false positive.
pub const FALSE_POSITIVE_CONFIDENCE: f64 = 0.5;

/// The result of one bundle.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    /// File name.
    pub file: String,
    /// Expected cause (`none` for healthy).
    pub expected: String,
    /// Defensible alternates.
    pub alternates: Vec<String>,
    /// Distinct causes in rank order (at most 5).
    pub got: Vec<String>,
    /// Top-1 matches exactly.
    pub top1: bool,
    /// Top-1 matches the cause or an alternate.
    pub top1_lenient: bool,
    /// The cause is among the first three distinct causes.
    pub top3: bool,
    /// For healthy bundles: some non-unknown hypothesis above 0.5 confidence.
    pub false_positive: bool,
    /// Parse or analysis error, with the JSON path.
    pub error: Option<String>,
}

/// Per-cause accuracy.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CauseScore {
    /// Bundles expecting this cause.
    pub cases: usize,
    /// Top-1 hits.
    pub top1: usize,
    /// Top-3 hits.
    pub top3: usize,
}

/// The whole evaluation.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EvalReport {
    /// Every case, sorted by file.
    pub cases: Vec<CaseResult>,
    /// Per expected cause (faults only).
    pub by_cause: BTreeMap<String, CauseScore>,
    /// Fault bundles.
    pub faults: usize,
    /// Top-1 accuracy over fault bundles (0..=1).
    pub top1: f64,
    /// Lenient top-1 accuracy (cause or alternate).
    pub top1_lenient: f64,
    /// Top-3 accuracy over fault bundles.
    pub top3: f64,
    /// Healthy bundles.
    pub healthy: usize,
    /// Healthy bundles with a false positive.
    pub false_positives: usize,
    /// Files that failed to parse or analyse.
    pub errors: usize,
    /// Files without an `expected` block (not scored).
    pub skipped: Vec<String>,
}

/// Every `.json`, `.yaml` and `.yml` file under `dir`, recursively, sorted.
pub fn bundle_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let p = entry?.path();
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if name.starts_with('_') || name.starts_with('.') {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else if matches!(p.extension().and_then(|e| e.to_str()), Some("json" | "yaml" | "yml")) {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn distinct_causes(r: &Report) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for h in &r.hypotheses {
        let c = h.cause.as_str().to_string();
        if !out.contains(&c) {
            out.push(c);
        }
    }
    out.truncate(5);
    out
}

/// Scores one bundle file; `None` when it has no `expected` block.
pub async fn eval_file(path: &Path, root: &Path) -> Option<CaseResult> {
    let file = path.strip_prefix(root).unwrap_or(path).display().to_string();
    let bundle = match BundleCollector::read(path) {
        Ok(b) => b,
        Err(e) => return Some(failed(file, e.to_string())),
    };
    let expected = bundle.expected.clone()?;
    let engine = match crate::default_engine().collector(BundleCollector::from_bundle(bundle)).build() {
        Ok(e) => e,
        Err(e) => return Some(failed(file, e.to_string())),
    };
    let report = match engine.analyze(AnalysisInput::default()).await {
        Ok(r) => r,
        Err(e) => return Some(failed(file, e.to_string())),
    };
    let got = distinct_causes(&report);
    let top = got.first().cloned().unwrap_or_default();
    let healthy = expected.cause == "none";
    let false_positive = healthy
        && report.hypotheses.iter().any(|h| h.cause != Cause::Unknown && h.confidence > FALSE_POSITIVE_CONFIDENCE);
    let top1 = if healthy { !false_positive } else { top == expected.cause };
    Some(CaseResult {
        top1_lenient: top1 || expected.alternates.contains(&top),
        top3: if healthy { top1 } else { got.iter().take(3).any(|c| *c == expected.cause) },
        top1,
        false_positive,
        file,
        expected: expected.cause,
        alternates: expected.alternates,
        got,
        error: None,
    })
}

fn failed(file: String, error: String) -> CaseResult {
    CaseResult {
        file,
        expected: String::new(),
        alternates: Vec::new(),
        got: Vec::new(),
        top1: false,
        top1_lenient: false,
        top3: false,
        false_positive: false,
        error: Some(error),
    }
}

/// Evaluates every bundle under `dir`.
pub async fn eval_dir(dir: &Path) -> std::io::Result<EvalReport> {
    let mut report = EvalReport::default();
    for path in bundle_files(dir)? {
        match eval_file(&path, dir).await {
            Some(case) => report.cases.push(case),
            None => report.skipped.push(path.strip_prefix(dir).unwrap_or(&path).display().to_string()),
        }
    }
    score(&mut report);
    Ok(report)
}

fn ratio(n: usize, d: usize) -> f64 {
    if d == 0 { 1.0 } else { n as f64 / d as f64 }
}

fn score(r: &mut EvalReport) {
    let (mut t1, mut t1l, mut t3) = (0, 0, 0);
    for c in &r.cases {
        if c.error.is_some() {
            r.errors += 1;
            r.faults += 1;
            continue;
        }
        if c.expected == "none" {
            r.healthy += 1;
            r.false_positives += usize::from(c.false_positive);
            continue;
        }
        r.faults += 1;
        let s = r.by_cause.entry(c.expected.clone()).or_default();
        s.cases += 1;
        s.top1 += usize::from(c.top1);
        s.top3 += usize::from(c.top3);
        t1 += usize::from(c.top1);
        t1l += usize::from(c.top1_lenient);
        t3 += usize::from(c.top3);
    }
    r.top1 = ratio(t1, r.faults);
    r.top1_lenient = ratio(t1l, r.faults);
    r.top3 = ratio(t3, r.faults);
}

/// The printed table.
pub fn render(r: &EvalReport) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    for c in &r.cases {
        let mark = match (&c.error, c.top1, c.top1_lenient) {
            (Some(_), _, _) => "ERROR",
            (None, true, _) => "ok",
            (None, false, true) => "alt",
            _ => "MISS",
        };
        let detail = c.error.clone().unwrap_or_else(|| format!("expected {} got [{}]", c.expected, c.got.join(", ")));
        let _ = writeln!(o, "{mark:5} {}  {detail}", c.file);
    }
    let _ = writeln!(o, "\n{:<36} {:>5} {:>7} {:>7}", "cause", "cases", "top-1", "top-3");
    for (cause, s) in &r.by_cause {
        let _ = writeln!(
            o,
            "{cause:<36} {:>5} {:>6.0}% {:>6.0}%",
            s.cases,
            100.0 * ratio(s.top1, s.cases),
            100.0 * ratio(s.top3, s.cases)
        );
    }
    let _ = writeln!(
        o,
        "\nfaults {}  top-1 {:.1}%  top-1 lenient {:.1}%  top-3 {:.1}%  errors {}",
        r.faults,
        100.0 * r.top1,
        100.0 * r.top1_lenient,
        100.0 * r.top3,
        r.errors
    );
    let _ = writeln!(
        o,
        "healthy {}  false positives {} ({:.1}%)",
        r.healthy,
        r.false_positives,
        100.0 * ratio(r.false_positives, r.healthy.max(1)) * if r.healthy == 0 { 0.0 } else { 1.0 }
    );
    if !r.skipped.is_empty() {
        let _ = writeln!(o, "skipped (no expected block): {}", r.skipped.join(", "));
    }
    o
}
