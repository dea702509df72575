"""The README's monitor run: two vLLM-format replicas and a DCGM exporter (the test servers of engine_server.py,
real HTTP, the engines' names and labels) under a steady synthetic load, read by the real CLI over a 5 s window.

    .venv/bin/python tests/monitor/readme_run.py
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1])]

from engine_server import EngineMetrics, MetricsServer  # noqa: E402

from planner.cli.main import main  # noqa: E402

TTFTS = (0.08, 0.12, 0.2, 0.35, 0.6, 0.9)  # a cycle of first-token times, s
GAPS = [0.014] * 40 + [0.018] * 20 + [0.03] * 3  # 64 output tokens: 1 + 63 gaps, s


def load(metrics: EngineMetrics) -> None:
    """Each scrape finds two more finished requests and a small queue that comes and goes."""
    n = sum(metrics.finished.values())
    for i in range(2):
        metrics.request(TTFTS[(n + i) % len(TTFTS)], GAPS, prompt_tokens=48)
    metrics.running, metrics.waiting, metrics.kv_usage = 3, (n // 2) % 2, 0.41 + 0.02 * ((n // 2) % 3)


if __name__ == "__main__":
    replicas = [MetricsServer(EngineMetrics("vllm", engine_index=0)) for _ in range(2)]
    for server in replicas:
        server.on_scrape = load
    gpus = MetricsServer(EngineMetrics("dcgm"))
    gpus.metrics.gpu_util, gpus.metrics.fb_used_mib, gpus.metrics.fb_free_mib = [71.0, 66.0], [36_100.0] * 2, [4_860.0] * 2
    plan = HERE.parent / "probe" / "plans" / "pass.plan.json"
    urls = [arg for s in [*replicas, gpus] for arg in ("--metrics-url", s.url)]
    sys.exit(main(["monitor", "--plan", str(plan), *urls, "--window", "5s", "--interval", "0.5s"]))
