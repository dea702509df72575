"""How far the estimator is from published measurements: in-sample and leave-one-source-out.

    .venv/bin/python bench/accuracy.py

In-sample: factors fitted to every row, predicting every row. Leave-one-source-out: for each
independent source, factors are refitted without its rows and then predict them, so over-fitting
shows as a gap between the two.
"""

from __future__ import annotations

import dataclasses
import statistics
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from planner.calibration_fit import fit_efficiencies, predict, source_family, usable_rows  # noqa: E402
from planner.catalog import load_catalog  # noqa: E402

METRICS = ("weights_gib", "decode_tokens_per_s", "prefill_tokens_per_s", "throughput_tokens_per_s")


def errors(catalog, rows, factors_for) -> dict[str, list[float]]:
    out: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        if row.metric not in METRICS:
            continue
        fitted = dataclasses.replace(catalog, efficiency=tuple(factors_for(row)))
        predicted = predict(fitted, row)
        if predicted is not None:
            out[row.metric].append(abs(predicted - row.value) / row.value * 100)
    return out


def describe(values: list[float]) -> str:
    if not values:
        return "no rows"
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]
    return f"median {statistics.median(values):5.1f}%  p90 {p90:6.1f}%  (n={len(values)})"


def main() -> None:
    catalog = load_catalog()
    rows = usable_rows(catalog)
    all_factors = fit_efficiencies(catalog, rows)
    in_sample = errors(catalog, rows, lambda _row: all_factors)
    by_source: dict[str, list] = defaultdict(list)
    for row in rows:
        by_source[source_family(row.source)].append(row)
    held_out_factors = {src: fit_efficiencies(catalog, [r for r in rows if source_family(r.source) != src]) for src in by_source}
    loso = errors(catalog, rows, lambda row: held_out_factors[source_family(row.source)])
    print(f"{len(rows)} usable rows from {len(by_source)} independent sources: {', '.join(sorted(by_source))}")
    print("absolute percentage error of the estimator against data/benchmarks.csv")
    for metric in METRICS:
        print(f"  {metric:26s} in-sample {describe(in_sample.get(metric, []))}")
        print(f"  {'':26s} leave-one-source-out {describe(loso.get(metric, []))}")


if __name__ == "__main__":
    main()
