"""Verify a plan: its workload replayed at its peak against the REAL llama.cpp test server.

The plan files in tests/probe/plans/ were made by `python -m planner plan --constraints
plans/{pass,fail}.constraints.json --json`: same lengths (48 in, 64 out), one with a peak of
4 requests/s and a 1 s TTFT target (the tiny server, about 14 requests/s at these lengths on a
2-core runner, meets it), one with 200 requests/s and 0.15 s: 24 requests that arrive within a
tenth of a second queue behind one another, so it misses on any CPU.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from llama_support import LLAMA_MODEL_ALIAS, requires_llama_cpp
from test_compare import level

from planner.probe import ProbeConfig, ProbeConfigError, run_probe
from planner.probe.results import SloResult
from planner.probe.verify import saturation, workload_from_plan

PLANS = Path(__file__).parent / "plans"


def load(name: str) -> dict:
    return json.loads((PLANS / f"{name}.plan.json").read_text())


def test_workload_from_the_plan_file():
    workload = workload_from_plan(load("pass"))
    assert workload.peak_requests_per_s == pytest.approx(4.0)
    assert (workload.prompt_tokens, workload.output_tokens) == (48, 64)
    assert (workload.max_ttft_s, workload.min_tokens_per_s) == (1.0, 50)
    assert workload.target_requests_per_s == workload.peak_requests_per_s
    assert workload.predicted["ttft_s"] == load("pass")["recommendation"]["speed"]["ttft_s"]
    # A plan file (the dashboard's download) wraps the same plan.
    wrapped = {"schema": "ow-planner/plan", "schema_version": 1, "plan": load("pass")}
    assert workload_from_plan(wrapped) == workload
    per_replica = workload_from_plan(load("pass"), per_replica=True)
    assert per_replica.target_requests_per_s == 4.0 / load("pass")["recommendation"]["replicas"]


@pytest.mark.parametrize(("change", "field"), [
    (lambda p: p.pop("load"), "load.peak_requests_per_s"),
    (lambda p: p["load"].update(peak_requests_per_s="fast"), "load.peak_requests_per_s"),
    (lambda p: p["constraints"].pop("output_tokens"), "constraints.output_tokens"),
])
def test_a_plan_missing_a_field_names_it(change, field):
    plan = load("pass")
    change(plan)
    with pytest.raises(ProbeConfigError, match=field.replace(".", r"\.")):
        workload_from_plan(plan)


def _rated(rate, attainment, goodput):
    judged = 10
    slo = SloResult(ttft_s=1.0, tokens_per_s=None, judged=judged, met_ttft=round(attainment * judged),
                    met_tokens_per_s=judged, met_both=round(attainment * judged), attainment=attainment,
                    ttft_attainment=attainment, tokens_per_s_attainment=1.0, goodput_rps=goodput)
    return level(1, ttft_p90=0.1, decode_p50=50, aggregate=100).model_copy(
        update={"mode": "rate", "request_rate_rps": rate, "slo": slo})


def test_saturation_where_attainment_falls_or_goodput_stops_growing():
    grows = [_rated(1, 1.0, 1.0), _rated(2, 1.0, 2.0), _rated(4, 0.95, 3.8)]
    assert saturation(grows) == {"sustained_rps": 4, "saturated_rps": None, "reason": "no level saturated"}
    falls = [*grows, _rated(8, 0.5, 4.0)]
    sat = saturation(falls)
    assert (sat["sustained_rps"], sat["saturated_rps"]) == (4, 8) and "50% of requests" in sat["reason"]
    flat = [*grows, _rated(8, 0.92, 4.1)]  # attainment still fine, but goodput barely grew
    sat = saturation(flat)
    assert sat["saturated_rps"] == 8 and "goodput grew" in sat["reason"]


def _cli(args, env, timeout=240):
    return subprocess.run([sys.executable, "-m", "planner.probe", *args], capture_output=True, text=True, env=env,
                          timeout=timeout)


def test_not_a_plan_is_one_line_and_exit_2(tmp_path, subprocess_env):
    bad = tmp_path / "plan.json"
    bad.write_text(json.dumps({"recommendation": {"speed": {}}, "constraints": {}}))
    proc = _cli(["--url", "http://127.0.0.1:9/v1", "--plan", str(bad)], subprocess_env)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "'load.peak_requests_per_s' is missing" in proc.stderr
    assert "Traceback" not in proc.stderr


def _service_time_s(url: str) -> tuple[float, float]:
    """One stream's time per request and its TTFT, measured here: the rates below are multiples of
    this machine's capacity, so the test means the same on a fast CI runner and a slow laptop."""
    warm = run_probe(ProbeConfig(url=url, model=LLAMA_MODEL_ALIAS, concurrency=(1,), requests_per_level=4,
                                 max_tokens=64, prompt_tokens=48, timeout_s=30))
    lv = warm.levels[0]
    return lv.wall_s / lv.succeeded, lv.ttft_s.p50


