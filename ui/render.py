"""Drawing a plan: the top pick, the verdict, findings, tables, charts and provenance.

Every number shown carries its unit: GiB, tokens/s, s, $/month.
"""

from __future__ import annotations

import copy

import pandas as pd
import streamlit as st

from planner.catalog.staleness import describe as describe_oldest_price
from planner.plan.model import Candidate, Plan
from ui import state

VERDICT_TEXT = {
    "self-host": "Self-host an open-weights model",
    "api": "Use a paid API",
    "either": "Either: self-hosting and an API are both reasonable",
}
EFFECT_ICON = {"excluded": "⛔", "preferred": "✅", "warning": "⚠️", "info": "ℹ️"}
PLOTLY_CONFIG = {"displaylogo": False}


def usd(x: float | None) -> str:
    if x is None:
        return "—"
    return f"${x:,.0f}" if abs(x) >= 10 else f"${x:,.2f}"


def gpus_text(top: Candidate) -> str:
    return f"{top.gpus} × {top.gpu_name}"


def verdict(plan: Plan) -> None:
    with st.container(key="verdict"):
        box = {"self-host": st.success, "api": st.info, "either": st.warning}[plan.verdict]
        reasons = "\n".join(f"- {r}" for r in plan.verdict_reasons)
        box(f"**Verdict: {VERDICT_TEXT[plan.verdict]}**\n\n{reasons}")


def top_pick(plan: Plan) -> None:
    """The recommendation as a card of headline numbers."""
    top = plan.recommendation
    with st.container(border=True, key="top_pick"):
        if top is None:
            st.markdown("### No self-hosted configuration fits")
            st.write("Every candidate broke a hard rule; see *Ruled out* below and relax a constraint.")
            return
        st.caption("Top self-hosted pick")
        st.markdown(f"### {top.model_name}")
        st.markdown(
            f"**{top.quant}** weights on **{top.engine}** · **{gpus_text(top)}** per replica · "
            f"**{top.replicas}** replica{'s' if top.replicas != 1 else ''} ({top.total_gpus} GPU{'s' if top.total_gpus != 1 else ''} "
            f"{'rented' if top.cost.mode == 'rent' else 'owned'})"
        )
        cols = st.columns(5)
        cols[0].metric("Monthly cost ($/month)", usd(top.cost.usd_per_month),
                       help=f"{top.cost.mode}: {top.cost.price_source}")
        cols[1].metric("Replicas", f"{top.replicas}", help="Copies of the model serving in parallel, sized for the peak.")
        cols[2].metric("Time to first token (s)", f"{top.speed.ttft_s:.2f}", help="At the peak, including queueing for prefill.")
        cols[3].metric("Tokens/s per user", f"{top.speed.decode_tokens_per_s:,.0f}",
                       help="Decode rate of one stream on an otherwise idle replica.")
        cols[4].metric("Memory per GPU (GiB)", f"{top.memory.per_gpu_gib:.1f} / {top.memory.capacity_gib:.0f}",
                       help=f"Used on the busiest GPU / usable on a {top.gpu_name}.")
        per_mtok = f" · {usd(top.cost.usd_per_mtok)} per million tokens" if top.cost.usd_per_mtok is not None else ""
        st.caption(f"{plan.load.tokens_per_month / 1e6:,.1f} M tokens/month at {plan.load.peak_requests_per_s:.2f} requests/s "
                   f"peak{per_mtok} · capability {top.capability_score if top.capability_score is not None else 'unscored'}"
                   f"{f' ({top.capability_benchmark})' if top.capability_benchmark else ''}")


def findings(plan: Plan) -> None:
    st.subheader("What the rules found")
    seen = set()
    lines, left_out = [], []
    for f in plan.findings:
        if (f.rule, f.message) in seen:
            continue
        seen.add((f.rule, f.message))
        line = f"- {EFFECT_ICON.get(f.effect, '')} {f.message} — `{f.rule}` ({f.effect})"
        # devices and formats beaten outright are bookkeeping, not advice: keep them out of the way
        (left_out if f.rule.endswith(".dominated") else lines).append(line)
    st.markdown("\n".join(lines) if lines else "No rule fired beyond the defaults.")
    if left_out:
        with st.expander(f"Not considered because another option beats them outright ({len(left_out)})"):
            st.markdown("\n".join(left_out))


def candidates_frame(plan: Plan) -> pd.DataFrame:
    rows = []
    for rank, c in enumerate(([plan.recommendation] if plan.recommendation else []) + list(plan.alternatives), start=1):
        rows.append({
            "rank": rank, "model": c.model_name, "quant": c.quant, "engine": c.engine, "gpu": c.gpu_name,
            "gpus_per_replica": c.gpus, "replicas": c.replicas, "usd_per_month": c.cost.usd_per_month,
            "ttft_s": c.speed.ttft_s, "tokens_per_s": c.speed.decode_tokens_per_s,
            "memory_per_gpu_gib": c.memory.per_gpu_gib, "capacity_gib": c.memory.capacity_gib,
            "capability": c.capability_score, "score": c.score,
        })
    return pd.DataFrame(rows)


