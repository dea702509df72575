"""Predicted-vs-measured comparison rows and their sentences."""

from __future__ import annotations

import pytest

from planner.probe import ProbeConfigError, compare
from planner.probe.results import GpuTelemetry, LevelResult, Percentiles, ProbeResult


def level(concurrency, *, ttft_p90, decode_p50, aggregate, succeeded=8):
    return LevelResult(concurrency=concurrency, requests=8, succeeded=succeeded, errors=8 - succeeded,
                       errors_by_kind={}, complete=True, ttft_s=Percentiles(p50=ttft_p90 / 2, p90=ttft_p90),
                       inter_token_s=Percentiles(), output_tokens_per_s_per_stream=Percentiles(p50=decode_p50),
                       aggregate_output_tokens_per_s=aggregate, requests_per_s=1.0, wall_s=1.0)


def result(levels):
    return ProbeResult(url="http://127.0.0.1:8000/v1", api="openai", model="m", endpoint="chat",
                       started_at="2026-11-25T00:00:00+00:00", settings={}, levels=levels,
                       gpu_telemetry=GpuTelemetry(available=False, reason="none"))


PLAN = {
    "constraints": {"max_ttft_s": 0.5, "min_tokens_per_s": 30.0, "input_tokens": 1000, "output_tokens": 200},
    "recommendation": {
        "model": "llama-3.1-8b", "quant": "fp8", "engine": "vllm", "gpu": "h100-80gb", "gpus": 1, "replicas": 1,
        "speed": {"prefill_tokens_per_s": 5000.0, "ttft_s": 0.31, "decode_tokens_per_s": 50.0,
                  "throughput_tokens_per_s": 300.0, "concurrency": 6, "decode_roofline_tokens_per_s": 80.0},
    },
}


def by_target(rows):
    return {row.target: row for row in rows}


def test_rows_verdicts_and_sentences():
    rows = by_target(compare(PLAN, result([
        level(1, ttft_p90=0.4185, decode_p50=40.0, aggregate=40.0),
        level(4, ttft_p90=0.6, decode_p50=35.0, aggregate=150.0),
        level(8, ttft_p90=0.9, decode_p50=25.0, aggregate=240.0),
    ])))
    ttft = rows["ttft_s"]
    assert (ttft.at_concurrency, ttft.measured, ttft.requirement, ttft.verdict) == (1, 0.4185, 0.5, "meets")
    assert ttft.error_pct == pytest.approx(35.0, abs=0.1)
    assert ttft.sentence == ("TTFT p90 0.42 s at 1 stream meets the 0.5 s target; "
                             "the plan predicted 0.31 s (measured 35% slower).")
    decode = rows["decode_tokens_per_s"]
    assert decode.verdict == "meets" and decode.error_pct == pytest.approx(-20.0)
    assert "measured 20% slower" in decode.sentence
    throughput = rows["throughput_tokens_per_s"]
    # Planned concurrency 6 is equally close to 4 and 8: the higher (stricter) level is used.
    assert throughput.at_concurrency == 8 and throughput.verdict == "no-target"
    assert throughput.measured == 240.0 and throughput.error_pct == pytest.approx(-20.0)
    assert "(no target set)" in throughput.sentence
    loaded_ttft = rows["ttft_s_at_planned_concurrency"]
    assert loaded_ttft.verdict == "misses" and loaded_ttft.at_concurrency == 8
    assert "misses the 0.5 s target" in loaded_ttft.sentence
    assert rows["decode_tokens_per_s_at_planned_concurrency"].verdict == "misses"


def test_faster_than_predicted_and_no_targets():
    plan = {**PLAN, "constraints": {"max_ttft_s": None, "min_tokens_per_s": None}}
    rows = by_target(compare(plan, result([level(1, ttft_p90=0.2, decode_p50=60.0, aggregate=60.0)])))
    assert set(rows) == {"ttft_s", "decode_tokens_per_s", "throughput_tokens_per_s"}
    assert all(row.verdict == "no-target" for row in rows.values())
    assert "measured 35% faster" in rows["ttft_s"].sentence
    assert "measured 20% faster" in rows["decode_tokens_per_s"].sentence


def test_unmeasured_target_is_not_met():
    rows = by_target(compare(PLAN, result([level(1, ttft_p90=0.1, decode_p50=1.0, aggregate=1.0, succeeded=0)
                                           .model_copy(update={"ttft_s": Percentiles(),
                                                               "output_tokens_per_s_per_stream": Percentiles()})])))
    assert rows["ttft_s"].measured is None and rows["ttft_s"].verdict == "misses"
    assert "could not be measured" in rows["ttft_s"].sentence


def test_no_levels_at_all():
    rows = compare(PLAN, result([]).to_dict())  # a dict works too
    assert all(row.measured is None for row in rows)


def test_plan_without_recommendation():
    with pytest.raises(ProbeConfigError):
        compare({"constraints": {}}, result([]))
