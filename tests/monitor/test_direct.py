"""The monitor reading the endpoints' own /metrics: real HTTP servers in each engine's format, figures by hand."""

from __future__ import annotations

import json

import pytest

from planner.cli.main import main
from planner.monitor import judge, targets_from_plan
from planner.monitor.scrape import observation_from_scrapes, scrape_once

# Ten requests. TTFT against vLLM's buckets (…0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5…):
# cumulative 1 at 0.04, 2 at 0.06, 3 at 0.08, 4 at 0.1, 5 at 0.25, 6 at 0.5, 7 at 0.75, 8 at 1, 9 at 2.5, 10 at 5.
TTFTS = [0.03, 0.05, 0.07, 0.09, 0.2, 0.3, 0.6, 0.9, 1.5, 3.0]
TTFT_P50 = 0.1 + (0.25 - 0.1) * (5 - 4) / 1  # rank 5 tops the (0.1, 0.25] bucket
TTFT_P90 = 1.0 + (2.5 - 1.0) * (9 - 8) / 1  # rank 9 tops (1, 2.5]
TTFT_P99 = 2.5 + (5.0 - 2.5) * (9.9 - 9) / 1  # rank 9.9 in (2.5, 5]
# Three gaps a request: 20 of 0.02 s (bucket 0.025) and 10 of 0.04 s (bucket 0.05); 30 in all.
GAPS = [0.02, 0.02, 0.04]
ITL_P50 = 0.01 + (0.025 - 0.01) * 15 / 20  # rank 15 of the 20 in (0.01, 0.025]
ITL_P90 = 0.025 + (0.05 - 0.025) * (27 - 20) / 10  # rank 27: 7 into the 10 of (0.025, 0.05]


def _load_window(server, dcgm=None):
    first = scrape_once([server.url] + ([dcgm.url] if dcgm else []))
    m = server.metrics
    for i, ttft in enumerate(TTFTS):
        m.request(ttft, GAPS, prompt_tokens=48, reason="abort" if i == 0 else "stop")
    m.waiting, m.running, m.kv_usage = 3, 4, 0.9
    if dcgm:
        dcgm.metrics.gpu_util, dcgm.metrics.fb_used_mib, dcgm.metrics.fb_free_mib = [50.0, 70.0], [40_000.0, 40_960.0], [41_559.0, 40_599.0]
    last = scrape_once([server.url] + ([dcgm.url] if dcgm else []))
    return first, last


def test_figures_from_two_scrapes_equal_the_hand_computed_ones(serve, plan):
    server, dcgm = serve("vllm"), serve("dcgm")
    server.metrics.request(0.001, [0.5], prompt_tokens=7)  # before the window: must not count
    first, last = _load_window(server, dcgm)
    obs = observation_from_scrapes([first, last])
    assert obs.engine == "vllm" and obs.gpu_exporter == "dcgm"
    assert (obs.ttft_s.p50, obs.ttft_s.p90, obs.ttft_s.p99) == pytest.approx((TTFT_P50, TTFT_P90, TTFT_P99))
    assert obs.ttft_s.mean == pytest.approx(sum(TTFTS) / 10) and obs.ttft_s.count == 10
    assert (obs.itl_s.p50, obs.itl_s.p90) == pytest.approx((ITL_P50, ITL_P90))
    assert obs.requests_per_s * obs.window_s == pytest.approx(10)
    assert obs.output_tokens_per_s * obs.window_s == pytest.approx(40)  # the first token and three more, each
    assert obs.prompt_tokens_per_s * obs.window_s == pytest.approx(480)
    assert obs.error_rate == pytest.approx(0.1)  # one abort, vLLM's finish reason for a failed request
    assert obs.requests_waiting_max == 3 and obs.requests_waiting_growth_per_s > 0
    assert obs.kv_cache_usage_max == 0.9
    assert obs.gpu_utilization_percent == pytest.approx((0 + (50 + 70) / 2) / 2)  # mean over both scrapes
    assert obs.gpu_memory_used_gib == pytest.approx(80_960 / 1024)
    assert obs.gpu_memory_total_gib == pytest.approx((80_960 + 82_158) / 1024)
    assert obs.metric_names["itl_s"] == "vllm:inter_token_latency_seconds"

    report = judge(obs, targets_from_plan(plan), replan=False)
    assert report.verdict("ttft") == "missed"  # p90 2.5 s against 1 s
    assert report.verdict("decode") == "missed"  # 1 / 0.02125 s = 47 tokens/s against 50
    assert report.verdict("errors") == "missed" and report.verdict("kv_cache") == "missed"
    assert report.verdict("queue") == "missed"  # 0 then 3 waiting
    assert report.verdict("replicas") == "missed"  # one endpoint of two planned
    ttft = next(c for c in report.checks if c.target == "ttft")
    assert "TTFT p90 2.5 s" in ttft.sentence and "target of 1 s: missed" in ttft.sentence and ttft.advice


def test_replicas_with_identical_label_sets_are_kept_apart_and_added(serve):
    a, b = serve("vllm"), serve("vllm")  # two replicas label every series alike (model_name, engine="0")
    first = scrape_once([a.url, b.url])
    a.metrics.request(0.2, GAPS, prompt_tokens=48)
    b.metrics.request(0.3, GAPS, prompt_tokens=48)
    b.metrics.request(0.6, GAPS, prompt_tokens=48)
    obs = observation_from_scrapes([first, scrape_once([a.url, b.url])])
    assert obs.requests_per_s * obs.window_s == pytest.approx(3) and obs.ttft_s.count == 3
    assert obs.replicas_reporting == 2


