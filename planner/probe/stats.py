"""Summarise the requests of one concurrency level into a LevelResult."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from planner.probe.record import RequestRecord
from planner.probe.results import LevelResult, Percentiles, RequestLogEntry, SloResult

#: Worker CPU above this many cores means the probe itself was the limit: Python
#: threads share one interpreter lock, so the client cannot use much more than one core.
CLIENT_SATURATED_CORES = 0.8
#: An open-loop level whose sends ran this late (p90, seconds) did not keep its schedule.
CLIENT_LAG_S = 0.05


def percentile(values: Sequence[float], pct: float) -> float | None:
    """The `pct`-th percentile (0-100) with linear interpolation (numpy's default); None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return float(ordered[0])
    rank = (len(ordered) - 1) * pct / 100.0
    lo = math.floor(rank)
    hi = min(lo + 1, len(ordered) - 1)
    return float(ordered[lo] + (ordered[hi] - ordered[lo]) * (rank - lo))


def percentiles(values: Sequence[float]) -> Percentiles:
    return Percentiles(p50=percentile(values, 50), p90=percentile(values, 90), p99=percentile(values, 99))


def _rate(count: float, seconds: float) -> float | None:
    return count / seconds if seconds > 0 else None


def summarise_level(
    concurrency: int,
    planned_requests: int,
    records: Sequence[RequestRecord],
    *,
    wall_s: float,
    run_start_s: float,
    max_in_flight: int = 0,
    complete: bool = True,
    keep_log: bool = True,
    client_cpu_s: float | None = None,
    rate_rps: float | None = None,
    arrival: str | None = None,
    slo_ttft_s: float | None = None,
    slo_tokens_per_s: float | None = None,
    client_processes: int = 1,
    backoff_waits: int = 0,
) -> LevelResult:
    """Aggregate one level. Latency and rate percentiles use successful requests only.

    `wall_s` is the level's elapsed time; aggregate rates divide the output
    tokens of successful requests by it. `run_start_s` (perf_counter) makes
    the request log relative to the start of the run. `client_cpu_s` is the
    client's CPU over the level when it was measured as a whole (the event
    loop), else the records' own are summed. `rate_rps` marks an open-loop
    level; the `slo_*` targets add how many requests met them (`slo`).
    """
    ok = [r for r in records if r.ok]
    failed = [r for r in records if r.error_kind is not None]
    cancelled = sum(1 for r in records if r.cancelled)
    kinds = Counter(r.error_kind for r in failed)
    examples: dict[str, str] = {}
    for r in failed:
        examples.setdefault(str(r.error_kind), r.error_message or "")

    ttfts = [r.ttft_s for r in ok if r.ttft_s is not None]
    gaps = [g for r in ok for g in r.inter_token_gaps_s()]
    stream_rates = [v for r in ok if (v := r.decode_tokens_per_s) is not None]
    output_tokens = sum(r.output_tokens for r in ok)
    prompt_counts = [r.prompt_tokens for r in ok if r.prompt_tokens is not None]
    sources = {r.usage_source for r in ok}
    prefill = [r.server_prefill_s for r in ok if r.server_prefill_s is not None]
    server_rates = [r.server_decode_tokens_per_s for r in ok if r.server_decode_tokens_per_s is not None]
    cpu_s = sum(r.client_cpu_s for r in records) if client_cpu_s is None else client_cpu_s
    streamed_tokens = sum(r.output_tokens for r in records)
    busy = _rate(cpu_s, wall_s)
    lags = [lag for r in records if (lag := r.send_lag_s) is not None]
    queue_waits = [r.server_queue_s for r in ok if r.server_queue_s is not None]
    # Sends the server's Retry-After delayed are late by the server's wish, not the client's.
    lagging = bool(lags) and not backoff_waits and (percentile(lags, 90) or 0.0) > CLIENT_LAG_S

    log: list[RequestLogEntry] = []
    if keep_log:
        for r in sorted(records, key=lambda r: r.start_s):
            log.append(RequestLogEntry(
                start_s=round(r.start_s - run_start_s, 6),
                first_token_s=None if r.first_token_s is None else round(r.first_token_s - run_start_s, 6),
                end_s=round(r.end_s - run_start_s, 6),
                output_tokens=r.output_tokens,
                error_kind="cancelled" if r.cancelled else r.error_kind,
            ))

    return LevelResult(
        concurrency=concurrency,
        mode="rate" if rate_rps is not None else "concurrency",
        request_rate_rps=rate_rps,
        arrival=arrival,
        e2e_s=percentiles([r.e2e_s for r in ok]),
        tpot_s=percentiles([v for r in ok if (v := r.tpot_s) is not None]),
        send_lag_s=percentiles(lags) if lags else None,
        server_queue_s=percentiles(queue_waits) if queue_waits else None,
        slo=slo_result(ok, len(ok) + len(failed), wall_s, slo_ttft_s, slo_tokens_per_s),
        requests=planned_requests,
        succeeded=len(ok),
        errors=len(failed),
        cancelled=cancelled,
        errors_by_kind=dict(sorted(kinds.items())),
        error_examples=examples,
        complete=complete,
        ttft_s=percentiles(ttfts),
        inter_token_s=percentiles(gaps),
        output_tokens_per_s_per_stream=percentiles(stream_rates),
        aggregate_output_tokens_per_s=_rate(output_tokens, wall_s) if ok else None,
        requests_per_s=_rate(len(ok), wall_s) if ok else None,
        wall_s=wall_s,
        prompt_tokens=(sum(prompt_counts) / len(prompt_counts)) if prompt_counts else None,
        output_tokens=output_tokens,
        partial_output_tokens=sum(r.output_tokens for r in records if not r.ok),
        usage_source=(next(iter(sources)) if len(sources) == 1 else "mixed") if sources else None,
        server_prefill_s=percentiles(prefill) if prefill else None,
        server_decode_tokens_per_s=percentiles(server_rates) if server_rates else None,
        max_in_flight=max_in_flight,
        backoff_waits=backoff_waits,
        client_cpu_s=cpu_s,
        # Per token the client received, failed and cancelled requests included.
        client_cpu_s_per_token=(cpu_s / streamed_tokens) if streamed_tokens else None,
        client_busy_cores=busy,
        client_saturated=bool(busy is not None and busy >= CLIENT_SATURATED_CORES * client_processes) or lagging,
        request_log=log,
    )


def slo_result(ok: Sequence[RequestRecord], judged: int, wall_s: float, ttft_s: float | None,
               tokens_per_s: float | None) -> SloResult | None:
    """Requests that met each target and both; None when no target is set.

    A request meets the TTFT target when its TTFT is at most `ttft_s`, and the speed target when
    its own decode rate (tokens after the first ÷ the time after the first) is at least
    `tokens_per_s`; a one-token answer, or one whose tokens all arrived in one read, has no
    measurable decode rate and is judged on TTFT alone. Failed
    requests are in `judged`, so they lower attainment, but they are never timed.
    """
    if ttft_s is None and tokens_per_s is None:
        return None

    def ttft_met(r: RequestRecord) -> bool:
        return ttft_s is None or (r.ttft_s is not None and r.ttft_s <= ttft_s)

    def speed_met(r: RequestRecord) -> bool:
        rate = r.decode_tokens_per_s
        if tokens_per_s is None:
            return True
        if rate is None:
            # One token has no decode rate; tokens that all came in one read came faster than
            # the clock can tell, so faster than any target.
            return r.output_tokens <= 1 or (len(r.token_times_s) >= 1 and r.token_times_s[-1] == r.first_token_s)
        return rate >= tokens_per_s

    met_ttft = sum(1 for r in ok if ttft_met(r))
    met_speed = sum(1 for r in ok if speed_met(r))
    met_both = sum(1 for r in ok if ttft_met(r) and speed_met(r))

    def share(n: int) -> float | None:
        return n / judged if judged else None

    return SloResult(ttft_s=ttft_s, tokens_per_s=tokens_per_s, judged=judged, met_ttft=met_ttft,
                     met_tokens_per_s=met_speed, met_both=met_both, attainment=share(met_both),
                     ttft_attainment=share(met_ttft), tokens_per_s_attainment=share(met_speed),
                     goodput_rps=_rate(met_both, wall_s))
