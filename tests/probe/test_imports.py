"""Results of GuideLLM, vLLM bench and AIPerf / GenAI-Perf, read into the probe's result model.

Fixtures in tests/probe/imports/:
- guidellm-0.8.1-constant-2-8.json: a REAL GuideLLM 0.8.1 benchmarks file, made by running
  `guidellm run --profile kind=constant --override profile.rate 2,8 --constraint kind=max_requests,count=8`
  against the tests' tiny llama.cpp server (bench/probe_side_by_side.py shows the invocation).
- vllm-bench-serve.json: written from the result dict of vLLM's `vllm/benchmarks/serve.py`
  (`--save-result`; vllm 0.34.0 requires torch==2.14.0 and CUDA packages, so it is not installed here).
- aiperf-profile-export.json: written from AIPerf 0.13.0's `JsonExportData` / `JsonMetricResult`
  (aiperf/common/models/export_models.py, read from its wheel; not run here).
- genai-perf-profile-export.json: GenAI-Perf's profile_export_genai_perf.json shape, the one
  AIPerf's JSON keeps "for downstream-tool compatibility".
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from test_verify import PLANS

from planner.probe import ProbeConfigError, calibration_entry, compare
from planner.probe.imports import detect_format, import_result, import_result_file

FIXTURES = Path(__file__).parent / "imports"


def test_guidellm_real_file():
    path = FIXTURES / "guidellm-0.8.1-constant-2-8.json"
    doc = json.loads(path.read_text())
    result = import_result_file(path)
    assert result.source == "guidellm" and result.mode == "rate"
    assert (result.model, result.url, result.endpoint) == ("tiny", "http://127.0.0.1:8766", "completions")
    assert [lv.request_rate_rps for lv in result.levels] == [2.0, 8.0]
    for level, bench in zip(result.levels, doc["benchmarks"], strict=True):
        metrics = bench["metrics"]
        ttft = metrics["time_to_first_token_ms"]["successful"]["percentiles"]
        itl = metrics["inter_token_latency_ms"]["successful"]["percentiles"]
        assert level.ttft_s.p50 == pytest.approx(ttft["p50"] / 1000)
        assert level.ttft_s.p90 == pytest.approx(ttft["p90"] / 1000)
        assert level.inter_token_s.p50 == pytest.approx(itl["p50"] / 1000)
        assert level.output_tokens_per_s_per_stream.p50 == pytest.approx(1000 / itl["p50"])
        assert level.aggregate_output_tokens_per_s == pytest.approx(metrics["output_tokens_per_second"]["successful"]["mean"])
        assert level.requests_per_s == pytest.approx(metrics["requests_per_second"]["successful"]["mean"])
        assert (level.succeeded, level.errors, level.requests) == (8, 0, 8)
        assert level.output_tokens == 8 * 64 and level.prompt_tokens == 48
        assert level.wall_s == pytest.approx(bench["duration"])


def test_vllm_bench_serve_result():
    result = import_result_file(FIXTURES / "vllm-bench-serve.json")
    (level,) = result.levels
    assert result.source == "vllm-bench" and result.model == "meta-llama/Llama-3.1-8B-Instruct"
    assert result.started_at.startswith("2026-12-02T18:15:00")
    assert (level.mode, level.request_rate_rps, level.arrival) == ("rate", 4.0, "poisson")
    assert (level.requests, level.succeeded, level.errors) == (200, 198, 2)
    assert level.errors_by_kind == {"server_error": 2} and "KV cache" in level.error_examples["server_error"]
    assert level.ttft_s.p50 == pytest.approx(0.1184) and level.ttft_s.p90 == pytest.approx(0.2217)
    assert level.inter_token_s.p99 == pytest.approx(0.0882)
    # vLLM's TPOT = (E2E − TTFT) / (output − 1); its per-stream speed is 1 / TPOT.
    assert level.tpot_s.p50 == pytest.approx(0.025)
    assert level.output_tokens_per_s_per_stream.p50 == pytest.approx(40.0)
    assert level.e2e_s.p50 == pytest.approx(7.612)
    assert level.aggregate_output_tokens_per_s == pytest.approx(1133.59)
    assert level.prompt_tokens == pytest.approx(1000.0) and level.max_in_flight == 31


def test_vllm_infinite_rate_is_a_burst_not_a_rate():
    doc = json.loads((FIXTURES / "vllm-bench-serve.json").read_text())
    doc.update(request_rate="inf", max_concurrency=64)
    (level,) = import_result(doc).levels
    assert level.mode == "concurrency" and level.request_rate_rps is None and level.concurrency == 64


@pytest.mark.parametrize(("name", "fmt"), [("aiperf-profile-export.json", "aiperf"),
                                           ("genai-perf-profile-export.json", "genai-perf")])
def test_aiperf_and_genai_perf_exports(name, fmt):
    result = import_result_file(FIXTURES / name)
    (level,) = result.levels
    assert result.source == fmt
    doc = json.loads((FIXTURES / name).read_text())
    assert level.ttft_s.p50 == pytest.approx(doc["time_to_first_token"]["p50"] / 1000)
    assert level.inter_token_s.p90 == pytest.approx(doc["inter_token_latency"]["p90"] / 1000)
    assert level.output_tokens_per_s_per_stream.p50 == doc["output_token_throughput_per_user"]["p50"]
    assert level.aggregate_output_tokens_per_s == doc["output_token_throughput"]["avg"]
    if fmt == "aiperf":
        assert (level.concurrency, level.succeeded, level.errors) == (16, 497, 3)
        assert result.model == "Qwen/Qwen3-8B" and level.wall_s == pytest.approx(60.2)
    else:
        assert level.concurrency == 4 and result.model == "mistralai/Mistral-7B-Instruct-v0.3"


def test_an_import_is_compared_and_calibrated_like_a_run():
    plan = json.loads((PLANS / "pass.plan.json").read_text())
    result = import_result_file(FIXTURES / "vllm-bench-serve.json")
    rows = {row.target: row for row in compare(plan, result)}
    assert rows["decode_tokens_per_s"].measured == pytest.approx(40.0)
    entry = calibration_entry(plan, result)
    roofline = plan["recommendation"]["speed"]["decode_roofline_tokens_per_s"]
    assert entry.decode_efficiency == pytest.approx(40.0 / roofline)


@pytest.mark.parametrize("doc", [{"benchmarks": "x"} | {}, {"hello": 1}, [1, 2], "text"])
def test_foreign_json_is_refused_with_what_is_expected(doc):
    with pytest.raises(ProbeConfigError, match="expected a GuideLLM"):
        detect_format(doc)


def _cli(args, env):
    return subprocess.run([sys.executable, "-m", "planner.probe", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_cli_import_with_plan_and_calibrate(subprocess_env, tmp_path):
    env = dict(subprocess_env, PLANNER_CALIBRATION_FILE=str(tmp_path / "cal.json"))
    proc = _cli(["--import", str(FIXTURES / "guidellm-0.8.1-constant-2-8.json"), "--plan",
                 str(PLANS / "pass.plan.json"), "--calibrate", "--json"], env)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["source"] == "guidellm" and len(doc["levels"]) == 2
    assert doc["comparison"] and doc["verification"]["target_requests_per_s"] == 4.0
    # GuideLLM ran 2 and 8 requests/s, not the plan's peak of 4: no verdict is made up.
    assert doc["verification"]["verdict"] == "unmeasured" and "nearest level ran at 2" in doc["verification"]["sentence"]
    assert "calibration saved to" in proc.stderr
    plan_engine = json.loads((PLANS / "pass.plan.json").read_text())["recommendation"]["engine"]
    assert json.loads((tmp_path / "cal.json").read_text())[0]["engine"] == plan_engine


def test_cli_import_of_a_foreign_file_is_one_line_exit_2(subprocess_env, tmp_path):
    foreign = tmp_path / "locust_stats.json"
    foreign.write_text(json.dumps([{"name": "/v1/chat", "num_requests": 3}]))
    proc = _cli(["--import", str(foreign)], subprocess_env)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "expected a GuideLLM benchmarks JSON" in proc.stderr
    assert "Traceback" not in proc.stderr
