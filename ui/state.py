"""Session state: the constraints every page shares, their URL form, and the cached core calls.

The form's raw values live in `st.session_state[VALUES]`, a plain dict that outlives the widgets
(Streamlit drops a widget's state when a page that does not draw it runs). Widgets are seeded from
it and copied back into it at the top of every run, so what the user typed survives page switches
and invalid entries are kept, not reset.

The URL holds the fields that differ from `Constraints()` defaults, so a link reproduces a plan.
"""

from __future__ import annotations

import contextlib
import base64
import json
import math
import zlib
import runpy
import threading
from pathlib import Path
from typing import Any

import streamlit as st

from planner.catalog.loading import Catalog, load_catalog
from planner.catalog.records import ModelSpec
from planner.errors import ConstraintError
from planner.plan.constraints import Constraints, parse_constraints
from planner.plan.model import Plan
from planner.plan.recommend import recommend
from planner.probe.calibration import load_calibrations
from planner.report.words import FIELD_LABELS, for_people

VALUES = "form_values"
CUSTOM_MODELS = "custom_models"
SCENARIOS = "scenarios"
CALIBRATIONS = "calibrations"
URL_READ = "url_read"
URL_WARNING = "url_warning"
MAX_SCENARIOS = 4
# Set while the entry file runs; thread-local because each session runs its script in its own thread.
_this_run = threading.local()
ENTRY_SCRIPT = Path(__file__).resolve().parent.parent / "streamlit_app.py"

DEFAULTS = Constraints()
# Fields the form edits directly (widget key = field name).
SIMPLE_FIELDS = ("name", "privacy", "requests_per_day", "input_tokens", "output_tokens", "peak_to_average", "max_ttft_s",
                 "min_tokens_per_s", "context_tokens", "budget_usd_per_month", "task", "fine_tuning", "fine_tuning_tokens",
                 "fine_tuning_epochs", "commercial_use",
                 "models", "kv_cache_dtype", "gpu_usd_per_hour", "gpu_price_for", "utilisation", "amortisation_months",
                 "power_usd_per_kwh", "priority", "min_capability", "max_capability_gap", "needs_max_capability",
                 "rapid_development", "embedded_in_product", "deployment", "min_replicas", "max_input_tokens",
                 "max_output_tokens", "expected_reasoning_tokens", "allow_self_quantization")
AUTO = "auto"  # a select box's "let the planner decide", stored as None (a None option reads 'Choose an option')
HARDWARE_MODE = "hardware_mode"  # "rent" or "own"
GPUS_OWNED = "gpus_owned"  # catalogue ids
GPU_COUNT_PREFIX = "gpu_count__"
INT_FIELDS = {"input_tokens", "output_tokens", "context_tokens", "min_replicas", "max_input_tokens", "max_output_tokens",
              "expected_reasoning_tokens"}
BOOL_FIELDS = {"commercial_use", "needs_max_capability", "rapid_development", "embedded_in_product", "allow_self_quantization"}
FLOAT_FIELDS = {"fine_tuning_tokens", "fine_tuning_epochs", "requests_per_day", "peak_to_average", "max_ttft_s", "min_tokens_per_s", "budget_usd_per_month",
                "gpu_usd_per_hour", "utilisation", "amortisation_months", "power_usd_per_kwh", "min_capability",
                "max_capability_gap"}
# Streamlit's own URL parameters, never constraints.
_FOREIGN_PARAMS = {"embed", "embed_options"}
# The saved scenarios ride in the URL too (compressed), so a reload or a shared link keeps them.
SCENARIOS_PARAM = "scenarios"


# ---------------------------------------------------------------- form values <-> constraints

def values_from_constraints(c: Constraints) -> dict[str, Any]:
    """Raw form values that reproduce these constraints."""
    data = c.model_dump(mode="json")
    values = {k: data[k] for k in SIMPLE_FIELDS}
    values["requests_per_day"] = int(round(values["requests_per_day"]))  # the widget counts whole requests
    values["models"] = list(values["models"] or [])
    owned = data["gpus_available"]
    values[HARDWARE_MODE] = "rent" if owned is None else "own"
    values[GPUS_OWNED] = [g["gpu"] for g in owned or []]
    values["gpu_counts"] = {g["gpu"]: g["count"] for g in owned or []}
    return values


