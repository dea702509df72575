"""One call for the front ends: observe a service over a window (its /metrics or Prometheus) and judge it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from planner.monitor.errors import MonitorError
from planner.monitor.observation import Observation
from planner.monitor.promql import observe_prometheus
from planner.monitor.report import MonitorReport, judge
from planner.monitor.scrape import observe_endpoints
from planner.monitor.targets import DEFAULT_MAX_ERROR_RATE, targets_from_plan


def observe(*, metrics_urls: Sequence[str] = (), prometheus_url: str | None = None, window_s: float = 60.0,
            engine: str | None = None, interval_s: float | None = None, prefer: str | None = None) -> Observation:
    """Read one window from the endpoints' /metrics (the call lasts `window_s`) or from Prometheus (it returns at once)."""
    if window_s <= 0:
        raise MonitorError(f"the window must be a positive number of seconds, got {window_s:g}")
    if prometheus_url and metrics_urls:
        raise MonitorError("give either --metrics-url (read the endpoints directly) or --prometheus, not both")
    if prometheus_url:
        return observe_prometheus(prometheus_url, window_s, engine=engine, prefer=prefer)
    return observe_endpoints(list(metrics_urls), window_s, interval_s=interval_s, engine=engine)


def monitor(plan: Mapping[str, Any], *, max_error_rate: float = DEFAULT_MAX_ERROR_RATE, replan: bool = True,
            **where: Any) -> MonitorReport:
    """The plan's report on one window of the running service; `where` as for `observe`."""
    targets = targets_from_plan(plan, max_error_rate=max_error_rate)
    # The endpoints' names say which engine runs; the plan's engine is only a preference (the report says when
    # the service runs another).
    return judge(observe(prefer=targets.engine, **where), targets, replan=replan)
