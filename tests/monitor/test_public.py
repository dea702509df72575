"""The packages' public names, and the Monitor page's figure with the plan's targets drawn."""

from __future__ import annotations

import planner.monitor
import planner.quality
from planner.monitor import targets_from_plan
from planner.monitor.figures import monitor_figure


def test_all_names_exist():
    for package in (planner.monitor, planner.quality):
        assert all(hasattr(package, name) for name in package.__all__), package.__name__


def test_the_figure_draws_each_target_as_a_line(plan):
    t = targets_from_plan(plan)
    rows = [{"at": "2026-12-07T14:00:00+00:00", "ttft_p90_s": 0.4, "decode_tokens_per_s": 60.0, "requests_per_s": 3.0,
             "kv_cache_usage": 0.5}]
    fig = monitor_figure(rows, t)
    lines = sorted(shape.y0 for shape in fig.layout.shapes)
    assert lines == sorted([t.max_ttft_s, t.min_tokens_per_s, t.peak_requests_per_s, t.capacity_requests_per_s,
                            t.kv_cache_ceiling])
    assert [trace.y[0] for trace in fig.data] == [0.4, 60.0, 3.0, 0.5]
