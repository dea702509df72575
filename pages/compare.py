"""Compare: two to four saved scenarios side by side."""

import copy

import pandas as pd
import streamlit as st

from planner.charts import plan as charts
from planner.errors import ConstraintError
from ui import render, state

state.ensure_framed()

st.title("Compare scenarios")
scenarios = st.session_state[state.SCENARIOS]

if len(scenarios) < 2:
    st.info(f"{len(scenarios)} scenario{'' if len(scenarios) == 1 else 's'} saved. Save 2 to {state.MAX_SCENARIOS} with **Save current constraints as scenario** "
            "in the sidebar (change the constraints on the Plan page between saves), or start from these:",
            icon=":material/info:")
    c, error = state.current_constraints()
    if error is None and st.button("Add the current constraints and the same at 100× the volume", key="compare_quick_add"):
        base = copy.deepcopy(state.values())
        bigger = {**copy.deepcopy(base), "requests_per_day": int(base["requests_per_day"] * 100)}
        room = state.MAX_SCENARIOS - len(scenarios)
        scenarios.extend([{"name": f"{c.name} (as set)", "values": base},
                          {"name": f"{c.name} ×100 volume", "values": bigger}][:room])
        st.rerun()

results = []
for scenario in scenarios:
    try:
        plan = state.plan_for(state.constraints_from_values(scenario["values"]))
        results.append((scenario, plan, None))
    except ConstraintError as exc:
        results.append((scenario, None, exc))

if results:
    columns = st.columns(len(results))
    for i, (column, (scenario, plan, error)) in enumerate(zip(columns, results)):
        with column, st.container(border=True, key=f"scenario_{i}"):
            st.subheader(scenario["name"])
            st.caption(render.summary_line(scenario["values"]))
            if error is not None:
                st.error(str(error))
            elif plan.recommendation is None:
                st.markdown(f"Verdict: **{plan.verdict}** · no self-hosted configuration fits.")
            else:
                top = plan.recommendation
                st.markdown(f"Verdict: **{plan.verdict}**")
                st.markdown(f"**{top.model_name}**  \n{top.quant} · {top.engine} · {render.gpus_text(top)} × {top.replicas} replica(s)")
                st.metric("Monthly cost", f"{render.usd(top.cost.usd_per_month)}/month")
                st.metric("Memory per GPU", f"{top.memory.per_gpu_gib:.1f} of {top.memory.capacity_gib:.0f} GiB")
                st.metric("Speed per user", f"{top.speed.decode_tokens_per_s:,.0f} tokens/s")
                st.metric("Time to first token", f"{top.speed.ttft_s:.2f} s")
                st.plotly_chart(charts.memory_figure(plan, max_candidates=1).update_layout(height=320, showlegend=False,
                                title="Memory per GPU (GiB)", xaxis_title=""),
                                key=f"scenario_memory_{i}", config=render.PLOTLY_CONFIG)
            buttons = st.columns(2)
            if buttons[0].button("Load into form", key=f"scenario_load_{i}", width="stretch"):
                state.set_values(copy.deepcopy(scenario["values"]))
                st.switch_page("pages/plan.py")
            if buttons[1].button("Remove", key=f"scenario_remove_{i}", width="stretch"):
                scenarios.pop(i)
                st.rerun()

    rows = []
    for scenario, plan, error in results:
        top = plan.recommendation if plan else None
        rows.append({"scenario": scenario["name"], "verdict": plan.verdict if plan else "invalid",
                     "model": top.model_name if top else None, "quant": top.quant if top else None,
                     "gpu": render.gpus_text(top) if top else None, "replicas": top.replicas if top else None,
                     "usd_per_month": top.cost.usd_per_month if top else None,
                     "memory_per_gpu_gib": top.memory.per_gpu_gib if top else None,
                     "tokens_per_s": top.speed.decode_tokens_per_s if top else None, "ttft_s": top.speed.ttft_s if top else None,
                     "tokens_per_month": plan.load.tokens_per_month if plan else None})
    st.subheader("Side by side")
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="compare_table", column_config={
        "scenario": "Scenario", "verdict": "Verdict", "model": "Model", "quant": "Quantization", "gpu": "GPUs / replica",
        "replicas": "Replicas", "usd_per_month": st.column_config.NumberColumn("Cost ($/month)", format="$%,.0f"),
        "memory_per_gpu_gib": st.column_config.NumberColumn("Memory / GPU (GiB)", format="%.1f"),
        "tokens_per_s": st.column_config.NumberColumn("Speed (tokens/s)", format="%.0f"),
        "ttft_s": st.column_config.NumberColumn("TTFT (s)", format="%.2f"),
        "tokens_per_month": st.column_config.NumberColumn("Volume (tokens/month)", format="%.3g")})
