//! The Prometheus HTTP API and Loki HTTP API answered from a bundle's metrics and logs. Loki
//! cannot run here: the simulator speaks its documented `streams` format (compared with the
//! documented sample copied into tests/samples). Prometheus's wire format is that of
//! `/api/v1/query(_range)`.

mod common;

use common::{get, sim};
use serde_json::Value;

fn enc(q: &str) -> String {
    form_urlencoded::byte_serialize(q.as_bytes()).collect()
}

#[tokio::test]
async fn prometheus_matches_recorded_queries_names_and_selectors() {
    let s = sim("oom-killed.json").await;
    let recorded = r#"container_memory_working_set_bytes{namespace="shop", pod=~"cart-.*", container="cart"}"#;
    let (code, r) = get(&s, &format!("/api/v1/query_range?query={}&start=1&end=2&step=15", enc(recorded))).await;
    assert_eq!((code, r["status"].as_str(), r["data"]["resultType"].as_str()), (200, Some("success"), Some("matrix")));
    let series = r["data"]["result"].as_array().unwrap();
    assert_eq!(series.len(), 2);
    assert!(series[0]["values"].as_array().unwrap().len() > 50);
    let (_, by_name) = get(&s, "/api/v1/query_range?query=kube_pod_container_resource_limits").await;
    assert_eq!(by_name["data"]["result"].as_array().unwrap().len(), 2);
    let q = r#"max by (pod) (container_memory_working_set_bytes{namespace="shop", pod="cart-5b7c9d8f46-w9tqz"})"#;
    let (_, one) = get(&s, &format!("/api/v1/query_range?query={}", enc(q))).await;
    let one = one["data"]["result"].as_array().unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0]["metric"]["pod"], "cart-5b7c9d8f46-w9tqz");
    let (_, none) = get(&s, &format!("/api/v1/query?query={}", enc(r#"up{job="nothing"}"#))).await;
    assert_eq!(none["data"]["result"], Value::Array(vec![]));
    let (_, other_ns) =
        get(&s, &format!("/api/v1/query?query={}", enc(r#"container_memory_working_set_bytes{namespace="billing"}"#)))
            .await;
    assert_eq!(other_ns["data"]["result"].as_array().unwrap().len(), 0);
    let (code, err) = get(&s, "/api/v1/query").await;
    assert_eq!((code, err["status"].as_str(), err["errorType"].as_str()), (400, Some("error"), Some("bad_data")));
}

#[tokio::test]
async fn prometheus_instant_queries_return_the_last_sample_and_accept_post() {
    let s = sim("oom-killed.json").await;
    let (_, r) = get(&s, "/api/v1/query?query=kube_pod_container_resource_limits").await;
    assert_eq!(r["data"]["resultType"], "vector");
    let v = &r["data"]["result"][0]["value"];
    assert_eq!(v[1], "268435456");
    let (_, early) = get(&s, "/api/v1/query?query=container_memory_working_set_bytes&time=1772361000").await;
    let (_, late) = get(&s, "/api/v1/query?query=container_memory_working_set_bytes").await;
    assert!(
        early["data"]["result"][0]["value"][0].as_f64().unwrap()
            < late["data"]["result"][0]["value"][0].as_f64().unwrap()
    );
    let resp = common::client()
        .post(format!("{}/api/v1/query_range", s.url()))
        .form(&[("query", "kube_pod_container_resource_limits"), ("start", "0"), ("end", "1"), ("step", "15")])
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["data"]["result"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn loki_serves_streams_selected_by_labels_with_line_filters() {
    let s = sim("crashloop-bad-deploy.json").await;
    let q = r#"{namespace="shop", pod="checkout-7d9f8b6c5d-x2k4q", container="checkout"}"#;
    let (code, r) = get(&s, &format!("/loki/api/v1/query_range?query={}&limit=1000&direction=backward", enc(q))).await;
    assert_eq!((code, r["status"].as_str(), r["data"]["resultType"].as_str()), (200, Some("success"), Some("streams")));
    let streams = r["data"]["result"].as_array().unwrap();
    assert_eq!(streams.len(), 1);
    assert_eq!(streams[0]["stream"]["pod"], "checkout-7d9f8b6c5d-x2k4q");
    assert_eq!(streams[0]["stream"]["app"], "checkout");
    let values = streams[0]["values"].as_array().unwrap();
    let ts: Vec<i128> = values.iter().map(|v| v[0].as_str().unwrap().parse().unwrap()).collect();
    assert!(ts.windows(2).all(|w| w[0] >= w[1]), "backward: newest first");
    let (_, by_app) =
        get(&s, &format!("/loki/api/v1/query_range?query={}", enc(r#"{namespace="shop", app="checkout"}"#))).await;
    assert_eq!(by_app["data"]["result"].as_array().unwrap().len(), 2, "the previous and the current instance");
    let (_, filtered) =
        get(&s, &format!("/loki/api/v1/query_range?query={}", enc(r#"{namespace="shop"} |= "panic""#))).await;
    let lines: Vec<&str> = filtered["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["values"].as_array().unwrap())
        .map(|v| v[1].as_str().unwrap())
        .collect();
    assert!(!lines.is_empty() && lines.iter().all(|l| l.contains("panic")));
    let (_, limited) =
        get(&s, &format!("/loki/api/v1/query_range?query={}&limit=3&direction=forward", enc(r#"{namespace="shop"}"#)))
            .await;
    let n: usize =
        limited["data"]["result"].as_array().unwrap().iter().map(|s| s["values"].as_array().unwrap().len()).sum();
    assert_eq!(n, 3);
    let (_, none) = get(&s, &format!("/loki/api/v1/query_range?query={}", enc(r#"{namespace="billing"}"#))).await;
    assert_eq!(none["data"]["result"], Value::Array(vec![]));
    let (code, _) =
        common::get_raw(&s, &format!("/loki/api/v1/query_range?query={}", enc(r#"rate({a="b"}[5m])"#)), "*/*").await;
    assert_eq!(code, 400);
}

#[tokio::test]
async fn loki_answers_have_the_documented_shape() {
    let sample: Value = serde_json::from_str(include_str!("samples/loki-query-range-streams.json")).unwrap();
    let s = sim("crashloop-bad-deploy.json").await;
    let (_, r) = get(&s, &format!("/loki/api/v1/query_range?query={}", enc(r#"{namespace="shop"}"#))).await;
    fn shape(v: &Value) -> Vec<String> {
        let mut keys: Vec<String> = v.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
        keys.sort();
        keys
    }
    assert_eq!(shape(&r), shape(&sample));
    assert_eq!(shape(&r["data"]), shape(&sample["data"]));
    let (got, want) = (&r["data"]["result"][0], &sample["data"]["result"][0]);
    assert_eq!(shape(got), shape(want));
    for key in ["namespace", "pod", "container", "job", "stream"] {
        assert!(got["stream"].get(key).is_some(), "{key}");
    }
    assert!(got["values"][0][0].as_str().unwrap().parse::<i128>().unwrap() > 1_700_000_000_000_000_000);
}
