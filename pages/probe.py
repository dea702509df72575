"""Probe: load-test a running endpoint, watch it live, and set what it measured against the plan."""

import streamlit as st

from planner.errors import ConstraintError
from planner.probe import (
    HostNotAllowedError,
    ProbeConfigError,
    ProbeResult,
    calibration_entry,
    calibration_path,
    compare,
    delete_calibrations,
    load_calibrations,
    run_probe,
    save_calibration,
)
from planner.probe.config import DEFAULT_API_KEY_ENV
from planner.probe.faults import RequestFailed
from planner.probe.redaction import url_secrets
from planner.probe.runner import build_redactor
from ui import probe_verify
from ui import probe_view as pv
from ui import quality_view
from ui import render, state

state.ensure_framed()
ss = st.session_state

st.title("Probe a running endpoint")
st.caption("Send streaming requests to an OpenAI-compatible or Ollama server at rising concurrency, and compare "
           "what it delivers with what the plan predicts. Requests are sent from this dashboard's machine.")

# ---------------------------------------------------------------- the plan to compare with
constraints, error = state.current_constraints()
plan = None
if error is None:
    try:
        plan = state.plan_for(constraints)
    except ConstraintError:
        plan = None
predicted = pv.predictions(plan)
plan_dict = plan.model_dump(mode="json") if predicted else None
if predicted:
    st.info(f"Compared with the plan's top pick: **{predicted['label']}**, predicted "
            f"**{predicted['decode_tokens_per_s']:,.0f} tokens/s** per stream and **{predicted['ttft_s']:.2f} s** "
            f"to first token for one stream, **{predicted['throughput_tokens_per_s']:,.0f} tokens/s** per replica at "
            f"{predicted['concurrency']} streams.", icon=":material/assignment:")
else:
    st.info("There is no self-hosted pick to compare with (fix the constraints on the Plan page, or relax them); "
            "the probe still measures the endpoint.", icon=":material/assignment:")


# ---------------------------------------------------------------- callbacks (run before the page is drawn)
def _form_now() -> dict:
    store = ss[pv.FORM]
    return {k: ss.get(k, store.get(k)) for k in pv.FIELD_DEFAULTS}


def _list_models() -> None:
    ss[pv.MODELS_FOUND] = []
    try:
        config = pv.config_from_form(_form_now(), pv.session_api_key())
    except HostNotAllowedError as exc:  # the operator's allow-list (planner.probe.allowlist)
        ss[pv.MODELS_NOTE] = ("error", pv.refused_host_text(str(exc)))
        return
    except ProbeConfigError as exc:
        ss[pv.MODELS_NOTE] = ("error", str(exc))
        return
    redact = build_redactor(config)
    try:
        models = pv.list_models(config)
    except HostNotAllowedError as exc:
        ss[pv.MODELS_NOTE] = ("error", pv.refused_host_text(redact(exc)))
    except RequestFailed as exc:
        ss[pv.MODELS_NOTE] = ("error", f"**Could not list models: {exc.kind.value}.** "
                                       f"{pv.FAULT_HINTS.get(exc.kind.value, '')} ({redact(exc.message)})")
    except Exception as exc:  # a fault is a message, never a traceback
        ss[pv.MODELS_NOTE] = ("error", f"**Could not list models.** {redact(exc)}")
    else:
        ss[pv.MODELS_FOUND] = models
        if models and not (ss.get("probe_model") or "").strip():
            ss["probe_model"] = models[0]
        ss[pv.MODELS_NOTE] = ("success", f"The server lists {len(models)} model(s): " + ", ".join(f"`{m}`" for m in models)
                              if models else "The server lists no models.")


def _pick_model() -> None:
    if ss.get("probe_model_pick"):
        ss["probe_model"] = ss["probe_model_pick"]


def _attach(result: dict) -> None:
    ss[pv.ATTACHED] = pv.scrub(result)


def _detach() -> None:
    ss.pop(pv.ATTACHED, None)


