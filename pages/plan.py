"""Plan: the constraints form and the recommendation it leads to."""

import streamlit as st

from planner.errors import ConstraintError
from ui import form, render, state

state.ensure_framed()

catalog = state.session_catalog()
# The store already holds what the user just typed, so the plan is drawn before the form's widgets.
constraints, error = state.current_constraints()

st.title("Deployment plan")
if error is None:
    try:
        plan = state.plan_for(constraints)
    except ConstraintError as exc:  # a check only the recommender can make (an unknown model id)
        error = exc
if error is not None:
    st.error(f"Fix the highlighted field in the sidebar to see a plan. {error}", icon=":material/error:")
else:
    st.caption(f"{constraints.name} · {plan.load.tokens_per_month / 1e6:,.1f} M tokens/month · "
               f"{plan.candidates_evaluated:,} configurations evaluated")
    render.plan_page(plan)
form.constraints_form(catalog, error)
