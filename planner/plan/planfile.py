"""Plan files: save a plan with its constraints, and read the constraints back to restore a session.

    {"schema": "ow-planner/plan", "schema_version": 1, "constraints": {...}, "plan": {...},
     "data_as_of": {...}, "exported_at": "2026-11-25T10:00:00+00:00"}

`import_plan` is a pure function: it returns (Constraints, plan dict) or raises `PlanFileError` with
one sentence saying what is wrong (not JSON, not a plan file, written by a newer planner, or which
constraint is invalid). Nothing is changed when it fails.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from planner.errors import ConstraintError, PlannerError
from planner.plan.constraints import Constraints, parse_constraints
from planner.plan.model import Plan

SCHEMA = "ow-planner/plan"
SCHEMA_VERSION = 1
MAX_BYTES = 20_000_000  # a plan file is tens of kB; refuse anything absurd before parsing it


class PlanFileError(PlannerError, ValueError):
    """A plan file cannot be imported; `field` names the offending constraint when there is one."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def export_plan(plan: Plan, exported_at: dt.datetime | None = None) -> str:
    """The plan file text (JSON) for a plan."""
    when = (exported_at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).isoformat(timespec="seconds")
    document = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "constraints": plan.constraints,
        "plan": plan.to_json_dict(),
        "data_as_of": dict(plan.data_as_of),
        "exported_at": when,
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def import_plan(data: str | bytes | bytearray) -> tuple[Constraints, dict]:
    """The validated constraints and the saved plan (a JSON dict) from a plan file's content."""
    document = _parse_json(data)
    _check_schema(document)
    constraints = document.get("constraints")
    if not isinstance(constraints, dict):
        raise PlanFileError("The plan file has no 'constraints' object, so there is nothing to restore.", field="constraints")
    try:
        parsed = parse_constraints(constraints)
    except ConstraintError as exc:
        raise PlanFileError(f"The plan file's constraints are invalid: {exc}", field=exc.field) from None
    plan = document.get("plan", {})
    if not isinstance(plan, dict):
        raise PlanFileError("The plan file's 'plan' entry must be a JSON object.", field="plan")
    return parsed, plan


def _parse_json(data: str | bytes | bytearray) -> Any:
    if isinstance(data, bytes | bytearray):
        if len(data) > MAX_BYTES:
            raise PlanFileError(f"The file is {len(data) / 1e6:.0f} MB; a plan file is a few tens of kB. Is it the right file?")
        try:
            text = bytes(data).decode("utf-8-sig")
        except UnicodeDecodeError:
            raise PlanFileError("The file is not UTF-8 text, so it is not a plan file (plan files are JSON).") from None
    elif isinstance(data, str):
        if len(data) > MAX_BYTES:
            raise PlanFileError(f"The text is {len(data) / 1e6:.0f} M characters; a plan file is a few tens of kB.")
        text = data.removeprefix("\ufeff")
    else:
        raise PlanFileError(f"Expected the plan file's text or bytes, got {type(data).__name__}.")
    if not text.strip():
        raise PlanFileError("The file is empty.")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlanFileError(f"The file is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}).") from None
    except RecursionError:
        raise PlanFileError("The file is not a plan file: its JSON is nested too deeply.") from None


def _check_schema(document: Any) -> None:
    if not isinstance(document, dict):
        raise PlanFileError(f"This is not a plan file: expected a JSON object with \"schema\": \"{SCHEMA}\", "
                            f"found a JSON {_json_type(document)}.")
    schema = document.get("schema")
    if schema is None:
        hint = (" It looks like a constraints file: load it as constraints instead (python -m planner plan --constraints FILE)."
                if document and set(document) <= set(Constraints.model_fields) else "")
        raise PlanFileError(f"This is not a plan file: it has no \"schema\": \"{SCHEMA}\" entry.{hint}")
    if schema != SCHEMA:
        raise PlanFileError(f"This is not a plan file: its schema is {str(schema)[:80]!r}, expected {SCHEMA!r}.")
    version = document.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise PlanFileError(f"The plan file's schema_version must be a whole number, got {str(version)[:40]!r}.")
    if version > SCHEMA_VERSION:
        raise PlanFileError(f"The plan file was written by a newer planner (schema_version {version}); this one reads "
                            f"schema_version {SCHEMA_VERSION}. Update the planner to open it.")
    if version < 1:
        raise PlanFileError(f"The plan file's schema_version {version} is not valid (versions start at 1).")


def _json_type(value: Any) -> str:
    return {list: "array", str: "string", int: "number", float: "number", bool: "boolean", type(None): "null"}.get(type(value), "value")
