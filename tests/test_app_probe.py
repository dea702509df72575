"""The Probe page through AppTest, against the probe tests' fake streaming servers on loopback."""

import json
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "probe"))

from probe_fakes import FakeLLMServer, closed_port  # noqa: E402

from planner.plan.constraints import Constraints  # noqa: E402
from planner.plan.recommend import recommend  # noqa: E402
from planner.report.document import plan_pdf  # noqa: E402
from ui import probe_view  # noqa: E402

APP = str(ROOT / "streamlit_app.py")
PAGE = "pages/probe.py"
TIMEOUT_S = 60
KEY = "sk-ui-TOPSECRET-0123456789abcdef"


@pytest.fixture(autouse=True)
def probe_env(monkeypatch, tmp_path):
    """The default allow-list (loopback), no key in the environment, and a private calibration file."""
    monkeypatch.delenv("PLANNER_PROBE_ALLOWED_HOSTS", raising=False)
    monkeypatch.delenv("PLANNER_PROBE_ALLOW", raising=False)
    monkeypatch.setenv("PLANNER_PROBE_ALLOW_FILE", str(tmp_path / "no-such-allow-file.txt"))
    monkeypatch.delenv("PLANNER_PROBE_API_KEY", raising=False)
    monkeypatch.setenv("PLANNER_CALIBRATION_FILE", str(tmp_path / "calibration.json"))


@pytest.fixture(scope="module")
def fake_server():
    server = FakeLLMServer().start()
    yield server
    server.stop()


def probe_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT_S).run()
    at.switch_page(PAGE).run()
    return at


def run_against(at: AppTest, url: str, concurrency=(1, 2), requests=2, max_tokens=4) -> AppTest:
    at.text_input(key="probe_url").set_value(url)
    at.text_input(key="probe_model").set_value("fake-model")
    at.multiselect(key="probe_concurrency").set_value(list(concurrency))
    at.number_input(key="probe_requests").set_value(requests)
    at.number_input(key="probe_prompt_tokens").set_value(16)
    at.number_input(key="probe_max_tokens").set_value(max_tokens)
    at.number_input(key="probe_timeout_s").set_value(5.0)
    return at.button(key="probe_run").click().run()


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def table_with(at: AppTest, *columns: str):
    for frame in at.dataframe:
        if set(columns) <= set(frame.value.columns):
            return frame.value
    raise AssertionError(f"no table with columns {columns}")


def everything_kept(at: AppTest) -> str:
    """Session state as a user, an export or the frontend could see it (internal widget ids included),
    plus the URL parameters."""
    safe = at.session_state._state  # SafeSessionState: its repr lists widget ids too
    parts = [repr(at.session_state), json.dumps(at.session_state.to_dict(), default=str), repr(safe),
             repr(dict(at.query_params)), repr(safe.get_widget_states())]
    full = safe._state
    for key in full._keys():
        parts.append(repr(full[key]))
    return "\n".join(parts)


def test_default_render():
    at = probe_page()
    assert_clean(at)
    assert at.title[0].value == "Probe a running endpoint"
    assert not at.error
    assert any("top pick" in i.value for i in at.info)
    # The allow-list in force is on the page: loopback only unless the operator widens it.
    assert any("127.0.0.0/8" in c.value and "PLANNER_PROBE_ALLOW" in c.value for c in at.caption)
    assert not any("/root" in c.value or "/home" in c.value or "/tmp" in c.value for c in at.caption), "a server path is shown"


def test_run_against_a_fake_server_then_attach(fake_server):
    at = probe_page()
    run_against(at, fake_server.url("ok"))
    assert_clean(at)
    assert not at.error, [e.value for e in at.error]
    table = table_with(at, "concurrency", "errors_by_kind", "ttft_p50_s", "aggregate_tokens_per_s")
    assert list(table["concurrency"]) == [1, 2]
    assert list(table["succeeded"]) == [2, 2]
    # Live and final charts were drawn; predicted values appear beside measured ones.
    figures = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    names = {t.get("name") for f in figures for t in f["data"]}
    assert {"Measured per stream (p50)", "Measured aggregate", "Measured p50", "Plan: TTFT"} <= names
    # The comparison's sentences are shown.
    comparison = table_with(at, "target", "predicted", "measured", "verdict")
    assert "TTFT p90, 1 stream (s)" in set(comparison["target"])
    assert any("the plan predicted" in m.value for m in at.markdown)

    at.button(key="probe_attach").click().run()
    assert_clean(at)
    attached = at.session_state[probe_view.ATTACHED]
    assert [lv["concurrency"] for lv in attached["levels"]] == [1, 2]
    assert attached["comparison"], "the comparison is attached with the measurements"
    assert any("Attached" in s.value for s in at.success)
    at.button(key="probe_detach").click().run()
    assert probe_view.ATTACHED not in at.session_state
    assert at.button(key="probe_attach")