def _calibrate(entry: dict) -> None:
    try:
        save_calibration(entry)
    except OSError as exc:
        ss[pv.CALIBRATION_NOTE] = ("error", f"Could not write the calibration file: {exc.strerror or type(exc).__name__}")
        return
    ss[state.CALIBRATIONS] = load_calibrations()
    gpus = state.base_catalog().gpus
    gpu = gpus[entry["gpu"]].name if entry.get("gpu") in gpus else entry.get("gpu")
    ss[pv.CALIBRATION_NOTE] = ("success", f"Calibration saved on the server; plans for {entry['engine']} on "
                                          f"{gpu} now use the measured decode efficiency.")


def _delete_calibration() -> None:
    try:
        existed = delete_calibrations()
    except OSError as exc:
        ss[pv.CALIBRATION_NOTE] = ("error", f"Could not delete the calibration file: {exc.strerror or type(exc).__name__}")
        return
    ss[state.CALIBRATIONS] = []
    ss[pv.CALIBRATION_NOTE] = ("success", "Calibration file deleted; plans use the catalogue's efficiencies again."
                               if existed else "There was no calibration file.")


# ---------------------------------------------------------------- the form
values = pv.remember_form()
with st.container(border=True, key="probe_form_box"):
    top = st.columns([5, 2, 2])
    top[0].text_input("Endpoint URL", key="probe_url", placeholder="http://127.0.0.1:8000/v1",
                      help="The server's API root, e.g. http://host:8000/v1 (vLLM, llama.cpp, SGLang) or "
                           "http://host:11434 (Ollama). Pasting a full .../chat/completions URL works too.")
    detected = pv.detected_api_text(values["probe_url"])
    top[1].selectbox("API type", pv.API_CHOICES, key="probe_api",
                     format_func=lambda v: f"auto-detect (→ {detected})" if v == "auto" else v)
    top[2].radio("Endpoint", ("chat", "completions"), key="probe_endpoint", horizontal=True,
                 help="chat: /v1/chat/completions or /api/chat; completions: /v1/completions or /api/generate.")

    model_row = st.columns([5, 2, 2], vertical_alignment="bottom")
    model_row[0].text_input("Model", key="probe_model", placeholder="empty: the first model the server lists")
    model_row[1].button("List models", key="probe_list_models", on_click=_list_models, width="stretch",
                        icon=":material/list:")
    found = ss.get(pv.MODELS_FOUND) or []
    if found:
        model_row[2].selectbox("Listed models", found, key="probe_model_pick", index=None,
                               placeholder="pick one", on_change=_pick_model)
    note = ss.get(pv.MODELS_NOTE)
    if note:
        pv.show_messages([note])

    load_row = st.columns([3, 2, 2, 2, 2])
    load_row[0].multiselect("Concurrency levels (streams)", pv.CONCURRENCY_OPTIONS, key="probe_concurrency",
                            help="Each level keeps this many requests in flight (closed loop).")
    load_row[1].number_input("Requests per level", min_value=1, max_value=10_000, step=1, key="probe_requests",
                             help="Raised to the level's concurrency when smaller.")
    load_row[2].number_input("Prompt tokens", min_value=1, max_value=1_000_000, step=64, key="probe_prompt_tokens")
    load_row[3].number_input("Max output tokens", min_value=1, max_value=100_000, step=32, key="probe_max_tokens")
    load_row[4].number_input("Timeout per request (s)", min_value=1.0, max_value=3_600.0, step=5.0,
                             key="probe_timeout_s")

    key_row = st.columns([5, 4], vertical_alignment="bottom")
    key_row[0].text_input("API key (optional)", type="password", key=pv.API_KEY_WIDGET, on_change=pv.take_api_key,
                          placeholder="press Enter to keep it for this session",
                          help=f"Sent only as the Authorization header. Not shown, logged, put in the URL, kept in "
                               f"results or the PDF. Without one, the {DEFAULT_API_KEY_ENV} environment variable is used.")
    with key_row[1]:
        if pv.session_api_key() is not None:
            st.caption("An API key is set for this session (hidden).")
            st.button("Forget the key", key="probe_forget_key", on_click=pv.forget_api_key, icon=":material/key_off:")
        elif pv.env_api_key_set():
            st.caption(f"Using the key in the `{DEFAULT_API_KEY_ENV}` environment variable (hidden).")
        else:
            st.caption(f"No key: requests go without Authorization (none typed, `{DEFAULT_API_KEY_ENV}` unset).")
    if url_secrets(values["probe_url"]):
        st.warning("This URL carries credentials (a user:password or a key-like query value). They are masked in "
                   "results and the PDF, but stay in this field for the session: prefer the API key field.",
                   icon=":material/key:")
    st.caption(pv.allow_list_text())
    run_clicked = st.button("Run probe", key="probe_run", type="primary", icon=":material/speed:")

