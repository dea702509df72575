"""Back off when the server says so (Retry-After) or cannot be reached, instead of hammering it.

A load test measures what the server does under the load asked for, but a server that answers
429 or 503 has said when to come back (RFC 9110 §10.2.3, Retry-After: seconds or an HTTP date),
and a refused connection answers in microseconds, so a closed loop without a pause sends
thousands of requests a second to nothing (Locust mode sent 5,324 to a refused port in 4 s).
`Backoff` is shared by the streams of a level (and by a Locust user): after such an answer no
new request is sent before the wait has passed. The wait is the server's Retry-After, capped at
RETRY_AFTER_CAP_S; without one, it doubles from BACKOFF_BASE_S to BACKOFF_CAP_S while failures
go on, and any success resets it. The request that got the answer stays a fault in the results.

Unreached servers (refused, DNS, no route) are backed off only where the load runs for a time
(Locust: `back_off_unreached`); a probe level sends a fixed number of requests, fails fast and
stops the sweep when all of them fail, so pausing there would only delay the verdict.
"""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime

RETRY_AFTER_CAP_S = 30.0
BACKOFF_BASE_S = 0.1
BACKOFF_CAP_S = 5.0
#: Statuses that ask the client to slow down (Too Many Requests, Service Unavailable).
SLOW_DOWN_STATUSES = frozenset({429, 503})
#: Faults where the server was not reached at all: sending again at once cannot help.
UNREACHED_KINDS = frozenset({"refused", "unreachable", "dns"})


def parse_retry_after_s(value: str | None, now_unix_s: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or an HTTP date), None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None
    now = time.time() if now_unix_s is None else now_unix_s
    return max(0.0, when.timestamp() - now)


class Backoff:
    """When the next request may be sent. Instants are perf_counter seconds; not thread-safe
    (one per event loop or per Locust user)."""

    def __init__(self, *, base_s: float = BACKOFF_BASE_S, cap_s: float = BACKOFF_CAP_S,
                 retry_after_cap_s: float = RETRY_AFTER_CAP_S, back_off_unreached: bool = True):
        self.base_s, self.cap_s, self.retry_after_cap_s = base_s, cap_s, retry_after_cap_s
        self.back_off_unreached = back_off_unreached
        self.until_s = 0.0
        self.failures = 0
        self.waits = 0  # how many times a wait was set (reported beside the results)

    def note(self, *, ok: bool, end_s: float, error_kind: str | None = None, http_status: int | None = None,
             retry_after_s: float | None = None) -> None:
        """Take in one finished request."""
        if ok:
            self.failures = 0
            return
        if retry_after_s is not None:
            wait_s = min(retry_after_s, self.retry_after_cap_s)
        elif http_status in SLOW_DOWN_STATUSES or (self.back_off_unreached and error_kind in UNREACHED_KINDS):
            wait_s = min(self.base_s * 2 ** self.failures, self.cap_s)
        else:
            return  # another fault (a 500, a cut stream): measured as it is, no pause
        self.failures += 1
        self.waits += 1
        self.until_s = max(self.until_s, end_s + wait_s)

    def note_record(self, record) -> None:  # a RequestRecord (not imported: Locust loads this module too)
        self.note(ok=record.ok, end_s=record.end_s, error_kind=record.error_kind, http_status=record.http_status,
                  retry_after_s=record.retry_after_s)

    def delay_s(self, now_s: float | None = None) -> float:
        """Seconds to wait before the next request (0: send now)."""
        return max(0.0, self.until_s - (time.perf_counter() if now_s is None else now_s))
