"""What-if: the same constraints at other volumes and cost assumptions, and where the pick changes.

Volume is stated in tokens per month (input + output), the unit API prices and the cost chart
use; `requests_per_day_for` turns it back into the requests a day the constraints hold, at the
constraints' own tokens per request.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from planner.plan.constraints import Constraints, parse_constraints
from planner.plan.model import Plan
from planner.units import DAYS_PER_MONTH, format_tokens

# 1-3-10 steps from hobby use (100k tokens a month: a few hundred chats) to a large product
# (a trillion tokens a month).
VOLUME_OPTIONS_TOKENS_PER_MONTH: tuple[float, ...] = tuple(
    float(f"{m}e{e}") for e in range(5, 13) for m in (1, 3) if not (e == 12 and m == 3)
)
# The volumes at which the whole plan is recomputed to find where the pick changes: one a decade
# keeps the sweep to 8 plans (a plan takes ~0.1-0.3 s), each cached by the page.
SWEEP_VOLUMES_TOKENS_PER_MONTH: tuple[float, ...] = tuple(10.0**e for e in range(5, 13))


def tokens_per_request(c: Constraints) -> int:
    return c.input_tokens + c.output_tokens


def tokens_per_month_for(c: Constraints) -> float:
    """The monthly volume the constraints describe."""
    return c.requests_per_day * DAYS_PER_MONTH * tokens_per_request(c)


def requests_per_day_for(c: Constraints, tokens_per_month: float) -> float:
    """Requests a day that make `tokens_per_month` at the constraints' tokens per request."""
    return tokens_per_month / DAYS_PER_MONTH / tokens_per_request(c)


def with_changes(c: Constraints, tokens_per_month: float | None = None, **cost_fields) -> Constraints:
    """The constraints with another volume and/or cost assumptions, validated again."""
    data = c.model_dump(mode="json")
    if tokens_per_month is not None:
        data["requests_per_day"] = requests_per_day_for(c, tokens_per_month)
    data.update(cost_fields)
    return parse_constraints(data)


def nearest_option(tokens_per_month: float, options: Sequence[float] = VOLUME_OPTIONS_TOKENS_PER_MONTH) -> float:
    """The option closest on a log scale (for placing a slider at the constraints' own volume)."""
    target = math.log10(max(tokens_per_month, 1.0))
    return min(options, key=lambda v: abs(math.log10(v) - target))


def pick_key(plan: Plan) -> tuple | None:
    """What 'the same pick' means: model, quantization, engine and GPU type per replica."""
    top = plan.recommendation
    if top is None:
        return None
    return (top.model, top.quant, top.engine, top.gpu, top.gpus)


def pick_label(plan: Plan) -> str:
    top = plan.recommendation
    if top is None:
        return "no self-hosted option"
    # everything pick_key compares, so two different picks never read the same
    return f"{top.model.split('/')[-1]} {top.quant} · {top.engine} on {top.gpus}× {top.gpu}"


def sweep(c: Constraints, plan_for: Callable[[Constraints], Plan],
          volumes: Sequence[float] = SWEEP_VOLUMES_TOKENS_PER_MONTH) -> list[tuple[float, Plan]]:
    """The plan at each volume; `plan_for` is the caller's (cached) recommender."""
    return [(v, plan_for(with_changes(c, tokens_per_month=v))) for v in volumes]


def pick_changes(samples: Sequence[tuple[float, Plan]]) -> list[dict]:
    """Volumes where the top pick differs from the previous sample's.

    Each dict: tokens_per_month (the geometric midpoint of the two samples, as the change lies
    somewhere between them), below and above (the picks), label (for the chart), and
    bracket_tokens_per_month (the two sampled volumes).
    """
    out = []
    for (v0, p0), (v1, p1) in zip(samples, samples[1:]):
        if pick_key(p0) != pick_key(p1):
            out.append({
                "tokens_per_month": math.sqrt(v0 * v1),
                "below": pick_label(p0),
                "above": pick_label(p1),
                "label": f"→ {pick_label(p1)}",
                "bracket_tokens_per_month": (v0, v1),
                "text": f"Between {format_tokens(v0)} and {format_tokens(v1)} tokens/month the pick changes "
                        f"from {pick_label(p0)} to {pick_label(p1)}: {change_reason(p0, p1)}",
                "reason": change_reason(p0, p1),
            })
    return out


def plan_points(samples: Sequence[tuple[float, Plan]]) -> list[dict]:
    """Each sampled volume's recommended monthly cost, for marking on the cost chart."""
    return [{"tokens_per_month": v, "usd_per_month": p.recommendation.cost.usd_per_month, "label": pick_label(p)}
            for v, p in samples if p.recommendation is not None]


def sweep_table(samples: Sequence[tuple[float, Plan]]) -> list[dict]:
    """One row per sampled volume: the pick, its replicas and cost, and the verdict."""
    rows = []
    for v, p in samples:
        top = p.recommendation
        rows.append({"tokens_per_month": v, "requests_per_day": p.constraints["requests_per_day"], "pick": pick_label(p),
                     "replicas": top.replicas if top else None, "usd_per_month": top.cost.usd_per_month if top else None,
                     "verdict": p.verdict})
    return rows


def change_reason(before: Plan, after: Plan) -> str:
    """Why the pick at the higher volume differs: the earlier pick broke a rule, or the objective weighed the
    new costs differently (with the figures), or the same model needs another configuration for the load."""
    old, new = before.recommendation, after.recommendation
    if new is None:
        gone = next((r for r in after.ruled_out if old is not None and r.model == old.model), None)
        return "nothing self-hosted meets the constraints at this volume" + (f": {gone.reason}" if gone else ".")
    if old is None:
        return "a self-hosted configuration now meets the constraints."
    if old.model == new.model:
        return (f"the same model on a configuration that serves this load for less: {new.replicas} replica(s) of "
                f"{new.gpus}× {new.gpu_name} (was {old.replicas} of {old.gpus}× {old.gpu_name}).")
    gone = next((r for r in after.ruled_out if r.model == old.model), None)
    if gone is not None:
        return f"{old.model_name} no longer qualifies ({gone.rule}): {gone.reason}"
    point = next((x for x in (after.decision or {}).get("points", []) if x["model"] == old.model), None)
    rule = (after.objective or {}).get("rule") or "the objective"
    if point is not None:
        return (f"at this volume {old.model_name} would cost ${point['usd_per_month']:,.0f}/month against "
                f"${new.cost.usd_per_month:,.0f}/month for {new.model_name}; {rule.split(':')[0]} objective: {rule}.")
    return f"{old.model_name} has no configuration left at this volume; {rule}."
