"""The decision as a figure: feasible models on capability for the task against monthly cost, the
Pareto front joined, the pick marked (the plan's `decision` points)."""

from __future__ import annotations

import html

import pandas as pd
import plotly.graph_objects as go

from planner.plan.model import Plan


def decision_frame(plan: Plan) -> pd.DataFrame:
    """One row per feasible model: its best configuration's capability and monthly cost, front and pick flags."""
    rows = [p for p in plan.decision.get("points", []) if p.get("capability") is not None]
    return pd.DataFrame(rows, columns=["model", "model_name", "capability", "usd_per_month", "on_front", "picked", "setup"])


def _safe(column: pd.Series) -> pd.Series:
    """Plotly reads HTML in labels; names from uploaded configs show as typed."""
    return column.astype(str).map(lambda t: html.escape(t, quote=False))


def decision_figure(plan: Plan) -> go.Figure:
    frame = decision_frame(plan)
    fig = go.Figure()
    benchmark = plan.objective.get("benchmark") or "capability"
    if frame.empty:
        fig.add_annotation(text="No feasible configuration to compare.", showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
        return fig
    others = frame[~frame["on_front"]]
    front = frame[frame["on_front"]].sort_values("usd_per_month")
    pick = frame[frame["picked"]]
    fig.add_trace(go.Scatter(x=others["usd_per_month"], y=others["capability"], mode="markers", name="feasible",
                             marker={"color": "#adb5bd", "size": 8}, text=_safe(others["model_name"]) + "<br>" + _safe(others["setup"]),
                             hovertemplate="%{text}<br>$%{x:,.0f}/month<br>%{y:,.1f}<extra></extra>"))
    fig.add_trace(go.Scatter(x=front["usd_per_month"], y=front["capability"], mode="lines+markers", name="Pareto front",
                             line={"color": "#1c7ed6"}, marker={"size": 9}, text=_safe(front["model_name"]) + "<br>" + _safe(front["setup"]),
                             hovertemplate="%{text}<br>$%{x:,.0f}/month<br>%{y:,.1f}<extra></extra>"))
    fig.add_trace(go.Scatter(x=pick["usd_per_month"], y=pick["capability"], mode="markers+text", name="the pick",
                             marker={"color": "#e8590c", "size": 15, "symbol": "star"}, text=_safe(pick["model_name"]), textposition="top center"))
    costs = frame["usd_per_month"]
    fig.update_layout(title="Capability against monthly cost", template="plotly_white", height=460,
                      margin={"l": 60, "r": 20, "t": 50, "b": 60},
                      legend={"orientation": "h", "yanchor": "top", "y": -0.2, "x": 0},
                      xaxis={"title": "Cost (US$ per month, log scale)", "type": "log",
                             **cost_ticks(float(costs.min()), float(costs.max()))},
                      yaxis={"title": benchmark})
    return fig


def cost_ticks(low: float, high: float) -> dict:
    """Ticks at 1-2-5 steps in dollars ('$200', '$1k', '$5k'): plotly's own log ticks read '1000, 2, 5'."""
    from planner.charts.plan import usd_tick

    values = [m * 10.0 ** e for e in range(0, 10) for m in (1, 2, 5)]
    inside = [v for v in values if low / 1.5 <= v <= high * 1.5]
    if len(inside) > 7:
        inside = [v for v in inside if str(v).startswith("1")]
    return {"tickmode": "array", "tickvals": inside, "ticktext": [usd_tick(v) for v in inside]}
