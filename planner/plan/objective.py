"""The objective: which feasible candidate a plan picks, and why.

Every candidate here has passed the hard rules (privacy, fit, latency at the pessimistic end of the
band, engine, redundancy, budget, licence). `priority` then decides:

- a budget is a willingness to pay: with `budget_usd_per_month` set, quality and balanced both take the
  most capable model whose plan fits the budget, then the cheapest configuration of it whose weight
  format loses no measurable quality;
- quality: the same without a budget;
- cost: the cheapest configuration whose model meets `min_capability`;
- balanced (no budget): the most capable point of the capability x cost Pareto front, unless a cheaper
  point is a tie (within the benchmark's noise, CAPABILITY_NOISE) or gives up at most TRADE_MARGIN for a
  large saving (at least MIN_SAVING_SHARE of the cost and MIN_SAVING_USD a month); the cheapest such point.

Unscored models rank below every scored one. Owned GPUs are sunk cost: with hardware given, quality and
balanced rank by what the hardware can serve (capability, then the format that loses least, then
redundancy and headroom: more replicas), and cost by the running cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

QUALITY_LOSS_POINTS = 3.0  # a format losing this much (1 point per 1% perplexity) is "lossy" (planner.plan.rules.quant_penalty)
UNSCORED = -1e9  # models with no capability figure rank below every scored model
ELO = "LMArena text Elo"
# Differences this small are ties: inside LMArena's published confidence intervals for Elo, and within the
# run-to-run spread of percentage benchmarks (a point or two); a policy stated in every plan that uses it.
CAPABILITY_NOISE = {ELO: 10.0}
NOISE_POINTS = 2.0
# balanced gives up at most this much capability, and only for a large saving (both conditions).
TRADE_MARGIN = {ELO: 30.0}
TRADE_MARGIN_POINTS = 5.0
MIN_SAVING_SHARE = 0.5  # the cheaper plan costs at most half as much
MIN_SAVING_USD = 1_000.0  # and saves at least this much a month
OWNED_PENALTY_STEP = 0.5  # owned GPUs: formats whose quality loss differs by less than this are equal


def noise(benchmark: str | None) -> float:
    return CAPABILITY_NOISE.get(benchmark or "", NOISE_POINTS)


def trade_margin(benchmark: str | None) -> float:
    return TRADE_MARGIN.get(benchmark or "", TRADE_MARGIN_POINTS)


@dataclass(frozen=True)
class Choice:
    """The feasible rows in the order the objective ranks them, with the Pareto front marked."""

    order: np.ndarray  # indices into the feasible arrays, best first
    front: np.ndarray | None  # balanced only: bool per feasible row, on the capability x cost Pareto front
    rule: str  # the objective in one sentence


def rank(priority: str, capability: np.ndarray, penalty: np.ndarray, usd: np.ndarray, replicas: np.ndarray,
         simplicity: np.ndarray, owned: bool, groups: np.ndarray | None = None, budget_usd_per_month: float | None = None,
         benchmark: str | None = None, offload: np.ndarray | None = None) -> Choice:
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
    elif owned:
        # sunk cost: capability, then the format that loses least (lossless on idle GPUs beats lossy on few), then
        # redundancy and headroom, then the running cost
        # a format without measurable loss that fits in GPU memory beats one that spills layers to the CPU
        loss = np.round(penalty / OWNED_PENALTY_STEP)
        spill = np.zeros(len(usd)) if offload is None else offload.astype(float)
        # a group (model, format, device) leads with its row whole in GPU memory where it has one: the spill varies with
        # the GPUs a replica takes, so it must pick the leader, not only order the leaders
        rows = every if groups is None else group_leaders(groups, (spill, -replicas, usd, simplicity))
        order = rows[np.lexsort((simplicity[rows], usd[rows], -replicas[rows], loss[rows], spill[rows], lossy[rows], -cap[rows]))]
        rule = (f"{priority}: your GPUs are sunk cost, so the most capable model they can serve, whole in GPU memory where a "
                "format without measurable loss fits, in the format that loses least quality, then the most replicas (redundancy, "
                "headroom) and the lowest running cost")
    elif priority == "quality" or budget_usd_per_month is not None:
        rows = every if groups is None else group_leaders(groups, (usd, simplicity))
        order = rows[np.lexsort((simplicity[rows], usd[rows], lossy[rows], -cap[rows]))]
        rule = ("quality: the most capable model for the task, then its cheapest configuration, without a lossy format where one fits"
                if budget_usd_per_month is None else
                f"budget: your budget of ${budget_usd_per_month:,.0f}/month is what you will pay, so the most capable model whose "
                "plan fits it, then its cheapest configuration, without a lossy format where one fits")
    else:
        # a row dearer than its group's cheapest (or as cheap, later) is dominated by it: the front over each
        # group's first cheapest row is the front over every row
        cheapest = every if groups is None else group_leaders(groups, (usd,))
        if (lossy[cheapest] == 0).any():  # the front of formats without measurable loss, where there are any
            cheapest = cheapest[lossy[cheapest] == 0]
        front = np.zeros(len(usd), dtype=bool)
        front[cheapest] = pareto_front(cap[cheapest], usd[cheapest])
        pick = balanced_pick(cap, usd, front, benchmark)
        rows = every if groups is None else group_leaders(groups, (usd, simplicity))
        rest = rows[np.lexsort((simplicity[rows], usd[rows], lossy[rows], -cap[rows]))]
        keep = rest != pick if groups is None else groups[rest] != groups[pick]
        order = np.concatenate(([pick], rest[keep]))
        rule = (f"balanced: the most capable plan on the capability × cost front, unless a cheaper one scores within "
                f"{noise(benchmark):g} points on {benchmark or 'the benchmark'} (a tie), or gives up at most {trade_margin(benchmark):g} "
                f"points for at most {MIN_SAVING_SHARE:.0%} of the cost and ${MIN_SAVING_USD:,.0f}/month saved or more; "
                "then the cheapest such plan")
    return Choice(order=order, front=front, rule=rule)


def balanced_pick(cap: np.ndarray, usd: np.ndarray, front: np.ndarray, benchmark: str | None) -> int:
    """The row `balanced` picks on the front: see the module's docstring. The cheapest point when nothing on
    the front is scored."""
    points = np.nonzero(front)[0]
    scored = points[cap[points] > UNSCORED / 2]
    if not len(scored):
        return int(points[np.argmin(usd[points])])
    best = scored[np.lexsort((usd[scored], -cap[scored]))[0]]
    drop = cap[best] - cap[scored]
    saving = usd[best] - usd[scored]
    tie = drop <= noise(benchmark)
    worth_it = ((drop <= trade_margin(benchmark)) & (usd[scored] <= MIN_SAVING_SHARE * usd[best])
                & (saving >= MIN_SAVING_USD))
    ok = scored[tie | worth_it]
    return int(ok[np.lexsort((-cap[ok], usd[ok]))[0]])


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
