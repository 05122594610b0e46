//! Just enough PromQL/LogQL reading for the simulator: the vector (stream) selectors of an
//! expression, their label matchers, and matching label sets against them.

use std::collections::BTreeMap;

use regex::Regex;

/// A label matcher operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `=~`
    Re,
    /// `!~`
    NotRe,
}

/// One label matcher.
#[derive(Debug, Clone)]
pub struct Matcher {
    /// Label name.
    pub label: String,
    /// Operator.
    pub op: Op,
    /// Value or regex (anchored, as in PromQL).
    pub value: String,
    regex: Option<Regex>,
}

impl Matcher {
    fn new(label: &str, op: Op, value: String) -> Result<Self, String> {
        let regex = match op {
            Op::Re | Op::NotRe => {
                Some(Regex::new(&format!("^(?:{value})$")).map_err(|e| format!("invalid regex {value:?}: {e}"))?)
            }
            _ => None,
        };
        Ok(Matcher { label: label.to_string(), op, value, regex })
    }

    /// True when the label's value (empty when absent) satisfies the matcher.
    pub fn matches(&self, value: Option<&str>) -> bool {
        let v = value.unwrap_or("");
        match (self.op, &self.regex) {
            (Op::Eq, _) => v == self.value,
            (Op::Ne, _) => v != self.value,
            (Op::Re, Some(r)) => r.is_match(v),
            (Op::NotRe, Some(r)) => !r.is_match(v),
            _ => false,
        }
    }
}

/// A vector selector: an optional metric name and matchers.
#[derive(Debug, Clone, Default)]
pub struct Selector {
    /// Metric name (from the name or a `__name__` equality matcher).
    pub name: Option<String>,
    /// The other matchers.
    pub matchers: Vec<Matcher>,
}

impl Selector {
    /// True when `labels` satisfy every matcher.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matchers.iter().all(|m| m.matches(labels.get(&m.label).map(String::as_str)))
    }
}

const KEYWORDS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
    "inf",
    "nan",
];

/// Aggregation operators: `sum by (x) (...)` puts a grouping clause between the name and `(`.
const AGGREGATIONS: &[&str] = &[
    "sum",
    "avg",
    "min",
    "max",
    "count",
    "group",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "quantile",
    "count_values",
    "limitk",
    "limit_ratio",
];

/// Every vector selector of a PromQL expression (function names, keywords, grouping labels,
/// durations and string arguments are skipped).
pub fn selectors(expr: &str) -> Result<Vec<Selector>, String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let mut pending: Option<String> = None;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            i = skip_string(&chars, i)?;
        } else if c == '{' {
            let end = chars[i..].iter().position(|c| *c == '}').map(|p| p + i).ok_or("unclosed '{'")?;
            let body: String = chars[i + 1..end].iter().collect();
            out.push(selector(pending.take(), &body)?);
            i = end + 1;
        } else if c == '[' {
            i = chars[i..].iter().position(|c| *c == ']').map_or(chars.len(), |p| p + i + 1);
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':') {
                i += 1;
            }
            let ident: String = chars[start..i].iter().collect();
            flush(&mut pending, &mut out);
            let next = chars[i..].iter().find(|c| !c.is_whitespace()).copied();
            if KEYWORDS.contains(&ident.to_lowercase().as_str()) {
                if next == Some('(')
                    && ["by", "without", "on", "ignoring", "group_left", "group_right"].contains(&ident.as_str())
                {
                    i = chars[i..].iter().position(|c| *c == ')').map_or(chars.len(), |p| p + i + 1);
                }
            } else if next != Some('(') && !AGGREGATIONS.contains(&ident.as_str()) {
                pending = Some(ident);
            }
        } else {
            if !c.is_whitespace() {
                flush(&mut pending, &mut out);
            }
            i += 1;
        }
    }
    flush(&mut pending, &mut out);
    Ok(out)
}

fn flush(pending: &mut Option<String>, out: &mut Vec<Selector>) {
    if let Some(name) = pending.take() {
        out.push(Selector { name: Some(name), matchers: Vec::new() });
    }
}

fn skip_string(chars: &[char], start: usize) -> Result<usize, String> {
    let quote = chars[start];
    let mut i = start + 1;
    while i < chars.len() {
        if chars[i] == '\\' && quote != '`' {
            i += 2;
            continue;
        }
        if chars[i] == quote {
            return Ok(i + 1);
        }
        i += 1;
    }
    Err("unterminated string".into())
}

/// Parses the inside of `{...}`.
pub fn selector(name: Option<String>, body: &str) -> Result<Selector, String> {
    let re = Regex::new(r#"^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)"#)
        .map_err(|e| e.to_string())?;
    let mut sel = Selector { name, matchers: Vec::new() };
    let mut rest = body.trim();
    while !rest.is_empty() {
        let caps = re.captures(rest).ok_or_else(|| format!("invalid matcher list {{{body}}}"))?;
        let op = match &caps[2] {
            "=" => Op::Eq,
            "!=" => Op::Ne,
            "=~" => Op::Re,
            _ => Op::NotRe,
        };
        let value = caps[3].replace("\\\"", "\"").replace("\\\\", "\\");
        if &caps[1] == "__name__" && op == Op::Eq {
            sel.name = Some(value);
        } else {
            sel.matchers.push(Matcher::new(&caps[1], op, value)?);
        }
        rest = rest[caps[0].len()..].trim_start();
    }
    Ok(sel)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_skip_functions_and_grouping() {
        let q = r#"sum by (namespace, pod) (increase(kube_pod_container_status_restarts_total{namespace="shop", pod=~"cart.*"}[30m])) / on(pod) up"#;
        let s = selectors(q).unwrap();
        let names: Vec<_> = s.iter().map(|s| s.name.clone().unwrap_or_default()).collect();
        assert_eq!(names, ["kube_pod_container_status_restarts_total", "up"]);
        let labels: BTreeMap<String, String> =
            [("namespace", "shop"), ("pod", "cart-1")].iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        assert!(s[0].matches(&labels));
        let other: BTreeMap<String, String> =
            [("namespace", "shop"), ("pod", "xcart")].iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        assert!(!s[0].matches(&other));
        assert!(selectors("x{a=\"1\"").is_err());
        assert_eq!(selectors(r#"{__name__="m", a!="b"}"#).unwrap()[0].name.as_deref(), Some("m"));
    }
}
