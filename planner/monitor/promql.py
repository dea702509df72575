"""Read a service through a Prometheus server's HTTP API (`/api/v1/query`, PromQL) over a window.

The metric names come from the same table as the direct scrape (`metric_names.py`); which of a
quantity's names exist is asked once (`/api/v1/label/__name__/values`), so a vLLM before and after
its V1 renames reads alike. `expressions` are also what the alert rules and the Grafana dashboard use
(`alerts.py`), so the report, the alerts and the panels measure the same thing.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import requests

from planner.monitor.errors import MonitorError
from planner.monitor.metric_names import ENGINES, FAILED_REASONS, GPU_EXPORTERS, NOT_PUBLISHED, names_for
from planner.monitor.observation import QUANTILES, Observation, Percentiles

MIB_PER_GIB = 1024.0
MB_PER_GIB = 1024**3 / 1e6


def quantile_expr(name: str, q: float, window: str) -> str:
    return f"histogram_quantile({q:g}, sum by (le) (rate({name}_bucket[{window}])))"


def expressions(engine: str, names: dict[str, str], window: str) -> dict[str, str]:
    """PromQL for each figure of an `Observation`, given the names the service exposes {quantity: name}."""
    out: dict[str, str] = {}
    for quantity in ("ttft_s", "itl_s"):
        if name := names.get(quantity):
            for q in QUANTILES:
                out[f"{quantity}.p{round(q * 100)}"] = quantile_expr(name, q, window)
            out[f"{quantity}.mean"] = f"sum(rate({name}_sum[{window}])) / sum(rate({name}_count[{window}]))"
            out[f"{quantity}.count"] = f"sum(increase({name}_count[{window}]))"
    if name := names.get("requests_finished"):
        out["requests_per_s"] = f"sum(rate({name}[{window}]))"
        if reasons := FAILED_REASONS.get(engine):
            out["failed_requests_per_s"] = f'sum(rate({name}{{finished_reason=~"{"|".join(reasons)}"}}[{window}])) or vector(0)'
    elif name := names.get("ttft_s"):
        out["requests_per_s"] = f"sum(rate({name}_count[{window}]))"
    if name := names.get("requests_failed"):
        out["failed_requests_per_s"] = f"sum(rate({name}[{window}]))"
    for quantity, key in (("prompt_tokens", "prompt_tokens_per_s"), ("output_tokens", "output_tokens_per_s")):
        if name := names.get(quantity):
            out[key] = f"sum(rate({name}[{window}]))"
    if name := names.get("requests_running"):
        out["requests_running_mean"] = f"sum(avg_over_time({name}[{window}]))"
        out["replicas_reporting"] = f"count({name})"
    if name := names.get("requests_waiting"):
        out["requests_waiting_mean"] = f"sum(avg_over_time({name}[{window}]))"
        out["requests_waiting_max"] = f"sum(max_over_time({name}[{window}]))"
        out["requests_waiting_growth_per_s"] = f"sum(deriv({name}[{window}]))"
    if name := names.get("kv_cache_usage"):
        out["kv_cache_usage_max"] = f"max(max_over_time({name}[{window}]))"
    if name := names.get("gpu_utilization_percent"):
        out["gpu_utilization_percent"] = f"avg(avg_over_time({name}[{window}]))"
    if name := names.get("gpu_memory_used_mib"):
        out["gpu_memory_used_mib"] = f"sum({name})"
        if free := names.get("gpu_memory_free_mib"):
            out["gpu_memory_total_mib"] = f"sum({name}) + sum({free})"
        elif total := names.get("gpu_memory_total_mib"):
            out["gpu_memory_total_mib"] = f"sum({total})"
    return out


class PrometheusAPI:
    """A Prometheus server's query API. `get` is replaceable for tests of error handling."""

    def __init__(self, url: str, *, timeout_s: float = 10.0, get: Callable = requests.get):
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self._get = get

    def _call(self, path: str, params: dict | None = None) -> object:
        try:
            response = self._get(f"{self.url}{path}", params=params, timeout=self.timeout_s)
            body = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise MonitorError(f"cannot query Prometheus at {self.url}: {type(exc).__name__}") from None
        if body.get("status") != "success":
            raise MonitorError(f"Prometheus at {self.url} refused the query: {body.get('error', 'unknown error')}")
        return body["data"]

    def metric_names(self) -> set[str]:
        return set(self._call("/api/v1/label/__name__/values"))

    def scalar(self, expr: str, at_s: float | None = None) -> float | None:
        """The query's single value at `at_s` (Unix seconds; default now), summed over the series it returns;
        None when it returns nothing or NaN."""
        data = self._call("/api/v1/query", {"query": expr} | ({"time": f"{at_s:.3f}"} if at_s is not None else {}))
        values = [float(r["value"][1]) for r in data.get("result", [])] if isinstance(data, dict) else []
        values = [v for v in values if not math.isnan(v) and not math.isinf(v)]
        return sum(values) if values else None


