"""Verify a plan: replay its workload at its peak and say whether the deployment meets it.

`workload_from_plan` reads a plan (`planner plan --json`, or a plan file) into the load to send:
the peak arrival rate (`load.peak_requests_per_s`, the whole deployment's; ÷ replicas when the URL
is one replica), the prompt and output lengths and context of the constraints, and the targets
(`max_ttft_s`, `min_tokens_per_s`). `verify_config` sweeps open-loop rates at fractions and
multiples of that peak (0.25×, 0.5×, 1×, 1.5×, 2×). `verification` judges the result: the share of
requests that met both targets at each rate (errors count as misses, never as latencies), goodput,
the saturation point (the first rate where attainment falls below the threshold or goodput stops
growing, as GuideLLM's sweep looks for), and one sentence on the plan at its peak with measured and
predicted figures side by side, and what to change when it misses.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from planner.probe.compare import fmt, plan_parts
from planner.probe.config import ProbeConfig
from planner.probe.faults import ProbeConfigError
from planner.probe.results import LevelResult, ProbeResult

MULTIPLES = (0.25, 0.5, 1.0, 1.5, 2.0)
#: Share of requests that must meet both targets for a level to count as meeting the plan.
DEFAULT_ATTAINMENT = 0.9
#: Goodput must grow by at least this share of the offered rate's growth to count as growing
#: (lenient: a level of a few dozen Poisson arrivals measures its goodput to ±20%).
GROWTH_SHARE = 0.25
PLAN_FILE_SCHEMA = "ow-planner/plan"
#: A level counts as "at the peak" when its rate is within this share of it.
PEAK_TOLERANCE = 0.05


class PlanWorkload(BaseModel):
    """The load a plan implies and the targets it must meet. Rates in requests/s, times in s."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    label: str
    peak_requests_per_s: float  # the whole deployment's peak
    replicas: int
    per_replica: bool  # the URL is one replica, so it gets peak ÷ replicas
    target_requests_per_s: float  # what the URL gets at 1×
    prompt_tokens: int
    output_tokens: int
    context_tokens: int | None
    max_ttft_s: float | None
    min_tokens_per_s: float | None
    predicted: dict[str, float | None]


def plan_document(doc: Any) -> dict[str, Any]:
    """The plan inside `doc`: a plan (`planner plan --json`) or a plan file ({"schema": ..., "plan": ...})."""
    if isinstance(doc, Mapping) and doc.get("schema") == PLAN_FILE_SCHEMA:
        doc = doc.get("plan")
        if not isinstance(doc, Mapping):
            raise ProbeConfigError("field 'plan' of the plan file must be an object (a plan from `planner plan`)")
    plan_parts(doc)  # names what is missing
    return dict(doc)


def _field(doc: Mapping[str, Any], path: str, *, positive: bool = True, required: bool = True) -> Any:
    node: Any = doc
    for part in path.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    if node is None:
        if required:
            raise ProbeConfigError(f"field '{path}' is missing: a plan from `planner plan --json` has it")
        return None
    if isinstance(node, bool) or not isinstance(node, (int, float)) or (positive and not node > 0):
        raise ProbeConfigError(f"field '{path}' must be a positive number, got {str(node)[:40]!r}")
    return node


def workload_from_plan(plan: Mapping[str, Any], *, per_replica: bool = False) -> PlanWorkload:
    """The plan's peak load and targets; ProbeConfigError naming the field when one is missing."""
    plan = plan_document(plan)
    _constraints, recommendation, speed = plan_parts(plan)
    peak = float(_field(plan, "load.peak_requests_per_s"))
    replicas = int(_field(plan, "recommendation.replicas"))
    prompt = int(_field(plan, "constraints.input_tokens"))
    output = int(_field(plan, "constraints.output_tokens"))
    context = _field(plan, "constraints.context_tokens", required=False)
    label = " · ".join(str(recommendation.get(k)) for k in ("model", "quant", "engine") if recommendation.get(k))
    gpu = recommendation.get("gpu")
    if gpu:
        label += f" · {recommendation.get('gpus') or 1}× {gpu} × {replicas} replica(s)"
    return PlanWorkload(
        label=label or "the plan's pick", peak_requests_per_s=peak, replicas=replicas, per_replica=per_replica,
        target_requests_per_s=peak / replicas if per_replica else peak, prompt_tokens=prompt, output_tokens=output,
        context_tokens=int(context) if context else None,
        max_ttft_s=_field(plan, "constraints.max_ttft_s", required=False),
        min_tokens_per_s=_field(plan, "constraints.min_tokens_per_s", required=False),
        predicted={k: (float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None)
                   for k, v in ((k, speed.get(k)) for k in ("ttft_s", "decode_tokens_per_s",
                                                            "decode_tokens_per_s_at_concurrency",
                                                            "throughput_tokens_per_s", "concurrency"))},
    )


