"""The objective: which feasible candidate a plan picks, and why.

Every candidate here has passed the hard rules (privacy, fit, latency at the pessimistic end of the
band, engine, redundancy, budget, licence). `priority` then decides:

- quality: the most capable model for the task, then the cheapest configuration of it whose weight
  format loses no measurable quality (quant penalty below QUALITY_LOSS_POINTS);
- cost: the cheapest configuration whose model meets `min_capability`;
- balanced: on the Pareto front of capability against monthly cost, the knee: the point whose share of
  the front's capability range most exceeds its share of the front's (log) cost range, stated as such.

Owned GPUs are sunk cost: with hardware given, quality and balanced both rank by what the hardware
can serve (capability, then redundancy and headroom: more replicas), and cost by the running cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

QUALITY_LOSS_POINTS = 3.0  # a format losing this much (1 point per 1% perplexity) is "lossy" (planner.plan.rules.quant_penalty)
UNSCORED = -1e9  # models with no capability figure rank below every scored model


@dataclass(frozen=True)
class Choice:
    """The feasible rows in the order the objective ranks them, with the Pareto front marked."""

    order: np.ndarray  # indices into the feasible arrays, best first
    front: np.ndarray | None  # balanced only: bool per feasible row, on the capability x cost Pareto front
    rule: str  # the objective in one sentence


def rank(priority: str, capability: np.ndarray, penalty: np.ndarray, usd: np.ndarray, replicas: np.ndarray,
         simplicity: np.ndarray, owned: bool, groups: np.ndarray | None = None) -> Choice:
    """Order feasible candidates by the objective (arrays are per feasible candidate).

    With `groups` (a small non-negative id per row, e.g. its model, format and device), only each group's
    best-ranked row is ordered: what reads the order keeps one row per group, and the leaders keep the
    order the full sort gives them (capability and format loss are the same inside a group, so the
    leader is the row first on the remaining keys)."""
    cap = np.where(np.isnan(capability), UNSCORED, capability)
    lossy = (penalty >= QUALITY_LOSS_POINTS).astype(float)
    front = None
    every = np.arange(len(usd))
    if priority == "cost":
        rows = every if groups is None else group_leaders(groups, (usd, simplicity))
        order = rows[np.lexsort((simplicity[rows], lossy[rows], -cap[rows], usd[rows]))]
        rule = "cost: the cheapest configuration that meets every hard rule" + (" (running cost of the GPUs you own)" if owned else "")
    elif priority == "quality" or owned:
        tie = -replicas if owned else usd  # owned hardware is sunk cost: redundancy and headroom break ties, not price
        rows = every if groups is None else group_leaders(groups, (tie, usd, simplicity))
        order = rows[np.lexsort((simplicity[rows], usd[rows], tie[rows], lossy[rows], -cap[rows]))]
        rule = ("quality: the most capable model for the task, then the cheapest configuration of it without a lossy format"
                if not owned else f"{priority}: your GPUs are sunk cost, so the most capable model they can serve, "
                "then the most replicas (redundancy, headroom) and the lowest running cost")
    else:
        # a row dearer than its group's cheapest (or as cheap, later) is dominated by it: the front over each
        # group's first cheapest row is the front over every row
        cheapest = every if groups is None else group_leaders(groups, (usd,))
        front = np.zeros(len(usd), dtype=bool)
        front[cheapest] = pareto_front(cap[cheapest], usd[cheapest])
        pick = steepest_step(cap, usd, front, lossy)
        rows = every if groups is None else group_leaders(groups, (usd, simplicity))
        rest = rows[np.lexsort((simplicity[rows], usd[rows], lossy[rows], -cap[rows]))]
        keep = rest != pick if groups is None else groups[rest] != groups[pick]
        order = np.concatenate(([pick], rest[keep]))
        rule = ("balanced: the knee of the Pareto front of capability against monthly cost, where the share of the front's "
                "capability range gained most exceeds the share of its cost range (log scale) paid")
    return Choice(order=order, front=front, rule=rule)


def group_leaders(groups: np.ndarray, keys: tuple[np.ndarray, ...]) -> np.ndarray:
    """Per group, the row that is least on `keys` (most significant first), the lowest row among equals;
    the leaders in row order."""
    alive = np.ones(len(groups), dtype=bool)
    size = int(groups.max()) + 1 if len(groups) else 0
    for key in keys:
        best = np.full(size, np.inf)
        np.minimum.at(best, groups[alive], key[alive])
        alive &= key == best[groups]
    rows = np.nonzero(alive)[0]
    _, at = np.unique(groups[rows], return_index=True)  # the lowest row of each group's equals
    return np.sort(rows[at])


def pareto_front(capability: np.ndarray, usd: np.ndarray) -> np.ndarray:
    """Rows no other row beats on both capability (higher) and cost (lower), ties kept once."""
    order = np.lexsort((-capability, usd))  # cheapest first, the most capable of equal cost first
    ordered = capability[order]
    before = np.concatenate(([-np.inf], np.maximum.accumulate(ordered)[:-1]))  # the best capability of every cheaper row
    on = np.zeros(len(usd), dtype=bool)
    on[order] = ordered > before
    return on


def steepest_step(capability: np.ndarray, usd: np.ndarray, front: np.ndarray, lossy: np.ndarray) -> int:
    """The knee of the front: the point with the largest lead of capability over cost, each as its share
    of the front's range (cost on a log scale, since a doubling costs the same wherever it happens);
    formats without measurable loss first. The cheapest point when the front has one point."""
    points = np.nonzero(front & (lossy == 0))[0]
    if not len(points):
        points = np.nonzero(front)[0]
    cap = capability[points]
    scored = cap > UNSCORED / 2
    if len(points) == 1 or not scored.any():
        return int(points[np.argmin(usd[points])])
    cost = np.log(np.maximum(usd[points], 1.0))
    span_cap = max(float(np.ptp(cap[scored])), 1e-9)
    span_cost = max(float(np.ptp(cost)), 1e-9)
    lead = np.where(scored, (cap - cap[scored].min()) / span_cap - (cost - cost.min()) / span_cost, -np.inf)
    return int(points[np.argmax(lead)])
