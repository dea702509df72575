"""The assumptions behind the cost: utilisation, power, PUE, amortisation, prices, load."""

from __future__ import annotations

from planner.charts import plan as charts
from planner.report.canvas import Canvas
from planner.report.context import ReportData


def render(doc: Canvas, data: ReportData) -> None:
    a = data.plan.assumptions
    doc.heading("Assumptions")
    rows = [
        ["Utilisation", f"{a.utilisation:.0%} of the month the GPUs are paid for (rented) or powered (owned)"],
        ["Power price", f"${a.power_usd_per_kwh:.4f} per kWh"],
        ["PUE", f"{a.pue:g} (data-centre power per unit of IT power)"],
        ["GPU power draw", f"{a.gpu_power_draw_fraction:.0%} of rated power"],
        ["Amortisation", f"{a.amortisation_months:g} months for purchased hardware"],
        ["Colocation", f"${a.colocation_usd_per_kw_month:,.2f} per kW of GPU power per month"],
        ["GPU price", f"${a.gpu_usd_per_hour:,.2f} per GPU-hour (yours)" if a.gpu_usd_per_hour is not None
         else "cheapest listed rental price per GPU-hour"],
    ]
    load = data.plan.load
    rows.append(["Load", f"{load.average_requests_per_s:.3f} requests/s average, {load.peak_requests_per_s:.3f} at peak; "
                         f"{charts.format_tokens(load.input_tokens_per_month + load.output_tokens_per_month)} tokens/month"])
    doc.table(None, rows, (22, 78), size=8, bold_first_col=True)