def verify_config(base: ProbeConfig, workload: PlanWorkload, *, multiples: tuple[float, ...] = MULTIPLES,
                  **overrides: Any) -> ProbeConfig:
    """`base` turned into the plan's rate sweep: its lengths, context, targets, and rates."""
    settings = base.model_dump()
    settings.update(
        rates=tuple(round(m * workload.target_requests_per_s, 6) for m in multiples),
        prompt_tokens=workload.prompt_tokens, max_tokens=workload.output_tokens,
        context_tokens=workload.context_tokens, slo_ttft_s=workload.max_ttft_s,
        slo_tokens_per_s=workload.min_tokens_per_s,
    )
    settings.update(overrides)
    if base.api_key is not None:
        settings["api_key"] = base.api_key
    return ProbeConfig(**settings)


def saturation(levels: list[LevelResult], attainment: float = DEFAULT_ATTAINMENT) -> dict[str, Any]:
    """The highest rate the endpoint sustained and the first where it saturated (with why)."""
    rated = sorted((lv for lv in levels if lv.request_rate_rps is not None), key=lambda lv: lv.request_rate_rps)
    sustained: LevelResult | None = None
    for prev, level in zip([None, *rated], rated, strict=False):
        share = level.slo.attainment if level.slo is not None else None
        goodput = _goodput(level)
        why = None
        if share is not None and share < attainment:
            why = f"only {share:.0%} of requests met the targets ({attainment:.0%} needed)"
        elif prev is not None and _goodput(prev) is not None and goodput is not None:
            offered = level.request_rate_rps - prev.request_rate_rps
            if goodput - _goodput(prev) < GROWTH_SHARE * offered:
                why = (f"goodput grew from {fmt(_goodput(prev))} to only {fmt(goodput)} requests/s while the "
                       f"offered rate rose by {fmt(offered)}")
        if why:
            return {"sustained_rps": sustained.request_rate_rps if sustained else None,
                    "saturated_rps": level.request_rate_rps, "reason": why}
        sustained = level
    return {"sustained_rps": sustained.request_rate_rps if sustained else None, "saturated_rps": None,
            "reason": "no level saturated" if rated else "no open-loop level was run"}


def _goodput(level: LevelResult) -> float | None:
    if level.slo is not None:
        return level.slo.goodput_rps
    return level.requests_per_s


def verification(result: ProbeResult, workload: PlanWorkload, plan: Mapping[str, Any] | None = None, *,
                 attainment: float = DEFAULT_ATTAINMENT) -> dict[str, Any]:
    """The verdict on the plan at its peak, the saturation point, and advice when it misses."""
    levels = [lv for lv in result.levels if lv.request_rate_rps is not None]
    peak = min(levels, key=lambda lv: abs(lv.request_rate_rps - workload.target_requests_per_s), default=None)
    sat = saturation(levels, attainment)
    rows = [{"multiple": round(lv.request_rate_rps / workload.target_requests_per_s, 3),
             "request_rate_rps": lv.request_rate_rps, "attainment": lv.slo.attainment if lv.slo else None,
             "goodput_rps": _goodput(lv), "errors": lv.errors, "ttft_p90_s": lv.ttft_s.p90,
             "tokens_per_s_per_stream_p50": lv.output_tokens_per_s_per_stream.p50} for lv in levels]
    off_peak = peak is not None and abs(peak.request_rate_rps / workload.target_requests_per_s - 1) > PEAK_TOLERANCE
    if peak is None or peak.slo is None or peak.slo.attainment is None or off_peak:
        verdict = "unmeasured"
        nearest = f" (the nearest level ran at {fmt(peak.request_rate_rps)})" if off_peak else ""
        sentence = (f"Not shown to meet the plan: no request was judged at the planned peak of "
                    f"{fmt(workload.target_requests_per_s)} requests/s{nearest}.")
    else:
        verdict = "meets" if peak.slo.attainment >= attainment else "misses"
        sentence = _sentence(verdict, peak, workload, attainment, sat)
    advice = [] if verdict == "meets" else _advice(levels, workload, sat, attainment, result, plan)
    return {"verdict": verdict, "sentence": sentence, "advice": advice, "attainment_needed": attainment,
            "target_requests_per_s": workload.target_requests_per_s, "workload": workload.model_dump(),
            "saturation": sat, "levels": rows}


