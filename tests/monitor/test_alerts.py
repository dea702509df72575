"""The plan's alert rules (checked by promtool, their firing logic by `promtool test rules`) and its dashboard."""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml
from prometheus_support import PROMTOOL, requires_prometheus

from planner.monitor import alert_rules, grafana_dashboard, targets_from_plan
from planner.monitor.alerts import alert_rules_yaml, alert_specs, monitoring_files


def _with_engine(plan: dict, engine: str) -> dict:
    return {**plan, "recommendation": {**plan["recommendation"], "engine": engine}}


def test_thresholds_are_the_plans_numbers(plan):
    t = targets_from_plan(plan)
    rules = {r["alert"]: r for r in alert_rules(plan)["groups"][0]["rules"]}
    assert rules["TTFTAboveTarget"]["expr"].endswith(") > 1") and rules["TTFTAboveTarget"]["for"] == "5m"
    assert "histogram_quantile(0.9, sum by (le) (rate(vllm:time_to_first_token_seconds_bucket[5m])))" in rules["TTFTAboveTarget"]["expr"]
    assert rules["DecodeBelowTarget"]["expr"].endswith("< 50")
    assert rules["TrafficAbovePeak"]["expr"].endswith("> 4")  # load.peak_requests_per_s
    assert rules["TrafficAboveCapacity"]["expr"].endswith(f"> {t.capacity_requests_per_s:g}")
    assert rules["KVCacheAboveHeadroom"]["expr"].endswith("> 0.85")
    assert rules["ReplicaDown"]["expr"] == '(count(up{job="ow-planner"} == 1) or vector(0)) < 2'
    # both sides of vLLM's V1 rename are read
    assert "vllm:inter_token_latency_seconds_bucket" in rules["DecodeBelowTarget"]["expr"]
    assert "vllm:time_per_output_token_seconds_bucket" in rules["DecodeBelowTarget"]["expr"]


def test_capacity_is_the_recommenders_sizing_of_a_replica(plan):
    t = targets_from_plan(plan)
    rec, c = plan["recommendation"], plan["constraints"]
    per_replica = rec["replica_tokens_per_month"] * c["peak_to_average"] / ((c["input_tokens"] + c["output_tokens"]) * 86_400 * 30.4375)
    assert t.capacity_requests_per_s == pytest.approx(2 * per_replica)


@requires_prometheus
@pytest.mark.parametrize("engine", ["vllm", "sglang", "tensorrt-llm", "llama.cpp"])
def test_promtool_accepts_the_rules_for_every_engine(plan, engine, tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(alert_rules_yaml(_with_engine(plan, engine)))
    out = subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout


@requires_prometheus
def test_promtool_unit_test_queue_growing_and_error_rate(plan, tmp_path):
    (tmp_path / "rules.yaml").write_text(alert_rules_yaml(plan, window="1m", for_duration="2m"))
    summary = {r["alert"]: r["annotations"]["summary"] for r in alert_rules(plan)["groups"][0]["rules"]}

    def fired(name: str, value: float, threshold: str) -> list[dict]:
        # the description carries the value Prometheus computed: deriv 1 request per minute; 6 aborts in 66 a minute
        return [{"exp_labels": {"severity": "page"}, "exp_annotations": {
            "summary": summary[name], "description": f"{name}: {value!r} against the plan's threshold of {threshold}."}}]
    labels = 'model_name="m",engine="0"'
    test = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": [
            {"series": f"vllm:num_requests_waiting{{{labels}}}", "values": "0 0 1 2 3 4 5 6 7 8"},
            {"series": f'vllm:request_success_total{{{labels},finished_reason="stop"}}', "values": "0+60x9"},
            {"series": f'vllm:request_success_total{{{labels},finished_reason="abort"}}', "values": "0 0 0+6x7"},
        ],
        "alert_rule_test": [
            {"eval_time": "1m", "alertname": "QueueGrowing", "exp_alerts": []},
            {"eval_time": "6m", "alertname": "QueueGrowing", "exp_alerts": fired("QueueGrowing", 1 / 60, "0")},
            {"eval_time": "6m", "alertname": "ErrorRateHigh", "exp_alerts": fired("ErrorRateHigh", 6 / 66, "0.01")},
        ]}]}
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(test))
    out = subprocess.run([PROMTOOL, "test", "rules", "test.yaml"], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr


def test_dashboard_has_a_panel_per_rule_with_the_threshold_line(plan):
    dashboard = grafana_dashboard(plan)
    specs = alert_specs(targets_from_plan(plan))
    assert [p["title"] for p in dashboard["panels"]] == [s["title"] for s in specs]
    ttft = dashboard["panels"][0]
    assert ttft["fieldConfig"]["defaults"]["thresholds"]["steps"][1] == {"color": "red", "value": 1.0}
    assert ttft["targets"][0]["expr"].startswith("histogram_quantile(0.9")
    json.dumps(dashboard)


def test_deployment_files_carry_the_rules_and_dashboard_unless_the_engine_publishes_none(plan):
    files = monitoring_files(plan)
    assert sorted(files) == ["grafana-dashboard.json", "prometheus-alerts.yaml"]
    assert monitoring_files(_with_engine(plan, "ollama")) == {}