def constraints_data(values: dict[str, Any]) -> dict[str, Any]:
    """The dict `parse_constraints` takes, from raw form values."""
    data = {k: values[k] for k in SIMPLE_FIELDS if k in values}
    data["models"] = list(values.get("models") or []) or None
    if values.get(HARDWARE_MODE) == "own":
        owned = values.get(GPUS_OWNED) or []
        counts = values.get("gpu_counts") or {}
        # None until a GPU is chosen: switching to "own" must not clear the plan (the form asks for them)
        data["gpus_available"] = [{"gpu": g, "count": _count(counts.get(g, 1))} for g in owned] or None
    else:
        data["gpus_available"] = None
    return data


def _count(value: Any) -> Any:
    """A GPU count as typed: whole numbers become int, anything else goes to validation as it is."""
    return int(value) if isinstance(value, int | float) and float(value).is_integer() else value


def constraints_from_values(values: dict[str, Any]) -> Constraints:
    """Validated constraints, or ConstraintError naming the field."""
    return parse_constraints(constraints_data(values))


# ---------------------------------------------------------------- session

@contextlib.contextmanager
def framing():
    """Wrap the entry file's run, so pages can tell whether it framed them."""
    _this_run.framed = True
    try:
        yield
    finally:
        _this_run.framed = False


def ensure_framed() -> None:
    """Run the entry file first when Streamlit ran a page without it.

    A server that has a pages/ folder starts in its legacy multipage mode: until some run calls
    st.navigation, a first visit straight to /whatif runs pages/whatif.py alone (no page config,
    no shared state, the folder's file names as navigation); AppTest starts every run that way.
    The entry file then takes over, draws this page through st.navigation, and this bare run stops.
    """
    if getattr(_this_run, "framed", False):
        return
    runpy.run_path(str(ENTRY_SCRIPT), run_name="__main__")
    st.stop()


def init() -> None:
    """Once per session: form values from the URL (or defaults). Every run: absorb widget values."""
    ss = st.session_state
    if VALUES not in ss:
        params = dict(st.query_params)
        scenarios, scenario_warning = scenarios_from_param(params.pop(SCENARIOS_PARAM, ""))
        values, warning = values_from_query(params, set(base_catalog().gpus))
        ss[VALUES] = values
        ss[URL_WARNING] = " ".join(w for w in (warning, scenario_warning) if w) or None
        ss.setdefault(CUSTOM_MODELS, [])
        ss.setdefault(SCENARIOS, scenarios)
        # the user's probe calibrations (a file they can see and delete), as the CLI reads them
        ss.setdefault(CALIBRATIONS, load_calibrations())
    absorb_widgets()


def values() -> dict[str, Any]:
    return st.session_state[VALUES]


def absorb_widgets() -> None:
    """Copy live widget values into the store (widgets update session state before a run starts)."""
    ss = st.session_state
    store = ss[VALUES]
    for key in (*SIMPLE_FIELDS, HARDWARE_MODE, GPUS_OWNED):
        if key in ss:
            store[key] = None if key == "deployment" and ss[key] == AUTO else ss[key]
    counts = dict(store.get("gpu_counts") or {})
    for key in list(ss.keys()):
        if isinstance(key, str) and key.startswith(GPU_COUNT_PREFIX):
            counts[key.removeprefix(GPU_COUNT_PREFIX)] = ss[key]
    store["gpu_counts"] = counts


def seed_widget(key: str, value: Any) -> None:
    """Give a widget its stored value before it is drawn (so no `value=` is needed)."""
    if key not in st.session_state:
        st.session_state[key] = value


def set_values(updates: dict[str, Any]) -> None:
    """Change stored values from outside the form (a button, a scenario, the What-if page):
    the matching widget keys are dropped so the widgets pick the new values up when drawn next."""
    ss = st.session_state
    ss[VALUES].update(updates)
    for key in updates:
        ss.pop(key, None)
    if "gpu_counts" in updates:
        for key in [k for k in ss.keys() if isinstance(k, str) and k.startswith(GPU_COUNT_PREFIX)]:
            ss.pop(key, None)


