"""Catalogue: every data table with its sources and dates, custom models, capability against price."""

import pandas as pd
import streamlit as st

from planner.catalog.staleness import STALE_AFTER_DAYS, age_days, stale_price_rows
from planner.catalog.user_models import models_from_configs
from planner.charts import plan as charts
from planner.errors import CatalogError, ConstraintError
from planner.plan.constraints import parse_constraints
from planner.report.words import for_people
from ui import render, state
from ui.text import plain

state.ensure_framed()

st.title("Catalogue")
catalog = state.session_catalog()


def _frame(records, columns):
    """Records as a table; list cells joined so they show and filter as text; prices older than
    STALE_AFTER_DAYS marked in an `age` column."""
    rows = [{k: "; ".join(v) if isinstance(v, tuple) else v for k, v in r.model_dump().items()} for r in records]
    if "age" in columns:
        for row in rows:
            days = age_days(row["as_of"])
            row["age"] = f"{days} days" + (" — stale" if days > STALE_AFTER_DAYS else "")
    df = pd.DataFrame(rows)
    return df[[c for c in columns if c in df.columns]]


def _table(name, df):
    needle = st.text_input(f"Filter {name}", key=f"filter_{name}", placeholder="Type to filter any column")
    if needle:
        mask = df.astype(str).apply(lambda col: col.str.contains(needle, case=False, regex=False)).any(axis=1)
        df = df[mask]
    st.caption(f"{len(df)} rows · click a column header to sort")
    config = {c: _header(c) for c in df.columns}
    config.update({"source": st.column_config.TextColumn("Source", width="medium"),
                   "notes": st.column_config.TextColumn("Notes", width="medium")})
    st.dataframe(df, hide_index=True, key=f"table_{name}", column_config=config)


# Units spelled out in headers; the rest of a column name in words ('memory_bandwidth_gb_s' -> 'Memory bandwidth (GB/s)').
_UNITS = (("_usd_per_mtok", " ($ per million tokens)"), ("_gb_s", " (GB/s)"), ("_gib", " (GiB)"), ("_tflops", " (TFLOPS)"),
          ("_tops", " (TOPS)"), ("_tokens", " (tokens)"), ("_b", " (billion)"), ("_w", " (W)"))
_HEADERS = {"id": "Id", "as_of": "As of", "usd": "Price ($)", "price_kind": "Price kind", "kv_heads": "KV heads",
            "usd_per_mtok_input": "Input ($ per million tokens)", "usd_per_mtok_output": "Output ($ per million tokens)",
            "fp16_tflops_dense": "FP16 dense (TFLOPS)", "fp8_tflops_dense": "FP8 dense (TFLOPS)",
            "int8_tops_dense": "INT8 dense (TOPS)", "fp16_tflops_sustained": "FP16 sustained (TFLOPS)",
            "fp8_tflops_sustained": "FP8 sustained (TFLOPS)", "memory_bandwidth_sustained_gb_s": "Sustained bandwidth (GB/s)",
            "kv_cache_dtypes": "KV-cache formats", "docs_url": "Documentation", "gpu": "GPU", "cpu_offload": "CPU offload"}


def _header(column: str) -> str:
    if column in _HEADERS:
        return _HEADERS[column]
    unit = ""
    for suffix, words in _UNITS:
        if column.endswith(suffix):
            column, unit = column.removesuffix(suffix), words
            break
    words = column.replace("_", " ")
    return words[:1].upper() + words[1:] + unit


def _add_uploaded_model():
    uploaded = st.session_state.get("hf_config") or []
    uploaded = uploaded if isinstance(uploaded, list) else [uploaded]
    if not uploaded:
        st.session_state["hf_message"] = ("error", "Choose one or more config.json files first.")
        return
    files = [(u.name, u.getvalue()) for u in uploaded]
    model_id = (st.session_state.get("hf_model_id") or "").strip() or None
    if model_id is None and len(files) == 1 and files[0][0] == "config.json":
        model_id = "custom/config"  # a lone config.json with no id given joins as custom/config
    try:
        specs = models_from_configs(files, model_id if len(files) == 1 else None)  # as `python -m planner add-model`
    except CatalogError as exc:
        st.session_state["hf_message"] = ("error", f"Nothing added: {exc}")
        return
    for spec in specs:
        state.add_custom_model(spec)
    st.session_state["hf_message"] = ("success", "Added " + "; ".join(
        f"{s.id}: {s.params_total_b:g} B parameters ({s.params_active_b:g} B active), {s.layers} layers, "
        f"{s.max_context_tokens:,} tokens of context" + (", hybrid linear attention" if s.is_hybrid else "") for s in specs) + ".")


