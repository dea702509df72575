"""Pick the streaming client for an endpoint's API type.

Kept apart from `clients.py` (the base class both clients import), so the
base never imports its subclasses and the import graph has no circle.
"""

from __future__ import annotations

from typing import Any

from planner.probe.clients import StreamingClient
from planner.probe.config import ProbeConfig
from planner.probe.endpoint import Endpoint
from planner.probe.ollama_client import OllamaClient
from planner.probe.openai_client import OpenAIClient


def make_client(endpoint: Endpoint, **kwargs: Any) -> StreamingClient:
    """The client for the endpoint's API type (`ollama` → OllamaClient, else OpenAIClient)."""
    cls = OllamaClient if endpoint.api == "ollama" else OpenAIClient
    return cls(endpoint, **kwargs)


def client_for(config: ProbeConfig, *, model: str | None, redactor: Any = None,
               endpoint: Endpoint | None = None) -> StreamingClient:
    """The client a run of `config` uses (the runner, worker processes, Locust users, --list-models)."""
    from planner.probe.redaction import Redactor, url_secrets

    key = config.resolved_api_key()
    return make_client(endpoint or Endpoint.parse(config.url, config.api), model=model,
                       endpoint_kind=config.endpoint, max_tokens=config.max_tokens, temperature=config.temperature,
                       extra_body=config.extra_body, api_key=key, timeout_s=config.timeout_s,
                       connect_timeout_s=config.connect_timeout_s, request_timeout_s=config.request_timeout_s,
                       redactor=redactor or Redactor([key, *url_secrets(config.url)]),
                       api_key_source=_key_source(config))


def _key_source(config: ProbeConfig) -> str:
    if config.api_key is not None and config.api_key.get_secret_value():
        return "an API key"
    return f"an API key (${config.api_key_env})"
