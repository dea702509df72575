"""What a running service did over a window: the figures the report judges against the plan.

Both sources fill the same `Observation`: `scrape.observe_endpoints` from the endpoints' own /metrics
read at the start and end of the window (counters and histogram buckets as differences, as PromQL's
`rate` does), and `promql.observe_prometheus` from a Prometheus server's HTTP API over the same window.
A figure the service does not publish is None, and `missing` says why.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

QUANTILES = (0.5, 0.9, 0.99)


class Percentiles(BaseModel):
    """Latency percentiles in seconds from an engine's histogram over the window."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    p50: float | None = None
    p90: float | None = None
    p99: float | None = None
    mean: float | None = None
    count: float = 0.0  # observations in the window

    def at(self, q: float) -> float | None:
        return {0.5: self.p50, 0.9: self.p90, 0.99: self.p99}[q]


class Observation(BaseModel):
    """One window of a running service. Rates per second; times in seconds; memory in GiB."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str  # "metrics endpoints" or "Prometheus at <url>"
    window_s: float
    engine: str | None = None
    gpu_exporter: str | None = None
    metric_names: dict[str, str] = Field(default_factory=dict)  # quantity -> the name read
    ttft_s: Percentiles = Percentiles()
    itl_s: Percentiles = Percentiles()
    requests_per_s: float | None = None
    failed_requests_per_s: float | None = None
    prompt_tokens_per_s: float | None = None
    output_tokens_per_s: float | None = None
    requests_running_mean: float | None = None
    requests_waiting_mean: float | None = None
    requests_waiting_max: float | None = None
    requests_waiting_growth_per_s: float | None = None  # slope of the summed queue over the window
    kv_cache_usage_max: float | None = None  # 0–1, the fullest replica
    gpu_utilization_percent: float | None = None  # mean over GPUs and the window
    gpu_memory_used_gib: float | None = None  # summed over GPUs, at the window's end
    gpu_memory_total_gib: float | None = None
    replicas_reporting: int | None = None
    missing: dict[str, str] = Field(default_factory=dict)  # quantity -> why it is None

    @property
    def error_rate(self) -> float | None:
        if self.failed_requests_per_s is None or not self.requests_per_s:
            return None
        return self.failed_requests_per_s / self.requests_per_s

    @property
    def decode_tokens_per_s_per_stream(self) -> float | None:
        """Per-stream decode speed at the median inter-token latency."""
        return 1.0 / self.itl_s.p50 if self.itl_s.p50 else None
