"""The plan's numbers a running service is held to: its latency targets, peak, capacity and headroom.

Read from a plan (`planner plan --json`) or a plan file (`--save-plan`). Capacity is the recommender's
own sizing of one replica (`recommendation.replica_tokens_per_month`, planner.plan.grid: what one
replica carries at the peak, input + output tokens, stored at the average rate) times the replicas;
the KV-cache ceiling is the plan's busy ceiling (`planner.plan.grid_step.MAX_BUSY`, 85%): a replica
planned fuller than that queues without bound at the peak.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from planner.monitor.errors import MonitorError
from planner.plan.grid_step import MAX_BUSY
from planner.plan.planfile import SCHEMA as PLAN_FILE_SCHEMA

SECONDS_PER_MONTH = 86_400 * 30.4375  # the month planner.plan.grid uses for replica_tokens_per_month
DEFAULT_MAX_ERROR_RATE = 0.01


class PlanTargets(BaseModel):
    """Targets and predictions of one plan. Times in s, rates per second, usage 0–1."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    label: str
    engine: str | None
    gpu: str | None
    quant: str | None
    model: str | None
    replicas: int
    max_ttft_s: float | None
    min_tokens_per_s: float | None
    peak_requests_per_s: float
    capacity_requests_per_s: float | None
    input_tokens: int
    output_tokens: int
    kv_cache_ceiling: float = MAX_BUSY
    max_error_rate: float = DEFAULT_MAX_ERROR_RATE
    predicted: dict[str, float | None]
    constraints: dict[str, Any] = {}  # the plan's, for the calibrated replan

    @property
    def capacity_per_replica(self) -> float | None:
        return self.capacity_requests_per_s / self.replicas if self.capacity_requests_per_s else None


def load_plan(path: str | Path) -> dict[str, Any]:
    """A plan dict from a file; MonitorError naming the file when it is not a plan."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MonitorError(f"plan file {path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise MonitorError(f"plan file {path} is not readable JSON: {exc}") from None
    return plan_document(doc)


def plan_document(doc: Any) -> dict[str, Any]:
    if isinstance(doc, Mapping) and doc.get("schema") == PLAN_FILE_SCHEMA:
        doc = doc.get("plan")
    if not isinstance(doc, Mapping) or not isinstance(doc.get("recommendation"), Mapping):
        raise MonitorError("the plan has no recommendation to monitor: give the JSON of `planner plan --json` "
                           "or a plan file from `--save-plan`")
    return dict(doc)


def targets_from_plan(plan: Mapping[str, Any], *, max_error_rate: float = DEFAULT_MAX_ERROR_RATE) -> PlanTargets:
    plan = plan_document(plan)
    rec = plan["recommendation"]
    speed = rec.get("speed") or {}
    peak = _num(plan, "load.peak_requests_per_s", required=True)
    replicas = int(_num(plan, "recommendation.replicas", required=True))
    input_tokens = int(_num(plan, "constraints.input_tokens", required=True))
    output_tokens = int(_num(plan, "constraints.output_tokens", required=True))
    per_replica_tokens = _num(plan, "recommendation.replica_tokens_per_month")
    peak_to_average = _num(plan, "constraints.peak_to_average") or 1.0
    capacity = None
    if per_replica_tokens:
        capacity = replicas * per_replica_tokens * peak_to_average / ((input_tokens + output_tokens) * SECONDS_PER_MONTH)
    label = " · ".join(str(rec.get(k)) for k in ("model", "quant", "engine") if rec.get(k))
    if rec.get("gpu"):
        label += f" · {rec.get('gpus') or 1}× {rec.get('gpu')} × {replicas} replica(s)"
    return PlanTargets(
        label=label or "the plan's pick", engine=rec.get("engine"), gpu=rec.get("gpu"), quant=rec.get("quant"),
        model=rec.get("model"), replicas=replicas, max_ttft_s=_num(plan, "constraints.max_ttft_s"),
        min_tokens_per_s=_num(plan, "constraints.min_tokens_per_s"), peak_requests_per_s=peak,
        capacity_requests_per_s=capacity, input_tokens=input_tokens, output_tokens=output_tokens,
        max_error_rate=max_error_rate, constraints=dict(plan.get("constraints") or {}),
        predicted={k: _plain(speed.get(k)) for k in ("ttft_s", "decode_tokens_per_s", "decode_tokens_per_s_at_concurrency",
                                                     "decode_roofline_tokens_per_s", "concurrency")},
    )


def _plain(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _num(doc: Mapping[str, Any], path: str, *, required: bool = False) -> float | None:
    node: Any = doc
    for part in path.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    if node is None:
        if required:
            raise MonitorError(f"field '{path}' is missing from the plan: a plan from `planner plan --json` has it")
        return None
    if _plain(node) is None or node <= 0:
        raise MonitorError(f"field '{path}' of the plan must be a positive number, got {str(node)[:40]!r}")
    return float(node)
