"""run_probe: warm up, then sweep levels of load, and return a ProbeResult.

A level is closed-loop (c streams, each sending its next request when the last ends) or open-loop (requests
sent at a rate, Poisson or constant: a plan's peak). Requests stream on one asyncio event loop in a worker thread
(planner.probe.engine, async_transport); results, progress callbacks and stop decisions happen in the calling
thread (a dashboard's callbacks run in its own thread, and a slow one must not delay the streams' timing).
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timezone

import requests

from planner.probe.async_transport import new_session, stream_request
from planner.probe.backoff import SLOW_DOWN_STATUSES, Backoff
from planner.probe.clients import StreamingClient
from planner.probe.config import ProbeConfig
from planner.probe.endpoint import Endpoint, check_host_allowed
from planner.probe.engine import LoadShape, LoopThread, drive_level
from planner.probe.factory import client_for
from planner.probe.faults import FaultKind, RequestFailed
from planner.probe.limits import limits_settings
from planner.probe.openai_client import OpenAIClient
from planner.probe.prompts import PromptTemplate, build_prompt
from planner.probe.record import RequestRecord
from planner.probe.redaction import Redactor, redacting_logs, url_secrets
from planner.probe.results import (
    FatalError,
    LevelResult,
    ProbeResult,
    ProgressEvent,
    WarmupSummary,
)
from planner.probe.stats import summarise_level
from planner.probe.telemetry import GpuSampler
from planner.probe.workload import Lengths

log = logging.getLogger("planner.probe")

ProgressCallback = Callable[[ProgressEvent], None]

# How often the calling thread wakes to notice a finished level, seconds.
_POLL_S = 0.1
#: Tries of a warm-up request the server answers 429 or 503 (planner.probe.backoff).
WARMUP_TRIES = 3


class _Run:
    """State of one run; `run_probe` is the public entry point."""

    def __init__(self, config: ProbeConfig, endpoint: Endpoint, redactor: Redactor,
                 on_progress: ProgressCallback | None, stop_event: threading.Event | None):
        self.config = config
        self.endpoint = endpoint
        self.redact = redactor
        self.on_progress = on_progress
        self.external_stop = stop_event
        # First: ProbeConfigError (a URL's user:password beside a key) before any thread starts.
        self.client: StreamingClient = client_for(config, model=config.model, redactor=redactor, endpoint=endpoint)
        # JSON one-offs (list models, tokenize) go through requests; streams through aiohttp.
        self.session = requests.Session()
        self.loop = LoopThread()
        self.http = self.loop.run(_open_session())
        self.ids = itertools.count(1)
        self.start_s = time.perf_counter()
        self.deadline_s = None if config.run_timeout_s is None else self.start_s + config.run_timeout_s
        self.template: PromptTemplate = build_prompt(config.prompt_tokens)
        self.lengths = Lengths(prompt_tokens=config.prompt_tokens, output_tokens=config.max_tokens,
                               distribution=config.lengths, cv=config.length_cv,
                               context_tokens=config.context_tokens, seed=config.seed)
        self.tokens_received = 0  # output tokens of all measured requests, for CPU per token
        self.pool = None  # worker processes, started at the first level when config.workers > 1

    # -- helpers -----------------------------------------------------------------
    def elapsed_s(self) -> float:
        return time.perf_counter() - self.start_s

    def stop_requested(self) -> bool:
        return self.external_stop is not None and self.external_stop.is_set()

    def past_deadline(self) -> bool:
        return self.deadline_s is not None and time.perf_counter() >= self.deadline_s

    def stop_reason(self) -> str | None:
        if self.past_deadline():
            return "run_timeout"
        if self.stop_requested():
            return "stopped"
        return None

    def emit(self, event: ProgressEvent) -> None:
        if self.on_progress is not None:
            self.on_progress(event)

    def one_request(self, template: PromptTemplate) -> RequestRecord:
        prompt = template.render(next(self.ids))
        return self.loop.run(stream_request(self.client, self.http, prompt, deadline_s=self.deadline_s,
                                            stop=self.stop_requested))

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
        self.loop.close(cleanup=self.http.close())
        self.session.close()

    # -- phases ------------------------------------------------------------------
    def resolve_model(self) -> FatalError | None:
        if self.client.model:
            return None
        try:
            models = self.client.list_models(self.session)
        except RequestFailed as exc:
            return FatalError(kind=exc.kind.value, message=f"could not list models: {exc.message}")
        if not models:
            return FatalError(kind=FaultKind.MODEL_NOT_FOUND.value, message="the server lists no models")
        self.client.model = models[0]
        return None

    def size_prompt(self) -> PromptTemplate:
        if not self.config.use_tokenizer:
            return build_prompt(self.config.prompt_tokens)
        return build_prompt(self.config.prompt_tokens, lambda text: self.client.count_tokens(self.session, text))

    def warm_up_request(self, template: PromptTemplate) -> RequestRecord:
        """One warm-up request; one the server asks to retry later (429, 503) is retried after its
        Retry-After or a backoff, up to WARMUP_TRIES times, within the run's deadline."""
        pause = Backoff()
        record = self.one_request(template)
        for _ in range(WARMUP_TRIES - 1):
            if record.http_status not in SLOW_DOWN_STATUSES:
                break
            pause.note_record(record)
            if not self.sleep_until(time.perf_counter() + pause.delay_s()):
                break
            record = self.one_request(template)
        return record

    def sleep_until(self, when_s: float) -> bool:
        """Wait until `when_s` (perf_counter); False when the run's deadline or a stop comes first."""
        while (left_s := when_s - time.perf_counter()) > 0:
            if self.stop_reason() is not None or (self.deadline_s is not None and when_s >= self.deadline_s):
                return False
            time.sleep(min(left_s, _POLL_S))
        return self.stop_reason() is None

    def warm_up(self, template: PromptTemplate) -> tuple[WarmupSummary, FatalError | None]:
        records: list[RequestRecord] = []
        note = None
        for i in range(self.config.warmup_requests):
            if self.past_deadline() or self.stop_requested():
                break
            record = self.warm_up_request(template)
            if (i == 0 and record.error_kind == FaultKind.CLIENT_ERROR.value
                    and isinstance(self.client, OpenAIClient) and self.client.include_usage):
                # Some servers reject `stream_options`; retry once without it.
                self.client.include_usage = False
                retry = self.one_request(template)
                if retry.ok:
                    note = "the server rejected stream_options; output tokens are counted in chunks"
                    record = retry
                else:
                    self.client.include_usage = True
            records.append(record)
            self.emit(ProgressEvent(kind="warmup", done=i + 1, total=self.config.warmup_requests,
                                    elapsed_s=self.elapsed_s()))
        ok = [r for r in records if r.ok]
        kinds = Counter(r.error_kind for r in records if r.error_kind)
        summary = WarmupSummary(requests=len(records), succeeded=len(ok), errors_by_kind=dict(kinds),
                                ttft_s=ok[0].ttft_s if ok else None, note=note,
                                output_tokens=sum(r.output_tokens for r in records),
                                cancelled=sum(1 for r in records if r.cancelled))
        fatal = None
        if records and not ok:
            failed = [r for r in records if r.error_kind]
            if failed:
                first = failed[0]
                fatal = FatalError(kind=str(first.error_kind), message=first.error_message or "")
        return summary, fatal

    def shapes(self) -> list[LoadShape]:
        """The levels to run, in order."""
        config = self.config
        if config.rates is None:
            return [LoadShape(requests=max(config.requests_per_level, c), concurrency=c)
                    for c in config.concurrency]
        return [LoadShape(requests=config.requests_at_rate(rate), rate_rps=rate, arrival=config.arrival,
                          burstiness=config.burstiness, max_in_flight=config.max_in_flight,
                          seed=config.seed + index)
                for index, rate in enumerate(config.rates)]

    def run_level(self, index: int, level_count: int, shape: LoadShape) -> tuple[LevelResult, str | None]:
        pairs = self.lengths.sample(shape.requests, offset=sum(s.requests for s in self.shapes()[:index]))
        records: list[RequestRecord] = []
        finished: queue.SimpleQueue[RequestRecord] = queue.SimpleQueue()
        deadline_s, external = self.deadline_s, self.stop_requested

        async def send(i: int, scheduled_s: float | None, stopping: Callable[[], bool]) -> RequestRecord:
            prompt_tokens, output_tokens = pairs[i]
            prompt = self.template.render_tokens(next(self.ids), prompt_tokens)
            return await stream_request(self.client, self.http, prompt, max_tokens=output_tokens,
                                        deadline_s=deadline_s, stop=lambda: stopping() or external(),
                                        scheduled_s=scheduled_s)

        level_start_s = time.perf_counter()
        if self.config.workers > 1:
            return self._run_level_in_workers(index, level_count, shape, pairs, level_start_s)
        future = self.loop.submit(drive_level(shape, send, should_stop=self.stop_reason, on_record=finished.put))
        label = dict(concurrency=shape.concurrency, request_rate_rps=shape.rate_rps)
        while not (future.done() and finished.empty()):
            try:
                record = finished.get(timeout=_POLL_S)
            except queue.Empty:
                continue
            records.append(record)
            if self.on_progress is not None:
                snapshot = self._summary(shape, records, time.perf_counter() - level_start_s, 0, None,
                                         complete=False, keep_log=False)
                self.emit(ProgressEvent(kind="request", done=len(records), total=shape.requests,
                                        level_index=index, level_count=level_count, elapsed_s=self.elapsed_s(),
                                        level=snapshot, **label))
        run = future.result()
        self.tokens_received += sum(r.output_tokens for r in records)
        # The level ended when its last request did, not when the loop noticed.
        wall_s = (max(r.end_s for r in records) if records else time.perf_counter()) - run.started_s
        level = self._summary(shape, records, wall_s, run.max_in_flight, run.loop_cpu_s,
                              complete=run.stopped is None, keep_log=self.config.keep_request_log,
                              started_s=run.started_s, backoff_waits=run.backoff_waits)
        return level, run.stopped

    def _run_level_in_workers(self, index: int, level_count: int, shape: LoadShape, pairs: list[tuple[int, int]],
                              level_start_s: float) -> tuple[LevelResult, str | None]:
        from planner.probe.workers import WorkerPool

        if self.pool is None:
            self.pool = WorkerPool(self.config.workers, self.config, self.client.model,
                                   getattr(self.client, "include_usage", None), self.template, self.external_stop)
        records: list[RequestRecord] = []
        label = dict(concurrency=shape.concurrency, request_rate_rps=shape.rate_rps)

        def on_record(record: RequestRecord) -> None:
            records.append(record)
            if self.on_progress is not None:
                snapshot = self._summary(shape, records, time.perf_counter() - level_start_s, 0, None,
                                         complete=False, keep_log=False)
                self.emit(ProgressEvent(kind="request", done=len(records), total=shape.requests, level_index=index,
                                        level_count=level_count, elapsed_s=self.elapsed_s(), level=snapshot, **label))

        first_id = next(self.ids)
        self.ids = itertools.count(first_id + shape.requests)
        run = self.pool.run_level(shape, pairs, first_id, self.deadline_s, on_record)
        self.tokens_received += sum(r.output_tokens for r in records)
        wall_s = (max(r.end_s for r in records) if records else time.perf_counter()) - run.started_s
        level = self._summary(shape, records, wall_s, run.max_in_flight, run.loop_cpu_s,
                              complete=run.stopped is None, keep_log=self.config.keep_request_log,
                              backoff_waits=run.backoff_waits)
        return level, run.stopped

    def _summary(self, shape: LoadShape, records: list[RequestRecord], wall_s: float, max_in_flight: int,
                 cpu_s: float | None, *, complete: bool, keep_log: bool,
                 started_s: float | None = None, backoff_waits: int = 0) -> LevelResult:
        arrival = None
        if shape.open_loop:
            arrival = shape.arrival if shape.arrival == "constant" or shape.burstiness == 1 else (
                f"gamma (burstiness {shape.burstiness:g})")
        return summarise_level(
            shape.concurrency or max_in_flight, shape.requests, records, wall_s=wall_s, run_start_s=self.start_s,
            max_in_flight=max_in_flight, complete=complete, keep_log=keep_log, client_cpu_s=cpu_s,
            rate_rps=shape.rate_rps, arrival=arrival, slo_ttft_s=self.config.slo_ttft_s,
            slo_tokens_per_s=self.config.slo_tokens_per_s, client_processes=self.config.workers,
            backoff_waits=backoff_waits)

    def sweep(self) -> tuple[list[LevelResult], str | None]:
        levels: list[LevelResult] = []
        shapes = self.shapes()
        for index, shape in enumerate(shapes):
            if (reason := self.stop_reason()) is not None:
                return levels, reason
            level, stopped = self.run_level(index, len(shapes), shape)
            levels.append(level)
            self.emit(ProgressEvent(kind="level", concurrency=shape.concurrency, request_rate_rps=shape.rate_rps,
                                    done=level.succeeded + level.errors, total=level.requests, level_index=index,
                                    level_count=len(shapes), elapsed_s=self.elapsed_s(), level=level))
            if stopped:
                return levels, stopped
            if level.succeeded == 0 and level.errors:
                top_kind = max(level.errors_by_kind.items(), key=lambda kv: kv[1])[0]
                at = (f"{shape.rate_rps:g} requests/s" if shape.open_loop else f"concurrency {shape.concurrency}")
                return levels, f"every request failed at {at} ({top_kind})"
        return levels, None


