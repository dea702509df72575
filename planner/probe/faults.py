"""Fault kinds: every failed request becomes one of these words, never a crash.

A load test against a flaky endpoint is still a measurement; so each failed
request is classified and counted in its level's `errors_by_kind`, and only
configuration problems (a host refused by the allow-list, a bad argument)
raise exceptions.
"""

from __future__ import annotations

import errno
import json
import socket
import ssl
from enum import Enum

import aiohttp
import requests
import urllib3.exceptions as u3

from planner.errors import PlannerError


class FaultKind(str, Enum):
    """Why one request failed. The value is the word used in results."""

    UNREACHABLE = "unreachable"  # no route, connect timeout, other connection failure
    DNS = "dns"  # the hostname did not resolve
    REFUSED = "refused"  # nothing listens on the port
    TLS = "tls"  # TLS handshake/certificate failure
    AUTH = "auth"  # HTTP 401 / 403
    MODEL_NOT_FOUND = "model_not_found"  # HTTP 404
    RATE_LIMITED = "rate_limited"  # HTTP 429
    SERVER_ERROR = "server_error"  # HTTP 5xx, or an error object inside the stream
    CLIENT_ERROR = "client_error"  # any other HTTP 4xx (e.g. 400 bad request, 422)
    HTTP_ERROR = "http_error"  # an unexpected status (e.g. a redirect, which is not followed)
    STREAM_CUT = "stream_cut"  # the connection dropped before the stream finished
    MALFORMED = "malformed"  # a chunk that is not the protocol's JSON
    TIMEOUT = "timeout"  # the per-request read timeout passed (no data line; keep-alive comments do not count)
    TOO_MANY_TOKENS = "too_many_tokens"  # the stream went on past max_tokens plus a margin (planner.probe.limits)
    OVERTIME = "overtime"  # the request ran past its wall-time limit while the server kept sending
    TOO_LARGE = "too_large"  # one line, or the whole response, was larger than the byte cap
    OTHER = "other"  # anything not foreseen above (message says what)

    def __str__(self) -> str:
        return self.value


#: Kinds that mean the endpoint cannot be used at all (no point sweeping on).
FATAL_KINDS = frozenset(
    {FaultKind.UNREACHABLE, FaultKind.DNS, FaultKind.REFUSED, FaultKind.TLS, FaultKind.AUTH,
     FaultKind.MODEL_NOT_FOUND}
)


class ProbeError(PlannerError):
    """Base of the errors the probe raises on purpose (configuration, policy)."""


class ProbeConfigError(ProbeError, ValueError):
    """A probe setting is invalid (bad URL, unknown API type, bad plan file)."""


class HostNotAllowedError(ProbeError, PermissionError):
    """The endpoint's host is not in PLANNER_PROBE_ALLOWED_HOSTS."""


class RequestFailed(Exception):
    """Raised inside a client to end one request with a classified fault.

    `message` must already be redacted (clients build it from status codes and
    bodies that pass through the run's redactor).
    """

    def __init__(self, kind: FaultKind, message: str, *, http_status: int | None = None,
                 retry_after_s: float | None = None):
        super().__init__(f"{kind.value}: {message}")
        self.kind = kind
        self.message = message
        self.http_status = http_status  # the response's status, when the server answered one
        self.retry_after_s = retry_after_s  # the server's Retry-After, seconds (planner.probe.backoff)


def kind_for_status(status_code: int) -> FaultKind:
    """Map an HTTP status code (>= 300) to its fault kind."""
    if status_code in (401, 403):
        return FaultKind.AUTH
    if status_code == 404:
        return FaultKind.MODEL_NOT_FOUND
    if status_code == 429:
        return FaultKind.RATE_LIMITED
    if 500 <= status_code <= 599:
        return FaultKind.SERVER_ERROR
    if 400 <= status_code <= 499:
        return FaultKind.CLIENT_ERROR
    return FaultKind.HTTP_ERROR


def _exception_chain(exc: BaseException) -> list[BaseException]:
    """All exceptions reachable through args/reason/__cause__/__context__.

    requests wraps urllib3 which wraps socket errors, and the interesting one
    (gaierror, ConnectionRefusedError, SSLError) sits several layers down.
    """
    seen: list[BaseException] = []
    stack: list[BaseException] = [exc]
    while stack and len(seen) < 32:
        cur = stack.pop()
        if any(cur is s for s in seen):
            continue
        seen.append(cur)
        for nxt in (getattr(cur, "reason", None), cur.__cause__, cur.__context__, *cur.args):
            if isinstance(nxt, BaseException):
                stack.append(nxt)
    return seen


def classify_exception(exc: BaseException, *, streaming: bool) -> FaultKind:
    """Classify an exception raised while sending a request or reading its stream.

    `streaming` is True once the response headers arrived: a dropped
    connection then is a `stream_cut`, not an unreachable host. Knows the
    exceptions of both transports: requests/urllib3 (the threaded client, the
    JSON calls) and aiohttp (the asyncio client).
    """
    if isinstance(exc, RequestFailed):
        return exc.kind
    chain = _exception_chain(exc)

    def has(*types: type) -> bool:
        return any(isinstance(e, types) for e in chain)

    if has(json.JSONDecodeError, UnicodeDecodeError):
        return FaultKind.MALFORMED
    # Specific causes first: urllib3's NewConnectionError subclasses its
    # ConnectTimeoutError, so a refused connection would otherwise look like a timeout.
    if has(ssl.SSLError, requests.exceptions.SSLError, u3.SSLError):
        return FaultKind.TLS
    if has(socket.gaierror, u3.NameResolutionError, aiohttp.ClientConnectorDNSError):
        return FaultKind.DNS
    if has(ConnectionRefusedError):
        return FaultKind.REFUSED
    for e in chain:
        if isinstance(e, OSError) and e.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
            return FaultKind.UNREACHABLE
    # A connect timeout means nothing answered at all: the host is unreachable.
    if has(requests.exceptions.ConnectTimeout, aiohttp.ConnectionTimeoutError) or any(
            isinstance(e, u3.ConnectTimeoutError) and not isinstance(e, u3.NewConnectionError) for e in chain):
        return FaultKind.UNREACHABLE
    if has(requests.exceptions.ReadTimeout, u3.ReadTimeoutError, socket.timeout, TimeoutError):
        return FaultKind.TIMEOUT
    if streaming and has(requests.exceptions.ChunkedEncodingError, u3.ProtocolError,
                         ConnectionError, requests.exceptions.ConnectionError,
                         u3.IncompleteRead, OSError, aiohttp.ClientPayloadError,
                         aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
        return FaultKind.STREAM_CUT
    # A server that accepts and then drops the connection before answering.
    if has(u3.ProtocolError, ConnectionResetError, ConnectionAbortedError, aiohttp.ServerDisconnectedError):
        return FaultKind.STREAM_CUT
    if has(aiohttp.ClientResponseError):  # a response aiohttp could not parse (not HTTP at all)
        return FaultKind.MALFORMED
    if has(requests.exceptions.ConnectionError, ConnectionError, aiohttp.ClientConnectorError):
        return FaultKind.UNREACHABLE
    return FaultKind.OTHER


def describe_exception(exc: BaseException) -> str:
    """A short one-line description of the innermost useful cause.

    Not redacted here: callers pass it through the run's redactor.
    """
    chain = _exception_chain(exc)
    # The deepest OS-level error usually says it best ("Connection refused").
    for e in reversed(chain):
        if isinstance(e, (socket.gaierror, ConnectionRefusedError, ssl.SSLError)):
            return f"{type(e).__name__}: {e}".splitlines()[0][:300]
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
