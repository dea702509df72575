"""Summarise the requests of one concurrency level into a LevelResult."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from planner.probe.record import RequestRecord
from planner.probe.results import LevelResult, Percentiles, RequestLogEntry

#: Worker CPU above this many cores means the probe itself was the limit: Python
#: threads share one interpreter lock, so the client cannot use much more than one core.
CLIENT_SATURATED_CORES = 0.8


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
) -> LevelResult:
    """Aggregate one level. Latency and rate percentiles use successful requests only.

    `wall_s` is the level's elapsed time; aggregate rates divide the output
    tokens of successful requests by it. `run_start_s` (perf_counter) makes
    the request log relative to the start of the run.
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
    cpu_s = sum(r.client_cpu_s for r in records)
    streamed_tokens = sum(r.output_tokens for r in records)
    busy = _rate(cpu_s, wall_s)

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
        usage_source=(next(iter(sources)) if len(sources) == 1 else "mixed") if sources else None,
        server_prefill_s=percentiles(prefill) if prefill else None,
        server_decode_tokens_per_s=percentiles(server_rates) if server_rates else None,
        max_in_flight=max_in_flight,
        client_cpu_s=cpu_s,
        # Per token the client received, failed and cancelled requests included.
        client_cpu_s_per_token=(cpu_s / streamed_tokens) if streamed_tokens else None,
        client_busy_cores=busy,
        client_saturated=bool(busy is not None and busy >= CLIENT_SATURATED_CORES),
        request_log=log,
    )
