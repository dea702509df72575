"""Prometheus text exposition: samples from a scrape, and quantiles from histogram buckets.

`parse_samples` reads the text format with prometheus_client's own parser (the reference Python
implementation). `histogram_quantile` is PromQL's function, ported from Prometheus's
`promql/quantile.go` (`bucketQuantile`, v2.42): the rank q × total falls in one bucket and the value is
interpolated linearly inside it, the first bucket starting at 0; a rank in the +Inf bucket returns the
highest finite bound. The monitor computes the same figures from two scrapes as Prometheus does from
`rate(..._bucket[window])`, so both paths report alike.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from prometheus_client.parser import text_string_to_metric_families

from planner.monitor.errors import MonitorError


class Sample(NamedTuple):
    name: str
    labels: tuple[tuple[str, str], ...]
    value: float

    def label(self, key: str) -> str | None:
        return dict(self.labels).get(key)


def parse_samples(text: str, *, where: str = "the metrics") -> list[Sample]:
    """Every sample of a scrape; MonitorError naming `where` when the text is not the exposition format."""
    try:
        return [Sample(s.name, tuple(sorted(s.labels.items())), float(s.value))
                for family in text_string_to_metric_families(text) for s in family.samples]
    except (ValueError, TypeError, IndexError) as exc:
        raise MonitorError(f"{where} is not Prometheus text exposition format: {exc}") from None


def histogram_quantile(q: float, buckets: Mapping[float, float]) -> float | None:
    """PromQL's histogram_quantile over cumulative counts {upper bound: count}; None without observations."""
    if not 0 <= q <= 1:
        raise ValueError("q must lie in [0, 1]")
    ordered = sorted(buckets.items())
    if len(ordered) < 2 or not math.isinf(ordered[-1][0]):
        return None  # Prometheus answers NaN: no +Inf bucket, or too few buckets
    bounds = [b for b, _ in ordered]
    counts = _monotonic([c for _, c in ordered])
    total = counts[-1]
    if total <= 0:
        return None
    rank = q * total
    b = next(i for i, c in enumerate(counts) if c >= rank)
    if b == len(bounds) - 1:
        return bounds[-2]
    if b == 0 and bounds[0] <= 0:
        return bounds[0]
    start = 0.0 if b == 0 else bounds[b - 1]
    below = 0.0 if b == 0 else counts[b - 1]
    inside = counts[b] - below
    return start + (bounds[b] - start) * ((rank - below) / inside)


def _monotonic(counts: list[float]) -> list[float]:
    # Prometheus's ensureMonotonic: a bucket scraped mid-update may briefly read lower than the one below it.
    out, highest = [], 0.0
    for c in counts:
        highest = max(highest, c)
        out.append(highest)
    return out


def histogram_mean(sum_s: float, count: float) -> float | None:
    return sum_s / count if count > 0 else None


def bucket_counts(samples: Iterable[Sample], name: str) -> dict[float, float]:
    """{le: cumulative count} of histogram `name`, summed over every label set (replicas, engines, ranks)."""
    out: dict[float, float] = {}
    for s in samples:
        if s.name == f"{name}_bucket":
            le = s.label("le")
            if le is not None:
                bound = float(le)
                out[bound] = out.get(bound, 0.0) + s.value
    return out
