"""Percentiles and level summaries from synthetic request records."""

from __future__ import annotations

import numpy as np
import pytest

from planner.probe.prompts import build_prompt
from planner.probe.record import RequestRecord
from planner.probe.stats import percentile, summarise_level


@pytest.mark.parametrize("values", [[1.0], [3.0, 1.0], [0.5, 0.1, 0.9, 0.3, 0.7], list(range(100))])
@pytest.mark.parametrize("pct", [0, 50, 90, 99, 100])
def test_percentile_matches_numpy_linear(values, pct):
    assert percentile(values, pct) == pytest.approx(float(np.percentile(values, pct)))


def test_percentile_empty_is_none():
    assert percentile([], 50) is None


def _record(start, first, gaps, *, tokens=None, error=None, cpu=0.001, source="usage"):
    times = [first]
    for g in gaps:
        times.append(times[-1] + g)
    return RequestRecord(start_s=start, end_s=times[-1], first_token_s=first, token_times_s=tuple(times),
                         output_tokens=tokens if tokens is not None else len(times), usage_source=source,
                         error_kind=error, client_cpu_s=cpu)


def test_summarise_level_rates_and_percentiles():
    records = [
        _record(0.0, 0.10, [0.01] * 9),  # ttft 0.1, 10 tokens over 0.09 s after the first
        _record(0.0, 0.20, [0.02] * 9),
        _record(0.0, 0.30, [0.01] * 4, error="stream_cut"),
    ]
    level = summarise_level(2, 3, records, wall_s=0.5, run_start_s=0.0, max_in_flight=2)
    assert level.succeeded == 2 and level.errors == 1
    assert level.errors_by_kind == {"stream_cut": 1}
    assert level.ttft_s.p50 == pytest.approx(0.15)
    assert level.inter_token_s.p50 == pytest.approx(0.015)
    assert level.output_tokens_per_s_per_stream.p50 == pytest.approx((100 + 50) / 2)
    assert level.output_tokens == 20
    assert level.aggregate_output_tokens_per_s == pytest.approx(20 / 0.5)
    assert level.requests_per_s == pytest.approx(2 / 0.5)
    assert level.client_cpu_s == pytest.approx(0.003)
    assert level.client_cpu_s_per_token == pytest.approx(0.003 / 25)
    assert level.usage_source == "usage"
    assert [e.error_kind for e in level.request_log] == [None, None, "stream_cut"]


def test_batched_chunks_use_mean_gap_per_token():
    # 4 chunks carrying 10 tokens: raw gaps would triple the inter-token latency.
    record = _record(0.0, 0.1, [0.03, 0.03, 0.03], tokens=10)
    assert record.inter_token_gaps_s() == pytest.approx([0.01] * 9)
    assert record.decode_tokens_per_s == pytest.approx(9 / 0.09)


def test_all_failed_level_has_none_percentiles():
    level = summarise_level(1, 1, [_record(0, 0.1, [], error="timeout")], wall_s=1.0, run_start_s=0.0)
    assert level.ttft_s.p50 is None and level.aggregate_output_tokens_per_s is None
    assert level.requests_per_s is None


def test_prompt_sizing_with_a_tokenizer_converges():
    # A tokenizer that counts 1.5 tokens per word.
    template = build_prompt(200, lambda text: int(len(text.split()) * 1.5))
    assert template.method == "tokenizer"
    assert abs(template.measured_tokens - 200) <= 2
    assert template.render(1) != template.render(2)  # unique prefix per request


def test_prompt_without_tokenizer_is_approximate():
    template = build_prompt(100)
    assert template.method.startswith("approx")
    assert 80 <= len(template.render(7).split()) <= 110


def test_slo_counts_errors_as_misses_but_never_times_them():
    records = [
        _record(0.0, 0.10, [0.01] * 9),  # TTFT 0.1 s, 100 tokens/s
        _record(0.0, 0.50, [0.01] * 9),  # TTFT too slow
        _record(0.0, 0.10, [0.05] * 9),  # decode too slow (20 tokens/s)
        _record(0.0, 0.10, [0.0] * 9),  # every token in one read: faster than the clock tells
        _record(0.0, 9.00, [], error="timeout"),
    ]
    level = summarise_level(4, 5, records, wall_s=2.0, run_start_s=0.0, slo_ttft_s=0.2, slo_tokens_per_s=50)
    slo = level.slo
    assert (slo.judged, slo.met_ttft, slo.met_tokens_per_s, slo.met_both) == (5, 3, 3, 2)
    assert slo.attainment == pytest.approx(2 / 5) and slo.goodput_rps == pytest.approx(2 / 2.0)
    # The failed request's 9 s is in no latency figure.
    assert level.ttft_s.p99 < 1.0 and level.e2e_s.p99 < 1.0
    assert summarise_level(1, 1, records[:1], wall_s=1.0, run_start_s=0.0).slo is None


def test_vllm_tpot_definition():
    record = _record(0.0, 0.2, [0.01] * 9)  # 10 tokens, last at 0.29 s
    assert record.tpot_s == pytest.approx((0.29 - 0.2) / 9)
    assert record.e2e_s == pytest.approx(0.29)
