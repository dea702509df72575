"""The plan: what the recommender returns, JSON-serialisable, with its reasons and provenance."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from planner.estimate.cost import CostAssumptions, HostingCost
from planner.estimate.load import Load
from planner.estimate.memory import MemoryEstimate
from planner.estimate.speed import SpeedEstimate
from planner.findings import Finding

PLAN_SCHEMA_VERSION = 1

class Candidate(BaseModel):
    """One deployable configuration with its numbers."""

    model_config = ConfigDict(frozen=True)

    model: str
    model_name: str
    quant: str
    engine: str
    gpu: str
    gpu_name: str
    gpus: int
    replicas: int
    total_gpus: int
    memory: MemoryEstimate
    speed: SpeedEstimate
    cost: HostingCost
    capability_score: float | None
    capability_benchmark: str | None
    score: float
    findings: list[Finding] = []
    basis: list[str] = []
    equivalent_engines: list[str] = []  # engines with the same estimates (e.g. Ollama beside llama.cpp)
    replica_tokens_per_month: float | None = None  # what one replica carries at the peak rate, input + output
    capability: dict = {}  # the task's benchmark: task, benchmark, score, basis (published or the stated fallback), source
    reasoning: dict = {}  # mode, hidden reasoning tokens per request, basis, source, first_answer_token_s


class RuledOut(BaseModel):
    """A model that no configuration could serve, with the reason from its closest attempt."""

    model_config = ConfigDict(frozen=True)

    model: str
    model_name: str
    rule: str
    reason: str


class ApiOption(BaseModel):
    """A paid API priced at the plan's volume, against the self-hosted pick."""

    model_config = ConfigDict(frozen=True)

    id: str
    provider: str
    model: str
    open_weights: bool
    same_model: bool
    usd_per_month: float
    usd_per_mtok: float
    capability_score: float | None
    break_even_tokens_per_month: float | None
    allowed: bool
    source: str
    as_of: str
    capability: dict = {}  # the same benchmark as the candidates' (planner.plan.capability)


class Plan(BaseModel):
    """A ranked recommendation with everything needed to check it."""

    model_config = ConfigDict(frozen=True)

    schema_version: int = PLAN_SCHEMA_VERSION
    constraints: dict
    verdict: Literal["self-host", "api", "either"]
    verdict_reasons: list[str]
    recommendation: Candidate | None
    alternatives: list[Candidate]
    ruled_out: list[RuledOut]
    findings: list[Finding]
    apis: list[ApiOption]
    load: Load
    assumptions: CostAssumptions
    candidates_evaluated: int
    data_as_of: dict[str, str]
    fine_tuning: dict = {}  # planner.finetune.section.finetune_section for the top pick, when fine-tuning is planned
    objective: dict = {}  # priority, the rule that picked, the task's benchmark, deployment, replicas (planner.plan.objective)
    idle_hardware: str | None = None  # owned GPUs the pick leaves idle, and what they could serve instead
    decision: dict = {}  # capability x cost points of the feasible models, the Pareto front, the pick, why this and not that
    oldest_price: dict = {}  # the oldest price the plan used (planner.catalog.staleness.oldest_price): kind, id, as_of, age, stale

    def to_json_dict(self) -> dict:
        """The plan as plain JSON types (what `python -m planner plan --json` prints)."""
        return self.model_dump(mode="json")
