"""The Monitor page through Streamlit's AppTest, reading a vLLM-format test server twice."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "streamlit_app.py")


def test_monitor_page_reads_a_server_and_judges_it_against_the_plan(serve):
    server = serve("vllm")
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("pages/monitor.py").run()
    assert not at.exception and at.title[0].value == "Monitor a running deployment"
    at.text_area(key="monitor_urls").set_value(server.url).run()
    at.button(key="monitor_read").click().run()
    assert any("second one" in c.value for c in at.caption)
    for _ in range(3):
        server.metrics.request(3.0, [0.02, 0.02, 0.04], prompt_tokens=48)
    at.button(key="monitor_read").click().run()
    assert not at.exception, [e.value for e in at.exception]
    text = "\n".join(m.value for m in at.markdown)
    # three first tokens at 3 s, all in vLLM's (2.5, 5] bucket: rank 0.9 × 3 = 2.7 → 2.5 + 2.5 × 2.7 / 3
    assert "**missed** · TTFT p90 4.75 s" in text and "against the target of" in text
    assert len(at.get("plotly_chart")) == 1


def test_monitor_page_says_what_is_wrong_with_an_unreachable_url():
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("pages/monitor.py").run()
    at.text_area(key="monitor_urls").set_value("http://127.0.0.1:9/metrics").run()
    at.button(key="monitor_read").click().run()
    assert not at.exception
    assert at.error and "cannot read http://127.0.0.1:9/metrics" in at.error[0].value
