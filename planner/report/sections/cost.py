"""Monthly cost against volume: the cost chart, the break-even points and the cheapest APIs."""

from __future__ import annotations

from planner.charts import plan as charts
from planner.report.canvas import Canvas
from planner.report.charts import cost_chart_png
from planner.report.context import ReportData
from planner.report.words import usd_text


def render(doc: Canvas, data: ReportData) -> None:
    plan = data.plan
    allowed_apis = [a for a in plan.apis if a.allowed]
    # APIs the privacy constraint rules out are not options: no lines, no break-even points, one reference line below.
    apis = None if allowed_apis else []
    points = charts.break_even_points(plan, apis=apis)
    curve = charts.cost_curve(plan, apis=apis)
    names = {a.id: f"{a.model} ({a.provider})" for a in plan.apis}  # the legend names APIs as people do
    curve = curve.assign(series=curve["series"].map(lambda s: names.get(s, s)))
    png = cost_chart_png(curve, points, charts.plan_tokens_per_month(plan))
    doc.heading("Monthly cost against volume", keep=doc.image_height(png) + 4)
    doc.image(png, alt="No self-hosted configuration and no API to compare.")
    if points:
        doc.bullets((p["text"] for p in points), size=8.5)
    allowed = sorted((a for a in plan.apis if a.allowed), key=lambda a: a.usd_per_month)[:10]
    if plan.apis and not allowed:
        # Privacy rules every API out: one line of reference, not a table of options the reader may not use.
        cheapest = min(plan.apis, key=lambda a: a.usd_per_month)
        doc.para(f"Paid APIs are ruled out by the privacy constraint. For reference only, the cheapest at this volume "
                 f"would cost {usd_text(cheapest.usd_per_month)}/month ({cheapest.model}, {cheapest.provider}).", size=8.5)
    elif allowed:
        rows = [[f"{a.model} ({a.provider})", "open" if a.open_weights else "closed", f"{a.usd_per_mtok:,.3f}",
                 usd_text(a.usd_per_month),
                 charts.format_tokens(a.break_even_tokens_per_month) if a.break_even_tokens_per_month else "never"]
                for a in allowed]
        doc.table(["API (cheapest 10 at your volume)", "Weights", "$ per M tokens", "$/month at your volume",
                   "Self-hosting cheaper above (tokens/month)"], rows, (40, 10, 14, 16, 20), size=7.4,
                  align=("LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT"))
