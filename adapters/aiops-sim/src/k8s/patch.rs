//! The three patch formats: JSON merge patch (RFC 7386), JSON patch (RFC 6902), and a subset of
//! Kubernetes strategic merge patch: maps merge recursively, `null` deletes a key, lists of
//! objects merge by their key (`name`, else `mountPath`, `containerPort`, `devicePath`, `ip`),
//! an element `{"$patch":"delete", name: ...}` removes the matching element,
//! `{"$patch":"replace"}` replaces a map, other lists are replaced, and other `$` directives
//! (`$setElementOrder/...`, `$retainKeys`) are ignored.

use serde_json::{Map, Value};

use super::status::ApiError;

/// Media types of PATCH bodies.
pub const MERGE: &str = "application/merge-patch+json";
/// Strategic merge patch.
pub const STRATEGIC: &str = "application/strategic-merge-patch+json";
/// JSON patch.
pub const JSON_PATCH: &str = "application/json-patch+json";

/// Applies a PATCH body of `content_type` to `target`.
pub fn apply(target: &mut Value, content_type: &str, body: &[u8]) -> Result<(), ApiError> {
    let media = content_type.split(';').next().unwrap_or("").trim();
    let patch: Value =
        serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("invalid patch body: {e}")))?;
    match media {
        MERGE => {
            json_patch::merge(target, &patch);
            Ok(())
        }
        STRATEGIC => {
            if !patch.is_object() {
                return Err(ApiError::bad_request("a strategic merge patch must be a JSON object"));
            }
            strategic(target, &patch);
            Ok(())
        }
        JSON_PATCH => {
            let ops: json_patch::Patch =
                serde_json::from_value(patch).map_err(|e| ApiError::bad_request(format!("invalid JSON patch: {e}")))?;
            json_patch::patch(target, &ops).map_err(|e| ApiError {
                code: 422,
                reason: "Invalid",
                message: format!("the JSON patch could not be applied: {e}"),
                details: None,
            })
        }
        other => Err(ApiError::unsupported_media(other)),
    }
}

/// Strategic merge of `patch` into `target`.
pub fn strategic(target: &mut Value, patch: &Value) {
    let (Some(t), Some(p)) = (target.as_object_mut(), patch.as_object()) else {
        *target = without_directives(patch);
        return;
    };
    if p.get("$patch").and_then(Value::as_str) == Some("replace") {
        *target = without_directives(patch);
        return;
    }
    for (k, pv) in p.iter().filter(|(k, _)| !k.starts_with('$')) {
        match (t.get_mut(k), pv) {
            (_, Value::Null) => {
                t.remove(k);
            }
            (Some(tv @ Value::Object(_)), Value::Object(_)) => strategic(tv, pv),
            (Some(Value::Array(ta)), Value::Array(pa)) if merge_key(pa).is_some() => merge_list(ta, pa),
            _ => {
                t.insert(k.clone(), without_directives(pv));
            }
        }
    }
}

const MERGE_KEYS: &[&str] = &["name", "mountPath", "containerPort", "devicePath", "ip"];

fn merge_key(items: &[Value]) -> Option<&'static str> {
    let first = items.first()?.as_object()?;
    MERGE_KEYS.iter().copied().find(|k| first.contains_key(*k))
}

fn merge_list(target: &mut Vec<Value>, patch: &[Value]) {
    let Some(key) = merge_key(patch) else { return };
    for pe in patch {
        let id = pe.get(key);
        let pos = target.iter().position(|te| te.get(key).is_some() && te.get(key) == id);
        let delete = pe.get("$patch").and_then(Value::as_str) == Some("delete");
        match (pos, delete) {
            (Some(i), true) => {
                target.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => strategic(&mut target[i], pe),
            (None, false) => target.push(without_directives(pe)),
        }
    }
}

fn without_directives(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k.clone(), without_directives(v)))
                .collect::<Map<_, _>>(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_directives).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strategic_merges_containers_by_name() {
        let mut d = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "app:1", "env": [{"name": "A", "value": "1"}]},
            {"name": "side", "image": "side:1"}]}}}});
        let p = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "app"}, {"name": "side"}],
            "containers": [{"name": "app", "image": "app:2", "env": [{"name": "B", "value": "2"}]},
                           {"name": "side", "$patch": "delete"}]}}}});
        strategic(&mut d, &p);
        let cs = d["spec"]["template"]["spec"]["containers"].as_array().unwrap();
        assert_eq!(cs.len(), 1);
        assert_eq!(cs[0]["image"], "app:2");
        assert_eq!(cs[0]["env"].as_array().unwrap().len(), 2);
        assert!(d["spec"]["template"]["spec"].get("$setElementOrder/containers").is_none());
    }

    #[test]
    fn strategic_null_deletes_and_scalars_replace() {
        let mut d = json!({"metadata": {"annotations": {"a": "1", "b": "2"}}, "spec": {"args": ["x", "y"]}});
        strategic(
            &mut d,
            &json!({"metadata": {"annotations": {"a": null}}, "spec": {"args": ["z"], "unschedulable": true}}),
        );
        assert_eq!(d, json!({"metadata": {"annotations": {"b": "2"}}, "spec": {"args": ["z"], "unschedulable": true}}));
    }

    #[test]
    fn the_three_media_types() {
        let mut d = json!({"spec": {"replicas": 1, "x": {"a": 1}}});
        apply(&mut d, "application/merge-patch+json", br#"{"spec":{"replicas":3,"x":null}}"#).unwrap();
        assert_eq!(d, json!({"spec": {"replicas": 3}}));
        apply(&mut d, "application/json-patch+json", br#"[{"op":"replace","path":"/spec/replicas","value":5}]"#)
            .unwrap();
        assert_eq!(d["spec"]["replicas"], 5);
        let err = apply(&mut d, "application/json-patch+json", br#"[{"op":"test","path":"/spec/replicas","value":1}]"#)
            .unwrap_err();
        assert_eq!(err.code, 422);
        assert_eq!(apply(&mut d, "text/plain", b"{}").unwrap_err().code, 415);
        assert_eq!(apply(&mut d, MERGE, b"{not json").unwrap_err().code, 400);
    }
}
