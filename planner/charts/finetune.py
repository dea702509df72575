"""Tables and plotly figures for fine-tuning plans (the Fine-tuning page and, later, the PDF).

Memory in GiB per GPU, time in hours, money in US dollars. Nothing here imports streamlit.
"""

from __future__ import annotations

import html

import pandas as pd
import plotly.graph_objects as go

from planner.finetune.planner import FineTunePlan
from planner.finetune.request import METHOD_NAMES

MEMORY_PARTS = ("weights_gib", "gradients_gib", "optimizer_gib", "adapter_gib", "activations_gib", "logits_gib",
                "overhead_gib")
PART_LABELS = {"weights_gib": "Weights", "gradients_gib": "Gradients", "optimizer_gib": "Optimizer states",
               "adapter_gib": "LoRA adapter", "activations_gib": "Activations", "logits_gib": "Logits (loss)",
               "overhead_gib": "CUDA context"}
PART_COLOURS = {"weights_gib": "#4C78A8", "gradients_gib": "#F58518", "optimizer_gib": "#E45756",
                "adapter_gib": "#72B7B2", "activations_gib": "#54A24B", "logits_gib": "#B279A2",
                "overhead_gib": "#9D9D9D"}


def methods_frame(plans: list[FineTunePlan], gpus_needed: dict[str, int | None] | None = None) -> pd.DataFrame:
    """One row per plan: trainable parameters, memory per GPU by part, fit, GPUs needed, time and cost."""
    rows = []
    for p in plans:
        m = p.memory
        rows.append({
            "method": METHOD_NAMES[p.method],
            "trainable_params": p.trainable_params,
            "trainable_pct": p.trainable_fraction * 100,
            **{part: getattr(m, part) for part in MEMORY_PARTS},
            "total_per_gpu_gib": m.total_per_gpu_gib,
            "capacity_gib": m.capacity_gib,
            "fits": m.fits,
            "gpus": p.gpus,
            "gpus_needed": (gpus_needed or {}).get(p.method),
            "time_hours": p.time_hours,
            "cost_usd": p.cost_usd,
            "adapter_size_mib": p.adapter_size_mib,
        })
    return pd.DataFrame(rows)


def services_frame(plans: list[FineTunePlan]) -> pd.DataFrame:
    """Managed services and self-run cost per method, for the same training tokens."""
    rows = []
    for p in plans:
        if p.cost_usd is not None:
            rows.append({"method": METHOD_NAMES[p.method], "option": f"Rent {p.gpus} × {p.gpu_name} ({p.price_provider})",
                         "same_model": True, "usd_total": p.cost_usd, "usd_per_mtok": None, "source": "data/gpu_prices.csv",
                         "as_of": None})
        for q in p.services:
            rows.append({"method": METHOD_NAMES[p.method], "option": f"{q.provider}: {q.service}", "same_model": q.same_model,
                         "usd_total": q.usd_total, "usd_per_mtok": q.usd_per_mtok, "source": q.source, "as_of": q.as_of})
    return pd.DataFrame(rows, columns=["method", "option", "same_model", "usd_total", "usd_per_mtok", "source", "as_of"])


def memory_figure(plans: list[FineTunePlan]) -> go.Figure:
    """Stacked bars of memory per GPU for each method, with the GPU's capacity marked."""
    fig = go.Figure()
    # The method alone: the page's heading names the GPUs, and short labels stay level on a phone.
    labels = [html.escape(METHOD_NAMES[p.method]) for p in plans]
    for part in MEMORY_PARTS:
        fig.add_bar(x=labels, y=[getattr(p.memory, part) for p in plans], name=PART_LABELS[part],
                    marker_color=PART_COLOURS[part],
                    hovertemplate="%{x}<br>" + PART_LABELS[part] + ": %{y:.2f} GiB<extra></extra>")
    fig.add_scatter(x=labels, y=[p.memory.capacity_gib for p in plans], mode="markers", name="GPU memory",
                    marker={"symbol": "line-ew-open", "size": 44, "color": "#D62728", "line": {"width": 3, "color": "#D62728"}},
                    hovertemplate="%{x}<br>GPU memory: %{y:.0f} GiB<extra></extra>")
    gpus = f"{plans[0].gpus}× {plans[0].gpu_name.removeprefix('NVIDIA ')}" if plans else ""
    fig.update_layout(barmode="stack", title="Memory per GPU by method", yaxis_title="Memory per GPU (GiB)",
                      xaxis_title=html.escape(f"Method, on {gpus}") if gpus else "Method", legend_title_text="Component",
                      template="plotly_white",
                      margin={"l": 60, "r": 20, "t": 60, "b": 60}, legend={"orientation": "h", "y": -0.25, "x": 0})
    return fig
