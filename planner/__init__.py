"""Open-Weights Deployment Planner: the core, free of any user interface.

Public names are re-exported here; `tests/test_public_api.py` checks `__all__` is complete.
"""

from planner.catalog.hf_config import model_from_hf_config
from planner.catalog.loading import Catalog, load_catalog
from planner.errors import CatalogError, ConstraintError, LookupFailed, PlannerError
from planner.estimate.configuration import default_engine, estimate
from planner.estimate.memory import MemoryEstimate, estimate_memory, kv_cache_bytes
from planner.estimate.speed import SpeedEstimate, estimate_speed
from planner.findings import Finding
from planner.plan.constraints import (
    Constraints,
    GpuCount,
    load_constraints,
    parse_constraints,
)
from planner.plan.model import ApiOption, Candidate, Plan, RuledOut
from planner.plan.recommend import recommend

__all__ = [
    "ApiOption",
    "Candidate",
    "Catalog",
    "CatalogError",
    "Constraints",
    "ConstraintError",
    "Finding",
    "GpuCount",
    "LookupFailed",
    "MemoryEstimate",
    "Plan",
    "PlannerError",
    "RuledOut",
    "SpeedEstimate",
    "default_engine",
    "estimate",
    "estimate_memory",
    "estimate_speed",
    "kv_cache_bytes",
    "load_catalog",
    "load_constraints",
    "model_from_hf_config",
    "parse_constraints",
    "recommend",
]
