"""The door: constraints reduced, once, to what each layer below needs.

`workload_from` gives the estimators and the grid their `Workload` (traffic, lengths, context,
targets); `filters_from` gives the grid and the rules their `Filters` (privacy, licence, hardware,
budget); `training_ask_from` gives the fine-tuning planner its request. Nothing below this module
sees a `Constraints`.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.catalog.loading import Catalog, load_catalog
from planner.estimate.load import Workload
from planner.finetune.section import TrainingAsk
from planner.plan.constraints import PRODUCTION_REQUESTS_PER_DAY, Constraints, GpuCount

SMALL_TEAM_CONCURRENCY = 4  # requests in flight at the peak beyond which llama.cpp/Ollama is not a production engine
DESK_KINDS = {"consumer", "apple", "edge", "unified"}  # devices that live on a desk or in a device, not in a rack


@dataclass(frozen=True)
class Filters:
    """The hard limits on candidates that are not about speed: where the model may run, on what, at what cost."""

    privacy: str
    commercial_use: bool
    owned: tuple[GpuCount, ...] | None  # the GPUs the architect owns; None = rent (or buy, on premises)
    budget_usd_per_month: float | None
    deployment: str = "datacenter"  # datacenter | office | edge
    deployment_reason: str = "stated"
    min_replicas: int = 1
    self_quantize: bool = False  # formats nobody published may be planned (the user quantizes)

    @property
    def geforce_allowed(self) -> bool:
        """NVIDIA's GeForce driver licence forbids datacenter deployment (https://www.nvidia.com/en-us/drivers/geforce-license/)."""
        return self.deployment != "datacenter"

    @property
    def buy(self) -> bool:
        """No cloud rental: hardware is bought (on premises or offline, none owned)."""
        return self.owned is None and self.privacy in {"on-prem", "offline"}

    @property
    def owning(self) -> bool:
        """The GPUs are the architect's (owned or bought), priced as capital, power and colocation."""
        return self.owned is not None or self.privacy in {"on-prem", "offline"}


def workload_from(c: Constraints) -> Workload:
    return Workload(requests_per_day=c.requests_per_day, peak_to_average=c.peak_to_average, input_tokens=c.input_tokens,
                    output_tokens=c.output_tokens, context_needed=c.context_needed, max_ttft_s=c.max_ttft_s,
                    min_tokens_per_s=c.min_tokens_per_s, kv_cache_dtype=c.kv_cache_dtype)


def filters_from(c: Constraints, catalog: Catalog | None = None) -> Filters:
    owned = tuple(c.gpus_available) if c.gpus_available is not None else None
    deployment, reason = deployment_for(c, catalog or load_catalog())
    if c.min_replicas is not None:
        replicas = c.min_replicas
    else:  # a production service keeps a second replica, so that one can fail or be upgraded
        replicas = 2 if deployment == "datacenter" and c.requests_per_day >= PRODUCTION_REQUESTS_PER_DAY else 1
    return Filters(privacy=c.privacy, commercial_use=c.commercial_use, owned=owned, budget_usd_per_month=c.budget_usd_per_month,
                   deployment=deployment, deployment_reason=reason, min_replicas=replicas,
                   self_quantize=c.allow_self_quantization)


def deployment_for(c: Constraints, catalog: Catalog) -> tuple[str, str]:
    """Where the service runs, and why: as stated, else inferred from the task and the GPUs owned."""
    if c.deployment is not None:
        return c.deployment, "stated"
    if c.task == "edge":
        return "edge", "inferred from the edge task"
    if c.gpus_available:
        kinds = {catalog.gpu(g.gpu).kind for g in c.gpus_available}
        if kinds and kinds <= DESK_KINDS:
            return "office", "inferred: the GPUs you own are desktop or device parts"
    return "datacenter", "the default for a service"


def training_ask_from(c: Constraints) -> TrainingAsk:
    owned = tuple((g.gpu, g.count) for g in c.gpus_available or ())
    return TrainingAsk(method=c.fine_tuning, tokens=c.fine_tuning_tokens, epochs=c.fine_tuning_epochs, owned=owned)
