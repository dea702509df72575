"""Fixtures for the report's module tests: a few plans, and one section drawn alone into a document
and read back with pdftotext."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from planner.catalog.loading import load_catalog
from planner.plan.constraints import Constraints
from planner.plan.model import Plan
from planner.plan.recommend import recommend
from planner.report.context import ReportData
from planner.report.document import build_pdf
from planner.report.sanitize import sanitize_probe
from planner.report.sections import Section

sys.path.insert(0, str(Path(__file__).parent))  # report_support beside this file

from report_support import DAY, pdf_text  # noqa: E402


@pytest.fixture(scope="session")
def plan() -> Plan:
    return recommend(Constraints(name="Section test plan"))


@pytest.fixture(scope="session")
def no_pick() -> Plan:
    plan = recommend(Constraints(name="Nothing fits", models=["meta-llama/Llama-3.1-405B-Instruct"],
                                 gpus_available=[{"gpu": "rtx-3090", "count": 1}]))
    assert plan.recommendation is None
    return plan


@pytest.fixture(scope="session")
def fine_tuned() -> Plan:
    return recommend(Constraints(name="Fine-tuned plan", fine_tuning="lora"))


@pytest.fixture(scope="session")
def alone() -> Callable[..., str]:
    """alone(render, plan, probe=None): the text of a document holding that one section."""
    catalog = load_catalog()

    def draw(render: Section, plan: Plan, probe: dict | None = None) -> str:
        data = ReportData(plan, catalog, sanitize_probe(probe) if probe else None, DAY)
        return pdf_text(build_pdf(data, [render]))

    return draw