def current_constraints() -> tuple[Constraints | None, ConstraintError | None]:
    try:
        return constraints_from_values(values()), None
    except ConstraintError as exc:
        return None, exc


# ---------------------------------------------------------------- URL

def query_from_constraints(c: Constraints) -> dict[str, str]:
    """URL parameters for the fields that differ from the defaults."""
    data, defaults = c.model_dump(mode="json"), DEFAULTS.model_dump(mode="json")
    out = {}
    for key, value in data.items():
        if value != defaults[key]:
            out[key] = _encode(key, value)
    return out


def values_from_query(params: dict[str, str], gpu_ids=None) -> tuple[dict[str, Any], str | None]:
    """Form values from URL parameters, read one by one: a bad parameter is left out and named in
    the notice, and the rest of the link still applies. `gpu_ids`: the catalogue's devices, so an
    unknown GPU is dropped here rather than hiding the plan behind an error."""
    params = {k: v for k, v in params.items() if k not in _FOREIGN_PARAMS}
    data: dict[str, Any] = {}
    problems: list[str] = []
    for key, text in params.items():
        try:
            value = _decode(key, text)
            if key == "gpus_available" and value and gpu_ids is not None:
                unknown = [g["gpu"] for g in value if g["gpu"] not in gpu_ids]
                value = [g for g in value if g["gpu"] in gpu_ids] or None
                if unknown:
                    problems.append(f"GPUs I own: {', '.join(repr(u[:40]) for u in unknown)} "
                                    "not in the catalogue (see the Catalogue page), so left out")
            parse_constraints({**data, key: value})
        except ConstraintError as exc:
            label = FIELD_LABELS.get(key, key[:40])
            problems.append(f"{label}: {for_people(str(exc))}".rstrip("."))
            continue
        data[key] = value
    try:
        constraints = parse_constraints(data)
    except ConstraintError as exc:  # fields fine alone but not together (a context shorter than a request)
        data.pop(exc.field or "", None)
        problems.append(f"{FIELD_LABELS.get(exc.field or '', 'A setting')}: {for_people(str(exc))}".rstrip("."))
        try:
            constraints = parse_constraints(data)
        except ConstraintError:
            constraints, data = DEFAULTS, {}
    if not problems:
        return values_from_constraints(constraints), None
    notice = ("Part of this link could not be used, so those settings keep their defaults; the rest of the link "
              "applies. " + "; ".join(problems) + ".")
    return values_from_constraints(constraints), notice


def sync_query_params() -> None:
    """Write the current (valid) constraints and the saved scenarios into the URL when they changed."""
    c, _ = current_constraints()
    if c is None:
        return
    wanted = query_from_constraints(c)
    saved = scenarios_param(st.session_state.get(SCENARIOS) or [])
    if saved:
        wanted[SCENARIOS_PARAM] = saved
    current = {k: v for k, v in st.query_params.to_dict().items() if k not in _FOREIGN_PARAMS}
    if current != wanted:
        st.query_params.from_dict(wanted)


def scenarios_param(scenarios: list[dict]) -> str:
    """Saved scenarios as one URL-safe text: each its name and the link parameters of its constraints."""
    entries = []
    for scenario in scenarios:
        try:
            query = query_from_constraints(constraints_from_values(scenario["values"]))
        except ConstraintError:
            continue
        entries.append({"name": scenario["name"], "query": query})
    if not entries:
        return ""
    raw = zlib.compress(json.dumps(entries, separators=(",", ":")).encode(), 9)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def scenarios_from_param(text: str, gpu_ids=None) -> tuple[list[dict], str | None]:
    """The scenarios a URL carries (at most MAX_SCENARIOS), and a notice when some could not be read."""
    if not text:
        return [], None
    try:
        inflate = zlib.decompressobj()
        raw = inflate.decompress(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), 65_536)  # capped: no zip bomb
        entries = json.loads(raw)
        assert isinstance(entries, list)
    except Exception:  # noqa: BLE001 - any damage to the text means the same to the reader
        return [], "The saved scenarios in this link could not be read, so none were restored."
    out, bad = [], 0
    for entry in entries[:MAX_SCENARIOS]:
        try:
            values, warning = values_from_query({str(k): str(v) for k, v in entry["query"].items()}, gpu_ids)
            name = str(entry["name"])[:200]
        except Exception:  # noqa: BLE001
            bad += 1
            continue
        bad += warning is not None
        out.append({"name": name, "values": values})
    return out, (f"{bad} saved scenario(s) in this link had settings that could not be used; they keep the defaults there."
                 if bad else None)


