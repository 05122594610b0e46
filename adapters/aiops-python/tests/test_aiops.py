"""The pytest suite of the Python bindings, run against the freshly built wheel installed into a
clean venv (scripts/test.d/50-python.sh). Paths are relative to the repository root."""

import copy
import json
import os
import pathlib
import threading
import time

import pytest

import aiops

ROOT = pathlib.Path(__file__).resolve().parents[3]
OOM = ROOT / "examples" / "bundles" / "oom-killed.json"
CRASH = ROOT / "examples" / "bundles" / "crashloop-bad-deploy.json"
CUSTOM_RULES = ROOT / "examples" / "custom-rule" / "rules.yaml"


def cargo_version():
    for line in (ROOT / "Cargo.toml").read_text().splitlines():
        if line.startswith("version = "):
            return line.split('"')[1]
    raise AssertionError("no workspace version")


def test_version_is_the_crate_version():
    assert aiops.__version__ == cargo_version()


def test_analyze_a_path_string_ranks_the_expected_cause():
    report = aiops.analyze(str(OOM))
    assert report["hypotheses"][0]["cause"] == "oom_killed"
    assert report["hypotheses"][0]["resource"] == "Deployment/shop/cart"


def test_analyze_accepts_pathlike_dict_and_text_alike():
    by_path = aiops.analyze(CRASH)
    by_dict = aiops.analyze(json.loads(CRASH.read_text()))
    by_text = aiops.analyze(CRASH.read_text())
    assert by_path == by_dict == by_text
    assert by_path["hypotheses"][0]["cause"] == "bad_deploy"


def test_report_is_json_and_cites_existing_evidence():
    report = aiops.analyze(OOM)
    json.dumps(report)  # plain Python objects only
    ids = {e["id"] for e in report["evidence"]}
    for h in report["hypotheses"]:
        assert h["evidence"], h
        assert set(h["evidence"]) <= ids


def test_bad_bundle_raises_bundle_error_with_the_json_path():
    bundle = json.loads(OOM.read_text())
    i = next(n for n, o in enumerate(bundle["objects"]) if o["kind"] == "Pod")
    bundle["objects"][i]["status"] = {"containerStatuses": [{"name": "x", "restartCount": "many"}]}
    with pytest.raises(aiops.BundleError) as info:
        aiops.analyze(bundle)
    assert info.value.path.startswith(f"objects[{i}].status"), info.value.path
    assert f"objects[{i}].status" in str(info.value)
    assert isinstance(info.value, aiops.AiopsError)


def test_not_a_document_raises_bundle_error():
    with pytest.raises(aiops.BundleError) as info:
        aiops.analyze("{not json")
    assert isinstance(info.value.path, str) and info.value.path
    assert "invalid input" in str(info.value)


def test_missing_file_raises_file_not_found():
    with pytest.raises(FileNotFoundError):
        aiops.analyze(ROOT / "no-such-bundle.json")


def test_wrong_argument_type_is_a_type_error():
    with pytest.raises(TypeError):
        aiops.analyze(42)


def test_engine_default_matches_analyze():
    engine = aiops.Engine()
    assert engine.analyze(OOM) == aiops.analyze(OOM)
    assert len(engine.rule_ids()) >= 10


def test_engine_with_a_rule_file_runs_the_extra_rule():
    engine = aiops.Engine({"rules": str(CUSTOM_RULES)})
    assert "example_jvm_heap_exhausted" in engine.rule_ids()
    assert "example_jvm_heap_exhausted" not in aiops.Engine().rule_ids()
    inline = aiops.Engine({"rules_text": CUSTOM_RULES.read_text()})
    assert inline.rule_ids() == engine.rule_ids()


def test_engine_rejects_bad_config():
    with pytest.raises(aiops.AiopsError, match="unknown Engine config key `rulez`"):
        aiops.Engine({"rulez": "x"})
    with pytest.raises(aiops.AiopsError, match="rule file"):
        aiops.Engine({"rules_text": "rules: [{id: 1}]"})
    with pytest.raises(aiops.PolicyError):
        aiops.Engine({"policy": str(ROOT / "no-such-policy.rego")})


