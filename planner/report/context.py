"""What a report section is drawn from: the plan, the catalogue it came from, the probe result
(secrets already removed) and the report's date."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from planner.catalog.loading import Catalog
from planner.plan.model import Plan

TITLE_CHARS = 140  # the title shows this much of the name (the constraints allow 200)


@dataclass(frozen=True)
class ReportData:
    plan: Plan
    catalog: Catalog
    probe: dict | None  # sanitised (planner.report.sanitize)
    generated_on: dt.date

    @property
    def constraints(self) -> dict:
        return self.plan.constraints

    @property
    def name(self) -> str:
        return self.constraints.get("name") or "Untitled plan"

    def text(self) -> str:
        """Every plan and probe string the document may print (to choose fonts for)."""
        parts = [json.dumps(self.plan.to_json_dict(), ensure_ascii=False)]
        if self.probe:
            parts.append(json.dumps(self.probe, ensure_ascii=False))
        return "".join(parts)
