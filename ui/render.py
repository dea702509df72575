"""Drawing a plan: the top pick, the verdict, findings, tables, charts and provenance.

Every number shown carries its unit: GiB, tokens/s, s, $/month.
"""

from __future__ import annotations

import copy
import re

import pandas as pd
import streamlit as st

from planner.plan.model import Candidate, Plan
from planner.report.words import capability_text, finding_title, oldest_price_text, readable, rule_title, usd_text
from planner.units import format_tokens
from ui import state
from ui.text import plain

VERDICT_TEXT = {
    "self-host": "Self-host an open-weights model",
    "api": "Use a paid API",
    "either": "Either: self-hosting and an API are both reasonable",
}
# Material icons (served with the app), not emoji: without an emoji font 'ℹ️' shows as 'i' and '⛔' as '⊖'.
EFFECT_ICON = {"excluded": ":material/block:", "preferred": ":material/check_circle:", "warning": ":material/warning:",
               "info": ":material/info:"}
# No plotly toolbar: on a phone it covers the chart's title; Streamlit's own fullscreen button stays.
PLOTLY_CONFIG = {"displaylogo": False, "displayModeBar": False, "responsive": True}


def usd(x: float | None) -> str:
    return usd_text(x)


def short_gpu_name(name: str) -> str:
    """'NVIDIA B300 (HGX B300 SXM)' -> 'B300' (as planner.charts.plan labels do; not imported from
    there, as that would import plotly before the plan's first numbers are drawn)."""
    short = re.sub(r"\s*\(.*?\)", "", name)
    for vendor in ("NVIDIA ", "GeForce ", "AMD Instinct ", "AMD Radeon ", "Intel "):
        short = short.removeprefix(vendor)
    return short.strip()


def device_names() -> dict[str, str]:
    """Catalogue device and API ids to their names, for sentences that name them by id."""
    catalog = state.base_catalog()
    return {**{a.id: f"{a.model} ({a.provider})" for a in catalog.apis.values()},
            **{g.id: g.name for g in catalog.gpus.values()}}


def phone_hint() -> None:
    """On a narrow screen the sidebar (and so the form) is folded away behind '>>': say where it is.
    Plain CSS decides, so the hint shows only below 640 px and nothing is sent anywhere."""
    st.html("<style>.phone-hint{display:none}@media (max-width:640px){.phone-hint{display:block;padding:.4rem .6rem;"
            "border-radius:.4rem;background:#eef4ff;color:#1f3b73;font-size:.9rem}}</style>"
            "<div class='phone-hint'>Your constraints are in the side panel: tap <b>&gt;&gt;</b> at the top left.</div>")


def gpus_text(top: Candidate) -> str:
    return f"{top.gpus} × {top.gpu_name}"


def verdict(plan: Plan) -> None:
    with st.container(key="verdict"):
        box = {"self-host": st.success, "api": st.info, "either": st.warning}[plan.verdict]
        names = device_names()
        reasons = "\n".join(f"- {plain(readable(r, names))}" for r in plan.verdict_reasons)
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
        st.markdown(f"### {plain(top.model_name)}")
        st.markdown(
            f"**{plain(top.quant)}** weights on **{plain(top.engine)}** · **{plain(gpus_text(top))}** per replica · "
            f"**{top.replicas}** replica{'s' if top.replicas != 1 else ''} ({top.total_gpus} GPU{'s' if top.total_gpus != 1 else ''} "
            f"{'rented' if top.cost.mode == 'rent' else 'owned'})"
        )
        cols = st.columns(5)
        no_power = not top.cost.power_counted
        cols[0].metric("Monthly cost ($/month)", usd(top.cost.usd_per_month) + ("+" if no_power else ""),
                       delta="power not counted" if no_power else None, delta_color="off", delta_arrow="off",
                       help=plain(f"{'Rented' if top.cost.mode == 'rent' else 'Owned'}: {top.cost.price_source}"
                                  + ("; no power figure is published for these GPUs, so power and space are not counted"
                                     if no_power else "")))
        cols[1].metric("Replicas", f"{top.replicas}", help="Copies of the model serving in parallel, sized for the peak.")
        cols[2].metric("Time to first token (s)", f"{top.speed.ttft_s:.2f}", help="At the peak, including queueing for prefill.")
        cols[3].metric("Tokens/s per user at peak", f"{top.speed.decode_tokens_per_s_at_concurrency:,.0f}",
                       help=f"Decode rate of each of the {top.speed.concurrency} streams a replica runs at the peak; "
                            f"{top.speed.decode_tokens_per_s:,.0f} tokens/s for one stream on an otherwise idle replica.")
        cols[4].metric("Memory per GPU (GiB)", f"{top.memory.per_gpu_gib:.1f} / {top.memory.capacity_gib:.0f}",
                       help=f"Used on the busiest GPU / usable on a {top.gpu_name}.")
        per_mtok = (f" · {usd(top.cost.usd_per_mtok)}{'+ (power not counted)' if no_power else ''} per million tokens"
                    if top.cost.usd_per_mtok is not None else "")
        estimated = (top.capability or {}).get("basis", "published") != "published"
        st.caption(f"{plan.load.tokens_per_month / 1e6:,.1f} M tokens/month at {plan.load.peak_requests_per_s:.2f} requests/s "
                   f"peak{per_mtok} · capability {capability_text(top.capability_score, estimated)}"
                   f"{' on ' + plain(top.capability_benchmark) if top.capability_benchmark else ''}")