@requires_llama_cpp
def test_rate_sweep_finds_goodput_and_the_saturation_point(llama_server):
    service_s, ttft_s = _service_time_s(llama_server.url)
    capacity = 1 / service_s  # llama-cpp-python serves one request at a time
    rates = tuple(round(capacity * m, 2) for m in (0.15, 0.35, 20))
    # The target: unloaded TTFT plus three requests' worth of queueing. Well below capacity a
    # Poisson queue rarely holds more than one; far past it the 16th request waits ~15.
    slo = ttft_s + 3 * service_s
    result = run_probe(ProbeConfig(url=llama_server.url, model=LLAMA_MODEL_ALIAS, rates=rates, requests_per_level=16,
                                   max_tokens=64, prompt_tokens=48, slo_ttft_s=slo, timeout_s=60))
    assert result.mode == "rate" and result.stopped_reason is None
    low, mid, high = result.levels
    assert tuple(lv.request_rate_rps for lv in result.levels) == rates
    assert all(lv.errors == 0 and lv.succeeded == 16 for lv in result.levels)
    # Well below capacity every request meets the target and goodput follows the offered rate.
    assert low.slo.attainment >= 0.9 and mid.slo.attainment >= 0.9
    assert mid.slo.goodput_rps > low.slo.goodput_rps
    # Far past it requests queue: TTFT grows and attainment falls, so the sweep saturates at the
    # last rate and sustained the one before.
    assert high.ttft_s.p90 > slo and high.slo.attainment < 0.9
    sat = saturation(result.levels)
    assert sat["saturated_rps"] == rates[2] and sat["sustained_rps"] == rates[1]
    assert high.max_in_flight > 1 and low.max_in_flight >= 1
    assert low.send_lag_s is not None  # open-loop levels say how late the client sent


@requires_llama_cpp
@pytest.mark.parametrize("name", ["pass", "fail"])
def test_verify_this_plan_gives_the_right_verdict(name, llama_server, subprocess_env):
    proc = _cli(["--url", llama_server.url, "--model", LLAMA_MODEL_ALIAS, "--plan", str(PLANS / f"{name}.plan.json"),
                 "--requests", "24", "--multiples", "0.5,1,2", "--json"], subprocess_env)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    verification = doc["verification"]
    peak = load(name)["load"]["peak_requests_per_s"]
    assert doc["mode"] == "rate"
    assert [lv["request_rate_rps"] for lv in doc["levels"]] == [peak / 2, peak, peak * 2]
    assert all(lv["prompt_tokens"] is None and lv["output_tokens"] == 64 * lv["succeeded"] for lv in doc["levels"])
    assert verification["target_requests_per_s"] == peak
    if name == "pass":
        assert verification["verdict"] == "meets", verification["sentence"]
        assert verification["sentence"].startswith("Meets the plan at its peak: at 4 requests/s")
        assert verification["advice"] == []
    else:
        assert verification["verdict"] == "misses", verification["sentence"]
        assert verification["sentence"].startswith("Misses the plan at its peak")
        assert "(plan: " in verification["sentence"]  # measured beside predicted
        assert verification["advice"], "a missed plan says what to change"
        assert verification["saturation"]["saturated_rps"] is not None
