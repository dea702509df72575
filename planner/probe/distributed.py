"""Past one machine: the probe's load on Locust's distributed mode (a master and N workers).

`run_locust` starts `locust --master` and N `locust --worker` processes with planner/probe/
locust_load.py, one closed-loop level per concurrency (users), each for `run_time_s`; it reads back
every request's timeline, which the workers sent the master, and summarises them as the probe
summarises its own runs, so the result is an ordinary ProbeResult (`source` "locust"). Here master
and workers run on loopback; on other machines, start workers with the same file and
`--master-host` (docs: docs.locust.io, "Distributed load generation").
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from planner.probe.config import ProbeConfig
from planner.probe.credentials import authorization
from planner.probe.endpoint import Endpoint, check_host_allowed
from planner.probe.prompts import build_prompt
from planner.probe.record import RequestRecord
from planner.probe.results import GpuTelemetry, LevelResult, ProbeResult
from planner.probe.stats import summarise_level

LOCUSTFILE = Path(__file__).with_name("locust_load.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_locust(config: ProbeConfig, *, workers: int = 2, run_time_s: float = 20.0,
               model: str | None = None) -> ProbeResult:
    """Each of `config.concurrency` as a Locust run with `workers` worker processes on this machine."""
    endpoint = Endpoint.parse(config.url, config.api)
    check_host_allowed(endpoint.host)
    authorization(config.url, config.resolved_api_key())  # ProbeConfigError now, not in every Locust user
    model = model or config.model
    template = build_prompt(config.prompt_tokens)
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    levels: list[LevelResult] = []
    notes: list[str] = []
    seen: set[str] = set()
    start_s = time.time()
    for users in config.concurrency:
        records, note = _one_level(config, model, template, users, workers, run_time_s)
        if note:
            notes.append(note)
        seen.update(r.extra.get("worker", "") for r in records)
        wall_s = (max(r.end_s for r in records) - min(r.start_s for r in records)) if records else 0.0
        levels.append(summarise_level(users, len(records), records, wall_s=wall_s,
                                      run_start_s=min((r.start_s for r in records), default=start_s),
                                      max_in_flight=_max_overlap(records), keep_log=config.keep_request_log,
                                      slo_ttft_s=config.slo_ttft_s, slo_tokens_per_s=config.slo_tokens_per_s))
    return ProbeResult(
        url=endpoint.display_url, api=endpoint.api, model=model, endpoint=config.endpoint, started_at=started_at,
        settings={"concurrency": list(config.concurrency), "locust_workers": workers, "run_time_s": run_time_s,
                  "prompt_tokens": config.prompt_tokens, "max_tokens": config.max_tokens,
                  "notes": notes, "workers_seen": sorted(seen)},
        prompt=template.describe(), levels=levels, source="locust",
        gpu_telemetry=GpuTelemetry(available=False, reason="not sampled in the distributed mode"),
        stopped_reason=None if levels and all(lv.succeeded for lv in levels) else "some level had no success",
        wall_s=time.time() - start_s,
    )


def _one_level(config: ProbeConfig, model: str | None, template, users: int, workers: int,
               run_time_s: float) -> tuple[list[RequestRecord], str | None]:
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="probe-locust-") as tmp:
        out = Path(tmp) / "records.json"
        settings = {"config": config.model_dump(mode="json", exclude={"api_key"}), "model": model,
                    "template": {"body": template.body, "target_tokens": template.target_tokens,
                                 "measured_tokens": template.measured_tokens, "method": template.method}}
        env = dict(os.environ, PLANNER_LOCUST_CONFIG=json.dumps(settings), PLANNER_LOCUST_OUT=str(out))
        if config.api_key is not None:  # an explicit key travels as the environment variable, never a file
            env[config.api_key_env] = config.api_key.get_secret_value()
        base = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--skip-log-setup", "--loglevel", "WARNING"]
        log = open(Path(tmp) / "locust.log", "wb")  # noqa: SIM115 - closed below
        procs = []
        try:
            master = subprocess.Popen(
                [*base, "--master", "--headless", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
                 "--expect-workers", str(workers), "--expect-workers-max-wait", "60", "--users", str(users),
                 "--spawn-rate", str(max(users, 1)), "--run-time", f"{int(run_time_s)}s", "--stop-timeout",
                 str(int(config.timeout_s)), "--only-summary"], env=env, stdout=log, stderr=subprocess.STDOUT)
            procs.append(master)
            for _ in range(workers):
                procs.append(subprocess.Popen([*base, "--worker", "--master-host", "127.0.0.1", "--master-port",
                                               str(port)], env=env, stdout=log, stderr=subprocess.STDOUT))
            master.wait(timeout=run_time_s + config.timeout_s + 120)
        finally:
            for proc in procs[1:]:
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
            log.close()
        if not out.exists():
            tail = (Path(tmp) / "locust.log").read_text(errors="replace")[-300:]
            return [], f"the Locust master wrote no records (log: {' '.join(tail.split())})"
        raw = json.loads(out.read_text(encoding="utf-8"))
    records = [RequestRecord(**{k: v for k, v in r.items() if k != "worker"} | {"token_times_s": tuple(r["token_times_s"])},
                             extra={"worker": r["worker"]})
               for r in raw]
    return records, None


def _max_overlap(records: list[RequestRecord]) -> int:
    events = sorted([(r.start_s, 1) for r in records] + [(r.end_s, -1) for r in records])
    current = most = 0
    for _, step in events:
        current += step
        most = max(most, current)
    return most