def findings(plan: Plan) -> None:
    st.subheader("What the rules found")
    seen = set()
    lines, left_out, ids = [], [], []
    for f in plan.findings:
        if (f.rule, f.message) in seen:
            continue
        seen.add((f.rule, f.message))
        title, message = finding_title(f.rule, readable(f.message, device_names()))
        line = f"- {EFFECT_ICON.get(f.effect, '')} **{title}**: {plain(message)}"
        ids.append(f"- {plain(rule_title(f.rule))}: `{f.rule}` ({f.effect})")
        # devices and formats beaten outright are bookkeeping, not advice: keep them out of the way
        (left_out if f.rule.endswith(".dominated") else lines).append(line)
    st.markdown("\n".join(lines) if lines else "No rule fired beyond the defaults.")
    if left_out:
        with st.expander(f"Not considered because another option beats them outright ({len(left_out)})"):
            st.markdown("\n".join(left_out))
    if ids:
        with st.expander("Rule ids (as in the plan file)"):
            st.markdown("\n".join(dict.fromkeys(ids)))


def candidates_frame(plan: Plan) -> pd.DataFrame:
    rows = []
    for rank, c in enumerate(([plan.recommendation] if plan.recommendation else []) + list(plan.alternatives), start=1):
        rows.append({
            "rank": rank, "model": c.model_name, "quant": c.quant, "engine": c.engine,
            "gpu": f"{c.gpus}× {short_gpu_name(c.gpu_name)}",
            "replicas": c.replicas, "usd_per_month": c.cost.usd_per_month,
            "ttft_s": c.speed.ttft_s, "tokens_per_s": c.speed.decode_tokens_per_s,
            "memory": f"{c.memory.per_gpu_gib:.1f} / {c.memory.capacity_gib:.0f}",
            "capability": capability_text(c.capability_score, (c.capability or {}).get("basis", "published") != "published"),
        })
    return pd.DataFrame(rows)


CANDIDATE_COLUMNS = {  # short labels and narrow numbers: the table fits 1440 px without scrolling
    "rank": st.column_config.NumberColumn("#", width=40),
    "model": st.column_config.TextColumn("Model", width=190),
    "quant": st.column_config.TextColumn("Format", width="small"),
    "engine": st.column_config.TextColumn("Engine", width="small"),
    "gpu": st.column_config.TextColumn("GPUs / replica", width=110),
    "replicas": st.column_config.NumberColumn("Replicas", width=70),
    "usd_per_month": st.column_config.NumberColumn("$/month", format="$%,.0f", width=80),
    "ttft_s": st.column_config.NumberColumn("TTFT (s)", format="%.2f", width=70),
    "tokens_per_s": st.column_config.NumberColumn("Tokens/s", format="%.0f", width=70),
    "memory": st.column_config.TextColumn("GiB / GPU", width=80, help="Memory used on the busiest GPU / usable"),
    "capability": st.column_config.TextColumn("Capability", width=90),
}


def alternatives(plan: Plan) -> None:
    df = candidates_frame(plan)
    if df.empty:
        st.write("No feasible configuration.")
        return
    st.dataframe(df, hide_index=True, column_config=CANDIDATE_COLUMNS, key="alternatives_table", width="stretch")


def ruled_out(plan: Plan) -> None:
    if not plan.ruled_out:
        st.write("No model was ruled out.")
        return
    names = device_names()
    df = pd.DataFrame([{"model": r.model_name, "rule": rule_title(r.rule), "why": readable(r.reason, names)}
                       for r in plan.ruled_out])
    st.dataframe(df, hide_index=True, key="ruled_out_table", width="stretch",
                 column_config={"model": st.column_config.TextColumn("Model", width="medium"),
                                "rule": st.column_config.TextColumn("Rule", width="medium"),
                                "why": st.column_config.TextColumn("Why", width="large")})


