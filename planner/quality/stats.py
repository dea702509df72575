"""Pass rates with their uncertainty, and whether two endpoints differ.

Wilson's score interval (Wilson 1927, "Probable inference, the law of succession, and statistical
inference", JASA 22:209) keeps its coverage for small samples and rates near 0 or 1, where the normal
approximation does not. Two endpoints answer the same samples, so they are compared pairwise with
McNemar's exact test: only the samples one passes and the other fails carry information, and under
"no difference" each such sample is a fair coin (a two-sided binomial test on the discordant pairs).
"""

from __future__ import annotations

import math

Z_95 = 1.959963984540054  # the standard normal's 97.5th percentile


def wilson_interval(passed: int, total: int, z: float = Z_95) -> tuple[float, float]:
    """The 95% (by default) Wilson score interval of passed/total; (0, 1) with no samples."""
    if total <= 0:
        return 0.0, 1.0
    p = passed / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def mcnemar_exact_p(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pairs (A passed, B failed) and (A failed, B passed)."""
    n = only_a + only_b
    if n == 0:
        return 1.0
    k = min(only_a, only_b)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)
