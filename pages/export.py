"""Export: the plan as PDF, deployment files and a plan file; open a plan file."""

import streamlit as st

from planner.report.words import for_people
from ui import export, state
from ui.text import plain

state.ensure_framed()

st.title("Export and import")
constraints, error = state.current_constraints()
if error is not None:
    st.error(plain(f"The constraints on the Plan page need fixing first: {for_people(str(error))}"), icon=":material/error:")
else:
    plan = state.plan_for(constraints)
    st.subheader(plain(f"“{constraints.name}”"))
    st.caption("The PDF carries the constraints, verdict, alternatives, charts, deployment commands, assumptions and data "
               "sources (and the probe results, when attached on the Probe page). The zip holds Ollama, llama.cpp, vLLM, "
               "docker compose and Kubernetes files consistent with the plan.")
    export.downloads(plan, key="export")
st.subheader("Open a plan file")
export.import_form()
