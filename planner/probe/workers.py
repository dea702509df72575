"""Spread a level over worker processes, each with its own event loop, when one core is not enough.

One event loop parses about 20-50k streamed chunks a second on one core (bench/probe_overhead.py);
past that, `ProbeConfig.workers` > 1 splits each level: closed-loop streams and requests are dealt
out evenly; an open-loop rate r becomes N schedules of r/N (independent Poisson processes add up to
one of rate r; constant schedules are interleaved by 1/r). Every worker starts the level at the same
instant (perf_counter is the system's monotonic clock on Linux and macOS, shared by processes) and
sends each finished request back to the parent, which summarises them as one level.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from planner.probe.config import ProbeConfig
from planner.probe.engine import LevelRun, LoadShape
from planner.probe.prompts import PromptTemplate
from planner.probe.record import RequestRecord

# Seconds between sending a level to the workers and its start, so all start together.
_START_DELAY_S = 0.2


def split_shape(shape: LoadShape, workers: int) -> list[LoadShape]:
    """The share of `shape` each worker sends (workers with nothing to send are left out)."""
    def deal(total: int) -> list[int]:
        return [total // workers + (1 if i < total % workers else 0) for i in range(workers)]

    requests = deal(shape.requests)
    if shape.open_loop:
        rate = shape.rate_rps / workers
        return [replace(shape, requests=n, rate_rps=rate, seed=shape.seed * 1000 + i,
                        offset_s=(i / shape.rate_rps if shape.arrival == "constant" else 0.0),
                        max_in_flight=None if shape.max_in_flight is None else max(1, shape.max_in_flight // workers))
                for i, n in enumerate(requests) if n]
    streams = deal(shape.concurrency or 1)
    return [replace(shape, requests=max(n, c), concurrency=c) for n, c in zip(requests, streams, strict=True) if c]


@dataclass(frozen=True)
class _Job:
    shape: LoadShape
    pairs: list[tuple[int, int]]
    first_id: int
    start_at_s: float
    deadline_s: float | None


def _worker_main(config: ProbeConfig, model: str | None, include_usage: bool | None, template: PromptTemplate,
                 jobs: Any, out: Any, stop: Any) -> None:
    """A worker process: one event loop and session, running the levels it is sent."""
    from planner.probe.async_transport import new_session, stream_request
    from planner.probe.engine import drive_level, new_event_loop
    from planner.probe.factory import client_for

    client = client_for(config, model=model)
    if include_usage is not None and hasattr(client, "include_usage"):
        client.include_usage = include_usage
    loop = new_event_loop()
    session = loop.run_until_complete(_open())
    out.put(("ready", None))
    try:
        while (job := jobs.get()) is not None:
            def send(i: int, scheduled_s: float | None, stopping: Callable[[], bool], job: _Job = job):
                prompt_tokens, output_tokens = job.pairs[i]
                return stream_request(client, session, template.render_tokens(job.first_id + i, prompt_tokens),
                                      max_tokens=output_tokens, deadline_s=job.deadline_s,
                                      # Not stop.is_set() per chunk: a process-shared event is a
                                      # semaphore call; should_stop polls it and sets stopping().
                                      stop=stopping, scheduled_s=scheduled_s)

            def should_stop(job: _Job = job) -> str | None:
                if job.deadline_s is not None and time.perf_counter() >= job.deadline_s:
                    return "run_timeout"
                return "stopped" if stop.is_set() else None

            run = loop.run_until_complete(drive_level(job.shape, send, should_stop=should_stop,
                                                      on_record=lambda r: out.put(("record", r)),
                                                      start_at_s=job.start_at_s))
            out.put(("done", (run.stopped, run.max_in_flight, run.started_s, run.loop_cpu_s, run.backoff_waits)))
    finally:
        from planner.probe.engine import _cancel_others

        loop.run_until_complete(session.close())
        loop.run_until_complete(_cancel_others())
        loop.close()


async def _open():
    from planner.probe.async_transport import new_session

    return new_session()


def max_overlap(records: list[RequestRecord]) -> int:
    """The most requests in flight at one instant, from their [start, end] intervals."""
    events = sorted([(r.start_s, 1) for r in records] + [(r.end_s, -1) for r in records])
    current = most = 0
    for _, step in events:
        current += step
        most = max(most, current)
    return most


class WorkerPool:
    """N worker processes kept for a run (spawned, so no thread of the parent is copied)."""

    def __init__(self, workers: int, config: ProbeConfig, model: str | None, include_usage: bool | None,
                 template: PromptTemplate, stop: Any):
        ctx = mp.get_context("spawn")
        self.out = ctx.Queue()
        self.stop = ctx.Event()
        self._external = stop
        self.jobs = [ctx.Queue() for _ in range(workers)]
        self.procs = [ctx.Process(target=_worker_main, args=(config, model, include_usage, template, q, self.out,
                                                             self.stop), daemon=True, name=f"probe-worker-{i}")
                      for i, q in enumerate(self.jobs)]
        for proc in self.procs:
            proc.start()
        # Spawning imports the probe afresh (a second or two): wait, so the first level starts on time.
        ready, deadline_s = 0, time.monotonic() + 120
        while ready < workers and time.monotonic() < deadline_s:
            try:
                kind, _ = self.out.get(timeout=0.5)
            except queue.Empty:
                if not all(p.is_alive() for p in self.procs):
                    break
                continue
            ready += kind == "ready"

    def run_level(self, shape: LoadShape, pairs: list[tuple[int, int]], first_id: int, deadline_s: float | None,
                  on_record: Callable[[RequestRecord], None]) -> LevelRun:
        """Run `shape` over the workers; `on_record` is called in this thread for each finished request."""
        shares = split_shape(shape, len(self.procs))
        start_at_s = time.perf_counter() + _START_DELAY_S
        offset = 0
        for share, jobs in zip(shares, self.jobs, strict=False):
            jobs.put(_Job(share, pairs[offset:offset + share.requests], first_id + offset, start_at_s, deadline_s))
            offset += share.requests
        run = LevelRun(started_s=start_at_s)
        pending = len(shares)
        while pending:
            if self._external is not None and self._external.is_set():
                self.stop.set()
            try:
                kind, payload = self.out.get(timeout=0.1)
            except queue.Empty:
                if not any(p.is_alive() for p in self.procs):
                    run.stopped = run.stopped or "worker processes exited"
                    break
                continue
            if kind == "record":
                run.records.append(payload)
                on_record(payload)
            else:
                stopped, _most, _started, cpu_s, waits = payload
                run.stopped = run.stopped or stopped
                run.loop_cpu_s += cpu_s
                run.backoff_waits += waits
                pending -= 1
        run.max_in_flight = max_overlap(run.records)
        return run

    def close(self) -> None:
        for jobs in self.jobs:
            jobs.put(None)
        for proc in self.procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
