"""The Probe page's Quality tab: send sample prompts with checks to an endpoint (planner.quality), show the result."""

from __future__ import annotations

import os

import pandas as pd
import streamlit as st

from planner.quality import QualityError, compare, load_samples, parse_samples, run_quality
from planner.quality.run import QualityReport

SHIPPED = "data/quality_samples.jsonl"
RESULT = "quality_result"


FORMAT = """One JSON object per line:

```json
{"id": "capital-fr", "prompt": "What is the capital of France? One word.", "check": {"type": "exact", "answer": "Paris"}}
{"id": "sum", "prompt": "17 + 25?", "check": {"type": "numeric", "answer": 42, "tolerance": 0}}
{"id": "mcq", "prompt": "... A) ... B) ...", "check": {"type": "choice", "choices": ["A", "B"], "answer": "B"}}
{"id": "iso", "prompt": "...", "check": {"type": "regex", "pattern": "\\d{4}-\\d{2}-\\d{2}"}}
{"id": "json", "prompt": "...", "check": {"type": "json_schema", "schema": {"type": "object", "required": ["name"]}}}
```

Optional per line: `system`, `max_tokens` (default 64), `source`, `licence`. A bad line is reported with its number,
and nothing is sent until the whole file is valid."""


def render() -> None:
    quality, formats = st.tabs(["Quality on sample outputs", "Sample file format"])
    with formats:
        st.markdown(FORMAT)
    with quality:
        _run_tab()


def _run_tab() -> None:
    ss = st.session_state
    st.caption("Sends each sample's prompt at temperature 0 and checks the reply (exact answer, regular expression, "
               "one of several choices, JSON schema, number within a tolerance). The shipped set is 20 samples "
               "written for this project (CC0-1.0); upload your own JSONL to check what your users ask.")
    cols = st.columns(2)
    url = cols[0].text_input("Endpoint URL", key="quality_url", placeholder="http://127.0.0.1:8000/v1")
    against = cols[1].text_input("Compare with (optional)", key="quality_against", placeholder="http://127.0.0.1:8001/v1")
    model = cols[0].text_input("Model (default: the first the server lists)", key="quality_model")
    upload = cols[1].file_uploader("Sample file (JSONL; default: the shipped set)", type=["jsonl", "json"],
                                   key="quality_samples")
    if st.button("Run the samples", key="quality_run", icon=":material/fact_check:", disabled=not url.strip()):
        ss.pop(RESULT, None)
        try:
            samples = (parse_samples(upload.getvalue().decode("utf-8", errors="replace"), name=upload.name)
                       if upload else load_samples(SHIPPED))
            key = os.environ.get("PLANNER_PROBE_API_KEY") or None
            first = run_quality(url.strip(), samples, model=model.strip() or None, api_key=key)
            second = run_quality(against.strip(), samples, api_key=key) if against.strip() else None
        except QualityError as exc:
            st.error(str(exc))
        else:
            ss[RESULT] = (first, second)
    if ss.get(RESULT):
        first, second = ss[RESULT]
        for report in filter(None, (first, second)):
            _show(report)
        if second:
            st.info(compare(first, second).sentence, icon=":material/compare_arrows:")


def _show(report: QualityReport) -> None:
    low, high = report.pass_rate_interval_95
    st.metric(f"{report.url} · {report.model}", f"{report.pass_rate:.0%} passed",
              f"{report.passed}/{report.samples}; 95% interval {low:.0%}–{high:.0%}", delta_color="off")
    if report.latency_p50_s is not None:
        st.caption(f"Latency p50 {report.latency_p50_s:.2f} s, p90 {report.latency_p90_s:.2f} s; "
                   f"{report.request_errors} request(s) failed.")
    if report.failures:
        st.dataframe(pd.DataFrame([{"sample": r.id, "why": r.reason, "reply": (r.reply or "")[:200]}
                                   for r in report.failures]), hide_index=True)
