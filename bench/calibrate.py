"""Fit the estimator's efficiency factors to data/benchmarks.csv and write data/efficiency.csv.

    .venv/bin/python bench/calibrate.py

Deterministic: the same benchmark rows always give the same factors (tests check this).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from planner.calibration_fit import fit_efficiencies, usable_rows  # noqa: E402
from planner.catalog import DATA_DIR, load_catalog  # noqa: E402

FIELDS = ["factor", "engine", "hardware_family", "value", "n_rows", "median_abs_error_pct", "source", "as_of", "notes"]


def main() -> None:
    catalog = load_catalog()
    rows = usable_rows(catalog)
    factors = fit_efficiencies(catalog, rows)
    path = DATA_DIR / "efficiency.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        for f in factors:
            writer.writerow({**f.model_dump(mode="json"), "notes": f.notes or ""})
    print(f"{len(rows)} of {len(catalog.benchmarks)} benchmark rows usable; {len(factors)} factors written to {path}")
    for f in factors:
        print(f"  {f.factor:17s} {f.engine:13s} {f.hardware_family:18s} {f.value:.3f}  n={f.n_rows:3d}  median spread {f.median_abs_error_pct}%")


if __name__ == "__main__":
    main()
