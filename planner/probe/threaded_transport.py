"""One streamed request over requests (threads, or Locust's gevent): send, time, classify, never raise.

The asyncio transport (planner.probe.async_transport) carries the probe's own runs; this one
carries Locust's users, whose gevent patches make `requests` cooperative. Both read the stream
with the same client methods (`read_block`, `handle_line`, `check_complete`) and the same bounds
(planner.probe.limits): socket reads time out only on silence, so the read timeout (keep-alive
comments do not count) and the wall-time limit are checked between blocks here.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import requests

from planner.probe.faults import FaultKind, RequestFailed, classify_exception, describe_exception
from planner.probe.limits import LineSplitter
from planner.probe.record import RequestRecord, finished_record, StreamState
from planner.probe.streaming import iter_stream_blocks

# Seconds of grace past the run deadline before a blocked read gives up, so
# a request that is about to finish still can.
_DEADLINE_GRACE_S = 0.25


def run_request(
    client: Any,  # a planner.probe.clients.StreamingClient, which imports this module
    session: requests.Session,
    prompt: str,
    *,
    deadline_s: float | None = None,
    stop_event: threading.Event | None = None,
    max_tokens: int | None = None,
) -> RequestRecord:
    """Send one streamed request and time it. Never raises for request failures.

    `deadline_s` (perf_counter seconds) is the run's deadline: reads are
    bounded by it, and a request it interrupts is `cancelled`, not an error.
    The request's own bounds (planner.probe.limits) are faults, its tokens kept.
    """
    cpu0_s = time.thread_time()
    state = StreamState()
    streaming = False
    cancelled = False
    error: RequestFailed | None = None
    error_kind: str | None = None
    error_message: str | None = None
    resp: requests.Response | None = None
    start_s = state.last_s = time.perf_counter()
    max_tokens = max_tokens or client.max_tokens
    wall_s = start_s + client.request_wall_s(max_tokens)
    try:
        url, body = client.request_url_and_body(prompt, max_tokens=max_tokens)
        read_timeout_s = client.timeout_s
        if deadline_s is not None:
            read_timeout_s = max(0.05, min(read_timeout_s, deadline_s - start_s + _DEADLINE_GRACE_S))
        resp = session.post(
            url, json=body, headers=client.headers(), stream=True,
            timeout=(min(client.connect_timeout_s, read_timeout_s), read_timeout_s),
            # Redirects are not followed: a benchmark must measure the host it
            # was given, and the allow-list must not be bypassed by a 3xx.
            allow_redirects=False,
        )
        if resp.status_code != 200:
            raise client.failed_response(resp)
        streaming = True
        lines = LineSplitter()
        for data in iter_stream_blocks(resp):
            now_s = time.perf_counter()
            if (stop_event is not None and stop_event.is_set()) or (
                    deadline_s is not None and now_s >= deadline_s and not state.done):
                cancelled = True
                break
            if state.done:
                if now_s > wall_s:
                    break  # done, and the server still sends: stop draining
                continue  # drain to the end so the connection can be reused
            client.read_block(data, now_s, state, lines, max_tokens)
            client.check_time(now_s, state, wall_s)
        if not cancelled:
            if not state.done and (rest := lines.rest()):
                client.handle_line(rest, time.perf_counter(), state)
            client.check_complete(state)
    except RequestFailed as exc:
        error = exc
        error_kind, error_message = exc.kind.value, client.redact(exc.message)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a result
        kind = classify_exception(exc, streaming=streaming)
        if deadline_s is not None and time.perf_counter() >= deadline_s and kind in (
                FaultKind.TIMEOUT, FaultKind.UNREACHABLE):
            cancelled = True  # the run deadline, not the server, ended this request
        else:
            error_kind, error_message = kind.value, client.redact(describe_exception(exc))
    finally:
        if resp is not None:
            resp.close()
    end_s = time.perf_counter()
    if state.done and state.done_s is not None:
        end_s = state.done_s
    return finished_record(state, start_s, end_s, cancelled, error_kind, error_message, error,
                           client_cpu_s=time.thread_time() - cpu0_s)
