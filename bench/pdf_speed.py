"""How long the plan PDF takes to build: median of 10 runs after one warm-up (target: under 2 s).

    .venv/bin/python bench/pdf_speed.py [--runs 10]

Prints the median, min and max for a default plan, for a plan whose name needs the CJK fallback
font, and for a plan with a probe section; plus the first (cold) run, which pays the imports.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGET_S = 2.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()

    cold_start = time.perf_counter()
    from planner.plan.constraints import Constraints
    from planner.plan.recommend import recommend
    from planner.report.document import plan_pdf

    default = recommend(Constraints(name="Customer support assistant"))
    plan_pdf(default)
    cold_s = time.perf_counter() - cold_start

    cases = {
        "default plan": (default, None),
        "CJK / accented name": (recommend(Constraints(name="Café Zürich — 日本語のプラン")), None),
        "with probe section": (default, _probe(default)),
    }
    print(f"cold first PDF (imports + recommend + PDF): {cold_s:.2f} s")
    worst = 0.0
    for label, (plan, probe) in cases.items():
        plan_pdf(plan, probe=probe)  # warm-up: fonts and caches
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            data = plan_pdf(plan, probe=probe)
            times.append(time.perf_counter() - start)
        median = statistics.median(times)
        worst = max(worst, median)
        print(f"{label:22s} median {median:.3f} s over {args.runs} runs (min {min(times):.3f}, max {max(times):.3f}); "
              f"{len(data) / 1024:.0f} KiB")
    print(f"PDF median: {worst:.3f} s (slowest case) — target under {TARGET_S:.0f} s: {'OK' if worst < TARGET_S else 'TOO SLOW'}")
    return 0 if worst < TARGET_S else 1


def _probe(plan) -> dict:
    level = {"concurrency": 1, "requests": 8, "succeeded": 8, "errors": 0, "ttft_s": {"p50": 0.2, "p90": 0.3},
             "output_tokens_per_s_per_stream": {"p50": 80.0}, "aggregate_output_tokens_per_s": 80.0}
    return {"url": "http://localhost:8080/v1", "api": "openai", "model": plan.recommendation.model if plan.recommendation else None,
            "started_at": "2026-11-25T09:00:00Z", "levels": [level, {**level, "concurrency": 8}]}


if __name__ == "__main__":
    raise SystemExit(main())
