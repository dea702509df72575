"""Monitor: a running deployment's own metrics against the plan, live, with the plan's targets on the charts."""

from datetime import datetime, timezone

import streamlit as st

from planner.errors import ConstraintError, PlannerError
from planner.monitor import MonitorError, judge, targets_from_plan
from planner.monitor.figures import monitor_figure
from planner.monitor.live import chart_row, roll
from planner.monitor.promql import observe_prometheus
from planner.monitor.scrape import observation_from_scrapes, scrape_once
from ui import render, state

state.ensure_framed()
ss = st.session_state
HISTORY, ROWS = "monitor_scrapes", "monitor_rows"
WINDOWS = {"1 min": 60, "5 min": 300, "15 min": 900, "1 h": 3600}
REFRESH = {"off": None, "5 s": 5, "15 s": 15, "60 s": 60}

st.title("Monitor a running deployment")
st.caption("Reads the engines' own Prometheus metrics (vLLM, SGLang, TensorRT-LLM, llama.cpp `--metrics`; NVIDIA DCGM or "
           "AMD exporters for GPUs), directly or through a Prometheus server, and holds them to the plan's targets. "
           "The same report as `python -m planner monitor`.")

constraints, error = state.current_constraints()
targets = None
if error is None:
    try:
        plan = state.plan_for(constraints)
        targets = targets_from_plan(plan.to_json_dict()) if plan.recommendation else None
    except (ConstraintError, PlannerError):
        targets = None
if targets is None:
    st.info("There is no self-hosted pick to monitor against: fix or relax the constraints on the Plan page.",
            icon=":material/assignment:")
    st.stop()
st.info(f"Held to the plan's pick: **{targets.label}**.", icon=":material/assignment:")

source = st.radio("Read from", ["The endpoints' /metrics", "A Prometheus server"], horizontal=True, key="monitor_source")
cols = st.columns([3, 1, 1])
if source.startswith("The endpoints"):
    urls = [u.strip() for u in cols[0].text_area("Metrics URLs, one a line (each replica, and the GPU exporter)",
                                                 key="monitor_urls", placeholder="http://10.0.0.5:8000/metrics").splitlines()
            if u.strip()]
    prometheus = None
else:
    prometheus = cols[0].text_input("Prometheus URL", key="monitor_prometheus", placeholder="http://prometheus:9090")
    urls = []
window_s = WINDOWS[cols[1].selectbox("Window", list(WINDOWS), index=1, key="monitor_window")]
refresh_s = REFRESH[cols[2].selectbox("Refresh every", list(REFRESH), key="monitor_refresh")]
read_now = st.button("Read now", key="monitor_read", icon=":material/refresh:")


@st.fragment(run_every=refresh_s)
def live() -> None:
    if not (read_now or refresh_s) or not (urls or prometheus):
        st.caption("Give the URLs, then read now or choose a refresh interval.")
        return
    try:
        if prometheus:
            obs = observe_prometheus(prometheus, window_s)
        else:
            ss[HISTORY] = roll(ss.get(HISTORY) or [], scrape_once(urls), window_s)
            if len(ss[HISTORY]) < 2:
                st.caption("One reading taken; the report needs a second one (read again, or set a refresh).")
                return
            obs = observation_from_scrapes(ss[HISTORY])
    except (MonitorError, PlannerError) as exc:
        st.error(str(exc))
        return
    report = judge(obs, targets, replan=False)
    ss[ROWS] = [*(ss.get(ROWS) or []), chart_row(report, datetime.now(timezone.utc).isoformat(timespec="seconds"))][-500:]
    icons = {"met": ":material/check_circle:", "at risk": ":material/warning:", "missed": ":material/error:"}
    for check in report.checks:
        line = f"{icons.get(check.verdict, ':material/info:')} **{check.verdict}** · {check.sentence}"
        st.markdown(line + (f"  \n→ {check.advice}" if check.advice else ""))
    st.plotly_chart(monitor_figure(ss[ROWS], targets), key="monitor_chart", config=render.PLOTLY_CONFIG)


live()
