"""The decision chart for the PDF: the plan's capability x monthly cost points, the Pareto front and the
pick (the same frame as planner.charts.decision), drawn with matplotlib so no browser is needed."""

from __future__ import annotations

import pandas as pd

from planner.report.charts import DPI, _png, plt


def decision_chart_png(frame: pd.DataFrame, benchmark: str | None, width_in: float = 7.2, dpi: int = DPI) -> bytes | None:
    if frame.empty:
        return None
    fig, ax = plt.subplots(figsize=(width_in, 2.9), dpi=dpi)
    others = frame[~frame["on_front"]]
    front = frame[frame["on_front"]].sort_values("usd_per_month")
    pick = frame[frame["picked"]]
    ax.scatter(others["usd_per_month"], others["capability"], s=14, color="#adb5bd", label="feasible")
    ax.plot(front["usd_per_month"], front["capability"], marker="o", markersize=4, color="#1c7ed6", label="Pareto front")
    ax.scatter(pick["usd_per_month"], pick["capability"], s=120, marker="*", color="#e8590c", zorder=5, label="the pick")
    for _, row in pick.iterrows():
        ax.annotate(str(row["model_name"])[:40], (row["usd_per_month"], row["capability"]), textcoords="offset points",
                    xytext=(6, 6), fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("USD per month", fontsize=8)
    ax.set_ylabel(benchmark or "capability", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(True, alpha=0.3)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.legend(fontsize=6.5, frameon=False, loc="lower right")
    fig.tight_layout()
    return _png(fig)
