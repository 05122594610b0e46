//! The Cypher this adapter sends, and the mapping between [`GraphNode`] and node properties.
//!
//! Every statement here is accepted by Neo4j 5 and by ArcadeDB's Bolt/Cypher endpoint; see the
//! crate README for what was avoided and why.

use aiops_core::graph::{EdgeKind, GraphNode, NodeKind};
use serde_json::{Map, Value};

use crate::error::{Neo4jError, Result};

/// Property holding the node's [`NodeKind`] name.
pub(crate) const KIND: &str = "_kind";
/// Property holding the node's name.
pub(crate) const NAME: &str = "_name";
/// Property holding the node's namespace (absent for cluster-scoped nodes).
pub(crate) const NAMESPACE: &str = "_namespace";
/// Prefix of properties whose value is stored as JSON text (maps, mixed lists, null, big ints).
pub(crate) const JSON_PREFIX: &str = "_json_";

/// Quotes a label, relationship type or name for interpolation (backticks, doubled inside).
pub(crate) fn ident(s: &str) -> String {
    format!("`{}`", s.replace('`', "``"))
}

/// The label of a node kind (the original's labels: `Incident`, `Pod`, `ChangeEvent`, `HPA`, ...).
pub(crate) fn label(kind: NodeKind) -> &'static str {
    kind.as_str()
}

/// The kind of a node id from its prefix (`pod:shop:x` -> Pod), when the prefix is one of ours.
pub(crate) fn kind_of_id(id: &str) -> Option<NodeKind> {
    let prefix = id.split(':').next()?;
    NodeKind::ALL.iter().copied().find(|k| aiops_core::graph::node_id(*k, None, "").trim_end_matches(':') == prefix)
}

/// The unique-id constraint of one label, idempotent (`IF NOT EXISTS`, Neo4j 4.4+/5 syntax).
pub(crate) fn constraint(kind: NodeKind) -> String {
    let name = format!("aiops_{}_id", kind.as_str().to_ascii_lowercase());
    format!("CREATE CONSTRAINT {} IF NOT EXISTS FOR (n:{}) REQUIRE n.id IS UNIQUE", ident(&name), ident(label(kind)))
}

/// The secondary indexes: `Incident(fingerprint)` (the original's, now populated) and
/// `Pod(_namespace)`.
pub(crate) fn indexes() -> Vec<String> {
    [(NodeKind::Incident, "fingerprint"), (NodeKind::Pod, NAMESPACE)]
        .iter()
        .map(|(kind, prop)| {
            let name = format!("aiops_{}_{}", kind.as_str().to_ascii_lowercase(), prop.trim_start_matches('_'));
            format!(
                "CREATE INDEX {} IF NOT EXISTS FOR (n:{}) ON (n.{})",
                ident(&name),
                ident(label(*kind)),
                ident(prop)
            )
        })
        .collect()
}

/// Batched node upsert for one label: `$rows` is a list of `{id, props}`.
pub(crate) fn merge_nodes(kind: NodeKind) -> String {
    format!("UNWIND $rows AS r MERGE (n:{} {{id: r.id}}) SET n += r.props", ident(label(kind)))
}

/// Batched relationship upsert: `$rows` is a list of `{s, t}`. Endpoints are matched by label
/// when known (index lookups), else by id alone.
pub(crate) fn merge_edges(kind: EdgeKind, source: Option<NodeKind>, target: Option<NodeKind>) -> String {
    let lbl = |k: Option<NodeKind>| k.map(|k| format!(":{}", ident(label(k)))).unwrap_or_default();
    format!(
        "UNWIND $rows AS r MATCH (a{} {{id: r.s}}) MATCH (b{} {{id: r.t}}) MERGE (a)-[:{}]->(b)",
        lbl(source),
        lbl(target),
        ident(kind.as_str())
    )
}

/// One breadth-first step from `$ids` (all of one label), both directions.
/// An empty label (a node stored without one) matches by id alone.
pub(crate) fn expand(label: &str) -> String {
    format!(
        "UNWIND $ids AS id MATCH (a{} {{id: id}})-[r]-(b) \
         RETURN a.id AS a, type(r) AS t, startNode(r) = a AS out, b.id AS b, labels(b) AS l",
        opt_label(label)
    )
}

fn opt_label(label: &str) -> String {
    if label.is_empty() { String::new() } else { format!(":{}", ident(label)) }
}

/// The properties of the nodes `$ids` (all of one label).
pub(crate) fn fetch_nodes(label: &str) -> String {
    format!("UNWIND $ids AS id MATCH (n{} {{id: id}}) RETURN properties(n) AS p, labels(n) AS l", opt_label(label))
}

/// One node by `$id`, with or without a label.
pub(crate) fn fetch_node(kind: Option<NodeKind>) -> String {
    let lbl = kind.map(|k| format!(":{}", ident(label(k)))).unwrap_or_default();
    format!("MATCH (n{lbl} {{id: $id}}) RETURN properties(n) AS p, labels(n) AS l LIMIT 1")
}

/// Deletes the incident node `$id` and its relationships; returns one row when it existed.
pub(crate) const DELETE_INCIDENT: &str = "MATCH (i:Incident {id: $id}) WITH i LIMIT 1 DETACH DELETE i RETURN 1 AS c";

/// The liveness probe.
pub(crate) const HEALTH: &str = "RETURN 1 AS ok";

