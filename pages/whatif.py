"""What-if: move volume and cost assumptions and watch the cost curves and the pick respond.

It opens at the plan's own volume and prices. Rented GPUs are varied by their price per GPU-hour and
utilisation; GPUs you own or buy by amortisation and power price (an owned GPU has no hourly rent).
"""

import pandas as pd
import streamlit as st

from planner.charts import plan as charts
from planner.errors import ConstraintError
from planner.plan import whatif
from planner.report.words import for_people, usd_text
from ui import render, state
from ui.text import plain

state.ensure_framed()


def _label(plan) -> str:
    """The pick in people's words (model, format, engine, devices by name)."""
    top = plan.recommendation
    if top is None:
        return "no self-hosted option"
    return f"{top.model_name} · {top.quant} · {top.engine} on {top.gpus}× {top.gpu_name}"


def _changes(samples) -> list[dict]:
    """Where the pick changes between sampled volumes, in people's words (planner.plan.whatif finds them)."""
    out = []
    for change in whatif.pick_changes(samples):
        low, high = change["bracket_tokens_per_month"]
        below = next(p for v, p in samples if v == low)
        above = next(p for v, p in samples if v == high)
        short = above.recommendation.model_name if above.recommendation else "no self-hosted option"
        out.append({**change, "label": f"→ {short}",
                    "text": f"Between {charts.format_tokens(low)} and {charts.format_tokens(high)} tokens/month the pick "
                            f"changes from {_label(below)} to {_label(above)}: {change['reason']}"})
    return out


def _options(values, key, options):
    """The slider's options, with the stored value added when it came from elsewhere (a link)."""
    stored = values.get(key)
    state.seed_widget(key, stored)
    if stored in options:
        return list(options)
    return [None, *sorted(o for o in [*options, stored] if o is not None)] if None in options else sorted([*options, stored])


SHORT_VERDICT = {"self-host": "Self-host", "api": "Paid API", "either": "Either"}

st.title("What if…")
base, error = state.current_constraints()
if error is not None:
    st.error(plain(f"The constraints on the Plan page need fixing first: {for_people(str(error))}"), icon=":material/error:")
    st.page_link("pages/plan.py", label="Fix them on the Plan page", icon=":material/assignment:")
    st.stop()

values = state.values()
catalog = state.base_catalog()
own_volume = whatif.tokens_per_month_for(base)
# The plan's own volume is one of the options, so the page opens exactly at the plan.
volume_options = sorted({*whatif.VOLUME_OPTIONS_TOKENS_PER_MONTH, own_volume} - {0.0}) if own_volume > 0 else \
    list(whatif.VOLUME_OPTIONS_TOKENS_PER_MONTH)
volume_key, seeded_key = "whatif_volume", "whatif_volume_seeded_at"
if st.session_state.get(seeded_key) != own_volume or st.session_state.get(volume_key) not in volume_options:
    st.session_state[volume_key] = own_volume if own_volume > 0 else whatif.nearest_option(own_volume)
    st.session_state[seeded_key] = own_volume

top_row = st.columns([3, 2])
with top_row[0]:
    volume = st.select_slider(
        "Monthly volume (tokens, input + output; log scale)", volume_options, key=volume_key,
        format_func=lambda v: f"{charts.format_tokens(v)} tokens/month" + (" (your plan)" if v == own_volume else ""),
        help="From hobby use to a large product. Requests a day follow at your tokens per request.")
    st.caption(f"≈ {whatif.requests_per_day_for(base, volume):,.0f} requests a day at "
               f"{whatif.tokens_per_request(base):,} tokens per request (your plan: {base.requests_per_day:,.0f}).")

# The device the slider prices: the plan's pick at listed prices (a price applied to every device would move it).
top = state.plan_for(base.model_copy(update={"gpu_usd_per_hour": None, "gpu_price_for": None})).recommendation
owned = top is not None and top.cost.mode == "own"
default_amortisation = catalog.assumption("amortisation_months")
default_power = catalog.assumption("power_usd_per_kwh")
sliders = st.columns(2)
if owned:
    # Hardware you own or buy: its cost is the purchase written off over months, plus power.
    st.caption(plain(f"The plan runs on GPUs you {'own' if base.gpus_available else 'buy'} ({top.gpu_name}), so their cost "
                     "is the purchase spread over the amortisation period, plus power."))
    with sliders[0]:
        st.select_slider("Amortisation (months)", _options(values, "amortisation_months", (None, 12.0, 24.0, 36.0, 48.0, 60.0, 72.0)),
                         key="amortisation_months",
                         format_func=lambda v: f"catalogue ({default_amortisation:g} months)" if v is None else f"{v:g} months",
                         help="The period over which the purchase is written off.")
    with sliders[1]:
        st.select_slider("Power price ($/kWh)", _options(values, "power_usd_per_kwh", (None, 0.0, 0.05, 0.08, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5)),
                         key="power_usd_per_kwh",
                         format_func=lambda v: f"catalogue (${default_power:.3g})" if v is None else f"${v:g}/kWh",
                         help="Times the data centre's PUE.")
