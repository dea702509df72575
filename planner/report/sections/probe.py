"""Measured against predicted, when there is a probe result: the endpoint, each concurrency level, and the
comparison with the plan (derived from the top pick when the probe carried none)."""

from __future__ import annotations

from planner.plan.model import Candidate
from planner.report.canvas import Canvas
from planner.report.context import ReportData


def render(doc: Canvas, data: ReportData) -> None:
    if not data.probe:
        return
    probe = data.probe or {}
    doc.heading("Measured against predicted")
    info = [f"Endpoint: {probe.get('url', 'unknown')} ({probe.get('api', '?')})", f"Model: {probe.get('model') or 'unknown'}",
            f"Measured: {probe.get('started_at', 'unknown')}"]
    doc.bullets(info, size=8.5, limit=300)
    levels = [lv for lv in probe.get("levels") or [] if isinstance(lv, dict)]
    if levels:
        rows = []
        for lv in levels:
            rows.append([lv.get("concurrency"), f"{lv.get('succeeded', 0)}/{lv.get('requests', 0)}",
                         _fmt(_pct(lv, "ttft_s", "p50"), 3), _fmt(_pct(lv, "ttft_s", "p90"), 3),
                         _fmt(_pct(lv, "output_tokens_per_s_per_stream", "p50"), 1),
                         _fmt(lv.get("aggregate_output_tokens_per_s"), 1), lv.get("errors", 0)])
        doc.table(["Concurrency", "OK / requests", "TTFT p50 (s)", "TTFT p90 (s)", "Decode per stream p50 (tok/s)",
                   "Aggregate (tok/s)", "Errors"], rows, (11, 13, 12, 12, 20, 16, 9), size=7.6,
                  align=("RIGHT",) * 7)
    comparison = [row for row in probe.get("comparison") or [] if isinstance(row, dict)]
    if not comparison and levels and data.plan.recommendation is not None:
        comparison = _derived_comparison(data.plan.recommendation, levels)
    if comparison:
        rows = [[r.get("target"), _fmt(r.get("predicted"), 3), _fmt(r.get("measured"), 3),
                 (f"{r['error_pct']:+.0f}%" if isinstance(r.get("error_pct"), int | float) else "—"),
                 r.get("at_concurrency") or "—", r.get("verdict", "—"), r.get("sentence", "")] for r in comparison]
        doc.table(["Target", "Predicted", "Measured", "Error", "Concurrency", "Verdict", "In words"], rows,
                  (16, 10, 10, 8, 12, 9, 35), size=7.4, align=("LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "LEFT", "LEFT"))
    if not levels and not comparison:
        doc.note("The probe result holds no measurements.")


def _fmt(value: object, digits: int) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "—"
    return f"{value:,.{digits}f}"


def _pct(level: dict, key: str, which: str):
    block = level.get(key)
    return block.get(which) if isinstance(block, dict) else None


def _derived_comparison(top: Candidate, levels: list[dict]) -> list[dict]:
    """Predicted vs measured for the top pick when the probe carried no comparison: TTFT and
    decode speed per stream at the level nearest the plan's concurrency."""
    target_concurrency = top.speed.concurrency
    level = min(levels, key=lambda lv: abs(int(lv.get("concurrency") or 0) - target_concurrency))
    rows = []
    for target, predicted, measured in (
        ("Time to first token (s)", top.speed.ttft_s, _pct(level, "ttft_s", "p50")),
        ("Decode per stream (tokens/s)", top.speed.decode_tokens_per_s_at_concurrency, _pct(level, "output_tokens_per_s_per_stream", "p50")),
    ):
        error = (measured - predicted) / predicted * 100 if isinstance(measured, int | float) and predicted else None
        rows.append({"target": target, "predicted": predicted, "measured": measured, "error_pct": error,
                     "at_concurrency": level.get("concurrency"), "verdict": "no-target",
                     "sentence": "Measured median against the plan's estimate for this concurrency."})
    return rows
