"""The constraints the plan was made for, two to a row."""

from __future__ import annotations

from planner.report.canvas import Canvas
from planner.report.context import ReportData
from planner.report.words import PRIVACY_WORDS, hardware_text


def render(doc: Canvas, data: ReportData) -> None:
    c = data.constraints
    doc.heading("Constraints")
    top = data.plan.recommendation
    pairs = [
        ("Requests per day", f"{round(c.get('requests_per_day') or 0):,}"),
        ("Peak / average", _num(c.get("peak_to_average"), "×")),
        ("Input tokens", _num(c.get("input_tokens"))),
        ("Output tokens", _num(c.get("output_tokens"))),
        ("Max time to first token", _num(c.get("max_ttft_s"), " s") if c.get("max_ttft_s") else "no target"),
        ("Min tokens/s per user", _num(c.get("min_tokens_per_s")) if c.get("min_tokens_per_s") else "no target"),
        ("Context", _num(c.get("context_tokens")) + " tokens" if c.get("context_tokens") else "input + output"),
        ("Privacy", PRIVACY_WORDS.get(c.get("privacy"), c.get("privacy"))),
        ("Task", c.get("task")),
        ("Fine-tuning", c.get("fine_tuning")),
        ("Commercial use", "yes" if c.get("commercial_use", True) else "no"),
        ("Budget", f"${c['budget_usd_per_month']:,.0f}/month" if c.get("budget_usd_per_month") is not None else "no limit"),
        ("Hardware", hardware_text(c, {g.id: g.name for g in data.catalog.gpus.values()},
                                   top.cost.mode if top is not None else None)),
        ("KV cache", c.get("kv_cache_dtype", "auto")),
    ]
    if c.get("models"):
        pairs.append(("Models considered", ", ".join(map(str, c["models"]))))
    rows = []
    for i in range(0, len(pairs), 2):
        left, right = pairs[i], pairs[i + 1] if i + 1 < len(pairs) else ("", "")
        rows.append([left[0], left[1], right[0], right[1]])
    doc.table(None, rows, (22, 28, 22, 28), size=8, limit=300)


def _num(value: object, suffix: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, int | float):
        return f"{value:,.0f}{suffix}" if float(value).is_integer() else f"{value:,.2f}{suffix}"
    return f"{value}{suffix}"
