"""The constraints form: one widget per field, seeded from the session store, with each
validation message drawn directly under the widget it concerns."""

from __future__ import annotations

from typing import Any

import streamlit as st

from planner.catalog.loading import Catalog
from planner.errors import ConstraintError, LookupFailed
from planner.plan.constraints import DEPLOYMENTS, FINE_TUNING, PRIORITIES, PRIVACY_LEVELS, TASKS
from planner.report.words import FIELD_LABELS, for_people
from ui import state
from ui.text import plain

PRIVACY_LABELS = {
    "any": "Any: paid APIs allowed",
    "no-third-party-api": "No third-party API",
    "on-prem": "On-premises (own hardware)",
    "offline": "Offline / air-gapped",
}
FINE_TUNING_LABELS = {"none": "None", "lora": "LoRA", "qlora": "QLoRA", "full": "Full fine-tune"}
PRIORITY_LABELS = {"quality": "Quality: the most capable model that fits", "balanced": "Balanced: the knee of capability vs cost",
                   "cost": "Cost: the cheapest that meets the minimum"}
DEPLOYMENT_LABELS = {"auto": "Auto: from the GPUs and task", "datacenter": "Datacenter service", "office": "Office / desk-side",
                     "edge": "Edge device"}
KV_LABELS = {"auto": "Auto (engine default)", "fp16": "FP16", "fp8": "FP8", "q8_0": "Q8_0 (llama.cpp)"}
GENERAL = "_general"
# Where a message for each field goes: the widget slot it is drawn under.
_SLOT_OF = {"gpus_available": state.GPUS_OWNED}


def constraints_form(catalog: Catalog, error: ConstraintError | None = None, where=None) -> None:
    """Draw the form (in `where`, default the sidebar), with `error` under the widget it concerns.

    The values come from the session store (which already holds what the user just typed), so a
    page can validate and draw its results first and the form after: the plan then reaches the
    browser before two dozen widgets do.
    """
    where = where or st.sidebar
    values = state.values()
    slots: dict[str, Any] = {}
    with where:
        st.header("Your constraints")
        slots[GENERAL] = st.empty()
        _text("name", "Plan name", values, slots)

        st.subheader("Workload")
        _number("requests_per_day", "Requests a day", values, slots, step=1_000,
                help="Average requests per day across all users.")
        cols = st.columns(2)
        with cols[0]:
            _number("input_tokens", "Input tokens / request", values, slots, step=100)
        with cols[1]:
            _number("output_tokens", "Output tokens / request", values, slots, step=50)
        _number("peak_to_average", "Peak / average traffic (×)", values, slots, step=0.5,
                help="How much busier the busiest hour is than the average; replicas are sized for the peak.")
        _number("context_tokens", "Context length (tokens)", values, slots, step=1024,
                placeholder="auto: input + output",
                help="Tokens one sequence must hold. Leave empty (auto) for one request's input + output.")

        st.subheader("Latency targets")
        cols = st.columns(2)
        with cols[0]:
            _number("max_ttft_s", "Max time to first token (s)", values, slots, step=0.25,
                    placeholder="no target", help="Leave empty for no target.")
        with cols[1]:
            _number("min_tokens_per_s", "Min tokens/s per user", values, slots, step=5.0,
                    placeholder="no target", help="Leave empty for no target.")

        st.subheader("Policy")
        _select("privacy", "Privacy", values, slots, PRIVACY_LEVELS, PRIVACY_LABELS)
        _select("task", "Task", values, slots, TASKS)
        _select("fine_tuning", "Fine-tuning", values, slots, FINE_TUNING, FINE_TUNING_LABELS)
        if st.session_state.get("fine_tuning", values.get("fine_tuning")) != "none":
            cols = st.columns(2)
            with cols[0]:
                _number("fine_tuning_tokens", "Training tokens", values, slots, step=1e7, format="%.0f",
                        help="Tokens in the fine-tuning data set (one epoch).")
            with cols[1]:
                _number("fine_tuning_epochs", "Epochs", values, slots, step=1.0)
        state.seed_widget("commercial_use", values["commercial_use"])
        st.toggle("Commercial use", key="commercial_use")
        slots["commercial_use"] = st.empty()

        st.subheader("Objective")
        _select("priority", "Priority", values, slots, PRIORITIES, PRIORITY_LABELS)
        cols = st.columns(2)
        with cols[0]:
            _number("min_capability", "Min capability", values, slots, step=1.0, placeholder="no minimum",
                    help="On the task's benchmark (e.g. GPQA Diamond % for reasoning, LMArena Elo for chat). "
                    "Leave empty for no minimum.")
        with cols[1]:
            _number("min_replicas", "Min replicas", values, slots, step=1, placeholder="auto",
                    help="Leave empty (auto): 2 for a datacenter service of 1,000+ requests a day, else 1.")
        _select("deployment", "Deployment", values, slots, (state.AUTO, *DEPLOYMENTS), DEPLOYMENT_LABELS)
        for key, label in (("needs_max_capability", "Maximum capability needed"), ("rapid_development", "Rapid development"),
                           ("embedded_in_product", "Model ships in our product")):
            state.seed_widget(key, values.get(key, False))
            st.toggle(label, key=key)
            slots[key] = st.empty()

        st.subheader("Hardware and budget")
        _hardware(catalog, values, slots)
        _number("budget_usd_per_month", "Budget ($/month)", values, slots, step=100.0,
                placeholder="no limit", format="%.0f", help="Leave empty for no limit.")

        with st.expander("Advanced"):
            _models(catalog, values, slots)
            _select("kv_cache_dtype", "KV-cache precision", values, slots, ("auto", "fp16", "fp8", "q8_0"), KV_LABELS)
            cols = st.columns(2)
            with cols[0]:
                _number("max_input_tokens", "Longest prompt (tokens)", values, slots, step=1, placeholder="4× average",
                        help="The longest request the service must accept; empty: 4× the average prompt.")
            with cols[1]:
                _number("max_output_tokens", "Longest answer (tokens)", values, slots, step=1, placeholder="4× average",
                        help="Empty: 4× the average answer.")
            _number("expected_reasoning_tokens", "Hidden reasoning tokens per request", values, slots, step=100,
                    placeholder="published figure per model",
                    help="For models run in a reasoning mode; empty: each model's published figure (data/reasoning_tokens.csv).")
            state.seed_widget("allow_self_quantization", values.get("allow_self_quantization", False))
            st.toggle("We quantize checkpoints ourselves", key="allow_self_quantization",
                      help="Off: only formats somebody published (or an engine makes on load) are planned.")
            slots["allow_self_quantization"] = st.empty()
            st.caption("GPU price, utilisation, amortisation and power price are set on the What-if page.")
    if error is not None:
        show_error(error, slots)


