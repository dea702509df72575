"""Plan -> PDF: the recommendation, its reasons, its numbers and charts, how to deploy it, and where
every figure came from, in a document a person can print or forward.

`plan_pdf(plan, catalog=None, probe=None)` returns the PDF bytes; `write_pdf` writes them to a file
(the CLI's `--pdf`). `build_pdf(data, sections)` draws any sequence of sections (planner.report.sections,
one module each) on a fresh canvas (planner.report.canvas: the page, its fonts and drawing primitives).
The charts are the dashboard's own data (`planner.charts.plan`) drawn with matplotlib
(`planner.report.charts`); the deployment commands come from `planner.deploy.files`.

Text in any script: fonts are chosen for the document's text (planner.report.fonts); characters no
font covers print as "?". A probe result may carry secrets by mistake: it is sanitised
(planner.report.sanitize) before anything is drawn.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

from planner.catalog.loading import Catalog, load_catalog
from planner.plan.model import Plan
from planner.report.canvas import Canvas
from planner.report.context import TITLE_CHARS, ReportData
from planner.report.fonts import FontFile, find_font, font_codepoints
from planner.report.sanitize import is_secret_key, sanitize_probe
from planner.report.sections import SECTIONS, Section
from planner.report.sections.sources import plan_date

__all__ = ["FontFile", "ReportData", "build_pdf", "find_font", "font_codepoints", "is_secret_key", "plan_date",
           "plan_pdf", "sanitize_probe", "write_pdf"]


def plan_pdf(plan: Plan, catalog: Catalog | None = None, probe: dict | None = None,
             generated_on: dt.date | None = None) -> bytes:
    """The plan as PDF bytes; with `probe` (a probe result dict), a measured-vs-predicted section."""
    catalog = catalog or load_catalog()
    clean_probe = sanitize_probe(probe) if probe else None
    return build_pdf(ReportData(plan, catalog, clean_probe, generated_on or dt.date.today()))


def write_pdf(plan: Plan, path: str | Path, probe: dict | None = None, catalog: Catalog | None = None) -> Path:
    """Write the plan's PDF to `path` (parent folders created); returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(plan_pdf(plan, catalog, probe))
    return target


def build_pdf(data: ReportData, sections: Iterable[Section] = SECTIONS) -> bytes:
    """`sections` drawn in order on one document with the report's title, footer and metadata."""
    doc = Canvas(data.text())
    pdf = doc.pdf
    pdf.footer_text = doc.t(data.name, 70) + f" · {data.generated_on.isoformat()}"
    pdf.set_title(doc.t(data.name, TITLE_CHARS))
    pdf.set_author("Open-Weights Deployment Planner")
    pdf.set_creator("planner.report.document")
    pdf.set_creation_date(dt.datetime.combine(data.generated_on, dt.time(12, 0), tzinfo=dt.UTC))
    pdf.add_page()
    for render in sections:
        render(doc, data)
    return bytes(pdf.output())
