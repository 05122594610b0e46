//! LIST and GET: selectors, `limit`/`continue` paging over the key order, and the three response
//! shapes (objects, `Table`, `PartialObjectMetadata`).

use std::ops::Bound;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::Params;
use super::format::Format;
use super::path::ObjectPath;
use super::selector::{FieldSelector, LabelSelector};
use super::status::ApiError;
use super::table;
use crate::store::{Key, Store, strip_secret};

/// The object as served: a Secret loses `data` whatever happened before.
pub fn served(mut obj: Value) -> Value {
    if obj.get("kind").and_then(Value::as_str) == Some("Secret") {
        strip_secret(&mut obj);
    }
    obj
}

fn encode_continue(rv: u64, key: &Key) -> String {
    URL_SAFE_NO_PAD.encode(json!({"rv": rv, "ns": key.0, "name": key.1}).to_string())
}

fn decode_continue(token: &str) -> Result<Key, ApiError> {
    let bad = || ApiError::bad_request(format!("invalid continue token {token:?}"));
    let bytes = URL_SAFE_NO_PAD.decode(token.trim_end_matches('=')).map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    match (v.get("ns").and_then(Value::as_str), v.get("name").and_then(Value::as_str)) {
        (Some(ns), Some(name)) => Ok((ns.to_string(), name.to_string())),
        _ => Err(bad()),
    }
}

/// The selectors and paging of a LIST request.
pub(crate) struct ListQuery {
    pub(crate) labels: LabelSelector,
    pub(crate) fields: FieldSelector,
    limit: usize,
    after: Option<Key>,
}

pub(crate) fn list_query(q: &Params) -> Result<ListQuery, ApiError> {
    let labels = LabelSelector::parse(q.get("labelSelector").unwrap_or("")).map_err(ApiError::bad_request)?;
    let fields = FieldSelector::parse(q.get("fieldSelector").unwrap_or("")).map_err(ApiError::bad_request)?;
    let limit = match q.get("limit").filter(|s| !s.is_empty()) {
        Some(l) => l.parse::<i64>().map_err(|_| ApiError::bad_request(format!("invalid limit {l:?}")))?,
        None => 0,
    };
    let after = q.get("continue").filter(|s| !s.is_empty()).map(decode_continue).transpose()?;
    Ok(ListQuery { labels, fields, limit: if limit <= 0 { usize::MAX } else { limit as usize }, after })
}

/// LIST of type `t`, in namespace `ns` or across all namespaces.
pub fn list(store: &Store, t: usize, p: &ObjectPath, q: &Params, format: Format) -> Result<Value, ApiError> {
    let lq = list_query(q)?;
    let ty = &store.types[t];
    let ns = p.namespace.as_deref().filter(|_| ty.namespaced);
    let map = &store.objects[t];
    let start = match (&lq.after, ns) {
        (Some(k), _) => Bound::Excluded(k.clone()),
        (None, Some(ns)) => Bound::Included((ns.to_string(), String::new())),
        (None, None) => Bound::Unbounded,
    };
    let matching = map
        .range((start, Bound::Unbounded))
        .take_while(|((kns, _), _)| ns.is_none_or(|ns| kns == ns))
        .filter(|(_, obj)| lq.labels.matches(obj.pointer("/metadata/labels")) && lq.fields.matches(obj));
    let mut items = Vec::new();
    let mut last: Option<&Key> = None;
    let mut remaining = 0usize;
    for (key, obj) in matching {
        if items.len() < lq.limit {
            items.push(obj);
            last = Some(key);
        } else {
            remaining += 1;
        }
    }
    let mut meta = json!({"resourceVersion": store.rv.to_string()});
    if remaining > 0
        && let Some(k) = last
    {
        meta["continue"] = json!(encode_continue(store.rv, k));
        if lq.labels.0.is_empty() && lq.fields.0.is_empty() {
            meta["remainingItemCount"] = json!(remaining);
        }
    }
    Ok(match format {
        Format::Json => json!({
            "kind": format!("{}List", ty.kind), "apiVersion": ty.api_version(), "metadata": meta,
            "items": items.into_iter().map(list_item).collect::<Vec<_>>(),
        }),
        Format::Partial(v) => json!({
            "kind": "PartialObjectMetadataList", "apiVersion": format!("meta.k8s.io/{v}"), "metadata": meta,
            "items": items.into_iter().map(|o| partial(o, v)).collect::<Vec<_>>(),
        }),
        Format::Table(v) => table::table(store, t, &items, meta, v, q.get("includeObject")),
    })
}

/// List items carry no `kind`/`apiVersion`, as in the API server's JSON.
fn list_item(obj: &Value) -> Value {
    let mut o = served(obj.clone());
    if let Some(m) = o.as_object_mut() {
        m.remove("kind");
        m.remove("apiVersion");
    }
    o
}

/// `PartialObjectMetadata` of an object.
pub fn partial(obj: &Value, version: &str) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": format!("meta.k8s.io/{version}"),
           "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({}))})
}

/// GET of one object.
pub fn get(store: &Store, t: usize, p: &ObjectPath, name: &str, q: &Params, format: Format) -> Result<Value, ApiError> {
    let obj = lookup(store, t, p, name)?;
    Ok(match format {
        Format::Json => served(obj.clone()),
        Format::Partial(v) => partial(obj, v),
        Format::Table(v) => {
            table::table(store, t, &[obj], json!({"resourceVersion": store.rv.to_string()}), v, q.get("includeObject"))
        }
    })
}

/// The addressed object, or a `NotFound` Status.
pub fn lookup<'a>(store: &'a Store, t: usize, p: &ObjectPath, name: &str) -> Result<&'a Value, ApiError> {
    let ty = &store.types[t];
    let ns = if ty.namespaced { p.namespace.as_deref().unwrap_or("") } else { "" };
    store.get(t, ns, name).ok_or_else(|| ApiError::not_found(&ty.group, &ty.plural, name))
}
