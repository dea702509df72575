"""Load: from requests a day to peak arrivals and requests in flight (Little's law)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from planner.constraints import Constraints
from planner.units import DAYS_PER_MONTH, SECONDS_PER_DAY


class Load(BaseModel):
    """The traffic a deployment must absorb at its peak."""

    model_config = ConfigDict(frozen=True)

    average_requests_per_s: float
    peak_requests_per_s: float
    input_tokens_per_month: float
    output_tokens_per_month: float

    @property
    def tokens_per_month(self) -> float:
        return self.input_tokens_per_month + self.output_tokens_per_month


def load_from_constraints(c: Constraints) -> Load:
    """Average and peak request rates and monthly token volumes."""
    average = c.requests_per_day / SECONDS_PER_DAY
    requests_per_month = c.requests_per_day * DAYS_PER_MONTH
    return Load(
        average_requests_per_s=average,
        peak_requests_per_s=average * c.peak_to_average,
        input_tokens_per_month=requests_per_month * c.input_tokens,
        output_tokens_per_month=requests_per_month * c.output_tokens,
    )


def requests_in_flight(arrival_rate_per_s, latency_s):
    """Little's law: the mean number in the system is arrival rate x time in the system."""
    return arrival_rate_per_s * latency_s
