//! Label selectors (`=`, `==`, `!=`, `in`, `notin`, `key`, `!key`) and field selectors (`=`,
//! `==`, `!=` on any dotted field path, e.g. `metadata.name`, `spec.nodeName`, `status.phase`,
//! `involvedObject.name`), parsed the way the API server parses them: the simulator filters LISTs
//! with them, the watch cache filters cached objects with them.

use std::collections::BTreeSet;

use serde_json::Value;

/// One label requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelReq {
    /// `key=value`, `key==value`, `key in (a,b)`.
    In(String, BTreeSet<String>),
    /// `key!=value`, `key notin (a,b)`.
    NotIn(String, BTreeSet<String>),
    /// `key`.
    Exists(String),
    /// `!key`.
    NotExists(String),
}

/// A parsed label selector: every requirement must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector(pub Vec<LabelReq>);

impl LabelSelector {
    /// Parses the `labelSelector` query parameter.
    pub fn parse(s: &str) -> Result<Self, String> {
        split_top(s)
            .into_iter()
            .filter(|p| !p.trim().is_empty())
            .map(|p| parse_req(p.trim()))
            .collect::<Result<_, _>>()
            .map(LabelSelector)
    }

    /// True when `labels` (an object's `metadata.labels`, maybe absent) satisfies every requirement.
    pub fn matches(&self, labels: Option<&Value>) -> bool {
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.0.iter().all(|r| match r {
            LabelReq::In(k, vals) => get(k).is_some_and(|v| vals.contains(v)),
            LabelReq::NotIn(k, vals) => get(k).is_none_or(|v| !vals.contains(v)),
            LabelReq::Exists(k) => get(k).is_some(),
            LabelReq::NotExists(k) => get(k).is_none(),
        })
    }
}

/// Splits on commas outside parentheses.
fn split_top(s: &str) -> Vec<&str> {
    let (mut out, mut depth, mut start) = (Vec::new(), 0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn valid_key(k: &str) -> Result<String, String> {
    let ok = !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
    if ok { Ok(k.to_string()) } else { Err(format!("invalid label key {k:?}")) }
}

fn valid_value(v: &str) -> Result<String, String> {
    let ok = v.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok { Ok(v.to_string()) } else { Err(format!("invalid label value {v:?}")) }
}

fn parse_set(rest: &str) -> Result<BTreeSet<String>, String> {
    let inner = rest
        .trim()
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| format!("expected a parenthesized value list, found {rest:?}"))?;
    inner.split(',').map(|v| valid_value(v.trim())).collect()
}

fn parse_req(p: &str) -> Result<LabelReq, String> {
    if let Some(k) = p.strip_prefix('!') {
        return Ok(LabelReq::NotExists(valid_key(k.trim())?));
    }
    for (op, negate) in [("!=", true), ("==", false), ("=", false)] {
        if let Some((k, v)) = p.split_once(op) {
            let set = BTreeSet::from([valid_value(v.trim())?]);
            let k = valid_key(k.trim())?;
            return Ok(if negate { LabelReq::NotIn(k, set) } else { LabelReq::In(k, set) });
        }
    }
    let mut words = p.splitn(2, char::is_whitespace);
    let key = words.next().unwrap_or_default();
    let rest = words.next().unwrap_or_default().trim();
    if let Some(set) = rest.strip_prefix("notin") {
        return Ok(LabelReq::NotIn(valid_key(key)?, parse_set(set)?));
    }
    if let Some(set) = rest.strip_prefix("in") {
        return Ok(LabelReq::In(valid_key(key)?, parse_set(set)?));
    }
    if rest.is_empty() {
        return Ok(LabelReq::Exists(valid_key(key)?));
    }
    Err(format!("unable to parse requirement {p:?}"))
}

/// One field requirement: `path` equals (or not) `value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldReq {
    /// Dotted path (`metadata.name`).
    pub path: String,
    /// Expected value.
    pub value: String,
    /// `!=`.
    pub negate: bool,
}

/// A parsed field selector.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector(pub Vec<FieldReq>);

impl FieldSelector {
    /// Parses the `fieldSelector` query parameter.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (path, value, negate) = if let Some((k, v)) = part.split_once("!=") {
                (k, v, true)
            } else if let Some((k, v)) = part.split_once("==") {
                (k, v, false)
            } else if let Some((k, v)) = part.split_once('=') {
                (k, v, false)
            } else {
                return Err(format!("invalid field selector requirement {part:?}: expected key=value or key!=value"));
            };
            out.push(FieldReq { path: path.trim().to_string(), value: value.trim().to_string(), negate });
        }
        Ok(FieldSelector(out))
    }

    /// True when `obj` satisfies every requirement. An absent field reads as the empty string,
    /// booleans and numbers as their JSON text, as the API server's field sets do.
    pub fn matches(&self, obj: &Value) -> bool {
        self.0.iter().all(|r| {
            let v = r.path.split('.').try_fold(obj, |v, k| v.get(k));
            let text = match v {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            (text == r.value) != r.negate
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_selector_operators() {
        let labels = json!({"app": "cart", "tier": "web"});
        let yes = [
            "app=cart",
            "app==cart",
            "app!=x",
            "app in (cart, x)",
            "tier notin (db)",
            "app",
            "!missing",
            "app=cart,tier=web",
            "",
        ];
        let no = ["app=x", "app!=cart", "app in (x,y)", "tier notin (web)", "missing", "!app", "app=cart,tier=db"];
        for s in yes {
            assert!(LabelSelector::parse(s).unwrap().matches(Some(&labels)), "{s}");
        }
        for s in no {
            assert!(!LabelSelector::parse(s).unwrap().matches(Some(&labels)), "{s}");
        }
        assert!(LabelSelector::parse("app=(x").is_err());
        assert!(LabelSelector::parse("app in x").is_err());
        assert!(LabelSelector::parse("app!=x").unwrap().matches(None));
    }

    #[test]
    fn field_selector_paths() {
        let pod = json!({"metadata": {"name": "a", "namespace": "n"}, "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}});
        assert!(FieldSelector::parse("metadata.name=a,spec.nodeName==n1").unwrap().matches(&pod));
        assert!(FieldSelector::parse("status.phase!=Pending").unwrap().matches(&pod));
        assert!(!FieldSelector::parse("metadata.namespace=other").unwrap().matches(&pod));
        assert!(FieldSelector::parse("spec.missing=").unwrap().matches(&pod));
        assert!(FieldSelector::parse("nonsense").is_err());
    }
}
