"""Fixtures for the monitor and quality tests: engine metric servers, a real Prometheus, a plan."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "probe"))  # llama_support and tiny_gguf: how the probe tests start llama.cpp

from engine_server import EngineMetrics, MetricsServer  # noqa: E402

PLAN_FILE = HERE.parent / "probe" / "plans" / "pass.plan.json"  # vLLM · 1× A100 40GB × 2 replicas, TTFT ≤ 1 s, ≥ 50 tokens/s


@pytest.fixture
def plan() -> dict:
    return json.loads(PLAN_FILE.read_text(encoding="utf-8"))


@pytest.fixture
def serve() -> Iterator:
    servers: list[MetricsServer] = []

    def start(engine: str, **kwargs) -> MetricsServer:
        server = MetricsServer(EngineMetrics(engine, **kwargs))
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