def _encode(key: str, value: Any) -> str:
    if value is None:
        return "none"
    if key == "gpus_available":
        return ",".join(f"{g['gpu']}:{g['count']}" for g in value)
    if key == "models":
        return ",".join(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        # No exponent: '+' in '5e+06' would read back as a space.
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def _decode(key: str, text: str) -> Any:
    if key not in Constraints.model_fields:
        raise ConstraintError(f"not a setting this planner knows ({key[:40]!r})", field=key)
    text = text.strip()
    if text.lower() == "none":
        return None
    if key == "gpus_available":
        out = []
        for part in filter(None, text.split(",")):
            gpu, _, count = part.partition(":")
            out.append({"gpu": gpu.strip(), "count": _number(key, count or "1", int)})
        return out
    if key == "models":
        return [m.strip() for m in text.split(",") if m.strip()]
    if key in BOOL_FIELDS:
        if text.lower() not in {"true", "false"}:
            raise ConstraintError(f"Field '{key}': must be true or false (got {text[:40]!r}).", field=key)
        return text.lower() == "true"
    if key in INT_FIELDS:
        return _number(key, text, int)
    if key in FLOAT_FIELDS:
        return _number(key, text, float)
    return text


def _number(key: str, text: str, kind: type) -> Any:
    try:
        value = float(text)
    except ValueError:
        raise ConstraintError(f"Field '{key}': {text[:40]!r} is not a number.", field=key) from None
    if not math.isfinite(value):
        raise ConstraintError(f"Field '{key}': must be a finite number (got {text[:40]!r}).", field=key)
    if kind is int:
        if not value.is_integer():
            raise ConstraintError(f"Field '{key}': must be a whole number (got {text[:40]!r}).", field=key)
        return int(value)
    return value



# ---------------------------------------------------------------- cached core calls

@st.cache_resource(show_spinner=False)
def base_catalog() -> Catalog:
    """The data files, validated once per process."""
    return load_catalog()


@st.cache_resource(show_spinner=False, max_entries=16)
def _catalog_with(custom_models_json: str) -> Catalog:
    models = [ModelSpec.model_validate(m) for m in json.loads(custom_models_json)]
    return base_catalog().with_models(models) if models else base_catalog()


def custom_models_json() -> str:
    return json.dumps(st.session_state.get(CUSTOM_MODELS, []), sort_keys=True)


def session_catalog() -> Catalog:
    """The catalogue with this session's uploaded models."""
    return _catalog_with(custom_models_json())


def add_custom_model(model: ModelSpec) -> None:
    kept = [m for m in st.session_state.get(CUSTOM_MODELS, []) if m["id"] != model.id]
    st.session_state[CUSTOM_MODELS] = [*kept, model.model_dump(mode="json")]


@st.cache_data(show_spinner=False, max_entries=512)
def _plan(constraints_json: str, custom_json: str, calibrations_json: str) -> Plan:
    catalog = _catalog_with(custom_json)
    calibrations = json.loads(calibrations_json) or None
    return recommend(Constraints.model_validate_json(constraints_json), catalog, calibrations)


def plan_for(c: Constraints) -> Plan:
    """The plan for these constraints with this session's catalogue, cached by their JSON."""
    calibrations = json.dumps(st.session_state.get(CALIBRATIONS) or [], sort_keys=True, default=str)
    return _plan(c.model_dump_json(), custom_models_json(), calibrations)
