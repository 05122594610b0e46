//! Bad input gets a clear, typed error naming the JSON path and exit code 2, never a panic.

mod common;

use common::{aiops, temp_file};

fn assert_bad_input(name: &str, content: &[u8], expect_in_message: &str) {
    let path = temp_file(name, content);
    let out = aiops(&["analyze", "--bundle", path.to_str().expect("utf8 path")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{name}: exit code, stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{name} panicked: {stderr}");
    assert!(stderr.contains(expect_in_message), "{name}: expected {expect_in_message:?} in {stderr}");
}

#[test]
fn wrong_types_name_the_field() {
    let bundle = br#"{"apiVersion":"aiops/v1","kind":"IncidentBundle","objects":[
        {"apiVersion":"v1","kind":"Node","metadata":{"name":"n"}},
        {"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"a"},
         "status":{"containerStatuses":[{"name":"c","ready":true,"restartCount":"three","image":"i","imageID":""}]}}]}"#;
    assert_bad_input("wrong-types.json", bundle, "objects[1].status.containerStatuses[0].restartCount");
}

#[test]
fn missing_kind_is_reported() {
    assert_bad_input(
        "no-kind.json",
        br#"{"objects":[{"apiVersion":"v1","metadata":{"name":"x"}}]}"#,
        "objects[0].kind",
    );
}

#[test]
fn truncated_json_is_reported() {
    assert_bad_input(
        "truncated.json",
        br#"{"apiVersion":"aiops/v1","objects":[{"apiVersion":"v1","kind":"Pod","#,
        "EOF",
    );
}

#[test]
fn fifty_megabytes_of_nesting_is_rejected_without_a_crash() {
    let depth = 25 * 1024 * 1024;
    let mut content = Vec::with_capacity(depth * 2 + 32);
    content.extend_from_slice(br#"{"objects":[{"apiVersion":"example.com/v1","kind":"Widget","spec":{"x":"#);
    content.resize(content.len() + depth, b'[');
    content.resize(content.len() + depth, b']');
    content.extend_from_slice(b"}}]}");
    assert_bad_input("deep.json", &content, "recursion limit");
    let mut arrays = b"{\"objects\":[".to_vec();
    arrays.resize(arrays.len() + depth, b'[');
    arrays.resize(arrays.len() + depth, b']');
    arrays.extend_from_slice(b"]}");
    assert_bad_input("deep-arrays.json", &arrays, "objects[0]");
}

#[test]
fn bad_yaml_and_missing_files_are_errors() {
    assert_bad_input("bad.yaml", b"objects: [\n  - {kind: Pod\n", "invalid YAML");
    let out = aiops(&["analyze", "--bundle", "/nonexistent/bundle.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/bundle.json"));
}

#[test]
fn a_bad_rule_file_is_bad_input() {
    let rules = temp_file("rules.yaml", b"rules:\n  - id: x\n    title: t\n    cause: not_a_cause\n");
    let bundle = temp_file("empty.json", br#"{"objects":[]}"#);
    let out = aiops(&["analyze", "--bundle", bundle.to_str().expect("utf8"), "--rules", rules.to_str().expect("utf8")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("rules[0]"), "{stderr}");
}
