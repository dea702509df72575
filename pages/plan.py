"""Plan: the constraints form and the recommendation it leads to."""

import logging

import streamlit as st

from planner.errors import ConstraintError
from planner.report.words import FIELD_LABELS, for_people
from ui import form, render, state
from ui.text import plain

state.ensure_framed()

catalog = state.session_catalog()
# The store already holds what the user just typed, so the plan is drawn before the form's widgets.
constraints, error = state.current_constraints()

st.title("Deployment plan")
render.phone_hint()
try:
    if error is None:
        try:
            plan = state.plan_for(constraints)
        except ConstraintError as exc:  # a check only the recommender can make (an unknown model id)
            error = exc
    if error is not None:
        field = FIELD_LABELS.get(error.field or "", "a field")
        st.error(plain(f"To see a plan, fix {field} in the constraints: {for_people(str(error))}"), icon=":material/error:")
    else:
        st.caption(plain(f"{constraints.name} · {plan.load.tokens_per_month / 1e6:,.1f} M tokens/month · "
                         f"{plan.candidates_evaluated:,} configurations evaluated"))
        render.plan_page(plan)
except Exception:  # noqa: BLE001 - a drawing bug must not take the form with it
    logging.getLogger(__name__).exception("the plan could not be drawn")
    st.error("This plan could not be drawn (the details are in the server's log). The constraints stay editable "
             "in the sidebar.", icon=":material/error:")
finally:
    form.constraints_form(catalog, error)
