"""The probe's load as a Locust file: `locust -f planner/probe/locust_load.py` (master and workers).

Loaded only by Locust processes (Locust patches the standard library with gevent on import, so the
probe never imports this module itself; planner.probe.distributed starts them). Each Locust user
is one closed-loop stream: it sends the probe's request with the probe's threaded client (requests,
made cooperative by gevent) and waits for its end. Every request fires Locust events, so Locust's
own statistics and web UI show the stream's figures: `TTFT` (time to first token), `ITL` (mean gap
between tokens) and `stream` (the whole request, failures with their fault kind). Workers also
send each request's raw timeline to the master (a custom message), which writes them all to
$PLANNER_LOCUST_OUT for the probe to summarise exactly as its own runs.

Settings come from $PLANNER_LOCUST_CONFIG (JSON written by planner.probe.distributed): the probe
config, the model, the prompt template. The API key is never in it: it is read from the
environment variable the config names, in each process.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import requests
from locust import User, events, task
from locust.runners import MasterRunner, WorkerRunner

from planner.probe.backoff import Backoff
from planner.probe.config import ProbeConfig
from planner.probe.factory import client_for
from planner.probe.prompts import PromptTemplate

CONFIG_ENV = "PLANNER_LOCUST_CONFIG"
OUT_ENV = "PLANNER_LOCUST_OUT"
MESSAGE = "planner_probe_records"
_BATCH = 20

_settings = json.loads(os.environ.get(CONFIG_ENV) or "{}")
_collected: list[dict] = []  # on the master: every worker's records
_pending: list[dict] = []  # on a worker: records not sent yet


def _clock_offset_s() -> float:
    """perf_counter → Unix time, so timelines from several machines share one clock."""
    return time.time() - time.perf_counter()


@events.init.add_listener
def _on_init(environment, **_kwargs) -> None:
    if isinstance(environment.runner, MasterRunner):
        environment.runner.register_message(MESSAGE, lambda msg, **_kw: _collected.extend(msg.data))


@events.test_stopping.add_listener
def _flush(environment, **_kwargs) -> None:
    if isinstance(environment.runner, WorkerRunner) and _pending:
        environment.runner.send_message(MESSAGE, list(_pending))
        _pending.clear()


@events.quitting.add_listener
def _write(environment, **_kwargs) -> None:
    _flush(environment)
    out = os.environ.get(OUT_ENV)
    if out and isinstance(environment.runner, MasterRunner):
        Path(out).write_text(json.dumps(_collected), encoding="utf-8")


class ProbeUser(User):
    """One stream: send, read to the end, send the next (closed loop), pausing only when the server
    said to wait (Retry-After) or could not be reached (planner.probe.backoff)."""

    def wait_time(self) -> float:
        backoff = getattr(self, "backoff", None)
        return backoff.delay_s() if backoff is not None else 0.0

    def on_start(self) -> None:
        config = ProbeConfig.model_validate(_settings["config"])
        self.config = config
        self.template = PromptTemplate(**_settings["template"])
        self.backoff = Backoff()
        self.client = client_for(config, model=_settings.get("model"))
        if _settings.get("include_usage") is False and hasattr(self.client, "include_usage"):
            self.client.include_usage = False
        self.session = requests.Session()
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self.count = 0

    def on_stop(self) -> None:
        self.session.close()

    @task
    def stream(self) -> None:
        self.count += 1
        prompt = self.template.render(hash((self.worker, id(self), self.count)) % 1_000_000)
        record = self.client.run_request(self.session, prompt)
        self.backoff.note_record(record)
        fire = self.environment.events.request.fire
        failure = None if record.ok else RuntimeError(f"{record.error_kind}: {record.error_message}")
        fire(request_type="stream", name=self.config.endpoint, response_time=record.e2e_s * 1000,
             response_length=record.output_tokens, exception=failure, context={})
        if record.ttft_s is not None and record.ok:
            fire(request_type="TTFT", name=self.config.endpoint, response_time=record.ttft_s * 1000,
                 response_length=0, exception=None, context={})
            gaps = record.inter_token_gaps_s()
            if gaps:
                fire(request_type="ITL", name=self.config.endpoint, response_time=sum(gaps) / len(gaps) * 1000,
                     response_length=0, exception=None, context={})
        offset = _clock_offset_s()
        _pending.append({
            "worker": self.worker, "start_s": record.start_s + offset, "end_s": record.end_s + offset,
            "first_token_s": None if record.first_token_s is None else record.first_token_s + offset,
            "token_times_s": [t + offset for t in record.token_times_s], "prompt_tokens": record.prompt_tokens,
            "output_tokens": record.output_tokens, "usage_source": record.usage_source,
            "error_kind": record.error_kind, "error_message": record.error_message, "cancelled": record.cancelled,
            "server_prefill_s": record.server_prefill_s, "server_queue_s": record.server_queue_s,
            "server_decode_tokens_per_s": record.server_decode_tokens_per_s,
        })
        runner = self.environment.runner
        if len(_pending) >= _BATCH and isinstance(runner, WorkerRunner):
            runner.send_message(MESSAGE, list(_pending))
            _pending.clear()
