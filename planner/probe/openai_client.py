"""Client for OpenAI-compatible servers (vLLM, llama.cpp, SGLang, TGI, LM Studio, hosted APIs).

Streams Server-Sent Events from `/v1/chat/completions` or `/v1/completions`
and asks for a final `usage` chunk (`stream_options.include_usage`); servers
that send no usage get their output counted in text chunks instead.
"""

from __future__ import annotations

from typing import Any

import requests

from planner.probe.clients import (
    StreamingClient,
    StreamState,
    json_snippet,
    parse_stream_object,
)
from planner.probe.faults import FaultKind, RequestFailed

_SSE_FIELDS = (b"event", b"id", b"retry")


def _as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


class OpenAIClient(StreamingClient):
    api = "openai"

    def __init__(self, *args: Any, include_usage: bool = True, **kwargs: Any):
        super().__init__(*args, **kwargs)
        # Some older servers reject `stream_options`; the runner retries without it.
        self.include_usage = include_usage
        self._tokenize_route: str | None = None  # remembered after the first success

    @property
    def accept(self) -> str:
        return "text/event-stream"

    def request_url_and_body(self, prompt: str, max_tokens: int | None = None) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {"max_tokens": max_tokens or self.max_tokens, "stream": True}
        if self.model:
            body["model"] = self.model
        if self.endpoint_kind == "chat":
            body["messages"] = [{"role": "user", "content": prompt}]
            path = "/v1/chat/completions"
        else:
            body["prompt"] = prompt
            path = "/v1/completions"
        if self.include_usage:
            body["stream_options"] = {"include_usage": True}
        if self.temperature is not None:
            body["temperature"] = self.temperature
        body.update(self.extra_body)
        return self.endpoint.url_for(path), body

    def handle_line(self, line: bytes, now_s: float, state: StreamState) -> None:
        line = line.strip()
        if not line or line.startswith(b":"):  # blank separator or SSE comment/keep-alive
            return
        if not line.startswith(b"data:"):
            if line.split(b":", 1)[0] in _SSE_FIELDS:
                return
            raise RequestFailed(FaultKind.MALFORMED, f"not a server-sent event: {json_snippet(line)!r}")
        data = line[5:].strip()
        if data == b"[DONE]":
            state.mark_done(now_s)
            return
        obj = parse_stream_object(data, "chunk")

        usage = obj.get("usage")
        if isinstance(usage, dict):
            completion = _as_int(usage.get("completion_tokens"))
            if completion is not None:
                state.output_tokens, state.output_source = completion, "usage"
            prompt_tokens = _as_int(usage.get("prompt_tokens"))
            if prompt_tokens is not None:
                state.prompt_tokens = prompt_tokens
        timings = obj.get("timings")  # llama.cpp's llama-server adds its own timings
        if isinstance(timings, dict):
            prompt_ms = timings.get("prompt_ms")
            per_s = timings.get("predicted_per_second")
            if isinstance(prompt_ms, (int, float)):
                state.server_prefill_s = prompt_ms / 1000.0
            if isinstance(per_s, (int, float)) and per_s > 0:
                state.server_decode_tokens_per_s = float(per_s)

        choices = obj.get("choices")
        if choices is None:
            return
        if not isinstance(choices, list):
            raise RequestFailed(FaultKind.MALFORMED, "`choices` is not a list")
        for choice in choices:
            if not isinstance(choice, dict):
                raise RequestFailed(FaultKind.MALFORMED, "a choice is not an object")
            if self.endpoint_kind == "chat":
                delta = choice.get("delta") or {}
                if not isinstance(delta, dict):
                    raise RequestFailed(FaultKind.MALFORMED, "`delta` is not an object")
                # Reasoning models stream thoughts first; those are output tokens too.
                text = delta.get("content") or delta.get("reasoning_content") or delta.get("reasoning")
            else:
                text = choice.get("text")
            if text:
                state.add_text(now_s)
            if choice.get("finish_reason"):
                state.finish_reason = str(choice["finish_reason"])

    def check_complete(self, state: StreamState) -> None:
        # Some servers end the stream after the finish_reason chunk without [DONE].
        if not state.done and state.finish_reason is None:
            raise RequestFailed(FaultKind.STREAM_CUT, "the stream ended before [DONE] or a finish_reason")

    def list_models(self, session: requests.Session) -> list[str]:
        doc = self.get_json(session, "/v1/models")
        data = doc.get("data") if isinstance(doc, dict) else None
        if not isinstance(data, list):
            raise RequestFailed(FaultKind.MALFORMED, "/v1/models did not list models")
        return [str(m["id"]) for m in data if isinstance(m, dict) and "id" in m]

    def count_tokens(self, session: requests.Session, text: str) -> int | None:
        """Token count by the server: llama.cpp and vLLM `/tokenize`, llama-cpp-python `/extras/tokenize`."""
        routes = [self._tokenize_route] if self._tokenize_route else ["/tokenize", "/extras/tokenize"]
        for route in routes:
            # One body serves them all: llama.cpp reads `content`, vLLM `prompt`,
            # llama-cpp-python `input`; unknown keys are ignored.
            body: dict[str, Any] = {"content": text, "prompt": text, "input": text}
            if self.model:
                body["model"] = self.model
            try:
                doc = self.post_json(session, route, body, timeout_s=10.0)
            except RequestFailed:
                continue
            if isinstance(doc, dict):
                count = _as_int(doc.get("count"))
                if count is None and isinstance(doc.get("tokens"), list):
                    count = len(doc["tokens"])
                if count is not None:
                    self._tokenize_route = route
                    return count
        return None
