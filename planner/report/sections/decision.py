"""The decision: capability against cost, with the Pareto front and the pick; the objective, why not
the neighbours, and idle GPUs."""

from __future__ import annotations

from planner.charts.decision import decision_frame
from planner.report.canvas import Canvas
from planner.report.context import ReportData
from planner.report.decision_chart import decision_chart_png


def render(doc: Canvas, data: ReportData) -> None:
    plan = data.plan
    if not plan.decision.get("points"):
        return
    png = decision_chart_png(decision_frame(plan), plan.objective.get("benchmark"))
    doc.heading("The decision: capability against cost", keep=doc.image_height(png) + 4)
    if plan.objective.get("rule"):
        doc.para(f"Objective: {plan.objective['rule']}.", size=8.5)
    doc.image(png, alt="No feasible configuration to compare.")
    doc.bullets([plan.decision[k]["why"] for k in ("more_capable", "cheaper") if k in plan.decision]
                + ([plan.idle_hardware] if plan.idle_hardware else []), size=8.5)
