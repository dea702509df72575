"""The calibrated replan: the window's decode speed turned into the probe's calibration entry, and the plan again."""

from __future__ import annotations

import pytest

from planner.monitor import Observation, Percentiles, targets_from_plan
from planner.monitor.replan import calibrated_replan, calibration_from_window


def _window(itl_p50_s: float) -> Observation:
    return Observation(source="test", window_s=60, engine="vllm", itl_s=Percentiles(p50=itl_p50_s, count=100))


def test_efficiency_scales_the_measured_speed_from_the_plans_concurrency_to_one_stream(plan):
    t = targets_from_plan(plan)
    speed = plan["recommendation"]["speed"]
    entry = calibration_from_window(_window(0.04), t)  # 25 tokens/s per stream
    expected = 25 / speed["decode_tokens_per_s_at_concurrency"] * speed["decode_tokens_per_s"] / speed["decode_roofline_tokens_per_s"]
    assert entry["decode_efficiency"] == pytest.approx(expected)
    assert (entry["engine"], entry["gpu"], entry["measured_decode_tokens_per_s"]) == ("vllm", "a100-40gb", pytest.approx(25))


def test_the_replan_names_what_the_planner_picks_once_calibrated(plan):
    sentence = calibrated_replan(_window(0.04), targets_from_plan(plan))
    assert sentence.startswith("Calibrated with this window (decode efficiency 22% on vllm / a100-40gb), the planner picks ")
    assert sentence.endswith("replica(s).")


def test_a_service_faster_than_the_roofline_is_not_the_planned_configuration(plan):
    sentence = calibrated_replan(_window(0.001), targets_from_plan(plan))  # 1,000 tokens/s per stream
    assert sentence.startswith("Not recalibrated: decode ran at 1000.0 tokens/s per stream")
