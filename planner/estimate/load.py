"""Load: from requests a day to peak arrivals and requests in flight (Little's law)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from planner.units import DAYS_PER_MONTH, SECONDS_PER_DAY


@dataclass(frozen=True)
class Workload:
    """What the estimators and the candidate grid need of the architect's constraints: the traffic,
    one request's lengths, the context a sequence must hold, and the latency targets
    (`planner.plan.workload.workload_from` builds it; nothing below the plan layer sees the constraints)."""

    requests_per_day: float
    peak_to_average: float
    input_tokens: int
    output_tokens: int
    context_needed: int  # tokens one sequence must hold
    max_ttft_s: float | None
    min_tokens_per_s: float | None
    kv_cache_dtype: str = "auto"

    @property
    def peak_requests_per_s(self) -> float:
        return self.requests_per_day / SECONDS_PER_DAY * self.peak_to_average


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


def load_from_workload(w: Workload) -> Load:
    """Average and peak request rates and monthly token volumes."""
    average = w.requests_per_day / SECONDS_PER_DAY
    requests_per_month = w.requests_per_day * DAYS_PER_MONTH
    return Load(
        average_requests_per_s=average,
        peak_requests_per_s=average * w.peak_to_average,
        input_tokens_per_month=requests_per_month * w.input_tokens,
        output_tokens_per_month=requests_per_month * w.output_tokens,
    )


def requests_in_flight(arrival_rate_per_s, latency_s):
    """Little's law: the mean number in the system is arrival rate x time in the system."""
    return arrival_rate_per_s * latency_s
