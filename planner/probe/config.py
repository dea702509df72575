"""ProbeConfig: what to measure and how hard to push."""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

DEFAULT_API_KEY_ENV = "PLANNER_PROBE_API_KEY"
DEFAULT_CONCURRENCY = (1, 2, 4, 8)
#: Most streams one level may hold open (the asyncio client; see bench/probe_overhead.py).
MAX_STREAMS = 8192
#: Default whole-run limit, seconds: a run that would last longer needs saying so (--run-timeout-s).
DEFAULT_RUN_TIMEOUT_S = 1800.0


class ProbeConfig(BaseModel):
    """Settings of one probe run. Times in seconds, lengths in tokens.

    The API key is a SecretStr: its repr and JSON dump show `**********`,
    and results never include it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str = Field(description="endpoint URL, e.g. http://127.0.0.1:8000/v1")
    api: Literal["openai", "ollama"] | None = Field(None, description="None: detect from the URL")
    model: str | None = Field(None, description="model name; None: the first one the server lists")
    endpoint: Literal["chat", "completions"] = "chat"
    concurrency: tuple[int, ...] = DEFAULT_CONCURRENCY
    rates: tuple[float, ...] | None = Field(None, description="open-loop levels, requests/s (then `concurrency` "
                                                              "is not swept); None: the closed-loop sweep")
    arrival: Literal["poisson", "constant"] = Field("poisson", description="open-loop arrival process")
    burstiness: float = Field(1.0, gt=0, le=100, description="gamma shape of arrival gaps; 1 = Poisson")
    max_in_flight: int | None = Field(None, ge=1, le=MAX_STREAMS, description="open loop: cap on streams in flight")
    level_duration_s: float | None = Field(None, gt=0, description="open loop: requests = rate × this "
                                                                   "(else requests_per_level)")
    lengths: Literal["fixed", "normal", "lognormal"] = Field("fixed", description="per-request length distribution")
    length_cv: float = Field(0.25, ge=0, le=3, description="std ÷ mean of drawn lengths")
    context_tokens: int | None = Field(None, ge=2, description="prompt + output are clipped to fit this")
    seed: int = Field(0, description="seeds arrivals and lengths, so a rerun replays the same load")
    workers: int = Field(1, ge=1, le=64, description="client processes, each with its own event loop "
                                                     "(planner.probe.workers); 1: streams run in this process")
    slo_ttft_s: float | None = Field(None, gt=0, description="target: time to first token at most this")
    slo_tokens_per_s: float | None = Field(None, gt=0, description="target: per-stream decode at least this")
    requests_per_level: int = Field(16, ge=1, le=100_000,
                                    description="requests per level (raised to the level's concurrency)")
    prompt_tokens: int = Field(256, ge=1, le=1_000_000, description="target prompt length, tokens")
    max_tokens: int = Field(128, ge=1, le=1_000_000, description="max output tokens per request")
    timeout_s: float = Field(60.0, gt=0, description="per-request read timeout: seconds without a data line "
                                                     "(keep-alive comments do not count)")
    connect_timeout_s: float = Field(10.0, gt=0, description="TCP/TLS connect timeout, seconds")
    request_timeout_s: float | None = Field(None, gt=0, description="most seconds one request may last; None: "
                                                                    "timeout_s + 1 s per output token asked")
    run_timeout_s: float | None = Field(DEFAULT_RUN_TIMEOUT_S, gt=0,
                                        description="whole-run limit, seconds (partial results are kept); "
                                                    "None: none")
    warmup_requests: int = Field(1, ge=0, le=100)
    temperature: float | None = Field(0.0, ge=0, description="None: server default")
    api_key: SecretStr | None = Field(None, description="overrides the environment variable")
    api_key_env: str = DEFAULT_API_KEY_ENV
    extra_body: dict[str, Any] = Field(default_factory=dict,
                                       description="merged into each request body, e.g. {'ignore_eos': true}")
    use_tokenizer: bool = Field(True, description="ask the server's /tokenize to hit prompt_tokens")
    gpu_telemetry: bool = True
    telemetry_interval_s: float = Field(0.5, gt=0)
    keep_request_log: bool = Field(True, description="include per-request timings in each level")

    @field_validator("concurrency", mode="before")
    @classmethod
    def _parse_concurrency(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [int(part) for part in value.split(",") if part.strip()]
        return value

    @field_validator("concurrency")
    @classmethod
    def _check_concurrency(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value:
            raise ValueError("at least one concurrency level is needed")
        if any(c < 1 or c > MAX_STREAMS for c in value):
            raise ValueError(f"concurrency levels must be between 1 and {MAX_STREAMS}")
        return value

    @field_validator("rates", mode="before")
    @classmethod
    def _parse_rates(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [float(part) for part in value.split(",") if part.strip()]
        return value

    @field_validator("rates")
    @classmethod
    def _check_rates(cls, value: tuple[float, ...] | None) -> tuple[float, ...] | None:
        if value is not None and (not value or any(not r > 0 for r in value)):
            raise ValueError("request rates must be positive numbers of requests/s")
        return value

    @property
    def open_loop(self) -> bool:
        return self.rates is not None

    def requests_at_rate(self, rate_rps: float) -> int:
        """Requests an open-loop level sends: rate × level_duration_s, else requests_per_level."""
        if self.level_duration_s is None:
            return self.requests_per_level
        return max(1, round(rate_rps * self.level_duration_s))

    def resolved_api_key(self) -> str | None:
        """The key to send: the explicit one, else the environment variable's value, else None."""
        if self.api_key is not None and self.api_key.get_secret_value():
            return self.api_key.get_secret_value()
        return os.environ.get(self.api_key_env) or None
