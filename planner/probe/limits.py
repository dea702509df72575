"""Bounds on one request, so a misbehaving server can hold neither the probe nor its memory.

The read timeout (`timeout_s`) bounds silence only; a server that streams forever, trickles
keep-alive comments or never sends a newline would otherwise hold a request, and the run, until
the process is killed. So each request is also bounded by:

- tokens: at most `max_tokens` plus a margin of text chunks (`max_chunks`): a server that ignores
  `max_tokens` or loops is a `too_many_tokens` fault;
- wall time: `request_wall_s` (default the read timeout plus one second per output token asked:
  a stream slower than 1 token/s on average serves nobody) is an `overtime` fault;
- bytes: one line (an SSE event, an Ollama JSON line) of at most MAX_LINE_BYTES and a response of
  at most MAX_RESPONSE_BYTES (`LineSplitter`): a stream without newlines fails at the cap instead
  of filling memory (878 MB after 60 s before this bound), a `too_large` fault.

Whatever a request received before a bound fired is kept in its record (tokens and their times).
"""

from __future__ import annotations

import math

from planner.probe.backoff import BACKOFF_CAP_S, RETRY_AFTER_CAP_S
from planner.probe.faults import FaultKind, RequestFailed

#: Largest line accepted. An OpenAI chunk is a few hundred bytes, a few kB with logprobs.
MAX_LINE_BYTES = 1024 * 1024
#: Largest streamed response accepted (about 200k chunks of ~300 bytes).
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
#: Largest JSON document accepted from /v1/models, /api/tags or /tokenize.
MAX_JSON_BYTES = 8 * 1024 * 1024
#: Text chunks allowed past max_tokens: a quarter more, at least 16 (a chunk is not always one
#: token: some servers split a multi-byte character, and reasoning text may be counted apart).
TOKEN_MARGIN_SHARE = 0.25
TOKEN_MARGIN_MIN = 16
#: The slowest average pace the default wall limit allows, tokens/s.
SLOWEST_TOKENS_PER_S = 1.0


def max_chunks(max_tokens: int) -> int:
    """Most text chunks one request may stream before it is a `too_many_tokens` fault."""
    return max_tokens + max(TOKEN_MARGIN_MIN, math.ceil(max_tokens * TOKEN_MARGIN_SHARE))


def request_wall_s(timeout_s: float, max_tokens: int, explicit_s: float | None = None) -> float:
    """Most seconds one request may last: `explicit_s`, else the read timeout (for the first
    token) plus one second per output token asked."""
    if explicit_s is not None:
        return explicit_s
    return timeout_s + max_tokens / SLOWEST_TOKENS_PER_S


def limits_settings(timeout_s: float, max_tokens: int, request_timeout_s: float | None) -> dict[str, object]:
    """The bounds a run worked within (these and planner.probe.backoff's), for its `settings`;
    `request_wall_s` for a request of `max_tokens` (drawn lengths change it per request)."""
    return {
        "request_wall_s": request_wall_s(timeout_s, max_tokens, request_timeout_s),
        "max_text_chunks": max_chunks(max_tokens),
        "max_line_bytes": MAX_LINE_BYTES,
        "max_response_bytes": MAX_RESPONSE_BYTES,
        "retry_after_cap_s": RETRY_AFTER_CAP_S,
        "backoff_cap_s": BACKOFF_CAP_S,
    }


def check_chunks(chunks: int, max_tokens: int) -> None:
    """Raise `too_many_tokens` once a stream carried more text chunks than `max_chunks` allows."""
    if chunks > max_chunks(max_tokens):
        raise RequestFailed(FaultKind.TOO_MANY_TOKENS,
                            f"the server streamed more than {max_chunks(max_tokens)} text chunks for "
                            f"max_tokens={max_tokens} (it ignores max_tokens or never stops); "
                            "the tokens before are kept")


class LineSplitter:
    """Split streamed bytes into lines, never holding more than `max_line_bytes` of an unfinished
    line nor reading more than `max_response_bytes` in all (RequestFailed `too_large` past either)."""

    __slots__ = ("buffer", "max_line_bytes", "max_response_bytes", "received")

    def __init__(self, max_line_bytes: int = MAX_LINE_BYTES, max_response_bytes: int = MAX_RESPONSE_BYTES):
        self.buffer = b""
        self.received = 0
        self.max_line_bytes = max_line_bytes
        self.max_response_bytes = max_response_bytes

    def feed(self, data: bytes) -> list[bytes]:
        """The lines `data` completes (without their newline; a trailing CR is the caller's to strip)."""
        self.received += len(data)
        if self.received > self.max_response_bytes:
            raise RequestFailed(FaultKind.TOO_LARGE, f"the response passed {_size(self.max_response_bytes)}; "
                                                     "the tokens before are kept")
        joined = self.buffer + data if self.buffer else data
        *lines, rest = joined.split(b"\n")
        if len(joined) > self.max_line_bytes and (
                len(rest) > self.max_line_bytes or any(len(line) > self.max_line_bytes for line in lines)):
            self.buffer = b""
            raise RequestFailed(FaultKind.TOO_LARGE, f"a line passed {_size(self.max_line_bytes)} without a newline "
                                                     "(not a stream of events); the tokens before are kept")
        self.buffer = rest
        return lines

    def rest(self) -> bytes:
        """What is left after the last newline, when the stream has ended."""
        rest, self.buffer = self.buffer, b""
        return rest


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:g} MiB" if n >= 1024 * 1024 else f"{n:,} bytes"