def _targets(workload: PlanWorkload) -> str:
    parts = []
    if workload.max_ttft_s is not None:
        parts.append(f"TTFT ≤ {fmt(workload.max_ttft_s)} s")
    if workload.min_tokens_per_s is not None:
        parts.append(f"≥ {fmt(workload.min_tokens_per_s)} tokens/s per stream")
    return " and ".join(parts) or "no targets"


def _vs(measured: float | None, predicted: float | None, unit: str) -> str:
    shown = "unmeasured" if measured is None else f"{fmt(measured)} {unit}"
    return shown + ("" if predicted is None else f" (plan: {fmt(predicted)} {unit})")


def _sentence(verdict: str, peak: LevelResult, workload: PlanWorkload, attainment: float,
              sat: dict[str, Any]) -> str:
    slo = peak.slo
    assert slo is not None and slo.attainment is not None
    head = "Meets the plan at its peak" if verdict == "meets" else "Misses the plan at its peak"
    where = "one replica's share of the" if workload.per_replica else "the"
    text = (f"{head}: at {fmt(peak.request_rate_rps)} requests/s ({where} planned peak), {slo.attainment:.0%} of "
            f"{slo.judged} requests met {_targets(workload)} ({attainment:.0%} needed), goodput "
            f"{fmt(slo.goodput_rps or 0)} requests/s, {peak.errors} error(s); measured TTFT p90 "
            f"{_vs(peak.ttft_s.p90, workload.predicted.get('ttft_s'), 's')}, decode p50 "
            f"{_vs(peak.output_tokens_per_s_per_stream.p50, workload.predicted.get('decode_tokens_per_s_at_concurrency'), 'tokens/s per stream')}")
    if sat["saturated_rps"] is not None:
        text += f"; it saturates at {fmt(sat['saturated_rps'])} requests/s ({sat['reason']})"
    return text + "."


def _advice(levels: list[LevelResult], workload: PlanWorkload, sat: dict[str, Any], attainment: float,
            result: ProbeResult, plan: Mapping[str, Any] | None) -> list[str]:
    out = []
    lowest = min(levels, key=lambda lv: lv.request_rate_rps, default=None)
    sustained = sat["sustained_rps"]
    if lowest is not None and lowest.slo is not None and (lowest.slo.attainment or 0) < attainment:
        out.append(f"Even at {fmt(lowest.request_rate_rps)} requests/s the targets are missed, so the latency of one "
                   "request is too high: more replicas will not help; a faster engine, a smaller quantization or "
                   "a faster GPU will.")
    elif sustained:
        per_endpoint_replicas = 1 if workload.per_replica else workload.replicas
        per_replica_rps = sustained / per_endpoint_replicas
        needed = math.ceil(workload.peak_requests_per_s / per_replica_rps - 1e-9)
        out.append(f"The endpoint sustained {fmt(sustained)} requests/s within the targets "
                   f"({fmt(per_replica_rps)} per replica): the planned peak of {fmt(workload.peak_requests_per_s)} "
                   f"requests/s needs {needed} replica(s), not {workload.replicas}.")
    if plan is not None:
        replanned = _replan(plan, result)
        if replanned:
            out.append(replanned)
    return out


def _replan(plan: Mapping[str, Any], result: ProbeResult) -> str | None:
    """What the planner picks once calibrated with this run's measured decode speed."""
    from planner.errors import PlannerError
    from planner.plan.constraints import parse_constraints
    from planner.plan.recommend import recommend
    from planner.probe.calibration import calibration_entry

    try:
        entry = calibration_entry(plan, result)
        if entry.decode_efficiency > 1:
            return (f"Not recalibrated: decode measured {fmt(entry.measured_decode_tokens_per_s)} tokens/s per stream, "
                    f"above the roofline of the plan's pick ({entry.engine} on {entry.gpu}), so this endpoint does "
                    "not run the planned configuration.")
        constraints = parse_constraints(dict(plan.get("constraints") or {}))
        top = recommend(constraints, calibrations=[entry.model_dump()]).recommendation
    except (PlannerError, ValueError):
        return None
    if top is None:
        return (f"Calibrated with this run (decode efficiency {entry.decode_efficiency:.0%} on {entry.engine} / "
                f"{entry.gpu}), the planner finds no self-hosted configuration that meets the constraints.")
    return (f"Calibrated with this run (decode efficiency {entry.decode_efficiency:.0%} on {entry.engine} / "
            f"{entry.gpu}), the planner picks {top.model_name} · {top.quant} · {top.engine} · {top.gpus}× "
            f"{top.gpu_name} × {top.replicas} replica(s).")
