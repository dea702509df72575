"""Dashboard entry point (placeholder until the dashboard lands): shows the top pick for the defaults."""

import streamlit as st

from planner import Constraints, recommend

st.set_page_config(page_title="Open-Weights Deployment Planner", layout="wide")
st.title("Open-Weights Deployment Planner")
plan = recommend(Constraints())
top = plan.recommendation
if top:
    st.write(f"Top pick for the default constraints: **{top.model_name}** · {top.quant} · {top.engine} · {top.gpus}× {top.gpu_name}")
st.write(f"Verdict: {plan.verdict}")
