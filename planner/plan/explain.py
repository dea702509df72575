"""The sentences a plan gives about what was not built and why: engines not maintained, models no engine serves
on the hardware considered, the nearest miss when nothing fits, and what a second replica of owned GPUs needs."""

from __future__ import annotations

from planner.catalog.engine_support import lifecycle
from planner.catalog.loading import Catalog
from planner.catalog.records import ModelSpec
from planner.findings import Finding
from planner.plan.capability import CapabilityTable
from planner.plan.grid import Grid
from planner.catalog.engine_support import combination_support
from planner.plan.model import Candidate, RuledOut


def unsupported_reason(grid: Grid, model: ModelSpec) -> str:
    """Why no (format, engine, device) of a model was built: the support matrix's reasons, most frequent first."""
    counts: dict[str, int] = {}
    for quant, engine in grid.pairs:
        for gpu in {hw.gpu.id: hw.gpu for hw in grid.hardware}.values():
            answer = combination_support(model, quant, engine, gpu)
            if answer.status != "supported":
                counts[answer.reason] = counts.get(answer.reason, 0) + 1
    reasons = sorted(counts, key=lambda r: -counts[r])[:2]
    if not reasons:
        return f"No published format of {model.name} runs on the hardware considered."
    return f"No engine serves {model.name} on the hardware considered: " + "; ".join(reasons) + "."


def engine_lifecycle_findings(catalog: Catalog) -> list[Finding]:
    """Engines in maintenance or archived are not planned: one sentence each, with its date and source."""
    out = []
    for engine_id in catalog.engines:
        life = lifecycle(engine_id)
        if life.status in {"maintenance", "archived"}:
            out.append(Finding(rule="engine.lifecycle", effect="excluded", subject=engine_id,
                               message=f"{life.reason or life.name + ' is ' + life.status} ({life.source}); not planned."))
    return out


RELAX = {"latency.targets": "relax max_ttft_s or min_tokens_per_s, or allow faster hardware",
         "memory.fits": "give it more GPU memory (more or larger GPUs) or choose a smaller model",
         "budget.monthly": "raise budget_usd_per_month", "hardware.owned": "add GPUs (gpus_available)",
         "capability.minimum": "lower min_capability", "engine.fits-workload": "allow a serving engine's hardware",
         "engine.support": "allow other hardware (no engine serves it on the hardware considered)",
         "context.fits": "shorten the context", "licence.commercial": "allow non-commercial licences",
         "reasoning.not-needed": "name the model in models"}


def nearest_miss(ruled_out: list[RuledOut], table: CapabilityTable) -> Finding:
    """Nothing fits: the most capable model's closest attempt, and which constraint to relax for it."""
    order = sorted(ruled_out, key=lambda r: -(table.of(r.model).score if table.of(r.model).score is not None else -1e9))
    near = next((r for r in order if r.rule in {"latency.targets", "memory.fits", "budget.monthly", "hardware.owned"}),
                order[0] if order else None)
    if near is None:
        return Finding(rule="plan.none", effect="warning", message="No self-hosted configuration meets every hard rule.")
    return Finding(rule="plan.none", effect="warning", subject=near.model, message=(
        f"No self-hosted configuration meets every hard rule. Nearest: {near.model_name} — {near.reason} "
        f"To plan it: {RELAX.get(near.rule, 'relax that constraint')}."))


def second_replica(catalog: Catalog, top: Candidate) -> Finding:
    """Owned GPUs too few for the default two replicas: the plan runs one, and says what a second needs."""
    price = catalog.purchase_price(top.gpu)
    cost = f" (about ${price.usd * top.gpus:,.0f} to buy at {price.provider}'s listing of {price.as_of})" if price else ""
    return Finding(rule="redundancy.replicas", effect="warning", subject=top.model, message=(
        f"The GPUs you own host one replica, not the two a production service keeps: no redundancy, so a failed GPU or an "
        f"upgrade stops the service. A second replica needs {top.gpus} more × {top.gpu_name}{cost}."))