async def _open_session():
    return new_session()


def build_redactor(config: ProbeConfig) -> Redactor:
    """A redactor that knows the run's API key and any secrets in its URL."""
    return Redactor([config.resolved_api_key(), *url_secrets(config.url)])


def run_probe(
    config: ProbeConfig,
    on_progress: ProgressCallback | None = None,
    *,
    stop_event: threading.Event | None = None,
) -> ProbeResult:
    """Load-test the endpoint in `config` and return what was measured.

    Request failures are results (see `LevelResult.errors_by_kind`,
    `ProbeResult.fatal_error`, `ProbeResult.stopped_reason`). Raises only
    for configuration problems: ProbeConfigError (bad URL/API type) and
    HostNotAllowedError (host outside PLANNER_PROBE_ALLOWED_HOSTS).
    `on_progress` is called in this thread after each warm-up request,
    each request, each level and at the end. Setting `stop_event` stops the
    run early and keeps partial results (`stopped_reason` "stopped").
    """
    endpoint = Endpoint.parse(config.url, config.api)
    check_host_allowed(endpoint.host)
    redactor = build_redactor(config)
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    cpu0_s = time.process_time()
    with redacting_logs(redactor):
        run = _Run(config, endpoint, redactor, on_progress, stop_event)
        log.info("probing %s (%s, %s)", endpoint.display_url, endpoint.api, config.endpoint)
        sampler = GpuSampler(endpoint_is_local=endpoint.is_local, enabled=config.gpu_telemetry,
                             interval_s=config.telemetry_interval_s)
        levels: list[LevelResult] = []
        warmup: WarmupSummary | None = None
        fatal: FatalError | None = None
        stopped: str | None = None
        template = run.template
        sampler.start()
        try:
            fatal = run.resolve_model()
            if fatal is None and config.warmup_requests:
                warmup, fatal = run.warm_up(template)
            if fatal is None and (stopped := run.stop_reason()) is None:
                # Sized after the warm-up, so a dead endpoint fails fast instead of
                # first timing out on tokenizer calls.
                template = run.size_prompt()
                run.template = template
                levels, stopped = run.sweep()
            elif fatal is not None:
                stopped = f"endpoint unusable ({fatal.kind})"
        finally:
            sampler.stop()
            run.close()
        cpu_s = sum(level.client_cpu_s for level in levels)
        tokens = run.tokens_received
        result = ProbeResult(
            url=endpoint.display_url,
            api=endpoint.api,
            model=run.client.model,
            endpoint=config.endpoint,
            started_at=started_at,
            settings={
                "concurrency": list(config.concurrency),
                "requests_per_level": config.requests_per_level,
                "prompt_tokens": config.prompt_tokens,
                "max_tokens": config.max_tokens,
                "timeout_s": config.timeout_s,
                "run_timeout_s": config.run_timeout_s,
                "request_timeout_s": config.request_timeout_s,
                "limits": limits_settings(config.timeout_s, config.max_tokens, config.request_timeout_s),
                "warmup_requests": config.warmup_requests,
                "temperature": config.temperature,
                "stream_options_include_usage": getattr(run.client, "include_usage", None),
                "rates": list(config.rates) if config.rates is not None else None,
                "arrival": config.arrival if config.open_loop else None,
                "burstiness": config.burstiness if config.open_loop else None,
                "level_duration_s": config.level_duration_s,
                "seed": config.seed,
                "workers": config.workers,
            },
            prompt=template.describe(),
            warmup=warmup,
            levels=levels,
            mode="rate" if config.open_loop else "concurrency",
            workload={"lengths": run.lengths.describe(),
                      "targets": {"ttft_s": config.slo_ttft_s, "tokens_per_s": config.slo_tokens_per_s}},
            gpu_telemetry=sampler.result(),
            client_cpu_s=cpu_s,
            client_cpu_s_per_token=(cpu_s / tokens) if tokens else None,
            client_process_cpu_s=time.process_time() - cpu0_s,
            stopped_reason=stopped,
            fatal_error=fatal,
            wall_s=run.elapsed_s(),
        )
        log.info("probe finished: %d levels, stopped_reason=%s", len(levels), stopped)
        run.emit(ProgressEvent(kind="finished", level_count=len(run.shapes()), elapsed_s=result.wall_s))
        return result