/// The `props` map written for a node: the reserved `_kind`/`_name`/`_namespace`, each property
/// natively when Bolt can hold it exactly (string, bool, i64, f64, non-empty list of strings),
/// otherwise as JSON text under `_json_{key}`. The other spelling of each key is set to null,
/// so a later put that changes a value's type leaves no stale copy (`SET +=` removes nulls).
pub(crate) fn node_props(node: &GraphNode) -> Result<Value> {
    let mut props = Map::new();
    props.insert(KIND.into(), Value::String(node.kind.as_str().into()));
    props.insert(NAME.into(), Value::String(node.name.clone()));
    props.insert(NAMESPACE.into(), node.namespace.clone().map(Value::String).unwrap_or(Value::Null));
    for (key, value) in &node.properties {
        if key == "id" || key.starts_with('_') {
            return Err(Neo4jError::ReservedProperty { node: node.id.clone(), key: key.clone() });
        }
        let json_key = format!("{JSON_PREFIX}{key}");
        if is_native(value) {
            props.insert(key.clone(), value.clone());
            props.insert(json_key, Value::Null);
        } else {
            props.insert(json_key, Value::String(value.to_string()));
            props.insert(key.clone(), Value::Null);
        }
    }
    Ok(Value::Object(props))
}

fn is_native(v: &Value) -> bool {
    match v {
        Value::String(_) | Value::Bool(_) => true,
        Value::Number(n) => n.is_i64() || n.is_f64(),
        Value::Array(items) => !items.is_empty() && items.iter().all(Value::is_string),
        Value::Null | Value::Object(_) => false,
    }
}

/// Rebuilds a [`GraphNode`] from a node's properties and labels (the inverse of [`node_props`]).
pub(crate) fn node_from_props(props: Map<String, Value>, labels: &[String], step: &'static str) -> Result<GraphNode> {
    let decode = |message: String| Neo4jError::Decode { step, message };
    let mut id = None;
    let mut kind = None;
    let mut name = None;
    let mut namespace = None;
    let mut properties = Map::new();
    for (key, value) in props {
        match key.as_str() {
            "id" => id = value.as_str().map(str::to_string),
            KIND => kind = value.as_str().and_then(NodeKind::parse),
            NAME => name = value.as_str().map(str::to_string),
            NAMESPACE => namespace = value.as_str().map(str::to_string),
            k if k.starts_with(JSON_PREFIX) => {
                let text = value.as_str().ok_or_else(|| decode(format!("{k} is not a string")))?;
                let parsed = serde_json::from_str(text).map_err(|e| decode(format!("{k}: {e}")))?;
                properties.insert(k[JSON_PREFIX.len()..].to_string(), parsed);
            }
            k if k.starts_with('_') || k.starts_with('@') => {}
            _ => {
                properties.insert(key, value);
            }
        }
    }
    let id = id.ok_or_else(|| decode("node without a string `id`".into()))?;
    let kind = kind
        .or_else(|| labels.iter().find_map(|l| NodeKind::parse(l)))
        .or_else(|| kind_of_id(&id))
        .unwrap_or(NodeKind::Object);
    let name = name.unwrap_or_else(|| id.rsplit(':').next().unwrap_or(&id).to_string());
    Ok(GraphNode { id, kind, namespace, name, properties, object: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_round_trip_exactly() {
        let node = GraphNode::new(NodeKind::Pod, Some("shop"), "cart-1")
            .with("phase", "Running")
            .with("restarts", 3)
            .with("ratio", 0.5)
            .with("ready", false)
            .with("images", serde_json::json!(["a:1", "b:2"]))
            .with("ports", serde_json::json!([80, 443]))
            .with("limits", serde_json::json!({"cpu": "1"}))
            .with("none", Value::Null)
            .with("empty", serde_json::json!([]))
            .with("big", u64::MAX);
        let Value::Object(props) = node_props(&node).unwrap() else { panic!("not a map") };
        // What a server keeps after `SET n += props`: nulls are not stored.
        let stored: Map<String, Value> =
            props.into_iter().filter(|(_, v)| !v.is_null()).chain([("id".into(), node.id.clone().into())]).collect();
        assert!(stored.get("limits").is_none() && stored["_json_limits"] == "{\"cpu\":\"1\"}");
        let back = node_from_props(stored, &["Pod".into()], "test").unwrap();
        assert_eq!(back, node);
    }

    #[test]
    fn reserved_keys_are_rejected() {
        for key in ["id", "_kind", "_json_x"] {
            let node = GraphNode::new(NodeKind::Node, None, "n").with(key, 1);
            assert!(matches!(node_props(&node), Err(Neo4jError::ReservedProperty { .. })), "{key}");
        }
    }

    #[test]
    fn kinds_come_back_from_id_prefixes() {
        assert_eq!(kind_of_id("pod:shop:x"), Some(NodeKind::Pod));
        assert_eq!(kind_of_id("change:deployment:shop:cart:3"), Some(NodeKind::Change));
        assert_eq!(kind_of_id("hpa:shop:cart"), Some(NodeKind::Hpa));
        assert_eq!(kind_of_id("nonsense:x"), None);
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(ident("a`b"), "`a``b`");
        assert!(
            merge_edges(EdgeKind::Owns, Some(NodeKind::ReplicaSet), None)
                .contains("(a:`ReplicaSet` {id: r.s}) MATCH (b {id: r.t})")
        );
        assert!(constraint(NodeKind::Hpa).contains("FOR (n:`HPA`) REQUIRE n.id IS UNIQUE"));
    }
}
