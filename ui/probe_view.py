"""The Probe page's pieces: its stored form, the run with live progress, and a result drawn as
messages, charts and tables beside the plan's predictions.

The API key typed on the page is moved out of its password field as soon as Streamlit reads it and
kept only as a pydantic `SecretStr` (whose repr and JSON are `**********`). So session state, the
URL, an attached result and the PDF never hold it; results are scrubbed again before they are kept.

Units follow the probe's results: times in seconds, rates in tokens/s or requests/s.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
import requests
import streamlit as st
from pydantic import SecretStr, ValidationError

from planner.plan.model import Plan
from planner.probe import HostNotAllowedError, ProbeConfig, ProbeConfigError, ProgressEvent, allowlist
from planner.probe.config import DEFAULT_API_KEY_ENV
from planner.probe.endpoint import Endpoint, check_host_allowed
from planner.probe.factory import make_client
from planner.probe.runner import build_redactor
from planner.report.document import sanitize_probe
from ui.probe_charts import _levels_sorted, _pct, speed_figure, ttft_figure  # noqa: F401 - the page's names

# Session-state keys. ATTACHED is what the PDF export reads:
#   plan_pdf(plan, catalog, probe=st.session_state.get(probe_view.ATTACHED))
ATTACHED = "probe_attached"
RESULT = "probe_result"  # the last run's result dict, secret-free
OUTCOME = "probe_outcome"  # [(level, text)] about the last run or model listing that is not in the result
FORM = "probe_form"  # the form's values, kept across page switches (widget state is not)
API_KEY_WIDGET = "probe_api_key"
API_KEY_SECRET = "probe_api_key_secret"
MODELS_FOUND = "probe_models_found"
MODELS_NOTE = "probe_models_note"
CALIBRATION_NOTE = "probe_calibration_note"

CONCURRENCY_OPTIONS = (1, 2, 4, 8, 16, 32, 64, 128)
API_CHOICES = ("auto", "openai", "ollama")
FIELD_DEFAULTS: dict[str, Any] = {
    "probe_url": "http://127.0.0.1:8000/v1",
    "probe_api": "auto",
    "probe_model": "",
    "probe_endpoint": "chat",
    "probe_concurrency": [1, 2, 4, 8],
    "probe_requests": 8,
    "probe_prompt_tokens": 256,
    "probe_max_tokens": 128,
    "probe_timeout_s": 60.0,
}
# Charts are redrawn at most this often while requests finish (each level's end always redraws).
LIVE_REDRAW_S = 0.5

FAULT_HINTS = {
    "refused": "Nothing is listening at that host and port; is the server running, and is the port right?",
    "dns": "The host name did not resolve; check its spelling.",
    "unreachable": "No connection could be made (wrong address, a firewall, or the host is down).",
    "tls": "The TLS handshake failed (a certificate problem, or https:// against a plain-http server).",
    "auth": "The server refused the credentials; enter an API key below or set PLANNER_PROBE_API_KEY.",
    "model_not_found": "The server does not know that model or API path; use *List models*, or check the API type.",
    "rate_limited": "The server is rate-limiting (HTTP 429); lower the concurrency or the requests per level.",
    "server_error": "The server failed while answering (HTTP 5xx or an error inside the stream).",
    "client_error": "The server rejected the request (HTTP 4xx); check the API type and the endpoint kind.",
    "http_error": "The server answered with an unexpected status (a redirect is not followed).",
    "stream_cut": "The connection dropped before the stream finished.",
    "malformed": "The answer was not the expected streaming format (wrong API type, or a proxy's login page?).",
    "timeout": "No answer within the per-request timeout.",
    "too_many_tokens": "The server kept streaming past the tokens asked for (max_tokens plus a margin); the probe stopped it.",
    "overtime": "The request ran past its time limit (the silence timeout plus one second per token asked for).",
    "too_large": "One line or one answer was larger than the probe accepts (1 MiB a line, 64 MiB an answer).",
    "other": "An unexpected failure; the message says what.",
}


# ---------------------------------------------------------------- form and key

def remember_form() -> dict[str, Any]:
    """Seed the form's widgets from the store, and copy what the user changed back into it."""
    ss = st.session_state
    store = ss.setdefault(FORM, {k: (list(v) if isinstance(v, list) else v) for k, v in FIELD_DEFAULTS.items()})
    for key in FIELD_DEFAULTS:
        if key in ss:
            store[key] = ss[key]
        else:
            ss[key] = store[key]
    return store


def take_api_key() -> None:
    """on_change of the password field: keep the key as a SecretStr and empty the field."""
    ss = st.session_state
    typed = (ss.get(API_KEY_WIDGET) or "").strip()
    if typed:
        ss[API_KEY_SECRET] = SecretStr(typed)
    ss[API_KEY_WIDGET] = ""


