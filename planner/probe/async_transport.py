"""One streamed request over asyncio (aiohttp): send, time, classify, never raise.

The same protocol objects as the threaded transport (`StreamingClient.request_url_and_body`,
`handle_line`, `check_complete`) say what to send and how to read each line, so OpenAI and Ollama
streams are parsed by one piece of code whatever carries them. One event loop holds any number of
streams: a stream waiting for its next token costs a socket and a few hundred bytes, not a thread,
which is how one process keeps 1,024 and more streams open (`bench/probe_overhead.py`).
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Callable

import aiohttp

from planner.probe.clients import StreamingClient, StreamState
from planner.probe.faults import RequestFailed, classify_exception, describe_exception
from planner.probe.limits import LineSplitter
from planner.probe.record import RequestRecord, finished_record

# Seconds of grace past the run deadline before a blocked read gives up (as the threaded client).
_DEADLINE_GRACE_S = 0.25
_ERROR_BODY_BYTES = 2048


class _Watchdog:
    """Read timeouts for every stream of an event loop, checked by one task every 0.1 s.

    aiohttp's `sock_read` timeout re-arms a timer on every chunk received; at a thousand streams
    that is tens of thousands of timer moves a second, a seventh of the client's CPU and enough
    to make it fall behind an open-loop schedule (bench/probe_overhead.py). Here a stream only
    notes when its last data line came; a stream silent (or sending only keep-alive comments) for
    longer than its timeout is cancelled and recorded as a `timeout`, and one past its wall-time
    limit (planner.probe.limits) as `overtime`.
    """

    _by_loop: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
    PERIOD_S = 0.1

    def __init__(self) -> None:
        self.streams: dict[asyncio.Task, tuple[StreamState, float, float]] = {}
        self.task: asyncio.Task | None = None

    @classmethod
    def of_running_loop(cls) -> _Watchdog:
        loop = asyncio.get_running_loop()
        watchdog = cls._by_loop.get(loop)
        if watchdog is None:
            watchdog = cls._by_loop[loop] = cls()
        if watchdog.task is None or watchdog.task.done():
            watchdog.task = loop.create_task(watchdog.run())
        return watchdog

    async def run(self) -> None:
        while self.streams:
            await asyncio.sleep(self.PERIOD_S)
            now_s = time.perf_counter()
            for task, (state, timeout_s, wall_s) in list(self.streams.items()):
                if not state.timed_out and (now_s - state.last_s > timeout_s or now_s > wall_s):
                    state.timed_out = True
                    state.overtime = now_s > wall_s
                    task.cancel()


def new_session(limit: int = 0) -> aiohttp.ClientSession:
    """A session for a run: one connection per stream in flight (`limit` 0: no cap), kept alive
    across requests; no cookies, no environment proxies, no decompression (see clients.headers)."""
    connector = aiohttp.TCPConnector(limit=limit, ttl_dns_cache=300, enable_cleanup_closed=True)
    return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar(),
                                 auto_decompress=False, trust_env=False)


async def stream_request(
    client: StreamingClient,
    session: aiohttp.ClientSession,
    prompt: str,
    *,
    max_tokens: int | None = None,
    deadline_s: float | None = None,
    stop: Callable[[], bool] | None = None,
    scheduled_s: float | None = None,
) -> RequestRecord:
    """Send one streamed request and time it; every failure becomes a classified record.

    `deadline_s` (perf_counter seconds) bounds the reads; a request the deadline, `stop()` or a
    task cancellation ends is `cancelled`, neither a success nor an error. `scheduled_s` is when an
    open-loop schedule wanted it sent (the gap to the actual send is the client's lag). The
    request's own bounds (planner.probe.limits: tokens, wall time, bytes) are faults; what it
    received before any of them fired is kept in the record.
    """
    state = StreamState()
    streaming = cancelled = False
    error: RequestFailed | None = None
    error_kind: str | None = None
    error_message: str | None = None
    start_s = state.last_s = time.perf_counter()
    watchdog = _Watchdog.of_running_loop()
    me = asyncio.current_task()
    try:
        url, body = client.request_url_and_body(prompt, max_tokens=max_tokens)
        max_tokens = max_tokens or client.max_tokens
        read_timeout_s = client.timeout_s
        if deadline_s is not None:
            read_timeout_s = max(0.05, min(read_timeout_s, deadline_s - start_s + _DEADLINE_GRACE_S))
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=min(client.connect_timeout_s, read_timeout_s))
        # The read timeout and the wall-time limit: see _Watchdog.
        watchdog.streams[me] = (state, read_timeout_s, start_s + client.request_wall_s(max_tokens))
        # Redirects are not followed: a benchmark must measure the host it was given.
        async with session.post(url, json=body, headers=client.headers(), timeout=timeout,
                                allow_redirects=False) as resp:
            if resp.status != 200:
                raw = await resp.content.read(_ERROR_BODY_BYTES)
                raise client.failed_status(resp.status, resp.reason, raw.decode("utf-8", errors="replace"),
                                           resp.headers.get("Retry-After"))
            streaming = True
            read_block = client.read_block
            lines = LineSplitter()
            async for data in resp.content.iter_any():
                now_s = time.perf_counter()
                if state.done:
                    continue  # drain to the end so the connection is reused
                if (stop is not None and stop()) or (deadline_s is not None and now_s >= deadline_s):
                    cancelled = True
                    break
                read_block(data, now_s, state, lines, max_tokens)
            if not cancelled:
                if not state.done and (rest := lines.rest()):
                    client.handle_line(rest, time.perf_counter(), state)
                client.check_complete(state)
    except RequestFailed as exc:
        error = exc
        error_kind, error_message = exc.kind.value, client.redact(exc.message)
    except asyncio.CancelledError:
        if state.done:
            pass  # the watchdog ended the drain after the end marker: the request is complete
        elif state.timed_out and not (deadline_s is not None and time.perf_counter() >= deadline_s):
            if state.overtime:
                error_kind, error_message = "overtime", client.overtime_message()
            else:
                error_kind, error_message = "timeout", client.silence_message()
        else:
            cancelled = True  # the run (or its deadline) stopped this request; what it received is kept
    except Exception as exc:  # noqa: BLE001 - every failure becomes a result
        kind = classify_exception(exc, streaming=streaming)
        if deadline_s is not None and time.perf_counter() >= deadline_s and kind.value in ("timeout", "unreachable"):
            cancelled = True  # the run deadline, not the server, ended this request
        else:
            error_kind, error_message = kind.value, client.redact(describe_exception(exc))
    finally:
        watchdog.streams.pop(me, None)
    end_s = state.done_s if state.done and state.done_s is not None else time.perf_counter()
    return finished_record(state, start_s, end_s, cancelled, error_kind, error_message, error,
                           scheduled_s=scheduled_s, server_queue_s=state.server_queue_s)
