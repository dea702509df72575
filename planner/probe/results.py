"""Result models of a probe run. `ProbeResult.to_dict()` is the CLI's `--json` shape."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Percentiles(_Frozen):
    """Percentiles of one quantity over successful requests; None when there were none."""

    p50: float | None = None
    p90: float | None = None
    p99: float | None = None


class RequestLogEntry(_Frozen):
    """One request's timeline. Times in seconds since the run started."""

    start_s: float
    first_token_s: float | None
    end_s: float
    output_tokens: int
    error_kind: str | None = None


class SloResult(_Frozen):
    """How many requests of a level met the targets. Errors count as misses in the attainment
    shares but are never timed (their latencies are not in any percentile)."""

    ttft_s: float | None = Field(description="target: time to first token at most this")
    tokens_per_s: float | None = Field(description="target: per-stream decode speed at least this")
    judged: int = Field(description="requests judged: succeeded + errors (cancelled ones are not)")
    met_ttft: int
    met_tokens_per_s: int
    met_both: int
    attainment: float | None = Field(description="met_both ÷ judged")
    ttft_attainment: float | None
    tokens_per_s_attainment: float | None
    goodput_rps: float | None = Field(description="requests/s that met both targets")


class LevelResult(_Frozen):
    """Measurements at one level (closed-loop concurrency, or an open-loop request rate).
    Times in seconds, rates in tokens/s."""

    concurrency: int = Field(description="closed loop: streams kept in flight; open loop: most seen in flight")
    mode: Literal["concurrency", "rate"] = "concurrency"
    request_rate_rps: float | None = Field(None, description="open loop: the offered arrival rate")
    arrival: str | None = Field(None, description="open loop: poisson | constant (with its burstiness)")
    requests: int = Field(description="requests planned at this level")
    succeeded: int
    errors: int
    cancelled: int = Field(0, description="stopped by the run timeout; neither success nor error")
    errors_by_kind: dict[str, int]
    error_examples: dict[str, str] = Field(default_factory=dict, description="first message per kind")
    complete: bool = Field(description="False when the run stopped during this level")
    ttft_s: Percentiles
    inter_token_s: Percentiles
    output_tokens_per_s_per_stream: Percentiles
    aggregate_output_tokens_per_s: float | None
    requests_per_s: float | None
    wall_s: float
    prompt_tokens: float | None = Field(None, description="mean prompt tokens per request (server count)")
    output_tokens: int = Field(0, description="total output tokens of successful requests")
    partial_output_tokens: int = Field(0, description="output tokens received by requests that failed or were "
                                                      "cancelled (a limit, a fault, the run timeout): kept, not "
                                                      "in any percentile")
    usage_source: str | None = Field(None, description="usage | chunks | server | mixed")
    server_prefill_s: Percentiles | None = Field(None, description="server-reported prompt time")
    server_decode_tokens_per_s: Percentiles | None = Field(None, description="server-reported decode rate")
    e2e_s: Percentiles = Field(default_factory=Percentiles, description="request start to last token")
    tpot_s: Percentiles = Field(default_factory=Percentiles,
                                description="vLLM's TPOT: (E2E − TTFT) ÷ (output tokens − 1), per request")
    send_lag_s: Percentiles | None = Field(None, description="open loop: how late the client sent against "
                                                             "the schedule (large = the client fell behind)")
    server_queue_s: Percentiles | None = Field(None, description="server-reported wait for a slot (Ollama)")
    slo: SloResult | None = None
    max_in_flight: int = 0
    backoff_waits: int = Field(0, description="pauses before sending the server asked for: 429/503, its "
                                              "Retry-After (capped) or a doubling backoff")
    client_cpu_s: float = Field(0.0, description="CPU seconds the probe's client spent (its event-loop thread)")
    client_cpu_s_per_token: float | None = None
    client_busy_cores: float | None = Field(None, description="client CPU seconds per wall second")
    client_saturated: bool = Field(False, description="the probe was near one core (one event loop), or "
                                                      "fell behind its open-loop schedule: its throughput "
                                                      "may be client-limited")
    request_log: list[RequestLogEntry] = Field(default_factory=list)


class GpuStat(_Frozen):
    """min/mean/max of one GPU metric over the run."""

    min: float
    mean: float
    max: float


class GpuSummary(_Frozen):
    index: int
    name: str | None = None
    utilisation_pct: GpuStat
    memory_used_mib: GpuStat
    memory_total_mib: float | None = None


class GpuTelemetry(_Frozen):
    """NVML samples of the endpoint host's GPUs, or why there are none."""

    available: bool
    reason: str | None = None
    interval_s: float | None = None
    samples: int = 0
    gpus: list[GpuSummary] = Field(default_factory=list)


class WarmupSummary(_Frozen):
    requests: int
    succeeded: int
    errors_by_kind: dict[str, int] = Field(default_factory=dict)
    ttft_s: float | None = None
    note: str | None = None
    output_tokens: int = Field(0, description="output tokens received, failed and cancelled requests included")
    cancelled: int = Field(0, description="stopped by the run timeout or a stop; neither success nor error")


class FatalError(_Frozen):
    kind: str
    message: str


class ComparisonRow(_Frozen):
    """One predicted-vs-measured target (see planner.probe.compare)."""

    target: str
    predicted: float | None
    measured: float | None
    error_pct: float | None
    at_concurrency: int | None
    requirement: float | None
    verdict: Literal["meets", "misses", "no-target"]
    sentence: str


class ProbeResult(_Frozen):
    """Everything one run measured. Never contains the API key or URL credentials."""

    url: str = Field(description="endpoint URL without credentials")
    api: str
    model: str | None
    endpoint: str
    started_at: str = Field(description="ISO 8601, UTC")
    settings: dict[str, Any]
    prompt: dict[str, Any] = Field(default_factory=dict, description="target tokens and how it was sized")
    warmup: WarmupSummary | None = None
    levels: list[LevelResult] = Field(default_factory=list)
    comparison: list[ComparisonRow] = Field(default_factory=list)
    mode: Literal["concurrency", "rate"] = "concurrency"
    workload: dict[str, Any] = Field(default_factory=dict, description="lengths, arrivals and targets sent")
    verification: dict[str, Any] | None = Field(None, description="verify-this-plan verdict (planner.probe.verify)")
    source: str = Field("probe", description="probe | locust | guidellm | vllm-bench | aiperf | genai-perf")
    gpu_telemetry: GpuTelemetry
    client_cpu_s: float = Field(0.0, description="worker-thread CPU seconds over all levels")
    client_cpu_s_per_token: float | None = Field(None, description="client CPU seconds per streamed token")
    client_process_cpu_s: float = Field(0.0, description="whole-process CPU seconds during the run")
    stopped_reason: str | None = Field(None, description="None when every level ran")
    fatal_error: FatalError | None = None
    wall_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the CLI's --json output)."""
        return self.model_dump(mode="json")

    @property
    def reached_endpoint(self) -> bool:
        """True when at least one request (warm-up or measured) succeeded."""
        if self.warmup is not None and self.warmup.succeeded:
            return True
        return any(level.succeeded for level in self.levels)


class ProgressEvent(_Frozen):
    """Passed to `on_progress` after each request, each level and at the end."""

    kind: Literal["warmup", "request", "level", "finished"]
    concurrency: int | None = None
    request_rate_rps: float | None = None  # set instead of concurrency for an open-loop level
    done: int = 0
    total: int = 0
    level_index: int | None = None
    level_count: int = 0
    elapsed_s: float = 0.0
    level: LevelResult | None = Field(None, description="the level so far (request) or final (level)")
