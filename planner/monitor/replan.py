"""The plan again, calibrated with the decode speed a running service showed.

The probe calibrates with a single-stream decode measured on an idle endpoint (`planner.probe.calibration`:
`decode_efficiency` = measured ÷ the plan's `decode_roofline_tokens_per_s`). A monitored service runs
at its own concurrency, so its per-stream speed (1 ÷ median inter-token latency) is compared with the
plan's prediction at its concurrency, and that ratio scales the plan's single-stream efficiency:
efficiency = (measured ÷ predicted at concurrency) × (predicted single-stream ÷ roofline). The entry has
the probe's fields, so the estimator reads it as it reads a stored calibration (`planner.estimate.speed.efficiencies`).
"""

from __future__ import annotations

from datetime import datetime, timezone

from planner.errors import PlannerError
from planner.monitor.observation import Observation
from planner.monitor.targets import PlanTargets


def calibration_from_window(obs: Observation, t: PlanTargets) -> dict | None:
    """A calibration entry (the probe's fields), or None when the plan or the window lacks a figure."""
    measured = obs.decode_tokens_per_s_per_stream
    at_concurrency = t.predicted.get("decode_tokens_per_s_at_concurrency")
    single = t.predicted.get("decode_tokens_per_s")
    roofline = t.predicted.get("decode_roofline_tokens_per_s")
    if not (measured and at_concurrency and single and roofline and t.engine and t.gpu):
        return None
    return {"engine": t.engine, "gpu": t.gpu, "quant": t.quant, "model": t.model,
            "decode_efficiency": measured / at_concurrency * single / roofline,
            "measured_decode_tokens_per_s": measured, "predicted_decode_tokens_per_s": at_concurrency,
            "endpoint_host": None, "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def calibrated_replan(obs: Observation, t: PlanTargets) -> str | None:
    """One sentence: what the planner picks once calibrated with this window; None when it cannot say."""
    from planner.plan.constraints import parse_constraints
    from planner.plan.recommend import recommend

    entry = calibration_from_window(obs, t)
    if entry is None or not t.constraints:
        return None
    if entry["decode_efficiency"] > 1:
        return (f"Not recalibrated: decode ran at {entry['measured_decode_tokens_per_s']:.1f} tokens/s per stream, above "
                f"what the plan's pick ({t.engine} on {t.gpu}) can reach, so the service does not run the planned "
                "configuration.")
    try:
        top = recommend(parse_constraints(dict(t.constraints)), calibrations=[entry]).recommendation
    except (PlannerError, ValueError):
        return None
    head = f"Calibrated with this window (decode efficiency {entry['decode_efficiency']:.0%} on {t.engine} / {t.gpu})"
    if top is None:
        return f"{head}, the planner finds no self-hosted configuration that meets the constraints."
    return (f"{head}, the planner picks {top.model_name} · {top.quant} · {top.engine} · {top.gpus}× {top.gpu_name} × "
            f"{top.replicas} replica(s).")
