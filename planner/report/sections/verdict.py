"""The verdict: self-host, an API, or either, in a coloured band with its reasons."""

from __future__ import annotations

from fpdf.enums import XPos, YPos

from planner.report.canvas import HEAD_FILL, INK, Canvas
from planner.report.context import ReportData
from planner.report.words import readable

VERDICT_FILL = {"self-host": (220, 239, 226), "api": (222, 233, 247), "either": (248, 240, 214)}
VERDICT_TEXT = {"self-host": "Self-host", "api": "Use a paid API", "either": "Either: self-hosting and an API are close"}


def render(doc: Canvas, data: ReportData) -> None:
    pdf = doc.pdf
    plan = data.plan
    doc.heading("Verdict")
    pdf.set_fill_color(*VERDICT_FILL.get(plan.verdict, HEAD_FILL))
    doc.font(doc.body, "B", 11.5)
    pdf.set_text_color(*INK)
    label = VERDICT_TEXT.get(plan.verdict, plan.verdict)
    top = plan.recommendation
    if top is not None:
        label += f" — top pick: {top.model_name}, {top.quant} on {top.engine}, {top.gpus}× {top.gpu_name}"
    pdf.multi_cell(0, 6, doc.t(label, 300), fill=True, padding=(2, 3), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1.5)
    names = {**{a.id: f"{a.model} ({a.provider})" for a in data.catalog.apis.values()},
             **{g.id: g.name for g in data.catalog.gpus.values()}}
    doc.bullets([readable(r, names) for r in plan.verdict_reasons] or ["No reasons were recorded."])
