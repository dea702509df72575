"""The alternatives that passed every hard rule, and the models ruled out with the reason."""

from __future__ import annotations

from planner.charts import plan as charts
from planner.report.canvas import MUTED, Canvas
from planner.report.context import ReportData
from planner.report.words import readable, rule_title, usd_text, without_internal_notes


def render(doc: Canvas, data: ReportData) -> None:
    plan = data.plan
    doc.heading("Alternatives and what was ruled out")
    names = {g.id: g.name for g in data.catalog.gpus.values()}
    if plan.alternatives:
        rows = []
        for cand in plan.alternatives:
            notes = "; ".join(readable(without_internal_notes(f.message), names)
                              for f in cand.findings if f.effect in {"warning", "excluded"})
            rows.append([charts.candidate_label(cand), f"{cand.score:g}", usd_text(cand.cost.usd_per_month),
                         f"{cand.memory.per_gpu_gib:.1f}/{cand.memory.capacity_gib:.0f}", notes or "—"])
        doc.table(["Alternative", "Score", "$/month", "GiB/GPU", "Cautions"], rows, (36, 7, 10, 9, 38), size=7.4,
                  align=("LEFT", "RIGHT", "RIGHT", "RIGHT", "LEFT"), limit=400)
    else:
        doc.note("No alternative configuration passed every hard rule.")
    if plan.ruled_out:
        doc.para(f"Ruled out ({len(plan.ruled_out)} model(s))", size=9.5, style="B")
        rows = [[r.model_name, rule_title(r.rule), readable(without_internal_notes(r.reason), names)]
                for r in plan.ruled_out[:40]]
        doc.table(["Model", "Rule", "Reason"], rows, (24, 16, 60), size=7.4, limit=400)
        if len(plan.ruled_out) > 40:
            doc.para(f"… and {len(plan.ruled_out) - 40} more.", size=8, colour=MUTED)
