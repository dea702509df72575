"""Pick the streaming client for an endpoint's API type.

Kept apart from `clients.py` (the base class both clients import), so the
base never imports its subclasses and the import graph has no circle.
"""

from __future__ import annotations

from typing import Any

from planner.probe.clients import StreamingClient
from planner.probe.endpoint import Endpoint
from planner.probe.ollama_client import OllamaClient
from planner.probe.openai_client import OpenAIClient


def make_client(endpoint: Endpoint, **kwargs: Any) -> StreamingClient:
    """The client for the endpoint's API type (`ollama` → OllamaClient, else OpenAIClient)."""
    cls = OllamaClient if endpoint.api == "ollama" else OpenAIClient
    return cls(endpoint, **kwargs)
