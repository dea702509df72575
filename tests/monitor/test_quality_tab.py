"""The Probe page's Quality tab through AppTest, against a real local OpenAI-compatible server."""

from __future__ import annotations

from pathlib import Path

from oracle_server import OracleServer
from streamlit.testing.v1 import AppTest
from test_quality import SHIPPED, right_answer

from planner.quality import load_samples

APP = str(Path(__file__).resolve().parents[2] / "streamlit_app.py")


def test_quality_tab_runs_the_shipped_samples_and_compares_two_endpoints():
    samples = load_samples(SHIPPED)
    good = OracleServer({s.prompt: right_answer(s) for s in samples})
    bad = OracleServer({s.prompt: "I cannot say" for s in samples})
    try:
        at = AppTest.from_file(APP, default_timeout=60).run()
        at.switch_page("pages/probe.py").run()
        at.text_input(key="quality_url").set_value(bad.url)
        at.text_input(key="quality_against").set_value(good.url).run()
        at.button(key="quality_run").click().run()
    finally:
        good.stop()
        bad.stop()
    assert not at.exception, [e.value for e in at.exception]
    assert [m.value for m in at.metric] == ["0% passed", "100% passed"]
    assert any("McNemar's exact p = 1.91e-06" in i.value for i in at.info)
