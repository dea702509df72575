"""Judge an observed window against the plan: one sentence per target, met / at risk / missed, and what to change.

A latency figure within 10% of its target is at risk (`AT_RISK_SHARE`); traffic above the planned peak
but within capacity is at risk, above capacity missed; a queue that grew over the window is missed (it
grows without bound while arrivals exceed what the replicas serve; the queue's slope is fitted by least squares, as
PromQL's deriv() does, and it must add at least one request over the window). When decode speed or a single
request's latency misses, the planner is asked again with this window's decode efficiency, the
calibration the probe stores (`planner.probe.calibration`): measured per-stream speed ÷ the plan's at
its concurrency, times the plan's single-stream share of its roofline (`replan.py`).
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict

from planner.monitor.observation import Observation
from planner.monitor.targets import PlanTargets

Verdict = Literal["met", "at risk", "missed", "unmeasured", "info"]
AT_RISK_SHARE = 0.9


class TargetCheck(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    target: str  # ttft, decode, traffic, queue, kv_cache, errors, replicas, gpu
    verdict: Verdict
    measured: float | None
    threshold: float | None
    sentence: str
    advice: str | None = None


class MonitorReport(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    plan: str
    observation: Observation
    checks: list[TargetCheck]
    replan: str | None = None

    def verdict(self, target: str) -> Verdict:
        return next(c.verdict for c in self.checks if c.target == target)

    def to_json_dict(self) -> dict:
        doc = self.model_dump(mode="json")
        doc["observation"]["error_rate"] = self.observation.error_rate
        doc["observation"]["decode_tokens_per_s_per_stream"] = self.observation.decode_tokens_per_s_per_stream
        return doc


def fmt(value: float) -> str:
    """A number with sensible precision for a sentence (as the probe prints them)."""
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}".rstrip("0").rstrip(".")
    if magnitude >= 0.1:
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{value:.3g}"


def judge(obs: Observation, t: PlanTargets, *, replan: bool = True) -> MonitorReport:
    checks = [_ttft(obs, t), _decode(obs, t), _traffic(obs, t), _queue(obs, t), _kv(obs, t), _errors(obs, t),
              _replicas(obs, t), _gpu(obs)]
    if t.engine and obs.engine and t.engine != obs.engine:
        checks.insert(0, TargetCheck(target="engine", verdict="missed", measured=None, threshold=None,
                                     sentence=f"The service publishes {obs.engine}'s metrics, but the plan picked {t.engine}: "
                                              "the plan's predictions are for another engine.",
                                     advice="Deploy the plan's engine, or plan again with this engine as a constraint."))
    needs_replan = any(c.verdict in ("missed", "at risk") for c in checks if c.target in ("decode", "ttft"))
    sentence = None
    if replan and needs_replan:
        from planner.monitor.replan import calibrated_replan

        sentence = calibrated_replan(obs, t)
    return MonitorReport(plan=t.label, observation=obs, checks=checks, replan=sentence)


def _window(obs: Observation) -> str:
    return f"over {fmt(obs.window_s)} s"


def _upper(measured: float, target: float) -> Verdict:
    """A figure that must stay below its target."""
    return "missed" if measured > target else "at risk" if measured >= AT_RISK_SHARE * target else "met"


def _missing(obs: Observation, key: str) -> str:
    return obs.missing.get(key, "no observations in the window")


def _ttft(obs: Observation, t: PlanTargets) -> TargetCheck:
    if t.max_ttft_s is None:
        return TargetCheck(target="ttft", verdict="info", measured=obs.ttft_s.p90, threshold=None,
                           sentence="The plan sets no time-to-first-token target.")
    p90 = obs.ttft_s.p90
    if p90 is None:
        return TargetCheck(target="ttft", verdict="unmeasured", measured=None, threshold=t.max_ttft_s,
                           sentence=f"TTFT p90 unmeasured ({_missing(obs, 'ttft_s')}); target {fmt(t.max_ttft_s)} s.")
    verdict = _upper(p90, t.max_ttft_s)
    extra = f"p50 {fmt(obs.ttft_s.p50)} s, p99 {fmt(obs.ttft_s.p99)} s" if obs.ttft_s.p50 and obs.ttft_s.p99 else ""
    predicted = t.predicted.get("ttft_s")
    sentence = (f"TTFT p90 {fmt(p90)} s {_window(obs)} ({extra}{'; ' if extra else ''}{fmt(obs.ttft_s.count)} requests"
                f"{f'; plan: {fmt(predicted)} s' if predicted else ''}) against the target of {fmt(t.max_ttft_s)} s: {verdict}.")
    advice = None
    if verdict != "met":
        queued = (obs.requests_waiting_mean or 0) > 0.5
        advice = ("Requests wait in the queue before their first token: add replicas (see traffic and queue)."
                  if queued else "A single request's first token is slow without a queue: a faster GPU, a smaller "
                  "quantization or a shorter prompt will help; more replicas will not.")
    return TargetCheck(target="ttft", verdict=verdict, measured=p90, threshold=t.max_ttft_s, sentence=sentence, advice=advice)


def _decode(obs: Observation, t: PlanTargets) -> TargetCheck:
    speed = obs.decode_tokens_per_s_per_stream
    if t.min_tokens_per_s is None:
        return TargetCheck(target="decode", verdict="info", measured=speed, threshold=None,
                           sentence="The plan sets no tokens-per-second target per stream.")
    if speed is None:
        return TargetCheck(target="decode", verdict="unmeasured", measured=None, threshold=t.min_tokens_per_s,
                           sentence=f"Decode speed per stream unmeasured ({_missing(obs, 'itl_s')}); target "
                                    f"{fmt(t.min_tokens_per_s)} tokens/s.")
    verdict: Verdict = "missed" if speed < t.min_tokens_per_s else "at risk" if speed * AT_RISK_SHARE < t.min_tokens_per_s else "met"
    predicted = t.predicted.get("decode_tokens_per_s_at_concurrency")
    sentence = (f"Decode {fmt(speed)} tokens/s per stream at the median inter-token latency of {fmt(obs.itl_s.p50 * 1000)} ms "
                f"{_window(obs)}{f' (p90 ITL {fmt(obs.itl_s.p90 * 1000)} ms)' if obs.itl_s.p90 else ''}"
                f"{f'; plan: {fmt(predicted)} tokens/s' if predicted else ''}, against the target of "
                f"{fmt(t.min_tokens_per_s)}: {verdict}.")
    advice = None if verdict == "met" else ("Each stream decodes too slowly: fewer requests per replica (more replicas) "
                                            "or a faster configuration; see the calibrated replan.")
    return TargetCheck(target="decode", verdict=verdict, measured=speed, threshold=t.min_tokens_per_s, sentence=sentence,
                       advice=advice)


def _replicas_needed(rate: float, t: PlanTargets) -> int | None:
    per = t.capacity_per_replica
    return math.ceil(rate / per - 1e-9) if per else None


def _traffic(obs: Observation, t: PlanTargets) -> TargetCheck:
    rate = obs.requests_per_s
    if rate is None:
        return TargetCheck(target="traffic", verdict="unmeasured", measured=None, threshold=t.peak_requests_per_s,
                           sentence=f"Request rate unmeasured ({_missing(obs, 'requests_finished')}); planned peak "
                                    f"{fmt(t.peak_requests_per_s)} requests/s.")
    cap = t.capacity_requests_per_s
    verdict: Verdict = "met" if rate <= t.peak_requests_per_s else "at risk" if cap and rate <= cap else "missed"
    tokens = (f", {fmt(obs.output_tokens_per_s)} output tokens/s (planned peak "
              f"{fmt(t.peak_requests_per_s * t.output_tokens)})" if obs.output_tokens_per_s is not None else "")
    sentence = (f"Traffic {fmt(rate)} requests/s {_window(obs)}{tokens}: {rate / t.peak_requests_per_s:.0%} of the planned "
                f"peak of {fmt(t.peak_requests_per_s)} requests/s"
                f"{f' and {rate / cap:.0%} of the capacity of {fmt(cap)} ({t.replicas} replica(s))' if cap else ''}: {verdict}.")
    advice = None
    if verdict != "met":
        needed = _replicas_needed(rate, t)
        advice = (f"Traffic is above the plan's peak: plan again with the measured rate"
                  f"{f'; at this rate the plan needs {needed} replica(s), not {t.replicas}' if needed and needed > t.replicas else ''}.")
    return TargetCheck(target="traffic", verdict=verdict, measured=rate, threshold=t.peak_requests_per_s, sentence=sentence,
                       advice=advice)


def _queue(obs: Observation, t: PlanTargets) -> TargetCheck:
    if obs.requests_waiting_max is None:
        return TargetCheck(target="queue", verdict="unmeasured", measured=None, threshold=0.0,
                           sentence=f"Queue length unmeasured ({_missing(obs, 'requests_waiting')}).")
    growth = obs.requests_waiting_growth_per_s or 0.0
    # growing: the fitted slope adds at least one whole request over the window (a queue that comes and goes is not)
    verdict: Verdict = ("met" if obs.requests_waiting_max == 0 else
                        "missed" if growth * obs.window_s >= 1 else "at risk")
    sentence = (f"Queue: {fmt(obs.requests_waiting_mean or 0)} requests waiting on average, at most "
                f"{fmt(obs.requests_waiting_max)}, changing by {growth:+.3g} per second {_window(obs)}: {verdict}.")
    advice = "Requests queue at times: the replicas run near what they serve." if verdict == "at risk" else None
    if verdict == "missed":
        needed = _replicas_needed(obs.requests_per_s, t) if obs.requests_per_s else None
        advice = ("The queue grows: arrivals exceed what the replicas serve; add replicas"
                  f"{f' ({needed} for the measured rate)' if needed and needed > t.replicas else ''}.")
    return TargetCheck(target="queue", verdict=verdict, measured=obs.requests_waiting_max, threshold=0.0,
                       sentence=sentence, advice=advice)


def _kv(obs: Observation, t: PlanTargets) -> TargetCheck:
    usage = obs.kv_cache_usage_max
    if usage is None:
        return TargetCheck(target="kv_cache", verdict="unmeasured", measured=None, threshold=t.kv_cache_ceiling,
                           sentence=f"KV cache usage unmeasured ({_missing(obs, 'kv_cache_usage')}).")
    verdict = _upper(usage, t.kv_cache_ceiling)
    sentence = (f"KV cache usage at most {usage:.0%} on the fullest replica {_window(obs)}, against the plan's "
                f"ceiling of {t.kv_cache_ceiling:.0%}: {verdict}.")
    advice = None if verdict == "met" else ("The KV cache is near full, and a full cache preempts or queues requests: "
                                            "add replicas, store the cache in FP8, or cap the context length.")
    return TargetCheck(target="kv_cache", verdict=verdict, measured=usage, threshold=t.kv_cache_ceiling,
                       sentence=sentence, advice=advice)


def _errors(obs: Observation, t: PlanTargets) -> TargetCheck:
    rate = obs.error_rate
    if rate is None:
        why = obs.missing.get("requests_failed") or ("no finished requests in the window" if obs.requests_per_s == 0
                                                     else _missing(obs, "requests_finished"))
        return TargetCheck(target="errors", verdict="unmeasured", measured=None, threshold=t.max_error_rate,
                           sentence=f"Error rate unmeasured ({why}).")
    verdict = _upper(rate, t.max_error_rate) if rate > 0 else "met"
    sentence = (f"Errors: {rate:.2%} of requests failed {_window(obs)} ({fmt(obs.failed_requests_per_s or 0)} per second), "
                f"against at most {t.max_error_rate:.1%}: {verdict}.")
    advice = None if verdict == "met" else "Requests fail: read the engine's log for aborts, timeouts and out-of-memory errors."
    return TargetCheck(target="errors", verdict=verdict, measured=rate, threshold=t.max_error_rate, sentence=sentence,
                       advice=advice)


def _replicas(obs: Observation, t: PlanTargets) -> TargetCheck:
    up = obs.replicas_reporting
    if up is None:
        return TargetCheck(target="replicas", verdict="unmeasured", measured=None, threshold=t.replicas,
                           sentence="Replicas reporting unmeasured.")
    verdict: Verdict = "met" if up >= t.replicas else "missed"
    sentence = f"Replicas: {up} reporting metrics ({obs.source}) of the {t.replicas} planned: {verdict}."
    advice = None if verdict == "met" else "A replica is down or not scraped: the rest carry its share of the peak."
    return TargetCheck(target="replicas", verdict=verdict, measured=float(up), threshold=float(t.replicas),
                       sentence=sentence, advice=advice)


def _gpu(obs: Observation) -> TargetCheck:
    if obs.gpu_utilization_percent is None and obs.gpu_memory_used_gib is None:
        return TargetCheck(target="gpu", verdict="unmeasured", measured=None, threshold=None,
                           sentence=f"GPU utilisation and memory unmeasured ({obs.missing.get('gpu', 'no GPU series')}).")
    parts = []
    if obs.gpu_utilization_percent is not None:
        parts.append(f"utilisation {obs.gpu_utilization_percent:.0f}% on average")
    if obs.gpu_memory_used_gib is not None:
        total = f" of {fmt(obs.gpu_memory_total_gib)}" if obs.gpu_memory_total_gib else ""
        parts.append(f"memory {fmt(obs.gpu_memory_used_gib)}{total} GiB in use")
    return TargetCheck(target="gpu", verdict="info", measured=obs.gpu_utilization_percent, threshold=None,
                       sentence=f"GPUs ({obs.gpu_exporter}): {', '.join(parts)} {_window(obs)} (engines reserve most "
                                "memory for the KV cache at start, so memory in use is not load).")
