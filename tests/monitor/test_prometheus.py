"""A real Prometheus scraping vLLM-format replicas and a DCGM exporter: the report read through PromQL equals the
hand-computed figures, and the plan's alert rules load in it and fire when the service crosses them."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from prometheus_support import PROMTOOL, Prometheus, requires_prometheus
from test_direct import GAPS, ITL_P50, TTFT_P50, TTFT_P90, TTFT_P99, TTFTS

from planner.cli.main import main
from planner.monitor import alert_rules_yaml, judge, targets_from_plan
from planner.monitor.promql import observe_prometheus

pytestmark = requires_prometheus


@pytest.fixture
def watched(serve, plan, tmp_path):
    """Two vLLM replicas (job ow-planner) and a DCGM exporter (job dcgm), scraped every second, with the plan's rules."""
    a, b, dcgm = serve("vllm", engine_index=0), serve("vllm", engine_index=0), serve("dcgm")
    rules = alert_rules_yaml(plan, window="30s", for_duration="2s", job="ow-planner")
    (tmp_path / "rules.yaml").write_text(rules)
    check = subprocess.run([PROMTOOL, "check", "rules", str(tmp_path / "rules.yaml")], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    prom = Prometheus(tmp_path / "prom", {"ow-planner": [f"127.0.0.1:{a.port}", f"127.0.0.1:{b.port}"],
                                          "dcgm": [f"127.0.0.1:{dcgm.port}"]}, rules)
    # Every series exists, at zero, before the load: each bucket's rate then extrapolates alike.
    prom.wait_for('count(up{job="ow-planner"} == 1)', at_least=2)
    prom.wait_for("count_over_time(vllm:num_requests_running[1m])", at_least=2)
    # Before the first scrapes no replica is up: ReplicaDown may fire at start, and resolves once both are scraped.
    prom.wait_quiet("ReplicaDown")
    yield prom, a, b, dcgm
    prom.stop()


def test_the_report_through_promql_equals_the_hand_computed_figures(watched, plan, tmp_path, capsys):
    prom, a, _b, dcgm = watched
    assert "TTFTAboveTarget" not in prom.alerts()  # no requests yet: no p90 to compare
    for i, ttft in enumerate(TTFTS):  # all on one replica: Prometheus extrapolates each target's rate on its own
        a.metrics.request(ttft, GAPS, prompt_tokens=48, reason="abort" if i == 0 else "stop")
    dcgm.metrics.gpu_util, dcgm.metrics.fb_used_mib = [60.0], [40_000.0]
    prom.wait_for("sum(vllm:time_to_first_token_seconds_count)", at_least=10)
    prom.wait_for("DCGM_FI_DEV_FB_USED", at_least=40_000)
    time.sleep(1.5)  # one more scrape after the change

    obs = observe_prometheus(prom.url, window_s=120, engine="vllm")
    assert (obs.ttft_s.p50, obs.ttft_s.p90, obs.ttft_s.p99) == pytest.approx((TTFT_P50, TTFT_P90, TTFT_P99))
    assert obs.ttft_s.mean == pytest.approx(sum(TTFTS) / 10)
    assert obs.itl_s.p50 == pytest.approx(ITL_P50)
    # rate() extrapolates the window's edges, by the same factor for every series of a target: ratios are exact
    assert obs.output_tokens_per_s / obs.requests_per_s == pytest.approx(4.0)
    assert obs.error_rate == pytest.approx(0.1)
    assert obs.replicas_reporting == 2 and obs.gpu_exporter == "dcgm"
    assert obs.gpu_memory_used_gib == pytest.approx(40_000 / 1024)
    report = judge(obs, targets_from_plan(plan), replan=False)
    assert report.verdict("ttft") == "missed" and report.verdict("replicas") == "met"
    assert report.observation.source == f"Prometheus at {prom.url}"

    # the same through the command line
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan))
    assert main(["monitor", "--plan", str(plan_file), "--prometheus", prom.url, "--window", "2m", "--json", "--no-replan"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["observation"]["ttft_s"]["p90"] == pytest.approx(TTFT_P90)
    assert next(c for c in doc["checks"] if c["target"] == "ttft")["verdict"] == "missed"


def test_alert_rules_fire_when_the_service_crosses_the_plans_thresholds(watched):
    prom, a, b, _dcgm = watched
    assert {"TTFTAboveTarget", "KVCacheAboveHeadroom", "ReplicaDown"}.isdisjoint(prom.alerts())
    for _ in range(20):  # every first token at 3 s: p90 = 2.5 (the bucket's top) against the plan's 1 s
        a.metrics.request(3.0, GAPS, prompt_tokens=48)
    a.metrics.kv_usage = 0.95  # over the plan's 85% ceiling
    prom.wait_firing("TTFTAboveTarget")
    prom.wait_firing("KVCacheAboveHeadroom")
    b.stop()  # a replica goes down
    prom.wait_firing("ReplicaDown")
    rules = {r["name"]: r for g in prom_rules(prom) for r in g["rules"]}
    assert 'histogram_quantile(0.9' in rules["TTFTAboveTarget"]["query"] and "> 1" in rules["TTFTAboveTarget"]["query"]


def prom_rules(prom: Prometheus) -> list[dict]:
    import requests

    return requests.get(f"{prom.url}/api/v1/rules", timeout=5).json()["data"]["groups"]


def test_the_monitor_page_reads_prometheus(watched):
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    prom, a, _b, _dcgm = watched
    for ttft in TTFTS:
        a.metrics.request(ttft, GAPS, prompt_tokens=48)
    prom.wait_for("sum(vllm:time_to_first_token_seconds_count)", at_least=10)
    time.sleep(1.5)
    at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "streamlit_app.py"), default_timeout=60).run()
    at.switch_page("pages/monitor.py").run()
    at.radio(key="monitor_source").set_value("A Prometheus server").run()
    at.text_input(key="monitor_prometheus").set_value(prom.url).run()
    at.button(key="monitor_read").click().run()
    assert not at.exception, [e.value for e in at.exception]
    text = "\n".join(m.value for m in at.markdown)
    assert "TTFT p90 2.5 s" in text and f"Prometheus at {prom.url}" in text


