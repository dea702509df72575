"""Ollama's native API.

No Ollama binary can be installed on this machine, so these tests run the
client against a local server (tests/probe/probe_fakes.py) that speaks
Ollama's documented streaming format: JSON lines with `done: false`, then a
final `done: true` line with prompt_eval_count, prompt_eval_duration,
eval_count and eval_duration in nanoseconds; its "slots" mode schedules as
Ollama documents (OLLAMA_NUM_PARALLEL slots, OLLAMA_MAX_QUEUE waiting, 503 past it).
"""

from __future__ import annotations

import math

import pytest
import requests
from probe_fakes import OLLAMA_EVAL_NS_PER_TOKEN, OLLAMA_PROMPT_EVAL_NS, FakeLLMServer

from planner.probe import Endpoint, ProbeConfig, run_probe
from planner.probe.ollama_queue import OLLAMA_MAX_QUEUE_DEFAULT, OLLAMA_NUM_PARALLEL_DEFAULT, slot_queue
from planner.probe.report import format_table
from planner.probe.factory import make_client


@pytest.mark.parametrize("endpoint", ["chat", "completions"])
def test_ollama_stream_uses_server_counts_and_durations(fake_server, endpoint):
    result = run_probe(ProbeConfig(url=fake_server.url("ok", api="api"), model="fake-ollama:latest",
                                   endpoint=endpoint, concurrency=(1, 2), requests_per_level=3,
                                   max_tokens=7, prompt_tokens=32))
    assert result.api == "ollama"
    assert result.stopped_reason is None
    for level in result.levels:
        assert level.succeeded == max(3, level.concurrency)
        assert level.usage_source == "server"
        assert level.output_tokens == 7 * level.succeeded
        assert level.prompt_tokens == 37
        assert level.server_prefill_s.p50 == pytest.approx(OLLAMA_PROMPT_EVAL_NS / 1e9)
        assert level.server_decode_tokens_per_s.p50 == pytest.approx(1e9 / OLLAMA_EVAL_NS_PER_TOKEN)
        assert level.ttft_s.p50 is not None and level.ttft_s.p50 > 0
        assert level.output_tokens_per_s_per_stream.p50 > 0
    # Ollama has no tokenizer endpoint: the prompt length is approximated.
    assert result.prompt["method"].startswith("approx")


def test_ollama_request_body(fake_server):
    before = len(fake_server.requests_seen)
    run_probe(ProbeConfig(url=fake_server.url("ok", api="api"), model="fake-ollama:latest", concurrency=(1,),
                          requests_per_level=1, warmup_requests=0, max_tokens=5, prompt_tokens=8,
                          extra_body={"options": {"num_ctx": 4096}, "keep_alive": "5m"}))
    ((mode, path, _headers, body),) = [r for r in fake_server.requests_seen[before:] if r[1] == "/api/chat"]
    assert body["stream"] is True
    assert body["options"] == {"num_predict": 5, "temperature": 0.0, "num_ctx": 4096}
    assert body["keep_alive"] == "5m"
    assert body["messages"][0]["role"] == "user"


def test_ollama_model_defaults_to_first_listed(fake_server):
    result = run_probe(ProbeConfig(url=fake_server.url("ok", api="api"), concurrency=(1,), requests_per_level=1,
                                   max_tokens=3, prompt_tokens=8))
    assert result.model == "fake-ollama:latest"
    assert result.levels[0].succeeded == 1


def test_ollama_unknown_model_is_model_not_found(fake_server):
    result = run_probe(ProbeConfig(url=fake_server.url("ok", api="api"), model="llama9:400b", concurrency=(1,),
                                   requests_per_level=2, max_tokens=3, prompt_tokens=8, warmup_requests=0))
    assert result.levels[0].errors_by_kind == {"model_not_found": 2}
    assert "not found" in result.levels[0].error_examples["model_not_found"]


