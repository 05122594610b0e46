//! Kubernetes API paths parsed into their parts.

/// What a Kubernetes API path addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiPath {
    /// `/version`.
    Version,
    /// `/api`.
    CoreVersions,
    /// `/apis`.
    Groups,
    /// `/apis/{group}`.
    Group(String),
    /// `/api/v1` or `/apis/{group}/{version}`.
    Resources(String, String),
    /// A resource collection or object.
    Object(ObjectPath),
}

/// `/api(s)/.../[namespaces/{ns}/]{plural}[/{name}[/{subresource}]]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectPath {
    /// Group (`""` for core).
    pub group: String,
    /// Version.
    pub version: String,
    /// Namespace, when the path names one.
    pub namespace: Option<String>,
    /// Plural resource name.
    pub plural: String,
    /// Object name, when the path names one.
    pub name: Option<String>,
    /// Subresource (`log`, `scale`, `status`).
    pub subresource: Option<String>,
}

impl ObjectPath {
    /// The path with names replaced by placeholders, for per-endpoint counters:
    /// `/api/v1/namespaces/{namespace}/pods/{name}/log`.
    pub fn template(&self) -> String {
        let mut s = if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        };
        if self.namespace.is_some() {
            s.push_str("/namespaces/{namespace}");
        }
        s.push('/');
        s.push_str(&self.plural);
        if self.name.is_some() {
            s.push_str("/{name}");
        }
        if let Some(sub) = &self.subresource {
            s.push('/');
            s.push_str(sub);
        }
        s
    }
}

/// Parses a request path; `None` when it is not a Kubernetes API path.
pub fn parse(path: &str) -> Option<ApiPath> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        ["version"] => Some(ApiPath::Version),
        ["api"] => Some(ApiPath::CoreVersions),
        ["apis"] => Some(ApiPath::Groups),
        ["apis", g] => Some(ApiPath::Group((*g).to_string())),
        ["api", v] => Some(ApiPath::Resources(String::new(), (*v).to_string())),
        ["apis", g, v] => Some(ApiPath::Resources((*g).to_string(), (*v).to_string())),
        ["api", v, rest @ ..] => object_path("", v, rest).map(ApiPath::Object),
        ["apis", g, v, rest @ ..] => object_path(g, v, rest).map(ApiPath::Object),
        _ => None,
    }
}

fn object_path(group: &str, version: &str, rest: &[&str]) -> Option<ObjectPath> {
    let base = ObjectPath { group: group.into(), version: version.into(), ..Default::default() };
    let own = |s: &&str| (*s).to_string();
    match rest {
        // `/namespaces/{ns}/{plural}...`, except `/namespaces/{name}/status|finalize` (the Namespace's own subresources).
        ["namespaces", ns, plural, tail @ ..] if !(tail.is_empty() && matches!(*plural, "status" | "finalize")) => {
            let (name, subresource) = match tail {
                [] => (None, None),
                [n] => (Some(own(n)), None),
                [n, s] => (Some(own(n)), Some(own(s))),
                _ => return None,
            };
            Some(ObjectPath { namespace: Some(own(ns)), plural: own(plural), name, subresource, ..base })
        }
        [plural] => Some(ObjectPath { plural: own(plural), ..base }),
        [plural, n] => Some(ObjectPath { plural: own(plural), name: Some(own(n)), ..base }),
        [plural, n, s] => {
            Some(ObjectPath { plural: own(plural), name: Some(own(n)), subresource: Some(own(s)), ..base })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse() {
        let p = |s| parse(s).unwrap();
        assert_eq!(p("/api"), ApiPath::CoreVersions);
        assert_eq!(p("/apis/apps/v1"), ApiPath::Resources("apps".into(), "v1".into()));
        let ApiPath::Object(o) = p("/api/v1/namespaces/shop/pods/x/log") else { panic!() };
        assert_eq!(
            (o.namespace.as_deref(), o.plural.as_str(), o.name.as_deref(), o.subresource.as_deref()),
            (Some("shop"), "pods", Some("x"), Some("log"))
        );
        assert_eq!(o.template(), "/api/v1/namespaces/{namespace}/pods/{name}/log");
        let ApiPath::Object(o) = p("/api/v1/namespaces/shop") else { panic!() };
        assert_eq!((o.plural.as_str(), o.name.as_deref()), ("namespaces", Some("shop")));
        let ApiPath::Object(o) = p("/api/v1/namespaces/shop/status") else { panic!() };
        assert_eq!(o.subresource.as_deref(), Some("status"));
        let ApiPath::Object(o) = p("/apis/apps/v1/deployments") else { panic!() };
        assert_eq!((o.group.as_str(), o.namespace, o.name), ("apps", None, None));
        assert!(parse("/metrics").is_none());
    }
}