CANDIDATE_COLUMNS = {
    "rank": st.column_config.NumberColumn("#", width="small"),
    "model": "Model", "quant": "Quantization", "engine": "Engine", "gpu": "GPU",
    "gpus_per_replica": st.column_config.NumberColumn("GPUs / replica"),
    "replicas": st.column_config.NumberColumn("Replicas"),
    "usd_per_month": st.column_config.NumberColumn("Cost ($/month)", format="$%,.0f"),
    "ttft_s": st.column_config.NumberColumn("TTFT (s)", format="%.2f"),
    "tokens_per_s": st.column_config.NumberColumn("Speed (tokens/s)", format="%.0f"),
    "memory_per_gpu_gib": st.column_config.NumberColumn("Memory / GPU (GiB)", format="%.1f"),
    "capacity_gib": st.column_config.NumberColumn("Usable (GiB)", format="%.1f"),
    "capability": st.column_config.NumberColumn("Capability", format="%.1f"),
    "score": st.column_config.NumberColumn("Score", format="%.1f"),
}


def alternatives(plan: Plan) -> None:
    df = candidates_frame(plan)
    if df.empty:
        st.write("No feasible configuration.")
        return
    st.dataframe(df, hide_index=True, column_config=CANDIDATE_COLUMNS, key="alternatives_table")


def ruled_out(plan: Plan) -> None:
    if not plan.ruled_out:
        st.write("No model was ruled out.")
        return
    df = pd.DataFrame([{"model": r.model_name, "rule": r.rule, "why": r.reason} for r in plan.ruled_out])
    st.dataframe(df, hide_index=True, key="ruled_out_table",
                 column_config={"model": "Model", "rule": "Rule", "why": st.column_config.TextColumn("Why", width="large")})


def apis(plan: Plan) -> None:
    df = pd.DataFrame([{"api": a.id, "provider": a.provider, "open_weights": a.open_weights, "usd_per_mtok": a.usd_per_mtok,
                        "usd_per_month": a.usd_per_month, "capability": a.capability_score,
                        "break_even_tokens_per_month": a.break_even_tokens_per_month, "allowed": a.allowed, "as_of": a.as_of}
                       for a in plan.apis])
    if df.empty:
        st.write("No API in the catalogue serves this context length.")
        return
    st.dataframe(df, hide_index=True, key="apis_table", column_config={
        "api": "API", "provider": "Provider", "open_weights": "Open weights",
        "usd_per_mtok": st.column_config.NumberColumn("Price ($ per million tokens)", format="$%.3f"),
        "usd_per_month": st.column_config.NumberColumn("At your volume ($/month)", format="$%,.0f"),
        "capability": st.column_config.NumberColumn("Capability", format="%.1f"),
        "break_even_tokens_per_month": st.column_config.NumberColumn("Self-host cheaper above (tokens/month)", format="%.3g"),
        "allowed": "Allowed", "as_of": "Price as of",
    })


def plan_charts(plan: Plan, key: str = "plan") -> None:
    # Imported here, not at the top: plotly takes ~0.3 s to import, and on a fresh server the
    # verdict and the top pick (drawn before this) then reach the browser that much sooner.
    from planner.charts import plan as charts

    left, right = st.columns(2)
    with left:
        st.plotly_chart(charts.memory_figure(plan), key=f"{key}_memory_chart", config=PLOTLY_CONFIG)
    with right:
        st.plotly_chart(charts.cost_figure(plan), key=f"{key}_cost_chart", config=PLOTLY_CONFIG)
        _decision(plan, key)
        for point in charts.break_even_points(plan):
            st.caption(point["text"])


def basis(plan: Plan) -> None:
    with st.expander("Basis: where every number comes from"):
        top = plan.recommendation
        if top:
            st.markdown("\n".join(f"- {line}" for line in top.basis))
        a = plan.assumptions
        st.markdown(
            f"- Cost assumptions: utilisation {a.utilisation:.0%}, amortisation {a.amortisation_months:g} months, power "
            f"${a.power_usd_per_kwh:.4g}/kWh, PUE {a.pue:g}, colocation ${a.colocation_usd_per_kw_month:,.0f} per kW-month"
            + (f", GPU price ${a.gpu_usd_per_hour:g}/hour (yours)" if a.gpu_usd_per_hour is not None else "") + "."
        )
        st.markdown(f"- {plan.candidates_evaluated:,} candidate configurations evaluated.")
        st.markdown("- Data as of: " + ", ".join(f"{k} {v}" for k, v in plan.data_as_of.items()) + ".")
        if plan.oldest_price:
            st.markdown("- " + describe_oldest_price(plan.oldest_price))


