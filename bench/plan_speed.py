"""How fast a whole plan is: in-process median over the whole catalogue, and the CLI end to end.

    .venv/bin/python bench/plan_speed.py

Targets (issue #2): under 50 ms median in-process; the CLI answers in under 1.5 s.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from planner.catalog.loading import load_catalog  # noqa: E402
from planner.plan.constraints import Constraints  # noqa: E402
from planner.plan.recommend import recommend  # noqa: E402
from planner.runtime import keep_freed_memory  # noqa: E402

SCENARIOS = {
    "defaults (rent anything)": Constraints(),
    "on-prem, 8x H100 owned": Constraints(privacy="on-prem", gpus_available=[{"gpu": "h100-sxm", "count": 8}]),
    "high volume, code": Constraints(requests_per_day=2_000_000, task="code"),
}


def main() -> None:
    keep_freed_memory()  # as the CLI and the dashboard run (planner.runtime)
    catalog = load_catalog()
    for name, constraints in SCENARIOS.items():
        recommend(constraints, catalog)  # warm caches
        times = []
        for _ in range(15):
            start = time.perf_counter()
            plan = recommend(constraints, catalog)
            times.append(time.perf_counter() - start)
        print(f"plan in-process [{name}]: median {statistics.median(times) * 1000:.1f} ms over 15 runs "
              f"({plan.candidates_evaluated:,} candidates)")
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump({"requests_per_day": 20000}, handle)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "planner", "plan", "--constraints", handle.name, "--json"], cwd=ROOT, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    print(f"CLI plan end to end: median {statistics.median(times):.2f} s over 5 runs")


if __name__ == "__main__":
    main()
