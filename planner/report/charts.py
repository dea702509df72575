"""Static renderings of the dashboard's charts for the PDF report.

The numbers come from `planner.charts.plan` (`memory_breakdown`, `cost_curve`, `break_even_points`), the
same data functions the dashboard's plotly figures draw; this module only draws them with
matplotlib (Agg backend, no display) into PNG bytes. One data definition, two renderers.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # headless: never try to open a window

import matplotlib.pyplot as plt  # noqa: E402 - after choosing the backend
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from planner.charts.plan import COMPONENT_COLOURS, COMPONENT_LABELS, MEMORY_COMPONENTS  # noqa: E402
from planner.units import format_tokens  # noqa: E402

DPI = 150
API_COLOURS = ("#54A24B", "#E45756", "#B279A2", "#72B7B2", "#FF9DA6", "#9D755D")
SELF_HOST_COLOUR = "#4C78A8"
LABEL_CHARS = 58  # longest y-axis label before it is shortened


def memory_chart_png(df: pd.DataFrame, width_in: float = 7.2, dpi: int = DPI) -> bytes | None:
    """Horizontal stacked bars of memory per GPU (weights, KV cache, overhead), one bar per
    configuration (top pick first, at the top), with each GPU's usable memory marked.

    `df` is `planner.charts.plan.memory_breakdown(plan)`. None when there is nothing to draw.
    """
    if df is None or df.empty:
        return None
    labels = list(dict.fromkeys(df["candidate"]))
    height_in = 1.3 + 0.42 * len(labels)
    fig = Figure(figsize=(width_in, height_in), dpi=dpi)
    ax = fig.add_subplot()
    y = np.arange(len(labels))[::-1]  # first configuration on top
    left = np.zeros(len(labels))
    for component in MEMORY_COMPONENTS:
        part = df[df["component"] == component].set_index("candidate").reindex(labels)
        values = part["gib"].fillna(0).to_numpy(dtype=float)
        ax.barh(y, values, left=left, height=0.6, color=COMPONENT_COLOURS[component], label=COMPONENT_LABELS[component])
        left += values
    capacity = df.drop_duplicates("candidate").set_index("candidate").reindex(labels)["capacity_gib"].to_numpy(dtype=float)
    ax.scatter(capacity, y, marker="|", s=600, linewidths=2.5, color="#D62728", label="Usable GPU memory", zorder=3)
    for yi, total, cap in zip(y, left, capacity, strict=True):
        ax.annotate(f"{total:.1f} / {cap:.0f} GiB", (max(total, cap), yi), xytext=(6, 0), textcoords="offset points",
                    va="center", fontsize=7, color="#333333")
    ax.set_yticks(y, [_shorten(label) for label in labels], fontsize=7)
    ax.set_xlabel("Memory per GPU (GiB)", fontsize=8)
    ax.set_xlim(0, max(float(np.nanmax(capacity)), float(left.max())) * 1.28)
    ax.tick_params(axis="x", labelsize=7)
    ax.grid(axis="x", color="#E5E5E5", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    # The report's section heading names the chart; the legend sits where a title would.
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0, 1, 0.1), mode="expand", ncol=4, fontsize=6.5, frameon=False,
              borderaxespad=0.3, handlelength=1.2)
    fig.tight_layout()
    return _png(fig)


def cost_chart_png(df: pd.DataFrame, break_even: list[dict], own_tokens_per_month: float | None,
                   width_in: float = 7.2, height_in: float = 3.6, dpi: int = DPI) -> bytes | None:
    """Monthly cost against monthly volume (log-log): the self-hosted pick as a step line (one
    more replica at each step), the APIs as dotted lines, break-even points as diamonds and the
    plan's own volume as a dashed vertical line.

    `df` is `planner.charts.plan.cost_curve(plan)`, `break_even` is `planner.charts.plan.break_even_points(plan)`.
    """
    if df is None or df.empty:
        return None
    fig = Figure(figsize=(width_in, height_in), dpi=dpi)
    ax = fig.add_subplot()
    api_index = 0
    for series, part in df.groupby("series", sort=False):
        part = part.sort_values("tokens_per_month")
        x = part["tokens_per_month"].to_numpy(dtype=float)
        y = part["usd_per_month"].to_numpy(dtype=float)
        keep = np.isfinite(y) & (y > 0) & (x > 0)
        if not keep.any():
            continue
        if part["kind"].iloc[0] == "self-host":
            ax.step(x[keep], y[keep], where="post", color=SELF_HOST_COLOUR, linewidth=2.2, label=_shorten(str(series), 70))
        else:
            colour = API_COLOURS[api_index % len(API_COLOURS)]
            api_index += 1
            ax.plot(x[keep], y[keep], linestyle=(0, (2, 2)), color=colour, linewidth=1.6, label=f"API: {_shorten(str(series), 50)}")
    points = [p for p in break_even if p.get("tokens_per_month")]
    if points:
        ax.scatter([p["tokens_per_month"] for p in points], [p["usd_per_month"] for p in points], marker="D", s=28,
                   color="black", zorder=4, label="Break-even")
    if own_tokens_per_month and own_tokens_per_month > 0:
        ax.axvline(own_tokens_per_month, color="#555555", linestyle="--", linewidth=1)
        ax.annotate(f"your volume: {format_tokens(own_tokens_per_month)}", (own_tokens_per_month, 1), xycoords=("data", "axes fraction"),
                    xytext=(4, -10), textcoords="offset points", fontsize=7, color="#333333")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: format_tokens(v)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _dollars(v)))
    ax.set_xlabel("Volume (tokens per month, input + output)", fontsize=8)
    ax.set_ylabel("Cost (US$ per month)", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(which="major", color="#E5E5E5", linewidth=0.6)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.legend(loc="upper left", bbox_to_anchor=(0, -0.2), ncol=2, fontsize=6.5, frameon=False)
    fig.tight_layout()
    return _png(fig)


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=fig.dpi, facecolor="white")  # layout already tight: one draw, not two
    plt.close(fig)  # harmless for a bare Figure; frees it if pyplot ever tracked it
    return buffer.getvalue()


def _dollars(value: float) -> str:
    """Axis label for money: $1.5k, $20, $0.05."""
    if value >= 1000:
        return f"${format_tokens(value)}"
    if value >= 1:
        return f"${value:.0f}"
    return f"${value:.2g}" if value > 0 else "$0"


def _shorten(text: str, limit: int = LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