def fine_tuning(plan: Plan) -> None:
    """The fine-tuning section, when the constraints plan fine-tuning (planner.finetune.section)."""
    ft = plan.fine_tuning
    if not ft:
        return
    p, mem = ft["plan"], ft["plan"]["memory"]
    with st.container(border=True, key="plan_fine_tuning"):
        st.markdown(f"**Fine-tuning: {ft['method'].upper() if ft['method'] != 'full' else 'full fine-tuning'} of {p['model_name']}**")
        cols = st.columns(4)
        cols[0].metric("GPUs", f"{ft['gpus']}× {ft['gpu']}")
        cols[1].metric("Memory per GPU (GiB)", f"{mem['total_per_gpu_gib']:.1f} / {mem['capacity_gib']:.0f}")
        cols[2].metric("Training time", f"{p['time_hours']:,.1f} h")
        cols[3].metric("Cost (rented)", usd(p["cost_usd"]))
        needed = ", ".join(f"{m}: {n if n else 'does not fit'}" for m, n in ft["gpus_needed"].items())
        st.caption(f"{p['tokens'] * p['epochs'] / 1e6:,.0f} M training tokens ({p['epochs']:g} epochs), "
                   f"{p['trainable_params'] / 1e6:,.1f} M trainable parameters; GPUs needed per method: {needed}. "
                   "Explore methods side by side on the Fine-tuning page.")


def plan_page(plan: Plan) -> None:
    """Everything the Plan page shows below its title."""
    verdict(plan)
    top_pick(plan)
    plan_charts(plan)
    fine_tuning(plan)
    findings(plan)
    tab_alt, tab_out, tab_api = st.tabs(["Alternatives", "Ruled out", "APIs"])
    with tab_alt:
        alternatives(plan)
    with tab_out:
        ruled_out(plan)
    with tab_api:
        apis(plan)
    basis(plan)
    from ui import (
        export,  # here, not at the top: export imports the PDF builder, which plans need only on demand
    )

    export.downloads(plan)


def summary_line(values: dict) -> str:
    """One line describing the stored constraints (for the sidebar)."""
    hw = "rent GPUs" if values.get(state.HARDWARE_MODE) != "own" else \
        "own " + ", ".join(f"{(values.get('gpu_counts') or {}).get(g, 1)}× {g}" for g in values.get(state.GPUS_OWNED) or [])
    line = (f"{values.get('requests_per_day') or 0:,.0f} requests/day · {values.get('input_tokens')} in / "
            f"{values.get('output_tokens')} out tokens · privacy {values.get('privacy')} · {values.get('task')} · {hw}")
    # The What-if page's cost knobs are constraints too; say so when they differ from the defaults.
    knobs = []
    if values.get("gpu_usd_per_hour") is not None:
        knobs.append(f"GPU ${values['gpu_usd_per_hour']:g}/h")
    if values.get("utilisation", 1.0) != 1.0:
        knobs.append(f"utilisation {values['utilisation']:.0%}")
    if values.get("amortisation_months") is not None:
        knobs.append(f"amortised over {values['amortisation_months']:g} months")
    if values.get("power_usd_per_kwh") is not None:
        knobs.append(f"power ${values['power_usd_per_kwh']:g}/kWh")
    return line + (" · " + ", ".join(knobs) if knobs else "")


def shared_sidebar() -> None:
    """The sidebar every page shares: the constraints in one line and saving them as a scenario."""
    with st.sidebar:
        st.subheader("Scenarios")
        st.caption("Constraints shared by every page (and kept in the page address, so a link reproduces the plan):")
        st.caption(summary_line(state.values()))
        scenarios = st.session_state[state.SCENARIOS]
        full = len(scenarios) >= state.MAX_SCENARIOS
        name = st.text_input("Scenario name", key="scenario_name", placeholder=state.values().get("name") or "Scenario",
                             disabled=full)
        if st.button("Save current constraints as scenario", key="save_scenario", disabled=full, width="stretch"):
            c, error = state.current_constraints()
            if error:
                st.error(f"Not saved: {error}")
            else:
                label = name.strip() or f"{c.name} #{len(scenarios) + 1}"
                scenarios.append({"name": label, "values": copy.deepcopy(state.values())})
                st.toast(f"Saved scenario '{label}'.")
        st.caption(f"{len(scenarios)} of {state.MAX_SCENARIOS} scenarios saved" + (" (remove one on Compare to save more)." if full else "; see Compare."))


def _decision(plan, key: str) -> None:
    """The objective, the capability x cost chart with the Pareto front and the pick, and why not the neighbours."""
    from planner.charts.decision import decision_figure

    if plan.objective:
        st.markdown(f"**Objective** — {plan.objective.get('rule') or plan.objective.get('priority')}")
    st.plotly_chart(decision_figure(plan), key=f"{key}_decision_chart", config=PLOTLY_CONFIG)
    for label, part in (("More capable", "more_capable"), ("Cheaper", "cheaper")):
        if part in plan.decision:
            st.markdown(f"*{label}:* {plan.decision[part]['why']}")
    if plan.idle_hardware:
        st.info(plan.idle_hardware)
