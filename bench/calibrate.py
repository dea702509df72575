"""Fit the estimator's efficiency factors to data/benchmarks.csv and write data/efficiency.csv.

    .venv/bin/python bench/calibrate.py

Deterministic: the same benchmark rows always give the same factors (tests check this).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dataclasses  # noqa: E402

from planner.catalog.loading import DATA_DIR, load_catalog  # noqa: E402
from planner.estimate.backtest import accuracy_bands, usable_rows  # noqa: E402
from planner.estimate.fit import fit_efficiencies, leave_one_source_out  # noqa: E402

BAND_FIELDS = ["metric", "method", "n_rows", "ratio_p10", "ratio_p50", "ratio_p90", "median_abs_error_pct", "p90_abs_error_pct", "source", "as_of", "notes"]
FIELDS = ["factor", "engine", "hardware_family", "value", "n_rows", "median_abs_error_pct", "source", "as_of", "notes"]


def main() -> None:
    catalog = load_catalog()
    rows = usable_rows(catalog)
    factors = fit_efficiencies(catalog, rows)
    path = _write(DATA_DIR / "efficiency.csv", FIELDS, factors)
    print(f"{len(rows)} of {len(catalog.benchmarks)} benchmark rows usable; {len(factors)} factors written to {path}")
    bands = accuracy_bands(leave_one_source_out(dataclasses.replace(catalog, efficiency=tuple(factors)), rows))
    band_path = _write(DATA_DIR / "accuracy.csv", BAND_FIELDS, bands)
    for b in bands:
        print(f"  band {b.metric:24s} measured/predicted p10 {b.ratio_p10:.2f} p50 {b.ratio_p50:.2f} p90 {b.ratio_p90:.2f} (n={b.n_rows}) -> {band_path.name}")
    for f in factors:
        print(f"  {f.factor:17s} {f.engine:13s} {f.hardware_family:18s} {f.value:.3f}  n={f.n_rows:3d}  median spread {f.median_abs_error_pct}%")


def _write(path: Path, fields: list[str], records) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for record in records:
            writer.writerow({**record.model_dump(mode="json"), "notes": record.notes or ""})
    return path


if __name__ == "__main__":
    main()
