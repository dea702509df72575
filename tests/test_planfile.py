"""Plan files: export -> import restores the constraints; bad files fail with one clear sentence."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pytest

from planner.errors import PlannerError
from planner.plan.constraints import Constraints
from planner.plan.planfile import (
    SCHEMA,
    SCHEMA_VERSION,
    PlanFileError,
    export_plan,
    import_plan,
)
from planner.plan.recommend import recommend


@pytest.fixture(scope="module")
def plan():
    return recommend(Constraints(name="Café support 日本語 ✓", privacy="on-prem", requests_per_day=5_000,
                                 gpus_available=[{"gpu": "rtx-4090", "count": 2}], context_tokens=8192,
                                 budget_usd_per_month=900, kv_cache_dtype="q8_0", models=["llama3.1:8b", "qwen3:8b"]))


@pytest.fixture(scope="module")
def exported(plan) -> str:
    return export_plan(plan, exported_at=dt.datetime(2026, 11, 25, 10, 30, tzinfo=dt.UTC))


def test_export_has_the_documented_shape(plan, exported):
    doc = json.loads(exported)
    assert doc["schema"] == SCHEMA == "ow-planner/plan"
    assert doc["schema_version"] == SCHEMA_VERSION == 1
    assert doc["constraints"] == plan.constraints
    assert doc["plan"] == plan.to_json_dict()
    assert doc["data_as_of"] == plan.data_as_of
    assert dt.datetime.fromisoformat(doc["exported_at"]) == dt.datetime(2026, 11, 25, 10, 30, tzinfo=dt.UTC)
    assert "日本語" in exported  # readable, not \u-escaped


def test_round_trip_gives_equal_constraints(plan, exported):
    constraints, saved = import_plan(exported)
    assert constraints == Constraints.model_validate(plan.constraints)
    assert constraints.name == "Café support 日本語 ✓"
    assert constraints.gpus_available[0].gpu == "rtx-4090"
    assert saved == plan.to_json_dict()


def test_round_trip_of_default_constraints():
    default_plan = recommend(Constraints())
    constraints, _ = import_plan(export_plan(default_plan))
    assert constraints == Constraints()


def test_import_accepts_bytes_and_a_byte_order_mark(exported):
    from_bytes, _ = import_plan(exported.encode("utf-8"))
    from_bom, _ = import_plan(b"\xef\xbb\xbf" + exported.encode("utf-8"))
    assert from_bytes == from_bom == import_plan(exported)[0]


def test_export_is_stable_json(plan):
    first = export_plan(plan, exported_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    assert first == export_plan(plan, exported_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))


# --- bad files -------------------------------------------------------------------------------------


def _doc(exported: str) -> dict:
    return json.loads(exported)


def _fails(data, *fragments: str) -> PlanFileError:
    with pytest.raises(PlanFileError) as info:
        import_plan(data)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message
    assert isinstance(info.value, PlannerError)
    assert "\n" not in message and len(message) < 800  # one line; an unknown field lists the allowed ones
    return info.value


@pytest.mark.parametrize("data", ["not json at all", "{\"schema\": ", "", "   ", b"\xff\xfe\x00garbage", "[1, 2"])
def test_not_json(data):
    error = _fails(data)
    assert any(w in str(error) for w in ("JSON", "empty", "UTF-8"))


def test_not_json_names_the_line():
    _fails('{\n  "schema": "ow-planner/plan",\n  oops\n}', "not valid JSON", "line 3")


@pytest.mark.parametrize("data", ["[]", "42", '"a string"', "null"])
def test_json_that_is_not_an_object(data):
    _fails(data, "not a plan file")


def test_foreign_schema(exported):
    doc = _doc(exported)
    doc["schema"] = "someone-else/report"
    _fails(json.dumps(doc), "not a plan file", "someone-else/report")


def test_missing_schema(exported):
    doc = _doc(exported)
    del doc["schema"]
    _fails(json.dumps(doc), "not a plan file")


def test_a_constraints_file_gets_a_hint():
    _fails(json.dumps({"name": "x", "requests_per_day": 10}), "constraints file")


def test_future_version(exported):
    doc = _doc(exported)
    doc["schema_version"] = 2
    _fails(json.dumps(doc), "newer planner", "schema_version 2")


@pytest.mark.parametrize("version", ["1", 1.5, None, True, 0, -3])
def test_invalid_version(exported, version):
    doc = _doc(exported)
    doc["schema_version"] = version
    _fails(json.dumps(doc), "schema_version")


def test_invalid_constraint_names_the_field(exported):
    doc = _doc(exported)
    doc["constraints"]["privacy"] = "moon"
    error = _fails(json.dumps(doc), "privacy", "moon")
    assert error.field == "privacy"


def test_out_of_range_constraint_names_the_field(exported):
    doc = _doc(exported)
    doc["constraints"]["requests_per_day"] = -5
    assert _fails(json.dumps(doc), "requests_per_day").field == "requests_per_day"


def test_unknown_constraint_field(exported):
    doc = _doc(exported)
    doc["constraints"]["colour"] = "blue"
    assert _fails(json.dumps(doc), "colour").field == "colour"


def test_missing_or_wrong_constraints(exported):
    doc = _doc(exported)
    del doc["constraints"]
    _fails(json.dumps(doc), "constraints")
    doc["constraints"] = ["not", "an", "object"]
    _fails(json.dumps(doc), "constraints")


def test_plan_entry_must_be_an_object(exported):
    doc = _doc(exported)
    doc["plan"] = "oops"
    assert _fails(json.dumps(doc), "plan").field == "plan"


def test_absurdly_large_input_is_refused():
    _fails(b" " * 20_000_001, "MB")


def test_deeply_nested_json_is_refused():
    _fails("[" * 100_000 + "]" * 100_000)


def test_import_changes_nothing(exported):
    doc = _doc(exported)
    doc["constraints"]["privacy"] = "moon"
    text = json.dumps(doc)
    before = copy.deepcopy(doc)
    with pytest.raises(PlanFileError):
        import_plan(text)
    assert json.loads(text) == before
    # and a good import still works afterwards (no state kept from the failure)
    assert import_plan(exported)[0].privacy == "on-prem"
