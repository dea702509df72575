"""Drive one level of load on an asyncio event loop: closed-loop streams or open-loop arrivals.

Closed loop (today's sweep): c streams each send a request, wait for its end and send the next.
Open loop (a plan's peak): requests are sent at scheduled instants whatever the server does, as
vLLM bench's `--request-rate`/`--burstiness` and GuideLLM's `constant`/`poisson` profiles do:
gaps between arrivals are drawn from a gamma distribution of shape `burstiness` and mean 1/rate
(shape 1 is a Poisson process; `constant` sends exactly every 1/rate s).

The loop runs in its own thread (`LoopThread`); the caller receives each finished request
through a callback run in the loop thread, which must be cheap (the runner only queues it), so
slow consumers (a dashboard redrawing charts) never delay the timing of other streams.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Literal

from planner.probe.backoff import Backoff
from planner.probe.record import RequestRecord

Arrival = Literal["poisson", "constant"]

# How often the driver checks for a stop, seconds.
_WATCH_S = 0.05
# How long in-flight requests may finish after a stop before they are cancelled, seconds.
_STOP_GRACE_S = 2.0


@dataclass(frozen=True)
class LoadShape:
    """How one level sends its requests. Rates in requests/s."""

    requests: int
    concurrency: int | None = None  # closed loop: streams kept in flight
    rate_rps: float | None = None  # open loop: mean arrivals per second
    arrival: Arrival = "poisson"
    burstiness: float = 1.0  # gamma shape of the gaps (vLLM's --burstiness); 1 = Poisson
    max_in_flight: int | None = None  # open loop: cap on streams in flight (None: none)
    seed: int = 0
    offset_s: float = 0.0  # open loop: shift of the whole schedule (interleaves workers' constant schedules)

    @property
    def open_loop(self) -> bool:
        return self.rate_rps is not None


def arrival_offsets_s(shape: LoadShape) -> list[float]:
    """Send instants of an open-loop level, seconds from its start (the first at 0).

    Seeded, so a rerun replays the same schedule.
    """
    if shape.rate_rps is None or shape.rate_rps <= 0:
        raise ValueError("an open-loop level needs a positive rate")
    mean_gap_s = 1.0 / shape.rate_rps
    rng = random.Random(shape.seed)
    offsets, now = [], 0.0
    for i in range(shape.requests):
        offsets.append(now + shape.offset_s)
        if shape.arrival == "constant":
            now = (i + 1) * mean_gap_s
        else:
            # Gamma(k, θ) with k·θ = mean gap: k = 1 is exponential gaps (Poisson arrivals).
            now += rng.gammavariate(shape.burstiness, mean_gap_s / shape.burstiness)
    return offsets


@dataclass
class LevelRun:
    """What a driven level produced. Instants are perf_counter seconds."""

    records: list[RequestRecord] = field(default_factory=list)
    stopped: str | None = None
    max_in_flight: int = 0
    started_s: float = 0.0
    loop_cpu_s: float = 0.0  # CPU seconds of the event-loop thread during the level
    backoff_waits: int = 0  # pauses the server asked for (429/503, with or without Retry-After)


SendFn = Callable[[int, float | None, Callable[[], bool]], Awaitable[RequestRecord]]


async def drive_level(
    shape: LoadShape,
    send: SendFn,
    *,
    should_stop: Callable[[], str | None],
    on_record: Callable[[RequestRecord], None],
    grace_s: float = _STOP_GRACE_S,
    start_at_s: float | None = None,
) -> LevelRun:
    """Run one level; `send(index, scheduled_s, stopping)` sends request `index`.

    `should_stop()` is polled; once it names a reason, no new request starts, in-flight ones see
    `stopping()` turn true (and end as cancelled at their next chunk), and those still running
    after `grace_s` are cancelled. `start_at_s` (perf_counter) delays the start to that instant, so
    worker processes start a level together. After a 429 or 503 (its Retry-After, capped, else a
    doubling pause), no request starts before the pause is over (planner.probe.backoff): open-loop
    requests due meanwhile go late, and their send lag says so. Never raises for request failures
    (they are records).
    """
    if start_at_s is not None and (delay_s := start_at_s - time.perf_counter()) > 0:
        await asyncio.sleep(delay_s)
    run = LevelRun(started_s=time.perf_counter() if start_at_s is None else start_at_s)
    cpu0_s = time.thread_time()
    in_flight = 0
    stopping = False
    tasks: set[asyncio.Task] = set()
    backoff = Backoff(back_off_unreached=False)  # a level's requests are finite: see planner.probe.backoff

    def is_stopping() -> bool:
        return stopping

    def check_stop() -> bool:
        """Poll `should_stop`; called before each new request too, so none starts past a stop."""
        nonlocal stopping
        if not stopping and (reason := should_stop()):
            run.stopped, stopping = reason, True
        return stopping

    async def one(index: int, scheduled_s: float | None) -> None:
        nonlocal in_flight
        in_flight += 1
        run.max_in_flight = max(run.max_in_flight, in_flight)
        try:
            record = await send(index, scheduled_s, is_stopping)
        finally:
            in_flight -= 1
        run.records.append(record)
        backoff.note_record(record)
        on_record(record)

    async def paused() -> bool:
        """Wait out a backoff; True when the level is stopping."""
        while not check_stop() and (delay_s := backoff.delay_s()) > 0:
            await asyncio.sleep(min(delay_s, _WATCH_S))
        return stopping

    async def closed_worker(counter: itertools.count) -> None:
        while not check_stop():
            if await paused():
                return
            index = next(counter)
            if index >= shape.requests:
                return
            await one(index, None)

    async def open_schedule() -> None:
        gate = asyncio.Semaphore(shape.max_in_flight) if shape.max_in_flight else None
        for index, offset_s in enumerate(arrival_offsets_s(shape)):
            target_s = run.started_s + offset_s
            while not stopping and (delay_s := target_s - time.perf_counter()) > 0:
                await asyncio.sleep(min(delay_s, _WATCH_S))
            if gate is not None:
                await gate.acquire()
            if await paused() or check_stop():
                return
            task = asyncio.create_task(one(index, target_s))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            if gate is not None:
                task.add_done_callback(lambda _t: gate.release())
            await asyncio.sleep(0)  # let the new stream send before the next is scheduled

    if shape.open_loop:
        drivers = [asyncio.create_task(open_schedule())]
    else:
        counter = itertools.count()
        drivers = [asyncio.create_task(closed_worker(counter)) for _ in range(shape.concurrency or 1)]

    async def all_done() -> None:
        await asyncio.gather(*drivers, return_exceptions=True)
        while tasks:
            await asyncio.gather(*list(tasks), return_exceptions=True)

    finished = asyncio.create_task(all_done())
    while not finished.done() and not check_stop():
        await asyncio.wait({finished}, timeout=_WATCH_S)
    if stopping:
        await asyncio.wait({finished}, timeout=grace_s)
        if not finished.done():
            for task in [*drivers, *tasks]:
                task.cancel()
            await asyncio.wait({finished}, timeout=grace_s)
    run.loop_cpu_s = time.thread_time() - cpu0_s
    run.backoff_waits = backoff.waits
    return run


async def _cancel_others() -> None:
    """Cancel what is still scheduled on the loop (a read-timeout watchdog between checks)."""
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop where it is installed (about twice as fast per streamed chunk), else asyncio's."""
    try:
        import uvloop
    except ImportError:  # Windows, or a machine without it: the standard loop works the same
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class LoopThread:
    """An asyncio event loop in a daemon thread; `submit` runs a coroutine there and returns a Future."""

    def __init__(self, name: str = "probe-loop"):
        self.loop = new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coro: Coroutine[Any, Any, Any]) -> Future:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run `coro` on the loop and wait for its result in the calling thread."""
        return self.submit(coro).result()

    def close(self, cleanup: Coroutine[Any, Any, Any] | None = None) -> None:
        for coro in (cleanup, _cancel_others()):
            if coro is None:
                continue
            try:
                self.run(coro)
            except Exception:  # noqa: BLE001 - closing must not hide the run's result
                pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self.loop.close()
