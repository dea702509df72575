"""A misbehaving server cannot hold the probe: each mode ends in bounded time and memory, as a
classified fault, with what was received kept.

Every mode is a real local server (tests/probe/probe_fakes.py) that streams forever, sends only
keep-alive comments, never sends a newline, sends one huge line, ignores max_tokens, answers 429/503
with Retry-After, or is not there at all. Time is bounded by a generous wall clock (the failure
these tests exist for is "never ends", not "a little slow"), memory by tracemalloc's peak of the
Python heap during the run (the streams' buffers are Python bytes).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
import tracemalloc
from contextlib import contextmanager

import pytest
import requests
from probe_fakes import closed_port

from planner.probe import Endpoint, ProbeConfig, ProbeConfigError, run_probe
from planner.probe.backoff import Backoff, parse_retry_after_s
from planner.probe.factory import make_client
from planner.probe.faults import RequestFailed
from planner.probe.limits import MAX_LINE_BYTES, LineSplitter, max_chunks, request_wall_s

KEY = "sk-misbehaving-0123456789abcdef"
PASSWORD = "pw-misbehaving-9876543210"
# Far above the caps' own cost (a 1 MiB line, joined once) and far below what an unbounded buffer
# reaches in the seconds before a time bound would fire (the server writes as fast as loopback takes).
PEAK_HEAP_BYTES = 24 * 1024 * 1024
BOUND_S = 30.0  # the bug is "never ends"; a loaded 2-core machine must pass in well under this


@contextmanager
def bounded():
    """Measure the wall time and the Python heap's peak of the block; `box` holds both afterwards."""
    box: dict[str, float] = {}
    tracemalloc.start()
    start_s = time.perf_counter()
    try:
        yield box
    finally:
        box["elapsed_s"] = time.perf_counter() - start_s
        box["peak_bytes"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


def _probe(url: str, **overrides):
    settings = dict(url=url, model="fake-model", concurrency=(1,), requests_per_level=2, warmup_requests=0,
                    max_tokens=8, prompt_tokens=16, timeout_s=2.0, connect_timeout_s=2.0, use_tokenizer=False)
    settings.update(overrides)
    with bounded() as box:
        result = run_probe(ProbeConfig(**settings))
    json.dumps(result.to_dict())
    assert box["elapsed_s"] < BOUND_S, box
    assert box["peak_bytes"] < PEAK_HEAP_BYTES, box
    return result, box


def _only(result, kind: str):
    (level,) = result.levels
    assert level.errors_by_kind == {kind: level.requests}, (level.errors_by_kind, level.error_examples)
    assert level.succeeded == 0 and kind in level.error_examples
    return level


# -- output past max_tokens ---------------------------------------------------------------------

def test_endless_token_stream_stops_past_max_tokens_and_keeps_the_tokens(fake_server):
    result, _ = _probe(fake_server.url("endless"))
    level = _only(result, "too_many_tokens")
    received = [entry.output_tokens for entry in level.request_log]
    # Stopped at the first read past max_tokens + margin; what came before is kept.
    assert all(max_chunks(8) < n < max_chunks(8) + 2000 for n in received), received
    assert level.partial_output_tokens == sum(received)
    assert level.output_tokens == 0  # not a success: nothing in the percentiles
    assert "max_tokens=8" in level.error_examples["too_many_tokens"]


def test_tokens_past_max_tokens_then_a_clean_end_are_a_fault(fake_server):
    # 3 × max_tokens, then [DONE]: a server that ignores max_tokens, even if it stops by itself.
    result, _ = _probe(fake_server.url("overrun"), max_tokens=20)
    level = _only(result, "too_many_tokens")
    assert all(entry.output_tokens > max_chunks(20) for entry in level.request_log)


def test_the_margin_lets_a_little_more_than_max_tokens_through():
    assert max_chunks(8) == 8 + 16 and max_chunks(128) == 128 + 32
    # The default wall limit: the read timeout, then 1 s per token asked; an explicit one wins.
    assert request_wall_s(60, 128) == 188 and request_wall_s(60, 128, 5.0) == 5.0


# -- streams that never end ---------------------------------------------------------------------

def test_keep_alive_comments_alone_time_out(fake_server):
    # A comment every 20 ms would reset a plain socket read timeout forever.
    result, box = _probe(fake_server.url("keepalive"), timeout_s=0.5)
    level = _only(result, "timeout")
    assert "keep-alive" in level.error_examples["timeout"]
    assert box["elapsed_s"] < 10


def test_chunks_without_text_forever_end_at_the_request_limit(fake_server):
    # Data lines (progress for the read timeout), but no text and no end: the wall limit ends it.
    result, box = _probe(fake_server.url("emptyforever"), request_timeout_s=0.8)
    level = _only(result, "overtime")
    assert "0.8 s" in level.error_examples["overtime"]
    assert all(0.7 < entry.end_s - entry.start_s < 10 for entry in level.request_log)


def test_endless_stream_with_the_default_limits(fake_server):
    # No limit given: the defaults bound it (tokens here; the run limit too, 1800 s by default).
    config = ProbeConfig(url=fake_server.url("endless"), model="fake-model")
    assert config.run_timeout_s == 1800 and config.request_timeout_s is None
    result, _ = _probe(fake_server.url("endless"), max_tokens=32, timeout_s=60.0)
    _only(result, "too_many_tokens")


# -- bytes --------------------------------------------------------------------------------------

def test_a_stream_without_newlines_is_cut_at_the_line_cap_in_bounded_memory(fake_server):
    result, box = _probe(fake_server.url("nonewline"))
    level = _only(result, "too_large")
    assert "without a newline" in level.error_examples["too_large"]
    assert all(entry.output_tokens == 0 for entry in level.request_log)


def test_one_line_over_the_cap_is_too_large(fake_server):
    result, _ = _probe(fake_server.url("longline"))
    _only(result, "too_large")


def test_line_splitter_caps_a_line_and_a_response():
    lines = LineSplitter(max_line_bytes=10, max_response_bytes=40)
    assert lines.feed(b"data: 1\nda") == [b"data: 1"] and lines.feed(b"ta: 2\n") == [b"data: 2"]
    with pytest.raises(RequestFailed) as line_cap:
        lines.feed(b"x" * 11)  # no newline, past the line cap
    assert line_cap.value.kind.value == "too_large"
    small = LineSplitter(max_line_bytes=10, max_response_bytes=40)
    for _ in range(5):
        small.feed(b"ok\n: ka\n")  # 8 bytes of short lines each time
    with pytest.raises(RequestFailed, match="response passed 40 bytes"):
        small.feed(b"\n")  # the 41st byte


@pytest.mark.parametrize(("mode", "kind", "extra"), [
    ("endless", "too_many_tokens", {}),
    ("keepalive", "timeout", {"timeout_s": 0.5}),
    ("emptyforever", "overtime", {"request_timeout_s": 0.8}),
    ("nonewline", "too_large", {}),
])
def test_the_threaded_transport_is_bounded_alike(fake_server, mode, kind, extra):
    """Locust's users stream with requests (planner.probe.clients.run_request): the same bounds."""
    settings = dict(model="fake-model", max_tokens=8, timeout_s=2.0) | extra
    client = make_client(Endpoint.parse(fake_server.url(mode)), **settings)
    with bounded() as box, requests.Session() as session:
        record = client.run_request(session, "hello")
    assert record.error_kind == kind, record.error_message
    assert box["elapsed_s"] < BOUND_S and box["peak_bytes"] < PEAK_HEAP_BYTES, box


# -- the server says: later -----------------------------------------------------------------------

@pytest.mark.parametrize(("mode", "status_kind"), [("retry429", "rate_limited"), ("retry503", "server_error"),
                                                   ("retrydate", "rate_limited")])
def test_retry_after_is_honoured_between_requests(fake_server, mode, status_kind):
    before = len(fake_server.request_times_s)
    result, box = _probe(fake_server.url(mode), requests_per_level=3)
    level = _only(result, status_kind)
    assert level.backoff_waits == 3
    sent = [t for m, t in fake_server.request_times_s[before:] if m == mode]
    gaps = [b - a for a, b in zip(sent, sent[1:], strict=False)]
    # Retry-After: 1 (seconds), or an HTTP date 2 s ahead in whole seconds: at least ~1 s apart.
    assert len(sent) == 3 and all(gap >= 0.9 for gap in gaps), gaps


def test_open_loop_waits_out_retry_after_without_blaming_the_client(fake_server):
    result, _ = _probe(fake_server.url("retry429"), rates=(20.0,), requests_per_level=3)
    (level,) = result.levels
    assert level.errors_by_kind == {"rate_limited": 3} and level.backoff_waits == 3
    assert level.send_lag_s.p90 >= 0.5  # sent late, as the server asked
    assert not level.client_saturated  # ... which is not the client falling behind


def test_a_long_retry_after_is_capped_and_the_run_limit_still_holds(fake_server, monkeypatch):
    monkeypatch.setattr(fake_server, "retry_after_s", 3600.0)
    result, box = _probe(fake_server.url("retry429"), requests_per_level=3, run_timeout_s=1.5)
    assert result.stopped_reason == "run_timeout" and box["elapsed_s"] < 10
    (level,) = result.levels
    assert level.errors_by_kind == {"rate_limited": 1} and not level.complete
    pause = Backoff()
    pause.note(ok=False, end_s=0.0, http_status=429, retry_after_s=3600.0)
    assert pause.delay_s(now_s=0.0) == 30.0  # RETRY_AFTER_CAP_S


def test_warm_up_retries_a_rate_limited_endpoint_before_giving_up(fake_server):
    before = len(fake_server.request_times_s)
    result, _ = _probe(fake_server.url("retry429"), warmup_requests=1)
    assert result.fatal_error is not None and result.fatal_error.kind == "rate_limited"
    assert sum(1 for m, _ in fake_server.request_times_s[before:] if m == "retry429") == 3  # WARMUP_TRIES


def test_retry_after_parsing():
    assert parse_retry_after_s("120") == 120.0
    assert parse_retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT", now_unix_s=1445412470.0) == 10.0
    assert parse_retry_after_s("soon") is None and parse_retry_after_s(None) is None
    pause = Backoff()
    for expected in (0.1, 0.2, 0.4):  # no Retry-After: doubling
        pause.note(ok=False, end_s=0.0, http_status=503)
        assert pause.delay_s(now_s=0.0) == pytest.approx(expected)
    pause.note(ok=True, end_s=0.0)
    pause.note(ok=False, end_s=10.0, error_kind="refused")
    assert pause.delay_s(now_s=10.0) == pytest.approx(0.1)  # a success reset it


def test_a_refused_port_fails_fast_in_the_probe(fake_server):
    # A level's requests are finite: no pause for refused connections, the sweep stops at once.
    result, box = _probe(f"http://127.0.0.1:{closed_port()}/v1", concurrency=(1, 2), requests_per_level=4)
    assert result.stopped_reason == "every request failed at concurrency 1 (refused)"
    assert box["elapsed_s"] < 10


# -- the run limit keeps what it measured ---------------------------------------------------------

def test_run_limit_before_any_request_finishes_keeps_the_tokens(fake_server):
    # ~0.05 s a token × 200 tokens: no request can finish in the 1 s the run may last.
    result, box = _probe(fake_server.url("slow"), max_tokens=200, run_timeout_s=1.0, request_timeout_s=60)
    assert result.stopped_reason == "run_timeout" and not result.reached_endpoint
    (level,) = result.levels
    assert level.cancelled >= 1 and level.errors == 0 and not level.complete
    assert level.partial_output_tokens >= 3
    assert [entry.error_kind for entry in level.request_log][0] == "cancelled"
    assert box["elapsed_s"] < 8


def test_run_limit_during_the_warm_up_keeps_its_tokens(fake_server):
    result, _ = _probe(fake_server.url("slow"), max_tokens=200, run_timeout_s=1.0, warmup_requests=1)
    assert result.stopped_reason == "run_timeout" and result.levels == []
    assert result.warmup.cancelled == 1 and result.warmup.output_tokens >= 3
    assert result.fatal_error is None


def test_cli_exit_3_and_the_partial_json_when_the_run_limit_fires(fake_server, subprocess_env):
    proc = subprocess.run(
        [sys.executable, "-m", "planner.probe", "--url", fake_server.url("slow"), "--model", "fake-model",
         "--concurrency", "1", "--requests", "2", "--max-tokens", "200", "--prompt-tokens", "16", "--warmup", "0",
         "--run-timeout-s", "1", "--json"], capture_output=True, text=True, env=subprocess_env, timeout=120)
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.count("\n") == 1 and "--run-timeout-s" in proc.stderr and "Traceback" not in proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["stopped_reason"] == "run_timeout" and doc["settings"]["run_timeout_s"] == 1
    assert doc["levels"][0]["partial_output_tokens"] >= 3
    assert doc["settings"]["limits"]["max_line_bytes"] == MAX_LINE_BYTES
    assert doc["settings"]["limits"]["request_wall_s"] == 60 + 200  # the default: --timeout-s + 1 s a token


# -- credentials in the URL beside a key ----------------------------------------------------------

def _auth_seen(server, before: int, path: str) -> list[str]:
    return [h.get("Authorization", "") for _, p, h, _ in server.requests_seen[before:] if p == path]


def test_url_credentials_and_a_key_are_refused_with_one_line(fake_server, monkeypatch, subprocess_env):
    url = fake_server.url("ok").replace("http://", f"http://alice:{PASSWORD}@")
    monkeypatch.setenv("PLANNER_PROBE_API_KEY", KEY)
    before = len(fake_server.requests_seen)
    with pytest.raises(ProbeConfigError, match="user:password@ and an API key"):
        run_probe(ProbeConfig(url=url))
    assert len(fake_server.requests_seen) == before  # nothing was sent
    for extra in ([], ["--list-models"]):
        proc = subprocess.run([sys.executable, "-m", "planner.probe", "--url", url, *extra],
                              capture_output=True, text=True, env=dict(subprocess_env, PLANNER_PROBE_API_KEY=KEY),
                              timeout=60)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.count("\n") == 1 and "PLANNER_PROBE_API_KEY" in proc.stderr
        assert PASSWORD not in proc.stderr + proc.stdout and KEY not in proc.stderr + proc.stdout


def test_locust_mode_refuses_the_pair_before_starting_anything(fake_server, monkeypatch):
    from planner.probe.distributed import run_locust

    monkeypatch.setenv("PLANNER_PROBE_API_KEY", KEY)
    url = fake_server.url("ok").replace("http://", f"http://alice:{PASSWORD}@")
    with pytest.raises(ProbeConfigError, match="user:password@"):
        run_locust(ProbeConfig(url=url, model="fake-model", concurrency=(1,)), workers=1, run_time_s=1)


def test_url_credentials_alone_go_as_basic_auth_everywhere(fake_server, caplog, capsys):
    caplog.set_level(logging.DEBUG)  # urllib3 logs request lines at DEBUG
    url = fake_server.url("ok").replace("http://", f"http://alice:{PASSWORD}@")
    before = len(fake_server.requests_seen)
    result, _ = _probe(url, model=None, warmup_requests=1)
    assert result.levels[0].succeeded == 2 and result.model == "fake-model"
    models = _auth_seen(fake_server, before, "/v1/models")
    streams = _auth_seen(fake_server, before, "/v1/chat/completions")
    assert models and streams and all(h.startswith("Basic ") for h in models + streams)
    captured = capsys.readouterr()
    for text in (json.dumps(result.to_dict()), caplog.text, captured.out + captured.err):
        assert PASSWORD not in text and models[0].split()[1] not in text


def test_models_and_streams_send_the_key_not_basic_credentials(fake_server, monkeypatch):
    monkeypatch.setenv("PLANNER_PROBE_API_KEY", KEY)
    before = len(fake_server.requests_seen)
    result, _ = _probe(fake_server.url("ok"), model=None, warmup_requests=1)
    assert result.levels[0].succeeded == 2
    seen = _auth_seen(fake_server, before, "/v1/models") + _auth_seen(fake_server, before, "/v1/chat/completions")
    assert seen and set(seen) == {f"Bearer {KEY}"}


def test_echoed_basic_credentials_are_masked(fake_server):
    url = fake_server.url("401echo").replace("http://", f"http://alice:{PASSWORD}@")
    result, _ = _probe(url)
    example = result.levels[0].error_examples["auth"]
    assert "Basic ***" in example, example
    assert PASSWORD not in json.dumps(result.to_dict())
