"""Fine-tuning: full, LoRA and QLoRA side by side: memory per GPU, time, cost, and managed services.

The page reads no shared constraints, but a first visit straight to /finetune must still show the
app's navigation, so it runs inside the entry file like every page (`state.ensure_framed()`).
"""

import streamlit as st

from planner.charts.finetune import memory_figure, methods_frame, services_frame
from planner.finetune.planner import compare_methods, default_training_gpu, min_gpus_for
from planner.finetune.request import METHOD_NAMES, METHODS, TARGET_PRESETS
from planner.report.words import rule_title, usd_text
from ui import state
from ui.text import plain

PLOTLY_CONFIG = {"displaylogo": False, "displayModeBar": False}
DEFAULT_MODEL = "meta-llama/Llama-3.1-8B-Instruct"
SEQ_LENS = [512, 1024, 2048, 4096, 8192, 16384, 32768]
RANKS = [4, 8, 16, 32, 64, 128, 256]

state.ensure_framed()

st.title("Fine-tuning")
st.caption("Full fine-tuning (mixed-precision AdamW), LoRA and QLoRA (4-bit NF4 base) on the same GPUs and data. "
           "Memory per GPU from the ZeRO paper's byte counts and Korthikanti et al.'s activation formula; time from "
           "6 (full) or 4 (LoRA) × parameters × tokens at a published utilisation.")

catalog = state.session_catalog()
models = sorted(catalog.models, key=lambda m: catalog.models[m].name)
gpus = [g for g in catalog.gpus.values() if g.kind not in {"apple", "cpu"}]

# Open on the plan's model and hardware (again whenever the plan's pick changes); the user may then choose others.
gpu_ids = [g.id for g in gpus]
default_gpu = default_training_gpu(catalog).id
pick_model, pick_gpu, pick_count = None, default_gpu, 1
constraints, error = state.current_constraints()
if error is None:
    try:
        top = state.plan_for(constraints).recommendation
    except Exception:  # noqa: BLE001 - the page stands on its own without a plan
        top = None
    if top is not None:
        pick_model, pick_count = top.model, top.gpus
        pick_gpu = top.gpu if top.gpu in gpu_ids else default_gpu
if st.session_state.get("ft_seeded_for") != (pick_model, pick_gpu, pick_count):
    st.session_state["ft_seeded_for"] = (pick_model, pick_gpu, pick_count)
    st.session_state["ft_model"] = pick_model if pick_model in models else (DEFAULT_MODEL if DEFAULT_MODEL in models else models[0])
    st.session_state["ft_gpu"] = pick_gpu if pick_gpu in gpu_ids else gpu_ids[0]
    st.session_state["ft_gpus"] = int(pick_count)
if pick_model in catalog.models and st.session_state["ft_model"] == pick_model:
    st.caption(plain(f"Opened on the plan's model ({catalog.models[pick_model].name}) and hardware; choose others below."))

left, right = st.columns(2)
model_id = left.selectbox("Model", models, format_func=lambda m: catalog.models[m].name, key="ft_model")
gpu_id = right.selectbox("GPU", gpu_ids, format_func=lambda g: f"{catalog.gpus[g].name} ({catalog.gpus[g].memory_gib:.0f} GiB)",
                         key="ft_gpu")
cols = st.columns(4)
gpu_count = cols[0].number_input("GPUs", min_value=1, max_value=1024, step=1, key="ft_gpus")
seq_len = cols[1].select_slider("Sequence length (tokens)", SEQ_LENS, value=2048, key="ft_seq_len")
tokens_m = cols[2].number_input("Training set (M tokens)", min_value=0.001, max_value=1e7, value=10.0, key="ft_tokens_m")
epochs = cols[3].number_input("Epochs", min_value=0.1, max_value=100.0, value=1.0, step=0.5, key="ft_epochs")
with st.expander("LoRA and memory settings"):
    cols = st.columns(5)
    rank = cols[0].select_slider("LoRA rank", RANKS, value=16, key="ft_rank")
    targets = cols[1].selectbox("Target modules", list(TARGET_PRESETS), key="ft_targets")
    micro_batch = cols[2].number_input("Micro-batch", min_value=1, max_value=256, value=1, key="ft_micro_batch")
    checkpointing = cols[3].checkbox("Gradient checkpointing", value=True, key="ft_checkpointing")
    zero = cols[4].selectbox("Sharding", ["auto", 0, 1, 2, 3], key="ft_zero",
                             format_func=lambda z: "ZeRO-3 on several GPUs" if z == "auto" else f"ZeRO-{z}")