def test_refused_port_is_a_message_not_an_exception():
    at = probe_page()
    run_against(at, f"http://127.0.0.1:{closed_port()}/v1", concurrency=(1,), requests=1)
    assert_clean(at)
    messages = [e.value for e in at.error]
    assert any("refused" in m and "running" in m for m in messages), messages
    with pytest.raises(AssertionError):
        table_with(at, "concurrency", "errors_by_kind")


def test_failed_requests_are_counted_and_partial_results_kept():
    server = FakeLLMServer().start()  # its own: "flaky" fails every second request the server sees
    try:
        at = probe_page()
        run_against(at, server.url("flaky"))
    finally:
        server.stop()
    assert_clean(at)
    assert any("server_error" in w.value and "flaky" in w.value for w in at.warning), [w.value for w in at.warning]
    table = table_with(at, "concurrency", "errors", "errors_by_kind")
    assert table["errors"].sum() >= 1 and "server_error" in " ".join(table["errors_by_kind"])
    assert (table["succeeded"] > 0).all()


def test_host_outside_the_allow_list_names_the_setting(monkeypatch, fake_server):
    monkeypatch.setenv("PLANNER_PROBE_ALLOWED_HOSTS", "gpu-box.internal")
    at = probe_page()
    run_against(at, fake_server.url("ok"), concurrency=(1,), requests=1)
    assert_clean(at)
    assert any("PLANNER_PROBE_ALLOW" in e.value and "127.0.0.1" in e.value for e in at.error)
    at.button(key="probe_list_models").click().run()
    assert any("PLANNER_PROBE_ALLOW" in e.value for e in at.error)


def test_a_host_off_the_default_allow_list_is_refused_before_any_request(fake_server):
    """Loopback by default: a public address typed by a visitor gets no request at all."""
    at = probe_page()
    before = len(fake_server.requests_seen)
    run_against(at, "http://192.0.2.10:8000/v1", concurrency=(1,), requests=1)  # TEST-NET-1: never routed
    assert_clean(at)
    assert any("Host refused" in e.value and "192.0.2.10" in e.value for e in at.error)
    assert len(fake_server.requests_seen) == before


def test_list_models_fills_the_model(fake_server):
    at = probe_page()
    at.text_input(key="probe_url").set_value(fake_server.url("ok"))
    at.button(key="probe_list_models").click().run()
    assert_clean(at)
    assert at.text_input(key="probe_model").value == "fake-model"
    assert any("fake-model" in s.value for s in at.success)


def test_api_key_is_sent_but_never_kept(fake_server):
    at = probe_page()
    at.text_input(key=probe_view.API_KEY_WIDGET).input(KEY).run()
    assert_clean(at)
    assert at.text_input(key=probe_view.API_KEY_WIDGET).value == ""
    assert KEY not in repr(at.session_state) and KEY not in json.dumps(at.session_state.to_dict(), default=str)
    assert any("API key is set" in c.value for c in at.caption)
    before = len(fake_server.requests_seen)
    run_against(at, fake_server.url("ok"), concurrency=(1,), requests=1)
    at.button(key="probe_attach").click().run()
    assert_clean(at)
    sent = [h.get("Authorization", "") for _, _, h, _ in fake_server.requests_seen[before:]]
    assert f"Bearer {KEY}" in sent, "the key typed in the page was not used"
    attached = at.session_state[probe_view.ATTACHED]
    assert KEY not in json.dumps(attached)
    assert KEY not in json.dumps(at.session_state[probe_view.RESULT])
    assert KEY not in everything_kept(at)
    # The key is in none of the page's text either.
    shown = [e.value for e in (*at.markdown, *at.caption, *at.error, *at.warning, *at.success, *at.info)]
    assert not [s for s in shown if KEY in s]


def test_credentials_in_the_url_stay_out_of_the_result(fake_server):
    at = probe_page()
    run_against(at, fake_server.url("ok") + f"?api_key={KEY}", concurrency=(1,), requests=1)
    assert_clean(at)
    assert any("credentials" in w.value for w in at.warning), "no advice to use the key field"
    at.button(key="probe_attach").click().run()
    assert KEY not in json.dumps(at.session_state[probe_view.ATTACHED])
    assert KEY not in json.dumps(at.session_state[probe_view.RESULT])
    assert not [t for t in (*at.markdown, *at.caption) if KEY in t.value]


def test_calibrate_shows_and_deletes_the_file(fake_server, tmp_path):
    fake_server.slow_token_s = 0.05  # 20 tokens/s: below any pick's roofline
    at = probe_page()
    run_against(at, fake_server.url("slow"), concurrency=(1,), requests=1, max_tokens=4)
    assert_clean(at)
    at.button(key="probe_calibrate").click().run()
    assert_clean(at)
    path = tmp_path / "calibration.json"
    stored = json.loads(path.read_text())
    assert stored[0]["endpoint_host"] == "127.0.0.1" and 0 < stored[0]["decode_efficiency"] < 1
    assert any("saved on the server" in s.value for s in at.success)
    assert not any(str(tmp_path) in s.value for s in at.success), "a server path is shown"
    assert any('"decode_efficiency"' in c.value for c in at.code)
    assert at.session_state["calibrations"] == stored
    at.button(key="probe_delete_calibration").click().run()
    assert_clean(at)
    assert not path.exists()


