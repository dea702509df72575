"""ProbeConfig: what to measure and how hard to push."""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

DEFAULT_API_KEY_ENV = "PLANNER_PROBE_API_KEY"
DEFAULT_CONCURRENCY = (1, 2, 4, 8)


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
    requests_per_level: int = Field(16, ge=1, le=100_000,
                                    description="requests per level (raised to the level's concurrency)")
    prompt_tokens: int = Field(256, ge=1, le=1_000_000, description="target prompt length, tokens")
    max_tokens: int = Field(128, ge=1, le=1_000_000, description="max output tokens per request")
    timeout_s: float = Field(60.0, gt=0, description="per-request read timeout, seconds")
    connect_timeout_s: float = Field(10.0, gt=0, description="TCP/TLS connect timeout, seconds")
    run_timeout_s: float | None = Field(None, gt=0, description="whole-run limit, seconds; None: none")
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
        if any(c < 1 or c > 1024 for c in value):
            raise ValueError("concurrency levels must be between 1 and 1024")
        return value

    def resolved_api_key(self) -> str | None:
        """The key to send: the explicit one, else the environment variable's value, else None."""
        if self.api_key is not None and self.api_key.get_secret_value():
            return self.api_key.get_secret_value()
        return os.environ.get(self.api_key_env) or None