@pytest.mark.parametrize(("mode", "kind"), [("cut", "stream_cut"), ("garbage", "malformed")])
def test_ollama_stream_faults(fake_server, mode, kind):
    result = run_probe(ProbeConfig(url=fake_server.url(mode, api="api"), model="fake-ollama", concurrency=(1,),
                                   requests_per_level=2, max_tokens=6, prompt_tokens=8, warmup_requests=0))
    assert result.levels[0].errors_by_kind == {kind: 2}


def test_ollama_list_models(fake_server):
    client = make_client(Endpoint.parse(f"http://127.0.0.1:{fake_server.port}/ok/api/tags"), model=None)
    with requests.Session() as session:
        assert client.list_models(session) == ["fake-ollama:latest"]


def test_ollama_slots_queue_wait_is_reported_beside_ttft():
    """OLLAMA_NUM_PARALLEL=2 slots, room to queue 8: at 4 streams, two requests wait for a slot, and the
    server's own durations show how much of their TTFT was that wait."""
    server = FakeLLMServer().start()
    server.set_slots(num_parallel=2, max_queue=8, token_s=0.02)
    try:
        result = run_probe(ProbeConfig(url=server.url("slots", api="api"), model="fake-ollama", concurrency=(1, 4),
                                       requests_per_level=8, max_tokens=10, prompt_tokens=8, warmup_requests=0))
    finally:
        server.stop()
    single, four = result.levels
    assert single.errors == 0 and four.errors == 0
    assert single.server_queue_s.p90 < 0.05  # one stream never waits
    service_s = 10 * 0.02
    assert four.server_queue_s.p90 > 0.5 * service_s  # half the streams wait about one request
    assert four.ttft_s.p90 >= four.server_queue_s.p90  # the wait is inside the TTFT the client sees
    assert "Server queue wait at 4 streams" in format_table(result)


def test_ollama_full_queue_is_503_errors_with_partial_results_kept():
    server = FakeLLMServer().start()
    server.set_slots(num_parallel=1, max_queue=1, token_s=0.02)
    try:
        result = run_probe(ProbeConfig(url=server.url("slots", api="api"), model="fake-ollama", concurrency=(6,),
                                       requests_per_level=6, max_tokens=10, prompt_tokens=8, warmup_requests=0))
    finally:
        server.stop()
    (level,) = result.levels
    assert level.succeeded >= 2 and level.errors >= 1
    assert set(level.errors_by_kind) == {"server_error"}
    assert "maximum pending requests exceeded" in level.error_examples["server_error"]
    assert level.ttft_s.p50 is not None  # the refused ones are counted, not timed


@pytest.mark.parametrize(("arrival", "service", "c", "queue"), [(5.0, 0.1, 1, 10_000), (2.0, 0.5, 2, 0)])
def test_slot_queue_matches_textbook_formulas(arrival, service, c, queue):
    model = slot_queue(arrival, service, num_parallel=c, max_queue=queue)
    a = arrival * service
    if queue == 0:  # no waiting room: Erlang B, the share of arrivals refused
        assert model.reject_probability == pytest.approx((a**c / math.factorial(c))
                                                         / sum(a**k / math.factorial(k) for k in range(c + 1)))
        assert model.mean_queue_wait_s == 0
    else:  # M/M/1, an (effectively) endless queue: Wq = ρ / (μ − λ)
        rho = a
        assert model.mean_queue_wait_s == pytest.approx(rho / (1 / service - arrival), rel=1e-6)
        assert model.reject_probability == pytest.approx(0, abs=1e-9)


def test_slot_queue_defaults_are_ollamas():
    assert (OLLAMA_NUM_PARALLEL_DEFAULT, OLLAMA_MAX_QUEUE_DEFAULT) == (1, 512)
    overloaded = slot_queue(10.0, 0.5)  # 5× what one slot serves: the queue fills, most are refused
    assert overloaded.reject_probability == pytest.approx(0.8, abs=0.01)
    assert overloaded.served_requests_per_s == pytest.approx(2.0, rel=0.01)
