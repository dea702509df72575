"""PromQL's histogram_quantile, worked by hand, and the exposition parser on each engine's format."""

from __future__ import annotations

import math

import pytest
from engine_server import EngineMetrics

from planner.monitor import MonitorError, histogram_quantile, parse_samples
from planner.monitor.metric_names import METRIC_NAMES, detect_sources, names_for

INF = math.inf


def test_quantile_interpolates_inside_the_bucket_the_rank_falls_in():
    buckets = {0.1: 2, 0.25: 6, 0.5: 9, 1.0: 10, INF: 10}
    # rank 0.5 × 10 = 5 falls in (0.1, 0.25] holding 4 (counts 3..6): 0.1 + 0.15 × (5 − 2) / 4
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.1 + 0.15 * 3 / 4)
    # rank 9 is the top of (0.25, 0.5]: 0.25 + 0.25 × 3 / 3
    assert histogram_quantile(0.9, buckets) == pytest.approx(0.5)
    # rank 9.9 in (0.5, 1]: 0.5 + 0.5 × 0.9 / 1
    assert histogram_quantile(0.99, buckets) == pytest.approx(0.95)
    # the first bucket starts at zero: rank 1 of 2 in (0, 0.1]
    assert histogram_quantile(0.1, buckets) == pytest.approx(0.05)


def test_a_rank_in_the_inf_bucket_returns_the_highest_finite_bound_and_no_data_returns_none():
    assert histogram_quantile(0.9, {1.0: 5, INF: 10}) == 1.0
    assert histogram_quantile(0.5, {1.0: 0, INF: 0}) is None
    assert histogram_quantile(0.5, {1.0: 3}) is None  # no +Inf bucket: Prometheus answers NaN
    with pytest.raises(ValueError):
        histogram_quantile(1.5, {1.0: 1, INF: 1})


@pytest.mark.parametrize("engine", ["vllm", "sglang", "tensorrt-llm", "llama.cpp", "dcgm", "amd-smi"])
def test_each_engines_exposition_parses_and_is_recognised(engine):
    metrics = EngineMetrics(engine)
    metrics.request(0.2, [0.02, 0.03], prompt_tokens=48)
    samples = parse_samples(metrics.render())
    names = {s.name for s in samples}
    assert detect_sources(names) == [engine]
    exposed = [r for r in METRIC_NAMES if r.source == engine and (r.name in names or f"{r.name}_bucket" in names)]
    assert len(exposed) >= 3
    for row in exposed:  # each series carries the label set its source attaches
        series = next(s for s in samples if s.name in (row.name, f"{row.name}_bucket"))
        assert set(row.labels) <= {k for k, _ in series.labels}, row.name


def test_every_row_cites_a_source_and_a_date():
    for row in METRIC_NAMES:
        assert row.source_url.startswith("https://") and row.as_of and row.versions


def test_text_that_is_not_the_format_is_refused_naming_where():
    with pytest.raises(MonitorError, match="http://x/metrics is not Prometheus text"):
        parse_samples("vllm:num_requests_running{model_name=\"a\" 1\n", where="http://x/metrics")
