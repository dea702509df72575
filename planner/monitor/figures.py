"""The Monitor page's charts: each figure over time with the plan's target drawn as a dashed line."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from planner.monitor.targets import PlanTargets

PANELS = (  # (row key, title, target attribute or None, unit)
    ("ttft_p90_s", "TTFT p90 (s)", "max_ttft_s"),
    ("decode_tokens_per_s", "Decode per stream (tokens/s)", "min_tokens_per_s"),
    ("requests_per_s", "Requests/s (peak, capacity)", "peak_requests_per_s"),
    ("kv_cache_usage", "KV cache usage (fraction)", "kv_cache_ceiling"),
)


def monitor_figure(rows: list[dict], targets: PlanTargets) -> go.Figure:
    fig = make_subplots(rows=2, cols=2, subplot_titles=[p[1] for p in PANELS], vertical_spacing=0.18)
    times = [r["at"] for r in rows]
    for i, (key, title, target) in enumerate(PANELS):
        row, col = i // 2 + 1, i % 2 + 1
        fig.add_trace(go.Scatter(x=times, y=[r.get(key) for r in rows], mode="lines+markers", name=title,
                                 showlegend=False), row=row, col=col)
        lines = [(getattr(targets, target), "plan")]
        if key == "requests_per_s" and targets.capacity_requests_per_s:
            lines.append((targets.capacity_requests_per_s, "capacity"))
        for value, label in lines:
            if value is not None:
                fig.add_hline(y=value, line_dash="dash", line_color="firebrick", annotation_text=f"{label} {value:g}",
                              row=row, col=col)
    fig.update_layout(height=520, margin={"t": 40, "b": 20, "l": 20, "r": 20})
    return fig
