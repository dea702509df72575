"""Fuzzing the door: any constraints file either plans (exit 0) or is refused in one line naming the field (exit 2)."""

from __future__ import annotations

import contextlib
import io
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.catalog.loading import load_catalog
from planner.cli.main import main
from planner.plan.constraints import Constraints

CATALOG = load_catalog()
GPU_IDS = sorted(CATALOG.gpus)
MODEL_IDS = sorted(CATALOG.models)
FIELDS = set(Constraints.model_fields)

gpu_id = st.one_of(st.sampled_from(GPU_IDS), st.sampled_from(["H100-SXM", "h100", "no-such-gpu", "", "rtx 4090"]), st.text(max_size=8))
count = st.one_of(st.integers(-2, 3), st.integers(1020, 1030), st.sampled_from([1.5, "2", None, True]))
owned_entry = st.fixed_dictionaries({"gpu": gpu_id}, optional={"count": count, "extra": st.just(1)})
owned = st.one_of(st.none(), st.just([]), st.lists(owned_entry, min_size=1, max_size=3),
                  st.sampled_from(GPU_IDS).map(lambda g: [{"gpu": g, "count": 2}, {"gpu": g, "count": 1}]), st.just("h100-sxm"))
models = st.one_of(st.just([]), st.lists(st.one_of(st.sampled_from(MODEL_IDS), st.just("no/such-model"), st.just("llama3.1:8b")),
                                         min_size=1, max_size=3, unique=True), st.just("llama3.1:8b"))
number = st.one_of(st.integers(-5, 5), st.integers(0, 10**7), st.floats(allow_nan=True, allow_infinity=True), st.just(None), st.just("many"))
constraints = st.fixed_dictionaries({}, optional={
    "privacy": st.sampled_from(["any", "no-third-party-api", "on-prem", "offline", "cloud", "", None]),
    "task": st.sampled_from(["chat", "code", "reasoning", "multilingual", "long-context", "summarization", "edge", "poetry"]),
    "requests_per_day": number, "input_tokens": number, "output_tokens": number, "context_tokens": number,
    "peak_to_average": number, "max_ttft_s": number, "min_tokens_per_s": number, "budget_usd_per_month": number,
    "gpus_available": owned, "models": models, "fine_tuning": st.sampled_from(["none", "lora", "qlora", "full", True, False, "yes"]),
    "kv_cache_dtype": st.sampled_from(["auto", "fp16", "fp8", "q8_0", "int4"]), "commercial_use": st.sampled_from([True, False, "no"]),
    "utilisation": number, "colour": st.just("blue"),
})


def _run(data: dict, tmp_path) -> tuple[int, str]:
    path = tmp_path / "constraints.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["plan", "--constraints", str(path), "--json"])
    return code, err.getvalue()


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=constraints)
def test_every_input_plans_or_is_refused_naming_its_field(data, tmp_path):
    if data.get("models") is None and "gpus_available" not in data:
        data["models"] = ["llama3.1:8b", "qwen3:30b-a3b"]  # the whole catalogue is planned elsewhere; keep 2,000 runs quick
    code, err = _run(data, tmp_path)  # a traceback would propagate and fail the test
    assert code in (0, 2), err
    if code == 2:
        assert err.startswith("error: ") and err.count("\n") == 1, err
        named = [f for f in FIELDS | {"colour"} if f in err]
        assert named, f"the message names no field: {err}"
