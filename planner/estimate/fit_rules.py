"""How many rows, from how many independent sources, a fitted factor needs (planner.estimate.fit and
planner.estimate.fit_serving), and the median that gives each source one vote."""

from __future__ import annotations

import statistics
from collections import defaultdict

from planner.catalog.records import Benchmark
from planner.estimate.backtest import source_family

MIN_ROWS = 3  # a group needs this many rows to get its own factor
MIN_SOURCES = 2  # ... from at least this many independent sources
# A median over sources (median_of_sources) resists one wild source only from three sources up: the median of two is
# their mean. A group with fewer keeps to the pooled figure.
MIN_SOURCES_FOR_MEDIAN = 3


def enough(engine: str, family: str, rows: list[Benchmark], always_global: bool = True, min_sources: int = MIN_SOURCES) -> bool:
    """A group gets its own factor with MIN_ROWS rows from at least MIN_SOURCES independent sources
    (one source's settings must not become an engine's or a family's factor); the global group
    always gets one where `always_global`."""
    if always_global and (engine, family) == ("*", "*"):
        return True
    return len(rows) >= MIN_ROWS and len({source_family(r.source) for r in rows}) >= min_sources


def median_of_sources(members: list[tuple[Benchmark, float]]) -> float:
    """The median over independent sources of each source's median: one vote per source, so a source with many
    rows of one configuration does not become an engine's factor."""
    by_source: dict[str, list[float]] = defaultdict(list)
    for r, v in members:
        by_source[source_family(r.source)].append(v)
    return statistics.median(statistics.median(v) for v in by_source.values())