def apis(plan: Plan) -> None:
    if not plan.apis:
        st.write("No API in the catalogue serves this context length.")
        return
    if not any(a.allowed for a in plan.apis):
        cheapest = min(plan.apis, key=lambda a: a.usd_per_month)
        st.write(plain(f"Your privacy setting rules paid APIs out. For reference only: the cheapest, {cheapest.model} "
                       f"({cheapest.provider}), would cost {usd(cheapest.usd_per_month)}/month at this volume."))
        return
    df = pd.DataFrame([{"api": a.model, "provider": a.provider, "open_weights": "open" if a.open_weights else "closed",
                        "usd_per_mtok": a.usd_per_mtok, "usd_per_month": a.usd_per_month,
                        "capability": capability_text(a.capability_score) if a.capability_score is not None else "not scored",
                        "break_even": (f"{format_tokens(a.break_even_tokens_per_month)} tokens/month"
                                       if a.break_even_tokens_per_month is not None else "never"),
                        "as_of": a.as_of}
                       for a in plan.apis if a.allowed])
    st.dataframe(df, hide_index=True, key="apis_table", width="stretch", column_config={
        "api": st.column_config.TextColumn("Model", width="medium"), "provider": "Provider", "open_weights": "Weights",
        "usd_per_mtok": st.column_config.NumberColumn("$ per million tokens", format="$%.3f"),
        "usd_per_month": st.column_config.NumberColumn("At your volume ($/month)", format="$%,.0f"),
        "capability": "Capability",
        "break_even": "Self-hosting is cheaper above",
        "as_of": "Price as of",
    })


def plan_charts(plan: Plan, key: str = "plan") -> None:
    # Imported here, not at the top: plotly takes ~0.3 s to import, and on a fresh server the
    # verdict and the top pick (drawn before this) then reach the browser that much sooner.
    from planner.charts import plan as charts

    # Two charts a row (columns stack on a phone), so no column runs long beside an empty one.
    left, right = st.columns(2)
    with left:
        st.plotly_chart(charts.memory_figure(plan), key=f"{key}_memory_chart", config=PLOTLY_CONFIG)
    with right:
        st.plotly_chart(charts.cost_figure(plan), key=f"{key}_cost_chart", config=PLOTLY_CONFIG)
        for point in charts.break_even_points(plan):
            st.caption(plain(point["text"]))
    _decision(plan, key)


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
            st.markdown("- " + plain(oldest_price_text(plan.oldest_price, device_names())))


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
    gpus = state.base_catalog().gpus
    owned = values.get(state.GPUS_OWNED) or []
    if values.get(state.HARDWARE_MODE) == "own" and owned:
        hw = "own " + ", ".join(f"{(values.get('gpu_counts') or {}).get(g, 1)}× {gpus[g].name if g in gpus else g}"
                                for g in owned)
    else:
        hw = "buy GPUs" if values.get("privacy") in ("on-prem", "offline") else "rent GPUs"
    line = (f"{_number(values.get('requests_per_day'))} requests/day · {_number(values.get('input_tokens'))} in / "
            f"{_number(values.get('output_tokens'))} out tokens · privacy: {PRIVACY_WORDS.get(values.get('privacy'), '?')} · "
            f"{values.get('task')} · {hw}")
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
    return plain(line + (" · " + ", ".join(knobs) if knobs else ""))


PRIVACY_WORDS = {"any": "APIs allowed", "no-third-party-api": "no third-party API", "on-prem": "on-premises",
                 "offline": "offline"}


def _number(value) -> str:
    """A count as typed in the form (it may be empty or not yet valid)."""
    return f"{value:,.0f}" if isinstance(value, int | float) and value == value and abs(value) < 1e18 else "?"


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
                st.error(plain(f"Not saved: {error}"))
            else:
                label = name.strip() or f"{c.name} #{len(scenarios) + 1}"
                scenarios.append({"name": label, "values": copy.deepcopy(state.values())})
                st.toast(plain(f"Saved scenario '{label}'."))
        st.caption(f"{len(scenarios)} of {state.MAX_SCENARIOS} scenarios saved" + (" (remove one on Compare to save more)." if full else "; see Compare."))


def _decision(plan, key: str) -> None:
    """The objective, the capability x cost chart with the Pareto front and the pick, and why not the neighbours."""
    from planner.charts.decision import decision_figure

    left, right = st.columns([3, 2])
    with left:
        st.plotly_chart(decision_figure(plan), key=f"{key}_decision_chart", config=PLOTLY_CONFIG)
    with right:
        if plan.objective:
            st.markdown(f"**Objective**: {plain(plan.objective.get('rule') or plan.objective.get('priority'))}")
        for label, part in (("More capable", "more_capable"), ("Cheaper", "cheaper")):
            if part in plan.decision:
                st.markdown(f"*{label}:* {plain(plan.decision[part]['why'])}")
        if plan.idle_hardware:
            st.info(plain(plan.idle_hardware))