else:
    # The price slider re-prices the device the plan picked; other devices keep their listed prices,
    # so a higher price can move the pick to another GPU.
    priced_gpu = values.get("gpu_price_for") or (top.gpu if top else None)
    priced_name = catalog.gpus[priced_gpu].name if priced_gpu in catalog.gpus else "rented GPUs"
    with sliders[0]:
        listed = f"listed (${top.cost.usd_per_gpu_hour:.2f})" if top is not None and top.cost.usd_per_gpu_hour else "listed"
        st.select_slider(plain(f"GPU price ($ per GPU-hour, {priced_name})"),
                         _options(values, "gpu_usd_per_hour", (None, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0)),
                         key="gpu_usd_per_hour", format_func=lambda v: listed if v is None else f"${v:g}/h",
                         help="Your price per hour for the GPU the plan picked; 'listed' uses its cheapest listed rental.")
    with sliders[1]:
        st.select_slider("Utilisation (share of hours paid)", _options(values, "utilisation", tuple(round(0.05 * i, 2) for i in range(2, 21))),
                         key="utilisation", format_func=lambda v: f"{v:.0%}",
                         help="Rented GPUs are paid for this share of the month.")
    state.absorb_widgets()
    if state.values().get("gpu_usd_per_hour") is not None and not state.values().get("gpu_price_for") and priced_gpu:
        state.set_values({"gpu_price_for": priced_gpu})
state.absorb_widgets()

try:
    c = state.constraints_from_values(state.values())
    plan = state.plan_for(whatif.with_changes(c, tokens_per_month=volume))
    samples = whatif.sweep(c, state.plan_for)
except ConstraintError as exc:
    st.error(plain(for_people(str(exc))))
    st.stop()

at_own = volume == own_volume
changes = _changes(samples)
fig = charts.cost_figure(plan, pick_changes=changes, plan_points=whatif.plan_points(samples),
                         volume_label="this plan" if at_own else "chosen volume")
st.plotly_chart(fig, key="whatif_cost_chart", config=render.PLOTLY_CONFIG)
pick = plan.recommendation
with st.container(border=True, key="whatif_pick"):
    st.caption(f"At {charts.format_tokens(volume)} tokens/month" + (" (your plan's volume)" if at_own else ""))
    if pick is None:
        st.markdown("**No self-hosted configuration fits.**")
    else:
        st.markdown(f"**{plain(_label(plan))}**, {pick.replicas} replica{'s' if pick.replicas != 1 else ''}: "
                    f"**{plain(usd_text(pick.cost.usd_per_month))}/month** · verdict: {render.VERDICT_TEXT[plan.verdict]}")
    for point in charts.break_even_points(plan):
        st.caption(plain(point["text"]))
for change in changes:
    st.info(plain(change["text"]), icon=":material/swap_horiz:")
if not changes:
    st.caption("The top pick is the same at every sampled volume from 100k to 1T tokens/month.")
if not at_own and st.button("Use this volume in my plan", key="whatif_apply_volume"):
    state.set_values({"requests_per_day": int(round(whatif.requests_per_day_for(c, volume)))})
    st.success("Requests a day updated on the Plan page.")
st.subheader("The recommender at one volume a decade")
rows = [{"tokens_per_month": charts.format_tokens(v), "requests_per_day": f"{round(p.constraints['requests_per_day']):,}",
         "pick": _label(p), "replicas": p.recommendation.replicas if p.recommendation else None,
         "usd_per_month": usd_text(p.recommendation.cost.usd_per_month) if p.recommendation else "—",
         "verdict": SHORT_VERDICT[p.verdict]} for v, p in samples]
st.dataframe(pd.DataFrame(rows), hide_index=True, key="whatif_sweep_table", width="stretch", column_config={
    "tokens_per_month": "Volume (tokens/month)", "requests_per_day": "Requests/day",
    "pick": st.column_config.TextColumn("Recommended", width="large"), "replicas": "Replicas",
    "usd_per_month": "Cost ($/month)", "verdict": st.column_config.TextColumn("Verdict", width="small")})
