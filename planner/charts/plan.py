"""Chart data and plotly figures for a plan, shared by the pages and the PDF report.

The data functions (`memory_breakdown`, `cost_curve`, `break_even_points`) return plain pandas
frames and dicts, so the PDF can draw the same numbers with matplotlib; the figure functions wrap
them in plotly. Nothing here imports streamlit.

Units: memory in GiB (2**30 bytes), volume in tokens per month (input + output), money in US
dollars per month.
"""

from __future__ import annotations

import html
import math
import re

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from planner.catalog.loading import Catalog
from planner.estimate.cost import blended_usd_per_mtok, break_even_tokens_per_month
from planner.plan.model import ApiOption, Candidate, Plan
from planner.units import DAYS_PER_MONTH, MILLION, SECONDS_PER_DAY, format_tokens

MEMORY_COLUMNS = ["candidate", "component", "gib", "capacity_gib"]
COST_COLUMNS = ["tokens_per_month", "series", "usd_per_month", "kind"]
MEMORY_COMPONENTS = ("weights", "kv_cache", "overhead")
COMPONENT_LABELS = {"weights": "Weights", "kv_cache": "KV cache", "overhead": "Engine overhead"}
COMPONENT_COLOURS = {"weights": "#4C78A8", "kv_cache": "#F58518", "overhead": "#9D9D9D"}
# Hobby use (a few hundred requests a month) to a large consumer product.
DEFAULT_VOLUME_RANGE_TOKENS_PER_MONTH = (1e5, 1e12)
DEFAULT_CURVE_POINTS = 240
MAX_APIS_ON_CHART = 4


def memory_breakdown(plan: Plan, max_candidates: int = 6) -> pd.DataFrame:
    """Memory of the busiest GPU of each candidate (top pick first), split into its parts, in GiB.

    Columns: candidate (label), component (weights, kv_cache, overhead), gib, capacity_gib.
    """
    rows = []
    for candidate in _candidates(plan)[:max_candidates]:
        parts = per_gpu_parts_gib(candidate)
        for component in MEMORY_COMPONENTS:
            rows.append({"candidate": candidate_label(candidate), "component": component, "gib": parts[component],
                         "capacity_gib": candidate.memory.capacity_gib})
    return pd.DataFrame(rows, columns=MEMORY_COLUMNS)


def per_gpu_parts_gib(candidate: Candidate) -> dict[str, float]:
    """Weights, KV cache and overhead on the busiest GPU of one replica, in GiB.

    The memory estimate gives totals per replica and the busiest GPU's sum; the KV share is the
    remainder, because how the cache divides (tensor-parallel heads vs whole layers) is the
    estimator's business and its per-GPU figure already includes it.
    """
    m = candidate.memory
    on_gpu_fraction = 1.0
    if m.cpu_offload_gib > 0 and m.weights_gib + m.kv_cache_gib > 0:
        on_gpu_fraction = max(0.0, 1 - m.cpu_offload_gib / (m.weights_gib + m.kv_cache_gib))
    overhead = m.overhead_gib / m.gpus
    weights = m.weights_gib * on_gpu_fraction / m.gpus
    kv = max(0.0, m.per_gpu_gib - overhead - weights)
    return {"weights": weights, "kv_cache": kv, "overhead": overhead}


def candidate_label(candidate: Candidate) -> str:
    """A short label: model, quantization, engine and GPUs per replica."""
    short = candidate.model.split("/")[-1]
    return f"{short} · {candidate.quant} · {candidate.engine} · {candidate.gpus}× {_short_gpu(candidate.gpu_name)}"


def _short_gpu(name: str) -> str:
    """'NVIDIA B200 (HGX B200)' -> 'B200': the vendor and the bracketed variant add width, not meaning."""
    return re.sub(r"\s*\(.*?\)", "", name).removeprefix("NVIDIA ").removeprefix("GeForce ").strip()


def plan_tokens_per_month(plan: Plan) -> float:
    """The plan's own monthly volume (input + output tokens)."""
    return plan.load.tokens_per_month


