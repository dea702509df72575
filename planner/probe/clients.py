"""The shared machinery of a streaming client: send, time, classify, never raise.

Subclasses (OpenAIClient, OllamaClient) say which URL and body to send and
how to read one line of the stream; the transports (planner.probe.async_transport,
planner.probe.threaded_transport) send, time, and turn every failure into a classified
`RequestRecord`. This module never imports
its subclasses: `planner.probe.factory.make_client` picks one, so no probe
module imports one that imports it back (tests/probe/test_import_graph.py).
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any, ClassVar

import requests

from planner.probe.backoff import parse_retry_after_s
from planner.probe.credentials import authorization
from planner.probe.endpoint import Endpoint
from planner.probe.faults import (
    FaultKind,
    RequestFailed,
    classify_exception,
    describe_exception,
    kind_for_status,
)
from planner.probe.limits import MAX_JSON_BYTES, LineSplitter, check_chunks, max_chunks, request_wall_s
from planner.probe.record import RequestRecord, StreamState
from planner.probe.redaction import Redactor, url_secrets
from planner.probe.streaming import iter_stream_blocks

USER_AGENT = "ow-planner-probe/1"
_ERROR_BODY_CHARS = 300
_ERROR_BODY_BYTES = 2048


class StreamingClient:
    """Base class. Thread-safe: one client is shared by all worker threads;
    each thread brings its own `requests.Session`."""

    api: ClassVar[str] = ""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        model: str | None,
        endpoint_kind: str = "chat",
        max_tokens: int = 128,
        temperature: float | None = 0.0,
        extra_body: dict[str, Any] | None = None,
        api_key: str | None = None,
        redactor: Redactor | None = None,
        timeout_s: float = 60.0,
        connect_timeout_s: float = 10.0,
        request_timeout_s: float | None = None,
        api_key_source: str = "the API key",
    ):
        self.endpoint = endpoint
        self.model = model
        self.endpoint_kind = endpoint_kind
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.extra_body = dict(extra_body or {})
        # Name-mangled and never in repr; ProbeConfigError when the URL's user:password and a key collide.
        self.__authorization = authorization(endpoint.base_url, api_key, api_key_source)
        self.redact = redactor or Redactor([api_key, *url_secrets(endpoint.base_url)])
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.request_timeout_s = request_timeout_s

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.endpoint!r}, model={self.model!r})"

    # -- what subclasses provide -------------------------------------------------
    def request_url_and_body(self, prompt: str, max_tokens: int | None = None) -> tuple[str, dict[str, Any]]:
        """URL and JSON body of one streamed request; `max_tokens` overrides the client's for this one."""
        raise NotImplementedError

    def handle_line(self, line: bytes, now_s: float, state: StreamState) -> None:
        """Read one line of the stream into `state`; raise RequestFailed on a protocol error."""
        raise NotImplementedError

    def check_complete(self, state: StreamState) -> None:
        """Called when the stream ended normally; raise RequestFailed if it ended too early."""
        if not state.done:
            raise RequestFailed(FaultKind.STREAM_CUT, "the stream ended before the server said it was done")

    def list_models(self, session: requests.Session) -> list[str]:
        raise NotImplementedError

    def count_tokens(self, session: requests.Session, text: str) -> int | None:
        """Tokens in `text` by the server's tokenizer, or None when it has no tokenize endpoint."""
        return None

    @property
    def accept(self) -> str:
        return "*/*"

    # -- shared --------------------------------------------------------------
    def request_wall_s(self, max_tokens: int | None = None) -> float:
        """Most seconds one request asking for `max_tokens` may last (planner.probe.limits)."""
        return request_wall_s(self.timeout_s, max_tokens or self.max_tokens, self.request_timeout_s)

    def max_chunks(self, max_tokens: int | None = None) -> int:
        return max_chunks(max_tokens or self.max_tokens)

    def read_block(self, data: bytes, now_s: float, state: StreamState, lines: LineSplitter,
                   max_tokens: int) -> None:
        """Read one block of a stream into `state` (both transports): split it into lines within
        the byte caps, note progress (a data line; blank lines and `:` comments are not), parse,
        and stop a stream that outgrew `max_tokens`."""
        for line in lines.feed(data):
            if line[:1] not in (b"", b":", b"\r"):
                state.last_s = now_s
            self.handle_line(line, now_s, state)
            if state.done:
                break
        if len(state.token_times_s) > max_tokens:
            check_chunks(len(state.token_times_s), max_tokens)

    def failed_status(self, status: int, reason: str | None, body: str, retry_after: str | None) -> RequestFailed:
        """The fault for an HTTP error answer, with its status and Retry-After (both transports)."""
        return RequestFailed(kind_for_status(status), self.status_message(status, reason, body), http_status=status,
                             retry_after_s=parse_retry_after_s(retry_after))

    def headers(self) -> dict[str, str]:
        headers = {
            "User-Agent": USER_AGENT,
            "Accept": self.accept,
            # A compressed stream can be buffered by the decoder, delaying tokens.
            "Accept-Encoding": "identity",
        }
        if self.__authorization:
            headers["Authorization"] = self.__authorization
        return headers

    def get_json(self, session: requests.Session, path: str, *, timeout_s: float = 10.0) -> Any:
        """GET a JSON document; raises RequestFailed (redacted) on any failure."""
        return self._json_call(session, "GET", path, None, timeout_s)

    def post_json(self, session: requests.Session, path: str, body: dict[str, Any], *,
                  timeout_s: float = 10.0) -> Any:
        """POST and parse a JSON answer; raises RequestFailed (redacted) on any failure."""
        return self._json_call(session, "POST", path, body, timeout_s)

    def _json_call(self, session: requests.Session, method: str, path: str,
                   body: dict[str, Any] | None, timeout_s: float) -> Any:
        """One JSON call, bounded like a stream: `timeout_s` of silence or in all, MAX_JSON_BYTES."""
        deadline_s = time.perf_counter() + timeout_s
        try:
            resp = session.request(method, self.endpoint.url_for(path), json=body, headers=self.headers(),
                                   timeout=(min(self.connect_timeout_s, timeout_s), timeout_s),
                                   allow_redirects=False, stream=True)
        except Exception as exc:  # noqa: BLE001 - classified, not swallowed
            raise RequestFailed(classify_exception(exc, streaming=False),
                                self.redact(describe_exception(exc))) from None
        with resp:
            if resp.status_code != 200:
                raise self.failed_response(resp)
            raw = bytearray()
            try:
                for block in iter_stream_blocks(resp):
                    raw += block
                    if len(raw) > MAX_JSON_BYTES:
                        raise RequestFailed(FaultKind.TOO_LARGE, f"{path} answered more than {MAX_JSON_BYTES:,} bytes")
                    if time.perf_counter() > deadline_s:
                        raise RequestFailed(FaultKind.OVERTIME, f"{path} took more than {timeout_s:g} s to answer")
            except RequestFailed:
                raise
            except Exception as exc:  # noqa: BLE001 - classified, not swallowed
                raise RequestFailed(classify_exception(exc, streaming=True),
                                    self.redact(describe_exception(exc))) from None
            try:
                return json.loads(bytes(raw).decode("utf-8"))
            except ValueError:
                raise RequestFailed(FaultKind.MALFORMED, f"{path} did not answer JSON") from None

    def failed_response(self, resp: requests.Response) -> RequestFailed:
        """The fault of an error answer; reads at most a little of its body (a stream=True response)."""
        try:
            body = resp.raw.read(_ERROR_BODY_BYTES, decode_content=False).decode("utf-8", errors="replace")
        except Exception:  # noqa: BLE001 - the status alone is enough
            body = ""
        return self.failed_status(resp.status_code, resp.reason, body, resp.headers.get("Retry-After"))

    def status_message(self, status: int, reason: str | None, body: str) -> str:
        """'HTTP 401 Unauthorized: <start of the body>', redacted (shared by both transports)."""
        body = " ".join(body[:_ERROR_BODY_CHARS].split())
        msg = f"HTTP {status} {reason or ''}".strip()
        return self.redact(f"{msg}: {body}" if body else msg)

    def run_request(self, session: requests.Session, prompt: str, *, deadline_s: float | None = None,
                    stop_event: threading.Event | None = None, max_tokens: int | None = None) -> RequestRecord:
        """One streamed request over `requests` (planner.probe.threaded_transport.run_request)."""
        from planner.probe.threaded_transport import run_request

        return run_request(self, session, prompt, deadline_s=deadline_s, stop_event=stop_event,
                           max_tokens=max_tokens)

    def check_time(self, now_s: float, state: StreamState, wall_s: float) -> None:
        """The threaded transport's bounds between blocks: socket reads time out only on silence."""
        if now_s > wall_s:
            raise RequestFailed(FaultKind.OVERTIME, self.overtime_message())
        if now_s - state.last_s > self.timeout_s:
            raise RequestFailed(FaultKind.TIMEOUT, self.silence_message())

    def overtime_message(self) -> str:
        limit = (f"{self.request_timeout_s:g} s" if self.request_timeout_s is not None
                 else "the read timeout + 1 s per output token asked")
        return f"the request ran past its time limit ({limit}) while the server kept sending; the tokens before are kept"

    def silence_message(self) -> str:
        return (f"no data line from the server for {self.timeout_s:g} s (the read timeout; keep-alive comments "
                "do not count)")


def parse_stream_object(data: bytes, what: str) -> dict:
    """One streamed JSON object (an SSE chunk, an Ollama line); anything else is a MALFORMED fault,
    and an `error` field the server sends mid-stream is a SERVER_ERROR."""
    try:
        # Decoded first: json.loads(bytes) sniffs the encoding on every call, a third of its cost here.
        obj = json.loads(data.decode("utf-8"))
    except ValueError:
        raise RequestFailed(FaultKind.MALFORMED, f"unparseable {what}: {json_snippet(data)!r}") from None
    if not isinstance(obj, dict):
        raise RequestFailed(FaultKind.MALFORMED, f"{what} is not an object: {json_snippet(data)!r}")
    if obj.get("error"):
        err = obj["error"]
        msg = err.get("message", err) if isinstance(err, dict) else err
        raise RequestFailed(FaultKind.SERVER_ERROR, f"error in stream: {str(msg)[:200]}")
    return obj


def json_snippet(data: bytes, limit: int = 80) -> str:
    """A short printable excerpt of a bad chunk for error messages."""
    text = data[:limit].decode("utf-8", errors="replace")
    return " ".join(text.split())