def forget_api_key() -> None:
    st.session_state.pop(API_KEY_SECRET, None)


def session_api_key() -> SecretStr | None:
    key = st.session_state.get(API_KEY_SECRET)
    return key if isinstance(key, SecretStr) else None


def env_api_key_set() -> bool:
    """True when the environment holds a key (its value is never read out here)."""
    return bool(os.environ.get(DEFAULT_API_KEY_ENV))


def config_from_form(values: Mapping[str, Any], api_key: SecretStr | None = None) -> ProbeConfig:
    """The probe settings from the form; ProbeConfigError with one sentence when they are invalid."""
    if not values.get("probe_concurrency"):
        raise ProbeConfigError("Choose at least one concurrency level.")
    url = str(values.get("probe_url") or "").strip()
    if not url:
        raise ProbeConfigError("Enter the endpoint URL, e.g. http://127.0.0.1:8000/v1.")
    try:
        allowlist.check(url)  # a shared dashboard probes only what its operator allows
    except allowlist.TargetNotAllowed as exc:
        raise HostNotAllowedError(str(exc)) from None
    try:
        return ProbeConfig(
            url=url,
            api=None if values.get("probe_api") == "auto" else values.get("probe_api"),
            model=str(values.get("probe_model") or "").strip() or None,
            endpoint=values.get("probe_endpoint") or "chat",
            concurrency=tuple(sorted({int(c) for c in values["probe_concurrency"]})),
            requests_per_level=int(values["probe_requests"]),
            prompt_tokens=int(values["probe_prompt_tokens"]),
            max_tokens=int(values["probe_max_tokens"]),
            timeout_s=float(values["probe_timeout_s"]),
            api_key=api_key,
            keep_request_log=False,  # per-request timelines would bloat session state and the PDF
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "setting"
        raise ProbeConfigError(f"Invalid probe setting '{where}': {first.get('msg')}.") from None


def detected_api_text(url: str) -> str:
    """What auto-detection makes of the URL, for the API-type picker's label."""
    try:
        return Endpoint.parse(url).api
    except ProbeConfigError:
        return "?"


def allow_list_text() -> str:
    return allowlist.current().describe()


def refused_host_text(message: str) -> str:
    return (f"**Host refused.** {message}. The dashboard probes only the hosts its operator allows: they add it to "
            f"`{allowlist.ALLOW_ENV}` (comma-separated hosts, networks such as 10.0.0.0/8, or `*`) or to the "
            "allow-list file, and restart the dashboard.")


def list_models(config: ProbeConfig) -> list[str]:
    """The models the endpoint lists (GET /v1/models or /api/tags).

    Raises HostNotAllowedError, ProbeConfigError, or RequestFailed (classified, redacted).
    """
    endpoint = Endpoint.parse(config.url, config.api)
    check_host_allowed(endpoint.host)
    client = make_client(endpoint, model=None, api_key=config.resolved_api_key(), redactor=build_redactor(config),
                         timeout_s=config.timeout_s, connect_timeout_s=config.connect_timeout_s)
    with requests.Session() as session:
        return client.list_models(session)


# ---------------------------------------------------------------- secrets

def scrub(result: Mapping[str, Any], secrets: Iterable[str | None] = ()) -> dict[str, Any]:
    """A result dict fit to keep: the report's sanitiser, then every known secret masked wherever it appears."""
    clean = sanitize_probe(dict(result))
    known = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)
    return _mask(clean, known) if known else clean