def show_error(exc: ConstraintError, slots: dict[str, Any]) -> None:
    field = _SLOT_OF.get(exc.field or "", exc.field)
    slot = slots.get(field)
    if slot is None:
        slot = slots[GENERAL]
        message = f"{FIELD_LABELS.get(exc.field or '', 'Constraints')}: {for_people(str(exc))}"
    else:
        message = for_people(str(exc))
    slot.error(plain(message), icon=":material/error:")


def _number(key: str, label: str, values: dict, slots: dict, **kwargs) -> None:
    """A number field whose default is empty (`value=None`): emptying it keeps it empty (Streamlit would
    otherwise put min_value back), which an optional field reads as 'no limit / auto' and a required
    one answers with a message under the field. No min/max on the widget: Streamlit would silently
    reset a value outside them, so `Constraints` checks the range and the message names the field
    while the value typed stays. The value itself comes from the store."""
    state.seed_widget(key, values.get(key))
    st.number_input(label, key=key, value=None, **kwargs)
    slots[key] = st.empty()


def _text(key: str, label: str, values: dict, slots: dict) -> None:
    state.seed_widget(key, values.get(key))
    st.text_input(label, key=key, max_chars=200)
    slots[key] = st.empty()


def _select(key: str, label: str, values: dict, slots: dict, options, labels: dict | None = None) -> None:
    stored = values.get(key)
    state.seed_widget(key, state.AUTO if stored is None and state.AUTO in options else stored)
    st.selectbox(label, options, key=key, format_func=(labels or {}).get if labels else str)
    slots[key] = st.empty()


def _hardware(catalog: Catalog, values: dict, slots: dict) -> None:
    state.seed_widget(state.HARDWARE_MODE, values.get(state.HARDWARE_MODE, "rent"))
    # On-premises and offline plans never rent: without GPUs of your own, the planner buys them.
    privacy = st.session_state.get("privacy", values.get("privacy"))
    new_gpus = "Buy GPUs (the planner picks)" if privacy in ("on-prem", "offline") else "Rent in the cloud"
    mode = st.radio("GPUs", ("rent", "own"), key=state.HARDWARE_MODE, horizontal=True,
                    format_func={"rent": new_gpus, "own": "Use GPUs I own"}.get)
    slots[state.GPUS_OWNED] = st.empty()
    if mode == "own":
        owned = [g for g in values.get(state.GPUS_OWNED) or [] if g in catalog.gpus]
        state.seed_widget(state.GPUS_OWNED, owned)
        chosen = st.multiselect("GPUs I own", list(catalog.gpus), key=state.GPUS_OWNED,
                                format_func=lambda g: catalog.gpus[g].name, placeholder="Choose the GPU models you have")
        counts = values.get("gpu_counts") or {}
        for gpu_id in chosen:
            key = state.GPU_COUNT_PREFIX + gpu_id
            state.seed_widget(key, int(counts.get(gpu_id, 1)))
            st.number_input(f"How many {catalog.gpus[gpu_id].name}", key=key, step=1)
        slots[state.GPUS_OWNED] = st.empty()
        if not chosen:
            slots[state.GPUS_OWNED].info("Choose the GPUs you own. Until you do, the plan shows "
                                         + ("GPUs to buy." if privacy in ("on-prem", "offline") else "rented GPUs."))


def _models(catalog: Catalog, values: dict, slots: dict) -> None:
    stored, unknown = [], []
    for key in values.get("models") or []:
        try:
            stored.append(catalog.model(key).id)
        except LookupFailed:
            unknown.append(key)
    if "models" not in st.session_state:
        st.session_state["models"] = stored
    st.multiselect("Only consider these models", list(catalog.models), key="models",
                   format_func=lambda m: catalog.models[m].name, placeholder="All models in the catalogue")
    slots["models"] = st.empty()
    if unknown:
        slots["models"].warning(plain(f"Not in the catalogue, so left out: {', '.join(unknown)}."))