def replica_capacity_tokens_per_month(plan: Plan) -> float | None:
    """Average monthly tokens (input + output) one replica of the top pick serves while still
    absorbing the plan's peak-to-average factor: the recommender's replica capacity when the plan
    carries it; for older plan files, estimated as below.

    From the replica's throughput (output tokens/s, scaled by the request's input/output mix, as
    recommend's break-even does). That throughput is measured at the plan's own concurrency, which
    can understate a replica's ceiling, so the plan's own sizing (its volume over its replicas) is
    taken as a floor: the curve then passes through the plan's cost at the plan's volume.
    """
    top = plan.recommendation
    if top is None:
        return None
    if top.replica_tokens_per_month:  # the recommender's own sizing of one replica (planner.plan.grid)
        return max(top.replica_tokens_per_month, 1.0)
    c = plan.constraints
    mix = (c["input_tokens"] + c["output_tokens"]) / c["output_tokens"]
    peak = c.get("peak_to_average", 1.0) or 1.0
    from_speed = top.speed.throughput_tokens_per_s * SECONDS_PER_DAY * DAYS_PER_MONTH * mix / peak
    from_plan = plan_tokens_per_month(plan) / top.replicas
    return max(from_speed, from_plan, 1.0)


def min_replicas(plan: Plan) -> int:
    """The fewest replicas the plan runs at any volume (redundancy: planner.plan.workload, `min_replicas`)."""
    return max(1, int(plan.objective.get("min_replicas") or 1))


def self_host_usd_per_month(plan: Plan, volumes_tokens_per_month) -> np.ndarray:
    """Monthly cost of the top pick at each volume: replicas needed (never fewer than the plan's minimum for
    redundancy, `objective.min_replicas`) × cost of one replica."""
    top = plan.recommendation
    volumes = np.asarray(volumes_tokens_per_month, dtype=float)
    if top is None:
        return np.full(volumes.shape, np.nan)
    per_replica = top.cost.usd_per_month / top.replicas
    replicas = np.maximum(min_replicas(plan), np.ceil(volumes / replica_capacity_tokens_per_month(plan)))
    return replicas * per_replica


def competing_apis(plan: Plan, limit: int = MAX_APIS_ON_CHART) -> list[ApiOption]:
    """The APIs worth drawing against the plan: the same model hosted, the cheapest comparable one,
    the cheapest of all, and the most capable closed model (each once, at most `limit`)."""
    # APIs the constraints rule out (privacy) are no option to draw against the plan.
    apis = sorted((a for a in plan.apis if a.allowed), key=lambda a: a.usd_per_mtok)
    if not apis:
        return []
    top = plan.recommendation
    top_score = top.capability_score if top else None
    picks: list[ApiOption] = [a for a in apis if a.same_model][:1]
    comparable = [a for a in apis if top_score is not None and a.capability_score is not None and a.capability_score >= top_score - 2]
    picks += comparable[:1]
    picks += apis[:1]
    closed = [a for a in apis if not a.open_weights and a.capability_score is not None]
    if closed:
        picks.append(max(closed, key=lambda a: (a.capability_score, -a.usd_per_mtok)))
    seen, out = set(), []
    for api in picks:
        if api.id not in seen:
            seen.add(api.id)
            out.append(api)
    return out[:limit]


def cost_curve(plan: Plan, volumes_tokens_per_month=None, apis: list[ApiOption] | None = None) -> pd.DataFrame:
    """Monthly cost against monthly volume for the top pick and the competing APIs.

    Columns: tokens_per_month, series (the plan's label or the API id), usd_per_month,
    kind (self-host or api). Self-host: ceil(volume / replica capacity) × one replica's monthly
    cost. API: its price per million tokens at the plan's input/output mix × volume.
    """
    volumes = default_volumes(plan) if volumes_tokens_per_month is None else np.asarray(volumes_tokens_per_month, dtype=float)
    frames = []
    top = plan.recommendation
    if top is not None:
        frames.append(pd.DataFrame({"tokens_per_month": volumes, "series": f"Self-host: {candidate_label(top)}",
                                    "usd_per_month": self_host_usd_per_month(plan, volumes), "kind": "self-host"}))
    for api in competing_apis(plan) if apis is None else apis:
        frames.append(pd.DataFrame({"tokens_per_month": volumes, "series": api.id,
                                    "usd_per_month": volumes / MILLION * api.usd_per_mtok, "kind": "api"}))
    if not frames:
        return pd.DataFrame(columns=COST_COLUMNS)
    return pd.concat(frames, ignore_index=True)[COST_COLUMNS]


def api_label(api: ApiOption) -> str:
    """An API as people name it: its model and who serves it ('Qwen3.5-397B-A17B (together)'), without
    the organisation prefix and the host suffix of the model id ('Qwen/…:hyperbolic')."""
    model = api.model.split("/")[-1].split(":")[0]
    return f"{model} ({api.provider})"


