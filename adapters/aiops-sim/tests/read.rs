//! Reads over the Kubernetes wire format: discovery, LIST paging and selectors, GET, Status
//! errors, pod logs, metadata-only reads, and Secret data never served. The simulator is a
//! local server speaking the real API's JSON format (no API server can run here).

mod common;

use common::{get, get_raw, names, sim, sim_json};
use serde_json::Value;

#[tokio::test]
async fn discovery_lists_core_and_grouped_resources() {
    let s = sim("crashloop-bad-deploy.json").await;
    let (code, api) = get(&s, "/api").await;
    assert_eq!((code, api["versions"][0].as_str()), (200, Some("v1")));
    let (_, core) = get(&s, "/api/v1").await;
    let names: Vec<&str> = core["resources"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"pods") && names.contains(&"pods/log") && names.contains(&"nodes"), "{names:?}");
    let (_, groups) = get(&s, "/apis").await;
    let gs: Vec<&str> = groups["groups"].as_array().unwrap().iter().map(|g| g["name"].as_str().unwrap()).collect();
    assert!(gs.contains(&"apps") && gs.contains(&"batch"), "{gs:?}");
    let (_, apps) = get(&s, "/apis/apps/v1").await;
    let scale = apps["resources"].as_array().unwrap().iter().find(|r| r["name"] == "deployments/scale").unwrap();
    assert_eq!((scale["group"].as_str(), scale["kind"].as_str()), (Some("autoscaling"), Some("Scale")));
    let (_, version) = get(&s, "/version").await;
    assert_eq!(version["major"], "1");
    let (code, status) = get(&s, "/apis/nope.example.com/v1").await;
    assert_eq!((code, status["kind"].as_str(), status["reason"].as_str()), (404, Some("Status"), Some("NotFound")));
}

#[tokio::test]
async fn lists_page_with_limit_and_continue_and_cover_every_item_once() {
    let s = sim("crashloop-bad-deploy.json").await;
    let (_, all) = get(&s, "/api/v1/events").await;
    let every = names(&all);
    assert!(every.len() > 5);
    assert_eq!(all["kind"], "EventList");
    assert!(all["metadata"]["resourceVersion"].as_str().unwrap().parse::<u64>().unwrap() > 0);
    assert!(all["metadata"].get("continue").is_none());
    let mut paged = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let (code, page) = get(&s, &format!("/api/v1/namespaces/shop/events?limit=3&continue={token}")).await;
        assert_eq!(code, 200, "{page}");
        let n = names(&page);
        assert!(n.len() <= 3);
        paged.extend(n);
        pages += 1;
        match page["metadata"]["continue"].as_str() {
            Some(t) => {
                assert!(page["metadata"]["remainingItemCount"].as_u64().unwrap() > 0);
                token = t.to_string();
            }
            None => break,
        }
    }
    assert_eq!(paged, every);
    assert_eq!(pages, every.len().div_ceil(3));
    let (code, bad) = get(&s, "/api/v1/events?continue=garbage!").await;
    assert_eq!((code, bad["reason"].as_str()), (400, Some("BadRequest")));
}