def test_amd_gpus_read_from_the_device_metrics_exporter_in_mb(serve):
    server, amd = serve("vllm"), serve("amd-smi")
    first = scrape_once([server.url, amd.url])
    server.metrics.request(0.2, GAPS, prompt_tokens=48)
    amd.metrics.gpu_util, amd.metrics.fb_used_mib, amd.metrics.fb_free_mib = [40.0], [150_000.0], [55_000.0]
    obs = observation_from_scrapes([first, scrape_once([server.url, amd.url])])
    assert obs.gpu_exporter == "amd-smi" and obs.gpu_utilization_percent == pytest.approx(20.0)  # 0 then 40
    assert obs.gpu_memory_used_gib == pytest.approx(150_000e6 / 2**30)
    assert obs.gpu_memory_total_gib == pytest.approx(205_000e6 / 2**30)


def test_vllm_before_its_v1_renames_reads_the_old_names(serve):
    server = serve("vllm", vllm_version="0.10")
    first, last = _load_window(server)
    obs = observation_from_scrapes([first, last])
    assert obs.metric_names["itl_s"] == "vllm:time_per_output_token_seconds"
    assert obs.metric_names["kv_cache_usage"] == "vllm:gpu_cache_usage_perc"
    assert obs.itl_s.p50 == pytest.approx(ITL_P50) and obs.kv_cache_usage_max == 0.9


@pytest.mark.parametrize("engine", ["sglang", "tensorrt-llm"])
def test_sglang_and_tensorrt_llm_formats_give_the_same_percentiles(serve, engine):
    server = serve(engine)
    first, last = _load_window(server)
    obs = observation_from_scrapes([first, last])
    assert obs.engine == engine and obs.ttft_s.count == 10 and obs.requests_per_s * obs.window_s == pytest.approx(10)
    if engine == "tensorrt-llm":  # same bucket bounds as vLLM (collector.py copies them)
        assert (obs.ttft_s.p90, obs.itl_s.p50) == pytest.approx((TTFT_P90, ITL_P50))
    else:  # SGLang's ITL buckets (…0.015, 0.020, 0.05…): rank 15 of the 20 in (0.015, 0.02]
        assert obs.itl_s.p50 == pytest.approx(0.015 + 0.005 * 15 / 20)


def test_llama_cpp_publishes_no_latency_histograms_and_the_report_says_so(serve, plan):
    server = serve("llama.cpp")
    first, last = _load_window(server)
    obs = observation_from_scrapes([first, last])
    assert obs.ttft_s.p90 is None and obs.missing["ttft_s"] == "not published by llama.cpp"
    assert obs.output_tokens_per_s * obs.window_s == pytest.approx(40) and obs.requests_waiting_max == 3
    report = judge(obs, targets_from_plan(plan), replan=False)
    ttft = next(c for c in report.checks if c.target == "ttft")
    assert ttft.verdict == "unmeasured" and "not published by llama.cpp" in ttft.sentence
    assert report.verdict("engine") == "missed"  # the plan picked vLLM
    assert report.checks[0].sentence == ("The service publishes llama.cpp's metrics, but the plan picked vllm: "
                                         "the plan's predictions are for another engine.")


def test_cli_reads_the_endpoints_over_a_window_and_prints_json(serve, plan, tmp_path, capsys):
    server = serve("vllm")

    def batch(m):  # every scrape adds the same ten requests: any window holds whole batches of them
        for ttft in TTFTS:
            m.request(ttft, GAPS, prompt_tokens=48)

    server.on_scrape = batch
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan))
    code = main(["monitor", "--plan", str(plan_file), "--metrics-url", server.url, "--window", "1s",
                 "--interval", "0.3s", "--json", "--no-replan", "--alerts-dir", str(tmp_path / "alerts")])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    obs = doc["observation"]
    assert obs["ttft_s"]["count"] % 10 == 0 and obs["ttft_s"]["count"] >= 10
    assert obs["ttft_s"]["p90"] == pytest.approx(TTFT_P90)
    assert {c["target"] for c in doc["checks"]} >= {"ttft", "decode", "traffic", "queue", "kv_cache", "errors", "replicas", "gpu"}
    assert sorted(p.name for p in (tmp_path / "alerts").iterdir()) == ["grafana-dashboard.json", "prometheus-alerts.yaml"]


def test_cli_names_what_is_wrong(plan, tmp_path, capsys):
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps({"recommendation": {"engine": "vllm"}}))
    assert main(["monitor", "--plan", str(plan_file), "--metrics-url", "http://127.0.0.1:9/metrics"]) == 2
    assert "field 'load.peak_requests_per_s' is missing" in capsys.readouterr().err
    plan_file.write_text(json.dumps(plan))
    assert main(["monitor", "--plan", str(plan_file), "--metrics-url", "http://127.0.0.1:9/metrics", "--window", "1s"]) == 1
    assert "cannot read http://127.0.0.1:9/metrics" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["monitor", "--plan", str(plan_file), "--metrics-url", "x", "--window", "soon"])