def test_every_engines_format_through_one_prometheus(serve, tmp_path):
    """SGLang, TensorRT-LLM (at trtllm-serve's /prometheus/metrics) and llama.cpp beside vLLM in one Prometheus:
    each engine's figures are read by its own names."""
    servers = {e: serve(e) for e in ("vllm", "sglang", "tensorrt-llm", "llama.cpp")}
    prom = Prometheus(tmp_path / "prom", {e: [f"127.0.0.1:{s.port}"] for e, s in servers.items()},
                      metrics_paths={"tensorrt-llm": "/prometheus/metrics"})
    try:
        prom.wait_for("count(up == 1)", at_least=4)
        prom.wait_for("count_over_time(llamacpp:requests_deferred[1m])", at_least=2)
        for server in servers.values():
            for ttft in TTFTS:
                server.metrics.request(ttft, GAPS, prompt_tokens=48)
            server.metrics.waiting = 2
        prom.wait_for("sum(llamacpp:tokens_predicted_total)", at_least=40)
        prom.wait_for("sum(sglang:time_to_first_token_seconds_count) + sum(trtllm_time_to_first_token_seconds_count)",
                      at_least=20)
        time.sleep(1.5)
        seen = {e: observe_prometheus(prom.url, window_s=120, engine=e) for e in servers}
    finally:
        prom.stop()
    assert seen["vllm"].ttft_s.p90 == pytest.approx(TTFT_P90) and seen["tensorrt-llm"].ttft_s.p90 == pytest.approx(TTFT_P90)
    assert seen["sglang"].itl_s.p50 == pytest.approx(0.015 + 0.005 * 15 / 20)  # SGLang's finer ITL buckets
    assert seen["llama.cpp"].ttft_s.p90 is None and seen["llama.cpp"].missing["ttft_s"] == "not published by llama.cpp"
    assert seen["llama.cpp"].requests_waiting_max == 2 and seen["llama.cpp"].output_tokens_per_s > 0
    for engine in ("vllm", "sglang", "tensorrt-llm"):
        assert seen[engine].requests_per_s > 0 and seen[engine].engine == engine
