"""Fuzzing the dashboard as a careless or hostile user would: every form field and every URL
parameter given zero, empty, negative, huge, NaN, unicode and markup. Nothing may raise, nothing
the user typed may be lost, and a bad value is answered under its field (the form always drawn).

Example counts stay small: the suite runs on a busy 2-core machine and each app run takes a second.
"""

import math
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from planner.plan.constraints import Constraints, parse_constraints
from tests.test_app_pages import APP, TIMEOUT_S
from ui import state

NUMBER_FIELDS = ["requests_per_day", "input_tokens", "output_tokens", "peak_to_average", "context_tokens", "max_ttft_s",
                 "min_tokens_per_s", "min_capability", "min_replicas", "budget_usd_per_month"]
TEXT_FIELDS = ["name"]
SELECT_FIELDS = {"privacy": ["any", "no-third-party-api", "on-prem", "offline"], "task": ["chat", "code", "edge"],
                 "priority": ["quality", "balanced", "cost"], "deployment": ["auto", "datacenter", "office", "edge"]}
HOSTILE_TEXT = ["", " ", "0", "-1", "1e308", "nan", "NaN", "inf", "-inf", "None", "null", "true", "maybe",
                "[Approved by CTO](https://evil.example)", "![x](https://evil.example/p.png)", "<script>alert(1)</script>",
                ":red[alarm] :material/warning:", "$x^2$", "**bold** _it_ `code`", "名前 🚀 ∑", "a" * 300, "rtx-4090:0",
                "h100-sxm:99999", "warp-drive:2", ",,,", "%00", "\u202e evil"]
numbers = st.one_of(
    st.none(), st.sampled_from([0, 0.0, -1, -1e9, 1e15, 1e308, 0.001, 1, 2**31, float("nan")]),
    st.floats(allow_nan=False, allow_infinity=False, width=32), st.integers(-10**12, 10**12))
texts = st.one_of(st.sampled_from(HOSTILE_TEXT), st.text(max_size=80))
FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def shown(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u200b", "")


def _app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=TIMEOUT_S).run()


_SHARED: dict = {}


def shared_app() -> AppTest:
    """One app for all examples (as one user typing on and on); a fresh one is seconds a run."""
    if "at" not in _SHARED:
        _SHARED["at"] = _app()
    return _SHARED["at"]


def assert_form_and_no_traceback(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    # The form is always drawn, whatever was typed.
    for key in NUMBER_FIELDS:
        assert at.number_input(key=key) is not None
    for element in (*at.markdown, *at.caption, *at.error, *at.warning, *at.info):
        assert "Traceback" not in element.value and "math domain error" not in element.value


INT_WIDGETS = {"requests_per_day", "input_tokens", "output_tokens", "context_tokens", "min_replicas"}
JS_SAFE_INT = 2**53 - 1  # a browser's number input holds no larger whole number


def _number_for(key: str, value):
    """What a browser can send to this widget: whole numbers to integer fields, floats elsewhere."""
    if value is None:
        return None
    if key in INT_WIDGETS:
        return 0 if value != value else int(max(min(value, JS_SAFE_INT), -JS_SAFE_INT))
    return float(value)


@FUZZ
@given(key=st.sampled_from(NUMBER_FIELDS), value=numbers)
def test_any_number_in_any_field(key, value):
    at = shared_app()
    value = _number_for(key, value)
    at.number_input(key=key).set_value(value).run()
    assert_form_and_no_traceback(at)
    # No lost input: the field and the store hold what was typed, valid or not.
    assert at.number_input(key=key).value == value or (value != value and at.number_input(key=key).value != value)
    assert at.session_state[state.VALUES][key] == value or value != value
    c, error = state.constraints_from_values, None
    try:
        c(at.session_state[state.VALUES])
    except Exception as exc:  # noqa: BLE001
        error = exc
    if error is not None:
        # A bad value is named: an error under some field or at the top, never silence.
        assert at.error, f"{key}={value!r} is invalid but no message is shown"
    # Put the field back so the next example starts from a valid form.
    at.number_input(key=key).set_value(state.values_from_constraints(Constraints())[key]).run()


@FUZZ
@given(text=texts)
def test_any_plan_name(text):
    at = shared_app()
    at.text_input(key="name").set_value(text).run()
    assert_form_and_no_traceback(at)
    if len(text) <= 200:
        assert at.text_input(key="name").value == text
    for element in (*at.markdown, *at.caption):
        # Never a live link or image from the name.
        assert "](https://evil" not in element.value.replace("\\", "") or "\\]\\(" in element.value


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.sampled_from(list(SELECT_FIELDS)), data=st.data())
def test_every_choice_of_every_select(key, data):
    at = shared_app()
    at.selectbox(key=key).set_value(data.draw(st.sampled_from(SELECT_FIELDS[key]))).run()
    assert_form_and_no_traceback(at)