shown = st.multiselect("Methods", list(METHODS), default=list(METHODS), format_func=METHOD_NAMES.get, key="ft_methods")

zero_stage = (3 if gpu_count > 1 else 0) if zero == "auto" else int(zero)
options = dict(seq_len=seq_len, micro_batch=int(micro_batch), gradient_checkpointing=checkpointing,
               rank=int(rank), target_modules=targets)
plans = [p for p in compare_methods(catalog, model_id, gpu=gpu_id, gpus=int(gpu_count), zero_stage=zero_stage,
                                    tokens=tokens_m * 1e6, epochs=epochs, **options) if p.method in shown]
if not plans:
    st.info("Choose at least one method.")
    st.stop()
needed = {p.method: min_gpus_for(catalog, model_id, p.method, gpu_id, **options) for p in plans}

st.subheader(plain(f"{catalog.models[model_id].name} on {int(gpu_count)} × {catalog.gpus[gpu_id].name}"))
methods = methods_frame(plans, needed)
methods["cost_usd"] = methods["cost_usd"].map(usd_text)  # no cents from $100 up
st.dataframe(methods, hide_index=True, key="ft_methods_table", column_config={
    "method": "Method",
    "trainable_params": st.column_config.NumberColumn("Trainable parameters", format="localized"),
    "trainable_pct": st.column_config.NumberColumn("Trainable (%)", format="%.3f"),
    "weights_gib": st.column_config.NumberColumn("Weights (GiB)", format="%.1f"),
    "gradients_gib": st.column_config.NumberColumn("Gradients (GiB)", format="%.2f"),
    "optimizer_gib": st.column_config.NumberColumn("Optimizer (GiB)", format="%.2f"),
    "adapter_gib": st.column_config.NumberColumn("Adapter (GiB)", format="%.2f"),
    "activations_gib": st.column_config.NumberColumn("Activations (GiB)", format="%.2f"),
    "logits_gib": st.column_config.NumberColumn("Logits (GiB)", format="%.2f"),
    "overhead_gib": st.column_config.NumberColumn("CUDA context (GiB)", format="%.2f"),
    "total_per_gpu_gib": st.column_config.NumberColumn("Total per GPU (GiB)", format="%.1f"),
    "capacity_gib": st.column_config.NumberColumn("GPU memory (GiB)", format="%.0f"),
    "fits": st.column_config.CheckboxColumn("Fits"),
    "gpus": "GPUs",
    "gpus_needed": st.column_config.NumberColumn("GPUs needed (ZeRO-3)", help="Fewest of this GPU on which it fits"),
    "time_hours": st.column_config.NumberColumn("Time (h)", format="%.2f"),
    "cost_usd": st.column_config.TextColumn("Rented cost"),
    "adapter_size_mib": st.column_config.NumberColumn("Adapter file (MiB)", format="%.1f"),
})
st.plotly_chart(memory_figure(plans), key="ft_memory_chart", config=PLOTLY_CONFIG)

st.subheader("What it means")
seen = set()
for plan in plans:
    for f in plan.findings:
        if (f.rule, f.message) not in seen:
            seen.add((f.rule, f.message))
            icon = ":material/warning:" if f.effect == "warning" else ":material/info:"
            st.markdown(f"{icon} **{rule_title(f.rule)}**: {plain(f.message)}")

st.subheader("Managed fine-tuning services")
services = services_frame(plans)
if not services.empty:
    services["usd_total"] = services["usd_total"].map(usd_text)
st.dataframe(services, hide_index=True, key="ft_services_table", column_config={
    "method": "Method", "option": "Option",
    "same_model": st.column_config.CheckboxColumn("Same model", help="Unticked: a closed model's fine-tuning, for comparison"),
    "usd_total": st.column_config.TextColumn("Cost"),
    "usd_per_mtok": st.column_config.NumberColumn("$ per M training tokens", format="$%.2f"),
    "source": st.column_config.LinkColumn("Source"), "as_of": "As of",
})
st.caption("Service prices from data/finetune_services.csv; rent prices from data/gpu_prices.csv (cheapest listed). "
           "Utilisation and the QLoRA slowdown: data/finetune_assumptions.csv.")
