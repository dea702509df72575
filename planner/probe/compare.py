"""Compare a plan's predictions with what the probe measured.

The plan is the JSON of `python -m planner plan --constraints F --json`:
`constraints` (max_ttft_s, min_tokens_per_s, input_tokens, output_tokens) and
`recommendation.speed` (prefill_tokens_per_s, ttft_s, decode_tokens_per_s,
throughput_tokens_per_s, concurrency, decode_roofline_tokens_per_s).

Rows: TTFT and per-stream decode speed are predicted for one stream, so they
are compared at concurrency 1; throughput at the level closest to the plan's
concurrency. The requirement checks are repeated at the planned concurrency
(when that is not 1), because a target must hold under the planned load.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from planner.probe.faults import ProbeConfigError
from planner.probe.results import ComparisonRow, LevelResult, ProbeResult


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def fmt(value: float) -> str:
    """A number with sensible precision for a sentence."""
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        text = f"{value:.1f}"
    elif magnitude >= 0.1:
        text = f"{value:.2f}"
    else:
        return f"{value:.3g}"
    return text.rstrip("0").rstrip(".")  # "0.5", not "0.50"


def plan_parts(plan: Mapping[str, Any]) -> tuple[Mapping[str, Any], Mapping[str, Any], Mapping[str, Any]]:
    """(constraints, recommendation, speed) of a plan; raises ProbeConfigError if it has no recommendation."""
    if not isinstance(plan, Mapping):
        raise ProbeConfigError("the plan is not a JSON object")
    recommendation = plan.get("recommendation")
    if not isinstance(recommendation, Mapping):
        raise ProbeConfigError("the plan has no recommendation to compare with")
    speed = recommendation.get("speed")
    if not isinstance(speed, Mapping):
        raise ProbeConfigError("the plan's recommendation has no `speed` section")
    constraints = plan.get("constraints")
    return (constraints if isinstance(constraints, Mapping) else {}), recommendation, speed


def single_stream_level(levels: list[LevelResult]) -> LevelResult | None:
    """The concurrency-1 level, else the lowest level measured."""
    if not levels:
        return None
    return min(levels, key=lambda level: level.concurrency)


def closest_level(levels: list[LevelResult], concurrency: float | None) -> LevelResult | None:
    """The level whose concurrency is closest to `concurrency` (ties: the higher, the stricter test)."""
    if not levels:
        return None
    if concurrency is None:
        return max(levels, key=lambda level: level.concurrency)
    return min(levels, key=lambda level: (abs(level.concurrency - concurrency), -level.concurrency))


def _streams(concurrency: int | None) -> str:
    return "an unknown concurrency" if concurrency is None else (
        "1 stream" if concurrency == 1 else f"{concurrency} concurrent streams")


def _row(target: str, label: str, unit: str, *, predicted: float | None, measured: float | None,
         level: LevelResult | None, requirement: float | None, higher_is_better: bool) -> ComparisonRow:
    at = level.concurrency if level is not None else None
    unit_sep = "" if unit == "" else " "
    error_pct = None
    if predicted not in (None, 0) and measured is not None:
        error_pct = (measured - predicted) / predicted * 100.0

    if requirement is None:
        verdict = "no-target"
    elif measured is None:
        verdict = "misses"  # an unmeasured target is not shown to be met
    elif higher_is_better:
        verdict = "meets" if measured >= requirement else "misses"
    else:
        verdict = "meets" if measured <= requirement else "misses"

    if measured is None:
        why = "no request succeeded" if level is not None else "that level was not run"
        head = f"{label} at {_streams(at)} could not be measured ({why})"
        if requirement is not None:
            head += f", so the {fmt(requirement)}{unit_sep}{unit} target is not shown to be met"
    else:
        head = f"{label} {fmt(measured)}{unit_sep}{unit} at {_streams(at)}"
        if requirement is not None:
            word = "meets" if verdict == "meets" else "misses"
            head += f" {word} the {fmt(requirement)}{unit_sep}{unit} target"
        else:
            head += " (no target set)"

    if predicted is None:
        tail = "the plan made no prediction for this"
    else:
        tail = f"the plan predicted {fmt(predicted)}{unit_sep}{unit}"
        if error_pct is not None:
            if abs(error_pct) < 0.5:
                tail += " (as predicted)"
            else:
                slower = error_pct < 0 if higher_is_better else error_pct > 0
                tail += f" (measured {abs(error_pct):.0f}% {'slower' if slower else 'faster'})"
    return ComparisonRow(target=target, predicted=predicted, measured=measured, error_pct=error_pct,
                         at_concurrency=at, requirement=requirement, verdict=verdict,
                         sentence=f"{head}; {tail}.")


def compare(plan: Mapping[str, Any], result: ProbeResult | Mapping[str, Any]) -> list[ComparisonRow]:
    """Predicted-vs-measured rows for TTFT, decode speed and throughput (see module doc)."""
    if not isinstance(result, ProbeResult):
        result = ProbeResult.model_validate(result)
    constraints, _recommendation, speed = plan_parts(plan)
    max_ttft_s = _num(constraints.get("max_ttft_s"))
    min_tokens_per_s = _num(constraints.get("min_tokens_per_s"))
    planned_concurrency = _num(speed.get("concurrency"))

    levels = list(result.levels)
    single = single_stream_level(levels)
    loaded = closest_level(levels, planned_concurrency)

    rows = [
        _row("ttft_s", "TTFT p90", "s", predicted=_num(speed.get("ttft_s")),
             measured=single.ttft_s.p90 if single else None, level=single,
             requirement=max_ttft_s, higher_is_better=False),
        _row("decode_tokens_per_s", "Decode p50", "tokens/s per stream",
             predicted=_num(speed.get("decode_tokens_per_s")),
             measured=single.output_tokens_per_s_per_stream.p50 if single else None, level=single,
             requirement=min_tokens_per_s, higher_is_better=True),
        _row("throughput_tokens_per_s", "Throughput", "tokens/s",
             predicted=_num(speed.get("throughput_tokens_per_s")),
             measured=loaded.aggregate_output_tokens_per_s if loaded else None, level=loaded,
             requirement=None, higher_is_better=True),
    ]
    if loaded is not None and single is not None and loaded.concurrency != single.concurrency:
        if max_ttft_s is not None:
            rows.append(_row("ttft_s_at_planned_concurrency", "TTFT p90", "s", predicted=None,
                             measured=loaded.ttft_s.p90, level=loaded, requirement=max_ttft_s,
                             higher_is_better=False))
        if min_tokens_per_s is not None:
            rows.append(_row("decode_tokens_per_s_at_planned_concurrency", "Decode p50",
                             "tokens/s per stream", predicted=None,
                             measured=loaded.output_tokens_per_s_per_stream.p50, level=loaded,
                             requirement=min_tokens_per_s, higher_is_better=True))
    return rows


def with_comparison(result: ProbeResult, plan: Mapping[str, Any]) -> ProbeResult:
    """A copy of `result` with its `comparison` filled from `plan`."""
    return result.model_copy(update={"comparison": compare(plan, result)})
