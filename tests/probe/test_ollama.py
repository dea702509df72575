"""Ollama's native API.

No Ollama binary can be installed on this machine, so these tests run the
client against a local server (tests/probe/probe_fakes.py) that speaks
Ollama's documented streaming format: JSON lines with `done: false`, then a
final `done: true` line with prompt_eval_count, prompt_eval_duration,
eval_count and eval_duration in nanoseconds.
"""

from __future__ import annotations

import pytest
import requests
from probe_fakes import OLLAMA_EVAL_NS_PER_TOKEN, OLLAMA_PROMPT_EVAL_NS

from planner.probe import Endpoint, ProbeConfig, run_probe
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
