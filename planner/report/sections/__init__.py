"""The report's sections, one module each, in the order the PDF prints them.

A section is a module with `render(doc: Canvas, data: ReportData) -> None` that draws itself with the
canvas's primitives (planner.report.canvas) from the plan, catalogue and probe in `data`
(planner.report.context), and returns without drawing when it does not apply (fine-tuning, probe).
To add one: write `sections/<name>.py` and put its `render` in SECTIONS where it should print.
"""

from __future__ import annotations

from collections.abc import Callable

from planner.report.canvas import Canvas
from planner.report.context import ReportData
from planner.report.sections import (
    alternatives,
    assumptions,
    constraints,
    cost,
    decision,
    deployment,
    fine_tuning,
    latency,
    memory,
    probe,
    sources,
    title,
    top_pick,
    verdict,
)

Section = Callable[[Canvas, ReportData], None]

SECTIONS: tuple[Section, ...] = (
    title.render,
    verdict.render,
    constraints.render,
    top_pick.render,
    memory.render,
    latency.render,
    alternatives.render,
    cost.render,
    decision.render,
    fine_tuning.render,
    deployment.render,
    probe.render,
    assumptions.render,
    sources.render,
)
