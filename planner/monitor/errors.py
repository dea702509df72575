"""The monitor's one error: bad input or an unusable source, said in one sentence."""

from __future__ import annotations

from planner.errors import PlannerError


class MonitorError(PlannerError):
    """A metrics endpoint, Prometheus server, plan or sample file the monitor cannot use; the message says why."""
