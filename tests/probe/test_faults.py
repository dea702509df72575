"""Each fault kind, provoked for real against local misbehaving servers: results, never crashes."""

from __future__ import annotations

import json

import pytest
import requests
import urllib3.exceptions as u3
from probe_fakes import FullBacklogPort, closed_port

from planner.probe import FaultKind, ProbeConfig, run_probe
from planner.probe.faults import classify_exception, kind_for_status


def _probe(url: str, **overrides):
    settings = dict(url=url, model="fake-model", concurrency=(1,), requests_per_level=2, warmup_requests=0,
                    max_tokens=6, prompt_tokens=16, timeout_s=2.0, connect_timeout_s=2.0, use_tokenizer=False)
    settings.update(overrides)
    result = run_probe(ProbeConfig(**settings))
    json.dumps(result.to_dict())  # always serialisable
    return result


def _only_kind(result, kind: str) -> None:
    (level,) = result.levels
    assert level.errors_by_kind == {kind: 2}, level.errors_by_kind
    assert level.succeeded == 0
    assert level.ttft_s.p50 is None  # no successful request → no percentile
    assert kind in level.error_examples


def test_refused_closed_port():
    _only_kind(_probe(f"http://127.0.0.1:{closed_port()}/v1"), "refused")


def test_dns_invalid_hostname():
    _only_kind(_probe("http://probe-test.invalid:8000/v1"), "dns")


def test_tls_https_to_plain_http_port(fake_server):
    _only_kind(_probe(f"https://127.0.0.1:{fake_server.port}/ok/v1"), "tls")


def test_unreachable_connect_timeout():
    port = FullBacklogPort()
    try:
        result = _probe(f"http://127.0.0.1:{port.port}/v1", connect_timeout_s=0.3, timeout_s=0.3)
    finally:
        port.close()
    _only_kind(result, "unreachable")


@pytest.mark.parametrize(("mode", "kind"), [
    ("401", "auth"), ("403", "auth"), ("404", "model_not_found"), ("429", "rate_limited"),
    ("500", "server_error"), ("503", "server_error"), ("errorevent", "server_error"),
    ("cut", "stream_cut"), ("nodone", "stream_cut"),
    ("garbage", "malformed"), ("html", "malformed"),
])
def test_http_and_stream_faults(fake_server, mode, kind):
    _only_kind(_probe(fake_server.url(mode)), kind)


def test_timeout_server_sleeps_past_read_timeout(fake_server):
    _only_kind(_probe(fake_server.url("hang"), timeout_s=0.3), "timeout")


def test_timeout_mid_stream(fake_server):
    _only_kind(_probe(fake_server.url("hangstream"), timeout_s=0.3), "timeout")


def test_cut_stream_keeps_tokens_seen_before_the_cut(fake_server):
    result = _probe(fake_server.url("cut"))
    (level,) = result.levels
    # Failed requests still show up in the log with what they received.
    assert [entry.error_kind for entry in level.request_log] == ["stream_cut", "stream_cut"]
    assert all(entry.output_tokens == 2 for entry in level.request_log)


def test_mixed_results_are_counted_separately(fake_server):
    result = _probe(fake_server.url("flaky"), requests_per_level=6)
    (level,) = result.levels
    assert level.succeeded + level.errors == 6
    assert level.errors_by_kind.get("server_error", 0) == level.errors
    assert 1 <= level.errors <= 5
    assert level.ttft_s.p50 is not None


def test_warmup_failure_is_fatal_and_skips_the_sweep(fake_server):
    result = _probe(fake_server.url("401"), warmup_requests=1, concurrency=(1, 2))
    assert result.levels == []
    assert result.fatal_error is not None and result.fatal_error.kind == "auth"
    assert result.stopped_reason == "endpoint unusable (auth)"
    assert not result.reached_endpoint


def test_sweep_stops_when_every_request_of_a_level_fails(fake_server):
    result = _probe(fake_server.url("500"), concurrency=(1, 2, 4))
    assert len(result.levels) == 1
    assert result.stopped_reason == "every request failed at concurrency 1 (server_error)"


def test_run_timeout_keeps_partial_results(fake_server):
    # ~0.05 s per token × 20 tokens = 1 s per request; the run may last 1.5 s.
    result = _probe(fake_server.url("slow"), concurrency=(1, 2, 4), requests_per_level=4, max_tokens=20,
                    run_timeout_s=1.5)
    assert result.stopped_reason == "run_timeout"
    assert result.wall_s < 3.5
    assert 1 <= len(result.levels) <= 2
    first = result.levels[0]
    assert first.succeeded >= 1
    last = result.levels[-1]
    assert not last.complete
    # The request the deadline interrupted is neither a success nor an error.
    assert last.cancelled >= 1
    assert "timeout" not in last.errors_by_kind


def test_classify_status_codes():
    assert kind_for_status(401) is FaultKind.AUTH
    assert kind_for_status(403) is FaultKind.AUTH
    assert kind_for_status(404) is FaultKind.MODEL_NOT_FOUND
    assert kind_for_status(429) is FaultKind.RATE_LIMITED
    assert kind_for_status(502) is FaultKind.SERVER_ERROR
    assert kind_for_status(422) is FaultKind.CLIENT_ERROR
    assert kind_for_status(302) is FaultKind.HTTP_ERROR


def test_classify_wrapped_exceptions():
    read_timeout = requests.exceptions.ConnectionError(u3.ReadTimeoutError(None, "/", "read timed out"))
    assert classify_exception(read_timeout, streaming=True) is FaultKind.TIMEOUT
    cut = requests.exceptions.ChunkedEncodingError(u3.ProtocolError("Response ended prematurely"))
    assert classify_exception(cut, streaming=True) is FaultKind.STREAM_CUT
    assert classify_exception(ValueError("?"), streaming=False) is FaultKind.OTHER
