"""The top pick: its configuration and numbers, the rules that fired and how the numbers were derived."""

from __future__ import annotations

from planner.report.canvas import Canvas
from planner.report.context import ReportData
from planner.report.words import EFFECT_WORDS, capability_text, finding_title, readable, usd_text, without_internal_notes


def render(doc: Canvas, data: ReportData) -> None:
    plan = data.plan
    top = plan.recommendation
    doc.heading("Top pick and why")
    if top is None:
        doc.para("No self-hosted configuration meets every hard rule. The ruled-out list below says why for each model; "
                 "relax the constraint named there, or use an API.")
        doc.bullets(without_internal_notes(f.message) for f in plan.findings)
        return
    m, s, cost = top.memory, top.speed, top.cost
    floor = " + power (no figure published)" if not top.cost.power_counted else ""
    rows = [
        ["Model", f"{top.model_name} ({top.model})", "Quantization", top.quant],
        ["Engine", top.engine, "Hardware", f"{top.gpus}× {top.gpu_name} per replica, {top.replicas} replica(s)"],
        ["Memory per GPU", f"{m.per_gpu_gib:.1f} of {m.capacity_gib:.1f} GiB ({m.split})", "Monthly cost",
         f"{usd_text(cost.usd_per_month)}{floor} ({'owned' if cost.mode == 'own' else 'rented'}, {cost.gpu_count} GPU"
         f"{'s' if cost.gpu_count != 1 else ''})"],
        ["Time to first token", f"{s.ttft_s:.2f} s at peak", "Decode per user",
         f"{s.decode_tokens_per_s_at_concurrency:,.1f} tokens/s at peak ({s.decode_tokens_per_s:,.1f} alone)"],
        ["Capability", f"{capability_text(top.capability_score, (top.capability or {}).get('basis', 'published') != 'published')}"
                       f" ({top.capability_benchmark})" if top.capability_score is not None else "no published score",
         "Cost per million tokens", f"${cost.usd_per_mtok:,.3f}{floor}" if cost.usd_per_mtok is not None else "—"],
    ]
    doc.table(None, rows, (20, 32, 20, 28), size=8, limit=300, bold_first_col=False)
    findings = _unique_findings(list(top.findings) + [f for f in plan.findings if f not in top.findings])
    if findings:
        doc.para("Rules that fired", size=9.5, style="B")
        names = {g.id: g.name for g in data.catalog.gpus.values()}
        doc.table(["Rule", "Effect", "What it means"],
                  [[*finding_title(f.rule, readable(f.message, names))[:1], EFFECT_WORDS.get(f.effect, f.effect),
                    finding_title(f.rule, readable(f.message, names))[1]] for f in findings], (24, 11, 65), size=7.8)
    if top.basis:
        doc.para("How the numbers were derived", size=9.5, style="B")
        doc.bullets(top.basis, size=8)


def _unique_findings(findings):
    seen, out = set(), []
    for f in findings:
        key = (f.rule, f.message)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out