def default_volumes(plan: Plan, low: float | None = None, high: float | None = None, points: int = DEFAULT_CURVE_POINTS) -> np.ndarray:
    """Log-spaced volumes over the default range, widened to include the plan's own volume,
    plus the exact replica steps below the top so the step shape is drawn where it is."""
    own = max(plan_tokens_per_month(plan), 1.0)
    lo = min(low or DEFAULT_VOLUME_RANGE_TOKENS_PER_MONTH[0], own / 10)
    hi = max(high or DEFAULT_VOLUME_RANGE_TOKENS_PER_MONTH[1], own * 10)
    grid = np.logspace(math.log10(lo), math.log10(hi), points)
    extra = [own]
    capacity = replica_capacity_tokens_per_month(plan)
    if capacity:
        # Each step's edges: the last volume k replicas serve and the first that needs k + 1.
        steps = np.arange(1, min(int(hi // capacity), 60) + 1) * capacity
        extra += list(steps) + list(steps * (1 + 1e-9))
    return np.unique(np.concatenate([grid, np.asarray(extra, dtype=float)]))


def break_even_points(plan: Plan, apis: list[ApiOption] | None = None) -> list[dict]:
    """Per competing API, the monthly volume above which self-hosting the top pick costs less.

    Each dict: api, provider, usd_per_mtok, tokens_per_month (None when the API stays cheaper
    even with every replica full), usd_per_month at that volume, and a sentence. The plan runs at
    least n replicas (its redundancy minimum), each costing R a month and serving up to C tokens; the
    API costs p per token. Self-hosting wins from nR / p on, if that lies within their reach
    (R / p <= C); otherwise each replica costs more than the API charges for all it can serve, at any
    volume.
    """
    top = plan.recommendation
    if top is None:
        return []
    floor = min_replicas(plan)
    base = top.cost.usd_per_month / top.replicas * floor  # the cost of the fewest replicas the plan runs
    reach = replica_capacity_tokens_per_month(plan) * floor
    what = "one replica" if floor == 1 else f"the {floor} replicas redundancy asks for"
    out = []
    for api in competing_apis(plan) if apis is None else apis:
        crossing = break_even_tokens_per_month(base, api.usd_per_mtok, reach)  # planner.estimate.cost, as every ApiOption
        reachable = crossing is not None
        out.append({
            "api": api.id,
            "provider": api.provider,
            "usd_per_mtok": api.usd_per_mtok,
            "tokens_per_month": crossing if reachable else None,
            "usd_per_month": base if reachable else None,
            "text": (f"Self-hosting beats {api_label(api)} above {format_tokens(crossing)} tokens/month (${base:,.0f}/month)."
                     if reachable else
                     f"{api_label(api)} stays cheaper at every volume: {what} cost ${base:,.0f}/month, more than the API "
                     f"charges for the {format_tokens(reach)} tokens/month they can serve."),
        })
    return out


def memory_figure(plan: Plan, max_candidates: int = 6) -> go.Figure:
    """Horizontal stacked bars of memory per GPU (weights, KV cache, overhead) for the top pick
    and alternatives, each with a mark at its GPU's usable capacity."""
    df = memory_breakdown(plan, max_candidates)
    fig = go.Figure()
    if df.empty:
        return _empty(fig, "Memory per GPU", "No configuration to show: nothing fits the constraints.")
    # Numbered so each label stays unique; horizontal bars keep long labels readable.
    labels = list(dict.fromkeys(df["candidate"]))
    # Two lines per label ("model · quant" over "engine · GPUs") keep the plot area wide.
    ticks = {label: f"#{i} " + safe(" · ".join(label.split(" · ")[:2])) + "<br>" + safe(" · ".join(label.split(" · ")[2:]))
             for i, label in enumerate(labels, start=1)}
    df = df.assign(candidate=df["candidate"].map(ticks))
    order = list(ticks.values())
    for component in MEMORY_COMPONENTS:
        part = df[df["component"] == component]
        fig.add_bar(y=part["candidate"], x=part["gib"], name=COMPONENT_LABELS[component], orientation="h",
                    marker_color=COMPONENT_COLOURS[component],
                    hovertemplate="%{y}<br>" + COMPONENT_LABELS[component] + ": %{x:.2f} GiB<extra></extra>")
    capacity = df.drop_duplicates("candidate")
    fig.add_scatter(y=capacity["candidate"], x=capacity["capacity_gib"], mode="markers", name="Usable GPU memory",
                    marker={"symbol": "line-ns-open", "size": 30, "color": "#D62728", "line": {"width": 3, "color": "#D62728"}},
                    hovertemplate="%{y}<br>Usable GPU memory: %{x:.1f} GiB<extra></extra>")
    fig.update_layout(barmode="stack", title="Memory per GPU",
                      xaxis_title="Memory per GPU (GiB)", yaxis_title="Configuration", legend_title_text="Component",
                      yaxis={"categoryorder": "array", "categoryarray": order[::-1], "automargin": True},
                      height=170 + 56 * len(order))
    return _style(fig)


def cost_figure(plan: Plan, volumes_tokens_per_month=None, pick_changes: list[dict] | None = None,
                plan_points: list[dict] | None = None, volume_label: str = "this plan") -> go.Figure:
    """Monthly cost against monthly volume (log-log) for the top pick and competing APIs, with
    break-even points marked and the plan's volume drawn.

    Optional: `pick_changes` (dicts with tokens_per_month and label, from planner.plan.whatif) draws a
    line where the recommended configuration changes; `plan_points` (dicts with tokens_per_month,
    usd_per_month and label) marks what the full recommender picks at other volumes.
    """
    df = cost_curve(plan, volumes_tokens_per_month)
    fig = go.Figure()
    if df.empty:
        return _empty(fig, "Monthly cost against volume", "No self-hosted configuration and no API to compare.")
    for series, part in df.groupby("series", sort=False):
        kind = part["kind"].iloc[0]
        series = series if kind == "self-host" else "API: " + api_label_of(plan, series)
        fig.add_scatter(
            x=part["tokens_per_month"], y=part["usd_per_month"], name=safe(legend_text(series)), mode="lines",
            line={"shape": "hv", "width": 3} if kind == "self-host" else {"dash": "dot", "width": 2},
            hovertemplate=f"{safe(series)}<br>%{{x:.3s}} tokens/month<br>$%{{y:,.0f}}/month<extra></extra>",
        )
    points = [p for p in break_even_points(plan) if p["tokens_per_month"] is not None]
    if points:
        fig.add_scatter(x=[p["tokens_per_month"] for p in points], y=[p["usd_per_month"] for p in points],
                        mode="markers", name="Break-even", marker={"symbol": "diamond", "size": 12, "color": "black"},
                        text=[api_label_of(plan, p["api"]) for p in points],
                        hovertemplate="Break-even with %{text}<br>%{x:.3s} tokens/month<br>$%{y:,.0f}/month<extra></extra>")
    if plan_points:
        fig.add_scatter(x=[p["tokens_per_month"] for p in plan_points], y=[p["usd_per_month"] for p in plan_points],
                        mode="markers", name="Recommended at that volume", text=[p["label"] for p in plan_points],
                        marker={"symbol": "circle-open", "size": 11, "line": {"width": 2}, "color": "#2CA02C"},
                        hovertemplate="%{text}<br>%{x:.3s} tokens/month<br>$%{y:,.0f}/month<extra></extra>")
    own = plan_tokens_per_month(plan)
    if own > 0:  # a plan of no requests has no place on a log axis
        fig.add_vline(x=own, line_dash="dash", line_color="#555555")
        fig.add_annotation(x=math.log10(own), y=1, xref="x", yref="paper", yanchor="top", xanchor="right", showarrow=False,
                           text=f"{volume_label}: {format_tokens(own)} tokens/month ", font={"size": 11, "color": "#555555"})
    for change in (c for c in pick_changes or [] if c["tokens_per_month"] > 0):
        # add_vline's own annotation lands at log10-unaware x on a log axis, so place it by hand.
        fig.add_vline(x=change["tokens_per_month"], line_dash="dot", line_color="#2CA02C")
        fig.add_annotation(x=math.log10(change["tokens_per_month"]), y=0, xref="x", yref="paper", xanchor="left",
                           yanchor="bottom", showarrow=False, textangle=-90, text=change["label"],
                           font={"size": 10, "color": "#2CA02C"})
    fig.update_layout(title="Monthly cost against volume",
                      xaxis_title="Volume (tokens per month, input + output)", yaxis_title="Cost (US$ per month)",
                      legend_title_text="Option")
    volumes = df["tokens_per_month"]
    fig.update_xaxes(type="log", **decade_ticks(float(volumes.min()), float(volumes.max()), format_tokens))
    # Below $1/month the API lines only add empty decades.
    top_usd = float(np.nanmax(df["usd_per_month"])) if df["usd_per_month"].notna().any() else 10.0
    fig.update_yaxes(type="log", range=[0, math.log10(max(top_usd, 10.0)) + 0.2],
                     **decade_ticks(1.0, max(top_usd, 10.0) * 1.6, usd_tick))
    return _style(fig)


def safe(text: str) -> str:
    """Text for a plotly label: plotly reads <a href>, <b>, <span style> in labels, so a model name from
    an uploaded config is escaped and shows as typed."""
    return html.escape(str(text), quote=False)


def legend_text(label: str, limit: int = 44) -> str:
    """A legend entry short enough for a phone's width (plotly does not wrap legends); the hover keeps it whole."""
    return label if len(label) <= limit else label[: limit - 1].rstrip(" ·:") + "…"


def api_label_of(plan: Plan, api_id: str) -> str:
    return next((api_label(a) for a in plan.apis if a.id == api_id), api_id)


def decade_ticks(low: float, high: float, label) -> dict:
    """One labelled tick a decade on a log axis ('100k', '1M', '10M'), never plotly's '1000, 2, 5, 10k'.

    Every second decade when the range spans more than eight, so labels do not crowd a phone's width."""
    first, last = math.floor(math.log10(max(low, 1e-12))), math.ceil(math.log10(max(high, 1e-12)))
    step = 2 if last - first > 8 else 1
    values = [10.0 ** e for e in range(first, last + 1, step)]
    return {"tickmode": "array", "tickvals": values, "ticktext": [label(v) for v in values]}


def usd_tick(usd: float) -> str:
    """'$1', '$100', '$10k', '$1M' for a cost axis."""
    return "$" + format_tokens(usd) if usd >= 1_000 else f"${usd:,.0f}" if usd >= 1 else f"${usd:g}"


def capability_cost_frame(catalog: Catalog, input_tokens: int = 1_000, output_tokens: int = 300) -> pd.DataFrame:
    """APIs with a capability score: blended price per million tokens (at this mix) and score."""
    rows = [{"api": a.id, "provider": a.provider, "model": a.model, "open_weights": a.open_weights,
             "usd_per_mtok": blended_usd_per_mtok(a, input_tokens, output_tokens),
             "capability_score": a.capability_score, "benchmark": a.capability_benchmark or ""}
            for a in catalog.apis.values() if a.capability_score is not None]
    return pd.DataFrame(rows, columns=["api", "provider", "model", "open_weights", "usd_per_mtok", "capability_score", "benchmark"])


def capability_cost_figure(catalog: Catalog, input_tokens: int = 1_000, output_tokens: int = 300) -> go.Figure:
    """Capability (MMLU-style score) against API price per million tokens, open and closed models."""
    df = capability_cost_frame(catalog, input_tokens, output_tokens)
    fig = go.Figure()
    if df.empty:
        return _empty(fig, "Capability against API cost", "No API in the catalogue has a capability score.")
    for open_weights, name, colour in ((True, "Open-weights model, hosted", "#2CA02C"), (False, "Closed model", "#1F77B4")):
        part = df[df["open_weights"] == open_weights]
        if part.empty:
            continue
        fig.add_scatter(x=part["usd_per_mtok"], y=part["capability_score"], mode="markers", name=name,
                        marker={"size": 10, "color": colour, "opacity": 0.8},
                        customdata=part[["api", "benchmark"]].to_numpy(),
                        hovertemplate="%{customdata[0]}<br>$%{x:.3f} per million tokens<br>score %{y:.1f} (%{customdata[1]})<extra></extra>")
    fig.update_layout(title="Capability against API price",
                      xaxis_title=f"Price (US$ per million tokens, blended at {input_tokens:,} in / {output_tokens:,} out)", yaxis_title="Capability score (MMLU, %)",
                      legend_title_text="Kind")
    ticks = [0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 100]
    fig.update_xaxes(type="log", tickmode="array", tickvals=ticks, ticktext=[f"${t:g}" for t in ticks])
    return _style(fig)


def _candidates(plan: Plan) -> list[Candidate]:
    return ([plan.recommendation] if plan.recommendation else []) + list(plan.alternatives)


def _style(fig: go.Figure) -> go.Figure:
    fig.update_layout(template="plotly_white", margin={"l": 60, "r": 20, "t": 60, "b": 60}, hovermode="closest",
                      legend={"orientation": "h", "yanchor": "top", "y": -0.25, "x": 0})
    return fig


def _empty(fig: go.Figure, title: str, message: str) -> go.Figure:
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_layout(title=title, xaxis_title="", yaxis_title="", xaxis={"visible": False}, yaxis={"visible": False})
    return _style(fig)
