"""What-if: move volume and cost assumptions and watch the cost curves and the pick respond."""

import pandas as pd
import streamlit as st

from planner.charts import plan as charts
from planner.errors import ConstraintError
from planner.plan import whatif
from ui import render, state

state.ensure_framed()


def _picked_gpu(c) -> str | None:
    """The GPU of the plan at these constraints (before any price override)."""
    top = state.plan_for(c.model_copy(update={"gpu_usd_per_hour": None, "gpu_price_for": None})).recommendation
    return top.gpu if top else None


st.title("What if…")
base, error = state.current_constraints()
if error is not None:
    st.error(f"The constraints on the Plan page are invalid, so there is nothing to vary. {error}")
    st.page_link("pages/plan.py", label="Fix them on the Plan page", icon=":material/assignment:")
else:
    values = state.values()
    default_amortisation = state.base_catalog().assumption("amortisation_months")
    default_power = state.base_catalog().assumption("power_usd_per_kwh")
    volume_key = "whatif_volume"
    if volume_key not in st.session_state:
        st.session_state[volume_key] = whatif.nearest_option(whatif.tokens_per_month_for(base))

    def _options(key, options):
        """The slider's options, with the stored value added when it came from elsewhere (a link)."""
        stored = values.get(key)
        state.seed_widget(key, stored)
        if stored in options:
            return list(options)
        return [None, *sorted(o for o in [*options, stored] if o is not None)] if None in options else sorted([*options, stored])

    top_row = st.columns([3, 2])
    with top_row[0]:
        volume = st.select_slider(
            "Monthly volume (tokens, input + output; log scale)", whatif.VOLUME_OPTIONS_TOKENS_PER_MONTH, key=volume_key,
            format_func=lambda v: f"{charts.format_tokens(v)} tokens/month",
            help="From hobby use to a large product. Requests a day follow at your tokens per request.")
        st.caption(f"≈ {whatif.requests_per_day_for(base, volume):,.0f} requests a day at "
                   f"{whatif.tokens_per_request(base):,} tokens per request (your plan: {base.requests_per_day:,.0f}).")
    # The price slider re-prices the device the plan picked; other devices keep their listed prices,
    # so a higher price can move the pick to another GPU.
    priced_gpu = values.get("gpu_price_for") or _picked_gpu(whatif.with_changes(base, tokens_per_month=volume))
    sliders = st.columns(4)
    with sliders[0]:
        st.select_slider(f"GPU price ($ per GPU-hour, {priced_gpu or 'rented GPUs'})",
                         _options("gpu_usd_per_hour", (None, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0)),
                         key="gpu_usd_per_hour", format_func=lambda v: "catalogue" if v is None else f"${v:g}/h",
                         help="Your price per hour for the GPU the plan picked; 'catalogue' uses its cheapest listed rental.")
    with sliders[1]:
        st.select_slider("Utilisation (share of hours paid)", _options("utilisation", tuple(round(0.05 * i, 2) for i in range(2, 21))),
                         key="utilisation", format_func=lambda v: f"{v:.0%}",
                         help="Rented GPUs are paid (and owned ones powered) for this share of the month.")
    with sliders[2]:
        st.select_slider("Amortisation (months)", _options("amortisation_months", (None, 12.0, 24.0, 36.0, 48.0, 60.0, 72.0)),
                         key="amortisation_months",
                         format_func=lambda v: f"catalogue ({default_amortisation:g})" if v is None else f"{v:g} months",
                         help="Owned GPUs only: the period over which the purchase is written off.")
    with sliders[3]:
        st.select_slider("Power price ($/kWh)", _options("power_usd_per_kwh", (None, 0.0, 0.05, 0.08, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5)),
                         key="power_usd_per_kwh",
                         format_func=lambda v: f"catalogue (${default_power:.3g})" if v is None else f"${v:g}/kWh",
                         help="Owned GPUs only, times the data centre's PUE.")
    state.absorb_widgets()
    if state.values().get("gpu_usd_per_hour") is not None and not state.values().get("gpu_price_for") and priced_gpu:
        state.set_values({"gpu_price_for": priced_gpu})
    try:
        c = state.constraints_from_values(state.values())
        plan = state.plan_for(whatif.with_changes(c, tokens_per_month=volume))
        samples = whatif.sweep(c, state.plan_for)
    except ConstraintError as exc:
        st.error(str(exc))
    else:
        changes = whatif.pick_changes(samples)
        fig = charts.cost_figure(plan, pick_changes=changes, plan_points=whatif.plan_points(samples))
        st.plotly_chart(fig, key="whatif_cost_chart", config=render.PLOTLY_CONFIG)
        top = plan.recommendation
        with st.container(border=True, key="whatif_pick"):
            st.caption(f"At {charts.format_tokens(volume)} tokens/month")
            if top is None:
                st.markdown("**No self-hosted configuration fits.**")
            else:
                st.markdown(f"**{whatif.pick_label(plan)}**, {top.replicas} replica{'s' if top.replicas != 1 else ''}: "
                            f"**{render.usd(top.cost.usd_per_month)}/month** · verdict **{plan.verdict}**")
            for point in charts.break_even_points(plan):
                st.caption(point["text"])
        for change in changes:
            st.info(change["text"], icon=":material/swap_horiz:")
        if not changes:
            st.caption("The top pick is the same at every sampled volume from 100k to 1T tokens/month.")
        if st.button("Use this volume in my plan", key="whatif_apply_volume"):
            state.set_values({"requests_per_day": int(round(whatif.requests_per_day_for(c, volume)))})
            st.success("Requests a day updated on the Plan page.")
        st.subheader("The recommender at one volume a decade")
        st.dataframe(pd.DataFrame(whatif.sweep_table(samples)), hide_index=True, key="whatif_sweep_table", column_config={
            "tokens_per_month": st.column_config.NumberColumn("Volume (tokens/month)", format="compact"),
            "requests_per_day": st.column_config.NumberColumn("Requests/day", format="localized"),
            "pick": "Recommended", "replicas": "Replicas",
            "usd_per_month": st.column_config.NumberColumn("Cost ($/month)", format="dollar"), "verdict": "Verdict"})
