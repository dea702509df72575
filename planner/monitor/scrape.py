"""Read the endpoints' own /metrics over a window: scrape at its start, every interval, and at its end.

Counters and histogram buckets are taken as end − start per series (a series that went down was
reset by a restart, and counts from zero, as PromQL's `rate` treats it), summed over endpoints and
label sets; gauges are read at every scrape. `observation_from_scrapes` is pure, so tests can feed it
hand-made scrapes and check every figure.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import NamedTuple

import requests

from planner.monitor.errors import MonitorError
from planner.monitor.exposition import Sample, bucket_counts, histogram_mean, histogram_quantile, parse_samples
from planner.monitor.metric_names import FAILED_REASONS, NOT_PUBLISHED, detect_sources, names_for
from planner.monitor.observation import QUANTILES, Observation, Percentiles

MIB_PER_GIB = 1024.0
MB_PER_GIB = 1024**3 / 1e6


class Scrape(NamedTuple):
    at_s: float  # monotonic seconds
    samples: list[Sample]  # every endpoint's, together
    endpoints_up: int


def fetch_metrics(url: str, timeout_s: float = 5.0) -> str:
    """The text of one /metrics URL; MonitorError naming it when it cannot be read."""
    try:
        response = requests.get(url, timeout=timeout_s, headers={"Accept": "text/plain"})
    except requests.RequestException as exc:
        raise MonitorError(f"cannot read {url}: {type(exc).__name__}") from None
    if response.status_code != 200:
        raise MonitorError(f"{url} answered HTTP {response.status_code}; an engine publishes metrics there only "
                           "when enabled (llama-server needs --metrics; trtllm-serve serves /prometheus/metrics)")
    return response.text


def scrape_once(urls: Sequence[str], fetch: Callable[[str], str] = fetch_metrics) -> Scrape:
    samples: list[Sample] = []
    up = 0
    for url in urls:
        try:
            # each endpoint's series stay apart, as Prometheus keeps them apart by `instance`: replicas
            # publish identical label sets
            samples += [s._replace(labels=tuple(sorted((*s.labels, ("instance", url)))))
                        for s in parse_samples(fetch(url), where=url)]
            up += 1
        except MonitorError:
            if len(urls) == 1:
                raise
    return Scrape(time.monotonic(), samples, up)


def observe_endpoints(urls: Sequence[str], window_s: float, *, interval_s: float | None = None,
                      engine: str | None = None, fetch: Callable[[str], str] = fetch_metrics,
                      sleep: Callable[[float], None] = time.sleep) -> Observation:
    """Scrape `urls` over `window_s` seconds (every `interval_s`, default a tenth of the window) and observe."""
    if not urls:
        raise MonitorError("give at least one metrics URL (--metrics-url) or a Prometheus server (--prometheus)")
    step = interval_s or max(window_s / 10, 0.2)
    scrapes = [scrape_once(urls, fetch)]
    deadline = scrapes[0].at_s + window_s
    while (left := deadline - time.monotonic()) > 0:
        sleep(min(step, left))
        scrapes.append(scrape_once(urls, fetch))
    return observation_from_scrapes(scrapes, engine=engine)


def observation_from_scrapes(scrapes: Sequence[Scrape], *, engine: str | None = None,
                             source: str = "metrics endpoints") -> Observation:
    """The window between the first and last scrape."""
    if len(scrapes) < 2:
        raise MonitorError("a window needs two scrapes at least")
    first, last = scrapes[0], scrapes[-1]
    window_s = last.at_s - first.at_s
    if window_s <= 0:
        raise MonitorError("the window must last longer than zero seconds")
    names = {s.name for sc in scrapes for s in sc.samples}
    sources = detect_sources(names)
    engine = engine or next((s for s in sources if s not in ("dcgm", "amd-smi")), None)
    exporter = next((s for s in sources if s in ("dcgm", "amd-smi")), None)
    if engine is None:
        raise MonitorError("no serving engine's metrics found at the URLs (vLLM, SGLang, TensorRT-LLM or "
                           "llama.cpp names; see planner/monitor/metric_names.py)")
    fields: dict = {"source": source, "window_s": window_s, "engine": engine, "gpu_exporter": exporter,
                    "replicas_reporting": _replicas(last, engine)}
    used: dict[str, str] = {}
    missing: dict[str, str] = {}

    def pick(src: str, quantity: str) -> str | None:
        rows = names_for(src, quantity)
        for row in rows:
            if any(n == row.name or n.startswith(row.name + "_") for n in names):
                used[quantity] = row.name
                return row.name
        missing[quantity] = (f"not published by {src}" if not rows else
                             f"{src} publishes it as {rows[0].name}, which the endpoints did not expose")
        return None

    for quantity in ("ttft_s", "itl_s"):
        if name := pick(engine, quantity):
            fields[quantity] = _percentiles(first.samples, last.samples, name)
    finished = pick(engine, "requests_finished")
    if finished:
        fields["requests_per_s"] = _counter_delta(first.samples, last.samples, finished) / window_s
        failed_reasons = FAILED_REASONS.get(engine)
        if failed_reasons:
            fields["failed_requests_per_s"] = _counter_delta(first.samples, last.samples, finished,
                                                             lambda s: s.label("finished_reason") in failed_reasons) / window_s
    elif "ttft_s" in fields:  # requests that got a first token: the nearest figure an engine without a counter gives
        fields["requests_per_s"] = fields["ttft_s"].count / window_s
    if failed := pick(engine, "requests_failed"):
        fields["failed_requests_per_s"] = _counter_delta(first.samples, last.samples, failed) / window_s
    elif "failed_requests_per_s" in fields:
        missing.pop("requests_failed")  # counted as a finish reason instead
    for quantity, key in (("prompt_tokens", "prompt_tokens_per_s"), ("output_tokens", "output_tokens_per_s")):
        if name := pick(engine, quantity):
            fields[key] = _counter_delta(first.samples, last.samples, name) / window_s
    if name := pick(engine, "requests_running"):
        fields["requests_running_mean"] = _mean([_gauge_sum(sc.samples, name) for sc in scrapes])
    if name := pick(engine, "requests_waiting"):
        waiting = [_gauge_sum(sc.samples, name) for sc in scrapes]
        fields.update(requests_waiting_mean=_mean(waiting), requests_waiting_max=max(waiting),
                      requests_waiting_growth_per_s=_slope([sc.at_s for sc in scrapes], waiting))
    if name := pick(engine, "kv_cache_usage"):
        fields["kv_cache_usage_max"] = max(_gauge_max(sc.samples, name) for sc in scrapes)
    if exporter:
        fields.update(_gpu(scrapes, exporter, pick))
    else:
        missing["gpu"] = "no GPU exporter (NVIDIA DCGM exporter or AMD device-metrics-exporter) among the URLs"
    if engine in NOT_PUBLISHED:
        missing["engine"] = NOT_PUBLISHED[engine]
    return Observation(**fields, metric_names=used, missing=missing)


def _replicas(scrape: Scrape, engine: str) -> int:
    # One replica per endpoint that published the engine's running gauge (vLLM: one series per engine index).
    rows = names_for(engine, "requests_running")
    return len({s.labels for s in scrape.samples for r in rows if s.name == r.name}) or scrape.endpoints_up


def _percentiles(before: list[Sample], after: list[Sample], name: str) -> Percentiles:
    first, last = bucket_counts(before, name), bucket_counts(after, name)
    delta = {le: c - first.get(le, 0.0) if c >= first.get(le, 0.0) else c for le, c in last.items()}
    count = _counter_delta(before, after, f"{name}_count")
    total = _counter_delta(before, after, f"{name}_sum")
    return Percentiles(**{f"p{round(q * 100)}": histogram_quantile(q, delta) for q in QUANTILES},
                       mean=histogram_mean(total, count), count=count)


def _counter_delta(before: list[Sample], after: list[Sample], name: str,
                   keep: Callable[[Sample], bool] = lambda s: True) -> float:
    start = {s.labels: s.value for s in before if s.name == name and keep(s)}
    total = 0.0
    for s in after:
        if s.name == name and keep(s):
            v0 = start.get(s.labels, 0.0)
            total += s.value - v0 if s.value >= v0 else s.value
    return total


def _gauge_sum(samples: list[Sample], name: str) -> float:
    return sum(s.value for s in samples if s.name == name)


def _gauge_max(samples: list[Sample], name: str) -> float:
    return max((s.value for s in samples if s.name == name), default=0.0)


def _slope(times: list[float], values: list[float]) -> float:
    """Least-squares slope per second, as PromQL's deriv() fits it."""
    t0, v0 = _mean(times), _mean(values)
    spread = sum((t - t0) ** 2 for t in times)
    return sum((t - t0) * (v - v0) for t, v in zip(times, values, strict=True)) / spread if spread else 0.0


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _gpu(scrapes: Sequence[Scrape], exporter: str, pick) -> dict:
    out: dict = {}
    util = pick(exporter, "gpu_utilization_percent")
    if util:
        per_scrape = [[s.value for s in sc.samples if s.name == util] for sc in scrapes]
        out["gpu_utilization_percent"] = _mean([_mean(v) for v in per_scrape if v])
    used = pick(exporter, "gpu_memory_used_mib")
    scale = MIB_PER_GIB if exporter == "dcgm" else MB_PER_GIB
    last = scrapes[-1].samples
    if used:
        out["gpu_memory_used_gib"] = _gauge_sum(last, used) / scale
        if exporter == "dcgm" and (free := pick(exporter, "gpu_memory_free_mib")):
            out["gpu_memory_total_gib"] = (_gauge_sum(last, used) + _gauge_sum(last, free)) / scale
        elif total := pick(exporter, "gpu_memory_total_mib"):
            out["gpu_memory_total_gib"] = _gauge_sum(last, total) / scale
    return out
