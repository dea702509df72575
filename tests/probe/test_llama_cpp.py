"""Against a REAL llama.cpp server (llama-cpp-python's `llama_cpp.server`) serving a tiny random-weight GGUF.

The model never emits EOS and each token decodes to visible text (see
tiny_gguf.py), so every request yields exactly max_tokens, one chunk each.
llama-cpp-python serves requests one at a time (queued behind a lock); the
concurrency test therefore checks that the CLIENT had N requests in flight.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from llama_support import LLAMA_MODEL_ALIAS, requires_llama_cpp

from planner.probe import Endpoint, ProbeConfig, run_probe
from planner.probe.factory import make_client

pytestmark = requires_llama_cpp

MAX_TOKENS = 12


def _config(url: str, **overrides) -> ProbeConfig:
    settings = dict(url=url, model=LLAMA_MODEL_ALIAS, concurrency=(1,), requests_per_level=3,
                    max_tokens=MAX_TOKENS, prompt_tokens=48, timeout_s=20.0)
    settings.update(overrides)
    return ProbeConfig(**settings)


@pytest.mark.parametrize("endpoint_kind", ["chat", "completions"])
def test_token_counts_match_server_usage(llama_server, endpoint_kind):
    """The streamed count equals the server's own usage for the same non-streamed request."""
    client = make_client(Endpoint.parse(llama_server.url), model=LLAMA_MODEL_ALIAS, endpoint_kind=endpoint_kind,
                         max_tokens=MAX_TOKENS, temperature=0.0)
    prompt = "[000001] the of and to in is that for it as was with be by on not"
    with requests.Session() as session:
        record = client.run_request(session, prompt)
        assert record.ok, record.error_message
        url, body = client.request_url_and_body(prompt)
        body = {k: v for k, v in body.items() if k not in ("stream", "stream_options")}
        usage = session.post(url, json=body, timeout=20).json()["usage"]
    # llama-cpp-python sends no usage chunk while streaming: the count comes from chunks.
    assert record.usage_source == "chunks"
    assert record.output_tokens == usage["completion_tokens"] == MAX_TOKENS
    assert record.ttft_s is not None and record.ttft_s > 0
    assert len(record.token_times_s) == MAX_TOKENS


def test_probe_run_measures_every_level(llama_server):
    result = run_probe(_config(llama_server.url, concurrency=(1, 2), requests_per_level=4))
    assert result.stopped_reason is None and result.fatal_error is None
    assert result.warmup is not None and result.warmup.succeeded == 1
    for level in result.levels:
        assert level.succeeded == 4 and level.errors == 0
        assert level.output_tokens == 4 * MAX_TOKENS
        assert level.usage_source == "chunks"
        assert level.ttft_s.p50 > 0 and level.ttft_s.p90 >= level.ttft_s.p50
        # The tiny model's 12 tokens take ~2 ms: a busy machine reads them in one or two bunches, so
        # most gaps can be 0 and a stream read at once has no decode span (seen with two CPU hogs).
        # Gaps are measured all the same, never negative; spaced tokens are timed in test_locust.py.
        assert level.inter_token_s.p50 is not None and 0 <= level.inter_token_s.p50 <= level.inter_token_s.p90
        per_stream = level.output_tokens_per_s_per_stream.p50
        assert per_stream is None or per_stream > 0
        assert level.aggregate_output_tokens_per_s > 0 and level.requests_per_s > 0
    # The prompt was sized with the server's tokenizer (/extras/tokenize in llama-cpp-python).
    assert result.prompt["method"] == "tokenizer"
    assert abs(result.prompt["measured_tokens"] - 48) <= 3
    assert result.client_cpu_s_per_token > 0
    assert result.gpu_telemetry.available is False


def _max_overlap(entries) -> int:
    events = sorted([(e.start_s, 1) for e in entries] + [(e.end_s, -1) for e in entries])
    current = best = 0
    for _, delta in events:
        current += delta
        best = max(best, current)
    return best


def test_levels_really_run_concurrently(llama_server):
    result = run_probe(_config(llama_server.url, concurrency=(1, 4), requests_per_level=8, max_tokens=16,
                               warmup_requests=0))
    single, four = result.levels
    assert single.max_in_flight == 1 and _max_overlap(single.request_log) == 1
    assert four.max_in_flight == 4
    assert _max_overlap(four.request_log) == 4  # request intervals really overlapped
    assert four.succeeded == 8
    # The server serves one request at a time, so waiting shows up as TTFT: some request sent while
    # another ran got its first token only after that one had ended. (Within the level: comparing
    # with the one-stream level would rest on the machine's load staying the same between them.)
    log = four.request_log
    assert any(b.start_s < a.end_s < b.first_token_s for a in log for b in log if a is not b)


def test_server_killed_mid_run_gives_partial_results(own_llama_server):
    killed = []

    def on_progress(event):
        if event.kind == "request" and event.done >= 3 and not killed:
            os.kill(own_llama_server.proc.pid, signal.SIGKILL)
            killed.append(event.done)

    result = run_probe(_config(own_llama_server.url, concurrency=(1, 2), requests_per_level=10, max_tokens=16),
                       on_progress=on_progress)
    assert killed
    first = result.levels[0]
    assert first.succeeded >= 3
    assert first.errors >= 1
    assert set(first.errors_by_kind) <= {"refused", "stream_cut"}
    assert result.stopped_reason is not None and "every request failed" in result.stopped_reason
    assert result.reached_endpoint
    json.dumps(result.to_dict())


def test_cli_json_contract_against_llama_cpp(llama_server, subprocess_env, tmp_path):
    plan = {
        "constraints": {"max_ttft_s": 5.0, "min_tokens_per_s": 1.0, "input_tokens": 48, "output_tokens": 12},
        "recommendation": {"model": "tiny", "quant": "f32", "engine": "llama.cpp", "gpu": "cpu", "gpus": 0,
                           "replicas": 1,
                           "speed": {"prefill_tokens_per_s": 1000.0, "ttft_s": 0.05, "decode_tokens_per_s": 500.0,
                                     "throughput_tokens_per_s": 500.0, "concurrency": 2,
                                     "decode_roofline_tokens_per_s": 2000.0}},
    }
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan))
    proc = subprocess.run(
        [sys.executable, "-m", "planner.probe", "--url", llama_server.url, "--concurrency", "1,2",
         "--requests", "3", "--max-tokens", str(MAX_TOKENS), "--prompt-tokens", "32", "--plan", str(plan_file),
         "--calibrate", "--json"],
        capture_output=True, text=True, env=subprocess_env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["model"] == LLAMA_MODEL_ALIAS  # the first listed model, as none was given
    assert doc["url"] == llama_server.url and doc["api"] == "openai"
    assert [lvl["concurrency"] for lvl in doc["levels"]] == [1, 2]
    assert all(lvl["errors"] == 0 for lvl in doc["levels"])
    assert {row["target"] for row in doc["comparison"]} >= {"ttft_s", "decode_tokens_per_s",
                                                           "throughput_tokens_per_s"}
    assert all(row["verdict"] == "meets" for row in doc["comparison"] if row["target"] == "ttft_s")
    assert doc["gpu_telemetry"]["available"] is False
    assert doc["client_cpu_s_per_token"] > 0
    calibration = json.loads(Path(os.environ["PLANNER_CALIBRATION_FILE"]).read_text())
    assert calibration[0]["engine"] == "llama.cpp" and calibration[0]["decode_efficiency"] > 0