def observe_prometheus(url: str, window_s: float, *, engine: str | None = None, prefer: str | None = None,
                       api: PrometheusAPI | None = None) -> Observation:
    """The window ending now, read from Prometheus at `url`: `engine`'s names, else the first engine whose names
    Prometheus holds (`prefer`, the plan's engine, tried first: one Prometheus may watch several engines)."""
    api = api or PrometheusAPI(url)
    present = api.metric_names()
    order = sorted(ENGINES, key=lambda e: e != prefer)
    engine = engine or next((e for e in order if any(r.name in _bases(present) for q in _QUANTITIES
                                                     for r in names_for(e, q))), None)
    if engine is None or engine in NOT_PUBLISHED:
        raise MonitorError(NOT_PUBLISHED.get(engine or "", f"Prometheus at {api.url} holds no serving engine's metrics "
                                                         "(vLLM, SGLang, TensorRT-LLM or llama.cpp names)"))
    exporter = next((x for x in GPU_EXPORTERS if any(r.name in present for r in names_for(x, "gpu_utilization_percent"))), None)
    names, missing = resolve_names(engine, exporter, present)
    window = f"{max(round(window_s), 1)}s"
    at_s = time.time()  # every query ends its window at the same instant, so rates extrapolate alike
    values = {key: api.scalar(expr, at_s) for key, expr in expressions(engine, names, window).items()}
    fields: dict = {"source": f"Prometheus at {api.url}", "window_s": window_s, "engine": engine, "gpu_exporter": exporter}
    for quantity in ("ttft_s", "itl_s"):
        if quantity in names:
            parts = {k.split(".", 1)[1]: v for k, v in values.items() if k.startswith(quantity + ".")}
            fields[quantity] = Percentiles(**{**parts, "count": parts.get("count") or 0.0})
    for key in ("requests_per_s", "failed_requests_per_s", "prompt_tokens_per_s", "output_tokens_per_s",
                "requests_running_mean", "requests_waiting_mean", "requests_waiting_max",
                "requests_waiting_growth_per_s", "kv_cache_usage_max", "gpu_utilization_percent"):
        if key in values:
            fields[key] = values[key]
    if values.get("replicas_reporting") is not None:
        fields["replicas_reporting"] = int(values["replicas_reporting"])
    scale = MIB_PER_GIB if exporter == "dcgm" else MB_PER_GIB
    for key in ("used", "total"):
        if values.get(f"gpu_memory_{key}_mib") is not None:
            fields[f"gpu_memory_{key}_gib"] = values[f"gpu_memory_{key}_mib"] / scale
    return Observation(**fields, metric_names=names, missing=missing)


_QUANTITIES = ("ttft_s", "itl_s", "requests_running", "output_tokens")


def resolve_names(engine: str, exporter: str | None, present: set[str]) -> tuple[dict[str, str], dict[str, str]]:
    """{quantity: the first of its names that `present` holds} and {quantity: why none is read}."""
    bases = _bases(present)
    names: dict[str, str] = {}
    missing: dict[str, str] = {}
    quantities = ("ttft_s", "itl_s", "requests_finished", "requests_failed", "prompt_tokens", "output_tokens",
                  "requests_running", "requests_waiting", "kv_cache_usage")
    for source, group in ((engine, quantities), (exporter, ("gpu_utilization_percent", "gpu_memory_used_mib",
                                                            "gpu_memory_free_mib", "gpu_memory_total_mib"))):
        if source is None:
            missing["gpu"] = "no GPU exporter (NVIDIA DCGM exporter or AMD device-metrics-exporter) in Prometheus"
            continue
        for quantity in group:
            rows = names_for(source, quantity)
            found = next((r.name for r in rows if r.name in bases), None)
            if found:
                names[quantity] = found
            elif quantity in ("gpu_memory_free_mib", "gpu_memory_total_mib"):
                continue  # either gives the total; neither is a figure of its own
            elif rows:
                missing[quantity] = f"{source} publishes it as {rows[0].name}, which Prometheus does not hold"
            elif not (quantity == "requests_failed" and engine in FAILED_REASONS):
                missing[quantity] = f"not published by {source}"
    return names, missing


def _bases(names: set[str]) -> set[str]:
    out = set(names)
    for n in names:
        for suffix in ("_bucket", "_sum", "_count"):
            if n.endswith(suffix):
                out.add(n[: -len(suffix)])
    return out
