"""Paid APIs priced at the plan's volume against the self-hosted pick, capability on the task's benchmark."""

from __future__ import annotations

from planner.catalog.loading import Catalog
from planner.estimate.cost import api_cost_usd_per_month, blended_usd_per_mtok, break_even_tokens_per_month
from planner.estimate.load import Load
from planner.plan.capability import CapabilityTable
from planner.plan.constraints import Constraints
from planner.plan.model import ApiOption, Candidate


def api_options(catalog: Catalog, c: Constraints, load: Load, top: Candidate | None, table: CapabilityTable,
                min_replicas: int = 1) -> list[ApiOption]:
    """Every API priced at the plan's volume; the break-even counts the fewest replicas the plan runs (redundancy)."""
    out = []
    floor = max(1, min_replicas)
    per_replica_usd = top.cost.usd_per_month / top.replicas * floor if top else None
    capacity = top.replica_tokens_per_month * floor if top else None
    for api in catalog.apis.values():
        if api.context_tokens is not None and api.context_tokens < c.context_needed:
            continue
        monthly = float(api_cost_usd_per_month(api, load.input_tokens_per_month, load.output_tokens_per_month))
        per_mtok = blended_usd_per_mtok(api, c.input_tokens, c.output_tokens)
        out.append(ApiOption(
            id=api.id, provider=api.provider, model=api.model, open_weights=api.open_weights,
            same_model=bool(top and api.hf_model_id and api.hf_model_id.lower() == top.model.lower()),
            usd_per_month=monthly, usd_per_mtok=per_mtok, capability_score=table.of(api.id).score,
            capability=table.of(api.id).as_json(),
            break_even_tokens_per_month=break_even_tokens_per_month(per_replica_usd, per_mtok, capacity) if top else None,
            allowed=c.api_allowed, source=api.source, as_of=api.as_of.isoformat(),
        ))
    return sorted(out, key=lambda x: x.usd_per_month)
