"""The title: the plan's name, the date, the data's date and how many configurations were weighed."""

from __future__ import annotations

from fpdf.enums import XPos, YPos

from planner.report.canvas import INK, MUTED, Canvas
from planner.report.context import TITLE_CHARS, ReportData


def render(doc: Canvas, data: ReportData) -> None:
    name = doc.t(data.name, TITLE_CHARS)
    pdf = doc.pdf
    doc.font(doc.body, "B", 17)
    pdf.set_text_color(*INK)
    pdf.multi_cell(0, 8, name, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    dates = sorted(data.plan.data_as_of.values())
    sub = (f"Deployment plan · generated {data.generated_on.isoformat()} · data as of {dates[-1] if dates else 'unknown'} · "
           f"{data.plan.candidates_evaluated:,} configurations evaluated")
    doc.para(sub, size=8.5, colour=MUTED)
    pdf.ln(1)