def _mask(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, "***")
        return value
    if isinstance(value, dict):
        return {_mask(k, secrets): _mask(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask(v, secrets) for v in value]
    return value


# ---------------------------------------------------------------- the plan's predictions

def predictions(plan: Plan | None) -> dict[str, Any] | None:
    """The top pick's predicted speed (tokens/s, s) and the plan's targets; None without a pick."""
    if plan is None or plan.recommendation is None:
        return None
    top = plan.recommendation
    speed = top.speed
    return {
        "label": f"{top.model_name} ({top.quant}) on {top.engine}, {top.gpus} × {top.gpu_name}",
        "decode_tokens_per_s": speed.decode_tokens_per_s,
        "decode_tokens_per_s_at_concurrency": speed.decode_tokens_per_s_at_concurrency,
        "ttft_s": speed.ttft_s,
        "throughput_tokens_per_s": speed.throughput_tokens_per_s,
        "concurrency": speed.concurrency,
        "max_ttft_s": plan.constraints.get("max_ttft_s"),
        "min_tokens_per_s": plan.constraints.get("min_tokens_per_s"),
    }


# ---------------------------------------------------------------- tables and messages

LEVEL_COLUMNS = ["concurrency", "requests", "succeeded", "errors", "errors_by_kind", "ttft_p50_s", "ttft_p90_s",
                 "ttft_p99_s", "inter_token_p50_s", "inter_token_p90_s", "tokens_per_s_per_stream_p50",
                 "aggregate_tokens_per_s", "requests_per_s"]


def levels_frame(levels: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per concurrency level; times in s, rates per s."""
    rows = []
    for lv in _levels_sorted(levels):
        kinds = lv.get("errors_by_kind") or {}
        rows.append({
            "concurrency": lv.get("concurrency"), "requests": lv.get("requests"), "succeeded": lv.get("succeeded"),
            "errors": lv.get("errors"),
            "errors_by_kind": ", ".join(f"{k}: {n}" for k, n in sorted(kinds.items())) or "—",
            "ttft_p50_s": _pct(lv, "ttft_s", "p50"), "ttft_p90_s": _pct(lv, "ttft_s", "p90"),
            "ttft_p99_s": _pct(lv, "ttft_s", "p99"),
            "inter_token_p50_s": _pct(lv, "inter_token_s", "p50"), "inter_token_p90_s": _pct(lv, "inter_token_s", "p90"),
            "tokens_per_s_per_stream_p50": _pct(lv, "output_tokens_per_s_per_stream", "p50"),
            "aggregate_tokens_per_s": lv.get("aggregate_output_tokens_per_s"),
            "requests_per_s": lv.get("requests_per_s"),
        })
    return pd.DataFrame(rows, columns=LEVEL_COLUMNS)


LEVEL_COLUMN_CONFIG = {
    "concurrency": st.column_config.NumberColumn("Concurrency", help="Streams kept in flight"),
    "requests": st.column_config.NumberColumn("Requests"),
    "succeeded": st.column_config.NumberColumn("OK"),
    "errors": st.column_config.NumberColumn("Errors"),
    "errors_by_kind": st.column_config.TextColumn("Errors by kind"),
    "ttft_p50_s": st.column_config.NumberColumn("TTFT p50 (s)", format="%.3f"),
    "ttft_p90_s": st.column_config.NumberColumn("TTFT p90 (s)", format="%.3f"),
    "ttft_p99_s": st.column_config.NumberColumn("TTFT p99 (s)", format="%.3f"),
    "inter_token_p50_s": st.column_config.NumberColumn("Inter-token p50 (s)", format="%.4f"),
    "inter_token_p90_s": st.column_config.NumberColumn("Inter-token p90 (s)", format="%.4f"),
    "tokens_per_s_per_stream_p50": st.column_config.NumberColumn("Tokens/s per stream p50", format="%.1f"),
    "aggregate_tokens_per_s": st.column_config.NumberColumn("Aggregate tokens/s", format="%.1f"),
    "requests_per_s": st.column_config.NumberColumn("Requests/s", format="%.2f"),
}


TARGET_LABELS = {
    "ttft_s": "TTFT p90, 1 stream (s)",
    "decode_tokens_per_s": "Decode p50 per stream, 1 stream (tokens/s)",
    "throughput_tokens_per_s": "Throughput, planned load (tokens/s)",
    "ttft_s_at_planned_concurrency": "TTFT p90, planned load (s)",
    "decode_tokens_per_s_at_planned_concurrency": "Decode p50 per stream, planned load (tokens/s)",
}


def comparison_frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Predicted against measured, one row per target of `planner.probe.compare`."""
    return pd.DataFrame([{
        "target": TARGET_LABELS.get(str(r.get("target")), r.get("target")), "at_concurrency": r.get("at_concurrency"), "predicted": r.get("predicted"),
        "measured": r.get("measured"), "error_pct": r.get("error_pct"), "requirement": r.get("requirement"),
        "verdict": r.get("verdict"),
    } for r in rows], columns=["target", "at_concurrency", "predicted", "measured", "error_pct", "requirement", "verdict"])


COMPARISON_COLUMN_CONFIG = {
    "target": "Quantity", "at_concurrency": st.column_config.NumberColumn("At streams"),
    "predicted": st.column_config.NumberColumn("Predicted", format="%.3g"),
    "measured": st.column_config.NumberColumn("Measured", format="%.3g"),
    "error_pct": st.column_config.NumberColumn("Measured vs predicted (%)", format="%+.0f%%"),
    "requirement": st.column_config.NumberColumn("Your target", format="%.3g"),
    "verdict": "Verdict",
}
# Material icons, not emoji: they render without an emoji font (headless browsers, some desktops).
VERDICT_ICON = {"meets": ":green[:material/check_circle:]", "misses": ":red[:material/cancel:]",
                "no-target": ":gray[:material/info:]"}


def fault_messages(result: Mapping[str, Any]) -> list[tuple[str, str]]:
    """What went wrong in a run, as (level, markdown) with level "error", "warning" or "info"."""
    out: list[tuple[str, str]] = []
    fatal = result.get("fatal_error")
    url = result.get("url", "the endpoint")
    if isinstance(fatal, Mapping):
        kind = str(fatal.get("kind"))
        out.append(("error", f"**Could not use {url}: {kind}.** {FAULT_HINTS.get(kind, '')}"
                             + (f"\n\nServer or client said: {fatal.get('message')}" if fatal.get("message") else "")))
    elif result.get("stopped_reason"):
        out.append(("warning", f"**The run stopped early: {result['stopped_reason']}.** The levels measured "
                               "before it stopped are kept below."))
    failures = []
    for lv in _levels_sorted(result.get("levels") or []):
        kinds = lv.get("errors_by_kind") or {}
        if not kinds:
            continue
        examples = lv.get("error_examples") or {}
        parts = [f"{n} × `{k}`" + (f" (“{examples[k]}”)" if examples.get(k) else "") for k, n in sorted(kinds.items())]
        streams = f"{lv.get('concurrency')} stream{'s' if lv.get('concurrency') != 1 else ''}"
        failures.append(f"- at {streams}: {lv.get('errors')} of {lv.get('requests')} failed: "
                        + "; ".join(parts))
    if failures:
        hints = {k for lv in result.get("levels") or [] for k in (lv.get("errors_by_kind") or {})}
        out.append(("warning", "**Some requests failed; they are counted as errors, not timed.**\n"
                    + "\n".join(failures) + "\n\n" + " ".join(f"`{k}`: {FAULT_HINTS[k]}" for k in sorted(hints)
                                                                 if k in FAULT_HINTS)))
    saturated = [lv.get("concurrency") for lv in result.get("levels") or [] if lv.get("client_saturated")]
    if saturated:
        out.append(("warning", "The probe itself was near one CPU core at "
                    + ", ".join(f"{c} streams" for c in saturated)
                    + ": the aggregate there may be limited by this machine, not the server."))
    warmup = result.get("warmup") or {}
    if warmup.get("note"):
        out.append(("info", f"Note: {warmup['note']}."))
    return out


def show_messages(messages: Iterable[tuple[str, str]]) -> None:
    draw = {"error": st.error, "warning": st.warning, "info": st.info, "success": st.success}
    icons = {"error": ":material/error:", "warning": ":material/warning:", "info": ":material/info:",
             "success": ":material/check_circle:"}
    for level, text in messages:
        draw.get(level, st.info)(text, icon=icons.get(level))


def dumps(obj: Any) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False, default=str)


# ---------------------------------------------------------------- live progress

class LiveView:
    """The `on_progress` callback: moves the progress bar and redraws the charts into placeholders.

    The runner calls it in the script's own thread, so Streamlit calls are allowed here.
    """

    def __init__(self, progress_slot, speed_slot, ttft_slot, predicted: Mapping[str, Any] | None,
                 plotly_config: Mapping[str, Any] | None = None):
        self.progress_slot, self.speed_slot, self.ttft_slot = progress_slot, speed_slot, ttft_slot
        self.predicted = predicted
        self.config = dict(plotly_config or {})
        self.finished: list[dict[str, Any]] = []
        self.draws = 0
        self.last_draw_s = 0.0
        self.progress_slot.progress(0.0, text="Connecting…")

    def __call__(self, event: ProgressEvent) -> None:
        if event.kind == "warmup":
            self.progress_slot.progress(0.0, text=f"Warming up: {event.done} of {event.total} request(s)…")
        elif event.kind == "request":
            share = (event.level_index or 0) + (event.done / event.total if event.total else 0)
            self.progress_slot.progress(min(1.0, share / max(1, event.level_count)),
                                        text=f"{event.concurrency} streams: {event.done} of {event.total} requests · "
                                             f"level {(event.level_index or 0) + 1} of {event.level_count} · "
                                             f"{event.elapsed_s:.1f} s")
            if event.level is not None and time.monotonic() - self.last_draw_s >= LIVE_REDRAW_S:
                self.draw([*self.finished, event.level.model_dump(mode="json")])
        elif event.kind == "level":
            if event.level is not None:
                self.finished.append(event.level.model_dump(mode="json"))
            self.draw(self.finished)
        elif event.kind == "finished":
            self.progress_slot.progress(1.0, text=f"Finished in {event.elapsed_s:.1f} s.")

    def draw(self, levels: list[dict[str, Any]]) -> None:
        # Every chart drawn in one script run needs its own id, so live frames are numbered.
        self.draws += 1
        self.last_draw_s = time.monotonic()
        self.speed_slot.plotly_chart(speed_figure(levels, self.predicted), key=f"probe_live_speed_{self.draws}",
                                     config=self.config)
        self.ttft_slot.plotly_chart(ttft_figure(levels, self.predicted), key=f"probe_live_ttft_{self.draws}",
                                    config=self.config)