#[tokio::test]
async fn label_and_field_selectors_filter() {
    let s = sim("crashloop-bad-deploy.json").await;
    let (_, pods) = get(&s, "/api/v1/namespaces/shop/pods?labelSelector=app%3Dcheckout").await;
    assert_eq!(names(&pods).len(), 4);
    assert!(names(&pods).iter().all(|n| n.starts_with("checkout-")));
    let (_, pods) = get(&s, "/api/v1/pods?labelSelector=app%20in%20(checkout,catalog),app!%3Dcatalog").await;
    assert_eq!(names(&pods).len(), 4);
    let (_, pods) = get(&s, "/api/v1/pods?labelSelector=!app").await;
    assert!(names(&pods).is_empty());
    let (_, pods) = get(&s, "/api/v1/pods?fieldSelector=metadata.name%3Dcheckout-7d9f8b6c5d-x2k4q").await;
    assert_eq!(names(&pods), ["checkout-7d9f8b6c5d-x2k4q"]);
    let node = "ip-10-0-1-23.eu-west-1.compute.internal";
    let (_, on_node) = get(&s, &format!("/api/v1/pods?fieldSelector=spec.nodeName%3D{node}")).await;
    assert!(!names(&on_node).is_empty());
    assert!(on_node["items"].as_array().unwrap().iter().all(|p| p["spec"]["nodeName"] == node));
    let (_, evs) = get(&s, "/api/v1/namespaces/shop/events?fieldSelector=involvedObject.kind%3DPod,involvedObject.name%3Dcheckout-7d9f8b6c5d-x2k4q").await;
    assert!(!names(&evs).is_empty());
    assert!(
        evs["items"].as_array().unwrap().iter().all(|e| e["involvedObject"]["name"] == "checkout-7d9f8b6c5d-x2k4q")
    );
    let (_, running) = get(&s, "/api/v1/pods?fieldSelector=status.phase!%3DRunning").await;
    assert!(running["items"].as_array().unwrap().iter().all(|p| p["status"]["phase"] != "Running"));
    let (code, _) = get(&s, "/api/v1/pods?labelSelector=app%20in%20x").await;
    assert_eq!(code, 400);
    let (_, other_ns) = get(&s, "/api/v1/namespaces/other/pods").await;
    assert!(names(&other_ns).is_empty());
}

#[tokio::test]
async fn get_answers_objects_and_not_found_statuses() {
    let s = sim("crashloop-bad-deploy.json").await;
    let (code, d) = get(&s, "/apis/apps/v1/namespaces/shop/deployments/checkout").await;
    assert_eq!((code, d["kind"].as_str(), d["apiVersion"].as_str()), (200, Some("Deployment"), Some("apps/v1")));
    let (_, node) = get(&s, "/api/v1/nodes/ip-10-0-1-23.eu-west-1.compute.internal").await;
    assert_eq!(node["kind"], "Node");
    let (code, st) = get(&s, "/apis/apps/v1/namespaces/shop/deployments/nope").await;
    assert_eq!((code, st["reason"].as_str(), st["code"].as_u64()), (404, Some("NotFound"), Some(404)));
    assert_eq!(st["message"], "deployments.apps \"nope\" not found");
    let (_, ns) = get(&s, "/api/v1/namespaces/shop").await;
    assert_eq!(ns["status"]["phase"], "Active");
    let (_, list) = get(&s, "/apis/apps/v1/deployments").await;
    assert_eq!(list["kind"], "DeploymentList");
    assert!(list["items"][0].get("kind").is_none(), "list items carry no kind, as from the API server");
}

#[tokio::test]
async fn pod_logs_honour_container_previous_tail_and_limit() {
    let s = sim("crashloop-bad-deploy.json").await;
    let pod = "/api/v1/namespaces/shop/pods/checkout-7d9f8b6c5d-x2k4q/log";
    let (code, prev) = get_raw(&s, &format!("{pod}?container=checkout&previous=true"), "*/*").await;
    assert_eq!(code, 200);
    assert!(prev.contains("panic"), "{prev}");
    let (_, tail) = get_raw(&s, &format!("{pod}?container=checkout&previous=true&tailLines=2"), "*/*").await;
    assert_eq!(tail.lines().count(), 2);
    assert!(prev.ends_with(&tail));
    let (_, cut) = get_raw(&s, &format!("{pod}?previous=true&limitBytes=10"), "*/*").await;
    assert_eq!(cut, prev[..10]);
    let (code, _) = get_raw(&s, &format!("{pod}?container=nope"), "*/*").await;
    assert_eq!(code, 400);
    let (code, current) = get_raw(&s, &format!("{pod}?container=checkout"), "*/*").await;
    assert_eq!((code, current), (200, prev.clone()), "a crash-looping container's current log is its last crash");
    let (code, _) = get_raw(&s, "/api/v1/namespaces/shop/pods/checkout-6c8f7d9b4-hv2xd/log?previous=true", "*/*").await;
    assert_eq!(code, 400, "no previous instance recorded");
    let (code, current) = get_raw(&s, "/api/v1/namespaces/shop/pods/checkout-6c8f7d9b4-q7tln/log", "*/*").await;
    assert_eq!(code, 200);
    assert!(!current.is_empty());
    let (code, _) = get_raw(&s, "/api/v1/namespaces/shop/pods/nope/log", "*/*").await;
    assert_eq!(code, 404);
}

