"""How far the estimator is from published measurements: in-sample and leave-one-source-out.

    .venv/bin/python bench/accuracy.py

In-sample: factors fitted to every row, predicting every row. Leave-one-source-out: for each
independent source, factors are refitted without its rows and then predict them, so over-fitting
shows as a gap between the two. Also prints the error by engine and by device family.
"""

from __future__ import annotations

import math
import statistics
import sys

import numpy as np
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from planner.catalog.loading import DATA_DIR, load_catalog  # noqa: E402
from planner.estimate.backtest import (  # noqa: E402
    not_predicted_reason,
    predict,
    source_family,
    usable_rows,
)
from planner.estimate.fit import leave_one_source_out  # noqa: E402

METRICS = ("weights_gib", "memory_gib", "kv_cache_tokens", "decode_tokens_per_s", "prefill_tokens_per_s", "ttft_s", "itl_s", "throughput_tokens_per_s",
           "decode_throughput_tokens_per_s")


SENSITIVITY_METRICS = ("kv_cache_tokens", "decode_tokens_per_s", "ttft_s", "throughput_tokens_per_s")  # issue 25's targets


def describe(values: list[float], sources: set[str] | None = None) -> str:
    if not values:
        return "no rows"
    p90 = float(np.quantile(values, 0.9))  # linear interpolation, as the Accuracy page and data/accuracy.csv
    where = f", {len(sources)} independent sources" if sources is not None else ""
    return f"median {statistics.median(values):5.1f}%  p90 {p90:6.1f}%  (n={len(values)}{where})"


def main() -> None:
    catalog = load_catalog(Path(sys.argv[1]) if len(sys.argv) > 1 else DATA_DIR)
    rows = usable_rows(catalog)
    in_sample: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        predicted = predict(catalog, row) if row.metric in METRICS else None
        if predicted is not None:
            in_sample[row.metric].append(abs(predicted - row.value) / row.value * 100)
    loso: dict[str, list[float]] = defaultdict(list)
    loso_by_source: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    loso_sources: dict[str, set[str]] = defaultdict(set)
    by_group: dict[tuple[str, str], list[float]] = defaultdict(list)
    misses: dict[str, int] = defaultdict(int)
    for row, predicted in leave_one_source_out(catalog, rows):
        misses[row.metric] += math.isinf(predicted)  # predicted unstable where the run measured a figure
        error = abs(predicted - row.value) / row.value * 100
        loso[row.metric].append(error)
        loso_by_source[row.metric][source_family(row.source)].append(error)
        loso_sources[row.metric].add(source_family(row.source))
        if row.metric != "weights_gib":
            by_group[(row.metric, f"{row.engine} on {catalog.gpus[row.gpu].family}")].append(error)
    sources = sorted({source_family(r.source) for r in rows})
    print(f"{len(rows)} usable rows from {len(sources)} independent sources: {', '.join(sources)}")
    print("absolute percentage error of the estimator against data/benchmarks.csv")
    for metric in METRICS:
        print(f"  {metric:26s} in-sample {describe(in_sample.get(metric, []))}")
        print(f"  {'':26s} leave-one-source-out {describe(loso.get(metric, []), loso_sources.get(metric, set()))}")
    print("how much one source moves each held-out median (the median without that source's rows; the two that move it most)")
    for metric in SENSITIVITY_METRICS:
        by_source = loso_by_source.get(metric, {})
        if len(by_source) < 2:
            continue
        without = {src: statistics.median([e for other, errors in by_source.items() if other != src for e in errors]) for src in by_source}
        low, high = min(without, key=without.get), max(without, key=without.get)
        print(f"  {metric:26s} {statistics.median(loso[metric]):5.1f}%: {without[low]:5.1f}% without {low} ({len(by_source[low])} rows), "
              f"{without[high]:5.1f}% without {high} ({len(by_source[high])} rows)")
    for metric, count in sorted(misses.items()):
        if count:
            print(f"  counted as misses: {count:3d} {metric} rows the estimator predicts unstable (the run measured a figure)")
    skipped: dict[str, int] = defaultdict(int)
    for row in rows:
        if (reason := not_predicted_reason(row)) is not None:
            skipped[reason] += 1
    for reason, count in sorted(skipped.items()):
        print(f"  kept, not predicted: {count:3d} rows, {reason}")
    print("leave-one-source-out error by engine and device family")
    for (metric, group), errors in sorted(by_group.items()):
        print(f"  {metric:26s} {group:32s} {describe(errors)}")


if __name__ == "__main__":
    main()
