"""RequestRecord: the raw timeline of one streamed request, as the client saw it; StreamState, the
scratch space a transport fills while the request streams."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

UsageSource = Literal["usage", "chunks", "server"]


@dataclass(frozen=True)
class RequestRecord:
    """One request. All `*_s` instants are `time.perf_counter()` seconds (monotonic).

    `token_times_s` holds the arrival time of each chunk that carried text;
    `output_tokens` is the server's count when it sent one (`usage_source`
    "usage" or "server"), else the number of text chunks ("chunks").
    """

    start_s: float
    end_s: float
    first_token_s: float | None = None
    token_times_s: tuple[float, ...] = ()
    prompt_tokens: int | None = None
    output_tokens: int = 0
    usage_source: UsageSource = "chunks"
    error_kind: str | None = None
    error_message: str | None = None
    cancelled: bool = False  # stopped by the run deadline or a stop request
    server_prefill_s: float | None = None  # server-reported prompt processing time
    server_decode_tokens_per_s: float | None = None  # server-reported decode rate
    client_cpu_s: float = 0.0  # CPU time of the worker thread during this request (threaded transport)
    scheduled_s: float | None = None  # when an open-loop schedule wanted it sent
    server_queue_s: float | None = None  # server-reported time waiting for a slot (Ollama)
    http_status: int | None = None  # the status of a refused request (>= 300); None when it streamed
    retry_after_s: float | None = None  # the server's Retry-After on that answer, seconds
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def ok(self) -> bool:
        return self.error_kind is None and not self.cancelled

    @property
    def ttft_s(self) -> float | None:
        """Seconds from sending the request to the first text chunk."""
        return None if self.first_token_s is None else self.first_token_s - self.start_s

    @property
    def e2e_s(self) -> float:
        """Seconds from sending the request to its last token (or its end)."""
        return self.end_s - self.start_s

    @property
    def tpot_s(self) -> float | None:
        """Time per output token after the first, as vLLM's benchmark defines it:
        (end-to-end − TTFT) ÷ (output tokens − 1)."""
        if self.first_token_s is None or self.output_tokens < 2:
            return None
        return (self.end_s - self.first_token_s) / (self.output_tokens - 1)

    @property
    def send_lag_s(self) -> float | None:
        """How late the client sent an open-loop request against its schedule."""
        return None if self.scheduled_s is None else max(0.0, self.start_s - self.scheduled_s)

    @property
    def decode_tokens_per_s(self) -> float | None:
        """This stream's decode rate: tokens after the first over the time after the first."""
        if self.first_token_s is None or self.output_tokens < 2 or not self.token_times_s:
            return None
        span_s = self.token_times_s[-1] - self.first_token_s
        if span_s <= 0:
            return None
        return (self.output_tokens - 1) / span_s

    def inter_token_gaps_s(self) -> list[float]:
        """Gaps between tokens, seconds.

        When each chunk carries one token the raw chunk gaps are used; when the
        server batches several tokens per chunk (token count well above chunk
        count), raw gaps would overstate latency, so the request's mean gap
        is used instead, once per token gap.
        """
        times = self.token_times_s
        if len(times) < 2:
            return []
        if self.output_tokens <= len(times) + 1:
            return [b - a for a, b in zip(times, times[1:], strict=False)]
        mean_gap_s = (times[-1] - times[0]) / (self.output_tokens - 1)
        return [mean_gap_s] * (self.output_tokens - 1)


@dataclass
class StreamState:
    """Mutable per-request scratch space filled by `handle_line`. Instants are perf_counter s."""

    token_times_s: list[float] = field(default_factory=list)
    done: bool = False  # the protocol's end marker arrived ([DONE] / done: true)
    done_s: float | None = None
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    output_tokens: int | None = None  # the server's count, when it sent one
    output_source: UsageSource = "chunks"
    server_prefill_s: float | None = None
    server_decode_tokens_per_s: float | None = None
    server_queue_s: float | None = None  # time the server says the request waited for a slot
    last_s: float = 0.0  # when a data line last arrived (keep-alive comments do not count): the read timeout
    timed_out: bool = False
    overtime: bool = False  # the request's wall-time limit passed (planner.probe.limits)

    def add_text(self, now_s: float) -> None:
        self.token_times_s.append(now_s)

    def mark_done(self, now_s: float) -> None:
        if not self.done:
            self.done = True
            self.done_s = now_s


def finished_record(state, start_s: float, end_s: float, cancelled: bool, error_kind: str | None,
                    error_message: str | None, error=None, **extra) -> RequestRecord:
    """The RequestRecord of one streamed request from its stream state (planner.probe.clients.StreamState), for
    either transport: token counts from the server's usage when it sent them, else the chunks counted; an error
    is dropped when the run's deadline, not the server, ended the request. `extra`: transport-specific fields."""
    times = tuple(state.token_times_s)
    if state.output_tokens is not None:
        output_tokens, source = state.output_tokens, state.output_source
    else:
        output_tokens, source = len(times), "chunks"
    return RequestRecord(
        start_s=start_s, end_s=end_s, first_token_s=times[0] if times else None, token_times_s=times,
        prompt_tokens=state.prompt_tokens, output_tokens=output_tokens, usage_source=source,
        error_kind=None if cancelled else error_kind, error_message=None if cancelled else error_message,
        cancelled=cancelled, server_prefill_s=state.server_prefill_s,
        server_decode_tokens_per_s=state.server_decode_tokens_per_s,
        http_status=error.http_status if error is not None else None,
        retry_after_s=error.retry_after_s if error is not None else None, **extra)
