"""Memory per GPU: the dashboard's memory chart, drawn with matplotlib."""

from __future__ import annotations

from planner.charts import plan as charts
from planner.report.canvas import MUTED, Canvas
from planner.report.charts import memory_chart_png
from planner.report.context import ReportData


def render(doc: Canvas, data: ReportData) -> None:
    png = memory_chart_png(charts.memory_breakdown(data.plan))
    doc.heading("Memory per GPU", keep=doc.image_height(png) + 10)
    doc.para("Weights, KV cache and the engine's overhead on the busiest GPU of one replica, against what the engine may use "
             "of the GPU (red mark). Same data as the dashboard's memory chart.", size=8.5, colour=MUTED)
    doc.image(png, alt="Memory per GPU: no configuration fits the constraints.")
