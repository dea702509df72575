"""Compare: two to four saved scenarios side by side: verdict, pick, capability, objective and the
settings that differ. Saved scenarios live in the page address (so a reload keeps them) and can be
downloaded as a file and opened again."""

import copy
import json

import pandas as pd
import streamlit as st

from planner.charts import plan as charts
from planner.errors import ConstraintError
from planner.report.words import FIELD_LABELS, capability_text, for_people, usd_text
from ui import render, state
from ui.text import plain

state.ensure_framed()

st.title("Compare scenarios")
scenarios = st.session_state[state.SCENARIOS]

if len(scenarios) < 2:
    st.info(f"{len(scenarios)} scenario{'' if len(scenarios) == 1 else 's'} saved. Save 2 to {state.MAX_SCENARIOS} with **Save current constraints as scenario** "
            "in the side panel (change the constraints on the Plan page between saves), or start from these:",
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
        c = state.constraints_from_values(scenario["values"])
        results.append((scenario, c, state.plan_for(c), None))
    except ConstraintError as exc:
        results.append((scenario, None, None, exc))


def _shown(key, value) -> str:
    if value is None:
        return {"budget_usd_per_month": "no limit", "max_ttft_s": "no target", "min_tokens_per_s": "no target",
                "context_tokens": "auto", "min_replicas": "auto", "deployment": "auto", "gpus_available": "none (rent or buy)",
                "min_capability": "no minimum", "models": "all"}.get(key, "default")
    if key == "gpus_available":
        gpus = state.base_catalog().gpus
        return ", ".join(f"{g['count']}× {gpus[g['gpu']].name if g['gpu'] in gpus else g['gpu']}" for g in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.0f}" if value >= 100 else f"{value:g}"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


if results:
    columns = st.columns(len(results))
    for i, (column, (scenario, c, plan, error)) in enumerate(zip(columns, results)):
        with column, st.container(border=True, key=f"scenario_{i}"):
            st.subheader(plain(scenario["name"]))
            st.caption(render.summary_line(scenario["values"]))
            if error is not None:
                st.error(plain(for_people(str(error))))
            elif plan.recommendation is None:
                st.markdown(f"Verdict: **{render.VERDICT_TEXT[plan.verdict]}** · no self-hosted configuration fits.")
            else:
                top = plan.recommendation
                st.markdown(f"Verdict: **{render.VERDICT_TEXT[plan.verdict]}**")
                st.markdown(f"**{plain(top.model_name)}**  \n{plain(top.quant)} · {plain(top.engine)} · "
                            f"{plain(render.gpus_text(top))} × {top.replicas} replica(s)")
                estimated = (top.capability or {}).get("basis", "published") != "published"
                # One line of headline figures: the table below has them all, and a phone stays short.
                st.markdown(f"**{usd_text(top.cost.usd_per_month)}/month** · capability "
                            f"{capability_text(top.capability_score, estimated)} · "
                            f"{top.speed.decode_tokens_per_s_at_concurrency:,.0f} tokens/s per user at peak · first token in {top.speed.ttft_s:.2f} s · "
                            f"{top.memory.per_gpu_gib:.1f} of {top.memory.capacity_gib:.0f} GiB per GPU")
            buttons = st.columns(2)
            if buttons[0].button("Load into form", key=f"scenario_load_{i}", width="stretch"):
                state.set_values(copy.deepcopy(scenario["values"]))
                st.switch_page("pages/plan.py")
            if buttons[1].button("Remove", key=f"scenario_remove_{i}", width="stretch"):
                scenarios.pop(i)
                st.rerun()

    # One column per scenario, one row per figure: reads at any width and with four scenarios.
    side: dict[str, list[str]] = {}
    for scenario, c, plan, error in results:
        top = plan.recommendation if plan else None
        estimated = top is not None and (top.capability or {}).get("basis", "published") != "published"
        side[scenario["name"]] = [
            render.VERDICT_TEXT[plan.verdict] if plan else "invalid constraints",
            (plan.objective.get("priority") or "—") if plan else "—",
            top.model_name if top else "—", f"{top.quant} · {top.engine}" if top else "—",
            render.gpus_text(top) if top else "—", str(top.replicas) if top else "—",
            usd_text(top.cost.usd_per_month) if top else "—",
            (capability_text(top.capability_score, estimated) + (f" ({top.capability_benchmark})" if top.capability_benchmark else ""))
            if top else "—",
            f"{top.speed.decode_tokens_per_s_at_concurrency:,.0f}" if top else "—", f"{top.speed.ttft_s:.2f}" if top else "—",
            charts.format_tokens(plan.load.tokens_per_month) if plan else "—"]
    st.subheader("Side by side")
    figures = ["Verdict", "Priority", "Model", "Format · engine", "GPUs / replica", "Replicas", "Cost ($/month)",
               "Capability", "Speed per user at peak (tokens/s)", "Time to first token (s)", "Volume (tokens/month)"]
    st.dataframe(pd.DataFrame(side, index=figures), key="compare_table", width="stretch")

    valid = [(s, c) for s, c, _, _ in results if c is not None]
    if len(valid) >= 2:
        dumps = [c.model_dump(mode="json") for _, c in valid]
        differ = [k for k in dumps[0] if any(d[k] != dumps[0][k] for d in dumps[1:])]
        st.subheader("Settings that differ")
        if differ:
            table = pd.DataFrame({s["name"]: [_shown(k, d[k]) for k in differ] for (s, _), d in zip(valid, dumps)},
                                 index=[FIELD_LABELS.get(k, k) for k in differ])
            st.dataframe(table, key="compare_differ_table", width="stretch")
        else:
            st.write("The saved scenarios have the same constraints.")

st.subheader("Keep these scenarios")
st.caption("They are kept in this page's address (bookmark or share it), and as a file:")
files = st.columns(2)
files[0].download_button("Download scenarios (JSON)", key="scenarios_download", on_click="ignore",
                         data=json.dumps([{"name": s["name"], "constraints": c.model_dump(mode="json")}
                                          for s, c, _, _ in results if c is not None], indent=2),
                         file_name="scenarios.json", mime="application/json", icon=":material/save:", disabled=not results)
upload = files[1].file_uploader("Open a scenarios file", type=["json"], key="scenarios_upload")
if upload is not None and st.button("Use the scenarios in this file", key="scenarios_apply"):
    try:
        entries = json.loads(upload.getvalue())
        loaded = []
        for entry in entries[:state.MAX_SCENARIOS]:
            loaded.append({"name": str(entry["name"])[:200],
                           "values": state.values_from_constraints(state.parse_constraints(entry["constraints"]))})
    except (ValueError, TypeError, KeyError, ConstraintError) as exc:
        st.error(plain(f"That file was not opened, and nothing was changed: {for_people(str(exc))}"), icon=":material/error:")
    else:
        scenarios[:] = loaded
        st.rerun()