URL_KEYS = st.sampled_from([*Constraints.model_fields, "zzz", "scenarios", "embed"])


@settings(max_examples=150, deadline=None)
@given(params=st.dictionaries(URL_KEYS, texts, max_size=6))
def test_any_link_is_read_parameter_by_parameter(params):
    """values_from_query: never raises; what it returns is valid; every good parameter survives."""
    values, notice = state.values_from_query(params, gpu_ids={"rtx-4090", "h100-sxm"})
    constraints = state.constraints_from_values(values)  # valid, or this raises
    for key, text in params.items():
        if key in ("embed", "scenarios"):
            continue
        try:
            alone = parse_constraints({key: state._decode(key, text)})
        except Exception:  # noqa: BLE001 - a bad parameter is named in the notice
            assert notice and (key[:40] in notice or state.FIELD_LABELS.get(key, "\0") in notice), (key, text, notice)
            continue
        if key == "gpus_available" or key == "context_tokens":
            continue  # may be dropped for unknown GPUs or a context shorter than the request
        got, want = getattr(constraints, key), getattr(alone, key)
        if isinstance(want, list) and not want:
            want = None  # an empty list of models means all models, as no list does
        assert got == want or (isinstance(want, float) and math.isclose(got, want)), (key, text, got, want)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(params=st.dictionaries(URL_KEYS, texts, min_size=1, max_size=4))
def test_any_link_opens_the_app(params):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    at.query_params = params
    at.run()
    assert_form_and_no_traceback(at)
    for w in at.warning:
        assert "<script>" not in shown(w.value) or "\\<script" in w.value


def test_a_scenarios_parameter_round_trips_and_survives_damage():
    values, _ = state.values_from_query({"requests_per_day": "5000", "name": "[x](https://evil.example)"})
    text = state.scenarios_param([{"name": "small :red[x]", "values": values}])
    back, notice = state.scenarios_from_param(text)
    assert notice is None and back[0]["name"] == "small :red[x]" and back[0]["values"]["requests_per_day"] == 5000
    assert state.scenarios_from_param(text[:-5] + "!!!!!")[1]  # damaged: a notice, no exception
    assert state.scenarios_from_param("A" * 5000)[0] == []


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(gpus=st.lists(st.sampled_from(["rtx-4090", "h100-sxm", "a40", "apple-m2-ultra-192gb"]), unique=True, max_size=3),
       counts=st.lists(st.integers(1, 1024), min_size=3, max_size=3),
       toggles=st.lists(st.booleans(), min_size=4, max_size=4), fine_tuning=st.sampled_from(["none", "lora", "qlora", "full"]))
def test_owned_gpus_toggles_and_fine_tuning(gpus, counts, toggles, fine_tuning):
    at = _app()
    at.radio(key="hardware_mode").set_value("own").run()
    assert_form_and_no_traceback(at)
    at.multiselect(key="gpus_owned").set_value(gpus).run()
    for gpu, count in zip(gpus, counts):
        at.number_input(key=f"gpu_count__{gpu}").set_value(count).run()
    for key, value in zip(("commercial_use", "needs_max_capability", "rapid_development", "embedded_in_product"), toggles):
        at.toggle(key=key).set_value(value)
    at.selectbox(key="fine_tuning").set_value(fine_tuning).run()
    assert_form_and_no_traceback(at)
    stored = at.session_state[state.VALUES]
    assert stored[state.GPUS_OWNED] == gpus and stored["fine_tuning"] == fine_tuning
    assert all(stored["gpu_counts"][g] == n for g, n in zip(gpus, counts))