def test_attached_result_goes_into_the_pdf(fake_server):
    at = probe_page()
    run_against(at, fake_server.url("ok"), concurrency=(1,), requests=1)
    at.button(key="probe_attach").click().run()
    attached = at.session_state[probe_view.ATTACHED]
    pdf = plan_pdf(recommend(Constraints()), probe=attached)
    assert pdf.startswith(b"%PDF") and len(pdf) > 1000


def test_figures_and_scrub_directly():
    levels = [{"concurrency": 1, "ttft_s": {"p50": 0.1, "p90": 0.2}, "output_tokens_per_s_per_stream": {"p50": 50},
               "aggregate_output_tokens_per_s": 50},
              {"concurrency": 4, "ttft_s": {"p50": 0.3, "p90": 0.5}, "output_tokens_per_s_per_stream": {"p50": 40},
               "aggregate_output_tokens_per_s": 160}]
    predicted = {"decode_tokens_per_s": 60, "decode_tokens_per_s_at_concurrency": 45, "ttft_s": 0.15,
                 "throughput_tokens_per_s": 170, "concurrency": 4, "max_ttft_s": 1.0, "min_tokens_per_s": 20}
    speed = probe_view.speed_figure(levels, predicted)
    assert [t.name for t in speed.data] == ["Measured per stream (p50)", "Measured aggregate", "Plan: per stream",
                                            "Plan: aggregate per replica", "Your target: ≥ 20 per stream"]
    assert list(speed.data[2].y) == [60, 45]
    ttft = probe_view.ttft_figure(levels, None)
    assert list(ttft.data[1].y) == [0.2, 0.5]
    dirty = {"url": f"http://h/v1?api_key={KEY}", "note": f"Bearer {KEY}", "headers": {"Authorization": KEY}}
    assert KEY not in json.dumps(probe_view.scrub(dirty, [KEY]))


# A plan whose peak is 20 requests/s (576,000 a day × 3 ÷ 86,400) of short requests, so a sweep is quick.
FAST_PLAN = {"requests_per_day": "576000", "input_tokens": "16", "output_tokens": "6", "max_ttft_s": "2",
             "min_tokens_per_s": "50"}


def verify_against(url: str, multiples=(0.5, 1.0, 2.0), requests=6) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    at.query_params = dict(FAST_PLAN)
    at.run()
    at.switch_page(PAGE).run()
    at.text_input(key="probe_url").set_value(url)
    at.text_input(key="probe_model").set_value("fake-model")
    at.multiselect(key="probe_verify_multiples").set_value(list(multiples))
    at.number_input(key="probe_verify_requests").set_value(requests)
    return at.button(key="probe_verify").click().run()


def test_verify_this_plan_meets_it(fake_server):
    fake_server.slow_token_s = 0.005  # 200 tokens/s per stream, above the plan's 50
    at = verify_against(fake_server.url("slow"))
    assert_clean(at)
    assert any("20 requests/s" in c.value and "Poisson" in c.value for c in at.caption)
    verdicts = [s.value for s in at.success]
    assert any(v.startswith("Meets the plan at its peak: at 20 requests/s") for v in verdicts), verdicts
    table = table_with(at, "multiple", "request_rate_rps", "attainment", "goodput_rps")
    assert list(table["request_rate_rps"]) == [10.0, 20.0, 40.0]
    assert (table["attainment"] == 1.0).all() and (table["errors"] == 0).all()
    figures = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert any({t.get("name") for t in f["data"]} >= {"Offered", "Goodput (met both targets)"} for f in figures)
    stored = at.session_state["probe_verified"]
    assert stored["verification"]["verdict"] == "meets" and stored["result"]["mode"] == "rate"


def test_verify_this_plan_misses_it_and_says_what_to_change(fake_server):
    fake_server.slow_token_s = 0.05  # 20 tokens/s per stream, below the plan's 50
    at = verify_against(fake_server.url("slow"), multiples=(0.5, 1.0), requests=4)
    assert_clean(at)
    errors = [e.value for e in at.error]
    assert any(e.startswith("Misses the plan at its peak") and "0% of 4 requests" in e for e in errors), errors
    assert any("more replicas will not help" in m.value for m in at.markdown)
    assert at.session_state["probe_verified"]["verification"]["verdict"] == "misses"


def test_verify_needs_the_peak_among_the_multiples(fake_server):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    at.query_params = dict(FAST_PLAN)
    at.run()
    at.switch_page(PAGE).run()
    at.multiselect(key="probe_verify_multiples").set_value([0.5, 2.0]).run()
    assert_clean(at)
    assert at.button(key="probe_verify").disabled
