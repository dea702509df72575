"""Open-Weights Deployment Planner: the core, free of any user interface.

Public names are re-exported here; `tests/test_public_api.py` checks `__all__` is complete.
"""

from planner.catalog import Catalog, load_catalog
from planner.constraints import Constraints, GpuCount, load_constraints, parse_constraints
from planner.errors import CatalogError, ConstraintError, LookupFailed, PlannerError
from planner.estimate import default_engine, estimate
from planner.hf_config import model_from_hf_config
from planner.memory import MemoryEstimate, estimate_memory, kv_cache_bytes
from planner.plan import ApiOption, Candidate, Finding, Plan, RuledOut
from planner.recommend import recommend
from planner.speed import SpeedEstimate, estimate_speed

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