SOURCE = ["source", "as_of", "notes"]
_stale = stale_price_rows(catalog)
if _stale:
    oldest = _stale[0]
    what = catalog.gpus[oldest["id"]].name if oldest["id"] in catalog.gpus else oldest["id"]
    st.warning(plain(f"{len(_stale)} prices are older than {STALE_AFTER_DAYS} days (marked stale in the age column); the oldest "
                     f"is {what} at {oldest['provider']}, {oldest['as_of']}. Set your own GPU price on the What-if page, "
                     "or ask the operator to refresh the price data."))
tabs = st.tabs(["Models", "GPUs", "GPU prices", "Quantizations", "Engines", "API prices"])
with tabs[0]:
    _table("models", _frame(catalog.models.values(), [
        "id", "name", "family", "params_total_b", "params_active_b", "layers", "kv_heads", "head_dim", "max_context_tokens",
        "license", "commercial_use", "strengths", "capability_score", "capability_benchmark", "aliases", *SOURCE]))
with tabs[1]:
    _table("gpus", _frame(catalog.gpus.values(), [
        "id", "name", "vendor", "kind", "memory_gib", "memory_bandwidth_gb_s", "fp16_tflops_dense", "fp8_tflops_dense",
        "int8_tops_dense", "fp16_tflops_sustained", "fp8_tflops_sustained", "sustained_source", "memory_bandwidth_sustained_gb_s",
        "bandwidth_source", "power_w", "interconnect",
        "compute_capability", "compute_capability_source", *SOURCE]))
with tabs[2]:
    _table("gpu_prices", _frame(catalog.gpu_prices, ["gpu", "price_kind", "usd", "provider", "age", *SOURCE]))
with tabs[3]:
    _table("quants", _frame(catalog.quants.values(), [
        "id", "name", "format", "bits_per_weight", "compute_dtype", "engines", "quality_metric", "quality_value",
        "quality_model", "bits_source", *SOURCE]))
with tabs[4]:
    _table("engines", _frame(catalog.engines.values(), [
        "id", "name", "quants", "hardware", "tensor_parallel", "pipeline_parallel", "cpu_offload", "continuous_batching",
        "overhead_gib", "kv_cache_dtypes", "license", "docs_url", *SOURCE]))
with tabs[5]:
    _table("apis", _frame(catalog.apis.values(), [
        "id", "provider", "model", "open_weights", "usd_per_mtok_input", "usd_per_mtok_output", "context_tokens",
        "capability_score", "capability_benchmark", "age", *SOURCE]))

st.plotly_chart(charts.capability_cost_figure(catalog), key="capability_chart", config=render.PLOTLY_CONFIG)

st.header("Add a model from its config.json")
st.write("Upload a Hugging Face `config.json`; the model joins this session's catalogue and every plan considers it.")
upload_cols = st.columns([2, 2, 1], vertical_alignment="bottom")
upload_cols[0].file_uploader("config.json (one or several)", type=["json"], key="hf_config", accept_multiple_files=True)
upload_cols[1].text_input("Model id", key="hf_model_id", placeholder="your-org/your-model (default: from the file name)")
# A callback runs before the page does, so the tables above already list the new model.
upload_cols[2].button("Add to my catalogue", key="hf_add", type="primary", on_click=_add_uploaded_model)
kind, message = st.session_state.pop("hf_message", (None, None))
if kind == "error":
    st.error(plain(message), icon=":material/error:")
elif kind == "success":
    st.success(plain(message))

custom = st.session_state.get(state.CUSTOM_MODELS, [])
if custom:
    st.subheader("Your models")
    base, error = state.current_constraints()
    for m in custom:
        line = f"**{plain(m['id'])}** · {m['params_total_b']:g} B parameters"
        if error is None:
            try:
                plan = state.plan_for(parse_constraints({**base.model_dump(mode="json"), "models": [m["id"]]}))
            except ConstraintError as exc:
                line += f" · {plain(for_people(str(exc)))}"
            else:
                if plan.recommendation:
                    top = plan.recommendation
                    line += plain(f" · with your constraints: {top.quant} on {render.gpus_text(top)} × {top.replicas}, "
                                  f"{render.usd(top.cost.usd_per_month)}/month")
                elif plan.ruled_out:
                    line += plain(f" · ruled out: {plan.ruled_out[0].reason}")
        st.markdown(line)
    st.caption("To plan with only these, choose them under Advanced → Only consider these models on the Plan page.")
