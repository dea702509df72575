"""The Probe page's "verify this plan": the plan's workload replayed at its peak, and the verdict.

The page's endpoint settings (URL, API, model, key) are used; the load comes from the plan
(planner.probe.verify): open-loop arrivals at multiples of its peak requests/s, its prompt and output
lengths, its TTFT and tokens/s targets. Results are kept secret-free in session state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import streamlit as st
from pydantic import SecretStr

from planner.probe import ProbeConfigError, ProgressEvent, run_probe
from planner.probe.redaction import url_secrets
from planner.probe.verify import MULTIPLES, verification, verify_config, workload_from_plan
from ui.probe_charts import goodput_figure
from ui.probe_view import config_from_form, scrub

VERIFIED = "probe_verified"  # {"result": ..., "verification": ...} of the last verify run
MULTIPLE_OPTIONS = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0)
VERDICT_DRAW = {"meets": st.success, "misses": st.error, "unmeasured": st.warning}


def workload_text(plan: Mapping[str, Any], per_replica: bool) -> str:
    """One line on the load the plan implies; ProbeConfigError when the plan lacks a field."""
    w = workload_from_plan(plan, per_replica=per_replica)
    targets = ", ".join(t for t in (f"TTFT ≤ {w.max_ttft_s:g} s" if w.max_ttft_s else "",
                                    f"≥ {w.min_tokens_per_s:g} tokens/s per stream" if w.min_tokens_per_s else "") if t)
    return (f"Replays **{w.target_requests_per_s:.3g} requests/s** ({'one replica’s share of ' if per_replica else ''}"
            f"the plan's peak) as Poisson arrivals at multiples of it, {w.prompt_tokens} prompt and {w.output_tokens} "
            f"output tokens a request, and counts the requests that meet {targets or 'no targets'}.")


def run_verification(plan: Mapping[str, Any], form: Mapping[str, Any], api_key: SecretStr | None, *,
                     multiples: tuple[float, ...] = MULTIPLES, requests: int = 20, per_replica: bool = False,
                     progress_slot: Any = None) -> dict[str, Any]:
    """Run the plan's rate sweep against the form's endpoint; raises ProbeConfigError / HostNotAllowedError."""
    workload = workload_from_plan(plan, per_replica=per_replica)
    base = config_from_form(form, api_key)
    config = verify_config(base, workload, multiples=tuple(sorted(multiples)), requests_per_level=requests)

    def on_progress(event: ProgressEvent) -> None:
        if progress_slot is not None and event.kind in ("request", "level"):
            share = ((event.level_index or 0) + (event.done / event.total if event.total else 0)) / max(1, event.level_count)
            progress_slot.progress(min(1.0, share), text=f"{event.request_rate_rps or 0:.3g} requests/s: "
                                                         f"{event.done} of {event.total} requests")

    result = run_probe(config, on_progress=on_progress)
    verdict = verification(result, workload, plan) if result.reached_endpoint else None
    secrets = [config.resolved_api_key(), *url_secrets(config.url)]
    return {"result": scrub(result.to_dict(), secrets), "verification": scrub(verdict, secrets) if verdict else None}


def levels_frame(verdict: Mapping[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(verdict.get("levels") or [], columns=["multiple", "request_rate_rps", "attainment", "goodput_rps",
                                                               "errors", "ttft_p90_s", "tokens_per_s_per_stream_p50"])


COLUMNS = {
    "multiple": st.column_config.NumberColumn("× peak", format="%.2f"),
    "request_rate_rps": st.column_config.NumberColumn("Offered requests/s", format="%.3g"),
    "attainment": st.column_config.NumberColumn("Met both targets", format="percent"),
    "goodput_rps": st.column_config.NumberColumn("Goodput (requests/s)", format="%.3g"),
    "errors": st.column_config.NumberColumn("Errors"),
    "ttft_p90_s": st.column_config.NumberColumn("TTFT p90 (s)", format="%.3f"),
    "tokens_per_s_per_stream_p50": st.column_config.NumberColumn("Tokens/s per stream p50", format="%.1f"),
}


def show_verification(stored: Mapping[str, Any], plotly_config: Mapping[str, Any] | None = None) -> None:
    """The verdict sentence, what to change, the table and the goodput chart."""
    verdict = stored.get("verification")
    result = stored.get("result") or {}
    if not verdict:
        reason = (result.get("fatal_error") or {}).get("kind") or result.get("stopped_reason") or "no request succeeded"
        st.error(f"**Could not verify the plan:** the endpoint could not be used ({reason}).", icon=":material/error:")
        return
    VERDICT_DRAW.get(verdict["verdict"], st.info)(verdict["sentence"], icon=":material/fact_check:")
    for line in verdict.get("advice") or []:
        st.markdown(f"- {line}")
    st.dataframe(levels_frame(verdict), hide_index=True, key="probe_verify_table", column_config=COLUMNS)
    if verdict.get("levels"):
        st.plotly_chart(goodput_figure(verdict["levels"], verdict["target_requests_per_s"]), key="probe_verify_chart",
                        config=dict(plotly_config or {}))


def verify_section(plan_dict: Mapping[str, Any] | None, form: Mapping[str, Any], api_key: SecretStr | None,
                   plotly_config: Mapping[str, Any] | None = None) -> None:
    """The page's "Verify this plan" box."""
    ss = st.session_state
    with st.container(border=True, key="probe_verify_box"):
        st.markdown("**Verify this plan at its peak**")
        if not plan_dict:
            st.caption("There is no self-hosted pick to verify.")
            return
        cols = st.columns([3, 2, 2], vertical_alignment="bottom")
        multiples = cols[0].multiselect("Multiples of the peak", MULTIPLE_OPTIONS, default=list(MULTIPLES),
                                        key="probe_verify_multiples")
        requests = cols[1].number_input("Requests per rate", min_value=1, max_value=10_000, value=20, step=5,
                                        key="probe_verify_requests")
        per_replica = cols[2].checkbox("The URL is one replica", key="probe_verify_per_replica",
                                       help="Send one replica's share of the peak (the peak ÷ the plan's replicas).")
        try:
            st.caption(workload_text(plan_dict, per_replica))
        except ProbeConfigError as exc:
            st.warning(f"This plan cannot be verified: {exc}.")
            return
        clicked = st.button("Verify this plan", key="probe_verify", icon=":material/fact_check:",
                            disabled=not multiples or 1.0 not in multiples,
                            help="1× (the peak itself) must be among the multiples.")
        progress = st.empty()
        if clicked:
            from planner.probe import HostNotAllowedError

            ss.pop(VERIFIED, None)
            try:
                ss[VERIFIED] = run_verification(plan_dict, form, api_key, multiples=tuple(multiples),
                                                requests=int(requests), per_replica=per_replica, progress_slot=progress)
            except (ProbeConfigError, HostNotAllowedError) as exc:
                st.error(f"**Check the endpoint settings:** {exc}", icon=":material/error:")
            progress.empty()
        if ss.get(VERIFIED):
            show_verification(ss[VERIFIED], plotly_config)
