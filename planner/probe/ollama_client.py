"""Client for Ollama's native API (`/api/chat`, `/api/generate`, `/api/tags`).

Ollama streams one JSON object per line; the last one has `done: true` and
the server's own counts and durations (nanoseconds): `prompt_eval_count`,
`prompt_eval_duration`, `eval_count`, `eval_duration`. Those are used as
the token counts and as server-side prefill time and decode rate.
"""

from __future__ import annotations

from typing import Any

import requests

from planner.probe.clients import StreamingClient, StreamState, parse_stream_object
from planner.probe.faults import FaultKind, RequestFailed

_NS_PER_S = 1e9


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


class OllamaClient(StreamingClient):
    api = "ollama"

    @property
    def accept(self) -> str:
        return "application/x-ndjson"

    def request_url_and_body(self, prompt: str, max_tokens: int | None = None) -> tuple[str, dict[str, Any]]:
        options: dict[str, Any] = {"num_predict": max_tokens or self.max_tokens}
        if self.temperature is not None:
            options["temperature"] = self.temperature
        extra = dict(self.extra_body)
        if isinstance(extra.get("options"), dict):
            options.update(extra.pop("options"))
        body: dict[str, Any] = {"model": self.model or "", "stream": True, "options": options}
        if self.endpoint_kind == "chat":
            body["messages"] = [{"role": "user", "content": prompt}]
            path = "/api/chat"
        else:
            body["prompt"] = prompt
            path = "/api/generate"
        body.update(extra)
        return self.endpoint.url_for(path), body

    def handle_line(self, line: bytes, now_s: float, state: StreamState) -> None:
        line = line.strip()
        if not line:
            return
        obj = parse_stream_object(line, "line")
        if self.endpoint_kind == "chat":
            message = obj.get("message") or {}
            if not isinstance(message, dict):
                raise RequestFailed(FaultKind.MALFORMED, "`message` is not an object")
            text = message.get("content") or message.get("thinking")
        else:
            text = obj.get("response") or obj.get("thinking")
        if text:
            state.add_text(now_s)
        if obj.get("done") is True:
            state.mark_done(now_s)
            state.finish_reason = str(obj.get("done_reason") or "stop")
            eval_count = _count(obj.get("eval_count"))
            eval_ns = _count(obj.get("eval_duration"))
            prompt_count = _count(obj.get("prompt_eval_count"))
            prompt_ns = _count(obj.get("prompt_eval_duration"))
            if eval_count is not None:
                state.output_tokens, state.output_source = eval_count, "server"
                if eval_ns:
                    state.server_decode_tokens_per_s = eval_count / (eval_ns / _NS_PER_S)
            if prompt_count is not None:
                state.prompt_tokens = prompt_count
            if prompt_ns is not None:
                state.server_prefill_s = prompt_ns / _NS_PER_S
            state.server_queue_s = queue_wait_s(obj)

    def list_models(self, session: requests.Session) -> list[str]:
        doc = self.get_json(session, "/api/tags")
        models = doc.get("models") if isinstance(doc, dict) else None
        if not isinstance(models, list):
            raise RequestFailed(FaultKind.MALFORMED, "/api/tags did not list models")
        return [str(m.get("name") or m.get("model")) for m in models if isinstance(m, dict)]


def queue_wait_s(final: dict[str, Any]) -> float | None:
    """Seconds a request waited for one of Ollama's parallel slots, from its final line.

    `total_duration` runs from the handler's start to the end; loading the model
    (`load_duration`), the prompt (`prompt_eval_duration`) and the answer (`eval_duration`)
    are inside it, and what is left is time spent waiting: for a free slot
    (OLLAMA_NUM_PARALLEL) while the request sat in the queue (OLLAMA_MAX_QUEUE).
    """
    parts = [_count(final.get(k)) for k in ("total_duration", "load_duration", "prompt_eval_duration",
                                            "eval_duration")]
    if any(p is None for p in parts):
        return None
    total, load, prompt, decode = parts
    return max(0, total - load - prompt - decode) / _NS_PER_S
