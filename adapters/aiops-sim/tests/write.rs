//! Writes over the Kubernetes wire format: the three PATCH media types, PUT with optimistic
//! concurrency, the scale subresource, DELETE, validation, and `dryRun=All` changing nothing.
//! The simulator is a local server speaking the real API's JSON format.

mod common;

use common::{get, send, sim};

const DEPLOY: &str = "/apis/apps/v1/namespaces/shop/deployments/catalog";
const MERGE: &str = "application/merge-patch+json";
const SMP: &str = "application/strategic-merge-patch+json";
const JSONP: &str = "application/json-patch+json";

#[tokio::test]
async fn dry_run_patches_answer_the_would_be_object_and_change_nothing() {
    let s = sim("crashloop-bad-deploy.json").await;
    let (_, before) = get(&s, DEPLOY).await;
    let rv = s.resource_version();
    let pods_before = s.objects("v1", "Pod");
    for (ct, body) in [
        (MERGE, r#"{"spec":{"replicas":7}}"#),
        (SMP, r#"{"spec":{"replicas":7}}"#),
        (JSONP, r#"[{"op":"replace","path":"/spec/replicas","value":7}]"#),
    ] {
        let (code, would) = send(&s, "PATCH", &format!("{DEPLOY}?dryRun=All"), ct, body).await;
        assert_eq!(code, 200, "{ct}: {would}");
        assert_eq!(would["spec"]["replicas"], 7, "{ct}");
    }
    let (code, scale) =
        send(&s, "PATCH", &format!("{DEPLOY}/scale?dryRun=All"), MERGE, r#"{"spec":{"replicas":9}}"#).await;
    assert_eq!((code, scale["kind"].as_str(), scale["spec"]["replicas"].as_i64()), (200, Some("Scale"), Some(9)));
    let (code, _) = send(
        &s,
        "DELETE",
        "/api/v1/namespaces/shop/pods/catalog-5f7c8d9b66-fwc4s?dryRun=All",
        "application/json",
        "{}",
    )
    .await;
    assert_eq!(code, 200);
    let (code, _) = send(
        &s,
        "DELETE",
        "/api/v1/namespaces/shop/pods/catalog-5f7c8d9b66-vr97h",
        "application/json",
        r#"{"dryRun":["All"]}"#,
    )
    .await;
    assert_eq!(code, 200);
    let node = "/api/v1/nodes/ip-10-0-1-23.eu-west-1.compute.internal?dryRun=All";
    let (_, cordoned) = send(&s, "PATCH", node, SMP, r#"{"spec":{"unschedulable":true}}"#).await;
    assert_eq!(cordoned["spec"]["unschedulable"], true);
    let (_, after) = get(&s, DEPLOY).await;
    assert_eq!(after, before);
    assert_eq!(s.resource_version(), rv, "no write happened");
    assert_eq!(s.objects("v1", "Pod"), pods_before);
    assert!(
        s.object("v1", "Node", "", "ip-10-0-1-23.eu-west-1.compute.internal").unwrap()["spec"]
            .get("unschedulable")
            .is_none()
    );
}

#[tokio::test]
async fn patches_change_state_and_bump_resource_versions() {
    let s = sim("crashloop-bad-deploy.json").await;
    let (_, before) = get(&s, DEPLOY).await;
    let rv0: u64 = before["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap();
    let smp =
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"catalog","env":[{"name":"NEW","value":"1"}]}]}}}}"#;
    let (code, patched) = send(&s, "PATCH", DEPLOY, SMP, smp).await;
    assert_eq!(code, 200, "{patched}");
    let c = &patched["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        c["image"], before["spec"]["template"]["spec"]["containers"][0]["image"],
        "strategic merge kept the image"
    );
    assert!(c["env"].as_array().unwrap().iter().any(|e| e["name"] == "NEW"));
    let rv1: u64 = patched["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap();
    assert!(rv1 > rv0);
    assert_eq!(patched["metadata"]["generation"].as_i64(), before["metadata"]["generation"].as_i64().map(|g| g + 1));
    let (_, again) = get(&s, DEPLOY).await;
    assert!(again["metadata"]["resourceVersion"].as_str().unwrap().parse::<u64>().unwrap() >= rv1);
    let (code, st) = send(&s, "PATCH", DEPLOY, JSONP, r#"[{"op":"test","path":"/spec/replicas","value":99}]"#).await;
    assert_eq!((code, st["kind"].as_str()), (422, Some("Status")));
    let (code, st) = send(&s, "PATCH", DEPLOY, "application/yaml", "{}").await;
    assert_eq!((code, st["reason"].as_str()), (415, Some("UnsupportedMediaType")));
}

#[tokio::test]
async fn put_needs_the_current_resource_version() {
    let s = sim("crashloop-bad-deploy.json").await;
    let (_, mut d) = get(&s, DEPLOY).await;
    d["spec"]["replicas"] = 3.into();
    let (code, stored) = send(&s, "PUT", DEPLOY, "application/json", &d.to_string()).await;
    assert_eq!((code, stored["spec"]["replicas"].as_i64()), (200, Some(3)));
    let (code, st) = send(&s, "PUT", DEPLOY, "application/json", &d.to_string()).await;
    assert_eq!((code, st["reason"].as_str()), (409, Some("Conflict")), "stale resourceVersion");
    // The controller updated the status after the write: read the current object.
    let (_, mut renamed) = get(&s, DEPLOY).await;
    renamed["metadata"]["name"] = "other".into();
    let (code, st) = send(&s, "PUT", DEPLOY, "application/json", &renamed.to_string()).await;
    assert_eq!((code, st["reason"].as_str()), (422, Some("Invalid")));
}

#[tokio::test]
async fn invalid_objects_are_refused_even_in_dry_run() {
    let s = sim("crashloop-bad-deploy.json").await;
    let cases = [
        (MERGE, r#"{"spec":{"replicas":-1}}"#),
        (MERGE, r#"{"spec":{"template":{"spec":{"containers":[]}}}}"#),
        (JSONP, r#"[{"op":"remove","path":"/spec/template/spec/containers/0/image"}]"#),
    ];
    for (ct, body) in cases {
        for q in ["", "?dryRun=All"] {
            let (code, st) = send(&s, "PATCH", &format!("{DEPLOY}{q}"), ct, body).await;
            assert_eq!((code, st["reason"].as_str()), (422, Some("Invalid")), "{body}{q}: {st}");
        }
    }
    let (code, _) = send(&s, "PATCH", &format!("{DEPLOY}/scale"), MERGE, r#"{"spec":{"replicas":-2}}"#).await;
    assert_eq!(code, 422);
    let (code, st) = send(&s, "PATCH", "/apis/apps/v1/namespaces/shop/deployments/nope", MERGE, "{}").await;
    assert_eq!((code, st["reason"].as_str()), (404, Some("NotFound")));
}

#[tokio::test]
async fn scale_subresource_get_and_put() {
    let s = sim("crashloop-bad-deploy.json").await;
    let (code, scale) = get(&s, &format!("{DEPLOY}/scale")).await;
    assert_eq!(
        (code, scale["apiVersion"].as_str(), scale["spec"]["replicas"].as_i64()),
        (200, Some("autoscaling/v1"), Some(2))
    );
    assert_eq!(scale["status"]["selector"], "app=catalog");
    let mut next = scale.clone();
    next["spec"]["replicas"] = 1.into();
    let (code, put) = send(&s, "PUT", &format!("{DEPLOY}/scale"), "application/json", &next.to_string()).await;
    assert_eq!((code, put["spec"]["replicas"].as_i64()), (200, Some(1)));
    let (code, _) = send(&s, "PUT", &format!("{DEPLOY}/scale"), "application/json", &next.to_string()).await;
    assert_eq!(code, 409, "the Scale's resourceVersion is stale now");
    let (_, d) = get(&s, DEPLOY).await;
    assert_eq!(d["spec"]["replicas"], 1);
}
