"""Fine-tuning, when the plan has it: method, model, GPUs, memory, time and cost."""

from __future__ import annotations

from planner.report.canvas import Canvas
from planner.report.context import ReportData


def render(doc: Canvas, data: ReportData) -> None:
    if not data.plan.fine_tuning:
        return
    ft = data.plan.fine_tuning
    p, mem = ft["plan"], ft["plan"]["memory"]
    doc.heading("Fine-tuning")
    rows = [["Method", ft["method"]], ["Model", p["model_name"]],
            ["GPUs", f"{ft['gpus']} × {p['gpu_name']}" + (" (owned)" if ft.get("owned") else "")],
            ["Memory per GPU", f"{mem['total_per_gpu_gib']:.1f} of {mem['capacity_gib']:.0f} GiB (weights {mem['weights_gib']:.1f}, "
                               f"gradients {mem['gradients_gib']:.1f}, optimizer {mem['optimizer_gib']:.1f}, activations {mem['activations_gib']:.1f})"],
            ["Trainable parameters", f"{p['trainable_params'] / 1e6:,.1f} M"],
            ["Training", f"{p['tokens'] * p['epochs'] / 1e6:,.0f} M tokens, about {p['time_hours']:,.1f} h, ${p['cost_usd']:,.2f} rented"],
            ["GPUs needed per method", ", ".join(f"{m}: {n if n else 'does not fit'}" for m, n in ft["gpus_needed"].items())]]
    doc.table(["Item", "Value"], rows, (28, 72), size=8)
    doc.bullets((f["message"] for f in ft.get("findings", [])), size=8.5)
