"""run_probe: warm up, then sweep concurrency levels, and return a ProbeResult.

Concurrency is closed-loop: at level c, c worker threads each send a
request, wait for its stream to finish, and send the next, until the
level's requests are done. Requests are timed in the worker threads;
results, progress callbacks and stop decisions happen in the calling
thread (a dashboard's callbacks must run in its own thread).
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import datetime, timezone

import requests

from planner.probe.clients import StreamingClient
from planner.probe.factory import make_client
from planner.probe.config import ProbeConfig
from planner.probe.endpoint import Endpoint, check_host_allowed
from planner.probe.faults import FaultKind, RequestFailed
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

log = logging.getLogger("planner.probe")

ProgressCallback = Callable[[ProgressEvent], None]

# How often the waiting loop wakes to notice an external stop request, seconds.
_POLL_S = 0.25
# How long to wait for in-flight requests after a stop, seconds (their reads
# are bounded by the deadline, so this is normally not reached).
_STOP_GRACE_S = 2.0


class _SessionPool:
    """One requests.Session per concurrent worker, reused across levels so
    connections (and TLS handshakes) are not paid again on every request."""

    def __init__(self) -> None:
        self._free: queue.SimpleQueue[requests.Session] = queue.SimpleQueue()
        self._all: list[requests.Session] = []
        self._lock = threading.Lock()

    def acquire(self) -> requests.Session:
        try:
            return self._free.get_nowait()
        except queue.Empty:
            session = requests.Session()
            with self._lock:
                self._all.append(session)
            return session

    def release(self, session: requests.Session) -> None:
        self._free.put(session)

    def close(self) -> None:
        with self._lock:
            for session in self._all:
                session.close()
            self._all.clear()


class _Run:
    """State of one run; `run_probe` is the public entry point."""

    def __init__(self, config: ProbeConfig, endpoint: Endpoint, redactor: Redactor,
                 on_progress: ProgressCallback | None, stop_event: threading.Event | None):
        self.config = config
        self.endpoint = endpoint
        self.redact = redactor
        self.on_progress = on_progress
        self.external_stop = stop_event
        self.sessions = _SessionPool()
        self.ids = itertools.count(1)
        self.start_s = time.perf_counter()
        self.deadline_s = None if config.run_timeout_s is None else self.start_s + config.run_timeout_s
        self.template: PromptTemplate = build_prompt(config.prompt_tokens)
        self.tokens_received = 0  # output tokens of all measured requests, for CPU per token
        self.client: StreamingClient = make_client(
            endpoint, model=config.model, endpoint_kind=config.endpoint, max_tokens=config.max_tokens,
            temperature=config.temperature, extra_body=config.extra_body,
            api_key=config.resolved_api_key(), redactor=redactor, timeout_s=config.timeout_s,
            connect_timeout_s=config.connect_timeout_s,
        )

    # -- helpers -----------------------------------------------------------------
    def elapsed_s(self) -> float:
        return time.perf_counter() - self.start_s

    def stop_requested(self) -> bool:
        return self.external_stop is not None and self.external_stop.is_set()

    def past_deadline(self) -> bool:
        return self.deadline_s is not None and time.perf_counter() >= self.deadline_s

    def emit(self, event: ProgressEvent) -> None:
        if self.on_progress is not None:
            self.on_progress(event)

    def one_request(self, template: PromptTemplate, stop: threading.Event | None = None) -> RequestRecord:
        session = self.sessions.acquire()
        try:
            return self.client.run_request(session, template.render(next(self.ids)),
                                           deadline_s=self.deadline_s, stop_event=stop or self.external_stop)
        finally:
            self.sessions.release(session)

    # -- phases ------------------------------------------------------------------
    def resolve_model(self) -> FatalError | None:
        if self.client.model:
            return None
        session = self.sessions.acquire()
        try:
            models = self.client.list_models(session)
        except RequestFailed as exc:
            return FatalError(kind=exc.kind.value, message=f"could not list models: {exc.message}")
        finally:
            self.sessions.release(session)
        if not models:
            return FatalError(kind=FaultKind.MODEL_NOT_FOUND.value, message="the server lists no models")
        self.client.model = models[0]
        return None

    def size_prompt(self) -> PromptTemplate:
        if not self.config.use_tokenizer:
            return build_prompt(self.config.prompt_tokens)
        session = self.sessions.acquire()
        try:
            return build_prompt(self.config.prompt_tokens, lambda text: self.client.count_tokens(session, text))
        finally:
            self.sessions.release(session)

    def warm_up(self, template: PromptTemplate) -> tuple[WarmupSummary, FatalError | None]:
        records: list[RequestRecord] = []
        note = None
        for i in range(self.config.warmup_requests):
            if self.past_deadline() or self.stop_requested():
                break
            record = self.one_request(template)
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
                                ttft_s=ok[0].ttft_s if ok else None, note=note)
        fatal = None
        if records and not ok:
            failed = [r for r in records if r.error_kind]
            if failed:
                first = failed[0]
                fatal = FatalError(kind=str(first.error_kind), message=first.error_message or "")
        return summary, fatal

    def run_level(self, index: int, level_count: int, concurrency: int) -> tuple[LevelResult, str | None]:
        n_requests = max(self.config.requests_per_level, concurrency)
        template = self.template
        stop_level = threading.Event()
        lock = threading.Lock()
        in_flight = 0
        max_in_flight = 0
        records: list[RequestRecord] = []

        def task() -> RequestRecord | None:
            nonlocal in_flight, max_in_flight
            if stop_level.is_set() or self.past_deadline() or self.stop_requested():
                return None
            with lock:
                in_flight += 1
                max_in_flight = max(max_in_flight, in_flight)
            try:
                return self.one_request(template, stop=stop_level)
            finally:
                with lock:
                    in_flight -= 1

        stopped: str | None = None
        level_start_s = time.perf_counter()
        executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix=f"probe-c{concurrency}")
        pending: set[Future] = {executor.submit(task) for _ in range(n_requests)}
        try:
            while pending:
                wait_s = _POLL_S
                if self.deadline_s is not None:
                    wait_s = min(wait_s, max(0.0, self.deadline_s - time.perf_counter()))
                done, pending = wait(pending, timeout=wait_s, return_when=FIRST_COMPLETED)
                for fut in done:
                    record = fut.result()
                    if record is not None:
                        records.append(record)
                if done and self.on_progress is not None:
                    snapshot = summarise_level(
                        concurrency, n_requests, records, wall_s=time.perf_counter() - level_start_s,
                        run_start_s=self.start_s, max_in_flight=max_in_flight, complete=False, keep_log=False)
                    self.emit(ProgressEvent(kind="request", concurrency=concurrency, done=len(records),
                                            total=n_requests, level_index=index, level_count=level_count,
                                            elapsed_s=self.elapsed_s(), level=snapshot))
                if pending and self.past_deadline():
                    stopped = "run_timeout"
                elif pending and self.stop_requested():
                    stopped = "stopped"
                if stopped:
                    stop_level.set()
                    # Collect what the in-flight requests measured before they stopped.
                    done, pending = wait(pending, timeout=_STOP_GRACE_S)
                    for fut in done:
                        record = fut.result()
                        if record is not None:
                            records.append(record)
                    break
        finally:
            executor.shutdown(wait=False, cancel_futures=True)
        self.tokens_received += sum(r.output_tokens for r in records)
        wall_s = time.perf_counter() - level_start_s
        # The level ended when its last request did, not when the poll loop noticed.
        if records:
            wall_s = max(r.end_s for r in records) - level_start_s
        level = summarise_level(concurrency, n_requests, records, wall_s=wall_s, run_start_s=self.start_s,
                                max_in_flight=max_in_flight, complete=stopped is None,
                                keep_log=self.config.keep_request_log)
        return level, stopped

    def sweep(self) -> tuple[list[LevelResult], str | None]:
        levels: list[LevelResult] = []
        stopped: str | None = None
        count = len(self.config.concurrency)
        for index, concurrency in enumerate(self.config.concurrency):
            if self.past_deadline():
                return levels, "run_timeout"
            if self.stop_requested():
                return levels, "stopped"
            level, stopped = self.run_level(index, count, concurrency)
            levels.append(level)
            self.emit(ProgressEvent(kind="level", concurrency=concurrency, done=level.succeeded + level.errors,
                                    total=level.requests, level_index=index, level_count=count,
                                    elapsed_s=self.elapsed_s(), level=level))
            if stopped:
                return levels, stopped
            if level.succeeded == 0 and level.errors:
                top_kind = max(level.errors_by_kind.items(), key=lambda kv: kv[1])[0]
                return levels, f"every request failed at concurrency {concurrency} ({top_kind})"
        return levels, None


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
            if fatal is None:
                # Sized after the warm-up, so a dead endpoint fails fast instead of
                # first timing out on tokenizer calls.
                template = run.size_prompt()
                run.template = template
                levels, stopped = run.sweep()
            else:
                stopped = f"endpoint unusable ({fatal.kind})"
        finally:
            sampler.stop()
            run.sessions.close()
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
                "warmup_requests": config.warmup_requests,
                "temperature": config.temperature,
                "stream_options_include_usage": getattr(run.client, "include_usage", None),
            },
            prompt=template.describe(),
            warmup=warmup,
            levels=levels,
            gpu_telemetry=sampler.result(),
            client_cpu_s=cpu_s,
            client_cpu_s_per_token=(cpu_s / tokens) if tokens else None,
            client_process_cpu_s=time.process_time() - cpu0_s,
            stopped_reason=stopped,
            fatal_error=fatal,
            wall_s=run.elapsed_s(),
        )
        log.info("probe finished: %d levels, stopped_reason=%s", len(levels), stopped)
        run.emit(ProgressEvent(kind="finished", level_count=len(config.concurrency), elapsed_s=result.wall_s))
        return result