# ---------------------------------------------------------------- verify this plan (its peak, open loop)
probe_verify.verify_section(plan_dict, _form_now(), pv.session_api_key(), render.PLOTLY_CONFIG)

# ---------------------------------------------------------------- the run
progress_slot = st.empty()
outcome_slot = st.container()
chart_cols = st.columns(2)
speed_slot, ttft_slot = chart_cols[0].empty(), chart_cols[1].empty()

if run_clicked:
    ss.pop(pv.RESULT, None)
    ss[pv.OUTCOME] = []
    try:
        config = pv.config_from_form(values, pv.session_api_key())
    except HostNotAllowedError as exc:  # the operator's allow-list (planner.probe.allowlist)
        ss[pv.OUTCOME] = [("error", pv.refused_host_text(str(exc)))]
    except ProbeConfigError as exc:
        ss[pv.OUTCOME] = [("error", str(exc))]
    else:
        redact = build_redactor(config)
        live = pv.LiveView(progress_slot, speed_slot, ttft_slot, predicted, render.PLOTLY_CONFIG)
        try:
            result = run_probe(config, on_progress=live)
        except HostNotAllowedError as exc:
            ss[pv.OUTCOME] = [("error", pv.refused_host_text(redact(exc)))]
        except ProbeConfigError as exc:
            ss[pv.OUTCOME] = [("error", f"**Check the endpoint settings:** {redact(exc)}.")]
        except Exception as exc:  # a fault is a result to read, never a traceback
            ss[pv.OUTCOME] = [("error", f"**The probe stopped unexpectedly** ({type(exc).__name__}): {redact(exc)}")]
        else:
            ss[pv.RESULT] = pv.scrub(result.to_dict(), [config.resolved_api_key(), *url_secrets(config.url)])
        if not ss.get(pv.RESULT):
            progress_slot.empty()
            speed_slot.empty()
            ttft_slot.empty()

result = ss.get(pv.RESULT)
with outcome_slot:
    pv.show_messages(ss.get(pv.OUTCOME) or [])
    if result:
        pv.show_messages(pv.fault_messages(result))

levels = (result or {}).get("levels") or []
if result and levels:
    speed_slot.plotly_chart(pv.speed_figure(levels, predicted), key="probe_speed_chart", config=render.PLOTLY_CONFIG)
    ttft_slot.plotly_chart(pv.ttft_figure(levels, predicted), key="probe_ttft_chart", config=render.PLOTLY_CONFIG)

