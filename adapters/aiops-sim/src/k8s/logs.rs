//! The pod `log` subresource answered from the bundle's logs: `container`, `previous`,
//! `tailLines` and `limitBytes` as the kubelet applies them (`sinceSeconds`, `timestamps` and
//! `follow` are accepted and ignored: a bundle's logs are one snapshot). The instance read is
//! the kubelet's choice (`validateContainerLogStatus`): a container waiting after a crash
//! (`CrashLoopBackOff`) answers its current log with its last terminated instance, the same one
//! `previous=true` reads, and one waiting that never ran (`ImagePullBackOff`) has no log.

use serde_json::Value;

use super::Params;
use super::status::ApiError;
use crate::store::{Store, str_at};

fn flag(q: &Params, name: &str) -> bool {
    matches!(q.get(name), Some("true" | "1" | "True"))
}

fn number(q: &Params, name: &str) -> Result<Option<usize>, ApiError> {
    match q.get(name).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .map(|n| Some(n as usize))
            .ok_or_else(|| ApiError::bad_request(format!("{name} must be a non-negative integer, got {s:?}"))),
    }
}

fn container_names(pod: &Value) -> Vec<String> {
    ["/spec/containers", "/spec/initContainers", "/spec/ephemeralContainers"]
        .iter()
        .filter_map(|p| pod.pointer(p).and_then(Value::as_array))
        .flatten()
        .map(|c| str_at(c, &["name"]).to_string())
        .collect()
}

/// The log text of one container of `pod`.
pub fn pod_log(store: &Store, pod: &Value, q: &Params) -> Result<String, ApiError> {
    let ns = str_at(pod, &["metadata", "namespace"]);
    let name = str_at(pod, &["metadata", "name"]);
    let names = container_names(pod);
    let container = match q.get("container").filter(|c| !c.is_empty()) {
        Some(c) if names.iter().any(|n| n == c) => c.to_string(),
        Some(c) => return Err(ApiError::bad_request(format!("container {c} is not valid for pod {name}"))),
        None => match pod.pointer("/spec/containers").and_then(Value::as_array).map(Vec::as_slice) {
            Some([only]) => str_at(only, &["name"]).to_string(),
            _ => {
                return Err(ApiError::bad_request(format!(
                    "a container name must be specified for pod {name}, choose one of: [{}]",
                    names.join(" ")
                )));
            }
        },
    };
    let previous = match instance(pod, &container) {
        _ if flag(q, "previous") => true,
        Instance::Current => false,
        Instance::LastTerminated => true,
        Instance::NeverRan(reason) => {
            return Err(ApiError::bad_request(format!(
                "container \"{container}\" in pod \"{name}\" is waiting to start: {reason}"
            )));
        }
    };
    let record = store.logs.iter().find(|l| {
        l.namespace == ns
            && l.pod == name
            && l.previous == previous
            && (l.container == container || l.container.is_empty())
    });
    let text = match record {
        Some(r) => r.text.clone(),
        None if previous => {
            return Err(ApiError::bad_request(format!(
                "previous terminated container \"{container}\" in pod \"{name}\" not found"
            )));
        }
        None => String::new(),
    };
    let mut text = tail(&text, number(q, "tailLines")?);
    if let Some(limit) = number(q, "limitBytes")?
        && text.len() > limit
    {
        let mut cut = limit;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    Ok(text)
}

/// Which instance of a container its current log comes from.
#[derive(Debug, PartialEq)]
enum Instance {
    /// The running (or terminated) instance, or a pod without statuses.
    Current,
    /// Waiting after a crash: the last terminated instance.
    LastTerminated,
    /// Waiting and never ran, for this reason.
    NeverRan(String),
}

fn instance(pod: &Value, container: &str) -> Instance {
    let status = ["/status/containerStatuses", "/status/initContainerStatuses", "/status/ephemeralContainerStatuses"]
        .iter()
        .filter_map(|p| pod.pointer(p).and_then(Value::as_array))
        .flatten()
        .find(|c| str_at(c, &["name"]) == container);
    let Some(status) = status else { return Instance::Current };
    let state = |key: &str| status.pointer(&format!("/state/{key}")).is_some();
    if state("running") || state("terminated") {
        Instance::Current
    } else if status.pointer("/lastState/terminated").is_some() {
        Instance::LastTerminated
    } else if state("waiting") {
        let reason = str_at(status, &["state", "waiting", "reason"]);
        Instance::NeverRan(match reason {
            "ErrImagePull" => "image can't be pulled".into(),
            "ImagePullBackOff" => "trying and failing to pull image".into(),
            other => other.to_string(),
        })
    } else {
        Instance::Current
    }
}

/// The last `n` lines of `text`, each ending in a newline.
fn tail(text: &str, n: Option<usize>) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let from = n.map_or(0, |n| lines.len().saturating_sub(n));
    lines[from..].iter().map(|l| format!("{l}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_instance_is_the_kubelets_choice() {
        let pod = |status: Value| serde_json::json!({"status": {"containerStatuses": [status]}});
        let running = pod(serde_json::json!({"name": "a", "state": {"running": {}}, "lastState": {"terminated": {}}}));
        assert_eq!(instance(&running, "a"), Instance::Current);
        let crashed = pod(serde_json::json!({"name": "a", "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"exitCode": 2}}}));
        assert_eq!(instance(&crashed, "a"), Instance::LastTerminated);
        let pulling = pod(serde_json::json!({"name": "a", "state": {"waiting": {"reason": "ImagePullBackOff"}}}));
        assert_eq!(instance(&pulling, "a"), Instance::NeverRan("trying and failing to pull image".into()));
        assert_eq!(instance(&pulling, "b"), Instance::Current, "no status of that container");
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\nb\nc", Some(2)), "b\nc\n");
        assert_eq!(tail("a\nb\n", None), "a\nb\n");
        assert_eq!(tail("a", Some(0)), "");
    }
}