const SECRET_BUNDLE: &str = r#"{"objects":[
  {"apiVersion":"v1","kind":"Secret","metadata":{"name":"db","namespace":"shop","labels":{"app":"x"}},"type":"Opaque",
   "data":{"password":"c3VwZXJzZWNyZXQ="},"stringData":{"token":"plaintext-token"}},
  {"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"shop"}}]}"#;

#[tokio::test]
async fn secret_data_is_never_served() {
    let s = sim_json(SECRET_BUNDLE).await;
    let accepts = [
        "application/json",
        "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1",
        "application/json;as=Table;v=v1;g=meta.k8s.io",
    ];
    for path in [
        "/api/v1/secrets",
        "/api/v1/namespaces/shop/secrets",
        "/api/v1/namespaces/shop/secrets/db",
        "/api/v1/secrets?includeObject=Object",
    ] {
        for accept in accepts {
            let (code, body) = get_raw(&s, path, accept).await;
            assert_eq!(code, 200, "{path} {accept}: {body}");
            assert!(body.contains("\"db\""), "{path}: {body}");
            assert!(!body.contains("c3VwZXJzZWNyZXQ") && !body.contains("plaintext-token"), "{path} {accept}: {body}");
        }
    }
    let obj = s.object("v1", "Secret", "shop", "db").unwrap();
    assert!(obj.get("data").is_none());
    assert_eq!(obj["type"], "Opaque");
}

#[tokio::test]
async fn partial_object_metadata_lists_only_metadata() {
    let s = sim_json(SECRET_BUNDLE).await;
    let (code, body) = get_raw(
        &s,
        "/api/v1/namespaces/shop/secrets",
        "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1",
    )
    .await;
    assert_eq!(code, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["kind"], "PartialObjectMetadataList");
    assert_eq!(v["items"][0]["kind"], "PartialObjectMetadata");
    assert_eq!(v["items"][0]["metadata"]["labels"]["app"], "x");
    assert!(v["items"][0].get("type").is_none());
    let (code, _) = get_raw(&s, "/api/v1/secrets", "application/vnd.kubernetes.protobuf").await;
    assert_eq!(code, 406);
}

#[tokio::test]
async fn requests_are_logged_and_counted_per_endpoint() {
    let s = sim("crashloop-bad-deploy.json").await;
    get(&s, "/api/v1/namespaces/shop/pods?limit=1").await;
    get(&s, "/api/v1/namespaces/billing/pods").await;
    get(&s, "/api/v1/namespaces/shop/pods/checkout-7d9f8b6c5d-x2k4q").await;
    let (_, stats) = get(&s, "/sim/stats").await;
    assert_eq!(stats["total"], 3);
    assert_eq!(stats["endpoints"]["GET /api/v1/namespaces/{namespace}/pods"], 2);
    assert_eq!(stats["endpoints"]["GET /api/v1/namespaces/{namespace}/pods/{name}"], 1);
    let reqs = s.requests();
    assert_eq!(reqs.len(), 3);
    assert_eq!(
        (reqs[0].method.as_str(), reqs[0].path.as_str(), reqs[0].query.as_str()),
        ("GET", "/api/v1/namespaces/shop/pods", "limit=1")
    );
    assert_eq!(s.stats().total, 3);
}

#[tokio::test]
async fn every_answer_is_dated_with_the_simulated_clock_and_logged_with_its_accept_header() {
    let s = sim("crashloop-bad-deploy.json").await;
    let resp = common::client()
        .get(format!("{}/api/v1/secrets", s.url()))
        .header("accept", "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1")
        .send()
        .await
        .unwrap();
    let date = resp.headers()["date"].to_str().unwrap().to_string();
    let at = jiff::fmt::rfc2822::DateTimeParser::new().parse_timestamp(&date).unwrap();
    let captured: jiff::Timestamp = "2026-03-01T10:45:00Z".parse().unwrap();
    assert!(at >= captured && at.duration_since(captured).as_secs() < 60, "{date}");
    let logged = s.requests().into_iter().find(|r| r.path == "/api/v1/secrets").unwrap();
    assert!(logged.accept.contains("as=PartialObjectMetadataList"), "{logged:?}");
}
