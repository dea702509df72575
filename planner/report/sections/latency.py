"""Latency and throughput of the top pick and the alternatives, with the estimator's 80% bands."""

from __future__ import annotations

from planner.charts import plan as charts
from planner.plan.model import Candidate, Plan
from planner.report.canvas import MUTED, Canvas
from planner.report.context import ReportData


def render(doc: Canvas, data: ReportData) -> None:
    doc.heading("Latency and throughput")
    candidates = _candidates(data.plan)
    if not candidates:
        doc.note("No configuration to show.")
        return
    rows = []
    for i, cand in enumerate(candidates):
        s = cand.speed
        rows.append([("Top pick: " if i == 0 else "") + charts.candidate_label(cand),
                     f"{cand.gpus}×{cand.replicas}",
                     f"{s.ttft_s:.2f}{_band(s, 'ttft_s', '.2f')}", f"{s.decode_tokens_per_s:,.1f}{_band(s, 'decode_tokens_per_s')}",
                     f"{s.decode_tokens_per_s_at_concurrency:,.1f}",
                     f"{s.throughput_tokens_per_s:,.0f}{_band(s, 'throughput_tokens_per_s')}", f"{s.concurrency}", s.bound])
    doc.table(["Configuration", "GPUs × replicas", "TTFT (s)", "Decode, 1 user (tok/s)", "Decode at load (tok/s)",
               "Throughput per replica (tok/s)", "In flight", "Bound by"], rows,
              (31, 8, 11, 10, 9, 11, 7, 11), size=7.4, align=("LEFT", "CENTER", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "LEFT"))
    doc.para("TTFT includes queueing at the peak request rate; throughput is output tokens per second of one replica at its "
             "planned concurrency. Ranges in brackets are 80% bands from the estimator's leave-one-source-out error against "
             "published measurements (data/accuracy.csv).", size=7.8, colour=MUTED)


def _band(speed, metric: str, fmt: str = ",.0f") -> str:
    """A second line '(low–high)' from the estimate's 80% band, or nothing when it has none."""
    low, high = (speed.ranges or {}).get(metric, (None, None))
    return f"\n({low:{fmt}}–{high:{fmt}})" if low is not None else ""


def _candidates(plan: Plan) -> list[Candidate]:
    return ([plan.recommendation] if plan.recommendation else []) + list(plan.alternatives)
