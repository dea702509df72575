"""The probe's load on Locust's distributed mode: a real master and two real workers on loopback."""

from __future__ import annotations

import importlib.util
import json

import pytest
from probe_fakes import closed_port

from planner.probe import ProbeConfig
from planner.probe.distributed import run_locust

# Found, not imported: importing Locust patches this process with gevent.
pytestmark = pytest.mark.skipif(importlib.util.find_spec("locust") is None, reason="locust is not installed")


def test_master_and_two_workers_stream_and_report(fake_server):
    result = run_locust(ProbeConfig(url=fake_server.url("slow"), model="fake-model", concurrency=(4,), max_tokens=6,
                                    prompt_tokens=16, timeout_s=10, slo_ttft_s=1.0),
                        workers=2, run_time_s=4)
    assert result.source == "locust", result.settings
    (level,) = result.levels
    assert level.succeeded >= 8 and level.errors == 0, result.settings["notes"]
    # Both workers sent load, and their streams overlapped (four users at once).
    assert len({entry for entry in _workers(result)}) == 2
    assert level.max_in_flight >= 3
    assert level.usage_source == "usage" and level.output_tokens == 6 * level.succeeded
    # ~0.05 s a token: the streams' figures are the server's pace, measured through Locust's users.
    assert 0.03 < level.inter_token_s.p50 < 0.2
    assert level.ttft_s.p50 is not None and level.slo.attainment == 1.0
    json.dumps(result.to_dict())


def _workers(result):
    return result.settings.get("workers_seen") or []


def test_a_refused_port_is_backed_off_not_hammered():
    # Before the backoff, 4 users sent 5,324 requests to a refused port in 4 s. Now each user waits
    # 0.1, 0.2, 0.4, ... s (planner.probe.backoff) between refusals: about 6 each in 4 s.
    result = run_locust(ProbeConfig(url=f"http://127.0.0.1:{closed_port()}/v1", model="fake-model", concurrency=(4,),
                                    max_tokens=6, prompt_tokens=16, timeout_s=5),
                        workers=2, run_time_s=4)
    (level,) = result.levels
    assert level.succeeded == 0 and set(level.errors_by_kind) == {"refused"}, result.settings
    assert 4 <= level.errors <= 4 * 12, level.errors
