"""The Probe page's figures: measured speed and time to first token against concurrency, beside the
plan's predictions, and goodput against the offered rate for "verify this plan" (plotly)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import plotly.graph_objects as go

MEASURED = "#4C78A8"
AGGREGATE = "#F58518"
PREDICTED = "#54A24B"
TARGET = "#E45756"


def _pct(level: Mapping[str, Any], key: str, which: str) -> float | None:
    block = level.get(key)
    return block.get(which) if isinstance(block, Mapping) else None


def _levels_sorted(levels: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return sorted((lv for lv in levels if isinstance(lv, Mapping)), key=lambda lv: lv.get("concurrency") or 0)


def _concurrency_axis(fig: go.Figure, xs: list[int]) -> None:
    ticks = sorted(set(xs)) or [1]
    fig.update_xaxes(title_text="Concurrent streams", type="log", tickvals=ticks, ticktext=[str(t) for t in ticks])


def _style(fig: go.Figure, title: str, y_title: str) -> go.Figure:
    fig.update_layout(title=title, height=360, margin=dict(l=10, r=10, t=50, b=10), hovermode="x unified",
                      legend=dict(orientation="h", yanchor="top", y=-0.22, x=0))
    fig.update_yaxes(title_text=y_title, rangemode="tozero")
    return fig


def _target_line(fig: go.Figure, xs: list[int], value: float, name: str) -> None:
    """A requirement as a legend entry (an annotation would collide with the plan's markers)."""
    fig.add_trace(go.Scatter(x=[min(xs), max(xs)], y=[value, value], name=name, mode="lines", hoverinfo="skip",
                             line=dict(color=TARGET, dash="dash", width=1)))


def speed_figure(levels: Iterable[Mapping[str, Any]], predicted: Mapping[str, Any] | None = None) -> go.Figure:
    """Output tokens/s per stream (p50) and in aggregate against concurrency, with the plan's predictions."""
    levels = _levels_sorted(levels)
    xs = [int(lv["concurrency"]) for lv in levels]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=xs, y=[_pct(lv, "output_tokens_per_s_per_stream", "p50") for lv in levels],
                             name="Measured per stream (p50)", mode="lines+markers", line=dict(color=MEASURED)))
    fig.add_trace(go.Scatter(x=xs, y=[lv.get("aggregate_output_tokens_per_s") for lv in levels],
                             name="Measured aggregate", mode="lines+markers", line=dict(color=AGGREGATE)))
    if predicted:
        planned = int(predicted["concurrency"])
        per_stream_x = [1, planned] if planned != 1 else [1]
        per_stream_y = [predicted["decode_tokens_per_s"], predicted["decode_tokens_per_s_at_concurrency"]][:len(per_stream_x)]
        fig.add_trace(go.Scatter(x=per_stream_x, y=per_stream_y, name="Plan: per stream", mode="lines+markers",
                                 line=dict(color=MEASURED, dash="dot"), marker=dict(symbol="diamond-open", size=11)))
        fig.add_trace(go.Scatter(x=[planned], y=[predicted["throughput_tokens_per_s"]], name="Plan: aggregate per replica",
                                 mode="markers", marker=dict(color=AGGREGATE, symbol="diamond-open", size=13,
                                                             line=dict(width=2))))
        xs = [*xs, *per_stream_x]
        if predicted.get("min_tokens_per_s"):
            _target_line(fig, xs, predicted["min_tokens_per_s"], f"Your target: ≥ {predicted['min_tokens_per_s']:g} per stream")
    _concurrency_axis(fig, xs)
    return _style(fig, "Output speed against concurrency", "Output tokens/s")


def ttft_figure(levels: Iterable[Mapping[str, Any]], predicted: Mapping[str, Any] | None = None) -> go.Figure:
    """Time to first token p50 and p90 against concurrency, with the plan's prediction and target."""
    levels = _levels_sorted(levels)
    xs = [int(lv["concurrency"]) for lv in levels]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=xs, y=[_pct(lv, "ttft_s", "p50") for lv in levels], name="Measured p50",
                             mode="lines+markers", line=dict(color=MEASURED)))
    fig.add_trace(go.Scatter(x=xs, y=[_pct(lv, "ttft_s", "p90") for lv in levels], name="Measured p90",
                             mode="lines+markers", line=dict(color=MEASURED, dash="dash"), marker=dict(symbol="square")))
    if predicted:
        planned = int(predicted["concurrency"])
        xs_plan = sorted({1, planned, *xs})
        fig.add_trace(go.Scatter(x=[xs_plan[0], xs_plan[-1]], y=[predicted["ttft_s"]] * 2, name="Plan: TTFT",
                                 mode="lines", line=dict(color=PREDICTED, dash="dot")))
        fig.add_trace(go.Scatter(x=[1], y=[predicted["ttft_s"]], name="Plan: TTFT (compared at 1 stream)",
                                 mode="markers", marker=dict(color=PREDICTED, symbol="diamond-open", size=12,
                                                             line=dict(width=2)), showlegend=False))
        xs = [*xs, *xs_plan]
        if predicted.get("max_ttft_s"):
            _target_line(fig, xs, predicted["max_ttft_s"], f"Your target: ≤ {predicted['max_ttft_s']:g} s")
    _concurrency_axis(fig, xs)
    return _style(fig, "Time to first token against concurrency", "Time to first token (s)")


def goodput_figure(rows: Iterable[Mapping[str, Any]], target_rps: float) -> go.Figure:
    """Goodput (requests/s that met both targets) and the share that met them, against the offered rate."""
    rows = sorted(rows, key=lambda r: r["request_rate_rps"])
    xs = [r["request_rate_rps"] for r in rows]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=xs, y=xs, name="Offered", mode="lines", line=dict(color=PREDICTED, dash="dot")))
    fig.add_trace(go.Scatter(x=xs, y=[r["goodput_rps"] for r in rows], name="Goodput (met both targets)",
                             mode="lines+markers", line=dict(color=MEASURED)))
    fig.add_trace(go.Scatter(x=xs, y=[(r["attainment"] or 0) * 100 for r in rows], name="Met both targets (%)",
                             mode="lines+markers", yaxis="y2", line=dict(color=AGGREGATE, dash="dash")))
    fig.add_vline(x=target_rps, line=dict(color=TARGET, dash="dash", width=1))
    fig.update_layout(yaxis2=dict(title="Met both targets (%)", overlaying="y", side="right", range=[0, 105]))
    fig.update_xaxes(title_text="Offered requests/s (the dashed line: the planned peak)")
    return _style(fig, "Goodput against the offered rate", "Requests/s")