def test_engine_with_a_policy_uses_it(tmp_path):
    policy = tmp_path / "allow.rego"
    policy.write_text("package remediation\nallow := true\nrequires_approval := false\n")
    default = aiops.Engine().analyze(CRASH)["remediation"]
    custom = aiops.Engine({"policy": str(policy)}).analyze(CRASH)["remediation"]
    assert default["decision"] != "allow", default
    assert custom["decision"] == "allow", custom
    assert custom["reasons"] == ["allowed"]


POLICY_INPUT = {
    "action_type": "restart_deployment",
    "environment": "dev",
    "namespace": "shop",
    "blast_radius_score": 10,
    "affected_replicas": 2,
    "current_hour": 12,
    "is_weekend": False,
    "freeze_active": False,
}


def test_evaluate_policy_default_allows_a_small_dev_restart():
    out = aiops.evaluate_policy(POLICY_INPUT)
    assert out["decision"] == "allow", out
    assert out["input"]["action_type"] == "restart_deployment"


def test_evaluate_policy_denies_kube_system_with_a_reason():
    out = aiops.evaluate_policy(dict(POLICY_INPUT, environment="production", namespace="kube-system"))
    assert out["decision"] == "deny"
    assert any("kube-system" in r for r in out["reasons"]), out


def test_evaluate_policy_with_custom_rego():
    rego = "package remediation\nallow := false\ndeny := {\"never\"}\n"
    out = aiops.evaluate_policy(POLICY_INPUT, rego)
    assert out["decision"] == "deny" and out["reasons"] == ["never"]


def test_evaluate_policy_errors():
    with pytest.raises(aiops.PolicyError):
        aiops.evaluate_policy(dict(POLICY_INPUT, blast_radius_score="high"))
    with pytest.raises(aiops.PolicyError):
        aiops.evaluate_policy(POLICY_INPUT, "package broken\nthis is not rego")
    with pytest.raises(aiops.PolicyError):
        aiops.evaluate_policy(["not", "a", "dict"])


def test_eval_scores_a_folder_and_a_file():
    report = aiops.eval(ROOT / "examples" / "bundles")
    assert report["faults"] == len(list((ROOT / "examples" / "bundles").glob("*.json")))
    assert report["top1"] == 1.0
    case = aiops.eval(OOM)
    assert case["expected"] == "oom_killed" and case["top1"] is True, case


def test_eval_missing_path_raises():
    with pytest.raises(FileNotFoundError):
        aiops.eval(ROOT / "no-such-dir")


def big_bundle(copies):
    """The OOM bundle with its pods repeated `copies` times (distinct names)."""
    bundle = json.loads(OOM.read_text())
    pods = [o for o in bundle["objects"] if o["kind"] == "Pod"]
    for i in range(copies):
        for pod in pods:
            p = copy.deepcopy(pod)
            p["metadata"]["name"] = f"{pod['metadata']['name']}-copy{i}"
            p["metadata"].pop("uid", None)
            bundle["objects"].append(p)
    return json.dumps(bundle)


def test_the_gil_is_released_during_analysis():
    """While one thread analyses a large bundle, another keeps running Python: the longest
    pause the main thread sees is far shorter than the analysis itself."""
    text = big_bundle(1500)
    started, done = threading.Event(), threading.Event()
    span = {}

    def work():
        started.set()
        t0 = time.perf_counter()
        aiops.analyze(text)
        span["call"] = time.perf_counter() - t0
        done.set()

    t = threading.Thread(target=work)
    t.start()
    started.wait()
    last, gap = time.perf_counter(), 0.0
    while not done.is_set():
        now = time.perf_counter()
        gap, last = max(gap, now - last), now
    t.join()
    assert span["call"] > 0.05, f"bundle too small to tell: {span}"
    assert gap < span["call"] / 2, f"main thread paused {gap:.3f}s during a {span['call']:.3f}s call"
