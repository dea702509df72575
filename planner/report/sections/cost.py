"""Monthly cost against volume: the cost chart, the break-even points and the cheapest APIs."""

from __future__ import annotations

from planner.charts import plan as charts
from planner.report.canvas import Canvas
from planner.report.charts import cost_chart_png
from planner.report.context import ReportData


def render(doc: Canvas, data: ReportData) -> None:
    plan = data.plan
    points = charts.break_even_points(plan)
    png = cost_chart_png(charts.cost_curve(plan), points, charts.plan_tokens_per_month(plan))
    doc.heading("Monthly cost against volume", keep=doc.image_height(png) + 4)
    doc.image(png, alt="No self-hosted configuration and no API to compare.")
    if points:
        doc.bullets((p["text"] for p in points), size=8.5)
    apis = sorted(plan.apis, key=lambda a: a.usd_per_month)[:10]
    if apis:
        rows = [[a.id, "open" if a.open_weights else "closed", f"{a.usd_per_mtok:,.3f}", f"{a.usd_per_month:,.0f}",
                 charts.format_tokens(a.break_even_tokens_per_month) if a.break_even_tokens_per_month else "—",
                 "yes" if a.allowed else "no (privacy)"] for a in apis]
        doc.table(["API (cheapest 10 at your volume)", "Weights", "$ per M tokens", "$/month at your volume",
                   "Break-even (tokens/month)", "Allowed"], rows, (38, 9, 12, 14, 15, 12), size=7.4,
                  align=("LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "LEFT"))
