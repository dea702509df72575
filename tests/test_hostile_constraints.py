"""Hostile constraints files at `plan --constraints`: whatever the file holds, the planner plans (exit 0, strict
JSON) or refuses it in one clean line naming the field or the file (exit 2); never a traceback, never a
change under data/, and the memory of one run stays bounded."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.plan.constraints import Constraints
from tests.hostile_support import DATA, PEAK_RSS_LIMIT_MIB, assert_one_clean_line, peak_rss_mib, run_main, snapshot, strict_json

FIELDS = sorted(Constraints.model_fields)
SMALL_MODELS = ["llama3.1:8b", "qwen3:30b-a3b"]  # the whole catalogue is planned elsewhere; keep examples quick
SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

numbers = st.one_of(
    st.sampled_from([0, -1, 5e-324, 1e-300, 1e308, -1e308, 10**18, 10**19 - 1, 2**63, 10**25, 0.5, 1.5, -0.0]),
    st.floats(allow_nan=True, allow_infinity=True), st.integers(min_value=-(10**30), max_value=10**30),
)
texts = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["\x1b[31mred\x1b[0m", "\x9b2J", "a\x00b", "\ud800", "x" * 5_000, "line\nbreak", "", " ", "llama3.1:8b"]),
)
odd = st.one_of(st.none(), st.booleans(), st.just([]), st.just({}), st.just([[[[[]]]]]))
value = st.one_of(numbers, texts, odd)
id_lists = st.one_of(
    st.lists(st.sampled_from(SMALL_MODELS + ["LLAMA3.1:8B", "meta-llama/Llama-3.1-8B-Instruct"]), min_size=1, max_size=1_200),
    st.lists(texts, max_size=5), st.lists(value, max_size=3), value,
)
owned = st.one_of(
    st.lists(st.fixed_dictionaries({"gpu": st.one_of(st.sampled_from(["h100-sxm", "a100-80gb"]), texts)},
                                   optional={"count": numbers}), max_size=80),
    value,
)
hostile_key = st.one_of(st.sampled_from(FIELDS), texts.filter(lambda k: k not in FIELDS))
document = st.dictionaries(hostile_key, value, max_size=4).flatmap(
    lambda base: st.fixed_dictionaries({}, optional={"models": id_lists, "gpus_available": owned}).map(lambda extra: {**base, **extra}))


@pytest.fixture(scope="module", autouse=True)
def data_untouched():
    before = snapshot(DATA)
    yield
    assert snapshot(DATA) == before, "a file under data/ changed"


def _plan_file(path, raw: bytes) -> tuple[int, str, str]:
    path.write_bytes(raw)
    return run_main(["plan", "--constraints", str(path), "--json"])


@SETTINGS
@given(doc=document)
def test_any_document_plans_or_is_refused_in_one_line(doc, tmp_path):
    if not isinstance(doc.get("models"), list) or not doc["models"]:
        doc["models"] = SMALL_MODELS
    code, out, err = _plan_file(tmp_path / "c.json", json.dumps(doc).encode("utf-8", "surrogatepass"))
    assert code in (0, 2), err
    if code == 0:
        plan = strict_json(out)
        shown = [(a["model"], a["quant"], a["engine"], a["gpu"], a["gpus"]) for a in plan["alternatives"]]
        assert len(shown) == len(set(shown)), "an alternative listed twice"
    else:
        assert_one_clean_line(err, *[k for k in doc if k.isprintable() and k.strip()], "constraints file")


@SETTINGS
@given(raw=st.binary(max_size=300))
def test_any_bytes_plan_or_are_refused_in_one_line(raw, tmp_path):
    code, out, err = _plan_file(tmp_path / "c.json", raw)
    assert code in (0, 2), err
    if code == 2:
        assert_one_clean_line(err)


RAW = {
    "not UTF-8": (b'{"name": "caf\xe9"}', "not UTF-8"),
    "nested 1,500 deep": (b"[" * 1_500 + b"]" * 1_500, "nested"),  # Python's parser recurses to ~1,000
    "nested 100,000 deep": (b"[" * 100_000 + b"]" * 100_000, "lists and objects"),
    "a 5,000-digit integer": (b'{"input_tokens": ' + b"9" * 5_000 + b"}", "input_tokens"),
    "Infinity": (b'{"budget_usd_per_month": Infinity}', "budget_usd_per_month"),
    "1e999": (b'{"requests_per_day": 1e999}', "requests_per_day"),
    "5e-324 requests a day": (b'{"requests_per_day": 5e-324}', "requests_per_day"),
    "a 10 MB value": (json.dumps({"name": "x" * 10_000_000}).encode(), "larger than"),
    "an escape sequence in a field name": (json.dumps({"\x1b[2J\x1b[31mcolour": 1}).encode(), "field name"),
    "an escape sequence in a value": (json.dumps({"name": "\x1b]0;owned\x07"}).encode(), "name"),
    "a lone surrogate": (b'{"name": "\\ud800"}', "name"),
    "10,000 repeated models": (json.dumps({"models": ["llama3.1:8b"] * 10_000}).encode(), "models"),
    "2,000 distinct models": (json.dumps({"models": [f"org/m{i}" for i in range(2_000)]}).encode(), "models"),
    "100 owned GPU kinds": (json.dumps({"gpus_available": [{"gpu": f"g{i}"} for i in range(100)]}).encode(), "gpus_available"),
    "a 300-character id": (json.dumps({"models": ["m" * 300]}).encode(), "models"),
}


@pytest.mark.parametrize("name", list(RAW))
def test_hostile_files_are_refused_naming_the_field(name, tmp_path):
    raw, needle = RAW[name]
    code, out, err = _plan_file(tmp_path / "c.json", raw)
    assert code == 2 and not out
    assert_one_clean_line(err, needle)


def test_repeated_and_aliased_models_are_planned_once(tmp_path):
    doc = {"models": ["llama3.1:8b"] * 500 + ["LLAMA3.1:8B", "meta-llama/Llama-3.1-8B-Instruct"], "requests_per_day": 1000}
    code, out, err = _plan_file(tmp_path / "c.json", json.dumps(doc).encode())
    assert code == 0, err
    plan = strict_json(out)
    models = {plan["recommendation"]["model"]} | {a["model"] for a in plan["alternatives"]}
    assert models == {"meta-llama/Llama-3.1-8B-Instruct"}
    shown = [(a["quant"], a["engine"], a["gpu"], a["gpus"]) for a in plan["alternatives"]]
    assert len(shown) == len(set(shown))


@pytest.mark.parametrize("doc, planned", [
    ({"models": ["llama3.1:8b"] * 10_000}, False),  # 150 KB; took 2 GB and 6 s before the door
    ({"models": ["llama3.1:8b"] * 999 + ["qwen3:30b-a3b"]}, True),
])
def test_peak_memory_of_a_hostile_file_is_bounded(doc, planned, tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(doc))
    code, peak_mib, err = peak_rss_mib(["plan", "--constraints", str(path), "--json"])
    assert code == (0 if planned else 2), err
    assert peak_mib < PEAK_RSS_LIMIT_MIB, f"peak {peak_mib:.0f} MiB"


@settings(max_examples=200, deadline=None)
@given(doc=document)
def test_the_page_and_url_door_takes_any_dict_or_names_the_field(doc):
    """The dashboard hands parse_constraints a dict (widgets, URL parameters), not a file: the same limits hold."""
    from planner.errors import CONTROL_OR_SPACE, ConstraintError
    from planner.plan.constraints import parse_constraints

    try:
        c = parse_constraints(doc)
    except ConstraintError as exc:
        assert exc.field is None or exc.field in doc or exc.field in FIELDS, exc.field
        assert not CONTROL_OR_SPACE.search(str(exc)) and len(str(exc)) < 2_000
        return
    assert not any(CONTROL_OR_SPACE.search(text) for text in [c.name, *(c.models or [])])
    assert len({m.lower() for m in c.models or []}) == len(c.models or [])