if result:
    st.subheader("Measured per concurrency level")
    st.caption(f"{result.get('url')} · {result.get('api')} {result.get('endpoint')} · model `{result.get('model') or '?'}` · "
               f"prompt ≈ {(result.get('prompt') or {}).get('target_tokens', result['settings'].get('prompt_tokens'))} "
               f"tokens, up to {result['settings'].get('max_tokens')} out · started {result.get('started_at')} · "
               f"{result.get('wall_s', 0):.1f} s")
    if levels:
        st.dataframe(pv.levels_frame(levels), hide_index=True, key="probe_levels_table",
                     column_config=pv.LEVEL_COLUMN_CONFIG)
    else:
        st.caption("No level was measured.")

    comparison = []
    if plan_dict and levels:
        try:
            comparison = [row.model_dump(mode="json") for row in compare(plan_dict, result)]
        except (ProbeConfigError, ValueError) as exc:
            st.warning(f"Could not compare with the plan: {exc}")
    if comparison:
        st.subheader("Against the plan")
        st.dataframe(pv.comparison_frame(comparison), hide_index=True, key="probe_comparison_table",
                     column_config=pv.COMPARISON_COLUMN_CONFIG)
        st.markdown("\n".join(f"- {pv.VERDICT_ICON.get(r['verdict'], '')} {r['sentence']}" for r in comparison))

    actions = st.columns(2)
    with actions[0].container(border=True, key="probe_attach_box"):
        st.markdown("**Attach to the plan**")
        attached = ss.get(pv.ATTACHED)
        this_attached = bool(attached) and attached.get("started_at") == result.get("started_at") \
            and attached.get("url") == result.get("url")
        if this_attached:
            st.success("Attached: the plan's PDF report includes these measurements.", icon=":material/attach_file:")
            st.button("Detach", key="probe_detach", on_click=_detach, icon=":material/link_off:")
        else:
            st.caption("Adds these measurements (and the comparison) to the plan's PDF report. The key is never included.")
            st.button("Attach to plan", key="probe_attach", on_click=_attach,
                      args=({**result, "comparison": comparison},), icon=":material/attach_file:",
                      disabled=not levels)
    with actions[1].container(border=True, key="probe_calibrate_box"):
        st.markdown("**Calibrate the planner**")
        try:
            entry = calibration_entry(plan_dict, ProbeResult.model_validate(result)) if plan_dict else None
            why_not = None if entry else "there is no plan pick to calibrate"
        except (ProbeConfigError, ValueError) as exc:
            entry, why_not = None, str(exc)
        if entry is None:
            st.caption(f"Not possible here: {why_not}.")
        else:
            too_fast = entry.decode_efficiency > 1.0
            st.caption(f"Stores decode efficiency **{entry.decode_efficiency:.0%}** (measured "
                       f"{entry.measured_decode_tokens_per_s:,.1f} tokens/s per stream at the lowest level ÷ the "
                       f"roofline) for **{entry.engine}** on **{entry.gpu}**. Only meaningful when the endpoint runs "
                       "the plan's pick on that GPU.")
            if too_fast:
                st.warning("Measured decode is faster than the roofline of the plan's pick, so this endpoint is not "
                           "running that configuration; calibrating from it would be wrong.")
            st.button("Calibrate", key="probe_calibrate", on_click=_calibrate, args=(entry.model_dump(),),
                      disabled=too_fast, icon=":material/tune:")
elif ss.get(pv.ATTACHED):
    attached = ss[pv.ATTACHED]
    st.success(f"A probe of {attached.get('url')} ({attached.get('started_at')}) is attached to the plan's PDF report.",
               icon=":material/attach_file:")
    st.button("Detach", key="probe_detach", on_click=_detach, icon=":material/link_off:")

# ---------------------------------------------------------------- the calibration file
note = ss.pop(pv.CALIBRATION_NOTE, None)
if note:
    pv.show_messages([note])
path = calibration_path()
with st.expander("Calibration file (kept on the server)", icon=":material/description:"):
    st.caption("Measured efficiencies the planner uses instead of the catalogue's for the same engine and GPU "
               "(the CLI reads the same file; `PLANNER_CALIBRATION_FILE` moves it).")
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else None
    except OSError as exc:
        text = None
        st.warning(f"Cannot read it: {exc}")
    if text is None:
        st.caption("There is no calibration file yet.")
    else:
        st.code(text, language="json")
        st.button("Delete calibration file", key="probe_delete_calibration", on_click=_delete_calibration,
                  icon=":material/delete:")

# ---------------------------------------------------------------- quality on sample outputs (ui/quality_view.py)
st.divider()
quality_view.render()  # its own tabs: the quality run and the sample file's format
