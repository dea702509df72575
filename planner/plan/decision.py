"""What a plan shows of its decision: the feasible models on capability x monthly cost with the Pareto
front and the pick, "why this and not that" for the more capable and the cheaper neighbours, and the
owned hardware the pick leaves idle."""

from __future__ import annotations

import numpy as np

from planner.plan.capability import CapabilityTable
from planner.plan.grid import Grid
from planner.plan.model import Candidate, RuledOut
from planner.plan.objective import UNSCORED, Choice, pareto_front


def decision_points(grid: Grid, feasible: np.ndarray, choice: Choice | None, table: CapabilityTable) -> list[dict]:
    """Per feasible model, the configuration the objective ranks first for it: its capability and cost."""
    if choice is None:
        return []
    v = grid.values
    models_in_order = grid.m[feasible[choice.order]]
    _, first = np.unique(models_in_order, return_index=True)  # each model's best-ranked row
    seen: dict[int, dict] = {}
    for rank_index in sorted(first.tolist()):
        k = choice.order[rank_index]
        i = int(feasible[k])
        mi = int(grid.m[i])
        model = grid.models[mi]
        quant, engine = grid.pairs[grid.p[i]]
        hw = grid.hardware[grid.h[i]]
        seen[mi] = {"model": model.id, "model_name": model.name, "capability": table.of(model.id).score,
                    "usd_per_month": round(float(v["usd_per_month"][i]), 2), "on_front": False,
                    "picked": rank_index == 0, "setup": f"{quant.id} · {engine.id} · {hw.count}× {hw.gpu.name} × {int(v['replicas'][i])}"}
    points = sorted(seen.values(), key=lambda p: p["usd_per_month"])
    # the front of the points shown (each model at the configuration the objective ranks first for it)
    if points:
        cap = np.array([UNSCORED if p["capability"] is None else p["capability"] for p in points])
        front = pareto_front(cap, np.array([p["usd_per_month"] for p in points]))
        for p, on in zip(points, front):
            p["on_front"] = bool(on) and p["capability"] is not None
    return points


def why_not(points: list[dict], top: Candidate | None, ruled_out: list[RuledOut], table: CapabilityTable, benchmark: str | None) -> dict:
    """The runner-up with more capability and the cheaper one, each with a plain sentence."""
    out: dict = {}
    if top is None:
        return out
    mine = top.capability_score
    name = benchmark or "the task's benchmark"
    stronger = [p for p in points if p["capability"] is not None and mine is not None and p["capability"] > mine]
    if stronger:
        best = min(stronger, key=lambda p: p["usd_per_month"])
        extra = best["usd_per_month"] - top.cost.usd_per_month
        out["more_capable"] = best | {"why": (
            f"{best['model_name']} scores {_pts(best['capability'] - mine)} more on {name} but costs "
            f"${extra:,.0f}/month more ({best['setup']}); the objective preferred {top.model_name} ({name} {_fmt(mine)}) at its cost.")}
    else:
        blocked = [(table.of(r.model).score, r) for r in ruled_out if mine is not None and (table.of(r.model).score or -1) > mine]
        if blocked:
            score, r = max(blocked, key=lambda x: x[0])
            out["more_capable"] = {"model": r.model, "model_name": r.model_name, "capability": score, "why": (
                f"{r.model_name} scores {_pts(score - mine)} more on {name} but was ruled out ({r.rule}): {r.reason}")}
    cheaper = [p for p in points if p["usd_per_month"] < top.cost.usd_per_month and p["model"] != top.model]
    if cheaper:
        best = max(cheaper, key=lambda p: (p["capability"] if p["capability"] is not None else -1e9, -p["usd_per_month"]))
        saving = top.cost.usd_per_month - best["usd_per_month"]
        gap = None if best["capability"] is None or mine is None else mine - best["capability"]
        out["cheaper"] = best | {"why": (
            f"{best['model_name']} costs ${saving:,.0f}/month less ({best['setup']}) but "
            + (f"scores {_pts(gap)} less on {name}." if gap is not None and gap > 0 else f"is no more capable on {name}."))}
    return out


def idle_hardware(owned: dict[str, int], names: dict[str, str], top: Candidate | None, points: list[dict]) -> str | None:
    """Owned GPUs the pick leaves idle, and what they could do instead."""
    if not owned or top is None:
        return None
    idle = {gpu: n - (top.total_gpus if gpu == top.gpu else 0) for gpu, n in owned.items()}
    idle = {gpu: n for gpu, n in idle.items() if n > 0}
    if not idle:
        return None
    words = ", ".join(f"{n} × {names[gpu]}" for gpu, n in idle.items())
    more = idle.get(top.gpu, 0) // top.gpus
    parts = [f"{words} of the GPUs you own stay idle"]
    if more:
        parts.append(f"they could run {more} more replica(s) of this configuration ({(top.replicas + more) / top.replicas:.1f}× today's "
                     "capacity, headroom for a higher peak or a failed node)")
    stronger = [p for p in points if top.capability_score is not None and p["capability"] is not None and p["capability"] > top.capability_score]
    if stronger:
        parts.append(f"or a second model alongside (e.g. {stronger[0]['model_name']}, {stronger[0]['setup']})")
    return "; ".join(parts) + "."


def _pts(x: float) -> str:
    return f"{x:,.0f} points" if abs(x) >= 20 else f"{x:.1f} points"


def _fmt(x: float | None) -> str:
    return "unscored" if x is None else (f"{x:,.0f}" if x >= 200 else f"{x:.1f}")
