"""Where every figure came from: the data files' dates and the rows the top pick used."""

from __future__ import annotations

import datetime as dt

from planner.catalog.staleness import is_stale
from planner.charts import plan as charts
from planner.errors import LookupFailed
from planner.plan.model import Candidate, Plan
from planner.report.canvas import Canvas
from planner.report.context import ReportData
from planner.report.words import oldest_price_text

_DATA_FILES = {"models": "models.csv", "gpus": "gpus.csv", "gpu_prices": "gpu_prices.csv", "quants": "quants.csv",
               "engines": "engines.csv", "apis": "api_prices.csv", "benchmarks": "benchmarks.csv"}


def render(doc: Canvas, data: ReportData) -> None:
    plan = data.plan
    doc.heading("Data sources")
    rows = [[f"{kind} (newest row)", "data/" + _DATA_FILES.get(kind, kind + ".csv"), as_of]
            for kind, as_of in sorted(plan.data_as_of.items())]
    top = plan.recommendation
    if top is not None:
        rows += _rows_used(data, top)
    for api in charts.competing_apis(plan):
        rows.append([f"API price: {api.model} ({api.provider})", api.source, _flag(api.as_of)])
    doc.table(["What", "Source", "As of"], rows, (30, 56, 14), size=7.4, limit=400)
    if plan.oldest_price:
        doc.note(oldest_price_text(plan.oldest_price, {g.id: g.name for g in data.catalog.gpus.values()}))


def _flag(as_of: dt.date | str | None) -> str:
    """A date, marked when the row is older than STALE_AFTER_DAYS; '—' when there is none."""
    if not as_of:
        return "—"
    day = as_of if isinstance(as_of, dt.date) else dt.date.fromisoformat(str(as_of))
    return f"{day.isoformat()} (stale)" if is_stale(day) else day.isoformat()


def _rows_used(data: ReportData, top: Candidate) -> list[list[str]]:
    rows: list[list[str]] = []
    cat = data.catalog
    try:
        model = cat.model(top.model)
        rows.append([f"Model: {model.name}", model.source, model.as_of.isoformat()])
        if model.capability_source:
            rows.append([f"Capability score ({model.capability_benchmark})", model.capability_source, model.as_of.isoformat()])
    except LookupFailed:
        rows.append([f"Model: {top.model}", "custom model (from its config.json)", "—"])
    for kind, getter in (("GPU", cat.gpu), ("Quantization", cat.quant), ("Engine", cat.engine)):
        key = {"GPU": top.gpu, "Quantization": top.quant, "Engine": top.engine}[kind]
        try:
            rec = getter(key)
            rows.append([f"{kind}: {getattr(rec, 'name', key)}", rec.source, rec.as_of.isoformat()])
            if kind == "Quantization" and getattr(rec, "bits_source", None) and rec.bits_source != rec.source:
                rows.append(["Bits per weight", rec.bits_source, rec.as_of.isoformat()])
        except LookupFailed:
            rows.append([f"{kind}: {key}", "not in the catalogue", "—"])
    rows.append(["GPU price", top.cost.price_source, _flag(top.cost.price_as_of)])
    for factor, basis in top.speed.efficiency_basis.items():
        rows.append([f"Efficiency: {factor.replace('_', ' ')}", basis, plan_date(data.plan, "benchmarks")])
    return rows


def plan_date(plan: Plan, kind: str) -> str:
    return plan.data_as_of.get(kind, "—")
